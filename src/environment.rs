//! Initialising and finalising MPI, and the process-wide queries of mpi4py's `MPI` module
//! (`Init_thread`, `Finalize`, `Query_thread`, `Get_version`, `Wtime`, `Abort`, …).

use crate::comm::{Comm, Communicator};
use crate::config::{Config, ErrorPolicy};
use crate::error::{mpi_call, require_active, Error, Result};
use crate::runtime::{self, is_active, ThreadLevel};
use crate::{datatype, ffi, util};
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int};
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

pub use crate::runtime::tag_ub;

/// MPI, initialised. Dropping it finalises MPI (`MPI_Finalize`).
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// println!("rank {} of {}", world.rank(), world.size());
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct Environment {
    world: Comm,
    self_comm: Comm,
    thread_level: ThreadLevel,
    config: Config,
    // Dropped explicitly in `Drop`, which calls MPI_Finalize (or not, while panicking).
    // `None` when MPI was initialised by someone else ([`adopt`]): never finalised here.
    universe: Option<ManuallyDrop<mpi::environment::Universe>>,
}

/// Initialises MPI with the configuration from the environment ([`Config::from_env`]).
pub fn init() -> Result<Environment> {
    init_with(Config::from_env()?)
}

/// Held while [`init_with`] or [`adopt_with`] sets the library up.
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Initialises MPI with an explicit configuration.
///
/// Initialisation goes through rsmpi (so its `#[derive(Equivalence)]` types work), asks for
/// the configured thread level, installs the error policy on `COMM_WORLD` and `COMM_SELF`,
/// and, unless switched off, a panic hook that aborts the job so no rank waits forever.
///
/// On Open MPI it first sets `OMPI_MCA_btl_self_flags` and `OMPI_MCA_btl_vader_flags`
/// (`btl_sm_flags` on Open MPI 5) to `send,inplace` in the process's environment, unless you
/// set one of them or other threads run: with RDMA, Open MPI writes a message longer than the
/// receive buffer past its end (see the guide's "Truncation on Open MPI";
/// [`version_info`](crate::version_info()) says whether receives from oneself are guarded
/// instead).
pub fn init_with(config: Config) -> Result<Environment> {
    // One initialisation at a time: a second thread calling `init` at the same moment would
    // pass the check below too, and its failing `MPI_Init` would leave the gate set for it.
    let _one = INIT_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if is_initialized()? {
        return Err(Error::AlreadyInitialized);
    }
    crate::config::check_env()?;
    let threading = match config.requested_thread_level() {
        ThreadLevel::Single => mpi::Threading::Single,
        ThreadLevel::Funneled => mpi::Threading::Funneled,
        ThreadLevel::Serialized => mpi::Threading::Serialized,
        ThreadLevel::Multiple => mpi::Threading::Multiple,
    };
    let prepared = crate::truncation::prepare_before_init(&library_version().unwrap_or_default());
    runtime::record_init_start();
    let Some((universe, _)) = mpi::initialize_with_threading(threading) else {
        runtime::record_init_failed();
        return Err(Error::AlreadyInitialized);
    };
    crate::logging::mpi_log!(Debug, "init", "self transport before MPI_Init: {prepared:?}");
    set_up(config, Some(universe))
}

/// Sets up the library on an initialised MPI: `universe` is `None` for an MPI that someone
/// else initialised ([`adopt_with`]).
fn set_up(config: Config, universe: Option<mpi::environment::Universe>) -> Result<Environment> {
    let adopted = universe.is_none();
    if adopted {
        // A previous adoption on another thread may have left the calls to its thread.
        runtime::open_for_adoption();
    }
    runtime::set_errors_fatal(config.error_policy() == ErrorPolicy::Fatal);
    let world = Comm::predefined(ffi::COMM_WORLD())?;
    let self_comm = Comm::predefined(ffi::COMM_SELF())?;
    let tag_ub = world.tag_ub()?;
    datatype::init_half_types()?;
    crate::op::init_half_ops()?;
    if config.aborts_on_panic() {
        install_panic_abort();
    }
    let thread_level = query_thread()?;
    crate::logging::mpi_log!(
        Debug,
        "init",
        "thread level asked {:?}, given {thread_level:?}",
        config.requested_thread_level()
    );
    if adopted {
        // An adopted MPI's main thread is the one that initialised it, maybe not this one.
        runtime::record_adoption(thread_level, tag_ub, is_thread_main()?);
    } else {
        runtime::record_init(thread_level, tag_ub);
    }
    let overflows = crate::truncation::truncation_overflows()?;
    crate::logging::mpi_log!(Debug, "init", "self-messages overflow a smaller receive: {overflows}");
    runtime::set_guard_self_receives(overflows);
    if !adopted {
        OWNER_LIVE.store(true, Ordering::SeqCst);
        OWNER_THREAD.with(|t| t.set(true));
    }
    Ok(Environment { world, self_comm, thread_level, config, universe: universe.map(ManuallyDrop::new) })
}

/// Adopts an MPI that C code, a C++ or Fortran library, or rsmpi initialised first (where
/// [`init`] returns [`Error::AlreadyInitialized`]), with the configuration from the
/// environment ([`Config::from_env`]).
///
/// The returned [`Environment`] works as [`init`]'s (`ERRORS_RETURN` on `COMM_WORLD` and
/// `COMM_SELF`, the thread level MPI provided, the same checks), but dropping it does **not**
/// finalise MPI: whoever initialised MPI finalises it. The configured thread level cannot be
/// asked for any more; [`Environment::thread_level`] says what MPI provided. MPI must not be
/// finalised while handles made through this library are in use (MPI would abort on them).
///
/// With an MPI that C code initialised, rsmpi's `#[derive(Equivalence)]` types panic when
/// first used (rsmpi insists on initialising MPI itself); [`Datatype`](crate::Datatype)
/// constructors work.
///
/// ```no_run
/// // After C code called MPI_Init (here simulated with rsmpi):
/// let universe = mpi4rs::rsmpi::initialize().unwrap();
/// {
///     let env = mpi4rs::adopt()?;
///     assert!(env.is_adopted());
///     env.world().barrier()?;
/// } // MPI stays initialised
/// drop(universe); // its owner finalises it
/// # use mpi4rs::prelude::*;
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub fn adopt() -> Result<Environment> {
    adopt_with(Config::from_env()?)
}

/// [`adopt`] with an explicit configuration (its thread level is not used: MPI already has
/// one). [`Error::NotInitialized`] if MPI is not initialised or already finalised.
///
/// While the environment [`init`] returned lives, only its thread may adopt (others get
/// [`Error::InvalidArgument`]): dropping that environment finalises MPI, and an adopted
/// environment on another thread could not keep it from doing so while still in use.
pub fn adopt_with(config: Config) -> Result<Environment> {
    let _one = INIT_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !is_initialized()? || is_finalized()? {
        return Err(Error::NotInitialized);
    }
    require_owner_thread("adopt")?;
    set_up(config, None)
}

/// [`init`] if MPI is not initialised yet, else [`adopt`].
pub fn init_or_adopt() -> Result<Environment> {
    let config = Config::from_env()?;
    if is_initialized()? {
        adopt_with(config)
    } else {
        init_with(config)
    }
}

/// Runs a program's body with MPI initialised, and ends the whole job if it fails on any rank
/// (what `python -m mpi4py` does for an uncaught exception).
///
/// Returning `Err` from `main` is not enough in an MPI program: the failing rank drops its
/// [`Environment`], which finalises MPI, while the other ranks wait for it in a receive, a
/// collective or `MPI_Finalize` itself, and the job hangs. `run` initialises MPI (as
/// [`init`]), calls `body`, and
/// - on `Ok(value)`, finalises MPI and returns `Ok(value)`;
/// - on `Err(e)`, prints `mpi4rs: rank R failed: e; aborting the job` to standard error and
///   calls `MPI_Abort` on `COMM_WORLD` with exit code 1, so every rank ends at once (it does
///   not return);
/// - if MPI cannot be initialised, returns that error (there is no job to abort yet).
///
/// A panic in `body` aborts the job too (the panic hook [`init`] installs, unless switched
/// off). The error type is anything printable, so `anyhow::Error` or `Box<dyn Error>` work.
///
/// ```no_run
/// use mpi4rs::prelude::*;
///
/// fn main() -> mpi4rs::Result<()> {
///     mpi4rs::run(|env| {
///         let world = env.world();
///         let mut x = world.rank();
///         world.bcast(&mut x, 0)?; // an Err here on one rank ends every rank
///         Ok::<(), mpi4rs::Error>(())
///     })
/// }
/// ```
pub fn run<T, E, F>(body: F) -> Result<T>
where
    E: std::fmt::Display,
    F: FnOnce(&Environment) -> std::result::Result<T, E>,
{
    run_with(Config::from_env()?, body)
}

/// [`run`] with an explicit configuration (as [`init_with`]).
pub fn run_with<T, E, F>(config: Config, body: F) -> Result<T>
where
    E: std::fmt::Display,
    F: FnOnce(&Environment) -> std::result::Result<T, E>,
{
    let env = init_with(config)?;
    match body(&env) {
        Ok(value) => {
            drop(env);
            Ok(value)
        }
        Err(e) => abort_job(&e.to_string()),
    }
}

/// Prints why this rank fails and aborts the job (exit code 1).
fn abort_job(error: &str) -> ! {
    // Held until the process ends: MPI_Finalize cannot start under it (see `abort_gate`).
    let active = abort_gate();
    let rank = if active.is_some() { crate::runtime::world_rank() } else { -1 };
    eprintln!("mpi4rs: rank {rank} failed: {error}; aborting the job");
    // A moment for the launcher to forward the message before the job ends (as for panics).
    std::thread::sleep(std::time::Duration::from_millis(100));
    if active.is_some() {
        // SAFETY: MPI is initialised and not finalised.
        unsafe { ffi::MPI_Abort(ffi::COMM_WORLD(), 1) };
    }
    // MPI_Abort does not return; should a library return anyway, still end here.
    std::process::exit(1)
}

/// `Some` where this thread may call `MPI_Abort` now: MPI is active and not being finalised by
/// this library. The gate is held (on a thread other than the main one, finalising waits for
/// it); below `THREAD_MULTIPLE` another thread than the main one still aborts (`None` inside
/// means no gate is held), since ending the job beats leaving it hanging.
fn abort_gate() -> Option<Option<runtime::Call>> {
    match runtime::may_call() {
        Ok(call) => is_active().then_some(Some(call)),
        Err(runtime::Refusal::WrongThread(_)) => is_active().then_some(None),
        Err(runtime::Refusal::Finalized) => None,
    }
}

impl Environment {
    /// `COMM_WORLD`.
    pub fn world(&self) -> &Comm {
        &self.world
    }

    /// `COMM_SELF`.
    pub fn self_comm(&self) -> &Comm {
        &self.self_comm
    }

    /// The thread level MPI provided (may be lower than requested).
    pub fn thread_level(&self) -> ThreadLevel {
        self.thread_level
    }

    /// The configuration MPI was initialised with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The rsmpi universe, for code that also uses rsmpi; `None` for an MPI this library
    /// adopted ([`adopt`]: whoever initialised it owns it).
    pub fn rsmpi_universe(&self) -> Option<&mpi::environment::Universe> {
        self.universe.as_deref()
    }

    /// Whether MPI was initialised by someone else and adopted ([`adopt`]): then dropping the
    /// environment leaves MPI initialised.
    pub fn is_adopted(&self) -> bool {
        self.universe.is_none()
    }

    /// Finalises MPI now (the same as dropping the environment).
    pub fn finalize(self) {}
}

impl Drop for Environment {
    /// Finalises MPI — except while a panic unwinds: `MPI_Finalize` is collective, and the
    /// other ranks may be waiting for a message this rank will never send. The process then
    /// exits without finalising and `mpiexec` ends the job.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // Fire-and-forget operations (`Owned::detach`) complete while MPI still runs.
        let _ = crate::owned::complete_detached();
        // An adopted MPI stays initialised, with this library's datatypes and operations (its
        // owner may adopt it again, and finalising frees them).
        let Some(universe) = self.universe.as_mut() else { return };
        // The library's own threads that call MPI (pool progress, spawning) end first, so
        // none overlaps MPI_Finalize; threads of the program that use MPI handles are scoped
        // ones that have ended already (`MultiThreaded` borrows this environment).
        run_finalize_hooks();
        stop_library_threads();
        OWNER_LIVE.store(false, Ordering::SeqCst);
        OWNER_THREAD.with(|t| t.set(false));
        // Every later call is refused, and those other threads have in flight end first
        // (threads not scoped may hold no borrow of this environment: see `crate::thread`).
        runtime::record_finalize();
        // Then no other thread can be using them; this thread's raw calls are not gated.
        datatype::free_half_types();
        crate::op::free_half_ops();
        // SAFETY: dropped once, here; nothing uses `universe` afterwards.
        unsafe { ManuallyDrop::drop(universe) };
    }
}

/// Whether the environment [`init`] returned (the one that finalises MPI) lives.
static OWNER_LIVE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread holds the environment [`init`] returned.
    static OWNER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the environment [`init`] returned lives (so dropping it will finalise MPI).
pub(crate) fn owner_is_live() -> bool {
    OWNER_LIVE.load(Ordering::SeqCst)
}

/// `Err` when called off the thread that holds the environment [`init`] returned, while it
/// lives: for the calls that make a communicator out of nothing (`get_parent`, `join`,
/// `Pool::spawn`), whose handles could otherwise be used on a thread that outlives the
/// environment (see [`crate::thread`]). Without such an environment (MPI adopted from its
/// owner) every thread may.
pub(crate) fn require_owner_thread(what: &str) -> Result<()> {
    if owner_is_live() && !OWNER_THREAD.with(Cell::get) {
        return Err(Error::InvalidArgument(format!(
            "{what}: only on the thread that holds the Environment (dropping it finalises MPI, which this thread might outlive); share a communicator with MultiThreaded and scoped threads instead"
        )));
    }
    Ok(())
}

/// What a library object does if the environment is dropped before it ([`FinalizeHook`]).
type LocalHook = Box<dyn FnOnce()>;

thread_local! {
    /// What library objects of this thread (pools, shared workers) do when the environment is
    /// dropped before them: let their worker processes go, which would otherwise wait for
    /// them in `MPI_Finalize`.
    static FINALIZE_HOOKS: RefCell<Vec<(u64, LocalHook)>> = const { RefCell::new(Vec::new()) };
    static NEXT_HOOK: Cell<u64> = const { Cell::new(0) };
}

/// A registered [`FinalizeHook::register`] action; dropping it unregisters the action.
pub(crate) struct FinalizeHook(u64);

impl FinalizeHook {
    /// Runs `action` on this thread if the environment is dropped (here: it is not `Send`)
    /// while the returned value lives, before `MPI_Finalize`; latest registered first.
    pub(crate) fn register(action: impl FnOnce() + 'static) -> FinalizeHook {
        let id = NEXT_HOOK.with(|n| n.replace(n.get() + 1));
        FINALIZE_HOOKS.with(|h| h.borrow_mut().push((id, Box::new(action))));
        FinalizeHook(id)
    }
}

impl Drop for FinalizeHook {
    fn drop(&mut self) {
        // `try_with`: a hook dropped while this thread's locals are destroyed has nothing to do.
        let _ = FINALIZE_HOOKS.try_with(|h| {
            if let Ok(mut hooks) = h.try_borrow_mut() {
                hooks.retain(|(id, _)| *id != self.0);
            }
        });
    }
}

/// Runs this thread's finalize hooks, latest first (each may drop library objects, whose own
/// hooks are gone by then).
fn run_finalize_hooks() {
    while let Some((_, action)) = FINALIZE_HOOKS.with(|h| h.borrow_mut().pop()) {
        action();
    }
}

/// A stop-and-join of a library thread, run before `MPI_Finalize`.
type StopHook = Box<dyn FnOnce() + Send>;

/// The threads this library started that call MPI, each with how to stop it; `closed` once
/// MPI is being finalised (no thread starts after that).
struct Threads {
    next_id: u64,
    hooks: Vec<(u64, StopHook)>,
    closed: bool,
}

static LIBRARY_THREADS: Mutex<Threads> = Mutex::new(Threads { next_id: 0, hooks: Vec::new(), closed: false });

fn library_threads() -> MutexGuard<'static, Threads> {
    LIBRARY_THREADS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Stops and joins every [`LibraryThread`] (before finalising MPI), and lets no new one start.
fn stop_library_threads() {
    let hooks = {
        let mut threads = library_threads();
        threads.closed = true;
        std::mem::take(&mut threads.hooks)
    };
    for (_, stop) in hooks {
        stop();
    }
}

/// A thread this library starts that calls MPI (a pool's progress thread, its spawning
/// thread): registered so that dropping the [`Environment`] first stops it (with the `stop`
/// given to [`spawn`](Self::spawn)) and joins it, before `MPI_Finalize`. Dropping the
/// `LibraryThread` unregisters it without joining.
pub(crate) struct LibraryThread<T> {
    handle: Arc<Mutex<Option<JoinHandle<T>>>>,
    id: u64,
}

impl<T: Send + 'static> LibraryThread<T> {
    /// Starts `body` on a thread called `name`. When the environment is dropped first,
    /// `stop` must make the thread return soon, and `leftover` gets what it returned (both
    /// run on the thread that drops the environment, before `MPI_Finalize`).
    /// [`Error::NotInitialized`] once MPI is being finalised.
    pub(crate) fn spawn(
        name: &str,
        stop: impl FnOnce() + Send + 'static,
        leftover: impl FnOnce(T) + Send + 'static,
        body: impl FnOnce() -> T + Send + 'static,
    ) -> Result<LibraryThread<T>> {
        let mut threads = library_threads();
        if threads.closed {
            return Err(Error::NotInitialized);
        }
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(body)
            .map_err(|e| Error::InvalidArgument(format!("cannot start a thread: {e}")))?;
        let handle = Arc::new(Mutex::new(Some(handle)));
        let joined = handle.clone();
        let id = threads.next_id;
        threads.next_id += 1;
        threads.hooks.push((
            id,
            Box::new(move || {
                stop();
                // Locked while joining, so a `join` elsewhere that took the handle first has
                // finished before this returns.
                let mut slot = joined.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(Ok(value)) = slot.take().map(JoinHandle::join) {
                    leftover(value);
                }
            }),
        ));
        Ok(LibraryThread { handle, id })
    }

    /// Whether the thread may still run (neither joined nor stopped by the environment).
    pub(crate) fn is_joinable(&self) -> bool {
        self.handle.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Waits for the thread: `None` if the environment already stopped and joined it (MPI is
    /// finalised), `Some(Err)` if it panicked.
    pub(crate) fn join(self) -> Option<std::thread::Result<T>> {
        // Locked while joining (see the stop hook in `spawn`).
        let mut slot = self.handle.lock().unwrap_or_else(|p| p.into_inner());
        slot.take().map(JoinHandle::join)
    }
}

impl<T> Drop for LibraryThread<T> {
    fn drop(&mut self) {
        library_threads().hooks.retain(|(id, _)| *id != self.id);
    }
}

fn install_panic_abort() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Held until the process ends (MPI_Abort) or the hook returns.
        let gate = abort_gate();
        let active = gate.is_some();
        if active {
            // Said first: MPI_Abort kills the job at once, and a launcher (MPICH's hydra) may
            // drop output it has not forwarded yet, so the slow backtrace goes after it.
            let rank = crate::runtime::world_rank();
            eprintln!(
                "mpi4rs: rank {rank} panicked; aborting the job (MPI4RS_RC_ABORT_ON_PANIC=false to disable)"
            );
        }
        previous(info);
        if active {
            // A moment for the launcher to forward the panic message before the job ends.
            std::thread::sleep(std::time::Duration::from_millis(100));
            // SAFETY: MPI is initialised and not finalised.
            unsafe { ffi::MPI_Abort(ffi::COMM_WORLD(), 1) };
        }
    }));
}

/// Whether `MPI_Init` has been called.
pub fn is_initialized() -> Result<bool> {
    let mut flag: c_int = 0;
    mpi_call!(anytime MPI_Initialized(&mut flag))?;
    Ok(flag != 0)
}

/// Whether `MPI_Finalize` has been called.
pub fn is_finalized() -> Result<bool> {
    let mut flag: c_int = 0;
    mpi_call!(anytime MPI_Finalized(&mut flag))?;
    Ok(flag != 0)
}

/// The thread level MPI provides.
pub fn query_thread() -> Result<ThreadLevel> {
    require_active()?;
    let mut level: c_int = 0;
    mpi_call!(MPI_Query_thread(&mut level))?;
    ThreadLevel::from_raw(level)
}

/// Whether the calling thread is the one that initialised MPI.
pub fn is_thread_main() -> Result<bool> {
    require_active()?;
    let mut flag: c_int = 0;
    mpi_call!(MPI_Is_thread_main(&mut flag))?;
    Ok(flag != 0)
}

/// The MPI standard version the library implements, e.g. `(3, 1)`.
pub fn version() -> Result<(i32, i32)> {
    let (mut major, mut minor) = (0, 0);
    mpi_call!(anytime MPI_Get_version(&mut major, &mut minor))?;
    Ok((major, minor))
}

/// The MPI library's own version string (`MPI_Get_library_version`).
pub fn library_version() -> Result<String> {
    let mut buf = vec![0 as c_char; ffi::MAX_LIBRARY_VERSION_STRING() as usize + 1];
    let mut len: c_int = 0;
    mpi_call!(anytime MPI_Get_library_version(buf.as_mut_ptr(), &mut len))?;
    Ok(util::string_from_c(&buf, len).trim_end().to_string())
}

/// The name of this processor (`MPI_Get_processor_name`).
pub fn processor_name() -> Result<String> {
    require_active()?;
    let mut buf = vec![0 as c_char; ffi::MAX_PROCESSOR_NAME() as usize + 1];
    let mut len: c_int = 0;
    mpi_call!(MPI_Get_processor_name(buf.as_mut_ptr(), &mut len))?;
    Ok(util::string_from_c(&buf, len))
}

/// Wall-clock time in seconds (`MPI_Wtime`).
#[inline]
pub fn wtime() -> f64 {
    // SAFETY: the shim's MPI_Wtime, which MPI allows from any thread at any time.
    unsafe { ffi::mpi4rs_wtime() }
}

/// Resolution of [`wtime`] in seconds (`MPI_Wtick`).
pub fn wtick() -> f64 {
    // SAFETY: the shim's MPI_Wtick, which MPI allows from any thread at any time.
    unsafe { ffi::mpi4rs_wtick() }
}

/// Aborts every process of `COMM_WORLD` with `errorcode` (`MPI_Abort`).
pub fn abort(errorcode: i32) -> Result<std::convert::Infallible> {
    require_active()?;
    mpi_call!(MPI_Abort(ffi::COMM_WORLD(), errorcode))?;
    // MPI_Abort does not return on success; should a library return anyway, still end here.
    std::process::exit(errorcode)
}
