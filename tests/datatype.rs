//! Derived datatypes: known answers for every constructor, non-contiguous layouts (matrix
//! columns, 3-D halo faces, records, interleaved fields, darray blocks) through point-to-point,
//! pack/unpack, the reverse dtype mapping, and every error a user can reach.
mod common;

use common::{neighbours, Suite};
use mpi::traits::Equivalence;
use mpi4rs::prelude::*;
use mpi4rs::{
    dtype_of_handle, pack, pack_size, parse_typestr, typestr, unpack, DType, Darg, Datatype, Distrib,
    Environment, Error, ErrorClass, Order, Result, Typed, TypedMut, ValueIndex, DARG_DEFAULT,
};
use num_complex::Complex;

fn main() {
    Suite::new("datatype")
        .case("constructor_known_answers", constructor_known_answers)
        .case("struct_and_resized_known_answers", struct_and_resized_known_answers)
        .case("darray_sizes_and_contents", darray_sizes_and_contents)
        .case("matrix_column_vector", matrix_column_vector)
        .case("halo_faces_subarray", halo_faces_subarray)
        .case("struct_records_keep_gaps", struct_records_keep_gaps)
        .case("resized_interleaved_fields", resized_interleaved_fields)
        .case("nonblocking_mprobe_bsend_views", nonblocking_mprobe_bsend_views)
        .case("pack_unpack_round_trip", pack_unpack_round_trip)
        .case("dtype_reverse_mapping_and_typestr", dtype_reverse_mapping_and_typestr)
        .case("names_dup_predefined", names_dup_predefined)
        .case("typed_overrun_is_an_error", typed_overrun_is_an_error)
        .case("typed_mut_element_rules", typed_mut_element_rules)
        .case("bad_constructor_arguments", bad_constructor_arguments)
        .case("pack_errors", pack_errors)
        .case("layout_below_origin_is_not_empty", layout_below_origin_is_not_empty)
        .run();
}

fn f64s() -> Result<Datatype> {
    Datatype::of::<f64>()
}

/// Checks size, (lb, extent) and (true lb, true extent).
fn layout(t: &Datatype, size: usize, extent: (isize, isize), true_extent: (isize, isize)) -> Result<()> {
    ensure_eq!(t.size(), size);
    ensure_eq!(t.extent(), extent);
    ensure_eq!(t.true_extent(), true_extent);
    ensure!(!t.is_predefined());
    Ok(())
}

fn constructor_known_answers(_env: &Environment) -> Result<()> {
    let d = f64s()?;
    let i = Datatype::of::<i32>()?;
    let f = Datatype::of::<f32>()?;
    ensure!(d.is_predefined());
    ensure_eq!((d.size(), d.extent(), d.true_extent()), (8, (0, 8), (0, 8)));
    layout(&Datatype::contiguous(3, &d)?, 24, (0, 24), (0, 24))?;
    layout(&Datatype::contiguous(0, &d)?, 0, (0, 0), (0, 0))?;
    // 3 blocks of 2, 4 apart: ((3-1)*4 + 2) * 8 = 80 bytes.
    layout(&Datatype::vector(3, 2, 4, &d)?, 48, (0, 80), (0, 80))?;
    // A negative stride runs down from the first block.
    layout(&Datatype::vector(2, 1, -3, &i)?, 8, (-12, 16), (-12, 16))?;
    layout(&Datatype::hvector(3, 1, 24, &d)?, 24, (0, 56), (0, 56))?;
    layout(&Datatype::indexed(&[2, 1], &[1, 5], &i)?, 12, (4, 20), (4, 20))?;
    layout(&Datatype::hindexed(&[1, 2], &[16, 0], &d)?, 24, (0, 24), (0, 24))?;
    layout(&Datatype::indexed_block(2, &[0, 4, 8], &f)?, 24, (0, 40), (0, 40))?;
    layout(&Datatype::hindexed_block(1, &[0, 12], &i)?, 8, (0, 16), (0, 16))?;
    // Subarray: 2 x 3 block at (1, 1) of a 4 x 5 array; the extent is the whole array.
    let sub = Datatype::subarray(&[4, 5], &[2, 3], &[1, 1], Order::C, &d)?;
    layout(&sub, 48, (0, 160), (48, 64))?;
    // Fortran order: the first index is fastest. Start (1, 2): offset 1 + 2*4 = 9 elements,
    // last element (2, 4): offset 2 + 4*4 = 18, so 10 elements of span.
    let sub_f = Datatype::subarray(&[4, 5], &[2, 3], &[1, 2], Order::Fortran, &d)?;
    layout(&sub_f, 48, (0, 160), (72, 80))?;
    // Types built from derived types.
    let col = Datatype::vector(3, 1, 4, &d)?;
    layout(&Datatype::contiguous(2, &col)?, 48, (0, 144), (0, 144))?;
    Ok(())
}

fn struct_and_resized_known_answers(_env: &Environment) -> Result<()> {
    let (d, i) = (f64s()?, Datatype::of::<i32>()?);
    // {i32 @0, f64 @8}: 12 bytes of data in 16.
    layout(&Datatype::create_struct(&[1, 1], &[0, 8], &[&i, &d])?, 12, (0, 16), (0, 16))?;
    // {f64 @0, i32 @8}: true extent 12; MPI pads the extent to the alignment of f64.
    let s = Datatype::create_struct(&[1, 1], &[0, 8], &[&d, &i])?;
    ensure_eq!(s.size(), 12);
    ensure_eq!(s.true_extent(), (0, 12));
    ensure_eq!(s.extent(), (0, 16));
    // Resizing changes the bounds, not the data.
    layout(&Datatype::resized(0, 16, &d)?, 8, (0, 16), (0, 8))?;
    layout(&Datatype::resized(-8, 24, &d)?, 8, (-8, 24), (0, 8))?;
    let packed = Datatype::resized(0, 12, &s)?;
    layout(&packed, 12, (0, 12), (0, 12))?;
    // dup keeps everything.
    let dup = packed.dup()?;
    ensure_eq!((dup.size(), dup.extent(), dup.true_extent()), (12, (0, 12), (0, 12)));
    Ok(())
}

fn darray_sizes_and_contents(env: &Environment) -> Result<()> {
    let world = env.world();
    let d = f64s()?;
    let global: Vec<f64> = (0..10).map(f64::from).collect();
    // 10 elements over 3 processes.
    let cases: [(Distrib, Darg, [usize; 3]); 4] = [
        (Distrib::Block, DARG_DEFAULT, [4, 4, 2]),
        (Distrib::Block, Darg::Value(5), [5, 5, 0]),
        (Distrib::Cyclic, Darg::Value(3), [4, 3, 3]),
        (Distrib::Cyclic, Darg::Default, [4, 3, 3]),
    ];
    for (distrib, darg, counts) in cases {
        let mut all = vec![];
        for (rank, &count) in counts.iter().enumerate() {
            let t = Datatype::darray(3, rank, &[10], &[distrib], &[darg], &[3], Order::C, &d)?;
            ensure_eq!(t.size(), count * 8);
            ensure_eq!(t.extent(), (0, 80));
            // What the view selects, through pack/unpack into a contiguous array.
            let mut packed = vec![0u8; t.pack_size(1, world)?];
            let mut pos = 0;
            t.pack(&global, 1, &mut packed, &mut pos, world)?;
            ensure_eq!(pos, count * 8);
            let mut mine = vec![-1.0f64; count];
            let mut upos = 0;
            unpack(&packed, &mut upos, &mut mine, world)?;
            ensure_eq!(upos, pos);
            all.extend(mine);
        }
        all.sort_by(f64::total_cmp);
        ensure!(all == global, "{distrib:?} {darg:?}: {all:?}");
    }
    // Cyclic(3) on rank 2: elements 6, 7, 8.
    let t = Datatype::darray(3, 2, &[10], &[Distrib::Cyclic], &[Darg::Value(3)], &[3], Order::C, &d)?;
    let mut got = [0.0f64; 3];
    let me = world.rank();
    world.sendrecv(&Typed::new(&global, 1, &t)?, me, 0, &mut got, me, 0)?;
    ensure_eq!(got, [6.0, 7.0, 8.0]);
    // 2-D: 4 x 6 over a 2 x 3 grid, block rows and cyclic columns: 2 x 2 each.
    for rank in 0..6 {
        let t = Datatype::darray(
            6,
            rank,
            &[4, 6],
            &[Distrib::Block, Distrib::Cyclic],
            &[Darg::Default, Darg::Default],
            &[2, 3],
            Order::C,
            &d,
        )?;
        ensure_eq!(t.size(), 32);
        ensure_eq!(t.extent(), (0, 192));
    }
    // An undistributed dimension.
    let t = Datatype::darray(
        2,
        1,
        &[3, 4],
        &[Distrib::None, Distrib::Block],
        &[DARG_DEFAULT; 2],
        &[1, 2],
        Order::Fortran,
        &d,
    )?;
    ensure_eq!(t.size(), 3 * 2 * 8);
    Ok(())
}

const ROWS: usize = 5;
const COLS: usize = 4;

fn matrix_column_vector(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let value = |r: i32, i: usize, j: usize| f64::from(r) * 100.0 + (i * 10 + j) as f64;
    let a: Vec<f64> = (0..ROWS * COLS).map(|k| value(me, k / COLS, k % COLS)).collect();
    let mut b = [-1.0f64; ROWS * COLS];
    let column = Datatype::vector(ROWS, 1, COLS as i32, &f64s()?)?;
    ensure_eq!(column.extent(), (0, ((ROWS - 1) * COLS + 1) as isize * 8));
    let j_send = me as usize % COLS;
    let j_recv = (me as usize + 1) % COLS;
    let status = world.sendrecv(
        &Typed::new(&a[j_send..], 1, &column)?,
        right,
        1,
        &mut TypedMut::new(&mut b[j_recv..], 1, &column)?,
        left,
        1,
    )?;
    ensure_eq!(status.bytes()?, ROWS * 8);
    ensure_eq!(status.count::<f64>()?, ROWS);
    let j_left = left as usize % COLS;
    for i in 0..ROWS {
        for j in 0..COLS {
            let want = if j == j_recv { value(left, i, j_left) } else { -1.0 };
            ensure!(b[i * COLS + j] == want, "b[{i}][{j}] = {} != {want}", b[i * COLS + j]);
        }
    }
    // The column arrives in a contiguous buffer too, and a contiguous one into a column.
    let mut flat = [0.0f64; ROWS];
    world.sendrecv(&Typed::new(&a[j_send..], 1, &column)?, right, 2, &mut flat, left, 2)?;
    ensure_eq!(flat.to_vec(), (0..ROWS).map(|i| value(left, i, j_left)).collect::<Vec<_>>());
    let mut c = vec![0.0f64; ROWS * COLS];
    world.sendrecv(&flat, me, 3, &mut TypedMut::new(&mut c, 1, &column)?, me, 3)?;
    ensure_eq!((0..ROWS).map(|i| c[i * COLS]).collect::<Vec<_>>(), flat.to_vec());
    Ok(())
}

const N: [usize; 3] = [4, 5, 6];

fn idx(x: usize, y: usize, z: usize) -> usize {
    (x * N[1] + y) * N[2] + z
}

fn halo_faces_subarray(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let value = |r: i32, x: usize, y: usize, z: usize| f64::from(r) * 1000.0 + (x * 100 + y * 10 + z) as f64;
    let mut g = vec![0.0f64; N[0] * N[1] * N[2]];
    for x in 0..N[0] {
        for y in 0..N[1] {
            for z in 0..N[2] {
                g[idx(x, y, z)] = value(me, x, y, z);
            }
        }
    }
    let d = f64s()?;
    // z faces are the least contiguous: one element per (x, y).
    // Send the last interior plane (z = N-2) right; receive the left neighbour's into the
    // ghost plane z = 0. Same for x (whole contiguous planes) and y.
    for axis in 0..3 {
        let face = |at: usize| -> Result<Datatype> {
            let mut sub = N;
            sub[axis] = 1;
            let mut start = [0; 3];
            start[axis] = at;
            Datatype::subarray(&N, &sub, &start, Order::C, &d)
        };
        let (send_face, ghost_face) = (face(N[axis] - 2)?, face(0)?);
        ensure_eq!(send_face.size(), 8 * N.iter().product::<usize>() / N[axis]);
        ensure_eq!(send_face.extent(), (0, 8 * 120));
        let mut h = vec![-1.0f64; g.len()];
        world.sendrecv(
            &Typed::new(&g, 1, &send_face)?,
            right,
            10,
            &mut TypedMut::new(&mut h, 1, &ghost_face)?,
            left,
            10,
        )?;
        for x in 0..N[0] {
            for y in 0..N[1] {
                for z in 0..N[2] {
                    let c = [x, y, z];
                    let want = if c[axis] == 0 {
                        let mut from = c;
                        from[axis] = N[axis] - 2;
                        value(left, from[0], from[1], from[2])
                    } else {
                        -1.0
                    };
                    ensure!(h[idx(x, y, z)] == want, "axis {axis} at {c:?}: {} != {want}", h[idx(x, y, z)]);
                }
            }
        }
    }
    Ok(())
}

/// Records of 16 bytes: {id: i32 @0, 4 bytes gap, x: f64 @8}, in a u64 buffer (aligned, and
/// any bits are valid u64s).
fn struct_records_keep_gaps(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let record = Datatype::create_struct(&[1, 1], &[0, 8], &[&Datatype::of::<i32>()?, &f64s()?])?;
    ensure_eq!((record.size(), record.extent()), (12, (0, 16)));
    let encode = |r: i32, k: usize| -> [u64; 2] {
        let id = (r * 10 + k as i32) as u32 as u64;
        [id | 0xDEAD_BEEF_u64 << 32, (f64::from(r) + k as f64 / 4.0).to_bits()]
    };
    let data: Vec<u64> = (0..3).flat_map(|k| encode(me, k)).collect();
    let mut got = vec![u64::MAX; 6];
    world.sendrecv(
        &Typed::new(&data, 3, &record)?,
        right,
        4,
        &mut TypedMut::new(&mut got, 3, &record)?,
        left,
        4,
    )?;
    for k in 0..3 {
        let want = encode(left, k);
        // The id arrives; the 4 gap bytes keep what the receiver had.
        ensure_eq!(got[2 * k] & 0xFFFF_FFFF, want[0] & 0xFFFF_FFFF);
        ensure_eq!(got[2 * k] >> 32, 0xFFFF_FFFF);
        ensure_eq!(f64::from_bits(got[2 * k + 1]), f64::from_bits(want[1]));
    }
    // A record type over a struct made of mixed types, resized to its Rust size_of.
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Sample {
        x: f64,
        n: i32,
    }
    ensure_eq!(std::mem::size_of::<Sample>(), 16);
    let sample = Datatype::create_struct(&[1, 1], &[0, 8], &[&f64s()?, &Datatype::of::<i32>()?])?;
    let sample = Datatype::resized(0, std::mem::size_of::<Sample>() as isize, &sample)?;
    let mut buf = vec![0u64; 4];
    let back = vec![1u64, 2, 3, 4];
    world.sendrecv(
        &Typed::new(&back, 2, &sample)?,
        me,
        5,
        &mut TypedMut::new(&mut buf, 2, &sample)?,
        me,
        5,
    )?;
    ensure_eq!(buf[0], 1);
    ensure_eq!(buf[1] & 0xFFFF_FFFF, 2);
    ensure_eq!(buf[2], 3);
    Ok(())
}

fn resized_interleaved_fields(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    // [x0, y0, x1, y1, ...]: the x field alone is an f64 with the extent of a whole pair.
    let pairs: Vec<f64> = (0..10).map(|k| f64::from(me) * 100.0 + k as f64).collect();
    let field = Datatype::resized(0, 16, &f64s()?)?;
    let mut xs = [0.0f64; 5];
    world.sendrecv(&Typed::new(&pairs, 5, &field)?, right, 6, &mut xs, left, 6)?;
    ensure_eq!(xs.to_vec(), (0..5).map(|k| f64::from(left) * 100.0 + (2 * k) as f64).collect::<Vec<_>>());
    // Receive the y fields of the left neighbour into the y slots of another array.
    let mut other = [-1.0f64; 10];
    world.sendrecv(
        &Typed::new(&pairs[1..], 5, &field)?,
        right,
        7,
        &mut TypedMut::new(&mut other[1..], 5, &field)?,
        left,
        7,
    )?;
    for (k, &x) in other.iter().enumerate() {
        let want = if k % 2 == 1 { f64::from(left) * 100.0 + k as f64 } else { -1.0 };
        ensure!(x == want, "other[{k}] = {x} != {want}");
    }
    // A negative stride reverses: receive 5 values into a buffer from its end down.
    let reverse = Datatype::vector(5, 1, -1, &f64s()?)?;
    let mut rev = [0.0f64; 5];
    world.sendrecv(&xs, me, 8, &mut TypedMut::with_offset(&mut rev, 32, 1, &reverse)?, me, 8)?;
    let mut back = xs;
    back.reverse();
    ensure_eq!(rev, back);
    Ok(())
}

fn nonblocking_mprobe_bsend_views(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let column = Datatype::vector(ROWS, 1, COLS as i32, &Datatype::of::<i32>()?)?;
    let a: Vec<i32> = (0..(ROWS * COLS) as i32).map(|k| me * 1000 + k).collect();
    let mut b = [0i32; ROWS * COLS];
    {
        let outgoing = Typed::new(&a[1..], 1, &column)?;
        let mut incoming = TypedMut::new(&mut b[2..], 1, &column)?;
        mpi4rs::scope(|s| {
            let recv = world.irecv(s, &mut incoming, left, 8)?;
            let send = world.isend(s, &outgoing, right, 8)?;
            send.wait()?;
            recv.wait()?;
            Ok(())
        })?;
    }
    for i in 0..ROWS {
        ensure_eq!(b[i * COLS + 2], left * 1000 + (i * COLS + 1) as i32);
    }
    // A matched message and a derived receive buffer: too small is Truncated (the view holds
    // ROWS * 4 bytes of data whatever memory it spans), then it fits.
    let mut c = vec![0i32; ROWS * COLS];
    mpi4rs::scope(|s| {
        let send = world.isend(s, &[7i32; ROWS + 1], me, 9)?;
        let (mut msg, _) = world.mprobe(me, 9)?;
        let e = ensure_err!(msg.recv(&mut TypedMut::new(&mut c, 1, &column)?), Error::Truncated { .. });
        ensure_eq!(e, Error::Truncated { message_bytes: (ROWS + 1) * 4, buffer_bytes: ROWS * 4 });
        let two = Datatype::contiguous(ROWS + 1, &Datatype::of::<i32>()?)?;
        msg.recv(&mut TypedMut::new(&mut c, 1, &two)?)?;
        send.wait()?;
        Ok(())
    })?;
    ensure_eq!(&c[..ROWS + 1], &[7; ROWS + 1]);
    // Buffered mode sizes a view by its data, not by the memory it spans.
    let wide = Datatype::vector(2, 1, 1000, &Datatype::of::<i32>()?)?;
    let big = vec![3i32; 1001];
    mpi4rs::attach_buffer(vec![0u8; 1024])?;
    world.bsend(&Typed::new(&big, 1, &wide)?, me, 10)?;
    let mut two_ints = [0i32; 2];
    world.recv(&mut two_ints, me, 10)?;
    mpi4rs::detach_buffer()?;
    ensure_eq!(two_ints, [3, 3]);
    Ok(())
}

fn pack_unpack_round_trip(env: &Environment) -> Result<()> {
    let world = env.world();
    let (right, left) = neighbours(env);
    let me = world.rank();
    let i32s = Datatype::of::<i32>()?;
    let column = Datatype::vector(ROWS, 1, COLS as i32, &f64s()?)?;
    let m: Vec<f64> = (0..ROWS * COLS).map(|k| f64::from(me) + k as f64 / 8.0).collect();
    let header = [me, ROWS as i32];
    let room = pack_size(2, &i32s, world)? + column.pack_size(1, world)?;
    ensure!(room >= 8 + ROWS * 8);
    let mut packed = vec![0u8; room];
    let mut pos = 0;
    pack(&header, &mut packed, &mut pos, world)?;
    ensure_eq!(pos, 8);
    column.pack(&m[3..], 1, &mut packed, &mut pos, world)?;
    ensure_eq!(pos, 8 + ROWS * 8);
    let used = pos;
    // Travel as bytes to the right neighbour.
    let mut incoming = vec![0u8; room];
    world.sendrecv(&packed[..used], right, 11, &mut incoming[..used], left, 11)?;
    let mut pos = 0;
    let mut h = [0i32; 2];
    unpack(&incoming, &mut pos, &mut h, world)?;
    ensure_eq!(h, [left, ROWS as i32]);
    let mut target = [0.0f64; ROWS * COLS];
    column.unpack(&incoming, &mut pos, &mut target[1..], 1, world)?;
    ensure_eq!(pos, used);
    for i in 0..ROWS {
        ensure_eq!(target[i * COLS + 1], f64::from(left) + (i * COLS + 3) as f64 / 8.0);
        ensure_eq!(target[i * COLS], 0.0);
    }
    // Packing a Typed view through the free function gives the same bytes.
    let mut again = vec![0u8; room];
    let mut p2 = 0;
    pack(&Typed::new(&m[3..], 1, &column)?, &mut again, &mut p2, world)?;
    ensure_eq!(&again[..p2], &packed[8..used]);
    Ok(())
}

#[derive(Equivalence, Clone, Copy, Default)]
struct Pair {
    a: i32,
    b: f64,
}

fn dtype_reverse_mapping_and_typestr(_env: &Environment) -> Result<()> {
    fn check<T: mpi4rs::BufferElement + mpi4rs::Element + Equivalence>() -> Result<()> {
        let t = Datatype::of::<T>()?;
        ensure_eq!(t.dtype(), Some(T::DTYPE));
        ensure_eq!(t.size(), std::mem::size_of::<T>());
        ensure_eq!(Datatype::from_dtype(T::DTYPE)?.as_raw(), t.as_raw());
        // rsmpi's handle for the same type maps back too.
        ensure_eq!(dtype_of_handle(mpi::raw::AsRaw::as_raw(&T::equivalent_datatype())), Some(T::DTYPE));
        let s = typestr(T::DTYPE);
        ensure_eq!(parse_typestr(s)?, T::DTYPE);
        ensure_eq!(Datatype::from_typestr(s)?.dtype(), Some(T::DTYPE));
        ensure_eq!(t.typestr(), Some(s));
        Ok(())
    }
    check::<bool>()?;
    check::<i8>()?;
    check::<i16>()?;
    check::<i32>()?;
    check::<i64>()?;
    check::<u8>()?;
    check::<u16>()?;
    check::<u32>()?;
    check::<u64>()?;
    check::<f32>()?;
    check::<f64>()?;
    check::<Complex<f32>>()?;
    check::<Complex<f64>>()?;
    ensure_eq!(Datatype::of::<isize>()?.dtype(), Some(DType::I64));
    ensure_eq!(Datatype::of::<usize>()?.dtype(), Some(DType::U64));
    // The library's 2-byte types.
    for (d, s) in [(DType::F16, "f2"), (DType::BF16, "bf2")] {
        let t = Datatype::from_dtype(d)?;
        ensure!(t.is_predefined());
        ensure_eq!(t.size(), 2);
        ensure_eq!(t.dtype(), Some(d));
        ensure_eq!(t.typestr(), Some(s));
    }
    ensure_eq!(Datatype::of::<half::f16>()?.dtype(), Some(DType::F16));
    // Typestr spellings.
    for (s, d) in [
        ("f8", DType::F64),
        ("<i4", DType::I32),
        ("|b1", DType::Bool),
        ("c16", DType::C64),
        ("c8", DType::C32),
        ("u2", DType::U16),
        ("=f4", DType::F32),
    ] {
        ensure!(parse_typestr(s)? == d, "{s}");
    }
    for bad in ["", "f3", "q8", "i16", ">f8", "float64"] {
        ensure_err!(parse_typestr(bad), Error::InvalidArgument(_));
        ensure_err!(Datatype::from_typestr(bad), Error::InvalidArgument(_));
    }
    // A dup of a predefined type is still that type; derived layouts are not.
    let dup = Datatype::of::<f64>()?.dup()?;
    ensure!(!dup.is_predefined());
    ensure_eq!(dup.dtype(), Some(DType::F64));
    ensure_eq!(dup.dup()?.dtype(), Some(DType::F64));
    ensure_eq!(Datatype::contiguous(1, &f64s()?)?.dtype(), None);
    ensure_eq!(Datatype::contiguous(1, &f64s()?)?.typestr(), None);
    // Pair types and rsmpi structs have no dtype.
    ensure_eq!(Datatype::of::<ValueIndex<f64>>()?.dtype(), None);
    ensure_eq!(dtype_of_handle(mpi::raw::AsRaw::as_raw(&Pair::equivalent_datatype())), None);
    ensure_eq!(dtype_of_handle(mpi4rs::ffi::DATATYPE_NULL()), None);
    ensure_eq!(dtype_of_handle(mpi4rs::ffi::BYTE()), Some(DType::U8));
    Ok(())
}

fn names_dup_predefined(_env: &Environment) -> Result<()> {
    let t = Datatype::vector(2, 1, 2, &f64s()?)?;
    t.set_name("every-other")?;
    ensure_eq!(t.name()?, "every-other");
    ensure!(Datatype::of::<f64>()?.name()?.contains("DOUBLE"), "{}", Datatype::of::<f64>()?.name()?);
    ensure_err!(t.set_name("bad\0name"), Error::InvalidArgument(_));
    ensure_err!(t.set_name(&"x".repeat(1000)), Error::InvalidArgument(_));
    let d = t.dup()?;
    ensure!(d.as_raw() != t.as_raw());
    ensure_eq!((d.size(), d.extent()), (t.size(), t.extent()));
    // A type derived from another outlives it: MPI keeps what it needs.
    let outer = {
        let inner = Datatype::vector(2, 1, 2, &f64s()?)?;
        Datatype::contiguous(2, &inner)?
    };
    ensure_eq!(outer.size(), 32);
    let v = [1.0f64; 8];
    let mut w = [0.0f64; 4];
    let me = env_rank();
    _env.world().sendrecv(&Typed::new(&v, 1, &outer)?, me, 12, &mut w, me, 12)?;
    ensure_eq!(w, [1.0; 4]);
    ensure!(format!("{outer:?}").contains("size: 32"));
    Ok(())
}

fn env_rank() -> i32 {
    // COMM_WORLD rank without an Environment borrow.
    let mut r = 0;
    unsafe { mpi4rs::ffi::MPI_Comm_rank(mpi4rs::ffi::COMM_WORLD(), &mut r) };
    r
}

fn typed_overrun_is_an_error(_env: &Environment) -> Result<()> {
    let d = f64s()?;
    let m = vec![0.0f64; ROWS * COLS];
    let mut w = vec![0.0f64; ROWS * COLS];
    let column = Datatype::vector(ROWS, 1, COLS as i32, &d)?;
    // Fits exactly from every column start.
    for j in 0..COLS {
        Typed::new(&m[j..], 1, &column)?;
        TypedMut::new(&mut w[j..], 1, &column)?;
    }
    // One element short; two columns; too small a buffer.
    let e = ensure_err!(Typed::new(&m[COLS..], 1, &column), Error::InvalidArgument(_));
    ensure_eq!(e.class(), Some(ErrorClass::Arg));
    ensure!(e.to_string().contains("touch bytes"), "{e}");
    ensure_err!(Typed::new(&m, 2, &column), Error::InvalidArgument(_));
    ensure_err!(TypedMut::new(&mut w[1..], 2, &column), Error::InvalidArgument(_));
    ensure_err!(Typed::new(&[0u8; 7], 1, &d), Error::InvalidArgument(_));
    ensure_err!(Typed::new(&m, ROWS * COLS + 1, &d), Error::InvalidArgument(_));
    Typed::new(&m, ROWS * COLS, &d)?;
    // A subarray over a smaller grid.
    let face = Datatype::subarray(&N, &[1, N[1], N[2]], &[N[0] - 1, 0, 0], Order::C, &d)?;
    let small = vec![0.0f64; idx(N[0] - 1, N[1] - 1, N[2] - 1)];
    ensure_err!(Typed::new(&small, 1, &face), Error::InvalidArgument(_));
    // Layouts reaching below the start: negative stride, negative displacement.
    let down = Datatype::vector(2, 1, -2, &d)?;
    ensure_eq!(down.true_extent(), (-16, 24));
    ensure_err!(Typed::new(&m, 1, &down), Error::InvalidArgument(_));
    ensure_err!(Typed::new(&m[2..], 1, &down), Error::InvalidArgument(_));
    ensure_err!(Typed::with_offset(&m, 15, 1, &down), Error::InvalidArgument(_));
    let view = Typed::with_offset(&m, 16, 1, &down)?;
    ensure_eq!(view.count(), 1);
    ensure_err!(TypedMut::with_offset(&mut w, 8, 1, &down), Error::InvalidArgument(_));
    TypedMut::with_offset(&mut w, 16, 1, &down)?;
    // The end counts too, and an offset past the end is refused.
    ensure_err!(Typed::with_offset(&m, ROWS * COLS * 8 - 7, 1, &d), Error::InvalidArgument(_));
    Typed::with_offset(&m, ROWS * COLS * 8 - 8, 1, &d)?;
    ensure_err!(Typed::with_offset(&m, ROWS * COLS * 8 + 1, 0, &d), Error::InvalidArgument(_));
    let before = Datatype::hindexed(&[1], &[-8], &d)?;
    ensure_err!(Typed::new(&m, 1, &before), Error::InvalidArgument(_));
    Typed::with_offset(&m, 8, 1, &before)?;
    // A resized lb below 0 does not matter when the data itself is inside.
    let lb = Datatype::resized(-8, 16, &d)?;
    Typed::new(&m, 3, &lb)?;
    // Count 0 and empty types touch nothing, whatever the buffer.
    let empty: [f64; 0] = [];
    Typed::new(&empty, 0, &column)?;
    Typed::new(&empty, 5, &Datatype::contiguous(0, &d)?)?;
    ensure_err!(Typed::new(&empty, 1, &d), Error::InvalidArgument(_));
    // A view of a view is checked against the memory the first one spans.
    let pairs = vec![0.0f64; 10];
    let field = Datatype::resized(0, 16, &d)?;
    let view = Typed::new(&pairs, 5, &field)?;
    Typed::new(&view, 9, &d)?;
    ensure_err!(Typed::new(&view, 10, &d), Error::InvalidArgument(_));
    Ok(())
}

fn typed_mut_element_rules(env: &Environment) -> Result<()> {
    let world = env.world();
    let me = world.rank();
    let bools = Datatype::of::<bool>()?;
    let every_other = Datatype::vector(3, 1, 2, &bools)?;
    let mut flags = [false; 6];
    // Any message, file or window may hold bytes other than 0 and 1: no writable layout over
    // bools, whatever its items (the same layout over bytes works).
    let e = ensure_err!(TypedMut::new(&mut flags, 1, &every_other), Error::InvalidArgument(_));
    ensure!(e.to_string().contains("bool") && e.to_string().contains("u8"), "{e}");
    let mut raw = [0u8; 6];
    world.sendrecv(&[true, true, true], me, 13, &mut TypedMut::new(&mut raw, 1, &every_other)?, me, 13)?;
    ensure_eq!(raw, [1, 0, 1, 0, 1, 0]);
    let bytes = Datatype::contiguous(6, &Datatype::of::<u8>()?)?;
    let e = ensure_err!(TypedMut::new(&mut flags, 1, &bytes), Error::InvalidArgument(_));
    ensure!(e.to_string().contains("bool"), "{e}");
    // Reading bools as bytes is fine.
    Typed::new(&flags, 1, &bytes)?;
    // Derived element buffers are refused for writing.
    let mut pairs = [Pair::default(); 2];
    ensure_err!(
        TypedMut::new(&mut EquivalentMut(&mut pairs), 1, &Datatype::of::<u8>()?),
        Error::InvalidArgument(_)
    );
    Ok(())
}

fn bad_constructor_arguments(_env: &Environment) -> Result<()> {
    let d = f64s()?;
    let i = Datatype::of::<i32>()?;
    let arg = |r: Result<Datatype>| -> Result<String> {
        let e = ensure_err!(r, Error::InvalidArgument(_));
        Ok(e.to_string())
    };
    ensure!(arg(Datatype::indexed(&[1, 2], &[0], &d))?.contains("different lengths"));
    arg(Datatype::hindexed(&[1], &[0, 8], &d))?;
    arg(Datatype::create_struct(&[1, 1], &[0, 8], &[&d]))?;
    arg(Datatype::create_struct(&[1], &[0, 8], &[&d, &i]))?;
    ensure!(arg(Datatype::subarray(&[4, 5], &[2, 3], &[3, 0], Order::C, &d))?.contains("dimension 0"));
    arg(Datatype::subarray(&[4, 5], &[2, 6], &[0, 0], Order::C, &d))?;
    arg(Datatype::subarray(&[4, 5], &[0, 3], &[0, 0], Order::C, &d))?;
    arg(Datatype::subarray(&[4, 5], &[2], &[0, 0], Order::C, &d))?;
    arg(Datatype::subarray(&[], &[], &[], Order::C, &d))?;
    arg(Datatype::subarray(&[4], &[2], &[usize::MAX], Order::C, &d))?;
    let dd = [DARG_DEFAULT];
    arg(Datatype::darray(3, 3, &[10], &[Distrib::Block], &dd, &[3], Order::C, &d))?;
    arg(Datatype::darray(0, 0, &[10], &[Distrib::Block], &dd, &[3], Order::C, &d))?;
    ensure!(arg(Datatype::darray(4, 0, &[10], &[Distrib::Block], &dd, &[3], Order::C, &d))?.contains("grid"));
    arg(Datatype::darray(3, 0, &[10], &[Distrib::None], &dd, &[3], Order::C, &d))?;
    arg(Datatype::darray(3, 0, &[10], &[Distrib::Block], &[Darg::Value(3)], &[3], Order::C, &d))?;
    arg(Datatype::darray(3, 0, &[10], &[Distrib::Cyclic], &[Darg::Value(0)], &[3], Order::C, &d))?;
    arg(Datatype::darray(3, 0, &[0], &[Distrib::Block], &dd, &[3], Order::C, &d))?;
    arg(Datatype::darray(3, 0, &[10, 2], &[Distrib::Block], &dd, &[3], Order::C, &d))?;
    arg(Datatype::darray(1, 0, &[], &[], &[], &[], Order::C, &d))?;
    // Counts past an MPI int.
    let e = ensure_err!(Datatype::vector(1 << 31, 1, 1, &d), Error::CountOverflow { .. });
    ensure_eq!(e.class(), Some(ErrorClass::Count));
    ensure_err!(Datatype::contiguous(usize::MAX, &d), Error::CountOverflow { .. });
    ensure_err!(Datatype::indexed(&[1 << 31], &[0], &d), Error::CountOverflow { .. });
    Ok(())
}

fn pack_errors(env: &Environment) -> Result<()> {
    let world = env.world();
    let column = Datatype::vector(ROWS, 1, COLS as i32, &f64s()?)?;
    let m = vec![1.0f64; ROWS * COLS];
    let need = column.pack_size(1, world)?;
    // One byte short: refused, nothing written, position unchanged.
    let mut out = vec![0u8; need - 1];
    let mut pos = 0;
    let e = ensure_err!(column.pack(&m, 1, &mut out, &mut pos, world), Error::InvalidArgument(_));
    ensure!(e.to_string().contains("pack needs"), "{e}");
    ensure_eq!(pos, 0);
    ensure!(out.iter().all(|&b| b == 0));
    // Room, but not after the position; a position past the end.
    let mut out = vec![0u8; need];
    let mut pos = 1;
    ensure_err!(column.pack(&m, 1, &mut out, &mut pos, world), Error::InvalidArgument(_));
    let mut pos = need + 1;
    ensure_err!(column.pack(&m, 1, &mut out, &mut pos, world), Error::InvalidArgument(_));
    // The layout must fit the input, as for Typed.
    let mut pos = 0;
    ensure_err!(column.pack(&m[1..], 2, &mut out, &mut pos, world), Error::InvalidArgument(_));
    column.pack(&m, 1, &mut out, &mut pos, world)?;
    ensure_eq!(pos, ROWS * 8);
    // Unpacking more than the input holds, from past its end, or into too small an output.
    let mut target = vec![0.0f64; ROWS * COLS];
    let mut upos = 8;
    ensure_err!(column.unpack(&out[..pos], &mut upos, &mut target, 1, world), Error::InvalidArgument(_));
    let mut upos = pos + 1;
    ensure_err!(column.unpack(&out[..pos], &mut upos, &mut target, 1, world), Error::InvalidArgument(_));
    let mut upos = 0;
    ensure_err!(
        column.unpack(&out[..pos], &mut upos, &mut target[..ROWS], 1, world),
        Error::InvalidArgument(_)
    );
    ensure!(target.iter().all(|&x| x == 0.0));
    column.unpack(&out[..pos], &mut upos, &mut target, 1, world)?;
    ensure_eq!(upos, pos);
    ensure_eq!(target[COLS], 1.0);
    // Plain slices: a short output.
    let mut tiny = [0u8; 3];
    let mut p = 0;
    ensure_err!(pack(&[1i32], &mut tiny, &mut p, world), Error::InvalidArgument(_));
    let mut four = [0i32; 4];
    let mut p = 0;
    ensure_err!(unpack(&tiny, &mut p, &mut four, world), Error::InvalidArgument(_));
    Ok(())
}

/// A view whose touched range lies wholly below its origin (a negative displacement at
/// `with_offset`) is not empty: pack, send and unpack use its real bytes.
fn layout_below_origin_is_not_empty(env: &Environment) -> Result<()> {
    let world = env.world();
    let me = world.rank();
    let below = Datatype::hindexed(&[2], &[-16], &f64s()?)?;
    let a = [1.5f64, 2.5, 3.5, 4.5];
    let view = Typed::with_offset(&a, 16, 1, &below)?;
    let mut packed = [0u8; 16];
    let mut pos = 0;
    mpi4rs::pack(&view, &mut packed, &mut pos, world)?;
    ensure_eq!(pos, 16);
    let mut unpacked = [0.0f64; 2];
    let mut p = 0;
    mpi4rs::unpack(&packed, &mut p, &mut unpacked, world)?;
    ensure_eq!(unpacked, [1.5, 2.5]);
    let mut got = [0.0f64; 2];
    world.sendrecv(&view, me, 20, &mut got, me, 20)?;
    ensure_eq!(got, [1.5, 2.5]);
    // Writing through such a view: unpack and receive land below the origin.
    let mut b = [0.0f64; 4];
    let mut p = 0;
    mpi4rs::unpack(&packed, &mut p, &mut TypedMut::with_offset(&mut b, 16, 1, &below)?, world)?;
    ensure_eq!(b, [1.5, 2.5, 0.0, 0.0]);
    let mut c = [0.0f64; 4];
    world.sendrecv(&[7.0f64, 8.0], me, 21, &mut TypedMut::with_offset(&mut c, 32, 1, &below)?, me, 21)?;
    ensure_eq!(c, [0.0, 0.0, 7.0, 8.0]);
    // Zero items of it are empty, at any offset.
    world.sendrecv(&Typed::with_offset(&a, 16, 0, &below)?, me, 22, &mut [0.0f64; 0], me, 22)?;
    Ok(())
}
