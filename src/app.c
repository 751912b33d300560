/* app.c — see app.h. */
#include "app.h"

#include "cache.h"
#include "daemon.h"
#include "embedpass.h"
#include "log.h"
#include "vecidx.h"
#include "watch.h"

#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int app_open(app_t *a, const app_overrides_t *ov, err_t *err)
{
    memset(a, 0, sizeof *a);
    a->lock_fd = -1;
    a->cache_fd = -1;
    index_state_init(&a->state);
    pthread_mutex_init(&a->emb_mu, NULL);
    pthread_cond_init(&a->embed_cv, NULL);
    if (project_resolve(&a->project, ov ? ov->path : NULL, err) != 0) return -1;
    config_defaults(&a->config);
    if (config_load(&a->config, a->project.root, err) != 0) return -1;
    if (ov && ov->model) {
        free(a->config.embed_model);
        a->config.embed_model = xstrdup(ov->model);
    }
    if (ov && ov->top_k) a->config.top_k = ov->top_k;
    if (ov && ov->mode) {
        search_mode_t m;
        if (search_mode_parse(ov->mode, &m) != 0)
            return err_set(err, "--mode %s: unknown mode; use hybrid, semantic or keyword",
                           ov->mode);
        free(a->config.default_mode);
        a->config.default_mode = xstrdup(ov->mode);
    }
    return 0;
}

/* Chunk log rows kept after a pass: readers further behind reload their vector copy. */
#define APP_CHUNK_LOG_KEEP 200000

static void stop_threads(app_t *a)
{
    a->stop = 1;
    pthread_mutex_lock(&a->state.mu);
    pthread_cond_broadcast(&a->embed_cv);
    pthread_mutex_unlock(&a->state.mu);
    if (a->index_thread_started) pthread_join(a->index_thread, NULL);
    a->index_thread_started = false;
    if (a->embed_thread_started) pthread_join(a->embed_thread, NULL);
    a->embed_thread_started = false;
    /* The takeover thread may be blocked in flock(); it is detached and dies with us. */
}

void app_close(app_t *a)
{
    stop_threads(a);
    vecidx_free(a->vecidx);
    a->vecidx = NULL;
    embedder_free(a->emb);
    a->emb = NULL;
    pthread_mutex_destroy(&a->emb_mu);
    pthread_cond_destroy(&a->embed_cv);
    store_close(a->query_store);
    a->query_store = NULL;
    daemon_lock_release(a->lock_fd);
    a->lock_fd = -1;
    cache_leave(a->cache_fd); /* last: the index may be evicted from now on */
    a->cache_fd = -1;
    config_free(&a->config);
    project_free(&a->project);
    index_state_destroy(&a->state);
}

/* After a pass, and when the owner has been idle for a second after updates: copy the WAL
 * into the database and empty it (a bulk pass grows it to tens of MiB; SQLite never shrinks
 * it by itself), so an index at rest takes only its database file. Readers in the middle of
 * a query make it busy: then it is tried again at the next idle moment. */
static void checkpoint(app_t *a, store_t *w, int wait_ms)
{
    err_t err;
    int rc = store_checkpoint(w, wait_ms, &err);
    if (rc < 0) log_warn("%s", err.msg);
    atomic_store(&a->wal_pending, rc != 0);
}

static int run_catchup(app_t *a, err_t *err)
{
    store_t *w = store_open(a->project.db_path, false, err);
    if (!w) return -1;
    indexer_opts_t o = {
        .project = &a->project,
        .config = &a->config,
        .state = &a->state,
        .stop = &a->stop,
        .progress = a->progress,
        .progress_ctx = a->progress_ctx,
    };
    int rc = indexer_catchup(w, &o, err);
    err_t perr;
    if (rc == 0 && store_log_prune(w, APP_CHUNK_LOG_KEEP, &perr) != 0)
        log_warn("cannot prune the chunk log: %s", perr.msg);
    if (rc == 0) checkpoint(a, w, 1000);
    store_close(w);
    return rc < 0 ? -1 : 0;
}

/* The embedding engine, opened once and shared. Only the owner downloads a missing model
 * (allow_download); after a failure, opening is retried at most every 30 s. Never called
 * with emb_mu held. Returns the engine or NULL (a->emb_error says why). */
static embedder_t *app_embedder(app_t *a, bool allow_download)
{
    pthread_mutex_lock(&a->emb_mu);
    embedder_t *e = a->emb;
    bool wait = !e && time_mono_ms() < a->emb_retry_ms;
    pthread_mutex_unlock(&a->emb_mu);
    if (e || wait) return e;
    err_t err;
    e = embedder_open(&a->config, allow_download, &err); /* may download: no lock held */
    pthread_mutex_lock(&a->emb_mu);
    if (e && a->emb) { /* another thread won the race */
        embedder_free(e);
        e = a->emb;
    } else if (e) {
        a->emb = e;
        snprintf(a->emb_key, sizeof a->emb_key, "%s", embedder_key(e));
        a->emb_error[0] = 0;
    } else {
        snprintf(a->emb_error, sizeof a->emb_error, "%.700s", err.msg);
        a->emb_retry_ms = time_mono_ms() + 30000;
    }
    pthread_mutex_unlock(&a->emb_mu);
    if (!e) log_warn("semantic search unavailable: %s", err.msg);
    return e;
}

/* The configuration's choice of engine, as recorded next to completed vectors. */
static char *model_spec(const config_t *c)
{
    return xasprintf("%s:%s%s%s", c->embed_provider ? c->embed_provider : "local",
                     c->embed_model ? c->embed_model : "", c->embed_url ? "@" : "",
                     c->embed_url ? c->embed_url : "");
}

static int run_embedding(app_t *a, err_t *err)
{
    embedder_t *e = app_embedder(a, true);
    if (!e) return 0; /* keyword search works without it; status says how to get a model */
    store_t *w = store_open(a->project.db_path, false, err);
    if (!w) return -1;
    char *spec = model_spec(&a->config);
    embedpass_opts_t o = {
        .emb = e,
        .spec = spec,
        .emb_mu = &a->emb_mu,
        .stop = &a->stop,
        .progress = {&a->state.mu, &a->embedding, &a->embed_done, &a->embed_total,
                     a->embed_progress, a->progress_ctx},
    };
    int rc = embedpass_run(w, &o, err);
    if (rc == 0) checkpoint(a, w, 1000);
    store_close(w);
    free(spec);
    return rc < 0 ? -1 : 0;
}

static void wake_embedder(app_t *a)
{
    pthread_mutex_lock(&a->state.mu);
    a->embed_wake = true;
    pthread_cond_signal(&a->embed_cv);
    pthread_mutex_unlock(&a->state.mu);
}

/* Embeds new chunks whenever the index changes, until stop. */
static void *embed_main(void *arg)
{
    app_t *a = arg;
    while (!a->stop) {
        err_t err;
        if (run_embedding(a, &err) != 0) log_error("embedding failed: %s", err.msg);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 30; /* also retries a model that could not be opened */
        pthread_mutex_lock(&a->state.mu);
        while (!a->embed_wake && !a->stop &&
               pthread_cond_timedwait(&a->embed_cv, &a->state.mu, &until) == 0) {
        }
        a->embed_wake = false;
        pthread_mutex_unlock(&a->state.mu);
    }
    atomic_fetch_sub(&a->busy_threads, 1);
    return NULL;
}

static void set_watch_msg(app_t *a, const char *msg)
{
    pthread_mutex_lock(&a->state.mu);
    snprintf(a->watch_msg, sizeof a->watch_msg, "%.590s", msg);
    pthread_mutex_unlock(&a->state.mu);
}

/* Applies file changes as they happen (daemon.auto_watch); with a degraded or failed
 * watcher, runs a catch-up every minute instead. */
static void watch_loop(app_t *a)
{
    if (!a->config.auto_watch) return;
    const config_t *c = &a->config;
    walk_opts_t wo = {.include = (const char *const *)c->include, .n_include = c->n_include,
                      .exclude = (const char *const *)c->exclude, .n_exclude = c->n_exclude,
                      .max_file_bytes = c->max_file_bytes};
    err_t err;
    char msg[512];
    watcher_t *wt = watcher_new(a->project.root, &wo, &err);
    if (!wt) set_watch_msg(a, err.msg);
    else if (watcher_degraded(wt, msg, sizeof msg)) set_watch_msg(a, msg);
    store_t *w = NULL;
    indexer_opts_t o = {.project = &a->project, .config = c, .state = &a->state,
                        .stop = &a->stop};
    double last_catchup = time_mono_ms();
    while (!a->stop) {
        bool degraded = !wt || watcher_degraded(wt, NULL, 0);
        watch_batch_t b = {0};
        int rc = 0;
        if (wt) {
            rc = watcher_wait(wt, c->debounce_ms, 1000, &a->stop, &b, &err);
            if (rc < 0) {
                set_watch_msg(a, err.msg);
                watcher_free(wt);
                wt = NULL;
            }
        } else {
            usleep(200 * 1000);
        }
        bool catchup = (rc == 1 && b.rescan) ||
                       (degraded && time_mono_ms() - last_catchup >= 60000);
        if ((rc == 1 || catchup) && !a->stop) {
            if (!w) w = store_open(a->project.db_path, false, &err);
            int r = !w ? -1
                    : catchup ? indexer_catchup(w, &o, &err)
                              : indexer_update(w, &o, b.paths, b.n, &err);
            if (r < 0) log_error("updating the index failed: %s", err.msg);
            if (catchup) last_catchup = time_mono_ms();
            atomic_store(&a->wal_pending, 1);
            wake_embedder(a);
        } else if (rc == 0 && atomic_load(&a->wal_pending) && !a->stop) {
            if (!w) w = store_open(a->project.db_path, false, &err);
            if (w) checkpoint(a, w, 200);
        }
        watch_batch_free(&b);
    }
    store_close(w);
    watcher_free(wt);
}

static void *index_main(void *arg)
{
    app_t *a = arg;
    err_t err;
    if (run_catchup(a, &err) != 0) log_error("indexing failed: %s", err.msg);
    if (!a->stop) {
        atomic_fetch_add(&a->busy_threads, 1);
        if (pthread_create(&a->embed_thread, NULL, embed_main, a) == 0)
            a->embed_thread_started = true;
        else
            atomic_fetch_sub(&a->busy_threads, 1);
        watch_loop(a);
    }
    atomic_fetch_sub(&a->busy_threads, 1);
    return NULL;
}

static void become_owner(app_t *a, int fd)
{
    a->lock_fd = fd;
    atomic_store(&a->role_owner, 1);
    atomic_fetch_add(&a->busy_threads, 1);
    if (pthread_create(&a->index_thread, NULL, index_main, a) == 0)
        a->index_thread_started = true;
    else
        atomic_fetch_sub(&a->busy_threads, 1);
}

static void *takeover_main(void *arg)
{
    app_t *a = arg;
    err_t err;
    int fd;
    if (daemon_lock_wait(a->project.lock_path, &fd, &err) != 0) {
        log_error("cannot wait for the index owner: %s", err.msg);
        return NULL;
    }
    if (a->stop) {
        daemon_lock_release(fd);
        return NULL;
    }
    log_info("the previous index owner is gone; this process takes over indexing");
    /* index_thread is only touched here in readers, so no race with become_owner(). */
    become_owner(a, fd);
    return NULL;
}

/* Logs what the start-up eviction removed. */
static void log_clean(const app_t *a, const cache_report_t *r)
{
    char size[32], cap[32];
    cache_format_size(a->config.cache_max_bytes, cap, sizeof cap);
    for (size_t i = 0; i < r->n_removed; i++) {
        const cache_entry_t *e = &r->removed[i];
        cache_format_size(e->bytes, size, sizeof size);
        if (!e->path)
            log_info("cache: removed the folder %s of an unknown project (%s)", e->hash, size);
        else if (!e->exists)
            log_info("cache: removed the index of %s (%s): the project no longer exists", e->path,
                     size);
        else
            log_info("cache: removed the index of %s (%s), least recently used, to keep the "
                     "cache under cache.max_size (%s)",
                     e->path, size, cap);
    }
}

int app_enter_cache(app_t *a, bool clean, err_t *err)
{
    if (a->cache_fd < 0 && cache_enter(&a->project, &a->cache_fd, err) != 0) return -1;
    if (!clean || a->cache_cleaned) return 0;
    a->cache_cleaned = true;
    char *root = cache_root();
    cache_report_t rep;
    err_t cerr;
    if (cache_clean(root, a->config.cache_max_bytes, a->project.hash8, &rep, &cerr) != 0)
        log_warn("cache: could not clean %s: %s", root, cerr.msg);
    log_clean(a, &rep);
    cache_report_free(&rep);
    free(root);
    return 0;
}

int app_start_background(app_t *a, err_t *err)
{
    if (project_ensure_cache_dir(&a->project, err) != 0) return -1;
    if (app_enter_cache(a, true, err) != 0) return -1;
    int fd;
    int got = daemon_lock_try(a->project.lock_path, &fd, err);
    if (got < 0) return -1;
    if (got) {
        log_info("indexing %s (index: %s)", a->project.root, a->project.db_path);
        become_owner(a, fd);
        return 0;
    }
    log_info("another embecode process owns the index of %s; serving queries as a reader",
             a->project.root);
    if (pthread_create(&a->takeover_thread, NULL, takeover_main, a) == 0) {
        pthread_detach(a->takeover_thread);
        a->takeover_thread_started = true;
    }
    return 0;
}

int app_index_foreground(app_t *a, err_t *err)
{
    if (project_ensure_cache_dir(&a->project, err) != 0) return -1;
    if (app_enter_cache(a, true, err) != 0) return -1;
    int fd;
    int got = daemon_lock_try(a->project.lock_path, &fd, err);
    if (got < 0) return -1;
    if (!got) {
        log_info("another embecode process is indexing this project; waiting for it");
        if (daemon_lock_wait(a->project.lock_path, &fd, err) != 0) return -1;
    }
    a->lock_fd = fd;
    atomic_store(&a->role_owner, 1);
    int rc = run_catchup(a, err);
    if (rc == 0) rc = run_embedding(a, err);
    daemon_lock_release(a->lock_fd);
    a->lock_fd = -1;
    atomic_store(&a->role_owner, 0);
    return rc;
}

/* Opens the read connection once the index file exists. */
static store_t *query_store(app_t *a, err_t *err)
{
    if (a->query_store) return a->query_store;
    struct stat st;
    if (stat(a->project.db_path, &st) != 0) {
        err_set(err, "no index yet");
        return NULL;
    }
    a->query_store = store_open(a->project.db_path, true, err);
    return a->query_store;
}

bool app_index_complete(app_t *a)
{
    pthread_mutex_lock(&a->state.mu);
    bool ready = a->state.keyword_ready;
    pthread_mutex_unlock(&a->state.mu);
    if (ready) return true;
    err_t err;
    store_t *s = query_store(a, &err);
    if (!s) return false;
    char *v = NULL;
    if (store_meta_get(s, INDEXER_META_COMPLETE, &v, &err) != 0) return false;
    ready = v && strcmp(v, "1") == 0;
    free(v);
    if (ready) {
        pthread_mutex_lock(&a->state.mu);
        a->state.keyword_ready = true;
        pthread_mutex_unlock(&a->state.mu);
    }
    return ready;
}

/* Progress as seen by this process: its own indexer, or the owner's published state. */
typedef struct {
    bool is_indexing;
    const char *type;
    char current_file[1024];
    uint64_t done, total, too_large;
} progress_t;

static void read_progress(app_t *a, progress_t *p)
{
    memset(p, 0, sizeof *p);
    if (atomic_load(&a->role_owner)) {
        pthread_mutex_lock(&a->state.mu);
        p->is_indexing = a->state.is_indexing;
        p->type = a->state.indexing_type;
        snprintf(p->current_file, sizeof p->current_file, "%s", a->state.current_file);
        p->done = a->state.files_done;
        p->total = a->state.files_total;
        p->too_large = a->state.skipped_too_large;
        pthread_mutex_unlock(&a->state.mu);
        return;
    }
    err_t err;
    store_t *s = query_store(a, &err);
    char *txt = NULL;
    if (!s || store_meta_get(s, INDEXER_META_STATE, &txt, &err) != 0 || !txt) {
        free(txt);
        return;
    }
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    if (!j) return;
    /* A reader whose owner died sees stale "is_indexing"; it takes over within moments. */
    p->is_indexing = cJSON_IsTrue(cJSON_GetObjectItem(j, "is_indexing"));
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(j, "indexing_type"));
    p->type = !t ? NULL : !strcmp(t, "full") ? "full" : !strcmp(t, "catchup") ? "catchup"
                                                                              : "incremental";
    const char *cf = cJSON_GetStringValue(cJSON_GetObjectItem(j, "current_file"));
    snprintf(p->current_file, sizeof p->current_file, "%s", cf ? cf : "");
    p->done = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "files_done"));
    p->total = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "files_total"));
    p->too_large = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "skipped_too_large"));
    cJSON_Delete(j);
}

static cJSON *retry_item(app_t *a)
{
    progress_t p;
    read_progress(a, &p);
    char msg[256];
    if (p.total)
        snprintf(msg, sizeof msg, "Index is being built: %llu/%llu files",
                 (unsigned long long)p.done, (unsigned long long)p.total);
    else
        snprintf(msg, sizeof msg, "Index is being built: scanning the project for files");
    cJSON *res = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(res, "results");
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "error", msg);
    cJSON_AddBoolToObject(item, "retry_recommended", true);
    cJSON_AddItemToArray(arr, item);
    return res;
}

/* Prepares the semantic arm: the engine, the vector copy in sync with the index, the
 * query vector. On any shortfall leaves sem without vectors and a note saying why. */
static void prepare_semantic(app_t *a, store_t *s, const search_req_t *req,
                             search_semantic_t *sem, float **qvec, char *note, size_t note_size)
{
    embedder_t *e = app_embedder(a, false);
    if (!e) {
        pthread_mutex_lock(&a->emb_mu);
        snprintf(note, note_size, "Semantic search is unavailable (%.600s); showing keyword "
                 "results.", a->emb_error);
        pthread_mutex_unlock(&a->emb_mu);
        return;
    }
    err_t err;
    char *done_model = NULL;
    store_meta_get(s, STORE_META_MODEL, &done_model, &err);
    const char *key = embedder_key(e);
    /* Counting covered chunks is a scan of the index: only on the rare paths below; the
     * common one reads the counts from the synced vector copy. */
    int64_t have = 0, total = 0;
    if (done_model && strcmp(done_model, key) != 0) {
        store_vec_count(s, key, &have, &total, &err);
        /* Never mix vector spaces: the old model's vectors stay unused until the new ones
         * cover the index. */
        snprintf(note, note_size, "The index is being re-embedded for model %s (%lld/%lld "
                 "chunks); showing keyword results until that completes.", key,
                 (long long)have, (long long)total);
        free(done_model);
        return;
    }
    free(done_model);
    int dim = embedder_dim(e);
    if (a->vecidx && dim > 0 && strcmp(a->emb_key, key) != 0) {
        vecidx_free(a->vecidx);
        a->vecidx = NULL;
    }
    if (!a->vecidx && dim > 0) a->vecidx = vecidx_new(key, dim, VECIDX_INT8);
    if (!a->vecidx || vecidx_sync(a->vecidx, s, &err) != 0 || vecidx_chunks(a->vecidx) == 0) {
        store_vec_count(s, key, &have, &total, &err);
        snprintf(note, note_size, "No embeddings yet (%lld/%lld chunks embedded); showing "
                 "keyword results.", (long long)have, (long long)total);
        return;
    }
    *qvec = xmalloc((size_t)dim * sizeof **qvec);
    double t0 = time_mono_ms();
    pthread_mutex_lock(&a->emb_mu);
    int rc = embedder_embed(e, &req->query, 1, true, *qvec, &err);
    pthread_mutex_unlock(&a->emb_mu);
    sem->embedding_ms = time_mono_ms() - t0;
    if (rc != 0) {
        snprintf(note, note_size, "Cannot embed the query (%.600s); showing keyword results.",
                 err.msg);
        free(*qvec);
        *qvec = NULL;
        return;
    }
    sem->vecidx = a->vecidx;
    sem->query_vec = *qvec;
    vecidx_stats_t vs;
    vecidx_stats(a->vecidx, &vs);
    have = (int64_t)vs.chunks_with_vec;
    total = (int64_t)vs.chunks;
    if (have < total) {
        /* Partial coverage: hybrid still helps; say so. */
        snprintf(note, note_size, "Embeddings cover %lld of %lld chunks so far.",
                 (long long)have, (long long)total);
    }
}

cJSON *app_search(app_t *a, const search_req_t *req, err_t *err)
{
    if (!app_index_complete(a)) return retry_item(a);
    store_t *s = query_store(a, err);
    if (!s) return NULL;
    search_timing_t t = {0};
    search_semantic_t sem = {.include_timings = a->include_timings, .timing = &t};
    float *qvec = NULL;
    char note[1024] = "";
    if (req->mode != SEARCH_KEYWORD) prepare_semantic(a, s, req, &sem, &qvec, note, sizeof note);
    if (note[0] && !sem.query_vec) sem.unavailable = note;
    cJSON *res = search_run_ex(s, req, &sem, err);
    if (res && note[0] && sem.query_vec) cJSON_AddStringToObject(res, "note", note);
    free(qvec);
    if (res)
        log_info("search mode=%s embedding_ms=%.2f vector_ms=%.2f keyword_ms=%.2f "
                 "fusion_ms=%.2f total_ms=%.2f",
                 search_mode_name(req->mode), t.embedding_ms, t.vector_ms, t.keyword_ms,
                 t.fusion_ms, t.total_ms);
    return res;
}

cJSON *app_status(app_t *a)
{
    cJSON *j = cJSON_CreateObject();
    err_t err;
    store_counts_t c = {0};
    store_t *s = query_store(a, &err);
    pthread_mutex_lock(&a->emb_mu);
    char key[256], emb_error[768];
    snprintf(key, sizeof key, "%s", a->emb_key);
    snprintf(emb_error, sizeof emb_error, "%s", a->emb_error);
    pthread_mutex_unlock(&a->emb_mu);
    char *done_model = NULL, *done_spec = NULL, *spec = model_spec(&a->config);
    if (s) {
        store_meta_get(s, STORE_META_MODEL, &done_model, &err);
        store_meta_get(s, EMBEDPASS_META_SPEC, &done_spec, &err);
    }
    /* Before this process has loaded its engine, the index's completed model stands for it
     * when the configuration still asks for the same one; after a change it is unknown. */
    bool changed = done_spec && strcmp(done_spec, spec) != 0;
    const char *model = key[0] ? key : changed ? NULL : done_model;
    bool have_counts = s && store_counts(s, model, &c, &err) == 0;
    progress_t p;
    read_progress(a, &p);
    bool owner = atomic_load(&a->role_owner);

    cJSON_AddNumberToObject(j, "files_indexed", (double)c.files);
    cJSON_AddNumberToObject(j, "total_chunks", (double)c.chunks);
    cJSON_AddStringToObject(j, "embedding_model", model ? model : a->config.embed_model);
    if (c.last_indexed_max > 0) {
        char iso[32];
        time_iso8601(c.last_indexed_max / 1000000000, iso, sizeof iso);
        cJSON_AddStringToObject(j, "last_updated", iso);
    } else {
        cJSON_AddNullToObject(j, "last_updated");
    }
    cJSON_AddBoolToObject(j, "is_indexing", p.is_indexing);
    if (p.is_indexing && p.type) cJSON_AddStringToObject(j, "indexing_type", p.type);
    else cJSON_AddNullToObject(j, "indexing_type");
    if (p.is_indexing && p.current_file[0])
        cJSON_AddStringToObject(j, "current_file", p.current_file);
    else cJSON_AddNullToObject(j, "current_file");
    double progress = p.is_indexing ? (p.total ? (double)p.done / (double)p.total : 0.0) : 1.0;
    cJSON_AddNumberToObject(j, "progress", progress);
    cJSON_AddNumberToObject(j, "files_to_process",
                            p.is_indexing && p.total > p.done ? (double)(p.total - p.done) : 0);
    cJSON_AddStringToObject(j, "role", owner ? "owner" : "reader");
    cJSON_AddNumberToObject(j, "embedded_chunks", (double)c.embedded_chunks);
    bool ready = model && c.chunks > 0 && c.embedded_chunks == c.chunks &&
                 (!done_model || strcmp(done_model, model) == 0);
    cJSON_AddBoolToObject(j, "semantic_ready", ready);
    pthread_mutex_lock(&a->state.mu);
    bool embedding = a->embedding;
    pthread_mutex_unlock(&a->state.mu);
    cJSON_AddBoolToObject(j, "is_embedding", embedding);
    cJSON_AddNumberToObject(j, "embedding_progress",
                            c.chunks ? (double)c.embedded_chunks / (double)c.chunks : 0.0);
    cJSON_AddNumberToObject(j, "skipped_binary", (double)c.skipped_binary);
    cJSON_AddNumberToObject(j, "skipped_too_large", (double)p.too_large);
    const char *msg = NULL;
    char buf[1024];
    pthread_mutex_lock(&a->state.mu);
    if (a->state.error[0]) {
        snprintf(buf, sizeof buf, "Indexing failed: %s", a->state.error);
        msg = buf;
    }
    pthread_mutex_unlock(&a->state.mu);
    if (!msg && !have_counts && !p.is_indexing)
        msg = "No index yet: it is built when the server starts or by `embecode index`.";
    pthread_mutex_lock(&a->state.mu);
    if (!msg && a->watch_msg[0] && owner) {
        snprintf(buf, sizeof buf, "File watcher degraded: %s", a->watch_msg);
        msg = buf;
    }
    pthread_mutex_unlock(&a->state.mu);
    if (!msg && emb_error[0]) {
        snprintf(buf, sizeof buf, "Semantic search is off: %s", emb_error);
        msg = buf;
    }
    if (!msg && embedding) {
        snprintf(buf, sizeof buf, "Embedding chunks in the background (%lld/%lld); search "
                 "works meanwhile.", (long long)c.embedded_chunks, (long long)c.chunks);
        msg = buf;
    }
    if (!msg && ((done_model && model && strcmp(done_model, model) != 0) || (!model && changed))) {
        snprintf(buf, sizeof buf, "Re-embedding for model %s; semantic and hybrid use keyword "
                 "ranking until it completes.", model ? model : a->config.embed_model);
        msg = buf;
    }
    if (msg) cJSON_AddStringToObject(j, "message", msg);
    else cJSON_AddNullToObject(j, "message");
    free(done_model);
    free(done_spec);
    free(spec);
    return j;
}
