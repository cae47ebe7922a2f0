//! The error type of the device crate.

/// What went wrong in a device operation. Nothing in this crate panics on a machine without
/// CUDA: every entry point that needs the driver returns [`DeviceError::NoCuda`] there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// No usable CUDA driver (library missing, no device, or built without the `cuda` feature).
    #[error("CUDA is not available: {0}")]
    NoCuda(String),
    /// A CUDA driver call failed.
    #[error("CUDA call {call} failed: {message}")]
    Cuda {
        /// The driver function.
        call: &'static str,
        /// The driver's description of the error.
        message: String,
    },
    /// NVRTC is missing or a kernel did not compile.
    #[error("NVRTC: {0}")]
    Nvrtc(String),
    /// The driver cannot load the compiled kernels for the device (no usable binary, PTX newer
    /// than the driver): callers use the host fallback, as without NVRTC.
    #[error("no usable kernel for the device: {0}")]
    NoKernel(String),
    /// A DLPack tensor that cannot be used as asked.
    #[error("DLPack tensor refused: {0}")]
    Dlpack(String),
    /// A buffer that an operation cannot take (wrong memory kind, wrong length, wrong dtype).
    #[error("unsupported buffer: {0}")]
    Unsupported(String),
    /// A user hook refused a buffer.
    #[error("buffer hook failed: {0}")]
    Hook(String),
}

/// `Result` with a [`DeviceError`].
pub type DeviceResult<T> = std::result::Result<T, DeviceError>;
