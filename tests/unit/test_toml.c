#include <math.h>

#include "t.h"
#include "toml.h"
#include "util.h"

static err_t g_err;

/* Parses text (as "t.toml"); returns the tree, or NULL with the message in g_err. */
static toml_value_t *parse(const char *text)
{
    toml_value_t *doc = (toml_value_t *)1;
    memset(&g_err, 0, sizeof g_err);
    if (toml_parse(text, strlen(text), "t.toml", &doc, &g_err) == 0) return doc;
    T_CHECK(doc == NULL); /* a failure leaves *out NULL */
    return NULL;
}

/* Parsing text must fail with exactly this message. */
#define T_PARSE_ERR(text, want)                                                                    \
    do {                                                                                           \
        toml_value_t *t_doc = parse(text);                                                         \
        T_CHECK(t_doc == NULL);                                                                    \
        if (t_doc)                                                                                 \
            toml_free(t_doc);                                                                      \
        else                                                                                       \
            T_EQ_STR(g_err.msg, want);                                                             \
    } while (0)

static const char *str_at(const toml_value_t *doc, const char *path)
{
    return toml_string(toml_get(doc, path), NULL);
}

/* ---- structure ---- */

static void test_tables_and_subtables_nest(void)
{
    toml_value_t *d = parse("top = 1\n[a]\nx = 1\n[a.b]\ny = 2\n[c.d.e]\nz = 3\n[c]\nw = 4\n");
    T_CHECK(d != NULL);
    T_EQ_INT(toml_integer(toml_get(d, "top")), 1);
    T_EQ_INT(toml_integer(toml_get(d, "a.x")), 1);
    T_EQ_INT(toml_integer(toml_get(d, "a.b.y")), 2);
    T_EQ_INT(toml_integer(toml_get(d, "c.d.e.z")), 3);
    T_EQ_INT(toml_integer(toml_get(d, "c.w")), 4);
    T_EQ_INT(toml_kind(toml_get(d, "c.d")), TOML_TABLE);
    T_EQ_INT(toml_line(toml_get(d, "a.b")), 4);
    T_EQ_INT(toml_line(toml_get(d, "c")), 8); /* implicit, then defined on line 8 */
    T_CHECK(toml_get(d, "a.nope") == NULL);
    T_CHECK(toml_get(d, "top.x") == NULL); /* descending into a non-table */
    toml_free(d);
}

static void test_table_keys_keep_document_order(void)
{
    toml_value_t *d = parse("b = 1\na = 2\n[z]\n[m]\n");
    T_EQ_INT(toml_table_len(d), 4);
    T_EQ_STR(toml_table_key(d, 0), "b");
    T_EQ_STR(toml_table_key(d, 1), "a");
    T_EQ_STR(toml_table_key(d, 2), "z");
    T_EQ_STR(toml_table_key(d, 3), "m");
    T_EQ_INT(toml_integer(toml_table_value(d, 1)), 2);
    T_CHECK(toml_table_key(d, 4) == NULL);
    toml_free(d);
}

static void test_array_of_tables_appends_elements(void)
{
    toml_value_t *d =
        parse("[[fruit]]\nname = \"apple\"\n[fruit.physical]\ncolor = \"red\"\n"
              "[[fruit.variety]]\nname = \"red delicious\"\n"
              "[[fruit.variety]]\nname = \"granny smith\"\n"
              "[[fruit]]\nname = \"banana\"\n[[fruit.variety]]\nname = \"plantain\"\n");
    T_CHECK(d != NULL);
    const toml_value_t *f = toml_get(d, "fruit");
    T_EQ_INT(toml_kind(f), TOML_ARRAY);
    T_EQ_INT(toml_array_len(f), 2);
    T_EQ_STR(str_at(toml_array_at(f, 0), "name"), "apple");
    T_EQ_STR(str_at(toml_array_at(f, 0), "physical.color"), "red");
    T_EQ_INT(toml_array_len(toml_get(toml_array_at(f, 0), "variety")), 2);
    T_EQ_STR(str_at(toml_array_at(toml_get(toml_array_at(f, 0), "variety"), 1), "name"),
             "granny smith");
    T_EQ_STR(str_at(toml_array_at(f, 1), "name"), "banana");
    T_EQ_INT(toml_array_len(toml_get(toml_array_at(f, 1), "variety")), 1);
    T_CHECK(toml_get(toml_array_at(f, 1), "physical") == NULL);
    toml_free(d);
}

static void test_dotted_and_quoted_keys(void)
{
    toml_value_t *d = parse("name.first = \"Tom\"\nname . last = 'P'\n\"a b\".c = 1\n"
                            "'lit.key' = 2\n\"\" = 3\n3.14 = \"pi\"\n1234 = true\n-_- = 4\n"
                            "site.\"google.com\" = true\n");
    T_CHECK(d != NULL);
    T_EQ_STR(str_at(d, "name.first"), "Tom");
    T_EQ_STR(str_at(d, "name.last"), "P");
    T_EQ_INT(toml_integer(toml_get(d, "a b.c")), 1);
    T_EQ_INT(toml_integer(toml_table_get(d, "lit.key")), 2);
    T_EQ_INT(toml_integer(toml_table_get(d, "")), 3);
    T_EQ_STR(str_at(d, "3.14"), "pi");
    T_CHECK(toml_boolean(toml_get(d, "1234")));
    T_EQ_INT(toml_integer(toml_get(d, "-_-")), 4);
    T_CHECK(toml_boolean(toml_table_get(toml_get(d, "site"), "google.com")));
    toml_free(d);
}

static void test_dotted_keys_may_add_subtables_under_headers(void)
{
    toml_value_t *d = parse("[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n"
                            "[fruit.apple.texture]\nsmooth = true\n");
    T_CHECK(d != NULL);
    T_CHECK(toml_boolean(toml_get(d, "fruit.apple.taste.sweet")));
    T_CHECK(toml_boolean(toml_get(d, "fruit.apple.texture.smooth")));
    toml_free(d);
}

static void test_many_keys_are_all_found(void)
{
    sbuf_t b = {0};
    for (int i = 0; i < 2000; i++)
        sbuf_printf(&b, "key%d = %d\n", i, i * 3);
    toml_value_t *d = parse(b.data);
    T_EQ_INT(toml_table_len(d), 2000);
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
        char k[32];
        snprintf(k, sizeof k, "key%d", i);
        if (toml_integer(toml_table_get(d, k)) != i * 3) bad++;
    }
    T_EQ_INT(bad, 0);
    T_CHECK(toml_table_get(d, "key2000") == NULL);
    toml_free(d);
    sbuf_free(&b);
}

/* ---- strings ---- */

static void test_basic_string_escapes(void)
{
    toml_value_t *d = parse("s = \"tab\\tq\\\"bs\\\\nl\\ncr\\rb\\bf\\f\"\n"
                            "u = \"caf\\u00E9 \\U0001F600\"\n");
    T_EQ_STR(str_at(d, "s"), "tab\tq\"bs\\nl\ncr\rb\bf\f");
    T_EQ_STR(str_at(d, "u"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
    toml_free(d);
}

static void test_string_with_escaped_nul_keeps_length(void)
{
    toml_value_t *d = parse("s = \"a\\u0000b\"\n");
    size_t n = 0;
    const char *s = toml_string(toml_get(d, "s"), &n);
    T_EQ_INT(n, 3);
    T_CHECK(s && s[0] == 'a' && s[1] == 0 && s[2] == 'b');
    toml_free(d);
}

static void test_literal_strings_keep_backslashes(void)
{
    toml_value_t *d = parse("p = 'C:\\Users\\n'\nq = '<\\i\\c*\\s*>'\ne = ''\n");
    T_EQ_STR(str_at(d, "p"), "C:\\Users\\n");
    T_EQ_STR(str_at(d, "q"), "<\\i\\c*\\s*>");
    T_EQ_STR(str_at(d, "e"), "");
    toml_free(d);
}

static void test_multiline_basic_trims_first_newline_and_line_ending_backslash(void)
{
    toml_value_t *d = parse("a = \"\"\"\nRoses\nViolets\"\"\"\n"
                            "b = \"\"\"\nThe quick \\\n\n   brown \\   \n  fox.\"\"\"\n"
                            "c = \"\"\"Here are two quotes: \"\". Three: \"\"\\\".\"\"\"\n"
                            "d = \"\"\"\"quoted\"\"\"\"\n"
                            "e = \"\"\"ends with two\"\"\"\"\"\n");
    T_CHECK(d != NULL);
    T_EQ_STR(str_at(d, "a"), "Roses\nViolets");
    T_EQ_STR(str_at(d, "b"), "The quick brown fox.");
    T_EQ_STR(str_at(d, "c"), "Here are two quotes: \"\". Three: \"\"\".");
    T_EQ_STR(str_at(d, "d"), "\"quoted\"");
    T_EQ_STR(str_at(d, "e"), "ends with two\"\"");
    toml_free(d);
}

static void test_multiline_literal_and_crlf_become_lf(void)
{
    toml_value_t *d = parse("r = '''\r\nfirst\r\n  \\second'''\r\nq = ''''one quote''''\n");
    T_CHECK(d != NULL);
    T_EQ_STR(str_at(d, "r"), "first\n  \\second");
    T_EQ_STR(str_at(d, "q"), "'one quote'");
    toml_free(d);
}

/* ---- numbers, booleans, dates ---- */

static void test_integers_in_all_bases(void)
{
    toml_value_t *d = parse("a = +99\nb = -17\nc = 0\nd = 1_000_000\ne = 0xDEAD_beef\n"
                            "f = 0o755\ng = 0b1101\nh = 9223372036854775807\n"
                            "i = -9223372036854775808\nj = -0\n");
    T_CHECK(d != NULL);
    T_EQ_INT(toml_integer(toml_get(d, "a")), 99);
    T_EQ_INT(toml_integer(toml_get(d, "b")), -17);
    T_EQ_INT(toml_integer(toml_get(d, "d")), 1000000);
    T_EQ_INT(toml_integer(toml_get(d, "e")), 0xDEADBEEF);
    T_EQ_INT(toml_integer(toml_get(d, "f")), 0755);
    T_EQ_INT(toml_integer(toml_get(d, "g")), 13);
    T_CHECK(toml_integer(toml_get(d, "h")) == INT64_MAX);
    T_CHECK(toml_integer(toml_get(d, "i")) == INT64_MIN);
    T_EQ_INT(toml_kind(toml_get(d, "j")), TOML_INTEGER);
    toml_free(d);
}

static void test_floats_with_exponents_inf_nan(void)
{
    toml_value_t *d = parse("a = 3.1415\nb = -0.01\nc = 5e+22\nd = 1e06\ne = -2E-2\n"
                            "f = 224_617.445_991\ng = inf\nh = -inf\ni = nan\nj = +nan\n"
                            "k = 6.626e-34\nl = 0.0\n");
    T_CHECK(d != NULL);
    T_CHECK(fabs(toml_float(toml_get(d, "a")) - 3.1415) < 1e-12);
    T_CHECK(toml_float(toml_get(d, "b")) == -0.01);
    T_CHECK(toml_float(toml_get(d, "c")) == 5e22);
    T_CHECK(toml_float(toml_get(d, "d")) == 1e6);
    T_CHECK(toml_float(toml_get(d, "e")) == -0.02);
    T_CHECK(toml_float(toml_get(d, "f")) == 224617.445991);
    T_CHECK(isinf(toml_float(toml_get(d, "g"))) && toml_float(toml_get(d, "g")) > 0);
    T_CHECK(isinf(toml_float(toml_get(d, "h"))) && toml_float(toml_get(d, "h")) < 0);
    T_CHECK(isnan(toml_float(toml_get(d, "i"))));
    T_CHECK(isnan(toml_float(toml_get(d, "j"))));
    T_CHECK(toml_float(toml_get(d, "k")) == 6.626e-34);
    T_EQ_INT(toml_kind(toml_get(d, "l")), TOML_FLOAT);
    toml_free(d);
}

static void test_booleans_and_wrong_kind_accessors(void)
{
    toml_value_t *d = parse("t = true\nf = false\n");
    T_EQ_INT(toml_kind(toml_get(d, "t")), TOML_BOOLEAN);
    T_CHECK(toml_boolean(toml_get(d, "t")));
    T_CHECK(!toml_boolean(toml_get(d, "f")));
    T_EQ_INT(toml_integer(toml_get(d, "t")), 0);
    T_CHECK(toml_string(toml_get(d, "t"), NULL) == NULL);
    T_EQ_INT(toml_array_len(toml_get(d, "t")), 0);
    T_EQ_INT(toml_table_len(NULL), 0);
    T_EQ_STR(toml_kind_name(TOML_DATETIME), "date-time");
    toml_free(d);
}

static void test_datetimes_are_kept_as_text(void)
{
    toml_value_t *d = parse("a = 1979-05-27T07:32:00Z\nb = 1979-05-27T00:32:00.999999-07:00\n"
                            "c = 1979-05-27 07:32:00\nd = 1979-05-27\ne = 07:32:00\n"
                            "f = 2024-02-29 # leap day\ng = [1979-05-27, 00:00:00]\n");
    T_CHECK(d != NULL);
    T_EQ_INT(toml_kind(toml_get(d, "a")), TOML_DATETIME);
    T_EQ_STR(str_at(d, "a"), "1979-05-27T07:32:00Z");
    T_EQ_STR(str_at(d, "b"), "1979-05-27T00:32:00.999999-07:00");
    T_EQ_STR(str_at(d, "c"), "1979-05-27 07:32:00");
    T_EQ_STR(str_at(d, "d"), "1979-05-27");
    T_EQ_STR(str_at(d, "e"), "07:32:00");
    T_EQ_STR(str_at(d, "f"), "2024-02-29");
    T_EQ_INT(toml_array_len(toml_get(d, "g")), 2);
    toml_free(d);
}

/* ---- arrays and inline tables ---- */

static void test_multiline_arrays_with_comments_and_trailing_comma(void)
{
    toml_value_t *d = parse("a = [\n  \"x\", # first\n  # a comment line\n  'y',\n\n  \"z\",\n]\n"
                            "n = [ [1, 2], [\"a\", 3.5], [] ]\ne = []\nm = [1, \"two\", true]\n");
    T_CHECK(d != NULL);
    const toml_value_t *a = toml_get(d, "a");
    T_EQ_INT(toml_array_len(a), 3);
    T_EQ_STR(toml_string(toml_array_at(a, 2), NULL), "z");
    T_EQ_INT(toml_line(toml_array_at(a, 2)), 6);
    const toml_value_t *n = toml_get(d, "n");
    T_EQ_INT(toml_array_len(n), 3);
    T_EQ_INT(toml_integer(toml_array_at(toml_array_at(n, 0), 1)), 2);
    T_EQ_INT(toml_array_len(toml_array_at(n, 2)), 0);
    T_EQ_INT(toml_array_len(toml_get(d, "e")), 0);
    T_EQ_INT(toml_kind(toml_array_at(toml_get(d, "m"), 2)), TOML_BOOLEAN);
    T_CHECK(toml_array_at(a, 3) == NULL);
    toml_free(d);
}

static void test_inline_tables_nest_and_take_dotted_keys(void)
{
    toml_value_t *d = parse("p = { x = 1, y = { z = \"deep\" }, a.b = 2, a.c = 3 }\n"
                            "e = {}\npts = [ { x = 1 }, { x = 2 } ]\n");
    T_CHECK(d != NULL);
    T_EQ_INT(toml_integer(toml_get(d, "p.x")), 1);
    T_EQ_STR(str_at(d, "p.y.z"), "deep");
    T_EQ_INT(toml_integer(toml_get(d, "p.a.c")), 3);
    T_EQ_INT(toml_table_len(toml_get(d, "e")), 0);
    T_EQ_INT(toml_integer(toml_get(toml_array_at(toml_get(d, "pts"), 1), "x")), 2);
    toml_free(d);
}

static void test_comments_blank_lines_crlf_and_bom(void)
{
    toml_value_t *d = parse("\xEF\xBB\xBF# header comment\r\n\r\n  [t] # c\r\n\tk = 1 # c\r\n#end");
    T_CHECK(d != NULL);
    T_EQ_INT(toml_integer(toml_get(d, "t.k")), 1);
    toml_free(d);
    d = parse("");
    T_CHECK(d != NULL);
    T_EQ_INT(toml_table_len(d), 0);
    toml_free(d);
}

/* ---- errors, each with its line and key ---- */

static void test_duplicate_key_names_both_lines(void)
{
    T_PARSE_ERR("[index]\ntop = 1\n\ntop = 2\n",
                "t.toml:4: duplicate key (first defined on line 2) (key 'index.top')");
    T_PARSE_ERR("a.b = 1\na.b = 2\n", "t.toml:2: duplicate key (first defined on line 1) (key "
                                      "'a.b')");
    T_PARSE_ERR("x = { a = 1, a = 2 }\n",
                "t.toml:1: duplicate key (first defined on line 1) (key 'x.a')");
}

static void test_redefined_tables_are_errors(void)
{
    T_PARSE_ERR("[a]\nx=1\n[b]\n[a]\n",
                "t.toml:4: table [a] is defined twice (first on line 1) (key 'a')");
    T_PARSE_ERR("[a.b]\n[a]\n[a]\n", "t.toml:3: table [a] is defined twice (first on line 2) "
                                     "(key 'a')");
    T_PARSE_ERR("[fruit]\napple.color = 1\n[fruit.apple]\n",
                "t.toml:3: table [fruit.apple] was already defined with dotted keys (line 2) "
                "(key 'fruit.apple')");
    T_PARSE_ERR("[a.b]\nz = 1\n[a]\nb.t = 2\n",
                "t.toml:4: cannot add keys to it with a dotted key: that table was already "
                "defined by a [table] header (line 1) (key 'a.b.t')");
    T_PARSE_ERR("a = {x = 1}\n[a]\n", "t.toml:2: cannot define it as a [table]: it is an "
                                      "inline table (line 1), which is complete as written "
                                      "(key 'a')");
    T_PARSE_ERR("a = {x = 1}\na.y = 2\n", "t.toml:2: cannot add keys to it with a dotted key: "
                                          "it is an inline table (line 1), which is complete "
                                          "as written (key 'a.y')");
    T_PARSE_ERR("a = [1]\n[[a]]\n", "t.toml:2: cannot append to it with [[...]]: the key "
                                    "already holds an array (line 1) (key 'a')");
    T_PARSE_ERR("[[a]]\n[a]\n", "t.toml:2: cannot define it as a [table]: it is an array of "
                                "tables (line 1); use [[...]] to add an element (key 'a')");
    T_PARSE_ERR("a = 1\n[a.b]\n", "t.toml:2: cannot use it as a table: the key already holds "
                                  "an integer (line 1) (key 'a.b')");
    T_PARSE_ERR("a = 'x'\na.b = 1\n", "t.toml:2: cannot add keys to it with a dotted key: the "
                                      "key already holds a string (line 1) (key 'a.b')");
}

static void test_string_errors_name_the_start_line(void)
{
    T_PARSE_ERR("a = 1\nb = \"open\n", "t.toml:2: unterminated string: a \"...\" string must "
                                       "close on the same line (use \"\"\" for multi-line text) "
                                       "(key 'b')");
    T_PARSE_ERR("x = 1\n\ns = \"\"\"\nline\nline", "t.toml:3: unterminated string: add the "
                                                   "closing \"\"\" (key 's')");
    T_PARSE_ERR("s = 'abc", "t.toml:1: unterminated string: add the closing ' (key 's')");
    T_PARSE_ERR("\n[t]\np = \"C:\\Users\"\n",
                "t.toml:3: \\U needs exactly 8 hex digits (for a backslash write \\\\ or use "
                "a 'literal string') (key 't.p')");
    T_PARSE_ERR("p = \"a\\qb\"\n",
                "t.toml:1: invalid escape '\\q'; valid escapes are \\b \\t \\n \\f \\r \\\" \\\\ "
                "\\uXXXX \\UXXXXXXXX (write \\\\ for a backslash) (key 'p')");
    T_PARSE_ERR("s = \"\\uD800\"\n", "t.toml:1: \\u escape U+D800 is not a Unicode scalar value "
                                     "(key 's')");
    T_PARSE_ERR("s = \"\\u12\"\n", "t.toml:1: \\u needs exactly 4 hex digits (for a "
                                   "backslash write \\\\ or use a 'literal string') (key 's')");
    T_PARSE_ERR("s = \"a\x01\"\n", "t.toml:1: control character 0x01 in string; write it as "
                                   "\\u0001 (key 's')");
    T_PARSE_ERR("s = \"\"\"a\\  b\"\"\"\n", "t.toml:1: a backslash followed by blanks must end "
                                            "the line (key 's')");
    T_PARSE_ERR("\"\"\"k\"\"\" = 1\n", "t.toml:1: multi-line strings cannot be used as keys");
    T_PARSE_ERR("\"a\\u0000\" = 1\n", "t.toml:1: keys must not contain U+0000");
}

static void test_number_errors(void)
{
    T_PARSE_ERR("n = 012\n", "t.toml:1: invalid integer '012': leading zeros are not allowed "
                             "(key 'n')");
    T_PARSE_ERR("n = 1__0\n", "t.toml:1: invalid integer '1__0' (digits only, '_' only between "
                              "digits) (key 'n')");
    T_PARSE_ERR("n = 0xG\n", "t.toml:1: invalid hexadecimal integer '0xG' (digits only, '_' "
                             "only between digits) (key 'n')");
    T_PARSE_ERR("n = 9223372036854775808\n", "t.toml:1: integer '9223372036854775808' is out of "
                                             "range for a 64-bit signed integer (key 'n')");
    T_PARSE_ERR("n = -0x1\n", "t.toml:1: invalid integer '-0x1': hex, octal and binary integers "
                              "cannot have a sign (key 'n')");
    T_PARSE_ERR("n = 1.\n", "t.toml:1: invalid number '1.': a '.' needs digits on both sides "
                            "(key 'n')");
    T_PARSE_ERR("n = .5\n", "t.toml:1: invalid number '.5' (key 'n')");
    T_PARSE_ERR("n = 1e\n", "t.toml:1: invalid number '1e': the exponent must be digits (key "
                            "'n')");
    T_PARSE_ERR("n = 1e999\n", "t.toml:1: float '1e999' is out of range (key 'n')");
    T_PARSE_ERR("n = 2023-02-30\n", "t.toml:1: invalid date 2023-02-30: no such day (key 'n')");
    T_PARSE_ERR("n = 12:30\n", "t.toml:1: invalid local time: times are written HH:MM:SS "
                               "(seconds are required) (key 'n')");
    T_PARSE_ERR("n = 1979-05-27T25:00:00\n", "t.toml:1: invalid date-time: time 25:00:00 is out "
                                             "of range (key 'n')");
}

static void test_value_and_line_errors(void)
{
    T_PARSE_ERR("[search]\nmode = hybrid\n", "t.toml:2: invalid value 'hybrid'; strings must be "
                                             "quoted, e.g. \"hybrid\" (key 'search.mode')");
    T_PARSE_ERR("a =\nb = 1\n", "t.toml:1: missing value after '='; write e.g. key = \"text\" "
                                "or key = 10 (key 'a')");
    T_PARSE_ERR("a = truex\n", "t.toml:1: invalid value 'truex'; strings must be quoted, e.g. "
                               "\"truex\" (key 'a')");
    T_PARSE_ERR("a = 1 b = 2\n", "t.toml:1: unexpected 'b' after the value; put each key = "
                                 "value or [table] on its own line");
    T_PARSE_ERR("a 1\n", "t.toml:1: expected '=' after the key, found '1' (key 'a')");
    T_PARSE_ERR("x=1\n= 1\n", "t.toml:2: expected a key (letters, digits, '_', '-', or a quoted "
                              "string), found '='");
    T_PARSE_ERR("[a\nb = 1\n", "t.toml:1: expected ']' to close the table header, found end of "
                               "line (key 'a')");
    T_PARSE_ERR("[a] b = 1\n", "t.toml:1: unexpected 'b' after the table header; put each key "
                               "= value or [table] on its own line");
    T_PARSE_ERR("a = [1, 2\n\nb = 3\n", "t.toml:3: expected ',' or ']' in array, found 'b' (key "
                                        "'a')");
    T_PARSE_ERR("\na = [1,\n2,\n", "t.toml:2: unterminated array: add the closing ']' (key 'a')");
    T_PARSE_ERR("a = {x = 1,\ny = 2}\n", "t.toml:1: an inline table { ... } must be on one "
                                         "line; use a [table] section for longer ones (key 'a')");
    T_PARSE_ERR("a = {x = 1,}\n", "t.toml:1: trailing comma in inline table is not allowed in "
                                  "TOML 1.0 (key 'a')");
    T_PARSE_ERR("a = 1\rb = 2\n", "t.toml:1: carriage return not followed by newline");
    T_PARSE_ERR("a = 1\n# bad \x07 bell\n", "t.toml:2: control character 0x07 in comment; "
                                            "remove it");
    T_PARSE_ERR("a = 1\nb = \"\xC3\x28\"\n", "t.toml:2: invalid UTF-8 (byte 0xC3); save the file "
                                             "as UTF-8");
    T_PARSE_ERR("a = \"\xED\xA0\x80\"\n", "t.toml:1: invalid UTF-8 (byte 0xED); save the file as "
                                          "UTF-8");
}

static void test_deep_nesting_is_refused_not_crashing(void)
{
    sbuf_t b = {0};
    sbuf_puts(&b, "a = ");
    for (int i = 0; i < 5000; i++)
        sbuf_putc(&b, '[');
    toml_value_t *d = parse(b.data);
    T_CHECK(d == NULL);
    T_CHECK(strstr(g_err.msg, "nested more than 100 deep") != NULL);
    sbuf_reset(&b);
    sbuf_puts(&b, "a = ");
    for (int i = 0; i < 5000; i++)
        sbuf_puts(&b, "{b=");
    d = parse(b.data);
    T_CHECK(d == NULL);
    T_CHECK(strstr(g_err.msg, "nested more than 100 deep") != NULL);
    sbuf_reset(&b);
    sbuf_puts(&b, "x");
    for (int i = 0; i < 5000; i++)
        sbuf_puts(&b, ".x");
    sbuf_puts(&b, " = 1\n");
    d = parse(b.data);
    T_CHECK(d == NULL);
    T_CHECK(strstr(g_err.msg, "more than 100 dotted parts") != NULL);
    sbuf_reset(&b); /* 60 dotted parts inside each of 3 nested inline tables: over the cap */
    sbuf_puts(&b, "a = ");
    for (int l = 0; l < 3; l++) {
        sbuf_puts(&b, "{ k");
        for (int i = 0; i < 60; i++)
            sbuf_puts(&b, ".k");
        sbuf_puts(&b, " = ");
    }
    sbuf_puts(&b, "1 } } }\n");
    d = parse(b.data);
    T_CHECK(d == NULL);
    T_CHECK(strstr(g_err.msg, "nested more than 100 deep") != NULL);
    sbuf_free(&b);
}

static void test_parse_file_reports_missing_file(void)
{
    toml_value_t *d = (toml_value_t *)1;
    err_t err;
    T_CHECK(toml_parse_file("/nonexistent/embecode.toml", &d, &err) < 0);
    T_CHECK(d == NULL);
    T_CHECK(strstr(err.msg, "/nonexistent/embecode.toml") != NULL);
    char *path = path_join(t_tmpdir(), "f.toml");
    T_EQ_INT(file_write_atomic(path, "[x]\ny = 'z'\nbad", 15, &err), 0);
    T_CHECK(toml_parse_file(path, &d, &err) < 0);
    char want[512];
    snprintf(want, sizeof want,
             "%s:3: expected '=' after the key, found end of file (key "
             "'x.bad')",
             path);
    T_EQ_STR(err.msg, want);
    free(path);
}

/* ---- robustness: truncated, mutated and random inputs never crash ---- */

static const char rich_doc[] =
    "# a document using every feature\n"
    "title = \"TOML \\u00E9 \\U0001F600\"\n"
    "lit = 'C:\\path'\n"
    "ml = \"\"\"\nline one \\\n   continued \"\" quotes\"\"\"\n"
    "mll = '''\nraw\n'''\n"
    "ints = [1_000, 0xff, 0o7, 0b1, -3, +4]\n"
    "floats = [1.5, -2e-3, inf, nan, 6.02E23]\n"
    "when = 1979-05-27T07:32:00-08:00\n"
    "day = 1979-05-27\n"
    "tbl = { a = 1, b.c = \"x\", d = [ {e = true} ] }\n"
    "a.b.c = 1\n"
    "\"quoted key\" = false\n"
    "[server]\nhost = \"localhost\"  # comment\nports = [\n  8001, # one\n  8002,\n]\n"
    "[server.limits]\nmax = 10\n"
    "[[products]]\nname = \"Hammer\"\n[products.dims]\nw = 1.0\n"
    "[[products]]\nname = 'Nail'\n\r\n"
    "[index.languages]\npython = 1500\n";

static void check_outcome(const char *text, size_t len, int *ok, int *bad)
{
    toml_value_t *d = (toml_value_t *)1;
    err_t err;
    memset(&err, 0, sizeof err);
    int rc = toml_parse(text, len, "fz.toml", &d, &err);
    if (rc == 0) {
        (*ok) += d != NULL;
        toml_free(d);
    } else {
        /* every failure names the file and a line */
        (*bad) += d == NULL && strncmp(err.msg, "fz.toml:", 8) == 0 && err.msg[8] >= '1' &&
                  err.msg[8] <= '9';
    }
}

static void test_rich_document_parses(void)
{
    toml_value_t *d = parse(rich_doc);
    T_CHECK(d != NULL);
    if (!d) fprintf(stderr, "  %s\n", g_err.msg);
    T_EQ_STR(str_at(d, "ml"), "line one continued \"\" quotes");
    T_EQ_INT(toml_integer(toml_array_at(toml_get(d, "server.ports"), 1)), 8002);
    T_EQ_INT(toml_integer(toml_get(d, "index.languages.python")), 1500);
    T_EQ_INT(toml_array_len(toml_get(d, "products")), 2);
    toml_free(d);
}

static void test_every_truncation_parses_or_fails_cleanly(void)
{
    size_t n = strlen(rich_doc);
    int ok = 0, bad = 0;
    for (size_t len = 0; len <= n; len++) {
        char *copy = xmalloc(len ? len : 1); /* exact size: ASan catches reads past the end */
        memcpy(copy, rich_doc, len);
        check_outcome(copy, len, &ok, &bad);
        free(copy);
    }
    T_EQ_INT(ok + bad, (int)n + 1);
    T_CHECK(ok > 10 && bad > 10);
}

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void test_mutated_documents_never_crash(void)
{
    static const char alphabet[] = "[]{}\"'=.,#\n\r\t \\_-+:0123456789abcdefxobeEuUTZz\x00\x7f"
                                   "\xC3\xA9\xFF";
    size_t n = strlen(rich_doc);
    int ok = 0, bad = 0, runs = 20000;
    char *buf = xmalloc(n + 16);
    for (int r = 0; r < runs; r++) {
        memcpy(buf, rich_doc, n);
        size_t len = n;
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = rng() % len;
            char c = alphabet[rng() % (sizeof alphabet - 1)];
            switch (rng() % 3) {
            case 0:
                buf[at] = c;
                break;
            case 1:
                memmove(buf + at, buf + at + 1, len - at - 1), len--;
                break;
            default:
                if (len < n + 15) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = c;
                    len++;
                }
            }
        }
        char *exact = xmalloc(len);
        memcpy(exact, buf, len);
        check_outcome(exact, len, &ok, &bad);
        free(exact);
    }
    free(buf);
    T_EQ_INT(ok + bad, runs);
    T_CHECK(bad > runs / 4);
}

static void test_random_garbage_never_crashes(void)
{
    static const char alphabet[] = "[]{}\"'=.,#\n \\ab1_-+:";
    int ok = 0, bad = 0, runs = 10000;
    for (int r = 0; r < runs; r++) {
        size_t len = rng() % 64;
        char *buf = xmalloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = r % 2 ? alphabet[rng() % (sizeof alphabet - 1)] : (char)(rng() & 0xff);
        check_outcome(buf, len, &ok, &bad);
        free(buf);
    }
    T_EQ_INT(ok + bad, runs);
}

int main(void)
{
    T_RUN(test_tables_and_subtables_nest);
    T_RUN(test_table_keys_keep_document_order);
    T_RUN(test_array_of_tables_appends_elements);
    T_RUN(test_dotted_and_quoted_keys);
    T_RUN(test_dotted_keys_may_add_subtables_under_headers);
    T_RUN(test_many_keys_are_all_found);
    T_RUN(test_basic_string_escapes);
    T_RUN(test_string_with_escaped_nul_keeps_length);
    T_RUN(test_literal_strings_keep_backslashes);
    T_RUN(test_multiline_basic_trims_first_newline_and_line_ending_backslash);
    T_RUN(test_multiline_literal_and_crlf_become_lf);
    T_RUN(test_integers_in_all_bases);
    T_RUN(test_floats_with_exponents_inf_nan);
    T_RUN(test_booleans_and_wrong_kind_accessors);
    T_RUN(test_datetimes_are_kept_as_text);
    T_RUN(test_multiline_arrays_with_comments_and_trailing_comma);
    T_RUN(test_inline_tables_nest_and_take_dotted_keys);
    T_RUN(test_comments_blank_lines_crlf_and_bom);
    T_RUN(test_duplicate_key_names_both_lines);
    T_RUN(test_redefined_tables_are_errors);
    T_RUN(test_string_errors_name_the_start_line);
    T_RUN(test_number_errors);
    T_RUN(test_value_and_line_errors);
    T_RUN(test_deep_nesting_is_refused_not_crashing);
    T_RUN(test_parse_file_reports_missing_file);
    T_RUN(test_rich_document_parses);
    T_RUN(test_every_truncation_parses_or_fails_cleanly);
    T_RUN(test_mutated_documents_never_crash);
    T_RUN(test_random_garbage_never_crashes);
    return t_done();
}
