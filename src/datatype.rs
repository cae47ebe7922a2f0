//! MPI datatypes (mpi4py's `Datatype` and `util.dtlib`): the mapping between element types and
//! MPI datatypes in both directions, NumPy-style type strings, derived datatypes that describe
//! non-contiguous layouts, and [`Typed`] / [`TypedMut`], which lend a host buffer to any
//! operation under such a layout.
//!
//! Every derived layout is checked against the memory it is laid over when the view is made, so
//! a wrong count, stride or displacement is an [`Error::InvalidArgument`], never a read or write
//! outside the buffer.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::{Datatype, Typed, TypedMut};
//!
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let (right, left) = ((world.rank() + 1) % world.size(), (world.rank() + world.size() - 1) % world.size());
//! // A 4 x 3 row-major matrix; its column 1 is 4 blocks of 1 element, 3 elements apart.
//! let column = Datatype::vector(4, 1, 3, &Datatype::of::<f64>()?)?;
//! let a = [1.0f64; 12];
//! let mut b = [0.0f64; 12];
//! world.sendrecv(&Typed::new(&a[1..], 1, &column)?, right, 0, &mut TypedMut::new(&mut b[1..], 1, &column)?, left, 0)?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use crate::buffer::{Buffer, BufferElement, BufferMut, ElementKind, Spec, SpecMut};
use crate::comm::Communicator;
use crate::environment::{is_active, require_active};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Aint, MPI_Datatype};
use crate::transfer::stage::{Fill, Transfer};
use crate::util::{string_from_c, to_count};
use mpi4rs_device::DType;
use std::ffi::{c_char, c_int, c_void};
use std::marker::PhantomData;
use std::sync::OnceLock;

/// An MPI datatype handle that may be shared between threads (predefined and committed
/// library-owned types are immutable).
#[derive(Clone, Copy)]
struct SharedDatatype(MPI_Datatype);
// SAFETY: the handle is only read after it is committed; MPI datatypes are thread-safe to use.
unsafe impl Send for SharedDatatype {}
// SAFETY: see Send; only read.
unsafe impl Sync for SharedDatatype {}

/// `[f16, bf16]`: two bytes each, as distinct committed types so that predefined reductions
/// cannot silently treat them as integers.
static HALF_TYPES: OnceLock<[SharedDatatype; 2]> = OnceLock::new();

fn two_bytes(name: &str) -> Result<MPI_Datatype> {
    let mut t = ffi::DATATYPE_NULL();
    mpi_call!(MPI_Type_contiguous(2, ffi::BYTE(), &mut t))?;
    mpi_call!(MPI_Type_commit(&mut t))?;
    let cname = std::ffi::CString::new(name).expect("static name");
    mpi_call!(MPI_Type_set_name(t, cname.as_ptr()))?;
    Ok(t)
}

/// Creates the `f16`/`bf16` datatypes; called once by [`crate::init_with`].
pub(crate) fn init_half_types() -> Result<()> {
    if HALF_TYPES.get().is_none() {
        let types =
            [SharedDatatype(two_bytes("MPI4RS_FLOAT16")?), SharedDatatype(two_bytes("MPI4RS_BFLOAT16")?)];
        let _ = HALF_TYPES.set(types);
    }
    Ok(())
}

/// Frees the `f16`/`bf16` datatypes; called just before `MPI_Finalize` (MPI cannot be
/// initialised again, so nothing can use them afterwards).
pub(crate) fn free_half_types() {
    if let Some(types) = HALF_TYPES.get() {
        for t in types {
            let mut raw = t.0;
            // SAFETY: committed types this library created; nothing is in flight at finalize.
            unsafe { ffi::MPI_Type_free(&mut raw) };
        }
    }
}

fn half_type(index: usize) -> MPI_Datatype {
    // init_with creates them before any communicator exists, so every caller sees them.
    HALF_TYPES.get().map(|t| t[index].0).unwrap_or_else(ffi::DATATYPE_NULL)
}

/// The MPI datatype that carries elements of `dtype`.
#[inline]
pub fn mpi_datatype(dtype: DType) -> MPI_Datatype {
    match dtype {
        DType::Bool => ffi::C_BOOL(),
        DType::I8 => ffi::INT8_T(),
        DType::I16 => ffi::INT16_T(),
        DType::I32 => ffi::INT32_T(),
        DType::I64 => ffi::INT64_T(),
        DType::U8 => ffi::UINT8_T(),
        DType::U16 => ffi::UINT16_T(),
        DType::U32 => ffi::UINT32_T(),
        DType::U64 => ffi::UINT64_T(),
        DType::F16 => half_type(0),
        DType::BF16 => half_type(1),
        DType::F32 => ffi::FLOAT(),
        DType::F64 => ffi::DOUBLE(),
        DType::C32 => ffi::C_FLOAT_COMPLEX(),
        DType::C64 => ffi::C_DOUBLE_COMPLEX(),
    }
}

// ---------------------------------------------------------------------------------------------
// The reverse mapping: MPI datatype handle -> element type, and NumPy type strings.

/// The element type a predefined MPI datatype handle carries, if it is one mpi4rs knows:
/// the handles [`mpi_datatype`] gives (including the library's `f16`/`bf16` types), rsmpi's
/// handles for the same types, and the C types of `mpi.h` (`MPI_INT`, `MPI_LONG`,
/// `MPI_UNSIGNED_CHAR`, `MPI_BYTE` as `u8`, `MPI_AINT`, …) by their size.
///
/// Only compares handles, so any value may be passed; derived datatypes (even a `dup` of a
/// predefined one, which [`Datatype::dtype`] does recognise) give `None`.
pub fn dtype_of_handle(raw: MPI_Datatype) -> Option<DType> {
    let null = ffi::DATATYPE_NULL();
    if raw == null {
        return None;
    }
    if raw == half_type(0) {
        return Some(DType::F16);
    }
    if raw == half_type(1) {
        return Some(DType::BF16);
    }
    let mut size: c_int = 0;
    // SAFETY: compares the handle with predefined ones; writes `size` only.
    let kind = unsafe { ffi::mpi4rs_named_kind(raw, &mut size) };
    let kind = u8::try_from(kind).ok()?;
    Some(match (kind, size) {
        (b'b', 1) => DType::Bool,
        (b'i', 1) => DType::I8,
        (b'i', 2) => DType::I16,
        (b'i', 4) => DType::I32,
        (b'i', 8) => DType::I64,
        (b'u', 1) => DType::U8,
        (b'u', 2) => DType::U16,
        (b'u', 4) => DType::U32,
        (b'u', 8) => DType::U64,
        (b'f', 4) => DType::F32,
        (b'f', 8) => DType::F64,
        (b'c', 8) => DType::C32,
        (b'c', 16) => DType::C64,
        _ => return None,
    })
}

/// The NumPy type string of an element type, without byte-order character: `"b1"`, `"i4"`,
/// `"u8"`, `"f2"`, `"f8"`, `"c16"`, … `bf16` has no NumPy type string; mpi4rs writes it
/// `"bf2"` (kind `bf`, 2 bytes) and reads it back with [`parse_typestr`].
pub fn typestr(dtype: DType) -> &'static str {
    match dtype {
        DType::Bool => "b1",
        DType::I8 => "i1",
        DType::I16 => "i2",
        DType::I32 => "i4",
        DType::I64 => "i8",
        DType::U8 => "u1",
        DType::U16 => "u2",
        DType::U32 => "u4",
        DType::U64 => "u8",
        DType::F16 => "f2",
        DType::BF16 => "bf2",
        DType::F32 => "f4",
        DType::F64 => "f8",
        DType::C32 => "c8",
        DType::C64 => "c16",
    }
}

/// Reads a NumPy type string (`"f8"`, `"<i4"`, `"|b1"`, `"c16"`, `"?"` for bool, and `"bf2"`
/// for bfloat16) into an element type. A byte-order character is allowed when it is native
/// (`=`, `|`, or `<` / `>` matching this machine); anything else is
/// [`Error::InvalidArgument`].
pub fn parse_typestr(s: &str) -> Result<DType> {
    let unknown = || {
        Error::InvalidArgument(format!("unknown type string {s:?} (expected e.g. \"f8\", \"i4\", \"c16\")"))
    };
    let native = if cfg!(target_endian = "little") { '<' } else { '>' };
    let body = match s.chars().next() {
        Some(c) if c == '=' || c == '|' || c == native => &s[1..],
        Some('<' | '>') => {
            return Err(Error::InvalidArgument(format!(
                "type string {s:?}: only native byte order is supported"
            )))
        }
        _ => s,
    };
    DType::ALL
        .iter()
        .copied()
        .find(|&d| typestr(d) == body || (body == "?" && d == DType::Bool))
        .ok_or_else(unknown)
}

// ---------------------------------------------------------------------------------------------
// Datatype

/// Storage order of a multidimensional array (`MPI_ORDER_C` / `MPI_ORDER_FORTRAN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Order {
    /// Row-major: the last index varies fastest.
    C,
    /// Column-major: the first index varies fastest.
    Fortran,
}

impl Order {
    fn raw(self) -> c_int {
        match self {
            Order::C => ffi::ORDER_C(),
            Order::Fortran => ffi::ORDER_FORTRAN(),
        }
    }
}

/// How [`Datatype::darray`] distributes one dimension over the process grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Distrib {
    /// Contiguous blocks (`MPI_DISTRIBUTE_BLOCK`).
    Block,
    /// Round-robin blocks (`MPI_DISTRIBUTE_CYCLIC`).
    Cyclic,
    /// Not distributed: the process grid must have extent 1 here (`MPI_DISTRIBUTE_NONE`).
    None,
}

impl Distrib {
    fn raw(self) -> c_int {
        match self {
            Distrib::Block => ffi::DISTRIBUTE_BLOCK(),
            Distrib::Cyclic => ffi::DISTRIBUTE_CYCLIC(),
            Distrib::None => ffi::DISTRIBUTE_NONE(),
        }
    }
}

/// The distribution argument of one dimension of [`Datatype::darray`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Darg {
    /// `MPI_DISTRIBUTE_DFLT_DARG`: blocks of `ceil(gsize / psize)` for `Block`, 1 for `Cyclic`.
    Default,
    /// An explicit block size (at least 1).
    Value(usize),
}

/// [`Darg::Default`], under the name of the MPI constant.
pub const DARG_DEFAULT: Darg = Darg::Default;

/// Size and bounds of a committed datatype, read once when it is made (they never change).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Layout {
    size: usize,
    lb: isize,
    extent: isize,
    true_lb: isize,
    true_extent: isize,
}

/// An MPI datatype (mpi4py's `Datatype`): a predefined one, or a derived layout made by one of
/// the constructors, already committed and freed on drop.
///
/// Size and bounds are read when the datatype is made, so the queries and the views built on it
/// ([`Typed`], [`TypedMut`]) make no MPI call.
///
/// ```no_run
/// use mpi4rs::Datatype;
///
/// let _env = mpi4rs::init()?;
/// let f64s = Datatype::of::<f64>()?;
/// // Every other element of 8: 4 blocks of 1, stride 2.
/// let strided = Datatype::vector(4, 1, 2, &f64s)?;
/// assert_eq!(strided.size(), 32);
/// assert_eq!(strided.extent(), (0, 56));
/// // The same, with the extent of two elements, so that consecutive items interleave.
/// let every_other = Datatype::resized(0, 16, &f64s)?;
/// assert_eq!(every_other.extent(), (0, 16));
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct Datatype {
    raw: MPI_Datatype,
    /// Whether this value frees the handle: false for predefined types and the library's own
    /// `f16`/`bf16` types.
    owned: bool,
    layout: Layout,
    /// What a buffer of this single datatype holds, for checking operations.
    kind: ElementKind,
    /// The one basic element type the whole type map consists of, where known (`None` for
    /// mixed maps): receives into `bool` buffers need it to be `bool`.
    base: Option<DType>,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::thread::ThreadBound,
}

impl Drop for Datatype {
    fn drop(&mut self) {
        // After finalize no MPI call is allowed; the handle dies with the library.
        if self.owned && is_active() {
            // SAFETY: a committed type owned by this value; MPI keeps it alive for pending
            // operations and for types derived from it.
            unsafe { ffi::MPI_Type_free(&mut self.raw) };
        }
    }
}

impl std::fmt::Debug for Datatype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datatype")
            .field("name", &self.name().unwrap_or_default())
            .field("predefined", &!self.owned)
            .field("size", &self.layout.size)
            .field("extent", &(self.layout.lb, self.layout.extent))
            .field("true_extent", &(self.layout.true_lb, self.layout.true_extent))
            .finish()
    }
}

#[cold]
#[inline(never)]
fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// Converts an MPI address-sized integer (isize for Open MPI, c_long for MPICH) to `isize`.
#[inline(always)]
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn from_aint(v: MPI_Aint) -> isize {
    v as isize
}

#[inline(always)]
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn to_aint(v: isize) -> MPI_Aint {
    v as MPI_Aint
}

/// An `MPI_Count` (a 64-bit integer of a different C name in each library) as `i64`.
#[inline(always)]
#[allow(clippy::useless_conversion)]
fn from_count(v: ffi::MPI_Count) -> i64 {
    i64::from(v)
}

/// Each length as an MPI count.
fn counts(what: &'static str, values: &[usize]) -> Result<Vec<c_int>> {
    values.iter().map(|&v| to_count(what, v)).collect()
}

fn same_len(what: &str, a: usize, b: usize) -> Result<()> {
    if a == b {
        Ok(())
    } else {
        Err(invalid(format!("{what}: the arrays have different lengths ({a} and {b})")))
    }
}

/// Reads size and bounds of a committed datatype.
fn query_layout(raw: MPI_Datatype) -> Result<Layout> {
    let mut size: ffi::MPI_Count = 0;
    mpi_call!(MPI_Type_size_x(raw, &mut size))?;
    let (mut lb, mut extent, mut true_lb, mut true_extent): (MPI_Aint, MPI_Aint, MPI_Aint, MPI_Aint) =
        (0, 0, 0, 0);
    mpi_call!(MPI_Type_get_extent(raw, &mut lb, &mut extent))?;
    mpi_call!(MPI_Type_get_true_extent(raw, &mut true_lb, &mut true_extent))?;
    let size = usize::try_from(from_count(size))
        .map_err(|_| invalid(format!("the datatype size ({size}) is undefined or negative")))?;
    Ok(Layout {
        size,
        lb: from_aint(lb),
        extent: from_aint(extent),
        true_lb: from_aint(true_lb),
        true_extent: from_aint(true_extent),
    })
}

/// Follows `MPI_Type_dup` chains down to a predefined type.
fn decode_dtype(raw: MPI_Datatype, depth: u32) -> Option<DType> {
    if let Some(d) = dtype_of_handle(raw) {
        return Some(d);
    }
    if depth >= 8 || !is_active() {
        return None;
    }
    let (mut ni, mut na, mut nd, mut combiner): (c_int, c_int, c_int, c_int) = (0, 0, 0, 0);
    mpi_call!(MPI_Type_get_envelope(raw, &mut ni, &mut na, &mut nd, &mut combiner)).ok()?;
    if combiner != ffi::COMBINER_DUP() || ni != 0 || na != 0 || nd != 1 {
        return None;
    }
    let mut inner = [ffi::DATATYPE_NULL()];
    let (mut ints, mut addrs): ([c_int; 1], [MPI_Aint; 1]) = ([0], [0]);
    mpi_call!(MPI_Type_get_contents(raw, 0, 0, 1, ints.as_mut_ptr(), addrs.as_mut_ptr(), inner.as_mut_ptr()))
        .ok()?;
    let found = decode_dtype(inner[0], depth + 1);
    // get_contents returns new handles for derived types (to be freed), not for named ones.
    mpi_call!(MPI_Type_get_envelope(inner[0], &mut ni, &mut na, &mut nd, &mut combiner)).ok()?;
    if combiner != ffi::COMBINER_NAMED() {
        // SAFETY: a derived handle returned to us by MPI_Type_get_contents.
        unsafe { ffi::MPI_Type_free(&mut inner[0]) };
    }
    found
}

/// The one base element type of several datatypes, if they agree.
fn common_base<'a>(mut types: impl Iterator<Item = &'a Datatype>) -> Option<DType> {
    let first = types.next()?.base?;
    types.all(|t| t.base == Some(first)).then_some(first)
}

impl Datatype {
    /// The predefined datatype of a buffer element type (`f64` → `MPI_DOUBLE`, `ValueIndex<f32>`
    /// → `MPI_FLOAT_INT`, …). Not freed on drop.
    pub fn of<T: BufferElement>() -> Result<Datatype> {
        Datatype::predefined(T::datatype(), T::kind())
    }

    /// The predefined datatype that carries elements of `dtype` (see [`mpi_datatype`]).
    pub fn from_dtype(dtype: DType) -> Result<Datatype> {
        Datatype::predefined(mpi_datatype(dtype), ElementKind::Basic(dtype))
    }

    /// The datatype for a NumPy type string (`"f8"`, `"i4"`, …; see [`parse_typestr`]).
    pub fn from_typestr(s: &str) -> Result<Datatype> {
        Datatype::from_dtype(parse_typestr(s)?)
    }

    fn predefined(raw: MPI_Datatype, kind: ElementKind) -> Result<Datatype> {
        require_active()?;
        let base = match kind {
            ElementKind::Basic(d) => Some(d),
            _ => None,
        };
        Ok(Datatype {
            raw,
            owned: false,
            layout: query_layout(raw)?,
            kind,
            base,
            _thread: std::marker::PhantomData,
        })
    }

    /// Takes ownership of a new handle from an MPI constructor, commits it and reads its layout
    /// (the handle is freed if any of that fails).
    fn adopt(raw: MPI_Datatype, base: Option<DType>) -> Result<Datatype> {
        let mut t = Datatype {
            raw,
            owned: true,
            layout: Layout::default(),
            kind: ElementKind::Derived,
            base,
            _thread: std::marker::PhantomData,
        };
        mpi_call!(MPI_Type_commit(&mut t.raw))?;
        t.layout = query_layout(t.raw)?;
        Ok(t)
    }

    /// A datatype handle MPI handed back to the caller (`MPI_File_get_view`): a named
    /// (predefined) handle is borrowed, a derived one is the caller's to free, so it is owned.
    pub(crate) fn from_returned(raw: MPI_Datatype) -> Result<Datatype> {
        let (mut ni, mut na, mut nd, mut combiner): (c_int, c_int, c_int, c_int) = (0, 0, 0, 0);
        mpi_call!(MPI_Type_get_envelope(raw, &mut ni, &mut na, &mut nd, &mut combiner))?;
        if combiner == ffi::COMBINER_NAMED() {
            let kind = dtype_of_handle(raw).map_or(ElementKind::Derived, ElementKind::Basic);
            return Datatype::predefined(raw, kind);
        }
        Datatype::adopt(raw, decode_dtype(raw, 0))
    }

    /// `count` copies of `old` side by side (`MPI_Type_contiguous`).
    pub fn contiguous(count: usize, old: &Datatype) -> Result<Datatype> {
        require_active()?;
        let count = to_count("contiguous count", count)?;
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_contiguous(count, old.raw, &mut t))?;
        Datatype::adopt(t, old.base)
    }

    /// `count` blocks of `blocklength` items of `old`, the blocks `stride` items apart (a
    /// matrix column, for instance) (`MPI_Type_vector`). `stride` may be negative.
    pub fn vector(count: usize, blocklength: usize, stride: i32, old: &Datatype) -> Result<Datatype> {
        require_active()?;
        let count = to_count("vector count", count)?;
        let blocklength = to_count("vector blocklength", blocklength)?;
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_vector(count, blocklength, stride, old.raw, &mut t))?;
        Datatype::adopt(t, old.base)
    }

    /// Like [`vector`](Self::vector) with the stride in bytes (`MPI_Type_create_hvector`).
    pub fn hvector(
        count: usize,
        blocklength: usize,
        stride_bytes: isize,
        old: &Datatype,
    ) -> Result<Datatype> {
        require_active()?;
        let count = to_count("hvector count", count)?;
        let blocklength = to_count("hvector blocklength", blocklength)?;
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_create_hvector(count, blocklength, to_aint(stride_bytes), old.raw, &mut t))?;
        Datatype::adopt(t, old.base)
    }

    /// Blocks of `blocklengths[i]` items of `old` at `displacements[i]` items from the start
    /// (`MPI_Type_indexed`). The two slices must have the same length.
    pub fn indexed(blocklengths: &[usize], displacements: &[i32], old: &Datatype) -> Result<Datatype> {
        require_active()?;
        same_len("indexed blocklengths and displacements", blocklengths.len(), displacements.len())?;
        let n = to_count("indexed block count", blocklengths.len())?;
        let lens = counts("indexed blocklength", blocklengths)?;
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_indexed(n, lens.as_ptr(), displacements.as_ptr(), old.raw, &mut t))?;
        Datatype::adopt(t, old.base)
    }

    /// Like [`indexed`](Self::indexed) with displacements in bytes (`MPI_Type_create_hindexed`).
    pub fn hindexed(
        blocklengths: &[usize],
        byte_displacements: &[isize],
        old: &Datatype,
    ) -> Result<Datatype> {
        require_active()?;
        same_len("hindexed blocklengths and displacements", blocklengths.len(), byte_displacements.len())?;
        let n = to_count("hindexed block count", blocklengths.len())?;
        let lens = counts("hindexed blocklength", blocklengths)?;
        let disps: Vec<MPI_Aint> = byte_displacements.iter().map(|&d| to_aint(d)).collect();
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_create_hindexed(n, lens.as_ptr(), disps.as_ptr(), old.raw, &mut t))?;
        Datatype::adopt(t, old.base)
    }

    /// Blocks of the same `blocklength` items of `old` at `displacements[i]` items
    /// (`MPI_Type_create_indexed_block`).
    pub fn indexed_block(blocklength: usize, displacements: &[i32], old: &Datatype) -> Result<Datatype> {
        require_active()?;
        let n = to_count("indexed_block block count", displacements.len())?;
        let blocklength = to_count("indexed_block blocklength", blocklength)?;
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_create_indexed_block(n, blocklength, displacements.as_ptr(), old.raw, &mut t))?;
        Datatype::adopt(t, old.base)
    }

    /// Like [`indexed_block`](Self::indexed_block) with displacements in bytes
    /// (`MPI_Type_create_hindexed_block`).
    pub fn hindexed_block(
        blocklength: usize,
        byte_displacements: &[isize],
        old: &Datatype,
    ) -> Result<Datatype> {
        require_active()?;
        let n = to_count("hindexed_block block count", byte_displacements.len())?;
        let blocklength = to_count("hindexed_block blocklength", blocklength)?;
        let disps: Vec<MPI_Aint> = byte_displacements.iter().map(|&d| to_aint(d)).collect();
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_create_hindexed_block(n, blocklength, disps.as_ptr(), old.raw, &mut t))?;
        Datatype::adopt(t, old.base)
    }

    /// A record: `blocklengths[i]` items of `types[i]` at `byte_displacements[i]` bytes
    /// (`MPI_Type_create_struct`). The three slices must have the same length. The extent is
    /// MPI's (rounded up to the alignment of the members); use [`resized`](Self::resized) to
    /// match a Rust struct's `size_of` exactly.
    pub fn create_struct(
        blocklengths: &[usize],
        byte_displacements: &[isize],
        types: &[&Datatype],
    ) -> Result<Datatype> {
        require_active()?;
        same_len(
            "create_struct blocklengths and displacements",
            blocklengths.len(),
            byte_displacements.len(),
        )?;
        same_len("create_struct blocklengths and types", blocklengths.len(), types.len())?;
        let n = to_count("create_struct block count", blocklengths.len())?;
        let lens = counts("create_struct blocklength", blocklengths)?;
        let disps: Vec<MPI_Aint> = byte_displacements.iter().map(|&d| to_aint(d)).collect();
        let raws: Vec<MPI_Datatype> = types.iter().map(|t| t.raw).collect();
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_create_struct(n, lens.as_ptr(), disps.as_ptr(), raws.as_ptr(), &mut t))?;
        Datatype::adopt(t, common_base(types.iter().copied()))
    }

    /// The block `starts .. starts + subsizes` of an array of `sizes` items of `old` stored in
    /// `order` (`MPI_Type_create_subarray`); the extent is that of the whole array, so the
    /// view starts at the array's first element. Needs `1 <= subsizes[i] <= sizes[i]` and
    /// `starts[i] + subsizes[i] <= sizes[i]` in every dimension.
    pub fn subarray(
        sizes: &[usize],
        subsizes: &[usize],
        starts: &[usize],
        order: Order,
        old: &Datatype,
    ) -> Result<Datatype> {
        require_active()?;
        same_len("subarray sizes and subsizes", sizes.len(), subsizes.len())?;
        same_len("subarray sizes and starts", sizes.len(), starts.len())?;
        if sizes.is_empty() {
            return Err(invalid("subarray: at least one dimension is needed".into()));
        }
        for (i, ((&n, &sub), &start)) in sizes.iter().zip(subsizes).zip(starts).enumerate() {
            if sub == 0 || sub > n || start.checked_add(sub).is_none_or(|end| end > n) {
                return Err(invalid(format!(
                    "subarray dimension {i}: start {start} + subsize {sub} must lie within size {n} (and subsize >= 1)"
                )));
            }
        }
        let ndims = to_count("subarray dimensions", sizes.len())?;
        let (sizes, subsizes, starts) = (
            counts("subarray size", sizes)?,
            counts("subarray subsize", subsizes)?,
            counts("subarray start", starts)?,
        );
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_create_subarray(
            ndims,
            sizes.as_ptr(),
            subsizes.as_ptr(),
            starts.as_ptr(),
            order.raw(),
            old.raw,
            &mut t
        ))?;
        Datatype::adopt(t, old.base)
    }

    /// The part that process `rank` of a `size`-process grid `psizes` owns of a global array
    /// `gsizes` of `old`, distributed as HPF does (`MPI_Type_create_darray`); the extent is
    /// that of the whole global array.
    ///
    /// Checked before MPI: equal lengths, `rank < size`, `product(psizes) == size`, sizes at
    /// least 1, `psizes[i] == 1` where the distribution is [`Distrib::None`], block sizes at
    /// least 1, and for [`Distrib::Block`] with an explicit block `b`: `b * psizes[i] >= gsizes[i]`.
    #[allow(clippy::too_many_arguments)]
    pub fn darray(
        size: usize,
        rank: usize,
        gsizes: &[usize],
        distribs: &[Distrib],
        dargs: &[Darg],
        psizes: &[usize],
        order: Order,
        old: &Datatype,
    ) -> Result<Datatype> {
        require_active()?;
        same_len("darray gsizes and distribs", gsizes.len(), distribs.len())?;
        same_len("darray gsizes and dargs", gsizes.len(), dargs.len())?;
        same_len("darray gsizes and psizes", gsizes.len(), psizes.len())?;
        if gsizes.is_empty() {
            return Err(invalid("darray: at least one dimension is needed".into()));
        }
        if size == 0 || rank >= size {
            return Err(invalid(format!("darray: rank {rank} is not below the number of processes {size}")));
        }
        let grid = psizes.iter().try_fold(1usize, |acc, &p| acc.checked_mul(p));
        if grid != Some(size) {
            return Err(invalid(format!(
                "darray: the process grid {psizes:?} does not have {size} processes"
            )));
        }
        for i in 0..gsizes.len() {
            let (g, p) = (gsizes[i], psizes[i]);
            if g == 0 {
                return Err(invalid(format!("darray dimension {i}: the global size must be at least 1")));
            }
            match (distribs[i], dargs[i]) {
                (Distrib::None, _) if p != 1 => {
                    return Err(invalid(format!(
                        "darray dimension {i}: an undistributed dimension needs psizes[{i}] = 1, not {p}"
                    )))
                }
                (_, Darg::Value(0)) => {
                    return Err(invalid(format!("darray dimension {i}: the block size must be at least 1")))
                }
                (Distrib::Block, Darg::Value(b)) if b.checked_mul(p).is_some_and(|cover| cover < g) => {
                    return Err(invalid(format!(
                        "darray dimension {i}: {p} blocks of {b} do not cover the global size {g}"
                    )))
                }
                _ => {}
            }
        }
        let ndims = to_count("darray dimensions", gsizes.len())?;
        let gs = counts("darray global size", gsizes)?;
        let ps = counts("darray process grid size", psizes)?;
        let ds: Vec<c_int> = distribs.iter().map(|d| d.raw()).collect();
        let das = dargs
            .iter()
            .map(|d| match *d {
                Darg::Default => Ok(ffi::DISTRIBUTE_DFLT_DARG()),
                Darg::Value(v) => to_count("darray block size", v),
            })
            .collect::<Result<Vec<c_int>>>()?;
        let (size, rank) = (to_count("darray size", size)?, to_count("darray rank", rank)?);
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_create_darray(
            size,
            rank,
            ndims,
            gs.as_ptr(),
            ds.as_ptr(),
            das.as_ptr(),
            ps.as_ptr(),
            order.raw(),
            old.raw,
            &mut t
        ))?;
        Datatype::adopt(t, old.base)
    }

    /// `old` with its lower bound set to `lb` and its extent to `extent` bytes, so that
    /// consecutive items start `extent` bytes apart (`MPI_Type_create_resized`): e.g. one field
    /// of an array of records.
    pub fn resized(lb: isize, extent: isize, old: &Datatype) -> Result<Datatype> {
        require_active()?;
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_create_resized(old.raw, to_aint(lb), to_aint(extent), &mut t))?;
        Datatype::adopt(t, old.base)
    }

    /// A new handle for the same layout (`MPI_Type_dup`), owned and freed by the result.
    pub fn dup(&self) -> Result<Datatype> {
        require_active()?;
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_dup(self.raw, &mut t))?;
        let mut dup = Datatype::adopt(t, self.base)?;
        dup.kind = self.kind;
        Ok(dup)
    }

    /// Size in bytes of the data of one item (`MPI_Type_size`): what a message of one item
    /// carries, holes not counted.
    pub fn size(&self) -> usize {
        self.layout.size
    }

    /// Lower bound and extent in bytes (`MPI_Type_get_extent`): consecutive items start
    /// `extent` bytes apart.
    pub fn extent(&self) -> (isize, isize) {
        (self.layout.lb, self.layout.extent)
    }

    /// Lower bound and extent of the bytes the data really occupies
    /// (`MPI_Type_get_true_extent`), ignoring [`resized`](Self::resized) bounds.
    pub fn true_extent(&self) -> (isize, isize) {
        (self.layout.true_lb, self.layout.true_extent)
    }

    /// The datatype's name (`MPI_Type_get_name`); empty if none was set.
    pub fn name(&self) -> Result<String> {
        require_active()?;
        let mut buf = vec![0 as c_char; ffi::MAX_OBJECT_NAME() as usize + 1];
        let mut len: c_int = 0;
        mpi_call!(MPI_Type_get_name(self.raw, buf.as_mut_ptr(), &mut len))?;
        Ok(string_from_c(&buf, len))
    }

    /// Sets the datatype's name (at most `MPI_MAX_OBJECT_NAME - 1` bytes, no NUL). On a
    /// predefined datatype this renames it for the whole process, as in MPI.
    pub fn set_name(&self, name: &str) -> Result<()> {
        require_active()?;
        let c = crate::util::object_name("a datatype name", name)?;
        mpi_call!(MPI_Type_set_name(self.raw, c.as_ptr()))
    }

    /// The raw handle (still owned by `self`).
    pub fn as_raw(&self) -> MPI_Datatype {
        self.raw
    }

    /// Whether this is a predefined datatype (or the library's own `f16`/`bf16` type), which
    /// drop does not free.
    pub fn is_predefined(&self) -> bool {
        !self.owned
    }

    /// The element type this datatype carries, if it is a predefined one (see
    /// [`dtype_of_handle`]) or a [`dup`](Self::dup) of one; `None` for derived layouts.
    pub fn dtype(&self) -> Option<DType> {
        decode_dtype(self.raw, 0)
    }

    /// The NumPy type string of [`dtype`](Self::dtype) (`"f8"`, `"i4"`, …), if any.
    pub fn typestr(&self) -> Option<&'static str> {
        self.dtype().map(typestr)
    }

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
/// `*position`, else [`Error::InvalidArgument`] and nothing is written.
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

// ---------------------------------------------------------------------------------------------
// Buffers with a derived layout

/// The byte range `[lo, hi)` that `count` items of `layout` touch, relative to the start
/// (`None` when they touch nothing).
fn touched(layout: &Layout, count: usize) -> Option<(i128, i128)> {
    if count == 0 || layout.size == 0 {
        return None;
    }
    let span = (count as i128 - 1) * layout.extent as i128;
    let lo = layout.true_lb as i128 + span.min(0);
    let hi = layout.true_lb as i128 + layout.true_extent as i128 + span.max(0);
    Some((lo, hi))
}

/// The size in bytes of one item of the committed datatype `raw`, and the byte range that
/// `count` items of it touch from their origin (`None` when they touch nothing): what one-sided
/// operations check target ranges with.
pub(crate) fn size_and_span(raw: MPI_Datatype, count: usize) -> Result<(usize, Option<(i128, i128)>)> {
    let layout = query_layout(raw)?;
    Ok((layout.size, touched(&layout, count)))
}

/// Checks that `count` items of `datatype` placed `offset` bytes into a buffer of `bytes` bytes
/// lie inside it; gives the end of the touched range counted from the items' origin, the bytes
/// from there on that the view may access. That is 0 when the range ends at or below the
/// origin, which does not make the view empty: "empty" is zero items or items of zero size
/// (the router passes MPI the real address unless the view is empty in that sense).
fn check_fits(count: usize, datatype: &Datatype, offset: usize, bytes: usize) -> Result<usize> {
    if offset > bytes {
        return Err(invalid(format!("offset {offset} is past the end of the {bytes}-byte buffer")));
    }
    match touched(&datatype.layout, count) {
        None => Ok(0),
        Some((lo, hi)) if offset as i128 + lo >= 0 && offset as i128 + hi <= bytes as i128 => {
            Ok(hi.max(0) as usize)
        }
        Some((lo, hi)) => Err(invalid(format!(
            "{count} items of the datatype (true lb {}, true extent {}, extent {}) at offset {offset} touch \
             bytes {}..{} of a {bytes}-byte buffer",
            datatype.layout.true_lb,
            datatype.layout.true_extent,
            datatype.layout.extent,
            offset as i128 + lo,
            offset as i128 + hi
        ))),
    }
}

/// A read-only buffer seen through a datatype: `count` items of `datatype` laid over the
/// memory of a host buffer from its first byte (mpi4py's `[buf, count, datatype]`). Every
/// buffer operation accepts it.
///
/// The layout is checked when the view is made: the bytes it touches (from the true lower
/// bound of the first item to the true upper bound of the last) must lie inside the buffer.
/// To start elsewhere, lay it over a subslice (`&a[offset..]`), or give the origin as a byte
/// offset with [`with_offset`](Self::with_offset) (needed for layouts that reach below their
/// origin, such as negative strides).
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// use mpi4rs::{Datatype, Typed};
///
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// // Column 2 of a 3 x 4 row-major matrix.
/// let column = Datatype::vector(3, 1, 4, &Datatype::of::<f32>()?)?;
/// let m = [0.5f32; 12];
/// if world.rank() == 0 && world.size() > 1 {
///     world.send(&Typed::new(&m[2..], 1, &column)?, 1, 0)?;
/// }
/// // Three items would run past the end: an error, not an overrun.
/// assert!(Typed::new(&m[2..], 3, &column).is_err());
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct Typed<'a> {
    ptr: *const c_void,
    count: usize,
    datatype: &'a Datatype,
    bytes: usize,
    place: mpi4rs_device::Placement,
    _data: PhantomData<&'a ()>,
}

impl<'a> Typed<'a> {
    /// Lays `count` items of `datatype` over `buf`; [`Error::InvalidArgument`] if they do not
    /// fit inside it.
    pub fn new<B: Buffer + ?Sized>(buf: &'a B, count: usize, datatype: &'a Datatype) -> Result<Typed<'a>> {
        Typed::with_offset(buf, 0, count, datatype)
    }

    /// Like [`new`](Self::new) with the items' origin `byte_offset` bytes into `buf`, so that
    /// layouts reaching below their origin (negative strides or displacements) can be used:
    /// the bytes they touch must still lie inside `buf`.
    pub fn with_offset<B: Buffer + ?Sized>(
        buf: &'a B,
        byte_offset: usize,
        count: usize,
        datatype: &'a Datatype,
    ) -> Result<Typed<'a>> {
        let s = buf.spec()?;
        let bytes = check_fits(count, datatype, byte_offset, s.bytes)?;
        // SAFETY: byte_offset <= s.bytes (checked), so the pointer stays inside the buffer.
        let ptr = unsafe { s.ptr.cast::<u8>().add(byte_offset) }.cast();
        Ok(Typed { ptr, count, datatype, bytes, place: s.place, _data: PhantomData })
    }

    /// The datatype of the view.
    pub fn datatype(&self) -> &'a Datatype {
        self.datatype
    }

    /// The number of items.
    pub fn count(&self) -> usize {
        self.count
    }
}

// SAFETY: `new` checked that the items lie inside the borrowed buffer, which (like the
// datatype) stays borrowed for 'a; `bytes` is the end of the touched range, within the buffer.
unsafe impl Buffer for Typed<'_> {
    #[inline]
    fn spec(&self) -> Result<Spec> {
        Ok(Spec {
            ptr: self.ptr,
            count: self.count,
            datatype: self.datatype.raw,
            bytes: self.bytes,
            kind: self.datatype.kind,
            place: self.place,
        })
    }
}

/// A writable buffer seen through a datatype: `count` items of `datatype` laid over the memory
/// of a host buffer (see [`Typed`]), to receive into.
///
/// Besides the bounds check, the buffer's elements must accept whatever MPI writes: buffers of
/// plain numbers always do; `bool` buffers are refused (MPI would write the message's bytes
/// into them unchecked, and a byte other than 0 or 1 is not a `bool`: lay the view over `u8`s
/// instead; plain `bool` slices do receive, through a checked byte copy, see
/// [`transfer`](crate::transfer)); buffers of derived element types (rsmpi `Equivalence`
/// structs, other views) are refused.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// use mpi4rs::{Datatype, TypedMut};
///
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// // Receive 3 values into every other element of `a`.
/// let every_other = Datatype::resized(0, 16, &Datatype::of::<f64>()?)?;
/// let mut a = [0.0f64; 6];
/// if world.rank() == 1 {
///     world.recv(&mut TypedMut::new(&mut a, 3, &every_other)?, 0, 0)?;
/// }
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct TypedMut<'a> {
    ptr: *mut c_void,
    count: usize,
    datatype: &'a Datatype,
    bytes: usize,
    place: mpi4rs_device::Placement,
    _data: PhantomData<&'a mut ()>,
}

impl<'a> TypedMut<'a> {
    /// Lays `count` items of `datatype` over `buf`; [`Error::InvalidArgument`] if they do not
    /// fit inside it or the buffer's elements cannot take what the datatype writes.
    pub fn new<B: BufferMut + ?Sized>(
        buf: &'a mut B,
        count: usize,
        datatype: &'a Datatype,
    ) -> Result<TypedMut<'a>> {
        TypedMut::with_offset(buf, 0, count, datatype)
    }

    /// Like [`new`](Self::new) with the items' origin `byte_offset` bytes into `buf` (see
    /// [`Typed::with_offset`]).
    pub fn with_offset<B: BufferMut + ?Sized>(
        buf: &'a mut B,
        byte_offset: usize,
        count: usize,
        datatype: &'a Datatype,
    ) -> Result<TypedMut<'a>> {
        let s = buf.spec_mut()?;
        match s.kind {
            ElementKind::Basic(DType::Bool) => {
                return Err(invalid(
                    "a bool buffer cannot take a writable datatype layout: MPI could write bytes that are \
                     not 0 or 1 into it (any message, file or window may hold them); lay the view over a \
                     u8 buffer and convert"
                        .into(),
                ))
            }
            ElementKind::Derived => {
                return Err(invalid(
                    "a buffer of derived elements (an EquivalentMut or another view) cannot take a \
                     derived layout; lay it over a buffer of plain numbers"
                        .into(),
                ))
            }
            _ => {}
        }
        let bytes = check_fits(count, datatype, byte_offset, s.bytes)?;
        // SAFETY: byte_offset <= s.bytes (checked), so the pointer stays inside the buffer.
        let ptr = unsafe { s.ptr.cast::<u8>().add(byte_offset) }.cast();
        Ok(TypedMut { ptr, count, datatype, bytes, place: s.place, _data: PhantomData })
    }

    /// The datatype of the view.
    pub fn datatype(&self) -> &'a Datatype {
        self.datatype
    }

    /// The number of items.
    pub fn count(&self) -> usize {
        self.count
    }
}

// SAFETY: the items lie inside the mutably borrowed buffer (checked in `new`), whose elements
// accept any bit pattern the datatype's items can write (also checked there).
unsafe impl Buffer for TypedMut<'_> {
    #[inline]
    fn spec(&self) -> Result<Spec> {
        Ok(Spec {
            ptr: self.ptr,
            count: self.count,
            datatype: self.datatype.raw,
            bytes: self.bytes,
            kind: self.datatype.kind,
            place: self.place,
        })
    }
}

// SAFETY: as above.
unsafe impl BufferMut for TypedMut<'_> {
    #[inline]
    fn spec_mut(&mut self) -> Result<SpecMut> {
        Ok(SpecMut {
            ptr: self.ptr,
            count: self.count,
            datatype: self.datatype.raw,
            bytes: self.bytes,
            kind: self.datatype.kind,
            place: self.place,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "reads MPI's constants")]
    fn before_init_is_an_error_not_an_abort() {
        // No test in this binary initialises MPI.
        assert_eq!(Datatype::of::<f64>().unwrap_err(), Error::NotInitialized);
        assert_eq!(Datatype::from_dtype(DType::I32).unwrap_err(), Error::NotInitialized);
        // dtype_of_handle compares handles only, so it works before init too.
        assert_eq!(dtype_of_handle(ffi::DOUBLE()), Some(DType::F64));
        assert_eq!(dtype_of_handle(ffi::C_DOUBLE_COMPLEX()), Some(DType::C64));
        assert_eq!(dtype_of_handle(ffi::DATATYPE_NULL()), None);
        assert_eq!(dtype_of_handle(ffi::DOUBLE_INT()), None);
    }

    #[test]
    fn typestr_round_trip() {
        for d in DType::ALL {
            assert_eq!(parse_typestr(typestr(d)).unwrap(), d);
        }
        assert_eq!(parse_typestr("<f8").unwrap(), DType::F64);
        assert_eq!(parse_typestr("|b1").unwrap(), DType::Bool);
        assert_eq!(parse_typestr("?").unwrap(), DType::Bool);
        assert_eq!(parse_typestr("=c16").unwrap(), DType::C64);
        for bad in ["", "f3", "x8", "i16", "<", "f8 ", "F8", ">f8"] {
            assert!(matches!(parse_typestr(bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
    }

    fn layout(size: usize, lb: isize, extent: isize, true_lb: isize, true_extent: isize) -> Layout {
        Layout { size, lb, extent, true_lb, true_extent }
    }

    #[test]
    fn touched_range() {
        let l = layout(8, 0, 16, 0, 8); // an f64 resized to 16 bytes
        assert_eq!(touched(&l, 0), None);
        assert_eq!(touched(&l, 1), Some((0, 8)));
        assert_eq!(touched(&l, 3), Some((0, 40)));
        let neg = layout(8, -16, 16, -16, 8); // extent going down from a negative lb
        assert_eq!(touched(&neg, 2), Some((-16, 8)));
        let backwards = layout(8, 0, -8, 0, 8);
        assert_eq!(touched(&backwards, 3), Some((-16, 8)));
        assert_eq!(touched(&layout(0, 0, 0, 0, 0), 5), None);
    }
}
