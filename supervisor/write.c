/* Write mode under the supervisor (read_write paths; docs/supervisor.md).
 *
 * The supervisor does not intercept read or write, so a remote file
 * opened for writing is a memfd the program writes at kernel speed: it
 * holds the remote content (unless O_TRUNC) and goes back to the target
 * when the program is done with it.  "Done" is the kernel's own answer:
 * the supervisor keeps its own descriptor of the memfd and an inotify
 * watch on it; the program gets another descriptor (a reopen), and when
 * that one is released -- its last close, also the implicit ones at exit,
 * exec or munmap, in whichever process holds it after fork or SCM_RIGHTS
 * -- inotify says IN_CLOSE_WRITE and the content is written to the target
 * (OPEN O_WRONLY|O_TRUNC, WRITE...).  Close-to-open consistency, as NFS
 * gives: another process sees the new content once the writer closed it.
 * Every call that looks at remote paths first waits for uploads already
 * due (sv_wr_sync), so `echo x > f; cat f` and write-then-rename work.
 *
 * The namespace calls (mkdir, unlink, rename, symlink, chmod, truncate)
 * are intercepted only when the configuration has read_write paths; of a
 * read_write path they go to the target, of any other the kernel's. */
#include "sv.h"

#include "shunt/log.h"
#include "shunt/statconv.h"

#include <errno.h>
#include <linux/fs.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int sv_wr_enabled;

typedef struct wfile {
    struct wfile *next;
    int wd;
    int fd;      /* the supervisor's own descriptor of the memfd */
    char *path;  /* the remote file */
} wfile_t;

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static wfile_t *wfiles;
static int ino_fd = -1;
static sv_worker_t uploader; /* its proxy connection, under wlock */

static long up_rpc(uint16_t type, const void *q, shunt_msg_t *m)
{
    sv_call_t c = {.w = &uploader};
    return sv_rpc(&c, type, q, m);
}

/* The memfd's content to the target.  Called with wlock held. */
static void upload(wfile_t *f)
{
    shunt_open_t q = {.path = shunt_str(f->path), .flags = O_WRONLY | O_TRUNC};
    shunt_msg_t m;
    long r = up_rpc(SHUNT_T_OPEN, &q, &m);
    if (r < 0) {
        /* ENOENT: removed meanwhile, as the kernel would drop it */
        if (r != -ENOENT)
            LOG_WARN("%s: written, but not stored in the target: %s",
                     f->path, strerror((int)-r));
        return;
    }
    uint32_t h = m.u.open_r.handle;
    char *buf = malloc(60000);
    off_t off = 0;
    while (buf) {
        ssize_t n = pread(f->fd, buf, 60000, off);
        if (n <= 0)
            break;
        shunt_write_t wq = {.handle = h, .data = shunt_bytes(buf, (size_t)n)};
        if ((r = up_rpc(SHUNT_T_WRITE, &wq, &m)) < 0) {
            LOG_WARN("%s: storing it in the target: %s", f->path,
                     strerror((int)-r));
            break;
        }
        off += n;
    }
    free(buf);
    shunt_close_t cq = {.handle = h};
    up_rpc(SHUNT_T_CLOSE, &cq, &m);
    LOG_DEBUG("%s: %lld bytes stored in the target", f->path, (long long)off);
}

/* Uploads what was released.  Called with wlock held. */
static void drain(void)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(ino_fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const void *)p;
            p += sizeof(*e) + e->len;
            if (!(e->mask & IN_CLOSE_WRITE))
                continue;
            for (wfile_t **pp = &wfiles; *pp; pp = &(*pp)->next) {
                if ((*pp)->wd != e->wd)
                    continue;
                wfile_t *f = *pp;
                *pp = f->next;
                upload(f);
                inotify_rm_watch(ino_fd, f->wd);
                close(f->fd);
                free(f->path);
                free(f);
                break;
            }
        }
    }
}

void sv_wr_sync(void)
{
    if (!sv_wr_enabled || ino_fd < 0)
        return;
    pthread_mutex_lock(&wlock);
    drain();
    pthread_mutex_unlock(&wlock);
}

static void *watcher(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd pf = {.fd = ino_fd, .events = POLLIN};
        if (poll(&pf, 1, -1) < 0)
            continue;
        sv_wr_sync();
    }
    return NULL;
}

/* At the supervisor's start (write mode only). */
int sv_wr_start(void)
{
    ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino_fd < 0) {
        LOG_ERROR("inotify: %s: remote files cannot be written",
                  strerror(errno));
        return -1;
    }
    return sv_thread(watcher);
}

/* At the end: whatever was released and not stored yet. */
void sv_wr_stop(void)
{
    sv_wr_sync();
}

static mode_t umask_of(pid_t tid)
{
    char p[64], buf[2048];
    snprintf(p, sizeof(p), "/proc/%d/status", (int)tid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 022;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 022;
    buf[n] = 0;
    char *u = strstr(buf, "\nUmask:");
    return u ? (mode_t)strtol(u + 7, NULL, 8) : 022;
}

long sv_wr_open(sv_call_t *c, const char *norm, uint64_t flags, uint32_t mode)
{
    sv_wr_sync();
    if (ino_fd < 0)
        return -EROFS;
    if (flags & O_CREAT)
        mode &= ~umask_of(c->tid) & 07777;
    int acc = (int)(flags & O_ACCMODE);
    shunt_open_t q = {.path = shunt_str(norm),
                      .flags = (int32_t)(flags & (O_ACCMODE | O_CREAT | O_EXCL |
                                                  O_TRUNC | O_NOFOLLOW |
                                                  O_DIRECTORY | O_NONBLOCK)),
                      .mode = mode};
    shunt_msg_t m;
    long r = sv_rpc(c, SHUNT_T_OPEN, &q, &m);
    if (r < 0)
        return r;
    uint32_t h = m.u.open_r.handle;
    shunt_fstat_t fq = {.handle = h};
    if ((r = sv_rpc(c, SHUNT_T_FSTAT, &fq, &m)) < 0)
        goto close_h;
    shunt_stat_r_t st = m.u.stat_r;
    if (!S_ISREG(st.mode)) {
        r = S_ISDIR(st.mode) ? -EISDIR : -ENXIO;
        goto close_h;
    }
    char name[SHUNT_MEMFD_NAME_MAX + 32];
    size_t k = (size_t)snprintf(name, sizeof(name), "%s", SV_WR_PREFIX);
    if (!shunt_stat_enc(&st, name + k, sizeof(name) - k) ||
        strlen(name) > SHUNT_MEMFD_NAME_MAX)
        snprintf(name, sizeof(name), "%s", SV_WR_PREFIX);
    int mfd = memfd_create(name, MFD_CLOEXEC);
    if (mfd < 0) {
        r = -errno;
        goto close_h;
    }
    sv_remember_path(mfd, norm);
    if (!(flags & O_TRUNC) && st.size > 0) {
        /* the content it starts from, through a handle that may read */
        uint32_t rh = h;
        if (acc == O_WRONLY) {
            shunt_open_t oq = {.path = shunt_str(norm),
                               .flags = O_RDONLY |
                                        (int32_t)(flags & O_NOFOLLOW)};
            if ((r = sv_rpc(c, SHUNT_T_OPEN, &oq, &m)) < 0) {
                close(mfd);
                goto close_h;
            }
            rh = m.u.open_r.handle;
        }
        r = sv_fetch(c, rh, mfd);
        if (rh != h) {
            shunt_close_t rc = {.handle = rh};
            shunt_msg_t m2;
            sv_rpc(c, SHUNT_T_CLOSE, &rc, &m2);
        }
        if (r < 0) {
            close(mfd);
            goto close_h;
        }
    }
    shunt_close_t cq = {.handle = h};
    sv_rpc(c, SHUNT_T_CLOSE, &cq, &m);
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", mfd);
    wfile_t *f = calloc(1, sizeof(*f));
    char *path = strdup(norm);
    int pfd = open(p, acc | (int)(flags & (O_APPEND | O_NONBLOCK)) | O_CLOEXEC);
    int wd = pfd >= 0 ? inotify_add_watch(ino_fd, p, IN_CLOSE_WRITE) : -1;
    if (!f || !path || pfd < 0 || wd < 0) {
        r = pfd < 0 || wd < 0 ? -errno : -ENOMEM;
        free(f);
        free(path);
        if (pfd >= 0)
            close(pfd);
        close(mfd);
        return r;
    }
    if (!(flags & O_APPEND))
        lseek(pfd, 0, SEEK_SET);
    f->wd = wd;
    f->fd = mfd;
    f->path = path;
    pthread_mutex_lock(&wlock);
    /* a watch on an inode already watched returns the same wd: one
     * entry per memfd, so never the case here, but keep the list clean */
    f->next = wfiles;
    wfiles = f;
    pthread_mutex_unlock(&wlock);
    r = sv_addfd(c, pfd, (flags & O_CLOEXEC) != 0);
    close(pfd);
    return r;
close_h:;
    shunt_close_t cq2 = {.handle = h};
    sv_rpc(c, SHUNT_T_CLOSE, &cq2, &m);
    return r;
}

/* ---- namespace calls ------------------------------------------------------ */
/* A path argument: 1 remote (t filled), 0 the kernel's, -errno. */
static long wpath(sv_call_t *c, int dirfd, uint64_t paddr, sv_target_t *t)
{
    long r = sv_resolve(c, dirfd, paddr, 0, t);
    if (r == SV_RESOLVE_KERNEL || r == -EFAULT)
        return 0;
    if (r < 0)
        return r;
    if (t->mode == SHUNT_MODE_NOT_FOUND)
        return -ENOENT;
    if (t->mode != SHUNT_MODE_WRITE) {
        if (!t->kernel_same)
            return -EXDEV; /* local, relative to a remote directory */
        return 0;
    }
    sv_wr_sync();
    return 1;
}

static long ok_rpc(sv_call_t *c, uint16_t type, const void *q)
{
    shunt_msg_t m;
    long r = sv_rpc(c, type, q, &m);
    return r < 0 ? r : 0;
}

static long do_mkdir(sv_call_t *c, int dirfd, uint64_t p, uint32_t mode)
{
    sv_target_t t;
    long r = wpath(c, dirfd, p, &t);
    if (r <= 0)
        return r == 0 ? SV_CONTINUE : r;
    shunt_mkdir_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(t.raw),
                       .mode = mode & ~umask_of(c->tid) & 07777};
    return ok_rpc(c, SHUNT_T_MKDIR, &q);
}

long sv_mkdir(sv_call_t *c) { return do_mkdir(c, AT_FDCWD, c->a[0], (uint32_t)c->a[1]); }
long sv_mkdirat(sv_call_t *c)
{
    return do_mkdir(c, (int)c->a[0], c->a[1], (uint32_t)c->a[2]);
}

static long do_unlink(sv_call_t *c, int dirfd, uint64_t p, int flags)
{
    sv_target_t t;
    long r = wpath(c, dirfd, p, &t);
    if (r <= 0)
        return r == 0 ? SV_CONTINUE : r;
    shunt_unlink_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(t.raw),
                        .flags = flags & AT_REMOVEDIR};
    return ok_rpc(c, SHUNT_T_UNLINK, &q);
}

long sv_unlink(sv_call_t *c) { return do_unlink(c, AT_FDCWD, c->a[0], 0); }
long sv_rmdir(sv_call_t *c) { return do_unlink(c, AT_FDCWD, c->a[0], AT_REMOVEDIR); }
long sv_unlinkat(sv_call_t *c)
{
    return do_unlink(c, (int)c->a[0], c->a[1], (int)c->a[2]);
}

/* The target's canonical name of the entry path names (its parent
 * resolved with REALPATH, the last component kept: a renamed symlink is
 * the link, not what it points to).  0 or -errno. */
static long canonical(sv_call_t *c, const char *path, char *out, size_t n)
{
    char p[PATH_MAX];
    size_t l = strlen(path);
    if (l >= sizeof(p))
        return -ENAMETOOLONG;
    memcpy(p, path, l + 1);
    while (l > 1 && p[l - 1] == '/')
        p[--l] = 0;
    char *slash = strrchr(p, '/');
    const char *base = slash ? slash + 1 : p;
    if (!slash || !strcmp(base, ".") || !strcmp(base, ".."))
        return -EINVAL;
    *slash = 0;
    shunt_realpath_t q = {.dirh = (int32_t)SHUNT_AT_ROOT,
                          .path = shunt_str(p[0] ? p : "/"), .flags = 0};
    shunt_msg_t m;
    long r = sv_rpc(c, SHUNT_T_REALPATH, &q, &m);
    if (r < 0)
        return r;
    size_t dl = m.u.readlink_r.target.len;
    const char *d = (const char *)m.u.readlink_r.target.p;
    int k = snprintf(out, n, "%.*s%s%s", (int)dl, d,
                     dl && d[dl - 1] == '/' ? "" : "/", base);
    return k > 0 && (size_t)k < n ? 0 : -ENAMETOOLONG;
}

/* Two path arguments (rename, link): 1 both remote (a and b filled), 0
 * both the kernel's, or -errno (EXDEV: one in the target, one here). */
static long wpaths(sv_call_t *c, int od, uint64_t op, int nd, uint64_t np,
                   sv_target_t *a, sv_target_t *b)
{
    long ra = wpath(c, od, op, a);
    if (ra < 0)
        return ra;
    long rb = wpath(c, nd, np, b);
    if (rb < 0)
        return rb;
    if (ra != rb)
        return -EXDEV;
    return ra;
}

static long do_rename(sv_call_t *c, int od, uint64_t op, int nd, uint64_t np,
                      unsigned flags)
{
    sv_target_t a, b;
    long r = wpaths(c, od, op, nd, np, &a, &b);
    if (r <= 0)
        return r == 0 ? SV_CONTINUE : r;
    /* the canonical names, as the cwds and directories are kept */
    char from[PATH_MAX], to[PATH_MAX];
    int canon = canonical(c, a.raw, from, sizeof(from)) == 0;
    shunt_rename_t q = {.olddirh = SHUNT_AT_ROOT, .oldpath = shunt_str(a.raw),
                        .newdirh = SHUNT_AT_ROOT, .newpath = shunt_str(b.raw),
                        .flags = flags};
    r = ok_rpc(c, SHUNT_T_RENAME, &q);
    if (r == 0 && canon && canonical(c, b.raw, to, sizeof(to)) == 0 &&
        !(flags & RENAME_EXCHANGE)) {
        sv_cwd_renamed(from, to);
        sv_dirs_renamed(from, to);
    }
    return r;
}

long sv_rename(sv_call_t *c)
{
    return do_rename(c, AT_FDCWD, c->a[0], AT_FDCWD, c->a[1], 0);
}
long sv_renameat(sv_call_t *c)
{
    return do_rename(c, (int)c->a[0], c->a[1], (int)c->a[2], c->a[3], 0);
}
long sv_renameat2(sv_call_t *c)
{
    return do_rename(c, (int)c->a[0], c->a[1], (int)c->a[2], c->a[3],
                     (unsigned)c->a[4]);
}

static long do_symlink(sv_call_t *c, uint64_t target, int nd, uint64_t np)
{
    sv_target_t t;
    long r = wpath(c, nd, np, &t);
    if (r <= 0)
        return r == 0 ? SV_CONTINUE : r;
    char tg[PATH_MAX];
    if ((r = sv_read_str(c, target, tg, sizeof(tg))) < 0)
        return r;
    shunt_symlink_t q = {.target = shunt_str(tg), .newdirh = SHUNT_AT_ROOT,
                         .newpath = shunt_str(t.raw)};
    return ok_rpc(c, SHUNT_T_SYMLINK, &q);
}

long sv_symlink(sv_call_t *c) { return do_symlink(c, c->a[0], AT_FDCWD, c->a[1]); }
long sv_symlinkat(sv_call_t *c)
{
    return do_symlink(c, c->a[0], (int)c->a[1], c->a[2]);
}

static long do_chmod(sv_call_t *c, int dirfd, uint64_t p, uint32_t mode,
                     int flags)
{
    sv_target_t t;
    long r = wpath(c, dirfd, p, &t);
    if (r <= 0)
        return r == 0 ? SV_CONTINUE : r;
    shunt_chmod_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(t.raw),
                       .mode = mode & 07777,
                       .flags = flags & AT_SYMLINK_NOFOLLOW};
    return ok_rpc(c, SHUNT_T_CHMOD, &q);
}

long sv_chmod(sv_call_t *c) { return do_chmod(c, AT_FDCWD, c->a[0], (uint32_t)c->a[1], 0); }
long sv_fchmodat(sv_call_t *c)
{
    return do_chmod(c, (int)c->a[0], c->a[1], (uint32_t)c->a[2], 0);
}

long sv_truncate(sv_call_t *c)
{
    sv_target_t t;
    long r = wpath(c, AT_FDCWD, c->a[0], &t);
    if (r <= 0)
        return r == 0 ? SV_CONTINUE : r;
    shunt_truncate_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(t.raw),
                          .length = (int64_t)c->a[1]};
    return ok_rpc(c, SHUNT_T_TRUNCATE, &q);
}

static long do_link(sv_call_t *c, int od, uint64_t op, int nd, uint64_t np,
                    int flags)
{
    sv_target_t a, b;
    long r = wpaths(c, od, op, nd, np, &a, &b);
    if (r <= 0)
        return r == 0 ? SV_CONTINUE : r;
    shunt_link_t q = {.olddirh = SHUNT_AT_ROOT, .oldpath = shunt_str(a.raw),
                      .newdirh = SHUNT_AT_ROOT, .newpath = shunt_str(b.raw),
                      .flags = flags & AT_SYMLINK_FOLLOW};
    return ok_rpc(c, SHUNT_T_LINK, &q);
}

long sv_link(sv_call_t *c)
{
    return do_link(c, AT_FDCWD, c->a[0], AT_FDCWD, c->a[1], 0);
}
long sv_linkat(sv_call_t *c)
{
    return do_link(c, (int)c->a[0], c->a[1], (int)c->a[2], c->a[3],
                   (int)c->a[4]);
}

/* chown(path, uid, gid), lchown, fchownat(dirfd, path, uid, gid, flags) */
static long do_chown(sv_call_t *c, int dirfd, uint64_t p, uint32_t uid,
                     uint32_t gid, int flags)
{
    sv_target_t t;
    long r = wpath(c, dirfd, p, &t);
    if (r <= 0)
        return r == 0 ? SV_CONTINUE : r;
    shunt_chown_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(t.raw),
                       .uid = uid, .gid = gid,
                       .flags = flags & AT_SYMLINK_NOFOLLOW};
    return ok_rpc(c, SHUNT_T_CHOWN, &q);
}

long sv_chown(sv_call_t *c)
{
    return do_chown(c, AT_FDCWD, c->a[0], (uint32_t)c->a[1],
                    (uint32_t)c->a[2], 0);
}
long sv_lchown(sv_call_t *c)
{
    return do_chown(c, AT_FDCWD, c->a[0], (uint32_t)c->a[1],
                    (uint32_t)c->a[2], AT_SYMLINK_NOFOLLOW);
}
long sv_fchownat(sv_call_t *c)
{
    if ((c->a[4] & AT_EMPTY_PATH))
        return SV_CONTINUE; /* of an fd: not served (docs/supervisor.md) */
    return do_chown(c, (int)c->a[0], c->a[1], (uint32_t)c->a[2],
                    (uint32_t)c->a[3], (int)c->a[4]);
}

/* utimensat(dirfd, path, times[2], flags); a NULL path is futimens. */
long sv_utimensat(sv_call_t *c)
{
    if (!c->a[1])
        return SV_CONTINUE; /* futimens: of an fd, not served */
    sv_target_t t;
    long r = wpath(c, (int)c->a[0], c->a[1], &t);
    if (r <= 0)
        return r == 0 ? SV_CONTINUE : r;
    struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    if (c->a[2] && (r = sv_read(c, c->a[2], ts, sizeof(ts))) < 0)
        return r == -ESRCH ? r : -EFAULT;
    shunt_utimens_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(t.raw),
                         .atime_sec = ts[0].tv_sec, .atime_nsec = ts[0].tv_nsec,
                         .mtime_sec = ts[1].tv_sec, .mtime_nsec = ts[1].tv_nsec,
                         .flags = (int)c->a[3] & AT_SYMLINK_NOFOLLOW};
    return ok_rpc(c, SHUNT_T_UTIMENS, &q);
}

/* mknod(path, mode, dev), mknodat(dirfd, path, mode, dev): FIFOs,
 * sockets and regular files (the agent refuses device nodes). */
static long do_mknod(sv_call_t *c, int dirfd, uint64_t p, uint32_t mode,
                     uint64_t dev)
{
    sv_target_t t;
    long r = wpath(c, dirfd, p, &t);
    if (r <= 0)
        return r == 0 ? SV_CONTINUE : r;
    shunt_mknod_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(t.raw),
                       .mode = (mode & S_IFMT) |
                               (mode & ~umask_of(c->tid) & 07777),
                       .dev = dev};
    return ok_rpc(c, SHUNT_T_MKNOD, &q);
}

long sv_mknod(sv_call_t *c)
{
    return do_mknod(c, AT_FDCWD, c->a[0], (uint32_t)c->a[1], c->a[2]);
}
long sv_mknodat(sv_call_t *c)
{
    return do_mknod(c, (int)c->a[0], c->a[1], (uint32_t)c->a[2], c->a[3]);
}
