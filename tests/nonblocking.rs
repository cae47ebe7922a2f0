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
        .case("forget_pending_irecv", forget_pending_irecv)
        .case("forget_pending_isend", forget_pending_isend)
        .case("forget_started_recv_init", forget_started_recv_init)
        .case("forget_pending_iallreduce", forget_pending_iallreduce)
        .run();
}

fn isend_irecv_wait(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let out: Vec<i64> = (0..1000).map(|i| i * world.rank() as i64).collect();
    let mut got = vec![0i64; 1000];
    mpi4rs::scope(|s| {
        let r = world.irecv(s, &mut got, left, 0)?;
        let send = world.isend(s, &out, right, 0)?;
        let status = r.wait()?;
        send.wait()?;
        ensure_eq!(status.source(), left);
        Ok(())
    })?;
    ensure_eq!(got, (0..1000).map(|i| i * left as i64).collect::<Vec<_>>());
    Ok(())
}

fn test_until_complete(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut got = 0u16;
    let mine = world.rank() as u16;
    mpi4rs::scope(|s| {
        let mut r = world.irecv(s, &mut got, left, 1)?;
        ensure!(!r.is_complete());
        let send = world.isend(s, &mine, right, 1)?;
        let status = loop {
            if let Some(st) = r.test()? {
                break st;
            }
        };
        ensure!(r.is_complete());
        ensure_eq!(status.tag(), 1);
        drop(r);
        send.wait()?;
        Ok(())
    })?;
    ensure_eq!(got, left as u16);
    Ok(())
}

fn wait_all_gather(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // Everyone sends its rank to everyone (including itself).
    let mut inbox = vec![-1i32; n as usize];
    let mine = me;
    mpi4rs::scope(|s| {
        let mut reqs: Vec<Request> = Vec::new();
        for (src, slot) in inbox.iter_mut().enumerate() {
            reqs.push(world.irecv(s, slot, src as i32, 2)?);
        }
        for dst in 0..n {
            reqs.push(world.isend(s, &mine, dst, 2)?);
        }
        let statuses = mpi4rs::wait_all(&mut reqs)?;
        ensure_eq!(statuses.len(), 2 * n as usize);
        for (src, st) in statuses[..n as usize].iter().enumerate() {
            ensure_eq!(st.source(), src as i32);
        }
        ensure!(reqs.iter().all(|r| r.is_complete()));
        Ok(())
    })?;
    ensure_eq!(inbox, (0..n).collect::<Vec<_>>());
    Ok(())
}

fn wait_any_and_some(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut a = 0u32;
    let mut b = 0u32;
    mpi4rs::scope(|s| {
        let mut recvs = vec![world.irecv(s, &mut a, left, 3)?, world.irecv(s, &mut b, left, 4)?];
        let s1 = world.isend(s, &10u32, right, 4)?;
        let (index, status) = mpi4rs::wait_any(&mut recvs)?
            .ok_or(mpi4rs::Error::InvalidArgument("no active request".into()))?;
        ensure_eq!((index, status.tag()), (1, 4));
        world.barrier()?; // nobody sends tag 3 before everyone has seen tag 4 complete first
        let s2 = world.isend(s, &20u32, right, 3)?;
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
        Ok(())
    })?;
    ensure_eq!((a, b), (20, 10));
    Ok(())
}

fn test_all_any_some(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut x = [0f64; 4];
    let mut y = [0f64; 4];
    mpi4rs::scope(|s| {
        let mut recvs = vec![world.irecv(s, &mut x, left, 5)?, world.irecv(s, &mut y, left, 6)?];
        // Nothing sent yet with these tags from the left neighbour: nothing can be complete.
        ensure!(mpi4rs::test_all(&mut recvs)?.is_none());
        ensure!(mpi4rs::test_any(&mut recvs)?.is_none());
        ensure!(mpi4rs::test_some(&mut recvs)?.is_empty());
        world.barrier()?; // everyone has tested before anyone sends
        let sends = [world.isend(s, &[1.5f64; 4], right, 5)?, world.isend(s, &[2.5f64; 4], right, 6)?];
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
        Ok(())
    })?;
    ensure_eq!((x, y), ([1.5; 4], [2.5; 4]));
    Ok(())
}

fn cancel_unmatched_receive(env: &Environment) -> Result<()> {
    let world = env.world();
    let mut never = 0i32;
    mpi4rs::scope(|s| {
        let r = world.irecv(s, &mut never, any_source(), 999)?;
        r.cancel()?;
        let status = r.wait()?;
        ensure!(status.is_cancelled()?, "the receive was cancelled");
        Ok(())
    })
}

fn request_status_keeps_request(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut got = 0i8;
    mpi4rs::scope(|s| {
        let r = world.irecv(s, &mut got, left, 7)?;
        let send = world.isend(s, &-3i8, right, 7)?;
        while r.status()?.is_none() {}
        ensure!(!r.is_complete(), "status() does not free the request");
        let status = r.wait()?;
        ensure_eq!(status.count::<i8>()?, 1);
        send.wait()?;
        Ok(())
    })?;
    ensure_eq!(got, -3);
    Ok(())
}

fn send_modes_immediate(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut got = [0u8; 3];
    // issend completes only once the receive matched.
    mpi4rs::scope(|s| {
        let r = world.irecv(s, &mut got, left, 8)?;
        let send = world.issend(s, &[7u8, 8, 9], right, 8)?;
        mpi4rs::wait_all(&mut [r, send])?;
        Ok(())
    })?;
    ensure_eq!(got, [7, 8, 9]);
    // irsend: the receive must be posted first; barrier guarantees it.
    let mut got2 = [0u8; 2];
    mpi4rs::scope(|s| {
        let r = world.irecv(s, &mut got2, left, 9)?;
        world.barrier()?;
        let send = world.irsend(s, &[1u8, 2], right, 9)?;
        mpi4rs::wait_all(&mut [r, send])?;
        Ok(())
    })?;
    ensure_eq!(got2, [1, 2]);
    Ok(())
}

fn persistent_start_all(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let out = [world.rank() as u64 * 3, 1];
    let mut got = [0u64; 2];
    mpi4rs::scope(|s| {
        let mut reqs = [world.recv_init(s, &mut got, left, 10)?, world.send_init(s, &out, right, 10)?];
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
        Ok(())
    })?;
    ensure_eq!(got, [left as u64 * 3, 1]);
    Ok(())
}

fn persistent_modes(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let out = [5i32; 4];
    let mut got = [0i32; 4];
    mpi4rs::scope(|s| {
        let mut recv = world.recv_init(s, &mut got, left, 11)?;
        let mut ssend = world.ssend_init(s, &out, right, 11)?;
        recv.start()?;
        ssend.start()?;
        while ssend.test()?.is_none() {}
        recv.wait()?;
        // Ready mode: the receive is posted and everyone knows it before the send starts.
        let mut rsend = world.rsend_init(s, &out, right, 11)?;
        recv.start()?;
        world.barrier()?;
        rsend.start()?;
        rsend.wait()?;
        recv.wait()?;
        // Buffered mode through an attached buffer.
        mpi4rs::attach_buffer(vec![0u8; 1024 + mpi4rs::bsend_overhead()])?;
        let mut bsend = world.bsend_init(s, &out, right, 11)?;
        recv.start()?;
        bsend.start()?;
        mpi4rs::wait_all(&mut [bsend])?;
        recv.wait()?;
        mpi4rs::detach_buffer()?;
        drop((recv, ssend, rsend));
        Ok(())
    })?;
    ensure_eq!(got, [5; 4]);
    Ok(())
}

/// Dropping a request waits for it inside the scope, and the scope then knows it is done (it
/// must not wait again on the freed handle).
fn drop_waits_for_completion(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let mut got = vec![0u32; 64];
    mpi4rs::scope(|s| {
        let send = world.isend(s, &[9u32; 64], right, 12)?;
        {
            let _r = world.irecv(s, &mut got, left, 12)?;
            // dropped here: waits, so `got` is complete once the scope returns
        }
        drop(send);
        Ok(())
    })?;
    ensure_eq!(got, vec![9u32; 64]);
    Ok(())
}

// ---- std::mem::forget is harmless: the scope completes what a forgotten handle does not ----

fn forget_pending_irecv(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let mine: Vec<u32> = (0..64).map(|i| me as u32 * 1000 + i).collect();
    let mut got = vec![0u32; 64];
    mpi4rs::scope(|s| {
        let mut r = world.irecv(s, &mut got, left, 13)?;
        // Nobody sends before the barrier: the receive is really pending when forgotten.
        ensure!(r.test()?.is_none(), "the receive cannot have completed yet");
        std::mem::forget(r);
        world.barrier()?;
        world.send(&mine, right, 13)?;
        Ok(())
    })?;
    // The scope waited for the forgotten receive before returning.
    ensure_eq!(got, (0..64).map(|i| left as u32 * 1000 + i).collect::<Vec<_>>());
    Ok(())
}

fn forget_pending_isend(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    // 64 KiB: above the eager limits, so the send stays pending until its receive is posted.
    const N: u64 = 8192;
    let want: Vec<u64> = (0..N).map(|i| left as u64 * N + i).collect();
    let mut data: Vec<u64> = (0..N).map(|i| me as u64 * N + i).collect();
    // A synchronous send is pending until its receive is matched, whatever the size.
    let mut sync: Vec<u64> = vec![me as u64 + 7; 4];
    let (got, got_sync) = mpi4rs::scope(|s| {
        let r = world.isend(s, &data, right, 14)?;
        std::mem::forget(r);
        let mut r = world.issend(s, &sync, right, 16)?;
        ensure!(r.test()?.is_none(), "no receive is posted yet: the synchronous send is pending");
        std::mem::forget(r);
        // Every send is started (and forgotten) before any receive is posted.
        world.barrier()?;
        let mut got = vec![0u64; N as usize];
        world.recv(&mut got, left, 14)?;
        let mut got_sync = vec![0u64; 4];
        world.recv(&mut got_sync, left, 16)?;
        Ok((got, got_sync))
    })?;
    // The scope completed the sends: the buffers are ours again, to overwrite and free.
    data.fill(u64::MAX);
    drop(data);
    sync.fill(0);
    drop(sync);
    ensure_eq!(got, want);
    ensure_eq!(got_sync, vec![left as u64 + 7; 4]);
    Ok(())
}

fn forget_started_recv_init(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, _) = rank_size(env);
    let (right, left) = neighbours(env);
    let mine = [me as i16 * 3; 8];
    let mut got = vec![0i16; 8];
    mpi4rs::scope(|s| {
        let mut r = world.recv_init(s, &mut got, left, 15)?;
        r.start()?;
        // Nobody sends before the barrier: the started receive is pending when forgotten.
        ensure!(r.test()?.is_none(), "the receive cannot have completed yet");
        std::mem::forget(r);
        world.barrier()?;
        world.send(&mine, right, 15)?;
        Ok(())
    })?;
    // The scope waited for the started receive, then freed the persistent request.
    ensure_eq!(got, vec![left as i16 * 3; 8]);
    Ok(())
}

fn forget_pending_iallreduce(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // The reduction runs on a duplicate, so the world barrier that orders it is not part of
    // its collective sequence.
    let comm = world.dup()?;
    let mine = [me as f64 + 1.0; 4];
    let mut sum = vec![0.0f64; 4];
    mpi4rs::scope(|s| {
        if me == 0 {
            // Rank 0 joins only after every other rank has started and forgotten its part.
            world.barrier()?;
            let r = comm.iallreduce(s, &mine, &mut sum, &Op::SUM)?;
            std::mem::forget(r);
        } else {
            let mut r = comm.iallreduce(s, &mine, &mut sum, &Op::SUM)?;
            ensure!(r.test()?.is_none(), "the reduction cannot complete before rank 0 joins");
            std::mem::forget(r);
            world.barrier()?;
        }
        Ok(())
    })?;
    let total = (n * (n + 1) / 2) as f64;
    ensure_eq!(sum, vec![total; 4]);
    Ok(())
}
