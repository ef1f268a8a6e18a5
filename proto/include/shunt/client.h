/* A synchronous protocol client: connect, handshake, request/response.
 * Used by tests, benchmarks and tools; one thread per client. */
#ifndef SHUNT_CLIENT_H
#define SHUNT_CLIENT_H

#include "shunt/proto.h"

typedef struct shunt_client shunt_client_t;

typedef struct {
    uint8_t role;          /* SHUNT_ROLE_* */
    const void *token;     /* shared secret */
    size_t token_len;
    const char *name;      /* for the peer's logs */
    uint64_t session;      /* 0 = new */
    uint64_t parent_session;
    uint32_t max_frame;    /* 0 = SHUNT_FRAME_DEFAULT */
    int timeout_ms;        /* connect + handshake, and each call; 0 = 10 s */
    uint32_t pid;          /* said in HELLO; 0 = getpid() */
} shunt_client_opts_t;

/* addr: "unix:/path", "/path" (unix socket), "tcp:HOST:PORT" or "HOST:PORT"
 * (numeric addresses only).  On failure returns NULL with errno set and a
 * message in err. */
shunt_client_t *shunt_client_connect(const char *addr,
                                     const shunt_client_opts_t *opts,
                                     char *err, size_t errlen);
/* The same over a stream socket already connected (a socketpair handed
 * to the session's broker): the client owns fd from now on, also when it
 * fails.  addr names it in messages. */
shunt_client_t *shunt_client_adopt(int fd, const char *addr,
                                   const shunt_client_opts_t *opts,
                                   char *err, size_t errlen);
void shunt_client_close(shunt_client_t *c);

/* Sends one request and waits for its response.  Frames with other ids
 * (stream traffic) that arrive meanwhile are discarded: a client that uses
 * streams reads them with shunt_client_recv() and sends no calls meanwhile.
 * Returns 0 with *resp set (pointing into the client's buffer, valid until
 * the next call) when the answer is one messages.def lists for type, -err
 * when the peer answered ERROR (resp holds it), -EPROTO for any other
 * answer (shunt_answer_check), or -errno on a transport failure
 * (-ETIMEDOUT, -ECONNRESET, -EPROTO). */
int shunt_client_call(shunt_client_t *c, uint16_t type, const void *body,
                      shunt_msg_t *resp);
/* Sends a one-way frame (stream traffic). */
int shunt_client_send(shunt_client_t *c, uint16_t type, const void *body);
/* Receives the next frame of any kind (stream traffic). */
int shunt_client_recv(shunt_client_t *c, shunt_msg_t *m, int timeout_ms);

int shunt_client_fd(const shunt_client_t *c);
uint32_t shunt_client_max_frame(const shunt_client_t *c);
uint64_t shunt_client_session(const shunt_client_t *c);
uint16_t shunt_client_version(const shunt_client_t *c);

#endif
