/* Outgoing connections under the supervisor (docs/supervisor.md).  A
 * connect to an address the policy sends through the target asks the
 * proxy for a stream (CONNECT) and then connects the program's own socket
 * to the proxy's loopback relay: the supervisor holds the very socket
 * (pidfd_getfd), so the program keeps its fd, its options and its
 * blocking mode, and the kernel does every read and write.  What the
 * kernel would then say about the relay (getpeername, getsockname, the
 * source of a datagram) is answered with the remote addresses. */
#include "sv.h"

#include "shunt/log.h"
#include "shunt/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t loop4[4] = {127, 0, 0, 1};

typedef shunt_naddr_t naddr_t;

/* The program's socket here, its inode and type; -errno. */
static int grab_socket(const sv_call_t *c, int fd, uint64_t *ino, int *type)
{
    int s = sv_getfd(c, fd);
    if (s < 0)
        return s;
    struct stat st;
    socklen_t tl = sizeof(*type);
    if (fstat(s, &st) < 0 || !S_ISSOCK(st.st_mode) ||
        getsockopt(s, SOL_SOCKET, SO_TYPE, type, &tl) < 0) {
        close(s);
        return -ENOTSOCK;
    }
    *ino = st.st_ino;
    return s;
}

/* The inode of the program's socket fd without taking it: 0 when fd is
 * not a socket. */
static uint64_t sock_ino(const sv_call_t *c, int fd)
{
    char link[64];
    if (sv_fdlink(c, fd, link, sizeof(link)) < 0 ||
        strncmp(link, "socket:[", 8) != 0)
        return 0;
    return strtoull(link + 8, NULL, 10);
}

static long read_addr(const sv_call_t *c, uint64_t addr, uint64_t len,
                      struct sockaddr_storage *ss)
{
    if (len < sizeof(sa_family_t) || len > sizeof(*ss))
        return -EINVAL;
    memset(ss, 0, sizeof(*ss));
    return sv_read(c, addr, ss, (size_t)len);
}

/* The relay of a remote stream: CONNECT through the proxy. */
static long rpc_connect(sv_call_t *c, int type, const naddr_t *a,
                        uint32_t timeout_ms, shunt_connect_r_t *out)
{
    shunt_connect_t q = {.socktype = type, .family = a->family,
                         .addr = shunt_bytes(a->addr,
                                             a->family == AF_INET ? 4 : 16),
                         .port = a->port, .timeout_ms = timeout_ms};
    shunt_msg_t m;
    long r = sv_rpc(c, SHUNT_T_CONNECT, &q, &m);
    if (r < 0)
        return r == -EIO ? -ENETUNREACH : r;
    if (!m.u.connect_r.relay_port || m.u.connect_r.local_addr.len > 16) {
        LOG_ERROR("connect: bad CONNECT_R (relay port %u)",
                  m.u.connect_r.relay_port);
        return -ENETUNREACH;
    }
    *out = m.u.connect_r;
    return 0;
}

/* A UDP relay takes datagrams from the program's socket only: the socket
 * is bound now if it is not, and the proxy is told its address. */
static void udp_pin(sv_call_t *c, int s, uint32_t stream)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    naddr_t a;
    if (getsockname(s, (void *)&ss, &sl) < 0 || shunt_naddr_from((const struct sockaddr *)&ss, sl, &a) < 0)
        return;
    if (a.port == 0) {
        struct sockaddr_storage any;
        memset(&any, 0, sizeof(any));
        any.ss_family = ss.ss_family;
        bind(s, (void *)&any, ss.ss_family == AF_INET6
                                  ? sizeof(struct sockaddr_in6)
                                  : sizeof(struct sockaddr_in));
        sl = sizeof(ss);
        if (getsockname(s, (void *)&ss, &sl) < 0 ||
            shunt_naddr_from((const struct sockaddr *)&ss, sl, &a) < 0 || !a.port)
            return;
    }
    uint8_t ip[4];
    memcpy(ip, loop4, 4);
    if (a.family == AF_INET && memcmp(a.addr, "\0\0\0\0", 4) != 0)
        memcpy(ip, a.addr, 4);
    shunt_udp_peer_t q = {.stream = stream, .addr = shunt_bytes(ip, 4),
                          .port = a.port};
    shunt_msg_t m;
    if (sv_rpc(c, SHUNT_T_UDP_PEER, &q, &m) < 0)
        LOG_DEBUG("udp: relay of stream %u not pinned", stream);
}

/* Puts a TCP socket into the state of a refused connect: a non-blocking
 * connect to a loopback port where nothing listens (poll then reports
 * POLLOUT|POLLERR|POLLHUP, as after a real failure). */
static void fail_socket(int s, int sfamily)
{
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t < 0)
        return;
    struct sockaddr_in in = {.sin_family = AF_INET};
    memcpy(&in.sin_addr, loop4, 4);
    socklen_t l = sizeof(in);
    if (bind(t, (void *)&in, sizeof(in)) == 0 &&
        getsockname(t, (void *)&in, &l) == 0) {
        close(t); /* the port is free again: nothing listens there */
        t = -1;
        int fl = fcntl(s, F_GETFL);
        fcntl(s, F_SETFL, fl | O_NONBLOCK);
        struct sockaddr_storage ra;
        socklen_t rl = shunt_sockaddr_make(sfamily, loop4, 4,
                                           ntohs(in.sin_port), &ra);
        connect(s, (void *)&ra, rl);
        fcntl(s, F_SETFL, fl);
    }
    if (t >= 0)
        close(t);
}

static int is_remote(int type, const naddr_t *a)
{
    int proto = type == SOCK_STREAM ? SHUNT_NET_TCP
                : type == SOCK_DGRAM ? SHUNT_NET_UDP
                                     : -1;
    if (proto < 0)
        return 0;
    return shunt_policy_net_remote(&sv.pol, proto, a->family, a->addr,
                                   a->port, NULL);
}

static long connect_remote(sv_call_t *c, int s, int type, const naddr_t *a,
                           const struct sockaddr_storage *ss, uint64_t ino);

/* A connect of a socket already connected (or connecting) through a relay
 * to the same peer: a program that calls connect() again until it says
 * EISCONN, or a call the kernel restarted although its answer had been
 * taken (a signal in the instant of the answer).  The kernel's own answer
 * for connecting it again to the same relay is the one the program would
 * get for its peer: EALREADY, 0 once established, then EISCONN.
 * SV_CONTINUE when the socket has no such relay. */
static long again_through_relay(int s, int type, uint64_t ino,
                                const struct sockaddr_storage *ss)
{
    sv_sock_t rec;
    if (!sv_sock_get(ino, &rec) || !rec.relay_port || !rec.peer_len ||
        memcmp(&rec.peer, ss, rec.peer_len) != 0)
        return SV_CONTINUE;
    struct sockaddr_storage p;
    socklen_t pl = sizeof(p);
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);
    int used = type == SOCK_STREAM
                   ? getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
                         ti.tcpi_state != TCP_CLOSE
                   : getpeername(s, (void *)&p, &pl) == 0;
    if (!used) /* a new socket with an old one's inode number */
        return SV_CONTINUE;
    struct sockaddr_storage ra;
    socklen_t rl = shunt_sockaddr_make(ss->ss_family, loop4, 4, rec.relay_port, &ra);
    return connect(s, (void *)&ra, rl) < 0 ? -errno : 0;
}

long sv_connect(sv_call_t *c)
{
    struct sockaddr_storage ss;
    long r = read_addr(c, c->a[1], c->a[2], &ss);
    if (r < 0)
        return r == -ESRCH ? r : SV_CONTINUE;
    naddr_t a;
    if (shunt_naddr_from((const struct sockaddr *)&ss, (socklen_t)c->a[2], &a) < 0)
        return SV_CONTINUE; /* AF_UNIX, AF_UNSPEC...: the kernel's */
    uint64_t ino;
    int type;
    int s = grab_socket(c, (int)c->a[0], &ino, &type);
    if (s < 0)
        return SV_CONTINUE;
    if (!is_remote(type, &a)) {
        close(s);
        return SV_CONTINUE;
    }
    r = again_through_relay(s, type, ino, &ss);
    if (r == SV_CONTINUE)
        r = connect_remote(c, s, type, &a, &ss, ino);
    close(s);
    return r;
}

/* The remote connection and the socket connected to its relay. */
static long connect_remote(sv_call_t *c, int s, int type, const naddr_t *a,
                           const struct sockaddr_storage *ss, uint64_t ino)
{
    long r;
    int fl = fcntl(s, F_GETFL);
    int nonblock = fl >= 0 && (fl & O_NONBLOCK);
    /* A blocking connect waits as long as the socket's SO_SNDTIMEO says
     * (the agent's timer is the program's), capped below the proxy's. */
    struct timeval tv = {0};
    socklen_t tl = sizeof(tv);
    uint32_t to = 0, cap = (uint32_t)sv.rpc_timeout_ms / 2;
    if (!nonblock && getsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, &tl) == 0)
        to = (uint32_t)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
    int sndtimeo = to != 0;
    if (!nonblock && (!to || to > cap))
        to = cap;
    shunt_connect_r_t cr;
    r = rpc_connect(c, type, a, to, &cr);
    if (r == -ETIMEDOUT && sndtimeo && type == SOCK_STREAM) {
        /* the kernel's blocking connect whose SO_SNDTIMEO ran out says
         * EINPROGRESS and goes on in the background; the remote attempt
         * ended with the timer, so the socket is left failed */
        fail_socket(s, ss->ss_family);
        return -EINPROGRESS;
    }
    if (r < 0)
        return r;
    sv_sock_t rec = {.family = ss->ss_family, .relay_port = cr.relay_port};
    memcpy(&rec.peer, ss, sizeof(*ss));
    rec.peer_len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                            : sizeof(struct sockaddr_in);
    if (cr.local_addr.len == 4 || cr.local_addr.len == 16)
        rec.local_len = shunt_sockaddr_make(ss->ss_family, cr.local_addr.p,
                                      cr.local_addr.len, cr.local_port,
                                      &rec.local);
    sv_sock_put(ino, &rec);
    struct sockaddr_storage ra;
    socklen_t rl = shunt_sockaddr_make(ss->ss_family, loop4, 4, cr.relay_port, &ra);
    r = connect(s, (void *)&ra, rl) < 0 ? -errno : 0;
    if (r == 0 && type == SOCK_DGRAM)
        udp_pin(c, s, cr.stream);
    if (r < 0 && r != -EINPROGRESS) {
        LOG_WARN("connect: relay 127.0.0.1:%u: %s", cr.relay_port,
                 strerror((int)-r));
        return r == -EINTR ? r : -ECONNREFUSED;
    }
    return r;
}

/* getpeername / getsockname of a relayed socket. */
static long name_common(sv_call_t *c, int peer)
{
    uint64_t ino = sock_ino(c, (int)c->a[0]);
    sv_sock_t rec;
    if (!ino || !sv_sock_get(ino, &rec))
        return SV_CONTINUE;
    const struct sockaddr_storage *src = peer ? &rec.peer : &rec.local;
    socklen_t slen = peer ? rec.peer_len : rec.local_len;
    if (!slen)
        return SV_CONTINUE;
    socklen_t len;
    long r = sv_read(c, c->a[2], &len, sizeof(len));
    if (r < 0)
        return r == -ESRCH ? r : -EFAULT;
    if ((int)len < 0)
        return -EINVAL;
    size_t n = len < slen ? len : slen;
    if ((r = sv_write(c, c->a[1], src, n)) < 0 ||
        (r = sv_write(c, c->a[2], &slen, sizeof(slen))) < 0)
        return r;
    return 0;
}

long sv_getpeername(sv_call_t *c) { return name_common(c, 1); }
long sv_getsockname(sv_call_t *c) { return name_common(c, 0); }

/* sendto(fd, buf, n, flags, dest, dlen) of a datagram to a remote address
 * on an unconnected socket (a resolver's query): sent by the supervisor,
 * from the program's own socket, to that destination's relay. */
long sv_sendto(sv_call_t *c)
{
    struct sockaddr_storage ss;
    long r = read_addr(c, c->a[4], c->a[5], &ss);
    if (r < 0)
        return r == -ESRCH ? r : SV_CONTINUE;
    naddr_t a;
    if (shunt_naddr_from((const struct sockaddr *)&ss, (socklen_t)c->a[5], &a) < 0)
        return SV_CONTINUE;
    uint64_t ino;
    int type;
    int s = grab_socket(c, (int)c->a[0], &ino, &type);
    if (s < 0)
        return SV_CONTINUE;
    if (type != SOCK_DGRAM || !is_remote(type, &a)) {
        close(s);
        return SV_CONTINUE;
    }
    size_t n = (size_t)c->a[2];
    if (n > 65535) {
        close(s);
        return -EMSGSIZE;
    }
    socklen_t dlen = (socklen_t)c->a[5];
    uint16_t port;
    if (!sv_dgram_relay(ino, &ss, dlen, &port)) {
        shunt_connect_r_t cr;
        if ((r = rpc_connect(c, SOCK_DGRAM, &a, 0, &cr)) < 0) {
            close(s);
            return r;
        }
        port = cr.relay_port;
        udp_pin(c, s, cr.stream);
        sv_dgram_relay_put(ino, &ss, dlen, port);
    }
    char *buf = malloc(n ? n : 1);
    if (!buf) {
        close(s);
        return -ENOMEM;
    }
    r = sv_read(c, c->a[1], buf, n);
    if (r >= 0) {
        struct sockaddr_storage ra;
        socklen_t rl = shunt_sockaddr_make(ss.ss_family, loop4, 4, port, &ra);
        ssize_t k = sendto(s, buf, n, (int)c->a[3] | MSG_DONTWAIT, (void *)&ra,
                           rl);
        r = k < 0 ? -errno : k;
    }
    free(buf);
    close(s);
    return r;
}

/* recvfrom(fd, buf, n, flags, src, srclen) on a relayed socket: received
 * here, so that the source is the remote address, not the relay's (a
 * resolver drops answers from anyone but its name server).  It waits as
 * the program's call would, until a signal comes for the thread
 * (sv_signal_due) or it is killed. */
long sv_recvfrom(sv_call_t *c)
{
    uint64_t ino = sock_ino(c, (int)c->a[0]);
    if (!ino || !sv_sock_known(ino))
        return SV_CONTINUE;
    uint64_t ino2;
    int type;
    int s = grab_socket(c, (int)c->a[0], &ino2, &type);
    if (s < 0)
        return SV_CONTINUE;
    if (type != SOCK_DGRAM) {
        close(s);
        return SV_CONTINUE;
    }
    int flags = (int)c->a[3];
    int fl = fcntl(s, F_GETFL);
    int nonblock = (fl >= 0 && (fl & O_NONBLOCK)) || (flags & MSG_DONTWAIT);
    size_t n = (size_t)c->a[2];
    if (n > 65536)
        n = 65536;
    char *buf = malloc(n ? n : 1);
    long r = buf ? 0 : -ENOMEM;
    struct sockaddr_storage from;
    socklen_t flen = 0;
    ssize_t got = -1;
    while (r == 0) {
        /* peek at the source first: a datagram that is not from a relay
         * of ours is left for the kernel to give */
        flen = sizeof(from);
        got = recvfrom(s, buf, n, flags | MSG_DONTWAIT | MSG_PEEK,
                       (void *)&from, &flen);
        if (got >= 0)
            break;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            r = -errno;
            break;
        }
        if (nonblock) {
            r = -EAGAIN;
            break;
        }
        struct pollfd pf = {.fd = s, .events = POLLIN};
        poll(&pf, 1, 50);
        if (!sv_valid(c))
            r = -ESRCH;
        else if (sv_signal_due(c))
            r = -ERESTARTSYS;
    }
    if (r == 0) {
        naddr_t a;
        struct sockaddr_storage dst;
        socklen_t dlen = 0;
        int mapped = shunt_naddr_from((const struct sockaddr *)&from, flen, &a) == 0 &&
                     a.family == AF_INET && memcmp(a.addr, loop4, 4) == 0 &&
                     sv_dgram_peer(ino2, a.port, &dst, &dlen);
        if (!mapped) {
            r = SV_CONTINUE;
        } else if (!(flags & MSG_PEEK) &&
                   recvfrom(s, buf, n, flags | MSG_DONTWAIT, NULL, NULL) < 0) {
            r = -errno;
        } else {
            socklen_t ulen;
            r = sv_read(c, c->a[5], &ulen, sizeof(ulen));
            if (r >= 0 &&
                (r = sv_write(c, c->a[1], buf, (size_t)got)) >= 0 &&
                (r = sv_write(c, c->a[4], &dst, ulen < dlen ? ulen : dlen)) >= 0 &&
                (r = sv_write(c, c->a[5], &dlen, sizeof(dlen))) >= 0)
                r = got;
        }
    }
    free(buf);
    close(s);
    return r;
}
