/* mcp_json.h — byte-level helpers for the MCP server: UTF-8 validation and repair, and raw
 * JSON scanning that recovers a JSON-RPC id exactly as the client wrote it.
 *
 * cJSON keeps numbers as doubles, which would change ids such as 9007199254740993; these
 * functions find a member's value in the original text so that it can be echoed verbatim.
 * They never read past n and give up (return 0 / false / NULL) on anything unexpected, so
 * they also work on broken or truncated lines. Whitespace is what cJSON skips: bytes <= 32.
 *
 * All functions are pure and thread-safe. Returned cJSON nodes are new and owned by the
 * caller (cJSON_Delete); NULL also means out of memory. */
#ifndef EMBECODE_MCP_JSON_H
#define EMBECODE_MCP_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Offset of the first ill-formed UTF-8 byte in s[0..n) (overlong forms, surrogates and
 * code points above U+10FFFF are ill-formed), or n when all is well-formed. */
size_t mcp_utf8_check(const char *s, size_t n);
/* Appends s[0..n) to b, replacing each ill-formed byte by U+FFFD, so that what we send is
 * valid UTF-8 whatever a handler put in its strings (e.g. a preview cut inside a character). */
void mcp_utf8_append_clean(sbuf_t *b, const char *s, size_t n);

/* Offset of the first byte at or after i that is not JSON whitespace (bytes 1..32); stops
 * at NUL and at n. */
size_t mcp_json_skip_ws(const char *s, size_t n, size_t i);
/* Finds the first top-level member `key` of the object text s[0..n) (keys compared after
 * decoding escapes): *vs, *ve delimit its value. The value must be complete and followed by
 * ',' or '}'. False when absent or when the text before it is malformed. */
bool mcp_json_member(const char *s, size_t n, const char *key, size_t *vs, size_t *ve);
/* Turns the id token s[0..n) into the node to echo: a string, or a raw node holding the
 * number's own text (strict JSON number syntax only). NULL when the token is neither. */
cJSON *mcp_id_from_token(const char *s, size_t n);
/* The id to echo for the parsed object msg read from line[0..len), or NULL when it has no
 * usable id (absent, or not a string or number). */
cJSON *mcp_id_of(const cJSON *msg, const char *line, size_t len);
/* Best effort for a line that failed to parse or was too long: the id, if the text up to
 * and including it is well-formed; else NULL. */
cJSON *mcp_id_of_broken(const char *line, size_t len);
/* Whether two ids name the same request: equal strings, or numbers with the same text or,
 * within the range doubles hold exactly, the same value (1 and 1.0). NULL never matches. */
bool mcp_id_equal(const cJSON *a, const cJSON *b);

#endif
