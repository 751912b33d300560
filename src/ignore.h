/* ignore.h — .gitignore rules applied exactly as git applies them.
 *
 * Three layers:
 *  - ignore_list_t: the patterns of one source (a .gitignore, .git/info/exclude, or a set of
 *    config globs), each remembering the directory it came from. Within a list the last
 *    matching line decides; a '!' line re-includes.
 *  - ignore_stack_t: the lists that apply while walking a tree: one per directory from the
 *    root down to the current one (the deepest decides first), then .git/info/exclude. The
 *    walker pushes a directory's list on entry and pops it on exit. A path inside a directory
 *    that is itself excluded must never be asked about (the walker does not descend there);
 *    that is how "a file under an excluded directory cannot be re-included" holds.
 *  - ignore_t: answers for one project-relative path at a time (a file watcher's question),
 *    reading the .gitignore files along the path the way `git check-ignore --no-index` does.
 *
 * Paths are project-relative, '/'-separated, without a leading "./" or trailing '/'.
 * Line syntax (gitignore(5)): blank lines and lines starting with '#' are skipped; CRLF line
 * ends and a UTF-8 BOM are accepted; unescaped trailing spaces are dropped ("\ " keeps one);
 * a leading '!' negates; a trailing '/' matches directories only; a pattern with no other '/'
 * matches the basename at any depth below its list's directory, otherwise it is anchored to
 * that directory (a leading '/' only anchors); glob syntax is in glob.h.
 *
 * Lists and stacks are not synchronised: use one per thread, or share read-only. */
#ifndef EMBECODE_IGNORE_H
#define EMBECODE_IGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef struct ignore_list ignore_list_t;

/* What the last matching pattern said about a path. */
typedef enum {
    IGNORE_NONE = 0, /* no pattern matched */
    IGNORE_MATCHED,  /* a plain pattern matched: excluded (for include lists: selected) */
    IGNORE_NEGATED,  /* a '!' pattern matched: explicitly not excluded */
} ignore_verdict_t;

/* An empty list for patterns that live in directory `base` ("" for the project root, else
 * "dir/sub/" with a trailing '/'; the string is copied). Free with ignore_list_free(). */
ignore_list_t *ignore_list_new(const char *base);
/* Adds the lines of text[0..len) (not NUL-terminated; a missing final newline is fine). */
void ignore_list_add_text(ignore_list_t *l, const char *text, size_t len);
/* A list from the contents of a whole file: as ignore_list_add_text after skipping a BOM. */
ignore_list_t *ignore_list_parse(const char *text, size_t len, const char *base);
/* Reads the file `name` relative to directory fd `dirfd` (or AT_FDCWD) as a pattern file for
 * directory `base`. With `nofollow`, a symlink is refused, as git does for in-tree .gitignore
 * files. Returns 0 and sets *out (NULL when the file does not exist: ENOENT/ENOTDIR); on
 * any other problem (not a regular file, unreadable, over 16 MiB) returns -1, sets *out to
 * NULL and fills err. Never blocks on a FIFO. */
int ignore_list_load(int dirfd, const char *name, const char *base, bool nofollow,
                     ignore_list_t **out, err_t *err);
void ignore_list_free(ignore_list_t *l);
/* Number of patterns kept (blank and comment lines are not patterns). */
size_t ignore_list_count(const ignore_list_t *l);

/* Decides `path` (a directory when is_dir) against one list: the last pattern that matches
 * wins. Patterns of a list based in "d/" only ever match paths under "d/". */
ignore_verdict_t ignore_list_match(const ignore_list_t *l, const char *path, bool is_dir);

/* Reads the repository's info/exclude for the project at `root`: <root>/.git/info/exclude,
 * following a ".git" file's "gitdir:" line (worktrees, submodules) and its commondir.
 * Returns NULL when there is none (no .git at all is normal) or it cannot be read. */
ignore_list_t *ignore_load_info_exclude(const char *root);

typedef struct ignore_stack ignore_stack_t;
/* `global` (may be NULL) is consulted after every per-directory list; it is borrowed and must
 * outlive the stack. */
ignore_stack_t *ignore_stack_new(const ignore_list_t *global);
/* Pushes the list of the directory being entered (NULL when it has no .gitignore); the stack
 * takes ownership and frees it on pop. */
void ignore_stack_push(ignore_stack_t *s, ignore_list_t *dir_list);
void ignore_stack_pop(ignore_stack_t *s);
size_t ignore_stack_depth(const ignore_stack_t *s);
/* The verdict of the deepest list that has a matching pattern, else of `global`. */
ignore_verdict_t ignore_stack_match(const ignore_stack_t *s, const char *path, bool is_dir);
void ignore_stack_free(ignore_stack_t *s);

/* Per-path decisions for the project at `root` (the path is copied). Reads info/exclude once,
 * now; .gitignore files are read on every call, so edits to them take effect immediately.
 * Never fails: a missing root simply has no rules. */
typedef struct ignore ignore_t;
ignore_t *ignore_new(const char *root);
/* True when git would ignore `relpath` (a directory when is_dir): the path or one of its
 * parent directories is excluded by .gitignore files or info/exclude. A path with a ".git"
 * component is always excluded. Thread-safe (reads files, keeps no per-call state). */
bool ignore_path_excluded(const ignore_t *ig, const char *relpath, bool is_dir);
/* True when a '/'-separated component of relpath is exactly ".git". Pure. */
bool ignore_path_in_dotgit(const char *relpath);
void ignore_free(ignore_t *ig);

#endif
