/* libc's syscall() and the protection of the layer's own fds (the raw
 * syscall itself is shunt_sys6, common/include/shunt/sys.h). */
#include "hooks.h"
#include "layer.h"

#include <stdarg.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* libc's syscall(): libuv asks for statx this way (node's fs.stat,
 * fs.fstat, fs.realpathSync, require), others for openat2, getdents64,
 * copy_file_range...  A number of the layer's table (layer_sys_serve,
 * go.c) goes to its detour, as Go's calls do; any other number goes to
 * the kernel through libc's syscall() unchanged, with all six arguments
 * (syscall(long, ...) is variadic: six longs are read whatever the number
 * takes, as libc's own syscall() does). */
long hook_syscall(long nr, ...)
{
    long a[6];
    va_list ap;
    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    long r;
    if (LAYER_BYPASS() || !layer_sys_serve(nr, a, &r))
        return REAL(syscall, nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

/* The program's fds grow from 0 upward; the layer's live near the top of
 * RLIMIT_NOFILE so that they never take the number a program expects
 * (close(0); open() must give 0). */
static int high_base(void)
{
    struct rlimit rl;
    if (LSYS4(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) < 0)
        return 64;
    rlim_t top = rl.rlim_cur;
    if (top > SHUNT_FDT_MAX)
        top = SHUNT_FDT_MAX;
    if (top > 1024 + 256)
        top = 1024 + 256; /* a program that lowers its limit later */
    return top > 256 ? (int)(top - 128) : (top > 16 ? (int)(top / 2) : 3);
}

int layer_fd_protect(int fd, int *owner)
{
    int nfd = (int)LSYS3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, high_base());
    if (nfd < 0)
        return fd;
    LSYS1(SYS_close, fd);
    shunt_rfile_t *f = shunt_rfile_new(SHUNT_RF_LAYER);
    struct stat st;
    if (f) {
        f->owner = owner;
        if (LSYS2(SYS_fstat, nfd, &st) == 0)
            f->st.ino = st.st_ino;
        shunt_fdt_set(nfd, f);
        shunt_rfile_unref(f);
    }
    return nfd;
}

void layer_fd_unprotect(int fd)
{
    shunt_rfile_unref(shunt_fdt_take(fd));
}

int layer_fd_still_ours(int fd, const shunt_rfile_t *f)
{
    struct stat st;
    return LSYS2(SYS_fstat, fd, &st) == 0 && st.st_ino == f->st.ino;
}

int layer_fd_evict(int fd)
{
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (!f)
        return 0;
    int r = 0;
    if (f->kind == SHUNT_RF_LAYER && layer_fd_still_ours(fd, f)) {
        long fl = LSYS2(SYS_fcntl, fd, F_GETFD);
        int nfd = (int)LSYS3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, high_base());
        if (nfd < 0)
            nfd = (int)LSYS3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3);
        if (nfd >= 0 && fl >= 0 && !(fl & FD_CLOEXEC))
            LSYS3(SYS_fcntl, nfd, F_SETFD, 0); /* the broker: kept across exec */
        if (nfd >= 0) {
            shunt_fdt_set(nfd, f);
            if (f->owner)
                __atomic_store_n(f->owner, nfd, __ATOMIC_RELEASE);
            if (f->owner == &shunt_layer.broker_fd)
                shunt_rpc_broker_moved(nfd);
            LOG_DEBUG("layer fd %d moved to %d (the program dup2()s onto it)",
                      fd, nfd);
        } else {
            r = nfd;
        }
        shunt_rfile_unref(shunt_fdt_take(fd));
    }
    shunt_rfile_unref(f);
    return r;
}
