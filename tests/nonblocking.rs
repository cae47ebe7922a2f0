//! Nonblocking and persistent point-to-point, and completion of request sets.
mod common;

use common::{neighbours, rank_size, Suite};
use mpi4rs::prelude::*;
use mpi4rs::{Environment, Result};

fn main() {
    Suite::new("nonblocking")
        .case("isend_irecv_wait", isend_irecv_wait)
        .case("test_until_complete", test_until_complete)
        .case("wait_all_gather", wait_all_gather)
        .case("wait_any_and_some", wait_any_and_some)
        .case("test_all_any_some", test_all_any_some)
        .case("cancel_unmatched_receive", cancel_unmatched_receive)
        .case("request_status_keeps_request", request_status_keeps_request)
        .case("send_modes_immediate", send_modes_immediate)
        .case("persistent_start_all", persistent_start_all)
        .case("persistent_modes", persistent_modes)
        .case("drop_waits_for_completion", drop_waits_for_completion)
        .run();
}

fn isend_irecv_wait(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let out: Vec<i64> = (0..1000).map(|i| i * world.rank() as i64).collect();
    let mut got = vec![0i64; 1000];
    let r = world.irecv(&mut got, left, 0)?;
    let s = world.isend(&out, right, 0)?;
    let status = r.wait()?;
    s.wait()?;
    ensure_eq!(status.source(), left);
    ensure_eq!(got, (0..1000).map(|i| i * left as i64).collect::<Vec<_>>());
    Ok(())
}

fn test_until_complete(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut got = 0u16;
    let mut r = world.irecv(&mut got, left, 1)?;
    ensure!(!r.is_complete());
    let mine = world.rank() as u16;
    let s = world.isend(&mine, right, 1)?;
    let status = loop {
        if let Some(st) = r.test()? {
            break st;
        }
    };
    ensure!(r.is_complete());
    ensure_eq!(status.tag(), 1);
    drop(r);
    s.wait()?;
    ensure_eq!(got, left as u16);
    Ok(())
}

fn wait_all_gather(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // Everyone sends its rank to everyone (including itself).
    let mut inbox = vec![-1i32; n as usize];
    let mine = me;
    let mut reqs: Vec<Request> = Vec::new();
    for (src, slot) in inbox.iter_mut().enumerate() {
        reqs.push(world.irecv(slot, src as i32, 2)?);
    }
    for dst in 0..n {
        reqs.push(world.isend(&mine, dst, 2)?);
    }
    let statuses = mpi4rs::wait_all(&mut reqs)?;
    ensure_eq!(statuses.len(), 2 * n as usize);
    for (src, st) in statuses[..n as usize].iter().enumerate() {
        ensure_eq!(st.source(), src as i32);
    }
    ensure!(reqs.iter().all(|r| r.is_complete()));
    drop(reqs);
    ensure_eq!(inbox, (0..n).collect::<Vec<_>>());
    Ok(())
}

fn wait_any_and_some(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut a = 0u32;
    let mut b = 0u32;
    let mut recvs = vec![world.irecv(&mut a, left, 3)?, world.irecv(&mut b, left, 4)?];
    let s1 = world.isend(&10u32, right, 4)?;
    let (index, status) =
        mpi4rs::wait_any(&mut recvs)?.ok_or(mpi4rs::Error::InvalidArgument("no active request".into()))?;
    ensure_eq!((index, status.tag()), (1, 4));
    world.barrier()?; // nobody sends tag 3 before everyone has seen tag 4 complete first
    let s2 = world.isend(&20u32, right, 3)?;
    let mut done = Vec::new();
    while done.is_empty() {
        done = mpi4rs::wait_some(&mut recvs)?;
    }
    ensure_eq!(done.len(), 1);
    ensure_eq!((done[0].0, done[0].1.tag()), (0, 3));
    // Nothing active any more: wait_any says so, wait_some returns nothing.
    ensure!(mpi4rs::wait_any(&mut recvs)?.is_none());
    ensure!(mpi4rs::wait_some(&mut recvs)?.is_empty());
    drop(recvs);
    mpi4rs::wait_all(&mut [s1, s2])?;
    ensure_eq!((a, b), (20, 10));
    Ok(())
}

fn test_all_any_some(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut x = [0f64; 4];
    let mut y = [0f64; 4];
    let mut recvs = vec![world.irecv(&mut x, left, 5)?, world.irecv(&mut y, left, 6)?];
    // Nothing sent yet with these tags from the left neighbour: nothing can be complete.
    ensure!(mpi4rs::test_all(&mut recvs)?.is_none());
    ensure!(mpi4rs::test_any(&mut recvs)?.is_none());
    ensure!(mpi4rs::test_some(&mut recvs)?.is_empty());
    world.barrier()?; // everyone has tested before anyone sends
    let sends = [world.isend(&[1.5f64; 4], right, 5)?, world.isend(&[2.5f64; 4], right, 6)?];
    let mut completed = 0;
    while completed < 1 {
        if mpi4rs::test_any(&mut recvs)?.is_some() {
            completed += 1;
        }
    }
    loop {
        completed += mpi4rs::test_some(&mut recvs)?.len();
        if completed == 2 {
            break;
        }
    }
    ensure!(mpi4rs::test_all(&mut recvs)?.is_some(), "all complete");
    drop(recvs);
    let mut sends = sends;
    mpi4rs::wait_all(&mut sends)?;
    ensure_eq!((x, y), ([1.5; 4], [2.5; 4]));
    Ok(())
}

fn cancel_unmatched_receive(env: &Environment) -> Result<()> {
    let world = env.world();
    let mut never = 0i32;
    let r = world.irecv(&mut never, any_source(), 999)?;
    r.cancel()?;
    let status = r.wait()?;
    ensure!(status.is_cancelled()?, "the receive was cancelled");
    Ok(())
}

fn request_status_keeps_request(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut got = 0i8;
    let r = world.irecv(&mut got, left, 7)?;
    let s = world.isend(&-3i8, right, 7)?;
    while r.status()?.is_none() {}
    ensure!(!r.is_complete(), "status() does not free the request");
    let status = r.wait()?;
    ensure_eq!(status.count::<i8>()?, 1);
    s.wait()?;
    ensure_eq!(got, -3);
    Ok(())
}

fn send_modes_immediate(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut got = [0u8; 3];
    // issend completes only once the receive matched.
    let r = world.irecv(&mut got, left, 8)?;
    let s = world.issend(&[7u8, 8, 9], right, 8)?;
    mpi4rs::wait_all(&mut [r, s])?;
    ensure_eq!(got, [7, 8, 9]);
    // irsend: the receive must be posted first; barrier guarantees it.
    let mut got2 = [0u8; 2];
    let r = world.irecv(&mut got2, left, 9)?;
    world.barrier()?;
    let s = world.irsend(&[1u8, 2], right, 9)?;
    mpi4rs::wait_all(&mut [r, s])?;
    ensure_eq!(got2, [1, 2]);
    Ok(())
}

fn persistent_start_all(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let out = [world.rank() as u64 * 3, 1];
    let mut got = [0u64; 2];
    {
        let mut reqs = [world.recv_init(&mut got, left, 10)?, world.send_init(&out, right, 10)?];
        for _ in 0..3 {
            mpi4rs::start_all(&mut reqs)?;
            mpi4rs::wait_all(&mut reqs)?;
        }
        // start/wait one at a time too
        reqs[0].start()?;
        reqs[1].start()?;
        let st = reqs[0].wait()?;
        reqs[1].wait()?;
        ensure_eq!(st.source(), left);
    }
    ensure_eq!(got, [left as u64 * 3, 1]);
    Ok(())
}

fn persistent_modes(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let out = [5i32; 4];
    let mut got = [0i32; 4];
    let mut recv = world.recv_init(&mut got, left, 11)?;
    let mut ssend = world.ssend_init(&out, right, 11)?;
    recv.start()?;
    ssend.start()?;
    while ssend.test()?.is_none() {}
    recv.wait()?;
    // Ready mode: the receive is posted and everyone knows it before the send starts.
    let mut rsend = world.rsend_init(&out, right, 11)?;
    recv.start()?;
    world.barrier()?;
    rsend.start()?;
    rsend.wait()?;
    recv.wait()?;
    // Buffered mode through an attached buffer.
    mpi4rs::attach_buffer(vec![0u8; 1024 + mpi4rs::bsend_overhead()])?;
    let mut bsend = world.bsend_init(&out, right, 11)?;
    recv.start()?;
    bsend.start()?;
    mpi4rs::wait_all(&mut [bsend])?;
    recv.wait()?;
    mpi4rs::detach_buffer()?;
    drop((recv, ssend, rsend));
    ensure_eq!(got, [5; 4]);
    Ok(())
}

fn drop_waits_for_completion(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut got = vec![0u32; 64];
    let s = world.isend(&[9u32; 64], right, 12)?;
    {
        let _r = world.irecv(&mut got, left, 12)?;
        // dropped here: waits, so `got` is complete below
    }
    drop(s);
    ensure_eq!(got, vec![9u32; 64]);
    Ok(())
}
