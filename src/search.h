/* search.h — search_code: runs a query against the index and builds the result object of
 * DESIGN §2, shared by the MCP tool and `embecode search --json` so both print the same.
 *
 * Keyword search: the query text is split by the index tokenizer (ftstok.h) into words and
 * identifier parts, each searched as a plain FTS5 string, OR-ed, ranked by BM25 with
 * definition names and paths weighing more than body text. Any text is accepted: quotes,
 * operators (* - ^ : ( ) NEAR AND OR NOT) are never interpreted, so no query is a syntax
 * error; a query without any word returns no results.
 *
 * Until embeddings exist, semantic and hybrid modes return keyword results with a note.
 *
 * Thread safety: as the store_t used (one thread at a time per store). */
#ifndef EMBECODE_SEARCH_H
#define EMBECODE_SEARCH_H

#include <cjson/cJSON.h>

#include "store.h"

#define SEARCH_TOP_K_MAX 100
/* Distinct search terms used from one query (words and parts, in query order). */
#define SEARCH_MAX_TERMS 64
#define SEARCH_NOTE_NO_SEMANTIC                                                                    \
    "Semantic search is not available yet (no embeddings); showing keyword results."

typedef enum { SEARCH_HYBRID, SEARCH_SEMANTIC, SEARCH_KEYWORD } search_mode_t;

/* "hybrid" | "semantic" | "keyword" (exact, lowercase). Returns 0, or -1 when unknown. */
int search_mode_parse(const char *s, search_mode_t *out);
const char *search_mode_name(search_mode_t mode);

typedef struct {
    const char *query;
    search_mode_t mode;
    int top_k;               /* 1..SEARCH_TOP_K_MAX */
    const char *path_prefix; /* NULL or "" = whole project; leading "./" is ignored */
} search_req_t;

/* Runs the search and returns (caller frees with cJSON_Delete):
 *   {"results": [{"file_path", "language", "start_line", "end_line", "definitions",
 *                 "preview", "score", "match_lines"?, "file_result_count"?}, ...],
 *    "note"?: "..."}
 * in that key order, best result first. score = -bm25 rounded to 4 decimals (higher is
 * better). match_lines and file_result_count follow preview.h and DESIGN §2 (present only
 * when non-empty / when more than one result shares the file). All strings are valid UTF-8.
 * Returns NULL with err when the request is invalid (empty query, top_k out of range,
 * unknown mode) or the index cannot be read. */
cJSON *search_run(store_t *s, const search_req_t *req, err_t *err);

/* Each list of a hybrid search is this many times top_k deep before fusion. */
#define SEARCH_FUSION_DEPTH 5

typedef struct {
    double embedding_ms, vector_ms, keyword_ms, fusion_ms, total_ms;
} search_timing_t;

struct vecidx;
/* The semantic arm, when the caller has one. */
typedef struct {
    struct vecidx *vecidx;   /* the in-memory vectors of the active model, synced; NULL: none */
    const float *query_vec;  /* the query embedded with that model; NULL: none */
    double embedding_ms;     /* time the caller spent embedding the query (for timings) */
    const char *unavailable; /* the note given when semantic/hybrid falls back to keyword */
    bool include_timings;    /* add "timings": {embedding_ms, vector_ms, keyword_ms,
                                fusion_ms, total_ms} to the result */
    search_timing_t *timing; /* out, may be NULL */
} search_semantic_t;

/* search_run with a semantic arm. semantic: exact top-k by cosine among chunks in the path
 * prefix, score = cosine (4 decimals). hybrid: Reciprocal Rank Fusion (k = 60) of the
 * keyword and semantic lists, each SEARCH_FUSION_DEPTH × top_k deep and drawn from the same
 * prefix-filtered set; score = the fused score (6 decimals). Without vectors (sem NULL, or
 * no vecidx/query_vec) semantic and hybrid return keyword results with a note
 * (sem->unavailable, or SEARCH_NOTE_NO_SEMANTIC). */
cJSON *search_run_ex(store_t *s, const search_req_t *req, const search_semantic_t *sem,
                     err_t *err);

/* The FTS5 MATCH expression for user text: its distinct tokens (ftstok_split with parts,
 * at most SEARCH_MAX_TERMS) each as a quoted string, joined by " OR ", e.g.
 * "getUserName x" -> "getusername" OR "get" OR "user" OR "name" OR "x".
 * Returns a malloc'd string, or NULL when text has no word at all. */
char *search_fts_query(const char *text);

#endif
