/* bench_vector — semantic search latency of the in-memory vector copy (vecidx.h), issue 4
 * part 8.
 *   usage: bench_vector [--quick] [--size N] [--queries N] [--no-store]
 *
 * 1. Measures the machine's read bandwidth: two threads summing a 1 GiB buffer (best of 3).
 * 2. For 10k, 100k and 1M random unit vectors of 384 and 768 dimensions, in f16 and int8:
 *    fills a vecidx with vecidx_add (a 1M x 768 SQLite index would be 3 GB; the vectors are
 *    generated from their index, and the exact rescoring reads them from that generator via
 *    vecidx_set_exact_source), runs N random queries (default 200, k = 10; the query
 *    embedding is not part of it) and prints p50/p99 of the search, the scan's share, the
 *    scan's GB/s, and the bound set by memory bandwidth for one pass over the copy
 *    (bytes / bandwidth) with the p50's fraction of it. Checks a sample of queries against a
 *    brute-force float32 reference (vecidx_dot_exact over every vector): same chunks, same
 *    order, same scores.
 * 3. Unless --no-store: 100k x 768 through a real index file in a temp dir: storing the
 *    vectors, the first vecidx_sync, search with rescoring read from SQLite, and an
 *    incremental sync after another 1000 chunks.
 * --quick stops at 100k vectors; --size N runs only N vectors (10000, 100000 or 1000000). */
#include "hash.h"
#include "store.h"
#include "util.h"
#include "vecidx.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define K 10

/* ---- generated vectors ---- */

static inline uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Vector i: uniform components in [-1, 1), normalised (close to uniform on the sphere in
 * these dimensions, and cheap to regenerate for the exact rescoring). */
static void gen_vec(uint64_t i, int dim, float *v)
{
    uint64_t s = i * 0x2545F4914F6CDD1DULL + 12345;
    double n2 = 0;
    for (int j = 0; j < dim; j += 2) {
        uint64_t r = splitmix(&s);
        v[j] = (float)(int32_t)(uint32_t)r * (1.0f / 2147483648.0f);
        if (j + 1 < dim) v[j + 1] = (float)(int32_t)(uint32_t)(r >> 32) * (1.0f / 2147483648.0f);
    }
    for (int j = 0; j < dim; j++)
        n2 += (double)v[j] * v[j];
    float inv = (float)(1 / sqrt(n2));
    for (int j = 0; j < dim; j++)
        v[j] *= inv;
}

static void hash_of(uint64_t i, char out[41])
{
    snprintf(out, 41, "%040llu", (unsigned long long)i);
}

typedef struct {
    int dim;
} gen_src_t;

static int gen_fetch(void *ctx, const char *hash, float *out)
{
    gen_vec(strtoull(hash, NULL, 10), ((gen_src_t *)ctx)->dim, out);
    return 1;
}

/* ---- read bandwidth ---- */

typedef struct {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} bw_part_t;

__attribute__((target("avx2"))) static void *bw_sum(void *arg)
{
    bw_part_t *b = arg;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 16 <= b->n; i += 16) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(b->p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(b->p + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(b->p + i + 8)));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(b->p + i + 12)));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)t, s);
    b->sum = t[0] + t[1] + t[2] + t[3];
    return NULL;
}

/* GB/s reading `bytes` with `threads` threads, best of 3 passes. */
static double read_bandwidth(size_t bytes, int threads)
{
    size_t n = bytes / 8;
    uint64_t *buf = aligned_alloc(64, n * 8);
    for (size_t i = 0; i < n; i++)
        buf[i] = i;
    double best = 1e30;
    uint64_t check = 0;
    for (int pass = 0; pass < 3; pass++) {
        bw_part_t parts[2];
        pthread_t th;
        size_t half = n / (size_t)threads / 16 * 16;
        parts[0] = (bw_part_t){buf, threads == 2 ? half : n / 16 * 16, 0};
        parts[1] = (bw_part_t){buf + half, n / 16 * 16 - half, 0};
        double t0 = time_mono_ms();
        if (threads == 2) pthread_create(&th, NULL, bw_sum, &parts[1]);
        bw_sum(&parts[0]);
        if (threads == 2) pthread_join(th, NULL);
        double ms = time_mono_ms() - t0;
        check += parts[0].sum + (threads == 2 ? parts[1].sum : 0);
        if (ms < best) best = ms;
    }
    free(buf);
    if (check == 42) printf("?\n");
    return (double)(n * 8) / (best * 1e6);
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)ceil(p / 100.0 * n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* ---- brute-force reference ---- */

typedef struct {
    vecidx_hit_t h[K];
    int n;
} topk_t;

static void topk_add(topk_t *t, int64_t id, float score)
{
    vecidx_hit_t x = {id, score};
    int i = t->n < K ? t->n++ : K - 1;
    if (i == K - 1 && t->n == K) {
        const vecidx_hit_t *last = &t->h[K - 1];
        if (score < last->score || (score == last->score && id > last->chunk_id)) return;
    }
    while (i > 0 && (t->h[i - 1].score < score ||
                     (t->h[i - 1].score == score && t->h[i - 1].chunk_id > id))) {
        t->h[i] = t->h[i - 1];
        i--;
    }
    t->h[i] = x;
}

/* Exact top-k of nq queries over vectors 0..n-1, one pass over regenerated vectors. */
static void brute_force(size_t n, int dim, const float *queries, int nq, topk_t *out)
{
    float *v = malloc((size_t)dim * sizeof *v);
    for (int q = 0; q < nq; q++)
        out[q].n = 0;
    for (size_t i = 0; i < n; i++) {
        gen_vec(i, dim, v);
        for (int q = 0; q < nq; q++)
            topk_add(&out[q], (int64_t)i + 1, vecidx_dot_exact(queries + (size_t)q * dim, v, dim));
    }
    free(v);
}

/* ---- one configuration ---- */

typedef struct {
    size_t n;
    int dim;
    vecidx_format_t fmt;
    double p50, p99, scan_p50, gbs, bound_ms, frac, mb;
    int verified, mismatches;
    double cand_mean;
} row_t;

static int run_config(size_t n, int dim, vecidx_format_t fmt, int nq, double bw, int n_verify,
                      row_t *row)
{
    err_t err;
    memset(row, 0, sizeof *row);
    row->n = n;
    row->dim = dim;
    row->fmt = fmt;
    vecidx_t *v = vecidx_new("bench", dim, fmt);
    gen_src_t src = {dim};
    vecidx_set_exact_source(v, gen_fetch, &src);
    float *vec = malloc((size_t)dim * sizeof *vec);
    char hash[41];
    for (size_t i = 0; i < n; i++) {
        gen_vec(i, dim, vec);
        hash_of(i, hash);
        if (vecidx_add(v, (int64_t)i + 1, (int64_t)(i / 100), hash, vec, &err) < 0) {
            fprintf(stderr, "vecidx_add: %s\n", err.msg);
            return -1;
        }
    }
    free(vec);
    vecidx_stats_t st;
    vecidx_stats(v, &st);
    double bytes = (double)st.slots * (double)st.row_bytes;
    row->mb = bytes / 1e6;
    row->bound_ms = bytes / (bw * 1e6);

    float *queries = malloc((size_t)nq * dim * sizeof *queries);
    for (int q = 0; q < nq; q++)
        gen_vec(1000000000ULL + (uint64_t)q, dim, queries + (size_t)q * dim);
    vecidx_hit_t hits[K];
    size_t nh;
    vecidx_search(v, NULL, queries, K, NULL, hits, &nh, NULL, &err); /* warm-up */
    double *tot = malloc((size_t)nq * sizeof *tot), *scan = malloc((size_t)nq * sizeof *scan);
    topk_t *got = calloc((size_t)nq, sizeof *got);
    double cand = 0;
    for (int q = 0; q < nq; q++) {
        vecidx_timing_t tm;
        if (vecidx_search(v, NULL, queries + (size_t)q * dim, K, NULL, got[q].h, &nh, &tm, &err) <
            0) {
            fprintf(stderr, "search: %s\n", err.msg);
            return -1;
        }
        got[q].n = (int)nh;
        tot[q] = tm.total_ms;
        scan[q] = tm.scan_ms;
        cand += (double)tm.candidates;
    }
    row->cand_mean = cand / nq;
    row->p50 = pct(tot, nq, 50);
    row->p99 = pct(tot, nq, 99);
    row->scan_p50 = pct(scan, nq, 50);
    row->gbs = bytes / (row->scan_p50 * 1e6);
    row->frac = row->bound_ms / row->p50;

    if (n_verify > nq) n_verify = nq;
    topk_t *ref = calloc((size_t)n_verify, sizeof *ref);
    brute_force(n, dim, queries, n_verify, ref);
    for (int q = 0; q < n_verify; q++) {
        bool same = ref[q].n == got[q].n;
        for (int i = 0; same && i < ref[q].n; i++)
            same = ref[q].h[i].chunk_id == got[q].h[i].chunk_id &&
                   ref[q].h[i].score == got[q].h[i].score;
        if (!same) row->mismatches++;
    }
    row->verified = n_verify;
    free(ref);
    free(got);
    free(tot);
    free(scan);
    free(queries);
    vecidx_free(v);
    return 0;
}

static void print_row(const row_t *r)
{
    printf("%8zu %5d %-5s %9.0f %8.2f %8.2f %8.2f %8.1f %9.2f %6.0f%% %6.1f   %d/%d\n", r->n,
           r->dim, r->fmt == VECIDX_F16 ? "f16" : "int8", r->mb, r->p50, r->p99, r->scan_p50,
           r->gbs, r->bound_ms, 100 * r->frac, r->cand_mean, r->verified - r->mismatches,
           r->verified);
    fflush(stdout);
}

/* ---- through a real index file ---- */

/* First sync of v from r, then nq x (sync + search); prints one line. */
static int store_queries(vecidx_t *v, store_t *r, int nq, const char *label)
{
    err_t err;
    const int dim = 768;
    double t0 = time_mono_ms();
    if (vecidx_sync(v, r, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    double t_load = time_mono_ms() - t0;
    float *q = malloc(dim * sizeof *q);
    double *tot = malloc((size_t)nq * sizeof *tot), *resc = malloc((size_t)nq * sizeof *resc);
    double *scan = malloc((size_t)nq * sizeof *scan), cands = 0;
    vecidx_hit_t hits[K];
    size_t nh;
    int rc = 0;
    for (int i = 0; i < nq && rc == 0; i++) {
        gen_vec(2000000000ULL + (uint64_t)i, dim, q);
        vecidx_timing_t tm;
        t0 = time_mono_ms();
        if (vecidx_sync(v, r, &err) < 0 ||
            vecidx_search(v, r, q, K, NULL, hits, &nh, &tm, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            rc = -1;
        }
        tot[i] = time_mono_ms() - t0;
        resc[i] = tm.rescore_ms;
        scan[i] = tm.scan_ms;
        cands += (double)tm.candidates;
    }
    if (rc == 0)
        printf("  %-4s first sync %.0f ms; sync + search p50 %.2f ms, p99 %.2f ms (scan p50 %.2f "
               "ms, rescoring %.1f rows from SQLite p50 %.3f ms)\n",
               label, t_load, pct(tot, nq, 50), pct(tot, nq, 99), pct(scan, nq, 50), cands / nq,
               pct(resc, nq, 50));
    free(q);
    free(tot);
    free(resc);
    free(scan);
    return rc;
}

static int store_config(int nq)
{
    const size_t n = 100000, per_file = 100;
    const int dim = 768;
    err_t err;
    char dir[] = "/tmp/bench_vector_XXXXXX";
    if (!mkdtemp(dir)) return -1;
    char *path = path_join(dir, "index.db");
    store_t *s = store_open(path, false, &err);
    if (!s) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    double t0 = time_mono_ms();
    float *vec = malloc(dim * sizeof *vec);
    store_chunk_in_t *in = calloc(per_file, sizeof *in);
    char(*bodies)[48] = calloc(per_file, sizeof *bodies);
    int rc = store_batch_begin(s, &err);
    for (size_t f = 0; rc == 0 && f < n / per_file; f++) {
        for (size_t i = 0; i < per_file; i++) {
            snprintf(bodies[i], sizeof bodies[i], "chunk body %zu", f * per_file + i);
            in[i] = (store_chunk_in_t){1, 1, NULL, bodies[i], strlen(bodies[i]), NULL};
        }
        char p[64];
        snprintf(p, sizeof p, "dir%zu/file%zu.c", f / 100, f);
        rc = store_file_replace(s, p, "c", 0, 1, 1, "h", in, per_file, &err);
    }
    if (rc == 0) rc = store_batch_commit(s, &err);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    double t_chunks = time_mono_ms() - t0;
    /* Vectors by hash, as the embedding pass stores them. */
    t0 = time_mono_ms();
    store_batch_begin(s, &err);
    for (size_t i = 0; i < n; i++) {
        char body[48], hex[41];
        snprintf(body, sizeof body, "chunk body %zu", i);
        hash_sha1_hex(body, strlen(body), hex);
        gen_vec(i, dim, vec);
        if (store_vec_put(s, "bench", hex, dim, vec, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
    }
    store_batch_commit(s, &err);
    double t_vecs = time_mono_ms() - t0;

    store_t *r = store_open(path, true, &err);
    printf("\nThrough an index file (100k x 768, rescoring from SQLite), %d queries:\n", nq);
    printf("  storing 100k chunks %.0f ms, 100k vectors %.0f ms\n", t_chunks, t_vecs);
    vecidx_t *v8 = vecidx_new("bench", dim, VECIDX_INT8);
    if (store_queries(v8, r, nq, "int8") < 0) return -1;
    vecidx_free(v8);
    vecidx_t *v = vecidx_new("bench", dim, VECIDX_F16);
    if (store_queries(v, r, nq, "f16") < 0) return -1;
    float *q = malloc(dim * sizeof *q);
    gen_vec(3000000000ULL, dim, q);
    vecidx_hit_t hits[K];
    size_t nh;
    /* A prefix query: one directory of 100 files (10k chunks). */
    vecidx_timing_t tp;
    vecidx_search(v, r, q, K, "dir7/", hits, &nh, &tp, &err);

    /* Another 1000 chunks with vectors, then an incremental sync. */
    store_batch_begin(s, &err);
    for (size_t f = n / per_file; f < n / per_file + 10; f++) {
        for (size_t i = 0; i < per_file; i++) {
            snprintf(bodies[i], sizeof bodies[i], "chunk body %zu", f * per_file + i);
            in[i] = (store_chunk_in_t){1, 1, NULL, bodies[i], strlen(bodies[i]), NULL};
            char hex[41];
            hash_sha1_hex(bodies[i], strlen(bodies[i]), hex);
            gen_vec(f * per_file + i, dim, vec);
            store_vec_put(s, "bench", hex, dim, vec, &err);
        }
        char p[64];
        snprintf(p, sizeof p, "dir%zu/file%zu.c", f / 100, f);
        store_file_replace(s, p, "c", 0, 1, 1, "h", in, per_file, &err);
    }
    store_batch_commit(s, &err);
    t0 = time_mono_ms();
    vecidx_sync(v, r, &err);
    double t_inc = time_mono_ms() - t0;
    vecidx_stats_t st;
    vecidx_stats(v, &st);

    printf("  f16 prefix 'dir7/' (10k of 100k chunks): %.2f ms (filter %.2f ms)\n", tp.total_ms,
           tp.filter_ms);
    printf("  f16 incremental sync after +1000 chunks and vectors: %.1f ms (full loads %llu, "
           "chunks %zu)\n",
           t_inc, (unsigned long long)st.full_loads, st.chunks_with_vec);
    vecidx_free(v);
    store_close(r);
    store_close(s);
    free(q);
    free(vec);
    free(in);
    free(bodies);
    unlink(path);
    char *wal = xasprintf("%s-wal", path), *shm = xasprintf("%s-shm", path);
    unlink(wal);
    unlink(shm);
    free(wal);
    free(shm);
    free(path);
    rmdir(dir);
    return 0;
}

int main(int argc, char **argv)
{
    int nq = 200;
    bool quick = false, with_store = true;
    size_t only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--no-store") == 0)
            with_store = false;
        else if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc)
            nq = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            only = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: bench_vector [--quick] [--size N] [--queries N] [--no-store]\n");
            return 2;
        }
    }
    if (nq < 1) nq = 1;
    /* The bound uses the best of one and two threads (on a shared machine either may win). */
    double bw1 = read_bandwidth((size_t)1 << 30, 1), bw2 = read_bandwidth((size_t)1 << 30, 2);
    double bw = bw1 > bw2 ? bw1 : bw2;
    printf("vecidx kernels: %s; read bandwidth: %.1f GB/s (2 threads), %.1f GB/s (1 thread)\n",
           vecidx_isa_name(), bw2, bw1);
    printf("k = %d, %d random queries per row; latency = vecidx_search (no query embedding)\n\n", K,
           nq);
    printf("%8s %5s %-5s %9s %8s %8s %8s %8s %9s %7s %6s   %s\n", "vectors", "dim", "fmt",
           "copy MB", "p50 ms", "p99 ms", "scan ms", "scan GB/s", "bound ms", "of bnd", "cands",
           "exact");
    static const size_t sizes[] = {10000, 100000, 1000000};
    static const int dims[] = {384, 768};
    int bad = 0;
    for (size_t si = 0; si < 3; si++) {
        if ((quick && sizes[si] > 100000) || (only && sizes[si] != only)) continue;
        for (size_t di = 0; di < 2; di++)
            for (int fmt = VECIDX_F16; fmt <= VECIDX_INT8; fmt++) {
                row_t row;
                int n_verify = sizes[si] >= 1000000 ? 4 : sizes[si] >= 100000 ? 20 : 50;
                if (run_config(sizes[si], dims[di], (vecidx_format_t)fmt, nq, bw, n_verify, &row) <
                    0)
                    return 1;
                print_row(&row);
                bad += row.mismatches;
            }
    }
    printf("\n'of bnd': the memory-bandwidth bound for one pass over the copy divided by the "
           "p50 latency.\n'exact': sampled queries whose top-%d equals the brute-force float32 "
           "reference.\n",
           K);
    if (with_store && store_config(nq) < 0) return 1;
    return bad ? 1 : 0;
}
