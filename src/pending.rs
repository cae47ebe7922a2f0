//! Work that a request must finish when MPI completes it — the transfer router's staged
//! buffers of nonblocking and persistent operations, written back to device memory — kept
//! until then. Requests stay bare `MPI_Request`s (so arrays of them go to `MPI_Waitall`
//! as they are); their staging lives here, keyed by the handle, and every completion path of
//! [`request`](crate::request) hands completed handles to [`completed`]. Host-only programs
//! pay one relaxed atomic load per completion.
//!
//! This module sits below the transfer router: the router hands its staging in as a
//! [`Staged`] value, so requests never name the router.

use crate::error::Result;
use crate::ffi::MPI_Request;
use crate::status::Status;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What the transfer router leaves with a request: staged buffers to copy back when it
/// completes, and (for a persistent request) inputs to stage again at each start.
pub(crate) trait Staged: Send {
    /// The request completed with `status` (if known): copy the staged results back.
    fn complete(&mut self, status: Option<&Status>) -> Result<()>;
    /// A persistent request is about to start again: refresh the staged inputs.
    fn refill(&mut self) -> Result<()>;
}

struct Entry {
    key: u64,
    transfer: Box<dyn Staged>,
    persistent: bool,
}

static COUNT: AtomicUsize = AtomicUsize::new(0);
static TABLE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The table key of a request handle (a pointer on Open MPI, an `int` on MPICH).
#[inline(always)]
pub(crate) fn key(raw: &MPI_Request) -> u64 {
    let mut k = 0u64;
    let n = std::mem::size_of::<MPI_Request>().min(8);
    // SAFETY: copies the handle's bytes (at most 8) into a u64.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (raw as *const MPI_Request).cast::<u8>(),
            (&mut k as *mut u64).cast::<u8>(),
            n,
        )
    };
    k
}

/// Whether any request has staged buffers (the cheap test every completion makes first).
#[inline(always)]
pub(crate) fn any() -> bool {
    COUNT.load(Ordering::Relaxed) != 0
}

pub(crate) fn register(raw: MPI_Request, transfer: Box<dyn Staged>, persistent: bool) {
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    table.push(Entry { key: key(&raw), transfer, persistent });
    COUNT.store(table.len(), Ordering::Relaxed);
}

/// The request with key `k` completed with `status`: copies its staged results back. A
/// nonblocking request's entry goes; a persistent one's stays for the next start.
pub(crate) fn completed(k: u64, status: Option<&Status>) -> Result<()> {
    let done = {
        let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        let Some(i) = table.iter().position(|e| e.key == k) else { return Ok(()) };
        if table[i].persistent {
            // Complete under the lock: the entry must stay for the next start.
            return table[i].transfer.complete(status);
        }
        let entry = table.swap_remove(i);
        COUNT.store(table.len(), Ordering::Relaxed);
        entry
    };
    let mut transfer = done.transfer;
    transfer.complete(status)
}

/// A persistent request with key `k` is about to start: refreshes its staged inputs.
pub(crate) fn restart(k: u64) -> Result<()> {
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    match table.iter_mut().find(|e| e.key == k) {
        Some(entry) => entry.transfer.refill(),
        None => Ok(()),
    }
}

/// A persistent request with key `k` is freed: drops its staging.
pub(crate) fn forget(k: u64) {
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    table.retain(|e| e.key != k);
    COUNT.store(table.len(), Ordering::Relaxed);
}
