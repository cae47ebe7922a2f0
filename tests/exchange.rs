//! Zero-copy exchanges out of and into one buffer (Exchange, NeighborExchange,
//! sendrecv_within), the halo helper in 2-D and 3-D (blocking, nonblocking with interior
//! reads, persistent), persistent sets that own their buffer, and that `mem::forget` on their
//! handles is harmless. Host arrays and emulated device arrays.
mod common;

use common::emu::Emu;
use common::{neighbours, rank_size, Suite};
use mpi4rs::prelude::*;
use mpi4rs::{
    compute_dims, CartComm, Datatype, DeviceMut, Environment, Error, Exchange, Halo, NeighborExchange,
    OwnedBuffer, Persistent, Region, Result, Typed,
};

fn main() {
    Suite::new("exchange")
        .case("exchange_columns_of_one_grid", exchange_columns_of_one_grid)
        .case("overlapping_regions_are_refused", overlapping_regions_are_refused)
        .case("sendrecv_within_one_buffer", sendrecv_within_one_buffer)
        .case("neighbor_exchange_within_one_buffer", neighbor_exchange_within_one_buffer)
        .case("halo_2d_every_form", halo_2d_every_form)
        .case("halo_3d_persistent", halo_3d_persistent)
        .case("halo_on_emulated_device_memory", halo_on_emulated_device_memory)
        .case("persistent_set_rules", persistent_set_rules)
        .case("forgotten_handles_are_harmless", forgotten_handles_are_harmless)
        .case("small_frictions", small_frictions)
        .run();
}

const F64: usize = 8;

/// A 4 x 6 row-major grid of one rank: columns 1..=4 interior, 0 and 5 ghosts.
fn column(rows: usize, width: usize) -> Result<Datatype> {
    Datatype::vector(rows, 1, width as i32, &Datatype::of::<f64>()?)
}

fn exchange_columns_of_one_grid(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let col = column(4, 6)?;
    // Last interior column (4) goes right and arrives in the right's ghost column 0; first
    // interior column (1) goes left and arrives in the left's ghost column 5.
    let x = Exchange::new()
        .recv(Region::new(&col, 0, 1), left, 0)?
        .recv(Region::new(&col, 5 * F64, 1), right, 1)?
        .send(Region::new(&col, 4 * F64, 1), right, 0)?
        .send(Region::new(&col, F64, 1), left, 1)?;
    ensure_eq!(x.len(), 4);
    ensure_eq!(x.min_bytes(), 24 * F64);
    let fill = |v: &mut Vec<f64>, r: i32| {
        for (k, x) in v.iter_mut().enumerate() {
            *x = (r * 100) as f64 + k as f64;
        }
    };
    let check = |g: &[f64], round: i32| -> Result<()> {
        for row in 0..4 {
            ensure_eq!(g[row * 6], (left * 100 + round) as f64 + (row * 6 + 4) as f64);
            ensure_eq!(g[row * 6 + 5], (right * 100 + round) as f64 + (row * 6 + 1) as f64);
        }
        Ok(())
    };
    // Blocking.
    let mut grid = vec![0.0; 24];
    fill(&mut grid, me);
    x.run(world, &mut grid)?;
    check(&grid, 0)?;
    // Nonblocking, in a scope.
    fill(&mut grid, me);
    mpi4rs::scope(|s| x.start(world, s, &mut grid)?.wait())?;
    check(&grid, 0)?;
    // Persistent, owning the grid; the grid is changed between runs.
    let mut set = Persistent::new(vec![0.0f64; 24], |s, g| x.init(world, s, g).map(drop))?;
    ensure_eq!(set.len(), 4);
    for round in 0..3 {
        let g = set.get_mut()?;
        fill(g, me);
        for v in g.iter_mut() {
            *v += round as f64;
        }
        set.start()?;
        set.wait()?;
        check(set.get()?, round)?;
    }
    // A buffer too short for the plan is an error before MPI.
    let mut short = vec![0.0; 20];
    ensure_err!(x.run(world, &mut short), Error::BufferLength { .. });
    // A bool buffer cannot receive f64 regions.
    let mut flags = vec![false; 24 * 8];
    ensure_err!(x.run(world, &mut flags), Error::InvalidArgument(_));
    Ok(())
}

fn overlapping_regions_are_refused(_env: &Environment) -> Result<()> {
    let col = column(4, 6)?;
    let row = Datatype::contiguous(6, &Datatype::of::<f64>()?)?;
    // A receive into a column that is also sent.
    let e = ensure_err!(
        Exchange::new().send(Region::new(&col, F64, 1), 0, 0)?.recv(Region::new(&col, F64, 1), 0, 0),
        Error::InvalidArgument(_)
    );
    ensure!(e.to_string().contains("overlap"), "{e}");
    // Row 0 and column 0 share one element (byte 0..8).
    let e = ensure_err!(
        Exchange::new().recv(Region::new(&row, 0, 1), 0, 0)?.recv(Region::new(&col, 0, 1), 0, 1),
        Error::InvalidArgument(_)
    );
    ensure!(e.to_string().contains("bytes 0..8"), "{e}");
    // Two sends may share bytes; disjoint columns are fine; a strided column next to another
    // interleaves without overlapping.
    Exchange::new().send(Region::new(&col, 0, 1), 0, 0)?.send(Region::new(&row, 0, 1), 0, 1)?;
    Exchange::new().recv(Region::new(&col, 0, 1), 0, 0)?.recv(Region::new(&col, F64, 1), 0, 1)?;
    // A receive whose items overlap each other (count 2 of a type longer than its extent).
    let long = Datatype::resized(0, 8, &Datatype::contiguous(2, &Datatype::of::<f64>()?)?)?;
    ensure_err!(Exchange::new().recv(Region::new(&long, 0, 2), 0, 0), Error::InvalidArgument(_));
    // One item that repeats element 0 and skips element 1: as many bytes of data as its true
    // extent, yet it writes element 0 twice.
    let twice = Datatype::indexed_block(1, &[0, 0, 2], &Datatype::of::<f64>()?)?;
    ensure_err!(Exchange::new().recv(Region::new(&twice, 0, 1), 0, 0), Error::InvalidArgument(_));
    // The neighbour form checks the same.
    ensure_err!(
        NeighborExchange::new(&[Region::new(&col, F64, 1)], &[Region::new(&row, 0, 1)]),
        Error::InvalidArgument(_)
    );
    Ok(())
}

fn sendrecv_within_one_buffer(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let col = column(4, 6)?;
    let mut grid: Vec<f64> = (0..24).map(|k| (me * 100 + k) as f64).collect();
    world.sendrecv_within(
        &mut grid,
        Region::new(&col, 4 * F64, 1),
        right,
        3,
        Region::new(&col, 0, 1),
        left,
        3,
    )?;
    for row in 0..4 {
        ensure_eq!(grid[row * 6], (left * 100) as f64 + (row * 6 + 4) as f64);
        ensure_eq!(grid[row * 6 + 4], (me * 100) as f64 + (row * 6 + 4) as f64);
    }
    let e = ensure_err!(
        world.sendrecv_within(&mut grid, Region::new(&col, 0, 1), right, 3, Region::new(&col, 0, 1), left, 3),
        Error::InvalidArgument(_)
    );
    ensure!(e.to_string().contains("overlap"), "{e}");
    Ok(())
}

/// A ring, periodic from 3 ranks on (with 1 or 2, a process would be its own neighbour or
/// have one neighbour twice, where MPI libraries pair a neighbourhood collective's blocks
/// differently).
fn ring(env: &Environment) -> Result<CartComm> {
    let world = env.world();
    world
        .create_cart(&[world.size()], &[world.size() >= 3], false)?
        .ok_or(Error::InvalidArgument("not in the ring".into()))
}

fn neighbor_exchange_within_one_buffer(env: &Environment) -> Result<()> {
    let cart = ring(env)?;
    let me = cart.rank();
    let (left, right) = (cart.sources()[0], cart.sources()[1]);
    let f = Datatype::of::<f64>()?;
    // [ghost_left, a, b, ghost_right]: a goes left, b goes right.
    let plan = NeighborExchange::new(
        &[Region::new(&f, F64, 1), Region::new(&f, 2 * F64, 1)],
        &[Region::new(&f, 0, 1), Region::new(&f, 3 * F64, 1)],
    )?;
    ensure_eq!(plan.min_bytes(), 4 * F64);
    let line = |r: i32| [0.0, (10 * r) as f64, (10 * r + 1) as f64, 0.0];
    let from = |r: i32, v: i32| if r < 0 { 0.0 } else { v as f64 };
    let want = [from(left, 10 * left + 1), (10 * me) as f64, (10 * me + 1) as f64, from(right, 10 * right)];
    let mut a = line(me);
    plan.run(&cart, &mut a)?;
    ensure_eq!(a, want);
    let mut b = line(me);
    mpi4rs::scope(|s| plan.start(&cart, s, &mut b)?.wait().map(drop))?;
    ensure_eq!(b, want);
    if mpi4rs::has_persistent_collectives() {
        let mut set = Persistent::new(line(me).to_vec(), |s, g| plan.init(&cart, s, g).map(drop))?;
        for _ in 0..3 {
            set.get_mut()?.copy_from_slice(&line(me));
            set.start()?;
            set.wait()?;
            ensure_eq!(set.get()?[..], want[..]);
        }
    }
    // The degrees must match the regions.
    let one = NeighborExchange::new(&[Region::new(&f, F64, 1)], &[Region::new(&f, 0, 1)])?;
    let mut c = line(me);
    ensure_err!(one.run(&cart, &mut c), Error::BufferLength { .. });
    Ok(())
}

/// A global value per grid point, to check ghosts against.
fn value(global: &[usize]) -> f64 {
    global.iter().fold(0.0, |acc, &g| acc * 1000.0 + g as f64)
}

/// A periodic Cartesian grid of `nd` dimensions, a block of `interior` points per rank, and a
/// function that fills a block with `value` of its global points and one that checks ghosts.
struct Grid {
    cart: CartComm,
    interior: Vec<usize>,
    global: Vec<usize>,
    coords: Vec<usize>,
}

impl Grid {
    fn new(env: &Environment, interior: &[usize]) -> Result<Grid> {
        let world = env.world();
        let dims = compute_dims(world.size(), &vec![0; interior.len()])?;
        let cart = world
            .create_cart(&dims, &vec![true; interior.len()], false)?
            .ok_or(Error::InvalidArgument("".into()))?;
        let coords = cart.coords().iter().map(|&c| c as usize).collect();
        let global = interior.iter().zip(&dims).map(|(&n, &d)| n * d as usize).collect();
        Ok(Grid { cart, interior: interior.to_vec(), global, coords })
    }

    /// The global coordinate of local coordinate `i` (ghosts counted) in dimension `d`.
    fn global_of(&self, d: usize, i: usize, g: usize) -> usize {
        let n = self.global[d];
        (self.coords[d] * self.interior[d] + n + i - g) % n
    }

    fn points(&self, g: usize) -> Vec<Vec<usize>> {
        let shape: Vec<usize> = self.interior.iter().map(|n| n + 2 * g).collect();
        let mut out = vec![vec![]];
        for &n in &shape {
            out = out.into_iter().flat_map(|p| (0..n).map(move |i| [p.clone(), vec![i]].concat())).collect();
        }
        out
    }

    fn fill(&self, halo: &Halo<'_, f64>, u: &mut [f64]) {
        let g = halo.ghost();
        for p in self.points(g) {
            let interior = p.iter().zip(&self.interior).all(|(&i, &n)| i >= g && i < n + g);
            let gl: Vec<usize> = p.iter().enumerate().map(|(d, &i)| self.global_of(d, i, g)).collect();
            u[halo.index(&p)] = if interior { value(&gl) } else { -1.0 };
        }
    }

    /// Every face ghost holds its global point's value; edge and corner ghosts are untouched.
    fn check(&self, halo: &Halo<'_, f64>, u: &[f64]) -> Result<()> {
        let g = halo.ghost();
        for p in self.points(g) {
            let outside = p.iter().zip(&self.interior).filter(|(&i, &n)| i < g || i >= n + g).count();
            let gl: Vec<usize> = p.iter().enumerate().map(|(d, &i)| self.global_of(d, i, g)).collect();
            let want = if outside <= 1 { value(&gl) } else { -1.0 };
            ensure!(u[halo.index(&p)] == want, "point {p:?}: {} != {want}", u[halo.index(&p)]);
        }
        Ok(())
    }
}

fn halo_2d_every_form(env: &Environment) -> Result<()> {
    let grid = Grid::new(env, &[5, 4])?;
    let halo = Halo::<f64>::new(&grid.cart, &[5, 4], 2)?;
    ensure_eq!(halo.shape(), &[9, 8][..]);
    let mut u = vec![0.0; halo.len()];
    grid.fill(&halo, &mut u);
    halo.exchange(&mut u)?;
    grid.check(&halo, &u)?;
    // Nonblocking: interior lines are readable while the exchange runs, ghosts are not lines.
    grid.fill(&halo, &mut u);
    let snapshot = u.clone();
    mpi4rs::scope(|s| {
        let f = halo.start(s, &mut u)?;
        for i in 2..7 {
            let line = f.line(&[i])?;
            ensure_eq!(line, &snapshot[halo.index(&[i, 2])..halo.index(&[i, 6])]);
        }
        ensure_err!(f.line(&[1]), Error::InvalidArgument(_));
        ensure_err!(f.line(&[2, 2]), Error::InvalidArgument(_));
        f.wait()
    })?;
    grid.check(&halo, &u)?;
    // Persistent, double-buffered: two sets, swapped each step.
    let (mut a, mut b) = (halo.persistent(u.clone())?, halo.persistent(u)?);
    for _ in 0..4 {
        grid.fill(&halo, a.get_mut()?);
        a.start()?;
        ensure!(a.is_active());
        ensure_eq!(a.line(&[3])?.len(), 4);
        ensure_err!(a.get(), Error::InvalidArgument(_));
        b.get_mut()?.fill(0.5);
        a.wait()?;
        grid.check(&halo, a.get()?)?;
        std::mem::swap(&mut a, &mut b);
    }
    // A grid of the wrong length is an error.
    let mut wrong = vec![0.0; 10];
    ensure_err!(halo.exchange(&mut wrong), Error::BufferLength { .. });
    // Too few interior points for the ghosts, a wrong dimension count.
    ensure_err!(Halo::<f64>::new(&grid.cart, &[1, 4], 2), Error::InvalidArgument(_));
    ensure_err!(Halo::<f64>::new(&grid.cart, &[4], 1), Error::InvalidDims(_));
    Ok(())
}

fn halo_3d_persistent(env: &Environment) -> Result<()> {
    let grid = Grid::new(env, &[3, 4, 2])?;
    let halo = Halo::<f64>::new(&grid.cart, &[3, 4, 2], 1)?;
    let mut u = vec![0.0; halo.len()];
    grid.fill(&halo, &mut u);
    halo.exchange(&mut u)?;
    grid.check(&halo, &u)?;
    let mut set = halo.persistent(vec![0.0; halo.len()])?;
    for _ in 0..2 {
        grid.fill(&halo, set.get_mut()?);
        set.start()?;
        ensure_eq!(set.line(&[1, 2])?.len(), 2);
        set.wait()?;
        grid.check(&halo, set.get()?)?;
    }
    let back = set.into_inner()?;
    ensure_eq!(back.len(), halo.len());
    Ok(())
}

// SAFETY: an Emu's elements live in its Vec's heap block, which does not move with the Emu;
// the identity is the Vec's.
unsafe impl OwnedBuffer for Emu<f64> {
    type Identity = (usize, usize);
    fn identity(&self) -> (usize, usize) {
        self.0.identity()
    }
}

fn halo_on_emulated_device_memory(env: &Environment) -> Result<()> {
    let grid = Grid::new(env, &[4, 3])?;
    let halo = Halo::<f64>::new(&grid.cart, &[4, 3], 1)?;
    let mut host = vec![0.0; halo.len()];
    grid.fill(&halo, &mut host);
    common::emu::emulate(true);
    let result = (|| -> Result<()> {
        let mut dev = Emu(host.clone());
        halo.exchange(&mut DeviceMut(&mut dev))?;
        grid.check(&halo, &dev.0)?;
        let mut dev = Emu(host.clone());
        mpi4rs::scope(|s| {
            let f = halo.start(s, DeviceMut(&mut dev))?;
            // Device memory cannot be read on the host while it travels.
            ensure_err!(f.line(&[1]), Error::UnsupportedBuffer(_));
            f.wait()
        })?;
        grid.check(&halo, &dev.0)?;
        let mut set = Persistent::new(Emu(host.clone()), |s, g| halo.init(s, DeviceMut(g)).map(drop))?;
        for _ in 0..2 {
            set.get_mut()?.0.copy_from_slice(&host);
            set.start()?;
            set.wait()?;
            grid.check(&halo, &set.get()?.0)?;
        }
        Ok(())
    })();
    common::emu::emulate(false);
    result
}

fn persistent_set_rules(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let mut ring = Persistent::new(vec![0.0f64; 8], |s, buf| {
        let (out, inp) = buf.split_at_mut(4);
        world.recv_init(s, inp, left, 0)?;
        world.send_init(s, &*out, right, 0)?;
        Ok(())
    })?;
    ring.get_mut()?[..4].fill(me as f64);
    ring.start()?;
    ensure_err!(ring.start(), Error::InvalidArgument(_));
    ensure_err!(ring.get_mut(), Error::InvalidArgument(_));
    ring.wait()?;
    ensure_eq!(ring.get()?[4..], [left as f64; 4]);
    // Replacing the buffer makes the next start an error (MPI would use the old memory).
    let old = std::mem::replace(ring.get_mut()?, vec![0.0; 8]);
    ensure_err!(ring.start(), Error::InvalidArgument(_));
    *ring.get_mut()? = old;
    ring.start()?;
    ring.wait()?;
    // Growing it past its capacity reallocates: refused as well (unless the allocator grew
    // it in place, when the memory is still the set's).
    let before = ring.get()?.as_ptr() as usize;
    let v = ring.get_mut()?;
    v.reserve_exact(v.capacity() * 2 + 4096);
    if ring.get()?.as_ptr() as usize != before {
        ensure_err!(ring.start(), Error::InvalidArgument(_));
    }
    let back = ring.into_inner()?;
    ensure_eq!(back.len(), 8);
    // A failing setup frees what it made and reports the error.
    let e = ensure_err!(
        Persistent::new(vec![0u8; 4], |s, buf| {
            let (a, b) = buf.split_at_mut(2);
            world.recv_init(s, a, left, 0)?;
            world.send_init(s, &*b, world.size(), 0).map(drop)
        }),
        Error::InvalidRank { .. }
    );
    ensure!(e.to_string().contains("invalid rank"), "{e}");
    Ok(())
}

fn forgotten_handles_are_harmless(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    // An exchange in flight, forgotten: the scope completes it before the grid is free again.
    let col = column(4, 6)?;
    let x = Exchange::new().recv(Region::new(&col, 0, 1), left, 9)?.send(
        Region::new(&col, 4 * F64, 1),
        right,
        9,
    )?;
    let mut grid = vec![me as f64; 24];
    mpi4rs::scope(|s| {
        let set = x.start(world, s, &mut grid)?;
        std::mem::forget(set);
        Ok(())
    })?;
    ensure_eq!(grid[0], left as f64);
    ensure_eq!(grid[18], left as f64);
    // A halo in flight, forgotten, likewise.
    let g = Grid::new(env, &[3, 3])?;
    let halo = Halo::<f64>::new(&g.cart, &[3, 3], 1)?;
    let mut u = vec![0.0; halo.len()];
    g.fill(&halo, &mut u);
    mpi4rs::scope(|s| {
        std::mem::forget(halo.start(s, &mut u)?);
        Ok(())
    })?;
    g.check(&halo, &u)?;
    // A running persistent set, forgotten: its buffer is leaked with it, never freed while
    // MPI writes it; the partner's set completes normally.
    let mut set = halo.persistent(u.clone())?;
    set.start()?;
    set.wait()?;
    g.check(&halo, set.get()?)?;
    set.start()?;
    std::mem::forget(set);
    let mut other = halo.persistent(u)?;
    other.start()?;
    other.wait()?;
    // Give every rank's forgotten set time to receive before anyone finalises.
    world.barrier()?;
    Ok(())
}

fn small_frictions(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let (right, left) = neighbours(env);
    // A scalar reduction returning its value.
    ensure_eq!(world.allreduce_value(me + 1, &Op::SUM)?, n * (n + 1) / 2);
    ensure_eq!(world.allreduce_value(me as f64, &Op::MAX)?, (n - 1) as f64);
    // A root-only object broadcast returning the value everywhere.
    let got: Vec<String> = world.bcast_obj_from((me == 0).then(|| vec!["a".to_string(), "b".into()]), 0)?;
    ensure_eq!(got, vec!["a".to_string(), "b".into()]);
    // The root passing nothing is the same error on every rank.
    ensure_err!(world.bcast_obj_from::<u32>(None, 0), Error::InvalidArgument(_));
    // Views made inline in nonblocking calls.
    let col = column(4, 6)?;
    let grid = vec![me as f64; 24];
    let mut got = [0.0f64; 4];
    mpi4rs::scope(|s| {
        let r = world.irecv(s, &mut got, left, 4)?;
        let t = world.isend(s, Typed::with_offset(&grid, 4 * F64, 1, &col)?, right, 4)?;
        mpi4rs::wait_all(&mut [r, t]).map(drop)
    })?;
    ensure_eq!(got, [left as f64; 4]);
    Ok(())
}
