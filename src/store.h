/* store.h — the project's index: one SQLite database file in WAL mode (DESIGN §3 "Storage").
 *
 * Tables (schema version STORE_SCHEMA_VERSION; see store_schema.c for the SQL):
 *   files      one row per discovered file: path (project-relative, unique), kind, size,
 *              mtime_ns, content hash, last_indexed. Skipped files (binary, too large) keep a
 *              row so catch-up does not re-read them.
 *   chunks     the file's chunks: lines (1-based, inclusive), language, definitions
 *              ("function search, class Searcher"), content, SHA-1 of content (hex).
 *   fts        FTS5 keyword index (contentless) over (path, definitions names, content),
 *              tokenized by ftstok.h; rowid = chunks.id.
 *   metadata   key/value strings: schema_version, embedding model (STORE_META_MODEL), ...
 *   embeddings (model, chunk_hash, dim, vec): vectors keyed by model name and chunk content
 *              hash, so moved or unchanged chunks, and branch switches, never re-embed. Filled
 *              by the embedding pass (a later issue); rows are never deleted by file
 *              replacement — a garbage-collection pass drops hashes no chunk uses.
 *
 * Processes: one writer process (the owner) and any number of readers on the same file.
 * Readers open read-only and see each committed transaction as soon as it lands; every read
 * function here runs as one short read transaction. Writers wait up to the busy timeout
 * (STORE_BUSY_TIMEOUT_MS) for a lock and then fail with an error saying the index is busy.
 *
 * Threads: a store_t is one SQLite connection. Use it from one thread at a time (callers
 * serialise; different threads may each open their own store_t on the same file).
 *
 * Errors: functions returning int return 0 (or the documented value) on success and -1 on
 * failure with err filled (what failed, which index file, what to do). Write functions on a
 * read-only store fail. */
#ifndef EMBECODE_STORE_H
#define EMBECODE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define STORE_SCHEMA_VERSION 2
#define STORE_BUSY_TIMEOUT_MS 5000
/* metadata key holding the embedding model name the vectors were made with. */
#define STORE_META_MODEL "embedding_model"

enum { STORE_KIND_TEXT = 0, STORE_KIND_BINARY = 1, STORE_KIND_TOO_LARGE = 2 };

typedef struct store store_t;

/* Opens the index at db_path (its parent directory must exist).
 * readonly: opens without creating or migrating; fails with a clear message when the file
 * does not exist, is not an embecode index, is not initialised yet, or has a schema version
 * other than ours (older: the owner process upgrades it; newer: upgrade embecode).
 * read-write: creates the file and schema, or migrates an older schema, in one transaction;
 * refuses a newer schema; sets journal_mode=WAL and synchronous=NORMAL.
 * Both: busy_timeout STORE_BUSY_TIMEOUT_MS; registers the FTS5 tokenizer.
 * Returns NULL with err on failure. Free with store_close(). */
store_t *store_open(const char *db_path, bool readonly, err_t *err);
/* Closes the connection; an open batch is rolled back. NULL is a no-op. */
void store_close(store_t *s);
bool store_is_readonly(const store_t *s);
/* Changes how long a statement waits for another connection's lock (ms, >= 0). */
void store_set_busy_timeout(store_t *s, int ms);

/* ---- files ---- */

typedef struct {
    int64_t id;
    uint64_t size;
    int64_t mtime_ns;
    char hash[41];        /* content hash as given to store_file_replace ("" when none) */
    int64_t last_indexed; /* Unix time in nanoseconds of the last replace/touch */
    int kind;             /* STORE_KIND_* */
} store_file_t;

/* Looks up path. Returns 1 and fills *out when indexed, 0 when absent, -1 on error. */
int store_file_get(store_t *s, const char *path, store_file_t *out, err_t *err);

typedef struct {
    uint32_t start_line, end_line; /* 1-based, inclusive, start <= end */
    const char *definitions;       /* may be NULL or "" */
    const char *content;           /* content_len bytes, need not be NUL-terminated */
    size_t content_len;
} store_chunk_in_t;

/* Replaces everything stored for path (file row, chunks, FTS rows) by the given file
 * metadata and chunks, atomically: in its own transaction, or as one savepoint inside an
 * open batch — on any failure the file's previous rows are left exactly as they were (and
 * the batch stays usable). The chunk SHA-1 is computed here. Chunks whose content and
 * definitions are unchanged keep their row (id) and FTS entry; only their lines and
 * language are updated. language and content_hash may be NULL (stored as ""); hash is at
 * most 40 characters. kind is STORE_KIND_*; skipped files pass n = 0. last_indexed = now.
 * The caller's strings are not retained. */
int store_file_replace(store_t *s, const char *path, const char *language, int kind, uint64_t size,
                       int64_t mtime_ns, const char *content_hash, const store_chunk_in_t *chunks,
                       size_t n, err_t *err);
/* Content unchanged: updates size, mtime and last_indexed only. Fails when path is not
 * indexed. */
int store_file_touch(store_t *s, const char *path, uint64_t size, int64_t mtime_ns, err_t *err);
/* Removes path with its chunks and FTS rows (atomically, like replace). Deleting a path that
 * is not indexed succeeds. */
int store_file_delete(store_t *s, const char *path, err_t *err);
/* Calls cb for every file row's path in byte order (for the deletion pass). The paths are
 * read first in one short read transaction, so cb may call any store function, including
 * writes. cb returns nonzero to stop; that value is returned. -1 on a read error. */
int store_files_each(store_t *s, int (*cb)(void *ctx, const char *path), void *ctx, err_t *err);

/* Groups writes (file replaces, deletes, touches, metadata) into one transaction for speed:
 * begin takes the write lock (waiting up to the busy timeout), commit makes everything
 * visible to readers at once. Each file change inside is still all-or-nothing. Readers keep
 * seeing the last committed state meanwhile. Batches do not nest. */
int store_batch_begin(store_t *s, err_t *err);
int store_batch_commit(store_t *s, err_t *err);
/* Discards the open batch (no-op when none). */
void store_batch_rollback(store_t *s);
bool store_in_batch(const store_t *s);

/* ---- metadata ---- */

/* *value: malloc'd copy, or NULL when the key is absent. */
int store_meta_get(store_t *s, const char *key, char **value, err_t *err);
int store_meta_set(store_t *s, const char *key, const char *value, err_t *err);

/* ---- status ---- */

typedef struct {
    int64_t files; /* text files indexed (kind TEXT) */
    int64_t chunks;
    int64_t skipped_binary;    /* file rows of kind BINARY */
    int64_t skipped_too_large; /* file rows of kind TOO_LARGE */
    int64_t embedded_chunks;   /* chunks with a vector for `model` (0 when model is NULL) */
    int64_t last_indexed_max;  /* newest last_indexed (Unix ns), 0 when empty */
} store_counts_t;
/* One consistent snapshot of the counts. */
int store_counts(store_t *s, const char *model, store_counts_t *out, err_t *err);

/* ---- keyword search ---- */

typedef struct {
    int64_t chunk_id;
    const char *path, *language, *definitions;
    const char *content;
    size_t content_len;
    uint32_t start_line, end_line;
    double bm25; /* FTS5 bm25() with our column weights: negative, lower is better */
} store_hit_t;

/* Runs FTS5 query fts_query (already in FTS5 syntax — search.c builds it from user text)
 * restricted to paths starting with path_prefix (NULL or "" = all; compared byte-wise, so
 * % _ * ? [ are literal), best first (ties by chunk id), at most limit hits. The prefix
 * filter applies before ranking and the limit. cb is called per hit inside the read
 * transaction (keep it quick); the hit's strings are valid only during the call. cb returns
 * nonzero to stop. Returns 0, or -1 with err (an FTS5 syntax error in fts_query is an
 * error). */
int store_keyword_search(store_t *s, const char *fts_query, const char *path_prefix, int limit,
                         int (*cb)(void *ctx, const store_hit_t *hit), void *ctx, err_t *err);

/* Number of chunks whose FTS row holds `term` (an exact token as the tokenizer emits it),
 * and an upper bound of the number of chunks (for relative thresholds). Used by search to
 * keep very common words from dominating query cost. 0 / -1 with err. */
int store_term_docs(store_t *s, const char *term, int64_t *docs, err_t *err);
int store_chunk_count_bound(store_t *s, int64_t *n, err_t *err);

/* ---- testing ---- */

/* Fault injection for atomicity tests: the n-th row write (n >= 1) from now inside
 * store_file_replace/store_file_delete fails as if the disk had failed. 0 disables. */
void store_debug_fail_after(store_t *s, int n);

#endif
