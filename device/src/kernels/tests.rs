//! Host fallbacks against known answers, the operation/type table, and the NVRTC compile check
//! of every kernel source.

use super::*;
use half::{bf16, f16};

fn bytes<T: Copy>(v: &[T]) -> Vec<u8> {
    // SAFETY: plain-old-data test values, read as bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)).to_vec() }
}

fn from_bytes<T: Copy + Default>(b: &[u8]) -> Vec<T> {
    let n = b.len() / std::mem::size_of::<T>();
    let mut v = vec![T::default(); n];
    // SAFETY: `v` holds exactly `b.len()` bytes of plain-old-data.
    unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), v.as_mut_ptr().cast::<u8>(), b.len()) };
    v
}

/// Runs `inout = input op inout` on the host and returns the new `inout`.
fn run<T: Copy + Default>(op: ReduceOp, dtype: DType, input: &[T], inout: &[T]) -> Vec<T> {
    let mut acc = bytes(inout);
    reduce_host(op, dtype, &mut acc, &bytes(input)).unwrap_or_else(|e| panic!("{op} on {dtype}: {e}"));
    from_bytes(&acc)
}

/// Integer known answers, on values picked to show wrapping, sign and logic.
macro_rules! int_case {
    ($t:ty, $d:expr) => {{
        let a: Vec<$t> = vec![0, 1, 5, <$t>::MAX, <$t>::MIN, 3, 0, 12];
        let b: Vec<$t> = vec![0, 0, 3, 1, <$t>::MAX, 2, 7, 10];
        let expect =
            |f: &dyn Fn($t, $t) -> $t| -> Vec<$t> { a.iter().zip(&b).map(|(&x, &y)| f(x, y)).collect() };
        let t = |x: bool| x as $t;
        let cases: [(ReduceOp, Vec<$t>); 10] = [
            (ReduceOp::Sum, expect(&|x, y| x.wrapping_add(y))),
            (ReduceOp::Prod, expect(&|x, y| x.wrapping_mul(y))),
            (ReduceOp::Max, expect(&|x, y| if x > y { x } else { y })),
            (ReduceOp::Min, expect(&|x, y| if x < y { x } else { y })),
            (ReduceOp::Land, expect(&|x, y| t(x != 0 && y != 0))),
            (ReduceOp::Lor, expect(&|x, y| t(x != 0 || y != 0))),
            (ReduceOp::Lxor, expect(&|x, y| t((x != 0) ^ (y != 0)))),
            (ReduceOp::Band, expect(&|x, y| x & y)),
            (ReduceOp::Bor, expect(&|x, y| x | y)),
            (ReduceOp::Bxor, expect(&|x, y| x ^ y)),
        ];
        for (op, want) in cases {
            assert_eq!(run(op, $d, &a, &b), want, "{op} on {}", $d);
        }
        // Literal answers for the wrapping and signed cases.
        let s = run(ReduceOp::Sum, $d, &a, &b);
        assert_eq!((s[2], s[3], s[4]), (8, <$t>::MIN, <$t>::MAX.wrapping_add(<$t>::MIN)));
        assert_eq!(run(ReduceOp::Lxor, $d, &a, &b)[..4], [0, 1, 0, 0]);
        assert_eq!(run(ReduceOp::Band, $d, &a, &b)[7], 8);
        assert_eq!(run(ReduceOp::Max, $d, &a, &b)[4], <$t>::MAX);
    }};
}

#[test]
fn integers_every_operation() {
    int_case!(i8, DType::I8);
    int_case!(i16, DType::I16);
    int_case!(i32, DType::I32);
    int_case!(i64, DType::I64);
    int_case!(u8, DType::U8);
    int_case!(u16, DType::U16);
    int_case!(u32, DType::U32);
    int_case!(u64, DType::U64);
    // Literal wrapping answers.
    assert_eq!(run(ReduceOp::Sum, DType::I8, &[127i8], &[1]), [-128]);
    assert_eq!(run(ReduceOp::Prod, DType::U8, &[200u8], &[2]), [144]);
    assert_eq!(run(ReduceOp::Prod, DType::I32, &[-3i32], &[7]), [-21]);
    assert_eq!(run(ReduceOp::Min, DType::I64, &[-3i64], &[7]), [-3]);
    assert_eq!(run(ReduceOp::Max, DType::U64, &[u64::MAX], &[7]), [u64::MAX]);
}

#[test]
fn bools_logical_operations() {
    let a = [0u8, 0, 1, 1, 2];
    let b = [0u8, 1, 0, 1, 1];
    assert_eq!(run(ReduceOp::Land, DType::Bool, &a, &b), [0, 0, 0, 1, 1]);
    assert_eq!(run(ReduceOp::Lor, DType::Bool, &a, &b), [0, 1, 1, 1, 1]);
    assert_eq!(run(ReduceOp::Lxor, DType::Bool, &a, &b), [0, 1, 1, 0, 0]);
    let t = [true, false];
    assert_eq!(run(ReduceOp::Land, DType::Bool, &t, &[true, true]), [true, false]);
}

#[test]
fn floats_every_operation() {
    let a = [1.5f64, -2.0, 0.25, f64::NAN, 3.0];
    let b = [2.0f64, 4.0, -8.0, 1.0, f64::INFINITY];
    let sum = [3.5, 2.0, -7.75, f64::NAN, f64::INFINITY];
    let prod = [3.0, -8.0, -2.0, f64::NAN, f64::INFINITY];
    let max = [2.0, 4.0, 0.25, 1.0, f64::INFINITY];
    let min = [1.5, -2.0, -8.0, 1.0, 3.0];
    let same = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| p == q || (p.is_nan() && q.is_nan()));
    for (op, want) in
        [(ReduceOp::Sum, sum), (ReduceOp::Prod, prod), (ReduceOp::Max, max), (ReduceOp::Min, min)]
    {
        assert!(same(&run(op, DType::F64, &a, &b), &want), "{op} f64");
        let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
        let b32: Vec<f32> = b.iter().map(|&x| x as f32).collect();
        let got: Vec<f64> = run(op, DType::F32, &a32, &b32).iter().map(|&x| x as f64).collect();
        assert!(same(&got, &want), "{op} f32");
        let a16: Vec<f16> = a.iter().map(|&x| f16::from_f64(x)).collect();
        let b16: Vec<f16> = b.iter().map(|&x| f16::from_f64(x)).collect();
        let got: Vec<f64> = run(op, DType::F16, &a16, &b16).iter().map(|x| x.to_f64()).collect();
        assert!(same(&got, &want), "{op} f16: {got:?}");
        let ab: Vec<bf16> = a.iter().map(|&x| bf16::from_f64(x)).collect();
        let bb: Vec<bf16> = b.iter().map(|&x| bf16::from_f64(x)).collect();
        let got: Vec<f64> = run(op, DType::BF16, &ab, &bb).iter().map(|x| x.to_f64()).collect();
        assert!(same(&got, &want), "{op} bf16: {got:?}");
    }
    // 16-bit results are rounded to nearest even from the f32 result.
    let one = f16::from_f32(1.0);
    let ulp_half = f16::from_f32(2f32.powi(-11)); // half an f16 ulp at 1.0: a tie, to even
    assert_eq!(run(ReduceOp::Sum, DType::F16, &[one], &[ulp_half]), [one]);
    let three_q = f16::from_f32(3.0 * 2f32.powi(-11)); // 1.5 half-ulps: rounds up
    assert_eq!(
        run(ReduceOp::Sum, DType::F16, &[one], &[three_q]),
        [f16::from_f32(1.0 + 2f32.powi(-10) * 2.0)]
    );
    let b1 = bf16::from_f32(1.0);
    assert_eq!(run(ReduceOp::Sum, DType::BF16, &[b1], &[bf16::from_f32(2f32.powi(-8))]), [b1]);
    assert_eq!(
        run(ReduceOp::Prod, DType::BF16, &[bf16::from_f32(3.0)], &[bf16::from_f32(-0.5)]),
        [bf16::from_f32(-1.5)]
    );
    assert_eq!(run(ReduceOp::Sum, DType::F16, &[f16::MAX], &[f16::MAX]), [f16::INFINITY]);
}

#[test]
fn complex_sum_and_product() {
    use num_complex::Complex;
    let a = [Complex::new(1.0f64, 2.0), Complex::new(-1.5, 0.5)];
    let b = [Complex::new(3.0f64, -1.0), Complex::new(2.0, 4.0)];
    assert_eq!(run(ReduceOp::Sum, DType::C64, &a, &b), [Complex::new(4.0, 1.0), Complex::new(0.5, 4.5)]);
    // (1+2i)(3-i) = 5+5i; (-1.5+0.5i)(2+4i) = -5-5i
    assert_eq!(run(ReduceOp::Prod, DType::C64, &a, &b), [Complex::new(5.0, 5.0), Complex::new(-5.0, -5.0)]);
    let a32: Vec<Complex<f32>> = a.iter().map(|c| Complex::new(c.re as f32, c.im as f32)).collect();
    let b32: Vec<Complex<f32>> = b.iter().map(|c| Complex::new(c.re as f32, c.im as f32)).collect();
    assert_eq!(run(ReduceOp::Sum, DType::C32, &a32, &b32), [Complex::new(4.0, 1.0), Complex::new(0.5, 4.5)]);
    assert_eq!(
        run(ReduceOp::Prod, DType::C32, &a32, &b32),
        [Complex::new(5.0, 5.0), Complex::new(-5.0, -5.0)]
    );
}

#[test]
fn every_valid_pair_runs_and_every_invalid_pair_is_refused() {
    let mut valid = 0;
    for op in ReduceOp::ALL {
        for dtype in DTYPES {
            let n = 3 * dtype.size();
            let mut acc = vec![0u8; n];
            let res = reduce_host(op, dtype, &mut acc, &vec![1u8; n]);
            if op.valid_for(dtype) {
                valid += 1;
                res.unwrap_or_else(|e| panic!("{op} on {dtype}: {e}"));
                assert_eq!(
                    reduce_kernel_name(op, dtype).unwrap(),
                    format!("mpi4rs_reduce_{op}_{}", type_suffix(dtype))
                );
            } else {
                assert!(matches!(res, Err(DeviceError::Unsupported(_))), "{op} on {dtype} accepted");
                assert!(reduce_kernel_name(op, dtype).is_err());
                assert_eq!(acc, vec![0u8; n], "a refused call wrote");
            }
        }
    }
    // 8 integer types x 10 + bool x 3 + 4 floats x 4 + 2 complex x 2.
    assert_eq!(valid, 80 + 3 + 16 + 4);
    assert_eq!(KernelFile::Reduce.entry_names().len(), valid);
    // Spot checks of the MPI table.
    assert!(!ReduceOp::Max.valid_for(DType::C32));
    assert!(!ReduceOp::Sum.valid_for(DType::Bool));
    assert!(!ReduceOp::Band.valid_for(DType::Bool));
    assert!(!ReduceOp::Land.valid_for(DType::F32));
    assert!(ReduceOp::Bxor.valid_for(DType::U16));
}

#[test]
fn mismatched_or_partial_buffers_are_refused() {
    let mut acc = vec![0u8; 8];
    assert!(matches!(
        reduce_host(ReduceOp::Sum, DType::I32, &mut acc, &[0u8; 4]),
        Err(DeviceError::Unsupported(_))
    ));
    let mut odd = vec![0u8; 6];
    assert!(matches!(
        reduce_host(ReduceOp::Sum, DType::I32, &mut odd, &[0u8; 6]),
        Err(DeviceError::Unsupported(_))
    ));
    assert!(reduce_host(ReduceOp::Sum, DType::C64, &mut [], &[]).is_ok());
}

#[test]
fn unaligned_host_bytes_work() {
    let a = bytes(&[1.0f64, 2.0]);
    let mut buf = [0u8; 17];
    buf[1..].copy_from_slice(&bytes(&[10.0f64, 20.0]));
    reduce_host(ReduceOp::Sum, DType::F64, &mut buf[1..], &a).unwrap();
    assert_eq!(from_bytes::<f64>(&buf[1..]), [11.0, 22.0]);
}

#[test]
fn strided_pack_and_unpack() {
    let src: Vec<u8> = (0..20).collect();
    // 3 blocks of 2 bytes every 5 bytes.
    let layout = Strided { count: 3, block_bytes: 2, stride: 5 };
    assert_eq!(layout.packed_bytes(), Some(6));
    let mut packed = vec![0u8; 6];
    pack_strided_host(&mut packed, &src, 0, layout).unwrap();
    assert_eq!(packed, [0, 1, 5, 6, 10, 11]);
    let mut back = vec![0xffu8; 20];
    unpack_strided_host(&mut back, 0, &packed, layout).unwrap();
    assert_eq!(&back[..12], &[0, 1, 255, 255, 255, 5, 6, 255, 255, 255, 10, 11]);
    // A negative stride: block 0 at byte 15, then 10, then 5.
    let rev = Strided { count: 3, block_bytes: 3, stride: -5 };
    let mut packed = vec![0u8; 9];
    pack_strided_host(&mut packed, &src, 15, rev).unwrap();
    assert_eq!(packed, [15, 16, 17, 10, 11, 12, 5, 6, 7]);
    // Out of range and short buffers are errors, not panics.
    assert!(pack_strided_host(&mut packed, &src, 5, rev).is_err());
    assert!(pack_strided_host(&mut [0u8; 5], &src, 0, layout).is_err());
    let huge = Strided { count: usize::MAX, block_bytes: 2, stride: 1 };
    assert!(pack_strided_host(&mut packed, &src, 0, huge).is_err());
    assert!(unpack_strided_host(&mut [0u8; 8], 0, &[0u8; 6], layout).is_err());
}

#[test]
fn indexed_pack_and_unpack() {
    let src: Vec<u8> = (0..16).collect();
    let blocks = [(12isize, 2usize), (0, 3), (7, 1)];
    let mut packed = vec![0u8; 6];
    pack_indexed_host(&mut packed, &src, &blocks).unwrap();
    assert_eq!(packed, [12, 13, 0, 1, 2, 7]);
    let mut back = vec![0u8; 16];
    unpack_indexed_host(&mut back, &packed, &blocks).unwrap();
    assert_eq!(back, [0, 1, 2, 0, 0, 0, 0, 7, 0, 0, 0, 0, 12, 13, 0, 0]);
    assert!(pack_indexed_host(&mut packed, &src, &[(-1, 2)]).is_err());
    assert!(pack_indexed_host(&mut packed, &src, &[(15, 2)]).is_err());
    assert!(unpack_indexed_host(&mut back, &packed[..2], &blocks).is_err());
}

#[test]
fn units_and_arch_choice() {
    assert_eq!(unit_for([16usize, 32, 48].into_iter()), 16);
    assert_eq!(unit_for([8usize, 16, 4096].into_iter()), 8);
    assert_eq!(unit_for([6usize, 12].into_iter()), 2);
    assert_eq!(unit_for([3usize].into_iter()), 1);
    assert_eq!(choose_arch(86, &[75, 80, 86, 90]).unwrap(), 86);
    assert_eq!(choose_arch(121, &[75, 80, 90, 100, 120]).unwrap(), 120);
    assert_eq!(choose_arch(80, &[]).unwrap(), 80);
    assert!(choose_arch(50, &[75, 80]).is_err());
    assert_eq!(compile_options(Target::Ptx(80))[0], "--gpu-architecture=compute_80");
    assert_eq!(compile_options(Target::Cubin(90))[0], "--gpu-architecture=sm_90");
}

#[test]
fn device_calls_without_a_device_are_errors() {
    if crate::cuda::probe().is_ok() {
        return;
    }
    let mut x = [0f32; 4];
    // SAFETY: never dereferenced: without a driver the call returns before any launch.
    let res = unsafe {
        reduce_device(
            ReduceOp::Sum,
            DType::F32,
            x.as_mut_ptr().cast(),
            x.as_ptr().cast(),
            4,
            0,
            StreamRef::DEFAULT,
        )
    };
    assert!(matches!(res, Err(DeviceError::NoCuda(_) | DeviceError::Nvrtc(_))), "{res:?}");
    // SAFETY: as above.
    let res = unsafe {
        reduce_device(
            ReduceOp::Band,
            DType::F32,
            x.as_mut_ptr().cast(),
            x.as_ptr().cast(),
            4,
            0,
            StreamRef::DEFAULT,
        )
    };
    assert!(matches!(res, Err(DeviceError::Unsupported(_))));
    let layout = Strided { count: 2, block_bytes: 4, stride: 8 };
    // SAFETY: as above.
    let res =
        unsafe { pack_strided(x.as_mut_ptr().cast(), x.as_ptr().cast(), layout, 0, StreamRef::DEFAULT) };
    assert!(res.is_err());
    // SAFETY: as above.
    let res =
        unsafe { unpack_indexed(x.as_mut_ptr().cast(), x.as_ptr().cast(), &[(0, 4)], 0, StreamRef::DEFAULT) };
    assert!(res.is_err());
}

/// The architectures to check: compute_75 and compute_90 where supported, else the oldest and
/// newest this NVRTC knows.
fn check_archs() -> Vec<u32> {
    let supported = nvrtc::supported_archs().unwrap_or_default();
    if supported.is_empty() {
        return vec![75];
    }
    let mut archs: Vec<u32> = [75, 90].into_iter().filter(|a| supported.contains(&(*a as i32))).collect();
    if archs.is_empty() {
        archs = vec![*supported.iter().min().unwrap() as u32, *supported.iter().max().unwrap() as u32];
    }
    archs.dedup();
    archs
}

/// Compiles every kernel file with NVRTC and checks its PTX has exactly the expected entries.
/// Skips (with the reason) where NVRTC is absent, unless `MPI4RS_REQUIRE_NVRTC=1` (CI).
#[test]
fn every_kernel_compiles_with_nvrtc() {
    let required = crate::env::bool_var("MPI4RS_REQUIRE_NVRTC").unwrap().unwrap_or(false);
    let (major, minor) = match nvrtc::probe() {
        Ok(v) => v,
        Err(e) if required => panic!("MPI4RS_REQUIRE_NVRTC=1 but NVRTC is unusable: {e}"),
        Err(e) => {
            eprintln!("SKIPPED every_kernel_compiles_with_nvrtc: {e}");
            return;
        }
    };
    eprintln!("NVRTC {major}.{minor} from {}", nvrtc::library_path().unwrap_or("?"));
    for arch in check_archs() {
        for file in KernelFile::ALL {
            let ptx =
                ptx(file, arch).unwrap_or_else(|e| panic!("{} for compute_{arch}: {e}", file.file_name()));
            let entries: Vec<&str> = ptx
                .lines()
                .filter_map(|l| l.split_once(".entry ").map(|(_, rest)| rest))
                .map(|rest| rest.trim_end_matches(|c: char| c == '(' || c.is_whitespace()))
                .collect();
            let expected = file.entry_names();
            for name in &expected {
                assert!(
                    entries.contains(&name.as_str()),
                    "{} for compute_{arch}: no .entry {name}",
                    file.file_name()
                );
            }
            assert_eq!(entries.len(), expected.len(), "{}: unexpected entries {entries:?}", file.file_name());
            eprintln!(
                "{} compute_{arch}: {} kernels, {} bytes of PTX",
                file.file_name(),
                entries.len(),
                ptx.len()
            );
        }
    }
}

/// On a machine with a GPU and NVRTC: every device kernel against its host fallback. Skips
/// (with the reason) elsewhere.
#[cfg(feature = "cuda")]
mod gpu {
    use super::*;
    use cudarc::driver::{result, sys};

    /// Device memory for a test, freed on drop.
    struct Dev(sys::CUdeviceptr);
    impl Dev {
        fn with(bytes: &[u8]) -> Dev {
            // SAFETY: a fresh allocation of the host slice's size, filled from it.
            unsafe {
                let p = result::malloc_sync(bytes.len().max(1)).unwrap();
                if !bytes.is_empty() {
                    result::memcpy_htod_sync(p, bytes).unwrap();
                }
                Dev(p)
            }
        }
        fn read(&self, n: usize) -> Vec<u8> {
            let mut out = vec![0u8; n];
            result::ctx::synchronize().unwrap();
            // SAFETY: the allocation holds at least `n` bytes.
            unsafe { result::memcpy_dtoh_sync(&mut out, self.0).unwrap() };
            out
        }
        fn ptr(&self) -> *mut c_void {
            self.0 as *mut c_void
        }
    }
    impl Drop for Dev {
        fn drop(&mut self) {
            // SAFETY: ours, freed once.
            let _ = unsafe { result::free_sync(self.0) };
        }
    }

    fn ready() -> bool {
        let reason = match (crate::cuda::probe(), nvrtc::probe()) {
            (Ok(_), Ok(_)) => {
                let Ok(ctx) = crate::cuda::context(0) else { return false };
                if ctx.bind_to_thread().is_err() {
                    return false;
                }
                // The CPU double of the driver (tests/cuda-double) loads no kernel: the host
                // fallbacks run instead, which is what it checks. On a GPU nothing is skipped.
                if ctx.name().is_ok_and(|n| n.starts_with("CUDA driver double")) {
                    eprintln!("SKIPPED (the CUDA driver double runs no kernel; a GPU does)");
                    return false;
                }
                return true;
            }
            (Err(e), _) | (_, Err(e)) => e.to_string(),
        };
        eprintln!("SKIPPED (needs a GPU and NVRTC): {reason}");
        false
    }

    /// Deterministic test data: finite values for floats, 0/1/2 for bool, any bits for ints.
    fn data(dtype: DType, n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut next = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x >> 16
        };
        let mut out = Vec::with_capacity(n * dtype.size());
        for _ in 0..n {
            let small = ((next() % 2001) as f64 - 1000.0) / 8.0;
            match dtype {
                DType::Bool => out.push((next() % 3) as u8),
                DType::F16 => out.extend(f16::from_f64(small).to_bits().to_ne_bytes()),
                DType::BF16 => out.extend(bf16::from_f64(small).to_bits().to_ne_bytes()),
                DType::F32 => out.extend((small as f32).to_ne_bytes()),
                DType::F64 | DType::C32 | DType::C64 => {
                    let parts = if dtype == DType::F64 { 1 } else { 2 };
                    for p in 0..parts {
                        let v = if p == 0 { small } else { ((next() % 2001) as f64 - 1000.0) / 16.0 };
                        if dtype == DType::C32 {
                            out.extend((v as f32).to_ne_bytes());
                        } else {
                            out.extend(v.to_ne_bytes());
                        }
                    }
                }
                _ => out.extend(&next().to_ne_bytes()[..dtype.size()]),
            }
        }
        out
    }

    #[test]
    fn reductions_match_the_host() {
        if !ready() {
            return;
        }
        let n = 100_003;
        for op in ReduceOp::ALL {
            for dtype in DTYPES.into_iter().filter(|&d| op.valid_for(d)) {
                let a = data(dtype, n, 1);
                let b = data(dtype, n, 2);
                let (da, db) = (Dev::with(&a), Dev::with(&b));
                // SAFETY: both allocations hold `n` elements.
                unsafe { reduce_device(op, dtype, db.ptr(), da.ptr(), n, 0, StreamRef::DEFAULT) }
                    .unwrap_or_else(|e| panic!("{op} on {dtype}: {e}"));
                let mut want = b.clone();
                reduce_host(op, dtype, &mut want, &a).unwrap();
                assert!(db.read(want.len()) == want, "{op} on {dtype}: device and host differ");
            }
        }
    }

    #[test]
    fn packing_matches_the_host() {
        if !ready() {
            return;
        }
        let src: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 + i / 251) as u8).collect();
        let dsrc = Dev::with(&src);
        for (block, stride, origin) in
            [(8usize, 24isize, 0usize), (16, 48, 0), (3, 7, 0), (12, 32, 4), (8, -16, 16_000)]
        {
            let layout = Strided { count: 1000, block_bytes: block, stride };
            let bytes = layout.packed_bytes().unwrap();
            let dpacked = Dev::with(&vec![0u8; bytes]);
            // SAFETY: the layout lies inside `src` from `origin`.
            unsafe {
                let s = dsrc.ptr().cast::<u8>().add(origin).cast();
                pack_strided(dpacked.ptr(), s, layout, 0, StreamRef::DEFAULT).unwrap();
            }
            let mut want = vec![0u8; bytes];
            pack_strided_host(&mut want, &src, origin, layout).unwrap();
            assert!(dpacked.read(bytes) == want, "pack_strided {layout:?}");
            let dout = Dev::with(&vec![0u8; src.len()]);
            // SAFETY: as above.
            unsafe {
                let d = dout.ptr().cast::<u8>().add(origin).cast();
                unpack_strided(d, dpacked.ptr(), layout, 0, StreamRef::DEFAULT).unwrap();
            }
            let mut want = vec![0u8; src.len()];
            unpack_strided_host(&mut want, origin, &dpacked.read(bytes), layout).unwrap();
            assert!(dout.read(src.len()) == want, "unpack_strided {layout:?}");
        }
        for unit in [1usize, 2, 4, 8, 16, 3] {
            let blocks: Vec<(isize, usize)> =
                (0..500).map(|i| (((i * 7919) % 4000 * 256) as isize, unit * (1 + i % 9))).collect();
            let bytes: usize = blocks.iter().map(|b| b.1).sum();
            let dpacked = Dev::with(&vec![0u8; bytes]);
            // SAFETY: every block lies inside `src`.
            unsafe { pack_indexed(dpacked.ptr(), dsrc.ptr(), &blocks, 0, StreamRef::DEFAULT).unwrap() };
            let mut want = vec![0u8; bytes];
            pack_indexed_host(&mut want, &src, &blocks).unwrap();
            assert!(dpacked.read(bytes) == want, "pack_indexed unit {unit}");
            let dout = Dev::with(&vec![0u8; src.len()]);
            // SAFETY: as above.
            unsafe { unpack_indexed(dout.ptr(), dpacked.ptr(), &blocks, 0, StreamRef::DEFAULT).unwrap() };
            let mut want = vec![0u8; src.len()];
            unpack_indexed_host(&mut want, &dpacked.read(bytes), &blocks).unwrap();
            assert!(dout.read(src.len()) == want, "unpack_indexed unit {unit}");
        }
    }

    /// Gathering and scattering blocks move only their bytes, with the kernels (a GPU) or one
    /// copy per block (the driver double, or without NVRTC): device holes keep their bytes.
    #[test]
    fn blocks_move_only_their_bytes() {
        if crate::cuda::probe().is_err()
            || crate::cuda::context(0)
                .and_then(|c| c.bind_to_thread().map_err(|e| crate::DeviceError::NoCuda(format!("{e:?}"))))
                .is_err()
        {
            eprintln!("SKIPPED (needs a CUDA driver)");
            return;
        }
        let len = 4096usize;
        // Irregular blocks (the indexed kernels) and a column (the strided ones).
        for blocks in [
            (0..100).map(|i| (i * 40 + 3, 1 + i % 17)).collect::<Vec<_>>(),
            (0..100).map(|i| (i * 40 + 8, 8)).collect(),
        ] {
            blocks_round_trip(len, &blocks);
        }
    }

    fn blocks_round_trip(len: usize, blocks: &[(usize, usize)]) {
        let src: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
        let dsrc = Dev::with(&src);
        let mut host = vec![0xEEu8; len];
        // SAFETY: both buffers hold `len` bytes.
        let how = unsafe { gather_blocks(0, StreamRef::DEFAULT, dsrc.ptr(), host.as_mut_ptr(), len, blocks) }
            .unwrap();
        assert_ne!(how, BlockMethod::Nothing);
        for &(off, n) in blocks {
            assert_eq!(&host[off..off + n], &src[off..off + n], "gathered block at {off}");
        }
        let mut staged: Vec<u8> = (0..len).map(|i| (i * 3) as u8).collect();
        let sent = staged.clone();
        let dout = Dev::with(&vec![0x5Au8; len]);
        // SAFETY: both buffers hold `len` bytes; `staged` outlives the copies (read waits).
        unsafe { scatter_blocks(0, StreamRef::DEFAULT, dout.ptr(), staged.as_mut_ptr(), len, blocks) }
            .unwrap();
        let got = dout.read(len);
        let mut want = vec![0x5Au8; len];
        for &(off, n) in blocks {
            want[off..off + n].copy_from_slice(&sent[off..off + n]);
        }
        assert!(got == want, "scattered blocks, holes untouched");
        eprintln!("blocks moved by {how:?}");
    }
}
