/* hash_int.h — internals shared by hash.c and its accelerated block functions. */
#ifndef EMBECODE_HASH_INT_H
#define EMBECODE_HASH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when this CPU has the SHA extensions (and SSSE3/SSE4.1); always false off x86.
 * Thread-safe, no side effects. */
bool hash_shani_available(void);
/* SHA-1 compression of nblocks consecutive 64-byte blocks at p into h. Call only when
 * hash_shani_available(); a no-op off x86. */
void hash_shani_sha1_blocks(uint32_t h[5], const uint8_t *p, size_t nblocks);

#endif
