//! Memory allocated by MPI (`MPI_Alloc_mem` / `MPI_Free_mem`, mpi4py's `MPI.Alloc_mem`) as an
//! owned buffer: [`MpiMem`].
//!
//! Some MPI libraries register such memory with the network (or place it in a shared segment),
//! which can make transfers and one-sided operations on it faster. An [`MpiMem`] behaves like a
//! boxed slice: it dereferences to `[T]`, is a [`Buffer`]/[`BufferMut`] for every call, and an
//! [`OwnedBuffer`] for [`Persistent`](crate::Persistent) sets (its address never moves).
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::MpiMem;
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let mut data = MpiMem::<f64>::zeroed(1024)?;          // MPI_Alloc_mem, zero-filled
//! data.fill(world.rank() as f64);
//! world.allreduce_in_place(&mut *data, &Op::SUM)?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! The memory is filled with zeros when allocated (a valid value of every
//! [`BufferElement`]), so it is never read uninitialised. It is returned to MPI on drop; after
//! MPI has been finalised it is leaked instead (MPI may not be called any more), and a
//! forgotten `MpiMem` simply leaks.

use crate::buffer::{Buffer, BufferElement, BufferMut, Spec, SpecMut};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Aint};
use crate::info::Info;
use crate::persistent::OwnedBuffer;
use std::ffi::c_void;
use std::ptr::NonNull;

/// `len` elements of `T` in memory from `MPI_Alloc_mem`, freed with `MPI_Free_mem` on drop.
pub struct MpiMem<T: BufferElement> {
    ptr: NonNull<T>,
    len: usize,
    /// Neither `Send` nor `Sync` (freeing it calls MPI): see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

impl<T: BufferElement> MpiMem<T> {
    /// `len` zeroed elements from `MPI_Alloc_mem`.
    pub fn zeroed(len: usize) -> Result<MpiMem<T>> {
        MpiMem::zeroed_with(len, None)
    }

    /// [`zeroed`](Self::zeroed) with allocation hints (`info`, e.g. MPICH's or Open MPI's
    /// `mpi_minimum_memory_alignment`).
    pub fn zeroed_with(len: usize, info: Option<&Info>) -> Result<MpiMem<T>> {
        crate::error::require_active()?;
        let bytes =
            len.checked_mul(std::mem::size_of::<T>()).filter(|&b| MPI_Aint::try_from(b).is_ok()).ok_or(
                Error::CountOverflow { what: "MPI_Alloc_mem bytes", value: len, max: MPI_Aint::MAX as usize },
            )?;
        if bytes == 0 {
            return Ok(MpiMem { ptr: NonNull::dangling(), len, _thread: std::marker::PhantomData });
        }
        let mut base: *mut c_void = std::ptr::null_mut();
        mpi_call!(MPI_Alloc_mem(
            bytes as MPI_Aint,
            Info::raw_or_null(info),
            (&mut base as *mut *mut c_void).cast::<c_void>()
        ))?;
        // MPICH 4.0.2 reports success for an allocation that failed, with the address 0x10
        // (NULL plus its header): an address in the first page is no allocation.
        let Some(ptr) = NonNull::new(base.cast::<T>()).filter(|p| p.as_ptr() as usize >= 4096) else {
            return Err(Error::Mpi {
                call: "MPI_Alloc_mem",
                class: crate::ErrorClass::NoMem,
                code: 0,
                message: format!("could not allocate {bytes} bytes (MPI returned the address {base:p})"),
            });
        };
        // Freed by drop from here.
        let mem = MpiMem { ptr, len, _thread: std::marker::PhantomData };
        if ptr.as_ptr().align_offset(std::mem::align_of::<T>()) != 0 {
            return Err(Error::UnsupportedBuffer(format!(
                "MPI_Alloc_mem returned memory aligned below the {} bytes a {} needs",
                std::mem::align_of::<T>(),
                std::any::type_name::<T>()
            )));
        }
        // SAFETY: `bytes` bytes were just allocated at `ptr` for us alone.
        unsafe { std::ptr::write_bytes(ptr.as_ptr().cast::<u8>(), 0, bytes) };
        Ok(mem)
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T: BufferElement> std::ops::Deref for MpiMem<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised (zeroed, then only written as `T`) elements at `ptr`, owned
        // by `self`; aligned (checked) or dangling for zero bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: BufferElement> std::ops::DerefMut for MpiMem<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, borrowed mutably through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: BufferElement> Drop for MpiMem<T> {
    fn drop(&mut self) {
        if self.len == 0 || std::mem::size_of::<T>() == 0 {
            return;
        }
        // Freed from the thread that drops it, which may not be the main one.
        let Some(_call) = crate::runtime::enter_if_active() else { return };
        // SAFETY: memory from MPI_Alloc_mem, freed once, here.
        unsafe { ffi::MPI_Free_mem(self.ptr.as_ptr().cast()) };
    }
}

impl<T: BufferElement + std::fmt::Debug> std::fmt::Debug for MpiMem<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MpiMem").field(&&**self).finish()
    }
}

// SAFETY: the spec of the slice `self` owns.
unsafe impl<T: BufferElement> Buffer for MpiMem<T> {
    fn spec(&self) -> Result<Spec> {
        (**self).spec()
    }
}

// SAFETY: the spec of the slice `self` owns, borrowed mutably.
unsafe impl<T: BufferElement> BufferMut for MpiMem<T> {
    fn spec_mut(&mut self) -> Result<SpecMut> {
        (**self).spec_mut()
    }
}

// SAFETY: the memory is MPI's allocation, which does not move with the `MpiMem` and is freed
// only on drop; it cannot be resized or replaced through `&mut` (the slice's length is fixed).
unsafe impl<T: BufferElement> OwnedBuffer for MpiMem<T> {
    type Identity = (usize, usize);
    fn identity(&self) -> (usize, usize) {
        (self.ptr.as_ptr() as usize, self.len)
    }
}
