/* Unix-socket paths in the target (docs/hooking.md, "Network: sockets"):
 * a connect() of an AF_UNIX SOCK_STREAM socket to a path that a
 * `net_remote_unix REGEX` rule lists goes to the socket at that path
 * inside the target.  The layer sends CONNECT {SOCK_STREAM, AF_UNIX, path}
 * and connects the program's own socket to the proxy's relay, an abstract
 * unix listener named in CONNECT_R.local_addr.  Everything else
 * (no rule matches, abstract names, datagram and seqpacket sockets) is the
 * kernel's connect. */
#include "hooks.h"
#include "layer.h"
#include "net.h"

#include "shunt/path.h"

#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/un.h>

#define SUN_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* Absolute path of the program's (relative or absolute) sun_path, into
 * out: 0 or -errno. */
static long abs_path(const char *path, char *out, size_t outlen)
{
    if (path[0] == '/') {
        if (strlen(path) >= outlen)
            return -ENAMETOOLONG;
        strcpy(out, path);
        return 0;
    }
    char cwd[4096];
    long n = layer_cwd_copy(cwd, sizeof(cwd)); /* a remote cwd (cwd.c) */
    if (n == 0)
        n = LSYS2(SYS_getcwd, cwd, sizeof(cwd));
    if (n < 0)
        return n;
    if (cwd[0] != '/')
        return -ENOENT; /* "(unreachable)" */
    size_t cl = strlen(cwd);
    if (cl + 1 + strlen(path) >= outlen)
        return -ENAMETOOLONG;
    memcpy(out, cwd, cl);
    out[cl] = '/';
    strcpy(out + cl + 1, path);
    return 0;
}

/* 1 when the path is remote, with the path to send in rpath. */
static int unix_is_remote(int fd, const struct sockaddr *sa, socklen_t len,
                          char *rpath, size_t rlen)
{
    const shunt_relist_t *rules = &shunt_layer.cfg.unix_remote;
    if (!rules->n || len <= offsetof(struct sockaddr_un, sun_path) ||
        len > sizeof(struct sockaddr_un))
        return 0;
    const struct sockaddr_un *su = (const void *)sa;
    size_t plen = len - offsetof(struct sockaddr_un, sun_path);
    if (su->sun_path[0] == '\0') /* abstract: the host's network namespace */
        return 0;
    char path[SUN_MAX + 1];
    memcpy(path, su->sun_path, plen);
    path[plen] = '\0'; /* the kernel ends the name at len or the first NUL */
    int type = 0;
    socklen_t tl = sizeof(type);
    if (REAL(getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
        type != SOCK_STREAM)
        return 0;
    char norm[4096];
    if (abs_path(path, rpath, rlen) < 0 ||
        shunt_path_normalize(NULL, rpath, norm, sizeof(norm)) < 0)
        return 0;
    if (!shunt_relist_match(rules, norm))
        return 0;
    /* The agent resolves the path in the root as the kernel would (".."
     * after a symlink included); its sun_path limit applies there too. */
    return strlen(rpath) < SUN_MAX ? 1 : -ENAMETOOLONG;
}

static long unix_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    char rpath[4096];
    int rem = unix_is_remote(fd, sa, len, rpath, sizeof(rpath));
    if (rem < 0)
        return rem;
    if (rem == 0) {
        LAYER_LEAVE();
        int r = REAL(connect, fd, sa, len);
        int e = errno;
        LAYER_ENTER();
        return r < 0 ? -e : 0;
    }
    struct sockaddr_un cur;
    socklen_t cl = sizeof(cur);
    if (shunt_net_is_ours(fd) &&
        REAL(getpeername, fd, (struct sockaddr *)&cur, &cl) == 0)
        return -EISCONN; /* already relayed (the kernel would look the
                          * path up locally first) */
    shunt_connect_t q = {.socktype = SOCK_STREAM,
                         .family = AF_UNIX,
                         .addr = shunt_bytes(rpath, strlen(rpath)),
                         .port = 0,
                         .timeout_ms = 0};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_CONNECT, &q, &m);
    if (r < 0) {
        LOG_DEBUG("connect unix %s: %s", rpath, ESTR((int)-r));
        return r == -EIO ? -ECONNREFUSED : r;
    }
    const shunt_connect_r_t *cr = &m.u.connect_r;
    if (cr->relay_port != 0 || cr->local_addr.len == 0 ||
        cr->local_addr.len >= SUN_MAX || cr->peer_addr.len >= SUN_MAX) {
        LOG_ERROR("connect unix: bad CONNECT_R (relay name of %u bytes)",
                  cr->local_addr.len);
        return -ECONNREFUSED;
    }
    struct sockaddr_un ra = {.sun_family = AF_UNIX};
    memcpy(ra.sun_path + 1, cr->local_addr.p, cr->local_addr.len);
    socklen_t ral = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                cr->local_addr.len);
    /* getpeername: the name the target's socket is bound to, as the
     * kernel there reports it; else the path as the program gave it. */
    struct sockaddr_un peer = {.sun_family = AF_UNIX};
    if (cr->peer_addr.len)
        memcpy(peer.sun_path, cr->peer_addr.p, cr->peer_addr.len);
    else
        memcpy(peer.sun_path, ((const struct sockaddr_un *)sa)->sun_path,
               len - offsetof(struct sockaddr_un, sun_path));
    socklen_t pl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                               strnlen(peer.sun_path, SUN_MAX - 1) + 1);
    long c = LSYS3(SYS_connect, fd, &ra, ral);
    if (c < 0) {
        LOG_WARN("connect unix %s: relay @%.*s: %s", rpath,
                 (int)cr->local_addr.len, (const char *)cr->local_addr.p,
                 ESTR((int)-c));
        return c == -EINTR || c == -EAGAIN ? c : -ECONNREFUSED;
    }
    LOG_DEBUG("connect unix %s: relay @%.*s (stream %u)", rpath,
              (int)cr->local_addr.len, (const char *)cr->local_addr.p,
              cr->stream);
    long n = shunt_net_note_peer(fd, AF_UNIX, SOCK_STREAM,
                                 (const struct sockaddr *)&peer, pl);
    return n < 0 ? n : 0;
}

int shunt_unix_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (!shunt_layer.cfg.unix_remote.n)
        return REAL(connect, fd, sa, len);
    int saved = errno;
    LAYER_ENTER();
    long r = unix_connect(fd, sa, len);
    LAYER_LEAVE();
    return (int)layer_ret(r, saved);
}
