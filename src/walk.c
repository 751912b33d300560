/* walk.c — the project walker and the per-path filter built on the same rules (see walk.h).
 * Directories are read through file descriptors (openat/fdopendir/fstatat) so that a path
 * is resolved once per level and a directory swapped for a symlink mid-walk is not followed
 * by accident; one descriptor is open per level of depth. */
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ignore.h"
#include "log.h"

static const char *const default_excludes[] = {
    "node_modules/",  ".venv/",       "venv/", "__pycache__/", ".git/",
    ".pytest_cache/", ".ruff_cache/", "dist/", "build/",       "*.min.js",
    "*.pyc",          "*.pyo",        "*.so",  "*.dylib",
};

/* Git's binary heuristic looks at this many leading bytes (xdiff's FIRST_FEW_BYTES). */
#define BINARY_SNIFF_BYTES 8000

/* Rules 2 and 3 of walk.h. */
typedef struct {
    ignore_list_t *exclude; /* defaults + index.exclude; never NULL */
    ignore_list_t *include; /* index.include, NULL when empty */
} rules_t;

static void add_globs(ignore_list_t *l, const char *const *globs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (globs[i]) ignore_list_add_text(l, globs[i], strlen(globs[i]));
    }
}

static void rules_init(rules_t *r, const walk_opts_t *o)
{
    r->exclude = ignore_list_new("");
    if (!o->no_default_excludes)
        add_globs(r->exclude, default_excludes, ARRAY_LEN(default_excludes));
    add_globs(r->exclude, o->exclude, o->n_exclude);
    r->include = ignore_list_new("");
    add_globs(r->include, o->include, o->n_include);
    if (ignore_list_count(r->include) == 0) {
        ignore_list_free(r->include);
        r->include = NULL;
    }
}

static void rules_free(rules_t *r)
{
    ignore_list_free(r->exclude);
    ignore_list_free(r->include);
}

/* ---- the per-path filter ---------------------------------------------------------------- */

struct walk_filter {
    ignore_t *git;
    rules_t rules;
};

walk_filter_t *walk_filter_new(const char *root, const walk_opts_t *o, err_t *err)
{
    struct stat st;
    if (stat(root, &st) != 0) {
        err_set(err, "cannot use project directory %s: %s", root, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        err_set(err, "project path %s is not a directory; pass the project's root directory", root);
        return NULL;
    }
    walk_opts_t none = {0};
    walk_filter_t *f = xcalloc(1, sizeof *f);
    f->git = ignore_new(root);
    rules_init(&f->rules, o ? o : &none);
    return f;
}

void walk_filter_free(walk_filter_t *f)
{
    if (!f) return;
    ignore_free(f->git);
    rules_free(&f->rules);
    free(f);
}

static bool relpath_is_clean(const char *p)
{
    if (!*p || *p == '/') return false;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!p[n]) return true;
        p += n + 1;
    }
}

bool walk_filter_excluded(const walk_filter_t *f, const char *relpath, bool is_dir)
{
    if (!relpath || !relpath_is_clean(relpath)) return true;
    if (ignore_path_excluded(f->git, relpath, is_dir)) return true;

    /* Rule 2: an excluded parent directory is never entered. */
    char *buf = xstrdup(relpath);
    bool excluded = false;
    for (char *slash = strchr(buf, '/'); slash && !excluded; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        excluded = ignore_list_match(f->rules.exclude, buf, true) == IGNORE_MATCHED;
        *slash = '/';
    }
    if (!excluded)
        excluded = ignore_list_match(f->rules.exclude, relpath, is_dir) == IGNORE_MATCHED;

    /* Rule 3: the deepest of the file and its parents that an include glob matches decides. */
    if (!excluded && !is_dir && f->rules.include) {
        ignore_verdict_t v = ignore_list_match(f->rules.include, buf, false);
        for (char *slash = strrchr(buf, '/'); v == IGNORE_NONE && slash;
             slash = strrchr(buf, '/')) {
            *slash = '\0';
            v = ignore_list_match(f->rules.include, buf, true);
        }
        excluded = v != IGNORE_MATCHED;
    }
    free(buf);
    return excluded;
}

/* ---- the walker ------------------------------------------------------------------------- */

typedef struct {
    dev_t dev;
    ino_t ino;
} dir_id_t;

typedef struct {
    dir_id_t *v;
    size_t n, cap;
} dir_ids_t;

static void ids_add(dir_ids_t *s, const struct stat *st)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = (dir_id_t){st->st_dev, st->st_ino};
}

static bool ids_has(const dir_ids_t *s, const struct stat *st)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].dev == st->st_dev && s->v[i].ino == st->st_ino) return true;
    }
    return false;
}

typedef struct {
    const char *root;
    const walk_opts_t *o;
    walk_fn fn;
    void *ctx;
    walk_stats_t *st;
    ignore_list_t *info_exclude;
    ignore_stack_t *git;
    rules_t rules;
    sbuf_t path;           /* project-relative path of the current entry */
    char *root_real;       /* realpath of the root */
    dir_ids_t chain;       /* directories from the root to the current one */
    dir_ids_t seen;        /* every directory entered so far */
    walk_filter_t *filter; /* made on first need, to test symlink targets */
} walker_t;

typedef struct {
    char *name;
    unsigned char type; /* d_type */
} dent_t;

static int dent_cmp(const void *a, const void *b)
{
    return strcmp(((const dent_t *)a)->name, ((const dent_t *)b)->name);
}

/* Counts a per-entry problem and moves on. Returns 0 so callers can `return skip_error()`. */
static int skip_error(walker_t *w, const char *what, int e)
{
    w->st->errors++;
    log_debug("walk: %s %s: %s (skipped)", what, w->path.len ? w->path.data : ".", strerror(e));
    return 0;
}

/* All entries of d but ".", ".." and ".git", sorted bytewise. */
static dent_t *read_entries(walker_t *w, DIR *d, size_t *n_out)
{
    dent_t *v = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) skip_error(w, "cannot list the rest of", errno);
            break;
        }
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || strcmp(nm, ".git") == 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[n++] = (dent_t){xstrdup(nm), de->d_type};
    }
    if (n > 1) qsort(v, n, sizeof *v, dent_cmp);
    *n_out = n;
    return v;
}

/* Decides whether the symlink `name` (the current path) is followed; fills *st with its
 * target's status when it is. Logs why not otherwise. */
static bool follow_link(walker_t *w, int dfd, const char *name, struct stat *st)
{
    const char *path = w->path.data;
    if (fstatat(dfd, name, st, 0) != 0) {
        log_debug("walk: symlink %s is broken or loops (%s), skipped", path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
        log_debug("walk: symlink %s points to neither a file nor a directory, skipped", path);
        return false;
    }
    char *full = path_join(w->root, path);
    char *real = realpath(full, NULL);
    free(full);
    if (!real) {
        log_debug("walk: cannot resolve symlink %s (%s), skipped", path, strerror(errno));
        return false;
    }
    size_t rl = strlen(w->root_real);
    const char *rel = NULL;
    if (strcmp(w->root_real, "/") == 0)
        rel = real + 1;
    else if (strncmp(real, w->root_real, rl) == 0 && (real[rl] == '/' || real[rl] == '\0'))
        rel = real[rl] ? real + rl + 1 : real + rl;

    const char *why = NULL;
    if (!rel)
        why = "points outside the project";
    else if (ignore_path_in_dotgit(rel))
        why = "points into .git";
    else if (S_ISDIR(st->st_mode)) {
        if (!*rel) {
            why = "points to the project root";
        } else {
            if (!w->filter) w->filter = walk_filter_new(w->root, w->o, NULL);
            if (w->filter && !walk_filter_excluded(w->filter, rel, true))
                why = "points to a directory indexed under its own path";
        }
    }
    if (why) log_debug("walk: symlink %s %s (%s), skipped", path, why, real);
    free(real);
    return why == NULL;
}

static int walk_dir(walker_t *w, int fd, bool selected);

/* Enters directory `name` (the current path) of directory fd dfd. */
static int enter_dir(walker_t *w, int dfd, const char *name, bool via_link, bool selected)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (via_link ? 0 : O_NOFOLLOW));
    if (fd < 0) return skip_error(w, "cannot open directory", errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return skip_error(w, "cannot stat directory", e);
    }
    /* A loop (bind mount, or a link to an ancestor) or a second link to one directory. */
    if (ids_has(&w->chain, &st) || (via_link && ids_has(&w->seen, &st))) {
        close(fd);
        log_debug("walk: %s was already walked (loop or duplicate link), skipped", w->path.data);
        if (via_link)
            w->st->symlinks_skipped++;
        else
            w->st->errors++;
        return 0;
    }
    ids_add(&w->seen, &st);
    ids_add(&w->chain, &st);
    sbuf_putc(&w->path, '/');
    int rc = walk_dir(w, fd, selected);
    w->chain.n--;
    return rc;
}

static bool is_excluded(walker_t *w, const char *path, bool is_dir)
{
    return ignore_stack_match(w->git, path, is_dir) == IGNORE_MATCHED ||
           ignore_list_match(w->rules.exclude, path, is_dir) == IGNORE_MATCHED;
}

/* One directory entry; w->path holds its project-relative path. */
static int walk_entry(walker_t *w, int dfd, const dent_t *de, bool selected)
{
    const char *name = de->name;
    struct stat st;
    bool have_st = false, via_link = false;
    int type = de->type;
    if (type == DT_UNKNOWN) {
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return skip_error(w, "cannot stat", errno);
        have_st = true;
        type = S_ISDIR(st.st_mode)   ? DT_DIR
               : S_ISREG(st.st_mode) ? DT_REG
               : S_ISLNK(st.st_mode) ? DT_LNK
                                     : DT_UNKNOWN;
    }
    if (type == DT_LNK) {
        if (!follow_link(w, dfd, name, &st)) {
            w->st->symlinks_skipped++;
            return 0;
        }
        via_link = have_st = true;
        type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
    }
    if (type != DT_DIR && type != DT_REG) return 0; /* sockets, FIFOs, devices */

    bool is_dir = type == DT_DIR;
    const char *path = w->path.data;
    if (is_excluded(w, path, is_dir)) {
        w->st->ignored++;
        return 0;
    }
    if (w->rules.include) {
        ignore_verdict_t v = ignore_list_match(w->rules.include, path, is_dir);
        if (v != IGNORE_NONE) selected = v == IGNORE_MATCHED;
    }
    if (is_dir) return enter_dir(w, dfd, name, via_link, selected);
    if (w->rules.include && !selected) {
        w->st->ignored++;
        return 0;
    }
    /* Stat now, not at listing time: the file may have changed or vanished since. */
    if (!have_st) {
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return skip_error(w, "cannot stat", errno);
        if (!S_ISREG(st.st_mode)) return 0;
    }
    if (w->o->max_file_bytes && (uint64_t)st.st_size > w->o->max_file_bytes) {
        w->st->too_large++;
        log_debug("walk: %s is %lld bytes, over the %llu-byte cap, skipped", path,
                  (long long)st.st_size, (unsigned long long)w->o->max_file_bytes);
        return 0;
    }
    walk_entry_t e = {
        .path = path,
        .size = (uint64_t)st.st_size,
        .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
    };
    w->st->files++;
    return w->fn(w->ctx, &e);
}

/* Walks the open directory fd (taken over and closed) whose path, with a trailing '/', is in
 * w->path ("" for the root). */
static int walk_dir(walker_t *w, int fd, bool selected)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return skip_error(w, "cannot read directory", e);
    }
    w->st->dirs++;
    size_t base_len = w->path.len;

    ignore_list_t *gi = NULL;
    err_t err;
    if (ignore_list_load(dirfd(d), ".gitignore", w->path.data, true, &gi, &err) != 0) {
        w->st->errors++;
        log_debug("walk: %s", err.msg);
    }
    ignore_stack_push(w->git, gi);

    size_t n = 0;
    dent_t *ents = read_entries(w, d, &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (w->o->stop && *w->o->stop) {
            rc = 1;
            break;
        }
        w->path.len = base_len;
        sbuf_puts(&w->path, ents[i].name);
        rc = walk_entry(w, dirfd(d), &ents[i], selected);
    }
    w->path.len = base_len;
    w->path.data[base_len] = '\0';
    for (size_t i = 0; i < n; i++)
        free(ents[i].name);
    free(ents);
    ignore_stack_pop(w->git);
    closedir(d);
    return rc;
}

int walk_project(const char *root, const walk_opts_t *o, walk_fn fn, void *ctx, walk_stats_t *st,
                 err_t *err)
{
    walk_opts_t none = {0};
    walk_stats_t scratch;
    if (!o) o = &none;
    if (!st) st = &scratch;
    memset(st, 0, sizeof *st);

    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err,
                       "cannot open project directory %s: %s; check that it exists and is "
                       "a readable directory",
                       root, strerror(errno));
    struct stat root_st;
    char *real = realpath(root, NULL);
    if (!real || fstat(fd, &root_st) != 0) {
        int e = errno;
        free(real);
        close(fd);
        return err_set(err, "cannot resolve project directory %s: %s", root, strerror(e));
    }

    walker_t w = {.root = root, .o = o, .fn = fn, .ctx = ctx, .st = st, .root_real = real};
    w.info_exclude = ignore_load_info_exclude(root);
    w.git = ignore_stack_new(w.info_exclude);
    rules_init(&w.rules, o);
    ids_add(&w.seen, &root_st);
    ids_add(&w.chain, &root_st);
    sbuf_puts(&w.path, "");

    int rc = walk_dir(&w, fd, false);

    sbuf_free(&w.path);
    free(w.chain.v);
    free(w.seen.v);
    walk_filter_free(w.filter);
    rules_free(&w.rules);
    ignore_stack_free(w.git);
    ignore_list_free(w.info_exclude);
    free(real);
    return rc;
}

bool walk_is_binary(const char *buf, size_t n)
{
    return memchr(buf, 0, EC_MIN(n, (size_t)BINARY_SNIFF_BYTES)) != NULL;
}
