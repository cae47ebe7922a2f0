//! Parallel I/O: every data-access form of `File` with known file contents, views, file
//! management, device buffers (emulated, as in tests/device.rs) and the errors users can
//! reach. Each case works in a directory of its own under the temporary directory, which
//! rank 0 names, creates and finally removes.
mod common;

use common::emu::Emu;
use common::{rank_size, Suite};
use mpi4rs::prelude::*;
use mpi4rs::transfer::{self, Path};
use mpi4rs::{AccessMode as M, Datatype, Device, DeviceMut, Environment, Error, ErrorClass, File, Result};
use std::io::SeekFrom;
use std::path::PathBuf;

fn main() {
    Suite::new("file")
        .case("open_size_info_atomicity", open_size_info_atomicity)
        .case("explicit_offsets", explicit_offsets)
        .case("individual_pointers", individual_pointers)
        .case("shared_pointers", shared_pointers)
        .case("nonblocking_forms", nonblocking_forms)
        .case("split_collectives", split_collectives)
        .case("noncontiguous_view", noncontiguous_view)
        .case("reading_past_the_end", reading_past_the_end)
        .case("errors", errors)
        .case("device_buffers", device_buffers)
        .run();
}

/// A directory for one case, the same on every rank (rank 0 names it after its process id and
/// creates it). [`finish`](Self::finish) removes it once every rank is done.
///
/// Closing a file and the final barrier are collective: if a case fails on one rank, its
/// files and directory are left behind (no collective call on the error path), so that the
/// harness can report the error and abort the job instead of waiting for the other ranks.
struct Scratch<'a> {
    world: &'a Comm,
    dir: PathBuf,
}

/// A file of a case: closed by [`TestFile::close`]; dropped unclosed (a failed case), it is
/// left open rather than closed collectively.
struct TestFile(Option<File>);

impl std::ops::Deref for TestFile {
    type Target = File;
    fn deref(&self) -> &File {
        self.0.as_ref().expect("open until closed")
    }
}

impl TestFile {
    fn close(mut self) -> Result<()> {
        self.0.take().map_or(Ok(()), File::close)
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        std::mem::forget(self.0.take());
    }
}

impl<'a> Scratch<'a> {
    fn new(env: &'a Environment, case: &str) -> Result<Scratch<'a>> {
        let world = env.world();
        let mut pid = std::process::id();
        world.bcast(&mut pid, 0)?;
        let dir = std::env::temp_dir().join(format!("mpi4rs-file-{pid}-{case}"));
        if world.rank() == 0 {
            std::fs::create_dir_all(&dir).map_err(|e| Error::InvalidArgument(format!("{dir:?}: {e}")))?;
        }
        world.barrier()?;
        Ok(Scratch { world, dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn open(&self, name: &str, mode: M) -> Result<TestFile> {
        self.open_with(name, mode, &[])
    }

    fn open_with(&self, name: &str, mode: M, hints: mpi4rs::file::Hints<'_>) -> Result<TestFile> {
        File::open_with(self.world, self.path(name), mode, hints).map(|f| TestFile(Some(f)))
    }

    /// Waits for every rank, then removes the directory.
    fn finish(self) -> Result<()> {
        self.world.barrier()?;
        if self.world.rank() == 0 {
            std::fs::remove_dir_all(&self.dir)
                .map_err(|e| Error::InvalidArgument(format!("{:?}: {e}", self.dir)))?;
        }
        Ok(())
    }
}

fn create() -> M {
    M::RDWR | M::CREATE
}

/// The block of `n` values rank `r` writes: r*1000 + i.
fn block(r: i32, n: usize) -> Vec<f64> {
    (0..n).map(|i| (r * 1000) as f64 + i as f64).collect()
}

/// Makes what every rank wrote visible to every rank: sync, barrier, sync (MPI's consistency
/// rule in non-atomic mode, which holds even after collective writes).
fn settle(file: &File, world: &Comm) -> Result<()> {
    file.sync()?;
    world.barrier()?;
    file.sync()
}

/// The whole file as f64s, read by every rank independently.
fn contents(file: &File) -> Result<Vec<f64>> {
    let n = file.size()? as usize / 8;
    let mut all = vec![0.0f64; n];
    file.read_exact_at(0, &mut all)?;
    Ok(all)
}

fn open_size_info_atomicity(env: &Environment) -> Result<()> {
    let s = Scratch::new(env, "open")?;
    let world = env.world();
    let (me, n) = rank_size(env);
    let file = s.open_with("a", create(), &[("access_style", "read_mostly")])?;
    // Collective calls need not synchronise: every rank looks at the size before any changes it.
    let size_then_barrier = || -> Result<u64> {
        let size = file.size()?;
        world.barrier()?;
        Ok(size)
    };
    ensure_eq!(file.mode()?, create());
    ensure_eq!(size_then_barrier()?, 0);
    ensure_eq!(file.group()?.size()?, n);
    ensure_eq!(file.group()?.rank()?, Some(me));
    file.set_size(100)?;
    ensure_eq!(size_then_barrier()?, 100);
    file.preallocate(256)?;
    ensure_eq!(size_then_barrier()?, 256);
    file.preallocate(16)?; // never shrinks
    ensure_eq!(size_then_barrier()?, 256);
    file.set_size(10)?;
    ensure_eq!(size_then_barrier()?, 10);
    ensure!(!file.atomicity()?);
    file.set_atomicity(true)?;
    ensure!(file.atomicity()?);
    file.set_atomicity(false)?;
    ensure!(!file.atomicity()?);
    file.sync()?;
    file.set_info(&[("cb_buffer_size", "1048576")])?;
    let info = file.info()?;
    ensure!(info.iter().all(|(k, _)| !k.is_empty()), "{info:?}");
    ensure_eq!(file.type_extent(&Datatype::of::<f64>()?)?, 8);
    let view = file.view()?;
    ensure_eq!(
        (view.disp, view.etype.size(), view.filetype.size(), view.datarep.as_str()),
        (0, 1, 1, "native")
    );
    ensure_eq!(file.byte_offset(7)?, 7);
    file.close()?;
    world.barrier()?;
    // The file exists after closing; a DELETE_ON_CLOSE file does not.
    ensure!(s.path("a").exists());
    let gone = s.open("b", M::WRONLY | M::CREATE | M::DELETE_ON_CLOSE)?;
    ensure!(s.path("b").exists());
    gone.close()?;
    world.barrier()?;
    ensure!(!s.path("b").exists());
    // EXCL refuses an existing file; delete removes it.
    world.barrier()?;
    let again = File::open(world, s.path("a"), create() | M::EXCL);
    ensure_err!(again, Error::Mpi { .. });
    world.barrier()?;
    if me == 0 {
        File::delete(s.path("a"))?;
    }
    world.barrier()?;
    ensure!(!s.path("a").exists());
    s.finish()
}

fn explicit_offsets(env: &Environment) -> Result<()> {
    let s = Scratch::new(env, "at")?;
    let world = env.world();
    let (me, n) = rank_size(env);
    const N: usize = 100;
    let file = s.open("at", create())?;
    // Independent: each rank its block, in reverse rank order of position.
    let pos = |r: i32| ((n - 1 - r) as usize * N * 8) as u64;
    let st = file.write_at(pos(me), &block(me, N))?;
    ensure_eq!(st.count::<f64>()?, N);
    settle(&file, world)?;
    let mut got = vec![0.0f64; N];
    let other = (me + 1) % n;
    let st = file.read_at(pos(other), &mut got)?;
    ensure_eq!(st.count::<f64>()?, N);
    ensure_eq!(got, block(other, N));
    // Collective: rank order, after the independent blocks.
    let base = (n as usize * N * 8) as u64;
    file.write_at_all(base + (me as usize * N * 8) as u64, &block(me + 100, N))?;
    // Even after a collective write.
    settle(&file, world)?;
    let mut all = vec![0.0f64; n as usize * N];
    file.read_at_all(base, &mut all)?;
    let want: Vec<f64> = (0..n).flat_map(|r| block(r + 100, N)).collect();
    ensure_eq!(all, want);
    ensure_eq!(file.size()?, 2 * base);
    file.close()?;
    s.finish()
}

fn individual_pointers(env: &Environment) -> Result<()> {
    let s = Scratch::new(env, "individual")?;
    let world = env.world();
    let (me, n) = rank_size(env);
    const N: usize = 50;
    let file = s.open("ind", create())?;
    // A view of f64s: positions count f64s.
    let f64s = Datatype::of::<f64>()?;
    file.set_view(0, &f64s, &f64s)?;
    file.seek(SeekFrom::Start((me as usize * N) as u64))?;
    file.write(&block(me, N / 2))?;
    ensure_eq!(file.position()?, (me as usize * N + N / 2) as u64);
    file.write_all(&block(me, N)[N / 2..])?;
    ensure_eq!(file.position()?, ((me + 1) as usize * N) as u64);
    ensure_eq!(file.byte_offset(3)?, 24);
    settle(&file, world)?;
    // Read the next rank's block: seek back from the current position, then forward.
    let other = (me + 1) % n;
    file.seek(SeekFrom::Current(-(N as i64)))?;
    ensure_eq!(file.position()?, (me as usize * N) as u64);
    file.seek(SeekFrom::Start((other as usize * N) as u64))?;
    let mut got = vec![0.0f64; N];
    file.read(&mut got[..N / 2])?;
    file.read_all(&mut got[N / 2..])?;
    ensure_eq!(got, block(other, N));
    // From the end: the last rank's last element.
    file.seek(SeekFrom::End(-1))?;
    ensure_eq!(file.position()?, (n as usize * N - 1) as u64);
    let mut last = 0.0f64;
    file.read_exact(&mut last)?;
    ensure_eq!(last, block(n - 1, N)[N - 1]);
    file.close()?;
    s.finish()
}

fn shared_pointers(env: &Environment) -> Result<()> {
    let s = Scratch::new(env, "shared")?;
    let world = env.world();
    let (me, n) = rank_size(env);
    const N: usize = 16;
    let file = s.open("shared", create())?;
    let f64s = Datatype::of::<f64>()?;
    file.set_view(0, &f64s, &f64s)?;
    // Ordered: blocks in rank order.
    file.write_ordered(&block(me, N))?;
    ensure_eq!(file.position_shared()?, (n as usize * N) as u64);
    // (No rank moves the pointer before all have looked at it.)
    world.barrier()?;
    // Independent: each rank's block lands somewhere after those, in any order.
    file.write_shared(&block(me + 100, N))?;
    settle(&file, world)?;
    ensure_eq!(file.position_shared()?, (2 * n as usize * N) as u64);
    world.barrier()?;
    let all = contents(&file)?;
    let ordered: Vec<f64> = (0..n).flat_map(|r| block(r, N)).collect();
    ensure_eq!(all[..n as usize * N], ordered[..]);
    let mut firsts: Vec<f64> = all[n as usize * N..].chunks(N).map(|c| c[0]).collect();
    firsts.sort_by(f64::total_cmp);
    ensure_eq!(firsts, (0..n).map(|r| ((r + 100) * 1000) as f64).collect::<Vec<_>>());
    for c in all[n as usize * N..].chunks(N) {
        ensure_eq!(c, &block(c[0] as i32 / 1000, N)[..]);
    }
    // Reading back in rank order from the start.
    file.seek_shared(SeekFrom::Start(0))?;
    ensure_eq!(file.position_shared()?, 0);
    world.barrier()?;
    let mut mine = vec![0.0f64; N];
    file.read_ordered(&mut mine)?;
    ensure_eq!(mine, block(me, N));
    // Independent shared reads: together the ranks read the unordered half once each.
    file.read_exact_shared(&mut mine)?;
    let mut first = vec![0.0f64; n as usize];
    world.allgather(&mine[0], &mut first)?;
    first.sort_by(f64::total_cmp);
    ensure_eq!(first, firsts);
    file.close()?;
    s.finish()
}

fn nonblocking_forms(env: &Environment) -> Result<()> {
    let s = Scratch::new(env, "nonblocking")?;
    let world = env.world();
    let (me, n) = rank_size(env);
    const N: usize = 32;
    let f64s = Datatype::of::<f64>()?;
    let file = s.open("nb", create())?;
    file.set_view(0, &f64s, &f64s)?;
    let region = |k: usize, r: i32| ((k * n as usize + r as usize) * N) as u64;
    // Region 0 by offset, 1 collectively by offset, 2 and 3 through the individual pointer.
    let (b0, b1, b2, b3, b4) =
        (block(me, N), block(me + 10, N), block(me + 20, N), block(me + 30, N), block(me + 40, N));
    mpi4rs::scope(|sc| {
        let mut reqs =
            vec![file.iwrite_at(sc, region(0, me), &b0)?, file.iwrite_at_all(sc, region(1, me), &b1)?];
        file.seek(SeekFrom::Start(region(2, me)))?;
        reqs.push(file.iwrite(sc, &b2)?);
        mpi4rs::wait_all(&mut reqs)?;
        file.seek(SeekFrom::Start(region(3, me)))?;
        let st = file.iwrite_all(sc, &b3)?.wait()?;
        ensure_eq!(st.count::<f64>()?, N);
        // Region 4 through the shared pointer (in some order).
        file.seek_shared(SeekFrom::Start(region(4, 0)))?;
        file.iwrite_shared(sc, &b4)?.wait().map(drop)
    })?;
    settle(&file, world)?;
    let other = (me + 1) % n;
    let (mut r0, mut r1, mut r2, mut r3) = (vec![0.0; N], vec![0.0; N], vec![0.0; N], vec![0.0; N]);
    mpi4rs::scope(|sc| {
        let mut reqs = vec![
            file.iread_at(sc, region(0, other), &mut r0)?,
            file.iread_at_all(sc, region(1, other), &mut r1)?,
        ];
        mpi4rs::wait_all(&mut reqs)?;
        file.seek(SeekFrom::Start(region(2, other)))?;
        let st = file.iread(sc, &mut r2)?.wait()?;
        ensure_eq!(st.count::<f64>()?, N);
        file.seek(SeekFrom::Start(region(3, other)))?;
        file.iread_all(sc, &mut r3)?.wait().map(drop)
    })?;
    ensure_eq!(
        (r0, r1, r2, r3),
        (block(other, N), block(other + 10, N), block(other + 20, N), block(other + 30, N))
    );
    // Shared reads: each rank one of the region-4 blocks.
    file.seek_shared(SeekFrom::Start(region(4, 0)))?;
    let mut r4 = vec![0.0; N];
    let st = mpi4rs::scope(|sc| file.iread_shared(sc, &mut r4)?.wait())?;
    ensure_eq!(st.count::<f64>()?, N);
    let owner = r4[0] as i32 / 1000 - 40;
    ensure!((0..n).contains(&owner), "{r4:?}");
    ensure_eq!(r4, block(owner + 40, N));
    let mut owners = vec![0i32; n as usize];
    world.allgather(&owner, &mut owners)?;
    owners.sort();
    ensure_eq!(owners, (0..n).collect::<Vec<_>>());
    file.close()?;
    s.finish()
}

fn split_collectives(env: &Environment) -> Result<()> {
    let s = Scratch::new(env, "split")?;
    let world = env.world();
    let (me, n) = rank_size(env);
    const N: usize = 24;
    let f64s = Datatype::of::<f64>()?;
    let file = s.open("split", create())?;
    file.set_view(0, &f64s, &f64s)?;
    let nn = n as usize * N;
    let (b0, b1, b2) = (block(me, N), block(me + 10, N), block(me + 20, N));
    mpi4rs::scope(|sc| {
        let split = file.write_at_all_begin(sc, (me as usize * N) as u64, &b0)?;
        // One split collective at a time per file.
        let e = ensure_err!(file.write_all_begin(sc, &b1), Error::InvalidArgument(_));
        ensure!(e.to_string().contains("already in progress"), "{e}");
        ensure_eq!(split.end()?.count::<f64>()?, N);
        file.seek(SeekFrom::Start((nn + me as usize * N) as u64))?;
        file.write_all_begin(sc, &b1)?.end()?;
        file.seek_shared(SeekFrom::Start(2 * nn as u64))?;
        let split = file.write_ordered_begin(sc, &b2)?;
        split.end().map(drop)
    })?;
    settle(&file, world)?;
    let other = (me + 1) % n;
    let (mut r0, mut r1, mut r2) = (vec![0.0; N], vec![0.0; N], vec![0.0; N]);
    mpi4rs::scope(|sc| {
        file.read_at_all_begin(sc, (other as usize * N) as u64, &mut r0)?.end()?;
        file.seek(SeekFrom::Start((nn + other as usize * N) as u64))?;
        let st = file.read_all_begin(sc, &mut r1)?.end()?;
        ensure_eq!(st.count::<f64>()?, N);
        file.seek_shared(SeekFrom::Start(2 * nn as u64))?;
        // Dropping the guard ends the split collective too.
        drop(file.read_ordered_begin(sc, &mut r2)?);
        Ok(())
    })?;
    ensure_eq!((r0, r1, r2), (block(other, N), block(other + 10, N), block(me + 20, N)));
    file.close()?;
    s.finish()
}

/// mpi4py's non-contiguous example: each of `size` ranks writes every `size`-th `i32`.
fn noncontiguous_view(env: &Environment) -> Result<()> {
    let s = Scratch::new(env, "noncontig")?;
    let world = env.world();
    let (me, n) = rank_size(env);
    const ITEMS: usize = 10;
    let int = Datatype::of::<i32>()?;
    let filetype = Datatype::vector(ITEMS, 1, n, &int)?;
    let file = s.open("noncontig", M::WRONLY | M::CREATE)?;
    file.set_view(4 * me as u64, &int, &filetype)?;
    let view = file.view()?;
    ensure_eq!((view.disp, view.etype.size(), view.filetype.size()), (4 * me as u64, 4, 4 * ITEMS));
    ensure_eq!(view.filetype.extent(), (0, 4 * ((ITEMS as isize - 1) * n as isize + 1)));
    ensure_eq!(view.datarep, "native");
    file.write_all(&[me; ITEMS])?;
    file.close()?;
    world.barrier()?;
    let file = s.open("noncontig", M::RDONLY)?;
    ensure_eq!(file.size()?, (4 * ITEMS * n as usize) as u64);
    let mut all = vec![-1i32; ITEMS * n as usize];
    file.read_exact_at_all(0, &mut all)?;
    ensure_eq!(all, (0..ITEMS * n as usize).map(|k| (k % n as usize) as i32).collect::<Vec<_>>());
    // Reading through the same view gives each rank its own items back.
    file.set_view(4 * me as u64, &int, &filetype)?;
    let mut mine = [0i32; ITEMS];
    file.read_exact_all(&mut mine)?;
    ensure_eq!(mine, [me; ITEMS]);
    file.close()?;
    s.finish()
}

fn reading_past_the_end(env: &Environment) -> Result<()> {
    let s = Scratch::new(env, "eof")?;
    let world = env.world();
    let file = s.open("eof", create())?;
    if world.rank() == 0 {
        file.write_at(0, &block(0, 10))?;
    }
    settle(&file, world)?;
    // 4 values from element 8: only 2 are there; the rest of the buffer is untouched.
    let mut four = [-1.0f64; 4];
    let st = file.read_at(64, &mut four)?;
    ensure_eq!(st.count::<f64>()?, 2);
    ensure_eq!(st.bytes()?, 16);
    ensure_eq!(four, [8.0, 9.0, -1.0, -1.0]);
    let e = ensure_err!(file.read_exact_at(64, &mut four), Error::ShortRead { expected: 32, read: 16 });
    ensure!(e.to_string().contains("16 of 32 bytes"), "{e}");
    // Far past the end: nothing. Collective reads past the end are reported in full, the buffer
    // filled with zeros (Open MPI, 3 ranks or more) or stale bytes (MPICH), and
    // the exact forms see through that.
    four = [-1.0; 4];
    let st = file.read_at_all(1000, &mut four)?;
    let got = st.count::<f64>()?;
    ensure!((got == 0 && four == [-1.0; 4]) || got == 4, "{got}: {four:?}");
    ensure_err!(file.read_exact_at_all(1000, &mut four), Error::ShortRead { expected: 32, read: 0 });
    ensure_err!(file.read_exact_at_all(64, &mut four), Error::ShortRead { expected: 32, read: 16 });
    file.seek(SeekFrom::Start(56))?;
    ensure_err!(file.read_exact_all(&mut four), Error::ShortRead { expected: 32, read: 24 });
    // Through a view with holes: every other f64 of the 10, from the second; 5 of them fit.
    let f64s = Datatype::of::<f64>()?;
    let every_other = Datatype::resized(0, 16, &f64s)?;
    file.set_view(8, &f64s, &every_other)?;
    let mut six = [0.0f64; 6];
    let e = ensure_err!(file.read_exact_at_all(0, &mut six), Error::ShortRead { .. });
    ensure!(matches!(e, Error::ShortRead { expected: 48, read: 40 }), "{e}");
    ensure_eq!(six[..5], [1.0, 3.0, 5.0, 7.0, 9.0]);
    file.read_exact_at_all(1, &mut six[..4])?;
    ensure_eq!(six[..4], [3.0, 5.0, 7.0, 9.0]);
    let bytes = Datatype::of::<u8>()?;
    file.set_view(0, &bytes, &bytes)?;
    // Through the individual pointer, and nonblocking.
    file.seek(SeekFrom::Start(72))?;
    ensure_err!(file.read_exact(&mut four), Error::ShortRead { read: 8, .. });
    // Where the pointer ends after a short read differs: past the data read (MPICH's ROMIO)
    // or past the amount requested (Open MPI's OMPIO).
    let pos = file.position()?;
    ensure!(pos == 80 || pos == 104, "position after a short read: {pos}");
    let st = mpi4rs::scope(|sc| file.iread_at(sc, 40, &mut four)?.wait())?;
    ensure_eq!(st.count::<f64>()?, 4);
    ensure_eq!(four, [5.0, 6.0, 7.0, 8.0]);
    file.close()?;
    s.finish()
}

fn is_mpi(e: &Error, classes: &[ErrorClass]) -> bool {
    matches!(e, Error::Mpi { class, .. } if classes.contains(class))
}

fn errors(env: &Environment) -> Result<()> {
    let s = Scratch::new(env, "errors")?;
    let world = env.world();
    // A missing file.
    let e = ensure_err!(File::open(world, s.path("missing"), M::RDONLY), Error::Mpi { .. });
    ensure!(is_mpi(&e, &[ErrorClass::NoSuchFile, ErrorClass::File, ErrorClass::Io]), "{e}");
    if world.rank() == 0 {
        let e = ensure_err!(File::delete(s.path("missing")), Error::Mpi { .. });
        ensure!(is_mpi(&e, &[ErrorClass::NoSuchFile, ErrorClass::File, ErrorClass::Io]), "{e}");
    }
    // Bad mode combinations, refused before MPI.
    for bad in [M::RDONLY | M::CREATE, M::RDWR | M::WRONLY, M::CREATE, M::RDWR | M::SEQUENTIAL] {
        let e = ensure_err!(File::open(world, s.path("x"), bad), Error::InvalidArgument(_));
        ensure!(e.to_string().contains("file access mode"), "{e}");
    }
    ensure_err!(s.open_with("x", create(), &[("bad\0key", "1")]), Error::InvalidArgument(_));
    // Writing a read-only file, reading a write-only one.
    File::open(world, s.path("ro"), create())?.close()?;
    let ro = s.open("ro", M::RDONLY)?;
    let e = ensure_err!(ro.write_at(0, &[1u8; 4]), Error::Mpi { .. });
    ensure!(
        is_mpi(&e, &[ErrorClass::ReadOnly, ErrorClass::Access, ErrorClass::File, ErrorClass::Amode]),
        "{e}"
    );
    ro.close()?;
    let wo = s.open("ro", M::WRONLY)?;
    let mut b = [0u8; 4];
    ensure_err!(wo.read_at(0, &mut b), Error::Mpi { .. });
    // A data representation nobody has; a seek before the start of the file.
    let bytes = Datatype::of::<u8>()?;
    let e = ensure_err!(wo.set_view_with(0, &bytes, &bytes, "no-such-rep", &[]), Error::Mpi { .. });
    ensure!(is_mpi(&e, &[ErrorClass::UnsupportedDatarep, ErrorClass::Arg]), "{e}");
    ensure_err!(wo.seek(SeekFrom::Current(-5)), Error::Mpi { .. });
    ensure_err!(wo.set_size(u64::MAX), Error::CountOverflow { .. });
    wo.close()?;
    // A file's bytes read as bools: 0 and 1 arrive, anything else is an error and leaves the
    // bools as they were (blocking, nonblocking and split reads).
    let f = s.open("bools", create())?;
    if world.rank() == 0 {
        f.write_at(0, &[1u8, 0, 1, 2])?;
    }
    settle(&f, world)?;
    let mut flags = [false; 3];
    f.read_at(0, &mut flags)?;
    ensure_eq!(flags, [true, false, true]);
    let mut four = [false; 4];
    let e = ensure_err!(f.read_at(0, &mut four), Error::Decode { type_name: "bool", .. });
    ensure!(e.to_string().contains("byte 2"), "{e}");
    ensure_eq!(four, [false; 4]);
    ensure_err!(mpi4rs::scope(|sc| f.iread_at(sc, 0, &mut four)?.wait()), Error::Decode { .. });
    ensure_err!(mpi4rs::scope(|sc| f.read_at_all_begin(sc, 0, &mut four)?.end()), Error::Decode { .. });
    ensure_eq!(four, [false; 4]);
    f.close()?;
    s.finish()
}

fn device_buffers(env: &Environment) -> Result<()> {
    common::emu::emulate(true);
    let s = Scratch::new(env, "device")?;
    let world = env.world();
    let (me, n) = rank_size(env);
    const N: usize = 64;
    let f64s = Datatype::of::<f64>()?;
    let file = s.open("dev", create())?;
    file.set_view(0, &f64s, &f64s)?;
    let staged = transfer::stats().staged;
    // Collective write from device memory; blocking, nonblocking and split reads into it.
    file.write_at_all((me as usize * N) as u64, &Device(&Emu(block(me, N))))?;
    ensure_eq!(transfer::last_path(), Some(Path::Staged));
    settle(&file, world)?;
    let other = (me + 1) % n;
    let mut a = Emu(vec![0.0f64; N]);
    file.read_at_all((other as usize * N) as u64, &mut DeviceMut(&mut a))?;
    ensure_eq!(a.0, block(other, N));
    let mut b = Emu(vec![0.0f64; N]);
    {
        let mut dev = DeviceMut(&mut b);
        mpi4rs::scope(|sc| {
            let req = file.iread_at(sc, (other as usize * N) as u64, &mut dev)?;
            req.wait().map(drop)
        })?;
    }
    ensure_eq!(b.0, block(other, N));
    let mut c = Emu(vec![0.0f64; N]);
    file.seek(SeekFrom::Start((other as usize * N) as u64))?;
    {
        let mut dc = DeviceMut(&mut c);
        mpi4rs::scope(|sc| file.read_all_begin(sc, &mut dc)?.end().map(drop))?;
    }
    ensure_eq!(c.0, block(other, N));
    // A short read copies back only what the file had.
    let mut d = Emu(vec![-1.0f64; 4]);
    let st = file.read_at((n as usize * N - 2) as u64, &mut DeviceMut(&mut d))?;
    ensure_eq!(st.count::<f64>()?, 2);
    ensure_eq!(d.0, [block(n - 1, N)[N - 2..].to_vec(), vec![-1.0; 2]].concat());
    // Nonblocking and split writes from device memory (after every rank's short read: they
    // make the file longer).
    world.barrier()?;
    let tail = (n as usize * N) as u64;
    let e = Emu(block(me + 50, N));
    let dev = Device(&e);
    mpi4rs::scope(|sc| file.iwrite_at(sc, tail + (me as usize * N) as u64, &dev)?.wait().map(drop))?;
    mpi4rs::scope(|sc| file.write_ordered_begin(sc, &dev)?.end().map(drop))?;
    settle(&file, world)?;
    let mut back = vec![0.0f64; N];
    file.read_exact_at(tail + (other as usize * N) as u64, &mut back)?;
    ensure_eq!(back, block(other + 50, N));
    ensure!(transfer::stats().staged >= staged + 7);
    common::emu::emulate(false);
    file.close()?;
    s.finish()
}
