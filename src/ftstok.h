/* ftstok.h — the identifier-aware tokenizer behind keyword search (DESIGN §3).
 *
 * A word is a maximal run of word characters: ASCII letters, digits, '_', and every byte
 * >= 0x80 (so UTF-8 encoded letters stay inside words). Only ASCII is lowercased; there is
 * no Unicode case folding or normalisation ("Ünïcode" and "ünïcode" are different tokens).
 * Everything else (spaces, punctuation, control bytes) separates words.
 *
 * Each word yields its whole lowercased form, then, when it has more than one part, each
 * distinct part (in order, duplicates within the word dropped):
 *   getUserName       -> getusername  get user name
 *   MAX_RETRY_COUNT   -> max_retry_count  max retry count
 *   parse_http2_frame -> parse_http2_frame  parse http2 frame
 *   HTTPServerError   -> httpservererror  http server error
 * Parts split at '_' and at case changes: before an upper-case letter that follows a
 * lower-case letter, a digit or a non-ASCII byte (getUser, http2Frame), and before the last
 * capital of an upper-case run followed by a lower-case letter (HTTPServer -> HTTP|Server).
 * Digits stay with the letters before them (http2, utf8). Tokens longer than
 * FTSTOK_MAX_TOKEN bytes are cut to that length (never inside a UTF-8 sequence); a word
 * yields at most FTSTOK_MAX_PARTS parts.
 *
 * In the FTS5 index the parts are FTS5_TOKEN_COLOCATED with the whole word: they share its
 * position, so column lengths (BM25 normalisation) count words, not parts. A consequence is
 * that a phrase query "user name" does not match getUserName (both parts sit at one
 * position); search builds OR queries of single terms, so this never matters there. When
 * FTS5 tokenizes query text (FTS5_TOKENIZE_QUERY) only whole words are produced, so a
 * quoted term "get" means exactly the token get.
 *
 * Changing what this tokenizer emits changes the meaning of existing indexes: it requires
 * a store schema version bump with an FTS rebuild (see store.c migrations). */
#ifndef EMBECODE_FTSTOK_H
#define EMBECODE_FTSTOK_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Name under which the FTS5 tokenizer is registered (tokenize='embecode'). */
#define FTSTOK_NAME "embecode"
#define FTSTOK_MAX_TOKEN 128
#define FTSTOK_MAX_PARTS 64

/* Called once per token. tok: the lowercased token (len bytes, not NUL-terminated, valid
 * only during the call). part: false for a whole word, true for one of its parts (which
 * follow their word). start/end: byte range of the word or part in the input text.
 * Return nonzero to stop the walk. */
typedef int (*ftstok_cb)(void *ctx, const char *tok, size_t len, bool part, size_t start,
                         size_t end);

/* Splits text[0..len) into tokens as described above, calling cb for each; with_parts false
 * emits whole words only. Returns 0, or the first nonzero value cb returned. Cannot fail
 * otherwise; text may contain any bytes, including NUL. Thread-safe. */
int ftstok_split(const char *text, size_t len, bool with_parts, ftstok_cb cb, void *ctx);

/* Registers the FTS5 tokenizer FTSTOK_NAME on connection db (needed on every connection that
 * reads or writes a table using it, before the first statement touching it). Returns 0, or
 * -1 with err when FTS5 is missing from the SQLite library. */
int ftstok_register(sqlite3 *db, err_t *err);

#endif
