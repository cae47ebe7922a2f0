//! Halo exchange on a 2-D grid with one-sided communication: each rank owns an `NX x NY` block
//! of a global grid (with a one-cell ghost frame), and in one fence epoch puts its boundary
//! rows and columns into the ghost cells of its four neighbours: rows as contiguous runs,
//! columns through a strided target datatype. Every ghost cell is then checked against the
//! global value it mirrors.
//!
//! `mpiexec -n 4 target/release/examples/rma_halo [NX NY]`
use mpi4rs::prelude::*;
use mpi4rs::win::{Assert, Target, Win};
use mpi4rs::{Datatype, Error};

fn main() -> mpi4rs::Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("Halo exchange on a 2-D grid with one-sided communication: each rank owns an `NX x NY` block of a global grid (with a one-cell ghost frame), and in one fence epoch puts its boundary rows and columns into the ghost cells of its four neighbours: rows as contiguous runs, columns through a strided target datatype. Every ghost cell is then checked against the global value it mirrors.\n\nusage: mpiexec -n 4 target/release/examples/rma_halo [NX NY]");
        std::process::exit(0);
    }
    // Ends every rank if the program fails on one (a plain `Err` from main would leave the
    // others waiting).
    mpi4rs::run(program)
}

fn program(env: &mpi4rs::Environment) -> mpi4rs::Result<()> {
    let world = env.world();
    let (rank, size) = (world.rank(), world.size());
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().unwrap_or(8));
    let (nx, ny) = (args.next().unwrap_or(8), args.next().unwrap_or(6));
    // A px x py process grid, as square as the size allows.
    let px = (1..=size).filter(|d| size % d == 0 && d * d <= size).max().unwrap_or(1);
    let py = size / px;
    let (pi, pj) = (rank / py, rank % py);
    let (gw, w) = (py as usize * ny, ny + 2); // global width, local row length with ghosts
    let global = |i: usize, j: usize| (i * gw + j) as f64; // the value of global cell (i, j)
    let at = |r: usize, c: usize| r * w + c; // local (row, column) with ghosts

    let win = Win::allocate((nx + 2) * w * 8, 8, &[], world)?;
    let (i0, j0) = (pi as usize * nx, pj as usize * ny);
    let mut block = vec![-1.0f64; (nx + 2) * w];
    for r in 1..=nx {
        for c in 1..=ny {
            block[at(r, c)] = global(i0 + r - 1, j0 + c - 1);
        }
    }
    win.local_access()?.as_mut_slice::<f64>()?.copy_from_slice(&block);

    let neighbour = |di: i32, dj: i32| {
        let (i, j) = (pi + di, pj + dj);
        if (0..px).contains(&i) && (0..py).contains(&j) {
            i * py + j
        } else {
            mpi4rs::proc_null()
        }
    };
    let (north, south, west, east) = (neighbour(-1, 0), neighbour(1, 0), neighbour(0, -1), neighbour(0, 1));
    let first_row: Vec<f64> = block[at(1, 1)..=at(1, ny)].to_vec();
    let last_row: Vec<f64> = block[at(nx, 1)..=at(nx, ny)].to_vec();
    let first_col: Vec<f64> = (1..=nx).map(|r| block[at(r, 1)]).collect();
    let last_col: Vec<f64> = (1..=nx).map(|r| block[at(r, ny)]).collect();
    let column = Datatype::vector(nx, 1, w as i32, &Datatype::of::<f64>()?)?;
    mpi4rs::scope(|s| {
        // (Assert::NOPRECEDE would be true here, but it is a promise MPI does not verify: only
        // `unsafe { win.fence_unchecked(..) }` takes it.)
        let epoch = win.fence(s, Assert::NONE)?;
        // My first row is the south ghost row of my north neighbour, and so on.
        epoch.put(&first_row, north, at(nx + 1, 1))?;
        epoch.put(&last_row, south, at(0, 1))?;
        epoch.put(&first_col, west, Target::new(at(1, ny + 1), 1, &column))?;
        epoch.put(&last_col, east, Target::new(at(1, 0), 1, &column))?;
        epoch.end()
    })?;

    let mem = win.local_access()?;
    let got = mem.as_slice::<f64>()?;
    let mut checked = 0;
    let mut check = |r: usize, c: usize, want: f64| -> mpi4rs::Result<()> {
        if got[at(r, c)] != want {
            return Err(Error::InvalidArgument(format!(
                "rank {rank}: ghost ({r}, {c}) holds {} instead of {want}",
                got[at(r, c)]
            )));
        }
        checked += 1;
        Ok(())
    };
    for c in 1..=ny {
        if north >= 0 {
            check(0, c, global(i0 - 1, j0 + c - 1))?;
        }
        if south >= 0 {
            check(nx + 1, c, global(i0 + nx, j0 + c - 1))?;
        }
    }
    for r in 1..=nx {
        if west >= 0 {
            check(r, 0, global(i0 + r - 1, j0 - 1))?;
        }
        if east >= 0 {
            check(r, ny + 1, global(i0 + r - 1, j0 + ny))?;
        }
    }
    drop(mem);
    let mut total = 0u64;
    world.allreduce(&(checked as u64), &mut total, &Op::SUM)?;
    // Every interior edge between two blocks carries two ghost lines.
    let want = 2 * ((px as usize - 1) * py as usize * ny + (py as usize - 1) * px as usize * nx) as u64;
    if rank == 0 {
        if total != want {
            return Err(Error::InvalidArgument(format!("{total} ghost cells checked, {want} expected")));
        }
        println!(
            "halo exchange on a {px} x {py} process grid ({} x {gw} cells): {total} ghost cells ok",
            px as usize * nx
        );
    }
    Ok(())
}
