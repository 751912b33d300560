/* kern_avx2.c — AVX2+FMA+F16C kernels: the f32 GEMM microkernel (6 rows × 16 columns of C
 * in 12 ymm accumulators) with its packing routine, dot product and row decoding. Without
 * AVX-512 there are no bf16/int8 dot instructions worth using, so every mode runs in f32. */
#include "kern_impl.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define TGT __attribute__((target("avx2,fma,f16c")))
#define TGT_INLINE static inline __attribute__((always_inline)) TGT

TGT_INLINE float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

TGT static float dot_avx2(const float *a, const float *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

TGT_INLINE float f16_at(const unsigned char *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

TGT static void row_to_f32_avx2(gguf_dtype_t type, const void *row, size_t n, float *out)
{
    const unsigned char *p = row;
    size_t i = 0;
    switch (type) {
    case GGUF_F16:
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(out + i,
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * i))));
        kern_row_to_f32_scalar(type, p + 2 * i, n - i, out + i);
        return;
    case GGUF_BF16:
        for (; i + 8 <= n; i += 8) {
            __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 2 * i)));
            _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
        }
        kern_row_to_f32_scalar(type, p + 2 * i, n - i, out + i);
        return;
    case GGUF_Q8_0:
        for (size_t b = 0; b < n / 32; b++, p += 34, out += 32) {
            __m256 d = _mm256_set1_ps(f16_at(p));
            for (int q = 0; q < 4; q++) {
                __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 2 + 8 * q)));
                _mm256_storeu_ps(out + 8 * q, _mm256_mul_ps(d, _mm256_cvtepi32_ps(v)));
            }
        }
        return;
    case GGUF_Q4_0: {
        const __m256i eight = _mm256_set1_epi32(8), mask = _mm256_set1_epi32(15);
        for (size_t b = 0; b < n / 32; b++, p += 18, out += 32) {
            __m256 d = _mm256_set1_ps(f16_at(p));
            for (int q = 0; q < 2; q++) {
                __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 2 + 8 * q)));
                __m256i lo = _mm256_sub_epi32(_mm256_and_si256(v, mask), eight);
                __m256i hi = _mm256_sub_epi32(_mm256_srli_epi32(v, 4), eight);
                _mm256_storeu_ps(out + 8 * q, _mm256_mul_ps(d, _mm256_cvtepi32_ps(lo)));
                _mm256_storeu_ps(out + 16 + 8 * q, _mm256_mul_ps(d, _mm256_cvtepi32_ps(hi)));
            }
        }
        return;
    }
    default:
        kern_row_to_f32_scalar(type, row, n, out);
        return;
    }
}

/* ---- f32 GEMM ------------------------------------------------------------------------- */

enum { MR = 6, NR = 16, KC = 256, NC = 256 };

static size_t panel_bytes(size_t kc)
{
    return kc * NR * sizeof(float);
}

TGT static void pack(const kern_mat_t *W, size_t j0, size_t nj, size_t k0, size_t kc, void *panel)
{
    float *P = panel, tmp[KC];
    size_t kn = k0 < W->n_in ? EC_MIN(kc, W->n_in - k0) : 0;
    for (size_t c = 0; c < NR; c++) {
        const float *src = tmp;
        const unsigned char *w =
            (const unsigned char *)W->data + (j0 + c) * W->row_bytes + kern_row_bytes(W->type, k0);
        if (c >= nj)
            memset(tmp, 0, kc * sizeof(float));
        else if (W->type == GGUF_F32)
            src = (const float *)w;
        else
            row_to_f32_avx2(W->type, w, kn, tmp);
        size_t k = 0;
        for (; k < kn; k++)
            P[k * NR + c] = src[k];
        for (; k < kc; k++)
            P[k * NR + c] = 0;
    }
}

/* Accumulators live in named variables, one macro expansion per row (see kern_avx512.c). */
#define ROWS6(M) M(0) M(1) M(2) M(3) M(4) M(5)

TGT_INLINE void ukr_body(const int mr, size_t kc, const float *a, size_t lda, const float *b,
                         size_t ldb, float *C, size_t ldc, const float *init)
{
    const __m256 z = _mm256_setzero_ps();
    __m256 i0 = z, i1 = z;
    if (init) i0 = _mm256_loadu_ps(init), i1 = _mm256_loadu_ps(init + 8);
#define AV2_INIT(r)                                                                                \
    __m256 c##r##0 = z, c##r##1 = z;                                                               \
    if (mr > r) {                                                                                  \
        if (init) {                                                                                \
            c##r##0 = i0, c##r##1 = i1;                                                            \
        } else {                                                                                   \
            c##r##0 = _mm256_loadu_ps(C + r * ldc);                                                \
            c##r##1 = _mm256_loadu_ps(C + r * ldc + 8);                                            \
        }                                                                                          \
    }
    ROWS6(AV2_INIT)
    for (size_t k = 0; k < kc; k++, b += ldb) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#define AV2_FMA(r)                                                                                 \
    if (mr > r) {                                                                                  \
        __m256 av = _mm256_broadcast_ss(a + r * lda + k);                                          \
        c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);                                                \
        c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);                                                \
    }
        ROWS6(AV2_FMA)
    }
#define AV2_STORE(r)                                                                               \
    if (mr > r) _mm256_storeu_ps(C + r * ldc, c##r##0), _mm256_storeu_ps(C + r * ldc + 8, c##r##1);
    ROWS6(AV2_STORE)
}

TGT static void ukr(size_t kc, const kern_a_t *A, size_t r0, size_t k0, const void *panel, float *C,
                    size_t ldc, int mr, const float *init)
{
    size_t lda = A->stride / sizeof(float);
    const float *a = (const float *)A->base + r0 * lda + k0;
    switch (mr) {
    case 6:
        ukr_body(6, kc, a, lda, panel, NR, C, ldc, init);
        break;
    case 5:
        ukr_body(5, kc, a, lda, panel, NR, C, ldc, init);
        break;
    case 4:
        ukr_body(4, kc, a, lda, panel, NR, C, ldc, init);
        break;
    case 3:
        ukr_body(3, kc, a, lda, panel, NR, C, ldc, init);
        break;
    case 2:
        ukr_body(2, kc, a, lda, panel, NR, C, ldc, init);
        break;
    default:
        ukr_body(1, kc, a, lda, panel, NR, C, ldc, init);
        break;
    }
}

/* (kern_impl.h) */
TGT void kern_avx2_tile(int mr, size_t kc, const float *a, size_t lda, const float *b, size_t ldb,
                        float *C, size_t ldc, const float *init)
{
    switch (mr) {
    case 6:
        ukr_body(6, kc, a, lda, b, ldb, C, ldc, init);
        break;
    case 5:
        ukr_body(5, kc, a, lda, b, ldb, C, ldc, init);
        break;
    case 4:
        ukr_body(4, kc, a, lda, b, ldb, C, ldc, init);
        break;
    case 3:
        ukr_body(3, kc, a, lda, b, ldb, C, ldc, init);
        break;
    case 2:
        ukr_body(2, kc, a, lda, b, ldb, C, ldc, init);
        break;
    default:
        ukr_body(1, kc, a, lda, b, ldb, C, ldc, init);
        break;
    }
}

static const kern_gemm_t gemm_f32 = {
    .mr = MR,
    .nr = NR,
    .kalign = 1,
    .kc = KC,
    .nc = NC,
    .panel_bytes = panel_bytes,
    .pack = pack,
    .ukr = ukr,
};

static void matmul_avx2(const kern_mm_t *mm)
{
    kern_gemm_run(mm, &gemm_f32);
}

const kern_ops_t kern_ops_avx2 = {
    .name = "avx2",
    .matmul = matmul_avx2,
    .dot = dot_avx2,
    .row_to_f32 = row_to_f32_avx2,
};

#endif
