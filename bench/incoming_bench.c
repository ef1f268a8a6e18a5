/* The client of the incoming-traffic benchmark (bench/run, docs/
 * benchmarks.md "Incoming"), run inside a service of the target's cluster:
 *   incoming_bench --addr IP:PORT --label NAME [--requests N] [--mib M]
 * Latency: N requests, each on a new connection (connect, GET /, the whole
 * answer, close): p50/p99 in microseconds.  Throughput: M responses of
 * 1 MiB on one keep-alive connection: MiB/s.  --rtt: a raw TCP round trip
 * (1 byte each way on one connection) instead, the baseline of the bars.
 * One line per measurement: "LABEL latency p50_us=.. p99_us=.. word=.."
 * and "LABEL throughput mib_s=..". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in dst;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
        perror("incoming_bench: connect");
        exit(1);
    }
    return fd;
}

/* Sends GET /path and reads one whole answer; its first body bytes go to
 * word (when not NULL).  Returns the body length. */
static size_t request(int fd, const char *path, char *word, size_t wlen)
{
    char req[128];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: b\r\n\r\n",
                     path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        perror("incoming_bench: send");
        exit(1);
    }
    static char buf[1 << 16];
    size_t have = 0;
    char *end;
    while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
        ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (r <= 0) {
            fprintf(stderr, "incoming_bench: no answer (%s)\n",
                    r < 0 ? strerror(errno) : "EOF");
            exit(1);
        }
        have += (size_t)r;
    }
    const char *cl = memmem(buf, (size_t)(end - buf), "Content-Length: ", 16);
    size_t len = cl ? strtoul(cl + 16, NULL, 10) : 0;
    size_t hl = (size_t)(end + 4 - buf);
    /* the body's first bytes may come in a read of their own */
    while (word && have == hl && len > 0) {
        ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (r <= 0) {
            fprintf(stderr, "incoming_bench: short answer\n");
            exit(1);
        }
        have += (size_t)r;
    }
    size_t got = have - hl;
    if (word) {
        size_t c = got < wlen - 1 ? got : wlen - 1;
        memcpy(word, end + 4, c);
        word[c] = 0;
    }
    while (got < len) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r <= 0) {
            fprintf(stderr, "incoming_bench: short answer\n");
            exit(1);
        }
        got += (size_t)r;
    }
    return len;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *addr = NULL, *label = "run";
    int requests = 1000, mib = 64, rtt = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc)
            addr = argv[++i];
        else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
            label = argv[++i];
        else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
            requests = atoi(argv[++i]);
        else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
            mib = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rtt") == 0)
            rtt = 1;
        else {
            fprintf(stderr, "usage: incoming_bench --addr IP:PORT [--label "
                            "NAME] [--requests N] [--mib M] [--rtt]\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    char ip[64];
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon || (size_t)(colon - addr) >= sizeof(ip) || requests < 1) {
        fprintf(stderr, "incoming_bench: --addr IP:PORT is required\n");
        return 2;
    }
    memcpy(ip, addr, (size_t)(colon - addr));
    ip[colon - addr] = 0;
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, ip, &dst.sin_addr) != 1) {
        fprintf(stderr, "incoming_bench: bad address %s\n", ip);
        return 2;
    }
    double *lat = calloc((size_t)requests, sizeof(*lat));
    if (!lat)
        return 1;
    if (rtt) { /* an echo peer: 1 byte each way */
        int fd = dial();
        for (int i = 0; i < requests; i++) {
            double t0 = now_us();
            char c = 'x';
            if (send(fd, &c, 1, 0) != 1 || recv(fd, &c, 1, MSG_WAITALL) != 1) {
                fprintf(stderr, "incoming_bench: echo failed\n");
                return 1;
            }
            lat[i] = now_us() - t0;
        }
        close(fd);
        qsort(lat, (size_t)requests, sizeof(*lat), cmp);
        printf("%s rtt p50_us=%.1f p99_us=%.1f\n", label,
               lat[requests / 2], lat[requests * 99 / 100]);
        return 0;
    }
    char word[32] = "";
    for (int i = 0; i < requests; i++) {
        double t0 = now_us();
        int fd = dial();
        request(fd, "/", word, sizeof(word));
        close(fd);
        lat[i] = now_us() - t0;
    }
    qsort(lat, (size_t)requests, sizeof(*lat), cmp);
    printf("%s latency p50_us=%.1f p99_us=%.1f word=%s\n", label,
           lat[requests / 2], lat[requests * 99 / 100], word);
    if (mib > 0) {
        int fd = dial();
        double t0 = now_us();
        size_t total = 0;
        for (int i = 0; i < mib; i++)
            total += request(fd, "/1048576", NULL, 0);
        double secs = (now_us() - t0) / 1e6;
        close(fd);
        printf("%s throughput mib_s=%.1f\n", label,
               (double)total / (1024.0 * 1024.0) / secs);
    }
    free(lat);
    return 0;
}
