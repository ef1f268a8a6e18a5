/* Synchronous RPC to the proxy: one unix-socket connection per thread,
 * made on first use and handshaken with the session's ids.  A connection
 * is one end of a socketpair sent to the proxy over the session's broker
 * (SHUNT_BROKER, inherited across fork and exec; docs/proxy.md "Brokers"),
 * or, without a broker, a connect to the socket path with the token.  The
 * kernel stamps the socketpair with the credentials of the thread that
 * made it: after a change of credentials each thread makes a new one. */
#include "layer.h"

#include "shunt/frameio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>

#define MAX_CONNS 1024

typedef struct {
    int fd;
    unsigned gen;  /* creds_gen when it was made */
    uint32_t max_frame;
    uint64_t next_id;
    shunt_rx_t rx;
    size_t rx_used; /* bytes of the frame handed out last */
    shunt_wbuf_t tx;
} conn_t;

static conn_t *conns[MAX_CONNS];
static atomic_flag conns_lock = ATOMIC_FLAG_INIT;
static __thread int tl_slot __attribute__((tls_model("initial-exec"))) = -1;
static pthread_key_t conn_key;
static int conn_key_ok;
static _Atomic unsigned creds_gen;
extern char **environ;

void shunt_rpc_creds_changed(void) { atomic_fetch_add(&creds_gen, 1); }

static void lock(void)
{
    shunt_sig_block(); /* no handler may find it taken (sigblock.h) */
    while (atomic_flag_test_and_set_explicit(&conns_lock, memory_order_acquire))
        __builtin_ia32_pause();
}
static void unlock(void)
{
    atomic_flag_clear_explicit(&conns_lock, memory_order_release);
    shunt_sig_unblock();
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_free(conn_t *c, int close_fd)
{
    if (c->fd >= 0 && close_fd) {
        layer_fd_unprotect(c->fd);
        LSYS1(SYS_close, c->fd);
    }
    shunt_rx_free(&c->rx);
    shunt_wbuf_free(&c->tx);
    free(c);
}

/* close_fd = 0 when the fd is already gone (EBADF: the program closed it
 * with a raw syscall): its number may belong to the program by now. */
static void slot_drop(int slot, int close_fd)
{
    lock();
    conn_t *c = conns[slot];
    conns[slot] = NULL;
    unlock();
    if (!c)
        return;
    if (!close_fd)
        layer_fd_unprotect(c->fd);
    conn_free(c, close_fd);
}

static void thread_exit(void *v)
{
    int slot = (int)(intptr_t)v - 1;
    if (slot >= 0 && slot < MAX_CONNS)
        slot_drop(slot, 1);
    tl_slot = -1;
}

/* fds (nfds > 0) go with the frame's first byte, by SCM_RIGHTS; the rest
 * through shunt_tx_flush.  Blocking, with SO_SNDTIMEO: what is still
 * pending then is -EAGAIN. */
static int send_all(conn_t *c, const int *fds, int nfds)
{
    while (nfds > 0 && shunt_wbuf_pending(&c->tx)) {
        union {
            struct cmsghdr h;
            char b[CMSG_SPACE(4 * sizeof(int))];
        } cb;
        memset(&cb, 0, sizeof(cb));
        struct iovec iov = {c->tx.data + c->tx.head, shunt_wbuf_pending(&c->tx)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = cb.b,
                            .msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int))};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
        long n = LSYS3(SYS_sendmsg, c->fd, &mh, MSG_NOSIGNAL);
        if (n == -EINTR)
            continue;
        if (n < 0)
            return (int)n;
        c->tx.head += (size_t)n;
        nfds = 0;
    }
    int r = shunt_tx_flush(&c->tx, c->fd, SHUNT_TX_SOCKET);
    return r == 1 ? -EAGAIN : r;
}

/* Receives the next frame; decoded into *m (pointing into c->rx, valid
 * until the next receive).  The socket is blocking with SO_RCVTIMEO, so a
 * call costs one read in the common case (no poll): the answer is usually
 * one frame that arrives whole. */
static int recv_frame(conn_t *c, shunt_msg_t *m, int64_t deadline)
{
    if (c->rx_used) { /* drop the frame handed out last time */
        shunt_rx_consume(&c->rx, c->rx_used);
        c->rx_used = 0;
    }
    const uint8_t *f;
    size_t len;
    int r;
    while ((r = shunt_rx_frame(&c->rx, &f, &len)) == 0) {
        ssize_t n = shunt_rx_fill(&c->rx, c->fd);
        if (n == -EAGAIN) {
            if (now_ms() >= deadline)
                return -ETIMEDOUT;
            continue;
        }
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -ECONNRESET;
    }
    if (r < 0)
        return r;
    c->rx_used = len;
    return shunt_decode(f, len, m);
}

/* A new connection through the broker: one end of a fresh socketpair sent
 * in one message (SCM_RIGHTS); no answer comes on the broker. */
static long broker_connect(int *out)
{
    int sv[2];
    long r = LSYS4(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    if (r < 0)
        return r;
    int bk = __atomic_load_n(&shunt_layer.broker_fd, __ATOMIC_ACQUIRE);
    r = shunt_send_fd(bk, "c", 1, sv[1], MSG_NOSIGNAL);
    LSYS1(SYS_close, sv[1]);
    if (r < 0) {
        LSYS1(SYS_close, sv[0]);
        return r;
    }
    *out = sv[0];
    return 0;
}

static long path_connect(int fd)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, shunt_layer.socket_path, sizeof(sun.sun_path));
    long r;
    do
        r = LSYS3(SYS_connect, fd, &sun, sizeof(sun));
    while (r == -EINTR);
    return r;
}

static conn_t *conn_open(void)
{
    conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fd = -1;
    c->gen = atomic_load(&creds_gen);
    c->max_frame = SHUNT_FRAME_DEFAULT;
    shunt_rx_init_small(&c->rx, c->max_frame);
    shunt_wbuf_init(&c->tx);
    int brokered = shunt_layer.broker_fd >= 0;
    int fd = -1;
    long r = brokered ? broker_connect(&fd) : 0;
    if (r < 0 && shunt_layer.token_len) {
        /* The broker is gone (a program that closes every fd with raw
         * calls): the path and the token, kept in this process's memory,
         * still reach the session as long as the process may reach the
         * path. */
        static int said;
        if (!said++)
            LOG_WARN("rpc: broker fd %d: %s: connecting with the path",
                     shunt_layer.broker_fd, ESTR((int)-r));
        brokered = 0;
    }
    if (!brokered)
        fd = (int)(r = LSYS3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (r < 0) {
        LOG_ERROR("rpc: %s: %s", brokered ? "broker" : "socket", ESTR((int)-r));
        conn_free(c, 0);
        return NULL;
    }
    c->fd = layer_fd_protect(fd, &c->fd);
    struct timeval tv = {.tv_sec = shunt_layer.rpc_timeout_ms / 1000,
                         .tv_usec = (shunt_layer.rpc_timeout_ms % 1000) * 1000};
    LSYS5(SYS_setsockopt, c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    LSYS5(SYS_setsockopt, c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (!brokered && (r = path_connect(c->fd)) < 0) {
        LOG_ERROR("rpc: connect %s: %s", shunt_layer.socket_path,
                  ESTR((int)-r));
        static int said;
        if ((r == -EACCES || r == -EPERM) && !said) {
            /* the session's socket is root's (a 0700 directory): without a
             * broker, a program that dropped root cannot reach it */
            said = 1;
            char msg[256];
            int n = snprintf(msg, sizeof(msg),
                             "shunt: uid %d cannot reach the session socket (%s) "
                             "and has no broker: its remote calls fail with EIO\n",
                             (int)LSYS0(SYS_geteuid), ESTR((int)-r));
            if (n > 0)
                LSYS3(SYS_write, 2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
        }
        conn_free(c, 1);
        return NULL;
    }
    shunt_hello_t hello = {
        .magic = SHUNT_MAGIC,
        .ver_min = SHUNT_PROTO_VERSION_MIN,
        .ver_max = SHUNT_PROTO_VERSION_MAX,
        .role = SHUNT_ROLE_LAYER,
        .token = shunt_bytes(shunt_layer.token,
                             brokered ? 0 : (uint32_t)shunt_layer.token_len),
        .pid = (uint32_t)LSYS0(SYS_getpid),
        .ppid = (uint32_t)LSYS0(SYS_getppid),
        .session = shunt_layer.session,
        .parent_session = shunt_layer.parent_session,
        .max_frame = SHUNT_FRAME_DEFAULT,
        .name = shunt_str(shunt_layer.progname),
    };
    shunt_msg_t m;
    int64_t deadline = now_ms() + shunt_layer.rpc_timeout_ms;
    if (shunt_encode(&c->tx, SHUNT_T_HELLO, 0, 1, &hello, c->max_frame) < 0 ||
        (r = send_all(c, NULL, 0)) < 0 || (r = recv_frame(c, &m, deadline)) < 0) {
        LOG_ERROR("rpc: handshake with %s failed: %s", shunt_layer.socket_path,
                  ESTR((int)-r));
        conn_free(c, 1);
        return NULL;
    }
    if (m.type != SHUNT_T_HELLO_R) {
        char msg[256] = "";
        if (m.type == SHUNT_T_ERROR)
            shunt_str_copy(msg, sizeof(msg), m.u.error.msg);
        LOG_ERROR("rpc: handshake refused by %s: %s (%s)",
                  shunt_layer.socket_path,
                  m.type == SHUNT_T_ERROR ? ESTR(m.u.error.err) : "bad answer",
                  msg);
        conn_free(c, 1);
        return NULL;
    }
    c->max_frame = m.u.hello_r.max_frame;
    shunt_rx_set_max_frame(&c->rx, c->max_frame);
    c->next_id = 2;
    LOG_DEBUG("rpc: connected to %s (fd %d, session %016llx, max_frame %u)",
              shunt_layer.socket_path, c->fd,
              (unsigned long long)shunt_layer.session, c->max_frame);
    return c;
}

static conn_t *conn_get(void)
{
    int slot = tl_slot;
    if (slot >= 0) {
        conn_t *c = conns[slot];
        if (c && c->gen == atomic_load(&creds_gen))
            return c;
        if (c) {
            /* The credentials changed: a new connection, stamped with the
             * new ones, is made before the old one goes (the proxy ends a
             * session with its last connection).  Without it the call
             * fails: the old one would be served as the old user. */
            conn_t *n = conn_open();
            if (!n)
                return NULL;
            lock();
            conns[slot] = n;
            unlock();
            conn_free(c, 1);
            LOG_DEBUG("rpc: new connection after a change of credentials "
                      "(uid %d)", (int)LSYS0(SYS_geteuid));
            return n;
        }
    }
    conn_t *c = conn_open();
    if (!c)
        return NULL;
    lock();
    if (slot < 0 || conns[slot]) {
        for (slot = 0; slot < MAX_CONNS && conns[slot]; slot++)
            ;
    }
    if (slot >= MAX_CONNS) {
        unlock();
        LOG_ERROR("rpc: more than %d threads with connections", MAX_CONNS);
        conn_free(c, 1);
        return NULL;
    }
    conns[slot] = c;
    unlock();
    tl_slot = slot;
    if (conn_key_ok)
        pthread_setspecific(conn_key, (void *)(intptr_t)(slot + 1));
    return c;
}

int shunt_rpc_connect(void)
{
    shunt_sig_block();
    int r = conn_get() ? 0 : -EIO;
    shunt_sig_unblock();
    return r;
}

int shunt_rpc_has_conn(void)
{
    conn_t *c = tl_slot >= 0 ? conns[tl_slot] : NULL;
    return c && LSYS3(SYS_fcntl, c->fd, F_GETFD, 0) >= 0;
}

uint32_t shunt_rpc_data_max(void)
{
    conn_t *c = conn_get();
    uint32_t mf = c ? c->max_frame : SHUNT_FRAME_MIN;
    return SHUNT_DATA_MAX(mf) - 64;
}

static long rpc_call(uint16_t type, const void *body, shunt_msg_t *out,
                     const int *fds, int nfds);

/* The thread's connection is mid-request until the answer is read: no
 * handler may run in between (it would make its own request on it). */
long shunt_rpc(uint16_t type, const void *body, shunt_msg_t *out)
{
    layer_hold();
    shunt_sig_block();
    long r = rpc_call(type, body, out, NULL, 0);
    shunt_sig_unblock();
    return r;
}

long shunt_rpc_fds(uint16_t type, const void *body, const int *fds, int nfds,
                   shunt_msg_t *out)
{
    if (nfds < 0 || nfds > 4)
        return -EINVAL;
    layer_hold();
    shunt_sig_block();
    long r = rpc_call(type, body, out, fds, nfds);
    shunt_sig_unblock();
    return r;
}

static long rpc_call(uint16_t type, const void *body, shunt_msg_t *out,
                     const int *fds, int nfds)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        conn_t *c = conn_get();
        if (!c)
            return -EIO;
        uint64_t id = c->next_id++;
        shunt_wbuf_reset(&c->tx);
        int r = shunt_encode(&c->tx, type, 0, id, body, c->max_frame);
        if (r < 0) {
            LOG_ERROR("rpc: cannot encode %s: %s", shunt_msg_name(type),
                      ESTR(-r));
            return r == -EMSGSIZE ? -ENAMETOOLONG : -EIO;
        }
        r = send_all(c, fds, nfds);
        if (r < 0) {
            /* Nothing was served: the connection broke (the program closed
             * it behind our back, the proxy restarted): reconnect once. */
            LOG_WARN("rpc: send %s: %s; reconnecting", shunt_msg_name(type),
                     ESTR(-r));
            slot_drop(tl_slot, r != -EBADF && r != -ENOTSOCK);
            continue;
        }
        int64_t deadline = now_ms() + shunt_layer.rpc_timeout_ms;
        do
            r = recv_frame(c, out, deadline);
        while (r == 0 && out->id != id); /* a stale answer: skip it */
        if (r < 0) {
            LOG_ERROR("rpc: %s: no answer: %s", shunt_msg_name(type),
                      ESTR(-r));
            slot_drop(tl_slot, r != -EBADF);
            return -EIO;
        }
        r = shunt_answer_check(type, out);
        if (r == 1) {
            int err = out->u.error.err;
            LOG_TRACE("rpc: %s -> %s", shunt_msg_name(type), ESTR(err));
            return -err;
        }
        if (r < 0) {
            LOG_ERROR("rpc: %s answered by %s", shunt_msg_name(type),
                      shunt_msg_name(out->type) ? shunt_msg_name(out->type)
                                                : "?");
            return -EIO;
        }
        if (out->type == SHUNT_T_OK)
            return out->u.ok.ret < 0 ? -EIO : out->u.ok.ret;
        return 0;
    }
    return -EIO;
}

static void rpc_key_init(void)
{
    if (pthread_key_create(&conn_key, thread_exit) == 0)
        conn_key_ok = 1;
}

void shunt_rpc_init(void) { rpc_key_init(); }

void shunt_rpc_fork_child(void)
{
    atomic_flag_clear(&conns_lock);
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i]) {
            conn_free(conns[i], 1); /* our copy of the parent's socket */
            conns[i] = NULL;
        }
    tl_slot = -1;
}

/* ---- the broker ---------------------------------------------------------- */

/* Reads the start of an answer with recvmsg, keeping the fd it carries. */
static int recv_fd(conn_t *c, int *fd, int64_t deadline)
{
    if (c->rx_used) { /* the HELLO_R handed out before */
        shunt_rx_consume(&c->rx, c->rx_used);
        c->rx_used = 0;
    }
    while (shunt_rx_buffered(&c->rx) < SHUNT_HDR_LEN) {
        int got[4], ngot = 0;
        ssize_t r = shunt_rx_fill_fds(&c->rx, c->fd, got, 4, &ngot);
        for (int i = 0; i < ngot; i++) {
            if (*fd < 0)
                *fd = got[i];
            else
                LSYS1(SYS_close, got[i]);
        }
        if (r == -EAGAIN) {
            if (now_ms() >= deadline)
                return -ETIMEDOUT;
            continue;
        }
        if (r < 0)
            return (int)r;
        if (r == 0)
            return -ECONNRESET;
    }
    return 0;
}

/* A broker from the proxy, asked for on a connection made with the path
 * and the token: from then on children need neither (they inherit the
 * broker).  -errno when the proxy has none to give (then the token stays,
 * in the layer's memory only). */
static int broker_ask(void)
{
    conn_t *c = conn_open();
    if (!c)
        return -EIO;
    shunt_broker_t q = {.flags = 0};
    int fd = -1;
    shunt_msg_t m;
    int64_t deadline = now_ms() + shunt_layer.rpc_timeout_ms;
    int r = shunt_encode(&c->tx, SHUNT_T_BROKER, 0, c->next_id++, &q,
                         c->max_frame);
    if (r >= 0)
        r = send_all(c, NULL, 0);
    if (r >= 0)
        r = recv_fd(c, &fd, deadline);
    if (r >= 0)
        r = recv_frame(c, &m, deadline);
    if (r >= 0 && m.type != SHUNT_T_OK)
        r = m.type == SHUNT_T_ERROR && m.u.error.err > 0 ? -m.u.error.err
                                                          : -EPROTO;
    if (r >= 0 && fd < 0)
        r = -EPROTO;
    conn_free(c, 1);
    if (r < 0) {
        if (fd >= 0)
            LSYS1(SYS_close, fd);
        return r;
    }
    return fd;
}

/* A broker is a unix SOCK_SEQPACKET socket: an inherited number that
 * names anything else (the program reused it) is not used. */
static int is_broker(int fd)
{
    int v = 0;
    socklen_t l = sizeof(v);
    if (LSYS5(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, &v, &l) < 0 ||
        v != AF_UNIX)
        return 0;
    l = sizeof(v);
    return LSYS5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &v, &l) == 0 &&
           v == SOCK_SEQPACKET;
}

/* environ names the broker's number: an exec the hooks do not see (go.c's
 * exec again, a raw syscall) passes it on right (children.c writes it
 * afresh for every other).  The array is the one libc sets again, so the
 * entry is replaced in place; called again when the broker moves
 * (layer_fd_evict: the program dup2()s onto its number). */
void shunt_rpc_broker_moved(int fd)
{
    static char var[32];
    snprintf(var, sizeof(var), "SHUNT_BROKER=%d", fd);
    int have = 0;
    for (size_t i = 0; environ && environ[i]; i++)
        if (strncmp(environ[i], "SHUNT_BROKER=", 13) == 0) {
            environ[i] = var;
            have = 1;
        }
    if (!have)
        LOG_DEBUG("rpc: no SHUNT_BROKER in environ: children get it from "
                  "the exec hooks");
}

int shunt_rpc_broker_init(const char *inherited)
{
    shunt_layer.broker_fd = -1;
    int fd = -1;
    if (inherited && *inherited) {
        char *end;
        long v = strtol(inherited, &end, 10);
        if (*end || v < 0 || v > 1 << 20 || !is_broker((int)v)) {
            LOG_ERROR("SHUNT_BROKER=%s is not a broker socket", inherited);
            return -EBADF;
        }
        fd = (int)v;
    } else if (shunt_layer.token_len) {
        fd = broker_ask();
        if (fd < 0) {
            LOG_WARN("rpc: no broker from %s (%s): connections use the path "
                     "and the token; a change of user loses the session",
                     shunt_layer.socket_path, ESTR(-fd));
            return fd;
        }
    } else {
        return -ENOENT;
    }
    /* At the top, protected like every layer fd, and kept across exec. */
    fd = layer_fd_protect(fd, &shunt_layer.broker_fd);
    LSYS3(SYS_fcntl, fd, F_SETFD, 0);
    __atomic_store_n(&shunt_layer.broker_fd, fd, __ATOMIC_RELEASE);
    shunt_rpc_broker_moved(fd);
    /* The token stays in this process's memory (never in the environment:
     * init.c took it out, and children get the broker only): a broker
     * closed under the layer is then replaced by the path (conn_open). */
    LOG_DEBUG("rpc: broker fd %d", fd);
    return 0;
}
