/* The recorder's cost: a syscall-heavy program run plainly, under the
 * recorder's seccomp filter (stops only on the table's calls) and under
 * PTRACE_SYSCALL (stops on every call); best of several runs each.
 *   recorder_bench [ITERATIONS] */
#include "benchlib.h"
#include "shunt/recorder.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
#define RUNS 3

/* The workloads, run in the traced child. */
static int work(const char *kind, long n)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/shunt-recbench.%d", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 1;
    close(fd);
    if (strcmp(kind, "open") == 0) {
        /* Every iteration makes one call the recorder decodes (openat) and
         * one it lets through (close). */
        for (long i = 0; i < n; i++) {
            fd = open(path, O_RDONLY);
            if (fd < 0)
                return 1;
            close(fd);
        }
    } else {
        /* A program that mostly reads and writes: 20 untraced calls for
         * each stat. */
        int z = open("/dev/zero", O_RDONLY);
        char b[64];
        struct stat st;
        for (long i = 0; i < n; i++) {
            for (int k = 0; k < 10; k++) {
                if (read(z, b, sizeof(b)) < 0)
                    return 1;
                syscall(SYS_getppid);
            }
            stat(path, &st);
        }
        close(z);
    }
    unlink(path);
    return 0;
}

/* One run of the workload: mode 0 plain fork/exec/wait, 1 the recorder
 * (seccomp), 2 the recorder with PTRACE_SYSCALL.  Seconds. */
static double one(const char *self, const char *kind, const char *n, int mode,
                  size_t *events)
{
    char *argv[] = {(char *)self, (char *)"--work", (char *)kind, (char *)n,
                    NULL};
    uint64_t t0 = bench_now_ns();
    if (mode == 0) {
        pid_t p = fork();
        if (p == 0) {
            execv(self, argv);
            _exit(127);
        }
        int st;
        if (p < 0 || waitpid(p, &st, 0) != p || st != 0)
            bench_die("plain run");
    } else {
        recorder_opts_t o = {.timeout_ms = 600000, .all_syscalls = mode == 2};
        recorder_result_t res;
        char err[256];
        if (recorder_run(&o, self, argv, environ, &res, err, sizeof(err)) < 0 ||
            res.status != 0) {
            fprintf(stderr, "recorder_bench: %s\n", err);
            bench_die("recorded run");
        }
        *events = res.n_ev;
        recorder_result_free(&res);
    }
    return (double)(bench_now_ns() - t0) / 1e9;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--work") == 0)
        return work(argv[2], atol(argv[3]));
    const char *n = argc > 1 ? argv[1] : "100000";
    long iters = atol(n);
    if (iters <= 0) {
        fprintf(stderr, "usage: recorder_bench [ITERATIONS]\n");
        return 2;
    }
    char self[4096];
    ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (l <= 0)
        bench_die("/proc/self/exe");
    self[l] = 0;
    printf("shunt recorder_bench: %ld iterations, best of %d\n", iters, RUNS);
    printf("%-34s %10s %12s %12s %8s %9s\n", "workload", "plain",
           "seccomp", "PTRACE_SYSCALL", "ratio", "(syscall)");
    static const char *const kinds[] = {"open", "mixed"};
    static const char *const names[] = {
        "open+close (every 2nd call traced)",
        "10x(read+getppid)+stat (1 in 21)"};
    for (size_t k = 0; k < 2; k++) {
        double best[3] = {1e9, 1e9, 1e9};
        size_t ev = 0;
        for (int r = 0; r < RUNS; r++)
            for (int m = 0; m < 3; m++) {
                double s = one(self, kinds[k], n, m, &ev);
                if (s < best[m])
                    best[m] = s;
            }
        printf("%-34s %8.3f s %10.3f s %12.3f s %7.2fx %8.2fx\n", names[k],
               best[0], best[1], best[2], best[1] / best[0],
               best[2] / best[0]);
        printf("%-34s %8.2f us %9.2f us %11.2f us   (%zu events recorded)\n",
               "  per iteration", best[0] * 1e6 / (double)iters,
               best[1] * 1e6 / (double)iters, best[2] * 1e6 / (double)iters,
               ev);
    }
    return 0;
}
