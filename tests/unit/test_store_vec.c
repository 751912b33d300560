#include "t.h"
#include "t_sqlite.h"

#include <math.h>
#include <sqlite3.h>

#include "ftstok.h"
#include "hash.h"
#include "store.h"

static store_t *open_rw(const char *path)
{
    err_t err;
    store_t *s = store_open(path, false, &err);
    if (!s) fprintf(stderr, "store_open: %s\n", err.msg);
    return s;
}

/* Replaces path with one chunk per body. */
static int put_file(store_t *s, const char *path, const char *const *bodies, size_t n, err_t *err)
{
    store_chunk_in_t c[16];
    for (size_t i = 0; i < n; i++)
        c[i] = (store_chunk_in_t){.start_line = (uint32_t)(10 * i + 1),
                                  .end_line = (uint32_t)(10 * i + 5),
                                  .definitions = "function f",
                                  .content = bodies[i],
                                  .content_len = strlen(bodies[i])};
    return store_file_replace(s, path, "python", STORE_KIND_TEXT, 100, 42, "h", c, n, err);
}

static void hex_of(const char *body, char out[41])
{
    hash_sha1_hex(body, strlen(body), out);
}

/* A deterministic non-zero vector for a body. */
static void vec_of(const char *body, int dim, float *v)
{
    uint32_t h = 2166136261u;
    for (const char *p = body; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    for (int i = 0; i < dim; i++) {
        h = h * 1664525u + 1013904223u;
        v[i] = (float)((int)(h >> 9) - (1 << 22)) / (float)(1 << 22);
    }
}

static int put_vec(store_t *s, const char *model, const char *body, int dim, err_t *err)
{
    char hex[41];
    float v[64];
    hex_of(body, hex);
    vec_of(body, dim, v);
    return store_vec_put(s, model, hex, dim, v, err);
}

/* ---- todo ---- */

typedef struct {
    int n;
    int64_t ids[64];
    char hashes[64][41];
    char paths[64][32];
} todo_t;

static int collect_todo(void *ctx, const store_embed_todo_t *t)
{
    todo_t *r = ctx;
    if (r->n < 64) {
        r->ids[r->n] = t->chunk_id;
        snprintf(r->hashes[r->n], 41, "%s", t->hash);
        snprintf(r->paths[r->n], 32, "%s", t->path);
        T_CHECK(t->content && t->content_len > 0 && strcmp(t->language, "python") == 0);
        T_EQ_STR(t->definitions, "function f");
    }
    r->n++;
    return 0;
}

/* A whole pass (cursor from 0 until it stops moving), limit rows per call. */
static todo_t todo_pass(store_t *s, const char *model, int limit)
{
    todo_t r = {0};
    err_t err;
    int64_t cursor = 0, prev;
    int calls = 0;
    do {
        prev = cursor;
        if (store_vec_todo(s, model, &cursor, limit, collect_todo, &r, &err) < 0) {
            fprintf(stderr, "todo: %s\n", err.msg);
            break;
        }
    } while (cursor != prev && ++calls < 1000);
    return r;
}

static void test_todo_lists_each_missing_hash_once(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    const char *a[] = {"alpha", "beta", "alpha"};
    const char *b[] = {"beta", "gamma"};
    T_EQ_INT(put_file(s, "a.py", a, 3, &err), 0);
    T_EQ_INT(put_file(s, "b.py", b, 2, &err), 0);
    todo_t r = todo_pass(s, "m", 10);
    T_EQ_INT(r.n, 3);
    char h[41];
    hex_of("alpha", h);
    T_EQ_STR(r.hashes[0], h);
    T_EQ_STR(r.paths[0], "a.py");
    hex_of("gamma", h);
    T_EQ_STR(r.hashes[2], h);
    T_EQ_STR(r.paths[2], "b.py");
    T_CHECK(r.ids[0] < r.ids[1] && r.ids[1] < r.ids[2]);

    /* With vectors for alpha and beta only gamma is left; another model needs all three. */
    T_EQ_INT(put_vec(s, "m", "alpha", 8, &err), 0);
    T_EQ_INT(put_vec(s, "m", "beta", 8, &err), 0);
    r = todo_pass(s, "m", 10);
    T_EQ_INT(r.n, 1);
    T_EQ_STR(r.hashes[0], h);
    T_EQ_INT(todo_pass(s, "other", 10).n, 3);
    store_close(s);
    free(path);
}

static void test_moved_chunk_needs_no_new_vector(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    const char *a[] = {"def moved(): pass", "def stays(): pass"};
    T_EQ_INT(put_file(s, "old/a.py", a, 2, &err), 0);
    T_EQ_INT(put_vec(s, "m", a[0], 8, &err), 0);
    T_EQ_INT(put_vec(s, "m", a[1], 8, &err), 0);
    /* The function moves to another file, and the edit is then reverted. */
    T_EQ_INT(put_file(s, "old/a.py", a + 1, 1, &err), 0);
    T_EQ_INT(put_file(s, "new/b.py", a, 1, &err), 0);
    T_EQ_INT(todo_pass(s, "m", 10).n, 0);
    T_EQ_INT(store_file_delete(s, "new/b.py", &err), 0);
    T_EQ_INT(put_file(s, "old/a.py", a, 2, &err), 0);
    T_EQ_INT(todo_pass(s, "m", 10).n, 0);
    int64_t with, total;
    T_EQ_INT(store_vec_count(s, "m", &with, &total, &err), 0);
    T_EQ_INT(with, 2);
    T_EQ_INT(total, 2);
    store_close(s);
    free(path);
}

static void test_same_content_in_two_files_shares_one_vector(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    const char *a[] = {"shared body", "only in a"};
    const char *b[] = {"shared body"};
    T_EQ_INT(put_file(s, "a.py", a, 2, &err), 0);
    T_EQ_INT(put_file(s, "b.py", b, 1, &err), 0);
    T_EQ_INT(put_vec(s, "m", "shared body", 8, &err), 0);
    int64_t with, total;
    T_EQ_INT(store_vec_count(s, "m", &with, &total, &err), 0);
    T_EQ_INT(with, 2); /* chunks, not hashes */
    T_EQ_INT(total, 3);
    store_counts_t c;
    T_EQ_INT(store_counts(s, "m", &c, &err), 0);
    T_EQ_INT(c.embedded_chunks, 2);
    sqlite3 *db = raw_open(path);
    char *n = raw_text(db, "SELECT count(*) FROM embeddings");
    T_EQ_STR(n, "1");
    free(n);
    sqlite3_close(db);
    store_close(s);
    free(path);
}

typedef struct {
    int seen, fail_every;
} failing_t;

/* Embeds nothing (as if every text failed): counts what it is given. */
static int count_todo(void *ctx, const store_embed_todo_t *t)
{
    (void)t;
    ((failing_t *)ctx)->seen++;
    return 0;
}

static void test_todo_cursor_moves_past_failed_texts(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    char bodies[12][16];
    const char *p[12];
    for (int i = 0; i < 12; i++) {
        snprintf(bodies[i], sizeof bodies[i], "body %d", i % 10); /* 10 distinct */
        p[i] = bodies[i];
    }
    T_EQ_INT(put_file(s, "a.py", p, 12, &err), 0);
    /* Limit 3 and no vector ever stored: the pass still ends, each hash seen at least once
     * and the 2 repeated bodies (ids 11, 12) come back once more at most. */
    failing_t f = {0};
    int64_t cursor = 0, prev;
    int calls = 0;
    do {
        prev = cursor;
        T_EQ_INT(store_vec_todo(s, "m", &cursor, 3, count_todo, &f, &err), 0);
        calls++;
    } while (cursor != prev && calls < 100);
    T_CHECK(calls < 100);
    T_CHECK(f.seen >= 10 && f.seen <= 12);
    /* Stopping early: the cursor points at the last chunk handed out. */
    cursor = 0;
    T_EQ_INT(store_vec_todo(s, "m", &cursor, 0, count_todo, &f, &err), 0);
    T_EQ_INT(cursor, 0);
    store_close(s);
    free(path);
}

/* ---- put / get ---- */

static void test_put_rejects_bad_vectors_and_readers(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    char h[41];
    hex_of("x", h);
    float v[4] = {1, 0, 0, 0};
    T_CHECK(store_vec_put(s, "m", "ABC", 4, v, &err) < 0);
    T_CHECK(strstr(err.msg, "hex") != NULL);
    T_CHECK(store_vec_put(s, "m", h, 0, v, &err) < 0);
    T_CHECK(strstr(err.msg, "dimension") != NULL);
    T_CHECK(store_vec_put(s, "", h, 4, v, &err) < 0);
    float nan4[4] = {1, NAN, 0, 0};
    T_CHECK(store_vec_put(s, "m", h, 4, nan4, &err) < 0);
    T_CHECK(strstr(err.msg, "non-finite") != NULL && strstr(err.msg, "position 1") != NULL);
    float zero[4] = {0};
    T_CHECK(store_vec_put(s, "m", h, 4, zero, &err) < 0);
    T_CHECK(strstr(err.msg, "zeros") != NULL);
    T_EQ_INT(store_vec_put(s, "m", h, 4, v, &err), 0);
    store_close(s);

    store_t *r = store_open(path, true, &err);
    T_CHECK(r != NULL);
    T_CHECK(store_vec_put(r, "m", h, 4, v, &err) < 0);
    T_CHECK(strstr(err.msg, "read-only") != NULL);
    float out[4];
    T_EQ_INT(store_vec_get(r, "m", h, out, 4, &err), 1);
    T_CHECK(out[0] == 1 && out[1] == 0);
    T_CHECK(store_vec_get(r, "m", h, out, 3, &err) < 0);
    T_CHECK(strstr(err.msg, "4 dimensions") != NULL);
    T_EQ_INT(store_vec_get(r, "m2", h, out, 4, &err), 0);
    store_close(r);
    free(path);
}

static void test_put_keeps_the_first_vector(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    char h[41];
    hex_of("x", h);
    float a[3] = {0.25f, -0.5f, 1e-30f}, b[3] = {9, 9, 9}, out[3];
    T_EQ_INT(store_vec_put(s, "m", h, 3, a, &err), 0);
    T_EQ_INT(store_vec_put(s, "m", h, 3, b, &err), 0);
    T_EQ_INT(store_vec_get(s, "m", h, out, 3, &err), 1);
    T_CHECK(memcmp(out, a, sizeof a) == 0); /* bit-exact round trip */
    /* The blob is little-endian float32. */
    sqlite3 *db = raw_open(path);
    char *hx = raw_text(db, "SELECT hex(substr(vec, 1, 8)) FROM embeddings");
    T_EQ_STR(hx, "0000803E000000BF"); /* 0.25f, -0.5f */
    free(hx);
    sqlite3_close(db);
    store_close(s);
    free(path);
}

static void test_put_inside_batch_follows_the_batch(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    T_EQ_INT(store_batch_begin(s, &err), 0);
    T_EQ_INT(put_vec(s, "m", "one", 4, &err), 0);
    store_batch_rollback(s);
    char h[41];
    hex_of("one", h);
    float out[4];
    T_EQ_INT(store_vec_get(s, "m", h, out, 4, &err), 0);
    T_EQ_INT(store_batch_begin(s, &err), 0);
    T_EQ_INT(put_vec(s, "m", "one", 4, &err), 0);
    /* A reader does not see it before the commit. */
    store_t *r = store_open(path, true, &err);
    T_EQ_INT(store_vec_get(r, "m", h, out, 4, &err), 0);
    T_EQ_INT(store_batch_commit(s, &err), 0);
    T_EQ_INT(store_vec_get(r, "m", h, out, 4, &err), 1);
    store_close(r);
    store_close(s);
    free(path);
}

typedef struct {
    int n;
    size_t idx[8];
    float first[8];
} many_t;

static int collect_many(void *ctx, size_t i, const float *vec, int dim)
{
    many_t *m = ctx;
    (void)dim;
    if (m->n < 8) {
        m->idx[m->n] = i;
        m->first[m->n] = vec[0];
    }
    m->n++;
    return 0;
}

static void test_get_many_skips_absent_hashes(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    char h[3][41];
    hex_of("a", h[0]);
    hex_of("b", h[1]);
    hex_of("c", h[2]);
    float va[2] = {1, 2}, vc[2] = {3, 4};
    T_EQ_INT(store_vec_put(s, "m", h[0], 2, va, &err), 0);
    T_EQ_INT(store_vec_put(s, "m", h[2], 2, vc, &err), 0);
    const char *hs[3] = {h[2], h[1], h[0]};
    many_t m = {0};
    T_EQ_INT(store_vec_get_many(s, "m", hs, 3, collect_many, &m, &err), 0);
    T_EQ_INT(m.n, 2);
    T_EQ_INT(m.idx[0], 0);
    T_CHECK(m.first[0] == 3);
    T_EQ_INT(m.idx[1], 2);
    T_CHECK(m.first[1] == 1);
    store_close(s);
    free(path);
}

static void test_drop_other_models_keeps_one_model(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    const char *a[] = {"x1", "x2"};
    T_EQ_INT(put_file(s, "a.py", a, 2, &err), 0);
    for (int i = 0; i < 2; i++) {
        T_EQ_INT(put_vec(s, "old", a[i], 4, &err), 0);
        T_EQ_INT(put_vec(s, "new", a[i], 4, &err), 0);
    }
    T_EQ_INT(store_vec_drop_other_models(s, "new", &err), 0);
    int64_t with, total;
    T_EQ_INT(store_vec_count(s, "old", &with, &total, &err), 0);
    T_EQ_INT(with, 0);
    T_EQ_INT(store_vec_count(s, "new", &with, &total, &err), 0);
    T_EQ_INT(with, 2);
    store_close(s);
    free(path);
}

/* ---- following changes ---- */

typedef struct {
    int n;
    int64_t seq[64], chunk[64], file[64];
    int op[64];
    char hash[64][41];
} log_t;

static int collect_log(void *ctx, int64_t seq, int64_t chunk_id, int64_t file_id, const char *hash,
                       int op)
{
    log_t *l = ctx;
    if (l->n < 64) {
        l->seq[l->n] = seq;
        l->chunk[l->n] = chunk_id;
        l->file[l->n] = file_id;
        l->op[l->n] = op;
        snprintf(l->hash[l->n], 41, "%s", hash);
    }
    l->n++;
    return 0;
}

static void test_chunk_log_records_additions_and_removals(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    const char *v1[] = {"keep me", "change me"};
    T_EQ_INT(put_file(s, "a.py", v1, 2, &err), 0);
    log_t l = {0};
    bool pruned = true;
    T_EQ_INT(store_chunk_log_since(s, 0, &pruned, collect_log, &l, &err), 0);
    T_CHECK(!pruned);
    T_EQ_INT(l.n, 2);
    T_CHECK(l.op[0] == 1 && l.op[1] == 1 && l.seq[0] < l.seq[1]);
    int64_t kept_id = l.chunk[0], changed_id = l.chunk[1], file_id = l.file[0];
    char h[41];
    hex_of("change me", h);
    T_EQ_STR(l.hash[1], h);
    int64_t after = l.seq[1];

    /* The kept chunk moves lines (no log row); the changed one is removed and a new one added. */
    const char *v2[] = {"new first", "keep me"};
    T_EQ_INT(put_file(s, "a.py", v2, 2, &err), 0);
    memset(&l, 0, sizeof l);
    T_EQ_INT(store_chunk_log_since(s, after, &pruned, collect_log, &l, &err), 0);
    T_EQ_INT(l.n, 2);
    T_EQ_INT(l.op[0], 0);
    T_EQ_INT(l.chunk[0], changed_id);
    T_EQ_INT(l.op[1], 1);
    T_CHECK(l.chunk[1] != kept_id && l.chunk[1] > changed_id);
    T_EQ_INT(l.file[1], file_id);
    int64_t max;
    T_EQ_INT(store_log_max_seq(s, &max, &err), 0);
    T_EQ_INT(max, l.seq[1]);

    /* Deleting the file logs both removals. */
    after = max;
    T_EQ_INT(store_file_delete(s, "a.py", &err), 0);
    memset(&l, 0, sizeof l);
    T_EQ_INT(store_chunk_log_since(s, after, &pruned, collect_log, &l, &err), 0);
    T_EQ_INT(l.n, 2);
    T_CHECK(l.op[0] == 0 && l.op[1] == 0);

    /* A batch rolled back by a failure leaves no log rows behind; a committed one logs
     * exactly its chunks. */
    const char *v3[] = {"x", "y"};
    T_EQ_INT(store_log_max_seq(s, &after, &err), 0);
    T_EQ_INT(store_batch_begin(s, &err), 0);
    T_EQ_INT(put_file(s, "b.py", v3, 2, &err), 0);
    store_debug_fail_after(s, 4);
    T_CHECK(put_file(s, "c.py", v3, 2, &err) < 0);
    store_debug_fail_after(s, 0);
    T_CHECK(store_batch_commit(s, &err) < 0);
    memset(&l, 0, sizeof l);
    T_EQ_INT(store_chunk_log_since(s, after, &pruned, collect_log, &l, &err), 0);
    T_EQ_INT(l.n, 0);
    T_EQ_INT(store_batch_begin(s, &err), 0);
    T_EQ_INT(put_file(s, "b.py", v3, 2, &err), 0);
    T_EQ_INT(store_batch_commit(s, &err), 0);
    memset(&l, 0, sizeof l);
    T_EQ_INT(store_chunk_log_since(s, after, &pruned, collect_log, &l, &err), 0);
    T_EQ_INT(l.n, 2);
    T_CHECK(l.op[0] == 1 && l.op[1] == 1 && l.seq[0] < l.seq[1]);
    store_close(s);
    free(path);
}

static void test_prune_keeps_newest_rows_and_reports_gaps(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    int64_t min;
    T_EQ_INT(store_log_min_seq(s, &min, &err), 0);
    T_EQ_INT(min, 1);
    const char *a[] = {"1", "2", "3", "4", "5"};
    T_EQ_INT(put_file(s, "a.py", a, 5, &err), 0); /* seqs 1..5 */
    T_EQ_INT(store_log_prune(s, 2, &err), 0);
    T_EQ_INT(store_log_min_seq(s, &min, &err), 0);
    T_EQ_INT(min, 4);
    log_t l = {0};
    bool pruned = false;
    T_EQ_INT(store_chunk_log_since(s, 2, &pruned, collect_log, &l, &err), 0);
    T_CHECK(pruned);
    T_EQ_INT(l.n, 0);
    T_EQ_INT(store_chunk_log_since(s, 3, &pruned, collect_log, &l, &err), 0);
    T_CHECK(!pruned);
    T_EQ_INT(l.n, 2);
    /* Pruning less than before changes nothing; everything may go, seqs are never reused. */
    T_EQ_INT(store_log_prune(s, 4, &err), 0);
    T_EQ_INT(store_log_min_seq(s, &min, &err), 0);
    T_EQ_INT(min, 4);
    T_EQ_INT(store_log_prune(s, 0, &err), 0);
    T_EQ_INT(store_log_min_seq(s, &min, &err), 0);
    T_EQ_INT(min, 6);
    T_EQ_INT(store_file_delete(s, "a.py", &err), 0);
    int64_t max;
    T_EQ_INT(store_log_max_seq(s, &max, &err), 0);
    T_EQ_INT(max, 10);
    T_CHECK(store_log_prune(s, -1, &err) < 0);
    /* Inside a batch the prune commits with it. */
    T_EQ_INT(store_batch_begin(s, &err), 0);
    T_EQ_INT(store_log_prune(s, 0, &err), 0);
    store_batch_rollback(s);
    T_EQ_INT(store_log_min_seq(s, &min, &err), 0);
    T_EQ_INT(min, 6);
    store_close(s);
    free(path);
}

typedef struct {
    int n;
    int64_t ids[16], files[16];
} ids_t;

static int collect_chunk(void *ctx, int64_t chunk_id, int64_t file_id, const char *hash)
{
    ids_t *r = ctx;
    (void)hash;
    if (r->n < 16) {
        r->ids[r->n] = chunk_id;
        r->files[r->n] = file_id;
    }
    r->n++;
    return 0;
}

static int collect_file(void *ctx, int64_t file_id)
{
    ids_t *r = ctx;
    if (r->n < 16) r->ids[r->n] = file_id;
    r->n++;
    return 0;
}

static void test_chunks_all_and_prefix_files(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    const char *x[] = {"x"}, *y[] = {"y", "yy"};
    T_EQ_INT(put_file(s, "src/a.py", x, 1, &err), 0);
    T_EQ_INT(put_file(s, "src_b.py", y, 2, &err), 0);
    T_EQ_INT(put_file(s, "src%/c.py", x, 1, &err), 0);
    ids_t r = {0};
    int64_t log_seq = -1;
    T_EQ_INT(store_chunks_all(s, &log_seq, collect_chunk, &r, &err), 0);
    T_EQ_INT(r.n, 4);
    T_EQ_INT(log_seq, 4);
    T_CHECK(r.ids[0] < r.ids[1] && r.ids[2] < r.ids[3]);
    T_CHECK(r.files[1] == r.files[2]);

    store_file_t f;
    store_file_get(s, "src/a.py", &f, &err);
    memset(&r, 0, sizeof r);
    T_EQ_INT(store_files_with_prefix(s, "src/", collect_file, &r, &err), 0);
    T_EQ_INT(r.n, 1);
    T_EQ_INT(r.ids[0], f.id);
    memset(&r, 0, sizeof r);
    T_EQ_INT(store_files_with_prefix(s, "src%", collect_file, &r, &err), 0);
    T_EQ_INT(r.n, 1); /* % is literal */
    memset(&r, 0, sizeof r);
    T_EQ_INT(store_files_with_prefix(s, "src", collect_file, &r, &err), 0);
    T_EQ_INT(r.n, 3);
    memset(&r, 0, sizeof r);
    T_EQ_INT(store_files_with_prefix(s, NULL, collect_file, &r, &err), 0);
    T_EQ_INT(r.n, 3);
    memset(&r, 0, sizeof r);
    T_EQ_INT(store_files_with_prefix(s, "\xff", collect_file, &r, &err), 0);
    T_EQ_INT(r.n, 0);
    store_close(s);
    free(path);
}

typedef struct {
    int n;
    int64_t seq[8];
    char hash[8][41];
    float v0[8];
} since_t;

static int collect_since(void *ctx, int64_t seq, const char *hash, const float *vec, int dim)
{
    since_t *r = ctx;
    (void)dim;
    if (r->n < 8) {
        r->seq[r->n] = seq;
        snprintf(r->hash[r->n], 41, "%s", hash);
        r->v0[r->n] = vec[0];
    }
    r->n++;
    return 0;
}

static void test_vec_since_follows_one_model_in_order(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    T_EQ_INT(put_vec(s, "m", "a", 4, &err), 0);
    T_EQ_INT(put_vec(s, "other", "b", 4, &err), 0);
    T_EQ_INT(put_vec(s, "m", "c", 4, &err), 0);
    since_t r = {0};
    T_EQ_INT(store_vec_since(s, "m", 0, collect_since, &r, &err), 0);
    T_EQ_INT(r.n, 2);
    T_CHECK(r.seq[0] == 1 && r.seq[1] == 3);
    char h[41];
    hex_of("c", h);
    T_EQ_STR(r.hash[1], h);
    float v[4];
    vec_of("c", 4, v);
    T_CHECK(r.v0[1] == v[0]);
    memset(&r, 0, sizeof r);
    T_EQ_INT(store_vec_since(s, "m", 1, collect_since, &r, &err), 0);
    T_EQ_INT(r.n, 1);
    /* A damaged row is skipped, not fatal. */
    sqlite3 *db = raw_open(path);
    T_EQ_INT(sqlite3_exec(db,
                          "INSERT INTO embeddings(model, chunk_hash, dim, vec) "
                          "VALUES('m', 'bad', 4, x'00')",
                          NULL, NULL, NULL),
             SQLITE_OK);
    sqlite3_close(db);
    memset(&r, 0, sizeof r);
    T_EQ_INT(store_vec_since(s, "m", 3, collect_since, &r, &err), 0);
    T_EQ_INT(r.n, 0);
    store_close(s);
    free(path);
}

static void test_data_version_moves_on_any_commit(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    store_t *r = store_open(path, true, &err);
    int64_t a, b, c;
    T_EQ_INT(store_data_version(r, &a, &err), 0);
    T_EQ_INT(store_data_version(r, &b, &err), 0);
    T_EQ_INT(a, b);
    /* A commit by another connection. */
    T_EQ_INT(put_vec(s, "m", "x", 4, &err), 0);
    T_EQ_INT(store_data_version(r, &c, &err), 0);
    T_CHECK(c != b);
    /* A commit by this connection. */
    T_EQ_INT(store_data_version(s, &a, &err), 0);
    const char *x[] = {"x"};
    T_EQ_INT(put_file(s, "a.py", x, 1, &err), 0);
    T_EQ_INT(store_data_version(s, &b, &err), 0);
    T_CHECK(a != b);
    store_close(r);
    store_close(s);
    free(path);
}

typedef struct {
    int n;
    int64_t ids[8];
    char paths[8][16];
    uint32_t start[8];
} rows_t;

static int collect_row(void *ctx, const store_hit_t *h)
{
    rows_t *r = ctx;
    if (r->n < 8) {
        r->ids[r->n] = h->chunk_id;
        snprintf(r->paths[r->n], 16, "%s", h->path);
        r->start[r->n] = h->start_line;
        T_CHECK(h->bm25 == 0 && h->content_len > 0);
    }
    r->n++;
    return 0;
}

static void test_chunks_get_in_given_order(void)
{
    err_t err;
    char *path = t_db_path("vec");
    store_t *s = open_rw(path);
    const char *a[] = {"a0", "a1"}, *b[] = {"b0"};
    T_EQ_INT(put_file(s, "a.py", a, 2, &err), 0);
    T_EQ_INT(put_file(s, "b.py", b, 1, &err), 0);
    int64_t ids[] = {3, 999, 2, 1};
    rows_t r = {0};
    T_EQ_INT(store_chunks_get(s, ids, 4, collect_row, &r, &err), 0);
    T_EQ_INT(r.n, 3);
    T_EQ_INT(r.ids[0], 3);
    T_EQ_STR(r.paths[0], "b.py");
    T_EQ_INT(r.ids[1], 2);
    T_EQ_INT(r.start[1], 11);
    T_EQ_INT(r.ids[2], 1);
    store_close(s);
    free(path);
}

/* ---- schema ---- */

/* The version-2 layout, as the previous embecode created it. */
static void make_v2_db(const char *path)
{
    sqlite3 *db = raw_open(path);
    char *msg = NULL;
    sqlite3_exec(
        db,
        "CREATE TABLE metadata(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
        " kind INTEGER NOT NULL DEFAULT 0 CHECK (kind BETWEEN 0 AND 2),"
        " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL,"
        " last_indexed INTEGER NOT NULL);"
        "CREATE TABLE chunks(id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " file_id INTEGER NOT NULL REFERENCES files(id),"
        " start_line INTEGER NOT NULL CHECK (start_line >= 1),"
        " end_line INTEGER NOT NULL CHECK (end_line >= start_line),"
        " language TEXT NOT NULL, definitions TEXT NOT NULL, content TEXT NOT NULL,"
        " hash TEXT NOT NULL);"
        "CREATE INDEX chunks_by_file ON chunks(file_id);"
        "CREATE INDEX chunks_by_hash ON chunks(hash);"
        "CREATE TABLE embeddings(model TEXT NOT NULL, chunk_hash TEXT NOT NULL,"
        " dim INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, chunk_hash)) WITHOUT ROWID;"
        "CREATE VIRTUAL TABLE fts USING fts5(path, definitions, content, content='',"
        " tokenize='embecode');"
        "INSERT INTO metadata VALUES('schema_version', '2');"
        "INSERT INTO files VALUES(1, 'src/app.py', 0, 20, 7, 'fh', 9);"
        "INSERT INTO chunks VALUES(5, 1, 1, 2, 'python', 'function load_config',"
        " 'def load_config(): pass', '0123456789012345678901234567890123456789');"
        "INSERT INTO fts(rowid, path, definitions, content) VALUES(5, 'src/app.py',"
        " 'load_config', 'def load_config(): pass');"
        "INSERT INTO embeddings VALUES('mz', '0123456789012345678901234567890123456789', 2,"
        " x'0000803f00000040');"
        "INSERT INTO embeddings VALUES('ma', '0123456789012345678901234567890123456789', 2,"
        " x'000000400000803f');",
        NULL, NULL, &msg);
    if (msg) fprintf(stderr, "make_v2_db: %s\n", msg);
    sqlite3_free(msg);
    sqlite3_close(db);
}

static void test_migrates_version_2_database(void)
{
    err_t err;
    char *path = t_db_path("vec");
    make_v2_db(path);
    store_t *r = store_open(path, true, &err);
    T_CHECK(r == NULL);
    T_CHECK(strstr(err.msg, "older") != NULL);

    store_t *s = open_rw(path);
    T_CHECK(s != NULL);
    if (!s) return;
    char *v = NULL;
    store_meta_get(s, "schema_version", &v, &err);
    T_EQ_STR(v, "4");
    free(v);
    /* Vectors copied in key order with fresh seqs. */
    const char *h = "0123456789012345678901234567890123456789";
    since_t got = {0};
    T_EQ_INT(store_vec_since(s, "ma", 0, collect_since, &got, &err), 0);
    T_EQ_INT(got.n, 1);
    T_EQ_INT(got.seq[0], 1);
    T_CHECK(got.v0[0] == 2.0f);
    float out[2];
    T_EQ_INT(store_vec_get(s, "mz", h, out, 2, &err), 1);
    T_CHECK(out[0] == 1.0f && out[1] == 2.0f);
    int64_t with, total;
    T_EQ_INT(store_vec_count(s, "mz", &with, &total, &err), 0);
    T_CHECK(with == 1 && total == 1);
    /* The log starts empty and removals are logged. */
    int64_t max;
    T_EQ_INT(store_log_max_seq(s, &max, &err), 0);
    T_EQ_INT(max, 0);
    T_EQ_INT(store_file_delete(s, "src/app.py", &err), 0);
    log_t l = {0};
    bool pruned;
    T_EQ_INT(store_chunk_log_since(s, 0, &pruned, collect_log, &l, &err), 0);
    T_EQ_INT(l.n, 1);
    T_CHECK(l.op[0] == 0 && l.chunk[0] == 5 && l.file[0] == 1);
    /* UNIQUE(model, chunk_hash) holds: a second put is ignored. */
    float other[2] = {5, 5};
    T_EQ_INT(store_vec_put(s, "mz", h, 2, other, &err), 0);
    T_EQ_INT(store_vec_get(s, "mz", h, out, 2, &err), 1);
    T_CHECK(out[0] == 1.0f);
    store_close(s);

    sqlite3 *db = raw_open(path);
    char *ic = raw_text(db, "PRAGMA integrity_check");
    T_EQ_STR(ic, "ok");
    free(ic);
    char *tabs = raw_text(db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master "
                              "WHERE name LIKE 'embeddings%' OR name LIKE 'chunk_log%' "
                              "ORDER BY name)");
    /* schema 4 dropped the log triggers that schema 3 created */
    T_EQ_STR(tabs, "chunk_log embeddings");
    free(tabs);
    sqlite3_close(db);
    r = store_open(path, true, &err);
    T_CHECK(r != NULL);
    store_close(r);
    free(path);
}

/* A version-1 database (no chunks_by_hash index) reaches the current version with the index. */
static void test_migration_from_version_1_adds_the_hash_index(void)
{
    err_t err;
    char *path = t_db_path("vec");
    sqlite3 *db = raw_open(path);
    T_EQ_INT(sqlite3_exec(db,
                          "CREATE TABLE metadata(key TEXT PRIMARY KEY, value TEXT NOT NULL) "
                          "WITHOUT ROWID;"
                          "CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
                          " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL,"
                          " last_indexed INTEGER NOT NULL);"
                          "CREATE TABLE chunks(id INTEGER PRIMARY KEY AUTOINCREMENT,"
                          " file_id INTEGER NOT NULL REFERENCES files(id),"
                          " start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,"
                          " language TEXT NOT NULL, definitions TEXT NOT NULL,"
                          " content TEXT NOT NULL, hash TEXT NOT NULL);"
                          "CREATE INDEX chunks_by_file ON chunks(file_id);"
                          "CREATE VIRTUAL TABLE fts USING fts5(path, definitions, content,"
                          " content='', tokenize='embecode');"
                          "INSERT INTO metadata VALUES('schema_version', '1');",
                          NULL, NULL, NULL),
             SQLITE_OK);
    sqlite3_close(db);
    store_t *s = open_rw(path);
    T_CHECK(s != NULL);
    store_close(s);
    db = raw_open(path);
    char *n = raw_text(db, "SELECT count(*) FROM sqlite_master WHERE name = 'chunks_by_hash'");
    T_EQ_STR(n, "1");
    free(n);
    sqlite3_close(db);
    (void)err;
    free(path);
}

int main(void)
{
    T_RUN(test_todo_lists_each_missing_hash_once);
    T_RUN(test_moved_chunk_needs_no_new_vector);
    T_RUN(test_same_content_in_two_files_shares_one_vector);
    T_RUN(test_todo_cursor_moves_past_failed_texts);
    T_RUN(test_put_rejects_bad_vectors_and_readers);
    T_RUN(test_put_keeps_the_first_vector);
    T_RUN(test_put_inside_batch_follows_the_batch);
    T_RUN(test_get_many_skips_absent_hashes);
    T_RUN(test_drop_other_models_keeps_one_model);
    T_RUN(test_chunk_log_records_additions_and_removals);
    T_RUN(test_prune_keeps_newest_rows_and_reports_gaps);
    T_RUN(test_chunks_all_and_prefix_files);
    T_RUN(test_vec_since_follows_one_model_in_order);
    T_RUN(test_data_version_moves_on_any_commit);
    T_RUN(test_chunks_get_in_given_order);
    T_RUN(test_migrates_version_2_database);
    T_RUN(test_migration_from_version_1_adds_the_hash_index);
    return t_done();
}
