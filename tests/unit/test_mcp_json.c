#include "mcp_json.h"
#include "t.h"
#include "util.h"

static char *id_text(cJSON *id)
{
    char *s = id ? cJSON_PrintUnformatted(id) : xstrdup("(none)");
    cJSON_Delete(id);
    return s;
}

static char *broken(const char *line)
{
    return id_text(mcp_id_of_broken(line, strlen(line)));
}

static char *parsed(const char *line)
{
    cJSON *msg = cJSON_Parse(line);
    char *s = id_text(mcp_id_of(msg, line, strlen(line)));
    cJSON_Delete(msg);
    return s;
}

#define T_ID(expr, want)                                                                           \
    do {                                                                                           \
        char *got_ = (expr);                                                                       \
        T_EQ_STR(got_, want);                                                                      \
        free(got_);                                                                                \
    } while (0)

static void test_ids_are_echoed_verbatim(void)
{
    T_ID(parsed("{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"ping\"}"),
         "9007199254740993");
    T_ID(parsed("{\"id\":1.50e3}"), "1.50e3");
    T_ID(parsed("{\"id\":-0}"), "-0");
    T_ID(parsed("{\"id\":\"a\\\"b\"}"), "\"a\\\"b\"");
    T_ID(parsed("{\"id\":null}"), "(none)");
    T_ID(parsed("{\"id\":[1]}"), "(none)");
    T_ID(parsed("{\"method\":\"x\"}"), "(none)");
    /* the member is found after nested values and escaped keys */
    T_ID(parsed("{\"params\":{\"id\":5,\"s\":\"}\"},\"i\\u0064\":7}"), "7");
}

static void test_broken_lines_give_the_id_when_it_is_intact(void)
{
    T_ID(broken("{\"id\":42,\"method\":"), "42");
    T_ID(broken("{\"id\": \"x\" , \"method\": tru"), "\"x\"");
    T_ID(broken("{\"method\":\"a\",\"id\":12"), "(none)"); /* not followed by , or } */
    T_ID(broken("{\"id\":01}"), "(none)");                 /* not strict JSON */
    T_ID(broken("{\"id\":+1}"), "(none)");
    T_ID(broken("{\"id\":1.}"), "(none)");
    T_ID(broken("[{\"id\":1}]"), "(none)");
    T_ID(broken("{\"a\":\"unterminated,\"id\":3}"), "(none)");
    T_ID(broken(""), "(none)");
    T_ID(broken("{"), "(none)");
}

static void test_member_lookup(void)
{
    const char *s = "{ \"a\" : [1,{\"b\":2}] , \"b\" : {\"c\":\"]\"} }";
    size_t vs, ve;
    T_CHECK(mcp_json_member(s, strlen(s), "b", &vs, &ve));
    T_EQ_INT((int)(ve - vs), (int)strlen("{\"c\":\"]\"}"));
    T_CHECK(!mcp_json_member(s, strlen(s), "c", &vs, &ve));
    T_CHECK(!mcp_json_member(s, 10, "b", &vs, &ve)); /* never reads past n */
}

static void test_id_equality(void)
{
    cJSON *one = cJSON_CreateNumber(1), *raw = cJSON_CreateRaw("1.0"),
          *str = cJSON_CreateString("1");
    cJSON *big1 = cJSON_CreateRaw("9007199254740993"), *big2 = cJSON_CreateRaw("9007199254740992");
    T_CHECK(mcp_id_equal(one, raw));
    T_CHECK(!mcp_id_equal(one, str));
    T_CHECK(mcp_id_equal(str, str));
    T_CHECK(!mcp_id_equal(big1, big2)); /* beyond 2^53: only the same text matches */
    T_CHECK(mcp_id_equal(big1, big1));
    T_CHECK(!mcp_id_equal(NULL, one));
    cJSON_Delete(one);
    cJSON_Delete(raw);
    cJSON_Delete(str);
    cJSON_Delete(big1);
    cJSON_Delete(big2);
}

static void test_utf8_check_and_repair(void)
{
    T_EQ_INT((int)mcp_utf8_check("h\xC3\xA9llo", 6), 6);
    T_EQ_INT((int)mcp_utf8_check("a\xC0\xAF", 3), 1);        /* overlong */
    T_EQ_INT((int)mcp_utf8_check("ab\xED\xA0\x80", 5), 2);   /* surrogate */
    T_EQ_INT((int)mcp_utf8_check("\xF4\x90\x80\x80", 4), 0); /* > U+10FFFF */
    T_EQ_INT((int)mcp_utf8_check("xy\xE2\x82", 4), 2);       /* truncated */
    sbuf_t b = {0};
    mcp_utf8_append_clean(&b,
                          "a\xFF"
                          "b\xE2\x82",
                          5);
    T_EQ_STR(b.data, "a\xEF\xBF\xBD"
                     "b\xEF\xBF\xBD\xEF\xBF\xBD");
    sbuf_free(&b);
}

int main(void)
{
    T_RUN(test_ids_are_echoed_verbatim);
    T_RUN(test_broken_lines_give_the_id_when_it_is_intact);
    T_RUN(test_member_lookup);
    T_RUN(test_id_equality);
    T_RUN(test_utf8_check_and_repair);
    return t_done();
}
