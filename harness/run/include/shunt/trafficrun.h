/* The runner's side of traffic: (shunt/traffic.h): the subscription the
 * session proxy lists under the target's state, and the verdict on what
 * the client and the program showed.  Pure functions, no process. */
#ifndef SHUNT_HARNESS_TRAFFICRUN_H
#define SHUNT_HARNESS_TRAFFICRUN_H

#include <stddef.h>

#include "shunt/buf.h"
#include "shunt/traffic.h"

/* The proxy's status files: DIR/<harness pid>, one line per live
 * subscription, "REMOTE_PORT LOCAL_PORT MODE" (INCOMING-SPEC, "Status for
 * the harness"), read by shunt_target_incoming_read (which skips the
 * proxy's temporary and stale files).  1 when one lists remote port port,
 * with that line in line ("REMOTE LOCAL MODE"); 0 when none does (or dir
 * is missing). */
int shunt_incoming_lists_port(const char *dir, int port, char *line, size_t linelen);

/* x against the client's exit status (a wait status; -1: it did not run,
 * timed out) and stdout, and the program's stdout (NULL: the program keys
 * are not checked).  0 when everything holds; -1 with each failed
 * expectation, one per line, appended to why ("traffic.expect.KEY: ..."
 * with prefix as the path). */
int shunt_traffic_judge(const shunt_texpect_t *x, const char *prefix, int client_wstatus,
                        const char *client_out, const char *prog_out, shunt_buf_t *why);

#endif
