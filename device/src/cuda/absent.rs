//! The build without the `cuda` feature: the same functions, each refusing.

use super::CudaInfo;
use crate::error::{DeviceError, DeviceResult};
use crate::{MemoryKind, StreamRef};
use std::ffi::c_void;

fn absent<T>() -> DeviceResult<T> {
    Err(DeviceError::NoCuda("mpi4rs-device was built without the `cuda` feature".into()))
}

/// Finds the driver and counts devices (here: always refuses).
pub fn probe() -> DeviceResult<CudaInfo> {
    absent()
}

/// Waits for the work queued on `stream` of `device`.
pub fn stream_synchronize(_device: i32, _stream: StreamRef) -> DeviceResult<()> {
    absent()
}

/// Waits for all work on `device`.
pub fn device_synchronize(_device: i32) -> DeviceResult<()> {
    absent()
}

/// Enqueues a device-to-host copy on `stream`.
///
/// # Safety
/// `src` must be `bytes` of device memory and `dst` `bytes` of host memory, both valid until
/// the copy completes.
pub unsafe fn copy_to_host_async(
    _device: i32,
    _dst: *mut c_void,
    _src: *const c_void,
    _bytes: usize,
    _stream: StreamRef,
) -> DeviceResult<()> {
    absent()
}

/// Enqueues a host-to-device copy on `stream`.
///
/// # Safety
/// As [`copy_to_host_async`], the other way round.
pub unsafe fn copy_to_device_async(
    _device: i32,
    _dst: *mut c_void,
    _src: *const c_void,
    _bytes: usize,
    _stream: StreamRef,
) -> DeviceResult<()> {
    absent()
}

/// Allocates page-locked host memory (not write-combined).
///
/// # Safety
/// Free it with [`pinned_free`].
pub unsafe fn pinned_alloc(_bytes: usize) -> DeviceResult<*mut c_void> {
    absent()
}

/// Frees memory from [`pinned_alloc`].
///
/// # Safety
/// `ptr` came from [`pinned_alloc`] and is not used afterwards.
pub unsafe fn pinned_free(_ptr: *mut c_void) {}

/// Allocates managed memory (here: always refuses).
///
/// # Safety
/// Free it with [`managed_free`].
pub unsafe fn managed_alloc(_device: i32, _bytes: usize) -> DeviceResult<*mut c_void> {
    absent()
}

/// Frees memory from [`managed_alloc`].
///
/// # Safety
/// `ptr` came from [`managed_alloc`] and is not used afterwards.
pub unsafe fn managed_free(_device: i32, _ptr: *mut c_void) {}

/// The memory kind of an address, as the driver knows it.
pub fn pointer_memory(_ptr: *const c_void) -> DeviceResult<MemoryKind> {
    absent()
}

/// The device of the calling thread's current context.
pub fn current_device() -> DeviceResult<i32> {
    absent()
}

/// A CUDA event, recorded on a stream.
#[derive(Debug)]
pub struct Event(());

impl Event {
    /// Records an event on `stream` of `device`.
    pub fn record(_device: i32, _stream: StreamRef) -> DeviceResult<Event> {
        absent()
    }

    /// Waits until the recorded work is done.
    pub fn synchronize(&self) -> DeviceResult<()> {
        absent()
    }

    /// Whether the recorded work is done.
    pub fn is_done(&self) -> DeviceResult<bool> {
        absent()
    }
}
