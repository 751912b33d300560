/* Tests for model.c: presets, resolving embeddings.model, and downloads against a local
 * HTTP server (httpd_test.h) on 127.0.0.1 — nothing here leaves the machine. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "hash.h"
#include "httpd_test.h"
#include "log.h"
#include "model.h"
#include "t.h"
#include "util.h"

#define DATA_LEN 300000

static unsigned char data[DATA_LEN];
static char data_sha[HASH_SHA256_HEX_LEN];

/* What the test server does; reset by srv_reset() before each test. */
typedef struct {
    int requests;
    char ranges[8][64];       /* Range header of each request ("" when none) */
    char targets[8][512];     /* request target of each request */
    size_t close_first_after; /* first request: close after this many body bytes (0 = no) */
    bool ignore_range;
    int status; /* answer this status with a small body instead of the data */
    int hang_ms;
    const char *linked_etag; /* redirect to /cdn/... and send this X-Linked-Etag */
    int chunk_delay_ms;
    const char *expect_path; /* any other path gets 404 */
} srv_t;

static srv_t srv;

static void srv_reset(void)
{
    memset(&srv, 0, sizeof srv);
}

static void handler(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    srv_t *s = ctx;
    int i = s->requests++;
    char range[64] = "";
    httpd_req_header(req, "Range", range, sizeof range);
    if (i < 8) {
        snprintf(s->ranges[i], sizeof s->ranges[i], "%s", range);
        snprintf(s->targets[i], sizeof s->targets[i], "%.511s", req->target);
    }
    if (s->linked_etag && strncmp(req->target, "/cdn/", 5) != 0) {
        resp->status = 302;
        httpd_resp_header(resp, "Location: /cdn%s", req->target);
        httpd_resp_header(resp, "X-Linked-Etag: \"%s\"", s->linked_etag);
        httpd_resp_header(resp, "X-Linked-Size: %d", DATA_LEN);
        return;
    }
    if (s->expect_path && strcmp(req->target, s->expect_path) != 0) {
        httpd_resp_text(resp, 404, "Entry not found");
        return;
    }
    if (s->status) {
        httpd_resp_text(resp, s->status, "Entry not found");
        return;
    }
    resp->hang_ms = s->hang_ms;
    resp->chunk_delay_ms = s->chunk_delay_ms;
    if (s->ignore_range) {
        resp->body = (const char *)data;
        resp->body_len = DATA_LEN;
    } else {
        httpd_serve_bytes(req, resp, data, DATA_LEN);
    }
    if (i == 0 && s->close_first_after) resp->close_after = s->close_first_after;
}

static model_fetch_opts_t quiet_opts(void)
{
    model_fetch_opts_t o = {0};
    o.quiet = true;
    o.low_speed_time_s = 5;
    o.connect_timeout_s = 5;
    o.allow_download = true;
    return o;
}

/* A fresh folder under the test's temp dir. */
static char *fresh_dir(const char *name)
{
    char *d = path_join(t_tmpdir(), name);
    mkdir(d, 0755);
    return d;
}

static bool file_equals_data(const char *path)
{
    char *buf;
    size_t len;
    if (file_read_all(path, 10 << 20, &buf, &len, NULL) != 0) return false;
    bool same = len == DATA_LEN && memcmp(buf, data, len) == 0;
    free(buf);
    return same;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void write_file(const char *path, const void *p, size_t n)
{
    T_CHECK(file_write_atomic(path, p, n, NULL) == 0);
}

/* ---- presets ---- */

static void test_presets_are_published_gguf_files_with_size_and_checksum_or_null(void)
{
    size_t n;
    const model_preset_t *p = model_presets(&n);
    T_EQ_INT(n, 4);
    T_EQ_STR(p[0].name, MODEL_DEFAULT_NAME);
    const char *want[] = {"nomic-embed-text-v1.5", "bge-small-en-v1.5", "all-minilm-l6-v2",
                          "coderankembed"};
    for (size_t i = 0; i < ARRAY_LEN(want); i++)
        T_CHECK(model_preset_find(want[i]) != NULL);
    for (size_t i = 0; i < n; i++) {
        char url[512];
        snprintf(url, sizeof url, "https://huggingface.co/%s/resolve/main/%s", p[i].repo,
                 p[i].file);
        T_EQ_STR(p[i].url, url);
        T_CHECK(strstr(p[i].file, ".gguf") != NULL);
        T_CHECK(strcasestr(p[i].file, "q8_0") || strcasestr(p[i].file, "f16"));
        T_CHECK(p[i].size > 10000000);
        T_CHECK(p[i].dim == 384 || p[i].dim == 768);
        if (p[i].sha256) {
            T_EQ_INT(strlen(p[i].sha256), 64);
            T_EQ_INT(strspn(p[i].sha256, "0123456789abcdef"), 64);
            T_CHECK(p[i].size_exact);
        }
    }
    T_CHECK(model_preset_find("NOMIC-Embed-Text-v1.5") == &p[0]);
    T_CHECK(model_preset_find("nomic") == NULL);
    T_CHECK(model_preset_find(NULL) == NULL);
}

static void test_hf_endpoint_replaces_the_host_of_preset_urls(void)
{
    const model_preset_t *p = model_preset_find("bge-small-en-v1.5");
    setenv("HF_ENDPOINT", "http://mirror.local:8080/", 1);
    char *u = model_preset_url(p);
    T_EQ_STR(u, "http://mirror.local:8080/CompendiumLabs/bge-small-en-v1.5-gguf/resolve/main/"
                "bge-small-en-v1.5-q8_0.gguf");
    free(u);
    unsetenv("HF_ENDPOINT");
    u = model_preset_url(p);
    T_EQ_STR(u, p->url);
    free(u);
}

static void test_model_dir_is_under_xdg_cache_home(void)
{
    setenv("XDG_CACHE_HOME", "/tmp/xdg-test-cache", 1);
    char *d = model_dir();
    T_EQ_STR(d, "/tmp/xdg-test-cache/embecode/models");
    free(d);
}

/* ---- downloads ---- */

typedef struct {
    uint64_t last_done, last_total;
    int calls;
} progress_t;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress_t *p = ctx;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

static void test_download_writes_verified_file_atomically_and_reports_progress(void)
{
    srv_reset();
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf"), *dir = fresh_dir("ok");
    char *dest = path_join(dir, "m.gguf"), *part = xasprintf("%s.part", dest);
    progress_t prog = {0};
    model_fetch_opts_t o = quiet_opts();
    o.progress = on_progress;
    o.progress_ctx = &prog;
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, data_sha, &o, &err), 0);
    T_CHECK(file_equals_data(dest));
    T_CHECK(!exists(part));
    T_CHECK(prog.calls > 0);
    T_EQ_INT(prog.last_done, DATA_LEN);
    T_EQ_INT(prog.last_total, DATA_LEN);
    T_EQ_INT(srv.requests, 1);
    T_EQ_STR(srv.ranges[0], "");
    /* Already there: no second request. */
    T_EQ_INT(model_download(url, dest, data_sha, &o, &err), 0);
    T_EQ_INT(httpd_request_count(h), 1);
    httpd_stop(h);
    free(url), free(dir), free(dest), free(part);
}

static void test_download_resumes_with_range_after_the_server_closes_mid_body(void)
{
    srv_reset();
    srv.close_first_after = 100000;
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf"), *dir = fresh_dir("resume");
    char *dest = path_join(dir, "m.gguf");
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, data_sha, &o, &err), 0);
    if (err.msg[0]) fprintf(stderr, "  %s\n", err.msg);
    T_CHECK(file_equals_data(dest));
    T_EQ_INT(srv.requests, 2);
    T_EQ_STR(srv.ranges[0], "");
    T_EQ_STR(srv.ranges[1], "bytes=100000-");
    httpd_stop(h);
    free(url), free(dir), free(dest);
}

static void test_download_continues_a_part_file_left_by_an_earlier_run(void)
{
    srv_reset();
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf"), *dir = fresh_dir("earlier");
    char *dest = path_join(dir, "m.gguf"), *part = xasprintf("%s.part", dest);
    write_file(part, data, 1234);
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, data_sha, &o, &err), 0);
    T_CHECK(file_equals_data(dest));
    T_EQ_INT(srv.requests, 1);
    T_EQ_STR(srv.ranges[0], "bytes=1234-");
    httpd_stop(h);
    free(url), free(dir), free(dest), free(part);
}

static void test_download_starts_over_when_the_server_ignores_range(void)
{
    srv_reset();
    srv.ignore_range = true;
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf"), *dir = fresh_dir("norange");
    char *dest = path_join(dir, "m.gguf"), *part = xasprintf("%s.part", dest);
    write_file(part, "garbage garbage garbage", 23);
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, data_sha, &o, &err), 0);
    T_CHECK(file_equals_data(dest));
    T_EQ_STR(srv.ranges[0], "bytes=23-");
    httpd_stop(h);
    free(url), free(dir), free(dest), free(part);
}

static void test_complete_part_file_answered_416_is_verified_and_used(void)
{
    srv_reset();
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf"), *dir = fresh_dir("r416");
    char *dest = path_join(dir, "m.gguf"), *part = xasprintf("%s.part", dest);
    write_file(part, data, DATA_LEN);
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, data_sha, &o, &err), 0);
    T_CHECK(file_equals_data(dest));
    T_CHECK(!exists(part));
    T_EQ_INT(srv.requests, 1);
    httpd_stop(h);
    free(url), free(dir), free(dest), free(part);
}

static void test_a_resumed_file_that_fails_the_checksum_is_fetched_again_whole(void)
{
    srv_reset();
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf"), *dir = fresh_dir("badresume");
    char *dest = path_join(dir, "m.gguf"), *part = xasprintf("%s.part", dest);
    char junk[1000];
    memset(junk, 'j', sizeof junk);
    write_file(part, junk, sizeof junk); /* not the start of the real file */
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, data_sha, &o, &err), 0);
    T_CHECK(file_equals_data(dest));
    T_CHECK(!exists(part));
    T_EQ_INT(srv.requests, 2);
    T_EQ_STR(srv.ranges[0], "bytes=1000-");
    T_EQ_STR(srv.ranges[1], "");
    httpd_stop(h);
    free(url), free(dir), free(dest), free(part);
}

static void test_checksum_mismatch_fails_and_deletes_the_download(void)
{
    srv_reset();
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf"), *dir = fresh_dir("mismatch");
    char *dest = path_join(dir, "m.gguf"), *part = xasprintf("%s.part", dest);
    char other[HASH_SHA256_HEX_LEN];
    hash_sha256_hex("something else", 14, other);
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, other, &o, &err), -1);
    T_CHECK(strstr(err.msg, "checksum mismatch for m.gguf") != NULL);
    T_CHECK(strstr(err.msg, other) != NULL);
    T_CHECK(strstr(err.msg, data_sha) != NULL);
    T_CHECK(!exists(dest));
    T_CHECK(!exists(part));
    httpd_stop(h);
    free(url), free(dir), free(dest), free(part);
}

static void test_404_fails_at_once_naming_the_status(void)
{
    srv_reset();
    srv.status = 404;
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/missing.gguf"), *dir = fresh_dir("e404");
    char *dest = path_join(dir, "missing.gguf");
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, data_sha, &o, &err), -1);
    T_CHECK(strstr(err.msg, "HTTP 404") != NULL);
    T_CHECK(strstr(err.msg, url) != NULL);
    T_CHECK(strstr(err.msg, "Entry not found") != NULL);
    T_EQ_INT(srv.requests, 1);
    T_CHECK(!exists(dest));
    httpd_stop(h);
    free(url), free(dir), free(dest);
}

static void test_a_server_that_hangs_times_out(void)
{
    srv_reset();
    srv.hang_ms = 20000;
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf"), *dir = fresh_dir("hang");
    char *dest = path_join(dir, "m.gguf");
    model_fetch_opts_t o = quiet_opts();
    o.low_speed_time_s = 1;
    err_t err = {{0}};
    double t0 = time_mono_ms();
    T_EQ_INT(model_download(url, dest, data_sha, &o, &err), -1);
    double ms = time_mono_ms() - t0;
    T_CHECK(ms < 8000);
    T_CHECK(strstr(err.msg, "timed out") != NULL);
    T_CHECK(!exists(dest));
    char *part = xasprintf("%s.part", dest);
    T_CHECK(!exists(part)); /* no data came: no partial file left behind */
    free(part);
    httpd_stop(h);
    free(url), free(dir), free(dest);
}

static void test_checksum_from_x_linked_etag_is_used_when_none_is_recorded(void)
{
    srv_reset();
    srv.linked_etag = data_sha;
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/repo/resolve/main/m.gguf"), *dir = fresh_dir("etag");
    char *dest = path_join(dir, "m.gguf"), *dest2 = path_join(dir, "n.gguf");
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, NULL, &o, &err), 0);
    T_CHECK(file_equals_data(dest));
    T_EQ_STR(srv.targets[1], "/cdn/repo/resolve/main/m.gguf");
    /* A published checksum that does not match is a mismatch. */
    char other[HASH_SHA256_HEX_LEN];
    hash_sha256_hex("x", 1, other);
    srv.linked_etag = other;
    T_EQ_INT(model_download(url, dest2, NULL, &o, &err), -1);
    T_CHECK(strstr(err.msg, "checksum mismatch") != NULL);
    T_CHECK(!exists(dest2));
    httpd_stop(h);
    free(url), free(dir), free(dest), free(dest2);
}

static void test_a_file_with_no_known_checksum_is_refused(void)
{
    srv_reset();
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf"), *dir = fresh_dir("nosha");
    char *dest = path_join(dir, "m.gguf");
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, NULL, &o, &err), -1);
    T_CHECK(strstr(err.msg, "cannot verify m.gguf") != NULL);
    T_CHECK(!exists(dest));
    httpd_stop(h);
    free(url), free(dir), free(dest);
}

static void test_connection_refused_reads_as_offline_with_what_to_do(void)
{
    srv_reset();
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf");
    httpd_stop(h); /* nothing listens on that port any more */
    char *dir = fresh_dir("offline"), *dest = path_join(dir, "m.gguf");
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    T_EQ_INT(model_download(url, dest, data_sha, &o, &err), -1);
    T_CHECK(strstr(err.msg, "cannot download m.gguf from http://127.0.0.1") != NULL);
    T_CHECK(strstr(err.msg, "(are you offline?)") != NULL);
    T_CHECK(strstr(err.msg, "set embeddings.model to its path") != NULL);
    T_CHECK(strstr(err.msg, "embecode model pull") != NULL);
    free(url), free(dir), free(dest);
}

typedef struct {
    const char *url, *dest;
    int rc;
} dl_job_t;

static void *dl_thread(void *arg)
{
    dl_job_t *j = arg;
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    j->rc = model_download(j->url, j->dest, data_sha, &o, &err);
    if (j->rc) fprintf(stderr, "  %s\n", err.msg);
    return NULL;
}

static void test_a_second_downloader_waits_for_the_first_and_finds_the_file(void)
{
    srv_reset();
    srv.chunk_delay_ms = 40; /* about 0.7 s for the whole file */
    httpd_t *h = httpd_start(handler, &srv);
    char *url = httpd_url(h, "/m.gguf"), *dir = fresh_dir("lock");
    char *dest = path_join(dir, "m.gguf");
    dl_job_t a = {url, dest, -1}, b = {url, dest, -1};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, dl_thread, &a);
    for (int i = 0; i < 500 && httpd_request_count(h) == 0; i++)
        usleep(10000);
    pthread_create(&tb, NULL, dl_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    T_EQ_INT(a.rc, 0);
    T_EQ_INT(b.rc, 0);
    T_EQ_INT(httpd_request_count(h), 1);
    T_CHECK(file_equals_data(dest));
    httpd_stop(h);
    free(url), free(dir), free(dest);
}

static void test_the_proxy_environment_is_honoured(void)
{
    srv_reset();
    httpd_t *h = httpd_start(handler, &srv);
    char *proxy = httpd_url(h, "");
    setenv("http_proxy", proxy, 1);
    char *dir = fresh_dir("proxy"), *dest = path_join(dir, "m.gguf");
    model_fetch_opts_t o = quiet_opts();
    err_t err = {{0}};
    /* The host does not exist: only a proxy can answer (curl does not resolve it itself). */
    T_EQ_INT(model_download("http://models.example.invalid/m.gguf", dest, data_sha, &o, &err), 0);
    unsetenv("http_proxy");
    T_EQ_STR(srv.targets[0], "http://models.example.invalid/m.gguf");
    T_CHECK(file_equals_data(dest));
    httpd_stop(h);
    free(proxy), free(dir), free(dest);
}

static void test_bad_arguments_give_clear_errors(void)
{
    err_t err = {{0}};
    model_fetch_opts_t o = quiet_opts();
    T_EQ_INT(model_download("ftp://x/m.gguf", "/tmp/embecode-never/m.gguf", data_sha, &o, &err),
             -1);
    T_CHECK(strstr(err.msg, "not an http(s) URL") != NULL);
    T_EQ_INT(model_download("http://127.0.0.1:1/m.gguf", "/tmp/x.gguf", "abc", &o, &err), -1);
    T_CHECK(strstr(err.msg, "not 64 hex digits") != NULL);
}

/* ---- model_resolve ---- */

static void test_resolve_returns_an_existing_local_path_and_expands_home(void)
{
    char *dir = fresh_dir("local"), *f = path_join(dir, "my model.gguf");
    write_file(f, "GGUF", 4);
    err_t err = {{0}};
    char *p = model_resolve(f, NULL, &err);
    T_EQ_STR(p, f);
    free(p);
    setenv("HOME", dir, 1);
    p = model_resolve("~/my model.gguf", NULL, &err);
    T_EQ_STR(p, f);
    free(p);
    p = model_resolve(dir, NULL, &err);
    T_CHECK(p == NULL);
    T_CHECK(strstr(err.msg, "is a folder") != NULL);
    free(dir), free(f);
}

static void test_resolve_reports_missing_files_and_unknown_names(void)
{
    err_t err = {{0}};
    model_fetch_opts_t o = quiet_opts();
    o.models_dir = t_tmpdir();
    T_CHECK(model_resolve("/nonexistent/model.gguf", &o, &err) == NULL);
    T_CHECK(strstr(err.msg, "model file /nonexistent/model.gguf not found") != NULL);
    T_CHECK(model_resolve("gpt-embedder-9000", &o, &err) == NULL);
    T_CHECK(strstr(err.msg, "unknown model 'gpt-embedder-9000'") != NULL);
    T_CHECK(strstr(err.msg, "nomic-embed-text-v1.5, bge-small-en-v1.5") != NULL);
    T_CHECK(model_resolve("https://example.invalid/m.gguf#md5=abc", &o, &err) == NULL);
    T_CHECK(strstr(err.msg, "sha256=<64 hex digits>") != NULL);
}

static void test_resolve_without_download_says_how_to_pull(void)
{
    char *dir = fresh_dir("nodl");
    model_fetch_opts_t o = quiet_opts();
    o.allow_download = false;
    o.models_dir = dir;
    err_t err = {{0}};
    T_CHECK(model_resolve("bge-small-en-v1.5", &o, &err) == NULL);
    T_CHECK(strstr(err.msg, "model bge-small-en-v1.5 is not downloaded yet") != NULL);
    T_CHECK(strstr(err.msg, "`embecode model pull bge-small-en-v1.5`") != NULL);
    T_CHECK(model_resolve("", &o, &err) == NULL); /* empty = the default */
    T_CHECK(strstr(err.msg, "model nomic-embed-text-v1.5 is not downloaded") != NULL);
    /* Once the file is in the models folder it is used without any network. */
    char *f = path_join(dir, "bge-small-en-v1.5-q8_0.gguf");
    write_file(f, "GGUF", 4);
    char *p = model_resolve("BGE-small-en-v1.5", &o, &err);
    T_EQ_STR(p, f);
    free(p);
    char *g = path_join(dir, "custom.gguf");
    write_file(g, "GGUF", 4);
    p = model_resolve("custom.gguf", &o, &err);
    T_EQ_STR(p, g);
    free(p), free(f), free(g), free(dir);
}

static void test_resolve_downloads_a_preset_from_hf_endpoint(void)
{
    srv_reset();
    srv.expect_path = "/nomic-ai/nomic-embed-text-v1.5-GGUF/resolve/main/"
                      "nomic-embed-text-v1.5.Q8_0.gguf";
    httpd_t *h = httpd_start(handler, &srv);
    char *ep = httpd_url(h, ""), *dir = fresh_dir("preset");
    setenv("HF_ENDPOINT", ep, 1);
    model_fetch_opts_t o = quiet_opts();
    o.models_dir = dir;
    err_t err = {{0}};
    /* The recorded checksum is enforced: the test data is not the real model. */
    T_CHECK(model_resolve("nomic-embed-text-v1.5", &o, &err) == NULL);
    T_CHECK(strstr(err.msg, "checksum mismatch for nomic-embed-text-v1.5") != NULL);
    T_CHECK(strstr(err.msg, model_preset_find("nomic-embed-text-v1.5")->sha256) != NULL);
    o.expected_sha256 = data_sha;
    char *p = model_resolve("nomic-embed-text-v1.5", &o, &err);
    char *want = path_join(dir, "nomic-embed-text-v1.5.Q8_0.gguf");
    T_EQ_STR(p, want);
    T_CHECK(p && file_equals_data(p));
    unsetenv("HF_ENDPOINT");
    httpd_stop(h);
    free(p), free(want), free(ep), free(dir);
}

static void test_resolve_downloads_a_url_pinned_with_its_sha256(void)
{
    srv_reset();
    httpd_t *h = httpd_start(handler, &srv);
    char *dir = fresh_dir("url"), *base = httpd_url(h, "/files/My%20Model.gguf?download=1");
    char *spec = xasprintf("%s#sha256=%s", base, data_sha);
    model_fetch_opts_t o = quiet_opts();
    o.models_dir = dir;
    err_t err = {{0}};
    char *p = model_resolve(spec, &o, &err);
    T_CHECK(p != NULL);
    if (p) {
        const char *name = strrchr(p, '/') + 1;
        T_CHECK(strncmp(name, "My_20Model-", 11) == 0);
        T_CHECK(strlen(name) == 11 + 8 + 5);
        T_CHECK(file_equals_data(p));
    }
    T_EQ_STR(srv.targets[0], "/files/My%20Model.gguf?download=1");
    /* Second time: found in the models folder, no request. */
    char *q = model_resolve(spec, &o, &err);
    T_EQ_STR(q, p);
    T_EQ_INT(httpd_request_count(h), 1);
    httpd_stop(h);
    free(p), free(q), free(spec), free(base), free(dir);
}

/* ---- model list ---- */

static void test_model_list_shows_states_and_other_files_as_table_and_json(void)
{
    char *xdg = fresh_dir("xdg");
    setenv("XDG_CACHE_HOME", xdg, 1);
    char *models = model_dir();
    err_t err = {{0}};
    T_EQ_INT(mkdir_p(models, &err), 0);
    char *f1 = path_join(models, "bge-small-en-v1.5-q8_0.gguf");
    char *f2 = path_join(models, "all-MiniLM-L6-v2-Q8_0.gguf.part");
    char *f3 = path_join(models, "custom.gguf");
    write_file(f1, "GGUF", 4);
    write_file(f2, data, 1000);
    write_file(f3, data, 2000);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    T_EQ_INT(model_list_print(out, false, &err), 0);
    fclose(out);
    T_CHECK(strstr(buf, "nomic-embed-text-v1.5") != NULL);
    T_CHECK(strstr(buf, "downloaded") != NULL);
    T_CHECK(strstr(buf, "partial") != NULL);
    T_CHECK(strstr(buf, "custom.gguf") != NULL);
    T_CHECK(strstr(buf, models) != NULL);
    free(buf);
    buf = NULL;
    out = open_memstream(&buf, &len);
    T_EQ_INT(model_list_print(out, true, &err), 0);
    fclose(out);
    cJSON *j = cJSON_Parse(buf);
    T_CHECK(j != NULL);
    cJSON *presets = cJSON_GetObjectItem(j, "presets");
    T_EQ_INT(cJSON_GetArraySize(presets), 4);
    cJSON *bge = cJSON_GetArrayItem(presets, 1), *mini = cJSON_GetArrayItem(presets, 2);
    T_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(bge, "downloaded")));
    T_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(mini, "downloaded")));
    T_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(mini, "partial_size")), 1000);
    T_CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(presets, 3), "sha256")));
    cJSON *other = cJSON_GetObjectItem(j, "other");
    T_EQ_INT(cJSON_GetArraySize(other), 1);
    T_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(other, 0), "file")),
             "custom.gguf");
    T_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "default")), MODEL_DEFAULT_NAME);
    cJSON_Delete(j);
    free(buf), free(f1), free(f2), free(f3), free(models), free(xdg);
}

static void test_file_sha256_matches_the_one_shot_digest(void)
{
    char *f = path_join(t_tmpdir(), "hashme");
    write_file(f, data, DATA_LEN);
    char hex[65];
    err_t err = {{0}};
    T_EQ_INT(model_file_sha256(f, hex, &err), 0);
    T_EQ_STR(hex, data_sha);
    T_EQ_INT(model_file_sha256("/nonexistent/x", hex, &err), -1);
    T_CHECK(strstr(err.msg, "cannot read /nonexistent/x") != NULL);
    free(f);
}

static void test_progress_bar_draws_percent_and_ends_its_line(void)
{
    char *f = path_join(t_tmpdir(), "bar.txt");
    fflush(stderr);
    int saved = dup(STDERR_FILENO), fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDERR_FILENO);
    model_bar_t bar = {.label = "m.gguf"};
    model_progress_bar(&bar, 0, 2000000);
    model_progress_bar(&bar, 2000000, 2000000);
    model_progress_bar(&bar, 2000000, 2000000); /* after the end: nothing more */
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    char *buf;
    size_t len;
    T_EQ_INT(file_read_all(f, 1 << 16, &buf, &len, NULL), 0);
    T_CHECK(strstr(buf, "m.gguf [") != NULL);
    T_CHECK(strstr(buf, "100% 2 MB / 2 MB") != NULL);
    T_EQ_INT(buf[len - 1], '\n');
    T_CHECK(strstr(buf, "\n") == buf + len - 1);
    T_CHECK(bar.finished);
    free(buf), free(f);
}

int main(void)
{
    /* Never route test traffic through a proxy from the environment. */
    const char *proxies[] = {"http_proxy",  "https_proxy", "all_proxy", "HTTP_PROXY",
                             "HTTPS_PROXY", "ALL_PROXY",   "no_proxy",  "NO_PROXY"};
    for (size_t i = 0; i < ARRAY_LEN(proxies); i++)
        unsetenv(proxies[i]);
    unsetenv("HF_ENDPOINT");
    log_set_level(LOG_ERROR);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < DATA_LEN; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    hash_sha256_hex(data, DATA_LEN, data_sha);

    T_RUN(test_presets_are_published_gguf_files_with_size_and_checksum_or_null);
    T_RUN(test_hf_endpoint_replaces_the_host_of_preset_urls);
    T_RUN(test_model_dir_is_under_xdg_cache_home);
    T_RUN(test_download_writes_verified_file_atomically_and_reports_progress);
    T_RUN(test_download_resumes_with_range_after_the_server_closes_mid_body);
    T_RUN(test_download_continues_a_part_file_left_by_an_earlier_run);
    T_RUN(test_download_starts_over_when_the_server_ignores_range);
    T_RUN(test_complete_part_file_answered_416_is_verified_and_used);
    T_RUN(test_a_resumed_file_that_fails_the_checksum_is_fetched_again_whole);
    T_RUN(test_checksum_mismatch_fails_and_deletes_the_download);
    T_RUN(test_404_fails_at_once_naming_the_status);
    T_RUN(test_a_server_that_hangs_times_out);
    T_RUN(test_checksum_from_x_linked_etag_is_used_when_none_is_recorded);
    T_RUN(test_a_file_with_no_known_checksum_is_refused);
    T_RUN(test_connection_refused_reads_as_offline_with_what_to_do);
    T_RUN(test_a_second_downloader_waits_for_the_first_and_finds_the_file);
    T_RUN(test_the_proxy_environment_is_honoured);
    T_RUN(test_bad_arguments_give_clear_errors);
    T_RUN(test_resolve_returns_an_existing_local_path_and_expands_home);
    T_RUN(test_resolve_reports_missing_files_and_unknown_names);
    T_RUN(test_resolve_without_download_says_how_to_pull);
    T_RUN(test_resolve_downloads_a_preset_from_hf_endpoint);
    T_RUN(test_resolve_downloads_a_url_pinned_with_its_sha256);
    T_RUN(test_model_list_shows_states_and_other_files_as_table_and_json);
    T_RUN(test_file_sha256_matches_the_one_shot_digest);
    T_RUN(test_progress_bar_draws_percent_and_ends_its_line);
    return t_done();
}
