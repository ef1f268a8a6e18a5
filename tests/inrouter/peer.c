/* inrouter_peer: the router between real sockets, for the real-peer test
 * (realpeers.sh): listens on 127.0.0.1 (its port written to PORTFILE),
 * and for each client connection (a child process each) runs the router
 * with poll(), opening 127.0.0.1:LOCAL and 127.0.0.1:REMOTE as upstreams.
 *   inrouter_peer PORTFILE LOCAL REMOTE NODE...   (NODE: "header ERE",
 *   "path ERE", "method M", "all N", "any N")
 * It shows how the agent is meant to drive the router: upstream_shut is a
 * write shutdown (the upstream is still read until its EOF); a
 * to_upstream after it opens a new connection. */
#include "rig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    int cfd;
    int ufd[2];      /* -1: not open */
    int ushut[2];    /* write side shut */
    int port[2];
    in_router_t *r;
} conn_t;

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int to_client(void *ctx, const uint8_t *p, size_t n)
{
    conn_t *c = ctx;
    return write_all(c->cfd, p, n);
}

static int to_upstream(void *ctx, int up, const uint8_t *p, size_t n)
{
    conn_t *c = ctx;
    if (c->ufd[up] >= 0 && c->ushut[up]) { /* shut: the router is done with it */
        close(c->ufd[up]);
        c->ufd[up] = -1;
    }
    if (c->ufd[up] < 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port[up])};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            if (fd >= 0)
                close(fd);
            return -1;
        }
        c->ufd[up] = fd;
        c->ushut[up] = 0;
    }
    return write_all(c->ufd[up], p, n);
}

static void upstream_shut(void *ctx, int up)
{
    conn_t *c = ctx;
    if (c->ufd[up] >= 0) {
        shutdown(c->ufd[up], SHUT_WR);
        c->ushut[up] = 1;
    }
}

static void client_shut(void *ctx)
{
    conn_t *c = ctx;
    shutdown(c->cfd, SHUT_WR);
}

static void serve(int cfd, const in_filter_t *f, int lport, int rport)
{
    static const in_router_ops_t ops = {to_client, to_upstream, upstream_shut, client_shut};
    conn_t c = {.cfd = cfd, .ufd = {-1, -1}, .port = {lport, rport}};
    c.r = in_router_new(f, &ops, &c);
    int ceof = 0;
    uint8_t buf[65536];
    while (!in_router_done(c.r)) {
        struct pollfd p[3] = {{ceof ? -1 : cfd, POLLIN, 0},
                              {c.ufd[0], POLLIN, 0},
                              {c.ufd[1], POLLIN, 0}};
        if (poll(p, 3, 10000) <= 0)
            break; /* idle for 10 s: give up */
        if (p[0].revents) {
            ssize_t n = read(cfd, buf, sizeof(buf));
            if (n > 0) {
                if (in_router_client(c.r, buf, (size_t)n) < 0)
                    break;
            } else {
                ceof = 1;
                in_router_client_eof(c.r);
            }
        }
        for (int up = 0; up < 2; up++) {
            if (!p[1 + up].revents || c.ufd[up] != p[1 + up].fd)
                continue;
            ssize_t n = read(c.ufd[up], buf, sizeof(buf));
            if (n > 0) {
                in_router_upstream(c.r, up, buf, (size_t)n);
            } else {
                close(c.ufd[up]);
                c.ufd[up] = -1;
                if (n == 0)
                    in_router_upstream_eof(c.r, up);
                else
                    in_router_upstream_failed(c.r, up);
            }
        }
    }
    in_router_stats_t st;
    in_router_stats(c.r, &st);
    fprintf(stderr, "inrouter_peer: connection done: %llu local, %llu remote\n",
            (unsigned long long)st.local, (unsigned long long)st.remote);
    in_router_free(c.r);
    close(cfd);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: inrouter_peer PORTFILE LOCAL REMOTE NODE...\n");
        return 2;
    }
    char err[256];
    const char **nodes = calloc((size_t)argc, sizeof(char *));
    for (int i = 4; i < argc; i++)
        nodes[i - 4] = argv[i];
    in_filter_t *f = rig_filter(nodes, err, sizeof(err));
    if (!f) {
        fprintf(stderr, "inrouter_peer: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 64) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
        perror("inrouter_peer: listen");
        return 1;
    }
    FILE *pf = fopen(argv[1], "w");
    if (!pf || fprintf(pf, "%d\n", ntohs(a.sin_port)) < 0 || fclose(pf) != 0) {
        perror(argv[1]);
        return 1;
    }
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            close(lfd);
            serve(cfd, f, atoi(argv[2]), atoi(argv[3]));
            _exit(0);
        }
        close(cfd);
    }
}
