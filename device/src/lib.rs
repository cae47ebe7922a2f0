//! # mpi4rs-device
//!
//! The buffer abstraction of mpi4rs, free of any MPI: a host slice, a CUDA allocation
//! (cudarc's `CudaSlice` and views), page-locked host memory and an imported DLPack tensor all
//! describe themselves through the same runtime [`BufferView`] (address, element count,
//! element type, memory kind, device, stream). The MPI layer consumes views and decides how the
//! bytes travel.
//!
//! CUDA is loaded at run time ([`cuda::probe`]): `cargo build` needs no toolkit, a machine
//! without a driver gets errors rather than panics, and `--no-default-features` leaves cudarc
//! out altogether.
//!
//! ```
//! use mpi4rs_device::{DeviceBuffer, DType, MemoryKind};
//! let v = vec![1.0f64, 2.0, 3.0];
//! let view = v.view();
//! assert_eq!((view.len, view.dtype, view.memory()), (3, DType::F64, MemoryKind::Host));
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Every unsafe block and impl of the library says why no safe caller can break it (CI runs
// clippy with -D warnings); test code is exempt.
#![cfg_attr(not(test), warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc))]

pub mod cuda;
pub mod dlpack;
mod dtype;
pub mod env;
mod error;
mod host;
pub mod kernels;
mod managed;
pub mod nvrtc;
mod pinned;
mod policy;
pub mod staging;
mod sync;
mod view;

#[cfg(feature = "cuda")]
#[cfg_attr(docsrs, doc(cfg(feature = "cuda")))]
pub use cudarc;
pub use dlpack::{DlpackTensor, DlpackTensorMut, ExportedTensor, StridedTensor};
pub use dtype::{DType, Element};
pub use error::{DeviceError, DeviceResult};
pub use managed::ManagedBuffer;
pub use pinned::PinnedBuffer;
pub use policy::{set_sync_policy, sync_policy, SyncPolicy};
pub use sync::{
    add_hook, after_write, before_read, remove_hook, run_hooks, wait_for_producer, Hook, HookId, HookPoint,
};
pub use view::{
    BufferView, BufferViewMut, DeviceBuffer, DeviceBufferMut, MemoryKind, Placement, StreamRef, WithPolicy,
};

/// The README's code blocks, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
