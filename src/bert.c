/* bert.c — the forward pass of BERT-family encoders (bert.h: bert_ctx_*, bert_encode): SIMD
 * element-wise kernels, then the layer loop. Loading is in bert_load.c. */
#include "bert_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Element-wise kernels ----------------------------------------------------------- */

/* Written once with GCC/Clang vector extensions (16 floats) and compiled for AVX-512, AVX2
 * and baseline x86-64 by target_clones (the loader picks one per CPU), so the activations,
 * softmax and LayerNorm run at SIMD speed without ISA-specific code. Helpers take pointers:
 * passing 64-byte vectors by value would depend on the ISA's calling convention. Every
 * element goes through the same vector path (tails are padded), so a value never depends on
 * where it sits in a buffer: a sequence gets the same result alone or in a batch. */
#if defined(__x86_64__)
#define VEC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VEC_CLONES
#endif
#define VEC_INLINE static inline __attribute__((always_inline))

enum { VLEN = 16 };
typedef float vf_t __attribute__((vector_size(64)));
typedef int32_t vi_t __attribute__((vector_size(64)));
#define VF(c) ((vf_t){c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c})
#define VSEL(m, a, b) ((vf_t)(((m) & (vi_t)(a)) | (~(m) & (vi_t)(b))))
static const vi_t lane_index = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Loads n <= VLEN floats, the other lanes set to fill. */
VEC_INLINE void vload(vf_t *v, const float *p, size_t n, float fill)
{
    if (n == VLEN) {
        memcpy(v, p, sizeof *v);
        return;
    }
    *v = VF(fill);
    memcpy(v, p, n * sizeof(float));
}

VEC_INLINE void vstore(float *p, const vf_t *v, size_t n)
{
    memcpy(p, v, n * sizeof(float));
}

/* Lanes >= n of *v set to 0. */
VEC_INLINE void vmask(vf_t *v, size_t n)
{
    vi_t keep = lane_index < (vi_t){0} + (int32_t)n;
    *v = (vf_t)(keep & (vi_t)*v);
}

VEC_INLINE float vsum(const vf_t *v)
{
    float a[VLEN];
    memcpy(a, v, sizeof a);
    for (int w = VLEN / 2; w > 0; w /= 2)
        for (int i = 0; i < w; i++)
            a[i] += a[i + w];
    return a[0];
}

/* e^x, relative error < 1e-7 for x in [-80, 88] (Cephes expf: x = n ln2 + r, polynomial in r,
 * 2^n through the exponent bits); clamped so it never overflows. */
VEC_INLINE void vexp(vf_t *px)
{
    vf_t x = *px;
    x = VSEL(x > VF(88.3f), VF(88.3f), x);
    x = VSEL(x < VF(-87.3f), VF(-87.3f), x);
    vf_t t = x * VF(1.44269504088896341f) + VF(12582912.0f); /* round(x / ln2) + 1.5 * 2^23 */
    vf_t n = t - VF(12582912.0f);
    vf_t r = x - n * VF(0.693359375f) - n * VF(-2.12194440e-4f);
    vf_t p = VF(1.9875691500e-4f);
    p = p * r + VF(1.3981999507e-3f);
    p = p * r + VF(8.3334519073e-3f);
    p = p * r + VF(4.1665795894e-2f);
    p = p * r + VF(1.6666665459e-1f);
    p = p * r + VF(5.0000001201e-1f);
    p = p * r * r + r + VF(1.0f);
    vi_t e = ((vi_t)t - 0x4B400000 + 127) << 23;
    *px = p * (vf_t)e;
}

/* GELU(x) = x/2 (1 + erf(x / sqrt 2)), the exact (erf) form of PyTorch and HF BERT. erfc(|z|)
 * by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7); 1 + erf(z) is 2 - erfc(|z|) for
 * z >= 0 and erfc(|z|) below, which keeps the negative tail accurate. */
VEC_INLINE void vgelu(vf_t *px)
{
    vf_t x = *px, z = x * VF(0.70710678118654752f);
    vf_t az = (vf_t)((vi_t)z & 0x7fffffff);
    vf_t t = VF(1.0f) / (VF(1.0f) + VF(0.3275911f) * az);
    vf_t p = VF(1.061405429f);
    p = p * t + VF(-1.453152027f);
    p = p * t + VF(1.421413741f);
    p = p * t + VF(-0.284496739f);
    p = p * t + VF(0.254829592f);
    vf_t e = -az * az;
    vexp(&e);
    vf_t q = p * t * e;
    *px = VF(0.5f) * x * VSEL(x >= VF(0.0f), VF(2.0f) - q, q);
}

VEC_CLONES static void vec_gelu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i += VLEN) {
        size_t k = EC_MIN((size_t)VLEN, n - i);
        vf_t v;
        vload(&v, x + i, k, 0);
        vgelu(&v);
        vstore(x + i, &v, k);
    }
}

/* u = SiLU(g) * u = g / (1 + e^-g) * u. */
VEC_CLONES static void vec_silu_mul(float *u, const float *g, size_t n)
{
    for (size_t i = 0; i < n; i += VLEN) {
        size_t k = EC_MIN((size_t)VLEN, n - i);
        vf_t vu, vg, e;
        vload(&vu, u + i, k, 0);
        vload(&vg, g + i, k, 0);
        e = -vg;
        vexp(&e);
        vu = vg / (VF(1.0f) + e) * vu;
        vstore(u + i, &vu, k);
    }
}

/* Rotates the pairs (a[e], a[half + e]) by the angles whose cosines and sines are cs[e],
 * sn[e], for e < half. */
VEC_CLONES static void vec_rotate(float *a, size_t half, const float *cs, const float *sn)
{
    float *b = a + half;
    for (size_t i = 0; i < half; i += VLEN) {
        size_t k = EC_MIN((size_t)VLEN, half - i);
        vf_t x1, x2, c, s;
        vload(&x1, a + i, k, 0);
        vload(&x2, b + i, k, 0);
        vload(&c, cs + i, k, 0);
        vload(&s, sn + i, k, 0);
        vf_t y1 = x1 * c - x2 * s, y2 = x2 * c + x1 * s;
        vstore(a + i, &y1, k);
        vstore(b + i, &y2, k);
    }
}

/* x = LayerNorm(x + y) (y may be NULL) with weight w, bias b: mean and variance over d,
 * variance from the centred values as PyTorch does. */
VEC_CLONES static void vec_add_layer_norm(float *x, const float *y, size_t d, const float *w,
                                          const float *b, float eps)
{
    vf_t acc = VF(0.0f), v, u;
    for (size_t i = 0; i < d; i += VLEN) {
        size_t k = EC_MIN((size_t)VLEN, d - i);
        vload(&v, x + i, k, 0);
        if (y) {
            vload(&u, y + i, k, 0);
            v += u;
            vstore(x + i, &v, k);
        }
        acc += v;
    }
    float mean = vsum(&acc) / (float)d;
    acc = VF(0.0f);
    for (size_t i = 0; i < d; i += VLEN) {
        size_t k = EC_MIN((size_t)VLEN, d - i);
        vload(&v, x + i, k, 0);
        v -= VF(mean);
        vmask(&v, k);
        acc += v * v;
    }
    float inv = 1.0f / sqrtf(vsum(&acc) / (float)d + eps);
    for (size_t i = 0; i < d; i += VLEN) {
        size_t k = EC_MIN((size_t)VLEN, d - i);
        vf_t vw, vb;
        vload(&v, x + i, k, 0);
        vload(&vw, w + i, k, 0);
        vload(&vb, b + i, k, 0);
        v = (v - VF(mean)) * VF(inv) * vw + vb;
        vstore(x + i, &v, k);
    }
}

/* ---- Forward pass -------------------------------------------------------------------- */

struct bert_ctx {
    const bert_model_t *m;
    kern_pool_t *pool;
    int n_workers;
    size_t cap_rows;
    /* Activations for cap_rows token rows: x (D), qkv (3D), attn (D), tmp (D), ff (F) and
     * gate (F, nomic-bert only). */
    float *x, *qkv, *attn, *tmp, *ff, *gate;
    float *type0; /* token_types row 0 as float (or zeros) */
    double *acc;  /* pooling accumulator [D] */
    size_t bytes;
    bert_profile_t prof;
};

/* One forward pass, as the pool tasks see it. */
typedef struct {
    bert_ctx_t *c;
    const int32_t *ids;
    const uint32_t *lens;
    size_t n_seq, T, rows;
    const bert_layer_t *L;
    const float *q, *k, *v; /* per-row stride `qkv_stride` floats */
    size_t qkv_stride;
} fwd_t;

bert_ctx_t *bert_ctx_new(const bert_model_t *m, kern_pool_t *pool)
{
    bert_ctx_t *c = xcalloc(1, sizeof *c);
    c->m = m;
    c->pool = pool;
    c->n_workers = pool ? kern_pool_threads(pool) : 1;
    size_t d = m->hp.n_embd;
    c->type0 = xcalloc(d, sizeof *c->type0);
    if (m->types.data) kern_row_to_f32(m->types.type, m->types.data, d, c->type0);
    c->acc = xcalloc(d, sizeof *c->acc);
    c->bytes = d * (sizeof *c->type0 + sizeof *c->acc);
    return c;
}

static void ctx_release(bert_ctx_t *c)
{
    free(c->x);
    free(c->qkv);
    free(c->attn);
    free(c->tmp);
    free(c->ff);
    free(c->gate);
    c->x = c->qkv = c->attn = c->tmp = c->ff = c->gate = NULL;
    c->cap_rows = 0;
}

void bert_ctx_free(bert_ctx_t *c)
{
    if (!c) return;
    ctx_release(c);
    free(c->type0);
    free(c->acc);
    free(c);
}

size_t bert_ctx_bytes(const bert_ctx_t *c)
{
    return c->bytes;
}

bert_profile_t bert_ctx_profile(const bert_ctx_t *c)
{
    return c->prof;
}

/* Adds the time since *t to *acc and restarts *t. */
static void lap(double *t, double *acc)
{
    double now = time_mono_ms();
    *acc += now - *t;
    *t = now;
}

/* Grows the scratch to hold `rows` token rows. Buffers only grow, in powers of two, so a
 * stream of batches of varying size reallocates only a few times. */
static void ctx_reserve(bert_ctx_t *c, size_t rows)
{
    const bert_hparams_t *hp = &c->m->hp;
    size_t d = hp->n_embd, f = hp->n_ff;
    if (rows <= c->cap_rows) return;
    size_t r2 = 64;
    while (r2 < rows)
        r2 *= 2;
    rows = r2;
    ctx_release(c);
    bool gated = hp->arch == BERT_ARCH_NOMIC_BERT;
    c->x = xmalloc(rows * d * sizeof(float));
    c->qkv = xmalloc(rows * 3 * d * sizeof(float));
    c->attn = xmalloc(rows * d * sizeof(float));
    c->tmp = xmalloc(rows * d * sizeof(float));
    c->ff = xmalloc(rows * f * sizeof(float));
    c->gate = gated ? xmalloc(rows * f * sizeof(float)) : NULL;
    c->cap_rows = rows;
    c->bytes = d * (sizeof *c->type0 + sizeof *c->acc) +
               sizeof(float) * rows * (6 * d + (gated ? 2 : 1) * f);
}

/* Rows [lo, hi) of part i of n. */
static void split(size_t total, int i, int n, size_t *lo, size_t *hi)
{
    *lo = total * (size_t)i / (size_t)n;
    *hi = total * (size_t)(i + 1) / (size_t)n;
}

static void task_embed(void *arg, int i, int n)
{
    fwd_t *f = arg;
    const bert_model_t *m = f->c->m;
    size_t d = m->hp.n_embd, lo, hi;
    split(f->rows, i, n, &lo, &hi);
    for (size_t r = lo; r < hi; r++) {
        size_t s = r / f->T, t = r % f->T;
        int32_t id = t < f->lens[s] ? f->ids[r] : 0; /* padding rows: any valid id */
        float *x = f->c->x + r * d, *pos = f->c->tmp + r * d;
        kern_row_to_f32(m->tok.type, (const char *)m->tok.data + (size_t)id * m->tok.row_bytes, d,
                        x);
        if (m->pos.data) {
            kern_row_to_f32(m->pos.type, (const char *)m->pos.data + t * m->pos.row_bytes, d, pos);
            for (size_t e = 0; e < d; e++)
                pos[e] += f->c->type0[e];
        } else {
            memcpy(pos, f->c->type0, d * sizeof *pos);
        }
        vec_add_layer_norm(x, pos, d, m->ln_emb.w, m->ln_emb.b, m->hp.eps);
    }
}

/* NEOX rotary embedding on q and k of every head: element e pairs with e + hd/2. */
static void task_rope(void *arg, int i, int n)
{
    fwd_t *f = arg;
    const bert_model_t *m = f->c->m;
    size_t d = m->hp.n_embd, hd = d / m->hp.n_head, half = hd / 2, lo, hi;
    split(f->rows, i, n, &lo, &hi);
    for (size_t r = lo; r < hi; r++) {
        size_t t = r % f->T;
        const float *cs = m->rope_cos + t * half, *sn = m->rope_sin + t * half;
        float *row = f->c->qkv + r * f->qkv_stride;
        for (size_t part = 0; part < 2; part++) /* q at 0, k at d */
            for (size_t h = 0; h < m->hp.n_head; h++)
                vec_rotate(row + part * d + h * hd, half, cs, sn);
    }
}

/* Self-attention of one head of one sequence over its real tokens only (padding is never
 * read, so the result does not depend on the batch), written to the head's columns of attn;
 * padding rows get zeros. */
static void attend(fwd_t *f, size_t s, size_t h)
{
    const bert_hparams_t *hp = &f->c->m->hp;
    size_t d = hp->n_embd, hd = d / hp->n_head, len = f->lens[s], T = f->T;
    size_t st = f->qkv_stride, r0 = s * T, col = h * hd;
    float *out = f->c->attn + r0 * d + col;
    kern_attention(len, len, hd, f->q + r0 * st + col, st, f->k + r0 * st + col, st,
                   f->v + r0 * st + col, st, NULL, 1.0f / sqrtf((float)hd), out, d);
    for (size_t i = len; i < T; i++)
        memset(out + i * d, 0, hd * sizeof(float));
}

/* Task p of n runs the (sequence, head) pair p: kern_attention is single-threaded. */
static void task_attention(void *arg, int p, int n)
{
    (void)n;
    fwd_t *f = arg;
    size_t heads = f->c->m->hp.n_head;
    attend(f, (size_t)p / heads, (size_t)p % heads);
}

/* x = LayerNorm(x + tmp) for this task's rows, with norm nm. */
static void add_norm(fwd_t *f, int i, int n, const bert_norm_t *nm)
{
    const bert_hparams_t *hp = &f->c->m->hp;
    size_t d = hp->n_embd, lo, hi;
    split(f->rows, i, n, &lo, &hi);
    for (size_t r = lo; r < hi; r++)
        vec_add_layer_norm(f->c->x + r * d, f->c->tmp + r * d, d, nm->w, nm->b, hp->eps);
}

static void task_add_norm1(void *arg, int i, int n)
{
    fwd_t *f = arg;
    add_norm(f, i, n, &f->L->ln1);
}

static void task_add_norm2(void *arg, int i, int n)
{
    fwd_t *f = arg;
    add_norm(f, i, n, &f->L->ln2);
}

/* bert FFN activation: exact (erf) GELU, as PyTorch's default and HF BERT. */
static void task_gelu(void *arg, int i, int n)
{
    fwd_t *f = arg;
    size_t lo, hi, nf = f->c->m->hp.n_ff;
    split(f->rows, i, n, &lo, &hi);
    vec_gelu(f->c->ff + lo * nf, (hi - lo) * nf);
}

/* nomic-bert FFN activation: SiLU(gate) * up. */
static void task_swiglu(void *arg, int i, int n)
{
    fwd_t *f = arg;
    size_t lo, hi, nf = f->c->m->hp.n_ff;
    split(f->rows, i, n, &lo, &hi);
    vec_silu_mul(f->c->ff + lo * nf, f->c->gate + lo * nf, (hi - lo) * nf);
}

static void run_layer(fwd_t *f, const bert_layer_t *L)
{
    bert_ctx_t *c = f->c;
    kern_pool_t *pool = c->pool;
    const bert_hparams_t *hp = &c->m->hp;
    bert_profile_t *pr = &c->prof;
    size_t d = hp->n_embd, rows = f->rows;
    int nt = c->n_workers;
    double t = time_mono_ms();
    f->L = L;
    if (hp->arch == BERT_ARCH_BERT) {
        kern_matmul(pool, L->q, c->x, rows, L->bq, c->qkv);
        kern_matmul(pool, L->k, c->x, rows, L->bk, c->qkv + rows * d);
        kern_matmul(pool, L->v, c->x, rows, L->bv, c->qkv + 2 * rows * d);
        f->q = c->qkv;
        f->k = c->qkv + rows * d;
        f->v = c->qkv + 2 * rows * d;
        f->qkv_stride = d;
        lap(&t, &pr->matmul_ms);
    } else {
        kern_matmul(pool, L->qkv, c->x, rows, NULL, c->qkv);
        f->q = c->qkv;
        f->k = c->qkv + d;
        f->v = c->qkv + 2 * d;
        f->qkv_stride = 3 * d;
        lap(&t, &pr->matmul_ms);
        kern_pool_run(pool, task_rope, f, nt);
    }
    kern_pool_run(pool, task_attention, f, (int)(f->n_seq * hp->n_head));
    lap(&t, &pr->attention_ms);
    kern_matmul(pool, L->o, c->attn, rows, L->bo, c->tmp);
    lap(&t, &pr->matmul_ms);
    kern_pool_run(pool, task_add_norm1, f, nt);
    lap(&t, &pr->other_ms);

    kern_matmul(pool, L->up, c->x, rows, L->bup, c->ff);
    if (L->gate) kern_matmul(pool, L->gate, c->x, rows, NULL, c->gate);
    lap(&t, &pr->matmul_ms);
    kern_pool_run(pool, L->gate ? task_swiglu : task_gelu, f, nt);
    lap(&t, &pr->other_ms);
    kern_matmul(pool, L->down, c->ff, rows, L->bdown, c->tmp);
    lap(&t, &pr->matmul_ms);
    kern_pool_run(pool, task_add_norm2, f, nt);
    lap(&t, &pr->other_ms);
}

static void pool_and_normalise(bert_ctx_t *c, const fwd_t *f, float *out)
{
    const bert_hparams_t *hp = &c->m->hp;
    size_t d = hp->n_embd;
    for (size_t s = 0; s < f->n_seq; s++) {
        size_t len = f->lens[s], r0 = s * f->T, first = 0, last = len;
        if (hp->pooling == BERT_POOL_CLS) last = 1;
        if (hp->pooling == BERT_POOL_LAST) first = len - 1;
        for (size_t e = 0; e < d; e++)
            c->acc[e] = 0;
        for (size_t t = first; t < last; t++) {
            const float *x = c->x + (r0 + t) * d;
            for (size_t e = 0; e < d; e++)
                c->acc[e] += x[e];
        }
        double norm = 0, inv_n = 1.0 / (double)(last - first);
        for (size_t e = 0; e < d; e++) {
            c->acc[e] *= inv_n;
            norm += c->acc[e] * c->acc[e];
        }
        norm = norm > 0 ? 1.0 / sqrt(norm) : 0;
        for (size_t e = 0; e < d; e++)
            out[s * d + e] = (float)(c->acc[e] * norm);
    }
}

int bert_encode(bert_ctx_t *c, const int32_t *ids, const uint32_t *lens, size_t n_seq, size_t T,
                float *out, err_t *err)
{
    const bert_hparams_t *hp = &c->m->hp;
    if (n_seq == 0) return 0;
    if (T == 0 || T > hp->n_ctx)
        return err_set(err,
                       "bert: batch of sequences %zu tokens long, but the model's context "
                       "is %u tokens (internal error: inputs must be truncated)",
                       T, hp->n_ctx);
    if (n_seq > ((size_t)1 << 30) / T)
        return err_set(err, "bert: batch of %zu sequences of %zu tokens is too large", n_seq, T);
    for (size_t s = 0; s < n_seq; s++) {
        if (lens[s] == 0 || lens[s] > T)
            return err_set(err,
                           "bert: sequence %zu has length %u, outside [1, %zu] (internal "
                           "error)",
                           s, lens[s], T);
        for (size_t t = 0; t < lens[s]; t++) {
            int32_t id = ids[s * T + t];
            if (id < 0 || (uint32_t)id >= hp->n_vocab)
                return err_set(err,
                               "bert: token id %d at position %zu of sequence %zu is "
                               "outside the vocabulary of %u tokens; the tokenizer and the "
                               "model do not match",
                               (int)id, t, s, hp->n_vocab);
        }
    }
    ctx_reserve(c, n_seq * T);
    fwd_t f = {.c = c, .ids = ids, .lens = lens, .n_seq = n_seq, .T = T, .rows = n_seq * T};
    double t = time_mono_ms();
    kern_pool_run(c->pool, task_embed, &f, c->n_workers);
    lap(&t, &c->prof.other_ms);
    for (uint32_t l = 0; l < hp->n_layer; l++)
        run_layer(&f, &c->m->layers[l]);
    t = time_mono_ms();
    pool_and_normalise(c, &f, out);
    lap(&t, &c->prof.other_ms);
    return 0;
}
