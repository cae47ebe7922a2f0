//! Object collectives: bcast, scatter, gather, allgather, alltoall (and, in `reduce`, the
//! reductions), on intra- and intercommunicators.
//!
//! They run as point-to-point object messages (frame, then payloads, each received through a
//! matched probe) on a private duplicate of the communicator, which mpi4rs makes the first time
//! an object collective runs on it (collectively, as mpi4py does for its own object
//! collectives) and keeps as an MPI attribute of the communicator, freed with it. So the user's
//! own point-to-point traffic, wildcards included, never sees these messages, every message
//! size is learnt from a probe before anything is allocated, and payloads past 2 GiB work.
//! An intercommunicator also gets a private intracommunicator of its local group, for the
//! trees that run inside one group.
//!
//! Broadcast runs down a binomial tree; inner nodes forward the frame and payloads as received,
//! without decoding and re-encoding, and decode their own copy last.

use super::codec::{encode_with, threshold, Encoded};
use super::p2p::{isend_parts, parts, recv_incoming, send_parts, Incoming, Mode, Pending, RecvBuffer};
use crate::collective::checks::{check_root, length_error, Role};
use crate::comm::{Comm, Communicator};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm};
use crate::intercomm::InterComm;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

/// The tag of every message on a private communicator (the order of collectives, the same on
/// every process, and MPI's non-overtaking rule match them).
pub(crate) const TAG: i32 = 1;

/// The private communicators of a user's communicator.
pub(crate) enum Private {
    /// A duplicate of an intracommunicator.
    Intra(Comm),
    /// A duplicate of an intercommunicator, and an intracommunicator of the local group.
    Inter { inter: InterComm, local: Comm },
}

impl Private {
    /// Where the point-to-point messages of the object collectives travel.
    pub(crate) fn raw(&self) -> MPI_Comm {
        match self {
            Private::Intra(c) => c.as_raw(),
            Private::Inter { inter, .. } => inter.as_raw(),
        }
    }

    /// The intracommunicator of this process's group.
    pub(crate) fn local(&self) -> &Comm {
        match self {
            Private::Intra(c) => c,
            Private::Inter { local, .. } => local,
        }
    }
}

unsafe extern "C" fn no_copy(
    _: MPI_Comm,
    _: c_int,
    _: *mut c_void,
    _: *mut c_void,
    _: *mut c_void,
    flag: *mut c_int,
) -> c_int {
    // SAFETY: MPI passes a valid flag pointer; a duplicate of the user's communicator makes its
    // own private communicators when it needs them.
    unsafe { *flag = 0 };
    0
}

unsafe extern "C" fn delete(_: MPI_Comm, _: c_int, value: *mut c_void, _: *mut c_void) -> c_int {
    // SAFETY: the value was set by `private` from Box::into_raw and is deleted once.
    drop(unsafe { Box::from_raw(value.cast::<Private>()) });
    0
}

fn keyval() -> Result<c_int> {
    static KEYVAL: OnceLock<c_int> = OnceLock::new();
    if let Some(&k) = KEYVAL.get() {
        return Ok(k);
    }
    let mut k: c_int = 0;
    mpi_call!(MPI_Comm_create_keyval(Some(no_copy), Some(delete), &mut k, std::ptr::null_mut()))?;
    // Two threads racing here each make a keyval; one stays unused.
    Ok(*KEYVAL.get_or_init(|| k))
}

/// The private communicators of `comm`, made (collectively) on first use.
pub(crate) fn private<C: Communicator + ?Sized>(comm: &C) -> Result<&Private> {
    let key = keyval()?;
    let mut value: *mut Private = std::ptr::null_mut();
    let mut flag: c_int = 0;
    mpi_call!(MPI_Comm_get_attr(comm.as_raw(), key, (&mut value as *mut *mut Private).cast(), &mut flag))?;
    if flag != 0 && !value.is_null() {
        // SAFETY: set below; freed only when `comm` is, which cannot happen while it is borrowed.
        return Ok(unsafe { &*value });
    }
    let mut dup = ffi::COMM_NULL();
    mpi_call!(MPI_Comm_dup(comm.as_raw(), &mut dup))?;
    let private = if comm.is_inter() {
        let inter = InterComm::adopt(dup)?;
        let merged = inter.merge(false)?;
        // My group comes first in the merged communicator exactly when my rank is unchanged.
        let first = merged.rank() == comm.rank();
        let local = merged
            .split(Some(first as i32), comm.rank())?
            .ok_or_else(|| Error::InvalidArgument("MPI_Comm_split returned COMM_NULL".into()))?;
        Private::Inter { inter, local }
    } else {
        Private::Intra(
            Comm::adopt(dup)?
                .ok_or_else(|| Error::InvalidArgument("MPI_Comm_dup returned COMM_NULL".into()))?,
        )
    };
    let value = Box::into_raw(Box::new(private));
    if let Err(e) = mpi_call!(MPI_Comm_set_attr(comm.as_raw(), key, value.cast())) {
        // SAFETY: not handed to MPI.
        drop(unsafe { Box::from_raw(value) });
        return Err(e);
    }
    // SAFETY: as above.
    Ok(unsafe { &*value })
}

/// Encodes `obj` with the process's threshold.
pub(crate) fn encode<T: Serialize + ?Sized>(obj: &T) -> Result<Encoded<'_>> {
    encode_with(obj, threshold()?)
}

/// Sends `obj` to `dest` on `comm` (blocking).
pub(crate) fn send_to<T: Serialize + ?Sized>(comm: MPI_Comm, obj: &T, dest: i32) -> Result<()> {
    let enc = encode(obj)?;
    send_parts(comm, parts(&enc), dest, TAG, Mode::Standard)
}

/// Receives an object from `source` on `comm`.
pub(crate) fn recv_from<T: DeserializeOwned>(comm: MPI_Comm, source: i32) -> Result<T> {
    let mut buf = RecvBuffer::new();
    recv_incoming::<T>(comm, source, TAG, &mut buf)?.decode(&buf.frame)
}

/// Handles the failed receive of one of several objects a collective takes in turn: a decode
/// error (the object's messages were all received) is kept in `failed` (the first one) and
/// the collective goes on receiving, so that the objects of the processes after it do not stay
/// on the private communicator, where the next collective would take them as its own; any
/// other error ends the collective at once.
pub(crate) fn defer_decode<T>(failed: &mut Option<Error>, e: Error) -> Result<Option<T>> {
    match e {
        Error::Decode { .. } => {
            failed.get_or_insert(e);
            Ok(None)
        }
        e => Err(e),
    }
}

/// An object message held by a process: encoded here, or received and not yet decoded.
pub(crate) enum Held<'a> {
    Encoded(Encoded<'a>),
    Received { frame: Vec<u8>, incoming: Incoming },
}

impl Held<'_> {
    fn isend(&self, comm: MPI_Comm, dest: i32, pending: &mut Pending) -> Result<()> {
        match self {
            Held::Encoded(e) => isend_parts(comm, parts(e), dest, TAG, Mode::Standard, pending),
            Held::Received { frame, incoming } => {
                isend_parts(comm, incoming.parts(frame), dest, TAG, Mode::Standard, pending)
            }
        }
    }

    /// The object, if this process received it.
    pub(crate) fn decode<T: DeserializeOwned>(self) -> Result<Option<T>> {
        match self {
            Held::Encoded(_) => Ok(None),
            Held::Received { frame, incoming } => incoming.decode(&frame).map(Some),
        }
    }
}

/// Binomial-tree broadcast on the intracommunicator `comm` from `root`, which passes the
/// message; every other process gets it as received.
pub(crate) fn tree_bcast<'a, T: ?Sized>(comm: &Comm, root: i32, mine: Option<Held<'a>>) -> Result<Held<'a>> {
    let (rank, n) = (comm.rank(), comm.size());
    let v = (rank - root + n) % n;
    let mut held = mine;
    let mut mask = 1;
    while mask < n {
        if v & mask != 0 {
            let parent = (v - mask + root) % n;
            let mut buf = RecvBuffer::new();
            let incoming = recv_incoming::<T>(comm.as_raw(), parent, TAG, &mut buf)?;
            held = Some(Held::Received { frame: buf.frame, incoming });
            break;
        }
        mask <<= 1;
    }
    let held =
        held.ok_or_else(|| Error::InvalidArgument("internal: broadcast root without a message".into()))?;
    let mut pending = Pending::default();
    mask >>= 1;
    while mask > 0 {
        if v + mask < n {
            held.isend(comm.as_raw(), (v + mask + root) % n, &mut pending)?;
        }
        mask >>= 1;
    }
    pending.wait()?;
    Ok(held)
}

pub(crate) fn bcast<C, T>(comm: &C, obj: &mut T, root: i32) -> Result<()>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned,
{
    let role = check_root(comm, root)?;
    if !comm.is_inter() && comm.size() == 1 {
        return Ok(());
    }
    let p = private(comm)?;
    match p {
        Private::Intra(c) => {
            let mine = if role == Role::Root { Some(Held::Encoded(encode(&*obj)?)) } else { None };
            if let Some(v) = tree_bcast::<T>(c, root, mine)?.decode::<T>()? {
                *obj = v;
            }
        }
        Private::Inter { inter, local } => match role {
            Role::Root => send_to(inter.as_raw(), &*obj, 0)?,
            Role::Idle => {}
            Role::Leaf => {
                // The remote root sends to this group's rank 0, which broadcasts here.
                let mine = if local.rank() == 0 {
                    let mut buf = RecvBuffer::new();
                    let incoming = recv_incoming::<T>(inter.as_raw(), root, TAG, &mut buf)?;
                    Some(Held::Received { frame: buf.frame, incoming })
                } else {
                    None
                };
                if let Some(v) = tree_bcast::<T>(local, 0, mine)?.decode::<T>()? {
                    *obj = v;
                }
            }
        },
    }
    Ok(())
}

/// Sends `objs[i]` to rank `i` of `comm`'s peers, except `skip`.
fn send_each<T: Serialize>(comm: MPI_Comm, objs: &[T], skip: Option<usize>) -> Result<()> {
    let encoded: Vec<Option<Encoded<'_>>> = objs
        .iter()
        .enumerate()
        .map(|(i, o)| if Some(i) == skip { Ok(None) } else { encode(o).map(Some) })
        .collect::<Result<_>>()?;
    let mut pending = Pending::default();
    for (i, e) in encoded.iter().enumerate() {
        if let Some(e) = e {
            isend_parts(comm, parts(e), i as i32, TAG, Mode::Standard, &mut pending)?;
        }
    }
    pending.wait()
}

fn check_count<T>(what: &'static str, objs: &[T], peers: i32) -> Result<()> {
    if objs.len() == peers as usize {
        Ok(())
    } else {
        Err(length_error(what, format!("needs one object per process ({peers}), has {}", objs.len())))
    }
}

pub(crate) fn scatter<C, T>(comm: &C, objs: Option<Vec<T>>, root: i32) -> Result<Option<T>>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned,
{
    let role = check_root(comm, root)?;
    let objs = match role {
        Role::Root => {
            let objs = objs.ok_or_else(|| {
                Error::InvalidArgument("scatter_obj: the root must pass the objects (Some(vec))".into())
            })?;
            check_count("scatter_obj objects", &objs, comm.peer_count())?;
            Some(objs)
        }
        _ => None,
    };
    let inter = comm.is_inter();
    if !inter && comm.size() == 1 {
        return Ok(objs.and_then(|o| o.into_iter().next()));
    }
    let p = private(comm)?;
    match (role, objs) {
        (Role::Root, Some(objs)) => {
            let me = (!inter).then_some(comm.rank() as usize);
            send_each(p.raw(), &objs, me)?;
            Ok(me.and_then(|me| objs.into_iter().nth(me)))
        }
        (Role::Leaf, _) => recv_from(p.raw(), root).map(Some),
        _ => Ok(None),
    }
}

/// Gathers at the root, with a hole (`None`) at the root's own place on an intracommunicator;
/// `obj` is only read.
fn gather_core<C, T>(comm: &C, obj: &T, root: i32) -> Result<Option<Vec<Option<T>>>>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned,
{
    let role = check_root(comm, root)?;
    let inter = comm.is_inter();
    if !inter && comm.size() == 1 {
        return Ok(Some(vec![None]));
    }
    let p = private(comm)?;
    match role {
        Role::Leaf => {
            send_to(p.raw(), obj, root)?;
            Ok(None)
        }
        Role::Idle => Ok(None),
        Role::Root => {
            let me = comm.rank();
            let mut all = Vec::with_capacity(comm.peer_count() as usize);
            let mut failed = None;
            for i in 0..comm.peer_count() {
                all.push(if !inter && i == me {
                    None
                } else {
                    recv_from(p.raw(), i).map(Some).or_else(|e| defer_decode(&mut failed, e))?
                });
            }
            failed.map_or(Ok(Some(all)), Err)
        }
    }
}

/// Fills the hole a gather left at this process's place with `own()`.
fn fill<T>(all: Vec<Option<T>>, own: impl FnOnce() -> T) -> Vec<T> {
    let mut own = Some(own);
    all.into_iter().filter_map(|v| v.or_else(|| own.take().map(|f| f()))).collect()
}

pub(crate) fn gather<C, T>(comm: &C, obj: T, root: i32) -> Result<Option<Vec<T>>>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned,
{
    Ok(gather_core(comm, &obj, root)?.map(|all| fill(all, || obj)))
}

pub(crate) fn gather_ref<C, T>(comm: &C, obj: &T, root: i32) -> Result<Option<Vec<T>>>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned + Clone,
{
    Ok(gather_core(comm, obj, root)?.map(|all| fill(all, || obj.clone())))
}

/// Every process's object, with a hole at this process's place on an intracommunicator.
fn allgather_core<C, T>(comm: &C, obj: &T) -> Result<Vec<Option<T>>>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned,
{
    let inter = comm.is_inter();
    if !inter && comm.size() == 1 {
        return Ok(vec![None]);
    }
    let p = private(comm)?;
    let me = if inter { -1 } else { comm.rank() };
    let mut all = Vec::with_capacity(comm.peer_count() as usize);
    let enc = encode(obj)?;
    let mut pending = Pending::default();
    for j in (0..comm.peer_count()).filter(|&j| j != me) {
        isend_parts(p.raw(), parts(&enc), j, TAG, Mode::Standard, &mut pending)?;
    }
    let mut failed = None;
    for i in 0..comm.peer_count() {
        all.push(if i != me {
            recv_from::<T>(p.raw(), i).map(Some).or_else(|e| defer_decode(&mut failed, e))?
        } else {
            None
        });
    }
    pending.wait()?;
    failed.map_or(Ok(all), Err)
}

pub(crate) fn allgather<C, T>(comm: &C, obj: T) -> Result<Vec<T>>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned,
{
    let all = allgather_core(comm, &obj)?;
    Ok(if comm.is_inter() { all.into_iter().flatten().collect() } else { fill(all, || obj) })
}

pub(crate) fn allgather_ref<C, T>(comm: &C, obj: &T) -> Result<Vec<T>>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned + Clone,
{
    let all = allgather_core(comm, obj)?;
    Ok(if comm.is_inter() { all.into_iter().flatten().collect() } else { fill(all, || obj.clone()) })
}

pub(crate) fn alltoall<C, T>(comm: &C, objs: Vec<T>) -> Result<Vec<T>>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned,
{
    check_count("alltoall_obj objects", &objs, comm.peer_count())?;
    let inter = comm.is_inter();
    if !inter && comm.size() == 1 {
        return Ok(objs);
    }
    let p = private(comm)?;
    let me = if inter { None } else { Some(comm.rank() as usize) };
    let mut got: Vec<Option<T>> = Vec::with_capacity(objs.len());
    {
        let encoded: Vec<Option<Encoded<'_>>> = objs
            .iter()
            .enumerate()
            .map(|(j, o)| if Some(j) == me { Ok(None) } else { encode(o).map(Some) })
            .collect::<Result<_>>()?;
        let mut pending = Pending::default();
        for (j, e) in encoded.iter().enumerate() {
            if let Some(e) = e {
                isend_parts(p.raw(), parts(e), j as i32, TAG, Mode::Standard, &mut pending)?;
            }
        }
        let mut failed = None;
        for i in 0..objs.len() {
            got.push(if Some(i) == me {
                None
            } else {
                recv_from(p.raw(), i as i32).map(Some).or_else(|e| defer_decode(&mut failed, e))?
            });
        }
        pending.wait()?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    if let Some(me) = me {
        got[me] = objs.into_iter().nth(me);
    }
    Ok(got.into_iter().flatten().collect())
}
