//! `MPI_Reduce_local` ([`Op::reduce_local`]): one operation applied to two local buffers, on
//! the device with the reduction kernels where both buffers are on one GPU, else through the
//! transfer router.

use super::{check_len, check_same_elements};
use crate::bigcount::chunked;
use crate::buffer::{Buffer, BufferMut, ElementKind};
use crate::error::{mpi_call, Result};
use crate::op::{Builtin, Op};
use crate::transfer::stage::{Fill, Transfer};

impl Op {
    /// Reduces `input` into `inout` locally, `inout[i] = input[i] op inout[i]`
    /// (`MPI_Reduce_local`). Device buffers are staged through host memory.
    pub fn reduce_local<S, R>(&self, input: &S, inout: &mut R) -> Result<()>
    where
        S: Buffer + ?Sized,
        R: BufferMut + ?Sized,
    {
        if let Some(done) = self.reduce_local_on_device(input, inout)? {
            return Ok(done);
        }
        let mut t = Transfer::host_reduction("reduce_local", self.builtin().is_some());
        let (s, r) = (t.read(input)?, t.write(inout, Fill::Update)?);
        check_same_elements(s.kind, r.kind)?;
        check_len("inout buffer", s.count, r.count)?;
        let op = self.for_reduction(s.kind, s.datatype)?;
        chunked(s.count, s.datatype, |off, n| {
            mpi_call!(MPI_Reduce_local(s.ptr.byte_add(off), r.ptr.byte_add(off), n, s.datatype, op))
        })?;
        t.blocking(None)
    }
}

impl Op {
    /// `reduce_local` on two buffers of one CUDA device with a predefined operation: runs the
    /// reduction kernel (compiled with NVRTC) on the buffers' stream and waits for it.
    /// `Ok(None)` where that does not apply or NVRTC is missing: the caller stages instead.
    fn reduce_local_on_device<S, R>(&self, input: &S, inout: &mut R) -> Result<Option<()>>
    where
        S: Buffer + ?Sized,
        R: BufferMut + ?Sized,
    {
        use mpi4rs_device::kernels::{reduce_device, ReduceOp};
        use mpi4rs_device::{DeviceError, MemoryKind};
        let (s, r) = (input.spec()?, inout.spec_mut()?);
        let (MemoryKind::Cuda { device }, MemoryKind::Cuda { device: d2 }) = (s.place.memory, r.place.memory)
        else {
            return Ok(None);
        };
        let (Some(b), ElementKind::Basic(dtype)) = (self.builtin(), r.kind) else { return Ok(None) };
        if device != d2 || crate::transfer::emulated() || s.kind != r.kind {
            return Ok(None);
        }
        check_len("inout buffer", s.count, r.count)?;
        self.for_reduction(r.kind, r.datatype)?;
        let op = match b {
            Builtin::Sum => ReduceOp::Sum,
            Builtin::Prod => ReduceOp::Prod,
            Builtin::Max => ReduceOp::Max,
            Builtin::Min => ReduceOp::Min,
            Builtin::Land => ReduceOp::Land,
            Builtin::Lor => ReduceOp::Lor,
            Builtin::Lxor => ReduceOp::Lxor,
            Builtin::Band => ReduceOp::Band,
            Builtin::Bor => ReduceOp::Bor,
            Builtin::Bxor => ReduceOp::Bxor,
            _ => return Ok(None),
        };
        let stream = r.place.stream.unwrap_or(mpi4rs_device::StreamRef::DEFAULT);
        // The input may come from another stream: wait for its producer first.
        mpi4rs_device::wait_for_producer(&s.place)?;
        // SAFETY: both specs describe `count` elements of `dtype` on `device`, borrowed for
        // this call; the kernel is waited for before returning.
        match unsafe { reduce_device(op, dtype, r.ptr, s.ptr, r.count, device, stream) } {
            Ok(()) => {
                mpi4rs_device::cuda::stream_synchronize(device, stream)?;
                Ok(Some(()))
            }
            Err(DeviceError::Nvrtc(_) | DeviceError::NoCuda(_) | DeviceError::NoKernel(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
