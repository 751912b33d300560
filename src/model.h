/* model.h — embedding models by name: the built-in presets, where downloaded models live,
 * turning embeddings.model into a local .gguf path, and downloading a model file.
 *
 * embeddings.model may be
 *   - a preset name ("nomic-embed-text-v1.5", case-insensitive; see model_presets()),
 *   - the path of a local .gguf file (used as it is, never checked against a checksum),
 *   - the name of a .gguf file already in the models folder,
 *   - an http(s) URL of a .gguf file; append "#sha256=<64 hex digits>" to pin its checksum.
 *
 * Downloads go to $XDG_CACHE_HOME/embecode/models/ (default ~/.cache/embecode/models/), with
 * libcurl: into "<file>.part" (resumed with a Range request after an interruption, in this
 * or a later run), SHA-256 verified, then atomically renamed to "<file>". A file under its
 * final name has therefore always been verified (or was put there by the user). An flock on
 * "<file>.lock" makes a second process wait for the first and then find the file done.
 * libcurl honours the usual proxy variables (http_proxy, https_proxy, all_proxy, no_proxy,
 * and their upper-case forms). HF_ENDPOINT, when set, replaces https://huggingface.co in the
 * presets' URLs (for a mirror).
 *
 * The checksum a download must match is, in order: opts->expected_sha256, the preset's
 * recorded SHA-256 (or the URL's #sha256=), else the SHA-256 Hugging Face publishes in the
 * X-Linked-Etag header. With none of them the file is refused.
 *
 * Everything here may be called from several threads; the presets are immutable. */
#ifndef EMBECODE_MODEL_H
#define EMBECODE_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

#define MODEL_DEFAULT_NAME "nomic-embed-text-v1.5"

typedef struct {
    const char *name;        /* "nomic-embed-text-v1.5" */
    const char *repo;        /* Hugging Face repository */
    const char *file;        /* file name in the repository and in the models folder */
    const char *url;         /* https://huggingface.co/<repo>/resolve/main/<file> */
    const char *sha256;      /* lowercase hex; NULL = unknown (X-Linked-Etag is used) */
    uint64_t size;           /* bytes */
    bool size_exact;         /* false: size is the rounded figure shown on the model page */
    const char *quant;       /* "Q8_0" */
    const char *arch;        /* GGUF architecture: "nomic-bert" or "bert" */
    int dim;                 /* embedding width */
    const char *description; /* one line for `embecode model list` */
} model_preset_t;

/* The presets, default first. Static storage; *n receives the count. */
const model_preset_t *model_presets(size_t *n);
/* The preset with this name (case-insensitive), or NULL. name may be NULL. */
const model_preset_t *model_preset_find(const char *name);
/* The preset's download URL with HF_ENDPOINT applied. malloc'd. */
char *model_preset_url(const model_preset_t *p);

/* $XDG_CACHE_HOME/embecode/models (not created). malloc'd. */
char *model_dir(void);

/* Progress of a download: done and total bytes of the whole file (total 0 = unknown). */
typedef void (*model_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Zero-initialise, then set what you need: zeros mean the defaults. */
typedef struct {
    bool allow_download;    /* model_resolve: download a missing model (else fail, saying how) */
    long low_speed_time_s;  /* give up when under 1 KiB/s for this long; 0 = 30 s */
    long connect_timeout_s; /* 0 = 20 s */
    int max_attempts;       /* tries per download when a transfer breaks off; 0 = 3 */
    model_progress_fn progress; /* NULL = a bar on stderr when stderr is a terminal */
    void *progress_ctx;
    bool quiet;                  /* no default bar (progress is still called when set) */
    const char *models_dir;      /* NULL = model_dir() */
    const char *expected_sha256; /* overrides every other checksum (tests, pinned mirrors) */
} model_fetch_opts_t;

/* Turns an embeddings.model value into the path of a local .gguf file, downloading a preset
 * or URL into the models folder when it is missing and o->allow_download (o may be NULL:
 * no download). spec NULL or "" means MODEL_DEFAULT_NAME; a leading "~/" is $HOME.
 * Returns a malloc'd path, or NULL with err saying what was wrong and what to do (unknown
 * name: lists the presets; not downloaded: the pull command; offline: how to get the file).
 * A relative path is taken relative to the current directory. */
char *model_resolve(const char *spec, const model_fetch_opts_t *o, err_t *err);

/* Downloads url to dest_path (its folder is created) as described at the top, verifying the
 * SHA-256 (sha256_or_null: lowercase or uppercase hex; NULL = use X-Linked-Etag). Returns 0
 * at once when dest_path already exists. On failure returns -1 with err and leaves any
 * partial data in dest_path + ".part" for the next attempt (deleted on a checksum
 * mismatch). Follows redirects; http and https only. */
int model_download(const char *url, const char *dest_path, const char *sha256_or_null,
                   const model_fetch_opts_t *o, err_t *err);

/* SHA-256 of a file as 64 lowercase hex digits into hex. 0, or -1 with err. */
int model_file_sha256(const char *path, char hex[65], err_t *err);

/* The default progress bar: redraws one stderr line at most 10 times a second, ends it with
 * a newline when done == total. ctx must point to a zeroed model_bar_t that lives as long
 * as the download. */
typedef struct {
    const char *label; /* shown before the bar, e.g. the file name; may be NULL */
    double last_ms, start_ms;
    uint64_t start_done;
    bool finished;
} model_bar_t;
void model_progress_bar(void *ctx, uint64_t done, uint64_t total);

/* For `embecode model list`: the presets with their state in the models folder (downloaded
 * with its size, partial download, or not downloaded) and any other .gguf files there, as a
 * table, or as one JSON object {"models_dir", "default", "presets": [...], "other": [...]}
 * when json. Writes to out. 0, or -1 with err (unreadable folder). */
int model_list_print(FILE *out, bool json, err_t *err);

#endif
