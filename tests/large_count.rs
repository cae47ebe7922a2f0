//! Messages past 2^31 elements (MPI's `int` counts): a broadcast through a big datatype and
//! an in-place allreduce in chunks, at 2 ranks (about 4.3 GB of memory per rank); an object
//! holding a 2^31 + 8 byte out-of-band payload, and one whose body itself passes 1 GiB and
//! travels out of band (about 2.2 GB per rank each).
mod common;

use common::{rank_size, Suite};
use mpi4rs::prelude::*;
use mpi4rs::{Environment, Result};

const LEN: usize = (1 << 31) + 8;

fn main() {
    Suite::new("large_count")
        .nps(&[2])
        .case("bcast_and_allreduce_past_2_31", bcast_and_allreduce_past_2_31)
        .case("object_payload_past_2_31", object_payload_past_2_31)
        .case("object_body_past_1_gib", object_body_past_1_gib)
        .run();
}

fn bcast_and_allreduce_past_2_31(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let mut buf = vec![if me == 0 { 1u8 } else { 0 }; LEN];
    if me == 0 {
        buf[LEN - 1] = 9;
    }
    world.bcast(&mut buf, 0)?;
    ensure_eq!((buf[0], buf[LEN / 2], buf[LEN - 2], buf[LEN - 1]), (1, 1, 1, 9));
    ensure!(all_equal(&buf[..LEN - 1], 1));
    // Rank 0 holds 1s, rank 1 2s: the sum is 3 everywhere, including the tail past 2^31.
    buf.fill(me as u8 + 1);
    world.allreduce_in_place(&mut buf, &Op::SUM)?;
    ensure!(all_equal(&buf, 3), "allreduce past 2^31");
    Ok(())
}

/// Whether every byte is `v` (compared a MiB at a time, so even a debug build is quick).
fn all_equal(buf: &[u8], v: u8) -> bool {
    let block = vec![v; 1 << 20];
    buf.chunks(block.len()).all(|c| c == &block[..c.len()])
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Blob {
    label: String,
    data: mpi4rs::OobBytes,
}

/// Rank 0 sends a `Blob` of `len` bytes to rank 1 (7s, and a 9 at the end), which checks it.
fn send_blob(env: &Environment, len: usize) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    if me == 0 {
        let mut data = vec![7u8; len];
        data[len - 1] = 9;
        world.send_obj(&Blob { label: format!("{len} bytes"), data: data.into() }, 1, 0)?;
    } else if me == 1 {
        let blob: Blob = world.recv_obj(0, 0)?;
        ensure_eq!(blob.label, format!("{len} bytes"));
        ensure_eq!((blob.data.len(), blob.data[len - 1]), (len, 9));
        ensure!(all_equal(&blob.data[..len - 1], 7), "object payload");
    }
    Ok(())
}

fn object_payload_past_2_31(env: &Environment) -> Result<()> {
    send_blob(env, LEN)
}

fn object_body_past_1_gib(env: &Environment) -> Result<()> {
    // Nothing out of band: the 1 GiB + 8 bytes go inline, and the body, too large for a
    // frame, travels as a payload of its own.
    mpi4rs::object::set_threshold(Some(usize::MAX));
    let r = send_blob(env, (1 << 30) + 8);
    mpi4rs::object::set_threshold(None);
    r
}
