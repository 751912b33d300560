/* chunk.h — splitting a source file into search chunks (DESIGN §2 "Chunking (cAST)").
 *
 * Size of a piece of text = its number of non-whitespace characters: UTF-8 code points that
 * are not ASCII whitespace (space, \t, \n, \v, \f, \r). Bytes of invalid UTF-8 count as one
 * character each, except stray continuation bytes (0x80–0xBF), which count as none.
 *
 * Languages with a tree-sitter grammar (lang_has_grammar) are chunked with cAST: the tree
 * is walked in source order; a node whose size fits the budget is one unit, a node that does
 * not is replaced by its children (recursively); consecutive units — siblings, or the pieces
 * of a split node and what surrounds them — are merged greedily into a chunk while the
 * chunk's size stays within the budget. So a chunk always starts where a syntax node starts
 * and ends where one ends. A chunk exceeds the budget only when it is a single leaf token
 * larger than the budget (a long string or comment), or when it holds orphan text: text of
 * a node that none of its children covers (Python string text around escape sequences, a C
 * line-continuation backslash, stray bytes in a tree with parse errors). Orphan text is
 * glued to the units beside it, since a boundary next to it would not be a node boundary.
 *
 * Other languages, and grammar languages whose parse fails or exceeds the parse timeout,
 * are chunked in line windows: whole lines are merged greedily while the size fits; a line
 * larger than the budget is a chunk by itself. A window runs from the start of its first
 * non-blank line (indentation included) to the end of its last one (newline excluded).
 *
 * Either way: every non-whitespace byte of the source is in exactly one chunk; chunks are
 * sorted, do not overlap, and each contains at least one non-whitespace byte; whitespace
 * between chunks belongs to no chunk. */
#ifndef EMBECODE_CHUNK_H
#define EMBECODE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* At most this many definitions are listed per chunk (the first ones, in source order). */
#define CHUNK_MAX_DEFINITIONS 10
/* Default parse time limit per file; past it the file is chunked in line windows. */
#define CHUNK_PARSE_TIMEOUT_MS 5000.0

typedef struct {
    uint32_t start_byte, end_byte; /* [start, end) into the source */
    uint32_t start_line, end_line; /* 1-based, inclusive: lines of start_byte and end_byte-1 */
    /* Definitions that start inside the chunk, nested ones included, in source order,
     * duplicates removed, at most CHUNK_MAX_DEFINITIONS: "function search, class Searcher",
     * or "" (never NULL). Owned by the list. Labels and names: see lang.h. */
    char *definitions;
} chunk_t;

/* A growable list of chunks. Zero-initialise before first use. */
typedef struct {
    chunk_t *v;
    size_t n, cap;
} chunk_list_t;

/* Frees every chunk's definitions and the array; leaves the list empty and reusable.
 * NULL is fine. */
void chunk_list_free(chunk_list_t *l);

/* Holds one reusable tree-sitter parser per grammar (made on first use) and scratch buffers.
 * Not thread-safe: use one chunker per thread. chunker_new() cannot fail (aborts on OOM);
 * chunker_free(NULL) is fine. */
typedef struct chunker chunker_t;
chunker_t *chunker_new(void);
void chunker_free(chunker_t *c);
/* Changes the parse time limit (milliseconds, > 0; default CHUNK_PARSE_TIMEOUT_MS). */
void chunker_set_parse_timeout_ms(chunker_t *c, double ms);

/* Splits src[0..len) in language `lang` (a lang_detect name; NULL means "text") into chunks
 * of at most `budget` (>= 1) non-whitespace characters, as described above, and APPENDS them
 * to *out in source order. Never fails because of the bytes: invalid UTF-8, NUL bytes and
 * parse errors are all fine; a parse that fails or times out falls back to line windows.
 * A whitespace-only or empty source yields no chunks.
 * Returns 0, or -1 with err set (and *out unchanged) when the arguments are unusable:
 * c or out NULL, src NULL with len > 0, budget < 1, or len >= 4 GiB. */
int chunk_source(chunker_t *c, const char *lang, const char *src, size_t len, int budget,
                 chunk_list_t *out, err_t *err);

#endif
