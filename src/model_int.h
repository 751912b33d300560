/* model_int.h — what model.c (presets, resolving, listing) and model_fetch.c (downloads)
 * share. Internal to those two files. */
#ifndef EMBECODE_MODEL_INT_H
#define EMBECODE_MODEL_INT_H

#include "model.h"

/* True when s is 64 hex digits (either case). s may be NULL. */
bool model_is_sha256_hex(const char *s);
/* "146 MB" style (powers of 1000, as Hugging Face shows them) into buf. */
void model_fmt_size(uint64_t n, char *buf, size_t cap);

/* Downloads url to dest (its folder is created) as model_download does. name is the model
 * as the user knows it (for messages), pull_name what `embecode model pull` takes to retry
 * (NULL: the message names no model), sha the expected SHA-256 or NULL (o->expected_sha256 wins). Thread-safe;
 * processes wait for each other on dest.lock. 0, or -1 with err. */
int model_download_named(const char *name, const char *pull_name, const char *url,
                         const char *dest, const char *sha, const model_fetch_opts_t *o,
                         err_t *err);

#endif
