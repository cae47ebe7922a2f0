//! Every user mistake in point-to-point gives a clear `Err`, never a crash or an overrun.
mod common;

use common::{rank_size, Suite};
use mpi4rs::device::{BufferView, BufferViewMut, DeviceBuffer, DeviceBufferMut, Placement, StreamRef};
use mpi4rs::prelude::*;
use mpi4rs::{DType, Device, DeviceMut, Environment, Error, ErrorClass, Result, Status};

fn main() {
    Suite::new("errors")
        .case("invalid_ranks", invalid_ranks)
        .case("invalid_tags", invalid_tags)
        .case("truncated_receive", truncated_receive)
        .case("truncated_from_another_rank", truncated_from_another_rank)
        .case("truncated_matched_message_can_be_retried", truncated_matched_message_can_be_retried)
        .case("status_count_not_whole", status_count_not_whole)
        .case("buffered_send_buffer_misuse", buffered_send_buffer_misuse)
        .case("count_overflow", count_overflow)
        .case("device_memory_refused_without_router", device_memory_refused_without_router)
        .case("bool_receives_are_checked", bool_receives_are_checked)
        .check("calls_before_init_are_errors", calls_before_init_are_errors)
        .check("self_messages_guarded_when_rdma_stays", self_messages_guarded_when_rdma_stays)
        .check("transport_with_cma", transport_with_cma)
        .run();
}

fn invalid_ranks(env: &Environment) -> Result<()> {
    let world = env.world();
    let (_, n) = rank_size(env);
    let e = ensure_err!(world.send(&1i32, n, 0), Error::InvalidRank { .. });
    ensure_eq!(e.class(), Some(ErrorClass::Rank));
    ensure!(e.to_string().contains(&format!("invalid rank {n}")), "{e}");
    ensure_err!(world.send(&1i32, -5, 0), Error::InvalidRank { rank: -5, .. });
    ensure_err!(world.send(&1i32, any_source(), 0), Error::InvalidRank { allows_any: false, .. });
    let mut x = 0i32;
    ensure_err!(world.recv(&mut x, n + 3, 0), Error::InvalidRank { allows_any: true, .. });
    // A refused call still lends its buffer for the whole scope: one scope per borrow.
    mpi4rs::scope(|s| {
        ensure_err!(world.isend(s, &x, n, 0), Error::InvalidRank { .. });
        Ok(())
    })?;
    mpi4rs::scope(|s| {
        ensure_err!(world.irecv(s, &mut x, -7, 0), Error::InvalidRank { .. });
        Ok(())
    })?;
    ensure_err!(world.probe(n, 0), Error::InvalidRank { .. });
    ensure_err!(world.iprobe(n, 0), Error::InvalidRank { .. });
    ensure_err!(world.mprobe(n, 0), Error::InvalidRank { .. });
    mpi4rs::scope(|s| {
        ensure_err!(world.send_init(s, &x, n, 0), Error::InvalidRank { .. });
        Ok(())
    })?;
    let mut y = 0i32;
    ensure_err!(world.sendrecv(&x, 0, 0, &mut y, n, 0), Error::InvalidRank { .. });
    Ok(())
}

fn invalid_tags(env: &Environment) -> Result<()> {
    let world = env.world();
    let ub = mpi4rs::tag_ub();
    let e = ensure_err!(world.send(&1u8, 0, -1), Error::InvalidTag { tag: -1, .. });
    ensure_eq!(e.class(), Some(ErrorClass::Tag));
    if ub < i32::MAX {
        // Open MPI's TAG_UB is i32::MAX (nothing lies above it); MPICH's is smaller.
        ensure_err!(world.send(&1u8, 0, ub + 1), Error::InvalidTag { .. });
    }
    ensure_err!(world.send(&1u8, 0, any_tag()), Error::InvalidTag { allows_any: false, .. });
    let mut x = 0u8;
    ensure_err!(world.recv(&mut x, 0, -7), Error::InvalidTag { allows_any: true, .. });
    mpi4rs::scope(|s| {
        ensure_err!(world.issend(s, &x, 0, -1), Error::InvalidTag { .. });
        Ok(())
    })?;
    // The largest valid tag works (to PROC_NULL, so nothing is left pending).
    world.send(&1u8, proc_null(), ub)?;
    Ok(())
}

/// Whether this process guards receives from itself (MPI writes a too-long self-message past
/// the receive buffer: see the guide's "Messages to oneself"), printed once for the checks.
fn self_guarded(env: &Environment) -> bool {
    let guarded = mpi4rs::version_info().self_messages_guarded == Some(true);
    if env.world().rank() == 0 {
        println!("self_messages_guarded={guarded}");
    }
    guarded
}

/// The bytes of `memory` after its first `head` are all still 0xAB.
fn untouched(memory: &[u8], head: usize) -> bool {
    memory[head..].iter().all(|&b| b == 0xAB)
}

/// A message this process sends itself that does not fit the receive: an error of class
/// `Truncate`, and not one byte past the buffer written, by every kind of receive (Open MPI
/// 4.1's `self` transport with RDMA copies the whole message before it reports the
/// truncation: the library switches that off at init, and guards or refuses such receives
/// where it could not, see `self_guarded`).
fn truncated_receive(env: &Environment) -> Result<()> {
    let world = env.world();
    let me = world.rank();
    let guarded = self_guarded(env);
    for (sent, any) in [(16usize, false), (5000, false), (70_000, true)] {
        let mut memory = vec![0xABu8; 8 + 100_000];
        let message = vec![7u8; sent];
        let source = if any { mpi4rs::any_source() } else { me };
        let received = mpi4rs::scope(|s| {
            let send = world.isend(s, &message[..], me, 30)?;
            let received = world.recv(&mut memory[..8], source, 30);
            let _ = send.wait(); // the send side may or may not report the truncation
            Ok(received)
        })?;
        let e = ensure_err!(received, _);
        ensure_eq!(e.class(), Some(ErrorClass::Truncate));
        if let Error::Mpi { .. } = e {
            ensure!(e.to_string().contains("MPI_Recv"), "the error names the call: {e}");
        }
        ensure!(untouched(&memory, 8), "a {sent}-byte message wrote past the 8-byte buffer");
    }
    // A send-receive to itself that cannot fit: the same error (Open MPI's MPI_Sendrecv to
    // self reports a truncated short message as a success).
    for sent in [32usize, 5000] {
        let mut memory = vec![0xABu8; 8 + 10_000];
        let e = ensure_err!(world.sendrecv(&vec![1u8; sent][..], me, 31, &mut memory[..8], me, 31), _);
        ensure_eq!(e.class(), Some(ErrorClass::Truncate));
        ensure!(untouched(&memory, 8), "sendrecv of {sent} bytes wrote past the buffer");
    }
    nonblocking_self_receives(env, guarded)
}

/// Receives posted before a too-long message from this process itself: truncated safely, or
/// (where MPI would write past the buffer and the library could not prevent it) refused.
fn nonblocking_self_receives(env: &Environment, guarded: bool) -> Result<()> {
    let world = env.world();
    let me = world.rank();
    let open_mpi = mpi4rs::library_version()?.contains("Open MPI");
    // What a receive of 8 bytes gave, `r`, for a `sent`-byte message.
    let check = |r: Result<Result<Status>>, what: &str, sent: usize| -> Result<()> {
        if guarded {
            let e = ensure_err!(r, Error::Unsupported(_));
            ensure!(e.to_string().contains("OMPI_MCA_btl_self_flags"), "{what}: says how to lift it: {e}");
            return Ok(());
        }
        match r? {
            Err(e) => ensure_eq!(e.class(), Some(ErrorClass::Truncate)),
            // Open MPI 4.1 reports a short message to itself that arrives at a posted receive
            // as received, truncated to the buffer (no error; no byte past it written).
            Ok(status) if open_mpi && sent < 1024 => ensure_eq!(status.count::<u8>()?, 8),
            Ok(status) => ensure!(false, "{what}: a {sent}-byte message into 8 bytes gave {status:?}"),
        }
        Ok(())
    };
    for sent in [16usize, 5000, 70_000] {
        let message = vec![7u8; sent];
        for source in [me, mpi4rs::any_source()] {
            // irecv posted first, then the message.
            let mut memory = vec![0xABu8; 8 + 100_000];
            let r = mpi4rs::scope(|s| {
                let recv = world.irecv(s, &mut memory[..8], source, 40)?;
                let send = world.isend(s, &message[..], me, 40)?;
                let received = recv.wait();
                let _ = send.wait();
                Ok(received)
            });
            check(r, "irecv", sent)?;
            ensure!(untouched(&memory, 8), "irecv: a {sent}-byte message wrote past the 8-byte buffer");
            // A persistent receive, started, then the message.
            let r = mpi4rs::scope(|s| {
                let mut recv = world.recv_init(s, &mut memory[..8], source, 41)?;
                recv.start()?;
                let send = world.isend(s, &message[..], me, 41)?;
                let received = recv.wait();
                let _ = send.wait();
                Ok(received)
            });
            check(r, "recv_init", sent)?;
            ensure!(untouched(&memory, 8), "recv_init: a {sent}-byte message wrote past the 8-byte buffer");
        }
        // sendrecv_replace whose receive matches an earlier, longer message to itself (sending
        // nowhere: a send to itself that no receive takes during the call may never complete,
        // as on MPICH in a one-process job).
        let mut memory = vec![0xABu8; 8 + 100_000];
        let r = mpi4rs::scope(|s| {
            let send = world.isend(s, &message[..], me, 42)?;
            let replaced = world.sendrecv_replace(&mut memory[..8], proc_null(), 43, me, 42);
            if replaced.is_err() && guarded {
                // Refused: the message it did not receive is still there.
                let mut all = vec![0u8; sent];
                world.recv(&mut all[..], me, 42)?;
            }
            send.wait()?;
            match replaced {
                Err(e) if guarded => Err(e),
                other => Ok(other),
            }
        });
        check(r, "sendrecv_replace", usize::MAX)?;
        ensure!(
            untouched(&memory, 8),
            "sendrecv_replace: a {sent}-byte message wrote past the 8-byte buffer"
        );
    }
    Ok(())
}

/// A message from another rank longer than an 8-byte receive posted before it: an error of
/// class `Truncate`, and not one byte past the buffer written (Open MPI's shared-memory
/// transport with a single-copy mechanism writes it past the buffer: see `transport_with_cma`).
fn truncated_from_another_rank(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    if n < 2 {
        return Ok(());
    }
    for sent in [16usize, 5000, 70_000] {
        let mut memory = vec![0xABu8; 8 + 100_000];
        let message = vec![7u8; sent];
        match me {
            0 => {
                world.barrier()?;
                world.send(&message[..], 1, 50)?;
            }
            1 => {
                let received = mpi4rs::scope(|s| {
                    let recv = world.irecv(s, &mut memory[..8], 0, 50)?;
                    world.barrier()?;
                    Ok(recv.wait())
                })?;
                let e = ensure_err!(received, _);
                ensure_eq!(e.class(), Some(ErrorClass::Truncate));
                ensure!(
                    untouched(&memory, 8),
                    "a {sent}-byte message from rank 0 wrote past the 8-byte buffer"
                );
            }
            _ => world.barrier()?,
        }
    }
    Ok(())
}

/// Open MPI's shared-memory transport with a single-copy mechanism (CMA), which many nodes have
/// by default: the library takes its RDMA off, so truncation between processes stays safe.
fn transport_with_cma(suite: &common::Suite) -> std::result::Result<(), String> {
    let cma = [("OMPI_MCA_btl_vader_single_copy_mechanism", "cma")];
    let out = suite.job(2, Some("truncated_from_another_rank"), &cma);
    let text = out.text().to_ascii_lowercase();
    if !out.success()
        && text.contains("cma")
        && (text.contains("permission") || text.contains("not permitted"))
    {
        return Err(format!("{}Open MPI could not use CMA here", common::SKIPPED));
    }
    if !out.success() {
        return Err(format!("job failed:\n{}", out.text()));
    }
    Ok(())
}

/// Open MPI with its `self` transport's RDMA left on by the user: the library must notice
/// (the test at init) and guard; every receive kind still truncates safely or is refused.
fn self_messages_guarded_when_rdma_stays(suite: &common::Suite) -> std::result::Result<(), String> {
    let library = mpi4rs::library_version().map_err(|e| e.to_string())?;
    let flags = [("OMPI_MCA_btl_self_flags", "send,put,get,inplace")];
    let out = suite.job(2, Some("truncated_receive"), &flags);
    if !out.success() {
        return Err(format!("job failed:\n{}", out.text()));
    }
    let guarded = out.stdout.contains("self_messages_guarded=true");
    match (library.contains("Open MPI"), guarded) {
        (true, false) => Err(format!("Open MPI with self RDMA was not guarded:\n{}", out.text())),
        (false, true) => Err(format!("guarded on an MPI that truncates safely:\n{}", out.text())),
        _ => Ok(()),
    }
}

fn truncated_matched_message_can_be_retried(env: &Environment) -> Result<()> {
    let world = env.world();
    let me = world.rank();
    mpi4rs::scope(|s| {
        let send = world.isend(s, &[7u64; 8], me, 31)?;
        let (mut msg, _) = world.mprobe(me, 31)?;
        let mut small = [0u64; 4];
        let e = ensure_err!(msg.recv(&mut small), Error::Truncated { message_bytes: 64, buffer_bytes: 32 });
        ensure_eq!(e.class(), Some(ErrorClass::Truncate));
        ensure_eq!(small, [0; 4]);
        let mut big = [0u64; 8];
        msg.recv(&mut big)?;
        ensure_eq!(big, [7; 8]);
        ensure_err!(msg.recv(&mut big), Error::InvalidArgument(_));
        send.wait()?;
        Ok(())
    })
}

fn status_count_not_whole(env: &Environment) -> Result<()> {
    let world = env.world();
    let me = world.rank();
    let status = mpi4rs::scope(|s| {
        let send = world.isend(s, &[1u8, 2, 3], me, 32)?;
        let mut got = [0u8; 3];
        let status = world.recv(&mut got, me, 32)?;
        send.wait()?;
        Ok(status)
    })?;
    ensure_eq!(status.count::<u8>()?, 3);
    ensure_err!(status.count::<u16>(), Error::InvalidArgument(_));
    Ok(())
}

fn buffered_send_buffer_misuse(env: &Environment) -> Result<()> {
    let world = env.world();
    let me = world.rank();
    ensure_err!(mpi4rs::detach_buffer(), Error::InvalidArgument(_));
    // No buffer attached: refused before MPI (Open MPI would send small messages eagerly
    // anyway, MPICH would fail: the check makes both the same).
    let e = ensure_err!(world.bsend(&[0u8; 64], me, 33), Error::BsendBuffer { attached: 0, .. });
    ensure_eq!(e.class(), Some(ErrorClass::Buffer));
    mpi4rs::scope(|s| {
        ensure_err!(world.ibsend(s, &[0u8; 64], me, 33), Error::BsendBuffer { .. });
        ensure_err!(world.bsend_init(s, &[0u8; 64], me, 33), Error::BsendBuffer { .. });
        Ok(())
    })?;
    mpi4rs::attach_buffer(vec![0u8; 256])?;
    ensure_err!(mpi4rs::attach_buffer(vec![0u8; 256]), Error::InvalidArgument(_));
    // A message larger than the attached buffer.
    ensure_err!(world.bsend(&[0u8; 4096], me, 34), Error::BsendBuffer { attached: 256, .. });
    mpi4rs::detach_buffer()?;
    Ok(())
}

fn count_overflow(env: &Environment) -> Result<()> {
    if env.world().rank() != 0 {
        return Ok(());
    }
    // 2^31 bytes: zeroed pages are mapped lazily, so this costs no real memory.
    let huge = vec![0u8; 1 << 31];
    let e = ensure_err!(env.world().send(&huge, proc_null(), 0), Error::CountOverflow { .. });
    ensure_eq!(e.class(), Some(ErrorClass::Count));
    Ok(())
}

/// Bytes other than 0 and 1 never reach `bool` memory: the receive fails and the bools stay
/// as they were; 0 and 1 arrive as false and true.
fn bool_receives_are_checked(env: &Environment) -> Result<()> {
    let world = env.world();
    let me = world.rank();
    let not_bool = |e: &Error| matches!(e, Error::Decode { type_name: "bool", .. });
    // Point-to-point, blocking and nonblocking.
    let mut flags = [true; 4];
    mpi4rs::scope(|sc| {
        let s = world.isend(sc, &[1u8, 0, 2, 255], me, 40)?;
        let e = ensure_err!(world.recv(&mut flags, me, 40), _);
        ensure!(not_bool(&e) && e.to_string().contains("byte 2"), "{e}");
        s.wait().map(drop)
    })?;
    ensure_eq!(flags, [true; 4]);
    mpi4rs::scope(|sc| {
        let s = world.isend(sc, &[0u8, 1, 0, 1], me, 41)?;
        world.recv(&mut flags, me, 41)?;
        s.wait().map(drop)
    })?;
    ensure_eq!(flags, [false, true, false, true]);
    let mut flag = false;
    mpi4rs::scope(|sc| {
        let s = world.isend(sc, &[7u8], me, 42)?;
        let e = ensure_err!(world.irecv(sc, &mut flag, me, 42)?.wait(), _);
        ensure!(not_bool(&e), "{e}");
        s.wait().map(drop)
    })?;
    ensure!(!flag);
    // sendrecv, and a broadcast whose root sends bytes that the others take as bools.
    let mut flag = true;
    let e = ensure_err!(world.sendrecv(&3u8, me, 43, &mut flag, me, 43), _);
    ensure!(not_bool(&e) && flag, "{e}");
    if me == 0 {
        world.bcast(&mut [9u8, 1], 0)?;
    } else {
        let mut two = [false; 2];
        let e = ensure_err!(world.bcast(&mut two, 0), _);
        ensure!(not_bool(&e) && two == [false; 2], "{e}");
    }
    // unpack.
    let mut packed = [0u8; 16];
    let mut pos = 0;
    mpi4rs::pack(&[1u8, 2], &mut packed, &mut pos, world)?;
    let (mut pos, mut two) = (0, [false; 2]);
    let e = ensure_err!(mpi4rs::unpack(&packed[..2], &mut pos, &mut two, world), _);
    ensure!(not_bool(&e) && two == [false; 2], "{e}");
    // Reductions of valid bools still work (the result is checked too).
    let mut all = false;
    world.allreduce(&true, &mut all, &Op::LAND)?;
    ensure!(all);
    // A derived layout over bools is refused for writing; over bytes it is fine.
    let bools = mpi4rs::Datatype::of::<bool>()?;
    let e = ensure_err!(mpi4rs::TypedMut::new(&mut flags, 4, &bools), Error::InvalidArgument(_));
    ensure!(e.to_string().contains("u8"), "{e}");
    Ok(())
}

/// A buffer claiming to live on a GPU.
struct FakeDevice;
unsafe impl DeviceBuffer for FakeDevice {
    fn view(&self) -> BufferView {
        BufferView {
            ptr: std::ptr::null(),
            len: 4,
            dtype: DType::F32,
            place: Placement::cuda(0, StreamRef::DEFAULT),
        }
    }
}
unsafe impl DeviceBufferMut for FakeDevice {
    fn view_mut(&mut self) -> BufferViewMut {
        BufferViewMut {
            ptr: std::ptr::null_mut(),
            len: 4,
            dtype: DType::F32,
            place: Placement::cuda(0, StreamRef::DEFAULT),
        }
    }
}

fn device_memory_refused_without_router(env: &Environment) -> Result<()> {
    // Without CUDA, a buffer claiming device memory cannot be staged: an error, not a crash.
    if mpi4rs::device::cuda::available() {
        return Ok(());
    }
    let world = env.world();
    ensure_err!(world.send(&Device(&FakeDevice), proc_null(), 0), Error::Device(_));
    ensure_err!(world.recv(&mut DeviceMut(&mut FakeDevice), proc_null(), 0), Error::Device(_));
    Ok(())
}

/// Runs in the launcher process, where MPI was never initialised.
fn calls_before_init_are_errors(_: &common::Suite) -> std::result::Result<(), String> {
    let expect_not_init = |name: &str, r: Result<()>| match r {
        Err(Error::NotInitialized) => Ok(()),
        other => Err(format!("{name} before init gave {other:?}, expected NotInitialized")),
    };
    expect_not_init("query_thread", mpi4rs::query_thread().map(drop))?;
    expect_not_init("is_thread_main", mpi4rs::is_thread_main().map(drop))?;
    expect_not_init("processor_name", mpi4rs::processor_name().map(drop))?;
    expect_not_init("abort", mpi4rs::abort(1).map(drop))?;
    // These are allowed before init.
    if mpi4rs::is_initialized() != Ok(false)
        || mpi4rs::version().is_err()
        || mpi4rs::library_version().is_err()
    {
        return Err("is_initialized/version/library_version must work before init".into());
    }
    Ok(())
}
