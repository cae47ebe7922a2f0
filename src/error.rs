//! Errors: every MPI return code becomes a [`Result`], and argument mistakes MPI would not
//! catch safely are refused before MPI is called.

use crate::ffi;
use crate::runtime::{self, Refusal, ThreadLevel};
use std::ffi::{c_char, c_int};

/// The result type of every fallible mpi4rs call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An mpi4rs error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An MPI call returned an error code.
    #[error("{call} failed: {message} (class {class:?}, code {code})")]
    Mpi {
        /// The MPI function that failed, e.g. `"MPI_Recv"`.
        call: &'static str,
        /// The error class (`MPI_Error_class`).
        class: ErrorClass,
        /// The raw error code returned.
        code: i32,
        /// The text of `MPI_Error_string`.
        message: String,
    },
    /// A rank outside the communicator (or its remote group, for intercommunicators).
    #[error("invalid rank {rank}: the communicator has {size} processes{}", if *.allows_any { " (ANY_SOURCE and PROC_NULL are also allowed)" } else { " (PROC_NULL is also allowed)" })]
    InvalidRank {
        /// The rank given.
        rank: i32,
        /// The number of processes it had to be below.
        size: i32,
        /// Whether `ANY_SOURCE` was allowed here.
        allows_any: bool,
    },
    /// A tag below 0 or above `TAG_UB`.
    #[error("invalid tag {tag}: tags run from 0 to TAG_UB = {tag_ub}{}", if *.allows_any { " (or ANY_TAG)" } else { "" })]
    InvalidTag {
        /// The tag given.
        tag: i32,
        /// The largest valid tag of this MPI library.
        tag_ub: i32,
        /// Whether `ANY_TAG` was allowed here.
        allows_any: bool,
    },
    /// A matched message does not fit the receive buffer.
    #[error("receive buffer too small: the message holds {message_bytes} bytes, the buffer {buffer_bytes}")]
    Truncated {
        /// Size of the incoming message in bytes.
        message_bytes: usize,
        /// Size of the receive buffer in bytes.
        buffer_bytes: usize,
    },
    /// A file read that had to fill its buffer (`File::read_exact*`) met the end of the file
    /// first. (The plain reads return the short count in their status instead.)
    #[error("short read: {read} of {expected} bytes read before the end of the file")]
    ShortRead {
        /// Bytes the buffer asked for.
        expected: usize,
        /// Bytes the file had.
        read: usize,
    },
    /// A count that does not fit MPI's `int`.
    #[error("{what} = {value} does not fit an MPI count (at most {max})")]
    CountOverflow {
        /// What was counted.
        what: &'static str,
        /// The value given.
        value: usize,
        /// The largest value allowed.
        max: usize,
    },
    /// A root outside the communicator (intercommunicators also take `ROOT` and `PROC_NULL`).
    #[error("invalid root {root}: {}", if *.inter { format!("on an intercommunicator the root is ROOT, PROC_NULL or a rank below the remote size {size}") } else { format!("the communicator has {size} processes") })]
    InvalidRoot {
        /// The root given.
        root: i32,
        /// The number of processes it had to be below.
        size: i32,
        /// Whether the communicator is an intercommunicator.
        inter: bool,
    },
    /// A buffer whose length does not fit the operation (a receive buffer too small, a send
    /// buffer not a whole number of blocks, a count or displacement past the end).
    #[error("{what}: {detail}")]
    BufferLength {
        /// Which buffer or argument.
        what: &'static str,
        /// What was expected and what was given.
        detail: String,
    },
    /// A reduction operation applied to elements it does not fit.
    #[error("invalid operation: {0}")]
    InvalidOp(String),
    /// A feature the MPI library underneath does not provide (e.g. MPI-4 calls on an MPI-3.1
    /// library).
    #[error("not supported by this MPI library: {0}")]
    Unsupported(String),
    /// A buffered-mode send that the attached buffer cannot hold (or no buffer is attached).
    #[error("buffered send needs {needed} bytes of attached buffer (message + BSEND_OVERHEAD) but {attached} are attached; see attach_buffer")]
    BsendBuffer {
        /// Bytes this message needs in the buffer.
        needed: usize,
        /// Bytes attached (0 when none).
        attached: usize,
    },
    /// A buffer the library cannot use for this operation.
    #[error("unsupported buffer: {0}")]
    UnsupportedBuffer(String),
    /// A device operation failed: CUDA missing or failing, a DLPack tensor refused, a hook's
    /// error (see [`DeviceError`](mpi4rs_device::DeviceError)).
    #[error(transparent)]
    Device(#[from] mpi4rs_device::DeviceError),
    /// Some other invalid argument, described in words.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Cartesian dimensions that do not fit (negative, not dividing or exceeding the number of
    /// processes, a direction or coordinate list of the wrong length).
    #[error("invalid dimensions: {0}")]
    InvalidDims(String),
    /// A topology that cannot be built as given, or an operation that needs a topology the
    /// communicator does not have.
    #[error("topology: {0}")]
    Topology(String),
    /// MPI has not been initialised (or was already finalised).
    #[error("MPI is not initialised (call mpi4rs::init first) or has been finalised")]
    NotInitialized,
    /// An MPI call from a thread the provided thread level does not allow: below
    /// `MPI_THREAD_MULTIPLE`, only the thread that initialised MPI may call it (see
    /// [`crate::thread`]).
    #[error("MPI call from another thread than the one that initialised MPI, which provided {provided:?}; request ThreadLevel::Multiple (MPI4RS_RC_THREAD_LEVEL=multiple) to call MPI from several threads")]
    WrongThread {
        /// The thread level MPI provided.
        provided: ThreadLevel,
    },
    /// MPI is already initialised, so it cannot be initialised again.
    #[error("MPI is already initialised")]
    AlreadyInitialized,
    /// A configuration value (code or an `MPI4RS_*` environment variable) is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An object could not be encoded for an object message (its `Serialize` failed, or it
    /// cannot be represented, e.g. a sequence of unknown length).
    #[error("cannot encode the object: {0}")]
    Encode(String),
    /// An object message that cannot be decoded as the type the receiver asked for: truncated,
    /// corrupted or forged bytes, or a type other than the one sent.
    #[error("cannot decode the object message as `{type_name}`: {detail}")]
    Decode {
        /// The type the receiver asked for.
        type_name: &'static str,
        /// What is wrong, in words.
        detail: String,
    },
    /// A task run by a [`Pool`](crate::futures::Pool) failed: it returned an error or panicked
    /// (on the worker, which stays alive).
    #[error("task `{task}` {}: {message}", if *.panicked { "panicked" } else { "failed" })]
    Task {
        /// The task's registered name.
        task: String,
        /// The error's text, or the panic's message and place.
        message: String,
        /// Whether the task panicked (rather than returning an error).
        panicked: bool,
    },
    /// The future's task was cancelled before it ran.
    #[error("the task was cancelled before it ran")]
    Cancelled,
    /// A wait with a time limit ran out (a pool future's `result_timeout`, a map's or
    /// `as_completed`'s timeout); what was waited for goes on.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A one-sided operation or synchronisation that the window's epochs do not allow (an
    /// operation at a rank outside the open access epoch, a flush outside a lock, a second lock
    /// on the same rank, …): what `MPI_ERR_RMA_SYNC` means, reported alike on every MPI.
    #[error("RMA synchronisation: {0}")]
    RmaSync(String),
    /// A one-sided operation whose target range lies outside the target's window (what
    /// `MPI_ERR_RMA_RANGE` means), checked before MPI is called.
    #[error("RMA target range: {0}")]
    RmaRange(String),
}

impl Error {
    /// The MPI error class, where the error came from MPI or has an MPI equivalent.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            Error::Mpi { class, .. } => Some(*class),
            Error::InvalidRank { .. } => Some(ErrorClass::Rank),
            Error::InvalidTag { .. } => Some(ErrorClass::Tag),
            Error::Truncated { .. } => Some(ErrorClass::Truncate),
            Error::CountOverflow { .. } | Error::BufferLength { .. } => Some(ErrorClass::Count),
            Error::InvalidRoot { .. } => Some(ErrorClass::Root),
            Error::InvalidOp(_) => Some(ErrorClass::Op),
            Error::Unsupported(_) => Some(ErrorClass::UnsupportedOperation),
            Error::UnsupportedBuffer(_) | Error::BsendBuffer { .. } | Error::Device(_) => {
                Some(ErrorClass::Buffer)
            }
            Error::InvalidArgument(_) => Some(ErrorClass::Arg),
            Error::InvalidDims(_) => Some(ErrorClass::Dims),
            Error::Topology(_) => Some(ErrorClass::Topology),
            Error::RmaSync(_) => Some(ErrorClass::RmaSync),
            Error::RmaRange(_) => Some(ErrorClass::RmaRange),
            _ => None,
        }
    }

    /// Builds the error for an MPI return code (cold path).
    #[cold]
    #[inline(never)]
    // Called right after the failed MPI call, still under its gate (`mpi_call!`'s guard, or
    // the caller's `_call`), or inside an error handler (inside that call).
    pub(crate) fn from_code(call: &'static str, code: c_int) -> Error {
        let mut class = code;
        // SAFETY: plain out-parameter; MPI is running (callers hold the gate: Open MPI aborts
        // the job on MPI_Error_class before MPI_Init and after MPI_Finalize).
        if unsafe { ffi::MPI_Error_class(code, &mut class) } != ffi::SUCCESS() {
            class = code;
        }
        Error::Mpi { call, class: ErrorClass::from_raw(class), code, message: error_string(code) }
    }
}

/// The text MPI gives for an error code (`MPI_Error_string`); while MPI is not running
/// (before `init`, after finalize) or from a thread that may not call it, a text without
/// MPI's words.
pub fn error_string(code: i32) -> String {
    // Under the gate like every call: Open MPI aborts the job on MPI_Error_string before
    // MPI_Init and after MPI_Finalize, and finalising must wait for a call of another thread.
    let Some(_call) = crate::runtime::enter_if_active() else {
        return format!("MPI error code {code} (no text: MPI is not running here)");
    };
    let mut buf = vec![0 as c_char; ffi::MAX_ERROR_STRING().max(1) as usize];
    let mut len: c_int = 0;
    // SAFETY: the buffer holds MAX_ERROR_STRING characters as the standard requires.
    if unsafe { ffi::MPI_Error_string(code, buf.as_mut_ptr(), &mut len) } != ffi::SUCCESS() {
        return format!("unknown error code {code}");
    }
    ffi::string_from_c(&buf, len)
}

/// `MPI_SUCCESS`: 0 in every MPI library, as the standard requires (a literal saves a load on
/// every call; a unit test compares it with `mpi.h`).
pub(crate) const SUCCESS: c_int = 0;

/// Turns an MPI return code into a `Result`: the one place that does so.
#[inline(always)]
pub(crate) fn check(call: &'static str, code: c_int) -> Result<()> {
    if code == SUCCESS {
        Ok(())
    } else {
        Err(Error::from_code(call, code))
    }
}

/// Calls an MPI function and checks its return code: `mpi_call!(MPI_Comm_rank(comm, &mut r))?`.
///
/// After `MPI_Finalize` no MPI function may be called (most would abort the job), so once the
/// [`Environment`](crate::Environment) has finalised MPI this returns
/// [`Error::NotInitialized`] without calling it: every call on every handle that outlived the
/// environment is an error, not an abort. A call from another thread than the one that
/// initialised MPI is counted while in flight, so that finalising waits for it (see
/// [`runtime::may_call`]). (`anytime` calls the few functions MPI allows at any time:
/// `MPI_Initialized`, `MPI_Finalized`, `MPI_Get_version`, `MPI_Get_library_version`.)
macro_rules! mpi_call {
    (anytime $f:ident($($arg:expr),* $(,)?)) => {
        // SAFETY: the caller passes the arguments the MPI function expects.
        $crate::error::check(stringify!($f), unsafe { $crate::ffi::$f($($arg),*) })
    };
    ($f:ident($($arg:expr),* $(,)?)) => {
        // The call is written out in both allowed arms, so that the thread that initialised
        // MPI pays only the gate's loads; `check` runs under the guard too.
        match $crate::runtime::gate() {
            $crate::runtime::Gate::Free => {
                // SAFETY: the caller passes the arguments the MPI function expects; MPI is not
                // finalised, and this thread may call it at the provided thread level.
                $crate::error::check(stringify!($f), unsafe { $crate::ffi::$f($($arg),*) })
            }
            $crate::runtime::Gate::Counted(_call) => {
                // SAFETY: as above; `_call` is held across the call, so finalising waits for it.
                $crate::error::check(stringify!($f), unsafe { $crate::ffi::$f($($arg),*) })
            }
            $crate::runtime::Gate::Refused(refusal) => Err($crate::error::Error::from(refusal)),
        }
    };
}
pub(crate) use mpi_call;

/// Evaluates an MPI call (`gated!(check(name, unsafe { f(..) }))`) if the gate
/// ([`runtime::gate`]) lets this thread call MPI now, holding the guard of a counted call
/// across it (finalising waits for it): `Ok(its value)`, or the refusal as an `Err`. The
/// expression is written out in both allowed arms, as in `mpi_call!`: for the hot calls made
/// through function pointers, where `let _call = require_not_finalized()?;` would keep a
/// flag.
macro_rules! gated {
    ($e:expr) => {
        match $crate::runtime::gate() {
            $crate::runtime::Gate::Free => Ok($e),
            $crate::runtime::Gate::Counted(_call) => Ok($e),
            $crate::runtime::Gate::Refused(refusal) => {
                Err::<_, $crate::error::Error>($crate::error::Error::from(refusal))
            }
        }
    };
}
pub(crate) use gated;

impl From<Refusal> for Error {
    #[cold]
    fn from(refusal: Refusal) -> Error {
        match refusal {
            Refusal::Finalized => Error::NotInitialized,
            Refusal::WrongThread(provided) => Error::WrongThread { provided },
        }
    }
}

/// The gate of `mpi_call!` ([`runtime::may_call`]) as an `Err`, for the few calls made
/// without the macro: hold the guard across the MPI call
/// (`let _call = require_not_finalized()?;`), so that finalising waits for it.
#[inline(always)]
pub(crate) fn require_not_finalized() -> Result<runtime::Call> {
    runtime::may_call().map_err(Error::from)
}

/// `Err(NotInitialized)` outside `init` … finalize, where most MPI calls would abort.
pub(crate) fn require_active() -> Result<()> {
    if runtime::is_active() {
        Ok(())
    } else {
        Err(Error::NotInitialized)
    }
}

macro_rules! error_classes {
    ($($name:ident = $doc:literal),* $(,)?) => {
        /// MPI error classes (`MPI_ERR_*`), the same for every MPI library.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorClass {
            /// A class this version of mpi4rs does not name (e.g. one the MPI library added).
            Other(i32),
            $(#[doc = $doc] $name,)*
        }

        impl ErrorClass {
            const ORDER: &'static [ErrorClass] = &[$(ErrorClass::$name),*];

            /// The class for a raw MPI error class value.
            pub fn from_raw(class: i32) -> ErrorClass {
                // The shim maps the C macro values onto the order of ORDER (1-based).
                // SAFETY: a pure function of an integer in the shim.
                let index = unsafe { ffi::mpi4rs_error_class_index(class) };
                match index {
                    i if i >= 1 => Self::ORDER.get(i as usize - 1).copied().unwrap_or(ErrorClass::Other(class)),
                    _ => ErrorClass::Other(class),
                }
            }
        }
    };
}

// Order must match the table in src/ffi/shim.c (after MPI_SUCCESS).
error_classes! {
    Buffer = "MPI_ERR_BUFFER", Count = "MPI_ERR_COUNT", Type = "MPI_ERR_TYPE",
    Tag = "MPI_ERR_TAG", Comm = "MPI_ERR_COMM", Rank = "MPI_ERR_RANK",
    Request = "MPI_ERR_REQUEST", Root = "MPI_ERR_ROOT", Group = "MPI_ERR_GROUP",
    Op = "MPI_ERR_OP", Topology = "MPI_ERR_TOPOLOGY", Dims = "MPI_ERR_DIMS",
    Arg = "MPI_ERR_ARG", Unknown = "MPI_ERR_UNKNOWN", Truncate = "MPI_ERR_TRUNCATE",
    OtherError = "MPI_ERR_OTHER", Intern = "MPI_ERR_INTERN", InStatus = "MPI_ERR_IN_STATUS",
    Pending = "MPI_ERR_PENDING", Keyval = "MPI_ERR_KEYVAL", NoMem = "MPI_ERR_NO_MEM",
    Base = "MPI_ERR_BASE", InfoKey = "MPI_ERR_INFO_KEY", InfoValue = "MPI_ERR_INFO_VALUE",
    InfoNokey = "MPI_ERR_INFO_NOKEY", Spawn = "MPI_ERR_SPAWN", Port = "MPI_ERR_PORT",
    Service = "MPI_ERR_SERVICE", Name = "MPI_ERR_NAME", Win = "MPI_ERR_WIN",
    Size = "MPI_ERR_SIZE", Disp = "MPI_ERR_DISP", Info = "MPI_ERR_INFO",
    Locktype = "MPI_ERR_LOCKTYPE", Assert = "MPI_ERR_ASSERT",
    RmaConflict = "MPI_ERR_RMA_CONFLICT", RmaSync = "MPI_ERR_RMA_SYNC",
    RmaRange = "MPI_ERR_RMA_RANGE", RmaAttach = "MPI_ERR_RMA_ATTACH",
    RmaShared = "MPI_ERR_RMA_SHARED", RmaFlavor = "MPI_ERR_RMA_FLAVOR", File = "MPI_ERR_FILE",
    NotSame = "MPI_ERR_NOT_SAME", Amode = "MPI_ERR_AMODE",
    UnsupportedDatarep = "MPI_ERR_UNSUPPORTED_DATAREP",
    UnsupportedOperation = "MPI_ERR_UNSUPPORTED_OPERATION", NoSuchFile = "MPI_ERR_NO_SUCH_FILE",
    FileExists = "MPI_ERR_FILE_EXISTS", BadFile = "MPI_ERR_BAD_FILE", Access = "MPI_ERR_ACCESS",
    NoSpace = "MPI_ERR_NO_SPACE", Quota = "MPI_ERR_QUOTA", ReadOnly = "MPI_ERR_READ_ONLY",
    FileInUse = "MPI_ERR_FILE_IN_USE", DupDatarep = "MPI_ERR_DUP_DATAREP",
    Conversion = "MPI_ERR_CONVERSION", Io = "MPI_ERR_IO",
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg_attr(miri, ignore = "reads MPI's constants")]
    fn success_is_zero_in_mpi_h() {
        assert_eq!(super::SUCCESS, crate::ffi::SUCCESS());
    }
}
