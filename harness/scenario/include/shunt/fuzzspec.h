/* The `fuzz:` section of a scenario (docs/fuzzing.md, "harness fuzz"):
 * validated with file:line:col errors by shunt_fuzzspec_parse, which
 * `harness check` and the scenario loader run on every file that has one. */
#ifndef SHUNT_HARNESS_FUZZSPEC_H
#define SHUNT_HARNESS_FUZZSPEC_H

#include <stddef.h>

#include "shunt/scenario.h"
#include "shunt/ydoc.h"

/* Call families (fuzz.calls keys), in this order. */
typedef enum {
    SHUNT_FZ_OPEN, SHUNT_FZ_READ, SHUNT_FZ_STAT, SHUNT_FZ_DIR,
    SHUNT_FZ_READLINK, SHUNT_FZ_ACCESS, SHUNT_FZ_WRITE, SHUNT_FZ_CWD,
    SHUNT_FZ_FD, SHUNT_FZ_FORK, SHUNT_FZ_NET,
    SHUNT_FZ_NFAMILIES
} shunt_fz_family_t;

extern const char *const shunt_fz_family_names[SHUNT_FZ_NFAMILIES];

typedef struct {
    char *name;                  /* name: (default "policy-N", N 0-based) */
    const shunt_ynode_t *layer;  /* the entry itself: an ordinary layer:
                                    section (name: removed from its keys
                                    for rendering: see below); NULL for
                                    the default policy */
    char *rendered;              /* shunt_layercfg_render of it (the layer's
                                    config text) */
    char **not_found;            /* files.not_found regexes (NULL-terminated) */
    size_t n_not_found;
} shunt_fz_policy_t;

typedef struct {
    char *call;                  /* ERE over the reference line's
                                    "CALL ARGS = RESULT" */
    char *local;                 /* optional ERE over the local one, or NULL */
    char *reason;                /* >= 10 characters */
    char **policies;             /* policies: names of fuzz.layer it is
                                    declared for (NULL: every one) */
    size_t n_policies;
    int engines;                 /* engines: SHUNT_FZ_ENGINE_* bits it is
                                    declared for (0: every one) */
} shunt_fz_known_t;
#define SHUNT_FZ_ENGINE_LAYER 1
#define SHUNT_FZ_ENGINE_SUPERVISOR 2

typedef struct {
    shunt_filelist_t tree;       /* fuzz.tree, same kinds as target.files;
                                    `size: N` gives a regular file of N
                                    bytes '0'+(i%10) (content NULL,
                                    size >= 0) */
    long *sizes;                 /* per tree entry: size: N, or -1 */
    shunt_fz_policy_t *policies; /* fuzz.layer (at least one; default: one
                                    policy "default" with an empty layer) */
    size_t n_policies;
    unsigned weights[SHUNT_FZ_NFAMILIES]; /* fuzz.calls (default: every
                                    family 1 but net 0 unless fuzz.net) */
    char **names;                /* fuzz.net.names */
    size_t n_names;
    int *ports;                  /* fuzz.net.ports */
    size_t n_ports;
    int length;                  /* default 20, 1..200 */
    unsigned long long seed;     /* fuzz.seed */
    int seed_set;
    int budget_minutes;          /* fuzz.budget.minutes, 0 if not given */
    long budget_sequences;       /* fuzz.budget.sequences, 0 if not given */
    shunt_fz_known_t *known;
    size_t n_known;
    int engine;                  /* the campaign's SHUNT_FZ_ENGINE_* (set by
                                    harness fuzz; 0 = layer) */
    void *mem;
} shunt_fuzzspec_t;

/* Parses s's fuzz: node (the loader keeps it as s->fuzz; NULL: the file
 * has none -> *out NULL and 0).  -1 with "FILE:LINE:COL: fuzz.key: ..." in
 * err. */
int shunt_fuzzspec_parse(const shunt_scenario_t *s, shunt_fuzzspec_t **out,
                         char *err, size_t errlen);
void shunt_fuzzspec_free(shunt_fuzzspec_t *f);

#endif
