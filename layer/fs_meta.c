/* Hooks on metadata: the stat family, access, readlink, statfs, xattrs. */
#include "hooks.h"
#include "layer.h"
#include "shunt/statconv.h"

#include <fcntl.h>
#include <string.h>
#include <sys/statfs.h>

#define GO_LOCAL 1

/* Remote stat of one of our fds: GO_LOCAL when fd is not a remote file. */
static long fd_stat(int fd, shunt_stat_r_t *out)
{
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (!f || !shunt_rf_remote(f)) {
        shunt_rfile_unref(f);
        return GO_LOCAL;
    }
    long r = 0;
    if (f->kind == SHUNT_RF_SNAPSHOT)
        *out = f->st;
    else
        r = rpc_fstat_handle(f->handle, out);
    shunt_rfile_unref(f);
    return r;
}

/* Resolves (dirfd, path) for a non-mutating call: GO_LOCAL, 0 with t set
 * for a remote path, or -errno (ENOENT for not_found). */
static long target_of(int dirfd, const char *path, layer_target_t *t)
{
    int r = layer_resolve(dirfd, path, t);
    if (r == -ENOTDIR || (r == -EBADF && shunt_fdt_is_ours(dirfd)))
        return r;
    if (r < 0 || t->mode == SHUNT_MODE_LOCAL)
        return GO_LOCAL;
    if (t->mode == SHUNT_MODE_NOT_FOUND)
        return -ENOENT;
    /* A directory on the way to the program's own (local) files: node's
     * JS realpath lstat()s ~ and ~/.nvm to reach ~/.nvm/versions/... */
    if (t->mode == SHUNT_MODE_READ && t->dirh == SHUNT_AT_ROOT &&
        shunt_policy_local_ancestor(&shunt_layer.pol, t->norm))
        return GO_LOCAL;
    return 0;
}

/* The remote fd a local path names (/proc/self/fd/N, /dev/stdin...), or
 * NULL: the kernel would answer for the layer's memfd. */
static shunt_rfile_t *fd_by_path(const layer_target_t *t, int std)
{
    if (t->mode != SHUNT_MODE_LOCAL || t->norm[0] != '/')
        return NULL;
    int fd = layer_fd_of_path(t->norm, std);
    if (fd < 0 || !shunt_fdt_is_ours(fd))
        return NULL;
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (f && !shunt_rf_remote(f)) {
        shunt_rfile_unref(f);
        return NULL;
    }
    return f;
}

/* t->lpath is what a local decision passes to the original. */
static long stat_any(int dirfd, const char *path, int flags,
                     shunt_stat_r_t *out, layer_target_t *t)
{
    t->lpath = path;
    /* The fd itself: "" or (Linux >= 6.11) NULL with AT_EMPTY_PATH. */
    if ((!path || path[0] == '\0') && (flags & AT_EMPTY_PATH)) {
        if (dirfd != AT_FDCWD)
            return fd_stat(dirfd, out);
        /* the cwd: remote, or the kernel's, whose path the policy judges
         * as it judges "." (the start cwd "/" is the target's) */
        path = ".";
        flags &= ~AT_EMPTY_PATH;
    }
    t->norm[0] = '\0';
    long r = target_of(dirfd, path, t);
    if (r == GO_LOCAL && !(flags & AT_SYMLINK_NOFOLLOW)) {
        shunt_rfile_t *f = fd_by_path(t, 1);
        if (f) {
            r = f->kind == SHUNT_RF_SNAPSHOT ? (*out = f->st, 0)
                                              : rpc_fstat_handle(f->handle, out);
            shunt_rfile_unref(f);
        }
        return r;
    }
    if (r != 0)
        return r;
    return rpc_stat_path(t, flags, out);
}

/* The common body: remote -> fill st; local -> real_fstatat. */
static int stat_common(int dirfd, const char *path, struct stat *st, int flags)
{
    int saved = errno;
    LAYER_ENTER_PATH();
    shunt_stat_r_t rs;
    layer_target_t t;
    long r = stat_any(dirfd, path, flags, &rs, &t);
    LAYER_LEAVE();
    if (r == GO_LOCAL) {
        errno = saved;
        return REAL(fstatat, dirfd, t.lpath, st, flags);
    }
    if (r == 0)
        shunt_stat_from_r(&rs, st);
    return (int)layer_ret(r, saved);
}

int hook_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    if (LAYER_BYPASS())
        return REAL(fstatat, dirfd, path, st, flags);
    return stat_common(dirfd, path, st, flags);
}

int hook_stat(const char *path, struct stat *st)
{
    if (LAYER_BYPASS())
        return REAL(stat, path, st);
    return stat_common(AT_FDCWD, path, st, 0);
}

int hook_lstat(const char *path, struct stat *st)
{
    if (LAYER_BYPASS())
        return REAL(lstat, path, st);
    return stat_common(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int hook_fstat(int fd, struct stat *st)
{
    if (__builtin_expect(!shunt_fdt_is_ours(fd), 1) || LAYER_BYPASS())
        return REAL(fstatat, fd, "", st, AT_EMPTY_PATH);
    return stat_common(fd, "", st, AT_EMPTY_PATH);
}

int hook_statx(int dirfd, const char *path, int flags, unsigned int mask,
               struct statx *sx)
{
    if (LAYER_BYPASS())
        return REAL(statx, dirfd, path, flags, mask, sx);
    int saved = errno;
    LAYER_ENTER_PATH();
    shunt_stat_r_t rs;
    layer_target_t t;
    long r = stat_any(dirfd, path, flags, &rs, &t);
    LAYER_LEAVE();
    if (r == GO_LOCAL) {
        errno = saved;
        return REAL(statx, dirfd, t.lpath, flags, mask, sx);
    }
    if (r == 0)
        shunt_statx_from_r(&rs, sx);
    return (int)layer_ret(r, saved);
}

/* The __xstat family: ver 1 (_STAT_VER_LINUX) is struct stat on x86_64. */
int hook___xstat(int ver, const char *path, struct stat *st)
{
    if (LAYER_BYPASS() || ver != 1)
        return REAL(__xstat, ver, path, st);
    return stat_common(AT_FDCWD, path, st, 0);
}

int hook___lxstat(int ver, const char *path, struct stat *st)
{
    if (LAYER_BYPASS() || ver != 1)
        return REAL(__lxstat, ver, path, st);
    return stat_common(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int hook___fxstat(int ver, int fd, struct stat *st)
{
    if (LAYER_BYPASS() || ver != 1 || !shunt_fdt_is_ours(fd))
        return REAL(__fxstat, ver, fd, st);
    return stat_common(fd, "", st, AT_EMPTY_PATH);
}

int hook___fxstatat(int ver, int dirfd, const char *path, struct stat *st,
                    int flags)
{
    if (LAYER_BYPASS() || ver != 1)
        return REAL(__fxstatat, ver, dirfd, path, st, flags);
    return stat_common(dirfd, path, st, flags);
}

/* ---- access -------------------------------------------------------------- */
static int access_common(int dirfd, const char *path, int mode, int flags)
{
    int saved = errno;
    LAYER_ENTER_PATH();
    layer_target_t t;
    long r = target_of(dirfd, layer_empty_path(dirfd, path, flags), &t);
    if (r == 0) {
        shunt_access_t q = {.dirh = t.dirh, .path = shunt_str(t.rpath),
                            .mode = mode,
                            .flags = flags & (AT_EACCESS | AT_SYMLINK_NOFOLLOW)};
        shunt_msg_t m;
        r = shunt_rpc(SHUNT_T_ACCESS, &q, &m);
        if (r > 0)
            r = 0;
#ifdef SHUNT_SEEDED_BUG
        /* libshunt-seeded.so only (layer/CMakeLists.txt): a bug planted
         * for the differential fuzzer's own test (fuzz.diff.seeded) --
         * a remote access() that the target refuses with ENOENT says
         * EACCES instead */
        if (r == -ENOENT)
            r = -EACCES;
#endif
    }
    LAYER_LEAVE();
    if (r == GO_LOCAL) {
        errno = saved;
        return REAL(faccessat, dirfd, t.lpath, mode, flags);
    }
    return (int)layer_ret(r, saved);
}

int hook_access(const char *path, int mode)
{
    if (LAYER_BYPASS())
        return REAL(access, path, mode);
    return access_common(AT_FDCWD, path, mode, 0);
}

int hook_faccessat(int dirfd, const char *path, int mode, int flags)
{
    if (LAYER_BYPASS())
        return REAL(faccessat, dirfd, path, mode, flags);
    return access_common(dirfd, path, mode, flags);
}

int hook_euidaccess(const char *path, int mode)
{
    if (LAYER_BYPASS())
        return REAL(euidaccess, path, mode);
    return access_common(AT_FDCWD, path, mode, AT_EACCESS);
}

/* ---- readlink ------------------------------------------------------------ */
static ssize_t readlink_common(int dirfd, const char *path, char *buf, size_t n)
{
    int saved = errno;
    LAYER_ENTER_PATH();
    layer_target_t t;
    t.norm[0] = '\0';
    long r = target_of(dirfd, path, &t);
    /* /proc/self/fd/N of a remote fd: the remote path, as the kernel
     * names a file's fd (not the layer's memfd). */
    shunt_rfile_t *pf = r == GO_LOCAL ? fd_by_path(&t, 0) : NULL;
    /* answered: r is the count (1 is a count, not GO_LOCAL) or -errno */
    int answered = 0;
    if (pf && pf->path && n > 0) {
        size_t len = strlen(pf->path);
        if (len > n)
            len = n;
        memcpy(buf, pf->path, len);
        r = (long)len;
        answered = 1;
    }
    shunt_rfile_unref(pf);
    if (r == 0) {
        answered = 1;
        shunt_readlink_t q = {.dirh = t.dirh, .path = shunt_str(t.rpath)};
        shunt_msg_t m;
        r = shunt_rpc(SHUNT_T_READLINK, &q, &m);
        if (r == 0) {
            if (n == 0) {
                r = -EINVAL;
            } else {
                size_t len = m.u.readlink_r.target.len;
                if (len > n)
                    len = n;
                memcpy(buf, m.u.readlink_r.target.p, len);
                r = (long)len;
            }
        }
    }
    LAYER_LEAVE();
    if (r == GO_LOCAL && !answered) {
        errno = saved;
        return REAL(readlinkat, dirfd, t.lpath, buf, n);
    }
    return layer_ret(r, saved);
}

ssize_t hook_readlink(const char *path, char *buf, size_t n)
{
    if (LAYER_BYPASS())
        return REAL(readlink, path, buf, n);
    return readlink_common(AT_FDCWD, path, buf, n);
}

ssize_t hook_readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
    if (LAYER_BYPASS())
        return REAL(readlinkat, dirfd, path, buf, n);
    return readlink_common(dirfd, path, buf, n);
}

/* ---- statfs -------------------------------------------------------------- */
static long rpc_statfs_path(uint32_t dirh, const char *path, struct statfs *sf)
{
    shunt_statfs_t q = {.dirh = dirh, .path = shunt_str(path)};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_STATFS, &q, &m);
    if (r == 0)
        shunt_statfs_from_r(&m.u.statfs_r, sf);
    return r;
}

int hook_statfs(const char *path, struct statfs *sf)
{
    if (LAYER_BYPASS())
        return REAL(statfs, path, sf);
    int saved = errno;
    LAYER_ENTER();
    layer_target_t t;
    long r = target_of(AT_FDCWD, path, &t);
    if (r == 0)
        r = rpc_statfs_path(t.dirh, t.rpath, sf);
    LAYER_LEAVE();
    if (r == GO_LOCAL) {
        errno = saved;
        return REAL(statfs, t.lpath, sf);
    }
    return (int)layer_ret(r, saved);
}

int hook_fstatfs(int fd, struct statfs *sf)
{
    if (__builtin_expect(!shunt_fdt_is_ours(fd), 1) || LAYER_BYPASS())
        return REAL(fstatfs, fd, sf);
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (!f || !shunt_rf_remote(f)) {
        shunt_rfile_unref(f);
        return REAL(fstatfs, fd, sf);
    }
    int saved = errno;
    LAYER_ENTER();
    long r;
    if (f->kind == SHUNT_RF_SNAPSHOT) {
        /* A snapshot inherited across exec has no path: the root's. */
        r = rpc_statfs_path(SHUNT_AT_ROOT, f->path ? f->path : "/", sf);
    } else {
        shunt_fstatfs_t q = {.handle = f->handle};
        shunt_msg_t m;
        r = shunt_rpc(SHUNT_T_FSTATFS, &q, &m);
        if (r == 0)
            shunt_statfs_from_r(&m.u.statfs_r, sf);
    }
    shunt_rfile_unref(f);
    LAYER_LEAVE();
    return (int)layer_ret(r, saved);
}

/* ---- xattrs: a remote path behaves as on a filesystem without xattr
 * support (ENOTSUP), so nothing local is consulted for it. ------------------ */
static long xattr_path(const char *path)
{
    int saved = errno;
    LAYER_ENTER();
    layer_target_t t;
    long r = target_of(AT_FDCWD, path, &t);
    LAYER_LEAVE();
    errno = saved;
    return r == 0 ? -ENOTSUP : r;
}

static long xattr_fd(int fd)
{
    if (!shunt_fdt_is_ours(fd) || LAYER_BYPASS())
        return GO_LOCAL;
    shunt_rfile_t *f = shunt_fdt_get(fd);
    long r = (f && shunt_rf_remote(f)) ? -ENOTSUP : GO_LOCAL;
    shunt_rfile_unref(f);
    return r;
}

#define XATTR_PATH(call, path)                                            \
    do {                                                                  \
        if (LAYER_BYPASS())                                               \
            return call;                                                  \
        long r_ = xattr_path(path);                                       \
        if (r_ == GO_LOCAL)                                               \
            return call;                                                  \
        return layer_ret(r_, errno);                                      \
    } while (0)
#define XATTR_FD(call, fd)                                                \
    do {                                                                  \
        long r_ = xattr_fd(fd);                                           \
        if (r_ == GO_LOCAL)                                               \
            return call;                                                  \
        return layer_ret(r_, errno);                                      \
    } while (0)

ssize_t hook_getxattr(const char *path, const char *name, void *value,
                      size_t size)
{
    XATTR_PATH(REAL(getxattr, path, name, value, size), path);
}
ssize_t hook_lgetxattr(const char *path, const char *name, void *value,
                       size_t size)
{
    XATTR_PATH(REAL(lgetxattr, path, name, value, size), path);
}
ssize_t hook_fgetxattr(int fd, const char *name, void *value, size_t size)
{
    XATTR_FD(REAL(fgetxattr, fd, name, value, size), fd);
}
ssize_t hook_listxattr(const char *path, char *list, size_t size)
{
    XATTR_PATH(REAL(listxattr, path, list, size), path);
}
ssize_t hook_llistxattr(const char *path, char *list, size_t size)
{
    XATTR_PATH(REAL(llistxattr, path, list, size), path);
}
ssize_t hook_flistxattr(int fd, char *list, size_t size)
{
    XATTR_FD(REAL(flistxattr, fd, list, size), fd);
}
int hook_setxattr(const char *path, const char *name, const void *value,
                  size_t size, int flags)
{
    XATTR_PATH(REAL(setxattr, path, name, value, size, flags), path);
}
int hook_lsetxattr(const char *path, const char *name, const void *value,
                   size_t size, int flags)
{
    XATTR_PATH(REAL(lsetxattr, path, name, value, size, flags), path);
}
int hook_fsetxattr(int fd, const char *name, const void *value, size_t size,
                   int flags)
{
    XATTR_FD(REAL(fsetxattr, fd, name, value, size, flags), fd);
}
int hook_removexattr(const char *path, const char *name)
{
    XATTR_PATH(REAL(removexattr, path, name), path);
}
int hook_lremovexattr(const char *path, const char *name)
{
    XATTR_PATH(REAL(lremovexattr, path, name), path);
}
int hook_fremovexattr(int fd, const char *name)
{
    XATTR_FD(REAL(fremovexattr, fd, name), fd);
}
