//! Run-time configuration, from code or from `MPI4RS_RC_*` environment variables (mpi4py's
//! `mpi4py.rc` and `MPI4PY_RC_*`).
//!
//! | variable | values | default |
//! |---|---|---|
//! | `MPI4RS_RC_THREAD_LEVEL` | `single`, `funneled`, `serialized`, `multiple` | `single` (see [`crate::thread`]) |
//! | `MPI4RS_RC_ERRORS` | `return` (errors are `Err`), `fatal` (MPI aborts) | `return` |
//! | `MPI4RS_RC_ABORT_ON_PANIC` | `true`/`false` (also `1`/`0`, `yes`/`no`) | `true` |
//!
//! ```
//! use mpi4rs::{Config, ThreadLevel};
//! let config = Config::default().thread_level(ThreadLevel::Funneled).abort_on_panic(false);
//! assert_eq!(config.requested_thread_level(), ThreadLevel::Funneled);
//! ```

use crate::error::{Error, Result};
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
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::Config(format!("{var}={value:?}: expected true or false"))),
    }
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
    fn bad_values_are_errors() {
        let bad = |_: &str| Some("sometimes".to_string());
        let err = Config::default().with_env_vars(bad).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        assert!("MPI_THREAD_FUNNELED".parse::<ThreadLevel>().is_ok());
    }
}
