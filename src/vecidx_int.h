/* vecidx_int.h — internals shared by vecidx.c (layout, sync) and vecidx_search.c (search);
 * not part of the public API (include vecidx.h). The layout is described at the top of
 * vecidx.c, the exactness argument at the top of vecidx_search.c. */
#ifndef EMBECODE_VECIDX_INT_H
#define EMBECODE_VECIDX_INT_H

#include <math.h>
#include <pthread.h>
#include <stdbool.h>

#include "vecidx.h"

#define BLOCK_SLOTS 1024u
#define NONE UINT32_MAX
#define HLEN 20
#define SCAN_BATCH 256

typedef struct {
    float upper; /* upper bound of the row's exact score */
    uint32_t slot;
} vecidx_cand_t;

/* One thread's share of a scan: rows [begin, end) and what it found. */
typedef struct {
    size_t begin, end;
    float *heap; /* min-heap of the k best lower bounds of exact scores, one per chunk */
    int heap_n;
    vecidx_cand_t *cand;
    size_t n_cand, cap_cand;
} vecidx_part_t;

typedef struct {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen, done_gen;
    bool quit;
    void (*fn)(void *arg, int part);
    void *arg;
} vecidx_pool_t;

struct vecidx {
    char *model;
    int dim;
    vecidx_format_t fmt;
    size_t dpad, row_bytes; /* elements per row (padded), bytes per row */

    /* slots (distinct hashes) */
    uint8_t **blocks; /* BLOCK_SLOTS rows each */
    size_t n_blocks;
    uint32_t n_slots, cap_slots; /* high-water mark (scan range), allocated */
    uint32_t free_slot;          /* free list head, linked through head[] */
    uint32_t vec_slots;          /* live slots that have a vector */
    float *scale;                /* f16: power of two; int8: value of code 1 */
    uint32_t *refs;              /* live chunks with this hash */
    uint32_t *weight;            /* refs when the slot has a vector, else 0: what the scan counts */
    uint32_t *head;              /* first chunk of the slot's list */
    uint8_t (*hash)[HLEN];
    uint8_t *hasvec;
    uint32_t *stab, stab_mask, stab_n; /* hash -> slot */

    /* chunks */
    int64_t *cid, *cfile;
    uint32_t *cslot, *cnext, *cprev; /* slot (NONE when free), list links */
    uint32_t n_chunks, cap_chunks, free_chunk, live_chunks;
    size_t with_vec;                   /* live chunks whose slot has a vector */
    uint32_t *ctab, ctab_mask, ctab_n; /* chunk id -> chunk */

    /* Per slot, rounded up: |v - dequant(v)| and max(|dequant(v)|, |v|); and their maxima
     * over every slot ever quantised (the scan's quick test). */
    float *errn, *normn;
    double max_err, max_norm;

    /* following the index */
    bool loaded, external; /* external: filled by vecidx_add */
    int64_t dv, log_seq, vec_seq;
    uint32_t *pending; /* slots created by log rows: look their vectors up */
    size_t n_pending, cap_pending;
    vecidx_stats_t st;
    float *tmp;  /* dim floats of scratch for quantisation and fetches */
    double *deq; /* dim doubles: a dequantised row */

    int (*fetch)(void *ctx, const char *hash, float *out);
    void *fetch_ctx;

    /* search */
    int threads;
    size_t par_min;
    vecidx_pool_t *pool;
    bool pool_failed;
    uint32_t *pmult, *plist; /* prefix search: allowed chunks per slot, allowed slots */
    uint32_t cap_pmult;
    vecidx_part_t parts[2];
    float *qf;  /* padded query, float */
    int8_t *qi; /* padded query codes (int8 format) */
};

static inline uint8_t *slot_row(const vecidx_t *v, uint32_t s)
{
    return v->blocks[s / BLOCK_SLOTS] + (size_t)(s % BLOCK_SLOTS) * v->row_bytes;
}

static inline float max_abs(const float *x, int n)
{
    float m = 0;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        m = a > m ? a : m;
    }
    return m;
}

/* The int8 code of x (already divided by the scale): rounded, clamped to -127..127. Any
 * rounding is fine for exactness: the error bound uses the actual quantisation error. */
static inline int code_of(float x)
{
    x = x > 127.0f ? 127.0f : x < -127.0f ? -127.0f : x;
    return (int)(x + (x >= 0 ? 0.5f : -0.5f));
}

/* The smallest float >= x, and the largest float <= x. */
static inline float float_above(double x)
{
    float f = (float)x;
    return (double)f < x ? nextafterf(f, INFINITY) : f;
}

static inline float float_below(double x)
{
    float f = (float)x;
    return (double)f > x ? nextafterf(f, -INFINITY) : f;
}

/* 64-byte aligned, zeroed, rounded up to 64 bytes; aborts on failure like xmalloc. */
void *vecidx_aligned_zalloc(size_t n);
/* 20 bytes -> 40 lowercase hex digits. */
void vecidx_hash_hex(const uint8_t h[HLEN], char out[2 * HLEN + 1]);
/* Stops and frees the search worker thread (vecidx_search.c). */
void vecidx_pool_stop(vecidx_pool_t *p);

#endif
