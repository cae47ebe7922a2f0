use mpi4rs::prelude::*;
use mpi4rs::RecvBuffer;
use serde::{Deserialize, Serialize};
#[derive(Serialize, Deserialize)]
struct Record {
    id: u64,
    x: f64,
    y: f64,
    name: String,
    data: OobVec<f64>,
}
fn main() -> mpi4rs::Result<()> {
    let env = mpi4rs::init()?;
    let w = env.world();
    let me = w.rank();
    let other = 1 - me;
    let n = 200_000;
    let sbuf = [7u8; 40];
    let mut rbuf = [0u8; 40];
    let rec = Record { id: 42, x: 1.5, y: -2.25, name: "pingpong".into(), data: vec![].into() };
    let mut buf = RecvBuffer::new();
    for round in 0..3 {
        for mode in 0..4 {
            w.barrier()?;
            let t0 = mpi4rs::wtime();
            for _ in 0..n {
                let go = |first: bool| -> mpi4rs::Result<()> { Ok(()) };
                let _ = go;
                if me == 0 {
                    match mode {
                        0 => {
                            w.send(&sbuf[..], other, 0)?;
                            w.recv(&mut rbuf[..], other, 0)?;
                        }
                        1 => {
                            w.send(&sbuf[..], other, 0)?;
                            let (mut m, _) = w.mprobe(other, 0)?;
                            m.recv(&mut rbuf[..])?;
                        }
                        2 => {
                            w.send_obj(&rec, other, 0)?;
                            let (r, _): (Record, _) = w.recv_obj_with(&mut buf, other, 0)?;
                            drop(r);
                        }
                        _ => {
                            w.send(&sbuf[..], other, 0)?;
                            let _ = w.probe(other, 0)?;
                            w.recv(&mut rbuf[..], other, 0)?;
                        }
                    }
                } else {
                    match mode {
                        0 => {
                            w.recv(&mut rbuf[..], other, 0)?;
                            w.send(&sbuf[..], other, 0)?;
                        }
                        1 => {
                            let (mut m, _) = w.mprobe(other, 0)?;
                            m.recv(&mut rbuf[..])?;
                            w.send(&sbuf[..], other, 0)?;
                        }
                        2 => {
                            let (r, _): (Record, _) = w.recv_obj_with(&mut buf, other, 0)?;
                            w.send_obj(&r, other, 0)?;
                        }
                        _ => {
                            let _ = w.probe(other, 0)?;
                            w.recv(&mut rbuf[..], other, 0)?;
                            w.send(&sbuf[..], other, 0)?;
                        }
                    }
                }
            }
            let t = (mpi4rs::wtime() - t0) / (2.0 * n as f64);
            if me == 0 {
                println!("round {round} mode {mode}: {:.3} us", t * 1e6);
            }
        }
    }
    Ok(())
}
