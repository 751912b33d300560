/* search.c — keyword search and the search_code result object; see search.h. */
#include "search.h"

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

/* Joins terms with OR; terms flagged `common` only match in the path and definitions
 * columns. Frees the terms. */
static char *join_terms(terms_t *t, const bool *common)
{
    /* Tokens hold only word characters (never '"'), so quoting makes each a literal string;
     * FTS5 re-tokenizes it with our tokenizer in query mode, yielding exactly that token. */
    sbuf_t q = {0};
    for (size_t i = 0; i < t->n; i++) {
        const char *sep = i ? " OR " : "";
        if (common && common[i])
            sbuf_printf(&q, "%s({path definitions} : \"%s\")", sep, t->terms[i]);
        else
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
    bool common[SEARCH_MAX_TERMS] = {false};
    int64_t bound = 0, docs;
    err_t err;
    if (store_chunk_count_bound(s, &bound, &err) == 0) {
        int64_t threshold = EC_MAX(SEARCH_COMMON_TERM_MIN, bound / 100);
        for (size_t i = 0; i < t.n; i++) {
            if (store_term_docs(s, t.terms[i], &docs, &err) != 0) break;
            common[i] = docs > threshold;
            *restricted = *restricted || common[i];
        }
    }
    return join_terms(&t, common);
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

cJSON *search_run(store_t *s, const search_req_t *req, err_t *err)
{
    if (validate(req, err) < 0) return NULL;
    build_t b = {.results = cJSON_CreateArray()};
    cJSON *root = cJSON_CreateObject();
    if (!root || !b.results || !cJSON_AddItemToObject(root, "results", b.results)) {
        cJSON_Delete(root);
        cJSON_Delete(b.results);
        err_set(err, "search: out of memory building results");
        return NULL;
    }
    bool restricted = false;
    char *fts = fts_query_fast(s, req->query, &restricted);
    int rc = 0;
    if (fts) {
        const char *prefix = normalise_prefix(req->path_prefix);
        preview_query_init(&b.pq, req->query);
        rc = store_keyword_search(s, fts, prefix, req->top_k, add_hit, &b, err);
        if (rc == 0 && restricted && cJSON_GetArraySize(b.results) == 0 && !b.oom) {
            /* Nothing among rare words, paths and definitions: run the complete query. */
            while (cJSON_GetArraySize(b.results) > 0) cJSON_DeleteItemFromArray(b.results, 0);
            free(fts);
            fts = search_fts_query(req->query);
            rc = store_keyword_search(s, fts, prefix, req->top_k, add_hit, &b, err);
        }
        if (rc < 0) err_prefix(err, "search");
        preview_query_free(&b.pq);
        free(fts);
        if (rc == 0 && b.oom) rc = err_set(err, "search: out of memory building results");
    }
    if (rc < 0) {
        cJSON_Delete(root);
        return NULL;
    }
    add_file_counts(b.results);
    if (req->mode != SEARCH_KEYWORD) cJSON_AddStringToObject(root, "note", SEARCH_NOTE_NO_SEMANTIC);
    return root;
}
