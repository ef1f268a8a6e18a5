/* Brokers and credentials.  A broker is a SOCK_SEQPACKET pair: the proxy
 * keeps one end, the layers of a session share the other (inherited at a
 * fixed number across fork and exec).  A layer opens a connection by making
 * a socketpair and sending one end over the broker (one message, one fd,
 * SCM_RIGHTS, no answer on the broker: processes that share it never mix
 * answers); the proxy takes that end as a new connection, which still
 * begins with HELLO but needs no token.  No path to reach, nothing secret
 * in the environment, and the session survives a change of user: the
 * process still holds the broker (docs/proxy.md "Brokers").
 *
 * The kernel stamps each end of a socketpair with the credentials of the
 * process that made it (SO_PEERCRED, SO_PEERGROUPS): the agent serves a
 * connection's file requests with those (CREDS before them), so a process
 * that dropped root gets the target's answer for its new user. */
#include "proxy_int.h"

#include "shunt/frameio.h"
#include "shunt/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

void creds_of_peer(int fd, pcreds_t *c)
{
    struct ucred uc;
    socklen_t ul = sizeof(uc);
    memset(c, 0, sizeof(*c));
    c->uid = PROXY_AS_AGENT;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0)
        return;
    if (uc.uid == 0 || uc.uid == geteuid())
        return; /* served as the agent, as always */
    c->uid = uc.uid;
    c->gid = uc.gid;
    gid_t g[PROXY_MAX_GROUPS];
    socklen_t gl = sizeof(g);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &gl) < 0) {
        /* ERANGE: more than we keep; served with its first ones (fewer
         * rights, never more) */
        LOG_WARN("SO_PEERGROUPS of uid %u: %s; served with %u group(s)",
                 (unsigned)uc.uid, strerror(errno), PROXY_MAX_GROUPS);
        gl = sizeof(g);
        if (errno != ERANGE)
            gl = 0;
    }
    c->ngroups = (uint32_t)(gl / sizeof(gid_t));
    for (uint32_t i = 0; i < c->ngroups; i++)
        c->groups[i] = g[i];
}

static int creds_same(const pcreds_t *a, const pcreds_t *b)
{
    if (a->uid != b->uid)
        return 0;
    if (a->uid == PROXY_AS_AGENT)
        return 1;
    return a->gid == b->gid && a->ngroups == b->ngroups &&
           memcmp(a->groups, b->groups, a->ngroups * sizeof(a->groups[0])) == 0;
}

int creds_before_request(shunt_proxy_t *p, const pconn_t *c)
{
    if (creds_same(&c->creds, &p->link_creds))
        return 0;
    if (p->creds_refused && c->creds.uid != PROXY_AS_AGENT)
        return -EACCES;
    uint8_t b[4 * PROXY_MAX_GROUPS];
    for (uint32_t i = 0; i < c->creds.ngroups; i++)
        for (int k = 0; k < 4; k++)
            b[4 * i + (uint32_t)k] = (uint8_t)(c->creds.groups[i] >> (8 * k));
    shunt_creds_t q = {.uid = c->creds.uid,
                       .gid = c->creds.gid,
                       .groups = shunt_bytes(b, 4 * c->creds.ngroups)};
    int rc = proxy_link_request(p, SHUNT_T_CREDS, &q);
    if (rc < 0)
        return rc;
    p->link_creds = c->creds;
    return 0;
}

int broker_new(shunt_proxy_t *p)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    pbroker_t *b = calloc(1, sizeof(*b));
    if (!b) {
        close(sv[0]);
        close(sv[1]);
        return -ENOMEM;
    }
    int fl = fcntl(sv[0], F_GETFL);
    fcntl(sv[0], F_SETFL, fl | O_NONBLOCK);
    b->ev.kind = EV_BROKER;
    b->ev.fd = sv[0];
    b->next = p->brokers;
    if (p->brokers)
        p->brokers->prev = b;
    p->brokers = b;
    proxy_ev_set(p, &b->ev, EPOLLIN);
    return sv[1];
}

static void broker_close(shunt_proxy_t *p, pbroker_t *b, const char *why)
{
    LOG_DEBUG("broker fd %d: closed (%s)", b->ev.fd, why);
    if (b->prev)
        b->prev->next = b->next;
    else
        p->brokers = b->next;
    if (b->next)
        b->next->prev = b->prev;
    b->prev = b->next = NULL;
    proxy_gc(p, &b->ev); /* freed in settle(), closed there */
}

/* One received fd: a connected unix stream socket, or nothing. */
static void broker_take(shunt_proxy_t *p, int fd)
{
    int dom = 0, type = 0, acc = 0;
    socklen_t l = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) < 0 || dom != AF_UNIX ||
        (l = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l)) < 0 ||
        type != SOCK_STREAM ||
        (l = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l)) < 0 ||
        acc) {
        LOG_WARN("broker: a descriptor that is not a connected unix stream "
                 "socket; closed");
        close(fd);
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    struct ucred uc = {0};
    socklen_t ul = sizeof(uc);
    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul);
    conn_add(p, fd, uc.pid, 1);
}

void broker_on_event(shunt_proxy_t *p, pbroker_t *b, uint32_t events)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        char byte;
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(4 * sizeof(int))];
        } cm;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = cm.buf,
                            .msg_controllen = sizeof(cm.buf)};
        ssize_t n = recvmsg(b->ev.fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (events & (EPOLLHUP | EPOLLERR))
                broker_close(p, b, "hung up");
            return;
        }
        if (n <= 0) {
            broker_close(p, b, n == 0 ? "every holder is gone" : strerror(errno));
            return;
        }
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
            if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
                continue;
            size_t nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < nfd; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
                if (i == 0)
                    broker_take(p, fd);
                else
                    close(fd); /* one connection per message */
            }
        }
    }
}

void broker_request(shunt_proxy_t *p, pconn_t *c, uint64_t id)
{
    /* The answer must carry the fd: everything queued before goes first. */
    if (shunt_tx_flush(&c->tx, c->ev.fd, PROXY_TX) != 0) {
        conn_send_error(p, c, id, EAGAIN, "answers still queued");
        return;
    }
    int fd = broker_new(p);
    if (fd < 0) {
        conn_send_error(p, c, id, -fd, "cannot make a broker");
        return;
    }
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    shunt_ok_t ok = {.ret = 0};
    if (shunt_encode(&w, SHUNT_T_OK, 0, id, &ok, c->max_frame) < 0) {
        close(fd);
        shunt_wbuf_free(&w);
        conn_send_error(p, c, id, ENOMEM, "out of memory");
        return;
    }
    long n = shunt_send_fd(c->ev.fd, w.data, w.len, fd,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd); /* the layer has its copy (or the send failed) */
    if (n < 0) {
        LOG_WARN("%s: cannot send a broker: %s", c->name, strerror((int)-n));
        conn_send_error(p, c, id, (int)-n, "cannot send the broker");
    } else if ((size_t)n < w.len) {
        shunt_wbuf_append(&c->tx, w.data + n, w.len - (size_t)n);
        proxy_mark_dirty(p, &c->ev);
    }
    LOG_DEBUG("%s: given a broker", c->name);
    shunt_wbuf_free(&w);
}

void broker_free_all(shunt_proxy_t *p)
{
    while (p->brokers) {
        pbroker_t *b = p->brokers;
        p->brokers = b->next;
        close(b->ev.fd);
        free(b);
    }
    if (p->broker_client_fd >= 0)
        close(p->broker_client_fd);
    p->broker_client_fd = -1;
}
