/* Outgoing network: TCP and UDP sockets to remote addresses go through the
 * proxy's loopback relays (docs/hooking.md, "Network").  The program's fd
 * stays a real kernel socket of the kind it asked for; the layer connects it
 * to 127.0.0.1:relay_port and keeps, per fd, what the kernel cannot know:
 * the remote peer, the remote local address, a deferred connect error and
 * the relays of an unconnected UDP socket. */
#include "hooks.h"
#include "inaddr.h"
#include "layer.h"
#include "shunt/netaddr.h"
#include "net.h"
#include "notice.h"

#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

/* ---- the per-fd table --------------------------------------------------- */
#define CHUNK 1024
#define NCHUNKS (SHUNT_FDT_MAX / CHUNK)
#define MAX_UDP_RELAYS 256

typedef struct {
    uint16_t relay_port;
    struct sockaddr_storage dest;
    socklen_t dest_len;
} urelay_t;

typedef struct nsock {
    atomic_int refs;
    atomic_flag lock; /* guards the fields below */
    int family, type;
    int relayed;       /* connected through a relay */
    uint16_t relay_port;
    int pending_err;   /* non-blocking connect that failed remotely */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct sockaddr_storage local; /* what getsockname reports */
    socklen_t local_len;           /* 0: ask the kernel */
    urelay_t *ur;                  /* unconnected UDP: one per destination */
    size_t nur, capur;
    /* incoming traffic (docs/incoming.md) */
    int incoming;      /* accepted incoming stream: peer/local are the
                        * remote client and the target's address */
    uint32_t sub;      /* listener: its subscription (0: none) */
    int sub_tried;     /* listener: subscribed, or tried and failed */
    uint16_t sub_port; /* listener: the target's port it took */
    unsigned sub_gen;  /* listener: shunt_net_shares when it subscribed */
    uint8_t sub_addr[16]; /* listener: the address the proxy connects to */
    size_t sub_alen;      /* (its end is bound there when not loopback) */
} nsock_t;

_Atomic uint64_t shunt_net_bits[SHUNT_FDT_MAX / 64];
static nsock_t **chunks[NCHUNKS];
static atomic_flag table_lock = ATOMIC_FLAG_INIT;

static void tlock(atomic_flag *l)
{
    shunt_sig_block(); /* no handler may find it taken (sigblock.h) */
    while (atomic_flag_test_and_set_explicit(l, memory_order_acquire))
        __builtin_ia32_pause();
}
static void tunlock(atomic_flag *l)
{
    atomic_flag_clear_explicit(l, memory_order_release);
    shunt_sig_unblock();
}

/* Bumped before every fork and exec (the new process may hold the
 * listener too): a subscription older than the last bump is released by
 * the proxy when the session group ends, never by one process's close. */
static _Atomic unsigned shunt_net_shares;

static void incoming_unsub(nsock_t *s);

static void ns_unref(nsock_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->sub)
        incoming_unsub(s);
    free(s->ur);
    free(s);
}

static nsock_t *ns_new(int family, int type)
{
    nsock_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    atomic_init(&s->refs, 1);
    atomic_flag_clear(&s->lock);
    s->family = family;
    s->type = type;
    return s;
}

static void bit_set(int fd, int on)
{
    uint64_t m = 1ull << (fd & 63);
    if (on)
        atomic_fetch_or(&shunt_net_bits[fd >> 6], m);
    else
        atomic_fetch_and(&shunt_net_bits[fd >> 6], ~m);
}

static nsock_t *ns_get(int fd)
{
    if (!shunt_net_is_ours(fd))
        return NULL;
    tlock(&table_lock);
    nsock_t **c = chunks[fd / CHUNK];
    nsock_t *s = c ? c[fd % CHUNK] : NULL;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    tunlock(&table_lock);
    return s;
}

/* fd -> s (a new reference; s may be NULL to remove). */
static int ns_set(int fd, nsock_t *s)
{
    if (fd < 0 || fd >= SHUNT_FDT_MAX)
        return -EBADF;
    tlock(&table_lock);
    nsock_t **c = chunks[fd / CHUNK];
    if (!c && s) {
        c = calloc(CHUNK, sizeof(*c));
        if (!c) {
            tunlock(&table_lock);
            return -ENOMEM;
        }
        chunks[fd / CHUNK] = c;
    }
    nsock_t *old = c ? c[fd % CHUNK] : NULL;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    if (c)
        c[fd % CHUNK] = s;
    bit_set(fd, s != NULL);
    tunlock(&table_lock);
    ns_unref(old);
    return 0;
}

void shunt_net_forget(int fd)
{
    if (shunt_net_is_ours(fd)) {
        int e = errno;
        ns_set(fd, NULL);
        errno = e;
    }
}

void shunt_net_dup(int oldfd, int newfd)
{
    int e = errno;
    nsock_t *s = ns_get(oldfd);
    if (s || shunt_net_is_ours(newfd))
        ns_set(newfd, s);
    ns_unref(s);
    errno = e;
}

void shunt_net_drop_range(unsigned first, unsigned last)
{
    int e = errno;
    for (unsigned fd = first; fd <= last && fd < SHUNT_FDT_MAX; fd++) {
        uint64_t w = atomic_load_explicit(&shunt_net_bits[fd >> 6],
                                          memory_order_relaxed);
        if (!w) {
            fd |= 63;
            continue;
        }
        if ((w >> (fd & 63)) & 1u &&
            LSYS3(SYS_fcntl, fd, F_GETFD, 0) == -EBADF)
            ns_set((int)fd, NULL);
        if (fd == last)
            break;
    }
    errno = e;
}

static void net_atfork_child(void) { atomic_flag_clear(&table_lock); }

void shunt_net_shared(void)
{
    atomic_fetch_add(&shunt_net_shares, 1);
}

__attribute__((constructor)) static void net_ctor(void)
{
    pthread_atfork(shunt_net_shared, NULL, net_atfork_child);
}

/* ---- names the program resolved (layer/dns.c provides the real one) ----- */
__attribute__((weak)) const char *layer_dns_name_of(const struct sockaddr *sa,
                                                    char *buf, size_t len)
{
    (void)sa;
    (void)buf;
    (void)len;
    return NULL;
}

/* ---- addresses ---------------------------------------------------------- */
typedef shunt_naddr_t naddr_t; /* policy/netaddr.c */

static const uint8_t loop4[4] = {127, 0, 0, 1};

/* The proxy's endpoint, as the socket's family can reach it. */
static socklen_t relay_addr(int sfamily, uint16_t port,
                            struct sockaddr_storage *out)
{
    return shunt_sockaddr_make(sfamily, loop4, 4, port, out);
}

/* The relay port when sa is 127.0.0.1:P (or ::ffff:127.0.0.1:P), else 0. */
static uint16_t relay_port_of(const struct sockaddr *sa, socklen_t len)
{
    naddr_t a;
    if (shunt_naddr_from(sa, len, &a) < 0 || a.family != AF_INET ||
        memcmp(a.addr, loop4, 4) != 0)
        return 0;
    return a.port;
}

/* Copies src into the program's (sa, *len) as the kernel would: truncated
 * to *len, *len set to the full size. */
static void sockaddr_out(const struct sockaddr_storage *src, socklen_t slen,
                         struct sockaddr *sa, socklen_t *len)
{
    if (!sa || !len)
        return;
    memcpy(sa, src, *len < slen ? *len : slen);
    *len = slen;
}

static const char *naddr_str(const naddr_t *a, char *buf, size_t n)
{
    if (!inet_ntop(a->family, a->addr, buf, (socklen_t)n))
        strcpy(buf, "?");
    return buf;
}

/* Kind of socket: SHUNT_NET_TCP, SHUNT_NET_UDP, or 0 (left alone: raw,
 * SCTP, ICMP "ping" sockets, not a socket). */
static int sock_kind(int fd, int *type_out)
{
    int type = 0, proto = 0;
    socklen_t l = sizeof(type);
    if (REAL(getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
        return 0;
    l = sizeof(proto);
    if (REAL(getsockopt, fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) < 0)
        proto = 0;
    if (type_out)
        *type_out = type;
    if (type == SOCK_STREAM && (proto == 0 || proto == IPPROTO_TCP))
        return SHUNT_NET_TCP;
    if (type == SOCK_DGRAM && (proto == 0 || proto == IPPROTO_UDP))
        return SHUNT_NET_UDP;
    return 0;
}

static int is_remote(int kind, const naddr_t *a, const struct sockaddr *sa)
{
    char buf[256];
    const char *name = NULL;
    if (shunt_layer.cfg.net.n) /* names matter only to rules */
        name = layer_dns_name_of(sa, buf, sizeof(buf));
    return shunt_policy_net_remote(&shunt_layer.pol, kind, a->family, a->addr,
                                   a->port, name);
}

/* ---- CONNECT through the proxy ------------------------------------------ */
typedef struct {
    uint16_t relay_port;
    int family;
    uint8_t local[16], peer[16];
    size_t local_len, peer_len;
    uint16_t local_port, peer_port;
    uint32_t stream;
} conn_t;

/* 0 with c filled, or -errno (the remote connect's errno; a broken proxy
 * link reads as ENETUNREACH, never as a success). */
static long rpc_connect(int socktype, const naddr_t *a, uint32_t timeout_ms,
                        conn_t *c)
{
    shunt_connect_t q = {.socktype = socktype,
                         .family = a->family,
                         .addr = shunt_bytes(a->addr,
                                             a->family == AF_INET ? 4 : 16),
                         .port = a->port,
                         .timeout_ms = timeout_ms};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_CONNECT, &q, &m);
    char buf[64];
    if (r < 0) {
        LOG_DEBUG("connect %s %s:%u: %s", socktype == SOCK_STREAM ? "tcp" : "udp",
                  naddr_str(a, buf, sizeof(buf)), a->port, ESTR((int)-r));
        return r == -EIO ? -ENETUNREACH : r;
    }
    const shunt_connect_r_t *cr = &m.u.connect_r;
    if (!cr->relay_port || cr->local_addr.len > 16 || cr->peer_addr.len > 16) {
        LOG_ERROR("connect: bad CONNECT_R (relay port %u)", cr->relay_port);
        return -ENETUNREACH;
    }
    memset(c, 0, sizeof(*c));
    c->relay_port = cr->relay_port;
    c->family = cr->family;
    memcpy(c->local, cr->local_addr.p, cr->local_addr.len);
    c->local_len = cr->local_addr.len;
    c->local_port = cr->local_port;
    memcpy(c->peer, cr->peer_addr.p, cr->peer_addr.len);
    c->peer_len = cr->peer_addr.len;
    c->peer_port = cr->peer_port;
    c->stream = cr->stream;
    LOG_DEBUG("connect %s %s:%u: relay 127.0.0.1:%u (stream %u)",
              socktype == SOCK_STREAM ? "tcp" : "udp",
              naddr_str(a, buf, sizeof(buf)), a->port, c->relay_port,
              cr->stream);
    return 0;
}

/* A UDP relay must take datagrams from the program's socket only (any
 * local process could send to its loopback port first and have the relay
 * take it as its peer): the socket is bound now if it is not (as its first
 * send would), and the proxy connects the relay to the address it will
 * send from (UDP_PEER).  A proxy without UDP_PEER (ENOSYS) keeps the first
 * sender, as before. */
static void udp_pin_peer(int fd, uint32_t stream)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (LSYS3(SYS_getsockname, fd, &ss, &sl) < 0)
        return;
    naddr_t a;
    if (shunt_naddr_from((struct sockaddr *)&ss, sl, &a) == 0 && a.port == 0) {
        struct sockaddr_storage any;
        memset(&any, 0, sizeof(any));
        any.ss_family = ss.ss_family;
        socklen_t al = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
        LSYS3(SYS_bind, fd, &any, al);
        sl = sizeof(ss);
        if (LSYS3(SYS_getsockname, fd, &ss, &sl) < 0)
            return;
    }
    if (shunt_naddr_from((struct sockaddr *)&ss, sl, &a) < 0 || !a.port)
        return;
    uint8_t ip[4] = {127, 0, 0, 1}; /* unbound/any: loopback to the relay */
    if (a.family == AF_INET && memcmp(a.addr, "\0\0\0\0", 4) != 0)
        memcpy(ip, a.addr, 4);
    shunt_udp_peer_t q = {.stream = stream, .addr = shunt_bytes(ip, 4),
                          .port = a.port};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_UDP_PEER, &q, &m);
    if (r < 0)
        LOG_DEBUG("udp: relay of stream %u not pinned: %s", stream,
                  ESTR((int)-r));
}

/* Puts a non-blocking TCP socket into the state of a refused connect: it
 * connects to a loopback port where nothing listens, so poll/epoll report
 * POLLOUT|POLLERR|POLLHUP as after a real failure. */
static void make_fail(int fd, int sfamily)
{
    long t = LSYS3(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t < 0)
        return;
    struct sockaddr_in in = {.sin_family = AF_INET};
    memcpy(&in.sin_addr, loop4, 4);
    socklen_t l = sizeof(in);
    if (LSYS3(SYS_bind, t, &in, sizeof(in)) == 0 &&
        LSYS3(SYS_getsockname, t, &in, &l) == 0) {
        struct sockaddr_storage ra;
        socklen_t rl = relay_addr(sfamily, ntohs(in.sin_port), &ra);
        LSYS3(SYS_connect, fd, &ra, rl);
    }
    LSYS1(SYS_close, t);
}

static uint32_t connect_timeout(int fd)
{
    struct timeval tv = {0};
    socklen_t l = sizeof(tv);
    uint32_t ms = 0;
    if (REAL(getsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &l) == 0)
        ms = (uint32_t)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
    uint32_t cap = shunt_layer.rpc_timeout_ms > 2000
                       ? (uint32_t)shunt_layer.rpc_timeout_ms - 1000
                       : 1000;
    if (ms > cap)
        ms = cap;
    return ms;
}

static long do_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    nsock_t *s = ns_get(fd);
    if (s) {
        tlock(&s->lock);
        int pe = s->pending_err;
        s->pending_err = 0;
        int relayed = s->relayed && s->type == SOCK_STREAM;
        uint16_t rp = s->relay_port;
        int fam = s->family;
        tunlock(&s->lock);
        if (pe) {
            ns_unref(s);
            return -pe;
        }
        if (relayed && sa->sa_family != AF_UNSPEC) {
            /* A second connect after EINPROGRESS: the kernel's answer
             * about the relay connection (EALREADY, EISCONN). */
            struct sockaddr_storage ra;
            socklen_t rl = relay_addr(fam, rp, &ra);
            ns_unref(s);
            LAYER_LEAVE();
            int r = REAL(connect, fd, (struct sockaddr *)&ra, rl);
            int e = errno;
            LAYER_ENTER();
            return r < 0 ? -e : 0;
        }
    }
    naddr_t a;
    int type = 0, kind = 0;
    if (sa->sa_family == AF_UNSPEC || shunt_naddr_from(sa, len, &a) < 0 ||
        !(kind = sock_kind(fd, &type)) || !is_remote(kind, &a, sa)) {
        /* Local: the kernel's connect (AF_UNSPEC dissolves a UDP
         * association: the relay is forgotten). */
        if (s) {
            tlock(&s->lock);
            s->relayed = 0;
            s->local_len = 0;
            tunlock(&s->lock);
        }
        ns_unref(s);
        LAYER_LEAVE();
        int r = REAL(connect, fd, sa, len);
        int e = errno;
        LAYER_ENTER();
        return r < 0 ? -e : 0;
    }
    int sfamily = sa->sa_family;
    int fl = REAL(fcntl, fd, F_GETFL, 0);
    int nonblock = fl >= 0 && (fl & O_NONBLOCK);
    conn_t c;
    uint32_t to = nonblock ? 0 : connect_timeout(fd);
    long r = rpc_connect(type, &a, to, &c);
    if (!s) {
        s = ns_new(sfamily, type);
        if (!s)
            return -ENOMEM;
    }
    /* A blocking TCP connect whose SO_SNDTIMEO ran out (the agent's timer
     * is the program's): the kernel returns EINPROGRESS then and goes on
     * in the background.  The remote attempt ended with the timer, so the
     * socket is left as a non-blocking connect that failed: ETIMEDOUT as
     * SO_ERROR, POLLERR. */
    int sndtimeo = !nonblock && to && r == -ETIMEDOUT;
    if (r < 0) {
        if ((!nonblock && !sndtimeo) || type != SOCK_STREAM) {
            ns_unref(s);
            return r;
        }
        /* Non-blocking: EINPROGRESS now, the error as SO_ERROR. */
        make_fail(fd, sfamily);
        tlock(&s->lock);
        s->pending_err = (int)-r;
        s->relayed = 0;
        tunlock(&s->lock);
        ns_set(fd, s);
        ns_unref(s);
        return -EINPROGRESS;
    }
    struct sockaddr_storage ra;
    socklen_t rl = relay_addr(sfamily, c.relay_port, &ra);
    long cr = LSYS3(SYS_connect, fd, &ra, rl);
    if (cr == 0 && type == SOCK_DGRAM)
        udp_pin_peer(fd, c.stream);
    if (cr < 0 && cr != -EINPROGRESS) {
        LOG_WARN("connect: relay 127.0.0.1:%u: %s", c.relay_port,
                 ESTR((int)-cr));
        ns_unref(s);
        return cr == -EINTR ? cr : -ECONNREFUSED;
    }
    tlock(&s->lock);
    s->family = sfamily;
    s->type = type;
    s->relayed = 1;
    s->relay_port = c.relay_port;
    s->pending_err = 0;
    s->peer_len = len > sizeof(s->peer) ? sizeof(s->peer) : len;
    memcpy(&s->peer, sa, s->peer_len);
    if (sfamily == AF_INET6)
        s->peer_len = sizeof(struct sockaddr_in6);
    else
        s->peer_len = sizeof(struct sockaddr_in);
    if (c.local_len == 4 || c.local_len == 16)
        s->local_len = shunt_sockaddr_make(sfamily, c.local, c.local_len,
                                     c.local_port, &s->local);
    else
        s->local_len = 0;
    tunlock(&s->lock);
    ns_set(fd, s);
    ns_unref(s);
    return cr < 0 ? cr : 0;
}

int hook_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    /* unix-socket paths listed by net_remote_unix: layer/unixsock.c */
    if (sa && len >= sizeof(sa_family_t) && sa->sa_family == AF_UNIX &&
        !LAYER_BYPASS())
        return shunt_unix_connect(fd, sa, len);
    if (LAYER_BYPASS() || !sa || len < sizeof(sa_family_t) ||
        (sa->sa_family != AF_INET && sa->sa_family != AF_INET6 &&
         !shunt_net_is_ours(fd)))
        return REAL(connect, fd, sa, len);
    int saved = errno;
    LAYER_ENTER();
    long r = do_connect(fd, sa, len);
    LAYER_LEAVE();
    return (int)layer_ret(r, saved);
}

/* ---- socket, bind ------------------------------------------------------- */
int hook_socket(int domain, int type, int protocol)
{
    int fd = REAL(socket, domain, type, protocol);
    if (__builtin_expect(fd >= 0 && shunt_net_is_ours(fd), 0))
        shunt_net_forget(fd); /* stale: closed behind the layer's back */
    return fd;
}

/* A bind to an address this host does not have (the target's own address,
 * typically, before a connect): remembered and reported by getsockname;
 * the kernel socket stays unbound until its connect. */
int hook_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    int r = REAL(bind, fd, sa, len);
    if (r == 0 || errno != EADDRNOTAVAIL || LAYER_BYPASS() || !sa)
        return r;
    int saved = errno;
    naddr_t a;
    int type = 0;
    if (shunt_naddr_from(sa, len, &a) < 0 || !sock_kind(fd, &type)) {
        errno = saved;
        return r;
    }
    LAYER_ENTER();
    nsock_t *s = ns_get(fd);
    if (!s)
        s = ns_new(sa->sa_family, type);
    if (s) {
        tlock(&s->lock);
        s->local_len = shunt_sockaddr_make(sa->sa_family, a.addr,
                                     a.family == AF_INET ? 4 : 16, a.port,
                                     &s->local);
        tunlock(&s->lock);
        ns_set(fd, s);
        ns_unref(s);
        char buf[64];
        LOG_DEBUG("bind %s:%u: not a local address; remembered for "
                  "getsockname", naddr_str(&a, buf, sizeof(buf)), a.port);
    }
    LAYER_LEAVE();
    if (!s) {
        errno = saved;
        return -1;
    }
    errno = 0;
    return 0;
}

/* ---- names and options -------------------------------------------------- */
static __attribute__((noinline, cold)) int
slow_getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
    nsock_t *s = ns_get(fd);
    struct sockaddr_storage tmp;
    socklen_t tl = sizeof(tmp);
    int r = REAL(getpeername, fd, (struct sockaddr *)&tmp, &tl);
    if (r < 0 || !s) {
        ns_unref(s);
        if (r == 0)
            sockaddr_out(&tmp, tl, sa, len);
        return r;
    }
    tlock(&s->lock);
    if (s->relayed || s->incoming)
        sockaddr_out(&s->peer, s->peer_len, sa, len);
    else
        sockaddr_out(&tmp, tl, sa, len);
    tunlock(&s->lock);
    ns_unref(s);
    return 0;
}

int hook_getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (__builtin_expect(!shunt_net_is_ours(fd), 1) || !sa || !len)
        return REAL(getpeername, fd, sa, len);
    return slow_getpeername(fd, sa, len);
}

static __attribute__((noinline, cold)) int
slow_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
    nsock_t *s = ns_get(fd);
    if (s) {
        tlock(&s->lock);
        if (s->local_len) {
            sockaddr_out(&s->local, s->local_len, sa, len);
            tunlock(&s->lock);
            ns_unref(s);
            return 0;
        }
        tunlock(&s->lock);
        ns_unref(s);
    }
    return REAL(getsockname, fd, sa, len);
}

int hook_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (__builtin_expect(!shunt_net_is_ours(fd), 1) || !sa || !len)
        return REAL(getsockname, fd, sa, len);
    return slow_getsockname(fd, sa, len);
}

static __attribute__((noinline, cold)) int
slow_so_error(int fd, void *val, socklen_t *len)
{
    nsock_t *s = ns_get(fd);
    int pe = 0;
    if (s) {
        tlock(&s->lock);
        pe = s->pending_err;
        s->pending_err = 0;
        tunlock(&s->lock);
        ns_unref(s);
    }
    int r = REAL(getsockopt, fd, SOL_SOCKET, SO_ERROR, val, len);
    if (r == 0 && pe && *len >= sizeof(int))
        memcpy(val, &pe, sizeof(int));
    return r;
}

int hook_getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
    if (__builtin_expect(!shunt_net_is_ours(fd), 1) || level != SOL_SOCKET ||
        opt != SO_ERROR || !val || !len)
        return REAL(getsockopt, fd, level, opt, val, len);
    return slow_so_error(fd, val, len);
}

/* ---- datagrams ---------------------------------------------------------- */
/* For a datagram (or TCP Fast Open) to dest on fd: 1 with *ra the relay to
 * send to instead, 0 to send as asked, -errno. */
static long dgram_route(int fd, const struct sockaddr *dest, socklen_t dlen,
                        struct sockaddr_storage *ra, socklen_t *ral)
{
    naddr_t a;
    if (shunt_naddr_from(dest, dlen, &a) < 0)
        return 0;
    nsock_t *s = ns_get(fd);
    int type = s ? s->type : 0, kind;
    if (s)
        kind = type == SOCK_STREAM ? SHUNT_NET_TCP
               : type == SOCK_DGRAM ? SHUNT_NET_UDP : 0;
    else
        kind = sock_kind(fd, &type);
    if (kind != SHUNT_NET_UDP || !is_remote(kind, &a, dest)) {
        ns_unref(s);
        return 0;
    }
    int sfamily = dest->sa_family;
    if (s) {
        tlock(&s->lock);
        for (size_t i = 0; i < s->nur; i++)
            if (s->ur[i].dest_len == dlen &&
                memcmp(&s->ur[i].dest, dest, dlen) == 0) {
                *ral = relay_addr(sfamily, s->ur[i].relay_port, ra);
                tunlock(&s->lock);
                ns_unref(s);
                return 1;
            }
        tunlock(&s->lock);
    }
    conn_t c;
    long r = rpc_connect(SOCK_DGRAM, &a, 0, &c);
    if (r < 0) {
        ns_unref(s);
        return r;
    }
    udp_pin_peer(fd, c.stream);
    if (!s) {
        s = ns_new(sfamily, type);
        if (!s)
            return -ENOMEM;
    }
    tlock(&s->lock);
    if (s->nur == s->capur) {
        size_t cap = s->capur ? s->capur * 2 : 4;
        urelay_t *v = cap <= MAX_UDP_RELAYS ? realloc(s->ur, cap * sizeof(*v))
                                            : NULL;
        if (!v) {
            tunlock(&s->lock);
            ns_unref(s);
            LOG_WARN("udp: more than %d destinations on fd %d",
                     MAX_UDP_RELAYS, fd);
            return -ENOBUFS;
        }
        s->ur = v;
        s->capur = cap;
    }
    urelay_t *u = &s->ur[s->nur++];
    u->relay_port = c.relay_port;
    u->dest_len = dlen > sizeof(u->dest) ? sizeof(u->dest) : dlen;
    memset(&u->dest, 0, sizeof(u->dest));
    memcpy(&u->dest, dest, u->dest_len);
    tunlock(&s->lock);
    ns_set(fd, s);
    ns_unref(s);
    *ral = relay_addr(sfamily, c.relay_port, ra);
    return 1;
}

static __attribute__((noinline, cold)) ssize_t
slow_sendto(int fd, const void *buf, size_t n, int flags,
            const struct sockaddr *sa, socklen_t len)
{
    int saved = errno;
    struct sockaddr_storage ra;
    socklen_t ral = 0;
    LAYER_ENTER();
    long r = dgram_route(fd, sa, len, &ra, &ral);
    LAYER_LEAVE();
    if (r < 0)
        return layer_ret(r, saved);
    if (r == 0)
        return REAL(sendto, fd, buf, n, flags, sa, len);
    return REAL(sendto, fd, buf, n, flags, (struct sockaddr *)&ra, ral);
}

ssize_t hook_sendto(int fd, const void *buf, size_t n, int flags,
                    const struct sockaddr *sa, socklen_t len)
{
    if (__builtin_expect(sa == NULL, 1) || LAYER_BYPASS())
        return REAL(sendto, fd, buf, n, flags, sa, len);
    return slow_sendto(fd, buf, n, flags, sa, len);
}

static __attribute__((noinline, cold)) ssize_t
slow_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    int saved = errno;
    struct sockaddr_storage ra;
    socklen_t ral = 0;
    LAYER_ENTER();
    long r = dgram_route(fd, msg->msg_name, msg->msg_namelen, &ra, &ral);
    LAYER_LEAVE();
    if (r < 0)
        return layer_ret(r, saved);
    if (r == 0)
        return REAL(sendmsg, fd, msg, flags);
    struct msghdr m = *msg;
    m.msg_name = &ra;
    m.msg_namelen = ral;
    return REAL(sendmsg, fd, &m, flags);
}

ssize_t hook_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (__builtin_expect(!msg || !msg->msg_name, 1) || LAYER_BYPASS())
        return REAL(sendmsg, fd, msg, flags);
    return slow_sendmsg(fd, msg, flags);
}

static __attribute__((noinline, cold)) int
slow_sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    /* Messages to remote destinations are sent one by one, each to its
     * relay (the kernel's sendmmsg would need every name rewritten). */
    unsigned int done = 0;
    for (; done < n; done++) {
        ssize_t r = hook_sendmsg(fd, &v[done].msg_hdr, flags);
        if (r < 0)
            return done ? (int)done : -1;
        v[done].msg_len = (unsigned int)r;
    }
    return (int)done;
}

int hook_sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    if (LAYER_BYPASS() || !v)
        return REAL(sendmmsg, fd, v, n, flags);
    for (unsigned int i = 0; i < n; i++)
        if (v[i].msg_hdr.msg_name)
            return slow_sendmmsg(fd, v, n, flags);
    return REAL(sendmmsg, fd, v, n, flags);
}

/* The source address of a datagram received on fd: a relay's address
 * becomes the remote peer it stands for.  (src, *slen) is rewritten in
 * place (src has room for a sockaddr_storage). */
static void map_source(int fd, struct sockaddr_storage *src, socklen_t *slen)
{
    uint16_t port = relay_port_of((struct sockaddr *)src, *slen);
    if (!port)
        return;
    nsock_t *s = ns_get(fd);
    if (!s)
        return;
    tlock(&s->lock);
    if (s->relayed && s->relay_port == port) {
        memcpy(src, &s->peer, s->peer_len);
        *slen = s->peer_len;
    } else {
        for (size_t i = 0; i < s->nur; i++)
            if (s->ur[i].relay_port == port) {
                memcpy(src, &s->ur[i].dest, s->ur[i].dest_len);
                *slen = s->ur[i].dest_len;
                break;
            }
    }
    tunlock(&s->lock);
    ns_unref(s);
}

static __attribute__((noinline, cold)) ssize_t
slow_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
              socklen_t *len)
{
    struct sockaddr_storage src;
    socklen_t sl = sizeof(src);
    ssize_t r = REAL(recvfrom, fd, buf, n, flags, (struct sockaddr *)&src, &sl);
    if (r < 0)
        return r;
    int e = errno;
    map_source(fd, &src, &sl);
    sockaddr_out(&src, sl, sa, len);
    errno = e;
    return r;
}

ssize_t hook_recvfrom(int fd, void *buf, size_t n, int flags,
                      struct sockaddr *sa, socklen_t *len)
{
    if (__builtin_expect(!shunt_net_is_ours(fd), 1) || !sa || !len)
        return REAL(recvfrom, fd, buf, n, flags, sa, len);
    return slow_recvfrom(fd, buf, n, flags, sa, len);
}

static void map_msg_name(int fd, struct msghdr *m, const void *orig,
                         socklen_t origlen, struct sockaddr_storage *src)
{
    socklen_t sl = m->msg_namelen;
    map_source(fd, src, &sl);
    m->msg_name = (void *)orig;
    m->msg_namelen = origlen;
    sockaddr_out(src, sl, m->msg_name, &m->msg_namelen);
}

static __attribute__((noinline, cold)) ssize_t
slow_recvmsg(int fd, struct msghdr *msg, int flags)
{
    void *orig = msg->msg_name;
    socklen_t origlen = msg->msg_namelen;
    struct sockaddr_storage src;
    msg->msg_name = &src;
    msg->msg_namelen = sizeof(src);
    ssize_t r = REAL(recvmsg, fd, msg, flags);
    int e = errno;
    if (r < 0) {
        msg->msg_name = orig;
        msg->msg_namelen = origlen;
    } else {
        map_msg_name(fd, msg, orig, origlen, &src);
    }
    errno = e;
    return r;
}

ssize_t hook_recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (__builtin_expect(!shunt_net_is_ours(fd), 1) || !msg || !msg->msg_name)
        return REAL(recvmsg, fd, msg, flags);
    return slow_recvmsg(fd, msg, flags);
}

static __attribute__((noinline, cold)) int
slow_recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags,
              struct timespec *tmo)
{
    socklen_t cap[64];
    if (n > 64)
        n = 64; /* a short batch is legal */
    for (unsigned int i = 0; i < n; i++)
        cap[i] = v[i].msg_hdr.msg_name ? v[i].msg_hdr.msg_namelen : 0;
    int r = REAL(recvmmsg, fd, v, n, flags, tmo);
    if (r <= 0)
        return r;
    int e = errno;
    for (int i = 0; i < r; i++) {
        struct msghdr *m = &v[i].msg_hdr;
        if (!cap[i])
            continue;
        struct sockaddr_storage src;
        socklen_t sl = m->msg_namelen < sizeof(src) ? m->msg_namelen
                                                    : (socklen_t)sizeof(src);
        memset(&src, 0, sizeof(src));
        memcpy(&src, m->msg_name, sl < cap[i] ? sl : cap[i]);
        map_source(fd, &src, &sl);
        m->msg_namelen = cap[i];
        sockaddr_out(&src, sl, m->msg_name, &m->msg_namelen);
    }
    errno = e;
    return r;
}

int hook_recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags,
                  struct timespec *tmo)
{
    if (__builtin_expect(!shunt_net_is_ours(fd), 1) || !v)
        return REAL(recvmmsg, fd, v, n, flags, tmo);
    return slow_recvmmsg(fd, v, n, flags, tmo);
}

/* ---- relays opened elsewhere (layer/unixsock.c) ------------------------- */
long shunt_net_note_peer(int fd, int family, int type,
                         const struct sockaddr *peer, socklen_t len)
{
    nsock_t *s = ns_get(fd);
    if (!s && !(s = ns_new(family, type)))
        return -ENOMEM;
    tlock(&s->lock);
    s->family = family;
    s->type = type;
    s->relayed = 1;
    s->relay_port = 0;
    s->pending_err = 0;
    s->peer_len = len > sizeof(s->peer) ? sizeof(s->peer) : len;
    memcpy(&s->peer, peer, s->peer_len);
    s->local_len = 0;
    tunlock(&s->lock);
    long r = ns_set(fd, s);
    ns_unref(s);
    return r;
}

/* ---- incoming traffic (docs/incoming.md) ---------------------------------
 * listen() on a TCP port the configuration selects subscribes the target's
 * port (INCOMING_SUB); the proxy delivers each incoming stream by
 * connecting to the program's own listener from loopback, so accept and
 * epoll stay the kernel's.  An accepted socket whose peer is loopback is
 * asked about (INCOMING_PEER) and, when it is an incoming stream, reports
 * the remote client as its peer and the target's address as its own. */
static const char *const in_modes[] = {"off", "mirror", "steal"};

static void incoming_unsub(nsock_t *s)
{
    /* Another process may hold the listener (a fork or exec since the
     * subscription): the proxy releases it when the session group ends. */
    if (atomic_load(&shunt_net_shares) != s->sub_gen ||
        shunt_state != SHUNT_STATE_ACTIVE || layer_vfork_child())
        return;
    shunt_incoming_unsub_t q = {.sub = s->sub};
    shunt_msg_t m;
    int saved = errno;
    LAYER_ENTER();
    long r = shunt_rpc(SHUNT_T_INCOMING_UNSUB, &q, &m);
    LAYER_LEAVE();
    if (r < 0)
        LOG_WARN("incoming: releasing the target's port %u: %s", s->sub_port,
                 ESTR((int)-r));
    else
        LOG_INFO("incoming: the target's port %u released", s->sub_port);
    errno = saved;
}

/* After the real listen succeeded on fd.  0, or -EADDRINUSE when another
 * session holds the port (the caller undoes the listen). */
static long incoming_listen(int fd)
{
    const shunt_incfg_t *in = &shunt_layer.cfg.incoming;
    nsock_t *s = ns_get(fd);
    if (s) {
        tlock(&s->lock);
        int had = s->sub_tried;
        tunlock(&s->lock);
        if (had) { /* a second listen (a new backlog): nothing new */
            ns_unref(s);
            return 0;
        }
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int type = 0, v6only = 0;
    shunt_inaddr_t la;
    if (sock_kind(fd, &type) != SHUNT_NET_TCP ||
        REAL(getsockname, fd, (struct sockaddr *)&ss, &sl) < 0) {
        ns_unref(s);
        return 0;
    }
    if (ss.ss_family == AF_INET6) {
        socklen_t ol = sizeof(v6only);
        if (REAL(getsockopt, fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol) < 0)
            v6only = 1;
    }
    unsigned rp;
    if (shunt_in_listen_addr((struct sockaddr *)&ss, sl, v6only, &la) < 0 ||
        !(rp = shunt_incoming_remote_port(in, la.port))) {
        ns_unref(s);
        return 0;
    }
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    uint32_t nf = 0;
    if (shunt_incoming_filter_applies(in, rp)) {
        for (size_t i = 0; i < in->nfilter; i++) {
            shunt_rec_hfilter_t r = {.kind = in->filter[i].kind,
                                     .nkids = in->filter[i].nkids,
                                     .value = shunt_str(in->filter[i].value)};
            shunt_put_rec_hfilter(&w, &r);
        }
        nf = (uint32_t)in->nfilter;
    }
    if (w.err) {
        shunt_wbuf_free(&w);
        ns_unref(s);
        LOG_WARN("incoming: port %u stays local: out of memory", la.port);
        return 0;
    }
    shunt_incoming_sub_t q = {
        .remote_port = (uint16_t)rp,
        .mode = (uint8_t)in->mode,
        .on_conflict = (uint8_t)in->on_conflict,
        .filter = {.count = nf, .p = w.data, .len = (uint32_t)w.len},
        .family = la.family,
        .local_addr = shunt_bytes(la.addr, la.family == AF_INET ? 4 : 16),
        .local_port = la.port};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_INCOMING_SUB, &q, &m);
    shunt_wbuf_free(&w);
    if (r == -EADDRINUSE) {
        ns_unref(s);
        shunt_notice("incoming: the target's port %u is held by another "
                     "session or another local port of this one "
                     "(on_conflict: refuse), so listen() on port %u "
                     "fails with EADDRINUSE; to take the port over, set "
                     "layer.network.incoming.on_conflict: replace "
                     "(net_incoming_conflict replace)", rp, la.port);
        return r;
    }
    if (r < 0)
        LOG_WARN("incoming: port %u stays local: the target's port %u could "
                 "not be taken (%s)", la.port, rp, ESTR((int)-r));
    if (!s && !(s = ns_new(ss.ss_family, SOCK_STREAM))) {
        /* Not remembered: released when the session group ends. */
        LOG_WARN("incoming: port %u: out of memory", la.port);
        return 0;
    }
    tlock(&s->lock);
    s->sub_tried = 1;
    if (r < 0) { /* a second listen does not try again */
        tunlock(&s->lock);
        ns_set(fd, s);
        ns_unref(s);
        return 0;
    }
    s->family = ss.ss_family;
    s->type = SOCK_STREAM;
    memcpy(s->sub_addr, la.addr, sizeof(la.addr));
    s->sub_alen = la.family == AF_INET ? 4 : 16;
    s->sub = m.u.incoming_sub_r.sub;
    s->sub_port = (uint16_t)rp;
    s->sub_gen = atomic_load(&shunt_net_shares);
    tunlock(&s->lock);
    ns_set(fd, s);
    ns_unref(s);
    LOG_INFO("incoming: local port %u takes the target's port %u (%s%s, "
             "sub %u)", la.port, rp, in_modes[in->mode % 3],
             nf ? " with a filter" : "", m.u.incoming_sub_r.sub);
    return 0;
}

static __attribute__((noinline, cold)) int slow_listen(int fd)
{
    int saved = errno;
    LAYER_ENTER();
    long r = incoming_listen(fd);
    if (r < 0) /* not listening after all: shutdown(SHUT_RD) undoes it */
        LSYS2(SYS_shutdown, fd, SHUT_RD);
    LAYER_LEAVE();
    return (int)layer_ret(r, saved);
}

int hook_listen(int fd, int backlog)
{
    int r = REAL(listen, fd, backlog);
    if (__builtin_expect(r < 0 || shunt_layer.cfg.incoming.mode ==
                                      SHUNT_INC_OFF, 1) ||
        LAYER_BYPASS())
        return r;
    return slow_listen(fd);
}

/* nfd was accepted from a subscribed listener of family sfamily with peer
 * (*peer, *plen): when it is an incoming stream, the entry is made and the
 * peer rewritten to the remote client. */
static void incoming_accepted(int nfd, int sfamily, const uint8_t *own,
                              size_t olen, struct sockaddr_storage *peer,
                              socklen_t *plen)
{
    uint16_t port = shunt_in_peer_port((struct sockaddr *)peer, *plen, own,
                                       olen);
    if (!port)
        return;
    shunt_incoming_peer_t q = {.port = port};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_INCOMING_PEER, &q, &m);
    if (r == -ENOENT)
        return; /* a local client of the listener */
    if (r < 0) {
        LOG_WARN("incoming: who is 127.0.0.1:%u: %s", port, ESTR((int)-r));
        return;
    }
    const shunt_incoming_peer_r_t *pr = &m.u.incoming_peer_r;
    nsock_t *s = ns_new(sfamily, SOCK_STREAM);
    if (!s)
        return;
    s->incoming = 1;
    s->peer_len = shunt_in_sockaddr(sfamily, pr->peer_addr.p,
                                    pr->peer_addr.len, pr->peer_port,
                                    &s->peer);
    s->local_len = shunt_in_sockaddr(sfamily, pr->local_addr.p,
                                     pr->local_addr.len, pr->local_port,
                                     &s->local);
    if (!s->peer_len) { /* an IPv6 client on an AF_INET socket */
        s->incoming = 0;
        LOG_DEBUG("incoming: fd %d: the client's address does not fit an "
                  "AF_INET socket; the proxy's is reported", nfd);
    } else {
        memcpy(peer, &s->peer, s->peer_len);
        *plen = s->peer_len;
    }
    ns_set(nfd, s);
    ns_unref(s);
}

static __attribute__((noinline, cold)) int
slow_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags, int four)
{
    nsock_t *s = ns_get(fd);
    uint32_t sub = 0;
    int sfamily = 0;
    uint8_t own[16];
    size_t olen = 0;
    if (s) {
        tlock(&s->lock);
        sub = s->sub;
        sfamily = s->family;
        olen = s->sub_alen;
        memcpy(own, s->sub_addr, sizeof(own));
        tunlock(&s->lock);
        ns_unref(s);
    }
    /* The kernel checks the program's (sa, len) itself: EFAULT, EINVAL. */
    if (!sub || LAYER_BYPASS() || (sa && (!len || (int)*len < 0)))
        return four ? REAL(accept4, fd, sa, len, flags)
                    : REAL(accept, fd, sa, len);
    struct sockaddr_storage peer;
    socklen_t pl = sizeof(peer);
    int nfd = four ? REAL(accept4, fd, (struct sockaddr *)&peer, &pl, flags)
                   : REAL(accept, fd, (struct sockaddr *)&peer, &pl);
    if (nfd < 0)
        return nfd;
    int saved = errno;
    LAYER_ENTER();
    incoming_accepted(nfd, sfamily, own, olen, &peer, &pl);
    LAYER_LEAVE();
    shunt_in_addr_out(&peer, pl, sa, len);
    errno = saved;
    return nfd;
}

int hook_accept(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (__builtin_expect(!shunt_net_is_ours(fd), 1))
        return REAL(accept, fd, sa, len);
    return slow_accept(fd, sa, len, 0, 0);
}

int hook_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    if (__builtin_expect(!shunt_net_is_ours(fd), 1))
        return REAL(accept4, fd, sa, len, flags);
    return slow_accept(fd, sa, len, flags, 1);
}
