//! The CUDA driver, loaded at run time, behind functions that return errors instead of
//! panicking.
//!
//! cudarc panics when `libcuda` is missing, so nothing here touches the driver before
//! [`probe`] has found the library, initialised it and counted at least one device. On a
//! machine without a driver, with `MPI4RS_NO_CUDA=1`, or in a build without the `cuda`
//! feature, every function returns [`DeviceError::NoCuda`](crate::DeviceError::NoCuda).
//!
//! ```
//! match mpi4rs_device::cuda::probe() {
//!     Ok(info) => println!("{} CUDA device(s), driver {}", info.devices, info.driver_version),
//!     Err(e) => println!("host only: {e}"),
//! }
//! ```

#[cfg(not(feature = "cuda"))]
mod absent;
#[cfg(feature = "cuda")]
mod driver;
#[cfg(feature = "cuda")]
mod slices;

#[cfg(not(feature = "cuda"))]
pub use absent::*;
#[cfg(feature = "cuda")]
pub use driver::*;

/// What [`probe`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CudaInfo {
    /// Number of CUDA devices visible to this process.
    pub devices: i32,
    /// The driver's CUDA version, e.g. 12080 for 12.8.
    pub driver_version: i32,
}

/// True when [`probe`] succeeds: a driver and at least one device.
pub fn available() -> bool {
    probe().is_ok()
}

/// The reason CUDA was switched off by the environment, if it was.
#[cfg(feature = "cuda")]
fn disabled_by_env() -> Option<String> {
    if cfg!(miri) {
        return Some("Miri cannot load libcuda".into());
    }
    crate::env::switched_off("MPI4RS_NO_CUDA")
}
