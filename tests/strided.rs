//! Strided tensors (DLPack `StridedTensor`s and `Strided::over` views) in every kind of
//! operation: Fortran-ordered, sliced, reversed and broadcast layouts sent and received with
//! the holes of the memory untouched, reductions (packed into contiguous elements), the same on
//! emulated device memory (real device memory: `real_cuda_strided_tensors` in
//! `tests/device.rs`, run under the CUDA driver double and on a GPU); and every refusal.
mod common;

use common::emu::{Emu, EmuRaw};
use common::{neighbours, rank_size, Suite};
use mpi4rs::device::dlpack::{export, export_mut, StridedTensor};
use mpi4rs::device::DeviceError;
use mpi4rs::prelude::*;
use mpi4rs::transfer::{self, Path};
use mpi4rs::{Datatype, Device, DeviceMut, Environment, Error, Result, Strided, StridedMut, Typed};

fn main() {
    Suite::new("strided")
        .nps(&[1, 2, 3])
        .case("host_p2p_fortran_sliced_reversed", host_p2p_fortran_sliced_reversed)
        .case("host_reductions", host_reductions)
        .case("broadcast_views_send", broadcast_views_send)
        .case("file_io_and_one_sided", file_io_and_one_sided)
        .case("refusals", refusals)
        .case("huge_strides_are_refused", huge_strides_are_refused)
        .case("forgotten_reductions_unpack", forgotten_reductions_unpack)
        .case("failed_wait_leaves_no_pending_entry", failed_wait_leaves_no_pending_entry)
        .case("typed_wrapping_extent_refused", typed_wrapping_extent_refused)
        .case("emulated_device_p2p_holes_untouched", emulated_device_p2p_holes_untouched)
        .case("emulated_device_reductions", emulated_device_reductions)
        .run();
}

use common::strided::{at, expected, fortran, storage, tensor, value, REVERSED, SLICE};

/// A Fortran-ordered DLPack tensor sent to the right, received into a column slice of a
/// bigger matrix (blocking) and into a reversed view (nonblocking, views lent by value); a
/// column of a plain vector sent through `Strided::over` into a contiguous receive.
fn host_p2p_fortran_sliced_reversed(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let send = tensor(fortran(me), &[3, 4], &[1, 3], 0, false)?;
    ensure!(!send.is_contiguous());
    let mut slice = tensor(vec![-1.0; SLICE.2], &[3, 4], &SLICE.1, SLICE.0, true)?;
    world.sendrecv(&Strided::new(&send)?, right, 1, &mut StridedMut::new(&mut slice)?, left, 1)?;
    ensure_eq!(storage(&slice, SLICE.2), expected(SLICE, -1.0, |i, j| value(left, i, j)));

    let mut rev = tensor(vec![-1.0; 12], &[3, 4], &REVERSED.1, REVERSED.0, true)?;
    mpi4rs::scope(|sc| {
        let recv = world.irecv(sc, StridedMut::new(&mut rev)?, left, 2)?;
        let sent = world.isend(sc, Strided::new(&send)?, right, 2)?;
        sent.wait()?;
        recv.wait().map(drop)
    })?;
    ensure_eq!(storage(&rev, 12), expected(REVERSED, -1.0, |i, j| value(left, i, j)));

    // A kDLCUDAHost (pinned host) tensor is host memory to MPI: sent as it is.
    let mut e = export(fortran(me));
    e.restride(&[3, 4], &[1, 3], 0)?;
    let raw = e.into_raw();
    // SAFETY: the exported tensor, not handed over yet; it claims pinned host memory (host
    // memory either way, no CUDA needed).
    unsafe { (*raw).dl_tensor.device.device_type = mpi4rs::device::dlpack::ffi::DLDeviceType::kDLCUDAHost };
    // SAFETY: handed over once.
    let pinned = unsafe { StridedTensor::from_versioned(raw) }?;
    ensure_eq!(pinned.memory(), mpi4rs::device::MemoryKind::PinnedHost);
    let mut flat = [0.0f64; 12];
    world.sendrecv(&Strided::new(&pinned)?, right, 7, &mut flat, left, 7)?;
    ensure_eq!(flat.to_vec(), (0..12).map(|k| value(left, k / 4, k % 4)).collect::<Vec<_>>());

    // Column 1 of a 3 x 4 row-major matrix, bottom up, into three contiguous values.
    let m: Vec<f64> = (0..12).map(|k| (me * 100 + k) as f64).collect();
    let mut got = [0.0f64; 3];
    world.sendrecv(&Strided::over(&m, 9, &[3], &[-4])?, right, 3, &mut got, left, 3)?;
    let l = (left * 100) as f64;
    ensure_eq!(got, [l + 9.0, l + 5.0, l + 1.0]);
    Ok(())
}

/// Allreduce from a Fortran tensor into a reversed view (holes untouched) and into a plain
/// vector (logical order), in place on a sliced view, nonblocking and persistent; reduce to a
/// root; a `Typed` column with a predefined operation (packed the same way).
fn host_reductions(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let sum = |i: usize, j: usize| (0..n).map(|r| value(r, i, j)).sum::<f64>();
    let send = tensor(fortran(me), &[3, 4], &[1, 3], 0, false)?;
    let mut rev = tensor(vec![-1.0; 12], &[3, 4], &REVERSED.1, REVERSED.0, true)?;
    world.allreduce(&Strided::new(&send)?, &mut StridedMut::new(&mut rev)?, &Op::SUM)?;
    ensure_eq!(storage(&rev, 12), expected(REVERSED, -1.0, sum));

    let mut flat = vec![0.0f64; 12];
    world.allreduce(&Strided::new(&send)?, &mut flat, &Op::SUM)?;
    ensure_eq!(flat, (0..12).map(|k| sum(k / 4, k % 4)).collect::<Vec<_>>());

    // In place on a column slice of a 5 x 6 matrix whose holes hold -1.
    let mut m = expected(SLICE, -1.0, |i, j| value(me, i, j));
    world.allreduce_in_place(&mut StridedMut::over(&mut m, SLICE.0, &[3, 4], &SLICE.1)?, &Op::SUM)?;
    ensure_eq!(m, expected(SLICE, -1.0, sum));

    // Nonblocking and persistent (the persistent one twice: packed again at each start).
    let mut max = expected(SLICE, -1.0, |_, _| 0.0);
    let src = Strided::new(&send)?;
    let mut dst = StridedMut::over(&mut max, SLICE.0, &[3, 4], &SLICE.1)?;
    mpi4rs::scope(|sc| world.iallreduce(sc, &src, &mut dst, &Op::MAX)?.wait().map(drop))?;
    drop(dst);
    ensure_eq!(max, expected(SLICE, -1.0, |i, j| value(n - 1, i, j)));
    let mut acc = vec![-1.0f64; 12];
    {
        let mut dst = StridedMut::over(&mut acc, REVERSED.0, &[3, 4], &REVERSED.1)?;
        mpi4rs::scope(|sc| {
            let mut req = world.allreduce_init(sc, &src, &mut dst, &Op::SUM)?;
            for _ in 0..2 {
                req.start()?;
                req.wait()?;
            }
            Ok(())
        })?;
    }
    ensure_eq!(acc, expected(REVERSED, -1.0, sum));

    // Reduce to the last rank, into a strided view.
    let root = n - 1;
    let mut at_root = vec![-1.0f64; 12];
    {
        let mut dst = StridedMut::over(&mut at_root, REVERSED.0, &[3, 4], &REVERSED.1)?;
        world.reduce(&src, (me == root).then_some(&mut dst), &Op::SUM, root)?;
    }
    if me == root {
        ensure_eq!(at_root, expected(REVERSED, -1.0, sum));
    } else {
        ensure_eq!(at_root, vec![-1.0; 12]);
    }

    // Scan, and a local reduction between two strided views.
    let mut prefix = vec![0.0f64; 12];
    world.scan(&src, &mut prefix, &Op::SUM)?;
    ensure_eq!(
        prefix,
        (0..12).map(|k| (0..=me).map(|r| value(r, k / 4, k % 4)).sum::<f64>()).collect::<Vec<_>>()
    );
    let mut local = expected(SLICE, -1.0, |i, j| value(me, i, j));
    Op::PROD.reduce_local(&src, &mut StridedMut::over(&mut local, SLICE.0, &[3, 4], &SLICE.1)?)?;
    ensure_eq!(local, expected(SLICE, -1.0, |i, j| value(me, i, j) * value(me, i, j)));

    // A Typed column of a row-major 3 x 4 matrix, reduced with a predefined operation.
    let column = Datatype::vector(3, 1, 4, &Datatype::of::<f64>()?)?;
    let rows: Vec<f64> = (0..12).map(|k| (me * 100 + k) as f64).collect();
    let mut col = [0.0f64; 3];
    world.allreduce(&Typed::new(&rows[2..], 1, &column)?, &mut col, &Op::SUM)?;
    let base = (100 * n * (n - 1) / 2) as f64;
    ensure_eq!(col, [2.0, 6.0, 10.0].map(|x| base + x * n as f64));
    Ok(())
}

/// A broadcast view (stride 0) repeats its elements when sent.
fn broadcast_views_send(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let row = tensor(vec![me as f64, 1.0, 2.0], &[2, 3], &[0, 1], 0, false)?;
    let mut got = [0.0f64; 6];
    world.sendrecv(&Strided::new(&row)?, right, 4, &mut got, left, 4)?;
    let l = left as f64;
    ensure_eq!(got, [l, 1.0, 2.0, l, 1.0, 2.0]);
    // A broadcast summed: the same row twice.
    let mut sum = [0.0f64; 6];
    world.allreduce(&Strided::new(&row)?, &mut sum, &Op::SUM)?;
    let (_, n) = rank_size(env);
    let ranks = (n * (n - 1) / 2) as f64;
    ensure_eq!(sum, [ranks, n as f64, 2.0 * n as f64, ranks, n as f64, 2.0 * n as f64]);
    Ok(())
}

/// A file written from a Fortran tensor holds its elements in index order, and reads back into
/// a reversed view; one-sided operations from a strided view.
fn file_io_and_one_sided(env: &Environment) -> Result<()> {
    use mpi4rs::{AccessMode, File};
    let world = env.world();
    let me = world.rank();
    let send = tensor(fortran(me), &[3, 4], &[1, 3], 0, false)?;
    let path = std::env::temp_dir().join(format!("mpi4rs-strided-{}-{me}", std::process::id()));
    let file = File::open(env.self_comm(), &path, AccessMode::RDWR | AccessMode::CREATE)?;
    let result = (|| {
        file.write_at(0, &Strided::new(&send)?)?;
        file.sync()?;
        let mut flat = [0.0f64; 12];
        file.read_at(0, &mut flat)?;
        ensure_eq!(flat.to_vec(), (0..12).map(|k| value(me, k / 4, k % 4)).collect::<Vec<_>>());
        let mut rev = vec![-1.0f64; 12];
        file.read_at(0, &mut StridedMut::over(&mut rev, REVERSED.0, &[3, 4], &REVERSED.1)?)?;
        ensure_eq!(rev, expected(REVERSED, -1.0, |i, j| value(me, i, j)));
        Ok(())
    })();
    file.close()?;
    let _ = std::fs::remove_file(&path);
    result?;

    // One-sided: a put with a plain displacement gives the target the origin's layout (the
    // target datatype defaults to the origin's, as in mpi4py); an accumulate with a contiguous
    // target datatype lands in index order.
    let (right, left) = neighbours(env);
    let win = mpi4rs::win::Win::allocate(12 * 8, 8, &[], world)?;
    let src = Strided::new(&send)?;
    let f64t = Datatype::of::<f64>()?;
    mpi4rs::scope(|s| {
        let e = win.lock_all(s, mpi4rs::win::Assert::NONE)?;
        e.put(&src, right, 0)?;
        e.flush(right)?;
        e.accumulate(&src, right, mpi4rs::win::Target::new(0, 12, &f64t), &Op::SUM)?;
        e.end()
    })?;
    world.barrier()?;
    let local = win.local_access()?;
    let want: Vec<f64> =
        fortran(left).iter().enumerate().map(|(k, x)| x + value(left, k / 4, k % 4)).collect();
    ensure_eq!(local.as_slice::<f64>()?, &want[..]);
    Ok(())
}

/// Every mistake is an error, not a crash or an overrun.
fn refusals(_env: &Environment) -> Result<()> {
    let invalid = |r: Result<StridedMut<'_>>| match r {
        Err(Error::InvalidArgument(m)) => Ok(m),
        Err(e) => Err(Error::InvalidArgument(format!("wrong error: {e}"))),
        Ok(_) => Err(Error::InvalidArgument("a refusal was expected".into())),
    };
    // Receiving into a broadcast tensor would write an element twice.
    let mut b = tensor(vec![0.0; 3], &[2, 3], &[0, 1], 0, true)?;
    let m = invalid(StridedMut::new(&mut b))?;
    ensure!(m.contains("more than once"), "{m}");
    // Overlapping strides, found by the exact check; interleaved but disjoint ones pass.
    let mut v = vec![0.0f64; 8];
    ensure!(invalid(StridedMut::over(&mut v, 0, &[3, 3], &[1, 1]))?.contains("more than once"));
    ensure!(StridedMut::over(&mut v, 0, &[3, 2], &[2, 3]).is_ok());
    ensure!(StridedMut::over(&mut v, 4, &[2, 2], &[-2, 1]).is_ok());
    // Repeats that holes make up for: elements 0, 1, 1, 2, 5, 6, 6, 7 span exactly as many
    // bytes as they hold (8 elements), yet 1 and 6 are addressed twice.
    ensure!(invalid(StridedMut::over(&mut v, 0, &[2, 2, 2], &[5, 1, 1]))?.contains("more than once"));
    // Read-only DLPack tensors are read-only.
    let mut ro = tensor(vec![0.0; 12], &[3, 4], &[1, 3], 0, false)?;
    ensure!(invalid(StridedMut::new(&mut ro))?.contains("read-only"));
    ensure!(Strided::new(&ro).is_ok());
    // Views reaching outside their buffer, both ends; dimensions that disagree.
    ensure_err!(Strided::over(&v, 1, &[4, 2], &[1, 4]), Error::InvalidArgument(_));
    ensure_err!(Strided::over(&v, 1, &[3], &[-1]), Error::InvalidArgument(_));
    ensure_err!(Strided::over(&v, 9, &[0], &[1]), Error::InvalidArgument(_));
    ensure_err!(Strided::over(&v, 0, &[2, 2], &[1]), Error::InvalidArgument(_));
    ensure!(Strided::over(&v, 8, &[0, 3], &[1, 1]).is_ok()); // empty, at the end
                                                             // bool elements cannot be written through a layout.
    let mut flags = vec![false; 4];
    ensure!(invalid(StridedMut::over(&mut flags, 0, &[2], &[2]))?.contains("bool"));
    ensure!(Strided::over(&flags, 0, &[2], &[2]).is_ok());
    // A DLPack tensor whose negative strides reach below its data pointer is refused at import.
    let mut e = export_mut(vec![0.0f64; 12]);
    e.restride(&[3], &[-4], 8)?;
    let raw = e.into_raw();
    // SAFETY: the exported tensor, not handed over yet; its first element moves to data + 0,
    // so element 2 would lie 64 bytes below data.
    unsafe { (*raw).dl_tensor.byte_offset = 0 };
    // SAFETY: handed over once.
    let err = ensure_err!(unsafe { StridedTensor::from_versioned(raw) }, DeviceError::Dlpack(_));
    ensure!(err.to_string().contains("below the data pointer"), "{err}");
    Ok(())
}

/// The emulated device cases' hole values.
fn hole_value(i: usize) -> f64 {
    42.0 + i as f64
}

/// A strided view over emulated device memory: staging moves only the elements, so values
/// written into the holes while a receive is in flight survive it; sends through a view of
/// device memory, from a reversed view.
fn emulated_device_p2p_holes_untouched(env: &Environment) -> Result<()> {
    common::emu::emulate(true);
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    // Dirty the staging pool so that a copy of stale bytes would show.
    world.send(&Device(&Emu(vec![777.0f64; 64])), proc_null(), 0)?;
    let src = Emu(expected(REVERSED, 0.0, |i, j| value(me, i, j)));
    let mut m = EmuRaw::new(vec![-9.0f64; SLICE.2]);
    let holes = m.writer();
    let in_view: Vec<usize> = (0..3).flat_map(|i| (0..4).map(move |j| at(SLICE, i, j))).collect();
    {
        let sdev = Device(&src);
        let send = Strided::over(&sdev, REVERSED.0, &[3, 4], &REVERSED.1)?;
        let mut dm = DeviceMut(&mut m);
        let view = StridedMut::over(&mut dm, SLICE.0, &[3, 4], &SLICE.1)?;
        mpi4rs::scope(|sc| {
            let recv = world.irecv(sc, view, left, 5)?;
            (0..SLICE.2).filter(|k| !in_view.contains(k)).for_each(|k| holes.set(k, hole_value(k)));
            world.send(&send, right, 5)?;
            recv.wait().map(drop)
        })?;
    }
    ensure_eq!(transfer::last_path(), Some(Path::Staged));
    let mut want: Vec<f64> = (0..SLICE.2).map(hole_value).collect();
    for i in 0..3 {
        for j in 0..4 {
            want[at(SLICE, i, j)] = value(left, i, j);
        }
    }
    ensure_eq!(m.to_vec(), want);
    common::emu::emulate(false);
    Ok(())
}

/// Reductions over strided views of emulated device memory: staged, packed, unpacked, and
/// only the elements go back (holes keep their values).
fn emulated_device_reductions(env: &Environment) -> Result<()> {
    common::emu::emulate(true);
    let world = env.world();
    let (me, n) = rank_size(env);
    let sum = |i: usize, j: usize| (0..n).map(|r| value(r, i, j)).sum::<f64>();
    let src = Emu(fortran(me));
    let mut dst = Emu(vec![-1.0f64; 12]);
    {
        let sdev = Device(&src);
        let mut ddev = DeviceMut(&mut dst);
        let mut out = StridedMut::over(&mut ddev, REVERSED.0, &[3, 4], &REVERSED.1)?;
        world.allreduce(&Strided::over(&sdev, 0, &[3, 4], &[1, 3])?, &mut out, &Op::SUM)?;
    }
    ensure_eq!(dst.0, expected(REVERSED, -1.0, sum));
    ensure_eq!(transfer::last_path(), Some(Path::Staged));
    // In place, nonblocking.
    let mut m = Emu(expected(SLICE, -1.0, |i, j| value(me, i, j)));
    {
        let mut ddev = DeviceMut(&mut m);
        let mut view = StridedMut::over(&mut ddev, SLICE.0, &[3, 4], &SLICE.1)?;
        mpi4rs::scope(|sc| world.iallreduce_in_place(sc, &mut view, &Op::SUM)?.wait().map(drop))?;
    }
    ensure_eq!(m.0, expected(SLICE, -1.0, sum));
    common::emu::emulate(false);
    Ok(())
}

/// Shapes and strides whose byte span overflows 64 bits are refused, not laid over a small
/// buffer through a datatype whose extent, as MPI computes it, wrapped around (MPI reports 5
/// elements 2^62 bytes apart as one element's 8 bytes).
fn huge_strides_are_refused(_env: &Environment) -> Result<()> {
    let v = [0.0f64; 1];
    for (shape, strides) in [(&[5usize][..], &[1isize << 59][..]), (&[2, 2][..], &[1 << 59, 1 << 59][..])] {
        match Strided::over(&v, 0, shape, strides) {
            Err(_) => {}
            Ok(s) => {
                let (lb, ext) = s.datatype().true_extent();
                return Err(Error::InvalidArgument(format!(
                    "shape {shape:?} strides {strides:?} over 8 bytes accepted: MPI says true lb {lb}, true extent {ext}"
                )));
            }
        }
    }
    // An empty view is empty whatever its other dimensions (they are not merged into an
    // overflow first).
    ensure!(Strided::over(&v, 0, &[0, 1 << 40, 1 << 40], &[0, 1 << 40, 1]).is_ok());
    Ok(())
}

/// Nonblocking and persistent reductions into a strided view whose requests are forgotten:
/// the scope completes them, and the packed results still land in the view.
fn forgotten_reductions_unpack(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let sum = |i: usize, j: usize| (0..n).map(|r| value(r, i, j)).sum::<f64>();
    let send = tensor(fortran(me), &[3, 4], &[1, 3], 0, false)?;
    let src = Strided::new(&send)?;
    let mut acc = vec![-1.0f64; 12];
    {
        let mut dst = StridedMut::over(&mut acc, REVERSED.0, &[3, 4], &REVERSED.1)?;
        mpi4rs::scope(|sc| {
            std::mem::forget(world.iallreduce(sc, &src, &mut dst, &Op::SUM)?);
            Ok(())
        })?;
    }
    ensure_eq!(acc, expected(REVERSED, -1.0, sum));
    let mut acc = vec![-1.0f64; 12];
    {
        let mut dst = StridedMut::over(&mut acc, REVERSED.0, &[3, 4], &REVERSED.1)?;
        mpi4rs::scope(|sc| {
            let mut req = world.allreduce_init(sc, &src, &mut dst, &Op::SUM)?;
            req.start()?;
            std::mem::forget(req);
            Ok(())
        })?;
    }
    ensure_eq!(acc, expected(REVERSED, -1.0, sum));
    Ok(())
}

/// A receive whose wait fails (truncation) must not leave its staged work (here the byte
/// shadow of a `bool` buffer) in the pending table: the next request that gets the same
/// handle (Open MPI reuses them at once) would complete it, writing into memory whose scope
/// has ended, and its own result would never arrive (found in review; failed before the fix).
fn failed_wait_leaves_no_pending_entry(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    if n < 2 {
        return Ok(());
    }
    if me == 0 {
        world.send(&[true; 8][..], 1, 9)?;
        world.send(&[true; 4][..], 1, 10)?;
    } else if me == 1 {
        let mut old = vec![false; 4];
        let failed = mpi4rs::scope(|sc| Ok(world.irecv(sc, &mut old[..], 0, 9)?.wait().is_err()))?;
        ensure!(failed, "the truncated receive was expected to fail");
        let snapshot = old.clone();
        let mut new = vec![false; 4];
        mpi4rs::scope(|sc| world.irecv(sc, &mut new[..], 0, 10)?.wait().map(drop))?;
        // Observed on Open MPI 4.1.4: old == [true; 4] (written after its scope ended),
        // new == [false; 4] (never written back).
        ensure_eq!(old, snapshot);
        ensure_eq!(new, vec![true; 4]);
    }
    world.barrier()
}

/// Layouts whose bounds MPI's 64-bit arithmetic would wrap are refused when they are made
/// (found in review: 5 f64 2^62 bytes apart reported a true extent of 8 bytes, so a `Typed`
/// view over one f64 was accepted and MPI would have read 2^62 bytes away).
fn typed_wrapping_extent_refused(_env: &Environment) -> Result<()> {
    let f64t = Datatype::of::<f64>()?;
    ensure_err!(Datatype::hvector(5, 1, 1 << 62, &f64t), Error::InvalidArgument(_));
    ensure_err!(Datatype::vector(1 << 30, 1, 1 << 30, &f64t), Error::InvalidArgument(_));
    ensure_err!(Datatype::resized(0, 1 << 62, &f64t), Error::InvalidArgument(_));
    ensure_err!(Datatype::create_struct(&[1], &[1 << 62], &[&f64t]), Error::InvalidArgument(_));
    ensure_err!(Datatype::hindexed(&[1, 1], &[0, -(1 << 62)], &f64t), Error::InvalidArgument(_));
    ensure_err!(
        Datatype::subarray(&[1 << 30, 1 << 30, 1 << 4], &[1, 1, 1], &[0, 0, 0], mpi4rs::Order::C, &f64t),
        Error::InvalidArgument(_)
    );
    // Growth through nesting is seen at each step: this one fits, four of it do not.
    let big = Datatype::hvector(2, 1, 1 << 59, &f64t)?;
    ensure_err!(Datatype::contiguous(4, &big), Error::InvalidArgument(_));
    let v = [0.0f64; 1];
    ensure!(Typed::new(&v[..], 1, &big).is_err(), "a view of 2^59 + 8 bytes over 8 bytes was accepted");
    Ok(())
}
