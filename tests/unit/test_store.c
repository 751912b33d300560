#include "t.h"
#include "t_sqlite.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ftstok.h"
#include "hash.h"
#include "store.h"
#include "store_int.h"

/* Replaces path with one chunk per body (lines 10*i+1 .. 10*i+5). defs may be NULL. */
static int put(store_t *s, const char *path, const char *const *bodies, const char *const *defs,
               size_t n, err_t *err)
{
    store_chunk_in_t c[16];
    for (size_t i = 0; i < n; i++) {
        c[i] = (store_chunk_in_t){.start_line = (uint32_t)(10 * i + 1),
                                  .end_line = (uint32_t)(10 * i + 5),
                                  .definitions = defs ? defs[i] : NULL,
                                  .content = bodies[i],
                                  .content_len = strlen(bodies[i])};
    }
    return store_file_replace(s, path, "python", STORE_KIND_TEXT, 100, 42, "h1", c, n, err);
}

static int put1(store_t *s, const char *path, const char *body, err_t *err)
{
    return put(s, path, &body, NULL, 1, err);
}

typedef struct {
    int n;
    int64_t ids[32];
    char paths[32][64];
} hits_t;

static int collect_hit(void *ctx, const store_hit_t *h)
{
    hits_t *r = ctx;
    if (r->n < 32) {
        r->ids[r->n] = h->chunk_id;
        snprintf(r->paths[r->n], sizeof r->paths[0], "%s", h->path);
    }
    r->n++;
    return 0;
}

/* Hits for a single FTS term. */
static hits_t find(store_t *s, const char *term, const char *prefix)
{
    hits_t r = {0};
    char q[128];
    err_t err;
    snprintf(q, sizeof q, "\"%s\"", term);
    if (store_keyword_search(s, q, prefix, 100, collect_hit, &r, &err) < 0) {
        fprintf(stderr, "search failed: %s\n", err.msg);
        r.n = -1;
    }
    return r;
}

/* Terms present in the FTS index (fts5vocab), space-separated in order. */
static char *fts_terms(const char *path)
{
    sqlite3 *db = raw_open(path);
    sqlite3_exec(db, "CREATE VIRTUAL TABLE temp.v USING fts5vocab('main', 'fts', 'row')", NULL,
                 NULL, NULL);
    char *s = raw_text(db, "SELECT coalesce(group_concat(term, ' '), '') FROM "
                           "(SELECT term FROM temp.v ORDER BY term)");
    sqlite3_close(db);
    return s;
}

static bool fts_ok(const char *path)
{
    sqlite3 *db = raw_open(path);
    int rc = sqlite3_exec(db, "INSERT INTO fts(fts) VALUES('integrity-check')", NULL, NULL, NULL);
    char *ic = raw_text(db, "PRAGMA integrity_check");
    bool ok = rc == SQLITE_OK && strcmp(ic, "ok") == 0;
    if (!ok) fprintf(stderr, "integrity: rc=%d %s / %s\n", rc, sqlite3_errmsg(db), ic);
    free(ic);
    sqlite3_close(db);
    return ok;
}

/* ---- schema ---- */

static void test_open_creates_schema_in_wal_mode(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    T_CHECK(s != NULL);
    if (!s) return;
    char *v = NULL;
    T_EQ_INT(store_meta_get(s, "schema_version", &v, &err), 0);
    T_EQ_STR(v, "4");
    free(v);
    store_close(s);

    sqlite3 *db = raw_open(path);
    char *mode = raw_text(db, "PRAGMA journal_mode");
    T_EQ_STR(mode, "wal");
    char *tables = raw_text(db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM "
                                "sqlite_master WHERE type = 'table' AND name NOT LIKE 'fts_%' "
                                "AND name NOT LIKE 'sqlite%' ORDER BY name)");
    T_EQ_STR(tables, "chunk_log chunks embeddings files fts metadata");
    free(mode);
    free(tables);
    sqlite3_close(db);

    /* Reopening an up-to-date index changes nothing. */
    s = store_open(path, false, &err);
    T_CHECK(s != NULL);
    store_close(s);
    free(path);
}

static void test_readonly_open_of_missing_file_fails_clearly(void)
{
    err_t err = {{0}};
    char *path = path_join(t_tmpdir(), "nope/missing.db");
    store_t *s = store_open(path, true, &err);
    T_CHECK(s == NULL);
    T_CHECK(strstr(err.msg, "does not exist") != NULL);
    T_CHECK(strstr(err.msg, path) != NULL);
    /* and read-write open in a missing folder fails clearly too */
    s = store_open(path, false, &err);
    T_CHECK(s == NULL);
    T_CHECK(strstr(err.msg, "folder exists") != NULL);
    free(path);
}

static void test_readonly_store_refuses_writes(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *w = store_open(path, false, &err);
    T_EQ_INT(put1(w, "a.py", "alpha", &err), 0);
    store_t *r = store_open(path, true, &err);
    T_CHECK(r != NULL);
    if (!r) return;
    T_CHECK(store_is_readonly(r));
    T_EQ_INT(find(r, "alpha", NULL).n, 1);
    T_CHECK(put1(r, "b.py", "beta", &err) < 0);
    T_CHECK(strstr(err.msg, "read-only") != NULL);
    T_CHECK(store_meta_set(r, "k", "v", &err) < 0);
    T_CHECK(store_file_delete(r, "a.py", &err) < 0);
    T_CHECK(store_batch_begin(r, &err) < 0);
    store_close(r);
    store_close(w);
    free(path);
}

static void test_readonly_open_of_uninitialised_file_fails(void)
{
    err_t err;
    char *path = t_db_path("idx");
    T_EQ_INT(file_write_atomic(path, "", 0, &err), 0);
    store_t *s = store_open(path, true, &err);
    T_CHECK(s == NULL);
    T_CHECK(strstr(err.msg, "not initialised") != NULL);
    free(path);
}

/* The version-1 layout, written by hand as an old embecode would have left it. */
static void make_v1_db(const char *path)
{
    sqlite3 *db = raw_open(path);
    char *msg = NULL;
    sqlite3_exec(db,
                 "CREATE TABLE metadata(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
                 "CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
                 " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL,"
                 " last_indexed INTEGER NOT NULL);"
                 "CREATE TABLE chunks(id INTEGER PRIMARY KEY AUTOINCREMENT,"
                 " file_id INTEGER NOT NULL REFERENCES files(id),"
                 " start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,"
                 " language TEXT NOT NULL, definitions TEXT NOT NULL, content TEXT NOT NULL,"
                 " hash TEXT NOT NULL);"
                 "CREATE INDEX chunks_by_file ON chunks(file_id);"
                 "CREATE VIRTUAL TABLE fts USING fts5(path, definitions, content, content='',"
                 " tokenize='embecode');"
                 "INSERT INTO metadata VALUES('schema_version', '1');"
                 "INSERT INTO metadata VALUES('embedding_model', 'bge-small');"
                 "INSERT INTO files VALUES(1, 'src/app.py', 20, 7, 'fh', 9);"
                 "INSERT INTO chunks VALUES(5, 1, 1, 2, 'python', 'function load_config',"
                 " 'def load_config(): pass', 'ch');"
                 "INSERT INTO fts(rowid, path, definitions, content) VALUES(5, 'src/app.py',"
                 " 'function load_config', 'def load_config(): pass');",
                 NULL, NULL, &msg);
    if (msg) fprintf(stderr, "make_v1_db: %s\n", msg);
    sqlite3_free(msg);
    sqlite3_close(db);
}

static void test_migrates_version_1_database(void)
{
    err_t err;
    char *path = t_db_path("idx");
    make_v1_db(path);

    /* A reader cannot migrate: it says to wait for the owner. */
    store_t *r = store_open(path, true, &err);
    T_CHECK(r == NULL);
    T_CHECK(strstr(err.msg, "older") != NULL);

    store_t *s = store_open(path, false, &err);
    T_CHECK(s != NULL);
    if (!s) return;
    char *v = NULL;
    store_meta_get(s, "schema_version", &v, &err);
    T_EQ_STR(v, "4");
    free(v);
    store_meta_get(s, STORE_META_MODEL, &v, &err);
    T_EQ_STR(v, "bge-small");
    free(v);
    store_file_t f;
    T_EQ_INT(store_file_get(s, "src/app.py", &f, &err), 1);
    T_EQ_INT(f.kind, STORE_KIND_TEXT);
    T_EQ_INT(f.size, 20);
    T_EQ_STR(f.hash, "fh");
    /* FTS rebuilt: the definition name is found, its label no longer indexed. */
    T_EQ_INT(find(s, "load_config", NULL).n, 1);
    T_EQ_INT(find(s, "function", NULL).n, 0);
    /* The migrated table works with the rest of the store. */
    T_EQ_INT(put1(s, "src/app.py", "def save_config(): pass", &err), 0);
    T_EQ_INT(find(s, "load_config", NULL).n, 0);
    T_EQ_INT(find(s, "save", NULL).n, 1);
    store_counts_t c;
    T_EQ_INT(store_counts(s, "bge-small", &c, &err), 0);
    T_EQ_INT(c.embedded_chunks, 0);
    store_close(s);
    T_CHECK(fts_ok(path));

    r = store_open(path, true, &err);
    T_CHECK(r != NULL);
    store_close(r);
    free(path);
}

static void test_newer_schema_is_refused(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    T_EQ_INT(store_meta_set(s, "schema_version", "99", &err), 0);
    store_close(s);
    s = store_open(path, false, &err);
    T_CHECK(s == NULL);
    T_CHECK(strstr(err.msg, "newer") != NULL && strstr(err.msg, "99") != NULL);
    s = store_open(path, true, &err);
    T_CHECK(s == NULL);
    T_CHECK(strstr(err.msg, "newer") != NULL);
    free(path);
}

static void test_foreign_files_are_refused(void)
{
    err_t err;
    char *path = t_db_path("idx");
    sqlite3 *db = raw_open(path);
    sqlite3_exec(db, "CREATE TABLE notes(x)", NULL, NULL, NULL);
    sqlite3_close(db);
    store_t *s = store_open(path, false, &err);
    T_CHECK(s == NULL);
    T_CHECK(strstr(err.msg, "not an embecode index") != NULL);
    free(path);

    path = t_db_path("idx");
    const char junk[] = "this is not a database, just text that is long enough to matter....."
                        "...............................................................";
    T_EQ_INT(file_write_atomic(path, junk, sizeof junk, &err), 0);
    s = store_open(path, false, &err);
    T_CHECK(s == NULL);
    T_CHECK(strstr(err.msg, "damaged or not an SQLite database") != NULL);
    s = store_open(path, true, &err);
    T_CHECK(s == NULL);
    T_CHECK(strstr(err.msg, "damaged") != NULL);
    free(path);
}

/* ---- files ---- */

static void test_replace_stores_file_and_chunks(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    store_chunk_in_t c[2] = {
        {1, 3, "function getUserName", "def getUserName(self):\n    return self.name\n", 44, NULL},
        {5, 9, NULL, "MAX_RETRY_COUNT = 3", 19, NULL},
    };
    T_EQ_INT(store_file_replace(s, "src/users.py", "python", STORE_KIND_TEXT, 1234,
                                1700000000123456789LL, "abcdef", c, 2, &err),
             0);
    store_file_t f;
    T_EQ_INT(store_file_get(s, "src/users.py", &f, &err), 1);
    T_EQ_INT(f.size, 1234);
    T_EQ_INT(f.mtime_ns, 1700000000123456789LL);
    T_EQ_STR(f.hash, "abcdef");
    T_EQ_INT(f.kind, STORE_KIND_TEXT);
    T_CHECK(f.last_indexed > 1700000000000000000LL);
    T_EQ_INT(store_file_get(s, "src/other.py", &f, &err), 0);

    T_EQ_INT(find(s, "user", NULL).n, 1);
    T_EQ_INT(find(s, "retry", NULL).n, 1);
    T_EQ_INT(find(s, "users", NULL).n, 2); /* from the path column */
    T_EQ_INT(find(s, "function", NULL).n, 0);

    /* chunk hash = SHA-1 of the content */
    sqlite3 *db = raw_open(path);
    char *h = raw_text(db, "SELECT hash FROM chunks WHERE start_line = 5");
    T_EQ_STR(h, "8f7028984211799fe562e9e605136e5970e27659");
    free(h);
    sqlite3_close(db);
    store_close(s);
    free(path);
}

static void test_unchanged_chunks_keep_their_identity(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    const char *v1[] = {"alpha one", "bravo two", "charlie three"};
    const char *d1[] = {"function alpha", "", "class Charlie"};
    T_EQ_INT(put(s, "m.py", v1, d1, 3, &err), 0);
    int64_t bravo = find(s, "bravo", NULL).ids[0];
    int64_t charlie = find(s, "charlie", NULL).ids[0];

    /* bravo moves first, charlie keeps content but its definitions change, alpha goes. */
    const char *v2[] = {"bravo two", "delta four", "charlie three"};
    const char *d2[] = {"", "", "class Charles"};
    T_EQ_INT(put(s, "m.py", v2, d2, 3, &err), 0);
    hits_t h = find(s, "bravo", NULL);
    T_EQ_INT(h.n, 1);
    T_EQ_INT(h.ids[0], bravo);
    T_EQ_INT(find(s, "alpha", NULL).n, 0);
    T_EQ_INT(find(s, "delta", NULL).n, 1);
    h = find(s, "charles", NULL);
    T_EQ_INT(h.n, 1);
    T_CHECK(h.ids[0] != charlie);

    sqlite3 *db = raw_open(path);
    char *lines = raw_text(db, "SELECT start_line || '-' || end_line FROM chunks WHERE "
                               "content = 'bravo two'");
    T_EQ_STR(lines, "1-5");
    free(lines);
    sqlite3_close(db);
    /* No stale terms: deletes presented exactly the indexed values. */
    char *terms = fts_terms(path);
    T_EQ_STR(terms, "bravo charles charlie delta four m py three two");
    free(terms);
    T_CHECK(fts_ok(path));
    store_close(s);
    free(path);
}

static void test_duplicate_chunks_are_matched_one_to_one(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    const char *v1[] = {"same body", "same body"};
    T_EQ_INT(put(s, "d.py", v1, NULL, 2, &err), 0);
    const char *v2[] = {"same body", "same body", "same body"};
    T_EQ_INT(put(s, "d.py", v2, NULL, 3, &err), 0);
    T_EQ_INT(find(s, "same", NULL).n, 3);
    T_EQ_INT(put(s, "d.py", v1, NULL, 1, &err), 0);
    T_EQ_INT(find(s, "same", NULL).n, 1);
    T_CHECK(fts_ok(path));
    store_close(s);
    free(path);
}

/* Fail at every write of a replace in turn: each time the old rows must survive intact. */
static void test_replace_is_atomic_under_injected_faults(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    const char *old[] = {"keep one", "oldword two", "oldword three"};
    T_EQ_INT(put(s, "f.py", old, NULL, 3, &err), 0);
    const char *neu[] = {"keep one", "newword two", "newword three", "newword four"};
    int failures = 0, n;
    for (n = 1; n < 100; n++) {
        store_debug_fail_after(s, n);
        int rc = put(s, "f.py", neu, NULL, 4, &err);
        store_debug_fail_after(s, 0);
        if (rc == 0) break;
        failures++;
        T_CHECK(strstr(err.msg, "injected fault") != NULL);
        T_CHECK(strstr(err.msg, "previous rows are kept") != NULL);
        T_EQ_INT(find(s, "oldword", NULL).n, 2);
        T_EQ_INT(find(s, "newword", NULL).n, 0);
        T_EQ_INT(find(s, "keep", NULL).n, 1);
    }
    T_CHECK(failures >= 5); /* file row, 2 removals x2, 3 inserts x2, 1 move */
    T_EQ_INT(find(s, "newword", NULL).n, 3);
    T_EQ_INT(find(s, "oldword", NULL).n, 0);
    T_CHECK(fts_ok(path));

    /* Inside a batch a failure rolls the whole batch back: the failed file keeps its rows,
     * the batch's other files are undone too, and the commit reports it. */
    T_EQ_INT(store_batch_begin(s, &err), 0);
    T_EQ_INT(put1(s, "g.py", "goodfile", &err), 0);
    store_debug_fail_after(s, 3);
    T_CHECK(put(s, "f.py", old, NULL, 3, &err) < 0);
    store_debug_fail_after(s, 0);
    T_CHECK(strstr(err.msg, "batch was rolled back") != NULL);
    T_CHECK(!store_in_batch(s));
    T_CHECK(store_batch_commit(s, &err) < 0);
    T_CHECK(strstr(err.msg, "index again") != NULL || strstr(err.msg, "indexed again") != NULL);
    T_EQ_INT(find(s, "goodfile", NULL).n, 0);
    T_EQ_INT(find(s, "newword", NULL).n, 3);
    T_EQ_INT(find(s, "oldword", NULL).n, 0);
    T_CHECK(fts_ok(path));
    /* The store is usable again: a new batch commits. */
    T_EQ_INT(store_batch_begin(s, &err), 0);
    T_EQ_INT(put1(s, "g.py", "goodfile", &err), 0);
    T_EQ_INT(put1(s, "h.py", "otherfile", &err), 0);
    T_EQ_INT(store_batch_commit(s, &err), 0);
    T_EQ_INT(find(s, "goodfile", NULL).n, 1);
    T_EQ_INT(find(s, "otherfile", NULL).n, 1);
    T_CHECK(fts_ok(path));

    /* Delete is atomic too. */
    store_debug_fail_after(s, 2);
    T_CHECK(store_file_delete(s, "f.py", &err) < 0);
    store_debug_fail_after(s, 0);
    T_EQ_INT(find(s, "newword", NULL).n, 3);
    store_close(s);
    free(path);
}

static void test_invalid_chunks_are_rejected_before_any_change(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    T_EQ_INT(put1(s, "x.py", "original", &err), 0);
    store_chunk_in_t bad[2] = {{1, 2, NULL, "fine", 4, NULL}, {7, 3, NULL, "backwards", 9, NULL}};
    T_CHECK(store_file_replace(s, "x.py", "python", 0, 1, 1, "h", bad, 2, &err) < 0);
    T_CHECK(strstr(err.msg, "chunk 2 has lines 7-3") != NULL);
    bad[1] = (store_chunk_in_t){0, 0, NULL, "zero", 4, NULL};
    T_CHECK(store_file_replace(s, "x.py", "python", 0, 1, 1, "h", bad, 2, &err) < 0);
    T_CHECK(store_file_replace(s, "x.py", "python", 9, 1, 1, "h", NULL, 0, &err) < 0);
    T_CHECK(strstr(err.msg, "unknown file kind") != NULL);
    T_CHECK(store_file_replace(s, "", "python", 0, 1, 1, "h", NULL, 0, &err) < 0);
    T_EQ_INT(find(s, "original", NULL).n, 1);
    store_close(s);
    free(path);
}

static void test_skipped_files_keep_a_row_without_chunks(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    T_EQ_INT(put1(s, "a.py", "text", &err), 0);
    T_EQ_INT(
        store_file_replace(s, "img.png", NULL, STORE_KIND_BINARY, 5000, 1, NULL, NULL, 0, &err), 0);
    T_EQ_INT(
        store_file_replace(s, "big.log", NULL, STORE_KIND_TOO_LARGE, 1 << 30, 1, "", NULL, 0, &err),
        0);
    store_file_t f;
    T_EQ_INT(store_file_get(s, "img.png", &f, &err), 1);
    T_EQ_INT(f.kind, STORE_KIND_BINARY);
    T_EQ_STR(f.hash, "");
    store_counts_t c;
    T_EQ_INT(store_counts(s, NULL, &c, &err), 0);
    T_EQ_INT(c.files, 1);
    T_EQ_INT(c.chunks, 1);
    T_EQ_INT(c.skipped_binary, 1);
    T_EQ_INT(c.skipped_too_large, 1);
    T_EQ_INT(c.embedded_chunks, 0);
    T_CHECK(c.last_indexed_max >= f.last_indexed);
    /* A skipped file that becomes text gets its chunks. */
    T_EQ_INT(put1(s, "img.png", "now text", &err), 0);
    T_EQ_INT(store_counts(s, NULL, &c, &err), 0);
    T_EQ_INT(c.files, 2);
    T_EQ_INT(c.skipped_binary, 0);
    store_close(s);
    free(path);
}

static void test_delete_touch_and_each(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    T_EQ_INT(put1(s, "b/two.py", "zulu", &err), 0);
    T_EQ_INT(put1(s, "a/one.py", "yankee", &err), 0);
    T_EQ_INT(put1(s, "c.py", "xray", &err), 0);

    store_file_t before, after;
    store_file_get(s, "c.py", &before, &err);
    T_EQ_INT(store_file_touch(s, "c.py", 777, 888, &err), 0);
    store_file_get(s, "c.py", &after, &err);
    T_EQ_INT(after.size, 777);
    T_EQ_INT(after.mtime_ns, 888);
    T_EQ_STR(after.hash, before.hash);
    T_CHECK(after.last_indexed >= before.last_indexed);
    T_EQ_INT(find(s, "xray", NULL).n, 1);
    T_CHECK(store_file_touch(s, "none.py", 1, 1, &err) < 0);
    T_CHECK(strstr(err.msg, "not indexed") != NULL);

    T_EQ_INT(store_file_delete(s, "b/two.py", &err), 0);
    T_EQ_INT(store_file_delete(s, "b/two.py", &err), 0); /* absent: fine */
    T_EQ_INT(store_file_get(s, "b/two.py", &before, &err), 0);
    T_EQ_INT(find(s, "zulu", NULL).n, 0);
    T_EQ_INT(put1(s, "b/three.py", "whiskey", &err), 0);
    char *terms = fts_terms(path);
    T_EQ_STR(terms, "a b c one py three whiskey xray yankee");
    free(terms);
    store_close(s);
    free(path);
}

typedef struct {
    store_t *s;
    sbuf_t seen;
} each_ctx_t;

/* Deletes every file it visits: writes are allowed from the callback. */
static int each_delete(void *ctx, const char *path)
{
    each_ctx_t *e = ctx;
    err_t err;
    sbuf_printf(&e->seen, "%s;", path);
    return store_file_delete(e->s, path, &err) < 0 ? -5 : 0;
}

static int each_stop(void *ctx, const char *path)
{
    (void)ctx;
    (void)path;
    return 9;
}

static void test_files_each_visits_paths_in_order(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    const char *names[] = {"z.py", "a/b.py", "a.py", "m/n/o.py"};
    for (int i = 0; i < 4; i++)
        put1(s, names[i], "body", &err);
    T_EQ_INT(store_files_each(s, each_stop, NULL, &err), 9);
    each_ctx_t e = {s, {0}};
    T_EQ_INT(store_files_each(s, each_delete, &e, &err), 0);
    T_EQ_STR(e.seen.data, "a.py;a/b.py;m/n/o.py;z.py;");
    sbuf_free(&e.seen);
    store_counts_t c;
    store_counts(s, NULL, &c, &err);
    T_EQ_INT(c.files, 0);
    T_EQ_INT(c.chunks, 0);
    store_close(s);
    free(path);
}

static void test_metadata_roundtrip(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    char *v = (char *)"sentinel";
    T_EQ_INT(store_meta_get(s, STORE_META_MODEL, &v, &err), 0);
    T_CHECK(v == NULL);
    T_EQ_INT(store_meta_set(s, STORE_META_MODEL, "nomic-embed-text-v1.5", &err), 0);
    T_EQ_INT(store_meta_set(s, STORE_META_MODEL, "bge-small-en-v1.5", &err), 0);
    T_EQ_INT(store_meta_get(s, STORE_META_MODEL, &v, &err), 0);
    T_EQ_STR(v, "bge-small-en-v1.5");
    free(v);
    store_close(s);
    free(path);
}

static void test_embedded_chunks_counted_per_model(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    const char *b[] = {"first chunk", "second chunk", "first chunk"};
    T_EQ_INT(put(s, "e.py", b, NULL, 3, &err), 0);
    char hex[41];
    hash_sha1_hex("first chunk", 11, hex);
    sqlite3 *db = raw_open(path);
    char *sql =
        xasprintf("INSERT INTO embeddings(model, chunk_hash, dim, vec) VALUES('m1', '%s', 2, "
                  "x'0000803f00000040')",
                  hex);
    T_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
    sqlite3_close(db);
    store_counts_t c;
    T_EQ_INT(store_counts(s, "m1", &c, &err), 0);
    T_EQ_INT(c.chunks, 3);
    T_EQ_INT(c.embedded_chunks, 2); /* both chunks with that content */
    T_EQ_INT(store_counts(s, "m2", &c, &err), 0);
    T_EQ_INT(c.embedded_chunks, 0);
    /* Replacing the file keeps the vector (keyed by content hash). */
    const char *b2[] = {"zero chunk", "first chunk"};
    T_EQ_INT(put(s, "e.py", b2, NULL, 2, &err), 0);
    T_EQ_INT(store_counts(s, "m1", &c, &err), 0);
    T_EQ_INT(c.embedded_chunks, 1);
    store_close(s);
    free(path);
}

/* ---- concurrency ---- */

/* Runs in a child process: a read-only store on path must find `term` n times. */
static int child_expect(const char *path, const char *term, int n)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        err_t err;
        store_t *r = store_open(path, true, &err);
        if (!r) {
            fprintf(stderr, "child: %s\n", err.msg);
            _exit(2);
        }
        int got = find(r, term, NULL).n;
        store_close(r);
        _exit(got == n ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static void test_readers_see_committed_data_while_writer_batch_is_open(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *w = store_open(path, false, &err);
    T_EQ_INT(put1(w, "a.py", "committed", &err), 0);
    store_t *r = store_open(path, true, &err);
    T_CHECK(r != NULL);
    if (!r) return;

    T_EQ_INT(store_batch_begin(w, &err), 0);
    T_CHECK(store_in_batch(w));
    T_EQ_INT(put1(w, "a.py", "pending", &err), 0);
    T_EQ_INT(put1(w, "b.py", "pending", &err), 0);
    T_EQ_INT(find(w, "pending", NULL).n, 2); /* the writer sees its own batch */
    /* another connection in this process, and another process, see the last commit */
    T_EQ_INT(find(r, "committed", NULL).n, 1);
    T_EQ_INT(find(r, "pending", NULL).n, 0);
    T_EQ_INT(child_expect(path, "committed", 1), 0);
    T_EQ_INT(child_expect(path, "pending", 0), 0);

    T_EQ_INT(store_batch_commit(w, &err), 0);
    T_EQ_INT(find(r, "committed", NULL).n, 0);
    T_EQ_INT(find(r, "pending", NULL).n, 2);
    T_EQ_INT(child_expect(path, "pending", 2), 0);

    /* A rolled-back batch leaves no trace. */
    T_EQ_INT(store_batch_begin(w, &err), 0);
    T_EQ_INT(put1(w, "c.py", "discarded", &err), 0);
    store_batch_rollback(w);
    T_EQ_INT(find(w, "discarded", NULL).n, 0);
    T_CHECK(store_batch_commit(w, &err) < 0);
    T_CHECK(strstr(err.msg, "no batch") != NULL);
    store_close(r);
    store_close(w);
    free(path);
}

static void test_second_writer_gets_a_clear_busy_error(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *w1 = store_open(path, false, &err);
    store_t *w2 = store_open(path, false, &err);
    T_CHECK(w2 != NULL);
    if (!w2) return;
    store_set_busy_timeout(w2, 50);
    T_EQ_INT(store_batch_begin(w1, &err), 0);
    T_CHECK(put1(w2, "a.py", "x", &err) < 0);
    T_CHECK(strstr(err.msg, "locked by another embecode process") != NULL);
    T_CHECK(strstr(err.msg, "retry") != NULL);
    T_CHECK(store_batch_begin(w2, &err) < 0);
    T_EQ_INT(store_batch_commit(w1, &err), 0);
    T_EQ_INT(put1(w2, "a.py", "x", &err), 0);
    /* closing with an open batch rolls it back */
    T_EQ_INT(store_batch_begin(w1, &err), 0);
    T_EQ_INT(put1(w1, "b.py", "lost", &err), 0);
    store_close(w1);
    T_EQ_INT(find(w2, "lost", NULL).n, 0);
    store_close(w2);
    free(path);
}

static int64_t wal_size(const char *path)
{
    char *wal = xasprintf("%s-wal", path);
    struct stat st;
    int64_t n = stat(wal, &st) == 0 ? (int64_t)st.st_size : -1;
    free(wal);
    return n;
}

/* A new index uses 16 KiB pages; a checkpoint empties the WAL, but only once no reader is
 * using it (a busy reader postpones it without losing anything). */
static void test_checkpoint_truncates_the_wal_once_readers_are_done(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *w = store_open(path, false, &err);
    T_CHECK(w != NULL);
    if (!w) return;
    sqlite3 *db = raw_open(path);
    char *ps = raw_text(db, "PRAGMA page_size");
    T_EQ_STR(ps, "16384");
    free(ps);

    T_EQ_INT(store_batch_begin(w, &err), 0);
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.py", i);
        T_EQ_INT(put1(w, name, "checkpointed words", &err), 0);
    }
    T_EQ_INT(store_checkpoint(w, 0, &err), -1);
    T_CHECK(strstr(err.msg, "inside a batch") != NULL);
    T_EQ_INT(store_batch_commit(w, &err), 0);
    int64_t before = wal_size(path);
    T_CHECK(before > 0);

    /* A reader in the middle of a read transaction keeps the WAL. */
    T_EQ_INT(sqlite3_exec(db, "BEGIN; SELECT count(*) FROM chunks;", NULL, NULL, NULL),
             SQLITE_OK);
    T_EQ_INT(store_checkpoint(w, 20, &err), 1);
    T_EQ_INT(wal_size(path), before);
    T_EQ_INT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);

    T_EQ_INT(store_checkpoint(w, 1000, &err), 0);
    T_EQ_INT(wal_size(path), 0);
    T_EQ_INT(find(w, "checkpointed", NULL).n, 50);
    char *n = raw_text(db, "SELECT count(*) FROM files");
    T_EQ_STR(n, "50");
    free(n);
    sqlite3_close(db);

    store_t *r = store_open(path, true, &err);
    T_CHECK(r != NULL);
    T_EQ_INT(store_checkpoint(r, 0, &err), -1);
    T_CHECK(strstr(err.msg, "read-only") != NULL);
    store_close(r);
    store_close(w);
    free(path);
}

/* A writer killed with SIGKILL in the middle of a batch leaves the committed state. */
static void test_kill_during_batch_keeps_last_commit(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    T_EQ_INT(put1(s, "a.py", "survivor", &err), 0);
    store_close(s);

    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        store_t *w = store_open(path, false, &err);
        if (!w || store_batch_begin(w, &err) < 0) _exit(2);
        /* enough data that pages spill to the WAL before the commit */
        char *big = xmalloc(200000);
        for (int i = 0; i < 200000; i++)
            big[i] = "abcdefgh ij"[i % 11];
        big[199999] = 0;
        char name[32];
        for (int i = 0; i < 40; i++) {
            snprintf(name, sizeof name, "gen/%d.py", i);
            put1(w, name, big, &err);
        }
        put1(w, "a.py", "victim", &err);
        kill(getpid(), SIGKILL);
        _exit(3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    T_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    s = store_open(path, false, &err);
    T_CHECK(s != NULL);
    if (!s) return;
    T_EQ_INT(find(s, "survivor", NULL).n, 1);
    T_EQ_INT(find(s, "victim", NULL).n, 0);
    store_counts_t c;
    store_counts(s, NULL, &c, &err);
    T_EQ_INT(c.files, 1);
    store_close(s);
    T_CHECK(fts_ok(path));
    free(path);
}

/* ---- keyword query filters ---- */

static void test_path_prefix_is_literal_and_bytewise(void)
{
    err_t err;
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    const char *files[] = {"a%b/x.py", "aXb/x.py", "a_b/x.py",     "ab/x.py",
                           "a*c/x.py", "abc/x.py", "a?c/x.py",     "a[c]/x.py",
                           "ac/x.py",  "b/x.py",   "\xff\xff/x.py"};
    for (size_t i = 0; i < ARRAY_LEN(files); i++)
        put1(s, files[i], "needle", &err);
    hits_t h = find(s, "needle", NULL);
    T_EQ_INT(h.n, (int)ARRAY_LEN(files));
    h = find(s, "needle", "");
    T_EQ_INT(h.n, (int)ARRAY_LEN(files));
    h = find(s, "needle", "a%");
    T_EQ_INT(h.n, 1);
    T_EQ_STR(h.paths[0], "a%b/x.py");
    h = find(s, "needle", "a_");
    T_EQ_INT(h.n, 1);
    T_EQ_STR(h.paths[0], "a_b/x.py");
    h = find(s, "needle", "a*");
    T_EQ_INT(h.n, 1);
    h = find(s, "needle", "a?");
    T_EQ_INT(h.n, 1);
    h = find(s, "needle", "a[c");
    T_EQ_INT(h.n, 1);
    T_EQ_STR(h.paths[0], "a[c]/x.py");
    h = find(s, "needle", "ab");
    T_EQ_INT(h.n, 2); /* ab/ and abc/ : a plain prefix, not a folder match */
    h = find(s, "needle", "\xff\xff");
    T_EQ_INT(h.n, 1);
    h = find(s, "needle", "zzz");
    T_EQ_INT(h.n, 0);
    store_close(s);
    free(path);
}

static void test_definition_names_drop_kind_labels(void)
{
    sbuf_t b = {0};
    store_def_names("function search_code, class Searcher", &b);
    T_EQ_STR(b.data, "search_code Searcher");
    store_def_names(" method  Foo.bar ,struct Point,lonely,, ", &b);
    T_EQ_STR(b.data, "Foo.bar Point lonely");
    store_def_names("", &b);
    T_EQ_STR(b.data, "");
    store_def_names(NULL, &b);
    T_EQ_STR(b.data, "");
    sbuf_free(&b);
}

static void test_keyword_search_rejects_bad_fts_syntax_with_error(void)
{
    err_t err = {{0}};
    char *path = t_db_path("idx");
    store_t *s = store_open(path, false, &err);
    hits_t r = {0};
    T_CHECK(store_keyword_search(s, "\"unbalanced", NULL, 10, collect_hit, &r, &err) < 0);
    T_CHECK(strstr(err.msg, "keyword query") != NULL);
    /* the connection stays usable */
    T_EQ_INT(put1(s, "a.py", "fine", &err), 0);
    T_EQ_INT(find(s, "fine", NULL).n, 1);
    store_close(s);
    free(path);
}

int main(void)
{
    T_RUN(test_open_creates_schema_in_wal_mode);
    T_RUN(test_readonly_open_of_missing_file_fails_clearly);
    T_RUN(test_readonly_store_refuses_writes);
    T_RUN(test_readonly_open_of_uninitialised_file_fails);
    T_RUN(test_migrates_version_1_database);
    T_RUN(test_newer_schema_is_refused);
    T_RUN(test_foreign_files_are_refused);
    T_RUN(test_replace_stores_file_and_chunks);
    T_RUN(test_unchanged_chunks_keep_their_identity);
    T_RUN(test_duplicate_chunks_are_matched_one_to_one);
    T_RUN(test_replace_is_atomic_under_injected_faults);
    T_RUN(test_invalid_chunks_are_rejected_before_any_change);
    T_RUN(test_skipped_files_keep_a_row_without_chunks);
    T_RUN(test_delete_touch_and_each);
    T_RUN(test_files_each_visits_paths_in_order);
    T_RUN(test_metadata_roundtrip);
    T_RUN(test_embedded_chunks_counted_per_model);
    T_RUN(test_readers_see_committed_data_while_writer_batch_is_open);
    T_RUN(test_second_writer_gets_a_clear_busy_error);
    T_RUN(test_checkpoint_truncates_the_wal_once_readers_are_done);
    T_RUN(test_kill_during_batch_keeps_last_commit);
    T_RUN(test_path_prefix_is_literal_and_bytewise);
    T_RUN(test_definition_names_drop_kind_labels);
    T_RUN(test_keyword_search_rejects_bad_fts_syntax_with_error);
    return t_done();
}
