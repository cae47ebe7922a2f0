//! Object messaging, second part: receives posted at `irecv_obj`, matched probes of objects,
//! set operations over object and buffer requests, buffered sends, neighbourhood collectives,
//! reductions with predefined operations and the borrowing gathers, at 1-4 ranks, with each
//! user mistake as an error.
mod common;

use common::{neighbours, rank_size, Suite};
use mpi4rs::object::{self, Completion, OobVec};
use mpi4rs::prelude::*;
use mpi4rs::{any_source, any_tag, Environment, Error, Op, Result};
use serde::{Deserialize, Serialize};

fn main() {
    Suite::new("object_more")
        .case("irecv_posted_at_call", irecv_posted_at_call)
        .case("irecv_drop_and_forget", irecv_drop_and_forget)
        .case("matched_probe", matched_probe)
        .case("set_operations", set_operations)
        .case("buffered_send", buffered_send)
        .case("neighbor_collectives", neighbor_collectives)
        .case("predefined_ops", predefined_ops)
        .case("op_errors", op_errors)
        .case("borrowing_gathers", borrowing_gathers)
        .case("decode_error_leaves_nothing_behind", decode_error_leaves_nothing_behind)
        .run();
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Rec {
    id: i32,
    name: String,
    data: OobVec<f64>,
}

/// `n` elements: out of band above the default threshold (256 KiB) from 32 768 on.
fn rec(r: i32, n: usize) -> Rec {
    Rec { id: r, name: format!("rank {r}"), data: (0..n).map(|i| i as f64 + r as f64).collect() }
}

/// A synchronous send completes as soon as the receive posted by `irecv_obj` matches it: every
/// rank posts, sends synchronously around the ring, and only then waits. If nothing were
/// posted, every rank would block in `ssend_obj` (the suite's time limit would end it).
fn irecv_posted_at_call(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    if posted(env) {
        let req = world.irecv_obj::<Rec>(left, 1)?;
        world.ssend_obj(&rec(me, 10), right, 1)?;
        ensure_eq!(req.wait()?, rec(left, 10));
        // With out-of-band payloads: the frame's synchronous send matches the posted receive
        // at once; the payloads, which only the receiver's wait takes, go in standard mode.
        let big = rec(me, 40_000);
        mpi4rs::scope(|s| {
            let req = world.irecv_obj::<Rec>(left, 2)?;
            let mut send = world.issend_obj(s, &big, right, 2)?;
            send.test()?;
            ensure_eq!(req.wait()?, rec(left, 40_000));
            send.wait()
        })?;
    }
    // From PROC_NULL: an error at wait, as recv_obj.
    let req = world.irecv_obj::<u8>(mpi4rs::proc_null(), 3)?;
    ensure_err!(req.wait(), Error::InvalidArgument(_));
    // A message that is not an object (longer than an object's first message may be).
    let junk = vec![7u8; 5000];
    mpi4rs::scope(|s| {
        let req = world.irecv_obj::<Vec<u8>>(left, 4)?;
        let send = world.isend(s, &junk[..], right, 4)?;
        ensure_err!(req.wait(), Error::Decode { .. });
        send.wait().map(drop)
    })?;
    // Wrong type decoded.
    let mut req = world.irecv_obj::<u64>(left, 5)?;
    world.send_obj("text", right, 5)?;
    let e = loop {
        match req.test() {
            Ok(None) => continue,
            Ok(Some(v)) => return Err(Error::InvalidArgument(format!("decoded {v}"))),
            Err(e) => break e,
        }
    };
    ensure!(matches!(e, Error::Decode { .. }), "{e}");
    ensure_err!(req.test(), Error::InvalidArgument(_));
    Ok(())
}

/// Whether `irecv_obj` from the left neighbour posts its receive: not where the neighbour is
/// this process on Open MPI, whose self path writes truncated messages past the receive
/// buffer, so such receives match with a probe at test or wait instead (see
/// `object::request`).
fn posted(env: &Environment) -> bool {
    env.world().size() > 1 || !mpi4rs::library_version().is_ok_and(|v| v.contains("Open MPI"))
}

/// Dropping an unmatched receive cancels it (the message goes to a later receive); dropping a
/// matched one takes the rest of its object and discards it; forgetting one leaks its buffer
/// (MPI may write there), never frees it under MPI.
fn irecv_drop_and_forget(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    drop(world.irecv_obj::<u32>(left, 10)?);
    world.barrier()?; // nothing is sent with tag 10 before every rank has dropped its receive
    let later = world.irecv_obj::<u32>(left, 10)?;
    world.send_obj(&(me as u32), right, 10)?;
    ensure_eq!(later.wait()?, left as u32);
    if !posted(env) {
        return Ok(());
    }
    // Matched before the drop (ssend returns once matched), payloads out of band.
    let req = world.irecv_obj::<Rec>(left, 11)?;
    let big = rec(me, 40_000);
    mpi4rs::scope(|s| {
        let send = world.issend_obj(s, &big, right, 11)?;
        let mut sent = world.isend_obj(s, &me, right, 12)?;
        // Once the big object's payload (its second message) is here, its frame, sent before
        // it, has matched the posted receive.
        while world.iprobe(left, 11)?.is_none() {}
        ensure!(req.is_pending());
        drop(req); // takes and discards the big object, so that its send completes
        ensure_eq!(world.recv_obj::<i32>(left, 12)?, left);
        send.wait()?;
        object::wait_all(&mut [&mut sent as &mut dyn Completion])?;
        Ok(())
    })?;
    // Forgotten: its buffer stays allocated; a message sent to it lands there.
    std::mem::forget(world.irecv_obj::<u32>(left, 13)?);
    world.send_obj(&1u32, right, 13)?;
    world.barrier()?;
    Ok(())
}

fn matched_probe(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let a = rec(me, 5);
    let b = rec(me + 100, 50_000);
    mpi4rs::scope(|s| {
        let _r1 = world.isend_obj(s, &a, right, 20)?;
        let _r2 = world.isend_obj(s, &b, right, 21)?;
        let _r3 = world.isend_obj(s, "not a number", right, 22)?;
        let _r4 = world.isend_obj(s, &a, right, 23)?;
        // Matched from any source and tag 20: its envelope is known before the type is chosen.
        let msg = world.mprobe_obj(any_source(), 20)?;
        ensure_eq!((msg.source(), msg.tag()), (left, 20));
        ensure_eq!(msg.recv::<Rec>()?, rec(left, 5));
        // improbe until it is there; payloads out of band.
        let msg = loop {
            if let Some(m) = world.improbe_obj(left, 21)? {
                break m;
            }
        };
        let (got, status) = msg.recv_status::<Rec>()?;
        ensure_eq!(got, rec(left + 100, 50_000));
        ensure_eq!(status.tag(), 21);
        // Wrong type: a decode error; the message is consumed.
        ensure_err!(world.mprobe_obj(left, 22)?.recv::<u64>(), Error::Decode { .. });
        // Dropped unreceived: discarded, the next receive does not see it.
        drop(world.mprobe_obj(left, 23)?);
        ensure!(world.improbe_obj(left, 23)?.is_none());
        Ok(())
    })?;
    ensure_err!(world.mprobe_obj(mpi4rs::proc_null(), 0), Error::InvalidArgument(_));
    ensure_err!(world.mprobe_obj(0, -5), Error::InvalidTag { .. });
    ensure_err!(world.improbe_obj(world.size(), 0), Error::InvalidRank { .. });
    // A message that is not an object.
    let junk = vec![1u8; 5000];
    mpi4rs::scope(|s| {
        let send = world.isend(s, &junk[..], me, 24)?;
        ensure_err!(world.mprobe_obj(me, 24), Error::Decode { .. });
        send.wait().map(drop)
    })?;
    world.barrier()?;
    Ok(())
}

fn set_operations(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let note = format!("from {me}");
    let big = rec(me, 40_000);
    let mut counts = [0u64; 4];
    let mine = [me as u64; 4];
    mpi4rs::scope(|s| {
        // Mixed: object and buffer receives and sends in one slice.
        let mut obj = world.irecv_obj::<String>(left, 30)?;
        let mut bigr = world.irecv_obj::<Rec>(left, 31)?;
        let mut raw = world.irecv(s, &mut counts[..], left, 32)?;
        let mut s1 = world.isend_obj(s, &note, right, 30)?;
        let mut s2 = world.isend_obj(s, &big, right, 31)?;
        let mut s3 = world.isend(s, &mine[..], right, 32)?;
        object::wait_all(&mut [
            &mut obj as &mut dyn Completion,
            &mut bigr,
            &mut raw,
            &mut s1,
            &mut s2,
            &mut s3,
        ])?;
        ensure!(!obj.is_pending() && raw.is_complete());
        ensure_eq!(obj.wait()?, format!("from {left}"));
        ensure_eq!(bigr.wait()?, rec(left, 40_000));
        drop((raw, s1, s2, s3));
        Ok(())
    })?;
    ensure_eq!(counts, [left as u64; 4]);
    // Homogeneous: wait_any hands out each receive once, then None.
    let n = world.size();
    let mut reqs: Vec<_> = (0..n).map(|src| world.irecv_obj::<i32>(src, 33)).collect::<Result<_>>()?;
    for dest in 0..n {
        world.send_obj(&(me * 10 + dest), dest, 33)?;
    }
    let mut seen = vec![false; n as usize];
    while let Some(i) = object::wait_any(&mut reqs)? {
        ensure!(!seen[i]);
        seen[i] = true;
    }
    ensure!(seen.iter().all(|&x| x));
    ensure_eq!(object::test_any(&mut reqs)?, None);
    ensure!(object::test_all(&mut reqs)?);
    for (src, r) in reqs.into_iter().enumerate() {
        ensure_eq!(r.wait()?, src as i32 * 10 + me);
    }
    // test_all until done; an object that does not decode is an error of the set.
    let mut reqs = vec![world.irecv_obj::<u8>(left, 34)?, world.irecv_obj::<u8>(left, 35)?];
    world.send_obj(&7u8, right, 34)?;
    world.send_obj(&-1.5f64, right, 35)?;
    let e = loop {
        match object::test_all(&mut reqs) {
            Ok(true) => return Err(Error::InvalidArgument("a wrong type decoded".into())),
            Ok(false) => continue,
            Err(e) => break e,
        }
    };
    ensure!(matches!(e, Error::Decode { .. }), "{e}");
    object::wait_all(&mut reqs)?; // the first completes too
    let mut it = reqs.into_iter();
    ensure_eq!(it.next().map(|r| r.wait()).transpose()?, Some(7u8));
    ensure_err!(it.next().map(|r| r.wait()).transpose(), Error::Decode { .. });
    // Empty sets.
    ensure_eq!(object::wait_any::<object::ObjRequest<'_>>(&mut [])?, None);
    object::wait_all::<object::ObjRequest<'_>>(&mut [])?;
    Ok(())
}

fn buffered_send(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    // Too small for the out-of-band payload: refused before anything is sent.
    mpi4rs::attach_buffer(vec![0u8; 64 * 1024])?;
    ensure_err!(world.bsend_obj(&rec(me, 40_000), right, 40), Error::BsendBuffer { .. });
    world.bsend_obj(&rec(me, 10), right, 40)?;
    // (Received before the detach, which waits until the buffered messages have gone.)
    ensure_eq!(world.recv_obj::<Rec>(left, 40)?, rec(left, 10));
    mpi4rs::detach_buffer()?;
    mpi4rs::attach_buffer(vec![0u8; 1 << 20])?;
    // Sent before the receive is posted, to every rank including this one.
    world.bsend_obj(&rec(me, 40_000), right, 41)?;
    ensure_eq!(world.recv_obj::<Rec>(left, 41)?, rec(left, 40_000));
    world.bsend_obj(&1u8, mpi4rs::proc_null(), 0)?;
    mpi4rs::detach_buffer()?;
    // Without a buffer.
    ensure_err!(world.bsend_obj(&1u8, right, 42), Error::BsendBuffer { .. });
    Ok(())
}

fn neighbor_collectives(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let (right, left) = neighbours(env);
    // A periodic ring: sources = destinations = [left, right] (the same process at 1 and 2).
    let ring = world.create_cart(&[n], &[true], false)?.expect("every rank is in the ring");
    let got = ring.neighbor_allgather_obj(&format!("r{me}"))?;
    ensure_eq!(got, vec![Some(format!("r{left}")), Some(format!("r{right}"))]);
    // What goes down arrives in the receiver's slot of its upper neighbour, also at n ≤ 2.
    let got = ring.neighbor_alltoall_obj(&[(me, "down".to_string()), (me, "up".to_string())])?;
    ensure_eq!(got, vec![Some((left, "up".to_string())), Some((right, "down".to_string()))]);
    // A line: PROC_NULL at the ends gives None.
    let line = world.create_cart(&[n], &[false], false)?.expect("every rank is in the line");
    let got = line.neighbor_allgather_obj(&rec(me, 40_000))?;
    ensure_eq!(got[0], (me > 0).then(|| rec(me - 1, 40_000)));
    ensure_eq!(got[1], (me + 1 < n).then(|| rec(me + 1, 40_000)));
    // A distributed graph: everyone sends to rank 0 (twice from rank 0 itself: in order).
    let (sources, dests): (Vec<i32>, Vec<i32>) =
        if me == 0 { ((0..n).chain([0]).collect(), vec![0, 0]) } else { (vec![], vec![0]) };
    let g = world.create_dist_graph_adjacent(&sources, None, &dests, None, false)?;
    let objs: Vec<String> = dests.iter().enumerate().map(|(k, _)| format!("{me}.{k}")).collect();
    let got = g.neighbor_alltoall_obj(&objs)?;
    if me == 0 {
        let want: Vec<Option<String>> =
            (0..n).map(|s| Some(format!("{s}.0"))).chain([Some("0.1".to_string())]).collect();
        ensure_eq!(got, want);
    } else {
        ensure!(got.is_empty());
    }
    // One object per destination, or an error (before anything is sent).
    ensure_err!(ring.neighbor_alltoall_obj(&[1u8]), Error::BufferLength { .. });
    Ok(())
}

fn predefined_ops(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let sum: i64 = (0..n as i64).sum();
    ensure_eq!(world.allreduce_obj_op(me as i64, &Op::SUM)?, sum);
    ensure_eq!(world.allreduce_obj_op(me as f64, &Op::MAX)?, (n - 1) as f64);
    ensure_eq!(
        world.allreduce_obj_op(vec![me as f32, -(me as f32)], &Op::MIN)?,
        vec![0.0, -((n - 1) as f32)]
    );
    ensure_eq!(world.allreduce_obj_op(me == 0, &Op::LOR)?, true);
    ensure_eq!(world.allreduce_obj_op(me == 0, &Op::LAND)?, n == 1);
    ensure_eq!(world.allreduce_obj_op([1u32 << me, 3, 0], &Op::BOR)?, [(1u32 << n) - 1, 3, 0]);
    ensure_eq!(world.allreduce_obj_op(2u64, &Op::PROD)?, 1u64 << n);
    // Out of band, element by element.
    let big: OobVec<f64> = vec![me as f64; 40_000].into();
    let got = world.reduce_obj_op(big, &Op::SUM, n - 1)?;
    if me == n - 1 {
        ensure_eq!(got, Some(OobVec::from(vec![sum as f64; 40_000])));
    } else {
        ensure!(got.is_none());
    }
    ensure_eq!(world.scan_obj_op(vec![1i32, me], &Op::SUM)?, vec![me + 1, (0..=me).sum::<i32>()]);
    ensure_eq!(world.exscan_obj_op(1u8, &Op::SUM)?, (me > 0).then_some(me as u8));
    let c = num_complex::Complex::new(0.0f64, 1.0);
    ensure_eq!(world.allreduce_obj_op(c, &Op::SUM)?, num_complex::Complex::new(0.0, n as f64));
    Ok(())
}

fn op_errors(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // Not defined on the type: an error everywhere, nothing sent.
    ensure_err!(world.allreduce_obj_op(1.5f64, &Op::BAND), Error::InvalidArgument(_));
    ensure_err!(world.allreduce_obj_op(vec![1i32], &Op::MAXLOC), Error::InvalidArgument(_));
    ensure_err!(world.reduce_obj_op(true, &Op::SUM, 0), Error::InvalidArgument(_));
    let user =
        mpi4rs::UserOp::new(true, |a: &[i32], b: &mut [i32]| b.iter_mut().zip(a).for_each(|(y, x)| *y += x))?;
    ensure_err!(world.allreduce_obj_op(1i32, &user), Error::InvalidArgument(_));
    // Lengths that differ: the same error at every process, none left waiting.
    let v = vec![1.0f64; if me == n - 1 && n > 1 { 3 } else { 2 }];
    if n > 1 {
        ensure_err!(world.allreduce_obj_op(v.clone(), &Op::SUM), Error::InvalidArgument(_));
        let r = world.reduce_obj_op(v, &Op::SUM, 0);
        if me == 0 {
            ensure_err!(r, Error::InvalidArgument(_));
        } else {
            ensure!(r.is_ok());
        }
    }
    // The set still works afterwards.
    ensure_eq!(world.allreduce_obj_op(1i32, &Op::SUM)?, n);
    Ok(())
}

fn borrowing_gathers(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let mine = rec(me, 40_000);
    for root in 0..n {
        let got = world.gather_obj_ref(&mine, root)?;
        if me == root {
            ensure_eq!(got, Some((0..n).map(|r| rec(r, 40_000)).collect::<Vec<_>>()));
        } else {
            ensure!(got.is_none());
        }
    }
    let all = world.allgather_obj_ref(&format!("{me}"))?;
    ensure_eq!(all, (0..n).map(|r| format!("{r}")).collect::<Vec<_>>());
    ensure_eq!(mine, rec(me, 40_000)); // still here
    let _ = any_tag();
    Ok(())
}

/// A number that serialises as itself but refuses odd values when decoded (a type that checks
/// an invariant on input).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(try_from = "i32")]
struct Even(i32);

impl TryFrom<i32> for Even {
    type Error = String;
    fn try_from(v: i32) -> std::result::Result<Self, String> {
        if v % 2 == 0 {
            Ok(Even(v))
        } else {
            Err(format!("{v} is odd"))
        }
    }
}

/// An object a gathering process cannot decode is an error there, and the objects of the
/// processes after it are still taken: none stays behind for the next collective to receive as
/// its own (the next gather got rank 2's `Even(2)` as rank 2's value).
fn decode_error_leaves_nothing_behind(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let got = world.gather_obj(Even(me), 0);
    if me == 0 && n > 1 {
        ensure_err!(got, Error::Decode { .. });
    } else {
        got?;
    }
    let again = world.gather_obj(100 + me, 0)?;
    if me == 0 {
        ensure_eq!(again, Some((0..n).map(|r| 100 + r).collect::<Vec<_>>()));
    }
    // Every process receives every other one's: an error wherever another rank is odd.
    let got = world.allgather_obj(Even(me));
    if (0..n).any(|r| r != me && r % 2 == 1) {
        ensure_err!(got, Error::Decode { .. });
    } else {
        got?;
    }
    ensure_eq!(world.allgather_obj(200 + me)?, (0..n).map(|r| 200 + r).collect::<Vec<_>>());
    // Each process gets `Even(me)` from every other one: odd ranks fail at the first.
    let got = world.alltoall_obj((0..n).map(Even).collect());
    if me % 2 == 1 && n > 1 {
        ensure_err!(got, Error::Decode { .. });
    } else {
        got?;
    }
    let again = world.alltoall_obj((0..n).map(|j| 300 + 10 * me + j).collect())?;
    ensure_eq!(again, (0..n).map(|i| 300 + 10 * i + me).collect::<Vec<_>>());
    // Reductions: a process that cannot decode what it receives passes the error on up the
    // tree (its parent still gets a message, and no message stays behind), and the root, or
    // with allreduce every process, gets it.
    let got = world.reduce_obj(Even(me), |a, _| a, 0);
    if me == 0 && n > 1 {
        ensure_err!(got, Error::Decode { .. });
    } else {
        got?;
    }
    let again = world.reduce_obj(100 + me, |a, b| a + b, 0)?;
    if me == 0 {
        ensure_eq!(again, Some((0..n).map(|r| 100 + r).sum::<i32>()));
    }
    let got = world.allreduce_obj(Even(me), |a, _| a);
    if n > 1 {
        ensure_err!(got, Error::Decode { .. });
    } else {
        got?;
    }
    ensure_eq!(world.allreduce_obj(100 + me, |a, b| a + b)?, (0..n).map(|r| 100 + r).sum::<i32>());
    // Scans: rank 0 decodes rank 1's block and fails, and passes that on to rank 2 (with
    // `|a, _| a` the other blocks hold only even values); then the next scan is right.
    for exclusive in [false, true] {
        let got = if exclusive {
            world.exscan_obj(Even(me), |a, _| a).map(|v| v.map(|e| e.0))
        } else {
            world.scan_obj(Even(me), |a, _| a).map(|e| Some(e.0))
        };
        if me == 2 {
            ensure_err!(got, Error::Decode { .. });
        } else if let Err(e) = got {
            ensure!(matches!(e, Error::Decode { .. }), "scan gave the wrong error: {e}");
        }
        let sum = world.scan_obj(100 + me, |a, b| a + b)?;
        ensure_eq!(sum, (0..=me).map(|r| 100 + r).sum::<i32>());
    }
    Ok(())
}
