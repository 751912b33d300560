/* cli.c — see cli.h. */
#include "cli.h"

#include "app.h"
#include "cli_cache.h"
#include "cli_embed.h"
#include "daemon.h"
#include "log.h"
#include "serve.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const usage_main =
    "embecode — local code search for AI assistants (MCP server and CLI)\n"
    "\n"
    "Usage: embecode [--path DIR] [COMMAND] [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  serve            Serve MCP over stdio (the default when no command is given)\n"
    "  index            Build or update the index of the project, then exit\n"
    "  search QUERY     Search the project (builds the index first when there is none)\n"
    "  status           Show the state of the project's index\n"
    "  embed TEXT...    Print embedding vectors (or --tokens) from the local engine\n"
    "  model list|pull  List known and downloaded embedding models, or download one\n"
    "  cache status|clean|purge\n"
    "                   List the project indexes in the cache, evict the least recently used\n"
    "                   down to cache.max_size, or delete them (purge PATH|. for one)\n"
    "\n"
    "Global options:\n"
    "  --path DIR       Project root (default: the current directory)\n"
    "  --log-level L    debug, info, notice, warning or error (default: info; env EMBECODE_LOG)\n"
    "  --version        Print the version and exit\n"
    "  -h, --help       Show help (also: embecode COMMAND --help)\n"
    "\n"
    "The index lives in $XDG_CACHE_HOME/embecode/<hash>/ (default ~/.cache), never in the\n"
    "project. Configuration: .embecode.toml in the project, then\n"
    "$XDG_CONFIG_HOME/embecode/config.toml.\n";

static const char *const usage_serve =
    "Usage: embecode [--path DIR] serve\n"
    "\n"
    "Serves the Model Context Protocol over stdin/stdout (one JSON-RPC message per line) with\n"
    "the tools search_code and index_status. Indexing runs in the background; logs go to\n"
    "stderr. Several servers may run on one project: one indexes, all answer queries.\n";

static const char *const usage_index =
    "Usage: embecode [--path DIR] index\n"
    "\n"
    "Brings the index in line with the files on disk (new, changed and deleted files) and\n"
    "exits. Shows a progress bar when stderr is a terminal. Waits if another embecode\n"
    "process is indexing the same project.\n";

static const char *const usage_search =
    "Usage: embecode [--path DIR] search QUERY [--mode MODE] [--top-k N] [--path-prefix P]\n"
    "                [--json]\n"
    "\n"
    "  --mode MODE      hybrid (default), semantic or keyword\n"
    "  --top-k N        number of results, 1..100 (default: search.top_k, 10)\n"
    "  --path-prefix P  only files whose project-relative path starts with P (e.g. src/)\n"
    "  --json           print the result object exactly as the MCP tool returns it\n"
    "  --timings        add per-stage timings (embedding, vector, keyword, fusion, total)\n"
    "                   to the --json output, and print them on stderr otherwise\n"
    "\n"
    "Builds the index first when the project has none.\n";

static const char *const usage_status =
    "Usage: embecode [--path DIR] status [--json]\n"
    "\n"
    "Prints the state of the project's index (files, chunks, progress, owner or reader).\n";

typedef struct {
    app_overrides_t ov;
    const char *command;
    const char *query;
    const char *path_prefix;
    bool json, help, log_level_set, timings;
    bool command_given; /* false: serve by default */
} args_t;

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "embecode: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun 'embecode %s--help' for usage.\n", cmd ? cmd : "");
    return CLI_USAGE;
}

/* Returns -1 when parsing succeeded, else an exit code to return. */
static int parse_args(int argc, char **argv, args_t *a)
{
    memset(a, 0, sizeof *a);
    static char cmd_prefix[32];
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char *val = NULL;
#define NEEDS_VALUE()                                                                        \
    do {                                                                                     \
        if (i + 1 >= argc) return usage_error(cmd_prefix, "option %s needs a value", s);     \
        val = argv[++i];                                                                     \
    } while (0)
        if (!strcmp(s, "--version")) {
            printf("embecode %s\n", EMBECODE_VERSION);
            return CLI_OK;
        } else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            a->help = true;
        } else if (!strcmp(s, "--path")) {
            NEEDS_VALUE();
            a->ov.path = val;
        } else if (!strcmp(s, "--log-level")) {
            NEEDS_VALUE();
            int l = log_level_parse(val);
            if (l < 0) return usage_error(cmd_prefix, "unknown log level '%s'", val);
            log_set_level((log_level_t)l);
            a->log_level_set = true;
        } else if (!strcmp(s, "--mode")) {
            NEEDS_VALUE();
            a->ov.mode = val;
        } else if (!strcmp(s, "--top-k")) {
            NEEDS_VALUE();
            char *end;
            long k = strtol(val, &end, 10);
            if (*end || k < 1 || k > 100)
                return usage_error(cmd_prefix, "--top-k must be a whole number from 1 to 100, "
                                               "got '%s'", val);
            a->ov.top_k = (int)k;
        } else if (!strcmp(s, "--path-prefix")) {
            NEEDS_VALUE();
            a->path_prefix = val;
        } else if (!strcmp(s, "--json")) {
            a->json = true;
        } else if (!strcmp(s, "--timings")) {
            a->timings = true;
        } else if (s[0] == '-' && s[1]) {
            return usage_error(cmd_prefix, "unknown option '%s'", s);
        } else if (!a->command) {
            if (strcmp(s, "serve") && strcmp(s, "index") && strcmp(s, "search") &&
                strcmp(s, "status"))
                return usage_error(NULL, "unknown command '%s'", s);
            a->command = s;
            a->command_given = true;
            snprintf(cmd_prefix, sizeof cmd_prefix, "%s ", s);
        } else if (!strcmp(a->command, "search") && !a->query) {
            a->query = s;
        } else {
            return usage_error(cmd_prefix, "unexpected argument '%s'", s);
        }
#undef NEEDS_VALUE
    }
    if (!a->command) a->command = "serve";
    const char *c = a->command;
    bool search = !strcmp(c, "search");
    if (!a->help) {
        if (search && (!a->query || !*a->query))
            return usage_error("search ", "%s", "search needs a QUERY");
        if (!search && (a->ov.mode || a->ov.top_k || a->path_prefix || a->timings))
            return usage_error(cmd_prefix, "%s", "--mode, --top-k, --path-prefix and --timings "
                                                 "belong to 'search'");
        if (a->json && strcmp(c, "search") && strcmp(c, "status"))
            return usage_error(cmd_prefix, "%s", "--json belongs to 'search' and 'status'");
    }
    return -1;
}

/* ---- progress bar ------------------------------------------------------------------ */

static void progress_bar(void *ctx, const index_state_t *st)
{
    (void)ctx;
    pthread_mutex_lock((pthread_mutex_t *)&st->mu);
    uint64_t done = st->files_done, total = st->files_total;
    bool running = st->is_indexing;
    char file[64];
    size_t fl = strlen(st->current_file);
    snprintf(file, sizeof file, "%s%.50s", fl > 50 ? "..." : "",
             fl > 50 ? st->current_file + fl - 47 : st->current_file);
    pthread_mutex_unlock((pthread_mutex_t *)&st->mu);
    const int width = 30;
    int filled = total ? (int)((double)done / (double)total * width) : (running ? 0 : width);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '-';
    bar[width] = 0;
    fprintf(stderr, "\r\033[K[%s] %llu/%llu files %s", bar, (unsigned long long)done,
            (unsigned long long)total, running ? file : "");
    if (!running) fputc('\n', stderr);
    fflush(stderr);
}

static void embed_bar(void *ctx)
{
    app_t *app = ctx;
    pthread_mutex_lock(&app->state.mu);
    int64_t done = app->embed_done, total = app->embed_total;
    bool running = app->embedding;
    pthread_mutex_unlock(&app->state.mu);
    const int width = 30;
    int filled = total ? (int)((double)done / (double)total * width) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '-';
    bar[width] = 0;
    fprintf(stderr, "\r\033[K[%s] %lld/%lld chunks embedded", bar, (long long)done,
            (long long)total);
    if (!running) fputc('\n', stderr);
    fflush(stderr);
}

static int do_index(app_t *app, err_t *err)
{
    bool tty = isatty(STDERR_FILENO);
    if (tty) {
        app->progress = progress_bar;
        app->embed_progress = embed_bar;
        app->progress_ctx = app;
        log_set_quiet(true);
    }
    double t0 = time_mono_ms();
    int rc = app_index_foreground(app, err);
    log_set_quiet(false);
    if (rc == 0) {
        cJSON *st = app_status(app);
        fprintf(stderr, "indexed %s: %.0f files, %.0f chunks in %.1f s\n", app->project.root,
                cJSON_GetNumberValue(cJSON_GetObjectItem(st, "files_indexed")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(st, "total_chunks")),
                (time_mono_ms() - t0) / 1000.0);
        cJSON_Delete(st);
    }
    return rc;
}

/* ---- search output ----------------------------------------------------------------- */

#define C_PATH "\033[35m"
#define C_LINE "\033[32m"
#define C_MATCH "\033[1;31m"
#define C_DEF "\033[36m"
#define C_OFF "\033[0m"

/* Query tokens as the preview uses them: [A-Za-z0-9_]+ runs, lowercased, length > 1. */
static size_t query_tokens(const char *q, char tok[][64], size_t max)
{
    size_t n = 0;
    while (*q && n < max) {
        while (*q && !(isalnum((unsigned char)*q) || *q == '_')) q++;
        size_t len = 0;
        while (q[len] && (isalnum((unsigned char)q[len]) || q[len] == '_')) len++;
        if (len > 1 && len < 64) {
            for (size_t i = 0; i < len; i++) tok[n][i] = (char)tolower((unsigned char)q[i]);
            tok[n][len] = 0;
            n++;
        }
        q += len;
    }
    return n;
}

/* Prints one source line, highlighting query tokens (case-insensitive) when color is on. */
static void print_line(const char *line, size_t len, char tok[][64], size_t ntok, bool color)
{
    size_t i = 0;
    while (i < len) {
        size_t best = 0;
        for (size_t t = 0; color && t < ntok; t++) {
            size_t tl = strlen(tok[t]);
            if (tl <= len - i && !strncasecmp(line + i, tok[t], tl) && tl > best) best = tl;
        }
        if (best) {
            printf(C_MATCH "%.*s" C_OFF, (int)best, line + i);
            i += best;
        } else {
            putchar(line[i++]);
        }
    }
    putchar('\n');
}

/* Prints the lines `nums` of file `path` (or the preview when the file cannot be read). */
static void print_match_lines(const char *root, const char *path, const cJSON *nums,
                              const char *preview, char tok[][64], size_t ntok, bool color)
{
    char *full = path_join(root, path), *data = NULL;
    size_t len = 0;
    err_t err;
    int shown = 0;
    if (cJSON_IsArray(nums) && file_read_all(full, 64u << 20, &data, &len, &err) == 0) {
        const cJSON *n;
        cJSON_ArrayForEach(n, nums)
        {
            if (shown == 4) break;
            long want = (long)cJSON_GetNumberValue(n), line = 1;
            const char *p = data, *end = data + len;
            while (line < want && p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                if (!nl) break;
                p = nl + 1;
                line++;
            }
            if (line != want || p >= end) continue;
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
            printf(color ? C_LINE "%ld" C_OFF ":" : "%ld:", want);
            print_line(p, EC_MIN(l, 240), tok, ntok, color);
            shown++;
        }
    }
    if (!shown && preview) {
        const char *p = preview;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            printf("  ");
            print_line(p, l, tok, ntok, color);
            p += l + (nl ? 1 : 0);
        }
    }
    free(data);
    free(full);
}

static void print_human(app_t *app, const char *query, const cJSON *res)
{
    bool color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    char tok[32][64];
    size_t ntok = query_tokens(query, tok, 32);
    const cJSON *note = cJSON_GetObjectItem(res, "note");
    if (cJSON_IsString(note)) fprintf(stderr, "note: %s\n", note->valuestring);
    const cJSON *r;
    int n = 0;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(res, "results"))
    {
        const char *errmsg = cJSON_GetStringValue(cJSON_GetObjectItem(r, "error"));
        if (errmsg) {
            printf("%s (try again shortly)\n", errmsg);
            continue;
        }
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(r, "file_path"));
        int sl = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "start_line"));
        int el = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "end_line"));
        const char *defs = cJSON_GetStringValue(cJSON_GetObjectItem(r, "definitions"));
        double score = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "score"));
        if (n++) putchar('\n');
        if (color)
            printf(C_PATH "%s" C_OFF ":" C_LINE "%d-%d" C_OFF, path ? path : "?", sl, el);
        else
            printf("%s:%d-%d", path ? path : "?", sl, el);
        if (defs && *defs) printf(color ? "  " C_DEF "%s" C_OFF : "  %s", defs);
        printf("  (score %.4g)\n", score);
        print_match_lines(app->project.root, path ? path : "",
                          cJSON_GetObjectItem(r, "match_lines"),
                          cJSON_GetStringValue(cJSON_GetObjectItem(r, "preview")), tok, ntok,
                          color);
    }
    if (!n) fprintf(stderr, "no results for \"%s\"\n", query);
}

static int do_search(app_t *app, const args_t *a, err_t *err)
{
    if (!app_index_complete(app)) {
        log_info("no index yet for %s: building it first", app->project.root);
        if (do_index(app, err) != 0) return -1;
    }
    search_req_t req = {.query = a->query, .top_k = app->config.top_k,
                        .path_prefix = a->path_prefix};
    if (search_mode_parse(app->config.default_mode, &req.mode) != 0) req.mode = SEARCH_HYBRID;
    app->include_timings = a->timings;
    cJSON *res = app_search(app, &req, err);
    if (!res) return -1;
    const cJSON *tm = cJSON_GetObjectItem(res, "timings");
    if (tm && !a->json) {
        fprintf(stderr, "timings:");
        const cJSON *it;
        cJSON_ArrayForEach(it, tm) fprintf(stderr, " %s=%.2f", it->string, it->valuedouble);
        fputc('\n', stderr);
    }
    if (a->json) {
        char *s = cJSON_PrintUnformatted(res);
        puts(s);
        free(s);
    } else {
        print_human(app, a->query, res);
    }
    cJSON_Delete(res);
    return 0;
}

static int do_status(app_t *app, const args_t *a)
{
    /* Nobody holding the lock means nobody is indexing, whatever the saved state says. */
    err_t err;
    int fd = -1;
    if (project_ensure_cache_dir(&app->project, &err) != 0 ||
        daemon_lock_try(app->project.lock_path, &fd, &err) != 1)
        fd = -1;
    cJSON *st = app_status(app);
    if (fd >= 0) {
        cJSON_ReplaceItemInObject(st, "is_indexing", cJSON_CreateFalse());
        cJSON_ReplaceItemInObject(st, "indexing_type", cJSON_CreateNull());
        cJSON_ReplaceItemInObject(st, "current_file", cJSON_CreateNull());
        cJSON_ReplaceItemInObject(st, "files_to_process", cJSON_CreateNumber(0));
        cJSON_ReplaceItemInObject(st, "progress", cJSON_CreateNumber(1));
        close(fd);
    }
    if (a->json) {
        char *s = cJSON_PrintUnformatted(st);
        puts(s);
        free(s);
    } else {
        printf("%-20s%s\n%-20s%s\n", "project", app->project.root, "index",
               app->project.db_path);
        const cJSON *it;
        cJSON_ArrayForEach(it, st)
        {
            char *v = cJSON_IsString(it) ? xstrdup(it->valuestring) : cJSON_PrintUnformatted(it);
            printf("%-20s%s\n", it->string, v);
            free(v);
        }
    }
    cJSON_Delete(st);
    return 0;
}

/* embed, model and cache have their own grammar: hand them everything after the command word,
 * keeping the global options given before it. */
static int dispatch_engine_commands(int argc, char **argv, int *rc)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--path") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(s, "--log-level") && i + 1 < argc) {
            int l = log_level_parse(argv[++i]);
            if (l >= 0) log_set_level((log_level_t)l);
        } else if (!strcmp(s, "embed")) {
            *rc = cli_embed_main(argc - i, argv + i, path);
            return 1;
        } else if (!strcmp(s, "model")) {
            *rc = cli_model_main(argc - i, argv + i, path);
            return 1;
        } else if (!strcmp(s, "cache")) {
            *rc = cli_cache_main(argc - i, argv + i, path);
            return 1;
        } else {
            return 0;
        }
    }
    return 0;
}

int cli_main(int argc, char **argv)
{
    args_t a;
    int rc;
    if (dispatch_engine_commands(argc, argv, &rc)) return rc;
    rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.help) {
        const char *c = a.command;
        fputs(!strcmp(c, "index")    ? usage_index
              : !strcmp(c, "search") ? usage_search
              : !strcmp(c, "status") ? usage_status
              : a.command_given      ? usage_serve
                                     : usage_main,
              stdout);
        return CLI_OK;
    }
    if (!strcmp(a.command, "serve")) return serve_run(&a.ov);
    /* Search and status print results; their progress logs would only be noise. */
    if ((!strcmp(a.command, "search") || !strcmp(a.command, "status")) && !a.log_level_set &&
        !getenv("EMBECODE_LOG"))
        log_set_level(LOG_WARNING);

    app_t app;
    err_t err;
    if (app_open(&app, &a.ov, &err) != 0) {
        fprintf(stderr, "embecode: %s\n", err.msg);
        app_close(&app);
        return CLI_FAIL;
    }
    /* Mark the project in use so no eviction deletes its index under us; building an index
     * (app_index_foreground) also evicts other projects down to cache.max_size. */
    if (app_enter_cache(&app, false, &err) != 0) log_warn("%s", err.msg);
    if (!strcmp(a.command, "index")) rc = do_index(&app, &err);
    else if (!strcmp(a.command, "search")) rc = do_search(&app, &a, &err);
    else rc = do_status(&app, &a);
    if (rc != 0) fprintf(stderr, "embecode: %s\n", err.msg);
    app_close(&app);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}
