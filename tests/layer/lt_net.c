/* lt_net WEB_IP ECHO_IP UECHO_IP TARGET_IP: sockets to cluster services
 * that only the target's network reaches, through the layer's relays. */
#include "lt.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *web_ip, *echo_ip, *uecho_ip, *self_ip;

static struct sockaddr_in sin_of(const char *ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static int same_in(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_family == b->sin_family && a->sin_port == b->sin_port &&
           a->sin_addr.s_addr == b->sin_addr.s_addr;
}

static int tcp_to(const char *ip, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(ip, port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static ssize_t read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 && !got ? -1 : (ssize_t)got;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int write_all(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const char *)buf + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* Blocking connect, the remote addresses, half-close. */
static void test_blocking(void)
{
    int fd = tcp_to(echo_ip, 7000);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    struct sockaddr_in p, want = sin_of(echo_ip, 7000), l;
    socklen_t pl = sizeof(p), ll = sizeof(l);
    CHECK(getpeername(fd, (struct sockaddr *)&p, &pl) == 0);
    CHECK_LONG(pl, sizeof(p));
    CHECK(same_in(&p, &want));
    CHECK(getsockname(fd, (struct sockaddr *)&l, &ll) == 0);
    CHECK_LONG(l.sin_family, AF_INET);
    char ls[32];
    inet_ntop(AF_INET, &l.sin_addr, ls, sizeof(ls));
    CHECK_STR(ls, self_ip); /* the target's own address, not 127.0.0.1 */
    int one = 1;
    CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
    CHECK(write_all(fd, "hello", 5) == 0);
    CHECK(shutdown(fd, SHUT_WR) == 0);
    char buf[16] = {0};
    CHECK_LONG(read_all(fd, buf, sizeof(buf)), 5);
    CHECK_STR(buf, "hello");
    close(fd);
}

/* Non-blocking: EINPROGRESS, poll, SO_ERROR 0; epoll on the socket. */
static void test_nonblocking_epoll(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of(echo_ip, 7000);
    int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
    CHECK(r == 0 || errno == EINPROGRESS);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    CHECK_LONG(poll(&pfd, 1, 5000), 1);
    CHECK(pfd.revents & POLLOUT);
    int err = -1;
    socklen_t el = sizeof(err);
    CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0);
    CHECK_LONG(err, 0);
    struct sockaddr_in p;
    socklen_t pl = sizeof(p);
    CHECK(getpeername(fd, (struct sockaddr *)&p, &pl) == 0);
    CHECK(same_in(&p, &a));

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, got;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
    CHECK_LONG(epoll_wait(ep, &got, 1, 100), 0); /* nothing yet */
    CHECK_LONG(write(fd, "ping", 4), 4);
    CHECK_LONG(epoll_wait(ep, &got, 1, 5000), 1);
    char buf[8] = {0};
    CHECK_LONG(read(fd, buf, sizeof(buf)), 4);
    CHECK_STR(buf, "ping");
    CHECK(read(fd, buf, sizeof(buf)) == -1 && errno == EAGAIN);
    close(ep);
    close(fd);
}

static void test_refused(void)
{
    errno = 0;
    CHECK(tcp_to(echo_ip, 1) == -1);
    CHECK_LONG(errno, ECONNREFUSED);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of(echo_ip, 1);
    int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
    CHECK(r == -1 && (errno == EINPROGRESS || errno == ECONNREFUSED));
    if (r == -1 && errno == EINPROGRESS) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        CHECK_LONG(poll(&pfd, 1, 5000), 1);
        CHECK(pfd.revents & (POLLERR | POLLHUP));
        int err = 0;
        socklen_t el = sizeof(err);
        CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0);
        CHECK_LONG(err, ECONNREFUSED);
        struct sockaddr_in p;
        socklen_t pl = sizeof(p);
        CHECK_ERR(getpeername(fd, (struct sockaddr *)&p, &pl), ENOTCONN);
    }
    close(fd);
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

#define BIG (16u << 20)
static void *big_writer(void *arg)
{
    int fd = *(int *)arg;
    unsigned char *buf = malloc(1 << 16);
    uint32_t x = 12345;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t done = 0; done < BIG; done += 1 << 16) {
        for (size_t i = 0; i < 1 << 16; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (unsigned char)(x >> 16);
        }
        h = fnv(h, buf, 1 << 16);
        if (write_all(fd, buf, 1 << 16) < 0)
            break;
    }
    shutdown(fd, SHUT_WR);
    free(buf);
    return (void *)(uintptr_t)h;
}

/* 16 MiB each way through the echo, checked by hash. */
static void test_big(void)
{
    int fd = tcp_to(echo_ip, 7000);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    pthread_t t;
    pthread_create(&t, NULL, big_writer, &fd);
    unsigned char *buf = malloc(1 << 16);
    uint64_t h = 0xcbf29ce484222325ull;
    size_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 16);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        h = fnv(h, buf, (size_t)r);
        total += (size_t)r;
    }
    void *wh;
    pthread_join(t, &wh);
    CHECK_LONG(total, BIG);
    CHECK((uint64_t)(uintptr_t)wh == h);
    free(buf);
    close(fd);
}

/* 50 connections open at once, then used. */
static void test_concurrent(void)
{
    enum { N = 50 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = tcp_to(echo_ip, 7000);
        CHECK(fds[i] >= 0);
    }
    for (int i = 0; i < N; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof(msg), "conn %02d", i);
        if (fds[i] >= 0)
            CHECK(write_all(fds[i], msg, (size_t)n) == 0);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        if (fds[i] < 0)
            continue;
        char want[16], got[16] = {0};
        int n = snprintf(want, sizeof(want), "conn %02d", i);
        if (read_all(fds[i], got, (size_t)n) == n && strcmp(got, want) == 0)
            ok++;
        close(fds[i]);
    }
    CHECK_LONG(ok, N);
}

static void test_http(void)
{
    int fd = tcp_to(web_ip, 8080);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    const char *req = "GET /index.html HTTP/1.0\r\nHost: web\r\n\r\n";
    CHECK(write_all(fd, req, strlen(req)) == 0);
    char buf[4096] = {0};
    read_all(fd, buf, sizeof(buf) - 1);
    CHECK(strncmp(buf, "HTTP/1.0 200", 12) == 0);
    CHECK(strstr(buf, "hello from web\n") != NULL);
    close(fd);
}

static void test_udp(void)
{
    struct sockaddr_in a = sin_of(uecho_ip, 7001), src;
    socklen_t sl;
    char buf[64];
    struct timeval tv = {.tv_sec = 5};

    /* connected */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    sl = sizeof(src);
    CHECK(getpeername(fd, (struct sockaddr *)&src, &sl) == 0);
    CHECK(same_in(&src, &a));
    CHECK_LONG(send(fd, "udp-1", 5, 0), 5);
    memset(buf, 0, sizeof(buf));
    sl = sizeof(src);
    memset(&src, 0, sizeof(src));
    CHECK_LONG(recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &sl), 5);
    CHECK_STR(buf, "udp-1");
    CHECK(same_in(&src, &a));
    close(fd);

    /* unconnected: sendto/recvfrom, sendmsg/recvmsg */
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    CHECK_LONG(sendto(fd, "udp-2", 5, 0, (struct sockaddr *)&a, sizeof(a)), 5);
    memset(buf, 0, sizeof(buf));
    sl = sizeof(src);
    memset(&src, 0, sizeof(src));
    CHECK_LONG(recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &sl), 5);
    CHECK_STR(buf, "udp-2");
    CHECK_LONG(sl, sizeof(src));
    CHECK(same_in(&src, &a));

    struct iovec iov = {.iov_base = "udp-3", .iov_len = 5};
    struct msghdr m = {.msg_name = &a, .msg_namelen = sizeof(a),
                       .msg_iov = &iov, .msg_iovlen = 1};
    CHECK_LONG(sendmsg(fd, &m, 0), 5);
    memset(buf, 0, sizeof(buf));
    memset(&src, 0, sizeof(src));
    iov.iov_base = buf;
    iov.iov_len = sizeof(buf);
    m.msg_name = &src;
    m.msg_namelen = sizeof(src);
    CHECK_LONG(recvmsg(fd, &m, 0), 5);
    CHECK_STR(buf, "udp-3");
    CHECK(same_in(&src, &a));
    close(fd);
}

/* bind before connect: to the wildcard, and to the target's own address
 * (not an address of this host). */
static void test_bind(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any = {.sin_family = AF_INET}, a = sin_of(echo_ip, 7000);
    CHECK(bind(fd, (struct sockaddr *)&any, sizeof(any)) == 0);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK_LONG(write(fd, "b", 1), 1);
    char c = 0;
    CHECK_LONG(read(fd, &c, 1), 1);
    CHECK(c == 'b');
    close(fd);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in self = sin_of(self_ip, 0), l;
    socklen_t ll = sizeof(l);
    CHECK(bind(fd, (struct sockaddr *)&self, sizeof(self)) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&l, &ll) == 0);
    CHECK(l.sin_addr.s_addr == self.sin_addr.s_addr);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    ll = sizeof(l);
    CHECK(getsockname(fd, (struct sockaddr *)&l, &ll) == 0);
    CHECK(l.sin_addr.s_addr == self.sin_addr.s_addr);
    CHECK_LONG(write(fd, "c", 1), 1);
    CHECK_LONG(read(fd, &c, 1), 1);
    CHECK(c == 'c');
    close(fd);
}

/* Loopback stays local: a listener of this process is reachable. */
static void test_loopback(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of("127.0.0.1", 0);
    socklen_t al = sizeof(a);
    CHECK(bind(ls, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(listen(ls, 4) == 0);
    CHECK(getsockname(ls, (struct sockaddr *)&a, &al) == 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    int c = accept(ls, NULL, NULL);
    CHECK(c >= 0);
    CHECK_LONG(write(fd, "L", 1), 1);
    char ch = 0;
    CHECK_LONG(read(c, &ch, 1), 1);
    CHECK(ch == 'L');
    struct sockaddr_in p;
    socklen_t pl = sizeof(p);
    CHECK(getpeername(fd, (struct sockaddr *)&p, &pl) == 0);
    CHECK(same_in(&p, &a));
    close(c);
    close(fd);
    close(ls);
}

/* The table follows dup, dup2, fcntl(F_DUPFD); AF_INET6 sockets. */
static void test_dup_v6(void)
{
    int fd = tcp_to(echo_ip, 7000);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    struct sockaddr_in p, want = sin_of(echo_ip, 7000);
    socklen_t pl;
    int d1 = dup(fd), d2 = fcntl(fd, F_DUPFD_CLOEXEC, 100), d3 = 200;
    CHECK(dup2(fd, d3) == d3);
    close(fd);
    int ds[] = {d1, d2, d3};
    for (int i = 0; i < 3; i++) {
        pl = sizeof(p);
        CHECK(getpeername(ds[i], (struct sockaddr *)&p, &pl) == 0);
        CHECK(same_in(&p, &want));
    }
    CHECK_LONG(write(d2, "d", 1), 1);
    char c = 0;
    CHECK_LONG(read(d3, &c, 1), 1);
    CHECK(c == 'd');
    close(d1);
    close(d2);
    close(d3);

    fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(7000)}, p6;
    char mapped[64];
    snprintf(mapped, sizeof(mapped), "::ffff:%s", echo_ip);
    inet_pton(AF_INET6, mapped, &a6.sin6_addr);
    CHECK(connect(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0);
    pl = sizeof(p6);
    CHECK(getpeername(fd, (struct sockaddr *)&p6, &pl) == 0);
    CHECK_LONG(pl, sizeof(p6));
    CHECK(memcmp(&p6.sin6_addr, &a6.sin6_addr, 16) == 0 && p6.sin6_port == a6.sin6_port);
    CHECK_LONG(write(fd, "6", 1), 1);
    CHECK_LONG(read(fd, &c, 1), 1);
    CHECK(c == '6');
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: lt_net WEB_IP ECHO_IP UECHO_IP TARGET_IP\n");
        return 2;
    }
    web_ip = argv[1];
    echo_ip = argv[2];
    uecho_ip = argv[3];
    self_ip = argv[4];
    test_blocking();
    test_nonblocking_epoll();
    test_refused();
    test_http();
    test_udp();
    test_bind();
    test_loopback();
    test_dup_v6();
    test_concurrent();
    test_big();
    return lt_done("lt_net");
}
