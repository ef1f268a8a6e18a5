/* Hooks: the open family, close, close_range, dup*, fcntl, umask. */
#include "hooks.h"
#include "layer.h"
#include "net.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum { VIA_OPENAT, VIA_NOCANCEL, VIA_OPENAT_NOCANCEL };

/* Neither an fd nor -errno: a reopen onto fd 1 (the program closed its
 * stdout) is that fd, not "go local". */
#define GO_LOCAL (-4096L)

/* open of /proc/self/fd/N, /dev/fd/N, /dev/stdin... naming a remote fd:
 * the kernel would reopen the layer's memfd (a placeholder: empty; a
 * snapshot: not in the table, so its fstat is the memfd's).  A remote file
 * whose path the layer knows is opened again remotely, as the kernel
 * reopens a file; a snapshot without a path (inherited across exec) is
 * reopened and shares its table entry.  GO_LOCAL otherwise. */
static long reopen_fd_path(const layer_target_t *t, int dirfd,
                           const char *path, int flags, mode_t mode)
{
    int fd = layer_fd_of_path(t->norm, 1);
    if (fd < 0 || !shunt_fdt_is_ours(fd))
        return GO_LOCAL;
    shunt_rfile_t *f = shunt_fdt_get(fd);
    long r = GO_LOCAL;
    layer_target_t t2;
    if (!f || !shunt_rf_remote(f)) {
        /* not a remote file */
    } else if (f->path && layer_resolve(AT_FDCWD, f->path, &t2) == 0 &&
               layer_is_remote(t2.mode) &&
               !(t2.mode == SHUNT_MODE_READ && shunt_open_writes(flags))) {
        r = rfile_open(&t2, flags & ~(O_CREAT | O_EXCL), mode);
    } else if (f->kind == SHUNT_RF_SNAPSHOT && !shunt_open_writes(flags)) {
        int nfd = REAL(openat, dirfd, path, flags, mode);
        r = nfd < 0 ? -errno : nfd;
        if (nfd >= 0 && shunt_fdt_set(nfd, f) < 0) {
            LSYS1(SYS_close, nfd);
            r = -EMFILE;
        }
    }
    shunt_rfile_unref(f);
    return r;
}

/* Remote, not-found or local; a local open goes to the original. */
static int open_common(int dirfd, const char *path, int flags, mode_t mode,
                       int via)
{
    int saved = errno;
    /* O_PATH ignores the access mode, O_CREAT, O_TRUNC...: open(2) keeps
     * only these (F_GETFL then says O_RDONLY|O_PATH), so a read-mode
     * path opened O_RDWR|O_PATH is still the target's. */
    if (flags & O_PATH)
        flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    LAYER_ENTER_PATH();
    layer_target_t t;
    t.norm[0] = '\0';
    int r = layer_resolve(dirfd, path, &t);
    /* The UTS name is the target's, as gethostname() says; Go's
     * os.Hostname() reads it from this file. */
    if (r == 0 && !shunt_open_writes(flags) &&
        strcmp(t.norm, "/proc/sys/kernel/hostname") == 0) {
        const char *hn = layer_target_hostname();
        if (hn) {
            char line[HOST_NAME_MAX + 2];
            size_t l = strnlen(hn, HOST_NAME_MAX);
            memcpy(line, hn, l);
            line[l++] = '\n';
            r = rfile_text(line, l, flags);
            LAYER_LEAVE();
            return (int)layer_ret(r, saved);
        }
    }
    if (r == 0 && t.mode != SHUNT_MODE_LOCAL &&
        !(t.mode == SHUNT_MODE_READ && shunt_open_writes(flags))) {
        r = t.mode == SHUNT_MODE_NOT_FOUND ? -ENOENT : rfile_open(&t, flags, mode);
        LAYER_LEAVE();
        return (int)layer_ret(r, saved);
    }
    if (r == 0 && t.norm[0] == '/') {
        long rr = reopen_fd_path(&t, dirfd, path, flags, mode);
        if (rr != GO_LOCAL) {
            LAYER_LEAVE();
            return (int)layer_ret(rr, saved);
        }
    }
    LAYER_LEAVE();
    errno = saved;
    path = t.lpath; /* absolute when relative to a remote cwd */
    if (via == VIA_NOCANCEL && dirfd == AT_FDCWD)
        return REAL(__open_nocancel, path, flags, mode);
    if (via == VIA_OPENAT_NOCANCEL)
        return REAL(__openat64_nocancel, dirfd, path, flags, mode);
    return REAL(openat, dirfd, path, flags, mode);
}

#define GET_MODE(flags, last)                                             \
    mode_t mode = 0;                                                      \
    if ((flags) & O_CREAT || ((flags) & O_TMPFILE) == O_TMPFILE) {        \
        va_list ap;                                                       \
        va_start(ap, last);                                               \
        mode = va_arg(ap, mode_t);                                        \
        va_end(ap);                                                       \
    }

int hook_open(const char *path, int flags, ...)
{
    GET_MODE(flags, flags);
    if (LAYER_BYPASS())
        return REAL(open, path, flags, mode);
    return open_common(AT_FDCWD, path, flags, mode, VIA_OPENAT);
}

int hook_openat(int dirfd, const char *path, int flags, ...)
{
    GET_MODE(flags, flags);
    if (LAYER_BYPASS())
        return REAL(openat, dirfd, path, flags, mode);
    return open_common(dirfd, path, flags, mode, VIA_OPENAT);
}

int hook_creat(const char *path, mode_t mode)
{
    if (LAYER_BYPASS())
        return REAL(creat, path, mode);
    return open_common(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode,
                       VIA_OPENAT);
}

int hook___open_2(const char *path, int flags)
{
    if (LAYER_BYPASS())
        return REAL(__open_2, path, flags);
    return open_common(AT_FDCWD, path, flags, 0, VIA_OPENAT);
}

int hook___openat_2(int dirfd, const char *path, int flags)
{
    if (LAYER_BYPASS())
        return REAL(__openat_2, dirfd, path, flags);
    return open_common(dirfd, path, flags, 0, VIA_OPENAT);
}

int hook___open_nocancel(const char *path, int flags, ...)
{
    GET_MODE(flags, flags);
    if (LAYER_BYPASS())
        return REAL(__open_nocancel, path, flags, mode);
    return open_common(AT_FDCWD, path, flags, mode, VIA_NOCANCEL);
}

int hook___openat64_nocancel(int dirfd, const char *path, int flags, ...)
{
    GET_MODE(flags, flags);
    if (LAYER_BYPASS())
        return REAL(__openat64_nocancel, dirfd, path, flags, mode);
    return open_common(dirfd, path, flags, mode, VIA_OPENAT_NOCANCEL);
}

/* openat2, reached through syscall() (libc has no wrapper) and Go.  A
 * path the layer leaves local goes to the kernel unchanged (its checks,
 * its RESOLVE_* rules).  A remote path is an openat when how->resolve is 0
 * (the kernel's checks of flags and mode first); with RESOLVE_* flags it
 * is ENOSYS, as on a kernel without openat2: the layer cannot enforce
 * RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS... in the target, and callers
 * (systemd, runc, Rust crates) fall back to openat and their own checks,
 * which the layer serves. */
struct layer_open_how {
    uint64_t flags, mode, resolve;
};

long layer_openat2(int dirfd, const char *path, const void *how_p, size_t size)
{
    long raw = 1;
    struct layer_open_how how;
    if (!LAYER_BYPASS() && how_p && size >= sizeof(how) && size <= 4096) {
        memcpy(&how, how_p, sizeof(how));
        LAYER_ENTER();
        layer_target_t t;
        int r = layer_resolve(dirfd, path, &t);
        raw = r < 0 || t.mode == SHUNT_MODE_LOCAL ||
              (t.mode == SHUNT_MODE_READ && shunt_open_writes(how.flags));
        LAYER_LEAVE();
    }
    if (raw)
        return shunt_sys6(SYS_openat2, dirfd, (long)path, (long)how_p,
                         (long)size, 0, 0);
    if ((how.flags >> 32) || (how.mode & ~07777ull) ||
        (how.mode && !(how.flags & O_CREAT) &&
         (how.flags & O_TMPFILE) != O_TMPFILE))
        return -EINVAL;
    if ((how.flags & O_PATH) &&
        (how.flags & ~(uint64_t)(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)))
        return -EINVAL; /* openat2 refuses what open(2) drops */
    if (how.resolve)
        return -ENOSYS;
    int saved = errno;
    int fd = open_common(dirfd, path, (int)how.flags, (mode_t)how.mode,
                         VIA_OPENAT);
    long r = fd < 0 ? -errno : fd;
    errno = saved;
    return r;
}

/* ---- close -------------------------------------------------------------- */
static int close_common(int fd, int nocancel)
{
    if (layer_vfork_child())
        return nocancel ? REAL(__close_nocancel, fd) : REAL(close, fd);
    shunt_net_forget(fd);
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (f && f->kind == SHUNT_RF_LAYER && layer_fd_still_ours(fd, f)) {
        /* The program closes every fd (closefrom loops): the layer's own
         * connection survives, and the program sees success. */
        shunt_rfile_unref(f);
        return 0;
    }
    shunt_rfile_unref(f); /* a stale layer entry is dropped below */
    int saved = errno;
    shunt_rfile_t *old = shunt_fdt_take(fd);
    int r = nocancel ? REAL(__close_nocancel, fd) : REAL(close, fd);
    int e = errno;
    if (old) {
        LAYER_ENTER();
        layer_locks_closed(old);
        shunt_rfile_unref(old);
        LAYER_LEAVE();
        errno = r < 0 ? e : saved;
    }
    return r;
}

int hook_close(int fd)
{
    if (__builtin_expect(!shunt_fdt_is_ours(fd) && !shunt_net_is_ours(fd), 1))
        return REAL(close, fd);
    return close_common(fd, 0);
}

int hook___close_nocancel(int fd)
{
    if (__builtin_expect(!shunt_fdt_is_ours(fd) && !shunt_net_is_ours(fd), 1))
        return REAL(__close_nocancel, fd);
    return close_common(fd, 1);
}

static void drop_range(unsigned first, unsigned last)
{
    for (int fd = shunt_fdt_next((int)first); fd >= 0 && (unsigned)fd <= last;
         fd = shunt_fdt_next(fd + 1)) {
        shunt_rfile_t *f = shunt_fdt_get(fd);
        int layer = f && f->kind == SHUNT_RF_LAYER;
        shunt_rfile_unref(f);
        if (layer)
            continue;
        if (LSYS3(SYS_fcntl, fd, F_GETFD, 0) == -EBADF) {
            shunt_rfile_t *old = shunt_fdt_take(fd);
            layer_locks_closed(old);
            shunt_rfile_unref(old);
        }
    }
}

int hook_close_range(unsigned int first, unsigned int last, int flags)
{
    if (LAYER_BYPASS() || (flags & CLOSE_RANGE_CLOEXEC) || first > last ||
        layer_vfork_child())
        return REAL(close_range, first, last, flags);
    int saved = errno;
    LAYER_ENTER();
    /* Close around the layer's fds. */
    unsigned cur = first;
    int r = 0, e = 0;
    while (cur <= last) {
        int lfd = -1;
        for (int fd = shunt_fdt_next((int)cur); fd >= 0 && (unsigned)fd <= last;
             fd = shunt_fdt_next(fd + 1)) {
            shunt_rfile_t *f = shunt_fdt_get(fd);
            int layer = f && f->kind == SHUNT_RF_LAYER;
            shunt_rfile_unref(f);
            if (layer) {
                lfd = fd;
                break;
            }
        }
        if (lfd < 0 || (unsigned)lfd > cur) {
            unsigned end = lfd < 0 ? last : (unsigned)lfd - 1;
            if (REAL(close_range, cur, end, flags) < 0 && !r) {
                r = -1;
                e = errno;
            }
        }
        if (lfd < 0 || (unsigned)lfd == last)
            break;
        cur = (unsigned)lfd + 1;
    }
    drop_range(first, last);
    shunt_net_drop_range(first, last);
    LAYER_LEAVE();
    errno = r < 0 ? e : saved;
    return r;
}

/* ---- dup ---------------------------------------------------------------- */
/* After the program's dup of a remote fd, newfd shares its remote file. */
static void dup_entry(int oldfd, int newfd)
{
    shunt_rfile_t *f = shunt_fdt_get(oldfd);
    if (f && f->kind != SHUNT_RF_LAYER)
        shunt_fdt_set(newfd, f);
    shunt_rfile_unref(f);
    shunt_net_dup(oldfd, newfd); /* proxied sockets (net.c) */
}

static int dup2_common(int oldfd, int newfd, int flags, int is_dup3)
{
    if (layer_vfork_child()) /* execfds.c finds the placeholders by inode */
        return is_dup3 ? REAL(dup3, oldfd, newfd, flags)
                       : REAL(dup2, oldfd, newfd);
    int saved = errno;
    LAYER_ENTER();
    /* dup2() onto a number the layer uses: move the layer's fd away. */
    if (oldfd != newfd && shunt_fdt_is_ours(newfd))
        layer_fd_evict(newfd);
    LAYER_LEAVE();
    errno = saved;
    int r = is_dup3 ? REAL(dup3, oldfd, newfd, flags) : REAL(dup2, oldfd, newfd);
    if (r < 0 || oldfd == newfd)
        return r;
    int e = errno;
    LAYER_ENTER();
    shunt_rfile_t *old = shunt_fdt_take(newfd);
    layer_locks_closed(old); /* newfd was closed */
    shunt_rfile_unref(old);
    dup_entry(oldfd, newfd);
    LAYER_LEAVE();
    errno = e;
    return r;
}

int hook_dup(int fd)
{
    int r = REAL(dup, fd);
    if (r >= 0 && (shunt_fdt_is_ours(fd) || shunt_net_is_ours(fd)) &&
        !layer_vfork_child()) {
        int e = errno;
        LAYER_ENTER();
        dup_entry(fd, r);
        LAYER_LEAVE();
        errno = e;
    }
    return r;
}

int hook_dup2(int oldfd, int newfd)
{
    if (!shunt_fdt_is_ours(oldfd) && !shunt_fdt_is_ours(newfd) &&
        !shunt_net_is_ours(oldfd) && !shunt_net_is_ours(newfd))
        return REAL(dup2, oldfd, newfd);
    return dup2_common(oldfd, newfd, 0, 0);
}

int hook_dup3(int oldfd, int newfd, int flags)
{
    if (!shunt_fdt_is_ours(oldfd) && !shunt_fdt_is_ours(newfd) &&
        !shunt_net_is_ours(oldfd) && !shunt_net_is_ours(newfd))
        return REAL(dup3, oldfd, newfd, flags);
    return dup2_common(oldfd, newfd, flags, 1);
}

/* F_GETFL of a remote fd: the placeholder's access mode, O_PATH,
 * O_NONBLOCK and O_APPEND (F_SETFL changes them there), and the flags of
 * the open the kernel keeps but a memfd cannot be reopened with
 * (O_DIRECTORY, O_NOFOLLOW with O_PATH) or that F_SETFL cannot change. */
static int getfl(int fd)
{
    int r = REAL(fcntl, fd, F_GETFL);
    if (r < 0 || LAYER_BYPASS())
        return r;
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (f && shunt_rf_remote(f))
        r |= f->oflags & (O_DIRECTORY | O_NOFOLLOW | O_SYNC);
    shunt_rfile_unref(f);
    return r;
}

int hook_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (__builtin_expect(!shunt_fdt_is_ours(fd) && !shunt_net_is_ours(fd), 1))
        return REAL(fcntl, fd, cmd, arg);
    if (layer_is_lock_cmd(cmd) && !LAYER_BYPASS()) {
        int saved = errno, served;
        LAYER_ENTER();
        long lr = layer_fcntl_lock(fd, cmd, arg, &served);
        LAYER_LEAVE();
        if (served)
            return (int)layer_ret(lr, saved);
    }
    if (cmd == F_GETFL)
        return getfl(fd);
    if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
        return REAL(fcntl, fd, cmd, arg);
    int r = REAL(fcntl, fd, cmd, arg);
    if (r >= 0 && !layer_vfork_child()) {
        int e = errno;
        LAYER_ENTER();
        dup_entry(fd, r);
        LAYER_LEAVE();
        errno = e;
    }
    return r;
}

mode_t hook_umask(mode_t mask)
{
    mode_t old = REAL(umask, mask);
    shunt_layer.umask = mask & 0777;
    return old;
}
