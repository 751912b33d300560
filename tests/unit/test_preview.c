#include "preview.h"
#include "t.h"
#include "util.h"

static char *tokens_of(const char *query)
{
    preview_query_t q;
    preview_query_init(&q, query);
    sbuf_t b = {0};
    sbuf_puts(&b, "");
    for (size_t i = 0; i < q.n; i++)
        sbuf_printf(&b, "%s%s", i ? "," : "", q.tokens[i]);
    preview_query_free(&q);
    return sbuf_take(&b);
}

#define T_TOKENS(query, want)                                                                      \
    do {                                                                                           \
        char *got_ = tokens_of(query);                                                             \
        T_EQ_STR(got_, want);                                                                      \
        free(got_);                                                                                \
    } while (0)

static void test_query_tokens_follow_design(void)
{
    T_TOKENS("UserAvatar component", "useravatar,component");
    T_TOKENS("a b foo", "foo");
    T_TOKENS("foo bar foo FOO", "foo,bar");
    T_TOKENS("", "");
    T_TOKENS(NULL, "");
    T_TOKENS("user-avatar.tsx", "user,avatar,tsx");
    T_TOKENS("parse_http2_frame(x)", "parse_http2_frame");
    T_TOKENS("caf\xc3\xa9 na\xc3\xafve", "caf,na,ve");
}

/* Builds the preview of content (first line = start) for query. */
static preview_t run(const char *query, const char *content, uint32_t start)
{
    preview_query_t q;
    preview_t p;
    preview_query_init(&q, query);
    preview_build(&q, content, content ? strlen(content) : 0, start, &p);
    preview_query_free(&q);
    return p;
}

#define T_PREVIEW(query, content, want)                                                            \
    do {                                                                                           \
        preview_t p_ = run(query, content, 1);                                                     \
        T_EQ_STR(p_.text, want);                                                                   \
        preview_free(&p_);                                                                         \
    } while (0)

static void test_preview_shows_the_matching_line(void)
{
    const char *c = "import React from 'react'\n"
                    "import { cn } from '@/lib/utils'\n"
                    "\n"
                    "// avatar\n"
                    "export function UserAvatar({\n"
                    "  return null\n";
    /* the nearest non-empty neighbour of line 5 is line 4 (before wins the tie) */
    T_PREVIEW("UserAvatar", c, "// avatar\nexport function UserAvatar({");
    T_PREVIEW("useravatar", c, "// avatar\nexport function UserAvatar({");
}

static void test_preview_falls_back_to_first_two_nonempty_lines(void)
{
    const char *c = "\n   \ndef verify_credentials(user, pw):\n\n    \"\"\"Check.\"\"\"\n    x\n";
    T_PREVIEW("authentication logic", c,
              "def verify_credentials(user, pw):\n    \"\"\"Check.\"\"\"");
    T_PREVIEW("a b c", c, "def verify_credentials(user, pw):\n    \"\"\"Check.\"\"\"");
    T_PREVIEW("", c, "def verify_credentials(user, pw):\n    \"\"\"Check.\"\"\"");
    T_PREVIEW("anything", "", "");
    T_PREVIEW("anything", NULL, "");
    T_PREVIEW("anything", "\n\n  \n", "");
    T_PREVIEW("zzz", "only line\n", "only line");
}

static void test_preview_best_line_and_nearest_other_match(void)
{
    /* foo on lines 3, 8 and 15: best is 3 (earliest on ties), nearest other match is 8 */
    const char *c = "l1\nl2\nfoo three\nl4\nl5\nl6\nl7\nfoo eight\nl9\nl10\nl11\nl12\nl13\nl14\n"
                    "foo fifteen\n";
    T_PREVIEW("foo", c, "foo three\nfoo eight");
    /* more distinct hits win over earlier lines */
    T_PREVIEW("foo fifteen", c, "foo eight\nfoo fifteen");
}

static void test_preview_tie_on_distance_prefers_the_line_before(void)
{
    const char *c = "match a\nx\nmatch match best\nx\nmatch b\n";
    T_PREVIEW("match best", c, "match a\nmatch match best");
    /* non-empty neighbour: before wins; when the line before is empty, the one after */
    T_PREVIEW("target", "before\ntarget\nafter\n", "before\ntarget");
    T_PREVIEW("target", "before\n  \ntarget\n\nafter\n", "before\ntarget");
    T_PREVIEW("target", "\t\ntarget\nafter\n", "target\nafter");
    T_PREVIEW("target", "target\n\n\nlater\n", "target\nlater");
}

static void test_preview_single_matching_line_alone(void)
{
    T_PREVIEW("needle", "\n\nfind the needle here\n\n", "find the needle here");
}

static void test_preview_crlf_lines_lose_their_cr(void)
{
    T_PREVIEW("beta", "alpha\r\nbeta\r\n", "alpha\nbeta");
}

static void test_preview_cut_at_200_characters(void)
{
    char line[251];
    memset(line, 'x', 250);
    line[250] = 0;
    preview_t p = run("x", line, 1); /* single-char token dropped: fallback */
    T_EQ_INT(strlen(p.text), 200);
    T_CHECK(strcmp(p.text + 197, "...") == 0);
    T_CHECK(p.text[196] == 'x');
    preview_free(&p);

    /* exactly 200 characters: no cut */
    line[200] = 0;
    p = run("xx", line, 1);
    T_EQ_STR(p.text, line);
    preview_free(&p);
    /* 201 across two lines (newline counts) */
    char two[260];
    memset(two, 'y', 100);
    two[100] = '\n';
    memset(two + 101, 'z', 100);
    two[201] = 0;
    p = run("yy", two, 1);
    T_EQ_INT(strlen(p.text), 200);
    T_CHECK(strcmp(p.text + 197, "...") == 0);
    preview_free(&p);
}

static void test_preview_counts_characters_not_bytes(void)
{
    sbuf_t b = {0};
    for (int i = 0; i < 250; i++)
        sbuf_puts(&b, "\xc3\xa9"); /* é */
    preview_t p = run("zz", b.data, 1);
    T_EQ_INT(strlen(p.text), 197 * 2 + 3);
    T_CHECK(strcmp(p.text + 394, "...") == 0);
    preview_free(&p);
    sbuf_reset(&b);
    for (int i = 0; i < 200; i++)
        sbuf_puts(&b, "\xe2\x82\xac"); /* € x200: fits */
    p = run("zz", b.data, 1);
    T_EQ_INT(strlen(p.text), 600);
    preview_free(&p);
    sbuf_free(&b);
}

static void test_preview_replaces_invalid_utf8(void)
{
    T_PREVIEW("bad", "bad \xff byte\n", "bad \xef\xbf\xbd byte");
    char *c = preview_utf8_clean("a\xc3(b\xed\xa0\x80z\xf0\x9f\x98\x80", 12);
    T_EQ_STR(c, "a\xef\xbf\xbd(b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\xf0\x9f\x98\x80");
    free(c);
    c = preview_utf8_clean("x\0y", 3);
    T_EQ_STR(c, "x\xef\xbf\xbdy");
    free(c);
    c = preview_utf8_clean("\xe2\x82", 2); /* truncated sequence at the end */
    T_EQ_STR(c, "\xef\xbf\xbd\xef\xbf\xbd");
    free(c);
}

static void test_match_lines_are_absolute_and_capped(void)
{
    preview_t p = run("foo", "foo\nbar\nFOO\n", 10);
    T_EQ_INT(p.n_match_lines, 2);
    T_EQ_INT(p.match_lines[0], 10);
    T_EQ_INT(p.match_lines[1], 12);
    preview_free(&p);

    sbuf_t b = {0};
    for (int i = 0; i < 20; i++)
        sbuf_puts(&b, "self.x = 1\n");
    p = run("self", b.data, 100);
    T_EQ_INT(p.n_match_lines, PREVIEW_MAX_MATCH_LINES);
    T_EQ_INT(p.match_lines[0], 100);
    T_EQ_INT(p.match_lines[7], 107);
    T_EQ_STR(p.text, "self.x = 1\nself.x = 1");
    preview_free(&p);
    sbuf_free(&b);

    p = run("authentication", "verify_credentials()\n", 3);
    T_EQ_INT(p.n_match_lines, 0);
    preview_free(&p);
}

static void test_substring_match_is_not_identifier_aware(void)
{
    /* DESIGN: plain case-insensitive substrings; UserAvatar does not match user_avatar */
    preview_t p = run("UserAvatar", "x = user_avatar\ny = 2\n", 1);
    T_EQ_INT(p.n_match_lines, 0);
    preview_free(&p);
    p = run("avatar", "x = user_avatar\ny = 2\n", 1);
    T_EQ_INT(p.n_match_lines, 1);
    preview_free(&p);
}

int main(void)
{
    T_RUN(test_query_tokens_follow_design);
    T_RUN(test_preview_shows_the_matching_line);
    T_RUN(test_preview_falls_back_to_first_two_nonempty_lines);
    T_RUN(test_preview_best_line_and_nearest_other_match);
    T_RUN(test_preview_tie_on_distance_prefers_the_line_before);
    T_RUN(test_preview_single_matching_line_alone);
    T_RUN(test_preview_crlf_lines_lose_their_cr);
    T_RUN(test_preview_cut_at_200_characters);
    T_RUN(test_preview_counts_characters_not_bytes);
    T_RUN(test_preview_replaces_invalid_utf8);
    T_RUN(test_match_lines_are_absolute_and_capped);
    T_RUN(test_substring_match_is_not_identifier_aware);
    return t_done();
}
