#include "fusion.h"
#include "t.h"

#include <math.h>

static void test_rrf_scores_are_reciprocal_ranks(void)
{
    int64_t a[] = {10, 20, 30}, b[] = {30, 40};
    fusion_hit_t out[5];
    size_t n = fusion_rrf(a, 3, b, 2, 60, out);
    T_EQ_INT(n, 4);
    /* 30: 1/63 + 1/61 beats 10: 1/61 */
    T_EQ_INT(out[0].id, 30);
    T_CHECK(fabs(out[0].score - (1.0 / 63 + 1.0 / 61)) < 1e-12);
    T_EQ_INT(out[0].rank_a, 3);
    T_EQ_INT(out[0].rank_b, 1);
    T_EQ_INT(out[1].id, 10);
    T_CHECK(fabs(out[1].score - 1.0 / 61) < 1e-12);
}

static void test_rrf_ties_prefer_better_rank_then_id(void)
{
    /* 10 is first in a, 40 is first in b: equal scores; same best rank → lower id first. */
    int64_t a[] = {10, 20}, b[] = {40, 50};
    fusion_hit_t out[4];
    size_t n = fusion_rrf(a, 2, b, 2, 60, out);
    T_EQ_INT(n, 4);
    T_EQ_INT(out[0].id, 10);
    T_EQ_INT(out[1].id, 40);
    T_EQ_INT(out[2].id, 20);
    T_EQ_INT(out[3].id, 50);
}

static void test_rrf_one_empty_list_keeps_the_other_order(void)
{
    int64_t b[] = {7, 3, 9};
    fusion_hit_t out[3];
    size_t n = fusion_rrf(NULL, 0, b, 3, 60, out);
    T_EQ_INT(n, 3);
    T_EQ_INT(out[0].id, 7);
    T_EQ_INT(out[1].id, 3);
    T_EQ_INT(out[2].id, 9);
    T_EQ_INT(out[2].rank_a, 0);
}

static void test_rrf_duplicate_in_one_list_counts_once(void)
{
    int64_t a[] = {5, 5, 6};
    fusion_hit_t out[3];
    size_t n = fusion_rrf(a, 3, NULL, 0, 60, out);
    T_EQ_INT(n, 2);
    T_EQ_INT(out[0].id, 5);
    T_CHECK(fabs(out[0].score - 1.0 / 61) < 1e-12);
    T_EQ_INT(out[1].id, 6);
}

static void test_rrf_full_tie_goes_to_list_a(void)
{
    /* 1 is first in a and second in b; 2 the reverse: equal scores and best ranks. */
    int64_t a[] = {1, 2}, b[] = {2, 1};
    fusion_hit_t out[2];
    fusion_rrf(a, 2, b, 2, 60, out);
    T_EQ_INT(out[0].id, 1);
    int64_t a2[] = {2, 1}, b2[] = {1, 2};
    fusion_rrf(a2, 2, b2, 2, 60, out);
    T_EQ_INT(out[0].id, 2);
}

int main(void)
{
    T_RUN(test_rrf_scores_are_reciprocal_ranks);
    T_RUN(test_rrf_ties_prefer_better_rank_then_id);
    T_RUN(test_rrf_one_empty_list_keeps_the_other_order);
    T_RUN(test_rrf_duplicate_in_one_list_counts_once);
    T_RUN(test_rrf_full_tie_goes_to_list_a);
    return t_done();
}
