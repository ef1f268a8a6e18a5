/* Connections the agent pipes itself, each between up to three ends:
 *   mirror:   the client <-> the target's own service (a marked connection
 *             to the original destination), and every client byte copied
 *             to an INCOMING stream (SHUNT_INF_MIRROR) whose answer is
 *             read and dropped;
 *   filtered: the client, the local upstream (an INCOMING stream) and the
 *             remote one (the target's service), with the HTTP router
 *             (router/) deciding where each request goes;
 *   plain:    client <-> service only (a stolen connection the program
 *             refused, given back to the target's service).
 * An INCOMING stream's end here is one side of a socketpair whose other
 * side is an ordinary stream of streams.c (flow control, SCLOSE...).
 * Backpressure: an end is not read while what it feeds holds IN_BOUND
 * bytes or more; nothing is buffered without bound. */
#include "incoming.h"

#include "shunt/log.h"
#include "shunt/util.h"

#ifdef SHUNT_HAVE_INROUTER
#include "router/router.h"
#endif

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { E_CLIENT = 0, E_REMOTE = 1, E_LOCAL = 2 };
enum { P_MIRROR = 1, P_FILTER, P_PLAIN };

typedef struct {
    agent_ev_t ev;       /* EV_INCOMING */
    int what;            /* IN_END */
    in_conn_t *c;
    int idx;             /* E_* */
    int fd;              /* -1: not open, or closed */
    int opened;          /* it was opened once (never reopened) */
    int connecting;
    int rd_eof;          /* nothing more to read from it */
    int wr_shut, wr_done;/* shut its write side once out is flushed */
    int failed;
    int fail_notify;     /* failed inside a router call: tell it after */
    int watched;
    uint32_t events;
    shunt_wbuf_t out;
} in_end_t;

struct in_conn {
    in_conn_t *next, *prev, *next_dead;
    agent_t *a;
    in_sub_t *sub;       /* referenced (refs) */
    client_t *cl;        /* owner of the stream; NULL once gone */
    int kind;            /* P_* */
    int dead;
    uint32_t stream;     /* the INCOMING stream's id, 0: none */
    in_addrs_t ad;
    in_end_t e[3];
#ifdef SHUNT_HAVE_INROUTER
    in_router_t *r;
    int in_router;       /* inside an in_router_* call: never re-enter */
#endif
};

static uint8_t rbuf[256 * 1024];

static size_t pend(const in_end_t *e) { return shunt_wbuf_pending(&e->out); }

static void end_close(in_end_t *e, int reset)
{
    agent_t *a = e->c->a;
    if (e->fd < 0)
        return;
    if (e->watched)
        agent_unwatch(a, e->fd);
    e->watched = 0;
    e->events = 0;
    if (reset) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(e->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    close(e->fd);
    e->fd = -1;
    e->rd_eof = 1;
    e->wr_done = 1;
    shunt_wbuf_free(&e->out);
    shunt_wbuf_init(&e->out);
}

/* The INCOMING stream of the conn, if it is still there. */
static stream_t *conn_stream(in_conn_t *c)
{
    if (!c->stream || !c->cl || c->cl->dead)
        return NULL;
    handle_t *h = htab_get(&c->cl->h, c->stream, HK(H_STREAM));
    return h ? h->st : NULL;
}

static void conn_free(in_conn_t *c)
{
    agent_t *a = c->a;
    incoming_t *in = a->in;
    if (c->dead)
        return;
    c->dead = 1;
    stream_t *st = conn_stream(c);
    if (st) {
        st->on_sclose = NULL;
        st->sclose_ctx = NULL;
    }
    for (int i = 0; i < 3; i++) {
        end_close(&c->e[i], 0);
        shunt_wbuf_free(&c->e[i].out);
    }
#ifdef SHUNT_HAVE_INROUTER
    if (c->r)
        in_router_free(c->r);
    c->r = NULL;
#endif
    if (c->prev)
        c->prev->next = c->next;
    else
        in->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next_dead = in->dead_conns;
    in->dead_conns = c;
    incoming_live(a, -1); /* its client socket is closed: the table may go */
}

/* The end's events now: what it can act on; none: out of epoll. */
static int may_read(in_conn_t *c, in_end_t *e)
{
    if (c->kind != P_FILTER) {
        if (e->idx == E_CLIENT)
            return pend(&c->e[E_REMOTE]) < IN_BOUND;
        if (e->idx == E_REMOTE)
            return pend(&c->e[E_CLIENT]) < IN_BOUND;
        return 1; /* the mirror's answer: read and dropped */
    }
    if (e->idx == E_CLIENT)
        return pend(&c->e[E_LOCAL]) < IN_BOUND &&
               pend(&c->e[E_REMOTE]) < IN_BOUND;
    if (pend(&c->e[E_CLIENT]) >= IN_BOUND)
        return 0;
#ifdef SHUNT_HAVE_INROUTER
    if (c->r && in_router_held(c->r, e->idx == E_LOCAL ? IN_UP_LOCAL
                                                       : IN_UP_REMOTE) >=
                    IN_BOUND)
        return 0;
#endif
    return 1;
}

static void end_update(in_end_t *e)
{
    in_conn_t *c = e->c;
    if (e->fd < 0 || c->dead)
        return;
    uint32_t want = 0;
    if (e->connecting) {
        want = EPOLLOUT;
    } else {
        if (!e->rd_eof && may_read(c, e))
            want |= EPOLLIN;
        if (pend(e))
            want |= EPOLLOUT;
    }
    if (want == 0) {
        if (e->watched)
            agent_unwatch(c->a, e->fd);
        e->watched = 0;
    } else if (!e->watched) {
        if (agent_watch(c->a, e->fd, &e->ev, want) == 0)
            e->watched = 1;
    } else if (want != e->events) {
        agent_rewatch(c->a, e->fd, &e->ev, want);
    }
    e->events = want;
}

static void conn_update(in_conn_t *c)
{
    for (int i = 0; i < 3 && !c->dead; i++)
        end_update(&c->e[i]);
}

static void end_failed(in_end_t *e, int err);
static void mirror_release(in_conn_t *c);

/* Flushes out; shuts the write side when asked and flushed. */
static void end_flush(in_end_t *e)
{
    if (e->fd < 0 || e->connecting)
        return;
    if (pend(e)) {
        int r = shunt_tx_flush(&e->out, e->fd,
                               SHUNT_TX_SOCKET | SHUNT_TX_NOWAIT |
                                   SHUNT_TX_TRIM);
        if (r < 0) {
            end_failed(e, -r);
            return;
        }
    }
    if (!pend(e) && e->wr_shut && !e->wr_done) {
        shutdown(e->fd, SHUT_WR);
        e->wr_done = 1;
    }
}

/* Queues bytes for an end: 0, or -1 when it is gone. */
static int end_write(in_end_t *e, const uint8_t *p, size_t n)
{
    if (e->fd < 0 || e->failed || e->wr_shut)
        return -1;
    size_t off = 0;
    if (!e->connecting && !pend(e)) {
        ssize_t k = send(e->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 && errno != EAGAIN && errno != EINTR) {
            end_failed(e, errno);
            return -1;
        }
        if (k > 0)
            off = (size_t)k;
    }
    if (off < n && shunt_wbuf_append(&e->out, p + off, n - off) < 0) {
        end_failed(e, ENOMEM);
        return -1;
    }
    return 0;
}

static void end_shut(in_end_t *e)
{
    if (e->fd < 0 || e->wr_shut)
        return;
    e->wr_shut = 1;
    end_flush(e);
}

/* The mirror copy is dropped: its stream SCLOSEd (ENOBUFS when it fell
 * behind), our end of it closed. */
static void mirror_drop(in_conn_t *c, int err)
{
    stream_t *st = conn_stream(c);
    if (st) {
        st->on_sclose = NULL;
        if (err)
            stream_abort(st, err);
    }
    c->stream = 0;
    end_close(&c->e[E_LOCAL], 0);
}

/* The conn is finished when the client side and the service side are. */
static void conn_check(in_conn_t *c)
{
    if (c->dead)
        return;
    in_end_t *cl = &c->e[E_CLIENT], *rm = &c->e[E_REMOTE];
    in_end_t *lo = &c->e[E_LOCAL];
    if (c->kind != P_FILTER) {
        if (cl->fd >= 0 && cl->rd_eof && cl->wr_done && rm->rd_eof &&
            rm->wr_done) {
            end_close(cl, 0);
            end_close(rm, 0);
        }
        if (cl->fd < 0 && rm->fd < 0 &&
            (lo->fd < 0 || (lo->wr_done && lo->rd_eof)))
            conn_free(c);
        return;
    }
#ifdef SHUNT_HAVE_INROUTER
    if (cl->fd < 0 || (in_router_done(c->r) && !pend(cl) && cl->wr_done)) {
        conn_free(c);
        return;
    }
#endif
    (void)lo;
}

#ifdef SHUNT_HAVE_INROUTER
static int up_of(int idx) { return idx == E_LOCAL ? IN_UP_LOCAL : IN_UP_REMOTE; }

static void router_failed(in_conn_t *c, in_end_t *e)
{
    c->in_router = 1;
    in_router_upstream_failed(c->r, up_of(e->idx));
    c->in_router = 0;
}

/* After a router call: the upstream failures that happened inside it
 * (other than those its callback's -1 already told). */
static void router_after(in_conn_t *c)
{
    c->in_router = 0;
    for (int again = 1; again && !c->dead;) {
        again = 0;
        for (int i = E_REMOTE; i <= E_LOCAL; i++)
            if (c->e[i].fail_notify) {
                c->e[i].fail_notify = 0;
                router_failed(c, &c->e[i]);
                again = 1;
            }
    }
}
#endif

static void end_failed(in_end_t *e, int err)
{
    in_conn_t *c = e->c;
    if (e->failed || c->dead)
        return;
    e->failed = err ? err : EPIPE;
    LOG_DEBUG("incoming: pipe end %d failed: %s", e->idx, strerror(e->failed));
    if (c->kind != P_FILTER) {
        if (e->idx == E_LOCAL) {
            mirror_drop(c, 0);
            return;
        }
        /* a reset on one side of a real connection resets the other;
         * the program's copy gets what the client sent, then its end */
        end_close(&c->e[E_CLIENT], 1);
        end_close(&c->e[E_REMOTE], 1);
        mirror_release(c);
        end_shut(&c->e[E_LOCAL]);
        return;
    }
    if (e->idx == E_CLIENT) {
        end_close(&c->e[E_REMOTE], 1);
        end_close(&c->e[E_CLIENT], 1);
        end_close(&c->e[E_LOCAL], 0);
        return;
    }
    end_close(e, 1);
#ifdef SHUNT_HAVE_INROUTER
    if (c->in_router)
        e->fail_notify = 1;
    else
        router_failed(c, e);
#endif
}

static int open_local(in_conn_t *c, int flags);

/* The mirror copy is held (bytes kept in the local end's queue, its
 * stream not yet opened) until the target's service first answers, the
 * client ends its side, or IN_BOUND bytes wait: the program's part (the
 * proxy's connect, its answer) then never competes with the real
 * request on its way. */
static void mirror_release(in_conn_t *c)
{
    in_end_t *lo = &c->e[E_LOCAL];
    if (c->kind != P_MIRROR || lo->opened)
        return;
    if (open_local(c, SHUNT_INF_MIRROR) < 0) {
        shunt_wbuf_free(&lo->out);
        shunt_wbuf_init(&lo->out);
        return;
    }
    end_flush(lo);
}

static void mirror_copy(in_conn_t *c, const uint8_t *p, size_t n)
{
    in_end_t *lo = &c->e[E_LOCAL];
    if (lo->failed || (lo->opened && lo->fd < 0))
        return; /* dropped, or the program is gone */
    if (pend(lo) + n > IN_MIRROR_MAX) {
        LOG_INFO("incoming: mirror stream %u fell %zu bytes behind: "
                 "dropped", c->stream, pend(lo) + n);
        mirror_drop(c, ENOBUFS);
        lo->failed = ENOBUFS;
        return;
    }
    if (lo->opened) {
        end_write(lo, p, n);
        return;
    }
    if (shunt_wbuf_append(&lo->out, p, n) < 0) {
        lo->failed = ENOMEM;
        shunt_wbuf_free(&lo->out);
        shunt_wbuf_init(&lo->out);
        return;
    }
    if (pend(lo) >= IN_BOUND)
        mirror_release(c);
}

/* Bytes read from end idx. */
static void got(in_conn_t *c, int idx, const uint8_t *p, size_t n)
{
    if (c->kind != P_FILTER) {
        if (idx == E_CLIENT) {
            end_write(&c->e[E_REMOTE], p, n);
            if (c->kind == P_MIRROR)
                mirror_copy(c, p, n);
        } else if (idx == E_REMOTE) {
            end_write(&c->e[E_CLIENT], p, n);
            mirror_release(c);
        }
        return;
    }
#ifdef SHUNT_HAVE_INROUTER
    c->in_router = 1;
    int r = idx == E_CLIENT ? in_router_client(c->r, p, n)
                            : in_router_upstream(c->r, up_of(idx), p, n);
    router_after(c);
    if (r < 0 && idx == E_CLIENT)
        end_failed(&c->e[E_CLIENT], EPROTO);
    else if (r < 0)
        end_failed(&c->e[idx], EPROTO);
#endif
}

/* End of what end idx sends. */
static void got_eof(in_conn_t *c, int idx)
{
    if (c->kind != P_FILTER) {
        if (idx == E_CLIENT) {
            end_shut(&c->e[E_REMOTE]);
            mirror_release(c);
            end_shut(&c->e[E_LOCAL]);
        } else if (idx == E_REMOTE) {
            end_shut(&c->e[E_CLIENT]);
        }
        return;
    }
#ifdef SHUNT_HAVE_INROUTER
    c->in_router = 1;
    if (idx == E_CLIENT)
        in_router_client_eof(c->r);
    else
        in_router_upstream_eof(c->r, up_of(idx));
    router_after(c);
#endif
}

static void end_read(in_end_t *e)
{
    in_conn_t *c = e->c;
    for (int i = 0; i < 8 && !c->dead && e->fd >= 0 && !e->rd_eof; i++) {
        if (!may_read(c, e))
            break;
        ssize_t n = recv(e->fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            end_failed(e, errno);
            break;
        }
        if (n == 0) {
            e->rd_eof = 1;
            got_eof(c, e->idx);
            break;
        }
        got(c, e->idx, rbuf, (size_t)n);
        if ((size_t)n < sizeof(rbuf))
            break;
    }
}

static void connected(in_end_t *e)
{
    struct pollfd pfd = {.fd = e->fd, .events = POLLOUT};
    if (poll(&pfd, 1, 0) != 1)
        return; /* not yet (an event of an earlier fd of this end) */
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        err = errno;
    if (err) {
        LOG_DEBUG("incoming: connecting to the target's service: %s",
                  strerror(err));
        end_failed(e, err);
        return;
    }
    e->connecting = 0;
    end_flush(e);
}

void pipe_event(void *ev, uint32_t events)
{
    in_end_t *e = ev;
    in_conn_t *c = e->c;
    if (c->dead || e->fd < 0)
        return;
    if (e->connecting) {
        connected(e);
    } else {
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            if (e->events & EPOLLIN) {
                end_read(e);
            } else if (events & EPOLLERR) {
                /* only a real error: the event may be an earlier fd's of
                 * this end (reopened within this round) */
                int err = 0;
                socklen_t el = sizeof(err);
                getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err)
                    end_failed(e, err);
            }
        }
        if (!c->dead && e->fd >= 0 && (events & EPOLLOUT))
            end_flush(e);
    }
    if (c->dead)
        return;
    /* what one end did may let another read again: every end, each time */
    for (int i = 0; i < 3 && !c->dead; i++)
        if (c->e[i].fd >= 0 && !c->e[i].connecting && (c->e[i].events &
                                                       EPOLLIN) == 0 &&
            !c->e[i].rd_eof && may_read(c, &c->e[i]))
            end_read(&c->e[i]);
    conn_check(c);
    conn_update(c);
    if (c->cl && !c->cl->dead)
        client_kick(c->cl);
}

static in_conn_t *conn_new(in_sub_t *s, int kind, int fd,
                           const in_addrs_t *ad)
{
    agent_t *a = s->a;
    incoming_t *in = a->in;
    in_conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    c->a = a;
    c->sub = s;
    s->refs++;
    incoming_live(a, +1);
    c->cl = s->cl;
    c->kind = kind;
    c->ad = *ad;
    for (int i = 0; i < 3; i++) {
        c->e[i].ev.kind = EV_INCOMING;
        c->e[i].what = IN_END;
        c->e[i].c = c;
        c->e[i].idx = i;
        c->e[i].fd = -1;
        shunt_wbuf_init(&c->e[i].out);
    }
    c->e[E_CLIENT].fd = fd;
    c->e[E_CLIENT].opened = 1;
    c->next = in->conns;
    if (in->conns)
        in->conns->prev = c;
    in->conns = c;
    return c;
}

static int open_remote(in_conn_t *c)
{
    in_end_t *e = &c->e[E_REMOTE];
    if (e->opened)
        return e->fd >= 0 ? 0 : -1;
    e->opened = 1;
    int fd = sub_connect_orig(&c->ad);
    if (fd < 0) {
        e->failed = -fd;
        return -1;
    }
    e->fd = fd;
    /* inside one netns the handshake is usually done within connect():
     * no trip through epoll then (an error is left to it) */
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    e->connecting = !(poll(&pfd, 1, 0) == 1 && pfd.revents == POLLOUT);
    return 0;
}

static void local_sclosed(stream_t *st, int err, void *ctx)
{
    in_conn_t *c = ctx;
    (void)st;
    c->stream = 0;
    if (err && !c->dead) {
        LOG_DEBUG("incoming: the program's end closed: %s", strerror(err));
        end_failed(&c->e[E_LOCAL], err);
        conn_check(c);
        conn_update(c);
    }
}

static int open_local(in_conn_t *c, int flags)
{
    in_end_t *e = &c->e[E_LOCAL];
    if (e->opened)
        return e->fd >= 0 ? 0 : -1;
    e->opened = 1;
    uint32_t id = 0;
    int fd = c->sub->cl ? sub_open_stream(c->sub, &c->ad, flags, &id) : -1;
    if (fd < 0) {
        e->failed = ECONNREFUSED;
        return -1;
    }
    e->fd = fd;
    c->stream = id;
    stream_t *st = conn_stream(c);
    if (st) {
        st->on_sclose = local_sclosed;
        st->sclose_ctx = c;
    }
    return 0;
}

void pipe_mirror(in_sub_t *s, int fd, const in_addrs_t *ad)
{
    in_conn_t *c = conn_new(s, P_MIRROR, fd, ad);
    if (!c)
        return;
    if (open_remote(c) < 0) {
        /* as the target would: the port has no service */
        end_close(&c->e[E_CLIENT], 1);
        conn_free(c);
        return;
    }
    /* the copy (INCOMING stream) opens later: mirror_release */
    conn_update(c);
}

/* A stolen connection the program refused before answering: the target's
 * own service takes it, with the client bytes the stream kept. */
void pipe_plain(in_sub_t *s, int fd, const in_addrs_t *ad,
                const uint8_t *replay, size_t n, int client_eof)
{
    in_conn_t *c = conn_new(s, P_PLAIN, fd, ad);
    if (!c)
        return;
    if (open_remote(c) < 0) {
        end_close(&c->e[E_CLIENT], 1);
        conn_free(c);
        return;
    }
    if (n)
        end_write(&c->e[E_REMOTE], replay, n);
    if (client_eof) {
        c->e[E_CLIENT].rd_eof = 1;
        end_shut(&c->e[E_REMOTE]);
    }
    conn_update(c);
}

#ifdef SHUNT_HAVE_INROUTER
static int op_to_client(void *ctx, const uint8_t *p, size_t n)
{
    in_conn_t *c = ctx;
    return end_write(&c->e[E_CLIENT], p, n);
}

static int op_to_upstream(void *ctx, int up, const uint8_t *p, size_t n)
{
    in_conn_t *c = ctx;
    int idx = up == IN_UP_LOCAL ? E_LOCAL : E_REMOTE;
    in_end_t *e = &c->e[idx];
    if (e->opened && (e->fd < 0 || e->failed || e->rd_eof || e->wr_shut)) {
        /* done with that connection (router.h): a new one */
        if (idx == E_LOCAL) {
            stream_t *st = conn_stream(c);
            if (st) {
                st->on_sclose = NULL;
                st->sclose_ctx = NULL;
            }
            c->stream = 0;
        }
        end_close(e, 0);
        e->opened = e->connecting = e->rd_eof = e->wr_shut = 0;
        e->wr_done = e->failed = e->fail_notify = 0;
    }
    if (!e->opened) {
        int r = idx == E_LOCAL ? open_local(c, 0) : open_remote(c);
        if (r < 0)
            return -1;
        end_update(&c->e[idx]);
    }
    if (end_write(&c->e[idx], p, n) < 0) {
        c->e[idx].fail_notify = 0; /* it learns it from the -1 */
        return -1;
    }
    return 0;
}

static void op_upstream_shut(void *ctx, int up)
{
    in_conn_t *c = ctx;
    end_shut(&c->e[up == IN_UP_LOCAL ? E_LOCAL : E_REMOTE]);
}

static void op_client_shut(void *ctx)
{
    in_conn_t *c = ctx;
    end_shut(&c->e[E_CLIENT]);
}

static const in_router_ops_t ops = {
    .to_client = op_to_client,
    .to_upstream = op_to_upstream,
    .upstream_shut = op_upstream_shut,
    .client_shut = op_client_shut,
};
#endif

void pipe_filtered(in_sub_t *s, int fd, const in_addrs_t *ad)
{
#ifdef SHUNT_HAVE_INROUTER
    in_conn_t *c = conn_new(s, P_FILTER, fd, ad);
    if (!c)
        return;
    c->r = in_router_new(s->filter, &ops, c);
    if (!c->r) {
        end_close(&c->e[E_CLIENT], 1);
        conn_free(c);
        return;
    }
    conn_update(c);
#else
    (void)s;
    (void)ad;
    close(fd);
#endif
}

void pipe_client_gone(agent_t *a, client_t *cl)
{
    for (in_conn_t *c = a->in ? a->in->conns : NULL; c; c = c->next) {
        if (c->cl != cl)
            continue;
        c->cl = NULL;
        c->stream = 0;
        /* its streams are gone: what the program had is lost */
        in_end_t *lo = &c->e[E_LOCAL];
        if (lo->fd >= 0 && !lo->failed) {
            if (c->kind == P_FILTER)
                end_failed(lo, ECONNRESET);
            else
                end_close(lo, 0);
        }
        conn_check(c); /* a mirror that only waited for its copy is done
                        * (conn_free unlinks c but keeps c->next) */
    }
}

void pipe_stop(agent_t *a)
{
    while (a->in && a->in->conns) {
        in_conn_t *c = a->in->conns;
        end_close(&c->e[E_CLIENT], 1);
        end_close(&c->e[E_REMOTE], 1);
        conn_free(c);
    }
}

void pipe_reap(agent_t *a)
{
    incoming_t *in = a->in;
    while (in && in->dead_conns) {
        in_conn_t *c = in->dead_conns;
        in->dead_conns = c->next_dead;
        c->sub->refs--;
        free(c);
    }
}
