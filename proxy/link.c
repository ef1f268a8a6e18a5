/* The agent link: request forwarding with id rewriting, response routing,
 * the handshake, and what happens when the link dies. */
#include "proxy_int.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int proxy_link_send(shunt_proxy_t *p, uint16_t type, uint64_t id,
                    const void *body)
{
    if (!atomic_load(&p->link_up))
        return -EIO;
    uint16_t flags = shunt_msg_is_oneway(type) ? SHUNT_FLAG_ONEWAY : 0;
    size_t at = p->link_tx.len;
    int rc = shunt_encode(&p->link_tx, type, flags, id, body, p->link_max);
    if (rc < 0) {
        LOG_ERROR("cannot queue %s for the agent: %s", shunt_msg_name(type),
                  strerror(-rc));
        return rc;
    }
    if (p->record)
        proxy_record_frame(p->record, 1, p->link_tx.data + at,
                           p->link_tx.len - at);
    proxy_mark_dirty(p, &p->link_ev);
    return 0;
}

static ppend_t *pend_alloc(shunt_proxy_t *p)
{
    ppend_t *pd = p->free_pend;
    if (pd) {
        p->free_pend = pd->next_free;
        memset(pd, 0, sizeof(*pd));
        return pd;
    }
    return calloc(1, sizeof(*pd));
}

static void pend_release(shunt_proxy_t *p, ppend_t *pd)
{
    pd->next_free = p->free_pend;
    p->free_pend = pd;
}

/* Registers a pending request; returns its link id or 0. */
static uint64_t pend_add(shunt_proxy_t *p, uint64_t conn_id, uint64_t orig,
                         uint16_t type, int32_t socktype)
{
    ppend_t *pd = pend_alloc(p);
    if (!pd)
        return 0;
    pd->conn_id = conn_id;
    pd->orig_id = orig;
    pd->type = type;
    pd->socktype = socktype;
    uint64_t id = p->next_req_id++;
    if (pmap_put(&p->pending, id, pd) < 0) {
        pend_release(p, pd);
        return 0;
    }
    return id;
}

static void pend_drop(shunt_proxy_t *p, uint64_t id)
{
    ppend_t *pd = pmap_del(&p->pending, id);
    if (pd)
        pend_release(p, pd);
}

int proxy_link_request(shunt_proxy_t *p, uint16_t type, const void *body)
{
    if (!atomic_load(&p->link_up))
        return -EIO;
    uint64_t id = pend_add(p, 0, 0, type, 0);
    if (!id)
        return -ENOMEM;
    int rc = proxy_link_send(p, type, id, body);
    if (rc < 0)
        pend_drop(p, id);
    return rc;
}

/* Forwards a layer request: the id becomes a link-unique one. */
int proxy_forward_request(shunt_proxy_t *p, pconn_t *c, const uint8_t *frame,
                          size_t len, const shunt_msg_t *m)
{
    return proxy_forward_request_ctx(p, c, frame, len, m, NULL);
}

int proxy_forward_request_ctx(shunt_proxy_t *p, pconn_t *c,
                              const uint8_t *frame, size_t len,
                              const shunt_msg_t *m, void *ctx)
{
    int32_t socktype = m->type == SHUNT_T_CONNECT ? m->u.connect.socktype : 0;
    uint64_t id = pend_add(p, c->id, m->id, m->type, socktype);
    if (!id)
        return -ENOMEM;
    if (ctx)
        ((ppend_t *)pmap_get(&p->pending, id))->ctx = ctx;
    int rc = 0;
    size_t at0 = p->link_tx.len;
    uint32_t limit = SHUNT_DATA_MAX(c->max_frame);
    if (m->type == SHUNT_T_READ && m->u.read.count > limit) {
        /* The answer must fit the client's frame: a short read is legal. */
        shunt_read_t b = m->u.read;
        b.count = limit;
        rc = shunt_encode(&p->link_tx, m->type, 0, id, &b, p->link_max);
    } else if (m->type == SHUNT_T_PREAD && m->u.pread.count > limit) {
        shunt_pread_t b = m->u.pread;
        b.count = limit;
        rc = shunt_encode(&p->link_tx, m->type, 0, id, &b, p->link_max);
    } else {
        size_t at = p->link_tx.len;
        rc = shunt_wbuf_append(&p->link_tx, frame, len);
        if (rc == 0) {
            uint8_t *h = p->link_tx.data + at;
            /* it is a request */
            shunt_frame_set_flags(h, (uint16_t)(shunt_frame_flags(h) &
                                                ~SHUNT_FLAG_ONEWAY));
            shunt_frame_set_id(h, id);
        }
    }
    if (rc < 0) {
        ppend_t *pd = pmap_get(&p->pending, id);
        if (pd)
            pd->ctx = NULL; /* the caller still owns it */
        pend_drop(p, id);
        return rc;
    }
    if (p->record)
        proxy_record_frame(p->record, 1, p->link_tx.data + at0,
                           p->link_tx.len - at0);
    c->npending++;
    proxy_mark_dirty(p, &p->link_ev);
    return 0;
}

void proxy_link_fail(shunt_proxy_t *p, const char *why)
{
    if (!atomic_load(&p->link_up))
        return;
    atomic_store(&p->link_up, 0);
    LOG_ERROR("agent link lost: %s; failing %zu pending request(s) with EIO, "
              "closing all relays",
              why, p->pending.n);
    proxy_ev_set(p, &p->link_ev, 0);
    close(p->link_ev.fd);
    p->link_ev.fd = -1;
    shunt_wbuf_reset(&p->link_tx);
    p->link_congested = 0;

    uint64_t id;
    void *v;
    for (size_t i = 0; pmap_next(&p->pending, &i, &id, &v);) {
        ppend_t *pd = v;
        pconn_t *c = pd->conn_id ? pmap_get(&p->conns, pd->conn_id) : NULL;
        if (c) {
            conn_send_error(p, c, pd->orig_id, EIO, "agent link lost");
            conn_response_done(p, c);
        }
        if (pd->ctx)
            incoming_ctx_free(pd->ctx);
        pend_release(p, pd);
    }
    pmap_free(&p->pending);
    incoming_link_lost(p);
    stream_reset_all(p);
    sess_link_lost(p);
}

/* A response from the agent: route it back to the client that asked. */
static void link_on_response(shunt_proxy_t *p, const uint8_t *frame,
                             size_t len, const shunt_msg_t *m)
{
    ppend_t *pd = pmap_del(&p->pending, m->id);
    if (!pd) {
        LOG_WARN("agent sent %s for unknown request %llu; dropped",
                 shunt_msg_name(m->type), (unsigned long long)m->id);
        return;
    }
    pconn_t *c = pd->conn_id ? pmap_get(&p->conns, pd->conn_id) : NULL;
    uint64_t orig = pd->orig_id;
    uint16_t rtype = pd->type;
    int udp = (pd->socktype & 0xff) == SOCK_DGRAM;
    int own = pd->conn_id == 0;
    void *ctx = pd->ctx;
    pend_release(p, pd);
    if (rtype == SHUNT_T_INCOMING_SUB)
        incoming_sub_answered(p, c, ctx, m); /* takes ctx */
    else if (ctx)
        incoming_ctx_free(ctx);

    if (own) {
        if (rtype == SHUNT_T_CREDS && m->type == SHUNT_T_ERROR &&
            !p->creds_refused) {
            /* an agent without CREDS would serve everyone as itself */
            LOG_ERROR("agent refused CREDS (%s): only root and this user "
                      "are served from now on",
                      strerror(m->u.error.err));
            p->creds_refused = 1;
        }
        if (m->type == SHUNT_T_ERROR)
            LOG_DEBUG("agent: %s failed: %s", shunt_msg_name(rtype),
                      strerror(m->u.error.err));
        return;
    }
    if ((rtype == SHUNT_T_OPEN || rtype == SHUNT_T_OPENAT) &&
        m->type == SHUNT_T_OPEN_R) {
        if (c)
            sess_handle_add(p, c->sess, m->u.open_r.handle);
        else /* nobody will ever close it */
            sess_send_close(p, m->u.open_r.handle);
    }
    if (rtype == SHUNT_T_CONNECT && m->type == SHUNT_T_CONNECT_R) {
        shunt_sclose_t sc = {.stream = m->u.connect_r.stream, .err = 0};
        if (!c) {
            proxy_link_send(p, SHUNT_T_SCLOSE, 0, &sc);
            return;
        }
        shunt_connect_r_t r = m->u.connect_r;
        int rc = stream_open(p, c->sess->root, &r, udp, &r.relay_port);
        if (rc == 0)
            rc = shunt_encode(&c->tx, SHUNT_T_CONNECT_R, 0, orig, &r,
                              c->max_frame);
        if (rc < 0) {
            proxy_link_send(p, SHUNT_T_SCLOSE, 0, &sc);
            conn_send_error(p, c, orig, -rc, "cannot create relay endpoint");
        }
        proxy_mark_dirty(p, &c->ev);
        conn_response_done(p, c);
        return;
    }
    if (c) {
        conn_send_frame(p, c, frame, len, orig);
        conn_response_done(p, c);
    }
}

static void link_on_frame(shunt_proxy_t *p, const uint8_t *frame, size_t len)
{
    if (p->record)
        proxy_record_frame(p->record, 0, frame, len);
    shunt_msg_t m;
    int rc = shunt_decode(frame, len, &m);
    if (rc == -ENOSYS) {
        LOG_WARN("agent sent unknown message type 0x%04x", m.type);
        ppend_t *pd = (m.flags & SHUNT_FLAG_ONEWAY)
                          ? NULL
                          : pmap_del(&p->pending, m.id);
        if (!pd)
            return;
        /* The request still gets an answer, or its client would wait. */
        pconn_t *c = pd->conn_id ? pmap_get(&p->conns, pd->conn_id) : NULL;
        if (c) {
            conn_send_error(p, c, pd->orig_id, EPROTO,
                            "the agent answered with an unknown message "
                            "type");
            conn_response_done(p, c);
        }
        if (pd->ctx)
            incoming_ctx_free(pd->ctx);
        pend_release(p, pd);
        return;
    }
    if (rc < 0) {
        proxy_link_fail(p, "malformed frame from the agent");
        return;
    }
    if (shunt_log_get_level() >= SHUNT_LOG_TRACE) {
        char line[256];
        shunt_msg_format(&m, line, sizeof(line));
        LOG_TRACE("agent -> %s", line);
    }
    if (m.type == SHUNT_T_WATCH_EVENT)
        inotify_on_agent(p, &m);
    else if (m.type == SHUNT_T_INCOMING)
        incoming_on_agent(p, &m);
    else if (shunt_msg_is_oneway(m.type))
        stream_on_agent(p, &m);
    else
        link_on_response(p, frame, len, &m);
}

void link_on_event(shunt_proxy_t *p, uint32_t events)
{
    if (events & EPOLLOUT)
        proxy_mark_dirty(p, &p->link_ev);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (int rounds = 0; rounds < 16 && atomic_load(&p->link_up); rounds++) {
        ssize_t n = shunt_rx_fill(&p->link_rx, p->link_ev.fd);
        if (n == -EAGAIN)
            return;
        if (n == 0) {
            proxy_link_fail(p, "the agent closed the connection");
            return;
        }
        if (n < 0) {
            char why[96];
            snprintf(why, sizeof(why), "read error: %s", strerror((int)-n));
            proxy_link_fail(p, why);
            return;
        }
        const uint8_t *f;
        size_t len;
        int r = 0;
        while (atomic_load(&p->link_up) &&
               (r = shunt_rx_frame(&p->link_rx, &f, &len)) == 1) {
            link_on_frame(p, f, len);
            if (!atomic_load(&p->link_up))
                return; /* the buffer is gone */
            shunt_rx_consume(&p->link_rx, len);
        }
        if (atomic_load(&p->link_up) && r == -EMSGSIZE) {
            proxy_link_fail(p, "oversize frame from the agent");
            return;
        }
        if (shunt_rx_drained(&p->link_rx))
            return; /* level-triggered: epoll says when there is more */
    }
}

void link_sync(shunt_proxy_t *p)
{
    if (!atomic_load(&p->link_up))
        return;
    int rc = shunt_tx_flush(&p->link_tx, p->link_ev.fd, PROXY_TX);
    if (rc < 0) {
        char why[96];
        snprintf(why, sizeof(why), "write error: %s", strerror(-rc));
        proxy_link_fail(p, why);
        return;
    }
    size_t pend = shunt_wbuf_pending(&p->link_tx);
    if (!p->link_congested && pend > PROXY_LINK_TX_HIGH) {
        p->link_congested = 1;
    } else if (p->link_congested && pend < PROXY_LINK_TX_LOW) {
        p->link_congested = 0;
        stream_link_uncongested(p);
    }
    proxy_ev_set(p, &p->link_ev, EPOLLIN | (pend ? EPOLLOUT : 0));
}

/* Connects and greets the agent, blocking up to timeout_ms. */
int link_open(shunt_proxy_t *p, const shunt_proxy_opts_t *o, char *err,
              size_t errlen)
{
    const char *addr = o->agent_addr;
    if (strncmp(addr, "tcp:", 4) == 0)
        addr += 4;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (shunt_parse_hostport(addr, &ss, &sl) < 0) {
        snprintf(err, errlen, "bad agent address '%s' (want HOST:PORT)",
                 o->agent_addr);
        return -EINVAL;
    }
    int timeout = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -errno;
    }
    p->link_ev.fd = fd;
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            snprintf(err, errlen, "connect to agent %s: %s", addr,
                     strerror(e));
            return -e;
        }
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        int n;
        do
            n = poll(&pf, 1, timeout);
        while (n < 0 && errno == EINTR);
        int soerr = 0;
        socklen_t el = sizeof(soerr);
        if (n == 0)
            soerr = ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) < 0)
            soerr = errno;
        if (soerr) {
            snprintf(err, errlen, "connect to agent %s: %s", addr,
                     strerror(soerr));
            return -soerr;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    shunt_hello_t h = {
        .magic = SHUNT_MAGIC,
        .ver_min = SHUNT_PROTO_VERSION_MIN,
        .ver_max = SHUNT_PROTO_VERSION_MAX,
        .role = SHUNT_ROLE_PROXY,
        .token = shunt_bytes(o->agent_token, o->agent_token_len),
        .pid = (uint32_t)getpid(),
        .ppid = (uint32_t)getppid(),
        .max_frame = SHUNT_FRAME_DEFAULT,
        .name = shunt_str("proxy"),
    };
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    int rc = shunt_encode(&w, SHUNT_T_HELLO, 0, 1, &h, SHUNT_FRAME_DEFAULT);
    if (rc == 0)
        rc = shunt_write_full(fd, w.data, w.len);
    shunt_wbuf_free(&w);
    if (rc < 0) {
        snprintf(err, errlen, "sending HELLO to the agent: %s",
                 strerror(-rc));
        return rc;
    }
    const uint8_t *f;
    size_t len;
    rc = shunt_recv_frame(fd, &p->link_rx, timeout, &f, &len);
    if (rc < 0) {
        snprintf(err, errlen, "waiting for the agent's HELLO_R: %s",
                 rc == -ECONNRESET ? "connection closed by the agent"
                                   : strerror(-rc));
        return rc;
    }
    shunt_msg_t m;
    rc = shunt_decode(f, len, &m);
    if (rc == 0 && m.type == SHUNT_T_ERROR) {
        char msg[256];
        shunt_str_copy(msg, sizeof(msg), m.u.error.msg);
        snprintf(err, errlen, "the agent refused the handshake: %s (%s)",
                 strerror(m.u.error.err), msg);
        return -m.u.error.err;
    }
    if (rc < 0 || m.type != SHUNT_T_HELLO_R) {
        snprintf(err, errlen, "bad handshake answer from the agent");
        return -EPROTO;
    }
    const shunt_hello_r_t *hr = &m.u.hello_r;
    if (hr->version < SHUNT_PROTO_VERSION_MIN ||
        hr->version > SHUNT_PROTO_VERSION_MAX ||
        hr->max_frame < SHUNT_FRAME_MIN ||
        hr->max_frame > SHUNT_FRAME_DEFAULT) {
        snprintf(err, errlen,
                 "agent negotiated version %u, max_frame %u: not acceptable",
                 hr->version, hr->max_frame);
        return -EPROTO;
    }
    p->link_version = hr->version;
    p->link_max = hr->max_frame;
    shunt_rx_consume(&p->link_rx, len);
    p->link_rx.max_frame = p->link_max;
    atomic_store(&p->link_up, 1);
    LOG_INFO("connected to agent %s (pid %u, version %u, max_frame %u)", addr,
             hr->server_pid, hr->version, hr->max_frame);
    return 0;
}
