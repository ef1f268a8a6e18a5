/* Test fixture for shunt-agent: temp trees, starting the real agent,
 * connecting clients, raw frames. */
#ifndef SHUNT_TEST_AGENT_FIXTURE_H
#define SHUNT_TEST_AGENT_FIXTURE_H

#include "shunt/client.h"
#include "shunt/frameio.h"
#include "shunt/proto.h"

#include <stddef.h>
#include <sys/types.h>

#define TEST_TOKEN "agent-test-token-7f3a"

typedef struct {
    pid_t pid;
    char addr[64];      /* "127.0.0.1:PORT" */
    char token_file[256];
} agent_proc_t;

/* A fresh temp dir (mkdtemp) in out; returns 0. */
int tmp_tree(char *out, size_t outlen, const char *tag);
/* rm -rf that does not cross mount points. */
void rm_tree(const char *path);
/* Writes a whole file (creating parents is the caller's job). */
void put_file(const char *dir, const char *rel, const char *content);

/* Starts shunt-agent --root ROOT (no --root when ROOT is NULL) with extra
 * args (NULL-terminated list, may be NULL); waits for its "listening on"
 * line.  Returns 0. */
int agent_start(agent_proc_t *ap, const char *root, const char *const *extra);
/* SIGTERM; returns the exit status (or -1 if it did not exit in time). */
int agent_stop(agent_proc_t *ap);

shunt_client_t *agent_client(const agent_proc_t *ap);
shunt_client_t *agent_client_opts(const agent_proc_t *ap, const char *token,
                                  uint32_t max_frame, char *err,
                                  size_t errlen);
/* A plain TCP connection to the agent (no handshake). */
int agent_raw_connect(const agent_proc_t *ap);
/* Sends a HELLO with the given fields on a raw socket. */
int raw_hello(int fd, uint32_t magic, uint16_t vmin, uint16_t vmax,
              uint8_t role, const char *token);
/* Reads one frame from a raw socket; 1 with m filled, or -errno
 * (-ECONNRESET on EOF).  buf must stay alive while m is used. */
int raw_recv(int fd, shunt_rx_t *rx, shunt_msg_t *m, int timeout_ms);
/* Waits until the peer closes fd (EOF or reset): 0, or -ETIMEDOUT. */
int raw_wait_closed(int fd, int timeout_ms);

/* Number of open fds of a process. */
int count_fds(pid_t pid);

/* Convenience requests; return >= 0 or -errno (r_open: the u32 handle). */
int64_t r_open(shunt_client_t *c, uint32_t dirh, const char *path, int flags,
               unsigned mode);
int r_close(shunt_client_t *c, uint32_t h);
/* Reads the whole file at path into buf (NUL-terminated); returns length. */
ssize_t r_slurp(shunt_client_t *c, uint32_t dirh, const char *path, char *buf,
                size_t len);
int r_ping(shunt_client_t *c);

#endif
