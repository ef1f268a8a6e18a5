/* The supervisor's benchmark program (bench/supervisor-run,
 * docs/benchmarks.md "The supervisor"): built twice, linked -static
 * (sv_bench_static: the supervisor's case) and dynamically (sv_bench: the
 * same program under the layer).  Each mode prints one line of key=value
 * figures; the script runs a mode with and without an engine and puts the
 * two side by side.
 *   sv_bench local PATH FAST SLOW
 *       ns per call, the median and the best of 25 batches: openat+close
 *       and stat of the local PATH (calls the filter sends to the
 *       supervisor, SLOW in all), getppid and an 8-byte read of /dev/zero
 *       (calls it does not, FAST in all)
 *   sv_bench local PATH FAST SLOW BURST
 *       then BURST threads making 200 stats of PATH each at once, and the
 *       stat of PATH again, alone (the supervisor keeps the workers such a
 *       burst made it start)
 *   sv_bench floor PATH SLOW
 *       the stat of PATH (median and best of 25 batches) under the least a
 *       user-notification engine does: a filter sending newfstatat only,
 *       answered by one thread of this process that reads the path from
 *       the caller's memory, checks the notification is still valid and
 *       lets the kernel run the call; the floor under the supervisor's
 *       figures on this host
 *   sv_bench remote PATH N
 *       stat of a remote PATH, N times: p50 and p99 in us
 *   sv_bench spawn N PROGRAM [ARGS...]
 *       fork + execv of PROGRAM (stdout to /dev/null) + waitpid, N times:
 *       p50 and p99 in us
 *   sv_bench rtt N
 *       the raw loopback TCP round trip (benchlib), p50 and p99 in us */
#include "benchlib.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { C_OPENCLOSE, C_STAT, C_GETPPID, C_READ, C_COUNT };
static const char *const c_keys[C_COUNT] = {"openclose_ns", "stat_ns",
                                            "getppid_ns", "read_ns"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ns per call over BATCHES batches of n/BATCHES calls each: the median
 * batch (what a call costs while the host does what it usually does) and
 * the best one (the least disturbed). */
#define BATCHES 25
static void ns_per_call(int which, const char *path, long n, double *median,
                        double *best)
{
    double ns[BATCHES];
    char buf[8];
    long per = n / BATCHES > 0 ? n / BATCHES : 1;
    int zfd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (zfd < 0)
        bench_die("/dev/zero");
    for (int b = 0; b < BATCHES; b++) {
        uint64_t t0 = bench_now_ns();
        for (long i = 0; i < per; i++) {
            struct stat st;
            int fd;
            switch (which) {
            case C_OPENCLOSE:
                if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                    bench_die(path);
                close(fd);
                break;
            case C_STAT:
                if (stat(path, &st) < 0)
                    bench_die(path);
                break;
            case C_GETPPID:
                if (syscall(SYS_getppid) <= 0)
                    bench_die("getppid");
                break;
            default:
                if (read(zfd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
                    bench_die("read");
            }
        }
        ns[b] = (double)(bench_now_ns() - t0) / (double)per;
    }
    close(zfd);
    qsort(ns, BATCHES, sizeof(ns[0]), cmp_double);
    *median = ns[BATCHES / 2];
    *best = ns[0];
}

static const char *burst_path;

static void *burst_thread(void *arg)
{
    (void)arg;
    struct stat st;
    for (int i = 0; i < 200; i++)
        if (stat(burst_path, &st) < 0)
            bench_die(burst_path);
    return NULL;
}

static void burst(const char *path, long n)
{
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    if (!t)
        bench_die("calloc");
    burst_path = path;
    for (long i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, burst_thread, NULL) != 0)
            bench_die("pthread_create");
    for (long i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    free(t);
}

/* ---- floor: a minimal user-notification responder ---------------------- */
static int floor_fd = -1;

static void *floor_responder(void *arg)
{
    (void)arg;
    while (__atomic_load_n(&floor_fd, __ATOMIC_ACQUIRE) < 0)
        usleep(100);
    for (;;) {
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;
        memset(&req, 0, sizeof(req));
        if (ioctl(floor_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT)
                continue;
            return NULL;
        }
        char path[4096];
        struct iovec l = {.iov_base = path, .iov_len = 256};
        struct iovec r = {.iov_base = (void *)(uintptr_t)req.data.args[1],
                          .iov_len = 256};
        process_vm_readv((pid_t)req.pid, &l, 1, &r, 1, 0);
        uint64_t id = req.id;
        if (ioctl(floor_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
            continue;
        memset(&resp, 0, sizeof(resp));
        resp.id = req.id;
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        ioctl(floor_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
}

/* The filter on the calling thread only (the responder, started before,
 * is not under it): newfstatat goes to user space.  The listener's fd. */
static int floor_filter(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_newfstatat, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        bench_die("no_new_privs");
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                          SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (fd < 0)
        bench_die("seccomp");
    return fd;
}

static long count(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*end || n < 1) {
        fprintf(stderr, "sv_bench: %s: not a count\n", s);
        exit(2);
    }
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: sv_bench local PATH FAST SLOW [BURST] | remote PATH N |\n"
                    "       floor PATH SLOW | spawn N PROGRAM [ARGS...] | rtt N\n");
    exit(2);
}

static void report(const char *mode, uint64_t *lat, size_t n)
{
    double p50 = bench_pct_us(lat, n, 50), p99 = bench_pct_us(lat, n, 99);
    printf("sv_bench %s n=%zu p50_us=%.2f p99_us=%.2f\n", mode, n, p50, p99);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    const char *mode = argv[1];
    int hold = bench_hold_cpu_latency();
    if (strcmp(mode, "local") == 0 && (argc == 5 || argc == 6)) {
        long fast = count(argv[3]), slow = count(argv[4]);
        double med[C_COUNT], best[C_COUNT];
        for (int c = 0; c < C_COUNT; c++)
            ns_per_call(c, argv[2], c == C_OPENCLOSE || c == C_STAT ? slow : fast,
                        &med[c], &best[c]);
        printf("sv_bench local");
        for (int c = 0; c < C_COUNT; c++)
            printf(" %s=%.1f %s_best=%.1f", c_keys[c], med[c], c_keys[c],
                   best[c]);
        if (argc == 6) {
            double m, b;
            burst(argv[2], count(argv[5]));
            ns_per_call(C_STAT, argv[2], slow, &m, &b);
            printf(" burst_threads=%s stat_after_burst_ns=%.1f"
                   " stat_after_burst_ns_best=%.1f", argv[5], m, b);
        }
        printf(" cpu_idle_held=%s\n", hold >= 0 ? "yes" : "no");
    } else if (strcmp(mode, "floor") == 0 && argc == 4) {
        pthread_t t;
        if (pthread_create(&t, NULL, floor_responder, NULL) != 0)
            bench_die("pthread_create");
        __atomic_store_n(&floor_fd, floor_filter(), __ATOMIC_RELEASE);
        double m, b;
        ns_per_call(C_STAT, argv[2], count(argv[3]), &m, &b);
        printf("sv_bench floor stat_ns=%.1f stat_ns_best=%.1f\n", m, b);
        fflush(stdout);
        _exit(0); /* the responder never returns */
    } else if (strcmp(mode, "remote") == 0 && argc == 4) {
        size_t n = (size_t)count(argv[3]);
        uint64_t *lat = calloc(n, sizeof(*lat));
        struct stat st;
        if (!lat)
            bench_die("calloc");
        for (size_t i = 0; i < n / 10 + 1; i++) /* warm: connections made */
            if (stat(argv[2], &st) < 0)
                bench_die(argv[2]);
        for (size_t i = 0; i < n; i++) {
            uint64_t t0 = bench_now_ns();
            if (stat(argv[2], &st) < 0)
                bench_die(argv[2]);
            lat[i] = bench_now_ns() - t0;
        }
        report("remote_stat", lat, n);
        free(lat);
    } else if (strcmp(mode, "spawn") == 0 && argc >= 4) {
        size_t n = (size_t)count(argv[2]);
        uint64_t *lat = calloc(n, sizeof(*lat));
        if (!lat)
            bench_die("calloc");
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null < 0)
            bench_die("/dev/null");
        for (size_t i = 0; i < n; i++) {
            uint64_t t0 = bench_now_ns();
            pid_t p = fork();
            if (p < 0)
                bench_die("fork");
            if (p == 0) {
                dup2(null, 1);
                execv(argv[3], argv + 3);
                _exit(127);
            }
            int st;
            if (waitpid(p, &st, 0) != p || !WIFEXITED(st) ||
                WEXITSTATUS(st) != 0) {
                fprintf(stderr, "sv_bench: %s: status %#x\n", argv[3], st);
                exit(1);
            }
            lat[i] = bench_now_ns() - t0;
        }
        report("spawn", lat, n);
        free(lat);
    } else if (strcmp(mode, "rtt") == 0 && argc == 3) {
        size_t n = (size_t)count(argv[2]);
        uint64_t *lat = calloc(n, sizeof(*lat));
        if (!lat)
            bench_die("calloc");
        bench_raw_roundtrips(lat, n);
        report("rtt", lat, n);
        free(lat);
    } else {
        usage();
    }
    if (hold >= 0)
        close(hold);
    return 0;
}
