/* net_bench: the network half of bench/run (docs/benchmarks.md, "Network").
 * It is run both locally under the layer (`harness exec`) and inside the
 * target (`runc exec`), so it needs nothing but libc.
 *
 *   net_bench stream HOST PORT MIB RUNS   bulk TCP read: sends "MIB\n" to a
 *                                         service that answers with MIB MiB
 *                                         and closes; prints the best MB/s
 *   net_bench connect HOST PORT N         N connect()+close() to HOST:PORT;
 *                                         prints connect() p50/p99 (us)
 *   net_bench rtt N                       N 32-byte loopback TCP round trips
 *                                         to an echo child; p50/p99 (us)
 *   net_bench rawconnect N                N loopback connect()+close() to a
 *                                         child that accepts; p50/p99 (us)
 *   net_bench hold                        holds /dev/cpu_dma_latency at 0
 *                                         until killed
 * Output: one line "KEY VALUE..." for bench/run to read. */
#include "benchlib.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct addrinfo *resolve(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "net_bench: %s: %s\n", host, gai_strerror(rc));
        exit(1);
    }
    return ai;
}

static int dial(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        bench_die("socket");
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        bench_die("connect");
    return fd;
}

static int do_stream(const char *host, const char *port, long mib, int runs)
{
    struct addrinfo *ai = resolve(host, port);
    size_t bufsz = 1 << 20;
    char *buf = malloc(bufsz);
    double best = 0;
    if (!buf)
        bench_die("malloc");
    for (int r = 0; r < runs; r++) {
        uint64_t t0 = bench_now_ns();
        int fd = dial(ai);
        char req[32];
        int len = snprintf(req, sizeof req, "%ld\n", mib);
        if (write(fd, req, (size_t)len) != len)
            bench_die("write");
        unsigned long long got = 0;
        for (;;) {
            ssize_t n = read(fd, buf, bufsz);
            if (n < 0)
                bench_die("read");
            if (n == 0)
                break;
            got += (unsigned long long)n;
        }
        uint64_t t1 = bench_now_ns();
        close(fd);
        if (got != (unsigned long long)mib << 20) {
            fprintf(stderr, "net_bench: got %llu bytes, want %ld MiB\n", got, mib);
            return 1;
        }
        double mbs = (double)got / 1e6 / ((double)(t1 - t0) / 1e9);
        if (mbs > best)
            best = mbs;
    }
    printf("stream %.1f\n", best);
    free(buf);
    freeaddrinfo(ai);
    return 0;
}

static int do_connect(const char *host, const char *port, size_t n)
{
    struct addrinfo *ai = resolve(host, port);
    uint64_t *lat = calloc(n, sizeof *lat);
    if (!lat)
        bench_die("calloc");
    for (size_t i = 0; i < n; i++) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            bench_die("socket");
        uint64_t t0 = bench_now_ns();
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
            bench_die("connect");
        lat[i] = bench_now_ns() - t0;
        close(fd);
    }
    double p50 = bench_pct_us(lat, n, 50), p99 = bench_pct_us(lat, n, 99);
    printf("connect %.1f %.1f\n", p50, p99);
    free(lat);
    freeaddrinfo(ai);
    return 0;
}

/* The baseline of connect(): a loopback TCP connect to a child process that
 * accepts and closes (backlog large enough that no SYN is ever dropped). */
static int do_rawconnect(size_t n)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(l, 4096) < 0 || getsockname(l, (struct sockaddr *)&a, &al) < 0)
        bench_die("listen");
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork");
    if (pid == 0) {
        for (;;) {
            int c = accept(l, NULL, NULL);
            if (c >= 0)
                close(c);
        }
    }
    close(l);
    uint64_t *lat = calloc(n, sizeof *lat);
    if (!lat)
        bench_die("calloc");
    for (size_t i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            bench_die("socket");
        uint64_t t0 = bench_now_ns();
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
            bench_die("connect");
        lat[i] = bench_now_ns() - t0;
        close(fd);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    double p50 = bench_pct_us(lat, n, 50), p99 = bench_pct_us(lat, n, 99);
    printf("rawconnect %.1f %.1f\n", p50, p99);
    free(lat);
    return 0;
}

static int do_rtt(size_t n)
{
    uint64_t *lat = calloc(n, sizeof *lat);
    if (!lat)
        bench_die("calloc");
    bench_raw_roundtrips(lat, n);
    double p50 = bench_pct_us(lat, n, 50), p99 = bench_pct_us(lat, n, 99);
    printf("rtt %.1f %.1f\n", p50, p99);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "stream") == 0)
        return do_stream(argv[2], argv[3], atol(argv[4]), atoi(argv[5]));
    if (argc == 5 && strcmp(argv[1], "connect") == 0)
        return do_connect(argv[2], argv[3], (size_t)atol(argv[4]));
    if (argc == 3 && strcmp(argv[1], "rtt") == 0)
        return do_rtt((size_t)atol(argv[2]));
    if (argc == 3 && strcmp(argv[1], "rawconnect") == 0)
        return do_rawconnect((size_t)atol(argv[2]));
    if (argc == 2 && strcmp(argv[1], "hold") == 0) {
        int fd = bench_hold_cpu_latency();
        printf("hold %s\n", fd >= 0 ? "yes" : "no");
        fflush(stdout);
        pause();
        return 0;
    }
    fprintf(stderr, "usage: net_bench stream HOST PORT MIB RUNS | connect HOST PORT N | "
                    "rtt N | rawconnect N | hold\n");
    return 2;
}
