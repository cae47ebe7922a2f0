//! # mpi4rs
//!
//! MPI for Rust in the spirit of mpi4py: every call checked and returned as a [`Result`],
//! handles freed on drop, nonblocking operations that cannot outlive their buffers (scoped
//! with [`scope()`], or owning them: [`Persistent`], [`Exchange`]), and one buffer abstraction
//! ([`mpi4rs_device`]) that host slices, CUDA memory and DLPack tensors share.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//!
//! let env = mpi4rs::init()?;                 // MPI_Init_thread; finalised on drop
//! let world = env.world();
//! let (rank, size) = (world.rank(), world.size());
//! let mut token = 0u64;
//! if rank == 0 {
//!     world.send(&42u64, 1 % size, 0)?;
//! }
//! if rank == 1 % size {
//!     world.recv(&mut token, 0, 0)?;
//!     assert_eq!(token, 42);
//! }
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! A program whose `main` returns a `Result` should run its body in [`run`]: an `Err` on one
//! rank then prints the error and aborts the whole job, where a plain return would finalise
//! that rank and leave the others waiting for it.
//!
//! ## Layers
//!
//! Every file imports only files of its own layer or of a layer below (no two files import
//! each other, directly or round a loop), so each layer can be read knowing only those under
//! it. The bottom follows cudarc's split: raw bindings, then one place that turns return codes
//! into `Result`s, then the safe types. `ci/layers.py` checks this table against the imports
//! (CI runs it, with `module-cycles`).
//!
//! | layer | what | modules |
//! |---|---|---|
//! | 1 | raw bindings | `ffi` |
//! | 2 | process state: thread level, finalised or not, `TAG_UB`, error policy | `runtime` |
//! | 3 | errors and checked calls (`mpi_call!`), settings, logging, count helpers | `error`, `util`, `config`, `logging`, `bigcount` |
//! | 4 | element types and handles; what MPI does with self-messages | `predefined`, `buffer`, `value_index`, `datatype`, `typed`, `info`, `status`, `group`, `op`, `truncation` |
//! | 5 | completion and ownership | `pending`, `completion`, `scope`, `request`, `persistent`, `owned`, `alloc_mem` |
//! | 6 | the transfer router, buffer regions, strided tensor views | `transfer`, `region`, `strided` |
//! | 7 | communicators and initialisation | `comm`, `comm_ext`, `environment`, `vendor`, `packing`, `datatype_ext`, `topology` |
//! | 8 | point-to-point | `p2p`, `bsend`, `message`, `exchange` |
//! | 9 | collectives | `collective`, `intercomm` |
//! | 10 | one-sided, I/O, thread sharing, per-handle error handlers and attributes | `win`, `file`, `thread`, `errhandler`, `attribute` |
//! | 11 | built on all of the above | `halo`, `object`, `dynamic`, `launcher`, `futures`, `sync`, `version_info` |
//!
//! Where a low layer must reach a higher one it is handed a value instead of naming it: the
//! router leaves its staged buffers with a request as a `pending::Staged` trait object, so
//! requests never import the router; [`Environment`] (layer 7) creates the `f16`/`bf16`
//! types and operations of layer 4 and records what every call checks in layer 2.
//!
//! ## User types: `#[derive(Equivalence)]` without another dependency
//!
//! rsmpi is re-exported as [`rsmpi`], so a struct gets its MPI datatype from rsmpi's derive
//! through mpi4rs alone. The derive names the crate `::mpi` in the code it generates; the
//! `#[mpi(crate = "...")]` attribute points it at the re-export instead. (Adding `mpi` as a
//! dependency of your own works too, but a plain `mpi = "0.8"` turns on rsmpi's default
//! `user-operations` feature, which builds libffi from source.)
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::rsmpi::traits::Equivalence;
//!
//! #[derive(Equivalence, Clone, Copy, Default)]
//! #[mpi(crate = "::mpi4rs::rsmpi")]
//! struct Particle { x: [f64; 3], id: u32 }
//!
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let mut parts = [Particle::default(); 4];
//! if world.rank() == 0 {
//!     world.send(&Equivalent(&parts), 1 % world.size(), 0)?;
//! }
//! if world.rank() == 1 % world.size() {
//!     world.recv(&mut EquivalentMut(&mut parts), 0, 0)?;
//! }
//! # Ok::<(), mpi4rs::Error>(())
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Every unsafe block and impl of the library says why no safe caller can break it (CI runs
// clippy with -D warnings); test code is exempt.
#![cfg_attr(not(test), warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc))]

pub mod alloc_mem;
pub mod attribute;
pub(crate) mod bigcount;
pub mod bsend;
pub mod buffer;
pub mod collective;
pub mod comm;
pub mod comm_ext;
mod completion;
pub mod config;
pub mod datatype;
pub mod datatype_ext;
pub mod dynamic;
pub mod environment;
pub mod errhandler;
pub mod error;
pub mod exchange;
pub mod ffi;
pub mod file;
pub mod futures;
pub mod group;
pub mod halo;
pub mod info;
pub mod intercomm;
pub mod launcher;
pub mod logging;
pub mod message;
pub mod object;
pub mod op;
pub mod owned;
pub mod p2p;
pub mod packing;
mod pending;
pub mod persistent;
mod predefined;
pub mod region;
pub mod request;
mod runtime;
pub mod scope;
pub mod status;
pub mod strided;
pub mod sync;
pub mod thread;
pub mod topology;
pub mod transfer;
mod truncation;
pub mod typed;
mod util;
pub mod value_index;
pub mod vendor;
pub mod version_info;
pub mod win;

pub use alloc_mem::MpiMem;
pub use attribute::{AttrCopy, Keyval};
pub use bsend::{attach_buffer, bsend_overhead, detach_buffer};
pub use buffer::{
    Buffer, BufferElement, BufferMut, Device, DeviceMut, ElementKind, Equivalent, EquivalentMut, Lend,
    LendMut,
};
pub use collective::{
    has_persistent_collectives, root, Collective, NeighborCollective, NeighborExchange, Varying, VaryingMut,
    VaryingW, VaryingWMut,
};
pub use comm::{Comm, Communicator, Comparison};
pub use comm_ext::{PendingComm, SplitType};
pub use config::{Config, ErrorPolicy, ThreadLevel};
pub use datatype::{dtype_of_handle, parse_typestr, typestr, Darg, Datatype, Distrib, Order, DARG_DEFAULT};
pub use datatype_ext::{pack_external, pack_external_size, unpack_external, Combiner, Contents, Envelope};
pub use environment::{
    abort, adopt, adopt_with, init, init_or_adopt, init_with, is_finalized, is_initialized, is_thread_main,
    library_version, processor_name, query_thread, run, run_with, tag_ub, version, wtick, wtime, Environment,
};
pub use errhandler::{Errhandler, ErrhandlerKind};
pub use error::{error_string, Error, ErrorClass, Result};
pub use exchange::Exchange;
pub use file::{AccessMode, File, SplitCollective, View};
pub use group::Group;
pub use halo::{Halo, InFlight, PersistentHalo};
pub use info::Info;
pub use intercomm::InterComm;
pub use message::Message;
/// rsmpi (the `mpi` crate) as mpi4rs builds it: its raw bindings, `Equivalence` and
/// `#[derive(Equivalence)]` (see [the crate docs](crate#user-types-derive-equivalence-without-another-dependency)),
/// and its communicators for [`Comm::from_rsmpi`] / [`Comm::to_rsmpi`].
pub use mpi as rsmpi;
pub use mpi4rs_device as device;
pub use mpi4rs_device::{DType, Element};
pub use object::{ObjRecvRequest, ObjRequest, ObjectComm, OobBytes, OobVec, RecvBuffer};
pub use op::{Builtin, Op, UserOp};
pub use owned::{complete_detached, detached_count, Owned};
pub use p2p::{any_source, any_tag, proc_null, PointToPoint};
pub use packing::{pack, pack_size, unpack};
pub use persistent::{OwnedBuffer, Persistent};
pub use region::Region;
pub use request::{
    start_all, test_all, test_any, test_some, wait_all, wait_any, wait_some, AnyRequest, PersistentRequest,
    Request, RequestSet,
};
pub use scope::{scope, Scope};
pub use status::Status;
pub use strided::{Strided, StridedMut};
pub use thread::MultiThreaded;
pub use topology::{compute_dims, topo_test, CartComm, DistGraphComm, GraphComm, Topology, TopologyKind};
pub use typed::{Typed, TypedMut};
pub use value_index::{PairValue, ValueIndex};
pub use vendor::vendor;
pub use version_info::{version_info, VersionInfo};
pub use win::Win;

/// The traits and types most programs need: `use mpi4rs::prelude::*;`.
pub mod prelude {
    pub use crate::{
        any_source, any_tag, proc_null, Collective, Comm, Communicator, Equivalent, EquivalentMut, InterComm,
        ObjectComm, OobVec, Op, Persistent, PersistentRequest, PointToPoint, Request, Scope, Status, UserOp,
        ValueIndex, Varying, VaryingMut, VaryingW, VaryingWMut,
    };
    pub use crate::{NeighborCollective, Topology};
}

/// The README's code blocks, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The guide's code blocks, compiled by `cargo test --doc` (with the default `cuda` feature:
/// the device guide uses cudarc).
#[cfg(all(doctest, feature = "cuda"))]
#[doc = include_str!("../docs/guide.md")]
struct GuideDoctests;
