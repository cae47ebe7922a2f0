// mpi4rs: pack and unpack non-contiguous device buffers into and out of a contiguous one.
//
// Data is moved in units of U = 1, 2, 4, 8 or 16 bytes; the launcher (device/src/kernels.rs)
// picks the widest unit that divides every size, stride, offset and both base addresses, so a
// vector of f64 moves 8 bytes per thread even when the MPI datatype is described in bytes.
// Kernels are `extern "C"` and named `mpi4rs_<kind>_<U>`:
//
//   mpi4rs_pack_strided_<U>(dst, src, count, blocklen, stride)
//   mpi4rs_unpack_strided_<U>(dst, src, count, blocklen, stride)
//       `count` blocks of `blocklen` units; block b starts at byte `b * stride` of the strided
//       buffer (stride in bytes, may be negative); the contiguous buffer holds the blocks back
//       to back. One thread per unit, grid-stride loop, 64-bit counts.
//
//   mpi4rs_pack_indexed_<U>(dst, src, table, nblocks)
//   mpi4rs_unpack_indexed_<U>(dst, src, table, nblocks)
//       `table` is device memory with 3 * nblocks 64-bit integers: the byte offset of every
//       block in the scattered buffer (signed), then every block's length in units, then
//       every block's position in the contiguous buffer in units (the prefix sums of the
//       lengths). One thread block per datatype block (grid-stride over blocks), the threads
//       of that block stride over its units.
//
// No header is included (NVRTC needs none here).

struct mpi4rs_u128 { unsigned long long lo, hi; };  // 16-byte unit, 8-byte aligned loads

#define MPI4RS_STRIDED(U, T)                                                                   \
    extern "C" __global__ void mpi4rs_pack_strided_##U(T* dst, const char* src,                \
                                                       unsigned long long count,               \
                                                       unsigned long long blocklen,            \
                                                       long long stride) {                     \
        const unsigned long long total = count * blocklen;                                     \
        const unsigned long long step = (unsigned long long)gridDim.x * blockDim.x;            \
        for (unsigned long long k = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; \
             k < total; k += step) {                                                           \
            const unsigned long long b = k / blocklen, j = k - b * blocklen;                   \
            dst[k] = ((const T*)(src + (long long)b * stride))[j];                             \
        }                                                                                      \
    }                                                                                          \
    extern "C" __global__ void mpi4rs_unpack_strided_##U(char* dst, const T* src,              \
                                                         unsigned long long count,             \
                                                         unsigned long long blocklen,          \
                                                         long long stride) {                   \
        const unsigned long long total = count * blocklen;                                     \
        const unsigned long long step = (unsigned long long)gridDim.x * blockDim.x;            \
        for (unsigned long long k = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; \
             k < total; k += step) {                                                           \
            const unsigned long long b = k / blocklen, j = k - b * blocklen;                   \
            ((T*)(dst + (long long)b * stride))[j] = src[k];                                   \
        }                                                                                      \
    }

#define MPI4RS_INDEXED(U, T)                                                                   \
    extern "C" __global__ void mpi4rs_pack_indexed_##U(T* dst, const char* src,                \
                                                       const long long* table,                 \
                                                       unsigned long long nblocks) {           \
        const long long* offsets = table;                                                      \
        const unsigned long long* lens = (const unsigned long long*)(table + nblocks);         \
        const unsigned long long* displs = (const unsigned long long*)(table + 2 * nblocks);   \
        for (unsigned long long b = blockIdx.x; b < nblocks; b += gridDim.x) {                 \
            const T* s = (const T*)(src + offsets[b]);                                         \
            T* d = dst + displs[b];                                                            \
            const unsigned long long len = lens[b];                                            \
            for (unsigned long long j = threadIdx.x; j < len; j += blockDim.x) d[j] = s[j];    \
        }                                                                                      \
    }                                                                                          \
    extern "C" __global__ void mpi4rs_unpack_indexed_##U(char* dst, const T* src,              \
                                                         const long long* table,               \
                                                         unsigned long long nblocks) {         \
        const long long* offsets = table;                                                      \
        const unsigned long long* lens = (const unsigned long long*)(table + nblocks);         \
        const unsigned long long* displs = (const unsigned long long*)(table + 2 * nblocks);   \
        for (unsigned long long b = blockIdx.x; b < nblocks; b += gridDim.x) {                 \
            T* d = (T*)(dst + offsets[b]);                                                     \
            const T* s = src + displs[b];                                                      \
            const unsigned long long len = lens[b];                                            \
            for (unsigned long long j = threadIdx.x; j < len; j += blockDim.x) d[j] = s[j];    \
        }                                                                                      \
    }

#define MPI4RS_PACK(U, T) MPI4RS_STRIDED(U, T) MPI4RS_INDEXED(U, T)

MPI4RS_PACK(1, unsigned char)
MPI4RS_PACK(2, unsigned short)
MPI4RS_PACK(4, unsigned int)
MPI4RS_PACK(8, unsigned long long)
MPI4RS_PACK(16, mpi4rs_u128)
