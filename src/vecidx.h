/* vecidx.h — the in-memory copy of one model's vectors, for exact semantic search
 * (DESIGN §3 "Vectors"; issue 4 parts 2–3).
 *
 * The copy holds one compact row per distinct chunk hash (a "slot": f16, or int8 with one
 * scale per row) and, per chunk, its id, file id and slot. Several chunks with the same
 * content share a slot. vecidx_sync() follows the index: the first call loads everything;
 * later calls cost nothing when nothing was committed, and otherwise apply only the chunk
 * log rows and vectors added since the previous call (a full reload only when the log was
 * pruned past our position).
 *
 * Search is exact: the compact rows are scanned with SIMD (AVX-512, AVX2+F16C or scalar,
 * chosen at run time), every row whose approximate score could still reach the k-th best
 * score (given a rigorous per-row bound of the quantisation and rounding error) is rescored
 * with its float32 vector read from the store, and the result equals a brute-force float32
 * search that scores with vecidx_dot_exact(): same chunks, same order, same scores.
 * Typically about k rows are rescored with f16, 3k to 7k with int8 (random data, k = 10).
 *
 * Threads: a vecidx_t is used by one thread at a time (the caller serialises sync and
 * search); search may use one extra worker thread of its own for scans of at least
 * VECIDX_PAR_MIN_ROWS rows. Different vecidx_t are independent. Memory: dim*2 (f16) or dim
 * (int8) bytes per distinct hash, rounded up to 64 elements, plus about 50 bytes per
 * distinct hash and 50 per chunk. */
#ifndef EMBECODE_VECIDX_H
#define EMBECODE_VECIDX_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "util.h"

typedef enum { VECIDX_F16 = 0, VECIDX_INT8 } vecidx_format_t;

typedef struct vecidx vecidx_t;

/* A copy for model's vectors of dimension dim (1..65536). Vectors of another dimension in
 * the store are skipped with a warning. Never fails for valid arguments (NULL otherwise).
 * Free with vecidx_free (NULL-safe; stops the worker thread). */
vecidx_t *vecidx_new(const char *model, int dim, vecidx_format_t fmt);
void vecidx_free(vecidx_t *v);

/* Brings the copy up to date with s (any connection to the index, read-only is fine; not
 * inside an open batch, whose rows could still be rolled back). 0, or -1 with err: what was
 * applied before the failure is kept and the next call continues from there (after a failed
 * first load or reload, the copy is empty and the next call loads again). Fails for a copy
 * filled with vecidx_add. */
int vecidx_sync(vecidx_t *v, store_t *s, err_t *err);

/* Chunks that have a vector. */
size_t vecidx_chunks(const vecidx_t *v);

typedef struct {
    int64_t chunk_id;
    float score; /* vecidx_dot_exact(query, vector) */
} vecidx_hit_t;

typedef struct {
    double filter_ms;  /* building the path-prefix filter (0 without prefix) */
    double scan_ms;    /* approximate scores of every allowed row */
    double rescore_ms; /* exact scores of the candidates, reading their float32 vectors */
    double total_ms;
    size_t rows_scanned; /* distinct hashes scored */
    size_t candidates;   /* rows rescored exactly */
    int threads;
} vecidx_timing_t;

/* Exact top-k by score among chunks whose file path starts with path_prefix (byte-wise;
 * NULL or "" = all), best first, ties by ascending chunk id. The prefix filter applies
 * before ranking. Chunks sharing a hash are separate results with the same score. query has
 * dim finite values, length within 1e-15..1e15 (vectors are expected to be unit length, so
 * the score is the cosine similarity). k >= 1; out has room for k hits; *n_out <= k. The
 * float32 vectors of the candidates are read from s (or from the exact source, see below);
 * s also resolves the prefix. Reflects the last vecidx_sync: a candidate whose vector has
 * left the store since is dropped. timing may be NULL. 0, or -1 with err (bad query, or the
 * store could not be read). */
int vecidx_search(vecidx_t *v, store_t *s, const float *query, int k, const char *path_prefix,
                  vecidx_hit_t *out, size_t *n_out, vecidx_timing_t *timing, err_t *err);

/* The score, by definition: the dot product accumulated in double precision in index order,
 * rounded to float. Brute-force references must use it to compare bit for bit. */
float vecidx_dot_exact(const float *a, const float *b, int dim);

typedef struct {
    uint64_t full_loads;        /* complete (re)loads from the store */
    uint64_t incremental_syncs; /* syncs that applied log rows / new vectors */
    uint64_t unchanged_syncs;   /* syncs skipped because nothing was committed */
    uint64_t log_rows;          /* chunk log rows applied */
    uint64_t vec_rows;          /* vectors read (loads and increments) */
    uint64_t lookups;           /* point lookups for hashes that reappeared */
    uint64_t skipped;           /* rows ignored: bad hash, other dimension */
    size_t chunks;              /* live chunks (with or without a vector) */
    size_t chunks_with_vec;
    size_t slots;     /* distinct hashes with a vector */
    size_t row_bytes; /* bytes per compact row (the scan reads slots * row_bytes) */
    size_t bytes;     /* memory held */
} vecidx_stats_t;
void vecidx_stats(const vecidx_t *v, vecidx_stats_t *out);

/* ---- tests and benchmarks ---- */

/* Adds a chunk with its vector directly, without a store (benchmarks of a million vectors
 * would otherwise need a 3 GB index file). hash: 40 hex digits. A copy filled this way is
 * never synced; vecidx_search needs an exact source (below) or a store holding the
 * vectors. 0 / -1 with err (bad hash, chunk id already present). */
int vecidx_add(vecidx_t *v, int64_t chunk_id, int64_t file_id, const char *hash, const float *vec,
               err_t *err);
/* Where search reads candidates' float32 vectors instead of the store: fetch writes dim
 * floats for hash and returns 1, or 0 when absent. NULL fetch restores the store. */
void vecidx_set_exact_source(vecidx_t *v, int (*fetch)(void *ctx, const char *hash, float *out),
                             void *ctx);
/* Threads used by large scans: 1 or 2 (default 2); min_rows: scans of fewer rows use one
 * thread (default VECIDX_PAR_MIN_ROWS). */
#define VECIDX_PAR_MIN_ROWS 20000
void vecidx_set_threads(vecidx_t *v, int threads, size_t min_rows);

/* Instruction sets of the scan kernels, lowest first. The best the CPU supports is used;
 * $EMBECODE_ISA (scalar|avx2) may lower it at startup, never raise it. */
typedef enum { VECIDX_ISA_SCALAR = 0, VECIDX_ISA_AVX2, VECIDX_ISA_AVX512 } vecidx_isa_t;
vecidx_isa_t vecidx_isa_best(void);
vecidx_isa_t vecidx_isa_current(void);
/* Switches to a level <= vecidx_isa_best(); -1 when the CPU lacks it. Not thread-safe:
 * only while no search runs. */
int vecidx_isa_set(vecidx_isa_t isa);
/* "scalar", "avx2", "avx512", "avx512+vnni" (what the current level uses). */
const char *vecidx_isa_name(void);

/* ---- kernels (vecidx_simd.c), internal to vecidx.c; declared here for tests ---- */

/* Rows are padded to a multiple of VECIDX_PAD elements (the pad of a query is 0). */
#define VECIDX_PAD 64
/* out[r] = sum_j q[j] * f16(rows[r][j]) over j < n (float32 accumulation, any order). */
void vecidx_kern_f16(const uint16_t *const *rows, size_t nrows, const float *q, size_t n,
                     float *out);
/* out[r] = sum_j rows[r][j] * q[j] over j < n, exactly (rows are unsigned bytes: value + 128
 * of a signed code in -127..127; q signed codes in -127..127). */
void vecidx_kern_u8(const uint8_t *const *rows, size_t nrows, const int8_t *q, size_t n,
                    int32_t *out);
/* IEEE binary16 conversions, round to nearest even (bit-exact on every ISA). */
void vecidx_f32_to_f16(const float *in, uint16_t *out, size_t n);
float vecidx_f16_to_f32(uint16_t h);

#endif
