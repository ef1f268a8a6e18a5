/* One case of `harness run`: a scenario (with one Go toolchain for Go
 * programs) run in its target (the reference) and locally under the layer,
 * its observations normalised and compared. */
#ifndef SHUNT_HARNESS_RUNNER_H
#define SHUNT_HARNESS_RUNNER_H

#include <limits.h>

#include "shunt/build.h"
#include "shunt/scenario.h"

typedef enum {
    SHUNT_CASE_PASS,   /* everything matched */
    SHUNT_CASE_KNOWN,  /* passed; differences were declared divergences */
    SHUNT_CASE_FAIL,   /* a difference, a wrong reference status, a leak */
    SHUNT_CASE_SKIP,   /* cannot run on this machine (reason) */
    SHUNT_CASE_ERROR,  /* configuration or infrastructure error */
} shunt_case_status_t;

/* The cases of one file's cases: list run one after the other in one
 * worker and share the target: the first brings it up, the last takes it
 * down. */
typedef struct {
    int up;                       /* 0 not yet, 1 brought up by this group,
                                     2 was up before it (left up) */
} shunt_group_t;

typedef struct {
    shunt_scenario_t *s;
    const shunt_runspec_t *run;   /* s->run, or one of s->cases */
    shunt_group_t *group;         /* NULL: the case has its target alone */
    int more;                     /* more cases of the group follow */
    size_t group_id;              /* cases of one group share it */
    const shunt_gotool_t *go;     /* Go programs: the toolchain */
    char name[160];               /* "go-http/go1.26.8" */
    char target[SHUNT_NAME_MAX + 1];
    /* the engines its local side runs under (a mask of SHUNT_ENGINE_BIT,
     * run in that order; shunt_case_engines) */
    unsigned engines;
    char skip[512];               /* non-empty: skipped, why */
    shunt_built_t built;          /* filled before the case runs */
    char build_err[4096];         /* non-empty: the build failed */
} shunt_case_t;

typedef struct {
    char name[160];
    char file[PATH_MAX];
    char lang[16];
    char go[32];
    shunt_case_status_t status;
    char reason[1024];            /* one line: why it failed/skipped/errored */
    double t_build, t_target, t_ref, t_local, t_diff, t_leaks, t_total;
    /* each engine's local side: ran (a mask of SHUNT_ENGINE_BIT), its own
     * verdict (the case's is the worst) and time */
    unsigned engines;
    shunt_case_status_t engine_status[SHUNT_ENGINE_COUNT];
    double t_engine[SHUNT_ENGINE_COUNT];
    /* what this case expects that was not checked under an engine, one
     * line each ("journal under the supervisor: ..."); empty: nothing */
    char unchecked[512];
    /* followed on the wire by the report text */
} shunt_case_result_t;

typedef struct {
    const char *init_path;        /* shunt-init */
    const char *harness;          /* this harness binary (for exec) */
    int keep;                     /* leave the target up */
    int color;                    /* ANSI colours in diffs */
    int show_output;              /* both runs' outputs in every report */
} shunt_run_opts_t;

/* Runs the case; fills res and *report (malloc'd text: diffs, known
 * divergences, the runs' output tails on errors). */
void shunt_run_case(shunt_case_t *c, const shunt_run_opts_t *o,
                    shunt_case_result_t *res, char **report);

const char *shunt_case_status_name(shunt_case_status_t st);

/* The engines a case of r runs its local side under: `harness run
 * --engine` (cli: a mask of SHUNT_ENGINE_BIT, "all" being layer and
 * supervisor; 0: not given) or else program.engines; an engine the file's
 * own program.engines leaves out is not run (auto is harness exec's choice
 * and always runs).  The mask; 0 with why (the case is skipped). */
unsigned shunt_case_engines(const shunt_runspec_t *r, unsigned cli, char *why, size_t len);

/* "the layer", "the supervisor", "--engine auto": what a local run was
 * under, as reports say it */
const char *shunt_engine_under(shunt_engine_t e);

#endif
