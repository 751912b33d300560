/* log.h — leveled logging to stderr (never stdout: in MCP mode stdout carries only JSON-RPC).
 * Thread-safe. An optional sink also receives each message (the MCP server uses it to send
 * notifications/message to clients that asked for logs with logging/setLevel). */
#ifndef EMBECODE_LOG_H
#define EMBECODE_LOG_H

#include "util.h"

/* Ordered like the MCP/syslog levels we use. */
typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERROR } log_level_t;

/* Messages below `level` are dropped from stderr. Default LOG_INFO, or $EMBECODE_LOG
 * (debug|info|notice|warning|error) when set. */
void log_set_level(log_level_t level);
log_level_t log_get_level(void);
/* Parses a level name ("debug", "info", "notice", "warning", "error"; also the MCP names
 * "critical", "alert", "emergency" map to LOG_ERROR). Returns -1 when unknown. */
int log_level_parse(const char *name);
const char *log_level_name(log_level_t level);

/* Sink called (under the log lock, so it must not log) for every message at or above its
 * own level, in addition to stderr. Pass NULL to remove. */
typedef void (*log_sink_fn)(void *ctx, log_level_t level, const char *msg);
void log_set_sink(log_sink_fn fn, void *ctx, log_level_t min_level);
/* When quiet, stderr output is suppressed below LOG_WARNING (CLI uses it with a progress bar). */
void log_set_quiet(bool quiet);

void log_msg(log_level_t level, const char *fmt, ...) EC_PRINTF(2, 3);
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
