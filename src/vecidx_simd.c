/* vecidx_simd.c — the scan kernels of vecidx.h (f16 and int8 dot products of many rows
 * against one query), binary16 conversions, and run-time ISA dispatch.
 *
 * Each ISA variant is compiled with __attribute__((target)) so the rest of the build stays
 * baseline x86-64; __builtin_cpu_supports picks the best at first use. Kernels take up to
 * one row at a time (a linear stream) and prefetch rows ahead; the memory stream of the
 * rows is the bottleneck, not arithmetic. */
#include "vecidx.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define VECIDX_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define VECIDX_X86 0
#endif

/* ---- binary16 conversions (scalar, exact) ---- */

static uint16_t f32_to_f16_one(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | (ax > 0x7f800000u ? 0x7e00 : 0x7c00); /* NaN, inf */
    if (ax >= 0x477ff000u) return sign | 0x7c00; /* >= 65520 rounds to infinity */
    if (ax < 0x38800000u) {                      /* below 2^-14: subnormal or zero */
        float a;
        memcpy(&a, &ax, sizeof a);
        /* a * 2^24 is exact; rounding it to an integer (ties to even) gives the code, and
         * 1024 is the smallest normal, which the encoding continues into correctly. */
        return sign | (uint16_t)lrintf(a * 16777216.0f);
    }
    uint32_t mant = ax & 0x7fffffu;
    uint32_t h = ((((ax >> 23) & 0xff) - 112) << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* carry may raise the exponent */
    return sign | (uint16_t)h;
}

float vecidx_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0) {
        float f = (float)m * 5.9604644775390625e-8f; /* m * 2^-24, exact */
        return sign ? -f : f;
    }
    if (e == 31)
        bits = sign | 0x7f800000u | (m << 13);
    else
        bits = sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ---- dispatch state ---- */

static int g_isa = -1; /* vecidx_isa_t once resolved */
static int g_best = -1;
static int g_vnni = 0;

#if VECIDX_X86
/* CPUID.1:ECX bit 29 (F16C); compilers do not all accept "f16c" in __builtin_cpu_supports.
 * AVX state support by the OS is checked with avx2 below. */
static bool cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
}
#endif

static void isa_detect(void)
{
    int best = VECIDX_ISA_SCALAR;
#if VECIDX_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c())
        best = VECIDX_ISA_AVX2;
    if (best == VECIDX_ISA_AVX2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        best = VECIDX_ISA_AVX512;
    g_vnni = best == VECIDX_ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
#endif
    int cur = best;
    const char *env = getenv("EMBECODE_ISA");
    if (env && strcmp(env, "scalar") == 0) cur = VECIDX_ISA_SCALAR;
    if (env && strcmp(env, "avx2") == 0 && cur > VECIDX_ISA_AVX2) cur = VECIDX_ISA_AVX2;
    g_isa = cur;
    g_best = best;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void isa_init(void)
{
    pthread_once(&g_once, isa_detect);
}

vecidx_isa_t vecidx_isa_best(void)
{
    isa_init();
    return (vecidx_isa_t)g_best;
}

vecidx_isa_t vecidx_isa_current(void)
{
    isa_init();
    return (vecidx_isa_t)g_isa;
}

int vecidx_isa_set(vecidx_isa_t isa)
{
    isa_init();
    if ((int)isa < VECIDX_ISA_SCALAR || (int)isa > g_best) return -1;
    g_isa = (int)isa;
    return 0;
}

const char *vecidx_isa_name(void)
{
    isa_init();
    switch (g_isa) {
    case VECIDX_ISA_AVX512:
        return g_vnni ? "avx512+vnni" : "avx512";
    case VECIDX_ISA_AVX2:
        return "avx2";
    default:
        return "scalar";
    }
}

/* ---- scalar kernels ---- */

static void f16_scalar(const uint16_t *const *rows, size_t nrows, const float *q, size_t n,
                       float *out)
{
    for (size_t r = 0; r < nrows; r++) {
        float acc = 0;
        for (size_t j = 0; j < n; j++)
            acc += q[j] * vecidx_f16_to_f32(rows[r][j]);
        out[r] = acc;
    }
}

static void u8_scalar(const uint8_t *const *rows, size_t nrows, const int8_t *q, size_t n,
                      int32_t *out)
{
    for (size_t r = 0; r < nrows; r++) {
        int32_t acc = 0;
        for (size_t j = 0; j < n; j++)
            acc += (int32_t)rows[r][j] * q[j];
        out[r] = acc;
    }
}

#if VECIDX_X86

/* Software prefetch a few KiB ahead: with it one core streams rows at about the machine's
 * read bandwidth; without, the interleaved row streams left a third of it unused. */
static size_t prefetch_rows(size_t row_bytes)
{
    return (6144 + row_bytes - 1) / row_bytes;
}

static void prefetch_row(const void *p, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += 64)
        _mm_prefetch((const char *)p + off, _MM_HINT_T0);
}

/* ---- AVX2 + F16C + FMA ---- */

#define T_AVX2 __attribute__((target("avx2,fma,f16c")))

T_AVX2 static float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T_AVX2 static int32_t hsum256i(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

#define F16X8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))

T_AVX2 static void f16_avx2(const uint16_t *const *rows, size_t nrows, const float *q, size_t n,
                            float *out)
{
    size_t ahead = prefetch_rows(n * 2);
    for (size_t r = 0; r < nrows; r++) {
        if (r + ahead < nrows) prefetch_row(rows[r + ahead], n * 2);
        const uint16_t *a = rows[r];
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        size_t j = 0;
        for (; j + 32 <= n; j += 32) {
            a0 = _mm256_fmadd_ps(F16X8(a + j), _mm256_loadu_ps(q + j), a0);
            a1 = _mm256_fmadd_ps(F16X8(a + j + 8), _mm256_loadu_ps(q + j + 8), a1);
            a2 = _mm256_fmadd_ps(F16X8(a + j + 16), _mm256_loadu_ps(q + j + 16), a2);
            a3 = _mm256_fmadd_ps(F16X8(a + j + 24), _mm256_loadu_ps(q + j + 24), a3);
        }
        for (; j < n; j += 8)
            a0 = _mm256_fmadd_ps(F16X8(a + j), _mm256_loadu_ps(q + j), a0);
        out[r] = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    }
}

/* 16 unsigned bytes at p times 16 signed codes (as int16 in q16), pairwise into int32. */
#define U8X16_DOT(p, q16)                                                                          \
    _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p))), q16)

T_AVX2 static void u8_avx2(const uint8_t *const *rows, size_t nrows, const int8_t *q, size_t n,
                           int32_t *out)
{
    size_t r = 0, ahead = prefetch_rows(n);
    for (; r + 4 <= nrows; r += 4) {
        for (size_t p = r + ahead; p < r + ahead + 4 && p < nrows; p++)
            prefetch_row(rows[p], n);
        const uint8_t *a = rows[r], *b = rows[r + 1], *c = rows[r + 2], *d = rows[r + 3];
        __m256i sa = _mm256_setzero_si256(), sb = sa, sc = sa, sd = sa;
        for (size_t j = 0; j < n; j += 16) {
            __m256i q16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(q + j)));
            sa = _mm256_add_epi32(sa, U8X16_DOT(a + j, q16));
            sb = _mm256_add_epi32(sb, U8X16_DOT(b + j, q16));
            sc = _mm256_add_epi32(sc, U8X16_DOT(c + j, q16));
            sd = _mm256_add_epi32(sd, U8X16_DOT(d + j, q16));
        }
        out[r] = hsum256i(sa);
        out[r + 1] = hsum256i(sb);
        out[r + 2] = hsum256i(sc);
        out[r + 3] = hsum256i(sd);
    }
    for (; r < nrows; r++) {
        __m256i sa = _mm256_setzero_si256();
        for (size_t j = 0; j < n; j += 16) {
            __m256i q16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(q + j)));
            sa = _mm256_add_epi32(sa, U8X16_DOT(rows[r] + j, q16));
        }
        out[r] = hsum256i(sa);
    }
}

/* ---- AVX-512 (F, BW, VL; VNNI for int8 when present) ---- */

#define T_512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

#define F16X16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))

T_512 static void f16_avx512(const uint16_t *const *rows, size_t nrows, const float *q, size_t n,
                             float *out)
{
    size_t ahead = prefetch_rows(n * 2);
    for (size_t r = 0; r < nrows; r++) {
        if (r + ahead < nrows) prefetch_row(rows[r + ahead], n * 2);
        const uint16_t *a = rows[r];
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        size_t j = 0;
        for (; j + 64 <= n; j += 64) {
            a0 = _mm512_fmadd_ps(F16X16(a + j), _mm512_loadu_ps(q + j), a0);
            a1 = _mm512_fmadd_ps(F16X16(a + j + 16), _mm512_loadu_ps(q + j + 16), a1);
            a2 = _mm512_fmadd_ps(F16X16(a + j + 32), _mm512_loadu_ps(q + j + 32), a2);
            a3 = _mm512_fmadd_ps(F16X16(a + j + 48), _mm512_loadu_ps(q + j + 48), a3);
        }
        for (; j < n; j += 16)
            a0 = _mm512_fmadd_ps(F16X16(a + j), _mm512_loadu_ps(q + j), a0);
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    }
}

#define U8X64(p) _mm512_loadu_si512((const void *)(p))
#define S8X64(p) _mm512_loadu_si512((const void *)(p))

T_VNNI static void u8_vnni(const uint8_t *const *rows, size_t nrows, const int8_t *q, size_t n,
                           int32_t *out)
{
    size_t ahead = prefetch_rows(n);
    for (size_t r = 0; r < nrows; r++) {
        if (r + ahead < nrows) prefetch_row(rows[r + ahead], n);
        const uint8_t *a = rows[r];
        __m512i s0 = _mm512_setzero_si512(), s1 = s0;
        size_t j = 0;
        for (; j + 128 <= n; j += 128) {
            s0 = _mm512_dpbusd_epi32(s0, U8X64(a + j), S8X64(q + j));
            s1 = _mm512_dpbusd_epi32(s1, U8X64(a + j + 64), S8X64(q + j + 64));
        }
        for (; j < n; j += 64)
            s0 = _mm512_dpbusd_epi32(s0, U8X64(a + j), S8X64(q + j));
        out[r] = _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
    }
}

T_AVX2 static void f32_to_f16_f16c(const float *in, uint16_t *out, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        out[i] = f32_to_f16_one(in[i]);
}

#endif /* VECIDX_X86 */

/* ---- dispatch ---- */

void vecidx_kern_f16(const uint16_t *const *rows, size_t nrows, const float *q, size_t n,
                     float *out)
{
    isa_init();
#if VECIDX_X86
    if (g_isa == VECIDX_ISA_AVX512) {
        f16_avx512(rows, nrows, q, n, out);
        return;
    }
    if (g_isa == VECIDX_ISA_AVX2) {
        f16_avx2(rows, nrows, q, n, out);
        return;
    }
#endif
    f16_scalar(rows, nrows, q, n, out);
}

void vecidx_kern_u8(const uint8_t *const *rows, size_t nrows, const int8_t *q, size_t n,
                    int32_t *out)
{
    isa_init();
#if VECIDX_X86
    if (g_isa == VECIDX_ISA_AVX512 && g_vnni) {
        u8_vnni(rows, nrows, q, n, out);
        return;
    }
    if (g_isa >= VECIDX_ISA_AVX2) {
        u8_avx2(rows, nrows, q, n, out);
        return;
    }
#endif
    u8_scalar(rows, nrows, q, n, out);
}

void vecidx_f32_to_f16(const float *in, uint16_t *out, size_t n)
{
    isa_init();
#if VECIDX_X86
    if (g_isa >= VECIDX_ISA_AVX2) {
        f32_to_f16_f16c(in, out, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = f32_to_f16_one(in[i]);
}
