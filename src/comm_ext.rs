//! Communicator creation and hints beyond [`crate::comm`]: nonblocking duplication
//! ([`Comm::idup`]), duplication with hints ([`Comm::dup_with_info`]), a communicator's hints
//! ([`Comm::info`], [`Comm::set_info`]) and splitting by hardware locality
//! ([`Comm::split_type`] with every [`SplitType`] MPI or the library offers).

use crate::comm::{Comm, Communicator};
use crate::completion::{test_raw, wait_raw};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm, MPI_Request};
use crate::info::Info;
use std::marker::PhantomData;

/// A communicator being duplicated by [`Comm::idup`] (`MPI_Comm_idup`).
///
/// MPI writes the new handle into memory this value owns on the heap when the operation
/// completes. [`wait`](Self::wait) returns the communicator; dropping the value waits and frees
/// it. Forgetting it (`std::mem::forget`) leaks that heap cell, so MPI still writes into
/// memory nobody else uses: no scope is needed.
#[must_use = "dropping a pending duplicate waits for it and frees the communicator"]
pub struct PendingComm<'a> {
    /// Where MPI writes the new communicator (boxed: the address must not move with `self`).
    out: Box<MPI_Comm>,
    request: MPI_Request,
    _parent: PhantomData<&'a Comm>,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

impl PendingComm<'_> {
    /// Whether the duplicate is ready (`MPI_Test`); [`wait`](Self::wait) then returns at once.
    pub fn test(&mut self) -> Result<bool> {
        if self.request == ffi::REQUEST_NULL() {
            return Ok(true);
        }
        Ok(test_raw(&mut self.request)?.is_some())
    }

    /// Waits for the duplicate (`MPI_Wait`) and returns it.
    pub fn wait(mut self) -> Result<Comm> {
        if self.request != ffi::REQUEST_NULL() {
            wait_raw(&mut self.request)?;
        }
        let raw = std::mem::replace(&mut *self.out, ffi::COMM_NULL());
        Comm::adopt(raw)?.ok_or_else(|| Error::InvalidArgument("MPI_Comm_idup returned COMM_NULL".into()))
    }
}

impl Drop for PendingComm<'_> {
    fn drop(&mut self) {
        let Some(_call) = crate::runtime::enter_if_active() else { return };
        if self.request != ffi::REQUEST_NULL() && wait_raw(&mut self.request).is_err() {
            return;
        }
        if *self.out != ffi::COMM_NULL() {
            // SAFETY: a communicator MPI made for us and nobody else holds.
            unsafe { ffi::MPI_Comm_free(&mut *self.out) };
        }
    }
}

/// How [`Comm::split_type`] groups processes (`MPI_COMM_TYPE_*`, and the types the MPI
/// library adds). Types the library underneath lacks give [`Error::Unsupported`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SplitType {
    /// `MPI_COMM_TYPE_SHARED`: processes that can share memory (one node).
    Shared,
    /// `MPI_COMM_TYPE_HW_GUIDED` (MPI-4; MPICH 4): by the hardware resource named in the info
    /// key `mpi_hw_resource_type` (see [`SplitType::hw_guided_info`]).
    HwGuided,
    /// `MPI_COMM_TYPE_HW_UNGUIDED` (MPI-4; MPICH 4): by the next smaller hardware level.
    HwUnguided,
    /// `MPIX_COMM_TYPE_NEIGHBORHOOD` (MPICH): by a file system path given in the info key
    /// `nbhd_common_dirname`.
    Neighborhood,
    /// `OMPI_COMM_TYPE_HWTHREAD` (Open MPI).
    HwThread,
    /// `OMPI_COMM_TYPE_CORE` (Open MPI).
    Core,
    /// `OMPI_COMM_TYPE_L1CACHE` (Open MPI).
    L1Cache,
    /// `OMPI_COMM_TYPE_L2CACHE` (Open MPI).
    L2Cache,
    /// `OMPI_COMM_TYPE_L3CACHE` (Open MPI).
    L3Cache,
    /// `OMPI_COMM_TYPE_SOCKET` (Open MPI).
    Socket,
    /// `OMPI_COMM_TYPE_NUMA` (Open MPI).
    Numa,
    /// `OMPI_COMM_TYPE_BOARD` (Open MPI).
    Board,
    /// `OMPI_COMM_TYPE_HOST` (Open MPI).
    Host,
    /// `OMPI_COMM_TYPE_CU` (Open MPI).
    Cu,
    /// `OMPI_COMM_TYPE_CLUSTER` (Open MPI).
    Cluster,
}

impl SplitType {
    /// Every split type, for listing what the library offers.
    pub const ALL: [SplitType; 15] = [
        SplitType::Shared,
        SplitType::HwGuided,
        SplitType::HwUnguided,
        SplitType::Neighborhood,
        SplitType::HwThread,
        SplitType::Core,
        SplitType::L1Cache,
        SplitType::L2Cache,
        SplitType::L3Cache,
        SplitType::Socket,
        SplitType::Numa,
        SplitType::Board,
        SplitType::Host,
        SplitType::Cu,
        SplitType::Cluster,
    ];

    fn value(self) -> i32 {
        match self {
            SplitType::Shared => ffi::COMM_TYPE_SHARED(),
            SplitType::HwGuided => ffi::COMM_TYPE_HW_GUIDED(),
            SplitType::HwUnguided => ffi::COMM_TYPE_HW_UNGUIDED(),
            SplitType::Neighborhood => ffi::COMM_TYPE_NEIGHBORHOOD(),
            SplitType::HwThread => ffi::COMM_TYPE_HWTHREAD(),
            SplitType::Core => ffi::COMM_TYPE_CORE(),
            SplitType::L1Cache => ffi::COMM_TYPE_L1CACHE(),
            SplitType::L2Cache => ffi::COMM_TYPE_L2CACHE(),
            SplitType::L3Cache => ffi::COMM_TYPE_L3CACHE(),
            SplitType::Socket => ffi::COMM_TYPE_SOCKET(),
            SplitType::Numa => ffi::COMM_TYPE_NUMA(),
            SplitType::Board => ffi::COMM_TYPE_BOARD(),
            SplitType::Host => ffi::COMM_TYPE_HOST(),
            SplitType::Cu => ffi::COMM_TYPE_CU(),
            SplitType::Cluster => ffi::COMM_TYPE_CLUSTER(),
        }
    }

    /// Whether the MPI library underneath defines this split type.
    pub fn is_available(self) -> bool {
        self.value() != ffi::ABSENT()
    }

    /// The raw `split_type` value, or [`Error::Unsupported`] where the library lacks it.
    pub fn raw(self) -> Result<i32> {
        match self.value() {
            v if v == ffi::ABSENT() => {
                Err(Error::Unsupported(format!("split type {self:?} is not defined by this MPI library")))
            }
            v => Ok(v),
        }
    }

    /// The hints [`SplitType::HwGuided`] needs: `mpi_hw_resource_type = resource` (MPI-4 names
    /// `"mpi_shared_memory"`; libraries add their own, e.g. MPICH's hwloc names `"socket"`,
    /// `"numanode"`, `"core"`).
    pub fn hw_guided_info(resource: &str) -> Result<Info> {
        Info::from_pairs([("mpi_hw_resource_type", resource)])
    }
}

impl Comm {
    /// Starts a nonblocking duplicate of the communicator (`MPI_Comm_idup`), collectively:
    /// every process calls it in the same order as its other collectives. The new
    /// communicator is ready once [`PendingComm::wait`] returns it.
    ///
    /// ```no_run
    /// use mpi4rs::prelude::*;
    /// let env = mpi4rs::init()?;
    /// let pending = env.world().idup()?;
    /// // ... other work ...
    /// let dup = pending.wait()?;
    /// assert_eq!(dup.size(), env.world().size());
    /// # Ok::<(), mpi4rs::Error>(())
    /// ```
    pub fn idup(&self) -> Result<PendingComm<'_>> {
        let mut pending = PendingComm {
            out: Box::new(ffi::COMM_NULL()),
            request: ffi::REQUEST_NULL(),
            _parent: PhantomData,
            _thread: PhantomData,
        };
        mpi_call!(MPI_Comm_idup(self.as_raw(), &mut *pending.out, &mut pending.request))?;
        Ok(pending)
    }

    /// Duplicates the communicator with new hints (`MPI_Comm_dup_with_info`): the duplicate
    /// takes `info`'s hints instead of this communicator's.
    pub fn dup_with_info(&self, info: &Info) -> Result<Comm> {
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Comm_dup_with_info(self.as_raw(), info.as_raw(), &mut c))?;
        Comm::adopt(c)?
            .ok_or_else(|| Error::InvalidArgument("MPI_Comm_dup_with_info returned COMM_NULL".into()))
    }

    /// The hints MPI uses for this communicator (`MPI_Comm_get_info`): a new info object, which
    /// may hold fewer keys than were set (MPI drops hints it ignores).
    pub fn info(&self) -> Result<Info> {
        let mut raw = ffi::INFO_NULL();
        mpi_call!(MPI_Comm_get_info(self.as_raw(), &mut raw))?;
        Ok(Info::adopt(raw))
    }

    /// Sets hints on the communicator (`MPI_Comm_set_info`), collectively.
    pub fn set_info(&self, info: &Info) -> Result<()> {
        mpi_call!(MPI_Comm_set_info(self.as_raw(), info.as_raw()))
    }

    /// Splits by hardware locality (`MPI_Comm_split_type`): `None` (`MPI_UNDEFINED`) joins no
    /// new communicator; `key` orders the ranks; `info` passes hints (required by
    /// [`SplitType::HwGuided`] and [`SplitType::Neighborhood`]). Returns `None` where this
    /// process belongs to no group of that type (for instance an unknown
    /// `mpi_hw_resource_type`). A split type the library does not define is
    /// [`Error::Unsupported`] on every process, before MPI is called.
    ///
    /// ```no_run
    /// use mpi4rs::prelude::*;
    /// use mpi4rs::SplitType;
    /// let env = mpi4rs::init()?;
    /// let node = env.world().split_type(Some(SplitType::Shared), 0, None)?.expect("one node");
    /// println!("{} ranks share my node", node.size());
    /// # Ok::<(), mpi4rs::Error>(())
    /// ```
    pub fn split_type(
        &self,
        split: Option<SplitType>,
        key: i32,
        info: Option<&Info>,
    ) -> Result<Option<Comm>> {
        let ty = match split {
            Some(s) => s.raw()?,
            None => ffi::UNDEFINED(),
        };
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Comm_split_type(self.as_raw(), ty, key, Info::raw_or_null(info), &mut c))?;
        Comm::adopt(c)
    }
}
