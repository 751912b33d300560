/* bench_hybrid — semantic and hybrid search latency through search_run_ex() on a real
 * SQLite index, excluding query embedding (issue 4 item 8).
 *   usage: bench_hybrid [N_CHUNKS] [DIM] [DIR]     (defaults 100000 768 /tmp)
 * Builds (once, cached in DIR) an index of N synthetic chunks — Zipf-distributed
 * identifier-like words, 10 chunks per file — with a random unit vector per chunk, then runs
 * 200 queries (two or three words, plus a random query vector) in keyword, semantic and
 * hybrid mode, top_k 10, and prints p50/p99 and the load time of the vector copy. */
#include "hash.h"
#include "search.h"
#include "store.h"
#include "util.h"
#include "vecidx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VOCAB 5000
#define WORDS_PER_CHUNK 40
#define CHUNKS_PER_FILE 10

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double next_unit(void)
{
    return (double)(next_u64() >> 11) / 9007199254740992.0;
}
static double next_normal(void)
{
    double u = next_unit() + 1e-12, v = next_unit();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}
/* Zipf-ish word index: small indices are common. */
static int next_word(void)
{
    return (int)(pow(next_unit(), 3.0) * VOCAB);
}
static void word(int i, char *buf, size_t size)
{
    static const char *const syl[] = {"get", "set", "user", "name", "parse", "http", "file",
                                      "conf", "load", "save", "node", "tree", "sync", "path",
                                      "read", "write", "item", "list", "map", "key"};
    snprintf(buf, size, "%s%s%d", syl[i % 20], syl[(i / 20) % 20], i / 400);
}
static void random_unit(float *v, int dim)
{
    double n = 0;
    for (int i = 0; i < dim; i++) {
        v[i] = (float)next_normal();
        n += (double)v[i] * v[i];
    }
    for (int i = 0; i < dim; i++) v[i] = (float)(v[i] / sqrt(n));
}

static int build(const char *path, int n, int dim, err_t *err)
{
    store_t *s = store_open(path, false, err);
    if (!s) return -1;
    float *vec = xmalloc((size_t)dim * sizeof *vec);
    char hex[41], w[64];
    double t0 = time_mono_ms();
    int rc = 0;
    for (int f = 0; rc == 0 && f * CHUNKS_PER_FILE < n; f++) {
        if (f % 200 == 0 && (rc = store_batch_begin(s, err)) != 0) break;
        store_chunk_in_t in[CHUNKS_PER_FILE];
        char *text[CHUNKS_PER_FILE];
        for (int c = 0; c < CHUNKS_PER_FILE; c++) {
            sbuf_t b = {0};
            sbuf_printf(&b, "def f%d_%d(x):\n", f, c);
            for (int k = 0; k < WORDS_PER_CHUNK; k++) {
                word(next_word(), w, sizeof w);
                sbuf_printf(&b, "%s%s", w, k % 8 == 7 ? "\n" : " ");
            }
            text[c] = sbuf_take(&b);
            in[c] = (store_chunk_in_t){(uint32_t)c * 10 + 1, (uint32_t)c * 10 + 9, "",
                                       text[c], strlen(text[c]), NULL};
        }
        char *p = xasprintf("src/dir%d/file%d.py", f % 50, f);
        rc = store_file_replace(s, p, "python", STORE_KIND_TEXT, 1000, f, "", in,
                                CHUNKS_PER_FILE, err);
        for (int c = 0; rc == 0 && c < CHUNKS_PER_FILE; c++) {
            random_unit(vec, dim);
            hash_sha1_hex(text[c], strlen(text[c]), hex);
            rc = store_vec_put(s, "bench", hex, dim, vec, err);
        }
        for (int c = 0; c < CHUNKS_PER_FILE; c++) free(text[c]);
        free(p);
        if (rc == 0 && (f % 200 == 199 || (f + 1) * CHUNKS_PER_FILE >= n))
            rc = store_batch_commit(s, err);
    }
    if (rc == 0) rc = store_meta_set(s, "keyword_complete", "1", err);
    fprintf(stderr, "built %d chunks × %d dims in %.1f s\n", n, dim, (time_mono_ms() - t0) / 1000);
    free(vec);
    store_close(s);
    return rc;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    int dim = argc > 2 ? atoi(argv[2]) : 768;
    const char *dir = argc > 3 ? argv[3] : "/tmp";
    char *path = xasprintf("%s/embecode-bench-hybrid-%d-%d.db", dir, n, dim);
    err_t err;
    struct stat st;
    if (stat(path, &st) != 0 && build(path, n, dim, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    store_t *s = store_open(path, true, &err);
    if (!s) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    vecidx_t *v = vecidx_new("bench", dim, VECIDX_INT8);
    double t0 = time_mono_ms();
    if (vecidx_sync(v, s, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double load_ms = time_mono_ms() - t0;
    const int Q = 200;
    float *q = xmalloc((size_t)dim * sizeof *q);
    double *lat[3];
    const search_mode_t modes[3] = {SEARCH_KEYWORD, SEARCH_SEMANTIC, SEARCH_HYBRID};
    const char *names[3] = {"keyword", "semantic", "hybrid"};
    for (int m = 0; m < 3; m++) lat[m] = xcalloc(Q, sizeof(double));
    char text[256], w1[64], w2[64], w3[64];
    for (int i = 0; i < Q; i++) {
        word(next_word(), w1, sizeof w1);
        word(next_word(), w2, sizeof w2);
        word((int)(next_unit() * VOCAB), w3, sizeof w3);
        snprintf(text, sizeof text, i % 2 ? "%s %s" : "%s %s %s", w1, w2, w3);
        random_unit(q, dim);
        for (int m = 0; m < 3; m++) {
            search_req_t req = {.query = text, .mode = modes[m], .top_k = 10};
            search_semantic_t sem = {.vecidx = v, .query_vec = q};
            double t = time_mono_ms();
            cJSON *r = search_run_ex(s, &req, &sem, &err);
            lat[m][i] = time_mono_ms() - t;
            if (!r) {
                fprintf(stderr, "%s: %s\n", names[m], err.msg);
                return 1;
            }
            cJSON_Delete(r);
        }
    }
    printf("hybrid_bench chunks=%d dim=%d vector_load_ms=%.0f\n", n, dim, load_ms);
    for (int m = 0; m < 3; m++) {
        qsort(lat[m], Q, sizeof(double), cmp_d);
        printf("  %-8s p50_ms=%.2f p99_ms=%.2f\n", names[m], lat[m][Q / 2], lat[m][Q * 99 / 100]);
        free(lat[m]);
    }
    vecidx_free(v);
    store_close(s);
    free(q);
    free(path);
    return 0;
}
