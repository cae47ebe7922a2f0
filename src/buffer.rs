//! What an MPI call needs from a buffer — address, count and datatype — and the traits that
//! give it. Every buffer operation goes through [`Buffer`] and [`BufferMut`], so this is the one
//! place where buffer kinds are told apart (the device release routes device memory here).
//!
//! Any [`DeviceBuffer`] of the device crate is a buffer: a single value, a slice, an array, a
//! `Vec`. Types with an rsmpi [`Equivalence`] (including
//! `#[derive(Equivalence)]` structs) travel wrapped in [`Equivalent`] / [`EquivalentMut`].

use crate::datatype::mpi_datatype;
use crate::error::{Error, Result};
use crate::ffi::MPI_Datatype;
use crate::util::to_count;
use mpi::datatype::Equivalence;
use mpi::raw::AsRaw;
use mpi4rs_device::{BufferView, DeviceBuffer, DeviceBufferMut, MemoryKind};
use std::ffi::{c_int, c_void};

/// A read-only buffer as MPI sees it.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub(crate) ptr: *const c_void,
    pub(crate) count: c_int,
    pub(crate) datatype: MPI_Datatype,
    pub(crate) bytes: usize,
}

/// A writable buffer as MPI sees it.
#[derive(Clone, Copy, Debug)]
pub struct SpecMut {
    pub(crate) ptr: *mut c_void,
    pub(crate) count: c_int,
    pub(crate) datatype: MPI_Datatype,
    pub(crate) bytes: usize,
}

/// A buffer MPI can read from.
///
/// # Safety
/// The spec must describe `count` elements of `datatype` at `ptr`, valid for reads while the
/// borrow of `self` lasts.
pub unsafe trait Buffer {
    /// The address, count and datatype of this buffer.
    fn spec(&self) -> Result<Spec>;
}

/// A buffer MPI can write into.
///
/// # Safety
/// The spec must describe `count` elements of `datatype` at `ptr`, valid for writes of any bit
/// pattern of that datatype while the mutable borrow of `self` lasts.
pub unsafe trait BufferMut {
    /// The address, count and datatype of this buffer.
    fn spec_mut(&mut self) -> Result<SpecMut>;
}

impl Spec {
    /// Size of the buffer in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl SpecMut {
    /// Size of the buffer in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[inline(always)]
fn host_only(memory: MemoryKind) -> Result<()> {
    if memory.is_host() {
        Ok(())
    } else {
        Err(not_host(memory))
    }
}

#[cold]
#[inline(never)]
fn not_host(memory: MemoryKind) -> Error {
    Error::UnsupportedBuffer(format!(
        "{memory:?} memory: this build moves host buffers only (device transfers arrive with the device router)"
    ))
}

#[inline(always)]
fn count_of(view: &BufferView) -> Result<c_int> {
    to_count("buffer length", view.len)
}

unsafe impl<B: DeviceBuffer + ?Sized> Buffer for B {
    #[inline]
    fn spec(&self) -> Result<Spec> {
        let view = self.view();
        host_only(view.memory)?;
        Ok(Spec {
            ptr: view.ptr,
            count: count_of(&view)?,
            datatype: mpi_datatype(view.dtype),
            bytes: view.bytes(),
        })
    }
}

unsafe impl<B: DeviceBufferMut + ?Sized> BufferMut for B {
    #[inline]
    fn spec_mut(&mut self) -> Result<SpecMut> {
        let view = self.view_mut();
        host_only(view.memory)?;
        let count = to_count("buffer length", view.len)?;
        Ok(SpecMut { ptr: view.ptr, count, datatype: mpi_datatype(view.dtype), bytes: view.bytes() })
    }
}

/// A slice of an rsmpi [`Equivalence`] type (e.g. a `#[derive(Equivalence)]` struct), to send.
///
/// ```no_run
/// use mpi::traits::Equivalence;
/// use mpi4rs::prelude::*;
///
/// #[derive(Equivalence, Clone, Copy, Default)]
/// struct Particle { x: [f64; 3], id: u32 }
///
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// let mut parts = [Particle::default(); 4];
/// if world.rank() == 0 {
///     world.send(&Equivalent(&parts), 1, 0)?;
/// } else if world.rank() == 1 {
///     world.recv(&mut EquivalentMut(&mut parts), 0, 0)?;
/// }
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct Equivalent<'a, T>(pub &'a [T]);

/// A mutable slice of an rsmpi [`Equivalence`] type, to receive into.
pub struct EquivalentMut<'a, T>(pub &'a mut [T]);

unsafe impl<T: Equivalence> Buffer for Equivalent<'_, T> {
    fn spec(&self) -> Result<Spec> {
        Ok(Spec {
            ptr: self.0.as_ptr().cast(),
            count: to_count("buffer length", self.0.len())?,
            datatype: T::equivalent_datatype().as_raw(),
            bytes: std::mem::size_of_val(self.0),
        })
    }
}

unsafe impl<T: Equivalence> BufferMut for EquivalentMut<'_, T> {
    fn spec_mut(&mut self) -> Result<SpecMut> {
        Ok(SpecMut {
            ptr: self.0.as_mut_ptr().cast(),
            count: to_count("buffer length", self.0.len())?,
            datatype: T::equivalent_datatype().as_raw(),
            bytes: std::mem::size_of_val(self.0),
        })
    }
}
