/* wordpiece.c — BERT WordPiece tokenizer (see wordpiece.h).
 *
 * The text is processed as a stream of "words" as HF's BasicTokenizer forms them: decode
 * UTF-8, drop controls, map whitespace to separators, isolate CJK ideographs; then each
 * whitespace-delimited word is lowercased (with Python's final-sigma rule, which needs the
 * whole word), decomposed (NFD with canonical reordering), stripped of non-spacing marks and
 * split at punctuation; each resulting piece goes through greedy longest-match-first lookup.
 * Streaming lets wordpiece_encode stop as soon as it has enough pieces. */
#include "wordpiece.h"

#include "unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WP_LEAD "\xE2\x96\x81" /* U+2581, llama.cpp's word-initial marker */
#define WP_LEAD_LEN 3

enum { KIND_INITIAL = 0, KIND_CONTINUATION = 1 };

struct wordpiece {
    size_t n_tokens;
    char *text;         /* all stored token texts, back to back */
    size_t *text_off;   /* n_tokens + 1 offsets into text */
    uint32_t *key_skip; /* bytes of the stored text before the lookup key (the U+2581) */
    uint8_t *kind;      /* KIND_* of each token */
    int32_t *slots;     /* open-addressing hash table of token ids, -1 when empty */
    size_t mask;        /* slot count - 1 */
    size_t max_key[2];  /* longest key in bytes, per kind */
    int32_t unk, cls, sep, pad, mask_id;
    size_t context_length;
};

/* ---- vocabulary ---- */

static uint64_t key_hash(int kind, const char *s, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull ^ (uint64_t)kind;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001B3ull;
    }
    return h ^ (h >> 29);
}

static const char *token_key(const wordpiece_t *w, size_t id, size_t *len)
{
    size_t start = w->text_off[id] + w->key_skip[id];
    *len = w->text_off[id + 1] - start;
    return w->text + start;
}

/* The id whose lookup key is (kind, s[0..n)), or -1. */
static int32_t vocab_find(const wordpiece_t *w, int kind, const char *s, size_t n)
{
    for (size_t i = key_hash(kind, s, n) & w->mask;; i = (i + 1) & w->mask) {
        int32_t id = w->slots[i];
        if (id < 0) return -1;
        size_t klen;
        const char *k = token_key(w, (size_t)id, &klen);
        if (w->kind[id] == kind && klen == n && memcmp(k, s, n) == 0) return id;
    }
}

/* Adds token id; a later token with the same key replaces an earlier one (as a Python dict
 * built from the vocabulary file would). */
static void vocab_insert(wordpiece_t *w, int32_t id)
{
    size_t n;
    const char *s = token_key(w, (size_t)id, &n);
    int kind = w->kind[id];
    if (n > w->max_key[kind]) w->max_key[kind] = n;
    for (size_t i = key_hash(kind, s, n) & w->mask;; i = (i + 1) & w->mask) {
        int32_t other = w->slots[i];
        if (other < 0) {
            w->slots[i] = id;
            return;
        }
        size_t olen;
        const char *o = token_key(w, (size_t)other, &olen);
        if (w->kind[other] == kind && olen == n && memcmp(o, s, n) == 0) {
            w->slots[i] = id;
            return;
        }
    }
}

/* Classifies a stored token: "▁word" is word-initial "word", "[...]" is word-initial as it
 * is, anything else is the continuation "##text" stored as "text". */
static void classify(const char *s, size_t n, uint8_t *kind, uint32_t *skip)
{
    if (n >= WP_LEAD_LEN && memcmp(s, WP_LEAD, WP_LEAD_LEN) == 0) {
        *kind = KIND_INITIAL;
        *skip = WP_LEAD_LEN;
    } else if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        *kind = KIND_INITIAL;
        *skip = 0;
    } else {
        *kind = KIND_CONTINUATION;
        *skip = 0;
    }
}

static int special_id(const gguf_t *g, const char *key, uint32_t def, size_t n, bool required,
                      int32_t *out, err_t *err)
{
    uint32_t v = def;
    if (gguf_get_u32(g, key, &v) < 0) {
        gguf_vtype_t t;
        if (gguf_kv_type(g, key, &t) == 0)
            return err_set(err, "%s is not a valid token id; the file is corrupt", key);
    }
    if (v >= n) {
        if (!required) {
            *out = -1;
            return 0;
        }
        return err_set(err, "%s is %u but the vocabulary has only %zu tokens; the file is corrupt",
                       key, v, n);
    }
    *out = (int32_t)v;
    return 0;
}

static int load_specials(wordpiece_t *w, const gguf_t *g, err_t *err)
{
    size_t n = w->n_tokens;
    if (special_id(g, "tokenizer.ggml.unknown_token_id", 100, n, true, &w->unk, err) < 0 ||
        special_id(g, "tokenizer.ggml.cls_token_id", 101, n, true, &w->cls, err) < 0 ||
        special_id(g, "tokenizer.ggml.seperator_token_id", 102, n, true, &w->sep, err) < 0 ||
        special_id(g, "tokenizer.ggml.padding_token_id", 0, n, true, &w->pad, err) < 0 ||
        special_id(g, "tokenizer.ggml.mask_token_id", 103, n, false, &w->mask_id, err) < 0)
        return -1;
    const char *arch;
    size_t arch_len;
    if (gguf_get_str(g, "general.architecture", &arch, &arch_len) == 0 && arch_len < 100) {
        char key[160];
        snprintf(key, sizeof key, "%.*s.context_length", (int)arch_len, arch);
        uint64_t ctx;
        if (gguf_get_u64(g, key, &ctx) == 0 && ctx <= SIZE_MAX) w->context_length = (size_t)ctx;
    }
    return 0;
}

wordpiece_t *wordpiece_load(const gguf_t *g, err_t *err)
{
    const char *model;
    size_t model_len;
    if (gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len) < 0) {
        err_set(err, "no tokenizer.ggml.model: the file has no tokenizer (use a GGUF converted "
                     "with its vocabulary)");
        return NULL;
    }
    if (model_len != 4 || memcmp(model, "bert", 4) != 0) {
        err_set(err,
                "tokenizer.ggml.model is '%.*s'; embecode supports only WordPiece ('bert') "
                "vocabularies",
                (int)EC_MIN(model_len, 64), model);
        return NULL;
    }
    gguf_vtype_t et;
    uint64_t n;
    if (gguf_get_arr_info(g, "tokenizer.ggml.tokens", &et, &n) < 0 || et != GGUF_T_STRING ||
        n == 0 || n > INT32_MAX) {
        err_set(err, "tokenizer.ggml.tokens is missing, empty or not a list of strings; the file "
                     "is corrupt");
        return NULL;
    }
    wordpiece_t *w = xcalloc(1, sizeof *w);
    w->n_tokens = (size_t)n;
    w->text_off = xmalloc((w->n_tokens + 1) * sizeof *w->text_off);
    w->key_skip = xmalloc(w->n_tokens * sizeof *w->key_skip);
    w->kind = xmalloc(w->n_tokens);
    sbuf_t text = {0};
    for (size_t i = 0; i < w->n_tokens; i++) {
        const char *s;
        size_t len;
        (void)gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &s, &len); /* i < n: succeeds */
        w->text_off[i] = text.len;
        classify(s, len, &w->kind[i], &w->key_skip[i]);
        sbuf_append(&text, s, len);
    }
    w->text_off[w->n_tokens] = text.len;
    w->text = sbuf_take(&text);
    size_t slots = 16;
    while (slots < w->n_tokens * 2)
        slots *= 2;
    w->slots = xmalloc(slots * sizeof *w->slots);
    memset(w->slots, 0xFF, slots * sizeof *w->slots);
    w->mask = slots - 1;
    for (size_t i = 0; i < w->n_tokens; i++)
        vocab_insert(w, (int32_t)i);
    if (load_specials(w, g, err) < 0) {
        wordpiece_free(w);
        return NULL;
    }
    return w;
}

void wordpiece_free(wordpiece_t *w)
{
    if (!w) return;
    free(w->text);
    free(w->text_off);
    free(w->key_skip);
    free(w->kind);
    free(w->slots);
    free(w);
}

size_t wordpiece_vocab_size(const wordpiece_t *w)
{
    return w->n_tokens;
}

int32_t wordpiece_unk_id(const wordpiece_t *w)
{
    return w->unk;
}

int32_t wordpiece_cls_id(const wordpiece_t *w)
{
    return w->cls;
}

int32_t wordpiece_sep_id(const wordpiece_t *w)
{
    return w->sep;
}

int32_t wordpiece_pad_id(const wordpiece_t *w)
{
    return w->pad;
}

int32_t wordpiece_mask_id(const wordpiece_t *w)
{
    return w->mask_id;
}

size_t wordpiece_context_length(const wordpiece_t *w)
{
    return w->context_length;
}

const char *wordpiece_token_text(const wordpiece_t *w, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= w->n_tokens) return NULL;
    *len = w->text_off[id + 1] - w->text_off[id];
    return w->text + w->text_off[id];
}

/* ---- tokenization ---- */

typedef struct {
    uint32_t *v;
    size_t n, cap;
} cpbuf_t;

static void cp_push(cpbuf_t *b, uint32_t cp)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->v = xrealloc(b->v, b->cap * sizeof *b->v);
    }
    b->v[b->n++] = cp;
}

/* Per-call state: scratch buffers and the output. */
typedef struct {
    const wordpiece_t *w;
    cpbuf_t word;   /* the current whitespace-delimited word, as cleaned */
    cpbuf_t lower;  /* after lowercasing */
    cpbuf_t nfd;    /* after decomposition, reordering and mark removal */
    cpbuf_t ccc;    /* combining class of each code point in nfd */
    sbuf_t utf8;    /* a piece as UTF-8, for lookups */
    size_t *cp_off; /* byte offset of each code point of the piece in utf8 */
    int32_t *ids;
    size_t n, cap;
    size_t limit; /* stop after this many pieces */
} wp_run_t;

static bool run_full(const wp_run_t *r)
{
    return r->n >= r->limit;
}

static void emit(wp_run_t *r, int32_t id)
{
    if (run_full(r)) return;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->ids = xrealloc(r->ids, r->cap * sizeof *r->ids);
    }
    r->ids[r->n++] = id;
}

/* Greedy longest-match-first pieces of one punctuation-free word (HF WordpieceTokenizer). */
static void wordpiece_word(wp_run_t *r, const uint32_t *cps, size_t n)
{
    const wordpiece_t *w = r->w;
    if (n > WORDPIECE_MAX_WORD_CHARS) {
        emit(r, w->unk);
        return;
    }
    sbuf_reset(&r->utf8);
    for (size_t i = 0; i < n; i++) {
        char buf[4];
        r->cp_off[i] = r->utf8.len;
        sbuf_append(&r->utf8, buf, unicode_utf8_encode(cps[i], buf));
    }
    r->cp_off[n] = r->utf8.len;
    int32_t pieces[WORDPIECE_MAX_WORD_CHARS];
    size_t n_pieces = 0, start = 0;
    while (start < n) {
        int kind = start > 0 ? KIND_CONTINUATION : KIND_INITIAL;
        int32_t found = -1;
        size_t end = n;
        for (; end > start; end--) {
            size_t len = r->cp_off[end] - r->cp_off[start];
            if (len > w->max_key[kind]) continue;
            found = vocab_find(w, kind, r->utf8.data + r->cp_off[start], len);
            if (found >= 0) break;
        }
        if (found < 0) {
            emit(r, w->unk);
            return;
        }
        pieces[n_pieces++] = found;
        start = end;
    }
    for (size_t i = 0; i < n_pieces; i++)
        emit(r, pieces[i]);
}

/* HF _is_punctuation: ASCII non-alphanumerics and general category P*. */
static bool is_punct(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
               (cp >= 123 && cp <= 126);
    return (unicode_flags(cp) & UNICODE_F_PUNCT) != 0;
}

/* Python's final-sigma rule for the capital sigma at word[i]. */
static bool is_final_sigma(const uint32_t *word, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && (unicode_flags(word[j - 1]) & UNICODE_F_IGNORABLE))
        j--;
    if (j == 0 || !(unicode_flags(word[j - 1]) & UNICODE_F_CASED)) return false;
    for (j = i + 1; j < n && (unicode_flags(word[j]) & UNICODE_F_IGNORABLE); j++)
        ;
    return j == n || !(unicode_flags(word[j]) & UNICODE_F_CASED);
}

typedef struct {
    uint32_t ccc, index, cp;
} mark_t;

static int mark_cmp(const void *a, const void *b)
{
    const mark_t *x = a, *y = b;
    if (x->ccc != y->ccc) return x->ccc < y->ccc ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Canonical ordering of a run of non-starters: a stable sort by combining class. */
static void sort_marks(uint32_t *cps, uint32_t *cccs, size_t n)
{
    mark_t *m = xmalloc(n * sizeof *m);
    for (size_t i = 0; i < n; i++)
        m[i] = (mark_t){cccs[i], (uint32_t)i, cps[i]};
    qsort(m, n, sizeof *m, mark_cmp);
    for (size_t i = 0; i < n; i++) {
        cps[i] = m[i].cp;
        cccs[i] = m[i].ccc;
    }
    free(m);
}

/* Lowercases, strips accents and splits at punctuation one whitespace-delimited word. */
static void process_word(wp_run_t *r)
{
    const cpbuf_t *word = &r->word;
    r->lower.n = 0;
    for (size_t i = 0; i < word->n; i++) {
        uint32_t out[UNICODE_MAX_LOWER];
        if (word->v[i] < 0x80) {
            cp_push(&r->lower,
                    word->v[i] >= 'A' && word->v[i] <= 'Z' ? word->v[i] + 32 : word->v[i]);
            continue;
        }
        if (word->v[i] == 0x3A3) {
            cp_push(&r->lower, is_final_sigma(word->v, word->n, i) ? 0x3C2 : 0x3C3);
            continue;
        }
        size_t k = unicode_lower(word->v[i], out);
        for (size_t j = 0; j < k; j++)
            cp_push(&r->lower, out[j]);
    }
    /* NFD: decompose, then stable-sort each run of non-starters by combining class. Marks
     * that are Mn with a nonzero class are dropped at once: stripping removes them anyway and
     * they cannot change the order of what remains. */
    r->nfd.n = r->ccc.n = 0;
    for (size_t i = 0; i < r->lower.n; i++) {
        uint32_t out[UNICODE_MAX_DECOMP];
        size_t k = 1;
        out[0] = r->lower.v[i];
        if (out[0] >= 0xC0) k = unicode_nfd(out[0], out); /* nothing below decomposes */
        for (size_t j = 0; j < k; j++) {
            unsigned ccc = out[j] < 0x300 ? 0 : unicode_ccc(out[j]);
            if (ccc && (unicode_flags(out[j]) & UNICODE_F_MN)) continue;
            cp_push(&r->nfd, out[j]);
            cp_push(&r->ccc, ccc);
        }
    }
    for (size_t i = 0; i < r->nfd.n;) {
        size_t j = i;
        while (j < r->nfd.n && r->ccc.v[j])
            j++;
        if (j - i > 1) sort_marks(r->nfd.v + i, r->ccc.v + i, j - i);
        i = j > i ? j : i + 1;
    }
    /* Drop the remaining non-spacing marks, then split at punctuation. */
    size_t kept = 0;
    for (size_t i = 0; i < r->nfd.n; i++)
        if (r->nfd.v[i] < 0x300 || !(unicode_flags(r->nfd.v[i]) & UNICODE_F_MN))
            r->nfd.v[kept++] = r->nfd.v[i];
    size_t start = 0;
    for (size_t i = 0; i < kept && !run_full(r); i++) {
        if (!is_punct(r->nfd.v[i])) continue;
        if (i > start) wordpiece_word(r, r->nfd.v + start, i - start);
        wordpiece_word(r, r->nfd.v + i, 1);
        start = i + 1;
    }
    if (start < kept && !run_full(r)) wordpiece_word(r, r->nfd.v + start, kept - start);
}

/* HF _is_chinese_char: the CJK ideograph blocks. */
static bool is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static void flush_word(wp_run_t *r)
{
    if (r->word.n && !run_full(r)) process_word(r);
    r->word.n = 0;
}

static void run_text(wp_run_t *r, const char *text, size_t len)
{
    /* Word buffers never need more than one code point per input byte (plus lowercase and
     * decomposition growth, which cpbuf_t handles); pieces never exceed a word. */
    r->cp_off = xmalloc((WORDPIECE_MAX_WORD_CHARS + 1) * sizeof *r->cp_off);
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len && !run_full(r)) {
        size_t adv;
        uint32_t cp = unicode_utf8_decode(s + i, len - i, &adv);
        i += adv;
        unsigned f = cp < 0x80 ? 0 : unicode_flags(cp);
        if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || (f & UNICODE_F_ZS) ||
            cp == 0x2028 || cp == 0x2029) {
            flush_word(r); /* whitespace (HF _is_whitespace, then Python's str.split) */
        } else if (cp == 0 || cp == 0xFFFD || cp < 0x20 || cp == 0x7F || (f & UNICODE_F_OTHER)) {
            continue; /* HF _clean_text drops NUL, U+FFFD and _is_control (C*) */
        } else if (is_cjk(cp)) {
            flush_word(r);
            cp_push(&r->word, cp);
            flush_word(r);
        } else {
            cp_push(&r->word, cp);
        }
    }
    flush_word(r);
    free(r->word.v);
    free(r->lower.v);
    free(r->nfd.v);
    free(r->ccc.v);
    sbuf_free(&r->utf8);
    free(r->cp_off);
}

size_t wordpiece_encode(const wordpiece_t *w, const char *text, size_t len, int32_t *ids,
                        size_t max_len)
{
    if (max_len < 2) return 0;
    wp_run_t r = {.w = w, .limit = max_len - 2};
    run_text(&r, text, len);
    ids[0] = w->cls;
    if (r.n) memcpy(ids + 1, r.ids, r.n * sizeof *ids);
    ids[r.n + 1] = w->sep;
    free(r.ids);
    return r.n + 2;
}

int32_t *wordpiece_encode_raw(const wordpiece_t *w, const char *text, size_t len, size_t *n)
{
    wp_run_t r = {.w = w, .limit = SIZE_MAX};
    run_text(&r, text, len);
    *n = r.n;
    return r.ids ? r.ids : xmalloc(sizeof(int32_t));
}
