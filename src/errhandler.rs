//! Per-handle error handlers (mpi4py's `Errhandler`, `Comm.Set_errhandler`,
//! `Comm.Create_errhandler`, and the same for windows and files).
//!
//! mpi4rs installs `ERRORS_RETURN` on every handle it makes (or `ERRORS_ARE_FATAL` with
//! [`ErrorPolicy::Fatal`](crate::ErrorPolicy)), so that MPI errors come back as
//! [`Error::Mpi`]. One handle can be given another handler:
//!
//! - [`Errhandler::fatal`] (`MPI_ERRORS_ARE_FATAL`) before a communicator is handed to a C or
//!   Fortran library that expects MPI's default and never checks return codes;
//! - [`Errhandler::returning`] (`MPI_ERRORS_RETURN`) to restore mpi4rs's default;
//! - a handler made from a closure ([`Errhandler::for_comm`], [`for_win`](Errhandler::for_win),
//!   [`for_file`](Errhandler::for_file)), which MPI calls with the error before the failing
//!   call returns. When the closure returns, the MPI call returns its error code as usual, and
//!   mpi4rs turns it into an `Err`: a user handler observes errors, it does not swallow them.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::Errhandler;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//!
//! let env = mpi4rs::init()?;
//! let comm = env.world().dup()?;
//! let seen = Arc::new(AtomicUsize::new(0));
//! let counter = seen.clone();
//! let handler = Errhandler::for_comm(move |e| {
//!     eprintln!("MPI error: {e}");
//!     counter.fetch_add(1, Ordering::Relaxed);
//! })?;
//! comm.set_errhandler(&handler)?;
//! comm.call_errhandler(mpi4rs::ffi::ERR_OTHER()).ok(); // runs the closure
//! assert_eq!(seen.load(Ordering::Relaxed), 1);
//! comm.set_errhandler(&Errhandler::fatal())?; // now for a C library that expects MPI's default
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! # Soundness
//! The closure runs inside an MPI call, on whatever thread made it, so it must be `Send +
//! Sync + 'static` (it cannot capture a handle: handles are thread-bound). It must not unwind
//! into MPI's C frames: a panic in it is caught, reported on standard error, and aborts the
//! job (`MPI_Abort` on `COMM_WORLD`, as mpi4rs's panic hook does), since MPI's state after
//! an unwinding error handler is undefined. The handle the error came from is not given to the
//! closure (a borrowed handle made inside MPI's call could outlive it); the error's code, class
//! and message are.
//!
//! Handlers live in a process-wide table keyed by their MPI handle. MPI keeps an error handler
//! alive while any handle still uses it, even after its [`Errhandler`] is dropped, so the
//! closure stays in the table until MPI reuses the handle value for a new handler.
//!
//! Handles made later (`dup`, `split`, …) get mpi4rs's handler again, not the one set here
//! (MPI would copy it; mpi4rs installs its own on every handle it makes).

use crate::comm::{Comm, Communicator};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm, MPI_Errhandler, MPI_File, MPI_Win};
use crate::file::File;
use crate::intercomm::InterComm;
use crate::win::Win;
use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::{Arc, Mutex, OnceLock};

/// A user error handler's closure.
type Callback = Arc<dyn Fn(&Error) + Send + Sync + 'static>;

/// What kind of handle a handler may be set on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrhandlerKind {
    /// A predefined handler (`ERRORS_RETURN`, `ERRORS_ARE_FATAL`): any handle.
    Predefined,
    /// Made by [`Errhandler::for_comm`]: communicators only.
    Comm,
    /// Made by [`Errhandler::for_win`]: windows only.
    Win,
    /// Made by [`Errhandler::for_file`]: files only.
    File,
}

/// An MPI error handler (`MPI_Errhandler`). User handlers are freed on drop (MPI keeps them
/// alive while a handle still uses them).
pub struct Errhandler {
    raw: MPI_Errhandler,
    kind: ErrhandlerKind,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

/// The closures of the user handlers, by handle value.
fn table() -> &'static Mutex<HashMap<u64, Callback>> {
    static TABLE: OnceLock<Mutex<HashMap<u64, Callback>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A handle as a table key (a pointer on Open MPI, an integer on MPICH).
fn key(raw: MPI_Errhandler) -> u64 {
    let mut k = 0u64;
    let n = std::mem::size_of::<MPI_Errhandler>().min(8);
    // SAFETY: copies the handle's bytes (at most 8) into a u64.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&raw as *const MPI_Errhandler).cast::<u8>(),
            (&mut k as *mut u64).cast::<u8>(),
            n,
        )
    };
    k
}

/// Runs the closure registered for `eh` (a handle MPI just returned from `*_get_errhandler`,
/// freed here), catching a panic.
/// Like every raw call in these handlers, it runs inside the MPI call that failed, under that
/// call's gate (`mpi_call!`).
fn dispatch(mut eh: MPI_Errhandler, code: c_int) {
    let callback = table().lock().ok().and_then(|t| t.get(&key(eh)).cloned());
    // SAFETY: `eh` is a reference MPI handed out by *_get_errhandler; freeing it releases that
    // reference only (the handle stays set on the communicator, window or file).
    unsafe { ffi::MPI_Errhandler_free(&mut eh) };
    let Some(callback) = callback else { return };
    let error = Error::from_code("an MPI call (error handler)", code);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&error)));
    if outcome.is_err() {
        eprintln!("mpi4rs: an error handler panicked (it runs inside an MPI call and may not unwind); aborting the job");
        // SAFETY: we are inside an MPI call, so MPI is initialised.
        unsafe { ffi::MPI_Abort(ffi::COMM_WORLD(), 1) };
        std::process::abort();
    }
}

unsafe extern "C" fn comm_handler(comm: *mut MPI_Comm, code: *mut c_int) {
    if comm.is_null() || code.is_null() {
        return;
    }
    let mut eh = ffi::ERRHANDLER_NULL();
    // SAFETY: MPI passes a valid communicator and error code to the handler it calls.
    if unsafe { ffi::MPI_Comm_get_errhandler(*comm, &mut eh) } == ffi::SUCCESS() {
        // SAFETY: as above.
        dispatch(eh, unsafe { *code });
    }
}

unsafe extern "C" fn win_handler(win: *mut MPI_Win, code: *mut c_int) {
    if win.is_null() || code.is_null() {
        return;
    }
    let mut eh = ffi::ERRHANDLER_NULL();
    // SAFETY: MPI passes a valid window and error code to the handler it calls.
    if unsafe { ffi::MPI_Win_get_errhandler(*win, &mut eh) } == ffi::SUCCESS() {
        // SAFETY: as above.
        dispatch(eh, unsafe { *code });
    }
}

unsafe extern "C" fn file_handler(file: *mut MPI_File, code: *mut c_int) {
    if file.is_null() || code.is_null() {
        return;
    }
    let mut eh = ffi::ERRHANDLER_NULL();
    // SAFETY: MPI passes a valid file and error code to the handler it calls.
    if unsafe { ffi::MPI_File_get_errhandler(*file, &mut eh) } == ffi::SUCCESS() {
        // SAFETY: as above.
        dispatch(eh, unsafe { *code });
    }
}

impl Errhandler {
    /// `MPI_ERRORS_ARE_FATAL`: an error on the handle aborts the job.
    pub fn fatal() -> Errhandler {
        Errhandler {
            raw: ffi::ERRORS_ARE_FATAL(),
            kind: ErrhandlerKind::Predefined,
            _thread: Default::default(),
        }
    }

    /// `MPI_ERRORS_RETURN`: errors come back as `Err` (mpi4rs's default).
    pub fn returning() -> Errhandler {
        Errhandler {
            raw: ffi::ERRORS_RETURN(),
            kind: ErrhandlerKind::Predefined,
            _thread: Default::default(),
        }
    }

    fn create(
        kind: ErrhandlerKind,
        f: Callback,
        make: impl FnOnce(&mut MPI_Errhandler) -> Result<()>,
    ) -> Result<Errhandler> {
        crate::error::require_active()?;
        let mut raw = ffi::ERRHANDLER_NULL();
        // Made first, registered after (not under the table's lock, which a handler running
        // in another thread's MPI call may need): MPI cannot call it before it is set on a
        // handle, which needs the value this returns.
        make(&mut raw)?;
        let handler = Errhandler { raw, kind, _thread: Default::default() };
        table()
            .lock()
            .map_err(|_| Error::InvalidArgument("error handler table poisoned".into()))?
            .insert(key(raw), f);
        Ok(handler)
    }

    /// A communicator error handler that calls `f` (`MPI_Comm_create_errhandler`).
    pub fn for_comm<F: Fn(&Error) + Send + Sync + 'static>(f: F) -> Result<Errhandler> {
        Errhandler::create(ErrhandlerKind::Comm, Arc::new(f), |raw| {
            let _call = crate::error::require_not_finalized()?;
            // SAFETY: `comm_handler` only forwards to the registered closure.
            let rc = unsafe { ffi::mpi4rs_comm_create_errhandler(comm_handler, raw) };
            crate::error::check("MPI_Comm_create_errhandler", rc)
        })
    }

    /// A window error handler that calls `f` (`MPI_Win_create_errhandler`).
    pub fn for_win<F: Fn(&Error) + Send + Sync + 'static>(f: F) -> Result<Errhandler> {
        Errhandler::create(ErrhandlerKind::Win, Arc::new(f), |raw| {
            let _call = crate::error::require_not_finalized()?;
            // SAFETY: `win_handler` only forwards to the registered closure.
            let rc = unsafe { ffi::mpi4rs_win_create_errhandler(win_handler, raw) };
            crate::error::check("MPI_Win_create_errhandler", rc)
        })
    }

    /// A file error handler that calls `f` (`MPI_File_create_errhandler`).
    pub fn for_file<F: Fn(&Error) + Send + Sync + 'static>(f: F) -> Result<Errhandler> {
        Errhandler::create(ErrhandlerKind::File, Arc::new(f), |raw| {
            let _call = crate::error::require_not_finalized()?;
            // SAFETY: `file_handler` only forwards to the registered closure.
            let rc = unsafe { ffi::mpi4rs_file_create_errhandler(file_handler, raw) };
            crate::error::check("MPI_File_create_errhandler", rc)
        })
    }

    /// The raw handle (still owned by `self`).
    pub fn as_raw(&self) -> MPI_Errhandler {
        self.raw
    }

    /// What kind of handle it may be set on.
    pub fn kind(&self) -> ErrhandlerKind {
        self.kind
    }

    /// Whether this is `MPI_ERRORS_ARE_FATAL`.
    pub fn is_fatal(&self) -> bool {
        self.raw == ffi::ERRORS_ARE_FATAL()
    }

    /// Whether this is `MPI_ERRORS_RETURN`.
    pub fn is_returning(&self) -> bool {
        self.raw == ffi::ERRORS_RETURN()
    }

    /// Refuses a handler made for another kind of handle (MPI would abort or misbehave).
    fn check_kind(&self, want: ErrhandlerKind) -> Result<()> {
        if self.kind == ErrhandlerKind::Predefined || self.kind == want {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "an error handler made for {:?} handles cannot be set on a {want:?} handle",
                self.kind
            )))
        }
    }

    /// The handler MPI reports as set (a new reference, freed by the returned value unless
    /// predefined).
    fn adopt(raw: MPI_Errhandler) -> Errhandler {
        let kind = if raw == ffi::ERRORS_ARE_FATAL() || raw == ffi::ERRORS_RETURN() {
            ErrhandlerKind::Predefined
        } else {
            ErrhandlerKind::Comm
        };
        Errhandler { raw, kind, _thread: Default::default() }
    }
}

impl Drop for Errhandler {
    fn drop(&mut self) {
        // Predefined handlers are never freed here (MPI allows freeing them as references, but
        // `fatal()`/`returning()` took none). References from `*_get_errhandler` are freed.
        if self.kind == ErrhandlerKind::Predefined {
            return;
        }
        if let Some(_call) = crate::runtime::enter_if_active() {
            // SAFETY: a user handler this value owns one reference to; MPI keeps it alive
            // while handles still use it.
            unsafe { ffi::MPI_Errhandler_free(&mut self.raw) };
        }
    }
}

impl std::fmt::Debug for Errhandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = if self.is_fatal() {
            "ERRORS_ARE_FATAL"
        } else if self.is_returning() {
            "ERRORS_RETURN"
        } else {
            "user"
        };
        f.debug_struct("Errhandler").field("handler", &name).field("kind", &self.kind).finish()
    }
}

fn set_comm(raw: MPI_Comm, eh: &Errhandler) -> Result<()> {
    eh.check_kind(ErrhandlerKind::Comm)?;
    mpi_call!(MPI_Comm_set_errhandler(raw, eh.raw))
}

fn get_comm(raw: MPI_Comm) -> Result<Errhandler> {
    let mut eh = ffi::ERRHANDLER_NULL();
    mpi_call!(MPI_Comm_get_errhandler(raw, &mut eh))?;
    Ok(Errhandler::adopt(eh))
}

impl Comm {
    /// Sets this communicator's error handler (`MPI_Comm_set_errhandler`): see the
    /// [module docs](crate::errhandler). A handler made for windows or files is refused.
    pub fn set_errhandler(&self, errhandler: &Errhandler) -> Result<()> {
        set_comm(self.as_raw(), errhandler)
    }

    /// The communicator's error handler (`MPI_Comm_get_errhandler`).
    pub fn errhandler(&self) -> Result<Errhandler> {
        get_comm(self.as_raw())
    }

    /// Calls the communicator's error handler with `errorcode` (`MPI_Comm_call_errhandler`),
    /// as MPI would on an error. With `ERRORS_RETURN` (or a user handler, once it returns)
    /// this returns `Ok` or the error for `errorcode`, depending on the MPI library; with
    /// `ERRORS_ARE_FATAL` the job ends.
    pub fn call_errhandler(&self, errorcode: i32) -> Result<()> {
        mpi_call!(MPI_Comm_call_errhandler(self.as_raw(), errorcode))
    }
}

impl InterComm {
    /// Sets this intercommunicator's error handler (as [`Comm::set_errhandler`]).
    pub fn set_errhandler(&self, errhandler: &Errhandler) -> Result<()> {
        set_comm(self.as_raw(), errhandler)
    }

    /// The intercommunicator's error handler (`MPI_Comm_get_errhandler`).
    pub fn errhandler(&self) -> Result<Errhandler> {
        get_comm(self.as_raw())
    }
}

impl<M> Win<M> {
    /// Sets this window's error handler (`MPI_Win_set_errhandler`); a handler made for
    /// communicators or files is refused.
    pub fn set_errhandler(&self, errhandler: &Errhandler) -> Result<()> {
        errhandler.check_kind(ErrhandlerKind::Win)?;
        mpi_call!(MPI_Win_set_errhandler(self.as_raw(), errhandler.raw))
    }

    /// The window's error handler (`MPI_Win_get_errhandler`).
    pub fn errhandler(&self) -> Result<Errhandler> {
        let mut eh = ffi::ERRHANDLER_NULL();
        mpi_call!(MPI_Win_get_errhandler(self.as_raw(), &mut eh))?;
        let mut eh = Errhandler::adopt(eh);
        if eh.kind != ErrhandlerKind::Predefined {
            eh.kind = ErrhandlerKind::Win;
        }
        Ok(eh)
    }

    /// Calls the window's error handler with `errorcode` (`MPI_Win_call_errhandler`).
    pub fn call_errhandler(&self, errorcode: i32) -> Result<()> {
        mpi_call!(MPI_Win_call_errhandler(self.as_raw(), errorcode))
    }
}

impl File {
    /// Sets this file's error handler (`MPI_File_set_errhandler`); a handler made for
    /// communicators or windows is refused.
    pub fn set_errhandler(&self, errhandler: &Errhandler) -> Result<()> {
        errhandler.check_kind(ErrhandlerKind::File)?;
        mpi_call!(MPI_File_set_errhandler(self.as_raw(), errhandler.raw))
    }

    /// The file's error handler (`MPI_File_get_errhandler`).
    pub fn errhandler(&self) -> Result<Errhandler> {
        let mut eh = ffi::ERRHANDLER_NULL();
        mpi_call!(MPI_File_get_errhandler(self.as_raw(), &mut eh))?;
        let mut eh = Errhandler::adopt(eh);
        if eh.kind != ErrhandlerKind::Predefined {
            eh.kind = ErrhandlerKind::File;
        }
        Ok(eh)
    }

    /// Calls the file's error handler with `errorcode` (`MPI_File_call_errhandler`).
    pub fn call_errhandler(&self, errorcode: i32) -> Result<()> {
        mpi_call!(MPI_File_call_errhandler(self.as_raw(), errorcode))
    }
}
