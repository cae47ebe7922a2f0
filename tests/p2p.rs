//! Blocking point-to-point on host buffers: every element type, every send mode, probes.
mod common;

use common::{neighbours, rank_size, Suite};
use half::{bf16, f16};
use mpi::traits::Equivalence;
use mpi4rs::prelude::*;
use mpi4rs::{BufferElement, Environment, Result};
use num_complex::Complex;

fn main() {
    Suite::new("p2p")
        .case("ring_every_element_type", ring_every_element_type)
        .case("derived_struct", derived_struct)
        .case("equivalent_bool_receive_refused", equivalent_bool_receive_refused)
        .case("sendrecv_ring", sendrecv_ring)
        .case("sendrecv_replace_ring", sendrecv_replace_ring)
        .case("ssend_and_proc_null", ssend_and_proc_null)
        .case("bsend_with_attached_buffer", bsend_with_attached_buffer)
        .case("rsend_after_posted_receive", rsend_after_posted_receive)
        .case("any_source_any_tag", any_source_any_tag)
        .case("probe_iprobe", probe_iprobe)
        .case("mprobe_improbe", mprobe_improbe)
        .run();
}

/// Sends `make(rank, i)` to the right neighbour and checks what came from the left one.
fn ring<T: BufferElement + PartialEq + std::fmt::Debug>(
    env: &Environment,
    make: impl Fn(i32, usize) -> T,
) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let data: Vec<T> = (0..17).map(|i| make(me, i)).collect();
    let mut got = vec![make(-1, 0); 17];
    // Even ranks send first; with one rank, isend avoids self-deadlock.
    let status = mpi4rs::scope(|s| {
        let req = world.isend(s, &data, right, 3)?;
        let status = world.recv(&mut got, left, 3)?;
        req.wait()?;
        Ok(status)
    })?;
    ensure_eq!(status.source(), left);
    ensure_eq!(status.tag(), 3);
    ensure_eq!(status.count::<T>()?, 17);
    ensure_eq!(status.bytes()?, 17 * std::mem::size_of::<T>());
    let want: Vec<T> = (0..17).map(|i| make(left, i)).collect();
    ensure_eq!(got, want);
    Ok(())
}

fn ring_every_element_type(env: &Environment) -> Result<()> {
    ring(env, |r, i| (r + i as i32) % 2 == 0)?;
    ring(env, |r, i| (r * 3 - i as i32) as i8)?;
    ring(env, |r, i| (r * 300 - i as i32) as i16)?;
    ring(env, |r, i| r * 100_000 - i as i32)?;
    ring(env, |r, i| (r as i64) << 40 | i as i64)?;
    ring(env, |r, i| (r * 7 + i as i32) as u8)?;
    ring(env, |r, i| (r * 700 + i as i32) as u16)?;
    ring(env, |r, i| (r as u32) << 20 | i as u32)?;
    ring(env, |r, i| (r as u64) << 50 | i as u64)?;
    ring(env, |r, i| r as isize * 1000 - i as isize)?;
    ring(env, |r, i| (r + 1) as usize * 1000 + i)?;
    ring(env, |r, i| f16::from_f32(r as f32 + i as f32 / 4.0))?;
    ring(env, |r, i| bf16::from_f32(r as f32 * 2.0 - i as f32))?;
    ring(env, |r, i| r as f32 + i as f32 * 0.5)?;
    ring(env, |r, i| r as f64 * 1e10 + i as f64)?;
    ring(env, |r, i| Complex::new(r as f32, -(i as f32)))?;
    ring(env, |r, i| Complex::new(r as f64 * 0.25, i as f64))?;
    Ok(())
}

#[derive(Equivalence, Clone, Copy, Debug, PartialEq, Default)]
struct Particle {
    position: [f64; 3],
    id: u32,
    charge: i8,
}

fn derived_struct(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let make = |r: i32, i: usize| Particle {
        position: [r as f64, i as f64, -1.5],
        id: (r * 10) as u32 + i as u32,
        charge: -(i as i8),
    };
    let parts: Vec<Particle> = (0..5).map(|i| make(me, i)).collect();
    let mut got = vec![Particle::default(); 5];
    let outgoing = Equivalent(&parts); // a request borrows the wrapper, so bind it
    mpi4rs::scope(|s| {
        let req = world.isend(s, &outgoing, right, 0)?;
        world.recv(&mut EquivalentMut(&mut got), left, 0)?;
        req.wait()?;
        Ok(())
    })?;
    ensure_eq!(got, (0..5).map(|i| make(left, i)).collect::<Vec<_>>());
    Ok(())
}

#[derive(Equivalence, Clone, Copy, Debug, PartialEq, Default)]
struct Flagged {
    value: f64,
    valid: bool,
}

/// Receiving into `bool`s through rsmpi's `Equivalence` (plain `bool`, or a struct with a
/// `bool` field) is refused before MPI runs: MPI would write whatever byte a matching message
/// carries (a `u8` send of 2 matches, MPI does not check), an invalid `bool`. Sending them is
/// fine; the same struct's bytes can be received as `u8`s.
fn equivalent_bool_receive_refused(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut flags = [false; 4];
    ensure_err!(world.recv(&mut EquivalentMut(&mut flags), left, 5), mpi4rs::Error::UnsupportedBuffer(_));
    let mut records = [Flagged::default(); 2];
    ensure_err!(world.recv(&mut EquivalentMut(&mut records), left, 5), mpi4rs::Error::UnsupportedBuffer(_));
    // Twice: the answer is cached per type and still refuses.
    ensure_err!(world.recv(&mut EquivalentMut(&mut records), left, 5), mpi4rs::Error::UnsupportedBuffer(_));
    // A struct without bool still receives (the same walk says no).
    let mut parts = [Particle::default(); 1];
    let mine = [Particle { id: world.rank() as u32, ..Particle::default() }];
    world.sendrecv(&Equivalent(&mine), right, 6, &mut EquivalentMut(&mut parts), left, 6)?;
    ensure_eq!(parts[0].id, left as u32);
    Ok(())
}

fn sendrecv_ring(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut got = [0i32; 2];
    let status = world.sendrecv(&[world.rank(), 42], right, 1, &mut got, left, 1)?;
    ensure_eq!(got, [left, 42]);
    ensure_eq!(status.source(), left);
    Ok(())
}

fn sendrecv_replace_ring(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut buf = [world.rank() as f64; 3];
    world.sendrecv_replace(&mut buf, right, 2, left, 2)?;
    ensure_eq!(buf, [left as f64; 3]);
    Ok(())
}

fn ssend_and_proc_null(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    if n >= 2 {
        if me == 0 {
            world.ssend(&[1u8, 2, 3], 1, 5)?;
        } else if me == 1 {
            let mut b = [0u8; 3];
            world.recv(&mut b, 0, 5)?;
            ensure_eq!(b, [1, 2, 3]);
        }
    }
    // PROC_NULL: completes at once, receives nothing.
    world.send(&7u32, proc_null(), 0)?;
    let mut x = 9u32;
    let status = world.recv(&mut x, proc_null(), 0)?;
    ensure_eq!(x, 9);
    ensure_eq!(status.source(), proc_null());
    ensure_eq!(status.count::<u32>()?, 0);
    Ok(())
}

fn bsend_with_attached_buffer(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    mpi4rs::attach_buffer(vec![0u8; 4 * (64 + mpi4rs::bsend_overhead())])?;
    // Buffered sends complete locally, so a ring of blocking bsends cannot deadlock.
    world.bsend(&[world.rank() as u64; 8], right, 9)?;
    let mut got = [0u64; 8];
    world.recv(&mut got, left, 9)?;
    ensure_eq!(got, [left as u64; 8]);
    mpi4rs::scope(|s| {
        let mut req = world.ibsend(s, &[1u8; 16], right, 10)?;
        let mut small = [0u8; 16];
        world.recv(&mut small, left, 10)?;
        while req.test()?.is_none() {}
        Ok(())
    })?;
    let buffer = mpi4rs::detach_buffer()?;
    ensure_eq!(buffer.len(), 4 * (64 + mpi4rs::bsend_overhead()));
    Ok(())
}

fn rsend_after_posted_receive(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    if n < 2 || me > 1 {
        return Ok(());
    }
    if me == 1 {
        let mut got = [0i16; 4];
        mpi4rs::scope(|s| {
            let req = world.irecv(s, &mut got, 0, 20)?;
            world.ssend(&[0u8; 0][..], 0, 21)?; // "my receive is posted"
            req.wait()?;
            Ok(())
        })?;
        ensure_eq!(got, [4, 3, 2, 1]);
    } else {
        world.recv(&mut [0u8; 0][..], 1, 21)?;
        world.rsend(&[4i16, 3, 2, 1], 1, 20)?;
    }
    Ok(())
}

fn any_source_any_tag(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    if me != 0 {
        world.send(&(me * 10), 0, me)?;
        return Ok(());
    }
    let mut seen = vec![false; n as usize];
    for _ in 1..n {
        let mut v = 0i32;
        let status = world.recv(&mut v, any_source(), any_tag())?;
        ensure_eq!(v, status.source() * 10);
        ensure_eq!(status.tag(), status.source());
        seen[status.source() as usize] = true;
    }
    ensure!(seen[1..].iter().all(|&s| s));
    Ok(())
}

fn probe_iprobe(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let data: Vec<u32> = (0..world.rank() as u32 + 3).collect();
    mpi4rs::scope(|s| {
        let req = world.isend(s, &data, right, 4)?;
        let status = world.probe(left, 4)?;
        let n = status.count::<u32>()?;
        ensure_eq!(n, left as usize + 3);
        let mut got = vec![0u32; n];
        world.recv(&mut got, left, 4)?;
        ensure_eq!(got, (0..left as u32 + 3).collect::<Vec<_>>());
        req.wait()?;
        Ok(())
    })?;
    ensure!(world.iprobe(left, 99)?.is_none(), "no message with tag 99 exists");
    let status = world.probe(proc_null(), any_tag())?;
    ensure_eq!(status.source(), proc_null());
    Ok(())
}

fn mprobe_improbe(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let data = vec![world.rank() as f32; 6];
    mpi4rs::scope(|s| {
        let req = world.isend(s, &data, right, 6)?;
        let (mut msg, status) = world.mprobe(left, 6)?;
        ensure_eq!(msg.bytes(), 24);
        ensure_eq!(status.count::<f32>()?, 6);
        let mut got = vec![0f32; 6];
        msg.recv(&mut got)?;
        ensure_eq!(got, vec![left as f32; 6]);
        req.wait()?;
        Ok(())
    })?;
    // improbe: poll until the second message is matched, then receive it nonblockingly.
    let mut got2 = vec![0f32; 6];
    mpi4rs::scope(|s| {
        let req = world.isend(s, &data, right, 7)?;
        let (mut msg, _) = loop {
            if let Some(m) = world.improbe(left, 7)? {
                break m;
            }
        };
        msg.irecv(s, &mut got2)?.wait()?;
        req.wait()?;
        Ok(())
    })?;
    ensure_eq!(got2, vec![left as f32; 6]);
    let (msg, _) = world.mprobe(proc_null(), 0)?;
    ensure!(msg.is_no_proc());
    Ok(())
}
