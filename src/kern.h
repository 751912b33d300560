/* kern.h — numeric kernels for the embedding engine: prepared weight matrices, matrix
 * multiplication, and a small thread pool. Runtime CPU dispatch (scalar, AVX2+FMA,
 * AVX-512, AVX-512-BF16/VNNI) happens inside; callers never see ISA details.
 *
 * Layout conventions: activations are row-major float32, X is rows × n_in, Y is rows × n_out.
 * A weight W has n_out rows of n_in contiguous elements (GGUF Linear layout: dims {in, out}). */
#ifndef EMBECODE_KERN_H
#define EMBECODE_KERN_H

#include "gguf.h"
#include "util.h"

/* Arithmetic used for the matrix products. F32 is the accurate default; BF16 and INT8 trade
 * accuracy for speed where the CPU supports them (they fall back to F32 where it does not). */
typedef enum { KERN_MODE_F32 = 0, KERN_MODE_BF16, KERN_MODE_INT8 } kern_mode_t;

/* A fixed pool of worker threads (n_threads total, including the caller). Not re-entrant:
 * one kernel call at a time per pool. kern_pool_new(0) uses one thread per online CPU. */
typedef struct kern_pool kern_pool_t;
kern_pool_t *kern_pool_new(int n_threads);
void kern_pool_free(kern_pool_t *p); /* NULL-safe */
int kern_pool_threads(const kern_pool_t *p);
/* Runs fn(ctx, i, n) for i in [0, n) across the pool and waits. With p == NULL runs inline. */
void kern_pool_run(kern_pool_t *p, void (*fn)(void *ctx, int i, int n), void *ctx, int n);

/* A weight matrix ready for kern_matmul. Built from GGUF tensor data of any gguf_dtype_t.
 * F32 data may be used in place (no copy, so mmapped pages are shared between processes);
 * other layouts may be repacked once here. `data` must outlive the matrix. */
typedef struct kern_mat kern_mat_t;
kern_mat_t *kern_mat_new(gguf_dtype_t type, const void *data, size_t n_out, size_t n_in,
                         kern_mode_t mode, err_t *err);
void kern_mat_free(kern_mat_t *m); /* NULL-safe */
size_t kern_mat_rows(const kern_mat_t *m); /* n_out */
size_t kern_mat_cols(const kern_mat_t *m); /* n_in */

/* Y[r][o] = sum_i X[r][i] * W[o][i] + (bias ? bias[o] : 0), for r < rows, o < n_out.
 * X and Y must not overlap. Uses the pool when given. Never fails. */
void kern_matmul(kern_pool_t *pool, const kern_mat_t *W, const float *X, size_t rows,
                 const float *bias, float *Y);

/* Dot product of two float vectors of length n (SIMD where available). */
float kern_dot(const float *a, const float *b, size_t n);

/* Converts n elements of a GGUF row of `type` to float32 (used for embedding lookups). */
void kern_row_to_f32(gguf_dtype_t type, const void *row, size_t n, float *out);
/* Bytes occupied by n elements of `type` (n must be a multiple of 32 for Q8_0/Q4_0). */
size_t kern_row_bytes(gguf_dtype_t type, size_t n);

/* Names the instruction sets dispatch chose, e.g. "avx512+bf16+vnni" (for logs/benchmarks). */
const char *kern_isa_name(void);

#endif
