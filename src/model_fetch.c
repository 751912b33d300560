/* model_fetch.c — downloading model files (model.h: model_download, model_file_sha256,
 * model_progress_bar): resumable, verified, one process at a time per file. */
#include "model_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h" /* EMBECODE_VERSION */
#include "hash.h"
#include "log.h"

#define LOW_SPEED_BYTES 1024L

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}


int model_file_sha256(const char *path, char hex[65], err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(err, "cannot read %s: %s", path, strerror(errno));
    hash_sha256_t h;
    hash_sha256_init(&h);
    size_t cap = 1 << 20;
    uint8_t *buf = xmalloc(cap);
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return err_set(err, "cannot read %s: %s", path, strerror(e));
        }
        if (r == 0) break;
        hash_sha256_update(&h, buf, (size_t)r);
    }
    free(buf);
    close(fd);
    uint8_t digest[HASH_SHA256_LEN];
    hash_sha256_final(&h, digest);
    hash_to_hex(digest, sizeof digest, hex);
    return 0;
}

void model_progress_bar(void *ctx, uint64_t done, uint64_t total)
{
    model_bar_t *b = ctx;
    double now = time_mono_ms();
    if (b->start_ms == 0) {
        b->start_ms = now;
        b->start_done = done;
    }
    bool finished = total && done >= total;
    if (b->finished || (!finished && now - b->last_ms < 100)) return;
    b->last_ms = now;
    char d[32], t[32], bar[32];
    model_fmt_size(done, d, sizeof d);
    model_fmt_size(total, t, sizeof t);
    int width = 24, filled = total ? (int)((double)done / (double)total * width) : 0;
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[width] = 0;
    double secs = (now - b->start_ms) / 1000.0;
    double rate = secs > 0.2 ? (double)(done - b->start_done) / secs / 1e6 : 0;
    if (total)
        fprintf(stderr, "\r\033[K%s [%s] %3d%% %s / %s  %.1f MB/s", b->label ? b->label : "", bar,
                (int)(100.0 * (double)done / (double)total), d, t, rate);
    else
        fprintf(stderr, "\r\033[K%s %s  %.1f MB/s", b->label ? b->label : "", d, rate);
    if (finished) {
        fputc('\n', stderr);
        b->finished = true;
    }
    fflush(stderr);
}

/* ---- download ------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* State of one transfer attempt into the .part file. */
typedef struct {
    int fd;
    uint64_t offset; /* bytes already in the .part file when this response's body started */
    uint64_t got;    /* body bytes written by this attempt */
    uint64_t total;  /* size of the whole file when known */
    long status;     /* of the response being received */
    bool has_range, has_length, restarted;
    uint64_t range_start, range_total, length;
    char etag[96];     /* first X-Linked-Etag seen (the redirect from Hugging Face has it) */
    char errbody[300]; /* start of an error response's body */
    size_t errbody_len;
    char fail[300]; /* why a callback stopped the transfer */
    bool bad_range;
    model_progress_fn progress;
    void *progress_ctx;
} dl_t;

static bool header_is(const char *line, size_t n, const char *name, const char **value)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') return false;
    *value = line + k + 1;
    return true;
}

/* Called once the headers of a 200/206 response are complete: decides whether the body
 * continues the .part file or replaces it. Returns false to stop the transfer. */
static bool dl_headers_done(dl_t *d)
{
    if (d->status == 206) {
        if (!d->has_range || d->range_start != d->offset) {
            d->bad_range = true;
            snprintf(d->fail, sizeof d->fail,
                     "the server resumed at byte %" PRIu64 " instead of %" PRIu64, d->range_start,
                     d->offset);
            return false;
        }
        d->total = d->range_total;
    } else {
        if (d->offset > 0) {
            log_info("the server does not resume downloads; starting again from the beginning");
            if (ftruncate(d->fd, 0) != 0) {
                snprintf(d->fail, sizeof d->fail, "cannot truncate the partial file: %s",
                         strerror(errno));
                return false;
            }
            d->offset = 0;
            d->restarted = true;
        }
        d->total = d->has_length ? d->length : 0;
    }
    return true;
}

static size_t dl_header(char *buf, size_t size, size_t nitems, void *ud)
{
    dl_t *d = ud;
    size_t n = size * nitems;
    const char *v;
    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        d->status = 0;
        const char *sp = memchr(buf, ' ', n);
        if (sp) d->status = strtol(sp + 1, NULL, 10);
        d->has_range = d->has_length = false;
        return n;
    }
    if (n <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        if ((d->status == 200 || d->status == 206) && !dl_headers_done(d)) return 0;
        return n;
    }
    char line[512];
    size_t k = EC_MIN(n, sizeof line - 1);
    memcpy(line, buf, k);
    while (k > 0 && (line[k - 1] == '\r' || line[k - 1] == '\n' || line[k - 1] == ' '))
        k--;
    line[k] = 0;
    if (header_is(line, k, "x-linked-etag", &v) && !d->etag[0]) {
        while (*v == ' ' || *v == '\t')
            v++;
        if (strncmp(v, "W/", 2) == 0) v += 2;
        if (*v == '"') v++;
        snprintf(d->etag, sizeof d->etag, "%.95s", v);
        char *q = strchr(d->etag, '"');
        if (q) *q = 0;
    } else if (header_is(line, k, "content-length", &v)) {
        d->length = strtoull(v, NULL, 10);
        d->has_length = true;
    } else if (header_is(line, k, "content-range", &v)) {
        unsigned long long a = 0, b = 0, t = 0;
        if (sscanf(v, " bytes %llu-%llu/%llu", &a, &b, &t) >= 2) {
            d->range_start = a;
            d->range_total = t;
            d->has_range = true;
        }
    }
    return n;
}

static size_t dl_write(char *buf, size_t size, size_t nmemb, void *ud)
{
    dl_t *d = ud;
    size_t n = size * nmemb;
    if (d->status != 200 && d->status != 206) {
        size_t k = EC_MIN(n, sizeof d->errbody - 1 - d->errbody_len);
        memcpy(d->errbody + d->errbody_len, buf, k);
        d->errbody_len += k;
        d->errbody[d->errbody_len] = 0;
        return n;
    }
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(d->fd, buf + done, n - done, (off_t)(d->offset + d->got));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(d->fail, sizeof d->fail, "cannot write the partial file: %s",
                     strerror(w < 0 ? errno : ENOSPC));
            return 0;
        }
        done += (size_t)w;
        d->got += (uint64_t)w;
    }
    if (d->progress) d->progress(d->progress_ctx, d->offset + d->got, d->total);
    return n;
}

/* The what-went-wrong part of a failed transfer, and whether it looks like being offline. */
static const char *curl_reason(CURLcode rc, const char *errbuf, long low_speed_s, bool *offline,
                               char *buf, size_t cap)
{
    *offline = false;
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        *offline = true;
        return "Could not resolve host";
    case CURLE_COULDNT_RESOLVE_PROXY:
        *offline = true;
        return "Could not resolve proxy";
    case CURLE_COULDNT_CONNECT:
        *offline = true;
        return "Could not connect";
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(buf, cap, "timed out (%s; limit: under 1 KiB/s for %ld s)",
                 errbuf[0] ? errbuf : "no data", low_speed_s);
        return buf;
    default:
        snprintf(buf, cap, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return buf;
    }
}

/* One HTTP transfer into fd (appending at its current size). Returns the curl code. */
static CURLcode dl_transfer(const char *url, dl_t *d, const model_fetch_opts_t *o, long low_speed,
                            char errbuf[CURL_ERROR_SIZE], long *status)
{
    CURL *c = curl_easy_init();
    if (!c) return CURLE_FAILED_INIT;
    char range[32];
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "embecode/" EMBECODE_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
                     o->connect_timeout_s > 0 ? o->connect_timeout_s : 20L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, low_speed);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, dl_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, d);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
    if (d->offset > 0) {
        snprintf(range, sizeof range, "%" PRIu64 "-", d->offset);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    errbuf[0] = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    return rc;
}

static void fsync_dir_of(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = 0;
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

typedef enum { DL_DONE, DL_RETRY, DL_FAIL } dl_step_t;

/* Checks the finished .part file against the expected checksum and renames it into place. */
static dl_step_t dl_finish(const char *name, const char *part, const char *dest,
                           const char *expected, dl_t *d, bool resumed, bool *retried_full,
                           err_t *err)
{
    char want[96] = "";
    if (expected)
        snprintf(want, sizeof want, "%s", expected);
    else if (model_is_sha256_hex(d->etag))
        snprintf(want, sizeof want, "%s", d->etag);
    if (!want[0]) {
        err_set(err,
                "cannot verify %s: no SHA-256 is recorded for it and the server did not publish "
                "one (X-Linked-Etag). The data is kept in %s but will not be used; check it "
                "yourself and set embeddings.model to its path, or add #sha256=<hex> to the URL",
                name, part);
        return DL_FAIL;
    }
    lower(want);
    char got[HASH_SHA256_HEX_LEN];
    if (fsync(d->fd) != 0) {
        err_set(err, "cannot write %s: %s", part, strerror(errno));
        return DL_FAIL;
    }
    if (model_file_sha256(part, got, err) != 0) return DL_FAIL;
    if (strcmp(got, want) != 0) {
        if (resumed && !*retried_full) { /* the caller empties the .part file */
            log_warn("%s: checksum mismatch after resuming; downloading it again from the start",
                     name);
            *retried_full = true;
            return DL_RETRY;
        }
        unlink(part);
        err_set(err,
                "checksum mismatch for %s: expected SHA-256 %s, got %s. The download was "
                "deleted; try again, and if it happens again the file on the server has changed "
                "(download it yourself and set embeddings.model to its path)",
                name, want, got);
        return DL_FAIL;
    }
    if (rename(part, dest) != 0) {
        err_set(err, "cannot rename %s to %s: %s", part, dest, strerror(errno));
        return DL_FAIL;
    }
    fsync_dir_of(dest);
    return DL_DONE;
}

static void offline_message(err_t *err, const char *name, const char *url, const char *reason,
                            const char *pull_name)
{
    err_set(err,
            "cannot download %s from %s: %s (are you offline?). Download the file yourself and "
            "set embeddings.model to its path, or run `embecode model pull%s%s` when online",
            name, url, reason, pull_name ? " " : "", pull_name ? pull_name : "");
}

/* The attempts of one download, with the lock held and the .part file open. */
static int dl_attempts(const char *name, const char *pull_name, const char *url, const char *part,
                       const char *dest, const char *expected, int fd, const model_fetch_opts_t *o,
                       err_t *err)
{
    long low_speed = o->low_speed_time_s > 0 ? o->low_speed_time_s : 30L;
    int max_attempts = o->max_attempts > 0 ? o->max_attempts : 3;
    bool resumed = false, retried_full = false;
    for (int attempt = 1;; attempt++) {
        dl_t d = {.fd = fd, .progress = o->progress, .progress_ctx = o->progress_ctx};
        struct stat st;
        d.offset = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        if (d.offset > 0) {
            log_info("resuming %s at %" PRIu64 " bytes", name, d.offset);
            resumed = true;
        }
        char errbuf[CURL_ERROR_SIZE], why[400];
        long status = 0;
        CURLcode rc = dl_transfer(url, &d, o, low_speed, errbuf, &status);
        bool more = attempt < max_attempts;
        if (d.bad_range && more) {
            log_warn("%s: %s; starting again from the beginning", name, d.fail);
            if (ftruncate(fd, 0) != 0) return err_set(err, "cannot truncate %s", part);
            continue;
        }
        if (d.fail[0]) return err_set(err, "cannot download %s from %s: %s", name, url, d.fail);
        if (rc != CURLE_OK) {
            bool offline;
            const char *reason = curl_reason(rc, errbuf, low_speed, &offline, why, sizeof why);
            if (offline) {
                offline_message(err, name, url, reason, pull_name);
                return -1;
            }
            if (d.got > 0 && more) {
                log_warn("%s: transfer broke off (%s); resuming", name, reason);
                continue;
            }
            return err_set(err,
                           "cannot download %s from %s: %s. The partial download is kept and "
                           "will be resumed next time",
                           name, url, reason);
        }
        if (status != 200 && status != 206 && status != 416) {
            if ((status == 429 || status >= 500) && more) {
                log_warn("%s: the server answered %ld; trying again", name, status);
                sleep((unsigned)attempt);
                continue;
            }
            for (char *p = d.errbody; *p; p++)
                if (*p == '\n' || *p == '\r') *p = ' ';
            return err_set(err, "cannot download %s from %s: the server answered HTTP %ld%s%s%s",
                           name, url, status, d.errbody[0] ? " (" : "", d.errbody,
                           d.errbody[0] ? ")" : "");
        }
        if (d.restarted) resumed = false;
        dl_step_t step = dl_finish(name, part, dest, expected, &d, resumed, &retried_full, err);
        if (step == DL_DONE) return 0;
        if (step == DL_FAIL) return -1;
        if (ftruncate(fd, 0) != 0) return err_set(err, "cannot truncate %s", part);
        resumed = false;
    }
}

int model_download_named(const char *name, const char *pull_name, const char *url,
                          const char *dest, const char *sha, const model_fetch_opts_t *o,
                          err_t *err)
{
    model_fetch_opts_t defaults = {0};
    if (!o) o = &defaults;
    const char *expected = o->expected_sha256 ? o->expected_sha256 : sha;
    if (expected && !model_is_sha256_hex(expected))
        return err_set(err, "bad SHA-256 for %s: '%s' is not 64 hex digits", name, expected);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return err_set(err, "cannot download %s: '%s' is not an http(s) URL", name, url);
    char *dir = xstrdup(dest);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (mkdir_p(dir, err) != 0) {
            free(dir);
            return -1;
        }
    }
    free(dir);
    pthread_once(&curl_once, curl_init_once);

    char *lock = xasprintf("%s.lock", dest), *part = xasprintf("%s.part", dest);
    int rc = -1, fd = -1;
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) {
        err_set(err, "cannot create %s: %s", lock, strerror(errno));
        goto out;
    }
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        log_info("another embecode process is downloading %s; waiting for it", name);
        while (flock(lfd, LOCK_EX) != 0 && errno == EINTR) {
        }
    }
    if (access(dest, F_OK) == 0) {
        rc = 0; /* done meanwhile (or before) */
        goto out;
    }
    fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_set(err, "cannot create %s: %s", part, strerror(errno));
        goto out;
    }
    log_info("downloading %s from %s", name, url);
    model_fetch_opts_t with_bar = *o;
    model_bar_t bar = {.label = name};
    if (!o->progress && !o->quiet && isatty(STDERR_FILENO)) {
        with_bar.progress = model_progress_bar;
        with_bar.progress_ctx = &bar;
    }
    rc = dl_attempts(name, pull_name, url, part, dest, expected, fd, &with_bar, err);
    if (bar.start_ms > 0 && !bar.finished) fputc('\n', stderr); /* end a broken-off bar */
    struct stat st;
    if (rc != 0 && fstat(fd, &st) == 0 && st.st_size == 0) unlink(part); /* nothing to resume */
out:
    if (fd >= 0) close(fd);
    if (lfd >= 0) close(lfd); /* releases the lock; the lock file stays (see model.h) */
    free(lock);
    free(part);
    return rc;
}

int model_download(const char *url, const char *dest_path, const char *sha256_or_null,
                   const model_fetch_opts_t *o, err_t *err)
{
    const char *base = strrchr(dest_path, '/');
    return model_download_named(base ? base + 1 : dest_path, NULL, url, dest_path, sha256_or_null, o,
                          err);
}
