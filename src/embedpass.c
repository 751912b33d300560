/* embedpass.c — see embedpass.h. */
#include "embedpass.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char **texts;
    char (*hashes)[41];
    size_t n, cap;
} todo_t;

static int add_todo(void *ctx, const store_embed_todo_t *t)
{
    todo_t *td = ctx;
    if (td->n == td->cap) return 1;
    td->texts[td->n] =
        embedder_document_text(t->path, t->language, t->definitions, t->content, t->content_len);
    snprintf(td->hashes[td->n], sizeof td->hashes[0], "%s", t->hash);
    td->n++;
    return 0;
}

static void todo_clear(todo_t *td)
{
    for (size_t i = 0; i < td->n; i++) free(td->texts[i]);
    td->n = 0;
}

static void set_progress(const embedpass_progress_t *p, bool running, int64_t done, int64_t total)
{
    if (!p->mu) return;
    pthread_mutex_lock(p->mu);
    *p->running = running;
    if (done >= 0) *p->done = done;
    if (total >= 0) *p->total = total;
    pthread_mutex_unlock(p->mu);
    if (p->notify) p->notify(p->notify_ctx);
}

static int embed_batch(const embedpass_opts_t *o, todo_t *td, float **out, int *dim, err_t *err)
{
    if (o->emb_mu) pthread_mutex_lock(o->emb_mu);
    int rc = 0;
    if (embedder_dim(o->emb) == 0) /* a remote engine learns its width from one text */
        rc = embedder_embed(o->emb, (const char *const *)td->texts, 1, false, NULL, err);
    if (rc == 0) {
        *dim = embedder_dim(o->emb);
        *out = xrealloc(*out, td->n * (size_t)*dim * sizeof **out);
        rc = embedder_embed(o->emb, (const char *const *)td->texts, td->n, false, *out, err);
    }
    if (o->emb_mu) pthread_mutex_unlock(o->emb_mu);
    return rc;
}

static int finish(store_t *w, const char *model, const char *spec, err_t *err)
{
    char *current = NULL, *cur_spec = NULL;
    if (store_meta_get(w, STORE_META_MODEL, &current, err) != 0 ||
        store_meta_get(w, EMBEDPASS_META_SPEC, &cur_spec, err) != 0) {
        free(current);
        return -1;
    }
    bool same = current && strcmp(current, model) == 0 && cur_spec && spec &&
                strcmp(cur_spec, spec) == 0;
    free(current);
    free(cur_spec);
    if (same) return 0;
    if (store_batch_begin(w, err) != 0) return -1;
    if (store_meta_set(w, STORE_META_MODEL, model, err) != 0 ||
        (spec && store_meta_set(w, EMBEDPASS_META_SPEC, spec, err) != 0) ||
        store_vec_drop_other_models(w, model, err) != 0) {
        store_batch_rollback(w);
        return -1;
    }
    if (store_batch_commit(w, err) != 0) return -1;
    log_info("embeddings complete for model %s", model);
    return 0;
}

int embedpass_run(store_t *w, const embedpass_opts_t *o, err_t *err)
{
    const char *model = embedder_key(o->emb);
    size_t batch = o->batch > 0 ? (size_t)o->batch : 16;
    todo_t td = {xcalloc(batch, sizeof(char *)), xcalloc(batch, sizeof td.hashes[0]), 0, batch};
    float *vecs = NULL;
    int64_t cursor = 0, done = 0, total = 0;
    int rc = store_vec_count(w, model, &done, &total, err);
    set_progress(&o->progress, true, done, total);
    double t0 = time_mono_ms();
    int64_t start_done = done;
    while (rc == 0) {
        if (o->stop && *o->stop) {
            rc = 1;
            break;
        }
        int64_t before = cursor;
        rc = store_vec_todo(w, model, &cursor, (int)batch, add_todo, &td, err);
        if (rc < 0) break;
        rc = 0;
        if (cursor == before && td.n == 0) break; /* nothing left */
        if (td.n == 0) continue;
        int dim = 0;
        if (embed_batch(o, &td, &vecs, &dim, err) != 0) {
            /* An engine failure (a remote server down, say) ends the pass; the next pass
             * retries from the start. */
            todo_clear(&td);
            rc = -1;
            break;
        }
        rc = store_batch_begin(w, err);
        for (size_t i = 0; rc == 0 && i < td.n; i++)
            rc = store_vec_put(w, model, td.hashes[i], dim, vecs + i * (size_t)dim, err);
        if (rc == 0) rc = store_batch_commit(w, err);
        else store_batch_rollback(w);
        /* Progress by hashes embedded (exact counts are a scan; taken at start and end). */
        if (rc == 0) done = EC_MIN(done + (int64_t)td.n, total);
        todo_clear(&td);
        set_progress(&o->progress, true, done, total);
    }
    if (rc == 0) rc = store_vec_count(w, model, &done, &total, err);
    if (rc == 0 && done == total && total > 0) rc = finish(w, model, o->spec, err);
    set_progress(&o->progress, false, done, total);
    if (rc >= 0)
        log_info("embedding pass %s: %lld/%lld chunks have vectors (%lld new in %.1f s)",
                 rc == 1 ? "stopped" : "done", (long long)done, (long long)total,
                 (long long)(done - start_done), (time_mono_ms() - t0) / 1000);
    todo_clear(&td);
    free(td.texts);
    free(td.hashes);
    free(vecs);
    return rc;
}
