//! Info hints of files (`MPI_Info`), given and returned as key–value pairs: the hints of
//! `MPI_File_open`, `MPI_File_set_view`, `MPI_File_set_info` and `MPI_File_delete`, and what
//! `MPI_File_get_info` reports. An `MPI_Info` lives only for the duration of one call.

use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Info};
use crate::util::string_from_c;
use std::ffi::{c_char, c_int, CString};

/// Info hints as key–value pairs, e.g. `&[("cb_nodes", "2"), ("striping_unit", "1048576")]`
/// (the keys MPI reserves for I/O are listed in the MPI standard, section 14.2.8; MPI ignores
/// keys it does not know). `&[]` gives no hints (`MPI_INFO_NULL`).
pub type Hints<'a> = &'a [(&'a str, &'a str)];

/// An `MPI_Info` built from hints for one call; freed on drop.
pub(crate) struct InfoArg(MPI_Info);

impl InfoArg {
    /// Builds the info object (`MPI_INFO_NULL` for no hints). Keys and values must fit
    /// `MPI_MAX_INFO_KEY` / `MPI_MAX_INFO_VAL` and contain no NUL.
    pub(crate) fn new(hints: Hints<'_>) -> Result<InfoArg> {
        let mut info = InfoArg(ffi::INFO_NULL());
        if hints.is_empty() {
            return Ok(info);
        }
        mpi_call!(MPI_Info_create(&mut info.0))?;
        for &(key, value) in hints {
            let k = c_text("info key", key, ffi::MPI_MAX_INFO_KEY as usize)?;
            let v = c_text("info value", value, ffi::MPI_MAX_INFO_VAL as usize)?;
            mpi_call!(MPI_Info_set(info.0, k.as_ptr(), v.as_ptr()))?;
        }
        Ok(info)
    }

    pub(crate) fn raw(&self) -> MPI_Info {
        self.0
    }
}

impl Drop for InfoArg {
    fn drop(&mut self) {
        if self.0 != ffi::INFO_NULL() {
            // SAFETY: an info object this value created.
            unsafe { ffi::MPI_Info_free(&mut self.0) };
        }
    }
}

/// `text` as a C string of fewer than `max` bytes.
pub(crate) fn c_text(what: &str, text: &str, max: usize) -> Result<CString> {
    if text.len() >= max {
        return Err(Error::InvalidArgument(format!("{what} {text:?} is longer than {} bytes", max - 1)));
    }
    CString::new(text).map_err(|_| Error::InvalidArgument(format!("{what} {text:?} contains NUL")))
}

/// Every key–value pair of `info`, which is then freed (it was returned to us by MPI).
pub(crate) fn take_pairs(info: MPI_Info) -> Result<Vec<(String, String)>> {
    let owned = InfoArg(info);
    let mut n: c_int = 0;
    mpi_call!(MPI_Info_get_nkeys(owned.0, &mut n))?;
    let mut pairs = Vec::with_capacity(n.max(0) as usize);
    for i in 0..n {
        let mut key = vec![0 as c_char; ffi::MPI_MAX_INFO_KEY as usize + 1];
        mpi_call!(MPI_Info_get_nthkey(owned.0, i, key.as_mut_ptr()))?;
        let (mut len, mut flag): (c_int, c_int) = (0, 0);
        mpi_call!(MPI_Info_get_valuelen(owned.0, key.as_ptr(), &mut len, &mut flag))?;
        if flag == 0 {
            continue;
        }
        let mut value = vec![0 as c_char; len.max(0) as usize + 1];
        mpi_call!(MPI_Info_get(owned.0, key.as_ptr(), len, value.as_mut_ptr(), &mut flag))?;
        pairs.push((string_from_c(&key, key.len() as c_int), string_from_c(&value, len)));
    }
    Ok(pairs)
}
