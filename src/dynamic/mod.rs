//! Dynamic process management (mpi4py's `Comm.Spawn`, `Get_parent`, `Disconnect`,
//! `Open_port`, `Accept`, `Connect`, `Publish_name`, `Lookup_name`, `Join`).
//!
//! - [`Comm::spawn`] / [`Comm::spawn_multiple`] start new processes and return an
//!   intercommunicator to them; in the children [`get_parent`] returns its other side.
//! - [`open_port`] gives a [`Port`] that [`Comm::accept`] waits on and [`Comm::connect`] reaches
//!   (its name travels by any means, or through [`publish_name`] / [`lookup_name`]).
//! - [`join`] makes an intercommunicator from the two ends of a connected socket.
//! - [`InterComm::disconnect`] / [`Comm::disconnect`] wait for pending traffic and cut the link.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! let env = mpi4rs::init()?;
//! match mpi4rs::dynamic::get_parent()? {
//!     None => {
//!         // the parent: start three copies of this program
//!         let exe = std::env::current_exe().unwrap();
//!         let children = env.self_comm().spawn(exe.to_str().unwrap(), &[], 3, None, 0)?;
//!         let mut n = 100u64;
//!         children.bcast(&mut n, mpi4rs::root())?;
//!         children.disconnect()?;
//!     }
//!     Some(parent) => {
//!         let mut n = 0u64;
//!         parent.bcast(&mut n, 0)?;
//!         assert_eq!(n, 100);
//!         parent.disconnect()?;
//!     }
//! }
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! # Where it works
//! Spawning needs a launcher that can start processes at run time. Open MPI 4.1 spawns from a
//! job started by `mpiexec` and from a singleton (a program started without `mpiexec`); an
//! MPICH built with the `ch4:ucx` device (Debian's and Ubuntu's packages) refuses spawn, ports
//! and join with "not supported with ucx netmod", which arrives here as an `Err`. Some batch
//! systems forbid spawning altogether; that too is an `Err` where the library reports it, but a
//! failure inside the launcher may also end the job (the MPI library decides, not mpi4rs).
//!
//! Arguments that only the root reads (command, arguments, port name) are checked at the root
//! and the verdict is broadcast first, so a bad argument is an `Err` on every process instead
//! of an error at the root and a hang everywhere else.

mod port;
mod spawn;

pub use port::{join, lookup_name, open_port, publish_name, unpublish_name, Port};
pub use spawn::SpawnCommand;

use crate::collective::checks::check_root;
use crate::comm::{Comm, Communicator};
use crate::error::{mpi_call, Error, Result};
use crate::ffi;
use crate::intercomm::InterComm;
use crate::object::ObjectComm;
pub(crate) use crate::util::c_string;
use std::sync::atomic::{AtomicBool, Ordering};

static PARENT_TAKEN: AtomicBool = AtomicBool::new(false);

/// The intercommunicator to the parent that spawned this process (`MPI_Comm_get_parent`),
/// `None` when this process was not spawned (or the parent link was disconnected).
///
/// The returned value owns the handle, so it is handed out once: a second call while the
/// link still exists is an error (keep and pass on the first value instead). Only on the
/// thread that holds the [`Environment`](crate::Environment) (else
/// [`Error::InvalidArgument`]), as the handle must not outlive it.
pub fn get_parent() -> Result<Option<InterComm>> {
    crate::error::require_active()?;
    crate::environment::require_owner_thread("get_parent")?;
    let mut raw = ffi::COMM_NULL();
    mpi_call!(MPI_Comm_get_parent(&mut raw))?;
    if raw == ffi::COMM_NULL() {
        return Ok(None);
    }
    if PARENT_TAKEN.swap(true, Ordering::AcqRel) {
        return Err(Error::InvalidArgument(
            "get_parent: the parent intercommunicator was already handed out (it has one owner)".into(),
        ));
    }
    InterComm::adopt(raw).map(Some)
}

impl InterComm {
    /// Waits for all pending communication on this intercommunicator, then cuts it
    /// (`MPI_Comm_disconnect`). Both sides call it; it is how a parent and the processes it
    /// spawned (or two connected jobs) become independent again.
    pub fn disconnect(self) -> Result<()> {
        let mut raw = self.as_raw();
        mpi_call!(MPI_Comm_disconnect(&mut raw))?;
        // Disconnected: MPI has freed the handle, so drop must not free it again.
        std::mem::forget(self);
        Ok(())
    }
}

impl Comm {
    /// [`InterComm::disconnect`] for an intracommunicator (e.g. one made by
    /// [`InterComm::merge`] across a spawn). `COMM_WORLD` and `COMM_SELF` cannot be
    /// disconnected.
    pub fn disconnect(self) -> Result<()> {
        let mut raw = self.as_raw();
        if raw == ffi::COMM_WORLD() || raw == ffi::COMM_SELF() {
            return Err(Error::InvalidArgument("COMM_WORLD and COMM_SELF cannot be disconnected".into()));
        }
        mpi_call!(MPI_Comm_disconnect(&mut raw))?;
        std::mem::forget(self);
        Ok(())
    }
}

/// Checks an argument that only the root reads, and makes every process agree on it: the
/// root's verdict (a count the others need, e.g. the number of processes to spawn, or the
/// error in words) is broadcast, so all return `Err` together or go on together.
fn agree_at_root(comm: &Comm, root: i32, check: impl FnOnce() -> Result<i32>) -> Result<i32> {
    check_root(comm, root)?;
    let mut mine = None;
    let mut verdict: std::result::Result<i32, String> = Err(String::new());
    if comm.rank() == root {
        let r = check();
        verdict = r.as_ref().map(|&n| n).map_err(|e| e.to_string());
        mine = Some(r);
    }
    comm.bcast_obj(&mut verdict, root)?;
    match (mine, verdict) {
        (Some(r), _) => r,
        (None, Ok(n)) => Ok(n),
        (None, Err(why)) => Err(Error::InvalidArgument(format!("refused at the root (rank {root}): {why}"))),
    }
}
