/* embedpass.h — the second indexing phase (DESIGN §3 "Two-phase indexing"): embeds every
 * chunk whose content hash has no vector for the active model, in batches, committing each
 * batch, while search keeps working. A kill loses at most the batch in flight; the next
 * pass resumes where this one stopped (vectors already stored are never recomputed). */
#ifndef EMBECODE_EMBEDPASS_H
#define EMBECODE_EMBEDPASS_H

#include "embedder.h"
#include "store.h"

#include <pthread.h>

/* Progress of the pass, shared with request threads (fields under mu). */
typedef struct {
    pthread_mutex_t *mu;
    bool *running;
    int64_t *done;  /* chunks covered by vectors of the model */
    int64_t *total; /* chunks in the index */
    void (*notify)(void *ctx); /* called after each update (outside mu); may be NULL */
    void *notify_ctx;
} embedpass_progress_t;

typedef struct {
    embedder_t *emb;
    const char *spec;          /* the configuration that chose emb (EMBEDPASS_META_SPEC) */
    pthread_mutex_t *emb_mu;   /* serialises use of emb with query embedding; may be NULL */
    const volatile int *stop;  /* finish the batch in flight and return 1 */
    int batch;                 /* texts per batch; 0 = 16 */
    embedpass_progress_t progress;
} embedpass_opts_t;

/* Runs the pass with writer store w. When the model's vectors cover every chunk, records
 * the model as the index's embedding model (metadata STORE_META_MODEL) and drops the
 * vectors of other models. Returns 0 when complete, 1 when stopped, -1 with err when the
 * engine or the store fails (the vectors stored so far are kept). */
int embedpass_run(store_t *w, const embedpass_opts_t *o, err_t *err);

/* Metadata key: the configured model spec the completed vectors were made for, so a process
 * can tell a model change from its configuration alone, before loading any model. */
#define EMBEDPASS_META_SPEC "embedding_spec"

#endif
