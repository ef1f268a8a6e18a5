/* The agent's event loop: epoll, accepting clients, timers, signals. */
#include "agent.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int agent_watch(agent_t *a, int fd, agent_ev_t *ev, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.ptr = ev};
    return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

int agent_rewatch(agent_t *a, int fd, agent_ev_t *ev, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.ptr = ev};
    return epoll_ctl(a->epfd, EPOLL_CTL_MOD, fd, &e) < 0 ? -errno : 0;
}

void agent_unwatch(agent_t *a, int fd)
{
    epoll_ctl(a->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void client_new(agent_t *a, int fd, const struct sockaddr *sa)
{
    client_t *cl = calloc(1, sizeof(*cl));
    if (!cl || shunt_rx_init(&cl->rx, SHUNT_FRAME_MIN) < 0) {
        LOG_ERROR("out of memory accepting a client");
        free(cl);
        close(fd);
        return;
    }
    cl->ev.kind = EV_CLIENT;
    cl->a = a;
    cl->fd = fd;
    cl->serial = ++a->next_serial;
    cl->creds.uid = CREDS_AS_AGENT;
    cl->max_frame = SHUNT_FRAME_MIN; /* until HELLO says more */
    shunt_wbuf_init(&cl->tx);
    char peer[80];
    shunt_format_sockaddr(sa, peer, sizeof(peer));
    snprintf(cl->desc, sizeof(cl->desc), "#%llu %s",
             (unsigned long long)cl->serial, peer);
    htab_init(&cl->h, a->conf.max_fds, a->next_tag);
    a->next_tag = a->next_tag % 2047u + 1u;
    cl->events = EPOLLIN;
    if (agent_watch(a, fd, &cl->ev, cl->events) < 0) {
        LOG_ERROR("epoll: %s", strerror(errno));
        shunt_rx_free(&cl->rx);
        free(cl);
        close(fd);
        return;
    }
    cl->next = a->clients;
    if (a->clients)
        a->clients->prev = cl;
    a->clients = cl;

    if (a->nunauth >= AGENT_MAX_UNAUTH) {
        /* Unauthenticated connections never take a client slot: the
         * oldest of them makes room (a local user holding connections
         * open cannot lock real clients out). */
        client_t *old = NULL;
        for (client_t *o = cl->next; o; o = o->next)
            if (o->unauth && !o->dead && o->state == C_HELLO)
                old = o; /* the list is newest first */
        if (old)
            client_drop(old, "no HELLO yet; dropped for a newer connection");
    }
    cl->unauth = 1;
    a->nunauth++;
    cl->deadline_ms = shunt_now_ms() + (uint64_t)a->conf.handshake_timeout_ms;
    LOG_DEBUG("client %s connected (%u clients)", cl->desc, a->nclients);
}

static void on_accept(agent_t *a)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(a->lfd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                return;
            LOG_WARN("accept: %s", strerror(errno));
            return;
        }
        if (a->nrejected >= 64) { /* do not spend memory on a flood */
            close(fd);
            continue;
        }
        /* Small frames (requests, stream data) must not wait for Nagle. */
        int one = 1;
        if (ss.ss_family != AF_UNIX)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        client_new(a, fd, (struct sockaddr *)&ss);
    }
}

static void on_signal(agent_t *a)
{
    struct signalfd_siginfo si;
    while (read(a->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            int st;
            pid_t pid;
            while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
                resolver_child_exited(a, pid, st);
        } else {
            LOG_INFO("%s received, shutting down",
                     si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            a->stop = 1;
        }
    }
}

/* Reads what is there and serves every complete frame. */
void client_readable(client_t *cl)
{
    ssize_t n = shunt_rx_fill(&cl->rx, cl->fd);
    if (n == -EAGAIN || n == -EINTR)
        return;
    if (n == 0) {
        if (cl->state == C_LINGER)
            client_drop(cl, NULL);
        else
            client_drop(cl, "disconnected");
        return;
    }
    if (n < 0) {
        char why[96];
        snprintf(why, sizeof(why), "read error: %s", strerror((int)-n));
        client_drop(cl, why);
        return;
    }
    if (cl->state == C_LINGER) { /* discard until EOF */
        shunt_rx_consume(&cl->rx, shunt_rx_buffered(&cl->rx));
        return;
    }
    while (!cl->dead && (cl->state == C_HELLO || cl->state == C_READY)) {
        const uint8_t *f;
        size_t len;
        int r = shunt_rx_frame(&cl->rx, &f, &len);
        if (r == 0)
            break;
        if (r < 0) {
            shunt_hdr_t h;
            char why[160];
            const uint8_t *p = cl->rx.buf + cl->rx.off;
            if (shunt_hdr_parse(p, shunt_rx_buffered(&cl->rx), UINT32_MAX,
                                &h) == 1)
                snprintf(why, sizeof(why),
                         "protocol error: frame of %u bytes (type 0x%04x) "
                         "exceeds the limit of %u",
                         h.length + SHUNT_HDR_LEN, h.type, cl->max_frame);
            else
                snprintf(why, sizeof(why), "protocol error: %s",
                         strerror(-r));
            client_drop(cl, why);
            return;
        }
        shunt_msg_t m;
        int d = shunt_decode(f, len, &m);
        if (d == -EPROTO || (d < 0 && d != -ENOSYS)) {
            char why[160];
            snprintf(why, sizeof(why),
                     "protocol error: malformed frame (type 0x%04x, %zu "
                     "bytes)", (unsigned)shunt_frame_type(f), len);
            client_drop(cl, why);
            return;
        }
        if (cl->state == C_HELLO) {
            if (d == -ENOSYS || m.type != SHUNT_T_HELLO) {
                LOG_WARN("client %s: %s before HELLO", cl->desc,
                         shunt_msg_name(m.type) ? shunt_msg_name(m.type)
                                                : "unknown message");
                reply_error(cl, m.id, EPROTO,
                            "HELLO must be the first message");
                cl->state = C_CLOSING;
                cl->deadline_ms = shunt_now_ms() + 1000;
            } else {
                handshake(cl, &m);
            }
        } else if (d == -ENOSYS) {
            LOG_DEBUG("client %s: unknown message type 0x%04x", cl->desc,
                      m.type);
            reply_error(cl, m.id, ENOSYS, "unknown message type 0x%04x",
                        m.type);
        } else {
            if (shunt_log_get_level() >= SHUNT_LOG_TRACE) {
                char line[512];
                shunt_msg_format(&m, line, sizeof(line));
                LOG_TRACE("client %s: <- %s", cl->desc, line);
            }
            dispatch(cl, &m);
        }
        if (cl->dead)
            return;
        shunt_rx_consume(&cl->rx, len);
        if (shunt_wbuf_pending(&cl->tx) > cl->a->conf.max_queue) {
            client_kick(cl);
            return;
        }
    }
}

static void client_event(client_t *cl, uint32_t ev)
{
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (cl->state == C_CLOSING && (ev & (EPOLLHUP | EPOLLERR))) {
            client_drop(cl, NULL);
            return;
        }
        if (cl->state != C_CLOSING)
            client_readable(cl);
    }
    if (!cl->dead)
        client_kick(cl);
}

static int next_timeout(agent_t *a)
{
    uint64_t now = shunt_now_ms(), next = UINT64_MAX;
    for (client_t *cl = a->clients; cl; cl = cl->next)
        if (cl->deadline_ms && cl->deadline_ms < next)
            next = cl->deadline_ms;
    for (stream_t *st = a->connecting; st; st = st->tnext)
        if (st->deadline_ms < next)
            next = st->deadline_ms;
    if (next == UINT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

static void check_timers(agent_t *a)
{
    uint64_t now = shunt_now_ms();
    for (client_t *cl = a->clients; cl; cl = cl->next) {
        if (cl->dead || !cl->deadline_ms || cl->deadline_ms > now)
            continue;
        if (cl->state == C_HELLO) {
            char why[96];
            snprintf(why, sizeof(why), "no HELLO within %d ms, dropped",
                     a->conf.handshake_timeout_ms);
            client_drop(cl, why);
        } else {
            client_drop(cl, NULL);
        }
    }
    stream_t *next;
    for (stream_t *st = a->connecting; st; st = next) {
        next = st->tnext;
        if (st->deadline_ms <= now)
            stream_timeout(st);
    }
}

/* Frees what was dropped during this round of events. */
void agent_reap(agent_t *a)
{
    while (a->dead_streams) {
        stream_t *st = a->dead_streams;
        a->dead_streams = st->next_dead;
        shunt_wbuf_free(&st->out);
        free(st->keep);
        free(st);
    }
    incoming_reap(a);
    while (a->dead_watches) {
        watch_t *w = a->dead_watches;
        a->dead_watches = w->next;
        free(w);
    }
    while (a->dead_clients) {
        client_t *cl = a->dead_clients;
        a->dead_clients = cl->next_dead;
        shunt_rx_free(&cl->rx);
        shunt_wbuf_free(&cl->tx);
        free(cl);
    }
}

int agent_run(agent_t *a)
{
    struct epoll_event evs[64];
    while (!a->stop) {
        int n = epoll_wait(a->epfd, evs, 64, next_timeout(a));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            LOG_ERROR("epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            agent_ev_t *ev = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            switch (ev->kind) {
            case EV_LISTEN: on_accept(a); break;
            case EV_SIGNAL: on_signal(a); break;
            case EV_TARGET:
                if (!a->target_lost) {
                    a->target_lost = 1;
                    agent_unwatch(a, a->pidfd);
                    LOG_ERROR("target pid %d exited (the target was stopped "
                              "or restarted): every later request fails "
                              "with EIO",
                              (int)a->conf.target_pid);
                }
                break;
            case EV_RESOLVER: resolver_event(a, e); break;
            case EV_CLIENT: {
                client_t *cl = (client_t *)ev;
                if (!cl->dead)
                    client_event(cl, e);
                break;
            }
            case EV_WATCH: watch_event((watch_t *)ev); break;
            case EV_INCOMING: incoming_event(ev, e); break;
            case EV_STREAM: {
                stream_t *st = (stream_t *)ev;
                if (st->state != S_CLOSED && !st->cl->dead)
                    stream_event(st, e);
                break;
            }
            default: break;
            }
        }
        check_timers(a);
        agent_reap(a);
    }
    return 0;
}

void agent_shutdown(agent_t *a)
{
    unsigned n = a->nclients;
    while (a->clients)
        client_drop(a->clients, NULL);
    agent_reap(a);
    if (n)
        LOG_INFO("closed %u client%s", n, n == 1 ? "" : "s");
    resolver_stop(a);
    incoming_stop(a);
    if (a->lfd >= 0)
        close(a->lfd);
    a->lfd = -1;
}
