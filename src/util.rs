//! Small helpers shared by the modules: C strings, count conversions.

use crate::error::{Error, Result};
use std::ffi::c_int;

pub(crate) use crate::ffi::string_from_c;

/// Converts a length to an MPI `int` count, or says clearly that it does not fit.
#[inline(always)]
pub(crate) fn to_count(what: &'static str, value: usize) -> Result<c_int> {
    c_int::try_from(value).map_err(|_| count_overflow(what, value))
}

#[cold]
#[inline(never)]
fn count_overflow(what: &'static str, value: usize) -> Error {
    Error::CountOverflow { what, value, max: c_int::MAX as usize }
}

/// A C string for MPI, refusing interior NUL and, with `max`, strings of `max` bytes or more
/// (`what` names the argument in the error).
pub(crate) fn c_string(what: &str, s: &str, max: Option<c_int>) -> Result<std::ffi::CString> {
    if let Some(max) = max {
        if s.len() >= max as usize {
            return Err(Error::InvalidArgument(format!(
                "{what} has at most {} bytes, got {}",
                max - 1,
                s.len()
            )));
        }
    }
    std::ffi::CString::new(s).map_err(|_| Error::InvalidArgument(format!("{what} cannot contain NUL: {s:?}")))
}

/// An MPI object name (communicator, datatype, window) as a C string: fewer than
/// `MPI_MAX_OBJECT_NAME` bytes and no NUL, else `InvalidArgument` naming `what`.
pub(crate) fn object_name(what: &str, name: &str) -> Result<std::ffi::CString> {
    c_string(what, name, Some(crate::ffi::MAX_OBJECT_NAME()))
}
