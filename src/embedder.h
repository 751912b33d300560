/* embedder.h — the embedding engine a project is configured with, behind one interface:
 * the local GGUF engine (embed.h) or a remote OpenAI-compatible / Ollama server (remote.h).
 *
 * The vector space is identified by embedder_key(): vectors made under one key are never
 * compared with another's. Local models: "<general.name>" of the GGUF file (or its
 * basename); remote: "<provider>:<model>". An embedder is used by one thread at a time. */
#ifndef EMBECODE_EMBEDDER_H
#define EMBECODE_EMBEDDER_H

#include "config.h"
#include "util.h"

typedef struct embedder embedder_t;

/* Opens the configured engine. Local: resolves embeddings.model (preset name, .gguf path or
 * URL), downloading it first when allow_download, then loads it. Returns NULL with err
 * saying what is missing and how to get it (e.g. "run `embecode model pull`"). */
embedder_t *embedder_open(const config_t *c, bool allow_download, err_t *err);
void embedder_free(embedder_t *e); /* NULL-safe */

const char *embedder_key(const embedder_t *e);
/* Vector width; a remote engine learns it from its first answer (0 before). */
int embedder_dim(const embedder_t *e);

/* Embeds texts (queries or documents: the model's prompt is applied) into out[n * dim],
 * L2-normalised. For a remote engine whose dim is still 0, out may be NULL: call with
 * n = 1 first, then embedder_dim(). Returns 0 or -1 with err. */
int embedder_embed(embedder_t *e, const char *const *texts, size_t n, bool is_query, float *out,
                   err_t *err);

/* The text embedded for a chunk (DESIGN §2): a small header then the content. malloc'd. */
char *embedder_document_text(const char *path, const char *language, const char *definitions,
                             const char *content, size_t content_len);

#endif
