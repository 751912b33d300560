/* t_sqlite.h — helpers for tests that look at an index file with plain SQLite, beside the
 * store API: a fresh database path, a raw connection with our tokenizer, one text value. */
#ifndef EMBECODE_T_SQLITE_H
#define EMBECODE_T_SQLITE_H

#include "ftstok.h"
#include "t.h"
#include "util.h"

#include <sqlite3.h>

/* A new database path under the test's temp dir: <prefix><n>.db. Caller frees. */
static inline char *t_db_path(const char *prefix)
{
    static int seq;
    char name[64];
    snprintf(name, sizeof name, "%s%d.db", prefix, ++seq);
    return path_join(t_tmpdir(), name);
}

/* A plain SQLite connection to the same file, with our tokenizer registered. */
static inline sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    err_t err;
    sqlite3_open(path, &db);
    ftstok_register(db, &err);
    return db;
}

/* The first column of the first row of sql as a malloc'd string (or an explanation). */
static inline char *raw_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return xasprintf("prepare error: %s", sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        out = xstrdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0)
                                                 : "(null)");
    else
        out = xasprintf("no row: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return out;
}

#endif
