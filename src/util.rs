//! Small helpers shared by the modules: C strings and count conversions.

use crate::error::{Error, Result};
use std::ffi::{c_char, c_int};

/// The first `len` characters of a C buffer filled by MPI, as a `String` (lossy UTF-8).
pub(crate) fn string_from_c(buf: &[c_char], len: c_int) -> String {
    let len = (len.max(0) as usize).min(buf.len());
    let bytes: Vec<u8> = buf[..len].iter().map(|&c| c as u8).take_while(|&b| b != 0).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

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
