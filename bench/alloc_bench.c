/* Benchmark of the layer's allocator (bench/alloc-run runs it under two
 * builds of libshunt.so: its own allocator and glibc's malloc): remote
 * calls per second and the process's resident memory after many remote
 * opens, with the program's own threads using glibc's malloc meanwhile
 * or not.  Prints one "key value" line per figure.
 *   alloc_bench REMOTE_PATH STATS OPENS HOLD
 * STATS remote stat()s timed (best of 5 batches); OPENS remote open()+read()+close()s, RSS
 * measured before and after; HOLD remote fds then held open at once. */
#include "benchlib.h"
#include "rawsys.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* VmRSS in KiB, read with raw syscalls: the layer never sees it. */
static long rss_kib(void)
{
    char buf[4096];
    long fd = raw_syscall3(SYS_open, (long)"/proc/self/status", O_RDONLY, 0);
    if (fd < 0)
        return -1;
    long n = raw_syscall3(SYS_read, fd, (long)buf, sizeof(buf) - 1);
    raw_syscall3(SYS_close, fd, 0, 0);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strstr(buf, "VmRSS:");
    return p ? strtol(p + 6, NULL, 10) : -1;
}

/* Best of 5 batches of n/5 (the machine is shared: the least disturbed
 * batch is the estimate). */
static double stats_per_s(const char *path, long n)
{
    struct stat st;
    double best = 0;
    for (int b = 0; b < 5; b++) {
        uint64_t t0 = bench_now_ns();
        for (long i = 0; i < n / 5; i++)
            if (stat(path, &st) < 0)
                bench_die(path);
        double r = (double)(n / 5) * 1e9 / (double)(bench_now_ns() - t0);
        if (r > best)
            best = r;
    }
    return best;
}

static double orc_batch(const char *path, long n)
{
    char buf[512];
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, buf, sizeof(buf)) < 0)
            bench_die(path);
        close(fd);
    }
    return (double)n * 1e9 / (double)(bench_now_ns() - t0);
}

static double orc_per_s(const char *path, long n)
{
    double best = 0;
    for (int b = 0; b < 5; b++) {
        double r = orc_batch(path, n / 5);
        if (r > best)
            best = r;
    }
    return best;
}

static volatile int stop;

static void *churn(void *arg)
{
    (void)arg;
    void *slot[64] = {0};
    unsigned x = 12345;
    while (!stop) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        free(slot[x % 64]);
        slot[x % 64] = malloc(16 + (x >> 8) % 4000);
    }
    for (int i = 0; i < 64; i++)
        free(slot[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: alloc_bench REMOTE_PATH STATS OPENS HOLD\n");
        return 2;
    }
    const char *path = argv[1];
    long stats = atol(argv[2]), opens = atol(argv[3]), hold = atol(argv[4]);
    int lat = bench_hold_cpu_latency();
    (void)orc_batch(path, 100); /* the connection and the first calls */
    printf("stat_per_s %.0f\n", stats_per_s(path, stats));
    printf("orc_per_s %.0f\n", orc_per_s(path, stats / 2));
    /* the same with a thread of the program's in glibc's malloc meanwhile */
    pthread_t th;
    pthread_create(&th, NULL, churn, NULL);
    printf("stat_churn_per_s %.0f\n", stats_per_s(path, stats));
    stop = 1;
    pthread_join(th, NULL);
    long r0 = rss_kib();
    (void)orc_batch(path, opens);
    long r1 = rss_kib();
    int *fds = calloc((size_t)hold, sizeof(*fds));
    for (long i = 0; i < hold; i++)
        if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            bench_die("hold");
    long r2 = rss_kib();
    for (long i = 0; i < hold; i++)
        close(fds[i]);
    long r3 = rss_kib();
    printf("rss_kib_start %ld\n", r0);
    printf("rss_kib_after_opens %ld\n", r1);
    printf("rss_kib_holding %ld\n", r2);
    printf("rss_kib_closed %ld\n", r3);
    if (lat >= 0)
        close(lat);
    return 0;
}
