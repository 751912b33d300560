/* bench_embed.c — forward-pass throughput of the embedding engine, in tokens per second and
 * as a fraction of the machine's measured peak.
 *
 *   /usr/bin/python3 tools/gen_fixtures.py --bench /tmp/bert-bench   # random-weight models
 *   build/bench/bench_embed [--threads 2] [--seqs 16] [--tokens 256] [--modes f32,bf16,int8]
 *                           [--reps 3] [model.gguf ...]
 *
 * Default models: /tmp/bert-bench/bench-minilm.f32.gguf and bench-nomic.f32.gguf (MiniLM and
 * nomic-embed-text shapes, F32 weights; BF16/INT8 modes convert them at load). Every run
 * encodes one batch of `seqs` random sequences of exactly `tokens` tokens (no padding), the
 * same shape as bench/torch_embed.py, and reports the best of `reps` runs after a warm-up.
 *
 * Peak: measured here, with every thread running independent FMA chains (and the
 * VDPBF16PS / VPDPBUSD dot-product instructions where the CPU has them), so the fraction
 * printed is of what these cores actually sustain, whatever their clock. */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "gguf.h"
#include "kern.h"
#include "util.h"

/* ---- Peak throughput ------------------------------------------------------------------ */

enum { PEAK_ITERS = 10 * 1000 * 1000 };

typedef enum { PEAK_F32, PEAK_BF16, PEAK_INT8 } peak_kind_t;

/* Twelve independent accumulator chains (distinct start values, so the compiler cannot merge
 * them), written out so they stay in registers: enough to cover latency x throughput of any
 * current core. */
#define CHAINS12(OP)                                                                               \
    do {                                                                                           \
        a0 = OP(a0);                                                                               \
        a1 = OP(a1);                                                                               \
        a2 = OP(a2);                                                                               \
        a3 = OP(a3);                                                                               \
        a4 = OP(a4);                                                                               \
        a5 = OP(a5);                                                                               \
        a6 = OP(a6);                                                                               \
        a7 = OP(a7);                                                                               \
        a8 = OP(a8);                                                                               \
        a9 = OP(a9);                                                                               \
        a10 = OP(a10);                                                                             \
        a11 = OP(a11);                                                                             \
    } while (0)

/* Each returns the operations performed (a multiply-add counts as 2). */
__attribute__((target("avx512f,fma"))) static double peak_avx512_f32(long n)
{
    __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2),
           a3 = _mm512_set1_ps(3), a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5),
           a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7), a8 = _mm512_set1_ps(8),
           a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
#define OP(x) _mm512_fmadd_ps(x, b, c)
    for (long i = 0; i < n; i++)
        CHAINS12(OP);
#undef OP
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)n * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) static double peak_avx2_f32(long n)
{
    __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2),
           a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5),
           a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8),
           a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
#define OP(x) _mm256_fmadd_ps(x, b, c)
    for (long i = 0; i < n; i++)
        CHAINS12(OP);
#undef OP
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    volatile float sink = out[0];
    (void)sink;
    return (double)n * 12 * 8 * 2;
}

__attribute__((target("avx512f,avx512bf16"))) static double peak_avx512_bf16(long n)
{
    __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3400);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2),
           a3 = _mm512_set1_ps(3), a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5),
           a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7), a8 = _mm512_set1_ps(8),
           a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
#define OP(v) _mm512_dpbf16_ps(v, x, y)
    for (long i = 0; i < n; i++)
        CHAINS12(OP);
#undef OP
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)n * 12 * 32 * 2;
}

__attribute__((target("avx512f,avx512vnni"))) static double peak_avx512_int8(long n)
{
    /* Products 1·1 + 1·(-1) + 1·1 + 1·(-1) = 0 per lane: the sums never overflow. */
    __m512i x = _mm512_set1_epi8(1), y = _mm512_set1_epi32((int)0xFF01FF01);
    __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2),
            a3 = _mm512_set1_epi32(3), a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5),
            a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7), a8 = _mm512_set1_epi32(8),
            a9 = _mm512_set1_epi32(9), a10 = _mm512_set1_epi32(10), a11 = _mm512_set1_epi32(11);
#define OP(v) _mm512_dpbusd_epi32(v, x, y)
    for (long i = 0; i < n; i++)
        CHAINS12(OP);
#undef OP
    __m512i s =
        _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                         _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
    volatile int sink = _mm512_reduce_add_epi32(s);
    (void)sink;
    return (double)n * 12 * 64 * 2;
}

typedef struct {
    peak_kind_t kind;
    double ops;
} peak_job_t;

static bool peak_supported(peak_kind_t kind)
{
    __builtin_cpu_init();
    switch (kind) {
    case PEAK_F32:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case PEAK_BF16:
        return __builtin_cpu_supports("avx512bf16");
    case PEAK_INT8:
        return __builtin_cpu_supports("avx512vnni");
    }
    return false;
}

static void *peak_thread(void *arg)
{
    peak_job_t *j = arg;
    bool avx512 = __builtin_cpu_supports("avx512f");
    switch (j->kind) {
    case PEAK_F32:
        j->ops = avx512 ? peak_avx512_f32(PEAK_ITERS) : peak_avx2_f32(PEAK_ITERS);
        break;
    case PEAK_BF16:
        j->ops = peak_avx512_bf16(PEAK_ITERS);
        break;
    case PEAK_INT8:
        j->ops = peak_avx512_int8(PEAK_ITERS);
        break;
    }
    return NULL;
}

/* Operations per second of n_threads threads running the kind's instruction flat out;
 * 0 when the CPU lacks it. Best of ten runs: on a shared machine the others are low. */
static double peak_ops(peak_kind_t kind, int n_threads)
{
    if (!peak_supported(kind)) return 0;
    double best = 0;
    for (int rep = 0; rep < 10; rep++) {
        pthread_t th[64];
        peak_job_t jobs[64];
        double t0 = time_mono_ms();
        for (int i = 0; i < n_threads; i++) {
            jobs[i].kind = kind;
            pthread_create(&th[i], NULL, peak_thread, &jobs[i]);
        }
        double ops = 0;
        for (int i = 0; i < n_threads; i++) {
            pthread_join(th[i], NULL);
            ops += jobs[i].ops;
        }
        best = EC_MAX(best, ops / ((time_mono_ms() - t0) / 1000));
    }
    return best;
}

/* ---- The model ------------------------------------------------------------------------ */

/* Floating-point operations per token of one forward pass over sequences of T tokens:
 * the matrix products (2 per weight) and attention (Q·K and P·V: 2·T·D each). */
static double flops_per_token(const bert_hparams_t *hp, size_t T)
{
    double d = hp->n_embd, f = hp->n_ff;
    double linear = 4 * d * d + (hp->arch == BERT_ARCH_NOMIC_BERT ? 3 : 2) * d * f;
    return hp->n_layer * (2 * linear + 4 * (double)T * d);
}

static const char *mode_str(kern_mode_t m)
{
    return m == KERN_MODE_F32 ? "f32" : m == KERN_MODE_BF16 ? "bf16" : "int8";
}

static int bench_model(const char *path, const kern_mode_t *modes, int n_modes, int threads,
                       size_t seqs, size_t T, int reps, const double peak[3])
{
    err_t err;
    gguf_t *g = gguf_open(path, &err);
    if (!g) {
        fprintf(stderr,
                "%s\n(generate it with: /usr/bin/python3 tools/gen_fixtures.py --bench "
                "/tmp/bert-bench)\n",
                err.msg);
        return -1;
    }
    kern_pool_t *pool = kern_pool_new(threads);
    for (int mi = 0; mi < n_modes; mi++) {
        double t_load = time_mono_ms();
        bert_model_t *m = bert_model_load(g, modes[mi], &err);
        if (!m) {
            fprintf(stderr, "%s\n", err.msg);
            gguf_close(g);
            kern_pool_free(pool);
            return -1;
        }
        t_load = time_mono_ms() - t_load;
        const bert_hparams_t *hp = bert_model_hparams(m);
        if (T > hp->n_ctx) T = hp->n_ctx;
        int32_t *ids = xmalloc(seqs * T * sizeof *ids);
        uint32_t *lens = xmalloc(seqs * sizeof *lens);
        unsigned seed = 42;
        for (size_t s = 0; s < seqs; s++) {
            lens[s] = (uint32_t)T;
            for (size_t t = 0; t < T; t++) {
                seed = seed * 1103515245u + 12345u;
                ids[s * T + t] = 1000 + (int32_t)((seed >> 8) % (hp->n_vocab - 1000));
            }
            ids[s * T] = 101;
            ids[s * T + T - 1] = 102;
        }
        float *out = xmalloc(seqs * hp->n_embd * sizeof *out);
        bert_ctx_t *c = bert_ctx_new(m, pool);
        double best = 1e30;
        for (int r = 0; r <= reps; r++) { /* run 0 warms up (allocation, page faults) */
            double t0 = time_mono_ms();
            if (bert_encode(c, ids, lens, seqs, T, out, &err) != 0) {
                fprintf(stderr, "%s\n", err.msg);
                break;
            }
            if (r > 0) best = EC_MIN(best, time_mono_ms() - t0);
        }
        bert_profile_t pr = bert_ctx_profile(c);
        double all = pr.matmul_ms + pr.attention_ms + pr.other_ms;
        double tps = (double)(seqs * T) / (best / 1000);
        double gflops = tps * flops_per_token(hp, T) / 1e9;
        double pk = peak[modes[mi]] > 0 ? peak[modes[mi]] : peak[KERN_MODE_F32];
        printf("%-40s %-5s %2d threads  %3zu x %3zu tokens  %8.0f tokens/s  %6.1f GFLOP/s  "
               "%4.1f%% of peak  (load %.0f ms; time in matmul %.0f%%, attention %.0f%%, "
               "other %.0f%%)\n",
               path, mode_str(modes[mi]), threads, seqs, T, tps, gflops,
               pk > 0 ? 100 * gflops * 1e9 / pk : 0, t_load, 100 * pr.matmul_ms / all,
               100 * pr.attention_ms / all, 100 * pr.other_ms / all);
        fflush(stdout);
        bert_ctx_free(c);
        free(out);
        free(ids);
        free(lens);
        bert_model_free(m);
    }
    kern_pool_free(pool);
    gguf_close(g);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = 2, reps = 3;
    size_t seqs = 16, T = 256;
    kern_mode_t modes[3] = {KERN_MODE_F32, KERN_MODE_BF16, KERN_MODE_INT8};
    int n_modes = 3;
    const char *paths[16];
    int n_paths = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--threads") == 0 && v) {
            threads = atoi(v), i++;
        } else if (strcmp(a, "--seqs") == 0 && v) {
            seqs = (size_t)atol(v), i++;
        } else if (strcmp(a, "--tokens") == 0 && v) {
            T = (size_t)atol(v), i++;
        } else if (strcmp(a, "--reps") == 0 && v) {
            reps = atoi(v), i++;
        } else if (strcmp(a, "--modes") == 0 && v) {
            n_modes = 0;
            if (strstr(v, "f32")) modes[n_modes++] = KERN_MODE_F32;
            if (strstr(v, "bf16")) modes[n_modes++] = KERN_MODE_BF16;
            if (strstr(v, "int8")) modes[n_modes++] = KERN_MODE_INT8;
            i++;
        } else if (a[0] != '-' && n_paths < 16) {
            paths[n_paths++] = a;
        } else {
            fprintf(stderr,
                    "usage: %s [--threads N] [--seqs N] [--tokens N] [--reps N] "
                    "[--modes f32,bf16,int8] [model.gguf ...]\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || seqs < 1 || T < 2 || reps < 1 || n_modes == 0) {
        fprintf(stderr, "bench_embed: bad arguments\n");
        return 2;
    }
    if (n_paths == 0) {
        paths[n_paths++] = "/tmp/bert-bench/bench-minilm.f32.gguf";
        paths[n_paths++] = "/tmp/bert-bench/bench-nomic.f32.gguf";
    }
    double peak[3] = {peak_ops(PEAK_F32, threads), peak_ops(PEAK_BF16, threads),
                      peak_ops(PEAK_INT8, threads)};
    printf("kernels: %s; measured peak with %d threads: f32 %.0f GFLOP/s, bf16 %.0f GFLOP/s, "
           "int8 %.0f GOP/s\n",
           kern_isa_name(), threads, peak[0] / 1e9, peak[1] / 1e9, peak[2] / 1e9);
    int rc = 0;
    for (int i = 0; i < n_paths; i++)
        if (bench_model(paths[i], modes, n_modes, threads, seqs, T, reps, peak) != 0) rc = 1;
    return rc;
}
