/* The handshake check shared by every server of the protocol (the agent,
 * the proxy): one HELLO, one answer, as docs/protocol.md describes it. */
#ifndef SHUNT_HELLO_H
#define SHUNT_HELLO_H

#include "shunt/proto.h"

#define SHUNT_ROLE_BIT(role) (1u << (role))

/* What a server accepts. */
typedef struct {
    const char *server;  /* "agent", "proxy": for the refusal's message */
    unsigned roles;      /* SHUNT_ROLE_BIT() of each role it serves */
    const void *token;   /* the shared secret; NULL: none is asked for (a
                          * connection a broker made: the socket is the
                          * capability) */
    size_t token_len;
    uint16_t ver_max;    /* highest version it speaks now, at most
                          * SHUNT_PROTO_VERSION_MAX (the proxy: no more
                          * than its agent link's) */
    uint32_t max_frame;  /* largest frame it accepts, >= SHUNT_FRAME_MIN */
} shunt_hello_want_t;

/* Checks h, in this order: magic (EPROTO), a common version
 * (EPROTONOSUPPORT), the token unless w->token is NULL, compared in constant
 * time (EACCES), a role
 * the server serves (EACCES).  Returns 0 with r->version (the highest both
 * speak) and r->max_frame (the smaller of the two limits, h->max_frame 0
 * meaning SHUNT_FRAME_DEFAULT, and never below SHUNT_FRAME_MIN) set; the
 * session and server_pid are the server's to fill.  Otherwise returns the
 * errno to answer in ERROR, with why in msg. */
int shunt_hello_check(const shunt_hello_t *h, const shunt_hello_want_t *w,
                      shunt_hello_r_t *r, char *msg, size_t msglen);

#endif
