/* The layer's logger: levels, one line per call with pid/tid, written with
 * a raw write(2) to SHUNT_LOG_FILE or stderr, never stdout. */
#include "layer.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

int shunt_log_level;
static int log_fd = -1;

void shunt_log_open(const char *file)
{
    int fd;
    if (file && *file)
        fd = (int)LSYS4(SYS_openat, AT_FDCWD, file,
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    else
        fd = (int)LSYS3(SYS_fcntl, 2, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
        log_fd = -1;
        return;
    }
    log_fd = layer_fd_protect(fd, &log_fd);
}

size_t shunt_log_vline(char *line, size_t cap, int n, const char *fmt,
                       va_list ap)
{
    if (n < 0)
        n = 0;
    int m = vsnprintf(line + n, cap - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > cap - 2)
        len = cap - 2;
    line[len++] = '\n';
    return len;
}

void shunt_logf(int level, const char *fmt, ...)
{
    static const char *const names[] = {"", "error", "warn", "info", "debug",
                                        "trace"};
    if (log_fd < 0)
        return;
    char line[1024];
    int n = snprintf(line, sizeof(line), "shunt[%ld/%ld] %s: ",
                     LSYS0(SYS_getpid), LSYS0(SYS_gettid),
                     names[level < 0 || level > 5 ? 0 : level]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t len = shunt_log_vline(line, sizeof(line), n, fmt, ap);
    va_end(ap);
    LSYS3(SYS_write, log_fd, line, len);
}

const char *layer_estr(int e)
{
    const char *s = strerrordesc_np(e < 0 ? -e : e);
    return s ? s : "unknown error";
}
