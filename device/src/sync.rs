//! Stream synchronisation: the policy that says how a device buffer is made safe to read
//! before MPI reads it, and user hooks that run before a buffer is read and after it is
//! written.
//!
//! mpi4py, MPI.jl and rsmpi leave this to the user; a missed `cudaStreamSynchronize` there
//! sends stale data. Here the default ([`SyncPolicy::Stream`]) waits for the work queued on the
//! buffer's own stream, which is where cudarc and most frameworks put the kernels that produce
//! it. A buffer whose producer runs on another stream needs [`SyncPolicy::Device`], or a hook
//! that waits for the producer's event.

use crate::error::{DeviceError, DeviceResult};
use crate::policy::SyncPolicy;
use crate::view::{BufferView, Placement};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// When a hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookPoint {
    /// Before MPI (or a staging copy) reads a device buffer.
    BeforeRead,
    /// After MPI (or a staging copy) has written a device buffer.
    AfterWrite,
}

/// A user hook: gets the buffer's view; an `Err` fails the operation.
pub type Hook = Arc<dyn Fn(&BufferView) -> Result<(), String> + Send + Sync>;

/// Identifies a registered hook, to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HookId(usize);

type HookList = Vec<(HookId, HookPoint, Hook)>;
static HOOKS: RwLock<HookList> = RwLock::new(Vec::new());
static HOOK_COUNT: AtomicUsize = AtomicUsize::new(0);
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// Registers a hook run at `point` for every device (non-host) buffer an operation touches.
///
/// ```
/// use mpi4rs_device::{add_hook, remove_hook, HookPoint};
/// let id = add_hook(HookPoint::BeforeRead, |view| {
///     // e.g. wait for the event of the framework that produced `view`
///     let _ = view.len;
///     Ok(())
/// });
/// assert!(remove_hook(id));
/// ```
pub fn add_hook(
    point: HookPoint,
    hook: impl Fn(&BufferView) -> Result<(), String> + Send + Sync + 'static,
) -> HookId {
    let id = HookId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let mut hooks = HOOKS.write().unwrap_or_else(|e| e.into_inner());
    hooks.push((id, point, Arc::new(hook)));
    HOOK_COUNT.store(hooks.len(), Ordering::Release);
    id
}

/// Removes a hook; false if it was not registered.
pub fn remove_hook(id: HookId) -> bool {
    let mut hooks = HOOKS.write().unwrap_or_else(|e| e.into_inner());
    let before = hooks.len();
    hooks.retain(|(i, _, _)| *i != id);
    HOOK_COUNT.store(hooks.len(), Ordering::Release);
    hooks.len() != before
}

/// Runs the hooks registered for `point` on `view`.
pub fn run_hooks(point: HookPoint, view: &BufferView) -> DeviceResult<()> {
    if HOOK_COUNT.load(Ordering::Acquire) == 0 {
        return Ok(());
    }
    let hooks: Vec<Hook> = {
        let list = HOOKS.read().unwrap_or_else(|e| e.into_inner());
        list.iter().filter(|(_, p, _)| *p == point).map(|(_, _, h)| h.clone()).collect()
    };
    for hook in hooks {
        hook(view).map_err(DeviceError::Hook)?;
    }
    Ok(())
}

/// Makes a device buffer safe for MPI (or a copy on another stream) to read: applies its
/// policy, then the `BeforeRead` hooks. Host buffers pass untouched.
pub fn before_read(view: &BufferView) -> DeviceResult<()> {
    if view.place.memory.is_host() {
        return Ok(());
    }
    wait_for_producer(&view.place)?;
    run_hooks(HookPoint::BeforeRead, view)
}

/// Announces that MPI wrote into a device buffer: runs the `AfterWrite` hooks. (MPI has
/// completed the write when this is called, so later work on the buffer's stream sees it.)
pub fn after_write(view: &BufferView) -> DeviceResult<()> {
    if view.place.memory.is_host() {
        return Ok(());
    }
    run_hooks(HookPoint::AfterWrite, view)
}

/// Waits, as the buffer's policy says, for the work that produces the buffer.
pub fn wait_for_producer(place: &Placement) -> DeviceResult<()> {
    let Some(device) = place.memory.cuda_device() else { return Ok(()) };
    match place.effective_policy() {
        SyncPolicy::Trust => Ok(()),
        SyncPolicy::Stream => {
            crate::cuda::stream_synchronize(device, place.stream.unwrap_or(crate::StreamRef::DEFAULT))
        }
        SyncPolicy::Device => crate::cuda::device_synchronize(device),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, MemoryKind, StreamRef};

    #[test]
    fn hooks_run_for_device_views_only_and_can_fail() {
        let id =
            add_hook(HookPoint::BeforeRead, |v| if v.len == 13 { Err("thirteen".into()) } else { Ok(()) });
        let host = BufferView::host(std::ptr::null(), 13, DType::U8);
        assert!(before_read(&host).is_ok(), "host buffers skip hooks");
        let mut dev = host;
        dev.place = Placement {
            memory: MemoryKind::Cuda { device: 0 },
            stream: Some(StreamRef::DEFAULT),
            policy: Some(SyncPolicy::Trust),
        };
        assert_eq!(before_read(&dev), Err(DeviceError::Hook("thirteen".into())));
        assert!(remove_hook(id));
        assert!(!remove_hook(id));
        assert!(before_read(&dev).is_ok());
    }
}
