//! Object reductions with MPI's predefined operations ([`Op::SUM`](crate::Op::SUM), `MAX`,
//! `MIN`, `PROD`, the logical and bitwise ones) on numbers, `bool`s, complex numbers and,
//! element by element, on `Vec`s, arrays and [`OobVec`]s of them, nested as deep as wanted:
//! `comm.allreduce_obj_op(vec![1.0, 2.0], &Op::SUM)` (mpi4py `comm.allreduce(x, op=MPI.SUM)`
//! on numbers and numpy arrays).
//!
//! An operation the type does not define (a bitwise one on `f64`, `MAXLOC`, a user-defined
//! [`UserOp`](crate::op::UserOp)) is an [`Error::InvalidArgument`] on every process before
//! anything is sent. Arrays of different lengths are an error too: it travels up the tree in
//! place of the value, so every process that gets a result gets that error instead, and none
//! is left waiting.

use super::OobVec;
use crate::error::{Error, Result};
use crate::op::{Builtin, Op};
use mpi4rs_device::Element;
use num_complex::Complex;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value that object reductions combine with MPI's predefined operations (see the
/// [module documentation](self)).
pub trait Reducible: Serialize + DeserializeOwned + Clone {
    /// Whether `op` is defined on this type.
    fn supports(op: Builtin) -> bool;

    /// `self = self op other` (element by element for sequences); an `Err` describes a shape
    /// mismatch. Only called with an `op` that [`supports`](Self::supports) accepts.
    fn combine(&mut self, other: &Self, op: Builtin) -> std::result::Result<(), String>;
}

macro_rules! ints {
    ($($t:ty),*) => {$(
        impl Reducible for $t {
            fn supports(op: Builtin) -> bool {
                !matches!(op, Builtin::Maxloc | Builtin::Minloc | Builtin::Replace | Builtin::NoOp)
            }
            fn combine(&mut self, o: &Self, op: Builtin) -> std::result::Result<(), String> {
                let (a, b) = (*self, *o);
                *self = match op {
                    Builtin::Sum => a.wrapping_add(b),
                    Builtin::Prod => a.wrapping_mul(b),
                    Builtin::Max => a.max(b),
                    Builtin::Min => a.min(b),
                    Builtin::Land => ((a != 0) && (b != 0)) as $t,
                    Builtin::Lor => ((a != 0) || (b != 0)) as $t,
                    Builtin::Lxor => ((a != 0) != (b != 0)) as $t,
                    Builtin::Band => a & b,
                    Builtin::Bor => a | b,
                    Builtin::Bxor => a ^ b,
                    _ => return Err(format!("{} is not defined on integers", op.name())),
                };
                Ok(())
            }
        }
    )*};
}
ints!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! floats {
    ($($t:ty),*) => {$(
        impl Reducible for $t {
            fn supports(op: Builtin) -> bool {
                matches!(op, Builtin::Sum | Builtin::Prod | Builtin::Max | Builtin::Min)
            }
            fn combine(&mut self, o: &Self, op: Builtin) -> std::result::Result<(), String> {
                let (a, b) = (*self, *o);
                *self = match op {
                    Builtin::Sum => a + b,
                    Builtin::Prod => a * b,
                    Builtin::Max => a.max(b),
                    Builtin::Min => a.min(b),
                    _ => return Err(format!("{} is not defined on floating-point numbers", op.name())),
                };
                Ok(())
            }
        }
        impl Reducible for Complex<$t> {
            fn supports(op: Builtin) -> bool {
                matches!(op, Builtin::Sum | Builtin::Prod)
            }
            fn combine(&mut self, o: &Self, op: Builtin) -> std::result::Result<(), String> {
                *self = match op {
                    Builtin::Sum => *self + *o,
                    Builtin::Prod => *self * *o,
                    _ => return Err(format!("{} is not defined on complex numbers", op.name())),
                };
                Ok(())
            }
        }
    )*};
}
floats!(f32, f64);

impl Reducible for bool {
    fn supports(op: Builtin) -> bool {
        matches!(
            op,
            Builtin::Land
                | Builtin::Lor
                | Builtin::Lxor
                | Builtin::Band
                | Builtin::Bor
                | Builtin::Bxor
                | Builtin::Max
                | Builtin::Min
        )
    }
    fn combine(&mut self, o: &Self, op: Builtin) -> std::result::Result<(), String> {
        let (a, b) = (*self, *o);
        *self = match op {
            Builtin::Land | Builtin::Band | Builtin::Min => a && b,
            Builtin::Lor | Builtin::Bor | Builtin::Max => a || b,
            Builtin::Lxor | Builtin::Bxor => a != b,
            _ => return Err(format!("{} is not defined on bool", op.name())),
        };
        Ok(())
    }
}

fn combine_slices<T: Reducible>(a: &mut [T], b: &[T], op: Builtin) -> std::result::Result<(), String> {
    if a.len() != b.len() {
        return Err(format!(
            "{} reduces arrays element by element, but their lengths differ: {} and {}",
            op.name(),
            a.len(),
            b.len()
        ));
    }
    a.iter_mut().zip(b).try_for_each(|(x, y)| x.combine(y, op))
}

impl<T: Reducible> Reducible for Vec<T> {
    fn supports(op: Builtin) -> bool {
        T::supports(op)
    }
    fn combine(&mut self, o: &Self, op: Builtin) -> std::result::Result<(), String> {
        combine_slices(self, o, op)
    }
}

impl<T: Reducible, const N: usize> Reducible for [T; N]
where
    [T; N]: Serialize + DeserializeOwned,
{
    fn supports(op: Builtin) -> bool {
        T::supports(op)
    }
    fn combine(&mut self, o: &Self, op: Builtin) -> std::result::Result<(), String> {
        combine_slices(self, o, op)
    }
}

impl<T: Reducible + Element> Reducible for OobVec<T> {
    fn supports(op: Builtin) -> bool {
        T::supports(op)
    }
    fn combine(&mut self, o: &Self, op: Builtin) -> std::result::Result<(), String> {
        combine_slices(&mut self.0, &o.0, op)
    }
}

/// The predefined operation `op` is, checked against `T`.
pub(crate) fn builtin_for<T: Reducible>(op: &Op) -> Result<Builtin> {
    let b = op.builtin().ok_or_else(|| {
        Error::InvalidArgument(
            "object reductions take a predefined operation (Op::SUM …) or a closure, not a user-defined MPI operation".into(),
        )
    })?;
    if !T::supports(b) {
        return Err(Error::InvalidArgument(format!(
            "{} is not defined on {}",
            b.name(),
            std::any::type_name::<T>()
        )));
    }
    Ok(b)
}

/// What travels up a reduction tree: the partial result, or why there is none.
pub(crate) type Partial<T> = std::result::Result<T, String>;

/// The closure the trees run for `op` on partial results.
pub(crate) fn closure<T: Reducible>(op: Builtin) -> impl Fn(Partial<T>, Partial<T>) -> Partial<T> {
    move |a, b| {
        let mut a = a?;
        a.combine(&b?, op)?;
        Ok(a)
    }
}

/// The result of a tree of partial results.
pub(crate) fn outcome<T>(p: Partial<T>) -> Result<T> {
    p.map_err(Error::InvalidArgument)
}
