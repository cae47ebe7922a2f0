//! Process topologies and neighbourhood collectives at 1-4 ranks, with known answers: every
//! Cartesian, graph and distributed-graph query, every neighbourhood collective in its
//! blocking, nonblocking and persistent form, and the errors for arguments that do not fit.
mod common;

use common::{rank_size, Suite};
use mpi4rs::prelude::*;
use mpi4rs::{
    compute_dims, proc_null, topo_test, CartComm, Datatype, DistGraphComm, Environment, Error, GraphComm,
    Result, TopologyKind, VaryingW, VaryingWMut,
};

fn main() {
    Suite::new("topology")
        .case("compute_dims_known_answers", compute_dims_known_answers)
        .case("cart_queries", cart_queries)
        .case("cart_sub_map_and_smaller_grids", cart_sub_map_and_smaller_grids)
        .case("cart_errors", cart_errors)
        .case("graph_queries", graph_queries)
        .case("graph_errors", graph_errors)
        .case("dist_graph_queries", dist_graph_queries)
        .case("dist_graph_errors", dist_graph_errors)
        .case("cart_neighbor_collectives", cart_neighbor_collectives)
        .case("cart_nonblocking_and_persistent", cart_nonblocking_and_persistent)
        .case("graph_neighbor_collectives", graph_neighbor_collectives)
        .case("dist_graph_neighbor_collectives", dist_graph_neighbor_collectives)
        .case("neighbor_buffer_errors", neighbor_buffer_errors)
        .run();
}

fn compute_dims_known_answers(_env: &Environment) -> Result<()> {
    ensure_eq!(compute_dims(12, &[0, 0])?, [4, 3]);
    ensure_eq!(compute_dims(12, &[0, 2, 0])?, [3, 2, 2]);
    ensure_eq!(compute_dims(16, &[0, 0, 0, 0])?, [2, 2, 2, 2]);
    ensure_eq!(compute_dims(7, &[0, 0])?, [7, 1]);
    ensure_eq!(compute_dims(6, &[3, 2])?, [3, 2]);
    ensure_eq!(compute_dims(1, &[0, 0, 0])?, [1, 1, 1]);
    ensure_eq!(compute_dims(1, &[])?, Vec::<i32>::new());
    for n in 1..=64 {
        let d = compute_dims(n, &[0, 0])?;
        ensure!(d[0] * d[1] == n && d[0] >= d[1], "{n}: {d:?}");
    }
    ensure_err!(compute_dims(12, &[5, 0]), Error::InvalidDims(_));
    ensure_err!(compute_dims(12, &[3, 5]), Error::InvalidDims(_));
    ensure_err!(compute_dims(12, &[-1, 0]), Error::InvalidDims(_));
    ensure_err!(compute_dims(0, &[0]), Error::InvalidDims(_));
    ensure_err!(compute_dims(2, &[]), Error::InvalidDims(_));
    Ok(())
}

/// The 2-D grid of the query tests: compute_dims' layout, periodic along dimension 0 only.
fn grid(env: &Environment) -> Result<CartComm> {
    let world = env.world();
    let dims = compute_dims(world.size(), &[0, 0])?;
    let cart = world.create_cart(&dims, &[true, false], false)?;
    cart.ok_or_else(|| Error::InvalidArgument("every rank is in a full grid".into()))
}

/// The grid of the exchange tests: as [`grid`], but dimension 0 is periodic only when it
/// holds 3 or more processes. (With 1 or 2, a process is its own neighbour or has one
/// neighbour on both sides, and which of the two blocks pairs with which differs between MPI
/// libraries and forms: Open MPI 4.1's nonblocking forms and MPICH 4.0's alltoallv break the
/// standard's rule there.)
fn exchange_grid(env: &Environment) -> Result<CartComm> {
    let world = env.world();
    let dims = compute_dims(world.size(), &[0, 0])?;
    let cart = world.create_cart(&dims, &[dims[0] >= 3, false], false)?;
    cart.ok_or_else(|| Error::InvalidArgument("every rank is in a full grid".into()))
}

/// Row-major rank of `(i, j)` in a `dims` grid, with dimension 0 periodic and 1 not.
fn grid_rank(dims: &[i32], i: i32, j: i32) -> i32 {
    if !(0..dims[1]).contains(&j) {
        return proc_null();
    }
    i.rem_euclid(dims[0]) * dims[1] + j
}

fn cart_queries(env: &Environment) -> Result<()> {
    let (me, n) = rank_size(env);
    let world = env.world();
    ensure_eq!(topo_test(world)?, None);
    let cart = grid(env)?;
    let dims = compute_dims(n, &[0, 0])?;
    let (d0, d1) = (dims[0], dims[1]);
    ensure_eq!(topo_test(&cart)?, Some(TopologyKind::Cartesian));
    ensure_eq!(cart.kind(), TopologyKind::Cartesian);
    ensure_eq!((cart.ndims(), cart.dims(), cart.periods()), (2, &dims[..], &[true, false][..]));
    // No reordering: the grid rank is the world rank, laid out row-major.
    ensure_eq!(cart.rank(), me);
    let (c0, c1) = (me / d1, me % d1);
    ensure_eq!(cart.coords(), [c0, c1]);
    for r in 0..n {
        ensure_eq!(cart.coords_of(r)?, [r / d1, r % d1]);
        ensure_eq!(cart.rank_of(&[r / d1, r % d1])?, r);
    }
    // A periodic coordinate wraps.
    ensure_eq!(cart.rank_of(&[c0 + d0, c1])?, me);
    ensure_eq!(cart.rank_of(&[c0 - 3 * d0, c1])?, me);
    // Shifts: dimension 0 wraps, dimension 1 ends in PROC_NULL.
    ensure_eq!(cart.shift(0, 1)?, (grid_rank(&dims, c0 - 1, c1), grid_rank(&dims, c0 + 1, c1)));
    ensure_eq!(cart.shift(0, -2)?, (grid_rank(&dims, c0 + 2, c1), grid_rank(&dims, c0 - 2, c1)));
    ensure_eq!(cart.shift(1, 1)?, (grid_rank(&dims, c0, c1 - 1), grid_rank(&dims, c0, c1 + 1)));
    ensure_eq!(cart.shift(1, 0)?, (me, me));
    // The neighbour lists: per dimension, -1 then +1.
    let list = [
        grid_rank(&dims, c0 - 1, c1),
        grid_rank(&dims, c0 + 1, c1),
        grid_rank(&dims, c0, c1 - 1),
        grid_rank(&dims, c0, c1 + 1),
    ];
    ensure_eq!(cart.sources(), list);
    ensure_eq!(cart.destinations(), list);
    ensure_eq!((cart.in_degree(), cart.out_degree()), (4, 4));
    // Every ordinary operation works on it.
    let mut sum = 0;
    cart.allreduce(&me, &mut sum, &Op::SUM)?;
    ensure_eq!(sum, n * (n - 1) / 2);
    let (src, dst) = cart.shift(0, 1)?;
    let mut got = -1;
    cart.sendrecv(&me, dst, 3, &mut got, src, 3)?;
    ensure_eq!(got, src);
    // dup keeps the topology; conversion to Comm and back.
    let dup = cart.dup()?;
    ensure_eq!((dup.dims(), dup.coords()), (&dims[..], &[c0, c1][..]));
    let plain: Comm = dup.into();
    ensure_eq!(topo_test(&plain)?, Some(TopologyKind::Cartesian));
    let back = CartComm::try_from(plain)?;
    ensure_eq!(back.sources(), list);
    ensure_err!(GraphComm::try_from(Comm::from(cart.dup()?)), Error::Topology(_));
    // A 3-D periodic grid of one process per dimension but one: every neighbour is a process.
    let cube = world.create_cart(&[1, n, 1], &[true, true, true], false)?.expect("full grid");
    ensure_eq!(cube.coords(), [0, me, 0]);
    ensure_eq!(cube.sources(), [me, me, (me + n - 1) % n, (me + 1) % n, me, me]);
    Ok(())
}

fn cart_sub_map_and_smaller_grids(env: &Environment) -> Result<()> {
    let (me, n) = rank_size(env);
    let world = env.world();
    let cart = grid(env)?;
    let dims = cart.dims().to_vec();
    let (c0, c1) = (cart.coords()[0], cart.coords()[1]);
    // The column through this process (dimension 0 kept) and the row (dimension 1 kept).
    let column = cart.sub(&[true, false])?;
    ensure_eq!((column.size(), column.dims(), column.periods()), (dims[0], &dims[..1], &[true][..]));
    ensure_eq!(column.coords(), [c0]);
    ensure_eq!(column.rank(), c0);
    let row = cart.sub(&[false, true])?;
    ensure_eq!((row.size(), row.dims(), row.coords()), (dims[1], &dims[1..], &[c1][..]));
    let mut row_sum = 0;
    row.allreduce(&me, &mut row_sum, &Op::SUM)?;
    ensure_eq!(row_sum, (0..dims[1]).map(|j| c0 * dims[1] + j).sum::<i32>());
    ensure_err!(cart.sub(&[false, false]), Error::InvalidDims(_));
    ensure_err!(world.create_cart(&[], &[], false), Error::InvalidDims(_));
    // A grid smaller than the communicator: the first ranks are in it, the others get None.
    let half = (n + 1) / 2;
    let small = world.create_cart(&[half], &[false], false)?;
    ensure_eq!(small.is_some(), me < half);
    if let Some(s) = small {
        ensure_eq!((s.size(), s.coords()), (half, &[me][..]));
    }
    // cart_map: `half` processes get distinct ranks 0..half, the others None.
    let mapped = world.cart_map(&[half], &[false])?;
    let mut all = vec![0i32; n as usize];
    world.allgather(&mapped.unwrap_or(-1), &mut all[..])?;
    let mut got: Vec<i32> = all.into_iter().filter(|&r| r >= 0).collect();
    got.sort();
    ensure_eq!(got, (0..half).collect::<Vec<_>>());
    // Reordering allowed: still a grid of everyone, ranks a permutation.
    let re = world.create_cart(&[n], &[true], true)?.expect("full grid");
    let mut ranks = vec![0i32; n as usize];
    world.allgather(&re.rank(), &mut ranks[..])?;
    ranks.sort();
    ensure_eq!(ranks, (0..n).collect::<Vec<_>>());
    ensure_eq!(re.coords(), [re.rank()]);
    Ok(())
}

fn cart_errors(env: &Environment) -> Result<()> {
    let (_, n) = rank_size(env);
    let world = env.world();
    ensure_err!(world.create_cart(&[n, 1], &[true], false), Error::InvalidDims(_));
    ensure_err!(world.create_cart(&[n, 0], &[true, true], false), Error::InvalidDims(_));
    ensure_err!(world.create_cart(&[-n, -1], &[true, true], false), Error::InvalidDims(_));
    let e = ensure_err!(world.create_cart(&[n + 1], &[false], false), Error::InvalidDims(_));
    ensure!(e.to_string().contains("needs"), "{e}");
    ensure_eq!(e.class(), Some(mpi4rs::ErrorClass::Dims));
    ensure_err!(world.create_cart(&[i32::MAX, i32::MAX], &[false, false], false), Error::InvalidDims(_));
    ensure_err!(world.cart_map(&[n + 1], &[false]), Error::InvalidDims(_));
    let cart = grid(env)?;
    let dims = cart.dims().to_vec();
    // Coordinates outside the non-periodic dimension 1, or the wrong number of them.
    let e = ensure_err!(cart.rank_of(&[0, dims[1]]), Error::Topology(_));
    ensure!(e.to_string().contains("not periodic"), "{e}");
    ensure_err!(cart.rank_of(&[0, -1]), Error::Topology(_));
    ensure_err!(cart.rank_of(&[0]), Error::InvalidDims(_));
    ensure_err!(cart.coords_of(n), Error::Topology(_));
    ensure_err!(cart.coords_of(-1), Error::Topology(_));
    ensure_err!(cart.shift(2, 1), Error::InvalidDims(_));
    ensure_err!(cart.sub(&[true]), Error::InvalidDims(_));
    // Only a communicator with a Cartesian topology converts.
    let e = ensure_err!(CartComm::try_from(world.dup()?), Error::Topology(_));
    ensure!(e.to_string().contains("without a topology"), "{e}");
    ensure_eq!(e.class(), Some(mpi4rs::ErrorClass::Topology));
    ensure_err!(DistGraphComm::try_from(world.dup()?), Error::Topology(_));
    Ok(())
}

/// The complete graph on `nodes` nodes: each node joined to every other, in rank order.
fn complete_graph(nodes: i32) -> (Vec<i32>, Vec<i32>) {
    let index = (1..=nodes).map(|i| i * (nodes - 1)).collect();
    let edges = (0..nodes).flat_map(|i| (0..nodes).filter(move |&j| j != i)).collect();
    (index, edges)
}

fn graph_queries(env: &Environment) -> Result<()> {
    let (me, n) = rank_size(env);
    let world = env.world();
    let (index, edges) = complete_graph(n);
    let graph = world.create_graph(&index, &edges, false)?.expect("every rank is a node");
    ensure_eq!(topo_test(&graph)?, Some(TopologyKind::Graph));
    ensure_eq!(graph.graph_dims()?, (n, n * (n - 1)));
    ensure_eq!(graph.topo()?, (index.clone(), edges.clone()));
    for r in 0..n {
        let others: Vec<i32> = (0..n).filter(|&j| j != r).collect();
        ensure_eq!(graph.neighbor_count_of(r)?, others.len());
        ensure_eq!(graph.neighbors_of(r)?, others);
    }
    let others: Vec<i32> = (0..n).filter(|&j| j != me).collect();
    ensure_eq!((graph.sources(), graph.destinations()), (&others[..], &others[..]));
    let dup = graph.dup()?;
    ensure_eq!(dup.topo()?.1, edges);
    let mut sum = 0;
    graph.allreduce(&1, &mut sum, &Op::SUM)?;
    ensure_eq!(sum, n);
    // A path over all but the last rank: 0 - 1 - … - (n-2); the last rank is left out.
    let nodes = (n - 1).max(1);
    let mut index = Vec::new();
    let mut edges = Vec::new();
    for i in 0..nodes {
        edges.extend([i - 1, i + 1].into_iter().filter(|j| (0..nodes).contains(j)));
        index.push(edges.len() as i32);
    }
    let path = world.create_graph(&index, &edges, false)?;
    ensure_eq!(path.is_some(), me < nodes);
    if let Some(p) = path {
        let want: Vec<i32> = [me - 1, me + 1].into_iter().filter(|j| (0..nodes).contains(j)).collect();
        ensure_eq!(p.sources(), want);
    }
    let mapped = world.graph_map(&index, &edges)?;
    let mut all = vec![0i32; n as usize];
    world.allgather(&mapped.unwrap_or(-1), &mut all[..])?;
    let mut got: Vec<i32> = all.into_iter().filter(|&r| r >= 0).collect();
    got.sort();
    ensure_eq!(got, (0..nodes).collect::<Vec<_>>());
    Ok(())
}

fn graph_errors(env: &Environment) -> Result<()> {
    let (_, n) = rank_size(env);
    let world = env.world();
    ensure_err!(world.create_graph(&[], &[], false), Error::Topology(_));
    // More nodes than processes.
    let (index, edges) = complete_graph(n + 1);
    ensure_err!(world.create_graph(&index, &edges, false), Error::Topology(_));
    // An edge to a node that does not exist.
    let e = ensure_err!(world.create_graph(&[1], &[1], false), Error::Topology(_));
    ensure!(e.to_string().contains("not a node"), "{e}");
    // index decreasing, or not ending at the number of edges.
    if n >= 2 {
        ensure_err!(world.create_graph(&[1, 0], &[1], false), Error::Topology(_));
    }
    ensure_err!(world.create_graph(&[2], &[0], false), Error::Topology(_));
    ensure_err!(world.graph_map(&[2], &[0],), Error::Topology(_));
    let (index, edges) = complete_graph(n);
    let graph = world.create_graph(&index, &edges, false)?.expect("full graph");
    ensure_err!(graph.neighbors_of(n), Error::Topology(_));
    ensure_err!(graph.neighbor_count_of(-1), Error::Topology(_));
    ensure_err!(CartComm::try_from(Comm::from(graph)), Error::Topology(_));
    Ok(())
}

/// The distributed graph of the tests: each rank sends to the distinct ranks among
/// me+1 and me+2 (mod n) other than itself, and receives from me-1 and me-2.
fn ring2(me: i32, n: i32) -> (Vec<i32>, Vec<i32>) {
    let pick = |offsets: [i32; 2]| {
        let mut v: Vec<i32> = Vec::new();
        for o in offsets {
            let r = (me + o).rem_euclid(n);
            if r != me && !v.contains(&r) {
                v.push(r);
            }
        }
        v
    };
    (pick([-1, -2]), pick([1, 2]))
}

fn dist_graph_queries(env: &Environment) -> Result<()> {
    let (me, n) = rank_size(env);
    let world = env.world();
    let (left, right) = ((me + n - 1) % n, (me + 1) % n);
    // Adjacent, weighted.
    let g =
        world.create_dist_graph_adjacent(&[left], Some(&[100 + left]), &[right], Some(&[100 + me]), false)?;
    ensure_eq!(topo_test(&g)?, Some(TopologyKind::DistGraph));
    ensure_eq!((g.sources(), g.destinations()), (&[left][..], &[right][..]));
    ensure!(g.is_weighted());
    ensure_eq!(
        (g.source_weights(), g.destination_weights()),
        (Some(&[100 + left][..]), Some(&[100 + me][..]))
    );
    let gd = g.dup()?;
    ensure_eq!(gd.destination_weights(), Some(&[100 + me][..]));
    // Adjacent, unweighted, and with no edges at all.
    let (s, d) = ring2(me, n);
    let g = world.create_dist_graph_adjacent(&s, None, &d, None, false)?;
    ensure_eq!((g.sources(), g.destinations(), g.is_weighted()), (&s[..], &d[..], false));
    ensure_eq!((g.in_degree(), g.out_degree()), (s.len(), d.len()));
    let empty = world.create_dist_graph_adjacent(&[], None, &[], None, false)?;
    ensure_eq!((empty.in_degree(), empty.out_degree()), (0, 0));
    let empty_w = world.create_dist_graph_adjacent(&[], Some(&[]), &[], Some(&[]), false)?;
    ensure_eq!(empty_w.in_degree(), 0);
    // General form: rank 0 gives every edge r -> r+1 with weight r; the others give none
    // (an empty weighted list, MPI_WEIGHTS_EMPTY).
    let g = if me == 0 {
        let sources: Vec<i32> = (0..n).collect();
        let dests: Vec<i32> = (0..n).map(|r| (r + 1) % n).collect();
        world.create_dist_graph(&sources, &vec![1; n as usize], &dests, Some(&sources), false)?
    } else {
        world.create_dist_graph(&[], &[], &[], Some(&[]), false)?
    };
    ensure_eq!((g.sources(), g.destinations()), (&[left][..], &[right][..]));
    ensure_eq!((g.source_weights(), g.destination_weights()), (Some(&[left][..]), Some(&[me][..])));
    // Each rank gives its own out-edges, unweighted.
    let g = world.create_dist_graph(&[me], &[d.len() as i32], &d, None, false)?;
    ensure_eq!(g.out_degree(), d.len());
    let mut ins = g.sources().to_vec();
    ins.sort();
    let mut want = s.clone();
    want.sort();
    ensure_eq!(ins, want);
    Ok(())
}

fn dist_graph_errors(env: &Environment) -> Result<()> {
    let (_, n) = rank_size(env);
    let world = env.world();
    let e = ensure_err!(world.create_dist_graph_adjacent(&[n], None, &[], None, false), Error::Topology(_));
    ensure!(e.to_string().contains("not a rank"), "{e}");
    ensure_err!(world.create_dist_graph_adjacent(&[], None, &[-1], None, false), Error::Topology(_));
    ensure_err!(
        world.create_dist_graph_adjacent(&[0], Some(&[1, 2]), &[0], Some(&[1]), false),
        Error::Topology(_)
    );
    ensure_err!(world.create_dist_graph_adjacent(&[0], Some(&[1]), &[0], None, false), Error::Topology(_));
    ensure_err!(
        world.create_dist_graph_adjacent(&[0], Some(&[-1]), &[0], Some(&[1]), false),
        Error::Topology(_)
    );
    ensure_err!(world.create_dist_graph(&[0], &[1, 1], &[0], None, false), Error::Topology(_));
    ensure_err!(world.create_dist_graph(&[0], &[-1], &[], None, false), Error::Topology(_));
    ensure_err!(world.create_dist_graph(&[0], &[2], &[0], None, false), Error::Topology(_));
    ensure_err!(world.create_dist_graph(&[0], &[1], &[n], None, false), Error::Topology(_));
    ensure_err!(world.create_dist_graph(&[0], &[1], &[0], Some(&[]), false), Error::Topology(_));
    Ok(())
}

/// What source `s` sends in a cartesian all-to-all: block j holds `s*1000 + j*10 + k`.
fn cart_block(s: i32, j: usize, len: usize) -> Vec<i32> {
    (0..len).map(|k| s * 1000 + j as i32 * 10 + k as i32).collect()
}

fn cart_neighbor_collectives(env: &Environment) -> Result<()> {
    let me = env.world().rank();
    let cart = exchange_grid(env)?;
    let sources = cart.sources().to_vec();
    let null = proc_null();
    // allgather: 3 values from each neighbour; blocks from PROC_NULL keep their -1.
    let mine = [me * 100, me * 100 + 1, me * 100 + 2];
    let mut got = [-1i32; 12];
    cart.neighbor_allgather(&mine, &mut got[..])?;
    for (i, &s) in sources.iter().enumerate() {
        let want = if s == null { vec![-1; 3] } else { vec![s * 100, s * 100 + 1, s * 100 + 2] };
        ensure_eq!(got[3 * i..3 * i + 3].to_vec(), want);
    }
    // alltoall: block 2d goes to the -1 neighbour of dimension d, which receives it as its
    // block 2d+1 (from its +1 neighbour), and the other way round.
    let partner = |i: usize| i ^ 1;
    let send: Vec<i32> = (0..4).flat_map(|j| cart_block(me, j, 2)).collect();
    let mut recv = [-1i32; 8];
    cart.neighbor_alltoall(&send[..], &mut recv[..])?;
    for (i, &s) in sources.iter().enumerate() {
        let want = if s == null { vec![-1; 2] } else { cart_block(s, partner(i), 2) };
        ensure_eq!(recv[2 * i..2 * i + 2].to_vec(), want);
    }
    // alltoallv: block j is j + 1 long; received blocks at spaced displacements.
    let scounts = [1, 2, 3, 4];
    let send: Vec<i32> = (0..4).flat_map(|j| cart_block(me, j, j + 1)).collect();
    let rcounts: Vec<i32> = (0..4).map(|i| partner(i) as i32 + 1).collect();
    let rdispls = [0, 5, 10, 15];
    let mut recv = [-1i32; 20];
    cart.neighbor_alltoallv(
        &Varying::packed(&send[..], &scounts),
        &mut VaryingMut::new(&mut recv[..], &rcounts, &rdispls),
    )?;
    for (i, &s) in sources.iter().enumerate() {
        let len = partner(i) + 1;
        let mut want = if s == null { vec![-1; len] } else { cart_block(s, partner(i), len) };
        want.resize(5, -1);
        ensure_eq!(recv[5 * i..5 * i + 5].to_vec(), want);
    }
    // allgatherv: rank s sends s + 1 values; the receive counts follow the sources.
    let mine: Vec<i64> = (0..=me as i64).map(|k| me as i64 * 10 + k).collect();
    let counts: Vec<i32> = sources.iter().map(|&s| if s == null { 0 } else { s + 1 }).collect();
    let total: i32 = counts.iter().sum();
    let mut recv = vec![-1i64; total as usize];
    cart.neighbor_allgatherv(&mine[..], &mut VaryingMut::packed(&mut recv[..], &counts))?;
    let want: Vec<i64> = sources
        .iter()
        .filter(|&&s| s != null)
        .flat_map(|&s| (0..=s as i64).map(move |k| s as i64 * 10 + k))
        .collect();
    ensure_eq!(recv, want);
    // alltoallw: an i32 and an f64 per block, the received blocks in reverse order.
    let (t32, t64) = (Datatype::of::<i32>()?, Datatype::of::<f64>()?);
    let types = [&t32, &t64, &t32, &t64];
    let mut send = [0u8; 32];
    let displs = [0, 8, 16, 24];
    for j in 0..4 {
        let v = me * 1000 + j as i32;
        if j % 2 == 0 {
            send[8 * j..8 * j + 4].copy_from_slice(&v.to_ne_bytes());
        } else {
            send[8 * j..8 * j + 8].copy_from_slice(&(v as f64).to_ne_bytes());
        }
    }
    let mut recv = [0xffu8; 32];
    // Block i arrives with the type its partner sent: odd partners sent f64.
    let rtypes: Vec<&Datatype> = (0..4).map(|i| if partner(i) % 2 == 0 { &t32 } else { &t64 }).collect();
    let rdispls = [24, 16, 8, 0];
    cart.neighbor_alltoallw(
        &VaryingW::new(&send[..], &[1; 4], &displs, &types),
        &mut VaryingWMut::new(&mut recv[..], &[1; 4], &rdispls, &rtypes),
    )?;
    for (i, &s) in sources.iter().enumerate() {
        let at = rdispls[i] as usize;
        let v = s * 1000 + partner(i) as i32;
        if s == null {
            ensure!(recv[at..at + 8].iter().all(|&b| b == 0xff), "block {i} written");
        } else if partner(i) % 2 == 0 {
            ensure_eq!(i32::from_ne_bytes(recv[at..at + 4].try_into().unwrap()), v);
        } else {
            ensure_eq!(f64::from_ne_bytes(recv[at..at + 8].try_into().unwrap()), v as f64);
        }
    }
    Ok(())
}

fn cart_nonblocking_and_persistent(env: &Environment) -> Result<()> {
    let me = env.world().rank();
    let cart = exchange_grid(env)?;
    let sources = cart.sources().to_vec();
    let null = proc_null();
    let partner = |i: usize| i ^ 1;
    let want_blocks = |round: i32, len: usize| -> Vec<i32> {
        sources
            .iter()
            .enumerate()
            .flat_map(|(i, &s)| {
                if s == null {
                    vec![-1; len]
                } else {
                    cart_block(s, partner(i), len).into_iter().map(|x| x + round).collect()
                }
            })
            .collect()
    };
    // Nonblocking alltoall and allgather side by side.
    let send: Vec<i32> = (0..4).flat_map(|j| cart_block(me, j, 3)).collect();
    let mut recv = vec![-1i32; 12];
    let mut gathered = vec![-1i32; 4];
    mpi4rs::scope(|s| {
        let mut reqs = vec![
            cart.ineighbor_alltoall(s, &send[..], &mut recv[..])?,
            cart.ineighbor_allgather(s, &me, &mut gathered[..])?,
        ];
        mpi4rs::wait_all(&mut reqs).map(drop)
    })?;
    ensure_eq!(recv, want_blocks(0, 3));
    ensure_eq!(gathered, sources.iter().map(|&s| if s == null { -1 } else { s }).collect::<Vec<_>>());
    // Nonblocking v and w forms.
    let counts = [2; 4];
    let mut recv = vec![-1i32; 8];
    let send2: Vec<i32> = (0..4).flat_map(|j| cart_block(me, j, 2)).collect();
    {
        let sv = Varying::packed(&send2[..], &counts);
        let mut rv = VaryingMut::packed(&mut recv[..], &counts);
        mpi4rs::scope(|s| cart.ineighbor_alltoallv(s, &sv, &mut rv)?.wait().map(drop))?;
    }
    ensure_eq!(recv, want_blocks(0, 2));
    let t = Datatype::of::<i32>()?;
    let types = [&t; 4];
    let bytes: Vec<i32> = send2.clone();
    let mut out = vec![-1i32; 8];
    {
        let sw = VaryingW::new(&bytes[..], &counts, &[0, 8, 16, 24], &types);
        let mut rw = VaryingWMut::new(&mut out[..], &counts, &[0, 8, 16, 24], &types);
        mpi4rs::scope(|s| cart.ineighbor_alltoallw(s, &sw, &mut rw)?.wait().map(drop))?;
    }
    ensure_eq!(out, want_blocks(0, 2));
    let mut gv = vec![-1i32; 4];
    {
        let ones = [1; 4];
        let mut rv = VaryingMut::packed(&mut gv[..], &ones);
        mpi4rs::scope(|s| cart.ineighbor_allgatherv(s, &me, &mut rv)?.wait().map(drop))?;
    }
    // PROC_NULL blocks of a packed layout are empty but counted: -1 stays.
    ensure_eq!(gv, sources.iter().map(|&s| if s == null { -1 } else { s }).collect::<Vec<_>>());
    // Persistent forms (MPI-4, MPIX_ on Open MPI 4.1): started twice, new data each round.
    if !mpi4rs::has_persistent_collectives() {
        return mpi4rs::scope(|s| {
            ensure_err!(cart.neighbor_alltoall_init(s, &send[..], &mut recv[..]), Error::Unsupported(_));
            Ok(())
        });
    }
    let mut sbuf = send.clone();
    let mut rbuf = vec![-1i32; 12];
    for round in 0..2 {
        for (x, y) in sbuf.iter_mut().zip(&send) {
            *x = y + round;
        }
        mpi4rs::scope(|s| {
            let mut req = cart.neighbor_alltoall_init(s, &sbuf[..], &mut rbuf[..])?;
            req.start()?;
            req.wait()?;
            req.start()?;
            req.wait()?;
            drop(req);
            Ok(())
        })?;
        ensure_eq!(rbuf, want_blocks(round, 3));
    }
    let mut g = vec![-1i32; 4];
    let mut one = vec![-1i32; 8];
    let mut w = vec![-1i32; 8];
    let ones = [1; 4];
    let mut gv2 = vec![-1i32; 4];
    {
        let sv = Varying::packed(&send2[..], &counts);
        let mut rv = VaryingMut::packed(&mut one[..], &counts);
        let sw = VaryingW::new(&bytes[..], &counts, &[0, 8, 16, 24], &types);
        let mut rw = VaryingWMut::new(&mut w[..], &counts, &[0, 8, 16, 24], &types);
        let mut rgv = VaryingMut::packed(&mut gv2[..], &ones);
        mpi4rs::scope(|s| {
            let mut reqs = vec![
                cart.neighbor_allgather_init(s, &me, &mut g[..])?,
                cart.neighbor_alltoallv_init(s, &sv, &mut rv)?,
                cart.neighbor_alltoallw_init(s, &sw, &mut rw)?,
                cart.neighbor_allgatherv_init(s, &me, &mut rgv)?,
            ];
            mpi4rs::start_all(&mut reqs)?;
            mpi4rs::wait_all(&mut reqs).map(drop)
        })?;
    }
    ensure_eq!(gv2, gv);
    ensure_eq!(g, gv);
    ensure_eq!(one, want_blocks(0, 2));
    ensure_eq!(w, want_blocks(0, 2));
    Ok(())
}

fn graph_neighbor_collectives(env: &Environment) -> Result<()> {
    let (me, n) = rank_size(env);
    let (index, edges) = complete_graph(n);
    let graph = env.world().create_graph(&index, &edges, false)?.expect("full graph");
    let others: Vec<i32> = (0..n).filter(|&j| j != me).collect();
    let mut got = vec![0u64; others.len() * 2];
    graph.neighbor_allgather(&[me as u64, 7], &mut got[..])?;
    ensure_eq!(got, others.iter().flat_map(|&s| [s as u64, 7]).collect::<Vec<_>>());
    // alltoall: block j goes to others[j]; from s, the block it addressed to me.
    let send: Vec<f64> = others.iter().map(|&d| (me * 10 + d) as f64).collect();
    let mut recv = vec![0.0f64; others.len()];
    graph.neighbor_alltoall(&send[..], &mut recv[..])?;
    ensure_eq!(recv, others.iter().map(|&s| (s * 10 + me) as f64).collect::<Vec<_>>());
    Ok(())
}

fn dist_graph_neighbor_collectives(env: &Environment) -> Result<()> {
    let (me, n) = rank_size(env);
    let (s, d) = ring2(me, n);
    let g = env.world().create_dist_graph_adjacent(&s, None, &d, None, false)?;
    // alltoall: block j to d[j] holds me*100 + d[j]; from source s, s*100 + me.
    let send: Vec<i32> = d.iter().map(|&to| me * 100 + to).collect();
    let mut recv = vec![-1i32; s.len()];
    g.neighbor_alltoall(&send[..], &mut recv[..])?;
    ensure_eq!(recv, s.iter().map(|&from| from * 100 + me).collect::<Vec<_>>());
    // allgather of two values.
    let mut got = vec![0i16; 2 * s.len()];
    g.neighbor_allgather(&[me as i16, -(me as i16)], &mut got[..])?;
    ensure_eq!(got, s.iter().flat_map(|&x| [x as i16, -(x as i16)]).collect::<Vec<_>>());
    // alltoallv: to d[j], d[j] + 1 copies of me; from s[i], me + 1 copies of s[i].
    let scounts: Vec<i32> = d.iter().map(|&to| to + 1).collect();
    let send: Vec<u8> = d.iter().flat_map(|&to| vec![me as u8; to as usize + 1]).collect();
    let rcounts = vec![me + 1; s.len()];
    let mut recv = vec![0u8; s.len() * (me as usize + 1)];
    g.neighbor_alltoallv(
        &Varying::packed(&send[..], &scounts),
        &mut VaryingMut::packed(&mut recv[..], &rcounts),
    )?;
    ensure_eq!(recv, s.iter().flat_map(|&from| vec![from as u8; me as usize + 1]).collect::<Vec<_>>());
    Ok(())
}

fn neighbor_buffer_errors(env: &Environment) -> Result<()> {
    let cart = grid(env)?;
    // allgather: 4 sources need 4 blocks.
    let e = ensure_err!(cart.neighbor_allgather(&[1, 2], &mut [0i32; 7][..]), Error::BufferLength { .. });
    ensure!(e.to_string().contains("needs 8 elements, has 7"), "{e}");
    let mut nine = [0i32; 9];
    mpi4rs::scope(|s| {
        ensure_err!(cart.ineighbor_allgather(s, &[1, 2], &mut nine[..]), Error::BufferLength { .. });
        Ok(())
    })?;
    ensure_err!(cart.neighbor_allgather(&[1i32], &mut [0i64; 4][..]), Error::InvalidArgument(_));
    // alltoall: 4 destinations need 4 equal blocks; the receive side must match.
    let e =
        ensure_err!(cart.neighbor_alltoall(&[0i32; 6][..], &mut [0i32; 6][..]), Error::BufferLength { .. });
    ensure!(e.to_string().contains("one per neighbour"), "{e}");
    ensure_err!(cart.neighbor_alltoall(&[0i32; 8][..], &mut [0i32; 4][..]), Error::BufferLength { .. });
    let mut twelve = [0i32; 12];
    mpi4rs::scope(|s| {
        ensure_err!(
            cart.neighbor_alltoall_init(s, &[0i32; 8][..], &mut twelve[..]),
            Error::BufferLength { .. }
        );
        Ok(())
    })?;
    // Vector forms: one count per neighbour, blocks inside the buffer.
    let data = [0i32; 8];
    let mut out = [0i32; 8];
    ensure_err!(
        cart.neighbor_alltoallv(
            &Varying::packed(&data[..], &[2, 2, 2]),
            &mut VaryingMut::packed(&mut out[..], &[2; 4])
        ),
        Error::BufferLength { .. }
    );
    ensure_err!(
        cart.neighbor_alltoallv(
            &Varying::packed(&data[..], &[2; 4]),
            &mut VaryingMut::packed(&mut out[..], &[2, 2, 2, 3])
        ),
        Error::BufferLength { .. }
    );
    ensure_err!(
        cart.neighbor_allgatherv(&data[..2], &mut VaryingMut::new(&mut out[..], &[2; 4], &[0, 2, 4, 7])),
        Error::BufferLength { .. }
    );
    let t = Datatype::of::<i32>()?;
    let e = ensure_err!(
        cart.neighbor_alltoallw(
            &VaryingW::new(&data[..], &[2; 4], &[0, 8, 16, 28], &[&t; 4]),
            &mut VaryingWMut::new(&mut out[..], &[2; 4], &[0, 8, 16, 24], &[&t; 4]),
        ),
        Error::BufferLength { .. }
    );
    ensure!(e.to_string().contains("outside"), "{e}");
    ensure_err!(
        cart.neighbor_alltoallw(
            &VaryingW::new(&data[..], &[2; 4], &[0, 8, 16, 24], &[&t; 4]),
            &mut VaryingWMut::new(&mut [false; 32][..], &[2; 4], &[0, 8, 16, 24], &[&t; 4]),
        ),
        Error::InvalidArgument(_)
    );
    // The mistakes were caught before MPI: the communicator still works.
    let mut got = [0i32; 4];
    cart.neighbor_allgather(&1, &mut got[..])?;
    Ok(())
}
