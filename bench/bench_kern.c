/* bench_kern.c — kernel throughput: a peak-FLOP probe (register-only FMA / BF16 / VNNI
 * loops) and GEMM GFLOP/s per ISA level, arithmetic mode and weight type for the shapes of
 * the embedding models (rows = 16 sequences × 256 tokens), plus the GEMM-only tokens/s
 * that implies for MiniLM-L6 and nomic-embed.
 *
 * Usage: bench_kern [-t threads] [-r rows] [-q] [-s]   (-q: f32 weights only, fewer shapes;
 *        -s: also small-row shapes; -S: only those). */
#include "kern.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- peak probe ---------------------------------------------------------------------- */

enum { PROBE_ITERS = 2000000 };

#define PROBE_TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx512vnni,fma")))

/* 12 independent accumulator chains (named variables, so both compilers keep them in
 * registers), enough to cover latency × throughput. */
#define PROBE12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

PROBE_TGT static void *probe_fma(void *arg)
{
    float *out = arg;
    __m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-7f);
#define FMA_INIT(i) __m512 a##i = _mm512_set1_ps((float)i);
#define FMA_STEP(i) a##i = _mm512_fmadd_ps(a##i, b, c);
#define FMA_SUM(i) s = _mm512_add_ps(s, a##i);
    PROBE12(FMA_INIT)
    for (long k = 0; k < PROBE_ITERS; k++) {
        PROBE12(FMA_STEP)
    }
    __m512 s = _mm512_setzero_ps();
    PROBE12(FMA_SUM)
    *out = _mm512_reduce_add_ps(s);
    return NULL;
}

PROBE_TGT static void *probe_bf16(void *arg)
{
    float *out = arg;
    __m512bh b = (__m512bh)_mm512_set1_epi16(0x3f80), c = (__m512bh)_mm512_set1_epi16(0x3c00);
#define BF_STEP(i) a##i = _mm512_dpbf16_ps(a##i, b, c);
    PROBE12(FMA_INIT)
    for (long k = 0; k < PROBE_ITERS; k++) {
        PROBE12(BF_STEP)
    }
    __m512 s = _mm512_setzero_ps();
    PROBE12(FMA_SUM)
    *out = _mm512_reduce_add_ps(s);
    return NULL;
}

PROBE_TGT static void *probe_vnni(void *arg)
{
    float *out = arg;
    __m512i b = _mm512_set1_epi8(3), c = _mm512_set1_epi8(2);
#define VN_INIT(i) __m512i a##i = _mm512_set1_epi32(i);
#define VN_STEP(i) a##i = _mm512_dpbusd_epi32(a##i, b, c);
#define VN_SUM(i) s = _mm512_add_epi32(s, a##i);
    PROBE12(VN_INIT)
    for (long k = 0; k < PROBE_ITERS; k++) {
        PROBE12(VN_STEP)
    }
    __m512i s = _mm512_setzero_si512();
    PROBE12(VN_SUM)
    *out = (float)_mm512_reduce_add_epi32(s);
    return NULL;
}

/* Returns operations per second over nt threads; ops_per_instr = flops per instruction. */
static double probe_run(void *(*fn)(void *), int nt, double ops_per_instr)
{
    pthread_t th[64];
    float sink[64];
    double best = 0;
    for (int rep = 0; rep < 3; rep++) { /* best of 3: the machine may be shared */
        double t0 = time_mono_ms();
        for (int i = 0; i < nt; i++) pthread_create(&th[i], NULL, fn, &sink[i]);
        for (int i = 0; i < nt; i++) pthread_join(th[i], NULL);
        double s = (time_mono_ms() - t0) / 1000;
        best = EC_MAX(best, (double)PROBE_ITERS * 12 * nt * ops_per_instr / s);
    }
    return best;
}

/* ---- GEMM ----------------------------------------------------------------------------- */

static float frand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return ((float)(*s >> 8) / 16777216.0f - 0.5f) * 2;
}

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v & 0xff), p[1] = (unsigned char)(v >> 8);
}

static unsigned char *make_weights(gguf_dtype_t type, size_t n_out, size_t n_in)
{
    unsigned s = 7;
    size_t rb = kern_row_bytes(type, n_in);
    unsigned char *w = malloc(rb * n_out);
    for (size_t o = 0; o < n_out; o++) {
        unsigned char *p = w + o * rb;
        for (size_t i = 0; i < n_in; i++) {
            float v = frand(&s) * 0.05f;
            switch (type) {
            case GGUF_F32: memcpy(p + 4 * i, &v, 4); break;
            case GGUF_F16: put_u16(p + 2 * i, kern_f32_to_f16(v)); break;
            case GGUF_BF16: put_u16(p + 2 * i, kern_f32_to_bf16(v)); break;
            case GGUF_Q8_0:
                if (i % 32 == 0) put_u16(p + i / 32 * 34, kern_f32_to_f16(0.05f / 127));
                p[i / 32 * 34 + 2 + i % 32] = (unsigned char)(int8_t)(frand(&s) * 127);
                break;
            case GGUF_Q4_0:
                if (i % 32 == 0) put_u16(p + i / 32 * 18, kern_f32_to_f16(0.05f / 8));
                if (i % 32 < 16) p[i / 32 * 18 + 2 + i % 32] = (unsigned char)(s >> 24);
                break;
            }
        }
    }
    return w;
}

static const char *tname(gguf_dtype_t t)
{
    return t == GGUF_F32 ? "F32" : t == GGUF_F16 ? "F16" : t == GGUF_BF16 ? "BF16"
           : t == GGUF_Q8_0 ? "Q8_0" : "Q4_0";
}

static const char *mname(kern_mode_t m)
{
    return m == KERN_MODE_F32 ? "f32" : m == KERN_MODE_BF16 ? "bf16" : "int8";
}

/* Seconds per product (best of a few runs). */
static double time_gemm(kern_pool_t *pool, gguf_dtype_t type, kern_mode_t mode, size_t rows,
                        size_t n_in, size_t n_out)
{
    unsigned char *w = make_weights(type, n_out, n_in);
    float *x = malloc(rows * n_in * 4), *y = malloc(rows * n_out * 4), *bias = calloc(n_out, 4);
    unsigned s = 3;
    for (size_t i = 0; i < rows * n_in; i++) x[i] = frand(&s);
    kern_mat_t *m = kern_mat_new(type, w, n_out, n_in, mode, NULL);
    kern_matmul(pool, m, x, rows, bias, y);
    double flop = 2.0 * rows * n_in * n_out, best = 1e9, total = 0;
    for (int rep = 0; rep < 20 && (rep < 3 || total < 0.3); rep++) {
        double t0 = time_mono_ms();
        kern_matmul(pool, m, x, rows, bias, y);
        double dt = (time_mono_ms() - t0) / 1000;
        total += dt;
        if (dt < best) best = dt;
    }
    (void)flop;
    kern_mat_free(m);
    free(w), free(x), free(y), free(bias);
    return best;
}

typedef struct {
    const char *name;
    size_t n_in, n_out;
    int per_layer; /* how many such products per layer */
} shape_t;

/* One layer's projections; attention itself (QK^T, softmax, AV) is not included. */
static const shape_t minilm[] = {
    {"qkv 384->1152", 384, 1152, 1}, {"out 384->384", 384, 384, 1},
    {"up 384->1536", 384, 1536, 1}, {"down 1536->384", 1536, 384, 1},
};
static const shape_t nomic[] = {
    {"qkv 768->2304", 768, 2304, 1}, {"out 768->768", 768, 768, 1},
    {"gate|up 768->3072", 768, 3072, 2}, {"down 3072->768", 3072, 768, 1},
};

static void bench_model(kern_pool_t *pool, const char *model, const shape_t *sh, int n,
                        int layers, size_t rows, gguf_dtype_t type, kern_mode_t mode, double peak)
{
    double total = 0, flops = 0;
    printf("  %-6s %-5s %-5s", model, tname(type), mname(mode));
    for (int i = 0; i < n; i++) {
        double t = time_gemm(pool, type, mode, rows, sh[i].n_in, sh[i].n_out);
        double f = 2.0 * rows * sh[i].n_in * sh[i].n_out;
        printf(" | %s %6.1f", sh[i].name, f / t / 1e9);
        total += t * sh[i].per_layer;
        flops += f * sh[i].per_layer;
    }
    printf(" | all %6.1f GFLOP/s (%2.0f%% of peak) -> GEMM-only %6.0f tokens/s\n",
           flops / total / 1e9, 100 * flops / total / peak, (double)rows / (total * layers));
    fflush(stdout);
}

typedef struct {
    const float *qkv; /* rows of 3 * width: Q | K | V */
    float *out;
    size_t seq, width, hd;
} attn_ctx_t;

static void attn_task(void *arg, int t, int nt)
{
    (void)nt;
    const attn_ctx_t *a = arg;
    size_t heads = a->width / a->hd, s = (size_t)t / heads, h = (size_t)t % heads;
    size_t ld = 3 * a->width;
    const float *base = a->qkv + s * a->seq * ld + h * a->hd;
    kern_attention(a->seq, a->seq, a->hd, base, ld, base + a->width, ld, base + 2 * a->width, ld,
                   NULL, 1 / sqrtf((float)a->hd), a->out + s * a->seq * a->width + h * a->hd,
                   a->width);
}

/* One layer's attention for 16 sequences × seq tokens, all heads, across the pool. */
static void bench_attention(kern_pool_t *pool, const char *model, size_t width, size_t hd,
                            size_t seq, int layers, double peak)
{
    size_t nseq = 16;
    float *qkv = malloc(nseq * seq * 3 * width * 4), *out = malloc(nseq * seq * width * 4);
    unsigned s = 5;
    for (size_t i = 0; i < nseq * seq * 3 * width; i++) qkv[i] = frand(&s);
    attn_ctx_t a = {qkv, out, seq, width, hd};
    int tasks = (int)(nseq * (width / hd));
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = time_mono_ms();
        kern_pool_run(pool, attn_task, &a, tasks);
        double dt = (time_mono_ms() - t0) / 1000;
        if (dt < best) best = dt;
    }
    double flop = 4.0 * seq * seq * width * nseq;
    printf("  attention %-6s (hd %zu, seq %zu): %6.1f GFLOP/s (%2.0f%% of f32 peak), %.2f ms "
           "per layer -> %.0f tokens/s for attention alone\n",
           model, hd, seq, flop / best / 1e9, 100 * flop / best / peak, best * 1e3,
           (double)(nseq * seq) / (best * layers));
    free(qkv), free(out);
}

int main(int argc, char **argv)
{
    int threads = 2, quick = 0, small = 0;
    size_t rows = 4096;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) rows = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "-q")) quick = 1;
        else if (!strcmp(argv[i], "-s")) small = 1;
        else if (!strcmp(argv[i], "-S")) small = 2;
    }
    printf("kern bench: best isa %s, %d threads, rows %zu\n", kern_isa_name(), threads, rows);

    double pk_fma = 0, pk_bf16 = 0, pk_vnni = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && small < 2) {
        /* Peak = threads × the one-thread rate (the machine's capability); the all-threads
         * probe shows what is available right now (lower when other work shares the CPU). */
        for (int nt = 1; nt <= threads; nt += threads > 1 ? threads - 1 : 1) {
            double f = probe_run(probe_fma, nt, 32), b = 0, v = 0;
            printf("peak probe, %d thread(s): f32 FMA %.0f GFLOP/s", nt, f / 1e9);
            if (__builtin_cpu_supports("avx512bf16")) {
                b = probe_run(probe_bf16, nt, 64);
                printf(", bf16 dot %.0f GFLOP/s", b / 1e9);
            }
            if (__builtin_cpu_supports("avx512vnni")) {
                v = probe_run(probe_vnni, nt, 128);
                printf(", int8 dot %.0f GOP/s", v / 1e9);
            }
            printf("\n");
            if (nt == 1) pk_fma = f * threads, pk_bf16 = b * threads, pk_vnni = v * threads;
        }
        printf("peak used below (%d x one thread): f32 %.0f GFLOP/s, bf16 %.0f, int8 %.0f GOP/s\n",
               threads, pk_fma / 1e9, pk_bf16 / 1e9, pk_vnni / 1e9);
    }
    if (pk_fma == 0) pk_fma = 1e12;
    kern_pool_t *pool = kern_pool_new(threads);
    kern_isa_t best = kern_isa_best();
    if (small < 2) {
        bench_attention(pool, "MiniLM", 384, 32, 256, 6, pk_fma);
        bench_attention(pool, "nomic", 768, 64, 256, 12, pk_fma);
    }
    for (int isa = best; small < 2 && isa >= (quick ? (int)best : KERN_ISA_AVX2); isa--) {
        if (kern_isa_set((kern_isa_t)isa) != 0) continue;
        printf("isa %s:\n", kern_isa_name());
        for (int mode = 0; mode < 3; mode++) {
            double peak = mode == KERN_MODE_BF16 && pk_bf16 && isa == KERN_ISA_AVX512 ? pk_bf16
                          : mode == KERN_MODE_INT8 && pk_vnni && isa == KERN_ISA_AVX512 ? pk_vnni
                                                                                        : pk_fma;
            gguf_dtype_t types[] = {GGUF_F32, GGUF_F16, GGUF_Q8_0};
            int nty = quick ? 1 : 3;
            for (int t = 0; t < nty; t++) {
                if (mode == KERN_MODE_INT8 && t == 0 && !quick) t = 2; /* int8: Q8_0 only */
                bench_model(pool, "MiniLM", minilm, 4, 6, rows, types[t], (kern_mode_t)mode, peak);
                bench_model(pool, "nomic", nomic, 4, 12, rows, types[t], (kern_mode_t)mode, peak);
            }
            if (isa != KERN_ISA_AVX512) break; /* other modes run as f32 there */
        }
    }
    if (small) {
        kern_isa_set(best);
        size_t rs[] = {1, 4, 16, 64, 256};
        for (size_t i = 0; i < ARRAY_LEN(rs); i++)
            for (int mode = 0; mode < 3; mode++) {
                double t = time_gemm(pool, GGUF_F32, (kern_mode_t)mode, rs[i], 768, 3072);
                printf("small rows=%zu 768->3072 F32 %s: %.1f GFLOP/s (%.1f us)\n", rs[i],
                       mname((kern_mode_t)mode), 2.0 * rs[i] * 768 * 3072 / t / 1e9, t * 1e6);
            }
    }
    kern_pool_free(pool);
    return 0;
}
