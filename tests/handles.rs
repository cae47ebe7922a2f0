//! Per-handle control and the smaller pieces mpi4py users reach for (issue 17): error
//! handlers, idup / dup_with_info / info / split_type, Request::free, MPI-allocated memory,
//! adopting an initialised MPI, datatype introspection, external32 packing, counts in derived
//! units, the vendor.
mod common;

use common::{describe, limit, neighbours, rank_size, Suite, SKIPPED};
use mpi4rs::file::{AccessMode, File};
use mpi4rs::prelude::*;
use mpi4rs::{
    ffi, AttrCopy, Combiner, Comparison, Datatype, Environment, Errhandler, Error, ErrorClass, Info, Keyval,
    MpiMem, Owned, Persistent, Result, SplitType, Typed, Win,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const ADOPT_CHILD: &str = "MPI4RS_TEST_ADOPT_FROM_C";

fn main() {
    if std::env::var_os(ADOPT_CHILD).is_some() {
        adopt_from_c_main();
        return;
    }
    Suite::new("handles")
        .case("errhandler_predefined", errhandler_predefined)
        .case("errhandler_closure_comm", errhandler_closure_comm)
        .case("errhandler_sees_errors_that_still_return", errhandler_sees_errors_that_still_return)
        .case("errhandler_win_and_file", errhandler_win_and_file)
        .case("idup", idup)
        .case("idup_forgotten_and_dropped", idup_forgotten_and_dropped)
        .case("dup_with_info_and_info", dup_with_info_and_info)
        .case("split_type", split_type)
        .case("request_free", request_free)
        .case("owned_and_detached", owned_and_detached)
        .case("alloc_mem", alloc_mem)
        .case("adopt_while_initialised", adopt_while_initialised)
        .case("datatype_introspection", datatype_introspection)
        .case("pack_external", pack_external)
        .case("counts_in_derived_units", counts_in_derived_units)
        .case("vendor", vendor)
        .case("attributes_comm", attributes_comm)
        .case("attributes_win_and_datatype", attributes_win_and_datatype)
        .hidden("errhandler_fatal_ends_job", errhandler_fatal_ends_job)
        .hidden("errhandler_panic_ends_job", errhandler_panic_ends_job)
        .check("fatal_errhandler_aborts", check_fatal_aborts)
        .check("panicking_errhandler_aborts", check_panic_aborts)
        .check("adopt_mpi_initialised_by_c", check_adopt_from_c)
        .run();
}

fn errhandler_predefined(env: &Environment) -> Result<()> {
    let comm = env.world().dup()?;
    ensure!(comm.errhandler()?.is_returning(), "mpi4rs installs ERRORS_RETURN");
    comm.set_errhandler(&Errhandler::fatal())?;
    ensure!(comm.errhandler()?.is_fatal());
    // Only this communicator changed.
    ensure!(env.world().errhandler()?.is_returning());
    comm.set_errhandler(&Errhandler::returning())?;
    ensure!(comm.errhandler()?.is_returning());
    comm.barrier()?;
    Ok(())
}

fn counting_handler(
    seen: &Arc<AtomicUsize>,
    classes: &Arc<std::sync::Mutex<Vec<Option<ErrorClass>>>>,
) -> Result<Errhandler> {
    let (seen, classes) = (seen.clone(), classes.clone());
    Errhandler::for_comm(move |e| {
        seen.fetch_add(1, Ordering::SeqCst);
        classes.lock().unwrap().push(e.class());
    })
}

fn errhandler_closure_comm(env: &Environment) -> Result<()> {
    let comm = env.world().dup()?;
    let seen = Arc::new(AtomicUsize::new(0));
    let classes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = counting_handler(&seen, &classes)?;
    comm.set_errhandler(&handler)?;
    drop(handler); // MPI keeps it alive while the communicator uses it
    let _ = comm.call_errhandler(ffi::ERR_OTHER());
    ensure_eq!(seen.load(Ordering::SeqCst), 1);
    ensure_eq!(classes.lock().unwrap()[0], Some(ErrorClass::OtherError));
    ensure!(!comm.errhandler()?.is_returning() && !comm.errhandler()?.is_fatal());
    // A handler for windows cannot go on a communicator.
    let for_win = Errhandler::for_win(|_| {})?;
    ensure_err!(comm.set_errhandler(&for_win), Error::InvalidArgument(_));
    // Other communicators are untouched.
    let _ = env.world().call_errhandler(ffi::ERR_OTHER());
    ensure_eq!(seen.load(Ordering::SeqCst), 1);
    comm.barrier()?;
    Ok(())
}

/// With a user handler installed, an error MPI detects still comes back as `Err`, after the
/// handler saw it: here `MPI_Alloc_mem` of an impossible size, whose errors go to
/// COMM_WORLD's handler.
fn errhandler_sees_errors_that_still_return(env: &Environment) -> Result<()> {
    let world = env.world();
    let seen = Arc::new(AtomicUsize::new(0));
    let classes = Arc::new(std::sync::Mutex::new(Vec::new()));
    world.set_errhandler(&counting_handler(&seen, &classes)?)?;
    let result = MpiMem::<u8>::zeroed(1 << 60);
    // An invalid argument MPI itself detects (a destination rank past the end), through the
    // raw call: nothing is sent.
    let x = 0i32;
    // SAFETY: valid arguments except the rank, which MPI checks before sending anything.
    let rc = unsafe {
        ffi::MPI_Send((&x as *const i32).cast(), 1, ffi::INT32_T(), world.size() + 1000, 0, world.as_raw())
    };
    let split_seen = seen.load(Ordering::SeqCst);
    world.set_errhandler(&Errhandler::returning())?;
    let e = ensure_err!(result, Error::Mpi { .. });
    ensure!(rc != 0, "MPI_Send to a rank past the end succeeded");
    // Open MPI reports the failed allocation to the handler; MPICH 4.0 reports success with
    // the address 0x10, which MpiMem refuses without MPI's handler being involved.
    let alloc_seen = if mpi4rs::vendor()?.0 == "Open MPI" { 1 } else { 0 };
    ensure!(split_seen == alloc_seen + 1, "the handler saw {split_seen} errors; {e}");
    ensure_eq!(classes.lock().unwrap().last().copied().flatten(), Some(ErrorClass::Rank));
    world.barrier()?;
    Ok(())
}

fn errhandler_win_and_file(env: &Environment) -> Result<()> {
    let world = env.world();
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let win = Win::allocate(64, 1, &[], world)?;
    let wh = Errhandler::for_win(move |_| {
        s.fetch_add(1, Ordering::SeqCst);
    })?;
    ensure_err!(win.set_errhandler(&Errhandler::for_comm(|_| {})?), Error::InvalidArgument(_));
    win.set_errhandler(&wh)?;
    let _ = win.call_errhandler(ffi::ERR_OTHER());
    ensure_eq!(seen.load(Ordering::SeqCst), 1);
    win.set_errhandler(&Errhandler::fatal())?;
    ensure!(win.errhandler()?.is_fatal());
    win.set_errhandler(&Errhandler::returning())?;
    drop(win);

    let path = std::env::temp_dir().join(format!("mpi4rs-handles-{}-{}", std::process::id(), world.rank()));
    let file = File::open(
        env.self_comm(),
        &path,
        AccessMode::RDWR | AccessMode::CREATE | AccessMode::DELETE_ON_CLOSE,
    )?;
    let s = seen.clone();
    let fh = Errhandler::for_file(move |_| {
        s.fetch_add(10, Ordering::SeqCst);
    })?;
    ensure_err!(file.set_errhandler(&wh), Error::InvalidArgument(_));
    file.set_errhandler(&fh)?;
    let _ = file.call_errhandler(ffi::ERR_OTHER());
    ensure_eq!(seen.load(Ordering::SeqCst), 11);
    file.set_errhandler(&Errhandler::returning())?;
    ensure!(file.errhandler()?.is_returning());
    file.close()?;
    world.barrier()?;
    Ok(())
}

fn errhandler_fatal_ends_job(env: &Environment) -> Result<()> {
    let comm = env.world().dup()?;
    comm.set_errhandler(&Errhandler::fatal())?;
    if comm.rank() == 0 {
        let _ = comm.call_errhandler(ffi::ERR_OTHER());
        println!("MARKER: survived a fatal error handler");
    }
    comm.barrier()?;
    Ok(())
}

fn errhandler_panic_ends_job(env: &Environment) -> Result<()> {
    let comm = env.world().dup()?;
    comm.set_errhandler(&Errhandler::for_comm(|_| panic!("PANIC IN HANDLER"))?)?;
    if comm.rank() == 0 {
        let _ = comm.call_errhandler(ffi::ERR_OTHER());
        println!("MARKER: survived a panicking error handler");
    }
    comm.barrier()?;
    Ok(())
}

fn failed_promptly(what: &str, out: &mpi4rs::launcher::JobOutput) -> std::result::Result<(), String> {
    if out.success() || out.code == Some(0) {
        return Err(format!("{what}: the job succeeded; it should have failed\n{}", describe(out)));
    }
    if out.timed_out || out.elapsed > limit() / 2 {
        return Err(format!("{what}: the job hung\n{}", describe(out)));
    }
    if out.text().contains("MARKER: survived") {
        return Err(format!("{what}: the rank went on\n{}", describe(out)));
    }
    Ok(())
}

fn check_fatal_aborts(suite: &Suite) -> std::result::Result<(), String> {
    failed_promptly(
        "ERRORS_ARE_FATAL on one communicator",
        &suite.job(2, Some("errhandler_fatal_ends_job"), &[]),
    )
}

fn check_panic_aborts(suite: &Suite) -> std::result::Result<(), String> {
    let out = suite.job(2, Some("errhandler_panic_ends_job"), &[]);
    failed_promptly("a panicking error handler", &out)?;
    if !out.text().contains("PANIC IN HANDLER") {
        return Err(format!("the panic message is missing\n{}", describe(&out)));
    }
    Ok(())
}

fn idup(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let mut pending = world.idup()?;
    // Work while the duplicate is made; test until ready.
    while !pending.test()? {
        std::thread::yield_now();
    }
    let dup = pending.wait()?;
    ensure_eq!(world.compare(&dup)?, Comparison::Congruent);
    ensure_eq!((dup.rank(), dup.size()), (me, n));
    ensure!(dup.errhandler()?.is_returning());
    // Two at once, completed in reverse order.
    let (a, b) = (dup.idup()?, world.idup()?);
    let b = b.wait()?;
    let a = a.wait()?;
    let (right, left) = neighbours(env);
    let mut got = [0i32; 2];
    a.sendrecv(&me, right, 1, &mut got[0], left, 1)?;
    b.sendrecv(&me, right, 1, &mut got[1], left, 1)?;
    ensure_eq!(got, [left, left]);
    Ok(())
}

fn idup_forgotten_and_dropped(env: &Environment) -> Result<()> {
    let world = env.world();
    // Forgetting leaks the heap cell MPI writes the handle into: nothing else is touched.
    std::mem::forget(world.idup()?);
    // Dropping waits for the duplicate and frees it.
    drop(world.idup()?);
    world.barrier()?;
    let dup = world.idup()?.wait()?;
    dup.barrier()?;
    Ok(())
}

fn dup_with_info_and_info(env: &Environment) -> Result<()> {
    let world = env.world();
    let hints = Info::from_pairs([("mpi_assert_no_any_tag", "true"), ("mpi4rs_test_key", "1")])?;
    let dup = world.dup_with_info(&hints)?;
    ensure_eq!(world.compare(&dup)?, Comparison::Congruent);
    // MPI may drop hints it ignores; what it reports must be readable.
    let info = dup.info()?;
    let _pairs = info.pairs()?;
    dup.set_info(&Info::from_pairs([("mpi_assert_no_any_source", "true")])?)?;
    let _ = dup.info()?.pairs()?;
    let (right, left) = neighbours(env);
    let mut got = -1i32;
    dup.sendrecv(&world.rank(), right, 3, &mut got, left, 3)?;
    ensure_eq!(got, left);
    Ok(())
}

fn split_type(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // Every test job runs on one node.
    let node = world.split_type(Some(SplitType::Shared), me, None)?;
    let node = node.ok_or_else(|| Error::InvalidArgument("Shared gave None".into()))?;
    ensure_eq!((node.size(), node.rank()), (n, me));
    ensure!(world.split_type(None, 0, None)?.is_none());
    for ty in SplitType::ALL {
        if !ty.is_available() {
            let e = ensure_err!(world.split_type(Some(ty), 0, None), Error::Unsupported(_));
            ensure!(e.to_string().contains(&format!("{ty:?}")));
            continue;
        }
        let info = match ty {
            SplitType::HwGuided => Some(SplitType::hw_guided_info("mpi_shared_memory")?),
            SplitType::Neighborhood => Some(Info::from_pairs([("nbhd_common_dirname", "/tmp")])?),
            _ => None,
        };
        match world.split_type(Some(ty), 0, info.as_ref())? {
            Some(c) => ensure!(c.size() >= 1 && c.size() <= n, "{ty:?} gave {} ranks", c.size()),
            None => ensure!(ty != SplitType::Shared),
        }
        world.barrier()?;
    }
    if SplitType::HwGuided.is_available() {
        let info = SplitType::hw_guided_info("mpi_shared_memory")?;
        let c = world.split_type(Some(SplitType::HwGuided), 0, Some(&info))?;
        ensure_eq!(c.map(|c| c.size()), Some(n));
    }
    Ok(())
}

fn request_free(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let payload = [me; 64];
    let mut got = [0i32; 64];
    mpi4rs::scope(|s| {
        world.isend(s, &payload, right, 7)?.free()?; // fire and forget
        world.recv(&mut got, left, 7)?;
        Ok(())
    })?; // the scope completed the send
    ensure_eq!(got, [left; 64]);
    // A freed receive: its buffer is filled once the scope ends.
    let mut got2 = 0i32;
    mpi4rs::scope(|s| {
        world.irecv(s, &mut got2, left, 8)?.free()?;
        world.send(&(me + 100), right, 8)?;
        Ok(())
    })?;
    ensure_eq!(got2, left + 100);
    // A nonblocking collective's request cannot be freed (MPI forbids it): an error, and the
    // request is waited for on drop.
    let e = ensure_err!(world.ibarrier()?.free(), Error::InvalidArgument(_));
    ensure!(e.to_string().contains("nonblocking collective"));
    world.barrier()?;
    Ok(())
}

fn alloc_mem(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let mut data = MpiMem::<f64>::zeroed(1000)?;
    ensure_eq!(data.len(), 1000);
    ensure!(data.iter().all(|&x| x == 0.0));
    data.fill(f64::from(me));
    world.allreduce_in_place(&mut data, &Op::SUM)?;
    ensure!(data.iter().all(|&x| x == f64::from(n * (n - 1) / 2)));
    let empty = MpiMem::<u32>::zeroed(0)?;
    ensure!(empty.is_empty());
    let hints = Info::from_pairs([("mpi_minimum_memory_alignment", "64")])?;
    let aligned = MpiMem::<u64>::zeroed_with(16, Some(&hints))?;
    ensure_eq!(aligned.len(), 16);
    // A Persistent ring over MPI memory.
    let (right, left) = neighbours(env);
    let mut ring = Persistent::new(MpiMem::<i32>::zeroed(8)?, |s, buf| {
        let (out, inp) = buf.split_at_mut(4);
        world.recv_init(s, inp, left, 0)?;
        world.send_init(s, &*out, right, 0)?;
        Ok(())
    })?;
    for step in 0..3 {
        ring.get_mut()?[..4].fill(me * 10 + step);
        ring.start()?;
        ring.wait()?;
        ensure_eq!(ring.get()?[4..], [left * 10 + step; 4]);
    }
    // A size MPI cannot allocate is an error, not an abort.
    ensure_err!(MpiMem::<u8>::zeroed(1 << 60), Error::Mpi { .. });
    ensure_err!(MpiMem::<u64>::zeroed(usize::MAX / 4), Error::CountOverflow { .. });
    world.barrier()?;
    Ok(())
}

fn adopt_while_initialised(env: &Environment) -> Result<()> {
    ensure!(!env.is_adopted());
    ensure!(env.rsmpi_universe().is_some());
    ensure_err!(mpi4rs::init(), Error::AlreadyInitialized);
    {
        let adopted = mpi4rs::adopt()?;
        ensure!(adopted.is_adopted() && adopted.rsmpi_universe().is_none());
        let mut x = adopted.world().rank();
        adopted.world().allreduce_in_place(&mut x, &Op::SUM)?;
        let n = adopted.world().size();
        ensure_eq!(x, n * (n - 1) / 2);
    } // dropping the adopted environment leaves MPI alone
    ensure!(mpi4rs::is_initialized()? && !mpi4rs::is_finalized()?);
    let again = mpi4rs::init_or_adopt()?;
    ensure!(again.is_adopted());
    env.world().barrier()?;
    Ok(())
}

/// A program whose C side (here raw `MPI_Init_thread`) initialised MPI adopts it, drops the
/// environment, and finalises MPI itself.
fn adopt_from_c_main() {
    let mut provided = 0;
    // SAFETY: called once, before anything else uses MPI, as C code would.
    let rc = unsafe {
        ffi::MPI_Init_thread(std::ptr::null_mut(), std::ptr::null_mut(), ffi::THREAD_SINGLE(), &mut provided)
    };
    assert_eq!(rc, 0, "MPI_Init_thread");
    let result = (|| -> Result<i32> {
        let env = mpi4rs::adopt()?;
        if !env.is_adopted() {
            return Err(Error::InvalidArgument("not adopted".into()));
        }
        let world = env.world();
        let mut x = 1i32;
        world.allreduce_in_place(&mut x, &Op::SUM)?;
        let buf = [world.rank(); 4];
        let mut all = vec![0i32; 4 * world.size() as usize];
        world.allgather(&buf, &mut all)?;
        drop(env);
        if !mpi4rs::is_initialized()? || mpi4rs::is_finalized()? {
            return Err(Error::InvalidArgument("dropping the adopted environment finalised MPI".into()));
        }
        Ok(x)
    })();
    match result {
        Ok(x) => println!("ADOPTED: sum {x}"),
        Err(e) => {
            eprintln!("adopt failed: {e}");
            // SAFETY: MPI is initialised.
            unsafe { ffi::MPI_Abort(ffi::COMM_WORLD(), 1) };
        }
    }
    // SAFETY: the C side finalises what it initialised.
    unsafe { ffi::MPI_Finalize() };
}

fn check_adopt_from_c(suite: &Suite) -> std::result::Result<(), String> {
    for np in [1, 2, 3] {
        let out = suite.job(np, None, &[(ADOPT_CHILD, "1")]);
        let want = format!("ADOPTED: sum {np}");
        if !out.success() || out.text().matches(&want).count() != np {
            return Err(format!("np={np}: expected {want:?} from every rank\n{}", describe(&out)));
        }
    }
    let _ = SKIPPED;
    Ok(())
}

fn datatype_introspection(_env: &Environment) -> Result<()> {
    let f64t = Datatype::of::<f64>()?;
    ensure_eq!(f64t.combiner()?, Combiner::Named);
    ensure_err!(f64t.contents(), Error::InvalidArgument(_));
    let vec = Datatype::vector(3, 2, 5, &f64t)?;
    let env = vec.envelope()?;
    ensure_eq!((env.combiner, env.integers, env.addresses, env.datatypes), (Combiner::Vector, 3, 0, 1));
    let c = vec.contents()?;
    ensure_eq!(c.integers, [3, 2, 5]);
    ensure_eq!(c.datatypes.len(), 1);
    ensure_eq!(c.datatypes[0].combiner()?, Combiner::Named);
    ensure_eq!(c.datatypes[0].dtype(), Some(mpi4rs::DType::F64));
    // A derived argument comes back as an owned handle with the same layout.
    let outer = Datatype::contiguous(4, &vec)?;
    let c = outer.contents()?;
    ensure_eq!((c.combiner, c.integers.as_slice()), (Combiner::Contiguous, &[4][..]));
    ensure_eq!(c.datatypes[0].combiner()?, Combiner::Vector);
    ensure_eq!(c.datatypes[0].size(), vec.size());
    let resized = Datatype::resized(0, 64, &f64t)?;
    let c = resized.contents()?;
    ensure_eq!((c.combiner, c.addresses.as_slice()), (Combiner::Resized, &[0isize, 64][..]));
    let dup = vec.dup()?;
    ensure_eq!(dup.combiner()?, Combiner::Dup);
    let s = Datatype::create_struct(&[1, 2], &[0, 8], &[&Datatype::of::<i32>()?, &f64t])?;
    let c = s.contents()?;
    ensure_eq!(c.combiner, Combiner::Struct);
    ensure_eq!(c.integers, [2, 1, 2]);
    ensure_eq!(c.addresses, [0, 8]);
    ensure_eq!(c.datatypes.len(), 2);
    Ok(())
}

fn pack_external(env: &Environment) -> Result<()> {
    let _ = env;
    let values = [1i32, -2, 0x01020304];
    let mut bytes = vec![0u8; mpi4rs::pack_external_size(3, &Datatype::of::<i32>()?)?];
    ensure_eq!(bytes.len(), 12);
    let mut pos = 0;
    mpi4rs::pack_external(&values[..], &mut bytes, &mut pos)?;
    ensure_eq!(pos, 12);
    // external32 is big-endian whatever the machine.
    ensure_eq!(bytes[..4], [0, 0, 0, 1]);
    ensure_eq!(bytes[8..], [1, 2, 3, 4]);
    let d = [1.5f64];
    let mut more = vec![0u8; 8];
    let mut p2 = 0;
    mpi4rs::pack_external(&d[..], &mut more, &mut p2)?;
    ensure_eq!(more, 1.5f64.to_be_bytes());
    let mut back = [0i32; 3];
    let mut rpos = 0;
    mpi4rs::unpack_external(&bytes, &mut rpos, &mut back[..])?;
    ensure_eq!((back, rpos), (values, 12));
    // Too little room or too little data: errors, nothing touched.
    let mut small = [0u8; 11];
    let mut p = 0;
    ensure_err!(mpi4rs::pack_external(&values[..], &mut small, &mut p), Error::InvalidArgument(_));
    ensure_eq!((p, small), (0, [0u8; 11]));
    let mut out = [7i32; 3];
    let mut p = 4;
    ensure_err!(mpi4rs::unpack_external(&bytes, &mut p, &mut out[..]), Error::InvalidArgument(_));
    ensure_eq!(out, [7; 3]);
    let mut p = 13;
    ensure_err!(mpi4rs::pack_external(&values[..], &mut bytes, &mut p), Error::InvalidArgument(_));
    // A derived datatype packs its type map only.
    let every_other = Datatype::vector(2, 1, 2, &Datatype::of::<i32>()?)?;
    let src = [10i32, 11, 12, 13];
    let mut packed = vec![0u8; mpi4rs::pack_external_size(1, &every_other)?];
    let mut p = 0;
    mpi4rs::pack_external(&Typed::new(&src[..], 1, &every_other)?, &mut packed, &mut p)?;
    ensure_eq!(packed, [0, 0, 0, 10, 0, 0, 0, 12]);
    Ok(())
}

fn counts_in_derived_units(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let pair = Datatype::contiguous(2, &Datatype::of::<i32>()?)?;
    let row = [me; 6];
    let mut got = [0i32; 6];
    // Five ints: two whole pairs and one partial one.
    let st = world.sendrecv(&row[..5], right, 4, &mut got[..], left, 4)?;
    ensure_eq!(st.count::<i32>()?, 5);
    ensure_eq!(st.count_of(&pair)?, None);
    ensure_eq!(st.elements(&pair)?, Some(5));
    let st = world.sendrecv(&row[..], right, 5, &mut got[..], left, 5)?;
    ensure_eq!(st.count_of(&pair)?, Some(3));
    ensure_eq!(st.elements(&Datatype::of::<i32>()?)?, Some(6));
    Ok(())
}

fn vendor(_env: &Environment) -> Result<()> {
    let (name, (major, _, _)) = mpi4rs::vendor()?;
    let text = mpi4rs::library_version()?;
    ensure!(text.contains(&name), "{name} not in {text}");
    ensure!(name == "Open MPI" || name == "MPICH", "vendor {name}");
    ensure!(major >= 3);
    Ok(())
}

/// Counts live values, to show each is dropped exactly once.
#[derive(Debug, PartialEq)]
struct Tracked(Vec<i32>);
static LIVE: AtomicUsize = AtomicUsize::new(0);
impl Tracked {
    fn new(v: Vec<i32>) -> Tracked {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Tracked(v)
    }
}
impl Clone for Tracked {
    fn clone(&self) -> Tracked {
        Tracked::new(self.0.clone())
    }
}
impl Drop for Tracked {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

fn attributes_comm(env: &Environment) -> Result<()> {
    let world = env.world();
    let before = LIVE.load(Ordering::SeqCst);
    let cloned: Keyval<Tracked> = Keyval::for_comm(AttrCopy::Clone)?;
    let dropped: Keyval<String> = Keyval::for_comm(AttrCopy::Drop)?;
    {
        let comm = world.dup()?;
        ensure_eq!(comm.attr(&cloned)?, None);
        comm.set_attr(&cloned, Tracked::new(vec![1, 2, 3]))?;
        comm.set_attr(&dropped, "left behind".to_string())?;
        ensure_eq!(comm.attr(&cloned)?, Some(Tracked::new(vec![1, 2, 3])));
        ensure_eq!(LIVE.load(Ordering::SeqCst), before + 1);
        // Replacing drops the old value.
        comm.set_attr(&cloned, Tracked::new(vec![4]))?;
        ensure_eq!(LIVE.load(Ordering::SeqCst), before + 1);
        // A duplicate gets a clone of one and nothing of the other.
        let dup = comm.dup()?;
        ensure_eq!(LIVE.load(Ordering::SeqCst), before + 2);
        ensure_eq!(dup.attr(&cloned)?.map(|t| t.0.clone()), Some(vec![4]));
        ensure_eq!(dup.attr(&dropped)?, None);
        ensure_eq!(comm.attr(&dropped)?.as_deref(), Some("left behind"));
        // idup copies too.
        let idup = comm.idup()?.wait()?;
        ensure_eq!(idup.attr(&cloned)?.map(|t| t.0.clone()), Some(vec![4]));
        ensure_eq!(LIVE.load(Ordering::SeqCst), before + 3);
        drop(idup);
        ensure!(dup.delete_attr(&cloned)?);
        ensure!(!dup.delete_attr(&cloned)?);
        ensure_eq!(LIVE.load(Ordering::SeqCst), before + 1);
        // A keyval for another kind of handle is refused.
        let for_type: Keyval<Tracked> = Keyval::for_datatype(AttrCopy::Clone)?;
        ensure_err!(comm.set_attr(&for_type, Tracked::new(vec![])), Error::InvalidArgument(_));
    } // freeing the communicators drops their values
    ensure_eq!(LIVE.load(Ordering::SeqCst), before);
    // The keyval may go before the values it keyed: they stay until their handle goes.
    let comm = world.dup()?;
    comm.set_attr(&cloned, Tracked::new(vec![9]))?;
    drop(cloned);
    ensure_eq!(LIVE.load(Ordering::SeqCst), before + 1);
    drop(comm);
    ensure_eq!(LIVE.load(Ordering::SeqCst), before);
    world.barrier()?;
    Ok(())
}

fn attributes_win_and_datatype(env: &Environment) -> Result<()> {
    let world = env.world();
    let before = LIVE.load(Ordering::SeqCst);
    let wk: Keyval<Tracked> = Keyval::for_win()?;
    let win = Win::allocate(8, 1, &[], world)?;
    win.set_attr(&wk, Tracked::new(vec![world.rank()]))?;
    ensure_eq!(win.attr(&wk)?.map(|t| t.0.clone()), Some(vec![world.rank()]));
    drop(win);
    ensure_eq!(LIVE.load(Ordering::SeqCst), before);
    let tk: Keyval<(u32, String)> = Keyval::for_datatype(AttrCopy::Clone)?;
    let t = Datatype::contiguous(3, &Datatype::of::<f32>()?)?;
    t.set_attr(&tk, (7, "xyz".into()))?;
    let d = t.dup()?;
    ensure_eq!(d.attr(&tk)?, Some((7, "xyz".to_string())));
    ensure!(t.delete_attr(&tk)?);
    ensure_eq!(t.attr(&tk)?, None);
    ensure_eq!(d.attr(&tk)?, Some((7, "xyz".to_string())));
    world.barrier()?;
    Ok(())
}

fn owned_and_detached(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    // Owned: the buffer comes back after the operations.
    let set = Owned::new(vec![me; 1000], |s, buf| {
        let (out, inp) = buf.split_at_mut(500);
        Ok(vec![world.irecv(s, inp, left, 20)?, world.isend(s, &*out, right, 20)?])
    })?;
    let back = set.wait()?;
    ensure_eq!(back[..500], [me; 500][..]);
    ensure_eq!(back[500..], [left; 500][..]);
    // Test until done, then drop (nothing left to wait for).
    let mut set =
        Owned::new(MpiMem::<i32>::zeroed(4)?, |s, buf| Ok(vec![world.irecv(s, &mut buf[..], left, 21)?]))?;
    world.send(&[me; 4][..], right, 21)?;
    while !set.test()? {
        std::thread::yield_now();
    }
    ensure_eq!(set.wait()?[..], [left; 4][..]);
    // Fire and forget: many sends detached, then matched; completed by complete_detached.
    for i in 0..20 {
        Owned::new(vec![me * 100 + i; 256], |s, buf| Ok(vec![world.isend(s, &buf[..], right, 22)?]))?
            .detach();
    }
    let mut got = [0i32; 256];
    for i in 0..20 {
        world.recv(&mut got[..], left, 22)?;
        ensure_eq!(got, [left * 100 + i; 256]);
    }
    mpi4rs::complete_detached()?;
    ensure_eq!(mpi4rs::detached_count(), 0);
    // One left detached until the environment finalises MPI (which completes it first): its
    // receiver posts it now.
    Owned::new(vec![7u8; 64], |s, buf| Ok(vec![world.isend(s, &buf[..], right, 23)?]))?.detach();
    let mut small = [0u8; 64];
    world.recv(&mut small[..], left, 23)?;
    ensure_eq!(small, [7u8; 64]);
    // Forgetting a set leaks its buffer with it; MPI still finishes into leaked memory.
    std::mem::forget(Owned::new(vec![0i32; 8], |s, buf| {
        Ok(vec![world.irecv(s, &mut buf[..], left, 24)?])
    })?);
    world.send(&[1i32; 8][..], right, 24)?;
    // A failing start completes what it started and returns the error. (A send to PROC_NULL:
    // MPICH completes a send to self only once it is matched.)
    let e = Owned::new(vec![0u8; 4], |s, buf| {
        world.isend(s, &buf[..], mpi4rs::proc_null(), 25)?.free()?;
        world.isend(s, &buf[..], world.size() + 5, 25).map(|r| vec![r])
    });
    ensure_err!(e, Error::InvalidRank { .. });
    world.barrier()?;
    Ok(())
}
