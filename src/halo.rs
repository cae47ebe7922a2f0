//! Halo exchange for structured grids: the face datatypes and the neighbour layout of a
//! Cartesian decomposition built once, then an exchange every step — blocking, nonblocking
//! with overlap, or persistent — straight out of and into the grid itself.
//!
//! A rank's block is a C-ordered array of `interior[0] × … × interior[d-1]` points framed by
//! `ghost` layers on every side, so its shape is `interior[k] + 2·ghost` per dimension. In
//! each dimension the rank sends its first and last `ghost` interior layers to its lower and
//! upper neighbour ([`CartComm::shift`]) and receives theirs into its ghost layers. Faces only
//! (no edges or corners): what 5-point (2-D) and 7-point (3-D) stencils need. At a
//! non-periodic boundary the neighbour is `PROC_NULL` and the ghost layer is left as it is
//! (a Dirichlet boundary keeps its values).
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::{compute_dims, Halo};
//!
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let dims = compute_dims(world.size(), &[0, 0])?;
//! let cart = world.create_cart(&dims, &[false, false], true)?.expect("in the grid");
//! let halo = Halo::<f64>::new(&cart, &[64, 64], 1)?;
//! let mut u = vec![0.0; halo.len()];
//! halo.exchange(&mut u)?;                          // blocking
//! mpi4rs::scope(|s| {
//!     let f = halo.start(s, &mut u)?;              // nonblocking
//!     let row = f.line(&[10])?;                    // interior rows stay readable meanwhile
//!     let _sum: f64 = row.iter().sum();
//!     f.wait()
//! })?;
//! let mut set = halo.persistent(u)?;               // persistent, owning the grid
//! for _ in 0..10 {
//!     set.start()?;
//!     set.wait()?;
//!     set.get_mut()?[0] = 1.0;                     // the grid is ours between runs
//! }
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use crate::buffer::{BufferElement, BufferMut, LendMut};
use crate::datatype::{Datatype, Order};
use crate::error::{Error, Result};
use crate::exchange::Exchange;
use crate::persistent::Persistent;
use crate::region::Region;
use crate::request::{PersistentRequest, RequestSet};
use crate::scope::Scope;
use crate::topology::CartComm;
use mpi4rs_device::MemoryKind;
use std::marker::PhantomData;

/// The halo exchange of one rank's block of a structured grid of `T` (see the
/// [module docs](self)).
pub struct Halo<'c, T: BufferElement> {
    cart: &'c CartComm,
    plan: Exchange,
    shape: Vec<usize>,
    ghost: usize,
    _element: PhantomData<fn() -> T>,
}

impl<'c, T: BufferElement> Halo<'c, T> {
    /// Builds the face datatypes and the neighbour layout for a block of `interior` points
    /// (one length per dimension of `cart`, C order) with `ghost` layers on every side.
    pub fn new(cart: &'c CartComm, interior: &[usize], ghost: usize) -> Result<Halo<'c, T>> {
        let nd = interior.len();
        if nd != cart.ndims() {
            return Err(Error::InvalidDims(format!(
                "the block has {nd} dimensions, the Cartesian communicator {}",
                cart.ndims()
            )));
        }
        if ghost == 0 {
            return Err(Error::InvalidArgument("a halo needs at least one ghost layer".into()));
        }
        if let Some(k) = interior.iter().position(|&n| n < ghost) {
            return Err(Error::InvalidArgument(format!(
                "dimension {k} has {} interior points, fewer than the {ghost} ghost layers its neighbours need",
                interior[k]
            )));
        }
        let shape: Vec<usize> = interior.iter().map(|&n| n + 2 * ghost).collect();
        let element = Datatype::of::<T>()?;
        let mut plan = Exchange::new();
        for d in 0..nd {
            let (lower, upper) = cart.shift(d, 1)?;
            // The faces of dimension d: all interior points of the other dimensions.
            let mut sub: Vec<usize> = interior.to_vec();
            sub[d] = ghost;
            let at = |start_d: usize| -> Result<Datatype> {
                let mut starts = vec![ghost; nd];
                starts[d] = start_d;
                Datatype::subarray(&shape, &sub, &starts, Order::C, &element)
            };
            let n = interior[d];
            let (send_low, send_high) = (at(ghost)?, at(n)?);
            let (recv_low, recv_high) = (at(0)?, at(n + ghost)?);
            // Tags: 2d for what travels down, 2d + 1 for what travels up.
            let (down, up) = (2 * d as i32, 2 * d as i32 + 1);
            plan = plan
                .recv(Region::of(&recv_low), lower, up)?
                .recv(Region::of(&recv_high), upper, down)?
                .send(Region::of(&send_low), lower, down)?
                .send(Region::of(&send_high), upper, up)?;
        }
        Ok(Halo { cart, plan, shape, ghost, _element: PhantomData })
    }

    /// The number of elements of the block, ghosts included.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the block has no elements (never: every dimension has at least two ghosts).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The block's shape, ghosts included.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of ghost layers.
    pub fn ghost(&self) -> usize {
        self.ghost
    }

    /// The flat (C-order) index of a point of the block, ghost coordinates included.
    pub fn index(&self, at: &[usize]) -> usize {
        at.iter().zip(&self.shape).fold(0, |acc, (&i, &n)| acc * n + i)
    }

    /// The Cartesian communicator.
    pub fn comm(&self) -> &'c CartComm {
        self.cart
    }

    /// The point-to-point plan the exchange runs (its regions are checked disjoint).
    pub fn plan(&self) -> &Exchange {
        &self.plan
    }

    fn check_grid<B: BufferMut + ?Sized>(&self, grid: &mut B) -> Result<()> {
        let s = grid.spec_mut()?;
        if s.kind() != T::kind() || s.count() != self.len() {
            return Err(Error::BufferLength {
                what: "halo grid",
                detail: format!(
                    "the block needs {} elements of {:?} (shape {:?}), the buffer has {} of {:?}",
                    self.len(),
                    T::kind(),
                    self.shape,
                    s.count(),
                    s.kind()
                ),
            });
        }
        Ok(())
    }

    /// Exchanges the halo of `grid` and waits for it.
    pub fn exchange<B: BufferMut + ?Sized>(&self, grid: &mut B) -> Result<()> {
        self.check_grid(grid)?;
        self.plan.run(self.cart, grid)
    }

    /// Starts exchanging the halo of `grid`, lent for the scope. While it runs, the interior
    /// of a host grid stays readable through [`InFlight::line`] (MPI only reads the faces and
    /// writes the ghosts).
    pub fn start<'s, L: LendMut<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        mut grid: L,
    ) -> Result<InFlight<'s, T>> {
        self.check_grid(grid.target_mut())?;
        let s = grid.target_mut().spec_mut()?;
        let host = s.place.memory == MemoryKind::Host && s.kind() == T::kind();
        let base = s.ptr.cast::<T>().cast_const();
        let requests = self.plan.start(self.cart, scope, grid)?;
        Ok(InFlight {
            requests,
            base,
            host,
            shape: self.shape.clone(),
            ghost: self.ghost,
            _grid: PhantomData,
        })
    }

    /// Makes the exchange's persistent requests on `grid`, lent for the scope (see
    /// [`Exchange::init`]); e.g. in [`Persistent::new`] for a device grid.
    pub fn init<'s, L: LendMut<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        mut grid: L,
    ) -> Result<Vec<PersistentRequest<'s>>> {
        self.check_grid(grid.target_mut())?;
        self.plan.init(self.cart, scope, grid)
    }

    /// A persistent exchange that owns the host grid `grid`: start and wait each step, read
    /// and write the grid between runs, read its interior during them.
    pub fn persistent(&self, grid: Vec<T>) -> Result<PersistentHalo<T>> {
        let set = Persistent::new(grid, |s, g| self.init(s, &mut g[..]).map(drop))?;
        Ok(PersistentHalo { set, shape: self.shape.clone(), ghost: self.ghost })
    }
}

/// The interior lines of a block, for reading while its halo exchange runs.
fn line_range(shape: &[usize], ghost: usize, at: &[usize]) -> Result<std::ops::Range<usize>> {
    let nd = shape.len();
    if at.len() + 1 != nd {
        return Err(Error::InvalidArgument(format!(
            "a line of a {nd}-dimensional block is given by {} leading coordinates, not {}",
            nd - 1,
            at.len()
        )));
    }
    let mut flat = 0usize;
    for (k, (&i, &n)) in at.iter().zip(shape).enumerate() {
        if i < ghost || i >= n - ghost {
            return Err(Error::InvalidArgument(format!(
                "coordinate {i} of dimension {k} is not interior (interior: {ghost}..{})",
                n - ghost
            )));
        }
        flat = flat * n + i;
    }
    let last = shape[nd - 1];
    let start = flat * last + ghost;
    Ok(start..start + last - 2 * ghost)
}

/// A halo exchange in flight ([`Halo::start`]).
#[must_use = "dropping an exchange in flight waits for it"]
pub struct InFlight<'s, T> {
    requests: RequestSet<'s>,
    base: *const T,
    host: bool,
    shape: Vec<usize>,
    ghost: usize,
    _grid: PhantomData<&'s [T]>,
}

impl<'s, T: BufferElement> InFlight<'s, T> {
    /// The interior points of one line of the grid (the last dimension, ghosts excluded),
    /// given by its leading coordinates (ghosts counted, so interior coordinates run from
    /// `ghost`): for a 2-D block, `line(&[i])` is row `i`. Only host grids can be read so.
    pub fn line(&self, at: &[usize]) -> Result<&[T]> {
        if !self.host {
            return Err(Error::UnsupportedBuffer("only a host grid can be read during its exchange".into()));
        }
        let r = line_range(&self.shape, self.ghost, at)?;
        // SAFETY: the grid is host memory of `shape` elements of T lent for 's, which outlives
        // `&self`; the range holds interior points only, which the exchange never writes (its
        // receive regions are the ghost layers, checked disjoint from the faces it reads), so
        // no write happens to these elements while the shared slice lives.
        Ok(unsafe { std::slice::from_raw_parts(self.base.add(r.start), r.len()) })
    }

    /// Waits for the exchange.
    pub fn wait(self) -> Result<()> {
        self.requests.wait()
    }

    /// Whether the exchange is done; completes it if so.
    pub fn test(&mut self) -> Result<bool> {
        self.requests.test()
    }
}

/// A persistent halo exchange that owns its host grid ([`Halo::persistent`]).
pub struct PersistentHalo<T: BufferElement> {
    set: Persistent<Vec<T>>,
    shape: Vec<usize>,
    ghost: usize,
}

impl<T: BufferElement> PersistentHalo<T> {
    /// Starts the exchange.
    pub fn start(&mut self) -> Result<()> {
        self.set.start()
    }

    /// Waits for the exchange; the grid is the program's again.
    pub fn wait(&mut self) -> Result<()> {
        self.set.wait()
    }

    /// Whether the exchange is running.
    pub fn is_active(&self) -> bool {
        self.set.is_active()
    }

    /// The grid, between runs.
    pub fn get(&self) -> Result<&[T]> {
        self.set.get().map(|v| &v[..])
    }

    /// The grid, writable, between runs (a slice: the grid cannot be reallocated).
    pub fn get_mut(&mut self) -> Result<&mut [T]> {
        self.set.get_mut().map(|v| &mut v[..])
    }

    /// One interior line, readable whether or not the exchange runs (see [`InFlight::line`]).
    pub fn line(&self, at: &[usize]) -> Result<&[T]> {
        let r = line_range(&self.shape, self.ghost, at)?;
        let v = self.set.buffer_unchecked();
        // SAFETY: the set owns the grid and hands out only slices (never the Vec), so its
        // length is `shape`'s product and `r` lies inside it; interior points are never
        // written by the exchange (see InFlight::line), and `&self` keeps the grid alive.
        Ok(unsafe { std::slice::from_raw_parts(v.as_ptr().add(r.start), r.len()) })
    }

    /// Waits for a running exchange, frees it, and gives the grid back.
    pub fn into_inner(self) -> Result<Vec<T>> {
        self.set.into_inner()
    }
}
