//! # mpi4rs-device
//!
//! The buffer abstraction of mpi4rs, free of any MPI: a host slice, a CUDA allocation and an
//! imported DLPack tensor all describe themselves through the same runtime [`BufferView`]
//! (address, element count, element type, memory kind). The MPI layer consumes views and
//! decides how the bytes travel.
//!
//! This release provides host buffers (slices, `Vec`, arrays and single values); CUDA, pinned
//! and DLPack buffers implement the same traits in the device release.
//!
//! ```
//! use mpi4rs_device::{DeviceBuffer, DType, MemoryKind};
//! let v = vec![1.0f64, 2.0, 3.0];
//! let view = v.view();
//! assert_eq!((view.len, view.dtype, view.memory), (3, DType::F64, MemoryKind::Host));
//! ```
#![warn(missing_docs)]

mod dtype;
mod host;
mod view;

pub use dtype::{DType, Element};
pub use view::{BufferView, BufferViewMut, DeviceBuffer, DeviceBufferMut, MemoryKind};
