/* embed.c — the embedding engine: GGUF file + WordPiece + BERT forward pass, batched. */
#include "embed.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "gguf.h"
#include "log.h"
#include "wordpiece.h"

/* Token rows per forward pass: enough rows for the matrix kernels to run at full speed,
 * small enough that the activations stay modest (about 30 MB for MiniLM, 90 MB for nomic). A
 * single sequence longer than this still runs, alone. */
enum { EMBED_BATCH_TOKENS = 2048 };

struct embed_model {
    gguf_t *g;
    wordpiece_t *wp;
    bert_model_t *bert;
    kern_pool_t *pool;
    bert_ctx_t *ctx;
    pthread_mutex_t lock; /* one embed_texts at a time: the pool and ctx are shared */
    char *name, *query_prompt, *document_prompt;
    size_t dim, n_ctx;
};

/* ---- Prompts ------------------------------------------------------------------------- */

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == needle[i])
            i++;
        if (i == n) return true;
    }
    return false;
}

/* Sets the prompts for a known model family; false (and "") when name matches none. */
static bool prompts_lookup(const char *name, const char **query, const char **document)
{
    *query = *document = "";
    if (!name) return false;
    if (contains_nocase(name, "nomic-embed-text")) {
        *query = "search_query: ";
        *document = "search_document: ";
        return true;
    }
    if (contains_nocase(name, "coderankembed")) {
        *query = "Represent this query for searching relevant code: ";
        return true;
    }
    if (contains_nocase(name, "bge-") && contains_nocase(name, "en-v1.5")) {
        *query = "Represent this sentence for searching relevant passages: ";
        return true;
    }
    return false;
}

void embed_prompts_for_name(const char *name, const char **query, const char **document)
{
    prompts_lookup(name, query, document);
}

/* The file's basename without a ".gguf" suffix (malloc'd). */
static char *basename_stem(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".gguf") == 0) n -= 5;
    return xstrndup(b, n);
}

static void choose_prompts(embed_model_t *m, const char *path, const embed_opts_t *opts)
{
    const char *q, *d;
    if (!prompts_lookup(m->name, &q, &d)) {
        char *stem = basename_stem(path);
        prompts_lookup(stem, &q, &d);
        free(stem);
    }
    m->query_prompt = xstrdup(opts && opts->query_prompt ? opts->query_prompt : q);
    m->document_prompt = xstrdup(opts && opts->document_prompt ? opts->document_prompt : d);
}

/* ---- Opening ------------------------------------------------------------------------- */

static const char *mode_name(kern_mode_t mode)
{
    switch (mode) {
    case KERN_MODE_F32:
        return "f32";
    case KERN_MODE_BF16:
        return "bf16";
    case KERN_MODE_INT8:
        return "int8";
    }
    return "?";
}

embed_model_t *embed_model_open(const char *gguf_path, const embed_opts_t *opts, err_t *err)
{
    embed_opts_t defaults = {0};
    if (!opts) opts = &defaults;
    if (opts->mode != KERN_MODE_F32 && opts->mode != KERN_MODE_BF16 &&
        opts->mode != KERN_MODE_INT8) {
        err_set(err, "embedding: unknown arithmetic mode %d (use f32, bf16 or int8)",
                (int)opts->mode);
        return NULL;
    }
    if (opts->n_threads < 0 || opts->n_threads > 1024) {
        err_set(err, "embedding: %d threads requested; use 0 (one per CPU) to 1024",
                opts->n_threads);
        return NULL;
    }
    embed_model_t *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->g = gguf_open(gguf_path, err);
    if (!m->g) goto fail;
    m->bert = bert_model_load(m->g, opts->mode, err);
    if (!m->bert) goto fail;
    m->wp = wordpiece_load(m->g, err);
    if (!m->wp) {
        err_prefix(err, "%s", gguf_path);
        goto fail;
    }
    const bert_hparams_t *hp = bert_model_hparams(m->bert);
    if (wordpiece_vocab_size(m->wp) > hp->n_vocab) {
        err_set(err,
                "%s: the tokenizer has %zu tokens but token_embd.weight only %u rows; the "
                "file is inconsistent",
                gguf_path, wordpiece_vocab_size(m->wp), hp->n_vocab);
        goto fail;
    }
    m->dim = hp->n_embd;
    m->n_ctx = hp->n_ctx;

    const char *name;
    size_t len;
    if (gguf_get_str(m->g, "general.name", &name, &len) == 0 && len > 0)
        m->name = xstrndup(name, EC_MIN(len, 256));
    else
        m->name = basename_stem(gguf_path);
    choose_prompts(m, gguf_path, opts);

    m->pool = kern_pool_new(opts->n_threads);
    m->ctx = bert_ctx_new(m->bert, m->pool);
    log_info("embedding model %s: %s, %zu dims, %u layers, context %zu, %d threads, %s "
             "arithmetic (%s)",
             m->name, hp->arch_name, m->dim, hp->n_layer, m->n_ctx, kern_pool_threads(m->pool),
             mode_name(opts->mode), kern_isa_name());
    return m;
fail:
    embed_model_free(m);
    return NULL;
}

void embed_model_free(embed_model_t *m)
{
    if (!m) return;
    bert_ctx_free(m->ctx);
    kern_pool_free(m->pool);
    bert_model_free(m->bert);
    wordpiece_free(m->wp);
    gguf_close(m->g);
    pthread_mutex_destroy(&m->lock);
    free(m->name);
    free(m->query_prompt);
    free(m->document_prompt);
    free(m);
}

int embed_dim(const embed_model_t *m)
{
    return (int)m->dim;
}

int embed_context_length(const embed_model_t *m)
{
    return (int)m->n_ctx;
}

const char *embed_model_name(const embed_model_t *m)
{
    return m->name;
}

const char *embed_query_prompt(const embed_model_t *m)
{
    return m->query_prompt;
}

const char *embed_document_prompt(const embed_model_t *m)
{
    return m->document_prompt;
}

/* ---- Tokenizing and batching --------------------------------------------------------- */

/* [CLS] prompt+text [SEP], truncated to the context, into ids (capacity n_ctx). */
static size_t encode(const embed_model_t *m, sbuf_t *buf, const char *text, bool is_query,
                     int32_t *ids)
{
    const char *prompt = is_query ? m->query_prompt : m->document_prompt;
    if (!text) text = "";
    if (*prompt) {
        sbuf_reset(buf);
        sbuf_puts(buf, prompt);
        sbuf_puts(buf, text);
        text = buf->data;
    }
    return wordpiece_encode(m->wp, text, strlen(text), ids, m->n_ctx);
}

int embed_tokenize(embed_model_t *m, const char *text, bool is_query, int32_t **ids, size_t *n,
                   err_t *err)
{
    (void)err; /* tokenizing cannot fail */
    sbuf_t buf = {0};
    *ids = xmalloc(m->n_ctx * sizeof **ids);
    *n = encode(m, &buf, text, is_query, *ids);
    sbuf_free(&buf);
    return 0;
}

/* All texts of one call, tokenized: text i is ids[off[i] .. off[i] + len[i]). */
typedef struct {
    int32_t *ids;
    size_t *off;
    uint32_t *len;
    size_t *order; /* text indices, longest first */
} tokenized_t;

typedef struct {
    uint32_t len;
    size_t index;
} len_index_t;

static int by_len_desc(const void *a, const void *b)
{
    const len_index_t *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index; /* equal lengths: input order */
}

static void tokenize_all(const embed_model_t *m, const char *const *texts, size_t n, bool is_query,
                         tokenized_t *tk)
{
    sbuf_t buf = {0};
    int32_t *one = xmalloc(m->n_ctx * sizeof *one);
    size_t cap = 0, used = 0;
    tk->ids = NULL;
    tk->off = xmalloc(n * sizeof *tk->off);
    tk->len = xmalloc(n * sizeof *tk->len);
    tk->order = xmalloc(n * sizeof *tk->order);
    for (size_t i = 0; i < n; i++) {
        size_t k = encode(m, &buf, texts[i], is_query, one);
        if (used + k > cap) {
            cap = EC_MAX(2 * cap, used + k + 1024);
            tk->ids = xrealloc(tk->ids, cap * sizeof *tk->ids);
        }
        memcpy(tk->ids + used, one, k * sizeof *one);
        tk->off[i] = used;
        tk->len[i] = (uint32_t)k;
        used += k;
    }
    len_index_t *keys = xmalloc(n * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = (len_index_t){tk->len[i], i};
    qsort(keys, n, sizeof *keys, by_len_desc);
    for (size_t i = 0; i < n; i++)
        tk->order[i] = keys[i].index;
    free(keys);
    free(one);
    sbuf_free(&buf);
}

static void tokenized_free(tokenized_t *tk)
{
    free(tk->ids);
    free(tk->off);
    free(tk->len);
    free(tk->order);
}

int embed_texts(embed_model_t *m, const char *const *texts, size_t n, bool is_query, float *out,
                err_t *err)
{
    if (n == 0) return 0;
    pthread_mutex_lock(&m->lock);
    tokenized_t tk;
    tokenize_all(m, texts, n, is_query, &tk);
    size_t budget = EC_MAX((size_t)EMBED_BATCH_TOKENS, m->n_ctx);
    int32_t *ids = xmalloc(budget * sizeof *ids);
    uint32_t *lens = xmalloc(budget * sizeof *lens);
    float *vecs = xmalloc(budget * m->dim * sizeof *vecs);
    int rc = 0;
    int32_t pad = wordpiece_pad_id(m->wp);
    for (size_t first = 0; first < n && rc == 0;) {
        /* Longest first, so the first text of a batch fixes its padded length T. */
        size_t T = tk.len[tk.order[first]], b = 0;
        while (first + b < n && (b + 1) * T <= budget) {
            size_t i = tk.order[first + b];
            lens[b] = tk.len[i];
            memcpy(ids + b * T, tk.ids + tk.off[i], lens[b] * sizeof *ids);
            for (size_t t = lens[b]; t < T; t++)
                ids[b * T + t] = pad;
            b++;
        }
        rc = bert_encode(m->ctx, ids, lens, b, T, vecs, err);
        for (size_t k = 0; k < b && rc == 0; k++)
            memcpy(out + tk.order[first + k] * m->dim, vecs + k * m->dim, m->dim * sizeof *out);
        first += b;
    }
    free(ids);
    free(lens);
    free(vecs);
    tokenized_free(&tk);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
