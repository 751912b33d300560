/* Differential test: walk_project and ignore_path_excluded against git itself.
 *
 * With a fixed seed, generates random trees (nested directories, awkward file names, a
 * .gitignore in the root and in some subdirectories, .git/info/exclude) whose ignore lines
 * are drawn from a grammar covering every gitignore rule: negation, anchoring by a leading
 * or middle '/', trailing '/', * ? [..] [!..] [^..] ranges and [[:class:]], leading, trailing
 * and inner double stars, backslash escapes, trailing spaces (plain and escaped), CRLF,
 * comments, blank lines, a missing final newline and a UTF-8 BOM. Then:
 *  - the files walk_project yields (no default excludes, no cap) must equal
 *    `git ls-files --others --exclude-standard -z` (nothing is committed);
 *  - ignore_path_excluded must agree with `git check-ignore --no-index` on every file and
 *    directory of the tree;
 *  - for every third tree, the same walk without a .git directory must equal git's answer
 *    with an empty info/exclude.
 * On a difference it prints the tree's ignore files and the first differing path.
 * Environment: WALK_GIT_SEED and WALK_GIT_TREES (default 200) override the seed and the tree
 * count. Trees go under $TMPDIR, or /dev/shm when TMPDIR is unset. */
#include <stdint.h>
#include <sys/stat.h>

#include "ignore.h"
#include "t.h"
#include "util.h"
#include "walk.h"

/* ---- small utilities ---- */

static uint64_t rng_state, base_seed;
static size_t n_generated, n_listed; /* how many files the trees had, and git listed */

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *pick(const char *const *v, size_t n)
{
    return v[rnd((uint32_t)n)];
}
#define PICK(arr) pick(arr, ARRAY_LEN(arr))

typedef struct {
    char **v;
    size_t n, cap;
} strs_t;

static void strs_add(strs_t *s, const char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = xstrdup(str);
}

static void strs_free(strs_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strs_sort(strs_t *s)
{
    if (s->n > 1) qsort(s->v, s->n, sizeof *s->v, cmp_str);
}

static bool strs_has(const strs_t *sorted, const char *str)
{
    return sorted->n && bsearch(&str, sorted->v, sorted->n, sizeof *sorted->v, cmp_str) != NULL;
}

static void write_bytes(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) fprintf(stderr, "cannot write %s\n", path);
    if (f) fclose(f);
}

/* Runs a shell command and returns its stdout split at NUL bytes. */
static bool run_nul_list(const char *cmd, strs_t *out)
{
    FILE *p = popen(cmd, "r");
    if (!p) return false;
    sbuf_t b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        sbuf_append(&b, buf, n);
    int rc = pclose(p);
    for (size_t i = 0; i < b.len;) {
        size_t len = strlen(b.data + i);
        strs_add(out, b.data + i);
        i += len + 1;
    }
    sbuf_free(&b);
    (void)rc; /* check-ignore exits 1 when nothing is ignored */
    return true;
}

static void write_rel(const char *root, const char *rel, const char *data, size_t len)
{
    char *path = path_join(root, rel);
    write_bytes(path, data, len);
    free(path);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

/* ---- the generated tree ---- */

typedef struct {
    char *root;
    strs_t files, dirs;  /* every generated path (project-relative) */
    strs_t ignore_files; /* relative paths of the pattern files written, for reports */
} tree_t;

static const char *const dir_names[] = {"a",   "b", "c",   "doc", "build",
                                        "sub", "x", "foo", "a b", "deep"};
static const char *const file_names[] = {
    "a",     "b",        "c",     "a.c",      "b.c", "x.txt", "foo", "foo.py",  "Foo.py", "ab",
    "ba",    "abc",      "x.log", "keep.log", "#h",  "!n",    "sp ", "st*r",    "q?",     "br[x]",
    "bs\\x", "t.min.js", "z.o",   ".hidden",  "a-b", "doc",   "1x",  "file.txt"};

/* A name usable as a literal pattern: glob specials and a leading '#' or '!' escaped, and a
 * trailing space protected, the way a careful .gitignore author would write it. */
static void put_literal(sbuf_t *b, const char *name)
{
    for (const char *p = name; *p; p++) {
        bool first = p == name, last = p[1] == '\0';
        if (strchr("*?[\\", *p) || (first && (*p == '#' || *p == '!')) || (last && *p == ' '))
            sbuf_putc(b, '\\');
        sbuf_putc(b, *p);
    }
}

static void put_segment(sbuf_t *b)
{
    static const char *const globs[] = {"*",
                                        "?",
                                        "a*",
                                        "*.c",
                                        "*.py",
                                        "[ab]*",
                                        "[!a]",
                                        "[a-c]",
                                        "[^x]*",
                                        "?.c",
                                        "[[:alpha:]]*",
                                        "f*o",
                                        "*b",
                                        "*.txt",
                                        "[[:digit:]]*",
                                        "*.log",
                                        "[a-z][a-z]",
                                        "**",
                                        "b?",
                                        "*[xo]",
                                        "x*",
                                        "[!.]*",
                                        "[[:upper:]]*",
                                        "[[:punct:]]*",
                                        "*[[:punct:]]?",
                                        "[[:lower:]][[:lower:]]"};
    uint32_t r = rnd(100);
    if (r < 45) {
        const char *name = rnd(2) ? PICK(dir_names) : PICK(file_names);
        if (rnd(8) == 0)
            sbuf_puts(b, name); /* raw: specials act as globs */
        else
            put_literal(b, name);
    } else {
        sbuf_puts(b, PICK(globs));
    }
}

/* One line of an ignore file, with its line end. */
static void put_line(sbuf_t *b)
{
    uint32_t r = rnd(100);
    if (r < 4) {
        sbuf_puts(b, "# comment *.c\n");
        return;
    }
    if (r < 7) {
        sbuf_puts(b, rnd(2) ? "\n" : "   \n");
        return;
    }
    if (rnd(5) == 0) sbuf_putc(b, '!');
    static const char *const odd[] = {
        "*/",    "/*",        "/**",           "**/",     "**",     "***",
        "a\\/b", "a[/]b",     "**\\/doc",      "*/*",     "/*/*",   "a/b/c",
        "a/*/b", "*/b",       "deep/**/x.txt", "a b",     "a\\ b",  "*/**/*",
        "/**/a", "**/**",     "a/**",          "sub/**/", "**/*.c", "c/**/**/a.c",
        "foo/*", "x/**/*.py", "**/build/*"};
    switch (rnd(12)) {
    case 10:
        sbuf_puts(b, PICK(odd));
        break;
    case 0:
    case 1:
    case 2:
        put_segment(b);
        break; /* basename at any depth */
    case 3:
        sbuf_putc(b, '/');
        put_segment(b);
        break; /* anchored */
    case 4:
        put_segment(b);
        sbuf_putc(b, '/');
        put_segment(b);
        break; /* middle slash */
    case 5:
        sbuf_puts(b, "**/");
        put_segment(b);
        break;
    case 6:
        put_segment(b);
        sbuf_puts(b, "/**");
        break;
    case 7:
        put_segment(b);
        sbuf_puts(b, "/**/");
        put_segment(b);
        break;
    case 8:
        sbuf_putc(b, '/');
        put_segment(b);
        sbuf_putc(b, '/');
        put_segment(b);
        break;
    case 9:
        put_segment(b);
        sbuf_puts(b, "**/");
        put_segment(b);
        break;
    default:
        sbuf_puts(b, PICK(file_names));
        break; /* raw name, maybe "#h" or "!n" */
    }
    if (rnd(4) == 0) sbuf_putc(b, '/');
    switch (rnd(12)) {
    case 0:
        sbuf_puts(b, "  ");
        break;
    case 1:
        sbuf_puts(b, " ");
        break;
    case 2:
        sbuf_puts(b, "\\ ");
        break;
    default:
        break;
    }
    sbuf_puts(b, rnd(5) == 0 ? "\r\n" : "\n");
}

static void write_ignore_file(tree_t *t, const char *rel, int lines)
{
    sbuf_t b = {0};
    if (rnd(10) == 0) sbuf_puts(&b, "\xEF\xBB\xBF"); /* a UTF-8 byte order mark */
    for (int i = 0; i < lines; i++)
        put_line(&b);
    if (b.len && rnd(6) == 0) b.len--, b.data[b.len] = '\0'; /* no final newline */
    char *path = path_join(t->root, rel);
    write_bytes(path, b.data ? b.data : "", b.len);
    strs_add(&t->ignore_files, rel);
    free(path);
    sbuf_free(&b);
}

static void gen_dir(tree_t *t, const char *rel, int depth)
{
    char *abs = rel[0] ? path_join(t->root, rel) : xstrdup(t->root);
    int nfiles = 1 + (int)rnd(5);
    for (int i = 0; i < nfiles; i++) {
        const char *name = PICK(file_names);
        char *p = path_join(abs, name);
        struct stat st;
        if (lstat(p, &st) != 0) {
            write_bytes(p, "x", 1);
            char *r = rel[0] ? xasprintf("%s/%s", rel, name) : xstrdup(name);
            strs_add(&t->files, r);
            free(r);
        }
        free(p);
    }
    if (rnd(100) < (rel[0] ? 45u : 90u)) {
        char *r = rel[0] ? xasprintf("%s/.gitignore", rel) : xstrdup(".gitignore");
        write_ignore_file(t, r, 1 + (int)rnd(7));
        strs_add(&t->files, r);
        free(r);
    }
    int ndirs = depth < 4 ? (int)rnd(depth == 0 ? 5 : 4) : 0;
    for (int i = 0; i < ndirs; i++) {
        const char *name = PICK(dir_names);
        char *p = path_join(abs, name);
        struct stat st;
        if (lstat(p, &st) != 0 && mkdir(p, 0755) == 0) {
            char *r = rel[0] ? xasprintf("%s/%s", rel, name) : xstrdup(name);
            strs_add(&t->dirs, r);
            gen_dir(t, r, depth + 1);
            free(r);
        }
        free(p);
    }
    free(abs);
}

static void tree_free(tree_t *t)
{
    free(t->root);
    strs_free(&t->files);
    strs_free(&t->dirs);
    strs_free(&t->ignore_files);
}

/* Prints a file with \r and trailing spaces made visible. */
static void dump_file(const char *root, const char *rel)
{
    char *path = path_join(root, rel);
    char *data;
    size_t len;
    if (file_read_all(path, 1 << 20, &data, &len, NULL) == 0) {
        fprintf(stderr, "  --- %s ---\n  ", rel);
        for (size_t i = 0; i < len; i++) {
            char c = data[i];
            if (c == '\r')
                fputs("\\r", stderr);
            else if (c == ' ' && (i + 1 == len || data[i + 1] == '\n' || data[i + 1] == '\r'))
                fputs("<SP>", stderr);
            else if (c == '\n')
                fputs("\n  ", stderr);
            else
                fputc(c, stderr);
        }
        fputc('\n', stderr);
        free(data);
    }
    free(path);
}

static void report_tree(const tree_t *t)
{
    fprintf(stderr, "  tree %s (T_KEEP=1 keeps it)\n", t->root);
    for (size_t i = 0; i < t->ignore_files.n; i++)
        dump_file(t->root, t->ignore_files.v[i]);
}

/* ---- the comparisons ---- */

static int collect(void *ctx, const walk_entry_t *e)
{
    strs_add(ctx, e->path);
    return 0;
}

static bool walk_files(const char *root, strs_t *out)
{
    walk_opts_t o = {.no_default_excludes = true};
    walk_stats_t st;
    err_t err;
    if (walk_project(root, &o, collect, out, &st, &err) != 0) {
        fprintf(stderr, "  walk failed: %s\n", err.msg);
        return false;
    }
    strs_sort(out);
    return true;
}

/* Compares two sorted lists; reports the first difference. */
static bool same_files(const tree_t *t, const strs_t *ours, const strs_t *git, const char *what)
{
    size_t i = 0, j = 0;
    while (i < ours->n || j < git->n) {
        int c = i == ours->n ? 1 : j == git->n ? -1 : strcmp(ours->v[i], git->v[j]);
        if (c != 0) {
            fprintf(stderr, "  %s: \"%s\" is listed by %s only\n", what,
                    c < 0 ? ours->v[i] : git->v[j], c < 0 ? "walk_project" : "git");
            report_tree(t);
            return false;
        }
        i++, j++;
    }
    return true;
}

static bool check_ignore_agrees(const tree_t *t)
{
    char *input = xasprintf("%s.paths", t->root);
    sbuf_t b = {0};
    for (size_t i = 0; i < t->files.n; i++)
        sbuf_append(&b, t->files.v[i], strlen(t->files.v[i]) + 1);
    for (size_t i = 0; i < t->dirs.n; i++)
        sbuf_append(&b, t->dirs.v[i], strlen(t->dirs.v[i]) + 1);
    write_bytes(input, b.data ? b.data : "", b.len);
    sbuf_free(&b);
    char *cmd = xasprintf("git -C '%s' check-ignore --no-index --stdin -z < '%s'", t->root, input);
    strs_t ignored = {0};
    bool ok = run_nul_list(cmd, &ignored);
    strs_sort(&ignored);
    ignore_t *ig = ignore_new(t->root);
    for (size_t k = 0; ok && k < t->files.n + t->dirs.n; k++) {
        bool is_dir = k >= t->files.n;
        const char *p = is_dir ? t->dirs.v[k - t->files.n] : t->files.v[k];
        bool ours = ignore_path_excluded(ig, p, is_dir), git = strs_has(&ignored, p);
        if (ours != git) {
            fprintf(stderr,
                    "  check-ignore: %s \"%s\": git says %s, ignore_path_excluded says %s\n",
                    is_dir ? "directory" : "file", p, git ? "ignored" : "not ignored",
                    ours ? "ignored" : "not ignored");
            report_tree(t);
            ok = false;
        }
    }
    ignore_free(ig);
    strs_free(&ignored);
    free(cmd);
    free(input);
    return ok;
}

/* Runs one random tree; returns false on the first disagreement. Each tree has its own
 * stream of random numbers, so a failing tree can be replayed alone. */
static bool one_tree(int idx)
{
    rng_state = base_seed * 6364136223846793005ull + (uint64_t)idx * 1442695040888963407ull;
    if (!rng_state) rng_state = 1;
    tree_t t = {.root = xasprintf("%s/t%d", t_tmpdir(), idx)};
    char *cmd =
        xasprintf("git -c init.defaultBranch=main init -q --template= '%s' 2>/dev/null", t.root);
    bool ok = run(cmd) == 0;
    free(cmd);
    if (!ok) return false;
    char *info_dir = path_join(t.root, ".git/info");
    err_t err;
    mkdir_p(info_dir, &err);
    free(info_dir);
    write_ignore_file(&t, ".git/info/exclude", (int)rnd(4));
    gen_dir(&t, "", 0);

    strs_t ours = {0}, git = {0};
    cmd = xasprintf("git -C '%s' ls-files --others --exclude-standard -z", t.root);
    ok = run_nul_list(cmd, &git) && walk_files(t.root, &ours);
    strs_sort(&git);
    free(cmd);
    if (ok) ok = same_files(&t, &ours, &git, "ls-files");
    if (ok) ok = check_ignore_agrees(&t);
    n_generated += t.files.n;
    n_listed += git.n;

    if (ok && idx % 3 == 0) {
        /* Without .git: git's answer when info/exclude is empty. */
        strs_free(&ours);
        strs_free(&git);
        char *excl = path_join(t.root, ".git/info/exclude");
        write_bytes(excl, "", 0);
        free(excl);
        cmd = xasprintf("git -C '%s' ls-files --others --exclude-standard -z", t.root);
        ok = run_nul_list(cmd, &git);
        strs_sort(&git);
        free(cmd);
        char *from = path_join(t.root, ".git");
        char *to = xasprintf("%s.git-moved", t.root);
        ok = ok && rename(from, to) == 0 && walk_files(t.root, &ours);
        if (ok) ok = same_files(&t, &ours, &git, "without .git");
        free(from);
        free(to);
    }
    strs_free(&ours);
    strs_free(&git);
    tree_free(&t);
    return ok;
}

static int n_trees = 200;

static void test_walk_matches_git_on_random_trees(void)
{
    int agreed = 0;
    for (int i = 0; i < n_trees; i++) {
        if (!one_tree(i)) {
            fprintf(stderr, "  tree %d disagrees with git (WALK_GIT_SEED=%llu)\n", i,
                    (unsigned long long)base_seed);
            T_CHECK(false);
            break;
        }
        agreed++;
    }
    if (getenv("T_VERBOSE"))
        fprintf(stderr, "  %d trees agree with git; %zu of their %zu files are not ignored\n",
                agreed, n_listed, n_generated);
    T_CHECK(n_listed > n_generated / 5 && n_listed < n_generated * 4 / 5); /* rules really bite */
}

/* A fixed tree with every rule at least once, so coverage does not depend on luck. */
static void test_walk_matches_git_on_handwritten_tree(void)
{
    tree_t t = {.root = xasprintf("%s/fixed", t_tmpdir())};
    char *cmd =
        xasprintf("git -c init.defaultBranch=main init -q --template= '%s' 2>/dev/null", t.root);
    T_EQ_INT(run(cmd), 0);
    free(cmd);
    static const char *const files[] = {"a.log",
                                        "keep.log",
                                        "build/x.c",
                                        "buildfile",
                                        "sub/build/y.c",
                                        "top",
                                        "sub/top",
                                        "doc/frotz",
                                        "x/doc/frotz",
                                        "q/a.c",
                                        "q/r/a.c",
                                        "b1.md",
                                        "d.md",
                                        "deep/x/y/z/foo",
                                        "abc/in",
                                        "abc/d/in2",
                                        "m/n/o/b",
                                        "m/b",
                                        "sp ",
                                        "sp",
                                        "esc ",
                                        "#h",
                                        "!n",
                                        "st*r",
                                        "crlf",
                                        "n1/keep.txt",
                                        "n1/other.txt",
                                        "n1/n2/keep.txt",
                                        "n1/n2/deny.txt",
                                        "ex/keep.txt",
                                        "ex/sub/f",
                                        "cls7",
                                        "clsA",
                                        "info.secret",
                                        "foo/bar",
                                        "fooX/bar",
                                        "foo/a/b/bar"};
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        char *p = path_join(t.root, files[i]);
        char *d = xstrdup(p);
        *strrchr(d, '/') = '\0';
        err_t err;
        mkdir_p(d, &err);
        write_bytes(p, "x", 1);
        strs_add(&t.files, files[i]);
        free(d);
        free(p);
    }
    static const char root_gi[] =
        "# comment\n\n*.log\n!keep.log\nbuild/\n/top\ndoc/frotz\nq/*.c\n[a-c][0-9].md\n"
        "**/z/foo\nabc/**\nm/**/b\nsp  \nesc\\ \n\\#h\n\\!n\nst\\*r\ncrlf\r\n*.txt\nex/\n"
        "!ex/keep.txt\ncls[[:digit:]]\nfoo**/bar\n";
    static const char n1_gi[] = "!keep.txt\n";
    static const char n2_gi[] = "*.txt\n!keep.txt\n";
    write_rel(t.root, ".gitignore", root_gi, sizeof root_gi - 1);
    write_rel(t.root, "n1/.gitignore", n1_gi, sizeof n1_gi - 1);
    write_rel(t.root, "n1/n2/.gitignore", n2_gi, sizeof n2_gi - 1);
    char *info = path_join(t.root, ".git/info");
    err_t err;
    mkdir_p(info, &err);
    free(info);
    write_rel(t.root, ".git/info/exclude", "*.secret\n", 9);
    strs_add(&t.ignore_files, ".gitignore");
    strs_add(&t.ignore_files, "n1/.gitignore");
    strs_add(&t.ignore_files, "n1/n2/.gitignore");
    strs_add(&t.ignore_files, ".git/info/exclude");
    strs_add(&t.files, ".gitignore");
    strs_add(&t.files, "n1/.gitignore");
    strs_add(&t.files, "n1/n2/.gitignore");
    static const char *const dirs[] = {"build", "sub",  "sub/build", "doc",   "x", "q",
                                       "q/r",   "deep", "abc",       "abc/d", "m", "n1",
                                       "n1/n2", "ex",   "ex/sub",    "foo"};
    for (size_t i = 0; i < ARRAY_LEN(dirs); i++)
        strs_add(&t.dirs, dirs[i]);

    strs_t ours = {0}, git = {0};
    cmd = xasprintf("git -C '%s' ls-files --others --exclude-standard -z", t.root);
    T_CHECK(run_nul_list(cmd, &git));
    strs_sort(&git);
    T_CHECK(walk_files(t.root, &ours));
    T_CHECK(same_files(&t, &ours, &git, "ls-files"));
    T_CHECK(check_ignore_agrees(&t));
    /* The expectations themselves, so a broken git setup cannot make this pass vacuously. */
    T_CHECK(strs_has(&ours, "keep.log") && !strs_has(&ours, "a.log"));
    T_CHECK(strs_has(&ours, "n1/keep.txt") && strs_has(&ours, "n1/n2/keep.txt"));
    T_CHECK(!strs_has(&ours, "n1/n2/deny.txt") && !strs_has(&ours, "ex/keep.txt"));
    T_CHECK(strs_has(&ours, "sp ") && !strs_has(&ours, "sp") && !strs_has(&ours, "esc "));
    T_CHECK(!strs_has(&ours, "foo/a/b/bar") && !strs_has(&ours, "info.secret"));
    free(cmd);
    strs_free(&ours);
    strs_free(&git);
    tree_free(&t);
}

int main(void)
{
    /* Hundreds of small files and git repositories: on a disk-backed /tmp their metadata
     * writes dominate the run time, so prefer memory when the caller did not choose. */
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0) setenv("TMPDIR", "/dev/shm", 1);
    char *home = path_join(t_tmpdir(), "home");
    err_t err;
    mkdir_p(home, &err);
    /* Keep the user's and the system's git configuration (core.excludesFile) out of it. */
    setenv("HOME", home, 1);
    setenv("XDG_CONFIG_HOME", home, 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    unsetenv("GIT_DIR");
    unsetenv("GIT_WORK_TREE");
    unsetenv("GIT_INDEX_FILE");
    free(home);
    const char *seed = getenv("WALK_GIT_SEED"), *trees = getenv("WALK_GIT_TREES");
    base_seed = seed ? strtoull(seed, NULL, 10) : 20240601;
    if (trees) n_trees = atoi(trees);
    if (system("git --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "git is not installed: this test needs it\n");
        return 1;
    }
    T_RUN(test_walk_matches_git_on_handwritten_tree);
    T_RUN(test_walk_matches_git_on_random_trees);
    return t_done();
}
