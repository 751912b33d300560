/* fusion.h — Reciprocal Rank Fusion of ranked result lists (DESIGN §2: hybrid search).
 *
 * score(d) = sum over lists L containing d of 1 / (k + rank_L(d)), ranks starting at 1,
 * k = 60 by default. Pure functions; thread-safe. */
#ifndef EMBECODE_FUSION_H
#define EMBECODE_FUSION_H

#include <stddef.h>
#include <stdint.h>

#define FUSION_RRF_K 60

typedef struct {
    int64_t id;      /* chunk id */
    double score;    /* fused score */
    int rank_a;      /* 1-based rank in list a, 0 when absent */
    int rank_b;      /* 1-based rank in list b, 0 when absent */
} fusion_hit_t;

/* Fuses two ranked lists of ids (best first; an id appearing twice in one list counts at
 * its first position) into out (capacity n_a + n_b), best first; ties broken by the better
 * rank in either list, then by id. Returns the number of fused hits. */
size_t fusion_rrf(const int64_t *a, size_t n_a, const int64_t *b, size_t n_b, int k,
                  fusion_hit_t *out);

#endif
