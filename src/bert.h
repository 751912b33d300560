/* bert.h — BERT-family text encoders read from GGUF: the `bert` architecture (all-MiniLM,
 * bge: absolute positions, GELU, biases) and `nomic-bert` (nomic-embed-text, CodeRankEmbed:
 * rotary positions, SwiGLU, no biases). Loads the weights, runs the forward pass over a
 * padded batch of token ids, pools (mean, CLS or last token, as the file says) and
 * L2-normalises. Knows nothing about text: embed.c tokenizes.
 *
 * Semantics follow PyTorch/HF exactly (erf GELU, LayerNorm with the file's epsilon, NEOX
 * rotary over the whole head, attention scale 1/sqrt(head_dim)); see docs/embedding.md. */
#ifndef EMBECODE_BERT_H
#define EMBECODE_BERT_H

#include "gguf.h"
#include "kern.h"
#include "util.h"

typedef enum { BERT_ARCH_BERT = 0, BERT_ARCH_NOMIC_BERT } bert_arch_t;
/* GGUF `{arch}.pooling_type` numbering. */
typedef enum { BERT_POOL_MEAN = 1, BERT_POOL_CLS = 2, BERT_POOL_LAST = 3 } bert_pool_t;

typedef struct {
    bert_arch_t arch;
    const char *arch_name; /* "bert" or "nomic-bert" */
    uint32_t n_vocab;      /* rows of token_embd.weight */
    uint32_t n_ctx;        /* {arch}.context_length: longest sequence, incl. [CLS]/[SEP] */
    uint32_t n_embd;       /* output dimension */
    uint32_t n_layer, n_head, n_ff;
    float eps;       /* LayerNorm epsilon */
    float rope_base; /* nomic-bert only */
    bert_pool_t pooling;
} bert_hparams_t;

typedef struct bert_model bert_model_t;

/* Reads hyper-parameters and weights from g, which must stay open while the model lives:
 * weight matrices and embedding tables are used in place from the mapping (only misaligned
 * data and non-F32 norms/biases are copied). Matrices are prepared for kern_matmul in
 * `mode`. Fails with err naming the file and what is wrong:
 * unsupported architecture, missing or inconsistent metadata, a missing tensor or one whose
 * shape does not match the metadata. */
bert_model_t *bert_model_load(const gguf_t *g, kern_mode_t mode, err_t *err);
void bert_model_free(bert_model_t *m); /* NULL-safe */
const bert_hparams_t *bert_model_hparams(const bert_model_t *m);

/* Scratch space for forward passes: sized by the largest batch seen and reused, so memory
 * stays flat over any number of calls. One context serves one call at a time; the model
 * itself is read-only and may be shared by several contexts (each with its own pool). */
typedef struct bert_ctx bert_ctx_t;
/* pool may be NULL (single-threaded); it must outlive the context. */
bert_ctx_t *bert_ctx_new(const bert_model_t *m, kern_pool_t *pool);
void bert_ctx_free(bert_ctx_t *c); /* NULL-safe */
/* Bytes of scratch currently held (for memory accounting and tests). */
size_t bert_ctx_bytes(const bert_ctx_t *c);

/* Wall time spent per phase by all bert_encode calls on c so far (for benchmarks). */
typedef struct {
    double matmul_ms;    /* projections and FFN products */
    double attention_ms; /* scores, softmax, weighted sums (incl. rotary) */
    double other_ms;     /* embeddings, LayerNorms, activations, pooling */
} bert_profile_t;
bert_profile_t bert_ctx_profile(const bert_ctx_t *c);

/* Encodes n_seq sequences of token ids, right-padded to a common length T: sequence s is
 * ids[s*T .. s*T + lens[s]), each starting with [CLS] and ending with [SEP] as the model
 * expects (the caller adds them); what follows lens[s] is ignored. Writes n_seq pooled,
 * L2-normalised vectors of n_embd floats to out. A sequence's vector does not depend on
 * the other sequences in the batch or on T. Fails (with err) when T exceeds n_ctx, a
 * length is 0 or beyond T, or an id is outside the vocabulary. */
int bert_encode(bert_ctx_t *c, const int32_t *ids, const uint32_t *lens, size_t n_seq, size_t T,
                float *out, err_t *err);

#endif
