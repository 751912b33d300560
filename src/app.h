/* app.h — one running embecode for one project: configuration, index location, owner
 * election, the background indexer, and the two operations every front end offers
 * (search, status). Used by the MCP server and by the CLI.
 *
 * Threads: app_search() and app_status() must be called from one thread at a time (the
 * request thread); the indexer and the takeover waiter run on their own threads and share
 * only app->state (under its mutex) and atomics. */
#ifndef EMBECODE_APP_H
#define EMBECODE_APP_H

#include "config.h"
#include "embedder.h"
#include "indexer.h"
#include "project.h"
#include "search.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>

typedef struct {
    project_t project;
    config_t config;
    index_state_t state;
    store_t *query_store;   /* read-only connection for requests; opened lazily */
    atomic_int role_owner;  /* 1 when this process holds daemon.lock */
    int lock_fd;
    int cache_fd;           /* cache_enter's lock on the project folder; -1 before */
    bool cache_cleaned;     /* the start-up eviction ran */
    volatile int stop;      /* asks background threads to finish */
    pthread_t index_thread, takeover_thread, embed_thread;
    bool index_thread_started, takeover_thread_started, embed_thread_started;
    atomic_int busy_threads; /* background threads still running (serve waits on it) */
    atomic_int wal_pending;  /* the owner wrote since the WAL was last emptied */
    pthread_cond_t embed_cv; /* wakes the embedding thread when chunks changed (state.mu) */
    bool embed_wake;
    char watch_msg[600];     /* why the watcher misses changes, "" when fine (state.mu) */
    bool quiet_progress;
    indexer_progress_fn progress;
    void *progress_ctx;
    void (*embed_progress)(void *ctx); /* CLI bar for the embedding phase; may be NULL */

    /* Embeddings. emb is shared by the embedding pass and query embedding (emb_mu). The
     * embedding progress fields are under state.mu. */
    pthread_mutex_t emb_mu;
    embedder_t *emb;
    char emb_key[256];       /* embedder_key(emb) once known, "" before */
    char emb_error[768];     /* why no engine could be opened, "" when fine */
    double emb_retry_ms;     /* earliest time to try opening again after a failure */
    bool embedding;          /* the embedding pass is running (in this process) */
    int64_t embed_done, embed_total;
    struct vecidx *vecidx;   /* request thread only */
    bool include_timings;    /* CLI --timings */
} app_t;

/* Resolves the project, loads configuration (files, then the overrides: NULL/0 = none).
 * Returns -1 with err on a bad path or configuration. */
typedef struct {
    const char *path;
    const char *model;
    int top_k;
    const char *mode;
} app_overrides_t;
int app_open(app_t *a, const app_overrides_t *ov, err_t *err);
void app_close(app_t *a); /* stops threads (waits at most for the batch in flight) */

/* Registers this process as a user of the project's cache folder (cache_enter: creates
 * it, records the access, holds its in-use lock until app_close) and, with clean, runs the
 * start-up eviction once: cache_clean to cache.max_size, never this project, logging what
 * it removed at info level (a failed clean is only a warning). Idempotent. Returns -1 with
 * err when the folder cannot be entered. */
int app_enter_cache(app_t *a, bool clean, err_t *err);

/* Serving: enters the cache (with the start-up clean), then elects; the owner indexes in a
 * background thread, a reader waits to take over. */
int app_start_background(app_t *a, err_t *err);

/* CLI `index`: enters the cache (with the start-up clean), takes ownership (waiting for another
 * owner to finish if needed) and runs a catch-up pass in this thread. Returns 0, or -1 with err. */
int app_index_foreground(app_t *a, err_t *err);
/* True when a complete keyword pass exists on disk. */
bool app_index_complete(app_t *a);

/* search_code: the structured result ({"results": [...], "note"?}) or, while the first
 * keyword pass is running, the retry item. NULL with err on a storage failure. */
cJSON *app_search(app_t *a, const search_req_t *req, err_t *err);
/* index_status as a JSON object (DESIGN §2 fields). Never NULL. */
cJSON *app_status(app_t *a);

#endif
