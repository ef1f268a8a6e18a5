/* Incoming traffic (docs/incoming.md): the subscriptions of the program's
 * listeners to ports of the target, and the delivery of the agent's
 * incoming streams by connecting to those listeners. */
#include "proxy_int.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct pinsub {
    uint32_t sub;
    psess_t *root;          /* the group that subscribed */
    uint16_t remote_port, local_port;
    int family;             /* the listener: where incoming streams go */
    uint8_t addr[16];
    int filtered;
    uint8_t mode;
    unsigned refs;          /* INCOMING_SUBs of the group for this port */
    int tfamily;            /* the target's address, from INCOMING_SUB_R */
    uint8_t taddr[16];
    uint32_t talen;
    pinsub_t *next;
};

static size_t alen_of(int family) { return family == AF_INET6 ? 16 : 4; }

static const char *mode_name(const pinsub_t *s)
{
    if (s->mode == SHUNT_IN_MIRROR)
        return "mirror";
    return s->filtered ? "steal-filter" : "steal";
}

/* The status file the harness waits on: one line per live subscription,
 * "REMOTE_PORT LOCAL_PORT MODE", replaced by a rename. */
static void status_write(shunt_proxy_t *p)
{
    if (!p->incoming_status)
        return;
    if (!p->insubs) {
        unlink(p->incoming_status);
        return;
    }
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", p->incoming_status);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                  0644);
    if (fd < 0) {
        LOG_WARN("incoming: cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    char line[96];
    int ok = 1;
    for (pinsub_t *s = p->insubs; s; s = s->next) {
        int n = snprintf(line, sizeof(line), "%u %u %s\n", s->remote_port,
                         s->local_port, mode_name(s));
        if (write(fd, line, (size_t)n) != n)
            ok = 0;
    }
    if (close(fd) < 0)
        ok = 0;
    if (!ok || rename(tmp, p->incoming_status) < 0) {
        LOG_WARN("incoming: cannot write %s: %s", p->incoming_status,
                 strerror(errno));
        unlink(tmp);
    }
}

static pinsub_t *find_port(shunt_proxy_t *p, uint16_t remote_port)
{
    for (pinsub_t *s = p->insubs; s; s = s->next)
        if (s->remote_port == remote_port)
            return s;
    return NULL;
}

static pinsub_t *find_sub(shunt_proxy_t *p, uint32_t sub)
{
    for (pinsub_t *s = p->insubs; s; s = s->next)
        if (s->sub == sub)
            return s;
    return NULL;
}

static void unlink_sub(shunt_proxy_t *p, pinsub_t *s)
{
    for (pinsub_t **pp = &p->insubs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            return;
        }
}

static int send_sub_r(pconn_t *c, uint64_t id, const pinsub_t *s)
{
    shunt_incoming_sub_r_t r = {.sub = s->sub,
                                .family = s->tfamily,
                                .addr = shunt_bytes(s->taddr, s->talen)};
    return shunt_encode(&c->tx, SHUNT_T_INCOMING_SUB_R, 0, id, &r,
                        c->max_frame);
}

int incoming_sub_request(shunt_proxy_t *p, pconn_t *c, const uint8_t *frame,
                         size_t len, const shunt_msg_t *m)
{
    const shunt_incoming_sub_t *q = &m->u.incoming_sub;
    psess_t *root = c->sess->root;
    if (q->remote_port == 0 || q->local_port == 0 ||
        (q->family != AF_INET && q->family != AF_INET6) ||
        q->local_addr.len != alen_of(q->family) ||
        (q->mode != SHUNT_IN_MIRROR && q->mode != SHUNT_IN_STEAL)) {
        conn_send_error(p, c, m->id, EINVAL, "malformed INCOMING_SUB");
        return 0;
    }
    pinsub_t *s = find_port(p, q->remote_port);
    if (s) {
        if (s->root == root && s->local_port == q->local_port &&
            s->mode == q->mode) {
            /* another listener of the group on the same port
             * (SO_REUSEPORT, or a forked child listening again) */
            s->refs++;
            if (send_sub_r(c, m->id, s) < 0)
                LOG_WARN("%s: out of memory queueing an answer", c->name);
            proxy_mark_dirty(p, &c->ev);
            return 0;
        }
        char why[160];
        snprintf(why, sizeof(why),
                 "port %u of the target is already taken by this session "
                 "for local port %u",
                 q->remote_port, s->local_port);
        conn_send_error(p, c, m->id, EADDRINUSE, why);
        return 0;
    }
    pinsub_t *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->root = root;
    d->remote_port = q->remote_port;
    d->local_port = q->local_port;
    d->family = q->family;
    memcpy(d->addr, q->local_addr.p, q->local_addr.len);
    d->mode = q->mode;
    d->filtered = q->filter.count > 0;
    d->refs = 1;
    int rc = proxy_forward_request_ctx(p, c, frame, len, m, d);
    if (rc < 0)
        free(d);
    return rc;
}

void incoming_sub_answered(shunt_proxy_t *p, pconn_t *c, void *ctx,
                           const shunt_msg_t *m)
{
    pinsub_t *d = ctx;
    if (m->type != SHUNT_T_INCOMING_SUB_R) {
        free(d);
        return;
    }
    const shunt_incoming_sub_r_t *r = &m->u.incoming_sub_r;
    /* The group may have ended while the agent answered (its root is
     * freed then: only a live connection's group is trusted). */
    if (!c || c->sess->root != d->root || find_sub(p, r->sub)) {
        shunt_incoming_unsub_t u = {.sub = r->sub};
        proxy_link_request(p, SHUNT_T_INCOMING_UNSUB, &u);
        free(d);
        return;
    }
    d->sub = r->sub;
    d->tfamily = r->family;
    d->talen = r->addr.len <= sizeof(d->taddr) ? r->addr.len : 0;
    memcpy(d->taddr, r->addr.p, d->talen);
    d->next = p->insubs;
    p->insubs = d;
    LOG_INFO("incoming: port %u of the target -> local port %u (%s)",
             d->remote_port, d->local_port, mode_name(d));
    status_write(p);
}

void incoming_ctx_free(void *ctx) { free(ctx); }

/* INCOMING_UNSUB from a layer: 1 when it must go on to the agent. */
int incoming_unsub_request(shunt_proxy_t *p, pconn_t *c, uint32_t sub,
                           int *err)
{
    pinsub_t *s = find_sub(p, sub);
    if (!s || s->root != c->sess->root) {
        *err = ENOENT;
        return 0;
    }
    *err = 0;
    if (--s->refs > 0)
        return 0;
    LOG_INFO("incoming: port %u of the target released", s->remote_port);
    unlink_sub(p, s);
    free(s);
    status_write(p);
    return 1;
}

void incoming_group_ended(shunt_proxy_t *p, psess_t *root)
{
    int changed = 0;
    for (pinsub_t **pp = &p->insubs; *pp;) {
        pinsub_t *s = *pp;
        if (s->root != root) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        LOG_INFO("incoming: port %u of the target released (its programs "
                 "are gone)",
                 s->remote_port);
        shunt_incoming_unsub_t u = {.sub = s->sub};
        proxy_link_request(p, SHUNT_T_INCOMING_UNSUB, &u);
        free(s);
        changed = 1;
    }
    if (changed)
        status_write(p);
}

void incoming_link_lost(shunt_proxy_t *p)
{
    while (p->insubs) {
        pinsub_t *s = p->insubs;
        p->insubs = s->next;
        free(s);
    }
    status_write(p);
}

void incoming_free_all(shunt_proxy_t *p)
{
    incoming_link_lost(p);
}

/* INCOMING from the agent: a new stream for a subscribed listener. */
void incoming_on_agent(shunt_proxy_t *p, const shunt_msg_t *m)
{
    const shunt_incoming_t *in = &m->u.incoming;
    pinsub_t *sub = find_sub(p, in->sub);
    int err = 0;
    if (!sub || !sub->root) {
        LOG_DEBUG("incoming stream %u for unknown subscription %u; refused",
                  in->stream, in->sub);
        err = ECONNREFUSED;
    } else {
        err = -stream_incoming(p, sub->root, in, sub->family, sub->addr,
                               sub->local_port);
    }
    if (err) {
        shunt_sclose_t b = {.stream = in->stream, .err = err};
        proxy_link_send(p, SHUNT_T_SCLOSE, 0, &b);
    }
}
