/* Hooks that change the namespace: mkdir, rmdir, unlink, rename, truncate,
 * chmod, chown, symlink, link, mknod, utimens.  Remote only in write mode; in read mode they
 * act locally. */
#include "hooks.h"
#include "layer.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define GO_LOCAL 1

/* GO_LOCAL, 0 (remote, write mode) or -errno. */
static long mut_target(int dirfd, const char *path, layer_target_t *t)
{
    int r = layer_resolve(dirfd, path, t);
    if (r == -ENOTDIR || (r == -EBADF && shunt_fdt_is_ours(dirfd)))
        return r;
    if (r < 0)
        return GO_LOCAL;
    switch (t->mode) {
    case SHUNT_MODE_NOT_FOUND:
        return -ENOENT;
    case SHUNT_MODE_WRITE:
        return 0;
    }
    return GO_LOCAL;
}

#define MUT_BEGIN(dirfd, path)                                            \
    int saved = errno;                                                    \
    LAYER_ENTER_PATH();                                                     \
    layer_target_t t;                                                     \
    long r = mut_target(dirfd, path, &t);                                 \
    shunt_msg_t m;                                                        \
    (void)m;
#define MUT_END(local_call)                                               \
    LAYER_LEAVE();                                                        \
    if (r == GO_LOCAL) {                                                  \
        errno = saved;                                                    \
        return local_call;                                                \
    }                                                                     \
    return (int)layer_ret(r > 0 ? 0 : r, saved);

static int mkdir_common(int dirfd, const char *path, mode_t mode)
{
    MUT_BEGIN(dirfd, path);
    if (r == 0) {
        shunt_mkdir_t q = {.dirh = t.dirh, .path = shunt_str(t.rpath),
                           .mode = mode & ~shunt_layer.umask & 07777};
        r = shunt_rpc(SHUNT_T_MKDIR, &q, &m);
    }
    MUT_END(REAL(mkdirat, dirfd, t.lpath, mode));
}

int hook_mkdir(const char *path, mode_t mode)
{
    if (LAYER_BYPASS())
        return REAL(mkdir, path, mode);
    return mkdir_common(AT_FDCWD, path, mode);
}

int hook_mkdirat(int dirfd, const char *path, mode_t mode)
{
    if (LAYER_BYPASS())
        return REAL(mkdirat, dirfd, path, mode);
    return mkdir_common(dirfd, path, mode);
}

static int unlink_common(int dirfd, const char *path, int flags)
{
    MUT_BEGIN(dirfd, path);
    if (r == 0) {
        if (flags & AT_REMOVEDIR) {
            shunt_rmdir_t q = {.dirh = t.dirh, .path = shunt_str(t.rpath)};
            r = shunt_rpc(SHUNT_T_RMDIR, &q, &m);
        } else {
            shunt_stat_r_t gone;
            int snap = rfile_before_unlink(&t, &gone);
            shunt_unlink_t q = {.dirh = t.dirh, .path = shunt_str(t.rpath),
                                .flags = 0};
            r = shunt_rpc(SHUNT_T_UNLINK, &q, &m);
            if (r >= 0 && snap == 0)
                rfile_unlinked(&gone);
        }
    }
    MUT_END(REAL(unlinkat, dirfd, t.lpath, flags));
}

int hook_rmdir(const char *path)
{
    if (LAYER_BYPASS())
        return REAL(rmdir, path);
    return unlink_common(AT_FDCWD, path, AT_REMOVEDIR);
}

int hook_unlink(const char *path)
{
    if (LAYER_BYPASS())
        return REAL(unlink, path);
    return unlink_common(AT_FDCWD, path, 0);
}

int hook_unlinkat(int dirfd, const char *path, int flags)
{
    if (LAYER_BYPASS())
        return REAL(unlinkat, dirfd, path, flags);
    return unlink_common(dirfd, path, flags);
}

static int rename_common(int od, const char *op, int nd, const char *np,
                         unsigned flags)
{
    int saved = errno;
    LAYER_ENTER();
    layer_target_t a, b, *to = &a, *tn = &b;
    long ro = mut_target(od, op, to);
    long rn = mut_target(nd, np, tn);
    long r;
    if (ro < 0)
        r = ro;
    else if (rn < 0)
        r = rn;
    else if (ro == GO_LOCAL && rn == GO_LOCAL)
        r = GO_LOCAL;
    else if (ro != rn)
        r = -EXDEV; /* one side local, the other remote */
    else {
        shunt_rename_t q = {.olddirh = to->dirh, .oldpath = shunt_str(to->rpath),
                            .newdirh = tn->dirh, .newpath = shunt_str(tn->rpath),
                            .flags = flags};
        shunt_msg_t m;
        /* a file the rename replaces loses its name (not with EXCHANGE) */
        shunt_stat_r_t gone, src;
        int snap = (flags & RENAME_EXCHANGE) ? -1 : rfile_before_unlink(tn, &gone);
        if (snap == 0 && rpc_stat_path(to, AT_SYMLINK_NOFOLLOW, &src) == 0 &&
            src.ino == gone.ino && src.dev_major == gone.dev_major &&
            src.dev_minor == gone.dev_minor)
            snap = -1; /* the same file: rename does nothing */
        r = shunt_rpc(SHUNT_T_RENAME, &q, &m);
        if (r > 0)
            r = 0;
        if (r == 0 && snap == 0)
            rfile_unlinked(&gone);
    }
    LAYER_LEAVE();
    if (r == GO_LOCAL) {
        errno = saved;
        return REAL(renameat2, od, to->lpath, nd, tn->lpath, flags);
    }
    return (int)layer_ret(r, saved);
}

int hook_rename(const char *oldpath, const char *newpath)
{
    if (LAYER_BYPASS())
        return REAL(rename, oldpath, newpath);
    return rename_common(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

int hook_renameat(int od, const char *op, int nd, const char *np)
{
    if (LAYER_BYPASS())
        return REAL(renameat, od, op, nd, np);
    return rename_common(od, op, nd, np, 0);
}

int hook_renameat2(int od, const char *op, int nd, const char *np,
                   unsigned int flags)
{
    if (LAYER_BYPASS())
        return REAL(renameat2, od, op, nd, np, flags);
    return rename_common(od, op, nd, np, flags);
}

int hook_truncate(const char *path, off_t len)
{
    if (LAYER_BYPASS())
        return REAL(truncate, path, len);
    MUT_BEGIN(AT_FDCWD, path);
    if (r == 0) {
        shunt_truncate_t q = {.dirh = t.dirh, .path = shunt_str(t.rpath),
                              .length = len};
        r = shunt_rpc(SHUNT_T_TRUNCATE, &q, &m);
        if (r == 0)
            rfile_changed_path(&t);
    }
    MUT_END(REAL(truncate, t.lpath, len));
}

/* A snapshot (a file opened read-only) whose path is in write mode can
 * still have its mode and times changed, by path, as the kernel allows on
 * a read-only fd. */
static int snapshot_in_write_mode(const shunt_rfile_t *f)
{
    layer_target_t t;
    return f->kind == SHUNT_RF_SNAPSHOT && f->path &&
           layer_resolve(AT_FDCWD, f->path, &t) == 0 &&
           t.mode == SHUNT_MODE_WRITE;
}

static int chmod_common(int dirfd, const char *path, mode_t mode, int flags)
{
    MUT_BEGIN(dirfd, layer_empty_path(dirfd, path, flags));
    if (r == 0) {
        shunt_chmod_t q = {.dirh = t.dirh, .path = shunt_str(t.rpath),
                           .mode = mode & 07777,
                           .flags = flags & AT_SYMLINK_NOFOLLOW};
        r = shunt_rpc(SHUNT_T_CHMOD, &q, &m);
        if (r >= 0)
            rfile_changed_path(&t); /* this process's snapshots show it */
    }
    MUT_END(REAL(fchmodat, dirfd, t.lpath, mode, flags));
}

int hook_chmod(const char *path, mode_t mode)
{
    if (LAYER_BYPASS())
        return REAL(chmod, path, mode);
    return chmod_common(AT_FDCWD, path, mode, 0);
}

int hook_fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
    if (LAYER_BYPASS())
        return REAL(fchmodat, dirfd, path, mode, flags);
    return chmod_common(dirfd, path, mode, flags);
}

/* On a remote fd: forwarded when it has a remote handle (write mode,
 * directories); a read-only snapshot cannot change the remote file. */
int hook_fchmod(int fd, mode_t mode)
{
    if (__builtin_expect(!shunt_fdt_is_ours(fd), 1) || LAYER_BYPASS())
        return REAL(fchmod, fd, mode);
    int saved = errno;
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (!f || !shunt_rf_remote(f)) {
        shunt_rfile_unref(f);
        return REAL(fchmod, fd, mode);
    }
    long r = -EROFS;
    LAYER_ENTER();
    shunt_msg_t m;
    if (f->kind == SHUNT_RF_DIR || f->kind == SHUNT_RF_FWD) {
        shunt_fchmod_t q = {.handle = f->handle, .mode = mode & 07777};
        r = shunt_rpc(SHUNT_T_FCHMOD, &q, &m);
    } else if (snapshot_in_write_mode(f)) {
        shunt_chmod_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(f->path),
                           .mode = mode & 07777};
        r = shunt_rpc(SHUNT_T_CHMOD, &q, &m);
    }
    if (r >= 0)
        rfile_changed(&f->st);
    LAYER_LEAVE();
    shunt_rfile_unref(f);
    return (int)layer_ret(r > 0 ? 0 : r, saved);
}

static int symlink_common(const char *target, int dirfd, const char *path)
{
    MUT_BEGIN(dirfd, path);
    if (r == 0) {
        /* The target is stored verbatim, as the kernel would. */
        shunt_symlink_t q = {.target = shunt_str(target), .newdirh = t.dirh,
                             .newpath = shunt_str(t.rpath)};
        r = shunt_rpc(SHUNT_T_SYMLINK, &q, &m);
    }
    MUT_END(REAL(symlinkat, target, dirfd, t.lpath));
}

int hook_symlink(const char *target, const char *path)
{
    if (LAYER_BYPASS())
        return REAL(symlink, target, path);
    return symlink_common(target, AT_FDCWD, path);
}

int hook_symlinkat(const char *target, int dirfd, const char *path)
{
    if (LAYER_BYPASS())
        return REAL(symlinkat, target, dirfd, path);
    return symlink_common(target, dirfd, path);
}

static shunt_utimens_t utimens_req(const struct timespec ts[2])
{
    shunt_utimens_t q = {.atime_nsec = UTIME_NOW, .mtime_nsec = UTIME_NOW};
    if (ts) {
        q.atime_sec = ts[0].tv_sec;
        q.atime_nsec = ts[0].tv_nsec;
        q.mtime_sec = ts[1].tv_sec;
        q.mtime_nsec = ts[1].tv_nsec;
    }
    return q;
}

/* The remote file behind fd (referenced), or NULL for an fd that is not a
 * remote file's: the fast test first, every fd of the program is one. */
static shunt_rfile_t *remote_fd(int fd)
{
    if (__builtin_expect(!shunt_fdt_is_ours(fd), 1))
        return NULL;
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (!f || !shunt_rf_remote(f)) {
        shunt_rfile_unref(f);
        return NULL;
    }
    return f;
}

/* futimens and utimensat(fd, NULL or "", AT_EMPTY_PATH) on a remote fd. */
static int utimens_fd(int fd, const struct timespec ts[2], int *handled)
{
    shunt_rfile_t *f = remote_fd(fd);
    *handled = f != NULL;
    if (!f)
        return 0;
    int saved = errno;
    long r = -EROFS; /* a read-mode snapshot cannot change the remote file */
    LAYER_ENTER();
    shunt_msg_t m;
    shunt_utimens_t q = utimens_req(ts);
    if (f->kind == SHUNT_RF_DIR || f->kind == SHUNT_RF_FWD) {
        q.dirh = f->handle;
        q.path = shunt_str("");
        q.flags = AT_EMPTY_PATH;
        r = shunt_rpc(SHUNT_T_UTIMENS, &q, &m);
    } else if (snapshot_in_write_mode(f)) {
        q.dirh = SHUNT_AT_ROOT;
        q.path = shunt_str(f->path);
        r = shunt_rpc(SHUNT_T_UTIMENS, &q, &m);
    }
    if (r >= 0)
        rfile_changed(&f->st);
    LAYER_LEAVE();
    shunt_rfile_unref(f);
    return (int)layer_ret(r > 0 ? 0 : r, saved);
}

int hook_utimensat(int dirfd, const char *path, const struct timespec ts[2],
                   int flags)
{
    if (LAYER_BYPASS())
        return REAL(utimensat, dirfd, path, ts, flags);
    if (dirfd == AT_FDCWD && path && !*path && (flags & AT_EMPTY_PATH)) {
        /* the cwd: the remote one, or the kernel's judged by its path */
        path = ".";
        flags &= ~AT_EMPTY_PATH;
    }
    if (!path || (!*path && (flags & AT_EMPTY_PATH))) {
        int handled, rc = utimens_fd(dirfd, ts, &handled);
        return handled ? rc : REAL(utimensat, dirfd, path, ts, flags);
    }
    MUT_BEGIN(dirfd, path);
    if (r == 0) {
        shunt_utimens_t q = utimens_req(ts);
        q.dirh = t.dirh;
        q.path = shunt_str(t.rpath);
        q.flags = flags & AT_SYMLINK_NOFOLLOW;
        r = shunt_rpc(SHUNT_T_UTIMENS, &q, &m);
        if (r >= 0)
            rfile_changed_path(&t);
    }
    MUT_END(REAL(utimensat, dirfd, t.lpath, ts, flags));
}

int hook_futimens(int fd, const struct timespec ts[2])
{
    if (LAYER_BYPASS())
        return REAL(futimens, fd, ts);
    int handled, rc = utimens_fd(fd, ts, &handled);
    return handled ? rc : REAL(futimens, fd, ts);
}

/* utimes, lutimes, futimes, futimesat, utime: the same requests in
 * microseconds or seconds.  A tv_usec outside [0, 1e6) is EINVAL, as the
 * kernel's utimes(2) says; the local path goes through utimensat, which is
 * what libc's own implementations of these call. */
static const struct timespec *tv_to_ts(const struct timeval tv[2],
                                       struct timespec ts[2], int *bad)
{
    *bad = 0;
    if (!tv)
        return NULL;
    for (int i = 0; i < 2; i++) {
        if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
            *bad = 1;
        ts[i].tv_sec = tv[i].tv_sec;
        ts[i].tv_nsec = *bad ? 0 : tv[i].tv_usec * 1000;
    }
    return ts;
}

/* The timeval forms: EINVAL for a bad tv_usec first, as the kernel says,
 * then futimens of dirfd itself (of_fd) or utimensat. */
static int utimes_tv(int dirfd, const char *path, int of_fd,
                     const struct timeval tv[2], int flags)
{
    struct timespec ts[2];
    int bad;
    const struct timespec *p = tv_to_ts(tv, ts, &bad);
    if (bad) {
        errno = EINVAL;
        return -1;
    }
    return of_fd ? hook_futimens(dirfd, p)
                 : hook_utimensat(dirfd, path, p, flags);
}

int hook_utimes(const char *path, const struct timeval tv[2])
{
    if (LAYER_BYPASS())
        return REAL(utimes, path, tv);
    return utimes_tv(AT_FDCWD, path, 0, tv, 0);
}

int hook_lutimes(const char *path, const struct timeval tv[2])
{
    if (LAYER_BYPASS())
        return REAL(lutimes, path, tv);
    return utimes_tv(AT_FDCWD, path, 0, tv, AT_SYMLINK_NOFOLLOW);
}

int hook_futimes(int fd, const struct timeval tv[2])
{
    if (LAYER_BYPASS())
        return REAL(futimes, fd, tv);
    return utimes_tv(fd, NULL, 1, tv, 0);
}

int hook_futimesat(int dirfd, const char *path, const struct timeval tv[2])
{
    if (LAYER_BYPASS())
        return REAL(futimesat, dirfd, path, tv);
    return utimes_tv(dirfd, path, 0, tv, 0);
}

int hook_utime(const char *path, const struct utimbuf *times)
{
    if (LAYER_BYPASS())
        return REAL(utime, path, times);
    struct timespec ts[2];
    if (times) {
        ts[0] = (struct timespec){.tv_sec = times->actime};
        ts[1] = (struct timespec){.tv_sec = times->modtime};
    }
    return hook_utimensat(AT_FDCWD, path, times ? ts : NULL, 0);
}

/* ---- chown ---------------------------------------------------------------- */
static int chown_common(int dirfd, const char *path, uid_t uid, gid_t gid,
                        int flags)
{
    MUT_BEGIN(dirfd, path);
    if (r == 0) {
        shunt_chown_t q = {.dirh = t.dirh, .path = shunt_str(t.rpath),
                           .uid = (uint32_t)uid, .gid = (uint32_t)gid,
                           .flags = flags & AT_SYMLINK_NOFOLLOW};
        r = shunt_rpc(SHUNT_T_CHOWN, &q, &m);
        if (r >= 0)
            rfile_changed_path(&t);
    }
    MUT_END(REAL(fchownat, dirfd, t.lpath, uid, gid, flags));
}

int hook_chown(const char *path, uid_t uid, gid_t gid)
{
    if (LAYER_BYPASS())
        return REAL(chown, path, uid, gid);
    return chown_common(AT_FDCWD, path, uid, gid, 0);
}

int hook_lchown(const char *path, uid_t uid, gid_t gid)
{
    if (LAYER_BYPASS())
        return REAL(lchown, path, uid, gid);
    return chown_common(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}

/* fchown and fchownat(fd, "", AT_EMPTY_PATH) on a remote fd: forwarded
 * when it has a remote handle; a read-mode snapshot cannot change the
 * remote file (EROFS), a write-mode one is changed by path.  *handled = 0:
 * not a remote fd, the caller runs the original. */
static int chown_fd(int fd, uid_t uid, gid_t gid, int *handled)
{
    shunt_rfile_t *f = remote_fd(fd);
    *handled = f != NULL;
    if (!f)
        return 0;
    int saved = errno;
    long r = -EROFS;
    LAYER_ENTER();
    shunt_msg_t m;
    if (f->kind == SHUNT_RF_DIR || f->kind == SHUNT_RF_FWD) {
        shunt_fchown_t q = {.handle = f->handle, .uid = (uint32_t)uid,
                            .gid = (uint32_t)gid};
        r = shunt_rpc(SHUNT_T_FCHOWN, &q, &m);
    } else if (snapshot_in_write_mode(f)) {
        shunt_chown_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(f->path),
                           .uid = (uint32_t)uid, .gid = (uint32_t)gid};
        r = shunt_rpc(SHUNT_T_CHOWN, &q, &m);
    }
    if (r >= 0)
        rfile_changed(&f->st);
    LAYER_LEAVE();
    shunt_rfile_unref(f);
    return (int)layer_ret(r > 0 ? 0 : r, saved);
}

int hook_fchown(int fd, uid_t uid, gid_t gid)
{
    if (LAYER_BYPASS())
        return REAL(fchown, fd, uid, gid);
    int handled, rc = chown_fd(fd, uid, gid, &handled);
    return handled ? rc : REAL(fchown, fd, uid, gid);
}

int hook_fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
    if (LAYER_BYPASS())
        return REAL(fchownat, dirfd, path, uid, gid, flags);
    if (dirfd == AT_FDCWD && path && !*path && (flags & AT_EMPTY_PATH)) {
        path = "."; /* the cwd, as for utimensat */
        flags &= ~AT_EMPTY_PATH;
    }
    if (path && !*path && (flags & AT_EMPTY_PATH)) {
        int handled, rc = chown_fd(dirfd, uid, gid, &handled);
        return handled ? rc : REAL(fchownat, dirfd, path, uid, gid, flags);
    }
    return chown_common(dirfd, path, uid, gid, flags);
}

/* ---- link ----------------------------------------------------------------- */
static int link_common(int od, const char *op, int nd, const char *np,
                       int flags)
{
    int saved = errno;
    LAYER_ENTER();
    layer_target_t a, b;
    long ro, rn = 0, r;
    if (op && !*op && (flags & AT_EMPTY_PATH)) {
        /* the old name is the fd itself: remote when it has a handle */
        shunt_rfile_t *f = shunt_fdt_is_ours(od) ? shunt_fdt_get(od) : NULL;
        ro = GO_LOCAL;
        a.lpath = op;
        if (f && (f->kind == SHUNT_RF_DIR || f->kind == SHUNT_RF_FWD)) {
            a.dirh = f->handle;
            a.rpath = "";
            ro = 0;
        } else if (f && f->kind == SHUNT_RF_SNAPSHOT) {
            ro = -EXDEV; /* the placeholder is not the remote file */
        }
        shunt_rfile_unref(f);
    } else {
        ro = mut_target(od, op, &a);
    }
    if (ro >= 0)
        rn = mut_target(nd, np, &b);
    if (ro < 0)
        r = ro;
    else if (rn < 0)
        r = rn;
    else if (ro == GO_LOCAL && rn == GO_LOCAL)
        r = GO_LOCAL;
    else if (ro != rn)
        r = -EXDEV; /* one side local, the other remote */
    else {
        shunt_link_t q = {.olddirh = a.dirh, .oldpath = shunt_str(a.rpath),
                          .newdirh = b.dirh, .newpath = shunt_str(b.rpath),
                          .flags = flags & (AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)};
        shunt_msg_t m;
        r = shunt_rpc(SHUNT_T_LINK, &q, &m);
        if (r > 0)
            r = 0;
        if (r == 0)
            rfile_changed_path(&b); /* one link more for its snapshots */
    }
    LAYER_LEAVE();
    if (r == GO_LOCAL) {
        errno = saved;
        return REAL(linkat, od, a.lpath, nd, b.lpath, flags);
    }
    return (int)layer_ret(r, saved);
}

int hook_link(const char *oldpath, const char *newpath)
{
    if (LAYER_BYPASS())
        return REAL(link, oldpath, newpath);
    return link_common(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

int hook_linkat(int od, const char *op, int nd, const char *np, int flags)
{
    if (LAYER_BYPASS())
        return REAL(linkat, od, op, nd, np, flags);
    return link_common(od, op, nd, np, flags);
}

/* ---- mknod (and mkfifo, mkfifoat, __xmknod, __xmknodat, which jump here) --
 * Device nodes in the target are refused by the agent (EPERM). */
static int mknod_common(int dirfd, const char *path, mode_t mode, dev_t dev)
{
    MUT_BEGIN(dirfd, path);
    if (r == 0) {
        shunt_mknod_t q = {.dirh = t.dirh, .path = shunt_str(t.rpath),
                           .mode = (mode & S_IFMT) |
                                   (mode & ~shunt_layer.umask & 07777),
                           .dev = (uint64_t)dev};
        r = shunt_rpc(SHUNT_T_MKNOD, &q, &m);
    }
    MUT_END(REAL(mknodat, dirfd, t.lpath, mode, dev));
}

int hook_mknod(const char *path, mode_t mode, dev_t dev)
{
    if (LAYER_BYPASS())
        return REAL(mknod, path, mode, dev);
    return mknod_common(AT_FDCWD, path, mode, dev);
}

int hook_mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
    if (LAYER_BYPASS())
        return REAL(mknodat, dirfd, path, mode, dev);
    return mknod_common(dirfd, path, mode, dev);
}
