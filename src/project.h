/* project.h — where a project's index lives.
 *
 * The index of project /abs/path is kept outside the repository, in
 * $XDG_CACHE_HOME/embecode/<h>/ where <h> is the first 8 hex digits of the SHA-1 of the
 * absolute path (DESIGN §1): index.db (SQLite), daemon.lock (owner election). */
#ifndef EMBECODE_PROJECT_H
#define EMBECODE_PROJECT_H

#include "util.h"

typedef struct {
    char *root;      /* absolute, symlinks resolved, no trailing slash */
    char *cache_dir; /* $XDG_CACHE_HOME/embecode/<h> */
    char *db_path;   /* cache_dir/index.db */
    char *lock_path; /* cache_dir/daemon.lock */
    char hash8[9];
} project_t;

/* Resolves `path` (NULL = current directory) and fills p. Fails when the path does not exist
 * or is not a directory ("--path /x: no such directory"). Does not create anything. */
int project_resolve(project_t *p, const char *path, err_t *err);
/* Creates p->cache_dir (and parents). */
int project_ensure_cache_dir(const project_t *p, err_t *err);
void project_free(project_t *p);

#endif
