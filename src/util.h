/* util.h — small shared helpers: checked allocation, error messages, growable strings,
 * file and time helpers. Everything here is thread-safe unless noted. */
#ifndef EMBECODE_UTIL_H
#define EMBECODE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define EC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define EC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define EC_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Checked allocation. On failure these print a message to stderr and abort(): an embedding
 * or indexing process that cannot allocate a few KiB cannot do anything useful. Memory is
 * released with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a malloc'd string formatted like printf. */
char *xasprintf(const char *fmt, ...) EC_PRINTF(1, 2);

/* Error message carried from where a failure happens to where it reaches the user.
 * Functions that take `err_t *err` return 0 on success and a negative value on failure,
 * after filling err->msg (when err is non-NULL) with a sentence saying what failed, where,
 * and what to do. */
typedef struct {
    char msg[1024];
} err_t;
/* Sets err->msg (no-op when err is NULL). Always returns -1 so callers can `return err_set()`. */
int err_set(err_t *err, const char *fmt, ...) EC_PRINTF(2, 3);
/* Prefixes the existing message with more context: "context: old message". Returns -1. */
int err_prefix(err_t *err, const char *fmt, ...) EC_PRINTF(2, 3);

/* Growable NUL-terminated string. Zero-initialise (`sbuf_t b = {0};`) before use;
 * sbuf_free() releases it; sbuf_take() hands the buffer to the caller (never NULL). */
typedef struct {
    char *data;
    size_t len, cap;
} sbuf_t;
void sbuf_append(sbuf_t *b, const char *s, size_t n);
void sbuf_puts(sbuf_t *b, const char *s);
void sbuf_putc(sbuf_t *b, char c);
void sbuf_printf(sbuf_t *b, const char *fmt, ...) EC_PRINTF(2, 3);
void sbuf_vprintf(sbuf_t *b, const char *fmt, va_list ap);
void sbuf_reset(sbuf_t *b);
char *sbuf_take(sbuf_t *b);
void sbuf_free(sbuf_t *b);

/* Reads a whole file into a malloc'd, NUL-terminated buffer (the NUL is not counted in
 * *len). Fails (with err) when the file cannot be opened or is larger than max_bytes. */
int file_read_all(const char *path, size_t max_bytes, char **out, size_t *len, err_t *err);
/* Writes data to path atomically (temp file in the same directory, fsync, rename). */
int file_write_atomic(const char *path, const void *data, size_t len, err_t *err);
/* mkdir -p; 0 on success (also when it exists). */
int mkdir_p(const char *path, err_t *err);
/* Joins two path parts with exactly one '/'. Returns a malloc'd string. */
char *path_join(const char *a, const char *b);

/* Milliseconds from a monotonic clock (for durations). */
double time_mono_ms(void);
/* Formats a Unix time (seconds) as ISO-8601 UTC, e.g. 2026-11-26T15:52:44Z, into buf (>= 21). */
void time_iso8601(int64_t unix_seconds, char *buf, size_t size);

/* Directories from the XDG base directory spec, with their documented defaults
 * ($HOME/.cache, $HOME/.config). Return malloc'd strings. */
char *xdg_cache_home(void);
char *xdg_config_home(void);

#endif
