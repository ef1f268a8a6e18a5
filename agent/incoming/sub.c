/* Subscriptions (INCOMING_SUB / INCOMING_UNSUB): a listener of the agent's
 * in the target's netns, a rule per port diverting the target's port to
 * it, and each diverted connection handed on: stolen whole as an ordinary
 * stream (streams.c), or piped by the agent (pipe.c: mirror, filter). */
#include "incoming.h"

#include "shunt/log.h"
#include "shunt/util.h"

#ifdef SHUNT_HAVE_INROUTER
#include "router/router.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* <linux/netfilter_ipv4.h>, <linux/netfilter_ipv6/ip6_tables.h> (which
 * clash with <net/if.h>) */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static incoming_t *in_of(agent_t *a)
{
    if (!a->in) {
        a->in = calloc(1, sizeof(*a->in));
        if (a->in)
            a->in->next_sub = 1;
    }
    return a->in;
}

void sub_fill(const struct sockaddr_storage *ss, shunt_bytes_t *b,
              uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        *b = shunt_bytes(&s->sin_addr, 4);
        *port = ntohs(s->sin_port);
    } else {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        *b = shunt_bytes(&s->sin6_addr, 16);
        *port = ntohs(s->sin6_port);
    }
}

/* ::ffff:a.b.c.d as a.b.c.d */
static void unmap(struct sockaddr_storage *ss)
{
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
        return;
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = s6->sin6_port};
    memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &s4, sizeof(s4));
}

/* The target's own address: its first non-loopback IPv4 address, else its
 * first global IPv6 one, else 127.0.0.1. */
static void target_addr(int *family, uint8_t addr[16], uint32_t *len)
{
    struct ifaddrs *ifa = NULL, *v6 = NULL;
    *family = AF_INET;
    *len = 4;
    uint32_t lo = htonl(INADDR_LOOPBACK);
    memcpy(addr, &lo, 4);
    if (getifaddrs(&ifa) < 0)
        return;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            memcpy(addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
            freeifaddrs(ifa);
            return;
        }
        if (i->ifa_addr->sa_family == AF_INET6 && !v6 &&
            !IN6_IS_ADDR_LINKLOCAL(
                &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
            v6 = i;
    }
    if (v6) {
        *family = AF_INET6;
        *len = 16;
        memcpy(addr, &((struct sockaddr_in6 *)v6->ifa_addr)->sin6_addr, 16);
    }
    freeifaddrs(ifa);
}

/* Our listener in the target's netns: dual-stack [::]:0 when the netns has
 * IPv6, else 0.0.0.0:0. */
static int open_listener(uint16_t *lport)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        int zero = 0;
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6,
                                  .sin6_addr = IN6ADDR_ANY_INIT};
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
                       sizeof(zero)) < 0 ||
            bind(fd, (struct sockaddr *)&s6, sizeof(s6)) < 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in s4 = {.sin_family = AF_INET};
        if (fd < 0)
            return -errno;
        if (bind(fd, (struct sockaddr *)&s4, sizeof(s4)) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    }
    if (listen(fd, 511) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    shunt_bytes_t b;
    sub_fill(&ss, &b, lport);
    return fd;
}

static in_sub_t *sub_find(agent_t *a, uint32_t id)
{
    for (in_sub_t *s = a->in ? a->in->subs : NULL; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static void filter_free(void *f)
{
#ifdef SHUNT_HAVE_INROUTER
    in_filter_free(f);
#else
    (void)f;
#endif
}

/* Unlinks and frees (at the end of the round) s: rules, listener. */
static void table_maybe_del(incoming_t *in);

static void sub_finish(in_sub_t *s, const char *why);

/* Ends a subscription.  Deleting a port's redirect rules while connections
 * it diverted are open breaks them: their packets stop being translated
 * (measured: a stolen request in flight when the program was killed never
 * saw its end and hung until the client gave up, while with the rules kept
 * until after its close the client got its reset at once).  So while any
 * diverted connection is open the subscription only *drains*: its rules
 * and listener stay, and the connections they still divert are piped to
 * the target's own service (the port is the target's again for clients),
 * until the last diverted connection closes (incoming_live). */
static void sub_end(in_sub_t *s, const char *why)
{
    agent_t *a = s->a;
    incoming_t *in = a->in;
    for (in_sub_t **pp = &in->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    if (in->live > 0 && !in->stopping) {
        s->draining = 1;
        s->next = in->draining;
        in->draining = s;
        LOG_INFO("incoming: port %u is the target's own again (sub %u: %s); "
                 "%u diverted connection%s still open, new ones are piped "
                 "to the target's service until they end",
                 s->port, s->id, why, in->live, in->live == 1 ? "" : "s");
        return;
    }
    sub_finish(s, why);
}

static void sub_finish(in_sub_t *s, const char *why)
{
    agent_t *a = s->a;
    incoming_t *in = a->in;
    nft_rule_del(s->handle);
    if (s->lfd >= 0) {
        agent_unwatch(a, s->lfd);
        close(s->lfd);
        s->lfd = -1;
    }
    LOG_INFO("incoming: port %u no longer diverted (sub %u: %s)", s->port,
             s->id, why);
    s->next = in->dead_subs;
    in->dead_subs = s;
    table_maybe_del(in);
}

/* The table goes with the last subscription, but only once no diverted
 * connection is open: the NAT of a connection already diverted is done by
 * the hooks of our nat chains, so deleting them would leave its packets
 * untranslated (the client would never see its end: a stolen request in
 * flight when the program was killed hung until the client gave up). */
static void table_maybe_del(incoming_t *in)
{
    if (in->subs || !in->table || in->live > 0)
        return;
    char err[256];
    if (nft_table_del(getpid(), err, sizeof(err)) < 0)
        LOG_WARN("cannot delete our nftables table: %s", err);
    else
        LOG_DEBUG("incoming: our nftables table deleted");
    in->table = 0;
}

static void drained(incoming_t *in)
{
    while (in->draining) {
        in_sub_t *s = in->draining;
        in->draining = s->next;
        sub_finish(s, "its last diverted connection ended");
    }
}

void incoming_live(agent_t *a, int delta)
{
    incoming_t *in = a->in;
    if (!in)
        return;
    if (delta < 0 && in->live < (unsigned)-delta)
        in->live = 0;
    else
        in->live = (unsigned)((int)in->live + delta);
    if (in->live == 0)
        drained(in);
    table_maybe_del(in);
}

static void sub_request(client_t *cl, const shunt_msg_t *m)
{
    const shunt_incoming_sub_t *q = &m->u.incoming_sub;
    agent_t *a = cl->a;
    char err[512];
    if (q->remote_port == 0) {
        reply_error(cl, m->id, EINVAL, "port 0 cannot be subscribed");
        return;
    }
    if (q->mode != SHUNT_IN_MIRROR && q->mode != SHUNT_IN_STEAL) {
        reply_error(cl, m->id, EINVAL, "mode %u is neither mirror (1) nor "
                    "steal (2)", q->mode);
        return;
    }
    if (q->on_conflict != SHUNT_IN_REFUSE &&
        q->on_conflict != SHUNT_IN_REPLACE) {
        reply_error(cl, m->id, EINVAL, "on_conflict %u is neither refuse "
                    "(0) nor replace (1)", q->on_conflict);
        return;
    }
    void *filter = NULL;
    if (q->filter.count && q->mode == SHUNT_IN_STEAL) {
        if (q->filter.count > SHUNT_HF_MAX_NODES) {
            reply_error(cl, m->id, EINVAL, "HTTP filter of %u nodes (at most "
                        "%u)", q->filter.count, SHUNT_HF_MAX_NODES);
            return;
        }
#ifdef SHUNT_HAVE_INROUTER
        shunt_rec_hfilter_t v[SHUNT_HF_MAX_NODES];
        shunt_list_iter_t it;
        size_t n = 0;
        shunt_list_iter_init(&it, &q->filter);
        while (n < q->filter.count && shunt_list_next_rec_hfilter(&it, &v[n]) > 0)
            n++;
        if (n != q->filter.count) {
            reply_error(cl, m->id, EINVAL, "HTTP filter: malformed list");
            return;
        }
        err[0] = 0;
        filter = in_filter_compile(v, n, err, sizeof(err));
        if (!filter) {
            reply_error(cl, m->id, EINVAL, "HTTP filter: %s",
                        err[0] ? err : "invalid");
            return;
        }
#else
        reply_error(cl, m->id, ENOSYS, "HTTP filters not built into this "
                    "agent");
        return;
#endif
    } else if (q->filter.count) {
        LOG_DEBUG("client %s: HTTP filter ignored in mirror mode", cl->desc);
    }
    incoming_t *in = in_of(a);
    if (!in) {
        filter_free(filter);
        reply_error(cl, m->id, ENOMEM, "out of memory");
        return;
    }
    /* Ours already (another proxy link of this agent)? */
    for (in_sub_t *o = in->subs; o; o = o->next) {
        if (o->port != q->remote_port)
            continue;
        if (q->on_conflict == SHUNT_IN_REFUSE) {
            filter_free(filter);
            reply_error(cl, m->id, EADDRINUSE, "port %u of the target is "
                        "taken by another shunt session (agent pid %d); "
                        "on_conflict: replace takes it over", o->port,
                        (int)getpid());
            return;
        }
        sub_end(o, "taken over by another session");
        break;
    }
    pid_t owner = nft_port_owner(q->remote_port);
    if (owner) {
        if (q->on_conflict == SHUNT_IN_REFUSE) {
            filter_free(filter);
            reply_error(cl, m->id, EADDRINUSE, "port %u of the target is "
                        "taken by another shunt session (agent pid %d); "
                        "on_conflict: replace takes it over",
                        q->remote_port, (int)owner);
            return;
        }
        int r = nft_take_port(owner, q->remote_port, err, sizeof(err));
        if (r < 0) {
            filter_free(filter);
            reply_error(cl, m->id, -r, "%s", err);
            return;
        }
    }
    in_sub_t *s = calloc(1, sizeof(*s));
    if (!s) {
        filter_free(filter);
        reply_error(cl, m->id, ENOMEM, "out of memory");
        return;
    }
    s->ev.kind = EV_INCOMING;
    s->what = IN_LISTENER;
    s->a = a;
    s->cl = cl;
    s->port = q->remote_port;
    s->mode = q->mode;
    s->filter = filter;
    s->lfd = open_listener(&s->lport);
    if (s->lfd < 0) {
        reply_error(cl, m->id, -s->lfd, "listener in the target's network: "
                    "%s", strerror(-s->lfd));
        filter_free(filter);
        free(s);
        return;
    }
    int r = 0;
    if (!in->table) {
        r = nft_table_add(err, sizeof(err));
        if (r == 0)
            in->table = 1;
    }
    if (r == 0)
        r = nft_rule_add(s->port, s->lport, s->handle, err, sizeof(err));
    if (r == 0 && agent_watch(a, s->lfd, &s->ev, EPOLLIN) < 0) {
        r = -errno;
        snprintf(err, sizeof(err), "epoll: %s", strerror(errno));
        nft_rule_del(s->handle);
    }
    if (r < 0) {
        reply_error(cl, m->id, -r, "diverting port %u: %s", s->port, err);
        close(s->lfd);
        filter_free(filter);
        free(s);
        if (!in->subs && in->table &&
            nft_table_del(getpid(), err, sizeof(err)) == 0)
            in->table = 0;
        return;
    }
    s->id = in->next_sub++;
    if (in->next_sub == 0)
        in->next_sub = 1;
    s->next = in->subs;
    in->subs = s;
    uint8_t addr[16];
    shunt_incoming_sub_r_t rr = {.sub = s->id};
    target_addr(&rr.family, addr, &rr.addr.len);
    rr.addr.p = addr;
    LOG_INFO("client %s: incoming: port %u diverted to :%u (%s%s, sub %u)",
             cl->desc, s->port, s->lport,
             s->mode == SHUNT_IN_MIRROR ? "mirror" : "steal",
             s->filter ? " with an HTTP filter" : "", s->id);
    client_send(cl, SHUNT_T_INCOMING_SUB_R, 0, m->id, &rr);
}

void incoming_handle(client_t *cl, const shunt_msg_t *m)
{
    if (m->type == SHUNT_T_INCOMING_SUB) {
        sub_request(cl, m);
        return;
    }
    in_sub_t *s = sub_find(cl->a, m->u.incoming_unsub.sub);
    if (!s || s->cl != cl) {
        reply_error(cl, m->id, ENOENT, "no subscription %u",
                    m->u.incoming_unsub.sub);
        return;
    }
    sub_end(s, "unsubscribed");
    reply_ok(cl, m->id, 0);
}

int sub_open_stream(in_sub_t *s, const in_addrs_t *ad, int flags,
                    uint32_t *stream)
{
    client_t *cl = s->cl;
    int sp[2];
    if (!cl || cl->dead)
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sp) < 0) {
        LOG_WARN("incoming: socketpair: %s", strerror(errno));
        return -1;
    }
    char peer[64], desc[80];
    shunt_format_sockaddr((const struct sockaddr *)&ad->peer, peer,
                          sizeof(peer));
    snprintf(desc, sizeof(desc), "%s%s", flags & SHUNT_INF_MIRROR ? "mirror "
                                                                   : "", peer);
    stream_t *st = stream_new(cl, 0, sp[0], SOCK_STREAM, ad->family, desc);
    if (!st) {
        close(sp[1]);
        return -1;
    }
    st->state = S_OPEN;
    st->credit = SHUNT_STREAM_WINDOW;
    shunt_incoming_t im = {.sub = s->id, .stream = st->id,
                           .flags = (uint8_t)flags, .family = ad->family};
    sub_fill(&ad->peer, &im.peer_addr, &im.peer_port);
    sub_fill(&ad->orig, &im.local_addr, &im.local_port);
    client_send(cl, SHUNT_T_INCOMING, SHUNT_FLAG_ONEWAY, 0, &im);
    stream_start(st);
    client_kick(cl);
    *stream = st->id;
    return sp[1];
}

int sub_connect_orig(const in_addrs_t *ad)
{
    int fd = socket(ad->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0)
        return -errno;
    uint32_t mark = IN_MARK;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
        int e = errno;
        LOG_WARN("incoming: SO_MARK: %s (the agent needs CAP_NET_ADMIN)",
                 strerror(e));
        close(fd);
        return -e;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    socklen_t sl = ad->family == AF_INET ? sizeof(struct sockaddr_in)
                                         : sizeof(struct sockaddr_in6);
    if (connect(fd, (const struct sockaddr *)&ad->orig, sl) < 0 &&
        errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* The connection's destination before the redirect. */
static int orig_dst(int fd, int family, struct sockaddr_storage *ss)
{
    socklen_t sl = sizeof(*ss);
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET)
        return getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ss, &sl);
    return getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ss, &sl);
}

/* The program refused a stolen connection (its listener is gone) before
 * answering a byte: the target's own service gets it, with the client
 * bytes the stream kept, rather than the client a reset. */
static void steal_sclosed(stream_t *st, int err, void *ctx)
{
    agent_t *a = st->cl->a;
    in_sub_t *s = sub_find(a, (uint32_t)(uintptr_t)ctx);
    if (err != ECONNREFUSED || st->answered || !st->keeping || !s ||
        st->fd < 0)
        return;
    in_addrs_t ad;
    socklen_t sl = sizeof(ad.peer);
    if (getpeername(st->fd, (struct sockaddr *)&ad.peer, &sl) < 0)
        return;
    unmap(&ad.peer);
    ad.family = ad.peer.ss_family;
    if (orig_dst(st->fd, ad.family, &ad.orig) < 0)
        return;
    LOG_INFO("incoming: the program refused a connection on port %u: the "
             "target's own service takes it (%zu bytes replayed)", s->port,
             st->keep_len);
    int fd = st->fd;
    st->fd = -1;
    pipe_plain(s, fd, &ad, st->keep, st->keep_len, st->rd_eof);
}

static void steal_whole(in_sub_t *s, int fd, const in_addrs_t *ad)
{
    client_t *cl = s->cl;
    char peer[64];
    shunt_format_sockaddr((const struct sockaddr *)&ad->peer, peer,
                          sizeof(peer));
    stream_t *st = stream_adopt(cl, fd, ad->family, peer);
    if (!st)
        return;
    st->in_live = 1;
    incoming_live(s->a, +1);
    st->keeping = 1;
    st->on_sclose = steal_sclosed;
    st->sclose_ctx = (void *)(uintptr_t)s->id;
    shunt_incoming_t im = {.sub = s->id, .stream = st->id, .flags = 0,
                           .family = ad->family};
    sub_fill(&ad->peer, &im.peer_addr, &im.peer_port);
    sub_fill(&ad->orig, &im.local_addr, &im.local_port);
    LOG_DEBUG("client %s: incoming connection from %s to port %u: stream %u",
              cl->desc, peer, s->port, st->id);
    client_send(cl, SHUNT_T_INCOMING, SHUNT_FLAG_ONEWAY, 0, &im);
    stream_start(st);
    client_kick(cl);
}

static void sub_accept(in_sub_t *s)
{
    for (int i = 0; i < 64 && s->lfd >= 0; i++) {
        in_addrs_t ad;
        socklen_t sl = sizeof(ad.peer);
        int fd = accept4(s->lfd, (struct sockaddr *)&ad.peer, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                LOG_WARN("incoming: accept: %s", strerror(errno));
            return;
        }
        unmap(&ad.peer);
        ad.family = ad.peer.ss_family;
        int one = 1; /* the agent relays what it has at once */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (orig_dst(fd, ad.family, &ad.orig) < 0) {
            LOG_DEBUG("incoming: a connection with no original destination "
                      "(%s): closed", strerror(errno));
            close(fd);
            continue;
        }
        shunt_bytes_t b;
        uint16_t oport;
        sub_fill(&ad.orig, &b, &oport);
        if (oport != s->port || ad.orig.ss_family != ad.family) {
            LOG_DEBUG("incoming: a connection to port %u on the listener of "
                      "port %u: closed", oport, s->port);
            close(fd);
            continue;
        }
        if (s->draining) { /* the port is the target's own again */
            pipe_plain(s, fd, &ad, NULL, 0, 0);
            continue;
        }
        if (!s->cl || s->cl->dead) {
            close(fd);
            continue;
        }
        if (s->mode == SHUNT_IN_MIRROR)
            pipe_mirror(s, fd, &ad);
        else if (s->filter)
            pipe_filtered(s, fd, &ad);
        else
            steal_whole(s, fd, &ad);
    }
}

void incoming_event(agent_ev_t *ev, uint32_t events)
{
    struct {
        agent_ev_t ev;
        int what;
    } *o = (void *)ev;
    if (o->what == IN_LISTENER) {
        in_sub_t *s = (in_sub_t *)ev;
        if (s->lfd >= 0)
            sub_accept(s);
        if (s->cl && !s->cl->dead)
            client_kick(s->cl);
    } else {
        pipe_event(ev, events);
    }
}

void incoming_client_gone(client_t *cl)
{
    agent_t *a = cl->a;
    if (!a->in)
        return;
    in_sub_t *next;
    for (in_sub_t *s = a->in->subs; s; s = next) {
        next = s->next;
        if (s->cl == cl) {
            s->cl = NULL;
            sub_end(s, "the proxy link is gone");
        }
    }
    for (in_sub_t *s = a->in->dead_subs; s; s = s->next)
        if (s->cl == cl)
            s->cl = NULL;
    for (in_sub_t *s = a->in->draining; s; s = s->next)
        if (s->cl == cl)
            s->cl = NULL;
    pipe_client_gone(a, cl);
}

void incoming_start(agent_t *a)
{
    if (a->netns_fd < 0)
        return; /* --root: the agent's own netns is not a target's */
    int n = nft_sweep();
    if (n)
        LOG_INFO("incoming: %d leftover table%s deleted", n, n == 1 ? "" : "s");
}

void incoming_stop(agent_t *a)
{
    incoming_t *in = a->in;
    if (!in)
        return;
    in->stopping = 1;
    pipe_stop(a); /* resets the pipes' clients while the NAT still holds */
    while (in->subs)
        sub_end(in->subs, "the agent exits");
    drained(in);
    in->live = 0; /* the agent exits: whatever is left goes with it */
    table_maybe_del(in);
    incoming_reap(a);
    free(in);
    a->in = NULL;
}

void incoming_reap(agent_t *a)
{
    incoming_t *in = a->in;
    if (!in)
        return;
    pipe_reap(a); /* drops the pipes' references first */
    for (in_sub_t **pp = &in->dead_subs; *pp;) {
        in_sub_t *s = *pp;
        if (s->refs > 0) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        filter_free(s->filter);
        free(s);
    }
}
