/* bench_query — keyword query latency through search_run() on an existing index, and the
 * query list used for the comparison with ripgrep.
 *   usage: bench_query DB_PATH N_QUERIES QUERY_FILE_OUT
 * Picks N queries deterministically from the index itself (definition names, some as
 * two-word natural phrases), writes them one per line to QUERY_FILE_OUT, runs each through
 * search_run (keyword mode, top_k 10, after one warm-up pass) and prints p50/p99/mean. */
#include "search.h"
#include "store.h"
#include "util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_query DB_PATH N_QUERIES QUERY_FILE_OUT\n");
        return 2;
    }
    int n = atoi(argv[2]);
    if (n < 1) n = 200;
    sqlite3 *db;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 1;
    }
    /* Definition names spread over the whole index: every k-th chunk that has one. */
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "SELECT definitions FROM chunks WHERE definitions != '' "
                       "AND rowid % 41 = 13 ORDER BY rowid",
                       -1, &st, NULL);
    char **q = xcalloc((size_t)n, sizeof *q);
    int nq = 0;
    while (nq < n && sqlite3_step(st) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 0);
        const char *sp = strchr(d, ' '); /* "function name, ..." → name */
        if (!sp) continue;
        size_t len = strcspn(sp + 1, ",( ");
        if (len < 3) continue;
        char *name = xstrndup(sp + 1, len);
        /* every third query is natural-ish: "<label> <name>" */
        q[nq] = nq % 3 == 0 ? xasprintf("%.*s %s", (int)(sp - d), d, name) : xstrdup(name);
        nq++;
        free(name);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    FILE *f = fopen(argv[3], "w");
    for (int i = 0; f && i < nq; i++) fprintf(f, "%s\n", q[i]);
    if (f) fclose(f);

    err_t err;
    store_t *s = store_open(argv[1], true, &err);
    if (!s) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double *ms = xcalloc((size_t)nq + 1, sizeof *ms);
    size_t results = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < nq; i++) {
            search_req_t req = {.query = q[i], .mode = SEARCH_KEYWORD, .top_k = 10};
            double t0 = time_mono_ms();
            cJSON *r = search_run(s, &req, &err);
            ms[i] = time_mono_ms() - t0;
            if (!r) {
                fprintf(stderr, "query '%s': %s\n", q[i], err.msg);
                return 1;
            }
            if (pass) results += (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(r, "results"));
            cJSON_Delete(r);
        }
    }
    double sum = 0;
    for (int i = 0; i < nq; i++) sum += ms[i];
    qsort(ms, (size_t)nq, sizeof *ms, cmp_double);
    printf("keyword_query n=%d p50_ms=%.2f p99_ms=%.2f mean_ms=%.2f avg_results=%.1f\n", nq,
           ms[nq / 2], ms[(nq * 99) / 100 < nq ? (nq * 99) / 100 : nq - 1], sum / nq,
           (double)results / nq);
    store_close(s);
    for (int i = 0; i < nq; i++) free(q[i]);
    free(q);
    free(ms);
    return 0;
}
