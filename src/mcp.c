/* mcp.c — see mcp.h. Layout (UTF-8 and raw-JSON helpers are in mcp_json.c): the message queue and
 * log sink, the reader thread (lines → parsed messages, cancellations), the request handlers, and
 * mcp_serve() which runs the processing loop. */
#include "mcp.h"

#include "log.h"
#include "mcp_json.h"
#include "mcp_tools.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602

#define READ_CHUNK 65536
#define QUEUE_MAX 1024 /* messages read ahead of processing; the reader waits beyond this */
#define NOTES_MAX 512  /* log notifications waiting to be written; more are counted, dropped */

/* MCP log levels, in order. Our log.h levels are the first five, in the same order. */
static const char *const mcp_levels[] = {"debug", "info",     "notice", "warning",
                                         "error", "critical", "alert",  "emergency"};
static const char *const supported_versions[] = MCP_PROTOCOL_VERSIONS;

typedef enum { ITEM_MESSAGE, ITEM_PARSE_ERROR, ITEM_TOO_LARGE } item_kind_t;

/* One line read from the client. */
typedef struct item {
    struct item *next;
    item_kind_t kind;
    cJSON *msg;  /* ITEM_MESSAGE: the parsed message */
    cJSON *id;   /* id to echo (string, or raw number text), NULL when absent or unusable */
    char *error; /* ITEM_PARSE_ERROR, ITEM_TOO_LARGE: message for the client */
    bool is_initialize;
    bool cancelled;
} item_t;

/* A log notification, already serialised. */
typedef struct note {
    struct note *next;
    char *line;
} note_t;

typedef struct {
    int in_fd, out_fd, stop_rfd;
    const mcp_handlers_t *h;
    const char *name, *version;
    cJSON *tools; /* the tools we offer, as served by tools/list */

    pthread_mutex_t lock; /* everything below */
    pthread_cond_t cond;  /* signalled on every change */
    item_t *head, *tail;
    size_t queued;
    note_t *notes, *notes_tail;
    size_t n_notes, notes_dropped;
    bool eof, stop, done;
    const cJSON *running_id; /* id of the request being processed */
    bool running_cancelled;
    int log_threshold; /* index into mcp_levels; -1: client did not ask for logs */
    char read_error[256];

    bool write_failed; /* processing thread only */
} server_t;

/* The stop pipe, for mcp_stop(): created once and never closed, so that a signal handler
 * can never write to a descriptor that was closed and reused meanwhile. */
static int stop_pipe[2] = {-1, -1};
static pthread_once_t stop_pipe_once = PTHREAD_ONCE_INIT;
static atomic_bool serving;

/* ---- output --------------------------------------------------------------------------- */

/* Writes one message (serialised JSON) as one line. Only the processing thread writes, so
 * lines never interleave. A failed write (client gone) ends the serve loop. */
static void send_text(server_t *s, const char *text)
{
    if (s->write_failed) return;
    sbuf_t line = {0};
    mcp_utf8_append_clean(&line, text, strlen(text));
    sbuf_putc(&line, '\n');
    size_t off = 0;
    while (off < line.len) {
        ssize_t w = write(s->out_fd, line.data + off, line.len - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {s->out_fd, POLLOUT, 0};
            poll(&p, 1, 1000);
        } else if (!(w < 0 && errno == EINTR)) {
            int e = w < 0 ? errno : EIO;
            if (e == EPIPE) { /* consume the SIGPIPE blocked in this thread */
                sigset_t set;
                sigemptyset(&set);
                sigaddset(&set, SIGPIPE);
                struct timespec zero = {0, 0};
                sigtimedwait(&set, NULL, &zero);
            }
            s->write_failed = true;
            log_warn("cannot write to the MCP client (%s); stopping the server", strerror(e));
            break;
        }
    }
    sbuf_free(&line);
}

/* Serialises msg, sends it and deletes it. */
static void send_msg(server_t *s, cJSON *msg)
{
    if (!msg) return;
    char *text = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    if (text) send_text(s, text);
    cJSON_free(text);
}

static cJSON *rpc_envelope(const cJSON *id)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "jsonrpc", "2.0");
    if (id) cJSON_AddItemToObject(m, "id", cJSON_Duplicate(id, 1));
    return m;
}

static cJSON *rpc_result(const cJSON *id, cJSON *result)
{
    cJSON *m = rpc_envelope(id);
    cJSON_AddItemToObject(m, "result", result);
    return m;
}

static cJSON *rpc_error(const cJSON *id, int code, const char *fmt, ...) EC_PRINTF(3, 4);
static cJSON *rpc_error(const cJSON *id, int code, const char *fmt, ...)
{
    sbuf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    cJSON *m = rpc_envelope(id);
    cJSON *e = cJSON_AddObjectToObject(m, "error");
    cJSON_AddNumberToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", b.data);
    sbuf_free(&b);
    return m;
}

/* ---- queue and log notifications ------------------------------------------------------ */

static void item_free(item_t *it)
{
    if (!it) return;
    cJSON_Delete(it->msg);
    cJSON_Delete(it->id);
    free(it->error);
    free(it);
}

static void enqueue(server_t *s, item_t *it)
{
    pthread_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->queued++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* log.h sink: runs under the log lock on any thread, so it only queues the notification
 * (the processing thread writes it) and never logs. */
static void log_sink(void *ctx, log_level_t level, const char *msg)
{
    server_t *s = ctx;
    pthread_mutex_lock(&s->lock);
    bool wanted = s->log_threshold >= 0 && (int)level >= s->log_threshold;
    bool room = s->n_notes < NOTES_MAX;
    if (!room && wanted) s->notes_dropped++;
    pthread_mutex_unlock(&s->lock);
    if (!wanted || !room) return;

    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "jsonrpc", "2.0");
    cJSON_AddStringToObject(m, "method", "notifications/message");
    cJSON *p = cJSON_AddObjectToObject(m, "params");
    cJSON_AddStringToObject(p, "level", mcp_levels[level]);
    cJSON_AddStringToObject(p, "logger", "embecode");
    cJSON_AddStringToObject(p, "data", msg);
    note_t *n = xcalloc(1, sizeof *n);
    n->line = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    if (!n->line) {
        free(n);
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (s->notes_tail)
        s->notes_tail->next = n;
    else
        s->notes = n;
    s->notes_tail = n;
    s->n_notes++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Writes the queued log notifications (processing thread). */
static void flush_notes(server_t *s)
{
    pthread_mutex_lock(&s->lock);
    note_t *n = s->notes;
    size_t dropped = s->notes_dropped;
    s->notes = s->notes_tail = NULL;
    s->n_notes = 0;
    s->notes_dropped = 0;
    pthread_mutex_unlock(&s->lock);
    while (n) {
        note_t *next = n->next;
        send_text(s, n->line);
        cJSON_free(n->line);
        free(n);
        n = next;
    }
    if (dropped) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "jsonrpc", "2.0");
        cJSON_AddStringToObject(m, "method", "notifications/message");
        cJSON *p = cJSON_AddObjectToObject(m, "params");
        cJSON_AddStringToObject(p, "level", "warning");
        cJSON_AddStringToObject(p, "logger", "embecode");
        char text[128];
        snprintf(text, sizeof text, "%zu log messages were dropped (client reading too slowly)",
                 dropped);
        cJSON_AddStringToObject(p, "data", text);
        send_msg(s, m);
    }
}

/* ---- reader thread -------------------------------------------------------------------- */

/* notifications/cancelled: marks the queued or running request with that id so that no
 * response is sent. Applied by the reader, so it works while a handler runs. */
static void apply_cancel(server_t *s, const char *line, size_t len)
{
    size_t ps, pe, vs, ve;
    if (!mcp_json_member(line, len, "params", &ps, &pe)) return;
    if (!mcp_json_member(line + ps, pe - ps, "requestId", &vs, &ve)) return;
    cJSON *id = mcp_id_from_token(line + ps + vs, ve - vs);
    if (!id) return;
    int hits = 0;
    pthread_mutex_lock(&s->lock);
    for (item_t *it = s->head; it; it = it->next) {
        if (!it->is_initialize && !it->cancelled && mcp_id_equal(it->id, id)) {
            it->cancelled = true;
            hits++;
        }
    }
    if (s->running_id && mcp_id_equal(s->running_id, id)) {
        s->running_cancelled = true;
        hits++;
    }
    pthread_mutex_unlock(&s->lock);
    char *t = cJSON_PrintUnformatted(id);
    log_debug("client cancelled request %s%s", t ? t : "?", hits ? "" : " (not pending)");
    cJSON_free(t);
    cJSON_Delete(id);
}

static item_t *error_item(item_kind_t kind, cJSON *id, char *error)
{
    item_t *it = xcalloc(1, sizeof *it);
    it->kind = kind;
    it->id = id;
    it->error = error;
    return it;
}

/* Handles one complete line (without '\n'): parse, classify, queue. */
static void reader_line(server_t *s, const char *line, size_t len)
{
    if (mcp_json_skip_ws(line, len, 0) == len) return; /* blank line (skip_ws stops at NUL) */
    const char *nul = memchr(line, 0, len);
    if (nul) {
        enqueue(s, error_item(ITEM_PARSE_ERROR, NULL,
                              xasprintf("Parse error: NUL byte at offset %zu; send one JSON "
                                        "text per line, UTF-8 encoded",
                                        (size_t)(nul - line))));
        return;
    }
    size_t bad = mcp_utf8_check(line, len);
    if (bad < len) {
        enqueue(s, error_item(ITEM_PARSE_ERROR, mcp_id_of_broken(line, bad),
                              xasprintf("Parse error: invalid UTF-8 at byte %zu; JSON text "
                                        "must be UTF-8 encoded",
                                        bad)));
        return;
    }
    const char *end = NULL;
    cJSON *msg = cJSON_ParseWithOpts(line, &end, 1);
    if (!msg) {
        size_t at = end && end >= line && end <= line + len ? (size_t)(end - line) : 0;
        char near[24];
        size_t k = EC_MIN(len - EC_MIN(at, len), sizeof near - 1);
        while (k > 0 && ((unsigned char)line[at + k] & 0xC0) == 0x80)
            k--;
        memcpy(near, line + at, k);
        near[k] = 0;
        enqueue(s, error_item(
                       ITEM_PARSE_ERROR, mcp_id_of_broken(line, len),
                       xasprintf("Parse error: invalid JSON at byte %zu (near '%s')", at, near)));
        return;
    }
    bool is_obj = cJSON_IsObject(msg);
    const cJSON *method = is_obj ? cJSON_GetObjectItemCaseSensitive(msg, "method") : NULL;
    bool has_id = is_obj && cJSON_GetObjectItemCaseSensitive(msg, "id");
    if (!has_id && cJSON_IsString(method) &&
        !strcmp(method->valuestring, "notifications/cancelled")) {
        apply_cancel(s, line, len);
        cJSON_Delete(msg);
        return;
    }
    item_t *it = xcalloc(1, sizeof *it);
    it->kind = ITEM_MESSAGE;
    it->msg = msg;
    it->id = is_obj ? mcp_id_of(msg, line, len) : NULL;
    it->is_initialize = cJSON_IsString(method) && !strcmp(method->valuestring, "initialize");
    enqueue(s, it);
}

/* Line assembly state: the current line, kept up to MCP_MAX_LINE bytes; `over` counts the
 * bytes beyond that, which are read and dropped. */
typedef struct {
    sbuf_t buf;
    size_t over;
} line_t;

static void line_finish(server_t *s, line_t *l)
{
    if (l->over) {
        size_t total = l->buf.len + l->over;
        log_warn("MCP message of %zu bytes exceeds the %u-byte limit; answered with an error",
                 total, MCP_MAX_LINE);
        enqueue(s, error_item(ITEM_TOO_LARGE, mcp_id_of_broken(l->buf.data, l->buf.len),
                              xasprintf("Invalid Request: message of %zu bytes exceeds the %u "
                                        "byte (4 MiB) limit; send smaller requests",
                                        total, MCP_MAX_LINE)));
    } else {
        reader_line(s, l->buf.data ? l->buf.data : "", l->buf.len);
    }
    if (l->buf.cap > (1u << 20)) {
        sbuf_free(&l->buf); /* do not keep a 4 MiB buffer around after one big message */
    } else {
        sbuf_reset(&l->buf);
    }
    l->over = 0;
}

static void line_feed(server_t *s, line_t *l, const char *data, size_t n)
{
    while (n) {
        const char *nl = memchr(data, '\n', n);
        size_t seg = nl ? (size_t)(nl - data) : n;
        size_t room = MCP_MAX_LINE - EC_MIN(l->buf.len, (size_t)MCP_MAX_LINE);
        size_t keep = l->over ? 0 : EC_MIN(seg, room);
        sbuf_append(&l->buf, data, keep);
        l->over += seg - keep;
        if (!nl) return;
        line_finish(s, l);
        data += seg + 1;
        n -= seg + 1;
    }
}

/* Waits while the queue is full (the client sends faster than we answer). */
static void wait_for_room(server_t *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->queued >= QUEUE_MAX && !s->done)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static void *reader_main(void *arg)
{
    server_t *s = arg;
    char *chunk = xmalloc(READ_CHUNK);
    line_t line = {{0}, 0};
    bool stop = false;
    for (;;) {
        struct pollfd p[2] = {{s->in_fd, POLLIN, 0}, {s->stop_rfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            snprintf(s->read_error, sizeof s->read_error, "poll on MCP input failed: %s",
                     strerror(errno));
            break;
        }
        if (p[1].revents) {
            stop = true;
            break;
        }
        if (!p[0].revents) continue;
        ssize_t n = read(s->in_fd, chunk, READ_CHUNK);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) {
            snprintf(s->read_error, sizeof s->read_error, "cannot read MCP input (fd %d): %s",
                     s->in_fd, strerror(errno));
            break;
        }
        if (n == 0) break;
        line_feed(s, &line, chunk, (size_t)n);
        wait_for_room(s);
    }
    if (!stop && (line.buf.len || line.over)) line_finish(s, &line); /* last line, no '\n' */
    sbuf_free(&line.buf);
    free(chunk);
    pthread_mutex_lock(&s->lock);
    s->eof = true;
    s->stop = s->stop || stop;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- requests ------------------------------------------------------------------------- */

static cJSON *do_initialize(server_t *s, const cJSON *params, const cJSON *id)
{
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
    if (!cJSON_IsString(pv))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "Invalid params: initialize needs params.protocolVersion, a string "
                         "such as \"%s\"",
                         MCP_PROTOCOL_LATEST);
    const char *version = MCP_PROTOCOL_LATEST;
    for (size_t i = 0; i < ARRAY_LEN(supported_versions); i++)
        if (!strcmp(pv->valuestring, supported_versions[i])) version = supported_versions[i];
    const cJSON *ci = cJSON_GetObjectItemCaseSensitive(params, "clientInfo");
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(ci, "name");
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(ci, "version");
    log_info("MCP client %s %s connected (asked for protocol %s, using %s)",
             cJSON_IsString(cn) ? cn->valuestring : "(unnamed)",
             cJSON_IsString(cv) ? cv->valuestring : "", pv->valuestring, version);

    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "protocolVersion", version);
    cJSON *caps = cJSON_AddObjectToObject(r, "capabilities");
    cJSON_AddObjectToObject(caps, "logging");
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged", 0);
    cJSON *info = cJSON_AddObjectToObject(r, "serverInfo");
    cJSON_AddStringToObject(info, "name", s->name);
    cJSON_AddStringToObject(info, "title", "embecode code search");
    cJSON_AddStringToObject(info, "version", s->version);
    cJSON_AddStringToObject(r, "instructions", mcp_tools_instructions());
    return rpc_result(id, r);
}

static cJSON *do_tools_list(server_t *s, const cJSON *params, const cJSON *id)
{
    const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(params, "cursor");
    if (cursor && !cJSON_IsNull(cursor))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "Invalid params: unknown cursor; tools/list returns every tool in "
                         "one page, call it without a cursor");
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "tools", cJSON_Duplicate(s->tools, 1));
    return rpc_result(id, r);
}

static cJSON *tool_text_result(const char *text, bool is_error)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *block = cJSON_CreateObject();
    cJSON_AddStringToObject(block, "type", "text");
    cJSON_AddStringToObject(block, "text", text);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "content"), block);
    if (is_error) cJSON_AddBoolToObject(r, "isError", 1);
    return r;
}

/* Runs a tool handler and turns what it returns into a CallToolResult. */
static cJSON *run_tool(server_t *s, const char *name, mcp_tool_fn fn, const cJSON *args)
{
    mcp_result_t out = {0};
    err_t err = {{0}};
    double t0 = time_mono_ms();
    int rc = fn(s->h->ctx, args, &out, &err);
    log_debug("tool %s finished in %.1f ms", name, time_mono_ms() - t0);
    if (rc < 0 || (!out.structured && !out.text)) {
        cJSON_Delete(out.structured);
        free(out.text);
        if (rc < 0 && !err.msg[0]) snprintf(err.msg, sizeof err.msg, "%s failed", name);
        if (rc >= 0) snprintf(err.msg, sizeof err.msg, "%s returned no result (a bug)", name);
        log_warn("tool %s failed: %s", name, err.msg);
        return tool_text_result(err.msg, true);
    }
    char *json = out.text ? NULL : cJSON_PrintUnformatted(out.structured);
    cJSON *r = tool_text_result(out.text ? out.text : json ? json : "", out.is_error);
    cJSON_free(json);
    free(out.text);
    if (out.structured) cJSON_AddItemToObject(r, "structuredContent", out.structured);
    return r;
}

static cJSON *do_tools_call(server_t *s, const cJSON *params, const cJSON *id)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
    char names[256];
    mcp_tools_names(s->tools, names, sizeof names);
    if (!cJSON_IsString(name))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "Invalid params: tools/call needs params.name, one of: %s", names);
    const cJSON *tool = mcp_tools_find(s->tools, name->valuestring);
    if (!tool)
        return rpc_error(id, RPC_INVALID_PARAMS, "Unknown tool: %s (available: %s)",
                         name->valuestring, names);
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
    if (cJSON_IsNull(args)) args = NULL;
    if (args && !cJSON_IsObject(args))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "Invalid params: params.arguments of tools/call must be an object");
    cJSON *checked = NULL;
    char msg[1024];
    if (mcp_tools_check_args(tool, args, &checked, msg, sizeof msg) < 0) {
        log_debug("rejected %s call: %s", name->valuestring, msg);
        return rpc_result(id, tool_text_result(msg, true));
    }
    mcp_tool_fn fn =
        !strcmp(name->valuestring, MCP_TOOL_SEARCH_CODE) ? s->h->search_code : s->h->index_status;
    cJSON *r = run_tool(s, name->valuestring, fn, checked);
    cJSON_Delete(checked);
    return rpc_result(id, r);
}

static cJSON *do_set_level(server_t *s, const cJSON *params, const cJSON *id)
{
    const cJSON *level = cJSON_GetObjectItemCaseSensitive(params, "level");
    int idx = -1;
    for (size_t i = 0; cJSON_IsString(level) && i < ARRAY_LEN(mcp_levels); i++)
        if (!strcmp(level->valuestring, mcp_levels[i])) idx = (int)i;
    if (idx < 0)
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "Invalid params: params.level must be one of debug, info, notice, "
                         "warning, error, critical, alert, emergency");
    pthread_mutex_lock(&s->lock);
    s->log_threshold = idx;
    pthread_mutex_unlock(&s->lock);
    /* Our own levels stop at error; a threshold above it lets nothing through. */
    if (idx <= LOG_ERROR)
        log_set_sink(log_sink, s, (log_level_t)idx);
    else
        log_set_sink(NULL, NULL, LOG_ERROR);
    return rpc_result(id, cJSON_CreateObject());
}

static cJSON *do_request(server_t *s, const char *method, const cJSON *params, const cJSON *id)
{
    if (!strcmp(method, "initialize")) return do_initialize(s, params, id);
    if (!strcmp(method, "ping")) return rpc_result(id, cJSON_CreateObject());
    if (!strcmp(method, "tools/list")) return do_tools_list(s, params, id);
    if (!strcmp(method, "tools/call")) return do_tools_call(s, params, id);
    if (!strcmp(method, "logging/setLevel")) return do_set_level(s, params, id);
    return rpc_error(id, RPC_METHOD_NOT_FOUND,
                     "Method not found: %s (this server supports initialize, ping, tools/list, "
                     "tools/call, logging/setLevel)",
                     method);
}

/* Checks the JSON-RPC envelope and dispatches. Returns the response, or NULL for messages
 * that get none (notifications, responses). */
static cJSON *do_message(server_t *s, const item_t *it)
{
    const cJSON *m = it->msg;
    if (cJSON_IsArray(m))
        return rpc_error(NULL, RPC_INVALID_REQUEST,
                         "Invalid Request: batches (JSON arrays) are not supported; send one "
                         "JSON-RPC object per line");
    if (!cJSON_IsObject(m))
        return rpc_error(NULL, RPC_INVALID_REQUEST,
                         "Invalid Request: a message must be a JSON-RPC object");
    const cJSON *rawid = cJSON_GetObjectItemCaseSensitive(m, "id");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(m, "method");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
    const cJSON *jsonrpc = cJSON_GetObjectItemCaseSensitive(m, "jsonrpc");
    if (!method && rawid &&
        (cJSON_GetObjectItemCaseSensitive(m, "result") ||
         cJSON_GetObjectItemCaseSensitive(m, "error"))) {
        log_debug("ignoring a response from the client (we send no requests)");
        return NULL;
    }
    if (rawid && !it->id)
        return rpc_error(NULL, RPC_INVALID_REQUEST,
                         "Invalid Request: id must be a string or a number");
    const cJSON *id = it->id;
    if (!cJSON_IsString(jsonrpc) || strcmp(jsonrpc->valuestring, "2.0"))
        return rpc_error(id, RPC_INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
    if (!cJSON_IsString(method))
        return rpc_error(id, RPC_INVALID_REQUEST, "Invalid Request: %s",
                         method ? "\"method\" must be a string" : "missing \"method\"");
    if (params && !cJSON_IsObject(params) && !cJSON_IsArray(params))
        return rpc_error(id, RPC_INVALID_REQUEST, "Invalid Request: \"params\" must be an object");
    if (!rawid) { /* a notification: never answered */
        if (!strcmp(method->valuestring, "notifications/initialized"))
            log_debug("MCP client finished initialization");
        else
            log_debug("ignoring notification %s", method->valuestring);
        return NULL;
    }
    if (params && !cJSON_IsObject(params))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "Invalid params: \"params\" must be an object, not an array");
    return do_request(s, method->valuestring, params, id);
}

static void process(server_t *s, item_t *it)
{
    cJSON *resp = NULL;
    if (it->kind == ITEM_PARSE_ERROR)
        resp = rpc_error(it->id, RPC_PARSE_ERROR, "%s", it->error);
    else if (it->kind == ITEM_TOO_LARGE)
        resp = rpc_error(it->id, RPC_INVALID_REQUEST, "%s", it->error);
    else
        resp = do_message(s, it);
    pthread_mutex_lock(&s->lock);
    bool cancelled = s->running_cancelled;
    s->running_id = NULL;
    s->running_cancelled = false;
    pthread_mutex_unlock(&s->lock);
    flush_notes(s); /* logs written while handling come before the response */
    if (cancelled) {
        log_debug("dropping the response to a cancelled request");
        cJSON_Delete(resp);
        return;
    }
    send_msg(s, resp);
}

/* ---- serve ---------------------------------------------------------------------------- */

static void serve_loop(server_t *s)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!s->head && !s->notes && !s->eof && !s->stop)
            pthread_cond_wait(&s->cond, &s->lock);
        item_t *it = NULL;
        bool skip = false;
        if (!s->stop && s->head) {
            it = s->head;
            s->head = it->next;
            if (!s->head) s->tail = NULL;
            s->queued--;
            skip = it->cancelled;
            s->running_id = skip ? NULL : it->id;
            s->running_cancelled = false;
            pthread_cond_broadcast(&s->cond); /* room for the reader */
        }
        bool finished = s->stop || (s->eof && !s->head && !it);
        pthread_mutex_unlock(&s->lock);
        flush_notes(s);
        if (skip) log_debug("skipping a request the client cancelled before it started");
        if (it && !skip) process(s, it);
        item_free(it);
        if (finished || s->write_failed) break;
    }
}

void mcp_stop(void)
{
    if (atomic_load(&serving) && stop_pipe[1] >= 0) {
        ssize_t w = write(stop_pipe[1], "x", 1); /* a full pipe already says "stop" */
        (void)w;
    }
}

static void stop_pipe_create(void)
{
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) stop_pipe[0] = stop_pipe[1] = -1;
}

/* Discards stop requests left from an earlier run. */
static void stop_pipe_drain(void)
{
    char buf[64];
    while (read(stop_pipe[0], buf, sizeof buf) > 0) {
    }
}

static void server_free(server_t *s)
{
    while (s->head) {
        item_t *next = s->head->next;
        item_free(s->head);
        s->head = next;
    }
    while (s->notes) {
        note_t *next = s->notes->next;
        cJSON_free(s->notes->line);
        free(s->notes);
        s->notes = next;
    }
    cJSON_Delete(s->tools);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

int mcp_serve(int in_fd, int out_fd, const mcp_server_info_t *info, const mcp_handlers_t *h,
              err_t *err)
{
    server_t s = {0};
    s.in_fd = in_fd;
    s.out_fd = out_fd;
    s.h = h;
    s.name = info && info->name ? info->name : "embecode";
    s.version = info && info->version ? info->version : "unknown";
    s.log_threshold = -1;
    s.tools = mcp_tools_list(info ? info->default_top_k : 10);
    if (!h || !h->search_code)
        cJSON_Delete(cJSON_DetachItemViaPointer(
            s.tools, (cJSON *)mcp_tools_find(s.tools, MCP_TOOL_SEARCH_CODE)));
    if (!h || !h->index_status)
        cJSON_Delete(cJSON_DetachItemViaPointer(
            s.tools, (cJSON *)mcp_tools_find(s.tools, MCP_TOOL_INDEX_STATUS)));
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);

    pthread_once(&stop_pipe_once, stop_pipe_create);
    if (stop_pipe[0] < 0) {
        server_free(&s);
        return err_set(err, "cannot start the MCP server: pipe failed: %s", strerror(errno));
    }
    if (atomic_exchange(&serving, true)) {
        server_free(&s);
        return err_set(err, "cannot start the MCP server: another one is already running in "
                            "this process");
    }
    stop_pipe_drain();
    s.stop_rfd = stop_pipe[0];
    /* Block SIGPIPE here (the reader inherits the mask): a vanished client must end the
     * loop with EPIPE, not kill the process. */
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

    pthread_t reader;
    int rc = pthread_create(&reader, NULL, reader_main, &s);
    if (rc != 0) {
        err_set(err, "cannot start the MCP server: thread creation failed: %s", strerror(rc));
    } else {
        serve_loop(&s);
        pthread_mutex_lock(&s.lock);
        s.done = true;
        pthread_cond_broadcast(&s.cond);
        pthread_mutex_unlock(&s.lock);
        mcp_stop(); /* wakes the reader if it still waits for input */
        pthread_join(reader, NULL);
        if (s.read_error[0]) {
            rc = -1;
            err_set(err, "%s", s.read_error);
        }
    }
    log_set_sink(NULL, NULL, LOG_ERROR);
    stop_pipe_drain();
    atomic_store(&serving, false);
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    server_free(&s);
    return rc == 0 ? 0 : -1;
}
