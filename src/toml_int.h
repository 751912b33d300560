/* toml_int.h — the value tree shared by the TOML parser (toml.c) and its accessors
 * (toml_tree.c). Not part of the public API. */
#ifndef EMBECODE_TOML_INT_H
#define EMBECODE_TOML_INT_H

#include "toml.h"

/* How a table or array came to exist. */
enum {
    ORIGIN_NONE = 0,
    TBL_IMPLICIT, /* an intermediate part of a [a.b.c] header; may be defined later, once */
    TBL_HEADER,   /* defined by [header] (or an element of [[array]]) */
    TBL_DOTTED,   /* created by a dotted key a.b = 1; closed to [headers] naming it */
    TBL_INLINE,   /* { ... }: complete, closed to any extension */
    ARR_STATIC,   /* [ ... ] value */
    ARR_TABLES,   /* built by [[header]] */
};

struct toml_value {
    toml_kind_t kind;
    int origin;
    int line;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            char *data;
            size_t len;
        } s;
        struct {
            toml_value_t **items;
            size_t n, cap;
        } a;
        struct {
            char **keys;
            toml_value_t **vals;
            size_t n, cap;
            uint32_t *slots; /* open-addressing index (entry+1, 0 = empty) once n > 8 */
            size_t nslots;
        } t;
    } u;
};

/* A new value of kind, allocated (never NULL: xcalloc aborts on exhaustion). */
toml_value_t *toml_tree_value(toml_kind_t kind, int origin, int line);
/* The value under key in table t, or NULL. */
toml_value_t *toml_tree_find(const toml_value_t *t, const char *key);
/* Adds key (ownership taken) -> v (ownership taken) to table t; the key must be absent. */
void toml_tree_add(toml_value_t *t, char *key, toml_value_t *v);
/* Appends v (ownership taken) to array a. */
void toml_tree_push(toml_value_t *a, toml_value_t *v);

#endif
