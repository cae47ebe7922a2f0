//! The examples run under mpiexec and print what mpi4py.bench prints.
mod common;

use common::Suite;
use mpi4rs::launcher::{JobOutput, Launcher};
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    Suite::new("examples")
        .nps(&[])
        .check("every_example_answers_help", help)
        .check("helloworld_1_to_4_ranks", helloworld)
        .check("ringtest_1_to_4_ranks", ringtest)
        .check("pingpong_table", pingpong)
        .check("allreduce_checked_1_to_3_ranks", allreduce)
        .check("tutorial_bcast_scatter_gather_matvec", tutorial)
        .check("jacobi_halo_exchange_1_to_4_ranks", jacobi)
        .check("halo_table_1_to_4_ranks", halo)
        .check("compute_pi_spawns_workers", compute_pi)
        .check("julia_pool_split_2_3_ranks", julia_split)
        .check("julia_pool_spawned", julia_spawned)
        .check("pool_throughput_table", pool_throughput)
        .check("file_io_tutorial_1_to_4_ranks", file_io)
        .check("rma_tutorial_and_halo_1_to_4_ranks", rma)
        .check("versioninfo_reports_the_configuration", versioninfo)
        .run();
}

/// Runs `target/<profile>/examples/NAME` (cargo test builds the examples beside the tests).
fn run_example(name: &str, np: usize, args: &[&str]) -> Result<JobOutput, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().and_then(|deps| deps.parent()).ok_or("no target dir")?;
    let path: PathBuf = dir.join("examples").join(name);
    if !path.is_file() {
        return Err(format!("{} is missing: build the examples (cargo test builds them)", path.display()));
    }
    let launcher = Launcher::detect().map_err(|e| e.to_string())?;
    let out = launcher.run(np, &path, args, Duration::from_secs(120)).map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "{name} on {np} ranks: exit {:?}, timed out {}\n{}",
            out.code,
            out.timed_out,
            out.text()
        ));
    }
    Ok(out)
}

/// Every example in `examples/` answers `--help` and `-h` with its usage and exit 0, before
/// MPI starts (run directly, without mpiexec).
fn help(_: &Suite) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().and_then(|deps| deps.parent()).ok_or("no target dir")?.join("examples");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut names: Vec<String> = std::fs::read_dir(src)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".rs").map(String::from))
        .collect();
    names.sort();
    if names.len() < 10 {
        return Err(format!("found only {names:?} in {src}"));
    }
    for name in &names {
        for flag in ["--help", "-h"] {
            let out = std::process::Command::new(dir.join(name))
                .arg(flag)
                .output()
                .map_err(|e| format!("{name} {flag}: {e} (cargo test builds the examples)"))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() || !stdout.contains("usage") {
                return Err(format!(
                    "{name} {flag}: {}, stdout:\n{stdout}\nstderr:\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    Ok(())
}

fn helloworld(_: &Suite) -> Result<(), String> {
    for np in 1..=4 {
        let out = run_example("helloworld", np, &[])?;
        // mpiexec forwards each rank's output on its own channel, so the order on the terminal is
        // not guaranteed (seen: rank 1 before rank 0); check one greeting per rank.
        let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("Hello, World!")).collect();
        let greets = |r: usize| {
            let want = format!("Hello, World! I am process {r} of {np} on");
            lines.iter().filter(|l| l.starts_with(&want)).count() == 1
        };
        if lines.len() != np || !(0..np).all(greets) {
            return Err(format!("np={np}: expected one greeting per rank, got:\n{}", out.stdout));
        }
    }
    Ok(())
}

fn ringtest(_: &Suite) -> Result<(), String> {
    for np in 1..=4 {
        let out = run_example("ringtest", np, &["-n", "1024", "-s", "2", "-l", "20"])?;
        if !out.stdout.contains("time for 20 loops")
            || !out.stdout.contains(&format!("({np} processes, 1024 bytes)"))
        {
            return Err(format!("np={np}: unexpected output:\n{}", out.stdout));
        }
    }
    Ok(())
}

fn pingpong(_: &Suite) -> Result<(), String> {
    let out = run_example("pingpong", 2, &["-m", "1", "-n", "4096", "-s", "2", "-l", "20"])?;
    let rows: Vec<&str> =
        out.stdout.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    // sizes 1, 2, 4, ..., 4096: thirteen rows, each starting with its size
    let sizes: Vec<String> = (0..13).map(|k| (1u64 << k).to_string()).collect();
    let got: Vec<&str> = rows.iter().filter_map(|r| r.split_whitespace().next()).collect();
    if !out.stdout.contains("Bandwidth [MB/s]") || got != sizes {
        return Err(format!("unexpected pingpong table:\n{}", out.stdout));
    }
    Ok(())
}

/// The rows of a printed table (lines other than `#` comments), split into columns.
fn table_rows(stdout: &str) -> Vec<Vec<&str>> {
    stdout
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect()
}

fn allreduce(_: &Suite) -> Result<(), String> {
    let sizes = ["8", "64", "1024", "65536", "1048576"];
    for np in 1..=3 {
        let args = ["--sizes", "8,64,1K,64K,1M", "-s", "2", "-l", "20", "--loop-large", "4", "--pairs", "2"];
        let out = run_example("allreduce", np, &args)?;
        let rows = table_rows(&out.stdout);
        // size, count, loop, mpi4rs time, bandwidth, C time, ratio, check: every size checked
        // on every rank (host arrays: no GPU here)
        let ok = rows.len() == sizes.len()
            && rows.iter().zip(sizes).all(|(r, size)| r.len() == 8 && r[0] == size && r[7] == "ok");
        if !ok || !out.stdout.contains(&format!("on {np} processes")) || !out.stdout.contains("# check:") {
            return Err(format!("np={np}: unexpected allreduce table:\n{}", out.stdout));
        }
    }
    Ok(())
}

/// The mpi4py tutorial ports check their own results and fail otherwise; here they run at
/// 1 to 4 ranks and their success lines are looked for.
fn tutorial(_: &Suite) -> Result<(), String> {
    for np in 1..=4 {
        let out = run_example("bcast_array", np, &[])?;
        if out.stdout.matches("received 0..100 from rank 0").count() != np {
            return Err(format!("bcast_array on {np} ranks:\n{}", out.text()));
        }
        let out = run_example("scatter_gather", np, &[])?;
        if !out.stdout.contains(&format!("scatter and gather of {np} rows of 100: ok")) {
            return Err(format!("scatter_gather on {np} ranks:\n{}", out.text()));
        }
        let out = run_example("matvec", np, &["16"])?;
        if !out.stdout.contains(&format!("y = A x for n = {} on {np} ranks: ok", 16 * np)) {
            return Err(format!("matvec on {np} ranks:\n{}", out.text()));
        }
    }
    Ok(())
}

/// The Jacobi solver checks itself against the exact decay of its eigenvector; every halo
/// exchange, 1 to 4 ranks; a checkpoint and restart through MPI-IO.
fn jacobi(_: &Suite) -> Result<(), String> {
    for np in 1..=4 {
        for exchange in ["persistent", "nonblocking", "blocking", "copy"] {
            let out = run_example("jacobi", np, &["-n", "24", "-i", "30", "--exchange", exchange])?;
            if !out.stdout.contains(&format!("jacobi 24x24 on {np} ranks, 30 iterations: ok")) {
                return Err(format!("jacobi --exchange {exchange} on {np} ranks:\n{}", out.text()));
            }
        }
    }
    // Checkpoint half-way and restart from the file (subarray file view and memory type):
    // the exact answer holds only if every point came back. 25 points do not split evenly.
    for np in [1, 3, 4] {
        let path = std::env::temp_dir().join(format!("mpi4rs-jacobi-{}-{np}.ckpt", std::process::id()));
        let path = path.to_str().ok_or("temporary path is not UTF-8")?;
        let out = run_example("jacobi", np, &["-n", "25", "-i", "31", "--checkpoint", path])?;
        if !out.stdout.contains(&format!("jacobi 25x25 on {np} ranks, 31 iterations: ok")) {
            return Err(format!("jacobi --checkpoint on {np} ranks:\n{}", out.text()));
        }
    }
    // The side-by-side timing checks every exchange it times.
    let out = run_example("jacobi", 4, &["-n", "32", "--compare", "-l", "5", "--pairs", "2"])?;
    if !out.stdout.contains("compare: every exchange checked: ok") {
        return Err(format!("jacobi --compare on 4 ranks:\n{}", out.text()));
    }
    Ok(())
}

/// The halo benchmark: one row per size, every exchange checked on every rank.
fn halo(_: &Suite) -> Result<(), String> {
    for np in 1..=4 {
        let args = ["--sizes", "8,1K,64K", "-s", "2", "-l", "20", "--loop-large", "4", "--pairs", "2"];
        let out = run_example("halo", np, &args)?;
        let rows = table_rows(&out.stdout);
        let ok = rows.len() == 3
            && rows
                .iter()
                .zip(["8", "1024", "65536"])
                .all(|(r, size)| r.len() == 11 && r[0] == size && r[10] == "ok");
        if !ok || !out.stdout.contains(&format!("# {np} processes on a")) {
            return Err(format!("np={np}: unexpected halo table:\n{}", out.stdout));
        }
    }
    Ok(())
}

/// `Err` with a `skipped:` reason when an example exited with code 2, its way of saying that
/// this MPI cannot spawn processes here (MPICH built with ch4:ucx).
fn spawn_refused(name: &str, np: usize, args: &[&str]) -> Result<JobOutput, String> {
    match run_example(name, np, args) {
        Ok(out) => Ok(out),
        Err(e) if e.contains("exit Some(2)") && e.contains("cannot spawn") => {
            let why = e.lines().find(|l| l.contains("cannot spawn")).unwrap_or("").trim().to_string();
            Err(format!("{}{why}", common::SKIPPED))
        }
        Err(e) => Err(e),
    }
}

/// mpi4py's compute-pi demo: a parent spawns workers, bcast N, reduce their parts.
fn compute_pi(_: &Suite) -> Result<(), String> {
    for workers in ["1", "3"] {
        let out = spawn_refused("compute_pi", 1, &[workers, "100000"])?;
        if !out.stdout.contains("pi is approximately 3.14159265") || !out.stdout.contains("check: ok") {
            return Err(format!("compute_pi with {workers} workers:\n{}", out.text()));
        }
    }
    Ok(())
}

/// Runs the Julia example and checks its image (and that it matches the serial one).
fn julia_image(np: usize, spawned: bool) -> Result<u64, String> {
    let path = std::env::temp_dir().join(format!("mpi4rs-julia-{}-{np}-{spawned}.pgm", std::process::id()));
    let args = ["96", "64", path.to_str().unwrap_or("julia.pgm")];
    let out = if spawned { spawn_refused("julia", np, &args)? } else { run_example("julia", np, &args)? };
    let image = std::fs::read(&path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&path);
    if !out.stdout.contains("check: ok")
        || !image.starts_with(b"P5\n96 64\n255\n")
        || image.len() != 13 + 96 * 64
    {
        return Err(format!("julia on {np} ranks (spawned workers: {spawned}):\n{}", out.text()));
    }
    Ok(image.iter().map(|&b| b as u64).sum())
}

/// mpi4py's Julia-set demo on a split pool (`mpiexec -n N`, one master): the same image at
/// every rank count, equal to the serial one.
fn julia_split(_: &Suite) -> Result<(), String> {
    let sums = [julia_image(2, false)?, julia_image(3, false)?];
    if sums[0] != sums[1] {
        return Err(format!("julia images differ between rank counts: {sums:?}"));
    }
    Ok(())
}

/// The Julia-set demo with spawned workers (started alone, it spawns them).
fn julia_spawned(_: &Suite) -> Result<(), String> {
    julia_image(1, true).map(|_| ())
}

/// The throughput table: one row per mode, for 0 to 2 workers.
fn pool_throughput(_: &Suite) -> Result<(), String> {
    for np in 1..=3 {
        let out = run_example("pool_throughput", np, &["-n", "2000"])?;
        let rows: Vec<&str> = out.stdout.lines().filter(|l| !l.starts_with('#')).collect();
        let want = if np == 1 { 5 } else { 6 };
        if rows.len() != want || !out.stdout.contains(&format!("{} workers", np - 1)) {
            return Err(format!("pool_throughput on {np} ranks:\n{}", out.text()));
        }
    }
    Ok(())
}

/// mpi4py's I/O tutorial ports (contiguous and non-contiguous collective writes) check the file
/// they wrote, delete it, and print a success line; here at 1 to 4 ranks, in files of their own.
fn file_io(_: &Suite) -> Result<(), String> {
    let dir = std::env::temp_dir();
    for np in 1..=4 {
        for (name, what) in [("file_contiguous", "contiguous"), ("file_noncontiguous", "non-contiguous")] {
            let path = dir.join(format!("mpi4rs-{name}-{}-{np}", std::process::id()));
            let out = run_example(name, np, &[path.to_str().ok_or("temporary path")?])?;
            if !out.stdout.contains(&format!("{what} collective write of {np} x 10 ints: ok"))
                || path.exists()
            {
                return Err(format!("{name} on {np} ranks:\n{}", out.text()));
            }
        }
    }
    Ok(())
}

/// The one-sided examples check their own results: the mpi4py RMA tutorial (whole window,
/// target triple) and the 2-D halo exchange, at 1 to 4 ranks.
fn rma(_: &Suite) -> Result<(), String> {
    for np in 1..=4 {
        let out = run_example("rma_tutorial", np, &[])?;
        let ok = (0..np).all(|r| {
            out.stdout.contains(&format!("rank {r}: whole window ok"))
                && out.stdout.contains(&format!("rank {r}: target ({r}, 2, FLOAT) read"))
        });
        if !ok {
            return Err(format!("rma_tutorial on {np} ranks:\n{}", out.text()));
        }
        let out = run_example("rma_halo", np, &["4", "3"])?;
        if !out.stdout.contains("ghost cells ok") {
            return Err(format!("rma_halo on {np} ranks:\n{}", out.text()));
        }
    }
    Ok(())
}

/// `versioninfo` prints one report (rank 0) with every section a bug report needs, and the
/// `MPI4RS_*` variables that are set; `--all` prints one per rank.
fn versioninfo(_: &Suite) -> Result<(), String> {
    let out = run_example("versioninfo", 2, &[])?;
    let sections = [
        "mpi4rs ",
        "MPI standard:",
        "MPI library:",
        "CUDA-aware MPI:",
        "CUDA driver:",
        "NVRTC:",
        "thread level:",
        "staging pool:",
        "environment:",
    ];
    for want in sections {
        // Lines that start with the label (a reason may quote it: "NVRTC: libnvrtc was not found").
        if out.stdout.lines().filter(|l| l.trim_start().starts_with(want)).count() != 1 {
            return Err(format!("expected one {want:?} line:\n{}", out.stdout));
        }
    }
    let lib = mpi4rs::library_version().map_err(|e| e.to_string())?;
    // The report writes MPICH's tabs as spaces.
    let first = lib.lines().next().unwrap_or("").trim().replace('\t', " ");
    if !out.stdout.contains(&first) {
        return Err(format!("the report lacks the library version {first:?}:\n{}", out.stdout));
    }
    let out = run_example("versioninfo", 2, &["--all"])?;
    if !out.stdout.contains("rank 0 of 2: mpi4rs") || !out.stdout.contains("rank 1 of 2: mpi4rs") {
        return Err(format!("--all: expected a report per rank:\n{}", out.stdout));
    }
    Ok(())
}
