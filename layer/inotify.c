/* inotify on remote paths (docs/hooking.md "inotify").  The program's
 * inotify fd is one end of a unix socket pair the proxy fills; the layer
 * keeps a kernel inotify fd for the local watches and hands the proxy a
 * copy of it and the pair's other end; remote watches are the agent's. */
#include "hooks.h"
#include "layer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#define EVSZ sizeof(struct inotify_event)

int hook_inotify_init(void)
{
    return hook_inotify_init1(0);
}

int hook_inotify_init1(int flags)
{
    if (LAYER_BYPASS() || (flags & ~(IN_NONBLOCK | IN_CLOEXEC)))
        return REAL(inotify_init1, flags);
    int saved = errno;
    LAYER_ENTER();
    long k = LSYS1(SYS_inotify_init1, IN_CLOEXEC);
    if (k < 0) {
        LAYER_LEAVE();
        return (int)layer_ret(k, saved);
    }
    int p[2];
    long r = LSYS4(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p);
    shunt_msg_t m;
    if (r == 0) {
        int fds[2] = {(int)k, p[1]};
        shunt_inotify_open_t q = {.flags = flags};
        r = shunt_rpc_fds(SHUNT_T_INOTIFY_OPEN, &q, fds, 2, &m);
        LSYS1(SYS_close, p[1]);
        if (r < 0)
            LSYS1(SYS_close, p[0]);
    }
    shunt_rfile_t *f = r >= 0 ? shunt_rfile_new(SHUNT_RF_INOTIFY) : NULL;
    if (!f) {
        /* No proxy to fill the socket: a plain kernel instance, whose remote
         * watches fail as they did before (ENOENT). */
        if (r >= 0)
            LSYS1(SYS_close, p[0]);
        LOG_WARN("inotify: remote watches unavailable (%s): a local instance",
                 ESTR(r < 0 ? (int)-r : ENOMEM));
        long fl = flags & IN_NONBLOCK ? O_NONBLOCK : 0;
        if (fl)
            LSYS3(SYS_fcntl, k, F_SETFL, fl);
        if (!(flags & IN_CLOEXEC))
            LSYS3(SYS_fcntl, k, F_SETFD, 0);
        LAYER_LEAVE();
        errno = saved;
        return (int)k;
    }
    int fd = p[0];
    if (flags & IN_NONBLOCK)
        LSYS3(SYS_fcntl, fd, F_SETFL, O_NONBLOCK);
    if (!(flags & IN_CLOEXEC))
        LSYS3(SYS_fcntl, fd, F_SETFD, 0);
    f->handle = (uint32_t)r;
    f->kfd = layer_fd_protect((int)k, &f->kfd);
    shunt_fdt_set(fd, f);
    shunt_rfile_unref(f);
    LOG_DEBUG("inotify_init1(%#x) = %d (instance %ld)", flags, fd, r);
    LAYER_LEAVE();
    errno = saved;
    return fd;
}

/* The remote watches of an instance in this process: wd -> normalised
 * path, for the snapshots that follow their file (rfile_refresh_snapshots).
 * Guarded by the rfile's lock. */
typedef struct {
    size_t n, cap;
    struct iw {
        int wd;
        char *path;
    } v[];
} iwatches_t;

static void lock(shunt_rfile_t *f)
{
    while (atomic_flag_test_and_set(&f->lock))
        ;
}

static void unlock(shunt_rfile_t *f) { atomic_flag_clear(&f->lock); }

static void watch_remember(shunt_rfile_t *f, int wd, const char *path)
{
    char *p = strdup(path);
    if (!p)
        return;
    lock(f);
    iwatches_t *w = f->watches;
    for (size_t i = 0; w && i < w->n; i++) {
        if (w->v[i].wd == wd) {
            free(w->v[i].path);
            w->v[i].path = p;
            unlock(f);
            return;
        }
    }
    if (!w || w->n == w->cap) {
        size_t cap = w ? w->cap * 2 : 8;
        iwatches_t *nw = realloc(w, sizeof(*w) + cap * sizeof(w->v[0]));
        if (!nw) {
            unlock(f);
            free(p);
            return;
        }
        if (!w)
            nw->n = 0;
        nw->cap = cap;
        f->watches = w = nw;
    }
    w->v[w->n].wd = wd;
    w->v[w->n++].path = p;
    unlock(f);
}

static void watch_forget(shunt_rfile_t *f, int wd)
{
    lock(f);
    iwatches_t *w = f->watches;
    for (size_t i = 0; w && i < w->n; i++) {
        if (w->v[i].wd == wd) {
            free(w->v[i].path);
            w->v[i] = w->v[--w->n];
            break;
        }
    }
    unlock(f);
}

/* The path of a remote event's file (the watch's, or an entry of a watched
 * directory) into out; 0 when none. */
static int event_path(shunt_rfile_t *f, const struct inotify_event *ev,
                      char *out, size_t cap)
{
    int ok = 0;
    lock(f);
    iwatches_t *w = f->watches;
    for (size_t i = 0; w && i < w->n; i++) {
        if (w->v[i].wd != ev->wd)
            continue;
        size_t nl = ev->len ? strnlen(ev->name, ev->len) : 0;
        int n = nl ? snprintf(out, cap, "%s/%.*s", w->v[i].path, (int)nl,
                              ev->name)
                   : snprintf(out, cap, "%s", w->v[i].path);
        ok = n > 0 && (size_t)n < cap;
        break;
    }
    unlock(f);
    return ok;
}

/* Before the program sees that remote files changed: their snapshots
 * follow (layer/rfiles.c). */
static void events_seen(shunt_rfile_t *f, const uint8_t *buf, size_t len)
{
    char path[4096], last[4096] = "";
    int any = 0;
    for (size_t off = 0; off + EVSZ <= len;) {
        struct inotify_event h;
        memcpy(&h, buf + off, EVSZ);
        const struct inotify_event *ev = (const void *)(buf + off);
        off += EVSZ + h.len;
        if (h.wd <= SHUNT_INOTIFY_WD_BASE || off > len)
            continue;
        if (h.mask & IN_IGNORED) {
            watch_forget(f, h.wd);
            continue;
        }
        if (!(h.mask & (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE)) ||
            !event_path(f, ev, path, sizeof(path)) || strcmp(path, last) == 0)
            continue;
        if (!any) {
            any = 1;
            LAYER_ENTER();
        }
        rfile_refresh_snapshots(path);
        memcpy(last, path, sizeof(last));
    }
    if (any)
        LAYER_LEAVE();
}

/* The fd's instance with a reference, or NULL: not ours. */
static shunt_rfile_t *instance(int fd)
{
    if (LAYER_BYPASS() || !shunt_fdt_is_ours(fd))
        return NULL;
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (f && f->kind == SHUNT_RF_INOTIFY)
        return f;
    shunt_rfile_unref(f);
    return NULL;
}

static int kfd_of(shunt_rfile_t *f)
{
    return __atomic_load_n(&f->kfd, __ATOMIC_ACQUIRE);
}

int hook_inotify_add_watch(int fd, const char *path, uint32_t mask)
{
    if (fd < 0) { /* the kernel's answer, without a path lookup to record */
        errno = EBADF;
        return -1;
    }
    shunt_rfile_t *f = instance(fd);
    if (!f)
        return REAL(inotify_add_watch, fd, path, mask);
    int saved = errno;
    LAYER_ENTER_PATH();
    layer_target_t t;
    long r = path && path[0] ? layer_resolve(AT_FDCWD, path, &t) : -ENOENT;
    const char *lpath = path;
    int remote = 0;
    if (r == 0) {
        lpath = t.lpath ? t.lpath : path;
        if (t.mode == SHUNT_MODE_NOT_FOUND)
            r = -ENOENT;
        else
            remote = layer_is_remote(t.mode);
    } else if (r != -ENOENT && r != -ENOTDIR && r != -ENAMETOOLONG) {
        r = 0; /* the kernel decides */
    }
    if (r == 0 && remote) {
        shunt_msg_t m;
        shunt_watch_add_t q = {.inst = f->handle, .dirh = t.dirh,
                               .path = shunt_str(t.rpath), .mask = mask};
        r = shunt_rpc(SHUNT_T_WATCH_ADD, &q, &m);
        if (r >= 0) {
            r += SHUNT_INOTIFY_WD_BASE;
            watch_remember(f, (int)r, t.norm);
        }
    } else if (r == 0) {
        r = REAL(inotify_add_watch, kfd_of(f), lpath, mask);
        if (r < 0)
            r = -errno;
    }
    LOG_DEBUG("inotify_add_watch(%d, %s, %#x) = %ld (%s)", fd, path ? path : "",
              mask, r, remote ? "remote" : "local");
    shunt_rfile_unref(f);
    LAYER_LEAVE();
    return (int)layer_ret(r, saved);
}

int hook_inotify_rm_watch(int fd, int wd)
{
    shunt_rfile_t *f = instance(fd);
    if (!f)
        return REAL(inotify_rm_watch, fd, wd);
    int saved = errno;
    LAYER_ENTER();
    long r;
    if (wd > SHUNT_INOTIFY_WD_BASE) {
        shunt_msg_t m;
        shunt_watch_rm_t q = {.inst = f->handle,
                              .wd = wd - SHUNT_INOTIFY_WD_BASE};
        r = shunt_rpc(SHUNT_T_WATCH_RM, &q, &m);
    } else {
        r = REAL(inotify_rm_watch, kfd_of(f), wd);
        if (r < 0)
            r = -errno;
    }
    shunt_rfile_unref(f);
    LAYER_LEAVE();
    return (int)layer_ret(r, saved);
}

/* The last fd of the instance in this process is gone. */
void layer_inotify_release(shunt_rfile_t *f)
{
    int k = kfd_of(f);
    if (k < 0)
        return;
    layer_fd_unprotect(k);
    LSYS1(SYS_close, k);
    iwatches_t *w = f->watches;
    for (size_t i = 0; w && i < w->n; i++)
        free(w->v[i].path);
    free(w);
    f->watches = NULL;
}

/* read() of an instance: as many whole events as fit, EINVAL when the
 * first does not (it stays queued), as the kernel does.  The socket is
 * peeked first and only whole events are taken: the proxy may have
 * written part of one (a full socket buffer), and an event too large for
 * the buffer must stay for the next read, for poll() to still see it. */
static long inotify_read(int fd, uint8_t *buf, size_t n)
{
    uint8_t hdr[EVSZ];
    for (;;) {
        uint8_t *pb = n < EVSZ ? hdr : buf;
        size_t pn = n < EVSZ ? EVSZ : n;
        long got = layer_sys(SYS_recvfrom, fd, (long)pb, (long)pn, MSG_PEEK, 0, 0);
        if (got <= 0)
            return got; /* -EAGAIN, -EINTR...; 0: the proxy is gone */
        size_t take = 0;
        while (take + EVSZ <= (size_t)got) {
            struct inotify_event h;
            memcpy(&h, pb + take, EVSZ);
            if (take + EVSZ + h.len > (size_t)got)
                break;
            take += EVSZ + h.len;
        }
        if (take && pb == buf)
            return layer_sys(SYS_recvfrom, fd, (long)buf, (long)take, 0, 0, 0);
        if ((size_t)got >= EVSZ) {
            struct inotify_event h;
            memcpy(&h, pb, EVSZ);
            if (EVSZ + h.len > n)
                return -EINVAL;
        } else if ((size_t)got == pn) {
            return -EINVAL;
        }
        /* The first event is still arriving: the rest is on its way. */
        if (LSYS3(SYS_fcntl, fd, F_GETFL, 0) & O_NONBLOCK)
            return -EAGAIN;
        struct timespec ts = {0, 1000000};
        LSYS2(SYS_nanosleep, &ts, 0);
    }
}

int layer_inotify_read(int fd, void *buf, size_t n, ssize_t *ret)
{
    shunt_rfile_t *f = instance(fd);
    if (!f)
        return 0;
    int saved = errno;
    long r = inotify_read(fd, buf, n);
    if (r > 0)
        events_seen(f, buf, (size_t)r);
    shunt_rfile_unref(f);
    *ret = (ssize_t)layer_ret(r, saved);
    return 1;
}
