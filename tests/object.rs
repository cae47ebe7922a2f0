//! Object messaging (`ObjectComm`): every operation with known answers at 1-4 ranks, on intra-
//! and intercommunicators, out-of-band payloads, and every hostile-input case as an error.
mod common;

use common::{neighbours, rank_size, Suite};
use half::f16;
use mpi4rs::object::{self, codec, OobBytes, OobVec};
use mpi4rs::prelude::*;
use mpi4rs::{root, Environment, Error, RecvBuffer, Result};
use num_complex::Complex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn main() {
    Suite::new("object")
        .case("ring_record", ring_record)
        .case("send_ssend_pairs", send_ssend_pairs)
        .case("sendrecv_and_proc_null", sendrecv_and_proc_null)
        .case("nonblocking", nonblocking)
        .case("any_source_any_tag", any_source_any_tag)
        .case("reuse_buffer", reuse_buffer)
        .case("out_of_band_payloads", out_of_band_payloads)
        .case("threshold_settings", threshold_settings)
        .case("bcast_every_root", bcast_every_root)
        .case("scatter_gather_every_root", scatter_gather_every_root)
        .case("allgather_alltoall", allgather_alltoall)
        .case("reductions_in_rank_order", reductions_in_rank_order)
        .case("reductions_of_large_arrays", reductions_of_large_arrays)
        .case("intercommunicator", intercommunicator)
        .case("argument_errors", argument_errors)
        .case("type_mismatch", type_mismatch)
        .case("hostile_input", hostile_input)
        .run();
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
enum Shape {
    Point,
    Circle(f64),
    Rect { w: u32, h: u32 },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Record {
    id: u64,
    name: String,
    values: Vec<f64>,
    tag: Option<i16>,
    shape: Shape,
    map: BTreeMap<String, i32>,
}

fn record(r: i32) -> Record {
    Record {
        id: (r as i64 * 1000 + 7) as u64,
        name: format!("rank {r} é"),
        values: (0..(r + 3).max(0) as usize).map(|i| i as f64 * 0.5 - r as f64).collect(),
        tag: if r % 2 == 0 { Some(-(r as i16)) } else { None },
        shape: match r % 3 {
            0 => Shape::Point,
            1 => Shape::Circle(r as f64 / 3.0),
            _ => Shape::Rect { w: r as u32, h: (2 * r) as u32 },
        },
        map: (0..3).map(|k| (format!("k{k}"), r * 10 + k)).collect(),
    }
}

/// Large arrays of several element types: out of band above the threshold.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Big {
    label: String,
    field: OobVec<f64>,
    bytes: OobBytes,
    #[serde(with = "mpi4rs::object::oob")]
    weights: Vec<f32>,
    flags: OobVec<bool>,
    halves: OobVec<f16>,
    waves: OobVec<Complex<f64>>,
    small: OobVec<i32>,
}

fn big(r: i32, n: usize) -> Big {
    Big {
        label: format!("big {r}"),
        field: (0..n).map(|i| i as f64 + r as f64 * 1e6).collect(),
        bytes: (0..n * 2).map(|i| (i as u8).wrapping_add(r as u8)).collect(),
        weights: (0..n).map(|i| (i % 97) as f32 - r as f32).collect(),
        flags: (0..n).map(|i| (i as i64 + r as i64) % 3 == 0).collect(),
        halves: (0..n).map(|i| f16::from_f32((i % 50) as f32)).collect(),
        waves: (0..n / 4).map(|i| Complex::new(i as f64, -(r as f64))).collect(),
        small: vec![r, 1, 2].into(),
    }
}

fn ring_record(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let mine = record(me);
    let arr = [1u8, 2, 3];
    mpi4rs::scope(|sc| {
        let req = world.isend_obj(sc, &mine, right, 3)?;
        let (got, status): (Record, _) = world.recv_obj_status(left, 3)?;
        req.wait()?;
        ensure_eq!(got, record(left));
        ensure_eq!((status.source(), status.tag()), (left, 3));
        // Unsized values and borrowed forms decode into owned ones.
        let req = world.isend_obj(sc, "a str", right, 4)?;
        let s: String = world.recv_obj(left, 4)?;
        req.wait()?;
        ensure_eq!(s, "a str");
        let req = world.isend_obj(sc, &arr[..], right, 5)?;
        let v: Vec<u8> = world.recv_obj(left, 5)?;
        req.wait()?;
        ensure_eq!(v, vec![1, 2, 3]);
        Ok(())
    })?;
    Ok(())
}

fn send_ssend_pairs(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    if n < 2 {
        return Ok(());
    }
    // Pairs (0,1), (2,3): a round trip with send and ssend.
    let partner = me ^ 1;
    if partner >= n {
        return Ok(());
    }
    if me % 2 == 0 {
        world.send_obj(&record(me), partner, 0)?;
        let back: Record = world.recv_obj(partner, 1)?;
        ensure_eq!(back, record(partner));
        world.ssend_obj(&(me, "ssend".to_string()), partner, 2)?;
    } else {
        let got: Record = world.recv_obj(partner, 0)?;
        ensure_eq!(got, record(partner));
        world.ssend_obj(&record(me), partner, 1)?;
        let t: (i32, String) = world.recv_obj(partner, 2)?;
        ensure_eq!(t, (partner, "ssend".to_string()));
    }
    Ok(())
}

fn sendrecv_and_proc_null(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let got: Option<Vec<i32>> = world.sendrecv_obj(&vec![me; 3], right, 6, left, 6)?;
    ensure_eq!(got, Some(vec![left; 3]));
    // A non-periodic shift: the ends talk to PROC_NULL.
    let n = world.size();
    let up = if me + 1 < n { me + 1 } else { proc_null() };
    let down = if me > 0 { me - 1 } else { proc_null() };
    let got: Option<String> = world.sendrecv_obj(&format!("from {me}"), up, 7, down, 7)?;
    ensure_eq!(got, (me > 0).then(|| format!("from {}", me - 1)));
    world.send_obj(&1u8, proc_null(), 0)?;
    mpi4rs::scope(|sc| world.isend_obj(sc, &1u8, proc_null(), 0)?.wait())?;
    ensure_err!(world.recv_obj::<u8>(proc_null(), 0), Error::InvalidArgument(_));
    Ok(())
}

fn nonblocking(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    // irecv first, then issend (synchronous: completes once matched), test until done.
    let mine = record(me);
    let big_one = big(me, 70_000); // above the threshold: payloads out of band
    let me32 = me as u32;
    mpi4rs::scope(|sc| {
        let mut recv = world.irecv_obj::<Record>(left, 8)?;
        let mut send = world.issend_obj(sc, &mine, right, 8)?;
        let mut got = None;
        let mut sent = false;
        while got.is_none() || !sent {
            if got.is_none() {
                got = recv.test()?;
            }
            if !sent {
                sent = send.test()?;
            }
        }
        ensure_eq!(got, Some(record(left)));
        ensure_err!(recv.test(), Error::InvalidArgument(_));
        send.wait()?;
        // wait and wait_status.
        let recv = world.irecv_obj::<Big>(left, 9)?;
        let send = world.isend_obj(sc, &big_one, right, 9)?;
        let (b, status) = recv.wait_status()?;
        send.wait()?;
        ensure_eq!(b, big(left, 70_000));
        ensure_eq!(status.source(), left);
        let recv = world.irecv_obj::<u32>(left, 10)?;
        let send = world.isend_obj(sc, &me32, right, 10)?;
        ensure_eq!(recv.wait()?, left as u32);
        drop(send); // dropping a request waits for it
        Ok(())
    })
}

fn any_source_any_tag(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let hello = format!("hello from {me}");
    mpi4rs::scope(|sc| {
        let req = world.isend_obj(sc, &hello, 0, 20 + me)?;
        if me == 0 {
            let mut seen = vec![false; n as usize];
            for _ in 0..n {
                let (s, status): (String, _) = world.recv_obj_status(any_source(), any_tag())?;
                let src = status.source();
                ensure_eq!(status.tag(), 20 + src);
                ensure_eq!(s, format!("hello from {src}"));
                seen[src as usize] = true;
            }
            ensure!(seen.iter().all(|&s| s));
        }
        req.wait().map(drop)
    })
}

fn reuse_buffer(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let mut buf = RecvBuffer::new();
    for i in 0..50 {
        let msg = (me, i, vec![i as f64; 20]);
        let ((r, j, v), _): ((i32, i32, Vec<f64>), _) = mpi4rs::scope(|sc| {
            let req = world.isend_obj(sc, &msg, right, 11)?;
            let got = world.recv_obj_with(&mut buf, left, 11)?;
            req.wait()?;
            Ok(got)
        })?;
        ensure_eq!((r, j, v), (left, i, vec![i as f64; 20]));
    }
    let frame_capacity = buf.capacity();
    // Out-of-band arrays handed back are received into again: the same allocation each time.
    let mut last = None;
    for i in 0..5 {
        let msg = (i, OobVec::from(vec![i as f64; 40_000 - i as usize]));
        let ((j, field), _): ((i32, OobVec<f64>), _) = mpi4rs::scope(|sc| {
            let req = world.isend_obj(sc, &msg, right, 15)?;
            let got = world.recv_obj_with(&mut buf, left, 15)?;
            req.wait()?;
            Ok(got)
        })?;
        ensure_eq!((j, field.len(), field[0]), (i, 40_000 - i as usize, i as f64));
        if let Some(p) = last {
            ensure!(field.as_ptr() == p, "a recycled allocation was not reused");
        }
        last = Some(field.as_ptr());
        buf.recycle(field);
    }
    ensure!(buf.capacity() >= frame_capacity + 40_000 * 8);
    Ok(())
}

fn out_of_band_payloads(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let n = 40_000; // 320 KB of f64: above the 256 KiB default
    let b = big(me, n);
    let enc = codec::encode(&b)?;
    // field (320 KB) and halves? no: bytes (80 KB), weights (160 KB), flags (40 KB), halves
    // (80 KB), waves (160 KB), small stay inline; only `field` is at least 256 KiB.
    ensure_eq!(enc.payload_count(), 1);
    ensure_eq!(enc.payload_dtype(0), mpi4rs::DType::F64);
    ensure!(enc.frame().len() < 600_000);
    let got: Big = mpi4rs::scope(|sc| {
        let req = world.isend_obj(sc, &b, right, 12)?;
        // The frame's first part arrives first (4096 bytes; the rest of the ~520 KB frame,
        // without the 320 KB field, follows).
        let status = world.probe(left, 12)?;
        ensure_eq!(status.bytes()?, object::EAGER);
        let got = world.recv_obj(left, 12)?;
        req.wait()?;
        Ok(got)
    })?;
    ensure_eq!(got, big(left, n));
    // The received field is a plain Vec<f64> of exactly its length.
    ensure_eq!(got.field.capacity(), n);
    Ok(())
}

fn threshold_settings(env: &Environment) -> Result<()> {
    let world = env.world();
    let (_, left) = neighbours(env);
    let me = world.rank();
    ensure_eq!(object::threshold()?, object::DEFAULT_THRESHOLD);
    let b = big(me, 100);
    // Everything non-empty out of band (7 arrays), then nothing.
    object::set_threshold(Some(0));
    ensure_eq!(codec::encode(&b)?.payload_count(), 7);
    let got: Big = ring_as(env, &b, 13)?;
    ensure_eq!(got, big(left, 100));
    object::set_threshold(Some(usize::MAX));
    let b = big(me, 50_000);
    ensure_eq!(codec::encode(&b)?.payload_count(), 0);
    let got: Big = ring_as(env, &b, 14)?;
    ensure_eq!(got, big(left, 50_000));
    object::set_threshold(None);
    ensure_eq!(object::threshold()?, object::DEFAULT_THRESHOLD);
    // Outside object messages an OobVec is a plain sequence (here: MessagePack of a Vec).
    let plain = rmp_serde::to_vec(&OobVec::from(vec![1u16, 2])).map_err(|e| Error::Encode(e.to_string()))?;
    ensure_eq!(plain, rmp_serde::to_vec(&vec![1u16, 2]).map_err(|e| Error::Encode(e.to_string()))?);
    Ok(())
}

fn bcast_every_root(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    for root in 0..n {
        let mut r = if me == root { record(root) } else { record(-1) };
        world.bcast_obj(&mut r, root)?;
        ensure_eq!(r, record(root));
        let mut b = if me == root { big(root, 40_000) } else { big(-1, 1) };
        world.bcast_obj(&mut b, root)?;
        ensure_eq!(b, big(root, 40_000));
    }
    Ok(())
}

fn scatter_gather_every_root(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    for root in 0..n {
        let objs = (me == root).then(|| (0..n).map(|i| format!("to {i} from {root}")).collect::<Vec<_>>());
        let mine = world.scatter_obj(objs, root)?;
        ensure_eq!(mine, Some(format!("to {me} from {root}")));
        let all = world.gather_obj(record(me), root)?;
        if me == root {
            ensure_eq!(all, Some((0..n).map(record).collect::<Vec<_>>()));
        } else {
            ensure!(all.is_none());
        }
        // Large arrays through gather and scatter.
        let all = world.gather_obj(big(me, 35_000), root)?;
        if let Some(all) = all {
            ensure_eq!(all, (0..n).map(|r| big(r, 35_000)).collect::<Vec<_>>());
        }
        let objs = (me == root).then(|| (0..n).map(|i| big(i, 33_000)).collect::<Vec<_>>());
        ensure_eq!(world.scatter_obj(objs, root)?, Some(big(me, 33_000)));
    }
    Ok(())
}

fn allgather_alltoall(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let all = world.allgather_obj(record(me))?;
    ensure_eq!(all, (0..n).map(record).collect::<Vec<_>>());
    let all = world.allgather_obj(big(me, 33_000))?;
    ensure_eq!(all, (0..n).map(|r| big(r, 33_000)).collect::<Vec<_>>());
    let objs: Vec<(i32, i32)> = (0..n).map(|j| (me, j)).collect();
    let got = world.alltoall_obj(objs)?;
    ensure_eq!(got, (0..n).map(|i| (i, me)).collect::<Vec<_>>());
    let objs: Vec<OobVec<f64>> = (0..n).map(|j| vec![(me * 10 + j) as f64; 40_000].into()).collect();
    let got = world.alltoall_obj(objs)?;
    ensure_eq!(got, (0..n).map(|i| OobVec::from(vec![(i * 10 + me) as f64; 40_000])).collect::<Vec<_>>());
    Ok(())
}

fn reductions_in_rank_order(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // Concatenation is associative but not commutative: the result shows the order.
    let cat = |mut a: Vec<i32>, b: Vec<i32>| {
        a.extend(b);
        a
    };
    for root in 0..n {
        let r = world.reduce_obj(vec![me], cat, root)?;
        ensure_eq!(r, (me == root).then(|| (0..n).collect::<Vec<_>>()));
        let s = world.reduce_obj(me as u64 + 1, |a, b| a + b, root)?;
        ensure_eq!(s, (me == root).then_some((n * (n + 1) / 2) as u64));
    }
    ensure_eq!(world.allreduce_obj(vec![me], cat)?, (0..n).collect::<Vec<_>>());
    ensure_eq!(
        world.allreduce_obj(format!("{me}"), |a, b| a + &b)?,
        (0..n).map(|i| i.to_string()).collect::<String>()
    );
    let max =
        world.allreduce_obj((me % 3, me), |a: (i32, i32), b: (i32, i32)| if b.0 > a.0 { b } else { a })?;
    ensure_eq!(max.0, (n - 1).min(2));
    ensure_eq!(world.scan_obj(vec![me], cat)?, (0..=me).collect::<Vec<_>>());
    ensure_eq!(world.exscan_obj(vec![me], cat)?, (me > 0).then(|| (0..me).collect::<Vec<_>>()));
    ensure_eq!(world.scan_obj(me as i64, |a, b| a + b)?, (me * (me + 1) / 2) as i64);
    ensure_eq!(world.exscan_obj(me as i64 + 1, |a, b| a + b)?, (me > 0).then(|| (me * (me + 1) / 2) as i64));
    Ok(())
}

fn reductions_of_large_arrays(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let len = 50_000; // 400 KB: out of band at every step of the trees
    let add = |mut a: OobVec<f64>, b: OobVec<f64>| {
        a.iter_mut().zip(b.iter()).for_each(|(x, y)| *x += y);
        a
    };
    let mine = || OobVec::from((0..len).map(|i| (i + me as usize) as f64).collect::<Vec<_>>());
    let want: Vec<f64> = (0..len).map(|i| (n as usize * i) as f64 + (n * (n - 1) / 2) as f64).collect();
    let sum = world.allreduce_obj(mine(), add)?;
    ensure_eq!(sum.0, want);
    if let Some(sum) = world.reduce_obj(mine(), add, n - 1)? {
        ensure_eq!(sum.0, want);
    }
    let pre = world.scan_obj(mine(), add)?;
    ensure_eq!(pre[len - 1], (0..=me).map(|r| (len - 1 + r as usize) as f64).sum::<f64>());
    Ok(())
}

/// Even world ranks on one side, odd ones on the other (needs two processes).
fn intercommunicator(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    if n < 2 {
        return Ok(());
    }
    let odd = me % 2 == 1;
    let half = world.split(Some(me % 2), me)?.expect("every rank has a colour");
    let inter = half.create_intercomm(0, world, if odd { 0 } else { 1 }, 5)?;
    let (lr, remote) = (inter.rank(), inter.remote_size());
    // Point-to-point: local rank i of each side sends to remote rank i (if there is one).
    if lr < remote {
        let mine = record(me);
        let got: Record = mpi4rs::scope(|sc| {
            let req = inter.isend_obj(sc, &mine, lr, 1)?;
            let got = inter.recv_obj(lr, 1)?;
            req.wait()?;
            Ok(got)
        })?;
        let peer_world = if odd { 2 * lr } else { 2 * lr + 1 };
        ensure_eq!(got, record(peer_world));
        let got: Option<Big> = inter.sendrecv_obj(&big(me, 40_000), lr, 2, lr, 2)?;
        ensure_eq!(got, Some(big(peer_world, 40_000)));
    }
    // Roots: the even side's local rank 0 for bcast/scatter, the odd side's for gather/reduce.
    let even_root = if odd {
        0
    } else if lr == 0 {
        root()
    } else {
        proc_null()
    };
    let odd_root = if !odd {
        0
    } else if lr == 0 {
        root()
    } else {
        proc_null()
    };
    let mut r = if !odd && lr == 0 { record(99) } else { record(-1) };
    inter.bcast_obj(&mut r, even_root)?;
    ensure_eq!(r, if odd || lr == 0 { record(99) } else { record(-1) });
    let objs = (!odd && lr == 0).then(|| (0..remote).map(|i| big(i, 35_000)).collect::<Vec<_>>());
    let got = inter.scatter_obj(objs, even_root)?;
    ensure_eq!(got, odd.then(|| big(lr, 35_000)));
    let all = inter.gather_obj(format!("{lr}"), odd_root)?;
    ensure_eq!(all, (odd && lr == 0).then(|| (0..remote).map(|i| i.to_string()).collect::<Vec<_>>()));
    let all = inter.allgather_obj((odd, lr))?;
    ensure_eq!(all, (0..remote).map(|i| (!odd, i)).collect::<Vec<_>>());
    let got = inter.alltoall_obj((0..remote).map(|j| (lr, j)).collect())?;
    ensure_eq!(got, (0..remote).map(|i| (i, lr)).collect::<Vec<_>>());
    let cat = |a: String, b: String| a + &b;
    let red = inter.reduce_obj(format!("{lr}"), cat, odd_root)?;
    ensure_eq!(red, (odd && lr == 0).then(|| (0..remote).map(|i| i.to_string()).collect::<String>()));
    let sum = inter.allreduce_obj(vec![lr], |mut a, b| {
        a.extend(b);
        a
    })?;
    ensure_eq!(sum, (0..remote).collect::<Vec<_>>());
    ensure_err!(inter.scan_obj(1, |a, b| a + b), Error::InvalidArgument(_));
    ensure_err!(inter.exscan_obj(1, |a, b| a + b), Error::InvalidArgument(_));
    ensure_err!(inter.bcast_obj(&mut 0, remote), Error::InvalidRoot { .. });
    Ok(())
}

fn argument_errors(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    ensure_err!(world.send_obj(&1, n, 0), Error::InvalidRank { .. });
    ensure_err!(world.send_obj(&1, -5, 0), Error::InvalidRank { .. });
    ensure_err!(world.send_obj(&1, 0, -1), Error::InvalidTag { .. });
    mpi4rs::scope(|sc| {
        ensure_err!(world.isend_obj(sc, &1, 0, any_tag()), Error::InvalidTag { .. });
        Ok(())
    })?;
    ensure_err!(world.recv_obj::<u8>(n, 0), Error::InvalidRank { .. });
    ensure_err!(world.recv_obj::<u8>(0, -7), Error::InvalidTag { .. });
    ensure_err!(world.irecv_obj::<u8>(0, -3), Error::InvalidTag { .. });
    ensure_err!(world.bcast_obj(&mut 0, n), Error::InvalidRoot { .. });
    ensure_err!(world.gather_obj(0, -1), Error::InvalidRoot { .. });
    ensure_err!(world.reduce_obj(0, |a, b| a + b, n), Error::InvalidRoot { .. });
    ensure_err!(world.scatter_obj(Some(vec![1]), n + 1), Error::InvalidRoot { .. });
    // The root must pass one object per process.
    if me == 0 {
        ensure_err!(world.scatter_obj::<u8>(None, 0), Error::InvalidArgument(_));
        ensure_err!(world.scatter_obj(Some(vec![1u8; n as usize + 1]), 0), Error::BufferLength { .. });
    }
    ensure_err!(world.alltoall_obj(vec![0u8; n as usize + 2]), Error::BufferLength { .. });
    // A value serde cannot encode (a map key MessagePack has no place for is fine; a failing
    // Serialize is not).
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: serde::Serializer>(&self, _: S) -> std::result::Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }
    ensure_err!(world.send_obj(&Fails, 0, 0), Error::Encode(_));
    Ok(())
}

/// Sends `obj` to the right neighbour and receives the left one's as `R`.
fn ring_as<S: Serialize, R: serde::de::DeserializeOwned>(env: &Environment, obj: &S, tag: i32) -> Result<R> {
    let world = env.world();
    let (right, left) = neighbours(env);
    mpi4rs::scope(|sc| {
        let req = world.isend_obj(sc, obj, right, tag)?;
        let got = world.recv_obj::<R>(left, tag);
        req.wait()?;
        got
    })
}

#[derive(Serialize, Deserialize, Debug)]
struct Other {
    id: u64,
    name: String,
}

#[derive(Serialize, Deserialize, Debug)]
struct F32s {
    label: String,
    field: OobVec<f32>,
}

fn type_mismatch(env: &Environment) -> Result<()> {
    let world = env.world();
    let me = world.rank();
    let e = ensure_err!(ring_as::<_, u64>(env, &"a string", 30), Error::Decode { .. });
    ensure!(e.to_string().contains("type mismatch: the message holds a string"), "{e}");
    let e = ensure_err!(ring_as::<_, Other>(env, &record(me), 31), Error::Decode { .. });
    ensure!(e.to_string().contains("Other"), "{e}");
    ensure_err!(ring_as::<_, Vec<String>>(env, &vec![1.5f64, 2.5], 32), Error::Decode { .. });
    ensure_err!(ring_as::<_, u8>(env, &300u32, 33), Error::Decode { .. });
    ensure_err!(ring_as::<_, Shape>(env, &"Triangle", 34), Error::Decode { .. });
    // An out-of-band f64 payload asked for as f32 elements (and as a plain Vec).
    let b = big(me, 40_000);
    let e =
        ensure_err!(ring_as::<_, F32s>(env, &(b.label.clone(), b.field.clone()), 35), Error::Decode { .. });
    ensure!(e.to_string().contains("f64") && e.to_string().contains("f32"), "{e}");
    ensure_err!(
        ring_as::<_, (String, Vec<f64>)>(env, &(b.label.clone(), b.field.clone()), 36),
        Error::Decode { .. }
    );
    // Fewer fields than sent, and payloads the receiver's type has no place for.
    ensure_err!(ring_as::<_, (String,)>(env, &(b.label.clone(), b.field.clone()), 37), Error::Decode { .. });
    // After all these, the channel is clean.
    let ok: Record = ring_as(env, &record(me), 38)?;
    ensure_eq!(ok, record(neighbours(env).1));
    Ok(())
}

/// A frame made by hand: header, body, descriptors.
fn frame(body: &[u8], payloads: &[(u8, u64)], flags: u8) -> Vec<u8> {
    let mut f = vec![codec::MAGIC, codec::VERSION, flags, 0, 0, 0, 0];
    f.extend_from_slice(&(payloads.len() as u32).to_le_bytes());
    f.extend_from_slice(body);
    for &(d, n) in payloads {
        f.push(d);
        f.extend_from_slice(&n.to_le_bytes());
    }
    f
}

/// A hand-made frame as the messages a sender makes: split after `EAGER` bytes (with the
/// continuation flag) when longer.
fn split(mut frame: Vec<u8>) -> Vec<Vec<u8>> {
    if frame.len() <= object::EAGER {
        return vec![frame];
    }
    frame[2] |= 2;
    let rest = frame.split_off(object::EAGER);
    vec![frame, rest]
}

/// Sends raw `messages` (buffer API) right and receives an object from the left as `R`.
fn raw_ring<R: serde::de::DeserializeOwned>(env: &Environment, messages: &[Vec<u8>], tag: i32) -> Result<R> {
    let world = env.world();
    let (right, left) = neighbours(env);
    mpi4rs::scope(|s| {
        let mut reqs: Vec<_> =
            messages.iter().map(|m| world.isend(s, &m[..], right, tag)).collect::<Result<_>>()?;
        let got = world.recv_obj::<R>(left, tag);
        mpi4rs::wait_all(&mut reqs)?;
        Ok(got)
    })?
}

fn hostile_input(env: &Environment) -> Result<()> {
    let me = env.world().rank();
    let good = codec::encode(&record(me))?.frame().to_vec();
    let dec = |e: &Error, what: &str| -> Result<()> {
        ensure!(matches!(e, Error::Decode { .. }), "{what}: {e}");
        Ok(())
    };
    // Not an object message at all, and an empty one.
    dec(&ensure_err!(raw_ring::<Record>(env, &[b"plain bytes".to_vec()], 40), _), "not an object")?;
    dec(&ensure_err!(raw_ring::<Record>(env, &[vec![]], 41), _), "empty")?;
    // Truncated at every length.
    for cut in [1, 5, codec::HEADER_LEN, codec::HEADER_LEN + 1, good.len() / 2, good.len() - 1] {
        dec(&ensure_err!(raw_ring::<Record>(env, &[good[..cut].to_vec()], 42), _), "truncated")?;
    }
    // Corrupted: a wrong version, unknown flags, an invalid marker in the body.
    let mut bad = good.clone();
    bad[1] = 99;
    dec(&ensure_err!(raw_ring::<Record>(env, &[bad], 43), _), "version")?;
    let mut bad = good.clone();
    bad[2] = 0x80;
    dec(&ensure_err!(raw_ring::<Record>(env, &[bad], 44), _), "flags")?;
    let mut bad = good.clone();
    bad[codec::HEADER_LEN] = 0xc1;
    dec(&ensure_err!(raw_ring::<Record>(env, &[bad], 45), _), "marker")?;
    // Forged lengths: an array of 2^32-1 elements, a string of 4 GB, in a few bytes.
    let e =
        ensure_err!(raw_ring::<Vec<u64>>(env, &[frame(&[0xdd, 0xff, 0xff, 0xff, 0xff, 1], &[], 0)], 46), _);
    dec(&e, "forged array")?;
    ensure!(e.to_string().contains("forged"), "{e}");
    let e =
        ensure_err!(raw_ring::<String>(env, &[frame(&[0xdb, 0xff, 0xff, 0xff, 0xf0, b'a'], &[], 0)], 47), _);
    dec(&e, "forged string")?;
    // Forged header: 10^9 payloads announced, a payload of 2^60 elements, an unknown dtype.
    let mut bad = frame(&[0xc0], &[], 0);
    bad[7..11].copy_from_slice(&1_000_000_000u32.to_le_bytes());
    dec(&ensure_err!(raw_ring::<Option<u8>>(env, &[bad], 48), _), "payload count")?;
    dec(
        &ensure_err!(raw_ring::<Option<u8>>(env, &[frame(&[0xc0], &[(12, 1 << 60)], 0)], 49), _),
        "huge payload",
    )?;
    dec(&ensure_err!(raw_ring::<Option<u8>>(env, &[frame(&[0xc0], &[(200, 1)], 0)], 50), _), "dtype")?;
    // A payload message of another size than announced (it is received and dropped).
    let placeholder = [0xd6, codec_ext_tag(), 0, 0, 0, 0];
    let e = ensure_err!(
        raw_ring::<OobVec<f64>>(env, &[frame(&placeholder, &[(12, 100)], 0), vec![0u8; 400]], 51),
        _
    );
    dec(&e, "payload size")?;
    // A placeholder pointing past the payloads, or claiming one twice.
    let e = ensure_err!(
        raw_ring::<OobVec<f64>>(
            env,
            &[frame(&[0xd6, codec_ext_tag(), 5, 0, 0, 0], &[(12, 2)], 0), vec![0u8; 16]],
            52
        ),
        _
    );
    dec(&e, "placeholder index")?;
    let mut body = vec![0x92];
    body.extend_from_slice(&placeholder);
    body.extend_from_slice(&placeholder);
    let e = ensure_err!(
        raw_ring::<(OobVec<f64>, OobVec<f64>)>(env, &[frame(&body, &[(12, 2)], 0), vec![0u8; 16]], 53),
        _
    );
    dec(&e, "placeholder twice")?;
    // A bool payload holding 2, inline and out of band.
    dec(
        &ensure_err!(raw_ring::<OobVec<bool>>(env, &[frame(&[0xc4, 2, 1, 2], &[], 0)], 54), _),
        "bool inline",
    )?;
    let e =
        ensure_err!(raw_ring::<OobVec<bool>>(env, &[frame(&placeholder, &[(0, 2)], 0), vec![1u8, 2]], 55), _);
    dec(&e, "bool payload")?;
    // Binary data that is not whole elements.
    dec(
        &ensure_err!(raw_ring::<OobVec<f64>>(env, &[frame(&[0xc4, 3, 1, 2, 3], &[], 0)], 56), _),
        "partial f64",
    )?;
    // Nesting 100 000 deep cannot exhaust the stack.
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    enum Tree {
        Leaf,
        Node(Vec<Tree>),
    }
    let mut deep = vec![0x91; 100_000];
    deep.push(0xc0);
    dec(&ensure_err!(raw_ring::<Tree>(env, &split(frame(&deep, &[], 0)), 57), _), "deep")?;
    // A first message longer than the protocol allows, and a continuation flag that lies.
    dec(&ensure_err!(raw_ring::<Tree>(env, &[frame(&deep, &[], 0)], 60), _), "unsplit")?;
    let mut lying = frame(&[0xc0], &[], 0);
    lying[2] |= 2;
    dec(&ensure_err!(raw_ring::<Option<u8>>(env, &[lying], 61), _), "continuation flag")?;
    let mut parts = split(frame(&deep, &[], 0));
    parts[0][2] &= !2;
    dec(&ensure_err!(raw_ring::<Tree>(env, &parts[..1], 62), _), "missing flag")?;
    // Invalid UTF-8 in a string.
    dec(&ensure_err!(raw_ring::<String>(env, &[frame(&[0xa2, 0xff, 0xfe], &[], 0)], 58), _), "utf8")?;
    // After all of this, the channel is clean.
    let ok: Record = ring_as(env, &record(me), 59)?;
    ensure_eq!(ok, record(neighbours(env).1));
    Ok(())
}

/// The MessagePack extension type of a placeholder, as a byte.
fn codec_ext_tag() -> u8 {
    // An OobVec that is sent out of band shows it in its frame: 0xd6 TYPE INDEX(4).
    let v = OobVec::from(vec![0u8; 8]);
    object::set_threshold(Some(0));
    let enc = codec::encode(&v);
    object::set_threshold(None);
    enc.map(|e| e.frame()[codec::HEADER_LEN + 1]).unwrap_or(0)
}
