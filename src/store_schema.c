/* store_schema.c — the index schema, its version, and migrations from older versions.
 *
 * Versions (metadata key "schema_version"):
 *   1  first layout: files without `kind`, no embeddings table, and the FTS definitions
 *      column indexing the definitions string verbatim (kind labels included).
 *   2  files.kind (skipped binary / too-large files keep a row); the embeddings table; FTS
 *      definitions column indexes the names only (the FTS table is rebuilt).
 *   3  embeddings gets a seq (AUTOINCREMENT) so processes can follow new vectors, keyed by
 *      UNIQUE(model, chunk_hash) (the table is recreated, rows copied); chunk_log, filled by
 *      triggers on chunks, records every chunk addition and removal in commit order.
 *   4  the chunk_log triggers are dropped; store.c writes the log rows itself. A trigger makes
 *      every chunk INSERT/DELETE a statement transaction, and FTS5 flushes its pending terms
 *      into a new segment at every savepoint: one tiny segment per chunk, merged again and
 *      again (the keyword pass took 2.5x longer).
 * A fresh database gets the current layout directly. An older one runs each step from its
 * version up, together with the version bump, in one IMMEDIATE transaction: a crash or a
 * failure leaves the old version intact. A tokenizer change (ftstok.h) is a new version
 * whose step calls fts_rebuild(). */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define FTS_CREATE_SQL                                                                             \
    "CREATE VIRTUAL TABLE fts USING fts5(path, definitions, content, content='', "                 \
    "tokenize='embecode');"

/* Schema 3: vectors keyed by (model, hash) with an insertion order, and the chunk change log
 * written by triggers (an UPDATE of a chunk's file or hash, which store.c never does, is
 * logged as a removal plus an addition). */
#define EMBEDDINGS_V3_SQL                                                                          \
    "CREATE TABLE embeddings("                                                                     \
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"                                                     \
    "  model TEXT NOT NULL,"                                                                       \
    "  chunk_hash TEXT NOT NULL,"                                                                  \
    "  dim INTEGER NOT NULL,"                                                                      \
    "  vec BLOB NOT NULL,"                                                                         \
    "  UNIQUE (model, chunk_hash));"

#define CHUNK_LOG_INSERT "INSERT INTO chunk_log(chunk_id, file_id, hash, op) VALUES "
#define CHUNK_LOG_TABLE_SQL                                                                        \
    "CREATE TABLE chunk_log("                                                                      \
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"                                                     \
    "  chunk_id INTEGER NOT NULL,"                                                                 \
    "  file_id INTEGER NOT NULL,"                                                                  \
    "  hash TEXT NOT NULL,"                                                                        \
    "  op INTEGER NOT NULL);"
/* Schema 3's log: the table and its triggers (kept for the 2 -> 3 step; 3 -> 4 drops them). */
#define CHUNK_LOG_SQL                                                                              \
    CHUNK_LOG_TABLE_SQL                                                                            \
    "CREATE TRIGGER chunk_log_add AFTER INSERT ON chunks BEGIN " CHUNK_LOG_INSERT                  \
    "(new.id, new.file_id, new.hash, 1); END;"                                                     \
    "CREATE TRIGGER chunk_log_remove AFTER DELETE ON chunks BEGIN " CHUNK_LOG_INSERT               \
    "(old.id, old.file_id, old.hash, 0); END;"                                                     \
    "CREATE TRIGGER chunk_log_change AFTER UPDATE OF id, file_id, hash ON chunks WHEN "            \
    "old.id IS NOT new.id OR old.file_id IS NOT new.file_id OR old.hash IS NOT new.hash "          \
    "BEGIN " CHUNK_LOG_INSERT "(old.id, old.file_id, old.hash, 0); " CHUNK_LOG_INSERT              \
    "(new.id, new.file_id, new.hash, 1); END;"

static const char schema_current_sql[] =
    "CREATE TABLE metadata(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE files("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL UNIQUE,"
    "  kind INTEGER NOT NULL DEFAULT 0 CHECK (kind BETWEEN 0 AND 2),"
    "  size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  last_indexed INTEGER NOT NULL);"
    /* AUTOINCREMENT: a chunk id is never reused, so an id names one chunk forever. */
    "CREATE TABLE chunks("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  file_id INTEGER NOT NULL REFERENCES files(id),"
    "  start_line INTEGER NOT NULL CHECK (start_line >= 1),"
    "  end_line INTEGER NOT NULL CHECK (end_line >= start_line),"
    "  language TEXT NOT NULL,"
    "  definitions TEXT NOT NULL,"
    "  content TEXT NOT NULL,"
    "  hash TEXT NOT NULL);"
    "CREATE INDEX chunks_by_file ON chunks(file_id);"
    "CREATE INDEX chunks_by_hash ON chunks(hash);" EMBEDDINGS_V3_SQL CHUNK_LOG_TABLE_SQL
        FTS_CREATE_SQL;

/* Drops and recreates the FTS table and indexes every chunk again. */
static int fts_rebuild(store_t *s, err_t *err)
{
    if (store_exec(s, "DROP TABLE IF EXISTS fts;" FTS_CREATE_SQL, "recreating the FTS table", err) <
        0)
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT c.id, f.path, c.definitions, c.content FROM chunks c "
                           "JOIN files f ON f.id = c.file_id ORDER BY c.id",
                           -1, &st, NULL) != SQLITE_OK)
        return store_sql_fail(s, err, "reading chunks to rebuild the FTS index");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (store_fts_add(s, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                          (const char *)sqlite3_column_text(st, 2),
                          (const char *)sqlite3_column_text(st, 3),
                          (size_t)sqlite3_column_bytes(st, 3), err) < 0) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    if (rc != SQLITE_DONE) store_sql_fail(s, err, "reading chunks to rebuild the FTS index");
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int migrate_1_to_2(store_t *s, err_t *err)
{
    if (store_exec(s,
                   "ALTER TABLE files ADD COLUMN kind INTEGER NOT NULL DEFAULT 0 "
                   "CHECK (kind BETWEEN 0 AND 2);"
                   "CREATE TABLE embeddings(model TEXT NOT NULL, chunk_hash TEXT NOT NULL, "
                   "dim INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, chunk_hash)) "
                   "WITHOUT ROWID;",
                   "migrating schema 1 to 2", err) < 0)
        return -1;
    return fts_rebuild(s, err);
}

/* The embeddings table is recreated with a seq (rows copied in key order: the old table is
 * empty in practice), and the chunk log starts empty: readers load the current chunks once
 * and follow the log from there. Databases that started at version 1 also get the index on
 * chunks(hash) that version 2 created only for new databases. */
static int migrate_2_to_3(store_t *s, err_t *err)
{
    return store_exec(s,
                      "ALTER TABLE embeddings RENAME TO embeddings_v2;" EMBEDDINGS_V3_SQL
                      "INSERT INTO embeddings(model, chunk_hash, dim, vec) "
                      "SELECT model, chunk_hash, dim, vec FROM embeddings_v2 "
                      "ORDER BY model, chunk_hash;"
                      "DROP TABLE embeddings_v2;"
                      /* version 1 databases reached 2 without it */
                      "CREATE INDEX IF NOT EXISTS chunks_by_hash ON chunks(hash);" CHUNK_LOG_SQL,
                      "migrating schema 2 to 3", err);
}

/* The log's rows stay; from now on store.c appends them (log_add). */
static int migrate_3_to_4(store_t *s, err_t *err)
{
    return store_exec(s,
                      "DROP TRIGGER IF EXISTS chunk_log_add;"
                      "DROP TRIGGER IF EXISTS chunk_log_remove;"
                      "DROP TRIGGER IF EXISTS chunk_log_change;",
                      "migrating schema 3 to 4", err);
}

/* steps[v - 1] migrates version v to v + 1. */
static int (*const steps[])(store_t *, err_t *) = {migrate_1_to_2, migrate_2_to_3, migrate_3_to_4};
_Static_assert(sizeof steps / sizeof steps[0] == STORE_SCHEMA_VERSION - 1,
               "one migration step per older schema version");

/* Reads the schema version: 0 for an empty database; -1 with err when the file holds
 * tables but is not an embecode index, or cannot be read. */
static int read_version(store_t *s, int *version, err_t *err)
{
    sqlite3_stmt *st;
    const char *what = "reading the schema version";
    if (sqlite3_prepare_v2(s->db,
                           "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                           "AND name = 'metadata'), (SELECT count(*) FROM sqlite_master)",
                           -1, &st, NULL) != SQLITE_OK)
        return store_sql_fail(s, err, what);
    if (sqlite3_step(st) != SQLITE_ROW) {
        store_sql_fail(s, err, what);
        sqlite3_finalize(st);
        return -1;
    }
    int has_meta = sqlite3_column_int(st, 0), n_objects = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    if (!has_meta) {
        if (n_objects == 0) {
            *version = 0;
            return 0;
        }
        return err_set(err,
                       "%s is an SQLite database but not an embecode index (no metadata "
                       "table); remove it or point embecode at its cache folder",
                       s->path);
    }
    char *v = NULL;
    if (store_meta_get(s, "schema_version", &v, err) < 0) return -1;
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : 0;
    bool ok = v && end != v && *end == 0 && n >= 1 && n < 1000000;
    free(v);
    if (!ok)
        return err_set(err,
                       "index %s is damaged (missing or invalid schema_version); remove it "
                       "(embecode cache purge .) and it will be rebuilt",
                       s->path);
    *version = (int)n;
    return 0;
}

static int newer_error(store_t *s, int version, err_t *err)
{
    return err_set(err,
                   "index %s has schema version %d, newer than this embecode supports (%d); "
                   "upgrade embecode, or remove the index (embecode cache purge .)",
                   s->path, version, STORE_SCHEMA_VERSION);
}

/* Inside the IMMEDIATE transaction: creates or migrates, then records the version. */
static int upgrade_locked(store_t *s, err_t *err)
{
    int version;
    if (read_version(s, &version, err) < 0) return -1; /* another process may have done it */
    if (version > STORE_SCHEMA_VERSION) return newer_error(s, version, err);
    if (version == STORE_SCHEMA_VERSION) return 0;
    if (version == 0) {
        if (store_exec(s, schema_current_sql, "creating the schema", err) < 0) return -1;
    } else {
        for (int v = version; v < STORE_SCHEMA_VERSION; v++)
            if (steps[v - 1](s, err) < 0) return -1;
        log_info("index %s: migrated schema from version %d to %d", s->path, version,
                 STORE_SCHEMA_VERSION);
    }
    char buf[16];
    snprintf(buf, sizeof buf, "%d", STORE_SCHEMA_VERSION);
    return store_meta_set(s, "schema_version", buf, err);
}

int store_schema_ensure(store_t *s, err_t *err)
{
    int version;
    if (read_version(s, &version, err) < 0) return -1;
    if (version > STORE_SCHEMA_VERSION) return newer_error(s, version, err);
    if (s->readonly) {
        if (version == 0)
            return err_set(err,
                           "index %s is not initialised yet; the indexing process creates "
                           "it at start, retry in a moment",
                           s->path);
        if (version < STORE_SCHEMA_VERSION)
            return err_set(err,
                           "index %s has schema version %d, older than %d; the indexing "
                           "process upgrades it when it starts, retry in a moment",
                           s->path, version, STORE_SCHEMA_VERSION);
        return 0;
    }
    if (version == STORE_SCHEMA_VERSION) return 0;
    if (store_exec(s, "BEGIN IMMEDIATE", "locking the index to set up its schema", err) < 0)
        return -1;
    if (upgrade_locked(s, err) < 0) {
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return store_exec(s, "COMMIT", "committing the schema", err);
}
