/* Relay endpoints of AF_UNIX streams (CONNECT family AF_UNIX, a socket path
 * in the target): an abstract unix listener "\0shunt-relay-PID-STREAM"
 * instead of a loopback TCP port.  Its name goes back to the layer in
 * CONNECT_R.local_addr (relay_port 0); from the accept on, the stream is
 * relayed by stream.c exactly like a TCP one (a unix stream socket reads,
 * writes, half-closes and hangs up as a TCP socket does; TCP_NODELAY and
 * SO_LINGER are simply not applied). */
#include "proxy_int.h"

#include "shunt/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The name of the endpoint last opened.  link.c encodes the CONNECT_R,
 * whose local_addr points here, right after stream_open returns, in the
 * same (single) loop thread. */
static char relay_name[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* A listening abstract unix socket for stream id: fd, or -errno.  The name
 * (without its leading NUL) is left in relay_name, *nlen bytes. */
static int unix_listener(uint32_t id, size_t *nlen)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
                     "shunt-relay-%ld-%u", (long)getpid(), id);
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                               (size_t)n);
    if (bind(fd, (struct sockaddr *)&sun, sl) < 0) {
        /* taken (a stale name of a reused stream id): let the kernel pick
         * a unique abstract name (autobind) */
        if (errno != EADDRINUSE ||
            bind(fd, (struct sockaddr *)&sun, sizeof(sa_family_t)) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    }
    sl = sizeof(sun);
    memset(&sun, 0, sizeof(sun));
    if (listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&sun, &sl) < 0 ||
        sl <= offsetof(struct sockaddr_un, sun_path) + 1) {
        int e = errno ? errno : EINVAL;
        close(fd);
        return -e;
    }
    *nlen = sl - offsetof(struct sockaddr_un, sun_path) - 1;
    memcpy(relay_name, sun.sun_path + 1, *nlen);
    return fd;
}

int unixrelay_open(shunt_proxy_t *p, psess_t *root, pstream_t *s,
                   shunt_connect_r_t *r, uint16_t *relay_port)
{
    size_t nlen = 0;
    int fd = s->udp ? -EPROTOTYPE : unix_listener(s->id, &nlen);
    if (fd < 0) {
        LOG_WARN("stream %u: cannot open a unix relay endpoint: %s", s->id,
                 strerror(-fd));
        stream_free(s);
        return fd;
    }
    s->ev.fd = fd;
    int rc = stream_register(p, root, s);
    if (rc < 0)
        return rc;
    *relay_port = 0;
    r->local_addr = shunt_bytes(relay_name, nlen);
    r->local_port = 0;
    proxy_mark_dirty(p, &s->ev);
    LOG_DEBUG("stream %u: unix relay on @%.*s", s->id, (int)nlen, relay_name);
    return 0;
}
