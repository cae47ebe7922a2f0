//! Packing (mpi4py's `Pack`, `Unpack`, `Pack_size`): items of a datatype laid over any buffer,
//! host or device, to and from a contiguous byte buffer.

use crate::buffer::{Buffer, BufferMut};
use crate::comm::Communicator;
use crate::datatype::Datatype;
use crate::datatype::{from_count, invalid};
use crate::error::{mpi_call, Result};
use crate::ffi;
use crate::transfer::stage::{Fill, Transfer};
use crate::typed::{Typed, TypedMut};
use crate::util::to_count;
use std::ffi::{c_int, c_void};

impl Datatype {
    /// Upper bound in bytes of the space `count` items need when packed for `comm`
    /// (`MPI_Pack_size`).
    pub fn pack_size<C: Communicator + ?Sized>(&self, count: usize, comm: &C) -> Result<usize> {
        pack_size(count, self, comm)
    }

    /// Packs `count` items of this layout laid over `inbuf` into `outbuf` at `*position`,
    /// advancing it (mpi4py's `Datatype.Pack`). The layout is checked against `inbuf` as
    /// [`Typed::new`] does, and `outbuf` must have [`pack_size`](Self::pack_size) bytes free
    /// after `*position`.
    pub fn pack<B: Buffer + ?Sized, C: Communicator + ?Sized>(
        &self,
        inbuf: &B,
        count: usize,
        outbuf: &mut [u8],
        position: &mut usize,
        comm: &C,
    ) -> Result<()> {
        pack(&Typed::new(inbuf, count, self)?, outbuf, position, comm)
    }

    /// Unpacks `count` items of this layout from `inbuf` at `*position` into the layout laid
    /// over `outbuf`, advancing `*position` (mpi4py's `Datatype.Unpack`).
    pub fn unpack<B: BufferMut + ?Sized, C: Communicator + ?Sized>(
        &self,
        inbuf: &[u8],
        position: &mut usize,
        outbuf: &mut B,
        count: usize,
        comm: &C,
    ) -> Result<()> {
        unpack(inbuf, position, &mut TypedMut::new(outbuf, count, self)?, comm)
    }
}

// ---------------------------------------------------------------------------------------------
// Pack / unpack

/// Upper bound in bytes of the space `count` items of `datatype` need when packed for `comm`
/// (`MPI_Pack_size`).
pub fn pack_size<C: Communicator + ?Sized>(count: usize, datatype: &Datatype, comm: &C) -> Result<usize> {
    let count = to_count("pack count", count)?;
    let mut size: c_int = 0;
    mpi_call!(MPI_Pack_size(count, datatype.raw, comm.as_raw(), &mut size))?;
    usize::try_from(size).map_err(|_| invalid(format!("MPI_Pack_size gave {size}")))
}

/// `position` and the buffer length as MPI ints (a buffer past `i32::MAX` bytes is used up to
/// there).
fn pack_window(what: &'static str, len: usize, position: usize) -> Result<(c_int, c_int)> {
    if position > len {
        return Err(invalid(format!("{what}: position {position} is past the end of the {len}-byte buffer")));
    }
    Ok((to_count("pack position", position)?, c_int::try_from(len).unwrap_or(c_int::MAX)))
}

/// Packs `inbuf` (any buffer: a slice, or a [`Typed`] view) into `outbuf` at `*position` and
/// advances it (`MPI_Pack`). `outbuf` must have room for `pack_size` of the data after
/// `*position`, else [`Error::InvalidArgument`](crate::Error::InvalidArgument) and nothing is written.
pub fn pack<B: Buffer + ?Sized, C: Communicator + ?Sized>(
    inbuf: &B,
    outbuf: &mut [u8],
    position: &mut usize,
    comm: &C,
) -> Result<()> {
    let mut t = Transfer::new("pack");
    let s = t.read(inbuf)?;
    let count = s.c_count()?;
    let (mut pos, outsize) = pack_window("pack", outbuf.len(), *position)?;
    let mut needed: c_int = 0;
    mpi_call!(MPI_Pack_size(count, s.datatype, comm.as_raw(), &mut needed))?;
    let room = outbuf.len() - *position;
    if needed as usize > room {
        return Err(invalid(format!(
            "pack needs up to {needed} bytes at position {} but the output buffer has {room} left",
            *position
        )));
    }
    mpi_call!(MPI_Pack(
        s.ptr,
        count,
        s.datatype,
        outbuf.as_mut_ptr().cast::<c_void>(),
        outsize,
        &mut pos,
        comm.as_raw()
    ))?;
    *position = pos as usize;
    t.blocking(None)
}

/// Unpacks from `inbuf` at `*position` into `outbuf` (any writable buffer: a slice, or a
/// [`TypedMut`] view) and advances `*position` (`MPI_Unpack`). `inbuf` must hold the packed
/// data after `*position`, else an error and `outbuf` is untouched.
pub fn unpack<B: BufferMut + ?Sized, C: Communicator + ?Sized>(
    inbuf: &[u8],
    position: &mut usize,
    outbuf: &mut B,
    comm: &C,
) -> Result<()> {
    let mut t = Transfer::new("unpack");
    let s = t.write(outbuf, Fill::Update)?;
    let count = s.c_count()?;
    let (mut pos, insize) = pack_window("unpack", inbuf.len(), *position)?;
    let mut size: ffi::MPI_Count = 0;
    mpi_call!(MPI_Type_size_x(s.datatype, &mut size))?;
    let needed = from_count(size).saturating_mul(i64::from(count));
    let left = (inbuf.len() - *position) as i64;
    if needed > left {
        return Err(invalid(format!(
            "unpack needs {needed} bytes at position {} but the input buffer has {left} left",
            *position
        )));
    }
    mpi_call!(MPI_Unpack(
        inbuf.as_ptr().cast::<c_void>(),
        insize,
        &mut pos,
        s.ptr,
        count,
        s.datatype,
        comm.as_raw()
    ))?;
    *position = pos as usize;
    t.blocking(None)
}
