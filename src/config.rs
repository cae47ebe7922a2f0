//! Run-time configuration, from code or from `MPI4RS_RC_*` environment variables (mpi4py's
//! `mpi4py.rc` and `MPI4PY_RC_*`), and the list of every `MPI4RS_*` variable ([`VARIABLES`]).
//!
//! Every variable is parsed by one strict parser, [`mpi4rs_device::env`] (booleans `1`/`0`,
//! `true`/`false`, `yes`/`no`, `on`/`off`; sizes such as `262144`, `256K`, `512M`, `1G`). A value
//! that does not parse is an [`Error::Config`] naming the variable: [`init`](crate::init) and
//! [`init_with`](crate::init_with) check every library variable first ([`check_env`]). The
//! guide's "Environment variables" section has the table of all of them.
//!
//! ```
//! use mpi4rs::{Config, ThreadLevel};
//! let config = Config::default().thread_level(ThreadLevel::Funneled).abort_on_panic(false);
//! assert_eq!(config.requested_thread_level(), ThreadLevel::Funneled);
//! ```

use crate::error::{Error, Result};
use mpi4rs_device::env::{self, EnvError};
use std::ffi::c_int;

pub use crate::runtime::ThreadLevel;

impl ThreadLevel {
    /// The level for a raw `MPI_THREAD_*` value.
    pub fn from_raw(raw: c_int) -> Result<ThreadLevel> {
        ThreadLevel::all()
            .into_iter()
            .find(|l| l.as_raw() == raw)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown MPI thread level {raw}")))
    }
}

impl std::str::FromStr for ThreadLevel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().trim_start_matches("mpi_thread_") {
            "single" => Ok(ThreadLevel::Single),
            "funneled" => Ok(ThreadLevel::Funneled),
            "serialized" => Ok(ThreadLevel::Serialized),
            "multiple" => Ok(ThreadLevel::Multiple),
            _ => Err(Error::Config(format!(
                "thread level {s:?}: expected single, funneled, serialized or multiple"
            ))),
        }
    }
}

/// What happens when an MPI call fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorPolicy {
    /// `MPI_ERRORS_RETURN` on every communicator: failures come back as `Err` (the default,
    /// like mpi4py's exceptions).
    Return,
    /// `MPI_ERRORS_ARE_FATAL`: the MPI library aborts the job on the first error.
    Fatal,
}

impl std::str::FromStr for ErrorPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "return" | "exception" => Ok(ErrorPolicy::Return),
            "fatal" | "abort" => Ok(ErrorPolicy::Fatal),
            _ => Err(Error::Config(format!("error policy {s:?}: expected return or fatal"))),
        }
    }
}

/// Configuration applied by [`crate::init_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    thread_level: ThreadLevel,
    errors: ErrorPolicy,
    abort_on_panic: bool,
}

impl Default for Config {
    /// Thread level `Single` (see [`crate::thread`]), errors returned, a panic aborts the job.
    fn default() -> Self {
        Config { thread_level: ThreadLevel::Single, errors: ErrorPolicy::Return, abort_on_panic: true }
    }
}

fn parse_bool(var: &str, value: &str) -> Result<bool> {
    Ok(env::parse_bool(var, value)?)
}

impl Config {
    /// The defaults, overridden by any `MPI4RS_RC_*` variables set in the environment.
    pub fn from_env() -> Result<Config> {
        Config::default().with_env_vars(|name| std::env::var(name).ok())
    }

    /// Applies `MPI4RS_RC_*` settings looked up through `lookup` (the environment, or a map in
    /// tests).
    pub fn with_env_vars(mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        if let Some(v) = lookup("MPI4RS_RC_THREAD_LEVEL") {
            self.thread_level = v.parse()?;
        }
        if let Some(v) = lookup("MPI4RS_RC_ERRORS") {
            self.errors = v.parse()?;
        }
        if let Some(v) = lookup("MPI4RS_RC_ABORT_ON_PANIC") {
            self.abort_on_panic = parse_bool("MPI4RS_RC_ABORT_ON_PANIC", &v)?;
        }
        Ok(self)
    }

    /// Requests a thread level.
    pub fn thread_level(mut self, level: ThreadLevel) -> Self {
        self.thread_level = level;
        self
    }

    /// Chooses the error policy.
    pub fn errors(mut self, policy: ErrorPolicy) -> Self {
        self.errors = policy;
        self
    }

    /// Whether a panic on any rank aborts the whole job (after printing its message).
    pub fn abort_on_panic(mut self, abort: bool) -> Self {
        self.abort_on_panic = abort;
        self
    }

    /// The thread level that will be requested.
    pub fn requested_thread_level(&self) -> ThreadLevel {
        self.thread_level
    }

    /// The error policy.
    pub fn error_policy(&self) -> ErrorPolicy {
        self.errors
    }

    /// Whether a panic aborts the job.
    pub fn aborts_on_panic(&self) -> bool {
        self.abort_on_panic
    }
}

impl From<EnvError> for Error {
    fn from(e: EnvError) -> Error {
        Error::Config(e.to_string())
    }
}

/// What an `MPI4RS_*` variable takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VarKind {
    /// A boolean (`1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A size in bytes (`262144`, `256K`, `512M`, `1G`).
    Size,
    /// A whole number.
    Count,
    /// A [`ThreadLevel`] name.
    ThreadLevel,
    /// An [`ErrorPolicy`] name.
    ErrorPolicy,
    /// A [`SyncPolicy`](mpi4rs_device::SyncPolicy) name.
    SyncPolicy,
    /// A log level: `off`, `error`, `warn`, `info`, `debug`, `trace`.
    LogLevel,
    /// Free text (a path, a name, a list).
    Text,
}

/// An `MPI4RS_*` environment variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variable {
    /// Its name.
    pub name: &'static str,
    /// What it takes.
    pub kind: VarKind,
    /// Read by the library (checked by [`check_env`]); otherwise read by the test harness,
    /// the benches or the CI scripts.
    pub library: bool,
}

const fn lib(name: &'static str, kind: VarKind) -> Variable {
    Variable { name, kind, library: true }
}

const fn tool(name: &'static str, kind: VarKind) -> Variable {
    Variable { name, kind, library: false }
}

/// Every `MPI4RS_*` variable a user may set (those the launcher sets for the processes it
/// starts are not listed). The guide's table describes each.
pub const VARIABLES: &[Variable] = &[
    lib("MPI4RS_RC_THREAD_LEVEL", VarKind::ThreadLevel),
    lib("MPI4RS_RC_ERRORS", VarKind::ErrorPolicy),
    lib("MPI4RS_RC_ABORT_ON_PANIC", VarKind::Bool),
    lib("MPI4RS_CUDA_AWARE", VarKind::Bool),
    lib("MPI4RS_NO_CUDA", VarKind::Bool),
    lib("MPI4RS_SYNC", VarKind::SyncPolicy),
    lib("MPI4RS_PIPELINE_MIN", VarKind::Size),
    lib("MPI4RS_PIPELINE_CHUNK", VarKind::Size),
    lib("MPI4RS_STAGING_POOL_BYTES", VarKind::Size),
    lib("MPI4RS_NVRTC", VarKind::Text),
    lib("MPI4RS_NO_NVRTC", VarKind::Bool),
    lib("MPI4RS_OBJECT_THRESHOLD", VarKind::Size),
    lib("MPI4RS_FUTURES_MAX_WORKERS", VarKind::Count),
    lib("MPI4RS_LOG", VarKind::LogLevel),
    tool("MPI4RS_TEST_TIMEOUT", VarKind::Count),
    tool("MPI4RS_TEST_ONLY", VarKind::Text),
    tool("MPI4RS_WIN_REQUIRE_CREATE", VarKind::Bool),
    tool("MPI4RS_REQUIRE_NVRTC", VarKind::Bool),
    tool("MPI4RS_NVRTC_DIR", VarKind::Text),
    tool("MPI4RS_BENCH_ROUNDS", VarKind::Count),
    tool("MPI4RS_BENCH_NPS", VarKind::Text),
    tool("MPI4RS_GPU_MPI", VarKind::Text),
    tool("MPI4RS_REHEARSE_DOUBLE", VarKind::Bool),
];

/// The log levels `MPI4RS_LOG` takes.
pub(crate) fn parse_log_level(var: &str, value: &str) -> std::result::Result<log::LevelFilter, EnvError> {
    env::parse_with(var, value, "off, error, warn, info, debug or trace", |v| v.parse().ok())
}

/// Checks `value` as a value of `var`.
fn check(var: &Variable, value: &str) -> std::result::Result<(), EnvError> {
    let name = var.name;
    match var.kind {
        VarKind::Bool => env::parse_bool(name, value).map(drop),
        VarKind::Size => env::parse_size(name, value).map(drop),
        VarKind::Count => env::parse_count(name, value).map(drop),
        VarKind::ThreadLevel => {
            env::parse_with(name, value, "single, funneled, serialized or multiple", |v| {
                v.parse::<ThreadLevel>().ok().map(drop)
            })
        }
        VarKind::ErrorPolicy => {
            env::parse_with(name, value, "return or fatal", |v| v.parse::<ErrorPolicy>().ok().map(drop))
        }
        VarKind::SyncPolicy => env::parse_with(name, value, mpi4rs_device::SyncPolicy::EXPECTED, |v| {
            mpi4rs_device::SyncPolicy::parse(v).map(drop)
        }),
        VarKind::LogLevel => parse_log_level(name, value).map(drop),
        VarKind::Text => Ok(()),
    }
}

/// Checks every library variable of [`VARIABLES`] that is set (through `lookup`: the
/// environment, or a map in tests); the first value that does not parse is an
/// [`Error::Config`] naming the variable.
pub fn check_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<()> {
    for var in VARIABLES.iter().filter(|v| v.library) {
        if let Some(value) = lookup(var.name).filter(|v| !v.trim().is_empty()) {
            check(var, &value)?;
        }
    }
    Ok(())
}

/// [`check_vars`] on the environment (a value that is not UTF-8 is an error too); called by
/// [`init_with`](crate::init_with).
pub fn check_env() -> Result<()> {
    for var in VARIABLES.iter().filter(|v| v.library) {
        env::var(var.name)?;
    }
    check_vars(|name| std::env::var(name).ok())
}

/// The library variables of [`VARIABLES`] set in the environment, with their values.
pub fn vars_set() -> Vec<(&'static str, String)> {
    VARIABLES.iter().filter(|v| v.library).filter_map(|v| Some((v.name, env::var(v.name).ok()??))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_vars_override_defaults() {
        let vars = |name: &str| match name {
            "MPI4RS_RC_THREAD_LEVEL" => Some("serialized".to_string()),
            "MPI4RS_RC_ERRORS" => Some("fatal".to_string()),
            "MPI4RS_RC_ABORT_ON_PANIC" => Some("no".to_string()),
            _ => None,
        };
        let c = Config::default().with_env_vars(vars).unwrap();
        assert_eq!(c.requested_thread_level(), ThreadLevel::Serialized);
        assert_eq!(c.error_policy(), ErrorPolicy::Fatal);
        assert!(!c.aborts_on_panic());
    }

    #[test]
    fn every_variable_is_strict_and_named() {
        let set = |var: &'static str, value: &'static str| {
            move |name: &str| (name == var).then(|| value.to_string())
        };
        assert!(check_vars(set("MPI4RS_NO_CUDA", "false")).is_ok());
        assert!(check_vars(set("MPI4RS_STAGING_POOL_BYTES", "512M")).is_ok());
        assert!(check_vars(set("MPI4RS_LOG", "debug")).is_ok());
        assert!(check_vars(set("MPI4RS_SYNC", "device")).is_ok());
        for var in VARIABLES.iter().filter(|v| v.library && v.kind != VarKind::Text) {
            let err = check_vars(set(var.name, "banana")).unwrap_err();
            assert!(
                matches!(&err, Error::Config(m) if m.starts_with(&format!("{}=\"banana\": expected", var.name))),
                "{err}"
            );
        }
    }

    #[test]
    fn the_guide_lists_every_variable() {
        let guide = include_str!("../docs/guide.md");
        let table = &guide[guide.find("## Environment variables").unwrap()..];
        let table = &table[..table[3..].find("\n## ").unwrap()];
        let listed: Vec<&str> =
            table.lines().filter_map(|l| l.strip_prefix("| `")).filter_map(|l| l.split('`').next()).collect();
        let known: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
        assert_eq!(listed, known, "docs/guide.md's table and config::VARIABLES differ");
    }

    #[test]
    fn bad_values_are_errors() {
        let bad = |_: &str| Some("sometimes".to_string());
        let err = Config::default().with_env_vars(bad).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        assert!("MPI_THREAD_FUNNELED".parse::<ThreadLevel>().is_ok());
    }
}
