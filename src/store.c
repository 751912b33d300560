/* store.c — the index connection: opening, errors, transactions, file rows, metadata,
 * counts and the keyword query; see store.h. Schema and migrations live in store_schema.c.
 *
 * Every read is one statement run to completion (or reset at once), so read transactions
 * stay short and WAL checkpoints can proceed. Every file change runs in BEGIN IMMEDIATE …
 * COMMIT, or in a SAVEPOINT inside an open batch. */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ftstok.h"
#include "hash.h"
#include "log.h"

/* bm25 column weights for (path, definitions, content): a hit in a definition name counts
 * 8x a hit in the body, a hit in the path 4x (pinned by test_store/test_search ranking
 * tests). */
#define FTS_WEIGHTS "4.0, 8.0, 1.0"

static const char *const stmt_sql[ST__COUNT] = {
    [ST_FILE_GET] = "SELECT id, size, mtime_ns, hash, last_indexed, kind FROM files "
                    "WHERE path = ?1",
    [ST_FILE_INSERT] = "INSERT INTO files(path, kind, size, mtime_ns, hash, last_indexed) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_FILE_UPDATE] = "UPDATE files SET kind = ?2, size = ?3, mtime_ns = ?4, hash = ?5, "
                       "last_indexed = ?6 WHERE id = ?1",
    [ST_FILE_TOUCH] = "UPDATE files SET size = ?2, mtime_ns = ?3, last_indexed = ?4 "
                      "WHERE path = ?1",
    [ST_FILE_DELETE] = "DELETE FROM files WHERE id = ?1",
    [ST_CHUNKS_OF] = "SELECT id, hash, definitions FROM chunks WHERE file_id = ?1",
    [ST_CHUNK_TEXT] = "SELECT definitions, content FROM chunks WHERE id = ?1",
    [ST_CHUNK_INSERT] = "INSERT INTO chunks(file_id, start_line, end_line, language, "
                        "definitions, content, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_CHUNK_MOVE] = "UPDATE chunks SET start_line = ?2, end_line = ?3, language = ?4 "
                      "WHERE id = ?1",
    [ST_CHUNK_DELETE] = "DELETE FROM chunks WHERE id = ?1",
    [ST_LOG_INSERT] = "INSERT INTO chunk_log(chunk_id, file_id, hash, op) VALUES (?1, ?2, ?3, ?4)",
    [ST_FTS_INSERT] = "INSERT INTO fts(rowid, path, definitions, content) "
                      "VALUES (?1, ?2, ?3, ?4)",
    [ST_FTS_DELETE] = "INSERT INTO fts(fts, rowid, path, definitions, content) "
                      "VALUES ('delete', ?1, ?2, ?3, ?4)",
    [ST_META_GET] = "SELECT value FROM metadata WHERE key = ?1",
    [ST_META_SET] = "INSERT INTO metadata(key, value) VALUES (?1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_PATHS] = "SELECT path FROM files ORDER BY path",
    [ST_COUNTS] = "SELECT (SELECT count(*) FROM files WHERE kind = 0), "
                  "(SELECT count(*) FROM chunks), "
                  "(SELECT count(*) FROM files WHERE kind = 1), "
                  "(SELECT count(*) FROM files WHERE kind = 2), "
                  "(SELECT coalesce(max(last_indexed), 0) FROM files), "
                  "CASE WHEN ?1 IS NULL THEN 0 ELSE (SELECT count(*) FROM chunks c WHERE EXISTS "
                  "(SELECT 1 FROM embeddings e WHERE e.model = ?1 AND e.chunk_hash = c.hash)) "
                  "END",
    /* Rank inside FTS5 first and join only the best `limit` rows: joining (and carrying
     * chunk content for) every matching row before sorting made common words slow. */
    [ST_SEARCH] = "WITH top AS (SELECT rowid AS id, bm25(fts, " FTS_WEIGHTS ") AS r FROM fts "
                  "WHERE fts MATCH ?1 ORDER BY r, rowid LIMIT ?4) "
                  "SELECT c.id, f.path, c.language, c.definitions, c.content, c.start_line, "
                  "c.end_line, top.r FROM top JOIN chunks c ON c.id = top.id "
                  "JOIN files f ON f.id = c.file_id ORDER BY top.r, c.id",
    [ST_TERM_DOCS] = "SELECT doc FROM temp.fts_vocab WHERE term = ?1",
    /* Rows holding the term in one of the name columns: a lower bound of those holding it in
     * either (FTS5 counts the rows a column-filtered phrase matches for its IDF). */
    [ST_TERM_NAME_DOCS] = "SELECT coalesce(max(doc), 0) FROM temp.fts_vocab_col WHERE term = ?1 "
                          "AND col IN ('path', 'definitions')",
    [ST_CHUNK_BOUND] = "SELECT coalesce(max(id), 0) FROM chunks",
    /* With a path prefix the filter applies before ranking (never "top k, then filter"). */
    [ST_SEARCH_PREFIX] = "WITH top AS (SELECT c.id AS id, bm25(fts, " FTS_WEIGHTS ") AS r FROM fts "
                         "JOIN chunks c ON c.id = fts.rowid JOIN files f ON f.id = c.file_id "
                         "WHERE fts MATCH ?1 AND f.path >= ?2 AND (?3 IS NULL OR f.path < ?3) "
                         "ORDER BY r, c.id LIMIT ?4) "
                         "SELECT c.id, f.path, c.language, c.definitions, c.content, c.start_line, "
                         "c.end_line, top.r FROM top JOIN chunks c ON c.id = top.id "
                         "JOIN files f ON f.id = c.file_id ORDER BY top.r, c.id",
};

/* ---- errors and statements ---- */

int store_sql_fail(store_t *s, err_t *err, const char *what)
{
    const char *msg = sqlite3_errmsg(s->db);
    switch (sqlite3_extended_errcode(s->db) & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return err_set(err,
                       "index %s: %s: the index is locked by another embecode process "
                       "(waited %d ms: %s); retry in a moment",
                       s->path, what, s->busy_ms, msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return err_set(err,
                       "index %s: %s: the file is damaged or not an SQLite database (%s); "
                       "remove it (embecode cache purge .) and it will be rebuilt",
                       s->path, what, msg);
    case SQLITE_FULL:
        return err_set(err, "index %s: %s: the disk is full (%s); free some space and retry",
                       s->path, what, msg);
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return err_set(err,
                       "index %s: %s: cannot write (%s); check the permissions of the index "
                       "file and its folder",
                       s->path, what, msg);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
        return err_set(err,
                       "index %s: %s: I/O error (%s); check that the folder exists, is "
                       "writable, and is on a local disk",
                       s->path, what, msg);
    default:
        return err_set(err, "index %s: %s: %s", s->path, what, msg);
    }
}

int store_exec(store_t *s, const char *sql, const char *what, err_t *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_sql_fail(s, err, what);
    return 0;
}

sqlite3_stmt *store_stmt(store_t *s, store_stmt_id_t id, err_t *err)
{
    if (s->st[id]) {
        sqlite3_reset(s->st[id]);
        return s->st[id];
    }
    if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL) !=
        SQLITE_OK) {
        store_sql_fail(s, err, "preparing a statement");
        return NULL;
    }
    return s->st[id];
}

/* Steps a write statement to completion and resets it; counts down fault injection. */
static int step_write(store_t *s, sqlite3_stmt *st, const char *what, err_t *err)
{
    if (s->fail_after > 0 && --s->fail_after == 0) {
        sqlite3_reset(st);
        return err_set(err, "index %s: %s: injected fault (store_debug_fail_after)", s->path, what);
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) store_sql_fail(s, err, what);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int check_writable(store_t *s, err_t *err)
{
    if (!s->readonly) return 0;
    return err_set(err, "index %s is open read-only; only the indexing process writes it", s->path);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Binds text that may be NULL as "" (our text columns are NOT NULL). */
static void bind_str(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

/* ---- open / close ---- */

static int configure_writer(store_t *s, err_t *err)
{
    sqlite3_stmt *st;
    /* 16 KiB pages: chunk rows average about 1 KiB, and 4 KiB pages left a sixth of every
     * leaf unused (index 8 % smaller, bulk indexing 6 % faster; docs/benchmarks.md). Only a
     * new, empty database takes it; an existing index keeps its page size. */
    if (store_exec(s, "PRAGMA page_size=16384", "setting the page size", err) != 0) return -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
        return store_sql_fail(s, err, "switching to WAL mode");
    int rc = sqlite3_step(st);
    char mode[16] = "";
    if (rc == SQLITE_ROW) snprintf(mode, sizeof mode, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return store_sql_fail(s, err, "switching to WAL mode");
    if (strcmp(mode, "wal") != 0)
        return err_set(err,
                       "index %s: cannot use WAL mode (journal mode is '%s'); keep the "
                       "cache folder on a local file system",
                       s->path, mode);
    /* A larger page cache keeps the FTS segments being merged in memory during bulk
     * indexing (the writer is the pipeline's serial stage). */
    if (store_exec(s, "PRAGMA cache_size=-16384", "setting the page cache", err) != 0) return -1;
    if (store_exec(s, "PRAGMA synchronous=NORMAL", "setting synchronous=NORMAL", err) != 0)
        return -1;
    /* When the WAL restarts from its beginning after a checkpoint, cut it back to 16 MiB
     * (a bulk batch can grow it to tens of MiB; SQLite never shrinks it by itself). */
    return store_exec(s, "PRAGMA journal_size_limit=16777216", "setting journal_size_limit", err);
}

store_t *store_open(const char *db_path, bool readonly, err_t *err)
{
    if (!db_path || !*db_path) {
        err_set(err, "no index path given");
        return NULL;
    }
    struct stat sb;
    if (readonly && stat(db_path, &sb) != 0) {
        err_set(err,
                "index %s does not exist yet (%s); build it with `embecode index` or "
                "start the server, which indexes in the background",
                db_path, strerror(errno));
        return NULL;
    }
    store_t *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(db_path);
    s->readonly = readonly;
    s->busy_ms = STORE_BUSY_TIMEOUT_MS;
    /* A store_t is used by one thread at a time (store.h), so SQLite's per-call connection
     * mutex is pure overhead: NOMUTEX. */
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(db_path, &s->db, flags, NULL) != SQLITE_OK) {
        if (s->db)
            store_sql_fail(s, err, "opening");
        else
            err_set(err, "index %s: cannot open: out of memory", db_path);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, s->busy_ms);
    if (ftstok_register(s->db, err) < 0) goto fail;
    if (!readonly && configure_writer(s, err) < 0) goto fail;
    if (store_schema_ensure(s, err) < 0) goto fail;
    return s;
fail:
    store_close(s);
    return NULL;
}

void store_close(store_t *s)
{
    if (!s) return;
    if (s->in_batch) store_batch_rollback(s);
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->st[i]);
    if (s->db) sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

int store_checkpoint(store_t *s, int wait_ms, err_t *err)
{
    if (s->readonly) return check_writable(s, err);
    if (s->in_batch) return err_set(err, "index %s: cannot checkpoint inside a batch", s->path);
    sqlite3_busy_timeout(s->db, wait_ms < 0 ? 0 : wait_ms);
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_busy_timeout(s->db, s->busy_ms);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return 1;
    if (rc != SQLITE_OK) return store_sql_fail(s, err, "checkpointing the WAL");
    return 0;
}

bool store_is_readonly(const store_t *s)
{
    return s->readonly;
}

void store_set_busy_timeout(store_t *s, int ms)
{
    s->busy_ms = ms < 0 ? 0 : ms;
    sqlite3_busy_timeout(s->db, s->busy_ms);
}

void store_debug_fail_after(store_t *s, int n)
{
    s->fail_after = n < 0 ? 0 : n;
}

/* ---- transactions ---- */

/* One file change: its own IMMEDIATE transaction, or part of the open batch. No savepoint
 * per file inside a batch: FTS5 flushes its pending terms into a new segment at every
 * savepoint, which made the keyword pass 20% slower (one segment per file, merged again
 * and again). A failed change inside a batch rolls the whole batch back instead. */
static int change_begin(store_t *s, err_t *err)
{
    if (check_writable(s, err) < 0) return -1;
    if (s->in_batch) return 0;
    return store_exec(s, "BEGIN IMMEDIATE", "starting a transaction", err);
}

/* Commits the change when rc == 0 (a batch commits later); otherwise undoes it: its own
 * transaction, or the whole open batch (store_batch_commit then reports the loss). */
static int change_end(store_t *s, int rc, err_t *err)
{
    if (s->in_batch) {
        if (rc == 0) return 0;
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->in_batch = false;
        s->batch_lost = true;
        err_prefix(err, "the open batch was rolled back");
        return -1;
    }
    if (rc == 0 && store_exec(s, "COMMIT", "committing", err) == 0) return 0;
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int store_batch_begin(store_t *s, err_t *err)
{
    if (check_writable(s, err) < 0) return -1;
    if (s->in_batch) return err_set(err, "index %s: a batch is already open", s->path);
    if (store_exec(s, "BEGIN IMMEDIATE", "starting a batch", err) < 0) return -1;
    s->in_batch = true;
    s->batch_lost = false;
    return 0;
}

int store_batch_commit(store_t *s, err_t *err)
{
    if (s->batch_lost) {
        s->batch_lost = false;
        return err_set(err,
                       "index %s: the batch was rolled back by an earlier error; the files "
                       "changed in it must be indexed again",
                       s->path);
    }
    if (!s->in_batch) return err_set(err, "index %s: no batch is open", s->path);
    s->in_batch = false;
    if (store_exec(s, "COMMIT", "committing a batch", err) == 0) return 0;
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

void store_batch_rollback(store_t *s)
{
    s->batch_lost = false;
    if (!s->in_batch) return;
    s->in_batch = false;
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

bool store_in_batch(const store_t *s)
{
    return s->in_batch;
}

/* ---- files ---- */

int store_file_get(store_t *s, const char *path, store_file_t *out, err_t *err)
{
    sqlite3_stmt *st = store_stmt(s, ST_FILE_GET, err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        out->size = (uint64_t)sqlite3_column_int64(st, 1);
        out->mtime_ns = sqlite3_column_int64(st, 2);
        snprintf(out->hash, sizeof out->hash, "%s", sqlite3_column_text(st, 3));
        out->last_indexed = sqlite3_column_int64(st, 4);
        out->kind = sqlite3_column_int(st, 5);
    } else if (rc != SQLITE_DONE) {
        store_sql_fail(s, err, "looking up a file");
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void store_def_names(const char *defs, sbuf_t *out)
{
    sbuf_reset(out);
    sbuf_puts(out, "");
    for (const char *p = defs ? defs : ""; *p;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        const char *name = a;
        while (name < b && *name != ' ')
            name++;
        if (name == b) name = a; /* a single word: the name itself */
        while (name < b && *name == ' ')
            name++;
        if (name < b) {
            if (out->len) sbuf_putc(out, ' ');
            sbuf_append(out, name, (size_t)(b - name));
        }
        p = *end ? end + 1 : end;
    }
}

int store_fts_add(store_t *s, int64_t chunk_id, const char *path, const char *definitions,
                  const char *content, size_t content_len, err_t *err)
{
    sqlite3_stmt *st = store_stmt(s, ST_FTS_INSERT, err);
    if (!st) return -1;
    sbuf_t names = {0};
    store_def_names(definitions, &names);
    sqlite3_bind_int64(st, 1, chunk_id);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, names.data, (int)names.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, content ? content : "", (int)content_len, SQLITE_STATIC);
    int rc = step_write(s, st, "adding a chunk to the keyword index", err);
    sbuf_free(&names);
    return rc;
}

/* Appends one row to the chunk log (op 1: chunk added, 0: removed). */
static int log_add(store_t *s, int64_t chunk_id, int64_t file_id, const char *hash, int op,
                   err_t *err)
{
    sqlite3_stmt *st = store_stmt(s, ST_LOG_INSERT, err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, chunk_id);
    sqlite3_bind_int64(st, 2, file_id);
    sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, op);
    return step_write(s, st, "logging a chunk change", err);
}

/* Removes chunk id (of the file at path, file_id; content hash `hash`), its FTS row, and
 * logs the removal. A contentless FTS5 delete must present exactly the values that were
 * indexed, so they are read back from the chunk. */
static int chunk_remove(store_t *s, const char *path, int64_t file_id, int64_t id, const char *hash,
                        err_t *err)
{
    sqlite3_stmt *text = store_stmt(s, ST_CHUNK_TEXT, err);
    if (!text) return -1;
    sqlite3_bind_int64(text, 1, id);
    if (sqlite3_step(text) != SQLITE_ROW) {
        store_sql_fail(s, err, "reading a chunk to remove it");
        sqlite3_reset(text);
        return -1;
    }
    sbuf_t names = {0};
    store_def_names((const char *)sqlite3_column_text(text, 0), &names);
    sqlite3_stmt *del = store_stmt(s, ST_FTS_DELETE, err);
    int rc = -1;
    if (del) {
        sqlite3_bind_int64(del, 1, id);
        sqlite3_bind_text(del, 2, path, -1, SQLITE_STATIC);
        sqlite3_bind_text(del, 3, names.data, (int)names.len, SQLITE_STATIC);
        sqlite3_bind_text(del, 4, (const char *)sqlite3_column_text(text, 1),
                          sqlite3_column_bytes(text, 1), SQLITE_STATIC);
        rc = step_write(s, del, "removing a chunk from the keyword index", err);
    }
    sqlite3_reset(text);
    sbuf_free(&names);
    if (rc < 0) return -1;
    sqlite3_stmt *st = store_stmt(s, ST_CHUNK_DELETE, err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    if (step_write(s, st, "removing a chunk", err) < 0) return -1;
    return log_add(s, id, file_id, hash, 0, err);
}

typedef struct {
    int64_t id;
    char hash[41];
    char *defs;
    bool keep;
} old_chunk_t;

static int old_cmp(const void *a, const void *b)
{
    const old_chunk_t *x = a, *y = b;
    int c = strcmp(x->hash, y->hash);
    return c ? c : strcmp(x->defs, y->defs);
}

static void old_free(old_chunk_t *old, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(old[i].defs);
    free(old);
}

/* Loads the file's chunks sorted by (hash, definitions). */
static int old_load(store_t *s, int64_t file_id, old_chunk_t **out, size_t *n_out, err_t *err)
{
    sqlite3_stmt *st = store_stmt(s, ST_CHUNKS_OF, err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, file_id);
    old_chunk_t *old = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) old = xrealloc(old, (cap = cap ? cap * 2 : 16) * sizeof *old);
        old[n].id = sqlite3_column_int64(st, 0);
        snprintf(old[n].hash, sizeof old[n].hash, "%s", sqlite3_column_text(st, 1));
        old[n].defs = xstrdup((const char *)sqlite3_column_text(st, 2));
        old[n].keep = false;
        n++;
    }
    if (rc != SQLITE_DONE) store_sql_fail(s, err, "reading the file's chunks");
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        old_free(old, n);
        return -1;
    }
    if (n > 1) qsort(old, n, sizeof *old, old_cmp);
    *out = old;
    *n_out = n;
    return 0;
}

/* An old chunk with this hash and definitions not yet claimed, or NULL. */
static old_chunk_t *old_claim(old_chunk_t *old, size_t n, const char *hash, const char *defs)
{
    old_chunk_t key = {.defs = (char *)defs};
    snprintf(key.hash, sizeof key.hash, "%s", hash);
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (old_cmp(&old[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && old_cmp(&old[lo], &key) == 0; lo++)
        if (!old[lo].keep) {
            old[lo].keep = true;
            return &old[lo];
        }
    return NULL;
}

static int file_row_put(store_t *s, const char *path, int kind, uint64_t size, int64_t mtime_ns,
                        const char *hash, int64_t *file_id, err_t *err)
{
    store_file_t f;
    int found = store_file_get(s, path, &f, err);
    if (found < 0) return -1;
    sqlite3_stmt *st = store_stmt(s, found ? ST_FILE_UPDATE : ST_FILE_INSERT, err);
    if (!st) return -1;
    if (found)
        sqlite3_bind_int64(st, 1, f.id);
    else
        sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, kind);
    sqlite3_bind_int64(st, 3, (int64_t)size);
    sqlite3_bind_int64(st, 4, mtime_ns);
    bind_str(st, 5, hash);
    sqlite3_bind_int64(st, 6, now_ns());
    if (step_write(s, st, "writing the file row", err) < 0) return -1;
    *file_id = found ? f.id : sqlite3_last_insert_rowid(s->db);
    return 0;
}

static int chunk_add(store_t *s, int64_t file_id, const char *path, const char *language,
                     const store_chunk_in_t *c, const char *hash, err_t *err)
{
    sqlite3_stmt *st = store_stmt(s, ST_CHUNK_INSERT, err);
    if (!st) return -1;
    const char *content = c->content ? c->content : "";
    sqlite3_bind_int64(st, 1, file_id);
    sqlite3_bind_int64(st, 2, c->start_line);
    sqlite3_bind_int64(st, 3, c->end_line);
    bind_str(st, 4, language);
    bind_str(st, 5, c->definitions);
    sqlite3_bind_text(st, 6, content, (int)c->content_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, hash, -1, SQLITE_STATIC);
    if (step_write(s, st, "adding a chunk", err) < 0) return -1;
    int64_t id = sqlite3_last_insert_rowid(s->db);
    if (log_add(s, id, file_id, hash, 1, err) < 0) return -1;
    return store_fts_add(s, id, path, c->definitions, content, c->content_len, err);
}

static int chunk_move(store_t *s, int64_t id, const char *language, const store_chunk_in_t *c,
                      err_t *err)
{
    sqlite3_stmt *st = store_stmt(s, ST_CHUNK_MOVE, err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, c->start_line);
    sqlite3_bind_int64(st, 3, c->end_line);
    bind_str(st, 4, language);
    return step_write(s, st, "updating a chunk's lines", err);
}

/* The body of store_file_replace, inside its transaction or savepoint. */
static int replace_rows(store_t *s, const char *path, const char *language, int kind, uint64_t size,
                        int64_t mtime_ns, const char *content_hash, const store_chunk_in_t *chunks,
                        size_t n, err_t *err)
{
    int64_t file_id;
    if (file_row_put(s, path, kind, size, mtime_ns, content_hash, &file_id, err) < 0) return -1;
    old_chunk_t *old = NULL;
    size_t n_old = 0;
    if (old_load(s, file_id, &old, &n_old, err) < 0) return -1;

    /* Claim unchanged chunks first so the removal pass knows which old rows to drop. */
    char(*hashes)[HASH_SHA1_HEX_LEN] = xcalloc(n ? n : 1, sizeof *hashes);
    old_chunk_t **claimed = xcalloc(n ? n : 1, sizeof *claimed);
    for (size_t i = 0; i < n; i++) {
        if (chunks[i].hash && strlen(chunks[i].hash) == HASH_SHA1_HEX_LEN - 1)
            memcpy(hashes[i], chunks[i].hash, HASH_SHA1_HEX_LEN);
        else
            hash_sha1_hex(chunks[i].content ? chunks[i].content : "", chunks[i].content_len,
                          hashes[i]);
        const char *defs = chunks[i].definitions ? chunks[i].definitions : "";
        claimed[i] = old_claim(old, n_old, hashes[i], defs);
    }
    int rc = 0;
    for (size_t j = 0; j < n_old && rc == 0; j++)
        if (!old[j].keep) rc = chunk_remove(s, path, file_id, old[j].id, old[j].hash, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (claimed[i])
            rc = chunk_move(s, claimed[i]->id, language, &chunks[i], err);
        else
            rc = chunk_add(s, file_id, path, language, &chunks[i], hashes[i], err);
    }
    free(hashes);
    free(claimed);
    old_free(old, n_old);
    return rc;
}

static int validate_replace(const char *path, int kind, const char *content_hash,
                            const store_chunk_in_t *chunks, size_t n, err_t *err)
{
    if (!path || !*path) return err_set(err, "cannot index a file without a path");
    if (kind < STORE_KIND_TEXT || kind > STORE_KIND_TOO_LARGE)
        return err_set(err, "cannot index %s: unknown file kind %d", path, kind);
    if (content_hash && strlen(content_hash) > 40)
        return err_set(err, "cannot index %s: content hash longer than 40 characters", path);
    if (n && !chunks) return err_set(err, "cannot index %s: %zu chunks but no array", path, n);
    for (size_t i = 0; i < n; i++) {
        const store_chunk_in_t *c = &chunks[i];
        if (c->start_line < 1 || c->end_line < c->start_line)
            return err_set(err,
                           "cannot index %s: chunk %zu has lines %u-%u; lines are 1-based "
                           "and start <= end",
                           path, i + 1, c->start_line, c->end_line);
        if (!c->content && c->content_len)
            return err_set(err, "cannot index %s: chunk %zu has no content", path, i + 1);
        if (c->content_len > INT32_MAX)
            return err_set(err, "cannot index %s: chunk %zu is larger than 2 GiB", path, i + 1);
    }
    return 0;
}

int store_file_replace(store_t *s, const char *path, const char *language, int kind, uint64_t size,
                       int64_t mtime_ns, const char *content_hash, const store_chunk_in_t *chunks,
                       size_t n, err_t *err)
{
    if (validate_replace(path, kind, content_hash, chunks, n, err) < 0) return -1;
    if (change_begin(s, err) < 0) return err_prefix(err, "cannot index %s", path);
    int rc = replace_rows(s, path, language, kind, size, mtime_ns, content_hash, chunks, n, err);
    rc = change_end(s, rc, err);
    if (rc < 0) err_prefix(err, "cannot index %s (its previous rows are kept)", path);
    return rc;
}

int store_file_touch(store_t *s, const char *path, uint64_t size, int64_t mtime_ns, err_t *err)
{
    if (check_writable(s, err) < 0) return -1;
    sqlite3_stmt *st = store_stmt(s, ST_FILE_TOUCH, err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)size);
    sqlite3_bind_int64(st, 3, mtime_ns);
    sqlite3_bind_int64(st, 4, now_ns());
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) store_sql_fail(s, err, "updating a file's mtime");
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return -1;
    if (sqlite3_changes(s->db) == 0)
        return err_set(err, "index %s: cannot update %s: the file is not indexed", s->path, path);
    return 0;
}

static int delete_rows(store_t *s, const char *path, err_t *err)
{
    store_file_t f;
    int found = store_file_get(s, path, &f, err);
    if (found <= 0) return found;
    old_chunk_t *old = NULL;
    size_t n_old = 0;
    if (old_load(s, f.id, &old, &n_old, err) < 0) return -1;
    int rc = 0;
    for (size_t j = 0; j < n_old && rc == 0; j++)
        rc = chunk_remove(s, path, f.id, old[j].id, old[j].hash, err);
    old_free(old, n_old);
    if (rc < 0) return -1;
    sqlite3_stmt *st = store_stmt(s, ST_FILE_DELETE, err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, f.id);
    return step_write(s, st, "removing the file row", err);
}

int store_file_delete(store_t *s, const char *path, err_t *err)
{
    if (!path || !*path) return err_set(err, "cannot remove a file without a path");
    if (change_begin(s, err) < 0) return err_prefix(err, "cannot remove %s", path);
    int rc = change_end(s, delete_rows(s, path, err), err);
    if (rc < 0) err_prefix(err, "cannot remove %s from the index (its rows are kept)", path);
    return rc;
}

int store_files_each(store_t *s, int (*cb)(void *ctx, const char *path), void *ctx, err_t *err)
{
    sqlite3_stmt *st = store_stmt(s, ST_PATHS, err);
    if (!st) return -1;
    char **paths = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) paths = xrealloc(paths, (cap = cap ? cap * 2 : 64) * sizeof *paths);
        paths[n++] = xstrdup((const char *)sqlite3_column_text(st, 0));
    }
    if (rc != SQLITE_DONE) store_sql_fail(s, err, "listing indexed files");
    sqlite3_reset(st);
    int ret = rc == SQLITE_DONE ? 0 : -1;
    for (size_t i = 0; i < n; i++) {
        if (ret == 0) ret = cb(ctx, paths[i]);
        free(paths[i]);
    }
    free(paths);
    return ret;
}

/* ---- metadata and counts ---- */

int store_meta_get(store_t *s, const char *key, char **value, err_t *err)
{
    *value = NULL;
    sqlite3_stmt *st = store_stmt(s, ST_META_GET, err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *value = xstrdup((const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_DONE)
        store_sql_fail(s, err, "reading metadata");
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int store_meta_set(store_t *s, const char *key, const char *value, err_t *err)
{
    if (check_writable(s, err) < 0) return -1;
    sqlite3_stmt *st = store_stmt(s, ST_META_SET, err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    bind_str(st, 2, value);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) store_sql_fail(s, err, "writing metadata");
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_counts(store_t *s, const char *model, store_counts_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = store_stmt(s, ST_COUNTS, err);
    if (!st) return -1;
    if (model)
        sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->files = sqlite3_column_int64(st, 0);
        out->chunks = sqlite3_column_int64(st, 1);
        out->skipped_binary = sqlite3_column_int64(st, 2);
        out->skipped_too_large = sqlite3_column_int64(st, 3);
        out->last_indexed_max = sqlite3_column_int64(st, 4);
        out->embedded_chunks = sqlite3_column_int64(st, 5);
    } else {
        store_sql_fail(s, err, "counting files and chunks");
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* ---- keyword search ---- */

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

int store_keyword_search(store_t *s, const char *fts_query, const char *path_prefix, int limit,
                         int (*cb)(void *ctx, const store_hit_t *hit), void *ctx, err_t *err)
{
    if (limit <= 0) return 0;
    bool filtered = path_prefix && *path_prefix;
    sqlite3_stmt *st = store_stmt(s, filtered ? ST_SEARCH_PREFIX : ST_SEARCH, err);
    if (!st) return -1;
    char *upper = filtered ? prefix_upper_bound(path_prefix) : NULL;
    sqlite3_bind_text(st, 1, fts_query, -1, SQLITE_STATIC);
    if (filtered) {
        sqlite3_bind_text(st, 2, path_prefix, -1, SQLITE_STATIC);
        if (upper)
            sqlite3_bind_text(st, 3, upper, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 3);
    }
    sqlite3_bind_int(st, 4, limit);
    int rc = SQLITE_DONE, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_hit_t hit = {
            .chunk_id = sqlite3_column_int64(st, 0),
            .path = (const char *)sqlite3_column_text(st, 1),
            .language = (const char *)sqlite3_column_text(st, 2),
            .definitions = (const char *)sqlite3_column_text(st, 3),
            .content = (const char *)sqlite3_column_text(st, 4),
            .content_len = (size_t)sqlite3_column_bytes(st, 4),
            .start_line = (uint32_t)sqlite3_column_int64(st, 5),
            .end_line = (uint32_t)sqlite3_column_int64(st, 6),
            .bm25 = sqlite3_column_double(st, 7),
        };
        stop = cb(ctx, &hit);
    }
    int ok = stop || rc == SQLITE_DONE;
    if (!ok) store_sql_fail(s, err, "running the keyword query");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    free(upper);
    return ok ? 0 : -1;
}

static int vocab_ready(store_t *s, err_t *err)
{
    if (s->vocab_ready) return 0;
    /* Temp tables: work on read-only connections and leave the file untouched. */
    if (store_exec(s,
                   "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_vocab USING "
                   "fts5vocab(main, fts, row);"
                   "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_vocab_col USING "
                   "fts5vocab(main, fts, col)",
                   "creating the vocabulary view", err) != 0)
        return -1;
    s->vocab_ready = true;
    return 0;
}

/* Runs a one-value vocabulary query (ST_TERM_*) for term into *n (0 when absent). */
static int term_count(store_t *s, store_stmt_id_t id, const char *term, int64_t *n, err_t *err)
{
    *n = 0;
    if (vocab_ready(s, err) != 0) return -1;
    sqlite3_stmt *st = store_stmt(s, id, err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, term, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sql_fail(s, err, "reading term statistics");
    return 0;
}

int store_term_docs(store_t *s, const char *term, int64_t *docs, err_t *err)
{
    return term_count(s, ST_TERM_DOCS, term, docs, err);
}

int store_term_name_docs(store_t *s, const char *term, int64_t *docs, err_t *err)
{
    return term_count(s, ST_TERM_NAME_DOCS, term, docs, err);
}

int store_chunk_count_bound(store_t *s, int64_t *n, err_t *err)
{
    *n = 0;
    sqlite3_stmt *st = store_stmt(s, ST_CHUNK_BOUND, err);
    if (!st) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) return store_sql_fail(s, err, "counting chunks");
    return 0;
}
