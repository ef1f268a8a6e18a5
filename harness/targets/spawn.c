/* Running `ip` and `runc` by argv (no shell), capturing their output. */
#include "target_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shunt/log.h"
#include "shunt/proc.h"

void tgt_join_argv(const char *const *argv, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; argv[i] && o + 1 < outlen; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s", i ? " " : "", argv[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Runs argv (PATH search, no shell). With out_fd >= 0, stdout and stderr go
 * there; otherwise both are captured into out. Returns the exit status, 128+
 * signal, or -1 if it could not be started (out says why). */
int tgt_run_argv(const char *const *argv, int out_fd, char *out, size_t outlen)
{
    int p[2] = {-1, -1};
    char cmd[512];
    tgt_join_argv(argv, cmd, sizeof(cmd));
    LOG_DEBUG("run: %s", cmd);
    if (out && outlen)
        out[0] = 0;
    if (out_fd < 0 && pipe2(p, O_CLOEXEC) < 0) {
        snprintf(out, outlen, "pipe: %s", strerror(errno));
        return -1;
    }
    int to = out_fd >= 0 ? out_fd : p[1];
    shunt_proc_t pr = {.argv = (char *const *)argv,
                       .stdio = {SHUNT_PROC_NULL, to, to},
                       .flags = SHUNT_PROC_SEARCH};
    int rc = shunt_proc_spawn(&pr, NULL);
    if (p[1] >= 0)
        close(p[1]);
    if (rc < 0) {
        if (p[0] >= 0)
            close(p[0]);
        snprintf(out, outlen, "cannot run %s: %s", argv[0], strerror(-rc));
        return -1;
    }
    size_t got = 0;
    if (p[0] >= 0) {
        char buf[1024];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof(buf))) != 0) {
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            size_t room = outlen > got + 1 ? outlen - got - 1 : 0;
            size_t take = (size_t)n < room ? (size_t)n : room;
            memcpy(out + got, buf, take);
            got += take;
        }
        close(p[0]);
        while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == ' '))
            got--;
        if (outlen)
            out[got] = 0;
    }
    int st;
    if (shunt_proc_wait(pr.pid, &st) < 0) {
        snprintf(out, outlen, "waitpid: %s", strerror(errno));
        return -1;
    }
    return shunt_proc_exit_code(st);
}

/* Runs argv and turns a failure into "`cmd` failed (exit N): output". */
int tgt_run_ok(const char *const *argv, char *err, size_t errlen)
{
    char out[2048], cmd[512];
    int rc = tgt_run_argv(argv, -1, out, sizeof(out));
    if (rc == 0)
        return 0;
    tgt_join_argv(argv, cmd, sizeof(cmd));
    if (rc < 0)
        snprintf(err, errlen, "`%s`: %s", cmd, out);
    else
        snprintf(err, errlen, "`%s` failed (exit %d): %s", cmd, rc,
                 out[0] ? out : "(no output)");
    return -1;
}

/* Appends the last lines of a log file to err, indented. */
void tgt_append_tail(char *err, size_t errlen, const char *what,
                     const char *path)
{
    size_t len = strlen(err);
    char buf[1600];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err + len, errlen - len, "\n  (no log at %s)", path);
        return;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    char *s = buf;
    if (from > 0 && (s = strchr(buf, '\n')))
        s++;
    else if (from > 0)
        s = buf;
    int w = snprintf(err + len, errlen - len, "\n  %s (%s)%s", what, path,
                     *s ? ", last lines:" : " is empty");
    if (w < 0 || (size_t)w >= errlen - len)
        return;
    len += (size_t)w;
    for (char *line = strtok(s, "\n"); line && len + 8 < errlen;
         line = strtok(NULL, "\n")) {
        w = snprintf(err + len, errlen - len, "\n    | %s", line);
        if (w < 0)
            break;
        len += (size_t)w;
        if (len >= errlen)
            break;
    }
}
