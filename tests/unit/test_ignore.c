/* Unit tests for glob.c (wildmatch) and ignore.c (gitignore rules), one behaviour each.
 * The cross-check against git itself lives in test_walk_git.c. */
#include <fcntl.h>
#include <sys/stat.h>

#include "glob.h"
#include "ignore.h"
#include "t.h"
#include "util.h"

/* ---- helpers ---- */

/* Verdict of a root .gitignore with `text` for `path` (the path alone, parents not checked). */
static ignore_verdict_t verdict(const char *text, const char *path, bool is_dir)
{
    ignore_list_t *l = ignore_list_parse(text, strlen(text), "");
    ignore_verdict_t v = ignore_list_match(l, path, is_dir);
    ignore_list_free(l);
    return v;
}

static bool ign(const char *text, const char *path)
{
    return verdict(text, path, false) == IGNORE_MATCHED;
}

static bool ign_dir(const char *text, const char *path)
{
    return verdict(text, path, true) == IGNORE_MATCHED;
}

static void write_file(const char *root, const char *rel, const char *content)
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

static char *fresh_dir(const char *name)
{
    char *d = path_join(t_tmpdir(), name);
    err_t err;
    mkdir_p(d, &err);
    return d;
}

/* ---- glob ---- */

typedef struct {
    const char *pattern, *text;
    unsigned flags;
    bool match;
} glob_case_t;

static void check_glob_cases(const glob_case_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool got = glob_match(c[i].pattern, c[i].text, c[i].flags);
        if (got != c[i].match) {
            fprintf(stderr, "  glob_match(\"%s\", \"%s\", %u) = %d, want %d\n", c[i].pattern,
                    c[i].text, c[i].flags, got, c[i].match);
            T_CHECK(got == c[i].match);
        }
    }
}

static void test_glob_basic_wildcards(void)
{
    static const glob_case_t c[] = {
        {"foo", "foo", 0, true},
        {"foo", "bar", 0, false},
        {"", "", 0, true},
        {"???", "foo", 0, true},
        {"??", "foo", 0, false},
        {"*", "foo", 0, true},
        {"f*", "foo", 0, true},
        {"*f", "foo", 0, false},
        {"*foo*", "foo", 0, true},
        {"*ob*a*r*", "foobar", 0, true},
        {"*ab", "aaaaaaabababab", 0, true},
        {"foo\\*", "foo*", 0, true},
        {"foo\\*bar", "foobar", 0, false},
        {"f\\\\oo", "f\\oo", 0, true},
        {"b*a", "aaabbb", 0, false},
        {"*ba*", "aabcaa", 0, false},
        {"*X*i", "abcXdefXghi", 0, true},
        {"-*-*-*-*-*-*-12-*-*-*-m-*-*-*",
         "-adobe-courier-bold-o-normal--12-120-75-75-m-70-iso8859-1", 0, true},
    };
    check_glob_cases(c, ARRAY_LEN(c));
}

static void test_glob_brackets_ranges_and_classes(void)
{
    static const glob_case_t c[] = {
        {"*[al]?", "ball", 0, true},
        {"[ten]", "ten", 0, false},
        {"**[!te]", "ten", 0, true},
        {"**[!ten]", "ten", 0, false},
        {"t[a-g]n", "ten", 0, true},
        {"t[!a-g]n", "ten", 0, false},
        {"t[!a-g]n", "ton", 0, true},
        {"t[^a-g]n", "ton", 0, true},
        {"a[]]b", "a]b", 0, true},
        {"a[]-]b", "a-b", 0, true},
        {"a[]-]b", "a]b", 0, true},
        {"a[]-]b", "aab", 0, false},
        {"a[]a-]b", "aab", 0, true},
        {"]", "]", 0, true},
        {"[!]-]", "]", 0, false},
        {"[!]-]", "a", 0, true},
        {"a[c-c]rt", "acrt", 0, true},
        {"a[c-c]st", "acrt", 0, false},
        {"[[:alpha:]][[:digit:]][[:upper:]]", "a1B", 0, true},
        {"[[:digit:][:upper:][:space:]]", "A", 0, true},
        {"[[:digit:][:upper:][:space:]]", "a", 0, false},
        {"[[:digit:][:upper:][:space:]]", " ", 0, true},
        {"[[:digit:][:upper:][:spaci:]]", "1", 0, false},
        {"[[:xdigit:]]", "f", 0, true},
        {"[[:xdigit:]]", "g", 0, false},
        {"[a-c[:digit:]x-z]", "5", 0, true},
        {"[a-c[:digit:]x-z]", "y", 0, true},
        {"[a-c[:digit:]x-z]", "q", 0, false},
        {"[[:punct:]]", "_", 0, true},
        {"[[:punct:]]", "a", 0, false},
        {"[[:punct:]]", "7", 0, false},
        {"[[:space:]]", "\t", 0, true},
        {"[[:space:]]", "\v", 0, false},
        {"[[:blank:]]", "\n", 0, false},
        {"[[:upper:]]", "a", 0, false},
        {"[[:lower:]]", "a", 0, true},
        {"[[:cntrl:]]", "\x7f", 0, true},
        {"[[:graph:]]", " ", 0, false},
        {"[[:print:]]", " ", 0, true},
        {"[[:alnum:]]", "\xe9", 0, false},
        {"[\\-^]", "]", 0, false},
        {"[\\-^]", "-", 0, true},
        {"[\\\\-^]", "]", 0, true},
        {"[\\\\-^]", "[", 0, false},
        {"[\\]]", "]", 0, true},
        {"[\\]]", "\\", 0, false},
        {"a[]b", "ab", 0, false},
        {"ab[", "ab[", 0, false},
        {"[-]", "-", 0, true},
        {"[a-", "-", 0, false},
        {"[--A]", "5", 0, true},
        {"[ --]", "$", 0, true},
        {"[ --]", "0", 0, false},
        {"[a-e-n]", "j", 0, false},
        {"[a-e-n]", "-", 0, true},
        {"[]-a]", "^", 0, true},
        {"[!]-a]", "[", 0, true},
        {"[a^bc]", "^", 0, true},
        {"[\\\\]", "\\", 0, true},
        {"[!\\\\]", "\\", 0, false},
        {"[A-\\\\]", "G", 0, true},
        {"[,-.]", "-", 0, true},
        {"[,-.]", "+", 0, false},
        {"[\\1-\\3]", "2", 0, true},
        {"[\\1-\\3]", "4", 0, false},
        {"[[-\\]]", "\\", 0, true},
        {"[[-\\]]", "-", 0, false},
        {"[:]", ":", 0, true},
    };
    check_glob_cases(c, ARRAY_LEN(c));
}

static void test_glob_pathname_slash_rules(void)
{
    static const glob_case_t c[] = {
        {"foo*bar", "foo/baz/bar", GLOB_PATHNAME, false},
        {"foo*bar", "foo/baz/bar", 0, true},
        {"foo**bar", "foo/baz/bar", GLOB_PATHNAME, false},
        {"foo**bar", "foobazbar", GLOB_PATHNAME, true},
        {"foo/**/bar", "foo/baz/bar", GLOB_PATHNAME, true},
        {"foo/**/**/bar", "foo/baz/bar", GLOB_PATHNAME, true},
        {"foo/**/bar", "foo/b/a/z/bar", GLOB_PATHNAME, true},
        {"foo/**/bar", "foo/bar", GLOB_PATHNAME, true},
        {"foo/**/**/bar", "foo/bar", GLOB_PATHNAME, true},
        {"foo?bar", "foo/bar", GLOB_PATHNAME, false},
        {"foo[/]bar", "foo/bar", GLOB_PATHNAME, false},
        {"foo[^a-z]bar", "foo/bar", GLOB_PATHNAME, false},
        {"**/foo", "foo", GLOB_PATHNAME, true},
        {"**/foo", "XXX/foo", GLOB_PATHNAME, true},
        {"**/foo", "bar/baz/foo", GLOB_PATHNAME, true},
        {"*/foo", "bar/baz/foo", GLOB_PATHNAME, false},
        {"**/bar*", "foo/bar/baz", GLOB_PATHNAME, false},
        {"**/bar/*", "deep/foo/bar/baz", GLOB_PATHNAME, true},
        {"**/bar/*", "deep/foo/bar/baz/", GLOB_PATHNAME, false},
        {"**/bar/**", "deep/foo/bar/baz/", GLOB_PATHNAME, true},
        {"**/bar/*", "deep/foo/bar", GLOB_PATHNAME, false},
        {"**/bar/**", "deep/foo/bar/", GLOB_PATHNAME, true},
        {"*/bar/**", "foo/bar/baz/x", GLOB_PATHNAME, true},
        {"*/bar/**", "deep/foo/bar/baz/x", GLOB_PATHNAME, false},
        {"**/bar/*/*", "deep/foo/bar/baz/x", GLOB_PATHNAME, true},
        {"*/*/*", "foo/bba/arr", GLOB_PATHNAME, true},
        {"*/*/*", "foo/bar", GLOB_PATHNAME, false},
        {"*/*/*", "foo/bb/aa/rr", GLOB_PATHNAME, false},
        {"*/\\\\", "XXX/\\", GLOB_PATHNAME, true},
        {"*/\\", "XXX/\\", GLOB_PATHNAME, false},
        {"**/*a*b*g*n*t", "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txt", GLOB_PATHNAME, true},
        {"**/*a*b*g*n*t", "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txtz", GLOB_PATHNAME, false},
        {"*/*X*/*/*i", "ab/cXd/efXg/hi", GLOB_PATHNAME, true},
        {"**/*X*/**/*i", "ab/cXd/efXg/hi", GLOB_PATHNAME, true},
        {"XXX/*/*/*/*/*/*/12/*/*/*/m/*/*/*",
         "XXX/adobe/courier/bold/o/normal//12/120/75/75/m/70/iso8859/1", GLOB_PATHNAME, true},
        {"XXX/*/*/*/*/*/*/12/*/*/*/m/*/*/*",
         "XXX/adobe/courier/bold/o/normal//12/120/75/75/X/70/iso8859/1", GLOB_PATHNAME, false},
    };
    check_glob_cases(c, ARRAY_LEN(c));
}

static void test_glob_literal_len_stops_at_specials(void)
{
    T_EQ_INT(glob_literal_len("src/*.c"), 4);
    T_EQ_INT(glob_literal_len("abc"), 3);
    T_EQ_INT(glob_literal_len("a\\*"), 1);
    T_EQ_INT(glob_literal_len("[x]"), 0);
}

/* ---- line syntax ---- */

static void test_comments_and_blank_lines_are_not_patterns(void)
{
    const char *text = "# a comment\n\n   \n#*.c\n";
    ignore_list_t *l = ignore_list_parse(text, strlen(text), "");
    T_EQ_INT(ignore_list_count(l), 0);
    ignore_list_free(l);
    T_CHECK(!ign("#*.c\n", "#x.c"));
    T_CHECK(ign("\\#h\n", "#h"));
    T_CHECK(ign(" #h\n", " #h")); /* only a '#' in column one starts a comment */
}

static void test_trailing_spaces_are_stripped_unless_escaped(void)
{
    T_CHECK(ign("foo  \n", "foo"));
    T_CHECK(!ign("foo  \n", "foo "));
    T_CHECK(ign("bar\\ \n", "bar "));
    T_CHECK(!ign("bar\\ \n", "bar"));
    T_CHECK(ign("baz\\  \n", "baz "));
    T_CHECK(!ign("baz\\  \n", "baz  "));
    T_CHECK(ign("tab\t\n", "tab\t")); /* tabs are not trimmed */
    T_CHECK(!ign("tab\t\n", "tab"));
    T_CHECK(ign("  lead\n", "  lead")); /* leading spaces are part of the pattern */
}

static void test_crlf_line_ends_are_accepted(void)
{
    const char *text = "a.txt\r\nb/\r\nc \r\n!a.txt\r";
    T_EQ_INT(verdict(text, "a.txt", false), IGNORE_NEGATED);
    T_CHECK(ign_dir(text, "b"));
    T_CHECK(!ign(text, "b"));
    T_CHECK(ign(text, "c"));
    T_CHECK(!ign(text, "c\r"));
}

static void test_utf8_bom_is_skipped(void)
{
    T_CHECK(ign("\xEF\xBB\xBF"
                "foo\n",
                "foo"));
    T_CHECK(ign("\xEF\xBB\xBF"
                "#c\nfoo",
                "foo"));
}

static void test_last_matching_line_wins(void)
{
    T_CHECK(ign("*.log\n!keep.log\n", "x.log"));
    T_EQ_INT(verdict("*.log\n!keep.log\n", "keep.log", false), IGNORE_NEGATED);
    T_CHECK(ign("!keep.log\n*.log\n", "keep.log"));
    T_EQ_INT(verdict("*.log\n", "x.txt", false), IGNORE_NONE);
}

static void test_escaped_bang_and_wildcards_are_literal(void)
{
    T_CHECK(ign("\\!bang\n", "!bang"));
    T_CHECK(ign("\\*star\n", "*star"));
    T_CHECK(!ign("\\*star\n", "xstar"));
    T_CHECK(ign("a\\?\n", "a?"));
    T_CHECK(!ign("a\\?\n", "ab"));
    T_CHECK(ign("br\\[x]\n", "br[x]"));
}

static void test_trailing_slash_matches_directories_only(void)
{
    T_CHECK(ign_dir("build/\n", "build"));
    T_CHECK(!ign("build/\n", "build"));
    T_CHECK(ign_dir("build/\n", "a/b/build")); /* no other '/': any depth */
    T_CHECK(ign_dir("a/build/\n", "a/build"));
    T_CHECK(!ign_dir("a/build/\n", "x/a/build"));
}

static void test_slash_anchors_the_pattern(void)
{
    T_CHECK(ign("/top\n", "top"));
    T_CHECK(!ign("/top\n", "a/top"));
    T_CHECK(ign("doc/frotz\n", "doc/frotz"));
    T_CHECK(!ign("doc/frotz\n", "a/doc/frotz"));
    T_CHECK(ign("frotz\n", "a/b/frotz"));
    T_CHECK(ign("/a/b\n", "a/b"));
}

static void test_star_and_question_do_not_cross_slash(void)
{
    T_CHECK(ign("a/*.c\n", "a/x.c"));
    T_CHECK(!ign("a/*.c\n", "a/b/x.c"));
    T_CHECK(ign("*.c\n", "a/b/x.c"));
    T_CHECK(ign("?.txt\n", "d/a.txt"));
    T_CHECK(!ign("?.txt\n", "ab.txt"));
    T_CHECK(!ign("a?b\n", "a/b"));
}

static void test_brackets_in_patterns(void)
{
    T_CHECK(ign("[a-c].md\n", "b.md"));
    T_CHECK(!ign("[a-c].md\n", "d.md"));
    T_CHECK(ign("[!a-c].md\n", "d.md"));
    T_CHECK(!ign("[!a-c].md\n", "a.md"));
    T_CHECK(ign("[^a].md\n", "z.md"));
    T_CHECK(ign("x[[:digit:]]\n", "x1"));
    T_CHECK(!ign("x[[:digit:]]\n", "xa"));
    T_CHECK(!ign("[abc\n", "a")); /* unterminated: matches nothing */
    T_CHECK(!ign("[[:nope:]]\n", "a"));
    T_CHECK(!ign("foo\\\n", "foo")); /* trailing backslash: matches nothing */
}

static void test_double_star_forms(void)
{
    const char *lead = "**/foo\n";
    T_CHECK(ign(lead, "foo"));
    T_CHECK(ign(lead, "a/foo"));
    T_CHECK(ign(lead, "a/b/foo"));
    T_CHECK(!ign(lead, "a/xfoo"));
    const char *trail = "abc/**\n";
    T_CHECK(ign(trail, "abc/x"));
    T_CHECK(ign(trail, "abc/x/y"));
    T_CHECK(!ign_dir(trail, "abc"));
    const char *mid = "a/**/b\n";
    T_CHECK(ign(mid, "a/b"));
    T_CHECK(ign(mid, "a/x/b"));
    T_CHECK(ign(mid, "a/x/y/b"));
    T_CHECK(!ign(mid, "a/xb"));
    T_CHECK(!ign(mid, "x/a/b"));
    T_CHECK(ign("**/x/**/y\n", "p/x/q/r/y"));
    /* Not a whole component: an ordinary star. */
    T_CHECK(ign("a**b\n", "axyb"));
    T_CHECK(!ign("x/a**b\n", "x/a/b"));
}

static void test_double_star_right_after_literal_prefix_matches_like_git(void)
{
    /* git compares "foo" literally and globs "**\/bar" alone, so the ** counts as leading. */
    T_CHECK(ign("foo**/bar\n", "foo/bar"));
    T_CHECK(ign("foo**/bar\n", "fooX/bar"));
    T_CHECK(ign("foo**/bar\n", "foo/a/b/bar"));
    T_CHECK(!ign("foo**/bar\n", "fo/bar"));
}

static void test_empty_patterns_never_match(void)
{
    const char *text = "!\n/\n\\\n";
    T_CHECK(!ign(text, "a"));
    T_CHECK(!ign_dir(text, "a"));
}

/* ---- lists in subdirectories, the stack ---- */

static void test_subdir_list_only_applies_below_its_directory(void)
{
    const char *text = "*.tmp\n/a.c\nx/b.c\n";
    ignore_list_t *l = ignore_list_parse(text, strlen(text), "sub/");
    T_EQ_INT(ignore_list_match(l, "sub/x.tmp", false), IGNORE_MATCHED);
    T_EQ_INT(ignore_list_match(l, "sub/d/x.tmp", false), IGNORE_MATCHED);
    T_EQ_INT(ignore_list_match(l, "other/x.tmp", false), IGNORE_NONE);
    T_EQ_INT(ignore_list_match(l, "sub/a.c", false), IGNORE_MATCHED);
    T_EQ_INT(ignore_list_match(l, "sub/d/a.c", false), IGNORE_NONE);
    T_EQ_INT(ignore_list_match(l, "a.c", false), IGNORE_NONE);
    T_EQ_INT(ignore_list_match(l, "sub/x/b.c", false), IGNORE_MATCHED);
    T_EQ_INT(ignore_list_match(l, "subx/x.tmp", false), IGNORE_NONE);
    ignore_list_free(l);
}

static void test_deeper_list_decides_before_shallower_and_global(void)
{
    const char *g = "*.o\n*.txt\n";
    ignore_list_t *global = ignore_list_parse(g, strlen(g), "");
    ignore_stack_t *s = ignore_stack_new(global);
    const char *r = "*.txt\n!keep.o\n";
    ignore_stack_push(s, ignore_list_parse(r, strlen(r), ""));
    const char *sub = "!*.txt\n";
    ignore_stack_push(s, ignore_list_parse(sub, strlen(sub), "sub/"));
    T_EQ_INT(ignore_stack_depth(s), 2);
    T_EQ_INT(ignore_stack_match(s, "sub/a.txt", false), IGNORE_NEGATED);
    T_EQ_INT(ignore_stack_match(s, "sub/x.o", false), IGNORE_MATCHED);
    T_EQ_INT(ignore_stack_match(s, "keep.o", false), IGNORE_NEGATED);
    ignore_stack_pop(s);
    T_EQ_INT(ignore_stack_match(s, "sub/a.txt", false), IGNORE_MATCHED);
    ignore_stack_push(s, NULL); /* a directory without .gitignore */
    T_EQ_INT(ignore_stack_match(s, "d/y.o", false), IGNORE_MATCHED);
    ignore_stack_free(s);
    ignore_list_free(global);
}

/* ---- files on disk, ignore_t ---- */

static void test_path_checker_reads_nested_gitignore_files(void)
{
    char *root = fresh_dir("nested");
    write_file(root, ".gitignore", "*.txt\n");
    write_file(root, "sub/.gitignore", "!*.txt\n*.md\n");
    ignore_t *ig = ignore_new(root);
    T_CHECK(ignore_path_excluded(ig, "a.txt", false));
    T_CHECK(!ignore_path_excluded(ig, "sub/a.txt", false));
    T_CHECK(!ignore_path_excluded(ig, "sub/deeper/a.txt", false));
    T_CHECK(ignore_path_excluded(ig, "sub/x.md", false));
    T_CHECK(!ignore_path_excluded(ig, "x.md", false));
    /* Edits apply at once: nothing is cached. */
    write_file(root, "sub/.gitignore", "");
    T_CHECK(ignore_path_excluded(ig, "sub/a.txt", false));
    ignore_free(ig);
    free(root);
}

static void test_file_under_excluded_directory_cannot_be_reincluded(void)
{
    char *root = fresh_dir("reinclude");
    write_file(root, ".gitignore", "dir/\n!dir/keep.txt\nstar/*\n!star/keep.txt\n");
    write_file(root, "dir/keep.txt", "x");
    write_file(root, "dir/.gitignore", "!keep.txt\n");
    write_file(root, "star/keep.txt", "x");
    ignore_t *ig = ignore_new(root);
    T_CHECK(ignore_path_excluded(ig, "dir", true));
    T_CHECK(ignore_path_excluded(ig, "dir/keep.txt", false));
    T_CHECK(!ignore_path_excluded(ig, "star", true));
    T_CHECK(!ignore_path_excluded(ig, "star/keep.txt", false));
    T_CHECK(ignore_path_excluded(ig, "star/other.txt", false));
    ignore_free(ig);
    free(root);
}

static void test_directory_own_gitignore_does_not_apply_to_itself(void)
{
    char *root = fresh_dir("own");
    write_file(root, "sub/.gitignore", "*\n");
    ignore_t *ig = ignore_new(root);
    T_CHECK(!ignore_path_excluded(ig, "sub", true));
    T_CHECK(ignore_path_excluded(ig, "sub/x", false));
    T_CHECK(ignore_path_excluded(ig, "sub/.gitignore", false));
    ignore_free(ig);
    free(root);
}

static void test_dotgit_components_are_always_excluded(void)
{
    char *root = fresh_dir("dotgit");
    ignore_t *ig = ignore_new(root);
    T_CHECK(ignore_path_excluded(ig, ".git", true));
    T_CHECK(ignore_path_excluded(ig, "a/.git/config", false));
    T_CHECK(!ignore_path_excluded(ig, ".gitignore", false));
    T_CHECK(!ignore_path_excluded(ig, "a/.github/x", false));
    T_CHECK(ignore_path_in_dotgit(".git"));
    T_CHECK(ignore_path_in_dotgit("x/.git"));
    T_CHECK(!ignore_path_in_dotgit("x.git/a"));
    T_CHECK(!ignore_path_in_dotgit(".gitx"));
    ignore_free(ig);
    free(root);
}

static void test_info_exclude_is_read_from_git_dir_and_gitfile(void)
{
    char *root = fresh_dir("info");
    write_file(root, ".git/info/exclude", "*.secret\n");
    write_file(root, ".gitignore", "!keep.secret\n");
    ignore_t *ig = ignore_new(root);
    T_CHECK(ignore_path_excluded(ig, "a.secret", false));
    T_CHECK(!ignore_path_excluded(ig, "keep.secret", false));
    ignore_free(ig);

    char *wt = fresh_dir("worktree");
    write_file(wt, ".git", "gitdir: ../gitdirs/wt1\n");
    write_file(t_tmpdir(), "gitdirs/wt1/commondir", "../common\n");
    write_file(t_tmpdir(), "gitdirs/common/info/exclude", "*.wt\n");
    ignore_list_t *l = ignore_load_info_exclude(wt);
    T_CHECK(l != NULL);
    T_EQ_INT(ignore_list_match(l, "x.wt", false), IGNORE_MATCHED);
    ignore_list_free(l);
    T_CHECK(ignore_load_info_exclude(t_tmpdir()) == NULL); /* no .git at all */
    free(wt);
    free(root);
}

static void test_symlinked_gitignore_is_refused_like_git(void)
{
    char *root = fresh_dir("symgi");
    write_file(root, "real", "*.c\n");
    char *link = path_join(root, ".gitignore");
    T_CHECK(symlink("real", link) == 0);
    ignore_list_t *l = NULL;
    err_t err = {{0}};
    int dfd = open(root, O_RDONLY | O_DIRECTORY);
    T_EQ_INT(ignore_list_load(dfd, ".gitignore", "", true, &l, &err), -1);
    T_CHECK(l == NULL);
    T_CHECK(strstr(err.msg, "symbolic link") != NULL);
    T_EQ_INT(ignore_list_load(dfd, "missing", "", true, &l, &err), 0);
    T_CHECK(l == NULL);
    T_EQ_INT(ignore_list_load(dfd, "real", "", true, &l, &err), 0);
    T_EQ_INT(ignore_list_count(l), 1);
    ignore_list_free(l);
    close(dfd);
    ignore_t *ig = ignore_new(root);
    T_CHECK(!ignore_path_excluded(ig, "a.c", false));
    ignore_free(ig);
    free(link);
    free(root);
}

static void test_fifo_gitignore_does_not_block(void)
{
    char *root = fresh_dir("fifo");
    char *p = path_join(root, ".gitignore");
    T_CHECK(mkfifo(p, 0644) == 0);
    ignore_list_t *l = NULL;
    err_t err;
    T_EQ_INT(ignore_list_load(AT_FDCWD, p, "", true, &l, &err), -1);
    T_CHECK(strstr(err.msg, "not a regular file") != NULL);
    free(p);
    free(root);
}

int main(void)
{
    T_RUN(test_glob_basic_wildcards);
    T_RUN(test_glob_brackets_ranges_and_classes);
    T_RUN(test_glob_pathname_slash_rules);
    T_RUN(test_glob_literal_len_stops_at_specials);
    T_RUN(test_comments_and_blank_lines_are_not_patterns);
    T_RUN(test_trailing_spaces_are_stripped_unless_escaped);
    T_RUN(test_crlf_line_ends_are_accepted);
    T_RUN(test_utf8_bom_is_skipped);
    T_RUN(test_last_matching_line_wins);
    T_RUN(test_escaped_bang_and_wildcards_are_literal);
    T_RUN(test_trailing_slash_matches_directories_only);
    T_RUN(test_slash_anchors_the_pattern);
    T_RUN(test_star_and_question_do_not_cross_slash);
    T_RUN(test_brackets_in_patterns);
    T_RUN(test_double_star_forms);
    T_RUN(test_double_star_right_after_literal_prefix_matches_like_git);
    T_RUN(test_empty_patterns_never_match);
    T_RUN(test_subdir_list_only_applies_below_its_directory);
    T_RUN(test_deeper_list_decides_before_shallower_and_global);
    T_RUN(test_path_checker_reads_nested_gitignore_files);
    T_RUN(test_file_under_excluded_directory_cannot_be_reincluded);
    T_RUN(test_directory_own_gitignore_does_not_apply_to_itself);
    T_RUN(test_dotgit_components_are_always_excluded);
    T_RUN(test_info_exclude_is_read_from_git_dir_and_gitfile);
    T_RUN(test_symlinked_gitignore_is_refused_like_git);
    T_RUN(test_fifo_gitignore_does_not_block);
    return t_done();
}
