/* walk.h — which files of a project belong to the index, and a walk over them.
 *
 * A file belongs when, in this order:
 *  1. git would not ignore it: every .gitignore in the tree (deeper files decide first, the
 *     last matching line of a file wins), then .git/info/exclude; a directory git ignores is
 *     not entered, so nothing below it can be re-included. Works without a .git directory.
 *     An entry named ".git" is never part of the project.
 *  2. it is not excluded by the built-in default excludes (node_modules/ .venv/ venv/
 *     __pycache__/ .git/ .pytest_cache/ .ruff_cache/ dist/ build/ *.min.js *.pyc *.pyo *.so
 *     *.dylib) followed by the config index.exclude globs. Both form one gitignore-style list
 *     relative to the root, so a config line "!dist/" re-includes a default exclude.
 *  3. index.include is empty, or the file is selected by it: the deepest of the file and its
 *     parent directories that matches an include glob decides (a plain glob selects, a "!"
 *     glob deselects), so ["src/", "!src/gen/"] and ["*.py"] both do what they say.
 *  4. it is a regular file (or a symlink to one inside the project) of at most max_file_bytes.
 *
 * Symlinks: one to a regular file whose real path is inside the root is yielded under the
 * link's own path. One to a directory is followed only when its real path is inside the
 * root, is not the root or an ancestor of the link, has not been walked yet, and is not
 * itself walked under its real path (that would index the same files twice); the rules match
 * it as a directory (git, which never follows links, would see a file). Everything else
 * (targets outside the root, broken links, loops, links into .git) is skipped and counted in
 * symlinks_skipped. Unreadable directories and files that vanish mid-walk are counted in
 * errors, logged at debug level, and skipped. */
#ifndef EMBECODE_WALK_H
#define EMBECODE_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct {
    /* Project-relative, '/'-separated, no leading "./" (valid during the callback only). */
    const char *path;
    uint64_t size;
    int64_t mtime_ns; /* st_mtim as nanoseconds */
} walk_entry_t;

typedef struct {
    uint64_t files;            /* files handed to the callback */
    uint64_t dirs;             /* directories read, the root included */
    uint64_t ignored;          /* files and directories left out by rules 1-3 (a dir counts once) */
    uint64_t too_large;        /* files over max_file_bytes */
    uint64_t symlinks_skipped; /* symlinks not followed (see above) */
    uint64_t errors;           /* unreadable dirs or .gitignore files, entries vanished mid-walk */
} walk_stats_t;

typedef struct {
    /* Config index.include globs (gitignore-style syntax relative to root); empty = all. */
    const char *const *include;
    size_t n_include;
    /* Config index.exclude globs, same syntax. */
    const char *const *exclude;
    size_t n_exclude;
    uint64_t max_file_bytes;  /* 0 = no cap */
    bool no_default_excludes; /* tests only */
    /* If non-NULL and *stop becomes nonzero, the walk returns early (returns 1). */
    const volatile int *stop;
} walk_opts_t;

/* Called for each file; returns 0 to continue, nonzero to stop the walk. */
typedef int (*walk_fn)(void *ctx, const walk_entry_t *e);

/* Calls fn for every regular file that belongs to the index, in a deterministic order (sorted
 * by name bytewise within each directory, directories depth-first at their place in that
 * order). fn returns 0 to continue, nonzero to stop (walk_project then returns that value).
 * Returns 0 when done, 1 when *o->stop was raised, -1 with err when root itself can't be
 * opened. Per-file problems never fail the walk. o may be NULL (defaults); st may be NULL
 * and is zeroed first otherwise. Not thread-safe per call, but independent calls may run in
 * different threads. The callback may delete or create files; entries deleted before their
 * turn are counted in errors. */
int walk_project(const char *root, const walk_opts_t *o, walk_fn fn, void *ctx, walk_stats_t *st,
                 err_t *err);

/* True when buf (the first up to 8 KiB of a file) holds a NUL byte within its first 8000
 * bytes: git's binary heuristic. */
bool walk_is_binary(const char *buf, size_t n);

/* Per-path membership for a file watcher: the same rules 1-3 as walk_project, answered for
 * one path at a time. .gitignore files along the path are read on each call, so edits to
 * them apply at once; info/exclude is read by walk_filter_new. The size cap (rule 4) is not
 * checked here. */
typedef struct walk_filter walk_filter_t;
/* Copies what it needs from o (may be NULL). Fails with err when root is not a directory. */
walk_filter_t *walk_filter_new(const char *root, const walk_opts_t *o, err_t *err);
/* True when `relpath` (project-relative, no leading "./" or trailing '/'; a directory when
 * is_dir) is not part of the index. For a directory, "not excluded" means the walk enters it;
 * include globs are not applied to directories (files below may still match them). An empty
 * path, an absolute one, or one with "." or ".." or empty components is reported excluded.
 * Thread-safe. */
bool walk_filter_excluded(const walk_filter_t *f, const char *relpath, bool is_dir);
void walk_filter_free(walk_filter_t *f);

#endif
