//! Initialising and finalising MPI, and the process-wide queries of mpi4py's `MPI` module
//! (`Init_thread`, `Finalize`, `Query_thread`, `Get_version`, `Wtime`, `Abort`, …).

use crate::comm::{Comm, Communicator};
use crate::config::{Config, ErrorPolicy};
use crate::error::{mpi_call, require_active, Error, Result};
use crate::runtime::{self, is_active, ThreadLevel};
use crate::{datatype, ffi, util};
use std::ffi::{c_char, c_int};
use std::mem::ManuallyDrop;

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

/// Initialises MPI with an explicit configuration.
///
/// Initialisation goes through rsmpi (so its `#[derive(Equivalence)]` types work), asks for
/// the configured thread level, installs the error policy on `COMM_WORLD` and `COMM_SELF`,
/// and, unless switched off, a panic hook that aborts the job so no rank waits forever.
///
/// On Open MPI it first sets `OMPI_MCA_btl_self_flags=send,inplace` in the process's
/// environment, unless the variable is set already or other threads run: Open MPI's `self`
/// transport with RDMA writes a message a process sends to itself past the end of a smaller
/// receive buffer (see the guide's "Truncation on Open MPI"; [`version_info`](crate::version_info)
/// says whether receives from oneself are guarded instead).
pub fn init_with(config: Config) -> Result<Environment> {
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
    let (universe, _) = mpi::initialize_with_threading(threading).ok_or(Error::AlreadyInitialized)?;
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
pub fn adopt_with(config: Config) -> Result<Environment> {
    if !is_initialized()? || is_finalized()? {
        return Err(Error::NotInitialized);
    }
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
    let rank = if is_active() { crate::runtime::world_rank() } else { -1 };
    eprintln!("mpi4rs: rank {rank} failed: {error}; aborting the job");
    // A moment for the launcher to forward the message before the job ends (as for panics).
    std::thread::sleep(std::time::Duration::from_millis(100));
    if is_active() {
        // SAFETY: MPI is initialised and not finalised.
        unsafe { ffi::MPI_Abort(ffi::COMM_WORLD(), 1) };
    }
    // MPI_Abort does not return; should a library return anyway, still end here.
    std::process::exit(1)
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
        datatype::free_half_types();
        crate::op::free_half_ops();
        runtime::record_finalize();
        // SAFETY: dropped once, here; nothing uses `universe` afterwards.
        unsafe { ManuallyDrop::drop(universe) };
    }
}

fn install_panic_abort() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let active = is_active();
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
