/* project.c — see project.h. */
#include "project.h"

#include "cache.h"
#include "hash.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int project_resolve(project_t *p, const char *path, err_t *err)
{
    memset(p, 0, sizeof *p);
    char buf[PATH_MAX];
    if (!path) {
        if (!getcwd(buf, sizeof buf))
            return err_set(err, "cannot read the current directory: %s", strerror(errno));
        path = buf;
    }
    char *root = realpath(path, NULL);
    if (!root)
        return err_set(err, "--path %s: %s; give an existing project directory", path,
                       strerror(errno));
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(root);
        return err_set(err, "--path %s: not a directory; give the project's root directory", path);
    }
    char hex[41];
    hash_sha1_hex(root, strlen(root), hex);
    memcpy(p->hash8, hex, 8);
    p->hash8[8] = 0;
    char *base = cache_root();
    p->root = root;
    p->cache_dir = path_join(base, p->hash8);
    p->db_path = path_join(p->cache_dir, "index.db");
    p->lock_path = path_join(p->cache_dir, "daemon.lock");
    free(base);
    return 0;
}

int project_ensure_cache_dir(const project_t *p, err_t *err)
{
    if (mkdir_p(p->cache_dir, err) != 0)
        return err_prefix(err, "cannot create the index directory (set XDG_CACHE_HOME to a "
                               "writable place)");
    return 0;
}

void project_free(project_t *p)
{
    if (!p) return;
    free(p->root);
    free(p->cache_dir);
    free(p->db_path);
    free(p->lock_path);
    memset(p, 0, sizeof *p);
}
