/* A shunt session on the harness side: shunt-agent for a target (or a plain
 * root directory) and the session proxy in front of it, run on a thread of
 * the calling process.  Used by `harness proxy` and `harness exec`. */
#ifndef SHUNT_HARNESS_SESSION_H
#define SHUNT_HARNESS_SESSION_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct shunt_session shunt_session_t;

typedef struct {
    const char *who;       /* prefix of error messages ("harness proxy") */
    const char *target;    /* a target that is up, with its init's host pid */
    int init_pid;
    const char *root;      /* or a directory served as the root (tests) */
    const char *socket;    /* layer socket; NULL: see private_socket */
    int private_socket;    /* with socket NULL: a path in the session's temp
                              dir even for a target (otherwise the target's
                              SHUNT_STATE_ROOT/NAME/proxy.sock) */
    const char *agent;     /* shunt-agent binary; NULL: next to the harness */
    const char *log_level; /* passed to the agent; NULL: its default */
    /* The caller's signalfd for SIGTERM/SIGINT/SIGHUP/SIGCHLD (all blocked
     * in every thread).  A stop signal during start-up aborts the start. */
    int sigfd;
} shunt_session_opts_t;

/* Starts the agent, waits until it listens, writes the layer token to
 * SOCKET.token and starts the proxy loop on a thread (which inherits the
 * caller's signal mask).  Returns 0 with *out set, 1 when a stop signal
 * arrived meanwhile, -1 on failure (reported on stderr, with the tail of
 * the agent's stderr when it is the agent that failed).  Nothing is left
 * behind unless 0 is returned. */
int shunt_session_start(const shunt_session_opts_t *o, shunt_session_t **out);

const char *shunt_session_socket(const shunt_session_t *s);
const char *shunt_session_token(const shunt_session_t *s);   /* hex text */
/* With private_socket: the program's end of the session's broker (close-on-
 * exec, the caller's to pass on and close), once; -1 otherwise.  The
 * program's layer needs neither the path nor the token with it. */
int shunt_session_take_broker(shunt_session_t *s);
const char *shunt_session_tmpdir(const shunt_session_t *s);  /* private 0700 */
pid_t shunt_session_agent_pid(const shunt_session_t *s);     /* 0 once gone */

/* The fds the caller's loop must poll for the session (the agent's output,
 * forwarded to stderr, and the proxy thread's exit); at most
 * SHUNT_SESSION_POLLFDS.  Pass the polled array back to
 * shunt_session_events(), which returns -1 when the proxy loop has
 * stopped by itself (logged), 0 otherwise. */
#define SHUNT_SESSION_POLLFDS 3
size_t shunt_session_pollfds(const shunt_session_t *s, struct pollfd *pf);
int shunt_session_events(shunt_session_t *s, const struct pollfd *pf,
                         size_t n);

/* Call on SIGCHLD: reaps the agent if it exited and logs how (the proxy
 * keeps answering with EIO).  Returns 1 if it did. */
int shunt_session_reap(shunt_session_t *s);

/* Stops the proxy loop and the agent (SIGTERM, SIGKILL after 3 s), removes
 * the socket, the token files and the temp dir, and frees s. */
void shunt_session_end(shunt_session_t *s);

/* "exited with status N" / "was killed by signal N (NAME)". */
void shunt_describe_status(int status, char *out, size_t outlen);

#endif
