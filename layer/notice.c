/* "shunt: not intercepted: ..." — a program of the session that the layer
 * cannot enter (a static child, a Go program it cannot hook) runs on the
 * local host.  That is said on stderr every time, logging or not, and
 * appended to $SHUNT_UNHOOKED_FILE (harness run makes it an error of the
 * case).  Raw syscalls only, no malloc: exec hooks call it in vfork-style
 * children (docs/hooking.md, "Programs the layer cannot enter"). */
#include "layer.h"
#include "notice.h"

#include <elf.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

static char report_path[4096]; /* $SHUNT_UNHOOKED_FILE at start-up */

void shunt_notice_init(void)
{
    const char *f = getenv("SHUNT_UNHOOKED_FILE");
    if (f && f[0] == '/' && strlen(f) < sizeof(report_path))
        strcpy(report_path, f);
}

/* Formats "shunt: PREFIX..." into line, writes it on stderr and to the
 * layer's log; returns its length (with the newline). */
__attribute__((format(printf, 4, 0))) static size_t
notice_line(char *line, size_t cap, const char *prefix, const char *fmt,
            va_list ap)
{
    int n = snprintf(line, cap, "shunt: %s", prefix);
    size_t len = shunt_log_vline(line, cap, n, fmt, ap);
    LSYS3(SYS_write, 2, line, len);
    LOG_WARN("%.*s", (int)(len - 1), line);
    return len;
}

void shunt_notice_unhooked(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t len = notice_line(line, sizeof(line), "not intercepted: ", fmt, ap);
    va_end(ap);
    if (!report_path[0])
        return;
    int fd = (int)LSYS4(SYS_openat, AT_FDCWD, report_path,
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    LSYS3(SYS_write, fd, line, len);
    LSYS1(SYS_close, fd);
}

void shunt_notice(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    notice_line(line, sizeof(line), "", fmt, ap);
    va_end(ap);
}

/* 1 if the ELF at fd has no PT_INTERP (static, or static-pie), 0 if it has
 * one or is not ELF, -1 if unreadable. */
static int elf_static(int fd, const unsigned char *head, long n)
{
    if (n < (long)sizeof(Elf64_Ehdr) || memcmp(head, ELFMAG, SELFMAG) != 0 ||
        head[EI_CLASS] != ELFCLASS64)
        return 0;
    Elf64_Ehdr eh;
    memcpy(&eh, head, sizeof(eh));
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
        return 0;
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
        eh.e_phnum > 64)
        return -1;
    Elf64_Phdr ph[64];
    size_t len = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
    if (LSYS4(SYS_pread64, fd, ph, len, eh.e_phoff) != (long)len)
        return -1;
    for (unsigned i = 0; i < eh.e_phnum; i++)
        if (ph[i].p_type == PT_INTERP)
            return 0;
    return 1;
}

/* Whether exec'ing the file at fd (a program, or a #! script whose
 * interpreter chain ends in one) starts a static program; its path in
 * what.  depth bounds the #! chain as the kernel does. */
static int exec_static(int fd, char *what, size_t whatlen, int depth)
{
    unsigned char head[sizeof(Elf64_Ehdr) > 256 ? sizeof(Elf64_Ehdr) : 256];
    long n = LSYS4(SYS_pread64, fd, head, sizeof(head) - 1, 0);
    if (n <= 0)
        return 0;
    head[n] = 0;
    if (n > 2 && head[0] == '#' && head[1] == '!') {
        if (depth >= 4)
            return 0;
        char *p = (char *)head + 2;
        p += strspn(p, " \t");
        size_t len = strcspn(p, " \t\r\n");
        if (!len || p[len] == 0 || p[0] != '/')
            return 0;
        p[len] = 0;
        int ifd = (int)LSYS4(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0);
        if (ifd < 0)
            return 0;
        int r = exec_static(ifd, what, whatlen, depth + 1);
        LSYS1(SYS_close, ifd);
        if (r == 1 && !what[0])
            snprintf(what, whatlen, "%s", p);
        return r;
    }
    return elf_static(fd, head, n) == 1;
}

/* Called by the exec hooks (layer/children.c) before the real exec: a
 * program the kernel will start without the dynamic loader gets no layer.
 * dirfd/path as execveat's (AT_EMPTY_PATH with path "" for fexecve).
 * 1: it is static (named on stderr); -1: the exec will fail (no such
 * executable file); 0: otherwise, or not known. */
/* Why a static program exec'd here is not handed to the supervisor. */
static const char *static_why(void)
{
    if (!shunt_children_supervisor())
        return "and no supervisor was given: harness exec gives one";
    if (shunt_go_main)
        return "and Go's own execve in an os/exec child cannot be handed to "
               "the supervisor: harness exec --engine supervisor runs the "
               "whole tree";
    return "and an exec of an fd cannot be handed to the supervisor";
}

int shunt_exec_check(int dirfd, const char *path, int at_flags)
{
    if (LAYER_BYPASS() || !path)
        return 0;
    int ret = 0;
    int saved = errno;
    LAYER_ENTER();
    int fd;
    if (!path[0] && (at_flags & AT_EMPTY_PATH))
        fd = (int)LSYS3(SYS_fcntl, dirfd, F_DUPFD_CLOEXEC, 0);
    else
        fd = (int)LSYS4(SYS_openat, dirfd, path, O_RDONLY | O_CLOEXEC, 0);
    /* Only what exec will run: execvp tries every PATH entry. */
    if (fd >= 0 && (path[0] ? LSYS4(SYS_faccessat, dirfd, path, X_OK, 0)
                            : LSYS4(SYS_faccessat, fd, "", X_OK, 0)) != 0) {
        LSYS1(SYS_close, fd);
        fd = -1;
    }
    if (fd < 0)
        ret = -1;
    if (fd >= 0) {
        char interp[512] = "";
        if (exec_static(fd, interp, sizeof(interp), 0) == 1) {
            ret = 1;
            char self[512] = "";
            if (!path[0]) {
                char proc[64];
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
                long k = LSYS4(SYS_readlinkat, AT_FDCWD, proc, self,
                               sizeof(self) - 1);
                self[k > 0 ? k : 0] = 0;
            }
            const char *name = path[0] ? path : self[0] ? self : "(fd)";
            if (shunt_children_supervisor() && path[0] && !shunt_go_main)
                LOG_INFO("%s is statically linked: it runs under %s",
                         name, shunt_children_supervisor());
            else if (interp[0])
                shunt_notice_unhooked(
                    "%s runs through %s, a statically linked executable: "
                    "LD_PRELOAD cannot enter it (%s); it runs on the local "
                    "host and sees local files, names and network",
                    name, interp, static_why());
            else
                shunt_notice_unhooked(
                    "%s is a statically linked executable: LD_PRELOAD cannot "
                    "enter it (%s); it runs on the local host and sees local "
                    "files, names and network",
                    name, static_why());
        }
        LSYS1(SYS_close, fd);
    }
    LAYER_LEAVE();
    errno = saved;
    return ret;
}
