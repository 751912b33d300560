#include "t.h"
#include "util.h"
#include "log.h"

static void test_sbuf_grows_and_formats(void)
{
    sbuf_t b = {0};
    for (int i = 0; i < 1000; i++) sbuf_printf(&b, "%d,", i);
    T_EQ_INT(b.len, strlen(b.data));
    T_CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    char *s = sbuf_take(&b);
    T_CHECK(b.data == NULL);
    free(s);
    sbuf_free(&b);
}

static void test_path_join_uses_one_slash(void)
{
    char *p = path_join("/a/b/", "/c");
    T_EQ_STR(p, "/a/b/c");
    free(p);
    p = path_join("/", "x");
    T_EQ_STR(p, "/x");
    free(p);
}

static void test_file_roundtrip_atomic(void)
{
    err_t err;
    char *path = path_join(t_tmpdir(), "sub/dir/f.txt");
    char *dir = path_join(t_tmpdir(), "sub/dir");
    T_EQ_INT(mkdir_p(dir, &err), 0);
    T_EQ_INT(file_write_atomic(path, "hello", 5, &err), 0);
    char *data;
    size_t n;
    T_EQ_INT(file_read_all(path, 100, &data, &n, &err), 0);
    T_EQ_INT(n, 5);
    T_EQ_STR(data, "hello");
    free(data);
    T_CHECK(file_read_all(path, 2, &data, &n, &err) < 0);
    T_CHECK(strstr(err.msg, "over the limit") != NULL);
    T_CHECK(file_read_all("/nonexistent/x", 10, &data, &n, &err) < 0);
    T_CHECK(strstr(err.msg, "/nonexistent/x") != NULL);
    free(path);
    free(dir);
}

static void test_err_prefix_keeps_message(void)
{
    err_t err;
    err_set(&err, "bad value %d", 3);
    err_prefix(&err, "config.toml:4");
    T_EQ_STR(err.msg, "config.toml:4: bad value 3");
}

static void test_iso8601_formats_utc(void)
{
    char buf[32];
    time_iso8601(0, buf, sizeof buf);
    T_EQ_STR(buf, "1970-01-01T00:00:00Z");
}

static void test_log_level_names_parse(void)
{
    T_EQ_INT(log_level_parse("debug"), LOG_DEBUG);
    T_EQ_INT(log_level_parse("warning"), LOG_WARNING);
    T_EQ_INT(log_level_parse("emergency"), LOG_ERROR);
    T_EQ_INT(log_level_parse("nope"), -1);
}

int main(void)
{
    T_RUN(test_sbuf_grows_and_formats);
    T_RUN(test_path_join_uses_one_slash);
    T_RUN(test_file_roundtrip_atomic);
    T_RUN(test_err_prefix_keeps_message);
    T_RUN(test_iso8601_formats_utc);
    T_RUN(test_log_level_names_parse);
    return t_done();
}
