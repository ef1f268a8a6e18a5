/* The supervised program's memory and fds, reached from outside it. */
#include "sv.h"

#include "shunt/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

int sv_valid(const sv_call_t *c)
{
    uint64_t id = c->id;
    return ioctl(sv.notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

long sv_read(const sv_call_t *c, uint64_t addr, void *buf, size_t n)
{
    if (!n)
        return 0;
    struct iovec l = {.iov_base = buf, .iov_len = n};
    struct iovec r = {.iov_base = (void *)(uintptr_t)addr, .iov_len = n};
    ssize_t got = process_vm_readv(c->tid, &l, 1, &r, 1, 0);
    if (got < 0)
        return errno == ESRCH ? -ESRCH : -EFAULT;
    if ((size_t)got != n)
        return -EFAULT;
    return sv_valid(c) ? (long)n : -ESRCH;
}

long sv_write(const sv_call_t *c, uint64_t addr, const void *buf, size_t n)
{
    if (!n)
        return 0;
    if (!sv_valid(c))
        return -ESRCH;
    struct iovec l = {.iov_base = (void *)buf, .iov_len = n};
    struct iovec r = {.iov_base = (void *)(uintptr_t)addr, .iov_len = n};
    ssize_t put = process_vm_writev(c->tid, &l, 1, &r, 1, 0);
    if (put < 0 && errno == ESRCH)
        return -ESRCH;
    if (put >= 0 && (size_t)put == n)
        return (long)n;
    /* A short or failed write (a page the program has not touched yet,
     * shared with a fork's parent): again through /proc/TID/mem, whose
     * writes force their way as a debugger's do. */
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/mem", (int)c->tid);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -EFAULT;
    ssize_t k = pwrite(fd, buf, n, (off_t)addr);
    int e = errno;
    close(fd);
    if (k < 0 || (size_t)k != n) {
        LOG_DEBUG("writing %zu bytes at %#llx into %d: %s", n,
                  (unsigned long long)addr, (int)c->tid,
                  k < 0 ? strerror(e) : "short");
        return -EFAULT;
    }
    return (long)n;
}

/* Reads up to a page boundary at a time: a string that ends just before an
 * unmapped page is still read whole. */
long sv_read_str(const sv_call_t *c, uint64_t addr, char *out, size_t n)
{
    if (!addr)
        return -EFAULT;
    size_t got = 0;
    while (got < n) {
        uint64_t at = addr + got;
        size_t chunk = 4096 - (size_t)(at & 4095);
        if (chunk > n - got)
            chunk = n - got;
        struct iovec l = {.iov_base = out + got, .iov_len = chunk};
        struct iovec r = {.iov_base = (void *)(uintptr_t)at, .iov_len = chunk};
        ssize_t k = process_vm_readv(c->tid, &l, 1, &r, 1, 0);
        if (k <= 0)
            return errno == ESRCH ? -ESRCH : -EFAULT;
        char *nul = memchr(out + got, 0, (size_t)k);
        if (nul) {
            if (!sv_valid(c))
                return -ESRCH;
            return (long)(nul - out);
        }
        got += (size_t)k;
    }
    return -ENAMETOOLONG;
}

static int pidfd_of(pid_t tid)
{
    int fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
    if (fd < 0 && errno == EINVAL) {
        pid_t g = sv_tgid(tid);
        if (g > 0)
            fd = (int)syscall(SYS_pidfd_open, g, 0);
    }
    return fd;
}

int sv_getfd(const sv_call_t *c, int fd)
{
    if (fd < 0)
        return -EBADF;
    int pfd = pidfd_of(c->tid);
    if (pfd < 0)
        return -ESRCH;
    int r = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
    int e = errno;
    close(pfd);
    if (r < 0)
        return -e;
    if (!sv_valid(c)) {
        close(r);
        return -ESRCH;
    }
    return r;
}

long sv_fdlink(const sv_call_t *c, int fd, char *out, size_t n)
{
    char p[64];
    if (fd == AT_FDCWD)
        snprintf(p, sizeof(p), "/proc/%d/cwd", (int)c->tid);
    else if (fd < 0)
        return -EBADF;
    else
        snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)c->tid, fd);
    ssize_t k = readlink(p, out, n - 1);
    if (k < 0)
        return errno == ENOENT && fd != AT_FDCWD ? -EBADF : -errno;
    out[k] = 0;
    return k;
}

pid_t sv_tgid(pid_t tid)
{
    char p[64], buf[512];
    snprintf(p, sizeof(p), "/proc/%d/status", (int)tid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -ESRCH;
    buf[n] = 0;
    char *t = strstr(buf, "\nTgid:");
    return t ? (pid_t)strtol(t + 6, NULL, 10) : -ESRCH;
}

long sv_addfd(sv_call_t *c, int fd, int cloexec)
{
    struct seccomp_notif_addfd a = {
        .id = c->id,
        .flags = 0,
        .srcfd = (uint32_t)fd,
        .newfd = 0,
        .newfd_flags = cloexec ? O_CLOEXEC : 0,
    };
    int r = ioctl(sv.notify_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    if (r < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    return r;
}
