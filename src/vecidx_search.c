/* vecidx_search.c — exact top-k search over the in-memory copy (see vecidx.h).
 *
 * Exactness: for every slot vecidx.c keeps (rounded up) the norm of its quantisation error
 * |v - dequant(v)| and max(|dequant(v)|, |v|). With the query's norms these bound
 * |approximate score - exact score| for that row (error_bound), so its exact score lies in
 * [a - b, a + b]. Let L be the k-th largest lower bound a - b, counting each chunk of a
 * slot: k chunks score at least L, so the k-th best exact score is >= L, and every chunk of
 * the true top-k (ties by chunk id included) has an upper bound a + b >= L. Those rows are
 * rescored with their float32 vectors and ranked. During the scan each thread's running L
 * only rises, so a row below it is dropped at once. Bounds are per row, so one odd vector
 * (far from unit length) widens only its own interval.
 *
 * Large scans are split over this thread and one persistent worker. */
#include "vecidx_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- the worker thread ---- */

static void *pool_main(void *arg)
{
    vecidx_pool_t *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        void (*fn)(void *, int) = p->fn;
        void *fn_arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        fn(fn_arg, 1);
        pthread_mutex_lock(&p->mu);
        p->done_gen = seen;
        pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Starts the worker (part 1 of every two-part scan); NULL when no thread can be created. */
static vecidx_pool_t *pool_start(void)
{
    vecidx_pool_t *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (pthread_create(&p->th, NULL, pool_main, p) != 0) {
        log_warn("vector index: cannot start a search thread; scanning with one thread");
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->go);
        pthread_cond_destroy(&p->done);
        free(p);
        return NULL;
    }
    return p;
}

void vecidx_pool_stop(vecidx_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_signal(&p->go);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p);
}

/* Runs fn(arg, 0) here and fn(arg, 1) on the worker, and waits for both. */
static void pool_run(vecidx_pool_t *p, void (*fn)(void *, int), void *arg)
{
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->gen++;
    pthread_cond_signal(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0);
    pthread_mutex_lock(&p->mu);
    while (p->done_gen != p->gen)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* ---- search: the scan ---- */

typedef struct {
    vecidx_t *v;
    int k;
    bool prefix; /* rows are v->plist[i] and their weights v->pmult[] */
    /* |approximate - exact| <= a1 * errn[s] + a2 * normn[s] + B_ABS <= bmax (error_bound) */
    double a1, a2, bmax;
    float sq;     /* int8: query scale */
    int64_t corr; /* int8: 128 * sum of the query codes (rows are stored as code + 128) */
} scan_t;

#define B_ABS 1e-30

/* Min-heap of at most k floats. */
static void heap_add(float *h, int *n, int k, float x)
{
    int i;
    if (*n < k) {
        i = (*n)++;
        while (i > 0 && h[(i - 1) / 2] > x) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = x;
        return;
    }
    if (!(x > h[0])) return;
    i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= x) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void cand_push(vecidx_part_t *p, uint32_t slot, float upper, float kth_low)
{
    if (p->n_cand == p->cap_cand) {
        size_t keep = 0; /* drop what the running k-th bound has overtaken, then grow */
        for (size_t i = 0; i < p->n_cand; i++)
            if (p->cand[i].upper >= kth_low) p->cand[keep++] = p->cand[i];
        p->n_cand = keep;
        if (p->n_cand * 2 > p->cap_cand || p->cap_cand == 0) {
            p->cap_cand = p->cap_cand ? p->cap_cand * 2 : 1024;
            p->cand = xrealloc(p->cand, p->cap_cand * sizeof *p->cand);
        }
    }
    p->cand[p->n_cand++] = (vecidx_cand_t){upper, slot};
}

/* Scans part pi. For each row with chunks: the approximate score a and the row's error
 * bound b give exact in [a - b, a + b]. The heap keeps the k best lower bounds (per chunk);
 * its minimum L only rises, and a row whose upper bound is below L cannot be in the top k.
 * The quick test uses the largest bound of any row, so most rows cost one comparison. */
static void scan_part(void *arg, int pi)
{
    const scan_t *sc = arg;
    vecidx_t *v = sc->v;
    vecidx_part_t *p = &v->parts[pi];
    p->heap_n = 0;
    p->n_cand = 0;
    float kth_low = -INFINITY, quick = -INFINITY; /* L, and the largest float <= L - bmax */
    const uint16_t *r16[SCAN_BATCH];
    const uint8_t *r8[SCAN_BATCH];
    uint32_t sl[SCAN_BATCH];
    float score[SCAN_BATCH];
    int32_t raw[SCAN_BATCH];
    for (size_t i = p->begin; i < p->end; i += SCAN_BATCH) {
        size_t nb = p->end - i < SCAN_BATCH ? p->end - i : SCAN_BATCH;
        for (size_t b = 0; b < nb; b++) {
            uint32_t s = sc->prefix ? v->plist[i + b] : (uint32_t)(i + b);
            sl[b] = s;
            r16[b] = (const uint16_t *)slot_row(v, s);
            r8[b] = slot_row(v, s);
        }
        if (v->fmt == VECIDX_F16)
            vecidx_kern_f16(r16, nb, v->qf, v->dpad, score);
        else
            vecidx_kern_u8(r8, nb, v->qi, v->dpad, raw);
        for (size_t b = 0; b < nb; b++) {
            uint32_t s = sl[b], w = sc->prefix ? v->pmult[s] : v->weight[s];
            if (!w) continue;
            float a = v->fmt == VECIDX_F16
                          ? score[b] * v->scale[s]
                          : (float)((int64_t)raw[b] - sc->corr) * (sc->sq * v->scale[s]);
            if (a < quick) continue;
            double err = sc->a1 * v->errn[s] + sc->a2 * v->normn[s] + B_ABS;
            float upper = float_above((double)a + err);
            if (upper < kth_low) continue;
            cand_push(p, s, upper, kth_low);
            float lower = float_below((double)a - err);
            for (uint32_t m = 0; m < w && m < (uint32_t)sc->k; m++)
                heap_add(p->heap, &p->heap_n, sc->k, lower);
            if (p->heap_n == sc->k) {
                kth_low = p->heap[0];
                quick = float_below((double)kth_low - sc->bmax);
            }
        }
    }
}

/* The per-row error bound's coefficients (see scan_t): |approximate - exact| for row s is at
 * most a1 * errn[s] + a2 * normn[s] + B_ABS, where exact is vecidx_dot_exact. */
static void error_bound(const vecidx_t *v, double qnorm, double qdeq_norm, double dq_norm,
                        scan_t *sc)
{
    const double u = 0x1p-24, n = (double)v->dpad;
    const double own = (u + n * 0x1p-52) * qnorm; /* the exact score's own rounding, per |v| */
    if (v->fmt == VECIDX_F16) {
        /* q.v - q.h = q.(v - h); float accumulation of n products, any order: gamma_n. */
        double gamma = n * u / (1 - n * u);
        sc->a1 = qnorm;
        sc->a2 = qnorm * gamma + own;
    } else {
        /* q.v - Q.H = Q.(v - H) + (q - Q).v; the integer dot is exact; 3 float roundings. */
        sc->a1 = qdeq_norm;
        sc->a2 = dq_norm + 3.01 * u * qdeq_norm + own;
    }
    sc->a1 *= 1.001; /* margin for the rounding of these products themselves */
    sc->a2 *= 1.001;
    sc->bmax = (sc->a1 * v->max_err + sc->a2 * v->max_norm + B_ABS) * 1.001;
}

/* ---- search: prefix filter ---- */

typedef struct {
    int64_t *ids; /* ascending */
    size_t n, cap;
    uint64_t *bits; /* when the largest id is small enough */
} filter_t;

static int on_file(void *ctx, int64_t id)
{
    filter_t *f = ctx;
    if (f->n == f->cap) f->ids = xrealloc(f->ids, (f->cap = f->cap * 2 + 64) * sizeof *f->ids);
    f->ids[f->n++] = id;
    return 0;
}

static int id_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool filter_has(const filter_t *f, int64_t id)
{
    if (f->n == 0 || id < f->ids[0] || id > f->ids[f->n - 1]) return false;
    if (f->bits) return f->bits[id >> 6] >> (id & 63) & 1;
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->n && f->ids[lo] == id;
}

/* Fills v->plist (ascending slots) and v->pmult (allowed chunks per slot) for the prefix. */
static int build_filter(vecidx_t *v, store_t *s, const char *prefix, filter_t *f, size_t *n_rows,
                        err_t *err)
{
    if (store_files_with_prefix(s, prefix, on_file, f, err) < 0) return -1;
    if (f->n > 1) qsort(f->ids, f->n, sizeof *f->ids, id_cmp);
    if (f->n && f->ids[0] >= 0 && f->ids[f->n - 1] < ((int64_t)1 << 28)) {
        f->bits = xcalloc((size_t)(f->ids[f->n - 1] >> 6) + 1, sizeof *f->bits);
        for (size_t i = 0; i < f->n; i++)
            f->bits[f->ids[i] >> 6] |= (uint64_t)1 << (f->ids[i] & 63);
    }
    if (v->cap_pmult < v->cap_slots) {
        free(v->pmult);
        v->pmult = xcalloc(v->cap_slots, sizeof *v->pmult);
        v->plist = xrealloc(v->plist, v->cap_slots * sizeof *v->plist);
        v->cap_pmult = v->cap_slots;
    }
    if (f->n)
        for (uint32_t c = 0; c < v->n_chunks; c++) {
            uint32_t sl = v->cslot[c];
            if (sl != NONE && v->hasvec[sl] && filter_has(f, v->cfile[c])) v->pmult[sl]++;
        }
    size_t n = 0;
    if (f->n)
        for (uint32_t sl = 0; sl < v->n_slots; sl++)
            if (v->pmult[sl]) v->plist[n++] = sl;
    *n_rows = n;
    return 0;
}

/* ---- search: rescoring and ranking ---- */

float vecidx_dot_exact(const float *a, const float *b, int dim)
{
    double acc = 0;
    for (int i = 0; i < dim; i++)
        acc += (double)a[i] * (double)b[i];
    return (float)acc;
}

typedef struct {
    const float *q;
    int dim;
    float *exact;
    uint8_t *found;
} rescore_t;

static int on_exact(void *ctx, size_t i, const float *vec, int dim)
{
    rescore_t *r = ctx;
    if (dim == r->dim) {
        r->exact[i] = vecidx_dot_exact(r->q, vec, dim);
        r->found[i] = 1;
    }
    return 0;
}

/* Exact scores of the candidate slots (found[i] = 0 when the vector has left the store). */
static int rescore(vecidx_t *v, store_t *s, const float *q, const uint32_t *slots, size_t n,
                   float *exact, uint8_t *found, err_t *err)
{
    char(*hex)[2 * HLEN + 1] = xmalloc((n ? n : 1) * sizeof *hex);
    const char **ptrs = xmalloc((n ? n : 1) * sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        vecidx_hash_hex(v->hash[slots[i]], hex[i]);
        ptrs[i] = hex[i];
    }
    rescore_t r = {q, v->dim, exact, found};
    int rc = 0;
    if (v->fetch) {
        for (size_t i = 0; i < n; i++)
            if (v->fetch(v->fetch_ctx, hex[i], v->tmp) == 1) on_exact(&r, i, v->tmp, v->dim);
    } else if (n) {
        rc = store_vec_get_many(s, v->model, ptrs, n, on_exact, &r, err);
    }
    free(hex);
    free(ptrs);
    return rc;
}

static int hit_cmp(const void *a, const void *b)
{
    const vecidx_hit_t *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

static int float_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x > y ? -1 : x < y;
}

/* Prepares v->qf / v->qi and returns the error bound's query norms. */
static void query_prepare(vecidx_t *v, const float *query, scan_t *sc, double *qdeq_norm,
                          double *dq_norm)
{
    memcpy(v->qf, query, (size_t)v->dim * sizeof *query); /* the pad stays 0 */
    *qdeq_norm = *dq_norm = 0;
    if (v->fmt != VECIDX_INT8) return;
    float m = max_abs(query, v->dim), sq = m / 127.0f, inv = 1 / sq;
    int64_t sum = 0;
    double d2 = 0, e2 = 0;
    for (int j = 0; j < v->dim; j++) {
        int c = code_of(query[j] * inv);
        v->qi[j] = (int8_t)c;
        sum += c;
        double d = (double)sq * (double)c, diff = (double)query[j] - d;
        d2 += d * d;
        e2 += diff * diff;
    }
    sc->sq = sq;
    sc->corr = 128 * sum;
    *qdeq_norm = sqrt(d2) * (1 + 1e-9);
    *dq_norm = sqrt(e2) * (1 + 1e-9);
}

static int check_query(const vecidx_t *v, store_t *s, const float *query, int k, bool prefix,
                       double *qnorm, err_t *err)
{
    if (k < 1) return err_set(err, "semantic search: top_k must be at least 1 (got %d)", k);
    if (!query) return err_set(err, "semantic search: no query vector");
    double q2 = 0;
    for (int j = 0; j < v->dim; j++) {
        if (!isfinite(query[j]))
            return err_set(err, "semantic search: the query vector has a non-finite value at %d",
                           j);
        q2 += (double)query[j] * query[j];
    }
    if (q2 == 0) return err_set(err, "semantic search: the query vector is all zeros");
    if (q2 < 1e-30 || q2 > 1e30)
        return err_set(err,
                       "semantic search: the query vector's length %g is out of range; pass a "
                       "normalised embedding (length 1)",
                       sqrt(q2));
    if (!s && (prefix || !v->fetch))
        return err_set(err, "semantic search: no index given to read vectors and paths from");
    *qnorm = sqrt(q2) * (1 + 1e-9);
    return 0;
}

/* Splits rows over one or two threads and scans them. */
static int run_scan(vecidx_t *v, scan_t *sc, size_t rows)
{
    int nt = v->threads >= 2 && rows >= v->par_min ? 2 : 1;
    if (nt == 2 && !v->pool && !v->pool_failed) {
        v->pool = pool_start();
        v->pool_failed = v->pool == NULL;
    }
    if (!v->pool) nt = 1;
    for (int p = 0; p < 2; p++) {
        v->parts[p].heap = xrealloc(v->parts[p].heap, (size_t)sc->k * sizeof(float));
        v->parts[p].heap_n = 0;
        v->parts[p].n_cand = 0;
    }
    v->parts[0].begin = 0;
    v->parts[0].end = nt == 2 ? rows / 2 : rows;
    v->parts[1].begin = v->parts[0].end;
    v->parts[1].end = rows;
    if (nt == 2)
        pool_run(v->pool, scan_part, sc);
    else
        scan_part(sc, 0);
    return nt;
}

/* The k-th best lower bound over both parts (-inf when fewer than k chunks). */
static float kth_best(const vecidx_t *v, int k)
{
    int n = v->parts[0].heap_n + v->parts[1].heap_n;
    if (n < k) return -INFINITY;
    float *all = xmalloc((size_t)n * sizeof *all);
    memcpy(all, v->parts[0].heap, (size_t)v->parts[0].heap_n * sizeof *all);
    memcpy(all + v->parts[0].heap_n, v->parts[1].heap, (size_t)v->parts[1].heap_n * sizeof *all);
    qsort(all, (size_t)n, sizeof *all, float_desc);
    float kth = all[k - 1];
    free(all);
    return kth;
}

/* Rescores the candidates whose upper bound reaches kth_low and writes the top k chunks. */
static int rank(vecidx_t *v, store_t *s, const float *query, int k, float kth_low,
                const filter_t *f, vecidx_hit_t *out, size_t *n_out, size_t *n_cand, err_t *err)
{
    size_t n = 0, total = v->parts[0].n_cand + v->parts[1].n_cand;
    uint32_t *slots = xmalloc((total ? total : 1) * sizeof *slots);
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < v->parts[p].n_cand; i++)
            if (v->parts[p].cand[i].upper >= kth_low) slots[n++] = v->parts[p].cand[i].slot;
    *n_cand = n;
    float *exact = xmalloc((n ? n : 1) * sizeof *exact);
    uint8_t *found = xcalloc(n ? n : 1, 1);
    int rc = rescore(v, s, query, slots, n, exact, found, err);
    size_t nh = 0, cap = 0;
    vecidx_hit_t *hits = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!found[i]) continue;
        for (uint32_t c = v->head[slots[i]]; c != NONE; c = v->cnext[c]) {
            if (f && !filter_has(f, v->cfile[c])) continue;
            if (nh == cap) hits = xrealloc(hits, (cap = cap * 2 + 64) * sizeof *hits);
            hits[nh++] = (vecidx_hit_t){v->cid[c], exact[i]};
        }
    }
    if (nh > 1) qsort(hits, nh, sizeof *hits, hit_cmp);
    *n_out = nh < (size_t)k ? nh : (size_t)k;
    if (*n_out) memcpy(out, hits, *n_out * sizeof *out);
    free(hits);
    free(slots);
    free(exact);
    free(found);
    return rc;
}

int vecidx_search(vecidx_t *v, store_t *s, const float *query, int k, const char *path_prefix,
                  vecidx_hit_t *out, size_t *n_out, vecidx_timing_t *timing, err_t *err)
{
    double t0 = time_mono_ms();
    vecidx_timing_t tm = {0};
    *n_out = 0;
    bool prefix = path_prefix && *path_prefix;
    double qnorm = 0, qdeq_norm = 0, dq_norm = 0;
    if (check_query(v, s, query, k, prefix, &qnorm, err) < 0) return -1;
    if (v->with_vec == 0) {
        if (timing) *timing = tm;
        return 0;
    }
    if ((size_t)k > v->with_vec) k = (int)v->with_vec; /* no more results can exist */
    scan_t sc = {.v = v, .k = k, .prefix = prefix};
    query_prepare(v, query, &sc, &qdeq_norm, &dq_norm);
    error_bound(v, qnorm, qdeq_norm, dq_norm, &sc);

    filter_t f = {0};
    size_t rows = v->n_slots;
    if (prefix) {
        if (build_filter(v, s, path_prefix, &f, &rows, err) < 0) {
            free(f.ids);
            return err_prefix(err, "semantic search");
        }
        tm.filter_ms = time_mono_ms() - t0;
    }
    double t1 = time_mono_ms();
    tm.threads = run_scan(v, &sc, rows);
    tm.rows_scanned = rows;
    float kth_low = kth_best(v, k);
    double t2 = time_mono_ms();
    tm.scan_ms = t2 - t1;
    int rc = rank(v, s, query, k, kth_low, prefix ? &f : NULL, out, n_out, &tm.candidates, err);
    tm.rescore_ms = time_mono_ms() - t2;
    if (prefix)
        for (size_t i = 0; i < rows; i++)
            v->pmult[v->plist[i]] = 0;
    free(f.ids);
    free(f.bits);
    tm.total_ms = time_mono_ms() - t0;
    if (timing) *timing = tm;
    return rc < 0 ? err_prefix(err, "semantic search") : 0;
}
