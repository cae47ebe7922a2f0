//! Info hints of windows (mpi4py's `info=` arguments and `Win.Get_info`/`Set_info`), given as
//! `(key, value)` string pairs: an `MPI_Info` lives only for the call that needs it.

use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Info};
use crate::util::string_from_c;
use std::ffi::{c_char, c_int, CString};

/// An `MPI_Info` built from hints, freed on drop (`INFO_NULL` when there are none).
pub(crate) struct Hints(MPI_Info);

impl Hints {
    /// Builds the info object; keys and values are checked against MPI's length limits.
    pub(crate) fn new(hints: &[(&str, &str)]) -> Result<Hints> {
        if hints.is_empty() {
            return Ok(Hints(ffi::INFO_NULL()));
        }
        let (max_key, max_val) = (ffi::MAX_INFO_KEY() as usize, ffi::MAX_INFO_VAL() as usize);
        let mut info = Hints(ffi::INFO_NULL());
        mpi_call!(MPI_Info_create(&mut info.0))?;
        for &(key, value) in hints {
            if key.is_empty() || key.len() > max_key || value.len() > max_val {
                return Err(Error::InvalidArgument(format!(
                    "info hint {key:?} = {value:?}: keys have 1 to {max_key} bytes, values at most {max_val}"
                )));
            }
            let nul = |_| Error::InvalidArgument("an info key or value cannot contain NUL".into());
            let (k, v) = (CString::new(key).map_err(nul)?, CString::new(value).map_err(nul)?);
            mpi_call!(MPI_Info_set(info.0, k.as_ptr(), v.as_ptr()))?;
        }
        Ok(info)
    }

    pub(crate) fn raw(&self) -> MPI_Info {
        self.0
    }

    /// Takes ownership of an info object MPI returned.
    pub(crate) fn adopt(raw: MPI_Info) -> Hints {
        Hints(raw)
    }

    /// Every `(key, value)` pair of the info object.
    pub(crate) fn pairs(&self) -> Result<Vec<(String, String)>> {
        if self.0 == ffi::INFO_NULL() {
            return Ok(Vec::new());
        }
        let mut n: c_int = 0;
        mpi_call!(MPI_Info_get_nkeys(self.0, &mut n))?;
        let mut key = vec![0 as c_char; ffi::MAX_INFO_KEY() as usize + 1];
        let mut out = Vec::with_capacity(n.max(0) as usize);
        for i in 0..n {
            mpi_call!(MPI_Info_get_nthkey(self.0, i, key.as_mut_ptr()))?;
            let (mut len, mut flag): (c_int, c_int) = (0, 0);
            mpi_call!(MPI_Info_get_valuelen(self.0, key.as_ptr(), &mut len, &mut flag))?;
            let mut value = vec![0 as c_char; len.max(0) as usize + 1];
            mpi_call!(MPI_Info_get(self.0, key.as_ptr(), len, value.as_mut_ptr(), &mut flag))?;
            out.push((string_from_c(&key, key.len() as c_int), string_from_c(&value, len)));
        }
        Ok(out)
    }
}

impl Drop for Hints {
    fn drop(&mut self) {
        if self.0 != ffi::INFO_NULL() && crate::environment::is_active() {
            // SAFETY: an info object this value created or adopted.
            unsafe { ffi::MPI_Info_free(&mut self.0) };
        }
    }
}
