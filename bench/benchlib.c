/* Shared pieces of the benchmarks (see benchlib.h). */
#include "benchlib.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_die(const char *what)
{
    perror(what);
    exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double bench_pct_us(uint64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

static void echo_server(int lfd)
{
    int c = accept(lfd, NULL, NULL);
    if (c < 0)
        _exit(1);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char buf[64];
    for (;;) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0 || write(c, buf, (size_t)n) != n)
            break;
    }
    _exit(0);
}

void bench_raw_roundtrips(uint64_t *lat, size_t n)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
        bench_die("loopback listener");
    pid_t child = fork();
    if (child < 0)
        bench_die("fork");
    if (child == 0)
        echo_server(lfd);
    close(lfd);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
        bench_die("loopback connect");
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char msg[32] = "stat /etc/hostname please.....", back[32];
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = bench_now_ns();
        if (write(s, msg, sizeof(msg)) != sizeof(msg))
            bench_die("write");
        size_t got = 0;
        while (got < sizeof(back)) {
            ssize_t r = read(s, back + got, sizeof(back) - got);
            if (r <= 0)
                bench_die("read");
            got += (size_t)r;
        }
        lat[i] = bench_now_ns() - t0;
    }
    close(s);
    waitpid(child, NULL, 0);
}

int bench_hold_cpu_latency(void)
{
    int fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
    int32_t zero = 0;
    if (fd >= 0 && write(fd, &zero, sizeof(zero)) == (ssize_t)sizeof(zero))
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}
