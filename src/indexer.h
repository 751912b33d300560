/* indexer.h — brings the index in line with the files on disk (DESIGN §2 Index life cycle).
 *
 * A catch-up pass walks the project, removes rows of files that are gone, and (re)indexes
 * files that are new or whose size/mtime changed — unless their content hash is unchanged,
 * in which case only the metadata is touched. Each file is written in one transaction, so a
 * kill at any moment loses nothing finished: the next pass resumes where this one stopped.
 * Reading and chunking run on worker threads; one writer owns the SQLite connection. */
#ifndef EMBECODE_INDEXER_H
#define EMBECODE_INDEXER_H

#include "config.h"
#include "project.h"
#include "store.h"

#include <pthread.h>

/* Progress shared between the indexing thread and request handlers. All fields are read and
 * written under `mu`. */
typedef struct {
    pthread_mutex_t mu;
    bool is_indexing;
    const char *indexing_type; /* "full", "catchup", "incremental" or NULL (static strings) */
    const char *phase;         /* "scanning", "indexing", "removing" or NULL */
    char current_file[1024];
    uint64_t files_done, files_total;
    uint64_t skipped_too_large; /* from the last walk */
    bool keyword_ready;         /* a complete keyword pass exists (now or from an earlier run) */
    char error[512];            /* last fatal indexing error, "" when none */
} index_state_t;

void index_state_init(index_state_t *st);
void index_state_destroy(index_state_t *st);

/* Called by the writer after each committed batch and at the end (from the indexing thread;
 * must be quick). May be NULL. */
typedef void (*indexer_progress_fn)(void *ctx, const index_state_t *st);

typedef struct {
    const project_t *project;
    const config_t *config;
    index_state_t *state;
    const volatile int *stop; /* nonzero: finish the batch in flight and return 1 */
    int n_workers;            /* reader/chunker threads; 0 = number of CPUs */
    indexer_progress_fn progress;
    void *progress_ctx;
} indexer_opts_t;

/* Runs one catch-up pass with store `s` (opened read-write; used only from this thread).
 * Returns 0 when the index matches the disk, 1 when stopped early, -1 with err on a storage
 * failure (per-file read problems are logged and skipped, never fatal). */
int indexer_catchup(store_t *s, const indexer_opts_t *o, err_t *err);

/* Re-indexes the given project-relative files (from the watcher): each is read and
 * replaced when its size, mtime or content changed, and its rows are removed when it no
 * longer exists, is not a regular file, or exceeds the size cap. Reports itself as an
 * "incremental" pass. Returns 0, 1 when stopped, -1 with err on a storage failure. */
int indexer_update(store_t *s, const indexer_opts_t *o, char *const *paths, size_t n,
                   err_t *err);

/* Metadata keys written by the indexer. */
#define INDEXER_META_COMPLETE "keyword_complete" /* "1" once a full pass finished */
#define INDEXER_META_STATE "indexing_state"      /* JSON progress for reader processes */

#endif
