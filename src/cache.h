/* cache.h — the registry of project indexes in $XDG_CACHE_HOME/embecode/ and its eviction
 * (DESIGN §2 "Cache").
 *
 * The registry is the set of project folders: directories in the cache root whose name is
 * exactly 8 lowercase hex digits (project.h). Nothing else in the root is ever touched,
 * except `models/` by cache_purge(all). A project folder holds:
 *   project     the project's absolute path and a newline; its mtime is the last access
 *               (written or touched by cache_enter)
 *   inuse.lock  every process working on the project holds flock(LOCK_SH) on it for its
 *               lifetime; eviction takes LOCK_EX|LOCK_NB, so a project in use is never evicted
 *   index.db*, daemon.lock, ...   the index (store.h) and the owner election (daemon.h)
 * There is no shared registry file: each process only touches its own project's folder, and
 * eviction decides from what is on disk.
 *
 * The size of a project is the sum of the sizes of the regular files in its folder. A
 * `project` file that is missing, unreadable or does not hold an absolute path whose hash is
 * the folder's name makes the project "unknown" (listed; evicted only by the size cap, oldest
 * first).
 *
 * Safety: removal never follows symbolic links (a link inside a cache folder is unlinked, its
 * target untouched) and never leaves the cache root.
 *
 * Errors: functions returning int return 0 on success and -1 with err (what, where, what to
 * do). Threads: every function is safe to call from any thread; they share no state. */
#ifndef EMBECODE_CACHE_H
#define EMBECODE_CACHE_H

#include "project.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char hash[9];        /* folder name */
    char *path;          /* project path from `project`; NULL when unknown */
    uint64_t bytes;      /* regular files in the folder */
    int64_t last_access; /* Unix seconds: mtime of `project` (of the folder when unknown) */
    bool exists;         /* path is an existing directory (false when unknown) */
    bool in_use;         /* some process holds inuse.lock (or daemon.lock) */
} cache_entry_t;

/* What cache_clean / cache_purge did. Zero-initialise; free with cache_report_free(). */
typedef struct {
    cache_entry_t *removed; /* folders deleted, in the order they were deleted */
    size_t n_removed;
    cache_entry_t *in_use; /* folders that should have gone but are in use (kept) */
    size_t n_in_use;
    uint64_t bytes_before, bytes_after; /* total of all project folders */
    uint64_t models_bytes;              /* cache_purge(all): size of models/ removed */
} cache_report_t;

/* $XDG_CACHE_HOME/embecode (malloc'd). */
char *cache_root(void);

/* Registers this process as a user of project p: creates p->cache_dir, writes `project`
 * (atomically, temp file + rename) or touches it, and takes flock(LOCK_SH) on inuse.lock,
 * waiting while an eviction of that folder is in progress (then recreating the folder).
 * On success *lock_fd is an FD_CLOEXEC descriptor to keep open for as long as the process
 * works on the project (close it with cache_leave). Returns -1 with err when the folder
 * cannot be created or locked. */
int cache_enter(const project_t *p, int *lock_fd, err_t *err);
/* Releases cache_enter's lock (closes fd); fd < 0 is a no-op. */
void cache_leave(int lock_fd);

/* Lists the project folders under root, sorted by last access (oldest first, then hash).
 * *out is a malloc'd array of *n entries (NULL when none), freed with cache_entries_free.
 * A missing root is an empty list. Fails only when root cannot be read. */
int cache_list(const char *root, cache_entry_t **out, size_t *n, err_t *err);
void cache_entries_free(cache_entry_t *e, size_t n);

/* Size in bytes of the regular files under root/models (0 when absent). */
uint64_t cache_models_bytes(const char *root);

/* Start-up clean: deletes the folders that are not in use whose project no longer exists
 * (unknown ones stay), then deletes the least-recently-used folders that are not in use until
 * the total is at most max_bytes. keep_hash (may be NULL) is never deleted. Fills rep
 * (in_use: the folders it would have deleted but could not). Folders that cannot be deleted
 * are skipped; the first such failure is returned as -1 with err after doing the rest. */
int cache_clean(const char *root, uint64_t max_bytes, const char *keep_hash, cache_report_t *rep,
                err_t *err);

/* Deletes the folder of project hash (8 hex digits), or with hash NULL every project folder
 * and models/. Folders in use are kept and listed in rep->in_use. A hash without a folder
 * deletes nothing and is not an error. Failures as in cache_clean. */
int cache_purge(const char *root, const char *hash, cache_report_t *rep, err_t *err);

void cache_report_free(cache_report_t *rep);

/* Formats a size for people, in powers of 1000 like cache.max_size ("512 B", "1.8 GB"),
 * into buf (>= 16 bytes). */
void cache_format_size(uint64_t bytes, char *buf, size_t size);

#endif
