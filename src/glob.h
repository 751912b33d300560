/* glob.h — shell-style pattern matching with git's wildmatch semantics: the matcher behind
 * .gitignore lines and the config index.include / index.exclude globs.
 *
 * Syntax: `?` one character, `*` any run of characters, `[...]` a bracket expression
 * (`[a-z]` ranges, `[!x]` or `[^x]` negation, `[[:alpha:]]` POSIX classes, `\` escapes inside),
 * `\c` the literal character c. With GLOB_PATHNAME, `?`, `*` and brackets never match '/',
 * while a double star matches across directories when it is a whole path component: leading
 * ("**" then "/"), trailing ("/" then "**") or inner ("/", "**", "/"); the leading and inner
 * forms may also match zero directories. Any other double star is a plain `*`. Without
 * GLOB_PATHNAME, `*` and `**` are the same and match '/' too. Matching is bytewise and
 * case-sensitive; character classes are ASCII-only, as in git.
 *
 * All functions are pure and thread-safe. */
#ifndef EMBECODE_GLOB_H
#define EMBECODE_GLOB_H

#include <stdbool.h>
#include <stddef.h>

enum { GLOB_PATHNAME = 1u };

/* True when NUL-terminated `pattern` matches the whole NUL-terminated `text`. A malformed
 * pattern (unclosed bracket, unknown [:class:], trailing backslash) matches nothing. */
bool glob_match(const char *pattern, const char *text, unsigned flags);

/* Length of the leading part of `pattern` free of the special characters '*', '?', '[' and
 * backslash (git's simple_length): that prefix can be compared literally. */
size_t glob_literal_len(const char *pattern);

#endif
