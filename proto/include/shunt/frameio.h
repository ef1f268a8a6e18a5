/* Framed I/O over a stream fd: a receive buffer for event loops and
 * blocking helpers for synchronous clients. */
#ifndef SHUNT_FRAMEIO_H
#define SHUNT_FRAMEIO_H

#include "shunt/proto.h"

#include <sys/types.h>

typedef struct {
    uint8_t *buf;
    size_t off, len, cap; /* unread bytes are buf[off .. len) */
    uint32_t max_frame;
    int drained; /* the last fill read less than it had room for */
} shunt_rx_t;

int shunt_rx_init(shunt_rx_t *rx, uint32_t max_frame); /* 0 or -ENOMEM */
void shunt_rx_free(shunt_rx_t *rx);

/* One read() into the buffer.  Returns bytes read (> 0), 0 on EOF, or
 * -errno (-EAGAIN when a non-blocking fd has nothing). */
ssize_t shunt_rx_fill(shunt_rx_t *rx, int fd);
/* The same on a unix socket with recvmsg(): fds passed with SCM_RIGHTS are
 * appended to fds[*nfds] (O_CLOEXEC), up to max; the rest are closed. */
ssize_t shunt_rx_fill_fds(shunt_rx_t *rx, int fd, int *fds, int max,
                          int *nfds);

/* 1 when the last fill read less than it had room for: the socket had
 * nothing more at that moment, so a level-triggered loop can go back to
 * epoll_wait without another read() that would only say EAGAIN. */
static inline int shunt_rx_drained(const shunt_rx_t *rx)
{
    return rx->drained;
}

/* Returns 1 and points frame and len at the next complete frame (valid until
 * the next fill or consume), 0 when more bytes are needed, -EMSGSIZE when
 * the next frame exceeds the limit. */
int shunt_rx_frame(shunt_rx_t *rx, const uint8_t **frame, size_t *len);
void shunt_rx_consume(shunt_rx_t *rx, size_t len);
/* Applies the limit negotiated in the handshake to later frames. */
void shunt_rx_set_max_frame(shunt_rx_t *rx, uint32_t max_frame);
/* Bytes buffered but not yet consumed. */
static inline size_t shunt_rx_buffered(const shunt_rx_t *rx)
{
    return rx->len - rx->off;
}

/* Writes pending bytes of w to fd.  Returns 0 when everything was written,
 * 1 when some is still pending (EAGAIN), -errno on error. */
int shunt_tx_flush(shunt_wbuf_t *w, int fd);

/* Blocking: waits up to timeout_ms (-1 = forever) for the next frame.
 * Returns 1 with frame and len set, -ETIMEDOUT, -ECONNRESET on EOF, -EMSGSIZE,
 * or -errno. */
int shunt_recv_frame(int fd, shunt_rx_t *rx, int timeout_ms,
                     const uint8_t **frame, size_t *len);

#endif
