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
 *   embeddings (seq, model, chunk_hash, dim, vec): vectors keyed by model name and chunk
 *              content hash, so moved or unchanged chunks, and branch switches, never
 *              re-embed. Rows are never deleted by file replacement. See "vectors" below.
 *   chunk_log  every chunk addition and removal, in commit order (see "vectors" below).
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

#define STORE_SCHEMA_VERSION 4
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
 * refuses a newer schema; sets journal_mode=WAL, synchronous=NORMAL, a 16 MiB WAL size limit
 * and, for a new file, 16 KiB pages.
 * Both: busy_timeout STORE_BUSY_TIMEOUT_MS; registers the FTS5 tokenizer.
 * Returns NULL with err on failure. Free with store_close(). */
store_t *store_open(const char *db_path, bool readonly, err_t *err);
/* Closes the connection; an open batch is rolled back. NULL is a no-op. */
void store_close(store_t *s);
bool store_is_readonly(const store_t *s);
/* Changes how long a statement waits for another connection's lock (ms, >= 0). */
void store_set_busy_timeout(store_t *s, int ms);
/* Copies the WAL into the database file and truncates the WAL to zero bytes, so an index at
 * rest takes no more disk than its database. Waits up to wait_ms for other connections'
 * readers and writers. Returns 0 when done, 1 when they kept it busy (the WAL stays as it
 * is; nothing is lost), -1 with err when read-only, inside a batch or on an I/O error. */
int store_checkpoint(store_t *s, int wait_ms, err_t *err);

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
    const char *hash; /* SHA-1 hex of content when the caller has it (saves the
                         writer the work), or NULL: computed here */
} store_chunk_in_t;

/* Replaces everything stored for path (file row, chunks, FTS rows) by the given file
 * metadata and chunks, atomically: in its own transaction, or as part of an open batch.
 * Arguments are validated before anything is written (an invalid call changes nothing and
 * leaves the batch usable). A write failure outside a batch leaves the file's previous rows
 * exactly as they were; inside a batch it rolls the whole batch back (every change since
 * store_batch_begin is undone, store_batch_commit reports the loss, and the caller indexes
 * those files again), so no file is ever half written. The chunk SHA-1 is computed here
 * when not given. Chunks whose content and
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
 * visible to readers at once. Each file change inside is still all-or-nothing: a failed
 * one rolls back the whole batch. Readers keep
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
/* A lower bound of the number of chunks holding `term` in the path or definitions column
 * (the larger of the two columns' counts; a slower lookup than store_term_docs).
 * 0 / -1 with err. */
int store_term_name_docs(store_t *s, const char *term, int64_t *docs, err_t *err);
int store_chunk_count_bound(store_t *s, int64_t *n, err_t *err);

/* ---- testing ---- */

/* Fault injection for atomicity tests: the n-th row write (n >= 1) from now inside
 * store_file_replace/store_file_delete fails as if the disk had failed. 0 disables. */
void store_debug_fail_after(store_t *s, int n);

/* ==== vectors (store_vec.c) ==========================================================
 *
 * Schema 3 added two tables (schema 4: the log is written by store.c, not by triggers):
 *   embeddings(seq, model, chunk_hash, dim, vec)  one vector per (model, chunk content hash);
 *       vec is dim little-endian float32. seq (AUTOINCREMENT) orders insertions, so a process
 *       can follow new vectors with store_vec_since().
 *   chunk_log(seq, chunk_id, file_id, hash, op)   one row per added (op 1) or removed
 *       (op 0) chunk, in commit order, written in the same transaction as the chunk row. A
 *       chunk's id, file_id and hash never change while it exists (store_file_replace keeps
 *       a row only when its hash and definitions are unchanged; only its lines and language
 *       are updated). The owner prunes old rows with
 *       store_log_prune().
 * Because seqs are assigned inside the single writer's transaction, commit order equals seq
 * order: a reader that has applied every row up to seq X never misses a later row.
 *
 * Threads, processes and errors as for the rest of store.h. Functions taking a callback
 * call it inside a read statement unless noted: the pointers it receives are valid only
 * during the call, and it must not use the same store_t. It returns nonzero to stop, and
 * that value is returned. */

/* One chunk to embed: the first chunk (lowest id after the cursor) of a content hash that
 * has no vector for the model. The text to embed is built from path, language, definitions
 * and content (content_len bytes, not NUL-terminated). */
typedef struct {
    int64_t chunk_id;
    const char *hash, *path, *language, *definitions, *content;
    size_t content_len;
} store_embed_todo_t;

/* Calls cb for up to limit chunks with chunk_id > *cursor whose hash has no vector for
 * model, in chunk-id order, one per distinct hash among those, and sets *cursor to the last
 * chunk id passed to cb (also when cb returned nonzero for it: a cb that stops should do so
 * after taking the row). A pass starts with *cursor = 0 and calls again until it returns
 * with *cursor unchanged (nothing left); each call costs time proportional to the chunks it
 * steps over, so a whole pass is linear even when some texts fail to embed: the cursor
 * moves past them (the next pass retries them). Store a batch's vectors before the next
 * call, or its hashes come back when another chunk shares them. 0 / cb's nonzero value /
 * -1 with err. */
int store_vec_todo(store_t *s, const char *model, int64_t *cursor, int limit,
                   int (*cb)(void *ctx, const store_embed_todo_t *t), void *ctx, err_t *err);

/* Stores the vector of chunk_hash (40 lowercase hex digits) for model, unless one exists
 * (INSERT OR IGNORE: the same model and text always give the same vector). dim 1..65536;
 * every value must be finite and the vector non-zero. Runs inside the caller's batch when
 * one is open, else as its own transaction. Fails on a read-only store. */
int store_vec_put(store_t *s, const char *model, const char *chunk_hash, int dim, const float *vec,
                  err_t *err);

/* Reads the vector of chunk_hash for model into out (dim floats). Returns 1 when found, 0
 * when absent, -1 with err on a read error or when the stored vector has another size. */
int store_vec_get(store_t *s, const char *model, const char *chunk_hash, float *out, int dim,
                  err_t *err);

/* Reads the vectors of n hashes in one prepared statement (for rescoring search
 * candidates): cb(ctx, i, vec, dim) for each hashes[i] that has a vector (vec is aligned,
 * valid during the call), in index order; absent ones are skipped. */
int store_vec_get_many(store_t *s, const char *model, const char *const *hashes, size_t n,
                       int (*cb)(void *ctx, size_t i, const float *vec, int dim), void *ctx,
                       err_t *err);

/* Chunks (not hashes) whose hash has a vector for model, and all chunks; one snapshot. */
int store_vec_count(store_t *s, const char *model, int64_t *chunks_with_vec, int64_t *chunks_total,
                    err_t *err);

/* Deletes the vectors of every model but keep_model (after a model change, once the new
 * model's vectors are complete, or at once: vector spaces are never mixed by readers, who
 * always ask for one model). Inside the open batch or as its own transaction. */
int store_vec_drop_other_models(store_t *s, const char *keep_model, err_t *err);

/* Vectors of model with seq > after_seq, in seq order: cb(ctx, seq, hash, vec, dim), vec
 * aligned and valid during the call. Rows whose blob is not dim floats are skipped with a
 * warning. */
int store_vec_since(store_t *s, const char *model, int64_t after_seq,
                    int (*cb)(void *ctx, int64_t seq, const char *hash, const float *vec, int dim),
                    void *ctx, err_t *err);

/* ---- following chunk changes ---- */

/* A number that differs from the previous call's on this store_t whenever a transaction was
 * committed since, by another connection (PRAGMA data_version) or by this one. Cheap: use
 * it to skip work when nothing changed. */
int store_data_version(store_t *s, int64_t *v, err_t *err);
/* The highest chunk_log seq ever assigned (0 when none). */
int store_log_max_seq(store_t *s, int64_t *seq, err_t *err);
/* The lowest seq that has not been pruned: every log row with seq >= *seq is still there
 * (1 when nothing was ever pruned). */
int store_log_min_seq(store_t *s, int64_t *seq, err_t *err);

/* Log rows with seq > after_seq in seq order: cb(ctx, seq, chunk_id, file_id, hash, op) with
 * op 1 = added, 0 = removed. Sets *pruned and calls nothing when rows after after_seq have
 * been pruned (the caller must reload from store_chunks_all); the check and the read are one
 * snapshot. */
int store_chunk_log_since(store_t *s, int64_t after_seq, bool *pruned,
                          int (*cb)(void *ctx, int64_t seq, int64_t chunk_id, int64_t file_id,
                                    const char *hash, int op),
                          void *ctx, err_t *err);

/* Every chunk (id, file_id, hash), in id order, for a first load; *log_seq receives the
 * chunk_log position of the same snapshot (apply store_chunk_log_since(*log_seq) next). */
int store_chunks_all(store_t *s, int64_t *log_seq,
                     int (*cb)(void *ctx, int64_t chunk_id, int64_t file_id, const char *hash),
                     void *ctx, err_t *err);

/* Ids of the files whose path starts with prefix (byte-wise, like store_keyword_search; NULL
 * or "" = every file), in path order. */
int store_files_with_prefix(store_t *s, const char *prefix, int (*cb)(void *ctx, int64_t file_id),
                            void *ctx, err_t *err);

/* Deletes log rows, keeping the newest keep_last (>= 0), and records how far it pruned (so
 * readers behind that point reload). Inside the open batch or as its own transaction; the
 * owner calls it after an indexing pass. */
int store_log_prune(store_t *s, int64_t keep_last, err_t *err);

/* Chunk rows for result building, in the order of ids; ids no longer present are skipped.
 * hit.bm25 = 0. cb's strings are valid during the call. */
int store_chunks_get(store_t *s, const int64_t *ids, size_t n,
                     int (*cb)(void *ctx, const store_hit_t *hit), void *ctx, err_t *err);

#endif
