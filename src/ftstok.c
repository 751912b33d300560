/* ftstok.c — identifier-aware tokenizer; see ftstok.h for the rules. */
#include "ftstok.h"

#include <string.h>

static bool is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c >= 0x80;
}

static bool is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Length to keep of a token of n bytes: at most FTSTOK_MAX_TOKEN, never ending inside a
 * UTF-8 sequence (a cut before a continuation byte backs off to the sequence start). */
static size_t capped_len(const unsigned char *s, size_t n)
{
    if (n <= FTSTOK_MAX_TOKEN) return n;
    size_t cut = FTSTOK_MAX_TOKEN;
    while (cut > 0 && (s[cut] & 0xC0) == 0x80)
        cut--;
    return cut ? cut : FTSTOK_MAX_TOKEN;
}

static void lower_copy(char *dst, const unsigned char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(is_upper(src[i]) ? src[i] + 32 : src[i]);
}

/* Is there a part boundary before w[i]? (i > 0, w[i-1] and w[i] both not '_') */
static bool case_boundary(const unsigned char *w, size_t i, size_t n)
{
    if (!is_upper(w[i])) return false;
    unsigned char p = w[i - 1];
    if (is_lower(p) || is_digit(p) || p >= 0x80) return true;
    return is_upper(p) && i + 1 < n && is_lower(w[i + 1]);
}

typedef struct {
    size_t off, len;
} span_t;

/* Fills parts with the spans of w's parts (at most FTSTOK_MAX_PARTS); returns their count. */
static size_t word_parts(const unsigned char *w, size_t n, span_t *parts)
{
    size_t np = 0, i = 0;
    while (i < n && np < FTSTOK_MAX_PARTS) {
        while (i < n && w[i] == '_')
            i++;
        if (i == n) break;
        size_t start = i++;
        while (i < n && w[i] != '_' && !case_boundary(w, i, n))
            i++;
        parts[np++] = (span_t){start, i - start};
    }
    return np;
}

static bool same_lower(const unsigned char *a, size_t na, const unsigned char *b, size_t nb)
{
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++) {
        unsigned char x = is_upper(a[i]) ? a[i] + 32 : a[i];
        unsigned char y = is_upper(b[i]) ? b[i] + 32 : b[i];
        if (x != y) return false;
    }
    return true;
}

/* Emits word text[start..start+n) and its parts; buf is scratch for the lowercased token. */
static int emit_word(const unsigned char *text, size_t start, size_t n, bool with_parts, char *buf,
                     ftstok_cb cb, void *ctx)
{
    const unsigned char *w = text + start;
    size_t keep = capped_len(w, n);
    lower_copy(buf, w, keep);
    int rc = cb(ctx, buf, keep, false, start, start + n);
    if (rc || !with_parts) return rc;

    span_t parts[FTSTOK_MAX_PARTS];
    size_t np = word_parts(w, n, parts);
    if (np == 1 && parts[0].len == n) return 0; /* the word is its only part */
    for (size_t i = 0; i < np; i++) {
        const unsigned char *p = w + parts[i].off;
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = same_lower(p, parts[i].len, w + parts[j].off, parts[j].len);
        if (dup) continue;
        keep = capped_len(p, parts[i].len);
        lower_copy(buf, p, keep);
        size_t at = start + parts[i].off;
        rc = cb(ctx, buf, keep, true, at, at + parts[i].len);
        if (rc) return rc;
    }
    return 0;
}

int ftstok_split(const char *text, size_t len, bool with_parts, ftstok_cb cb, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    char buf[FTSTOK_MAX_TOKEN] = {0};
    size_t i = 0;
    while (i < len) {
        if (!is_word(s[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && is_word(s[i]))
            i++;
        int rc = emit_word(s, start, i - start, with_parts, buf, cb, ctx);
        if (rc) return rc;
    }
    return 0;
}

/* ---- FTS5 glue ---- */

typedef struct {
    void *fts_ctx;
    int (*token)(void *ctx, int tflags, const char *tok, int n, int start, int end);
} fts_call_t;

static int fts_emit(void *ctx, const char *tok, size_t len, bool part, size_t start, size_t end)
{
    fts_call_t *c = ctx;
    return c->token(c->fts_ctx, part ? FTS5_TOKEN_COLOCATED : 0, tok, (int)len, (int)start,
                    (int)end);
}

/* The tokenizer has no options and no state; xCreate hands out a static dummy instance. */
static int tok_create(void *unused, const char **args, int nargs, Fts5Tokenizer **out)
{
    static int instance;
    (void)unused;
    (void)args;
    if (nargs > 0) return SQLITE_ERROR; /* tokenize='embecode' takes no arguments */
    *out = (Fts5Tokenizer *)&instance;
    return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *t)
{
    (void)t;
}

static int tok_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int n,
                        int (*token)(void *, int, const char *, int, int, int))
{
    (void)t;
    fts_call_t call = {ctx, token};
    bool with_parts = !(flags & FTS5_TOKENIZE_QUERY);
    return ftstok_split(text, n > 0 ? (size_t)n : 0, with_parts, fts_emit, &call);
}

static fts5_api *fts5_api_of(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    return api;
}

int ftstok_register(sqlite3 *db, err_t *err)
{
    fts5_api *api = fts5_api_of(db);
    if (!api || api->iVersion < 2)
        return err_set(err,
                       "SQLite library %s has no FTS5 full-text search; install a "
                       "libsqlite3 built with FTS5 (SQLITE_ENABLE_FTS5)",
                       sqlite3_libversion());
    fts5_tokenizer tok = {tok_create, tok_delete, tok_tokenize};
    int rc = api->xCreateTokenizer(api, FTSTOK_NAME, NULL, &tok, NULL);
    if (rc != SQLITE_OK)
        return err_set(err, "cannot register the FTS5 tokenizer '%s': %s", FTSTOK_NAME,
                       sqlite3_errstr(rc));
    return 0;
}
