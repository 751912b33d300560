/* toml.c — TOML 1.0 parser (see toml.h). A recursive-descent reader over a byte buffer that
 * builds the tree as it goes. Tables remember how they came to exist (implicitly through a
 * header path, by a [header], by dotted keys, or inline), which is what TOML's rules about
 * redefinition depend on. */
#include "toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml_int.h"

/* ---- parser state and messages ------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t len, pos;
    int line;
    const char *file;
    err_t *err;
    sbuf_t table_path; /* display path of the current [table] */
    sbuf_t where;      /* display path of the key being parsed; "" = no key involved */
    int depth;         /* nesting of arrays / inline tables */
} parser_t;

/* A growable list of key parts (a.b."c d" -> "a", "b", "c d"). */
typedef struct {
    char **v;
    size_t n, cap;
} keyparts_t;

static void keyparts_free(keyparts_t *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    k->v = NULL;
    k->n = k->cap = 0;
}

static int peek_at(const parser_t *p, size_t off)
{
    return p->pos + off < p->len ? (unsigned char)p->s[p->pos + off] : -1;
}

static int peek(const parser_t *p)
{
    return peek_at(p, 0);
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_bare(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

static bool is_control(int c)
{
    return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

/* Value of a hex digit (either case); 99 for anything else. */
static int digit_value(int c)
{
    if (is_digit(c)) return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return 99;
}

/* Describes the character at the current position for messages. */
static const char *describe(const parser_t *p, char buf[24])
{
    int c = peek(p);
    if (c < 0) return "end of file";
    if (c == '\n' || c == '\r') return "end of line";
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, 24, "'%c'", c);
    else
        snprintf(buf, 24, "byte 0x%02X", (unsigned)c);
    return buf;
}

static void sbuf_truncate(sbuf_t *b, size_t n)
{
    if (b->data && n <= b->len) {
        b->len = n;
        b->data[n] = 0;
    }
}

/* Appends one key part for display, quoting it when it is not a bare key. */
static void path_append(sbuf_t *b, const char *part)
{
    if (b->len) sbuf_putc(b, '.');
    bool bare = *part != 0;
    for (const char *c = part; *c; c++)
        bare = bare && is_bare((unsigned char)*c);
    if (bare) {
        sbuf_puts(b, part);
        return;
    }
    sbuf_putc(b, '"');
    for (const char *c = part; *c; c++) {
        if (*c == '"' || *c == '\\') sbuf_putc(b, '\\');
        if (is_control((unsigned char)*c))
            sbuf_printf(b, "\\u%04X", (unsigned char)*c);
        else
            sbuf_putc(b, *c);
    }
    sbuf_putc(b, '"');
}

static int fail_at(parser_t *p, int line, const char *fmt, ...) EC_PRINTF(3, 4);
static int fail_at(parser_t *p, int line, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->where.len)
        err_set(p->err, "%s:%d: %s (key '%s')", p->file, line, msg, p->where.data);
    else
        err_set(p->err, "%s:%d: %s", p->file, line, msg);
    return -1;
}
#define fail(p, ...) fail_at((p), (p)->line, __VA_ARGS__)

/* ---- whitespace, comments, line ends --------------------------------------------------- */

static void skip_ws(parser_t *p)
{
    while (peek(p) == ' ' || peek(p) == '\t')
        p->pos++;
}

/* At '#': skips to (not past) the end of the line, rejecting control characters. */
static int skip_comment(parser_t *p)
{
    for (int c; (c = peek(p)) >= 0 && c != '\n'; p->pos++) {
        if (c == '\r' && peek_at(p, 1) == '\n') break;
        if (is_control(c))
            return fail(p, "control character 0x%02X in comment; remove it", (unsigned)c);
    }
    return 0;
}

/* Consumes a newline (LF or CRLF) if one is next. Returns 1 if consumed, 0 if not, -1 on a
 * lone CR. */
static int eat_newline(parser_t *p)
{
    if (peek(p) == '\n') {
        p->pos++, p->line++;
        return 1;
    }
    if (peek(p) == '\r') {
        if (peek_at(p, 1) != '\n') return fail(p, "carriage return not followed by newline");
        p->pos += 2, p->line++;
        return 1;
    }
    return 0;
}

/* After a key/value pair or a header: blanks, an optional comment, then a newline or EOF. */
static int expect_eol(parser_t *p, const char *after)
{
    char buf[24];
    skip_ws(p);
    if (peek(p) == '#' && skip_comment(p) < 0) return -1;
    if (peek(p) < 0) return 0;
    int r = eat_newline(p);
    if (r) return r < 0 ? -1 : 0;
    return fail(p, "unexpected %s after %s; put each key = value or [table] on its own line",
                describe(p, buf), after);
}

/* Skips blanks, newlines and comments (inside arrays). */
static int skip_ws_nl(parser_t *p)
{
    for (;;) {
        skip_ws(p);
        if (peek(p) == '#') {
            if (skip_comment(p) < 0) return -1;
            continue;
        }
        int r = eat_newline(p);
        if (r < 0) return -1;
        if (!r) return 0;
    }
}

/* Rejects invalid UTF-8 up front so later stages can copy bytes freely. */
static int check_utf8(parser_t *p)
{
    const unsigned char *s = (const unsigned char *)p->s;
    int line = 1;
    for (size_t i = 0; i < p->len;) {
        unsigned c = s[i];
        if (c == '\n') line++;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        uint32_t cp = c & (n == 4 ? 0x07 : n == 3 ? 0x0F : 0x1F);
        bool ok = n && c < 0xF5 && i + n <= p->len;
        for (size_t k = 1; ok && k < n; k++) {
            ok = (s[i + k] & 0xC0) == 0x80;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
        if (!ok || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail_at(p, line, "invalid UTF-8 (byte 0x%02X); save the file as UTF-8", c);
        i += n;
    }
    return 0;
}

/* ---- strings --------------------------------------------------------------------------- */

static void put_utf8(sbuf_t *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    sbuf_append(b, u, n);
}

/* After a backslash in a basic string (p->pos at the escape letter). */
static int parse_escape(parser_t *p, sbuf_t *out, bool multi)
{
    static const char names[] = "btnfr\"\\", values[] = "\b\t\n\f\r\"\\";
    int e = peek(p);
    const char *simple = e > 0 ? strchr(names, e) : NULL;
    if (simple) {
        sbuf_putc(out, values[simple - names]);
        p->pos++;
        return 0;
    }
    if (e == 'u' || e == 'U') {
        size_t n = e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 1; k <= n; k++) {
            int h = peek_at(p, k);
            int d = digit_value(h);
            if (d > 15)
                return fail(p,
                            "\\%c needs exactly %zu hex digits (for a backslash write \\\\ "
                            "or use a 'literal string')",
                            e, n);
            if (cp > 0x10FFFF) continue; /* keep consuming; rejected below */
            cp = cp * 16 + (uint32_t)d;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(p, "\\%c escape U+%X is not a Unicode scalar value", e, cp);
        put_utf8(out, cp);
        p->pos += n + 1;
        return 0;
    }
    if (multi && (e == ' ' || e == '\t' || e == '\n' || e == '\r')) {
        skip_ws(p); /* line-ending backslash: trim blanks, newlines and blanks after them */
        int r = eat_newline(p);
        if (r < 0) return -1;
        if (!r) return fail(p, "a backslash followed by blanks must end the line");
        for (;;) {
            skip_ws(p);
            if ((r = eat_newline(p)) < 0) return -1;
            if (!r) return 0;
        }
    }
    if (e < 0) return fail(p, "unterminated string");
    return fail(p,
                "invalid escape '\\%c'; valid escapes are \\b \\t \\n \\f \\r \\\" \\\\ "
                "\\uXXXX \\UXXXXXXXX (write \\\\ for a backslash)",
                e > 0x20 && e < 0x7f ? e : '?');
}

/* Parses any of the four string forms at p->pos (a quote) into out. */
static int parse_string(parser_t *p, sbuf_t *out, bool is_key)
{
    int q = peek(p), start_line = p->line;
    bool multi = peek_at(p, 1) == q && peek_at(p, 2) == q;
    if (multi && is_key) return fail(p, "multi-line strings cannot be used as keys");
    p->pos += multi ? 3 : 1;
    if (multi && eat_newline(p) < 0) return -1; /* a newline right after """ is trimmed */
    for (;;) {
        int c = peek(p);
        if (c < 0)
            return fail_at(p, start_line, "unterminated string: add the closing %s",
                           q == '"' ? (multi ? "\"\"\"" : "\"") : (multi ? "'''" : "'"));
        if (c == q) {
            size_t n = 0;
            while (peek_at(p, n) == q)
                n++;
            if (!multi) {
                p->pos++;
                return 0;
            }
            if (n >= 3) {
                if (n > 5) return fail(p, "too many quotes (%zu) closing a multi-line string", n);
                for (size_t k = 3; k < n; k++)
                    sbuf_putc(out, (char)q);
                p->pos += n;
                return 0;
            }
            for (size_t k = 0; k < n; k++)
                sbuf_putc(out, (char)q);
            p->pos += n;
            continue;
        }
        if (c == '\n' || c == '\r') {
            if (!multi)
                return fail_at(p, start_line,
                               "unterminated string: a %s string must close on "
                               "the same line (use %s for multi-line text)",
                               q == '"' ? "\"...\"" : "'...'", q == '"' ? "\"\"\"" : "'''");
            if (eat_newline(p) < 0) return -1;
            sbuf_putc(out, '\n');
            continue;
        }
        if (c == '\\' && q == '"') {
            p->pos++;
            if (parse_escape(p, out, multi) < 0) return -1;
            continue;
        }
        if (is_control(c))
            return fail(p, "control character 0x%02X in string; write it as \\u%04X", (unsigned)c,
                        (unsigned)c);
        sbuf_putc(out, (char)c);
        p->pos++;
    }
}

/* ---- keys ------------------------------------------------------------------------------ */

/* Parses a (possibly dotted) key: part ( '.' part )*. */
static int parse_key(parser_t *p, keyparts_t *k)
{
    char buf[24];
    for (;;) {
        skip_ws(p);
        int c = peek(p);
        sbuf_t part = {0};
        if (is_bare(c)) {
            size_t start = p->pos;
            while (is_bare(peek(p)))
                p->pos++;
            sbuf_append(&part, p->s + start, p->pos - start);
        } else if (c == '"' || c == '\'') {
            if (parse_string(p, &part, true) < 0) {
                sbuf_free(&part);
                return -1;
            }
            if (part.len && strlen(part.data) != part.len) {
                sbuf_free(&part);
                return fail(p, "keys must not contain U+0000");
            }
        } else {
            return fail(p,
                        "expected a key (letters, digits, '_', '-', or a quoted string), "
                        "found %s",
                        describe(p, buf));
        }
        if (k->n == TOML_MAX_DEPTH) {
            sbuf_free(&part);
            return fail(p, "key has more than %d dotted parts", TOML_MAX_DEPTH);
        }
        if (k->n == k->cap) {
            k->cap = k->cap ? k->cap * 2 : 4;
            k->v = xrealloc(k->v, k->cap * sizeof *k->v);
        }
        k->v[k->n++] = sbuf_take(&part);
        skip_ws(p);
        if (peek(p) != '.') return 0;
        p->pos++;
    }
}

/* ---- numbers and dates ------------------------------------------------------------------ */

/* digits with single underscores between them, in the given base */
static bool digits_ok(const char *s, size_t n, int base)
{
    if (!n) return false;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '_') {
            if (i == 0 || i + 1 == n || s[i - 1] == '_') return false;
            continue;
        }
        if (digit_value(c) >= base) return false;
    }
    return true;
}

static int parse_integer(parser_t *p, const char *tok, const char *d, bool neg, int base,
                         toml_value_t **out)
{
    size_t n = strlen(d);
    if (!digits_ok(d, n, base))
        return fail(p, "invalid %sinteger '%s' (digits only, '_' only between digits)",
                    base == 16  ? "hexadecimal "
                    : base == 8 ? "octal "
                    : base == 2 ? "binary "
                                : "",
                    tok);
    if (base == 10 && d[0] == '0' && n > 1)
        return fail(p, "invalid integer '%s': leading zeros are not allowed", tok);
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)d[i];
        if (c == '_') continue;
        uint64_t dv = (uint64_t)digit_value(c);
        if (v > (limit - dv) / (uint64_t)base)
            return fail(p, "integer '%s' is out of range for a 64-bit signed integer", tok);
        v = v * (uint64_t)base + dv;
    }
    *out = toml_tree_value(TOML_INTEGER, ORIGIN_NONE, p->line);
    (*out)->u.i = !neg ? (int64_t)v : v > INT64_MAX ? INT64_MIN : -(int64_t)v;
    return 0;
}

static int parse_float(parser_t *p, const char *tok, const char *d, toml_value_t **out)
{
    const char *bad = NULL;
    size_t ip = strcspn(d, ".eE");
    if (!digits_ok(d, ip, 10))
        bad = "the part before '.' or 'e' must be digits";
    else if (d[0] == '0' && ip > 1)
        bad = "leading zeros are not allowed";
    const char *r = d + ip;
    if (!bad && *r == '.') {
        size_t fp = strcspn(r + 1, "eE");
        if (!digits_ok(r + 1, fp, 10)) bad = "a '.' needs digits on both sides";
        r += 1 + fp;
    }
    if (!bad && (*r == 'e' || *r == 'E')) {
        r++;
        if (*r == '+' || *r == '-') r++;
        if (!digits_ok(r, strlen(r), 10)) bad = "the exponent must be digits";
        r += strlen(r);
    }
    if (!bad && *r) bad = "unexpected characters";
    if (bad) return fail(p, "invalid number '%s': %s", tok, bad);
    char clean[128];
    size_t n = 0;
    for (const char *c = tok; *c; c++)
        if (*c != '_') clean[n++] = *c;
    clean[n] = 0;
    errno = 0;
    char *end;
    double f = strtod(clean, &end);
    if (*end || (errno == ERANGE && isinf(f))) return fail(p, "float '%s' is out of range", tok);
    *out = toml_tree_value(TOML_FLOAT, ORIGIN_NONE, p->line);
    (*out)->u.f = f;
    return 0;
}

/* Reads n digits at p->pos + off into *v. */
static bool fixed_digits(const parser_t *p, size_t off, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        int c = peek_at(p, off + i);
        if (!is_digit(c)) return false;
        *v = *v * 10 + (c - '0');
    }
    return true;
}

/* HH:MM:SS(.frac)? at p->pos; advances past it. */
static int parse_time(parser_t *p, const char *what)
{
    int h, m, s;
    if (!fixed_digits(p, 0, 2, &h) || peek_at(p, 2) != ':' || !fixed_digits(p, 3, 2, &m) ||
        peek_at(p, 5) != ':' || !fixed_digits(p, 6, 2, &s))
        return fail(p, "invalid %s: times are written HH:MM:SS (seconds are required)", what);
    if (h > 23 || m > 59 || s > 60)
        return fail(p,
                    "invalid %s: time %02d:%02d:%02d is out of "
                    "range",
                    what, h, m, s);
    p->pos += 8;
    if (peek(p) == '.') {
        if (!is_digit(peek_at(p, 1)))
            return fail(p,
                        "invalid %s: '.' must be followed by digits "
                        "(fractional seconds)",
                        what);
        p->pos++;
        while (is_digit(peek(p)))
            p->pos++;
    }
    return 0;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Offset date-time, local date-time, local date or local time, kept as text. */
static int parse_datetime(parser_t *p, toml_value_t **out)
{
    size_t start = p->pos;
    int line = p->line;
    if (peek_at(p, 2) == ':') {
        if (parse_time(p, "local time") < 0) return -1;
    } else {
        int y, mo, d;
        if (!fixed_digits(p, 0, 4, &y) || peek_at(p, 4) != '-' || !fixed_digits(p, 5, 2, &mo) ||
            peek_at(p, 7) != '-' || !fixed_digits(p, 8, 2, &d))
            return fail(p, "invalid date: dates are written YYYY-MM-DD");
        static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap(y)))
            return fail(p, "invalid date %04d-%02d-%02d: no such day", y, mo, d);
        p->pos += 10;
        int sep = peek(p);
        int t;
        bool has_time = (sep == 'T' || sep == 't' || sep == ' ') && fixed_digits(p, 1, 2, &t) &&
                        peek_at(p, 3) == ':';
        if (has_time) {
            p->pos++;
            if (parse_time(p, "date-time") < 0) return -1;
            int c = peek(p), oh, om;
            if (c == 'Z' || c == 'z') {
                p->pos++;
            } else if (c == '+' || c == '-') {
                if (!fixed_digits(p, 1, 2, &oh) || peek_at(p, 3) != ':' ||
                    !fixed_digits(p, 4, 2, &om) || oh > 23 || om > 59)
                    return fail(p, "invalid date-time: a time offset is written +HH:MM or Z");
                p->pos += 6;
            }
        }
    }
    *out = toml_tree_value(TOML_DATETIME, ORIGIN_NONE, line);
    (*out)->u.s.data = xstrndup(p->s + start, p->pos - start);
    (*out)->u.s.len = p->pos - start;
    return 0;
}

/* Integers, floats (incl. inf/nan) and date-times. */
static int parse_number(parser_t *p, toml_value_t **out)
{
    int y;
    if ((fixed_digits(p, 0, 4, &y) && peek_at(p, 4) == '-') ||
        (fixed_digits(p, 0, 2, &y) && peek_at(p, 2) == ':'))
        return parse_datetime(p, out);
    size_t start = p->pos;
    while (is_bare(peek(p)) || peek(p) == '+' || peek(p) == '.')
        p->pos++;
    size_t n = p->pos - start;
    char tok[128];
    if (n >= sizeof tok) return fail(p, "number is too long (%zu characters)", n);
    memcpy(tok, p->s + start, n);
    tok[n] = 0;
    const char *d = tok;
    bool neg = *d == '-', sign = *d == '+' || *d == '-';
    d += sign;
    if (!strcmp(d, "inf") || !strcmp(d, "nan")) {
        *out = toml_tree_value(TOML_FLOAT, ORIGIN_NONE, p->line);
        (*out)->u.f = d[0] == 'i' ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
        return 0;
    }
    if (d[0] == '0' && (d[1] == 'x' || d[1] == 'o' || d[1] == 'b')) {
        if (sign)
            return fail(p,
                        "invalid integer '%s': hex, octal and binary integers cannot "
                        "have a sign",
                        tok);
        return parse_integer(p, tok, d + 2, false, d[1] == 'x' ? 16 : d[1] == 'o' ? 8 : 2, out);
    }
    if (!is_digit(d[0]) && !sign && d[0] != '.')
        return fail(p, "invalid value '%s'; strings must be quoted, e.g. \"%s\"", tok, tok);
    if (!is_digit(d[0])) return fail(p, "invalid number '%s'", tok);
    if (strpbrk(d, ".eE")) return parse_float(p, tok, d, out);
    return parse_integer(p, tok, d, neg, 10, out);
}

/* ---- values ---------------------------------------------------------------------------- */

static int parse_value(parser_t *p, toml_value_t **out);
static int parse_keyval(parser_t *p, toml_value_t *tbl);

static int parse_array(parser_t *p, toml_value_t **out)
{
    char buf[24];
    toml_value_t *a = toml_tree_value(TOML_ARRAY, ARR_STATIC, p->line);
    int start_line = p->line;
    p->pos++; /* [ */
    for (;;) {
        if (skip_ws_nl(p) < 0) goto bad;
        if (peek(p) < 0) {
            fail_at(p, start_line, "unterminated array: add the closing ']'");
            goto bad;
        }
        if (peek(p) == ']') break;
        toml_value_t *item;
        if (parse_value(p, &item) < 0) goto bad;
        toml_tree_push(a, item);
        if (skip_ws_nl(p) < 0) goto bad;
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) == ']') break;
        fail(p, "expected ',' or ']' in array, found %s", describe(p, buf));
        goto bad;
    }
    p->pos++; /* ] */
    *out = a;
    return 0;
bad:
    toml_free(a);
    return -1;
}

static int parse_inline_table(parser_t *p, toml_value_t **out)
{
    char buf[24];
    toml_value_t *t = toml_tree_value(TOML_TABLE, TBL_INLINE, p->line);
    p->pos++; /* { */
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        *out = t;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (peek(p) == '\n' || peek(p) == '\r' || peek(p) == '#') {
            fail(p, "an inline table { ... } must be on one line; use a [table] section for "
                    "longer ones");
            goto bad;
        }
        if (parse_keyval(p, t) < 0) goto bad;
        skip_ws(p);
        if (peek(p) == ',') {
            p->pos++;
            skip_ws(p);
            if (peek(p) == '}') {
                fail(p, "trailing comma in inline table is not allowed in TOML 1.0");
                goto bad;
            }
            continue;
        }
        if (peek(p) == '}') break;
        if (peek(p) == '\n' || peek(p) == '\r' || peek(p) == '#')
            fail(p, "an inline table { ... } must be on one line; use a [table] section for "
                    "longer ones");
        else
            fail(p, "expected ',' or '}' in inline table, found %s", describe(p, buf));
        goto bad;
    }
    p->pos++; /* } */
    *out = t;
    return 0;
bad:
    toml_free(t);
    return -1;
}

static int parse_value(parser_t *p, toml_value_t **out)
{
    char buf[24];
    int c = peek(p);
    *out = NULL;
    if (c == '"' || c == '\'') {
        int line = p->line;
        sbuf_t s = {0};
        if (parse_string(p, &s, false) < 0) {
            sbuf_free(&s);
            return -1;
        }
        *out = toml_tree_value(TOML_STRING, ORIGIN_NONE, line);
        (*out)->u.s.len = s.len;
        (*out)->u.s.data = sbuf_take(&s);
        return 0;
    }
    if (c == '[' || c == '{') {
        if (p->depth >= TOML_MAX_DEPTH)
            return fail(p, "arrays and inline tables nested more than %d deep", TOML_MAX_DEPTH);
        p->depth++;
        int r = c == '[' ? parse_array(p, out) : parse_inline_table(p, out);
        p->depth--;
        return r;
    }
    for (int b = 0; b < 2; b++) {
        const char *word = b ? "true" : "false";
        size_t n = strlen(word);
        if (p->len - p->pos >= n && !memcmp(p->s + p->pos, word, n) && !is_bare(peek_at(p, n))) {
            *out = toml_tree_value(TOML_BOOLEAN, ORIGIN_NONE, p->line);
            (*out)->u.b = b;
            p->pos += n;
            return 0;
        }
    }
    if (is_bare(c) || c == '+' || c == '.') return parse_number(p, out);
    if (c < 0 || c == '\n' || c == '\r' || c == '#')
        return fail(p, "missing value after '='; write e.g. key = \"text\" or key = 10");
    return fail(p,
                "expected a value (string, number, true/false, date, [array] or {table}), "
                "found %s",
                describe(p, buf));
}

/* ---- tables ---------------------------------------------------------------------------- */

/* Reports why the existing value `v` cannot be used as a table (`how`: what was tried). */
static int not_a_table(parser_t *p, const toml_value_t *v, const char *how)
{
    if (v->kind == TOML_TABLE && v->origin == TBL_INLINE)
        return fail(p,
                    "cannot %s: it is an inline table (line %d), which is complete as "
                    "written",
                    how, v->line);
    if (v->kind == TOML_TABLE)
        return fail(p,
                    "cannot %s: that table was already defined by a [table] header "
                    "(line %d)",
                    how, v->line);
    if (v->kind == TOML_ARRAY && v->origin == ARR_TABLES)
        return fail(p,
                    "cannot %s: it is an array of tables (line %d); use [[...]] to add an "
                    "element",
                    how, v->line);
    return fail(p, "cannot %s: the key already holds %s %s (line %d)", how,
                v->kind == TOML_ARRAY || v->kind == TOML_INTEGER ? "an" : "a",
                toml_kind_name(v->kind), v->line);
}

/* key = value into tbl, following dotted parts through tables created by dotted keys. */
static int parse_keyval(parser_t *p, toml_value_t *tbl)
{
    char buf[24];
    keyparts_t k = {0};
    size_t mark = p->where.len;
    int rc = -1;
    if (parse_key(p, &k) < 0) goto out;
    if (p->depth == 0) sbuf_append(&p->where, p->table_path.data, p->table_path.len);
    for (size_t i = 0; i < k.n; i++)
        path_append(&p->where, k.v[i]);
    if (peek(p) != '=') {
        fail(p, "expected '=' after the key, found %s", describe(p, buf));
        goto out;
    }
    p->pos++;
    skip_ws(p);
    toml_value_t *t = tbl;
    for (size_t i = 0; i + 1 < k.n; i++) {
        toml_value_t *v = toml_tree_find(t, k.v[i]);
        if (!v) {
            v = toml_tree_value(TOML_TABLE, TBL_DOTTED, p->line);
            toml_tree_add(t, k.v[i], v);
            k.v[i] = NULL;
        } else if (v->kind != TOML_TABLE || v->origin != TBL_DOTTED) {
            not_a_table(p, v, "add keys to it with a dotted key");
            goto out;
        }
        t = v;
    }
    const toml_value_t *old = toml_tree_find(t, k.v[k.n - 1]);
    if (old) {
        fail(p, "duplicate key (first defined on line %d)", old->line);
        goto out;
    }
    if (p->depth + (int)k.n > TOML_MAX_DEPTH) {
        fail(p, "keys and values nested more than %d deep", TOML_MAX_DEPTH);
        goto out;
    }
    toml_value_t *val;
    p->depth += (int)k.n - 1; /* dotted parts nest tables too: bound the tree's depth */
    int r = parse_value(p, &val);
    p->depth -= (int)k.n - 1;
    if (r < 0) goto out;
    toml_tree_add(t, k.v[k.n - 1], val);
    k.v[k.n - 1] = NULL;
    rc = 0;
out:
    sbuf_truncate(&p->where, mark);
    keyparts_free(&k);
    return rc;
}

/* [a.b] or [[a.b]]: finds or creates the table and makes it current. */
static int parse_header(parser_t *p, toml_value_t *root, toml_value_t **cur)
{
    char buf[24];
    bool aot = peek_at(p, 1) == '[';
    p->pos += aot ? 2 : 1;
    keyparts_t k = {0};
    int rc = -1;
    if (parse_key(p, &k) < 0) goto out;
    sbuf_reset(&p->table_path);
    for (size_t i = 0; i < k.n; i++)
        path_append(&p->table_path, k.v[i]);
    sbuf_append(&p->where, p->table_path.data, p->table_path.len);
    if (peek(p) != ']' || (aot && peek_at(p, 1) != ']')) {
        fail(p, "expected '%s' to close the table header, found %s", aot ? "]]" : "]",
             describe(p, buf));
        goto out;
    }
    p->pos += aot ? 2 : 1;
    toml_value_t *t = root;
    for (size_t i = 0; i < k.n; i++) {
        bool last = i + 1 == k.n;
        toml_value_t *v = toml_tree_find(t, k.v[i]);
        if (!v) {
            if (last && aot) {
                v = toml_tree_value(TOML_ARRAY, ARR_TABLES, p->line);
                toml_tree_push(v, toml_tree_value(TOML_TABLE, TBL_HEADER, p->line));
            } else {
                v = toml_tree_value(TOML_TABLE, last ? TBL_HEADER : TBL_IMPLICIT, p->line);
            }
            toml_tree_add(t, k.v[i], v);
            k.v[i] = NULL;
        } else if (last && aot) {
            if (v->kind != TOML_ARRAY || v->origin != ARR_TABLES) {
                not_a_table(p, v, "append to it with [[...]]");
                goto out;
            }
            toml_tree_push(v, toml_tree_value(TOML_TABLE, TBL_HEADER, p->line));
        } else if (last) {
            if (v->kind == TOML_TABLE && v->origin == TBL_IMPLICIT) {
                v->origin = TBL_HEADER;
                v->line = p->line;
            } else if (v->kind == TOML_TABLE && v->origin == TBL_HEADER) {
                fail(p, "table [%s] is defined twice (first on line %d)", p->table_path.data,
                     v->line);
                goto out;
            } else if (v->kind == TOML_TABLE && v->origin == TBL_DOTTED) {
                fail(p, "table [%s] was already defined with dotted keys (line %d)",
                     p->table_path.data, v->line);
                goto out;
            } else {
                not_a_table(p, v, "define it as a [table]");
                goto out;
            }
        } else if (v->kind == TOML_ARRAY && v->origin == ARR_TABLES) {
            v = v->u.a.items[v->u.a.n - 1];
        } else if (v->kind != TOML_TABLE || v->origin == TBL_INLINE) {
            not_a_table(p, v, "use it as a table");
            goto out;
        }
        t = v;
        if (last && aot) t = v->u.a.items[v->u.a.n - 1];
    }
    *cur = t;
    sbuf_reset(&p->where);
    rc = expect_eol(p, "the table header");
out:
    sbuf_reset(&p->where);
    keyparts_free(&k);
    return rc;
}

/* ---- document -------------------------------------------------------------------------- */

int toml_parse(const char *text, size_t len, const char *filename, toml_value_t **out, err_t *err)
{
    parser_t p = {.s = text ? text : "",
                  .len = text ? len : 0,
                  .line = 1,
                  .file = filename ? filename : "<toml>",
                  .err = err};
    toml_value_t *root = toml_tree_value(TOML_TABLE, TBL_HEADER, 1), *cur = root;
    *out = NULL;
    int rc = check_utf8(&p);
    if (p.len >= 3 && !memcmp(p.s, "\xEF\xBB\xBF", 3)) p.pos = 3; /* byte order mark */
    while (rc == 0) {
        skip_ws(&p);
        int c = peek(&p);
        if (c < 0) break;
        if (c == '#') {
            rc = skip_comment(&p);
        } else if (c == '\n' || c == '\r') {
            rc = eat_newline(&p) < 0 ? -1 : 0;
        } else if (c == '[') {
            rc = parse_header(&p, root, &cur);
        } else {
            rc = parse_keyval(&p, cur);
            if (rc == 0) rc = expect_eol(&p, "the value");
        }
    }
    sbuf_free(&p.table_path);
    sbuf_free(&p.where);
    if (rc < 0) {
        toml_free(root);
        return -1;
    }
    *out = root;
    return 0;
}

int toml_parse_file(const char *path, toml_value_t **out, err_t *err)
{
    char *text;
    size_t len;
    *out = NULL;
    if (file_read_all(path, 16u << 20, &text, &len, err) < 0) return -1;
    int rc = toml_parse(text, len, path, out, err);
    free(text);
    return rc;
}
