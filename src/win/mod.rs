//! One-sided communication (mpi4py's `Win`): windows of memory that other processes read and
//! write with put, get and the atomic accumulate family, inside synchronisation epochs.
//!
//! # Layout
//! - this module: creating windows ([`Win::create`] over a borrowed buffer, [`Win::allocate`],
//!   [`Win::allocate_shared`] with [`Win::shared_query`], [`Win::create_dynamic`] with
//!   [`Win::attach`]/[`Win::detach`]), their attributes, info hints and name, safe access to
//!   the local memory ([`Win::local_access`]) and freeing on drop;
//! - `epoch`: synchronisation — [`Win::fence`], [`Win::start`]/[`Win::post`] (PSCW),
//!   [`Win::lock`], [`Win::lock_all`] open an [`Epoch`] (or an [`Exposure`]); flushes live on
//!   the epoch; closing or dropping it ends the epoch;
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
//!     for r in 0..world.size() {
//!         let epoch = win.lock(r, LockType::Exclusive, Assert::NONE)?;
//!         epoch.put(&data, r, 0)?;
//!         epoch.end()?; // MPI_Win_unlock: the put is complete at the target
//!     }
//! }
//! world.barrier()?;
//! let mine = win.local_access()?; // an exclusive lock on this process's own window
//! assert_eq!(mine.as_slice::<f64>()?, [1.0, 2.0, 3.0, 4.0]);
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! # Safety design
//! - **Window memory.** [`Win::create`] borrows the buffer (`&'m mut`) for the window's life
//!   `'m`, so it can be neither freed, moved nor touched while remote processes may access it;
//!   [`Win::attach`] borrows for `'m` too (a detached region stays borrowed until the window is
//!   freed, because a remote process could still name its address, and MPICH does not check).
//!   Memory of [`Win::allocate`] is MPI's and freed with the window; it is zeroed before any
//!   other process can reach it (before the exchange of window sizes that ends creation).
//! - **Origin buffers.** MPI reads a put's origin and writes a get's until the epoch closes or
//!   a flush completes the operation. Operations therefore live on an [`Epoch`] guard whose
//!   lifetime parameter `'b` every origin buffer is borrowed for: the borrow checker forbids
//!   touching, moving or dropping a buffer until the epoch is closed ([`Epoch::end`]) or
//!   dropped (which closes it). The request forms (`rput` …) borrow their buffers only until
//!   the [`Request`](crate::Request) completes, and borrow the epoch, so every request is
//!   completed before its epoch closes. To read a fetched value in the middle of a
//!   passive-target epoch, use the request forms or the scalar helpers
//!   ([`Epoch::fetch_and_op_value`] …), which complete the operation before returning. As with
//!   requests, `std::mem::forget` on an epoch defeats the guard: don't.
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
//!   reason.
//!
//! # Errors
//! `MPI_ERRORS_RETURN` is set on every window. Open MPI and MPICH differ in what they detect
//! (operations outside an epoch, targets past the window's end, a second lock of the same
//! rank): to give the same clear error on both, every window tracks its epochs (operations
//! exist only on an [`Epoch`], and each checks that its target rank belongs to it), and every
//! process's window size and displacement unit are exchanged at creation so that each target
//! range is checked before MPI is called ([`Error::RmaRange`]).
//! Dynamic windows cannot be checked this way: their targets are addresses in memory the
//! target attached, which only the target knows. Accumulate operations are checked against the
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
use crate::environment::{error_handler, is_active, require_active};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Aint, MPI_Win};
use crate::group::Group;
use crate::info::Info;
use crate::util::string_from_c;
use mpi4rs_device::{DType, MemoryKind};
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};
use std::marker::PhantomData;

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
/// [`address`](Self::address), which they must be told.
#[derive(Debug, PartialEq, Eq)]
pub struct Attached {
    address: usize,
    ptr: *mut c_void,
    bytes: usize,
}

impl Attached {
    /// The address remote processes give as the target offset (`MPI_Get_address`).
    pub fn address(&self) -> usize {
        self.address
    }

    /// The region's size in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
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
}

/// A window for one-sided communication (`MPI_Win`), over memory that lives for `'m`; freed
/// (collectively) on drop. See the [module documentation](self).
pub struct Win<'m> {
    pub(crate) core: Core,
    /// Invariant in `'m`: a window must not be coerced to a shorter memory lifetime, which
    /// would let [`attach`](Win::attach) take memory that dies before the window.
    _memory: PhantomData<fn(&'m ()) -> &'m ()>,
}

// SAFETY: MPI window handles may be used from any thread the thread level allows; the memory
// the window borrows is `&mut`-borrowed (Send when its elements are plain data). Not Sync: the
// epoch state is a RefCell.
unsafe impl Send for Win<'_> {}

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
        MemoryKind::Host | MemoryKind::PinnedHost => Ok(false),
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
            "{e}. Open MPI found no one-sided (osc) component for this window: osc/rdma needs RDMA, which \
             on one node means a single-copy mechanism (OMPI_MCA_btl_vader_single_copy_mechanism=cma or \
             xpmem); osc/pt2pt refuses MPI_THREAD_MULTIPLE and is disabled in Debian's build; osc/sm \
             serves only Win::allocate and Win::allocate_shared"
        )),
        _ => e,
    }
}

impl<'m> Win<'m> {
    /// Finishes a window MPI just created: error handler, zeroed memory, every process's
    /// extent. Owns `raw` from the start, so an error frees it.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        raw: MPI_Win,
        comm: &Comm,
        flavor: Flavor,
        base: *mut c_void,
        bytes: usize,
        disp_unit: usize,
        device: bool,
    ) -> Result<Win<'m>> {
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
            },
            _memory: PhantomData,
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

    /// Creates a window over `memory` (`MPI_Win_create`), collective over `comm`. The buffer
    /// stays borrowed until the window is dropped. Target offsets count `disp_unit` bytes.
    ///
    /// Device memory needs a CUDA-aware MPI ([`Error::UnsupportedBuffer`] otherwise).
    pub fn create<B: BufferMut + ?Sized>(
        memory: &'m mut B,
        disp_unit: usize,
        info: &[(&str, &str)],
        comm: &Comm,
    ) -> Result<Win<'m>> {
        require_active()?;
        let s = memory.spec_mut()?;
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
        Win::finish(raw, comm, Flavor::Create, s.ptr, s.bytes, disp_unit, device)
    }

    /// Creates a window without memory (`MPI_Win_create_dynamic`); regions are added with
    /// [`attach`](Self::attach). Target offsets are the addresses that `attach` returns.
    pub fn create_dynamic(info: &[(&str, &str)], comm: &Comm) -> Result<Win<'m>> {
        require_active()?;
        let hints = Info::for_call(info)?;
        let mut raw = ffi::WIN_NULL();
        mpi_call!(MPI_Win_create_dynamic(Info::raw_or_null(hints.as_ref()), comm.as_raw(), &mut raw))
            .map_err(creation_error)?;
        Win::finish(raw, comm, Flavor::Dynamic, std::ptr::null_mut(), 0, 1, false)
    }

    /// Attaches `memory` to a dynamic window (`MPI_Win_attach`). It stays borrowed until the
    /// window is dropped, even after [`detach`](Self::detach): see the module documentation.
    pub fn attach<B: BufferMut + ?Sized>(&self, memory: &'m mut B) -> Result<Attached> {
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
        mpi_call!(MPI_Get_address(s.ptr, &mut address))?;
        let address = from_aint(address);
        Ok(Attached { address, ptr: s.ptr, bytes: s.bytes })
    }

    /// Detaches a region from a dynamic window (`MPI_Win_detach`).
    pub fn detach(&self, region: Attached) -> Result<()> {
        mpi_call!(MPI_Win_detach(self.core.raw, region.ptr))
    }
}

/// `MPI_Win_allocate` and `MPI_Win_allocate_shared`, which take the same arguments.
type AllocateFn =
    unsafe extern "C" fn(MPI_Aint, c_int, ffi::MPI_Info, ffi::MPI_Comm, *mut c_void, *mut MPI_Win) -> c_int;

impl Win<'static> {
    fn allocate_with(
        call: &'static str,
        allocate: AllocateFn,
        flavor: Flavor,
        bytes: usize,
        disp_unit: usize,
        info: &[(&str, &str)],
        comm: &Comm,
    ) -> Result<Win<'static>> {
        require_active()?;
        let unit = disp_unit_arg(disp_unit)?;
        let hints = Info::for_call(info)?;
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
        Win::finish(raw, comm, flavor, base, bytes, disp_unit, false)
    }

    /// Creates a window over `bytes` bytes of memory MPI allocates on this process
    /// (`MPI_Win_allocate`), zeroed; collective over `comm`. Target offsets count `disp_unit`
    /// bytes. Sizes may differ between processes (0 is allowed).
    pub fn allocate(
        bytes: usize,
        disp_unit: usize,
        info: &[(&str, &str)],
        comm: &Comm,
    ) -> Result<Win<'static>> {
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
    ) -> Result<Win<'static>> {
        let f: AllocateFn = ffi::MPI_Win_allocate_shared;
        Win::allocate_with("MPI_Win_allocate_shared", f, Flavor::Shared, bytes, disp_unit, info, comm)
    }
}

impl Win<'_> {
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

    /// Frees the window now (`MPI_Win_free`, collective), reporting errors that drop cannot.
    pub fn free(mut self) -> Result<()> {
        let r = mpi_call!(MPI_Win_free(&mut self.core.raw));
        self.core.raw = ffi::WIN_NULL();
        r
    }
}

impl Drop for Win<'_> {
    fn drop(&mut self) {
        if self.core.raw != ffi::WIN_NULL() && is_active() {
            // SAFETY: owned, live handle; every epoch borrowed the window and has ended, so
            // MPI is done with all origin buffers; errors cannot be reported from drop.
            unsafe { ffi::MPI_Win_free(&mut self.core.raw) };
        }
    }
}

impl std::fmt::Debug for Win<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Win")
            .field("flavor", &self.core.flavor)
            .field("rank", &self.core.rank)
            .field("size", &self.core.size)
            .field("bytes", &self.core.bytes)
            .finish()
    }
}
