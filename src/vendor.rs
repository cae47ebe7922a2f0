//! Which MPI library is underneath, as mpi4py's `MPI.get_vendor()` says it: a name and a
//! version triple, parsed from `MPI_Get_library_version`.

use crate::environment::library_version;
use crate::error::Result;

/// The MPI library's name and version, e.g. `("Open MPI", (4, 1, 4))` or `("MPICH", (4, 0,
/// 2))` (mpi4py's `MPI.get_vendor()`). Known: Open MPI, MPICH and its derivatives (Intel MPI,
/// MVAPICH, Cray MPICH), Microsoft MPI, Spectrum MPI; any other library gives
/// `("unknown", (0, 0, 0))`. Callable before `init` and after finalisation.
///
/// ```no_run
/// let (name, (major, minor, patch)) = mpi4rs::vendor()?;
/// println!("{name} {major}.{minor}.{patch}");
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub fn vendor() -> Result<(String, (u32, u32, u32))> {
    Ok(parse_vendor(&library_version()?))
}

/// The first `major.minor[.patch]` number after `at` in `text`.
fn version_after(text: &str, at: usize) -> (u32, u32, u32) {
    let rest = &text[at..];
    let Some(start) = rest.find(|c: char| c.is_ascii_digit()) else { return (0, 0, 0) };
    let mut parts =
        rest[start..].split(|c: char| !c.is_ascii_digit()).take(3).map(|p| p.parse::<u32>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

pub(crate) fn parse_vendor(text: &str) -> (String, (u32, u32, u32)) {
    // Most specific names first: derivatives mention their base library too.
    const NAMES: [(&str, &str); 8] = [
        ("Intel(R) MPI", "Intel MPI"),
        ("MVAPICH2", "MVAPICH2"),
        ("MVAPICH", "MVAPICH"),
        ("CRAY MPICH", "Cray MPICH"),
        ("Microsoft MPI", "Microsoft MPI"),
        ("Spectrum MPI", "Spectrum MPI"),
        ("Open MPI", "Open MPI"),
        ("MPICH", "MPICH"),
    ];
    for (needle, name) in NAMES {
        if let Some(at) = text.find(needle) {
            return (name.to_string(), version_after(text, at + needle.len()));
        }
    }
    ("unknown".to_string(), (0, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::parse_vendor;

    #[test]
    fn known_version_strings() {
        let ompi = "Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4, May 26, 2022";
        assert_eq!(parse_vendor(ompi), ("Open MPI".to_string(), (4, 1, 4)));
        let mpich = "MPICH Version:\t4.0.2\nMPICH Release date:\tThu Apr  7 12:34:45 CDT 2022";
        assert_eq!(parse_vendor(mpich), ("MPICH".to_string(), (4, 0, 2)));
        let intel = "Intel(R) MPI Library 2021.6 for Linux* OS";
        assert_eq!(parse_vendor(intel), ("Intel MPI".to_string(), (2021, 6, 0)));
        assert_eq!(parse_vendor("something else"), ("unknown".to_string(), (0, 0, 0)));
    }
}
