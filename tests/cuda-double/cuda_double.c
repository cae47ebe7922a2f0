/*
 * A CPU double of the CUDA driver API (libcuda.so), for tests only: never part of the library.
 * Built by tests/cuda-double/build.sh; see docs/device-double.md.
 *
 * It implements on the CPU the driver calls that cudarc 0.19 (dynamic loading) and the
 * mpi4rs-device crate make, and is faithful where bugs hide:
 *   - every stream is a worker thread that runs its copies, memsets, host functions and frees
 *     asynchronously, in order, each copy or memset after an optional injected delay
 *     (CUDA_DOUBLE_DELAY_US, microseconds), so a missing stream or event synchronisation shows
 *     up as wrong data; the legacy default stream is ordered with blocking streams as in CUDA;
 *   - device allocations are mapped PROT_NONE at the address the program gets, and the workers
 *     copy through a second, private read-write mapping of the same memfd: any host read or
 *     write of device memory faults (reported on stderr as such), as it does when an MPI that
 *     is not CUDA-aware is handed a device pointer;
 *   - copies from pageable host memory follow the driver's rules (host-to-device copies the
 *     source before returning, device-to-host returns when done); pinned memory is async;
 *   - calls that need a context fail with CUDA_ERROR_INVALID_CONTEXT when none is current;
 *   - module loading reports CUDA_ERROR_NO_BINARY_FOR_GPU, so kernels take their host
 *     fallbacks.
 * Environment: CUDA_DOUBLE_DEVICES (default 1), CUDA_DOUBLE_DELAY_US (default 0),
 * CUDA_DOUBLE_TRACE=1 (one stderr line per call that fails).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct dctx *CUcontext;
typedef struct dstream *CUstream;
typedef struct devent *CUevent;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUmemoryPool;
typedef void (*CUhostFn)(void *);

enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_INVALID_CONTEXT = 201,
  CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
  CUDA_ERROR_INVALID_HANDLE = 400,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_NOT_READY = 600,
  CUDA_ERROR_NOT_SUPPORTED = 801,
};

#define EXPORT __attribute__((visibility("default")))
#define MAX_DEVICES 8
#define LEGACY ((CUstream)0x1)
#define PER_THREAD ((CUstream)0x2)

static int trace;
#define FAIL(code)                                                                           \
  do {                                                                                       \
    if (trace) fprintf(stderr, "[cuda-double] %s -> %d\n", __func__, (int)(code));           \
    return (code);                                                                           \
  } while (0)

/* ------------------------------------------------------------------------------------------ */
/* State                                                                                      */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* streams, events, queues */
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;   /* any op completed */
static pthread_mutex_t mem_mu = PTHREAD_MUTEX_INITIALIZER; /* allocation tables */
static int initialized, ndevices = 1;
static long delay_us;

struct dstream;
enum op_kind { OP_COPY, OP_SET, OP_WAIT, OP_MARK, OP_HOST, OP_FREE, OP_FREE_SNAPSHOT };
struct op {
  enum op_kind kind;
  void *dst;
  const void *src;
  size_t n;
  unsigned char value;
  struct dstream *wait_on;
  uint64_t wait_seq;
  CUhostFn fn;
  void *arg;
  CUdeviceptr dptr;
  struct devent *event;
  struct op *next;
};

struct dstream {
  struct dctx *ctx;
  int blocking; /* ordered with the legacy default stream */
  int destroyed;
  uint64_t enqueued, completed;
  struct op *head, *tail;
  pthread_t thread;
  struct dstream *next_all;
};

struct dctx {
  int device;
  int refs;
  int primary;
  struct dstream *legacy;
};

struct devent {
  struct dstream *stream; /* NULL until recorded */
  uint64_t seq;
  struct timespec done;
};

static struct dctx primary[MAX_DEVICES];
static struct dstream *all_streams;
static __thread struct dctx *current;
static __thread struct dctx *ctx_stack[16];
static __thread int ctx_depth;

/* A device allocation: `dev` is what the program sees (PROT_NONE), `alias` the workers' view. */
struct dalloc {
  uintptr_t dev;
  unsigned char *alias;
  size_t size, mapped;
  int device;
  unsigned long long id;
  int managed; /* cuMemAllocManaged: the program's address is readable and writable too */
};
/* Pinned (page-locked) host memory, host-addressable. */
struct halloc {
  uintptr_t ptr;
  size_t size;
  int owned;
};
static struct dalloc *dallocs;
static size_t ndallocs, cap_dallocs;
static struct halloc *hallocs;
static size_t nhallocs, cap_hallocs;
static unsigned long long next_id = 1;

static struct dalloc *find_dev(uintptr_t p, size_t n) {
  for (size_t i = 0; i < ndallocs; i++) {
    struct dalloc *a = &dallocs[i];
    if (p >= a->dev && p < a->dev + a->size && n <= a->size - (p - a->dev)) return a;
  }
  return NULL;
}

static struct halloc *find_host(uintptr_t p, size_t n) {
  for (size_t i = 0; i < nhallocs; i++) {
    struct halloc *h = &hallocs[i];
    if (p >= h->ptr && p < h->ptr + h->size && n <= h->size - (p - h->ptr)) return h;
  }
  return NULL;
}

/* The workers' address of device bytes [p, p + n), or NULL if they are not one allocation. */
static unsigned char *alias_of(CUdeviceptr p, size_t n) {
  pthread_mutex_lock(&mem_mu);
  struct dalloc *a = find_dev((uintptr_t)p, n);
  unsigned char *r = a ? a->alias + ((uintptr_t)p - a->dev) : NULL;
  pthread_mutex_unlock(&mem_mu);
  return r;
}

static int is_pinned(const void *p, size_t n) {
  pthread_mutex_lock(&mem_mu);
  int r = find_host((uintptr_t)p, n) != NULL;
  pthread_mutex_unlock(&mem_mu);
  return r;
}

/* ------------------------------------------------------------------------------------------ */
/* Host access to device memory: a fault, reported as what it is.                              */

static struct sigaction old_segv, old_bus;

static void on_fault(int sig, siginfo_t *info, void *uctx) {
  uintptr_t addr = (uintptr_t)info->si_addr;
  /* No lock: a racy read of the table is good enough to name the culprit. */
  for (size_t i = 0; i < ndallocs; i++) {
    if (addr >= dallocs[i].dev && addr < dallocs[i].dev + dallocs[i].mapped) {
      char msg[256];
      int len = snprintf(msg, sizeof msg,
                         "[cuda-double] host access to device memory at %#lx (allocation %llu of "
                         "%zu bytes on device %d): a host read or write of a device pointer\n",
                         (unsigned long)addr, dallocs[i].id, dallocs[i].size, dallocs[i].device);
      if (write(2, msg, (size_t)len) < 0) { /* nothing more to do */
      }
      signal(SIGABRT, SIG_DFL);
      abort();
    }
  }
  struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
  if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
    old->sa_sigaction(sig, info, uctx);
  } else if (old->sa_handler != SIG_IGN && old->sa_handler != SIG_DFL && old->sa_handler) {
    old->sa_handler(sig);
  } else {
    signal(sig, SIG_DFL); /* the faulting instruction runs again and kills the process */
  }
}

static void install_fault_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
}

/* ------------------------------------------------------------------------------------------ */
/* Streams                                                                                    */

static void unmap_alloc(CUdeviceptr p);

static void run_op(struct op *o) {
  if (delay_us > 0 && (o->kind == OP_COPY || o->kind == OP_SET)) {
    struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
    nanosleep(&ts, NULL);
  }
  switch (o->kind) {
  case OP_COPY:
  case OP_FREE_SNAPSHOT:
    memmove(o->dst, o->src, o->n);
    if (o->kind == OP_FREE_SNAPSHOT) free((void *)o->src);
    break;
  case OP_SET:
    memset(o->dst, o->value, o->n);
    break;
  case OP_WAIT:
    pthread_mutex_lock(&mu);
    while (o->wait_on->completed < o->wait_seq) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    break;
  case OP_MARK:
    pthread_mutex_lock(&mu);
    clock_gettime(CLOCK_MONOTONIC, &o->event->done);
    pthread_mutex_unlock(&mu);
    break;
  case OP_HOST:
    o->fn(o->arg);
    break;
  case OP_FREE:
    unmap_alloc(o->dptr);
    break;
  }
}

static void *worker(void *arg) {
  struct dstream *s = arg;
  pthread_mutex_lock(&mu);
  for (;;) {
    while (!s->head && !s->destroyed) pthread_cond_wait(&cv, &mu);
    if (!s->head) break; /* destroyed and drained */
    struct op *o = s->head;
    pthread_mutex_unlock(&mu);
    run_op(o);
    pthread_mutex_lock(&mu);
    s->head = o->next;
    if (!s->head) s->tail = NULL;
    s->completed++;
    free(o);
    pthread_cond_broadcast(&cv);
  }
  pthread_mutex_unlock(&mu);
  return NULL;
}

static struct dstream *new_stream(struct dctx *ctx, int blocking) {
  struct dstream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->ctx = ctx;
  s->blocking = blocking;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&s->thread, &attr, worker, s) != 0) {
    free(s);
    return NULL;
  }
  pthread_attr_destroy(&attr);
  pthread_mutex_lock(&mu);
  s->next_all = all_streams;
  all_streams = s;
  pthread_mutex_unlock(&mu);
  return s; /* never freed: events may still name it */
}

/* Appends `o` to `s` (with `mu` held); returns its sequence number. */
static uint64_t push_locked(struct dstream *s, struct op *o) {
  o->next = NULL;
  if (s->tail) s->tail->next = o;
  else s->head = o;
  s->tail = o;
  pthread_cond_broadcast(&cv);
  return ++s->enqueued;
}

static uint64_t push_wait_locked(struct dstream *s, struct dstream *on, uint64_t seq) {
  struct op *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->kind = OP_WAIT;
  w->wait_on = on;
  w->wait_seq = seq;
  return push_locked(s, w);
}

/* Enqueues `o` on `s` with the legacy stream's implicit ordering; returns its sequence. */
static uint64_t enqueue(struct dstream *s, struct op *o) {
  pthread_mutex_lock(&mu);
  if (s == s->ctx->legacy) {
    for (struct dstream *b = all_streams; b; b = b->next_all)
      if (b != s && b->ctx == s->ctx && b->blocking && b->completed < b->enqueued)
        push_wait_locked(s, b, b->enqueued);
  } else if (s->blocking && s->ctx->legacy) {
    struct dstream *l = s->ctx->legacy;
    if (l->completed < l->enqueued) push_wait_locked(s, l, l->enqueued);
  }
  uint64_t seq = push_locked(s, o);
  pthread_mutex_unlock(&mu);
  return seq;
}

static void wait_seq(struct dstream *s, uint64_t seq) {
  pthread_mutex_lock(&mu);
  while (s->completed < seq) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void wait_stream(struct dstream *s) {
  pthread_mutex_lock(&mu);
  uint64_t seq = s->enqueued;
  while (s->completed < seq) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void wait_ctx(struct dctx *ctx) {
  pthread_mutex_lock(&mu);
  for (struct dstream *s = all_streams; s; s = s->next_all) {
    if (s->ctx != ctx) continue;
    uint64_t seq = s->enqueued;
    while (s->completed < seq) pthread_cond_wait(&cv, &mu);
  }
  pthread_mutex_unlock(&mu);
}

static void wait_all(void) {
  pthread_mutex_lock(&mu);
  for (struct dstream *s = all_streams; s; s = s->next_all) {
    uint64_t seq = s->enqueued;
    while (s->completed < seq) pthread_cond_wait(&cv, &mu);
  }
  pthread_mutex_unlock(&mu);
}

static CUresult legacy_of(struct dctx *ctx, struct dstream **out) {
  pthread_mutex_lock(&mem_mu);
  if (!ctx->legacy) ctx->legacy = new_stream(ctx, 1);
  pthread_mutex_unlock(&mem_mu);
  if (!ctx->legacy) return CUDA_ERROR_OUT_OF_MEMORY;
  *out = ctx->legacy;
  return CUDA_SUCCESS;
}

/* The stream a handle names (NULL, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD: the current
 * context's default stream). */
static CUresult resolve(CUstream h, struct dstream **out) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (h == NULL || h == LEGACY || h == PER_THREAD) {
    if (!current) return CUDA_ERROR_INVALID_CONTEXT;
    return legacy_of(current, out);
  }
  if (h->destroyed) return CUDA_ERROR_INVALID_HANDLE;
  *out = h;
  return CUDA_SUCCESS;
}

static struct op *new_op(enum op_kind kind) {
  struct op *o = calloc(1, sizeof *o);
  if (!o) abort();
  o->kind = kind;
  return o;
}

/* ------------------------------------------------------------------------------------------ */
/* Initialisation, devices, contexts                                                           */

__attribute__((constructor)) static void setup(void) {
  const char *v = getenv("CUDA_DOUBLE_DEVICES");
  if (v) ndevices = atoi(v);
  if (ndevices < 0) ndevices = 0;
  if (ndevices > MAX_DEVICES) ndevices = MAX_DEVICES;
  v = getenv("CUDA_DOUBLE_DELAY_US");
  if (v) delay_us = atol(v);
  v = getenv("CUDA_DOUBLE_TRACE");
  trace = v && *v == '1';
  for (int d = 0; d < MAX_DEVICES; d++) {
    primary[d].device = d;
    primary[d].primary = 1;
  }
}

EXPORT CUresult cuInit(unsigned int flags) {
  if (flags != 0) FAIL(CUDA_ERROR_INVALID_VALUE);
  if (ndevices == 0) FAIL(CUDA_ERROR_NO_DEVICE);
  if (!initialized) install_fault_handler();
  initialized = 1;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *v) {
  if (!v) FAIL(CUDA_ERROR_INVALID_VALUE);
  *v = 12080;
  return CUDA_SUCCESS;
}

#define NEED_INIT()                                                                          \
  do {                                                                                       \
    if (!initialized) FAIL(CUDA_ERROR_NOT_INITIALIZED);                                      \
  } while (0)
#define NEED_DEVICE(d)                                                                       \
  do {                                                                                       \
    NEED_INIT();                                                                             \
    if ((d) < 0 || (d) >= ndevices) FAIL(CUDA_ERROR_INVALID_DEVICE);                         \
  } while (0)
#define NEED_CTX()                                                                           \
  do {                                                                                       \
    NEED_INIT();                                                                             \
    if (!current) FAIL(CUDA_ERROR_INVALID_CONTEXT);                                          \
  } while (0)

EXPORT CUresult cuDeviceGetCount(int *n) {
  NEED_INIT();
  if (!n) FAIL(CUDA_ERROR_INVALID_VALUE);
  *n = ndevices;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *dev, int ordinal) {
  NEED_DEVICE(ordinal);
  *dev = ordinal;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
  NEED_DEVICE(dev);
  if (!name || len <= 0) FAIL(CUDA_ERROR_INVALID_VALUE);
  snprintf(name, (size_t)len, "CUDA driver double (CPU) %d", dev);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
  NEED_DEVICE(dev);
  *bytes = (size_t)16 << 30;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetUuid(unsigned char *uuid, CUdevice dev) {
  NEED_DEVICE(dev);
  memset(uuid, 0, 16);
  memcpy(uuid, "cuda-double", 11);
  uuid[15] = (unsigned char)dev;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetUuid_v2(unsigned char *uuid, CUdevice dev) { return cuDeviceGetUuid(uuid, dev); }

EXPORT CUresult cuDeviceGetAttribute(int *value, int attrib, CUdevice dev) {
  NEED_DEVICE(dev);
  if (!value) FAIL(CUDA_ERROR_INVALID_VALUE);
  switch (attrib) {
  case 1: *value = 1024; break;          /* MAX_THREADS_PER_BLOCK */
  case 2: case 3: *value = 1024; break;  /* MAX_BLOCK_DIM_X/Y */
  case 4: *value = 64; break;            /* MAX_BLOCK_DIM_Z */
  case 5: *value = 2147483647; break;    /* MAX_GRID_DIM_X */
  case 6: case 7: *value = 65535; break; /* MAX_GRID_DIM_Y/Z */
  case 8: *value = 49152; break;         /* MAX_SHARED_MEMORY_PER_BLOCK */
  case 10: *value = 32; break;           /* WARP_SIZE */
  case 16: *value = 4; break;            /* MULTIPROCESSOR_COUNT */
  case 19: *value = 1; break;            /* CAN_MAP_HOST_MEMORY */
  case 41: *value = 1; break;            /* UNIFIED_ADDRESSING */
  case 75: *value = 9; break;            /* COMPUTE_CAPABILITY_MAJOR */
  case 76: *value = 0; break;            /* COMPUTE_CAPABILITY_MINOR */
  case 83: *value = 0; break;            /* MANAGED_MEMORY: not offered */
  case 115: *value = 1; break;           /* MEMORY_POOLS_SUPPORTED: stream-ordered allocation */
  default: *value = 0; break;
  }
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceCanAccessPeer(int *can, CUdevice a, CUdevice b) {
  NEED_DEVICE(a);
  NEED_DEVICE(b);
  *can = 0;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) {
  NEED_DEVICE(dev);
  if (!ctx) FAIL(CUDA_ERROR_INVALID_VALUE);
  pthread_mutex_lock(&mem_mu);
  primary[dev].refs++;
  pthread_mutex_unlock(&mem_mu);
  *ctx = &primary[dev];
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  NEED_DEVICE(dev);
  pthread_mutex_lock(&mem_mu);
  int bad = primary[dev].refs <= 0;
  if (!bad) primary[dev].refs--;
  pthread_mutex_unlock(&mem_mu);
  if (bad) FAIL(CUDA_ERROR_INVALID_CONTEXT);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice dev) { return cuDevicePrimaryCtxRelease_v2(dev); }

EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active) {
  NEED_DEVICE(dev);
  *flags = 0;
  *active = primary[dev].refs > 0;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  (void)flags;
  NEED_DEVICE(dev);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext *ctx) {
  NEED_INIT();
  if (!ctx) FAIL(CUDA_ERROR_INVALID_VALUE);
  *ctx = current;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  NEED_INIT();
  current = ctx;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
  NEED_INIT();
  if (!ctx || ctx_depth >= 16) FAIL(CUDA_ERROR_INVALID_VALUE);
  ctx_stack[ctx_depth++] = current;
  current = ctx;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *ctx) {
  NEED_CTX();
  if (ctx) *ctx = current;
  current = ctx_depth > 0 ? ctx_stack[--ctx_depth] : NULL;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetDevice(CUdevice *dev) {
  NEED_CTX();
  *dev = current->device;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSynchronize(void) {
  NEED_CTX();
  wait_ctx(current);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetFlags(unsigned int *flags) {
  NEED_CTX();
  *flags = 0;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxSetFlags(unsigned int flags) {
  (void)flags;
  NEED_CTX();
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *v) {
  (void)ctx;
  NEED_INIT();
  *v = 12080;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest) {
  NEED_CTX();
  if (least) *least = 0;
  if (greatest) *greatest = -5;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxGetLimit(size_t *value, int limit) {
  (void)limit;
  NEED_CTX();
  *value = 0;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxSetLimit(int limit, size_t value) {
  (void)limit;
  (void)value;
  NEED_CTX();
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxGetCacheConfig(int *config) {
  NEED_CTX();
  *config = 0;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxSetCacheConfig(int config) {
  (void)config;
  NEED_CTX();
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */

static const char *error_name(CUresult e) {
  switch (e) {
  case 0: return "CUDA_SUCCESS";
  case 1: return "CUDA_ERROR_INVALID_VALUE";
  case 2: return "CUDA_ERROR_OUT_OF_MEMORY";
  case 3: return "CUDA_ERROR_NOT_INITIALIZED";
  case 100: return "CUDA_ERROR_NO_DEVICE";
  case 101: return "CUDA_ERROR_INVALID_DEVICE";
  case 201: return "CUDA_ERROR_INVALID_CONTEXT";
  case 209: return "CUDA_ERROR_NO_BINARY_FOR_GPU";
  case 400: return "CUDA_ERROR_INVALID_HANDLE";
  case 500: return "CUDA_ERROR_NOT_FOUND";
  case 600: return "CUDA_ERROR_NOT_READY";
  case 801: return "CUDA_ERROR_NOT_SUPPORTED";
  default: return NULL;
  }
}

static const char *error_string(CUresult e) {
  switch (e) {
  case 0: return "no error";
  case 1: return "invalid argument";
  case 2: return "out of memory";
  case 3: return "initialization error";
  case 100: return "no CUDA-capable device is detected";
  case 101: return "invalid device ordinal";
  case 201: return "invalid device context";
  case 209: return "no kernel image is available for execution on the device (CUDA driver double: kernels run as host code)";
  case 400: return "invalid resource handle";
  case 500: return "named symbol not found";
  case 600: return "device not ready";
  case 801: return "operation not supported";
  default: return NULL;
  }
}

EXPORT CUresult cuGetErrorName(CUresult e, const char **s) {
  const char *n = error_name(e);
  if (!n || !s) return CUDA_ERROR_INVALID_VALUE;
  *s = n;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorString(CUresult e, const char **s) {
  const char *n = error_string(e);
  if (!n || !s) return CUDA_ERROR_INVALID_VALUE;
  *s = n;
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* Streams and events                                                                          */

EXPORT CUresult cuStreamCreate(CUstream *out, unsigned int flags) {
  NEED_CTX();
  if (!out || flags > 1) FAIL(CUDA_ERROR_INVALID_VALUE);
  struct dstream *s = new_stream(current, !(flags & 1));
  if (!s) FAIL(CUDA_ERROR_OUT_OF_MEMORY);
  *out = s;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamCreateWithPriority(CUstream *out, unsigned int flags, int priority) {
  (void)priority;
  return cuStreamCreate(out, flags);
}

EXPORT CUresult cuStreamDestroy_v2(CUstream h) {
  NEED_INIT();
  if (h == NULL || h == LEGACY || h == PER_THREAD || h->destroyed) FAIL(CUDA_ERROR_INVALID_HANDLE);
  pthread_mutex_lock(&mu);
  h->destroyed = 1; /* the worker drains what is queued, then exits */
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuStreamDestroy(CUstream h) { return cuStreamDestroy_v2(h); }

EXPORT CUresult cuStreamSynchronize(CUstream h) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  wait_stream(s);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamQuery(CUstream h) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  pthread_mutex_lock(&mu);
  int done = s->completed >= s->enqueued;
  pthread_mutex_unlock(&mu);
  return done ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

EXPORT CUresult cuStreamGetCtx(CUstream h, CUcontext *ctx) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  *ctx = s->ctx;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamGetFlags(CUstream h, unsigned int *flags) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  *flags = s->blocking ? 0 : 1;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamIsCapturing(CUstream h, int *status) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  *status = 0;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuLaunchHostFunc(CUstream h, CUhostFn fn, void *data) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  if (!fn) FAIL(CUDA_ERROR_INVALID_VALUE);
  struct op *o = new_op(OP_HOST);
  o->fn = fn;
  o->arg = data;
  enqueue(s, o);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventCreate(CUevent *out, unsigned int flags) {
  (void)flags;
  NEED_CTX();
  if (!out) FAIL(CUDA_ERROR_INVALID_VALUE);
  struct devent *e = calloc(1, sizeof *e);
  if (!e) FAIL(CUDA_ERROR_OUT_OF_MEMORY);
  *out = e;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventRecord(CUevent e, CUstream h) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  if (!e) FAIL(CUDA_ERROR_INVALID_HANDLE);
  /* A mark that completes after everything queued before it on the stream. */
  struct op *o = new_op(OP_MARK);
  o->event = e;
  uint64_t seq = enqueue(s, o);
  pthread_mutex_lock(&mu);
  e->stream = s;
  e->seq = seq;
  pthread_mutex_unlock(&mu);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuEventRecordWithFlags(CUevent e, CUstream h, unsigned int flags) {
  (void)flags;
  return cuEventRecord(e, h);
}

EXPORT CUresult cuEventQuery(CUevent e) {
  NEED_INIT();
  if (!e) FAIL(CUDA_ERROR_INVALID_HANDLE);
  pthread_mutex_lock(&mu);
  int done = !e->stream || e->stream->completed >= e->seq;
  pthread_mutex_unlock(&mu);
  return done ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

EXPORT CUresult cuEventSynchronize(CUevent e) {
  NEED_INIT();
  if (!e) FAIL(CUDA_ERROR_INVALID_HANDLE);
  pthread_mutex_lock(&mu);
  struct dstream *s = e->stream;
  uint64_t seq = e->seq;
  pthread_mutex_unlock(&mu);
  if (s) wait_seq(s, seq);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventDestroy_v2(CUevent e) {
  NEED_INIT();
  if (!e) FAIL(CUDA_ERROR_INVALID_HANDLE);
  cuEventSynchronize(e); /* its mark must not outlive it */
  free(e);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuEventDestroy(CUevent e) { return cuEventDestroy_v2(e); }

EXPORT CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
  NEED_INIT();
  if (!ms || !start || !end || !start->stream || !end->stream) FAIL(CUDA_ERROR_INVALID_HANDLE);
  if (cuEventQuery(start) || cuEventQuery(end)) return CUDA_ERROR_NOT_READY;
  *ms = (float)((end->done.tv_sec - start->done.tv_sec) * 1e3 +
                (end->done.tv_nsec - start->done.tv_nsec) / 1e6);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end) {
  return cuEventElapsedTime(ms, start, end);
}

EXPORT CUresult cuStreamWaitEvent(CUstream h, CUevent e, unsigned int flags) {
  (void)flags;
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  if (!e) FAIL(CUDA_ERROR_INVALID_HANDLE);
  pthread_mutex_lock(&mu);
  struct dstream *on = e->stream;
  uint64_t seq = e->seq;
  pthread_mutex_unlock(&mu);
  if (!on) return CUDA_SUCCESS; /* never recorded: nothing to wait for */
  struct op *o = new_op(OP_WAIT);
  o->wait_on = on;
  o->wait_seq = seq;
  enqueue(s, o);
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* Memory                                                                                      */

static CUresult map_alloc(CUdeviceptr *out, size_t size, int managed) {
  if (!out) return CUDA_ERROR_INVALID_VALUE;
  if (size == 0) return CUDA_ERROR_INVALID_VALUE;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t mapped = (size + page - 1) / page * page;
  int fd = memfd_create("cuda-double", MFD_CLOEXEC);
  if (fd < 0) return CUDA_ERROR_OUT_OF_MEMORY;
  if (ftruncate(fd, (off_t)mapped) != 0) {
    close(fd);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  /* What the program sees: no access at all (managed memory: the same pages, which the CPU may
     use once the device work on them is synchronised). What the workers use: the same pages. */
  void *dev = mmap(NULL, mapped, managed ? PROT_READ | PROT_WRITE : PROT_NONE, MAP_SHARED, fd, 0);
  void *alias = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (dev == MAP_FAILED || alias == MAP_FAILED) {
    if (dev != MAP_FAILED) munmap(dev, mapped);
    if (alias != MAP_FAILED) munmap(alias, mapped);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  /* New device memory holds garbage on a GPU: make reads of unwritten bytes visible. */
  memset(alias, 0xA5, mapped);
  pthread_mutex_lock(&mem_mu);
  if (ndallocs == cap_dallocs) {
    size_t cap = cap_dallocs ? cap_dallocs * 2 : 64;
    struct dalloc *d = realloc(dallocs, cap * sizeof *d);
    if (!d) {
      pthread_mutex_unlock(&mem_mu);
      munmap(dev, mapped);
      munmap(alias, mapped);
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    dallocs = d;
    cap_dallocs = cap;
  }
  int device = current ? current->device : 0;
  dallocs[ndallocs++] = (struct dalloc){(uintptr_t)dev, alias, size, mapped, device, next_id++, managed};
  pthread_mutex_unlock(&mem_mu);
  *out = (CUdeviceptr)(uintptr_t)dev;
  return CUDA_SUCCESS;
}

static void unmap_alloc(CUdeviceptr p) {
  pthread_mutex_lock(&mem_mu);
  for (size_t i = 0; i < ndallocs; i++) {
    if (dallocs[i].dev == (uintptr_t)p) {
      struct dalloc a = dallocs[i];
      dallocs[i] = dallocs[--ndallocs];
      pthread_mutex_unlock(&mem_mu);
      munmap((void *)a.dev, a.mapped);
      munmap(a.alias, a.mapped);
      return;
    }
  }
  pthread_mutex_unlock(&mem_mu);
}

static int is_alloc_start(CUdeviceptr p) {
  pthread_mutex_lock(&mem_mu);
  int found = 0;
  for (size_t i = 0; i < ndallocs; i++) found |= dallocs[i].dev == (uintptr_t)p;
  pthread_mutex_unlock(&mem_mu);
  return found;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t size) {
  NEED_CTX();
  CUresult r = map_alloc(p, size, 0);
  if (r) FAIL(r);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuMemAlloc(CUdeviceptr *p, size_t size) { return cuMemAlloc_v2(p, size); }

/* Managed memory: device memory whose address the CPU may also use (flags: attach global or
   host, both accepted). Freed with cuMemFree. */
EXPORT CUresult cuMemAllocManaged(CUdeviceptr *p, size_t size, unsigned int flags) {
  NEED_CTX();
  if (flags != 1 && flags != 2) FAIL(CUDA_ERROR_INVALID_VALUE);
  CUresult r = map_alloc(p, size, 1);
  if (r) FAIL(r);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocAsync(CUdeviceptr *p, size_t size, CUstream h) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  r = map_alloc(p, size, 0);
  if (r) FAIL(r);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *p, size_t size, CUmemoryPool pool, CUstream h) {
  (void)pool;
  return cuMemAllocAsync(p, size, h);
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  NEED_INIT();
  if (p == 0) return CUDA_SUCCESS;
  if (!is_alloc_start(p)) FAIL(CUDA_ERROR_INVALID_VALUE);
  wait_all(); /* cuMemFree synchronises */
  unmap_alloc(p);
  return CUDA_SUCCESS;
}
EXPORT CUresult cuMemFree(CUdeviceptr p) { return cuMemFree_v2(p); }

EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, CUstream h) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  if (!is_alloc_start(p)) FAIL(CUDA_ERROR_INVALID_VALUE);
  struct op *o = new_op(OP_FREE);
  o->dptr = p;
  enqueue(s, o);
  return CUDA_SUCCESS;
}

static int pool_token;
EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice dev) {
  NEED_DEVICE(dev);
  *pool = &pool_token;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev) { return cuDeviceGetDefaultMemPool(pool, dev); }
EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool, int attr, void *value) {
  (void)pool, (void)attr, (void)value;
  NEED_INIT();
  return CUDA_SUCCESS;
}
EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool pool, int attr, void *value) {
  (void)pool, (void)attr;
  NEED_INIT();
  memset(value, 0, sizeof(unsigned long long));
  return CUDA_SUCCESS;
}
EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t keep) {
  (void)pool, (void)keep;
  NEED_INIT();
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
  NEED_CTX();
  if (free_bytes) *free_bytes = (size_t)15 << 30;
  if (total) *total = (size_t)16 << 30;
  return CUDA_SUCCESS;
}

static CUresult add_host(void *p, size_t size, int owned) {
  pthread_mutex_lock(&mem_mu);
  if (nhallocs == cap_hallocs) {
    size_t cap = cap_hallocs ? cap_hallocs * 2 : 64;
    struct halloc *h = realloc(hallocs, cap * sizeof *h);
    if (!h) {
      pthread_mutex_unlock(&mem_mu);
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    hallocs = h;
    cap_hallocs = cap;
  }
  hallocs[nhallocs++] = (struct halloc){(uintptr_t)p, size, owned};
  pthread_mutex_unlock(&mem_mu);
  return CUDA_SUCCESS;
}

/* Removes the pinned range starting at `p`; gives its size (0 if none) and whether it was ours. */
static size_t remove_host(void *p, int *owned) {
  pthread_mutex_lock(&mem_mu);
  for (size_t i = 0; i < nhallocs; i++) {
    if (hallocs[i].ptr == (uintptr_t)p) {
      size_t size = hallocs[i].size;
      *owned = hallocs[i].owned;
      hallocs[i] = hallocs[--nhallocs];
      pthread_mutex_unlock(&mem_mu);
      return size;
    }
  }
  pthread_mutex_unlock(&mem_mu);
  return 0;
}

EXPORT CUresult cuMemHostAlloc(void **p, size_t size, unsigned int flags) {
  (void)flags;
  NEED_CTX();
  if (!p || size == 0) FAIL(CUDA_ERROR_INVALID_VALUE);
  void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) FAIL(CUDA_ERROR_OUT_OF_MEMORY);
  if (add_host(m, size, 1)) {
    munmap(m, size);
    FAIL(CUDA_ERROR_OUT_OF_MEMORY);
  }
  *p = m;
  return CUDA_SUCCESS;
}
EXPORT CUresult cuMemAllocHost_v2(void **p, size_t size) { return cuMemHostAlloc(p, size, 0); }

EXPORT CUresult cuMemFreeHost(void *p) {
  NEED_INIT();
  wait_all(); /* copies into or out of it must be done */
  int owned = 0;
  size_t size = remove_host(p, &owned);
  if (!size || !owned) FAIL(CUDA_ERROR_INVALID_VALUE);
  munmap(p, size);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostRegister_v2(void *p, size_t size, unsigned int flags) {
  (void)flags;
  NEED_CTX();
  if (!p || size == 0) FAIL(CUDA_ERROR_INVALID_VALUE);
  if (add_host(p, size, 0)) FAIL(CUDA_ERROR_OUT_OF_MEMORY);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostUnregister(void *p) {
  NEED_INIT();
  wait_all();
  int owned = 1;
  if (!remove_host(p, &owned) || owned) FAIL(CUDA_ERROR_INVALID_VALUE);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *d, void *p, unsigned int flags) {
  (void)flags;
  NEED_CTX();
  if (!is_pinned(p, 1)) FAIL(CUDA_ERROR_INVALID_VALUE);
  *d = (CUdeviceptr)(uintptr_t)p;
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* Copies and memsets                                                                          */

/* Device-to-host or device-to-device: `dst` is host memory when `dst_host`. */
static CUresult copy_async(void *dst, int dst_host, const void *src, int src_host, size_t n,
                           struct dstream *s, int sync) {
  if (n == 0) return CUDA_SUCCESS;
  unsigned char *d = dst_host ? dst : alias_of((CUdeviceptr)(uintptr_t)dst, n);
  const unsigned char *sp = src_host ? src : alias_of((CUdeviceptr)(uintptr_t)src, n);
  if (!d || !sp) return CUDA_ERROR_INVALID_VALUE;
  struct op *o = new_op(OP_COPY);
  o->dst = d;
  o->src = sp;
  o->n = n;
  if (src_host && !dst_host && !is_pinned(src, n)) {
    /* From pageable memory: the driver copies the source before returning. */
    void *snap = malloc(n);
    if (!snap) abort();
    memcpy(snap, src, n);
    o->src = snap;
    o->kind = OP_FREE_SNAPSHOT;
  }
  uint64_t seq = enqueue(s, o);
  /* To pageable memory, and every synchronous copy: return when it is done. */
  if (sync || (dst_host && !is_pinned(dst, n))) wait_seq(s, seq);
  return CUDA_SUCCESS;
}

#define COPY(name, dst_host, src_host, sync, DT, ST)                                         \
  EXPORT CUresult name(DT dst, ST src, size_t n, CUstream h) {                               \
    struct dstream *s;                                                                       \
    CUresult r = resolve(h, &s);                                                             \
    if (r) FAIL(r);                                                                          \
    r = copy_async((void *)(uintptr_t)dst, dst_host, (const void *)(uintptr_t)src, src_host, n, \
                   s, sync);                                                                 \
    if (r) FAIL(r);                                                                          \
    return CUDA_SUCCESS;                                                                     \
  }
COPY(cuMemcpyHtoDAsync_v2, 0, 1, 0, CUdeviceptr, const void *)
COPY(cuMemcpyDtoHAsync_v2, 1, 0, 0, void *, CUdeviceptr)
COPY(cuMemcpyDtoDAsync_v2, 0, 0, 0, CUdeviceptr, CUdeviceptr)

#define COPY_SYNC(name, dst_host, src_host, DT, ST)                                          \
  EXPORT CUresult name(DT dst, ST src, size_t n) {                                           \
    struct dstream *s;                                                                       \
    CUresult r = resolve(NULL, &s);                                                          \
    if (r) FAIL(r);                                                                          \
    r = copy_async((void *)(uintptr_t)dst, dst_host, (const void *)(uintptr_t)src, src_host, n, \
                   s, 1);                                                                    \
    if (r) FAIL(r);                                                                          \
    return CUDA_SUCCESS;                                                                     \
  }
COPY_SYNC(cuMemcpyHtoD_v2, 0, 1, CUdeviceptr, const void *)
COPY_SYNC(cuMemcpyDtoH_v2, 1, 0, void *, CUdeviceptr)
COPY_SYNC(cuMemcpyDtoD_v2, 0, 0, CUdeviceptr, CUdeviceptr)

/* cuMemcpy / cuMemcpyAsync with unified addressing: each side is device or host memory. */
static int is_device(CUdeviceptr p, size_t n) { return alias_of(p, n ? n : 1) != NULL; }

EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  r = copy_async((void *)(uintptr_t)dst, !is_device(dst, n), (const void *)(uintptr_t)src,
                 !is_device(src, n), n, s, 0);
  if (r) FAIL(r);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  struct dstream *s;
  CUresult r = resolve(NULL, &s);
  if (r) FAIL(r);
  r = copy_async((void *)(uintptr_t)dst, !is_device(dst, n), (const void *)(uintptr_t)src,
                 !is_device(src, n), n, s, 1);
  if (r) FAIL(r);
  return CUDA_SUCCESS;
}

static CUresult memset_on(CUdeviceptr p, unsigned char v, size_t n, struct dstream *s, int sync) {
  if (n == 0) return CUDA_SUCCESS;
  unsigned char *d = alias_of(p, n);
  if (!d) return CUDA_ERROR_INVALID_VALUE;
  struct op *o = new_op(OP_SET);
  o->dst = d;
  o->n = n;
  o->value = v;
  uint64_t seq = enqueue(s, o);
  if (sync) wait_seq(s, seq);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, CUstream h) {
  struct dstream *s;
  CUresult r = resolve(h, &s);
  if (r) FAIL(r);
  r = memset_on(p, v, n, s, 0);
  if (r) FAIL(r);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemsetD8_v2(CUdeviceptr p, unsigned char v, size_t n) {
  struct dstream *s;
  CUresult r = resolve(NULL, &s);
  if (r) FAIL(r);
  r = memset_on(p, v, n, s, 1);
  if (r) FAIL(r);
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* Pointer attributes                                                                          */

static CUresult pointer_attribute(void *data, int attr, CUdeviceptr p) {
  pthread_mutex_lock(&mem_mu);
  struct dalloc *a = find_dev((uintptr_t)p, 1);
  struct dalloc dv = a ? *a : (struct dalloc){0};
  struct halloc *h = a ? NULL : find_host((uintptr_t)p, 1);
  struct halloc hv = h ? *h : (struct halloc){0};
  pthread_mutex_unlock(&mem_mu);
  if (!a && !h) return CUDA_ERROR_INVALID_VALUE; /* memory the driver does not know */
  switch (attr) {
  case 1: /* CONTEXT */
    *(CUcontext *)data = &primary[a ? dv.device : 0];
    break;
  case 2: /* MEMORY_TYPE */
    *(unsigned int *)data = a ? 2 : 1;
    break;
  case 3: /* DEVICE_POINTER */
    *(CUdeviceptr *)data = p;
    break;
  case 4: /* HOST_POINTER */
    if (a) return CUDA_ERROR_INVALID_VALUE;
    *(void **)data = (void *)(uintptr_t)p;
    break;
  case 8: /* IS_MANAGED */
    *(int *)data = a ? dv.managed : 0;
    break;
  case 6: /* SYNC_MEMOPS */
  case 10: /* IS_LEGACY_CUDA_IPC_CAPABLE */
  case 15: /* IS_GPU_DIRECT_RDMA_CAPABLE */
    *(int *)data = 0;
    break;
  case 7: /* BUFFER_ID */
    *(unsigned long long *)data = a ? dv.id : 0;
    break;
  case 9: /* DEVICE_ORDINAL */
    *(int *)data = a ? dv.device : 0;
    break;
  case 11: /* RANGE_START_ADDR */
    *(CUdeviceptr *)data = a ? dv.dev : hv.ptr;
    break;
  case 12: /* RANGE_SIZE */
    *(size_t *)data = a ? dv.size : hv.size;
    break;
  case 13: /* MAPPED */
    *(int *)data = 1;
    break;
  case 16: /* ACCESS_FLAGS */
    *(int *)data = 3;
    break;
  default:
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  return CUDA_SUCCESS;
}

EXPORT CUresult cuPointerGetAttribute(void *data, int attr, CUdeviceptr p) {
  NEED_INIT();
  if (!data) FAIL(CUDA_ERROR_INVALID_VALUE);
  CUresult r = pointer_attribute(data, attr, p);
  if (r) FAIL(r);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuPointerGetAttributes(unsigned int n, int *attrs, void **data, CUdeviceptr p) {
  NEED_INIT();
  for (unsigned int i = 0; i < n; i++) {
    if (pointer_attribute(data[i], attrs[i], p) != CUDA_SUCCESS) {
      /* Unknown memory: attributes read as zero (memory type 0: not CUDA's). */
      int wide = attrs[i] == 1 || attrs[i] == 3 || attrs[i] == 4 || attrs[i] == 7 ||
                 attrs[i] == 11 || attrs[i] == 12;
      memset(data[i], 0, wide ? sizeof(void *) : sizeof(int));
    }
  }
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* Modules and kernels: no usable binary, so kernels take their host fallbacks.                */

EXPORT CUresult cuModuleLoadData(CUmodule *m, const void *image) {
  (void)m, (void)image;
  NEED_CTX();
  FAIL(CUDA_ERROR_NO_BINARY_FOR_GPU);
}
EXPORT CUresult cuModuleLoadDataEx(CUmodule *m, const void *image, unsigned int n, int *opts, void **vals) {
  (void)n, (void)opts, (void)vals;
  return cuModuleLoadData(m, image);
}
EXPORT CUresult cuModuleLoadFatBinary(CUmodule *m, const void *image) { return cuModuleLoadData(m, image); }
EXPORT CUresult cuModuleLoad(CUmodule *m, const char *path) {
  (void)path;
  return cuModuleLoadData(m, NULL);
}
EXPORT CUresult cuModuleUnload(CUmodule m) {
  (void)m;
  FAIL(CUDA_ERROR_INVALID_HANDLE);
}
EXPORT CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
  (void)f, (void)m, (void)name;
  FAIL(CUDA_ERROR_INVALID_HANDLE);
}
EXPORT CUresult cuModuleGetGlobal_v2(CUdeviceptr *p, size_t *n, CUmodule m, const char *name) {
  (void)p, (void)n, (void)m, (void)name;
  FAIL(CUDA_ERROR_INVALID_HANDLE);
}
EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                               unsigned by, unsigned bz, unsigned shmem, CUstream h, void **params,
                               void **extra) {
  (void)f, (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz, (void)shmem, (void)h;
  (void)params, (void)extra;
  FAIL(CUDA_ERROR_INVALID_HANDLE);
}
EXPORT CUresult cuFuncGetAttribute(int *v, int attr, CUfunction f) {
  (void)v, (void)attr, (void)f;
  FAIL(CUDA_ERROR_INVALID_HANDLE);
}

/* For tests of the double itself: 1 when this library is the double. */
EXPORT int cuda_double_version(void) { return 1; }

/* The driver's private tables (NVRTC asks for them when it finds a libcuda.so.1): none here,
 * so NVRTC carries on as on a machine without a driver. */
EXPORT CUresult cuGetExportTable(const void **table, const void *id) {
  (void)id;
  if (table) *table = NULL;
  FAIL(CUDA_ERROR_NOT_FOUND);
}
