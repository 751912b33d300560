/* bench_parse — the baseline for "keyword-ready" time: walk a tree with the same rules as
 * the indexer, then read every file and parse it with tree-sitter (no chunking, no storage),
 * on N threads. Prints one line of figures.
 *   usage: bench_parse ROOT [THREADS] */
#include "config.h"
#include "lang.h"
#include "util.h"
#include "walk.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char **paths;
    size_t n;
    const char *root;
    atomic_size_t next;
    atomic_size_t bytes;
    atomic_size_t parsed;
} work_t;

static int collect(void *ctx, const walk_entry_t *e)
{
    work_t *w = ctx;
    if ((w->n & (w->n - 1)) == 0 || w->n == 0)
        w->paths = xrealloc(w->paths, (w->n ? w->n * 2 : 1) * sizeof *w->paths);
    w->paths[w->n++] = xstrdup(e->path);
    return 0;
}

static void *worker(void *arg)
{
    work_t *w = arg;
    TSParser *p = ts_parser_new();
    for (;;) {
        size_t i = atomic_fetch_add(&w->next, 1);
        if (i >= w->n) break;
        char *full = path_join(w->root, w->paths[i]), *data;
        size_t len;
        err_t err;
        if (file_read_all(full, 1u << 20, &data, &len, &err) == 0) {
            atomic_fetch_add(&w->bytes, len);
            int g = lang_grammar_index(lang_detect_content(w->paths[i], data, len));
            if (g >= 0 && !walk_is_binary(data, len < 8192 ? len : 8192)) {
                ts_parser_set_language(p, lang_grammar_language(g));
                TSTree *t = ts_parser_parse_string(p, NULL, data, (uint32_t)len);
                ts_tree_delete(t);
                atomic_fetch_add(&w->parsed, 1);
            }
            free(data);
        }
        free(full);
    }
    ts_parser_delete(p);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_parse ROOT [THREADS]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    work_t w = {.root = argv[1]};
    config_t cfg;
    config_defaults(&cfg);
    walk_opts_t o = {.max_file_bytes = cfg.max_file_bytes};
    walk_stats_t st = {0};
    err_t err;
    double t0 = time_mono_ms();
    if (walk_project(argv[1], &o, collect, &w, &st, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t_walk = time_mono_ms() - t0;
    pthread_t th[64];
    if (threads < 1 || threads > 64) threads = 2;
    for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, worker, &w);
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    double t_all = time_mono_ms() - t0;
    printf("bare_parse threads=%d files=%zu parsed=%zu bytes=%zu walk_ms=%.0f total_ms=%.0f\n",
           threads, w.n, (size_t)w.parsed, (size_t)w.bytes, t_walk, t_all);
    for (size_t i = 0; i < w.n; i++) free(w.paths[i]);
    free(w.paths);
    config_free(&cfg);
    return 0;
}
