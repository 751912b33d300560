/* test_embed.c — the embedding engine (bert.c, embed.c) against PyTorch.
 *
 * tests/fixtures/embed/ holds small random-weight models (tools/gen_fixtures.py) in F32, F16
 * and Q8_0 with PyTorch's token ids and vectors for a fixed set of texts (<base>.json). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bert.h"
#include "embed.h"
#include "gguf.h"
#include "kern.h"
#include "log.h"
#include "t.h"
#include "util.h"

#define FIXTURES "tests/fixtures/embed"

static const char *const fixture_bases[] = {"tiny-bert", "tiny-bge", "tiny-nomic", "minilm-shaped"};

/* One reference text: its ids and PyTorch's vector. */
typedef struct {
    const char *text;
    int32_t *ids;
    size_t n_ids;
    float *vec;
} ref_text_t;

typedef struct {
    cJSON *json;
    const char *name, *query_prompt, *document_prompt;
    int dim, n_ctx;
    ref_text_t *docs, *queries;
    size_t n_docs, n_queries;
} ref_t;

static ref_text_t *ref_texts(const cJSON *arr, size_t *n, int dim)
{
    *n = (size_t)cJSON_GetArraySize(arr);
    ref_text_t *r = xcalloc(*n, sizeof *r);
    for (size_t i = 0; i < *n; i++) {
        const cJSON *o = cJSON_GetArrayItem(arr, (int)i);
        r[i].text = cJSON_GetObjectItem(o, "text")->valuestring;
        const cJSON *ids = cJSON_GetObjectItem(o, "ids"),
                    *vec = cJSON_GetObjectItem(o, "embedding");
        r[i].n_ids = (size_t)cJSON_GetArraySize(ids);
        r[i].ids = xcalloc(r[i].n_ids, sizeof *r[i].ids);
        for (size_t j = 0; j < r[i].n_ids; j++)
            r[i].ids[j] = cJSON_GetArrayItem(ids, (int)j)->valueint;
        if (cJSON_GetArraySize(vec) != dim) abort();
        r[i].vec = xcalloc((size_t)dim, sizeof *r[i].vec);
        for (int j = 0; j < dim; j++)
            r[i].vec[j] = (float)cJSON_GetArrayItem(vec, j)->valuedouble;
    }
    return r;
}

static bool ref_load(const char *base, ref_t *ref)
{
    memset(ref, 0, sizeof *ref);
    char path[256], *data;
    size_t len;
    err_t err;
    snprintf(path, sizeof path, FIXTURES "/%s.json", base);
    if (file_read_all(path, 1 << 24, &data, &len, &err) != 0) {
        fprintf(stderr, "  %s\n", err.msg);
        return false;
    }
    ref->json = cJSON_Parse(data);
    free(data);
    if (!ref->json) return false;
    ref->name = cJSON_GetObjectItem(ref->json, "name")->valuestring;
    ref->query_prompt = cJSON_GetObjectItem(ref->json, "query_prompt")->valuestring;
    ref->document_prompt = cJSON_GetObjectItem(ref->json, "document_prompt")->valuestring;
    ref->dim = cJSON_GetObjectItem(ref->json, "dim")->valueint;
    ref->n_ctx = cJSON_GetObjectItem(ref->json, "context_length")->valueint;
    ref->docs = ref_texts(cJSON_GetObjectItem(ref->json, "documents"), &ref->n_docs, ref->dim);
    ref->queries = ref_texts(cJSON_GetObjectItem(ref->json, "queries"), &ref->n_queries, ref->dim);
    return true;
}

static void ref_texts_free(ref_text_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].ids);
        free(r[i].vec);
    }
    free(r);
}

static void ref_free(ref_t *ref)
{
    ref_texts_free(ref->docs, ref->n_docs);
    ref_texts_free(ref->queries, ref->n_queries);
    cJSON_Delete(ref->json);
}

/* The model files of a fixture: (dtype name, path, lossless). */
typedef struct {
    char dtype[8];
    char path[256];
    bool exact;
} ref_file_t;

static size_t ref_files(const ref_t *ref, ref_file_t *out, size_t max)
{
    size_t n = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(ref->json, "files"))
    {
        if (n == max) break;
        snprintf(out[n].dtype, sizeof out[n].dtype, "%s", f->string);
        snprintf(out[n].path, sizeof out[n].path, FIXTURES "/%s",
                 cJSON_GetObjectItem(f, "file")->valuestring);
        out[n].exact = cJSON_IsTrue(cJSON_GetObjectItem(f, "exact"));
        n++;
    }
    return n;
}

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* The cosine the issue requires per weight type (lossless files must match like F32). */
static double threshold(const ref_file_t *f, kern_mode_t mode)
{
    if (mode != KERN_MODE_F32) return 0.99;
    if (f->exact || strcmp(f->dtype, "F32") == 0) return 0.99999;
    if (strcmp(f->dtype, "F16") == 0) return 0.999;
    return 0.99;
}

/* How far a text's vector may move between being embedded alone and in a batch: 1e-5 as the
 * issue requires for exact (f32) arithmetic. In BF16/INT8 modes the kernels compute products
 * of a few rows (a lone short text) in f32 and larger ones in reduced precision, so there the
 * two differ by the reduced precision (~1e-3) and both are checked against the reference. */
static double batch_tolerance(kern_mode_t mode)
{
    return mode == KERN_MODE_F32 ? 1e-5 : 1e-2;
}

/* ---- bert.c directly, with the reference ids ----------------------------------------- */

/* Encodes every reference document alone and all of them in one padded batch. */
static void check_bert_file(const ref_t *ref, const ref_file_t *f, kern_mode_t mode,
                            kern_pool_t *pool)
{
    err_t err;
    gguf_t *g = gguf_open(f->path, &err);
    T_CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    bert_model_t *m = bert_model_load(g, mode, &err);
    T_CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "  %s\n", err.msg);
        gguf_close(g);
        return;
    }
    T_EQ_INT(bert_model_hparams(m)->n_embd, ref->dim);
    T_EQ_INT(bert_model_hparams(m)->n_ctx, ref->n_ctx);
    bert_ctx_t *c = bert_ctx_new(m, pool);
    size_t n = ref->n_docs, dim = (size_t)ref->dim, T = 0;
    float *alone = xcalloc(n * dim, sizeof *alone), *batch = xcalloc(n * dim, sizeof *batch);
    uint32_t *lens = xcalloc(n, sizeof *lens);
    double worst = 1, maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        lens[i] = (uint32_t)ref->docs[i].n_ids;
        T = EC_MAX(T, lens[i]);
        T_EQ_INT(bert_encode(c, ref->docs[i].ids, &lens[i], 1, lens[i], alone + i * dim, &err), 0);
        worst = fmin(worst, cosine(alone + i * dim, ref->docs[i].vec, ref->dim));
        maxdiff = fmax(maxdiff, max_abs_diff(alone + i * dim, ref->docs[i].vec, dim));
    }
    int32_t *ids = xcalloc(n * T, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        memcpy(ids + i * T, ref->docs[i].ids, lens[i] * sizeof *ids);
    T_EQ_INT(bert_encode(c, ids, lens, n, T, batch, &err), 0);
    double diff = max_abs_diff(alone, batch, n * dim), want = threshold(f, mode);
    for (size_t i = 0; i < n; i++)
        worst = fmin(worst, cosine(batch + i * dim, ref->docs[i].vec, ref->dim));
    /* Beyond the cosine: lossless weights in f32 must also agree element by element
     * within 2e-6 (ten times the error observed on every ISA), so that slips too small for a
     * cosine to notice (a constant in GELU, the rotary tables) still fail. */
    bool strict = mode == KERN_MODE_F32 && (f->exact || strcmp(f->dtype, "F32") == 0);
    if (worst < want || diff > batch_tolerance(mode) || (strict && maxdiff > 2e-6) ||
        getenv("T_VERBOSE"))
        fprintf(stderr,
                "  %s mode %d: 1 - cosine %.2g (need <= %.2g), max |diff| %.2g; "
                "batch vs alone %.2g\n",
                f->path, (int)mode, 1 - worst, 1 - want, maxdiff, diff);
    T_CHECK(worst >= want);
    T_CHECK(diff <= batch_tolerance(mode));
    if (strict) T_CHECK(maxdiff <= 2e-6);
    free(ids);
    free(lens);
    free(alone);
    free(batch);
    bert_ctx_free(c);
    bert_model_free(m);
    gguf_close(g);
}

static void for_each_fixture_file(kern_mode_t mode, kern_pool_t *pool)
{
    for (size_t b = 0; b < ARRAY_LEN(fixture_bases); b++) {
        ref_t ref;
        T_CHECK(ref_load(fixture_bases[b], &ref));
        if (!ref.json) continue;
        ref_file_t files[4];
        size_t nf = ref_files(&ref, files, 4);
        T_CHECK(nf >= 1);
        for (size_t i = 0; i < nf; i++)
            check_bert_file(&ref, &files[i], mode, pool);
        ref_free(&ref);
    }
}

static void test_bert_matches_pytorch_for_every_fixture_and_dtype(void)
{
    for_each_fixture_file(KERN_MODE_F32, NULL);
}

static void test_bert_matches_pytorch_with_two_threads(void)
{
    kern_pool_t *pool = kern_pool_new(2);
    for_each_fixture_file(KERN_MODE_F32, pool);
    kern_pool_free(pool);
}

static void test_bert_bf16_and_int8_modes_stay_close_to_pytorch(void)
{
    for_each_fixture_file(KERN_MODE_BF16, NULL);
    for_each_fixture_file(KERN_MODE_INT8, NULL);
}

static void test_bert_rejects_inconsistent_batches(void)
{
    err_t err;
    gguf_t *g = gguf_open(FIXTURES "/tiny-nomic.f16.gguf", &err);
    T_CHECK(g != NULL);
    if (!g) return;
    bert_model_t *m = bert_model_load(g, KERN_MODE_F32, &err);
    T_CHECK(m != NULL);
    if (!m) {
        gguf_close(g);
        return;
    }
    bert_ctx_t *c = bert_ctx_new(m, NULL);
    const bert_hparams_t *hp = bert_model_hparams(m);
    int32_t ids[80] = {101, 7, 102};
    uint32_t len = 3;
    float out[64];
    T_EQ_INT(bert_encode(c, ids, &len, 1, 3, out, &err), 0);
    ids[1] = (int32_t)hp->n_vocab;
    T_EQ_INT(bert_encode(c, ids, &len, 1, 3, out, &err), -1);
    T_CHECK(strstr(err.msg, "outside the vocabulary") != NULL);
    ids[1] = -1;
    T_EQ_INT(bert_encode(c, ids, &len, 1, 3, out, &err), -1);
    ids[1] = 7;
    len = 4;
    T_EQ_INT(bert_encode(c, ids, &len, 1, 3, out, &err), -1); /* length beyond T */
    len = 0;
    T_EQ_INT(bert_encode(c, ids, &len, 1, 3, out, &err), -1);
    len = 3;
    T_EQ_INT(bert_encode(c, ids, &len, 1, hp->n_ctx + 1, out, &err), -1); /* beyond context */
    T_CHECK(strstr(err.msg, "context") != NULL);
    T_EQ_INT(bert_encode(c, ids, &len, 0, 3, out, &err), 0); /* nothing to do */
    T_CHECK(bert_ctx_bytes(c) > 0);
    bert_ctx_free(c);
    bert_model_free(m);
    gguf_close(g);
}

/* ---- embed.c: text in, vectors out ------------------------------------------------- */

static embed_model_t *open_model(const char *path, const embed_opts_t *opts)
{
    err_t err;
    embed_model_t *m = embed_model_open(path, opts, &err);
    if (!m) fprintf(stderr, "  %s\n", err.msg);
    return m;
}

static bool ids_equal(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    return na == nb && memcmp(a, b, na * sizeof *a) == 0;
}

static void check_tokens(embed_model_t *m, const ref_text_t *r, size_t n, bool is_query)
{
    for (size_t i = 0; i < n; i++) {
        int32_t *ids;
        size_t k;
        err_t err;
        T_EQ_INT(embed_tokenize(m, r[i].text, is_query, &ids, &k, &err), 0);
        if (!ids_equal(ids, k, r[i].ids, r[i].n_ids)) {
            fprintf(stderr, "  tokens differ for %s \"%s\" (%zu vs %zu ids)\n",
                    is_query ? "query" : "document", r[i].text, k, r[i].n_ids);
            T_CHECK(false);
        }
        free(ids);
    }
}

static void test_tokenizer_gives_the_reference_ids_with_prompts(void)
{
    for (size_t b = 0; b < ARRAY_LEN(fixture_bases); b++) {
        ref_t ref;
        T_CHECK(ref_load(fixture_bases[b], &ref));
        ref_file_t f;
        ref_files(&ref, &f, 1);
        embed_model_t *m = open_model(f.path, NULL);
        T_CHECK(m != NULL);
        if (m) {
            T_EQ_STR(embed_model_name(m), ref.name);
            T_EQ_STR(embed_query_prompt(m), ref.query_prompt);
            T_EQ_STR(embed_document_prompt(m), ref.document_prompt);
            check_tokens(m, ref.docs, ref.n_docs, false);
            check_tokens(m, ref.queries, ref.n_queries, true);
        }
        embed_model_free(m);
        ref_free(&ref);
    }
}

static double min_cosine(const float *got, const ref_text_t *r, size_t n, int dim)
{
    double worst = 1;
    for (size_t i = 0; i < n; i++)
        worst = fmin(worst, cosine(got + i * (size_t)dim, r[i].vec, dim));
    return worst;
}

/* Every fixture file through the public API: documents and queries in one call each, then
 * each document alone, in reverse order. */
static void check_embed_file(const ref_t *ref, const ref_file_t *f, const embed_opts_t *opts)
{
    embed_model_t *m = open_model(f->path, opts);
    T_CHECK(m != NULL);
    if (!m) return;
    size_t dim = (size_t)embed_dim(m), n = ref->n_docs, nq = ref->n_queries;
    T_EQ_INT(dim, ref->dim);
    const char **texts = xcalloc(n, sizeof *texts), **qtexts = xcalloc(nq, sizeof *qtexts);
    for (size_t i = 0; i < n; i++)
        texts[i] = ref->docs[i].text;
    for (size_t i = 0; i < nq; i++)
        qtexts[i] = ref->queries[i].text;
    float *all = xcalloc(n * dim, sizeof *all), *alone = xcalloc(n * dim, sizeof *alone);
    float *q = xcalloc(nq * dim, sizeof *q);
    err_t err;
    T_EQ_INT(embed_texts(m, texts, n, false, all, &err), 0);
    T_EQ_INT(embed_texts(m, qtexts, nq, true, q, &err), 0);
    for (size_t i = n; i-- > 0;)
        T_EQ_INT(embed_texts(m, &texts[i], 1, false, alone + i * dim, &err), 0);
    double want = threshold(f, opts->mode), cd = min_cosine(all, ref->docs, n, ref->dim);
    double cq = min_cosine(q, ref->queries, nq, ref->dim), diff = max_abs_diff(all, alone, n * dim);
    cd = fmin(cd, min_cosine(alone, ref->docs, n, ref->dim));
    if (cd < want || cq < want || diff > batch_tolerance(opts->mode) || getenv("T_VERBOSE"))
        fprintf(stderr,
                "  %s mode %d threads %d: documents %.7f, queries %.7f (need %.5f), "
                "in a call vs alone %.2g\n",
                f->path, (int)opts->mode, opts->n_threads, cd, cq, want, diff);
    T_CHECK(cd >= want);
    T_CHECK(cq >= want);
    T_CHECK(diff <= batch_tolerance(opts->mode));
    if (opts->mode == KERN_MODE_F32 && (f->exact || strcmp(f->dtype, "F32") == 0))
        for (size_t i = 0; i < n; i++)
            T_CHECK(max_abs_diff(all + i * dim, ref->docs[i].vec, dim) <= 2e-6);
    for (size_t i = 0; i < n * dim; i += dim) { /* unit length */
        double norm = 0;
        for (size_t e = 0; e < dim; e++)
            norm += (double)all[i + e] * all[i + e];
        T_CHECK(fabs(norm - 1) < 1e-5);
    }
    free(texts);
    free(qtexts);
    free(all);
    free(alone);
    free(q);
    embed_model_free(m);
}

static void embed_every_fixture(const embed_opts_t *opts)
{
    for (size_t b = 0; b < ARRAY_LEN(fixture_bases); b++) {
        ref_t ref;
        T_CHECK(ref_load(fixture_bases[b], &ref));
        ref_file_t files[4];
        size_t nf = ref_files(&ref, files, 4);
        for (size_t i = 0; i < nf; i++)
            check_embed_file(&ref, &files[i], opts);
        ref_free(&ref);
    }
}

static void test_embed_texts_match_pytorch_in_every_dtype(void)
{
    embed_opts_t o = {.n_threads = 1, .mode = KERN_MODE_F32};
    embed_every_fixture(&o);
    o.n_threads = 2;
    embed_every_fixture(&o);
}

static void test_embed_texts_in_bf16_and_int8_modes_stay_close(void)
{
    embed_opts_t o = {.n_threads = 2, .mode = KERN_MODE_BF16};
    embed_every_fixture(&o);
    o.mode = KERN_MODE_INT8;
    embed_every_fixture(&o);
}

static void test_long_input_is_truncated_to_the_context(void)
{
    ref_t ref;
    T_CHECK(ref_load("tiny-bert", &ref));
    ref_file_t f;
    ref_files(&ref, &f, 1);
    embed_model_t *m = open_model(f.path, NULL);
    T_CHECK(m != NULL);
    if (m) {
        T_EQ_INT(embed_context_length(m), ref.n_ctx);
        sbuf_t long_text = {0};
        for (int i = 0; i < 500; i++)
            sbuf_puts(&long_text, "the quick brown fox ");
        int32_t *ids;
        size_t n;
        err_t err;
        T_EQ_INT(embed_tokenize(m, long_text.data, false, &ids, &n, &err), 0);
        T_EQ_INT(n, ref.n_ctx);
        T_EQ_INT(ids[0], 101);
        T_EQ_INT(ids[n - 1], 102);
        free(ids);
        /* Appending more text beyond the context changes nothing. */
        const char *texts[2] = {long_text.data, NULL};
        sbuf_t longer = {0};
        sbuf_puts(&longer, long_text.data);
        sbuf_puts(&longer, "completely different words at the end");
        texts[1] = longer.data;
        float v[2 * 64];
        T_EQ_INT(embed_texts(m, texts, 2, false, v, &err), 0);
        T_CHECK(max_abs_diff(v, v + 64, 64) == 0);
        sbuf_free(&long_text);
        sbuf_free(&longer);
    }
    embed_model_free(m);
    ref_free(&ref);
}

static void test_prompts_are_chosen_by_model_name(void)
{
    static const struct {
        const char *name, *query, *document;
    } cases[] = {
        {"nomic-embed-text-v1.5", "search_query: ", "search_document: "},
        {"Nomic-Embed-Text-v1.5.Q8_0", "search_query: ", "search_document: "},
        {"CodeRankEmbed", "Represent this query for searching relevant code: ", ""},
        {"bge-small-en-v1.5", "Represent this sentence for searching relevant passages: ", ""},
        {"BAAI/bge-base-en-v1.5-f16",
         "Represent this sentence for searching relevant passages: ", ""},
        {"all-MiniLM-L6-v2", "", ""},
        {"bge-small-zh", "", ""},
        {"", "", ""},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const char *q, *d;
        embed_prompts_for_name(cases[i].name, &q, &d);
        T_EQ_STR(q, cases[i].query);
        T_EQ_STR(d, cases[i].document);
    }
}

static void test_prompts_can_be_overridden(void)
{
    ref_t plain, nomic;
    T_CHECK(ref_load("tiny-bert", &plain)); /* same vocabulary, no prompts */
    T_CHECK(ref_load("tiny-nomic", &nomic));
    ref_file_t f;
    ref_files(&nomic, &f, 1);
    embed_opts_t o = {.n_threads = 1, .query_prompt = "", .document_prompt = ""};
    embed_model_t *m = open_model(f.path, &o);
    T_CHECK(m != NULL);
    if (m) {
        T_EQ_STR(embed_query_prompt(m), "");
        T_EQ_STR(embed_document_prompt(m), "");
        check_tokens(m, plain.docs, plain.n_docs, false);
        check_tokens(m, plain.docs, plain.n_docs, true);
    }
    embed_model_free(m);
    o.query_prompt = "search_document: "; /* queries embedded like documents */
    o.document_prompt = NULL;             /* the model's default */
    m = open_model(f.path, &o);
    T_CHECK(m != NULL);
    if (m) {
        T_EQ_STR(embed_document_prompt(m), "search_document: ");
        check_tokens(m, nomic.docs, nomic.n_docs, true);
    }
    embed_model_free(m);
    ref_free(&plain);
    ref_free(&nomic);
}

/* ---- Hostile and broken files -------------------------------------------------------- */

/* A copy of a fixture with `find` (a length-prefixed GGUF string) replaced by `repl` (same
 * length), or with the two u64 dims after it swapped when repl is NULL. */
static const char *patched(const char *src, const char *find, const char *repl, const char *out)
{
    static char path[512];
    char *data;
    size_t len;
    err_t err;
    if (file_read_all(src, 1 << 26, &data, &len, &err) != 0) return NULL;
    size_t fl = strlen(find);
    char needle[128];
    uint64_t fl64 = fl;
    memcpy(needle, &fl64, 8);
    memcpy(needle + 8, find, fl);
    char *at = memmem(data, len, needle, 8 + fl);
    if (!at) {
        free(data);
        return NULL;
    }
    at += 8;
    if (repl) {
        memcpy(at, repl, fl);
    } else { /* tensor info: name, u32 n_dims, u64 dims[] */
        uint64_t d[2];
        memcpy(d, at + fl + 4, sizeof d);
        uint64_t t = d[0];
        d[0] = d[1];
        d[1] = t;
        memcpy(at + fl + 4, d, sizeof d);
    }
    snprintf(path, sizeof path, "%s/%s", t_tmpdir(), out);
    int rc = file_write_atomic(path, data, len, &err);
    free(data);
    return rc == 0 ? path : NULL;
}

static void expect_open_error(const char *path, const char *what1, const char *what2)
{
    T_CHECK(path != NULL);
    if (!path) return;
    err_t err = {{0}};
    embed_model_t *m = embed_model_open(path, NULL, &err);
    T_CHECK(m == NULL);
    embed_model_free(m);
    bool ok = strstr(err.msg, what1) && (!what2 || strstr(err.msg, what2));
    if (!ok || getenv("T_VERBOSE")) fprintf(stderr, "  error: %s\n", err.msg);
    T_CHECK(ok);
}

static void test_missing_tensor_is_named_in_the_error(void)
{
    const char *src = FIXTURES "/tiny-bert.f32.gguf";
    expect_open_error(patched(src, "blk.1.ffn_down.weight", "blk.1.ffn_down.weighX", "a.gguf"),
                      "'blk.1.ffn_down.weight' is missing", NULL);
    src = FIXTURES "/tiny-nomic.q8_0.gguf";
    expect_open_error(patched(src, "blk.0.attn_qkv.weight", "blk.0.attn_qkv.wEight", "b.gguf"),
                      "'blk.0.attn_qkv.weight' is missing", NULL);
}

static void test_wrong_tensor_shape_is_named_in_the_error(void)
{
    const char *src = FIXTURES "/tiny-bert.f16.gguf";
    expect_open_error(patched(src, "blk.0.ffn_up.weight", NULL, "c.gguf"),
                      "'blk.0.ffn_up.weight' has shape [128, 64]", "expected [64, 128]");
    src = FIXTURES "/tiny-nomic.f32.gguf";
    expect_open_error(patched(src, "blk.1.ffn_gate.weight", NULL, "d.gguf"),
                      "'blk.1.ffn_gate.weight' has shape [160, 64]", "expected [64, 160]");
}

static void test_unsupported_architecture_and_bad_files_give_clear_errors(void)
{
    const char *src = FIXTURES "/tiny-bert.f32.gguf";
    /* general.architecture's value "bert" follows the key; patch the key's value by name. */
    char *data;
    size_t len;
    err_t err;
    T_EQ_INT(file_read_all(src, 1 << 26, &data, &len, &err), 0);
    const char *key = "general.architecture";
    char *at = memmem(data, len, key, strlen(key));
    T_CHECK(at != NULL);
    if (at) memcpy(at + strlen(key) + 4 + 8, "bort", 4);
    char path[512];
    snprintf(path, sizeof path, "%s/arch.gguf", t_tmpdir());
    T_EQ_INT(file_write_atomic(path, data, len, &err), 0);
    expect_open_error(path, "architecture 'bort' is not supported", "nomic-bert");
    /* Truncated in the middle of the tensor data. */
    snprintf(path, sizeof path, "%s/short.gguf", t_tmpdir());
    T_EQ_INT(file_write_atomic(path, data, len / 2, &err), 0);
    expect_open_error(path, "short.gguf", NULL);
    free(data);
    snprintf(path, sizeof path, "%s/does-not-exist.gguf", t_tmpdir());
    expect_open_error(path, "does-not-exist.gguf", NULL);
}

static void test_name_and_prompts_fall_back_to_the_file_name(void)
{
    const char *p = patched(FIXTURES "/tiny-nomic.f32.gguf", "general.name", "general.nXme",
                            "nomic-embed-text-v1.5.tiny.gguf");
    T_CHECK(p != NULL);
    embed_model_t *m = p ? open_model(p, NULL) : NULL;
    T_CHECK(m != NULL);
    if (m) {
        T_EQ_STR(embed_model_name(m), "nomic-embed-text-v1.5.tiny");
        T_EQ_STR(embed_query_prompt(m), "search_query: ");
    }
    embed_model_free(m);
}

/* ---- Memory -------------------------------------------------------------------------- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif

static void test_memory_stays_flat_over_many_texts(void)
{
    static const char *words[] = {"parse", "config", "file",  "the",    "user",   "name", "return",
                                  "value", "for",    "index", "search", "vector", "café", "東京"};
    embed_model_t *m = open_model(FIXTURES "/tiny-bert.q8_0.gguf", &(embed_opts_t){.n_threads = 2});
    T_CHECK(m != NULL);
    if (!m) return;
#ifdef T_ASAN
    int calls = 5; /* ASan's quarantine grows RSS by design: check the code path only */
#else
    int calls = 100;
#endif
    enum { PER_CALL = 100 };
    char *texts[PER_CALL];
    float *out = xmalloc(PER_CALL * (size_t)embed_dim(m) * sizeof *out);
    unsigned seed = 1;
    long after_100 = 0;
    err_t err;
    for (int c = 0; c < calls; c++) {
        for (int i = 0; i < PER_CALL; i++) {
            sbuf_t b = {0};
            int n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 24;
            for (int w = 0; w < n; w++) {
                seed = seed * 1103515245u + 12345u;
                sbuf_printf(&b, "%s%s", w ? " " : "", words[(seed >> 16) % ARRAY_LEN(words)]);
            }
            texts[i] = sbuf_take(&b);
        }
        T_EQ_INT(embed_texts(m, (const char *const *)texts, PER_CALL, c % 2, out, &err), 0);
        for (int i = 0; i < PER_CALL; i++)
            free(texts[i]);
        if (c == 0) after_100 = rss_kib();
    }
    long after_all = rss_kib();
    if (getenv("T_VERBOSE") || after_all > after_100 * 11 / 10)
        fprintf(stderr, "  RSS after 100 texts %ld KiB, after %d: %ld KiB\n", after_100,
                calls * PER_CALL, after_all);
#ifndef T_ASAN
    T_CHECK(after_all <= after_100 * 11 / 10);
#endif
    free(out);
    embed_model_free(m);
}

int main(void)
{
    if (!getenv("T_VERBOSE")) log_set_level(LOG_WARNING);
    T_RUN(test_bert_matches_pytorch_for_every_fixture_and_dtype);
    T_RUN(test_bert_matches_pytorch_with_two_threads);
    T_RUN(test_bert_bf16_and_int8_modes_stay_close_to_pytorch);
    T_RUN(test_bert_rejects_inconsistent_batches);
    T_RUN(test_tokenizer_gives_the_reference_ids_with_prompts);
    T_RUN(test_embed_texts_match_pytorch_in_every_dtype);
    T_RUN(test_embed_texts_in_bf16_and_int8_modes_stay_close);
    T_RUN(test_long_input_is_truncated_to_the_context);
    T_RUN(test_prompts_are_chosen_by_model_name);
    T_RUN(test_prompts_can_be_overridden);
    T_RUN(test_missing_tensor_is_named_in_the_error);
    T_RUN(test_wrong_tensor_shape_is_named_in_the_error);
    T_RUN(test_unsupported_architecture_and_bad_files_give_clear_errors);
    T_RUN(test_name_and_prompts_fall_back_to_the_file_name);
    T_RUN(test_memory_stays_flat_over_many_texts);
    return t_done();
}
