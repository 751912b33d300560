/* mcp.h — the MCP server: JSON-RPC 2.0 over stdio, one message per line.
 *
 * Implements the lifecycle (initialize with version negotiation, notifications/initialized,
 * ping), tools (tools/list, tools/call with argument checks against each tool's inputSchema,
 * see mcp_tools.h), logging (logging/setLevel, notifications/message) and cancellation
 * (notifications/cancelled). Protocol rules:
 *   - Errors: -32700 parse error, -32600 invalid request (also JSON arrays: batches are not
 *     supported, and lines over MCP_MAX_LINE bytes), -32601 unknown method, -32602 invalid
 *     params (including an unknown tool name). The request id is echoed exactly (numbers
 *     digit for digit, even beyond double precision). When no id can be read the error has
 *     no "id" member: MCP 2025-11-25 makes it optional and does not allow null.
 *   - Tool failures, including invalid arguments (MCP 2025-11-25), are results with
 *     isError: true and a message the model can act on.
 *   - Notifications are never answered; responses sent by the client are ignored.
 *   - stdout (out_fd) carries only protocol messages; diagnostics go to stderr via log.h.
 *   - Requests are answered in the order they arrive; ping is accepted before initialize.
 * Log messages reach the client as notifications/message only after it asked for them with
 * logging/setLevel, at that level and above. */
#ifndef EMBECODE_MCP_H
#define EMBECODE_MCP_H

#include "util.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* Protocol versions we speak, newest first. initialize echoes the client's version when it
 * is one of these, and answers MCP_PROTOCOL_LATEST otherwise. */
#define MCP_PROTOCOL_LATEST "2025-11-25"
#define MCP_PROTOCOL_VERSIONS                                                                      \
    {                                                                                              \
        "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"                                     \
    }

/* Longest accepted line (one JSON-RPC message), without its '\n'. */
#define MCP_MAX_LINE (4u * 1024 * 1024)

/* What a tool handler returns. */
typedef struct {
    cJSON *structured; /* object sent as structuredContent; must match the tool's
                          outputSchema unless is_error. May be NULL only when is_error. */
    char *text;        /* text content block (malloc'd); NULL: compact JSON of structured,
                          which is what clients without structuredContent support read */
    bool is_error;     /* the tool ran but failed (isError: true) */
} mcp_result_t;

/* A tool handler. Runs on the thread that called mcp_serve(), one call at a time. args is
 * the "arguments" object, already checked against the tool's inputSchema and completed with
 * the schema defaults (so search_code always sees query, mode and top_k; path only when
 * given); it is borrowed for the call. On success fill *out and return 0: the server takes
 * ownership of out->structured and out->text. On an internal failure return -1 with err
 * filled: the client gets an isError result carrying err->msg (anything put in *out is
 * freed). */
typedef int (*mcp_tool_fn)(void *ctx, const cJSON *args, mcp_result_t *out, err_t *err);

typedef struct {
    void *ctx;                /* passed to every handler */
    mcp_tool_fn search_code;  /* NULL: the tool is not offered */
    mcp_tool_fn index_status; /* NULL: the tool is not offered */
} mcp_handlers_t;

typedef struct {
    const char *name;    /* serverInfo.name; NULL: "embecode" */
    const char *version; /* serverInfo.version; NULL: "unknown" */
    int default_top_k;   /* search.top_k from config: default of search_code's top_k */
} mcp_server_info_t;

/* Serves MCP, reading messages from in_fd and writing to out_fd, until EOF on in_fd (after
 * answering every request read before it), until mcp_stop(), or until out_fd is closed by
 * the client. A reader thread reads and parses lines (lines over MCP_MAX_LINE are skipped
 * and answered with an error; the server stays up) and applies cancellations at once; the
 * calling thread answers requests in order, runs the handlers and does every write, so
 * messages never interleave. Only one mcp_serve() may run at a time in a process (it owns
 * the log.h sink while running). SIGPIPE is blocked in the calling thread while it runs, so
 * a vanished client ends the loop instead of the process. Returns 0 on EOF, stop or closed
 * out_fd; -1 with err when the server cannot start or in_fd fails to read. Neither fd is
 * closed. */
int mcp_serve(int in_fd, int out_fd, const mcp_server_info_t *info, const mcp_handlers_t *h,
              err_t *err);

/* Asks the running mcp_serve() to return as soon as the current request is done; requests
 * still queued are dropped. Async-signal-safe (a SIGTERM handler may call it); a no-op when
 * no server runs. */
void mcp_stop(void);

#endif
