/* hash_shani.c — SHA-1 compression with the x86 SHA extensions (SHA-NI), see hash_int.h.
 *
 * The round structure follows Intel's published description of the SHA instructions: four
 * rounds per sha1rnds4, the message schedule kept in four registers (sha1msg1, xor,
 * sha1msg2), and sha1nexte deriving E for the next four rounds. Compiled for every x86
 * target with a per-function target attribute; callers check hash_shani_available() before
 * calling hash_shani_sha1_blocks(). */
#include "hash_int.h"

#if defined(__x86_64__) || defined(__i386__)

#include <cpuid.h>
#include <immintrin.h>

bool hash_shani_available(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    bool ssse3 = c & bit_SSSE3, sse41 = c & bit_SSE4_1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return ssse3 && sse41 && (b & bit_SHA);
}

/* One group of four rounds (g = 3..19) on message register m[g % 4]: advances E, runs the
 * rounds with function g / 5, and extends the schedule (the extensions of the last groups
 * are unused and dropped by the compiler). */
#define SHA1_GROUP(g, ecur, eoth)                                                                  \
    do {                                                                                           \
        ecur = _mm_sha1nexte_epu32(ecur, m[(g) % 4]);                                              \
        eoth = abcd;                                                                               \
        m[((g) + 1) % 4] = _mm_sha1msg2_epu32(m[((g) + 1) % 4], m[(g) % 4]);                       \
        abcd = _mm_sha1rnds4_epu32(abcd, ecur, (g) / 5);                                           \
        m[((g) + 3) % 4] = _mm_sha1msg1_epu32(m[((g) + 3) % 4], m[(g) % 4]);                       \
        m[((g) + 2) % 4] = _mm_xor_si128(m[((g) + 2) % 4], m[(g) % 4]);                            \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3"))) void
hash_shani_sha1_blocks(uint32_t h[5], const uint8_t *p, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1b);
    __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0), e1;
    for (; nblocks; nblocks--, p += 64) {
        __m128i abcd_save = abcd, e0_save = e0, m[4];
        for (int i = 0; i < 4; i++)
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
        /* rounds 0-3 */
        e0 = _mm_add_epi32(e0, m[0]);
        e1 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
        /* rounds 4-7 */
        e1 = _mm_sha1nexte_epu32(e1, m[1]);
        e0 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
        m[0] = _mm_sha1msg1_epu32(m[0], m[1]);
        /* rounds 8-11 */
        e0 = _mm_sha1nexte_epu32(e0, m[2]);
        e1 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
        m[1] = _mm_sha1msg1_epu32(m[1], m[2]);
        m[0] = _mm_xor_si128(m[0], m[2]);
        /* rounds 12-79 */
        SHA1_GROUP(3, e1, e0);
        SHA1_GROUP(4, e0, e1);
        SHA1_GROUP(5, e1, e0);
        SHA1_GROUP(6, e0, e1);
        SHA1_GROUP(7, e1, e0);
        SHA1_GROUP(8, e0, e1);
        SHA1_GROUP(9, e1, e0);
        SHA1_GROUP(10, e0, e1);
        SHA1_GROUP(11, e1, e0);
        SHA1_GROUP(12, e0, e1);
        SHA1_GROUP(13, e1, e0);
        SHA1_GROUP(14, e0, e1);
        SHA1_GROUP(15, e1, e0);
        SHA1_GROUP(16, e0, e1);
        SHA1_GROUP(17, e1, e0);
        SHA1_GROUP(18, e0, e1);
        SHA1_GROUP(19, e1, e0);
        e0 = _mm_sha1nexte_epu32(e0, e0_save);
        abcd = _mm_add_epi32(abcd, abcd_save);
    }
    _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1b));
    h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

#else

bool hash_shani_available(void)
{
    return false;
}

void hash_shani_sha1_blocks(uint32_t h[5], const uint8_t *p, size_t nblocks)
{
    (void)h;
    (void)p;
    (void)nblocks;
}

#endif
