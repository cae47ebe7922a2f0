//! Reduction operations: every predefined operation on the element types it applies to,
//! value-index pairs, f16/bf16 and complex, user operations (commutative or not), local
//! reductions, and every refused combination.
mod common;

use common::{rank_size, Suite};
use half::{bf16, f16};
use mpi4rs::prelude::*;
use mpi4rs::{BufferElement, Environment, Error, Result};
use num_complex::Complex;

fn main() {
    Suite::new("op")
        .case("predefined_on_integers", predefined_on_integers)
        .case("predefined_on_floats_and_bool", predefined_on_floats_and_bool)
        .case("half_precision", half_precision)
        .case("complex", complex)
        .case("maxloc_minloc", maxloc_minloc)
        .case("user_commutative", user_commutative)
        .case("user_non_commutative_keeps_rank_order", user_non_commutative_keeps_rank_order)
        .case("user_op_on_derived_struct", user_op_on_derived_struct)
        .case("reduce_local", reduce_local)
        .case("op_type_mismatches", op_type_mismatches)
        .case("user_op_slots", user_op_slots)
        .case("misaligned_views", misaligned_views)
        .run();
}

fn allreduce1<T: BufferElement + Default>(world: &Comm, x: T, op: &Op) -> Result<T> {
    let mut out = T::default();
    world.allreduce(&x, &mut out, op)?;
    Ok(out)
}

macro_rules! integer_ops {
    ($world:expr, $me:expr, $n:expr, $($t:ty),*) => {$({
        let (w, me, n) = ($world, $me, $n);
        let v = |r: i32| (r * 5 + 3) as $t; // 3, 8, 13, 18
        let all = (0..n).map(v);
        ensure_eq!(allreduce1(w, v(me), &Op::SUM)?, all.clone().fold(0 as $t, |a, b| a.wrapping_add(b)));
        ensure_eq!(allreduce1(w, v(me), &Op::PROD)?, all.clone().fold(1 as $t, |a, b| a.wrapping_mul(b)));
        ensure_eq!(allreduce1(w, v(me), &Op::MAX)?, all.clone().max().unwrap());
        ensure_eq!(allreduce1(w, v(me), &Op::MIN)?, all.clone().min().unwrap());
        ensure_eq!(allreduce1(w, v(me), &Op::BAND)?, all.clone().fold(!0 as $t, |a, b| a & b));
        ensure_eq!(allreduce1(w, v(me), &Op::BOR)?, all.clone().fold(0 as $t, |a, b| a | b));
        ensure_eq!(allreduce1(w, v(me), &Op::BXOR)?, all.clone().fold(0 as $t, |a, b| a ^ b));
        let t = |r: i32| (r % 2) as $t; // logical: 0, 1, 0, 1
        ensure_eq!(allreduce1(w, t(me), &Op::LAND)?, (n == 1 && false) as $t);
        ensure_eq!(allreduce1(w, t(me), &Op::LOR)?, (n > 1) as $t);
        ensure_eq!(allreduce1(w, t(me), &Op::LXOR)?, ((n / 2) % 2) as $t);
    })*};
}

fn predefined_on_integers(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    integer_ops!(world, me, n, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);
    Ok(())
}

fn predefined_on_floats_and_bool(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let v = |r: i32| r as f64 * 1.5 - 1.0;
    ensure_eq!(allreduce1(world, v(me), &Op::SUM)?, (0..n).map(v).sum::<f64>());
    ensure_eq!(allreduce1(world, v(me), &Op::PROD)?, (0..n).map(v).product::<f64>());
    ensure_eq!(allreduce1(world, v(me), &Op::MAX)?, v(n - 1));
    ensure_eq!(allreduce1(world, v(me) as f32, &Op::MIN)?, v(0) as f32);
    ensure_eq!(allreduce1(world, v(me) as f32, &Op::SUM)?, (0..n).map(|r| v(r) as f32).sum::<f32>());
    ensure_eq!(allreduce1(world, me % 2 == 0, &Op::LAND)?, n == 1);
    ensure_eq!(allreduce1(world, me % 2 == 1, &Op::LOR)?, n > 1);
    ensure_eq!(allreduce1(world, true, &Op::LXOR)?, n % 2 == 1);
    Ok(())
}

fn half_precision(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // Values exact in both formats: sums and products are exact as well.
    let v = |r: i32| 0.5 + r as f32;
    let send: Vec<f16> = (0..8).map(|i| f16::from_f32(v(me) * (i + 1) as f32)).collect();
    let mut sum = vec![f16::ZERO; 8];
    world.allreduce(&send, &mut sum, &Op::SUM)?;
    let want: Vec<f16> = (0..8).map(|i| f16::from_f32((0..n).map(v).sum::<f32>() * (i + 1) as f32)).collect();
    ensure_eq!(sum, want);
    ensure_eq!(allreduce1(world, bf16::from_f32(v(me)), &Op::PROD)?, bf16::from_f32((0..n).map(v).product()));
    ensure_eq!(allreduce1(world, bf16::from_f32(v(me)), &Op::MAX)?, bf16::from_f32(v(n - 1)));
    ensure_eq!(allreduce1(world, f16::from_f32(-v(me)), &Op::MIN)?, f16::from_f32(-v(n - 1)));
    // Each step rounds once, to nearest even: 2048 + 1 = 2048, 2048 + 3 = 2052 (f16 steps by
    // 2 there); bf16 steps by 2 at 256: 256 + 1 = 256, 256 + 3 = 260.
    let mut x = [f16::from_f32(2048.0); 2];
    Op::SUM.reduce_local(&[f16::ONE, f16::from_f32(3.0)], &mut x)?;
    ensure_eq!(x, [f16::from_f32(2048.0), f16::from_f32(2052.0)]);
    let mut y = [bf16::from_f32(256.0); 2];
    Op::SUM.reduce_local(&[bf16::ONE, bf16::from_f32(3.0)], &mut y)?;
    ensure_eq!(y, [bf16::from_f32(256.0), bf16::from_f32(260.0)]);
    // Nonblocking too.
    let mut y = bf16::ZERO;
    mpi4rs::scope(|s| world.iallreduce(s, &bf16::ONE, &mut y, &Op::SUM)?.wait().map(drop))?;
    ensure_eq!(y, bf16::from_f32(n as f32));
    Ok(())
}

fn complex(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let z = |r: i32| Complex::new(r as f64, 1.0);
    ensure_eq!(allreduce1(world, z(me), &Op::SUM)?, (0..n).map(z).sum::<Complex<f64>>());
    ensure_eq!(allreduce1(world, z(me), &Op::PROD)?, (0..n).map(z).product::<Complex<f64>>());
    let w = Complex::new(me as f32, -(me as f32));
    ensure_eq!(
        allreduce1(world, w, &Op::SUM)?,
        (0..n).map(|r| Complex::new(r as f32, -(r as f32))).sum::<Complex<f32>>()
    );
    ensure_err!(allreduce1(world, z(me), &Op::MAX), Error::InvalidOp(_));
    Ok(())
}

fn maxloc_minloc(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // Values 3, 1, 4, 1 (a tie for the minimum: the smaller index wins).
    let val = |r: i32| [3, 1, 4, 1][r as usize % 4];
    let mut out = ValueIndex::default();
    world.allreduce(&ValueIndex { value: val(me) as f64, index: me }, &mut out, &Op::MAXLOC)?;
    let best = (0..n).max_by_key(|&r| (val(r), -r)).unwrap();
    ensure_eq!(out, ValueIndex { value: val(best) as f64, index: best });
    let mut lows = [ValueIndex::<i32>::default(); 2];
    let mine = [ValueIndex { value: val(me), index: me }, ValueIndex { value: -me, index: me }];
    world.allreduce(&mine, &mut lows, &Op::MINLOC)?;
    let low = (0..n).min_by_key(|&r| (val(r), r)).unwrap();
    ensure_eq!(lows[0], ValueIndex { value: val(low), index: low });
    ensure_eq!(lows[1], ValueIndex { value: -(n - 1), index: n - 1 });
    let mut f = ValueIndex::<f32>::default();
    world.allreduce(&ValueIndex { value: me as f32, index: me }, &mut f, &Op::MAXLOC)?;
    ensure_eq!(f.index, n - 1);
    let mut s = vec![ValueIndex::<i16>::default(); 1];
    world.allreduce(&vec![ValueIndex { value: me as i16, index: me }], &mut s, &Op::MINLOC)?;
    ensure_eq!(s[0].index, 0);
    let mut l = ValueIndex::<i64>::default();
    world.allreduce(&ValueIndex { value: me as i64, index: me }, &mut l, &Op::MAXLOC)?;
    ensure_eq!(l.value, n as i64 - 1);
    ensure_err!(world.allreduce(&mine, &mut lows, &Op::SUM), Error::InvalidOp(_));
    Ok(())
}

fn user_commutative(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    // Maximum of absolute values, as a closure capturing a constant.
    let scale = 2i64;
    let absmax = UserOp::new(true, move |a: &[i64], b: &mut [i64]| {
        for (x, y) in a.iter().zip(b.iter_mut()) {
            *y = (*y).abs().max(x.abs() * scale / 2);
        }
    })?;
    ensure!(absmax.is_commutative());
    let send = [-(me as i64) * 3, me as i64];
    let mut out = [0i64; 2];
    world.allreduce(&send, &mut out, &absmax)?;
    ensure_eq!(out, [(n as i64 - 1) * 3, n as i64 - 1]);
    let mut r = [0i64; 2];
    world.reduce(&send, if me == 0 { Some(&mut r[..]) } else { None }, &absmax, 0)?;
    if me == 0 {
        ensure_eq!(r, out);
    }
    mpi4rs::scope(|s| world.iallreduce(s, &send, &mut out, &absmax)?.wait().map(drop))?;
    ensure_eq!(out, [(n as i64 - 1) * 3, n as i64 - 1]);
    Ok(())
}

/// 2x2 matrix products do not commute: the result must be M0 · M1 · … in rank order.
fn user_non_commutative_keeps_rank_order(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    fn mul(x: &[f64], y: &[f64]) -> [f64; 4] {
        [
            x[0] * y[0] + x[1] * y[2],
            x[0] * y[1] + x[1] * y[3],
            x[2] * y[0] + x[3] * y[2],
            x[2] * y[1] + x[3] * y[3],
        ]
    }
    let matmul = UserOp::new(false, |a: &[f64], b: &mut [f64]| {
        for (x, y) in a.chunks_exact(4).zip(b.chunks_exact_mut(4)) {
            let r = mul(x, y);
            y.copy_from_slice(&r);
        }
    })?;
    ensure!(!matmul.is_commutative());
    let m = |r: i32| [1.0, r as f64 + 1.0, 0.5 * r as f64, 1.0];
    let mut out = [0.0; 4];
    world.allreduce(&m(me), &mut out, &matmul)?;
    let want = (1..n).fold(m(0), |acc, r| mul(&acc, &m(r)));
    ensure_eq!(out, want);
    let mut prefix = [0.0; 4];
    world.scan(&m(me), &mut prefix, &matmul)?;
    ensure_eq!(prefix, (1..=me).fold(m(0), |acc, r| mul(&acc, &m(r))));
    Ok(())
}

#[derive(mpi::traits::Equivalence, Clone, Copy, Debug, Default, PartialEq)]
struct Stats {
    count: u64,
    total: f64,
}

fn user_op_on_derived_struct(env: &Environment) -> Result<()> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let merge = UserOp::new_equivalent(true, |a: &[Stats], b: &mut [Stats]| {
        for (x, y) in a.iter().zip(b.iter_mut()) {
            y.count += x.count;
            y.total += x.total;
        }
    })?;
    let mine = [Stats { count: 1, total: me as f64 }];
    let mut out = [Stats::default()];
    world.allreduce(&Equivalent(&mine), &mut EquivalentMut(&mut out), &merge)?;
    ensure_eq!(out[0], Stats { count: n as u64, total: (n * (n - 1) / 2) as f64 });
    // A predefined operation does not apply to a derived type.
    ensure_err!(
        world.allreduce(&Equivalent(&mine), &mut EquivalentMut(&mut out), &Op::SUM),
        Error::InvalidOp(_)
    );
    Ok(())
}

fn reduce_local(env: &Environment) -> Result<()> {
    let _ = env;
    let mut acc = [1.0f64, 2.0, 3.0];
    Op::SUM.reduce_local(&[10.0, 20.0, 30.0], &mut acc)?;
    ensure_eq!(acc, [11.0, 22.0, 33.0]);
    Op::MAX.reduce_local(&[f16::from_f32(5.0)], &mut [f16::ONE])?;
    let mut h = [f16::ONE, f16::from_f32(8.0)];
    Op::MAX.reduce_local(&[f16::from_f32(5.0), f16::from_f32(2.0)], &mut h)?;
    ensure_eq!(h, [f16::from_f32(5.0), f16::from_f32(8.0)]);
    let sub = UserOp::new(false, |a: &[i32], b: &mut [i32]| {
        for (x, y) in a.iter().zip(b.iter_mut()) {
            *y = *x - *y;
        }
    })?;
    let mut b = [1, 2];
    sub.reduce_local(&[10, 10], &mut b)?;
    ensure_eq!(b, [9, 8]);
    ensure_err!(Op::SUM.reduce_local(&[1i32, 2], &mut [0i32; 3]), Error::BufferLength { .. });
    ensure_err!(Op::SUM.reduce_local(&[1i32, 2], &mut [0u32; 2]), Error::InvalidArgument(_));
    ensure_err!(sub.reduce_local(&[1i64], &mut [0i64]), Error::InvalidOp(_));
    Ok(())
}

fn op_type_mismatches(env: &Environment) -> Result<()> {
    let world = env.world();
    let e = ensure_err!(allreduce1(world, true, &Op::SUM), Error::InvalidOp(_));
    ensure_eq!(e.class(), Some(mpi4rs::ErrorClass::Op));
    ensure_err!(allreduce1(world, 1.0f64, &Op::BAND), Error::InvalidOp(_));
    ensure_err!(allreduce1(world, 1.0f32, &Op::LAND), Error::InvalidOp(_));
    ensure_err!(allreduce1(world, f16::ONE, &Op::BXOR), Error::InvalidOp(_));
    ensure_err!(allreduce1(world, true, &Op::MAX), Error::InvalidOp(_));
    ensure_err!(allreduce1(world, 3i32, &Op::MAXLOC), Error::InvalidOp(_));
    ensure_err!(allreduce1(world, 3i32, &Op::REPLACE), Error::InvalidOp(_));
    ensure_err!(allreduce1(world, 3i32, &Op::NO_OP), Error::InvalidOp(_));
    let on_f32 = UserOp::new(true, |_: &[f32], _: &mut [f32]| {})?;
    ensure_err!(allreduce1(world, 3.0f64, &on_f32), Error::InvalidOp(_));
    let mut out = 0.0f64;
    mpi4rs::scope(|s| {
        ensure_err!(world.iallreduce(s, &3.0f64, &mut out, &on_f32), Error::InvalidOp(_));
        Ok(())
    })?;
    ensure_eq!(allreduce1(world, 3.0f32, &on_f32)?, 3.0); // the op leaves inout alone
    Ok(())
}

fn user_op_slots(env: &Environment) -> Result<()> {
    let _ = env;
    let mut ops = Vec::new();
    let err = loop {
        match UserOp::new(true, |_: &[u8], _: &mut [u8]| {}) {
            Ok(op) => ops.push(op),
            Err(e) => break e,
        }
    };
    ensure!(matches!(err, Error::InvalidOp(_)), "{err}");
    ensure!(ops.len() <= mpi4rs::op::MAX_USER_OPS);
    ops.pop();
    let again = UserOp::new(true, |_: &[u8], _: &mut [u8]| {})?; // a freed slot is reused
    drop(again);
    Ok(())
}

/// Views at a byte offset that is not a multiple of the element's alignment: user operations
/// and the f16/bf16 operations get aligned slices (or none), never misaligned ones.
fn misaligned_views(env: &Environment) -> Result<()> {
    let world = env.world();
    let (_, n) = rank_size(env);
    let f64s = mpi4rs::Datatype::of::<f64>()?;
    let bytes = |v: &[f64]| -> Vec<u8> {
        let mut b = vec![0u8; 1];
        b.extend(v.iter().flat_map(|x| x.to_ne_bytes()));
        b
    };
    let value = |b: &[u8], i: usize| f64::from_ne_bytes(b[1 + 8 * i..9 + 8 * i].try_into().unwrap());
    // The user's closure checks what it is given.
    let sum = UserOp::new(true, |a: &[f64], b: &mut [f64]| {
        assert!(a.as_ptr().is_aligned() && b.as_ptr().is_aligned());
        for (x, y) in a.iter().zip(b) {
            *y += x;
        }
    })?;
    let input = bytes(&[1.0, 2.0, 3.0]);
    let mut inout = bytes(&[10.0, 20.0, 30.0]);
    sum.reduce_local(
        &mpi4rs::Typed::with_offset(&input, 1, 3, &f64s)?,
        &mut mpi4rs::TypedMut::with_offset(&mut inout, 1, 3, &f64s)?,
    )?;
    ensure_eq!((value(&inout, 0), value(&inout, 1), value(&inout, 2)), (11.0, 22.0, 33.0));
    let mut all = bytes(&[0.0; 3]);
    world.allreduce(
        &mpi4rs::Typed::with_offset(&input, 1, 3, &f64s)?,
        &mut mpi4rs::TypedMut::with_offset(&mut all, 1, 3, &f64s)?,
        &sum,
    )?;
    ensure_eq!(value(&all, 2), 3.0 * n as f64);
    // f16 at an odd address, through the library's own operation.
    let f16s = mpi4rs::Datatype::of::<f16>()?;
    let mut h = vec![0u8; 5];
    h[1..3].copy_from_slice(&f16::from_f32(1.5).to_ne_bytes());
    h[3..5].copy_from_slice(&f16::from_f32(2.0).to_ne_bytes());
    let mut out = vec![0u8; 5];
    world.allreduce(
        &mpi4rs::Typed::with_offset(&h, 1, 2, &f16s)?,
        &mut mpi4rs::TypedMut::with_offset(&mut out, 1, 2, &f16s)?,
        &Op::SUM,
    )?;
    let half = |b: &[u8], i: usize| f16::from_ne_bytes([b[1 + 2 * i], b[2 + 2 * i]]);
    ensure_eq!(
        (half(&out, 0), half(&out, 1)),
        (f16::from_f32(1.5 * n as f32), f16::from_f32(2.0 * n as f32))
    );
    let mut acc = h.clone();
    Op::SUM.reduce_local(
        &mpi4rs::Typed::with_offset(&h, 1, 2, &f16s)?,
        &mut mpi4rs::TypedMut::with_offset(&mut acc, 1, 2, &f16s)?,
    )?;
    ensure_eq!((half(&acc, 0), half(&acc, 1)), (f16::from_f32(3.0), f16::from_f32(4.0)));
    Ok(())
}
