/* Tiny checks for the layer's end-to-end test programs: each failure prints
 * the expression, both values and errno; main returns lt_done(). */
#ifndef SHUNT_LT_H
#define SHUNT_LT_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int lt_failures;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (errno %d: %s)\n",     \
                    __FILE__, __LINE__, #cond, errno, strerror(errno));     \
            lt_failures++;                                                  \
        }                                                                   \
    } while (0)

#define CHECK_STR(a, b)                                                     \
    do {                                                                    \
        const char *a_ = (a), *b_ = (b);                                    \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                            \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" vs \"%s\"\n",   \
                    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",         \
                    b_ ? b_ : "(null)");                                    \
            lt_failures++;                                                  \
        }                                                                   \
    } while (0)

#define CHECK_LONG(a, b)                                                    \
    do {                                                                    \
        long a_ = (long)(a), b_ = (long)(b);                                \
        if (a_ != b_) {                                                     \
            fprintf(stderr, "%s:%d: %s == %s failed: %ld vs %ld (errno %d: %s)\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_, errno,              \
                    strerror(errno));                                       \
            lt_failures++;                                                  \
        }                                                                   \
    } while (0)

/* expr must fail with -1 and errno e. */
#define CHECK_ERR(expr, e)                                                  \
    do {                                                                    \
        errno = 0;                                                          \
        long r_ = (long)(expr);                                             \
        int e_ = errno;                                                     \
        if (r_ != -1 || e_ != (e)) {                                        \
            fprintf(stderr, "%s:%d: %s: want -1/%s, got %ld/%s\n",          \
                    __FILE__, __LINE__, #expr, strerror(e), r_,             \
                    strerror(e_));                                          \
            lt_failures++;                                                  \
        }                                                                   \
    } while (0)

static inline int lt_done(const char *name)
{
    if (lt_failures)
        fprintf(stderr, "%s: %d check(s) failed\n", name, lt_failures);
    else
        printf("%s: all checks passed\n", name);
    return lt_failures ? 1 : 0;
}

#endif
