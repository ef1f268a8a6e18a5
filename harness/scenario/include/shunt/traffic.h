/* A scenario's traffic: section (docs/scenarios.md, "traffic:"): a client
 * in a service container drives requests into the target while the local
 * program runs under the layer, and what the client got and what the
 * program printed are checked.  Parsed per case (the file's traffic: with
 * the case's keys on top) into the case's runspec. */
#ifndef SHUNT_HARNESS_TRAFFIC_H
#define SHUNT_HARNESS_TRAFFIC_H

#include <stddef.h>

#include "shunt/ydoc.h"

struct shunt_runspec;
struct shunt_target_spec;

/* A command run in a service container (runc exec). */
typedef struct {
    char *service;      /* target.services[].name */
    char **command;     /* NULL-terminated argv */
    size_t n_command;
    int timeout_s;      /* default 60 */
} shunt_tclient_t;

typedef struct {
    char *word;         /* a line equal to it */
    long count;         /* exactly this many such lines */
} shunt_tcount_t;

/* What the client and the program must show. */
typedef struct {
    int client_status;          /* the client's exit status (default 0) */
    char **client_stdout;       /* EREs, one per line, in order; exactly
                                   that many lines (NULL: not checked) */
    size_t n_client_stdout;
    int client_stdout_set;
    shunt_tcount_t *client_counts; /* lines equal to a word, counted */
    size_t n_client_counts;
    long program_lines;         /* lines of the program's stdout; -1: any */
    char **program_stdout;      /* EREs, one per line, in order, exactly
                                   that many lines (NULL: not checked) */
    size_t n_program_stdout;
    int program_stdout_set;
    char *program_each;         /* an ERE every line of the program's stdout
                                   must match (any order); NULL: not checked */
    /* program_mirrors: an ERE; the client's stdout lines it matches, with
     * the match removed, must be the program's stdout lines exactly, in
     * order (a mirror receives byte-identical requests).  NULL: not
     * checked */
    char *program_mirrors;
} shunt_texpect_t;

typedef struct shunt_traffic {
    int wait_port;              /* the remote port whose subscription the
                                   runner waits for */
    int wait_timeout_s;         /* default 30 */
    shunt_tclient_t client;
    shunt_texpect_t expect;
    int has_after;              /* after_exit: given */
    shunt_tclient_t after_client;
    shunt_texpect_t after_expect; /* client_* keys only */
    int after_within_ms;        /* default 1000 */
    void *mem;
} shunt_traffic_t;

/* Parses traffic (a map node) against the target t: client.service must
 * name one of its services.  runs and expect are the case's merged nodes
 * (may be NULL): traffic: is a local run only, so runs.reference true is
 * an error, and expect.status applies only when given (the program is
 * stopped with SIGTERM).  r's run_reference and want_status are adjusted.
 * 0 with r->traffic set, or -1 with e set. */
int shunt_traffic_parse(const shunt_yerr_t *e, const struct shunt_target_spec *t,
                        const shunt_ynode_t *traffic, const shunt_ynode_t *runs,
                        const shunt_ynode_t *expect, struct shunt_runspec *r);
void shunt_traffic_free(shunt_traffic_t *t);

#endif
