/* kern_impl.h — private interface between kern.c (dispatch, matrices, the scalar reference,
 * the blocked GEMM driver), the ISA-specific kernel files (kern_avx2.c, kern_avx512.c) and
 * kern_attn.c. Not for other modules.
 *
 * Each ISA file (x86-64 only) defines one kern_ops_t table, which kern.c selects at run
 * time; the SIMD tables share the blocked GEMM driver in kern.c. A build of the kernels
 * therefore links kern, kern_avx2, kern_avx512 and kern_attn together. */
#ifndef EMBECODE_KERN_IMPL_H
#define EMBECODE_KERN_IMPL_H

#include "kern.h"

struct kern_mat {
    gguf_dtype_t type;
    const void *data; /* caller's rows, used in place */
    size_t n_out, n_in;
    size_t row_bytes; /* bytes per row of data */
    kern_mode_t mode; /* as requested */
};

/* One matmul, as the ISA code sees it. */
typedef struct {
    const kern_mat_t *W;
    const float *X;
    size_t rows;
    const float *bias;
    float *Y;
    kern_pool_t *pool;
} kern_mm_t;

typedef struct {
    const char *name;
    /* Runs the whole product (splitting it across mm->pool itself). Mode fallbacks are the
     * table's business: a table without BF16/INT8 support computes in F32. */
    void (*matmul)(const kern_mm_t *mm);
    float (*dot)(const float *a, const float *b, size_t n);
    /* Converts n elements of a row (n a multiple of 32 for Q8_0/Q4_0). */
    void (*row_to_f32)(gguf_dtype_t type, const void *row, size_t n, float *out);
} kern_ops_t;

/* Per-thread scratch buffer, 64-byte aligned, grown as needed and freed when the thread
 * exits. `slot` < KERN_SCRATCH_SLOTS selects one of a few independent buffers. The contents
 * are not preserved across growth. */
enum { KERN_SCRATCH_SLOTS = 4 };
void *kern_scratch(int slot, size_t bytes);

/* Scalar reference row conversion (also used by SIMD code for tails). */
void kern_row_to_f32_scalar(gguf_dtype_t type, const void *row, size_t n, float *out);

/* Task split helpers: [*lo, *hi) is part i of n of the range [0, total), in units of `unit`
 * (the last part takes the remainder). */
static inline void kern_split(size_t total, size_t unit, int i, int n, size_t *lo, size_t *hi)
{
    size_t units = (total + unit - 1) / unit;
    size_t a = units * (size_t)i / (size_t)n, b = units * (size_t)(i + 1) / (size_t)n;
    *lo = EC_MIN(a * unit, total);
    *hi = EC_MIN(b * unit, total);
}

/* ---- Blocked GEMM driver (in kern.c), shared by the SIMD implementations ----
 *
 * The driver never copies a whole weight matrix: for each block of NC weight rows × KC
 * inputs it packs (converts and transposes) that block into per-thread scratch in the
 * microkernel's layout, then sweeps every row of X through it. The block is reused for all
 * rows, so packing costs one pass over W per product while the mmapped weights stay shared.
 *
 * X in the kernel's own format (f32 rows as given, bf16 pairs, or int8 with per-32 scales). */
typedef struct {
    const void *base;   /* element (r, k) of X in the kernel's format */
    size_t stride;      /* bytes between rows */
    const float *scale; /* int8: per-(row, 32-block) scales, `sstride` floats per row */
    size_t sstride;
} kern_a_t;

typedef struct {
    int mr, nr;    /* microkernel tile: rows of X × weight rows (columns of Y) */
    int kalign;    /* K is padded to a multiple of this (1, 2 or 32); KC is a multiple */
    size_t kc, nc; /* cache blocks: inputs per packed block, weight rows per packed block */
    /* Bytes of one packed panel of kc inputs (kc a multiple of kalign) × nr weight rows. */
    size_t (*panel_bytes)(size_t kc);
    /* Packs weight rows [j0, j0+nj) (nj <= nr; missing rows are zero) over inputs
     * [k0, k0+kc) (inputs >= n_in are zero) into panel. */
    void (*pack)(const kern_mat_t *W, size_t j0, size_t nj, size_t k0, size_t kc, void *panel);
    /* Bytes of one prepared X row for n_in inputs (0: X is used as it is). */
    size_t (*a_row_bytes)(size_t n_in);
    /* Converts X rows [r0, r1) into the prepared form: row r at base + r * stride; int8
     * also writes its per-32-block scales at scale + r * sstride. */
    void (*prep_a)(const float *X, size_t n_in, size_t r0, size_t r1, void *base, size_t stride,
                   float *scale, size_t sstride);
    /* C[r][c] for r < mr_eff, c < nr: C = init[c] + A·panel when init != NULL, else
     * C += A·panel; A rows start at row r0, input k0 (k0 a multiple of kalign). */
    void (*ukr)(size_t kc, const kern_a_t *a, size_t r0, size_t k0, const void *panel, float *C,
                size_t ldc, int mr_eff, const float *init);
} kern_gemm_t;

/* Runs mm with kernels kk across mm->pool. */
void kern_gemm_run(const kern_mm_t *mm, const kern_gemm_t *kk);

/* Building blocks the attention kernels (kern_attn.c) share with the GEMM code. Only call
 * them when the CPU has the ISA. */
/* AVX-512: P[k * nr + c] = rows[c][k] for k < kcount, c < nr, of 32-bit elements (16×16
 * register transposes); rows[c] == NULL and k >= n give zeros. nr is a multiple of 16. */
void kern_avx512_transpose_pack(const uint32_t *const *rows, size_t n, size_t kcount, int nr,
                                uint32_t *P);
/* AVX2: C (mr <= 6 rows × 16 columns, row stride ldc) = init + A·B, where A has mr rows of kc
 * (stride lda) and B kc rows of 16 (stride ldb); init (16 values) must not be NULL. */
void kern_avx2_tile(int mr, size_t kc, const float *a, size_t lda, const float *b, size_t ldb,
                    float *C, size_t ldc, const float *init);

extern const kern_ops_t kern_ops_avx2;
extern const kern_ops_t kern_ops_avx512;

#endif
