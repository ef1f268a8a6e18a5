/* Stream relays: a loopback endpoint per agent stream, bytes (TCP) or
 * datagrams (UDP) relayed both ways under per-stream credit. */
#include "proxy_int.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_MAX_DGRAM 65536u

/* The agent may not send more than the window it was granted; twice that is
 * a protocol violation and the stream is reset rather than buffered. */
#define OUT_LIMIT (2u * SHUNT_STREAM_WINDOW)

static void timer_remove(shunt_proxy_t *p, pstream_t *s)
{
    if (!s->tprev && p->thead != s)
        return;
    if (s->tprev)
        s->tprev->tnext = s->tnext;
    else
        p->thead = s->tnext;
    if (s->tnext)
        s->tnext->tprev = s->tprev;
    else
        p->ttail = s->tprev;
    s->tprev = s->tnext = NULL;
}

static void timer_add(shunt_proxy_t *p, pstream_t *s)
{
    s->deadline = shunt_now_ms() + PROXY_ENDPOINT_TIMEOUT_MS;
    s->tnext = NULL;
    s->tprev = p->ttail;
    if (p->ttail)
        p->ttail->tnext = s;
    else
        p->thead = s;
    p->ttail = s;
}

/* Enters a stream whose relay endpoint is s->ev.fd into the proxy's and
 * the session's tables and starts its endpoint timer; frees it and
 * returns -ENOMEM on failure. */
int stream_register(shunt_proxy_t *p, psess_t *root, pstream_t *s)
{
    if (pmap_put(&p->streams, s->id, s) < 0 ||
        pmap_put(&root->streams, s->id, s) < 0) {
        pmap_del(&p->streams, s->id);
        stream_free(s);
        return -ENOMEM;
    }
    s->root = root;
    s->all_next = p->all_streams;
    if (p->all_streams)
        p->all_streams->all_prev = s;
    p->all_streams = s;
    timer_add(p, s);
    return 0;
}

void stream_free(pstream_t *s)
{
    if (s->ev.fd >= 0)
        close(s->ev.fd);
    shunt_wbuf_free(&s->out);
    free(s->in);
    free(s);
}

/* Ends a stream: optionally tells the agent, closes the local side (with
 * RST when rst), frees it after this round. */
static void stream_destroy(shunt_proxy_t *p, pstream_t *s, int sclose, int err,
                           int rst)
{
    if (s->ev.dead)
        return;
    if (sclose && s->state != ST_DRAIN) {
        shunt_sclose_t b = {.stream = s->id, .err = err};
        proxy_link_send(p, SHUNT_T_SCLOSE, 0, &b);
    }
    if (s->state != ST_DRAIN) {
        if (pmap_get(&p->streams, s->id) == s)
            pmap_del(&p->streams, s->id);
        if (s->root)
            pmap_del(&s->root->streams, s->id);
    }
    s->root = NULL;
    if (s->in && pmap_get(&p->inpeers, s->in->relay_port) == s)
        pmap_del(&p->inpeers, s->in->relay_port);
    timer_remove(p, s);
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else if (p->all_streams == s)
        p->all_streams = s->all_next;
    if (s->all_next)
        s->all_next->all_prev = s->all_prev;
    s->all_prev = s->all_next = NULL;
    if (rst && !s->udp && s->state != ST_LISTEN && s->ev.fd >= 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(s->ev.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    proxy_gc(p, &s->ev);
}

/* TCP relay endpoints made ahead of time: a CONNECT_R then costs one
 * listen() instead of socket, bind, listen and getsockname while the
 * application waits.  A pooled socket is bound to an ephemeral loopback port
 * but does not listen, so nothing can connect to it before a stream owns
 * it.  The pool is refilled at the end of a loop round, after the round's
 * replies were written, and only once the session has opened a TCP stream. */
static int relay_pool_take(shunt_proxy_t *p, in_port_t *port)
{
    if (p->relay_pool_n == 0)
        return -1;
    p->relay_pool_n--;
    *port = htons(p->relay_pool[p->relay_pool_n].port);
    return p->relay_pool[p->relay_pool_n].fd;
}

void relay_pool_fill(shunt_proxy_t *p)
{
    while (p->relay_pool_on &&
           p->relay_pool_n < (int)SHUNT_ARRAY_LEN(p->relay_pool)) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        0);
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sin);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
            if (fd >= 0)
                close(fd);
            p->relay_pool_on = 0; /* stream_open makes its own, and retries */
            return;
        }
        p->relay_pool[p->relay_pool_n].fd = fd;
        p->relay_pool[p->relay_pool_n].port = ntohs(sin.sin_port);
        p->relay_pool_n++;
    }
}

void relay_pool_free(shunt_proxy_t *p)
{
    while (p->relay_pool_n > 0)
        close(p->relay_pool[--p->relay_pool_n].fd);
    p->relay_pool_on = 0;
}

int stream_open(shunt_proxy_t *p, psess_t *root, shunt_connect_r_t *r,
                int udp, uint16_t *relay_port)
{
    if (pmap_get(&p->streams, r->stream)) {
        LOG_WARN("agent reused live stream id %u", r->stream);
        return -EEXIST;
    }
    pstream_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->ev.kind = EV_STREAM;
    s->ev.fd = -1;
    s->id = r->stream;
    s->udp = udp;
    s->state = ST_LISTEN;
    s->send_credit = SHUNT_STREAM_WINDOW;
    shunt_wbuf_init(&s->out);

    /* AF_UNIX stream: an abstract unix listener (proxy/unixrelay.c) */
    if (r->family == AF_UNIX)
        return unixrelay_open(p, root, s, r, relay_port);

    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    int fd = -1;
    if (!udp) {
        p->relay_pool_on = 1;
        fd = relay_pool_take(p, &sin.sin_port);
    }
    if (fd < 0)
        fd = socket(AF_INET,
                    (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK |
                        SOCK_CLOEXEC,
                    0);
    else
        sl = 0; /* from the pool: bound, port known, listen() below */
    if (fd < 0 ||
        (sl && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) ||
        (!udp && listen(fd, 1) < 0) ||
        (sl && getsockname(fd, (struct sockaddr *)&sin, &sl) < 0)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        free(s);
        LOG_WARN("stream %u: cannot open a relay endpoint: %s", r->stream,
                 strerror(e));
        return -e;
    }
    s->ev.fd = fd;
    int rc = stream_register(p, root, s);
    if (rc < 0)
        return rc;
    *relay_port = ntohs(sin.sin_port);
    proxy_mark_dirty(p, &s->ev);
    LOG_DEBUG("stream %u: %s relay on 127.0.0.1:%u", s->id,
              udp ? "udp" : "tcp", *relay_port);
    return 0;
}

/* Both directions finished: close the local socket.  The agent, having
 * seen both SHUTDOWNs too, ends the stream itself; an SCLOSE from here could
 * cross its own and hit a reused stream id. */
static void tcp_maybe_done(shunt_proxy_t *p, pstream_t *s)
{
    if (s->local_eof && s->wr_shut && shunt_wbuf_pending(&s->out) == 0)
        stream_destroy(p, s, 0, 0, 0);
}

static void local_failed(shunt_proxy_t *p, pstream_t *s, int err,
                         const char *what)
{
    LOG_DEBUG("stream %u: local %s: %s", s->id, what, strerror(err));
    stream_destroy(p, s, 1, err, 1);
}

static void tcp_accept(shunt_proxy_t *p, pstream_t *s)
{
    int fd = accept4(s->ev.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED)
            LOG_WARN("stream %u: accept: %s", s->id, strerror(errno));
        return;
    }
    proxy_ev_set(p, &s->ev, 0);
    close(s->ev.fd);
    s->ev.fd = fd;
    s->state = ST_OPEN;
    timer_remove(p, s);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    proxy_mark_dirty(p, &s->ev);
}

static int can_read(const shunt_proxy_t *p, const pstream_t *s)
{
    if (!atomic_load(&((shunt_proxy_t *)p)->link_up) || p->link_congested)
        return 0;
    if (s->udp)
        return s->send_credit >= UDP_MAX_DGRAM;
    return s->state == ST_OPEN && !s->local_eof && s->send_credit > 0;
}

static size_t data_max(const shunt_proxy_t *p)
{
    size_t m = SHUNT_DATA_MAX(p->link_max);
    return m < p->scratch_len ? m : p->scratch_len;
}

static void tcp_read(shunt_proxy_t *p, pstream_t *s)
{
    for (int rounds = 0; rounds < 4 && !s->ev.dead && can_read(p, s);
         rounds++) {
        size_t want = data_max(p);
        if (want > s->send_credit)
            want = (size_t)s->send_credit;
        ssize_t n = recv(s->ev.fd, p->scratch, want, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                local_failed(p, s, errno, "read");
            return;
        }
        if (n == 0) {
            s->local_eof = 1;
            shunt_shutdown_t b = {.stream = s->id, .how = SHUT_WR};
            proxy_link_send(p, SHUNT_T_SHUTDOWN, 0, &b);
            tcp_maybe_done(p, s);
            return;
        }
        shunt_data_t d = {.stream = s->id,
                          .data = shunt_bytes(p->scratch, (size_t)n)};
        if (proxy_link_send(p, SHUNT_T_DATA, 0, &d) < 0) {
            stream_destroy(p, s, 1, ENOMEM, 1);
            return;
        }
        s->send_credit -= (uint64_t)n;
        if ((size_t)n < want)
            return;
    }
}

static void tcp_write(shunt_proxy_t *p, pstream_t *s)
{
    size_t before = shunt_wbuf_pending(&s->out);
    int rc = shunt_tx_flush(&s->out, s->ev.fd, PROXY_TX);
    if (rc < 0) {
        local_failed(p, s, -rc, "write");
        return;
    }
    size_t done = before - shunt_wbuf_pending(&s->out);
    s->grant += (uint32_t)done;
    s->out_bytes -= done;
    if (rc == 0 && s->remote_eof && !s->wr_shut) {
        shutdown(s->ev.fd, SHUT_WR);
        s->wr_shut = 1;
        tcp_maybe_done(p, s);
    }
    if (rc == 0 && s->state == ST_DRAIN)
        stream_destroy(p, s, 0, 0, 0);
}

static void udp_read(shunt_proxy_t *p, pstream_t *s)
{
    for (int rounds = 0; rounds < 16 && !s->ev.dead && can_read(p, s);
         rounds++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(s->ev.fd, p->scratch, UDP_MAX_DGRAM, MSG_TRUNC,
                             (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECONNREFUSED) { /* the local socket went away */
                stream_destroy(p, s, 1, 0, 0);
                return;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                local_failed(p, s, errno, "recv");
            return;
        }
        if (!s->have_peer) {
            if (connect(s->ev.fd, (struct sockaddr *)&from, fl) < 0) {
                local_failed(p, s, errno, "connect");
                return;
            }
            s->have_peer = 1;
            s->state = ST_OPEN;
            timer_remove(p, s);
            proxy_mark_dirty(p, &s->ev); /* queued datagrams can go now */
        }
        if ((size_t)n > data_max(p)) {
            LOG_WARN("stream %u: dropping a %zd-byte datagram (too large)",
                     s->id, n);
            continue;
        }
        shunt_data_t d = {.stream = s->id,
                          .data = shunt_bytes(p->scratch, (size_t)n)};
        if (proxy_link_send(p, SHUNT_T_DATA, 0, &d) < 0)
            return;
        s->send_credit -= (uint64_t)n;
    }
}

static void udp_write(shunt_proxy_t *p, pstream_t *s)
{
    shunt_wbuf_t *w = &s->out;
    while (shunt_wbuf_pending(w) >= 4) {
        uint32_t len;
        memcpy(&len, w->data + w->head, 4);
        ssize_t n = send(s->ev.fd, w->data + w->head + 4, len,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == ECONNREFUSED) {
                stream_destroy(p, s, 1, 0, 0);
                return;
            }
            LOG_DEBUG("stream %u: dropping a datagram: %s", s->id,
                      strerror(errno));
        }
        w->head += 4 + (size_t)len;
        s->out_bytes -= len;
        s->grant += len;
    }
    if (shunt_wbuf_pending(w) == 0)
        w->head = w->len = 0;
    else if (w->head >= 64 * 1024) {
        memmove(w->data, w->data + w->head, shunt_wbuf_pending(w));
        w->len -= w->head;
        w->head = 0;
    }
}

/* ---- incoming streams (docs/incoming.md) ------------------------------ */
static int is_loopback(int family, const uint8_t *a)
{
    static const uint8_t v6lo[16] = {[15] = 1};
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    if (family == AF_INET)
        return a[0] == 127;
    return memcmp(a, v6lo, 16) == 0 ||
           (memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

static socklen_t make_sa(struct sockaddr_storage *ss, int family,
                         const uint8_t *addr, uint16_t port)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        memcpy(&in->sin_addr, addr, 4);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    memcpy(&in6->sin6_addr, addr, 16);
    return sizeof(*in6);
}

int stream_incoming(shunt_proxy_t *p, psess_t *root,
                    const shunt_incoming_t *in, int family,
                    const uint8_t *addr, uint16_t port)
{
    if (pmap_get(&p->streams, in->stream)) {
        LOG_WARN("agent reused live stream id %u", in->stream);
        return -EEXIST;
    }
    pstream_t *s = calloc(1, sizeof(*s));
    pinpeer_t *pi = calloc(1, sizeof(*pi));
    if (!s || !pi) {
        free(s);
        free(pi);
        return -ENOMEM;
    }
    s->ev.kind = EV_STREAM;
    s->id = in->stream;
    s->state = ST_CONNECTING;
    s->send_credit = SHUNT_STREAM_WINDOW;
    shunt_wbuf_init(&s->out);
    s->in = pi;
    pi->sub = in->sub;
    pi->flags = in->flags;
    pi->family = in->family;
    pi->peer_len = in->peer_addr.len <= 16 ? in->peer_addr.len : 0;
    memcpy(pi->peer, in->peer_addr.p, pi->peer_len);
    pi->peer_port = in->peer_port;
    pi->local_len = in->local_addr.len <= 16 ? in->local_addr.len : 0;
    memcpy(pi->local, in->local_addr.p, pi->local_len);
    pi->local_port = in->local_port;

    /* Our end is bound first, so its port (the accepted socket's peer
     * port, which INCOMING_PEER asks about) is known before the program
     * can accept.  Towards a loopback listener it is loopback; towards a
     * listener on one of this host's addresses, that address. */
    struct sockaddr_storage src, dst;
    uint8_t lo[16] = {0};
    if (family == AF_INET) {
        lo[0] = 127;
        lo[3] = 1;
    } else {
        lo[15] = 1;
    }
    socklen_t sl = make_sa(&src, family, is_loopback(family, addr) ? lo : addr,
                           0);
    socklen_t dl = make_sa(&dst, family, addr, port);
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    s->ev.fd = fd;
    if (fd < 0 || bind(fd, (struct sockaddr *)&src, sl) < 0 ||
        getsockname(fd, (struct sockaddr *)&src, &sl) < 0 ||
        (connect(fd, (struct sockaddr *)&dst, dl) < 0 &&
         errno != EINPROGRESS)) {
        int e = errno;
        LOG_DEBUG("incoming stream %u: cannot connect to local port %u: %s",
                  in->stream, port, strerror(e));
        stream_free(s);
        return -e;
    }
    pi->relay_port = family == AF_INET
                         ? ntohs(((struct sockaddr_in *)&src)->sin_port)
                         : ntohs(((struct sockaddr_in6 *)&src)->sin6_port);
    int rc = stream_register(p, root, s); /* frees s on failure */
    if (rc < 0)
        return rc;
    if (pmap_put(&p->inpeers, pi->relay_port, s) < 0) {
        stream_destroy(p, s, 0, 0, 1);
        return -ENOMEM;
    }
    proxy_mark_dirty(p, &s->ev);
    LOG_DEBUG("incoming stream %u (subscription %u) -> local port %u from "
              "port %u",
              s->id, in->sub, port, pi->relay_port);
    return 0;
}

static void incoming_connected(shunt_proxy_t *p, pstream_t *s)
{
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(s->ev.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        err = errno;
    if (err) {
        /* the listener is gone: the agent serves it otherwise or resets */
        local_failed(p, s, err, "connect");
        return;
    }
    s->state = ST_OPEN;
    timer_remove(p, s);
    int one = 1;
    setsockopt(s->ev.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    proxy_mark_dirty(p, &s->ev);
}

const pinpeer_t *stream_incoming_peer(shunt_proxy_t *p, uint16_t port)
{
    pstream_t *s = pmap_get(&p->inpeers, port);
    return s ? s->in : NULL;
}

void stream_on_event(shunt_proxy_t *p, pstream_t *s, uint32_t events)
{
    if (s->udp) {
        if (events & EPOLLOUT)
            proxy_mark_dirty(p, &s->ev);
        if (events & (EPOLLIN | EPOLLERR))
            udp_read(p, s);
        return;
    }
    if (s->state == ST_LISTEN) {
        tcp_accept(p, s);
        return;
    }
    if (s->state == ST_CONNECTING) {
        incoming_connected(p, s);
        return;
    }
    if (events & EPOLLOUT)
        tcp_write(p, s);
    if (!s->ev.dead && (events & EPOLLIN))
        tcp_read(p, s);
    if (!s->ev.dead && (events & (EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(s->ev.fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err)
            local_failed(p, s, err, "socket error");
        else if (!s->wr_shut)
            local_failed(p, s, ECONNRESET, "hang-up");
        else if (!s->local_eof && s->state == ST_OPEN)
            tcp_read(p, s); /* a plain FIN both ways: read up to EOF */
    }
    if (!s->ev.dead)
        proxy_mark_dirty(p, &s->ev);
}

void stream_sync(shunt_proxy_t *p, pstream_t *s)
{
    if (s->state == ST_CONNECTING) {
        proxy_ev_set(p, &s->ev, EPOLLOUT);
        return;
    }
    if (s->state != ST_LISTEN && shunt_wbuf_pending(&s->out) > 0) {
        if (s->udp)
            udp_write(p, s);
        else
            tcp_write(p, s);
        if (s->ev.dead)
            return;
    }
    if (!s->udp && s->state == ST_OPEN && s->remote_eof && !s->wr_shut &&
        shunt_wbuf_pending(&s->out) == 0) {
        shutdown(s->ev.fd, SHUT_WR);
        s->wr_shut = 1;
        tcp_maybe_done(p, s);
        if (s->ev.dead)
            return;
    }
    if (s->grant > 0 && s->state != ST_DRAIN) {
        shunt_window_t b = {.stream = s->id, .bytes = s->grant};
        proxy_link_send(p, SHUNT_T_WINDOW, 0, &b);
    }
    s->grant = 0;

    uint32_t want = 0;
    int pending = shunt_wbuf_pending(&s->out) > 0;
    if (s->udp) {
        if (can_read(p, s))
            want |= EPOLLIN;
        if (s->have_peer && pending)
            want |= EPOLLOUT;
    } else if (s->state == ST_LISTEN) {
        want = EPOLLIN;
    } else {
        if (can_read(p, s))
            want |= EPOLLIN;
        if (pending)
            want |= EPOLLOUT;
    }
    proxy_ev_set(p, &s->ev, want);
}

void stream_on_agent(shunt_proxy_t *p, const shunt_msg_t *m)
{
    uint32_t id;
    switch (m->type) {
    case SHUNT_T_DATA:
        id = m->u.data.stream;
        break;
    case SHUNT_T_WINDOW:
        id = m->u.window.stream;
        break;
    case SHUNT_T_SHUTDOWN:
        id = m->u.shutdown.stream;
        break;
    case SHUNT_T_SCLOSE:
        id = m->u.sclose.stream;
        break;
    default:
        LOG_WARN("agent sent one-way %s; ignored", shunt_msg_name(m->type));
        return;
    }
    pstream_t *s = pmap_get(&p->streams, id);
    if (!s) {
        LOG_DEBUG("agent: %s for unknown stream %u; ignored",
                  shunt_msg_name(m->type), id);
        return;
    }
    switch (m->type) {
    case SHUNT_T_DATA: {
        uint32_t len = m->u.data.data.len;
        if (s->remote_eof && !s->udp) {
            LOG_WARN("stream %u: agent sent DATA after SHUTDOWN", id);
            return;
        }
        if (s->out_bytes + len > OUT_LIMIT) {
            LOG_WARN("stream %u: agent overran the flow-control window "
                     "(%zu bytes queued); resetting the stream",
                     id, s->out_bytes + len);
            stream_destroy(p, s, 1, EPROTO, 1);
            return;
        }
        if (s->udp) {
            if (shunt_wbuf_append(&s->out, &len, 4) < 0)
                return;
        } else if (len == 0) {
            return;
        }
        if (shunt_wbuf_append(&s->out, m->u.data.data.p, len) < 0) {
            stream_destroy(p, s, 1, ENOMEM, 1);
            return;
        }
        s->out_bytes += len;
        break;
    }
    case SHUNT_T_WINDOW:
        s->send_credit += m->u.window.bytes;
        break;
    case SHUNT_T_SHUTDOWN:
        if (!s->udp)
            s->remote_eof = 1;
        break;
    case SHUNT_T_SCLOSE:
        if (m->u.sclose.err != 0 || s->udp || s->state == ST_LISTEN ||
            s->state == ST_CONNECTING || shunt_wbuf_pending(&s->out) == 0) {
            LOG_DEBUG("stream %u: closed by the agent (%s)", id,
                      m->u.sclose.err ? strerror(m->u.sclose.err) : "orderly");
            stream_destroy(p, s, 0, 0, m->u.sclose.err != 0);
            return;
        }
        /* Orderly close with bytes still queued: deliver them first. */
        pmap_del(&p->streams, s->id);
        if (s->root)
            pmap_del(&s->root->streams, s->id);
        s->root = NULL;
        s->state = ST_DRAIN;
        s->remote_eof = 1;
        break;
    }
    proxy_mark_dirty(p, &s->ev);
}

void stream_session_ended(shunt_proxy_t *p, pstream_t *s)
{
    /* An endpoint nobody connected to, or a UDP relay (whose local close
     * cannot be seen), dies with the session.  A connected TCP relay is
     * owned by its local socket and ends when that socket does. */
    if (s->udp || s->state == ST_LISTEN)
        stream_destroy(p, s, 1, 0, 0);
    else if (s->state == ST_CONNECTING) /* its listener's programs are gone */
        stream_destroy(p, s, 1, ECONNREFUSED, 0);
}

void stream_reset_all(shunt_proxy_t *p)
{
    while (p->all_streams)
        stream_destroy(p, p->all_streams, 0, 0, 1);
}

void stream_expire(shunt_proxy_t *p, uint64_t now)
{
    while (p->thead && p->thead->deadline <= now) {
        pstream_t *s = p->thead;
        LOG_WARN("stream %u: nobody used relay endpoint within %u ms; "
                 "closing it",
                 s->id, PROXY_ENDPOINT_TIMEOUT_MS);
        stream_destroy(p, s, 1, ETIMEDOUT, 0);
    }
}

void stream_link_uncongested(shunt_proxy_t *p)
{
    for (pstream_t *s = p->all_streams; s; s = s->all_next)
        proxy_mark_dirty(p, &s->ev);
}

int stream_udp_peer(shunt_proxy_t *p, psess_t *root, uint32_t id,
                    const uint8_t *addr, size_t alen, uint16_t port)
{
    pstream_t *s = pmap_get(&p->streams, id);
    if (!s || !s->udp || s->root != root || s->ev.fd < 0)
        return -ENOENT; /* not a UDP stream of this group */
    if (alen != 4)
        return -EINVAL;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    memcpy(&sin.sin_addr, addr, 4);
    if (connect(s->ev.fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        return -errno;
    if (!s->have_peer) {
        s->have_peer = 1;
        s->state = ST_OPEN;
        timer_remove(p, s);
        proxy_mark_dirty(p, &s->ev);
    }
    return 0;
}
