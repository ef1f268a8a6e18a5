/* CONNECT with family AF_UNIX: a unix-socket path in the target's root.
 *
 * The path is resolved like every file path (openat2 RESOLVE_IN_ROOT, see
 * paths.c) to an O_PATH fd of the socket inode; a new AF_UNIX socket is
 * then connected to "/proc/self/fd/N", which the kernel follows to exactly
 * that inode (the agent's own fd, in its own /proc).  Nothing outside the
 * root can be reached: the lookup in the root is the only one by name.
 * The stream is then relayed like a TCP one (streams.c). */
#include "agent.h"

#include "shunt/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The socket of the path's inode, connected (unix connects complete at
 * once or fail), or -errno as connect(2) in the target would give it. */
static int unix_connect_in_root(agent_t *a, const char *path, int socktype)
{
    int pfd = root_open(a, path, O_PATH, 0);
    if (pfd < 0)
        return pfd;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d", pfd);
    int fd = socket(AF_UNIX, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        close(pfd);
        return -e;
    }
    int r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    int e = errno;
    close(pfd);
    if (r < 0) {
        close(fd);
        /* EAGAIN: the listener's backlog is full (a blocking connect in
         * the target would wait; the agent's loop cannot). */
        return -e;
    }
    return fd;
}

void stream_connect_unix(client_t *cl, const shunt_msg_t *m)
{
    const shunt_connect_t *c = &m->u.connect;
    agent_t *a = cl->a;
    if (c->socktype != SOCK_STREAM) {
        reply_error(cl, m->id, EINVAL, "unix socket type %d not relayed",
                    c->socktype);
        return;
    }
    /* sun_path: at most 107 bytes and no NUL (abstract names are not
     * relayed: they belong to a network namespace, not to the root) */
    if (c->addr.len == 0 || c->addr.len >= sizeof(((struct sockaddr_un *)0)
                                                       ->sun_path) ||
        memchr(c->addr.p, 0, c->addr.len)) {
        reply_error(cl, m->id, EINVAL, "unix socket path of %u bytes",
                    c->addr.len);
        return;
    }
    if (cl->h.used >= cl->h.limit) {
        reply_error(cl, m->id, EMFILE, "client handle limit (%u) reached",
                    cl->h.limit);
        return;
    }
    char path[PATH_MAX + 2];
    shunt_str_t ps = {.p = (const char *)c->addr.p, .len = c->addr.len};
    int r = path_join(cl, SHUNT_AT_ROOT, ps, path, sizeof(path));
    if (r < 0) {
        reply_error(cl, m->id, -r, "unix socket path: %s", strerror(-r));
        return;
    }
    int fd = unix_connect_in_root(a, path, c->socktype);
    if (fd < 0) {
        reply_error(cl, m->id, -fd, "connect unix %.200s: %s", path,
                    strerror(-fd));
        return;
    }
    char desc[64];
    snprintf(desc, sizeof(desc), "unix:%.50s", path);
    stream_t *st = stream_new(cl, m->id, fd, c->socktype, AF_UNIX, desc);
    if (!st)
        return;
    stream_connected(st);
}
