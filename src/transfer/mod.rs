//! The transfer router: how a buffer's bytes reach MPI.
//!
//! Every buffer operation hands its buffers to a per-call `Transfer` router before MPI
//! sees them, and one of three paths is taken per buffer:
//! - [`Path::Host`]: host memory (pageable or pinned) goes straight to MPI;
//! - [`Path::Direct`]: device memory with a CUDA-aware MPI: the buffer's stream is synchronised
//!   as its [`SyncPolicy`](mpi4rs_device::SyncPolicy) says, then the device pointer goes to MPI;
//! - [`Path::Staged`]: device memory with an MPI that is not CUDA-aware (Debian's and PyPI's
//!   Open MPI and MPICH builds): the bytes pass through pooled pinned host buffers, copied on
//!   the buffer's own stream, and large blocking reductions and broadcasts are pipelined in
//!   chunks so that device copies overlap the MPI transfer.
//!
//! `bool` buffers that an operation writes are shadowed: MPI writes bytes, which are checked
//! when the operation completes and copied into the `bool`s only if every one is 0 or 1
//! (otherwise [`Error::Decode`](crate::Error::Decode), and the `bool`s are left as they were).
//! A message, a file or a mistyped peer can deliver any byte, and any other byte in `bool`
//! memory would be undefined behaviour. Writable derived layouts over `bool` memory and
//! one-sided reads into it are refused; use `u8` there.
//!
//! Reductions with a predefined operation over a derived layout of one basic type (a strided
//! tensor, a [`Typed`](crate::Typed) column) pack the layout into contiguous elements in its
//! type-map order and unpack the result (MPI libraries apply predefined operations to
//! contiguous elements only); device memory is staged for that even with a CUDA-aware MPI.
//!
//! Reductions whose operation runs as host code (user operations, the library's `f16`/`bf16`
//! operations) are always staged: MPI would call that code on device pointers.
//!
//! The choice is visible: [`last_path`] gives the path of this thread's last operation on a
//! device buffer, and the `log` target `mpi4rs::transfer` at `debug` (or `MPI4RS_LOG=debug`
//! without a logger) reports each routed buffer ([`crate::logging`]).
//!
//! ```no_run
//! let env = mpi4rs::init()?;
//! println!("CUDA-aware MPI: {} ({})", mpi4rs::transfer::cuda_aware(), mpi4rs::transfer::cuda_aware_source());
//! # Ok::<(), mpi4rs::Error>(())
//! ```

pub(crate) mod bools;
pub(crate) mod pack;
pub(crate) mod packed;
pub(crate) mod pipeline;
pub(crate) mod stage;

use mpi4rs_device::MemoryKind;
use std::cell::Cell;
use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// How a buffer travels to MPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// Host memory, handed to MPI as it is.
    Host,
    /// Device memory handed to a CUDA-aware MPI after synchronisation, or managed memory handed
    /// to any MPI after synchronisation.
    Direct,
    /// Device memory copied through pinned host buffers.
    Staged,
}

/// Whether the MPI library reads and writes CUDA device memory itself.
///
/// Decided once: `MPI4RS_CUDA_AWARE` (a boolean) if set, else what the library says through
/// `MPIX_Query_cuda_support` (Open MPI) or `MPIX_GPU_query_support` (MPICH), looked up at run
/// time; libraries that have neither are taken as not CUDA-aware.
pub fn cuda_aware() -> bool {
    awareness().0
}

/// Where [`cuda_aware`]'s answer came from (the environment variable or the MPI query).
pub fn cuda_aware_source() -> &'static str {
    awareness().1
}

fn awareness() -> (bool, &'static str) {
    static AWARE: OnceLock<(bool, &'static str)> = OnceLock::new();
    if let Some(known) = AWARE.get() {
        return *known;
    }
    // The library's query may not be called before MPI is initialised (MPICH aborts the
    // process), so before `init` the answer is "no" and nothing is remembered. Like every MPI
    // call it holds the gate (finalising waits for it; a thread that may not call MPI gets the
    // same "not known").
    let call = crate::runtime::enter_if_active();
    if call.is_none() && !matches!(mpi4rs_device::env::bool_var("MPI4RS_CUDA_AWARE"), Ok(Some(_))) {
        return (false, "not known before MPI is initialised");
    }
    *AWARE.get_or_init(|| {
        let (aware, why) = match mpi4rs_device::env::bool_var("MPI4RS_CUDA_AWARE") {
            Ok(Some(aware)) => (aware, "MPI4RS_CUDA_AWARE"),
            _ => query_library(),
        };
        crate::logging::mpi_log!(Info, "transfer", "CUDA-aware MPI: {aware} (from {why})");
        (aware, why)
    })
}

/// Asks the MPI library; only under the gate, with MPI initialised ([`awareness`]).
fn query_library() -> (bool, &'static str) {
    let ompi = crate::ffi::lookup_symbol(c"MPIX_Query_cuda_support");
    if !ompi.is_null() {
        // SAFETY: Open MPI's `int MPIX_Query_cuda_support(void)`.
        let f: unsafe extern "C" fn() -> c_int = unsafe { std::mem::transmute(ompi) };
        // SAFETY: the symbol's C signature, called once with no arguments.
        return (unsafe { f() } != 0, "MPIX_Query_cuda_support");
    }
    let mpich = crate::ffi::lookup_symbol(c"MPIX_GPU_query_support");
    if !mpich.is_null() {
        // SAFETY: MPICH's `int MPIX_GPU_query_support(int gpu_type, int *is_supported)`;
        // MPIX_GPU_SUPPORT_CUDA is 0.
        let f: unsafe extern "C" fn(c_int, *mut c_int) -> c_int = unsafe { std::mem::transmute(mpich) };
        let mut supported: c_int = 0;
        // SAFETY: the symbol's C signature; `supported` outlives the call.
        let ok = unsafe { f(0, &mut supported) } == crate::ffi::SUCCESS();
        return (ok && supported != 0, "MPIX_GPU_query_support");
    }
    (false, "no CUDA query in this MPI library")
}

/// The path a buffer in `memory` takes (for reductions whose operation MPI runs itself).
pub fn path_for(memory: MemoryKind) -> Path {
    match memory {
        MemoryKind::Host | MemoryKind::PinnedHost => Path::Host,
        // The CPU addresses managed memory: after synchronisation it goes to any MPI directly.
        MemoryKind::CudaManaged { .. } => Path::Direct,
        MemoryKind::Cuda { .. } if cuda_aware() => Path::Direct,
        MemoryKind::Cuda { .. } => Path::Staged,
    }
}

thread_local! {
    static LAST_PATH: Cell<Option<Path>> = const { Cell::new(None) };
}

/// The path of this thread's last operation that had a device buffer (a buffer whose memory
/// kind is not pageable host memory); `None` before the first.
pub fn last_path() -> Option<Path> {
    LAST_PATH.with(Cell::get)
}

pub(crate) fn record_path(op: &'static str, path: Path, memory: MemoryKind, bytes: usize) {
    LAST_PATH.with(|p| p.set(Some(path)));
    match path {
        Path::Direct => DIRECT.fetch_add(1, Ordering::Relaxed),
        Path::Staged => STAGED.fetch_add(1, Ordering::Relaxed),
        Path::Host => 0,
    };
    if crate::logging::enabled(log::Level::Debug) {
        let why = match path {
            Path::Host => "host memory",
            Path::Direct if matches!(memory, MemoryKind::CudaManaged { .. }) => "managed memory",
            Path::Direct => "CUDA-aware MPI",
            Path::Staged if cuda_aware() => "operation runs on the host",
            Path::Staged => "MPI is not CUDA-aware",
        };
        crate::logging::mpi_log!(
            Debug,
            "transfer",
            "{op}: {memory:?} buffer of {bytes} bytes: {path:?} ({why})"
        );
    }
}

/// Counts of routed device buffers since the start of the process (all threads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Device buffers passed to a CUDA-aware MPI directly.
    pub direct: usize,
    /// Device buffers staged through pinned host memory.
    pub staged: usize,
    /// Chunks of pipelined blocking reductions and broadcasts (host buffers on a staging
    /// machine are cut the same way, so they count too).
    pub pipelined_chunks: usize,
}

pub(crate) static DIRECT: AtomicUsize = AtomicUsize::new(0);
pub(crate) static STAGED: AtomicUsize = AtomicUsize::new(0);
pub(crate) static CHUNKS: AtomicUsize = AtomicUsize::new(0);

/// How many device buffers took each path, and how many pipeline chunks ran.
pub fn stats() -> TransferStats {
    TransferStats {
        direct: DIRECT.load(Ordering::Relaxed),
        staged: STAGED.load(Ordering::Relaxed),
        pipelined_chunks: CHUNKS.load(Ordering::Relaxed),
    }
}

static EMULATE: AtomicBool = AtomicBool::new(false);

/// Testing aid for machines without a GPU: treat buffers that *claim* CUDA memory but really
/// point to host memory as device buffers, moving them with `memcpy` instead of CUDA copies.
/// This drives the routing decisions, the staging and the pipeline's chunking exactly as on a
/// GPU.
///
/// # Safety
/// While emulation is on (in any thread of the process), every buffer given to an operation
/// whose view claims CUDA memory must really be host memory, readable and writable (for
/// writable views) for its whole view and not otherwise accessed while the operation lends
/// it: the router copies through the pointer with `memcpy`. Real device memory, or a view that
/// claims more bytes than it owns, makes that copy read or write arbitrary memory. Every rank
/// of a job must also set the same value at the same point (the pipeline's chunking must
/// agree), or collectives mismatch.
///
/// ```compile_fail
/// // Not callable from safe code:
/// mpi4rs::transfer::emulate_device_memory(true);
/// ```
///
/// ```no_run
/// // SAFETY: this program lends the router no buffer that claims device memory.
/// unsafe { mpi4rs::transfer::emulate_device_memory(true) };
/// ```
#[doc(hidden)]
pub unsafe fn emulate_device_memory(on: bool) {
    EMULATE.store(on, Ordering::Relaxed);
}

pub(crate) fn emulated() -> bool {
    EMULATE.load(Ordering::Relaxed)
}

/// Size of one chunk of a pipelined staged transfer (`MPI4RS_PIPELINE_CHUNK`, bytes; default
/// 4 MiB).
pub fn pipeline_chunk_bytes() -> usize {
    static CHUNK: OnceLock<usize> = OnceLock::new();
    *CHUNK.get_or_init(|| env_bytes("MPI4RS_PIPELINE_CHUNK", 4 << 20).max(1))
}

/// Blocking reductions and broadcasts of at least this many bytes are pipelined
/// (`MPI4RS_PIPELINE_MIN`; default 8 MiB; `0` switches pipelining off).
pub fn pipeline_min_bytes() -> usize {
    static MIN: OnceLock<usize> = OnceLock::new();
    *MIN.get_or_init(|| env_bytes("MPI4RS_PIPELINE_MIN", 8 << 20))
}

fn env_bytes(name: &str, default: usize) -> usize {
    mpi4rs_device::env::size_var(name).ok().flatten().unwrap_or(default)
}

/// Whether a blocking reduction or broadcast of `bytes` is cut into pipeline chunks, and how
/// big they are. The answer depends only on the size and on settings every rank shares
/// (GPU present, MPI not CUDA-aware, the two sizes above), never on where this rank's buffer
/// lives: a rank with host buffers must make the same MPI calls as one with device buffers.
#[inline]
pub(crate) fn pipeline_chunk(bytes: usize) -> Option<usize> {
    let min = pipeline_min_bytes();
    if min == 0 || bytes < min || PIPELINE_OFF.load(Ordering::Relaxed) {
        return None;
    }
    let staging_machine = emulated() || (!cuda_aware() && mpi4rs_device::cuda::available());
    staging_machine.then(pipeline_chunk_bytes)
}

static PIPELINE_OFF: AtomicBool = AtomicBool::new(false);

/// Bench aid: switches the pipelining of large staged blocking reductions and broadcasts off
/// (`false`) or back on as configured (`true`, the default), so that one run can time both.
/// Like `MPI4RS_PIPELINE_MIN`, every rank must make the same choice before the same call: the
/// chunking decides which MPI calls a rank makes.
#[doc(hidden)]
pub fn set_pipelining(on: bool) {
    PIPELINE_OFF.store(!on, Ordering::Relaxed);
}
