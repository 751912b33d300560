/* bert.c — BERT-family encoders: loading from GGUF (first half), forward pass (second half). */
#include "bert.h"

#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* An embedding table read row by row (any GGUF type, via kern_row_to_f32). */
typedef struct {
    gguf_dtype_t type;
    const void *data; /* NULL when the (optional) table is absent */
    size_t rows, row_bytes;
} bert_table_t;

typedef struct {
    const float *w, *b;
} bert_norm_t;

/* One encoder block. bert: separate q/k/v with biases, GELU FFN (up, down) with biases.
 * nomic-bert: fused qkv, SwiGLU FFN (up, gate, down), no biases (NULL). */
typedef struct {
    kern_mat_t *q, *k, *v, *qkv, *o, *up, *gate, *down;
    const float *bq, *bk, *bv, *bo, *bup, *bdown;
    bert_norm_t ln1, ln2;
} bert_layer_t;

struct bert_model {
    bert_hparams_t hp;
    bert_table_t tok, pos, types;
    bert_norm_t ln_emb;
    bert_layer_t *layers;
    float *rope_cos, *rope_sin; /* [n_ctx][head_dim/2], nomic-bert only */
    void **owned;               /* buffers converted or copied at load, freed with the model */
    size_t n_owned;
};

/* ---- Loading ------------------------------------------------------------------------- */

/* Collects the first error while reading a model, so the loading code can ask for every
 * tensor in sequence and check once at the end. */
typedef struct {
    const gguf_t *g;
    bert_model_t *m;
    const char *file;
    kern_mode_t mode;
    err_t *err;
    bool failed;
} loader_t;

static int fail(loader_t *ld, const char *fmt, ...) EC_PRINTF(2, 3);
static int fail(loader_t *ld, const char *fmt, ...)
{
    if (ld->failed) return -1;
    ld->failed = true;
    char msg[sizeof ld->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(ld->err, "%s: %s", ld->file, msg);
}

static void *own(bert_model_t *m, size_t bytes)
{
    m->owned = xrealloc(m->owned, (m->n_owned + 1) * sizeof *m->owned);
    void *p = xmalloc(bytes ? bytes : 1);
    m->owned[m->n_owned++] = p;
    return p;
}

static uint32_t need_u32(loader_t *ld, const char *suffix)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", ld->m->hp.arch_name, suffix);
    uint32_t v = 0;
    if (gguf_get_u32(ld->g, key, &v) != 0) {
        fail(ld,
             "metadata key '%s' is missing or not an integer; the file is not a complete "
             "%s model",
             key, ld->m->hp.arch_name);
        return 0;
    }
    if (v == 0) fail(ld, "metadata key '%s' is 0; the file is corrupt", key);
    return v;
}

static const char *shape_str(char *buf, size_t size, const gguf_tensor_t *t)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (uint32_t i = 0; i < t->n_dims && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%llu", i ? ", " : "",
                              (unsigned long long)t->dims[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

/* The tensor `name` with shape {d0} (d1 == 0) or {d0, d1}; d1 == UINT64_MAX accepts any
 * second dimension (tables whose row count the metadata does not fix). NULL when it fails or
 * when optional and absent. */
static const gguf_tensor_t *tensor(loader_t *ld, const char *name, uint64_t d0, uint64_t d1,
                                   bool optional)
{
    if (ld->failed) return NULL;
    const gguf_tensor_t *t = gguf_find_tensor(ld->g, name);
    if (!t) {
        if (!optional)
            fail(ld,
                 "tensor '%s' is missing; the file is not a complete %s model (re-convert "
                 "or re-download it)",
                 name, ld->m->hp.arch_name);
        return NULL;
    }
    bool ok = d1 == 0
                  ? t->n_dims == 1 && t->dims[0] == d0
                  : t->n_dims == 2 && t->dims[0] == d0 && (d1 == UINT64_MAX || t->dims[1] == d1);
    if (!ok || t->n_elems == 0) {
        char have[96];
        if (d1 == 0)
            fail(ld,
                 "tensor '%s' has shape %s, expected [%llu] from the metadata; the file "
                 "is inconsistent",
                 name, shape_str(have, sizeof have, t), (unsigned long long)d0);
        else if (d1 == UINT64_MAX)
            fail(ld,
                 "tensor '%s' has shape %s, expected [%llu, n] from the metadata; the "
                 "file is inconsistent",
                 name, shape_str(have, sizeof have, t), (unsigned long long)d0);
        else
            fail(ld,
                 "tensor '%s' has shape %s, expected [%llu, %llu] from the metadata; the "
                 "file is inconsistent",
                 name, shape_str(have, sizeof have, t), (unsigned long long)d0,
                 (unsigned long long)d1);
        return NULL;
    }
    if ((t->type == GGUF_Q8_0 || t->type == GGUF_Q4_0) && t->dims[0] % 32 != 0) {
        fail(ld,
             "tensor '%s' is %s with rows of %llu elements, not a multiple of 32; the file "
             "is corrupt",
             name, gguf_dtype_name(t->type), (unsigned long long)t->dims[0]);
        return NULL;
    }
    return t;
}

/* A table (embeddings) read row by row with kern_row_to_f32: in place, unless its rows are
 * misaligned for their element type, in which case it is copied once. */
static bert_table_t table(loader_t *ld, const char *name, uint64_t d0, bool optional)
{
    bert_table_t tb = {0};
    const gguf_tensor_t *t = tensor(ld, name, d0, UINT64_MAX, optional);
    if (!t) return tb;
    tb.type = t->type;
    tb.row_bytes = kern_row_bytes(t->type, (size_t)d0);
    tb.rows = (size_t)t->dims[1];
    tb.data = t->data;
    size_t align = t->type == GGUF_F32 ? alignof(float) : alignof(uint16_t);
    if ((uintptr_t)t->data % align) {
        void *copy = own(ld->m, (size_t)t->nbytes);
        memcpy(copy, t->data, (size_t)t->nbytes);
        tb.data = copy;
    }
    return tb;
}

/* A 1-D parameter (bias, norm) as float32: in place when the file holds aligned F32. */
static const float *vec(loader_t *ld, const char *name, uint64_t n, bool optional)
{
    const gguf_tensor_t *t = tensor(ld, name, n, 0, optional);
    if (!t) return NULL;
    if (t->type == GGUF_F32 && (uintptr_t)t->data % alignof(float) == 0) return t->data;
    if ((t->type == GGUF_Q8_0 || t->type == GGUF_Q4_0) && n % 32 != 0) {
        fail(ld,
             "tensor '%s' is quantized with %llu elements (not a multiple of 32); the file "
             "is corrupt",
             name, (unsigned long long)n);
        return NULL;
    }
    float *f = own(ld->m, (size_t)n * sizeof *f);
    if (t->type == GGUF_F32)
        memcpy(f, t->data, (size_t)n * sizeof *f);
    else
        kern_row_to_f32(t->type, t->data, (size_t)n, f);
    return f;
}

/* A Linear weight [n_out, n_in] (GGUF dims {n_in, n_out}) prepared for kern_matmul. */
static kern_mat_t *mat(loader_t *ld, const char *name, uint64_t n_in, uint64_t n_out, bool optional)
{
    const gguf_tensor_t *t = tensor(ld, name, n_in, n_out, optional);
    if (!t) return NULL;
    const void *data = t->data;
    size_t align = t->type == GGUF_F32 ? alignof(float) : alignof(uint16_t);
    if ((uintptr_t)data % align) {
        void *copy = own(ld->m, (size_t)t->nbytes);
        memcpy(copy, data, (size_t)t->nbytes);
        data = copy;
    }
    err_t e;
    kern_mat_t *km = kern_mat_new(t->type, data, (size_t)n_out, (size_t)n_in, ld->mode, &e);
    if (!km) fail(ld, "tensor '%s': %s", name, e.msg);
    return km;
}

static void norm(loader_t *ld, bert_norm_t *n, const char *prefix, uint64_t d)
{
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    n->w = vec(ld, name, d, false);
    snprintf(name, sizeof name, "%s.bias", prefix);
    n->b = vec(ld, name, d, false);
}

static void load_layer(loader_t *ld, int i, bert_layer_t *L)
{
    const bert_hparams_t *hp = &ld->m->hp;
    uint64_t d = hp->n_embd, ff = hp->n_ff;
    bool bert = hp->arch == BERT_ARCH_BERT;
    char name[96];
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s, i), name)
    if (bert) {
        L->q = mat(ld, NAME("attn_q.weight"), d, d, false);
        L->bq = vec(ld, NAME("attn_q.bias"), d, false);
        L->k = mat(ld, NAME("attn_k.weight"), d, d, false);
        L->bk = vec(ld, NAME("attn_k.bias"), d, false);
        L->v = mat(ld, NAME("attn_v.weight"), d, d, false);
        L->bv = vec(ld, NAME("attn_v.bias"), d, false);
    } else {
        L->qkv = mat(ld, NAME("attn_qkv.weight"), d, 3 * d, false);
    }
    L->o = mat(ld, NAME("attn_output.weight"), d, d, false);
    L->bo = vec(ld, NAME("attn_output.bias"), d, !bert);
    norm(ld, &L->ln1, NAME("attn_output_norm"), d);
    L->up = mat(ld, NAME("ffn_up.weight"), d, ff, false);
    L->bup = vec(ld, NAME("ffn_up.bias"), ff, !bert);
    if (!bert) L->gate = mat(ld, NAME("ffn_gate.weight"), d, ff, false);
    L->down = mat(ld, NAME("ffn_down.weight"), ff, d, false);
    L->bdown = vec(ld, NAME("ffn_down.bias"), d, !bert);
    norm(ld, &L->ln2, NAME("layer_output_norm"), d);
#undef NAME
}

static int load_hparams(loader_t *ld)
{
    bert_hparams_t *hp = &ld->m->hp;
    const char *arch;
    size_t len;
    if (gguf_get_str(ld->g, "general.architecture", &arch, &len) != 0)
        return fail(ld, "metadata key 'general.architecture' is missing; this is not a model "
                        "file embecode can use");
    if (len == 4 && memcmp(arch, "bert", 4) == 0) {
        hp->arch = BERT_ARCH_BERT;
        hp->arch_name = "bert";
    } else if (len == 10 && memcmp(arch, "nomic-bert", 10) == 0) {
        hp->arch = BERT_ARCH_NOMIC_BERT;
        hp->arch_name = "nomic-bert";
    } else {
        return fail(ld,
                    "architecture '%.*s' is not supported; embecode runs embedding models "
                    "of the bert and nomic-bert architectures (e.g. nomic-embed-text-v1.5, "
                    "bge-small-en-v1.5, all-MiniLM-L6-v2)",
                    (int)EC_MIN(len, 64), arch);
    }
    hp->n_ctx = need_u32(ld, "context_length");
    hp->n_embd = need_u32(ld, "embedding_length");
    hp->n_layer = need_u32(ld, "block_count");
    hp->n_ff = need_u32(ld, "feed_forward_length");
    hp->n_head = need_u32(ld, "attention.head_count");
    if (ld->failed) return -1;

    char key[128];
    snprintf(key, sizeof key, "%s.attention.layer_norm_epsilon", hp->arch_name);
    if (gguf_get_f32(ld->g, key, &hp->eps) != 0) hp->eps = 1e-12f;
    if (!(hp->eps >= 0 && hp->eps < 1))
        return fail(ld, "metadata '%s' = %g is not a valid LayerNorm epsilon", key, hp->eps);

    snprintf(key, sizeof key, "%s.attention.causal", hp->arch_name);
    bool causal = false;
    if (gguf_get_bool(ld->g, key, &causal) == 0 && causal)
        return fail(ld,
                    "'%s' is true: this is a causal (decoder) model, not an embedding "
                    "encoder",
                    key);

    snprintf(key, sizeof key, "%s.pooling_type", hp->arch_name);
    uint32_t pool;
    if (gguf_get_u32(ld->g, key, &pool) != 0) {
        log_warn("%s: no '%s' in the file; using mean pooling", ld->file, key);
        pool = BERT_POOL_MEAN;
    }
    if (pool != BERT_POOL_MEAN && pool != BERT_POOL_CLS && pool != BERT_POOL_LAST)
        return fail(ld,
                    "'%s' is %u; embecode supports mean (1), CLS (2) and last-token (3) "
                    "pooling, as used by sentence-embedding models",
                    key, pool);
    hp->pooling = (bert_pool_t)pool;

    hp->rope_base = 10000.0f;
    if (hp->arch == BERT_ARCH_NOMIC_BERT) {
        snprintf(key, sizeof key, "%s.rope.freq_base", hp->arch_name);
        if (gguf_get_f32(ld->g, key, &hp->rope_base) != 0)
            log_warn("%s: no '%s' in the file; using 10000", ld->file, key);
        if (!(hp->rope_base > 1))
            return fail(ld, "metadata '%s' = %g is not a valid rotary base", key, hp->rope_base);
    }

    /* Bounds that keep every size computation far from overflow. */
    if (hp->n_embd > 16384 || hp->n_ff > 65536 || hp->n_layer > 256 || hp->n_ctx > 65536 ||
        hp->n_head > 1024)
        return fail(ld,
                    "implausible hyper-parameters (embedding_length %u, "
                    "feed_forward_length %u, block_count %u, context_length %u, head_count "
                    "%u); the file is corrupt",
                    hp->n_embd, hp->n_ff, hp->n_layer, hp->n_ctx, hp->n_head);
    if (hp->n_ctx < 2)
        return fail(ld,
                    "context_length %u leaves no room for [CLS] and [SEP]; the file is "
                    "corrupt",
                    hp->n_ctx);
    if (hp->n_embd % hp->n_head != 0)
        return fail(ld,
                    "embedding_length %u is not a multiple of head_count %u; the file is "
                    "corrupt",
                    hp->n_embd, hp->n_head);
    if (hp->arch == BERT_ARCH_NOMIC_BERT && (hp->n_embd / hp->n_head) % 2 != 0)
        return fail(ld,
                    "head size %u is odd, which rotary embeddings cannot use; the file is "
                    "corrupt",
                    hp->n_embd / hp->n_head);
    return 0;
}

/* cos/sin of pos * base^(-2i/hd) for pos < n_ctx, i < hd/2 (NEOX rotary), in double like
 * the reference implementation, then rounded to float. */
static void rope_tables(bert_model_t *m)
{
    const bert_hparams_t *hp = &m->hp;
    size_t half = hp->n_embd / hp->n_head / 2;
    m->rope_cos = own(m, (size_t)hp->n_ctx * half * sizeof(float));
    m->rope_sin = own(m, (size_t)hp->n_ctx * half * sizeof(float));
    for (size_t p = 0; p < hp->n_ctx; p++)
        for (size_t i = 0; i < half; i++) {
            double inv = pow((double)hp->rope_base, -2.0 * (double)i / (double)(2 * half));
            double a = (double)p * inv;
            m->rope_cos[p * half + i] = (float)cos(a);
            m->rope_sin[p * half + i] = (float)sin(a);
        }
}

bert_model_t *bert_model_load(const gguf_t *g, kern_mode_t mode, err_t *err)
{
    bert_model_t *m = xcalloc(1, sizeof *m);
    loader_t ld = {.g = g, .m = m, .file = gguf_name(g), .mode = mode, .err = err};
    if (load_hparams(&ld) != 0) goto fail;
    bert_hparams_t *hp = &m->hp;
    uint64_t d = hp->n_embd;

    m->tok = table(&ld, "token_embd.weight", d, false);
    m->types = table(&ld, "token_types.weight", d, true);
    if (hp->arch == BERT_ARCH_BERT) m->pos = table(&ld, "position_embd.weight", d, false);
    norm(&ld, &m->ln_emb, "token_embd_norm", d);
    if (ld.failed) goto fail;
    if (m->tok.rows > INT32_MAX) {
        fail(&ld, "tensor 'token_embd.weight' has %zu rows, more than token ids can address",
             m->tok.rows);
        goto fail;
    }
    hp->n_vocab = (uint32_t)m->tok.rows;
    if (hp->arch == BERT_ARCH_BERT && m->pos.rows < hp->n_ctx) {
        log_warn("%s: position_embd.weight has %zu rows, fewer than context_length %u; "
                 "sequences are limited to %zu tokens",
                 ld.file, m->pos.rows, hp->n_ctx, m->pos.rows);
        hp->n_ctx = (uint32_t)m->pos.rows;
    }

    m->layers = xcalloc(hp->n_layer, sizeof *m->layers);
    for (uint32_t i = 0; i < hp->n_layer && !ld.failed; i++)
        load_layer(&ld, (int)i, &m->layers[i]);
    if (ld.failed) goto fail;
    if (hp->arch == BERT_ARCH_NOMIC_BERT) rope_tables(m);
    return m;
fail:
    bert_model_free(m);
    return NULL;
}

void bert_model_free(bert_model_t *m)
{
    if (!m) return;
    for (uint32_t i = 0; m->layers && i < m->hp.n_layer; i++) {
        bert_layer_t *L = &m->layers[i];
        kern_mat_t *mats[] = {L->q, L->k, L->v, L->qkv, L->o, L->up, L->gate, L->down};
        for (size_t j = 0; j < ARRAY_LEN(mats); j++)
            kern_mat_free(mats[j]);
    }
    free(m->layers);
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    free(m);
}

const bert_hparams_t *bert_model_hparams(const bert_model_t *m)
{
    return &m->hp;
}

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
