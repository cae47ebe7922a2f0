//! Persistent collectives (`MPI_Bcast_init` …) are MPI-4; Open MPI 4.1 offers them as
//! `MPIX_*_init` (its pcollreq extension), MPICH 4 under their MPI-4 names. They are looked up
//! at run time, so the same binary links against either library and reports
//! [`Error::Unsupported`] where neither name exists.

use crate::error::Error;
use crate::ffi::{MPI_Comm, MPI_Datatype, MPI_Info, MPI_Op, MPI_Request};
use std::ffi::{c_int, c_void, CString};
use std::sync::OnceLock;

/// [`lookup_symbol`](crate::ffi::lookup_symbol) of a name built from literals.
fn lookup(name: &str) -> *mut c_void {
    let name = CString::new(name).expect("symbol names have no NUL");
    crate::ffi::lookup_symbol(&name)
}

type Ptr = *const c_void;
type MutPtr = *mut c_void;
type Ints = *const c_int;
type Dt = MPI_Datatype;
type Aints = *const crate::ffi::MPI_Aint;

macro_rules! persistent_fns {
    ($($field:ident = $sym:literal ($($arg:ty),*);)*) => {
        /// The persistent collective entry points this MPI library has.
        pub(crate) struct Fns {
            $(pub(crate) $field: Option<unsafe extern "C" fn($($arg,)* MPI_Info, *mut MPI_Request) -> c_int>,)*
        }

        fn resolve() -> Fns {
            Fns {$($field: {
                let mut p = lookup(concat!("MPI_", $sym, "_init"));
                if p.is_null() {
                    p = lookup(concat!("MPIX_", $sym, "_init"));
                }
                // SAFETY: the MPI-4 signature, which MPIX_ shares.
                (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, _>(p) })
            },)*}
        }
    };
}

persistent_fns! {
    barrier = "Barrier" (MPI_Comm);
    bcast = "Bcast" (MutPtr, c_int, Dt, c_int, MPI_Comm);
    gather = "Gather" (Ptr, c_int, Dt, MutPtr, c_int, Dt, c_int, MPI_Comm);
    scatter = "Scatter" (Ptr, c_int, Dt, MutPtr, c_int, Dt, c_int, MPI_Comm);
    allgather = "Allgather" (Ptr, c_int, Dt, MutPtr, c_int, Dt, MPI_Comm);
    alltoall = "Alltoall" (Ptr, c_int, Dt, MutPtr, c_int, Dt, MPI_Comm);
    gatherv = "Gatherv" (Ptr, c_int, Dt, MutPtr, Ints, Ints, Dt, c_int, MPI_Comm);
    scatterv = "Scatterv" (Ptr, Ints, Ints, Dt, MutPtr, c_int, Dt, c_int, MPI_Comm);
    allgatherv = "Allgatherv" (Ptr, c_int, Dt, MutPtr, Ints, Ints, Dt, MPI_Comm);
    alltoallv = "Alltoallv" (Ptr, Ints, Ints, Dt, MutPtr, Ints, Ints, Dt, MPI_Comm);
    alltoallw = "Alltoallw" (Ptr, Ints, Ints, *const Dt, MutPtr, Ints, Ints, *const Dt, MPI_Comm);
    reduce = "Reduce" (Ptr, MutPtr, c_int, Dt, MPI_Op, c_int, MPI_Comm);
    allreduce = "Allreduce" (Ptr, MutPtr, c_int, Dt, MPI_Op, MPI_Comm);
    reduce_scatter = "Reduce_scatter" (Ptr, MutPtr, Ints, Dt, MPI_Op, MPI_Comm);
    reduce_scatter_block = "Reduce_scatter_block" (Ptr, MutPtr, c_int, Dt, MPI_Op, MPI_Comm);
    scan = "Scan" (Ptr, MutPtr, c_int, Dt, MPI_Op, MPI_Comm);
    exscan = "Exscan" (Ptr, MutPtr, c_int, Dt, MPI_Op, MPI_Comm);
    neighbor_allgather = "Neighbor_allgather" (Ptr, c_int, Dt, MutPtr, c_int, Dt, MPI_Comm);
    neighbor_allgatherv = "Neighbor_allgatherv" (Ptr, c_int, Dt, MutPtr, Ints, Ints, Dt, MPI_Comm);
    neighbor_alltoall = "Neighbor_alltoall" (Ptr, c_int, Dt, MutPtr, c_int, Dt, MPI_Comm);
    neighbor_alltoallv = "Neighbor_alltoallv" (Ptr, Ints, Ints, Dt, MutPtr, Ints, Ints, Dt, MPI_Comm);
    neighbor_alltoallw = "Neighbor_alltoallw" (Ptr, Ints, Aints, *const Dt, MutPtr, Ints, Aints, *const Dt, MPI_Comm);
}

// SAFETY: plain function pointers.
unsafe impl Send for Fns {}
// SAFETY: see Send; the pointers are only read.
unsafe impl Sync for Fns {}

/// The entry points, looked up once.
pub(crate) fn fns() -> &'static Fns {
    static FNS: OnceLock<Fns> = OnceLock::new();
    FNS.get_or_init(resolve)
}

/// Whether this MPI library has persistent collectives (MPI-4, or Open MPI's `MPIX_` ones).
pub fn has_persistent_collectives() -> bool {
    fns().allreduce.is_some()
}

#[cold]
pub(crate) fn missing(call: &'static str) -> Error {
    Error::Unsupported(format!(
        "{call}_init (persistent collectives are MPI-4; this library has neither MPI_ nor MPIX_ names)"
    ))
}
