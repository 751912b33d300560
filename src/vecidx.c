/* vecidx.c — the in-memory vector copy: its layout, and keeping it in step with the index
 * (see vecidx.h; the search is in vecidx_search.c).
 *
 * Layout (structure of arrays):
 *   slots   one per distinct chunk hash: a compact row (in blocks of BLOCK_SLOTS rows, 64-byte
 *           aligned, padded to VECIDX_PAD elements), its scale, the SHA-1 (20 bytes), how many
 *           live chunks use it (refs), whether it has a vector, and the head of its chunk list.
 *           Freed slots go on a free list threaded through `head`.
 *   chunks  id, file id, slot, and prev/next links of the slot's chunk list; freed entries go
 *           on a free list threaded through `next`.
 * Two open-addressing tables (linear probing, backward-shift deletion) map hash -> slot and
 * chunk id -> chunk entry. The scan reads only the rows (and, for rows above the running
 * threshold, weight/scale). Per slot, quantisation records its error norms, whose maxima
 * the search's error bound uses.
 *
 * Following the index: a first load reads every chunk and vector; then each sync applies
 * the chunk log rows after our position (additions, removals) and the vectors stored after
 * ours. A hash that appears through the log may have had its vector stored long ago (a
 * reverted edit): such hashes are looked up once by point queries. */
#include "vecidx_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- small helpers ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 40 hex digits -> 20 bytes; false when hex is anything else. */
static bool hash_parse(const char *hex, uint8_t out[HLEN])
{
    if (!hex) return false;
    for (int i = 0; i < HLEN; i++) {
        int a = hexval(hex[2 * i]), b = a < 0 ? -1 : hexval(hex[2 * i + 1]);
        if (a < 0 || b < 0) return false;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return hex[2 * HLEN] == 0;
}

/* ---- open-addressing tables ---- */

/* All 20 bytes count: SHA-1s are uniform, but vecidx_add callers may pass structured
 * hashes (bench and tests number their chunks). */
static uint32_t hash_home(const uint8_t h[HLEN])
{
    uint64_t a, b;
    uint32_t c;
    memcpy(&a, h, 8);
    memcpy(&b, h + 8, 8);
    memcpy(&c, h + 16, 4);
    return (uint32_t)mix64(a ^ mix64(b ^ mix64(c)));
}

static uint32_t slot_home(const vecidx_t *v, uint32_t s)
{
    return hash_home(v->hash[s]);
}

static uint32_t chunk_home(const vecidx_t *v, uint32_t c)
{
    return (uint32_t)mix64((uint64_t)v->cid[c]);
}

typedef uint32_t (*home_fn)(const vecidx_t *v, uint32_t idx);

static void tab_put(const vecidx_t *v, uint32_t *tab, uint32_t mask, uint32_t idx, home_fn home)
{
    uint32_t pos = home(v, idx) & mask;
    while (tab[pos] != NONE)
        pos = (pos + 1) & mask;
    tab[pos] = idx;
}

/* Adds idx, doubling the table (load <= 1/2) when needed. */
static void tab_insert(const vecidx_t *v, uint32_t **tab, uint32_t *mask, uint32_t *n, uint32_t idx,
                       home_fn home)
{
    if (!*tab || (size_t)(*n + 1) * 2 > (size_t)*mask + 1) {
        uint32_t old_cap = *tab ? *mask + 1 : 0, cap = old_cap ? old_cap * 2 : 1024;
        uint32_t *nt = xmalloc((size_t)cap * sizeof *nt);
        memset(nt, 0xff, (size_t)cap * sizeof *nt);
        for (uint32_t i = 0; i < old_cap; i++)
            if ((*tab)[i] != NONE) tab_put(v, nt, cap - 1, (*tab)[i], home);
        free(*tab);
        *tab = nt;
        *mask = cap - 1;
    }
    tab_put(v, *tab, *mask, idx, home);
    (*n)++;
}

/* Removes the entry at pos, shifting later entries of the probe run back. */
static void tab_remove_at(const vecidx_t *v, uint32_t *tab, uint32_t mask, uint32_t *n,
                          uint32_t pos, home_fn home)
{
    uint32_t hole = pos, j = pos;
    for (;;) {
        j = (j + 1) & mask;
        if (tab[j] == NONE) break;
        uint32_t k = home(v, tab[j]) & mask;
        /* tab[j] may move into the hole when its home is not in (hole, j] cyclically. */
        bool in_range = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
        if (!in_range) {
            tab[hole] = tab[j];
            hole = j;
        }
    }
    tab[hole] = NONE;
    (*n)--;
}

static uint32_t slot_find_pos(const vecidx_t *v, const uint8_t h[HLEN])
{
    if (!v->stab) return NONE;
    for (uint32_t pos = hash_home(h) & v->stab_mask;; pos = (pos + 1) & v->stab_mask) {
        uint32_t s = v->stab[pos];
        if (s == NONE) return NONE;
        if (memcmp(v->hash[s], h, HLEN) == 0) return pos;
    }
}

static uint32_t chunk_find_pos(const vecidx_t *v, int64_t id)
{
    if (!v->ctab) return NONE;
    for (uint32_t pos = (uint32_t)mix64((uint64_t)id) & v->ctab_mask;;
         pos = (pos + 1) & v->ctab_mask) {
        uint32_t c = v->ctab[pos];
        if (c == NONE) return NONE;
        if (v->cid[c] == id) return pos;
    }
}

/* ---- slots ---- */

static void slots_grow(vecidx_t *v)
{
    uint32_t cap = v->cap_slots ? v->cap_slots * 2 : BLOCK_SLOTS;
    if (cap < v->cap_slots || cap > UINT32_MAX / 2) {
        log_error("vector index: more than 2^31 distinct chunks");
        abort();
    }
    /* Rows are allocated a block at a time as slots are used (slot_new), not per capacity. */
    v->blocks = xrealloc(v->blocks, cap / BLOCK_SLOTS * sizeof *v->blocks);
    v->scale = xrealloc(v->scale, cap * sizeof *v->scale);
    v->refs = xrealloc(v->refs, cap * sizeof *v->refs);
    v->weight = xrealloc(v->weight, cap * sizeof *v->weight);
    v->head = xrealloc(v->head, cap * sizeof *v->head);
    v->hash = xrealloc(v->hash, cap * sizeof *v->hash);
    v->hasvec = xrealloc(v->hasvec, cap * sizeof *v->hasvec);
    v->errn = xrealloc(v->errn, cap * sizeof *v->errn);
    v->normn = xrealloc(v->normn, cap * sizeof *v->normn);
    v->cap_slots = cap;
}

static uint32_t slot_new(vecidx_t *v, const uint8_t h[HLEN])
{
    uint32_t s;
    if (v->free_slot != NONE) {
        s = v->free_slot;
        v->free_slot = v->head[s];
    } else {
        if (v->n_slots == v->cap_slots) slots_grow(v);
        s = v->n_slots++;
        if (s / BLOCK_SLOTS == v->n_blocks)
            v->blocks[v->n_blocks++] = vecidx_aligned_zalloc(BLOCK_SLOTS * v->row_bytes);
    }
    memcpy(v->hash[s], h, HLEN);
    v->refs[s] = v->weight[s] = 0;
    v->hasvec[s] = 0;
    v->head[s] = NONE;
    v->scale[s] = 0;
    memset(slot_row(v, s), 0, v->row_bytes);
    tab_insert(v, &v->stab, &v->stab_mask, &v->stab_n, s, slot_home);
    return s;
}

static void slot_free(vecidx_t *v, uint32_t s)
{
    tab_remove_at(v, v->stab, v->stab_mask, &v->stab_n, slot_find_pos(v, v->hash[s]), slot_home);
    if (v->hasvec[s]) v->vec_slots--;
    v->hasvec[s] = 0;
    v->refs[s] = v->weight[s] = 0;
    memset(slot_row(v, s), 0, v->row_bytes);
    v->head[s] = v->free_slot;
    v->free_slot = s;
}

/* Squared norms of vec - deq (the quantisation error), deq and vec, in four lanes. */
static void sum_squares(const float *vec, const double *deq, int dim, double *e2, double *h2,
                        double *v2)
{
    double e[4] = {0}, h[4] = {0}, w[4] = {0};
    int j = 0;
    for (; j + 4 <= dim; j += 4)
        for (int l = 0; l < 4; l++) {
            double d = deq[j + l], x = vec[j + l];
            e[l] += (x - d) * (x - d);
            h[l] += d * d;
            w[l] += x * x;
        }
    for (; j < dim; j++) {
        double d = deq[j], x = vec[j];
        e[0] += (x - d) * (x - d);
        h[0] += d * d;
        w[0] += x * x;
    }
    *e2 = (e[0] + e[1]) + (e[2] + e[3]);
    *h2 = (h[0] + h[1]) + (h[2] + h[3]);
    *v2 = (w[0] + w[1]) + (w[2] + w[3]);
}

/* Quantises vec (v->dim floats, finite) into slot s and updates the error maxima. */
static void slot_set_vec(vecidx_t *v, uint32_t s, const float *vec)
{
    int dim = v->dim;
    float m = max_abs(vec, dim);
    double e2 = 0, h2 = 0, v2 = 0;
    uint8_t *row = slot_row(v, s);
    if (v->fmt == VECIDX_F16) {
        /* A power-of-two scale keeps huge values in range (exact; 1 for unit vectors). */
        int e = 0;
        while (ldexpf(m, -e) > 32768.0f)
            e++;
        if (e)
            for (int j = 0; j < dim; j++)
                v->tmp[j] = ldexpf(vec[j], -e);
        uint16_t *h = (uint16_t *)row;
        vecidx_f32_to_f16(e ? v->tmp : vec, h, (size_t)dim);
        double sc = ldexp(1.0, e);
        for (int j = 0; j < dim; j++)
            v->deq[j] = (double)vecidx_f16_to_f32(h[j]) * sc;
        v->scale[s] = (float)sc;
    } else {
        /* A row too tiny for a finite inverse scale is stored as zeros (its error counts). */
        float sv = m / 127.0f, inv = sv > 0 && isfinite(1 / sv) ? 1 / sv : 0;
        for (int j = 0; j < dim; j++) {
            int c = code_of(vec[j] * inv);
            row[j] = (uint8_t)(c + 128);
            v->deq[j] = (double)sv * (double)c;
        }
        memset(row + dim, 128, v->dpad - (size_t)dim);
        v->scale[s] = sv;
    }
    sum_squares(vec, v->deq, dim, &e2, &h2, &v2);
    /* Rounded up a little: the sums themselves carry double rounding. */
    v->errn[s] = float_above(sqrt(e2) * (1 + 1e-9));
    v->normn[s] = float_above(fmax(sqrt(h2), sqrt(v2)) * (1 + 1e-9));
    v->max_err = fmax(v->max_err, v->errn[s]);
    v->max_norm = fmax(v->max_norm, v->normn[s]);
    if (!v->hasvec[s]) {
        v->hasvec[s] = 1;
        v->vec_slots++;
        v->weight[s] = v->refs[s];
        v->with_vec += v->refs[s];
    }
}

/* ---- chunks ---- */

static void chunks_grow(vecidx_t *v)
{
    uint32_t cap = v->cap_chunks ? v->cap_chunks * 2 : 1024;
    if (cap < v->cap_chunks || cap > UINT32_MAX / 2) {
        log_error("vector index: more than 2^31 chunks");
        abort();
    }
    v->cid = xrealloc(v->cid, cap * sizeof *v->cid);
    v->cfile = xrealloc(v->cfile, cap * sizeof *v->cfile);
    v->cslot = xrealloc(v->cslot, cap * sizeof *v->cslot);
    v->cnext = xrealloc(v->cnext, cap * sizeof *v->cnext);
    v->cprev = xrealloc(v->cprev, cap * sizeof *v->cprev);
    v->cap_chunks = cap;
}

static void chunk_remove(vecidx_t *v, int64_t id)
{
    uint32_t pos = chunk_find_pos(v, id);
    if (pos == NONE) return;
    uint32_t c = v->ctab[pos], s = v->cslot[c];
    tab_remove_at(v, v->ctab, v->ctab_mask, &v->ctab_n, pos, chunk_home);
    if (v->cprev[c] != NONE)
        v->cnext[v->cprev[c]] = v->cnext[c];
    else
        v->head[s] = v->cnext[c];
    if (v->cnext[c] != NONE) v->cprev[v->cnext[c]] = v->cprev[c];
    v->refs[s]--;
    if (v->hasvec[s]) {
        v->weight[s]--;
        v->with_vec--;
    }
    if (v->refs[s] == 0) slot_free(v, s);
    v->cslot[c] = NONE;
    v->cnext[c] = v->free_chunk;
    v->free_chunk = c;
    v->live_chunks--;
}

/* Adds (or re-adds with a new hash) chunk id. *new_slot: the hash had no slot before. */
static void chunk_add(vecidx_t *v, int64_t id, int64_t file, const uint8_t h[HLEN], bool *new_slot)
{
    *new_slot = false;
    uint32_t pos = chunk_find_pos(v, id);
    if (pos != NONE) {
        uint32_t c = v->ctab[pos];
        if (memcmp(v->hash[v->cslot[c]], h, HLEN) == 0 && v->cfile[c] == file) return;
        chunk_remove(v, id);
    }
    uint32_t sp = slot_find_pos(v, h), s;
    if (sp == NONE) {
        s = slot_new(v, h);
        *new_slot = true;
    } else {
        s = v->stab[sp];
    }
    uint32_t c;
    if (v->free_chunk != NONE) {
        c = v->free_chunk;
        v->free_chunk = v->cnext[c];
    } else {
        if (v->n_chunks == v->cap_chunks) chunks_grow(v);
        c = v->n_chunks++;
    }
    v->cid[c] = id;
    v->cfile[c] = file;
    v->cslot[c] = s;
    v->cprev[c] = NONE;
    v->cnext[c] = v->head[s];
    if (v->head[s] != NONE) v->cprev[v->head[s]] = c;
    v->head[s] = c;
    v->refs[s]++;
    if (v->hasvec[s]) {
        v->weight[s]++;
        v->with_vec++;
    }
    v->live_chunks++;
    tab_insert(v, &v->ctab, &v->ctab_mask, &v->ctab_n, c, chunk_home);
}

/* ---- life cycle ---- */

vecidx_t *vecidx_new(const char *model, int dim, vecidx_format_t fmt)
{
    if (!model || !*model || dim < 1 || dim > 65536 || (fmt != VECIDX_F16 && fmt != VECIDX_INT8))
        return NULL;
    vecidx_t *v = xcalloc(1, sizeof *v);
    v->model = xstrdup(model);
    v->dim = dim;
    v->fmt = fmt;
    v->dpad = ((size_t)dim + VECIDX_PAD - 1) / VECIDX_PAD * VECIDX_PAD;
    v->row_bytes = v->dpad * (fmt == VECIDX_F16 ? 2 : 1);
    v->free_slot = v->free_chunk = NONE;
    v->tmp = xmalloc((size_t)dim * sizeof *v->tmp);
    v->deq = xmalloc((size_t)dim * sizeof *v->deq);
    v->qf = vecidx_aligned_zalloc(v->dpad * sizeof *v->qf);
    v->qi = vecidx_aligned_zalloc(v->dpad);
    v->threads = 2;
    v->par_min = VECIDX_PAR_MIN_ROWS;
    return v;
}

/* Drops every slot and chunk (keeps settings, statistics and the worker thread). */
static void clear(vecidx_t *v)
{
    for (size_t b = 0; b < v->n_blocks; b++)
        free(v->blocks[b]);
    free(v->blocks);
    free(v->scale);
    free(v->refs);
    free(v->weight);
    free(v->head);
    free(v->hash);
    free(v->hasvec);
    free(v->errn);
    free(v->normn);
    free(v->stab);
    free(v->cid);
    free(v->cfile);
    free(v->cslot);
    free(v->cnext);
    free(v->cprev);
    free(v->ctab);
    free(v->pending);
    free(v->pmult);
    free(v->plist);
    v->blocks = NULL;
    v->n_blocks = 0;
    v->scale = NULL;
    v->refs = v->weight = v->head = v->stab = v->ctab = v->pending = v->pmult = v->plist = NULL;
    v->hash = NULL;
    v->hasvec = NULL;
    v->errn = v->normn = NULL;
    v->cid = v->cfile = NULL;
    v->cslot = v->cnext = v->cprev = NULL;
    v->n_slots = v->cap_slots = v->vec_slots = v->stab_mask = v->stab_n = 0;
    v->n_chunks = v->cap_chunks = v->live_chunks = v->ctab_mask = v->ctab_n = v->cap_pmult = 0;
    v->free_slot = v->free_chunk = NONE;
    v->with_vec = v->n_pending = v->cap_pending = 0;
    v->max_err = v->max_norm = 0;
    v->loaded = false;
    v->log_seq = v->vec_seq = 0;
}

void vecidx_free(vecidx_t *v)
{
    if (!v) return;
    if (v->pool) vecidx_pool_stop(v->pool);
    clear(v);
    for (int p = 0; p < 2; p++) {
        free(v->parts[p].heap);
        free(v->parts[p].cand);
    }
    free(v->model);
    free(v->tmp);
    free(v->deq);
    free(v->qf);
    free(v->qi);
    free(v);
}

size_t vecidx_chunks(const vecidx_t *v)
{
    return v->with_vec;
}

void vecidx_stats(const vecidx_t *v, vecidx_stats_t *out)
{
    *out = v->st;
    out->chunks = v->live_chunks;
    out->chunks_with_vec = v->with_vec;
    out->slots = v->vec_slots;
    out->row_bytes = v->row_bytes;
    size_t per_slot = 3 * sizeof(float) + 3 * sizeof(uint32_t) + HLEN + 1 + sizeof(uint32_t);
    size_t per_chunk = 2 * sizeof(int64_t) + 3 * sizeof(uint32_t);
    out->bytes =
        v->n_blocks * BLOCK_SLOTS * v->row_bytes + (size_t)v->cap_slots * per_slot +
        (size_t)v->cap_chunks * per_chunk +
        ((v->stab ? (size_t)v->stab_mask + 1 : 0) + (v->ctab ? (size_t)v->ctab_mask + 1 : 0)) *
            sizeof(uint32_t);
}

void vecidx_set_exact_source(vecidx_t *v, int (*fetch)(void *ctx, const char *hash, float *out),
                             void *ctx)
{
    v->fetch = fetch;
    v->fetch_ctx = fetch ? ctx : NULL;
}

void vecidx_set_threads(vecidx_t *v, int threads, size_t min_rows)
{
    v->threads = threads >= 2 ? 2 : 1;
    v->par_min = min_rows;
}

static bool all_finite(const float *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

int vecidx_add(vecidx_t *v, int64_t chunk_id, int64_t file_id, const char *hash, const float *vec,
               err_t *err)
{
    uint8_t h[HLEN];
    if (!hash_parse(hash, h))
        return err_set(err, "vector index: chunk hash '%s' is not 40 hex digits",
                       hash ? hash : "(null)");
    if (!vec || !all_finite(vec, v->dim))
        return err_set(err, "vector index: the vector of chunk %lld is missing or not finite",
                       (long long)chunk_id);
    if (chunk_find_pos(v, chunk_id) != NONE)
        return err_set(err, "vector index: chunk %lld is already present", (long long)chunk_id);
    v->external = true;
    bool fresh;
    chunk_add(v, chunk_id, file_id, h, &fresh);
    uint32_t s = v->stab[slot_find_pos(v, h)];
    slot_set_vec(v, s, vec);
    return 0;
}

/* ---- sync ---- */

static int on_chunk(void *ctx, int64_t chunk_id, int64_t file_id, const char *hash)
{
    vecidx_t *v = ctx;
    uint8_t h[HLEN];
    bool fresh;
    if (hash_parse(hash, h))
        chunk_add(v, chunk_id, file_id, h, &fresh);
    else
        v->st.skipped++;
    return 0;
}

static int on_log(void *ctx, int64_t seq, int64_t chunk_id, int64_t file_id, const char *hash,
                  int op)
{
    vecidx_t *v = ctx;
    v->log_seq = seq;
    v->st.log_rows++;
    if (op == 0) {
        chunk_remove(v, chunk_id);
        return 0;
    }
    uint8_t h[HLEN];
    bool fresh;
    if (!hash_parse(hash, h)) {
        v->st.skipped++;
        chunk_remove(v, chunk_id);
        return 0;
    }
    chunk_add(v, chunk_id, file_id, h, &fresh);
    if (fresh) {
        /* Its vector may have been stored before our vector position: look it up later. */
        if (v->n_pending == v->cap_pending)
            v->pending = xrealloc(v->pending,
                                  (v->cap_pending = v->cap_pending * 2 + 64) * sizeof *v->pending);
        v->pending[v->n_pending++] = v->stab[slot_find_pos(v, h)];
    }
    return 0;
}

/* A stored vector for hash: kept when some chunk uses the hash. */
static void take_vec(vecidx_t *v, const char *hash, const float *vec, int dim)
{
    uint8_t h[HLEN];
    v->st.vec_rows++;
    if (dim != v->dim || !hash_parse(hash, h) || !all_finite(vec, dim)) {
        v->st.skipped++;
        return;
    }
    uint32_t pos = slot_find_pos(v, h);
    if (pos != NONE) slot_set_vec(v, v->stab[pos], vec);
}

static int on_vec(void *ctx, int64_t seq, const char *hash, const float *vec, int dim)
{
    vecidx_t *v = ctx;
    v->vec_seq = seq;
    take_vec(v, hash, vec, dim);
    return 0;
}

typedef struct {
    vecidx_t *v;
    char (*hex)[2 * HLEN + 1];
} lookup_t;

static int on_lookup(void *ctx, size_t i, const float *vec, int dim)
{
    lookup_t *l = ctx;
    take_vec(l->v, l->hex[i], vec, dim);
    return 0;
}

/* Reads the vectors of hashes that appeared through the log and still lack one. */
static int resolve_pending(vecidx_t *v, store_t *s, err_t *err)
{
    size_t n = 0;
    lookup_t l = {v, xmalloc((v->n_pending ? v->n_pending : 1) * sizeof *l.hex)};
    const char **ptrs = xmalloc((v->n_pending ? v->n_pending : 1) * sizeof *ptrs);
    for (size_t i = 0; i < v->n_pending; i++) {
        uint32_t sl = v->pending[i];
        if (sl >= v->n_slots || v->refs[sl] == 0 || v->hasvec[sl]) continue;
        vecidx_hash_hex(v->hash[sl], l.hex[n]);
        ptrs[n] = l.hex[n];
        n++;
    }
    int rc = n ? store_vec_get_many(s, v->model, ptrs, n, on_lookup, &l, err) : 0;
    v->st.lookups += n;
    free(l.hex);
    free(ptrs);
    if (rc == 0) v->n_pending = 0;
    return rc;
}

static int full_load(vecidx_t *v, store_t *s, err_t *err)
{
    clear(v);
    v->st.full_loads++;
    int64_t log_seq = 0;
    if (store_chunks_all(s, &log_seq, on_chunk, v, err) < 0 ||
        store_vec_since(s, v->model, 0, on_vec, v, err) < 0) {
        clear(v);
        return -1;
    }
    v->log_seq = log_seq;
    v->loaded = true;
    return 0;
}

int vecidx_sync(vecidx_t *v, store_t *s, err_t *err)
{
    if (v->external)
        return err_set(err, "vector index: filled with vecidx_add, it cannot follow a store");
    if (store_in_batch(s))
        return err_set(err, "vector index: cannot sync inside an open batch (its rows may still "
                            "be rolled back); sync after the commit");
    int64_t dv;
    if (store_data_version(s, &dv, err) < 0) return -1;
    if (v->loaded && dv == v->dv) {
        v->st.unchanged_syncs++;
        return 0;
    }
    size_t skipped = v->st.skipped;
    int rc;
    if (!v->loaded) {
        rc = full_load(v, s, err);
    } else {
        bool pruned = false;
        rc = store_chunk_log_since(s, v->log_seq, &pruned, on_log, v, err);
        if (rc == 0 && pruned) {
            log_info("vector index %s: the chunk log was pruned past our position; reloading",
                     v->model);
            rc = full_load(v, s, err);
        } else if (rc == 0) {
            v->st.incremental_syncs++;
            rc = store_vec_since(s, v->model, v->vec_seq, on_vec, v, err);
            if (rc == 0) rc = resolve_pending(v, s, err);
        }
    }
    if (rc < 0) return err_prefix(err, "cannot update the vector index of %s", v->model);
    if (v->st.skipped > skipped)
        log_warn("vector index %s: ignored %llu rows (chunk hash not hex, vector of another "
                 "dimension than %d, or not finite)",
                 v->model, (unsigned long long)(v->st.skipped - skipped), v->dim);
    v->dv = dv;
    return 0;
}

void *vecidx_aligned_zalloc(size_t n)
{
    n = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, n ? n : 64);
    if (!p) {
        xmalloc(SIZE_MAX); /* reports and aborts like every other allocation failure */
        return NULL;
    }
    memset(p, 0, n);
    return p;
}

void vecidx_hash_hex(const uint8_t h[HLEN], char out[2 * HLEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < HLEN; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[2 * HLEN] = 0;
}
