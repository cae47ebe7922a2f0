//! File pointers: the individual pointer of each process (`MPI_File_seek`,
//! `MPI_File_get_position`) and the pointer all processes share (`MPI_File_seek_shared`,
//! `MPI_File_get_position_shared`). Positions count etypes of the current view, as the
//! offsets of explicit-offset accesses do; [`File::byte_offset`] converts one to bytes.
//!
//! Seeking takes [`std::io::SeekFrom`]: `Start` from the start of the view, `Current` from the
//! pointer, `End` from the end of the file. A position before the start of the view is an
//! error of MPI (class `Arg` or `File`, by library).

use super::{from_offset, to_offset, File};
use crate::error::{mpi_call, Result};
use crate::ffi::{self, MPI_Offset};
use std::ffi::c_int;
use std::io::SeekFrom;

/// The offset and `whence` of `MPI_File_seek` for `pos`.
fn whence(pos: SeekFrom) -> Result<(MPI_Offset, c_int)> {
    Ok(match pos {
        SeekFrom::Start(n) => (to_offset("seek position", n)?, ffi::MPI_SEEK_SET as c_int),
        SeekFrom::Current(d) => (d as MPI_Offset, ffi::MPI_SEEK_CUR as c_int),
        SeekFrom::End(d) => (d as MPI_Offset, ffi::MPI_SEEK_END as c_int),
    })
}

impl File {
    /// Moves this process's individual file pointer (`MPI_File_seek`).
    pub fn seek(&self, pos: SeekFrom) -> Result<()> {
        let (offset, whence) = whence(pos)?;
        mpi_call!(MPI_File_seek(self.raw, offset, whence))
    }

    /// Moves the shared file pointer; collective, every process passing the same `pos`
    /// (`MPI_File_seek_shared`).
    pub fn seek_shared(&self, pos: SeekFrom) -> Result<()> {
        let (offset, whence) = whence(pos)?;
        mpi_call!(MPI_File_seek_shared(self.raw, offset, whence))
    }

    /// The individual file pointer, in etypes of the view (`MPI_File_get_position`).
    pub fn position(&self) -> Result<u64> {
        let mut offset: MPI_Offset = 0;
        mpi_call!(MPI_File_get_position(self.raw, &mut offset))?;
        from_offset("MPI_File_get_position", offset)
    }

    /// The shared file pointer, in etypes of the view (`MPI_File_get_position_shared`).
    pub fn position_shared(&self) -> Result<u64> {
        let mut offset: MPI_Offset = 0;
        mpi_call!(MPI_File_get_position_shared(self.raw, &mut offset))?;
        from_offset("MPI_File_get_position_shared", offset)
    }

    /// The byte position in the file of view offset `offset` (`MPI_File_get_byte_offset`).
    pub fn byte_offset(&self, offset: u64) -> Result<u64> {
        let mut bytes: MPI_Offset = 0;
        mpi_call!(MPI_File_get_byte_offset(self.raw, to_offset("offset", offset)?, &mut bytes))?;
        from_offset("MPI_File_get_byte_offset", bytes)
    }
}
