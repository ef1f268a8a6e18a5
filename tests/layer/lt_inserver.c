/* A TCP server for tests/layer/incoming.sh: one connection, answered with
 * what the socket calls said about it, then the listener is closed.
 *   lt_inserver PORT inet|inet6|inet6only block|epoll|reuseport [fork]
 * block: blocking accept(); epoll: a non-blocking listener in an epoll set
 * and accept4() until EAGAIN; reuseport: the same with two listeners of an
 * SO_REUSEPORT group on the port.  The answer is one line:
 *   accept=ADDR:PORT len=N peer=ADDR:PORT sock=ADDR:PORT dup-peer=ADDR:PORT
 * fork: a child is forked (and lives 1 s) before the listener is closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *str(const struct sockaddr_storage *ss, char *buf,
                       size_t len)
{
    char a[64] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
        port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
        port = ntohs(in6->sin6_port);
    }
    snprintf(buf, len, "%s:%u", a, port);
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    int port = atoi(argv[1]);
    int v6 = strncmp(argv[2], "inet6", 5) == 0;
    int reuse = strcmp(argv[3], "reuseport") == 0;
    int epoll = reuse || strcmp(argv[3], "epoll") == 0;
    int forks = argc > 4 && strcmp(argv[4], "fork") == 0;
    int ls[2], nls = reuse ? 2 : 1;
    for (int i = 0; i < nls; i++) {
    int s = ls[i] = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuse)
        setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (v6) {
        int only = strcmp(argv[2], "inet6only") == 0;
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof(only));
        struct sockaddr_in6 *in6 = (void *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*in6);
    } else {
        struct sockaddr_in *in = (void *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        sl = sizeof(*in);
    }
    if (bind(s, (struct sockaddr *)&ss, sl) < 0 || listen(s, 16) < 0) {
        perror("lt_inserver: listen");
        return 1;
    }
    if (listen(s, 32) < 0) { /* a new backlog: nothing new for the layer */
        perror("lt_inserver: second listen");
        return 1;
    }
    }
    int s = ls[0];
    struct sockaddr_storage peer;
    socklen_t pl = sizeof(peer);
    int c;
    if (epoll) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev;
        for (int i = 0; i < nls; i++) {
            fcntl(ls[i], F_SETFL, fcntl(ls[i], F_GETFL) | O_NONBLOCK);
            ev.events = EPOLLIN;
            ev.data.fd = ls[i];
            epoll_ctl(ep, EPOLL_CTL_ADD, ls[i], &ev);
        }
        for (;;) {
            if (epoll_wait(ep, &ev, 1, 10000) != 1) {
                fprintf(stderr, "lt_inserver: nothing came\n");
                return 1;
            }
            pl = sizeof(peer);
            c = accept4(ev.data.fd, (struct sockaddr *)&peer, &pl,
                        SOCK_CLOEXEC);
            if (c >= 0)
                break;
            if (errno != EAGAIN) {
                perror("lt_inserver: accept4");
                return 1;
            }
        }
        close(ep);
    } else {
        c = accept(s, (struct sockaddr *)&peer, &pl);
        if (c < 0) {
            perror("lt_inserver: accept");
            return 1;
        }
    }
    struct sockaddr_storage p2, me, dp;
    socklen_t l2 = sizeof(p2), l3 = sizeof(me), l4 = sizeof(dp);
    memset(&p2, 0, sizeof(p2));
    memset(&me, 0, sizeof(me));
    memset(&dp, 0, sizeof(dp));
    getpeername(c, (struct sockaddr *)&p2, &l2);
    getsockname(c, (struct sockaddr *)&me, &l3);
    int d = dup(c);
    close(c);
    getpeername(d, (struct sockaddr *)&dp, &l4);
    char req[4096];
    ssize_t n = read(d, req, sizeof(req)); /* the request, whatever it is */
    (void)n;
    char b1[80], b2[80], b3[80], b4[80], line[512];
    int len = snprintf(line, sizeof(line),
                       "accept=%s len=%u peer=%s sock=%s dup-peer=%s\n",
                       str(&peer, b1, sizeof(b1)), (unsigned)pl,
                       str(&p2, b2, sizeof(b2)), str(&me, b3, sizeof(b3)),
                       str(&dp, b4, sizeof(b4)));
    if (write(d, line, (size_t)len) != len)
        return 1;
    close(d);
    pid_t child = -1;
    if (forks && (child = fork()) == 0) {
        sleep(1);
        _exit(0);
    }
    for (int i = 0; i < nls; i++)
        close(ls[i]); /* the listeners: the target's port is released */
    sleep(1);
    if (child > 0)
        waitpid(child, NULL, 0);
    return 0;
}
