//! Messages past 2^31 elements (MPI's `int` counts): a broadcast through a big datatype and
//! an in-place allreduce in chunks, at 2 ranks (about 4.3 GB of memory per rank).
mod common;

use common::{rank_size, Suite};
use mpi4rs::prelude::*;
use mpi4rs::{Environment, Result};

const LEN: usize = (1 << 31) + 8;

fn main() {
    Suite::new("large_count")
        .nps(&[2])
        .case("bcast_and_allreduce_past_2_31", bcast_and_allreduce_past_2_31)
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
