/* The handshake check: what a server (the agent, the proxy) answers a HELLO,
 * decided in one place so that both answer the same HELLO the same way
 * (docs/protocol.md, "Handshake"). */
#include "shunt/hello.h"
#include "shunt/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *role_name(unsigned role)
{
    switch (role) {
    case SHUNT_ROLE_LAYER: return "layer";
    case SHUNT_ROLE_PROXY: return "proxy";
    case SHUNT_ROLE_TOOL: return "tool";
    }
    return NULL;
}

static void served(unsigned roles, char *out, size_t len)
{
    size_t n = 0;
    out[0] = 0;
    for (unsigned r = 1; r < 8 * sizeof(roles) && n < len; r++)
        if (roles & (1u << r) && role_name(r))
            n += (size_t)snprintf(out + n, len - n, "%s%s", n ? " or " : "",
                                  role_name(r));
}

int shunt_hello_check(const shunt_hello_t *h, const shunt_hello_want_t *w,
                      shunt_hello_r_t *r, char *msg, size_t msglen)
{
    if (h->magic != SHUNT_MAGIC) {
        snprintf(msg, msglen, "bad magic 0x%08x (not a shunt peer)", h->magic);
        return EPROTO;
    }
    unsigned lo = h->ver_min > SHUNT_PROTO_VERSION_MIN ? h->ver_min
                                                       : SHUNT_PROTO_VERSION_MIN;
    unsigned hi = h->ver_max < w->ver_max ? h->ver_max : w->ver_max;
    if (lo > hi) {
        snprintf(msg, msglen,
                 "no common protocol version (peer %u-%u, %s %u-%u)",
                 h->ver_min, h->ver_max, w->server, SHUNT_PROTO_VERSION_MIN,
                 w->ver_max);
        return EPROTONOSUPPORT;
    }
    /* In constant time whatever the lengths: the token before anything a
     * peer without it could learn from (the roles served). */
    int bad = 0;
    if (w->token) {
        bad = h->token.len != w->token_len;
        const void *theirs = bad ? w->token : (const void *)h->token.p;
        bad |= shunt_ct_memcmp(theirs, w->token, w->token_len) != 0;
    }
    if (bad) {
        snprintf(msg, msglen, "wrong token");
        return EACCES;
    }
    if (h->role >= 8 * sizeof(w->roles) || !(w->roles & (1u << h->role))) {
        char list[64];
        served(w->roles, list, sizeof(list));
        snprintf(msg, msglen, "role %u is not served by the %s (%s only)",
                 h->role, w->server, list);
        return EACCES;
    }
    /* 0 = no preference; never below SHUNT_FRAME_MIN, whatever was asked. */
    uint32_t mf = h->max_frame ? h->max_frame : SHUNT_FRAME_DEFAULT;
    if (mf > w->max_frame)
        mf = w->max_frame;
    if (mf < SHUNT_FRAME_MIN)
        mf = SHUNT_FRAME_MIN;
    r->version = (uint16_t)hi;
    r->max_frame = mf;
    msg[0] = 0;
    return 0;
}
