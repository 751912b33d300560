/* model.c — presets, resolving embeddings.model to a file, `model list`. Downloads are in
 * model_fetch.c.
 * The contract is in model.h. */
#include "model_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cache.h"

#include "hash.h"

#define HF_BASE "https://huggingface.co"
#define LOW_SPEED_BYTES 1024L

/* Sizes and checksums are the Git LFS facts Hugging Face shows for these files (the
 * checksum is also what it sends as X-Linked-Etag). CodeRankEmbed's checksum was not found:
 * it is verified against X-Linked-Etag at download time. */
static const model_preset_t presets[] = {
    {"nomic-embed-text-v1.5", "nomic-ai/nomic-embed-text-v1.5-GGUF",
     "nomic-embed-text-v1.5.Q8_0.gguf",
     HF_BASE "/nomic-ai/nomic-embed-text-v1.5-GGUF/resolve/main/nomic-embed-text-v1.5.Q8_0.gguf",
     "3e24342164b3d94991ba9692fdc0dd08e3fd7362e0aacc396a9a5c54a544c3b7", 146146432, true, "Q8_0",
     "nomic-bert", 768,
     "Nomic Embed text v1.5, 8192-token context, good on code and prose (default)"},
    {"bge-small-en-v1.5", "CompendiumLabs/bge-small-en-v1.5-gguf", "bge-small-en-v1.5-q8_0.gguf",
     HF_BASE "/CompendiumLabs/bge-small-en-v1.5-gguf/resolve/main/bge-small-en-v1.5-q8_0.gguf",
     "ec38e8da142596baa913124ae50550de284b6916bf59577ef2f0cb9660c2f514", 36806944, true, "Q8_0",
     "bert", 384, "BAAI bge-small-en v1.5, small and fast, 512-token context"},
    {"all-minilm-l6-v2", "second-state/All-MiniLM-L6-v2-Embedding-GGUF",
     "all-MiniLM-L6-v2-Q8_0.gguf",
     HF_BASE
     "/second-state/All-MiniLM-L6-v2-Embedding-GGUF/resolve/main/all-MiniLM-L6-v2-Q8_0.gguf",
     "263215c3cadd6e16740741a7624ab4cbb6c8e777688bd5331ecfbf5681c2f8ed", 25008064, true, "Q8_0",
     "bert", 384, "sentence-transformers all-MiniLM-L6-v2, the smallest, 512-token context"},
    {"coderankembed", "awhiteside/CodeRankEmbed-Q8_0-GGUF", "coderankembed-q8_0.gguf",
     HF_BASE "/awhiteside/CodeRankEmbed-Q8_0-GGUF/resolve/main/coderankembed-q8_0.gguf", NULL,
     146000000, false, "Q8_0", "nomic-bert", 768,
     "nomic-ai CodeRankEmbed, trained for code retrieval, 8192-token context"},
};

const model_preset_t *model_presets(size_t *n)
{
    *n = ARRAY_LEN(presets);
    return presets;
}

const model_preset_t *model_preset_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < ARRAY_LEN(presets); i++)
        if (strcasecmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}

char *model_preset_url(const model_preset_t *p)
{
    const char *ep = getenv("HF_ENDPOINT");
    if (!ep || !*ep || strncmp(p->url, HF_BASE, strlen(HF_BASE)) != 0) return xstrdup(p->url);
    size_t n = strlen(ep);
    while (n > 0 && ep[n - 1] == '/')
        n--;
    return xasprintf("%.*s%s", (int)n, ep, p->url + strlen(HF_BASE));
}

char *model_dir(void)
{
    char *root = cache_root();
    char *dir = path_join(root, "models");
    free(root);
    return dir;
}

bool model_is_sha256_hex(const char *s)
{
    if (!s || strlen(s) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

/* "146 MB" style (powers of 1000, as Hugging Face shows them). */
void model_fmt_size(uint64_t n, char *buf, size_t cap)
{
    if (n >= 1000000000ull)
        snprintf(buf, cap, "%.1f GB", (double)n / 1e9);
    else if (n >= 1000000ull)
        snprintf(buf, cap, "%.0f MB", (double)n / 1e6);
    else if (n >= 1000ull)
        snprintf(buf, cap, "%.0f kB", (double)n / 1e3);
    else
        snprintf(buf, cap, "%" PRIu64 " B", n);
}

/* ---- resolving embeddings.model ------------------------------------------------------- */

static bool is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

static char *dir_or_default(const model_fetch_opts_t *o)
{
    return o->models_dir ? xstrdup(o->models_dir) : model_dir();
}

static bool is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *resolve_preset(const model_preset_t *p, const model_fetch_opts_t *o, err_t *err)
{
    char *dir = dir_or_default(o);
    char *path = path_join(dir, p->file);
    free(dir);
    if (is_regular(path)) return path;
    if (!o->allow_download) {
        char sz[32];
        model_fmt_size(p->size, sz, sizeof sz);
        err_set(err,
                "model %s is not downloaded yet (it goes to %s, %s). Run `embecode model pull %s`, "
                "or set embeddings.model to the path of a .gguf file you have",
                p->name, path, sz, p->name);
        free(path);
        return NULL;
    }
    char *url = model_preset_url(p);
    int rc = model_download_named(p->name, p->name, url, path, p->sha256, o, err);
    free(url);
    if (rc != 0) {
        free(path);
        return NULL;
    }
    return path;
}

/* A file name for a URL download: its last path segment made safe, plus 8 hex digits of
 * the URL's SHA-1 so that two URLs ending in the same name do not share a file. */
static char *url_file_name(const char *url)
{
    const char *end = url + strcspn(url, "?#");
    const char *start = end;
    while (start > url && start[-1] != '/')
        start--;
    sbuf_t b = {0};
    for (const char *p = start; p < end; p++)
        sbuf_putc(&b, isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_' ? *p : '_');
    if (b.len > 5 && strcasecmp(b.data + b.len - 5, ".gguf") == 0) b.data[b.len -= 5] = 0;
    if (b.len == 0 || strspn(b.data, "._") == b.len) {
        sbuf_reset(&b);
        sbuf_puts(&b, "model");
    }
    char sha1[HASH_SHA1_HEX_LEN];
    hash_sha1_hex(url, strlen(url), sha1);
    sbuf_printf(&b, "-%.8s.gguf", sha1);
    return sbuf_take(&b);
}

static char *resolve_url(const char *spec, const model_fetch_opts_t *o, err_t *err)
{
    const char *hash = strchr(spec, '#');
    char *url = hash ? xstrndup(spec, (size_t)(hash - spec)) : xstrdup(spec);
    char pinned[65] = "";
    if (hash) {
        if (strncasecmp(hash + 1, "sha256=", 7) != 0 || !model_is_sha256_hex(hash + 8)) {
            err_set(err,
                    "bad model URL %s: the part after '#' must be sha256=<64 hex digits> "
                    "(the file's SHA-256)",
                    spec);
            free(url);
            return NULL;
        }
        snprintf(pinned, sizeof pinned, "%s", hash + 8);
    }
    for (size_t i = 0; i < ARRAY_LEN(presets); i++) {
        char *purl = model_preset_url(&presets[i]);
        bool same = strcmp(purl, url) == 0 || strcmp(presets[i].url, url) == 0;
        free(purl);
        if (same &&
            (!pinned[0] || !presets[i].sha256 || strcasecmp(pinned, presets[i].sha256) == 0)) {
            free(url);
            return resolve_preset(&presets[i], o, err);
        }
    }
    char *dir = dir_or_default(o), *name = url_file_name(url);
    char *path = path_join(dir, name);
    free(dir);
    free(name);
    if (is_regular(path)) {
        free(url);
        return path;
    }
    if (!o->allow_download) {
        err_set(err,
                "model %s is not downloaded yet (it goes to %s). Run `embecode model pull %s`, or "
                "download it yourself and set embeddings.model to its path",
                url, path, spec);
    } else if (model_download_named(url, spec, url, path, pinned[0] ? pinned : NULL, o, err) == 0) {
        free(url);
        return path;
    }
    free(url);
    free(path);
    return NULL;
}

static char *expand_home(const char *spec)
{
    const char *home = getenv("HOME");
    if (strncmp(spec, "~/", 2) == 0 && home && *home) return path_join(home, spec + 2);
    return xstrdup(spec);
}

static void unknown_model(const char *spec, err_t *err)
{
    sbuf_t names = {0};
    for (size_t i = 0; i < ARRAY_LEN(presets); i++)
        sbuf_printf(&names, "%s%s", i ? ", " : "", presets[i].name);
    err_set(err,
            "unknown model '%s': it is not a preset (%s), not an existing .gguf file and not an "
            "http(s) URL. Set embeddings.model to one of those; `embecode model list` shows the "
            "models",
            spec, names.data);
    sbuf_free(&names);
}

char *model_resolve(const char *spec, const model_fetch_opts_t *o, err_t *err)
{
    model_fetch_opts_t defaults = {0};
    if (!o) o = &defaults;
    if (!spec || !*spec) spec = MODEL_DEFAULT_NAME;
    if (is_url(spec)) return resolve_url(spec, o, err);
    const model_preset_t *p = model_preset_find(spec);
    if (p) return resolve_preset(p, o, err);

    char *path = expand_home(spec);
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            err_set(err, "model %s is a folder; set embeddings.model to a .gguf file in it", path);
        } else if (access(path, R_OK) != 0) {
            err_set(err, "cannot read model file %s: %s", path, strerror(errno));
        } else {
            return path;
        }
        free(path);
        return NULL;
    }
    if (!strchr(spec, '/')) { /* a file dropped into the models folder */
        char *dir = dir_or_default(o), *in_dir = path_join(dir, spec);
        free(dir);
        if (is_regular(in_dir)) {
            free(path);
            return in_dir;
        }
        free(in_dir);
    }
    size_t len = strlen(spec);
    if (strchr(spec, '/') || (len > 5 && strcasecmp(spec + len - 5, ".gguf") == 0))
        err_set(err,
                "model file %s not found. Check embeddings.model (a relative path is taken from "
                "the current folder)",
                path);
    else
        unknown_model(spec, err);
    free(path);
    return NULL;
}

/* ---- `embecode model list` ------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .gguf files in dir that are not presets, sorted. *n = 0 when dir does not exist. */
static int other_files(const char *dir, char ***out, size_t *n, err_t *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return err_set(err, "cannot list the models folder %s: %s", dir, strerror(errno));
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".gguf") != 0) continue;
        bool preset = false;
        for (size_t i = 0; i < ARRAY_LEN(presets); i++)
            preset |= !strcmp(presets[i].file, e->d_name);
        if (preset) continue;
        if (*n == cap) *out = xrealloc(*out, (cap = cap ? 2 * cap : 8) * sizeof **out);
        (*out)[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (*n) qsort(*out, *n, sizeof **out, cmp_str);
    return 0;
}

/* Size of a file, or -1 when it is not there. */
static int64_t file_size(const char *dir, const char *name, const char *suffix)
{
    char *path = xasprintf("%s/%s%s", dir, name, suffix);
    struct stat st;
    int64_t n = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
    free(path);
    return n;
}

static void list_json(FILE *out, const char *dir, char **other, size_t n_other)
{
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "presets");
    cJSON_AddStringToObject(root, "models_dir", dir);
    cJSON_AddStringToObject(root, "default", MODEL_DEFAULT_NAME);
    for (size_t i = 0; i < ARRAY_LEN(presets); i++) {
        const model_preset_t *p = &presets[i];
        cJSON *o = cJSON_CreateObject();
        char *url = model_preset_url(p), *path = path_join(dir, p->file);
        cJSON_AddStringToObject(o, "name", p->name);
        cJSON_AddStringToObject(o, "file", p->file);
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddStringToObject(o, "url", url);
        if (p->sha256)
            cJSON_AddStringToObject(o, "sha256", p->sha256);
        else
            cJSON_AddNullToObject(o, "sha256");
        cJSON_AddNumberToObject(o, "size", (double)p->size);
        cJSON_AddBoolToObject(o, "size_exact", p->size_exact);
        cJSON_AddStringToObject(o, "quant", p->quant);
        cJSON_AddStringToObject(o, "arch", p->arch);
        cJSON_AddNumberToObject(o, "dim", p->dim);
        cJSON_AddStringToObject(o, "description", p->description);
        int64_t have = file_size(dir, p->file, ""), part = file_size(dir, p->file, ".part");
        cJSON_AddBoolToObject(o, "downloaded", have >= 0);
        if (have >= 0) cJSON_AddNumberToObject(o, "downloaded_size", (double)have);
        if (have < 0 && part >= 0) cJSON_AddNumberToObject(o, "partial_size", (double)part);
        cJSON_AddItemToArray(arr, o);
        free(url);
        free(path);
    }
    cJSON *oth = cJSON_AddArrayToObject(root, "other");
    for (size_t i = 0; i < n_other; i++) {
        cJSON *o = cJSON_CreateObject();
        char *path = path_join(dir, other[i]);
        cJSON_AddStringToObject(o, "file", other[i]);
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddNumberToObject(o, "size", (double)file_size(dir, other[i], ""));
        cJSON_AddItemToArray(oth, o);
        free(path);
    }
    char *s = cJSON_PrintUnformatted(root);
    fprintf(out, "%s\n", s);
    free(s);
    cJSON_Delete(root);
}

static void list_table(FILE *out, const char *dir, char **other, size_t n_other)
{
    fprintf(out, "%-24s %-8s %-20s %s\n", "NAME", "SIZE", "STATE", "DESCRIPTION");
    for (size_t i = 0; i < ARRAY_LEN(presets); i++) {
        const model_preset_t *p = &presets[i];
        char size[32], state[40];
        model_fmt_size(p->size, size, sizeof size);
        int64_t have = file_size(dir, p->file, ""), part = file_size(dir, p->file, ".part");
        if (have >= 0)
            snprintf(state, sizeof state, "downloaded");
        else if (part >= 0 && p->size)
            snprintf(state, sizeof state, "partial (%d%%)",
                     (int)EC_MIN(99, (double)part * 100.0 / (double)p->size));
        else
            snprintf(state, sizeof state, "-");
        fprintf(out, "%-24s %-8s %-20s %s\n", p->name, size, state, p->description);
    }
    if (n_other) {
        fprintf(out, "\nOther .gguf files (use their name or path as embeddings.model):\n");
        for (size_t i = 0; i < n_other; i++) {
            char size[32];
            model_fmt_size((uint64_t)EC_MAX(0, file_size(dir, other[i], "")), size, sizeof size);
            fprintf(out, "  %-40s %s\n", other[i], size);
        }
    }
    fprintf(out, "\nModels folder: %s\nDownload one with `embecode model pull NAME`.\n", dir);
}

int model_list_print(FILE *out, bool json, err_t *err)
{
    char *dir = model_dir();
    char **other;
    size_t n_other;
    if (other_files(dir, &other, &n_other, err) != 0) {
        free(dir);
        return -1;
    }
    if (json)
        list_json(out, dir, other, n_other);
    else
        list_table(out, dir, other, n_other);
    for (size_t i = 0; i < n_other; i++)
        free(other[i]);
    free(other);
    free(dir);
    return 0;
}
