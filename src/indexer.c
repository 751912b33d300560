/* indexer.c — see indexer.h.
 *
 * Shape of a pass: walk (collect paths, sizes, mtimes) → drop rows of vanished files →
 * decide per file whether it needs work → worker threads read, hash and chunk those files
 * and hand results to this thread through a queue bounded in bytes → this thread writes
 * them, a batch of files per transaction (each file's rows are replaced atomically). */
#include "indexer.h"

#include "chunk.h"
#include "hash.h"
#include "lang.h"
#include "log.h"
#include "walk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUEUE_MAX_BYTES (24u << 20) /* bounds memory whatever the repo size */
/* Fewer, larger commits: each commit rewrites the FTS pages it touched into the WAL. */
#define BATCH_MAX_FILES 4096
#define BATCH_MAX_MS 1000.0
#define BINARY_PROBE_BYTES 8192

void index_state_init(index_state_t *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
}

void index_state_destroy(index_state_t *st)
{
    pthread_mutex_destroy(&st->mu);
}

typedef struct {
    char *path;
    uint64_t size;
    int64_t mtime_ns;
} entry_t;

typedef struct {
    entry_t *v;
    size_t n, cap;
} entries_t;

typedef struct {
    size_t entry;       /* index into entries */
    bool had_row;       /* the store already has a row for this path */
    char old_hash[41];  /* its content hash, when had_row */
} job_t;

enum { R_REPLACE, R_TOUCH, R_DELETE, R_SKIP };

typedef struct result {
    struct result *next;
    size_t job;
    int action;
    int kind;
    const char *lang;
    char *content;
    size_t len;
    char hash[41];
    chunk_list_t chunks;
    char (*chunk_hashes)[41]; /* SHA-1 of each chunk, computed on the worker */
} result_t;

typedef struct {
    const indexer_opts_t *o;
    entries_t *entries;
    job_t *jobs;
    size_t n_jobs;
    size_t next_job; /* guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t can_push, can_pop;
    result_t *head, *tail;
    size_t queued_bytes;
    int workers_left;
    bool abort; /* writer failed or stop requested: workers exit */
} pipeline_t;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->path, ((const entry_t *)b)->path);
}

static int collect_entry(void *ctx, const walk_entry_t *e)
{
    entries_t *es = ctx;
    if (es->n == es->cap) {
        es->cap = es->cap ? es->cap * 2 : 1024;
        es->v = xrealloc(es->v, es->cap * sizeof *es->v);
    }
    es->v[es->n++] = (entry_t){xstrdup(e->path), e->size, e->mtime_ns};
    return 0;
}

static void entries_free(entries_t *es)
{
    for (size_t i = 0; i < es->n; i++) free(es->v[i].path);
    free(es->v);
}

static void state_set(index_state_t *st, const char *phase, uint64_t done, uint64_t total,
                      const char *file)
{
    pthread_mutex_lock(&st->mu);
    st->phase = phase;
    st->files_done = done;
    st->files_total = total;
    snprintf(st->current_file, sizeof st->current_file, "%s", file ? file : "");
    pthread_mutex_unlock(&st->mu);
}

/* Saves progress where reader processes can see it (they share no memory with us). */
static void publish_state(store_t *s, index_state_t *st)
{
    pthread_mutex_lock(&st->mu);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "is_indexing", st->is_indexing);
    if (st->indexing_type) cJSON_AddStringToObject(j, "indexing_type", st->indexing_type);
    else cJSON_AddNullToObject(j, "indexing_type");
    cJSON_AddStringToObject(j, "current_file", st->current_file);
    cJSON_AddNumberToObject(j, "files_done", (double)st->files_done);
    cJSON_AddNumberToObject(j, "files_total", (double)st->files_total);
    cJSON_AddNumberToObject(j, "skipped_too_large", (double)st->skipped_too_large);
    cJSON_AddNumberToObject(j, "pid", (double)getpid());
    pthread_mutex_unlock(&st->mu);
    char *txt = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    err_t err;
    if (store_meta_set(s, INDEXER_META_STATE, txt, &err) != 0)
        log_warn("cannot save indexing progress: %s", err.msg);
    free(txt);
}

/* ---- worker side ------------------------------------------------------------------ */

static void produce(pipeline_t *pl, chunker_t *ck, size_t j, result_t *r)
{
    const indexer_opts_t *o = pl->o;
    job_t *job = &pl->jobs[j];
    entry_t *e = &pl->entries->v[job->entry];
    r->job = j;
    char *full = path_join(o->project->root, e->path);
    err_t err;
    size_t cap = o->config->max_file_bytes ? o->config->max_file_bytes : SIZE_MAX - 1;
    if (file_read_all(full, cap, &r->content, &r->len, &err) != 0) {
        log_debug("skipping %s: %s", e->path, err.msg);
        r->action = job->had_row ? R_DELETE : R_SKIP;
        free(full);
        return;
    }
    free(full);
    hash_sha1_hex(r->content, r->len, r->hash);
    if (job->had_row && strcmp(job->old_hash, r->hash) == 0) {
        r->action = R_TOUCH;
        return;
    }
    r->action = R_REPLACE;
    r->lang = lang_detect_content(e->path, r->content, r->len);
    if (walk_is_binary(r->content, EC_MIN(r->len, BINARY_PROBE_BYTES))) {
        r->kind = STORE_KIND_BINARY;
        return;
    }
    r->kind = STORE_KIND_TEXT;
    /* TSX shares TypeScript's budget (DESIGN: typescript/javascript 1200). */
    int budget = config_budget_for(o->config, strcmp(r->lang, "tsx") ? r->lang : "typescript");
    if (chunk_source(ck, r->lang, r->content, r->len, budget, &r->chunks, &err) != 0) {
        log_warn("%s: cannot chunk: %s; indexing it without chunks", e->path, err.msg);
        chunk_list_free(&r->chunks);
    }
    r->chunk_hashes = xcalloc(r->chunks.n ? r->chunks.n : 1, sizeof *r->chunk_hashes);
    for (size_t i = 0; i < r->chunks.n; i++) {
        const chunk_t *c = &r->chunks.v[i];
        hash_sha1_hex(r->content + c->start_byte, c->end_byte - c->start_byte,
                      r->chunk_hashes[i]);
    }
}

static void *worker_main(void *arg)
{
    pipeline_t *pl = arg;
    chunker_t *ck = chunker_new();
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        if (pl->abort || pl->next_job >= pl->n_jobs) {
            pthread_mutex_unlock(&pl->mu);
            break;
        }
        size_t j = pl->next_job++;
        pthread_mutex_unlock(&pl->mu);

        result_t *r = xcalloc(1, sizeof *r);
        produce(pl, ck, j, r);

        pthread_mutex_lock(&pl->mu);
        while (!pl->abort && pl->queued_bytes > QUEUE_MAX_BYTES)
            pthread_cond_wait(&pl->can_push, &pl->mu);
        r->next = NULL;
        if (pl->tail) pl->tail->next = r;
        else pl->head = r;
        pl->tail = r;
        pl->queued_bytes += r->len + sizeof *r;
        pthread_cond_signal(&pl->can_pop);
        pthread_mutex_unlock(&pl->mu);
    }
    chunker_free(ck);
    pthread_mutex_lock(&pl->mu);
    pl->workers_left--;
    pthread_cond_broadcast(&pl->can_pop);
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

static void result_free(result_t *r)
{
    if (!r) return;
    free(r->content);
    chunk_list_free(&r->chunks);
    free(r->chunk_hashes);
    free(r);
}

/* ---- writer side ------------------------------------------------------------------- */

static int write_result(store_t *s, pipeline_t *pl, result_t *r, err_t *err)
{
    entry_t *e = &pl->entries->v[pl->jobs[r->job].entry];
    switch (r->action) {
    case R_SKIP:
        return 0;
    case R_DELETE:
        return store_file_delete(s, e->path, err);
    case R_TOUCH:
        return store_file_touch(s, e->path, e->size, e->mtime_ns, err);
    default:
        break;
    }
    store_chunk_in_t *in = xcalloc(r->chunks.n ? r->chunks.n : 1, sizeof *in);
    for (size_t i = 0; i < r->chunks.n; i++) {
        const chunk_t *c = &r->chunks.v[i];
        in[i] = (store_chunk_in_t){c->start_line, c->end_line, c->definitions,
                                   r->content + c->start_byte, c->end_byte - c->start_byte,
                                   r->chunk_hashes ? r->chunk_hashes[i] : NULL};
    }
    int rc = store_file_replace(s, e->path, r->lang, r->kind, e->size, e->mtime_ns, r->hash, in,
                                r->chunks.n, err);
    free(in);
    return rc;
}

static result_t *pop_result(pipeline_t *pl)
{
    pthread_mutex_lock(&pl->mu);
    while (!pl->head && pl->workers_left > 0) pthread_cond_wait(&pl->can_pop, &pl->mu);
    result_t *r = pl->head;
    if (r) {
        pl->head = r->next;
        if (!pl->head) pl->tail = NULL;
        pl->queued_bytes -= r->len + sizeof *r;
        pthread_cond_broadcast(&pl->can_push);
    }
    pthread_mutex_unlock(&pl->mu);
    return r;
}

static int run_pipeline(store_t *s, pipeline_t *pl, err_t *err)
{
    const indexer_opts_t *o = pl->o;
    int n_workers = o->n_workers > 0 ? o->n_workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_workers < 1) n_workers = 1;
    if ((size_t)n_workers > pl->n_jobs) n_workers = pl->n_jobs ? (int)pl->n_jobs : 1;
    pthread_t *th = xcalloc((size_t)n_workers, sizeof *th);
    pl->workers_left = n_workers;
    for (int i = 0; i < n_workers; i++) pthread_create(&th[i], NULL, worker_main, pl);

    int rc = 0;
    size_t done = 0, in_batch = 0;
    double batch_start = 0;
    for (;;) {
        result_t *r = pop_result(pl);
        if (!r) break;
        if (rc == 0) {
            if (in_batch == 0) {
                if (store_batch_begin(s, err) != 0) rc = -1;
                batch_start = time_mono_ms();
            }
            if (rc == 0 && write_result(s, pl, r, err) != 0) {
                err_prefix(err, "%s", pl->entries->v[pl->jobs[r->job].entry].path);
                rc = -1;
            }
            done++;
            in_batch++;
            bool stop = o->stop && *o->stop;
            if (rc == 0 && (stop || in_batch >= BATCH_MAX_FILES ||
                            time_mono_ms() - batch_start >= BATCH_MAX_MS)) {
                state_set(o->state, "indexing", done, pl->n_jobs,
                          pl->entries->v[pl->jobs[r->job].entry].path);
                publish_state(s, o->state);
                if (store_batch_commit(s, err) != 0) rc = -1;
                in_batch = 0;
                if (o->progress) o->progress(o->progress_ctx, o->state);
                if (stop && rc == 0) rc = 1;
            }
            if (rc != 0) {
                pthread_mutex_lock(&pl->mu);
                pl->abort = true;
                pthread_cond_broadcast(&pl->can_push);
                pthread_mutex_unlock(&pl->mu);
            }
        }
        result_free(r);
    }
    if (rc == 0 && in_batch > 0) {
        state_set(o->state, "indexing", done, pl->n_jobs, "");
        publish_state(s, o->state);
        if (store_batch_commit(s, err) != 0) rc = -1;
    }
    for (int i = 0; i < n_workers; i++) pthread_join(th[i], NULL);
    free(th);
    return rc;
}

static int run_jobs(store_t *s, const indexer_opts_t *o, entries_t *es, job_t *jobs, size_t n_jobs,
                    err_t *err)
{
    pipeline_t pl = {.o = o, .entries = es, .jobs = jobs, .n_jobs = n_jobs};
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.can_push, NULL);
    pthread_cond_init(&pl.can_pop, NULL);
    int rc = run_pipeline(s, &pl, err);
    pthread_cond_destroy(&pl.can_push);
    pthread_cond_destroy(&pl.can_pop);
    pthread_mutex_destroy(&pl.mu);
    return rc;
}

/* ---- the pass -------------------------------------------------------------------- */

typedef struct {
    entries_t *entries;
    char **gone;
    size_t n_gone, cap_gone;
} gone_ctx_t;

static int find_gone(void *ctx, const char *path)
{
    gone_ctx_t *g = ctx;
    entry_t key = {(char *)path, 0, 0};
    if (bsearch(&key, g->entries->v, g->entries->n, sizeof key, cmp_entry)) return 0;
    if (g->n_gone == g->cap_gone) {
        g->cap_gone = g->cap_gone ? g->cap_gone * 2 : 64;
        g->gone = xrealloc(g->gone, g->cap_gone * sizeof *g->gone);
    }
    g->gone[g->n_gone++] = xstrdup(path);
    return 0;
}

static int remove_gone(store_t *s, entries_t *es, const indexer_opts_t *o, err_t *err)
{
    gone_ctx_t g = {es, NULL, 0, 0};
    int rc = store_files_each(s, find_gone, &g, err);
    if (rc == 0 && g.n_gone) {
        state_set(o->state, "removing", 0, g.n_gone, "");
        rc = store_batch_begin(s, err);
        for (size_t i = 0; rc == 0 && i < g.n_gone; i++) rc = store_file_delete(s, g.gone[i], err);
        if (rc == 0) rc = store_batch_commit(s, err);
        if (rc == 0) log_info("removed %zu files that no longer exist", g.n_gone);
    }
    for (size_t i = 0; i < g.n_gone; i++) free(g.gone[i]);
    free(g.gone);
    return rc;
}

/* Decides which files need reading: new ones, and ones whose size or mtime differ. */
static int plan_jobs(store_t *s, entries_t *es, job_t **jobs_out, size_t *n_out, err_t *err)
{
    job_t *jobs = xcalloc(es->n ? es->n : 1, sizeof *jobs);
    size_t n = 0;
    for (size_t i = 0; i < es->n; i++) {
        store_file_t f;
        int found = store_file_get(s, es->v[i].path, &f, err);
        if (found < 0) {
            free(jobs);
            return -1;
        }
        if (found && f.size == es->v[i].size && f.mtime_ns == es->v[i].mtime_ns) continue;
        jobs[n].entry = i;
        jobs[n].had_row = found;
        if (found) memcpy(jobs[n].old_hash, f.hash, sizeof jobs[n].old_hash);
        n++;
    }
    *jobs_out = jobs;
    *n_out = n;
    return 0;
}

int indexer_catchup(store_t *s, const indexer_opts_t *o, err_t *err)
{
    index_state_t *st = o->state;
    char *complete = NULL;
    if (store_meta_get(s, INDEXER_META_COMPLETE, &complete, err) != 0) return -1;
    bool was_complete = complete && strcmp(complete, "1") == 0;
    free(complete);

    pthread_mutex_lock(&st->mu);
    st->is_indexing = true;
    st->indexing_type = was_complete ? "catchup" : "full";
    st->keyword_ready = st->keyword_ready || was_complete;
    st->error[0] = 0;
    pthread_mutex_unlock(&st->mu);
    state_set(st, "scanning", 0, 0, "");
    double t0 = time_mono_ms();

    entries_t es = {0};
    walk_stats_t ws = {0};
    const config_t *c = o->config;
    walk_opts_t wo = {
        .include = (const char *const *)c->include,
        .n_include = c->n_include,
        .exclude = (const char *const *)c->exclude,
        .n_exclude = c->n_exclude,
        .max_file_bytes = c->max_file_bytes,
        .stop = o->stop,
    };
    int rc = walk_project(o->project->root, &wo, collect_entry, &es, &ws, err);
    if (rc == 0 && o->stop && *o->stop) rc = 1;
    if (rc == 0) {
        qsort(es.v, es.n, sizeof *es.v, cmp_entry);
        pthread_mutex_lock(&st->mu);
        st->skipped_too_large = ws.too_large;
        pthread_mutex_unlock(&st->mu);
        rc = remove_gone(s, &es, o, err);
    }
    job_t *jobs = NULL;
    size_t n_jobs = 0;
    if (rc == 0) rc = plan_jobs(s, &es, &jobs, &n_jobs, err);
    if (rc == 0) {
        log_info("%s pass: %zu files in the project, %zu to read", st->indexing_type, es.n,
                 n_jobs);
        state_set(st, "indexing", 0, n_jobs, "");
        rc = run_jobs(s, o, &es, jobs, n_jobs, err);
    }
    if (rc == 0) rc = store_meta_set(s, INDEXER_META_COMPLETE, "1", err);

    pthread_mutex_lock(&st->mu);
    st->is_indexing = false;
    st->indexing_type = NULL;
    st->phase = NULL;
    st->current_file[0] = 0;
    if (rc == 0) st->keyword_ready = true;
    if (rc < 0) snprintf(st->error, sizeof st->error, "%.500s", err->msg);
    pthread_mutex_unlock(&st->mu);
    publish_state(s, st);
    if (o->progress) o->progress(o->progress_ctx, st);
    if (rc == 0)
        log_info("index up to date: %zu files checked, %zu read in %.0f ms", es.n, n_jobs,
                 time_mono_ms() - t0);
    free(jobs);
    entries_free(&es);
    return rc;
}

int indexer_update(store_t *s, const indexer_opts_t *o, char *const *paths, size_t n, err_t *err)
{
    index_state_t *st = o->state;
    pthread_mutex_lock(&st->mu);
    st->is_indexing = true;
    st->indexing_type = "incremental";
    pthread_mutex_unlock(&st->mu);
    entries_t es = {0};
    char **gone = xcalloc(n ? n : 1, sizeof *gone);
    size_t n_gone = 0;
    uint64_t cap = o->config->max_file_bytes;
    for (size_t i = 0; i < n; i++) {
        char *full = path_join(o->project->root, paths[i]);
        struct stat sb;
        bool keep = lstat(full, &sb) == 0 && S_ISREG(sb.st_mode) &&
                    (cap == 0 || (uint64_t)sb.st_size <= cap);
        free(full);
        if (!keep) {
            gone[n_gone++] = paths[i];
            continue;
        }
        walk_entry_t e = {paths[i], (uint64_t)sb.st_size,
                          (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec};
        collect_entry(&es, &e);
    }
    int rc = 0;
    if (n_gone) {
        rc = store_batch_begin(s, err);
        for (size_t i = 0; rc == 0 && i < n_gone; i++) rc = store_file_delete(s, gone[i], err);
        if (rc == 0) rc = store_batch_commit(s, err);
        else store_batch_rollback(s);
    }
    job_t *jobs = NULL;
    size_t n_jobs = 0;
    if (rc == 0 && es.n) {
        qsort(es.v, es.n, sizeof *es.v, cmp_entry);
        rc = plan_jobs(s, &es, &jobs, &n_jobs, err);
    }
    if (rc == 0 && n_jobs) {
        state_set(st, "indexing", 0, n_jobs, "");
        rc = run_jobs(s, o, &es, jobs, n_jobs, err);
    }
    pthread_mutex_lock(&st->mu);
    st->is_indexing = false;
    st->indexing_type = NULL;
    st->phase = NULL;
    st->current_file[0] = 0;
    pthread_mutex_unlock(&st->mu);
    publish_state(s, st);
    if (rc == 0 && (n_jobs || n_gone))
        log_info("incremental update: %zu changed, %zu removed", n_jobs, n_gone);
    free(jobs);
    free(gone);
    entries_free(&es);
    return rc;
}
