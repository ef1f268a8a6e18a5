/* Streams: CONNECT in the target's network and the TCP/UDP relay with
 * per-stream flow control (WINDOW credits) in both directions. */
#include "agent.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_CHUNK (256u * 1024u)
#define UDP_MAX 65535u
#define GRANT_BATCH (64u * 1024u)
#define CREDIT_MAX (1ll << 40)

static void connecting_unlink(agent_t *a, stream_t *st)
{
    if (st->tprev)
        st->tprev->tnext = st->tnext;
    else if (a->connecting == st)
        a->connecting = st->tnext;
    if (st->tnext)
        st->tnext->tprev = st->tprev;
    st->tnext = st->tprev = NULL;
}

void stream_destroy(stream_t *st)
{
    client_t *cl = st->cl;
    agent_t *a = cl->a;
    if (st->state == S_CLOSED)
        return;
    if (st->state == S_CONNECTING)
        connecting_unlink(a, st);
    if (st->watched)
        agent_unwatch(a, st->fd);
    if (st->fd >= 0 && st->in_live && cl->dead) {
        /* a diverted client whose program side is gone (the proxy link
         * dropped, the agent exits): a reset, sent now, while the NAT that
         * translates it is still in place */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(st->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    st->state = S_CLOSED;
    if (st->in_live) { /* after the close: its FIN still translated */
        st->in_live = 0;
        incoming_live(a, -1);
    }
    htab_release(&cl->h, st->id);
    st->next_dead = a->dead_streams;
    a->dead_streams = st;
}

static void send_sclose(client_t *cl, uint32_t id, int err)
{
    shunt_sclose_t s = {.stream = id, .err = err};
    client_send(cl, SHUNT_T_SCLOSE, SHUNT_FLAG_ONEWAY, 0, &s);
}

static void stream_fail(stream_t *st, int err)
{
    LOG_DEBUG("client %s: stream %u to %s closed: %s", st->cl->desc, st->id,
              st->peer, err ? strerror(err) : "done");
    send_sclose(st->cl, st->id, err);
    stream_destroy(st);
}

/* Registers exactly the events the stream can act on now; a stream with
 * nothing to do is not in epoll at all, so a hang-up cannot spin. */
static void stream_update(stream_t *st)
{
    client_t *cl = st->cl;
    if (st->state == S_CLOSED)
        return;
    uint32_t want = 0;
    if (st->state == S_CONNECTING) {
        want = EPOLLOUT;
    } else {
        if (!st->rd_eof && !st->rd_off && st->credit > 0) {
            if (shunt_wbuf_pending(&cl->tx) < STREAM_PAUSE_BYTES)
                want |= EPOLLIN;
            else
                cl->streams_paused = 1;
        }
        if (shunt_wbuf_pending(&st->out))
            want |= EPOLLOUT;
    }
    if (want == 0) {
        if (st->watched)
            agent_unwatch(cl->a, st->fd);
        st->watched = 0;
    } else if (!st->watched) {
        if (agent_watch(cl->a, st->fd, &st->ev, want) == 0)
            st->watched = 1;
    } else if (want != st->events) {
        agent_rewatch(cl->a, st->fd, &st->ev, want);
    }
    st->events = want;
}

static void maybe_finish(stream_t *st)
{
    if ((st->rd_eof || st->rd_off) && st->wr_shut_done)
        stream_fail(st, 0);
}

static void grant(stream_t *st, int force)
{
    if (st->ungranted && (force || st->ungranted >= GRANT_BATCH)) {
        shunt_window_t w = {.stream = st->id, .bytes = (uint32_t)st->ungranted};
        st->ungranted = 0;
        client_send(st->cl, SHUNT_T_WINDOW, SHUNT_FLAG_ONEWAY, 0, &w);
    }
}

/* Writes buffered client bytes to the socket; grants what it took. */
static void flush_out(stream_t *st)
{
    size_t before = shunt_wbuf_pending(&st->out);
    if (before) {
        int r = shunt_tx_flush(&st->out, st->fd, 0);
        if (r < 0) {
            stream_fail(st, -r);
            return;
        }
        st->ungranted += before - shunt_wbuf_pending(&st->out);
    }
    size_t left = shunt_wbuf_pending(&st->out);
    if (left == 0)
        shunt_wbuf_reset(&st->out);
    grant(st, left == 0);
    if (left == 0 && st->wr_shut_req && !st->wr_shut_done &&
        st->state == S_OPEN) {
        shutdown(st->fd, SHUT_WR);
        st->wr_shut_done = 1;
        maybe_finish(st);
    }
}

static void fill_addr(const struct sockaddr_storage *ss, shunt_bytes_t *b,
                      uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        *b = shunt_bytes(&s->sin_addr, 4);
        *port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        *b = shunt_bytes(&s->sin6_addr, 16);
        *port = ntohs(s->sin6_port);
    } else if (ss->ss_family == AF_UNIX) { /* a path (agent/unixconn.c) */
        const struct sockaddr_un *s = (const struct sockaddr_un *)ss;
        *b = shunt_bytes(s->sun_path, s->sun_path[0]
                                          ? strnlen(s->sun_path,
                                                    sizeof(s->sun_path))
                                          : 0);
        *port = 0;
    } else {
        *b = shunt_bytes(NULL, 0);
        *port = 0;
    }
}

/* The connect finished.  dest: it is known to have succeeded (connect()
 * returned 0, or poll said writable without error) and dest is the peer, so
 * SO_ERROR and getpeername are not asked; NULL: find out. */
static void connect_done(stream_t *st, const struct sockaddr_storage *dest)
{
    client_t *cl = st->cl;
    int err = 0;
    socklen_t el = sizeof(err);
    if (!dest && getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        err = errno;
    if (st->state == S_CONNECTING)
        connecting_unlink(cl->a, st);
    if (err) {
        reply_error(cl, st->req_id, err, "connect %s: %s", st->peer,
                    strerror(err));
        stream_destroy(st);
        return;
    }
    struct sockaddr_storage ls, ps;
    socklen_t ll = sizeof(ls), pl = sizeof(ps);
    memset(&ls, 0, sizeof(ls));
    memset(&ps, 0, sizeof(ps));
    if (dest)
        ps = *dest;
    else if (getpeername(st->fd, (struct sockaddr *)&ps, &pl) < 0) {
        err = errno == ENOTCONN ? ECONNREFUSED : errno;
        reply_error(cl, st->req_id, err, "connect %s: %s", st->peer,
                    strerror(err));
        stream_destroy(st);
        return;
    }
    getsockname(st->fd, (struct sockaddr *)&ls, &ll);
    shunt_connect_r_t r = {.stream = st->id, .family = st->family};
    fill_addr(&ls, &r.local_addr, &r.local_port);
    fill_addr(&ps, &r.peer_addr, &r.peer_port);
    st->state = S_OPEN;
    st->deadline_ms = 0;
    st->credit = SHUNT_STREAM_WINDOW;
    LOG_DEBUG("client %s: stream %u connected to %s", cl->desc, st->id,
              st->peer);
    client_send(cl, SHUNT_T_CONNECT_R, 0, st->req_id, &r);
    /* The caller waits for this answer: write it before the epoll and
     * buffer work below rather than at the end of the loop round. */
    client_kick(cl);
    if (cl->dead || st->state == S_CLOSED)
        return;
    flush_out(st);
    stream_update(st);
}

static void connected(stream_t *st) { connect_done(st, NULL); }

/* A stream whose socket connected at once (agent/unixconn.c). */
void stream_connected(stream_t *st) { connected(st); }

stream_t *stream_new(client_t *cl, uint64_t req_id, int fd, int socktype,
                     int family, const char *desc)
{
    stream_t *st = calloc(1, sizeof(*st));
    handle_t *h;
    uint32_t num;
    int r = st ? htab_alloc(&cl->h, &h, &num) : -ENOMEM;
    if (r < 0) {
        free(st);
        close(fd);
        reply_error(cl, req_id, -r, "no stream: %s", strerror(-r));
        return NULL;
    }
    h->kind = H_STREAM;
    h->st = st;
    st->ev.kind = EV_STREAM;
    st->cl = cl;
    st->id = num;
    st->fd = fd;
    st->socktype = socktype;
    st->family = family;
    st->req_id = req_id;
    st->state = S_CONNECTING;
    shunt_wbuf_init(&st->out);
    snprintf(st->peer, sizeof(st->peer), "%s", desc);
    return st;
}

stream_t *stream_adopt(client_t *cl, int fd, int family, const char *desc)
{
    if (cl->h.used >= cl->h.limit) {
        LOG_WARN("client %s: handle limit (%u) reached: incoming connection "
                 "from %s refused", cl->desc, cl->h.limit, desc);
        close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    stream_t *st = stream_new(cl, 0, fd, SOCK_STREAM, family, desc);
    if (!st)
        return NULL;
    st->state = S_OPEN;
    st->credit = SHUNT_STREAM_WINDOW;
    return st;
}

void stream_start(stream_t *st)
{
    if (st->state != S_OPEN)
        return;
    flush_out(st);
    stream_update(st);
}

void stream_abort(stream_t *st, int err) { stream_fail(st, err); }

void stream_connect(client_t *cl, const shunt_msg_t *m)
{
    const shunt_connect_t *c = &m->u.connect;
    agent_t *a = cl->a;
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (c->socktype != SOCK_STREAM && c->socktype != SOCK_DGRAM) {
        reply_error(cl, m->id, EINVAL, "socket type %d not relayed",
                    c->socktype);
        return;
    }
    if (c->family == AF_INET && c->addr.len == 4) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        s->sin_family = AF_INET;
        memcpy(&s->sin_addr, c->addr.p, 4);
        s->sin_port = htons(c->port);
        sl = sizeof(*s);
    } else if (c->family == AF_INET6 && c->addr.len == 16) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        s->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, c->addr.p, 16);
        s->sin6_port = htons(c->port);
        sl = sizeof(*s);
    } else if (c->family == AF_UNIX) { /* a path: agent/unixconn.c */
        stream_connect_unix(cl, m);
        return;
    } else if (c->family != AF_INET && c->family != AF_INET6) {
        reply_error(cl, m->id, EAFNOSUPPORT, "address family %d", c->family);
        return;
    } else {
        reply_error(cl, m->id, EINVAL, "address of %u bytes for family %d",
                    c->addr.len, c->family);
        return;
    }
    if (cl->h.used >= cl->h.limit) {
        reply_error(cl, m->id, EMFILE, "client handle limit (%u) reached",
                    cl->h.limit);
        return;
    }
    char peer[56];
    shunt_format_sockaddr((struct sockaddr *)&ss, peer, sizeof(peer));
    int fd = socket(c->family, c->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        reply_error(cl, m->id, errno, "socket: %s", strerror(errno));
        return;
    }
    if (c->socktype == SOCK_STREAM) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    char desc[64];
    snprintf(desc, sizeof(desc), "%s/%s", peer,
             c->socktype == SOCK_STREAM ? "tcp" : "udp");
    stream_t *st = stream_new(cl, m->id, fd, c->socktype, c->family, desc);
    if (!st)
        return;

    if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
        connect_done(st, &ss);
        return;
    }
    if (errno != EINPROGRESS) {
        int e = errno;
        reply_error(cl, m->id, e, "connect %s: %s", st->peer, strerror(e));
        stream_destroy(st);
        return;
    }
    /* Inside one host the handshake usually completes during connect()
     * itself (the SYN-ACK is processed before it returns): answer now
     * rather than after another trip through epoll. */
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    if (poll(&pfd, 1, 0) == 1) {
        connect_done(st, (pfd.revents & (POLLERR | POLLHUP)) ? NULL : &ss);
        return;
    }
    uint32_t to = c->timeout_ms ? c->timeout_ms
                                : (uint32_t)a->conf.connect_timeout_ms;
    st->deadline_ms = shunt_now_ms() + to;
    st->tnext = a->connecting;
    if (a->connecting)
        a->connecting->tprev = st;
    a->connecting = st;
    stream_update(st);
}

void stream_timeout(stream_t *st)
{
    client_t *cl = st->cl;
    reply_error(cl, st->req_id, ETIMEDOUT, "connect %s: timed out",
                st->peer);
    stream_destroy(st);
    client_kick(cl);
}

static void read_remote(stream_t *st)
{
    client_t *cl = st->cl;
    for (int i = 0; i < 4 && st->state == S_OPEN && !cl->dead; i++) {
        if (st->credit <= 0 || st->rd_eof || st->rd_off ||
            shunt_wbuf_pending(&cl->tx) >= STREAM_PAUSE_BYTES)
            break;
        size_t max = SHUNT_DATA_MAX(cl->max_frame) - 8;
        if (st->socktype == SOCK_STREAM) {
            if (max > READ_CHUNK)
                max = READ_CHUNK;
            if ((int64_t)max > st->credit)
                max = (size_t)st->credit;
        } else if (max > UDP_MAX) {
            max = UDP_MAX;
        }
        shunt_data_t d = {.stream = st->id};
        uint8_t *buf = client_bytes_begin(cl, SHUNT_T_DATA, SHUNT_FLAG_ONEWAY,
                                          0, &d, max);
        if (!buf) {
            client_drop(cl, "out of memory for the send queue");
            return;
        }
        ssize_t n = recv(st->fd, buf, max, MSG_DONTWAIT);
        if (n <= 0 && !(n == 0 && st->socktype == SOCK_DGRAM))
            client_bytes_end(cl, -1); /* nothing to send after all */
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            /* a connected UDP socket reports ICMP errors; keep it */
            if (st->socktype == SOCK_DGRAM && errno == ECONNREFUSED)
                continue;
            stream_fail(st, errno);
            return;
        }
        if (n == 0 && st->socktype == SOCK_STREAM) {
            st->rd_eof = 1;
            shunt_shutdown_t s = {.stream = st->id, .how = SHUT_WR};
            client_send(cl, SHUNT_T_SHUTDOWN, SHUNT_FLAG_ONEWAY, 0, &s);
            maybe_finish(st);
            return;
        }
        if (st->keeping) {
            uint8_t *k = NULL;
            if (!st->answered && st->keep_len + (size_t)n <= STREAM_KEEP_MAX)
                k = realloc(st->keep, st->keep_len + (size_t)n);
            if (k) {
                memcpy(k + st->keep_len, buf, (size_t)n);
                st->keep = k;
                st->keep_len += (size_t)n;
            } else {
                free(st->keep);
                st->keep = NULL;
                st->keeping = 0;
            }
        }
        client_bytes_end(cl, n);
        st->credit -= n;
    }
}

void stream_event(stream_t *st, uint32_t ev)
{
    client_t *cl = st->cl;
    if (st->state == S_CONNECTING) {
        connected(st);
    } else {
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            if (st->events & EPOLLIN) {
                read_remote(st);
            } else if (ev & EPOLLERR) {
                int err = 0;
                socklen_t el = sizeof(err);
                getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err && !(st->socktype == SOCK_DGRAM &&
                             err == ECONNREFUSED))
                    stream_fail(st, err);
            }
        }
        if (st->state == S_OPEN && (ev & EPOLLOUT))
            flush_out(st);
    }
    stream_update(st);
    client_kick(cl);
}

static void client_data(stream_t *st, shunt_bytes_t d)
{
    client_t *cl = st->cl;
    st->answered = 1;
    if (st->keeping) {
        free(st->keep);
        st->keep = NULL;
        st->keeping = 0;
    }
    if (st->socktype == SOCK_DGRAM) {
        if (st->state == S_OPEN &&
            send(st->fd, d.p, d.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            LOG_DEBUG("client %s: stream %u: datagram of %u bytes dropped: "
                      "%s", cl->desc, st->id, d.len, strerror(errno));
        st->ungranted += d.len;
        grant(st, 1);
        return;
    }
    if (st->wr_shut_req) {
        LOG_WARN("client %s: stream %u: DATA after SHUTDOWN ignored",
                 cl->desc, st->id);
        return;
    }
    if (shunt_wbuf_pending(&st->out) + d.len >
        2u * SHUNT_STREAM_WINDOW + cl->max_frame) {
        LOG_WARN("client %s: stream %u: client ignores flow control (%zu "
                 "bytes buffered); closing the stream", cl->desc, st->id,
                 shunt_wbuf_pending(&st->out));
        stream_fail(st, ENOBUFS);
        return;
    }
    size_t off = 0;
    if (st->state == S_OPEN && shunt_wbuf_pending(&st->out) == 0) {
        ssize_t n = send(st->fd, d.p, d.len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            stream_fail(st, errno);
            return;
        }
        if (n > 0) {
            off = (size_t)n;
            st->ungranted += (size_t)n;
        }
    }
    if (off < d.len &&
        shunt_wbuf_append(&st->out, d.p + off, d.len - off) < 0) {
        stream_fail(st, ENOMEM);
        return;
    }
    if (st->state == S_OPEN)
        flush_out(st);
}

void stream_traffic(client_t *cl, const shunt_msg_t *m)
{
    uint32_t id;
    switch (m->type) {
    case SHUNT_T_DATA: id = m->u.data.stream; break;
    case SHUNT_T_WINDOW: id = m->u.window.stream; break;
    case SHUNT_T_SHUTDOWN: id = m->u.shutdown.stream; break;
    default: id = m->u.sclose.stream; break;
    }
    handle_t *h = htab_get(&cl->h, id, HK(H_STREAM));
    if (!h) {
        /* WINDOW/SHUTDOWN/SCLOSE may cross our SCLOSE: not an error.
         * Data for a stream that is gone is lost: say so. */
        LOG_DEBUG("client %s: %s for unknown stream %u", cl->desc,
                  shunt_msg_name(m->type), id);
        if (m->type == SHUNT_T_DATA)
            send_sclose(cl, id, EBADF);
        return;
    }
    stream_t *st = h->st;
    switch (m->type) {
    case SHUNT_T_DATA:
        client_data(st, m->u.data.data);
        break;
    case SHUNT_T_WINDOW:
        st->credit += m->u.window.bytes;
        if (st->credit > CREDIT_MAX)
            st->credit = CREDIT_MAX;
        break;
    case SHUNT_T_SHUTDOWN: {
        int how = m->u.shutdown.how;
        if (how == SHUT_RD || how == SHUT_RDWR)
            st->rd_off = 1;
        if (how == SHUT_WR || how == SHUT_RDWR)
            st->wr_shut_req = 1;
        if (st->socktype == SOCK_DGRAM) {
            st->wr_shut_done = st->wr_shut_req;
            maybe_finish(st);
        } else if (st->state == S_OPEN) {
            flush_out(st);
            maybe_finish(st);
        }
        break;
    }
    default:
        LOG_DEBUG("client %s: stream %u closed by the client (err %d)",
                  cl->desc, st->id, m->u.sclose.err);
        if (st->on_sclose) { /* it may take the fd: out of epoll first */
            if (st->watched)
                agent_unwatch(cl->a, st->fd);
            st->watched = 0;
            st->on_sclose(st, m->u.sclose.err, st->sclose_ctx);
        }
        stream_destroy(st);
        return;
    }
    stream_update(st);
}

void streams_resume(client_t *cl)
{
    cl->streams_paused = 0;
    for (uint32_t i = 0; i < cl->h.cap; i++)
        if (cl->h.v[i].kind == H_STREAM)
            stream_update(cl->h.v[i].st);
}
