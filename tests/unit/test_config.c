#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "t.h"
#include "util.h"

/* Warnings captured from log_warn. */
static sbuf_t g_warn;
static void capture(void *ctx, log_level_t level, const char *msg)
{
    (void)ctx;
    if (level == LOG_WARNING) {
        sbuf_puts(&g_warn, msg);
        sbuf_putc(&g_warn, '\n');
    }
}

static char *write_file(const char *dir, const char *name, const char *text)
{
    err_t err;
    char *path = path_join(dir, name);
    if (mkdir_p(dir, &err) != 0 || file_write_atomic(path, text, strlen(text), &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        exit(2);
    }
    return path;
}

/* A fresh directory under the test's tmpdir. */
static char *fresh_dir(const char *name)
{
    err_t err;
    char *dir = path_join(t_tmpdir(), name);
    if (mkdir_p(dir, &err) != 0) exit(2);
    return dir;
}

/* Loads text as one file into defaults; returns the rc, the message in *err. */
static int load_text(config_t *c, const char *text, err_t *err, char **path_out)
{
    static int n;
    char name[32];
    snprintf(name, sizeof name, "c%d.toml", n++);
    char *path = write_file(t_tmpdir(), name, text);
    config_defaults(c);
    int rc = config_load_file(c, path, err);
    if (path_out)
        *path_out = path;
    else
        free(path);
    return rc;
}

/* Loading text must fail with "<file>:<want>". */
#define T_LOAD_ERR(text, want)                                                                     \
    do {                                                                                           \
        config_t t_c;                                                                              \
        err_t t_err = {{0}};                                                                       \
        char *t_path, t_full[1100];                                                                \
        T_EQ_INT(load_text(&t_c, text, &t_err, &t_path), -1);                                      \
        snprintf(t_full, sizeof t_full, "%s:%s", t_path, want);                                    \
        T_EQ_STR(t_err.msg, t_full);                                                               \
        config_free(&t_c);                                                                         \
        free(t_path);                                                                              \
    } while (0)

static void test_defaults_match_the_design(void)
{
    config_t c;
    config_defaults(&c);
    T_EQ_INT(c.n_include, 0);
    T_EQ_INT(c.n_exclude, 0);
    T_CHECK(c.max_file_bytes == 1048576);
    T_EQ_STR(c.embed_model, "nomic-embed-text-v1.5");
    T_EQ_STR(c.embed_provider, "local");
    T_CHECK(c.embed_url == NULL && c.api_key_env == NULL);
    T_CHECK(c.query_prompt == NULL && c.document_prompt == NULL);
    T_EQ_STR(c.default_mode, "hybrid");
    T_EQ_INT(c.top_k, 10);
    T_EQ_INT(c.debounce_ms, 500);
    T_CHECK(c.auto_watch);
    T_CHECK(c.cache_max_bytes == 2000000000ull);
    T_EQ_INT(c.n_sources, 0);
    T_EQ_INT(config_budget_for(&c, "python"), 1500);
    T_EQ_INT(config_budget_for(&c, "typescript"), 1200);
    T_EQ_INT(config_budget_for(&c, "javascript"), 1200);
    T_EQ_INT(config_budget_for(&c, "go"), 1000);
    T_EQ_INT(config_budget_for(&c, NULL), 1000);
    T_EQ_INT(config_budget_for(&c, "Python"), 1500);
    config_free(&c);
    T_CHECK(c.embed_model == NULL);
    config_free(&c); /* twice is fine after zeroing */
    config_free(NULL);
}

static void test_sizes_parse_with_decimal_and_binary_units(void)
{
    uint64_t b = 0;
    T_EQ_INT(config_parse_size("1MB", &b), 0);
    T_CHECK(b == 1000000);
    T_EQ_INT(config_parse_size("512KiB", &b), 0);
    T_CHECK(b == 524288);
    T_EQ_INT(config_parse_size("1.5GiB", &b), 0);
    T_CHECK(b == 1610612736ull);
    T_EQ_INT(config_parse_size("2 gb", &b), 0);
    T_CHECK(b == 2000000000ull);
    T_EQ_INT(config_parse_size("1048576", &b), 0);
    T_CHECK(b == 1048576);
    T_EQ_INT(config_parse_size("10B", &b), 0);
    T_CHECK(b == 10);
    T_EQ_INT(config_parse_size("3tib", &b), 0);
    T_CHECK(b == 3ull << 40);
    T_EQ_INT(config_parse_size("1.5", &b), -1);
    T_EQ_INT(config_parse_size("-1MB", &b), -1);
    T_EQ_INT(config_parse_size("1XB", &b), -1);
    T_EQ_INT(config_parse_size("", &b), -1);
    T_EQ_INT(config_parse_size("1e3", &b), -1);
    T_EQ_INT(config_parse_size("MB", &b), -1);
    T_EQ_INT(config_parse_size("99999999TB", &b), -1);
    T_EQ_INT(config_parse_size("inf", &b), -1);
    T_EQ_INT(config_parse_size(NULL, &b), -1);
}

static void test_every_key_is_applied(void)
{
    config_t c;
    err_t err;
    char *path;
    int rc = load_text(&c,
                       "[index]\ninclude = [\"src/**\", \"lib/*.py\"]\nexclude = [\"gen/\"]\n"
                       "max_file_size = \"512KiB\"\n[index.languages]\npython = 2000\n"
                       "go = 800\n[embeddings]\nmodel = \"bge-small-en-v1.5\"\n"
                       "provider = \"ollama\"\nurl = \"http://localhost:11434\"\n"
                       "api_key_env = \"MY_KEY\"\nquery_prompt = \"q: \"\ndocument_prompt = \"\"\n"
                       "[search]\ndefault_mode = \"keyword\"\ntop_k = 25\n[daemon]\n"
                       "debounce_ms = 0\nauto_watch = false\n[cache]\nmax_size_bytes = 5000000\n",
                       &err, &path);
    T_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  %s\n", err.msg);
    T_EQ_INT(c.n_include, 2);
    T_EQ_STR(c.include[1], "lib/*.py");
    T_EQ_INT(c.n_exclude, 1);
    T_EQ_STR(c.exclude[0], "gen/");
    T_CHECK(c.max_file_bytes == 524288);
    T_EQ_INT(config_budget_for(&c, "python"), 2000);
    T_EQ_INT(config_budget_for(&c, "go"), 800);
    T_EQ_INT(config_budget_for(&c, "typescript"), 1200);
    T_EQ_STR(c.embed_model, "bge-small-en-v1.5");
    T_EQ_STR(c.embed_provider, "ollama");
    T_EQ_STR(c.embed_url, "http://localhost:11434");
    T_EQ_STR(c.api_key_env, "MY_KEY");
    T_EQ_STR(c.query_prompt, "q: ");
    T_EQ_STR(c.document_prompt, "");
    T_EQ_STR(c.default_mode, "keyword");
    T_EQ_INT(c.top_k, 25);
    T_EQ_INT(c.debounce_ms, 0);
    T_CHECK(!c.auto_watch);
    T_CHECK(c.cache_max_bytes == 5000000);
    T_EQ_INT(c.n_sources, 1);
    T_EQ_STR(c.sources[0], path);
    config_free(&c);
    free(path);
}

static void test_dotted_keys_and_inline_tables_work_like_sections(void)
{
    config_t c;
    err_t err;
    T_EQ_INT(load_text(&c,
                       "index.languages.rust = 900\nsearch.top_k = 3\n"
                       "cache = { max_size = \"1.5GiB\" }\n"
                       "index.languages.default = 700\n",
                       &err, NULL),
             0);
    config_free(&c);
    T_EQ_INT(load_text(&c,
                       "[index]\nlanguages.rust = 900\nlanguages.default = 700\n"
                       "[search]\ntop_k = 3\n[cache]\nmax_size = \"1.5GiB\"\n",
                       &err, NULL),
             0);
    T_EQ_INT(config_budget_for(&c, "rust"), 900);
    T_EQ_INT(config_budget_for(&c, "haskell"), 700);
    T_EQ_INT(c.top_k, 3);
    T_CHECK(c.cache_max_bytes == 1610612736ull);
    config_free(&c);
}

static void test_user_then_project_precedence_key_by_key(void)
{
    char *xdg = fresh_dir("xdg1");
    char *proj = fresh_dir("proj1");
    char *edir = path_join(xdg, "embecode");
    char *user = write_file(edir, "config.toml",
                            "[search]\ntop_k = 20\ndefault_mode = \"semantic\"\n"
                            "[index]\nexclude = [\"a/\", \"b/\"]\n[index.languages]\n"
                            "python = 2000\n[embeddings]\nmodel = \"user-model\"\n");
    char *projf = write_file(proj, ".embecode.toml",
                             "[search]\ntop_k = 30\n[index]\nexclude = [\"c/\"]\n"
                             "languages.go = 800\n");
    setenv("XDG_CONFIG_HOME", xdg, 1);
    config_t c = {0};
    err_t err;
    T_EQ_INT(config_load(&c, proj, &err), 0);
    T_EQ_INT(c.top_k, 30);                /* project wins */
    T_EQ_STR(c.default_mode, "semantic"); /* user value survives */
    T_EQ_STR(c.embed_model, "user-model");
    T_EQ_INT(c.n_exclude, 1); /* arrays replace */
    T_EQ_STR(c.exclude[0], "c/");
    T_EQ_INT(config_budget_for(&c, "python"), 2000); /* languages merge per language */
    T_EQ_INT(config_budget_for(&c, "go"), 800);
    T_EQ_INT(config_budget_for(&c, "javascript"), 1200);
    T_EQ_INT(c.n_sources, 2);
    T_EQ_STR(c.sources[0], user);
    T_EQ_STR(c.sources[1], projf);
    /* loading again into a loaded config releases the old contents (ASan checks leaks) */
    T_EQ_INT(config_load(&c, NULL, &err), 0);
    T_EQ_INT(c.top_k, 20);
    T_EQ_INT(c.n_sources, 1);
    config_free(&c);
    free(xdg), free(proj), free(edir), free(user), free(projf);
}

static void test_missing_files_give_defaults(void)
{
    char *xdg = fresh_dir("xdg-empty");
    char *proj = fresh_dir("proj-empty");
    setenv("XDG_CONFIG_HOME", xdg, 1);
    config_t c;
    err_t err;
    config_defaults(&c); /* as app.c does; config_load must not leak it */
    T_EQ_INT(config_load(&c, proj, &err), 0);
    T_EQ_INT(c.top_k, 10);
    T_EQ_INT(c.n_sources, 0);
    config_free(&c);
    T_EQ_INT(config_load(&c, "/nonexistent/project", &err), 0);
    config_free(&c);
    free(xdg), free(proj);
}

static void test_unknown_keys_warn_with_a_suggestion_and_still_load(void)
{
    config_t c;
    err_t err;
    char *path;
    sbuf_reset(&g_warn);
    log_set_sink(capture, NULL, LOG_WARNING);
    int rc = load_text(&c,
                       "colour = 1\n[search]\ntopk = 5\ntop_k = 7\n[index]\ntop_k = 9\n"
                       "[serch]\nx = 1\n[plugins.foo]\nbar = 1\n",
                       &err, &path);
    log_set_sink(NULL, NULL, LOG_WARNING);
    T_EQ_INT(rc, 0);
    T_EQ_INT(c.top_k, 7);
    char want[2048];
    snprintf(want, sizeof want,
             "%s:1: unknown key 'colour' ignored\n"
             "%s:3: unknown key 'search.topk' ignored (did you mean 'search.top_k'?)\n"
             "%s:6: unknown key 'index.top_k' ignored (did you mean 'search.top_k'?)\n"
             "%s:7: unknown key 'serch' ignored (did you mean 'search'?)\n"
             "%s:9: unknown key 'plugins' ignored\n",
             path, path, path, path, path);
    T_EQ_STR(g_warn.data, want);
    config_free(&c);
    free(path);
}

static void test_bad_values_name_file_line_and_key(void)
{
    T_LOAD_ERR("[search]\n\ntop_k = 500\n",
               "3: top_k must be an integer from 1 to 100, got 500 (key 'search.top_k')");
    T_LOAD_ERR("search.top_k = \"10\"\n",
               "1: top_k must be an integer from 1 to 100, got \"10\" (key 'search.top_k')");
    T_LOAD_ERR("[search]\ndefault_mode = \"fast\"\n",
               "2: default_mode must be \"hybrid\", \"semantic\" or \"keyword\", got \"fast\" "
               "(key 'search.default_mode')");
    T_LOAD_ERR("[embeddings]\nprovider = \"gpt\"\n",
               "2: provider must be \"local\", \"openai\" or \"ollama\", got \"gpt\" (key "
               "'embeddings.provider')");
    T_LOAD_ERR("[embeddings]\nurl = \"localhost:8080\"\n",
               "2: url must be an http:// or https:// URL, got \"localhost:8080\" (key "
               "'embeddings.url')");
    T_LOAD_ERR("[embeddings]\nmodel = \"\"\n", "2: model must not be empty (key "
                                               "'embeddings.model')");
    T_LOAD_ERR("[daemon]\ndebounce_ms = -1\n", "2: debounce_ms must be an integer from 0 to "
                                               "60000, got -1 (key 'daemon.debounce_ms')");
    T_LOAD_ERR("[daemon]\nauto_watch = \"yes\"\n",
               "2: auto_watch must be true or false, got \"yes\" (key 'daemon.auto_watch')");
    T_LOAD_ERR("[index]\ninclude = \"src/**\"\n",
               "2: include must be an array of glob strings like [\"src/**\"], got \"src/**\" "
               "(key 'index.include')");
    T_LOAD_ERR("[index]\nexclude = [\n  \"a/\",\n  42,\n]\n",
               "4: exclude[1] must be a non-empty glob string, got 42 (key 'index.exclude')");
    T_LOAD_ERR("[index]\nmax_file_size = \"2GiB\"\n", "2: max_file_size must be from 1 byte to "
                                                      "1GiB, got 2GiB (key 'index.max_file_size')");
    T_LOAD_ERR("[index]\nmax_file_size = \"lots\"\n",
               "2: max_file_size must be a number of bytes or a size like \"1MB\", \"512KiB\" or "
               "\"1.5GiB\" (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), got \"lots\" (key "
               "'index.max_file_size')");
    T_LOAD_ERR("[index]\nmax_file_size = 1.5\n",
               "2: max_file_size must be a number of bytes or a size like \"1MB\", \"512KiB\" or "
               "\"1.5GiB\" (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), got 1.5 (a float) "
               "(key 'index.max_file_size')");
    T_LOAD_ERR("[cache]\nmax_size_bytes = \"2GB\"\n",
               "2: max_size_bytes must be a whole number of bytes, got \"2GB\" (use "
               "cache.max_size for sizes like \"2GB\") (key 'cache.max_size_bytes')");
    T_LOAD_ERR("[cache]\nmax_size = \"10KB\"\n", "2: max_size must be at least 1MB, got 10KB "
                                                 "(key 'cache.max_size')");
    T_LOAD_ERR("[cache]\nmax_size = \"2GB\"\nmax_size_bytes = 100000000\n",
               "3: set cache.max_size or cache.max_size_bytes, not both (key "
               "'cache.max_size_bytes')");
    T_LOAD_ERR("[index.languages]\npython = 5\n",
               "2: python budget must be an integer from 100 to 100000 (non-whitespace "
               "characters per chunk), got 5 (key 'index.languages.python')");
    T_LOAD_ERR("[index]\nlanguages = [\"python\"]\n",
               "2: languages must be a table of language = budget, e.g. [index.languages] then "
               "python = 1500; got an array (key 'index.languages')");
    T_LOAD_ERR("search = 5\n", "1: search must be a table (a [search] section), got 5 (key "
                               "'search')");
    T_LOAD_ERR("[[search]]\ntop_k = 5\n", "1: search must be a table (a [search] section), got "
                                          "an array (key 'search')");
    T_LOAD_ERR("[embeddings]\nmodel = \"a\\u0000b\"\n", "2: model must not contain NUL "
                                                        "characters (key 'embeddings.model')");
}

static void test_api_key_env_never_echoes_a_secret(void)
{
    T_LOAD_ERR("[embeddings]\napi_key_env = \"sk-SECRET123\"\n",
               "2: api_key_env must be the NAME of an environment variable (like "
               "OPENAI_API_KEY) that holds the key, not the key itself (key "
               "'embeddings.api_key_env')");
}

static void test_syntax_error_names_file_and_line(void)
{
    T_LOAD_ERR("[search]\ntop_k = 5\ndefault_mode = hybrid\n",
               "3: invalid value 'hybrid'; strings must be quoted, e.g. \"hybrid\" (key "
               "'search.default_mode')");
    T_LOAD_ERR("[search]\ntop_k = 5\ntop_k = 6\n",
               "3: duplicate key (first defined on line 2) (key 'search.top_k')");
}

static void test_failed_file_leaves_config_unchanged(void)
{
    config_t c;
    err_t err;
    config_defaults(&c);
    char *good = write_file(t_tmpdir(), "good.toml", "[search]\ntop_k = 42\n");
    char *badf = write_file(t_tmpdir(), "bad.toml",
                            "[search]\ntop_k = 7\n"
                            "[index]\nexclude = [\"x\"]\n"
                            "[daemon]\ndebounce_ms = 999999\n");
    T_EQ_INT(config_load_file(&c, good, &err), 0);
    T_EQ_INT(config_load_file(&c, badf, &err), -1);
    T_EQ_INT(c.top_k, 42);
    T_EQ_INT(c.n_exclude, 0);
    T_EQ_INT(c.n_sources, 1);
    T_EQ_INT(config_load_file(&c, "/nonexistent/c.toml", &err), -1);
    T_CHECK(strstr(err.msg, "/nonexistent/c.toml") != NULL);
    config_free(&c);
    free(good), free(badf);
}

static void test_config_load_reports_bad_project_file_and_stays_valid(void)
{
    char *xdg = fresh_dir("xdg2");
    char *proj = fresh_dir("proj2");
    char *edir = path_join(xdg, "embecode");
    char *user = write_file(edir, "config.toml", "search.top_k = 12\n");
    char *projf = write_file(proj, ".embecode.toml", "[search]\n\ntop_k = 0\n");
    setenv("XDG_CONFIG_HOME", xdg, 1);
    config_t c = {0};
    err_t err;
    T_EQ_INT(config_load(&c, proj, &err), -1);
    char want[1100];
    snprintf(want, sizeof want,
             "%s:3: top_k must be an integer from 1 to 100, got 0 (key "
             "'search.top_k')",
             projf);
    T_EQ_STR(err.msg, want);
    T_EQ_INT(c.top_k, 12); /* defaults + the user file */
    T_EQ_STR(c.default_mode, "hybrid");
    config_free(&c);
    /* a directory where the project file should be */
    char *pdir = path_join(proj, ".embecode.toml");
    unlink(projf);
    mkdir(pdir, 0755);
    T_EQ_INT(config_load(&c, proj, &err), -1);
    T_CHECK(strstr(err.msg, "is a directory") != NULL);
    config_free(&c);
    free(xdg), free(proj), free(edir), free(user), free(projf), free(pdir);
}

/* The shipped example sets every key to its default: loading it changes nothing and warns
 * about nothing. */
static void test_example_file_parses_to_the_defaults(void)
{
    config_t c, d;
    err_t err;
    config_defaults(&c);
    config_defaults(&d);
    sbuf_reset(&g_warn);
    log_set_sink(capture, NULL, LOG_WARNING);
    int rc = config_load_file(&c, ".embecode.toml.example", &err);
    log_set_sink(NULL, NULL, LOG_WARNING);
    T_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  %s\n", err.msg);
    T_EQ_INT(g_warn.len, 0);
    T_EQ_INT(c.n_include, d.n_include);
    T_EQ_INT(c.n_exclude, d.n_exclude);
    T_EQ_INT(c.n_budgets, d.n_budgets);
    for (size_t i = 0; i < d.n_budgets; i++)
        T_EQ_INT(config_budget_for(&c, d.budgets[i].lang), d.budgets[i].budget);
    T_CHECK(c.max_file_bytes == d.max_file_bytes);
    T_EQ_STR(c.embed_model, d.embed_model);
    T_EQ_STR(c.embed_provider, d.embed_provider);
    T_CHECK(c.embed_url == NULL && c.api_key_env == NULL);
    T_CHECK(c.query_prompt == NULL && c.document_prompt == NULL);
    T_EQ_STR(c.default_mode, d.default_mode);
    T_EQ_INT(c.top_k, d.top_k);
    T_EQ_INT(c.debounce_ms, d.debounce_ms);
    T_EQ_INT(c.auto_watch, d.auto_watch);
    T_CHECK(c.cache_max_bytes == d.cache_max_bytes);
    T_EQ_INT(c.n_sources, 1);
    config_free(&c);
    config_free(&d);
}

int main(void)
{
    log_set_level(LOG_ERROR); /* warnings are checked through a sink, not stderr */
    T_RUN(test_defaults_match_the_design);
    T_RUN(test_sizes_parse_with_decimal_and_binary_units);
    T_RUN(test_every_key_is_applied);
    T_RUN(test_dotted_keys_and_inline_tables_work_like_sections);
    T_RUN(test_user_then_project_precedence_key_by_key);
    T_RUN(test_missing_files_give_defaults);
    T_RUN(test_unknown_keys_warn_with_a_suggestion_and_still_load);
    T_RUN(test_bad_values_name_file_line_and_key);
    T_RUN(test_api_key_env_never_echoes_a_secret);
    T_RUN(test_syntax_error_names_file_and_line);
    T_RUN(test_failed_file_leaves_config_unchanged);
    T_RUN(test_config_load_reports_bad_project_file_and_stays_valid);
    T_RUN(test_example_file_parses_to_the_defaults);
    sbuf_free(&g_warn);
    return t_done();
}
