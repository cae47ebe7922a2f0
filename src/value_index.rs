//! Value-index pairs, the element type of `MAXLOC` and `MINLOC` reductions (MPI's
//! `MPI_DOUBLE_INT`, `MPI_2INT` … families).
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let mine = ValueIndex { value: (world.rank() * 7 % 5) as f64, index: world.rank() };
//! let mut best = ValueIndex::<f64>::default();
//! world.allreduce(&mine, &mut best, &Op::MAXLOC)?;
//! println!("largest value {} is on rank {}", best.value, best.index);
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use crate::buffer::{BufferElement, ElementKind};
use crate::ffi::MPI_Datatype;

/// A value and the index (usually a rank) it came from, laid out as C's `struct { T; int; }`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct ValueIndex<T> {
    /// The value compared by `MAXLOC`/`MINLOC`.
    pub value: T,
    /// The index carried with it; ties pick the smaller index.
    pub index: i32,
}

pub use crate::predefined::PairType;

mod sealed {
    pub trait Sealed {}
}

/// A type that MPI can pair with an index: `i16`, `i32`, `i64`, `f32`, `f64`.
pub trait PairValue: Copy + sealed::Sealed + 'static {
    /// Which pair type `ValueIndex<Self>` is.
    const PAIR: PairType;
}

macro_rules! pair_values {
    ($($t:ty => $p:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl PairValue for $t { const PAIR: PairType = PairType::$p; }
    )*};
}
pair_values!(i16 => I16, i32 => I32, i64 => I64, f32 => F32, f64 => F64);

const _: () = assert!(std::mem::size_of::<std::ffi::c_long>() == 8, "MPI_LONG_INT needs a 64-bit long");

// SAFETY: repr(C) `{ T; int }` is exactly the layout of the predefined pair type, and any
// bit pattern is a valid pair of these plain numbers.
unsafe impl<T: PairValue> BufferElement for ValueIndex<T> {
    #[inline(always)]
    fn kind() -> ElementKind {
        ElementKind::Pair(T::PAIR)
    }
    #[inline(always)]
    fn datatype() -> MPI_Datatype {
        T::PAIR.mpi_datatype()
    }
}
