//! Small helpers shared by the modules: C strings, count conversions, sizes in settings.

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

/// A size in bytes from an environment variable: `"262144"`, `"256K"`, `"256KiB"`, `"1m"`, `"2G"` → bytes.
pub(crate) fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &lower[digits.len()..];
    let shift = match unit {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    digits.trim().parse::<usize>().ok()?.checked_mul(1 << shift)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("262144"), Some(262144));
        assert_eq!(parse_size("256K"), Some(262144));
        assert_eq!(parse_size("256kib"), Some(262144));
        assert_eq!(parse_size(" 1M "), Some(1 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("12x"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn pipeline_sizes_parse() {
        assert_eq!(parse_size("4M"), Some(4 << 20));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("x"), None);
    }
}
