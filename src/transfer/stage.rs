//! The per-operation router: [`Transfer`] takes an operation's buffers, decides each one's
//! [`Path`], stages device buffers through pinned memory where needed, and copies results back
//! when the operation completes (at once for a blocking call, at completion of the request
//! otherwise: see [`pending`](crate::pending)).

use super::bools::Shadow;
use super::packed::Packed;
use super::{emulated, path_for, pipeline_chunk, record_path, Path};
use crate::buffer::{Buffer, BufferMut, ElementKind, Spec, SpecMut};
use crate::error::{Error, Result};
use crate::ffi::{MPI_Datatype, MPI_Request};
use crate::request::{PersistentRequest, Request};
use crate::scope::Scope;
use crate::status::Status;
use mpi4rs_device::cuda::{self, Event};
use mpi4rs_device::staging::{self, StagingBuffer};
use mpi4rs_device::{BufferView, DType, MemoryKind, Placement};
use std::ffi::c_void;
use std::ops::Range;

/// What a written buffer holds when MPI is done, which says what staging must copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// MPI writes every byte: nothing to copy in, everything to copy back.
    Overwrite,
    /// MPI reads the buffer too (in place) or may leave bytes untouched (holes of vector
    /// forms, non-roots): copy in first, copy everything back.
    Update,
    /// A receive: copy back only the bytes the message held (from the status). A buffer with a
    /// derived layout is copied in first and back over the blocks it touches instead: the
    /// message's bytes are scattered over it and its holes must keep the device's bytes.
    Received,
    /// MPI only reads it here (a broadcast's root): copy in, nothing back.
    Unchanged,
}

/// One staged or directly passed device buffer of an operation.
///
/// `device_ptr` and `bytes` are the whole range MPI may touch, which for a derived layout
/// (`Typed`, `TypedMut`, subarray memory types) can start below the view's origin: the
/// origin is `below` bytes into it, and MPI is given the staging address at that offset.
pub(crate) struct Stage {
    place: Placement,
    device_ptr: *mut c_void,
    bytes: usize,
    dtype: DType,
    /// A derived layout (holes, any order, possibly below the origin): staged in its shape,
    /// its blocks copied in before MPI writes into it and back after, never pipelined.
    layout: bool,
    /// The pinned copy; `None` on the direct path.
    staging: Option<StagingBuffer>,
    /// Whether the device bytes are copied into the staging buffer before MPI runs.
    copy_in: bool,
    /// How the staging buffer goes back to the device; `None` for a buffer MPI only reads.
    copy_out: Option<Fill>,
    /// Copies are made chunk by chunk by the pipeline rather than all at once.
    deferred: bool,
    /// Events of the pipeline's chunk copies into the staging buffer.
    chunk_events: Vec<Option<Event>>,
    /// A staged layout's blocks: only these bytes move (see [`pack`](super::pack)).
    blocks: Option<super::pack::Blocks>,
}

// SAFETY: the device address is a token for the driver; the stage is moved with its request.
unsafe impl Send for Stage {}

/// Routes the buffers of one operation. Host buffers pass through untouched and cost one
/// comparison; only device buffers reach the cold paths.
pub(crate) struct Transfer {
    op: &'static str,
    /// The reduction runs host code (user or library operation): device buffers are staged
    /// even with a CUDA-aware MPI.
    host_op: bool,
    /// A reduction: MPI applies an operation to the data.
    reduction: bool,
    /// A blocking reduction or broadcast: large staged buffers are pipelined.
    pipelinable: bool,
    /// A reduction with a predefined operation: derived layouts of one basic type are packed.
    builtin: bool,
    /// What the operation routed off the plain host path; `None` while every buffer passed
    /// through as it is, so that a host operation builds and drops one null pointer.
    routed: Option<Box<Routed>>,
}

/// The buffers of an operation that need work when it starts or completes.
#[derive(Default)]
struct Routed {
    stages: Vec<Stage>,
    /// Host `bool` buffers MPI writes, shadowed by bytes (see [`bools`](super::bools)).
    bools: Vec<Shadow>,
    /// Derived layouts packed into contiguous elements (see [`packed`](super::packed)).
    packed: Vec<Packed>,
}

impl Transfer {
    /// A transfer for operation `op` (its name, for the log).
    #[inline(always)]
    pub(crate) fn new(op: &'static str) -> Self {
        Transfer { op, host_op: false, reduction: false, pipelinable: false, builtin: false, routed: None }
    }

    /// A transfer for a reduction with `operation`; `blocking` reductions can be pipelined.
    #[inline(always)]
    pub(crate) fn reduction(op: &'static str, operation: &crate::op::Op, blocking: bool) -> Self {
        Transfer {
            op,
            host_op: operation.builtin().is_none(),
            reduction: true,
            pipelinable: blocking,
            builtin: operation.builtin().is_some(),
            routed: None,
        }
    }

    /// A transfer for a reduction computed by host code whatever the MPI (`MPI_Reduce_local`):
    /// device buffers are always staged. `builtin`: the operation is a predefined one.
    pub(crate) fn host_reduction(op: &'static str, builtin: bool) -> Self {
        Transfer { op, host_op: true, reduction: true, pipelinable: false, builtin, routed: None }
    }

    /// Lets large staged buffers be pipelined when `on` (blocking broadcasts).
    #[inline(always)]
    pub(crate) fn pipelined_if(mut self, on: bool) -> Self {
        self.pipelinable = on;
        self
    }

    /// Routes a buffer MPI reads.
    #[inline(always)]
    pub(crate) fn read<B: Buffer + ?Sized>(&mut self, b: &B) -> Result<Spec> {
        let s = b.spec()?;
        self.read_spec(s)
    }

    /// Routes an optional buffer MPI reads.
    #[inline(always)]
    pub(crate) fn read_opt<B: Buffer + ?Sized>(&mut self, b: Option<&B>) -> Result<Option<Spec>> {
        b.map(|b| self.read(b)).transpose()
    }

    /// Routes the spec of a buffer MPI reads.
    #[inline(always)]
    pub(crate) fn read_spec(&mut self, s: Spec) -> Result<Spec> {
        if self.builtin && s.kind == ElementKind::Derived && s.base.is_some() && holds_data(&s)? {
            return self.pack_read(s);
        }
        self.read_plain(s)
    }

    /// Routes the spec of a buffer MPI reads as it is.
    #[inline(always)]
    fn read_plain(&mut self, mut s: Spec) -> Result<Spec> {
        if s.place.memory == MemoryKind::Host {
            s.ptr = real_address(s.ptr, s.count, s.bytes, s.kind, s.datatype);
            return Ok(s);
        }
        self.route_read(s)
    }

    /// Routes a buffer MPI writes.
    #[inline(always)]
    pub(crate) fn write<B: BufferMut + ?Sized>(&mut self, b: &mut B, fill: Fill) -> Result<SpecMut> {
        let s = b.spec_mut()?;
        self.write_spec(s, fill)
    }

    /// Routes an optional buffer MPI writes.
    #[inline(always)]
    pub(crate) fn write_opt<B: BufferMut + ?Sized>(
        &mut self,
        b: Option<&mut B>,
        fill: Fill,
    ) -> Result<Option<SpecMut>> {
        b.map(|b| self.write(b, fill)).transpose()
    }

    /// Routes the spec of a buffer MPI writes.
    #[inline(always)]
    pub(crate) fn write_spec(&mut self, mut s: SpecMut, fill: Fill) -> Result<SpecMut> {
        if self.builtin && s.kind == ElementKind::Derived && s.base.is_some() && holds_data(&s.as_spec())? {
            return self.pack_write(s, fill);
        }
        if s.kind == ElementKind::Basic(DType::Bool)
            && s.count > 0
            && (s.place.memory.host_accessible() || emulated())
        {
            if !s.place.memory.is_host() && !emulated() {
                // Managed memory: the CPU reads and writes it once its producer is done.
                mpi4rs_device::wait_for_producer(&s.place)?;
            }
            // Host memory the program reads as bool (emulated device memory is host memory).
            return Ok(self.shadow_bools(s, fill));
        }
        if s.place.memory == MemoryKind::Host {
            s.ptr = real_address(s.ptr, s.count, s.bytes, s.kind, s.datatype).cast_mut();
            return Ok(s);
        }
        self.route_write(s, fill)
    }

    /// A derived layout of one basic type in a reduction with a predefined operation: routed
    /// as a layout (staged from device memory), then packed into contiguous elements, which
    /// MPI reduces.
    #[cold]
    #[inline(never)]
    fn pack_read(&mut self, s: Spec) -> Result<Spec> {
        let base = s.base.unwrap_or(DType::U8);
        let r = self.route_layout(s, None)?;
        let (mut p, n) = Packed::new(r.ptr.cast_mut(), r.count, r.datatype, base, true, false)?;
        let spec = packed_spec(p.ptr(), n, base);
        self.routed().packed.push(p);
        Ok(Spec { ptr: real_address(spec.ptr, n, spec.bytes, spec.kind, spec.datatype), ..spec })
    }

    /// [`pack_read`](Self::pack_read) for a buffer MPI writes: unpacked into the layout when
    /// the operation completes, before a staged copy goes back to the device.
    #[cold]
    #[inline(never)]
    fn pack_write(&mut self, s: SpecMut, fill: Fill) -> Result<SpecMut> {
        let base = s.base.unwrap_or(DType::U8);
        let r = self.route_layout(s.as_spec(), Some(fill))?;
        let copy_in = matches!(fill, Fill::Update | Fill::Unchanged);
        let copy_out = fill != Fill::Unchanged;
        let (mut p, n) = Packed::new(r.ptr.cast_mut(), r.count, r.datatype, base, copy_in, copy_out)?;
        let spec = packed_spec(p.ptr(), n, base);
        self.routed().packed.push(p);
        let ptr = real_address(spec.ptr, n, spec.bytes, spec.kind, spec.datatype).cast_mut();
        Ok(SpecMut {
            ptr,
            count: spec.count,
            datatype: spec.datatype,
            bytes: spec.bytes,
            kind: spec.kind,
            base: None,
            place: Placement::HOST,
        })
    }

    /// Routes a layout to be packed so that the CPU can address it: host memory as it is,
    /// device memory staged (managed memory synchronised); `fill` for a buffer MPI writes.
    fn route_layout(&mut self, s: Spec, fill: Option<Fill>) -> Result<Spec> {
        if s.place.memory == MemoryKind::Host {
            return Ok(Spec { ptr: real_address(s.ptr, s.count, s.bytes, s.kind, s.datatype), ..s });
        }
        let path = match path_for(s.place.memory) {
            Path::Direct if !matches!(s.place.memory, MemoryKind::CudaManaged { .. }) => Path::Staged,
            p => p,
        };
        record_path(self.op, path, s.place.memory, s.bytes);
        let copy_in = matches!(fill, None | Some(Fill::Update | Fill::Unchanged));
        let copy_out = fill.filter(|&f| f != Fill::Unchanged);
        let stage = self.stage(&s, path, copy_in, copy_out)?;
        Ok(match stage {
            Some(ptr) => Spec { ptr, place: Placement::HOST, ..s },
            None => s,
        })
    }

    /// MPI never writes into `bool` memory: it gets bytes, checked when the operation
    /// completes (see [`bools`](super::bools)).
    #[cold]
    #[inline(never)]
    fn shadow_bools(&mut self, s: SpecMut, fill: Fill) -> SpecMut {
        let (shadow, s) = Shadow::new(s, fill != Fill::Unchanged);
        self.routed().bools.push(shadow);
        s
    }

    /// The path of a buffer of `kind` in `memory`: staged rather than direct when MPI would
    /// run host code on device memory (a user operation, or the library's f16/bf16
    /// operations); managed memory stays direct (the CPU addresses it).
    fn path(&self, kind: ElementKind, memory: MemoryKind) -> Path {
        let path = path_for(memory);
        let half = matches!(kind, ElementKind::Basic(DType::F16 | DType::BF16));
        let managed = matches!(memory, MemoryKind::CudaManaged { .. });
        if path == Path::Direct && self.reduction && (self.host_op || half) && !managed {
            return Path::Staged;
        }
        path
    }

    #[cold]
    #[inline(never)]
    fn route_read(&mut self, s: Spec) -> Result<Spec> {
        let path = self.path(s.kind, s.place.memory);
        record_path(self.op, path, s.place.memory, s.bytes);
        let stage = self.stage(&s, path, true, None)?;
        Ok(match stage {
            Some(ptr) => Spec { ptr, place: Placement::HOST, ..s },
            None => s,
        })
    }

    #[cold]
    #[inline(never)]
    fn route_write(&mut self, s: SpecMut, fill: Fill) -> Result<SpecMut> {
        let path = self.path(s.kind, s.place.memory);
        record_path(self.op, path, s.place.memory, s.bytes);
        let copy_in = matches!(fill, Fill::Update | Fill::Unchanged);
        let copy_out = (fill != Fill::Unchanged).then_some(fill);
        let stage = self.stage(&s.as_spec(), path, copy_in, copy_out)?;
        Ok(match stage {
            Some(ptr) => SpecMut { ptr, place: Placement::HOST, ..s },
            None => s,
        })
    }

    /// Sets up one stage for buffer `s`; returns the address MPI is given (the view's origin
    /// in the staging buffer) when the buffer is staged.
    fn stage(
        &mut self,
        s: &Spec,
        path: Path,
        mut copy_in: bool,
        copy_out: Option<Fill>,
    ) -> Result<Option<*mut c_void>> {
        let Span { below, bytes, layout } = span(s)?;
        let place = s.place;
        let dtype = match s.kind {
            ElementKind::Basic(d) => d,
            _ => DType::U8,
        };
        // The first byte MPI may touch; the borrowed buffer holds the whole touched range.
        let device_ptr = s.ptr.cast_mut().cast::<u8>().wrapping_sub(below).cast::<c_void>();
        // MPI writes only the items of a layout: the rest of the staged range must hold the
        // device's bytes before its blocks go back.
        copy_in |= layout && copy_out.is_some();
        let view = BufferView { ptr: device_ptr, len: bytes / dtype.size(), dtype, place };
        match path {
            Path::Host => Ok(None),
            Path::Direct => {
                // MPI reads or writes the device memory itself: the producer's work must be
                // done first (a kernel still writing it, or still reading what MPI overwrites).
                if !emulated() {
                    mpi4rs_device::wait_for_producer(&place)?;
                }
                mpi4rs_device::run_hooks(mpi4rs_device::HookPoint::BeforeRead, &view)?;
                self.routed().stages.push(Stage {
                    place,
                    device_ptr,
                    bytes,
                    dtype,
                    layout,
                    staging: None,
                    copy_in: false,
                    copy_out,
                    deferred: false,
                    chunk_events: Vec::new(),
                    blocks: None,
                });
                Ok(None)
            }
            Path::Staged => {
                let mut staging = staging::take(bytes)?;
                // The pipeline cuts buffers by element; a layout is copied whole instead.
                let deferred = self.pipelinable && !layout && pipeline_chunk(bytes).is_some();
                // The view's origin in the staging buffer (`below <= bytes <= capacity`).
                let ptr = staging.as_mut_ptr().cast::<u8>().wrapping_add(below).cast::<c_void>();
                let mut stage = Stage {
                    place,
                    device_ptr,
                    bytes,
                    dtype,
                    layout,
                    staging: Some(staging),
                    copy_in,
                    copy_out,
                    deferred,
                    chunk_events: Vec::new(),
                    blocks: if layout {
                        Some(super::pack::blocks(s.datatype, s.count, below, bytes)?)
                    } else {
                        None
                    },
                };
                if copy_in || copy_out.is_some() {
                    // Ordering after the producer: copies run on the buffer's own stream; a
                    // Device policy also waits for other streams; hooks may wait for others.
                    if place.effective_policy() == mpi4rs_device::SyncPolicy::Device && !emulated() {
                        mpi4rs_device::wait_for_producer(&place)?;
                    }
                    mpi4rs_device::run_hooks(mpi4rs_device::HookPoint::BeforeRead, &view)?;
                }
                if copy_in && !deferred {
                    stage.fill_all()?;
                }
                self.routed().stages.push(stage);
                Ok(Some(ptr))
            }
        }
    }

    /// Whether any buffer of the operation is a device buffer (staged or passed directly), so
    /// that the transfer must be kept until the operation completes.
    #[inline(always)]
    pub(crate) fn has_stages(&self) -> bool {
        self.routed.is_some()
    }

    /// The routed buffers, made on the first one.
    #[cold]
    fn routed(&mut self) -> &mut Routed {
        self.routed.get_or_insert_with(Box::default)
    }

    /// Copies every stage's device bytes in again (a persistent operation's restart), after
    /// waiting for the producer where the first start did: memory MPI reads or writes itself
    /// (direct device or managed memory), and staged copies under the `Device` policy. Between
    /// two starts the program may have queued new work on the buffer.
    pub(crate) fn refill(&mut self) -> Result<()> {
        let Some(routed) = self.routed.as_deref_mut() else { return Ok(()) };
        for stage in &mut routed.stages {
            let direct = stage.staging.is_none();
            let device_policy = stage.place.effective_policy() == mpi4rs_device::SyncPolicy::Device;
            if (direct || (device_policy && (stage.copy_in || stage.copy_out.is_some()))) && !emulated() {
                mpi4rs_device::wait_for_producer(&stage.place)?;
            }
            if stage.copy_in && !direct {
                stage.fill_all()?;
            }
        }
        routed.bools.iter_mut().for_each(Shadow::refill);
        routed.packed.iter_mut().try_for_each(Packed::pack)
    }

    /// Finishes the copies of a completed operation: writes staged results back to the device
    /// (on the buffer's stream) and runs the after-write hooks. `status` sizes receives.
    pub(crate) fn complete(&mut self, status: Option<&Status>) -> Result<()> {
        let Some(routed) = self.routed.as_deref_mut() else { return Ok(()) };
        let received = match status {
            Some(st) if routed.stages.iter().any(|s| s.copy_out == Some(Fill::Received)) => Some(st.bytes()?),
            _ => None,
        };
        // Packed layouts first: they unpack into staging copies that then go to the device.
        for p in &mut routed.packed {
            p.unpack()?;
        }
        for stage in &mut routed.stages {
            stage.write_back(received)?;
        }
        for shadow in &mut routed.bools {
            shadow.complete()?;
        }
        Ok(())
    }

    /// Completes a blocking operation.
    #[inline(always)]
    pub(crate) fn blocking(mut self, status: Option<&Status>) -> Result<()> {
        if !self.has_stages() {
            return Ok(());
        }
        self.complete(status)
    }

    /// Wraps the request of a nonblocking operation; staged buffers are completed with it.
    #[inline(always)]
    pub(crate) fn request<'s>(self, scope: &'s Scope<'s, '_>, raw: MPI_Request) -> Request<'s> {
        if self.has_stages() {
            crate::pending::register(raw, Box::new(self), false);
        }
        Request::scoped(scope.core(), raw)
    }

    /// Wraps a persistent request; staged buffers are refilled at each start and completed at
    /// each completion.
    #[inline(always)]
    pub(crate) fn persistent<'s>(self, scope: &'s Scope<'s, '_>, raw: MPI_Request) -> PersistentRequest<'s> {
        if self.has_stages() {
            crate::pending::register(raw, Box::new(self), true);
        }
        PersistentRequest::scoped(scope.core(), raw)
    }

    fn stages(&self) -> &[Stage] {
        self.routed.as_deref().map_or(&[], |r| &r.stages)
    }

    fn stages_mut(&mut self) -> &mut [Stage] {
        self.routed.as_deref_mut().map_or(&mut [], |r| &mut r.stages)
    }

    /// Pipeline support: whether copies are left to [`chunk_in`](Self::chunk_in) and
    /// [`chunk_out`](Self::chunk_out).
    pub(crate) fn has_deferred(&self) -> bool {
        self.stages().iter().any(|s| s.deferred)
    }

    /// Pipeline: enqueues the copies into staging of every chunk at once (each followed by an
    /// event), so the device streams them out while MPI works on earlier chunks.
    pub(crate) fn enqueue_chunks_in(&mut self, chunks: &[Range<usize>]) -> Result<()> {
        for stage in self.stages_mut().iter_mut().filter(|s| s.deferred && s.copy_in) {
            stage.chunk_events.clear();
            for r in chunks {
                let r = stage.bytes_of(r);
                stage.copy(r.clone(), true)?;
                stage.chunk_events.push(fence(&stage.place)?);
            }
        }
        Ok(())
    }

    /// Pipeline: waits until chunk `k` is in staging.
    pub(crate) fn wait_chunk_in(&mut self, k: usize) -> Result<()> {
        for stage in self.stages_mut().iter_mut().filter(|s| s.deferred && s.copy_in) {
            if let Some(Some(event)) = stage.chunk_events.get_mut(k).map(Option::take) {
                event.synchronize()?;
            }
        }
        Ok(())
    }

    /// Pipeline: enqueues the copy of chunk `r` (element range) back to the device.
    pub(crate) fn chunk_out(&mut self, r: &Range<usize>) -> Result<()> {
        for stage in self.stages_mut().iter_mut().filter(|s| s.deferred && s.copy_out.is_some()) {
            let r = stage.bytes_of(r);
            stage.copy(r, false)?;
        }
        Ok(())
    }
}

impl crate::pending::Staged for Transfer {
    fn complete(&mut self, status: Option<&Status>) -> Result<()> {
        Transfer::complete(self, status)
    }
    fn refill(&mut self) -> Result<()> {
        Transfer::refill(self)
    }
}

impl Stage {
    fn bytes_of(&self, elems: &Range<usize>) -> Range<usize> {
        let size = self.dtype.size();
        (elems.start * size).min(self.bytes)..(elems.end * size).min(self.bytes)
    }

    /// Copies bytes `r` between device and staging (`to_host`: device to staging).
    fn copy(&mut self, r: Range<usize>, to_host: bool) -> Result<()> {
        let Some(staging) = self.staging.as_mut() else { return Ok(()) };
        if r.is_empty() {
            return Ok(());
        }
        let host = staging.as_mut_ptr().cast::<u8>().wrapping_add(r.start).cast::<c_void>();
        let dev = self.device_ptr.cast::<u8>().wrapping_add(r.start).cast::<c_void>();
        let n = r.len();
        if emulated() {
            // SAFETY: emulated device memory is host memory of `bytes` bytes (the caller's
            // promise); the staging buffer holds at least `bytes`.
            unsafe {
                if to_host {
                    std::ptr::copy_nonoverlapping(dev.cast::<u8>(), host.cast::<u8>(), n)
                } else {
                    std::ptr::copy_nonoverlapping(host.cast::<u8>(), dev.cast::<u8>(), n)
                }
            }
            return Ok(());
        }
        let MemoryKind::Cuda { device } = self.place.memory else {
            return Err(Error::UnsupportedBuffer(format!("cannot stage {:?} memory", self.place.memory)));
        };
        let stream = self.place.stream.unwrap_or(mpi4rs_device::StreamRef::DEFAULT);
        // SAFETY: `dev` is device memory of the borrowed buffer and `host` the staging buffer,
        // both at least `r.end` bytes long and alive until the copy is waited for.
        unsafe {
            if to_host {
                cuda::copy_to_host_async(device, host, dev, n, stream)?;
            } else {
                cuda::copy_to_device_async(device, dev, host, n, stream)?;
            }
        }
        Ok(())
    }

    /// Copies the whole buffer into staging and waits for it.
    fn fill_all(&mut self) -> Result<()> {
        if let (Some(blocks), Some(staging)) = (&self.blocks, self.staging.as_mut()) {
            let host = staging.as_mut_ptr().cast::<u8>();
            return super::pack::gather(&self.place, self.device_ptr, host, self.bytes, blocks, emulated());
        }
        self.copy(0..self.bytes, true)?;
        if let Some(event) = fence(&self.place)? {
            event.synchronize()?;
        }
        Ok(())
    }

    /// After MPI is done: copies staged results back (on the buffer's stream; the staging
    /// buffer is not reused before that copy has run) and runs the after-write hooks.
    fn write_back(&mut self, received: Option<usize>) -> Result<()> {
        let Some(fill) = self.copy_out else { return Ok(()) };
        if self.staging.is_some() {
            if !self.deferred {
                let n = match (fill, received) {
                    (Fill::Received, Some(n)) if !self.layout => n.min(self.bytes),
                    _ => self.bytes,
                };
                match (&self.blocks, self.staging.as_mut()) {
                    (Some(blocks), Some(staging)) => {
                        let host = staging.as_mut_ptr().cast::<u8>();
                        super::pack::scatter(
                            &self.place,
                            self.device_ptr,
                            host,
                            self.bytes,
                            blocks,
                            emulated(),
                        )?;
                    }
                    _ => self.copy(0..n, false)?,
                }
            }
            if let (Some(event), Some(staging)) = (fence(&self.place)?, self.staging.as_mut()) {
                staging.set_pending(event);
            }
        }
        let view = BufferView {
            ptr: self.device_ptr,
            len: self.bytes / self.dtype.size(),
            dtype: self.dtype,
            place: self.place,
        };
        mpi4rs_device::after_write(&view)?;
        Ok(())
    }
}

/// The range of a routed buffer that staging covers.
struct Span {
    /// Bytes of the range below the view's origin.
    below: usize,
    /// Length of the range.
    bytes: usize,
    /// Whether the buffer is seen through a derived layout (see [`Stage::layout`]).
    layout: bool,
}

/// The range a buffer's items touch. Basic elements cover `[0, bytes)` from the origin; a
/// derived layout covers `[lo, hi)` of its datatype (`Typed`/`TypedMut` checked when they were
/// made that it lies inside the borrowed buffer), where `lo` can be negative and `hi` past
/// the spec's `bytes` is impossible.
fn span(s: &Spec) -> Result<Span> {
    if matches!(s.kind, ElementKind::Basic(_)) {
        return Ok(Span { below: 0, bytes: s.bytes, layout: false });
    }
    let (_, touched) = crate::typed::size_and_span(s.datatype, s.count)?;
    let Some((lo, hi)) = touched else { return Ok(Span { below: 0, bytes: 0, layout: true }) };
    let too_large =
        |_| Error::InvalidArgument(format!("a layout touching bytes {lo}..{hi} cannot be staged"));
    let below = usize::try_from(-lo.min(0)).map_err(too_large)?;
    let above = usize::try_from(hi.max(0)).map_err(too_large)?;
    // A layout starting above its origin is staged from the origin: the bytes in between are
    // inside the borrowed buffer too, and the view's origin must lie inside the staging buffer.
    Ok(Span { below, bytes: below + above, layout: true })
}

/// Whether a derived layout holds data: items of zero size, or none, are left to the
/// operation's own checks unpacked (they reduce nothing, and their count may exceed what a
/// packed buffer could describe).
#[cold]
#[inline(never)]
fn holds_data(s: &Spec) -> Result<bool> {
    if s.count == 0 {
        return Ok(false);
    }
    let mut size: crate::ffi::MPI_Count = 0;
    crate::error::mpi_call!(MPI_Type_size_x(s.datatype, &mut size))?;
    Ok(size > 0)
}

/// The spec of `n` packed elements of `base` at `ptr`.
fn packed_spec(ptr: *mut c_void, n: usize, base: DType) -> Spec {
    Spec {
        ptr,
        count: n,
        datatype: crate::predefined::mpi_datatype(base),
        bytes: n * base.size(),
        kind: ElementKind::Basic(base),
        base: None,
        place: Placement::HOST,
    }
}

/// An event after the work queued so far on the buffer's stream (`None` when emulated: the
/// copies were synchronous).
fn fence(place: &Placement) -> Result<Option<Event>> {
    if emulated() {
        return Ok(None);
    }
    let MemoryKind::Cuda { device } = place.memory else { return Ok(None) };
    Ok(Some(Event::record(device, place.stream.unwrap_or(mpi4rs_device::StreamRef::DEFAULT))?))
}

/// The address MPI is given for a host buffer. An empty slice's pointer is dangling, and for
/// one-byte elements it is 0x1: Open MPI's `MPI_IN_PLACE`, so an empty `u8` send buffer of a
/// collective would be taken for "in place" (`MPI_ERR_ARG`, or worse, a wrong result). Empty
/// buffers get the address of a static instead; MPI never touches it.
///
/// Empty means no data: zero items, or items of zero size. It does not mean `bytes == 0`: a
/// derived layout whose touched range ends at or below its origin (a negative displacement at
/// [`Typed::with_offset`](crate::Typed::with_offset)) has `bytes == 0` and real data below the
/// origin, which MPI must read and write where it is.
#[inline(always)]
fn real_address(
    ptr: *const c_void,
    count: usize,
    bytes: usize,
    kind: ElementKind,
    datatype: MPI_Datatype,
) -> *const c_void {
    static EMPTY: u64 = 0;
    if count == 0 || (bytes == 0 && no_data(kind, datatype)) {
        std::ptr::addr_of!(EMPTY).cast()
    } else {
        ptr
    }
}

/// Whether items of `kind` with `bytes == 0` hold no data: always for basic elements (which
/// have a size), for derived datatypes only if their size is 0.
#[cold]
#[inline(never)]
fn no_data(kind: ElementKind, datatype: MPI_Datatype) -> bool {
    if kind != ElementKind::Derived {
        return true;
    }
    let mut size: crate::ffi::MPI_Count = 0;
    // An error keeps the real address, which is always inside the borrowed buffer.
    crate::error::mpi_call!(MPI_Type_size_x(datatype, &mut size)).is_ok() && size == 0
}
