/* httpd_test.h — a tiny HTTP/1.1 server for unit tests (header-only, pthreads).
 *
 *   static void handler(void *ctx, const httpd_req_t *req, httpd_resp_t *resp) { ... }
 *   httpd_t *s = httpd_start(handler, ctx);      // listens on 127.0.0.1, ephemeral port
 *   char *url = httpd_url(s, "/file.gguf");      // "http://127.0.0.1:PORT/file.gguf"
 *   ... point the code under test at url ...
 *   httpd_stop(s);
 *
 * Each connection is served by its own thread and carries one request (the response always
 * says "Connection: close"). The handler runs under the server's lock, so handlers may
 * update their ctx without locking of their own; it only fills *resp, and the sending
 * (including any hang or throttling it asks for) happens after the lock is released.
 *
 * The response can misbehave on purpose: hang before answering (hang_ms), stop after some
 * body bytes and close (close_after), send the body slowly (chunk_delay_ms). Range requests
 * are served by httpd_serve_bytes(). Nothing here talks to anything but 127.0.0.1. */
#ifndef EMBECODE_HTTPD_TEST_H
#define EMBECODE_HTTPD_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTPD_MAX_HEAD 16384
#define HTTPD_NO_CLOSE SIZE_MAX

typedef struct {
    char method[16];
    char target[2048]; /* request target as sent: "/path?q" or, through a proxy, a full URL */
    char head[HTTPD_MAX_HEAD]; /* the header lines, NUL-terminated */
    char *body;                /* NUL-terminated; body_len bytes */
    size_t body_len;
} httpd_req_t;

typedef struct {
    int status;         /* default 200 */
    char headers[4096]; /* extra header lines, each ending in "\r\n" */
    const char *body;   /* not copied unless set with httpd_resp_body_copy() */
    size_t body_len;
    char *owned;        /* freed after sending */
    size_t close_after; /* close the connection after this many body bytes */
    int hang_ms;        /* sleep before sending anything (stops early when the server stops) */
    int chunk_delay_ms; /* pause between body chunks */
    size_t chunk_size;  /* bytes per chunk (default 16 KiB) */
    bool no_length;     /* omit Content-Length */
} httpd_resp_t;

typedef void (*httpd_handler_fn)(void *ctx, const httpd_req_t *req, httpd_resp_t *resp);

typedef struct httpd_conn {
    pthread_t thread;
    int fd;
    struct httpd *srv;
    struct httpd_conn *next;
} httpd_conn_t;

typedef struct httpd {
    int listen_fd, port;
    atomic_int stopping;
    pthread_t accept_thread;
    pthread_mutex_t lock;
    httpd_handler_fn handler;
    void *ctx;
    httpd_conn_t *conns;
    int n_requests;
} httpd_t;

/* Case-insensitive header lookup; copies the trimmed value into buf. NULL when absent. */
static inline const char *httpd_req_header(const httpd_req_t *r, const char *name, char *buf,
                                           size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = r->head; *p;) {
        const char *eol = strstr(p, "\r\n");
        if (!eol) eol = p + strlen(p);
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t n = (size_t)(eol - v);
            if (n >= cap) n = cap - 1;
            memcpy(buf, v, n);
            buf[n] = 0;
            return buf;
        }
        p = *eol ? eol + 2 : eol;
    }
    return NULL;
}

static inline void httpd_resp_header(httpd_resp_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void httpd_resp_header(httpd_resp_t *resp, const char *fmt, ...)
{
    size_t len = strlen(resp->headers);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(resp->headers + len, sizeof resp->headers - len, fmt, ap);
    va_end(ap);
    len = strlen(resp->headers);
    snprintf(resp->headers + len, sizeof resp->headers - len, "\r\n");
}

static inline void httpd_resp_body_copy(httpd_resp_t *resp, const void *data, size_t len)
{
    free(resp->owned);
    resp->owned = malloc(len + 1);
    if (len) memcpy(resp->owned, data, len);
    resp->owned[len] = 0;
    resp->body = resp->owned;
    resp->body_len = len;
}

static inline void httpd_resp_text(httpd_resp_t *resp, int status, const char *text)
{
    resp->status = status;
    httpd_resp_body_copy(resp, text, strlen(text));
}

/* Serves data[0..len) honouring "Range: bytes=N-" / "bytes=N-M": 206 with Content-Range,
 * 416 when N is at or past the end, 200 without a Range header. */
static inline void httpd_serve_bytes(const httpd_req_t *req, httpd_resp_t *resp, const void *data,
                                     size_t len)
{
    char range[128];
    resp->status = 200;
    resp->body = data;
    resp->body_len = len;
    if (!httpd_req_header(req, "Range", range, sizeof range)) return;
    unsigned long long a = 0, b = len ? len - 1 : 0;
    int n = sscanf(range, "bytes=%llu-%llu", &a, &b);
    if (n < 1) return;
    if (a >= len) {
        resp->status = 416;
        resp->body = NULL;
        resp->body_len = 0;
        httpd_resp_header(resp, "Content-Range: bytes */%zu", len);
        return;
    }
    if (n < 2 || b >= len) b = len - 1;
    resp->status = 206;
    resp->body = (const char *)data + a;
    resp->body_len = (size_t)(b - a + 1);
    httpd_resp_header(resp, "Content-Range: bytes %llu-%llu/%zu", a, b, len);
}

static inline void httpd_sleep_ms(httpd_t *s, int ms)
{
    while (ms > 0 && !s->stopping) {
        int step = ms < 20 ? ms : 20;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static inline bool httpd_send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static inline const char *httpd_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 206:
        return "Partial Content";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 416:
        return "Range Not Satisfiable";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

/* Reads one request; false on a closed or malformed connection. */
static inline bool httpd_read_request(int fd, httpd_req_t *req)
{
    char buf[HTTPD_MAX_HEAD + 4096];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len == sizeof buf - 1) return false;
        ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        len += (size_t)r;
        buf[len] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    char *line_end = strstr(buf, "\r\n");
    *line_end = 0;
    if (sscanf(buf, "%15s %2047s", req->method, req->target) != 2) return false;
    size_t head_len = (size_t)(end - (line_end + 2));
    if (head_len >= sizeof req->head) return false;
    memcpy(req->head, line_end + 2, head_len);
    req->head[head_len] = 0;
    char cl[32];
    size_t want = 0;
    if (httpd_req_header(req, "Content-Length", cl, sizeof cl)) want = strtoull(cl, NULL, 10);
    req->body = malloc(want + 1);
    size_t have = len - (size_t)(end + 4 - buf);
    if (have > want) have = want;
    memcpy(req->body, end + 4, have);
    while (have < want) {
        ssize_t r = recv(fd, req->body + have, want - have, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(req->body);
            req->body = NULL;
            return false;
        }
        have += (size_t)r;
    }
    req->body[want] = 0;
    req->body_len = want;
    return true;
}

static inline void *httpd_conn_main(void *arg)
{
    httpd_conn_t *c = arg;
    httpd_t *s = c->srv;
    httpd_req_t *req = calloc(1, sizeof *req);
    if (httpd_read_request(c->fd, req)) {
        httpd_resp_t resp;
        memset(&resp, 0, sizeof resp);
        resp.status = 200;
        resp.close_after = HTTPD_NO_CLOSE;
        pthread_mutex_lock(&s->lock);
        s->n_requests++;
        s->handler(s->ctx, req, &resp);
        pthread_mutex_unlock(&s->lock);
        httpd_sleep_ms(s, resp.hang_ms);
        if (!s->stopping) {
            char head[8192];
            int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nConnection: close\r\n",
                             resp.status, httpd_reason(resp.status));
            if (!resp.no_length)
                n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n",
                              resp.body_len);
            snprintf(head + n, sizeof head - (size_t)n, "%s\r\n", resp.headers);
            bool ok = httpd_send_all(c->fd, head, strlen(head));
            size_t sent = 0, chunk = resp.chunk_size ? resp.chunk_size : 16384;
            size_t limit = resp.close_after < resp.body_len ? resp.close_after : resp.body_len;
            if (strcmp(req->method, "HEAD") == 0) limit = 0;
            while (ok && sent < limit && !s->stopping) {
                size_t k = limit - sent < chunk ? limit - sent : chunk;
                ok = httpd_send_all(c->fd, resp.body + sent, k);
                sent += k;
                if (resp.chunk_delay_ms && sent < limit) httpd_sleep_ms(s, resp.chunk_delay_ms);
            }
        }
        free(resp.owned);
    }
    free(req->body);
    free(req);
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);
    return NULL;
}

static inline void *httpd_accept_main(void *arg)
{
    httpd_t *s = arg;
    while (!s->stopping) {
        struct pollfd p = {s->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        httpd_conn_t *c = calloc(1, sizeof *c);
        c->fd = fd;
        c->srv = s;
        pthread_mutex_lock(&s->lock);
        c->next = s->conns;
        s->conns = c;
        pthread_mutex_unlock(&s->lock);
        if (pthread_create(&c->thread, NULL, httpd_conn_main, c) != 0) {
            close(fd);
            c->fd = -1;
            c->thread = pthread_self(); /* marks "no thread" for httpd_stop */
        }
    }
    return NULL;
}

static inline httpd_t *httpd_start(httpd_handler_fn handler, void *ctx)
{
    httpd_t *s = calloc(1, sizeof *s);
    s->handler = handler;
    s->ctx = ctx;
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t al = sizeof a;
    if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->listen_fd, 64) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&a, &al) != 0) {
        perror("httpd_start");
        exit(2);
    }
    s->port = ntohs(a.sin_port);
    pthread_create(&s->accept_thread, NULL, httpd_accept_main, s);
    return s;
}

static inline int httpd_port(const httpd_t *s)
{
    return s->port;
}

/* malloc'd "http://127.0.0.1:PORT" + path. */
static inline char *httpd_url(const httpd_t *s, const char *path)
{
    size_t n = strlen(path) + 40;
    char *u = malloc(n);
    snprintf(u, n, "http://127.0.0.1:%d%s", s->port, path);
    return u;
}

static inline int httpd_request_count(httpd_t *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->n_requests;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Stops accepting, cuts hangs and slow bodies short, joins every thread, frees s. */
static inline void httpd_stop(httpd_t *s)
{
    if (!s) return;
    s->stopping = 1;
    pthread_join(s->accept_thread, NULL);
    close(s->listen_fd);
    httpd_conn_t *c = s->conns;
    while (c) {
        httpd_conn_t *next = c->next;
        if (!pthread_equal(c->thread, pthread_self())) pthread_join(c->thread, NULL);
        free(c);
        c = next;
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

#endif
