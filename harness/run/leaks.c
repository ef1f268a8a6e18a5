/* expect.no_leaks / expect.leaks: the local command once more, under the
 * ptrace recorder, through `harness exec --record` (exec_record.c), whose
 * stderr ends with "harness exec: recorder: N leak(s)" and one
 * "LEAK <call>: <why>" line per leak (docs/recorder.md). */
#include "shunt/leaks.h"
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

static char *slurp(int fd, size_t max)
{
    size_t len = 0, cap = 4096;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        if (len + 1 == cap) {
            if (cap >= max)
                break;
            char *n = realloc(b, cap * 2);
            if (!n)
                break;
            b = n;
            cap *= 2;
        }
        ssize_t r = read(fd, b + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    b[len] = '\0';
    return b;
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
    size_t na = 0;
    while (in->argv[na])
        na++;
    char tmo[32];
    snprintf(tmo, sizeof(tmo), "%d", in->timeout_ms > 0 ? (in->timeout_ms + 999) / 1000 : 60);
    char **argv = calloc(na + 16, sizeof(char *));
    if (!argv)
        return SHUNT_LEAKS_ERROR;
    size_t k = 0;
    argv[k++] = self;
    argv[k++] = (char *)"exec";
    argv[k++] = (char *)"--target";
    argv[k++] = (char *)in->target;
    argv[k++] = (char *)"--config";
    argv[k++] = (char *)in->scenario;
    argv[k++] = (char *)"--record";
    argv[k++] = (char *)"--record-timeout";
    argv[k++] = tmo;
    argv[k++] = (char *)"--";
    for (size_t i = 0; i < na; i++)
        argv[k++] = in->argv[i];

    char errpath[] = "/tmp/shunt-leaks.XXXXXX";
    int errfd = mkstemp(errpath);
    if (errfd < 0) {
        free(argv);
        *report = msg("temporary file: %s", strerror(errno));
        return SHUNT_LEAKS_ERROR;
    }
    unlink(errpath);
    shunt_proc_t child = {.path = self, .argv = argv,
                      .cwd = in->cwd ? in->cwd : "/tmp",
                      .stdio = {-1, SHUNT_PROC_NULL, errfd},
                      .flags = SHUNT_PROC_GROUP};
    int inf = open(in->stdin_path ? in->stdin_path : "/dev/null",
                   O_RDONLY | O_CLOEXEC);
    int r = inf < 0 ? -errno : (child.stdio[0] = inf, shunt_proc_spawn(&child, NULL));
    free(argv);
    if (inf >= 0)
        close(inf);
    if (r < 0) {
        close(errfd);
        *report = msg("cannot run harness exec --record: %s", strerror(-r));
        return SHUNT_LEAKS_ERROR;
    }
    /* The recorder kills the program's tree at its timeout; this is the
     * backstop for harness exec itself. */
    long limit_ms = (in->timeout_ms > 0 ? in->timeout_ms : 60000) + 30000;
    int status = 0, timed_out = 0;
    if (shunt_proc_wait_until(child.pid, shunt_now_ms() + (uint64_t)limit_ms, -1,
                              NULL, &status, &timed_out) < 0)
        status = -1;
    if (timed_out) {
        close(errfd);
        *report = msg("harness exec --record did not finish in %s s", tmo);
        return SHUNT_LEAKS_ERROR;
    }
    char *err = slurp(errfd, 1 << 20);
    close(errfd);
    if (!err)
        return SHUNT_LEAKS_ERROR;
    /* the summary line, then the LEAK lines after it */
    const char *sum = strstr(err, "harness exec: recorder: ");
    long n = -1;
    if (sum && (sum == err || sum[-1] == '\n'))
        n = strtol(sum + 24, NULL, 10);
    if (n < 0) {
        size_t len = strlen(err);
        *report = msg("no recorder summary from harness exec --record; its stderr "
                      "ends:\n%s",
                      len > 1500 ? err + len - 1500 : err);
        free(err);
        return SHUNT_LEAKS_ERROR;
    }
    size_t cap = strlen(err) + 1, len = 0;
    char *out = malloc(cap);
    long found = 0;
    if (!out) {
        free(err);
        return SHUNT_LEAKS_ERROR;
    }
    out[0] = '\0';
    for (const char *p = sum; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l > 5 && strncmp(p, "LEAK ", 5) == 0) {
            memcpy(out + len, p + 5, l - 5);
            len += l - 5;
            out[len++] = '\n';
            out[len] = '\0';
            found++;
        }
        p += l + (nl ? 1 : 0);
    }
    free(err);
    if (found != n) {
        free(out);
        *report = msg("the recorder counted %ld leaks but listed %ld", n, found);
        return SHUNT_LEAKS_ERROR;
    }
    *report = out;
    return found ? SHUNT_LEAKS_FOUND : SHUNT_LEAKS_NONE;
}
