/* Remote files: opening (snapshot, directory or forwarded placeholder),
 * stat conversion, releasing handles. */
#include "hooks.h"
#include "layer.h"
#include "shunt/statconv.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

/* Regular files up to this size are fetched whole into a memfd at open;
 * larger ones are forwarded read by read.  $SHUNT_SNAPSHOT_MAX (bytes)
 * sets it (tests make small files take the forwarded path with it). */
#define SNAPSHOT_MAX_DEFAULT (64ull << 20)
static uint64_t snapshot_max = SNAPSHOT_MAX_DEFAULT;
#define SNAPSHOT_MAX snapshot_max

long rpc_stat_path(const layer_target_t *t, int at_flags, shunt_stat_r_t *out)
{
    shunt_stat_t q = {.dirh = t->dirh,
                      .path = shunt_str(t->rpath),
                      .flags = at_flags & (AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_STAT, &q, &m);
    if (r == 0)
        *out = m.u.stat_r;
    return r;
}

long rpc_fstat_handle(uint32_t handle, shunt_stat_r_t *out)
{
    shunt_fstat_t q = {.handle = handle};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_FSTAT, &q, &m);
    if (r == 0)
        *out = m.u.stat_r;
    return r;
}

void rpc_close_handle(uint32_t handle)
{
    shunt_close_t q = {.handle = handle};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_CLOSE, &q, &m);
    if (r < 0)
        LOG_DEBUG("close of handle %u: %s", handle, ESTR((int)-r));
}

/* The fd table calls this when the last fd of a remote file goes. */
/* Snapshots with a path alive in this process (rfile_changed). */
static atomic_int snapshots_live;

static void release(shunt_rfile_t *f)
{
    if (f->counted)
        atomic_fetch_sub(&snapshots_live, 1);
    if (f->kind == SHUNT_RF_INOTIFY) {
        layer_inotify_release(f);
        return;
    }
    if ((f->kind == SHUNT_RF_DIR || f->kind == SHUNT_RF_FWD) &&
        !atomic_load(&f->shared)) {
        LAYER_ENTER();
        rpc_close_handle(f->handle);
        LAYER_LEAVE();
    }
}

/* The names of forwarded and directory placeholders (a forwarded file
 * that grew past the limit while it was read keeps the snapshot's). */
#define FWD_NAME "shunt-fwd"
#define DIR_NAME "shunt-dir"
#define MEMFD_NAME_MAX SHUNT_MEMFD_NAME_MAX

/* A forwarded or directory placeholder this image inherited that
 * SHUNT_FDS did not name (an exec the hooks did not see: a Go program's
 * os/exec child, a raw execve): it stands for a remote file this image
 * cannot reach, so it becomes an O_PATH fd of itself, whose first read or
 * write fails with EBADF, rather than an empty file. */
static void orphan(int fd, const char *link)
{
    char p[48];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    long flags = LSYS3(SYS_fcntl, fd, F_GETFD, 0);
    long op = LSYS4(SYS_openat, AT_FDCWD, p, O_PATH | O_CLOEXEC, 0);
    if (op < 0 || flags < 0)
        return;
    LSYS3(SYS_dup3, op, fd, (flags & FD_CLOEXEC) ? O_CLOEXEC : 0);
    LSYS1(SYS_close, op);
    LOG_WARN("fd %d: a remote file's placeholder (%s) inherited without its "
             "remote file (an exec the layer did not see): reads and writes "
             "fail with EBADF", fd, link);
}

/* At start of an active layer: the snapshots this image inherited (their
 * fds survive exec) go back into the fd table, read-only, with the stat
 * their name carries, unless SHUNT_FDS put them there already (execfds.c,
 * with their path).  Without it their path is not known: fstatfs answers
 * for the target's root, and fchmod/futimens give EROFS as on any
 * snapshot of a read-mode path.  Raw system calls only: the hooks are not
 * installed. */
static void adopt_inherited(void)
{
    int dfd = (int)LSYS4(SYS_openat, AT_FDCWD, "/proc/self/fd",
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd < 0)
        return;
    char buf[4096];
    long n;
    while ((n = LSYS3(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            off += d->reclen;
            char *end;
            long fd = strtol(d->name, &end, 10);
            if (*end || end == d->name || fd == dfd || fd < 0)
                continue;
            char link[512];
            long l = LSYS4(SYS_readlinkat, dfd, d->name, link, sizeof(link) - 1);
            if (l <= 0)
                continue;
            link[l] = 0;
            if (shunt_fdt_is_ours((int)fd))
                continue; /* named by SHUNT_FDS */
            if (strcmp(link, "/memfd:" FWD_NAME " (deleted)") == 0 ||
                strcmp(link, "/memfd:" DIR_NAME " (deleted)") == 0) {
                orphan((int)fd, link);
                continue;
            }
            shunt_stat_r_t st;
            if (shunt_snap_parse(link, &st) < 0)
                continue;
            shunt_rfile_t *f = shunt_rfile_new(SHUNT_RF_SNAPSHOT);
            if (!f)
                break;
            f->st = st;
            f->oflags = O_RDONLY;
            struct stat ph;
            if (LSYS4(SYS_newfstatat, (int)fd, "", &ph, AT_EMPTY_PATH) == 0) {
                f->ph_dev = ph.st_dev;
                f->ph_ino = ph.st_ino;
            }
            if (shunt_fdt_set((int)fd, f) == 0)
                LOG_DEBUG("fd %ld: a snapshot inherited across exec", fd);
            shunt_rfile_unref(f);
        }
    }
    LSYS1(SYS_close, dfd);
}

void rfiles_init(void);
void rfiles_init(void)
{
    shunt_rfile_release = release;
    const char *v = getenv("SHUNT_SNAPSHOT_MAX");
    if (v && *v) {
        char *end;
        unsigned long long m = strtoull(v, &end, 10);
        if (*end || m > SNAPSHOT_MAX_DEFAULT * 1024)
            LOG_WARN("SHUNT_SNAPSHOT_MAX=%s: not a number of bytes; the "
                     "limit stays %llu", v, (unsigned long long)snapshot_max);
        else
            snapshot_max = m;
    }
    if (shunt_layer.socket_path[0])
        adopt_inherited();
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        long w = LSYS3(SYS_write, fd, p, n);
        if (w == -EINTR)
            continue;
        if (w < 0)
            return (int)w;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Gives mfd the access mode and status flags of the program's open by
 * reopening it through /proc (a memfd is O_RDWR otherwise), keeping the
 * fd number (the lowest free one, as open(2) would give). */
static void finish_fd(int mfd, int acc, int flags)
{
    char p[48];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", mfd);
    int rfd = (int)LSYS4(SYS_openat, AT_FDCWD, p,
                         acc | (flags & (O_NONBLOCK | O_APPEND)) | O_CLOEXEC, 0);
    if (rfd < 0) {
        LOG_DEBUG("reopen of placeholder %d: %s", mfd, ESTR(-rfd));
        return;
    }
    LSYS3(SYS_dup3, rfd, mfd, (flags & O_CLOEXEC) ? O_CLOEXEC : 0);
    LSYS1(SYS_close, rfd);
    if (!(flags & O_CLOEXEC))
        LSYS3(SYS_fcntl, mfd, F_SETFD, 0);
}

/* Reads the file whole into mfd: 0, or 1 when it holds more than
 * SNAPSHOT_MAX bytes by now (it grew after its stat: at most
 * SNAPSHOT_MAX + 1 bytes are read, never the rest), or -errno. */
static int fetch(uint32_t handle, int mfd, uint64_t size)
{
    uint32_t chunk = shunt_rpc_data_max();
    uint64_t total = 0;
    for (;;) {
        uint64_t room = SNAPSHOT_MAX + 1 - total;
        shunt_read_t q = {.handle = handle,
                          .count = room < chunk ? (uint32_t)room : chunk};
        shunt_msg_t m;
        long r = shunt_rpc(SHUNT_T_READ, &q, &m);
        if (r < 0)
            return (int)r;
        uint32_t n = m.u.data_r.data.len;
        int w = write_all(mfd, m.u.data_r.data.p, n);
        if (w < 0)
            return w;
        total += n;
        if (total > SNAPSHOT_MAX)
            return 1;
        if (n == 0 || (n < q.count && total >= size))
            break;
    }
    LSYS3(SYS_lseek, mfd, 0, SEEK_SET);
    return 0;
}

int rfile_text(const char *text, size_t len, int flags)
{
    int mfd = (int)LSYS2(SYS_memfd_create, "shunt",
                         (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
    if (mfd < 0)
        return mfd;
    int e = write_all(mfd, (const uint8_t *)text, len);
    if (e < 0) {
        LSYS1(SYS_close, mfd);
        return e;
    }
    LSYS3(SYS_lseek, mfd, 0, SEEK_SET);
    finish_fd(mfd, O_RDONLY, flags);
    return mfd;
}

int rfile_open(const layer_target_t *t, int flags, mode_t mode)
{
    int acc = flags & O_ACCMODE;
    int wants_write = shunt_open_writes(flags);
    if (flags & (O_CREAT | O_TMPFILE))
        mode &= ~shunt_layer.umask;
    shunt_msg_t m;
    long r;
    if (t->dirh == SHUNT_AT_ROOT) {
        shunt_open_t q = {.path = shunt_str(t->rpath), .flags = flags,
                          .mode = mode};
        r = shunt_rpc(SHUNT_T_OPEN, &q, &m);
    } else {
        shunt_openat_t q = {.dirh = t->dirh, .path = shunt_str(t->rpath),
                            .flags = flags, .mode = mode};
        r = shunt_rpc(SHUNT_T_OPENAT, &q, &m);
    }
    if (r < 0) {
        LOG_DEBUG("open %s (%s): %s", t->norm, shunt_mode_name(t->mode),
                  ESTR((int)-r));
        return (int)r;
    }
    uint32_t handle = m.u.open_r.handle;
    shunt_stat_r_t st;
    r = rpc_fstat_handle(handle, &st);
    if (r < 0) {
        rpc_close_handle(handle);
        return (int)r;
    }
    int kind;
    if (S_ISDIR(st.mode))
        kind = SHUNT_RF_DIR;
    else if (S_ISREG(st.mode) && !wants_write && !(flags & O_PATH) &&
             st.size <= SNAPSHOT_MAX)
        kind = SHUNT_RF_SNAPSHOT;
    else
        kind = SHUNT_RF_FWD;
    shunt_rfile_t *f = shunt_rfile_new(kind);
    char *path = strdup(t->norm);
    char name[MEMFD_NAME_MAX + 32];
    if (kind == SHUNT_RF_SNAPSHOT)
        shunt_snap_name(&st, name, sizeof(name));
    else
        snprintf(name, sizeof(name), "%s",
                 kind == SHUNT_RF_DIR ? DIR_NAME : FWD_NAME);
    int mfd = (int)LSYS2(SYS_memfd_create, name,
                         (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
    if (!f || !path || mfd < 0) {
        free(path);
        if (f)
            f->kind = 0, shunt_rfile_unref(f);
        rpc_close_handle(handle);
        return mfd < 0 ? mfd : -ENOMEM;
    }
    f->handle = handle;
    f->oflags = flags;
    f->st = st;
    f->path = path;
    if (kind == SHUNT_RF_SNAPSHOT) {
        int e = fetch(handle, mfd, st.size);
        if (e == 1) {
            /* It grew past the limit after the stat: forwarded, like a
             * file that was that large at open (the handle's offset goes
             * back to 0, the placeholder is emptied). */
            shunt_lseek_t q = {.handle = handle, .offset = 0,
                               .whence = SEEK_SET};
            shunt_msg_t lm;
            long lr = shunt_rpc(SHUNT_T_LSEEK, &q, &lm);
            /* A placeholder named as forwarded ones are (an image that
             * inherits it through an exec the layer did not see must not
             * take it for an empty snapshot). */
            int nfd = (int)LSYS2(SYS_memfd_create, FWD_NAME,
                                 (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
            if (nfd >= 0) {
                LSYS3(SYS_dup3, nfd, mfd, (flags & O_CLOEXEC) ? O_CLOEXEC : 0);
                LSYS1(SYS_close, nfd);
            } else {
                LSYS2(SYS_ftruncate, mfd, 0);
                LSYS3(SYS_lseek, mfd, 0, SEEK_SET);
            }
            e = lr < 0 ? (int)lr : 0;
            LOG_DEBUG("open %s: grew past %llu bytes after its stat (%llu): "
                      "forwarded", t->norm, (unsigned long long)SNAPSHOT_MAX,
                      (unsigned long long)st.size);
            kind = f->kind = SHUNT_RF_FWD;
        } else {
            rpc_close_handle(handle);
            f->handle = 0;
            f->counted = 1; /* until release() */
            atomic_fetch_add(&snapshots_live, 1);
        }
        if (e < 0) {
            LSYS1(SYS_close, mfd);
            shunt_rfile_unref(f);
            return e;
        }
    }
    /* An O_PATH open gets an O_PATH placeholder: F_GETFL, F_SETFL, mmap,
     * fchmod... answer as on the target's O_PATH fd. */
    if ((flags & O_TRUNC) && S_ISREG(st.mode) && kind == SHUNT_RF_FWD)
        rfile_changed(&st);
    finish_fd(mfd, (flags & O_PATH) ? O_PATH
                   : kind == SHUNT_RF_SNAPSHOT ? O_RDONLY
                   : (acc == O_WRONLY || acc == O_RDWR) ? acc : O_RDONLY,
              flags);
    struct stat ph;
    if (LSYS4(SYS_newfstatat, mfd, "", &ph, AT_EMPTY_PATH) == 0) {
        f->ph_dev = ph.st_dev;
        f->ph_ino = ph.st_ino;
    }
    int e = shunt_fdt_set(mfd, f);
    shunt_rfile_unref(f);
    if (e < 0) {
        LSYS1(SYS_close, mfd); /* releases the handle with f */
        return e;
    }
    LOG_DEBUG("open %s (%s) -> fd %d, %s, handle %u, %llu bytes", t->norm,
              shunt_mode_name(t->mode), mfd,
              kind == SHUNT_RF_DIR ? "directory"
              : kind == SHUNT_RF_SNAPSHOT ? "snapshot" : "forwarded",
              handle, (unsigned long long)st.size);
    return mfd;
}

/* ---- snapshots that follow their file (inotify) -------------------------
 * A snapshot is the file's content at open.  When the program is told by
 * inotify that a remote file changed (layer/inotify.c), its snapshots of
 * that file are brought up to date before it sees the event, so that
 * `tail -f` reads what was appended: the memfd gets the bytes past its old
 * size (the whole content again when the file shrank, or changed without
 * growing), its stat becomes the file's.  Only a file still the same inode
 * (a descriptor follows its inode, not its name). */
static void refresh_one(int fd, shunt_rfile_t *f, int force)
{
    shunt_open_t q = {.path = shunt_str(f->path), .flags = O_RDONLY,
                      .mode = 0};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_OPEN, &q, &m);
    if (r < 0)
        return;
    uint32_t handle = m.u.open_r.handle;
    shunt_stat_r_t st;
    if (rpc_fstat_handle(handle, &st) < 0 || st.ino != f->st.ino ||
        st.dev_major != f->st.dev_major || st.dev_minor != f->st.dev_minor ||
        !S_ISREG(st.mode) || st.size > SNAPSHOT_MAX) {
        rpc_close_handle(handle);
        return;
    }
    int same = !force && st.size == f->st.size &&
               st.mtime_sec == f->st.mtime_sec &&
               st.mtime_nsec == f->st.mtime_nsec;
    uint64_t from = !force && st.size > f->st.size ? f->st.size : 0;
    char p[48];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    int wfd = same ? -1
                   : (int)LSYS4(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CLOEXEC, 0);
    if (!same && wfd < 0) {
        rpc_close_handle(handle);
        return;
    }
    uint32_t chunk = shunt_rpc_data_max();
    uint64_t off = from;
    while (!same && off < st.size) {
        uint64_t left = st.size - off;
        shunt_pread_t rq = {.handle = handle,
                            .count = left < chunk ? (uint32_t)left : chunk,
                            .offset = (int64_t)off};
        if (shunt_rpc(SHUNT_T_PREAD, &rq, &m) < 0 ||
            m.u.data_r.data.len == 0)
            break;
        if (LSYS4(SYS_pwrite64, wfd, m.u.data_r.data.p, m.u.data_r.data.len,
                  off) != (long)m.u.data_r.data.len)
            break;
        off += m.u.data_r.data.len;
    }
    if (!same) {
        LSYS2(SYS_ftruncate, wfd, off);
        LSYS1(SYS_close, wfd);
        st.size = off;
        LOG_DEBUG("snapshot %s (fd %d) follows its file: %llu bytes (from %llu)",
                  f->path, fd, (unsigned long long)off,
                  (unsigned long long)from);
    }
    f->st = st;
    rpc_close_handle(handle);
}

/* Each snapshot (once per open file description) that match() picks:
 * refreshed (force: even when size and mtime say it did not change), or,
 * with force < 0, counted one link less (its name was removed). */
static void refresh_where(int (*match)(const shunt_rfile_t *f, const void *arg),
                          const void *arg, int force)
{
    shunt_rfile_t *seen[16];
    int nseen = 0;
    for (int fd = shunt_fdt_next(0); fd >= 0 && nseen < 16;
         fd = shunt_fdt_next(fd + 1)) {
        shunt_rfile_t *f = shunt_fdt_get(fd);
        int dup = 0;
        for (int i = 0; f && i < nseen; i++)
            dup |= seen[i] == f;
        if (f && !dup && f->kind == SHUNT_RF_SNAPSHOT && f->path && match(f, arg)) {
            if (force < 0) {
                const shunt_stat_r_t *st = arg;
                f->st.nlink = st->nlink ? st->nlink - 1 : 0;
            } else
                refresh_one(fd, f, force);
            seen[nseen++] = f;
        }
        shunt_rfile_unref(f);
    }
}

static int same_path(const shunt_rfile_t *f, const void *norm)
{
    return strcmp(f->path, (const char *)norm) == 0;
}

static int same_inode(const shunt_rfile_t *f, const void *arg)
{
    const shunt_stat_r_t *st = arg;
    return f->st.ino == st->ino && f->st.dev_major == st->dev_major &&
           f->st.dev_minor == st->dev_minor;
}

void rfile_refresh_snapshots(const char *norm)
{
    refresh_where(same_path, norm, 0);
}

/* This process changed a remote file through the layer (a write or
 * ftruncate of a forwarded fd, an O_TRUNC open, truncate(); its mode,
 * owner or times by path or fd: chmod, chown, utimensat): its
 * snapshots of the same inode show the change at once, as every fd of a
 * file does through the kernel's page cache (`open a.txt; open hard-link
 * O_TRUNC; read` read the old bytes).  Forced: a change within one
 * timestamp tick keeps size and mtime.  Other processes' changes are seen
 * only through inotify (above). */

void rfile_changed(const shunt_stat_r_t *st)
{
    if (!atomic_load_explicit(&snapshots_live, memory_order_relaxed))
        return;
    refresh_where(same_inode, st, 1);
}

/* Before a remote unlink, or a rename onto t: the inode there, when this
 * process holds snapshots (0, *st filled); -1 otherwise (nothing to do). */
int rfile_before_unlink(const layer_target_t *t, shunt_stat_r_t *st)
{
    if (!atomic_load_explicit(&snapshots_live, memory_order_relaxed))
        return -1;
    return rpc_stat_path(t, AT_SYMLINK_NOFOLLOW, st) == 0 ? 0 : -1;
}

/* ... and once it is gone: the snapshots of that inode count one link
 * less, as fstat of the kernel's fds does (a file unlinked while open has
 * nlink 0).  Nothing is fetched: the name is gone. */
void rfile_unlinked(const shunt_stat_r_t *st)
{
    refresh_where(same_inode, st, -1);
}

void rfile_changed_path(const layer_target_t *t)
{
    if (!atomic_load_explicit(&snapshots_live, memory_order_relaxed))
        return;
    shunt_stat_r_t st;
    if (rpc_stat_path(t, 0, &st) == 0)
        rfile_changed(&st);
}
