/* store_vec.c — vectors keyed by (model, chunk hash), the chunk change log, and the reads a
 * process needs to keep an in-memory copy of the vectors current (vecidx.h); see the
 * "vectors" section of store.h.
 *
 * Statements here are prepared per call (one prepare per call, reused for every row it
 * handles): store_int.h's statement cache belongs to store.c. Reads that must agree with
 * each other (a log position and the rows it covers) run in one read transaction, opened
 * here unless the connection already is in one. */
#include "store_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define VEC_DIM_MAX 65536
/* metadata key: chunk_log rows with seq <= this value have been pruned. */
#define META_LOG_PRUNED "chunk_log_pruned_through"

/* ---- helpers ---- */

static sqlite3_stmt *prep(store_t *s, const char *sql, const char *what, err_t *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_sql_fail(s, err, what);
        return NULL;
    }
    return st;
}

/* Opens a read transaction unless one (or a write transaction) is already open. *owned
 * tells read_end whether to close it. */
static int read_begin(store_t *s, bool *owned, err_t *err)
{
    *owned = false;
    if (!sqlite3_get_autocommit(s->db)) return 0;
    if (store_exec(s, "BEGIN", "starting a read", err) < 0) return -1;
    *owned = true;
    return 0;
}

static void read_end(store_t *s, bool owned)
{
    if (owned && !sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

/* A write of its own: a transaction, or a savepoint inside the caller's batch. */
static int write_begin(store_t *s, err_t *err)
{
    if (store_is_readonly(s))
        return err_set(err, "index %s is open read-only; only the indexing process writes it",
                       s->path);
    return store_exec(s, store_in_batch(s) ? "SAVEPOINT vec_change" : "BEGIN IMMEDIATE",
                      "starting a transaction", err);
}

/* After a failed write inside a batch: when SQLite rolled the whole transaction back (I/O
 * error, disk full), the batch is gone; store_batch_commit reports it (as store.c does). */
static void note_lost_batch(store_t *s, err_t *err)
{
    if (s->in_batch && sqlite3_get_autocommit(s->db)) {
        s->in_batch = false;
        s->batch_lost = true;
        err_prefix(err, "the open batch was rolled back");
    }
}

static int write_end(store_t *s, int rc, err_t *err)
{
    bool batch = store_in_batch(s);
    if (rc == 0 && store_exec(s, batch ? "RELEASE vec_change" : "COMMIT", "committing", err) == 0)
        return 0;
    if (sqlite3_get_autocommit(s->db))
        note_lost_batch(s, err);
    else
        sqlite3_exec(s->db, batch ? "ROLLBACK TO vec_change; RELEASE vec_change" : "ROLLBACK", NULL,
                     NULL, NULL);
    return -1;
}

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap32(void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++, b += 4) {
        uint8_t t = b[0];
        b[0] = b[3];
        b[3] = t;
        t = b[1];
        b[1] = b[2];
        b[2] = t;
    }
}

/* Copies a stored little-endian float32 blob into out (dim floats). */
static void blob_to_floats(const void *blob, int dim, float *out)
{
    memcpy(out, blob, (size_t)dim * sizeof(float));
    if (!host_is_little_endian()) swap32(out, (size_t)dim);
}

static bool is_hash_hex(const char *h)
{
    if (!h) return false;
    size_t i = 0;
    for (; h[i]; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return false;
    return i == 40;
}

static int check_model(store_t *s, const char *model, err_t *err)
{
    if (model && *model) return 0;
    return err_set(err, "index %s: no embedding model name given", s->path);
}

/* Growable float buffer for row callbacks (blob pointers may be unaligned). */
typedef struct {
    float *v;
    int cap;
} fbuf_t;

static float *fbuf_get(fbuf_t *b, int dim)
{
    if (dim > b->cap) {
        b->v = xrealloc(b->v, (size_t)dim * sizeof(float));
        b->cap = dim;
    }
    return b->v;
}

/* ---- embedding work ---- */

int store_vec_todo(store_t *s, const char *model, int64_t *cursor, int limit,
                   int (*cb)(void *ctx, const store_embed_todo_t *t), void *ctx, err_t *err)
{
    if (check_model(s, model, err) < 0) return -1;
    if (limit <= 0) return 0;
    /* A chunk qualifies when its hash has no vector and it is the first chunk of that hash
     * after the cursor (so each hash comes once per call, and once per pass). */
    sqlite3_stmt *st =
        prep(s,
             "SELECT c.id, c.hash, f.path, c.language, c.definitions, c.content "
             "FROM chunks c JOIN files f ON f.id = c.file_id "
             "WHERE c.id > ?1 AND NOT EXISTS (SELECT 1 FROM embeddings e "
             "WHERE e.model = ?2 AND e.chunk_hash = c.hash) "
             "AND c.id = (SELECT min(c2.id) FROM chunks c2 WHERE c2.hash = c.hash AND c2.id > ?1) "
             "ORDER BY c.id LIMIT ?3",
             "listing chunks to embed", err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, *cursor);
    sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, limit);
    int rc = SQLITE_DONE, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_embed_todo_t t = {
            .chunk_id = sqlite3_column_int64(st, 0),
            .hash = (const char *)sqlite3_column_text(st, 1),
            .path = (const char *)sqlite3_column_text(st, 2),
            .language = (const char *)sqlite3_column_text(st, 3),
            .definitions = (const char *)sqlite3_column_text(st, 4),
            .content = (const char *)sqlite3_column_text(st, 5),
            .content_len = (size_t)sqlite3_column_bytes(st, 5),
        };
        *cursor = t.chunk_id;
        stop = cb(ctx, &t);
    }
    int ret = stop                ? stop
              : rc == SQLITE_DONE ? 0
                                  : store_sql_fail(s, err, "listing chunks to embed");
    sqlite3_finalize(st);
    return ret;
}

static int check_vec(store_t *s, const char *hash, int dim, const float *vec, err_t *err)
{
    if (!is_hash_hex(hash))
        return err_set(err,
                       "index %s: cannot store a vector for chunk hash '%s': expected 40 "
                       "lowercase hex digits (a SHA-1 as stored in chunks.hash)",
                       s->path, hash ? hash : "(null)");
    if (dim < 1 || dim > VEC_DIM_MAX || !vec)
        return err_set(err, "index %s: cannot store a vector of dimension %d (expected 1..%d)",
                       s->path, dim, VEC_DIM_MAX);
    double sq = 0;
    for (int i = 0; i < dim; i++) {
        if (!isfinite(vec[i]))
            return err_set(err,
                           "index %s: the vector for chunk %s has a non-finite value at "
                           "position %d; the embedding engine produced a bad result",
                           s->path, hash, i);
        sq += (double)vec[i] * vec[i];
    }
    if (sq == 0)
        return err_set(err, "index %s: the vector for chunk %s is all zeros; not stored", s->path,
                       hash);
    return 0;
}

int store_vec_put(store_t *s, const char *model, const char *chunk_hash, int dim, const float *vec,
                  err_t *err)
{
    if (check_model(s, model, err) < 0 || check_vec(s, chunk_hash, dim, vec, err) < 0) return -1;
    if (store_is_readonly(s))
        return err_set(err, "index %s is open read-only; only the indexing process writes it",
                       s->path);
    sqlite3_stmt *st = prep(s,
                            "INSERT OR IGNORE INTO embeddings(model, chunk_hash, dim, vec) "
                            "VALUES (?1, ?2, ?3, ?4)",
                            "storing a vector", err);
    if (!st) return -1;
    float *le = NULL;
    const void *blob = vec;
    if (!host_is_little_endian()) {
        le = xmalloc((size_t)dim * sizeof(float));
        memcpy(le, vec, (size_t)dim * sizeof(float));
        swap32(le, (size_t)dim);
        blob = le;
    }
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, chunk_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, dim);
    sqlite3_bind_blob(st, 4, blob, dim * (int)sizeof(float), SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : store_sql_fail(s, err, "storing a vector");
    sqlite3_finalize(st);
    free(le);
    if (ret < 0) note_lost_batch(s, err);
    return ret;
}

#define SQL_VEC_GET "SELECT dim, vec FROM embeddings WHERE model = ?1 AND chunk_hash = ?2"

/* Steps st (SQL_VEC_GET, bound) and copies a well-formed vector into *buf. 1 found, 0
 * absent, -1 on error; *got_dim is the stored dimension. */
static int vec_row(store_t *s, sqlite3_stmt *st, const char *hash, fbuf_t *buf, int *got_dim,
                   err_t *err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return store_sql_fail(s, err, "reading a vector");
    int dim = sqlite3_column_int(st, 0);
    int bytes = sqlite3_column_bytes(st, 1);
    if (dim < 1 || dim > VEC_DIM_MAX || bytes != dim * (int)sizeof(float))
        return err_set(err,
                       "index %s: the stored vector of chunk %s is damaged (dim %d, %d bytes); "
                       "remove the index (embecode cache purge .) to rebuild it",
                       s->path, hash, dim, bytes);
    blob_to_floats(sqlite3_column_blob(st, 1), dim, fbuf_get(buf, dim));
    *got_dim = dim;
    return 1;
}

int store_vec_get(store_t *s, const char *model, const char *chunk_hash, float *out, int dim,
                  err_t *err)
{
    if (check_model(s, model, err) < 0) return -1;
    sqlite3_stmt *st = prep(s, SQL_VEC_GET, "reading a vector", err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, chunk_hash ? chunk_hash : "", -1, SQLITE_STATIC);
    fbuf_t buf = {0};
    int got = 0;
    int rc = vec_row(s, st, chunk_hash, &buf, &got, err);
    if (rc == 1 && got != dim)
        rc = err_set(err, "index %s: the vector of chunk %s for %s has %d dimensions, not %d",
                     s->path, chunk_hash, model, got, dim);
    if (rc == 1) memcpy(out, buf.v, (size_t)dim * sizeof(float));
    sqlite3_finalize(st);
    free(buf.v);
    return rc;
}

int store_vec_get_many(store_t *s, const char *model, const char *const *hashes, size_t n,
                       int (*cb)(void *ctx, size_t i, const float *vec, int dim), void *ctx,
                       err_t *err)
{
    if (check_model(s, model, err) < 0) return -1;
    if (n == 0) return 0;
    sqlite3_stmt *st = prep(s, SQL_VEC_GET, "reading vectors", err);
    if (!st) return -1;
    bool owned;
    if (read_begin(s, &owned, err) < 0) {
        sqlite3_finalize(st);
        return -1;
    }
    fbuf_t buf = {0};
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, hashes[i], -1, SQLITE_STATIC);
        int dim = 0;
        int rc = vec_row(s, st, hashes[i], &buf, &dim, err);
        if (rc < 0)
            ret = -1;
        else if (rc == 1)
            ret = cb(ctx, i, buf.v, dim);
    }
    sqlite3_finalize(st);
    read_end(s, owned);
    free(buf.v);
    return ret;
}

int store_vec_count(store_t *s, const char *model, int64_t *chunks_with_vec, int64_t *chunks_total,
                    err_t *err)
{
    *chunks_with_vec = *chunks_total = 0;
    if (check_model(s, model, err) < 0) return -1;
    sqlite3_stmt *st =
        prep(s,
             "SELECT (SELECT count(*) FROM chunks c WHERE EXISTS (SELECT 1 FROM embeddings e "
             "WHERE e.model = ?1 AND e.chunk_hash = c.hash)), (SELECT count(*) FROM chunks)",
             "counting embedded chunks", err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *chunks_with_vec = sqlite3_column_int64(st, 0);
        *chunks_total = sqlite3_column_int64(st, 1);
    }
    int ret = rc == SQLITE_ROW ? 0 : store_sql_fail(s, err, "counting embedded chunks");
    sqlite3_finalize(st);
    return ret;
}

int store_vec_drop_other_models(store_t *s, const char *keep_model, err_t *err)
{
    if (check_model(s, keep_model, err) < 0) return -1;
    if (write_begin(s, err) < 0) return -1;
    sqlite3_stmt *st =
        prep(s, "DELETE FROM embeddings WHERE model <> ?1", "dropping other models' vectors", err);
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, keep_model, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE
                 ? 0
                 : store_sql_fail(s, err, "dropping other models' vectors");
        sqlite3_finalize(st);
    }
    return write_end(s, rc, err);
}

int store_vec_since(store_t *s, const char *model, int64_t after_seq,
                    int (*cb)(void *ctx, int64_t seq, const char *hash, const float *vec, int dim),
                    void *ctx, err_t *err)
{
    if (check_model(s, model, err) < 0) return -1;
    sqlite3_stmt *st = prep(s,
                            /* +model: walk seq (the rowid) from after_seq, not the
                             * model's whole index range */
                            "SELECT seq, chunk_hash, dim, vec FROM embeddings "
                            "WHERE seq > ?1 AND +model = ?2 ORDER BY seq",
                            "reading new vectors", err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    fbuf_t buf = {0};
    int rc = SQLITE_DONE, stop = 0;
    int64_t bad = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int dim = sqlite3_column_int(st, 2);
        if (dim < 1 || dim > VEC_DIM_MAX ||
            sqlite3_column_bytes(st, 3) != dim * (int)sizeof(float)) {
            bad++;
            continue;
        }
        blob_to_floats(sqlite3_column_blob(st, 3), dim, fbuf_get(&buf, dim));
        stop = cb(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1), buf.v,
                  dim);
    }
    int ret = stop ? stop : rc == SQLITE_DONE ? 0 : store_sql_fail(s, err, "reading new vectors");
    sqlite3_finalize(st);
    free(buf.v);
    if (bad)
        log_warn("index %s: skipped %lld damaged vectors of %s (blob size does not match dim)",
                 s->path, (long long)bad, model);
    return ret;
}

/* ---- following chunk changes ---- */

/* Runs a one-row, one-integer query; *out = 0 when it returns NULL or no row. */
static int query_int(store_t *s, const char *sql, const char *what, int64_t *out, err_t *err)
{
    *out = 0;
    sqlite3_stmt *st = prep(s, sql, what, err);
    if (!st) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    int ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sql_fail(s, err, what);
    sqlite3_finalize(st);
    return ret;
}

int store_data_version(store_t *s, int64_t *v, err_t *err)
{
    int64_t dv;
    if (query_int(s, "PRAGMA data_version", "checking for changes", &dv, err) < 0) return -1;
    /* data_version only moves for other connections' commits; total_changes covers ours.
     * Both only grow, so their sum changes whenever either does. */
    *v = dv + (int64_t)sqlite3_total_changes64(s->db);
    return 0;
}

int store_log_max_seq(store_t *s, int64_t *seq, err_t *err)
{
    return query_int(s, "SELECT seq FROM sqlite_sequence WHERE name = 'chunk_log'",
                     "reading the chunk log position", seq, err);
}

int store_log_min_seq(store_t *s, int64_t *seq, err_t *err)
{
    int64_t pruned;
    if (query_int(s,
                  "SELECT CAST(value AS INTEGER) FROM metadata WHERE key = '" META_LOG_PRUNED "'",
                  "reading the chunk log start", &pruned, err) < 0)
        return -1;
    *seq = pruned + 1;
    return 0;
}

int store_chunk_log_since(store_t *s, int64_t after_seq, bool *pruned,
                          int (*cb)(void *ctx, int64_t seq, int64_t chunk_id, int64_t file_id,
                                    const char *hash, int op),
                          void *ctx, err_t *err)
{
    *pruned = false;
    bool owned;
    if (read_begin(s, &owned, err) < 0) return -1;
    int64_t min;
    int ret = store_log_min_seq(s, &min, err);
    if (ret == 0 && after_seq + 1 < min) {
        *pruned = true;
        read_end(s, owned);
        return 0;
    }
    sqlite3_stmt *st = ret < 0 ? NULL
                               : prep(s,
                                      "SELECT seq, chunk_id, file_id, hash, op FROM chunk_log "
                                      "WHERE seq > ?1 ORDER BY seq",
                                      "reading the chunk log", err);
    if (st) {
        sqlite3_bind_int64(st, 1, after_seq);
        int rc = SQLITE_DONE, stop = 0;
        while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
            stop = cb(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                      sqlite3_column_int64(st, 2), (const char *)sqlite3_column_text(st, 3),
                      sqlite3_column_int(st, 4));
        ret = stop ? stop : rc == SQLITE_DONE ? 0 : store_sql_fail(s, err, "reading the chunk log");
        sqlite3_finalize(st);
    } else {
        ret = -1;
    }
    read_end(s, owned);
    return ret;
}

int store_chunks_all(store_t *s, int64_t *log_seq,
                     int (*cb)(void *ctx, int64_t chunk_id, int64_t file_id, const char *hash),
                     void *ctx, err_t *err)
{
    bool owned;
    if (read_begin(s, &owned, err) < 0) return -1;
    int ret = store_log_max_seq(s, log_seq, err);
    sqlite3_stmt *st = ret < 0 ? NULL
                               : prep(s, "SELECT id, file_id, hash FROM chunks ORDER BY id",
                                      "reading all chunks", err);
    if (st) {
        int rc = SQLITE_DONE, stop = 0;
        while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
            stop = cb(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                      (const char *)sqlite3_column_text(st, 2));
        ret = stop ? stop : rc == SQLITE_DONE ? 0 : store_sql_fail(s, err, "reading all chunks");
        sqlite3_finalize(st);
    } else {
        ret = -1;
    }
    read_end(s, owned);
    return ret;
}

/* The smallest string greater than every string starting with prefix (byte order), or NULL
 * when there is none (prefix of all 0xFF bytes). Malloc'd. */
static char *prefix_upper_bound(const char *prefix)
{
    size_t n = strlen(prefix);
    while (n > 0 && (unsigned char)prefix[n - 1] == 0xFF)
        n--;
    if (n == 0) return NULL;
    char *up = xstrndup(prefix, n);
    up[n - 1] = (char)((unsigned char)up[n - 1] + 1);
    return up;
}

int store_files_with_prefix(store_t *s, const char *prefix, int (*cb)(void *ctx, int64_t file_id),
                            void *ctx, err_t *err)
{
    if (!prefix) prefix = "";
    char *upper = *prefix ? prefix_upper_bound(prefix) : NULL;
    /* Two forms, so the planner always walks the path index between the bounds. */
    sqlite3_stmt *st = prep(s,
                            upper ? "SELECT id FROM files WHERE path >= ?1 AND path < ?2"
                                  : "SELECT id FROM files WHERE path >= ?1",
                            "listing files under a path prefix", err);
    if (!st) {
        free(upper);
        return -1;
    }
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    if (upper) sqlite3_bind_text(st, 2, upper, -1, SQLITE_STATIC);
    int rc = SQLITE_DONE, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
        stop = cb(ctx, sqlite3_column_int64(st, 0));
    int ret = stop                ? stop
              : rc == SQLITE_DONE ? 0
                                  : store_sql_fail(s, err, "listing files under a path prefix");
    sqlite3_finalize(st);
    free(upper);
    return ret;
}

static int prune_rows(store_t *s, int64_t keep_last, err_t *err)
{
    int64_t max, min;
    if (store_log_max_seq(s, &max, err) < 0 || store_log_min_seq(s, &min, err) < 0) return -1;
    int64_t cut = max - keep_last; /* rows with seq <= cut go */
    if (cut < min) return 0;
    sqlite3_stmt *st =
        prep(s, "DELETE FROM chunk_log WHERE seq <= ?1", "pruning the chunk log", err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, cut);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_sql_fail(s, err, "pruning the chunk log");
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)cut);
    return store_meta_set(s, META_LOG_PRUNED, buf, err);
}

int store_log_prune(store_t *s, int64_t keep_last, err_t *err)
{
    if (keep_last < 0)
        return err_set(err, "index %s: cannot keep %lld chunk log rows", s->path,
                       (long long)keep_last);
    if (write_begin(s, err) < 0) return -1;
    return write_end(s, prune_rows(s, keep_last, err), err);
}

int store_chunks_get(store_t *s, const int64_t *ids, size_t n,
                     int (*cb)(void *ctx, const store_hit_t *hit), void *ctx, err_t *err)
{
    if (n == 0) return 0;
    sqlite3_stmt *st = prep(s,
                            "SELECT c.id, f.path, c.language, c.definitions, c.content, "
                            "c.start_line, c.end_line FROM chunks c "
                            "JOIN files f ON f.id = c.file_id WHERE c.id = ?1",
                            "reading result chunks", err);
    if (!st) return -1;
    bool owned;
    if (read_begin(s, &owned, err) < 0) {
        sqlite3_finalize(st);
        return -1;
    }
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, ids[i]);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) continue;
        if (rc != SQLITE_ROW) {
            ret = store_sql_fail(s, err, "reading result chunks");
            break;
        }
        store_hit_t hit = {
            .chunk_id = sqlite3_column_int64(st, 0),
            .path = (const char *)sqlite3_column_text(st, 1),
            .language = (const char *)sqlite3_column_text(st, 2),
            .definitions = (const char *)sqlite3_column_text(st, 3),
            .content = (const char *)sqlite3_column_text(st, 4),
            .content_len = (size_t)sqlite3_column_bytes(st, 4),
            .start_line = (uint32_t)sqlite3_column_int64(st, 5),
            .end_line = (uint32_t)sqlite3_column_int64(st, 6),
            .bm25 = 0,
        };
        ret = cb(ctx, &hit);
    }
    sqlite3_finalize(st);
    read_end(s, owned);
    return ret;
}
