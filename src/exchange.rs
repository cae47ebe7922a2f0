//! Point-to-point exchanges out of and into one buffer: the zero-copy halo exchange.
//!
//! An [`Exchange`] is a plan, built once: regions of a buffer ([`Region`]: datatype, byte
//! offset, count) to send to a rank with a tag, and regions to receive into from a rank with a
//! tag. When it is built, the library checks, byte for byte, that every receive region is
//! disjoint from every other region; every run then lends the *one* buffer to all of the
//! plan's operations — no copies, no second borrow of the grid — in a blocking
//! ([`run`](Exchange::run)), nonblocking ([`start`](Exchange::start), in a
//! [`Scope`]) or persistent ([`init`](Exchange::init), for a
//! [`Persistent`](crate::Persistent) set) form.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::{Datatype, Exchange, Region};
//!
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let (n, me) = (world.size(), world.rank());
//! let (right, left) = ((me + 1) % n, (me + n - 1) % n);
//! // A 4 x 6 row-major grid with one ghost column on each side: send the last interior
//! // column right and receive the left ghost column from the left, through one datatype.
//! let column = Datatype::vector(4, 1, 6, &Datatype::of::<f64>()?)?;
//! let x = Exchange::new()
//!     .send(Region::new(&column, 4 * 8, 1), right, 0)?
//!     .recv(Region::new(&column, 0, 1), left, 0)?;
//! let mut grid = vec![me as f64; 24];
//! x.run(world, &mut grid)?;
//! assert_eq!(grid[0], left as f64);
//! // Receiving into bytes the plan also sends from is refused before MPI is called.
//! assert!(x.clone_with_recv(Region::new(&column, 4 * 8, 1), left, 1).is_err());
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use crate::buffer::{BufferMut, ElementKind, LendMut, SpecMut};
use crate::comm::Communicator;
use crate::comm::{check_rank, check_tag_any, refuse_unprobed_self_receive};
use crate::datatype::Datatype;
use crate::error::{check, Error, Result};
use crate::ffi::{self, MPI_Request};
use crate::region::{check_disjoint, runs, Part, Region, Runs};
use crate::request::{PersistentRequest, RequestSet};
use crate::scope::Scope;
use crate::transfer::stage::{Fill, Transfer};
use crate::util::to_count;
use mpi4rs_device::DType;
use std::ffi::{c_int, c_void};

/// One region of a plan with its peer.
struct Leg {
    recv: bool,
    datatype: Datatype,
    offset: usize,
    count: c_int,
    peer: i32,
    tag: i32,
    runs: Runs,
}

/// A plan of sends out of and receives into one buffer (see the [module docs](self)).
#[derive(Default)]
pub struct Exchange {
    legs: Vec<Leg>,
}

impl Exchange {
    /// An empty plan.
    pub fn new() -> Exchange {
        Exchange::default()
    }

    /// Adds a send of `region` to rank `dest` with `tag`.
    pub fn send(self, region: Region<'_>, dest: i32, tag: i32) -> Result<Exchange> {
        self.add(false, region, dest, tag)
    }

    /// Adds a receive into `region` from rank `source` with `tag`. An error if the region
    /// touches a byte that another region of the plan touches.
    pub fn recv(self, region: Region<'_>, source: i32, tag: i32) -> Result<Exchange> {
        self.add(true, region, source, tag)
    }

    /// A copy of the plan with one more receive (the plan itself is unchanged), e.g. to try
    /// a region.
    pub fn clone_with_recv(&self, region: Region<'_>, source: i32, tag: i32) -> Result<Exchange> {
        let mut legs = Vec::with_capacity(self.legs.len() + 1);
        for l in &self.legs {
            legs.push(Leg {
                recv: l.recv,
                datatype: l.datatype.dup()?,
                offset: l.offset,
                count: l.count,
                peer: l.peer,
                tag: l.tag,
                runs: l.runs.clone(),
            });
        }
        Exchange { legs }.recv(region, source, tag)
    }

    fn add(mut self, recv: bool, region: Region<'_>, peer: i32, tag: i32) -> Result<Exchange> {
        let count = to_count("region count", region.count)?;
        let (runs, self_overlap) = runs(&region)?;
        if recv && self_overlap {
            return Err(Error::InvalidArgument(format!(
                "receive region {} touches some bytes twice (its items overlap)",
                self.legs.len()
            )));
        }
        let leg =
            Leg { recv, datatype: region.datatype.dup()?, offset: region.offset, count, peer, tag, runs };
        self.legs.push(leg);
        let parts: Vec<Part<'_>> = self
            .legs
            .iter()
            .enumerate()
            .map(|(i, l)| Part {
                runs: &l.runs,
                recv: l.recv,
                name: format!(
                    "{} region {i} (rank {}, tag {})",
                    if l.recv { "receive" } else { "send" },
                    l.peer,
                    l.tag
                ),
            })
            .collect();
        check_disjoint(&parts)?;
        Ok(self)
    }

    /// The number of bytes the buffer must have (the end of the last region).
    pub fn min_bytes(&self) -> usize {
        self.legs.iter().map(|l| l.runs.end()).max().unwrap_or(0)
    }

    /// The number of sends and receives.
    pub fn len(&self) -> usize {
        self.legs.len()
    }

    /// Whether the plan has no sends or receives.
    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// Checks ranks, tags and the buffer, and routes it (device buffers are staged whole).
    fn prepare<C, B>(&self, comm: &C, buf: &mut B, t: &mut Transfer) -> Result<SpecMut>
    where
        C: Communicator + ?Sized,
        B: BufferMut + ?Sized,
    {
        let _call = crate::error::require_not_finalized()?;
        for l in &self.legs {
            check_rank(comm, l.peer, l.recv)?;
            check_tag_any(l.tag, l.recv)?;
            if l.recv {
                refuse_unprobed_self_receive(comm, l.peer, "an exchange's receive")?;
            }
        }
        let s = buf.spec_mut()?;
        check_buffer(&s, self.min_bytes(), self.legs.iter().filter(|l| l.recv).map(|l| &l.datatype))?;
        t.write_spec(s, Fill::Update)
    }

    /// Posts every receive, then every send, on the routed buffer `s`: `persistent` makes
    /// inactive persistent requests instead.
    fn post<C: Communicator + ?Sized>(
        &self,
        comm: &C,
        s: &SpecMut,
        persistent: bool,
    ) -> Result<Vec<MPI_Request>> {
        let mut reqs = Vec::with_capacity(self.legs.len());
        let result = self.post_into(comm, s, persistent, &mut reqs);
        if let Err(e) = result {
            // Complete (and free) what was already posted before reporting the error.
            for r in &mut reqs {
                if persistent {
                    let _ = crate::completion::free_persistent(r, false);
                } else {
                    let _ = crate::completion::wait_raw(r);
                }
            }
            return Err(e);
        }
        Ok(reqs)
    }

    fn post_into<C: Communicator + ?Sized>(
        &self,
        comm: &C,
        s: &SpecMut,
        persistent: bool,
        reqs: &mut Vec<MPI_Request>,
    ) -> Result<()> {
        let _call = crate::error::require_not_finalized()?;
        for l in self.legs.iter().filter(|l| l.recv).chain(self.legs.iter().filter(|l| !l.recv)) {
            // The leg lies inside the buffer (checked in `prepare` against `min_bytes`).
            let ptr = s.ptr.cast::<u8>().wrapping_add(l.offset).cast::<c_void>();
            let mut req = ffi::REQUEST_NULL();
            let (raw, dt) = (comm.as_raw(), l.datatype.as_raw());
            // SAFETY: `ptr` is the origin of a region whose touched bytes lie inside the lent
            // buffer (checked), which stays lent until the request completes (the caller's
            // scope, set, or blocking wait); receive regions are disjoint from every other.
            let code = unsafe {
                match (l.recv, persistent) {
                    (true, false) => ffi::MPI_Irecv(ptr, l.count, dt, l.peer, l.tag, raw, &mut req),
                    (true, true) => ffi::MPI_Recv_init(ptr, l.count, dt, l.peer, l.tag, raw, &mut req),
                    (false, false) => ffi::MPI_Isend(ptr, l.count, dt, l.peer, l.tag, raw, &mut req),
                    (false, true) => ffi::MPI_Send_init(ptr, l.count, dt, l.peer, l.tag, raw, &mut req),
                }
            };
            check(if l.recv { "MPI_Irecv" } else { "MPI_Isend" }, code)?;
            reqs.push(req);
        }
        Ok(())
    }

    /// Runs the exchange on `buf` and waits for it (blocking).
    pub fn run<C, B>(&self, comm: &C, buf: &mut B) -> Result<()>
    where
        C: Communicator + ?Sized,
        B: BufferMut + ?Sized,
    {
        let mut t = Transfer::new("exchange");
        let s = self.prepare(comm, buf, &mut t)?;
        let mut reqs = self.post(comm, &s, false)?;
        // After an error every request is still waited for: `buf` is released on return.
        crate::completion::wait_all_drained(&mut reqs)?;
        t.blocking(None)
    }

    /// Starts the exchange on `buf` (`&mut` a buffer, a `TypedMut` or `DeviceMut` view), lent for
    /// the scope; wait for the returned set (or let the
    /// scope do it).
    pub fn start<'s, C, L>(&self, comm: &C, scope: &'s Scope<'s, '_>, mut buf: L) -> Result<RequestSet<'s>>
    where
        C: Communicator + ?Sized,
        L: LendMut<'s>,
    {
        let mut t = Transfer::new("exchange");
        let s = self.prepare(comm, buf.target_mut(), &mut t)?;
        let reqs = self.post(comm, &s, false)?;
        let staged = t.has_stages().then(|| Box::new(t) as Box<dyn crate::pending::Staged>);
        Ok(RequestSet::new(scope.core(), reqs, staged))
    }

    /// Makes the exchange's persistent requests on `buf`, lent for the scope (inactive; start
    /// them with [`start_all`](crate::start_all), or build them in
    /// [`Persistent::new`](crate::Persistent::new), which starts them together). Device
    /// buffers on the staged path are copied back when the last request completes: wait for
    /// all of them together.
    pub fn init<'s, C, L>(
        &self,
        comm: &C,
        scope: &'s Scope<'s, '_>,
        mut buf: L,
    ) -> Result<Vec<PersistentRequest<'s>>>
    where
        C: Communicator + ?Sized,
        L: LendMut<'s>,
    {
        let mut t = Transfer::new("exchange_init");
        let s = self.prepare(comm, buf.target_mut(), &mut t)?;
        let reqs = self.post(comm, &s, true)?;
        if t.has_stages() {
            if let Some(last) = reqs.last() {
                crate::pending::register(*last, Box::new(t), true);
            }
        }
        Ok(reqs.into_iter().map(|r| PersistentRequest::scoped(scope.core(), r)).collect())
    }
}

/// Checks that a buffer of `s.bytes` bytes holds `min_bytes`, and that its elements take what
/// the receive datatypes write (no `bool` buffer unless every type is made of `bool`; no
/// buffer of derived elements).
pub(crate) fn check_buffer<'d>(
    s: &SpecMut,
    min_bytes: usize,
    recv_types: impl Iterator<Item = &'d Datatype>,
) -> Result<()> {
    if min_bytes > s.bytes() {
        return Err(Error::BufferLength {
            what: "exchange buffer",
            detail: format!("the regions reach byte {min_bytes}, the buffer has {} bytes", s.bytes()),
        });
    }
    match s.kind() {
        ElementKind::Derived => Err(Error::InvalidArgument(
            "a buffer of derived elements (an EquivalentMut or a view) cannot take regions; use a buffer of \
             plain numbers"
                .into(),
        )),
        ElementKind::Basic(DType::Bool) => {
            for dt in recv_types {
                if dt.dtype() != Some(DType::Bool) {
                    return Err(Error::InvalidArgument(
                        "a bool buffer can receive only through bool datatypes (other types could write \
                         bytes that are not 0 or 1); use a u8 buffer"
                            .into(),
                    ));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// [`PointToPoint::sendrecv_within`](crate::PointToPoint::sendrecv_within): one
/// `MPI_Sendrecv` out of and into `buf`, after checking the receive region is disjoint from
/// the send region.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sendrecv_within<C, B>(
    comm: &C,
    buf: &mut B,
    send: Region<'_>,
    dest: i32,
    sendtag: i32,
    recv: Region<'_>,
    source: i32,
    recvtag: i32,
) -> Result<crate::status::Status>
where
    C: Communicator + ?Sized,
    B: BufferMut + ?Sized,
{
    let _call = crate::error::require_not_finalized()?;
    check_rank(comm, dest, false)?;
    check_tag_any(sendtag, false)?;
    check_rank(comm, source, true)?;
    check_tag_any(recvtag, true)?;
    refuse_unprobed_self_receive(comm, source, "sendrecv_within")?;
    let (send_runs, _) = runs(&send)?;
    let (recv_runs, self_overlap) = runs(&recv)?;
    if self_overlap {
        return Err(Error::InvalidArgument(
            "the receive region touches some bytes twice (its items overlap)".into(),
        ));
    }
    check_disjoint(&[
        Part { runs: &send_runs, recv: false, name: "the send region".into() },
        Part { runs: &recv_runs, recv: true, name: "the receive region".into() },
    ])?;
    let (scount, rcount) = (to_count("region count", send.count)?, to_count("region count", recv.count)?);
    let s = buf.spec_mut()?;
    check_buffer(&s, send_runs.end().max(recv_runs.end()), std::iter::once(recv.datatype))?;
    let mut t = Transfer::new("sendrecv_within");
    let s = t.write_spec(s, Fill::Update)?;
    let at = |offset: usize| s.ptr.cast::<u8>().wrapping_add(offset).cast::<c_void>();
    let mut status = crate::status::Status::default();
    // SAFETY: both regions lie inside the lent buffer (checked against its length) and the
    // receive region shares no byte with the send region (checked); the call is blocking.
    let code = unsafe {
        ffi::MPI_Sendrecv(
            at(send.offset).cast_const(),
            scount,
            send.datatype.as_raw(),
            dest,
            sendtag,
            at(recv.offset),
            rcount,
            recv.datatype.as_raw(),
            source,
            recvtag,
            comm.as_raw(),
            &mut status.0,
        )
    };
    check("MPI_Sendrecv", code)?;
    t.blocking(Some(&status))?;
    Ok(status)
}
