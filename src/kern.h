/* kern.h — numeric kernels for the embedding engine: prepared weight matrices, matrix
 * multiplication, fused attention, and a small thread pool. Runtime CPU dispatch (scalar,
 * AVX2+FMA, AVX-512, AVX-512-BF16/VNNI) happens inside; callers never see ISA details.
 *
 * Layout conventions: activations are row-major float32, X is rows × n_in, Y is rows × n_out.
 * A weight W has n_out rows of n_in contiguous elements (GGUF Linear layout: dims {in, out}).
 *
 * Sources: kern.c (dispatch, pool, conversions, scalar reference, the blocked GEMM driver),
 * kern_avx2.c and kern_avx512.c (SIMD GEMM kernels), kern_attn.c (attention). A build of
 * the kernels links all four (MODULES="... kern kern_avx2 kern_avx512 kern_attn").
 *
 * How the product is computed:
 * - Weights are never copied as a whole. kern_mat_new only records where they are, so the
 *   mmapped model file is used in place for every type. kern_matmul packs one cache block
 *   at a time (KC inputs × NC weight rows: ~250-500 KB, L2-sized) into per-thread scratch,
 *   decoding F16/BF16/Q8_0/Q4_0 and transposing into the microkernel's panel layout, then
 *   streams every row of X through that block. Each block is packed once per product and
 *   reused by all rows: with the forward pass's thousands of rows, packing takes 1-3% of
 *   the time (perf, on the MiniLM and nomic shapes) and the weights cost no extra memory.
 *   A persistent repacked copy would save those few percent at the price of a second copy
 *   of the model in RAM, so we do not keep one.
 * - Microkernels (AVX-512): f32 8 rows × 48 columns in 24 zmm accumulators; bf16 the same
 *   tile with VDPBF16PS (X rounded to bf16 once per product); int8 6 × 32 with VPDPBUSD,
 *   X quantised per row and 32-input block, weights in Q8_0 blocks (Q8_0 and Q4_0 used
 *   exactly, other types quantised per block while packing). AVX2: f32 6 × 16.
 * - With at most 12 rows (a search query) the product is bound by reading W; the AVX-512
 *   path then skips packing and takes dot products against the weight rows in place.
 * - The pool's threads take disjoint ranges of weight rows (or of X rows when W is small).
 *
 * Thread safety: everything is thread-safe except where noted (a pool runs one call at a
 * time; kern_isa_set is for tests and benchmarks only). Each thread keeps its scratch
 * buffers, sized by the largest product it ran, until it exits: ~0.3 MB of packed weights
 * per worker, plus, in the thread calling kern_matmul in BF16/INT8 mode, X converted to
 * bf16/int8 (rows × n_in × 2 or × 1.1 bytes: 25 MB for 4096 × 3072). */
#ifndef EMBECODE_KERN_H
#define EMBECODE_KERN_H

#include "gguf.h"
#include "util.h"

/* Arithmetic used for the matrix products. F32 is the accurate default; BF16 and INT8 trade
 * accuracy for speed where the CPU supports them (they fall back to F32 where it does not:
 * BF16 needs AVX512-BF16, INT8 needs AVX512-VNNI). Products of up to 12 rows run in F32 in
 * every mode. On a realistic activation (heavy tails, outlier channels) each output row of
 * BF16/INT8 stays within cosine 0.999 of F32 (tests/unit/test_kern.c). */
typedef enum { KERN_MODE_F32 = 0, KERN_MODE_BF16, KERN_MODE_INT8 } kern_mode_t;

/* A fixed pool of worker threads (n_threads total, including the caller). Not re-entrant:
 * one kernel call at a time per pool, and a task must not call kern_pool_run (or
 * kern_matmul) on the pool running it. kern_pool_new(0) uses one thread per online CPU.
 * Idle workers spin for ~50 µs before sleeping, so back-to-back calls cost ~1 µs; the tasks
 * are handed out dynamically, so a worker that the OS has not scheduled delays nothing. */
typedef struct kern_pool kern_pool_t;
kern_pool_t *kern_pool_new(int n_threads);
void kern_pool_free(kern_pool_t *p); /* NULL-safe */
int kern_pool_threads(const kern_pool_t *p);
/* Runs fn(ctx, i, n) for i in [0, n) across the pool and waits. With p == NULL runs inline.
 * Each i runs exactly once, on any thread (the caller included). */
void kern_pool_run(kern_pool_t *p, void (*fn)(void *ctx, int i, int n), void *ctx, int n);

/* A weight matrix ready for kern_matmul. Built from GGUF tensor data of any gguf_dtype_t,
 * n_out rows of kern_row_bytes(type, n_in) bytes. The data is used in place for every type
 * (no copy, so mmapped pages are shared between processes); `data` must outlive the matrix.
 * Fails (NULL, err filled) on an unknown type or mode, empty or missing data, a Q8_0/Q4_0
 * row length that is not a multiple of 32, or a dimension above 2^24. */
typedef struct kern_mat kern_mat_t;
kern_mat_t *kern_mat_new(gguf_dtype_t type, const void *data, size_t n_out, size_t n_in,
                         kern_mode_t mode, err_t *err);
void kern_mat_free(kern_mat_t *m);         /* NULL-safe */
size_t kern_mat_rows(const kern_mat_t *m); /* n_out */
size_t kern_mat_cols(const kern_mat_t *m); /* n_in */

/* Y[r][o] = sum_i X[r][i] * W[o][i] + (bias ? bias[o] : 0), for r < rows, o < n_out.
 * X and Y must not overlap. Uses the pool when given (NULL: the calling thread alone).
 * Never fails. Results do not depend on the number of threads. */
void kern_matmul(kern_pool_t *pool, const kern_mat_t *W, const float *X, size_t rows,
                 const float *bias, float *Y);

/* Dot product of two float vectors of length n (SIMD where available). */
float kern_dot(const float *a, const float *b, size_t n);

/* Scaled dot-product attention for one sequence and one head, fused (the scores never
 * leave cache):
 *   out[i] = sum_j softmax_j(scale * (q[i] · k[j]) + mask[j]) * v[j]
 * for i < n_q, j < n_kv; q[i], k[j], v[j], out[i] are head_dim floats starting at
 * q + i*ldq, k + j*ldk, v + j*ldv, out + i*ldo (strides in floats, so heads can be read
 * straight out of a fused QKV activation). mask: n_kv additive terms (0, or -INFINITY for
 * padding) or NULL. Passing only the real tokens as n_kv is cheaper than masking padding.
 * A query whose keys are all masked (or n_kv == 0) gets zeros. out must not overlap the
 * inputs. Single-threaded and thread-safe: callers spread (sequence, head) pairs over a
 * pool. */
void kern_attention(size_t n_q, size_t n_kv, size_t head_dim, const float *q, size_t ldq,
                    const float *k, size_t ldk, const float *v, size_t ldv, const float *mask,
                    float scale, float *out, size_t ldo);

/* Converts n elements of a GGUF row of `type` to float32 (used for embedding lookups). */
void kern_row_to_f32(gguf_dtype_t type, const void *row, size_t n, float *out);
/* Bytes occupied by n elements of `type` (n must be a multiple of 32 for Q8_0/Q4_0). */
size_t kern_row_bytes(gguf_dtype_t type, size_t n);

/* Exact scalar conversions between float32 and the 16-bit formats. Widening is exact for
 * every bit pattern (subnormals, infinities; NaNs stay NaNs with their sign, made quiet).
 * Narrowing rounds to nearest, ties to even; values beyond the format's range become
 * infinities, NaNs stay quiet NaNs. */
float kern_f16_to_f32(uint16_t h);
uint16_t kern_f32_to_f16(float f);
float kern_bf16_to_f32(uint16_t h);
uint16_t kern_f32_to_bf16(float f);

/* Names the instruction sets dispatch chose, e.g. "avx512+bf16+vnni" (for logs/benchmarks). */
const char *kern_isa_name(void);

/* Instruction-set levels, lowest first. Dispatch picks the best the CPU supports (and, within
 * AVX512, uses BF16/VNNI instructions when present). */
typedef enum { KERN_ISA_SCALAR = 0, KERN_ISA_AVX2, KERN_ISA_AVX512 } kern_isa_t;
/* The best level this CPU (and build) supports. */
kern_isa_t kern_isa_best(void);
/* The level in use. */
kern_isa_t kern_isa_current(void);
/* For tests and benchmarks only: switches to a level <= kern_isa_best(). Returns 0, or -1
 * when the CPU lacks it. Must not run concurrently with any other kern_* call.
 * $EMBECODE_ISA (scalar|avx2|avx512) may likewise lower the level at startup; it can never
 * raise it, so speed does not depend on the environment. */
int kern_isa_set(kern_isa_t isa);

#endif
