#include "t.h"

#include <math.h>
#include <sys/wait.h>

#include "hash.h"
#include "store.h"
#include "vecidx.h"

#define MODEL "test-model"

static int db_seq;

static char *new_db_path(void)
{
    char name[64];
    snprintf(name, sizeof name, "vi%d.db", ++db_seq);
    return path_join(t_tmpdir(), name);
}

/* ---- random data ---- */

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double rng_unit(void) /* (0, 1) */
{
    return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_gauss(void)
{
    return sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit());
}

static void normalise(float *v, int dim)
{
    double s = 0;
    for (int i = 0; i < dim; i++)
        s += (double)v[i] * v[i];
    s = sqrt(s);
    for (int i = 0; i < dim; i++)
        v[i] = (float)(v[i] / s);
}

static void random_unit(float *v, int dim)
{
    for (int i = 0; i < dim; i++)
        v[i] = (float)rng_gauss();
    normalise(v, dim);
}

/* ---- a corpus in a store, and a brute-force reference ---- */

typedef struct {
    int64_t id;
    char path[48];
    float *vec; /* NULL: no vector */
} ref_chunk_t;

typedef struct {
    int dim;
    ref_chunk_t *c;
    size_t n;
} ref_t;

typedef struct {
    ref_t *r;
    store_t *s;
} ref_load_t;

static int ref_on_chunk(void *ctx, int64_t id, int64_t file_id, const char *hash)
{
    ref_load_t *l = ctx;
    (void)file_id;
    ref_t *r = l->r;
    r->c = xrealloc(r->c, (r->n + 1) * sizeof *r->c);
    ref_chunk_t *c = &r->c[r->n++];
    memset(c, 0, sizeof *c);
    c->id = id;
    c->vec = xmalloc((size_t)r->dim * sizeof(float));
    snprintf(c->path, sizeof c->path, "%s", hash); /* replaced by the path below */
    return 0;
}

static int ref_on_row(void *ctx, const store_hit_t *h)
{
    ref_chunk_t *c = ctx;
    snprintf(c->path, sizeof c->path, "%s", h->path);
    return 0;
}

/* Reads every chunk, its path and its vector back from the store (independently of
 * vecidx). */
static ref_t ref_load(store_t *s, int dim)
{
    ref_t r = {.dim = dim};
    ref_load_t l = {&r, s};
    err_t err;
    int64_t seq;
    if (store_chunks_all(s, &seq, ref_on_chunk, &l, &err) < 0) fprintf(stderr, "%s\n", err.msg);
    for (size_t i = 0; i < r.n; i++) {
        ref_chunk_t *c = &r.c[i];
        char hash[48];
        memcpy(hash, c->path, sizeof hash);
        if (store_vec_get(s, MODEL, hash, c->vec, dim, &err) != 1) {
            free(c->vec);
            c->vec = NULL;
        }
        store_chunks_get(s, &c->id, 1, ref_on_row, c, &err);
    }
    return r;
}

static void ref_free(ref_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->c[i].vec);
    free(r->c);
}

static int hit_cmp(const void *a, const void *b)
{
    const vecidx_hit_t *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

/* Brute force: score every chunk with a vector under prefix, sort, keep k. */
static size_t ref_search(const ref_t *r, const float *q, int k, const char *prefix,
                         vecidx_hit_t *out)
{
    vecidx_hit_t *all = xmalloc((r->n + 1) * sizeof *all);
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        const ref_chunk_t *c = &r->c[i];
        if (!c->vec) continue;
        if (prefix && strncmp(c->path, prefix, strlen(prefix)) != 0) continue;
        all[n++] = (vecidx_hit_t){c->id, vecidx_dot_exact(q, c->vec, r->dim)};
    }
    qsort(all, n, sizeof *all, hit_cmp);
    if (n > (size_t)k) n = (size_t)k;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

/* Compares a search with the reference; prints the first difference. */
static bool same_hits(const vecidx_hit_t *a, size_t na, const vecidx_hit_t *b, size_t nb,
                      const char *what)
{
    if (na != nb) {
        fprintf(stderr, "  %s: %zu hits vs %zu expected\n", what, na, nb);
        return false;
    }
    for (size_t i = 0; i < na; i++)
        if (a[i].chunk_id != b[i].chunk_id || a[i].score != b[i].score) {
            fprintf(stderr, "  %s: hit %zu is %lld (%.9g), expected %lld (%.9g)\n", what, i,
                    (long long)a[i].chunk_id, a[i].score, (long long)b[i].chunk_id, b[i].score);
            return false;
        }
    return true;
}

/* Builds files dir<f/10>/file<f>.py with per_file chunks each; every 7th chunk repeats the
 * content of a chunk in the previous file (shared hash). Vectors: random unit vectors, a
 * cluster of near-identical ones around *center, and some exact copies (different hashes,
 * equal vectors). Chunks whose index % 23 == 5 get no vector. */
static void build_corpus(store_t *s, int n_files, int per_file, int dim, float *center)
{
    err_t err;
    random_unit(center, dim);
    float *vec = xmalloc((size_t)dim * sizeof *vec), *prev = xcalloc((size_t)dim, sizeof *prev);
    store_chunk_in_t *in = xcalloc((size_t)per_file, sizeof *in);
    char(*bodies)[40] = xcalloc((size_t)per_file, sizeof *bodies);
    T_EQ_INT(store_batch_begin(s, &err), 0);
    for (int f = 0; f < n_files; f++) {
        for (int i = 0; i < per_file; i++) {
            int g = f * per_file + i;
            if (i % 7 == 3 && f > 0)
                snprintf(bodies[i], sizeof bodies[i], "body %d", g - per_file);
            else
                snprintf(bodies[i], sizeof bodies[i], "body %d", g);
            in[i] = (store_chunk_in_t){.start_line = (uint32_t)(i + 1),
                                       .end_line = (uint32_t)(i + 1),
                                       .content = bodies[i],
                                       .content_len = strlen(bodies[i])};
        }
        char path[48];
        snprintf(path, sizeof path, "d%d/file%d.py", f / 10, f);
        T_EQ_INT(store_file_replace(s, path, "python", STORE_KIND_TEXT, 1, 1, "h", in,
                                    (size_t)per_file, &err),
                 0);
        for (int i = 0; i < per_file; i++) {
            int g = f * per_file + i;
            if ((i % 7 == 3 && f > 0) || g % 23 == 5) continue;
            if (g % 10 == 1) { /* near-ties around the center */
                for (int j = 0; j < dim; j++)
                    vec[j] = center[j] + (float)(rng_gauss() * (g % 20 == 1 ? 1e-6 : 1e-4));
                normalise(vec, dim);
            } else if (g % 37 == 2) { /* an exact copy of the previous vector */
                memcpy(vec, prev, (size_t)dim * sizeof *vec);
            } else {
                random_unit(vec, dim);
            }
            if (g % 37 == 2 && prev[0] == 0) random_unit(vec, dim);
            char hex[41];
            hash_sha1_hex(bodies[i], strlen(bodies[i]), hex);
            T_EQ_INT(store_vec_put(s, MODEL, hex, dim, vec, &err), 0);
            memcpy(prev, vec, (size_t)dim * sizeof *vec);
        }
    }
    T_EQ_INT(store_batch_commit(s, &err), 0);
    free(vec);
    free(prev);
    free(in);
    free(bodies);
}

/* Queries: random, the cluster center, the center slightly moved, copies of stored vectors. */
static void make_query(int qi, const ref_t *r, const float *center, int dim, float *q)
{
    switch (qi % 4) {
    case 0:
        random_unit(q, dim);
        break;
    case 1:
        memcpy(q, center, (size_t)dim * sizeof *q);
        break;
    case 2:
        for (int j = 0; j < dim; j++)
            q[j] = center[j] + (float)(rng_gauss() * 1e-3);
        normalise(q, dim);
        break;
    default: {
        size_t i = (size_t)(rng_next() % r->n);
        while (!r->c[i].vec)
            i = (i + 1) % r->n;
        memcpy(q, r->c[i].vec, (size_t)dim * sizeof *q);
    }
    }
}

static const char *const prefixes[] = {NULL, "d1/", "d1", "d3/file35.py", "d9/", "zzz"};

/* Runs n_queries queries x prefixes x k values on v and the reference; counts mismatches. */
static int check_exact(vecidx_t *v, store_t *s, const ref_t *r, const float *center, int n_queries,
                       const char *label)
{
    int dim = r->dim, bad = 0;
    float *q = xmalloc((size_t)dim * sizeof *q);
    vecidx_hit_t got[100], want[100];
    static const int ks[] = {1, 2, 5, 10, 37, 100};
    err_t err;
    for (int qi = 0; qi < n_queries; qi++) {
        make_query(qi, r, center, dim, q);
        for (size_t p = 0; p < ARRAY_LEN(prefixes); p++) {
            int k = ks[(qi + (int)p) % (int)ARRAY_LEN(ks)];
            size_t ng = 0;
            if (vecidx_search(v, s, q, k, prefixes[p], got, &ng, NULL, &err) < 0) {
                fprintf(stderr, "  search failed: %s\n", err.msg);
                bad++;
                continue;
            }
            size_t nw = ref_search(r, q, k, prefixes[p], want);
            char what[128];
            snprintf(what, sizeof what, "%s query %d prefix %s k %d", label, qi,
                     prefixes[p] ? prefixes[p] : "(none)", k);
            if (!same_hits(got, ng, want, nw, what)) bad++;
        }
    }
    free(q);
    return bad;
}

/* ---- tests: kernels ---- */

static void test_f16_conversion_is_exact_on_every_isa(void)
{
    /* Every binary16 value survives f16 -> f32 -> f16. */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN */
        float f = vecidx_f16_to_f32((uint16_t)h);
        uint16_t back;
        vecidx_isa_set(VECIDX_ISA_SCALAR);
        vecidx_f32_to_f16(&f, &back, 1);
        if (back != h) bad++;
    }
    T_EQ_INT(bad, 0);
    /* Random floats over the whole range, halfway cases and subnormals: scalar == F16C. */
    enum { N = 200000 };
    float *in = xmalloc(N * sizeof *in);
    uint16_t *a = xmalloc(N * sizeof *a), *b = xmalloc(N * sizeof *b);
    for (int i = 0; i < N; i++) {
        uint32_t bits = (uint32_t)rng_next();
        if (i % 4 == 1) bits = (bits & 0x80000000u) | (0x33000000u + (bits % 0x14800000u));
        if (i % 4 == 2) bits = (bits & 0xffffe000u) | 0x1000u; /* exactly halfway */
        memcpy(&in[i], &bits, sizeof bits);
        if (isnan(in[i])) in[i] = 1.0f;
    }
    vecidx_isa_set(VECIDX_ISA_SCALAR);
    vecidx_f32_to_f16(in, a, N);
    int mism = 0;
    if (vecidx_isa_set(VECIDX_ISA_AVX2) == 0) {
        vecidx_f32_to_f16(in, b, N);
        for (int i = 0; i < N; i++)
            if (a[i] != b[i]) mism++;
    }
    T_EQ_INT(mism, 0);
    /* Spot values: rounding to even, overflow, the smallest subnormal. */
    float spot[] = {1.0f,    65504.0f,       65519.0f,      65520.0f, 5.9604644775390625e-8f,
                    2.9e-8f, 1.00048828125f, 1.00146484375f};
    uint16_t want[] = {0x3c00, 0x7bff, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x3c00, 0x3c02};
    vecidx_isa_set(VECIDX_ISA_SCALAR);
    for (size_t i = 0; i < ARRAY_LEN(spot); i++) {
        uint16_t h;
        vecidx_f32_to_f16(&spot[i], &h, 1);
        T_EQ_INT(h, want[i]);
    }
    vecidx_isa_set(vecidx_isa_best());
    free(in);
    free(a);
    free(b);
}

static void test_kernels_agree_across_isas(void)
{
    enum { ROWS = 11, N = 192 };
    uint16_t *h = xmalloc(ROWS * N * sizeof *h);
    uint8_t *u = xmalloc(ROWS * N);
    float q[N];
    int8_t qi[N];
    for (int j = 0; j < N; j++) {
        q[j] = (float)rng_gauss();
        qi[j] = (int8_t)((int)(rng_next() % 255) - 127);
    }
    const uint16_t *hr[ROWS];
    const uint8_t *ur[ROWS];
    for (int r = 0; r < ROWS; r++) {
        float tmp[N];
        for (int j = 0; j < N; j++)
            tmp[j] = (float)rng_gauss();
        vecidx_f32_to_f16(tmp, h + r * N, N);
        for (int j = 0; j < N; j++)
            u[r * N + j] = (uint8_t)(r == 0 ? 255 : 1 + rng_next() % 255);
        hr[r] = h + r * N;
        ur[r] = u + r * N;
    }
    /* Row 0 with q all -127 is the extreme of the integer range. */
    float ref_f[ROWS];
    int32_t ref_i[ROWS];
    vecidx_isa_set(VECIDX_ISA_SCALAR);
    vecidx_kern_f16(hr, ROWS, q, N, ref_f);
    vecidx_kern_u8(ur, ROWS, qi, N, ref_i);
    for (int r = 0; r < ROWS; r++) {
        int64_t exact = 0;
        double fx = 0;
        for (int j = 0; j < N; j++) {
            exact += (int64_t)ur[r][j] * qi[j];
            fx += (double)q[j] * vecidx_f16_to_f32(hr[r][j]);
        }
        T_EQ_INT(ref_i[r], exact);
        T_CHECK(fabs(ref_f[r] - fx) < 1e-4);
    }
    for (int isa = VECIDX_ISA_AVX2; isa <= (int)vecidx_isa_best(); isa++) {
        T_EQ_INT(vecidx_isa_set((vecidx_isa_t)isa), 0);
        float f[ROWS];
        int32_t i32[ROWS];
        for (size_t nr = 1; nr <= ROWS; nr += 3) { /* tails of the 4-row blocks */
            vecidx_kern_f16(hr, nr, q, N, f);
            vecidx_kern_u8(ur, nr, qi, N, i32);
            for (size_t r = 0; r < nr; r++) {
                T_EQ_INT(i32[r], ref_i[r]);
                T_CHECK(fabsf(f[r] - ref_f[r]) < 1e-4f);
            }
        }
    }
    vecidx_isa_set(vecidx_isa_best());
    free(h);
    free(u);
}

/* ---- tests: exact search ---- */

static void test_search_equals_brute_force(void)
{
    char *path = new_db_path();
    err_t err;
    store_t *s = store_open(path, false, &err);
    int dim = 96; /* not a multiple of the padding */
    float center[96];
    build_corpus(s, 100, 100, dim, center);
    ref_t r = ref_load(s, dim);
    T_EQ_INT(r.n, 10000);
    for (int fmt = VECIDX_F16; fmt <= VECIDX_INT8; fmt++) {
        vecidx_t *v = vecidx_new(MODEL, dim, (vecidx_format_t)fmt);
        T_EQ_INT(vecidx_sync(v, s, &err), 0);
        size_t with = 0;
        for (size_t i = 0; i < r.n; i++)
            with += r.c[i].vec != NULL;
        T_EQ_INT(vecidx_chunks(v), with);
        for (int isa = 0; isa <= (int)vecidx_isa_best(); isa++) {
            vecidx_isa_set((vecidx_isa_t)isa);
            char label[64];
            snprintf(label, sizeof label, "%s/%s", fmt == VECIDX_F16 ? "f16" : "int8",
                     vecidx_isa_name());
            T_EQ_INT(check_exact(v, s, &r, center, isa == (int)vecidx_isa_best() ? 40 : 12, label),
                     0);
        }
        vecidx_isa_set(vecidx_isa_best());
        /* Two threads (forced for this small set) give the same answers. */
        vecidx_set_threads(v, 2, 0);
        T_EQ_INT(check_exact(v, s, &r, center, 12, "two threads"), 0);
        vecidx_free(v);
    }
    ref_free(&r);
    store_close(s);
    free(path);
}

static void test_chunks_sharing_a_hash_are_all_results(void)
{
    char *path = new_db_path();
    err_t err;
    store_t *s = store_open(path, false, &err);
    const char *body = "def shared(): pass";
    store_chunk_in_t c = {1, 1, NULL, body, strlen(body), NULL};
    T_EQ_INT(store_file_replace(s, "b.py", "python", 0, 1, 1, "h", &c, 1, &err), 0);
    T_EQ_INT(store_file_replace(s, "a.py", "python", 0, 1, 1, "h", &c, 1, &err), 0);
    char hex[41];
    hash_sha1_hex(body, strlen(body), hex);
    float vec[8] = {0.6f, 0.8f, 0, 0, 0, 0, 0, 0}, q[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    T_EQ_INT(store_vec_put(s, MODEL, hex, 8, vec, &err), 0);
    vecidx_t *v = vecidx_new(MODEL, 8, VECIDX_F16);
    T_EQ_INT(vecidx_sync(v, s, &err), 0);
    T_EQ_INT(vecidx_chunks(v), 2);
    vecidx_stats_t st;
    vecidx_stats(v, &st);
    T_EQ_INT(st.slots, 1);
    vecidx_hit_t hits[4];
    size_t n;
    T_EQ_INT(vecidx_search(v, s, q, 4, NULL, hits, &n, NULL, &err), 0);
    T_EQ_INT(n, 2);
    T_CHECK(hits[0].chunk_id == 1 && hits[1].chunk_id == 2);
    T_CHECK(hits[0].score == hits[1].score && hits[0].score == vecidx_dot_exact(q, vec, 8));
    T_EQ_INT(vecidx_search(v, s, q, 1, NULL, hits, &n, NULL, &err), 0);
    T_CHECK(n == 1 && hits[0].chunk_id == 1);
    T_EQ_INT(vecidx_search(v, s, q, 4, "a.py", hits, &n, NULL, &err), 0);
    T_CHECK(n == 1 && hits[0].chunk_id == 2);
    vecidx_free(v);
    store_close(s);
    free(path);
}

static void test_search_rejects_bad_queries(void)
{
    vecidx_t *v = vecidx_new(MODEL, 4, VECIDX_INT8);
    err_t err;
    float zero[4] = {0}, nan4[4] = {1, NAN, 0, 0}, ok[4] = {1, 0, 0, 0};
    vecidx_hit_t hits[2];
    size_t n;
    T_CHECK(vecidx_search(v, NULL, zero, 2, NULL, hits, &n, NULL, &err) < 0);
    T_CHECK(strstr(err.msg, "zeros") != NULL);
    T_CHECK(vecidx_search(v, NULL, nan4, 2, NULL, hits, &n, NULL, &err) < 0);
    T_CHECK(strstr(err.msg, "non-finite") != NULL);
    float huge[4] = {1e20f, 1e20f, 0, 0};
    T_CHECK(vecidx_search(v, NULL, huge, 2, NULL, hits, &n, NULL, &err) < 0);
    T_CHECK(strstr(err.msg, "out of range") != NULL);
    T_CHECK(vecidx_search(v, NULL, ok, 0, NULL, hits, &n, NULL, &err) < 0);
    T_CHECK(vecidx_search(v, NULL, ok, 2, NULL, hits, &n, NULL, &err) < 0);
    T_CHECK(strstr(err.msg, "no index") != NULL);
    T_CHECK(vecidx_new(MODEL, 0, VECIDX_F16) == NULL);
    T_CHECK(vecidx_new("", 4, VECIDX_F16) == NULL);
    vecidx_free(v);
    vecidx_free(NULL);
}

/* ---- tests: vecidx_add and an exact source ---- */

typedef struct {
    float (*vecs)[64];
    int n, dim;
} mem_src_t;

static int mem_fetch(void *ctx, const char *hash, float *out)
{
    mem_src_t *m = ctx;
    int i = atoi(hash + 30); /* the index is written into the hash digits */
    if (i < 0 || i >= m->n) return 0;
    memcpy(out, m->vecs[i], (size_t)m->dim * sizeof(float));
    return 1;
}

static void test_add_with_exact_source_is_exact(void)
{
    enum { N = 3000, D = 48 };
    mem_src_t m = {xmalloc(N * sizeof *m.vecs), N, D};
    ref_t r = {.dim = D, .c = xcalloc(N, sizeof(ref_chunk_t)), .n = N};
    err_t err;
    float center[D];
    random_unit(center, D);
    for (int fmt = VECIDX_F16; fmt <= VECIDX_INT8; fmt++) {
        vecidx_t *v = vecidx_new(MODEL, D, (vecidx_format_t)fmt);
        vecidx_set_exact_source(v, mem_fetch, &m);
        for (int i = 0; i < N; i++) {
            if (fmt == VECIDX_F16) {
                if (i % 3 == 0) {
                    for (int j = 0; j < D; j++)
                        m.vecs[i][j] = center[j] + (float)(rng_gauss() * 1e-5);
                    normalise(m.vecs[i], D);
                } else {
                    random_unit(m.vecs[i], D);
                }
                r.c[i].id = 1000 + i;
                r.c[i].vec = m.vecs[i];
            }
            char hex[41];
            snprintf(hex, sizeof hex, "000000000000000000000000000000%010u", (unsigned)i);
            T_EQ_INT(vecidx_add(v, 1000 + i, 1, hex, m.vecs[i], &err), 0);
        }
        T_CHECK(vecidx_add(v, 1000, 1, "00", m.vecs[0], &err) < 0);
        T_CHECK(vecidx_add(v, 1000, 1, "0000000000000000000000000000000000000000", m.vecs[0],
                           &err) < 0);
        vecidx_hit_t got[50], want[50];
        int bad = 0;
        for (int qi = 0; qi < 30; qi++) {
            float q[D];
            if (qi % 2)
                memcpy(q, center, sizeof q);
            else
                random_unit(q, D);
            size_t ng, nw = ref_search(&r, q, 1 + qi % 50, NULL, want);
            vecidx_timing_t tm;
            T_EQ_INT(vecidx_search(v, NULL, q, 1 + qi % 50, NULL, got, &ng, &tm, &err), 0);
            if (!same_hits(got, ng, want, nw, "vecidx_add")) bad++;
            T_CHECK(tm.candidates >= ng && tm.rows_scanned == N);
        }
        T_EQ_INT(bad, 0);
        /* Filled by hand, it cannot follow a store. */
        char *path = new_db_path();
        store_t *s = store_open(path, false, &err);
        T_CHECK(vecidx_sync(v, s, &err) < 0);
        store_close(s);
        free(path);
        vecidx_free(v);
    }
    free(m.vecs);
    free(r.c);
}

/* Vectors far from unit length (huge: f16 needs its power-of-two scale; tiny: codes
 * underflow) are still ranked exactly. */
static void test_extreme_vectors_stay_exact(void)
{
    enum { N = 400, D = 40 };
    mem_src_t m = {xmalloc(N * sizeof *m.vecs), N, D};
    ref_t r = {.dim = D, .c = xcalloc(N, sizeof(ref_chunk_t)), .n = N};
    static const float scales[] = {1, 3e5f, 1e-20f, 1e-41f, 0.5f};
    for (int i = 0; i < N; i++) {
        random_unit(m.vecs[i], D);
        for (int j = 0; j < D; j++)
            m.vecs[i][j] *= scales[i % 5];
        r.c[i].id = i + 1;
        r.c[i].vec = m.vecs[i];
    }
    err_t err;
    for (int fmt = VECIDX_F16; fmt <= VECIDX_INT8; fmt++) {
        vecidx_t *v = vecidx_new(MODEL, D, (vecidx_format_t)fmt);
        vecidx_set_exact_source(v, mem_fetch, &m);
        for (int i = 0; i < N; i++) {
            char hex[41];
            snprintf(hex, sizeof hex, "000000000000000000000000000000%010u", (unsigned)i);
            T_EQ_INT(vecidx_add(v, i + 1, 1, hex, m.vecs[i], &err), 0);
        }
        int bad = 0;
        for (int qi = 0; qi < 20; qi++) {
            float q[D];
            random_unit(q, D);
            if (qi % 2)
                for (int j = 0; j < D; j++)
                    q[j] *= 1e-6f;
            vecidx_hit_t got[30], want[30];
            size_t ng, nw = ref_search(&r, q, 30, NULL, want);
            T_EQ_INT(vecidx_search(v, NULL, q, 30, NULL, got, &ng, NULL, &err), 0);
            if (!same_hits(got, ng, want, nw, fmt == VECIDX_F16 ? "extreme f16" : "extreme int8"))
                bad++;
        }
        T_EQ_INT(bad, 0);
        vecidx_free(v);
    }
    free(m.vecs);
    free(r.c);
}

/* The next binary16 value above h in magnitude, minus h (the ulp at h). */
static float f16_ulp(float x)
{
    uint16_t h;
    vecidx_f32_to_f16(&x, &h, 1);
    uint16_t up = (uint16_t)((h & 0x7fff) + 1);
    return vecidx_f16_to_f32(up) - vecidx_f16_to_f32((uint16_t)(h & 0x7fff));
}

static float sgnf(float x)
{
    return x < 0 ? -1.0f : 1.0f;
}

/* Adversarial near-ties. Five "high" vectors whose approximate score overstates their
 * exact score by nearly the whole error bound b, and five "low" ones whose approximate
 * score understates it, the lows' exact scores being higher than the highs' by 0.05b to
 * 0.4b. The approximate top 5 are the highs; the exact top 5 are (mostly) the lows, which
 * only a bound that is not too tight finds. One mode per error source: 0 f16 rows, 1 int8
 * rows (query on exact codes), 2 int8 query (rows on exact codes). */
enum { ADV_D = 64, ADV_HIGH = 5, ADV_N = 10 };

/* A random unit vector orthogonal to unit vector u. */
static void random_orthogonal(const float *u, float *w)
{
    random_unit(w, ADV_D);
    double d = 0;
    for (int j = 0; j < ADV_D; j++)
        d += (double)w[j] * u[j];
    for (int j = 0; j < ADV_D; j++)
        w[j] -= (float)(d * u[j]);
    normalise(w, ADV_D);
}

static int argmax_abs(const float *x)
{
    int m = 0;
    for (int j = 1; j < ADV_D; j++)
        if (fabsf(x[j]) > fabsf(x[m])) m = j;
    return m;
}

static double dot64(const float *a, const float *b)
{
    double s = 0;
    for (int j = 0; j < ADV_D; j++)
        s += (double)a[j] * b[j];
    return s;
}

static double norm_of(const float *x)
{
    double s = 0;
    for (int j = 0; j < ADV_D; j++)
        s += (double)x[j] * x[j];
    return sqrt(s);
}

/* Builds v with approximate score near `level` * |q| (along qn, plus an orthogonal part w);
 * sign -1 makes the exact score lower than the approximate one by *shift, +1 higher.
 * Returns the vector's error bound (its dominant term). */
static double adv_vector(int mode, const float *q, const float *qn, const float *dqn, double dqnorm,
                         double dqperp, double level, int sign, float *v, double *shift)
{
    float w[ADV_D];
    if (mode == 2)
        for (int j = 0; j < ADV_D; j++)
            w[j] = (float)sign * dqn[j]; /* approx = q.v - dq.v */
    else
        random_orthogonal(qn, w);
    /* f16: mostly along q, so each component's ulp follows |q_j| and q.e nears |q| |e|. */
    float wscale = mode == 0 ? 0.05f : 0.5f;
    for (int j = 0; j < ADV_D; j++)
        v[j] = (float)level * qn[j] + wscale * w[j];
    float e[ADV_D] = {0};
    if (mode == 0) {
        for (int j = 0; j < ADV_D; j++) {
            uint16_t h;
            vecidx_f32_to_f16(&v[j], &h, 1);
            float hv = vecidx_f16_to_f32(h);
            e[j] = (float)sign * sgnf(q[j]) * 0.45f * f16_ulp(hv);
            v[j] = hv + e[j];
        }
        *shift = fabs(dot64(q, e));
        return norm_of(q) * norm_of(e);
    }
    int vm = argmax_abs(v);
    float sv = fabsf(v[vm]) / 127.0f;
    for (int j = 0; j < ADV_D; j++) {
        if (j == vm) continue;
        float c = roundf(v[j] / sv);
        e[j] = mode == 1 ? (float)sign * sgnf(q[j]) * 0.45f * sv : 0;
        v[j] = c * sv + e[j];
    }
    if (mode == 1) {
        *shift = fabs(dot64(q, e));
        return norm_of(q) * norm_of(e);
    }
    *shift = 0.5 * dqperp; /* dq.(0.5 w), w = +-dqn: the part that differs between vectors */
    return dqnorm * norm_of(v);
}

static int adversarial_case(int mode, int *inverted)
{
    mem_src_t m = {xmalloc(ADV_N * sizeof *m.vecs), ADV_N, ADV_D};
    ref_t r = {.dim = ADV_D, .c = xcalloc(ADV_N, sizeof(ref_chunk_t)), .n = ADV_N};
    float q[ADV_D], qn[ADV_D], dq[ADV_D] = {0};
    random_unit(q, ADV_D);
    int qm = argmax_abs(q);
    float sq = fabsf(q[qm]) / 127.0f;
    for (int j = 0; mode > 0 && j < ADV_D; j++) {
        if (j == qm) continue;
        float k = roundf(q[j] / sq);
        dq[j] = mode == 2 ? (rng_next() & 1 ? 0.45f : -0.45f) * sq : 0;
        q[j] = k * sq + dq[j];
    }
    memcpy(qn, q, sizeof q);
    normalise(qn, ADV_D);
    double qnorm = norm_of(q), dqnorm = norm_of(dq), d = 0;
    float dqn[ADV_D]; /* the part of dq orthogonal to q, unit length */
    for (int j = 0; j < ADV_D; j++)
        d += (double)dq[j] * qn[j];
    for (int j = 0; j < ADV_D; j++)
        dqn[j] = dq[j] - (float)(d * qn[j]);
    double dqperp = norm_of(dqn);
    if (mode == 2) normalise(dqn, ADV_D);
    const double level = 0.4;
    float probe[ADV_D];
    double shift, b = adv_vector(mode, q, qn, dqn, dqnorm, dqperp, level, -1, probe, &shift);
    for (int i = 0; i < ADV_N; i++) {
        /* Lows: exact score g above the highs', approximate score 2 shift - g below. Row
         * errors move the exact score away from `level` (the rows' quantised value), the
         * query error moves the approximate one (rows are exact). */
        bool low = i >= ADV_HIGH;
        double g = low ? (0.05 + 0.35 * (i - ADV_HIGH) / (ADV_N - ADV_HIGH - 1)) * b : 0;
        double at = !low ? level : level + (mode == 2 ? g : g - 2 * shift) / qnorm, sh;
        adv_vector(mode, q, qn, dqn, dqnorm, dqperp, at, low ? 1 : -1, m.vecs[i], &sh);
        r.c[i].id = i + 1;
        r.c[i].vec = m.vecs[i];
    }
    err_t err;
    vecidx_t *v = vecidx_new(MODEL, ADV_D, mode == 0 ? VECIDX_F16 : VECIDX_INT8);
    vecidx_set_exact_source(v, mem_fetch, &m);
    for (int i = 0; i < ADV_N; i++) {
        char hex[41];
        snprintf(hex, sizeof hex, "000000000000000000000000000000%010u", (unsigned)i);
        vecidx_add(v, i + 1, 1, hex, m.vecs[i], &err);
    }
    vecidx_hit_t got[ADV_HIGH], want[ADV_HIGH];
    size_t ng = 0, nw = ref_search(&r, q, ADV_HIGH, NULL, want);
    for (size_t i = 0; i < nw; i++)
        if (want[i].chunk_id > ADV_HIGH) {
            (*inverted)++;
            break;
        }
    int bad = vecidx_search(v, NULL, q, ADV_HIGH, NULL, got, &ng, NULL, &err) < 0 ||
              !same_hits(got, ng, want, nw,
                         mode == 0   ? "adversarial f16 rows"
                         : mode == 1 ? "adversarial int8 rows"
                                     : "adversarial int8 query");
    vecidx_free(v);
    free(m.vecs);
    free(r.c);
    return bad;
}

static void test_adversarial_quantisation_errors_stay_exact(void)
{
    for (int mode = 0; mode < 3; mode++) {
        int bad = 0, inverted = 0;
        for (int round = 0; round < 20; round++)
            bad += adversarial_case(mode, &inverted);
        if (bad || inverted < 15) fprintf(stderr, "  adversarial mode %d\n", mode);
        T_EQ_INT(bad, 0);
        T_CHECK(inverted >= 15); /* the exact top 5 really differs from the approximate one */
    }
}

/* ---- tests: following the index ---- */

static void put_chunks(store_t *s, const char *path, const char *const *bodies, size_t n)
{
    err_t err;
    store_chunk_in_t in[8];
    for (size_t i = 0; i < n; i++)
        in[i] = (store_chunk_in_t){(uint32_t)i + 1, (uint32_t)i + 1, NULL, bodies[i],
                                   strlen(bodies[i]), NULL};
    T_EQ_INT(store_file_replace(s, path, "python", 0, 1, 1, "h", in, n, &err), 0);
}

/* A unit vector derived from the body text. */
static void body_vec(const char *body, float *v, int dim)
{
    uint64_t save = rng_state;
    rng_state = 0x9E3779B97F4A7C15ULL;
    for (const char *p = body; *p; p++)
        rng_state = (rng_state ^ (uint8_t)*p) * 0x100000001B3ULL + 1;
    random_unit(v, dim);
    rng_state = save;
}

static void put_vecs(store_t *s, const char *const *bodies, size_t n, int dim)
{
    err_t err;
    float v[32];
    for (size_t i = 0; i < n; i++) {
        char hex[41];
        hash_sha1_hex(bodies[i], strlen(bodies[i]), hex);
        body_vec(bodies[i], v, dim);
        T_EQ_INT(store_vec_put(s, MODEL, hex, dim, v, &err), 0);
    }
}

/* Exactness of v against a fresh reference read from s, for a few queries. */
static int check_against_store(vecidx_t *v, store_t *s, int dim)
{
    ref_t r = ref_load(s, dim);
    float center[32];
    random_unit(center, dim);
    int bad = check_exact(v, s, &r, center, 8, "synced");
    ref_free(&r);
    return bad;
}

static void test_sync_follows_another_process_incrementally(void)
{
    char *path = new_db_path();
    err_t err;
    store_t *s = store_open(path, false, &err);
    const int dim = 32;
    const char *a[] = {"alpha", "beta", "gamma"}, *b[] = {"delta", "alpha"};
    put_chunks(s, "d1/a.py", a, 3);
    put_chunks(s, "d1/b.py", b, 2);
    put_vecs(s, a, 3, dim);
    store_t *r = store_open(path, true, &err);
    vecidx_t *v = vecidx_new(MODEL, dim, VECIDX_F16);
    T_EQ_INT(vecidx_sync(v, r, &err), 0);
    T_EQ_INT(vecidx_chunks(v), 4); /* delta has no vector yet */
    T_EQ_INT(vecidx_sync(v, r, &err), 0);
    vecidx_stats_t st;
    vecidx_stats(v, &st);
    T_EQ_INT(st.full_loads, 1);
    T_EQ_INT(st.unchanged_syncs, 1);

    /* Another process: embeds delta, removes a.py (alpha stays in b.py), adds c.py with new
     * chunks and their vectors, and brings back gamma (its vector is old: a lookup). */
    pid_t pid = fork();
    if (pid == 0) {
        store_t *w = store_open(path, false, &err);
        if (!w) _exit(2);
        const char *d[] = {"delta"}, *c[] = {"epsilon", "zeta", "gamma"};
        put_vecs(w, d, 1, dim);
        store_file_delete(w, "d1/a.py", &err);
        put_chunks(w, "d2/c.py", c, 3);
        put_vecs(w, c, 2, dim);
        store_close(w);
        _exit(t_cur_failed ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    T_EQ_INT(vecidx_sync(v, r, &err), 0);
    vecidx_stats(v, &st);
    T_EQ_INT(st.full_loads, 1);
    T_EQ_INT(st.incremental_syncs, 1);
    T_CHECK(st.lookups >= 1);
    /* b.py: delta, alpha; c.py: epsilon, zeta, gamma — all with vectors now. */
    T_EQ_INT(vecidx_chunks(v), 5);
    T_EQ_INT(st.slots, 5);
    T_EQ_INT(check_against_store(v, r, dim), 0);

    /* Removing every chunk leaves nothing to find. */
    T_EQ_INT(store_file_delete(s, "d1/b.py", &err), 0);
    T_EQ_INT(store_file_delete(s, "d2/c.py", &err), 0);
    T_EQ_INT(vecidx_sync(v, r, &err), 0);
    T_EQ_INT(vecidx_chunks(v), 0);
    vecidx_stats(v, &st);
    T_EQ_INT(st.slots, 0);
    T_EQ_INT(st.chunks, 0);
    float q[32];
    body_vec("alpha", q, dim);
    vecidx_hit_t hits[4];
    size_t n = 9;
    T_EQ_INT(vecidx_search(v, r, q, 4, NULL, hits, &n, NULL, &err), 0);
    T_EQ_INT(n, 0);
    /* Slots are reused after removal. */
    put_chunks(s, "d3/x.py", a, 3);
    T_EQ_INT(vecidx_sync(v, r, &err), 0);
    T_EQ_INT(vecidx_chunks(v), 3);
    T_EQ_INT(check_against_store(v, r, dim), 0);
    vecidx_stats(v, &st);
    T_EQ_INT(st.full_loads, 1);
    vecidx_free(v);
    store_close(r);
    store_close(s);
    free(path);
}

static void test_prune_past_position_reloads(void)
{
    char *path = new_db_path();
    err_t err;
    store_t *s = store_open(path, false, &err);
    const int dim = 16;
    const char *a[] = {"one", "two"}, *b[] = {"three", "four"};
    put_chunks(s, "a.py", a, 2);
    put_vecs(s, a, 2, dim);
    vecidx_t *v = vecidx_new(MODEL, dim, VECIDX_INT8);
    T_EQ_INT(vecidx_sync(v, s, &err), 0);
    put_chunks(s, "a.py", b, 2);
    put_vecs(s, b, 2, dim);
    T_EQ_INT(store_log_prune(s, 1, &err), 0);
    T_EQ_INT(vecidx_sync(v, s, &err), 0);
    vecidx_stats_t st;
    vecidx_stats(v, &st);
    T_EQ_INT(st.full_loads, 2);
    T_EQ_INT(vecidx_chunks(v), 2);
    T_EQ_INT(check_against_store(v, s, dim), 0);
    /* Pruning behind our position does not force a reload. */
    put_chunks(s, "b.py", a, 2);
    T_EQ_INT(vecidx_sync(v, s, &err), 0);
    T_EQ_INT(store_log_prune(s, 0, &err), 0);
    put_chunks(s, "c.py", b, 1);
    T_EQ_INT(vecidx_sync(v, s, &err), 0);
    vecidx_stats(v, &st);
    T_EQ_INT(st.full_loads, 2);
    T_EQ_INT(vecidx_chunks(v), 5);
    T_EQ_INT(check_against_store(v, s, dim), 0);
    vecidx_free(v);
    store_close(s);
    free(path);
}

static void test_sync_ignores_other_models_dimensions_and_batches(void)
{
    char *path = new_db_path();
    err_t err;
    store_t *s = store_open(path, false, &err);
    const char *a[] = {"one", "two"};
    put_chunks(s, "a.py", a, 2);
    put_vecs(s, a, 1, 16); /* "one": 16 dims */
    char hex[41];
    hash_sha1_hex("two", 3, hex);
    float v16[16] = {1};
    T_EQ_INT(store_vec_put(s, MODEL, hex, 8, v16, &err), 0);    /* another size */
    T_EQ_INT(store_vec_put(s, "other", hex, 16, v16, &err), 0); /* another model */
    vecidx_t *v = vecidx_new(MODEL, 16, VECIDX_F16);
    T_EQ_INT(vecidx_sync(v, s, &err), 0);
    T_EQ_INT(vecidx_chunks(v), 1);
    vecidx_stats_t st;
    vecidx_stats(v, &st);
    T_EQ_INT(st.skipped, 1);
    T_EQ_INT(store_batch_begin(s, &err), 0);
    T_CHECK(vecidx_sync(v, s, &err) < 0);
    T_CHECK(strstr(err.msg, "batch") != NULL);
    store_batch_rollback(s);
    vecidx_free(v);
    store_close(s);
    free(path);
}

int main(void)
{
    fprintf(stderr, "vecidx kernels: %s\n", vecidx_isa_name());
    T_RUN(test_f16_conversion_is_exact_on_every_isa);
    T_RUN(test_kernels_agree_across_isas);
    T_RUN(test_search_equals_brute_force);
    T_RUN(test_chunks_sharing_a_hash_are_all_results);
    T_RUN(test_search_rejects_bad_queries);
    T_RUN(test_add_with_exact_source_is_exact);
    T_RUN(test_extreme_vectors_stay_exact);
    T_RUN(test_adversarial_quantisation_errors_stay_exact);
    T_RUN(test_sync_follows_another_process_incrementally);
    T_RUN(test_prune_past_position_reloads);
    T_RUN(test_sync_ignores_other_models_dimensions_and_batches);
    return t_done();
}
