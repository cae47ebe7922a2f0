//! Finds the MPI library (the same probe rsmpi's `mpi-sys` uses, so both agree) and compiles:
//! - `src/ffi/shim.c`: the MPI constants that are C macros (their values and even their types
//!   differ between Open MPI and MPICH), exported as link-time symbols;
//! - `benches/c/pingpong.c` and `benches/c/allreduce.c`: the C loops that mpi4rs is measured
//!   against, in one static library linked into the benches and the examples only (the library
//!   and the tests never see it; an archive member is only pulled in where it is referenced).
//!   `benches/c/file_io.c`, the collective I/O loop, goes into the same library.
//!   Only where `benches/c` exists, i.e. in a checkout of the repository: the published package
//!   leaves the benches and examples out (cargo never builds a dependency's benches or examples),
//!   so a downstream build compiles the shim and nothing else. `CARGO_PRIMARY_PACKAGE` cannot
//!   decide this: cargo does not set it for build scripts.

use std::{
    env,
    path::{Path, PathBuf},
};

fn main() {
    println!("cargo:rerun-if-changed=src/ffi/shim.c");
    println!("cargo:rerun-if-changed=src/ffi/rma.c");
    println!("cargo:rerun-if-changed=src/ffi/handles.c");
    println!("cargo:rerun-if-env-changed=MPICC");
    println!("cargo:rerun-if-env-changed=MPI_PKG_CONFIG");

    let lib = match build_probe_mpi::probe() {
        Ok(lib) => lib,
        Err(errs) => {
            for e in errs {
                println!("cargo:warning=MPI probe: {e}");
            }
            panic!("no MPI library found: install Open MPI or MPICH (see ci/install.sh), or set MPICC");
        }
    };
    let configure = |build: &mut cc::Build| {
        if let Some(mpicc) = &lib.mpicc {
            build.compiler(mpicc);
        } else {
            for inc in &lib.include_paths {
                build.include(inc);
            }
        }
        build.opt_level(2).warnings(true);
    };

    let mut shim = cc::Build::new();
    configure(&mut shim);
    shim.file("src/ffi/shim.c").file("src/ffi/rma.c").file("src/ffi/handles.c").compile("mpi4rs_shim");

    // A path that does not exist would make cargo rerun this script on every build.
    if !Path::new("benches/c/pingpong.c").exists() {
        return;
    }
    println!("cargo:rerun-if-changed=benches/c");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let mut cloop = cc::Build::new();
    configure(&mut cloop);
    cloop
        .file("benches/c/pingpong.c")
        .file("benches/c/allreduce.c")
        .file("benches/c/halo.c")
        .file("benches/c/file_io.c")
        .cargo_metadata(false)
        .compile("mpi4rs_cbench");
    let cbench = out.join("libmpi4rs_cbench.a");
    println!("cargo:rustc-link-arg-benches={}", cbench.display());
    println!("cargo:rustc-link-arg-examples={}", cbench.display());
}
