//! MPI datatypes (mpi4py's `Datatype` and `util.dtlib`): the mapping between element types and
//! MPI datatypes in both directions, NumPy-style type strings, derived datatypes that describe
//! non-contiguous layouts, and [`Typed`](crate::Typed) / [`TypedMut`](crate::TypedMut), which lend a host buffer to any
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

use crate::buffer::{BufferElement, ElementKind};
use crate::error::require_active;
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Aint, MPI_Datatype};
pub use crate::predefined::{dtype_of_handle, mpi_datatype, parse_typestr, typestr};
pub(crate) use crate::predefined::{free_half_types, init_half_types};
use crate::runtime::enter_if_active;
use crate::util::{string_from_c, to_count};
use mpi4rs_device::DType;
use std::ffi::{c_char, c_int};

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
pub(crate) struct Layout {
    pub(crate) size: usize,
    pub(crate) lb: isize,
    pub(crate) extent: isize,
    pub(crate) true_lb: isize,
    pub(crate) true_extent: isize,
}

/// An MPI datatype (mpi4py's `Datatype`): a predefined one, or a derived layout made by one of
/// the constructors, already committed and freed on drop.
///
/// Size and bounds are read when the datatype is made, so the queries and the views built on it
/// ([`Typed`](crate::Typed), [`TypedMut`](crate::TypedMut)) make no MPI call.
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
    pub(crate) raw: MPI_Datatype,
    /// Whether this value frees the handle: false for predefined types and the library's own
    /// `f16`/`bf16` types.
    owned: bool,
    pub(crate) layout: Layout,
    /// What a buffer of this single datatype holds, for checking operations.
    pub(crate) kind: ElementKind,
    /// The one basic element type the whole type map consists of, where known (`None` for
    /// mixed maps): receives into `bool` buffers need it to be `bool`.
    pub(crate) base: Option<DType>,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

impl Drop for Datatype {
    fn drop(&mut self) {
        // After finalize no MPI call is allowed; the handle dies with the library.
        if !self.owned {
            return;
        }
        if let Some(_call) = enter_if_active() {
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
pub(crate) fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// The byte offsets an item of a layout may reach, lowest and highest, from both its bounds
/// and its true bounds, exactly (`i128`).
fn hull(l: &Layout) -> (i128, i128) {
    let (lb, true_lb) = (l.lb as i128, l.true_lb as i128);
    (lb.min(true_lb), (lb + l.extent as i128).max(true_lb + l.true_extent as i128))
}

/// The lowest and highest of the offsets `k * step`, `k` in `0..n` (`(0, 0)` when `n` is 0).
fn steps(n: i128, step: i128) -> (i128, i128) {
    let last = (n - 1).max(0) * step;
    (last.min(0), last.max(0))
}

/// Refuses a new layout whose items may reach bytes `lo..hi` beyond what MPI's address-sized
/// integers hold with room to spare: MPI computes bounds in 64 bits, which wrap, and a wrapped
/// extent would let a view pass its bounds checks while MPI reads or writes far outside it.
/// Every constructor checks its hull here, exactly (`i128`), before MPI is called.
fn check_reach(what: &str, lo: i128, hi: i128) -> Result<()> {
    const LIMIT: i128 = (isize::MAX / 4) as i128;
    if lo < -LIMIT || hi > LIMIT {
        return Err(invalid(format!(
            "{what}: the layout's items reach bytes {lo} to {hi}, beyond +-{LIMIT} (MPI's 64-bit bounds would wrap)"
        )));
    }
    Ok(())
}

/// [`check_reach`] of blocks `len[k]` items of `old` at byte offsets `at[k]`.
fn check_blocks(what: &str, old: &Layout, blocks: impl Iterator<Item = (i128, i128)>) -> Result<()> {
    let (h_lo, h_hi) = hull(old);
    let e = old.extent as i128;
    let (mut lo, mut hi) = (0i128, 0i128);
    for (at, len) in blocks {
        let (s_lo, s_hi) = steps(len, e);
        lo = lo.min(at + s_lo);
        hi = hi.max(at + s_hi);
    }
    check_reach(what, h_lo + lo, h_hi + hi)
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
pub(crate) fn from_count(v: ffi::MPI_Count) -> i64 {
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
pub(crate) fn query_layout(raw: MPI_Datatype) -> Result<Layout> {
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

/// [`check_reach`] of a whole array of `sizes` items of `old` (the extent of a subarray or
/// darray type, which covers the whole array).
fn check_whole_array(what: &str, sizes: &[usize], old: &Layout) -> Result<()> {
    let items = sizes.iter().try_fold(1i128, |acc, &n| acc.checked_mul(n as i128));
    let Some(items) = items else {
        return Err(invalid(format!("{what}: the array's item count overflows")));
    };
    check_blocks(what, old, std::iter::once((0, items)))
}

/// Follows `MPI_Type_dup` chains down to a predefined type.
fn decode_dtype(raw: MPI_Datatype, depth: u32) -> Option<DType> {
    if let Some(d) = dtype_of_handle(raw) {
        return Some(d);
    }
    if depth >= 8 {
        return None;
    }
    // Held across the raw `MPI_Type_free` below too (datatypes are made on any thread).
    let _call = enter_if_active()?;
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
        check_blocks("contiguous", &old.layout, std::iter::once((0, count.into())))?;
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
        let e = old.layout.extent as i128;
        let (s_lo, s_hi) = steps(count.into(), i128::from(stride) * e);
        check_blocks(
            "vector",
            &old.layout,
            [(s_lo, blocklength.into()), (s_hi, blocklength.into())].into_iter(),
        )?;
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
        let (s_lo, s_hi) = steps(count.into(), stride_bytes as i128);
        check_blocks(
            "hvector",
            &old.layout,
            [(s_lo, blocklength.into()), (s_hi, blocklength.into())].into_iter(),
        )?;
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
        let e = old.layout.extent as i128;
        let blocks = displacements.iter().zip(&lens).map(|(&d, &l)| (i128::from(d) * e, i128::from(l)));
        check_blocks("indexed", &old.layout, blocks)?;
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
        let blocks = byte_displacements.iter().zip(&lens).map(|(&d, &l)| (d as i128, i128::from(l)));
        check_blocks("hindexed", &old.layout, blocks)?;
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
        let e = old.layout.extent as i128;
        let blocks = displacements.iter().map(|&d| (i128::from(d) * e, i128::from(blocklength)));
        check_blocks("indexed_block", &old.layout, blocks)?;
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
        let blocks = byte_displacements.iter().map(|&d| (d as i128, i128::from(blocklength)));
        check_blocks("hindexed_block", &old.layout, blocks)?;
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
        for ((&d, &l), t) in byte_displacements.iter().zip(&lens).zip(types) {
            check_blocks("create_struct", &t.layout, std::iter::once((d as i128, i128::from(l))))?;
        }
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
        check_whole_array("subarray", sizes, &old.layout)?;
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
        check_whole_array("darray", gsizes, &old.layout)?;
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
        let (t_lo, t_hi) =
            (old.layout.true_lb as i128, old.layout.true_lb as i128 + old.layout.true_extent as i128);
        check_reach("resized", t_lo.min(lb as i128), t_hi.max(lb as i128 + extent as i128))?;
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
    }
}
