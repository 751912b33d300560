/* Tests for remote.c against a mock embedding server on 127.0.0.1 (httpd_test.h). */
#include <cjson/cJSON.h>
#include <math.h>

#include "httpd_test.h"
#include "log.h"
#include "remote.h"
#include "t.h"
#include "util.h"

#define DIM 8

/* What the mock does; reset before each test. */
typedef struct {
    int requests;
    int batch_sizes[16];
    char auth[16][128]; /* Authorization header of each request */
    char paths[16][256];
    char first_input[256]; /* input[0] of the last request */
    int fail_first;        /* answer the first N requests with fail_status */
    int fail_status;
    const char *fail_body;
    const char *retry_after;
    const char *raw;     /* answer this body verbatim (200) */
    int drop_one;        /* answer one vector fewer than asked */
    int dim_after_first; /* from the 2nd request on, vectors of this width */
    int hang_ms;
} mock_t;

static mock_t mock;

/* The vector the mock gives a text: depends on the text only. */
static void vector_for(const char *text, int dim, float *v)
{
    size_t len = strlen(text);
    unsigned sum = 0;
    for (const char *p = text; *p; p++)
        sum = sum * 31 + (unsigned char)*p;
    for (int i = 0; i < dim; i++)
        v[i] = (float)((sum >> ((i * 3) % 28)) % 17) - 8.0f + (float)len * 0.01f;
}

static void mock_handler(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    mock_t *m = ctx;
    int i = m->requests++;
    if (i < 16) {
        httpd_req_header(req, "Authorization", m->auth[i], sizeof m->auth[i]);
        snprintf(m->paths[i], sizeof m->paths[i], "%.255s", req->target);
    }
    resp->hang_ms = m->hang_ms;
    if (i < m->fail_first) {
        resp->status = m->fail_status;
        if (m->retry_after) httpd_resp_header(resp, "Retry-After: %s", m->retry_after);
        httpd_resp_text(resp, m->fail_status, m->fail_body ? m->fail_body : "{\"error\":\"busy\"}");
        return;
    }
    if (m->raw) {
        httpd_resp_text(resp, 200, m->raw);
        return;
    }
    cJSON *body = cJSON_Parse(req->body);
    cJSON *input = cJSON_GetObjectItem(body, "input");
    if (!cJSON_IsString(cJSON_GetObjectItem(body, "model")) || !cJSON_IsArray(input)) {
        httpd_resp_text(resp, 400, "{\"error\":{\"message\":\"bad request body\"}}");
        cJSON_Delete(body);
        return;
    }
    int n = cJSON_GetArraySize(input);
    if (i < 16) m->batch_sizes[i] = n;
    if (n > 0)
        snprintf(m->first_input, sizeof m->first_input, "%.255s",
                 cJSON_GetStringValue(cJSON_GetArrayItem(input, 0)));
    int dim = i > 0 && m->dim_after_first ? m->dim_after_first : DIM;
    bool ollama = strstr(req->target, "/api/embed") != NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, ollama ? "embeddings" : "data");
    int count = n - (m->drop_one ? 1 : 0);
    /* OpenAI answers in reverse order (the index says where each goes). */
    for (int k = 0; k < count; k++) {
        int idx = ollama ? k : count - 1 - k;
        float v[64];
        vector_for(cJSON_GetStringValue(cJSON_GetArrayItem(input, idx)), dim, v);
        cJSON *vec = cJSON_CreateArray();
        for (int d = 0; d < dim; d++)
            cJSON_AddItemToArray(vec, cJSON_CreateNumber(v[d]));
        if (ollama) {
            cJSON_AddItemToArray(list, vec);
        } else {
            cJSON *item = cJSON_CreateObject();
            cJSON_AddStringToObject(item, "object", "embedding");
            cJSON_AddNumberToObject(item, "index", idx);
            cJSON_AddItemToObject(item, "embedding", vec);
            cJSON_AddItemToArray(list, item);
        }
    }
    char *s = cJSON_PrintUnformatted(root);
    httpd_resp_text(resp, 200, s);
    httpd_resp_header(resp, "Content-Type: application/json");
    free(s);
    cJSON_Delete(root);
    cJSON_Delete(body);
}

static httpd_t *start(void)
{
    memset(&mock, 0, sizeof mock);
    return httpd_start(mock_handler, &mock);
}

static remote_opts_t opts(const char *provider, const char *url)
{
    remote_opts_t o = {0};
    o.provider = provider;
    o.url = url;
    o.model = "test-model";
    o.timeout_s = 5;
    o.backoff_ms = 10;
    return o;
}

/* out[i] is the normalised mock vector of texts[i]. */
static bool vectors_match(const char *const *texts, size_t n, const float *out)
{
    for (size_t i = 0; i < n; i++) {
        float v[DIM];
        vector_for(texts[i], DIM, v);
        double ss = 0;
        for (int d = 0; d < DIM; d++)
            ss += (double)v[d] * v[d];
        for (int d = 0; d < DIM; d++)
            if (fabs(out[i * DIM + d] - v[d] / sqrt(ss)) > 1e-5) return false;
    }
    return true;
}

static void test_openai_batches_keep_input_order_and_normalise(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    remote_opts_t o = opts("openai", url);
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    T_CHECK(r != NULL);
    T_EQ_INT(remote_dim(r), 0);
    T_EQ_INT(remote_probe(r, &err), DIM);
    T_EQ_INT(remote_dim(r), DIM);
    enum { N = 150 };
    char *texts[N];
    for (int i = 0; i < N; i++)
        texts[i] = xasprintf("text number %d", i);
    float *out = xcalloc(N * DIM, sizeof *out);
    mock.requests = 0;
    T_EQ_INT(remote_embed(r, (const char *const *)texts, N, false, out, &err), 0);
    T_EQ_INT(mock.requests, 3);
    T_EQ_INT(mock.batch_sizes[0], 64);
    T_EQ_INT(mock.batch_sizes[1], 64);
    T_EQ_INT(mock.batch_sizes[2], 22);
    T_EQ_STR(mock.paths[0], "/v1/embeddings");
    T_CHECK(vectors_match((const char *const *)texts, N, out));
    double ss = 0;
    for (int d = 0; d < DIM; d++)
        ss += (double)out[77 * DIM + d] * out[77 * DIM + d];
    T_CHECK(fabs(ss - 1.0) < 1e-5);
    T_EQ_STR(mock.auth[0], ""); /* no api_key_env: no Authorization header */
    for (int i = 0; i < N; i++)
        free(texts[i]);
    free(out);
    remote_free(r);
    httpd_stop(h);
    free(url);
}

static void test_ollama_uses_api_embed_and_its_answer_shape(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "/");
    remote_opts_t o = opts("Ollama", url);
    o.batch_size = 2;
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    char *want = xasprintf("%sapi/embed", url);
    T_EQ_STR(remote_endpoint(r), want);
    free(want);
    T_EQ_INT(remote_probe(r, &err), DIM);
    const char *texts[] = {"alpha", "beta", "gamma"};
    float out[3 * DIM];
    T_EQ_INT(remote_embed(r, texts, 3, true, out, &err), 0);
    T_EQ_STR(mock.paths[1], "/api/embed");
    T_EQ_INT(mock.requests, 3);
    T_CHECK(vectors_match(texts, 3, out));
    remote_free(r);
    httpd_stop(h);
    free(url);
}

static void test_base_url_forms_all_reach_the_same_endpoint(void)
{
    const char *bases[] = {"http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/v1/",
                           "http://h:1/v1/embeddings"};
    err_t err = {{0}};
    for (size_t i = 0; i < ARRAY_LEN(bases); i++) {
        remote_opts_t o = opts("openai", bases[i]);
        remote_embedder_t *r = remote_open(&o, &err);
        T_EQ_STR(remote_endpoint(r), "http://h:1/v1/embeddings");
        remote_free(r);
    }
    remote_opts_t o = opts("ollama", NULL);
    remote_embedder_t *r = remote_open(&o, &err);
    T_EQ_STR(remote_endpoint(r), "http://localhost:11434/api/embed");
    remote_free(r);
    o = opts("openai", NULL);
    r = remote_open(&o, &err);
    T_EQ_STR(remote_endpoint(r), "https://api.openai.com/v1/embeddings");
    remote_free(r);
}

static void test_api_key_from_the_named_variable_is_sent_as_bearer(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    setenv("EMBECODE_TEST_KEY", "sk-test-123", 1);
    remote_opts_t o = opts("openai", url);
    o.api_key_env = "EMBECODE_TEST_KEY";
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    T_EQ_INT(remote_probe(r, &err), DIM);
    T_EQ_STR(mock.auth[0], "Bearer sk-test-123");
    remote_free(r);
    /* A 401 says to check the key and never shows it. */
    mock.fail_first = 100;
    mock.fail_status = 401;
    mock.fail_body = "{\"error\":{\"message\":\"Incorrect API key provided\"}}";
    r = remote_open(&o, &err);
    T_EQ_INT(remote_probe(r, &err), -1);
    T_CHECK(strstr(err.msg, "HTTP 401") != NULL);
    T_CHECK(strstr(err.msg, "Incorrect API key provided") != NULL);
    T_CHECK(strstr(err.msg, "api_key_env") != NULL);
    T_CHECK(strstr(err.msg, "sk-test-123") == NULL);
    remote_free(r);
    unsetenv("EMBECODE_TEST_KEY");
    httpd_stop(h);
    free(url);
}

static void test_open_rejects_bad_options_naming_the_problem(void)
{
    err_t err = {{0}};
    remote_opts_t o = opts("openai", "http://127.0.0.1:1");
    o.api_key_env = "EMBECODE_TEST_UNSET_KEY";
    unsetenv("EMBECODE_TEST_UNSET_KEY");
    T_CHECK(remote_open(&o, &err) == NULL);
    T_CHECK(strstr(err.msg, "EMBECODE_TEST_UNSET_KEY") != NULL);
    T_CHECK(strstr(err.msg, "not set") != NULL);
    setenv("EMBECODE_TEST_UNSET_KEY", "", 1);
    T_CHECK(remote_open(&o, &err) == NULL);
    T_CHECK(strstr(err.msg, "is empty") != NULL);
    unsetenv("EMBECODE_TEST_UNSET_KEY");
    o = opts("cohere", NULL);
    T_CHECK(remote_open(&o, &err) == NULL);
    T_CHECK(strstr(err.msg, "unknown embeddings.provider 'cohere'") != NULL);
    o = opts("ollama", "localhost:11434");
    T_CHECK(remote_open(&o, &err) == NULL);
    T_CHECK(strstr(err.msg, "not an http:// or https:// URL") != NULL);
    o = opts("ollama", NULL);
    o.model = "";
    T_CHECK(remote_open(&o, &err) == NULL);
    T_CHECK(strstr(err.msg, "embeddings.model is empty") != NULL);
    o = opts("ollama", NULL);
    remote_embedder_t *r = remote_open(&o, &err);
    float out[DIM];
    const char *t = "x";
    T_EQ_INT(remote_embed(r, &t, 1, false, out, &err), -1); /* before remote_probe */
    T_CHECK(strstr(err.msg, "remote_probe") != NULL);
    T_EQ_INT(remote_embed(r, &t, 0, false, out, &err), 0);
    remote_free(r);
    /* out == NULL learns the width from texts[0] alone. */
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    o = opts("openai", url);
    r = remote_open(&o, &err);
    const char *two[] = {"first", "second"};
    T_EQ_INT(remote_embed(r, two, 2, true, NULL, &err), 0);
    T_EQ_INT(remote_dim(r), DIM);
    T_EQ_INT(mock.batch_sizes[0], 1);
    T_EQ_STR(mock.first_input, "first");
    remote_free(r);
    httpd_stop(h);
    free(url);
    remote_free(NULL);
}

static void test_429_is_retried_after_retry_after(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    mock.fail_first = 1;
    mock.fail_status = 429;
    mock.retry_after = "1";
    remote_opts_t o = opts("openai", url);
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    double t0 = time_mono_ms();
    T_EQ_INT(remote_probe(r, &err), DIM);
    double ms = time_mono_ms() - t0;
    T_EQ_INT(mock.requests, 2);
    T_CHECK(ms >= 900); /* waited the Retry-After second, not the 10 ms backoff */
    remote_free(r);
    httpd_stop(h);
    free(url);
}

static void test_500_every_time_fails_after_the_retries(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    mock.fail_first = 100;
    mock.fail_status = 500;
    mock.fail_body = "{\"error\":\"model crashed\"}";
    remote_opts_t o = opts("ollama", url);
    o.max_retries = 2;
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    T_EQ_INT(remote_probe(r, &err), -1);
    T_EQ_INT(mock.requests, 3);
    T_CHECK(strstr(err.msg, "HTTP 500 after 3 attempts: model crashed") != NULL);
    remote_free(r);
    httpd_stop(h);
    free(url);
}

static void test_other_4xx_fails_at_once_with_the_server_message(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    mock.fail_first = 100;
    mock.fail_status = 400;
    mock.fail_body = "{\"error\":{\"message\":\"This model's maximum context length is 8192 "
                     "tokens\",\"type\":\"invalid_request_error\"}}";
    remote_opts_t o = opts("openai", url);
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    T_EQ_INT(remote_probe(r, &err), -1);
    T_EQ_INT(mock.requests, 1);
    T_CHECK(strstr(err.msg, "HTTP 400: This model's maximum context length is 8192 tokens") !=
            NULL);
    remote_free(r);
    httpd_stop(h);
    free(url);
}

static void test_malformed_answers_give_clear_errors(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    remote_opts_t o = opts("openai", url);
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    mock.raw = "<html>502 Bad Gateway</html>";
    T_EQ_INT(remote_probe(r, &err), -1);
    T_CHECK(strstr(err.msg, "not a JSON object (it starts with \"<html>502") != NULL);
    mock.raw = "{\"object\":\"list\"}";
    T_EQ_INT(remote_probe(r, &err), -1);
    T_CHECK(strstr(err.msg, "no \"data\" array") != NULL);
    mock.raw = "{\"data\":[{\"index\":0,\"embedding\":[1,\"x\",3]}]}";
    T_EQ_INT(remote_probe(r, &err), 3); /* the probe only learns the width */
    const char *t1 = "x";
    float out[8];
    T_EQ_INT(remote_embed(r, &t1, 1, false, out, &err), -1);
    T_CHECK(strstr(err.msg, "non-number") != NULL);
    mock.raw = "{\"data\":[{\"index\":5,\"embedding\":[1,2,3]}]}";
    T_EQ_INT(remote_embed(r, &t1, 1, false, out, &err), -1);
    T_CHECK(strstr(err.msg, "bad or repeated index") != NULL);
    mock.raw = "{\"data\":[{\"index\":0}]}";
    T_EQ_INT(remote_embed(r, &t1, 1, false, out, &err), -1);
    T_CHECK(strstr(err.msg, "not an array of numbers") != NULL);
    remote_free(r);
    httpd_stop(h);
    free(url);
}

static void test_wrong_vector_count_or_width_is_an_error(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    remote_opts_t o = opts("ollama", url);
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    T_EQ_INT(remote_probe(r, &err), DIM);
    const char *texts[] = {"a", "b", "c"};
    float out[3 * DIM];
    mock.drop_one = 1;
    T_EQ_INT(remote_embed(r, texts, 3, false, out, &err), -1);
    T_CHECK(strstr(err.msg, "expected 3 embeddings, got 2") != NULL);
    mock.drop_one = 0;
    mock.dim_after_first = DIM * 2;
    T_EQ_INT(remote_embed(r, texts, 3, false, out, &err), -1);
    T_CHECK(strstr(err.msg, "has 16 numbers, expected 8") != NULL);
    remote_free(r);
    httpd_stop(h);
    free(url);
}

static void test_a_server_that_hangs_times_out(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    mock.hang_ms = 20000;
    remote_opts_t o = opts("openai", url);
    o.timeout_s = 1;
    o.max_retries = -1;
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    double t0 = time_mono_ms();
    T_EQ_INT(remote_probe(r, &err), -1);
    T_CHECK(time_mono_ms() - t0 < 5000);
    T_CHECK(strstr(err.msg, "timed out") != NULL);
    T_EQ_INT(mock.requests, 1);
    remote_free(r);
    httpd_stop(h);
    free(url);
}

static void test_unreachable_server_is_retried_then_reported(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    httpd_stop(h);
    remote_opts_t o = opts("ollama", url);
    o.max_retries = 2;
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    T_EQ_INT(remote_probe(r, &err), -1);
    T_CHECK(strstr(err.msg, "cannot reach the embedding server http://127.0.0.1") != NULL);
    T_CHECK(strstr(err.msg, "Check embeddings.url") != NULL);
    T_CHECK(strstr(err.msg, "after retries") != NULL);
    remote_free(r);
    free(url);
}

static void test_prompts_are_prepended_and_bad_utf8_is_sent_as_valid_json(void)
{
    httpd_t *h = start();
    char *url = httpd_url(h, "");
    remote_opts_t o = opts("openai", url);
    o.query_prompt = "search_query: ";
    o.document_prompt = "search_document: ";
    err_t err = {{0}};
    remote_embedder_t *r = remote_open(&o, &err);
    T_EQ_INT(remote_probe(r, &err), DIM);
    const char *q = "where is \"main\"\n";
    float out[DIM];
    T_EQ_INT(remote_embed(r, &q, 1, true, out, &err), 0);
    T_EQ_STR(mock.first_input, "search_query: where is \"main\"\n");
    const char *bad = "caf\xc3 \xff ok \xe2\x82\xac";
    T_EQ_INT(remote_embed(r, &bad, 1, false, out, &err), 0);
    T_EQ_STR(mock.first_input, "search_document: caf\xef\xbf\xbd \xef\xbf\xbd ok \xe2\x82\xac");
    remote_free(r);
    httpd_stop(h);
    free(url);
}

int main(void)
{
    const char *proxies[] = {"http_proxy",  "https_proxy", "all_proxy", "HTTP_PROXY",
                             "HTTPS_PROXY", "ALL_PROXY",   "no_proxy",  "NO_PROXY"};
    for (size_t i = 0; i < ARRAY_LEN(proxies); i++)
        unsetenv(proxies[i]);
    log_set_level(LOG_ERROR);
    T_RUN(test_openai_batches_keep_input_order_and_normalise);
    T_RUN(test_ollama_uses_api_embed_and_its_answer_shape);
    T_RUN(test_base_url_forms_all_reach_the_same_endpoint);
    T_RUN(test_api_key_from_the_named_variable_is_sent_as_bearer);
    T_RUN(test_open_rejects_bad_options_naming_the_problem);
    T_RUN(test_429_is_retried_after_retry_after);
    T_RUN(test_500_every_time_fails_after_the_retries);
    T_RUN(test_other_4xx_fails_at_once_with_the_server_message);
    T_RUN(test_malformed_answers_give_clear_errors);
    T_RUN(test_wrong_vector_count_or_width_is_an_error);
    T_RUN(test_a_server_that_hangs_times_out);
    T_RUN(test_unreachable_server_is_retried_then_reported);
    T_RUN(test_prompts_are_prepended_and_bad_utf8_is_sent_as_valid_json);
    return t_done();
}
