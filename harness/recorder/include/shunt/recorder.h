/* The ptrace recorder: runs a program under ptrace, records the syscalls of
 * interest (recorder_syscalls.def) that every process and thread of its tree
 * made on the local host, and flags those that named a remote-only path,
 * name or address: leaks (docs/recorder.md). */
#ifndef SHUNT_HARNESS_RECORDER_H
#define SHUNT_HARNESS_RECORDER_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- what is remote ------------------------------------------------------
 * Two ways to say it, which add up:
 *  - the layer's own configuration (the text SHUNT_CONFIG names): a path is
 *    remote as policy/policy.c decides it for the process that made the call
 *    (its defaults, plus the local dirs the layer adds per process: its
 *    binary and that binary's dir, the dirs of its mapped libraries, its cwd
 *    and LD_LIBRARY_PATH at exec); an address as the network filter decides
 *    it (loopback never: the layer's relays are there); a name looked up on
 *    the host's DNS unless the filter keeps it local; unix-socket paths by
 *    net_remote_unix;
 *  - explicit rules: paths matching a regex (any access, unix sockets too),
 *    addresses in a CIDR (any port), DNS queries for names matching a glob.
 * DNS queries (port 53) to a non-loopback address are leaks in both. */
typedef struct recorder_rules recorder_rules_t;

recorder_rules_t *recorder_rules_new(void);
void recorder_rules_free(recorder_rules_t *r);
/* Layer mode from the layer's configuration text.  0, or -1 with err. */
int recorder_rules_layer(recorder_rules_t *r, const char *conf, char *err,
                         size_t errlen);
/* Explicit rules.  0, or -1 with err (bad regex, CIDR). */
int recorder_rules_add_path(recorder_rules_t *r, const char *regex,
                            char *err, size_t errlen);
int recorder_rules_add_net(recorder_rules_t *r, const char *cidr, char *err,
                           size_t errlen);
int recorder_rules_add_name(recorder_rules_t *r, const char *glob,
                            char *err, size_t errlen);

/* ---- running -------------------------------------------------------------- */
typedef struct {
    const recorder_rules_t *rules; /* NULL: record, flag nothing */
    int timeout_ms;    /* > 0: then SIGKILL to every traced process */
    int all_syscalls;  /* stop on every syscall (PTRACE_SYSCALL) instead of
                          the seccomp filter's: only to measure the cost */
    int leaks_only;    /* keep only the events that are leaks */
    /* The call journal of system calls (docs/recorder.md): journal set,
     * records are appended to journal_fd from the root's journal_after
     * execs on (1: CMD itself; 2: what CMD execs -- shunt-supervisor's
     * program); processes forked before that are let go.  Every syscall
     * then stops (as all_syscalls). */
    int journal, journal_fd, journal_after;
    /* Called in the tracing thread once the program's pid is known (to
     * forward signals to it). */
    void (*on_start)(pid_t pid, void *arg);
    void *arg;
} recorder_opts_t;

enum { RECORDER_EV_SYSCALL, RECORDER_EV_SIGNAL, RECORDER_EV_EXIT };

typedef struct {
    int kind;          /* RECORDER_EV_* */
    pid_t pid, tgid;   /* thread id and process id */
    const char *name;  /* syscall name; signal or exit: NULL */
    char *args;        /* decoded arguments (syscall), or what happened */
    long ret;          /* result: >= 0, or -errno */
    int done;          /* ret is valid (no: the process died in the call) */
    char *leak;        /* NULL, or why it is a leak */
} recorder_event_t;

typedef struct {
    int status;        /* the program's wait status (as waitpid gives it) */
    int timed_out;
    recorder_event_t *ev;
    size_t n_ev, cap_ev;
    size_t n_leaks;
    unsigned long stops; /* ptrace stops handled: the overhead's measure */
} recorder_result_t;

/* Forks, runs path with argv and envp under ptrace (an ENOEXEC file with
 * /bin/sh, as execvp does), follows every fork, vfork, clone and exec, and
 * returns when the last traced process is gone.  Signals reach the program
 * as they would without the recorder; group-stops stay stops.  0 with
 * res->status set; -errno when the program could not be started
 * (-ENOENT, -EACCES... from its execve: res->status is then 127 << 8) or
 * the tracing failed (err says why).  Must be called from one thread
 * throughout; it waits only for its own children (__WNOTHREAD).  SIGCHLD
 * must not be ignored (SIG_IGN) in the calling process: the program's exit
 * status would be lost to auto-reaping. */
int recorder_run(const recorder_opts_t *o, const char *path,
                 char *const argv[], char *const envp[],
                 recorder_result_t *res, char *err, size_t errlen);
void recorder_result_free(recorder_result_t *res);

/* strace-like lines: every event ("[pid N] name(args) = ret"), then the
 * leaks ("LEAK [pid N] ...: why").  JSON: {"status", "exit_code",
 * "timed_out", "events": [...], "leaks": [...]}. */
enum { RECORDER_PRINT_EVENTS = 1, RECORDER_PRINT_LEAKS = 2,
       RECORDER_PRINT_JSON = 4 };
void recorder_print(FILE *f, const recorder_result_t *res, int flags);
/* One event as a line, without "\n". */
void recorder_format_event(const recorder_event_t *e, char *out, size_t len);

/* The syscall number of a name in the table, or -1 (tests). */
int recorder_syscall_nr(const char *name);

#endif
