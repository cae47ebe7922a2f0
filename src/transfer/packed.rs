//! Reductions over derived layouts: a layout of one basic element type (a strided tensor, a
//! [`Typed`](crate::Typed) column) reduced with a predefined operation is packed into
//! contiguous elements, in the layout's type-map order, before MPI sees it, and unpacked into
//! the layout when the operation completes.
//!
//! MPI libraries apply predefined operations to contiguous elements only (Open MPI's reduction
//! functions walk `count` elements from the buffer's start whatever the datatype), so a
//! layout with holes cannot be handed to them as it is. Packing goes through `MPI_Pack` and
//! `MPI_Unpack` on `MPI_COMM_SELF`, whose native representation is the elements' bytes one
//! after the other (as [`region`](crate::region) also relies on). The layout is read from
//! host-addressable memory: host memory, the staging copy of device memory (the router stages
//! such buffers even with a CUDA-aware MPI), or managed memory after synchronisation.

use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Datatype};
use mpi4rs_device::DType;
use std::ffi::{c_int, c_void};

/// One packed layout of an operation.
pub(crate) struct Packed {
    /// The contiguous elements MPI is given (8-byte words: aligned for every element type).
    buf: Vec<u64>,
    /// Packed size in bytes.
    bytes: c_int,
    /// The layout's origin, in host-addressable memory that outlives the operation.
    origin: *mut c_void,
    /// A duplicate of the layout's datatype, freed on drop: the caller's may be freed while a
    /// nonblocking operation is in flight.
    datatype: MPI_Datatype,
    count: c_int,
    /// Pack before MPI runs (MPI reads the elements).
    copy_in: bool,
    /// Unpack when the operation completes (MPI writes the elements).
    copy_out: bool,
}

// SAFETY: the origin is memory lent to the operation for its whole duration; the packed
// layout moves with its request.
unsafe impl Send for Packed {}

impl Packed {
    /// A packed copy of `count` items of `datatype` at `origin`, elements of `base`; returns it
    /// and the number of elements.
    pub(crate) fn new(
        origin: *mut c_void,
        count: usize,
        datatype: MPI_Datatype,
        base: DType,
        copy_in: bool,
        copy_out: bool,
    ) -> Result<(Packed, usize)> {
        let mut size: ffi::MPI_Count = 0;
        mpi_call!(MPI_Type_size_x(datatype, &mut size))?;
        let total = usize::try_from(size).ok().and_then(|s| s.checked_mul(count));
        let (Some(total), Ok(c_count)) = (total, c_int::try_from(count)) else {
            return Err(too_large(count));
        };
        let Ok(bytes) = c_int::try_from(total) else { return Err(too_large(count)) };
        if !total.is_multiple_of(base.size()) {
            return Err(Error::InvalidArgument(format!(
                "a layout of {total} bytes is not a whole number of {base} elements"
            )));
        }
        let mut dup = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_dup(datatype, &mut dup))?;
        let mut p = Packed {
            buf: vec![0u64; total.div_ceil(8)],
            bytes,
            origin,
            datatype: dup,
            count: c_count,
            copy_in,
            copy_out,
        };
        if copy_in {
            p.pack()?;
        }
        Ok((p, total / base.size()))
    }

    /// The packed elements' address.
    pub(crate) fn ptr(&mut self) -> *mut c_void {
        self.buf.as_mut_ptr().cast()
    }

    /// Packs the layout's elements (again, for a persistent operation's restart).
    pub(crate) fn pack(&mut self) -> Result<()> {
        if !self.copy_in || self.bytes == 0 {
            return Ok(());
        }
        let mut position: c_int = 0;
        let out = self.buf.as_mut_ptr().cast::<c_void>();
        mpi_call!(MPI_Pack(
            self.origin.cast_const(),
            self.count,
            self.datatype,
            out,
            self.bytes,
            &mut position,
            ffi::COMM_SELF()
        ))
    }

    /// Unpacks the result into the layout.
    pub(crate) fn unpack(&mut self) -> Result<()> {
        if !self.copy_out || self.bytes == 0 {
            return Ok(());
        }
        let mut position: c_int = 0;
        let input = self.buf.as_ptr().cast::<c_void>();
        mpi_call!(MPI_Unpack(
            input,
            self.bytes,
            &mut position,
            self.origin,
            self.count,
            self.datatype,
            ffi::COMM_SELF()
        ))
    }
}

impl Drop for Packed {
    fn drop(&mut self) {
        if let Some(_call) = crate::runtime::enter_if_active() {
            // SAFETY: the duplicate made in `new`, freed once, here.
            unsafe { ffi::MPI_Type_free(&mut self.datatype) };
        }
    }
}

fn too_large(count: usize) -> Error {
    Error::InvalidArgument(format!(
        "{count} items of a derived layout are too large to pack for a reduction (more than 2^31 - 1 bytes)"
    ))
}
