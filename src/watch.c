/* watch.c — see watch.h. */
#include "watch.h"

#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define WATCH_MASK                                                                            \
    (IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO |      \
     IN_DELETE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

struct watcher {
    int fd;
    char *root;
    walk_filter_t *filter;
    char **dirs; /* watch descriptor → project-relative directory ("" for the root) */
    size_t n_dirs;
    char degraded[512];
    watch_batch_t pending;
};

static void set_dir(watcher_t *w, int wd, const char *rel)
{
    if ((size_t)wd >= w->n_dirs) {
        size_t n = (size_t)wd + 64;
        w->dirs = xrealloc(w->dirs, n * sizeof *w->dirs);
        memset(w->dirs + w->n_dirs, 0, (n - w->n_dirs) * sizeof *w->dirs);
        w->n_dirs = n;
    }
    free(w->dirs[wd]);
    w->dirs[wd] = xstrdup(rel);
}

/* Watches rel (a directory) and, recursively, every directory below that the walk enters. */
static void watch_tree(watcher_t *w, const char *rel)
{
    if (w->degraded[0]) return;
    char *full = rel[0] ? path_join(w->root, rel) : xstrdup(w->root);
    int wd = inotify_add_watch(w->fd, full, WATCH_MASK);
    if (wd < 0) {
        if (errno == ENOSPC)
            snprintf(w->degraded, sizeof w->degraded,
                     "the kernel's inotify watch limit is reached (raise "
                     "fs.inotify.max_user_watches); changes are picked up by a catch-up "
                     "every minute instead");
        else if (errno != ENOENT && errno != ENOTDIR && errno != EACCES)
            log_debug("cannot watch %s: %s", full, strerror(errno));
        free(full);
        return;
    }
    set_dir(w, wd, rel);
    DIR *d = opendir(full);
    free(full);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (e->d_type != DT_DIR) continue; /* symlinked directories are not watched */
        char *sub = rel[0] ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
        if (!walk_filter_excluded(w->filter, sub, true)) watch_tree(w, sub);
        free(sub);
    }
    closedir(d);
}

watcher_t *watcher_new(const char *root, const walk_opts_t *o, err_t *err)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        err_set(err, "cannot start the file watcher (inotify): %s", strerror(errno));
        return NULL;
    }
    walk_filter_t *f = walk_filter_new(root, o, err);
    if (!f) {
        close(fd);
        return NULL;
    }
    watcher_t *w = xcalloc(1, sizeof *w);
    w->fd = fd;
    w->root = xstrdup(root);
    w->filter = f;
    double t0 = time_mono_ms();
    watch_tree(w, "");
    log_info("watching %s for changes (%.0f ms to set up)%s%s", root, time_mono_ms() - t0,
             w->degraded[0] ? "; degraded: " : "", w->degraded);
    return w;
}

void watcher_free(watcher_t *w)
{
    if (!w) return;
    close(w->fd);
    for (size_t i = 0; i < w->n_dirs; i++) free(w->dirs[i]);
    free(w->dirs);
    walk_filter_free(w->filter);
    watch_batch_free(&w->pending);
    free(w->root);
    free(w);
}

bool watcher_degraded(const watcher_t *w, char *msg, size_t size)
{
    if (msg && size) snprintf(msg, size, "%s", w->degraded);
    return w->degraded[0] != 0;
}

void watch_batch_free(watch_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->paths[i]);
    free(b->paths);
    memset(b, 0, sizeof *b);
}

static void add_path(watch_batch_t *b, const char *rel)
{
    for (size_t i = 0; i < b->n; i++)
        if (!strcmp(b->paths[i], rel)) return;
    if ((b->n & (b->n + 1)) == 0 || b->n == 0)
        b->paths = xrealloc(b->paths, (b->n * 2 + 2) * sizeof *b->paths);
    b->paths[b->n++] = xstrdup(rel);
    if (b->n > 10000) b->rescan = true; /* a storm: one catch-up is cheaper */
}

static void handle(watcher_t *w, const struct inotify_event *ev)
{
    watch_batch_t *b = &w->pending;
    if (ev->mask & IN_Q_OVERFLOW) {
        b->rescan = true;
        return;
    }
    if (ev->wd < 0 || (size_t)ev->wd >= w->n_dirs || !w->dirs[ev->wd]) return;
    const char *dir = w->dirs[ev->wd];
    if (ev->mask & (IN_DELETE_SELF | IN_IGNORED)) {
        if (ev->mask & IN_DELETE_SELF) b->rescan = true;
        free(w->dirs[ev->wd]);
        w->dirs[ev->wd] = NULL;
        return;
    }
    if (!ev->len) return;
    char *rel = dir[0] ? xasprintf("%s/%s", dir, ev->name) : xstrdup(ev->name);
    if (ev->mask & IN_ISDIR) {
        if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
            if (!walk_filter_excluded(w->filter, rel, true)) {
                watch_tree(w, rel);
                b->rescan = true; /* files may have appeared before the watch */
            }
        } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
            if (!walk_filter_excluded(w->filter, rel, true)) b->rescan = true;
        }
    } else if (!strcmp(ev->name, ".gitignore")) {
        b->rescan = true;
    } else if (!walk_filter_excluded(w->filter, rel, false) ||
               (ev->mask & (IN_DELETE | IN_MOVED_FROM))) {
        /* a deleted path is passed on even when now excluded: its rows must go */
        add_path(b, rel);
    }
    free(rel);
}

/* Reads what is queued; returns the number of events, -1 on error. */
static int drain(watcher_t *w, err_t *err)
{
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    int events = 0;
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return events;
            return err_set(err, "reading file events failed: %s", strerror(errno));
        }
        if (n == 0) return events;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            handle(w, ev);
            events++;
            p += sizeof *ev + ev->len;
        }
    }
}

int watcher_wait(watcher_t *w, int debounce_ms, int timeout_ms, const volatile int *stop,
                 watch_batch_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    double start = time_mono_ms(), first = 0, last = 0;
    struct pollfd pfd = {.fd = w->fd, .events = POLLIN};
    for (;;) {
        if (stop && *stop) return 0;
        double now = time_mono_ms();
        bool have = w->pending.n || w->pending.rescan;
        if (have && (now - last >= debounce_ms || now - first >= 10.0 * debounce_ms)) break;
        if (!have && now - start >= timeout_ms) return 0;
        int wait = have ? (int)(debounce_ms - (now - last)) + 1 : (int)(timeout_ms - (now - start));
        if (wait > 200) wait = 200; /* check stop regularly */
        if (wait < 1) wait = 1;
        int r = poll(&pfd, 1, wait);
        if (r < 0 && errno != EINTR) return err_set(err, "waiting for file events: %s", strerror(errno));
        if (r > 0) {
            int n = drain(w, err);
            if (n < 0) return -1;
            if (n > 0 && (w->pending.n || w->pending.rescan)) {
                last = time_mono_ms();
                if (!first) first = last;
            }
        }
    }
    *out = w->pending;
    memset(&w->pending, 0, sizeof w->pending);
    return 1;
}
