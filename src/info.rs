//! Info objects (mpi4py's `Info`): ordered string key/value hints passed to calls such as
//! `MPI_Comm_spawn`, `MPI_Open_port` or `MPI_Comm_accept`.
//!
//! ```no_run
//! use mpi4rs::Info;
//! let _env = mpi4rs::init()?;
//! let info = Info::from_pairs([("wdir", "/tmp"), ("host", "localhost")])?;
//! assert_eq!(info.get("wdir")?.as_deref(), Some("/tmp"));
//! assert_eq!(info.keys()?, ["wdir", "host"]);
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! Functions that take hints accept `Option<&Info>`: `None` is `MPI_INFO_NULL`. Files and
//! windows, whose hints are mostly literals, take [`Hints`] (`&[("key", "value")]`) instead and
//! return theirs as pairs; both are turned into an `Info` here, for the one call that needs it.

use crate::error::require_active;
use crate::error::{mpi_call, Result};
use crate::ffi::{self, MPI_Info};
use crate::runtime::enter_if_active;
use crate::util::string_from_c;
use std::ffi::{c_char, c_int, CString};

/// An MPI info object. Freed on drop, except [`Info::env`]'s.
pub struct Info {
    raw: MPI_Info,
    owned: bool,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

/// A key or value as a C string, checked against MPI's limits.
fn c_text(what: &str, s: &str, max: c_int) -> Result<CString> {
    crate::util::c_string(&format!("an info {what}"), s, Some(max))
}

/// Info hints as key–value pairs, e.g. `&[("cb_nodes", "2"), ("no_locks", "true")]` (MPI
/// ignores keys it does not know). `&[]` gives no hints (`MPI_INFO_NULL`).
pub type Hints<'a> = &'a [(&'a str, &'a str)];

impl Info {
    /// The info object for `hints`, made for one call: `None` (`MPI_INFO_NULL`) for no hints.
    pub(crate) fn for_call(hints: Hints<'_>) -> Result<Option<Info>> {
        if hints.is_empty() {
            return Ok(None);
        }
        Info::from_pairs(hints.iter().copied()).map(Some)
    }

    /// Takes ownership of an info object MPI returned (`MPI_File_get_info`, `MPI_Win_get_info`).
    pub(crate) fn adopt(raw: MPI_Info) -> Info {
        Info { raw, owned: raw != ffi::INFO_NULL(), _thread: std::marker::PhantomData }
    }

    /// An empty info object (`MPI_Info_create`).
    pub fn new() -> Result<Info> {
        require_active()?;
        let mut raw = ffi::INFO_NULL();
        mpi_call!(MPI_Info_create(&mut raw))?;
        Ok(Info { raw, owned: true, _thread: std::marker::PhantomData })
    }

    /// An info object holding `pairs`, in order.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Info> {
        let info = Info::new()?;
        for (k, v) in pairs {
            info.set(k.as_ref(), v.as_ref())?;
        }
        Ok(info)
    }

    /// `MPI_INFO_ENV`: how the program was started (`command`, `argv`, `maxprocs`, `wdir`, …,
    /// whichever the MPI library sets). Not freed on drop.
    pub fn env() -> Result<Info> {
        require_active()?;
        Ok(Info { raw: ffi::INFO_ENV(), owned: false, _thread: std::marker::PhantomData })
    }

    /// The raw handle (still owned by `self`).
    pub fn as_raw(&self) -> MPI_Info {
        self.raw
    }

    /// The raw handle of an optional info: `MPI_INFO_NULL` for `None`.
    pub(crate) fn raw_or_null(info: Option<&Info>) -> MPI_Info {
        info.map_or_else(ffi::INFO_NULL, Info::as_raw)
    }

    /// Sets `key` to `value` (`MPI_Info_set`), replacing an earlier value.
    pub fn set(&self, key: &str, value: &str) -> Result<()> {
        if key.is_empty() {
            return Err(crate::Error::InvalidArgument(format!(
                "an info key cannot be empty (value {value:?})"
            )));
        }
        let k = c_text("key", key, ffi::MAX_INFO_KEY())?;
        let v = c_text("value", value, ffi::MAX_INFO_VAL())?;
        mpi_call!(MPI_Info_set(self.raw, k.as_ptr(), v.as_ptr()))
    }

    /// The value of `key`, `None` when it is not set (`MPI_Info_get_valuelen`, `MPI_Info_get`).
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        let k = c_text("key", key, ffi::MAX_INFO_KEY())?;
        let (mut len, mut flag): (c_int, c_int) = (0, 0);
        mpi_call!(MPI_Info_get_valuelen(self.raw, k.as_ptr(), &mut len, &mut flag))?;
        if flag == 0 {
            return Ok(None);
        }
        let mut buf = vec![0 as c_char; len as usize + 1];
        mpi_call!(MPI_Info_get(self.raw, k.as_ptr(), len, buf.as_mut_ptr(), &mut flag))?;
        Ok((flag != 0).then(|| string_from_c(&buf, len)))
    }

    /// Removes `key` (`MPI_Info_delete`); `false` when it was not set.
    pub fn delete(&self, key: &str) -> Result<bool> {
        if self.get(key)?.is_none() {
            return Ok(false);
        }
        let k = c_text("key", key, ffi::MAX_INFO_KEY())?;
        mpi_call!(MPI_Info_delete(self.raw, k.as_ptr()))?;
        Ok(true)
    }

    /// Number of keys set (`MPI_Info_get_nkeys`).
    pub fn len(&self) -> Result<usize> {
        let mut n: c_int = 0;
        mpi_call!(MPI_Info_get_nkeys(self.raw, &mut n))?;
        Ok(n.max(0) as usize)
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The keys, in the order they were set (`MPI_Info_get_nthkey`).
    pub fn keys(&self) -> Result<Vec<String>> {
        let mut buf = vec![0 as c_char; ffi::MAX_INFO_KEY() as usize + 1];
        (0..self.len()?)
            .map(|i| {
                mpi_call!(MPI_Info_get_nthkey(self.raw, i as c_int, buf.as_mut_ptr()))?;
                Ok(string_from_c(&buf, buf.len() as c_int))
            })
            .collect()
    }

    /// Every key with its value, in order.
    pub fn pairs(&self) -> Result<Vec<(String, String)>> {
        self.keys()?
            .into_iter()
            .map(|k| {
                let v = self.get(&k)?.unwrap_or_default();
                Ok((k, v))
            })
            .collect()
    }

    /// A copy (`MPI_Info_dup`).
    pub fn dup(&self) -> Result<Info> {
        let mut raw = ffi::INFO_NULL();
        mpi_call!(MPI_Info_dup(self.raw, &mut raw))?;
        Ok(Info { raw, owned: true, _thread: std::marker::PhantomData })
    }
}

impl Drop for Info {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Some(_call) = enter_if_active() {
            // SAFETY: owned, live handle; errors cannot be reported from drop.
            unsafe { ffi::MPI_Info_free(&mut self.raw) };
        }
    }
}

impl std::fmt::Debug for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pairs() {
            Ok(pairs) => f.debug_map().entries(pairs).finish(),
            Err(e) => write!(f, "Info(<{e}>)"),
        }
    }
}
