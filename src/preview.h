/* preview.h — the match-aware preview and match lines of a search result (DESIGN §2).
 *
 * Query tokens: the [A-Za-z0-9_]+ runs of the query, lowercased, de-duplicated in order,
 * single characters dropped ("UserAvatar component" -> useravatar, component).
 *
 * Lines: the chunk content split at '\n' (a trailing '\r' is dropped from each line); line i
 * of the chunk is absolute line start_line + i. A line matches when it contains any token as
 * a case-insensitive (ASCII) substring; a line is empty when it has only spaces and tabs.
 *
 * Preview: the matching line with the most distinct token hits (earliest on ties), plus a
 * second line: the nearest other matching line, else the nearest non-empty line; "nearest"
 * is the smallest distance in lines, and on equal distance the line BEFORE wins. The two are
 * shown in file order joined by "\n". Without any match: the first two non-empty lines.
 * Lines keep their indentation. When the text exceeds PREVIEW_MAX_CHARS characters (UTF-8
 * code points) it is cut to PREVIEW_MAX_CHARS - 3 and "..." is appended, so the preview is
 * never longer than PREVIEW_MAX_CHARS characters and never cut inside a UTF-8 sequence.
 * Invalid UTF-8 bytes are replaced by U+FFFD so the preview is always valid JSON text.
 *
 * match_lines: absolute numbers of the matching lines, ascending, the first
 * PREVIEW_MAX_MATCH_LINES of them.
 *
 * Everything here is pure and thread-safe; results are owned by the caller. */
#ifndef EMBECODE_PREVIEW_H
#define EMBECODE_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#define PREVIEW_MAX_CHARS 200
#define PREVIEW_MAX_MATCH_LINES 8

typedef struct {
    char **tokens; /* lowercased, NUL-terminated */
    size_t n;
} preview_query_t;

/* Extracts the query tokens of text (NULL is treated as ""). Free with preview_query_free. */
void preview_query_init(preview_query_t *q, const char *text);
void preview_query_free(preview_query_t *q);

typedef struct {
    char *text; /* malloc'd, valid UTF-8, at most PREVIEW_MAX_CHARS characters */
    uint32_t match_lines[PREVIEW_MAX_MATCH_LINES];
    int n_match_lines;
} preview_t;

/* Builds the preview and match lines of content[0..len) whose first line is start_line.
 * content may hold any bytes. Free out->text with preview_free (or free). */
void preview_build(const preview_query_t *q, const char *content, size_t len, uint32_t start_line,
                   preview_t *out);
void preview_free(preview_t *p);

/* A malloc'd NUL-terminated copy of s[0..n) with each invalid UTF-8 sequence (and NUL byte)
 * replaced by U+FFFD. */
char *preview_utf8_clean(const char *s, size_t n);

#endif
