/* expect.no_leaks / expect.leaks: the local command once more, under the
 * ptrace recorder, through `harness exec --record` (exec_record.c), whose
 * stderr ends with "harness exec: recorder: N leak(s)" and one
 * "LEAK <call>: <why>" line per leak (docs/recorder.md). */
#include "shunt/leaks.h"
#include "shunt/buf.h"
#include "shunt/proc.h"
#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *msg(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return strdup(buf);
}

/* harness exec --record for the case's program, as this harness (self):
 * argv (malloc'd; its strings are borrowed). */
static char **record_argv(const shunt_leaks_input_t *in, char *self, char *tmo)
{
    size_t na = 0;
    while (in->argv[na])
        na++;
    char **argv = calloc(na + 16, sizeof(char *));
    if (!argv)
        return NULL;
    size_t k = 0;
    argv[k++] = self;
    argv[k++] = (char *)"exec";
    argv[k++] = (char *)"--target";
    argv[k++] = (char *)in->target;
    argv[k++] = (char *)"--engine"; /* the engine of the run it repeats */
    argv[k++] = (char *)(in->engine ? in->engine : "layer");
    argv[k++] = (char *)"--config";
    argv[k++] = (char *)in->scenario;
    argv[k++] = (char *)"--record";
    argv[k++] = (char *)"--record-timeout";
    argv[k++] = tmo;
    argv[k++] = (char *)"--";
    for (size_t i = 0; i < na; i++)
        argv[k++] = in->argv[i];
    return argv;
}

/* Runs argv in the case's cwd with its stdin, its stderr into errfd, until
 * it ends or its backstop (the recorder kills the program's tree at its
 * timeout; this is the backstop for harness exec itself).  0, or -1 with
 * *report. */
static int run_record(const shunt_leaks_input_t *in, char **argv, const char *tmo,
                      int errfd, char **report)
{
    shunt_proc_t child = {.path = argv[0], .argv = argv,
                          .cwd = in->cwd ? in->cwd : "/tmp",
                          .stdio = {-1, SHUNT_PROC_NULL, errfd},
                          .flags = SHUNT_PROC_GROUP};
    int inf = open(in->stdin_path ? in->stdin_path : "/dev/null",
                   O_RDONLY | O_CLOEXEC);
    int r = inf < 0 ? -errno : (child.stdio[0] = inf, shunt_proc_spawn(&child, NULL));
    if (inf >= 0)
        close(inf);
    if (r < 0) {
        *report = msg("cannot run harness exec --record: %s", strerror(-r));
        return -1;
    }
    long limit_ms = (in->timeout_ms > 0 ? in->timeout_ms : 60000) + 30000;
    int status = 0, timed_out = 0;
    shunt_proc_wait_until(child.pid, shunt_now_ms() + (uint64_t)limit_ms, -1, NULL,
                          &status, &timed_out);
    if (timed_out) {
        *report = msg("harness exec --record did not finish in %s s", tmo);
        return -1;
    }
    return 0;
}

/* The LEAK lines of harness exec --record's stderr (err), after its
 * summary line "harness exec: recorder: N leak(s)": *report holds them,
 * one a line. */
static int parse_leaks(const char *err, char **report)
{
    const char *sum = strstr(err, "harness exec: recorder: ");
    long n = -1;
    if (sum && (sum == err || sum[-1] == '\n'))
        n = strtol(sum + 24, NULL, 10);
    if (n < 0) {
        size_t len = strlen(err);
        *report = msg("no recorder summary from harness exec --record; its stderr "
                      "ends:\n%s",
                      len > 1500 ? err + len - 1500 : err);
        return SHUNT_LEAKS_ERROR;
    }
    shunt_buf_t out = {0};
    long found = 0;
    shunt_buf_put(&out, "", 0);
    for (const char *p = sum; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l > 5 && strncmp(p, "LEAK ", 5) == 0) {
            shunt_buf_put(&out, p + 5, l - 5);
            shunt_buf_put(&out, "\n", 1);
            found++;
        }
        p += l + (nl ? 1 : 0);
    }
    char *text = shunt_buf_take(&out);
    if (!text)
        return SHUNT_LEAKS_ERROR;
    if (found != n) {
        free(text);
        *report = msg("the recorder counted %ld leaks but listed %ld", n, found);
        return SHUNT_LEAKS_ERROR;
    }
    *report = text;
    return found ? SHUNT_LEAKS_FOUND : SHUNT_LEAKS_NONE;
}

int shunt_leaks_check(const shunt_leaks_input_t *in, char **report)
{
    *report = NULL;
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0) {
        *report = msg("cannot find the harness binary: %s", strerror(errno));
        return SHUNT_LEAKS_ERROR;
    }
    self[sl] = '\0';
    char tmo[32];
    snprintf(tmo, sizeof(tmo), "%d", in->timeout_ms > 0 ? (in->timeout_ms + 999) / 1000 : 60);
    char **argv = record_argv(in, self, tmo);
    if (!argv)
        return SHUNT_LEAKS_ERROR;
    char errpath[] = "/tmp/shunt-leaks.XXXXXX";
    int errfd = mkstemp(errpath);
    if (errfd < 0) {
        free(argv);
        *report = msg("temporary file: %s", strerror(errno));
        return SHUNT_LEAKS_ERROR;
    }
    unlink(errpath);
    int r = run_record(in, argv, tmo, errfd, report);
    free(argv);
    char *err = r < 0 || lseek(errfd, 0, SEEK_SET) < 0 ? NULL
                                                  : shunt_read_fd(errfd, 1 << 20, 1, NULL);
    close(errfd);
    if (!err)
        return SHUNT_LEAKS_ERROR;
    r = parse_leaks(err, report);
    free(err);
    return r;
}
