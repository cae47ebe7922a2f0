//! The buffer that buffered-mode sends copy into (`MPI_Buffer_attach` / `MPI_Buffer_detach`).

use crate::error::{mpi_call, Error, Result};
use crate::ffi;
use crate::util::to_count;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The attached buffer lives here, so it cannot be freed while MPI may write into it.
static ATTACHED: Mutex<Option<Vec<u8>>> = Mutex::new(None);
/// Size of the attached buffer (0: none), read by every buffered send without locking.
static ATTACHED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Refuses a buffered send of `bytes` that the attached buffer could never hold. (MPI itself
/// may accept a small one anyway, sending it eagerly, or fail later: this makes it uniform.)
pub(crate) fn check_fits(bytes: usize) -> Result<()> {
    let attached = ATTACHED_BYTES.load(Ordering::Relaxed);
    let needed = bytes + bsend_overhead();
    if needed > attached {
        return Err(Error::BsendBuffer { needed, attached });
    }
    Ok(())
}

/// Bytes of bookkeeping MPI needs per buffered message (`MPI_BSEND_OVERHEAD`): attach at
/// least the sum of `message bytes + bsend_overhead()` over messages in flight.
pub fn bsend_overhead() -> usize {
    ffi::BSEND_OVERHEAD() as usize
}

/// Attaches `buffer` for buffered-mode sends ([`bsend`](crate::PointToPoint::bsend)).
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// let env = mpi4rs::init()?;
/// mpi4rs::attach_buffer(vec![0u8; 1 << 20])?;
/// // ... world.bsend(...) ...
/// let buffer = mpi4rs::detach_buffer()?; // waits until buffered messages are sent
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub fn attach_buffer(mut buffer: Vec<u8>) -> Result<()> {
    let mut slot = ATTACHED.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_some() {
        return Err(Error::InvalidArgument("a buffer is already attached: detach it first".into()));
    }
    let size = to_count("buffer size", buffer.len())?;
    mpi_call!(MPI_Buffer_attach(buffer.as_mut_ptr().cast::<c_void>(), size))?;
    ATTACHED_BYTES.store(buffer.len(), Ordering::Relaxed);
    *slot = Some(buffer);
    Ok(())
}

/// Detaches the buffer, after MPI has sent every message buffered in it, and returns it.
pub fn detach_buffer() -> Result<Vec<u8>> {
    let mut slot = ATTACHED.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        return Err(Error::InvalidArgument("no buffer is attached".into()));
    }
    let mut addr: *mut c_void = std::ptr::null_mut();
    let mut size: c_int = 0;
    mpi_call!(MPI_Buffer_detach((&mut addr as *mut *mut c_void).cast::<c_void>(), &mut size))?;
    ATTACHED_BYTES.store(0, Ordering::Relaxed);
    Ok(slot.take().expect("checked above"))
}
