/* Targets: a scenario's target and its service containers, run by runc on a
 * private bridge network; state under /run/shunt/targets/NAME/. */
#ifndef SHUNT_HARNESS_TARGET_H
#define SHUNT_HARNESS_TARGET_H

#include <stddef.h>
#include <stdio.h>

#include "shunt/scenario.h"

#define SHUNT_RUN_DIR "/run/shunt"
#define SHUNT_STATE_ROOT SHUNT_RUN_DIR "/targets"
#define SHUNT_NETNS_DIR "/run/netns"

/* What other rooms need to reach a running target. netns is the name under
 * /run/netns (the target container's network namespace); init_pid is the
 * host pid of the target's init process (enter its namespaces through
 * /proc/PID/ns/... and its root through /proc/PID/root). */
typedef struct {
    char name[64];
    int init_pid;
    char ip[16];
    char netns[64];
    char state_dir[4096];
} shunt_target_info_t;

/* 0 if the target is up and every container is alive; otherwise -1 and err
 * says what is wrong (not found, partial, a dead container...). */
int shunt_target_info(const char *name, shunt_target_info_t *out, char *err,
                      size_t errlen);

typedef struct {
    char id[96];     /* runc container id, also its netns name */
    char role[16];   /* "target", "service" or "dns" */
    char ip[16];
    int pid;         /* host pid of the container's init, 0 if unknown */
    int alive;
    char log[4200];  /* the container's stdout/stderr */
} shunt_container_status_t;

/* One live subscription of a target's port by a local program (issue 16,
 * docs/incoming.md), as the session proxy of `harness exec` lists it in
 * STATE_DIR/incoming/<its pid>: "REMOTE_PORT LOCAL_PORT MODE". */
typedef struct {
    int remote_port, local_port;
    char mode[16];   /* "mirror", "steal", "steal-filter" */
    int pid;         /* the harness exec keeping it; 0: not named by a pid */
} shunt_target_insub_t;

/* The subscriptions listed in dir (a target's STATE_DIR/incoming): every
 * line of every file, but a file whose name ends in .tmp or starts with
 * '.' (the proxy's next version, not renamed yet) and one named by a pid
 * that is gone (stale).  *out malloc'd (NULL when none); a missing dir is
 * no subscription.  0, or -1 when out of memory. */
int shunt_target_incoming_read(const char *dir, shunt_target_insub_t **out, size_t *n);

typedef struct {
    shunt_target_info_t info;
    char state[16];          /* "up", "degraded", "creating", "failed", "stale" */
    char scenario[4096];     /* the YAML file it was started from */
    char subnet[20];         /* "10.200.N.0/24" */
    shunt_container_status_t *ctr;   /* malloc'd; shunt_target_status_free */
    size_t n_ctr;
    shunt_target_insub_t *in;        /* its ports local programs hold; malloc'd */
    size_t n_in;
} shunt_target_status_t;

typedef struct {
    const char *init_path;   /* shunt-init binary, bind-mounted at /.shunt/init */
    FILE *progress;          /* progress lines, or NULL */
    int keep_on_failure;     /* leave a failed target's state for debugging */
    int ready_timeout_ms;    /* per service; 0 means 15000 */
} shunt_up_opts_t;

/* Brings the scenario's target up. Returns 0 when it was created, 1 when the
 * same configuration was already up and healthy, -1 on error (err set;
 * containers' log tails included). */
int shunt_target_up(const shunt_scenario_t *s, const shunt_up_opts_t *o,
                    shunt_target_info_t *out, char *err, size_t errlen);

/* Removes every trace of NAME: runc containers, netns, mounts and state.
 * Tolerates partial state. Returns 0 when something was removed, 1 when
 * there was nothing, -1 when something could not be removed (err set). */
int shunt_target_down(const char *name, char *err, size_t errlen);

/* After every target is down: removes any netns still named shunt-* and
 * runc containers with bundles under the state root. Returns the number
 * left behind (err names one). */
int shunt_target_sweep(char *err, size_t errlen);

/* Names of targets with state or leftovers (stale netns, runc containers);
 * *names is malloc'd (free each and the array). */
int shunt_target_list(char ***names, size_t *n, char *err, size_t errlen);

/* Fills st from the state file and /proc; -1 if NAME has no state at all. */
int shunt_target_status(const char *name, shunt_target_status_t *st,
                        char *err, size_t errlen);
void shunt_target_status_free(shunt_target_status_t *st);

/* runs.reset_files: puts t's target.files back as harness up wrote them,
 * inside the running target whose root directory fd is root (each path
 * removed first, recursively and never through a symbolic link, then
 * written again).  -1 with err set. */
int shunt_target_reset_files(const shunt_target_spec_t *t, int root, char *err,
                             size_t errlen);

/* Finds shunt-init next to the running executable (or $SHUNT_INIT). */
int shunt_find_init(char *out, size_t outlen, char *err, size_t errlen);

#endif
