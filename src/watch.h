/* watch.h — the file watcher (DESIGN §2 Index life cycle: "Watcher: file events debounced
 * (daemon.debounce_ms), starts after catch-up when daemon.auto_watch").
 *
 * Linux inotify on every directory the walk would enter. Events are gathered until the tree
 * has been quiet for the debounce time, then handed over as one batch of changed file paths.
 * Changes that a per-file update cannot express exactly — a .gitignore edited, a directory
 * created, moved or deleted, the kernel's event queue overflowing — ask for a full catch-up
 * instead. When the kernel refuses more watches (fs.inotify.max_user_watches), the watcher
 * reports itself degraded and the caller falls back to periodic catch-ups.
 * One thread uses a watcher_t. */
#ifndef EMBECODE_WATCH_H
#define EMBECODE_WATCH_H

#include "util.h"
#include "walk.h"

typedef struct watcher watcher_t;

/* Starts watching root with the walk's rules (o: include/exclude; may be NULL). NULL with
 * err when inotify is unavailable. A watch limit reached is not an error: see degraded. */
watcher_t *watcher_new(const char *root, const walk_opts_t *o, err_t *err);
void watcher_free(watcher_t *w); /* NULL-safe */

/* Why the watcher misses changes ("" when it does not): copied into msg. */
bool watcher_degraded(const watcher_t *w, char *msg, size_t size);

typedef struct {
    char **paths;  /* project-relative file paths that changed (created, written, deleted) */
    size_t n;
    bool rescan;   /* a full catch-up is needed (paths may then be incomplete) */
} watch_batch_t;
void watch_batch_free(watch_batch_t *b);

/* Waits up to timeout_ms for changes; once some arrived, keeps gathering until none came
 * for debounce_ms (at most 10 × debounce_ms in all). Returns 1 with a batch, 0 when nothing
 * changed in time or *stop was raised, -1 with err when reading inotify fails. */
int watcher_wait(watcher_t *w, int debounce_ms, int timeout_ms, const volatile int *stop,
                 watch_batch_t *out, err_t *err);

#endif
