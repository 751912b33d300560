/* config.h — embecode settings: built-in defaults, then the user's
 * $XDG_CONFIG_HOME/embecode/config.toml, then the project's <root>/.embecode.toml (CLI flags,
 * applied by the caller, win over all three). Every key is documented in docs/config.md and
 * .embecode.toml.example.
 *
 * A config_t is plain data owned by whoever holds it: not thread-safe to modify, safe to read
 * from many threads once loaded. All strings and arrays in it are malloc'd and released by
 * config_free(). */
#ifndef EMBECODE_CONFIG_H
#define EMBECODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Chunk budget (non-whitespace characters) for one language; lang "default" is the
 * fallback for languages without an entry. */
typedef struct {
    char *lang;
    int budget;
} config_budget_t;

typedef struct {
    char **include; /* index.include globs; empty = everything */
    size_t n_include;
    char **exclude; /* index.exclude globs, applied on top of the built-in excludes */
    size_t n_exclude;
    config_budget_t *budgets; /* index.languages: python 1500, typescript 1200,
                                 javascript 1200, default 1000; any language name allowed */
    size_t n_budgets;
    uint64_t max_file_bytes;  /* index.max_file_size: bytes, or "1MB"/"512KiB"; default 1 MiB */
    char *embed_model;        /* embeddings.model; default "nomic-embed-text-v1.5" */
    char *embed_provider;     /* embeddings.provider: "local" (default) | "openai" | "ollama" */
    char *embed_url;          /* embeddings.url; NULL = provider default */
    char *api_key_env;        /* embeddings.api_key_env: NAME of the variable holding the key */
    char *query_prompt;       /* embeddings.query_prompt; NULL = the model's default prefix */
    char *document_prompt;    /* embeddings.document_prompt; NULL = the model's default prefix */
    char *default_mode;       /* search.default_mode: hybrid|semantic|keyword; default "hybrid" */
    int top_k;                /* search.top_k, 1..100; default 10 */
    int debounce_ms;          /* daemon.debounce_ms, 0..60000; default 500 */
    bool auto_watch;          /* daemon.auto_watch; default true */
    uint64_t cache_max_bytes; /* cache.max_size_bytes (integer) or cache.max_size ("2GB");
                                 default 2 GB = 2,000,000,000 bytes (GB = 1000^3, GiB = 1024^3) */
    char **sources;           /* config files that were read, in order (for status/debugging) */
    size_t n_sources;
} config_t;

/* Fills c with the built-in defaults (allocating its strings). Any previous contents of c are
 * overwritten, not freed. Cannot fail. */
void config_defaults(config_t *c);

/* c must be zero-initialised or hold a config (from config_defaults or an earlier load): its
 * contents are released and replaced. Loads defaults, then
 * $XDG_CONFIG_HOME/embecode/config.toml (see xdg_config_home()), then
 * <project_root>/.embecode.toml (skipped when project_root is NULL). Later files override
 * earlier ones key by key; an array replaces the earlier array; index.languages entries
 * override per language. A missing file is fine. Unknown keys are logged with log_warn
 * ("PATH:LINE: unknown key 'x.y' ignored") and skipped.
 * On a syntax error or a bad value (wrong type, out of range, unknown mode ...) returns -1
 * with err = "PATH:LINE: what is wrong (key 'x.y')". c is always left valid (defaults plus
 * the files before the bad one) and must be released with config_free(). */
int config_load(config_t *c, const char *project_root, err_t *err);

/* Merges one file into an already initialised c. All or nothing: on error (-1, err set as
 * above, also when the file is missing) c is unchanged. On success the path is appended to
 * c->sources. */
int config_load_file(config_t *c, const char *path, err_t *err);

/* Chunk budget for a language (case-insensitive name), else the "default" entry, else 1000.
 * lang may be NULL (= default). */
int config_budget_for(const config_t *c, const char *lang);

/* Parses a size: a plain number of bytes ("1048576") or a number with a unit ("1MB", "1.5 GiB",
 * "512kib"); B, KB, MB, GB, TB are powers of 1000, KiB, MiB, GiB, TiB powers of 1024, case
 * does not matter. Returns 0 and sets *bytes, or -1 when the text is not such a size or the
 * value does not fit in 63 bits. */
int config_parse_size(const char *text, uint64_t *bytes);

/* Releases everything c owns and zeroes it. NULL is fine. */
void config_free(config_t *c);

#endif
