//! The one parser of the `MPI4RS_*` environment variables, shared by mpi4rs and this crate.
//!
//! - **Booleans**: `1`, `true`, `yes`, `on` and `0`, `false`, `no`, `off` (any case).
//! - **Sizes** in bytes: a whole number with an optional binary unit, `K`/`KB`/`KiB`, `M`/`MB`/`MiB`,
//!   `G`/`GB`/`GiB`, `T`/`TB`/`TiB` (any case; `512M` is 512 × 2²⁰).
//! - **Counts**: a whole number.
//!
//! A variable that is unset, or set to an empty (or all-blank) value, counts as unset. Any other
//! value that does not parse is an [`EnvError`] naming the variable, its value and what was
//! expected; nothing is silently ignored. (mpi4rs checks every variable it knows at `init`, see
//! its guide's table of variables.)
//!
//! ```
//! use mpi4rs_device::env::{parse_bool, parse_size};
//! assert_eq!(parse_bool("MPI4RS_NO_CUDA", "false"), Ok(false));
//! assert_eq!(parse_size("MPI4RS_STAGING_POOL_BYTES", "512M"), Ok(512 << 20));
//! let err = parse_size("MPI4RS_STAGING_POOL_BYTES", "banana").unwrap_err();
//! assert!(err.to_string().starts_with("MPI4RS_STAGING_POOL_BYTES=\"banana\": expected"));
//! ```

/// A variable whose value does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?}: expected {expected}")]
pub struct EnvError {
    /// The variable's name.
    pub var: String,
    /// Its value as set.
    pub value: String,
    /// What it takes.
    pub expected: &'static str,
}

/// What [`parse_bool`] takes.
pub const BOOL: &str = "a boolean: 1, true, yes, on, or 0, false, no, off";
/// What [`parse_size`] takes.
pub const SIZE: &str = "a size in bytes such as 262144, 256K, 512M or 1G";
/// What [`parse_count`] takes.
pub const COUNT: &str = "a whole number";

/// Parses `value` with `parse`; `None` from it is an [`EnvError`] for `var` saying `expected`.
pub fn parse_with<T>(
    var: &str,
    value: &str,
    expected: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, EnvError> {
    parse(value.trim()).ok_or_else(|| EnvError { var: var.to_string(), value: value.to_string(), expected })
}

/// A boolean (see the module's documentation).
pub fn parse_bool(var: &str, value: &str) -> Result<bool, EnvError> {
    parse_with(var, value, BOOL, |v| match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    })
}

/// A size in bytes (see the module's documentation).
pub fn parse_size(var: &str, value: &str) -> Result<usize, EnvError> {
    parse_with(var, value, SIZE, |v| {
        let lower = v.to_ascii_lowercase();
        let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let shift = match &lower[digits.len()..] {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            _ => return None,
        };
        let digits = digits.trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<usize>().ok()?.checked_mul(1usize.checked_shl(shift)?)
    })
}

/// A whole number (see the module's documentation).
pub fn parse_count(var: &str, value: &str) -> Result<usize, EnvError> {
    parse_with(
        var,
        value,
        COUNT,
        |v| if v.bytes().all(|b| b.is_ascii_digit()) { v.parse().ok() } else { None },
    )
}

/// The value of `var` if it is set and not blank; a value that is not UTF-8 is an error.
pub fn var(var: &str) -> Result<Option<String>, EnvError> {
    match std::env::var(var) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(EnvError {
            var: var.to_string(),
            value: v.to_string_lossy().into_owned(),
            expected: "UTF-8 text",
        }),
    }
}

/// `var` read with `parse` (one of the `parse_*` functions), `None` if unset.
pub fn read<T>(name: &str, parse: fn(&str, &str) -> Result<T, EnvError>) -> Result<Option<T>, EnvError> {
    var(name)?.map(|v| parse(name, &v)).transpose()
}

/// A boolean variable, `None` if unset.
pub fn bool_var(name: &str) -> Result<Option<bool>, EnvError> {
    read(name, parse_bool)
}

/// A size variable in bytes, `None` if unset.
pub fn size_var(name: &str) -> Result<Option<usize>, EnvError> {
    read(name, parse_size)
}

/// A count variable, `None` if unset.
pub fn count_var(name: &str) -> Result<Option<usize>, EnvError> {
    read(name, parse_count)
}

/// Why the environment switches a library off (`MPI4RS_NO_CUDA`, `MPI4RS_NO_NVRTC`): `Some`
/// when `name` is true, or (naming the variable) when its value does not parse.
pub(crate) fn switched_off(name: &str) -> Option<String> {
    match bool_var(name) {
        Ok(Some(true)) => Some(format!("{name} is set")),
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in ["1", "true", "TRUE", " yes ", "on"] {
            assert_eq!(parse_bool("V", t), Ok(true), "{t}");
        }
        for f in ["0", "false", "No", "off"] {
            assert_eq!(parse_bool("V", f), Ok(false), "{f}");
        }
        let e = parse_bool("MPI4RS_NO_CUDA", "banana").unwrap_err();
        assert_eq!(e.to_string(), format!("MPI4RS_NO_CUDA=\"banana\": expected {BOOL}"));
    }

    #[test]
    fn sizes() {
        let ok = |s| parse_size("V", s).unwrap();
        assert_eq!(ok("262144"), 262144);
        assert_eq!(ok("256K"), 262144);
        assert_eq!(ok("256kib"), 262144);
        assert_eq!(ok(" 1M "), 1 << 20);
        assert_eq!(ok("512M"), 512 << 20);
        assert_eq!(ok("512 MiB"), 512 << 20);
        assert_eq!(ok("2G"), 2 << 30);
        assert_eq!(ok("0"), 0);
        for bad in ["banana", "12x", "", "M", "-1", "+1", "1.5G", "1 2", "99999999999999999999", "20000000T"]
        {
            let e = parse_size("MPI4RS_STAGING_POOL_BYTES", bad).unwrap_err();
            assert_eq!(e.var, "MPI4RS_STAGING_POOL_BYTES");
            assert_eq!(e.expected, SIZE, "{bad}");
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("V", " 4 "), Ok(4));
        assert!(parse_count("V", "4K").is_err());
        assert!(parse_count("V", "-4").is_err());
    }
}
