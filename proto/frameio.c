/* Framed I/O: receive buffering for event loops and blocking helpers.
 * Reads and writes are raw system calls (shunt/sys.h): the layer, which
 * must not call libc's hooked wrappers, shares this code with the proxy
 * and the agent. */
#include "shunt/frameio.h"
#include "shunt/sys.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#define RX_CHUNK (64u * 1024) /* a buffer's size, and a fill's least room */
#define RX_SMALL 4096u        /* a small buffer's first size */

int shunt_rx_init(shunt_rx_t *rx, uint32_t max_frame)
{
    memset(rx, 0, sizeof(*rx));
    rx->max_frame = max_frame;
    rx->cap = RX_CHUNK;
    rx->buf = malloc(rx->cap);
    return rx->buf ? 0 : -ENOMEM;
}

void shunt_rx_init_small(shunt_rx_t *rx, uint32_t max_frame)
{
    memset(rx, 0, sizeof(*rx));
    rx->max_frame = max_frame;
    rx->small = 1;
}

void shunt_rx_free(shunt_rx_t *rx)
{
    free(rx->buf);
    memset(rx, 0, sizeof(*rx));
}

/* Makes room for at least want more bytes after len. */
static int rx_room(shunt_rx_t *rx, size_t want)
{
    if (rx->off > 0 && (rx->off == rx->len || rx->cap - rx->len < want)) {
        memmove(rx->buf, rx->buf + rx->off, rx->len - rx->off);
        rx->len -= rx->off;
        rx->off = 0;
    }
    if (rx->cap - rx->len >= want)
        return 0;
    size_t cap = rx->cap ? rx->cap : RX_SMALL;
    while (cap - rx->len < want)
        cap *= 2;
    uint8_t *p = realloc(rx->buf, cap);
    if (!p)
        return -ENOMEM;
    rx->buf = p;
    rx->cap = cap;
    return 0;
}

ssize_t shunt_rx_fill(shunt_rx_t *rx, int fd)
{
    return shunt_rx_fill_fds(rx, fd, NULL, 0, NULL);
}

ssize_t shunt_rx_fill_fds(shunt_rx_t *rx, int fd, int *fds, int max,
                          int *nfds)
{
    /* Read enough for the frame in progress, or a generous chunk (a small
     * buffer: whatever room it has). */
    size_t want = rx->small ? 1 : RX_CHUNK;
    shunt_hdr_t h;
    if (rx->buf && shunt_hdr_parse(rx->buf + rx->off, rx->len - rx->off,
                                   rx->max_frame, &h) == 1) {
        size_t total = SHUNT_HDR_LEN + (size_t)h.length;
        size_t have = rx->len - rx->off;
        if (total > have && total - have > want)
            want = total - have;
    }
    int r = rx_room(rx, want);
    if (r < 0)
        return r;
    for (;;) {
        size_t room = rx->cap - rx->len;
        long n;
        if (!fds) {
            n = shunt_sys6(SYS_read, fd, (long)(rx->buf + rx->len),
                           (long)room, 0, 0, 0);
        } else {
            /* Room for 4 fds; more than max are closed, as a plain read()
             * would have had the kernel do with all of them. */
            union {
                struct cmsghdr h;
                char b[CMSG_SPACE(4 * sizeof(int))];
            } cb;
            struct iovec iov = {rx->buf + rx->len, room};
            struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                                .msg_control = cb.b,
                                .msg_controllen = sizeof(cb.b)};
            n = shunt_sys6(SYS_recvmsg, fd, (long)&mh, MSG_CMSG_CLOEXEC, 0, 0,
                           0);
            if (n >= 0) {
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
                     c = CMSG_NXTHDR(&mh, c)) {
                    if (c->cmsg_level != SOL_SOCKET ||
                        c->cmsg_type != SCM_RIGHTS)
                        continue;
                    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                    for (size_t i = 0; i < k; i++) {
                        int x;
                        memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(x));
                        if (*nfds < max)
                            fds[(*nfds)++] = x;
                        else
                            shunt_sys6(SYS_close, x, 0, 0, 0, 0, 0);
                    }
                }
            }
        }
        if (n == -EINTR)
            continue;
        if (n < 0) {
            rx->drained = n == -EAGAIN;
            return n;
        }
        rx->len += (size_t)n;
        rx->drained = (size_t)n < room;
        return n;
    }
}

int shunt_rx_frame(shunt_rx_t *rx, const uint8_t **frame, size_t *len)
{
    if (!rx->buf) /* a small buffer before its first fill */
        return 0;
    shunt_hdr_t h;
    int r = shunt_hdr_parse(rx->buf + rx->off, rx->len - rx->off,
                            rx->max_frame, &h);
    if (r <= 0)
        return r;
    size_t total = SHUNT_HDR_LEN + (size_t)h.length;
    if (rx->len - rx->off < total)
        return 0;
    *frame = rx->buf + rx->off;
    *len = total;
    return 1;
}

void shunt_rx_consume(shunt_rx_t *rx, size_t len)
{
    rx->off += len;
    if (rx->off >= rx->len) {
        rx->off = rx->len = 0;
        /* Give back what one large frame made the buffer grow to. */
        size_t keep = rx->small ? RX_SMALL : RX_CHUNK;
        if (rx->cap > 4u * 1024 * 1024) {
            uint8_t *p = realloc(rx->buf, keep);
            if (p) {
                rx->buf = p;
                rx->cap = keep;
            }
        }
    }
}

void shunt_rx_set_max_frame(shunt_rx_t *rx, uint32_t max_frame)
{
    rx->max_frame = max_frame;
}

int shunt_tx_flush(shunt_wbuf_t *w, int fd, int how)
{
    int flags = MSG_NOSIGNAL | ((how & SHUNT_TX_NOWAIT) ? MSG_DONTWAIT : 0);
    while (shunt_wbuf_pending(w) > 0) {
        long n = (how & SHUNT_TX_SOCKET)
                     ? shunt_sys6(SYS_sendto, fd, (long)(w->data + w->head),
                                  (long)shunt_wbuf_pending(w), flags, 0, 0)
                     : shunt_sys6(SYS_write, fd, (long)(w->data + w->head),
                                  (long)shunt_wbuf_pending(w), 0, 0, 0);
        if (n == -EINTR)
            continue;
        if (n == -EAGAIN)
            break;
        if (n < 0)
            return (int)n;
        w->head += (size_t)n;
    }
    if (shunt_wbuf_pending(w) == 0) {
        w->head = w->len = 0;
        if ((how & SHUNT_TX_TRIM) && w->cap > SHUNT_TX_KEEP)
            shunt_wbuf_free(w); /* do not keep a burst's memory */
        return 0;
    }
    /* Keep appends from growing the buffer forever behind head. */
    if ((how & SHUNT_TX_TRIM) && w->head >= 64 * 1024 &&
        w->head >= shunt_wbuf_pending(w)) {
        memmove(w->data, w->data + w->head, shunt_wbuf_pending(w));
        w->len -= w->head;
        w->head = 0;
    }
    return 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int shunt_recv_frame(int fd, shunt_rx_t *rx, int timeout_ms,
                     const uint8_t **frame, size_t *len)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        int r = shunt_rx_frame(rx, frame, len);
        if (r != 0)
            return r;
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return -ETIMEDOUT;
            wait = (int)left;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, wait);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (pr == 0)
            return -ETIMEDOUT;
        ssize_t n = shunt_rx_fill(rx, fd);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0 && n != -EAGAIN && n != -EINTR)
            return (int)n;
    }
}

long shunt_send_fd(int sock, const void *data, size_t len, int fd, int flags)
{
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof(cm));
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf)};
    struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd, sizeof(int));
    long r;
    do
        r = shunt_sys6(SYS_sendmsg, sock, (long)&mh, flags, 0, 0, 0);
    while (r == -EINTR);
    return r;
}
