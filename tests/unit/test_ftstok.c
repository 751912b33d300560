#include "ftstok.h"
#include "t.h"

/* Collects tokens as "tok" for whole words and "+tok" for parts, space-separated. */
static int collect(void *ctx, const char *tok, size_t len, bool part, size_t start, size_t end)
{
    sbuf_t *b = ctx;
    (void)start;
    (void)end;
    if (b->len) sbuf_putc(b, ' ');
    if (part) sbuf_putc(b, '+');
    sbuf_append(b, tok, len);
    return 0;
}

static char *split(const char *text, bool parts)
{
    sbuf_t b = {0};
    sbuf_puts(&b, "");
    ftstok_split(text, strlen(text), parts, collect, &b);
    return sbuf_take(&b);
}

#define T_SPLIT(text, want)                                                                        \
    do {                                                                                           \
        char *got_ = split(text, true);                                                            \
        T_EQ_STR(got_, want);                                                                      \
        free(got_);                                                                                \
    } while (0)

static void test_identifiers_split_into_whole_and_parts(void)
{
    T_SPLIT("getUserName", "getusername +get +user +name");
    T_SPLIT("MAX_RETRY_COUNT", "max_retry_count +max +retry +count");
    T_SPLIT("parse_http2_frame", "parse_http2_frame +parse +http2 +frame");
    T_SPLIT("HTTPServerError", "httpservererror +http +server +error");
    T_SPLIT("http2Frame", "http2frame +http2 +frame");
    T_SPLIT("XMLHttpRequest", "xmlhttprequest +xml +http +request");
}

static void test_plain_words_have_no_parts(void)
{
    T_SPLIT("search", "search");
    T_SPLIT("Search", "search");
    T_SPLIT("ALLCAPS", "allcaps");
    T_SPLIT("md5sum utf8", "md5sum utf8");
    T_SPLIT("42", "42");
}

static void test_underscores_and_duplicate_parts(void)
{
    T_SPLIT("__init__", "__init__ +init");
    T_SPLIT("_private", "_private +private");
    T_SPLIT("get_get_user", "get_get_user +get +user");
    T_SPLIT("___", "___");
}

static void test_punctuation_separates_words(void)
{
    T_SPLIT("self.userName = foo->bar(baz, 2);", "self username +user +name foo bar baz 2");
    T_SPLIT("a-b c:d \"e\" (f*) ^g", "a b c d e f g");
    T_SPLIT("", "");
    T_SPLIT("  ... ", "");
}

/* Bytes >= 0x80 are word characters; only ASCII is lowercased. */
static void test_non_ascii_stays_in_words(void)
{
    T_SPLIT("na\xc3\xafveImpl", "na\xc3\xafveimpl +na\xc3\xafve +impl");
    T_SPLIT("\xc3\x9c"
            "ber",
            "\xc3\x9c"
            "ber");
    T_SPLIT("caf\xc3\xa9 bar", "caf\xc3\xa9 bar");
    /* invalid UTF-8 is just bytes */
    T_SPLIT("x\xff\xfey", "x\xff\xfey");
}

static void test_query_mode_emits_whole_words_only(void)
{
    char *got = split("getUserName MAX_RETRY", false);
    T_EQ_STR(got, "getusername max_retry");
    free(got);
}

static int record_offsets(void *ctx, const char *tok, size_t len, bool part, size_t start,
                          size_t end)
{
    sbuf_t *b = ctx;
    (void)tok;
    (void)len;
    sbuf_printf(b, "%s%zu-%zu", part ? "+" : " ", start, end);
    return 0;
}

static void test_offsets_point_at_word_and_parts(void)
{
    sbuf_t b = {0};
    const char *text = "x getUser";
    ftstok_split(text, strlen(text), true, record_offsets, &b);
    T_EQ_STR(b.data, " 0-1 2-9+2-5+5-9");
    sbuf_free(&b);
}

static int stop_after_two(void *ctx, const char *tok, size_t len, bool part, size_t s, size_t e)
{
    int *n = ctx;
    (void)tok, (void)len, (void)part, (void)s, (void)e;
    return ++*n == 2 ? 7 : 0;
}

static void test_callback_can_stop_the_walk(void)
{
    int n = 0;
    T_EQ_INT(ftstok_split("one two three", 13, true, stop_after_two, &n), 7);
    T_EQ_INT(n, 2);
}

static void test_long_tokens_are_capped_on_utf8_boundary(void)
{
    char text[400];
    memset(text, 'a', 127);
    memcpy(text + 127, "\xc3\xa9", 2); /* bytes 127..128: the cap would split this */
    memset(text + 129, 'b', 100);
    text[229] = 0;
    char *got = split(text, false);
    T_EQ_INT(strlen(got), 127);
    free(got);

    memset(text, 'z', 300);
    text[300] = 0;
    got = split(text, false);
    T_EQ_INT(strlen(got), FTSTOK_MAX_TOKEN);
    free(got);
}

static void test_many_parts_are_bounded(void)
{
    sbuf_t w = {0};
    for (int i = 0; i < 500; i++)
        sbuf_printf(&w, "p%d_", i);
    sbuf_t b = {0};
    int n = 0;
    ftstok_split(w.data, w.len, true, stop_after_two, &n); /* just must not crash */
    ftstok_split(w.data, w.len, true, collect, &b);
    int parts = 0;
    for (size_t i = 0; i < b.len; i++)
        parts += b.data[i] == '+';
    T_EQ_INT(parts, FTSTOK_MAX_PARTS);
    sbuf_free(&w);
    sbuf_free(&b);
}

/* ---- inside SQLite ---- */

static sqlite3 *fts_db(void)
{
    sqlite3 *db;
    err_t err;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return NULL;
    if (ftstok_register(db, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        sqlite3_close(db);
        return NULL;
    }
    char *msg = NULL;
    sqlite3_exec(db,
                 "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='embecode');"
                 "INSERT INTO t(rowid, body) VALUES (1, 'def getUserName(self): return x');"
                 "INSERT INTO t(rowid, body) VALUES (2, 'user name lookup');"
                 "INSERT INTO t(rowid, body) VALUES (3, 'MAX_RETRY_COUNT = 3');"
                 "CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');",
                 NULL, NULL, &msg);
    if (msg) {
        fprintf(stderr, "%s\n", msg);
        sqlite3_free(msg);
    }
    return db;
}

static char *matches(sqlite3 *db, const char *q)
{
    sqlite3_stmt *st;
    sbuf_t b = {0};
    sbuf_puts(&b, "");
    if (sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY rowid", -1, &st,
                           NULL) != SQLITE_OK)
        return xstrdup("prepare failed");
    sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        sbuf_printf(&b, "%s%lld", b.len ? "," : "", sqlite3_column_int64(st, 0));
    if (rc != SQLITE_DONE) sbuf_printf(&b, "error: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return sbuf_take(&b);
}

#define T_MATCH(db, q, want)                                                                       \
    do {                                                                                           \
        char *got_ = matches(db, q);                                                               \
        T_EQ_STR(got_, want);                                                                      \
        free(got_);                                                                                \
    } while (0)

static void test_fts5_finds_identifiers_by_whole_and_part(void)
{
    sqlite3 *db = fts_db();
    T_CHECK(db != NULL);
    if (!db) return;
    T_MATCH(db, "\"getusername\"", "1");
    T_MATCH(db, "\"user\"", "1,2");
    T_MATCH(db, "\"retry\"", "3");
    T_MATCH(db, "\"max_retry_count\"", "3");
    /* Query text is tokenized without parts: the quoted identifier is one exact token. */
    T_MATCH(db, "\"getUserName\"", "1");
    /* Parts share the whole word's position: a phrase across them does not match row 1. */
    T_MATCH(db, "\"user name\"", "2");
    sqlite3_close(db);
}

static void test_fts5_parts_are_colocated_with_the_word(void)
{
    sqlite3 *db = fts_db();
    if (!db) return;
    sqlite3_stmt *st;
    T_EQ_INT(sqlite3_prepare_v2(db,
                                "SELECT group_concat(term || '@' || offset, ' ') FROM "
                                "(SELECT term, offset FROM v WHERE doc = 1 ORDER BY offset, term)",
                                -1, &st, NULL),
             SQLITE_OK);
    T_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    T_EQ_STR((const char *)sqlite3_column_text(st, 0),
             "def@0 get@1 getusername@1 name@1 user@1 self@2 return@3 x@4");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int main(void)
{
    T_RUN(test_identifiers_split_into_whole_and_parts);
    T_RUN(test_plain_words_have_no_parts);
    T_RUN(test_underscores_and_duplicate_parts);
    T_RUN(test_punctuation_separates_words);
    T_RUN(test_non_ascii_stays_in_words);
    T_RUN(test_query_mode_emits_whole_words_only);
    T_RUN(test_offsets_point_at_word_and_parts);
    T_RUN(test_callback_can_stop_the_walk);
    T_RUN(test_long_tokens_are_capped_on_utf8_boundary);
    T_RUN(test_many_parts_are_bounded);
    T_RUN(test_fts5_finds_identifiers_by_whole_and_part);
    T_RUN(test_fts5_parts_are_colocated_with_the_word);
    return t_done();
}
