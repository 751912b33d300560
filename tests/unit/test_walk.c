/* Unit tests for walk.c: order, rules beyond .gitignore, size cap, binary sniffing, symlinks,
 * errors mid-walk, stopping, and the per-path filter. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "t.h"
#include "util.h"
#include "walk.h"

/* ---- helpers ---- */

static void put(const char *root, const char *rel, const char *content)
{
    char *path = path_join(root, rel);
    char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    err_t err;
    if (mkdir_p(dir, &err) != 0 || file_write_atomic(path, content, strlen(content), &err) != 0)
        fprintf(stderr, "setup failed: %s\n", err.msg);
    free(dir);
    free(path);
}

static void link_at(const char *root, const char *rel, const char *target)
{
    char *path = path_join(root, rel);
    if (symlink(target, path) != 0) perror(path);
    free(path);
}

static char *fresh(const char *name)
{
    char *d = path_join(t_tmpdir(), name);
    err_t err;
    mkdir_p(d, &err);
    return d;
}

typedef struct {
    sbuf_t list; /* paths joined by ',' in walk order */
    int count;
} seen_t;

static int record(void *ctx, const walk_entry_t *e)
{
    seen_t *s = ctx;
    if (s->list.len) sbuf_putc(&s->list, ',');
    sbuf_puts(&s->list, e->path);
    s->count++;
    return 0;
}

/* Walks root with o and returns the yielded paths joined by ',' (caller frees). */
static char *walk_list(const char *root, const walk_opts_t *o, walk_stats_t *st)
{
    seen_t s = {0};
    err_t err;
    int rc = walk_project(root, o, record, &s, st, &err);
    if (rc != 0) fprintf(stderr, "walk_project: %d %s\n", rc, rc < 0 ? err.msg : "");
    return sbuf_take(&s.list);
}

static const walk_opts_t plain = {.no_default_excludes = true};

/* ---- order and entries ---- */

static void test_walk_order_is_sorted_and_depth_first(void)
{
    char *r = fresh("order");
    put(r, "c", "");
    put(r, "b", "");
    put(r, "a-b", "");
    put(r, "a/y/z", "");
    put(r, "a/x", "");
    put(r, "B", "");
    walk_stats_t st;
    char *got = walk_list(r, &plain, &st);
    T_EQ_STR(got, "B,a/x,a/y/z,a-b,b,c");
    T_EQ_INT(st.files, 6);
    T_EQ_INT(st.dirs, 3);
    free(got);
    free(r);
}

static int grab_entry(void *ctx, const walk_entry_t *e)
{
    *(walk_entry_t *)ctx = *e;
    ((walk_entry_t *)ctx)->path = NULL;
    return 0;
}

static void test_entry_reports_size_and_mtime_ns(void)
{
    char *r = fresh("entry");
    put(r, "f", "hello");
    char *p = path_join(r, "f");
    struct timespec ts[2] = {{1700000000, 123456789}, {1700000000, 123456789}};
    T_EQ_INT(utimensat(AT_FDCWD, p, ts, 0), 0);
    walk_entry_t e = {0};
    err_t err;
    T_EQ_INT(walk_project(r, &plain, grab_entry, &e, NULL, &err), 0);
    T_EQ_INT(e.size, 5);
    T_EQ_INT(e.mtime_ns, 1700000000123456789LL);
    free(p);
    free(r);
}

static void test_dotgit_is_never_walked(void)
{
    char *r = fresh("dotgit");
    put(r, ".git/config", "x");
    put(r, "sub/.git", "gitdir: elsewhere");
    put(r, "sub/a", "");
    put(r, ".gitignore", "");
    char *got = walk_list(r, &plain, NULL);
    T_EQ_STR(got, ".gitignore,sub/a");
    free(got);
    free(r);
}

static void test_gitignore_applies_without_git_directory(void)
{
    char *r = fresh("nogit");
    put(r, ".gitignore", "*.log\nout/\n");
    put(r, "a.log", "");
    put(r, "out/x", "");
    put(r, "sub/.gitignore", "!keep.log\n");
    put(r, "sub/keep.log", "");
    put(r, "sub/b.log", "");
    walk_stats_t st;
    char *got = walk_list(r, &plain, &st);
    T_EQ_STR(got, ".gitignore,sub/.gitignore,sub/keep.log");
    T_EQ_INT(st.ignored, 3); /* a.log, out/, sub/b.log */
    free(got);
    free(r);
}

/* ---- defaults, config globs, size cap ---- */

static void test_default_excludes_apply_unless_disabled(void)
{
    char *r = fresh("defaults");
    static const char *const junk[] = {"node_modules/m/i.js",
                                       ".venv/lib/x.py",
                                       "venv/y.py",
                                       "pkg/__pycache__/z.pyc",
                                       ".pytest_cache/a",
                                       ".ruff_cache/b",
                                       "dist/app.js",
                                       "web/build/out.js",
                                       "web/a.min.js",
                                       "m.pyc",
                                       "m.pyo",
                                       "lib.so",
                                       "lib.dylib"};
    for (size_t i = 0; i < ARRAY_LEN(junk); i++)
        put(r, junk[i], "");
    put(r, "src/main.c", "");
    put(r, "build.c", ""); /* "build/" only matches directories */
    walk_opts_t o = {0};
    walk_stats_t st;
    char *got = walk_list(r, &o, &st);
    T_EQ_STR(got, "build.c,src/main.c");
    free(got);
    char *all = walk_list(r, &plain, &st);
    T_EQ_INT(st.files, ARRAY_LEN(junk) + 2);
    free(all);
    free(r);
}

static void test_config_exclude_globs_can_also_reinclude_defaults(void)
{
    char *r = fresh("exclude");
    put(r, "README.md", "");
    put(r, "docs/a.md", "");
    put(r, "dist/keep.js", "");
    put(r, "src/a.c", "");
    put(r, "src/gen/b.c", "");
    const char *ex[] = {"*.md", "!dist/", "/src/gen/"};
    walk_opts_t o = {.exclude = ex, .n_exclude = 3};
    walk_stats_t st;
    char *got = walk_list(r, &o, &st);
    T_EQ_STR(got, "dist/keep.js,src/a.c");
    T_EQ_INT(st.ignored, 3);
    free(got);
    free(r);
}

static void test_config_include_deepest_match_decides(void)
{
    char *r = fresh("include");
    put(r, "src/a.c", "");
    put(r, "src/gen/b.c", "");
    put(r, "src/gen/c.py", "");
    put(r, "tools/x.py", "");
    put(r, "tools/y.c", "");
    put(r, "top.txt", "");
    const char *in[] = {"src/", "!src/gen/", "*.py"};
    walk_opts_t o = {.include = in, .n_include = 3, .no_default_excludes = true};
    walk_stats_t st;
    char *got = walk_list(r, &o, &st);
    T_EQ_STR(got, "src/a.c,src/gen/c.py,tools/x.py");
    T_EQ_INT(st.ignored, 3);
    free(got);
    /* Blank or comment-only include globs mean "no include filter". */
    const char *blank[] = {"", "# nothing"};
    walk_opts_t o2 = {.include = blank, .n_include = 2, .no_default_excludes = true};
    got = walk_list(r, &o2, &st);
    T_EQ_INT(st.files, 6);
    free(got);
    free(r);
}

static void test_size_cap_skips_and_counts_large_files(void)
{
    char *r = fresh("cap");
    put(r, "small", "0123456789");
    put(r, "large", "0123456789A");
    walk_opts_t o = {.max_file_bytes = 10, .no_default_excludes = true};
    walk_stats_t st;
    char *got = walk_list(r, &o, &st);
    T_EQ_STR(got, "small");
    T_EQ_INT(st.too_large, 1);
    free(got);
    free(r);
}

static void test_binary_heuristic_looks_for_nul_in_first_8000_bytes(void)
{
    char buf[8192];
    memset(buf, 'a', sizeof buf);
    T_CHECK(!walk_is_binary(buf, sizeof buf));
    T_CHECK(!walk_is_binary(buf, 0));
    buf[7999] = '\0';
    T_CHECK(walk_is_binary(buf, sizeof buf));
    T_CHECK(!walk_is_binary(buf, 7999));
    buf[7999] = 'a';
    buf[8000] = '\0';
    T_CHECK(!walk_is_binary(buf, sizeof buf));
    T_CHECK(walk_is_binary("\x7f"
                           "ELF\0",
                           5));
}

/* ---- symlinks ---- */

static void test_symlink_to_file_inside_is_yielded_under_its_own_path(void)
{
    char *r = fresh("lfile");
    put(r, "real/data.c", "abc");
    link_at(r, "alias.c", "real/data.c");
    walk_stats_t st;
    char *got = walk_list(r, &plain, &st);
    T_EQ_STR(got, "alias.c,real/data.c");
    T_EQ_INT(st.symlinks_skipped, 0);
    free(got);
    free(r);
}

static void test_symlinks_out_of_the_project_are_skipped(void)
{
    char *outside = fresh("outside");
    put(outside, "secret.c", "x");
    char *r = fresh("lout");
    put(r, "in.c", "");
    char *target_file = path_join(outside, "secret.c");
    link_at(r, "out_file", target_file);
    link_at(r, "out_dir", outside);
    link_at(r, "rel_out", "../outside");
    link_at(r, "broken", "does-not-exist");
    walk_stats_t st;
    char *got = walk_list(r, &plain, &st);
    T_EQ_STR(got, "in.c");
    T_EQ_INT(st.symlinks_skipped, 4);
    free(got);
    free(target_file);
    free(r);
    free(outside);
}

static void test_symlink_loops_are_survived(void)
{
    char *r = fresh("loop");
    put(r, "a/f", "");
    link_at(r, "a/up", "..");   /* to an ancestor */
    link_at(r, "a/self", ".");  /* to its own directory */
    link_at(r, "spin", "spin"); /* ELOOP */
    link_at(r, "root", r);      /* absolute path to the root */
    walk_stats_t st;
    char *got = walk_list(r, &plain, &st);
    T_EQ_STR(got, "a/f");
    T_EQ_INT(st.symlinks_skipped, 4);
    free(got);
    free(r);
}

static void test_symlinked_directory_followed_once_when_not_walked_directly(void)
{
    char *r = fresh("ldir");
    put(r, ".gitignore", "vendor/\n");
    put(r, "vendor/lib/v.c", "");
    put(r, "src/s.c", "");
    link_at(r, "first", "vendor/lib");  /* ignored target: followed */
    link_at(r, "second", "vendor/lib"); /* the same directory again: skipped */
    link_at(r, "alias", "src");         /* walked under src/ anyway: skipped */
    put(r, "vendor/lib/back", "");
    walk_stats_t st;
    char *got = walk_list(r, &plain, &st);
    T_EQ_STR(got, ".gitignore,first/back,first/v.c,src/s.c");
    T_EQ_INT(st.symlinks_skipped, 2);
    free(got);
    free(r);
}

/* ---- errors and stopping ---- */

/* Walks r expecting only "open/a" and one error; returns 0 when that is what happened. */
static int walk_expecting_one_unreadable(const char *r)
{
    walk_stats_t st;
    char *got = walk_list(r, &plain, &st);
    int bad = strcmp(got, "open/a") != 0 || st.errors != 1;
    if (bad) fprintf(stderr, "  got \"%s\", %llu errors\n", got, (unsigned long long)st.errors);
    free(got);
    return bad;
}

static void test_unreadable_directory_is_counted_and_skipped(void)
{
    char *r = fresh("unreadable");
    put(r, "open/a", "");
    put(r, "shut/b", "");
    char *shut = path_join(r, "shut");
    T_EQ_INT(chmod(shut, 0), 0);
    if (geteuid() != 0) {
        T_EQ_INT(walk_expecting_one_unreadable(r), 0);
    } else {
        /* root reads through mode 000, so walk in a child that dropped to "nobody". */
        chmod(t_tmpdir(), 0755);
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(77);
            _exit(walk_expecting_one_unreadable(r));
        }
        int status = 0;
        T_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
            fprintf(stderr, "  note: running as root and cannot drop privileges: chmod 000 does "
                            "not block root, so the unreadable-directory check is skipped\n");
        else
            T_EQ_INT(WEXITSTATUS(status), 0);
        chmod(t_tmpdir(), 0700);
    }
    chmod(shut, 0755);
    free(shut);
    free(r);
}

typedef struct {
    const char *root;
    seen_t seen;
} deleter_t;

static int delete_later_entries(void *ctx, const walk_entry_t *e)
{
    deleter_t *d = ctx;
    record(&d->seen, e);
    if (strcmp(e->path, "a") == 0) {
        char *c = path_join(d->root, "c");
        char *dir = path_join(d->root, "d/x");
        char *ddir = path_join(d->root, "d");
        unlink(c);
        unlink(dir);
        rmdir(ddir);
        free(c);
        free(dir);
        free(ddir);
    }
    return 0;
}

static void test_entries_vanishing_mid_walk_are_counted(void)
{
    char *r = fresh("vanish");
    put(r, "a", "");
    put(r, "b", "");
    put(r, "c", "");
    put(r, "d/x", "");
    deleter_t d = {.root = r};
    walk_stats_t st;
    err_t err;
    T_EQ_INT(walk_project(r, &plain, delete_later_entries, &d, &st, &err), 0);
    T_EQ_STR(d.seen.list.data, "a,b");
    T_EQ_INT(st.errors, 2); /* the file c and the directory d */
    T_EQ_INT(st.files, 2);
    sbuf_free(&d.seen.list);
    free(r);
}

typedef struct {
    volatile int *stop;
    int calls;
} stopper_t;

static int raise_stop(void *ctx, const walk_entry_t *e)
{
    (void)e;
    stopper_t *s = ctx;
    s->calls++;
    *s->stop = 1;
    return 0;
}

static void test_stop_flag_ends_the_walk_with_1(void)
{
    char *r = fresh("stop");
    put(r, "a", "");
    put(r, "d/b", "");
    put(r, "d/c", "");
    volatile int stop = 0;
    walk_opts_t o = {.no_default_excludes = true, .stop = &stop};
    stopper_t s = {.stop = &stop};
    err_t err;
    T_EQ_INT(walk_project(r, &o, raise_stop, &s, NULL, &err), 1);
    T_EQ_INT(s.calls, 1);
    free(r);
}

static int stop_with_7(void *ctx, const walk_entry_t *e)
{
    (void)e;
    ++*(int *)ctx;
    return 7;
}

static void test_callback_return_value_stops_the_walk(void)
{
    char *r = fresh("cbstop");
    put(r, "a/x", "");
    put(r, "b", "");
    int calls = 0;
    err_t err;
    T_EQ_INT(walk_project(r, &plain, stop_with_7, &calls, NULL, &err), 7);
    T_EQ_INT(calls, 1);
    free(r);
}

static void test_missing_root_fails_with_a_clear_error(void)
{
    err_t err = {{0}};
    int calls = 0;
    T_EQ_INT(walk_project("/nonexistent/embecode-root", NULL, stop_with_7, &calls, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "/nonexistent/embecode-root") != NULL);
    T_CHECK(strstr(err.msg, "No such file") != NULL);
    char *r = fresh("rootfile");
    put(r, "f", "");
    char *f = path_join(r, "f");
    T_EQ_INT(walk_project(f, NULL, stop_with_7, &calls, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "Not a directory") != NULL);
    T_EQ_INT(calls, 0);
    T_CHECK(walk_filter_new(f, NULL, &err) == NULL);
    T_CHECK(strstr(err.msg, "not a directory") != NULL);
    free(f);
    free(r);
}

static void test_special_files_are_not_yielded(void)
{
    char *r = fresh("special");
    put(r, "a", "");
    char *fifo = path_join(r, "pipe");
    T_EQ_INT(mkfifo(fifo, 0644), 0);
    char *got = walk_list(r, &plain, NULL);
    T_EQ_STR(got, "a");
    free(got);
    free(fifo);
    free(r);
}

/* ---- the per-path filter ---- */

static void test_filter_agrees_with_the_walk(void)
{
    char *r = fresh("filter");
    put(r, ".gitignore", "*.log\ntmp/\n!keep.log\n");
    put(r, ".git/info/exclude", "*.secret\n");
    put(r, "a.log", "");
    put(r, "keep.log", "");
    put(r, "tmp/keep.log", "");
    put(r, "x.secret", "");
    put(r, "node_modules/p/i.js", "");
    put(r, "src/a.c", "");
    put(r, "src/a.md", "");
    put(r, "src/gen/g.c", "");
    put(r, "docs/d.txt", "");
    const char *in[] = {"src/", "*.log", "!src/gen/"};
    const char *ex[] = {"*.md"};
    walk_opts_t o = {.include = in, .n_include = 3, .exclude = ex, .n_exclude = 1};
    char *got = walk_list(r, &o, NULL);
    T_EQ_STR(got, "keep.log,src/a.c");
    free(got);

    err_t err;
    walk_filter_t *f = walk_filter_new(r, &o, &err);
    T_CHECK(f != NULL);
    static const struct {
        const char *path;
        bool is_dir, excluded;
    } cases[] = {
        {"a.log", false, true},
        {"keep.log", false, false},
        {"tmp", true, true},
        {"tmp/keep.log", false, true},
        {"x.secret", false, true},
        {"node_modules", true, true},
        {"node_modules/p/i.js", false, true},
        {"src", true, false},
        {"src/a.c", false, false},
        {"src/a.md", false, true},
        {"src/gen", true, false},
        {"src/gen/g.c", false, true},
        {"docs", true, false},
        {"docs/d.txt", false, true},
        {".git/config", false, true},
        {"", false, true},
        {"/abs", false, true},
        {"a/../b", false, true},
        {"./a", false, true},
        {"a//b", false, true},
        {"src/", true, true},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        bool ex2 = walk_filter_excluded(f, cases[i].path, cases[i].is_dir);
        if (ex2 != cases[i].excluded) {
            fprintf(stderr, "  walk_filter_excluded(\"%s\") = %d\n", cases[i].path, ex2);
            T_CHECK(ex2 == cases[i].excluded);
        }
    }
    walk_filter_free(f);
    walk_filter_free(NULL);
    free(r);
}

int main(void)
{
    T_RUN(test_walk_order_is_sorted_and_depth_first);
    T_RUN(test_entry_reports_size_and_mtime_ns);
    T_RUN(test_dotgit_is_never_walked);
    T_RUN(test_gitignore_applies_without_git_directory);
    T_RUN(test_default_excludes_apply_unless_disabled);
    T_RUN(test_config_exclude_globs_can_also_reinclude_defaults);
    T_RUN(test_config_include_deepest_match_decides);
    T_RUN(test_size_cap_skips_and_counts_large_files);
    T_RUN(test_binary_heuristic_looks_for_nul_in_first_8000_bytes);
    T_RUN(test_symlink_to_file_inside_is_yielded_under_its_own_path);
    T_RUN(test_symlinks_out_of_the_project_are_skipped);
    T_RUN(test_symlink_loops_are_survived);
    T_RUN(test_symlinked_directory_followed_once_when_not_walked_directly);
    T_RUN(test_unreadable_directory_is_counted_and_skipped);
    T_RUN(test_entries_vanishing_mid_walk_are_counted);
    T_RUN(test_stop_flag_ends_the_walk_with_1);
    T_RUN(test_callback_return_value_stops_the_walk);
    T_RUN(test_missing_root_fails_with_a_clear_error);
    T_RUN(test_special_files_are_not_yielded);
    T_RUN(test_filter_agrees_with_the_walk);
    return t_done();
}
