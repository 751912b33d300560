/* kern.c — kernel dispatch, weight matrices, exact 16-bit conversions, the scalar reference
 * implementation, per-thread scratch memory and the worker pool (see kern.h).
 *
 * The SIMD implementations live in kern_avx2.c and kern_avx512.c; this file picks one at
 * first use from what the CPU reports and falls back to the portable scalar code here. */
#include "kern.h"

#include "kern_impl.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define KERN_X86 1
#define POOL_PAUSE() _mm_pause()
#else
#define POOL_PAUSE() ((void)0)
#endif

/* ---------------------------------------------------------------------------------------
 * Exact conversions */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float kern_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) /* inf / nan (quiet bit set, as F16C does) */
        return bits_f32(sign | 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0));
    if (exp == 0) {
        if (mant == 0) return bits_f32(sign);
        /* Subnormal: mant * 2^-24, exactly representable as a normal float. */
        int shift = 0;
        while (!(mant & 0x400)) {
            mant <<= 1;
            shift++;
        }
        mant &= 0x3ff;
        return bits_f32(sign | ((uint32_t)(113 - shift) << 23) | (mant << 13));
    }
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t kern_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t exp = (u >> 23) & 0xff, mant = u & 0x7fffff;
    if (exp == 0xff) /* inf / nan */
        return sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0);
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f) return sign | 0x7c00; /* overflow */
    if (e <= 0) {
        /* Subnormal half (or zero): value = m * 2^-24 with m = full mantissa >> shift. */
        if (e < -10) return sign; /* below half of the smallest subnormal */
        uint32_t m = mant | 0x800000;
        int shift = 14 - e;
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return sign | (uint16_t)q; /* q == 0x400 rolls into the smallest normal: correct */
    }
    uint32_t q = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++; /* may round up into inf: correct */
    return sign | (uint16_t)q;
}

float kern_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffff)) u |= 0x00400000u;
    return bits_f32(u);
}

uint16_t kern_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffff))
        return (uint16_t)((u >> 16) | 0x40); /* quiet NaN, sign kept */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* ---------------------------------------------------------------------------------------
 * Rows */

size_t kern_row_bytes(gguf_dtype_t type, size_t n)
{
    switch (type) {
    case GGUF_F32:
        return n * 4;
    case GGUF_F16:
    case GGUF_BF16:
        return n * 2;
    case GGUF_Q8_0:
        return n / 32 * 34;
    case GGUF_Q4_0:
        return n / 32 * 18;
    }
    return 0;
}

static uint16_t load_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

void kern_row_to_f32_scalar(gguf_dtype_t type, const void *row, size_t n, float *out)
{
    const unsigned char *p = row;
    switch (type) {
    case GGUF_F32:
        memcpy(out, row, n * 4);
        return;
    case GGUF_F16:
        for (size_t i = 0; i < n; i++)
            out[i] = kern_f16_to_f32(load_u16(p + 2 * i));
        return;
    case GGUF_BF16:
        for (size_t i = 0; i < n; i++)
            out[i] = kern_bf16_to_f32(load_u16(p + 2 * i));
        return;
    case GGUF_Q8_0:
        for (size_t b = 0; b < n / 32; b++, p += 34) {
            float d = kern_f16_to_f32(load_u16(p));
            for (int j = 0; j < 32; j++)
                out[b * 32 + j] = d * (float)(int8_t)p[2 + j];
        }
        return;
    case GGUF_Q4_0:
        for (size_t b = 0; b < n / 32; b++, p += 18) {
            float d = kern_f16_to_f32(load_u16(p));
            for (int j = 0; j < 16; j++) {
                out[b * 32 + j] = d * (float)((p[2 + j] & 15) - 8);
                out[b * 32 + j + 16] = d * (float)((p[2 + j] >> 4) - 8);
            }
        }
        return;
    }
}

/* ---------------------------------------------------------------------------------------
 * Per-thread scratch */

typedef struct {
    void *p[KERN_SCRATCH_SLOTS];
    size_t cap[KERN_SCRATCH_SLOTS];
} scratch_t;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *arg)
{
    scratch_t *s = arg;
    for (int i = 0; i < KERN_SCRATCH_SLOTS; i++)
        free(s->p[i]);
    free(s);
}

static void scratch_key_init(void)
{
    if (pthread_key_create(&scratch_key, scratch_free) != 0) abort();
}

void *kern_scratch(int slot, size_t bytes)
{
    pthread_once(&scratch_once, scratch_key_init);
    scratch_t *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = xcalloc(1, sizeof *s);
        pthread_setspecific(scratch_key, s);
    }
    if (bytes > s->cap[slot]) {
        free(s->p[slot]);
        size_t cap = (bytes + 4095) & ~(size_t)4095;
        s->p[slot] = aligned_alloc(64, cap);
        if (!s->p[slot]) {
            fprintf(stderr, "embecode: out of memory allocating %zu bytes\n", cap);
            abort();
        }
        s->cap[slot] = cap;
    }
    return s->p[slot];
}

/* ---------------------------------------------------------------------------------------
 * The cache-blocked GEMM driver shared by the SIMD kernels (contract in kern_impl.h).
 *
 * Work split: the threads of the pool take disjoint ranges of weight rows (columns of Y), so
 * each packs only its own part of W and W is read once per product; when W has too few rows
 * for that, they take ranges of X rows instead. Within a range the loops are, outermost
 * first: blocks of NC weight rows, blocks of KC inputs (packed once into scratch: the L2
 * resident operand), micro-tiles of MR X rows (the L1 resident operand), panels of NR
 * weight rows (streamed from L2 by the microkernel). */
enum { GEMM_MAX_TILE = 16 * 64, GEMM_MAX_NR = 64 };

typedef struct {
    const kern_mm_t *mm;
    const kern_gemm_t *kk;
    kern_a_t a;
    void *abuf; /* writable views of a.base / a.scale while X is prepared */
    float *sbuf;
    size_t kp;  /* inputs padded to kk->kalign */
    int tm, tn; /* task grid: tm parts of the X rows × tn parts of the weight rows */
} gemm_ctx_t;

static void gemm_prep_task(void *arg, int i, int n)
{
    const gemm_ctx_t *g = arg;
    size_t lo, hi;
    kern_split(g->mm->rows, 1, i, n, &lo, &hi);
    if (lo < hi)
        g->kk->prep_a(g->mm->X, g->mm->W->n_in, lo, hi, g->abuf, g->a.stride, g->sbuf,
                      g->a.sstride);
}

/* One micro-tile whose panel is narrower than nr: run it on a padded copy. */
static void gemm_edge_tile(const gemm_ctx_t *g, size_t kcb, size_t ir, int mre, size_t pc,
                           const void *panel, size_t j, size_t nj)
{
    const kern_gemm_t *kk = g->kk;
    const kern_mm_t *mm = g->mm;
    size_t ldc = mm->W->n_out;
    float tile[GEMM_MAX_TILE], init[GEMM_MAX_NR] = {0};
    float *C = mm->Y + ir * ldc + j;
    if (pc == 0) {
        if (mm->bias) memcpy(init, mm->bias + j, nj * sizeof(float));
        kk->ukr(kcb, &g->a, ir, pc, panel, tile, (size_t)kk->nr, mre, init);
    } else {
        for (int r = 0; r < mre; r++)
            memcpy(tile + r * kk->nr, C + r * ldc, nj * sizeof(float));
        kk->ukr(kcb, &g->a, ir, pc, panel, tile, (size_t)kk->nr, mre, NULL);
    }
    for (int r = 0; r < mre; r++)
        memcpy(C + r * ldc, tile + r * kk->nr, nj * sizeof(float));
}

static void gemm_task(void *arg, int t, int nt)
{
    (void)nt;
    const gemm_ctx_t *g = arg;
    const kern_gemm_t *kk = g->kk;
    const kern_mm_t *mm = g->mm;
    static const float zeros[GEMM_MAX_NR];
    size_t mr = (size_t)kk->mr, nr = (size_t)kk->nr, ldc = mm->W->n_out;
    size_t m0, m1, n0, n1;
    kern_split(mm->rows, mr, t / g->tn, g->tm, &m0, &m1);
    kern_split(ldc, nr, t % g->tn, g->tn, &n0, &n1);
    if (m0 >= m1 || n0 >= n1) return;
    size_t max_panels = kk->nc / nr;
    char *panels = kern_scratch(0, max_panels * kk->panel_bytes(kk->kc));

    for (size_t jc = n0; jc < n1; jc += kk->nc) {
        size_t ncb = EC_MIN(kk->nc, n1 - jc), npan = (ncb + nr - 1) / nr;
        for (size_t pc = 0; pc < g->kp; pc += kk->kc) {
            size_t kcb = EC_MIN(kk->kc, g->kp - pc), pb = kk->panel_bytes(kcb);
            for (size_t p = 0; p < npan; p++) {
                size_t j = jc + p * nr;
                kk->pack(mm->W, j, EC_MIN(nr, n1 - j), pc, kcb, panels + p * pb);
            }
            for (size_t ir = m0; ir < m1; ir += mr) {
                int mre = (int)EC_MIN(mr, m1 - ir);
                for (size_t p = 0; p < npan; p++) {
                    size_t j = jc + p * nr, nj = EC_MIN(nr, n1 - j);
                    const void *panel = panels + p * pb;
                    if (nj < nr) {
                        gemm_edge_tile(g, kcb, ir, mre, pc, panel, j, nj);
                        continue;
                    }
                    const float *init = pc ? NULL : mm->bias ? mm->bias + j : zeros;
                    kk->ukr(kcb, &g->a, ir, pc, panel, mm->Y + ir * ldc + j, ldc, mre, init);
                }
            }
        }
    }
}

void kern_gemm_run(const kern_mm_t *mm, const kern_gemm_t *kk)
{
    const kern_mat_t *W = mm->W;
    gemm_ctx_t g = {.mm = mm, .kk = kk};
    size_t ka = (size_t)kk->kalign;
    g.kp = (W->n_in + ka - 1) / ka * ka;
    int T = kern_pool_threads(mm->pool);

    if (kk->a_row_bytes) {
        size_t rb = kk->a_row_bytes(W->n_in);
        size_t nblk = g.kp / 32 + 1;
        char *buf = kern_scratch(1, mm->rows * rb + mm->rows * nblk * sizeof(float) + 64);
        g.a.base = g.abuf = buf;
        g.a.stride = rb;
        g.a.scale = g.sbuf = (float *)(buf + (mm->rows * rb + 63) / 64 * 64);
        g.a.sstride = nblk;
        int np = (int)EC_MIN((size_t)T, mm->rows);
        kern_pool_run(mm->pool, gemm_prep_task, &g, np);
    } else {
        g.a.base = mm->X;
        g.a.stride = W->n_in * sizeof(float);
    }

    size_t n_panels = (W->n_out + kk->nr - 1) / kk->nr;
    size_t m_blocks = (mm->rows + kk->mr - 1) / kk->mr;
    g.tn = (int)EC_MIN((size_t)T, n_panels);
    g.tm = (int)EC_MAX((size_t)1, EC_MIN((size_t)(T / g.tn), m_blocks));
    kern_pool_run(mm->pool, gemm_task, &g, g.tm * g.tn);
}

/* ---------------------------------------------------------------------------------------
 * Scalar reference */

static float dot_scalar(const float *a, const float *b, size_t n)
{
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

enum { SCALAR_COLS = 16 }; /* weight rows converted together per task step */

static void matmul_scalar_task(void *ctx, int t, int nt)
{
    const kern_mm_t *mm = ctx;
    const kern_mat_t *W = mm->W;
    size_t lo, hi;
    kern_split(W->n_out, SCALAR_COLS, t, nt, &lo, &hi);
    float *w = kern_scratch(0, SCALAR_COLS * W->n_in * sizeof(float));
    for (size_t o0 = lo; o0 < hi; o0 += SCALAR_COLS) {
        size_t no = EC_MIN((size_t)SCALAR_COLS, hi - o0);
        for (size_t j = 0; j < no; j++)
            kern_row_to_f32_scalar(W->type, (const char *)W->data + (o0 + j) * W->row_bytes,
                                   W->n_in, w + j * W->n_in);
        for (size_t r = 0; r < mm->rows; r++) {
            const float *x = mm->X + r * W->n_in;
            float *y = mm->Y + r * W->n_out + o0;
            for (size_t j = 0; j < no; j++)
                y[j] = dot_scalar(x, w + j * W->n_in, W->n_in) + (mm->bias ? mm->bias[o0 + j] : 0);
        }
    }
}

static void matmul_scalar(const kern_mm_t *mm)
{
    int nt = kern_pool_threads(mm->pool);
    size_t chunks = (mm->W->n_out + SCALAR_COLS - 1) / SCALAR_COLS;
    if ((size_t)nt > chunks) nt = (int)chunks;
    kern_pool_run(mm->pool, matmul_scalar_task, (void *)mm, nt);
}

static const kern_ops_t kern_ops_scalar = {
    .name = "scalar",
    .matmul = matmul_scalar,
    .dot = dot_scalar,
    .row_to_f32 = kern_row_to_f32_scalar,
};

/* ---------------------------------------------------------------------------------------
 * Dispatch */

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static kern_isa_t isa_best = KERN_ISA_SCALAR, isa_cur = KERN_ISA_SCALAR;
static const kern_ops_t *ops = &kern_ops_scalar;
static char isa_name_buf[64];

static bool cpu_has_f16c(void)
{
#ifdef KERN_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    return (c & bit_F16C) != 0;
#else
    return false;
#endif
}

static void isa_detect(void)
{
#ifdef KERN_X86
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (avx512)
        isa_best = KERN_ISA_AVX512;
    else if (avx2)
        isa_best = KERN_ISA_AVX2;
#endif
}

static void isa_apply(kern_isa_t isa)
{
    isa_cur = isa;
    switch (isa) {
#ifdef KERN_X86
    case KERN_ISA_AVX512:
        ops = &kern_ops_avx512;
        break;
    case KERN_ISA_AVX2:
        ops = &kern_ops_avx2;
        break;
#endif
    default:
        ops = &kern_ops_scalar;
        break;
    }
    bool bf16 = false, vnni = false;
#ifdef KERN_X86
    if (isa == KERN_ISA_AVX512) {
        bf16 = __builtin_cpu_supports("avx512bf16") != 0;
        vnni = __builtin_cpu_supports("avx512vnni") != 0;
    }
#endif
    snprintf(isa_name_buf, sizeof isa_name_buf, "%s%s%s", ops->name, bf16 ? "+bf16" : "",
             vnni ? "+vnni" : "");
}

static void isa_init(void)
{
    isa_detect();
    kern_isa_t want = isa_best;
    const char *env = getenv("EMBECODE_ISA");
    if (env && *env) {
        kern_isa_t e = isa_best;
        if (!strcmp(env, "scalar"))
            e = KERN_ISA_SCALAR;
        else if (!strcmp(env, "avx2"))
            e = KERN_ISA_AVX2;
        else if (!strcmp(env, "avx512"))
            e = KERN_ISA_AVX512;
        if (e < want) want = e; /* may only lower the level */
    }
    isa_apply(want);
}

static const kern_ops_t *kern_ops(void)
{
    pthread_once(&isa_once, isa_init);
    return ops;
}

kern_isa_t kern_isa_best(void)
{
    pthread_once(&isa_once, isa_init);
    return isa_best;
}

kern_isa_t kern_isa_current(void)
{
    pthread_once(&isa_once, isa_init);
    return isa_cur;
}

int kern_isa_set(kern_isa_t isa)
{
    pthread_once(&isa_once, isa_init);
    if (isa > isa_best || isa < KERN_ISA_SCALAR) return -1;
    isa_apply(isa);
    return 0;
}

const char *kern_isa_name(void)
{
    kern_ops();
    return isa_name_buf;
}

/* ---------------------------------------------------------------------------------------
 * Public entry points */

float kern_dot(const float *a, const float *b, size_t n)
{
    return kern_ops()->dot(a, b, n);
}

void kern_row_to_f32(gguf_dtype_t type, const void *row, size_t n, float *out)
{
    kern_ops()->row_to_f32(type, row, n, out);
}

/* Local copy of the type names (kern does not link gguf.c). */
static const char *type_name(gguf_dtype_t t)
{
    switch (t) {
    case GGUF_F32:
        return "F32";
    case GGUF_F16:
        return "F16";
    case GGUF_BF16:
        return "BF16";
    case GGUF_Q8_0:
        return "Q8_0";
    case GGUF_Q4_0:
        return "Q4_0";
    }
    return "?";
}

kern_mat_t *kern_mat_new(gguf_dtype_t type, const void *data, size_t n_out, size_t n_in,
                         kern_mode_t mode, err_t *err)
{
    switch (type) {
    case GGUF_F32:
    case GGUF_F16:
    case GGUF_BF16:
    case GGUF_Q8_0:
    case GGUF_Q4_0:
        break;
    default:
        err_set(err,
                "weight matrix has tensor type %u, which the kernels do not support; "
                "use an F32, F16, BF16, Q8_0 or Q4_0 model file",
                (unsigned)type);
        return NULL;
    }
    if (mode != KERN_MODE_F32 && mode != KERN_MODE_BF16 && mode != KERN_MODE_INT8) {
        err_set(err, "unknown kernel arithmetic mode %d (internal error)", (int)mode);
        return NULL;
    }
    if (!data || n_out == 0 || n_in == 0) {
        err_set(err,
                "weight matrix %zu x %zu %s: empty or missing data; the model file is "
                "corrupt",
                n_out, n_in, type_name(type));
        return NULL;
    }
    if ((type == GGUF_Q8_0 || type == GGUF_Q4_0) && n_in % 32 != 0) {
        err_set(err,
                "weight matrix %zu x %zu of type %s: rows must hold a multiple of 32 "
                "elements; the model file is corrupt",
                n_out, n_in, type_name(type));
        return NULL;
    }
    if (n_in > ((size_t)1 << 24) || n_out > ((size_t)1 << 24)) {
        err_set(err,
                "weight matrix %zu x %zu is too large for the kernels (limit 16M per "
                "dimension); the model file is corrupt",
                n_out, n_in);
        return NULL;
    }
    kern_mat_t *m = xcalloc(1, sizeof *m);
    m->type = type;
    m->data = data;
    m->n_out = n_out;
    m->n_in = n_in;
    m->row_bytes = kern_row_bytes(type, n_in);
    m->mode = mode;
    return m;
}

void kern_mat_free(kern_mat_t *m)
{
    free(m);
}

size_t kern_mat_rows(const kern_mat_t *m)
{
    return m->n_out;
}

size_t kern_mat_cols(const kern_mat_t *m)
{
    return m->n_in;
}

void kern_matmul(kern_pool_t *pool, const kern_mat_t *W, const float *X, size_t rows,
                 const float *bias, float *Y)
{
    if (rows == 0) return;
    kern_mm_t mm = {.W = W, .X = X, .rows = rows, .bias = bias, .Y = Y, .pool = pool};
    kern_ops()->matmul(&mm);
}

/* ---------------------------------------------------------------------------------------
 * Worker pool. A call publishes (fn, ctx, n), then sets `claim` to (generation, 0); every
 * thread, the caller included, takes task indices by compare-and-swap on `claim`, and the
 * caller waits until `done` reaches n. Tasks, not threads, are counted: when the machine is
 * oversubscribed and a worker is not scheduled, the caller simply runs the tasks itself and
 * returns without waiting for that worker to wake up. A claim succeeds only while the
 * generation is unchanged, so a late worker can never run a task of a finished call.
 *
 * Idle workers spin briefly (the forward pass calls kern_pool_run hundreds of times per batch
 * with short gaps, and waking a sleeping thread costs tens of microseconds), then sleep on a
 * condition variable. */

/* Spin iterations (each a pause, ~10-40 ns) before a thread sleeps: roughly 50 µs. */
enum { POOL_SPIN = 4000 };

struct kern_pool {
    int n_threads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    _Atomic uint64_t job;   /* generation << 32 | number of tasks */
    _Atomic uint64_t claim; /* generation << 32 | next task index */
    atomic_int done;        /* tasks finished in the current generation */
    int sleepers;           /* workers waiting on cv_work (under mu) */
    bool caller_waits;      /* caller waiting on cv_done (under mu) */
    bool stop;              /* under mu */
    void (*fn)(void *ctx, int i, int n);
    void *ctx;
};

/* Claims and runs tasks of generation `gen` until none are left or the call has ended.
 * The task count is read from `job`, published (with its generation) before `claim`: a
 * worker still looking at the previous call's claim word must not compare it against the
 * next call's count. fn and ctx are read only after a successful claim, when the caller
 * cannot be publishing the next call. */
static void pool_take_tasks(kern_pool_t *p, uint32_t gen)
{
    uint64_t w = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        uint64_t job = atomic_load_explicit(&p->job, memory_order_acquire);
        if ((uint32_t)(w >> 32) != gen || (uint32_t)(job >> 32) != gen) return;
        int n = (int)(uint32_t)job, i = (int)(uint32_t)w;
        if (i >= n) return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &w, w + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        p->fn(p->ctx, i, n);
        if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) == n - 1) {
            pthread_mutex_lock(&p->mu);
            if (p->caller_waits) pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
        w = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

static void *pool_worker(void *arg)
{
    kern_pool_t *p = arg;
    uint32_t seen = 0;
    for (;;) {
        uint32_t g = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >> 32);
        for (int s = 0; g == seen && s < POOL_SPIN; s++) {
            POOL_PAUSE();
            g = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >> 32);
        }
        pthread_mutex_lock(&p->mu);
        while (!p->stop && (g = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >>
                                           32)) == seen) {
            p->sleepers++;
            pthread_cond_wait(&p->cv_work, &p->mu);
            p->sleepers--;
        }
        bool stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) return NULL;
        seen = g;
        pool_take_tasks(p, g);
    }
}

kern_pool_t *kern_pool_new(int n_threads)
{
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)EC_MIN(n, 256) : 1;
    }
    kern_pool_t *p = xcalloc(1, sizeof *p);
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->job, 0);
    atomic_init(&p->claim, 0);
    atomic_init(&p->done, 0);
    p->threads = xcalloc((size_t)n_threads, sizeof *p->threads);
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_worker, p) != 0) {
            p->n_threads = i; /* cannot start more threads: run with the ones we have */
            break;
        }
    }
    return p;
}

void kern_pool_free(kern_pool_t *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int kern_pool_threads(const kern_pool_t *p)
{
    return p ? p->n_threads : 1;
}

void kern_pool_run(kern_pool_t *p, void (*fn)(void *ctx, int i, int n), void *ctx, int n)
{
    if (n <= 0) return;
    if (!p || p->n_threads == 1 || n == 1) {
        for (int i = 0; i < n; i++)
            fn(ctx, i, n);
        return;
    }
    /* No worker reads fn/ctx now: every claim of the previous call has completed, and no
     * new claim can succeed before `claim` carries the new generation. */
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    uint32_t gen = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_relaxed) >> 32) + 1;
    atomic_store_explicit(&p->job, (uint64_t)gen << 32 | (uint32_t)n, memory_order_release);
    atomic_store_explicit(&p->claim, (uint64_t)gen << 32, memory_order_release);
    pthread_mutex_lock(&p->mu);
    if (p->sleepers) pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);

    pool_take_tasks(p, gen);

    for (int s = 0; s < POOL_SPIN; s++) {
        if (atomic_load_explicit(&p->done, memory_order_acquire) == n) return;
        POOL_PAUSE();
    }
    pthread_mutex_lock(&p->mu);
    p->caller_waits = true;
    while (atomic_load_explicit(&p->done, memory_order_acquire) != n)
        pthread_cond_wait(&p->cv_done, &p->mu);
    p->caller_waits = false;
    pthread_mutex_unlock(&p->mu);
}
