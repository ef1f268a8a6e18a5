/* The hook point of expect.no_leaks: a ptrace recorder (harness/recorder/recorder.c,
 * built elsewhere) runs the local command once more under ptrace and
 * reports every access that should have gone to the target but stayed on
 * this host.  Until it is linked in, shunt_leaks_check() says it is not
 * available and the runner reports the case as skipped (never as passed). */
#ifndef SHUNT_HARNESS_LEAKS_H
#define SHUNT_HARNESS_LEAKS_H

#include <stddef.h>

typedef struct {
    const char *target;        /* a target that is up */
    int init_pid;              /* its init's host pid */
    const char *scenario;      /* the YAML file (its layer: section) */
    char *const *argv;         /* what the local run executes, absolute argv[0] */
    const char *cwd;
    const char *stdin_path;    /* NULL: /dev/null */
    int timeout_ms;
    const char *engine;        /* harness exec --engine: layer (NULL),
                                  supervisor or auto */
} shunt_leaks_input_t;

enum {
    SHUNT_LEAKS_NONE = 0,         /* recorded, no leak */
    SHUNT_LEAKS_FOUND = 1,        /* report lists them, one per line */
    SHUNT_LEAKS_UNAVAILABLE = 2,  /* no recorder: report says why */
    SHUNT_LEAKS_ERROR = -1,       /* the recording failed: report says why */
};

/* Returns one of the values above; *report is malloc'd text (or NULL). */
int shunt_leaks_check(const shunt_leaks_input_t *in, char **report);

#endif
