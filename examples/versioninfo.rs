//! Prints what a bug report needs: mpi4rs and MPI library versions, CUDA-aware or not and why,
//! the CUDA driver, NVRTC, features, thread level and the `MPI4RS_*` settings
//! ([`mpi4rs::version_info`]; MPI.jl's `versioninfo()`, mpi4py's `--mpi-lib-version`).
//!
//! `cargo run --example versioninfo`, or `mpiexec -n 2 target/release/examples/versioninfo [--all]`

use mpi4rs::prelude::*;

const USAGE: &str = "versioninfo: the mpi4rs configuration for bug reports (MPI library and version, \
CUDA-aware or not and why, CUDA driver, NVRTC, features, thread level, MPI4RS_* settings).

usage: versioninfo [--all]            (or under mpiexec -n N)
  --all   every rank prints its report (default: rank 0 only)";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut all = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            "--all" => all = true,
            _ => {
                eprintln!("unknown option {a}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    Ok(mpi4rs::run(|env| {
        let world = env.world();
        if all || world.rank() == 0 {
            let head =
                if all { format!("rank {} of {}: ", world.rank(), world.size()) } else { String::new() };
            println!("{head}{}", mpi4rs::version_info());
        }
        Ok::<(), mpi4rs::Error>(())
    })?)
}
