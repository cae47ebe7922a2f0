//! Device buffers through every kind of operation, on machines without a GPU: buffers that
//! claim CUDA memory but live in host memory, moved by the router's emulation mode
//! (`transfer::emulate_device_memory`), drive the routing decisions, the staging, the
//! pipeline's chunking and request completion exactly as real device memory would.
//! `tests/gpu.rs`-style checks on real memory run with `ci/gpu.sh` on a GPU machine.
mod common;

use common::emu::{Emu, EmuRaw};
use common::{neighbours, rank_size, Suite};
use half::{bf16, f16};
use mpi4rs::device::{add_hook, remove_hook, Element, HookPoint};
use mpi4rs::prelude::*;
use mpi4rs::transfer::{self, Path};
use mpi4rs::{Datatype, Device, DeviceMut, Environment, Error, Result, Typed, TypedMut};
use num_complex::Complex;

fn main() {
    // Small pipeline sizes so that the chunking runs on small test arrays (every rank, and
    // every job, gets the same values: they must agree).
    std::env::set_var("MPI4RS_PIPELINE_MIN", "64K");
    std::env::set_var("MPI4RS_PIPELINE_CHUNK", "16K");
    Suite::new("device")
        .case("library_is_not_cuda_aware", library_is_not_cuda_aware)
        .case("p2p_staged_and_mixed", p2p_staged_and_mixed)
        .case("nonblocking_and_persistent", nonblocking_and_persistent)
        .case("allreduce_every_type_staged", allreduce_every_type_staged)
        .case("pipelined_reductions_and_bcast", pipelined_reductions_and_bcast)
        .case("rooted_and_all_to_all", rooted_and_all_to_all)
        .case("neighbor_collectives_staged", neighbor_collectives_staged)
        .case("hooks_run_and_can_fail", hooks_run_and_can_fail)
        .case("no_cuda_is_an_error_not_a_crash", no_cuda_is_an_error_not_a_crash)
        .case("dlpack_tensors", dlpack_tensors)
        .case("real_cuda_buffers", real_cuda_buffers)
        .case("staged_typed_recv", staged_typed_recv)
        .case("staged_typed_irecv_and_persistent", staged_typed_irecv_and_persistent)
        .case("staged_typed_file_read", staged_typed_file_read)
        .case("staged_typed_negative_lower_bound", staged_typed_negative_lower_bound)
        .case("staged_typed_collectives", staged_typed_collectives)
        .case("staged_typed_holes_untouched", staged_typed_holes_untouched)
        .case("real_cuda_typed_layouts", real_cuda_typed_layouts)
        .case("real_cuda_holes_untouched", real_cuda_holes_untouched)
        .case("real_cuda_managed_memory", real_cuda_managed_memory)
        .case("real_cuda_strided_tensors", real_cuda_strided_tensors)
        .case("real_cuda_solver_loop", real_cuda_solver_loop)
        .case("driver_double_ordering_with_sync", driver_double_ordering_with_sync)
        // Last: it installs a logger for the rest of the process.
        .case("log_facade_reports_routing", log_facade_reports_routing)
        .hidden("direct_path_when_cuda_aware", direct_path_when_cuda_aware)
        .hidden("driver_double_skipped_sync", driver_double_skipped_sync)
        .hidden("driver_double_host_reads_device", driver_double_host_reads_device)
        .check("cuda_aware_override", cuda_aware_override)
        .check("mpi4rs_log_without_a_logger", mpi4rs_log_without_a_logger)
        .check("driver_double_catches_a_skipped_sync", driver_double_catches_a_skipped_sync)
        .check("driver_double_catches_host_access", driver_double_catches_host_access)
        .run();
}

fn emulate() {
    common::emu::emulate(true);
}

fn library_is_not_cuda_aware(_env: &Environment) -> Result<()> {
    // Debian's Open MPI and MPICH are built without CUDA; the source says how that was found.
    if std::env::var_os("MPI4RS_CUDA_AWARE").is_none() {
        ensure!(!transfer::cuda_aware(), "source: {}", transfer::cuda_aware_source());
    }
    ensure_eq!(transfer::path_for(mpi4rs::device::MemoryKind::Host), Path::Host);
    ensure_eq!(transfer::path_for(mpi4rs::device::MemoryKind::PinnedHost), Path::Host);
    ensure_eq!(transfer::path_for(mpi4rs::device::MemoryKind::Cuda { device: 0 }), Path::Staged);
    Ok(())
}

fn p2p_staged_and_mixed(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let before = transfer::stats();
    // Device to device.
    let send = Emu((0..1000).map(|i| (me * 10_000 + i) as f64).collect::<Vec<_>>());
    let mut got = Emu(vec![0.0f64; 1000]);
    let send_dev = Device(&send);
    let st = mpi4rs::scope(|s| {
        let req = world.isend(s, &send_dev, right, 1)?;
        let st = world.recv(&mut DeviceMut(&mut got), left, 1)?;
        req.wait()?;
        Ok(st)
    })?;
    ensure_eq!(transfer::last_path(), Some(Path::Staged));
    ensure_eq!(st.count::<f64>()?, 1000);
    ensure_eq!(got.0, (0..1000).map(|i| (left * 10_000 + i) as f64).collect::<Vec<_>>());
    // Host send, device receive, shorter than the buffer: only the message is copied back.
    let mut partial = Emu(vec![-1i32; 10]);
    let four = [me; 4];
    mpi4rs::scope(|s| {
        let req = world.isend(s, &four, right, 2)?;
        world.recv(&mut DeviceMut(&mut partial), left, 2)?;
        req.wait().map(drop)
    })?;
    ensure_eq!(partial.0, [vec![left; 4], vec![-1; 6]].concat());
    // Device send, host receive; sendrecv and sendrecv_replace.
    let mut host = [0u16; 3];
    world.sendrecv(&Device(&Emu(vec![me as u16; 3])), right, 3, &mut host, left, 3)?;
    ensure_eq!(host, [left as u16; 3]);
    let mut both = Emu(vec![me as i64; 5]);
    world.sendrecv_replace(&mut DeviceMut(&mut both), right, 4, left, 4)?;
    ensure_eq!(both.0, vec![left as i64; 5]);
    // Matched probe and receive into a device buffer.
    let seven = Emu(vec![me as u8; 7]);
    let seven = Device(&seven);
    let mut m = Emu(vec![0u8; 7]);
    mpi4rs::scope(|s| {
        let req = world.isend(s, &seven, right, 5)?;
        let (mut msg, _) = world.mprobe(left, 5)?;
        msg.recv(&mut DeviceMut(&mut m))?;
        req.wait().map(drop)
    })?;
    ensure_eq!(m.0, vec![left as u8; 7]);
    ensure!(transfer::stats().staged >= before.staged + 7);
    Ok(())
}

fn nonblocking_and_persistent(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let mut a = Emu(vec![0.0f32; 64]);
    let mut b = Emu(vec![0.0f32; 64]);
    let sa = Emu(vec![me as f32; 64]);
    let sb = Emu(vec![me as f32 + 0.5; 64]);
    {
        let (mut da, mut db, dsa, dsb) = (DeviceMut(&mut a), DeviceMut(&mut b), Device(&sa), Device(&sb));
        mpi4rs::scope(|s| {
            let mut reqs = vec![
                world.irecv(s, &mut da, left, 1)?,
                world.irecv(s, &mut db, left, 2)?,
                world.isend(s, &dsa, right, 1)?,
                world.isend(s, &dsb, right, 2)?,
            ];
            mpi4rs::wait_all(&mut reqs).map(drop)
        })?;
    }
    ensure_eq!(a.0, vec![left as f32; 64]);
    ensure_eq!(b.0, vec![left as f32 + 0.5; 64]);
    // A request dropped without a wait still writes the device buffer back.
    let mut c = Emu(vec![0i32; 8]);
    {
        let mut dc = DeviceMut(&mut c);
        mpi4rs::scope(|s| {
            let _r = world.irecv(s, &mut dc, left, 3)?;
            world.send(&Device(&Emu(vec![me; 8])), right, 3)
        })?;
    }
    ensure_eq!(c.0, vec![left; 8]);
    // Persistent requests: the staged send buffer is refreshed at every start.
    let mut src = Emu(vec![0u64; 16]);
    let mut dst = Emu(vec![0u64; 16]);
    for round in 0..3u64 {
        src.0.iter_mut().for_each(|x| *x = me as u64 * 100 + round);
        {
            let (mut ddst, dsrc) = (DeviceMut(&mut dst), Device(&src));
            mpi4rs::scope(|s| {
                let mut recv = world.recv_init(s, &mut ddst, left, 9)?;
                let mut send = world.send_init(s, &dsrc, right, 9)?;
                recv.start()?;
                send.start()?;
                send.wait()?;
                recv.wait().map(drop)
            })?;
        }
        ensure_eq!(dst.0, vec![left as u64 * 100 + round; 16]);
    }
    let mut dst2 = Emu(vec![0u64; 16]);
    {
        let (mut ddst, dsrc) = (DeviceMut(&mut dst2), Device(&src));
        mpi4rs::scope(|s| {
            let mut both = [world.recv_init(s, &mut ddst, left, 10)?, world.send_init(s, &dsrc, right, 10)?];
            for _ in 0..3 {
                mpi4rs::start_all(&mut both)?;
                mpi4rs::wait_all(&mut both)?;
            }
            Ok(())
        })?;
    }
    ensure_eq!(dst2.0, vec![left as u64 * 100 + 2; 16]);
    // A nonblocking collective on device buffers.
    let mut sum = Emu(vec![0i32; 5]);
    let send = Emu(vec![me + 1; 5]);
    {
        let (dsend, mut dsum) = (Device(&send), DeviceMut(&mut sum));
        mpi4rs::scope(|s| world.iallreduce(s, &dsend, &mut dsum, &Op::SUM)?.wait().map(drop))?;
    }
    let n = world.size();
    ensure_eq!(sum.0, vec![n * (n + 1) / 2; 5]);
    Ok(())
}

/// Allreduce of device buffers equals allreduce of the same host buffers, for every type.
fn check_allreduce<T>(env: &Environment, make: impl Fn(i32, usize) -> T, op: &Op) -> Result<()>
where
    T: Element + mpi4rs::BufferElement + PartialEq + std::fmt::Debug,
{
    let world = env.world();
    let me = world.rank();
    let data: Vec<T> = (0..33).map(|i| make(me, i)).collect();
    let mut want = data.clone();
    world.allreduce(&data, &mut want, op)?;
    let mut got = Emu(data.clone());
    world.allreduce(&Device(&Emu(data.clone())), &mut DeviceMut(&mut got), op)?;
    ensure_eq!(transfer::last_path(), Some(Path::Staged));
    ensure_eq!(got.0, want);
    let mut inplace = Emu(data);
    world.allreduce_in_place(&mut DeviceMut(&mut inplace), op)?;
    ensure_eq!(inplace.0, want);
    Ok(())
}

fn allreduce_every_type_staged(env: &Environment) -> Result<()> {
    emulate();
    check_allreduce(env, |r, i| (r as i64) * 1000 + i as i64, &Op::SUM)?;
    check_allreduce(env, |r, i| (r as u8).wrapping_add(i as u8), &Op::MAX)?;
    check_allreduce(env, |r, i| (r as f32) * 0.5 + i as f32, &Op::SUM)?;
    check_allreduce(env, |r, i| (r as f64) - i as f64, &Op::MIN)?;
    check_allreduce(env, |r, i| f16::from_f32((r + i as i32) as f32), &Op::SUM)?;
    check_allreduce(env, |r, i| bf16::from_f32((r * i as i32) as f32), &Op::MAX)?;
    check_allreduce(env, |r, i| Complex::new(r as f64, i as f64), &Op::PROD)?;
    check_allreduce(env, |r, i| (r + i as i32) % 2 == 0, &Op::LOR)?;
    let add = UserOp::new::<i32, _>(true, |a, b| b.iter_mut().zip(a).for_each(|(b, a)| *b += 2 * a))?;
    check_allreduce(env, |r, i| r + i as i32, &add)?;
    Ok(())
}

fn pipelined_reductions_and_bcast(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    let (me, n) = rank_size(env);
    // 200 000 f64 = 1.6 MB: past MPI4RS_PIPELINE_MIN (64K), so ~98 chunks of 16K.
    let len = 200_000usize;
    let before = transfer::stats().pipelined_chunks;
    let send = Emu((0..len).map(|i| (i % 1000) as f64 + me as f64).collect::<Vec<_>>());
    let mut got = Emu(vec![0.0; len]);
    world.allreduce(&Device(&send), &mut DeviceMut(&mut got), &Op::SUM)?;
    let tri = (n * (n - 1) / 2) as f64;
    ensure!(got.0.iter().enumerate().all(|(i, &x)| x == (i % 1000) as f64 * n as f64 + tri));
    let chunks = transfer::stats().pipelined_chunks - before;
    ensure!(chunks >= 90, "{chunks} chunks");
    // In place, host send / device receive, and a rank with host buffers beside device ones.
    let mut buf = send.clone();
    world.allreduce_in_place(&mut DeviceMut(&mut buf), &Op::SUM)?;
    ensure_eq!(buf.0, got.0);
    let mut host_result = vec![0.0; len];
    if me % 2 == 0 {
        world.allreduce(&send.0, &mut host_result, &Op::SUM)?;
    } else {
        let mut dev = Emu(vec![0.0; len]);
        world.allreduce(&send.0, &mut DeviceMut(&mut dev), &Op::SUM)?;
        host_result = dev.0;
    }
    ensure_eq!(host_result, got.0);
    // Reduce and bcast, pipelined the same way.
    let mut at_root = Emu(vec![0.0; len]);
    world.reduce(&Device(&send), (me == 0).then_some(&mut DeviceMut(&mut at_root)), &Op::SUM, 0)?;
    if me == 0 {
        ensure_eq!(at_root.0, got.0);
    }
    let root = n - 1;
    let mut b = Emu(if me == root { (0..len).map(|i| i as f64).collect() } else { vec![0.0; len] });
    world.bcast(&mut DeviceMut(&mut b), root)?;
    ensure!(b.0.iter().enumerate().all(|(i, &x)| x == i as f64));
    // Large blocking reduce_scatter(_block), which are not pipelined: their staged buffers
    // must still be copied in and back.
    let block = 20_000usize; // 160 KB per block, past MPI4RS_PIPELINE_MIN
    let send = Emu((0..block * n as usize).map(|i| (i % 1000) as f64 + me as f64).collect::<Vec<_>>());
    let want: Vec<f64> =
        (0..block).map(|i| ((me as usize * block + i) % 1000) as f64 * n as f64 + tri).collect();
    let mut mine = Emu(vec![0.0; block]);
    world.reduce_scatter_block(&Device(&send), &mut DeviceMut(&mut mine), &Op::SUM)?;
    ensure!(mine.0 == want, "reduce_scatter_block of staged buffers");
    let mut mine = Emu(vec![0.0; block]);
    let counts = vec![block as i32; n as usize];
    world.reduce_scatter(&Device(&send), &mut DeviceMut(&mut mine), &counts, &Op::SUM)?;
    ensure!(mine.0 == want, "reduce_scatter of staged buffers");
    // Nor are blocking collectives on an intercommunicator.
    if n >= 2 {
        let half = world.split(Some(me % 2), me)?.expect("every rank has a colour");
        let inter = half.create_intercomm(0, world, if me % 2 == 1 { 0 } else { 1 }, 5)?;
        let remote = inter.remote_size() as f64;
        let mut sum = Emu(vec![0.0; block]);
        inter.allreduce(&Device(&Emu(vec![1.0; block])), &mut DeviceMut(&mut sum), &Op::SUM)?;
        ensure!(sum.0.iter().all(|&x| x == remote), "intercommunicator allreduce of staged buffers");
    }
    Ok(())
}

fn rooted_and_all_to_all(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    let (me, n) = rank_size(env);
    let nu = n as usize;
    let mut all = Emu(vec![0i32; 3 * nu]);
    world.allgather(&Device(&Emu(vec![me; 3])), &mut DeviceMut(&mut all))?;
    ensure_eq!(all.0, (0..n).flat_map(|r| [r; 3]).collect::<Vec<_>>());
    let mut t = Emu(vec![0i32; nu]);
    world
        .alltoall(&Device(&Emu((0..n).map(|d| me * 100 + d).collect::<Vec<_>>())), &mut DeviceMut(&mut t))?;
    ensure_eq!(t.0, (0..n).map(|s| s * 100 + me).collect::<Vec<_>>());
    let mut g = Emu(vec![-1i32; nu]);
    world.gather(&Device(&Emu(vec![me])), (me == 0).then_some(&mut DeviceMut(&mut g)), 0)?;
    if me == 0 {
        ensure_eq!(g.0, (0..n).collect::<Vec<_>>());
    }
    let mut part = Emu(vec![0i32; 2]);
    let src = Emu((0..2 * n).collect::<Vec<_>>());
    world.scatter((me == 0).then_some(&Device(&src)), &mut DeviceMut(&mut part), 0)?;
    ensure_eq!(part.0, vec![2 * me, 2 * me + 1]);
    // Gatherv leaves holes untouched in the device buffer.
    let counts: Vec<i32> = vec![1; nu];
    let displs: Vec<i32> = (0..n).map(|r| 2 * r).collect();
    let mut holes = Emu(vec![-7i32; 2 * nu]);
    {
        let mut holes_dev = DeviceMut(&mut holes);
        let mut recv = VaryingMut::new(&mut holes_dev, &counts, &displs);
        world.gatherv(&Device(&Emu(vec![me])), (me == 0).then_some(&mut recv), 0)?;
    }
    if me == 0 {
        ensure_eq!(holes.0, (0..n).flat_map(|r| [r, -7]).collect::<Vec<_>>());
    }
    // Exscan leaves rank 0's buffer as it was.
    let mut ex = Emu(vec![-5i32; 2]);
    world.exscan(&Device(&Emu(vec![1; 2])), &mut DeviceMut(&mut ex), &Op::SUM)?;
    ensure_eq!(ex.0, if me == 0 { vec![-5; 2] } else { vec![me; 2] });
    // A local reduction on device buffers (staged to the host).
    let mut acc = Emu(vec![1.0f32, 2.0]);
    Op::SUM.reduce_local(&Device(&Emu(vec![10.0f32, 20.0])), &mut DeviceMut(&mut acc))?;
    ensure_eq!(acc.0, vec![11.0, 22.0]);
    Ok(())
}

/// Neighbourhood collectives on a 1-D non-periodic grid (left, right; PROC_NULL at the ends)
/// with device buffers: staged, blocks from PROC_NULL left as they were, nonblocking and
/// persistent requests finishing their copies.
fn neighbor_collectives_staged(env: &Environment) -> Result<()> {
    emulate();
    let (me, n) = rank_size(env);
    let line = env.world().create_cart(&[n], &[false], false)?.expect("every rank in the line");
    let null = proc_null();
    let (left, right) = line.shift(0, 1)?;
    let from = |r: i32, v: i32| if r == null { -1 } else { v };
    let mut got = Emu(vec![-1i32; 4]);
    line.neighbor_allgather(&Device(&Emu(vec![me, me * 10])), &mut DeviceMut(&mut got))?;
    ensure_eq!(transfer::last_path(), Some(Path::Staged));
    ensure_eq!(got.0, [from(left, left), from(left, left * 10), from(right, right), from(right, right * 10)]);
    // alltoall: to the left me*100, to the right me*100+1.
    let send = Emu(vec![me * 100, me * 100 + 1]);
    let mut recv = Emu(vec![-1i32; 2]);
    line.neighbor_alltoall(&Device(&send), &mut DeviceMut(&mut recv))?;
    let want = [from(left, left * 100 + 1), from(right, right * 100)];
    ensure_eq!(recv.0, want);
    // Nonblocking, and a device receive beside a host send.
    let mut recv2 = Emu(vec![-1i32; 2]);
    {
        let mut dev = DeviceMut(&mut recv2);
        mpi4rs::scope(|s| line.ineighbor_alltoall(s, &send.0[..], &mut dev)?.wait().map(drop))?;
    }
    ensure_eq!(recv2.0, want);
    // alltoallv with holes between the received blocks.
    let mut spaced = Emu(vec![-5i64; 6]);
    let values = Emu(vec![me as i64; 3]);
    {
        let (sd, mut rd) = (Device(&values), DeviceMut(&mut spaced));
        let sv = Varying::new(&sd, &[1, 2], &[0, 1]);
        let mut rv = VaryingMut::new(&mut rd, &[2, 1], &[0, 4]);
        line.neighbor_alltoallv(&sv, &mut rv)?;
    }
    let l = from(left, left) as i64;
    let r = from(right, right) as i64;
    ensure_eq!(
        spaced.0,
        [
            if left == null { -5 } else { l },
            if left == null { -5 } else { l },
            -5,
            -5,
            if right == null { -5 } else { r },
            -5
        ]
    );
    // Persistent: started twice, the device buffer written back each time.
    if mpi4rs::has_persistent_collectives() {
        let mut p = Emu(vec![-1i32; 2]);
        {
            let sd = Device(&send);
            let mut pd = DeviceMut(&mut p);
            mpi4rs::scope(|s| {
                let mut req = line.neighbor_alltoall_init(s, &sd, &mut pd)?;
                for _ in 0..2 {
                    req.start()?;
                    req.wait()?;
                }
                Ok(())
            })?;
        }
        ensure_eq!(p.0, want);
    }
    Ok(())
}

fn hooks_run_and_can_fail(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    use std::sync::atomic::{AtomicUsize, Ordering};
    static READS: AtomicUsize = AtomicUsize::new(0);
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let r = add_hook(HookPoint::BeforeRead, |_| {
        READS.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    let w = add_hook(HookPoint::AfterWrite, |_| {
        WRITES.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    let mut out = Emu(vec![0i32; 4]);
    world.allreduce(&Device(&Emu(vec![1; 4])), &mut DeviceMut(&mut out), &Op::SUM)?;
    remove_hook(r);
    remove_hook(w);
    ensure!(READS.load(Ordering::Relaxed) >= 1 && WRITES.load(Ordering::Relaxed) >= 1);
    let bad = add_hook(HookPoint::BeforeRead, |v| Err(format!("refusing {} elements", v.len)));
    let e = world.send(&Device(&Emu(vec![1u8; 3])), proc_null(), 0);
    remove_hook(bad);
    let e = ensure_err!(e, Error::Device(_));
    ensure!(e.to_string().contains("refusing 3 elements"), "{e}");
    Ok(())
}

fn no_cuda_is_an_error_not_a_crash(env: &Environment) -> Result<()> {
    // Without emulation, a buffer claiming CUDA memory on a machine without CUDA must give
    // an error from the staging copy, not a crash.
    if mpi4rs::device::cuda::available() {
        return Ok(());
    }
    common::emu::emulate(false);
    let world = env.world();
    let e = ensure_err!(world.send(&Device(&Emu(vec![1.0f32; 4])), proc_null(), 0), Error::Device(_));
    ensure!(e.to_string().contains("CUDA"), "{e}");
    let mut r = Emu(vec![0u8; 4]);
    ensure_err!(world.recv(&mut DeviceMut(&mut r), proc_null(), 0), Error::Device(_));
    common::emu::emulate(true);
    Ok(())
}

fn direct_path_when_cuda_aware(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    let (me, n) = rank_size(env);
    ensure!(transfer::cuda_aware());
    ensure_eq!(transfer::cuda_aware_source(), "MPI4RS_CUDA_AWARE");
    let mut out = Emu(vec![0i64; 3]);
    world.allreduce(&Device(&Emu(vec![me as i64; 3])), &mut DeviceMut(&mut out), &Op::SUM)?;
    ensure_eq!(transfer::last_path(), Some(Path::Direct));
    ensure_eq!(out.0, vec![(n * (n - 1) / 2) as i64; 3]);
    // A reduction MPI would run as host code is staged even on a CUDA-aware MPI.
    let mut h = Emu(vec![f16::ZERO; 3]);
    world.allreduce(&Device(&Emu(vec![f16::ONE; 3])), &mut DeviceMut(&mut h), &Op::SUM)?;
    ensure_eq!(transfer::last_path(), Some(Path::Staged));
    ensure_eq!(h.0, vec![f16::from_f32(n as f32); 3]);
    Ok(())
}

fn cuda_aware_override(suite: &Suite) -> std::result::Result<(), String> {
    let out = suite.job(2, Some("direct_path_when_cuda_aware"), &[("MPI4RS_CUDA_AWARE", "1")]);
    if out.success() {
        Ok(())
    } else {
        Err(format!("job failed:\n{}", out.text()))
    }
}

/// On a GPU machine: cudarc device slices through p2p, collectives, requests and the
/// pipeline, on the real path (staged or direct). Skipped where no GPU is visible.
#[cfg(feature = "cuda")]
fn real_cuda_buffers(env: &Environment) -> Result<()> {
    let Ok(info) = mpi4rs::device::cuda::probe() else {
        if env.world().rank() == 0 {
            println!("real_cuda_buffers: skipped, no GPU ({})", mpi4rs::device::cuda::probe().unwrap_err());
        }
        return Ok(());
    };
    common::emu::emulate(false);
    let world = env.world();
    let (me, n) = rank_size(env);
    let (right, left) = neighbours(env);
    let node = world.split_shared(0)?;
    let stream = mpi4rs::device::cuda::context(node.rank() % info.devices)?.default_stream();
    let fail =
        |e: mpi4rs::device::cudarc::driver::DriverError| Error::InvalidArgument(format!("cudarc: {e:?}"));
    // Small and pipelined sizes.
    for len in [17usize, 300_000] {
        let host: Vec<f64> = (0..len).map(|i| (i % 100) as f64 + me as f64).collect();
        let send = stream.clone_htod(&host).map_err(fail)?;
        let mut recv = stream.alloc_zeros::<f64>(len).map_err(fail)?;
        world.allreduce(&send, &mut recv, &Op::SUM)?;
        let got = stream.clone_dtoh(&recv).map_err(fail)?;
        let tri = (n * (n - 1) / 2) as f64;
        ensure!(got.iter().enumerate().all(|(i, &x)| x == (i % 100) as f64 * n as f64 + tri));
        let mut inplace = stream.clone_htod(&host).map_err(fail)?;
        world.allreduce_in_place(&mut inplace, &Op::SUM)?;
        ensure_eq!(stream.clone_dtoh(&inplace).map_err(fail)?, got);
        // Ring: device send, device receive; then device to host.
        let mut ring = stream.alloc_zeros::<f64>(len).map_err(fail)?;
        mpi4rs::scope(|s| {
            let req = world.isend(s, &send, right, 1)?;
            world.recv(&mut ring, left, 1)?;
            req.wait().map(drop)
        })?;
        let want: Vec<f64> = (0..len).map(|i| (i % 100) as f64 + left as f64).collect();
        ensure_eq!(stream.clone_dtoh(&ring).map_err(fail)?, want);
        let mut host_in = vec![0.0; len];
        world.sendrecv(&send, right, 2, &mut host_in, left, 2)?;
        ensure_eq!(host_in, want);
    }
    // f16 on the device: staged even with a CUDA-aware MPI.
    let h = stream.clone_htod(&vec![f16::ONE; 8]).map_err(fail)?;
    let mut hs = stream.alloc_zeros::<f16>(8).map_err(fail)?;
    world.allreduce(&h, &mut hs, &Op::SUM)?;
    ensure_eq!(stream.clone_dtoh(&hs).map_err(fail)?, vec![f16::from_f32(n as f32); 8]);
    // A local reduction of two device buffers: the kernel on a GPU, the host fallback where
    // the driver has no usable kernel (the CPU double) or NVRTC is missing.
    let a = stream.clone_htod(&[1.5f64, 2.0, -3.0]).map_err(fail)?;
    let mut b = stream.clone_htod(&[0.5f64, 1.0, 3.0]).map_err(fail)?;
    Op::SUM.reduce_local(&a, &mut b)?;
    ensure_eq!(stream.clone_dtoh(&b).map_err(fail)?, vec![2.0, 3.0, 0.0]);
    // Pinned host memory goes straight to MPI.
    let pinned = mpi4rs::device::PinnedBuffer::from_slice(&[me; 4])?;
    let mut back = mpi4rs::device::PinnedBuffer::<i32>::zeroed(4)?;
    world.allreduce(&pinned, &mut back, &Op::MAX)?;
    ensure_eq!(&back[..], &[n - 1; 4]);
    if me == 0 {
        println!("real_cuda_buffers: ok on {} GPU(s), path {:?}", info.devices, transfer::last_path());
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn real_cuda_buffers(_env: &Environment) -> Result<()> {
    Ok(())
}

/// DLPack tensors (here CPU tensors exported from Rust vectors, as another framework would
/// hand them over) are buffers of every operation; a read-only one cannot receive.
fn dlpack_tensors(env: &Environment) -> Result<()> {
    use mpi4rs::device::dlpack::{export, export_mut};
    use mpi4rs::device::DlpackTensor;
    let world = env.world();
    let (me, n) = rank_size(env);
    // SAFETY: the pointers come straight from export, handed over once each.
    let input = unsafe { DlpackTensor::from_versioned(export(vec![me as f32; 6]).into_raw())? };
    let mut output = unsafe { DlpackTensor::from_versioned(export_mut(vec![0.0f32; 6]).into_raw())? };
    ensure_eq!(input.shape(), &[6]);
    world.allreduce(&input, &mut output.writable()?, &Op::SUM)?;
    let tri = (n * (n - 1) / 2) as f32;
    let mut check = vec![0.0f32; 6];
    world.allreduce(&input, &mut check, &Op::SUM)?;
    ensure_eq!(check, vec![tri; 6]);
    let mut copy = vec![0.0f32; 6];
    world.sendrecv(&output, proc_null(), 0, &mut copy, proc_null(), 0)?;
    // Read the output back through a host buffer: a self-send.
    mpi4rs::scope(|s| {
        let req = world.isend(s, &output, 0, 7);
        if me == 0 {
            let mut back = vec![0.0f32; 6];
            for _ in 0..n {
                world.recv(&mut back, any_source(), 7)?;
                ensure_eq!(back, vec![tri; 6]);
            }
        }
        req?.wait().map(drop)
    })?;
    let mut ro = input;
    ensure_err!(ro.writable(), mpi4rs::device::DeviceError::Dlpack(_));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Derived layouts over staged device memory: MPI writes only the items of the layout, so the
// staging copy must hold the device's bytes in the holes and go back whole over the touched
// range, and a layout reaching below its origin must be staged from its lowest byte.

/// Leaves `value` in the pooled staging buffers of small transfers (a staged send copies the
/// device bytes into one), so that a staging copy that leaks stale bytes into a layout's holes
/// shows them.
fn dirty_staging(env: &Environment, value: f64) -> Result<()> {
    env.world().send(&Device(&Emu(vec![value; 64])), proc_null(), 0)
}

/// The values rank `r` sends as the column of a 3 x 4 matrix.
fn column_of(r: i32) -> Vec<f64> {
    (0..3).map(|i| (r * 100 + i) as f64).collect()
}

/// A 3 x 4 row-major matrix of `fill` with column 1 set to `column`.
fn with_column(fill: f64, column: &[f64]) -> Vec<f64> {
    let mut m = vec![fill; 12];
    for (i, &x) in column.iter().enumerate() {
        m[i * 4 + 1] = x;
    }
    m
}

fn staged_typed_recv(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let column = Datatype::vector(3, 1, 4, &Datatype::of::<f64>()?)?;
    // Host column into a device matrix, blocking receive.
    dirty_staging(env, 777.0)?;
    let mut m = Emu(vec![-1.0f64; 12]);
    let mine = column_of(me);
    mpi4rs::scope(|sc| {
        let req = world.isend(sc, &mine, right, 1)?;
        {
            let mut dm = DeviceMut(&mut m);
            let st = world.recv(&mut TypedMut::with_offset(&mut dm, 8, 1, &column)?, left, 1)?;
            ensure_eq!(st.count::<f64>()?, 3);
        }
        req.wait().map(drop)
    })?;
    ensure_eq!(transfer::last_path(), Some(Path::Staged));
    ensure_eq!(m.0, with_column(-1.0, &column_of(left)));
    // Device column to device column (sendrecv), and a matched receive.
    dirty_staging(env, 555.0)?;
    let src = Emu(with_column(0.5, &column_of(me)));
    let mut dst = Emu(vec![-2.0f64; 12]);
    {
        let dsrc = Device(&src);
        let mut ddst = DeviceMut(&mut dst);
        let send = Typed::with_offset(&dsrc, 8, 1, &column)?;
        let mut recv = TypedMut::with_offset(&mut ddst, 8, 1, &column)?;
        world.sendrecv(&send, right, 2, &mut recv, left, 2)?;
    }
    ensure_eq!(dst.0, with_column(-2.0, &column_of(left)));
    dirty_staging(env, 333.0)?;
    let mut probed = Emu(vec![-3.0f64; 12]);
    let mine = column_of(me);
    mpi4rs::scope(|sc| {
        let req = world.isend(sc, &mine, right, 3)?;
        let (mut msg, _) = world.mprobe(left, 3)?;
        {
            let mut dm = DeviceMut(&mut probed);
            msg.recv(&mut TypedMut::with_offset(&mut dm, 8, 1, &column)?)?;
        }
        req.wait().map(drop)
    })?;
    ensure_eq!(probed.0, with_column(-3.0, &column_of(left)));
    Ok(())
}

fn staged_typed_irecv_and_persistent(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let column = Datatype::vector(3, 1, 4, &Datatype::of::<f64>()?)?;
    dirty_staging(env, 777.0)?;
    let mut m = Emu(vec![-1.0f64; 12]);
    {
        let mut dm = DeviceMut(&mut m);
        let typed = TypedMut::with_offset(&mut dm, 8, 1, &column)?;
        mpi4rs::scope(|sc| {
            let recv = world.irecv(sc, typed, left, 4)?;
            world.send(&column_of(me), right, 4)?;
            recv.wait().map(drop)
        })?;
    }
    ensure_eq!(m.0, with_column(-1.0, &column_of(left)));
    // Persistent: every completion writes the whole touched range back, holes untouched.
    let mut p = Emu(vec![-4.0f64; 12]);
    for round in 0..2 {
        dirty_staging(env, 900.0 + round as f64)?;
        let values: Vec<f64> = column_of(me).iter().map(|x| x + 10.0 * round as f64).collect();
        {
            let mut dp = DeviceMut(&mut p);
            let typed = TypedMut::with_offset(&mut dp, 8, 1, &column)?;
            mpi4rs::scope(|sc| {
                let mut recv = world.recv_init(sc, typed, left, 5)?;
                recv.start()?;
                world.send(&values, right, 5)?;
                recv.wait().map(drop)
            })?;
        }
        let want: Vec<f64> = column_of(left).iter().map(|x| x + 10.0 * round as f64).collect();
        ensure_eq!(p.0, with_column(-4.0, &want));
    }
    Ok(())
}

fn staged_typed_file_read(env: &Environment) -> Result<()> {
    use mpi4rs::{AccessMode, File, Order};
    emulate();
    let world = env.world();
    let me = world.rank();
    // Each rank its own file (on COMM_SELF): a 2 x 2 block of values read into the middle of a
    // 4 x 4 device array through a subarray memory type.
    let path = std::env::temp_dir().join(format!("mpi4rs-device-{}-{me}", std::process::id()));
    let block: Vec<f64> = (0..4).map(|i| (me * 10 + i) as f64).collect();
    let file = File::open(env.self_comm(), &path, AccessMode::RDWR | AccessMode::CREATE)?;
    let result = (|| {
        file.write_at(0, &block)?;
        file.sync()?;
        let inner = Datatype::subarray(&[4, 4], &[2, 2], &[1, 1], Order::C, &Datatype::of::<f64>()?)?;
        for blocking in [true, false] {
            dirty_staging(env, 777.0)?;
            let mut a = Emu(vec![-1.0f64; 16]);
            {
                let mut da = DeviceMut(&mut a);
                let mut typed = TypedMut::new(&mut da, 1, &inner)?;
                let st = if blocking {
                    file.read_at(0, &mut typed)?
                } else {
                    mpi4rs::scope(|sc| file.iread_at(sc, 0, &mut typed)?.wait())?
                };
                ensure_eq!(st.count::<f64>()?, 4);
            }
            let mut want = vec![-1.0f64; 16];
            for (k, &i) in [5usize, 6, 9, 10].iter().enumerate() {
                want[i] = block[k];
            }
            ensure_eq!(a.0, want);
        }
        Ok(())
    })();
    file.close()?;
    let _ = std::fs::remove_file(&path);
    result
}

fn staged_typed_negative_lower_bound(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let f64t = Datatype::of::<f64>()?;
    // Column 1 of a 3 x 4 matrix walked upwards from its last row: items at 0, -32 and -64
    // bytes from the origin (element 9).
    let up = Datatype::vector(3, 1, -4, &f64t)?;
    let reversed = |c: Vec<f64>| c.into_iter().rev().collect::<Vec<_>>();
    // Receive into device memory.
    dirty_staging(env, 777.0)?;
    let mut m = Emu(vec![-1.0f64; 12]);
    let mine = column_of(me);
    mpi4rs::scope(|sc| {
        let req = world.isend(sc, &mine, right, 6)?;
        {
            let mut dm = DeviceMut(&mut m);
            world.recv(&mut TypedMut::with_offset(&mut dm, 72, 1, &up)?, left, 6)?;
        }
        req.wait().map(drop)
    })?;
    ensure_eq!(m.0, with_column(-1.0, &reversed(column_of(left))));
    // Send from device memory, received in message order on the host.
    dirty_staging(env, 555.0)?;
    let src = Emu(with_column(0.5, &reversed(column_of(me))));
    let mut got = vec![0.0f64; 3];
    {
        let dsrc = Device(&src);
        world.sendrecv(&Typed::with_offset(&dsrc, 72, 1, &up)?, right, 7, &mut got, left, 7)?;
    }
    ensure_eq!(got, column_of(left));
    // A layout that lies wholly below its origin (one f64 16 bytes down), on device memory and
    // on host memory.
    let below = Datatype::hindexed(&[1], &[-16], &f64t)?;
    let mut d = Emu(vec![-1.0f64; 4]);
    let mut h = vec![-1.0f64; 4];
    let mine = [me as f64 + 0.25];
    mpi4rs::scope(|sc| {
        let req = world.isend(sc, &mine, right, 8)?;
        {
            let mut dd = DeviceMut(&mut d);
            world.recv(&mut TypedMut::with_offset(&mut dd, 24, 1, &below)?, left, 8)?;
        }
        req.wait().map(drop)
    })?;
    mpi4rs::scope(|sc| {
        let req = world.isend(sc, &mine, right, 9)?;
        world.recv(&mut TypedMut::with_offset(&mut h, 24, 1, &below)?, left, 9)?;
        req.wait().map(drop)
    })?;
    let want = vec![-1.0, left as f64 + 0.25, -1.0, -1.0];
    ensure_eq!(d.0, want);
    ensure_eq!(h, want);
    let src = Emu(vec![0.0, me as f64 + 0.75, 0.0, 0.0]);
    let mut one = [0.0f64];
    {
        let dsrc = Device(&src);
        world.sendrecv(&Typed::with_offset(&dsrc, 24, 1, &below)?, right, 10, &mut one, left, 10)?;
    }
    ensure_eq!(one, [left as f64 + 0.75]);
    Ok(())
}

/// Broadcasts through a derived layout into device memory: blocking (large enough to be cut
/// into pipeline chunks, which must not cut a layout by bytes), nonblocking and persistent.
fn staged_typed_collectives(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    let me = world.rank();
    // Every other f64: 8192 items span 131064 bytes, past MPI4RS_PIPELINE_MIN (64K).
    let every_other = Datatype::resized(0, 16, &Datatype::of::<f64>()?)?;
    const N: usize = 8192;
    let value = |i: usize| if i.is_multiple_of(2) { (i / 2) as f64 + 0.5 } else { -7.0 };
    let root_data: Vec<f64> = (0..2 * N).map(value).collect();
    for (round, form) in ["blocking", "nonblocking", "persistent"].into_iter().enumerate() {
        dirty_staging(env, 777.0)?;
        let mut a = Emu(if me == 0 { root_data.clone() } else { vec![-7.0f64; 2 * N] });
        {
            let mut da = DeviceMut(&mut a);
            let mut typed = TypedMut::new(&mut da, N, &every_other)?;
            match form {
                "blocking" => world.bcast(&mut typed, 0)?,
                "nonblocking" => {
                    mpi4rs::scope(|sc| world.ibcast(sc, &mut typed, 0)?.wait().map(drop))?;
                }
                _ => {
                    mpi4rs::scope(|sc| {
                        let mut req = world.bcast_init(sc, &mut typed, 0)?;
                        req.start()?;
                        req.wait().map(drop)
                    })?;
                }
            }
        }
        ensure!(a.0 == root_data, "{form} (round {round}): the broadcast layout differs from the root's");
    }
    Ok(())
}

/// The value a test writes into hole `i` of a 3 x 4 matrix while a receive into its column 1 is
/// in flight.
fn hole_value(i: usize) -> f64 {
    42.0 + i as f64
}

/// Staging moves only the bytes a layout touches: values written into the holes of a device
/// matrix while a receive into its column is in flight (as device work on another stream may
/// do) survive the receive's completion, nonblocking and persistent. Copying the staged range
/// back whole would put the holes' old values (-9) back.
fn staged_typed_holes_untouched(env: &Environment) -> Result<()> {
    emulate();
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let column = Datatype::vector(3, 1, 4, &Datatype::of::<f64>()?)?;
    for persistent in [false, true] {
        dirty_staging(env, 777.0)?;
        let mut m = EmuRaw::new(vec![-9.0f64; 12]);
        let holes = m.writer();
        let write_holes = || (0..12).filter(|i| i % 4 != 1).for_each(|i| holes.set(i, hole_value(i)));
        let mine = column_of(me);
        {
            let mut dm = DeviceMut(&mut m);
            let typed = TypedMut::with_offset(&mut dm, 8, 1, &column)?;
            mpi4rs::scope(|sc| {
                if persistent {
                    let mut recv = world.recv_init(sc, typed, left, 11)?;
                    recv.start()?;
                    write_holes();
                    world.send(&mine, right, 11)?;
                    recv.wait().map(drop)
                } else {
                    let recv = world.irecv(sc, typed, left, 11)?;
                    write_holes();
                    world.send(&mine, right, 11)?;
                    recv.wait().map(drop)
                }
            })?;
        }
        let mut want: Vec<f64> = (0..12).map(hole_value).collect();
        for (i, x) in column_of(left).into_iter().enumerate() {
            want[i * 4 + 1] = x;
        }
        ensure!(m.to_vec() == want, "persistent {persistent}: got {:?}, want {want:?}", m.to_vec());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Real cudarc buffers through derived layouts, and the proofs that the CPU double of the CUDA
// driver (tests/cuda-double, `bash ci/device-double.sh`) catches what it claims to catch.

/// The device and stream to use on a machine with CUDA (a GPU or the driver double); `None`
/// (and a line saying why) elsewhere.
#[cfg(feature = "cuda")]
fn cuda_stream(
    env: &Environment,
    case: &str,
) -> Result<Option<std::sync::Arc<mpi4rs::device::cudarc::driver::CudaStream>>> {
    let info = match mpi4rs::device::cuda::probe() {
        Ok(info) => info,
        Err(e) => {
            if env.world().rank() == 0 {
                println!("{case}: skipped, no GPU ({e})");
            }
            return Ok(None);
        }
    };
    common::emu::emulate(false);
    let node = env.world().split_shared(0)?;
    Ok(Some(mpi4rs::device::cuda::context(node.rank() % info.devices)?.default_stream()))
}

#[cfg(feature = "cuda")]
fn cudarc_error(e: mpi4rs::device::cudarc::driver::DriverError) -> Error {
    Error::InvalidArgument(format!("cudarc: {e:?}"))
}

/// Whether this process runs on the CPU double of the driver rather than a GPU.
#[cfg(feature = "cuda")]
fn on_driver_double() -> bool {
    mpi4rs::device::cuda::probe().is_ok()
        && mpi4rs::device::cuda::context(0)
            .map(|c| c.name().unwrap_or_default())
            .is_ok_and(|n| n.starts_with("CUDA driver double"))
}

/// The staged-typed cases of this file on real cudarc device memory: receive, irecv, file read
/// through a subarray, negative lower bound.
#[cfg(feature = "cuda")]
fn real_cuda_typed_layouts(env: &Environment) -> Result<()> {
    use mpi4rs::{AccessMode, File, Order};
    let Some(stream) = cuda_stream(env, "real_cuda_typed_layouts")? else { return Ok(()) };
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let f64t = Datatype::of::<f64>()?;
    let column = Datatype::vector(3, 1, 4, &f64t)?;
    // Blocking and nonblocking receives of a column into a device matrix.
    for blocking in [true, false] {
        let mut m = stream.clone_htod(&vec![-1.0f64; 12]).map_err(cudarc_error)?;
        let mine = column_of(me);
        {
            let mut typed = TypedMut::with_offset(&mut m, 8, 1, &column)?;
            mpi4rs::scope(|sc| {
                let req = world.isend(sc, &mine, right, 20)?;
                if blocking {
                    world.recv(&mut typed, left, 20)?;
                } else {
                    mpi4rs::scope(|inner| world.irecv(inner, &mut typed, left, 20)?.wait().map(drop))?;
                }
                req.wait().map(drop)
            })?;
        }
        ensure_eq!(stream.clone_dtoh(&m).map_err(cudarc_error)?, with_column(-1.0, &column_of(left)));
    }
    // Negative lower bound, both directions.
    let up = Datatype::vector(3, 1, -4, &f64t)?;
    let mut m = stream.clone_htod(&vec![-1.0f64; 12]).map_err(cudarc_error)?;
    let src = stream
        .clone_htod(&with_column(0.5, &column_of(me).into_iter().rev().collect::<Vec<_>>()))
        .map_err(cudarc_error)?;
    {
        let mut typed = TypedMut::with_offset(&mut m, 72, 1, &up)?;
        world.sendrecv(&Typed::with_offset(&src, 72, 1, &up)?, right, 21, &mut typed, left, 21)?;
    }
    let want = with_column(-1.0, &column_of(left).into_iter().rev().collect::<Vec<_>>());
    ensure_eq!(stream.clone_dtoh(&m).map_err(cudarc_error)?, want);
    // A file read through a subarray memory type (each rank its own file).
    let path = std::env::temp_dir().join(format!("mpi4rs-device-cuda-{}-{me}", std::process::id()));
    let block: Vec<f64> = (0..4).map(|i| (me * 10 + i) as f64).collect();
    let file = File::open(env.self_comm(), &path, AccessMode::RDWR | AccessMode::CREATE)?;
    let result = (|| {
        file.write_at(0, &block)?;
        file.sync()?;
        let inner = Datatype::subarray(&[4, 4], &[2, 2], &[1, 1], Order::C, &f64t)?;
        let mut a = stream.clone_htod(&vec![-1.0f64; 16]).map_err(cudarc_error)?;
        file.read_at(0, &mut TypedMut::new(&mut a, 1, &inner)?)?;
        let mut want = vec![-1.0f64; 16];
        for (k, &i) in [5usize, 6, 9, 10].iter().enumerate() {
            want[i] = block[k];
        }
        ensure_eq!(stream.clone_dtoh(&a).map_err(cudarc_error)?, want);
        Ok(())
    })();
    file.close()?;
    let _ = std::fs::remove_file(&path);
    result
}

#[cfg(not(feature = "cuda"))]
fn real_cuda_typed_layouts(_env: &Environment) -> Result<()> {
    Ok(())
}

/// [`staged_typed_holes_untouched`] on real cudarc memory: the holes are written on the
/// buffer's stream while the receive is in flight, and keep those values. On the driver double
/// the blocks move one copy each (no kernels); on a GPU the pack kernels move them.
#[cfg(feature = "cuda")]
fn real_cuda_holes_untouched(env: &Environment) -> Result<()> {
    use mpi4rs::device::cuda::{copy_to_device_async, stream_synchronize};
    use mpi4rs::device::StreamRef;
    let Some(stream) = cuda_stream(env, "real_cuda_holes_untouched")? else { return Ok(()) };
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let device = stream.context().ordinal() as i32;
    let sref = StreamRef(stream.cu_stream().cast());
    let column = Datatype::vector(3, 1, 4, &Datatype::of::<f64>()?)?;
    let hole_values: Vec<f64> = (0..12).map(hole_value).collect();
    let mut m = stream.clone_htod(&vec![-9.0f64; 12]).map_err(cudarc_error)?;
    let base = {
        let (p, _guard) = mpi4rs::device::cudarc::driver::DevicePtr::device_ptr(&m, &stream);
        p as usize
    };
    let mine = column_of(me);
    {
        let typed = TypedMut::with_offset(&mut m, 8, 1, &column)?;
        mpi4rs::scope(|sc| {
            let recv = world.irecv(sc, typed, left, 23)?;
            for i in (0..12).filter(|i| i % 4 != 1) {
                // SAFETY: element `i` of the 12 f64 of `m`, a hole of the layout the receive
                // lends; the source is host memory that outlives the synchronisation below.
                unsafe {
                    copy_to_device_async(
                        device,
                        (base + 8 * i) as *mut std::ffi::c_void,
                        hole_values[i..].as_ptr().cast(),
                        8,
                        sref,
                    )?
                };
            }
            stream_synchronize(device, sref)?;
            world.send(&mine, right, 23)?;
            recv.wait().map(drop)
        })?;
    }
    let mut want = hole_values;
    for (i, x) in column_of(left).into_iter().enumerate() {
        want[i * 4 + 1] = x;
    }
    ensure_eq!(stream.clone_dtoh(&m).map_err(cudarc_error)?, want);
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn real_cuda_holes_untouched(_env: &Environment) -> Result<()> {
    Ok(())
}

/// The solver loop our users write, on a real cudarc device grid: Jacobi steps on a 2-D
/// Cartesian grid whose halo is exchanged by a persistent set owning the device grid (subarray
/// faces over device memory, staged without their holes), the residual reduced on device
/// arrays, and a checkpoint half-way written to one file through a subarray file view and a
/// subarray memory type over the device grid, then read back into a fresh device grid. The
/// sweep runs on the host (a GPU program would launch a kernel; the double runs none). The grid
/// must meet the exact answer, cos(πh)^K · sin(πx) sin(πy), at every point.
#[cfg(feature = "cuda")]
fn real_cuda_solver_loop(env: &Environment) -> Result<()> {
    use mpi4rs::{compute_dims, AccessMode, File, Halo, Order, Persistent};
    use std::f64::consts::PI;
    let Some(stream) = cuda_stream(env, "real_cuda_solver_loop")? else { return Ok(()) };
    let world = env.world();
    let n = 13usize;
    let dims = compute_dims(world.size(), &[0, 0])?;
    let cart = world.create_cart(&dims, &[false, false], false)?.expect("every rank is in the grid");
    let split =
        |parts: usize, k: usize| (k * (n / parts) + k.min(n % parts), n / parts + usize::from(k < n % parts));
    let ((x0, lx), (y0, ly)) = (
        split(dims[0] as usize, cart.coords()[0] as usize),
        split(dims[1] as usize, cart.coords()[1] as usize),
    );
    let w = ly + 2;
    let h = 1.0 / (n as f64 + 1.0);
    let u0 = |i: usize, j: usize| (PI * (x0 + i) as f64 * h).sin() * (PI * (y0 + j) as f64 * h).sin();
    let mut host = vec![0.0f64; (lx + 2) * w];
    for i in 1..=lx {
        for j in 1..=ly {
            host[i * w + j] = u0(i, j);
        }
    }
    let halo = Halo::<f64>::new(&cart, &[lx, ly], 1)?;
    let sweep = |u: &[f64]| {
        let mut new = u.to_vec();
        for i in 1..=lx {
            for j in 1..=ly {
                let k = i * w + j;
                new[k] = 0.25 * (u[k - w] + u[k + w] + u[k - 1] + u[k + 1]);
            }
        }
        new
    };
    let steps = |set: &mut Persistent<_>, count: usize| -> Result<()> {
        for _ in 0..count {
            set.start()?;
            set.wait()?;
            let u = stream.clone_dtoh(set.get()?).map_err(cudarc_error)?;
            stream.memcpy_htod(&sweep(&u), set.get_mut()?).map_err(cudarc_error)?;
            // The residual, reduced on device arrays.
            let local: f64 = u.iter().map(|x| x * x).sum();
            let send = stream.clone_htod(&[local]).map_err(cudarc_error)?;
            let mut total = stream.alloc_zeros::<f64>(1).map_err(cudarc_error)?;
            cart.allreduce(&send, &mut total, &Op::SUM)?;
            ensure!(stream.clone_dtoh(&total).map_err(cudarc_error)?[0] > 0.0, "residual reduced");
        }
        Ok(())
    };
    let (first, second) = (4usize, 3usize);
    let grid = stream.clone_htod(&host).map_err(cudarc_error)?;
    let mut set = Persistent::new(grid, |s, g| halo.init(s, mpi4rs::DeviceMut(g)).map(drop))?;
    steps(&mut set, first)?;
    // Checkpoint: every rank writes its interior (the ghost frame left out by the memory type).
    let real = Datatype::of::<f64>()?;
    let in_file = Datatype::subarray(&[n, n], &[lx, ly], &[x0, y0], Order::C, &real)?;
    let in_grid = Datatype::subarray(&[lx + 2, ly + 2], &[lx, ly], &[1, 1], Order::C, &real)?;
    let path = std::env::temp_dir().join(format!("mpi4rs-device-ckpt-{}", std::process::id()));
    let path = cart.bcast_obj_from((cart.rank() == 0).then(|| path.to_string_lossy().into_owned()), 0)?;
    let file = File::open(&cart, &path, AccessMode::WRONLY | AccessMode::CREATE)?;
    file.set_view(0, &real, &in_file)?;
    file.write_at_all(0, &Typed::new(set.get()?, 1, &in_grid)?)?;
    file.close()?;
    drop(set);
    // Restart from the file into a fresh device grid (ghosts zero, as at the start).
    let mut fresh = stream.alloc_zeros::<f64>((lx + 2) * w).map_err(cudarc_error)?;
    let file = File::open(&cart, &path, AccessMode::RDONLY)?;
    file.set_view(0, &real, &in_file)?;
    file.read_exact_at_all(0, &mut TypedMut::new(&mut fresh, 1, &in_grid)?)?;
    file.close()?;
    cart.barrier()?;
    if cart.rank() == 0 {
        File::delete(&path)?;
    }
    let mut set = Persistent::new(fresh, |s, g| halo.init(s, mpi4rs::DeviceMut(g)).map(drop))?;
    steps(&mut set, second)?;
    let u = stream.clone_dtoh(set.get()?).map_err(cudarc_error)?;
    let decay = (PI * h).cos().powi((first + second) as i32);
    for i in 1..=lx {
        for j in 1..=ly {
            let (got, want) = (u[i * w + j], decay * u0(i, j));
            ensure!((got - want).abs() < 1e-12, "point ({}, {}): {got} against {want}", x0 + i, y0 + j);
        }
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn real_cuda_solver_loop(_env: &Environment) -> Result<()> {
    Ok(())
}

/// Managed memory is a memory kind of its own: after its stream is synchronised it goes to MPI
/// directly (this MPI is not CUDA-aware), never staged, for sends, receives, reductions with
/// host operations, and DLPack `kDLCUDAManaged` tensors. A copy into it still in flight on its
/// stream when MPI is called is waited for (the double delays every copy).
#[cfg(feature = "cuda")]
fn real_cuda_managed_memory(env: &Environment) -> Result<()> {
    use mpi4rs::device::{cuda, DeviceBuffer, ManagedBuffer, MemoryKind, StreamRef};
    let Some(stream) = cuda_stream(env, "real_cuda_managed_memory")? else { return Ok(()) };
    let world = env.world();
    let (me, n) = rank_size(env);
    let (right, left) = neighbours(env);
    let device = stream.context().ordinal() as i32;
    const N: usize = 4096;
    let staged_before = transfer::stats().staged;
    let send = ManagedBuffer::<f64>::zeroed(device, N)?;
    ensure_eq!(send.view().memory(), MemoryKind::CudaManaged { device });
    ensure_eq!(cuda::pointer_memory(send.as_device_ptr())?, MemoryKind::CudaManaged { device });
    // The producer: a copy into the managed buffer, queued on its stream and not waited for.
    let values: Vec<f64> = (0..N).map(|i| (i % 7) as f64 + me as f64).collect();
    let values = mpi4rs::device::PinnedBuffer::from_slice(&values)?;
    // SAFETY: `send` holds N f64 and `values` (pinned: the copy is fully asynchronous) too,
    // alive until the end of the case; the router waits for the buffer's stream before MPI
    // reads it.
    unsafe {
        cuda::copy_to_device_async(
            device,
            send.as_device_ptr(),
            values.as_ptr().cast(),
            N * 8,
            StreamRef::DEFAULT,
        )?
    };
    let mut got = ManagedBuffer::<f64>::zeroed(device, N)?;
    world.sendrecv(&send, right, 30, &mut got, left, 30)?;
    ensure_eq!(transfer::last_path(), Some(Path::Direct));
    let want: Vec<f64> = (0..N).map(|i| (i % 7) as f64 + left as f64).collect();
    ensure!(got[..] == want[..], "the managed receive holds other values");
    // A reduction with a user operation runs on the host, on the managed memory itself.
    let mut sum = ManagedBuffer::<f64>::zeroed(device, N)?;
    let add =
        mpi4rs::UserOp::new(true, |a: &[f64], b: &mut [f64]| b.iter_mut().zip(a).for_each(|(y, x)| *y += x))?;
    world.allreduce(&send, &mut sum, &add)?;
    ensure_eq!(transfer::last_path(), Some(Path::Direct));
    let tri = (n * (n - 1) / 2) as f64;
    ensure!(sum.iter().enumerate().all(|(i, &x)| x == (i % 7) as f64 * n as f64 + tri), "user-op sum");
    // A DLPack tensor in managed memory, sent as it is.
    let tensor = {
        let raw = mpi4rs::device::dlpack::export(ManagedBuffer::from_slice(device, &[me as f64 + 0.5; 8])?);
        // SAFETY: a managed tensor just exported by this crate, imported once.
        unsafe { mpi4rs::device::DlpackTensor::from_versioned(raw.into_raw()) }?
    };
    ensure_eq!(tensor.memory(), MemoryKind::CudaManaged { device });
    let mut host = [0.0f64; 8];
    world.sendrecv(&tensor, right, 31, &mut host, left, 31)?;
    ensure_eq!(host, [left as f64 + 0.5; 8]);
    // A persistent send of managed memory, started again after the producer queued new values:
    // every start waits for the producer (the first one did at creation).
    let mut back = vec![0.0f64; N];
    let rounds = (1..=2)
        .map(|round| {
            let values: Vec<f64> = (0..N).map(|i| (i % 5) as f64 + (me * 10 + round) as f64).collect();
            mpi4rs::device::PinnedBuffer::from_slice(&values)
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    mpi4rs::scope(|sc| {
        let mut sending = world.send_init(sc, &send, right, 32)?;
        let mut receiving = world.recv_init(sc, &mut back[..], left, 32)?;
        for values in &rounds {
            // SAFETY: as above; `values` lives until the end of the case.
            unsafe {
                cuda::copy_to_device_async(
                    device,
                    send.as_device_ptr(),
                    values.as_ptr().cast(),
                    N * 8,
                    StreamRef::DEFAULT,
                )?
            };
            receiving.start()?;
            sending.start()?;
            receiving.wait()?;
            sending.wait()?;
        }
        Ok(())
    })?;
    let want: Vec<f64> = (0..N).map(|i| (i % 5) as f64 + (left * 10 + 2) as f64).collect();
    ensure!(back == want, "a restarted persistent send read managed memory before its producer was done");
    ensure!(transfer::stats().staged == staged_before, "managed memory was staged");
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn real_cuda_managed_memory(_env: &Environment) -> Result<()> {
    Ok(())
}

/// A device buffer written on one stream and read on another: with the producer's stream
/// synchronised first, the reader sees the data (on a GPU and on the double). The hidden twin
/// [`driver_double_skipped_sync`] leaves the synchronisation out.
#[cfg(feature = "cuda")]
fn producer_consumer(env: &Environment, synchronise: bool) -> Result<()> {
    use mpi4rs::device::cuda::{copy_to_device_async, copy_to_host_async, stream_synchronize};
    use mpi4rs::device::{PinnedBuffer, StreamRef};
    let case = if synchronise { "driver_double_ordering_with_sync" } else { "driver_double_skipped_sync" };
    let Some(stream) = cuda_stream(env, case)? else { return Ok(()) };
    let ctx = stream.context().clone();
    let device = ctx.ordinal() as i32;
    let (producer, consumer) =
        (ctx.new_stream().map_err(cudarc_error)?, ctx.new_stream().map_err(cudarc_error)?);
    let (p, c) = (StreamRef(producer.cu_stream().cast()), StreamRef(consumer.cu_stream().cast()));
    const N: usize = 1 << 16;
    let d = stream.alloc_zeros::<f64>(N).map_err(cudarc_error)?;
    stream.synchronize().map_err(cudarc_error)?;
    let (ptr, _guard) = mpi4rs::device::cudarc::driver::DevicePtr::device_ptr(&d, &stream);
    let ptr = ptr as *mut std::ffi::c_void;
    let src = PinnedBuffer::from_slice(&vec![1.5f64; N])?;
    let mut dst = PinnedBuffer::<f64>::zeroed(N)?;
    let bytes = N * 8;
    // SAFETY: `d` holds N f64 on `device`, and both pinned buffers N f64; all outlive the
    // copies, which are waited for below.
    unsafe {
        // The producer: clear, then fill (two copies' worth of work on its stream).
        mpi4rs::device::cuda::copy_to_device_async(device, ptr, dst.as_ptr().cast(), bytes, p)?;
        copy_to_device_async(device, ptr, src.as_ptr().cast(), bytes, p)?;
        if synchronise {
            stream_synchronize(device, p)?;
        }
        copy_to_host_async(device, dst.as_mut_ptr().cast(), ptr, bytes, c)?;
    }
    stream_synchronize(device, c)?;
    stream_synchronize(device, p)?;
    let wrong = dst.iter().filter(|&&x| x != 1.5).count();
    ensure!(wrong == 0, "{wrong} of {N} values read on the consumer stream are not the producer's");
    Ok(())
}

#[cfg(feature = "cuda")]
fn driver_double_ordering_with_sync(env: &Environment) -> Result<()> {
    producer_consumer(env, true)
}

#[cfg(feature = "cuda")]
fn driver_double_skipped_sync(env: &Environment) -> Result<()> {
    producer_consumer(env, false)
}

/// A real device buffer handed to MPI as if it were host memory (the emulation mode: the
/// router copies it with `memcpy`, as an MPI that is not CUDA-aware would read a device
/// pointer). On a GPU this reads garbage or faults; on the double it always faults.
#[cfg(feature = "cuda")]
fn driver_double_host_reads_device(env: &Environment) -> Result<()> {
    let Some(stream) = cuda_stream(env, "driver_double_host_reads_device")? else { return Ok(()) };
    let d = stream.clone_htod(&[1.0f64; 16]).map_err(cudarc_error)?;
    common::emu::emulate(true);
    let mut host = [0.0f64; 16];
    env.world().sendrecv(&d, proc_null(), 0, &mut host, proc_null(), 0)?;
    env.world().send(&d, proc_null(), 0)?;
    ensure!(false, "the host read device memory and nothing noticed");
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn driver_double_ordering_with_sync(_env: &Environment) -> Result<()> {
    Ok(())
}
#[cfg(not(feature = "cuda"))]
fn driver_double_skipped_sync(_env: &Environment) -> Result<()> {
    Ok(())
}
#[cfg(not(feature = "cuda"))]
fn driver_double_host_reads_device(_env: &Environment) -> Result<()> {
    Ok(())
}

/// Runs hidden case `case` on the driver double with `env`, expecting it to fail with `words`
/// in its output. Skipped where the double is not the loaded driver.
fn expect_double_failure(
    suite: &Suite,
    case: &str,
    env: &[(&str, &str)],
    words: &str,
) -> std::result::Result<(), String> {
    #[cfg(feature = "cuda")]
    let double = on_driver_double();
    #[cfg(not(feature = "cuda"))]
    let double = false;
    if !double {
        return Err(format!(
            "{}not on the CUDA driver double (bash ci/device-double.sh runs it)",
            common::SKIPPED
        ));
    }
    let out = suite.job(1, Some(case), env);
    let text = out.text();
    if out.success() {
        return Err(format!("{case} passed on the double; it must fail:\n{text}"));
    }
    if !text.contains(words) {
        return Err(format!("{case} failed, but without {words:?}:\n{text}"));
    }
    Ok(())
}

fn driver_double_catches_a_skipped_sync(suite: &Suite) -> std::result::Result<(), String> {
    // A delay per copy makes the unsynchronised reader overtake the producer every time.
    expect_double_failure(
        suite,
        "driver_double_skipped_sync",
        &[("CUDA_DOUBLE_DELAY_US", "20000")],
        "read on the consumer stream are not the producer's",
    )
}

fn driver_double_catches_host_access(suite: &Suite) -> std::result::Result<(), String> {
    expect_double_failure(suite, "driver_double_host_reads_device", &[], "host access to device memory")
}

/// What the library logged (target, level, message) once [`Recorder`] is installed.
static RECORDS: std::sync::Mutex<Vec<(String, log::Level, String)>> = std::sync::Mutex::new(Vec::new());

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        let entry = (r.target().to_string(), r.level(), r.args().to_string());
        RECORDS.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
    }
    fn flush(&self) {}
}

/// With a logger installed, the router reports each device buffer through the `log` facade:
/// target `mpi4rs::transfer`, level debug, the rank first.
fn log_facade_reports_routing(env: &Environment) -> Result<()> {
    emulate();
    let (me, _) = rank_size(env);
    log::set_logger(&Recorder).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    log::set_max_level(log::LevelFilter::Debug);
    let mut out = Emu(vec![0i64; 3]);
    env.world().allreduce(&Device(&Emu(vec![1i64; 3])), &mut DeviceMut(&mut out), &Op::SUM)?;
    log::set_max_level(log::LevelFilter::Off);
    let records = RECORDS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let want = format!("[rank {me}] allreduce: ");
    let routed = records.iter().find(|(_, _, m)| m.starts_with(&want));
    ensure!(routed.is_some(), "no record starting with {want:?} in {records:?}");
    let (target, level, message) = routed.unwrap();
    ensure_eq!(target.as_str(), "mpi4rs::transfer");
    ensure_eq!(*level, log::Level::Debug);
    ensure!(message.contains("Staged"), "{message}");
    Ok(())
}

/// Without a logger, `MPI4RS_LOG=debug` prints the same messages on standard error, with the
/// level, the rank and the target.
fn mpi4rs_log_without_a_logger(suite: &Suite) -> std::result::Result<(), String> {
    let out = suite.job(2, Some("allreduce_every_type_staged"), &[("MPI4RS_LOG", "debug")]);
    let text = out.text();
    for r in 0..2 {
        let want = format!("[mpi4rs debug rank {r}] mpi4rs::transfer: allreduce: ");
        if !out.success() || !text.contains(&want) {
            return Err(format!("expected {want:?} on stderr:\n{text}"));
        }
    }
    Ok(())
}

/// Strided DLPack tensors in real device memory (`kDLCUDA`, cudarc allocations): a receive
/// into a column slice whose holes are written on the stream while it is in flight, and an
/// allreduce into a reversed view. Runs under the CUDA driver double (`bash
/// ci/device-double.sh`) or on a GPU; skipped elsewhere.
#[cfg(feature = "cuda")]
fn real_cuda_strided_tensors(env: &Environment) -> Result<()> {
    use common::strided::{at, expected, fortran, value, REVERSED, SLICE};
    use mpi4rs::device::cuda::{copy_to_device_async, copy_to_host_async, stream_synchronize};
    use mpi4rs::device::dlpack::{export_mut, StridedTensor};
    use mpi4rs::device::StreamRef;
    use mpi4rs::{Strided, StridedMut};
    let info = match mpi4rs::device::cuda::probe() {
        Ok(info) => info,
        Err(e) => {
            if env.world().rank() == 0 {
                println!("real_cuda_strided_tensors: skipped, no GPU ({e})");
            }
            return Ok(());
        }
    };
    common::emu::emulate(false);
    let world = env.world();
    let (right, left) = neighbours(env);
    let (me, n) = rank_size(env);
    let node = world.split_shared(0)?;
    let ctx = mpi4rs::device::cuda::context(node.rank() % info.devices)?;
    let stream = ctx.default_stream();
    let device = ctx.ordinal() as i32;
    let sref = StreamRef(stream.cu_stream().cast());
    let cerr =
        |e: mpi4rs::device::cudarc::driver::DriverError| Error::InvalidArgument(format!("cudarc: {e:?}"));
    let import = |data: &[f64], shape: &[usize], strides: &[isize], offset: usize| -> Result<StridedTensor> {
        let slice = stream.clone_htod(data).map_err(cerr)?;
        let mut e = export_mut(slice);
        e.restride(shape, strides, offset)?;
        // SAFETY: straight from export, handed over once.
        Ok(unsafe { StridedTensor::from_versioned(e.into_raw()) }?.with_stream(sref))
    };
    let read_back = |t: &StridedTensor, len: usize| -> Result<Vec<f64>> {
        let mut host = vec![0.0f64; len];
        // SAFETY: the tensor's allocation holds `len` f64 from its data pointer; `host` lives
        // until the synchronisation.
        unsafe {
            copy_to_host_async(device, host.as_mut_ptr().cast(), t.dl_tensor().data, 8 * len, sref)?;
        }
        stream_synchronize(device, sref)?;
        Ok(host)
    };
    ensure!(import(&[0.0; 4], &[2], &[2], 0)?.memory() == mpi4rs::device::MemoryKind::Cuda { device });

    // Receive into a column slice; holes written on the stream while the receive is in flight.
    let send = import(&fortran(me), &[3, 4], &[1, 3], 0)?;
    let mut slice = import(&vec![-9.0; SLICE.2], &[3, 4], &SLICE.1, SLICE.0)?;
    let data = slice.dl_tensor().data as usize;
    let holes: Vec<f64> = (0..SLICE.2).map(hole_value).collect();
    let in_view: Vec<usize> = (0..3).flat_map(|i| (0..4).map(move |j| at(SLICE, i, j))).collect();
    {
        let view = StridedMut::new(&mut slice)?;
        let sview = Strided::new(&send)?;
        mpi4rs::scope(|sc| {
            let recv = world.irecv(sc, view, left, 6)?;
            for k in (0..SLICE.2).filter(|k| !in_view.contains(k)) {
                // SAFETY: element `k` of the allocation, a hole of the view the receive lends;
                // the source outlives the synchronisation below.
                unsafe {
                    copy_to_device_async(
                        device,
                        (data + 8 * k) as *mut _,
                        holes[k..].as_ptr().cast(),
                        8,
                        sref,
                    )?
                };
            }
            stream_synchronize(device, sref)?;
            world.send(&sview, right, 6)?;
            recv.wait().map(drop)
        })?;
    }
    ensure_eq!(transfer::last_path(), Some(if transfer::cuda_aware() { Path::Direct } else { Path::Staged }));
    let mut want = holes.clone();
    for i in 0..3 {
        for j in 0..4 {
            want[at(SLICE, i, j)] = value(left, i, j);
        }
    }
    ensure_eq!(read_back(&slice, SLICE.2)?, want);

    // Allreduce into a reversed view of device memory.
    let sum = |i: usize, j: usize| (0..n).map(|r| value(r, i, j)).sum::<f64>();
    let mut rev = import(&[-1.0; 12], &[3, 4], &REVERSED.1, REVERSED.0)?;
    world.allreduce(&Strided::new(&send)?, &mut StridedMut::new(&mut rev)?, &Op::SUM)?;
    ensure_eq!(read_back(&rev, 12)?, expected(REVERSED, -1.0, sum));

    // Managed memory (kDLCUDAManaged): synchronised and packed on the host, never staged.
    let managed =
        |data: &[f64], shape: &[usize], strides: &[isize], offset: usize| -> Result<StridedTensor> {
            let mut e = export_mut(mpi4rs::device::ManagedBuffer::from_slice(device, data)?);
            e.restride(shape, strides, offset)?;
            // SAFETY: straight from export, handed over once.
            Ok(unsafe { StridedTensor::from_versioned(e.into_raw()) }?)
        };
    let staged_before = transfer::stats().staged;
    let msend = managed(&fortran(me), &[3, 4], &[1, 3], 0)?;
    let mut mrev = managed(&[-1.0; 12], &[3, 4], &REVERSED.1, REVERSED.0)?;
    ensure_eq!(mrev.memory(), mpi4rs::device::MemoryKind::CudaManaged { device });
    world.allreduce(&Strided::new(&msend)?, &mut StridedMut::new(&mut mrev)?, &Op::SUM)?;
    ensure_eq!(transfer::last_path(), Some(Path::Direct));
    ensure!(transfer::stats().staged == staged_before, "managed memory was staged");
    ensure_eq!(read_back(&mrev, 12)?, expected(REVERSED, -1.0, sum));
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn real_cuda_strided_tensors(_env: &Environment) -> Result<()> {
    Ok(())
}
