/* config.c — see config.h. Each known key is one row of `specs` (type, field, range); a file
 * is parsed with toml.c, checked row by row into a copy of the current config, and the copy
 * replaces the config only when the whole file is good. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "toml.h"

#define DEFAULT_BUDGET 1000
#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

typedef enum {
    SPEC_GLOBS,  /* array of non-empty strings -> char ** + size_t count */
    SPEC_TEXT,   /* any string, empty allowed -> char * */
    SPEC_NAME,   /* non-empty string -> char * */
    SPEC_CHOICE, /* one of `choices` -> char * */
    SPEC_URL,    /* http:// or https:// URL -> char * */
    SPEC_ENVVAR, /* environment variable name -> char * */
    SPEC_INT,    /* integer in [min, max] -> int */
    SPEC_BOOL,   /* true/false -> bool */
    SPEC_SIZE,   /* integer bytes or a size string, in [min, max] -> uint64_t */
    SPEC_BYTES,  /* integer bytes only, in [min, max] -> uint64_t */
} spec_kind_t;

typedef struct {
    const char *key; /* full dotted key */
    spec_kind_t kind;
    size_t field, count_field; /* offsetof(config_t, ...) */
    int64_t min, max;
    const char *range; /* sizes: the range in words, for messages */
    const char *const *choices;
} spec_t;

static const char *const modes[] = {"hybrid", "semantic", "keyword", NULL};
static const char *const providers[] = {"local", "openai", "ollama", NULL};

#define F(f) offsetof(config_t, f)
static const spec_t specs[] = {
    {"index.include", SPEC_GLOBS, F(include), F(n_include), 0, 0, NULL, NULL},
    {"index.exclude", SPEC_GLOBS, F(exclude), F(n_exclude), 0, 0, NULL, NULL},
    {"index.max_file_size", SPEC_SIZE, F(max_file_bytes), 0, 1, (int64_t)GiB, "from 1 byte to 1GiB",
     NULL},
    {"embeddings.model", SPEC_NAME, F(embed_model), 0, 0, 0, NULL, NULL},
    {"embeddings.provider", SPEC_CHOICE, F(embed_provider), 0, 0, 0, NULL, providers},
    {"embeddings.url", SPEC_URL, F(embed_url), 0, 0, 0, NULL, NULL},
    {"embeddings.api_key_env", SPEC_ENVVAR, F(api_key_env), 0, 0, 0, NULL, NULL},
    {"embeddings.query_prompt", SPEC_TEXT, F(query_prompt), 0, 0, 0, NULL, NULL},
    {"embeddings.document_prompt", SPEC_TEXT, F(document_prompt), 0, 0, 0, NULL, NULL},
    {"search.default_mode", SPEC_CHOICE, F(default_mode), 0, 0, 0, NULL, modes},
    {"search.top_k", SPEC_INT, F(top_k), 0, 1, 100, NULL, NULL},
    {"daemon.debounce_ms", SPEC_INT, F(debounce_ms), 0, 0, 60000, NULL, NULL},
    {"daemon.auto_watch", SPEC_BOOL, F(auto_watch), 0, 0, 0, NULL, NULL},
    {"cache.max_size_bytes", SPEC_BYTES, F(cache_max_bytes), 0, 1000000, INT64_MAX, "at least 1MB",
     NULL},
    {"cache.max_size", SPEC_SIZE, F(cache_max_bytes), 0, 1000000, INT64_MAX, "at least 1MB", NULL},
};
#undef F
#define LANGUAGES_KEY "index.languages"
#define BUDGET_MIN 100
#define BUDGET_MAX 100000

/* ---- defaults, copy, free -------------------------------------------------------------- */

static void set_budget(config_t *c, const char *lang, int budget)
{
    for (size_t i = 0; i < c->n_budgets; i++) {
        if (strcasecmp(c->budgets[i].lang, lang) == 0) {
            c->budgets[i].budget = budget;
            return;
        }
    }
    c->budgets = xrealloc(c->budgets, (c->n_budgets + 1) * sizeof *c->budgets);
    c->budgets[c->n_budgets++] = (config_budget_t){xstrdup(lang), budget};
}

void config_defaults(config_t *c)
{
    memset(c, 0, sizeof *c);
    set_budget(c, "python", 1500);
    set_budget(c, "typescript", 1200);
    set_budget(c, "javascript", 1200);
    set_budget(c, "default", DEFAULT_BUDGET);
    c->max_file_bytes = MiB;
    c->embed_model = xstrdup("nomic-embed-text-v1.5");
    c->embed_provider = xstrdup("local");
    c->default_mode = xstrdup("hybrid");
    c->top_k = 10;
    c->debounce_ms = 500;
    c->auto_watch = true;
    c->cache_max_bytes = 2000000000ull;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static char **strv_dup(char *const *v, size_t n)
{
    if (!n) return NULL;
    char **out = xmalloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(v[i]);
    return out;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void config_copy(config_t *dst, const config_t *src)
{
    *dst = *src;
    dst->include = strv_dup(src->include, src->n_include);
    dst->exclude = strv_dup(src->exclude, src->n_exclude);
    dst->sources = strv_dup(src->sources, src->n_sources);
    dst->budgets = src->n_budgets ? xmalloc(src->n_budgets * sizeof *dst->budgets) : NULL;
    for (size_t i = 0; i < src->n_budgets; i++)
        dst->budgets[i] = (config_budget_t){xstrdup(src->budgets[i].lang), src->budgets[i].budget};
    dst->embed_model = dup_or_null(src->embed_model);
    dst->embed_provider = dup_or_null(src->embed_provider);
    dst->embed_url = dup_or_null(src->embed_url);
    dst->api_key_env = dup_or_null(src->api_key_env);
    dst->query_prompt = dup_or_null(src->query_prompt);
    dst->document_prompt = dup_or_null(src->document_prompt);
    dst->default_mode = dup_or_null(src->default_mode);
}

void config_free(config_t *c)
{
    if (!c) return;
    strv_free(c->include, c->n_include);
    strv_free(c->exclude, c->n_exclude);
    strv_free(c->sources, c->n_sources);
    for (size_t i = 0; i < c->n_budgets; i++)
        free(c->budgets[i].lang);
    free(c->budgets);
    free(c->embed_model);
    free(c->embed_provider);
    free(c->embed_url);
    free(c->api_key_env);
    free(c->query_prompt);
    free(c->document_prompt);
    free(c->default_mode);
    memset(c, 0, sizeof *c);
}

int config_budget_for(const config_t *c, const char *lang)
{
    int fallback = DEFAULT_BUDGET;
    for (size_t i = 0; c && i < c->n_budgets; i++) {
        if (lang && strcasecmp(c->budgets[i].lang, lang) == 0) return c->budgets[i].budget;
        if (strcasecmp(c->budgets[i].lang, "default") == 0) fallback = c->budgets[i].budget;
    }
    return fallback;
}

/* ---- sizes ------------------------------------------------------------------------------ */

int config_parse_size(const char *text, uint64_t *bytes)
{
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1},      {"b", 1},        {"kb", 1e3},     {"mb", 1e6},     {"gb", 1e9},
                 {"tb", 1e12}, {"kib", 0x1p10}, {"mib", 0x1p20}, {"gib", 0x1p30}, {"tib", 0x1p40}};
    if (!text) return -1;
    const char *s = text;
    while (*s == ' ')
        s++;
    if (!(*s >= '0' && *s <= '9')) return -1; /* no sign, no "inf", no ".5" */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || isnan(v)) return -1;
    for (const char *d = s; d < end; d++) /* plain decimal digits and one '.', nothing else */
        if (!((*d >= '0' && *d <= '9') || *d == '.')) return -1;
    while (*end == ' ')
        end++;
    char unit[8];
    size_t n = strlen(end);
    while (n && end[n - 1] == ' ')
        n--;
    if (n >= sizeof unit) return -1;
    for (size_t i = 0; i < n; i++)
        unit[i] = (char)(end[i] | 0x20);
    unit[n] = 0;
    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        if (strcmp(unit, units[i].unit) != 0) continue;
        double b = v * units[i].mult;
        if (!(b < 0x1p63)) return -1;
        if (units[i].mult == 1 && b != floor(b)) return -1; /* "1.5" bytes */
        *bytes = (uint64_t)llround(b);
        return 0;
    }
    return -1;
}

/* Formats bytes for messages, in the largest unit that divides them exactly ("2GiB"). */
static void format_size(uint64_t b, char *buf, size_t n)
{
    static const struct {
        uint64_t mult;
        const char *unit;
    } u[] = {{GiB, "GiB"},          {MiB, "MiB"},    {KiB, "KiB"},
             {1000000000ull, "GB"}, {1000000, "MB"}, {1000, "KB"}};
    for (size_t i = 0; i < ARRAY_LEN(u); i++) {
        if (b >= u[i].mult && b % u[i].mult == 0) {
            snprintf(buf, n, "%llu%s", (unsigned long long)(b / u[i].mult), u[i].unit);
            return;
        }
    }
    snprintf(buf, n, "%llu bytes", (unsigned long long)b);
}

/* ---- checking values -------------------------------------------------------------------- */

typedef struct {
    const char *path; /* the file, for messages */
    err_t *err;
} load_t;

static int bad(load_t *L, const toml_value_t *v, const char *key, const char *fmt, ...)
    EC_PRINTF(4, 5);
static int bad(load_t *L, const toml_value_t *v, const char *key, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(L->err, "%s:%d: %s (key '%s')", L->path, toml_line(v), msg, key);
}

/* What a value is, for "got ..." in messages. */
static const char *show(const toml_value_t *v, char *buf, size_t n)
{
    size_t len;
    const char *s;
    switch (toml_kind(v)) {
    case TOML_INTEGER:
        snprintf(buf, n, "%lld", (long long)toml_integer(v));
        break;
    case TOML_FLOAT:
        snprintf(buf, n, "%g (a float)", toml_float(v));
        break;
    case TOML_BOOLEAN:
        snprintf(buf, n, "%s", toml_boolean(v) ? "true" : "false");
        break;
    case TOML_STRING:
        s = toml_string(v, &len);
        snprintf(buf, n, "\"%.60s%s\"", s, len > 60 ? "..." : "");
        break;
    default:
        snprintf(buf, n, "%s %s", toml_kind(v) == TOML_ARRAY ? "an" : "a",
                 toml_kind_name(toml_kind(v)));
    }
    return buf;
}

static const char *leaf(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

/* A string without NULs, or NULL (after setting err) when v is not one. */
static const char *want_string(load_t *L, const toml_value_t *v, const char *key, const char *what)
{
    char buf[100];
    size_t len;
    const char *s = toml_string(v, &len);
    if (toml_kind(v) != TOML_STRING) {
        bad(L, v, key, "%s must be %s, got %s", leaf(key), what, show(v, buf, sizeof buf));
        return NULL;
    }
    if (strlen(s) != len) {
        bad(L, v, key, "%s must not contain NUL characters", leaf(key));
        return NULL;
    }
    return s;
}

static bool is_env_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
              (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static int apply_globs(config_t *c, const spec_t *sp, const toml_value_t *v, load_t *L)
{
    char buf[100];
    if (toml_kind(v) != TOML_ARRAY)
        return bad(L, v, sp->key, "%s must be an array of glob strings like [\"src/**\"], got %s",
                   leaf(sp->key), show(v, buf, sizeof buf));
    size_t n = toml_array_len(v);
    for (size_t i = 0; i < n; i++) {
        const toml_value_t *e = toml_array_at(v, i);
        size_t len;
        const char *s = toml_string(e, &len);
        if (toml_kind(e) != TOML_STRING || !len || strlen(s) != len)
            return bad(L, e, sp->key, "%s[%zu] must be a non-empty glob string, got %s",
                       leaf(sp->key), i, show(e, buf, sizeof buf));
    }
    char ***slot = (char ***)((char *)c + sp->field);
    size_t *count = (size_t *)((char *)c + sp->count_field);
    strv_free(*slot, *count);
    *slot = n ? xmalloc(n * sizeof **slot) : NULL;
    for (size_t i = 0; i < n; i++)
        (*slot)[i] = xstrdup(toml_string(toml_array_at(v, i), NULL));
    *count = n;
    return 0;
}

static int apply_string(config_t *c, const spec_t *sp, const toml_value_t *v, load_t *L)
{
    const char *name = leaf(sp->key);
    const char *s = want_string(L, v, sp->key,
                                sp->kind == SPEC_URL      ? "an http:// or https:// URL"
                                : sp->kind == SPEC_ENVVAR ? "the name of an environment variable"
                                                          : "a string");
    if (!s) return -1;
    if (sp->kind == SPEC_NAME && !*s) return bad(L, v, sp->key, "%s must not be empty", name);
    if (sp->kind == SPEC_CHOICE) {
        size_t i = 0;
        while (sp->choices[i] && strcmp(sp->choices[i], s) != 0)
            i++;
        if (!sp->choices[i]) {
            sbuf_t list = {0};
            for (size_t k = 0; sp->choices[k]; k++)
                sbuf_printf(&list, "%s\"%s\"", k ? (sp->choices[k + 1] ? ", " : " or ") : "",
                            sp->choices[k]);
            bad(L, v, sp->key, "%s must be %s, got \"%.60s\"", name, list.data, s);
            sbuf_free(&list);
            return -1;
        }
    }
    if (sp->kind == SPEC_URL && strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
        return bad(L, v, sp->key, "%s must be an http:// or https:// URL, got \"%.60s\"", name, s);
    if (sp->kind == SPEC_ENVVAR && !is_env_name(s)) /* never echo it: it may be the key itself */
        return bad(L, v, sp->key,
                   "%s must be the NAME of an environment variable (like "
                   "OPENAI_API_KEY) that holds the key, not the key itself",
                   name);
    char **slot = (char **)((char *)c + sp->field);
    free(*slot);
    *slot = xstrdup(s);
    return 0;
}

static int apply_number(config_t *c, const spec_t *sp, const toml_value_t *v, load_t *L)
{
    char buf[100], got[32];
    const char *name = leaf(sp->key);
    void *field = (char *)c + sp->field;
    if (sp->kind == SPEC_BOOL) {
        if (toml_kind(v) != TOML_BOOLEAN)
            return bad(L, v, sp->key, "%s must be true or false, got %s", name,
                       show(v, buf, sizeof buf));
        *(bool *)field = toml_boolean(v);
        return 0;
    }
    if (sp->kind == SPEC_INT) {
        int64_t x = toml_integer(v);
        if (toml_kind(v) != TOML_INTEGER || x < sp->min || x > sp->max)
            return bad(L, v, sp->key, "%s must be an integer from %lld to %lld, got %s", name,
                       (long long)sp->min, (long long)sp->max, show(v, buf, sizeof buf));
        *(int *)field = (int)x;
        return 0;
    }
    uint64_t bytes = 0; /* SPEC_SIZE / SPEC_BYTES */
    bool ok = toml_kind(v) == TOML_INTEGER && toml_integer(v) >= 0;
    if (ok) bytes = (uint64_t)toml_integer(v);
    if (!ok && sp->kind == SPEC_SIZE && toml_kind(v) == TOML_STRING)
        ok = config_parse_size(toml_string(v, NULL), &bytes) == 0;
    if (!ok && sp->kind == SPEC_BYTES)
        return bad(L, v, sp->key,
                   "%s must be a whole number of bytes, got %s (use "
                   "cache.max_size for sizes like \"2GB\")",
                   name, show(v, buf, sizeof buf));
    if (!ok)
        return bad(L, v, sp->key,
                   "%s must be a number of bytes or a size like \"1MB\", "
                   "\"512KiB\" or \"1.5GiB\" (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), "
                   "got %s",
                   name, show(v, buf, sizeof buf));
    if (bytes < (uint64_t)sp->min || bytes > (uint64_t)sp->max) {
        format_size(bytes, got, sizeof got);
        return bad(L, v, sp->key, "%s must be %s, got %s", name, sp->range, got);
    }
    *(uint64_t *)field = bytes;
    return 0;
}

static int apply_languages(config_t *c, const toml_value_t *v, load_t *L)
{
    char buf[100];
    if (toml_kind(v) != TOML_TABLE)
        return bad(L, v, LANGUAGES_KEY,
                   "languages must be a table of language = budget, e.g. "
                   "[index.languages] then python = 1500; got %s",
                   show(v, buf, sizeof buf));
    for (size_t i = 0; i < toml_table_len(v); i++) {
        const char *lang = toml_table_key(v, i);
        const toml_value_t *b = toml_table_value(v, i);
        char *key = xasprintf(LANGUAGES_KEY ".%s", lang);
        int64_t x = toml_integer(b);
        int rc = 0;
        if (!*lang)
            rc = bad(L, b, key, "language names must not be empty");
        else if (toml_kind(b) != TOML_INTEGER || x < BUDGET_MIN || x > BUDGET_MAX)
            rc = bad(L, b, key,
                     "%s budget must be an integer from %d to %d (non-whitespace "
                     "characters per chunk), got %s",
                     lang, BUDGET_MIN, BUDGET_MAX, show(b, buf, sizeof buf));
        else
            set_budget(c, lang, (int)x);
        free(key);
        if (rc) return rc;
    }
    return 0;
}

/* ---- walking a file ----------------------------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b), row[64];
    if (m >= ARRAY_LEN(row) || n >= 64) return SIZE_MAX;
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = EC_MIN(row[j] + 1, row[j - 1] + 1);
            row[j] = EC_MIN(best, diag + (a[i - 1] != b[j - 1]));
            diag = up;
        }
    }
    return row[m];
}

/* The known key or section a user most likely meant, copied into out; false if none. */
static bool suggest(const char *key, char *out, size_t n)
{
    for (size_t i = 0; i < ARRAY_LEN(specs); i++) { /* right name, wrong section */
        if (strcmp(leaf(specs[i].key), leaf(key)) == 0) {
            snprintf(out, n, "%s", specs[i].key);
            return true;
        }
    }
    size_t best_d = 3; /* at most two typos */
    for (size_t i = 0; i <= ARRAY_LEN(specs); i++) {
        const char *cand = i < ARRAY_LEN(specs) ? specs[i].key : LANGUAGES_KEY;
        for (int whole = 0; whole < 2; whole++) { /* the section, then the full key */
            char form[64];
            snprintf(form, sizeof form, "%.*s", whole ? 63 : (int)strcspn(cand, "."), cand);
            size_t d = edit_distance(key, form);
            if (d < best_d && d * 3 < strlen(key)) {
                best_d = d;
                snprintf(out, n, "%s", form);
            }
        }
    }
    return best_d < 3;
}

static void warn_unknown(load_t *L, const toml_value_t *v, const char *key)
{
    char s[64];
    if (suggest(key, s, sizeof s))
        log_warn("%s:%d: unknown key '%s' ignored (did you mean '%s'?)", L->path, toml_line(v), key,
                 s);
    else
        log_warn("%s:%d: unknown key '%s' ignored", L->path, toml_line(v), key);
}

static bool is_section(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < ARRAY_LEN(specs); i++)
        if (strncmp(specs[i].key, name, n) == 0 && specs[i].key[n] == '.') return true;
    return false;
}

static int apply_section(config_t *c, const char *name, const toml_value_t *sec, load_t *L)
{
    char buf[100];
    if (toml_kind(sec) != TOML_TABLE)
        return bad(L, sec, name, "%s must be a table (a [%s] section), got %s", name, name,
                   show(sec, buf, sizeof buf));
    const toml_value_t *a = toml_table_get(sec, "max_size");
    const toml_value_t *b = toml_table_get(sec, "max_size_bytes");
    if (!strcmp(name, "cache") && a && b) {
        const toml_value_t *later = toml_line(a) > toml_line(b) ? a : b;
        return bad(L, later, later == a ? "cache.max_size" : "cache.max_size_bytes",
                   "set cache.max_size or cache.max_size_bytes, not both");
    }
    for (size_t i = 0; i < toml_table_len(sec); i++) {
        const toml_value_t *v = toml_table_value(sec, i);
        char *key = xasprintf("%s.%s", name, toml_table_key(sec, i));
        const spec_t *sp = NULL;
        for (size_t k = 0; k < ARRAY_LEN(specs) && !sp; k++)
            if (strcmp(specs[k].key, key) == 0) sp = &specs[k];
        int rc = 0;
        if (!sp && strcmp(key, LANGUAGES_KEY) == 0)
            rc = apply_languages(c, v, L);
        else if (!sp)
            warn_unknown(L, v, key);
        else if (sp->kind == SPEC_GLOBS)
            rc = apply_globs(c, sp, v, L);
        else if (sp->kind <= SPEC_ENVVAR)
            rc = apply_string(c, sp, v, L);
        else
            rc = apply_number(c, sp, v, L);
        free(key);
        if (rc) return rc;
    }
    return 0;
}

int config_load_file(config_t *c, const char *path, err_t *err)
{
    toml_value_t *doc;
    if (toml_parse_file(path, &doc, err) < 0) return -1;
    config_t next;
    config_copy(&next, c);
    load_t L = {path, err};
    int rc = 0;
    for (size_t i = 0; i < toml_table_len(doc) && rc == 0; i++) {
        const char *name = toml_table_key(doc, i);
        if (is_section(name))
            rc = apply_section(&next, name, toml_table_value(doc, i), &L);
        else
            warn_unknown(&L, toml_table_value(doc, i), name);
    }
    toml_free(doc);
    if (rc < 0) {
        config_free(&next);
        return -1;
    }
    next.sources = xrealloc(next.sources, (next.n_sources + 1) * sizeof *next.sources);
    next.sources[next.n_sources++] = xstrdup(path);
    config_free(c);
    *c = next;
    return 0;
}

/* Loads path unless it does not exist. */
static int load_if_present(config_t *c, const char *path, err_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        return err_set(err, "cannot read config file %s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return err_set(err, "config file %s is a directory; remove it or make it a file", path);
    return config_load_file(c, path, err);
}

int config_load(config_t *c, const char *project_root, err_t *err)
{
    config_free(c);
    config_defaults(c);
    char *home = xdg_config_home();
    char *dir = path_join(home, "embecode");
    char *user = path_join(dir, "config.toml");
    int rc = load_if_present(c, user, err);
    free(home);
    free(dir);
    free(user);
    if (rc == 0 && project_root) {
        char *proj = path_join(project_root, ".embecode.toml");
        rc = load_if_present(c, proj, err);
        free(proj);
    }
    return rc;
}
