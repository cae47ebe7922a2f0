//! Cartesian topologies (mpi4py's `Cartcomm`, `Compute_dims`).

use super::{c_len, ints, product, topology_comm, Neighbours, TopologyKind};
use crate::comm::{Comm, Communicator};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm};
use std::ffi::c_int;

/// A communicator whose processes form a Cartesian grid (`MPI_Cart_create`): made by
/// [`Comm::create_cart`], freed on drop. Dimensions, periodicity and this process's
/// coordinates are read once and kept.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// let dims = mpi4rs::compute_dims(world.size(), &[0, 0])?;
/// let cart = world.create_cart(&dims, &[false, false], true)?.unwrap();
/// let (up, down) = cart.shift(0, 1)?; // proc_null() past the edges
/// let me = cart.coords();
/// assert_eq!(cart.rank_of(me)?, cart.rank());
/// # let _ = (up, down);
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[derive(Debug)]
pub struct CartComm {
    n: Neighbours,
    dims: Vec<i32>,
    periods: Vec<bool>,
    coords: Vec<i32>,
}

topology_comm!(CartComm, TopologyKind::Cartesian);

/// Zero-dimensional grids are refused: MPICH 4.0 gives them to one process only, and
/// `MPI_Cart_sub` keeping no dimension returns `COMM_NULL` to all others there.
const ZERO_DIMS: &str =
    "a grid needs at least one dimension (zero-dimensional grids differ between MPI libraries)";

/// Checks dimensions and periods against each other and against the `size` processes there are.
fn check_grid(dims: &[i32], periods: &[bool], size: i32) -> Result<()> {
    if dims.is_empty() {
        return Err(Error::InvalidDims(ZERO_DIMS.into()));
    }
    if dims.len() != periods.len() {
        return Err(Error::InvalidDims(format!(
            "{} dimensions but {} periodicity flags: give one flag per dimension",
            dims.len(),
            periods.len()
        )));
    }
    if let Some((i, d)) = dims.iter().enumerate().find(|(_, &d)| d < 1) {
        return Err(Error::InvalidDims(format!(
            "dimension {i} has {d} processes: each needs at least 1 (compute_dims fills in zeros)"
        )));
    }
    match product(dims) {
        Some(p) if p <= size as i64 => Ok(()),
        p => Err(Error::InvalidDims(format!(
            "the grid {dims:?} needs {} processes but the communicator has {size}",
            p.map_or("more than 2^31".to_string(), |p| p.to_string())
        ))),
    }
}

fn c_periods(periods: &[bool]) -> Vec<c_int> {
    periods.iter().map(|&p| p as c_int).collect()
}

impl Comm {
    /// Makes a Cartesian grid of `dims` processes per dimension, periodic where `periods` says
    /// (`MPI_Cart_create`); `reorder` lets MPI renumber the processes. Collective. The grid may
    /// hold fewer processes than the communicator: those left over get `None`.
    /// [`Error::InvalidDims`] when the lengths differ, a dimension is below 1 or the grid needs
    /// more processes than there are (or `dims` is empty).
    pub fn create_cart(&self, dims: &[i32], periods: &[bool], reorder: bool) -> Result<Option<CartComm>> {
        check_grid(dims, periods, self.size())?;
        let ndims = c_len("number of dimensions", dims.len())?;
        let periods = c_periods(periods);
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Cart_create(
            self.as_raw(),
            ndims,
            ints(dims),
            ints(&periods),
            reorder as c_int,
            &mut c
        ))?;
        Neighbours::adopt(c, TopologyKind::Cartesian)?.map(CartComm::wrap).transpose()
    }

    /// The rank this process would have in a grid of `dims` (`MPI_Cart_map`), `None` if it
    /// would be left out. Same checks as [`create_cart`](Self::create_cart).
    pub fn cart_map(&self, dims: &[i32], periods: &[bool]) -> Result<Option<i32>> {
        check_grid(dims, periods, self.size())?;
        let ndims = c_len("number of dimensions", dims.len())?;
        let periods = c_periods(periods);
        let mut rank: c_int = 0;
        mpi_call!(MPI_Cart_map(self.as_raw(), ndims, ints(dims), ints(&periods), &mut rank))?;
        Ok(super::mapped_rank(rank, product(dims).unwrap_or(0)))
    }
}

/// A balanced grid of `nnodes` processes (`MPI_Dims_create`): the entries of `dims` that are
/// not 0 are kept, the zeros are filled in, as close to each other as possible and in
/// non-increasing order. [`Error::InvalidDims`] if `nnodes` < 1, an entry is negative, or the
/// fixed entries do not divide `nnodes` (or, with no zeros, do not multiply to it).
///
/// ```no_run
/// let env = mpi4rs::init()?;
/// assert_eq!(mpi4rs::compute_dims(12, &[0, 0])?, [4, 3]);
/// assert_eq!(mpi4rs::compute_dims(12, &[0, 2, 0])?, [3, 2, 2]);
/// assert!(mpi4rs::compute_dims(12, &[5, 0]).is_err());
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub fn compute_dims(nnodes: i32, dims: &[i32]) -> Result<Vec<i32>> {
    if nnodes < 1 {
        return Err(Error::InvalidDims(format!("cannot lay out {nnodes} processes: need at least 1")));
    }
    if let Some((i, d)) = dims.iter().enumerate().find(|(_, &d)| d < 0) {
        return Err(Error::InvalidDims(format!(
            "dimension {i} is {d}: entries are 0 (to fill in) or positive"
        )));
    }
    let fixed: Vec<i32> = dims.iter().copied().filter(|&d| d > 0).collect();
    let p = product(&fixed).unwrap_or(i64::MAX);
    let free = fixed.len() < dims.len();
    if (free && nnodes as i64 % p != 0) || (!free && nnodes as i64 != p) {
        return Err(Error::InvalidDims(format!(
            "the fixed dimensions {dims:?} (product {p}) {} {nnodes} processes",
            if free { "do not divide" } else { "do not multiply to" }
        )));
    }
    if !free {
        return Ok(dims.to_vec());
    }
    let mut out = dims.to_vec();
    mpi_call!(MPI_Dims_create(nnodes, c_len("number of dimensions", dims.len())?, out.as_mut_ptr()))?;
    Ok(out)
}

/// The neighbour list of a Cartesian communicator: per dimension, −1 then +1.
pub(super) fn neighbour_list(raw: MPI_Comm) -> Result<Vec<i32>> {
    let mut ndims: c_int = 0;
    mpi_call!(MPI_Cartdim_get(raw, &mut ndims))?;
    let mut list = Vec::with_capacity(2 * ndims.max(0) as usize);
    for d in 0..ndims {
        let (mut source, mut dest) = (0, 0);
        mpi_call!(MPI_Cart_shift(raw, d, 1, &mut source, &mut dest))?;
        list.extend([source, dest]);
    }
    Ok(list)
}

impl CartComm {
    fn wrap(n: Neighbours) -> Result<CartComm> {
        let raw = n.comm.as_raw();
        let mut ndims: c_int = 0;
        mpi_call!(MPI_Cartdim_get(raw, &mut ndims))?;
        let k = ndims.max(0) as usize;
        let (mut dims, mut periods, mut coords) = (vec![0; k.max(1)], vec![0; k.max(1)], vec![0; k.max(1)]);
        mpi_call!(MPI_Cart_get(raw, ndims, dims.as_mut_ptr(), periods.as_mut_ptr(), coords.as_mut_ptr()))?;
        dims.truncate(k);
        coords.truncate(k);
        let periods = periods[..k].iter().map(|&p| p != 0).collect();
        Ok(CartComm { n, dims, periods, coords })
    }

    /// Takes ownership of a raw communicator that carries a Cartesian topology.
    ///
    /// # Safety
    /// `raw` must be a valid intracommunicator that nothing else frees.
    pub unsafe fn from_raw(raw: MPI_Comm) -> Result<CartComm> {
        Neighbours::adopt(raw, TopologyKind::Cartesian)?
            .ok_or_else(|| Error::Topology("COMM_NULL has no topology".into()))
            .and_then(CartComm::wrap)
    }

    /// Number of dimensions (`MPI_Cartdim_get`).
    pub fn ndims(&self) -> usize {
        self.dims.len()
    }

    /// Processes per dimension (`MPI_Cart_get`).
    pub fn dims(&self) -> &[i32] {
        &self.dims
    }

    /// Whether each dimension wraps around (`MPI_Cart_get`).
    pub fn periods(&self) -> &[bool] {
        &self.periods
    }

    /// This process's coordinates (`MPI_Cart_get`).
    pub fn coords(&self) -> &[i32] {
        &self.coords
    }

    /// The rank at `coords` (`MPI_Cart_rank`). Periodic dimensions take any coordinate
    /// (wrapped); on a non-periodic one a coordinate outside `0..dims[i]` is an
    /// [`Error::Topology`], as is a list of the wrong length.
    pub fn rank_of(&self, coords: &[i32]) -> Result<i32> {
        if coords.len() != self.dims.len() {
            return Err(Error::InvalidDims(format!(
                "{} coordinates for a {}-dimensional grid",
                coords.len(),
                self.dims.len()
            )));
        }
        for (i, ((&c, &d), &p)) in coords.iter().zip(&self.dims).zip(&self.periods).enumerate() {
            if !p && !(0..d).contains(&c) {
                return Err(Error::Topology(format!(
                    "coordinate {c} of dimension {i} is outside 0..{d} (the dimension is not periodic)"
                )));
            }
        }
        let mut rank: c_int = 0;
        mpi_call!(MPI_Cart_rank(self.as_raw(), ints(coords), &mut rank))?;
        Ok(rank)
    }

    /// The coordinates of `rank` (`MPI_Cart_coords`); [`Error::Topology`] outside the grid.
    pub fn coords_of(&self, rank: i32) -> Result<Vec<i32>> {
        if !(0..self.size()).contains(&rank) {
            return Err(Error::Topology(format!("rank {rank} is not in the grid (0..{})", self.size())));
        }
        let k = self.dims.len();
        let mut coords = vec![0; k.max(1)];
        mpi_call!(MPI_Cart_coords(self.as_raw(), rank, k as c_int, coords.as_mut_ptr()))?;
        coords.truncate(k);
        Ok(coords)
    }

    /// The ranks `(source, dest)` at `-disp` and `+disp` along `direction` (`MPI_Cart_shift`):
    /// a halo exchange sends to `dest` and receives from `source`. Past the end of a
    /// non-periodic dimension the rank is [`proc_null`](crate::proc_null).
    /// [`Error::InvalidDims`] for a direction that is not a dimension.
    pub fn shift(&self, direction: usize, disp: i32) -> Result<(i32, i32)> {
        if direction >= self.dims.len() {
            return Err(Error::InvalidDims(format!(
                "direction {direction} of a {}-dimensional grid",
                self.dims.len()
            )));
        }
        let (mut source, mut dest) = (0, 0);
        mpi_call!(MPI_Cart_shift(self.as_raw(), direction as c_int, disp, &mut source, &mut dest))?;
        Ok((source, dest))
    }

    /// The sub-grid of the dimensions where `remain` is true, through this process
    /// (`MPI_Cart_sub`): e.g. `[false, true]` on a 2-D grid gives this process's row.
    /// Collective. [`Error::InvalidDims`] when `remain` has the wrong length or keeps no
    /// dimension.
    pub fn sub(&self, remain: &[bool]) -> Result<CartComm> {
        if remain.len() != self.dims.len() {
            return Err(Error::InvalidDims(format!(
                "{} flags for a {}-dimensional grid",
                remain.len(),
                self.dims.len()
            )));
        }
        if !remain.contains(&true) {
            return Err(Error::InvalidDims(ZERO_DIMS.into()));
        }
        let flags = c_periods(remain);
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Cart_sub(self.as_raw(), ints(&flags), &mut c))?;
        Neighbours::adopt(c, TopologyKind::Cartesian)?
            .ok_or_else(|| Error::Topology("MPI_Cart_sub returned COMM_NULL".into()))
            .and_then(CartComm::wrap)
    }

    /// Duplicates the communicator with its topology (`MPI_Comm_dup`).
    pub fn dup(&self) -> Result<CartComm> {
        CartComm::wrap(self.n.dup(TopologyKind::Cartesian)?)
    }
}
