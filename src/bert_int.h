/* bert_int.h — the loaded model's layout, shared by the loader (bert_load.c) and the forward
 * pass (bert.c). Internal to those two files. A model is read-only once loaded. */
#ifndef EMBECODE_BERT_INT_H
#define EMBECODE_BERT_INT_H

#include "bert.h"

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

#endif
