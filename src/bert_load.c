/* bert_load.c — reads a `bert` / `nomic-bert` model's hyper-parameters and weights from GGUF
 * (bert.h: bert_model_load). The forward pass is in bert.c. */
#include "bert_int.h"

#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

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
