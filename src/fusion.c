/* fusion.c — see fusion.h. */
#include "fusion.h"

#include <stdlib.h>

static int best_rank(const fusion_hit_t *h)
{
    int a = h->rank_a ? h->rank_a : 1 << 30, b = h->rank_b ? h->rank_b : 1 << 30;
    return a < b ? a : b;
}

static int cmp_hit(const void *x, const void *y)
{
    const fusion_hit_t *p = x, *q = y;
    if (p->score != q->score) return p->score > q->score ? -1 : 1;
    int rp = best_rank(p), rq = best_rank(q);
    if (rp != rq) return rp < rq ? -1 : 1;
    /* Still tied: list a (the keyword arm in hybrid search) decides — exact lexical
     * evidence is the more precise signal. */
    int ap = p->rank_a ? p->rank_a : 1 << 30, aq = q->rank_a ? q->rank_a : 1 << 30;
    if (ap != aq) return ap < aq ? -1 : 1;
    return p->id < q->id ? -1 : p->id > q->id;
}

/* Linear search: lists are at most a few hundred long (5 × top_k each). */
static fusion_hit_t *find(fusion_hit_t *out, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (out[i].id == id) return &out[i];
    return NULL;
}

size_t fusion_rrf(const int64_t *a, size_t n_a, const int64_t *b, size_t n_b, int k,
                  fusion_hit_t *out)
{
    size_t n = 0;
    for (int list = 0; list < 2; list++) {
        const int64_t *v = list ? b : a;
        size_t len = list ? n_b : n_a;
        for (size_t i = 0; i < len; i++) {
            fusion_hit_t *h = find(out, n, v[i]);
            if (!h) {
                h = &out[n++];
                *h = (fusion_hit_t){.id = v[i]};
            }
            int *rank = list ? &h->rank_b : &h->rank_a;
            if (*rank) continue; /* duplicate within one list */
            *rank = (int)i + 1;
            h->score += 1.0 / (double)(k + (int)i + 1);
        }
    }
    qsort(out, n, sizeof *out, cmp_hit);
    return n;
}
