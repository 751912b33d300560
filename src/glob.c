/* glob.c — wildmatch: the pattern matcher git uses for .gitignore, re-implemented so that
 * every corner (the `**` rules, bracket parsing, which failures stop the search early) gives
 * the same answer as git. See glob.h for the syntax. */
#include "glob.h"

#include <string.h>

/* Results of one matching attempt. The two "abort" results prune the backtracking search:
 * ABORT_ALL means no later starting point for an enclosing `*` can succeed either (the text
 * ran out, or the pattern is malformed); ABORT_TO_STARSTAR means a single `*` hit a '/', so
 * only an enclosing `**` may still try further. */
enum { M_MATCH = 0, M_NOMATCH = 1, M_ABORT_ALL = -1, M_ABORT_TO_STARSTAR = -2 };
/* match_star's way to say "go on in the caller's loop". */
enum { M_CONTINUE = 2 };

typedef unsigned char uchar;

static bool is_special(uchar c)
{
    return c == '*' || c == '?' || c == '[' || c == '\\';
}

static bool is_upper(uchar c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower(uchar c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(uchar c)
{
    return c >= '0' && c <= '9';
}

/* Does c belong to the POSIX class named by name[0..len)? 1 yes, 0 no, -1 unknown class. */
static int class_has(const uchar *name, size_t len, uchar c)
{
    static const char *const names[] = {"alnum", "alpha", "blank", "cntrl", "digit", "graph",
                                        "lower", "print", "punct", "space", "upper", "xdigit"};
    int which = -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) which = (int)i;
    }
    bool alpha = is_upper(c) || is_lower(c);
    bool graph = c > 0x20 && c < 0x7f;
    switch (which) {
    case 0:
        return alpha || is_digit(c);
    case 1:
        return alpha;
    case 2:
        return c == ' ' || c == '\t';
    case 3:
        return c < 0x20 || c == 0x7f;
    case 4:
        return is_digit(c);
    case 5:
        return graph;
    case 6:
        return is_lower(c);
    case 7:
        return c >= 0x20 && c < 0x7f;
    case 8:
        return graph && !alpha && !is_digit(c);
    case 9:
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
    case 10:
        return is_upper(c);
    case 11:
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    default:
        return -1;
    }
}

/* Matches the bracket expression starting at *pp (which points at '[') against the text
 * character t. On M_MATCH, *pp is left on the closing ']'. */
static int match_bracket(const uchar **pp, uchar t, unsigned flags)
{
    const uchar *p = *pp + 1;
    bool negated = false;
    if (*p == '!' || *p == '^') {
        negated = true;
        p++;
    }
    bool matched = false;
    uchar prev = 0, c = *p;
    do {
        if (!c) return M_ABORT_ALL;
        if (c == '\\') {
            c = *++p;
            if (!c) return M_ABORT_ALL;
            if (t == c) matched = true;
        } else if (c == '-' && prev && p[1] && p[1] != ']') {
            c = *++p;
            if (c == '\\') {
                c = *++p;
                if (!c) return M_ABORT_ALL;
            }
            if (t <= c && t >= prev) matched = true;
            c = 0; /* a range cannot be the start of another range */
        } else if (c == '[' && p[1] == ':') {
            const uchar *name = p + 2, *end = name;
            while (*end && *end != ']')
                end++;
            if (!*end) return M_ABORT_ALL;
            if (end == name || end[-1] != ':') {
                /* No ":]" before the next ']': the '[' is an ordinary member. */
                if (t == '[') matched = true;
            } else {
                int r = class_has(name, (size_t)(end - name - 1), t);
                if (r < 0) return M_ABORT_ALL;
                if (r) matched = true;
                p = end;
                c = 0;
            }
        } else if (t == c) {
            matched = true;
        }
        prev = c;
        c = *++p;
    } while (c != ']');
    *pp = p;
    if (matched == negated || ((flags & GLOB_PATHNAME) && t == '/')) return M_NOMATCH;
    return M_MATCH;
}

static int match_here(const uchar *start, const uchar *p, const uchar *t, unsigned flags);

/* The star case of match_here: *pp points at the first '*', *tp at the text it may consume.
 * `start` is where the current pattern frame began (a double star there counts as following
 * a '/'). Returns a match result, or M_CONTINUE to let the caller's loop go on from the updated
 * *pp and *tp. */
static int match_star(const uchar *start, const uchar **pp, const uchar **tp, unsigned flags)
{
    const uchar *p = *pp, *t = *tp;
    bool match_slash;
    if (p[1] == '*') {
        const uchar *before = p - 1;
        while (*p == '*')
            p++;
        bool whole_component = (before < start || *before == '/') &&
                               (*p == '\0' || *p == '/' || (p[0] == '\\' && p[1] == '/'));
        if (!(flags & GLOB_PATHNAME)) {
            match_slash = true;
        } else if (whole_component) {
            /* "<**>/" may match zero directories: try the rest right here first. */
            if (p[0] == '/' && match_here(p + 1, p + 1, t, flags) == M_MATCH) return M_MATCH;
            match_slash = true;
        } else {
            match_slash = false;
        }
    } else {
        p++;
        match_slash = !(flags & GLOB_PATHNAME);
    }

    if (*p == '\0') {
        /* Trailing star: everything left, unless a single star would cross a '/'. */
        if (!match_slash && strchr((const char *)t, '/')) return M_NOMATCH;
        return M_MATCH;
    }
    if (!match_slash && *p == '/') {
        /* A single star before '/' consumes exactly the rest of this component. */
        const char *slash = strchr((const char *)t, '/');
        if (!slash) return M_NOMATCH;
        *pp = p;
        *tp = (const uchar *)slash;
        return M_CONTINUE; /* the caller's loop goes on with '/' against '/' */
    }
    uchar tc = *t;
    while (tc) {
        if (!is_special(*p)) {
            /* A literal follows: skip ahead to its next occurrence. */
            while ((tc = *t) != '\0' && (match_slash || tc != '/')) {
                if (tc == *p) break;
                t++;
            }
            if (tc != *p) return M_NOMATCH;
        }
        int r = match_here(p, p, t, flags);
        if (r != M_NOMATCH) {
            if (!match_slash || r != M_ABORT_TO_STARSTAR) return r;
        } else if (!match_slash && tc == '/') {
            return M_ABORT_TO_STARSTAR;
        }
        tc = *++t;
    }
    return M_ABORT_ALL;
}

static int match_here(const uchar *start, const uchar *p, const uchar *t, unsigned flags)
{
    for (; *p; p++, t++) {
        uchar pc = *p, tc = *t;
        if (tc == '\0' && pc != '*') return M_ABORT_ALL;
        switch (pc) {
        case '\\':
            /* A trailing backslash compares NUL with a non-NUL text byte: no match. */
            pc = *++p;
            if (tc != pc) return M_NOMATCH;
            break;
        case '?':
            if ((flags & GLOB_PATHNAME) && tc == '/') return M_NOMATCH;
            break;
        case '[': {
            int r = match_bracket(&p, tc, flags);
            if (r != M_MATCH) return r;
            break;
        }
        case '*': {
            int r = match_star(start, &p, &t, flags);
            if (r != M_CONTINUE) return r;
            break;
        }
        default:
            if (tc != pc) return M_NOMATCH;
            break;
        }
    }
    return *t ? M_NOMATCH : M_MATCH;
}

bool glob_match(const char *pattern, const char *text, unsigned flags)
{
    const uchar *p = (const uchar *)pattern;
    return match_here(p, p, (const uchar *)text, flags) == M_MATCH;
}

size_t glob_literal_len(const char *pattern)
{
    size_t n = 0;
    while (pattern[n] && !is_special((uchar)pattern[n]))
        n++;
    return n;
}
