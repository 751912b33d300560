/* toml_tree.c — the TOML value tree: construction, lookup (tables get a hash index once
 * they grow past 8 keys) and the public accessors of toml.h. */
#include "toml_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- the tree ---------------------------------------------------------------------- */

toml_value_t *toml_tree_value(toml_kind_t kind, int origin, int line)
{
    toml_value_t *v = xcalloc(1, sizeof *v);
    v->kind = kind;
    v->origin = origin;
    v->line = line;
    return v;
}

void toml_free(toml_value_t *v)
{
    if (!v) return;
    switch (v->kind) {
    case TOML_STRING:
    case TOML_DATETIME:
        free(v->u.s.data);
        break;
    case TOML_ARRAY:
        for (size_t i = 0; i < v->u.a.n; i++)
            toml_free(v->u.a.items[i]);
        free(v->u.a.items);
        break;
    case TOML_TABLE:
        for (size_t i = 0; i < v->u.t.n; i++) {
            free(v->u.t.keys[i]);
            toml_free(v->u.t.vals[i]);
        }
        free(v->u.t.keys);
        free(v->u.t.vals);
        free(v->u.t.slots);
        break;
    default:
        break;
    }
    free(v);
}

static uint32_t key_hash(const char *k)
{
    uint32_t h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

static void table_index_put(toml_value_t *t, size_t entry)
{
    size_t mask = t->u.t.nslots - 1, i = key_hash(t->u.t.keys[entry]) & mask;
    while (t->u.t.slots[i])
        i = (i + 1) & mask;
    t->u.t.slots[i] = (uint32_t)(entry + 1);
}

toml_value_t *toml_tree_find(const toml_value_t *t, const char *key)
{
    if (!t || t->kind != TOML_TABLE) return NULL;
    if (!t->u.t.slots) {
        for (size_t i = 0; i < t->u.t.n; i++)
            if (strcmp(t->u.t.keys[i], key) == 0) return t->u.t.vals[i];
        return NULL;
    }
    size_t mask = t->u.t.nslots - 1;
    for (size_t i = key_hash(key) & mask; t->u.t.slots[i]; i = (i + 1) & mask) {
        size_t e = t->u.t.slots[i] - 1;
        if (strcmp(t->u.t.keys[e], key) == 0) return t->u.t.vals[e];
    }
    return NULL;
}

/* Adds key (taking ownership) -> v. The caller has checked the key is new. */
void toml_tree_add(toml_value_t *t, char *key, toml_value_t *v)
{
    if (t->u.t.n == t->u.t.cap) {
        t->u.t.cap = t->u.t.cap ? t->u.t.cap * 2 : 4;
        t->u.t.keys = xrealloc(t->u.t.keys, t->u.t.cap * sizeof *t->u.t.keys);
        t->u.t.vals = xrealloc(t->u.t.vals, t->u.t.cap * sizeof *t->u.t.vals);
    }
    size_t e = t->u.t.n++;
    t->u.t.keys[e] = key;
    t->u.t.vals[e] = v;
    if (t->u.t.n > 8 && t->u.t.n * 2 > t->u.t.nslots) { /* (re)build the index */
        free(t->u.t.slots);
        t->u.t.nslots = 16;
        while (t->u.t.nslots < t->u.t.n * 4)
            t->u.t.nslots *= 2;
        t->u.t.slots = xcalloc(t->u.t.nslots, sizeof *t->u.t.slots);
        for (size_t i = 0; i < t->u.t.n; i++)
            table_index_put(t, i);
    } else if (t->u.t.slots) {
        table_index_put(t, e);
    }
}

void toml_tree_push(toml_value_t *a, toml_value_t *v)
{
    if (a->u.a.n == a->u.a.cap) {
        a->u.a.cap = a->u.a.cap ? a->u.a.cap * 2 : 4;
        a->u.a.items = xrealloc(a->u.a.items, a->u.a.cap * sizeof *a->u.a.items);
    }
    a->u.a.items[a->u.a.n++] = v;
}

/* ---- accessors ----------------------------------------------------------------------- */

toml_kind_t toml_kind(const toml_value_t *v)
{
    return v ? v->kind : TOML_TABLE;
}

const char *toml_kind_name(toml_kind_t kind)
{
    static const char *names[] = {"table", "array",   "string",   "integer",
                                  "float", "boolean", "date-time"};
    return (unsigned)kind < ARRAY_LEN(names) ? names[kind] : "value";
}

int toml_line(const toml_value_t *v)
{
    return v ? v->line : 0;
}

size_t toml_table_len(const toml_value_t *t)
{
    return t && t->kind == TOML_TABLE ? t->u.t.n : 0;
}

const char *toml_table_key(const toml_value_t *t, size_t i)
{
    return i < toml_table_len(t) ? t->u.t.keys[i] : NULL;
}

const toml_value_t *toml_table_value(const toml_value_t *t, size_t i)
{
    return i < toml_table_len(t) ? t->u.t.vals[i] : NULL;
}

const toml_value_t *toml_table_get(const toml_value_t *t, const char *key)
{
    return key ? toml_tree_find(t, key) : NULL;
}

const toml_value_t *toml_get(const toml_value_t *t, const char *path)
{
    if (!path) return NULL;
    char part[256];
    while (t) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part) return NULL;
        memcpy(part, path, n);
        part[n] = 0;
        t = toml_tree_find(t, part);
        if (!dot) return t;
        path = dot + 1;
    }
    return NULL;
}

size_t toml_array_len(const toml_value_t *a)
{
    return a && a->kind == TOML_ARRAY ? a->u.a.n : 0;
}

const toml_value_t *toml_array_at(const toml_value_t *a, size_t i)
{
    return i < toml_array_len(a) ? a->u.a.items[i] : NULL;
}

const char *toml_string(const toml_value_t *v, size_t *len)
{
    if (!v || (v->kind != TOML_STRING && v->kind != TOML_DATETIME)) return NULL;
    if (len) *len = v->u.s.len;
    return v->u.s.data;
}

int64_t toml_integer(const toml_value_t *v)
{
    return v && v->kind == TOML_INTEGER ? v->u.i : 0;
}

double toml_float(const toml_value_t *v)
{
    return v && v->kind == TOML_FLOAT ? v->u.f : 0.0;
}

bool toml_boolean(const toml_value_t *v)
{
    return v && v->kind == TOML_BOOLEAN ? v->u.b : false;
}
