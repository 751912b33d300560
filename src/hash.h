/* hash.h — SHA-1 and SHA-256 (FIPS 180-4), one-shot and streaming.
 *
 * SHA-1 names chunks by their content (store) and projects by their path (cache folder);
 * SHA-256 verifies downloaded model files. Neither is used for security decisions here
 * beyond integrity checks against a published checksum.
 *
 * SHA-1 uses the CPU's SHA extensions when present (chosen once per process; the only
 * global state, set race-free). All functions are pure otherwise: no allocation,
 * thread-safe. A context belongs to
 * one user at a time; it may be reused after *_final by calling *_init again. None of these
 * functions can fail. */
#ifndef EMBECODE_HASH_H
#define EMBECODE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_SHA1_LEN 20
#define HASH_SHA256_LEN 32
/* Hex strings: two lowercase digits per byte plus the terminating NUL. */
#define HASH_SHA1_HEX_LEN (2 * HASH_SHA1_LEN + 1)
#define HASH_SHA256_HEX_LEN (2 * HASH_SHA256_LEN + 1)

typedef struct {
    uint32_t h[5];
    uint64_t total; /* bytes fed so far */
    uint8_t buf[64];
    size_t buf_len;
} hash_sha1_t;

typedef struct {
    uint32_t h[8];
    uint64_t total;
    uint8_t buf[64];
    size_t buf_len;
} hash_sha256_t;

/* Streaming: init, then update any number of times with any split of the input (n may be
 * 0; data may be NULL when n is 0), then final writes the digest. */
void hash_sha1_init(hash_sha1_t *c);
void hash_sha1_update(hash_sha1_t *c, const void *data, size_t n);
void hash_sha1_final(hash_sha1_t *c, uint8_t out[HASH_SHA1_LEN]);

void hash_sha256_init(hash_sha256_t *c);
void hash_sha256_update(hash_sha256_t *c, const void *data, size_t n);
void hash_sha256_final(hash_sha256_t *c, uint8_t out[HASH_SHA256_LEN]);

/* Tests and benchmarks: use the SHA-NI block function (on = true, when the CPU has it) or the
 * portable one. Returns whether SHA-NI is now in use. Not for concurrent use with hashing. */
bool hash_sha1_use_hw(bool on);

/* Writes 2*n lowercase hex digits and a NUL into out (room for 2*n+1 bytes). */
void hash_to_hex(const uint8_t *digest, size_t n, char *out);

/* One-shot digests as lowercase hex into out (41 / 65 bytes including NUL). */
void hash_sha1_hex(const void *data, size_t n, char out[HASH_SHA1_HEX_LEN]);
void hash_sha256_hex(const void *data, size_t n, char out[HASH_SHA256_HEX_LEN]);

#endif
