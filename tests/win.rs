//! One-sided communication: every way to make a window, every synchronisation mode and every
//! operation with known answers at 1-4 ranks, device origin buffers (emulated, as in
//! `tests/device.rs`), the `sync` building blocks, and the errors.
mod common;

use common::emu::Emu;
use common::{neighbours, rank_size, Suite};
use mpi4rs::prelude::*;
use mpi4rs::sync::{Counter, Mutex, Sequential};
use mpi4rs::transfer::{self, Path};
use mpi4rs::win::{Assert, Flavor, LockType, Target, Win};
use mpi4rs::{Datatype, Device, DeviceMut, Environment, Error, ErrorClass, Result};

fn main() {
    Suite::new("win")
        .case("create_fence_put_get", create_fence_put_get)
        .case("allocate_lock_exclusive_and_shared", allocate_lock_exclusive_and_shared)
        .case("lock_all_flushes_and_requests", lock_all_flushes_and_requests)
        .case("pscw_ring", pscw_ring)
        .case("atomics", atomics)
        .case("target_triple", target_triple)
        .case("shared_memory_window", shared_memory_window)
        .case("dynamic_window", dynamic_window)
        .case("attributes_name_info", attributes_name_info)
        .case("errors", errors)
        .case("device_origin_buffers", device_origin_buffers)
        .case("window_over_device_memory_refused", window_over_device_memory_refused)
        .case("sync_counter", sync_counter)
        .case("sync_mutex", sync_mutex)
        .case("sync_sequential", sync_sequential)
        .hidden("window_over_device_memory_cuda_aware", window_over_device_memory_cuda_aware)
        .check("window_over_device_memory_with_cuda_aware_mpi", cuda_aware_window)
        .check("create_and_dynamic_with_osc_ucx", create_and_dynamic_with_osc_ucx)
        .run();
}

/// `Win::create` and `Win::create_dynamic` need an Open MPI one-sided component: osc/rdma
/// needs the RDMA transports mpi4rs switches off, osc/ucx must be asked for: without it the
/// creation is a clear
/// `Error::Unsupported` (checked here), and the `create_and_dynamic_with_osc_ucx` check runs these
/// cases again with Open MPI's osc/ucx. MPICH runs them everywhere.
fn supported<T>(created: Result<T>) -> Result<Option<T>> {
    let required = mpi4rs::device::env::bool_var("MPI4RS_WIN_REQUIRE_CREATE")?.unwrap_or(false);
    match created {
        Err(Error::Unsupported(msg)) if msg.contains("OMPI_MCA_osc=ucx,sm") && !required => Ok(None),
        other => other.map(Some),
    }
}

/// Emulated device memory that a window can own.
struct OwnedEmu<T>(Emu<T>);

// SAFETY: the memory is the Vec's heap block, which does not move with the value; it changes
// only through `&mut`, which changes the identity.
unsafe impl<T: mpi4rs::Element> mpi4rs::OwnedBuffer for OwnedEmu<T> {
    type Identity = (usize, usize);
    fn identity(&self) -> (usize, usize) {
        (self.0 .0.as_ptr() as usize, self.0 .0.len())
    }
}

// SAFETY: the spec of a DeviceMut over the Emu, which describes exactly its elements.
unsafe impl<T: mpi4rs::Element> mpi4rs::BufferMut for OwnedEmu<T> {
    fn spec_mut(&mut self) -> Result<mpi4rs::buffer::SpecMut> {
        DeviceMut(&mut self.0).spec_mut()
    }
}

fn create_fence_put_get(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let (right, left) = neighbours(env);
    // Each rank exposes n slots; every rank writes its rank + 100 into slot `me` of its right
    // neighbour, and reads slot `left` of its left neighbour's initial data.
    let mem: Vec<i64> = (0..n as i64).map(|i| me as i64 * 1000 + i).collect();
    let mut got = [0i64; 1];
    let Some(win) = supported(Win::create(mem, 8, &[], world))? else { return Ok(()) };
    ensure_eq!(win.flavor(), Flavor::Create);
    ensure_eq!(win.create_flavor()?, Flavor::Create);
    let mine = [me as i64 + 100];
    mpi4rs::scope(|s| {
        let first = win.fence(s, Assert::NONE)?;
        first.get(&mut got, left, left as usize)?;
        // Gets first, then puts in the next epoch, so that they do not conflict.
        let second = first.fence(Assert::NONE)?;
        second.put(&mine, right, me as usize)?;
        second.end()
    })?;
    let mem = win.into_inner()?;
    ensure_eq!(got[0], left as i64 * 1000 + left as i64);
    let want: Vec<i64> = (0..n as i64)
        .map(|i| if i == left as i64 { left as i64 + 100 } else { me as i64 * 1000 + i })
        .collect();
    ensure_eq!(mem, want);
    Ok(())
}

fn allocate_lock_exclusive_and_shared(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let win = Win::allocate(if me == 0 { 16 } else { 0 }, 8, &[], world)?;
    // Exclusive locks: a read-modify-write from every rank, serialised by the lock.
    for _ in 0..3 {
        mpi4rs::scope(|s| {
            let e = win.lock(s, 0, LockType::Exclusive, Assert::NONE)?;
            let mut v = [0u64; 2];
            mpi4rs::scope(|t| {
                let r = e.rget(t, &mut v, 0, 0)?;
                r.wait().map(drop)
            })?;
            v[0] += 1;
            v[1] += me as u64;
            e.put_now(&v, 0, 0)?;
            e.end()
        })?;
    }
    world.barrier()?;
    let mut total = [0u64; 2];
    mpi4rs::scope(|s| {
        let e = win.lock(s, 0, LockType::Shared, Assert::NONE)?;
        e.get(&mut total, 0, 0)?;
        e.end()
    })?;
    let sum_ranks: u64 = (0..n as u64).sum();
    ensure_eq!(total, [3 * n as u64, 3 * sum_ranks]);
    // Shared locks and accumulate: every rank adds its rank.
    world.barrier()?;
    let add = [me as u64, 1];
    mpi4rs::scope(|s| {
        let e = win.lock(s, 0, LockType::Shared, Assert::NONE)?;
        e.accumulate(&add, 0, 0, &Op::SUM)?;
        e.end()
    })?;
    world.barrier()?;
    if me == 0 {
        let m = win.local_access()?;
        ensure_eq!(m.as_slice::<u64>()?, [3 * n as u64 + sum_ranks, 3 * sum_ranks + n as u64]);
    }
    world.barrier()?;
    Ok(())
}

fn lock_all_flushes_and_requests(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let (right, left) = neighbours(env);
    let win = Win::allocate(4 * 4, 4, &[], world)?;
    let src = [me * 10, me * 10 + 1, me * 10 + 2, me * 10 + 3];
    mpi4rs::scope(|s| {
        let e = win.lock_all(s, Assert::NONE)?;
        e.put(&src, right, 0)?;
        e.flush(right)?;
        e.flush_all()?;
        e.flush_local(right)?;
        e.flush_local_all()?;
        e.sync()?;
        e.end()
    })?;
    world.barrier()?;
    // Request forms: rget of the left neighbour's window (which holds left-left's data).
    let ll = (left + n - 1) % n;
    let mut got = [0i32; 4];
    let mut fetched = [0i32; 4];
    let ones = [1i32; 4];
    mpi4rs::scope(|s| {
        let e = win.lock_all(s, Assert::NONE)?;
        mpi4rs::scope(|t| {
            e.rget(t, &mut got, left, 0)?.wait()?;
            // rget_accumulate with NO_OP fetches; raccumulate with SUM adds 1 to each.
            let mut reqs = vec![e.raccumulate(t, &ones, left, 0, &Op::SUM)?];
            mpi4rs::wait_all(&mut reqs)?;
            drop(reqs);
            e.flush(left)?;
            e.rget_accumulate(t, &[0i32; 4], &mut fetched, left, 0, &Op::NO_OP)?.wait().map(drop)
        })?;
        e.end()
    })?;
    ensure_eq!(got, [ll * 10, ll * 10 + 1, ll * 10 + 2, ll * 10 + 3]);
    // Only this rank added 1 to its left neighbour's window before fetching it.
    ensure_eq!(fetched, [ll * 10 + 1, ll * 10 + 2, ll * 10 + 3, ll * 10 + 4]);
    // Everyone is done reading before each rank overwrites its own window.
    world.barrier()?;
    mpi4rs::scope(|s| {
        let e = win.lock_all(s, Assert::NONE)?;
        mpi4rs::scope(|t| e.rput(t, &src, me, 0)?.wait().map(drop))?;
        e.end()
    })?;
    let m = win.local_access()?;
    ensure_eq!(m.as_slice::<i32>()?, src);
    Ok(())
}

/// PSCW in a ring. MPICH 4.0.2 loses the puts of PSCW epochs on windows from `Win::allocate`
/// (its shared-memory windows; reproduced in plain C), so the window is made with
/// `Win::create` where the library supports it (MPICH; Open MPI with osc/ucx) and with
/// `Win::allocate` otherwise (Open MPI's osc/sm).
fn pscw_ring(env: &Environment) -> Result<()> {
    let created = supported(Win::create(vec![0u64; 1], 8, &[], env.world()))?;
    match created {
        Some(win) => pscw_rounds(env, &win),
        None => pscw_rounds(env, &Win::allocate(8, 8, &[], env.world())?),
    }
}

fn pscw_rounds<M>(env: &Environment, win: &Win<M>) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let group = world.group()?;
    let (access, exposure) = (group.incl(&[right])?, group.incl(&[left])?);
    for round in 0..3u64 {
        let mut exp = win.post(&exposure, Assert::NONE)?;
        let v = [me as u64 * 100 + round];
        mpi4rs::scope(|s| {
            let e = win.start(s, &access, Assert::NONE)?;
            e.put(&v, right, 0)?;
            e.end()
        })?;
        if round == 1 {
            while !exp.test()? {}
        } else {
            exp.wait()?;
        }
        let m = win.local_access()?;
        ensure_eq!(m.as_slice::<u64>()?[0], left as u64 * 100 + round);
    }
    Ok(())
}

fn atomics(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // Slots on rank 0: [fetch-and-add counter, compare-and-swap owner, max, f64 sum]
    let win = Win::allocate(if me == 0 { 32 } else { 0 }, 8, &[], world)?;
    if me == 0 {
        let mut m = win.local_access()?;
        m.as_mut_slice::<i64>()?[1] = -1;
    }
    world.barrier()?;
    let (ticket, owner_before) = {
        let (one, seven, half) = ([1i64], [me as i64 * 7], [0.5f64]);
        let (mut t, mut old) = ([0i64], [0.0f64]);
        let owner = mpi4rs::scope(|s| {
            let e = win.lock(s, 0, LockType::Shared, Assert::NONE)?;
            e.fetch_and_op(&one, &mut t, 0, 0, &Op::SUM)?;
            e.flush(0)?;
            let owner = e.compare_and_swap_value(me as i64, -1, 0, 1)?;
            e.accumulate(&seven, 0, 2usize, &Op::MAX)?;
            e.get_accumulate(&half, &mut old, 0, 3usize, &Op::SUM)?;
            e.end()?;
            Ok(owner)
        })?;
        (t[0], owner)
    };
    ensure!((0..n as i64).contains(&ticket));
    // Exactly one rank saw -1 (and became the owner); the others saw the owner's rank.
    let mut all = vec![0i64; 2 * n as usize];
    world.allgather(&[ticket, owner_before], &mut all)?;
    let mut tickets: Vec<i64> = all.iter().step_by(2).copied().collect();
    tickets.sort();
    ensure_eq!(tickets, (0..n as i64).collect::<Vec<_>>());
    let owners: Vec<i64> = all.iter().skip(1).step_by(2).copied().collect();
    ensure_eq!(owners.iter().filter(|&&o| o == -1).count(), 1);
    let winner = all.chunks(2).position(|c| c[1] == -1).unwrap() as i64;
    ensure!(owners.iter().all(|&o| o == -1 || o == winner));
    world.barrier()?;
    if me == 0 {
        let m = win.local_access()?;
        let s = m.as_slice::<i64>()?;
        ensure_eq!(&s[..3], &[n as i64, winner, (n as i64 - 1) * 7]);
        ensure_eq!(m.as_slice::<f64>()?[3], 0.5 * n as f64);
    }
    world.barrier()?;
    Ok(())
}

fn target_triple(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // mpi4py's tutorial: rank 0 holds n+1 floats 0, 1, …; each rank reads (me, 2, FLOAT).
    let win = Win::allocate(if me == 0 { (n as usize + 1) * 4 } else { 0 }, 4, &[], world)?;
    if me == 0 {
        let mut m = win.local_access()?;
        for (i, x) in m.as_mut_slice::<f32>()?.iter_mut().enumerate() {
            *x = i as f32;
        }
    }
    world.barrier()?;
    let float = Datatype::of::<f32>()?;
    let mut buf = [0.0f32; 2];
    mpi4rs::scope(|s| {
        let e = win.lock(s, 0, LockType::Shared, Assert::NONE)?;
        e.get(&mut buf, 0, Target::new(me as usize, 2, &float))?;
        e.end()
    })?;
    ensure_eq!(buf, [me as f32, me as f32 + 1.0]);
    world.barrier()?;
    // A strided target: every other float of a window of 8, written from a contiguous origin.
    let win = Win::allocate(8 * 4, 4, &[], world)?;
    let every_other = Datatype::vector(4, 1, 2, &float)?;
    let (right, _) = neighbours(env);
    let four = [1.0f32, 2.0, 3.0, 4.0];
    mpi4rs::scope(|s| {
        let e = win.fence(s, Assert::NONE)?;
        e.put(&four, right, (1, 1, &every_other))?;
        e.end()
    })?;
    {
        let m = win.local_access()?;
        ensure_eq!(m.as_slice::<f32>()?, [0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 4.0]);
    }
    // And back: a typed origin (every other element of a host array) read from a plain target.
    world.barrier()?;
    let mut out = [9.0f32; 8];
    {
        let mut view = mpi4rs::TypedMut::new(&mut out, 1, &every_other)?;
        mpi4rs::scope(|s| {
            let e = win.lock(s, right, LockType::Shared, Assert::NONE)?;
            e.get(&mut view, right, Target::new(1, 1, &every_other))?;
            e.end()
        })?;
    }
    ensure_eq!(out, [1.0, 9.0, 2.0, 9.0, 3.0, 9.0, 4.0, 9.0]);
    world.barrier()?;
    Ok(())
}

fn shared_memory_window(env: &Environment) -> Result<()> {
    let world = env.world();
    let node = world.split_shared(0)?;
    let (me, n) = (node.rank(), node.size());
    let win = Win::allocate_shared(8 * (me as usize + 1), 8, &[], &node)?;
    ensure_eq!(win.flavor(), Flavor::Shared);
    {
        let mut m = win.local_access()?;
        for (i, x) in m.as_mut_slice::<u64>()?.iter_mut().enumerate() {
            *x = me as u64 * 10 + i as u64;
        }
    }
    node.barrier()?;
    for r in 0..n {
        let seg = win.shared_query(r)?;
        ensure_eq!((seg.bytes, seg.disp_unit), (8 * (r as usize + 1), 8));
        ensure!(!seg.ptr.is_null());
        let mut got = vec![0u64; r as usize + 1];
        mpi4rs::scope(|s| {
            let e = win.lock(s, r, LockType::Shared, Assert::NONE)?;
            e.get(&mut got, r, 0)?;
            e.end()
        })?;
        ensure_eq!(got, (0..=r as u64).map(|i| r as u64 * 10 + i).collect::<Vec<_>>());
    }
    node.barrier()?;
    Ok(())
}

fn dynamic_window(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let (right, left) = neighbours(env);
    let mut region = vec![0u32; 4];
    // SAFETY: every target below lies in a region its target attached in the scope below,
    // which it keeps attached until after the barrier that follows every epoch.
    let Some(win) = supported(unsafe { Win::create_dynamic(&[], world) })? else { return Ok(()) };
    ensure_eq!(win.extent_of(0), None);
    let mut back = [0u32; 4];
    mpi4rs::scope(|s| {
        let attached = win.attach(s, &mut region)?;
        ensure_eq!(attached.bytes(), 16);
        // Every rank learns where the others attached.
        let mut addrs = vec![0u64; n as usize];
        world.allgather(&(attached.address() as u64), &mut addrs)?;
        let two = [me as u32; 2];
        mpi4rs::scope(|t| {
            let e = win.fence(t, Assert::NONE)?;
            e.put(&two, right, Target::at(addrs[right as usize] as usize + 8))?;
            e.end()
        })?;
        mpi4rs::scope(|t| {
            let e = win.lock(t, me, LockType::Shared, Assert::NONE)?;
            e.get(&mut back, me, addrs[me as usize] as usize)?;
            e.end()
        })?;
        world.barrier()?;
        win.detach(attached)
    })?;
    ensure_eq!(back, [0, 0, left as u32, left as u32]);
    drop(win);
    ensure_eq!(region, [0, 0, left as u32, left as u32]);
    Ok(())
}

fn attributes_name_info(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let win =
        Win::allocate(24 + me as usize, 2, &[("no_locks", "false"), ("accumulate_ordering", "none")], world)?;
    ensure_eq!(win.bytes()?, 24 + me as usize);
    ensure_eq!(win.disp_unit()?, 2);
    ensure!(!win.base()?.is_null());
    ensure_eq!(win.create_flavor()?, Flavor::Allocate);
    let _model = win.model()?;
    ensure_eq!((win.rank(), win.size()), (me, n));
    ensure_eq!(win.group()?.size()?, n);
    for r in 0..n {
        ensure_eq!(win.extent_of(r), Some((24 + r as usize, 2)));
    }
    win.set_name("halo window")?;
    ensure_eq!(win.name()?, "halo window");
    let info = win.info()?;
    // Libraries report the hints they know of; none reports a key it was not given with a
    // value other than its own default, so just check the call works and the pairs are sane.
    ensure!(info.iter().all(|(k, _)| !k.is_empty()));
    win.set_info(&[("no_locks", "false")])?;
    ensure_err!(Win::allocate(8, 1, &[("", "x")], world), Error::InvalidArgument(_));
    win.free()?;
    Ok(())
}

fn errors(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let win = Win::allocate(32, 8, &[], world)?;
    let data = [1.0f64; 2];
    let (mut five, mut flags, mut two, one_two) = ([0.0f64; 5], [false; 2], [0i64; 2], [1i64, 2]);
    // Rank outside the window.
    mpi4rs::scope(|s| {
        let e = win.lock_all(s, Assert::NONE)?;
        let err = ensure_err!(e.put(&data, n, 0), Error::InvalidRank { .. });
        ensure_eq!(err.class(), Some(ErrorClass::Rank));
        // A target range past the end: 2 f64 at offset 3 of a 4-f64 window.
        let err = ensure_err!(e.put(&data, me, 3usize), Error::RmaRange(_));
        ensure_eq!(err.class(), Some(ErrorClass::RmaRange));
        ensure!(err.to_string().contains("touches bytes 24..40 of a 32-byte window"), "{err}");
        ensure_err!(e.get(&mut five, me, 0), Error::RmaRange(_));
        // Sizes that do not match the target layout.
        let f64s = Datatype::of::<f64>()?;
        ensure_err!(e.put(&data, me, Target::new(0, 3, &f64s)), Error::BufferLength { .. });
        // A lock twice.
        ensure_err!(win.lock(s, me, LockType::Shared, Assert::NONE), Error::RmaSync(_));
        // Local access while an epoch is open.
        ensure_err!(win.local_access(), Error::RmaSync(_));
        // Operations.
        let user =
            UserOp::new(true, |a: &[f64], b: &mut [f64]| b.iter_mut().zip(a).for_each(|(y, x)| *y += x))?;
        ensure_err!(e.accumulate(&data, me, 0, &user), Error::InvalidOp(_));
        ensure_err!(e.accumulate(&[half::f16::ONE; 2], me, 0, &Op::SUM), Error::InvalidOp(_));
        ensure_err!(e.accumulate(&data, me, 0, &Op::BAND), Error::InvalidOp(_));
        ensure_err!(e.get(&mut flags, me, 0), Error::UnsupportedBuffer(_));
        ensure_err!(e.fetch_and_op(&one_two, &mut two, me, 0, &Op::SUM), Error::BufferLength { .. });
        ensure_err!(e.compare_and_swap_value(1.0f64, 0.0, me, 0), Error::InvalidOp(_));
        ensure_err!(e.fetch_and_op_value(1i64, me, 4, &Op::SUM), Error::RmaRange(_));
        e.end()
    })?;
    // Operations at a rank the epoch does not cover.
    if n > 1 {
        mpi4rs::scope(|s| {
            let e = win.lock(s, 0, LockType::Shared, Assert::NONE)?;
            let err = ensure_err!(e.put(&data, 1, 0), Error::RmaSync(_));
            ensure_eq!(err.class(), Some(ErrorClass::RmaSync));
            ensure_err!(e.flush(1), Error::RmaSync(_));
            e.end()
        })?;
    }
    // Passive-target calls in a fence epoch; a fence inside a lock epoch.
    mpi4rs::scope(|s| {
        let e = win.fence(s, Assert::NONE)?;
        ensure_err!(e.flush(me), Error::RmaSync(_));
        mpi4rs::scope(|t| {
            ensure_err!(e.rput(t, &data, me, 0), Error::RmaSync(_));
            Ok(())
        })?;
        ensure_err!(e.fetch_and_op_value(1i64, me, 0, &Op::SUM), Error::RmaSync(_));
        ensure_err!(win.lock_all(s, Assert::NONE), Error::RmaSync(_));
        e.end()
    })?;
    mpi4rs::scope(|s| {
        let e = win.lock(s, me, LockType::Exclusive, Assert::NONE)?;
        ensure_err!(win.fence(s, Assert::NONE), Error::RmaSync(_));
        ensure_err!(win.post(&world.group()?, Assert::NONE), Error::RmaSync(_));
        ensure_err!(e.fence(Assert::NONE), Error::RmaSync(_));
        Ok(())
    })?;
    // Creation and flavor mistakes.
    ensure_err!(Win::allocate(8, 0, &[], world), Error::InvalidArgument(_));
    ensure_err!(win.shared_query(0), Error::InvalidArgument(_));
    let mut other = [0u8; 4];
    mpi4rs::scope(|s| {
        ensure_err!(win.attach(s, &mut other), Error::InvalidArgument(_));
        Ok(())
    })?;
    ensure_err!(Win::create(vec![false; 4], 1, &[], world), Error::UnsupportedBuffer(_));
    // The window still works after all that.
    mpi4rs::scope(|s| {
        let e = win.lock(s, me, LockType::Exclusive, Assert::NONE)?;
        e.put(&data, me, 2usize)?;
        e.end()
    })?;
    let m = win.local_access()?;
    ensure_eq!(m.as_slice::<f64>()?[2..], [1.0, 1.0]);
    ensure_err!(m.as_slice::<bool>(), Error::InvalidArgument(_));
    Ok(())
}

fn device_origin_buffers(env: &Environment) -> Result<()> {
    common::emu::emulate(true);
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let win = Win::allocate(8 * 8, 8, &[], world)?;
    let before = transfer::stats();
    // Fence: device put, then a device get in the next epoch.
    let src = Emu((0..4).map(|i| me as f64 * 10.0 + i as f64).collect::<Vec<_>>());
    let mut back = Emu(vec![0.0f64; 4]);
    {
        let (d_src, mut d_back) = (Device(&src), DeviceMut(&mut back));
        mpi4rs::scope(|s| {
            let e = win.fence(s, Assert::NONE)?;
            e.put(&d_src, right, 0)?;
            ensure_eq!(transfer::last_path(), Some(Path::Staged));
            let e = e.fence(Assert::NONE)?;
            e.get(&mut d_back, me, 0)?;
            e.end()
        })?;
    }
    ensure_eq!(back.0, (0..4).map(|i| left as f64 * 10.0 + i as f64).collect::<Vec<_>>());
    world.barrier()?;
    // Lock: accumulate and get_accumulate from device buffers, flushed before the end.
    let ones = Emu(vec![1.0f64; 4]);
    let mut old = Emu(vec![0.0f64; 4]);
    {
        let (d_ones, mut d_old) = (Device(&ones), DeviceMut(&mut old));
        mpi4rs::scope(|s| {
            let e = win.lock(s, me, LockType::Exclusive, Assert::NONE)?;
            e.accumulate(&d_ones, me, 0, &Op::SUM)?;
            e.get_accumulate(&d_ones, &mut d_old, me, 0, &Op::SUM)?;
            e.flush(me)?;
            e.end()
        })?;
    }
    ensure_eq!(old.0, (0..4).map(|i| left as f64 * 10.0 + i as f64 + 1.0).collect::<Vec<_>>());
    // Request forms: rget writes back at completion; fetch_and_op and compare_and_swap.
    let mut req_back = Emu(vec![0.0f64; 4]);
    let mut fetched = Emu(vec![0i64; 1]);
    let mut swapped = Emu(vec![0i64; 1]);
    {
        let (five, two, nine, seven) = (Emu(vec![5i64]), Emu(vec![2i64]), Emu(vec![9i64]), Emu(vec![7i64]));
        let (d5, d2, d9, d7) = (Device(&five), Device(&two), Device(&nine), Device(&seven));
        let (mut df, mut ds) = (DeviceMut(&mut fetched), DeviceMut(&mut swapped));
        let mut dm = DeviceMut(&mut req_back);
        mpi4rs::scope(|s| {
            let e = win.lock(s, me, LockType::Exclusive, Assert::NONE)?;
            mpi4rs::scope(|t| e.rget(t, &mut dm, me, 0)?.wait().map(drop))?;
            e.put(&d5, me, 4usize)?;
            e.flush(me)?;
            e.fetch_and_op(&d2, &mut df, me, 4, &Op::SUM)?;
            e.compare_and_swap(&d9, &d7, &mut ds, me, 4)?;
            e.end()
        })?;
    }
    ensure_eq!(req_back.0, (0..4).map(|i| left as f64 * 10.0 + i as f64 + 2.0).collect::<Vec<_>>());
    ensure_eq!(fetched.0, [5]);
    ensure_eq!(swapped.0, [7]);
    {
        let m = win.local_access()?;
        ensure_eq!(m.as_slice::<i64>()?[4], 9);
    }
    ensure!(transfer::stats().staged >= before.staged + 10);
    common::emu::emulate(false);
    world.barrier()?;
    Ok(())
}

fn window_over_device_memory_refused(env: &Environment) -> Result<()> {
    if transfer::cuda_aware() {
        return Ok(());
    }
    common::emu::emulate(true);
    let err = ensure_err!(
        Win::create(OwnedEmu(Emu(vec![0.0f32; 8])), 4, &[], env.world()),
        Error::UnsupportedBuffer(_)
    );
    ensure!(err.to_string().contains("needs a CUDA-aware MPI"), "{err}");
    let mut dev = Emu(vec![0.0f32; 8]);
    let mut d_dev = DeviceMut(&mut dev);
    // SAFETY: no operation targets this window.
    let Some(win) = supported(unsafe { Win::create_dynamic(&[], env.world()) })? else { return Ok(()) };
    mpi4rs::scope(|s| {
        ensure_err!(win.attach(s, &mut d_dev), Error::UnsupportedBuffer(_));
        Ok(())
    })?;
    common::emu::emulate(false);
    Ok(())
}

/// Run with `MPI4RS_CUDA_AWARE=1`: emulated device memory passes straight to MPI, so a window
/// over it works (host memory in disguise) and local access to it is refused.
fn window_over_device_memory_cuda_aware(env: &Environment) -> Result<()> {
    common::emu::emulate(true);
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let Some(win) = supported(Win::create(OwnedEmu(Emu(vec![0i32; 4])), 4, &[], world))? else {
        return Ok(());
    };
    ensure_err!(win.local_access(), Error::UnsupportedBuffer(_));
    let mine = Emu(vec![me; 4]);
    let d_mine = Device(&mine);
    mpi4rs::scope(|s| {
        let e = win.fence(s, Assert::NONE)?;
        e.put(&d_mine, right, 0)?;
        ensure_eq!(transfer::last_path(), Some(Path::Direct));
        e.end()
    })?;
    let dev = win.into_inner()?.0;
    ensure_eq!(dev.0, vec![left; 4]);
    Ok(())
}

/// Open MPI serves `create` and `create_dynamic` windows through osc/ucx when asked
/// (`OMPI_MCA_osc=ucx,sm`): its osc/rdma would need the RDMA transports that mpi4rs switches
/// off (their point-to-point truncation writes past receive buffers). MPICH ignores the setting.
fn create_and_dynamic_with_osc_ucx(suite: &Suite) -> std::result::Result<(), String> {
    let osc = [("OMPI_MCA_osc", "ucx,sm"), ("MPI4RS_WIN_REQUIRE_CREATE", "1")];
    for case in ["create_fence_put_get", "dynamic_window"] {
        for np in [2, 3] {
            let out = suite.job(np, Some(case), &osc);
            if !out.success() && osc_ucx_missing(&out.text()) {
                return Err(format!(
                    "{}this Open MPI has no osc/ucx: {}",
                    common::SKIPPED,
                    out.text().trim()
                ));
            }
            if !out.success() {
                return Err(format!("{case} at np={np}: {}", common::describe(&out)));
            }
        }
    }
    Ok(())
}

/// Whether Open MPI's output says that its osc/ucx component is missing or unusable.
fn osc_ucx_missing(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("ucx")
        && (t.contains("not found") || t.contains("could not be found") || t.contains("no component"))
}

fn cuda_aware_window(suite: &Suite) -> std::result::Result<(), String> {
    let out = suite.job(2, Some("window_over_device_memory_cuda_aware"), &[("MPI4RS_CUDA_AWARE", "1")]);
    if out.success() {
        Ok(())
    } else {
        Err(common::describe(&out))
    }
}

fn sync_counter(env: &Environment) -> Result<()> {
    let world = env.world();
    let (_, n) = rank_size(env);
    let counter = Counter::new(100i64, 3, n - 1, world)?;
    let mine: Vec<i64> = (0..5).map(|_| counter.next()).collect::<Result<_>>()?;
    let mut all = vec![0i64; 5 * n as usize];
    world.allgather(&mine, &mut all)?;
    all.sort();
    ensure_eq!(all, (0..5 * n as i64).map(|k| 100 + 3 * k).collect::<Vec<_>>());
    world.barrier()?;
    ensure_eq!(counter.next_by(0)?, 100 + 3 * 5 * n as i64);
    Ok(())
}

fn sync_mutex(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // A non-atomic read-modify-write of a shared total, made safe by the mutex.
    let total = Win::allocate(if me == 0 { 8 } else { 0 }, 8, &[], world)?;
    let mutex = Mutex::new(false, world)?;
    for _ in 0..5 {
        let guard = mutex.acquire()?;
        ensure!(mutex.locked());
        mpi4rs::scope(|s| {
            let e = total.lock(s, 0, LockType::Shared, Assert::NONE)?;
            let mut v = [0u64];
            mpi4rs::scope(|t| e.rget(t, &mut v, 0, 0)?.wait().map(drop))?;
            v[0] += 1;
            e.put_now(&v, 0, 0)?;
            e.end()
        })?;
        ensure_err!(mutex.acquire(), Error::InvalidArgument(_));
        guard.release()?;
        ensure!(!mutex.locked());
    }
    world.barrier()?;
    if me == 0 {
        let m = total.local_access()?;
        ensure_eq!(m.as_slice::<u64>()?, [5 * n as u64]);
    }
    // try_acquire when nobody holds it; a recursive mutex.
    world.barrier()?;
    if me == 0 {
        let g = mutex.try_acquire()?;
        ensure!(g.is_some());
    }
    world.barrier()?;
    let rec = Mutex::new(true, world)?;
    {
        let a = rec.acquire()?;
        let b = rec.acquire()?;
        ensure_eq!(rec.count(), 2);
        drop(b);
        ensure!(rec.locked());
        drop(a);
        ensure!(!rec.locked());
    }
    world.barrier()?;
    Ok(())
}

fn sync_sequential(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    // Inside the sequential section each rank draws from a counter: it gets its rank.
    let counter = Counter::new(0i32, 1, 0, world)?;
    let seq = Sequential::new(world, 7);
    let got = {
        let _turn = seq.begin()?;
        counter.next()?
    };
    ensure_eq!(got, me);
    let turn = seq.begin()?;
    turn.end()?;
    Ok(())
}
