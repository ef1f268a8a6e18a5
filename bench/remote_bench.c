/* Benchmark: remote stat round trip and remote sequential read through the
 * proxy and the agent, each printed next to its baseline measured in the
 * same run (a raw loopback TCP round trip; a local read). */
#include "benchlib.h"
#include "shunt/client.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- remote ------------------------------------------------------------- */

static void remote_stats(shunt_client_t *c, const char *path, uint64_t *lat,
                         size_t n)
{
    shunt_stat_t st = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(path)};
    shunt_msg_t m;
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = bench_now_ns();
        int r = shunt_client_call(c, SHUNT_T_STAT, &st, &m);
        lat[i] = bench_now_ns() - t0;
        if (r < 0) {
            fprintf(stderr, "remote stat %s: %s\n", path, strerror(-r));
            exit(1);
        }
    }
}

static double remote_read_mbs(shunt_client_t *c, const char *path,
                              uint64_t *bytes_out)
{
    shunt_open_t o = {.path = shunt_str(path), .flags = O_RDONLY};
    shunt_msg_t m;
    int r = shunt_client_call(c, SHUNT_T_OPEN, &o, &m);
    if (r < 0) {
        fprintf(stderr, "remote open %s: %s\n", path, strerror(-r));
        exit(1);
    }
    uint32_t h = m.u.open_r.handle;
    uint32_t chunk = SHUNT_DATA_MAX(shunt_client_max_frame(c));
    uint64_t total = 0, t0 = bench_now_ns();
    for (;;) {
        shunt_read_t rd = {.handle = h, .count = chunk};
        if ((r = shunt_client_call(c, SHUNT_T_READ, &rd, &m)) < 0) {
            fprintf(stderr, "remote read: %s\n", strerror(-r));
            exit(1);
        }
        if (m.u.data_r.data.len == 0)
            break;
        total += m.u.data_r.data.len;
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    shunt_close_t cl = {.handle = h};
    shunt_client_call(c, SHUNT_T_CLOSE, &cl, &m);
    *bytes_out = total;
    return (double)total / (1024.0 * 1024.0) / secs;
}

static double local_read_mbs(const char *path, size_t chunk, uint64_t *bytes_out)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        bench_die(path);
    char *buf = malloc(chunk);
    uint64_t total = 0, t0 = bench_now_ns();
    for (;;) {
        ssize_t n = read(fd, buf, chunk);
        if (n < 0)
            bench_die("read");
        if (n == 0)
            break;
        total += (uint64_t)n;
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    close(fd);
    free(buf);
    *bytes_out = total;
    return (double)total / (1024.0 * 1024.0) / secs;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: remote_bench --socket PATH --stat-path P --read-path P\n"
        "                    --local-file F [--iterations N] [--runs R]\n"
        "Measures through `harness proxy` (token at PATH.token):\n"
        "  remote stat round trip p50/p99 vs a raw loopback TCP round trip\n"
        "  remote sequential read MB/s vs a local read of F\n"
        "Bars: stat p50 <= 3x raw round trip; remote read >= 500 MB/s.\n");
}

int main(int argc, char **argv)
{
    const char *sock = NULL, *stat_path = NULL, *read_path = NULL,
               *local_file = NULL;
    size_t iters = 20000;
    int runs = 3;
    static const struct option opts[] = {
        {"socket", required_argument, 0, 's'},
        {"stat-path", required_argument, 0, 't'},
        {"read-path", required_argument, 0, 'r'},
        {"local-file", required_argument, 0, 'l'},
        {"iterations", required_argument, 0, 'n'},
        {"runs", required_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's': sock = optarg; break;
        case 't': stat_path = optarg; break;
        case 'r': read_path = optarg; break;
        case 'l': local_file = optarg; break;
        case 'n': iters = strtoul(optarg, NULL, 10); break;
        case 'R': runs = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!sock || !stat_path || !read_path || !local_file || iters < 10 ||
        runs < 1) {
        usage(stderr);
        return 2;
    }
    char tpath[4096], token[256];
    snprintf(tpath, sizeof(tpath), "%s.token", sock);
    FILE *f = fopen(tpath, "r");
    if (!f || !fgets(token, sizeof(token), f))
        bench_die(tpath);
    fclose(f);
    shunt_client_opts_t o = {.role = SHUNT_ROLE_TOOL, .token = token,
                             .token_len = strcspn(token, "\n"),
                             .name = "remote_bench", .timeout_ms = 30000};
    char err[256];
    shunt_client_t *c = shunt_client_connect(sock, &o, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int lat_fd = bench_hold_cpu_latency();
    uint64_t *raw = calloc(iters, sizeof(*raw));
    uint64_t *rem = calloc(iters, sizeof(*rem));

    /* Warm up both paths, then measure them back to back. */
    bench_raw_roundtrips(raw, iters / 10);
    remote_stats(c, stat_path, rem, iters / 10);
    bench_raw_roundtrips(raw, iters);
    double raw50 = bench_pct_us(raw, iters, 50), raw99 = bench_pct_us(raw, iters, 99);
    remote_stats(c, stat_path, rem, iters);
    double st50 = bench_pct_us(rem, iters, 50), st99 = bench_pct_us(rem, iters, 99);

    double best_remote = 0, best_local = 0;
    uint64_t rb = 0, lb = 0;
    for (int i = 0; i < runs; i++) {
        double r = remote_read_mbs(c, read_path, &rb);
        double l = local_read_mbs(local_file, SHUNT_DATA_MAX(shunt_client_max_frame(c)), &lb);
        if (r > best_remote)
            best_remote = r;
        if (l > best_local)
            best_local = l;
    }

    printf("shunt remote_bench: %zu round trips, best of %d reads; CPU idle "
           "states %s\n", iters, runs,
           lat_fd >= 0 ? "held off (/dev/cpu_dma_latency = 0)"
                       : "NOT held off (no /dev/cpu_dma_latency): wake-up "
                         "latency inflates both round trips");
    printf("%-34s %12s %12s %8s  %s\n", "metric", "shunt", "baseline", "ratio", "bar");
    printf("%-34s %10.1fus %10.1fus %7.2fx  %s\n", "stat round trip p50 (vs raw TCP)",
           st50, raw50, st50 / raw50, st50 <= 3 * raw50 ? "<= 3x: met" : "<= 3x: MISSED");
    printf("%-34s %10.1fus %10.1fus %7.2fx\n", "stat round trip p99 (vs raw TCP)",
           st99, raw99, st99 / raw99);
    printf("%-34s %8.0fMB/s %8.0fMB/s %7.2fx  %s\n", "sequential read (vs local read)",
           best_remote, best_local, best_remote / best_local,
           best_remote >= 500 ? ">= 500 MB/s: met" : ">= 500 MB/s: MISSED");
    printf("read sizes: remote %llu bytes, local %llu bytes\n",
           (unsigned long long)rb, (unsigned long long)lb);
    shunt_client_close(c);
    if (lat_fd >= 0)
        close(lat_fd);
    free(raw);
    free(rem);
    return rb == lb ? 0 : 1;
}
