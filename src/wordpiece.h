/* wordpiece.h — BERT WordPiece tokenizer over a GGUF vocabulary.
 *
 * Reproduces HuggingFace's BertTokenizer (do_lower_case, strip_accents and
 * tokenize_chinese_chars as in the uncased models): control and invalid characters removed,
 * whitespace normalised, CJK ideographs split into separate words, Python str.lower()
 * (including its final-sigma rule), accents stripped (NFD, then non-spacing marks dropped),
 * punctuation split off, then greedy longest-match-first word pieces, with [UNK] for a word
 * that cannot be covered or is longer than 100 characters.
 *
 * Deliberate difference: special-token spellings in the text ("[CLS]", "[MASK]") are
 * tokenized as ordinary text (punctuation + word), never turned into special ids, so input
 * text cannot inject control tokens.
 *
 * The vocabulary is read from `tokenizer.ggml.tokens` in llama.cpp's stored form: a
 * word-initial piece carries a leading U+2581 ("▁hello"), a continuation piece is stored
 * without WordPiece's "##" ("rer" for "##rer"), and bracketed tokens ("[CLS]") as they are.
 * A wordpiece_t copies what it needs: the gguf_t may be closed after wordpiece_load(). It is
 * immutable after load and safe to use from several threads at once. */
#ifndef EMBECODE_WORDPIECE_H
#define EMBECODE_WORDPIECE_H

#include "gguf.h"
#include "util.h"

typedef struct wordpiece wordpiece_t;

/* Longest word (in characters) that is split into pieces; longer words become [UNK]. */
#define WORDPIECE_MAX_WORD_CHARS 100

/* Builds the tokenizer from g's vocabulary. Fails (NULL, err filled; the message does not
 * repeat the file name, callers prefix it) when
 * tokenizer.ggml.model is not "bert", the token list is missing or empty, or a special token
 * id (tokenizer.ggml.{unknown,cls,seperator,padding,mask}_token_id; defaults 100, 101, 102,
 * 0, 103) lies outside the vocabulary (mask is optional: absent when out of range). */
wordpiece_t *wordpiece_load(const gguf_t *g, err_t *err);
void wordpiece_free(wordpiece_t *w); /* NULL-safe */

/* Tokenizes text (UTF-8, len bytes; invalid sequences are dropped like U+FFFD) into
 * [CLS] pieces... [SEP], keeping the first max_len - 2 pieces so that [SEP] always ends the
 * sequence. Writes to ids (capacity max_len) and returns the count (2 .. max_len).
 * Returns 0 when max_len < 2. Never fails. */
size_t wordpiece_encode(const wordpiece_t *w, const char *text, size_t len, int32_t *ids,
                        size_t max_len);
/* The pieces alone: no [CLS]/[SEP], no truncation. Returns a malloc'd array (never NULL,
 * free() it) and sets *n. */
int32_t *wordpiece_encode_raw(const wordpiece_t *w, const char *text, size_t len, size_t *n);

size_t wordpiece_vocab_size(const wordpiece_t *w);
int32_t wordpiece_unk_id(const wordpiece_t *w);
int32_t wordpiece_cls_id(const wordpiece_t *w);
int32_t wordpiece_sep_id(const wordpiece_t *w);
int32_t wordpiece_pad_id(const wordpiece_t *w);
int32_t wordpiece_mask_id(const wordpiece_t *w); /* -1 when the vocabulary has none */
/* {arch}.context_length of the model the vocabulary came from (the longest sequence it
 * accepts, [CLS] and [SEP] included); 0 when the file does not say. */
size_t wordpiece_context_length(const wordpiece_t *w);
/* The token's text in stored form (not NUL-terminated); NULL when id is out of range. */
const char *wordpiece_token_text(const wordpiece_t *w, int32_t id, size_t *len);

#endif
