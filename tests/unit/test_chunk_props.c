/* test_chunk_props.c — property tests of chunk_source() on real files found on this machine
 * (Debian's Python library, /usr/include, npm packages and the grammars' scanners in
 * node_modules, googletest, PHP/shell/SQL/Markdown
 * files under /usr, and tests/fixtures/chunk), on mutated copies of them (truncated, NUL
 * bytes, invalid UTF-8, random byte flips) and on files parsed with the wrong grammar.
 *
 * For every chunking it checks: every non-whitespace byte is in exactly one chunk; chunks
 * are sorted, do not overlap and are not blank; line numbers agree with the bytes; a chunk
 * over the budget is one syntax node or holds orphan text (text of a node that none of its
 * children covers), or, without a grammar, is one line; for parsed languages every chunk
 * starts where a syntax node starts and ends where one ends (checked on a fresh parse); at
 * most CHUNK_MAX_DEFINITIONS definitions per chunk. A violation prints the file, the
 * mutation and the chunk.
 *
 * Files are sampled deterministically (every k-th of each sorted list); T_CHUNK_FILES caps
 * the number of source files (default 900) and T_CHUNK_SECONDS the time (default 15). */
#include "t.h"

#include <ftw.h>
#include <stdint.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "chunk.h"
#include "lang.h"
#include "util.h"

/* ---- collecting files ------------------------------------------------------------------- */

typedef struct {
    char **v;
    size_t n, cap;
} paths_t;

static paths_t g_found;
static const char *const *g_exts; /* extensions (with dot) the current walk keeps */

static bool has_ext(const char *path, const char *const *exts)
{
    size_t n = strlen(path);
    for (; *exts; exts++) {
        size_t k = strlen(*exts);
        if (n > k && strcmp(path + n - k, *exts) == 0) return true;
    }
    return false;
}

static int walk_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_F && S_ISREG(st->st_mode) && st->st_size > 0 && has_ext(path, g_exts)) {
        if (g_found.n == g_found.cap) {
            g_found.cap = g_found.cap ? g_found.cap * 2 : 256;
            g_found.v = xrealloc(g_found.v, g_found.cap * sizeof *g_found.v);
        }
        g_found.v[g_found.n++] = xstrdup(path);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int cmp_hash(const void *a, const void *b)
{
    uint64_t x = fnv1a(*(char *const *)a), y = fnv1a(*(char *const *)b);
    return x < y ? -1 : x > y;
}

/* Adds up to `cap` files under root with one of exts: every k-th of the sorted list. */
static void sample_files(paths_t *out, const char *root, const char *const *exts, size_t cap)
{
    if (cap == 0) return;
    g_found = (paths_t){0};
    g_exts = exts;
    if (nftw(root, walk_cb, 32, FTW_PHYS) != 0 && g_found.n == 0) return;
    qsort(g_found.v, g_found.n, sizeof *g_found.v, cmp_str);
    size_t step = g_found.n > cap ? (g_found.n + cap - 1) / cap : 1;
    for (size_t i = 0; i < g_found.n; i++) {
        if (i % step == 0) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 256;
                out->v = xrealloc(out->v, out->cap * sizeof *out->v);
            }
            out->v[out->n++] = g_found.v[i];
        } else {
            free(g_found.v[i]);
        }
    }
    free(g_found.v);
}

/* ---- checking one chunking -------------------------------------------------------------- */

static bool is_space(unsigned char b)
{
    return b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r';
}

static uint32_t size_of(const char *s, uint32_t a, uint32_t b)
{
    uint32_t n = 0;
    for (uint32_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)s[i];
        n += !is_space(c) && (c & 0xC0) != 0x80;
    }
    return n;
}

/* Node boundaries of a fresh parse: bit sets of the bytes where some node starts / ends,
 * and (for over-budget chunks) whether a node spans exactly [s, e). */
typedef struct {
    TSTree *tree;
    uint8_t *starts, *ends;
    uint8_t *in_leaf; /* bytes inside some leaf node (the others are orphans or blank) */
} bounds_t;

static void bounds_make(bounds_t *b, int gi, const char *src, uint32_t len)
{
    memset(b, 0, sizeof *b);
    TSParser *p = ts_parser_new();
    if (!ts_parser_set_language(p, lang_grammar_language(gi))) {
        ts_parser_delete(p);
        return;
    }
    b->tree = ts_parser_parse_string(p, NULL, src, len);
    ts_parser_delete(p);
    if (!b->tree) return;
    b->starts = xcalloc(len / 8 + 2, 1);
    b->ends = xcalloc(len / 8 + 2, 1);
    b->in_leaf = xcalloc(len / 8 + 2, 1);
    TSTreeCursor cur = ts_tree_cursor_new(ts_tree_root_node(b->tree));
    for (;;) {
        TSNode n = ts_tree_cursor_current_node(&cur);
        uint32_t s = ts_node_start_byte(n), e = ts_node_end_byte(n);
        if (s <= len) b->starts[s / 8] |= (uint8_t)(1u << (s % 8));
        if (e <= len) b->ends[e / 8] |= (uint8_t)(1u << (e % 8));
        if (ts_node_child_count(n) == 0)
            for (uint32_t i = s; i < e && i < len; i++)
                b->in_leaf[i / 8] |= (uint8_t)(1u << (i % 8));
        if (ts_tree_cursor_goto_first_child(&cur)) continue;
        while (!ts_tree_cursor_goto_next_sibling(&cur))
            if (!ts_tree_cursor_goto_parent(&cur)) goto done;
    }
done:
    ts_tree_cursor_delete(&cur);
}

static void bounds_free(bounds_t *b)
{
    if (b->tree) ts_tree_delete(b->tree);
    free(b->starts);
    free(b->ends);
    free(b->in_leaf);
}

static bool bit(const uint8_t *set, uint32_t i)
{
    return (set[i / 8] >> (i % 8)) & 1;
}

static bool bit(const uint8_t *set, uint32_t i);

/* May a chunk [s, e) exceed the budget? Only when it is a single node, or when it holds
 * orphan text (in a node but in none of its children) that glues its neighbours. */
static bool unsplittable(const bounds_t *b, const char *src, uint32_t s, uint32_t e)
{
    TSNode n = ts_node_descendant_for_byte_range(ts_tree_root_node(b->tree), s, e);
    if (!ts_node_is_null(n) && ts_node_start_byte(n) == s && ts_node_end_byte(n) == e) return true;
    for (uint32_t i = s; i < e; i++)
        if (!is_space((unsigned char)src[i]) && !bit(b->in_leaf, i)) return true;
    return false;
}

static long g_checked_chunkings, g_checked_chunks, g_parsed_chunkings, g_violations;

static void report(const char *what, const char *file, const char *mutation, const char *lang,
                   int budget, const char *src, const chunk_t *k)
{
    g_violations++;
    if (g_violations > 20) return;
    fprintf(stderr, "  VIOLATION %s: %s [%s] lang=%s budget=%d", what, file, mutation, lang,
            budget);
    if (k) {
        uint32_t n = k->end_byte - k->start_byte;
        fprintf(stderr, " chunk [%u,%u) lines %u-%u defs {%s}:\n----\n%.*s%s\n----\n",
                k->start_byte, k->end_byte, k->start_line, k->end_line, k->definitions,
                (int)EC_MIN(n, 600u), src + k->start_byte, n > 600 ? " …" : "");
    } else {
        fputc('\n', stderr);
    }
}

/* Chunks src and checks every property; returns false on the first violation. */
static bool check_chunking_opt(chunker_t *ch, const char *file, const char *mutation,
                               const char *lang, const char *src, uint32_t len, int budget,
                               bool check_nodes)
{
    chunk_list_t l = {0};
    err_t err;
    if (chunk_source(ch, lang, src, len, budget, &l, &err) != 0) {
        report(err.msg, file, mutation, lang, budget, src, NULL);
        return false;
    }
    g_checked_chunkings++;
    g_checked_chunks += (long)l.n;
    int gi = lang_grammar_index(lang);
    bounds_t b = {0};
    if (gi >= 0 && check_nodes) {
        bounds_make(&b, gi, src, len);
        g_parsed_chunkings += b.tree != NULL;
    }
    bool ok = true;
    uint32_t pos = 0, line = 1;
    for (size_t i = 0; i < l.n && ok; i++) {
        const chunk_t *k = &l.v[i];
#define FAIL(what)                                                                                 \
    do {                                                                                           \
        report(what, file, mutation, lang, budget, src, k);                                        \
        ok = false;                                                                                \
    } while (0)
        if (k->start_byte >= k->end_byte || k->end_byte > len)
            FAIL("empty or out of range");
        else if (k->start_byte < pos)
            FAIL("overlaps or is out of order");
        else if (!k->definitions)
            FAIL("NULL definitions");
        if (!ok) break;
        for (uint32_t j = pos; j < k->start_byte; j++)
            if (!is_space((unsigned char)src[j])) {
                report("non-whitespace byte before this chunk is in no chunk", file, mutation, lang,
                       budget, src, k);
                fprintf(stderr, "  (byte %u = 0x%02x)\n", j, (unsigned char)src[j]);
                ok = false;
                break;
            }
        if (!ok) break;
        bool blank = true;
        for (uint32_t j = k->start_byte; j < k->end_byte && blank; j++)
            blank = is_space((unsigned char)src[j]);
        if (blank) FAIL("chunk is blank");
        for (uint32_t j = pos; j < k->start_byte; j++)
            line += src[j] == '\n';
        if (k->start_line != line) FAIL("start_line disagrees with start_byte");
        for (uint32_t j = k->start_byte; j + 1 < k->end_byte; j++)
            line += src[j] == '\n';
        if (ok && k->end_line != line) FAIL("end_line disagrees with end_byte");
        line += src[k->end_byte - 1] == '\n';
        pos = k->end_byte;
        if (!ok) break;
        uint32_t size = size_of(src, k->start_byte, k->end_byte);
        if (b.tree) {
            if (!bit(b.starts, k->start_byte))
                FAIL("chunk does not start at a node start");
            else if (!bit(b.ends, k->end_byte))
                FAIL("chunk does not end at a node end");
            else if (size > (uint32_t)budget && !unsplittable(&b, src, k->start_byte, k->end_byte))
                FAIL("chunk over budget is neither a single node nor glued by orphan text");
        } else if (size > (uint32_t)budget) {
            bool one_line = memchr(src + k->start_byte, '\n', k->end_byte - k->start_byte) == NULL;
            if (!one_line) FAIL("line window over budget spans several lines");
        }
        if (ok) {
            int defs = 0;
            for (const char *d = k->definitions; (d = strstr(d, ", ")) != NULL; d++)
                defs++;
            if (*k->definitions && defs + 1 > CHUNK_MAX_DEFINITIONS) FAIL("too many definitions");
        }
#undef FAIL
    }
    for (uint32_t j = pos; j < len && ok; j++)
        if (!is_space((unsigned char)src[j])) {
            report("non-whitespace byte after the last chunk is in no chunk", file, mutation, lang,
                   budget, src, NULL);
            fprintf(stderr, "  (byte %u = 0x%02x, %zu chunks)\n", j, (unsigned char)src[j], l.n);
            ok = false;
        }
    bounds_free(&b);
    chunk_list_free(&l);
    return ok;
}

static bool check_chunking(chunker_t *ch, const char *file, const char *mutation, const char *lang,
                           const char *src, uint32_t len, int budget)
{
    return check_chunking_opt(ch, file, mutation, lang, src, len, budget, true);
}

/* ---- mutations -------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Returns a malloc'd mutated copy of src (kind 0..4) and its length. */
static char *mutate(const char *src, uint32_t len, int kind, uint64_t *rng, uint32_t *out_len,
                    const char **name)
{
    char *m = xmalloc((size_t)len * 2 + 64);
    memcpy(m, src, len);
    uint32_t n = len;
    switch (kind) {
    case 0: /* truncate at a random point */
        *name = "truncated";
        n = len ? (uint32_t)(rng_next(rng) % len) : 0;
        break;
    case 1: /* NUL bytes inserted */
    case 2: /* invalid UTF-8 inserted */
    {
        static const char *const bad[] = {"\xff",     "\xc3",         "\xe2\x82",        "\xc0\x80",
                                          "\x80\x80", "\xed\xa0\x80", "\xf5\x80\x80\x80"};
        *name = kind == 1 ? "NUL bytes" : "invalid UTF-8";
        for (int i = 0; i < 8; i++) {
            const char *ins = kind == 1 ? "\0" : bad[rng_next(rng) % ARRAY_LEN(bad)];
            uint32_t k = kind == 1 ? 1 : (uint32_t)strlen(ins);
            uint32_t at = (uint32_t)(rng_next(rng) % (n + 1));
            memmove(m + at + k, m + at, n - at);
            memcpy(m + at, ins, k);
            n += k;
        }
        break;
    }
    case 3: /* random byte flips */
        *name = "byte flips";
        for (int i = 0; i < 12 && n; i++)
            m[rng_next(rng) % n] = (char)(rng_next(rng) & 0xFF);
        break;
    default: /* random structural characters deleted / duplicated */
        *name = "bracket damage";
        for (int i = 0; i < 10 && n; i++) {
            uint32_t at = (uint32_t)(rng_next(rng) % n);
            if (strchr("{}()[]:;\"'`", m[at]) && m[at]) {
                memmove(m + at, m + at + 1, n - at - 1);
                n--;
            } else {
                m[at] = "{([\"'"[rng_next(rng) % 5];
            }
        }
        break;
    }
    *out_len = n;
    return m;
}

/* ---- the driver ------------------------------------------------------------------------- */

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static void test_real_files_chunk_with_every_property(void)
{
    static const char *const py[] = {".py", NULL};
    static const char *const h[] = {".h", NULL};
    static const char *const cc[] = {".cc", ".h", ".cpp", ".hpp", NULL};
    static const char *const js[] = {".js", ".mjs", ".cjs", NULL};
    static const char *const ts[] = {".ts", NULL};
    static const char *const scanners[] = {"scanner.c", ".cc", NULL};
    static const char *const php[] = {".php", NULL};
    static const char *const sh[] = {".sh", ".bash", NULL};
    static const char *const go[] = {".go", NULL};
    static const char *const text[] = {".md",   ".sql", ".json", ".yaml", ".yml",
                                       ".toml", ".css", ".txt",  NULL};
    static const char *const any[] = {"", NULL};
    int max_files = env_int("T_CHUNK_FILES", 900);
    double deadline = time_mono_ms() + 1000.0 * env_int("T_CHUNK_SECONDS", 15);

    paths_t files = {0};
    sample_files(&files, "tests/fixtures/chunk", any, 1000);
    size_t fixtures = files.n;
    double share = max_files / 900.0;
    sample_files(&files, "/usr/lib/python3.11", py, (size_t)(220 * share));
    sample_files(&files, "/usr/include", h, (size_t)(200 * share));
    sample_files(&files, "node_modules", js, (size_t)(150 * share));
    sample_files(&files, "node_modules", ts, (size_t)(120 * share));
    sample_files(&files, "node_modules", scanners, (size_t)(30 * share));
    sample_files(&files, "/usr/src/googletest", cc, (size_t)(50 * share));
    sample_files(&files, "/usr/lib/google-cloud-sdk/platform/google_appengine/php", php,
                 (size_t)(40 * share));
    sample_files(&files, "/usr/lib/perf-core", sh, (size_t)(20 * share));
    sample_files(&files, "/usr/lib/bats-core", sh, (size_t)(10 * share));
    sample_files(&files, "/usr/share/doc/git/contrib", go, (size_t)(10 * share));
    sample_files(&files, "/usr/share/doc", text, (size_t)(40 * share));
    sample_files(&files, "/usr/share/postgresql", text, (size_t)(20 * share));
    T_CHECK(fixtures >= 13);
    /* Interleave the sources (deterministically), so that the time limit, when it strikes
     * first, cuts every kind of file short rather than the last ones entirely. */
    qsort(files.v + fixtures, files.n - fixtures, sizeof *files.v, cmp_hash);

    static const int budgets[] = {1000, 1500, 1200, 300, 60};
    chunker_t *ch = chunker_new();
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    size_t done = 0, bytes = 0;
    long failures = 0;
    for (size_t i = 0; i < files.n && time_mono_ms() < deadline; i++) {
        char *src;
        size_t len;
        err_t err;
        if (file_read_all(files.v[i], 2u << 20, &src, &len, &err) != 0) continue;
        const char *lang = lang_detect_content(files.v[i], src, len);
        int budget = budgets[i % ARRAY_LEN(budgets)];
        bool is_fixture = i < fixtures;
        done++;
        bytes += len;
        if (!check_chunking(ch, files.v[i], "as is", lang, src, (uint32_t)len, budget)) failures++;
        if (is_fixture) /* small files: also with a tiny budget, to split everything */
            failures += !check_chunking(ch, files.v[i], "as is", lang, src, (uint32_t)len, 25);
        if (is_fixture || i % 3 == 0) {
            for (int kind = 0; kind < 5; kind++) {
                uint32_t mlen;
                const char *name;
                char *m = mutate(src, (uint32_t)len, kind, &rng, &mlen, &name);
                failures += !check_chunking(ch, files.v[i], name, lang, m, mlen, budget);
                free(m);
            }
        }
        if (is_fixture || i % 5 == 0) { /* the wrong grammar: trees full of errors */
            int gi = (int)(rng_next(&rng) % (uint64_t)lang_grammar_count());
            failures += !check_chunking(ch, files.v[i], "wrong grammar", lang_grammar_name(gi), src,
                                        (uint32_t)len, budget);
        }
        free(src);
    }
    fprintf(stderr,
            "  chunk props: %zu files (%zu fixtures, %.1f MB) → %ld chunkings (%ld parsed), "
            "%ld chunks, %ld violations\n",
            done, fixtures, bytes / 1e6, g_checked_chunkings, g_parsed_chunkings, g_checked_chunks,
            g_violations);
    T_EQ_INT(failures, 0);
    T_CHECK(done >= fixtures);
    chunker_free(ch);
    for (size_t i = 0; i < files.n; i++)
        free(files.v[i]);
    free(files.v);
}

static bool same_chunks(const chunk_list_t *a, const chunk_list_t *b)
{
    if (a->n != b->n) return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].start_byte != b->v[i].start_byte || a->v[i].end_byte != b->v[i].end_byte)
            return false;
    return true;
}

/* A parse over the time limit falls back to line windows (exactly what "text" gives), and
 * the result still has every property. */
static void test_parse_timeout_falls_back_to_line_windows(void)
{
    sbuf_t b = {0};
    for (int i = 0; i < 20000; i++)
        sbuf_printf(&b, "def f%d(a, b):\n    return a + b * %d\n", i, i);
    chunk_list_t cast = {0}, lines = {0}, timed_out = {0};
    err_t err;
    chunker_t *ch = chunker_new();
    T_EQ_INT(chunk_source(ch, "python", b.data, b.len, 100, &cast, &err), 0);
    T_EQ_INT(chunk_source(ch, "text", b.data, b.len, 100, &lines, &err), 0);
    T_CHECK(!same_chunks(&cast, &lines)); /* so the comparison below means something */
    T_EQ_STR(cast.v[0].definitions, "function f0, function f1, function f2, function f3");

    chunker_set_parse_timeout_ms(ch, 0.001);
    T_EQ_INT(chunk_source(ch, "python", b.data, b.len, 100, &timed_out, &err), 0);
    T_CHECK(same_chunks(&timed_out, &lines));
    T_EQ_STR(timed_out.v[0].definitions, "");
    T_CHECK(check_chunking_opt(ch, "generated", "timeout", "python", b.data, (uint32_t)b.len, 100,
                               false));
    /* the parser is usable again after a cancelled parse */
    chunker_set_parse_timeout_ms(ch, CHUNK_PARSE_TIMEOUT_MS);
    chunk_list_t again = {0};
    T_EQ_INT(chunk_source(ch, "python", b.data, b.len, 100, &again, &err), 0);
    T_CHECK(same_chunks(&again, &cast));
    chunk_list_free(&cast);
    chunk_list_free(&lines);
    chunk_list_free(&timed_out);
    chunk_list_free(&again);
    chunker_free(ch);
    sbuf_free(&b);
}

int main(void)
{
    T_RUN(test_real_files_chunk_with_every_property);
    T_RUN(test_parse_timeout_falls_back_to_line_windows);
    return t_done();
}
