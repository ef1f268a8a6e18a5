/* Synchronous protocol client: connect, handshake, one call at a time. */
#include "shunt/client.h"
#include "shunt/frameio.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>

struct shunt_client {
    int fd;
    int timeout_ms;
    uint32_t max_frame;
    uint16_t version;
    uint64_t session;
    uint64_t next_id;
    shunt_rx_t rx;
    shunt_wbuf_t tx;
    size_t pending_consume; /* bytes of the last returned frame */
};

__attribute__((format(printf, 3, 4))) static void set_err(char *err,
                                                          size_t errlen,
                                                          const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int connect_with_timeout(int fd, const struct sockaddr *sa,
                                socklen_t len, int timeout_ms)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int r = connect(fd, sa, len);
    if (r < 0 && errno == EINPROGRESS) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int pr;
        do
            pr = poll(&pfd, 1, timeout_ms);
        while (pr < 0 && errno == EINTR);
        if (pr == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
            errno = soerr;
            return -1;
        }
        r = 0;
    }
    fcntl(fd, F_SETFL, fl);
    return r;
}

static int open_socket(const char *addr, int timeout_ms, char *err,
                       size_t errlen)
{
    const char *a = addr;
    int is_unix = 0;
    if (strncmp(a, "unix:", 5) == 0) {
        a += 5;
        is_unix = 1;
    } else if (strncmp(a, "tcp:", 4) == 0) {
        a += 4;
    } else if (a[0] == '/' || a[0] == '.') {
        is_unix = 1;
    }
    int fd;
    if (is_unix) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(a) >= sizeof(sun.sun_path)) {
            set_err(err, errlen, "unix socket path too long: %s", a);
            errno = ENAMETOOLONG;
            return -1;
        }
        strcpy(sun.sun_path, a);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect_with_timeout(fd, (struct sockaddr *)&sun,
                                           sizeof(sun), timeout_ms) < 0)
            goto fail;
        return fd;
    }
    /* HOST:PORT, numeric only: a client never resolves names. */
    char host[64];
    const char *colon = strrchr(a, ':');
    if (!colon || (size_t)(colon - a) >= sizeof(host)) {
        set_err(err, errlen, "bad address '%s' (want unix:PATH or HOST:PORT)",
                addr);
        errno = EINVAL;
        return -1;
    }
    memcpy(host, a, (size_t)(colon - a));
    host[colon - a] = 0;
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = 0;
        h++;
    }
    int port = atoi(colon + 1);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (port <= 0 || port > 65535) {
        set_err(err, errlen, "bad port in '%s'", addr);
        errno = EINVAL;
        return -1;
    }
    if (inet_pton(AF_INET, h, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sl = sizeof(*sin);
    } else if (inet_pton(AF_INET6, h, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*sin6);
    } else {
        set_err(err, errlen, "bad host in '%s' (numeric addresses only)",
                addr);
        errno = EINVAL;
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect_with_timeout(fd, (struct sockaddr *)&ss, sl,
                                       timeout_ms) < 0)
        goto fail;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
fail:;
    int e = errno;
    set_err(err, errlen, "connect to %s: %s", addr, strerror(e));
    if (fd >= 0)
        close(fd);
    errno = e;
    return -1;
}

static int send_frame(shunt_client_t *c, uint16_t type, uint16_t flags,
                      uint64_t id, const void *body)
{
    shunt_wbuf_reset(&c->tx);
    int r = shunt_encode(&c->tx, type, flags, id, body, c->max_frame);
    if (r < 0)
        return r;
    for (size_t off = 0; off < c->tx.len;) {
        ssize_t n = send(c->fd, c->tx.data + off, c->tx.len - off,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (size_t)n;
    }
    return 0;
}

static int recv_msg(shunt_client_t *c, shunt_msg_t *m, int timeout_ms)
{
    if (c->pending_consume) {
        shunt_rx_consume(&c->rx, c->pending_consume);
        c->pending_consume = 0;
    }
    const uint8_t *frame;
    size_t len;
    int r;
    if (timeout_ms == c->timeout_ms) {
        /* The socket blocks with SO_RCVTIMEO = the client's timeout: one
         * read() per answer, no poll(). */
        while ((r = shunt_rx_frame(&c->rx, &frame, &len)) == 0) {
            ssize_t n = shunt_rx_fill(&c->rx, c->fd);
            if (n == 0)
                return -ECONNRESET;
            if (n == -EAGAIN)
                return -ETIMEDOUT;
            if (n < 0 && n != -EINTR)
                return (int)n;
        }
    } else {
        r = shunt_recv_frame(c->fd, &c->rx, timeout_ms, &frame, &len);
    }
    if (r < 0)
        return r;
    c->pending_consume = len;
    r = shunt_decode(frame, len, m);
    return r < 0 ? -EPROTO : 0;
}

shunt_client_t *shunt_client_connect(const char *addr,
                                     const shunt_client_opts_t *o, char *err,
                                     size_t errlen)
{
    int timeout = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    int fd = open_socket(addr, timeout, err, errlen);
    if (fd < 0)
        return NULL;
    return shunt_client_adopt(fd, addr, o, err, errlen);
}

shunt_client_t *shunt_client_adopt(int fd, const char *addr,
                                   const shunt_client_opts_t *o, char *err,
                                   size_t errlen)
{
    int timeout = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    shunt_client_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    c->fd = fd;
    c->timeout_ms = timeout;
    struct timeval tv = {.tv_sec = timeout / 1000,
                         .tv_usec = (timeout % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint32_t want = o->max_frame ? o->max_frame : SHUNT_FRAME_DEFAULT;
    c->max_frame = want;
    c->next_id = 1;
    shunt_wbuf_init(&c->tx);
    if (shunt_rx_init(&c->rx, want) < 0) {
        shunt_client_close(c);
        errno = ENOMEM;
        return NULL;
    }
    shunt_hello_t h = {
        .magic = SHUNT_MAGIC,
        .ver_min = SHUNT_PROTO_VERSION_MIN,
        .ver_max = SHUNT_PROTO_VERSION_MAX,
        .role = o->role,
        .token = shunt_bytes(o->token, o->token_len),
        .pid = o->pid ? o->pid : (uint32_t)getpid(),
        .ppid = (uint32_t)getppid(),
        .session = o->session,
        .parent_session = o->parent_session,
        .max_frame = want,
        .name = shunt_str(o->name ? o->name : "client"),
    };
    shunt_msg_t m;
    int r = send_frame(c, SHUNT_T_HELLO, 0, 0, &h);
    if (r == 0)
        r = recv_msg(c, &m, timeout);
    if (r < 0) {
        set_err(err, errlen, "handshake with %s: %s", addr, strerror(-r));
        shunt_client_close(c);
        errno = -r;
        return NULL;
    }
    if (m.type == SHUNT_T_ERROR) {
        set_err(err, errlen, "%s refused the handshake: %s (%.*s)", addr,
                strerror(m.u.error.err), (int)m.u.error.msg.len,
                m.u.error.msg.p);
        int e = m.u.error.err > 0 ? m.u.error.err : EPROTO;
        shunt_client_close(c);
        errno = e;
        return NULL;
    }
    if (m.type != SHUNT_T_HELLO_R || m.u.hello_r.max_frame < SHUNT_FRAME_MIN ||
        m.u.hello_r.max_frame > want) {
        set_err(err, errlen, "%s answered the handshake with %s", addr,
                shunt_msg_name(m.type) ? shunt_msg_name(m.type) : "garbage");
        shunt_client_close(c);
        errno = EPROTO;
        return NULL;
    }
    c->version = m.u.hello_r.version;
    c->session = m.u.hello_r.session;
    c->max_frame = m.u.hello_r.max_frame;
    return c;
}

void shunt_client_close(shunt_client_t *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    shunt_rx_free(&c->rx);
    shunt_wbuf_free(&c->tx);
    free(c);
}

int shunt_client_call(shunt_client_t *c, uint16_t type, const void *body,
                      shunt_msg_t *resp)
{
    uint64_t id = c->next_id++;
    int r = send_frame(c, type, 0, id, body);
    if (r < 0)
        return r;
    for (;;) {
        r = recv_msg(c, resp, c->timeout_ms);
        if (r < 0)
            return r;
        /* Stream traffic interleaves with responses; a synchronous caller
         * that does not use streams can ignore it. */
        if (resp->id != id)
            continue;
        r = shunt_answer_check(type, resp);
        return r == 1 ? -resp->u.error.err : r;
    }
}

int shunt_client_send(shunt_client_t *c, uint16_t type, const void *body)
{
    return send_frame(c, type, SHUNT_FLAG_ONEWAY, 0, body);
}

int shunt_client_recv(shunt_client_t *c, shunt_msg_t *m, int timeout_ms)
{
    return recv_msg(c, m, timeout_ms);
}

int shunt_client_fd(const shunt_client_t *c) { return c->fd; }
uint32_t shunt_client_max_frame(const shunt_client_t *c) { return c->max_frame; }
uint64_t shunt_client_session(const shunt_client_t *c) { return c->session; }
uint16_t shunt_client_version(const shunt_client_t *c) { return c->version; }
