// mpi4rs: elementwise reductions for MPI's predefined operations on device buffers.
//
// Every kernel computes `inout[i] = op(in[i], inout[i])` for 0 <= i < n (MPI's semantics:
// inout = in op inout) with a grid-stride loop and 64-bit counts. Kernels are `extern "C"`
// and named `mpi4rs_reduce_<op>_<type>`:
//   op   : sum prod max min land lor lxor band bor bxor
//   type : i8 i16 i32 i64 u8 u16 u32 u64 bool f16 bf16 f32 f64 c32 c64
// and exist only where MPI defines the operation on the type:
//   integers : all ten operations
//   bool     : land lor lxor
//   floats   : sum prod max min (f16 and bf16 computed in f32, rounded to nearest even)
//   complex  : sum prod
// The Rust side (device/src/kernels.rs, ReduceOp::valid_for) holds the same table, and a test
// checks that the compiled PTX has exactly these entries.
//
// The file includes no header: NVRTC has no cuda_fp16.h built in (and the PyPI NVRTC wheel
// ships none), so the two 16-bit float types are plain structs converted with inline PTX
// (f16) or bit manipulation (bf16). Compiled with --fmad=false so float results are the ones
// the host fallback computes (no fused multiply-add in the complex product).

// ---- storage types --------------------------------------------------------------------------

struct mpi4rs_bool { unsigned char v; };            // one byte, 0 or 1 (nonzero read as true)
struct __align__(2) mpi4rs_f16 { unsigned short bits; };  // IEEE binary16
struct __align__(2) mpi4rs_bf16 { unsigned short bits; }; // bfloat16
struct mpi4rs_c32 { float re, im; };                 // num_complex::Complex<f32> layout
struct mpi4rs_c64 { double re, im; };                // Complex<f64>: 8-byte aligned, like Rust

// ---- 16-bit float conversions ---------------------------------------------------------------

__device__ __forceinline__ float f16_to_f32(mpi4rs_f16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.bits));
    return f;
}

__device__ __forceinline__ mpi4rs_f16 f32_to_f16(float f) {
    mpi4rs_f16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(f));
    return h;
}

__device__ __forceinline__ float bf16_to_f32(mpi4rs_bf16 h) {
    return __uint_as_float(((unsigned int)h.bits) << 16);
}

// Round to nearest even; NaN stays NaN (quieted), as half::bf16::from_f32 does.
__device__ __forceinline__ mpi4rs_bf16 f32_to_bf16(float f) {
    unsigned int u = __float_as_uint(f);
    mpi4rs_bf16 h;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        h.bits = (unsigned short)((u >> 16) | 0x40u);
    } else {
        h.bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    return h;
}

// ---- operations -----------------------------------------------------------------------------
// op_<name>(a, b) with a from `in` and b from `inout`. Integer sums and products wrap (computed
// in an unsigned type W, so signed overflow is defined); logical operations give 0 or 1.

#define MPI4RS_INT_OPS(T, W)                                                                   \
    __device__ __forceinline__ T op_sum(T a, T b) { return (T)((W)a + (W)b); }                 \
    __device__ __forceinline__ T op_prod(T a, T b) { return (T)((W)a * (W)b); }                \
    __device__ __forceinline__ T op_max(T a, T b) { return a > b ? a : b; }                    \
    __device__ __forceinline__ T op_min(T a, T b) { return a < b ? a : b; }                    \
    __device__ __forceinline__ T op_land(T a, T b) { return (T)((a != 0) && (b != 0)); }       \
    __device__ __forceinline__ T op_lor(T a, T b) { return (T)((a != 0) || (b != 0)); }        \
    __device__ __forceinline__ T op_lxor(T a, T b) { return (T)((a != 0) != (b != 0)); }       \
    __device__ __forceinline__ T op_band(T a, T b) { return (T)(a & b); }                      \
    __device__ __forceinline__ T op_bor(T a, T b) { return (T)(a | b); }                       \
    __device__ __forceinline__ T op_bxor(T a, T b) { return (T)(a ^ b); }

MPI4RS_INT_OPS(signed char, unsigned int)
MPI4RS_INT_OPS(short, unsigned int)
MPI4RS_INT_OPS(int, unsigned int)
MPI4RS_INT_OPS(long long, unsigned long long)
MPI4RS_INT_OPS(unsigned char, unsigned int)
MPI4RS_INT_OPS(unsigned short, unsigned int)
MPI4RS_INT_OPS(unsigned int, unsigned int)
MPI4RS_INT_OPS(unsigned long long, unsigned long long)

__device__ __forceinline__ mpi4rs_bool mk_bool(bool x) { mpi4rs_bool r; r.v = x ? 1 : 0; return r; }
__device__ __forceinline__ mpi4rs_bool op_land(mpi4rs_bool a, mpi4rs_bool b) { return mk_bool(a.v && b.v); }
__device__ __forceinline__ mpi4rs_bool op_lor(mpi4rs_bool a, mpi4rs_bool b) { return mk_bool(a.v || b.v); }
__device__ __forceinline__ mpi4rs_bool op_lxor(mpi4rs_bool a, mpi4rs_bool b) { return mk_bool((a.v != 0) != (b.v != 0)); }

__device__ __forceinline__ float op_sum(float a, float b) { return a + b; }
__device__ __forceinline__ float op_prod(float a, float b) { return a * b; }
__device__ __forceinline__ float op_max(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ float op_min(float a, float b) { return fminf(a, b); }
__device__ __forceinline__ double op_sum(double a, double b) { return a + b; }
__device__ __forceinline__ double op_prod(double a, double b) { return a * b; }
__device__ __forceinline__ double op_max(double a, double b) { return fmax(a, b); }
__device__ __forceinline__ double op_min(double a, double b) { return fmin(a, b); }

#define MPI4RS_HALF_OPS(T, TO_F32, FROM_F32)                                                   \
    __device__ __forceinline__ T op_sum(T a, T b) { return FROM_F32(TO_F32(a) + TO_F32(b)); }  \
    __device__ __forceinline__ T op_prod(T a, T b) { return FROM_F32(TO_F32(a) * TO_F32(b)); } \
    __device__ __forceinline__ T op_max(T a, T b) { return FROM_F32(fmaxf(TO_F32(a), TO_F32(b))); } \
    __device__ __forceinline__ T op_min(T a, T b) { return FROM_F32(fminf(TO_F32(a), TO_F32(b))); }

MPI4RS_HALF_OPS(mpi4rs_f16, f16_to_f32, f32_to_f16)
MPI4RS_HALF_OPS(mpi4rs_bf16, bf16_to_f32, f32_to_bf16)

#define MPI4RS_COMPLEX_OPS(T)                                                                  \
    __device__ __forceinline__ T op_sum(T a, T b) { T r; r.re = a.re + b.re; r.im = a.im + b.im; return r; } \
    __device__ __forceinline__ T op_prod(T a, T b) {                                           \
        T r;                                                                                   \
        r.re = a.re * b.re - a.im * b.im;                                                      \
        r.im = a.re * b.im + a.im * b.re;                                                      \
        return r;                                                                              \
    }

MPI4RS_COMPLEX_OPS(mpi4rs_c32)
MPI4RS_COMPLEX_OPS(mpi4rs_c64)

// ---- kernels --------------------------------------------------------------------------------

#define MPI4RS_REDUCE(OP, NAME, T)                                                             \
    extern "C" __global__ void mpi4rs_reduce_##OP##_##NAME(T* inout, const T* in,              \
                                                           unsigned long long n) {             \
        unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;      \
        const unsigned long long step = (unsigned long long)gridDim.x * blockDim.x;            \
        for (; i < n; i += step) inout[i] = op_##OP(in[i], inout[i]);                          \
    }

#define MPI4RS_REDUCE_INT(NAME, T)                                                             \
    MPI4RS_REDUCE(sum, NAME, T) MPI4RS_REDUCE(prod, NAME, T)                                   \
    MPI4RS_REDUCE(max, NAME, T) MPI4RS_REDUCE(min, NAME, T)                                    \
    MPI4RS_REDUCE(land, NAME, T) MPI4RS_REDUCE(lor, NAME, T) MPI4RS_REDUCE(lxor, NAME, T)      \
    MPI4RS_REDUCE(band, NAME, T) MPI4RS_REDUCE(bor, NAME, T) MPI4RS_REDUCE(bxor, NAME, T)

#define MPI4RS_REDUCE_FLOAT(NAME, T)                                                           \
    MPI4RS_REDUCE(sum, NAME, T) MPI4RS_REDUCE(prod, NAME, T)                                   \
    MPI4RS_REDUCE(max, NAME, T) MPI4RS_REDUCE(min, NAME, T)

MPI4RS_REDUCE_INT(i8, signed char)
MPI4RS_REDUCE_INT(i16, short)
MPI4RS_REDUCE_INT(i32, int)
MPI4RS_REDUCE_INT(i64, long long)
MPI4RS_REDUCE_INT(u8, unsigned char)
MPI4RS_REDUCE_INT(u16, unsigned short)
MPI4RS_REDUCE_INT(u32, unsigned int)
MPI4RS_REDUCE_INT(u64, unsigned long long)

MPI4RS_REDUCE(land, bool, mpi4rs_bool)
MPI4RS_REDUCE(lor, bool, mpi4rs_bool)
MPI4RS_REDUCE(lxor, bool, mpi4rs_bool)

MPI4RS_REDUCE_FLOAT(f16, mpi4rs_f16)
MPI4RS_REDUCE_FLOAT(bf16, mpi4rs_bf16)
MPI4RS_REDUCE_FLOAT(f32, float)
MPI4RS_REDUCE_FLOAT(f64, double)

MPI4RS_REDUCE(sum, c32, mpi4rs_c32)
MPI4RS_REDUCE(prod, c32, mpi4rs_c32)
MPI4RS_REDUCE(sum, c64, mpi4rs_c64)
MPI4RS_REDUCE(prod, c64, mpi4rs_c64)
