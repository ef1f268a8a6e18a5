/* File requests: open, read, write, stat, directories, links, statfs,
 * ownership, special files. */
#include "agent.h"

#include "shunt/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PATHBUF (PATH_MAX + 2)
#define DIRBUF_SIZE 32768u

/* Flags a client may pass to OPEN; the rest are dropped as open(2) would
 * ignore them (openat2 rejects unknown bits).  O_ASYNC would signal us. */
#define OPEN_FLAGS                                                         \
    (O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NONBLOCK |      \
     O_DSYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW |         \
     O_NOATIME | O_SYNC | O_PATH | __O_TMPFILE | O_NOCTTY)
#define OPATH_FLAGS (O_PATH | O_DIRECTORY | O_NOFOLLOW)

void handle_close_fd(handle_t *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

static handle_t *get_handle(client_t *cl, uint64_t id, uint32_t num,
                            unsigned kinds)
{
    handle_t *h = htab_get(&cl->h, num, kinds);
    if (!h)
        reply_error(cl, id, EBADF, "bad handle %u", num);
    return h;
}

/* Joins (dirh, path) or answers the request with the error. */
static int join(client_t *cl, uint64_t id, uint32_t dirh, shunt_str_t path,
                char *out)
{
    if (path.len == 0) {
        reply_error(cl, id, ENOENT, "empty path");
        return -1;
    }
    int r = path_join(cl, dirh, path, out, PATHBUF);
    if (r < 0) {
        reply_error(cl, id, -r, "%.*s: %s", (int)(path.len > 200 ? 200 : path.len),
                    path.p, strerror(-r));
        return -1;
    }
    return 0;
}

static void fail(client_t *cl, uint64_t id, int err, const char *op,
                 const char *path)
{
    reply_error(cl, id, err, "%s %.300s: %s", op, path, strerror(err));
}

static int handle_limit(client_t *cl, uint64_t id)
{
    if (cl->h.used < cl->h.limit)
        return 0;
    LOG_DEBUG("client %s: handle limit (%u) reached", cl->desc, cl->h.limit);
    reply_error(cl, id, EMFILE, "client handle limit (%u) reached",
                cl->h.limit);
    return -1;
}

/* A blocking open of a FIFO waits in the kernel for the other end; the
 * agent serves every client from one thread and opens with O_NONBLOCK, so
 * it cannot wait, and a handle opened without waiting would read EOF or
 * EAGAIN where the program expects to block.  It is refused, always the
 * same way (docs/hooking.md, "Remote files: real fds"); O_NONBLOCK opens
 * (and O_PATH) are served as the kernel serves them. */
static int is_fifo(agent_t *a, const char *p, int flags)
{
    int pfd = root_open(a, p, O_PATH | (flags & O_NOFOLLOW), 0);
    if (pfd < 0)
        return 0;
    struct stat st;
    int r = fstat(pfd, &st) == 0 && S_ISFIFO(st.st_mode);
    close(pfd);
    return r;
}

static void refuse_fifo(client_t *cl, uint64_t id, const char *p)
{
    reply_error(cl, id, EOPNOTSUPP,
                "open %.300s: a FIFO opened without O_NONBLOCK (blocking "
                "FIFO opens are not relayed)", p);
}

static void do_open(client_t *cl, uint64_t id, uint32_t dirh, shunt_str_t path,
                    int flags, uint32_t mode)
{
    char p[PATHBUF];
    if (handle_limit(cl, id) < 0 || join(cl, id, dirh, path, p) < 0)
        return;
    int f;
    if (flags & O_PATH)
        f = flags & OPATH_FLAGS;
    else /* never block on a FIFO or device; cleared again for files */
        f = (flags & OPEN_FLAGS) | O_NOCTTY | O_NONBLOCK;
    int fd = root_open_io(cl->a, p, f, mode);
    int blocking = !(flags & (O_NONBLOCK | O_PATH));
    if (fd == -ENXIO && blocking && is_fifo(cl->a, p, flags)) {
        refuse_fifo(cl, id, p);
        return;
    }
    if (fd < 0) {
        fail(cl, id, -fd, "open", p);
        return;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        fail(cl, id, errno, "fstat", p);
        close(fd);
        return;
    }
    if (blocking && S_ISFIFO(sb.st_mode)) {
        close(fd);
        refuse_fifo(cl, id, p);
        return;
    }
    if (!(flags & (O_NONBLOCK | O_PATH)) &&
        (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    handle_t *h;
    uint32_t num;
    char *copy = strdup(p);
    int r = copy ? htab_alloc(&cl->h, &h, &num) : -ENOMEM;
    if (r < 0) {
        free(copy);
        close(fd);
        reply_error(cl, id, -r, "no handle: %s", strerror(-r));
        return;
    }
    h->kind = S_ISDIR(sb.st_mode) ? H_DIR : H_FILE;
    h->fd = fd;
    h->path = copy;
    LOG_DEBUG("client %s: open %s flags 0%o -> handle %u", cl->desc, p,
              (unsigned)flags, num);
    shunt_open_r_t o = {.handle = num};
    client_send(cl, SHUNT_T_OPEN_R, 0, id, &o);
}

static void do_read(client_t *cl, uint64_t id, uint32_t num, uint32_t count,
                    int64_t off, int positional)
{
    handle_t *h = get_handle(cl, id, num, HK(H_FILE) | HK(H_DIR));
    if (!h)
        return;
    uint32_t max = SHUNT_DATA_MAX(cl->max_frame);
    if (count > max)
        count = max;
    shunt_data_r_t d = {.data = {NULL, 0}};
    uint8_t *buf = client_bytes_begin(cl, SHUNT_T_DATA_R, 0, id, &d, count);
    if (!buf) {
        reply_error(cl, id, ENOMEM, "out of memory");
        return;
    }
    ssize_t n;
    do
        n = positional ? pread(h->fd, buf, count, off)
                       : read(h->fd, buf, count);
    while (n < 0 && errno == EINTR);
    int e = errno;
    client_bytes_end(cl, n);
    if (n < 0)
        reply_error(cl, id, e, "%s: %s", positional ? "pread" : "read",
                    strerror(e));
}

static void do_write(client_t *cl, uint64_t id, uint32_t num,
                     shunt_bytes_t data, int64_t off, int positional)
{
    handle_t *h = get_handle(cl, id, num, HK(H_FILE) | HK(H_DIR));
    if (!h)
        return;
    ssize_t n;
    do
        n = positional ? pwrite(h->fd, data.p, data.len, off)
                       : write(h->fd, data.p, data.len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        reply_error(cl, id, errno, "%s: %s", positional ? "pwrite" : "write",
                    strerror(errno));
    else
        reply_ok(cl, id, n);
}

static void fill_stat(shunt_stat_r_t *s, const struct statx *x)
{
    memset(s, 0, sizeof(*s));
    s->mask = x->stx_mask;
    s->blksize = x->stx_blksize;
    s->attributes = x->stx_attributes;
    s->nlink = x->stx_nlink;
    s->uid = x->stx_uid;
    s->gid = x->stx_gid;
    s->mode = x->stx_mode;
    s->ino = x->stx_ino;
    s->size = x->stx_size;
    s->blocks = x->stx_blocks;
    s->attributes_mask = x->stx_attributes_mask;
    s->atime_sec = x->stx_atime.tv_sec;
    s->atime_nsec = x->stx_atime.tv_nsec;
    s->btime_sec = x->stx_btime.tv_sec;
    s->btime_nsec = x->stx_btime.tv_nsec;
    s->ctime_sec = x->stx_ctime.tv_sec;
    s->ctime_nsec = x->stx_ctime.tv_nsec;
    s->mtime_sec = x->stx_mtime.tv_sec;
    s->mtime_nsec = x->stx_mtime.tv_nsec;
    s->rdev_major = x->stx_rdev_major;
    s->rdev_minor = x->stx_rdev_minor;
    s->dev_major = x->stx_dev_major;
    s->dev_minor = x->stx_dev_minor;
#ifdef STATX_MNT_ID
    s->mnt_id = x->stx_mnt_id;
#endif
}

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x1000u
#endif

static void send_statx(client_t *cl, uint64_t id, int fd, const char *what)
{
    struct statx x;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_ALL | STATX_MNT_ID, &x) < 0) {
        fail(cl, id, errno, "statx", what);
        return;
    }
    shunt_stat_r_t s;
    fill_stat(&s, &x);
    client_send(cl, SHUNT_T_STAT_R, 0, id, &s);
}

/* For *at requests with AT_EMPTY_PATH: the fd dirh stands for. */
static int dirh_fd(client_t *cl, uint32_t dirh)
{
    if (dirh == SHUNT_AT_ROOT)
        return cl->a->root_fd;
    handle_t *h = htab_get(&cl->h, dirh, HK(H_FILE) | HK(H_DIR));
    return h ? h->fd : -1;
}

/* Opens (dirh, path) as O_PATH, following the last symlink unless
 * nofollow; with empty_ok an empty path means dirh itself (*owned = 0). */
static int open_target(client_t *cl, uint64_t id, uint32_t dirh,
                       shunt_str_t path, int nofollow, int empty_ok,
                       const char *op, int *owned)
{
    *owned = 0;
    if (path.len == 0 && empty_ok) {
        int fd = dirh_fd(cl, dirh);
        if (fd < 0)
            reply_error(cl, id, EBADF, "bad handle %u", dirh);
        return fd;
    }
    char p[PATHBUF];
    if (join(cl, id, dirh, path, p) < 0)
        return -1;
    int fd = root_open(cl->a, p, O_PATH | (nofollow ? O_NOFOLLOW : 0), 0);
    if (fd < 0) {
        fail(cl, id, -fd, op, p);
        return -1;
    }
    *owned = 1;
    return fd;
}

static void do_stat(client_t *cl, uint64_t id, const shunt_stat_t *s)
{
    if (s->flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT |
                     AT_STATX_SYNC_TYPE)) {
        reply_error(cl, id, EINVAL, "bad stat flags 0x%x", (unsigned)s->flags);
        return;
    }
    int owned;
    int fd = open_target(cl, id, s->dirh, s->path,
                         s->flags & AT_SYMLINK_NOFOLLOW,
                         s->flags & AT_EMPTY_PATH, "stat", &owned);
    if (fd < 0)
        return;
    send_statx(cl, id, fd, "");
    if (owned)
        close(fd);
}

static void do_access(client_t *cl, uint64_t id, const shunt_access_t *s)
{
    if ((s->mode & ~(R_OK | W_OK | X_OK)) ||
        (s->flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))) {
        reply_error(cl, id, EINVAL, "bad access mode or flags");
        return;
    }
    int owned;
    int fd = open_target(cl, id, s->dirh, s->path,
                         s->flags & AT_SYMLINK_NOFOLLOW,
                         s->flags & AT_EMPTY_PATH, "access", &owned);
    if (fd < 0)
        return;
    long r = syscall(SYS_faccessat2, fd, "", s->mode,
                     (s->flags & AT_EACCESS) | AT_EMPTY_PATH);
    if (r < 0)
        reply_error(cl, id, errno, "access: %s", strerror(errno));
    else
        reply_ok(cl, id, 0);
    if (owned)
        close(fd);
}

static void do_readlink(client_t *cl, uint64_t id, const shunt_readlink_t *s)
{
    int owned;
    int fd = open_target(cl, id, s->dirh, s->path, 1, 0, "readlink", &owned);
    if (fd < 0)
        return;
    char buf[PATH_MAX + 1];
    ssize_t n = readlinkat(fd, "", buf, sizeof(buf) - 1);
    if (n < 0) {
        int e = errno;
        struct stat sb;
        /* readlinkat(fd, "") says ENOENT for a non-link; readlink says EINVAL */
        if (e == ENOENT && fstat(fd, &sb) == 0 && !S_ISLNK(sb.st_mode))
            e = EINVAL;
        reply_error(cl, id, e, "readlink: %s", strerror(e));
    } else {
        shunt_readlink_r_t r = {.target = {.p = buf, .len = (uint32_t)n}};
        client_send(cl, SHUNT_T_READLINK_R, 0, id, &r);
    }
    close(fd);
}

/* Opens the parent of (dirh, path) for an op on the last component. */
static int open_parent(client_t *cl, uint64_t id, uint32_t dirh,
                       shunt_str_t path, char *p, const char **base,
                       const char *op)
{
    if (join(cl, id, dirh, path, p) < 0)
        return -1;
    int fd = root_open_parent(cl->a, p, base);
    if (fd < 0)
        fail(cl, id, -fd, op, p);
    return fd;
}

static void do_mkdir(client_t *cl, uint64_t id, const shunt_mkdir_t *s)
{
    char p[PATHBUF];
    const char *base;
    int dd;
    int pfd = open_parent(cl, id, s->dirh, s->path, p, &base, "mkdir");
    if (pfd < 0)
        return;
    if (!*base || base_is_dot(base, &dd))
        fail(cl, id, EEXIST, "mkdir", p);
    else if (mkdirat(pfd, base, s->mode & 07777) < 0)
        fail(cl, id, errno, "mkdir", p);
    else
        reply_ok(cl, id, 0);
    close(pfd);
}

static void do_remove(client_t *cl, uint64_t id, uint32_t dirh,
                      shunt_str_t path, int rmdir)
{
    char p[PATHBUF];
    const char *base;
    int dd;
    const char *op = rmdir ? "rmdir" : "unlink";
    int pfd = open_parent(cl, id, dirh, path, p, &base, op);
    if (pfd < 0)
        return;
    /* the errno the kernel gives for "/", "." and ".." */
    if (!*base)
        fail(cl, id, rmdir ? EBUSY : EISDIR, op, p);
    else if (base_is_dot(base, &dd))
        fail(cl, id, !rmdir ? EISDIR : dd ? ENOTEMPTY : EINVAL, op, p);
    else if (unlinkat(pfd, base, rmdir ? AT_REMOVEDIR : 0) < 0)
        fail(cl, id, errno, op, p);
    else
        reply_ok(cl, id, 0);
    close(pfd);
}

static void do_rename(client_t *cl, uint64_t id, const shunt_rename_t *s)
{
    char op_[PATHBUF], np[PATHBUF];
    const char *ob, *nb;
    int dd;
    if (s->flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE |
                               RENAME_WHITEOUT)) {
        reply_error(cl, id, EINVAL, "bad rename flags 0x%x", s->flags);
        return;
    }
    int ofd = open_parent(cl, id, s->olddirh, s->oldpath, op_, &ob, "rename");
    if (ofd < 0)
        return;
    int nfd = open_parent(cl, id, s->newdirh, s->newpath, np, &nb, "rename");
    if (nfd < 0) {
        close(ofd);
        return;
    }
    if (!*ob || base_is_dot(ob, &dd))
        fail(cl, id, EBUSY, "rename", op_);
    else if (!*nb || base_is_dot(nb, &dd))
        fail(cl, id, (s->flags & RENAME_NOREPLACE) ? EEXIST : EBUSY,
             "rename", np);
    else if (renameat2(ofd, ob, nfd, nb, s->flags) < 0)
        fail(cl, id, errno, "rename", op_);
    else
        reply_ok(cl, id, 0);
    close(ofd);
    close(nfd);
}

struct dirent64_raw {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
    char d_name[];
};

static void do_getdents(client_t *cl, uint64_t id, const shunt_getdents_t *g)
{
    handle_t *h = get_handle(cl, id, g->handle, HK(H_FILE) | HK(H_DIR));
    if (!h)
        return;
    if (h->kind != H_DIR) {
        reply_error(cl, id, ENOTDIR, "handle %u is not a directory",
                    g->handle);
        return;
    }
    if (!h->dbuf && !(h->dbuf = malloc(DIRBUF_SIZE))) {
        reply_error(cl, id, ENOMEM, "out of memory");
        return;
    }
    size_t budget = cl->max_frame - SHUNT_HDR_LEN - 64;
    uint32_t max = g->max_entries ? g->max_entries : UINT32_MAX;
    shunt_wbuf_t list;
    shunt_wbuf_init(&list);
    uint32_t count = 0;
    uint8_t eof = 0;
    while (count < max) {
        if (h->dpos >= h->dlen) {
            long n = syscall(SYS_getdents64, h->fd, h->dbuf, DIRBUF_SIZE);
            if (n < 0) {
                if (count == 0) {
                    reply_error(cl, id, errno, "getdents: %s",
                                strerror(errno));
                    shunt_wbuf_free(&list);
                    return;
                }
                break;
            }
            h->dpos = 0;
            h->dlen = (uint32_t)n;
            if (n == 0) {
                eof = 1;
                break;
            }
        }
        const struct dirent64_raw *d =
            (const struct dirent64_raw *)(h->dbuf + h->dpos);
        shunt_rec_dirent_t r = {.ino = d->d_ino, .off = d->d_off,
                                .type = d->d_type,
                                .name = shunt_str(d->d_name)};
        size_t before = list.len;
        if (shunt_put_rec_dirent(&list, &r) < 0 || list.len > budget) {
            list.len = before;
            if (list.err)
                list.err = 0;
            break;
        }
        count++;
        h->dpos += d->d_reclen;
    }
    shunt_dirents_r_t out = {
        .eof = eof,
        .entries = {.count = count, .p = list.data, .len = (uint32_t)list.len}};
    client_send(cl, SHUNT_T_DIRENTS_R, 0, id, &out);
    shunt_wbuf_free(&list);
}

static void send_statfs(client_t *cl, uint64_t id, int fd)
{
    struct statfs f;
    if (fstatfs(fd, &f) < 0) {
        reply_error(cl, id, errno, "statfs: %s", strerror(errno));
        return;
    }
    uint64_t fsid;
    memcpy(&fsid, &f.f_fsid, sizeof(fsid));
    shunt_statfs_r_t r = {
        .type = f.f_type, .bsize = f.f_bsize, .blocks = f.f_blocks,
        .bfree = f.f_bfree, .bavail = f.f_bavail, .files = f.f_files,
        .ffree = f.f_ffree, .fsid = fsid, .namelen = f.f_namelen,
        .frsize = f.f_frsize, .flags = f.f_flags};
    client_send(cl, SHUNT_T_STATFS_R, 0, id, &r);
}

static void do_truncate(client_t *cl, uint64_t id, const shunt_truncate_t *t)
{
    char p[PATHBUF];
    if (join(cl, id, t->dirh, t->path, p) < 0)
        return;
    /* truncate(2) refuses a directory (EISDIR) and anything but a
     * regular file (EINVAL: a FIFO, a socket, a device) before it asks
     * for write access, and never opens the file. */
    int pfd = root_open(cl->a, p, O_PATH, 0);
    struct stat st;
    if (pfd < 0) {
        fail(cl, id, -pfd, "truncate", p);
        return;
    }
    int e = fstat(pfd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR
            : !S_ISREG(st.st_mode) ? EINVAL : 0;
    close(pfd);
    if (e) {
        fail(cl, id, e, "truncate", p);
        return;
    }
    int fd = root_open_io(cl->a, p, O_WRONLY | O_NONBLOCK | O_NOCTTY, 0);
    if (fd < 0) {
        fail(cl, id, -fd, "truncate", p);
        return;
    }
    if (ftruncate(fd, t->length) < 0)
        fail(cl, id, errno, "truncate", p);
    else
        reply_ok(cl, id, 0);
    close(fd);
}

/* chmod through an O_PATH fd: the kernel refuses fchmod() on O_PATH, but
 * its /proc/self/fd link names exactly the resolved inode. */
static int chmod_path_fd(int fd, mode_t mode)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    return chmod(link, mode);
}

static void do_chmod(client_t *cl, uint64_t id, const shunt_chmod_t *s)
{
    if (s->flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) {
        reply_error(cl, id, EINVAL, "bad chmod flags 0x%x", (unsigned)s->flags);
        return;
    }
    int owned;
    int fd = open_target(cl, id, s->dirh, s->path,
                         s->flags & AT_SYMLINK_NOFOLLOW,
                         s->flags & AT_EMPTY_PATH, "chmod", &owned);
    if (fd < 0)
        return;
    struct stat st;
    if ((s->flags & AT_SYMLINK_NOFOLLOW) && fstat(fd, &st) == 0 &&
        S_ISLNK(st.st_mode))
        reply_error(cl, id, EOPNOTSUPP, "chmod: cannot change a symlink's mode");
    else if (chmod_path_fd(fd, (mode_t)(s->mode & 07777)) < 0)
        reply_error(cl, id, errno, "chmod: %s", strerror(errno));
    else
        reply_ok(cl, id, 0);
    if (owned)
        close(fd);
}

static void do_symlink(client_t *cl, uint64_t id, const shunt_symlink_t *s)
{
    char target[PATH_MAX];
    if (shunt_str_copy(target, sizeof(target), s->target) < 0 ||
        s->target.len == 0) {
        reply_error(cl, id, s->target.len ? ENAMETOOLONG : ENOENT,
                    "symlink: bad target");
        return;
    }
    char p[PATHBUF];
    const char *base;
    int dd;
    int pfd = open_parent(cl, id, s->newdirh, s->newpath, p, &base, "symlink");
    if (pfd < 0)
        return;
    /* The target is stored as given: it is resolved later, inside the
     * root, by whoever follows the link. */
    if (!*base || base_is_dot(base, &dd))
        fail(cl, id, EEXIST, "symlink", p);
    else if (symlinkat(target, pfd, base) < 0)
        fail(cl, id, errno, "symlink", p);
    else
        reply_ok(cl, id, 0);
    close(pfd);
}

static void do_utimens(client_t *cl, uint64_t id, const shunt_utimens_t *s)
{
    if (s->flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) {
        reply_error(cl, id, EINVAL, "bad utimens flags 0x%x", (unsigned)s->flags);
        return;
    }
    int owned;
    int fd = open_target(cl, id, s->dirh, s->path,
                         s->flags & AT_SYMLINK_NOFOLLOW,
                         s->flags & AT_EMPTY_PATH, "utimens", &owned);
    if (fd < 0)
        return;
    struct timespec ts[2] = {{s->atime_sec, s->atime_nsec},
                             {s->mtime_sec, s->mtime_nsec}};
    /* AT_EMPTY_PATH on an O_PATH fd: the inode the path resolved to. */
    if (utimensat(fd, "", ts, AT_EMPTY_PATH) < 0)
        reply_error(cl, id, errno, "utimens: %s", strerror(errno));
    else
        reply_ok(cl, id, 0);
    if (owned)
        close(fd);
}

/* chown through an O_PATH fd (a symlink's own inode with nofollow). */
static void do_chown(client_t *cl, uint64_t id, const shunt_chown_t *s)
{
    if (s->flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) {
        reply_error(cl, id, EINVAL, "bad chown flags 0x%x", (unsigned)s->flags);
        return;
    }
    int owned;
    int fd = open_target(cl, id, s->dirh, s->path,
                         s->flags & AT_SYMLINK_NOFOLLOW,
                         s->flags & AT_EMPTY_PATH, "chown", &owned);
    if (fd < 0)
        return;
    if (fchownat(fd, "", (uid_t)s->uid, (gid_t)s->gid, AT_EMPTY_PATH) < 0)
        reply_error(cl, id, errno, "chown: %s", strerror(errno));
    else
        reply_ok(cl, id, 0);
    if (owned)
        close(fd);
}

/* A hard link.  Both names are resolved in the root like RENAME's (their
 * parents, the last component never followed); with AT_SYMLINK_FOLLOW
 * (or AT_EMPTY_PATH) the old name is opened in the root first and linked
 * through its /proc/self/fd link, so a symlink that leaves the root is
 * resolved inside it, never on the agent's host. */
static void do_link(client_t *cl, uint64_t id, const shunt_link_t *s)
{
    char op_[PATHBUF], np[PATHBUF];
    const char *ob = NULL, *nb;
    int dd;
    if (s->flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) {
        reply_error(cl, id, EINVAL, "bad link flags 0x%x", (unsigned)s->flags);
        return;
    }
    int ofd = -1, owned = 1, byfd = (s->flags & AT_SYMLINK_FOLLOW) ||
                                ((s->flags & AT_EMPTY_PATH) && !s->oldpath.len);
    if (!byfd) {
        ofd = open_parent(cl, id, s->olddirh, s->oldpath, op_, &ob, "link");
        if (ofd < 0)
            return;
        if (!*ob || base_is_dot(ob, &dd) || ob[strcspn(ob, "/")]) {
            /* "/", ".", ".." or a trailing slash: the kernel resolves the
             * whole name (following a last symlink for the slash), which
             * relative to the parent's fd would leave the root; in the
             * root it is a directory (EPERM below) or an error */
            close(ofd);
            byfd = 1;
        } else if (fstatat(ofd, ob, &(struct stat){0}, AT_SYMLINK_NOFOLLOW) < 0) {
            /* the kernel looks the old name up before the new one's
             * parent: a missing old name is ENOENT, whatever the new */
            fail(cl, id, errno, "link", op_);
            close(ofd);
            return;
        }
    }
    if (byfd) {
        ofd = open_target(cl, id, s->olddirh, s->oldpath, 0,
                          s->flags & AT_EMPTY_PATH, "link", &owned);
        if (ofd < 0)
            return;
    }
    int nfd = open_parent(cl, id, s->newdirh, s->newpath, np, &nb, "link");
    if (nfd < 0) {
        if (owned)
            close(ofd);
        return;
    }
    int r;
    if (!*nb || base_is_dot(nb, &dd)) {
        errno = EEXIST;
        r = -1;
    } else if (byfd) {
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", ofd);
        r = linkat(AT_FDCWD, link, nfd, nb, AT_SYMLINK_FOLLOW);
    } else {
        r = linkat(ofd, ob, nfd, nb, 0);
    }
    if (r < 0)
        fail(cl, id, errno, "link", np);
    else
        reply_ok(cl, id, 0);
    if (owned)
        close(ofd);
    close(nfd);
}

/* FIFOs, sockets and regular files, as mknodat(2) makes them.  Device
 * nodes are refused with EPERM, as in an unprivileged container: a
 * program under the layer must not reach the target's hardware. */
static void do_mknod(client_t *cl, uint64_t id, const shunt_mknod_t *s)
{
    mode_t mode = (mode_t)s->mode;
    switch (mode & S_IFMT) {
    case 0: case S_IFREG: case S_IFIFO: case S_IFSOCK:
        break;
    case S_IFCHR: case S_IFBLK:
        reply_error(cl, id, EPERM, "mknod: device nodes are refused");
        return;
    case S_IFDIR:
        reply_error(cl, id, EPERM, "mknod: a directory");
        return;
    default:
        reply_error(cl, id, EINVAL, "mknod: bad mode 0%o", (unsigned)mode);
        return;
    }
    char p[PATHBUF];
    const char *base;
    int dd;
    int pfd = open_parent(cl, id, s->dirh, s->path, p, &base, "mknod");
    if (pfd < 0)
        return;
    if (!*base || base_is_dot(base, &dd))
        fail(cl, id, EEXIST, "mknod", p);
    else if (mknodat(pfd, base, mode & (S_IFMT | 07777), 0) < 0)
        fail(cl, id, errno, "mknod", p);
    else
        reply_ok(cl, id, 0);
    close(pfd);
}

/* The path the kernel gives for fd ("/proc/self/fd/N"), or -errno. */
static long fd_path(int fd, char *buf, size_t len)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, len - 1);
    if (n < 0)
        return -errno;
    if ((size_t)n >= len - 1)
        return -ENAMETOOLONG;
    buf[n] = 0;
    return n;
}

/* REALPATH: resolve in the root, then name the inode.  The root's own name
 * (a directory of this host with --root; "/" for a target's mount
 * namespace, whose paths /proc shows as the target sees them) is cut off. */
static void do_realpath(client_t *cl, uint64_t id, const shunt_realpath_t *s)
{
    if (s->flags & ~O_DIRECTORY) {
        reply_error(cl, id, EINVAL, "bad realpath flags 0x%x",
                    (unsigned)s->flags);
        return;
    }
    char p[PATHBUF];
    if (join(cl, id, s->dirh, s->path, p) < 0)
        return;
    int fd = root_open(cl->a, p, O_PATH | (s->flags & O_DIRECTORY), 0);
    if (fd < 0) {
        fail(cl, id, -fd, "realpath", p);
        return;
    }
    char root[PATHBUF], path[PATHBUF];
    long rl = fd_path(cl->a->root_fd, root, sizeof(root));
    long pl = rl < 0 ? rl : fd_path(fd, path, sizeof(path));
    if (pl >= 0 && (s->flags & O_DIRECTORY) &&
        syscall(SYS_faccessat2, fd, "", X_OK, AT_EMPTY_PATH) < 0)
        pl = -errno;
    close(fd);
    if (pl < 0) {
        fail(cl, id, (int)-pl, "realpath", p);
        return;
    }
    static const char deleted[] = " (deleted)";
    size_t dl = sizeof(deleted) - 1;
    if ((size_t)pl > dl && strcmp(path + pl - dl, deleted) == 0) {
        fail(cl, id, ENOENT, "realpath", p);
        return;
    }
    const char *out = path;
    if (!(rl == 1 && root[0] == '/')) {
        if (strncmp(path, root, (size_t)rl) != 0 ||
            (path[rl] != '/' && path[rl] != 0)) {
            reply_error(cl, id, ENOENT, "realpath %.300s: %s lies outside "
                        "the root", p, path);
            return;
        }
        out = path[rl] ? path + rl : "/";
    }
    shunt_readlink_r_t r = {.target = {.p = out, .len = (uint32_t)strlen(out)}};
    client_send(cl, SHUNT_T_READLINK_R, 0, id, &r);
}

void files_handle(client_t *cl, const shunt_msg_t *m)
{
    uint64_t id = m->id;
    handle_t *h;
    switch (m->type) {
    case SHUNT_T_OPEN:
        do_open(cl, id, SHUNT_AT_ROOT, m->u.open.path, m->u.open.flags,
                m->u.open.mode);
        break;
    case SHUNT_T_OPENAT:
        do_open(cl, id, m->u.openat.dirh, m->u.openat.path,
                m->u.openat.flags, m->u.openat.mode);
        break;
    case SHUNT_T_READ:
        do_read(cl, id, m->u.read.handle, m->u.read.count, 0, 0);
        break;
    case SHUNT_T_PREAD:
        do_read(cl, id, m->u.pread.handle, m->u.pread.count,
                m->u.pread.offset, 1);
        break;
    case SHUNT_T_WRITE:
        do_write(cl, id, m->u.write.handle, m->u.write.data, 0, 0);
        break;
    case SHUNT_T_PWRITE:
        do_write(cl, id, m->u.pwrite.handle, m->u.pwrite.data,
                 m->u.pwrite.offset, 1);
        break;
    case SHUNT_T_LSEEK: {
        if (!(h = get_handle(cl, id, m->u.lseek.handle,
                             HK(H_FILE) | HK(H_DIR))))
            break;
        off_t r = lseek(h->fd, m->u.lseek.offset, m->u.lseek.whence);
        if (r < 0) {
            reply_error(cl, id, errno, "lseek: %s", strerror(errno));
            break;
        }
        h->dpos = h->dlen = 0; /* a directory's buffered entries are stale */
        reply_ok(cl, id, r);
        break;
    }
    case SHUNT_T_CLOSE: {
        if (!(h = get_handle(cl, id, m->u.close.handle,
                             HK(H_FILE) | HK(H_DIR))))
            break;
        int r = close(h->fd);
        int e = errno;
        h->fd = -1;
        htab_release(&cl->h, m->u.close.handle);
        if (r < 0 && e != EINTR)
            reply_error(cl, id, e, "close: %s", strerror(e));
        else
            reply_ok(cl, id, 0);
        break;
    }
    case SHUNT_T_STAT: do_stat(cl, id, &m->u.stat); break;
    case SHUNT_T_FSTAT:
        if ((h = get_handle(cl, id, m->u.fstat.handle,
                            HK(H_FILE) | HK(H_DIR))))
            send_statx(cl, id, h->fd, h->path);
        break;
    case SHUNT_T_ACCESS: do_access(cl, id, &m->u.access); break;
    case SHUNT_T_READLINK: do_readlink(cl, id, &m->u.readlink); break;
    case SHUNT_T_MKDIR: do_mkdir(cl, id, &m->u.mkdir); break;
    case SHUNT_T_RMDIR:
        do_remove(cl, id, m->u.rmdir.dirh, m->u.rmdir.path, 1);
        break;
    case SHUNT_T_UNLINK:
        if (m->u.unlink.flags & ~AT_REMOVEDIR)
            reply_error(cl, id, EINVAL, "bad unlink flags 0x%x",
                        (unsigned)m->u.unlink.flags);
        else
            do_remove(cl, id, m->u.unlink.dirh, m->u.unlink.path,
                      !!(m->u.unlink.flags & AT_REMOVEDIR));
        break;
    case SHUNT_T_RENAME: do_rename(cl, id, &m->u.rename); break;
    case SHUNT_T_GETDENTS: do_getdents(cl, id, &m->u.getdents); break;
    case SHUNT_T_STATFS: {
        int owned;
        int fd = open_target(cl, id, m->u.statfs.dirh, m->u.statfs.path, 0, 0,
                             "statfs", &owned);
        if (fd >= 0) {
            send_statfs(cl, id, fd);
            close(fd);
        }
        break;
    }
    case SHUNT_T_FSTATFS:
        if ((h = get_handle(cl, id, m->u.fstatfs.handle,
                            HK(H_FILE) | HK(H_DIR))))
            send_statfs(cl, id, h->fd);
        break;
    case SHUNT_T_FTRUNCATE:
        if (!(h = get_handle(cl, id, m->u.ftruncate.handle,
                             HK(H_FILE) | HK(H_DIR))))
            break;
        if (ftruncate(h->fd, m->u.ftruncate.length) < 0)
            reply_error(cl, id, errno, "ftruncate: %s", strerror(errno));
        else
            reply_ok(cl, id, 0);
        break;
    case SHUNT_T_TRUNCATE: do_truncate(cl, id, &m->u.truncate); break;
    case SHUNT_T_FSYNC:
        if (!(h = get_handle(cl, id, m->u.fsync.handle,
                             HK(H_FILE) | HK(H_DIR))))
            break;
        if ((m->u.fsync.datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0)
            reply_error(cl, id, errno, "fsync: %s", strerror(errno));
        else
            reply_ok(cl, id, 0);
        break;
    case SHUNT_T_CHMOD: do_chmod(cl, id, &m->u.chmod); break;
    case SHUNT_T_FCHMOD:
        if (!(h = get_handle(cl, id, m->u.fchmod.handle,
                             HK(H_FILE) | HK(H_DIR))))
            break;
        if (fchmod(h->fd, (mode_t)(m->u.fchmod.mode & 07777)) < 0)
            reply_error(cl, id, errno, "fchmod: %s", strerror(errno));
        else
            reply_ok(cl, id, 0);
        break;
    case SHUNT_T_SYMLINK: do_symlink(cl, id, &m->u.symlink); break;
    case SHUNT_T_UTIMENS: do_utimens(cl, id, &m->u.utimens); break;
    case SHUNT_T_CHOWN: do_chown(cl, id, &m->u.chown); break;
    case SHUNT_T_FCHOWN:
        if (!(h = get_handle(cl, id, m->u.fchown.handle,
                             HK(H_FILE) | HK(H_DIR))))
            break;
        if (fchown(h->fd, (uid_t)m->u.fchown.uid, (gid_t)m->u.fchown.gid) < 0)
            reply_error(cl, id, errno, "fchown: %s", strerror(errno));
        else
            reply_ok(cl, id, 0);
        break;
    case SHUNT_T_LINK: do_link(cl, id, &m->u.link); break;
    case SHUNT_T_MKNOD: do_mknod(cl, id, &m->u.mknod); break;
    case SHUNT_T_REALPATH: do_realpath(cl, id, &m->u.realpath); break;
    default:
        reply_error(cl, id, EINVAL, "not a file request");
        break;
    }
}
