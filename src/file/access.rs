//! Data access (MPI-3.1 chapter 13.4): reads and writes of a [`File`] in every form MPI has.
//!
//! | positioning | independent | collective | nonblocking | split collective |
//! |---|---|---|---|---|
//! | explicit offset | `read_at` `write_at` | `read_at_all` `write_at_all` | `iread_at` `iwrite_at` `iread_at_all` `iwrite_at_all` | `read_at_all_begin` `write_at_all_begin` |
//! | individual file pointer | `read` `write` | `read_all` `write_all` | `iread` `iwrite` `iread_all` `iwrite_all` | `read_all_begin` `write_all_begin` |
//! | shared file pointer | `read_shared` `write_shared` | `read_ordered` `write_ordered` | `iread_shared` `iwrite_shared` | `read_ordered_begin` `write_ordered_begin` |
//!
//! and `read_exact*` beside every blocking read, which makes a short read an error.
//!
//! Offsets and positions count etypes of the file's view (bytes for the default view). The
//! memory side is any [`Buffer`] / [`BufferMut`]: host slices, [`Typed`](crate::Typed) views,
//! device buffers (staged through pinned memory where MPI is not CUDA-aware; a staged read is
//! copied back when its request or split collective completes, only as far as the file had
//! data).
//!
//! # How the forms are made
//! The 34 methods share their shape per kind: one generic internal function each for blocking
//! reads and writes, nonblocking starts and split-collective begins (buffer routing, count
//! conversion, the MPI call as a closure, staging completion), and three macros that turn a
//! table of (method name, MPI function, whether it takes an offset) into the thin public
//! methods. The split-collective guard keeps the routed buffer and the matching `_end`
//! function.
//!
//! # Lending memory
//! Nonblocking accesses and split collectives take a [`Scope`]: the buffer (and the file) are
//! borrowed for the scope's lifetime, and the scope completes what is still outstanding when
//! it ends — it waits for forgotten requests, and it runs the `_end` call of a forgotten
//! [`SplitCollective`] (a closing step of the scope) — so `std::mem::forget` on a handle
//! cannot release memory MPI still reads or writes.

use super::{to_offset, File};
use crate::buffer::{Buffer, BufferMut};
use crate::error::{check, Error, Result};
use crate::ffi::{self, MPI_Datatype, MPI_File, MPI_Offset, MPI_Request, MPI_Status};
use crate::request::Request;
use crate::runtime::is_active;
use crate::scope::{Scope, ScopeCore};
use crate::status::Status;
use crate::transfer::stage::{Fill, Transfer};
use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::rc::Rc;
use std::sync::atomic::Ordering;

type ReadEnd = unsafe extern "C" fn(MPI_File, *mut c_void, *mut MPI_Status) -> c_int;
type WriteEnd = unsafe extern "C" fn(MPI_File, *const c_void, *mut MPI_Status) -> c_int;

/// The `_end` call of a split collective.
#[derive(Clone, Copy)]
enum End {
    Read(ReadEnd),
    Write(WriteEnd),
}

/// A split collective in progress (`MPI_File_…_begin`), begun in a [`Scope`]: the file and
/// the buffer stay borrowed for the scope's lifetime. [`end`](Self::end) completes it; dropping
/// it ends it too (the error, if any, is lost), and if it is forgotten the scope ends it when
/// the scope ends, before the buffer is released.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// use mpi4rs::{AccessMode, File};
///
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// let file = File::open(world, "data", AccessMode::RDONLY)?;
/// let mut block = vec![0.0f64; 1024];
/// let status = mpi4rs::scope(|s| {
///     let split = file.read_at_all_begin(s, world.rank() as u64 * 8192, &mut block)?;
///     // ... compute while the read proceeds ...
///     split.end()
/// })?;
/// println!("read {} values", status.count::<f64>()?);
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[must_use = "dropping a split collective ends it at once"]
pub struct SplitCollective<'s> {
    state: Rc<RefCell<SplitState>>,
    scope: &'s ScopeCore,
    slot: usize,
}

/// What the guard and its scope's closing step share.
struct SplitState {
    /// The file; valid while the scope lasts (see `SplitState::finish`).
    file: *const File,
    /// The buffer address given to `_begin` (a staging buffer when staged).
    ptr: *mut c_void,
    end: End,
    call: &'static str,
    /// The routing of the buffer; `None` once ended.
    transfer: Option<Transfer>,
}

impl SplitState {
    fn finish(&mut self) -> Result<Status> {
        let _call = crate::error::require_not_finalized()?;
        let Some(transfer) = self.transfer.take() else { return Ok(Status::default()) };
        if !is_active() {
            return Ok(Status::default());
        }
        // SAFETY: the split collective was begun with the file borrowed for its scope's
        // lifetime (`&'s File`); this runs from the guard (inside the scope) or from the
        // scope's closing step (before it ends), so the file is alive and unmoved.
        let file = unsafe { &*self.file };
        let mut status = Status::default();
        // SAFETY: the buffer at `ptr` is what `_begin` was given, still borrowed for the scope
        // (or the staging buffer that `transfer` owns).
        let code = unsafe {
            match self.end {
                End::Read(f) => f(file.raw, self.ptr, &mut status.0),
                End::Write(f) => f(file.raw, self.ptr, &mut status.0),
            }
        };
        file.split_active.store(false, Ordering::Release);
        check(self.call, code)?;
        transfer.blocking(Some(&status))?;
        Ok(status)
    }
}

impl SplitCollective<'_> {
    /// Completes the split collective (`MPI_File_…_end`): the status of the access. The
    /// buffer stays borrowed until the scope ends.
    pub fn end(self) -> Result<Status> {
        let r = self.state.borrow_mut().finish();
        r
    }
}

impl Drop for SplitCollective<'_> {
    fn drop(&mut self) {
        let _ = self.state.borrow_mut().finish();
        self.scope.finished(self.slot);
    }
}

impl std::fmt::Debug for SplitCollective<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitCollective").field("end", &self.state.borrow().call).finish()
    }
}

#[cold]
#[inline(never)]
fn short_read(expected: usize, read: usize) -> Error {
    Error::ShortRead { expected, read }
}

/// Whether a blocking read must fill its buffer, and how it finds out how much the file held.
#[derive(Clone, Copy)]
enum Exact {
    /// A plain read: the status says what it says.
    No,
    /// The status count decides (shared-pointer forms, whose start is not known here).
    Status,
    /// The status count, capped by what the file holds from view offset `start`: collective
    /// reads past the end are zero-filled and reported in full by MPICH and Open MPI (3 ranks
    /// or more), so their status cannot be trusted there.
    From(Start),
}

/// Where an exact read starts.
#[derive(Clone, Copy)]
enum Start {
    /// An explicit offset, in etypes.
    At(MPI_Offset),
    /// The individual file pointer (read before the access).
    Pointer,
}

/// The exact-read mode of a table entry: `at offset`, `pointer` or `shared`.
macro_rules! exact_mode {
    (at $off:ident) => {
        Exact::From(Start::At($off))
    };
    (pointer) => {
        Exact::From(Start::Pointer)
    };
    (shared) => {
        Exact::Status
    };
}

/// The generic bodies that the public methods below are made of.
impl File {
    /// A blocking read: routes `buf`, calls `f(ptr, count, datatype, status)`, completes the
    /// staging; an `exact` read that got less than `buf` holds is [`Error::ShortRead`].
    #[inline]
    fn read_blocking<B: BufferMut + ?Sized>(
        &self,
        call: &'static str,
        buf: &mut B,
        exact: Exact,
        f: impl FnOnce(*mut c_void, c_int, MPI_Datatype, *mut MPI_Status) -> c_int,
    ) -> Result<Status> {
        let start = match exact {
            Exact::From(Start::At(offset)) => Some(offset),
            Exact::From(Start::Pointer) => Some(to_offset("file position", self.position()?)?),
            _ => None,
        };
        let mut t = Transfer::new(call);
        let s = t.write(buf, Fill::Received)?;
        let mut status = Status::default();
        let _call = crate::error::require_not_finalized()?;
        check(call, f(s.ptr, s.c_count()?, s.datatype, &mut status.0))?;
        t.blocking(Some(&status))?;
        if !matches!(exact, Exact::No) {
            let (expected, mut read) = (s.data_bytes()?, status.bytes()?);
            if let Some(start) = start {
                read = read.min(self.bytes_before_end(start, expected)?);
            }
            if read < expected {
                return Err(short_read(expected, read));
            }
        }
        Ok(status)
    }

    /// How many of `bytes` bytes of data from view offset `start` the file holds: whole etypes
    /// that end before the end of the file (a binary search over `MPI_File_get_byte_offset`,
    /// which follows the view's holes, only when the last etype lies past the end).
    fn bytes_before_end(&self, start: MPI_Offset, bytes: usize) -> Result<usize> {
        let etype = self.etype_size.load(Ordering::Relaxed).max(1);
        let n = (bytes / etype) as u64;
        let (start, size) = (u64::try_from(start).unwrap_or(0), self.size()?);
        // Whether the first k etypes lie inside the file.
        let fits = |k: u64| -> Result<bool> {
            Ok(k == 0 || self.byte_offset(start + k - 1)? + etype as u64 <= size)
        };
        if fits(n)? {
            return Ok(bytes);
        }
        let (mut lo, mut hi) = (0, n); // fits(lo), !fits(hi)
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(mid)? {
                lo = mid
            } else {
                hi = mid
            }
        }
        Ok(lo as usize * etype)
    }

    /// A blocking write: routes `buf` and calls `f(ptr, count, datatype, status)`.
    #[inline]
    fn write_blocking<B: Buffer + ?Sized>(
        &self,
        call: &'static str,
        buf: &B,
        f: impl FnOnce(*const c_void, c_int, MPI_Datatype, *mut MPI_Status) -> c_int,
    ) -> Result<Status> {
        let mut t = Transfer::new(call);
        let s = t.read(buf)?;
        let mut status = Status::default();
        let _call = crate::error::require_not_finalized()?;
        check(call, f(s.ptr, s.c_count()?, s.datatype, &mut status.0))?;
        t.blocking(Some(&status))?;
        Ok(status)
    }

    /// Starts a nonblocking read: `f(ptr, count, datatype, request)`.
    #[inline]
    fn read_start<'s, B: BufferMut + ?Sized>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        call: &'static str,
        buf: &'s mut B,
        f: impl FnOnce(*mut c_void, c_int, MPI_Datatype, *mut MPI_Request) -> c_int,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new(call);
        let s = t.write(buf, Fill::Received)?;
        let mut req = ffi::REQUEST_NULL();
        let _call = crate::error::require_not_finalized()?;
        check(call, f(s.ptr, s.c_count()?, s.datatype, &mut req))?;
        Ok(t.request(scope, req))
    }

    /// Starts a nonblocking write: `f(ptr, count, datatype, request)`.
    #[inline]
    fn write_start<'s, B: Buffer + ?Sized>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        call: &'static str,
        buf: &'s B,
        f: impl FnOnce(*const c_void, c_int, MPI_Datatype, *mut MPI_Request) -> c_int,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new(call);
        let s = t.read(buf)?;
        let mut req = ffi::REQUEST_NULL();
        let _call = crate::error::require_not_finalized()?;
        check(call, f(s.ptr, s.c_count()?, s.datatype, &mut req))?;
        Ok(t.request(scope, req))
    }

    /// Marks a split collective as in progress, or says that one already is.
    fn claim_split(&self, call: &'static str) -> Result<()> {
        if self.split_active.swap(true, Ordering::AcqRel) {
            return Err(Error::InvalidArgument(format!(
                "{call}: a split collective is already in progress on this file; end it first \
                 (MPI allows one at a time per file)"
            )));
        }
        Ok(())
    }

    /// Begins a split collective in `scope`: claims the file's split slot, routes the buffer
    /// with `route` and calls `f(ptr, count, datatype)`; the guard (or the scope) ends it with
    /// `end`.
    fn begin<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        call: &'static str,
        end: (End, &'static str),
        route: impl FnOnce(&mut Transfer) -> Result<(*mut c_void, c_int, MPI_Datatype)>,
        f: impl FnOnce(*mut c_void, c_int, MPI_Datatype) -> c_int,
    ) -> Result<SplitCollective<'s>> {
        self.claim_split(call)?;
        let mut t = Transfer::new(call);
        let _call = crate::error::require_not_finalized()?;
        let started = route(&mut t).and_then(|(ptr, n, d)| check(call, f(ptr, n, d)).map(|()| ptr));
        match started {
            Ok(ptr) => {
                let state = Rc::new(RefCell::new(SplitState {
                    file: self,
                    ptr,
                    end: end.0,
                    call: end.1,
                    transfer: Some(t),
                }));
                let kept = Rc::clone(&state);
                let scope = scope.core();
                let slot = scope.register_finisher(Box::new(move || kept.borrow_mut().finish().map(drop)));
                Ok(SplitCollective { state, scope, slot })
            }
            Err(e) => {
                self.split_active.store(false, Ordering::Release);
                Err(e)
            }
        }
    }
}

/// Blocking reads and their `read_exact` twins: `doc: name, exact_name (at offset | pointer | shared) = MPI_fn;`.
macro_rules! blocking_reads {
    ($($what:literal: $name:ident, $exact:ident ($kind:ident $($off:ident)?) = $f:ident;)*) => {
        impl File {$(
            #[doc = concat!("Reads into `buf` ", $what, " (`", stringify!($f), "`). At the end of \
                the file the read stops short: the status says how much was read ([`",
                stringify!($exact), "`](Self::", stringify!($exact), ") makes that an error).")]
            pub fn $name<B: BufferMut + ?Sized>(&self, $($off: u64,)? buf: &mut B) -> Result<Status> {
                $(let $off = to_offset("file offset", $off)?;)?
                let fh = self.raw;
                // SAFETY: the closure gets the routed buffer's address, count and datatype.
                self.read_blocking(stringify!($f), buf, Exact::No, |p, n, d, st| unsafe { ffi::$f(fh, $($off,)? p, n, d, st) })
            }

            #[doc = concat!("Like [`", stringify!($name), "`](Self::", stringify!($name), "), but \
                reading fewer bytes than `buf` holds is [`Error::ShortRead`] (`", stringify!($f), "`).")]
            pub fn $exact<B: BufferMut + ?Sized>(&self, $($off: u64,)? buf: &mut B) -> Result<Status> {
                $(let $off = to_offset("file offset", $off)?;)?
                let fh = self.raw;
                // SAFETY: as above.
                self.read_blocking(stringify!($f), buf, exact_mode!($kind $($off)?), |p, n, d, st| unsafe { ffi::$f(fh, $($off,)? p, n, d, st) })
            }
        )*}
    };
}

/// Blocking writes: `doc: name (offset?) = MPI_fn;`.
macro_rules! blocking_writes {
    ($($what:literal: $name:ident ($($off:ident)?) = $f:ident;)*) => {
        impl File {$(
            #[doc = concat!("Writes `buf` ", $what, " (`", stringify!($f), "`).")]
            pub fn $name<B: Buffer + ?Sized>(&self, $($off: u64,)? buf: &B) -> Result<Status> {
                $(let $off = to_offset("file offset", $off)?;)?
                let fh = self.raw;
                // SAFETY: the closure gets the routed buffer's address, count and datatype.
                self.write_blocking(stringify!($f), buf, |p, n, d, st| unsafe { ffi::$f(fh, $($off,)? p, n, d, st) })
            }
        )*}
    };
}

/// Nonblocking starts: `read|write doc: name (offset?) = MPI_fn;`.
macro_rules! nonblocking {
    ($($dir:ident $what:literal: $name:ident ($($off:ident)?) = $f:ident;)*) => {
        impl File {$(nonblocking!(@one $dir $what $name ($($off)?) $f);)*}
    };
    (@one read $what:literal $name:ident ($($off:ident)?) $f:ident) => {
        #[doc = concat!("Starts reading into `buf` ", $what, " (`", stringify!($f), "`). The \
            buffer and the file stay lent for the scope; its status says how \
            much was read.")]
        pub fn $name<'s, B: BufferMut + ?Sized>(&'s self, scope: &'s Scope<'s, '_>, $($off: u64,)? buf: &'s mut B) -> Result<Request<'s>> {
            $(let $off = to_offset("file offset", $off)?;)?
            let fh = self.raw;
            // SAFETY: the closure gets the routed buffer, which stays borrowed by the request.
            self.read_start(scope, stringify!($f), buf, |p, n, d, r| unsafe { ffi::$f(fh, $($off,)? p, n, d, r) })
        }
    };
    (@one write $what:literal $name:ident ($($off:ident)?) $f:ident) => {
        #[doc = concat!("Starts writing `buf` ", $what, " (`", stringify!($f), "`). The buffer \
            and the file stay borrowed until the request completes.")]
        pub fn $name<'s, B: Buffer + ?Sized>(&'s self, scope: &'s Scope<'s, '_>, $($off: u64,)? buf: &'s B) -> Result<Request<'s>> {
            $(let $off = to_offset("file offset", $off)?;)?
            let fh = self.raw;
            // SAFETY: as above.
            self.write_start(scope, stringify!($f), buf, |p, n, d, r| unsafe { ffi::$f(fh, $($off,)? p, n, d, r) })
        }
    };
}

/// Split-collective begins: `read|write doc: name (offset?) = MPI_begin, MPI_end;`.
macro_rules! split {
    ($($dir:ident $what:literal: $name:ident ($($off:ident)?) = $f:ident, $end:ident;)*) => {
        impl File {$(split!(@one $dir $what $name ($($off)?) $f $end);)*}
    };
    (@one read $what:literal $name:ident ($($off:ident)?) $f:ident $end:ident) => {
        #[doc = concat!("Begins a split collective read into `buf` ", $what, " (`", stringify!($f),
            "`) in `scope`; the guard's [`end`](SplitCollective::end) (`", stringify!($end), "`) \
            completes it, or the scope's end if the guard was forgotten. One split collective per \
            file at a time: beginning another before the end is an error.")]
        pub fn $name<'s, B: BufferMut + ?Sized>(&'s self, scope: &'s Scope<'s, '_>, $($off: u64,)? buf: &'s mut B) -> Result<SplitCollective<'s>> {
            $(let $off = to_offset("file offset", $off)?;)?
            let fh = self.raw;
            self.begin(
                scope,
                stringify!($f),
                (End::Read(ffi::$end), stringify!($end)),
                |t| { let s = t.write(buf, Fill::Received)?; Ok((s.ptr, s.c_count()?, s.datatype)) },
                // SAFETY: the routed buffer stays borrowed by the guard until the end.
                |p, n, d| unsafe { ffi::$f(fh, $($off,)? p, n, d) },
            )
        }
    };
    (@one write $what:literal $name:ident ($($off:ident)?) $f:ident $end:ident) => {
        #[doc = concat!("Begins a split collective write of `buf` ", $what, " (`", stringify!($f),
            "`) in `scope`; the guard's [`end`](SplitCollective::end) (`", stringify!($end), "`) \
            completes it, or the scope's end if the guard was forgotten. One split collective per \
            file at a time.")]
        pub fn $name<'s, B: Buffer + ?Sized>(&'s self, scope: &'s Scope<'s, '_>, $($off: u64,)? buf: &'s B) -> Result<SplitCollective<'s>> {
            $(let $off = to_offset("file offset", $off)?;)?
            let fh = self.raw;
            self.begin(
                scope,
                stringify!($f),
                (End::Write(ffi::$end), stringify!($end)),
                |t| { let s = t.read(buf)?; Ok((s.ptr.cast_mut(), s.c_count()?, s.datatype)) },
                // SAFETY: as above.
                |p, n, d| unsafe { ffi::$f(fh, $($off,)? p.cast_const(), n, d) },
            )
        }
    };
}

blocking_reads! {
    "at `offset` (in etypes of the view), independently":
        read_at, read_exact_at (at offset) = MPI_File_read_at;
    "at `offset` (in etypes of the view), collectively: every process of the file calls it":
        read_at_all, read_exact_at_all (at offset) = MPI_File_read_at_all;
    "at this process's file pointer, which moves past the data read, independently":
        read, read_exact (pointer) = MPI_File_read;
    "at this process's file pointer, which moves past the data read, collectively":
        read_all, read_exact_all (pointer) = MPI_File_read_all;
    "at the shared file pointer, which moves past the data read, independently (in no \
     particular order between processes)":
        read_shared, read_exact_shared (shared) = MPI_File_read_shared;
    "at the shared file pointer, collectively, in rank order (rank 0 reads first)":
        read_ordered, read_exact_ordered (shared) = MPI_File_read_ordered;
}

blocking_writes! {
    "at `offset` (in etypes of the view), independently": write_at (offset) = MPI_File_write_at;
    "at `offset` (in etypes of the view), collectively: every process of the file calls it":
        write_at_all (offset) = MPI_File_write_at_all;
    "at this process's file pointer, which moves past the data written, independently":
        write () = MPI_File_write;
    "at this process's file pointer, which moves past the data written, collectively":
        write_all () = MPI_File_write_all;
    "at the shared file pointer, which moves past the data written, independently (in no \
     particular order between processes)":
        write_shared () = MPI_File_write_shared;
    "at the shared file pointer, collectively, in rank order (rank 0's data first)":
        write_ordered () = MPI_File_write_ordered;
}

nonblocking! {
    read "at `offset` (in etypes of the view), independently": iread_at (offset) = MPI_File_iread_at;
    read "at `offset` (in etypes of the view), collectively": iread_at_all (offset) = MPI_File_iread_at_all;
    read "at this process's file pointer, independently": iread () = MPI_File_iread;
    read "at this process's file pointer, collectively": iread_all () = MPI_File_iread_all;
    read "at the shared file pointer, independently": iread_shared () = MPI_File_iread_shared;
    write "at `offset` (in etypes of the view), independently": iwrite_at (offset) = MPI_File_iwrite_at;
    write "at `offset` (in etypes of the view), collectively": iwrite_at_all (offset) = MPI_File_iwrite_at_all;
    write "at this process's file pointer, independently": iwrite () = MPI_File_iwrite;
    write "at this process's file pointer, collectively": iwrite_all () = MPI_File_iwrite_all;
    write "at the shared file pointer, independently": iwrite_shared () = MPI_File_iwrite_shared;
}

split! {
    read "at `offset` (in etypes of the view)":
        read_at_all_begin (offset) = MPI_File_read_at_all_begin, MPI_File_read_at_all_end;
    read "at this process's file pointer": read_all_begin () = MPI_File_read_all_begin, MPI_File_read_all_end;
    read "at the shared file pointer, in rank order":
        read_ordered_begin () = MPI_File_read_ordered_begin, MPI_File_read_ordered_end;
    write "at `offset` (in etypes of the view)":
        write_at_all_begin (offset) = MPI_File_write_at_all_begin, MPI_File_write_at_all_end;
    write "at this process's file pointer": write_all_begin () = MPI_File_write_all_begin, MPI_File_write_all_end;
    write "at the shared file pointer, in rank order":
        write_ordered_begin () = MPI_File_write_ordered_begin, MPI_File_write_ordered_end;
}
