/* `harness exec --record`: CMD runs under the ptrace recorder, on a thread
 * of the harness (the tracer), while the main thread keeps serving the
 * session; only CMD's process tree is traced, never the harness, its proxy
 * or the agent.  What is remote is the layer's configuration for CMD plus
 * the target's cluster subnet. */
#ifndef SHUNT_HARNESS_EXEC_RECORD_H
#define SHUNT_HARNESS_EXEC_RECORD_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct exec_record exec_record_t;

/* Starts CMD (path, argv, envp) under the recorder: looking for leaks
 * (leaks: --record), and/or writing the call journal of the system calls
 * of the program shunt-supervisor (CMD) runs to journal_fd (>= 0: harness
 * exec --journal under the supervisor, docs/recorder.md).  Returns 0 with *out
 * set once CMD's pid is known or the recorder has already finished; -1
 * with err otherwise. */
int exec_record_start(exec_record_t **out, const char *target,
                      const char *layer_conf, int timeout_ms, int leaks,
                      int journal_fd, const char *path, char **argv,
                      char **envp, char *err, size_t errlen);
pid_t exec_record_pid(const exec_record_t *x); /* 0 if it never started */
/* Readable once the recorder has finished (CMD's whole tree is gone). */
int exec_record_done_fd(const exec_record_t *x);
/* Joins the recorder, writes the journal and the leaks to journal (when
 * not NULL; JSON with json), the leaks to stderr, frees x.  *status is
 * CMD's wait status; returns recorder_run's result (-errno when CMD could
 * not be executed). */
int exec_record_finish(exec_record_t *x, FILE *journal, int json,
                       int *status, size_t *n_leaks, int *timed_out);

#endif
