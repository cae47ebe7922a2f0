//! `std::mem::forget` on every guard that lends memory to MPI is harmless: the memory MPI
//! writes (or reads) stays owned until MPI is done with it. One case per guard kind — an RMA
//! epoch of each synchronisation kind, a window over memory, an attached region, a file's
//! split collective, an object send — each forgets its handle while MPI still has work to do,
//! then checks after the scope (or the handle's life) that every value arrived. Beside them,
//! the promises MPI does not verify (`Assert::NOCHECK`, `NOPRECEDE`, `NOSUCCEED`) are refused
//! by the safe calls and taken by the `unsafe` ones, and targets at the calling process in a
//! dynamic window are checked against what it attached.
mod common;

use common::{neighbours, rank_size, Suite};
use mpi4rs::prelude::*;
use mpi4rs::win::{Assert, LockType, Win};
use mpi4rs::{AccessMode, Environment, Error, File, OobVec, Result};
use std::mem::{forget, ManuallyDrop};
use std::time::Duration;

fn main() {
    Suite::new("forget")
        .case("fence_epoch", fence_epoch)
        .case("pscw_epoch", pscw_epoch)
        .case("lock_epoch", lock_epoch)
        .case("lock_all_epoch", lock_all_epoch)
        .case("window_over_memory", window_over_memory)
        .case("attached_region", attached_region)
        .case("split_collective", split_collective)
        .case("object_send", object_send)
        .case("unverified_assertions", unverified_assertions)
        .case("dynamic_targets_at_self", dynamic_targets_at_self)
        .check("create_and_dynamic_with_osc_ucx", create_and_dynamic_with_osc_ucx)
        .run();
}

/// `Win::create` and `Win::create_dynamic` need a one-sided component Open MPI 4.1 offers only
/// when asked (osc/ucx; mpi4rs switches off the RDMA osc/rdma needs): without it creation is a
/// clear `Error::Unsupported`, and
/// the `create_and_dynamic_with_osc_ucx` check runs those cases again with Open MPI's osc/ucx (as
/// tests/win.rs).
fn supported<T>(created: Result<T>) -> Result<Option<T>> {
    let required = mpi4rs::device::env::bool_var("MPI4RS_WIN_REQUIRE_CREATE")?.unwrap_or(false);
    match created {
        Err(Error::Unsupported(msg)) if msg.contains("OMPI_MCA_osc=ucx,sm") && !required => Ok(None),
        other => other.map(Some),
    }
}

/// Fresh heap blocks, allocated right after memory was (or, unsound, would have been) released
/// under MPI: whatever MPI wrote late would land in them.
fn decoys() -> Vec<Vec<u64>> {
    (0..16).map(|_| vec![0xdead_beef_u64; 64]).collect()
}

fn decoys_intact(d: &[Vec<u64>]) -> bool {
    d.iter().all(|v| v.iter().all(|&x| x == 0xdead_beef))
}

/// A fence epoch forgotten with a put and a get pending: the scope's closing fence completes
/// both before `got` is released, and before the window is read.
fn fence_epoch(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let win = Win::allocate(8 * 8, 8, &[], world)?;
    {
        let mut m = win.local_access()?;
        m.as_mut_slice::<u64>()?[4..].copy_from_slice(&[me as u64 * 10; 4]);
    }
    world.barrier()?;
    let src = vec![me as u64 + 1; 4];
    let mut got = vec![0u64; 4];
    mpi4rs::scope(|s| {
        let e = win.fence(s, Assert::NONE)?;
        e.put(&src, right, 0)?; // slots 0..4 of the right neighbour
        e.get(&mut got, left, 4usize)?; // slots 4..8 of the left neighbour
        forget(e);
        Ok(())
    })?;
    let d = decoys();
    drop(src);
    ensure_eq!(got, vec![left as u64 * 10; 4]);
    {
        let m = win.local_access()?;
        ensure_eq!(m.as_slice::<u64>()?[..4], [left as u64 + 1; 4]);
    }
    ensure!(decoys_intact(&d));
    // A continued fence epoch, forgotten in its second part, ends with the scope too.
    let mut again = vec![0u64; 4];
    mpi4rs::scope(|s| {
        let e = win.fence(s, Assert::NONE)?;
        let e = e.fence(Assert::NOSTORE)?;
        e.get(&mut again, right, 0)?;
        forget(e);
        Ok(())
    })?;
    ensure_eq!(again, vec![me as u64 + 1; 4]);
    world.barrier()?;
    Ok(())
}

/// PSCW: a start epoch forgotten with a put pending; the scope's `MPI_Win_complete` lets the
/// target's wait return with the data. MPICH 4.0.2 loses PSCW puts on `Win::allocate`
/// windows (see tests/win.rs), so the window is made with `Win::create` where supported.
fn pscw_epoch(env: &Environment) -> Result<()> {
    let world = env.world();
    match supported(Win::create(vec![0u64; 2], 8, &[], world))? {
        Some(win) => {
            pscw_rounds(env, &win)?;
            ensure_eq!(win.into_inner()?[0], neighbours(env).1 as u64 * 100 + 2);
            Ok(())
        }
        None => pscw_rounds(env, &Win::allocate(16, 8, &[], world)?),
    }
}

fn pscw_rounds<M>(env: &Environment, win: &Win<M>) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let group = world.group()?;
    let (access, exposure) = (group.incl(&[right])?, group.incl(&[left])?);
    for round in 0..3u64 {
        let exp = win.post(&exposure, Assert::NONE)?;
        let v = vec![me as u64 * 100 + round];
        mpi4rs::scope(|s| {
            let e = win.start(s, &access, Assert::NONE)?;
            e.put(&v, right, 0)?;
            forget(e);
            Ok(())
        })?;
        drop(v);
        exp.wait()?;
        let m = win.local_access()?;
        ensure_eq!(m.as_slice::<u64>()?[0], left as u64 * 100 + round);
    }
    Ok(())
}

/// A lock epoch forgotten with a put and a get pending: the scope's unlock completes them.
fn lock_epoch(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, _) = neighbours(env);
    let win = Win::allocate(2 * 8, 8, &[], world)?;
    {
        let mut m = win.local_access()?;
        m.as_mut_slice::<u64>()?[1] = 1000 + me as u64;
    }
    world.barrier()?;
    let src = vec![me as u64 + 7];
    let mut got = vec![0u64];
    mpi4rs::scope(|s| {
        let e = win.lock(s, right, LockType::Exclusive, Assert::NONE)?;
        e.put(&src, right, 0)?;
        e.get(&mut got, right, 1usize)?;
        forget(e);
        Ok(())
    })?;
    let d = decoys();
    drop(src);
    ensure_eq!(got, [1000 + right as u64]);
    world.barrier()?;
    {
        let m = win.local_access()?;
        ensure_eq!(m.as_slice::<u64>()?[0], neighbours(env).1 as u64 + 7);
    }
    ensure!(decoys_intact(&d));
    // A request of a forgotten epoch, itself forgotten in an inner scope, completes there.
    world.barrier()?;
    let mut fetched = vec![0u64];
    mpi4rs::scope(|s| {
        let e = win.lock(s, right, LockType::Shared, Assert::NONE)?;
        mpi4rs::scope(|t| {
            forget(e.rget(t, &mut fetched, right, 1usize)?);
            Ok(())
        })?;
        forget(e);
        Ok(())
    })?;
    ensure_eq!(fetched, [1000 + right as u64]);
    world.barrier()?;
    Ok(())
}

/// A lock_all epoch forgotten with a put and a get pending.
fn lock_all_epoch(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let win = Win::allocate(2 * 8, 8, &[], world)?;
    {
        let mut m = win.local_access()?;
        m.as_mut_slice::<u64>()?[1] = 500 + me as u64;
    }
    world.barrier()?;
    let src = vec![me as u64 + 3];
    let mut got = vec![0u64];
    mpi4rs::scope(|s| {
        let e = win.lock_all(s, Assert::NONE)?;
        e.put(&src, right, 0)?;
        e.get(&mut got, left, 1usize)?;
        forget(e);
        Ok(())
    })?;
    drop(src);
    ensure_eq!(got, [500 + left as u64]);
    world.barrier()?;
    let m = win.local_access()?;
    ensure_eq!(m.as_slice::<u64>()?[0], left as u64 + 3);
    drop(m);
    world.barrier()?;
    Ok(())
}

/// A window owns its memory: a window that is never freed (forgotten, here through
/// `ManuallyDrop` so that it can still be used) keeps its memory, and later puts land there,
/// not in memory allocated since. `into_inner` hands the memory back once MPI freed the window.
fn window_over_memory(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let Some(win) = supported(Win::create(vec![0u64; 64], 8, &[], world))? else { return Ok(()) };
    let win = ManuallyDrop::new(win);
    let d = decoys();
    world.barrier()?;
    let mine = vec![me as u64 + 1; 64];
    mpi4rs::scope(|s| win.fence(s, Assert::NONE)?.put(&mine, right, 0))?;
    {
        let m = win.local_access()?;
        ensure_eq!(m.as_slice::<u64>()?, vec![left as u64 + 1; 64]);
    }
    ensure!(decoys_intact(&d));
    world.barrier()?;
    // Still owned after all that. (Leaked for good, the window would stay registered with
    // MPI, and MPICH over UCX aborts in MPI_Finalize on memory still registered: free it.)
    ManuallyDrop::into_inner(win).free()?;
    // And the owning round trip:
    let win = Win::create(vec![0i32; 4], 4, &[], world)?;
    let four = [me; 4];
    mpi4rs::scope(|s| win.fence(s, Assert::NONE)?.put(&four, right, 0))?;
    let mem = win.into_inner()?;
    ensure_eq!(mem, vec![left; 4]);
    Ok(())
}

/// An attached region whose handle is forgotten stays attached until its scope ends, and is
/// detached before the memory is the program's again.
fn attached_region(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let (right, left) = neighbours(env);
    // SAFETY: every target below is an address the target attached in the scope below, while
    // it is attached (the puts complete at the unlock, before the scope ends everywhere:
    // the barrier inside the scope follows every rank's epoch).
    let Some(win) = supported(unsafe { Win::create_dynamic(&[], world) })? else { return Ok(()) };
    let mut region = vec![0u64; 4];
    mpi4rs::scope(|s| {
        let attached = win.attach(s, &mut region)?;
        let mut addrs = vec![0u64; n as usize];
        world.allgather(&(attached.address() as u64), &mut addrs)?;
        // (Attached has no drop glue: forgetting it is dropping it; the scope detaches it.)
        #[allow(clippy::forget_non_drop)]
        forget(attached);
        let two = [me as u64 + 1; 2];
        mpi4rs::scope(|t| {
            let e = win.lock(t, right, LockType::Shared, Assert::NONE)?;
            e.put(&two, right, addrs[right as usize] as usize + 16)?;
            e.end()
        })?;
        world.barrier()
    })?;
    ensure_eq!(region, [0, 0, left as u64 + 1, left as u64 + 1]);
    drop(region);
    // The region was detached: the window has none left at this process.
    let mut one = [0u64];
    mpi4rs::scope(|s| {
        let e = win.lock(s, me, LockType::Shared, Assert::NONE)?;
        let err = ensure_err!(e.get(&mut one, me, 0x1000usize), Error::RmaRange(_));
        ensure!(err.to_string().contains("not inside a region attached"), "{err}");
        e.end()
    })?;
    world.barrier()?;
    Ok(())
}

/// Split collectives forgotten while in progress: the scope runs their `_end` call before the
/// buffers are released.
fn split_collective(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    const N: usize = 1024;
    let mut pid = std::process::id();
    world.bcast(&mut pid, 0)?;
    let path = std::env::temp_dir().join(format!("mpi4rs-forget-{pid}.bin"));
    let file = File::open(world, &path, AccessMode::RDWR | AccessMode::CREATE)?;
    let mine: Vec<f64> = (0..N).map(|i| (me as usize * N + i) as f64).collect();
    mpi4rs::scope(|s| {
        forget(file.write_at_all_begin(s, (me as usize * N * 8) as u64, &mine)?);
        Ok(())
    })?;
    drop(mine);
    file.sync()?;
    world.barrier()?;
    file.sync()?;
    let other = (me + 1) % n;
    let mut back = vec![0.0f64; N];
    mpi4rs::scope(|s| {
        forget(file.read_at_all_begin(s, (other as usize * N * 8) as u64, &mut back)?);
        Ok(())
    })?;
    let d = decoys();
    ensure_eq!(back, (0..N).map(|i| (other as usize * N + i) as f64).collect::<Vec<_>>());
    ensure!(decoys_intact(&d));
    // The file's split slot is free again: another split collective begins.
    let mut again = vec![0.0f64; N];
    let st = mpi4rs::scope(|s| file.read_at_all_begin(s, (me as usize * N * 8) as u64, &mut again)?.end())?;
    ensure_eq!(st.count::<f64>()?, N);
    ensure_eq!(again[N - 1], (me as usize * N + N - 1) as f64);
    file.close()?;
    world.barrier()?;
    if me == 0 {
        File::delete(&path)?;
    }
    Ok(())
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Field {
    step: u64,
    values: OobVec<f64>,
}

/// Object sends forgotten in flight: the object's out-of-band payload (1 MiB, read by MPI
/// where it lies) is overwritten and dropped only after the scope, which waited for the send;
/// the receiver, which receives late on purpose, gets the original.
fn object_send(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let original = |k: u64| Field { step: k, values: (0..1 << 17).map(|i| (i as u64 + k) as f64).collect() };
    if n == 1 {
        let mut obj = original(1);
        let got: Field = mpi4rs::scope(|s| {
            forget(world.isend_obj(s, &obj, 0, 1)?);
            world.recv_obj(0, 1)
        })?;
        obj.values.fill(-1.0);
        drop(obj);
        ensure_eq!(got, original(1));
        return Ok(());
    }
    // Rank 0 sends to rank 1 (standard, then synchronous mode); rank 1 receives only after a
    // pause, so a send that the scope did not wait for would still be reading the object when
    // rank 0 overwrites and frees it.
    for (k, sync) in [(2u64, false), (3, true)] {
        if me == 0 {
            let mut obj = original(k);
            mpi4rs::scope(|s| {
                let req =
                    if sync { world.issend_obj(s, &obj, 1, 7)? } else { world.isend_obj(s, &obj, 1, 7)? };
                forget(req);
                Ok(())
            })?;
            obj.values.fill(-1.0);
            obj.step = 0;
            drop(obj);
            let _d = decoys();
        } else if me == 1 {
            std::thread::sleep(Duration::from_millis(200));
            let got: Field = world.recv_obj(0, 7)?;
            ensure_eq!(got, original(k));
        }
        world.barrier()?;
    }
    Ok(())
}

/// Issue 14 item 4: `NOCHECK`, `NOPRECEDE` and `NOSUCCEED` are refused by the safe calls with
/// a clear error (nothing is opened), and accepted by the `unsafe` `*_unchecked` forms when the
/// promise holds.
fn unverified_assertions(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    // (Neighbours are used by `promises_kept`.)
    let win = Win::allocate(8, 8, &[], world)?;
    let group = world.group()?;
    mpi4rs::scope(|s| {
        let e = ensure_err!(win.lock(s, me, LockType::Exclusive, Assert::NOCHECK), Error::InvalidArgument(_));
        ensure!(e.to_string().contains("lock_unchecked"), "{e}");
        ensure_err!(win.lock_all(s, Assert::NOCHECK), Error::InvalidArgument(_));
        ensure_err!(win.fence(s, Assert::NOPRECEDE), Error::InvalidArgument(_));
        ensure_err!(win.fence(s, Assert::NOSUCCEED | Assert::NOPUT), Error::InvalidArgument(_));
        ensure_err!(win.start(s, &group, Assert::NOCHECK), Error::InvalidArgument(_));
        ensure_err!(win.post(&group, Assert::NOCHECK), Error::InvalidArgument(_));
        // A fence epoch cannot continue with NOPRECEDE either (and is ended by the scope).
        let e = win.fence(s, Assert::NONE)?;
        let err = ensure_err!(e.fence(Assert::NOPRECEDE), Error::InvalidArgument(_));
        ensure!(err.to_string().contains("fence_unchecked"), "{err}");
        Ok(())
    })?;
    // Nothing is left open: local access works.
    drop(win.local_access()?);
    world.barrier()?;
    // The promises hold on a new window. (MPICH 4.0.2 gave wrong values for this sequence on a
    // second `Win::allocate` window, even without assertions; `Win::create` is used where the
    // library supports it, as for PSCW.)
    match supported(Win::create(vec![0u64; 1], 8, &[], world))? {
        Some(w) => promises_kept(env, &w),
        None => promises_kept(env, &Win::allocate(8, 8, &[], world)?),
    }
}

/// `NOPRECEDE` on the first fence of a window, `NOCHECK` on shared locks between barriers.
fn promises_kept<M>(env: &Environment, win: &Win<M>) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let v = vec![me as u64];
    mpi4rs::scope(|s| {
        // SAFETY: no process has operations before this fence (every process asserts it).
        let e = unsafe { win.fence_unchecked(s, Assert::NOPRECEDE)? };
        e.put(&v, right, 0)?;
        e.end()
    })?;
    world.barrier()?;
    let mut got = vec![0u64];
    mpi4rs::scope(|s| {
        // SAFETY: only shared locks are taken on any window between the barriers around this
        // scope, so no conflicting lock exists.
        let e = unsafe { win.lock_unchecked(s, me, LockType::Shared, Assert::NOCHECK)? };
        e.get(&mut got, me, 0)?;
        e.end()
    })?;
    world.barrier()?;
    ensure_eq!(got, [left as u64]);
    Ok(())
}

/// Issue 14 item 5: a dynamic window's targets at the calling process are checked against the
/// regions it attached; other processes' targets are the promise of the `unsafe`
/// `Win::create_dynamic`.
fn dynamic_targets_at_self(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    // SAFETY: the only operations target this process, inside the region it attached (or are
    // refused before MPI is called).
    let Some(win) = supported(unsafe { Win::create_dynamic(&[], world) })? else { return Ok(()) };
    let mut region = vec![0u32; 4];
    mpi4rs::scope(|s| {
        let attached = win.attach(s, &mut region)?;
        let base = attached.address();
        mpi4rs::scope(|t| {
            let e = win.lock(t, me, LockType::Exclusive, Assert::NONE)?;
            ensure_err!(e.put(&[1u32; 2], me, base + 12), Error::RmaRange(_));
            ensure_err!(e.put(&[1u32; 1], me, base - 4), Error::RmaRange(_));
            e.put(&[7u32; 2], me, base + 8)?;
            e.end()
        })?;
        win.detach(attached)?;
        mpi4rs::scope(|t| {
            let e = win.lock(t, me, LockType::Exclusive, Assert::NONE)?;
            ensure_err!(e.put(&[1u32; 1], me, base), Error::RmaRange(_));
            e.end()
        })
    })?;
    ensure_eq!(region, [0, 0, 7, 7]);
    world.barrier()?;
    Ok(())
}

/// Runs the cases that need `Win::create` or `Win::create_dynamic` again with Open MPI's
/// osc/ucx (`OMPI_MCA_osc=ucx,sm`; MPICH ignores the setting), as tests/win.rs does.
fn create_and_dynamic_with_osc_ucx(suite: &Suite) -> std::result::Result<(), String> {
    let osc = [("OMPI_MCA_osc", "ucx,sm"), ("MPI4RS_WIN_REQUIRE_CREATE", "1")];
    for case in ["pscw_epoch", "window_over_memory", "attached_region", "dynamic_targets_at_self"] {
        for np in [2, 3] {
            let out = suite.job(np, Some(case), &osc);
            let text = out.text().to_ascii_lowercase();
            if !out.success() && text.contains("ucx") && text.contains("not found") {
                return Err(format!("{}this Open MPI has no osc/ucx", common::SKIPPED));
            }
            if !out.success() {
                return Err(format!("{case} at np={np}: {}", common::describe(&out)));
            }
        }
    }
    Ok(())
}
