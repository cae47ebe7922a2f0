//! Reductions of objects with any Rust function or closure `op(a, b)`, computed in trees as
//! mpi4py's `fast_reduce` does, not all at the root.
//!
//! `op` must be associative; it need not be commutative: every algorithm here combines values
//! in rank order (`op(lower ranks, higher ranks)`).
//! - reduce: a binomial tree towards rank 0 (rank *r* receives from *r* + 2^k and computes
//!   `op(own, received)`), then a hand-over to the root if it is not rank 0: ⌈log₂ n⌉ steps.
//! - allreduce: that tree, then a binomial-tree broadcast of the result.
//! - scan / exscan: recursive doubling (as MPICH's `MPI_Scan`): ⌈log₂ n⌉ exchanges, each
//!   process keeping the reduction of its own block and of the prefix.
//! - on an intercommunicator, each group reduces in its own tree (over a private
//!   intracommunicator of the group) and the group leaders hand the result across.

use super::codec::decode_error;
use super::collective::{encode, private, recv_from, send_to, tree_bcast, Held, Private, TAG};
use super::p2p::{isend_parts, parts, Mode, Pending};
use crate::collective::checks::{check_root, require_intra, Role};
use crate::comm::{Comm, Communicator};
use crate::error::{Error, Result};
use crate::ffi::MPI_Comm;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Binomial-tree reduction over `comm` towards rank 0: `Some(result)` there, `None` elsewhere.
/// A value on its way through a reduction: `Err` carries the text of a decode error met on
/// the way, so that every process still takes its part (nobody waits for a message that never
/// comes, and none stays behind for the next collective) and the result is that error.
type Carried<T> = std::result::Result<T, String>;

/// Receives a carried value from `source`; one that cannot be decoded becomes the carried error.
fn recv_carried<T: DeserializeOwned>(comm: MPI_Comm, source: i32) -> Result<Carried<T>> {
    match recv_from::<Carried<T>>(comm, source) {
        Err(Error::Decode { detail, .. }) => Ok(Err(detail)),
        r => r,
    }
}

/// `op(a, b)` of two carried values, or the first one's error.
fn both<T, F: Fn(T, T) -> T>(a: Carried<T>, b: Carried<T>, op: &F) -> Carried<T> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok(op(a, b)),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// The result of a reduction: a carried decode error is one here.
fn outcome<T>(v: Carried<T>) -> Result<T> {
    v.map_err(decode_error::<T>)
}

fn tree_reduce<T, F>(comm: &Comm, value: T, op: &F) -> Result<Option<Carried<T>>>
where
    T: Serialize + DeserializeOwned,
    F: Fn(T, T) -> T,
{
    let (rank, n) = (comm.rank(), comm.size());
    let mut acc: Carried<T> = Ok(value);
    let mut mask = 1;
    while mask < n {
        if rank & mask != 0 {
            send_to(comm.as_raw(), &acc, rank - mask)?;
            return Ok(None);
        }
        if rank + mask < n {
            let theirs = recv_carried::<T>(comm.as_raw(), rank + mask)?;
            acc = both(acc, theirs, op);
        }
        mask <<= 1;
    }
    Ok(Some(acc))
}

/// Broadcasts `value` (present at rank 0 of `comm`) to every process of `comm`.
fn bcast_from_0<T>(comm: &Comm, value: Option<T>) -> Result<T>
where
    T: Serialize + DeserializeOwned,
{
    match value {
        Some(v) => {
            if comm.size() > 1 {
                tree_bcast::<T>(comm, 0, Some(Held::Encoded(encode(&v)?)))?;
            }
            Ok(v)
        }
        None => tree_bcast::<T>(comm, 0, None)?
            .decode::<T>()?
            .ok_or_else(|| crate::Error::InvalidArgument("internal: broadcast gave no value".into())),
    }
}

pub(crate) fn reduce<C, T, F>(comm: &C, value: T, op: F, root: i32) -> Result<Option<T>>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned,
    F: Fn(T, T) -> T,
{
    let role = check_root(comm, root)?;
    if !comm.is_inter() && comm.size() == 1 {
        return Ok(Some(value));
    }
    match private(comm)? {
        Private::Intra(c) => {
            let at0 = tree_reduce(c, value, &op)?;
            if root == 0 {
                return at0.map(outcome).transpose();
            }
            match at0 {
                Some(v) => {
                    send_to(c.as_raw(), &v, root)?;
                    Ok(None)
                }
                None if role == Role::Root => recv_carried(c.as_raw(), 0).and_then(outcome).map(Some),
                None => Ok(None),
            }
        }
        Private::Inter { inter, local } => match role {
            Role::Root => recv_carried(inter.as_raw(), 0).and_then(outcome).map(Some),
            Role::Idle => Ok(None),
            Role::Leaf => {
                if let Some(v) = tree_reduce(local, value, &op)? {
                    send_to(inter.as_raw(), &v, root)?;
                }
                Ok(None)
            }
        },
    }
}

pub(crate) fn allreduce<C, T, F>(comm: &C, value: T, op: F) -> Result<T>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned,
    F: Fn(T, T) -> T,
{
    if !comm.is_inter() && comm.size() == 1 {
        return Ok(value);
    }
    match private(comm)? {
        Private::Intra(c) => {
            let at0 = tree_reduce(c, value, &op)?;
            outcome(bcast_from_0(c, at0)?)
        }
        Private::Inter { inter, local } => {
            // Each group reduces to its leader; the leaders swap; each leader broadcasts the
            // other group's result in its own group.
            let theirs = match tree_reduce(local, value, &op)? {
                Some(mine) => Some(match exchange::<Carried<T>>(inter.as_raw(), &mine, 0) {
                    Err(Error::Decode { detail, .. }) => Err(detail),
                    r => r?,
                }),
                None => None,
            };
            outcome(bcast_from_0(local, theirs)?)
        }
    }
}

/// Sends `mine` to `peer` and receives its value, at the same time.
fn exchange<T>(comm: MPI_Comm, mine: &T, peer: i32) -> Result<T>
where
    T: Serialize + DeserializeOwned,
{
    let enc = encode(mine)?;
    let mut pending = Pending::default();
    isend_parts(comm, parts(&enc), peer, TAG, Mode::Standard, &mut pending)?;
    let theirs = recv_from(comm, peer)?;
    pending.wait()?;
    Ok(theirs)
}

pub(crate) fn scan<C, T, F>(comm: &C, value: T, op: F, exclusive: bool) -> Result<Option<T>>
where
    C: Communicator + ?Sized,
    T: Serialize + DeserializeOwned + Clone,
    F: Fn(T, T) -> T,
{
    require_intra(comm, if exclusive { "exscan_obj" } else { "scan_obj" })?;
    let (rank, n) = (comm.rank(), comm.size());
    if n == 1 {
        return Ok((!exclusive).then_some(value));
    }
    let c = private(comm)?.local();
    // `block`: the reduction of this process's block of 2^k ranks; `prefix`: of every rank
    // before this one (exclusive) within the ranks seen so far.
    let mut prefix: Option<Carried<T>> = None;
    let mut block: Carried<T> = Ok(value.clone());
    let mine = value;
    let mut mask = 1;
    while mask < n {
        let partner = rank ^ mask;
        if partner < n {
            // A block that cannot be decoded travels on as its error (see `Carried`).
            let theirs = match exchange::<Carried<T>>(c.as_raw(), &block, partner) {
                Err(Error::Decode { detail, .. }) => Err(detail),
                r => r?,
            };
            if partner < rank {
                prefix = Some(match prefix {
                    None => theirs.clone(),
                    Some(p) => both(theirs.clone(), p, &op),
                });
                block = both(theirs, block, &op);
            } else {
                block = both(block, theirs, &op);
            }
        }
        mask <<= 1;
    }
    let prefix = prefix.map(outcome).transpose()?;
    Ok(if exclusive {
        prefix
    } else {
        Some(match prefix {
            None => mine,
            Some(p) => op(p, mine),
        })
    })
}
