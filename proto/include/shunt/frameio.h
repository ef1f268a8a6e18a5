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
    int small;   /* shunt_rx_init_small */
} shunt_rx_t;

int shunt_rx_init(shunt_rx_t *rx, uint32_t max_frame); /* 0 or -ENOMEM */
/* A buffer that allocates nothing until its first fill, starts at 4 KiB and
 * grows only as far as a frame needs: one per thread of the layer (a fill
 * reads into whatever room it has, rather than making room for 64 KiB). */
void shunt_rx_init_small(shunt_rx_t *rx, uint32_t max_frame);
void shunt_rx_free(shunt_rx_t *rx);

/* One read into the buffer (a raw system call, shunt/sys.h: the layer uses
 * it too).  Returns bytes read (> 0), 0 on EOF, or -errno (-EAGAIN when a
 * non-blocking fd has nothing, or a blocking socket's SO_RCVTIMEO ran out). */
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

/* Writes pending bytes of w to fd, with raw system calls.  how is 0 (any
 * fd: write) or a sum of:
 *   SHUNT_TX_SOCKET  fd is a socket: send with MSG_NOSIGNAL (no SIGPIPE);
 *   SHUNT_TX_NOWAIT  and MSG_DONTWAIT;
 *   SHUNT_TX_TRIM    a drained buffer larger than SHUNT_TX_KEEP is freed (a
 *                    burst, not the steady state of a stream, which stays
 *                    within a window or two), and a partly written one is
 *                    compacted once 64 KiB are written behind head.
 * Returns 0 when everything was written, 1 when some is still pending
 * (EAGAIN, or a blocking socket's SO_SNDTIMEO), -errno on error. */
#define SHUNT_TX_SOCKET 1
#define SHUNT_TX_NOWAIT 2
#define SHUNT_TX_TRIM 4
#define SHUNT_TX_KEEP (2u * SHUNT_FRAME_DEFAULT)
int shunt_tx_flush(shunt_wbuf_t *w, int fd, int how);

/* Blocking: waits up to timeout_ms (-1 = forever) for the next frame.
 * Returns 1 with frame and len set, -ETIMEDOUT, -ECONNRESET on EOF, -EMSGSIZE,
 * or -errno. */
int shunt_recv_frame(int fd, shunt_rx_t *rx, int timeout_ms,
                     const uint8_t **frame, size_t *len);

/* Sends len bytes (at least one) with fd attached (SCM_RIGHTS), with a
 * raw system call (the layer uses it too); flags as sendmsg's (add
 * MSG_NOSIGNAL).  EINTR is retried.  Bytes sent, or -errno. */
long shunt_send_fd(int sock, const void *data, size_t len, int fd, int flags);
#endif
