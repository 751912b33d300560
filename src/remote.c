/* remote.c — OpenAI-compatible and Ollama embedding servers over HTTP. Contract in remote.h. */
#include "remote.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cli.h"
#include "log.h"

#define MAX_RESPONSE_BYTES (256u << 20)
#define RETRY_AFTER_CAP_S 30
#define BACKOFF_CAP_MS 8000

typedef enum { PROVIDER_OPENAI, PROVIDER_OLLAMA } provider_t;

struct remote_embedder {
    provider_t provider;
    char *endpoint, *model, *key_env, *query_prompt, *document_prompt;
    char *auth_header; /* "Authorization: Bearer ..." or NULL; wiped on free */
    int batch_size, max_retries, backoff_ms, dim;
    long timeout_s;
    CURL *curl;
    struct curl_slist *headers;
    pthread_mutex_t lock;
    unsigned seed;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *opt_dup(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

/* base + the provider's path, unless base already ends with it. */
static char *make_endpoint(provider_t p, const char *base)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    const char *full = p == PROVIDER_OPENAI ? "/v1/embeddings" : "/api/embed";
    const char *tails[] = {full, p == PROVIDER_OPENAI ? "/v1" : "/api"};
    for (size_t i = 0; i < ARRAY_LEN(tails); i++) {
        size_t k = strlen(tails[i]);
        if (n >= k && strncmp(base + n - k, tails[i], k) == 0)
            return xasprintf("%.*s%s", (int)(n - k), base, full);
    }
    return xasprintf("%.*s%s", (int)n, base, full);
}

remote_embedder_t *remote_open(const remote_opts_t *o, err_t *err)
{
    provider_t p;
    if (!o->provider || strcasecmp(o->provider, "openai") == 0)
        p = PROVIDER_OPENAI;
    else if (strcasecmp(o->provider, "ollama") == 0)
        p = PROVIDER_OLLAMA;
    else {
        err_set(err, "unknown embeddings.provider '%s': use \"local\", \"openai\" or \"ollama\"",
                o->provider);
        return NULL;
    }
    if (!o->model || !*o->model) {
        err_set(err, "embeddings.model is empty: name the model the %s server should use",
                p == PROVIDER_OPENAI ? "OpenAI-compatible" : "Ollama");
        return NULL;
    }
    const char *base = o->url && *o->url      ? o->url
                       : p == PROVIDER_OPENAI ? "https://api.openai.com"
                                              : "http://localhost:11434";
    if (strncasecmp(base, "http://", 7) != 0 && strncasecmp(base, "https://", 8) != 0) {
        err_set(err, "embeddings.url '%s' is not an http:// or https:// URL", base);
        return NULL;
    }
    const char *key = NULL;
    if (o->api_key_env && *o->api_key_env) {
        key = getenv(o->api_key_env);
        if (!key || !*key) {
            err_set(err,
                    "embeddings.api_key_env names the environment variable %s, but it is %s. "
                    "Export the API key in it (export %s=...), or remove embeddings.api_key_env "
                    "for a server that needs no key",
                    o->api_key_env, key ? "empty" : "not set", o->api_key_env);
            return NULL;
        }
    }
    remote_embedder_t *r = xcalloc(1, sizeof *r);
    r->provider = p;
    r->endpoint = make_endpoint(p, base);
    r->model = xstrdup(o->model);
    r->key_env = opt_dup(o->api_key_env);
    r->query_prompt = opt_dup(o->query_prompt);
    r->document_prompt = opt_dup(o->document_prompt);
    r->batch_size = o->batch_size > 0 ? o->batch_size : 64;
    r->max_retries = o->max_retries > 0 ? o->max_retries : o->max_retries < 0 ? 0 : 4;
    r->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 500;
    r->timeout_s = o->timeout_s > 0 ? o->timeout_s : 60;
    r->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)r;
    pthread_mutex_init(&r->lock, NULL);
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    r->headers = curl_slist_append(r->headers, "Accept: application/json");
    r->headers = curl_slist_append(r->headers, "Expect:"); /* no 100-continue round trip */
    if (key) {
        r->auth_header = xasprintf("Authorization: Bearer %s", key);
        r->headers = curl_slist_append(r->headers, r->auth_header);
    }
    return r;
}

void remote_free(remote_embedder_t *r)
{
    if (!r) return;
    if (r->curl) curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->headers);
    if (r->auth_header) {
        volatile char *p = r->auth_header;
        while (*p)
            *p++ = 0;
        free(r->auth_header);
    }
    pthread_mutex_destroy(&r->lock);
    free(r->endpoint);
    free(r->model);
    free(r->key_env);
    free(r->query_prompt);
    free(r->document_prompt);
    free(r);
}

int remote_dim(const remote_embedder_t *r)
{
    return r->dim;
}

const char *remote_endpoint(const remote_embedder_t *r)
{
    return r->endpoint;
}

/* ---- request body --------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (!len || len > n || s[0] > 0xF4) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
    if (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    return len;
}

/* Appends the JSON string escape of text (invalid UTF-8 becomes U+FFFD), no quotes. */
static void json_escape(sbuf_t *b, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            sbuf_putc(b, '\\');
            sbuf_putc(b, (char)c);
            i++;
        } else if (c < 0x20) {
            const char *esc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (esc)
                sbuf_puts(b, esc);
            else
                sbuf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t k = utf8_len(s + i, n - i);
            if (k)
                sbuf_append(b, text + i, k);
            else
                sbuf_puts(b, "\\ufffd");
            i += k ? k : 1;
        }
    }
}

static char *build_body(const remote_embedder_t *r, const char *const *texts, size_t n,
                        bool is_query)
{
    const char *prompt = is_query ? r->query_prompt : r->document_prompt;
    sbuf_t b = {0};
    sbuf_puts(&b, "{\"model\":\"");
    json_escape(&b, r->model);
    sbuf_puts(&b, "\",\"input\":[");
    for (size_t i = 0; i < n; i++) {
        sbuf_puts(&b, i ? ",\"" : "\"");
        if (prompt) json_escape(&b, prompt);
        json_escape(&b, texts[i] ? texts[i] : "");
        sbuf_putc(&b, '"');
    }
    sbuf_puts(&b, "]}");
    return sbuf_take(&b);
}

/* ---- HTTP with retries ---------------------------------------------------------------- */

typedef struct {
    sbuf_t body;
    bool too_big;
    long retry_after_s; /* -1 = none */
} reply_t;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    reply_t *rep = ud;
    size_t n = size * nmemb;
    if (rep->body.len + n > MAX_RESPONSE_BYTES) {
        rep->too_big = true;
        return 0;
    }
    sbuf_append(&rep->body, p, n);
    return n;
}

static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
    reply_t *rep = ud;
    size_t n = size * nitems;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) rep->retry_after_s = -1;
    if (n > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        char tmp[32];
        size_t k = EC_MIN(n - 12, sizeof tmp - 1);
        memcpy(tmp, p + 12, k);
        tmp[k] = 0;
        char *end;
        long v = strtol(tmp, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n')
            end++;
        if (end != tmp && !*end && v >= 0) rep->retry_after_s = v;
    }
    return n;
}

/* The server's error message from a JSON or text body, made printable and short. */
static void server_message(const char *body, char *out, size_t cap)
{
    out[0] = 0;
    if (!body || !*body) return;
    const char *msg = body;
    cJSON *j = cJSON_Parse(body);
    cJSON *e = j ? cJSON_GetObjectItem(j, "error") : NULL;
    if (cJSON_IsString(e))
        msg = e->valuestring;
    else if (cJSON_IsString(cJSON_GetObjectItem(e, "message")))
        msg = cJSON_GetObjectItem(e, "message")->valuestring;
    else if (j && cJSON_IsString(cJSON_GetObjectItem(j, "message")))
        msg = cJSON_GetObjectItem(j, "message")->valuestring;
    size_t k = 0;
    for (const char *p = msg; *p && k + 4 < cap && k < 240; p++)
        out[k++] = (unsigned char)*p < 0x20 ? ' ' : *p;
    if (*msg && strlen(msg) > k)
        memcpy(out + k, "...", 4);
    else
        out[k] = 0;
    cJSON_Delete(j);
}

static bool retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static long backoff_delay(remote_embedder_t *r, int attempt, long retry_after_s)
{
    if (retry_after_s >= 0) return EC_MIN(retry_after_s, RETRY_AFTER_CAP_S) * 1000L;
    long ms = r->backoff_ms;
    for (int i = 0; i < attempt && ms < BACKOFF_CAP_MS; i++)
        ms *= 2;
    ms = EC_MIN(ms, BACKOFF_CAP_MS);
    return ms * 3 / 4 + (long)(rand_r(&r->seed) % (unsigned)(ms / 2 + 1)); /* ±25% */
}

static void http_error(remote_embedder_t *r, long status, const char *msg, int attempts, err_t *err)
{
    const char *hint = "";
    if (status == 401 || status == 403)
        hint = r->key_env ? " (check the API key in the variable embeddings.api_key_env names)"
                          : " (the server wants an API key: set embeddings.api_key_env to the "
                            "name of the variable that holds it)";
    else if (status == 404)
        hint = r->provider == PROVIDER_OLLAMA
                   ? " (check embeddings.url, and that the model is pulled: ollama pull <model>)"
                   : " (check embeddings.url and embeddings.model)";
    char tries[48] = "";
    if (attempts > 1) snprintf(tries, sizeof tries, " after %d attempts", attempts);
    err_set(err, "the embedding server %s answered HTTP %ld%s%s%s%s", r->endpoint, status, tries,
            *msg ? ": " : "", msg, hint);
}

/* POSTs body; on success rep->body holds the answer. */
static int post(remote_embedder_t *r, const char *body, reply_t *rep, err_t *err)
{
    pthread_once(&curl_once, curl_init_once);
    if (!r->curl && !(r->curl = curl_easy_init()))
        return err_set(err, "cannot start an HTTP client (libcurl)");
    CURL *c = r->curl;
    char errbuf[CURL_ERROR_SIZE];
    for (int attempt = 0;; attempt++) {
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, r->endpoint);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        curl_easy_setopt(c, CURLOPT_USERAGENT, "embecode/" EMBECODE_VERSION);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, r->timeout_s);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, EC_MIN(r->timeout_s, 10L));
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, rep);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, rep);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        errbuf[0] = 0;
        sbuf_reset(&rep->body);
        rep->too_big = false;
        rep->retry_after_s = -1;
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        bool last = attempt >= r->max_retries;
        if (rep->too_big)
            return err_set(err,
                           "the embedding server %s sent more than %u MiB; lower the batch size",
                           r->endpoint, MAX_RESPONSE_BYTES >> 20);
        if (rc != CURLE_OK) {
            if (!retryable_curl(rc) || last) {
                const char *what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
                return err_set(err,
                               "cannot reach the embedding server %s: %s%s%s. Is it running? "
                               "Check embeddings.url",
                               r->endpoint, rc == CURLE_OPERATION_TIMEDOUT ? "timed out: " : "",
                               what, attempt ? " (after retries)" : "");
            }
            log_warn("embedding server %s: %s; retrying", r->endpoint,
                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
        } else if (status >= 200 && status < 300) {
            return 0;
        } else {
            char msg[256];
            server_message(rep->body.data, msg, sizeof msg);
            if ((status != 429 && status < 500) || last) {
                http_error(r, status, msg, attempt + 1, err);
                return -1;
            }
            log_warn("embedding server %s answered HTTP %ld; retrying", r->endpoint, status);
        }
        sleep_ms(backoff_delay(r, attempt, rep->retry_after_s));
    }
}

/* ---- response ------------------------------------------------------------------------- */

/* Copies one embedding (a JSON array of numbers) into dst; learns the width when dim is 0. */
static int take_vector(remote_embedder_t *r, const cJSON *arr, size_t i, float *dst, int *dim,
                       err_t *err)
{
    if (!cJSON_IsArray(arr))
        return err_set(err, "malformed answer from %s: embedding %zu is not an array of numbers",
                       r->endpoint, i);
    int n = cJSON_GetArraySize(arr);
    if (*dim == 0) {
        if (n <= 0 || n > 65536)
            return err_set(err, "malformed answer from %s: embedding %zu has %d numbers",
                           r->endpoint, i, n);
        *dim = n;
        return 0; /* width learned; the caller copies on the next pass */
    }
    if (n != *dim)
        return err_set(err,
                       "malformed answer from %s: embedding %zu has %d numbers, expected %d "
                       "(did the model change? re-index after changing it)",
                       r->endpoint, i, n, *dim);
    int k = 0;
    double ss = 0;
    for (const cJSON *v = arr->child; v; v = v->next, k++) {
        if (!cJSON_IsNumber(v))
            return err_set(err, "malformed answer from %s: embedding %zu holds a non-number",
                           r->endpoint, i);
        dst[k] = (float)v->valuedouble;
        ss += (double)dst[k] * dst[k];
    }
    if (ss > 0) {
        float inv = (float)(1.0 / sqrt(ss));
        for (int j = 0; j < n; j++)
            dst[j] *= inv;
    }
    return 0;
}

/* The n embedding arrays of an answer, in input order, into vecs[]. */
static int answer_vectors(remote_embedder_t *r, cJSON *root, size_t n, const cJSON **vecs,
                          err_t *err)
{
    cJSON *list = cJSON_GetObjectItem(root, r->provider == PROVIDER_OPENAI ? "data" : "embeddings");
    if (!cJSON_IsArray(list))
        return err_set(err, "malformed answer from %s: no \"%s\" array", r->endpoint,
                       r->provider == PROVIDER_OPENAI ? "data" : "embeddings");
    size_t got = (size_t)cJSON_GetArraySize(list);
    if (got != n)
        return err_set(err, "malformed answer from %s: expected %zu embeddings, got %zu",
                       r->endpoint, n, got);
    bool *seen = xcalloc(n, sizeof *seen);
    size_t pos = 0;
    int rc = 0;
    for (cJSON *item = list->child; item && rc == 0; item = item->next, pos++) {
        if (r->provider == PROVIDER_OLLAMA) {
            vecs[pos] = item;
            continue;
        }
        cJSON *idx = cJSON_GetObjectItem(item, "index");
        double d = cJSON_IsNumber(idx) ? idx->valuedouble : (double)pos;
        if (d < 0 || d >= (double)n || d != floor(d) || seen[(size_t)d]) {
            rc = err_set(err, "malformed answer from %s: bad or repeated index in data[%zu]",
                         r->endpoint, pos);
            break;
        }
        seen[(size_t)d] = true;
        vecs[(size_t)d] = cJSON_GetObjectItem(item, "embedding"); /* NULL: reported later */
    }
    free(seen);
    return rc;
}

/* One request for n texts; writes n vectors at out (or only learns the width when out is
 * NULL). */
static int embed_batch(remote_embedder_t *r, const char *const *texts, size_t n, bool is_query,
                       float *out, err_t *err)
{
    char *body = build_body(r, texts, n, is_query);
    reply_t rep = {.retry_after_s = -1};
    int rc = post(r, body, &rep, err);
    free(body);
    if (rc != 0) {
        sbuf_free(&rep.body);
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(rep.body.data ? rep.body.data : "", rep.body.len);
    if (!cJSON_IsObject(root)) {
        char start[64];
        snprintf(start, sizeof start, "%.60s", rep.body.data ? rep.body.data : "");
        for (char *p = start; *p; p++)
            if ((unsigned char)*p < 0x20) *p = ' ';
        err_set(err, "malformed answer from %s: not a JSON object (it starts with \"%s\")",
                r->endpoint, start);
        cJSON_Delete(root);
        sbuf_free(&rep.body);
        return -1;
    }
    const cJSON **vecs = xcalloc(n, sizeof *vecs);
    rc = answer_vectors(r, root, n, vecs, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int dim = out ? r->dim : 0;
        rc = take_vector(r, vecs[i], i, out ? out + i * (size_t)r->dim : NULL, &dim, err);
        if (!out && rc == 0) {
            r->dim = dim;
            break;
        }
    }
    free(vecs);
    cJSON_Delete(root);
    sbuf_free(&rep.body);
    return rc;
}

int remote_probe(remote_embedder_t *r, err_t *err)
{
    const char *text = "dimension probe";
    pthread_mutex_lock(&r->lock);
    int rc = embed_batch(r, &text, 1, false, NULL, err);
    pthread_mutex_unlock(&r->lock);
    return rc == 0 ? r->dim : -1;
}

int remote_embed(remote_embedder_t *r, const char *const *texts, size_t n, bool is_query,
                 float *out, err_t *err)
{
    if (n == 0) return 0;
    if (!out) { /* only learn the width, from the first text */
        pthread_mutex_lock(&r->lock);
        int rc = embed_batch(r, texts, 1, is_query, NULL, err);
        pthread_mutex_unlock(&r->lock);
        return rc;
    }
    if (r->dim <= 0)
        return err_set(err, "remote_embed: the vector width is not known yet (call remote_probe, "
                            "or remote_embed with out = NULL, first)");
    pthread_mutex_lock(&r->lock);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += (size_t)r->batch_size) {
        size_t k = EC_MIN((size_t)r->batch_size, n - i);
        rc = embed_batch(r, texts + i, k, is_query, out + i * (size_t)r->dim, err);
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}
