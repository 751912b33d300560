/* test_mcp.c — the MCP protocol engine driven over pipes, with fake tool handlers.
 * Each test starts mcp_serve() in a thread, writes lines to its input and reads its output
 * line by line; every output line must be a JSON-RPC 2.0 object (stdout purity). */
#include "log.h"
#include "mcp.h"
#include "mcp_tools.h"
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <time.h>

/* ---- fake handlers -------------------------------------------------------------------- */

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fake_cond = PTHREAD_COND_INITIALIZER;
static bool fake_blocked, fake_release;
static int fake_calls;
static cJSON *fake_last_args;

static void fake_reset(void)
{
    pthread_mutex_lock(&fake_lock);
    fake_blocked = fake_release = false;
    fake_calls = 0;
    cJSON_Delete(fake_last_args);
    fake_last_args = NULL;
    pthread_mutex_unlock(&fake_lock);
}

/* query "block": waits until fake_unblock() (at most 5 s); "fail": returns -1;
 * "log": logs at warning and debug; "latin1": returns ill-formed UTF-8 in a preview;
 * "nothing": returns neither structured nor text; anything else: one result. */
static int fake_search(void *ctx, const cJSON *args, mcp_result_t *out, err_t *err)
{
    (void)ctx;
    const char *q = cJSON_GetObjectItemCaseSensitive(args, "query")->valuestring;
    pthread_mutex_lock(&fake_lock);
    fake_calls++;
    cJSON_Delete(fake_last_args);
    fake_last_args = cJSON_Duplicate(args, 1);
    if (!strcmp(q, "block")) {
        fake_blocked = true;
        pthread_cond_broadcast(&fake_cond);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 5;
        while (!fake_release)
            if (pthread_cond_timedwait(&fake_cond, &fake_lock, &until) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&fake_lock);
    if (!strcmp(q, "fail")) return err_set(err, "index unavailable: disk full");
    if (!strcmp(q, "nothing")) return 0;
    if (!strcmp(q, "log")) {
        log_warn("fake warning");
        log_debug("fake debug");
    }
    cJSON *r = cJSON_CreateObject();
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "file_path", "src/a.py");
    cJSON_AddStringToObject(item, "language", "python");
    cJSON_AddNumberToObject(item, "start_line", 1);
    cJSON_AddNumberToObject(item, "end_line", 9);
    cJSON_AddStringToObject(item, "definitions", "function f");
    cJSON_AddStringToObject(item, "preview", !strcmp(q, "latin1") ? "caf\xe9 au lait" : q);
    cJSON_AddNumberToObject(item, "score", 0.5);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "results"), item);
    out->structured = r;
    return 0;
}

static int fake_status(void *ctx, const cJSON *args, mcp_result_t *out, err_t *err)
{
    (void)ctx;
    (void)args;
    (void)err;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "files_indexed", 3);
    cJSON_AddBoolToObject(r, "is_indexing", 0);
    out->structured = r;
    out->text = xstrdup("3 files indexed");
    return 0;
}

static void fake_unblock(void)
{
    pthread_mutex_lock(&fake_lock);
    fake_release = true;
    pthread_cond_broadcast(&fake_cond);
    pthread_mutex_unlock(&fake_lock);
}

static bool fake_wait_blocked(void)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&fake_lock);
        bool b = fake_blocked;
        pthread_mutex_unlock(&fake_lock);
        if (b) return true;
        usleep(10000);
    }
    return false;
}

/* ---- connection over pipes ------------------------------------------------------------ */

typedef struct {
    int in[2], out[2]; /* in: test → server, out: server → test */
    pthread_t th;
    int rc;
    err_t err;
    sbuf_t buf; /* bytes read from the server, not yet returned */
    bool closed_in;
} conn_t;

static const mcp_server_info_t test_info = {"embecode", "9.8.7", 12};
static mcp_handlers_t test_handlers = {NULL, fake_search, fake_status};

static void *serve_thread(void *arg)
{
    conn_t *c = arg;
    c->rc = mcp_serve(c->in[0], c->out[1], &test_info, &test_handlers, &c->err);
    close(c->out[1]);
    return NULL;
}

static void conn_start(conn_t *c)
{
    memset(c, 0, sizeof *c);
    fake_reset();
    if (pipe2(c->in, O_CLOEXEC) < 0 || pipe2(c->out, O_CLOEXEC) < 0) {
        perror("pipe2");
        exit(2);
    }
    pthread_create(&c->th, NULL, serve_thread, c);
}

static void conn_write(conn_t *c, const char *data, size_t n)
{
    while (n) {
        ssize_t w = write(c->in[1], data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            perror("write to server");
            return;
        }
        data += w;
        n -= (size_t)w;
    }
}

static void conn_send(conn_t *c, const char *line)
{
    conn_write(c, line, strlen(line));
    conn_write(c, "\n", 1);
}

/* Next output line (malloc'd, without '\n'), or NULL after timeout_ms or at EOF. */
static char *conn_line(conn_t *c, int timeout_ms)
{
    double until = time_mono_ms() + timeout_ms;
    for (;;) {
        char *nl = c->buf.len ? memchr(c->buf.data, '\n', c->buf.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - c->buf.data);
            char *line = xstrndup(c->buf.data, n);
            memmove(c->buf.data, nl + 1, c->buf.len - n - 1);
            c->buf.len -= n + 1;
            c->buf.data[c->buf.len] = 0;
            return line;
        }
        int left = (int)(until - time_mono_ms());
        if (left <= 0) return NULL;
        struct pollfd p = {c->out[0], POLLIN, 0};
        if (poll(&p, 1, left) <= 0) continue;
        char chunk[65536];
        ssize_t r = read(c->out[0], chunk, sizeof chunk);
        if (r <= 0) return NULL;
        sbuf_append(&c->buf, chunk, (size_t)r);
    }
}

/* Next message; checks that it is a JSON-RPC 2.0 object. NULL on timeout. */
static cJSON *conn_recv(conn_t *c, int timeout_ms)
{
    char *line = conn_line(c, timeout_ms);
    if (!line) return NULL;
    cJSON *m = cJSON_Parse(line);
    if (!cJSON_IsObject(m)) fprintf(stderr, "  not a JSON object on stdout: %.200s\n", line);
    T_CHECK(cJSON_IsObject(m));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "jsonrpc");
    T_CHECK(cJSON_IsString(v) && !strcmp(v->valuestring, "2.0"));
    free(line);
    return m;
}

/* Sends a request line and returns the next message. */
static cJSON *conn_call(conn_t *c, const char *line)
{
    conn_send(c, line);
    return conn_recv(c, 3000);
}

/* Closes the server's input and waits for it to end; returns the milliseconds it took.
 * Checks that nothing but protocol messages was written and that serve returned 0. */
static double conn_finish(conn_t *c)
{
    double t0 = time_mono_ms();
    close(c->in[1]);
    char *line;
    while ((line = conn_line(c, 3000))) {
        cJSON *m = cJSON_Parse(line);
        T_CHECK(cJSON_IsObject(m)); /* leftover output must still be protocol messages */
        cJSON_Delete(m);
        free(line);
    }
    pthread_join(c->th, NULL);
    double ms = time_mono_ms() - t0;
    T_EQ_INT(c->rc, 0);
    close(c->in[0]);
    close(c->out[0]);
    sbuf_free(&c->buf);
    return ms;
}

static const cJSON *get(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *save, *k = strtok_r(buf, ".", &save); k && cur; k = strtok_r(NULL, ".", &save))
        cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, atoi(k))
                                 : cJSON_GetObjectItemCaseSensitive(cur, k);
    return cur;
}

static const char *get_str(const cJSON *o, const char *path)
{
    const cJSON *v = get(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int get_int(const cJSON *o, const char *path)
{
    const cJSON *v = get(o, path);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : -999999;
}

static void check_error(const cJSON *m, int code, const char *id_json)
{
    T_EQ_INT(get_int(m, "error.code"), code);
    T_CHECK(get_str(m, "error.message") && *get_str(m, "error.message"));
    T_CHECK(!get(m, "result"));
    const cJSON *id = get(m, "id");
    if (!id_json) {
        T_CHECK(id == NULL);
    } else {
        char *t = id ? cJSON_PrintUnformatted(id) : NULL;
        T_EQ_STR(t, id_json);
        cJSON_free(t);
    }
}

#define INIT                                                                                       \
    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"                         \
    "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","               \
    "\"version\":\"1\"}}}"

static void conn_initialize(conn_t *c)
{
    char line[512];
    snprintf(line, sizeof line, INIT, MCP_PROTOCOL_LATEST);
    cJSON *m = conn_call(c, line);
    T_EQ_STR(get_str(m, "result.protocolVersion"), MCP_PROTOCOL_LATEST);
    cJSON_Delete(m);
    conn_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

static cJSON *call_search(conn_t *c, int id, const char *args)
{
    char *line = xasprintf("{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
                           "{\"name\":\"search_code\",\"arguments\":%s}}",
                           id, args);
    cJSON *m = conn_call(c, line);
    free(line);
    return m;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void test_initialize_echoes_each_supported_version(void)
{
    const char *versions[] = MCP_PROTOCOL_VERSIONS;
    for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
        conn_t c;
        conn_start(&c);
        char line[512];
        snprintf(line, sizeof line, INIT, versions[i]);
        cJSON *m = conn_call(&c, line);
        T_EQ_STR(get_str(m, "result.protocolVersion"), versions[i]);
        T_EQ_INT(get_int(m, "id"), 0);
        cJSON_Delete(m);
        conn_finish(&c);
    }
}

static void test_initialize_answers_latest_for_unknown_version(void)
{
    conn_t c;
    conn_start(&c);
    char line[512];
    snprintf(line, sizeof line, INIT, "2023-01-01");
    cJSON *m = conn_call(&c, line);
    T_EQ_STR(get_str(m, "result.protocolVersion"), "2025-11-25");
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_initialize_declares_tools_logging_and_server_info(void)
{
    conn_t c;
    conn_start(&c);
    char line[512];
    snprintf(line, sizeof line, INIT, "2025-06-18");
    cJSON *m = conn_call(&c, line);
    T_CHECK(cJSON_IsFalse(get(m, "result.capabilities.tools.listChanged")));
    T_CHECK(cJSON_IsObject(get(m, "result.capabilities.logging")));
    T_CHECK(!get(m, "result.capabilities.resources"));
    T_CHECK(!get(m, "result.capabilities.prompts"));
    T_EQ_STR(get_str(m, "result.serverInfo.name"), "embecode");
    T_EQ_STR(get_str(m, "result.serverInfo.version"), "9.8.7");
    T_CHECK(get_str(m, "result.instructions") &&
            strstr(get_str(m, "result.instructions"), "search_code"));
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_initialize_without_protocol_version_is_invalid_params(void)
{
    conn_t c;
    conn_start(&c);
    cJSON *m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":\"i\",\"method\":\"initialize\","
                             "\"params\":{\"capabilities\":{}}}");
    check_error(m, -32602, "\"i\"");
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":\"j\",\"method\":\"initialize\"}");
    check_error(m, -32602, "\"j\"");
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_ping_is_answered_before_initialize(void)
{
    conn_t c;
    conn_start(&c);
    cJSON *m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}");
    T_EQ_INT(get_int(m, "id"), 7);
    T_CHECK(cJSON_IsObject(get(m, "result")) && !get(m, "result")->child);
    cJSON_Delete(m);
    conn_initialize(&c);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\",\"params\":{}}");
    T_EQ_INT(get_int(m, "id"), 8);
    T_CHECK(cJSON_IsObject(get(m, "result")));
    cJSON_Delete(m);
    conn_finish(&c);
}

/* ---- tools ---------------------------------------------------------------------------- */

static void test_tools_list_describes_both_tools_with_schemas(void)
{
    conn_t c;
    conn_start(&c);
    conn_initialize(&c);
    cJSON *m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    const cJSON *tools = get(m, "result.tools");
    T_EQ_INT(cJSON_GetArraySize(tools), 2);
    const cJSON *s = mcp_tools_find(tools, "search_code");
    const cJSON *st = mcp_tools_find(tools, "index_status");
    T_CHECK(s && st);
    T_EQ_STR(get_str(s, "inputSchema.type"), "object");
    T_EQ_STR(get_str(s, "inputSchema.required.0"), "query");
    T_EQ_STR(get_str(s, "inputSchema.properties.query.type"), "string");
    T_EQ_INT(get_int(s, "inputSchema.properties.query.minLength"), 1);
    T_EQ_STR(get_str(s, "inputSchema.properties.mode.enum.0"), "hybrid");
    T_EQ_STR(get_str(s, "inputSchema.properties.mode.enum.1"), "semantic");
    T_EQ_STR(get_str(s, "inputSchema.properties.mode.enum.2"), "keyword");
    T_EQ_STR(get_str(s, "inputSchema.properties.mode.default"), "hybrid");
    T_EQ_STR(get_str(s, "inputSchema.properties.top_k.type"), "integer");
    T_EQ_INT(get_int(s, "inputSchema.properties.top_k.minimum"), 1);
    T_EQ_INT(get_int(s, "inputSchema.properties.top_k.maximum"), 100);
    T_EQ_INT(get_int(s, "inputSchema.properties.top_k.default"), 12); /* from server info */
    T_CHECK(strstr(get_str(s, "inputSchema.properties.top_k.description"), "default 12"));
    T_EQ_STR(get_str(s, "inputSchema.properties.path.type"), "string");
    T_EQ_STR(get_str(s, "outputSchema.type"), "object");
    T_EQ_STR(get_str(s, "outputSchema.properties.results.type"), "array");
    T_EQ_STR(get_str(s, "outputSchema.properties.note.type"), "string");
    T_CHECK(cJSON_IsTrue(get(s, "annotations.readOnlyHint")));
    T_CHECK(get_str(s, "title") != NULL);
    const char *d = get_str(s, "description");
    T_CHECK(d && strstr(d, "keyword") && strstr(d, "semantic") && strstr(d, "prefix") &&
            strstr(d, "not full content"));
    const char *fields[] = {"files_indexed", "total_chunks",    "embedding_model",
                            "last_updated",  "is_indexing",     "indexing_type",
                            "current_file",  "progress",        "files_to_process",
                            "role",          "embedded_chunks", "semantic_ready",
                            "message",       "skipped_binary",  "skipped_too_large",
                            "is_embedding",  "embedding_progress"};
    const cJSON *props = get(st, "outputSchema.properties");
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(props, fields[i]);
        T_CHECK(p && get(p, "type") && get_str(p, "description"));
    }
    T_EQ_INT(cJSON_GetArraySize(props), (int)ARRAY_LEN(fields));
    T_EQ_INT(get_int(st, "outputSchema.properties.progress.maximum"), 1);
    T_EQ_STR(get_str(st, "outputSchema.properties.role.enum.1"), "reader");
    T_CHECK(cJSON_IsNull(get(st, "outputSchema.properties.indexing_type.enum.3")));
    T_CHECK(cJSON_IsTrue(get(st, "annotations.readOnlyHint")));
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_tools_list_rejects_unknown_cursor(void)
{
    conn_t c;
    conn_start(&c);
    cJSON *m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
                             "\"params\":{\"cursor\":\"abc\"}}");
    check_error(m, -32602, "1");
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_tools_call_returns_text_that_parses_to_structured_content(void)
{
    conn_t c;
    conn_start(&c);
    conn_initialize(&c);
    cJSON *m = call_search(&c, 3, "{\"query\":\"retry http\"}");
    T_EQ_INT(get_int(m, "id"), 3);
    T_CHECK(!get(m, "result.isError") || cJSON_IsFalse(get(m, "result.isError")));
    T_EQ_STR(get_str(m, "result.content.0.type"), "text");
    cJSON *parsed = cJSON_Parse(get_str(m, "result.content.0.text"));
    T_CHECK(parsed && cJSON_Compare(parsed, get(m, "result.structuredContent"), 1));
    T_EQ_STR(get_str(m, "result.structuredContent.results.0.preview"), "retry http");
    cJSON_Delete(parsed);
    cJSON_Delete(m);
    /* A handler's own text is used as is. */
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"index_status\"}}");
    T_EQ_STR(get_str(m, "result.content.0.text"), "3 files indexed");
    T_EQ_INT(get_int(m, "result.structuredContent.files_indexed"), 3);
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_tools_call_fills_in_schema_defaults(void)
{
    conn_t c;
    conn_start(&c);
    cJSON_Delete(call_search(&c, 1, "{\"query\":\"x\"}"));
    pthread_mutex_lock(&fake_lock);
    T_EQ_STR(get_str(fake_last_args, "mode"), "hybrid");
    T_EQ_INT(get_int(fake_last_args, "top_k"), 12);
    T_CHECK(!get(fake_last_args, "path"));
    pthread_mutex_unlock(&fake_lock);
    cJSON_Delete(call_search(&c, 2,
                             "{\"query\":\"x\",\"mode\":\"keyword\",\"top_k\":100,"
                             "\"path\":\"src/\"}"));
    pthread_mutex_lock(&fake_lock);
    T_EQ_STR(get_str(fake_last_args, "mode"), "keyword");
    T_EQ_INT(get_int(fake_last_args, "top_k"), 100);
    T_EQ_STR(get_str(fake_last_args, "path"), "src/");
    pthread_mutex_unlock(&fake_lock);
    conn_finish(&c);
}

static void test_tools_call_invalid_arguments_are_tool_errors(void)
{
    struct {
        const char *args, *must_mention;
    } cases[] = {
        {"{\"query\":\"x\",\"top_k\":0}", "'top_k' must be between 1 and 100"},
        {"{\"query\":\"x\",\"top_k\":101}", "'top_k' must be between 1 and 100"},
        {"{\"query\":\"x\",\"top_k\":5.5}", "'top_k' must be an integer"},
        {"{\"query\":\"x\",\"top_k\":\"5\"}", "'top_k' must be an integer"},
        {"{\"query\":\"x\",\"mode\":\"fuzzy\"}", "\"hybrid\", \"semantic\", \"keyword\""},
        {"{\"query\":\"\"}", "'query' must not be empty"},
        {"{\"query\":42}", "'query' must be a string"},
        {"{}", "missing required argument 'query'"},
        {"{\"query\":\"x\",\"limit\":5}", "unknown argument 'limit'"},
        {"{\"query\":\"x\",\"path\":null}", "'path' must be a string"},
    };
    conn_t c;
    conn_start(&c);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        cJSON *m = call_search(&c, (int)i + 1, cases[i].args);
        T_EQ_INT(get_int(m, "id"), (int)i + 1);
        T_CHECK(!get(m, "error"));
        T_CHECK(cJSON_IsTrue(get(m, "result.isError")));
        const char *text = get_str(m, "result.content.0.text");
        if (!text || !strstr(text, cases[i].must_mention))
            fprintf(stderr, "  case %zu: %s\n", i, text ? text : "(no text)");
        T_CHECK(text && strstr(text, cases[i].must_mention));
        T_CHECK(text && strstr(text, "search_code"));
        cJSON_Delete(m);
    }
    pthread_mutex_lock(&fake_lock);
    T_EQ_INT(fake_calls, 0); /* the handler never saw bad arguments */
    pthread_mutex_unlock(&fake_lock);
    cJSON *m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":50,\"method\":\"tools/call\","
                             "\"params\":{\"name\":\"index_status\",\"arguments\":{\"x\":1}}}");
    T_CHECK(cJSON_IsTrue(get(m, "result.isError")));
    T_CHECK(strstr(get_str(m, "result.content.0.text"), "index_status takes no arguments"));
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_tools_call_unknown_tool_or_bad_params_is_invalid_params(void)
{
    conn_t c;
    conn_start(&c);
    cJSON *m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                             "\"params\":{\"name\":\"grep\",\"arguments\":{}}}");
    check_error(m, -32602, "1");
    T_CHECK(strstr(get_str(m, "error.message"), "grep") &&
            strstr(get_str(m, "error.message"), "search_code"));
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\"}");
    check_error(m, -32602, "2");
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\","
                      "\"params\":{\"name\":\"search_code\",\"arguments\":[1]}}");
    check_error(m, -32602, "3");
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\",\"params\":[1]}");
    check_error(m, -32602, "4");
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_tool_handler_failure_is_tool_error_with_its_message(void)
{
    conn_t c;
    conn_start(&c);
    cJSON *m = call_search(&c, 1, "{\"query\":\"fail\"}");
    T_CHECK(cJSON_IsTrue(get(m, "result.isError")));
    T_EQ_STR(get_str(m, "result.content.0.text"), "index unavailable: disk full");
    T_CHECK(!get(m, "result.structuredContent"));
    cJSON_Delete(m);
    m = call_search(&c, 2, "{\"query\":\"nothing\"}");
    T_CHECK(cJSON_IsTrue(get(m, "result.isError")));
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_tool_output_is_sent_as_valid_utf8(void)
{
    conn_t c;
    conn_start(&c);
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"search_code\",\"arguments\":{\"query\":\"latin1\"}}}");
    char *line = conn_line(&c, 3000);
    T_CHECK(line && strstr(line, "caf\xEF\xBF\xBD au lait"));
    T_CHECK(line && !strstr(line, "caf\xe9 "));
    free(line);
    conn_finish(&c);
}

/* ---- protocol errors ------------------------------------------------------------------ */

static void test_parse_error_has_no_id_unless_readable(void)
{
    conn_t c;
    conn_start(&c);
    cJSON *m = conn_call(&c, "{not json");
    check_error(m, -32700, NULL);
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":41,\"method\":\"ping\",");
    check_error(m, -32700, "41"); /* truncated after a well-formed id: echo it */
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"ping\"} trailing");
    check_error(m, -32700, "42");
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":\"\xff\",\"method\":\"ping\"}");
    check_error(m, -32700, NULL);
    T_CHECK(strstr(get_str(m, "error.message"), "UTF-8"));
    cJSON_Delete(m);
    conn_write(&c, "{\"a\":\0}\n", 8);
    m = conn_recv(&c, 3000);
    check_error(m, -32700, NULL);
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":43,\"method\":\"ping\"}");
    T_EQ_INT(get_int(m, "id"), 43);
    T_CHECK(get(m, "result") != NULL);
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_invalid_requests_are_rejected_with_their_id(void)
{
    struct {
        const char *line, *id;
    } cases[] = {
        {"{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"ping\"}", "3"},
        {"{\"id\":4,\"method\":\"ping\"}", "4"},
        {"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":12}", "5"},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"six\"}", "\"six\""},
        {"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":\"x\"}", "7"},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", NULL},
        {"{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}", NULL},
        {"{\"jsonrpc\":\"2.0\",\"method\":5}", NULL},
        {"{\"foo\":\"bar\"}", NULL},
        {"42", NULL},
        {"\"ping\"", NULL},
        {"null", NULL},
    };
    conn_t c;
    conn_start(&c);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        cJSON *m = conn_call(&c, cases[i].line);
        if (get_int(m, "error.code") != -32600) fprintf(stderr, "  case %zu\n", i);
        check_error(m, -32600, cases[i].id);
        cJSON_Delete(m);
    }
    conn_finish(&c);
}

static void test_batches_are_rejected_without_running_them(void)
{
    conn_t c;
    conn_start(&c);
    cJSON *m = conn_call(&c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]");
    check_error(m, -32600, NULL);
    T_CHECK(strstr(get_str(m, "error.message"), "batch"));
    cJSON_Delete(m);
    m = conn_call(&c, "[]");
    check_error(m, -32600, NULL);
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    T_EQ_INT(get_int(m, "id"), 3); /* nothing else was answered in between */
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_unknown_methods_are_method_not_found(void)
{
    conn_t c;
    conn_start(&c);
    conn_initialize(&c);
    const char *methods[] = {"server/discover", "resources/list", "prompts/list",
                             "completion/complete", ""};
    for (size_t i = 0; i < ARRAY_LEN(methods); i++) {
        char *line =
            xasprintf("{\"jsonrpc\":\"2.0\",\"id\":\"m%zu\",\"method\":\"%s\"}", i, methods[i]);
        char id[16];
        snprintf(id, sizeof id, "\"m%zu\"", i);
        cJSON *m = conn_call(&c, line);
        check_error(m, -32601, id);
        cJSON_Delete(m);
        free(line);
    }
    conn_finish(&c);
}

static void test_notifications_and_client_responses_are_never_answered(void)
{
    conn_t c;
    conn_start(&c);
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/unknown\",\"params\":{}}");
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"server/discover\"}");
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":[1]}");
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                  "\"params\":{\"requestId\":12345}}");
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\"}");
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
                  "\"params\":{\"progressToken\":1,\"progress\":1}}");
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":77,\"result\":{}}");
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":78,\"error\":{\"code\":1,\"message\":\"x\"}}");
    conn_send(&c, "");
    conn_send(&c, "   \r");
    cJSON *m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"ping\"}");
    T_EQ_INT(get_int(m, "id"), 99);
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_ids_are_echoed_exactly(void)
{
    const char *ids[] = {"0",
                         "-5",
                         "1e3",
                         "2.5",
                         "9007199254740993",
                         "123456789012345678901234567890",
                         "\"abc\"",
                         "\"\"",
                         "\"\xc3\xaf\x64-\xe2\x9c\x93\"",
                         "\"with \\\"quote\\\"\""};
    conn_t c;
    conn_start(&c);
    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        char *req = xasprintf("{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":%s}", ids[i]);
        conn_send(&c, req);
        char *line = conn_line(&c, 3000);
        char *want = xasprintf("\"id\":%s", ids[i]);
        if (!line || !strstr(line, want))
            fprintf(stderr, "  id %s: %s\n", ids[i], line ? line : "(none)");
        T_CHECK(line && strstr(line, want));
        free(want);
        free(line);
        /* Errors echo the id just as exactly. */
        free(req);
        req = xasprintf("{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":%s}", ids[i]);
        conn_send(&c, req);
        line = conn_line(&c, 3000);
        want = xasprintf("\"id\":%s", ids[i]);
        T_CHECK(line && strstr(line, want) && strstr(line, "-32601"));
        free(want);
        free(line);
        free(req);
    }
    /* The first "id" member counts, spelled with an escape or not. */
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"\\u0069d\":18446744073709551617}");
    char *line = conn_line(&c, 3000);
    T_CHECK(line && strstr(line, "\"id\":18446744073709551617"));
    free(line);
    conn_finish(&c);
}

static char *big_line(size_t size, const char *id)
{
    /* {"jsonrpc":"2.0","id":ID,"method":"ping","params":{"pad":"xxx..."}} of exactly size. */
    char *head = xasprintf("{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\","
                           "\"params\":{\"pad\":\"",
                           id);
    const char *tail = "\"}}";
    size_t h = strlen(head), t = strlen(tail);
    char *s = xmalloc(size + 1);
    memcpy(s, head, h);
    memset(s + h, 'x', size - h - t);
    memcpy(s + size - t, tail, t);
    s[size] = 0;
    free(head);
    return s;
}

static void test_oversized_line_gets_error_and_server_stays_up(void)
{
    conn_t c;
    conn_start(&c);
    char *ok = big_line(MCP_MAX_LINE, "1"); /* exactly at the limit: accepted */
    cJSON *m = conn_call(&c, ok);
    T_EQ_INT(get_int(m, "id"), 1);
    T_CHECK(get(m, "result") != NULL);
    cJSON_Delete(m);
    free(ok);
    char *big = big_line(MCP_MAX_LINE + 1, "2");
    m = conn_call(&c, big);
    check_error(m, -32600, "2"); /* the id is read from the part we kept */
    T_CHECK(strstr(get_str(m, "error.message"), "4 MiB"));
    cJSON_Delete(m);
    memset(big, 'y', MCP_MAX_LINE + 1); /* no readable id */
    m = conn_call(&c, big);
    check_error(m, -32600, NULL);
    cJSON_Delete(m);
    free(big);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    T_EQ_INT(get_int(m, "id"), 3);
    T_CHECK(get(m, "result") != NULL);
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_crlf_and_final_line_without_newline_are_accepted(void)
{
    conn_t c;
    conn_start(&c);
    cJSON *m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r");
    T_EQ_INT(get_int(m, "id"), 1);
    cJSON_Delete(m);
    const char *last = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}";
    conn_write(&c, last, strlen(last));
    close(c.in[1]);
    m = conn_recv(&c, 3000);
    T_EQ_INT(get_int(m, "id"), 2);
    cJSON_Delete(m);
    pthread_join(c.th, NULL);
    T_EQ_INT(c.rc, 0);
    close(c.in[0]);
    close(c.out[0]);
    sbuf_free(&c.buf);
}

/* ---- cancellation --------------------------------------------------------------------- */

/* Waits until the server has read everything we sent (its input pipe is empty), plus a
 * moment to act on it. */
static void wait_input_consumed(conn_t *c)
{
    for (int i = 0; i < 300; i++) {
        int n = 0;
        if (ioctl(c->in[0], FIONREAD, &n) == 0 && n == 0) break;
        usleep(10000);
    }
    usleep(50000);
}

static void test_cancelled_queued_request_gets_no_response(void)
{
    conn_t c;
    conn_start(&c);
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"search_code\",\"arguments\":{\"query\":\"block\"}}}");
    T_CHECK(fake_wait_blocked());
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"search_code\",\"arguments\":{\"query\":\"second\"}}}");
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                  "\"params\":{\"requestId\":\"two\",\"reason\":\"user\"}}");
    wait_input_consumed(&c);
    fake_unblock();
    cJSON *m = conn_recv(&c, 3000);
    T_EQ_INT(get_int(m, "id"), 1);
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    T_EQ_INT(get_int(m, "id"), 3);
    cJSON_Delete(m);
    pthread_mutex_lock(&fake_lock);
    T_EQ_INT(fake_calls, 1); /* the cancelled request never ran */
    pthread_mutex_unlock(&fake_lock);
    conn_finish(&c);
}

static void test_cancelled_running_request_gets_no_response(void)
{
    conn_t c;
    conn_start(&c);
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"search_code\",\"arguments\":{\"query\":\"block\"}}}");
    T_CHECK(fake_wait_blocked());
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                  "\"params\":{\"requestId\":10.0}}");
    wait_input_consumed(&c);
    fake_unblock();
    cJSON *m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\"}");
    T_EQ_INT(get_int(m, "id"), 11);
    cJSON_Delete(m);
    conn_finish(&c);
}

static void test_initialize_cannot_be_cancelled(void)
{
    conn_t c;
    conn_start(&c);
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"search_code\",\"arguments\":{\"query\":\"block\"}}}");
    T_CHECK(fake_wait_blocked());
    char line[512];
    snprintf(line, sizeof line, INIT, MCP_PROTOCOL_LATEST);
    conn_send(&c, line);
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                  "\"params\":{\"requestId\":0}}");
    wait_input_consumed(&c);
    fake_unblock();
    cJSON *m = conn_recv(&c, 3000);
    T_EQ_INT(get_int(m, "id"), 1);
    cJSON_Delete(m);
    m = conn_recv(&c, 3000);
    T_EQ_INT(get_int(m, "id"), 0);
    T_CHECK(get(m, "result.protocolVersion") != NULL);
    cJSON_Delete(m);
    conn_finish(&c);
}

/* ---- logging -------------------------------------------------------------------------- */

static void test_logging_set_level_controls_notifications(void)
{
    conn_t c;
    conn_start(&c);
    conn_initialize(&c);
    /* Before logging/setLevel: no notifications. */
    cJSON *m = call_search(&c, 1, "{\"query\":\"log\"}");
    T_EQ_INT(get_int(m, "id"), 1);
    cJSON_Delete(m);

    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/setLevel\","
                      "\"params\":{\"level\":\"warning\"}}");
    T_EQ_INT(get_int(m, "id"), 2);
    T_CHECK(cJSON_IsObject(get(m, "result")));
    cJSON_Delete(m);
    m = call_search(&c, 3, "{\"query\":\"log\"}");
    T_EQ_STR(get_str(m, "method"), "notifications/message");
    T_EQ_STR(get_str(m, "params.level"), "warning");
    T_EQ_STR(get_str(m, "params.data"), "fake warning");
    T_CHECK(!get(m, "id"));
    cJSON_Delete(m);
    m = conn_recv(&c, 3000);
    T_EQ_INT(get_int(m, "id"), 3); /* the debug message was not sent */
    cJSON_Delete(m);

    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"logging/setLevel\","
                      "\"params\":{\"level\":\"debug\"}}");
    T_EQ_INT(get_int(m, "id"), 4);
    cJSON_Delete(m);
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"search_code\",\"arguments\":{\"query\":\"log\"}}}");
    bool warning = false, debug = false, response = false;
    for (int i = 0; i < 10 && !response; i++) {
        m = conn_recv(&c, 3000);
        if (!m) break;
        const char *data = get_str(m, "params.data");
        warning = warning || (data && !strcmp(data, "fake warning"));
        debug = debug || (data && !strcmp(data, "fake debug"));
        response = get_int(m, "id") == 5;
        cJSON_Delete(m);
    }
    T_CHECK(warning && debug && response);

    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"logging/setLevel\","
                      "\"params\":{\"level\":\"emergency\"}}");
    T_EQ_INT(get_int(m, "id"), 6);
    cJSON_Delete(m);
    m = call_search(&c, 7, "{\"query\":\"log\"}");
    T_EQ_INT(get_int(m, "id"), 7);
    cJSON_Delete(m);

    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"logging/setLevel\","
                      "\"params\":{\"level\":\"banana\"}}");
    check_error(m, -32602, "8");
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"logging/setLevel\"}");
    check_error(m, -32602, "9");
    cJSON_Delete(m);
    conn_finish(&c);
    log_warn("after the server ended (must not crash: the sink is gone)");
}

/* ---- end of input, stop --------------------------------------------------------------- */

static void test_eof_exits_cleanly_within_one_second(void)
{
    conn_t c;
    conn_start(&c);
    conn_initialize(&c);
    double ms = conn_finish(&c);
    T_CHECK(ms < 1000);
}

static void test_eof_still_answers_requests_already_sent(void)
{
    conn_t c;
    conn_start(&c);
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n"
                  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"search_code\",\"arguments\":{\"query\":\"q\"}}}");
    close(c.in[1]);
    cJSON *m = conn_recv(&c, 3000);
    T_EQ_INT(get_int(m, "id"), 1);
    cJSON_Delete(m);
    m = conn_recv(&c, 3000);
    T_EQ_INT(get_int(m, "id"), 2);
    cJSON_Delete(m);
    T_CHECK(conn_line(&c, 3000) == NULL); /* then EOF on the output */
    pthread_join(c.th, NULL);
    T_EQ_INT(c.rc, 0);
    close(c.in[0]);
    close(c.out[0]);
    sbuf_free(&c.buf);
}

static void test_mcp_stop_ends_serve(void)
{
    conn_t c;
    conn_start(&c);
    cJSON_Delete(conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"));
    double t0 = time_mono_ms();
    mcp_stop();
    pthread_join(c.th, NULL);
    T_CHECK(time_mono_ms() - t0 < 1000);
    T_EQ_INT(c.rc, 0);
    T_CHECK(conn_line(&c, 1000) == NULL);
    close(c.in[0]);
    close(c.in[1]);
    close(c.out[0]);
    sbuf_free(&c.buf);
}

static void test_closed_output_ends_serve(void)
{
    conn_t c;
    conn_start(&c);
    close(c.out[0]);
    conn_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    pthread_join(c.th, NULL); /* EPIPE ends the loop; SIGPIPE does not kill us */
    T_EQ_INT(c.rc, 0);
    close(c.in[0]);
    close(c.in[1]);
}

/* ---- load ----------------------------------------------------------------------------- */

#define FLOOD 5000

static void *flood_writer(void *arg)
{
    conn_t *c = arg;
    sbuf_t b = {0};
    for (int i = 0; i < FLOOD; i++)
        sbuf_printf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}\n", i);
    conn_write(c, b.data, b.len);
    sbuf_free(&b);
    return NULL;
}

static void test_flood_of_requests_is_answered_in_order(void)
{
    conn_t c;
    conn_start(&c);
    pthread_t w;
    pthread_create(&w, NULL, flood_writer, &c);
    int next = 0;
    for (; next < FLOOD; next++) {
        cJSON *m = conn_recv(&c, 5000);
        int id = get_int(m, "id");
        cJSON_Delete(m);
        if (id != next) break;
    }
    T_EQ_INT(next, FLOOD);
    pthread_join(w, NULL);
    conn_finish(&c);
}

/* ---- mcp_tools ------------------------------------------------------------------------ */

static void test_tools_check_args_reports_and_fills_defaults(void)
{
    cJSON *tools = mcp_tools_list(500); /* clamped to 100 */
    const cJSON *s = mcp_tools_find(tools, "search_code");
    T_EQ_INT(get_int(s, "inputSchema.properties.top_k.default"), 100);
    T_CHECK(mcp_tools_find(tools, "nope") == NULL);
    char names[64];
    mcp_tools_names(tools, names, sizeof names);
    T_EQ_STR(names, "search_code, index_status");

    cJSON *args = cJSON_Parse("{\"query\":\"q\",\"top_k\":3.0}");
    cJSON *out = NULL;
    char msg[512];
    T_EQ_INT(mcp_tools_check_args(s, args, &out, msg, sizeof msg), 0);
    T_EQ_INT(get_int(out, "top_k"), 3);
    T_EQ_STR(get_str(out, "mode"), "hybrid");
    cJSON_Delete(out);
    cJSON_Delete(args);

    T_EQ_INT(mcp_tools_check_args(s, NULL, &out, msg, sizeof msg), -1);
    T_CHECK(out == NULL);
    T_CHECK(strstr(msg, "Invalid arguments for tool search_code: missing required argument "
                        "'query' (a string)"));
    args = cJSON_Parse("[1]");
    T_EQ_INT(mcp_tools_check_args(s, args, &out, msg, sizeof msg), -1);
    T_CHECK(strstr(msg, "must be a JSON object"));
    cJSON_Delete(args);
    args = cJSON_Parse("{\"query\":\"\xc3\xa9\"}"); /* one character, two bytes */
    T_EQ_INT(mcp_tools_check_args(s, args, &out, msg, sizeof msg), 0);
    cJSON_Delete(out);
    cJSON_Delete(args);

    const cJSON *st = mcp_tools_find(tools, "index_status");
    T_EQ_INT(mcp_tools_check_args(st, NULL, &out, msg, sizeof msg), 0);
    T_CHECK(cJSON_IsObject(out) && !out->child);
    cJSON_Delete(out);
    cJSON_Delete(tools);
}

static void test_retry_result_has_the_documented_shape(void)
{
    cJSON *r = mcp_tools_retry_result("Index is being built: 247/1840 files");
    T_EQ_STR(get_str(r, "results.0.error"), "Index is being built: 247/1840 files");
    T_CHECK(cJSON_IsTrue(get(r, "results.0.retry_recommended")));
    T_EQ_INT(cJSON_GetArraySize(get(r, "results")), 1);
    cJSON_Delete(r);
}

static void test_serve_without_handlers_offers_no_tools(void)
{
    conn_t c;
    conn_start(&c);
    /* The shared handlers are used by serve_thread; check the list logic directly. */
    cJSON *m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    T_EQ_INT(cJSON_GetArraySize(get(m, "result.tools")), 2);
    cJSON_Delete(m);
    conn_finish(&c);
    test_handlers.index_status = NULL;
    conn_start(&c);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    T_EQ_INT(cJSON_GetArraySize(get(m, "result.tools")), 1);
    cJSON_Delete(m);
    m = conn_call(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"index_status\"}}");
    check_error(m, -32602, "2");
    cJSON_Delete(m);
    conn_finish(&c);
    test_handlers.index_status = fake_status;
}

int main(void)
{
    log_set_level(LOG_ERROR); /* keep test output quiet; the sink still gets everything */
    T_RUN(test_initialize_echoes_each_supported_version);
    T_RUN(test_initialize_answers_latest_for_unknown_version);
    T_RUN(test_initialize_declares_tools_logging_and_server_info);
    T_RUN(test_initialize_without_protocol_version_is_invalid_params);
    T_RUN(test_ping_is_answered_before_initialize);
    T_RUN(test_tools_list_describes_both_tools_with_schemas);
    T_RUN(test_tools_list_rejects_unknown_cursor);
    T_RUN(test_tools_call_returns_text_that_parses_to_structured_content);
    T_RUN(test_tools_call_fills_in_schema_defaults);
    T_RUN(test_tools_call_invalid_arguments_are_tool_errors);
    T_RUN(test_tools_call_unknown_tool_or_bad_params_is_invalid_params);
    T_RUN(test_tool_handler_failure_is_tool_error_with_its_message);
    T_RUN(test_tool_output_is_sent_as_valid_utf8);
    T_RUN(test_parse_error_has_no_id_unless_readable);
    T_RUN(test_invalid_requests_are_rejected_with_their_id);
    T_RUN(test_batches_are_rejected_without_running_them);
    T_RUN(test_unknown_methods_are_method_not_found);
    T_RUN(test_notifications_and_client_responses_are_never_answered);
    T_RUN(test_ids_are_echoed_exactly);
    T_RUN(test_oversized_line_gets_error_and_server_stays_up);
    T_RUN(test_crlf_and_final_line_without_newline_are_accepted);
    T_RUN(test_cancelled_queued_request_gets_no_response);
    T_RUN(test_cancelled_running_request_gets_no_response);
    T_RUN(test_initialize_cannot_be_cancelled);
    T_RUN(test_logging_set_level_controls_notifications);
    T_RUN(test_eof_exits_cleanly_within_one_second);
    T_RUN(test_eof_still_answers_requests_already_sent);
    T_RUN(test_mcp_stop_ends_serve);
    T_RUN(test_closed_output_ends_serve);
    T_RUN(test_flood_of_requests_is_answered_in_order);
    T_RUN(test_tools_check_args_reports_and_fills_defaults);
    T_RUN(test_retry_result_has_the_documented_shape);
    T_RUN(test_serve_without_handlers_offers_no_tools);
    cJSON_Delete(fake_last_args);
    return t_done();
}
