/* log.c — see log.h. */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_level = -1; /* -1: not yet initialised from the environment */
static bool log_quiet;
static log_sink_fn sink_fn;
static void *sink_ctx;
static log_level_t sink_level;

static const char *const names[] = {"debug", "info", "notice", "warning", "error"};

int log_level_parse(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (strcmp(name, names[i]) == 0) return (int)i;
    if (!strcmp(name, "warn")) return LOG_WARNING;
    if (!strcmp(name, "critical") || !strcmp(name, "alert") || !strcmp(name, "emergency"))
        return LOG_ERROR;
    return -1;
}

const char *log_level_name(log_level_t level)
{
    return (unsigned)level < ARRAY_LEN(names) ? names[level] : "error";
}

static log_level_t current_level(void)
{
    if (log_level < 0) {
        const char *e = getenv("EMBECODE_LOG");
        int l = e ? log_level_parse(e) : -1;
        log_level = l >= 0 ? l : LOG_INFO;
    }
    return (log_level_t)log_level;
}

void log_set_level(log_level_t level)
{
    pthread_mutex_lock(&log_lock);
    log_level = (int)level;
    pthread_mutex_unlock(&log_lock);
}

log_level_t log_get_level(void)
{
    pthread_mutex_lock(&log_lock);
    log_level_t l = current_level();
    pthread_mutex_unlock(&log_lock);
    return l;
}

void log_set_sink(log_sink_fn fn, void *ctx, log_level_t min_level)
{
    pthread_mutex_lock(&log_lock);
    sink_fn = fn;
    sink_ctx = ctx;
    sink_level = min_level;
    pthread_mutex_unlock(&log_lock);
}

void log_set_quiet(bool quiet)
{
    pthread_mutex_lock(&log_lock);
    log_quiet = quiet;
    pthread_mutex_unlock(&log_lock);
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (level >= current_level() && !(log_quiet && level < LOG_WARNING))
        fprintf(stderr, "embecode: %s: %s\n", log_level_name(level), msg);
    if (sink_fn && level >= sink_level) sink_fn(sink_ctx, level, msg);
    pthread_mutex_unlock(&log_lock);
}
