//! What the library reports, through the [`log`] facade.
//!
//! Every message has a target under `mpi4rs::` (`mpi4rs::transfer`, `mpi4rs::init`, …) and
//! starts with the rank in `COMM_WORLD` (`[rank 3] …`; `[rank ?]` before `MPI_Init`), so any
//! logger (`env_logger`, `tracing-log`, …) can filter them per target and level:
//!
//! ```no_run
//! // With env_logger in your program: RUST_LOG=mpi4rs::transfer=debug
//! // env_logger::init();
//! let env = mpi4rs::init()?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! Without a logger (the facade's maximum level is `Off`), `MPI4RS_LOG=LEVEL` (`error`, `warn`,
//! `info`, `debug`, `trace`; default `off`) prints the messages up to that level on standard
//! error, as `[mpi4rs debug rank 3] mpi4rs::transfer: …`. Today the library reports:
//!
//! | target | level | what |
//! |---|---|---|
//! | `mpi4rs::transfer` | `info` | whether the MPI is taken as CUDA-aware, and why |
//! | `mpi4rs::transfer` | `debug` | the path (host, direct, staged) of each device buffer |
//! | `mpi4rs::init` | `debug` | the thread level asked for and given |
//!
//! A rank that fails in [`run`](crate::run) or panics prints its message on standard error
//! whatever the logging settings: it precedes `MPI_Abort`.

use log::{Level, LevelFilter};
use std::fmt::Arguments;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

/// Logs through [`emit`]: `mpi_log!(Debug, "transfer", "format", args…)` at target
/// `mpi4rs::transfer`.
macro_rules! mpi_log {
    ($level:ident, $target:literal, $($arg:tt)+) => {
        if $crate::logging::enabled(::log::Level::$level) {
            $crate::logging::emit(::log::Level::$level, concat!("mpi4rs::", $target), format_args!($($arg)+))
        }
    };
}
pub(crate) use mpi_log;

/// The `MPI4RS_LOG` level (`Off` when unset or invalid; `init` refuses an invalid one).
fn fallback_level() -> LevelFilter {
    static LEVEL: OnceLock<LevelFilter> = OnceLock::new();
    *LEVEL.get_or_init(|| match mpi4rs_device::env::var("MPI4RS_LOG") {
        Ok(Some(v)) => crate::config::parse_log_level("MPI4RS_LOG", &v).unwrap_or(LevelFilter::Off),
        _ => LevelFilter::Off,
    })
}

/// Whether a logger is installed: one that wants nothing cannot be told from none.
fn logger_installed() -> bool {
    log::max_level() != LevelFilter::Off
}

/// Whether a message at `level` goes anywhere (cheap: checked before formatting).
#[inline]
pub(crate) fn enabled(level: Level) -> bool {
    if logger_installed() {
        level <= log::max_level()
    } else {
        level <= fallback_level()
    }
}

/// This process's rank in `COMM_WORLD`, once MPI is running; `None` before.
fn rank() -> Option<i32> {
    static RANK: AtomicI32 = AtomicI32::new(-1);
    match RANK.load(Ordering::Relaxed) {
        // Logged from any thread: the rank is read under the gate, as every call.
        -1 => {
            let _call = crate::runtime::enter_if_active()?;
            // A failure gives -1, and the rank is asked again next time.
            let r = crate::runtime::world_rank();
            RANK.store(r, Ordering::Relaxed);
            (r >= 0).then_some(r)
        }
        r => Some(r),
    }
}

/// Sends one message to the installed logger, or prints it if `MPI4RS_LOG` asks for it.
pub(crate) fn emit(level: Level, target: &str, args: Arguments<'_>) {
    let rank = match rank() {
        Some(r) => r.to_string(),
        None => "?".to_string(),
    };
    if logger_installed() {
        log::log!(target: target, level, "[rank {rank}] {args}");
    } else {
        let level = level.as_str().to_ascii_lowercase();
        eprintln!("[mpi4rs {level} rank {rank}] {target}: {args}");
    }
}
