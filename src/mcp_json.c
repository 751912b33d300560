/* mcp_json.c — see mcp_json.h. */
#include "mcp_json.h"

#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 -------------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (n bytes available), 0 when ill-formed. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    if (len == 0 || n < len) return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xF0 && s[1] < 0x90)) return 0; /* overlong */
    if (c == 0xED && s[1] > 0x9F) return 0;                                 /* surrogate */
    if (c == 0xF4 && s[1] > 0x8F) return 0;                                 /* > U+10FFFF */
    return len;
}

/* Offset of the first ill-formed byte in s[0..n), or n when all is well-formed. */
size_t mcp_utf8_check(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k) return i;
        i += k;
    }
    return n;
}

/* Appends s to b, replacing each ill-formed byte by U+FFFD, so that what we send is valid
 * UTF-8 whatever a handler put in its strings (e.g. a preview cut inside a character). */
void mcp_utf8_append_clean(sbuf_t *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t ok = mcp_utf8_check(s + i, n - i);
        sbuf_append(b, s + i, ok);
        i += ok;
        if (i < n) {
            sbuf_puts(b, "\xEF\xBF\xBD");
            i++;
        }
    }
}

/* ---- raw JSON scanning ---------------------------------------------------------------- *
 * cJSON keeps numbers as doubles, which would change ids such as 9007199254740993. These
 * helpers find a member's value in the original text so that it can be echoed verbatim.
 * They never read past n and give up (return 0 / false) on anything unexpected, so they
 * also work on broken or truncated lines. Whitespace is what cJSON skips: bytes <= 32. */

size_t mcp_json_skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (unsigned char)s[i] <= 32 && s[i] != 0)
        i++;
    return i;
}

/* s[i] is '"'; returns the offset after the closing quote, 0 when unterminated. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\') {
            i++;
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return 0;
}

/* Offset after the value starting at s[i], 0 when it is unterminated or not a value. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    if (i >= n) return 0;
    if (s[i] == '"') return skip_string(s, n, i);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            char c = s[i];
            if (c == '"') {
                size_t e = skip_string(s, n, i);
                if (!e) return 0;
                i = e - 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if ((c == '}' || c == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return 0;
    }
    size_t start = i;
    while (i < n && strchr("+-.0123456789eEtruefalsn", s[i]) && s[i])
        i++;
    return i > start ? i : 0;
}

/* Whether the string token s[0..n) (with quotes) decodes to key. */
static bool key_equals(const char *s, size_t n, const char *key)
{
    if (!memchr(s, '\\', n)) return n - 2 == strlen(key) && !memcmp(s + 1, key, n - 2);
    cJSON *k = cJSON_ParseWithLength(s, n);
    bool eq = cJSON_IsString(k) && !strcmp(k->valuestring, key);
    cJSON_Delete(k);
    return eq;
}

/* Finds the first top-level member `key` of the object text s[0..n): *vs, *ve delimit its
 * value. The value must be complete and followed by ',' or '}'. */
bool mcp_json_member(const char *s, size_t n, const char *key, size_t *vs, size_t *ve)
{
    size_t i = mcp_json_skip_ws(s, n, 0);
    if (i >= n || s[i] != '{') return false;
    for (i++;;) {
        i = mcp_json_skip_ws(s, n, i);
        if (i >= n || s[i] != '"') return false;
        size_t ke = skip_string(s, n, i);
        if (!ke) return false;
        bool match = key_equals(s + i, ke - i, key);
        i = mcp_json_skip_ws(s, n, ke);
        if (i >= n || s[i] != ':') return false;
        size_t v = mcp_json_skip_ws(s, n, i + 1), e = skip_value(s, n, v);
        if (!e) return false;
        size_t after = mcp_json_skip_ws(s, n, e);
        if (after >= n || (s[after] != ',' && s[after] != '}')) return false;
        if (match) {
            *vs = v;
            *ve = e;
            return true;
        }
        if (s[after] == '}') return false;
        i = after + 1;
    }
}

/* Whether s[0..n) is a number in strict JSON syntax (cJSON also accepts "+1", "01", "1."). */
static bool strict_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return false;
    }
    return i == n;
}

/* Turns the id token s[0..n) into the node we echo: a string, or the number's own text.
 * NULL when the token is neither. */
cJSON *mcp_id_from_token(const char *s, size_t n)
{
    if (n && s[0] == '"') {
        cJSON *v = cJSON_ParseWithLength(s, n);
        cJSON *id = cJSON_IsString(v) ? cJSON_CreateString(v->valuestring) : NULL;
        cJSON_Delete(v);
        return id;
    }
    if (!strict_number(s, n)) return NULL;
    char *raw = xstrndup(s, n);
    cJSON *id = cJSON_CreateRaw(raw);
    free(raw);
    return id;
}

/* The id to echo for the parsed object `msg` read from line[0..len), or NULL when it has
 * no usable id (absent, or not a string or number). */
cJSON *mcp_id_of(const cJSON *msg, const char *line, size_t len)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    if (cJSON_IsString(id)) return cJSON_CreateString(id->valuestring);
    if (!cJSON_IsNumber(id)) return NULL;
    size_t vs, ve;
    cJSON *raw =
        mcp_json_member(line, len, "id", &vs, &ve) ? mcp_id_from_token(line + vs, ve - vs) : NULL;
    return raw ? raw : cJSON_CreateNumber(id->valuedouble);
}

/* Best effort for a line that failed to parse or was too long: the id, if the text up to
 * and including it is well-formed. */
cJSON *mcp_id_of_broken(const char *line, size_t len)
{
    size_t vs, ve;
    return mcp_json_member(line, len, "id", &vs, &ve) ? mcp_id_from_token(line + vs, ve - vs)
                                                      : NULL;
}

static bool id_number(const cJSON *id, double *out)
{
    if (cJSON_IsRaw(id)) {
        *out = strtod(id->valuestring, NULL);
        return true;
    }
    if (cJSON_IsNumber(id)) {
        *out = id->valuedouble;
        return true;
    }
    return false;
}

/* Whether two ids name the same request: equal strings, or numbers with the same text or,
 * within the range doubles hold exactly, the same value (1 and 1.0). */
bool mcp_id_equal(const cJSON *a, const cJSON *b)
{
    if (!a || !b) return false;
    if (cJSON_IsString(a) || cJSON_IsString(b))
        return cJSON_IsString(a) && cJSON_IsString(b) && !strcmp(a->valuestring, b->valuestring);
    if (cJSON_IsRaw(a) && cJSON_IsRaw(b) && !strcmp(a->valuestring, b->valuestring)) return true;
    double x, y;
    return id_number(a, &x) && id_number(b, &y) && x == y && x < 9007199254740992.0 &&
           x > -9007199254740992.0;
}
