/* chunk.c — see chunk.h. cAST over tree-sitter trees, line windows for everything else. */
#include "chunk.h"

#include <string.h>

#include <tree_sitter/api.h>

#include "lang.h"
#include "log.h"

/* One grammar's parser and its symbol → definition-rule table, made on first use. */
typedef struct {
    TSParser *parser;
    int16_t *rule_of; /* rule number per symbol id, -1 when not a definition */
    uint32_t nsym;
    bool unusable; /* the grammar could not be loaded: use line windows */
} grammar_slot_t;

struct chunker {
    grammar_slot_t *slots; /* lang_grammar_count() of them */
    double timeout_ms;
    uint32_t *weight; /* prefix sums: weight[i] = size of src[0..i) */
    size_t weight_cap;
    uint32_t *stack; /* clip limits per tree depth during the cAST walk */
    size_t stack_cap;
};

chunker_t *chunker_new(void)
{
    chunker_t *c = xcalloc(1, sizeof *c);
    c->slots = xcalloc((size_t)lang_grammar_count(), sizeof *c->slots);
    c->timeout_ms = CHUNK_PARSE_TIMEOUT_MS;
    return c;
}

void chunker_free(chunker_t *c)
{
    if (!c) return;
    for (int i = 0; i < lang_grammar_count(); i++) {
        if (c->slots[i].parser) ts_parser_delete(c->slots[i].parser);
        free(c->slots[i].rule_of);
    }
    free(c->slots);
    free(c->weight);
    free(c->stack);
    free(c);
}

void chunker_set_parse_timeout_ms(chunker_t *c, double ms)
{
    if (c && ms > 0) c->timeout_ms = ms;
}

void chunk_list_free(chunk_list_t *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].definitions);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static grammar_slot_t *grammar_slot(chunker_t *c, int gi)
{
    grammar_slot_t *g = &c->slots[gi];
    if (g->parser || g->unusable) return g->unusable ? NULL : g;
    const TSLanguage *lang = lang_grammar_language(gi);
    TSParser *p = ts_parser_new();
    if (!ts_parser_set_language(p, lang)) {
        log_warn("tree-sitter grammar for %s cannot be loaded (ABI version %u); "
                 "%s files are chunked by lines instead",
                 lang_grammar_name(gi), ts_language_abi_version(lang), lang_grammar_name(gi));
        ts_parser_delete(p);
        g->unusable = true;
        return NULL;
    }
    g->parser = p;
    g->nsym = ts_language_symbol_count(lang);
    g->rule_of = xmalloc((g->nsym ? g->nsym : 1) * sizeof *g->rule_of);
    for (uint32_t s = 0; s < g->nsym; s++) {
        g->rule_of[s] = -1;
        if (ts_language_symbol_type(lang, (TSSymbol)s) == TSSymbolTypeRegular)
            g->rule_of[s] = (int16_t)lang_def_rule(gi, ts_language_symbol_name(lang, (TSSymbol)s));
    }
    return g;
}

/* ---- sizes ------------------------------------------------------------------------------ */

static bool is_space(unsigned char b)
{
    return b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r';
}

static void build_weights(chunker_t *c, const char *src, uint32_t len)
{
    if (c->weight_cap < (size_t)len + 1) {
        free(c->weight);
        c->weight_cap = (size_t)len + 1;
        c->weight = xmalloc(c->weight_cap * sizeof *c->weight);
    }
    uint32_t *w = c->weight, sum = 0;
    w[0] = 0;
    for (uint32_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)src[i];
        sum += !is_space(b) && (b & 0xC0) != 0x80;
        w[i + 1] = sum;
    }
}

/* ---- the accumulator: greedy merging of units into chunks ------------------------------ */

typedef struct {
    const char *src;
    const uint32_t *w;
    uint32_t budget;
    bool have; /* a chunk [s, e) is open */
    uint32_t s, e;
    bool glue; /* the next unit must join the chunk of the previous one */
    chunk_list_t *out;
    size_t first; /* out->v[first..] are this call's chunks */
} acc_t;

static uint32_t acc_size(const acc_t *a, uint32_t s, uint32_t e)
{
    return a->w[e] - a->w[s];
}

static bool acc_nonblank(const acc_t *a, uint32_t s, uint32_t e)
{
    if (acc_size(a, s, e) > 0) return true;
    for (uint32_t i = s; i < e; i++) /* only stray UTF-8 continuation bytes reach here */
        if (!is_space((unsigned char)a->src[i])) return true;
    return false;
}

static void acc_emit(acc_t *a, uint32_t s, uint32_t e)
{
    chunk_list_t *l = a->out;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (chunk_t){.start_byte = s, .end_byte = e};
}

static void acc_flush(acc_t *a)
{
    if (a->have) acc_emit(a, a->s, a->e);
    a->have = false;
}

/* Extends the latest chunk (open or already emitted) to end at e, whatever its size. */
static void acc_extend(acc_t *a, uint32_t s, uint32_t e)
{
    if (a->have) {
        a->e = e;
    } else if (a->out->n > a->first) {
        a->out->v[a->out->n - 1].end_byte = e;
    } else {
        a->have = true;
        a->s = s;
        a->e = e;
    }
}

/* Adds the unit [s, e): joins the open chunk when the result fits the budget, else starts a
 * new chunk; a unit over the budget on its own is a chunk by itself. Blank units are
 * skipped (they become whitespace inside or between chunks). */
static void acc_add(acc_t *a, uint32_t s, uint32_t e)
{
    if (e <= s || !acc_nonblank(a, s, e)) return;
    if (a->glue) {
        a->glue = false;
        acc_extend(a, s, e);
        return;
    }
    if (acc_size(a, s, e) > a->budget) {
        acc_flush(a);
        acc_emit(a, s, e);
        return;
    }
    if (a->have && acc_size(a, a->s, e) <= a->budget) {
        a->e = e;
        return;
    }
    acc_flush(a);
    a->have = true;
    a->s = s;
    a->e = e;
}

/* Text between units belongs to some node but to none of its children. It is usually
 * blank, but not always: the text of a Python string around its escape sequences, a C
 * line-continuation backslash, a NUL byte in an error tree. Such orphan text must not sit
 * next to a chunk boundary (boundaries stay on node boundaries), so it is glued to the
 * units beside it, whatever the budget:
 * - leading (from the start of its node up to the first child): a unit of its own, glued
 *   to the unit after it;
 * - trailing (after the last child, up to the end of its node): glued to the unit before;
 * - between two units: glued to both. */
static void acc_add_gap(acc_t *a, uint32_t s, uint32_t e, bool leading)
{
    while (e > s && is_space((unsigned char)a->src[e - 1]))
        e--;
    if (!leading)
        while (s < e && is_space((unsigned char)a->src[s]))
            s++;
    if (s == e || !acc_nonblank(a, s, e)) return;
    if (leading) {
        acc_add(a, s, e);
    } else {
        a->glue = false;
        acc_extend(a, s, e);
    }
    a->glue = true;
}

static void acc_add_trailing(acc_t *a, uint32_t s, uint32_t e, bool at_node_start)
{
    if (!acc_nonblank(a, s, e)) return;
    if (at_node_start) { /* nothing inside the node was a unit: it is one as a whole */
        acc_add(a, s, e);
        return;
    }
    while (s < e && is_space((unsigned char)a->src[s]))
        s++;
    a->glue = false;
    acc_extend(a, s, e);
}

/* ---- line windows ----------------------------------------------------------------------- */

static void chunk_lines(acc_t *a, uint32_t len)
{
    uint32_t i = 0;
    while (i < len) {
        const char *nl = memchr(a->src + i, '\n', len - i);
        uint32_t end = nl ? (uint32_t)(nl - a->src) : len;
        acc_add(a, i, end);
        i = end + 1;
    }
    acc_flush(a);
}

/* ---- cAST ------------------------------------------------------------------------------- */

static void push_limit(chunker_t *c, size_t depth, uint32_t limit)
{
    if (depth >= c->stack_cap) {
        c->stack_cap = c->stack_cap ? c->stack_cap * 2 : 256;
        c->stack = xrealloc(c->stack, c->stack_cap * sizeof *c->stack);
    }
    c->stack[depth] = limit;
}

/* Walks the tree in source order without recursion (trees can be very deep). Every node is
 * clipped to [pos, limit of its parent) so that units never overlap even in odd error
 * trees; zero-width (MISSING) nodes vanish. A node over the budget with children is
 * replaced by them; anything else is a unit. Text between units is handled by the gap
 * functions above. */
static void chunk_tree(chunker_t *c, acc_t *a, TSNode root, uint32_t len)
{
    TSTreeCursor cur = ts_tree_cursor_new(root);
    size_t depth = 0;
    uint32_t pos = 0;
    bool at_node_start = false; /* pos is where the node just entered starts */
    push_limit(c, 0, len);
    for (;;) {
        TSNode n = ts_tree_cursor_current_node(&cur);
        uint32_t s = EC_MAX(ts_node_start_byte(n), pos);
        uint32_t e = EC_MIN(ts_node_end_byte(n), c->stack[depth]);
        if (e > s) {
            acc_add_gap(a, pos, s, at_node_start);
            pos = s;
            at_node_start = false;
            if (acc_size(a, s, e) > a->budget && ts_tree_cursor_goto_first_child(&cur)) {
                push_limit(c, ++depth, e);
                at_node_start = true;
                continue;
            }
            acc_add(a, s, e);
            pos = e;
        }
        while (!ts_tree_cursor_goto_next_sibling(&cur)) {
            if (depth == 0 || !ts_tree_cursor_goto_parent(&cur)) goto done;
            uint32_t end = c->stack[depth--]; /* the end of the node we return to */
            if (end > pos) {
                acc_add_trailing(a, pos, end, at_node_start);
                pos = end;
            }
            at_node_start = false;
        }
    }
done:
    acc_add_gap(a, pos, len, false);
    acc_flush(a);
    ts_tree_cursor_delete(&cur);
}

/* ---- definitions ------------------------------------------------------------------------ */

/* Is `item` already one of the ", "-separated entries of list? */
static bool list_has(const char *list, size_t list_len, const char *item, size_t n)
{
    for (const char *p = list; p && (p = strstr(p, item)) != NULL; p++) {
        bool starts = p == list || (p - list >= 2 && p[-2] == ',' && p[-1] == ' ');
        size_t after = (size_t)(p - list) + n;
        bool ends = after == list_len || (list[after] == ',' && list[after + 1] == ' ');
        if (starts && ends) return true;
    }
    return false;
}

/* Index of the chunk among v[0..n) containing byte b, or -1. */
static long chunk_at(const chunk_t *v, size_t n, uint32_t b)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].start_byte <= b)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || b >= v[lo - 1].end_byte) return -1;
    return (long)lo - 1;
}

static void collect_definitions(grammar_slot_t *g, int gi, TSNode root, const char *src,
                                uint32_t len, chunk_t *v, size_t n)
{
    if (n == 0) return;
    sbuf_t *lists = xcalloc(n, sizeof *lists);
    int *counts = xcalloc(n, sizeof *counts);
    sbuf_t item = {0};
    TSTreeCursor cur = ts_tree_cursor_new(root);
    for (;;) {
        TSNode node = ts_tree_cursor_current_node(&cur);
        TSSymbol sym = ts_node_symbol(node);
        if (sym < g->nsym && g->rule_of[sym] >= 0) {
            long k = chunk_at(v, n, ts_node_start_byte(node));
            sbuf_reset(&item);
            if (k >= 0 && counts[k] < CHUNK_MAX_DEFINITIONS &&
                lang_def_describe(gi, g->rule_of[sym], node, src, len, &item) &&
                !list_has(lists[k].data, lists[k].len, item.data, item.len)) {
                if (counts[k]++) sbuf_puts(&lists[k], ", ");
                sbuf_append(&lists[k], item.data, item.len);
            }
        }
        if (ts_tree_cursor_goto_first_child(&cur)) continue;
        while (!ts_tree_cursor_goto_next_sibling(&cur))
            if (!ts_tree_cursor_goto_parent(&cur)) goto done;
    }
done:
    ts_tree_cursor_delete(&cur);
    sbuf_free(&item);
    for (size_t k = 0; k < n; k++)
        if (counts[k]) v[k].definitions = sbuf_take(&lists[k]);
    free(lists);
    free(counts);
}

/* ---- parsing ---------------------------------------------------------------------------- */

typedef struct {
    const char *src;
    uint32_t len;
} input_t;

static const char *input_read(void *payload, uint32_t byte, TSPoint pt, uint32_t *n)
{
    (void)pt;
    const input_t *in = payload;
    if (byte >= in->len) {
        *n = 0;
        return "";
    }
    *n = in->len - byte;
    return in->src + byte;
}

static bool parse_past_deadline(TSParseState *state)
{
    const double *deadline = state->payload;
    return time_mono_ms() > *deadline;
}

/* Parses src; NULL when the parse failed or ran out of time (the parser is reset then). */
static TSTree *parse(chunker_t *c, grammar_slot_t *g, const char *src, uint32_t len)
{
    input_t in = {src, len};
    TSInput input = {.payload = &in, .read = input_read, .encoding = TSInputEncodingUTF8};
    double deadline = time_mono_ms() + c->timeout_ms;
    TSParseOptions opts = {.payload = &deadline, .progress_callback = parse_past_deadline};
    TSTree *tree = ts_parser_parse_with_options(g->parser, NULL, input, opts);
    if (!tree) ts_parser_reset(g->parser);
    return tree;
}

/* ---- the entry point -------------------------------------------------------------------- */

static void fill_lines(const char *src, chunk_t *v, size_t n)
{
    uint32_t line = 1, p = 0;
    for (size_t k = 0; k < n; k++) {
        for (; p < v[k].start_byte; p++)
            line += src[p] == '\n';
        v[k].start_line = line;
        for (; p + 1 < v[k].end_byte; p++)
            line += src[p] == '\n';
        v[k].end_line = line;
    }
}

int chunk_source(chunker_t *c, const char *lang, const char *src, size_t len, int budget,
                 chunk_list_t *out, err_t *err)
{
    if (!c || !out) return err_set(err, "chunk_source: internal error: no chunker or output");
    if (!src && len > 0) return err_set(err, "chunk_source: internal error: no source bytes");
    if (budget < 1)
        return err_set(err,
                       "chunk budget %d is too small: it must be at least 1 non-whitespace "
                       "character; check index.languages in the configuration",
                       budget);
    if (len >= UINT32_MAX)
        return err_set(err,
                       "file of %zu bytes is too large to chunk (the limit is 4 GiB); exclude "
                       "it with index.exclude",
                       len);
    if (!lang) lang = "text";
    uint32_t n = (uint32_t)len;
    build_weights(c, src, n);
    size_t first = out->n;
    acc_t a = {.src = src, .w = c->weight, .budget = (uint32_t)budget, .out = out, .first = first};
    if (!acc_nonblank(&a, 0, n)) return 0;

    int gi = lang_grammar_index(lang);
    grammar_slot_t *g = gi >= 0 ? grammar_slot(c, gi) : NULL;
    TSTree *tree = g ? parse(c, g, src, n) : NULL;
    if (g && !tree)
        log_debug("%s parse failed or took over %.0f ms; chunking %u bytes by lines", lang,
                  c->timeout_ms, n);
    if (tree) {
        TSNode root = ts_tree_root_node(tree);
        chunk_tree(c, &a, root, n);
        collect_definitions(g, gi, root, src, n, out->v + first, out->n - first);
        ts_tree_delete(tree);
    } else {
        chunk_lines(&a, n);
    }
    for (size_t k = first; k < out->n; k++)
        if (!out->v[k].definitions) out->v[k].definitions = xstrdup("");
    fill_lines(src, out->v + first, out->n - first);
    return 0;
}
