//! One-sided communication (mpi4py's `Win`): windows of memory that other processes read and
//! write with put, get and the atomic accumulate family, inside synchronisation epochs.
//!
//! # Layout
//! - this module: creating windows ([`Win::create`] over memory the window owns,
//!   [`Win::allocate`], [`Win::allocate_shared`] with [`Win::shared_query`],
//!   [`Win::create_dynamic`] with [`Win::attach`]/[`Win::detach`]), their attributes, info
//!   hints and name, safe access to the local memory ([`Win::local_access`]) and freeing on
//!   drop (or [`Win::into_inner`], which hands the memory back);
//! - `epoch`: synchronisation — [`Win::fence`], [`Win::start`]/[`Win::post`] (PSCW),
//!   [`Win::lock`], [`Win::lock_all`] open an [`Epoch`] in a [`Scope`] (or an
//!   [`Exposure`]); flushes live on the epoch; ending or dropping it ends the epoch, and so
//!   does the end of its scope if the epoch was forgotten;
//! - `ops`: the operations of an epoch (`put`, `get`, `accumulate`, `get_accumulate`,
//!   `fetch_and_op`, `compare_and_swap`, the request forms `rput` …) and [`Target`], mpi4py's
//!   `target=(offset, count, datatype)`;
//! - [`crate::sync`]: mpi4py's `util.sync` building blocks on top (counter, mutex, sequential
//!   execution).
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::win::{LockType, Win, Assert};
//!
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! // Every rank exposes 4 f64; rank 0 writes into everyone's window under a lock.
//! let win = Win::allocate(4 * 8, 8, &[], world)?;
//! if world.rank() == 0 {
//!     let data = [1.0f64, 2.0, 3.0, 4.0];
//!     mpi4rs::scope(|s| {
//!         for r in 0..world.size() {
//!             let epoch = win.lock(s, r, LockType::Exclusive, Assert::NONE)?;
//!             epoch.put(&data, r, 0)?;
//!             epoch.end()?; // MPI_Win_unlock: the put is complete at the target
//!         }
//!         Ok(())
//!     })?;
//! }
//! world.barrier()?;
//! let mine = win.local_access()?; // an exclusive lock on this process's own window
//! assert_eq!(mine.as_slice::<f64>()?, [1.0, 2.0, 3.0, 4.0]);
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! # Safety design
//! No safe program can make MPI read or write memory the program no longer lends, even when it
//! forgets (`std::mem::forget`) a window, an epoch or an attached region:
//! - **Window memory is owned by the window.** [`Win::create`] takes an
//!   [`OwnedBuffer`] (a `Vec`, pinned memory, a `CudaSlice`…) whose memory
//!   does not move with it, and keeps it until MPI has freed the window
//!   ([`Win::into_inner`] frees the window, collectively, and hands the memory back). A
//!   forgotten window is never freed, and neither is its memory: a leak, not a use after free.
//!   If `MPI_Win_free` fails the memory is leaked too, since remote processes may still reach
//!   it. Memory of [`Win::allocate`] is MPI's and freed with the window; it is zeroed before any
//!   other process can reach it (before the exchange of window sizes that ends creation).
//!   [`Win::create_borrowed`] keeps the old borrowing form, as an `unsafe fn`.
//! - **Origin buffers are borrowed for a [`Scope`].** MPI reads a put's origin
//!   and writes a get's until the epoch closes or a flush completes the operation. Epochs are
//!   opened in a scope (`win.fence(s, …)`, `win.lock(s, …)`, …), every origin buffer is
//!   borrowed for the scope's lifetime, and the closing synchronisation of an epoch (fence,
//!   complete, unlock, unlock_all) is a closing step of the scope: [`Epoch::end`] or dropping
//!   the epoch runs it early; a forgotten epoch is closed by the scope when its closure
//!   returns (or panics), after its requests completed and before any borrowed buffer is
//!   released. The request forms (`rput` …) give [`Request`](crate::Request)s of the same
//!   scope that borrow the epoch, so they complete before it ends unless forgotten (then the
//!   closing synchronisation completes the operation and the scope frees the request). The
//!   scalar helpers ([`Epoch::fetch_and_op_value`] …) complete their operation before
//!   returning.
//! - **Attached regions** ([`Win::attach`]) are borrowed for a scope too, and detached by it at
//!   its end if [`Win::detach`] was not called first.
//! - **Promises MPI does not verify** are `unsafe`: the assertions `Assert::NOCHECK`,
//!   `NOPRECEDE` and `NOSUCCEED` are refused by the safe synchronisation calls and accepted by
//!   their `*_unchecked` twins ([`Win::fence_unchecked`], [`Win::lock_unchecked`] …), whose
//!   contracts say what the caller promises. `NOSTORE` and `NOPUT` stay safe: a false one can
//!   only make the window's bytes stale, and window memory is only ever seen as plain numbers.
//!   The end of a fence epoch asserts nothing, so a rank ending while another continues is
//!   never an unverified promise.
//! - **Dynamic windows** cannot be range-checked: a target is an address in the target
//!   process, which only it knows, and MPICH writes wherever it points. Making one is therefore
//!   an `unsafe fn` ([`Win::create_dynamic`]) whose contract covers every target of the window;
//!   operations that target the calling process itself are still checked against the regions
//!   it attached.
//! - **Local access.** Loads and stores to a window while another process may put into it are
//!   data races. [`Win::local_access`] takes an exclusive lock on the process's own window
//!   (`MPI_Win_lock` on oneself returns only once the lock is held, and MPI completes every
//!   other process's operations on the window before it grants it): no process using this
//!   library can then reach the memory until the guard is dropped. Other processes can only
//!   reach it through epochs, which this library tracks on every process: fences and PSCW
//!   need this process's matching call, which it cannot make while holding the guard, and
//!   locks conflict with the exclusive one. A neighbour's segment of a shared-memory window is
//!   given only as a raw pointer ([`SharedSegment`]): a lock on another process does not have
//!   to be acquired before `MPI_Win_lock` returns, so no safe guard can be built on it.
//!   Window memory is untyped, so [`LocalAccess`] hands out slices only of types for which any
//!   bit pattern is valid (not `bool`), and refuses reads into `bool` buffers for the same
//!   reason. A forgotten [`LocalAccess`] or [`Exposure`] leaves its lock or exposure open;
//!   freeing the window closes it first.
//!
//! # Errors
//! `MPI_ERRORS_RETURN` is set on every window. Open MPI and MPICH differ in what they detect
//! (operations outside an epoch, targets past the window's end, a second lock of the same
//! rank): to give the same clear error on both, every window tracks its epochs (operations
//! exist only on an [`Epoch`], and each checks that its target rank belongs to it), and every
//! process's window size and displacement unit are exchanged at creation so that each target
//! range is checked before MPI is called ([`Error::RmaRange`]).
//! Dynamic windows cannot be checked this way: their targets are addresses in memory the
//! target attached, which only the target knows (see the safety design above). Accumulate operations are checked against the
//! element type as reductions are, with `REPLACE` and `NO_OP` allowed; MPI allows no
//! user-defined operations in one-sided accumulate, so neither `UserOp`s nor the library's own
//! `f16`/`bf16` operations are accepted there.
//!
//! Creation, [`Win::fence`] and freeing are collective; argument checks are local, so every
//! process must pass arguments of the same validity.
//!
//! # Device memory
//! Origin buffers in device memory work on every MPI: the [transfer router](crate::transfer)
//! passes them to a CUDA-aware MPI, and stages them through pinned host memory otherwise. A
//! staged put's host copy lives until the synchronisation that completes it (flush, unlock,
//! fence, complete); a staged get is written back to the device buffer at that
//! synchronisation (`rget`: when its request completes). A window *over* device memory needs
//! a CUDA-aware MPI, since the target's MPI library accesses it without the origin's help,
//! and is refused with an error saying so otherwise.

mod epoch;
mod ops;

pub use epoch::{Assert, Epoch, Exposure, LocalAccess, LockType};
pub use ops::Target;

use crate::buffer::{BufferMut, ElementKind};
use crate::comm::{Comm, Communicator};
use crate::error::require_active;
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Aint, MPI_Win};
use crate::group::Group;
use crate::info::Info;
use crate::persistent::OwnedBuffer;
use crate::runtime::{error_handler, is_active};
use crate::scope::{Scope, ScopeCore};
use crate::util::string_from_c;
use mpi4rs_device::{DType, MemoryKind};
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};
use std::mem::ManuallyDrop;

/// How a window's memory was provided (`MPI_WIN_CREATE_FLAVOR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// Memory of the caller ([`Win::create`]).
    Create,
    /// Memory MPI allocated ([`Win::allocate`]).
    Allocate,
    /// Memory attached later ([`Win::create_dynamic`]).
    Dynamic,
    /// Shared memory MPI allocated ([`Win::allocate_shared`]).
    Shared,
}

/// The memory model of a window (`MPI_WIN_MODEL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Model {
    /// Public and private copies are distinct (`MPI_WIN_SEPARATE`).
    Separate,
    /// One copy, eventually coherent (`MPI_WIN_UNIFIED`).
    Unified,
}

/// A process's segment of a shared-memory window ([`Win::shared_query`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedSegment {
    /// Its address in this process. Loads and stores through it race with every other access
    /// unless the program synchronises them itself: using it is `unsafe`.
    pub ptr: *mut c_void,
    /// Its size in bytes.
    pub bytes: usize,
    /// Its displacement unit in bytes.
    pub disp_unit: usize,
}

/// A region attached to a dynamic window ([`Win::attach`]): remote processes address it by
/// [`address`](Self::address), which they must be told. The region stays attached (and
/// borrowed) until [`Win::detach`] or the end of the scope it was attached in; dropping or
/// forgetting this handle does not detach it.
pub struct Attached<'s> {
    address: usize,
    bytes: usize,
    window: MPI_Win,
    scope: &'s ScopeCore,
    slot: usize,
}

impl Attached<'_> {
    /// The address remote processes give as the target offset (`MPI_Get_address`).
    pub fn address(&self) -> usize {
        self.address
    }

    /// The region's size in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl std::fmt::Debug for Attached<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached").field("address", &self.address).field("bytes", &self.bytes).finish()
    }
}

/// What one process's window spans, as every process learns it at creation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Extent {
    pub(crate) bytes: usize,
    pub(crate) disp_unit: usize,
}

/// The window without its memory lifetime: what epochs and guards refer to.
pub(crate) struct Core {
    pub(crate) raw: MPI_Win,
    pub(crate) rank: i32,
    pub(crate) size: i32,
    pub(crate) flavor: Flavor,
    /// Every process's extent, by rank; empty for dynamic windows.
    pub(crate) extents: Vec<Extent>,
    /// This process's memory (null for dynamic windows).
    pub(crate) base: *mut c_void,
    pub(crate) bytes: usize,
    /// This process's window memory is device memory.
    pub(crate) device: bool,
    pub(crate) state: RefCell<epoch::State>,
    /// The regions this process attached to a dynamic window: (address, bytes).
    pub(crate) attached: RefCell<Vec<(usize, usize)>>,
}

/// A window for one-sided communication (`MPI_Win`), owning the memory `M` it exposes
/// ([`Win::create`]; `()` for windows whose memory is MPI's or attached); freed (collectively)
/// on drop, its memory released only after MPI freed the window. See the
/// [module documentation](self).
pub struct Win<M = ()> {
    pub(crate) core: Core,
    /// Released only once MPI has freed the window (leaked if that fails or never happens).
    memory: ManuallyDrop<M>,
}

// Neither Send nor Sync (`Core` holds a raw pointer, and the epoch state is a RefCell): a
// window stays on the thread that made it (see `crate::thread`).

fn aint(what: &'static str, v: usize) -> Result<MPI_Aint> {
    MPI_Aint::try_from(v).map_err(|_| Error::CountOverflow { what, value: v, max: MPI_Aint::MAX as usize })
}

/// An `MPI_Aint` (isize on Open MPI, c_long on MPICH) as a size; negative values as 0.
#[inline]
#[allow(clippy::unnecessary_cast)]
fn from_aint(v: MPI_Aint) -> usize {
    v.max(0) as usize
}

fn disp_unit_arg(disp_unit: usize) -> Result<c_int> {
    match c_int::try_from(disp_unit) {
        Ok(d) if d >= 1 => Ok(d),
        _ => Err(Error::InvalidArgument(format!(
            "displacement unit {disp_unit}: it must be a positive int (1 for byte offsets, the element size for element offsets)"
        ))),
    }
}

/// Refuses window memory that the MPI library cannot access itself; says whether it is device
/// memory.
fn window_memory(memory: MemoryKind, kind: ElementKind) -> Result<bool> {
    match kind {
        ElementKind::Basic(DType::Bool) => return Err(Error::UnsupportedBuffer(
            "a window cannot be laid over bool elements: remote puts may store bytes that are not 0 or 1 \
                 (window memory is untyped); use u8"
                .into(),
        )),
        ElementKind::Derived => {
            return Err(Error::UnsupportedBuffer(
                "a window is laid over a buffer of plain numbers, not a derived-datatype view".into(),
            ))
        }
        _ => {}
    }
    match memory {
        // Managed memory is addressable by the CPU: the MPI library uses it as host memory.
        MemoryKind::Host | MemoryKind::PinnedHost | MemoryKind::CudaManaged { .. } => Ok(false),
        MemoryKind::Cuda { .. } if crate::transfer::cuda_aware() => Ok(true),
        MemoryKind::Cuda { device } => Err(Error::UnsupportedBuffer(format!(
            "a window over CUDA device {device} memory needs a CUDA-aware MPI, because the target's MPI \
             library reads and writes window memory itself and cannot be given a staged copy; this MPI is \
             not CUDA-aware ({}). Use a host window, or device memory only as origin buffers",
            crate::transfer::cuda_aware_source()
        ))),
    }
}

/// Explains the `MPI_ERR_WIN` that Open MPI returns when none of its one-sided components
/// can serve a window (seen with Debian's Open MPI 4.1 for `create` and `create_dynamic`).
fn creation_error(e: Error) -> Error {
    let open_mpi = crate::environment::library_version().is_ok_and(|v| v.contains("Open MPI"));
    match &e {
        Error::Mpi { class: crate::ErrorClass::Win, .. } if open_mpi => Error::Unsupported(format!(
            "{e}. Open MPI found no one-sided (osc) component for this window: osc/rdma needs RDMA \
             transports, whose point-to-point truncation writes past receive buffers, so mpi4rs \
             switches their RDMA off (see the guide's \"Truncation on Open MPI\"); osc/pt2pt refuses \
             MPI_THREAD_MULTIPLE and is disabled in Debian's build; osc/sm serves only Win::allocate \
             and Win::allocate_shared. Where Open MPI has UCX, osc/ucx serves every window \
             (OMPI_MCA_osc=ucx,sm; mpi4rs::init sets OMPI_MCA_osc=^rdma when OMPI_MCA_osc is unset)"
        )),
        _ => e,
    }
}

impl<M> Win<M> {
    /// Finishes a window MPI just created: error handler, zeroed memory, every process's
    /// extent. Owns `raw` (and `memory`) from the start, so an error frees it.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        raw: MPI_Win,
        comm: &Comm,
        flavor: Flavor,
        base: *mut c_void,
        bytes: usize,
        disp_unit: usize,
        device: bool,
        memory: M,
    ) -> Result<Win<M>> {
        let mut win = Win {
            core: Core {
                raw,
                rank: comm.rank(),
                size: comm.size(),
                flavor,
                extents: Vec::new(),
                base,
                bytes,
                device,
                state: RefCell::new(epoch::State::default()),
                attached: RefCell::new(Vec::new()),
            },
            memory: ManuallyDrop::new(memory),
        };
        mpi_call!(MPI_Win_set_errhandler(raw, error_handler()))?;
        if matches!(flavor, Flavor::Allocate | Flavor::Shared) && bytes > 0 && !base.is_null() {
            // SAFETY: MPI allocated `bytes` bytes at `base` for this process; no other process
            // can reach them before the allgather below, which needs this process's part.
            unsafe { std::ptr::write_bytes(base.cast::<u8>(), 0, bytes) };
        }
        if flavor != Flavor::Dynamic {
            let mine = [bytes as u64, disp_unit as u64];
            let mut all = vec![0u64; 2 * comm.size().max(0) as usize];
            mpi_call!(MPI_Allgather(
                mine.as_ptr().cast(),
                2,
                ffi::UINT64_T(),
                all.as_mut_ptr().cast(),
                2,
                ffi::UINT64_T(),
                comm.as_raw()
            ))?;
            win.core.extents = all
                .chunks_exact(2)
                .map(|e| Extent { bytes: e[0] as usize, disp_unit: e[1] as usize })
                .collect();
        }
        Ok(win)
    }

    /// `MPI_Win_create` over `s`, with `memory` kept by the window.
    fn create_over(
        s: crate::buffer::SpecMut,
        memory: M,
        disp_unit: usize,
        info: &[(&str, &str)],
        comm: &Comm,
    ) -> Result<Win<M>> {
        require_active()?;
        let device = window_memory(s.place.memory, s.kind)?;
        let unit = disp_unit_arg(disp_unit)?;
        let hints = Info::for_call(info)?;
        let mut raw = ffi::WIN_NULL();
        mpi_call!(MPI_Win_create(
            s.ptr,
            aint("window size", s.bytes)?,
            unit,
            Info::raw_or_null(hints.as_ref()),
            comm.as_raw(),
            &mut raw
        ))
        .map_err(creation_error)?;
        Win::finish(raw, comm, Flavor::Create, s.ptr, s.bytes, disp_unit, device, memory)
    }
}

impl<M: OwnedBuffer + BufferMut> Win<M> {
    /// Creates a window over `memory` (`MPI_Win_create`), collective over `comm`. The window
    /// owns the memory until it is freed: [`into_inner`](Self::into_inner) frees the window and
    /// gives the memory back; [`local_access`](Self::local_access) reads and writes it
    /// meanwhile. Target offsets count `disp_unit` bytes. On an error the memory is dropped.
    ///
    /// Device memory needs a CUDA-aware MPI ([`Error::UnsupportedBuffer`] otherwise).
    ///
    /// ```no_run
    /// use mpi4rs::prelude::*;
    /// use mpi4rs::win::{Assert, Win};
    /// let env = mpi4rs::init()?;
    /// let world = env.world();
    /// let (me, n) = (world.rank(), world.size());
    /// let win = Win::create(vec![0i64; 4], 8, &[], world)?;
    /// let mine = [me as i64; 4];
    /// mpi4rs::scope(|s| win.fence(s, Assert::NONE)?.put(&mine, (me + 1) % n, 0))?;
    /// let mem: Vec<i64> = win.into_inner()?; // frees the window (collective)
    /// assert_eq!(mem, [((me + n - 1) % n) as i64; 4]);
    /// # Ok::<(), mpi4rs::Error>(())
    /// ```
    pub fn create(mut memory: M, disp_unit: usize, info: &[(&str, &str)], comm: &Comm) -> Result<Win<M>> {
        let s = memory.spec_mut()?;
        // `memory` moves into the window below; what `s` describes does not move with it
        // (OwnedBuffer's contract), so MPI keeps a valid address.
        Win::create_over(s, memory, disp_unit, info, comm)
    }
}

impl Win {
    /// Creates a window over borrowed memory (`MPI_Win_create`), the form that [`create`]
    /// replaces, for memory no [`OwnedBuffer`] describes.
    ///
    /// # Safety
    /// Until the window is freed (dropped, [`free`](Self::free)d or
    /// [`into_inner`](Self::into_inner)ed, collectively) the memory `memory` describes must
    /// stay valid and must not be read or written except through
    /// [`local_access`](Self::local_access): remote processes may write it at any time. A
    /// window that is forgotten is never freed, so its memory must then stay valid forever.
    ///
    /// [`create`]: Win::create
    pub unsafe fn create_borrowed<B: BufferMut + ?Sized>(
        memory: &mut B,
        disp_unit: usize,
        info: &[(&str, &str)],
        comm: &Comm,
    ) -> Result<Win> {
        let s = memory.spec_mut()?;
        Win::create_over(s, (), disp_unit, info, comm)
    }

    /// Creates a window without memory (`MPI_Win_create_dynamic`); regions are added with
    /// [`attach`](Self::attach). Target offsets are the addresses that `attach` returns.
    ///
    /// # Safety
    /// MPI does not check the targets of a dynamic window (MPICH writes wherever the address
    /// points), and only the target process knows what it attached. The caller promises, for
    /// every operation that any process issues on this window through this library, that the
    /// bytes it touches at the target lie inside a region the target has
    /// [`attach`](Self::attach)ed and keeps attached until the operation has completed at the
    /// target (its epoch ended, or a flush returned). Operations that target the calling
    /// process itself are checked against the regions it attached, and refused with
    /// [`Error::RmaRange`] outside them.
    pub unsafe fn create_dynamic(info: &[(&str, &str)], comm: &Comm) -> Result<Win> {
        require_active()?;
        let hints = Info::for_call(info)?;
        let mut raw = ffi::WIN_NULL();
        mpi_call!(MPI_Win_create_dynamic(Info::raw_or_null(hints.as_ref()), comm.as_raw(), &mut raw))
            .map_err(creation_error)?;
        Win::finish(raw, comm, Flavor::Dynamic, std::ptr::null_mut(), 0, 1, false, ())
    }
}

impl<M> Win<M> {
    /// Attaches `memory` to a dynamic window (`MPI_Win_attach`). It stays attached and
    /// borrowed until [`detach`](Self::detach), or until the scope `s` ends, which detaches it
    /// if nothing did before (so forgetting the handle cannot leave freed memory attached).
    pub fn attach<'s, B: BufferMut + ?Sized>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        memory: &'s mut B,
    ) -> Result<Attached<'s>> {
        if self.core.flavor != Flavor::Dynamic {
            return Err(Error::InvalidArgument(format!(
                "attach needs a window from create_dynamic; this one's flavor is {:?}",
                self.core.flavor
            )));
        }
        let s = memory.spec_mut()?;
        window_memory(s.place.memory, s.kind)?;
        mpi_call!(MPI_Win_attach(self.core.raw, s.ptr, aint("attached size", s.bytes)?))?;
        let mut address: MPI_Aint = 0;
        if let Err(e) = mpi_call!(MPI_Get_address(s.ptr, &mut address)) {
            let _ = mpi_call!(MPI_Win_detach(self.core.raw, s.ptr));
            return Err(e);
        }
        let (address, bytes, ptr) = (from_aint(address), s.bytes, s.ptr);
        self.core.attached.borrow_mut().push((address, bytes));
        let core: *const Core = &self.core;
        let slot = scope.core().register_finisher(Box::new(move || {
            // SAFETY: the window is borrowed for the scope's lifetime `'s` (`&'s self`), so it
            // is neither moved nor freed before the scope has run its closing steps, this one
            // included; `ptr` is what was attached.
            unsafe { detach_region(&*core, ptr, address) }
        }));
        Ok(Attached { address, bytes, window: self.core.raw, scope: scope.core(), slot })
    }

    /// Detaches a region from this dynamic window now (`MPI_Win_detach`), instead of at the
    /// end of its scope. The memory stays borrowed until the scope ends.
    pub fn detach(&self, region: Attached<'_>) -> Result<()> {
        if region.window != self.core.raw {
            return Err(Error::InvalidArgument("detach: the region was attached to another window".into()));
        }
        match region.scope.take_finisher(region.slot) {
            Some(detach) => detach(),
            None => Ok(()),
        }
    }
}

/// Detaches the region at `ptr` (`address`) from `core`'s window.
fn detach_region(core: &Core, ptr: *mut c_void, address: usize) -> Result<()> {
    let mut regions = core.attached.borrow_mut();
    if let Some(i) = regions.iter().position(|&(a, _)| a == address) {
        regions.remove(i);
    }
    drop(regions);
    mpi_call!(MPI_Win_detach(core.raw, ptr))
}

/// `MPI_Win_allocate` and `MPI_Win_allocate_shared`, which take the same arguments.
type AllocateFn =
    unsafe extern "C" fn(MPI_Aint, c_int, ffi::MPI_Info, ffi::MPI_Comm, *mut c_void, *mut MPI_Win) -> c_int;

impl Win {
    fn allocate_with(
        call: &'static str,
        allocate: AllocateFn,
        flavor: Flavor,
        bytes: usize,
        disp_unit: usize,
        info: &[(&str, &str)],
        comm: &Comm,
    ) -> Result<Win> {
        require_active()?;
        let unit = disp_unit_arg(disp_unit)?;
        let hints = Info::for_call(info)?;
        let _call = crate::error::require_not_finalized()?;
        let mut raw = ffi::WIN_NULL();
        let mut base: *mut c_void = std::ptr::null_mut();
        let base_out = (&mut base as *mut *mut c_void).cast();
        // SAFETY: MPI writes the window handle and the address of the memory it allocated.
        let code = unsafe {
            allocate(
                aint("window size", bytes)?,
                unit,
                Info::raw_or_null(hints.as_ref()),
                comm.as_raw(),
                base_out,
                &mut raw,
            )
        };
        crate::error::check(call, code).map_err(creation_error)?;
        Win::finish(raw, comm, flavor, base, bytes, disp_unit, false, ())
    }

    /// Creates a window over `bytes` bytes of memory MPI allocates on this process
    /// (`MPI_Win_allocate`), zeroed; collective over `comm`. Target offsets count `disp_unit`
    /// bytes. Sizes may differ between processes (0 is allowed).
    pub fn allocate(bytes: usize, disp_unit: usize, info: &[(&str, &str)], comm: &Comm) -> Result<Win> {
        let f: AllocateFn = ffi::MPI_Win_allocate;
        Win::allocate_with("MPI_Win_allocate", f, Flavor::Allocate, bytes, disp_unit, info, comm)
    }

    /// Like [`allocate`](Self::allocate), in memory every process of `comm` can load and store
    /// (`MPI_Win_allocate_shared`); `comm` must be a shared-memory communicator (see
    /// [`Comm::split_shared`]). [`shared_query`](Self::shared_query) finds the other
    /// processes' segments.
    pub fn allocate_shared(
        bytes: usize,
        disp_unit: usize,
        info: &[(&str, &str)],
        comm: &Comm,
    ) -> Result<Win> {
        let f: AllocateFn = ffi::MPI_Win_allocate_shared;
        Win::allocate_with("MPI_Win_allocate_shared", f, Flavor::Shared, bytes, disp_unit, info, comm)
    }
}

impl<M> Win<M> {
    /// The raw handle (still owned by `self`).
    pub fn as_raw(&self) -> MPI_Win {
        self.core.raw
    }

    /// Rank of this process in the window's group.
    pub fn rank(&self) -> i32 {
        self.core.rank
    }

    /// Number of processes in the window's group.
    pub fn size(&self) -> i32 {
        self.core.size
    }

    /// The window's group (`MPI_Win_get_group`).
    pub fn group(&self) -> Result<Group> {
        let mut g = ffi::GROUP_NULL();
        mpi_call!(MPI_Win_get_group(self.core.raw, &mut g))?;
        Ok(Group::adopt(g))
    }

    /// How the memory was provided (`MPI_WIN_CREATE_FLAVOR`).
    pub fn flavor(&self) -> Flavor {
        self.core.flavor
    }

    /// The memory model (`MPI_WIN_MODEL`).
    pub fn model(&self) -> Result<Model> {
        let m = self.int_attr(ffi::WIN_MODEL())?;
        Ok(if m == ffi::WIN_UNIFIED() { Model::Unified } else { Model::Separate })
    }

    /// The flavor as MPI reports it (`MPI_WIN_CREATE_FLAVOR`), which [`flavor`](Self::flavor)
    /// knows without asking.
    pub fn create_flavor(&self) -> Result<Flavor> {
        let f = self.int_attr(ffi::WIN_CREATE_FLAVOR())?;
        Ok(if f == ffi::WIN_FLAVOR_CREATE() {
            Flavor::Create
        } else if f == ffi::WIN_FLAVOR_ALLOCATE() {
            Flavor::Allocate
        } else if f == ffi::WIN_FLAVOR_SHARED() {
            Flavor::Shared
        } else {
            Flavor::Dynamic
        })
    }

    /// This process's window memory (`MPI_WIN_BASE`; null for dynamic windows). Dereferencing
    /// it races with remote access: see [`local_access`](Self::local_access).
    pub fn base(&self) -> Result<*mut c_void> {
        let mut value: *mut c_void = std::ptr::null_mut();
        let mut flag: c_int = 0;
        mpi_call!(MPI_Win_get_attr(
            self.core.raw,
            ffi::WIN_BASE(),
            (&mut value as *mut *mut c_void).cast(),
            &mut flag
        ))?;
        Ok(if flag != 0 { value } else { std::ptr::null_mut() })
    }

    /// Size of this process's window in bytes (`MPI_WIN_SIZE`).
    pub fn bytes(&self) -> Result<usize> {
        let mut value: *mut MPI_Aint = std::ptr::null_mut();
        let mut flag: c_int = 0;
        mpi_call!(MPI_Win_get_attr(
            self.core.raw,
            ffi::WIN_SIZE(),
            (&mut value as *mut *mut MPI_Aint).cast(),
            &mut flag
        ))?;
        // SAFETY: MPI stores a pointer to an MPI_Aint it owns for this predefined attribute.
        Ok(if flag != 0 && !value.is_null() { from_aint(unsafe { *value }) } else { 0 })
    }

    /// This process's displacement unit in bytes (`MPI_WIN_DISP_UNIT`).
    pub fn disp_unit(&self) -> Result<usize> {
        Ok(self.int_attr(ffi::WIN_DISP_UNIT())?.max(0) as usize)
    }

    fn int_attr(&self, key: c_int) -> Result<c_int> {
        let mut value: *mut c_int = std::ptr::null_mut();
        let mut flag: c_int = 0;
        mpi_call!(MPI_Win_get_attr(self.core.raw, key, (&mut value as *mut *mut c_int).cast(), &mut flag))?;
        // SAFETY: MPI stores a pointer to an int it owns for these predefined attributes.
        Ok(if flag != 0 && !value.is_null() { unsafe { *value } } else { 0 })
    }

    /// The size in bytes and displacement unit of process `rank`'s window, as exchanged at
    /// creation (`None` for dynamic windows).
    pub fn extent_of(&self, rank: i32) -> Option<(usize, usize)> {
        let e = self.core.extents.get(usize::try_from(rank).ok()?)?;
        Some((e.bytes, e.disp_unit))
    }

    /// The segment of process `rank` of a shared-memory window (`MPI_Win_shared_query`).
    pub fn shared_query(&self, rank: i32) -> Result<SharedSegment> {
        if self.core.flavor != Flavor::Shared {
            return Err(Error::InvalidArgument(format!(
                "shared_query needs a window from allocate_shared; this one's flavor is {:?}",
                self.core.flavor
            )));
        }
        epoch::check_rank(&self.core, rank)?;
        let (mut size, mut unit): (MPI_Aint, c_int) = (0, 0);
        let mut ptr: *mut c_void = std::ptr::null_mut();
        mpi_call!(MPI_Win_shared_query(
            self.core.raw,
            rank,
            &mut size,
            &mut unit,
            (&mut ptr as *mut *mut c_void).cast()
        ))?;
        Ok(SharedSegment { ptr, bytes: from_aint(size), disp_unit: unit.max(0) as usize })
    }

    /// The window's name.
    pub fn name(&self) -> Result<String> {
        let mut buf = vec![0 as c_char; ffi::MAX_OBJECT_NAME() as usize + 1];
        let mut len: c_int = 0;
        mpi_call!(MPI_Win_get_name(self.core.raw, buf.as_mut_ptr(), &mut len))?;
        Ok(string_from_c(&buf, len))
    }

    /// Sets the window's name (at most `MPI_MAX_OBJECT_NAME - 1` bytes, no NUL).
    pub fn set_name(&self, name: &str) -> Result<()> {
        let c = crate::util::object_name("a window name", name)?;
        mpi_call!(MPI_Win_set_name(self.core.raw, c.as_ptr()))
    }

    /// The hints in use (`MPI_Win_get_info`), as `(key, value)` pairs.
    pub fn info(&self) -> Result<Vec<(String, String)>> {
        let mut raw = ffi::INFO_NULL();
        mpi_call!(MPI_Win_get_info(self.core.raw, &mut raw))?;
        Info::adopt(raw).pairs()
    }

    /// Sets hints (`MPI_Win_set_info`); collective. MPI may ignore any of them.
    pub fn set_info(&self, info: &[(&str, &str)]) -> Result<()> {
        let hints = Info::for_call(info)?;
        mpi_call!(MPI_Win_set_info(self.core.raw, Info::raw_or_null(hints.as_ref())))
    }

    /// Frees the window now (`MPI_Win_free`, collective), reporting errors that drop cannot;
    /// the memory it owned is dropped.
    pub fn free(self) -> Result<()> {
        self.into_inner().map(drop)
    }

    /// Frees the window (`MPI_Win_free`, collective) and hands back the memory it owned
    /// ([`Win::create`]). Should freeing fail, the memory is leaked, not returned: remote
    /// processes may still reach it.
    pub fn into_inner(self) -> Result<M> {
        let mut this = ManuallyDrop::new(self);
        let freed = this.release();
        // SAFETY: `this` is never dropped: its fields are taken or dropped here, once each.
        // The memory is handed out only if MPI freed the window (or MPI is gone); otherwise it
        // is leaked.
        unsafe {
            std::ptr::drop_in_place(&mut this.core);
            freed.map(|()| ManuallyDrop::take(&mut this.memory))
        }
    }

    /// Closes what a forgotten guard left open, then frees the window.
    fn release(&mut self) -> Result<()> {
        if self.core.raw == ffi::WIN_NULL() || !is_active() {
            return Ok(());
        }
        let closed = epoch::close_leftovers(&self.core);
        let freed = mpi_call!(MPI_Win_free(&mut self.core.raw));
        if freed.is_ok() {
            self.core.raw = ffi::WIN_NULL();
        }
        closed.and(freed)
    }
}

impl<M> Drop for Win<M> {
    fn drop(&mut self) {
        // Every epoch and attached region borrowed the window for its scope, which has ended:
        // MPI is done with all origin buffers. Errors cannot be reported from drop.
        if self.release().is_ok() {
            // SAFETY: dropped once, here, after MPI freed the window.
            unsafe { ManuallyDrop::drop(&mut self.memory) };
        }
    }
}

impl<M> std::fmt::Debug for Win<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Win")
            .field("flavor", &self.core.flavor)
            .field("rank", &self.core.rank)
            .field("size", &self.core.size)
            .field("bytes", &self.core.bytes)
            .finish()
    }
}
