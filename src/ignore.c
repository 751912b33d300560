/* ignore.c — gitignore pattern lists, the per-directory stack, and per-path decisions.
 * Parsing and matching follow git's dir.c step by step (add_patterns_from_buffer,
 * parse_path_pattern, match_basename, match_pathname, prep_exclude), because the small
 * details (which spaces are trimmed, the literal prefix compared before globbing) change
 * answers on real .gitignore files. */
#include "ignore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "glob.h"

#define PAT_NEGATIVE 1u  /* line started with '!' */
#define PAT_MUSTBEDIR 2u /* line ended with '/' */
#define PAT_NODIR 4u     /* no '/' in the pattern: match the basename */
#define PAT_ENDSWITH 8u  /* "*literal": a suffix test is enough */

/* The largest pattern file we read; real ones are a few KiB. */
#define IGNORE_FILE_MAX (16u << 20)

typedef struct {
    char *text;     /* without the '!' and the trailing '/' */
    size_t len;     /* strlen(text) */
    size_t literal; /* length of the wildcard-free prefix */
    unsigned flags;
} pattern_t;

struct ignore_list {
    char *base;     /* "" or "dir/sub/" */
    size_t baselen; /* strlen(base) */
    pattern_t *pats;
    size_t n, cap;
};

struct ignore_stack {
    const ignore_list_t *global;
    ignore_list_t **lists; /* [0] is the root's; entries may be NULL */
    size_t n, cap;
};

struct ignore {
    char *root;
    ignore_list_t *info_exclude;
};

/* ---- parsing ---------------------------------------------------------------------------- */

ignore_list_t *ignore_list_new(const char *base)
{
    ignore_list_t *l = xcalloc(1, sizeof *l);
    l->base = xstrdup(base ? base : "");
    l->baselen = strlen(l->base);
    return l;
}

/* Drops unescaped trailing spaces (only ' ', not tabs), as git's trim_trailing_spaces. */
static void trim_trailing_spaces(char *s)
{
    char *last_space = NULL;
    for (char *p = s; *p; p++) {
        if (*p == ' ') {
            if (!last_space) last_space = p;
            continue;
        }
        if (*p == '\\') {
            p++;
            if (!*p) return;
        }
        last_space = NULL;
    }
    if (last_space) *last_space = '\0';
}

/* One line, already cut at its end, CR removed and spaces trimmed. */
static void add_pattern(ignore_list_t *l, const char *line)
{
    unsigned flags = 0;
    const char *p = line;
    if (*p == '!') {
        flags |= PAT_NEGATIVE;
        p++;
    }
    size_t len = strlen(p);
    if (len && p[len - 1] == '/') {
        len--;
        flags |= PAT_MUSTBEDIR;
    }
    /* An empty pattern ("", "!", "/") can never match a path: keep nothing. */
    if (len == 0) return;
    if (!memchr(p, '/', len)) flags |= PAT_NODIR;
    size_t literal = EC_MIN(glob_literal_len(p), len);
    if (p[0] == '*' && p[1 + glob_literal_len(p + 1)] == '\0') flags |= PAT_ENDSWITH;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->pats = xrealloc(l->pats, l->cap * sizeof *l->pats);
    }
    l->pats[l->n++] = (pattern_t){xstrndup(p, len), len, literal, flags};
}

void ignore_list_add_text(ignore_list_t *l, const char *text, size_t len)
{
    size_t start = 0;
    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - start;
        const char *line = text + start;
        if (n > 0 && line[0] != '#') {
            if (line[n - 1] == '\r') n--;
            char *copy = xstrndup(line, n); /* an embedded NUL ends the line, as in git */
            trim_trailing_spaces(copy);
            add_pattern(l, copy);
            free(copy);
        }
        start = end + 1;
    }
}

ignore_list_t *ignore_list_parse(const char *text, size_t len, const char *base)
{
    ignore_list_t *l = ignore_list_new(base);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    ignore_list_add_text(l, text, len);
    return l;
}

void ignore_list_free(ignore_list_t *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        free(l->pats[i].text);
    free(l->pats);
    free(l->base);
    free(l);
}

size_t ignore_list_count(const ignore_list_t *l)
{
    return l ? l->n : 0;
}

int ignore_list_load(int dirfd, const char *name, const char *base, bool nofollow,
                     ignore_list_t **out, err_t *err)
{
    *out = NULL;
    int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (nofollow ? O_NOFOLLOW : 0);
    int fd = openat(dirfd, name, flags);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        if (errno == ELOOP && nofollow)
            return err_set(err,
                           "%s%s is a symbolic link; git does not follow it either, so "
                           "its patterns are not used",
                           base, name);
        return err_set(err, "cannot open %s%s: %s; its patterns are not used", base, name,
                       strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(err, "%s%s is not a regular file; its patterns are not used", base, name);
    }
    if ((uint64_t)st.st_size > IGNORE_FILE_MAX) {
        close(fd);
        return err_set(err,
                       "%s%s is %lld bytes, over the %u-byte limit for pattern files; its "
                       "patterns are not used",
                       base, name, (long long)st.st_size, IGNORE_FILE_MAX);
    }
    sbuf_t buf = {0};
    char chunk[8192];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            sbuf_free(&buf);
            return err_set(err, "cannot read %s%s: %s; its patterns are not used", base, name,
                           strerror(e));
        }
        if (r == 0 || buf.len + (size_t)r > IGNORE_FILE_MAX) break;
        sbuf_append(&buf, chunk, (size_t)r);
    }
    close(fd);
    *out = ignore_list_parse(buf.data ? buf.data : "", buf.len, base);
    sbuf_free(&buf);
    return 0;
}

/* ---- matching --------------------------------------------------------------------------- */

static bool match_basename(const pattern_t *pt, const char *basename, size_t blen)
{
    if (pt->literal == pt->len) return blen == pt->len && memcmp(pt->text, basename, blen) == 0;
    if (pt->flags & PAT_ENDSWITH) {
        size_t tail = pt->len - 1;
        return tail <= blen && memcmp(pt->text + 1, basename + blen - tail, tail) == 0;
    }
    return glob_match(pt->text, basename, 0);
}

/* Anchored match relative to the list's directory. Like git, the wildcard-free prefix is
 * compared first and only the rest is globbed — which makes a `**` right after that prefix
 * count as a leading `**` (so "foo**\/bar" matches "foo/x/bar", as in git). */
static bool match_pathname(const pattern_t *pt, const ignore_list_t *l, const char *path,
                           size_t pathlen)
{
    const char *pat = pt->text;
    size_t plen = pt->len, prefix = pt->literal;
    if (*pat == '/') {
        pat++;
        plen--;
        prefix--;
    }
    size_t baselen = l->baselen ? l->baselen - 1 : 0; /* without its '/' */
    if (pathlen < baselen + 1 || (baselen && path[baselen] != '/') ||
        memcmp(path, l->base, baselen) != 0)
        return false;
    size_t namelen = baselen ? pathlen - baselen - 1 : pathlen;
    const char *name = path + pathlen - namelen;
    if (prefix) {
        if (prefix > namelen || memcmp(pat, name, prefix) != 0) return false;
        pat += prefix;
        plen -= prefix;
        name += prefix;
        namelen -= prefix;
        if (!plen && !namelen) return true;
    }
    return glob_match(pat, name, GLOB_PATHNAME);
}

ignore_verdict_t ignore_list_match(const ignore_list_t *l, const char *path, bool is_dir)
{
    if (!l || !l->n) return IGNORE_NONE;
    if (l->baselen && strncmp(path, l->base, l->baselen) != 0) return IGNORE_NONE;
    size_t pathlen = strlen(path);
    const char *slash = strrchr(path, '/');
    const char *basename = slash ? slash + 1 : path;
    size_t blen = pathlen - (size_t)(basename - path);
    for (size_t i = l->n; i-- > 0;) {
        const pattern_t *pt = &l->pats[i];
        if ((pt->flags & PAT_MUSTBEDIR) && !is_dir) continue;
        bool hit = (pt->flags & PAT_NODIR) ? match_basename(pt, basename, blen)
                                           : match_pathname(pt, l, path, pathlen);
        if (hit) return (pt->flags & PAT_NEGATIVE) ? IGNORE_NEGATED : IGNORE_MATCHED;
    }
    return IGNORE_NONE;
}

/* ---- the per-directory stack ------------------------------------------------------------ */

ignore_stack_t *ignore_stack_new(const ignore_list_t *global)
{
    ignore_stack_t *s = xcalloc(1, sizeof *s);
    s->global = global;
    return s;
}

void ignore_stack_push(ignore_stack_t *s, ignore_list_t *dir_list)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->lists = xrealloc(s->lists, s->cap * sizeof *s->lists);
    }
    s->lists[s->n++] = dir_list;
}

void ignore_stack_pop(ignore_stack_t *s)
{
    if (s->n == 0) return;
    ignore_list_free(s->lists[--s->n]);
}

size_t ignore_stack_depth(const ignore_stack_t *s)
{
    return s->n;
}

ignore_verdict_t ignore_stack_match(const ignore_stack_t *s, const char *path, bool is_dir)
{
    for (size_t i = s->n; i-- > 0;) {
        ignore_verdict_t v = ignore_list_match(s->lists[i], path, is_dir);
        if (v != IGNORE_NONE) return v;
    }
    return ignore_list_match(s->global, path, is_dir);
}

void ignore_stack_free(ignore_stack_t *s)
{
    if (!s) return;
    while (s->n)
        ignore_stack_pop(s);
    free(s->lists);
    free(s);
}

/* ---- info/exclude ----------------------------------------------------------------------- */

/* The first line of a small file, without its newline; NULL when unreadable. */
static char *read_first_line(const char *path)
{
    char *data;
    size_t len;
    if (file_read_all(path, 64 * 1024, &data, &len, NULL) != 0) return NULL;
    data[strcspn(data, "\r\n")] = '\0';
    return data;
}

/* Resolves `p` against directory `dir` unless it is absolute. */
static char *resolve_against(const char *dir, const char *p)
{
    return p[0] == '/' ? xstrdup(p) : path_join(dir, p);
}

ignore_list_t *ignore_load_info_exclude(const char *root)
{
    char *dotgit = path_join(root, ".git");
    char *gitdir = NULL;
    struct stat st;
    bool found = stat(dotgit, &st) == 0;
    if (found && S_ISDIR(st.st_mode)) {
        gitdir = dotgit;
        dotgit = NULL;
    } else if (found && S_ISREG(st.st_mode)) {
        /* A gitfile: "gitdir: <path>", relative to the directory holding it. */
        char *line = read_first_line(dotgit);
        if (line && strncmp(line, "gitdir:", 7) == 0) {
            const char *p = line + 7;
            while (*p == ' ')
                p++;
            if (*p) gitdir = resolve_against(root, p);
        }
        free(line);
    }
    free(dotgit);
    if (!gitdir) return NULL;

    /* Linked worktrees keep info/ in the common directory. */
    char *commondir_file = path_join(gitdir, "commondir");
    char *common = read_first_line(commondir_file);
    free(commondir_file);
    char *dir = common && *common ? resolve_against(gitdir, common) : xstrdup(gitdir);
    free(common);
    free(gitdir);

    char *path = path_join(dir, "info/exclude");
    free(dir);
    ignore_list_t *l = NULL;
    err_t err;
    if (ignore_list_load(AT_FDCWD, path, "", false, &l, &err) != 0) l = NULL;
    free(path);
    return l;
}

/* ---- per-path decisions ----------------------------------------------------------------- */

ignore_t *ignore_new(const char *root)
{
    ignore_t *ig = xcalloc(1, sizeof *ig);
    ig->root = xstrdup(root);
    ig->info_exclude = ignore_load_info_exclude(root);
    return ig;
}

void ignore_free(ignore_t *ig)
{
    if (!ig) return;
    ignore_list_free(ig->info_exclude);
    free(ig->root);
    free(ig);
}

bool ignore_path_in_dotgit(const char *relpath)
{
    for (const char *p = relpath;;) {
        size_t n = strcspn(p, "/");
        if (n == 4 && memcmp(p, ".git", 4) == 0) return true;
        if (!p[n]) return false;
        p += n + 1;
    }
}

/* Pushes the .gitignore of directory `dir` ("" or "a/b/") onto the stack. */
static void push_dir_list(const ignore_t *ig, ignore_stack_t *s, const char *dir)
{
    char *rel = xasprintf("%s.gitignore", dir);
    char *path = path_join(ig->root, rel);
    ignore_list_t *l = NULL;
    err_t err;
    if (ignore_list_load(AT_FDCWD, path, dir, true, &l, &err) != 0) l = NULL;
    ignore_stack_push(s, l);
    free(path);
    free(rel);
}

/* Mirrors git's prep_exclude: walk down the parents, stop at the first excluded one (its
 * contents are excluded whatever deeper files say), else decide the path itself. */
bool ignore_path_excluded(const ignore_t *ig, const char *relpath, bool is_dir)
{
    if (!relpath || !*relpath) return false;
    if (ignore_path_in_dotgit(relpath)) return true;
    ignore_stack_t *s = ignore_stack_new(ig->info_exclude);
    char *buf = xstrdup(relpath);
    bool excluded = false;
    push_dir_list(ig, s, "");
    for (char *slash = strchr(buf, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        excluded = ignore_stack_match(s, buf, true) == IGNORE_MATCHED;
        if (excluded) break;
        char c = slash[1];
        slash[0] = '/';
        slash[1] = '\0';
        push_dir_list(ig, s, buf);
        slash[1] = c;
    }
    if (!excluded) excluded = ignore_stack_match(s, relpath, is_dir) == IGNORE_MATCHED;
    free(buf);
    ignore_stack_free(s);
    return excluded;
}
