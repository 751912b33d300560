/* kern_attn.c — kern_attention (see kern.h): fused scaled dot-product attention for one
 * sequence and one head, with a scalar reference, an AVX2 and an AVX-512 implementation
 * picked by the same runtime dispatch as the rest of the kernels.
 *
 * All versions compute scores = Q·Kᵀ for a block of queries into scratch that stays in
 * cache, turn each row into softmax weights in place, and multiply by V; the 1/sum of the
 * softmax is applied to the output rows instead of to the weights. */
#include "kern_impl.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* ---- scalar reference --------------------------------------------------------------- */

static float dot_ref(const float *a, const float *b, size_t n)
{
    float s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void attention_scalar(size_t n_q, size_t n_kv, size_t hd, const float *q, size_t ldq,
                             const float *k, size_t ldk, const float *v, size_t ldv,
                             const float *mask, float scale, float *out, size_t ldo)
{
    float *p = kern_scratch(3, n_kv * sizeof(float));
    for (size_t i = 0; i < n_q; i++) {
        const float *qi = q + i * ldq;
        float *o = out + i * ldo;
        float mx = -INFINITY;
        for (size_t j = 0; j < n_kv; j++) {
            p[j] = dot_ref(qi, k + j * ldk, hd) * scale + (mask ? mask[j] : 0);
            if (p[j] > mx) mx = p[j];
        }
        memset(o, 0, hd * sizeof(float));
        if (mx == -INFINITY) continue; /* every key masked */
        float sum = 0;
        for (size_t j = 0; j < n_kv; j++)
            sum += p[j] = expf(p[j] - mx);
        for (size_t j = 0; j < n_kv; j++) {
            float w = p[j] / sum;
            const float *vj = v + j * ldv;
            for (size_t d = 0; d < hd; d++)
                o[d] += w * vj[d];
        }
    }
}

#if defined(__x86_64__)

/* ---- AVX2 ------------------------------------------------------------------------------ */

#define TGT2 __attribute__((target("avx2,fma,f16c")))
#define TGT2_INLINE static inline __attribute__((always_inline)) TGT2

enum { AV2_MR = 6, AV2_NR = 16 };

TGT2_INLINE float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- attention (contract: kern_attention) ---------------------------------------------
 * The same 6 × 16 microkernel computes scores = Q·Kᵀ (keys transposed into 16-wide panels)
 * and out = P·V (reading V rows in place, or a zero-padded copy of the last columns). */

/* e^x (Cephes polynomial, ~1 ulp); inputs below -104 give 0. */
TGT2_INLINE __m256 exp256(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-104.0f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.7f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* 2^n for n in [-151, 128]: build it in two halves so the exponent never overflows. */
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i h = _mm256_srai_epi32(ni, 1);
    __m256 s1 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* S[j] = e^(scale·S[j] + mask[j] - max) for j < n; returns 1 / sum (0 if all masked). */
TGT2 static float softmax_avx2(float *S, size_t n, float scale, const float *mask)
{
    float mx = -INFINITY;
    for (size_t j = 0; j < n; j++) {
        S[j] = S[j] * scale + (mask ? mask[j] : 0);
        mx = S[j] > mx ? S[j] : mx;
    }
    if (mx == -INFINITY) {
        memset(S, 0, n * sizeof(float));
        return 0;
    }
    __m256 mv = _mm256_set1_ps(mx), sum = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(S + j), mv));
        _mm256_storeu_ps(S + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    float tail = 0;
    for (; j < n; j++)
        tail += S[j] = expf(S[j] - mx);
    return 1.0f / (hsum8(sum) + tail);
}

TGT2 static void attention_avx2(size_t n_q, size_t n_kv, size_t hd, const float *q, size_t ldq,
                                const float *k, size_t ldk, const float *v, size_t ldv,
                                const float *mask, float scale, float *out, size_t ldo)
{
    static const float zeros[AV2_NR];
    size_t np = (n_kv + AV2_NR - 1) / AV2_NR * AV2_NR, dp = (hd + AV2_NR - 1) / AV2_NR * AV2_NR;
    float *kt =
        kern_scratch(3, (hd * np + AV2_MR * np + n_kv * AV2_NR + AV2_MR * AV2_NR) * sizeof(float));
    float *S = kt + hd * np, *vt = S + AV2_MR * np, *tile = vt + n_kv * AV2_NR;
    for (size_t jb = 0; jb < np; jb += AV2_NR) /* panel jb: kt[jb*hd + d*AV2_NR + c] = k[jb+c][d] */
        for (size_t d = 0; d < hd; d++)
            for (size_t c = 0; c < AV2_NR; c++)
                kt[jb * hd + d * AV2_NR + c] = jb + c < n_kv ? k[(jb + c) * ldk + d] : 0;
    if (dp != hd) /* last, partial column block of V, zero padded */
        for (size_t j = 0; j < n_kv; j++)
            for (size_t c = 0; c < AV2_NR; c++)
                vt[j * AV2_NR + c] = dp - AV2_NR + c < hd ? v[j * ldv + dp - AV2_NR + c] : 0;
    for (size_t i = 0; i < n_q; i += AV2_MR) {
        int mr = (int)EC_MIN((size_t)AV2_MR, n_q - i);
        float inv[AV2_MR];
        for (size_t jb = 0; jb < np; jb += AV2_NR)
            kern_avx2_tile(mr, hd, q + i * ldq, ldq, kt + jb * hd, AV2_NR, S + jb, np, zeros);
        for (int r = 0; r < mr; r++)
            inv[r] = softmax_avx2(S + r * np, n_kv, scale, mask);
        for (size_t d0 = 0; d0 < dp; d0 += AV2_NR) {
            bool partial = d0 + AV2_NR > hd;
            kern_avx2_tile(mr, n_kv, S, np, partial ? vt : v + d0, partial ? AV2_NR : ldv, tile,
                           AV2_NR, zeros);
            for (int r = 0; r < mr; r++)
                for (size_t c = 0; c < AV2_NR && d0 + c < hd; c++)
                    out[(i + (size_t)r) * ldo + d0 + c] = tile[r * AV2_NR + c] * inv[r];
        }
    }
}

/* ---- AVX-512 --------------------------------------------------------------------------- */

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define TGT_INLINE static inline __attribute__((always_inline)) TGT
#define ROWS6(M) M(0) M(1) M(2) M(3) M(4) M(5)
#define ROWS12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

/* ---- attention for one sequence and one head (see kern_attention in kern.h) -----------
 * Keys are transposed once into scratch (head_dim × np, np = n_kv rounded up to 64, zero
 * padded); then, for each block of up to 6 queries: scores = Q·Kᵀ with an outer-product
 * kernel (6 × 64 scores in 24 accumulators), scale + mask + softmax in place, and
 * out = P·V reading V rows where they are. */

enum { AT_MR = 6, AT_NB = 64 };

/* e^x for x <= 88.7 (Cephes polynomial, ~1 ulp); inputs below -104 give 0. */
TGT_INLINE __m512 exp512(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* S[i][jb..jb+64) = q_i · Kt[:, jb..jb+64) for MR query rows. */
TGT_INLINE void at_qk_body(const int MR, size_t hd, const float *q, size_t ldq, const float *kt,
                           size_t np, float *S)
{
    const __m512 z = _mm512_setzero_ps();
#define AT_QK_INIT(r) __m512 c##r##0 = z, c##r##1 = z, c##r##2 = z, c##r##3 = z;
    ROWS6(AT_QK_INIT)
    for (size_t d = 0; d < hd; d++, kt += np) {
        __m512 k0 = _mm512_loadu_ps(kt), k1 = _mm512_loadu_ps(kt + 16),
               k2 = _mm512_loadu_ps(kt + 32), k3 = _mm512_loadu_ps(kt + 48);
#define AT_QK_FMA(r)                                                                               \
    if (MR > r) {                                                                                  \
        __m512 qv = _mm512_set1_ps(q[r * ldq + d]);                                                \
        c##r##0 = _mm512_fmadd_ps(qv, k0, c##r##0);                                                \
        c##r##1 = _mm512_fmadd_ps(qv, k1, c##r##1);                                                \
        c##r##2 = _mm512_fmadd_ps(qv, k2, c##r##2);                                                \
        c##r##3 = _mm512_fmadd_ps(qv, k3, c##r##3);                                                \
    }
        ROWS6(AT_QK_FMA)
    }
#define AT_QK_STORE(r)                                                                             \
    if (MR > r) {                                                                                  \
        _mm512_storeu_ps(S + r * np, c##r##0);                                                     \
        _mm512_storeu_ps(S + r * np + 16, c##r##1);                                                \
        _mm512_storeu_ps(S + r * np + 32, c##r##2);                                                \
        _mm512_storeu_ps(S + r * np + 48, c##r##3);                                                \
    }
    ROWS6(AT_QK_STORE)
}

/* out[r][16·NZ values, the last vector masked by `last`] = inv[r] · sum_j P[r][j] · v[j]
 * for MR rows (MR · NZ <= 24 accumulators). */
TGT_INLINE void at_pv_body(const int MR, const int NZ, size_t n_kv, const float *P, size_t np,
                           const float *inv, const float *v, size_t ldv, float *out, size_t ldo,
                           __mmask16 last)
{
    const __m512 z = _mm512_setzero_ps();
    const __mmask16 m0 = NZ == 1 ? last : 0xffff, m1 = NZ == 2 ? last : 0xffff,
                    m2 = NZ == 3 ? last : 0xffff, m3 = NZ == 4 ? last : 0xffff;
#define AT_PV_INIT(r) __m512 c##r##0 = z, c##r##1 = z, c##r##2 = z, c##r##3 = z;
    ROWS12(AT_PV_INIT)
    for (size_t j = 0; j < n_kv; j++, v += ldv) {
        __m512 v0 = _mm512_maskz_loadu_ps(m0, v), v1 = z, v2 = z, v3 = z;
        if (NZ > 1) v1 = _mm512_maskz_loadu_ps(m1, v + 16);
        if (NZ > 2) v2 = _mm512_maskz_loadu_ps(m2, v + 32);
        if (NZ > 3) v3 = _mm512_maskz_loadu_ps(m3, v + 48);
#define AT_PV_FMA(r)                                                                               \
    if (MR > r) {                                                                                  \
        __m512 pv = _mm512_set1_ps(P[r * np + j]);                                                 \
        c##r##0 = _mm512_fmadd_ps(pv, v0, c##r##0);                                                \
        if (NZ > 1) c##r##1 = _mm512_fmadd_ps(pv, v1, c##r##1);                                    \
        if (NZ > 2) c##r##2 = _mm512_fmadd_ps(pv, v2, c##r##2);                                    \
        if (NZ > 3) c##r##3 = _mm512_fmadd_ps(pv, v3, c##r##3);                                    \
    }
        ROWS12(AT_PV_FMA)
    }
#define AT_PV_STORE(r)                                                                             \
    if (MR > r) {                                                                                  \
        __m512 iv = _mm512_set1_ps(inv[r]);                                                        \
        float *o = out + r * ldo;                                                                  \
        _mm512_mask_storeu_ps(o, m0, _mm512_mul_ps(c##r##0, iv));                                  \
        if (NZ > 1) _mm512_mask_storeu_ps(o + 16, m1, _mm512_mul_ps(c##r##1, iv));                 \
        if (NZ > 2) _mm512_mask_storeu_ps(o + 32, m2, _mm512_mul_ps(c##r##2, iv));                 \
        if (NZ > 3) _mm512_mask_storeu_ps(o + 48, m3, _mm512_mul_ps(c##r##3, iv));                 \
    }
    ROWS12(AT_PV_STORE)
}

TGT static void at_qk(int mr, size_t hd, const float *q, size_t ldq, const float *kt, size_t np,
                      float *S)
{
    switch (mr) {
    case 6:
        at_qk_body(6, hd, q, ldq, kt, np, S);
        break;
    case 5:
        at_qk_body(5, hd, q, ldq, kt, np, S);
        break;
    case 4:
        at_qk_body(4, hd, q, ldq, kt, np, S);
        break;
    case 3:
        at_qk_body(3, hd, q, ldq, kt, np, S);
        break;
    case 2:
        at_qk_body(2, hd, q, ldq, kt, np, S);
        break;
    default:
        at_qk_body(1, hd, q, ldq, kt, np, S);
        break;
    }
}

/* P·V for mr <= AT_MR rows over value columns [0, 16·nz) (last vector masked). */
TGT static void at_pv(int mr, int nz, size_t n_kv, const float *P, size_t np, const float *inv,
                      const float *v, size_t ldv, float *out, size_t ldo, __mmask16 last)
{
    if (mr == 12 && nz <= 2) {
        if (nz == 2)
            at_pv_body(12, 2, n_kv, P, np, inv, v, ldv, out, ldo, last);
        else
            at_pv_body(12, 1, n_kv, P, np, inv, v, ldv, out, ldo, last);
        return;
    }
    for (int r = 0; r < mr; r += 6) {
        const float *p = P + r * np;
        float *o = out + r * ldo;
        if (mr - r >= 6) {
            switch (nz) {
            case 4:
                at_pv_body(6, 4, n_kv, p, np, inv + r, v, ldv, o, ldo, last);
                break;
            case 3:
                at_pv_body(6, 3, n_kv, p, np, inv + r, v, ldv, o, ldo, last);
                break;
            case 2:
                at_pv_body(6, 2, n_kv, p, np, inv + r, v, ldv, o, ldo, last);
                break;
            default:
                at_pv_body(6, 1, n_kv, p, np, inv + r, v, ldv, o, ldo, last);
                break;
            }
            continue;
        }
        for (int rr = r; rr < mr; rr++) {
            p = P + rr * np, o = out + rr * ldo;
            switch (nz) {
            case 4:
                at_pv_body(1, 4, n_kv, p, np, inv + rr, v, ldv, o, ldo, last);
                break;
            case 3:
                at_pv_body(1, 3, n_kv, p, np, inv + rr, v, ldv, o, ldo, last);
                break;
            case 2:
                at_pv_body(1, 2, n_kv, p, np, inv + rr, v, ldv, o, ldo, last);
                break;
            default:
                at_pv_body(1, 1, n_kv, p, np, inv + rr, v, ldv, o, ldo, last);
                break;
            }
        }
        break;
    }
}

/* S[j] = e^(scale·S[j] + mask[j] - max) over j < n, in place; returns 1 / sum (0 when every
 * key is masked, which makes the row's output zeros). */
TGT static float at_softmax(float *S, size_t n, float scale, const float *mask)
{
    __m512 sc = _mm512_set1_ps(scale), mx = _mm512_set1_ps(-INFINITY);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 x = _mm512_mul_ps(_mm512_loadu_ps(S + j), sc);
        if (mask) x = _mm512_add_ps(x, _mm512_loadu_ps(mask + j));
        _mm512_storeu_ps(S + j, x);
        mx = _mm512_max_ps(mx, x);
    }
    __mmask16 tail = (__mmask16)((1u << (n - j)) - 1);
    if (tail) {
        __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, S + j), sc);
        if (mask) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(tail, mask + j));
        _mm512_mask_storeu_ps(S + j, tail, x);
        mx = _mm512_mask_max_ps(mx, tail, mx, x);
    }
    float maxv = _mm512_reduce_max_ps(mx);
    if (maxv == -INFINITY) {
        memset(S, 0, n * sizeof(float));
        return 0;
    }
    __m512 mv = _mm512_set1_ps(maxv), sum = _mm512_setzero_ps();
    for (j = 0; j + 16 <= n; j += 16) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(S + j), mv));
        _mm512_storeu_ps(S + j, e);
        sum = _mm512_add_ps(sum, e);
    }
    if (tail) {
        __m512 e = _mm512_maskz_mov_ps(tail, exp512(_mm512_sub_ps(_mm512_loadu_ps(S + j), mv)));
        _mm512_mask_storeu_ps(S + j, tail, e);
        sum = _mm512_add_ps(sum, e);
    }
    return 1.0f / _mm512_reduce_add_ps(sum);
}

/* Queries are taken 12 at a time: scores in two 6-row passes, then P·V with 12 rows when
 * the head is at most 32 wide (24 accumulators), else in 6-row passes. */
enum { AT_QB = 12 };

TGT static void attention_avx512(size_t n_q, size_t n_kv, size_t hd, const float *q, size_t ldq,
                                 const float *k, size_t ldk, const float *v, size_t ldv,
                                 const float *mask, float scale, float *out, size_t ldo)
{
    size_t np = (n_kv + AT_NB - 1) / AT_NB * AT_NB;
    char *buf = kern_scratch(3, hd * np * 4 + AT_QB * np * 4 + np * sizeof(void *) + 128);
    float *kt = (float *)buf, *S = kt + hd * np, inv[AT_QB];
    const uint32_t **rows = (const uint32_t **)(S + AT_QB * np);
    for (size_t j = 0; j < np; j++)
        rows[j] = j < n_kv ? (const uint32_t *)(k + j * ldk) : NULL;
    kern_avx512_transpose_pack(rows, hd, hd, (int)np, (uint32_t *)kt);

    size_t dz = (hd + 15) / 16;
    for (size_t i = 0; i < n_q; i += AT_QB) {
        int mb = (int)EC_MIN((size_t)AT_QB, n_q - i);
        for (int r0 = 0; r0 < mb; r0 += AT_MR)
            for (size_t jb = 0; jb < np; jb += AT_NB)
                at_qk(EC_MIN(AT_MR, mb - r0), hd, q + (i + (size_t)r0) * ldq, ldq, kt + jb, np,
                      S + (size_t)r0 * np + jb);
        for (int r = 0; r < mb; r++)
            inv[r] = at_softmax(S + r * np, n_kv, scale, mask);
        for (size_t z0 = 0; z0 < dz; z0 += 4) {
            int nz = (int)EC_MIN((size_t)4, dz - z0);
            size_t dlast = hd - (z0 + (size_t)nz - 1) * 16;
            __mmask16 last = dlast >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << dlast) - 1);
            at_pv(mb, nz, n_kv, S, np, inv, v + z0 * 16, ldv, out + i * ldo + z0 * 16, ldo, last);
        }
    }
}

#endif

void kern_attention(size_t n_q, size_t n_kv, size_t head_dim, const float *q, size_t ldq,
                    const float *k, size_t ldk, const float *v, size_t ldv, const float *mask,
                    float scale, float *out, size_t ldo)
{
    if (n_q == 0 || head_dim == 0) return;
    if (n_kv == 0) {
        for (size_t i = 0; i < n_q; i++)
            memset(out + i * ldo, 0, head_dim * sizeof(float));
        return;
    }
    switch (kern_isa_current()) {
#if defined(__x86_64__)
    case KERN_ISA_AVX512:
        attention_avx512(n_q, n_kv, head_dim, q, ldq, k, ldk, v, ldv, mask, scale, out, ldo);
        return;
    case KERN_ISA_AVX2:
        attention_avx2(n_q, n_kv, head_dim, q, ldq, k, ldk, v, ldv, mask, scale, out, ldo);
        return;
#endif
    default:
        attention_scalar(n_q, n_kv, head_dim, q, ldq, k, ldk, v, ldv, mask, scale, out, ldo);
        return;
    }
}
