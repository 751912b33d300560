/* cli_embed.c — see cli_embed.h. */
#include "cli_embed.h"

#include "cli.h"
#include "config.h"
#include "embed.h"
#include "log.h"
#include "model.h"
#include "project.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const usage_embed =
    "Usage: embecode [--path DIR] embed [--model NAME|PATH|URL] [--query] [--tokens] [TEXT...]\n"
    "\n"
    "Embeds each TEXT (or each line of standard input when no TEXT is given) with the local\n"
    "engine and prints one JSON array per text: the L2-normalised vector, or with --tokens\n"
    "the token ids the model sees ([CLS] and [SEP] included).\n"
    "\n"
    "  --model M   a preset name (see `embecode model list`), a .gguf path or a URL;\n"
    "              default: embeddings.model from the configuration (nomic-embed-text-v1.5)\n"
    "  --query     embed as search queries (the model's query prompt), not as documents\n"
    "  --tokens    print token ids instead of vectors\n"
    "\n"
    "A preset that is not downloaded yet is fetched into $XDG_CACHE_HOME/embecode/models/.\n";

static const char *const usage_model =
    "Usage: embecode model list [--json]\n"
    "       embecode model pull [NAME|URL]\n"
    "\n"
    "list  the known models (presets) and which are downloaded, plus other .gguf files in\n"
    "      $XDG_CACHE_HOME/embecode/models/\n"
    "pull  downloads a model (default: embeddings.model from the configuration), resuming an\n"
    "      interrupted download and verifying its SHA-256\n";

/* Loads the project's configuration into c (zeroed by the caller). */
static int project_config(const char *project_path, config_t *c, err_t *err)
{
    project_t p;
    if (project_resolve(&p, project_path, err) != 0) return -1;
    config_defaults(c);
    int rc = config_load(c, p.root, err);
    project_free(&p);
    return rc;
}

/* The configured model spec of the project (or the default), malloc'd. */
static char *configured_model(const char *project_path, err_t *err)
{
    config_t c = {0};
    char *spec = NULL;
    if (project_config(project_path, &c, err) == 0)
        spec = xstrdup(c.embed_model ? c.embed_model : "");
    config_free(&c);
    return spec;
}

static void print_vector(const float *v, int dim)
{
    putchar('[');
    for (int i = 0; i < dim; i++) printf(i ? ",%.7g" : "%.7g", (double)v[i]);
    puts("]");
}

static int embed_run(embed_model_t *m, char **texts, size_t n, bool query, bool tokens, err_t *err)
{
    if (tokens) {
        for (size_t i = 0; i < n; i++) {
            int32_t *ids;
            size_t k;
            if (embed_tokenize(m, texts[i], query, &ids, &k, err) != 0) return -1;
            putchar('[');
            for (size_t j = 0; j < k; j++) printf(j ? ",%d" : "%d", ids[j]);
            puts("]");
            free(ids);
        }
        return 0;
    }
    int dim = embed_dim(m);
    /* Bounded memory on long inputs: embed in slices. */
    const size_t slice = 256;
    float *out = xmalloc(slice * (size_t)dim * sizeof *out);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i += slice) {
        size_t k = EC_MIN(slice, n - i);
        rc = embed_texts(m, (const char *const *)texts + i, k, query, out, err);
        for (size_t j = 0; rc == 0 && j < k; j++) print_vector(out + j * (size_t)dim, dim);
    }
    free(out);
    return rc;
}

static char **read_lines(FILE *in, size_t *n)
{
    char **v = NULL, *line = NULL;
    size_t cap = 0, len = 0, lcap = 0;
    ssize_t r;
    *n = 0;
    while ((r = getline(&line, &lcap, in)) >= 0) {
        while (r > 0 && (line[r - 1] == '\n' || line[r - 1] == '\r')) line[--r] = 0;
        if (len == cap) v = xrealloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
        v[len++] = xstrndup(line, (size_t)r);
    }
    free(line);
    *n = len;
    return v;
}

int cli_embed_main(int argc, char **argv, const char *project_path)
{
    const char *model = NULL;
    bool query = false, tokens = false;
    char **texts = xcalloc((size_t)argc + 1, sizeof *texts);
    size_t n = 0;
    bool owned = false, rest = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (rest || s[0] != '-' || !s[1]) {
            texts[n++] = argv[i];
        } else if (!strcmp(s, "--")) {
            rest = true;
        } else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            fputs(usage_embed, stdout);
            free(texts);
            return CLI_OK;
        } else if (!strcmp(s, "--query")) {
            query = true;
        } else if (!strcmp(s, "--tokens")) {
            tokens = true;
        } else if (!strcmp(s, "--model") && i + 1 < argc) {
            model = argv[++i];
        } else {
            fprintf(stderr, "embecode: embed: unknown option or missing value '%s'\n"
                            "Run 'embecode embed --help' for usage.\n", s);
            free(texts);
            return CLI_USAGE;
        }
    }
    if (n == 0) {
        free(texts);
        texts = read_lines(stdin, &n);
        owned = true;
    }
    err_t err;
    config_t cfg = {0};
    char *spec = NULL, *path = NULL;
    embed_model_t *m = NULL;
    int rc = -1;
    if (project_config(project_path, &cfg, &err) == 0)
        spec = xstrdup(model ? model : cfg.embed_model ? cfg.embed_model : "");
    if (spec) {
        model_fetch_opts_t fo = {.allow_download = true};
        path = model_resolve(spec, &fo, &err);
    }
    /* Prompts from the configuration override the model's defaults. */
    embed_opts_t eo = {.query_prompt = cfg.query_prompt, .document_prompt = cfg.document_prompt};
    if (path) m = embed_model_open(path, &eo, &err);
    if (m) rc = embed_run(m, texts, n, query, tokens, &err);
    if (rc != 0) fprintf(stderr, "embecode: embed: %s\n", err.msg);
    embed_model_free(m);
    free(path);
    free(spec);
    config_free(&cfg);
    if (owned)
        for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

int cli_model_main(int argc, char **argv, const char *project_path)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || !strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(usage_model, sub ? stdout : stderr);
        return sub ? CLI_OK : CLI_USAGE;
    }
    err_t err;
    if (!strcmp(sub, "list")) {
        bool json = false;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--json")) json = true;
            else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                fputs(usage_model, stdout);
                return CLI_OK;
            } else {
                fprintf(stderr, "embecode: model list: unexpected argument '%s'\n", argv[i]);
                return CLI_USAGE;
            }
        }
        if (model_list_print(stdout, json, &err) != 0) {
            fprintf(stderr, "embecode: model list: %s\n", err.msg);
            return CLI_FAIL;
        }
        return CLI_OK;
    }
    if (!strcmp(sub, "pull")) {
        if (argc > 3 || (argc == 3 && argv[2][0] == '-' &&
                         strcmp(argv[2], "-h") && strcmp(argv[2], "--help"))) {
            fprintf(stderr, "embecode: model pull takes at most one NAME or URL\n");
            return CLI_USAGE;
        }
        if (argc == 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
            fputs(usage_model, stdout);
            return CLI_OK;
        }
        char *spec = argc == 3 ? xstrdup(argv[2]) : configured_model(project_path, &err);
        char *path = NULL;
        if (spec) {
            model_fetch_opts_t fo = {.allow_download = true};
            path = model_resolve(spec, &fo, &err);
        }
        if (!path) {
            fprintf(stderr, "embecode: model pull: %s\n", err.msg);
            free(spec);
            return CLI_FAIL;
        }
        printf("%s\n", path);
        free(path);
        free(spec);
        return CLI_OK;
    }
    fprintf(stderr, "embecode: model: unknown subcommand '%s' (use list or pull)\n", sub);
    return CLI_USAGE;
}
