/* embed.h — the embedding engine's public API: text in, L2-normalised vectors out, from a
 * BERT-family GGUF model (bert, nomic-bert) run on the CPU. Knows nothing about search.
 *
 * An embed_model_t owns the mapped file, the tokenizer, the prepared weights, a thread pool
 * and scratch memory sized by the largest batch so far (reused across calls, so memory stays
 * flat however many texts go through). Calls on one model are serialised by an internal
 * lock: several threads may share a model, but they take turns; open one model per thread
 * for parallel embedding. */
#ifndef EMBECODE_EMBED_H
#define EMBECODE_EMBED_H

#include "kern.h"
#include "util.h"

typedef struct embed_model embed_model_t;

typedef struct {
    int n_threads;    /* worker threads incl. the caller; 0 = one per online CPU */
    kern_mode_t mode; /* arithmetic of the matrix products (KERN_MODE_F32 is exact) */
    /* Text prepended to queries / documents before tokenizing. NULL = the model's default
     * (chosen by model name, see embed_prompts_for_name); "" = none. Copied at open. */
    const char *query_prompt, *document_prompt;
} embed_opts_t;

/* Opens a GGUF embedding model (opts may be NULL for the defaults). Fails with err saying
 * what is wrong with which file and what to do: unreadable or corrupt file, unsupported
 * architecture or tensor type, missing tensors, shapes that do not match the metadata, a
 * tokenizer that is not WordPiece. The file is mmapped and used in place where possible. */
embed_model_t *embed_model_open(const char *gguf_path, const embed_opts_t *opts, err_t *err);
void embed_model_free(embed_model_t *m); /* NULL-safe */

int embed_dim(const embed_model_t *m);
/* Longest input in tokens, incl. [CLS]/[SEP]; longer texts are truncated (their first tokens
 * are kept). */
int embed_context_length(const embed_model_t *m);
/* general.name, or the file's basename without .gguf when the file has none. */
const char *embed_model_name(const embed_model_t *m);
/* The prompts in effect ("" when none). Valid while m lives. */
const char *embed_query_prompt(const embed_model_t *m);
const char *embed_document_prompt(const embed_model_t *m);

/* The prompts a model was trained with, by model name (case-insensitive; matched on the name
 * or a basename such as "nomic-embed-text-v1.5.Q8_0"):
 *   nomic-embed-text*   query "search_query: ", document "search_document: "
 *   coderankembed*      query "Represent this query for searching relevant code: "
 *   bge-*-en-v1.5*      query "Represent this sentence for searching relevant passages: "
 *   anything else (all-MiniLM-L6-v2, ...)   none.
 * Sets static strings ("" for none). */
void embed_prompts_for_name(const char *name, const char **query, const char **document);

/* Embeds n texts (UTF-8; queries when is_query, else documents; the prompt is prepended)
 * into out[n * dim], each vector L2-normalised (an all-zero vector stays zero). Texts are
 * sorted by token count and run in batches of similar length, so padding is small; the
 * output order is the input order, and a text's vector does not depend on the others in the
 * call. Returns 0, or -1 with err (only on internal limits: bad input text is tokenized as
 * well as it can be, invalid UTF-8 included). */
int embed_texts(embed_model_t *m, const char *const *texts, size_t n, bool is_query, float *out,
                err_t *err);

/* The token ids the model sees for text, incl. [CLS]/[SEP] and the prompt, after truncation
 * to the context (for `embecode embed --tokens` and tests). *ids is malloc'd (caller frees). */
int embed_tokenize(embed_model_t *m, const char *text, bool is_query, int32_t **ids, size_t *n,
                   err_t *err);

#endif
