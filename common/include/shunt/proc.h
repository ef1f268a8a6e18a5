/* The process toolkit: every child the harness starts goes through it.
 *
 * A child is described once (shunt_proc_t: argv, env, cwd, its stdin,
 * stdout and stderr, a session or group of its own, a setup step) and
 * started with shunt_proc_spawn, which reports a failed exec through a
 * close-on-exec pipe, so the caller knows whether the program started.
 * shunt_proc_find is the one PATH search (execvp's rules), and
 * shunt_proc_wait_until the one wait with a deadline and a kill. */
#ifndef SHUNT_PROC_H
#define SHUNT_PROC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* stdio[i]: /dev/null, opened in the child. */
#define SHUNT_PROC_NULL (-1)

enum {
    SHUNT_PROC_GROUP = 1,   /* a process group of its own (setpgid) */
    SHUNT_PROC_SESSION = 2, /* a session of its own, no terminal (setsid) */
    SHUNT_PROC_PDEATH = 4,  /* SIGKILLed when this process dies */
    SHUNT_PROC_SH = 8,      /* a file execve cannot run (ENOEXEC) runs as
                             * /bin/sh FILE ARGS, as execvp does */
    SHUNT_PROC_SEARCH = 16, /* path NULL and argv[0] without '/': looked up
                             * in PATH (shunt_proc_find) before the fork */
};

/* What failed, in a child that did not start: */
enum {
    SHUNT_PROC_STAGE_SETUP = 1, /* stdio, cwd, or the setup callback */
    SHUNT_PROC_STAGE_EXEC = 2,  /* execve */
};

typedef struct {
    const char *path;       /* the file; NULL: argv[0] (see SHUNT_PROC_SEARCH) */
    char *const *argv;
    char *const *envp;      /* NULL: this process's environment */
    const char *cwd;        /* NULL: this process's */
    int stdio[3];           /* the child's 0, 1, 2: an fd of this process
                             * (dup2'd), or SHUNT_PROC_NULL */
    unsigned flags;         /* SHUNT_PROC_* */
    /* In the child after stdio and cwd, last before exec: async-signal-
     * safe calls only; 0, or an errno (reported, stage SETUP). */
    int (*setup)(void *arg);
    /* Instead of an exec: the child runs main(arg) and _exits with its
     * value.  No signal, stdio or cwd change is made for it. */
    int (*main)(void *arg);
    void *arg;
    /* Filled by shunt_proc_start. */
    pid_t pid;
    int report; /* read end of the exec report, -1 once read */
} shunt_proc_t;

/* execvp's search, without running anything: a name with a '/' is taken
 * as is; others are looked up in $PATH (unset: /bin:/usr/bin; an empty
 * entry is the current directory), the first executable regular file
 * winning.  0 with out filled; -ENOENT; -EACCES when only files that are
 * not executable were found (out names the first) or a '/' name is a
 * directory or not executable; -ENAMETOOLONG. */
int shunt_proc_find(const char *cmd, char *out, size_t outlen);

/* Forks the child (p->pid).  The child resets its signal mask and
 * SIGPIPE, maps stdio, enters cwd, runs setup and execs; a failure is
 * written to the report pipe.  0, or -errno with nothing started. */
int shunt_proc_start(shunt_proc_t *p);

/* Reads the report of a started child: 0 once it has exec'd (or runs
 * main); otherwise -errno of the failed step, *stage saying which (may be
 * NULL), and the child reaped (p->pid 0).  Blocks until the exec. */
int shunt_proc_started(shunt_proc_t *p, int *stage);

/* shunt_proc_start and shunt_proc_started: 0 when the child runs, -errno
 * when it could not be started (p->pid 0). */
int shunt_proc_spawn(shunt_proc_t *p, int *stage);

/* waitpid(pid, status, 0), EINTR retried: pid's id, or -1 with errno. */
pid_t shunt_proc_wait(pid_t pid, int *status);

/* Waits for pid until deadline_ms (shunt_now_ms; 0: none) or until *stop
 * (NULL: never) becomes nonzero.  Then: with grace_ms >= 0, SIGTERM, and
 * grace_ms later SIGKILL to pid and its process group; with grace_ms < 0,
 * that SIGKILL at once.  Reaps pid either way.  0 with *status, *timed_out
 * (may be NULL) telling whether the deadline struck; -errno when waitpid
 * fails. */
int shunt_proc_wait_until(pid_t pid, uint64_t deadline_ms, int grace_ms,
                          volatile sig_atomic_t *stop, int *status,
                          int *timed_out);

/* SIGKILL to pid's process group and to pid. */
void shunt_proc_kill(pid_t pid);

/* A wait status as a shell shows it: the exit code, or 128 + signal. */
int shunt_proc_exit_code(int status);

#endif
