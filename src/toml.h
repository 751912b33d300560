/* toml.h — a TOML 1.0 parser that turns a document into a tree of values you can query.
 *
 *   toml_value_t *doc;
 *   if (toml_parse(text, len, "config.toml", &doc, &err) < 0) { report err.msg; }
 *   const toml_value_t *v = toml_get(doc, "search.top_k");
 *   if (v && toml_kind(v) == TOML_INTEGER) use(toml_integer(v));
 *   toml_free(doc);
 *
 * Supported: tables [a.b], arrays of tables [[a]], dotted/bare/quoted keys, the four string
 * forms (with \uXXXX and \UXXXXXXXX escapes and line-ending backslashes), integers (decimal
 * with '_', 0x/0o/0b), floats (exponents, inf, nan), booleans, multi-line arrays with comments
 * and trailing commas, inline tables, comments, and offset/local date-times, dates and times
 * (kept as their text, kind TOML_DATETIME). Duplicate keys and redefined tables are errors.
 *
 * Errors read "FILE:LINE: message (key 'a.b')" — the key part only when a key is involved.
 * The parser never reads outside [text, text+len) and never crashes on any input (it is a
 * fuzz target); nesting of arrays/inline tables and parts per key are capped at
 * TOML_MAX_DEPTH so hostile input cannot exhaust the stack.
 *
 * A tree is immutable after parsing, so it may be read from many threads at once. */
#ifndef EMBECODE_TOML_H
#define EMBECODE_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define TOML_MAX_DEPTH 100

typedef enum {
    TOML_TABLE,
    TOML_ARRAY,
    TOML_STRING,
    TOML_INTEGER,
    TOML_FLOAT,
    TOML_BOOLEAN,
    TOML_DATETIME, /* text as written, e.g. "1979-05-27T07:32:00Z", "1979-05-27", "07:32:00" */
} toml_kind_t;

typedef struct toml_value toml_value_t;

/* Parses text[0..len) (need not be NUL-terminated; may contain any bytes). `filename` is used
 * only in messages. On success returns 0 and sets *out to the root table (free it with
 * toml_free). On failure returns -1, sets *out to NULL and fills err. */
int toml_parse(const char *text, size_t len, const char *filename, toml_value_t **out, err_t *err);
/* Reads and parses a file (at most 16 MiB). Same contract as toml_parse; I/O failures are
 * reported as "cannot open PATH: reason". */
int toml_parse_file(const char *path, toml_value_t **out, err_t *err);
/* Frees a tree returned by toml_parse. NULL is fine. Do not free sub-values. */
void toml_free(toml_value_t *v);

/* The kind of a value, and its name for messages ("table", "array", "string", "integer",
 * "float", "boolean", "date-time"). */
toml_kind_t toml_kind(const toml_value_t *v);
const char *toml_kind_name(toml_kind_t kind);
/* 1-based line where the value starts (for a table: its [header], or the first key that
 * created it). */
int toml_line(const toml_value_t *v);

/* Tables keep keys in document order. All accessors are NULL-safe and return
 * 0/NULL when `t` is NULL or not a table (or `i` is out of range). Returned pointers live
 * as long as the tree. */
size_t toml_table_len(const toml_value_t *t);
const char *toml_table_key(const toml_value_t *t, size_t i);
const toml_value_t *toml_table_value(const toml_value_t *t, size_t i);
/* Looks up one key (no dot splitting). */
const toml_value_t *toml_table_get(const toml_value_t *t, const char *key);
/* Looks up a dotted path of bare keys ("index.languages.python"), descending through
 * tables. NULL when any part is missing or not a table. */
const toml_value_t *toml_get(const toml_value_t *t, const char *path);

/* Arrays (static arrays and arrays of tables alike). NULL-safe like the table accessors. */
size_t toml_array_len(const toml_value_t *a);
const toml_value_t *toml_array_at(const toml_value_t *a, size_t i);

/* Scalars. toml_string works on TOML_STRING and TOML_DATETIME and returns a NUL-terminated
 * string (which may also contain NULs from \u0000 — *len, when non-NULL, gets the full
 * length); NULL for other kinds. The others return 0 / 0.0 / false for the wrong kind. */
const char *toml_string(const toml_value_t *v, size_t *len);
int64_t toml_integer(const toml_value_t *v);
double toml_float(const toml_value_t *v);
bool toml_boolean(const toml_value_t *v);

#endif
