//! Strided 3 x 4 tensors for the strided-tensor cases (tests/strided.rs, tests/device.rs):
//! their values, the views they are received into, DLPack import of host tensors.

use mpi4rs::device::dlpack::{export, export_mut, StridedTensor};
use mpi4rs::Result;

/// The value of logical element `(i, j)` of rank `r`'s 3 x 4 tensor.
pub fn value(r: i32, i: usize, j: usize) -> f64 {
    (r * 1000) as f64 + (i * 10 + j) as f64
}

/// Rank `r`'s 3 x 4 tensor stored in Fortran (column-major) order.
pub fn fortran(r: i32) -> Vec<f64> {
    let mut v = vec![0.0; 12];
    for i in 0..3 {
        for j in 0..4 {
            v[j * 3 + i] = value(r, i, j);
        }
    }
    v
}

/// Imports `data` as a DLPack tensor with `shape`, `strides`, first element at `offset`.
pub fn tensor(
    data: Vec<f64>,
    shape: &[usize],
    strides: &[isize],
    offset: usize,
    writable: bool,
) -> Result<StridedTensor> {
    let mut e = if writable { export_mut(data) } else { export(data) };
    e.restride(shape, strides, offset)?;
    // SAFETY: straight from export, handed over once.
    Ok(unsafe { StridedTensor::from_versioned(e.into_raw()) }?)
}

/// The whole storage of a host tensor exported from a vector of `n` f64.
pub fn storage(t: &StridedTensor, n: usize) -> Vec<f64> {
    // SAFETY: the tensor's data is the exported vector of `n` elements, alive with `t`, and no
    // operation is writing it now.
    unsafe { std::slice::from_raw_parts(t.dl_tensor().data.cast::<f64>(), n) }.to_vec()
}

/// Where logical element `(i, j)` of the views below lies in their storage.
pub const SLICE: (usize, [isize; 2], usize) = (7, [6, 1], 30); // rows 1..4, columns 1..5 of 5 x 6
pub const REVERSED: (usize, [isize; 2], usize) = (11, [-1, -3], 12); // a Fortran 3 x 4, both axes reversed

pub fn at(view: (usize, [isize; 2], usize), i: usize, j: usize) -> usize {
    (view.0 as isize + i as isize * view.1[0] + j as isize * view.1[1]) as usize
}

/// `fill` everywhere but the view's elements, which hold rank `r`'s values.
pub fn expected(view: (usize, [isize; 2], usize), fill: f64, r: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    let mut want = vec![fill; view.2];
    for i in 0..3 {
        for j in 0..4 {
            want[at(view, i, j)] = r(i, j);
        }
    }
    want
}
