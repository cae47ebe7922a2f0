//! Reduction operations (mpi4py's `Op`): the predefined ones, checked against the element type
//! they are applied to, `f16`/`bf16` reductions that MPI lacks, and user-defined operations
//! from Rust closures.
//!
//! Operations are passed by reference: `&Op::SUM` for a predefined one, `&my_op` for a
//! [`UserOp`] (which dereferences to [`Op`]). A nonblocking reduction borrows its operation
//! until it completes, so a user operation cannot be freed while MPI may still call it.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! // A non-commutative operation: 2x2 matrix product, rank order preserved.
//! let matmul = UserOp::new(false, |a: &[f64], b: &mut [f64]| {
//!     for (x, y) in a.chunks_exact(4).zip(b.chunks_exact_mut(4)) {
//!         let r = [x[0] * y[0] + x[1] * y[2], x[0] * y[1] + x[1] * y[3],
//!                  x[2] * y[0] + x[3] * y[2], x[2] * y[1] + x[3] * y[3]];
//!         y.copy_from_slice(&r);
//!     }
//! })?;
//! let mine = [1.0, world.rank() as f64, 0.0, 1.0];
//! let mut product = [0.0; 4];
//! world.allreduce(&mine, &mut product, &matmul)?;
//! let mut total = 0.0;
//! world.allreduce(&(world.rank() as f64), &mut total, &Op::SUM)?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use crate::buffer::{BufferElement, ElementKind};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Datatype, MPI_Op};
use crate::runtime::enter_if_active;
use mpi4rs_device::DType;
use std::ffi::{c_int, c_void};
use std::sync::{Mutex, OnceLock, RwLock};

/// The predefined operations of MPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// Maximum (`MPI_MAX`).
    Max,
    /// Minimum (`MPI_MIN`).
    Min,
    /// Sum (`MPI_SUM`).
    Sum,
    /// Product (`MPI_PROD`).
    Prod,
    /// Logical and (`MPI_LAND`).
    Land,
    /// Bitwise and (`MPI_BAND`).
    Band,
    /// Logical or (`MPI_LOR`).
    Lor,
    /// Bitwise or (`MPI_BOR`).
    Bor,
    /// Logical exclusive or (`MPI_LXOR`).
    Lxor,
    /// Bitwise exclusive or (`MPI_BXOR`).
    Bxor,
    /// Maximum and its index, on [`ValueIndex`](crate::ValueIndex) pairs (`MPI_MAXLOC`).
    Maxloc,
    /// Minimum and its index, on [`ValueIndex`](crate::ValueIndex) pairs (`MPI_MINLOC`).
    Minloc,
    /// Replace the target value (`MPI_REPLACE`): one-sided accumulate only.
    Replace,
    /// Leave the target value (`MPI_NO_OP`): one-sided accumulate only.
    NoOp,
}

/// Which element types an operation applies to (MPI-4.1 §6.9.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    /// Integers and floating point (incl. f16/bf16 through the library's own operations).
    Ordered,
    /// Integers, floating point and complex.
    Arithmetic,
    /// Integers and `bool`.
    Logical,
    /// Integers.
    Bitwise,
    /// Value-index pairs.
    Location,
    /// Only in one-sided accumulate.
    Accumulate,
}

impl Builtin {
    /// The MPI name, e.g. `"MPI_SUM"`.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Max => "MPI_MAX",
            Builtin::Min => "MPI_MIN",
            Builtin::Sum => "MPI_SUM",
            Builtin::Prod => "MPI_PROD",
            Builtin::Land => "MPI_LAND",
            Builtin::Band => "MPI_BAND",
            Builtin::Lor => "MPI_LOR",
            Builtin::Bor => "MPI_BOR",
            Builtin::Lxor => "MPI_LXOR",
            Builtin::Bxor => "MPI_BXOR",
            Builtin::Maxloc => "MPI_MAXLOC",
            Builtin::Minloc => "MPI_MINLOC",
            Builtin::Replace => "MPI_REPLACE",
            Builtin::NoOp => "MPI_NO_OP",
        }
    }

    /// The MPI handle.
    pub fn as_raw(self) -> MPI_Op {
        match self {
            Builtin::Max => ffi::MAX(),
            Builtin::Min => ffi::MIN(),
            Builtin::Sum => ffi::SUM(),
            Builtin::Prod => ffi::PROD(),
            Builtin::Land => ffi::LAND(),
            Builtin::Band => ffi::BAND(),
            Builtin::Lor => ffi::LOR(),
            Builtin::Bor => ffi::BOR(),
            Builtin::Lxor => ffi::LXOR(),
            Builtin::Bxor => ffi::BXOR(),
            Builtin::Maxloc => ffi::MAXLOC(),
            Builtin::Minloc => ffi::MINLOC(),
            Builtin::Replace => ffi::REPLACE(),
            Builtin::NoOp => ffi::NO_OP(),
        }
    }

    fn family(self) -> Family {
        match self {
            Builtin::Max | Builtin::Min => Family::Ordered,
            Builtin::Sum | Builtin::Prod => Family::Arithmetic,
            Builtin::Land | Builtin::Lor | Builtin::Lxor => Family::Logical,
            Builtin::Band | Builtin::Bor | Builtin::Bxor => Family::Bitwise,
            Builtin::Maxloc | Builtin::Minloc => Family::Location,
            Builtin::Replace | Builtin::NoOp => Family::Accumulate,
        }
    }

    /// Whether the operation is defined on elements of `dtype` in a reduction.
    pub fn applies_to(self, dtype: DType) -> bool {
        use DType::*;
        let integer = matches!(dtype, I8 | I16 | I32 | I64 | U8 | U16 | U32 | U64);
        let float = matches!(dtype, F16 | BF16 | F32 | F64);
        match self.family() {
            Family::Ordered => integer || float,
            Family::Arithmetic => integer || float || matches!(dtype, C32 | C64),
            Family::Logical => integer || dtype == Bool,
            Family::Bitwise => integer,
            Family::Location | Family::Accumulate => false,
        }
    }

    /// Whether it is commutative (all predefined operations are).
    pub fn is_commutative(self) -> bool {
        true
    }
}

/// A reduction operation: one of the predefined constants (`Op::SUM` …) or a [`UserOp`].
///
/// Not `Clone`: a user operation lives as long as its [`UserOp`], and references to it are
/// borrows the compiler tracks.
#[derive(Debug, PartialEq)]
pub struct Op(Repr);

#[derive(Debug, PartialEq)]
enum Repr {
    Builtin(Builtin),
    User { raw: MPI_Op, datatype: MPI_Datatype, commutative: bool, element: &'static str },
}

// SAFETY: MPI operation and datatype handles may be used from any thread; a user operation's
// closure is `Send + Sync`.
unsafe impl Send for Op {}
// SAFETY: see Send.
unsafe impl Sync for Op {}

impl Op {
    /// `MPI_MAX`.
    pub const MAX: Op = Op(Repr::Builtin(Builtin::Max));
    /// `MPI_MIN`.
    pub const MIN: Op = Op(Repr::Builtin(Builtin::Min));
    /// `MPI_SUM`.
    pub const SUM: Op = Op(Repr::Builtin(Builtin::Sum));
    /// `MPI_PROD`.
    pub const PROD: Op = Op(Repr::Builtin(Builtin::Prod));
    /// `MPI_LAND`.
    pub const LAND: Op = Op(Repr::Builtin(Builtin::Land));
    /// `MPI_BAND`.
    pub const BAND: Op = Op(Repr::Builtin(Builtin::Band));
    /// `MPI_LOR`.
    pub const LOR: Op = Op(Repr::Builtin(Builtin::Lor));
    /// `MPI_BOR`.
    pub const BOR: Op = Op(Repr::Builtin(Builtin::Bor));
    /// `MPI_LXOR`.
    pub const LXOR: Op = Op(Repr::Builtin(Builtin::Lxor));
    /// `MPI_BXOR`.
    pub const BXOR: Op = Op(Repr::Builtin(Builtin::Bxor));
    /// `MPI_MAXLOC`, on [`ValueIndex`](crate::ValueIndex) pairs.
    pub const MAXLOC: Op = Op(Repr::Builtin(Builtin::Maxloc));
    /// `MPI_MINLOC`, on [`ValueIndex`](crate::ValueIndex) pairs.
    pub const MINLOC: Op = Op(Repr::Builtin(Builtin::Minloc));
    /// `MPI_REPLACE` (one-sided accumulate only; a reduction refuses it).
    pub const REPLACE: Op = Op(Repr::Builtin(Builtin::Replace));
    /// `MPI_NO_OP` (one-sided accumulate only; a reduction refuses it).
    pub const NO_OP: Op = Op(Repr::Builtin(Builtin::NoOp));

    /// The predefined operation this is, if any.
    pub fn builtin(&self) -> Option<Builtin> {
        match self.0 {
            Repr::Builtin(b) => Some(b),
            Repr::User { .. } => None,
        }
    }

    /// Whether the operation is commutative (`MPI_Op_commutative`).
    pub fn is_commutative(&self) -> bool {
        match self.0 {
            Repr::Builtin(b) => b.is_commutative(),
            Repr::User { commutative, .. } => commutative,
        }
    }

    /// The MPI handle (for a predefined operation, the MPI one even where reductions of
    /// `f16`/`bf16` substitute the library's own).
    pub fn as_raw(&self) -> MPI_Op {
        match self.0 {
            Repr::Builtin(b) => b.as_raw(),
            Repr::User { raw, .. } => raw,
        }
    }

    /// The handle to reduce elements of `kind` (MPI datatype `datatype`) with, or an error
    /// saying why the operation does not apply to them.
    #[inline]
    pub(crate) fn for_reduction(&self, kind: ElementKind, datatype: MPI_Datatype) -> Result<MPI_Op> {
        match (&self.0, kind) {
            (Repr::Builtin(b), ElementKind::Basic(d)) if b.applies_to(d) => Ok(match d {
                DType::F16 => half_op(0, *b),
                DType::BF16 => half_op(1, *b),
                _ => b.as_raw(),
            }),
            (Repr::Builtin(Builtin::Maxloc | Builtin::Minloc), ElementKind::Pair(_)) => Ok(self.as_raw()),
            (Repr::User { raw, datatype: want, .. }, _) if *want == datatype => Ok(*raw),
            _ => Err(self.mismatch(kind)),
        }
    }

    #[cold]
    #[inline(never)]
    fn mismatch(&self, kind: ElementKind) -> Error {
        let what = match kind {
            ElementKind::Basic(d) => format!("{d} elements"),
            ElementKind::Pair(p) => format!("{p:?} value-index pairs"),
            ElementKind::Derived => "elements of a derived datatype".to_string(),
        };
        let why = match &self.0 {
            Repr::Builtin(b) => match b.family() {
                Family::Ordered => "it applies to integers and floating point",
                Family::Arithmetic => "it applies to integers, floating point and complex",
                Family::Logical => "it applies to integers and bool",
                Family::Bitwise => "it applies to integers",
                Family::Location => "it applies to ValueIndex pairs",
                Family::Accumulate => "it is defined for one-sided accumulate only",
            },
            Repr::User { .. } => "the operation was created for another element type",
        };
        let name = match &self.0 {
            Repr::Builtin(b) => b.name().to_string(),
            Repr::User { element, .. } => format!("user operation on {element}"),
        };
        Error::InvalidOp(format!("{name} cannot reduce {what}: {why}"))
    }
}

// ---------------------------------------------------------------------------------------------
// f16 / bf16: MPI has no such types, so their reductions are the library's own operations,
// computed in f64 (exact for sums and products of two halves) and rounded once.

trait Half: Copy + 'static {
    fn to_f64(self) -> f64;
    fn from_f64(x: f64) -> Self;
}
impl Half for half::f16 {
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn from_f64(x: f64) -> Self {
        half::f16::from_f64(x)
    }
}
impl Half for half::bf16 {
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn from_f64(x: f64) -> Self {
        half::bf16::from_f64(x)
    }
}

/// The operations that apply to floating point, in the order of the half-precision tables.
const HALF_BUILTINS: [Builtin; 4] = [Builtin::Max, Builtin::Min, Builtin::Sum, Builtin::Prod];

unsafe extern "C" fn half_reduce<T: Half, const K: usize>(
    invec: *mut c_void,
    inoutvec: *mut c_void,
    len: *mut c_int,
    _datatype: *mut MPI_Datatype,
) {
    let n = (*len).max(0) as usize;
    let (a, b) = (invec as *const T, inoutvec as *mut T);
    // Element by element with unaligned reads and writes: the arrays may sit at any address
    // (a view laid at an odd byte offset, MPI's own packed buffers), so no `&[T]` is formed.
    for i in 0..n {
        // SAFETY: MPI passes two arrays of `n` elements of this 2-byte datatype; `T` is a
        // 2-byte type for which every bit pattern is valid (f16/bf16).
        let (x, y) = (a.add(i).read_unaligned(), b.add(i).read_unaligned());
        let (u, v) = (x.to_f64(), y.to_f64());
        let r = match HALF_BUILTINS[K] {
            Builtin::Max => {
                if u > v {
                    u
                } else {
                    v
                }
            }
            Builtin::Min => {
                if u < v {
                    u
                } else {
                    v
                }
            }
            Builtin::Sum => u + v,
            _ => u * v,
        };
        // SAFETY: element `i` of the inout array (above).
        b.add(i).write_unaligned(T::from_f64(r));
    }
}

/// `[f16 ops, bf16 ops]`, indexed like `HALF_BUILTINS` (max, min, sum, prod).
struct HalfOps([[MPI_Op; 4]; 2]);
// SAFETY: operation handles are immutable once created.
unsafe impl Send for HalfOps {}
// SAFETY: see Send.
unsafe impl Sync for HalfOps {}
static HALF_OPS: OnceLock<HalfOps> = OnceLock::new();

/// Creates the f16/bf16 operations; called once by [`crate::init_with`].
pub(crate) fn init_half_ops() -> Result<()> {
    if HALF_OPS.get().is_some() {
        return Ok(());
    }
    type F = unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_int, *mut MPI_Datatype);
    let fns: [[F; 4]; 2] = [
        [
            half_reduce::<half::f16, 0>,
            half_reduce::<half::f16, 1>,
            half_reduce::<half::f16, 2>,
            half_reduce::<half::f16, 3>,
        ],
        [
            half_reduce::<half::bf16, 0>,
            half_reduce::<half::bf16, 1>,
            half_reduce::<half::bf16, 2>,
            half_reduce::<half::bf16, 3>,
        ],
    ];
    let mut ops = [[ffi::OP_NULL(); 4]; 2];
    for (row, fs) in ops.iter_mut().zip(fns) {
        for (op, f) in row.iter_mut().zip(fs) {
            mpi_call!(MPI_Op_create(Some(f), 1, op))?;
        }
    }
    let _ = HALF_OPS.set(HalfOps(ops));
    Ok(())
}

/// Frees the f16/bf16 operations just before `MPI_Finalize`.
pub(crate) fn free_half_ops() {
    if let Some(ops) = HALF_OPS.get() {
        for mut op in ops.0.into_iter().flatten() {
            // SAFETY: operations this library created; nothing is in flight at finalize
            // (called after `runtime::record_finalize`, which refuses every other thread).
            unsafe { ffi::MPI_Op_free(&mut op) };
        }
    }
}

/// The handle reducing halves (`which`: 0 = f16, 1 = bf16) with `b`. Only max, min, sum and
/// prod apply to floating point, which `applies_to` has already checked.
fn half_op(which: usize, b: Builtin) -> MPI_Op {
    let k = match b {
        Builtin::Max => 0,
        Builtin::Min => 1,
        Builtin::Sum => 2,
        _ => 3,
    };
    HALF_OPS.get().map(|h| h.0[which][k]).unwrap_or_else(ffi::OP_NULL)
}

// ---------------------------------------------------------------------------------------------
// User-defined operations. MPI calls a plain C function with no user data, so a fixed table
// of trampolines, one per slot, finds the closure (as mpi4py does with its table of 32).

/// How many user operations may exist at once.
pub const MAX_USER_OPS: usize = 64;

type Body = Box<dyn Fn(*const c_void, *mut c_void, usize) + Send + Sync>;
static SLOTS: [RwLock<Option<Body>>; MAX_USER_OPS] = [const { RwLock::new(None) }; MAX_USER_OPS];
/// Serialises slot allocation.
static ALLOCATE: Mutex<()> = Mutex::new(());

unsafe extern "C" fn trampoline<const I: usize>(
    invec: *mut c_void,
    inoutvec: *mut c_void,
    len: *mut c_int,
    _datatype: *mut MPI_Datatype,
) {
    let slot = SLOTS[I].read().unwrap_or_else(|e| e.into_inner());
    if let Some(body) = slot.as_ref() {
        body(invec, inoutvec, (*len).max(0) as usize);
    }
}

type Trampoline = unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_int, *mut MPI_Datatype);

macro_rules! trampolines {
    ($($i:literal)*) => { [$(trampoline::<$i> as Trampoline),*] };
}

static TRAMPOLINES: [Trampoline; MAX_USER_OPS] = trampolines!(
    0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
    32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63
);

/// A user-defined reduction operation (`MPI_Op_create`) from a Rust closure over a typed
/// slice; freed on drop. Dereferences to [`Op`], so `&user_op` goes wherever `&Op` does.
///
/// The closure computes `inout[i] = input[i] ∘ inout[i]`. It is applied only to buffers of the
/// element type it was created for; anything else is an [`Error::InvalidOp`]. A panic inside
/// it cannot unwind through MPI and aborts the job.
pub struct UserOp {
    op: Op,
    slot: usize,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

impl UserOp {
    /// A user operation on elements of `T` (any [`BufferElement`]);
    /// `commutative` tells MPI whether it may reorder operands.
    pub fn new<T, F>(commutative: bool, f: F) -> Result<UserOp>
    where
        T: BufferElement,
        F: Fn(&[T], &mut [T]) + Send + Sync + 'static,
    {
        Self::with_datatype(commutative, T::datatype(), std::any::type_name::<T>(), f)
    }

    /// A user operation on an rsmpi [`Equivalence`](mpi::datatype::Equivalence) type (e.g. a
    /// `#[derive(Equivalence)]` struct), for buffers wrapped in
    /// [`Equivalent`](crate::Equivalent).
    pub fn new_equivalent<T, F>(commutative: bool, f: F) -> Result<UserOp>
    where
        T: mpi::datatype::Equivalence + Copy + 'static,
        F: Fn(&[T], &mut [T]) + Send + Sync + 'static,
    {
        use mpi::raw::AsRaw;
        Self::with_datatype(commutative, T::equivalent_datatype().as_raw(), std::any::type_name::<T>(), f)
    }

    fn with_datatype<T, F>(
        commutative: bool,
        datatype: MPI_Datatype,
        element: &'static str,
        f: F,
    ) -> Result<UserOp>
    where
        T: Copy + 'static,
        F: Fn(&[T], &mut [T]) + Send + Sync + 'static,
    {
        crate::error::require_active()?;
        let body: Body = Box::new(move |input, inout, n| {
            let (input, inout) = (input as *const T, inout as *mut T);
            if n == 0 {
                return f(&[], &mut []);
            }
            if input.is_aligned() && inout.is_aligned() {
                // SAFETY: MPI passes two distinct arrays of `n` elements of the datatype this
                // operation was checked against, which has the layout of `T` (and every bit
                // pattern of it is a valid `T`: BufferElement / Equivalence); both are aligned.
                let (a, b) = unsafe {
                    (std::slice::from_raw_parts(input, n), std::slice::from_raw_parts_mut(inout, n))
                };
                return f(a, b);
            }
            // A view at a byte offset that is not a multiple of T's alignment (or a buffer of
            // MPI's own): slices must be aligned, so the closure works on aligned copies.
            // SAFETY: as above, read and written without assuming alignment.
            let a: Vec<T> = (0..n).map(|i| unsafe { input.add(i).read_unaligned() }).collect();
            // SAFETY: as above, read without assuming alignment.
            let mut b: Vec<T> = (0..n).map(|i| unsafe { inout.add(i).read_unaligned() }).collect();
            f(&a, &mut b);
            for (i, y) in b.into_iter().enumerate() {
                // SAFETY: element `i` of the inout array.
                unsafe { inout.add(i).write_unaligned(y) };
            }
        });
        let _guard = ALLOCATE.lock().unwrap_or_else(|e| e.into_inner());
        let slot =
            SLOTS.iter().position(|s| s.read().map(|s| s.is_none()).unwrap_or(false)).ok_or_else(|| {
                Error::InvalidOp(format!("more than {MAX_USER_OPS} user operations exist at once"))
            })?;
        let mut raw = ffi::OP_NULL();
        mpi_call!(MPI_Op_create(Some(TRAMPOLINES[slot]), c_int::from(commutative), &mut raw))?;
        *SLOTS[slot].write().unwrap_or_else(|e| e.into_inner()) = Some(body);
        Ok(UserOp {
            op: Op(Repr::User { raw, datatype, commutative, element }),
            slot,
            _thread: std::marker::PhantomData,
        })
    }
}

impl std::ops::Deref for UserOp {
    type Target = Op;
    fn deref(&self) -> &Op {
        &self.op
    }
}

impl Drop for UserOp {
    fn drop(&mut self) {
        if let Repr::User { mut raw, .. } = self.op.0 {
            if let Some(_call) = enter_if_active() {
                // SAFETY: created by MPI_Op_create; every operation using it has completed
                // (nonblocking ones borrow it).
                unsafe { ffi::MPI_Op_free(&mut raw) };
            }
        }
        *SLOTS[self.slot].write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
