//! File views (`MPI_File_set_view`, `MPI_File_get_view`): which bytes of the file a process
//! sees, as a displacement in bytes, an elementary type (the unit of offsets and positions)
//! and a file type (the pattern of visible etypes, repeated from the displacement on).
//!
//! mpi4py's non-contiguous example gives each of `size` ranks every `size`-th `int` of the
//! file: file type `vector(n, 1, size)` of `int`, displacement `rank * 4`.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::{AccessMode, Datatype, File};
//!
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let (rank, size) = (world.rank(), world.size());
//! let int = Datatype::of::<i32>()?;
//! let every_size_th = Datatype::vector(10, 1, size, &int)?;
//! let file = File::open(world, "datafile.noncontig", AccessMode::WRONLY | AccessMode::CREATE)?;
//! file.set_view(rank as u64 * 4, &int, &every_size_th)?;
//! file.write_all(&[rank; 10])?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use super::{from_offset, to_offset, File};
use crate::datatype::Datatype;
use crate::error::{mpi_call, Result};
use crate::ffi;
use crate::info::{Hints, Info};
use crate::util::string_from_c;
use std::ffi::{c_char, c_int};
use std::sync::atomic::Ordering;

/// A file view as [`File::view`] reports it.
#[derive(Debug)]
pub struct View {
    /// Where the view starts, in bytes from the start of the file.
    pub disp: u64,
    /// The elementary type: offsets and positions count items of it.
    pub etype: Datatype,
    /// The pattern of visible etypes, tiled from `disp` on.
    pub filetype: Datatype,
    /// The data representation: `"native"`, `"internal"` or `"external32"`.
    pub datarep: String,
}

impl File {
    /// Sets this process's view of the file; collective, and resets both file pointers to 0
    /// (`MPI_File_set_view`, data representation `"native"`, no hints). `filetype` must be
    /// made of whole `etype`s.
    pub fn set_view(&self, disp: u64, etype: &Datatype, filetype: &Datatype) -> Result<()> {
        self.set_view_with(disp, etype, filetype, "native", &[])
    }

    /// [`set_view`](Self::set_view) with a data representation (`"native"`, `"internal"`,
    /// `"external32"`; which are supported depends on the MPI library) and info hints.
    pub fn set_view_with(
        &self,
        disp: u64,
        etype: &Datatype,
        filetype: &Datatype,
        datarep: &str,
        hints: Hints<'_>,
    ) -> Result<()> {
        let disp = to_offset("view displacement", disp)?;
        let datarep = crate::util::c_string(
            "the data representation",
            datarep,
            Some(ffi::MPI_MAX_DATAREP_STRING as c_int),
        )?;
        let info = Info::for_call(hints)?;
        mpi_call!(MPI_File_set_view(
            self.raw,
            disp,
            etype.as_raw(),
            filetype.as_raw(),
            datarep.as_ptr(),
            Info::raw_or_null(info.as_ref())
        ))?;
        self.etype_size.store(etype.size().max(1), Ordering::Relaxed);
        Ok(())
    }

    /// This process's view of the file (`MPI_File_get_view`). A fresh file's view is every
    /// byte: displacement 0, etype and file type `MPI_BYTE`, `"native"`.
    pub fn view(&self) -> Result<View> {
        let mut disp: ffi::MPI_Offset = 0;
        let (mut etype, mut filetype) = (ffi::DATATYPE_NULL(), ffi::DATATYPE_NULL());
        let mut datarep = vec![0 as c_char; ffi::MPI_MAX_DATAREP_STRING as usize + 1];
        mpi_call!(MPI_File_get_view(self.raw, &mut disp, &mut etype, &mut filetype, datarep.as_mut_ptr()))?;
        // Take ownership of both handles before anything else can fail.
        let etype = Datatype::from_returned(etype);
        let filetype = Datatype::from_returned(filetype);
        Ok(View {
            disp: from_offset("MPI_File_get_view", disp)?,
            etype: etype?,
            filetype: filetype?,
            datarep: string_from_c(&datarep, datarep.len() as i32),
        })
    }
}
