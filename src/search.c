/* search.c — keyword search and the search_code result object; see search.h. */
#include "search.h"

#include "fusion.h"
#include "vecidx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftstok.h"
#include "preview.h"

int search_mode_parse(const char *s, search_mode_t *out)
{
    static const struct {
        const char *name;
        search_mode_t mode;
    } modes[] = {
        {"hybrid", SEARCH_HYBRID}, {"semantic", SEARCH_SEMANTIC}, {"keyword", SEARCH_KEYWORD}};
    for (size_t i = 0; s && i < ARRAY_LEN(modes); i++)
        if (strcmp(s, modes[i].name) == 0) {
            *out = modes[i].mode;
            return 0;
        }
    return -1;
}

const char *search_mode_name(search_mode_t mode)
{
    switch (mode) {
    case SEARCH_HYBRID:
        return "hybrid";
    case SEARCH_SEMANTIC:
        return "semantic";
    case SEARCH_KEYWORD:
        return "keyword";
    }
    return "unknown";
}

/* ---- query building ---- */

/* A term is "common" when more chunks than this (or 1% of all chunks) contain it. */
#define SEARCH_COMMON_TERM_MIN 2000

typedef struct {
    char *terms[SEARCH_MAX_TERMS];
    size_t n;
} terms_t;

static int add_term(void *ctx, const char *tok, size_t len, bool part, size_t start, size_t end)
{
    terms_t *t = ctx;
    (void)part, (void)start, (void)end;
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->terms[i]) == len && memcmp(t->terms[i], tok, len) == 0) return 0;
    t->terms[t->n++] = xstrndup(tok, len);
    return t->n == SEARCH_MAX_TERMS; /* full: stop the walk */
}

/* Where a term may match in the first keyword query. */
typedef enum {
    TERM_ANYWHERE = 0,
    TERM_NAMES, /* common word: only the path and definitions columns */
    TERM_LEFT_OUT, /* weightless word: not in the query */
} term_scope_t;

/* Joins terms with OR, each as its scope says (scope NULL: all anywhere). Frees the terms. */
static char *join_terms(terms_t *t, const term_scope_t *scope)
{
    /* Tokens hold only word characters (never '"'), so quoting makes each a literal string;
     * FTS5 re-tokenizes it with our tokenizer in query mode, yielding exactly that token. */
    sbuf_t q = {0};
    for (size_t i = 0; i < t->n; i++) {
        term_scope_t sc = scope ? scope[i] : TERM_ANYWHERE;
        const char *sep = q.len ? " OR " : "";
        if (sc == TERM_NAMES)
            sbuf_printf(&q, "%s({path definitions} : \"%s\")", sep, t->terms[i]);
        else if (sc == TERM_ANYWHERE)
            sbuf_printf(&q, "%s\"%s\"", sep, t->terms[i]);
        free(t->terms[i]);
    }
    t->n = 0;
    return sbuf_take(&q);
}

char *search_fts_query(const char *text)
{
    terms_t t = {.n = 0};
    if (text) ftstok_split(text, strlen(text), true, add_term, &t);
    if (t.n == 0) return NULL;
    return join_terms(&t, NULL);
}

/* Ranking cost grows with every row a term matches (bm25 is computed per matching row), and
 * a word found in a large share of all chunks adds almost nothing to bm25 (its IDF is near
 * zero). So such words only count where they weigh most — file paths and definition names —
 * in a first, fast query. Body-only matches of such words would rank last anyway (near-zero
 * weight), so they are left out; search_run falls back to the full query only when the
 * fast one finds nothing. Sets *restricted when any term was limited. NULL when no terms. */
static char *fts_query_fast(store_t *s, const char *text, bool *restricted)
{
    *restricted = false;
    terms_t t = {.n = 0};
    if (text) ftstok_split(text, strlen(text), true, add_term, &t);
    if (t.n == 0) return NULL;
    term_scope_t scope[SEARCH_MAX_TERMS] = {TERM_ANYWHERE};
    int64_t bound = 0, docs, name_docs;
    size_t n_left_out = 0;
    err_t err;
    if (store_chunk_count_bound(s, &bound, &err) == 0) {
        int64_t threshold = EC_MAX(SEARCH_COMMON_TERM_MIN, bound / 100);
        for (size_t i = 0; i < t.n; i++) {
            if (store_term_docs(s, t.terms[i], &docs, &err) != 0) break;
            if (docs <= threshold) continue;
            scope[i] = TERM_NAMES;
            *restricted = true;
            /* A word in the names of more than half of all chunks gets FTS5's minimum IDF
             * (1e-6; limited to names, its IDF comes from there): it cannot move any score,
             * yet ranking visits every row it matches (`h` in the paths of a header-heavy
             * tree: 90 % of chunks, 90 ms per query). It is left out while another term
             * remains; rows that matched only it would have ranked last, scoring about 0. */
            if (docs * 2 > bound) {
                if (store_term_name_docs(s, t.terms[i], &name_docs, &err) != 0) break;
                if (name_docs * 2 > bound) {
                    scope[i] = TERM_LEFT_OUT;
                    n_left_out++;
                }
            }
        }
    }
    if (n_left_out == t.n)
        for (size_t i = 0; i < t.n; i++)
            scope[i] = TERM_NAMES; /* every term weightless: keep them all */
    return join_terms(&t, scope);
}

/* ---- result building ---- */

typedef struct {
    cJSON *results;
    preview_query_t pq;
    bool oom;
} build_t;

static void add_clean_string(cJSON *obj, const char *key, const char *s)
{
    char *clean = preview_utf8_clean(s ? s : "", s ? strlen(s) : 0);
    cJSON_AddStringToObject(obj, key, clean);
    free(clean);
}

/* bm25 is negative, lower is better: the score is its negation, rounded to 4 decimals. */
static double score_of(double bm25)
{
    double v = round(-bm25 * 10000.0) / 10000.0;
    return v == 0 ? 0.0 : v; /* no "-0" */
}

static int add_hit(void *ctx, const store_hit_t *h)
{
    build_t *b = ctx;
    cJSON *r = cJSON_CreateObject();
    if (!r || !cJSON_AddItemToArray(b->results, r)) {
        cJSON_Delete(r);
        b->oom = true;
        return 1;
    }
    preview_t p;
    preview_build(&b->pq, h->content, h->content_len, h->start_line, &p);
    add_clean_string(r, "file_path", h->path);
    add_clean_string(r, "language", h->language);
    cJSON_AddNumberToObject(r, "start_line", h->start_line);
    cJSON_AddNumberToObject(r, "end_line", h->end_line);
    add_clean_string(r, "definitions", h->definitions);
    cJSON_AddStringToObject(r, "preview", p.text);
    cJSON_AddNumberToObject(r, "score", score_of(h->bm25));
    if (p.n_match_lines > 0) {
        cJSON *m = cJSON_AddArrayToObject(r, "match_lines");
        for (int i = 0; m && i < p.n_match_lines; i++)
            cJSON_AddItemToArray(m, cJSON_CreateNumber(p.match_lines[i]));
    }
    preview_free(&p);
    return 0;
}

static const char *file_of(const cJSON *r)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "file_path");
    return cJSON_IsString(f) ? f->valuestring : "";
}

/* Adds file_result_count to each result whose file appears more than once. */
static void add_file_counts(cJSON *results)
{
    const cJSON *a, *b;
    cJSON *r;
    cJSON_ArrayForEach(r, results)
    {
        int n = 0;
        a = r;
        cJSON_ArrayForEach(b, results) n += strcmp(file_of(a), file_of(b)) == 0;
        if (n > 1) cJSON_AddNumberToObject(r, "file_result_count", n);
    }
}

static int validate(const search_req_t *req, err_t *err)
{
    if (!req || !req->query) return err_set(err, "search: no query given");
    const char *q = req->query;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '\f' || *q == '\v')
        q++;
    if (!*q) return err_set(err, "search: the query is empty; pass words or an identifier");
    if (req->top_k < 1 || req->top_k > SEARCH_TOP_K_MAX)
        return err_set(err, "search: top_k must be between 1 and %d (got %d)", SEARCH_TOP_K_MAX,
                       req->top_k);
    if (req->mode != SEARCH_HYBRID && req->mode != SEARCH_SEMANTIC && req->mode != SEARCH_KEYWORD)
        return err_set(err, "search: unknown mode %d; use hybrid, semantic or keyword",
                       (int)req->mode);
    return 0;
}

static const char *normalise_prefix(const char *p)
{
    if (!p) return "";
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    return strcmp(p, ".") == 0 ? "" : p;
}

/* Runs the keyword arm: the fast query first (common words limited to paths and
 * definitions), the complete query when that finds nothing. cb sees hits best first. */
typedef struct {
    int (*cb)(void *ctx, const store_hit_t *h);
    void *ctx;
    size_t n;
} counting_t;

static int count_hit(void *ctx, const store_hit_t *h)
{
    counting_t *c = ctx;
    c->n++;
    return c->cb(c->ctx, h);
}

static int keyword_arm(store_t *s, const char *query, const char *prefix, int limit,
                       bool fallback, int (*cb)(void *ctx, const store_hit_t *h), void *ctx,
                       err_t *err)
{
    bool restricted = false;
    char *fts = fts_query_fast(s, query, &restricted);
    if (!fts) return 0;
    counting_t c = {cb, ctx, 0};
    int rc = store_keyword_search(s, fts, prefix, limit, count_hit, &c, err);
    free(fts);
    if (rc == 0 && restricted && c.n == 0 && fallback) {
        fts = search_fts_query(query);
        rc = store_keyword_search(s, fts, prefix, limit, count_hit, &c, err);
        free(fts);
    }
    return rc < 0 ? err_prefix(err, "search") : rc;
}

typedef struct {
    int64_t *ids;
    size_t n, cap;
} idlist_t;

static int collect_id(void *ctx, const store_hit_t *h)
{
    idlist_t *l = ctx;
    if (l->n < l->cap) l->ids[l->n++] = h->chunk_id;
    return 0;
}

/* Result objects for chunk ids with their scores (digits: rounding of the score). */
typedef struct {
    build_t *b;
    const int64_t *ids;
    const double *scores;
    size_t n;
    int digits;
} scored_t;

static int add_scored(void *ctx, const store_hit_t *h)
{
    scored_t *sc = ctx;
    double score = 0;
    for (size_t i = 0; i < sc->n; i++)
        if (sc->ids[i] == h->chunk_id) score = sc->scores[i];
    int rc = add_hit(sc->b, h);
    cJSON *last = cJSON_GetArrayItem(sc->b->results, cJSON_GetArraySize(sc->b->results) - 1);
    double p = pow(10, sc->digits), v = round(score * p) / p;
    if (rc == 0 && last) cJSON_ReplaceItemInObject(last, "score", cJSON_CreateNumber(v == 0 ? 0 : v));
    return rc;
}

static void add_timing(cJSON *root, const search_timing_t *t)
{
    cJSON *o = cJSON_AddObjectToObject(root, "timings");
    if (!o) return;
    cJSON_AddNumberToObject(o, "embedding_ms", round(t->embedding_ms * 100) / 100);
    cJSON_AddNumberToObject(o, "vector_ms", round(t->vector_ms * 100) / 100);
    cJSON_AddNumberToObject(o, "keyword_ms", round(t->keyword_ms * 100) / 100);
    cJSON_AddNumberToObject(o, "fusion_ms", round(t->fusion_ms * 100) / 100);
    cJSON_AddNumberToObject(o, "total_ms", round(t->total_ms * 100) / 100);
}

/* The semantic and hybrid modes, with both arms drawn from the same filtered set. */
static int vector_search(store_t *s, const search_req_t *req, const search_semantic_t *sem,
                         const char *prefix, build_t *b, search_timing_t *t, err_t *err)
{
    bool hybrid = req->mode == SEARCH_HYBRID;
    int depth = hybrid ? SEARCH_FUSION_DEPTH * req->top_k : req->top_k;
    vecidx_hit_t *vh = xcalloc((size_t)depth, sizeof *vh);
    size_t nv = 0;
    double t0 = time_mono_ms();
    int rc = vecidx_search(sem->vecidx, s, sem->query_vec, depth, prefix, vh, &nv, NULL, err);
    t->vector_ms = time_mono_ms() - t0;
    if (rc != 0) {
        free(vh);
        return err_prefix(err, "semantic search");
    }
    int64_t *sem_ids = xcalloc((size_t)depth, sizeof *sem_ids);
    for (size_t i = 0; i < nv; i++) sem_ids[i] = vh[i].chunk_id;
    idlist_t kw = {xcalloc((size_t)depth, sizeof(int64_t)), 0, (size_t)depth};
    fusion_hit_t *fh = xcalloc((size_t)depth * 2, sizeof *fh);
    int64_t *ids = xcalloc((size_t)depth * 2, sizeof *ids);
    double *scores = xcalloc((size_t)depth * 2, sizeof *scores);
    size_t n = 0;
    int digits = 4;
    if (hybrid) {
        t0 = time_mono_ms();
        /* No slow full-query fallback here: when only very common words match, the
         * semantic arm carries the query. */
        rc = keyword_arm(s, req->query, prefix, depth, false, collect_id, &kw, err);
        t->keyword_ms = time_mono_ms() - t0;
        t0 = time_mono_ms();
        size_t nf = fusion_rrf(kw.ids, kw.n, sem_ids, nv, FUSION_RRF_K, fh);
        for (size_t i = 0; i < nf && n < (size_t)req->top_k; i++, n++) {
            ids[n] = fh[i].id;
            scores[n] = fh[i].score;
        }
        t->fusion_ms = time_mono_ms() - t0;
        digits = 6; /* RRF scores are small: 1/61 for a first place */
    } else {
        for (size_t i = 0; i < nv; i++, n++) {
            ids[n] = vh[i].chunk_id;
            scores[n] = vh[i].score;
        }
    }
    if (rc == 0) {
        scored_t sc = {b, ids, scores, n, digits};
        rc = store_chunks_get(s, ids, n, add_scored, &sc, err);
    }
    free(vh);
    free(sem_ids);
    free(kw.ids);
    free(fh);
    free(ids);
    free(scores);
    return rc < 0 ? -1 : 0;
}

cJSON *search_run(store_t *s, const search_req_t *req, err_t *err)
{
    return search_run_ex(s, req, NULL, err);
}

cJSON *search_run_ex(store_t *s, const search_req_t *req, const search_semantic_t *sem,
                     err_t *err)
{
    if (validate(req, err) < 0) return NULL;
    double t_start = time_mono_ms();
    build_t b = {.results = cJSON_CreateArray()};
    cJSON *root = cJSON_CreateObject();
    if (!root || !b.results || !cJSON_AddItemToObject(root, "results", b.results)) {
        cJSON_Delete(root);
        cJSON_Delete(b.results);
        err_set(err, "search: out of memory building results");
        return NULL;
    }
    search_timing_t t = {0};
    if (sem) t.embedding_ms = sem->embedding_ms;
    const char *prefix = normalise_prefix(req->path_prefix);
    bool vectors = req->mode != SEARCH_KEYWORD && sem && sem->vecidx && sem->query_vec;
    preview_query_init(&b.pq, req->query);
    int rc;
    if (vectors) {
        rc = vector_search(s, req, sem, prefix, &b, &t, err);
    } else {
        double t0 = time_mono_ms();
        rc = keyword_arm(s, req->query, prefix, req->top_k, true, add_hit, &b, err);
        t.keyword_ms = time_mono_ms() - t0;
    }
    preview_query_free(&b.pq);
    if (rc == 0 && b.oom) rc = err_set(err, "search: out of memory building results");
    if (rc < 0) {
        cJSON_Delete(root);
        return NULL;
    }
    add_file_counts(b.results);
    if (req->mode != SEARCH_KEYWORD && !vectors)
        cJSON_AddStringToObject(root, "note", sem && sem->unavailable ? sem->unavailable
                                                                       : SEARCH_NOTE_NO_SEMANTIC);
    t.total_ms = time_mono_ms() - t_start + t.embedding_ms;
    if (sem && sem->timing) *sem->timing = t;
    if (sem && sem->include_timings) add_timing(root, &t);
    return root;
}
