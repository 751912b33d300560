/* cache.c — see cache.h.
 *
 * Eviction protocol (one folder): open <h>/inuse.lock and take LOCK_EX|LOCK_NB (failing
 * means some process has entered the project); delete every other file, then inuse.lock
 * itself, then the folder. A process entering meanwhile either blocks on the old lock file
 * and, once it gets it, sees that the path now names another file (or nothing) and starts
 * over, or creates a fresh inuse.lock after the old one was unlinked, in which case the
 * final rmdir fails with ENOTEMPTY and the folder simply lives on, emptied of the old
 * index. Either way no process ever works on an index that is being deleted. */
#include "cache.h"

#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_PROJECT_FILE "project"
#define CACHE_INUSE_LOCK "inuse.lock"
#define CACHE_DAEMON_LOCK "daemon.lock" /* project.h: the owner election */
#define CACHE_MODELS_DIR "models"
/* Folders nest no deeper than this in the cache (models/ and project folders are flat). */
#define CACHE_MAX_DEPTH 16
/* Tries of cache_enter against evictions that keep removing the folder under it. */
#define CACHE_ENTER_TRIES 50

char *cache_root(void)
{
    char *cache = xdg_cache_home();
    char *root = path_join(cache, "embecode");
    free(cache);
    return root;
}

static bool is_hash_name(const char *s)
{
    for (int i = 0; i < 8; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return s[8] == 0;
}

static bool is_dot(const char *name)
{
    return !strcmp(name, ".") || !strcmp(name, "..");
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* ---- walking folders without following links ------------------------------------- */

/* Opens the directory `name` in dfd, refusing symbolic links. */
static int open_dir_at(int dfd, const char *name)
{
    return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A fresh directory stream over dfd (dfd stays open and owned by the caller). */
static DIR *dir_stream(int dfd)
{
    int fd = open_dir_at(dfd, ".");
    if (fd < 0) return NULL;
    DIR *d = fdopendir(fd);
    if (!d) close(fd);
    return d;
}

/* Sum of the sizes of the regular files under dfd. */
static uint64_t tree_bytes(int dfd, int depth)
{
    DIR *d = dir_stream(dfd);
    if (!d) return 0;
    uint64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (is_dot(de->d_name) || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISREG(st.st_mode)) {
            total += (uint64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode) && depth < CACHE_MAX_DEPTH) {
            int sub = open_dir_at(dfd, de->d_name);
            if (sub < 0) continue;
            total += tree_bytes(sub, depth + 1);
            close(sub);
        }
    }
    closedir(d);
    return total;
}

static int remove_at(int dfd, const char *name, int depth, err_t *err);

/* Deletes everything in dfd except the entry named skip (may be NULL). */
static int clear_dir(int dfd, const char *skip, int depth, err_t *err)
{
    DIR *d = dir_stream(dfd);
    if (!d) return err_set(err, "cannot read the folder: %s", strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (is_dot(de->d_name) || (skip && !strcmp(de->d_name, skip))) continue;
        rc = remove_at(dfd, de->d_name, depth, err);
    }
    closedir(d);
    return rc;
}

/* Deletes the entry `name` of dfd: a directory with its contents, anything else (symbolic
 * links included) by unlinking the entry itself. A vanished entry is not an error. */
static int remove_at(int dfd, const char *name, int depth, err_t *err)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : err_set(err, "%s: %s", name, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
            return err_set(err, "cannot delete %s: %s", name, strerror(errno));
        return 0;
    }
    if (depth >= CACHE_MAX_DEPTH)
        return err_set(err, "%s: folders nested too deeply; delete it by hand", name);
    int sub = open_dir_at(dfd, name);
    if (sub < 0)
        return errno == ENOENT ? 0 : err_set(err, "cannot open %s: %s", name, strerror(errno));
    int rc = clear_dir(sub, NULL, depth + 1, err);
    close(sub);
    if (rc != 0) return err_prefix(err, "%s", name);
    if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        return err_set(err, "cannot delete %s: %s", name, strerror(errno));
    return 0;
}

/* ---- the `project` file and the locks --------------------------------------------- */

/* The project path recorded in folder dfd (named hash), or NULL when the file is missing
 * or does not hold an absolute path hashing to the folder's name. *mtime: its mtime. */
static char *read_project_at(int dfd, const char *hash, int64_t *mtime)
{
    int fd = openat(dfd, CACHE_PROJECT_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    char buf[PATH_MAX + 2];
    ssize_t len = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (off_t)sizeof buf)
        len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) return NULL;
    if (buf[len - 1] == '\n') len--;
    if (len < 1 || buf[0] != '/' || memchr(buf, 0, (size_t)len)) return NULL;
    char hex[HASH_SHA1_HEX_LEN];
    hash_sha1_hex(buf, (size_t)len, hex);
    if (strncmp(hex, hash, 8) != 0) return NULL;
    *mtime = (int64_t)st.st_mtim.tv_sec;
    return xstrndup(buf, (size_t)len);
}

/* True when some process holds a flock on dfd/name (a missing file is not held). */
static bool lock_held(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return false;
    bool held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

/* Writes `project` (or touches it when it already names the project): the last access. */
static int record_access(const project_t *p, err_t *err)
{
    int dfd = open(p->cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return err_set(err, "cannot open %s: %s", p->cache_dir, strerror(errno));
    int64_t mtime;
    char *cur = read_project_at(dfd, p->hash8, &mtime);
    bool same = cur && !strcmp(cur, p->root);
    free(cur);
    if (same && utimensat(dfd, CACHE_PROJECT_FILE, NULL, AT_SYMLINK_NOFOLLOW) == 0) {
        close(dfd);
        return 0;
    }
    close(dfd);
    char *path = path_join(p->cache_dir, CACHE_PROJECT_FILE);
    char *line = xasprintf("%s\n", p->root);
    int rc = file_write_atomic(path, line, strlen(line), err);
    free(line);
    free(path);
    return rc;
}

int cache_enter(const project_t *p, int *lock_fd, err_t *err)
{
    *lock_fd = -1;
    char *lock = path_join(p->cache_dir, CACHE_INUSE_LOCK);
    int rc = -1;
    int i;
    for (i = 0; i < CACHE_ENTER_TRIES; i++) {
        if (mkdir_p(p->cache_dir, err) != 0) {
            err_prefix(err, "cannot create the index folder (set XDG_CACHE_HOME to a writable "
                            "place)");
            break;
        }
        int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
        if (fd < 0 && errno == ENOENT) continue; /* the folder was just evicted */
        if (fd < 0) {
            err_set(err, "cannot open %s: %s (is the cache folder writable?)", lock,
                    strerror(errno));
            break;
        }
        int lr;
        while ((lr = flock(fd, LOCK_SH)) != 0 && errno == EINTR) {
        }
        if (lr != 0) {
            err_set(err, "cannot lock %s: %s", lock, strerror(errno));
            close(fd);
            break;
        }
        struct stat held, now;
        if (fstat(fd, &held) != 0 || lstat(lock, &now) != 0 || !same_file(&held, &now)) {
            close(fd); /* we waited on a lock file an eviction has since unlinked */
            continue;
        }
        if (record_access(p, err) != 0) {
            err_prefix(err, "cannot record the project in its index folder");
            close(fd);
            break;
        }
        *lock_fd = fd;
        rc = 0;
        break;
    }
    if (i == CACHE_ENTER_TRIES)
        err_set(err,
                "the index folder %s keeps being deleted by another embecode process "
                "(cache clean or purge); try again",
                p->cache_dir);
    free(lock);
    return rc;
}

void cache_leave(int lock_fd)
{
    if (lock_fd >= 0) close(lock_fd); /* the last descriptor closed drops the flock */
}

/* ---- listing ---------------------------------------------------------------------- */

/* Fills e from the project folder `name` of rfd. Returns -1 when it is not a folder (any
 * more). */
static int entry_load(int rfd, const char *name, cache_entry_t *e)
{
    memset(e, 0, sizeof *e);
    int dfd = open_dir_at(rfd, name);
    if (dfd < 0) return -1;
    memcpy(e->hash, name, 9);
    e->bytes = tree_bytes(dfd, 0);
    e->path = read_project_at(dfd, name, &e->last_access);
    struct stat st;
    if (e->path)
        e->exists = stat(e->path, &st) == 0 && S_ISDIR(st.st_mode);
    else if (fstat(dfd, &st) == 0)
        e->last_access = (int64_t)st.st_mtim.tv_sec;
    e->in_use = lock_held(dfd, CACHE_INUSE_LOCK) || lock_held(dfd, CACHE_DAEMON_LOCK);
    close(dfd);
    return 0;
}

static int entry_cmp_lru(const void *a, const void *b)
{
    const cache_entry_t *x = a, *y = b;
    if (x->last_access != y->last_access) return x->last_access < y->last_access ? -1 : 1;
    return strcmp(x->hash, y->hash);
}

static int list_at(int rfd, const char *root, cache_entry_t **out, size_t *n, err_t *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = dir_stream(rfd);
    if (!d) return err_set(err, "cannot read the cache folder %s: %s", root, strerror(errno));
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (!is_hash_name(de->d_name) || fstatat(rfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        if (*n == cap) *out = xrealloc(*out, (cap = cap ? 2 * cap : 16) * sizeof **out);
        if (entry_load(rfd, de->d_name, &(*out)[*n]) == 0) (*n)++;
    }
    closedir(d);
    if (*n) qsort(*out, *n, sizeof **out, entry_cmp_lru);
    return 0;
}

/* Opens the cache root; 0 with *rfd = -1 when it does not exist. */
static int open_root(const char *root, int *rfd, err_t *err)
{
    *rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*rfd >= 0 || errno == ENOENT) return 0;
    return err_set(err, "cannot open the cache folder %s: %s", root, strerror(errno));
}

int cache_list(const char *root, cache_entry_t **out, size_t *n, err_t *err)
{
    *out = NULL;
    *n = 0;
    int rfd;
    if (open_root(root, &rfd, err) != 0) return -1;
    if (rfd < 0) return 0;
    int rc = list_at(rfd, root, out, n, err);
    close(rfd);
    return rc;
}

void cache_entries_free(cache_entry_t *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++)
        free(e[i].path);
    free(e);
}

uint64_t cache_models_bytes(const char *root)
{
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0) return 0;
    uint64_t total = 0;
    int mfd = open_dir_at(rfd, CACHE_MODELS_DIR);
    if (mfd >= 0) {
        total = tree_bytes(mfd, 0);
        close(mfd);
    }
    close(rfd);
    return total;
}

/* ---- eviction --------------------------------------------------------------------- */

typedef enum { EVICT_DONE, EVICT_IN_USE, EVICT_GONE, EVICT_FAILED } evict_t;

/* Deletes project folder `hash` unless a process has entered it (see the top of the file). */
static evict_t evict(int rfd, const char *root, const char *hash, err_t *err)
{
    int dfd = open_dir_at(rfd, hash);
    if (dfd < 0) {
        if (errno == ENOENT) return EVICT_GONE;
        err_set(err, "cannot open %s/%s: %s", root, hash, strerror(errno));
        return EVICT_FAILED;
    }
    evict_t r = EVICT_FAILED;
    int dl = -1;
    int lfd =
        openat(dfd, CACHE_INUSE_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    struct stat held, now;
    if (lfd < 0) {
        if (errno == ENOENT)
            r = EVICT_GONE; /* the folder was deleted meanwhile */
        else
            err_set(err, "cannot open %s/%s/%s: %s", root, hash, CACHE_INUSE_LOCK, strerror(errno));
        goto out;
    }
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            r = EVICT_IN_USE;
        else
            err_set(err, "cannot lock %s/%s/%s: %s", root, hash, CACHE_INUSE_LOCK, strerror(errno));
        goto out;
    }
    if (fstat(lfd, &held) != 0 || fstatat(dfd, CACHE_INUSE_LOCK, &now, AT_SYMLINK_NOFOLLOW) != 0 ||
        !same_file(&held, &now)) {
        r = EVICT_GONE; /* another process evicted it first */
        goto out;
    }
    /* An owner started by an older embecode holds only daemon.lock; keep it until we exit. */
    dl = openat(dfd, CACHE_DAEMON_LOCK, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (dl >= 0 && flock(dl, LOCK_EX | LOCK_NB) != 0) {
        r = EVICT_IN_USE;
        goto out;
    }
    /* inuse.lock goes last: until then, a process entering waits on our lock. */
    if (clear_dir(dfd, CACHE_INUSE_LOCK, 0, err) != 0) {
        err_prefix(err, "cannot delete the index folder %s/%s", root, hash);
        goto out;
    }
    if (unlinkat(dfd, CACHE_INUSE_LOCK, 0) != 0 && errno != ENOENT) {
        err_set(err, "cannot delete %s/%s/%s: %s", root, hash, CACHE_INUSE_LOCK, strerror(errno));
        goto out;
    }
    /* ENOTEMPTY: a process entered right after inuse.lock went; the old index is gone. */
    if (unlinkat(rfd, hash, AT_REMOVEDIR) != 0 && errno != ENOENT && errno != ENOTEMPTY &&
        errno != EEXIST) {
        err_set(err, "cannot delete the index folder %s/%s: %s", root, hash, strerror(errno));
        goto out;
    }
    r = EVICT_DONE;
out:
    if (dl >= 0) close(dl);
    if (lfd >= 0) close(lfd);
    close(dfd);
    return r;
}

static void entries_push(cache_entry_t **arr, size_t *n, const cache_entry_t *e)
{
    *arr = xrealloc(*arr, (*n + 1) * sizeof **arr);
    (*arr)[*n] = *e;
    (*arr)[*n].path = e->path ? xstrdup(e->path) : NULL;
    (*n)++;
}

/* Shared by clean and purge: one list of folders, their fates, the first failure. */
typedef struct {
    int rfd;
    const char *root;
    cache_entry_t *e;
    size_t n;
    bool *tried;
    uint64_t total;
    cache_report_t *rep;
    int rc;
    err_t *err;
} sweep_t;

static void sweep_one(sweep_t *s, size_t i)
{
    err_t e1;
    s->tried[i] = true;
    switch (evict(s->rfd, s->root, s->e[i].hash, &e1)) {
    case EVICT_DONE:
        entries_push(&s->rep->removed, &s->rep->n_removed, &s->e[i]);
        s->total -= s->e[i].bytes;
        break;
    case EVICT_GONE:
        s->total -= s->e[i].bytes;
        break;
    case EVICT_IN_USE:
        s->e[i].in_use = true;
        entries_push(&s->rep->in_use, &s->rep->n_in_use, &s->e[i]);
        break;
    case EVICT_FAILED:
        if (s->rc == 0 && s->err) *s->err = e1;
        s->rc = -1;
        break;
    }
}

/* Lists the root into s. Returns 1 when there is nothing to do (no root), 0, or -1. */
static int sweep_begin(sweep_t *s, const char *root, cache_report_t *rep, err_t *err)
{
    memset(rep, 0, sizeof *rep);
    memset(s, 0, sizeof *s);
    s->root = root;
    s->rep = rep;
    s->err = err;
    if (open_root(root, &s->rfd, err) != 0) return -1;
    if (s->rfd < 0) return 1;
    if (list_at(s->rfd, root, &s->e, &s->n, err) != 0) {
        close(s->rfd);
        return -1;
    }
    s->tried = xcalloc(s->n ? s->n : 1, sizeof *s->tried);
    for (size_t i = 0; i < s->n; i++)
        s->total += s->e[i].bytes;
    rep->bytes_before = s->total;
    return 0;
}

static int sweep_end(sweep_t *s)
{
    s->rep->bytes_after = s->total;
    cache_entries_free(s->e, s->n);
    free(s->tried);
    close(s->rfd);
    return s->rc;
}

int cache_clean(const char *root, uint64_t max_bytes, const char *keep_hash, cache_report_t *rep,
                err_t *err)
{
    sweep_t s;
    int b = sweep_begin(&s, root, rep, err);
    if (b != 0) return b < 0 ? -1 : 0;
    for (size_t i = 0; i < s.n; i++) {
        bool keep = keep_hash && !strcmp(s.e[i].hash, keep_hash);
        /* Unknown folders (no readable `project`, e.g. made by an embecode before the
         * registry) are not assumed gone: only the size cap evicts them. */
        if (!keep && s.e[i].path && !s.e[i].exists) sweep_one(&s, i);
    }
    for (size_t i = 0; i < s.n && s.total > max_bytes; i++) { /* oldest first */
        if (!s.tried[i] && !(keep_hash && !strcmp(s.e[i].hash, keep_hash))) sweep_one(&s, i);
    }
    return sweep_end(&s);
}

int cache_purge(const char *root, const char *hash, cache_report_t *rep, err_t *err)
{
    if (hash && !is_hash_name(hash)) {
        memset(rep, 0, sizeof *rep);
        return err_set(err, "'%s' is not a project folder name (8 lowercase hex digits)", hash);
    }
    sweep_t s;
    int b = sweep_begin(&s, root, rep, err);
    if (b != 0) return b < 0 ? -1 : 0;
    for (size_t i = 0; i < s.n; i++)
        if (!hash || !strcmp(s.e[i].hash, hash)) sweep_one(&s, i);
    if (!hash) {
        int mfd = open_dir_at(s.rfd, CACHE_MODELS_DIR);
        uint64_t bytes = mfd >= 0 ? tree_bytes(mfd, 0) : 0;
        if (mfd >= 0) close(mfd);
        err_t e1;
        if (remove_at(s.rfd, CACHE_MODELS_DIR, 0, &e1) == 0) {
            rep->models_bytes = bytes;
        } else if (s.rc == 0) {
            err_set(err, "cannot delete the models folder %s/%s: %s", root, CACHE_MODELS_DIR,
                    e1.msg);
            s.rc = -1;
        }
    }
    return sweep_end(&s);
}

void cache_report_free(cache_report_t *rep)
{
    if (!rep) return;
    cache_entries_free(rep->removed, rep->n_removed);
    cache_entries_free(rep->in_use, rep->n_in_use);
    memset(rep, 0, sizeof *rep);
}

void cache_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1000 && u + 1 < ARRAY_LEN(units)) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, size, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
}
