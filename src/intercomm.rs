//! Intercommunicators (mpi4py's `Intercomm`): two groups, messages addressed by remote rank.

use crate::comm::{check_rank, check_tag, Comm, Communicator};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm};
use crate::group::Group;
use crate::runtime::error_handler;

/// An intercommunicator. Point-to-point ranks name processes of the remote group.
pub struct InterComm {
    raw: MPI_Comm,
    size: i32,
    rank: i32,
    remote_size: i32,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

impl InterComm {
    pub(crate) fn adopt(raw: MPI_Comm) -> Result<InterComm> {
        if raw == ffi::COMM_NULL() {
            return Err(Error::InvalidArgument("expected an intercommunicator, got COMM_NULL".into()));
        }
        let mut comm = InterComm { raw, size: 0, rank: 0, remote_size: 0, _thread: std::marker::PhantomData };
        mpi_call!(MPI_Comm_set_errhandler(raw, error_handler()))?;
        mpi_call!(MPI_Comm_size(raw, &mut comm.size))?;
        mpi_call!(MPI_Comm_rank(raw, &mut comm.rank))?;
        mpi_call!(MPI_Comm_remote_size(raw, &mut comm.remote_size))?;
        Ok(comm)
    }

    /// Takes ownership of a raw intercommunicator handle.
    ///
    /// # Safety
    /// `raw` must be a valid intercommunicator that nothing else frees.
    pub unsafe fn from_raw(raw: MPI_Comm) -> Result<InterComm> {
        InterComm::adopt(raw)
    }

    /// Size of the remote group.
    pub fn remote_size(&self) -> i32 {
        self.remote_size
    }

    /// The remote group.
    pub fn remote_group(&self) -> Result<Group> {
        let mut g = ffi::GROUP_NULL();
        mpi_call!(MPI_Comm_remote_group(self.raw, &mut g))?;
        Ok(Group::adopt(g))
    }

    /// Duplicates the intercommunicator.
    pub fn dup(&self) -> Result<InterComm> {
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Comm_dup(self.raw, &mut c))?;
        InterComm::adopt(c)
    }

    /// Merges both groups into one intracommunicator (`MPI_Intercomm_merge`); the group
    /// passing `high = true` is ordered after the other.
    pub fn merge(&self, high: bool) -> Result<Comm> {
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Intercomm_merge(self.raw, high as i32, &mut c))?;
        Comm::adopt(c)?.ok_or_else(|| Error::InvalidArgument("MPI_Intercomm_merge returned COMM_NULL".into()))
    }
}

impl Communicator for InterComm {
    fn as_raw(&self) -> MPI_Comm {
        self.raw
    }
    fn size(&self) -> i32 {
        self.size
    }
    fn rank(&self) -> i32 {
        self.rank
    }
    fn peer_count(&self) -> i32 {
        self.remote_size
    }
    fn is_inter(&self) -> bool {
        true
    }
}

impl Drop for InterComm {
    fn drop(&mut self) {
        if let Some(_call) = crate::runtime::enter_if_active() {
            // SAFETY: an intercommunicator this value owns, freed once; MPI is active.
            unsafe { ffi::MPI_Comm_free(&mut self.raw) };
        }
    }
}

impl Comm {
    /// Creates an intercommunicator with another group (`MPI_Intercomm_create`): this
    /// communicator holds the local group, `peer` connects the two leaders.
    pub fn create_intercomm(
        &self,
        local_leader: i32,
        peer: &Comm,
        remote_leader: i32,
        tag: i32,
    ) -> Result<InterComm> {
        check_rank(self, local_leader, false)?;
        check_tag(tag)?;
        if self.rank() == local_leader {
            check_rank(peer, remote_leader, false)?;
        }
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Intercomm_create(
            self.as_raw(),
            local_leader,
            peer.as_raw(),
            remote_leader,
            tag,
            &mut c
        ))?;
        InterComm::adopt(c)
    }
}
