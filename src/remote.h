/* remote.h — embeddings from a server the user already runs (embeddings.provider):
 *   "openai": POST <url>/v1/embeddings {"model", "input": [...]}, answer
 *             {"data": [{"index", "embedding": [...]}, ...]} — OpenAI, LM Studio, llama.cpp
 *             server, vLLM, Hugging Face TEI and other OpenAI-compatible servers;
 *   "ollama": POST <url>/api/embed {"model", "input": [...]}, answer {"embeddings": [[...]]}.
 * Texts go in batches; connection errors, timeouts, 429 and 5xx answers are retried with
 * exponential backoff and jitter (a Retry-After of some seconds is honoured, up to 30 s);
 * other 4xx answers fail at once with the server's own message. Vectors come back
 * L2-normalised. The API key is read from the environment variable that
 * embeddings.api_key_env names, sent as "Authorization: Bearer <key>", and never logged or
 * put in an error message. libcurl honours the proxy environment variables.
 *
 * A remote_embedder_t keeps one connection open; calls on it are serialised by an internal
 * lock, so several threads may share it (taking turns). */
#ifndef EMBECODE_REMOTE_H
#define EMBECODE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef struct remote_embedder remote_embedder_t;

/* Zero-initialise, then set what you need: zeros mean the defaults. */
typedef struct {
    const char *provider;    /* "openai" | "ollama" (case-insensitive) */
    const char *url;         /* base URL, e.g. http://localhost:11434 or https://api.openai.com
                                (a trailing /v1, /v1/embeddings or /api/embed is fine);
                                NULL = https://api.openai.com for openai,
                                http://localhost:11434 for ollama */
    const char *model;       /* the server's model name; required */
    const char *api_key_env; /* NAME of the environment variable holding the key; NULL = none */
    int batch_size;          /* texts per request; 0 = 64 */
    int max_retries;         /* retries after the first try; 0 = 4, negative = none */
    long timeout_s;          /* per request; 0 = 60 */
    int backoff_ms;          /* first retry delay, doubled each time up to 8 s; 0 = 500 */
    /* Text put before queries / documents (the server does not add the model's prefixes);
     * NULL or "" = none. The caller picks them, e.g. with embed_prompts_for_name(). */
    const char *query_prompt, *document_prompt;
} remote_opts_t;

/* Checks the options and reads the key; makes no request. Fails with err naming what is wrong:
 * unknown provider, missing model, a URL that is not http(s), or api_key_env naming a
 * variable that is unset or empty. Strings are copied. */
remote_embedder_t *remote_open(const remote_opts_t *o, err_t *err);
void remote_free(remote_embedder_t *r); /* NULL-safe */

/* Embeds one short text to learn the vector width (and that the server, model and key work).
 * Returns the width, or -1 with err. Needed once before remote_embed() writes vectors. */
int remote_probe(remote_embedder_t *r, err_t *err);

/* The vector width; 0 until remote_probe() has succeeded. */
int remote_dim(const remote_embedder_t *r);

/* Embeds n texts (queries when is_query, else documents) into out[n * remote_dim(r)], in
 * input order, each vector L2-normalised (an all-zero vector stays zero). Invalid UTF-8 is
 * sent as U+FFFD. Fails with err (out partly written) when the server cannot be reached, keeps
 * failing, refuses the request, or answers something malformed: not JSON, the wrong number
 * of vectors, vectors of another width. Returns 0 or -1.
 * The width must be known first: out == NULL embeds only texts[0] to learn it (like
 * remote_probe(), n >= 1); out != NULL while remote_dim() is 0 is an error. */
int remote_embed(remote_embedder_t *r, const char *const *texts, size_t n, bool is_query,
                 float *out, err_t *err);

/* The endpoint requests go to (for status and messages). Valid while r lives. */
const char *remote_endpoint(const remote_embedder_t *r);

#endif
