//! Datatype introspection (mpi4py's `Datatype.Get_envelope`, `Get_contents`, `combiner`,
//! `contents`), portable packing in the `external32` representation (`Pack_external`,
//! `Unpack_external`, `Pack_external_size`), and message sizes in units of a derived datatype
//! ([`Status::count_of`], [`Status::elements`]).
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::{Combiner, Datatype};
//! let _env = mpi4rs::init()?;
//! let column = Datatype::vector(3, 1, 4, &Datatype::of::<f64>()?)?;
//! let c = column.contents()?;
//! assert_eq!(c.combiner, Combiner::Vector);
//! assert_eq!(c.integers, [3, 1, 4]);           // count, blocklength, stride
//! assert_eq!(c.datatypes[0].dtype(), Some(mpi4rs::DType::F64));
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use crate::buffer::{Buffer, BufferMut};
use crate::datatype::Datatype;
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Aint};
use crate::status::Status;
use crate::transfer::stage::{Fill, Transfer};
use std::ffi::{c_int, c_void};

/// How a datatype was made (`MPI_COMBINER_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Combiner {
    /// A predefined (named) datatype.
    Named,
    /// `MPI_Type_dup`.
    Dup,
    /// `MPI_Type_contiguous`.
    Contiguous,
    /// `MPI_Type_vector`.
    Vector,
    /// `MPI_Type_create_hvector`.
    Hvector,
    /// `MPI_Type_indexed`.
    Indexed,
    /// `MPI_Type_create_hindexed`.
    Hindexed,
    /// `MPI_Type_create_indexed_block`.
    IndexedBlock,
    /// `MPI_Type_create_hindexed_block`.
    HindexedBlock,
    /// `MPI_Type_create_struct`.
    Struct,
    /// `MPI_Type_create_subarray`.
    Subarray,
    /// `MPI_Type_create_darray`.
    Darray,
    /// `MPI_Type_create_resized`.
    Resized,
    /// `MPI_Type_create_f90_real`.
    F90Real,
    /// `MPI_Type_create_f90_complex`.
    F90Complex,
    /// `MPI_Type_create_f90_integer`.
    F90Integer,
    /// A combiner this version of mpi4rs does not name (deprecated `*_INTEGER` forms, library
    /// extensions), with its raw value.
    Other(i32),
}

impl Combiner {
    fn from_raw(raw: c_int) -> Combiner {
        let table = [
            (ffi::COMBINER_NAMED(), Combiner::Named),
            (ffi::COMBINER_DUP(), Combiner::Dup),
            (ffi::COMBINER_CONTIGUOUS(), Combiner::Contiguous),
            (ffi::COMBINER_VECTOR(), Combiner::Vector),
            (ffi::COMBINER_HVECTOR(), Combiner::Hvector),
            (ffi::COMBINER_INDEXED(), Combiner::Indexed),
            (ffi::COMBINER_HINDEXED(), Combiner::Hindexed),
            (ffi::COMBINER_INDEXED_BLOCK(), Combiner::IndexedBlock),
            (ffi::COMBINER_HINDEXED_BLOCK(), Combiner::HindexedBlock),
            (ffi::COMBINER_STRUCT(), Combiner::Struct),
            (ffi::COMBINER_SUBARRAY(), Combiner::Subarray),
            (ffi::COMBINER_DARRAY(), Combiner::Darray),
            (ffi::COMBINER_RESIZED(), Combiner::Resized),
            (ffi::COMBINER_F90_REAL(), Combiner::F90Real),
            (ffi::COMBINER_F90_COMPLEX(), Combiner::F90Complex),
            (ffi::COMBINER_F90_INTEGER(), Combiner::F90Integer),
        ];
        table.iter().find(|(v, _)| *v == raw).map_or(Combiner::Other(raw), |&(_, c)| c)
    }
}

/// How many arguments describe a datatype, and how it was made (`MPI_Type_get_envelope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The constructor.
    pub combiner: Combiner,
    /// Number of integer arguments.
    pub integers: usize,
    /// Number of address arguments.
    pub addresses: usize,
    /// Number of datatype arguments.
    pub datatypes: usize,
}

/// The arguments a derived datatype was made with (`MPI_Type_get_contents`), in the order of
/// its constructor's C arguments (see the MPI standard's table for each combiner).
#[derive(Debug)]
pub struct Contents {
    /// The constructor.
    pub combiner: Combiner,
    /// The integer arguments (counts, block lengths, displacements in elements, …).
    pub integers: Vec<i32>,
    /// The address arguments (byte displacements, strides, lower bound and extent).
    pub addresses: Vec<isize>,
    /// The datatype arguments; derived ones are new handles, owned (freed on drop).
    pub datatypes: Vec<Datatype>,
}

impl Datatype {
    /// The datatype's envelope (`MPI_Type_get_envelope`).
    pub fn envelope(&self) -> Result<Envelope> {
        let (mut ni, mut na, mut nd, mut combiner): (c_int, c_int, c_int, c_int) = (0, 0, 0, 0);
        mpi_call!(MPI_Type_get_envelope(self.as_raw(), &mut ni, &mut na, &mut nd, &mut combiner))?;
        let n = |v: c_int| usize::try_from(v).unwrap_or(0);
        Ok(Envelope {
            combiner: Combiner::from_raw(combiner),
            integers: n(ni),
            addresses: n(na),
            datatypes: n(nd),
        })
    }

    /// How the datatype was made (mpi4py's `Datatype.combiner`).
    pub fn combiner(&self) -> Result<Combiner> {
        Ok(self.envelope()?.combiner)
    }

    /// The arguments the datatype was made with (`MPI_Type_get_contents`). A predefined
    /// datatype has none: [`Error::InvalidArgument`] (MPI calls it erroneous).
    pub fn contents(&self) -> Result<Contents> {
        let env = self.envelope()?;
        if env.combiner == Combiner::Named {
            return Err(Error::InvalidArgument(
                "a predefined datatype has no contents (MPI_Type_get_contents is erroneous on it)".into(),
            ));
        }
        let mut integers = vec![0 as c_int; env.integers];
        let mut addresses = vec![0 as MPI_Aint; env.addresses];
        let mut raw_types = vec![ffi::DATATYPE_NULL(); env.datatypes];
        let c = |v: usize| c_int::try_from(v).unwrap_or(c_int::MAX);
        mpi_call!(MPI_Type_get_contents(
            self.as_raw(),
            c(env.integers),
            c(env.addresses),
            c(env.datatypes),
            integers.as_mut_ptr(),
            addresses.as_mut_ptr(),
            raw_types.as_mut_ptr()
        ))?;
        // Each returned handle is taken over at once, so an error below still frees the rest
        // as their `Datatype`s drop… except those not yet converted, freed here.
        let mut datatypes = Vec::with_capacity(raw_types.len());
        let mut first_error = None;
        for raw in raw_types {
            match Datatype::from_returned(raw) {
                Ok(t) => datatypes.push(t),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        #[allow(clippy::useless_conversion)]
        let addresses = addresses.into_iter().map(|a| isize::try_from(a).unwrap_or(isize::MAX)).collect();
        Ok(Contents { combiner: env.combiner, integers, addresses, datatypes })
    }
}

/// The C string naming the portable representation.
const EXTERNAL32: &std::ffi::CStr = c"external32";

/// Bytes `count` items of `datatype` take in the portable `external32` representation
/// (`MPI_Pack_external_size`): exact, the same on every MPI library and machine.
pub fn pack_external_size(count: usize, datatype: &Datatype) -> Result<usize> {
    let count = crate::util::to_count("pack count", count)?;
    let mut size: MPI_Aint = 0;
    mpi_call!(MPI_Pack_external_size(EXTERNAL32.as_ptr(), count, datatype.as_raw(), &mut size))?;
    usize::try_from(size).map_err(|_| Error::InvalidArgument(format!("MPI_Pack_external_size gave {size}")))
}

/// Packs `inbuf` into `outbuf` at `*position` in the portable `external32` representation
/// (big-endian, fixed sizes: what `MPI_Pack_external` writes for files or other MPI libraries)
/// and advances `*position`. `outbuf` must have room for it after `*position`, else
/// [`Error::InvalidArgument`] and nothing is written.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// let _env = mpi4rs::init()?;
/// let mut bytes = [0u8; 8];
/// let mut pos = 0;
/// mpi4rs::pack_external(&[1i32, 2], &mut bytes, &mut pos)?;
/// assert_eq!(bytes, [0, 0, 0, 1, 0, 0, 0, 2]); // big-endian
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub fn pack_external<B: Buffer + ?Sized>(inbuf: &B, outbuf: &mut [u8], position: &mut usize) -> Result<()> {
    let mut t = Transfer::new("pack_external");
    let s = t.read(inbuf)?;
    let count = s.c_count()?;
    if *position > outbuf.len() {
        return Err(Error::InvalidArgument(format!(
            "pack_external: position {} is past the end of the {}-byte buffer",
            *position,
            outbuf.len()
        )));
    }
    let mut needed: MPI_Aint = 0;
    mpi_call!(MPI_Pack_external_size(EXTERNAL32.as_ptr(), count, s.datatype, &mut needed))?;
    let room = outbuf.len() - *position;
    if usize::try_from(needed).map_or(true, |n| n > room) {
        return Err(Error::InvalidArgument(format!(
            "pack_external needs {needed} bytes at position {} but the output buffer has {room} left",
            *position
        )));
    }
    let mut pos = *position as MPI_Aint;
    mpi_call!(MPI_Pack_external(
        EXTERNAL32.as_ptr(),
        s.ptr,
        count,
        s.datatype,
        outbuf.as_mut_ptr().cast::<c_void>(),
        outbuf.len() as MPI_Aint,
        &mut pos
    ))?;
    *position = usize::try_from(pos).unwrap_or(*position);
    t.blocking(None)
}

/// Unpacks `external32` data from `inbuf` at `*position` into `outbuf` and advances
/// `*position` (`MPI_Unpack_external`). `inbuf` must hold the data after `*position`, else an
/// error and `outbuf` is untouched.
pub fn unpack_external<B: BufferMut + ?Sized>(
    inbuf: &[u8],
    position: &mut usize,
    outbuf: &mut B,
) -> Result<()> {
    let mut t = Transfer::new("unpack_external");
    let s = t.write(outbuf, Fill::Update)?;
    let count = s.c_count()?;
    if *position > inbuf.len() {
        return Err(Error::InvalidArgument(format!(
            "unpack_external: position {} is past the end of the {}-byte buffer",
            *position,
            inbuf.len()
        )));
    }
    let mut needed: MPI_Aint = 0;
    mpi_call!(MPI_Pack_external_size(EXTERNAL32.as_ptr(), count, s.datatype, &mut needed))?;
    let left = inbuf.len() - *position;
    if usize::try_from(needed).map_or(true, |n| n > left) {
        return Err(Error::InvalidArgument(format!(
            "unpack_external needs {needed} bytes at position {} but the input buffer has {left} left",
            *position
        )));
    }
    let mut pos = *position as MPI_Aint;
    mpi_call!(MPI_Unpack_external(
        EXTERNAL32.as_ptr(),
        inbuf.as_ptr().cast::<c_void>(),
        inbuf.len() as MPI_Aint,
        &mut pos,
        s.ptr,
        count,
        s.datatype
    ))?;
    *position = usize::try_from(pos).unwrap_or(*position);
    t.blocking(None)
}

impl Status {
    /// The number of whole items of `datatype` in the message (`MPI_Get_count`), e.g. of a
    /// derived row type; `None` when the message is not a whole number of them.
    pub fn count_of(&self, datatype: &Datatype) -> Result<Option<usize>> {
        self.count_raw(datatype.as_raw())
    }

    /// The number of basic elements of `datatype`'s type map in the message
    /// (`MPI_Get_elements_x`), which counts partial items too; `None` where MPI reports
    /// `MPI_UNDEFINED`.
    pub fn elements(&self, datatype: &Datatype) -> Result<Option<usize>> {
        let mut count: ffi::MPI_Count = 0;
        mpi_call!(MPI_Get_elements_x(&self.0, datatype.as_raw(), &mut count))?;
        #[allow(clippy::useless_conversion)]
        let count = i64::from(count);
        Ok(if count == i64::from(ffi::UNDEFINED()) { None } else { usize::try_from(count).ok() })
    }
}
