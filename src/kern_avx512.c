/* kern_avx512.c — AVX-512 kernels (F/BW/VL/DQ + FMA; BF16 and VNNI where present):
 * f32, bf16 and int8 GEMM microkernels with their packing routines, dot product, row
 * decoding. Functions carry target attributes, so this file builds with the project's
 * common flags and is only called after kern.c has checked the CPU. */
#include "kern_impl.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define TGT_INLINE static inline __attribute__((always_inline)) TGT

/* The microkernels keep their accumulators in named variables, one macro expansion per
 * row, instead of arrays indexed in loops: both compilers then keep them in registers
 * (clang 14 leaves loop-indexed accumulator arrays on the stack). `MR > r` conditions are
 * compile-time constants after inlining. */
#define ROWS4(M) M(0) M(1) M(2) M(3)
#define ROWS6(M) M(0) M(1) M(2) M(3) M(4) M(5)
#define ROWS8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define ROWS12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

/* ---- rows, dot ------------------------------------------------------------------------ */

TGT static void row_f16(const uint16_t *h, size_t n, float *out)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i))));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m256i v = _mm256_maskz_loadu_epi16(m, h + i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_cvtph_ps(v));
    }
}

TGT static void row_bf16(const uint16_t *h, size_t n, float *out)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(h + i)));
        _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
    }
    for (; i < n; i++)
        out[i] = kern_bf16_to_f32(h[i]);
}

TGT_INLINE float f16_at(const unsigned char *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

TGT static void row_q8_0(const unsigned char *p, size_t n, float *out)
{
    for (size_t b = 0; b < n / 32; b++, p += 34, out += 32) {
        __m512 d = _mm512_set1_ps(f16_at(p));
        __m512i q0 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 2)));
        __m512i q1 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 18)));
        _mm512_storeu_ps(out, _mm512_mul_ps(d, _mm512_cvtepi32_ps(q0)));
        _mm512_storeu_ps(out + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(q1)));
    }
}

TGT static void row_q4_0(const unsigned char *p, size_t n, float *out)
{
    const __m512i eight = _mm512_set1_epi32(8), mask = _mm512_set1_epi32(15);
    for (size_t b = 0; b < n / 32; b++, p += 18, out += 32) {
        __m512 d = _mm512_set1_ps(f16_at(p));
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 2)));
        __m512i lo = _mm512_sub_epi32(_mm512_and_si512(q, mask), eight);
        __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight);
        _mm512_storeu_ps(out, _mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)));
        _mm512_storeu_ps(out + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(hi)));
    }
}

TGT static void row_to_f32_avx512(gguf_dtype_t type, const void *row, size_t n, float *out)
{
    switch (type) {
    case GGUF_F16:
        row_f16(row, n, out);
        return;
    case GGUF_BF16:
        row_bf16(row, n, out);
        return;
    case GGUF_Q8_0:
        row_q8_0(row, n, out);
        return;
    case GGUF_Q4_0:
        row_q4_0(row, n, out);
        return;
    default:
        kern_row_to_f32_scalar(type, row, n, out);
        return;
    }
}

TGT static float dot_avx512(const float *a, const float *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* Pointer to input k0 (a multiple of 32 for the block types) of weight row j. */
static const unsigned char *w_at(const kern_mat_t *W, size_t j, size_t k0)
{
    return (const unsigned char *)W->data + j * W->row_bytes + kern_row_bytes(W->type, k0);
}

/* ---- f32 GEMM: 8 rows × 48 columns of C in 24 zmm accumulators ----------------------- */

enum { F32_MR = 8, F32_NR = 48, F32_KC = 256, F32_NC = 240 };

static size_t f32_panel_bytes(size_t kc)
{
    return kc * F32_NR * sizeof(float);
}

/* In-register transpose of a 16×16 block of 32-bit elements. */
TGT_INLINE void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

/* (kern_impl.h) */
TGT void kern_avx512_transpose_pack(const uint32_t *const *rows, size_t n, size_t kcount, int nr,
                                    uint32_t *P)
{
    for (int cb = 0; cb < nr; cb += 16) {
        for (size_t kb = 0; kb < kcount; kb += 16) {
            __m512 r[16];
            size_t valid = kb < n ? EC_MIN((size_t)16, n - kb) : 0;
            __mmask16 m = (__mmask16)((1u << valid) - 1);
            for (int i = 0; i < 16; i++)
                r[i] = rows[cb + i] ? _mm512_maskz_loadu_ps(m, rows[cb + i] + kb)
                                    : _mm512_setzero_ps();
            transpose16(r);
            size_t kt = EC_MIN((size_t)16, kcount - kb);
            for (size_t t = 0; t < kt; t++)
                _mm512_storeu_ps(P + (kb + t) * (size_t)nr + cb, r[t]);
        }
    }
}

TGT static void f32_pack(const kern_mat_t *W, size_t j0, size_t nj, size_t k0, size_t kc,
                         void *panel)
{
    const uint32_t *rows[F32_NR];
    size_t kn = k0 < W->n_in ? EC_MIN(kc, W->n_in - k0) : 0;
    float *tmp = W->type == GGUF_F32 ? NULL : kern_scratch(2, F32_NR * F32_KC * sizeof(float));
    for (size_t c = 0; c < F32_NR; c++) {
        if (c >= nj) {
            rows[c] = NULL;
        } else if (!tmp) {
            rows[c] = (const uint32_t *)w_at(W, j0 + c, k0);
        } else {
            row_to_f32_avx512(W->type, w_at(W, j0 + c, k0), kn, tmp + c * F32_KC);
            rows[c] = (const uint32_t *)(tmp + c * F32_KC);
        }
    }
    kern_avx512_transpose_pack(rows, kn, kc, F32_NR, panel);
}

TGT_INLINE void f32_ukr_body(const int MR, size_t kc, const float *a, size_t lda, const float *b,
                             float *C, size_t ldc, const float *init)
{
    const __m512 z = _mm512_setzero_ps();
    __m512 i0 = z, i1 = z, i2 = z;
    if (init)
        i0 = _mm512_loadu_ps(init), i1 = _mm512_loadu_ps(init + 16),
        i2 = _mm512_loadu_ps(init + 32);
#define F32_INIT(r)                                                                                \
    __m512 c##r##0 = z, c##r##1 = z, c##r##2 = z;                                                  \
    if (MR > r) {                                                                                  \
        if (init) {                                                                                \
            c##r##0 = i0, c##r##1 = i1, c##r##2 = i2;                                              \
        } else {                                                                                   \
            c##r##0 = _mm512_loadu_ps(C + r * ldc);                                                \
            c##r##1 = _mm512_loadu_ps(C + r * ldc + 16);                                           \
            c##r##2 = _mm512_loadu_ps(C + r * ldc + 32);                                           \
        }                                                                                          \
    }
    ROWS8(F32_INIT)
    for (size_t k = 0; k < kc; k++, b += F32_NR) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), b2 = _mm512_load_ps(b + 32);
#define F32_FMA(r)                                                                                 \
    if (MR > r) {                                                                                  \
        __m512 av = _mm512_set1_ps(a[r * lda + k]);                                                \
        c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);                                                \
        c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);                                                \
        c##r##2 = _mm512_fmadd_ps(av, b2, c##r##2);                                                \
    }
        ROWS8(F32_FMA)
    }
#define F32_STORE(r)                                                                               \
    if (MR > r) {                                                                                  \
        _mm512_storeu_ps(C + r * ldc, c##r##0);                                                    \
        _mm512_storeu_ps(C + r * ldc + 16, c##r##1);                                               \
        _mm512_storeu_ps(C + r * ldc + 32, c##r##2);                                               \
    }
    ROWS8(F32_STORE)
}

TGT static void f32_ukr(size_t kc, const kern_a_t *A, size_t r0, size_t k0, const void *panel,
                        float *C, size_t ldc, int mr, const float *init)
{
    size_t lda = A->stride / sizeof(float);
    const float *a = (const float *)A->base + r0 * lda + k0;
    switch (mr) {
    case 8:
        f32_ukr_body(8, kc, a, lda, panel, C, ldc, init);
        break;
    case 7:
        f32_ukr_body(7, kc, a, lda, panel, C, ldc, init);
        break;
    case 6:
        f32_ukr_body(6, kc, a, lda, panel, C, ldc, init);
        break;
    case 5:
        f32_ukr_body(5, kc, a, lda, panel, C, ldc, init);
        break;
    case 4:
        f32_ukr_body(4, kc, a, lda, panel, C, ldc, init);
        break;
    case 3:
        f32_ukr_body(3, kc, a, lda, panel, C, ldc, init);
        break;
    case 2:
        f32_ukr_body(2, kc, a, lda, panel, C, ldc, init);
        break;
    default:
        f32_ukr_body(1, kc, a, lda, panel, C, ldc, init);
        break;
    }
}

static const kern_gemm_t gemm_f32 = {
    .mr = F32_MR,
    .nr = F32_NR,
    .kalign = 1,
    .kc = F32_KC,
    .nc = F32_NC,
    .panel_bytes = f32_panel_bytes,
    .pack = f32_pack,
    .ukr = f32_ukr,
};

/* ---- bf16 GEMM (AVX512-BF16): 8 rows × 48 columns, one dpbf16 per 2 inputs ------------
 * X is rounded to bf16 once per product; a panel holds, for each pair of inputs, 48 weight
 * rows' (w[k], w[k+1]) pairs, so one 32-bit broadcast of X feeds 3 dot instructions. */

#define TGT_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c,avx512bf16")))

enum { BF_MR = 8, BF_NR = 48, BF_KC = 512, BF_NC = 240 };

static size_t bf16_panel_bytes(size_t kc)
{
    return kc / 2 * BF_NR * 4;
}

/* Rounds n floats to bf16 (ties to even) into out. */
TGT_BF16 static void f32_to_bf16_row(const float *x, size_t n, uint16_t *out)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(out + i),
                            (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + i));
        _mm256_mask_storeu_epi16(out + i, m, v);
    }
}

TGT_BF16 static void bf16_pack(const kern_mat_t *W, size_t j0, size_t nj, size_t k0, size_t kc,
                               void *panel)
{
    const uint32_t *rows[BF_NR];
    size_t kn = k0 < W->n_in ? EC_MIN(kc, W->n_in - k0) : 0;
    char *buf = kern_scratch(2, BF_NR * (BF_KC * 6 + 64));
    uint16_t *h = (uint16_t *)buf;                          /* BF_NR rows of BF_KC + 2 bf16 */
    float *tmp = (float *)(buf + BF_NR * (BF_KC * 2 + 64)); /* one f32 row */
    for (size_t c = 0; c < BF_NR; c++) {
        rows[c] = NULL;
        if (c >= nj) continue;
        uint16_t *hc = h + c * (BF_KC + 32);
        const unsigned char *w = w_at(W, j0 + c, k0);
        if (W->type == GGUF_BF16) {
            memcpy(hc, w, kn * 2);
        } else {
            const float *src = (const float *)w;
            if (W->type != GGUF_F32) row_to_f32_avx512(W->type, w, kn, tmp), src = tmp;
            f32_to_bf16_row(src, kn, hc);
        }
        hc[kn] = 0; /* odd tail: the pair's second half */
        rows[c] = (const uint32_t *)hc;
    }
    kern_avx512_transpose_pack(rows, (kn + 1) / 2, kc / 2, BF_NR, panel);
}

static size_t bf16_a_row_bytes(size_t n_in)
{
    return (n_in + 31) / 32 * 32 * sizeof(uint16_t);
}

TGT_BF16 static void bf16_prep_a(const float *X, size_t n_in, size_t r0, size_t r1, void *base,
                                 size_t stride, float *scale, size_t sstride)
{
    (void)scale, (void)sstride;
    for (size_t r = r0; r < r1; r++) {
        uint16_t *o = (uint16_t *)((char *)base + r * stride);
        f32_to_bf16_row(X + r * n_in, n_in, o);
        memset(o + n_in, 0, stride - n_in * sizeof(uint16_t));
    }
}

static inline __attribute__((always_inline)) TGT_BF16 void
bf16_ukr_body(const int MR, size_t kc, const uint16_t *a, size_t lda, const uint32_t *b, float *C,
              size_t ldc, const float *init)
{
    const __m512 z = _mm512_setzero_ps();
    __m512 i0 = z, i1 = z, i2 = z;
    if (init)
        i0 = _mm512_loadu_ps(init), i1 = _mm512_loadu_ps(init + 16),
        i2 = _mm512_loadu_ps(init + 32);
    ROWS8(F32_INIT)
    for (size_t k = 0; k < kc; k += 2, b += BF_NR) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + 16),
                 b2 = (__m512bh)_mm512_load_si512(b + 32);
#define BF16_DOT(r)                                                                                \
    if (MR > r) {                                                                                  \
        uint32_t pair;                                                                             \
        memcpy(&pair, a + r * lda + k, 4);                                                         \
        __m512bh av = (__m512bh)_mm512_set1_epi32((int)pair);                                      \
        c##r##0 = _mm512_dpbf16_ps(c##r##0, av, b0);                                               \
        c##r##1 = _mm512_dpbf16_ps(c##r##1, av, b1);                                               \
        c##r##2 = _mm512_dpbf16_ps(c##r##2, av, b2);                                               \
    }
        ROWS8(BF16_DOT)
    }
    ROWS8(F32_STORE)
}

TGT_BF16 static void bf16_ukr(size_t kc, const kern_a_t *A, size_t r0, size_t k0, const void *panel,
                              float *C, size_t ldc, int mr, const float *init)
{
    size_t lda = A->stride / sizeof(uint16_t);
    const uint16_t *a = (const uint16_t *)A->base + r0 * lda + k0;
    switch (mr) {
    case 8:
        bf16_ukr_body(8, kc, a, lda, panel, C, ldc, init);
        break;
    case 7:
        bf16_ukr_body(7, kc, a, lda, panel, C, ldc, init);
        break;
    case 6:
        bf16_ukr_body(6, kc, a, lda, panel, C, ldc, init);
        break;
    case 5:
        bf16_ukr_body(5, kc, a, lda, panel, C, ldc, init);
        break;
    case 4:
        bf16_ukr_body(4, kc, a, lda, panel, C, ldc, init);
        break;
    case 3:
        bf16_ukr_body(3, kc, a, lda, panel, C, ldc, init);
        break;
    case 2:
        bf16_ukr_body(2, kc, a, lda, panel, C, ldc, init);
        break;
    default:
        bf16_ukr_body(1, kc, a, lda, panel, C, ldc, init);
        break;
    }
}

static const kern_gemm_t gemm_bf16 = {
    .mr = BF_MR,
    .nr = BF_NR,
    .kalign = 2,
    .kc = BF_KC,
    .nc = BF_NC,
    .panel_bytes = bf16_panel_bytes,
    .pack = bf16_pack,
    .a_row_bytes = bf16_a_row_bytes,
    .prep_a = bf16_prep_a,
    .ukr = bf16_ukr,
};

/* ---- int8 GEMM (AVX512-VNNI): 6 rows × 32 columns --------------------------------------
 * Both operands carry one scale per 32 inputs (Q8_0's own blocks for the weights; X is
 * quantised per row and block at the start of each product), which keeps activation
 * outliers from costing precision elsewhere in the row. vpdpbusd multiplies unsigned by
 * signed bytes, so X is stored as q + 128 and each block's accumulators start from
 * -128 · sum(w) of that weight row and block. After each block the 32-bit sums are scaled
 * by dx · dw into float accumulators.
 *
 * Panel layout per block of 32 inputs: int32 corr[32], float d[32], then for each group of
 * 4 inputs, 32 weight rows × 4 int8. */

#define TGT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c,avx512vnni")))

enum { Q_MR = 6, Q_NR = 32, Q_KC = 1024, Q_NC = 256, Q_BLOCK = Q_NR * 8 + 32 * Q_NR };

static size_t q8_panel_bytes(size_t kc)
{
    return kc / 32 * Q_BLOCK;
}

/* Quantises 32 floats symmetrically: returns the scale, writes q in [-127, 127]. */
TGT static float quant_block32(const float *x, int8_t *q)
{
    __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    __m512 am = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
    float amax = _mm512_reduce_max_ps(am);
    float d = amax / 127, id = amax > 0 ? 127 / amax : 0;
    __m512 s = _mm512_set1_ps(id);
    __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, s)),
            q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, s));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(q1));
    return d;
}

TGT static void q8_pack(const kern_mat_t *W, size_t j0, size_t nj, size_t k0, size_t kc,
                        void *panel)
{
    float tmp[32];
    int8_t q[Q_NR][32];
    const uint32_t *rows[Q_NR];
    size_t kn = k0 < W->n_in ? EC_MIN(kc, W->n_in - k0) : 0;
    for (size_t c = 0; c < Q_NR; c++)
        rows[c] = (const uint32_t *)q[c];
    for (size_t blk = 0; blk < kc / 32; blk++) {
        unsigned char *B = (unsigned char *)panel + blk * Q_BLOCK;
        int32_t *corr = (int32_t *)B;
        float *d = (float *)(B + 4 * Q_NR);
        size_t kb = blk * 32;
        for (size_t c = 0; c < Q_NR; c++) {
            float dc = 0;
            int8_t *qc = q[c];
            if (c >= nj || kb >= kn) {
                memset(qc, 0, 32);
            } else if (W->type == GGUF_Q8_0) {
                const unsigned char *w = w_at(W, j0 + c, k0 + kb);
                dc = f16_at(w);
                memcpy(qc, w + 2, 32);
            } else if (W->type == GGUF_Q4_0) {
                const unsigned char *w = w_at(W, j0 + c, k0 + kb);
                dc = f16_at(w);
                for (int t = 0; t < 16; t++) {
                    qc[t] = (int8_t)((w[2 + t] & 15) - 8);
                    qc[t + 16] = (int8_t)((w[2 + t] >> 4) - 8);
                }
            } else {
                size_t n = EC_MIN((size_t)32, kn - kb);
                memset(tmp, 0, sizeof tmp);
                const unsigned char *w = (const unsigned char *)W->data + (j0 + c) * W->row_bytes;
                row_to_f32_avx512(W->type, w + kern_row_bytes(W->type, k0 + kb), n, tmp);
                dc = quant_block32(tmp, qc);
            }
            __m512i v = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)qc));
            int32_t sum = _mm512_reduce_add_epi32(_mm512_madd_epi16(v, _mm512_set1_epi16(1)));
            corr[c] = -128 * sum;
            d[c] = dc;
        }
        kern_avx512_transpose_pack(rows, 8, 8, Q_NR, (uint32_t *)(B + 8 * Q_NR));
    }
}

static size_t q8_a_row_bytes(size_t n_in)
{
    return (n_in + 63) / 64 * 64;
}

TGT static void q8_prep_a(const float *X, size_t n_in, size_t r0, size_t r1, void *base,
                          size_t stride, float *scale, size_t sstride)
{
    float tmp[32];
    int8_t q[32];
    for (size_t r = r0; r < r1; r++) {
        uint8_t *o = (uint8_t *)base + r * stride;
        const float *x = X + r * n_in;
        for (size_t b = 0; b < stride / 32; b++) {
            const float *src = x + b * 32;
            if (b * 32 + 32 > n_in) {
                memset(tmp, 0, sizeof tmp);
                if (b * 32 < n_in) memcpy(tmp, src, (n_in - b * 32) * sizeof(float));
                src = tmp;
            }
            scale[r * sstride + b] = quant_block32(src, q);
            __m256i v = _mm256_loadu_si256((const __m256i *)q);
            _mm256_storeu_si256((__m256i *)(o + b * 32),
                                _mm256_xor_si256(v, _mm256_set1_epi8(-128)));
        }
    }
}

static inline __attribute__((always_inline)) TGT_VNNI void
q8_ukr_body(const int MR, size_t kc, const uint8_t *a, size_t lda, const float *sx, size_t lds,
            const unsigned char *B, float *C, size_t ldc, const float *init)
{
    const __m512 z = _mm512_setzero_ps();
    const __m512i zi = _mm512_setzero_si512();
    __m512 i0 = z, i1 = z;
    if (init) i0 = _mm512_loadu_ps(init), i1 = _mm512_loadu_ps(init + 16);
#define Q8_INIT(r)                                                                                 \
    __m512 f##r##0 = z, f##r##1 = z;                                                               \
    __m512i s##r##0 = zi, s##r##1 = zi;                                                            \
    if (MR > r) {                                                                                  \
        if (init) {                                                                                \
            f##r##0 = i0, f##r##1 = i1;                                                            \
        } else {                                                                                   \
            f##r##0 = _mm512_loadu_ps(C + r * ldc);                                                \
            f##r##1 = _mm512_loadu_ps(C + r * ldc + 16);                                           \
        }                                                                                          \
    }
    ROWS6(Q8_INIT)
    for (size_t blk = 0; blk < kc / 32; blk++, B += Q_BLOCK, a += 32, sx++) {
        __m512i c0 = _mm512_load_si512(B), c1 = _mm512_load_si512(B + 64);
#define Q8_START(r)                                                                                \
    if (MR > r) s##r##0 = c0, s##r##1 = c1;
        ROWS6(Q8_START)
        const unsigned char *bq = B + 8 * Q_NR;
        /* The 8 steps of 4 inputs are written out: a loop here makes both compilers shuffle
         * the 12 accumulators between registers on every iteration. */
#define Q8_DOT(r, t)                                                                               \
    if (MR > r) {                                                                                  \
        int32_t quad;                                                                              \
        memcpy(&quad, a + r * lda + 4 * t, 4);                                                     \
        __m512i av = _mm512_set1_epi32(quad);                                                      \
        s##r##0 = _mm512_dpbusd_epi32(s##r##0, av, b0);                                            \
        s##r##1 = _mm512_dpbusd_epi32(s##r##1, av, b1);                                            \
    }
#define Q8_STEP(t)                                                                                 \
    {                                                                                              \
        __m512i b0 = _mm512_load_si512(bq + t * 128), b1 = _mm512_load_si512(bq + t * 128 + 64);   \
        Q8_DOT(0, t) Q8_DOT(1, t) Q8_DOT(2, t) Q8_DOT(3, t) Q8_DOT(4, t) Q8_DOT(5, t)              \
    }
        Q8_STEP(0)
        Q8_STEP(1) Q8_STEP(2) Q8_STEP(3) Q8_STEP(4) Q8_STEP(5) Q8_STEP(6) Q8_STEP(7) __m512 d0 =
            _mm512_load_ps((const float *)(B + 4 * Q_NR));
        __m512 d1 = _mm512_load_ps((const float *)(B + 4 * Q_NR) + 16);
#define Q8_SCALE(r)                                                                                \
    if (MR > r) {                                                                                  \
        __m512 dx = _mm512_set1_ps(sx[r * lds]);                                                   \
        f##r##0 = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(s##r##0), d0), dx, f##r##0);    \
        f##r##1 = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(s##r##1), d1), dx, f##r##1);    \
    }
        ROWS6(Q8_SCALE)
    }
#define Q8_STORE(r)                                                                                \
    if (MR > r) {                                                                                  \
        _mm512_storeu_ps(C + r * ldc, f##r##0);                                                    \
        _mm512_storeu_ps(C + r * ldc + 16, f##r##1);                                               \
    }
    ROWS6(Q8_STORE)
}

TGT_VNNI static void q8_ukr(size_t kc, const kern_a_t *A, size_t r0, size_t k0, const void *panel,
                            float *C, size_t ldc, int mr, const float *init)
{
    const uint8_t *a = (const uint8_t *)A->base + r0 * A->stride + k0;
    const float *sx = A->scale + r0 * A->sstride + k0 / 32;
    size_t lda = A->stride, lds = A->sstride;
    switch (mr) {
    case 6:
        q8_ukr_body(6, kc, a, lda, sx, lds, panel, C, ldc, init);
        break;
    case 5:
        q8_ukr_body(5, kc, a, lda, sx, lds, panel, C, ldc, init);
        break;
    case 4:
        q8_ukr_body(4, kc, a, lda, sx, lds, panel, C, ldc, init);
        break;
    case 3:
        q8_ukr_body(3, kc, a, lda, sx, lds, panel, C, ldc, init);
        break;
    case 2:
        q8_ukr_body(2, kc, a, lda, sx, lds, panel, C, ldc, init);
        break;
    default:
        q8_ukr_body(1, kc, a, lda, sx, lds, panel, C, ldc, init);
        break;
    }
}

static const kern_gemm_t gemm_int8 = {
    .mr = Q_MR,
    .nr = Q_NR,
    .kalign = 32,
    .kc = Q_KC,
    .nc = Q_NC,
    .panel_bytes = q8_panel_bytes,
    .pack = q8_pack,
    .a_row_bytes = q8_a_row_bytes,
    .prep_a = q8_prep_a,
    .ukr = q8_ukr,
};

/* ---- few rows: dot products against the weights in place -----------------------------
 * With a handful of X rows (a search query) packing W would cost more than the product, and
 * the product is bound by reading W anyway. Each task takes 4 weight rows at a time (decoded
 * once to f32 unless already f32) and forms their dot products with 4 X rows at a time. */

enum { SMALL_ROWS = 12 };

typedef struct {
    const kern_mm_t *mm;
} small_ctx_t;

TGT static void small_task(void *arg, int t, int nt)
{
    const kern_mm_t *mm = ((const small_ctx_t *)arg)->mm;
    const kern_mat_t *W = mm->W;
    size_t K = W->n_in, o0, o1;
    kern_split(W->n_out, 4, t, nt, &o0, &o1);
    float *wbuf = W->type == GGUF_F32 ? NULL : kern_scratch(2, 4 * K * sizeof(float));
    size_t kfull = K / 16 * 16;
    __mmask16 tail = (__mmask16)((1u << (K - kfull)) - 1);
    for (size_t o = o0; o < o1; o += 4) {
        size_t nw = EC_MIN((size_t)4, o1 - o);
        const float *w[4];
        for (size_t j = 0; j < 4; j++) {
            size_t jj = j < nw ? j : 0;
            if (!wbuf) {
                w[j] = (const float *)w_at(W, o + jj, 0);
            } else {
                if (j < nw) row_to_f32_avx512(W->type, w_at(W, o + j, 0), K, wbuf + j * K);
                w[j] = wbuf + jj * K;
            }
        }
        for (size_t r = 0; r < mm->rows; r += 4) {
            size_t nx = EC_MIN((size_t)4, mm->rows - r);
            const float *x[4];
            for (size_t i = 0; i < 4; i++)
                x[i] = mm->X + (r + (i < nx ? i : 0)) * K;
            const __m512 z = _mm512_setzero_ps();
#define SM_INIT(i) __m512 a##i##0 = z, a##i##1 = z, a##i##2 = z, a##i##3 = z;
            ROWS4(SM_INIT)
            for (size_t k = 0; k < K; k += 16) {
                __mmask16 m = k < kfull ? (__mmask16)0xffff : tail;
                __m512 w0 = _mm512_maskz_loadu_ps(m, w[0] + k),
                       w1 = _mm512_maskz_loadu_ps(m, w[1] + k),
                       w2 = _mm512_maskz_loadu_ps(m, w[2] + k),
                       w3 = _mm512_maskz_loadu_ps(m, w[3] + k);
#define SM_FMA(i)                                                                                  \
    {                                                                                              \
        __m512 xv = _mm512_maskz_loadu_ps(m, x[i] + k);                                            \
        a##i##0 = _mm512_fmadd_ps(xv, w0, a##i##0);                                                \
        a##i##1 = _mm512_fmadd_ps(xv, w1, a##i##1);                                                \
        a##i##2 = _mm512_fmadd_ps(xv, w2, a##i##2);                                                \
        a##i##3 = _mm512_fmadd_ps(xv, w3, a##i##3);                                                \
    }
                ROWS4(SM_FMA)
            }
            float sums[4][4];
#define SM_SUM(i)                                                                                  \
    sums[i][0] = _mm512_reduce_add_ps(a##i##0), sums[i][1] = _mm512_reduce_add_ps(a##i##1),        \
    sums[i][2] = _mm512_reduce_add_ps(a##i##2), sums[i][3] = _mm512_reduce_add_ps(a##i##3);
            ROWS4(SM_SUM)
            for (size_t i = 0; i < nx; i++)
                for (size_t j = 0; j < nw; j++)
                    mm->Y[(r + i) * W->n_out + o + j] =
                        sums[i][j] + (mm->bias ? mm->bias[o + j] : 0);
        }
    }
}

static void small_matmul(const kern_mm_t *mm)
{
    small_ctx_t c = {mm};
    int nt = (int)EC_MIN((size_t)kern_pool_threads(mm->pool), (mm->W->n_out + 3) / 4);
    kern_pool_run(mm->pool, small_task, &c, nt);
}

/* ---- dispatch within AVX-512 ---------------------------------------------------------- */

static void matmul_avx512(const kern_mm_t *mm)
{
    static int has_bf16 = -1, has_vnni = -1;
    if (has_bf16 < 0) {
        __builtin_cpu_init();
        has_vnni = __builtin_cpu_supports("avx512vnni") != 0;
        has_bf16 = __builtin_cpu_supports("avx512bf16") != 0;
    }
    if (mm->rows <= SMALL_ROWS)
        small_matmul(mm);
    else if (mm->W->mode == KERN_MODE_BF16 && has_bf16)
        kern_gemm_run(mm, &gemm_bf16);
    else if (mm->W->mode == KERN_MODE_INT8 && has_vnni)
        kern_gemm_run(mm, &gemm_int8);
    else
        kern_gemm_run(mm, &gemm_f32);
}

const kern_ops_t kern_ops_avx512 = {
    .name = "avx512",
    .matmul = matmul_avx512,
    .dot = dot_avx512,
    .row_to_f32 = row_to_f32_avx512,
};

#endif
