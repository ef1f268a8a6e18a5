/* Pure text functions of the runner: normalisers, a line diff and its
 * unified rendering, and the test of a known divergence. */
#ifndef SHUNT_HARNESS_COMPARE_H
#define SHUNT_HARNESS_COMPARE_H

#include <stddef.h>

#include "shunt/runspec.h"

/* Applies, in order, every normaliser whose `in` has the bit stream to
 * text (len bytes).  Returns a malloc'd NUL-terminated text, or NULL when
 * out of memory.  A last line without '\n' is kept as it is. */
char *shunt_normalise(const char *text, size_t len, const shunt_norm_t *norms,
                      size_t n, unsigned stream);

/* The layer's call journal (lines "TAG CALL(ARGS) = RESULT") as the runner
 * compares it: only the lines whose CALL is in calls (NULL: all) and not in
 * exclude, grouped by process (a stable sort on TAG, "1" < "1.2" < "1.10"),
 * so that processes running side by side do not interleave.  A record
 * whose first string argument (its path) matches one of the POSIX EREs
 * skip_paths is dropped, and when it opened an fd ("= N"), so are the
 * records of the same process on that fd up to and including its close.
 * malloc'd, or NULL when out of memory (or a regex does not compile). */
char *shunt_journal_prepare(const char *text, char *const *calls, size_t n_calls,
                            char *const *exclude, size_t n_exclude,
                            char *const *skip_paths, size_t n_skip);

typedef struct {
    char *text;       /* unified diff (malloc'd; "" when equal) */
    int differs;
    char **removed;   /* lines only in a / only in b (point into copies) */
    size_t n_removed;
    char **added;
    size_t n_added;
    void *mem;
} shunt_diff_t;

/* Line diff of a against b (NUL-terminated), rendered as a unified diff
 * with 3 lines of context and `--- label_a` / `+++ label_b` headers;
 * ANSI colours when color.  0, or -1 when out of memory. */
int shunt_diff(const char *a, const char *b, const char *label_a,
               const char *label_b, int color, shunt_diff_t *out);
void shunt_diff_free(shunt_diff_t *d);

/* 1 when every line the diff removed or added matches the POSIX ERE
 * (a NULL regex matches everything), 0 otherwise. */
int shunt_diff_only_lines(const shunt_diff_t *d, const char *regex);

#endif
