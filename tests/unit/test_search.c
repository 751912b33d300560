#include "t.h"

#include <math.h>

#include "search.h"

static int db_seq;

static store_t *new_store(char **path_out)
{
    char name[64];
    err_t err;
    snprintf(name, sizeof name, "s%d.db", ++db_seq);
    char *path = path_join(t_tmpdir(), name);
    store_t *s = store_open(path, false, &err);
    if (!s) fprintf(stderr, "store_open: %s\n", err.msg);
    if (path_out)
        *path_out = path;
    else
        free(path);
    return s;
}

/* Adds one file holding one chunk. */
static void put(store_t *s, const char *path, const char *defs, const char *content, uint32_t start)
{
    err_t err;
    uint32_t lines = 1;
    for (const char *p = content; *p; p++)
        lines += *p == '\n';
    store_chunk_in_t c = {start, start + lines - 1, defs, content, strlen(content), NULL};
    if (store_file_replace(s, path, "python", STORE_KIND_TEXT, strlen(content), 1, "h", &c, 1,
                           &err) < 0)
        fprintf(stderr, "put %s: %s\n", path, err.msg);
}

/* Unrelated chunks, so query terms become rare (positive IDF) as in a real repository. */
static void add_filler(store_t *s, int n)
{
    char name[32];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "filler/%d.py", i);
        put(s, name, "function helper", "def helper(a, b):\n    return a + b\n", 1);
    }
}

static cJSON *run(store_t *s, const char *query, search_mode_t mode, int top_k, const char *prefix,
                  err_t *err)
{
    search_req_t req = {query, mode, top_k, prefix};
    return search_run(s, &req, err);
}

static cJSON *results_of(cJSON *root)
{
    return cJSON_GetObjectItemCaseSensitive(root, "results");
}

static const char *str_at(cJSON *root, int i, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(results_of(root), i), key);
    return cJSON_IsString(v) ? v->valuestring : "(missing)";
}

static void test_mode_names_parse(void)
{
    search_mode_t m = SEARCH_KEYWORD;
    T_EQ_INT(search_mode_parse("hybrid", &m), 0);
    T_EQ_INT(m, SEARCH_HYBRID);
    T_EQ_INT(search_mode_parse("semantic", &m), 0);
    T_EQ_INT(m, SEARCH_SEMANTIC);
    T_EQ_INT(search_mode_parse("keyword", &m), 0);
    T_EQ_INT(m, SEARCH_KEYWORD);
    T_EQ_INT(search_mode_parse("Keyword", &m), -1);
    T_EQ_INT(search_mode_parse("bm25", &m), -1);
    T_EQ_INT(search_mode_parse(NULL, &m), -1);
    T_EQ_STR(search_mode_name(SEARCH_SEMANTIC), "semantic");
}

static void test_fts_query_quotes_every_term(void)
{
    char *q = search_fts_query("getUserName x");
    T_EQ_STR(q, "\"getusername\" OR \"get\" OR \"user\" OR \"name\" OR \"x\"");
    free(q);
    q = search_fts_query("\"unbalanced NEAR(a b) -x ^a a:b foo* (x AND OR NOT");
    T_EQ_STR(q, "\"unbalanced\" OR \"near\" OR \"a\" OR \"b\" OR \"x\" OR \"foo\" OR \"and\" "
                "OR \"or\" OR \"not\"");
    free(q);
    T_CHECK(search_fts_query("?! -- ()") == NULL);
    T_CHECK(search_fts_query("") == NULL);
    T_CHECK(search_fts_query(NULL) == NULL);

    sbuf_t big = {0};
    for (int i = 0; i < 500; i++)
        sbuf_printf(&big, "w%d ", i);
    q = search_fts_query(big.data);
    int ors = 0;
    for (const char *p = q; (p = strstr(p, " OR ")); p++)
        ors++;
    T_EQ_INT(ors + 1, SEARCH_MAX_TERMS);
    free(q);
    sbuf_free(&big);
}

static void test_hostile_queries_never_error(void)
{
    err_t err;
    store_t *s = new_store(NULL);
    put(s, "a.py", "function foo", "def foo(x):\n    return x * 2\n", 1);
    put(s, "b.py", "", "caf\xc3\xa9 = 'na\xc3\xafve'\n", 1);
    static const char *queries[] = {"\"unbalanced",
                                    "foo*",
                                    "-x",
                                    "^a",
                                    "a:b",
                                    "(x",
                                    "NEAR(a b)",
                                    "AND OR NOT",
                                    "\"\"",
                                    "foo\"bar",
                                    "col:foo",
                                    "{a b}:foo",
                                    "a + b",
                                    "*",
                                    "NOT foo",
                                    "'single'",
                                    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e caf\xc3\xa9",
                                    "\xff\xfe\x80 broken utf8",
                                    "emoji \xf0\x9f\x98\x80",
                                    "tab\tnew\nline",
                                    "?",
                                    "x"};
    for (size_t i = 0; i < ARRAY_LEN(queries); i++) {
        cJSON *r = run(s, queries[i], SEARCH_KEYWORD, 10, NULL, &err);
        T_CHECK(r != NULL);
        if (!r) fprintf(stderr, "  query %zu failed: %s\n", i, err.msg);
        cJSON_Delete(r);
    }
    /* non-ASCII words are searchable */
    cJSON *r = run(s, "caf\xc3\xa9", SEARCH_KEYWORD, 10, NULL, &err);
    T_EQ_INT(cJSON_GetArraySize(results_of(r)), 1);
    T_EQ_STR(str_at(r, 0, "file_path"), "b.py");
    cJSON_Delete(r);
    /* "foo*" is the word foo, not a prefix query */
    r = run(s, "fo*", SEARCH_KEYWORD, 10, NULL, &err);
    T_EQ_INT(cJSON_GetArraySize(results_of(r)), 0);
    cJSON_Delete(r);
    /* 10 KB query */
    sbuf_t big = {0};
    while (big.len < 10240)
        sbuf_puts(&big, "(\"foo\" NEAR/3 bar* -baz ^qux:x) ");
    r = run(s, big.data, SEARCH_HYBRID, 10, NULL, &err);
    T_CHECK(r != NULL);
    T_EQ_STR(str_at(r, 0, "file_path"), "a.py");
    cJSON_Delete(r);
    sbuf_free(&big);
    store_close(s);
}

static void test_request_validation(void)
{
    err_t err = {{0}};
    store_t *s = new_store(NULL);
    put(s, "a.py", "", "alpha\n", 1);
    T_CHECK(run(s, "", SEARCH_KEYWORD, 10, NULL, &err) == NULL);
    T_CHECK(strstr(err.msg, "empty") != NULL);
    T_CHECK(run(s, " \t\n", SEARCH_KEYWORD, 10, NULL, &err) == NULL);
    T_CHECK(run(s, NULL, SEARCH_KEYWORD, 10, NULL, &err) == NULL);
    T_CHECK(run(s, "alpha", SEARCH_KEYWORD, 0, NULL, &err) == NULL);
    T_CHECK(strstr(err.msg, "top_k must be between 1 and 100 (got 0)") != NULL);
    T_CHECK(run(s, "alpha", SEARCH_KEYWORD, 101, NULL, &err) == NULL);
    T_CHECK(run(s, "alpha", SEARCH_KEYWORD, -5, NULL, &err) == NULL);
    T_CHECK(run(s, "alpha", (search_mode_t)7, 10, NULL, &err) == NULL);
    T_CHECK(strstr(err.msg, "mode") != NULL);
    T_CHECK(search_run(s, NULL, &err) == NULL);
    /* punctuation only: valid, no results */
    cJSON *r = run(s, "?!", SEARCH_KEYWORD, 10, NULL, &err);
    char *txt = cJSON_PrintUnformatted(r);
    T_EQ_STR(txt, "{\"results\":[]}");
    free(txt);
    cJSON_Delete(r);
    store_close(s);
}

static void test_top_k_limits_results(void)
{
    err_t err;
    store_t *s = new_store(NULL);
    T_EQ_INT(store_batch_begin(s, &err), 0);
    char name[32];
    for (int i = 0; i < 150; i++) {
        snprintf(name, sizeof name, "f%03d.py", i);
        put(s, name, "", "common word here\n", 1);
    }
    T_EQ_INT(store_batch_commit(s, &err), 0);
    int ks[] = {1, 7, 100};
    for (size_t i = 0; i < ARRAY_LEN(ks); i++) {
        cJSON *r = run(s, "common", SEARCH_KEYWORD, ks[i], NULL, &err);
        T_EQ_INT(cJSON_GetArraySize(results_of(r)), ks[i]);
        cJSON_Delete(r);
    }
    store_close(s);
}

/* The chunk defining getUserName outranks chunks that merely call it, even often. */
static void test_exact_identifier_ranks_its_definition_first(void)
{
    err_t err;
    store_t *s = new_store(NULL);
    put(s, "app/views.py", "function render_profile",
        "def render_profile(req):\n    name = getUserName(req.user)\n"
        "    title = getUserName(req.owner)\n    log(getUserName(req.user))\n"
        "    return template(name, title)\n",
        10);
    put(s, "app/api.py", "function profile_json",
        "def profile_json(u):\n    return {'name': getUserName(u), 'id': u.id}\n", 1);
    put(s, "app/users.py", "function getUserName",
        "def getUserName(user):\n    \"\"\"Display name of a user.\"\"\"\n"
        "    first = user.first_name\n    last = user.last_name\n"
        "    if not first and not last:\n        return user.email\n"
        "    return f'{first} {last}'.strip()\n",
        40);
    put(s, "app/other.py", "function get_user_names",
        "def get_user_names(users):\n    return [u.name for u in users]\n", 1);
    put(s, "README.md", "", "Call getUserName to show who is logged in.\n", 1);

    /* with the tiny corpus every term is common (IDF clamped), then with a realistic one */
    for (int round = 0; round < 2; round++) {
        if (round) add_filler(s, 30);
        cJSON *r = run(s, "getUserName", SEARCH_KEYWORD, 10, NULL, &err);
        T_EQ_INT(cJSON_GetArraySize(results_of(r)), 5);
        T_EQ_STR(str_at(r, 0, "file_path"), "app/users.py");
        T_EQ_STR(str_at(r, 0, "definitions"), "function getUserName");
        cJSON_Delete(r);
    }
    cJSON *r;

    /* natural words reach identifiers through their parts */
    r = run(s, "user name", SEARCH_KEYWORD, 10, NULL, &err);
    int n = cJSON_GetArraySize(results_of(r));
    bool found = false;
    for (int i = 0; i < n; i++)
        found |= strcmp(str_at(r, i, "file_path"), "app/users.py") == 0;
    T_CHECK(found);
    cJSON_Delete(r);

    r = run(s, "get_user_names", SEARCH_KEYWORD, 10, NULL, &err);
    T_EQ_STR(str_at(r, 0, "file_path"), "app/other.py");
    cJSON_Delete(r);
    store_close(s);
}

static void test_definitions_and_file_names_outweigh_body_text(void)
{
    err_t err;
    store_t *s = new_store(NULL);
    put(s, "src/net.py", "function retry",
        "def retry(fn):\n    for i in range(3):\n        try:\n            return fn()\n"
        "        except IOError:\n            pass\n",
        1);
    put(s, "src/client.py", "function fetch",
        "def fetch(url):\n    # retry a few times; retry on timeouts; retry on 503\n"
        "    return get(url)\n",
        1);
    put(s, "src/parser.c", "", "int x = 1;\nint y = 2;\n", 1);
    put(s, "src/main.c", "", "// the parser is called below; parser errors abort\nrun();\n", 1);
    for (int round = 0; round < 2; round++) {
        if (round) add_filler(s, 30);
        cJSON *r = run(s, "retry", SEARCH_KEYWORD, 10, NULL, &err);
        T_EQ_STR(str_at(r, 0, "file_path"), "src/net.py");
        T_EQ_STR(str_at(r, 1, "file_path"), "src/client.py");
        cJSON_Delete(r);
        r = run(s, "parser", SEARCH_KEYWORD, 10, NULL, &err);
        T_EQ_STR(str_at(r, 0, "file_path"), "src/parser.c");
        T_EQ_STR(str_at(r, 1, "file_path"), "src/main.c");
        cJSON_Delete(r);
    }
    store_close(s);
}

/* Words in more than 1 % of chunks (and over 2000) count only in paths and definitions in
 * the first query; one in the names of over half of all chunks carries no weight (FTS5
 * clamps its IDF) and is dropped while another term remains, without changing any score. */
static void test_common_words_are_limited_and_weightless_ones_dropped(void)
{
    err_t err;
    store_t *s = new_store(NULL);
    T_EQ_INT(store_batch_begin(s, &err), 0);
    char name[32], body[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "inc/gen_%d.h", i);
        snprintf(body, sizeof body, "int value_%d;\n", i);
        put(s, name, "", body, 1);
    }
    put(s, "src/target.c", "function frobnicate", "void frobnicate(void) { }\n", 1);
    put(s, "inc/frob_decl.h", "", "void frobnicate(void);\n", 1);
    T_EQ_INT(store_batch_commit(s, &err), 0);

    cJSON *alone = run(s, "frobnicate", SEARCH_KEYWORD, 10, NULL, &err);
    cJSON *with_h = run(s, "frobnicate h", SEARCH_KEYWORD, 10, NULL, &err);
    T_EQ_INT(cJSON_GetArraySize(results_of(alone)), 2);
    T_EQ_INT(cJSON_GetArraySize(results_of(with_h)), 2); /* no rows matching only `h` */
    for (int i = 0; i < 2; i++) {
        T_EQ_STR(str_at(with_h, i, "file_path"), str_at(alone, i, "file_path"));
        double a = cJSON_GetObjectItem(cJSON_GetArrayItem(results_of(alone), i), "score")->valuedouble;
        double b = cJSON_GetObjectItem(cJSON_GetArrayItem(results_of(with_h), i), "score")->valuedouble;
        T_CHECK(fabs(a - b) < 1e-3);
    }
    T_EQ_STR(str_at(alone, 0, "file_path"), "src/target.c");
    cJSON_Delete(alone);
    cJSON_Delete(with_h);

    /* only weightless terms: kept, so the query still answers */
    cJSON *r = run(s, "h", SEARCH_KEYWORD, 10, NULL, &err);
    T_EQ_INT(cJSON_GetArraySize(results_of(r)), 10);
    cJSON_Delete(r);

    /* `value` is in every body but no name: limited to names it matches nothing beside
     * frobnicate, and alone it falls back to the full query */
    r = run(s, "frobnicate value", SEARCH_KEYWORD, 10, NULL, &err);
    T_EQ_INT(cJSON_GetArraySize(results_of(r)), 2);
    cJSON_Delete(r);
    r = run(s, "value", SEARCH_KEYWORD, 10, NULL, &err);
    T_EQ_INT(cJSON_GetArraySize(results_of(r)), 10);
    T_CHECK(strncmp(str_at(r, 0, "file_path"), "inc/gen_", 8) == 0);
    cJSON_Delete(r);
    store_close(s);
}

/* The prefix filters before ranking: a folder whose chunks rank low overall still yields
 * top_k results from that folder. */
static void test_path_prefix_applies_before_ranking(void)
{
    err_t err;
    store_t *s = new_store(NULL);
    T_EQ_INT(store_batch_begin(s, &err), 0);
    char name[64];
    for (int i = 0; i < 30; i++) {
        snprintf(name, sizeof name, "src/retry_%02d.py", i);
        put(s, name, "function retry", "retry retry retry\n", 1);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "lib/misc_%d.py", i);
        put(s, name, "",
            "a long chunk of text that mentions retry once among many other words that "
            "dilute it\n",
            1);
    }
    put(s, "lib%_*?[x]/odd.py", "", "retry here too\n", 1);
    T_EQ_INT(store_batch_commit(s, &err), 0);

    cJSON *r = run(s, "retry", SEARCH_KEYWORD, 3, NULL, &err);
    for (int i = 0; i < 3; i++)
        T_CHECK(strncmp(str_at(r, i, "file_path"), "src/", 4) == 0);
    cJSON_Delete(r);

    r = run(s, "retry", SEARCH_KEYWORD, 3, "lib/", &err);
    T_EQ_INT(cJSON_GetArraySize(results_of(r)), 3);
    for (int i = 0; i < 3; i++)
        T_CHECK(strncmp(str_at(r, i, "file_path"), "lib/misc_", 9) == 0);
    cJSON_Delete(r);

    r = run(s, "retry", SEARCH_KEYWORD, 10, "./lib/", &err); /* leading ./ ignored */
    T_EQ_INT(cJSON_GetArraySize(results_of(r)), 4);
    cJSON_Delete(r);

    r = run(s, "retry", SEARCH_KEYWORD, 10, "lib%_*?[", &err);
    T_EQ_INT(cJSON_GetArraySize(results_of(r)), 1);
    T_EQ_STR(str_at(r, 0, "file_path"), "lib%_*?[x]/odd.py");
    cJSON_Delete(r);

    r = run(s, "retry", SEARCH_KEYWORD, 10, "lib_", &err); /* '_' is not a wildcard */
    T_EQ_INT(cJSON_GetArraySize(results_of(r)), 0);
    cJSON_Delete(r);
    store_close(s);
}

/* Exact JSON: keys in order, types, optional fields only when due. */
static void test_result_json_shape(void)
{
    err_t err;
    store_t *s = new_store(NULL);
    put(s, "src/auth.py", "function login, class Session",
        "import os\n\ndef login(user, pw):\n    session = Session(user)\n    return session\n", 20);
    store_chunk_in_t two[2] = {
        {1, 2, "function logout", "def logout(session):\n    session.close()\n", 41, NULL},
        {5, 5, "", "TIMEOUT = 30  # session timeout\n", 32, NULL},
    };
    T_EQ_INT(
        store_file_replace(s, "src/sess.py", "python", STORE_KIND_TEXT, 1, 1, "h", two, 2, &err),
        0);
    put(s, "docs/readme.md", "", "Nothing relevant\nat all\n", 1);
    /* FTS5 clamps the IDF of terms found in over half the chunks to ~0: keep "session" rare */
    char name[32];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "other/%d.py", i);
        put(s, name, "", "unrelated filler\n", 1);
    }

    cJSON *r = run(s, "session", SEARCH_KEYWORD, 10, NULL, &err);
    T_CHECK(r != NULL);
    if (!r) return;
    cJSON *res = results_of(r);
    T_EQ_INT(cJSON_GetArraySize(res), 3);
    T_CHECK(cJSON_GetObjectItemCaseSensitive(r, "note") == NULL);
    /* scores: positive, descending, 4 decimals; then blank them for the exact comparison */
    double prev = 1e9;
    cJSON *it;
    cJSON_ArrayForEach(it, res)
    {
        cJSON *sc = cJSON_GetObjectItemCaseSensitive(it, "score");
        T_CHECK(cJSON_IsNumber(sc) && sc->valuedouble > 0 && sc->valuedouble <= prev);
        T_CHECK(fabs(sc->valuedouble * 1e4 - round(sc->valuedouble * 1e4)) < 1e-6);
        prev = sc->valuedouble;
        cJSON_SetNumberValue(sc, 0);
    }
    /* sort-independent check: find each by path and start line */
    char *txt = cJSON_PrintUnformatted(res);
    const char *auth =
        "{\"file_path\":\"src/auth.py\",\"language\":\"python\",\"start_line\":20,"
        "\"end_line\":25,\"definitions\":\"function login, class Session\",\"preview\":"
        "\"    session = Session(user)\\n    return session\",\"score\":0,"
        "\"match_lines\":[23,24]}";
    const char *logout =
        "{\"file_path\":\"src/sess.py\",\"language\":\"python\",\"start_line\":1,"
        "\"end_line\":2,\"definitions\":\"function logout\",\"preview\":\"def "
        "logout(session):\\n    session.close()\",\"score\":0,\"match_lines\":[1,2],"
        "\"file_result_count\":2}";
    const char *timeout =
        "{\"file_path\":\"src/sess.py\",\"language\":\"python\",\"start_line\":5,"
        "\"end_line\":5,\"definitions\":\"\",\"preview\":\"TIMEOUT = 30  # session "
        "timeout\",\"score\":0,\"match_lines\":[5],\"file_result_count\":2}";
    T_CHECK(strstr(txt, auth) != NULL);
    T_CHECK(strstr(txt, logout) != NULL);
    T_CHECK(strstr(txt, timeout) != NULL);
    T_EQ_INT(strlen(txt), strlen(auth) + strlen(logout) + strlen(timeout) + 4);
    if (!strstr(txt, auth) || !strstr(txt, logout)) fprintf(stderr, "  got %s\n", txt);
    free(txt);
    cJSON_Delete(r);

    /* no lexical overlap in the preview: match_lines omitted, first two non-empty lines */
    r = run(s, "relevant", SEARCH_KEYWORD, 10, NULL, &err);
    txt = cJSON_PrintUnformatted(results_of(r));
    T_CHECK(strstr(txt, "\"preview\":\"Nothing relevant\\nat all\"") != NULL);
    T_CHECK(strstr(txt, "match_lines\":[1]") != NULL);
    free(txt);
    cJSON_Delete(r);
    store_close(s);
}

static void test_semantic_and_hybrid_fall_back_with_a_note(void)
{
    err_t err;
    store_t *s = new_store(NULL);
    put(s, "a.py", "function load_config", "def load_config(path):\n    pass\n", 1);
    search_mode_t modes[] = {SEARCH_SEMANTIC, SEARCH_HYBRID};
    cJSON *kw = run(s, "load config", SEARCH_KEYWORD, 5, NULL, &err);
    char *kw_txt = cJSON_PrintUnformatted(results_of(kw));
    for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
        cJSON *r = run(s, "load config", modes[i], 5, NULL, &err);
        T_CHECK(r != NULL);
        cJSON *note = cJSON_GetObjectItemCaseSensitive(r, "note");
        T_CHECK(cJSON_IsString(note));
        if (cJSON_IsString(note)) T_EQ_STR(note->valuestring, SEARCH_NOTE_NO_SEMANTIC);
        char *txt = cJSON_PrintUnformatted(results_of(r));
        T_EQ_STR(txt, kw_txt);
        free(txt);
        cJSON_Delete(r);
    }
    free(kw_txt);
    cJSON_Delete(kw);
    /* even with no results, no error */
    cJSON *r = run(s, "nothing-like-this", SEARCH_HYBRID, 5, NULL, &err);
    T_EQ_INT(cJSON_GetArraySize(results_of(r)), 0);
    T_CHECK(cJSON_GetObjectItemCaseSensitive(r, "note") != NULL);
    cJSON_Delete(r);
    store_close(s);
}

static void test_readonly_reader_searches(void)
{
    err_t err;
    char *path;
    store_t *w = new_store(&path);
    put(w, "x/y.py", "class Widget", "class Widget:\n    pass\n", 3);
    store_t *r = store_open(path, true, &err);
    T_CHECK(r != NULL);
    if (!r) return;
    cJSON *res = run(r, "widget", SEARCH_HYBRID, 10, "x/", &err);
    T_EQ_STR(str_at(res, 0, "file_path"), "x/y.py");
    cJSON_Delete(res);
    store_close(r);
    store_close(w);
    free(path);
}

static void test_invalid_utf8_in_index_yields_valid_json_strings(void)
{
    err_t err;
    store_t *s = new_store(NULL);
    put(s, "bad\xff.py", "function f\xfe", "latin1 caf\xe9 here\n", 1);
    cJSON *r = run(s, "latin1", SEARCH_KEYWORD, 10, NULL, &err);
    T_EQ_STR(str_at(r, 0, "file_path"), "bad\xef\xbf\xbd.py");
    T_EQ_STR(str_at(r, 0, "definitions"), "function f\xef\xbf\xbd");
    T_EQ_STR(str_at(r, 0, "preview"), "latin1 caf\xef\xbf\xbd here");
    cJSON_Delete(r);
    store_close(s);
}

int main(void)
{
    T_RUN(test_mode_names_parse);
    T_RUN(test_fts_query_quotes_every_term);
    T_RUN(test_hostile_queries_never_error);
    T_RUN(test_request_validation);
    T_RUN(test_top_k_limits_results);
    T_RUN(test_exact_identifier_ranks_its_definition_first);
    T_RUN(test_definitions_and_file_names_outweigh_body_text);
    T_RUN(test_common_words_are_limited_and_weightless_ones_dropped);
    T_RUN(test_path_prefix_applies_before_ranking);
    T_RUN(test_result_json_shape);
    T_RUN(test_semantic_and_hybrid_fall_back_with_a_note);
    T_RUN(test_readonly_reader_searches);
    T_RUN(test_invalid_utf8_in_index_yields_valid_json_strings);
    return t_done();
}
