/* Benchmark of the interception layer: the cost it adds to local calls
 * (ns per call, with and without libshunt.so in the same run) and the
 * latency of remote calls next to a raw loopback round trip. */
#include "benchlib.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { M_READ, M_OPENCLOSE, M_STAT, M_COUNT };
static const char *const m_names[M_COUNT] = {
    "read() of 8 bytes, local fd", "open()+close(), local path",
    "stat(), local path"};

typedef struct {
    double ns[M_COUNT];      /* per call */
    double remote_stat[2];   /* p50, p99 in us; < 0 when not measured */
    double remote_orc[2];    /* open+read+close p50, p99 */
    double raw[2];           /* loopback round trip p50, p99 */
} results_t;

static void pcts(uint64_t *v, size_t n, double out[2])
{
    out[0] = bench_pct_us(v, n, 50);
    out[1] = bench_pct_us(v, n, 99);
}

/* Best of 5 batches: the least disturbed estimate of a call's cost. */
static double ns_per_call(int which, const char *path, long n)
{
    double best = 1e18;
    char buf[8];
    int zfd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (zfd < 0)
        bench_die("/dev/zero");
    for (int b = 0; b < 5; b++) {
        uint64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            struct stat st;
            int fd;
            switch (which) {
            case M_READ:
                if (read(zfd, buf, sizeof(buf)) != sizeof(buf))
                    bench_die("read");
                break;
            case M_OPENCLOSE:
                if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                    bench_die(path);
                close(fd);
                break;
            default:
                if (stat(path, &st) < 0)
                    bench_die(path);
            }
        }
        double ns = (double)(bench_now_ns() - t0) / (double)n;
        if (ns < best)
            best = ns;
    }
    close(zfd);
    return best;
}

static void remote_calls(const char *path, size_t n, results_t *r)
{
    uint64_t *lat = calloc(n, sizeof(*lat));
    char buf[65536];
    struct stat st;
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = bench_now_ns();
        if (stat(path, &st) < 0)
            bench_die(path);
        lat[i] = bench_now_ns() - t0;
    }
    pcts(lat, n, r->remote_stat);
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = bench_now_ns();
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, buf, sizeof(buf)) < 0)
            bench_die(path);
        close(fd);
        lat[i] = bench_now_ns() - t0;
    }
    pcts(lat, n, r->remote_orc);
    free(lat);
}

static void raw_roundtrips(size_t n, double out[2])
{
    uint64_t *lat = calloc(n, sizeof(*lat));
    bench_raw_roundtrips(lat, n);
    pcts(lat, n, out);
    free(lat);
}

static void measure(const char *local, const char *remote, long n,
                    size_t rn, results_t *r)
{
    memset(r, 0, sizeof(*r));
    r->remote_stat[0] = r->remote_orc[0] = -1;
    for (int m = 0; m < M_COUNT; m++)
        r->ns[m] = ns_per_call(m, local, n);
    if (remote)
        remote_calls(remote, rn, r);
    raw_roundtrips(rn, r->raw);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: layer_bench --local PATH [--remote PATH --layer LIBSHUNT]\n"
        "                   [--calls N] [--round-trips N]\n"
        "Runs the same measurements twice in one run: without the layer,\n"
        "then in a child with LD_PRELOAD=LIBSHUNT (SHUNT_SOCKET and\n"
        "SHUNT_TOKEN must be set for the remote part), and prints both.\n");
}

int main(int argc, char **argv)
{
    const char *local = NULL, *remote = NULL, *layer = NULL;
    long calls = 200000;
    size_t rts = 5000;
    int child = 0;
    static const struct option opts[] = {
        {"local", required_argument, 0, 'l'},
        {"remote", required_argument, 0, 'r'},
        {"layer", required_argument, 0, 'L'},
        {"calls", required_argument, 0, 'n'},
        {"round-trips", required_argument, 0, 't'},
        {"child", no_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': local = optarg; break;
        case 'r': remote = optarg; break;
        case 'L': layer = optarg; break;
        case 'n': calls = atol(optarg); break;
        case 't': rts = strtoul(optarg, NULL, 10); break;
        case 'c': child = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!local || calls < 100 || rts < 10 || (!child && remote && !layer)) {
        usage(stderr);
        return 2;
    }
    results_t r[2];
    int lat_fd = child ? -1 : bench_hold_cpu_latency();
    if (child) { /* under the layer: results go to stdout as raw bytes */
        measure(local, remote, calls, rts, &r[1]);
        return fwrite(&r[1], sizeof(r[1]), 1, stdout) == 1 ? 0 : 1;
    }
    measure(local, NULL, calls, rts, &r[0]);
    memset(&r[1], 0, sizeof(r[1]));
    int have_layer = 0;
    if (layer) {
        int pfd[2];
        if (pipe(pfd) < 0)
            bench_die("pipe");
        pid_t pid = fork();
        if (pid == 0) {
            dup2(pfd[1], 1);
            setenv("LD_PRELOAD", layer, 1);
            char n1[32], n2[32];
            snprintf(n1, sizeof(n1), "%ld", calls);
            snprintf(n2, sizeof(n2), "%zu", rts);
            char *args[] = {"/proc/self/exe", "--child", "--local", (char *)local,
                            "--remote", (char *)(remote ? remote : local),
                            "--calls", n1, "--round-trips", n2, NULL};
            execv("/proc/self/exe", args);
            _exit(127);
        }
        close(pfd[1]);
        size_t got = 0;
        ssize_t k;
        while (got < sizeof(r[1]) &&
               (k = read(pfd[0], (char *)&r[1] + got, sizeof(r[1]) - got)) > 0)
            got += (size_t)k;
        int st;
        waitpid(pid, &st, 0);
        have_layer = got == sizeof(r[1]) && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!have_layer)
            fprintf(stderr, "layer_bench: the run under the layer failed\n");
    }
    printf("layer_bench: %ld calls per figure (best of 5), %zu round trips; CPU "
           "idle states %s\n", calls, rts,
           lat_fd >= 0 ? "held off" : "NOT held off");
    printf("%-34s %12s %12s %10s  %s\n", "local call", "no layer", "layer",
           "added", "bar");
    for (int m = 0; m < M_COUNT; m++) {
        double add = r[1].ns[m] - r[0].ns[m];
        double bar = m == M_READ ? 10 : 250;
        if (have_layer)
            printf("%-34s %10.1fns %10.1fns %8.1fns  <= %.0f ns: %s\n",
                   m_names[m], r[0].ns[m], r[1].ns[m], add, bar,
                   add <= bar ? "met" : "MISSED");
        else
            printf("%-34s %10.1fns %12s\n", m_names[m], r[0].ns[m], "-");
    }
    if (have_layer && remote) {
        printf("%-34s %10s %10s %8s\n", "remote call (us)", "p50", "p99",
               "p50/raw");
        printf("%-34s %10.1f %10.1f %7.2fx  <= 3x: %s\n", "stat() of a remote file",
               r[1].remote_stat[0], r[1].remote_stat[1],
               r[1].remote_stat[0] / r[1].raw[0],
               r[1].remote_stat[0] <= 3 * r[1].raw[0] ? "met" : "MISSED");
        printf("%-34s %10.1f %10.1f %7.2fx\n", "open+read+close, remote file",
               r[1].remote_orc[0], r[1].remote_orc[1],
               r[1].remote_orc[0] / r[1].raw[0]);
        printf("%-34s %10.1f %10.1f %7.2fx\n", "raw loopback TCP round trip",
               r[1].raw[0], r[1].raw[1], 1.0);
    }
    if (lat_fd >= 0)
        close(lat_fd);
    return have_layer || !layer ? 0 : 1;
}
