/* Layer connections: accept, handshake, request intake, responses. */
#include "proxy_int.h"

#include "shunt/hello.h"
#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void hs_remove(shunt_proxy_t *p, pconn_t *c)
{
    if (c->authed || !c->hs_deadline)
        return;
    if (c->hs_prev)
        c->hs_prev->hs_next = c->hs_next;
    else
        p->hs_head = c->hs_next;
    if (c->hs_next)
        c->hs_next->hs_prev = c->hs_prev;
    else
        p->hs_tail = c->hs_prev;
    c->hs_prev = c->hs_next = NULL;
    c->hs_deadline = 0;
    if (!c->known)
        p->n_unauth--;
}

/* 1 when pid, or its parent, has an authenticated connection. */
static int peer_known(shunt_proxy_t *p, pid_t pid)
{
    pid_t ppid = 0;
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        const char *e = strrchr(buf, ')'); /* comm may hold spaces */
        if (e)
            sscanf(e + 1, " %*c %d", &ppid);
    }
    void *v;
    uint64_t k;
    for (size_t i = 0; pmap_next(&p->conns, &i, &k, &v);) {
        const pconn_t *o = v;
        if (o->authed && o->peer_pid > 0 &&
            (o->peer_pid == pid || o->peer_pid == ppid))
            return 1;
    }
    return 0;
}

/* Only this user (or root) may talk to the proxy's socket: the peer's
 * credentials are checked before a byte is read. */
static int peer_allowed(int fd, pid_t *pid, char *why, size_t len)
{
    struct ucred uc;
    socklen_t ul = sizeof(uc);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0) {
        snprintf(why, len, "SO_PEERCRED: %s", strerror(errno));
        return 0;
    }
    if (uc.uid != 0 && uc.uid != geteuid()) {
        snprintf(why, len, "peer pid %d uid %u is not this user (%u) or root",
                 (int)uc.pid, (unsigned)uc.uid, (unsigned)geteuid());
        return 0;
    }
    *pid = uc.pid;
    return 1;
}

void conn_accept(shunt_proxy_t *p)
{
    for (;;) {
        int fd = accept4(p->listen_ev.fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            LOG_WARN("accept: %s; pausing new connections for 100 ms",
                     strerror(errno));
            proxy_ev_set(p, &p->listen_ev, 0);
            p->accept_retry_at = shunt_now_ms() + 100;
            return;
        }
        char why[128];
        pid_t pid = 0;
        if (!peer_allowed(fd, &pid, why, sizeof(why))) {
            LOG_WARN("connection refused: %s", why);
            close(fd);
            continue;
        }
        conn_add(p, fd, pid, 0);
    }
}

/* A new connection (accepted, or received through a broker, brokered):
 * registered, waiting for its HELLO. */
void conn_add(shunt_proxy_t *p, int fd, pid_t pid, int brokered)
{
    int known = pid > 0 && peer_known(p, pid);
    if (!known && p->n_unauth >= PROXY_MAX_UNAUTH) {
        pconn_t *old = p->hs_head;
        while (old && old->known)
            old = old->hs_next;
        if (old)
            conn_close(p, old,
                       "no HELLO yet; dropped for a newer connection");
    }
    pconn_t *c = calloc(1, sizeof(*c));
    if (!c || shunt_rx_init(&c->rx, SHUNT_FRAME_MIN) < 0) {
        LOG_WARN("out of memory; refusing a connection");
        free(c);
        close(fd);
        return;
    }
    c->ev.kind = EV_CONN;
    c->ev.fd = fd;
    c->id = p->next_conn_id++;
    c->brokered = brokered;
    creds_of_peer(fd, &c->creds);
    shunt_wbuf_init(&c->tx);
    snprintf(c->name, sizeof(c->name), "conn %llu",
             (unsigned long long)c->id);
    if (pmap_put(&p->conns, c->id, c) < 0) {
        conn_free(c);
        return;
    }
    proxy_ev_set(p, &c->ev, EPOLLIN);
    c->hs_deadline = shunt_now_ms() + PROXY_HANDSHAKE_MS;
    c->hs_prev = p->hs_tail;
    if (p->hs_tail)
        p->hs_tail->hs_next = c;
    else
        p->hs_head = c;
    p->hs_tail = c;
    c->peer_pid = pid;
    c->known = known;
    if (!known)
        p->n_unauth++;
    LOG_DEBUG("%s: %s (uid %d)", c->name,
              brokered ? "received through a broker" : "accepted",
              (int)c->creds.uid);
}

void conn_free(pconn_t *c)
{
    if (c->ev.fd >= 0)
        close(c->ev.fd);
    for (int i = 0; i < c->nfds; i++)
        close(c->fds[i]);
    shunt_rx_free(&c->rx);
    shunt_wbuf_free(&c->tx);
    free(c);
}

static void close_list_remove(shunt_proxy_t *p, pconn_t *c)
{
    if (!c->closing)
        return;
    if (c->close_prev)
        c->close_prev->close_next = c->close_next;
    else if (p->close_head == c)
        p->close_head = c->close_next;
    if (c->close_next)
        c->close_next->close_prev = c->close_prev;
    else if (p->close_tail == c)
        p->close_tail = c->close_prev;
    c->close_prev = c->close_next = NULL;
}

void conn_close(shunt_proxy_t *p, pconn_t *c, const char *why)
{
    if (c->ev.dead)
        return;
    LOG_DEBUG("%s: closed (%s)", c->name, why);
    if (!c->authed && c->hs_deadline && strncmp(why, "no HELLO", 8) == 0)
        LOG_WARN("%s: %s", c->name, why);
    close_list_remove(p, c);
    hs_remove(p, c);
    pmap_del(&p->conns, c->id);
    if (c->sess)
        sess_detach(p, c->sess);
    c->sess = NULL;
    proxy_gc(p, &c->ev);
}

/* Sends what is queued (an ERROR) and then closes, within a grace period. */
static void conn_close_after_flush(shunt_proxy_t *p, pconn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->close_at = shunt_now_ms() + PROXY_CLOSE_GRACE_MS;
    c->close_prev = p->close_tail;
    if (p->close_tail)
        p->close_tail->close_next = c;
    else
        p->close_head = c;
    p->close_tail = c;
    proxy_mark_dirty(p, &c->ev);
}

void conn_expire(shunt_proxy_t *p, uint64_t now)
{
    while (p->hs_head && p->hs_head->hs_deadline <= now)
        conn_close(p, p->hs_head, "no HELLO within 5000 ms, dropped");
    while (p->close_head && p->close_head->close_at <= now)
        conn_close(p, p->close_head, "did not take its last answer");
}

void conn_send_error(shunt_proxy_t *p, pconn_t *c, uint64_t id, int err,
                     const char *msg)
{
    int rc = shunt_encode_error(&c->tx, id, err, msg,
                                c->max_frame ? c->max_frame : SHUNT_FRAME_MIN);
    if (rc < 0)
        LOG_WARN("%s: cannot queue an error answer: %s", c->name,
                 strerror(-rc));
    proxy_mark_dirty(p, &c->ev);
}

static void reject(shunt_proxy_t *p, pconn_t *c, uint64_t id, int err,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reject(shunt_proxy_t *p, pconn_t *c, uint64_t id, int err,
                   const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    LOG_WARN("%s: handshake refused: %s", c->name, msg);
    conn_send_error(p, c, id, err, msg);
    conn_close_after_flush(p, c);
}

void conn_send_frame(shunt_proxy_t *p, pconn_t *c, const uint8_t *frame,
                     size_t len, uint64_t id)
{
    if (len > c->max_frame) {
        conn_send_error(p, c, id, EMSGSIZE,
                        "answer exceeds the negotiated frame size");
        return;
    }
    size_t at = c->tx.len;
    if (shunt_wbuf_append(&c->tx, frame, len) < 0) {
        LOG_WARN("%s: out of memory queueing an answer", c->name);
        return;
    }
    shunt_frame_set_id(c->tx.data + at, id);
    proxy_mark_dirty(p, &c->ev);
}

void conn_response_done(shunt_proxy_t *p, pconn_t *c)
{
    if (c->npending > 0)
        c->npending--;
    proxy_mark_dirty(p, &c->ev);
}

/* A request the proxy answers itself: OK{n}, or ERROR{-n} with why. */
static void conn_answer(shunt_proxy_t *p, pconn_t *c, uint64_t id, int64_t n,
                        const char *why)
{
    if (n < 0) {
        conn_send_error(p, c, id, (int)-n, why);
        return;
    }
    shunt_ok_t ok = {.ret = n};
    if (shunt_encode(&c->tx, SHUNT_T_OK, 0, id, &ok, c->max_frame) < 0)
        LOG_WARN("%s: out of memory queueing an answer", c->name);
    proxy_mark_dirty(p, &c->ev);
}

static void conn_hello(shunt_proxy_t *p, pconn_t *c, int rc,
                       const uint8_t *frame, const shunt_msg_t *m)
{
    if (rc < 0 || m->type != SHUNT_T_HELLO) {
        reject(p, c, shunt_frame_id(frame), EPROTO,
               "expected HELLO as the first frame, got %s",
               rc == -EPROTO ? "a malformed frame"
               : shunt_msg_name(m->type) ? shunt_msg_name(m->type)
                                         : "an unknown type");
        return;
    }
    const shunt_hello_t *h = &m->u.hello;
    unsigned our_max = SHUNT_PROTO_VERSION_MAX;
    if (p->link_version && p->link_version < our_max)
        our_max = p->link_version;
    shunt_hello_want_t want = {
        .server = "proxy",
        .roles = SHUNT_ROLE_BIT(SHUNT_ROLE_LAYER) |
                 SHUNT_ROLE_BIT(SHUNT_ROLE_TOOL),
        /* A connection that came through a broker needs no token: the
         * broker is the capability. */
        .token = c->brokered ? NULL : p->layer_token,
        .token_len = c->brokered ? 0 : p->layer_token_len,
        .ver_max = (uint16_t)our_max,
        .max_frame = p->link_max,
    };
    shunt_hello_r_t r = {.server_pid = (uint32_t)getpid()};
    char msg[160];
    int err = shunt_hello_check(h, &want, &r, msg, sizeof(msg));
    if (err) {
        reject(p, c, m->id, err, "%s", msg);
        return;
    }
    uint32_t mf = r.max_frame;
    uint64_t sid;
    psess_t *s = sess_attach(p, h->session, h->parent_session,
                              h->role == SHUNT_ROLE_LAYER, &sid);
    if (!s) {
        reject(p, c, m->id, ENOMEM, "out of memory");
        return;
    }
    c->sess = s;
    hs_remove(p, c);
    c->authed = 1;
    c->max_frame = mf;
    c->rx.max_frame = mf;
    c->pid = h->pid;
    char name[16];
    shunt_str_copy(name, sizeof(name), h->name);
    snprintf(c->name, sizeof(c->name), "conn %llu (%s %u)",
             (unsigned long long)c->id, name, h->pid);
    r.session = sid;
    if (shunt_encode(&c->tx, SHUNT_T_HELLO_R, 0, m->id, &r, mf) < 0) {
        conn_close(p, c, "out of memory");
        return;
    }
    proxy_mark_dirty(p, &c->ev);
    LOG_DEBUG("%s: session %016llx", c->name, (unsigned long long)sid);
}

static void conn_on_frame(shunt_proxy_t *p, pconn_t *c, const uint8_t *frame,
                          size_t len)
{
    shunt_msg_t m;
    int rc = shunt_decode(frame, len, &m);
    if (!c->authed) {
        conn_hello(p, c, rc, frame, &m);
        return;
    }
    if (rc == -ENOSYS) {
        if (!(m.flags & SHUNT_FLAG_ONEWAY))
            conn_send_error(p, c, m.id, ENOSYS, "unknown message type");
        return;
    }
    if (rc < 0) {
        const char *name = shunt_msg_name(shunt_frame_type(frame));
        LOG_WARN("%s: malformed %s frame; closing the connection", c->name,
                 name ? name : "?");
        conn_close(p, c, "protocol error");
        return;
    }
    if (m.type == SHUNT_T_HELLO) {
        conn_send_error(p, c, m.id, EPROTO, "already greeted");
        return;
    }
    /* An answer is no request; stream traffic belongs to the relays. */
    if (!shunt_msg_is_request(m.type)) {
        LOG_WARN("%s: sent %s, which is not a request; closing the "
                 "connection",
                 c->name, shunt_msg_name(m.type));
        conn_close(p, c, "protocol error");
        return;
    }
    if (!atomic_load(&p->link_up)) {
        conn_send_error(p, c, m.id, EIO, "agent link lost");
        return;
    }
    if (m.type == SHUNT_T_FORK) { /* answered here (docs/proxy.md) */
        conn_answer(p, c, m.id,
                    sess_fork(p, c->sess, m.u.fork.child_session,
                              m.u.fork.handles.p, m.u.fork.handles.len),
                    "cannot register the child");
        return;
    }
    if (m.type == SHUNT_T_EXEC_CANCEL) { /* answered here (docs/proxy.md) */
        conn_answer(p, c, m.id,
                    sess_exec_cancel(p, c->sess, m.u.exec_cancel.child_session),
                    "no such pending session");
        return;
    }
    if (m.type == SHUNT_T_INOTIFY_OPEN) { /* answered here */
        uint32_t id = 0;
        int e = inotify_open(p, c, &id);
        conn_answer(p, c, m.id, e < 0 ? e : (int64_t)id,
                    "cannot take the inotify fds");
        return;
    }
    if (m.type == SHUNT_T_BROKER) { /* answered here, with a socket */
        broker_request(p, c, m.id);
        return;
    }
    if ((m.type == SHUNT_T_WATCH_ADD &&
         !inotify_known(p, m.u.watch_add.inst)) ||
        (m.type == SHUNT_T_WATCH_RM && !inotify_known(p, m.u.watch_rm.inst)) ||
        m.type == SHUNT_T_WATCH_CLOSE) {
        conn_send_error(p, c, m.id, EBADF, "no such inotify instance");
        return;
    }
    if (m.type == SHUNT_T_UDP_PEER) { /* answered here */
        conn_answer(p, c, m.id,
                    stream_udp_peer(p, c->sess->root, m.u.udp_peer.stream,
                                    m.u.udp_peer.addr.p, m.u.udp_peer.addr.len,
                                    m.u.udp_peer.port),
                    "no such UDP stream");
        return;
    }
    if (m.type == SHUNT_T_INCOMING_PEER) { /* answered here */
        const pinpeer_t *in = stream_incoming_peer(p, m.u.incoming_peer.port);
        if (!in) {
            conn_send_error(p, c, m.id, ENOENT, "not an incoming stream");
            return;
        }
        shunt_incoming_peer_r_t r = {
            .sub = in->sub,
            .flags = in->flags,
            .family = in->family,
            .peer_addr = shunt_bytes(in->peer, in->peer_len),
            .peer_port = in->peer_port,
            .local_addr = shunt_bytes(in->local, in->local_len),
            .local_port = in->local_port};
        if (shunt_encode(&c->tx, SHUNT_T_INCOMING_PEER_R, 0, m.id, &r,
                         c->max_frame) < 0)
            LOG_WARN("%s: out of memory queueing an answer", c->name);
        proxy_mark_dirty(p, &c->ev);
        return;
    }
    if (m.type == SHUNT_T_INCOMING_UNSUB) {
        int err = 0;
        if (!incoming_unsub_request(p, c, m.u.incoming_unsub.sub, &err)) {
            /* unknown, or other listeners of the group still use it */
            conn_answer(p, c, m.id, err ? -err : 0, "no such subscription");
            return;
        }
    }
    if (m.type == SHUNT_T_CLOSE &&
        !sess_close_request(p, c->sess, m.u.close.handle)) {
        /* Another process still holds it: released here, not closed. */
        conn_answer(p, c, m.id, 0, NULL);
        return;
    }
    if ((rc = creds_before_request(p, c)) < 0) {
        conn_send_error(p, c, m.id, -rc, "the agent cannot serve this user");
        return;
    }
    if (m.type == SHUNT_T_INCOMING_SUB)
        rc = incoming_sub_request(p, c, frame, len, &m);
    else
        rc = proxy_forward_request(p, c, frame, len, &m);
    if (rc < 0)
        conn_send_error(p, c, m.id, -rc, "proxy cannot forward the request");
}

void conn_on_event(shunt_proxy_t *p, pconn_t *c, uint32_t events)
{
    if (events & EPOLLOUT)
        proxy_mark_dirty(p, &c->ev);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    if (c->closing) {
        if (events & (EPOLLHUP | EPOLLERR))
            conn_close(p, c, "hung up");
        return;
    }
    for (int rounds = 0; rounds < 8; rounds++) {
        ssize_t n = shunt_rx_fill_fds(&c->rx, c->ev.fd, c->fds,
                                      (int)SHUNT_ARRAY_LEN(c->fds), &c->nfds);
        if (n == -EAGAIN)
            break;
        if (n == 0) {
            conn_close(p, c, "end of file");
            return;
        }
        if (n < 0) {
            conn_close(p, c, strerror((int)-n));
            return;
        }
        const uint8_t *f;
        size_t len;
        int r = 0;
        while (!c->ev.dead && !c->closing &&
               (r = shunt_rx_frame(&c->rx, &f, &len)) == 1) {
            conn_on_frame(p, c, f, len);
            shunt_rx_consume(&c->rx, len);
        }
        if (c->ev.dead || c->closing)
            return;
        if (r == -EMSGSIZE) {
            LOG_WARN("%s: frame above the negotiated limit %u; closing the "
                     "connection",
                     c->name, c->rx.max_frame);
            conn_close(p, c, "oversize frame");
            return;
        }
        if (c->npending >= PROXY_CONN_MAX_PENDING)
            break; /* conn_sync stops reading until answers come */
        if (shunt_rx_drained(&c->rx))
            break; /* level-triggered: epoll says when there is more */
    }
    proxy_mark_dirty(p, &c->ev);
}

void conn_sync(shunt_proxy_t *p, pconn_t *c)
{
    int rc = shunt_tx_flush(&c->tx, c->ev.fd, PROXY_TX);
    if (rc < 0) {
        conn_close(p, c, strerror(-rc));
        return;
    }
    size_t pend = shunt_wbuf_pending(&c->tx);
    if (c->closing && pend == 0) {
        conn_close(p, c, "handshake refused");
        return;
    }
    uint32_t want = pend ? EPOLLOUT : 0;
    if (!c->closing && c->npending < PROXY_CONN_MAX_PENDING &&
        pend < PROXY_CONN_TX_HIGH)
        want |= EPOLLIN;
    proxy_ev_set(p, &c->ev, want);
}
