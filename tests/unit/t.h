/* t.h — the unit-test harness. Each tests/unit/test_<module>.c is one binary:
 *
 *   #include "t.h"
 *   static void test_thing_does_x(void) { T_CHECK(1 + 1 == 2); T_EQ_INT(f(), 3); }
 *   int main(void) { T_RUN(test_thing_does_x); return t_done(); }
 *
 * A test passes when none of its checks fail. t_done() prints "<prog>: N passed, N failed"
 * (tests/run.sh adds the counts up) and returns the exit status. Test names should say the
 * behaviour they pin down. Tests may create files under t_tmpdir() (a fresh directory per
 * binary, removed at the end unless T_KEEP=1). */
#ifndef EMBECODE_T_H
#define EMBECODE_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int t_passed, t_failed, t_cur_failed;
static const char *t_cur_name;
static char t_tmp[256];

#define T_CHECK(cond)                                                                        \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "  FAIL %s (%s:%d): %s\n", t_cur_name, __FILE__, __LINE__, #cond); \
            t_cur_failed++;                                                                  \
        }                                                                                    \
    } while (0)

#define T_EQ_INT(a, b)                                                                       \
    do {                                                                                     \
        long long t_a = (long long)(a), t_b = (long long)(b);                                \
        if (t_a != t_b) {                                                                    \
            fprintf(stderr, "  FAIL %s (%s:%d): %s == %s (%lld vs %lld)\n", t_cur_name,      \
                    __FILE__, __LINE__, #a, #b, t_a, t_b);                                   \
            t_cur_failed++;                                                                  \
        }                                                                                    \
    } while (0)

#define T_EQ_STR(a, b)                                                                       \
    do {                                                                                     \
        const char *t_a = (a), *t_b = (b);                                                   \
        if (!t_a || !t_b || strcmp(t_a, t_b) != 0) {                                         \
            fprintf(stderr, "  FAIL %s (%s:%d): %s == %s (\"%s\" vs \"%s\")\n", t_cur_name,  \
                    __FILE__, __LINE__, #a, #b, t_a ? t_a : "(null)", t_b ? t_b : "(null)"); \
            t_cur_failed++;                                                                  \
        }                                                                                    \
    } while (0)

#define T_RUN(fn)                                                                            \
    do {                                                                                     \
        t_cur_name = #fn;                                                                    \
        t_cur_failed = 0;                                                                    \
        fn();                                                                                \
        if (t_cur_failed) {                                                                  \
            t_failed++;                                                                      \
            fprintf(stderr, "FAIL %s\n", #fn);                                               \
        } else {                                                                             \
            t_passed++;                                                                      \
            if (getenv("T_VERBOSE")) fprintf(stderr, "ok   %s\n", #fn);                     \
        }                                                                                    \
    } while (0)

/* A fresh temporary directory for this test binary (created on first use). */
static inline const char *t_tmpdir(void)
{
    if (!t_tmp[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(t_tmp, sizeof t_tmp, "%s/embecode-t-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(t_tmp)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return t_tmp;
}

static inline int t_done(void)
{
    if (t_tmp[0] && !getenv("T_KEEP")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_tmp);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", t_tmp);
    }
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

#endif
