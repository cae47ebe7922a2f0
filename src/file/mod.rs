//! Parallel I/O (mpi4py's `File`): a file opened collectively by the processes of a
//! communicator, read and written through any buffer — host slices, derived-datatype views
//! ([`Typed`](crate::Typed)), and device memory, staged through pinned host memory by the
//! [transfer router](crate::transfer) where MPI is not CUDA-aware.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::{AccessMode, File};
//!
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let rank = world.rank() as u64;
//! // mpi4py's tutorial: every rank writes 10 copies of its rank, collectively, side by side.
//! let file = File::open(world, "datafile.contig", AccessMode::WRONLY | AccessMode::CREATE)?;
//! let buffer = [world.rank(); 10];
//! file.write_at_all(rank * 40, &buffer)?;
//! file.close()?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! # Layout
//! - this module: opening, closing, deleting, size, preallocation, sync, atomicity, info
//!   hints, the group and mode of a file;
//! - [`mode`]: [`AccessMode`], the typed flag set that refuses erroneous combinations;
//! - info hints as key–value pairs ([`Hints`], shared with windows: `crate::info`);
//! - [`view`]: file views (displacement, elementary type, file type, data representation);
//! - [`access`]: every data-access form — explicit offsets, individual and shared file
//!   pointers; independent and collective; blocking, nonblocking and split collective;
//! - [`position`]: seeking and position queries of both kinds of file pointer.
//!
//! # Errors
//! Every file gets the library's error handler (`MPI_ERRORS_RETURN` unless the configuration
//! asks for fatal errors), and so does `MPI_FILE_NULL` before each open and delete, so that a
//! missing file or a refused access is an [`Error::Mpi`] of the MPI class
//! the library gives (Open MPI and MPICH do not always pick the same class: a missing file is
//! `MPI_ERR_NO_SUCH_FILE` in both, a write to a read-only file `MPI_ERR_READ_ONLY` or
//! `MPI_ERR_ACCESS`). Access modes are checked before MPI is called.
//!
//! **Reading past the end** of a file is not an error in MPI: the read stops there and the
//! [`Status`](crate::Status) says how much was read (`status.count::<T>()`,
//! `status.bytes()`), as `std::io::Read::read` returns a short count. The `read_exact*` forms
//! turn a short read into [`Error::ShortRead`], as
//! `Read::read_exact` does.
//!
//! Two library differences show here. Collective reads past the end are reported in full by
//! MPICH and by Open MPI on 3 ranks or more, the missing part of the buffer filled with zeros
//! (Open MPI) or stale bytes (MPICH); the `read_exact*` forms with a known start (explicit
//! offsets, individual file pointer) therefore check against the file size and the view, not
//! the status. And after a short read through a file pointer, MPICH leaves the pointer after
//! the data read, Open MPI after the amount requested.
//!
//! # Lifetimes
//! Nonblocking operations and split collectives are started in a [`Scope`](crate::Scope)
//! (`file.iread_at(s, …)`, `file.read_all_begin(s, …)`): they borrow the buffer and the file
//! for the scope's lifetime, and return a [`Request`](crate::Request) or a
//! [`SplitCollective`] guard; the scope completes them (waits, or runs the `_end` call) if the
//! handle was forgotten, so neither the buffer nor the file (whose close would fail with
//! operations pending) can go away while MPI uses them. Dropping a file closes it (`MPI_File_close`, collective), as
//! [`close`](File::close) does with its error reported.

pub mod access;
pub mod mode;
pub mod position;
pub mod view;

pub use crate::info::Hints;
pub use access::SplitCollective;
pub use mode::AccessMode;
pub use view::View;

use crate::comm::{Comm, Communicator};
use crate::datatype::Datatype;
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_File, MPI_Offset};
use crate::group::Group;
use crate::info::Info;
use crate::runtime::{enter_if_active, error_handler};
use std::ffi::{c_int, CString};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize};

/// `MPI_FILE_NULL`.
#[inline]
fn file_null() -> MPI_File {
    // SAFETY: a constant rsmpi exports from C.
    unsafe { ffi::RSMPI_FILE_NULL }
}

/// A file opened by the processes of a communicator (`MPI_File`). Closed on drop.
pub struct File {
    raw: MPI_File,
    /// A split collective is in progress (MPI allows one per file at a time).
    split_active: AtomicBool,
    /// Size in bytes of the view's etype (1 for the default view), for [`access`]'s
    /// end-of-file checks.
    etype_size: AtomicUsize,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

/// A byte count or offset as an `MPI_Offset`, or an error saying it does not fit.
#[inline]
pub(crate) fn to_offset(what: &'static str, value: u64) -> Result<MPI_Offset> {
    i64::try_from(value).map(|v| v as MPI_Offset).map_err(|_| Error::CountOverflow {
        what,
        value: usize::try_from(value).unwrap_or(usize::MAX),
        max: i64::MAX as usize,
    })
}

/// An `MPI_Offset` MPI returned, as `u64`.
#[inline]
#[allow(clippy::useless_conversion)]
pub(crate) fn from_offset(call: &str, value: MPI_Offset) -> Result<u64> {
    u64::try_from(i64::from(value))
        .map_err(|_| Error::InvalidArgument(format!("{call} returned the negative offset {value}")))
}

/// A path as the C string MPI takes.
fn c_path(path: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::InvalidArgument(format!("the file name {path:?} contains NUL")))
}

/// Makes errors of file calls without a file (open, delete) return.
fn file_null_returns_errors() -> Result<()> {
    mpi_call!(MPI_File_set_errhandler(file_null(), error_handler()))
}

impl File {
    /// Opens `path` on every process of `comm`, collectively (`MPI_File_open`): all must pass
    /// the same mode and name the same file.
    pub fn open<P: AsRef<Path>>(comm: &Comm, path: P, mode: AccessMode) -> Result<File> {
        File::open_with(comm, path, mode, &[])
    }

    /// [`open`](Self::open) with info hints (e.g. `&[("cb_nodes", "1")]`).
    pub fn open_with<P: AsRef<Path>>(
        comm: &Comm,
        path: P,
        mode: AccessMode,
        hints: Hints<'_>,
    ) -> Result<File> {
        let amode = mode.check()?;
        let path = c_path(path.as_ref())?;
        let info = Info::for_call(hints)?;
        file_null_returns_errors()?;
        let mut raw = file_null();
        mpi_call!(MPI_File_open(
            comm.as_raw(),
            path.as_ptr(),
            amode,
            Info::raw_or_null(info.as_ref()),
            &mut raw
        ))?;
        // Owned from here: an error below closes it.
        let file = File {
            raw,
            split_active: AtomicBool::new(false),
            etype_size: AtomicUsize::new(1),
            _thread: std::marker::PhantomData,
        };
        mpi_call!(MPI_File_set_errhandler(file.raw, error_handler()))?;
        Ok(file)
    }

    /// Deletes a file (`MPI_File_delete`); not collective: one process deletes it. A missing
    /// file is an error (class `NoSuchFile` on Open MPI and MPICH).
    pub fn delete<P: AsRef<Path>>(path: P) -> Result<()> {
        File::delete_with(path, &[])
    }

    /// [`delete`](Self::delete) with info hints.
    pub fn delete_with<P: AsRef<Path>>(path: P, hints: Hints<'_>) -> Result<()> {
        let path = c_path(path.as_ref())?;
        let info = Info::for_call(hints)?;
        file_null_returns_errors()?;
        mpi_call!(MPI_File_delete(path.as_ptr(), Info::raw_or_null(info.as_ref())))
    }

    /// Closes the file, collectively (`MPI_File_close`); a file opened with
    /// [`DELETE_ON_CLOSE`](AccessMode::DELETE_ON_CLOSE) is deleted.
    pub fn close(mut self) -> Result<()> {
        let result = mpi_call!(MPI_File_close(&mut self.raw));
        self.raw = file_null();
        result
    }

    /// The raw handle (still owned by `self`).
    pub fn as_raw(&self) -> MPI_File {
        self.raw
    }

    /// Sets the file's size in bytes, truncating or extending it; collective
    /// (`MPI_File_set_size`).
    pub fn set_size(&self, bytes: u64) -> Result<()> {
        mpi_call!(MPI_File_set_size(self.raw, to_offset("file size", bytes)?))
    }

    /// Makes sure the first `bytes` bytes of the file are allocated; collective
    /// (`MPI_File_preallocate`). A file shorter than that grows; a longer one keeps its size.
    pub fn preallocate(&self, bytes: u64) -> Result<()> {
        mpi_call!(MPI_File_preallocate(self.raw, to_offset("preallocation size", bytes)?))
    }

    /// The file's size in bytes (`MPI_File_get_size`).
    pub fn size(&self) -> Result<u64> {
        let mut size: MPI_Offset = 0;
        mpi_call!(MPI_File_get_size(self.raw, &mut size))?;
        from_offset("MPI_File_get_size", size)
    }

    /// The group of processes that opened the file (`MPI_File_get_group`).
    pub fn group(&self) -> Result<Group> {
        let mut g = ffi::GROUP_NULL();
        mpi_call!(MPI_File_get_group(self.raw, &mut g))?;
        Ok(Group::adopt(g))
    }

    /// The mode the file was opened with (`MPI_File_get_amode`).
    pub fn mode(&self) -> Result<AccessMode> {
        let mut amode: c_int = 0;
        mpi_call!(MPI_File_get_amode(self.raw, &mut amode))?;
        AccessMode::from_bits(amode)
    }

    /// Flushes what this process wrote to the storage device, and makes what others wrote and
    /// synced visible; collective (`MPI_File_sync`).
    pub fn sync(&self) -> Result<()> {
        mpi_call!(MPI_File_sync(self.raw))
    }

    /// Switches atomic mode on or off; collective (`MPI_File_set_atomicity`). In atomic mode a
    /// write by one process is seen whole or not at all by concurrent reads of others.
    pub fn set_atomicity(&self, atomic: bool) -> Result<()> {
        mpi_call!(MPI_File_set_atomicity(self.raw, c_int::from(atomic)))
    }

    /// Whether the file is in atomic mode (`MPI_File_get_atomicity`).
    pub fn atomicity(&self) -> Result<bool> {
        let mut flag: c_int = 0;
        mpi_call!(MPI_File_get_atomicity(self.raw, &mut flag))?;
        Ok(flag != 0)
    }

    /// Gives the file new info hints; collective (`MPI_File_set_info`).
    pub fn set_info(&self, hints: Hints<'_>) -> Result<()> {
        let info = Info::for_call(hints)?;
        mpi_call!(MPI_File_set_info(self.raw, Info::raw_or_null(info.as_ref())))
    }

    /// The hints in use, as key–value pairs (`MPI_File_get_info`): the library's own settings
    /// and those it accepted from the user (each library reports its own set of keys).
    pub fn info(&self) -> Result<Vec<(String, String)>> {
        let mut info = ffi::INFO_NULL();
        mpi_call!(MPI_File_get_info(self.raw, &mut info))?;
        Info::adopt(info).pairs()
    }

    /// How many bytes of the file one item of `datatype` takes in the file's data
    /// representation (`MPI_File_get_type_extent`).
    pub fn type_extent(&self, datatype: &Datatype) -> Result<usize> {
        let mut extent: ffi::MPI_Aint = 0;
        mpi_call!(MPI_File_get_type_extent(self.raw, datatype.as_raw(), &mut extent))?;
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        usize::try_from(extent as i64)
            .map_err(|_| Error::InvalidArgument(format!("MPI_File_get_type_extent returned {extent}")))
    }
}

impl Drop for File {
    fn drop(&mut self) {
        if self.raw == file_null() {
            return;
        }
        if let Some(_call) = enter_if_active() {
            // SAFETY: an open file this value owns; errors cannot be reported from drop.
            unsafe { ffi::MPI_File_close(&mut self.raw) };
        }
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File").field("mode", &self.mode().ok()).field("size", &self.size().ok()).finish()
    }
}
