//! Communicators: the [`Communicator`] trait shared by intra- and intercommunicators, and
//! [`Comm`], the intracommunicator (mpi4py's `Comm` and `Intracomm`).

use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm};
pub use crate::group::Comparison;
use crate::group::Group;
use crate::runtime::{error_handler, tag_ub};
use crate::util::string_from_c;
use std::ffi::{c_char, c_int, c_void};

/// Checks a destination (`any = false`) or source (`any = true`) rank.
#[inline(always)]
pub(crate) fn check_rank<C: Communicator + ?Sized>(comm: &C, rank: i32, any: bool) -> Result<()> {
    let size = comm.peer_count();
    if (0..size).contains(&rank) || rank == ffi::PROC_NULL() || (any && rank == ffi::ANY_SOURCE()) {
        Ok(())
    } else {
        Err(invalid_rank(rank, size, any))
    }
}

// The error values are built out of line, so the checks inline to a compare and a branch.
#[cold]
#[inline(never)]
fn invalid_rank(rank: i32, size: i32, allows_any: bool) -> Error {
    Error::InvalidRank { rank, size, allows_any }
}

#[cold]
#[inline(never)]
fn invalid_tag(tag: i32, tag_ub: i32, allows_any: bool) -> Error {
    Error::InvalidTag { tag, tag_ub, allows_any }
}

/// Checks a tag for sending: 0 ..= TAG_UB.
#[inline(always)]
pub(crate) fn check_tag(tag: i32) -> Result<()> {
    check_tag_any(tag, false)
}

#[inline(always)]
pub(crate) fn check_tag_any(tag: i32, any: bool) -> Result<()> {
    let ub = tag_ub();
    if (0..=ub).contains(&tag) || (any && tag == ffi::ANY_TAG()) {
        Ok(())
    } else {
        Err(invalid_tag(tag, ub, any))
    }
}

/// Whether a receive from `source` on `comm` may match a message this process sent to itself
/// on an MPI whose path for such messages writes past a smaller receive buffer (see
/// [`crate::truncation`]): intracommunicators, `source` this rank or any source.
#[inline(always)]
pub(crate) fn may_match_own_send<C: Communicator + ?Sized>(comm: &C, source: i32) -> bool {
    crate::runtime::guard_self_receives()
        && !comm.is_inter()
        && (source == comm.rank() || source == ffi::ANY_SOURCE())
}

/// Refuses a receive that is posted before its message exists (`what`) when it may match a
/// message this process sent to itself on an MPI that writes such a message past a smaller
/// receive buffer (see [`crate::truncation`]): its size could not be checked first.
#[inline(always)]
pub(crate) fn refuse_unprobed_self_receive<C: Communicator + ?Sized>(
    comm: &C,
    source: i32,
    what: &str,
) -> crate::error::Result<()> {
    if may_match_own_send(comm, source) {
        return Err(unprobed_self_receive(what, source));
    }
    Ok(())
}

#[cold]
fn unprobed_self_receive(what: &str, source: i32) -> crate::error::Error {
    let from = if source == ffi::ANY_SOURCE() { "any source" } else { "this rank itself" };
    crate::error::Error::Unsupported(format!(
        "{what} from {from}: this MPI writes a message a process sends to itself past the end of \
         a smaller receive buffer (Open MPI's self transport with RDMA), so such receives must \
         learn the message's size first, which a receive posted ahead cannot. Use a blocking \
         recv, mprobe or a named other source, or lift the limit: call mpi4rs::init before \
         starting other threads and leave {} unset (init then sets it to send,inplace), or set \
         it to send,inplace yourself (mpiexec -x)",
        crate::truncation::SELF_FLAGS_VAR
    ))
}

/// What every communicator offers; point-to-point lives in [`crate::PointToPoint`].
pub trait Communicator {
    /// The raw MPI handle (still owned by `self`).
    fn as_raw(&self) -> MPI_Comm;
    /// Number of processes in the (local) group.
    fn size(&self) -> i32;
    /// Rank of this process in the (local) group.
    fn rank(&self) -> i32;
    /// Number of ranks a message can be addressed to: the size, or the remote group's size for
    /// an intercommunicator.
    fn peer_count(&self) -> i32;
    /// Whether this is an intercommunicator.
    fn is_inter(&self) -> bool;

    /// The (local) group of this communicator.
    fn group(&self) -> Result<Group> {
        let mut g = ffi::GROUP_NULL();
        mpi_call!(MPI_Comm_group(self.as_raw(), &mut g))?;
        Ok(Group::adopt(g))
    }

    /// Compares two communicators (`MPI_Comm_compare`).
    fn compare<C: Communicator + ?Sized>(&self, other: &C) -> Result<Comparison>
    where
        Self: Sized,
    {
        let mut r: c_int = 0;
        mpi_call!(MPI_Comm_compare(self.as_raw(), other.as_raw(), &mut r))?;
        Ok(Comparison::from_raw(r))
    }

    /// The communicator's name.
    fn name(&self) -> Result<String> {
        let mut buf = vec![0 as c_char; ffi::MAX_OBJECT_NAME() as usize + 1];
        let mut len: c_int = 0;
        mpi_call!(MPI_Comm_get_name(self.as_raw(), buf.as_mut_ptr(), &mut len))?;
        Ok(string_from_c(&buf, len))
    }

    /// Sets the communicator's name (at most `MPI_MAX_OBJECT_NAME` bytes, no NUL).
    fn set_name(&self, name: &str) -> Result<()> {
        let c = crate::util::object_name("a communicator name", name)?;
        mpi_call!(MPI_Comm_set_name(self.as_raw(), c.as_ptr()))
    }

    /// `TAG_UB`: the largest valid tag (set on `COMM_WORLD`).
    fn tag_ub(&self) -> Result<Option<i32>> {
        int_attr(self.as_raw(), ffi::TAG_UB())
    }

    /// `UNIVERSE_SIZE`: how many processes the job could have (set on `COMM_WORLD`, if known).
    fn universe_size(&self) -> Result<Option<i32>> {
        int_attr(self.as_raw(), ffi::UNIVERSE_SIZE())
    }

    /// `APPNUM`: the index of this program in an MPMD launch (set on `COMM_WORLD`, if known).
    fn appnum(&self) -> Result<Option<i32>> {
        int_attr(self.as_raw(), ffi::APPNUM())
    }

    /// `WTIME_IS_GLOBAL`: whether clocks are synchronised across processes.
    fn wtime_is_global(&self) -> Result<Option<bool>> {
        Ok(int_attr(self.as_raw(), ffi::WTIME_IS_GLOBAL())?.map(|v| v != 0))
    }

    /// Aborts all processes of this communicator (`MPI_Abort`).
    fn abort(&self, errorcode: i32) -> Result<std::convert::Infallible> {
        mpi_call!(MPI_Abort(self.as_raw(), errorcode))?;
        std::process::exit(errorcode)
    }
}

/// Reads a predefined integer attribute; `None` when it is not set on this communicator.
fn int_attr(comm: MPI_Comm, key: c_int) -> Result<Option<i32>> {
    let mut value: *mut c_int = std::ptr::null_mut();
    let mut flag: c_int = 0;
    mpi_call!(MPI_Comm_get_attr(comm, key, (&mut value as *mut *mut c_int).cast::<c_void>(), &mut flag))?;
    // SAFETY: for predefined attributes MPI stores a pointer to an int it owns.
    Ok(if flag != 0 && !value.is_null() { Some(unsafe { *value }) } else { None })
}

/// An intracommunicator. Freed on drop, except `COMM_WORLD` and `COMM_SELF`.
pub struct Comm {
    raw: MPI_Comm,
    size: i32,
    rank: i32,
    owned: bool,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

impl Comm {
    fn wrap(raw: MPI_Comm, owned: bool) -> Result<Comm> {
        // Owns `raw` from here, so an error below frees it. Fill in this value and return it:
        // building a second `Comm` from it (`..comm`) would copy the handle and then drop —
        // free — this one.
        let mut comm = Comm { raw, size: 0, rank: 0, owned, _thread: std::marker::PhantomData };
        mpi_call!(MPI_Comm_set_errhandler(raw, error_handler()))?;
        mpi_call!(MPI_Comm_size(raw, &mut comm.size))?;
        mpi_call!(MPI_Comm_rank(raw, &mut comm.rank))?;
        Ok(comm)
    }

    pub(crate) fn predefined(raw: MPI_Comm) -> Result<Comm> {
        Comm::wrap(raw, false)
    }

    /// Takes ownership of a communicator MPI just created; `None` for `COMM_NULL`.
    pub(crate) fn adopt(raw: MPI_Comm) -> Result<Option<Comm>> {
        if raw == ffi::COMM_NULL() {
            return Ok(None);
        }
        Comm::wrap(raw, true).map(Some)
    }

    fn adopt_some(raw: MPI_Comm, call: &str) -> Result<Comm> {
        Comm::adopt(raw)?.ok_or_else(|| Error::InvalidArgument(format!("{call} returned COMM_NULL")))
    }

    /// Takes ownership of a raw intracommunicator handle.
    ///
    /// # Safety
    /// `raw` must be a valid intracommunicator that nothing else frees.
    pub unsafe fn from_raw(raw: MPI_Comm) -> Result<Option<Comm>> {
        Comm::adopt(raw)
    }

    /// Duplicates the communicator (`MPI_Comm_dup`).
    pub fn dup(&self) -> Result<Comm> {
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Comm_dup(self.raw, &mut c))?;
        Comm::adopt_some(c, "MPI_Comm_dup")
    }

    /// Splits by `color` (`None` = `MPI_UNDEFINED`: this process joins no new communicator),
    /// ordering by `key` (`MPI_Comm_split`).
    pub fn split(&self, color: Option<i32>, key: i32) -> Result<Option<Comm>> {
        let color = match color {
            Some(c) if c < 0 => return Err(Error::InvalidArgument(format!("split color {c} is negative"))),
            Some(c) => c,
            None => ffi::UNDEFINED(),
        };
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Comm_split(self.raw, color, key, &mut c))?;
        Comm::adopt(c)
    }

    /// Splits into communicators of processes that share memory (`MPI_COMM_TYPE_SHARED`).
    pub fn split_shared(&self, key: i32) -> Result<Comm> {
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Comm_split_type(self.raw, ffi::COMM_TYPE_SHARED(), key, ffi::INFO_NULL(), &mut c))?;
        Comm::adopt_some(c, "MPI_Comm_split_type")
    }

    /// Creates a communicator from a subgroup; collective over `self` (`MPI_Comm_create`).
    /// Processes outside `group` get `None`.
    pub fn create(&self, group: &Group) -> Result<Option<Comm>> {
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Comm_create(self.raw, group.as_raw(), &mut c))?;
        Comm::adopt(c)
    }

    /// Creates a communicator from a subgroup; collective over `group` only
    /// (`MPI_Comm_create_group`). Processes outside `group` get `None` without calling MPI.
    pub fn create_group(&self, group: &Group, tag: i32) -> Result<Option<Comm>> {
        check_tag(tag)?;
        if group.rank()?.is_none() {
            return Ok(None);
        }
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Comm_create_group(self.raw, group.as_raw(), tag, &mut c))?;
        Comm::adopt(c)
    }

    /// A duplicate of an rsmpi communicator, for code moving from rsmpi.
    pub fn from_rsmpi<C: mpi::topology::Communicator>(comm: &C) -> Result<Comm> {
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Comm_dup(comm.as_raw(), &mut c))?;
        Comm::adopt_some(c, "MPI_Comm_dup")
    }

    /// A duplicate of this communicator as an rsmpi communicator.
    pub fn to_rsmpi(&self) -> Result<mpi::topology::SimpleCommunicator> {
        use mpi::raw::FromRaw;
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Comm_dup(self.raw, &mut c))?;
        // SAFETY: `c` is a fresh intracommunicator that only the returned value owns.
        Ok(unsafe { mpi::topology::SimpleCommunicator::from_raw(c) })
    }
}

impl Communicator for Comm {
    #[inline]
    fn as_raw(&self) -> MPI_Comm {
        self.raw
    }
    #[inline]
    fn size(&self) -> i32 {
        self.size
    }
    #[inline]
    fn rank(&self) -> i32 {
        self.rank
    }
    #[inline]
    fn peer_count(&self) -> i32 {
        self.size
    }
    fn is_inter(&self) -> bool {
        false
    }
}

impl Drop for Comm {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Some(_call) = crate::runtime::enter_if_active() {
            // SAFETY: owned, live handle; errors cannot be reported from drop.
            unsafe { ffi::MPI_Comm_free(&mut self.raw) };
        }
    }
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Comm").field("rank", &self.rank).field("size", &self.size).finish()
    }
}
