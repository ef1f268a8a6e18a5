/* layer.unix: connect() of AF_UNIX stream sockets to paths (unix_run.sh).
 *   lt_unix remote|local NOTSOCK_ERRNO MISSING_ERRNO
 * remote: run with unix.conf (net_remote_unix ^/run/(echo|missing)\.sock$,
 * ^/etc/hostname$): /run/echo.sock is the target's echo server; the errnos
 * of /etc/hostname (not a socket) and /run/missing.sock are the target's
 * (measured there, as names); unlisted paths and other socket types stay
 * local.  local: run without rules: everything stays local. */
#include "lt.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int errno_named(const char *n)
{
    static const struct {
        const char *n;
        int e;
    } t[] = {
        {"ECONNREFUSED", ECONNREFUSED}, {"ENOENT", ENOENT},
        {"ENOTSOCK", ENOTSOCK},         {"EACCES", EACCES},
        {"ENOTDIR", ENOTDIR},           {"EPROTOTYPE", EPROTOTYPE},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(t[i].n, n) == 0)
            return t[i].e;
    fprintf(stderr, "lt_unix: unexpected errno name %s\n", n);
    exit(2);
}

static int unix_connect(int type, const char *path)
{
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

#define BULK (2u * 1024u * 1024u)

static char pattern(size_t i) { return (char)(i * 7 + (i >> 11)); }

static void *bulk_writer(void *arg)
{
    int fd = *(int *)arg;
    char *buf = malloc(BULK);
    for (size_t i = 0; i < BULK; i++)
        buf[i] = pattern(i);
    size_t off = 0;
    while (off < BULK) {
        ssize_t n = write(fd, buf + off, BULK - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    free(buf);
    return (void *)(uintptr_t)off;
}

static void echo_round_trip(const char *path, const char *want_peer)
{
    int fd = unix_connect(SOCK_STREAM, path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    struct sockaddr_un pa;
    socklen_t pl = sizeof(pa);
    memset(&pa, 0, sizeof(pa));
    CHECK(getpeername(fd, (struct sockaddr *)&pa, &pl) == 0);
    CHECK_LONG(pa.sun_family, AF_UNIX);
    CHECK_STR(pa.sun_path, want_peer);
    CHECK_LONG(pl, offsetof(struct sockaddr_un, sun_path) +
                       strlen(want_peer) + 1);
    /* our own end is unbound, as inside the target */
    struct sockaddr_un la;
    socklen_t ll = sizeof(la);
    CHECK(getsockname(fd, (struct sockaddr *)&la, &ll) == 0);
    CHECK_LONG(ll, sizeof(sa_family_t));

    const char msg[] = "ping over a unix socket in the target";
    CHECK_LONG(write(fd, msg, sizeof(msg)), sizeof(msg));
    char got[sizeof(msg)];
    size_t off = 0;
    while (off < sizeof(msg)) {
        ssize_t n = read(fd, got + off, sizeof(msg) - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    CHECK_LONG(off, sizeof(msg));
    CHECK(memcmp(got, msg, sizeof(msg)) == 0);

    /* a large transfer, both ways at once, then half-close -> EOF */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, bulk_writer, &fd) == 0);
    char *buf = malloc(BULK);
    size_t total = 0;
    int bad = 0;
    for (;;) {
        ssize_t n = read(fd, buf, BULK);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(total + (size_t)i))
                bad = 1;
        total += (size_t)n;
    }
    void *sent;
    pthread_join(t, &sent);
    CHECK_LONG((uintptr_t)sent, BULK);
    CHECK_LONG(total, BULK);
    CHECK(!bad);
    free(buf);
    /* already connected: the kernel's EISCONN */
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
    CHECK_ERR(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), EISCONN);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: lt_unix remote|local NOTSOCK MISSING\n");
        return 2;
    }
    int remote = strcmp(argv[1], "remote") == 0;
    int notsock = errno_named(argv[2]), missing = errno_named(argv[3]);
    if (remote) {
        echo_round_trip("/run/echo.sock", "/run/echo.sock");
        /* a relative path, from the cwd */
        CHECK(chdir("/run") == 0);
        echo_round_trip("echo.sock", "/run/echo.sock");
        CHECK(chdir("/") == 0);
        /* the target's answers for what is not a listening socket */
        CHECK_ERR(unix_connect(SOCK_STREAM, "/etc/hostname"), notsock);
        CHECK_ERR(unix_connect(SOCK_STREAM, "/run/missing.sock"), missing);
        /* exists in the target, but not listed: local */
        CHECK_ERR(unix_connect(SOCK_STREAM, "/run/echo2.sock"), ENOENT);
        /* datagram sockets are not relayed: local */
        CHECK_ERR(unix_connect(SOCK_DGRAM, "/run/echo.sock"), ENOENT);
    } else {
        CHECK_ERR(unix_connect(SOCK_STREAM, "/run/echo.sock"), ENOENT);
        CHECK_ERR(unix_connect(SOCK_STREAM, "/run/echo2.sock"), ENOENT);
    }
    return lt_done(remote ? "lt_unix remote" : "lt_unix local");
}
