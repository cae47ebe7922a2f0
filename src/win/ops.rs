//! The one-sided operations of an [`Epoch`]: put, get, accumulate, get_accumulate,
//! fetch_and_op, compare_and_swap and the request forms, each checked before MPI is called
//! (target rank inside the epoch, target range inside the target's window, matching sizes,
//! operation against element type) and routed through the [transfer router](crate::transfer)
//! for device origin buffers.

use super::epoch::Epoch;
use super::Core;
use crate::buffer::{Buffer, BufferElement, BufferMut, ElementKind, Spec};
use crate::datatype::Datatype;
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Aint, MPI_Datatype, MPI_Op};
use crate::op::{Builtin, Op};
use crate::request::Request;
use crate::scope::Scope;
use crate::transfer::stage::{Fill, Transfer};
use crate::typed::size_and_span;
use mpi4rs_device::DType;
use std::ffi::c_int;

/// Where an operation lands in the target's window: mpi4py's `target` argument.
///
/// - `offset`: in units of the target's displacement unit (a dynamic window: the address
///   [`Attached::address`](super::Attached::address) gave);
/// - `count` and `datatype`: the layout at the target; by default the origin's own (so `0usize`
///   or `Target::at(k)` means "the origin's elements, `k` units in").
///
/// ```no_run
/// # use mpi4rs::{win::Target, Datatype};
/// # let _env = mpi4rs::init()?;
/// let f32s = Datatype::of::<f32>()?;
/// let whole = Target::default();               // offset 0, the origin's layout
/// let at_3 = Target::at(3);                    // the same, 3 units in (or just `3usize`)
/// let two_floats_at_1 = Target::new(1, 2, &f32s); // mpi4py's target=(1, 2, MPI.FLOAT)
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Target<'d> {
    /// Displacement in the target's units.
    pub offset: usize,
    /// Number of target items (default: as many as the origin's data fills).
    pub count: Option<usize>,
    /// Target datatype (default: the origin's).
    pub datatype: Option<&'d Datatype>,
}

impl<'d> Target<'d> {
    /// The origin's layout at `offset` units into the target's window.
    pub fn at(offset: usize) -> Target<'d> {
        Target { offset, count: None, datatype: None }
    }

    /// `count` items of `datatype` at `offset` units: mpi4py's `(offset, count, datatype)`.
    pub fn new(offset: usize, count: usize, datatype: &'d Datatype) -> Target<'d> {
        Target { offset, count: Some(count), datatype: Some(datatype) }
    }
}

impl From<usize> for Target<'_> {
    fn from(offset: usize) -> Self {
        Target::at(offset)
    }
}

impl<'d> From<(usize, usize, &'d Datatype)> for Target<'d> {
    fn from((offset, count, datatype): (usize, usize, &'d Datatype)) -> Self {
        Target::new(offset, count, datatype)
    }
}

/// A target as MPI takes it.
struct Resolved {
    disp: MPI_Aint,
    count: c_int,
    datatype: MPI_Datatype,
}

/// Checks `target` at `rank` for an origin described by `origin`, and gives it as MPI takes it.
fn resolve(core: &Core, call: &str, rank: i32, target: &Target<'_>, origin: &Spec) -> Result<Resolved> {
    let origin_bytes = origin.data_bytes()?;
    let (count, datatype, size, span) = match target.datatype {
        None => {
            let count = target.count.unwrap_or(origin.count);
            match origin.kind {
                ElementKind::Basic(d) => {
                    let size = d.size();
                    (count, origin.datatype, size, (count > 0).then(|| (0, (count * size) as i128)))
                }
                _ => {
                    let (size, span) = size_and_span(origin.datatype, count)?;
                    (count, origin.datatype, size, span)
                }
            }
        }
        Some(dt) => {
            let size = dt.size();
            let count = match target.count {
                Some(c) => c,
                None if size > 0 && origin_bytes % size == 0 => origin_bytes / size,
                None if size == 0 => 0,
                None => {
                    return Err(Error::BufferLength {
                        what: "RMA target",
                        detail: format!(
                            "the origin's {origin_bytes} bytes are not a whole number of target items of {size} bytes"
                        ),
                    })
                }
            };
            let (_, span) = size_and_span(dt.as_raw(), count)?;
            (count, dt.as_raw(), size, span)
        }
    };
    if count.saturating_mul(size) != origin_bytes {
        return Err(Error::BufferLength {
            what: "RMA target",
            detail: format!(
                "{call}: the origin holds {origin_bytes} bytes of data but the target layout {count} items of {size} bytes"
            ),
        });
    }
    if let (Some(ext), Some((lo, hi))) = (core.extents.get(rank.max(0) as usize), span) {
        let start = target.offset as i128 * ext.disp_unit as i128;
        if start + lo < 0 || start + hi > ext.bytes as i128 {
            return Err(Error::RmaRange(format!(
                "{call} at rank {rank}: offset {} (displacement unit {}) touches bytes {}..{} of a {}-byte window",
                target.offset,
                ext.disp_unit,
                start + lo,
                start + hi,
                ext.bytes
            )));
        }
    }
    if core.flavor == super::Flavor::Dynamic && rank == core.rank {
        check_attached(core, call, rank, target.offset, span)?;
    }
    let disp = MPI_Aint::try_from(target.offset).map_err(|_| Error::CountOverflow {
        what: "target offset",
        value: target.offset,
        max: MPI_Aint::MAX as usize,
    })?;
    let count = crate::util::to_count("target count", count)?;
    Ok(Resolved { disp, count, datatype })
}

/// Checks a target at this process in a dynamic window: the touched bytes lie inside one region
/// it attached. (Other processes' targets are the caller's promise: `Win::create_dynamic`.)
fn check_attached(
    core: &Core,
    call: &str,
    rank: i32,
    address: usize,
    span: Option<(i128, i128)>,
) -> Result<()> {
    let Some((lo, hi)) = span else { return Ok(()) };
    let (lo, hi) = (address as i128 + lo, address as i128 + hi);
    let inside = core.attached.borrow().iter().any(|&(a, n)| lo >= a as i128 && hi <= a as i128 + n as i128);
    if inside {
        return Ok(());
    }
    Err(Error::RmaRange(format!(
        "{call} at rank {rank} (this process): addresses {lo:#x}..{hi:#x} are not inside a region attached to this dynamic window"
    )))
}

/// Refuses buffers that one-sided reads write into but that cannot take any bytes: window
/// memory is untyped, so a `bool` could receive a byte other than 0 or 1.
fn check_readable_into(kind: ElementKind) -> Result<()> {
    if kind == ElementKind::Basic(DType::Bool) {
        return Err(Error::UnsupportedBuffer(
            "a one-sided read cannot fill a bool buffer: window memory is untyped and may hold bytes that are \
             not 0 or 1; read into u8"
                .into(),
        ));
    }
    Ok(())
}

/// The MPI operation for a one-sided accumulate of `kind` elements: predefined operations that
/// apply to them, and `REPLACE`/`NO_OP` for any.
fn accumulate_op(op: &Op, kind: ElementKind, datatype: MPI_Datatype) -> Result<MPI_Op> {
    match (op.builtin(), kind) {
        (None, _) => Err(Error::InvalidOp(
            "one-sided accumulate takes predefined operations only (MPI allows no user-defined operation there)"
                .into(),
        )),
        (Some(Builtin::Replace | Builtin::NoOp), _) => Ok(op.as_raw()),
        (Some(b), ElementKind::Basic(DType::F16 | DType::BF16)) => Err(Error::InvalidOp(format!(
            "{} cannot accumulate f16/bf16 one-sidedly: MPI has no such types, and the library's own \
             operations on them are user-defined, which one-sided accumulate does not allow (REPLACE and \
             NO_OP work)",
            b.name()
        ))),
        // Derived layouts: MPI checks that their elements fit the operation.
        (Some(_), ElementKind::Derived) => Ok(op.as_raw()),
        (Some(_), _) => op.for_reduction(kind, datatype),
    }
}

/// Checks a single-element buffer of an atomic operation.
fn one_element(call: &str, what: &'static str, s: &Spec) -> Result<()> {
    if s.count != 1 || matches!(s.kind, ElementKind::Derived) {
        return Err(Error::BufferLength {
            what,
            detail: format!("{call} takes exactly one element of a basic type, got {} items", s.count),
        });
    }
    Ok(())
}

fn same_kind(call: &str, a: ElementKind, b: ElementKind) -> Result<()> {
    if a == b {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{call}: the buffers hold different element types ({a:?} and {b:?})"
        )))
    }
}

/// An operation checked and routed, ready for MPI: the origin (and result) as MPI takes them,
/// the target, and the transfer that keeps device buffers until completion.
struct Prepared {
    origin: Spec,
    result: Option<crate::buffer::SpecMut>,
    target: Resolved,
    op: MPI_Op,
    transfer: Transfer,
}

impl Prepared {
    fn origin_count(&self) -> Result<c_int> {
        self.origin.c_count()
    }
}

impl<'s> Epoch<'s> {
    /// Checks and routes a put (`op`: `None`) or an accumulate; `None` for `PROC_NULL`.
    fn prepare_write<B: Buffer + ?Sized>(
        &self,
        call: &'static str,
        origin: &B,
        rank: i32,
        target: &Target<'_>,
        op: Option<&Op>,
    ) -> Result<Option<Prepared>> {
        self.check_target(call, rank)?;
        if rank == ffi::PROC_NULL() {
            return Ok(None);
        }
        let s = origin.spec()?;
        let op = match op {
            Some(op) => accumulate_op(op, s.kind, s.datatype)?,
            None => ffi::OP_NULL(),
        };
        let target = resolve(self.core, call, rank, target, &s)?;
        let mut transfer = Transfer::new(call);
        let origin = transfer.read_spec(s)?;
        Ok(Some(Prepared { origin, result: None, target, op, transfer }))
    }

    /// Checks and routes a get (`origin` is the result; `op`: `None`) or a get_accumulate.
    fn prepare_read<B: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        call: &'static str,
        origin: Option<&B>,
        result: &mut R,
        rank: i32,
        target: &Target<'_>,
        op: Option<&Op>,
    ) -> Result<Option<Prepared>> {
        self.check_target(call, rank)?;
        if rank == ffi::PROC_NULL() {
            return Ok(None);
        }
        let res = result.spec_mut()?;
        check_readable_into(res.kind)?;
        let mpi_op = match op {
            Some(op) => accumulate_op(op, res.kind, res.datatype)?,
            None => ffi::OP_NULL(),
        };
        let resolved = resolve(self.core, call, rank, target, &res.as_spec())?;
        let s = match origin {
            Some(o) => o.spec()?,
            None => res.as_spec(),
        };
        if origin.is_some() && op.and_then(Op::builtin) != Some(Builtin::NoOp) {
            resolve(self.core, call, rank, target, &s)?;
        }
        let mut transfer = Transfer::new(call);
        let s = if origin.is_some() { transfer.read_spec(s)? } else { s };
        let res = transfer.write_spec(res, write_fill(res.kind))?;
        let s = if origin.is_some() { s } else { res.as_spec() };
        Ok(Some(Prepared { origin: s, result: Some(res), target: resolved, op: mpi_op, transfer }))
    }

    /// Writes `origin` into process `rank`'s window at `target` (`MPI_Put`). The buffer stays
    /// borrowed until the scope ends (MPI reads it until the epoch ends or a flush).
    pub fn put<'d, B: Buffer + ?Sized>(
        &self,
        origin: &'s B,
        rank: i32,
        target: impl Into<Target<'d>>,
    ) -> Result<()> {
        self.put_raw(origin, rank, &target.into())
    }

    fn put_raw<B: Buffer + ?Sized>(&self, origin: &B, rank: i32, target: &Target<'_>) -> Result<()> {
        let Some(p) = self.prepare_write("put", origin, rank, target, None)? else { return Ok(()) };
        let (s, r) = (&p.origin, &p.target);
        mpi_call!(MPI_Put(
            s.ptr,
            p.origin_count()?,
            s.datatype,
            rank,
            r.disp,
            r.count,
            r.datatype,
            self.core.raw
        ))?;
        self.keep(rank, p.transfer);
        Ok(())
    }

    /// Reads process `rank`'s window at `target` into `origin` (`MPI_Get`). The buffer holds
    /// the data once the epoch ends (or a flush); it stays borrowed until the scope ends.
    pub fn get<'d, B: BufferMut + ?Sized>(
        &self,
        origin: &'s mut B,
        rank: i32,
        target: impl Into<Target<'d>>,
    ) -> Result<()> {
        let Some(p) = self.prepare_read::<[u8], B>("get", None, origin, rank, &target.into(), None)? else {
            return Ok(());
        };
        let (s, r) = (&p.origin, &p.target);
        mpi_call!(MPI_Get(
            s.ptr.cast_mut(),
            p.origin_count()?,
            s.datatype,
            rank,
            r.disp,
            r.count,
            r.datatype,
            self.core.raw
        ))?;
        self.keep(rank, p.transfer);
        Ok(())
    }

    /// Combines `origin` into process `rank`'s window at `target` with `op`
    /// (`MPI_Accumulate`), element-wise and atomically per element.
    pub fn accumulate<'d, B: Buffer + ?Sized>(
        &self,
        origin: &'s B,
        rank: i32,
        target: impl Into<Target<'d>>,
        op: &Op,
    ) -> Result<()> {
        self.accumulate_raw(origin, rank, &target.into(), op)
    }

    fn accumulate_raw<B: Buffer + ?Sized>(
        &self,
        origin: &B,
        rank: i32,
        target: &Target<'_>,
        op: &Op,
    ) -> Result<()> {
        let Some(p) = self.prepare_write("accumulate", origin, rank, target, Some(op))? else {
            return Ok(());
        };
        let (s, r) = (&p.origin, &p.target);
        mpi_call!(MPI_Accumulate(
            s.ptr,
            p.origin_count()?,
            s.datatype,
            rank,
            r.disp,
            r.count,
            r.datatype,
            p.op,
            self.core.raw
        ))?;
        self.keep(rank, p.transfer);
        Ok(())
    }

    /// Fetches process `rank`'s window at `target` into `result`, then combines `origin` into
    /// it with `op`, atomically per element (`MPI_Get_accumulate`; `NO_OP` only fetches).
    pub fn get_accumulate<'d, B: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        origin: &'s B,
        result: &'s mut R,
        rank: i32,
        target: impl Into<Target<'d>>,
        op: &Op,
    ) -> Result<()> {
        let call = "get_accumulate";
        let Some(p) = self.prepare_read(call, Some(origin), result, rank, &target.into(), Some(op))? else {
            return Ok(());
        };
        let (s, res, r) = (&p.origin, p.result.as_ref().expect("a result"), &p.target);
        mpi_call!(MPI_Get_accumulate(
            s.ptr,
            p.origin_count()?,
            s.datatype,
            res.ptr,
            res.c_count()?,
            res.datatype,
            rank,
            r.disp,
            r.count,
            r.datatype,
            p.op,
            self.core.raw
        ))?;
        self.keep(rank, p.transfer);
        Ok(())
    }

    /// Fetches one element of process `rank`'s window at `offset` into `result` and combines
    /// `origin` into it with `op`, atomically (`MPI_Fetch_and_op`).
    pub fn fetch_and_op<B: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        origin: &'s B,
        result: &'s mut R,
        rank: i32,
        offset: usize,
        op: &Op,
    ) -> Result<()> {
        self.fetch_and_op_raw(origin, result, rank, offset, op)
    }

    fn fetch_and_op_raw<B: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        origin: &B,
        result: &mut R,
        rank: i32,
        offset: usize,
        op: &Op,
    ) -> Result<()> {
        self.check_target("fetch_and_op", rank)?;
        if rank == ffi::PROC_NULL() {
            return Ok(());
        }
        let (s, res) = (origin.spec()?, result.spec_mut()?);
        one_element("fetch_and_op", "origin buffer", &s)?;
        one_element("fetch_and_op", "result buffer", &res.as_spec())?;
        same_kind("fetch_and_op", s.kind, res.kind)?;
        check_readable_into(res.kind)?;
        let mpi_op = accumulate_op(op, res.kind, res.datatype)?;
        let r = resolve(self.core, "fetch_and_op", rank, &Target::at(offset), &s)?;
        let mut t = Transfer::new("fetch_and_op");
        let s = t.read_spec(s)?;
        let res = t.write_spec(res, Fill::Overwrite)?;
        mpi_call!(MPI_Fetch_and_op(s.ptr, res.ptr, res.datatype, rank, r.disp, mpi_op, self.core.raw))?;
        self.keep(rank, t);
        Ok(())
    }

    /// Compares one element of process `rank`'s window at `offset` with `compare` and, if
    /// equal, replaces it with `origin`; the old value lands in `result`, atomically
    /// (`MPI_Compare_and_swap`). Integer elements only.
    pub fn compare_and_swap<B: Buffer + ?Sized, C: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        origin: &'s B,
        compare: &'s C,
        result: &'s mut R,
        rank: i32,
        offset: usize,
    ) -> Result<()> {
        self.compare_and_swap_raw(origin, compare, result, rank, offset)
    }

    fn compare_and_swap_raw<B: Buffer + ?Sized, C: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        origin: &B,
        compare: &C,
        result: &mut R,
        rank: i32,
        offset: usize,
    ) -> Result<()> {
        self.check_target("compare_and_swap", rank)?;
        if rank == ffi::PROC_NULL() {
            return Ok(());
        }
        let (s, c, res) = (origin.spec()?, compare.spec()?, result.spec_mut()?);
        one_element("compare_and_swap", "origin buffer", &s)?;
        one_element("compare_and_swap", "compare buffer", &c)?;
        one_element("compare_and_swap", "result buffer", &res.as_spec())?;
        same_kind("compare_and_swap", s.kind, res.kind)?;
        same_kind("compare_and_swap", c.kind, res.kind)?;
        use DType::*;
        if !matches!(res.kind, ElementKind::Basic(I8 | I16 | I32 | I64 | U8 | U16 | U32 | U64)) {
            return Err(Error::InvalidOp(format!(
                "compare_and_swap compares integers only (MPI's rule), not {:?} elements",
                res.kind
            )));
        }
        let r = resolve(self.core, "compare_and_swap", rank, &Target::at(offset), &s)?;
        let mut t = Transfer::new("compare_and_swap");
        let s = t.read_spec(s)?;
        let c = t.read_spec(c)?;
        let res = t.write_spec(res, Fill::Overwrite)?;
        mpi_call!(MPI_Compare_and_swap(s.ptr, c.ptr, res.ptr, res.datatype, rank, r.disp, self.core.raw))?;
        self.keep(rank, t);
        Ok(())
    }

    /// Request-based [`put`](Self::put) (`MPI_Rput`; passive-target epochs only) in `scope`,
    /// which lies inside the epoch's (it borrows the epoch): the buffer is borrowed only for
    /// that inner scope, and the request completes before the epoch can end.
    ///
    /// ```no_run
    /// # use mpi4rs::prelude::*;
    /// # use mpi4rs::win::{Assert, LockType, Win};
    /// # let env = mpi4rs::init()?;
    /// # let world = env.world();
    /// let win = Win::allocate(8, 8, &[], world)?;
    /// mpi4rs::scope(|s| {
    ///     let epoch = win.lock(s, 0, LockType::Exclusive, Assert::NONE)?;
    ///     let mut v = [0u64];
    ///     mpi4rs::scope(|t| epoch.rget(t, &mut v, 0, 0)?.wait())?;
    ///     v[0] += 1; // the inner scope has ended: `v` is ours again
    ///     epoch.put_now(&v, 0, 0)
    /// })?;
    /// # Ok::<(), mpi4rs::Error>(())
    /// ```
    pub fn rput<'t, 'd, B: Buffer + ?Sized>(
        &'t self,
        scope: &'t Scope<'t, '_>,
        origin: &'t B,
        rank: i32,
        target: impl Into<Target<'d>>,
    ) -> Result<Request<'t>> {
        self.require_passive("rput")?;
        let Some(p) = self.prepare_write("rput", origin, rank, &target.into(), None)? else {
            return Ok(Request::scoped(scope.core(), ffi::REQUEST_NULL()));
        };
        let (s, r) = (&p.origin, &p.target);
        let mut req = ffi::REQUEST_NULL();
        mpi_call!(MPI_Rput(
            s.ptr,
            p.origin_count()?,
            s.datatype,
            rank,
            r.disp,
            r.count,
            r.datatype,
            self.core.raw,
            &mut req
        ))?;
        Ok(p.transfer.request(scope, req))
    }

    /// Request-based [`get`](Self::get) (`MPI_Rget`; passive-target epochs only): the data are
    /// in `origin` once the request completes.
    pub fn rget<'t, 'd, B: BufferMut + ?Sized>(
        &'t self,
        scope: &'t Scope<'t, '_>,
        origin: &'t mut B,
        rank: i32,
        target: impl Into<Target<'d>>,
    ) -> Result<Request<'t>> {
        self.require_passive("rget")?;
        let Some(p) = self.prepare_read::<[u8], B>("rget", None, origin, rank, &target.into(), None)? else {
            return Ok(Request::scoped(scope.core(), ffi::REQUEST_NULL()));
        };
        let (s, r) = (&p.origin, &p.target);
        let mut req = ffi::REQUEST_NULL();
        mpi_call!(MPI_Rget(
            s.ptr.cast_mut(),
            p.origin_count()?,
            s.datatype,
            rank,
            r.disp,
            r.count,
            r.datatype,
            self.core.raw,
            &mut req
        ))?;
        Ok(p.transfer.request(scope, req))
    }

    /// Request-based [`accumulate`](Self::accumulate) (`MPI_Raccumulate`; passive-target
    /// epochs only).
    pub fn raccumulate<'t, 'd, B: Buffer + ?Sized>(
        &'t self,
        scope: &'t Scope<'t, '_>,
        origin: &'t B,
        rank: i32,
        target: impl Into<Target<'d>>,
        op: &Op,
    ) -> Result<Request<'t>> {
        self.require_passive("raccumulate")?;
        let Some(p) = self.prepare_write("raccumulate", origin, rank, &target.into(), Some(op))? else {
            return Ok(Request::scoped(scope.core(), ffi::REQUEST_NULL()));
        };
        let (s, r) = (&p.origin, &p.target);
        let mut req = ffi::REQUEST_NULL();
        mpi_call!(MPI_Raccumulate(
            s.ptr,
            p.origin_count()?,
            s.datatype,
            rank,
            r.disp,
            r.count,
            r.datatype,
            p.op,
            self.core.raw,
            &mut req
        ))?;
        Ok(p.transfer.request(scope, req))
    }

    /// Request-based [`get_accumulate`](Self::get_accumulate) (`MPI_Rget_accumulate`;
    /// passive-target epochs only): the fetched data are in `result` once the request
    /// completes.
    pub fn rget_accumulate<'t, 'd, B: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &'t self,
        scope: &'t Scope<'t, '_>,
        origin: &'t B,
        result: &'t mut R,
        rank: i32,
        target: impl Into<Target<'d>>,
        op: &Op,
    ) -> Result<Request<'t>> {
        let call = "rget_accumulate";
        self.require_passive(call)?;
        let Some(p) = self.prepare_read(call, Some(origin), result, rank, &target.into(), Some(op))? else {
            return Ok(Request::scoped(scope.core(), ffi::REQUEST_NULL()));
        };
        let (s, res, r) = (&p.origin, p.result.as_ref().expect("a result"), &p.target);
        let mut req = ffi::REQUEST_NULL();
        mpi_call!(MPI_Rget_accumulate(
            s.ptr,
            p.origin_count()?,
            s.datatype,
            res.ptr,
            res.c_count()?,
            res.datatype,
            rank,
            r.disp,
            r.count,
            r.datatype,
            p.op,
            self.core.raw,
            &mut req
        ))?;
        Ok(p.transfer.request(scope, req))
    }

    /// [`fetch_and_op`](Self::fetch_and_op) of one value, completed before returning
    /// (`MPI_Fetch_and_op` + `MPI_Win_flush_local`): the value at the target before `op`
    /// combined `value` into it. Passive-target epochs only.
    pub fn fetch_and_op_value<T: BufferElement>(
        &self,
        value: T,
        rank: i32,
        offset: usize,
        op: &Op,
    ) -> Result<T> {
        self.require_passive("fetch_and_op_value")?;
        let mut old = value;
        // The borrows of `value` and `old` end with this call: flush_local completes the
        // operation at the origin first.
        self.fetch_and_op_raw(&value, &mut old, rank, offset, op)?;
        self.flush_local(rank)?;
        Ok(old)
    }

    /// [`compare_and_swap`](Self::compare_and_swap) of one value, completed before returning:
    /// the value at the target before the operation. Passive-target epochs only.
    pub fn compare_and_swap_value<T: BufferElement>(
        &self,
        value: T,
        compare: T,
        rank: i32,
        offset: usize,
    ) -> Result<T> {
        self.require_passive("compare_and_swap_value")?;
        let mut old = value;
        self.compare_and_swap_raw(&value, &compare, &mut old, rank, offset)?;
        self.flush_local(rank)?;
        Ok(old)
    }

    /// [`accumulate`](Self::accumulate) of one value, completed at the origin before returning
    /// (`MPI_Win_flush_local`). Passive-target epochs only.
    pub fn accumulate_value<T: BufferElement>(
        &self,
        value: T,
        rank: i32,
        offset: usize,
        op: &Op,
    ) -> Result<()> {
        self.require_passive("accumulate_value")?;
        self.accumulate_raw(&value, rank, &Target::at(offset), op)?;
        self.flush_local(rank)
    }

    /// [`put`](Self::put) from a buffer borrowed only for this call: completed at the origin
    /// before returning (`MPI_Win_flush_local`). Passive-target epochs only.
    pub fn put_now<'d, B: Buffer + ?Sized>(
        &self,
        origin: &B,
        rank: i32,
        target: impl Into<Target<'d>>,
    ) -> Result<()> {
        self.require_passive("put_now")?;
        self.put_raw(origin, rank, &target.into())?;
        self.flush_local(rank)
    }
}

/// How a device buffer that a one-sided read fills is staged: whole for basic elements, copied
/// in first for derived layouts (whose holes MPI leaves alone).
fn write_fill(kind: ElementKind) -> Fill {
    if kind == ElementKind::Derived {
        Fill::Update
    } else {
        Fill::Overwrite
    }
}
