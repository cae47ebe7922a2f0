//! File access modes (`MPI_MODE_RDONLY` …) as a typed flag set that refuses the combinations
//! the standard calls erroneous before MPI sees them: MPI libraries do not all catch them (and
//! the ones that do report `MPI_ERR_AMODE` with little explanation).

use crate::error::{Error, Result};
use crate::ffi;
use std::ffi::c_int;
use std::ops::{BitOr, BitOrAssign};

/// How a file is opened (mpi4py's `MPI.MODE_*`): exactly one of [`RDONLY`](Self::RDONLY),
/// [`WRONLY`](Self::WRONLY), [`RDWR`](Self::RDWR), combined with `|` with any of the others.
///
/// The combinations MPI calls erroneous are refused by [`File::open`](super::File::open) with
/// [`Error::InvalidArgument`]: none or more than one of the three access flags, `CREATE` or
/// `EXCL` with `RDONLY`, `SEQUENTIAL` with `RDWR`.
///
/// ```
/// use mpi4rs::AccessMode;
/// let mode = AccessMode::WRONLY | AccessMode::CREATE;
/// assert!(mode.contains(AccessMode::CREATE));
/// assert!(mode.check().is_ok());
/// assert!((AccessMode::RDONLY | AccessMode::CREATE).check().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AccessMode(u32);

macro_rules! modes {
    ($($name:ident = $mpi:ident: $doc:literal),* $(,)?) => {
        impl AccessMode {
            $(#[doc = $doc] pub const $name: AccessMode = AccessMode(ffi::$mpi as u32);)*
            const NAMES: &'static [(AccessMode, &'static str)] = &[$((AccessMode::$name, stringify!($name))),*];
        }
    };
}

modes! {
    RDONLY = MPI_MODE_RDONLY: "Read only (`MPI_MODE_RDONLY`).",
    WRONLY = MPI_MODE_WRONLY: "Write only (`MPI_MODE_WRONLY`).",
    RDWR = MPI_MODE_RDWR: "Reading and writing (`MPI_MODE_RDWR`).",
    CREATE = MPI_MODE_CREATE: "Create the file if it does not exist (`MPI_MODE_CREATE`).",
    EXCL = MPI_MODE_EXCL: "With `CREATE`: an error if the file exists (`MPI_MODE_EXCL`).",
    DELETE_ON_CLOSE = MPI_MODE_DELETE_ON_CLOSE: "Delete the file when it is closed (`MPI_MODE_DELETE_ON_CLOSE`).",
    UNIQUE_OPEN = MPI_MODE_UNIQUE_OPEN: "No one else opens the file meanwhile (`MPI_MODE_UNIQUE_OPEN`).",
    SEQUENTIAL = MPI_MODE_SEQUENTIAL: "The file is accessed sequentially only (`MPI_MODE_SEQUENTIAL`).",
    APPEND = MPI_MODE_APPEND: "File pointers start at the end of the file (`MPI_MODE_APPEND`).",
}

impl AccessMode {
    /// Whether every flag of `other` is set in `self`.
    pub fn contains(self, other: AccessMode) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw `amode` bits.
    pub fn bits(self) -> i32 {
        self.0 as i32
    }

    /// A mode from raw `amode` bits (as `MPI_File_get_amode` gives them); bits that are no
    /// mode flag are an error.
    pub fn from_bits(bits: i32) -> Result<AccessMode> {
        let all = Self::NAMES.iter().fold(0, |acc, (m, _)| acc | m.0);
        match u32::try_from(bits) {
            Ok(b) if b & !all == 0 => Ok(AccessMode(b)),
            _ => Err(Error::InvalidArgument(format!("{bits:#x} is not a combination of MPI_MODE_* flags"))),
        }
    }

    /// Checks the combination as the standard requires; the `amode` to pass to MPI.
    pub fn check(self) -> Result<i32> {
        let access = [AccessMode::RDONLY, AccessMode::WRONLY, AccessMode::RDWR];
        let bad = |why: &str| Err(Error::InvalidArgument(format!("file access mode {self:?}: {why}")));
        match access.iter().filter(|&&m| self.contains(m)).count() {
            0 => return bad("needs one of RDONLY, WRONLY or RDWR"),
            1 => {}
            _ => return bad("RDONLY, WRONLY and RDWR exclude each other"),
        }
        if self.contains(AccessMode::RDONLY)
            && (self.contains(AccessMode::CREATE) || self.contains(AccessMode::EXCL))
        {
            return bad("CREATE and EXCL cannot be combined with RDONLY");
        }
        if self.contains(AccessMode::RDWR) && self.contains(AccessMode::SEQUENTIAL) {
            return bad("SEQUENTIAL cannot be combined with RDWR");
        }
        Ok(self.bits() as c_int)
    }
}

impl BitOr for AccessMode {
    type Output = AccessMode;
    fn bitor(self, rhs: AccessMode) -> AccessMode {
        AccessMode(self.0 | rhs.0)
    }
}

impl BitOrAssign for AccessMode {
    fn bitor_assign(&mut self, rhs: AccessMode) {
        self.0 |= rhs.0;
    }
}

impl std::fmt::Debug for AccessMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> =
            Self::NAMES.iter().filter(|(m, _)| self.contains(*m)).map(|(_, n)| *n).collect();
        if names.is_empty() {
            write!(f, "(no flags)")
        } else {
            write!(f, "{}", names.join(" | "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AccessMode as M;

    #[test]
    fn erroneous_combinations_are_refused() {
        for ok in [
            M::RDONLY,
            M::WRONLY | M::CREATE | M::EXCL,
            M::RDWR | M::DELETE_ON_CLOSE,
            M::WRONLY | M::SEQUENTIAL,
        ] {
            assert!(ok.check().is_ok(), "{ok:?}");
        }
        for bad in [
            M::CREATE,
            M::RDONLY | M::WRONLY,
            M::RDONLY | M::CREATE,
            M::RDONLY | M::EXCL,
            M::RDWR | M::SEQUENTIAL,
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let e = (M::RDONLY | M::CREATE).check().unwrap_err().to_string();
        assert!(e.contains("RDONLY | CREATE") && e.contains("cannot be combined"), "{e}");
    }

    #[test]
    fn bits_round_trip() {
        let m = M::RDWR | M::CREATE | M::APPEND;
        assert_eq!(M::from_bits(m.bits()).unwrap(), m);
        assert!(M::from_bits(1 << 30).is_err());
        assert!(M::from_bits(-1).is_err());
    }
}
