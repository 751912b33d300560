#include "hash.h"
#include "t.h"
#include "util.h"

static const char *sha1_of(const char *s)
{
    static char hex[HASH_SHA1_HEX_LEN];
    hash_sha1_hex(s, strlen(s), hex);
    return hex;
}

static const char *sha256_of(const char *s)
{
    static char hex[HASH_SHA256_HEX_LEN];
    hash_sha256_hex(s, strlen(s), hex);
    return hex;
}

static const char *two_blocks =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmn"
    "opqrsmnopqrstnopqrstu";

static void test_sha1_matches_fips_vectors(void)
{
    T_EQ_STR(sha1_of(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    T_EQ_STR(sha1_of("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    T_EQ_STR(sha1_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
             "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    T_EQ_STR(sha1_of(two_blocks), "a49b2446a02c645bf419f995b67091253a04a259");
    T_EQ_STR(sha1_of("The quick brown fox jumps over the lazy dog"),
             "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
}

static void test_sha256_matches_fips_vectors(void)
{
    T_EQ_STR(sha256_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    T_EQ_STR(sha256_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    T_EQ_STR(sha256_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    T_EQ_STR(sha256_of(two_blocks),
             "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a' fed in uneven pieces (exercises buffering across block boundaries). */
static void test_million_a_streamed_in_odd_pieces(void)
{
    static char a[1000];
    memset(a, 'a', sizeof a);
    hash_sha1_t c1;
    hash_sha256_t c2;
    hash_sha1_init(&c1);
    hash_sha256_init(&c2);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t n = step < left ? step : left;
        hash_sha1_update(&c1, a, n);
        hash_sha256_update(&c2, a, n);
        left -= n;
        step = step * 7 % 997 + 1;
    }
    uint8_t d1[HASH_SHA1_LEN], d2[HASH_SHA256_LEN];
    char h1[HASH_SHA1_HEX_LEN], h2[HASH_SHA256_HEX_LEN];
    hash_sha1_final(&c1, d1);
    hash_sha256_final(&c2, d2);
    hash_to_hex(d1, sizeof d1, h1);
    hash_to_hex(d2, sizeof d2, h2);
    T_EQ_STR(h1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    T_EQ_STR(h2, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundary (55/56 bytes fit or spill the length field). Expected
 * values from coreutils sha1sum/sha256sum of n 'x' characters. */
static void test_padding_boundaries(void)
{
    static const struct {
        size_t n;
        const char *sha1, *sha256;
    } cases[] = {
        {55, "cef734ba81a024479e09eb5a75b6ddae62e6abf1",
         "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
        {56, "901305367c259952f4e7af8323f480d59f81335b",
         "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
        {63, "0ddc4e0cccd9a12850deb5abb0853a4425559fec",
         "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
        {64, "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163",
         "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
        {65, "78c741ddc482e4cdf8c474a0876347a0905b6233",
         "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"},
        {119, "4300320394f7ee239bcdce7d3b8bcee173a0cd5c",
         "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c"},
        {120, "ceb2821639c4b6dcb10bce0e522ca2e608ce056d",
         "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98"},
    };
    char x[128];
    memset(x, 'x', sizeof x);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char h1[HASH_SHA1_HEX_LEN], h2[HASH_SHA256_HEX_LEN];
        hash_sha1_hex(x, cases[i].n, h1);
        hash_sha256_hex(x, cases[i].n, h2);
        T_EQ_STR(h1, cases[i].sha1);
        T_EQ_STR(h2, cases[i].sha256);
    }
}

/* Streaming with every split point gives the one-shot digest. */
static void test_every_split_equals_one_shot(void)
{
    uint8_t data[150];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    char want1[HASH_SHA1_HEX_LEN], want2[HASH_SHA256_HEX_LEN];
    hash_sha1_hex(data, sizeof data, want1);
    hash_sha256_hex(data, sizeof data, want2);
    int bad = 0;
    for (size_t cut = 0; cut <= sizeof data; cut++) {
        hash_sha1_t c1;
        hash_sha256_t c2;
        uint8_t d1[HASH_SHA1_LEN], d2[HASH_SHA256_LEN];
        char h1[HASH_SHA1_HEX_LEN], h2[HASH_SHA256_HEX_LEN];
        hash_sha1_init(&c1);
        hash_sha256_init(&c2);
        hash_sha1_update(&c1, data, cut);
        hash_sha1_update(&c1, NULL, 0);
        hash_sha1_update(&c1, data + cut, sizeof data - cut);
        hash_sha256_update(&c2, data, cut);
        hash_sha256_update(&c2, data + cut, sizeof data - cut);
        hash_sha1_final(&c1, d1);
        hash_sha256_final(&c2, d2);
        hash_to_hex(d1, sizeof d1, h1);
        hash_to_hex(d2, sizeof d2, h2);
        bad += strcmp(h1, want1) != 0 || strcmp(h2, want2) != 0;
    }
    T_EQ_INT(bad, 0);
}

static void test_context_reusable_after_final(void)
{
    hash_sha1_t c;
    uint8_t d[HASH_SHA1_LEN];
    char h[HASH_SHA1_HEX_LEN];
    hash_sha1_init(&c);
    hash_sha1_update(&c, "junk", 4);
    hash_sha1_final(&c, d);
    hash_sha1_init(&c);
    hash_sha1_update(&c, "abc", 3);
    hash_sha1_final(&c, d);
    hash_to_hex(d, sizeof d, h);
    T_EQ_STR(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

/* The SHA-NI block function and the portable one agree on random inputs of every length
 * around the block and padding boundaries, one-shot and streamed in random pieces. */
static void test_hw_and_portable_sha1_agree(void)
{
    if (!hash_sha1_use_hw(true)) {
        fprintf(stderr, "  (no SHA extensions on this CPU: only the portable code is tested)\n");
        hash_sha1_use_hw(false);
        return;
    }
    static uint8_t buf[4200];
    uint64_t x = 0x9e3779b97f4a7c15u;
    int mismatches = 0;
    for (size_t len = 0; len < sizeof buf; len += (len < 300 ? 1 : 37)) {
        for (size_t i = 0; i < len; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            buf[i] = (uint8_t)(x >> 56);
        }
        char one[HASH_SHA1_HEX_LEN], hw[HASH_SHA1_HEX_LEN], sw[HASH_SHA1_HEX_LEN];
        hash_sha1_use_hw(true);
        hash_sha1_hex(buf, len, one);
        hash_sha1_t c;
        uint8_t d[HASH_SHA1_LEN];
        hash_sha1_init(&c);
        for (size_t off = 0; off < len;) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            size_t n = (size_t)(x >> 33) % 200;
            if (n > len - off) n = len - off;
            hash_sha1_update(&c, buf + off, n);
            off += n;
        }
        hash_sha1_final(&c, d);
        hash_to_hex(d, sizeof d, hw);
        hash_sha1_use_hw(false);
        hash_sha1_hex(buf, len, sw);
        if (strcmp(one, sw) != 0 || strcmp(hw, sw) != 0) mismatches++;
    }
    T_EQ_INT(mismatches, 0);
    hash_sha1_use_hw(true);
}

static void run_all(void)
{
    T_RUN(test_sha1_matches_fips_vectors);
    T_RUN(test_sha256_matches_fips_vectors);
    T_RUN(test_million_a_streamed_in_odd_pieces);
    T_RUN(test_padding_boundaries);
    T_RUN(test_every_split_equals_one_shot);
    T_RUN(test_context_reusable_after_final);
}

int main(void)
{
    /* Every vector test runs with the portable code, then with SHA-NI where the CPU has it. */
    hash_sha1_use_hw(false);
    run_all();
    if (hash_sha1_use_hw(true)) run_all();
    T_RUN(test_hw_and_portable_sha1_agree);
    return t_done();
}
