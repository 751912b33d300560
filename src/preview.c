/* preview.c — match-aware previews; see preview.h for the exact rules. */
#include "preview.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool is_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

void preview_query_init(preview_query_t *q, const char *text)
{
    q->tokens = NULL;
    q->n = 0;
    size_t cap = 0;
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    while (*s) {
        if (!is_token_char(*s)) {
            s++;
            continue;
        }
        const unsigned char *start = s;
        while (is_token_char(*s))
            s++;
        size_t len = (size_t)(s - start);
        if (len < 2) continue;
        char *tok = xstrndup((const char *)start, len);
        for (size_t i = 0; i < len; i++)
            tok[i] = lower(tok[i]);
        bool dup = false;
        for (size_t i = 0; i < q->n && !dup; i++)
            dup = strcmp(q->tokens[i], tok) == 0;
        if (dup) {
            free(tok);
            continue;
        }
        if (q->n == cap)
            q->tokens = xrealloc(q->tokens, (cap = cap ? 2 * cap : 8) * sizeof(char *));
        q->tokens[q->n++] = tok;
    }
}

void preview_query_free(preview_query_t *q)
{
    if (!q) return;
    for (size_t i = 0; i < q->n; i++)
        free(q->tokens[i]);
    free(q->tokens);
    q->tokens = NULL;
    q->n = 0;
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0x01 && c <= 0x7F) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

char *preview_utf8_clean(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    sbuf_t b = {0};
    sbuf_puts(&b, "");
    size_t i = 0;
    while (i < n) {
        size_t run = i; /* copy valid sequences in runs */
        size_t k;
        while (run < n && (k = utf8_seq_len(s + run, n - run)) > 0)
            run += k;
        if (run > i) sbuf_append(&b, str + i, run - i);
        if (run < n) {
            sbuf_puts(&b, "\xEF\xBF\xBD");
            run++;
        }
        i = run;
    }
    return sbuf_take(&b);
}

/* Cuts valid UTF-8 text to PREVIEW_MAX_CHARS characters as described in preview.h. */
static void truncate_chars(sbuf_t *b)
{
    size_t chars = 0, cut = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (((unsigned char)b->data[i] & 0xC0) == 0x80) continue;
        if (chars == PREVIEW_MAX_CHARS - 3) cut = i;
        chars++;
    }
    if (chars <= PREVIEW_MAX_CHARS) return;
    b->len = cut;
    b->data[cut] = 0;
    sbuf_puts(b, "...");
}

/* ---- lines ---- */

typedef struct {
    const char *p;
    size_t len;
    int hits; /* distinct tokens found in the line */
} line_t;

static bool line_empty(const line_t *l)
{
    for (size_t i = 0; i < l->len; i++)
        if (l->p[i] != ' ' && l->p[i] != '\t') return false;
    return true;
}

static line_t *split_lines(const char *content, size_t len, size_t *n_out)
{
    size_t n = 0, cap = 16;
    line_t *lines = xmalloc(cap * sizeof *lines);
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(content + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - content) : len;
        size_t l = end - i;
        if (l && content[i + l - 1] == '\r') l--;
        if (n == cap) lines = xrealloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = (line_t){content + i, l, 0};
        i = end + 1;
    }
    *n_out = n;
    return lines;
}

/* Counts the distinct query tokens contained in each line (case-insensitive). */
static void score_lines(const preview_query_t *q, line_t *lines, size_t n)
{
    size_t cap = 0;
    char *low = NULL;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].len + 1 > cap) low = xrealloc(low, cap = lines[i].len + 1);
        for (size_t k = 0; k < lines[i].len; k++)
            low[k] = lower(lines[i].p[k]);
        for (size_t t = 0; t < q->n; t++)
            if (memmem(low, lines[i].len, q->tokens[t], strlen(q->tokens[t]))) lines[i].hits++;
    }
    free(low);
}

/* Nearest line to `at` satisfying want (other than `at`); the line before wins ties.
 * Returns -1 when there is none. */
static long nearest(const line_t *lines, size_t n, size_t at, bool matching)
{
    for (size_t d = 1; d < n; d++) {
        if (d <= at) {
            const line_t *l = &lines[at - d];
            if (matching ? l->hits > 0 : !line_empty(l)) return (long)(at - d);
        }
        if (at + d < n) {
            const line_t *l = &lines[at + d];
            if (matching ? l->hits > 0 : !line_empty(l)) return (long)(at + d);
        }
        if (d > at && at + d >= n) break;
    }
    return -1;
}

void preview_build(const preview_query_t *q, const char *content, size_t len, uint32_t start_line,
                   preview_t *out)
{
    memset(out, 0, sizeof *out);
    size_t n;
    line_t *lines = split_lines(content ? content : "", content ? len : 0, &n);
    score_lines(q, lines, n);

    long best = -1;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].hits == 0) continue;
        if (out->n_match_lines < PREVIEW_MAX_MATCH_LINES)
            out->match_lines[out->n_match_lines++] = start_line + (uint32_t)i;
        if (best < 0 || lines[i].hits > lines[best].hits) best = (long)i;
    }

    long pick[2] = {-1, -1};
    if (best >= 0) {
        long second = nearest(lines, n, (size_t)best, true);
        if (second < 0) second = nearest(lines, n, (size_t)best, false);
        pick[0] = second >= 0 && second < best ? second : best;
        pick[1] = second < 0 ? -1 : second < best ? best : second;
    } else {
        for (size_t i = 0, k = 0; i < n && k < 2; i++)
            if (!line_empty(&lines[i])) pick[k++] = (long)i;
    }

    sbuf_t raw = {0};
    sbuf_puts(&raw, "");
    for (int k = 0; k < 2 && pick[k] >= 0; k++) {
        if (k) sbuf_putc(&raw, '\n');
        sbuf_append(&raw, lines[pick[k]].p, lines[pick[k]].len);
    }
    sbuf_t text = {0};
    text.data = preview_utf8_clean(raw.data, raw.len);
    text.len = strlen(text.data);
    text.cap = text.len + 1;
    truncate_chars(&text);
    out->text = sbuf_take(&text);
    sbuf_free(&raw);
    free(lines);
}

void preview_free(preview_t *p)
{
    if (!p) return;
    free(p->text);
    p->text = NULL;
}
