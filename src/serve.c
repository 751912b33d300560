/* serve.c — see serve.h. */
#include "serve.h"

#include "cli.h"
#include "log.h"
#include "mcp.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int tool_search(void *ctx, const cJSON *args, mcp_result_t *out, err_t *err)
{
    app_t *a = ctx;
    search_req_t req = {0};
    req.query = cJSON_GetStringValue(cJSON_GetObjectItem(args, "query"));
    const char *mode = cJSON_GetStringValue(cJSON_GetObjectItem(args, "mode"));
    if (!mode) mode = a->config.default_mode;
    if (search_mode_parse(mode, &req.mode) != 0) req.mode = SEARCH_HYBRID;
    const cJSON *k = cJSON_GetObjectItem(args, "top_k");
    req.top_k = cJSON_IsNumber(k) ? (int)k->valuedouble : a->config.top_k;
    req.path_prefix = cJSON_GetStringValue(cJSON_GetObjectItem(args, "path"));
    if (!req.query) return err_set(err, "search_code needs a 'query' string");
    double t0 = time_mono_ms();
    cJSON *res = app_search(a, &req, err);
    if (!res) return -1;
    log_info("search_code query=\"%.80s\" mode=%s top_k=%d total_ms=%.2f", req.query, mode,
             req.top_k, time_mono_ms() - t0);
    out->structured = res;
    return 0;
}

static int tool_status(void *ctx, const cJSON *args, mcp_result_t *out, err_t *err)
{
    (void)args;
    (void)err;
    out->structured = app_status(ctx);
    return 0;
}

static void on_term(int sig)
{
    (void)sig;
    mcp_stop();
}

int serve_run(const app_overrides_t *ov)
{
    app_t app;
    err_t err;
    if (app_open(&app, ov, &err) != 0) {
        fprintf(stderr, "embecode: %s\n", err.msg);
        app_close(&app);
        return CLI_FAIL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Answer initialize before any indexing work: election and the indexer start in
     * background threads, so the first message is read at once. */
    if (app_start_background(&app, &err) != 0) {
        log_error("%s; serving without indexing", err.msg);
    }
    mcp_server_info_t info = {"embecode", EMBECODE_VERSION, app.config.top_k};
    mcp_handlers_t h = {&app, tool_search, tool_status};
    int rc = mcp_serve(STDIN_FILENO, STDOUT_FILENO, &info, &h, &err);
    if (rc != 0) log_error("%s", err.msg);

    /* Clean exit within a second: ask the indexer to stop after its batch in flight; if it
     * does not finish in time, leave anyway — every committed file is durable and SQLite
     * rolls back the open batch. */
    app.stop = 1;
    double t0 = time_mono_ms();
    while (atomic_load(&app.busy_threads) > 0 && time_mono_ms() - t0 < 700) usleep(10 * 1000);
    if (atomic_load(&app.busy_threads) > 0) {
        fflush(stdout);
        _exit(rc == 0 ? CLI_OK : CLI_FAIL);
    }
    app_close(&app);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}
