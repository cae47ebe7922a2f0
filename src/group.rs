//! Process groups (mpi4py's `Group`): set operations, subsets and rank translation.

use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Group};
use crate::runtime::enter_if_active;
use crate::util::to_count;
use std::ffi::c_int;

/// How two communicators or groups relate (`MPI_IDENT`, `MPI_CONGRUENT`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// The same object.
    Identical,
    /// Same members in the same order, different context.
    Congruent,
    /// Same members, different order.
    Similar,
    /// Different members.
    Unequal,
}

impl Comparison {
    pub(crate) fn from_raw(raw: c_int) -> Comparison {
        if raw == ffi::IDENT() {
            Comparison::Identical
        } else if raw == ffi::CONGRUENT() {
            Comparison::Congruent
        } else if raw == ffi::SIMILAR() {
            Comparison::Similar
        } else {
            Comparison::Unequal
        }
    }
}

/// A group of processes. Freed on drop.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// let env = mpi4rs::init()?;
/// let world = env.world().group()?;
/// let evens: Vec<i32> = (0..world.size()?).step_by(2).collect();
/// let even_group = world.incl(&evens)?;
/// let even_comm = env.world().create(&even_group)?; // None on odd ranks
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct Group {
    raw: MPI_Group,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

impl Group {
    pub(crate) fn adopt(raw: MPI_Group) -> Group {
        Group { raw, _thread: std::marker::PhantomData }
    }

    /// The empty group.
    pub fn empty() -> Group {
        Group { raw: ffi::GROUP_EMPTY(), _thread: std::marker::PhantomData }
    }

    /// The raw handle (still owned by `self`).
    pub fn as_raw(&self) -> MPI_Group {
        self.raw
    }

    /// Number of processes.
    pub fn size(&self) -> Result<i32> {
        let mut n = 0;
        mpi_call!(MPI_Group_size(self.raw, &mut n))?;
        Ok(n)
    }

    /// This process's rank in the group, `None` if it is not a member.
    pub fn rank(&self) -> Result<Option<i32>> {
        let mut r = 0;
        mpi_call!(MPI_Group_rank(self.raw, &mut r))?;
        Ok((r != ffi::UNDEFINED()).then_some(r))
    }

    fn binary(
        &self,
        other: &Group,
        f: unsafe extern "C" fn(MPI_Group, MPI_Group, *mut MPI_Group) -> c_int,
        call: &'static str,
    ) -> Result<Group> {
        let mut g = ffi::GROUP_NULL();
        let _call = crate::error::require_not_finalized()?;
        // SAFETY: `f` is one of MPI's group constructors (two groups in, one out); both handles
        // are live groups and `g` outlives the call.
        crate::error::check(call, unsafe { f(self.raw, other.raw, &mut g) })?;
        Ok(Group::adopt(g))
    }

    /// Members of either group, `self`'s first (`MPI_Group_union`).
    pub fn union(&self, other: &Group) -> Result<Group> {
        self.binary(other, ffi::MPI_Group_union, "MPI_Group_union")
    }

    /// Members of both groups, in `self`'s order (`MPI_Group_intersection`).
    pub fn intersection(&self, other: &Group) -> Result<Group> {
        self.binary(other, ffi::MPI_Group_intersection, "MPI_Group_intersection")
    }

    /// Members of `self` not in `other` (`MPI_Group_difference`).
    pub fn difference(&self, other: &Group) -> Result<Group> {
        self.binary(other, ffi::MPI_Group_difference, "MPI_Group_difference")
    }

    /// Checks that `ranks` are distinct members of this group.
    fn check_ranks(&self, ranks: &[i32]) -> Result<c_int> {
        let size = self.size()?;
        let mut seen = vec![false; size as usize];
        for &r in ranks {
            if r < 0 || r >= size {
                return Err(Error::InvalidRank { rank: r, size, allows_any: false });
            }
            if std::mem::replace(&mut seen[r as usize], true) {
                return Err(Error::InvalidArgument(format!("rank {r} is listed twice")));
            }
        }
        to_count("number of ranks", ranks.len())
    }

    /// The group of the listed ranks, in that order (`MPI_Group_incl`).
    pub fn incl(&self, ranks: &[i32]) -> Result<Group> {
        let n = self.check_ranks(ranks)?;
        let mut g = ffi::GROUP_NULL();
        mpi_call!(MPI_Group_incl(self.raw, n, ranks.as_ptr(), &mut g))?;
        Ok(Group::adopt(g))
    }

    /// The group without the listed ranks (`MPI_Group_excl`).
    pub fn excl(&self, ranks: &[i32]) -> Result<Group> {
        let n = self.check_ranks(ranks)?;
        let mut g = ffi::GROUP_NULL();
        mpi_call!(MPI_Group_excl(self.raw, n, ranks.as_ptr(), &mut g))?;
        Ok(Group::adopt(g))
    }

    /// Expands `(first, last, stride)` triplets, checking each rank as `incl` would.
    fn check_ranges(&self, ranges: &[(i32, i32, i32)]) -> Result<Vec<[c_int; 3]>> {
        let mut all = Vec::new();
        for &(first, last, stride) in ranges {
            if stride == 0 || (last - first).signum() * stride.signum() < 0 {
                return Err(Error::InvalidArgument(format!(
                    "range ({first}, {last}, {stride}) is empty or endless"
                )));
            }
            all.extend((0..=(last - first) / stride).map(|i| first + i * stride));
        }
        self.check_ranks(&all)?;
        Ok(ranges.iter().map(|&(a, b, c)| [a, b, c]).collect())
    }

    /// The group of the ranks in `(first, last, stride)` ranges (`MPI_Group_range_incl`).
    pub fn range_incl(&self, ranges: &[(i32, i32, i32)]) -> Result<Group> {
        let mut r = self.check_ranges(ranges)?;
        let mut g = ffi::GROUP_NULL();
        mpi_call!(MPI_Group_range_incl(self.raw, to_count("ranges", r.len())?, r.as_mut_ptr(), &mut g))?;
        Ok(Group::adopt(g))
    }

    /// The group without the ranks in `(first, last, stride)` ranges (`MPI_Group_range_excl`).
    pub fn range_excl(&self, ranges: &[(i32, i32, i32)]) -> Result<Group> {
        let mut r = self.check_ranges(ranges)?;
        let mut g = ffi::GROUP_NULL();
        mpi_call!(MPI_Group_range_excl(self.raw, to_count("ranges", r.len())?, r.as_mut_ptr(), &mut g))?;
        Ok(Group::adopt(g))
    }

    /// The ranks in `other` of the processes with `ranks` in `self`; `None` where a process is
    /// not in `other` (`MPI_Group_translate_ranks`).
    pub fn translate_ranks(&self, ranks: &[i32], other: &Group) -> Result<Vec<Option<i32>>> {
        let size = self.size()?;
        if let Some(&r) = ranks.iter().find(|&&r| (r < 0 || r >= size) && r != ffi::PROC_NULL()) {
            return Err(Error::InvalidRank { rank: r, size, allows_any: false });
        }
        let mut out = vec![0; ranks.len()];
        let n = to_count("number of ranks", ranks.len())?;
        mpi_call!(MPI_Group_translate_ranks(self.raw, n, ranks.as_ptr(), other.raw, out.as_mut_ptr()))?;
        Ok(out.into_iter().map(|r| (r != ffi::UNDEFINED()).then_some(r)).collect())
    }

    /// Compares two groups (`MPI_Group_compare`).
    pub fn compare(&self, other: &Group) -> Result<Comparison> {
        let mut r = 0;
        mpi_call!(MPI_Group_compare(self.raw, other.raw, &mut r))?;
        Ok(Comparison::from_raw(r))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.raw == ffi::GROUP_EMPTY() || self.raw == ffi::GROUP_NULL() {
            return;
        }
        if let Some(_call) = enter_if_active() {
            // SAFETY: a group this value owns, freed once; MPI is active.
            unsafe { ffi::MPI_Group_free(&mut self.raw) };
        }
    }
}
