//! Every collective on host buffers, blocking, nonblocking and persistent, with known answers
//! at 1 to 4 ranks; in-place forms; intercommunicators; and every checked mistake.
mod common;

use common::{rank_size, Suite};
use mpi4rs::prelude::*;
use mpi4rs::{root, Datatype, Environment, Error, Result, VaryingW, VaryingWMut};

fn main() {
    Suite::new("collective")
        .case("bcast_every_root", bcast_every_root)
        .case("scatter_gather", scatter_gather)
        .case("scatter_gather_in_place", scatter_gather_in_place)
        .case("allgather_alltoall", allgather_alltoall)
        .case("vector_forms", vector_forms)
        .case("alltoallw_typed_blocks", alltoallw_typed_blocks)
        .case("reductions", reductions)
        .case("reductions_in_place", reductions_in_place)
        .case("nonblocking_forms", nonblocking_forms)
        .case("persistent_forms", persistent_forms)
        .case("intercommunicator", intercommunicator)
        .case("length_errors", length_errors)
        .case("root_and_comm_errors", root_and_comm_errors)
        .case("vector_errors", vector_errors)
        .case("empty_byte_buffers", empty_byte_buffers)
        .case("block_count_overflow", block_count_overflow)
        .case("alltoallw_on_one_process", alltoallw_on_one_process)
        .case("rank_local_errors_keep_ranks_together", rank_local_errors_keep_ranks_together)
        .run();
}

/// `n` consecutive values starting at `first`.
fn seq(first: i64, n: usize) -> Vec<i64> {
    (0..n as i64).map(|i| first + i).collect()
}

fn bcast_every_root(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    for r in 0..n {
        let mut data = if me == r { seq(r as i64 * 10, 5) } else { vec![0; 5] };
        world.bcast(&mut data, r)?;
        ensure_eq!(data, seq(r as i64 * 10, 5));
        let mut x = if me == r { 2.5f32 * r as f32 } else { 0.0 };
        world.bcast(&mut x, r)?;
        ensure_eq!(x, 2.5 * r as f32);
    }
    Ok(())
}

fn scatter_gather(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let root = n - 1;
    let all: Vec<i64> = (0..n as i64).flat_map(|j| seq(j * 100, 3)).collect();
    let mut mine = vec![0i64; 3];
    world.scatter(if me == root { Some(&all[..]) } else { None }, &mut mine, root)?;
    ensure_eq!(mine, seq(me as i64 * 100, 3));
    let mut back = vec![0i64; 3 * n as usize];
    world.gather(&mine, if me == root { Some(&mut back[..]) } else { None }, root)?;
    if me == root {
        ensure_eq!(back, all);
    }
    // Single values.
    let mut ranks = vec![-1i32; n as usize];
    world.gather(&me, if me == 0 { Some(&mut ranks) } else { None }, 0)?;
    if me == 0 {
        ensure_eq!(ranks, (0..n).collect::<Vec<_>>());
    }
    Ok(())
}

fn scatter_gather_in_place(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let all: Vec<i64> = (0..n as i64).flat_map(|j| seq(j * 100, 2)).collect();
    // Scatter: the root keeps its block in place.
    let mut buf = if me == 0 { all.clone() } else { vec![0; 2] };
    world.scatter_in_place(&mut buf, 0)?;
    if me == 0 {
        ensure_eq!(buf, all);
    } else {
        ensure_eq!(buf, seq(me as i64 * 100, 2));
    }
    // Gather: the root's block is already at its place.
    let mut buf = if me == 0 {
        let mut b = vec![0; 2 * n as usize];
        b[..2].copy_from_slice(&seq(0, 2));
        b
    } else {
        seq(me as i64 * 100, 2)
    };
    world.gather_in_place(&mut buf, 0)?;
    if me == 0 {
        ensure_eq!(buf, all);
    }
    Ok(())
}

fn allgather_alltoall(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let nu = n as usize;
    let mut all = vec![0u16; 2 * nu];
    world.allgather(&[me as u16, 7], &mut all)?;
    ensure_eq!(all, (0..n as u16).flat_map(|j| [j, 7]).collect::<Vec<_>>());
    let mut inplace = vec![0u16; 2 * nu];
    inplace[2 * me as usize] = me as u16;
    inplace[2 * me as usize + 1] = 7;
    world.allgather_in_place(&mut inplace)?;
    ensure_eq!(inplace, all);
    // Block j of rank r is r*1000 + j*10 + i.
    let send: Vec<i32> = (0..n).flat_map(|j| (0..3).map(move |i| me * 1000 + j * 10 + i)).collect();
    let want: Vec<i32> = (0..n).flat_map(|j| (0..3).map(move |i| j * 1000 + me * 10 + i)).collect();
    let mut recv = vec![0i32; 3 * nu];
    world.alltoall(&send, &mut recv)?;
    ensure_eq!(recv, want);
    let mut buf = send.clone();
    world.alltoall_in_place(&mut buf)?;
    ensure_eq!(buf, want);
    Ok(())
}

fn vector_forms(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let nu = n as usize;
    // Process j's block has j + 1 elements.
    let counts: Vec<i32> = (1..=n).collect();
    let total = (n * (n + 1) / 2) as usize;
    let data: Vec<f64> = (0..total).map(|i| i as f64).collect();
    let v = Varying::packed(&data[..], &counts);
    let start = v.displs()[me as usize] as usize;
    let mut mine = vec![0.0f64; me as usize + 1];
    world.scatterv(if me == 0 { Some(&v) } else { None }, &mut mine, 0)?;
    ensure_eq!(mine, data[start..start + me as usize + 1].to_vec());
    let mut back = vec![-1.0f64; total];
    {
        let mut r = VaryingMut::packed(&mut back[..], &counts);
        world.gatherv(&mine, if me == 0 { Some(&mut r) } else { None }, 0)?;
    }
    if me == 0 {
        ensure_eq!(back, data);
    }
    // allgatherv with gaps between blocks: block j at (n + 1) * j.
    let gap = nu + 1;
    let displs: Vec<i32> = (0..n).map(|j| (n + 1) * j).collect();
    let mut spaced = vec![-1i8; gap * nu];
    let mine = vec![me as i8; me as usize + 1];
    world.allgatherv(&mine[..], &mut VaryingMut::new(&mut spaced[..], &counts[..], &displs[..]))?;
    for j in 0..nu {
        ensure_eq!(spaced[gap * j..gap * j + j + 1].to_vec(), vec![j as i8; j + 1]);
        ensure!(
            spaced[gap * j + j + 1..gap * (j + 1)].iter().all(|&x| x == -1),
            "gap {j} overwritten: {spaced:?}"
        );
    }
    let mut inplace = vec![-1i8; gap * nu];
    let at = gap * me as usize;
    inplace[at..at + me as usize + 1].fill(me as i8);
    world.allgatherv_in_place(&mut VaryingMut::new(&mut inplace[..], &counts[..], &displs[..]))?;
    ensure_eq!(inplace, spaced);
    // alltoallv: rank r sends r + 1 values r*100 + j to each j; receives j + 1 from each j.
    let scounts = vec![me + 1; nu];
    let send: Vec<i64> = (0..n).flat_map(|j| vec![(me * 100 + j) as i64; me as usize + 1]).collect();
    let mut recv = vec![0i64; total];
    world
        .alltoallv(&Varying::packed(&send[..], &scounts), &mut VaryingMut::packed(&mut recv[..], &counts))?;
    let want: Vec<i64> = (0..n).flat_map(|j| vec![(j * 100 + me) as i64; j as usize + 1]).collect();
    ensure_eq!(recv, want);
    // alltoallv in place needs the same layout on both sides: 2 values to each peer.
    let twos = vec![2; nu];
    let mut buf: Vec<i64> = (0..n).flat_map(|j| [(me * 10 + j) as i64; 2]).collect();
    world.alltoallv_in_place(&mut VaryingMut::packed(&mut buf[..], &twos))?;
    ensure_eq!(buf, (0..n).flat_map(|j| [(j * 10 + me) as i64; 2]).collect::<Vec<_>>());
    Ok(())
}

fn reductions(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let nu = n as usize;
    let tri = (n * (n + 1) / 2) as i64; // 1 + 2 + … + n
    let send: Vec<i64> = (0..4).map(|i| (me as i64 + 1) * i).collect();
    let mut sum = vec![0i64; 4];
    world.reduce(&send, if me == n - 1 { Some(&mut sum[..]) } else { None }, &Op::SUM, n - 1)?;
    if me == n - 1 {
        ensure_eq!(sum, (0..4).map(|i| tri * i).collect::<Vec<_>>());
    }
    let mut all = vec![0i64; 4];
    world.allreduce(&send, &mut all, &Op::SUM)?;
    ensure_eq!(all, (0..4).map(|i| tri * i).collect::<Vec<_>>());
    let mut mx = 0i64;
    world.allreduce(&(me as i64 * 3), &mut mx, &Op::MAX)?;
    ensure_eq!(mx, (n as i64 - 1) * 3);
    // reduce_scatter_block: block j of rank r is r + 10 j + i.
    let send: Vec<i32> = (0..n).flat_map(|j| (0..2).map(move |i| me + 10 * j + i)).collect();
    let s = n * (n - 1) / 2;
    let mut mine = [0i32; 2];
    world.reduce_scatter_block(&send, &mut mine, &Op::SUM)?;
    ensure_eq!(mine, [s + n * 10 * me, s + n * (10 * me + 1)]);
    // reduce_scatter: process j gets j + 1 elements.
    let counts: Vec<i32> = (1..=n).collect();
    let total = (n * (n + 1) / 2) as usize;
    let send: Vec<i32> = (0..total as i32).map(|i| i + me).collect();
    let mut got = vec![0i32; me as usize + 1];
    world.reduce_scatter(&send, &mut got, &counts, &Op::SUM)?;
    let first = me * (me + 1) / 2;
    ensure_eq!(got, (first..first + me + 1).map(|i| n * i + s).collect::<Vec<_>>());
    // scan and exscan of rank + 1.
    let mut incl = 0i32;
    world.scan(&(me + 1), &mut incl, &Op::SUM)?;
    ensure_eq!(incl, (me + 1) * (me + 2) / 2);
    let mut excl = -7i32;
    world.exscan(&(me + 1), &mut excl, &Op::SUM)?;
    if me > 0 {
        ensure_eq!(excl, me * (me + 1) / 2);
    }
    ensure_eq!(nu, nu);
    Ok(())
}

fn reductions_in_place(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let tri = n * (n + 1) / 2;
    let mut buf = [me + 1, 2 * (me + 1)];
    world.reduce_in_place(&mut buf, &Op::SUM, 0)?;
    if me == 0 {
        ensure_eq!(buf, [tri, 2 * tri]);
    }
    let mut buf = [me + 1, 2 * (me + 1)];
    world.allreduce_in_place(&mut buf, &Op::SUM)?;
    ensure_eq!(buf, [tri, 2 * tri]);
    let mut buf: Vec<i32> = (0..n).map(|j| me + j).collect();
    world.reduce_scatter_block_in_place(&mut buf, &Op::SUM)?;
    ensure_eq!(buf[0], n * (n - 1) / 2 + n * me);
    let counts = vec![1; n as usize];
    let mut buf: Vec<i32> = (0..n).map(|j| me * j).collect();
    world.reduce_scatter_in_place(&mut buf, &counts, &Op::SUM)?;
    ensure_eq!(buf[0], me * n * (n - 1) / 2);
    let mut x = me + 1;
    world.scan_in_place(&mut x, &Op::PROD)?;
    ensure_eq!(x, (1..=me + 1).product::<i32>());
    let mut x = me + 1;
    world.exscan_in_place(&mut x, &Op::MAX)?;
    if me > 0 {
        ensure_eq!(x, me);
    }
    Ok(())
}

fn nonblocking_forms(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let nu = n as usize;
    world.ibarrier()?.wait()?;
    let mut b = if me == 0 { [4u8, 5, 6] } else { [0; 3] };
    mpi4rs::scope(|s| world.ibcast(s, &mut b, 0)?.wait().map(drop))?;
    ensure_eq!(b, [4, 5, 6]);
    let send = [me as f64, 1.0];
    let mut sum = [0.0f64; 2];
    let mut all = vec![0.0f64; 2 * nu];
    let mut gathered = vec![0.0f64; 2 * nu];
    let mut swapped = vec![0i32; nu];
    let to_all: Vec<i32> = (0..n).map(|j| me * 10 + j).collect();
    mpi4rs::scope(|s| {
        let r1 = world.iallreduce(s, &send, &mut sum, &Op::SUM)?;
        let r2 = world.iallgather(s, &send, &mut all)?;
        let r3 = world.igather(s, &send, if me == 0 { Some(&mut gathered[..]) } else { None }, 0)?;
        let r4 = world.ialltoall(s, &to_all, &mut swapped)?;
        mpi4rs::wait_all(&mut [r1, r2, r3, r4]).map(drop)
    })?;
    ensure_eq!(sum, [(n * (n - 1) / 2) as f64, n as f64]);
    ensure_eq!(all, (0..n).flat_map(|j| [j as f64, 1.0]).collect::<Vec<_>>());
    if me == 0 {
        ensure_eq!(gathered, all);
    }
    ensure_eq!(swapped, (0..n).map(|j| j * 10 + me).collect::<Vec<_>>());
    let mut part = [0.0f64; 2];
    mpi4rs::scope(|s| {
        world.iscatter(s, if me == 0 { Some(&all[..]) } else { None }, &mut part, 0)?.wait().map(drop)
    })?;
    ensure_eq!(part, [me as f64, 1.0]);
    let mut x = 0i64;
    mpi4rs::scope(|s| world.iscan(s, &1i64, &mut x, &Op::SUM)?.wait().map(drop))?;
    ensure_eq!(x, me as i64 + 1);
    let mut y = 0i64;
    mpi4rs::scope(|s| world.iexscan(s, &1i64, &mut y, &Op::SUM)?.wait().map(drop))?;
    if me > 0 {
        ensure_eq!(y, me as i64);
    }
    let mut z = [me as u32; 1];
    mpi4rs::scope(|s| world.iallreduce_in_place(s, &mut z, &Op::BOR)?.wait().map(drop))?;
    ensure_eq!(z[0], (0..n as u32).fold(0, |a, b| a | b));
    let mut r = [0i32; 1];
    mpi4rs::scope(|s| {
        world.ireduce(s, &1i32, if me == 0 { Some(&mut r[..]) } else { None }, &Op::SUM, 0)?.wait().map(drop)
    })?;
    if me == 0 {
        ensure_eq!(r[0], n);
    }
    let counts = vec![1; nu];
    let mut one = 0i32;
    let mine = vec![me; nu];
    mpi4rs::scope(|s| world.ireduce_scatter(s, &mine[..], &mut one, &counts, &Op::SUM)?.wait().map(drop))?;
    ensure_eq!(one, n * (n - 1) / 2);
    let ones = vec![1; nu];
    mpi4rs::scope(|s| world.ireduce_scatter_block(s, &ones[..], &mut one, &Op::SUM)?.wait().map(drop))?;
    ensure_eq!(one, n);
    let mut gv = vec![0i32; nu];
    let mut gv_blocks = VaryingMut::packed(&mut gv[..], &counts);
    mpi4rs::scope(|s| world.iallgatherv(s, &me, &mut gv_blocks)?.wait().map(drop))?;
    ensure_eq!(gv, (0..n).collect::<Vec<_>>());
    Ok(())
}

fn persistent_forms(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    if !mpi4rs::has_persistent_collectives() {
        ensure_err!(world.barrier_init(), Error::Unsupported(_));
        return Ok(());
    }
    let mut barrier = world.barrier_init()?;
    let send = [me + 1];
    let mut sum = [0i32];
    let mut b = [0i32; 2];
    mpi4rs::scope(|s| {
        let mut reduce = world.allreduce_init(s, &send, &mut sum, &Op::SUM)?;
        for _ in 0..3 {
            reduce.start()?;
            reduce.wait()?;
            barrier.start()?;
            barrier.wait()?;
        }
        Ok(())
    })?;
    ensure_eq!(sum[0], n * (n + 1) / 2);
    mpi4rs::scope(|s| {
        let mut bc = world.bcast_init(s, &mut b, n - 1)?;
        bc.start()?;
        bc.wait().map(drop)
    })?;
    let mut all = vec![0i32; n as usize];
    mpi4rs::scope(|s| {
        let mut ag = world.allgather_init(s, &me, &mut all)?;
        ag.start()?;
        ag.wait().map(drop)
    })?;
    ensure_eq!(all, (0..n).collect::<Vec<_>>());
    Ok(())
}

/// Even world ranks on one side, odd ones on the other (needs two processes).
fn intercommunicator(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    if n < 2 {
        return Ok(());
    }
    let odd = me % 2 == 1;
    let half = world.split(Some(me % 2), me)?.expect("every rank has a colour");
    let inter = half.create_intercomm(0, world, if odd { 0 } else { 1 }, 5)?;
    let (local, remote) = (inter.size(), inter.remote_size());
    let lr = inter.rank();
    // Bcast from the even side's rank 0 to the odd side.
    let mut data = [0i32; 3];
    let r = if odd {
        0
    } else if lr == 0 {
        data = [1, 2, 3];
        root()
    } else {
        proc_null()
    };
    inter.bcast(&mut data, r)?;
    if odd || lr == 0 {
        ensure_eq!(data, [1, 2, 3]);
    }
    // Gather the odd side's ranks at the even side's rank 0.
    let mut got = vec![-1i32; remote as usize];
    let rooted = !odd && lr == 0;
    inter.gather(&lr, if rooted { Some(&mut got[..]) } else { None }, r)?;
    if rooted {
        ensure_eq!(got, (0..remote).collect::<Vec<_>>());
    }
    // Allreduce: each side gets the sum over the other side.
    let mut sum = 0i32;
    inter.allreduce(&(lr + 1), &mut sum, &Op::SUM)?;
    ensure_eq!(sum, remote * (remote + 1) / 2);
    // Allgather: each side gets the other side's blocks.
    let mut all = vec![0i32; remote as usize];
    inter.allgather(&(lr * 2), &mut all)?;
    ensure_eq!(all, (0..remote).map(|j| j * 2).collect::<Vec<_>>());
    // Reduce into the odd side's rank 0.
    let rr = if !odd {
        0
    } else if lr == 0 {
        root()
    } else {
        proc_null()
    };
    let mut red = 0i32;
    inter.reduce(&1i32, if odd && lr == 0 { Some(&mut red) } else { None }, &Op::SUM, rr)?;
    if odd && lr == 0 {
        ensure_eq!(red, remote);
    }
    inter.barrier()?;
    // In-place forms and scans are for intracommunicators only.
    ensure_err!(inter.allreduce_in_place(&mut sum, &Op::SUM), Error::InvalidArgument(_));
    ensure_err!(inter.scan(&1i32, &mut sum, &Op::SUM), Error::InvalidArgument(_));
    ensure_err!(inter.bcast(&mut data, remote), Error::InvalidRoot { inter: true, .. });
    ensure_eq!(local, half.size());
    Ok(())
}

fn length_errors(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let nu = n as usize;
    let mut small = vec![0i32; 2 * nu - 1];
    ensure_err!(world.allgather(&[1i32, 2], &mut small), Error::BufferLength { .. });
    ensure_err!(world.allreduce(&[1i32, 2], &mut [0i32; 3], &Op::SUM), Error::BufferLength { .. });
    ensure_err!(world.allreduce(&[1i32, 2], &mut [0i64; 2], &Op::SUM), Error::InvalidArgument(_));
    ensure_err!(world.scan(&[1i32, 2], &mut [0i32; 1], &Op::SUM), Error::BufferLength { .. });
    if n > 1 {
        // Not a whole number of blocks.
        ensure_err!(
            world.alltoall(&vec![0i32; nu + 1][..], &mut vec![0i32; nu + 1][..]),
            Error::BufferLength { .. }
        );
        ensure_err!(world.allgather_in_place(&mut vec![0i32; nu + 1][..]), Error::BufferLength { .. });
        ensure_err!(
            world.reduce_scatter_block_in_place(&mut vec![0i32; nu + 1][..], &Op::SUM),
            Error::BufferLength { .. }
        );
    }
    ensure_err!(
        world.reduce_scatter_block(&vec![0i32; nu][..], &mut [0i32; 2], &Op::SUM),
        Error::BufferLength { .. }
    );
    // Rooted: only the root checks its own side; it gets the error and the others complete
    // (see rank_local_errors_keep_ranks_together).
    let mut part = [0i32; 2];
    let bad = vec![0i32; 2 * nu + 1];
    if me == 0 {
        ensure_err!(world.scatter(Some(&bad[..]), &mut part, 0), Error::BufferLength { .. });
        ensure_err!(world.scatter(None::<&[i32]>, &mut part, 0), Error::InvalidArgument(_));
        ensure_err!(world.gather(&part, Some(&mut bad.clone()[..]), 0), Error::BufferLength { .. });
        ensure_err!(world.gather(&part, None::<&mut [i32]>, 0), Error::InvalidArgument(_));
        ensure_err!(world.reduce(&part, Some(&mut [0i32; 3][..]), &Op::SUM, 0), Error::BufferLength { .. });
        ensure_err!(world.reduce(&part, None::<&mut [i32]>, &Op::SUM, 0), Error::InvalidArgument(_));
    } else {
        for _ in 0..2 {
            world.scatter(None::<&[i32]>, &mut part, 0)?;
        }
        for _ in 0..2 {
            world.gather(&part, None::<&mut [i32]>, 0)?;
        }
        for _ in 0..2 {
            world.reduce(&part, None::<&mut [i32]>, &Op::SUM, 0)?;
        }
    }
    // A count past int on a nonblocking reduction (checked before MPI touches memory).
    let (huge, mut out) = (Huge, Huge);
    let (send, mut recv) = (mpi4rs::Device(&huge), mpi4rs::DeviceMut(&mut out));
    mpi4rs::scope(|s| {
        ensure_err!(world.iallreduce(s, &send, &mut recv, &Op::SUM), Error::CountOverflow { .. });
        Ok(())
    })
}

/// A host buffer that claims 2^31 + 1 bytes (never read: the call is refused first).
struct Huge;
unsafe impl mpi4rs::device::DeviceBuffer for Huge {
    fn view(&self) -> mpi4rs::device::BufferView {
        let ptr = std::ptr::NonNull::<u8>::dangling().as_ptr().cast();
        mpi4rs::device::BufferView::host(ptr, (1 << 31) + 1, mpi4rs::DType::U8)
    }
}
unsafe impl mpi4rs::device::DeviceBufferMut for Huge {
    fn view_mut(&mut self) -> mpi4rs::device::BufferViewMut {
        let ptr = std::ptr::NonNull::<u8>::dangling().as_ptr().cast();
        mpi4rs::device::BufferViewMut::host(ptr, (1 << 31) + 1, mpi4rs::DType::U8)
    }
}

fn root_and_comm_errors(env: &Environment) -> Result<()> {
    let world = env.world();
    let (_, n) = rank_size(env);
    let mut x = [0i32];
    ensure_err!(world.bcast(&mut x, n), Error::InvalidRoot { inter: false, .. });
    ensure_err!(world.bcast(&mut x, -1), Error::InvalidRoot { .. });
    ensure_err!(world.bcast(&mut x, root()), Error::InvalidRoot { .. });
    ensure_err!(world.reduce(&x, None::<&mut [i32]>, &Op::SUM, n + 3), Error::InvalidRoot { .. });
    ensure_err!(world.gather(&x, None::<&mut [i32]>, -5), Error::InvalidRoot { .. });
    ensure_err!(world.scatter(None::<&[i32]>, &mut x, n), Error::InvalidRoot { .. });
    let e = mpi4rs::scope(|s| Ok(ensure_err!(world.ibcast(s, &mut x, n), Error::InvalidRoot { .. })))?;
    ensure_eq!(e.class(), Some(mpi4rs::ErrorClass::Root));
    Ok(())
}

fn vector_errors(env: &Environment) -> Result<()> {
    let world = env.world();
    let (_, n) = rank_size(env);
    let nu = n as usize;
    let data = vec![0i32; nu];
    let mut out = vec![0i32; nu];
    let ones = vec![1; nu];
    let zeros = vec![0; nu];
    let short = vec![1; nu - 1];
    let past: Vec<i32> = (0..n).map(|j| j + 1).collect(); // last block ends past the buffer
    let neg: Vec<i32> = (0..n).map(|j| if j == n - 1 { -1 } else { 1 }).collect();
    ensure_err!(
        world.alltoallv(
            &Varying::new(&data[..], &short, &zeros[..nu - 1]),
            &mut VaryingMut::packed(&mut out[..], &ones)
        ),
        Error::BufferLength { .. }
    );
    ensure_err!(
        world.alltoallv(&Varying::new(&data[..], &ones, &past), &mut VaryingMut::packed(&mut out[..], &ones)),
        Error::BufferLength { .. }
    );
    ensure_err!(
        world.alltoallv(&Varying::packed(&data[..], &neg), &mut VaryingMut::packed(&mut out[..], &ones)),
        Error::BufferLength { .. }
    );
    ensure_err!(
        world.allgatherv(&[1i32, 2][..], &mut VaryingMut::packed(&mut out[..], &ones)),
        Error::BufferLength { .. }
    );
    // Root-only mistakes of scatterv and gatherv: see rank_local_errors_keep_ranks_together.
    ensure_err!(world.reduce_scatter(&data, &mut out[..1], &short, &Op::SUM), Error::BufferLength { .. });
    ensure_err!(world.reduce_scatter(&data, &mut out[..1], &neg, &Op::SUM), Error::BufferLength { .. });
    Ok(())
}

/// alltoallw: to and from peer j, one f64 (sender*10 + receiver) at byte 8j; then the
/// in-place and nonblocking forms, and the checked mistakes.
fn alltoallw_typed_blocks(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let nu = n as usize;
    let f = Datatype::of::<f64>()?;
    let send: Vec<f64> = (0..n).map(|j| (me * 10 + j) as f64).collect();
    let ones = vec![1; nu];
    let sdispls: Vec<i32> = (0..n).map(|j| 8 * j).collect();
    let ftypes = vec![&f; nu];
    let mut recv = vec![0.0f64; nu];
    world.alltoallw(
        &VaryingW::new(&send[..], &ones, &sdispls, &ftypes),
        &mut VaryingWMut::new(&mut recv[..], &ones, &sdispls, &ftypes),
    )?;
    ensure_eq!(recv, (0..n).map(|j| (j * 10 + me) as f64).collect::<Vec<_>>());
    let mut buf = send.clone();
    world.alltoallw_in_place(&mut VaryingWMut::new(&mut buf[..], &ones, &sdispls, &ftypes))?;
    ensure_eq!(buf, recv);
    let send_blocks = VaryingW::new(&send[..], &ones, &sdispls, &ftypes);
    let mut recv_blocks = VaryingWMut::new(&mut recv[..], &ones, &sdispls, &ftypes);
    mpi4rs::scope(|s| world.ialltoallw(s, &send_blocks, &mut recv_blocks)?.wait().map(drop))?;
    ensure_eq!(recv, buf);
    // Errors: a block past the end, a negative count, too few types, a bool receive buffer.
    let past: Vec<i32> = (0..n).map(|j| 8 * j + 1).collect();
    let mut out = vec![0.0f64; nu];
    ensure_err!(
        world.alltoallw(
            &VaryingW::new(&send[..], &ones, &past, &ftypes),
            &mut VaryingWMut::new(&mut out[..], &ones, &sdispls, &ftypes)
        ),
        Error::BufferLength { .. }
    );
    let neg = vec![-1; nu];
    ensure_err!(
        world.alltoallw(
            &VaryingW::new(&send[..], &neg, &sdispls, &ftypes),
            &mut VaryingWMut::new(&mut out[..], &ones, &sdispls, &ftypes)
        ),
        Error::BufferLength { .. }
    );
    ensure_err!(
        world.alltoallw(
            &VaryingW::new(&send[..], &ones, &sdispls, &ftypes[1..]),
            &mut VaryingWMut::new(&mut out[..], &ones, &sdispls, &ftypes)
        ),
        Error::BufferLength { .. }
    );
    let mut flags = vec![false; 8 * nu];
    ensure_err!(
        world.alltoallw(
            &VaryingW::new(&send[..], &ones, &sdispls, &ftypes),
            &mut VaryingWMut::new(&mut flags[..], &ones, &sdispls, &ftypes)
        ),
        Error::InvalidArgument(_)
    );
    Ok(())
}

/// Rank r contributes r bytes, so rank 0's send buffer is an empty `Vec<u8>`, whose dangling
/// pointer (0x1) is Open MPI's `MPI_IN_PLACE`: the library must not hand it to MPI as such.
fn empty_byte_buffers(env: &Environment) -> Result<()> {
    let (world, me, n) = (env.world(), env.world().rank(), env.world().size());
    let mine = vec![me as u8; me as usize];
    let counts: Vec<i32> = (0..n).collect();
    let total = counts.iter().sum::<i32>() as usize;
    let expect: Vec<u8> = (0..n).flat_map(|r| vec![r as u8; r as usize]).collect();
    let mut all = vec![0xEEu8; total];
    world.allgatherv(&mine, &mut VaryingMut::packed(&mut all[..], &counts))?;
    ensure_eq!(all, expect);
    for root in 0..n {
        let mut gathered = vec![0xEEu8; total];
        let mut recv = (me == root).then(|| VaryingMut::packed(&mut gathered[..], &counts));
        world.gatherv(&mine, recv.as_mut(), root)?;
        if me == root {
            ensure_eq!(gathered, expect);
        }
    }
    let mut none: Vec<u8> = Vec::new();
    world.allreduce(&Vec::<u8>::new(), &mut none, &Op::MAX)?;
    ensure!(none.is_empty());
    Ok(())
}

/// Items of zero size can be counted past any memory: `count * processes` overflowing is an
/// error on every rank, not a panic.
fn block_count_overflow(env: &Environment) -> Result<()> {
    let world = env.world();
    let (_, n) = rank_size(env);
    let nothing = Datatype::contiguous(0, &Datatype::of::<f64>()?)?;
    let huge = 1usize << 63;
    let (empty, mut out) = ([0u8; 0], [0u8; 0]);
    let send = mpi4rs::Typed::new(&empty, huge, &nothing)?;
    let mut recv = mpi4rs::TypedMut::new(&mut out, huge, &nothing)?;
    if n == 1 {
        // One block: the counts agree; nothing moves (2^40 items go as one big datatype, 2^63
        // would be more chunks than an int counts).
        ensure_err!(world.allgather(&send, &mut recv), Error::CountOverflow { .. });
        let send = mpi4rs::Typed::new(&empty, 1 << 40, &nothing)?;
        world.allgather(&send, &mut mpi4rs::TypedMut::new(&mut out, 1 << 40, &nothing)?)?;
        return Ok(());
    }
    let e = ensure_err!(world.allgather(&send, &mut recv), Error::BufferLength { .. });
    ensure!(e.to_string().contains("address space"), "{e}");
    ensure_err!(
        mpi4rs::scope(|s| world.iallgather(s, &send, &mut recv).map(drop)),
        Error::BufferLength { .. }
    );
    ensure_err!(world.reduce_scatter_block(&send, &mut recv, &Op::SUM), Error::BufferLength { .. });
    if let Some(ring) = world.create_cart(&[n], &[true], false)? {
        let e = ensure_err!(ring.neighbor_allgather(&send, &mut recv), Error::BufferLength { .. });
        ensure!(e.to_string().contains("address space"), "{e}");
    }
    Ok(())
}

/// alltoallw on a one-process communicator with a byte displacement that is not 0: the block
/// lands at that byte, nothing outside it changes (Open MPI 4.1's coll/self scaled the
/// displacement by the extent and wrote past the buffer).
fn alltoallw_on_one_process(env: &Environment) -> Result<()> {
    let me = env.self_comm();
    let f64s = Datatype::of::<f64>()?;
    let types = [&f64s];
    let (counts, sdispls, rdispls) = ([1], [16], [8]);
    let send = [1.0f64, 2.0, 3.0];
    // The receive buffer is the first 2 elements of a larger array: element 1 gets the value;
    // the rest of the array is a guard.
    let mut big = [-1.0f64; 32];
    me.alltoallw(
        &VaryingW::new(&send[..], &counts, &sdispls, &types),
        &mut VaryingWMut::new(&mut big[..2], &counts, &rdispls, &types),
    )?;
    ensure_eq!(big[..2], [-1.0, 3.0]);
    ensure!(big[2..].iter().all(|&x| x == -1.0), "written outside the block: {big:?}");
    let mut big = [-1.0f64; 32];
    {
        let sw = VaryingW::new(&send[..], &counts, &sdispls, &types);
        let mut rw = VaryingWMut::new(&mut big[..2], &counts, &rdispls, &types);
        mpi4rs::scope(|s| me.ialltoallw(s, &sw, &mut rw)?.wait().map(drop))?;
    }
    ensure_eq!(big[..3], [-1.0, 3.0, -1.0]);
    // In place: the own block stays.
    let mut buf = [5.0f64, 6.0];
    me.alltoallw_in_place(&mut VaryingWMut::new(&mut buf[..], &counts, &rdispls, &types))?;
    ensure_eq!(buf, [5.0, 6.0]);
    Ok(())
}

/// A mistake only one rank can see (the root's buffers of a rooted collective, one rank's
/// counts of a vector form): that rank gets the error, the others complete, and the next
/// correct call of the same collective gets its own data, not what the failed one left behind.
fn rank_local_errors_keep_ranks_together(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let nu = n as usize;
    let (root, odd) = (n - 1, if n > 1 { 1 } else { 0 }); // the rank that errs in vector forms
    let len = |e: Result<()>| matches!(e, Err(Error::BufferLength { .. }));
    let ones = vec![1; nu];
    let past: Vec<i32> = (0..n).map(|j| j + 1).collect(); // the last block ends past the buffer
    for nonblocking in [false, true] {
        // gather: the root's receive buffer has a block too many.
        let mut wrong = vec![0i64; nu + 1];
        let r = if nonblocking {
            let v = 100 + me as i64;
            mpi4rs::scope(|s| {
                world.igather(s, &v, (me == root).then_some(&mut wrong), root)?.wait().map(drop)
            })
        } else {
            world.gather(&(100 + me as i64), (me == root).then_some(&mut wrong), root)
        };
        ensure!(
            if me == root { len(r) } else { r.is_ok() },
            "gather (nonblocking {nonblocking}) on rank {me}"
        );
        let mut all = vec![0i64; nu];
        world.gather(&(200 + me as i64), (me == root).then_some(&mut all), root)?;
        if me == root {
            ensure_eq!(all, (0..n as i64).map(|r| 200 + r).collect::<Vec<_>>());
        }
        // scatter: the root's send buffer is not one block per process.
        let odd_blocks = vec![7i64; nu * 2 + 1];
        let mut x = -1i64;
        let r = if nonblocking {
            mpi4rs::scope(|s| {
                world.iscatter(s, (me == root).then_some(&odd_blocks), &mut x, root)?.wait().map(drop)
            })
        } else {
            world.scatter((me == root).then_some(&odd_blocks), &mut x, root)
        };
        ensure!(if me == root { len(r) } else { r.is_ok() }, "scatter on rank {me}");
        let blocks: Vec<i64> = (0..n as i64).map(|r| 300 + r).collect();
        world.scatter((me == root).then_some(&blocks), &mut x, root)?;
        ensure_eq!(x, 300 + me as i64);
        // gatherv and scatterv: the root's displacements run past its buffer.
        let mut out = vec![0i32; nu];
        let r = if nonblocking {
            let mine_block = [400 + me];
            let mut vm = VaryingMut::new(&mut out[..], &ones, &past);
            mpi4rs::scope(|s| {
                world.igatherv(s, &mine_block[..], (me == root).then_some(&mut vm), root)?.wait().map(drop)
            })
        } else {
            world.gatherv(
                &[400 + me][..],
                (me == root).then_some(&mut VaryingMut::new(&mut out[..], &ones, &past)),
                root,
            )
        };
        ensure!(if me == root { len(r) } else { r.is_ok() }, "gatherv on rank {me}");
        world.gatherv(
            &[500 + me][..],
            (me == root).then_some(&mut VaryingMut::packed(&mut out[..], &ones)),
            root,
        )?;
        if me == root {
            ensure_eq!(out, (0..n).map(|r| 500 + r).collect::<Vec<_>>());
        }
        let data: Vec<i32> = (0..n).map(|r| 600 + r).collect();
        let mut one = [-1i32];
        let r = if nonblocking {
            let v = Varying::new(&data[..], &ones, &past);
            mpi4rs::scope(|s| {
                world.iscatterv(s, (me == root).then_some(&v), &mut one[..], root)?.wait().map(drop)
            })
        } else {
            world.scatterv((me == root).then_some(&Varying::new(&data[..], &ones, &past)), &mut one[..], root)
        };
        ensure!(if me == root { len(r) } else { r.is_ok() }, "scatterv on rank {me}");
        world.scatterv((me == root).then_some(&Varying::packed(&data[..], &ones)), &mut one[..], root)?;
        ensure_eq!(one, [600 + me]);
        // reduce: the root's receive buffer is too short.
        let mut short = [0i64; 1];
        let r = if nonblocking {
            let two = [1i64, 2];
            mpi4rs::scope(|s| {
                world
                    .ireduce(s, &two[..], (me == root).then_some(&mut short[..]), &Op::SUM, root)?
                    .wait()
                    .map(drop)
            })
        } else {
            world.reduce(&[1i64, 2][..], (me == root).then_some(&mut short[..]), &Op::SUM, root)
        };
        ensure!(if me == root { len(r) } else { r.is_ok() }, "reduce on rank {me}");
        let mut sum = [0i64; 2];
        world.reduce(&[me as i64, 1][..], (me == root).then_some(&mut sum[..]), &Op::SUM, root)?;
        if me == root {
            ensure_eq!(sum, [(0..n as i64).sum::<i64>(), n as i64]);
        }
        // allgatherv and alltoallv: one rank's displacements run past its buffer.
        let mut got = vec![0i32; nu];
        let mine = if me == odd { &past } else { &ones };
        let r = if nonblocking {
            let m = [700 + me];
            let mut vm = VaryingMut::new(&mut got[..], &ones, mine);
            mpi4rs::scope(|s| world.iallgatherv(s, &m[..], &mut vm)?.wait().map(drop))
        } else {
            world.allgatherv(&[700 + me][..], &mut VaryingMut::new(&mut got[..], &ones, mine))
        };
        ensure!(if me == odd { len(r) } else { r.is_ok() }, "allgatherv on rank {me}");
        world.allgatherv(&[800 + me][..], &mut VaryingMut::packed(&mut got[..], &ones))?;
        ensure_eq!(got, (0..n).map(|r| 800 + r).collect::<Vec<_>>());
        let send: Vec<i32> = (0..n).map(|j| 900 + me * 10 + j).collect();
        let r = if nonblocking {
            let v = Varying::new(&send[..], &ones, mine);
            let mut vm = VaryingMut::packed(&mut got[..], &ones);
            mpi4rs::scope(|s| world.ialltoallv(s, &v, &mut vm)?.wait().map(drop))
        } else {
            world.alltoallv(
                &Varying::new(&send[..], &ones, mine),
                &mut VaryingMut::packed(&mut got[..], &ones),
            )
        };
        ensure!(if me == odd { len(r) } else { r.is_ok() }, "alltoallv on rank {me}");
        world.alltoallv(&Varying::packed(&send[..], &ones), &mut VaryingMut::packed(&mut got[..], &ones))?;
        ensure_eq!(got, (0..n).map(|j| 900 + j * 10 + me).collect::<Vec<_>>());
    }
    Ok(())
}
