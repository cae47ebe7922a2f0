//! Client/server connections: ports, `MPI_Comm_accept` / `MPI_Comm_connect`, the name
//! service (`MPI_Publish_name`, `MPI_Lookup_name`) and `MPI_Comm_join`.

use super::{agree_at_root, c_string};
use crate::comm::{Comm, Communicator};
use crate::error::require_active;
use crate::error::{mpi_call, Result};
use crate::ffi;
use crate::info::Info;
use crate::intercomm::InterComm;
use crate::util::string_from_c;
use std::ffi::{c_char, c_int, CString};
use std::os::fd::RawFd;

/// An open port (`MPI_Open_port`): a name that [`Comm::connect`] can reach while this
/// process waits in [`Comm::accept`]. Closed on drop (`MPI_Close_port`).
#[derive(Debug)]
pub struct Port {
    name: String,
    open: bool,
}

/// Opens a port (`MPI_Open_port`; mpi4py's `MPI.Open_port`). Its [`name`](Port::name) is what
/// clients pass to [`Comm::connect`].
pub fn open_port(info: Option<&Info>) -> Result<Port> {
    require_active()?;
    let mut buf = vec![0 as c_char; ffi::MAX_PORT_NAME() as usize + 1];
    mpi_call!(MPI_Open_port(Info::raw_or_null(info), buf.as_mut_ptr()))?;
    Ok(Port { name: string_from_c(&buf, buf.len() as c_int), open: true })
}

impl Port {
    /// The port name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Closes the port now (`MPI_Close_port`), reporting an error that drop would ignore.
    pub fn close(mut self) -> Result<()> {
        self.open = false;
        let name = port_name(&self.name)?;
        mpi_call!(MPI_Close_port(name.as_ptr()))
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        if let Some(_call) = crate::runtime::enter_if_active() {
            if let Ok(name) = port_name(&self.name) {
                // SAFETY: a port this process opened; errors cannot be reported from drop.
                unsafe { ffi::MPI_Close_port(name.as_ptr()) };
            }
        }
    }
}

fn port_name(name: &str) -> Result<CString> {
    c_string("a port name", name, Some(ffi::MAX_PORT_NAME()))
}

fn service_name(name: &str) -> Result<CString> {
    if name.is_empty() {
        return Err(crate::Error::InvalidArgument("a service name cannot be empty".into()));
    }
    c_string("a service name", name, None)
}

impl Comm {
    /// Waits for a client to [`connect`](Comm::connect) to `port` and returns an
    /// intercommunicator whose remote group is the client's communicator (`MPI_Comm_accept`);
    /// collective over this communicator, `port` and `info` read at `root`.
    pub fn accept(&self, port: &str, info: Option<&Info>, root: i32) -> Result<InterComm> {
        self.accept_or_connect(port, info, root, true)
    }

    /// Connects to a server waiting in [`accept`](Comm::accept) on `port` (`MPI_Comm_connect`);
    /// collective over this communicator, `port` and `info` read at `root`. A port nobody
    /// accepts on is an error where the library times out (MPICH) or detects it.
    pub fn connect(&self, port: &str, info: Option<&Info>, root: i32) -> Result<InterComm> {
        self.accept_or_connect(port, info, root, false)
    }

    fn accept_or_connect(
        &self,
        port: &str,
        info: Option<&Info>,
        root: i32,
        accept: bool,
    ) -> Result<InterComm> {
        agree_at_root(self, root, || port_name(port).map(|_| 0))?;
        let name = if self.rank() == root { port_name(port)? } else { CString::default() };
        let info = if self.rank() == root { Info::raw_or_null(info) } else { ffi::INFO_NULL() };
        let mut raw = ffi::COMM_NULL();
        if accept {
            mpi_call!(MPI_Comm_accept(name.as_ptr(), info, root, self.as_raw(), &mut raw))?;
        } else {
            mpi_call!(MPI_Comm_connect(name.as_ptr(), info, root, self.as_raw(), &mut raw))?;
        }
        InterComm::adopt(raw)
    }
}

/// Publishes `port` under `service` in the name service (`MPI_Publish_name`), for
/// [`lookup_name`] in other processes. Whether other jobs see it depends on the launcher
/// (Open MPI: the same `mpiexec`, or an `ompi-server`; MPICH: hydra's name server).
pub fn publish_name(service: &str, port: &str, info: Option<&Info>) -> Result<()> {
    require_active()?;
    let (s, p) = (service_name(service)?, port_name(port)?);
    mpi_call!(MPI_Publish_name(s.as_ptr(), Info::raw_or_null(info), p.as_ptr()))
}

/// Withdraws a name [`publish_name`] published (`MPI_Unpublish_name`).
pub fn unpublish_name(service: &str, port: &str, info: Option<&Info>) -> Result<()> {
    require_active()?;
    let (s, p) = (service_name(service)?, port_name(port)?);
    mpi_call!(MPI_Unpublish_name(s.as_ptr(), Info::raw_or_null(info), p.as_ptr()))
}

/// The port published under `service` (`MPI_Lookup_name`); an unknown service is an `Err`
/// (class [`Name`](crate::ErrorClass::Name)).
pub fn lookup_name(service: &str, info: Option<&Info>) -> Result<String> {
    require_active()?;
    let s = service_name(service)?;
    let mut buf = vec![0 as c_char; ffi::MAX_PORT_NAME() as usize + 1];
    mpi_call!(MPI_Lookup_name(s.as_ptr(), Info::raw_or_null(info), buf.as_mut_ptr()))?;
    Ok(string_from_c(&buf, buf.len() as c_int))
}

/// An intercommunicator between this process and the one at the other end of the connected
/// socket `fd` (`MPI_Comm_join`); both call it. The socket is only used to set the link up
/// and stays open (the caller closes it). Only on the thread that holds the
/// [`Environment`](crate::Environment) (else [`Error::InvalidArgument`](crate::Error)).
pub fn join(fd: RawFd) -> Result<InterComm> {
    require_active()?;
    crate::environment::require_owner_thread("join")?;
    let mut raw = ffi::COMM_NULL();
    mpi_call!(MPI_Comm_join(fd, &mut raw))?;
    InterComm::adopt(raw)
}
