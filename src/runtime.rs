//! The process-wide MPI state that every call consults, kept below everything else: who may
//! call MPI now (the thread level and whether MPI is finalised), the `TAG_UB` read at
//! initialisation and the error policy's handler. [`crate::environment`] sets it when it
//! initialises and finalises MPI; the gate of every checked call ([`crate::error::mpi_call`])
//! reads it. Nothing here calls a layer above (it imports only [`crate::ffi`]).

use crate::ffi;
use std::cell::Cell;
use std::ffi::c_int;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// MPI thread support levels (`MPI_THREAD_*`), ordered from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ThreadLevel {
    /// Only one thread exists.
    Single,
    /// Only the main thread calls MPI.
    Funneled,
    /// Any thread calls MPI, one at a time.
    Serialized,
    /// Any thread calls MPI at any time.
    Multiple,
}

impl ThreadLevel {
    /// The four levels, from least to most.
    pub(crate) const fn all() -> [ThreadLevel; 4] {
        [ThreadLevel::Single, ThreadLevel::Funneled, ThreadLevel::Serialized, ThreadLevel::Multiple]
    }

    /// The raw `MPI_THREAD_*` value.
    pub fn as_raw(self) -> c_int {
        match self {
            ThreadLevel::Single => ffi::THREAD_SINGLE(),
            ThreadLevel::Funneled => ffi::THREAD_FUNNELED(),
            ThreadLevel::Serialized => ffi::THREAD_SERIALIZED(),
            ThreadLevel::Multiple => ffi::THREAD_MULTIPLE(),
        }
    }
}

/// A zero-sized field that makes a handle neither `Send` nor `Sync` (see [`crate::thread`]).
pub(crate) type ThreadBound = PhantomData<*const ()>;

/// `TAG_UB` of COMM_WORLD, read once at initialisation (tags are checked on every call).
static TAG_UB: AtomicI32 = AtomicI32::new(32767);
static ERRORS_FATAL: AtomicBool = AtomicBool::new(false);
/// Whether a receive that may match a message this process sent to itself must learn the
/// message's size first (see [`guard_self_receives`]).
static GUARD_SELF_RECEIVES: AtomicBool = AtomicBool::new(false);
/// Who may call MPI now: [`OPEN`] (any thread: MPI provided `THREAD_MULTIPLE`, or this library
/// has not initialised it), [`INIT_THREAD_ONLY`] (a lower level: only the thread that
/// initialised MPI) or [`FINALIZED`] (nobody; never left: MPI cannot be initialised again).
static CALLERS: AtomicU8 = AtomicU8::new(OPEN);
const OPEN: u8 = 0;
const INIT_THREAD_ONLY: u8 = 1;
const FINALIZED: u8 = 2;
/// The level MPI provided (as an index into [`ThreadLevel::all`]), for the error message.
static PROVIDED: AtomicU8 = AtomicU8::new(3);

thread_local! {
    /// Whether this thread initialised MPI (its "main thread").
    static INIT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Why the calling thread may not call MPI now (made into an `Error` by [`crate::error`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// This library has finalised MPI.
    Finalized,
    /// Another thread than the one that initialised MPI, which provided this level.
    WrongThread(ThreadLevel),
}

/// MPI calls in flight on threads other than the one that initialised MPI, while every thread
/// may call it ([`OPEN`]): finalising waits for them ([`record_finalize`]).
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Leave to call MPI, held across the call ([`may_call`]). On the thread that initialised MPI
/// and below `THREAD_MULTIPLE` it is nothing (no atomic operation); on another thread under
/// `THREAD_MULTIPLE` it counts as a call in flight until dropped, so that `MPI_Finalize` on
/// the main thread cannot start under it.
#[must_use = "the call must be made while the guard lives"]
pub(crate) struct Call {
    counted: bool,
}

impl Drop for Call {
    #[inline(always)]
    fn drop(&mut self) {
        if self.counted {
            leave(&IN_FLIGHT);
        }
    }
}

/// Whether the calling thread may call MPI now: refused once this library has finalised MPI,
/// and from a thread other than the one that initialised MPI when it provided less than
/// `THREAD_MULTIPLE`. Every MPI call goes through it (or its twin [`gate`], which `mpi_call!`
/// uses) and holds the returned [`Call`] across the call: one relaxed load and a thread-local
/// read on the thread that initialised MPI; other threads under `THREAD_MULTIPLE` (or before
/// this library initialised MPI) also count the call in flight ([`enter`]). This is what makes the thread levels sound
/// for the calls that take no handle (handles themselves cannot leave their thread below
/// `MULTIPLE`: see [`crate::thread`]), and what keeps `MPI_Finalize` from starting under a
/// call of another thread.
#[inline(always)]
pub(crate) fn may_call() -> Result<Call, Refusal> {
    match CALLERS.load(Ordering::Relaxed) {
        state if state <= INIT_THREAD_ONLY && INIT_THREAD.with(Cell::get) => Ok(Call { counted: false }),
        state => enter(state),
    }
}

/// What the gate says about one call, for `mpi_call!` and `gated!`, which write the call out
/// in both allowed arms so that the thread that initialised MPI carries no guard at all (not
/// even the flag a [`Call`] holds).
pub(crate) enum Gate {
    /// The thread that initialised MPI: nothing to hold.
    Free,
    /// Another thread: the call is counted while this guard lives.
    Counted(Call),
    /// Refused.
    Refused(Refusal),
}

/// [`may_call`] as a [`Gate`].
#[inline(always)]
pub(crate) fn gate() -> Gate {
    match CALLERS.load(Ordering::Relaxed) {
        state if state <= INIT_THREAD_ONLY && INIT_THREAD.with(Cell::get) => Gate::Free,
        state => match enter(state) {
            Ok(call) => Gate::Counted(call),
            Err(refusal) => Gate::Refused(refusal),
        },
    }
}

/// [`may_call`] for the `Drop` of a handle: `Some` while MPI is initialised, not finalised
/// (by this library or anyone else) and this thread may call it; the handle is left to MPI
/// (freed when it finalises) otherwise.
pub(crate) fn enter_if_active() -> Option<Call> {
    let call = may_call().ok()?;
    is_active().then_some(call)
}

#[cold]
#[inline(never)]
fn refusal(state: u8) -> Refusal {
    if state == FINALIZED {
        Refusal::Finalized
    } else {
        Refusal::WrongThread(ThreadLevel::all()[usize::from(PROVIDED.load(Ordering::Relaxed) & 3)])
    }
}

/// [`may_call`] off the fast path: a thread other than the one that initialised MPI.
#[inline(never)]
fn enter(state: u8) -> Result<Call, Refusal> {
    if state != OPEN {
        return Err(refusal(state));
    }
    enter_counted(&CALLERS, &IN_FLIGHT).map(|()| Call { counted: true })
}

/// Counts a call in flight, then checks again that every thread may still call MPI: either
/// this sees [`FINALIZED`], or [`close`], which stores it before reading the count, sees this
/// call (both sequentially consistent) and waits for it.
fn enter_counted(callers: &AtomicU8, in_flight: &AtomicUsize) -> Result<(), Refusal> {
    in_flight.fetch_add(1, Ordering::SeqCst);
    match callers.load(Ordering::SeqCst) {
        OPEN => Ok(()),
        state => {
            leave(in_flight);
            Err(refusal(state))
        }
    }
}

/// Ends a counted call: its MPI call happens before a finalisation that sees the count drop.
fn leave(in_flight: &AtomicUsize) {
    in_flight.fetch_sub(1, Ordering::SeqCst);
}

/// Refuses every later call, then waits until no counted call is in flight. A call still in
/// flight after `warn_after` is one blocked in MPI (a thread waiting for a message while MPI is
/// finalised: a program error); this says so once on stderr and goes on waiting, since
/// finalising under it would be undefined behaviour. Returns how often it looked.
fn close(callers: &AtomicU8, in_flight: &AtomicUsize, warn_after: Duration) -> u64 {
    restrict(callers, in_flight, FINALIZED, "MPI_Finalize", warn_after)
}

/// [`close`] to `state`, for `what` (named in the warning).
fn restrict(callers: &AtomicU8, in_flight: &AtomicUsize, state: u8, what: &str, warn_after: Duration) -> u64 {
    callers.store(state, Ordering::SeqCst);
    let (started, mut looks, mut warned) = (Instant::now(), 0u64, false);
    loop {
        let n = in_flight.load(Ordering::SeqCst);
        looks += 1;
        if n == 0 {
            return looks;
        }
        if looks < 64 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros((looks - 63).min(1000)));
        }
        if !warned && started.elapsed() >= warn_after {
            warned = true;
            eprintln!(
                "mpi4rs: {what} is waiting for {n} MPI call(s) in flight on other threads \
                 (a thread blocked in MPI while the environment is dropped never lets it finish)"
            );
        }
    }
}

/// Sets the error policy (before the first handle is made: each installs [`error_handler`]).
pub(crate) fn set_errors_fatal(fatal: bool) {
    ERRORS_FATAL.store(fatal, Ordering::Relaxed);
}

/// Just before this library initialises MPI, on the thread that does: only this thread may
/// call MPI until [`record_init`] knows the level MPI provides (a call of another thread would
/// otherwise run beside the set-up's calls at any level), and the calls other threads have in
/// flight end first.
pub(crate) fn record_init_start() {
    INIT_THREAD.with(|t| t.set(true));
    restrict(&CALLERS, &IN_FLIGHT, INIT_THREAD_ONLY, "MPI_Init", Duration::from_secs(5));
}

/// After [`record_init_start`], when MPI could not be initialised: this thread is no longer
/// MPI's main thread, and every thread may call it again (as before: the library has not
/// initialised MPI; someone else may have, and [`open_for_adoption`] says the same).
pub(crate) fn record_init_failed() {
    INIT_THREAD.with(|t| t.set(false));
    CALLERS.store(OPEN, Ordering::SeqCst);
}

/// Records a successful initialisation on the calling thread: the level MPI provided and
/// COMM_WORLD's `TAG_UB` (if it has one); every thread may call MPI from now on where it
/// provided `THREAD_MULTIPLE`.
pub(crate) fn record_init(provided: ThreadLevel, tag_ub: Option<i32>) {
    if let Some(ub) = tag_ub {
        TAG_UB.store(ub, Ordering::Relaxed);
    }
    INIT_THREAD.with(|t| t.set(true));
    PROVIDED.store(provided as u8, Ordering::Relaxed);
    let callers = if provided < ThreadLevel::Multiple { INIT_THREAD_ONLY } else { OPEN };
    CALLERS.store(callers, Ordering::SeqCst);
}

/// Before adopting an MPI that someone else initialised (`environment::adopt`): every thread
/// may call it until [`record_adoption`] says which may.
pub(crate) fn open_for_adoption() {
    CALLERS.store(OPEN, Ordering::Relaxed);
}

/// Records an adopted MPI as [`record_init`] does, with whether the calling thread is MPI's
/// main thread (the one that initialised it).
pub(crate) fn record_adoption(provided: ThreadLevel, tag_ub: Option<i32>, main_thread: bool) {
    record_init(provided, tag_ub);
    INIT_THREAD.with(|t| t.set(main_thread));
}

/// Records that this library finalises MPI (just before `MPI_Finalize`, on the thread that
/// initialised it): every later call is refused, and the calls other threads have in flight
/// end first.
pub(crate) fn record_finalize() {
    close(&CALLERS, &IN_FLIGHT, Duration::from_secs(5));
}

/// Whether the error policy is `ERRORS_ARE_FATAL` (set at initialisation).
pub(crate) fn errors_fatal() -> bool {
    ERRORS_FATAL.load(Ordering::Relaxed)
}

/// The error handler the configured policy installs on every communicator.
pub(crate) fn error_handler() -> ffi::MPI_Errhandler {
    if errors_fatal() {
        ffi::ERRORS_ARE_FATAL()
    } else {
        ffi::ERRORS_RETURN()
    }
}

/// The largest valid tag (`TAG_UB` of COMM_WORLD).
#[inline]
pub fn tag_ub() -> i32 {
    TAG_UB.load(Ordering::Relaxed)
}

/// True while MPI calls are allowed (initialised and not finalised). `MPI_Initialized` and
/// `MPI_Finalized` may be called at any time, from any thread; a failing query counts as "no".
pub(crate) fn is_active() -> bool {
    let (mut initialized, mut finalized): (c_int, c_int) = (0, 0);
    // SAFETY: plain out-parameters; both functions may be called before init and after finalize.
    let ok = unsafe {
        ffi::MPI_Initialized(&mut initialized) == ffi::SUCCESS()
            && ffi::MPI_Finalized(&mut finalized) == ffi::SUCCESS()
    };
    ok && initialized != 0 && finalized == 0
}

/// Rank in `COMM_WORLD`, for messages (-1 if it cannot be had).
pub(crate) fn world_rank() -> i32 {
    let mut r = -1;
    // SAFETY: `r` outlives the call; used only while MPI is initialised, under the gate
    // (logging, and messages on abort).
    unsafe { ffi::MPI_Comm_rank(ffi::COMM_WORLD(), &mut r) };
    r
}

/// Set at initialisation where MPI's path for messages a process sends to itself copies the
/// whole message into a smaller receive buffer, writing past its end, before it reports
/// `MPI_ERR_TRUNCATE` (Open MPI's `self` transport with RDMA; measured by
/// `truncation::truncation_overflows`). Receives that may match such a message then probe first
/// or are refused (see `truncation`).
pub(crate) fn set_guard_self_receives(on: bool) {
    GUARD_SELF_RECEIVES.store(on, Ordering::Relaxed);
}

/// Whether receives that may match a message from this process itself must probe first.
#[inline(always)]
pub(crate) fn guard_self_receives() -> bool {
    GUARD_SELF_RECEIVES.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A state and count of its own for each test (the process-wide ones belong to MPI).
    fn fresh_gate() -> Arc<(AtomicU8, AtomicUsize)> {
        Arc::new((AtomicU8::new(OPEN), AtomicUsize::new(0)))
    }

    #[test]
    fn counted_calls_enter_and_leave() {
        let g = fresh_gate();
        assert_eq!(enter_counted(&g.0, &g.1), Ok(()));
        assert_eq!(enter_counted(&g.0, &g.1), Ok(()));
        assert_eq!(g.1.load(Ordering::SeqCst), 2);
        leave(&g.1);
        leave(&g.1);
        assert_eq!(close(&g.0, &g.1, Duration::from_secs(60)), 1, "nothing in flight: no wait");
        assert_eq!(enter_counted(&g.0, &g.1), Err(Refusal::Finalized));
        assert_eq!(g.1.load(Ordering::SeqCst), 0, "a refused call is not left counted");
    }

    #[test]
    fn closing_waits_for_a_call_in_flight() {
        let g = fresh_gate();
        assert_eq!(enter_counted(&g.0, &g.1), Ok(()));
        let g2 = Arc::clone(&g);
        let caller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            leave(&g2.1);
        });
        let started = Instant::now();
        close(&g.0, &g.1, Duration::from_millis(20)); // also says so on stderr
        assert!(started.elapsed() >= Duration::from_millis(90), "{:?}", started.elapsed());
        caller.join().unwrap();
        assert_eq!(enter_counted(&g.0, &g.1), Err(Refusal::Finalized));
    }

    /// Threads entering and leaving in a loop while the gate closes: none is ever inside once
    /// `close` has returned, and all are refused afterwards.
    #[test]
    fn no_call_runs_after_close_returns() {
        for _ in 0..20 {
            let g = fresh_gate();
            let closed = Arc::new(AtomicBool::new(false));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let (g, closed) = (Arc::clone(&g), Arc::clone(&closed));
                    std::thread::spawn(move || {
                        let mut calls = 0u64;
                        while enter_counted(&g.0, &g.1).is_ok() {
                            assert!(!closed.load(Ordering::SeqCst), "a call ran after close returned");
                            std::hint::spin_loop();
                            assert!(!closed.load(Ordering::SeqCst), "a call ran after close returned");
                            leave(&g.1);
                            calls += 1;
                        }
                        calls
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(2));
            close(&g.0, &g.1, Duration::from_secs(60));
            closed.store(true, Ordering::SeqCst);
            for t in threads {
                t.join().expect("a caller saw a call after close");
            }
            assert_eq!(g.1.load(Ordering::SeqCst), 0);
        }
    }
}
