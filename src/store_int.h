/* store_int.h — internals shared by store.c and store_schema.c; not part of the public API
 * (include store.h instead). */
#ifndef EMBECODE_STORE_INT_H
#define EMBECODE_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

/* Cached prepared statements (store.c prepares each on first use). */
typedef enum {
    ST_FILE_GET,
    ST_FILE_INSERT,
    ST_FILE_UPDATE,
    ST_FILE_TOUCH,
    ST_FILE_DELETE,
    ST_CHUNKS_OF,
    ST_CHUNK_TEXT,
    ST_CHUNK_INSERT,
    ST_CHUNK_MOVE,
    ST_CHUNK_DELETE,
    ST_LOG_INSERT,
    ST_FTS_INSERT,
    ST_FTS_DELETE,
    ST_META_GET,
    ST_META_SET,
    ST_PATHS,
    ST_COUNTS,
    ST_SEARCH,
    ST_SEARCH_PREFIX,
    ST_TERM_DOCS,
    ST_TERM_NAME_DOCS,
    ST_CHUNK_BOUND,
    ST__COUNT
} store_stmt_id_t;

struct store {
    sqlite3 *db;
    char *path;
    bool readonly;
    bool in_batch;
    bool batch_lost; /* an error rolled the open batch back; batch_commit reports it */
    int busy_ms;
    int fail_after;   /* fault injection countdown; 0 = off */
    bool vocab_ready; /* temp.fts_vocab created on this connection */
    sqlite3_stmt *st[ST__COUNT];
};

/* Fills err from the connection's last error: "index <path>: <what>: <sqlite message>" plus
 * advice for busy, damaged, full and read-only conditions. Returns -1. */
int store_sql_fail(store_t *s, err_t *err, const char *what);
/* Runs SQL without results; -1 with err (prefixed by what) on failure. */
int store_exec(store_t *s, const char *sql, const char *what, err_t *err);
/* The prepared statement for id (prepared on first use), reset and ready to bind; NULL with
 * err on failure. */
sqlite3_stmt *store_stmt(store_t *s, store_stmt_id_t id, err_t *err);
/* Adds a chunk's FTS row (rowid = chunk id). definitions are the stored string; only the
 * names are indexed (store_def_names). */
int store_fts_add(store_t *s, int64_t chunk_id, const char *path, const char *definitions,
                  const char *content, size_t content_len, err_t *err);
/* The text indexed for a definitions string: the names without their kind labels —
 * "function search_code, class Searcher" -> "search_code Searcher". Deterministic: FTS
 * deletes must present exactly the indexed text. */
void store_def_names(const char *definitions, sbuf_t *out);

/* Brings the schema to STORE_SCHEMA_VERSION (read-write) or checks that it is there
 * (read-only). Called by store_open after the connection is configured. */
int store_schema_ensure(store_t *s, err_t *err);

#endif
