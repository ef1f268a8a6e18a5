/* layer.meta: the metadata of a remote-backed fd is the remote file's
 * through every way of asking (fstat, fstatat/statx with "" or NULL and
 * AT_EMPTY_PATH, __fxstat, syscall(SYS_fstat / SYS_newfstatat /
 * SYS_statx)), for a snapshot, a write-mode placeholder and a directory
 * placeholder; and syscall(SYS_statx / SYS_newfstatat / SYS_openat /
 * SYS_openat2 / SYS_getdents64 / SYS_readlinkat / SYS_faccessat2) on remote
 * paths answer as the libc calls do.  Every field is compared with the
 * path's stat (the remote stat), which lt_files checks against the target.
 * Run with rw.conf: /srv/rw is remote read-write. */
#include "lt.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* NULL where libc's prototypes say nonnull: the calls under test. */
static const char *volatile null_path;
static struct statx *volatile null_statx;

static void same_stat(const char *what, const struct stat *a,
                      const struct stat *b)
{
#define F(x)                                                                \
    if ((long long)a->x != (long long)b->x) {                               \
        fprintf(stderr, "%s: %s %lld, want %lld\n", what, #x,               \
                (long long)a->x, (long long)b->x);                          \
        lt_failures++;                                                      \
    }
    F(st_dev) F(st_ino) F(st_mode) F(st_nlink) F(st_uid) F(st_gid)
    F(st_rdev) F(st_size) F(st_blksize) F(st_blocks) F(st_mtim.tv_sec)
    F(st_mtim.tv_nsec) F(st_ctim.tv_sec) F(st_ctim.tv_nsec)
#undef F
}

static void same_statx(const char *what, const struct statx *x,
                       const struct stat *b)
{
#define F(xf, sf)                                                           \
    if ((long long)(xf) != (long long)(sf)) {                               \
        fprintf(stderr, "%s: %s %lld, want %lld\n", what, #xf,              \
                (long long)(xf), (long long)(sf));                          \
        lt_failures++;                                                      \
    }
    F(x->stx_mask & STATX_BASIC_STATS, STATX_BASIC_STATS)
    F(makedev(x->stx_dev_major, x->stx_dev_minor), b->st_dev)
    F(x->stx_ino, b->st_ino) F(x->stx_mode, b->st_mode)
    F(x->stx_nlink, b->st_nlink) F(x->stx_uid, b->st_uid)
    F(x->stx_gid, b->st_gid) F(x->stx_size, b->st_size)
    F(x->stx_blksize, b->st_blksize) F(x->stx_blocks, b->st_blocks)
    F(makedev(x->stx_rdev_major, x->stx_rdev_minor), b->st_rdev)
    F(x->stx_mtime.tv_sec, b->st_mtim.tv_sec)
    F(x->stx_mtime.tv_nsec, b->st_mtim.tv_nsec)
    F(x->stx_ctime.tv_sec, b->st_ctim.tv_sec)
    F(x->stx_ctime.tv_nsec, b->st_ctim.tv_nsec)
#undef F
}

/* Every way of asking an fd for its metadata, against the path's stat. */
static void check_fd(const char *path, int fd)
{
    struct stat want, st;
    struct statx sx, px;
    char what[256];
    CHECK(stat(path, &want) == 0);
    CHECK(want.st_nlink > 0 && (want.st_mode & 0777) != 0777);

#define ST(call)                                                            \
    do {                                                                    \
        memset(&st, 0x5a, sizeof(st));                                      \
        snprintf(what, sizeof(what), "%s: %s", path, #call);                \
        if ((call) != 0) {                                                  \
            fprintf(stderr, "%s failed: %s\n", what, strerror(errno));      \
            lt_failures++;                                                  \
        } else {                                                            \
            same_stat(what, &st, &want);                                    \
        }                                                                   \
    } while (0)
#define SX(call)                                                            \
    do {                                                                    \
        memset(&sx, 0x5a, sizeof(sx));                                      \
        snprintf(what, sizeof(what), "%s: %s", path, #call);                \
        if ((call) != 0) {                                                  \
            fprintf(stderr, "%s failed: %s\n", what, strerror(errno));      \
            lt_failures++;                                                  \
        } else {                                                            \
            same_statx(what, &sx, &want);                                   \
        }                                                                   \
    } while (0)
    ST(fstat(fd, &st));
    ST(fstatat(fd, "", &st, AT_EMPTY_PATH));
    ST(fstatat(fd, null_path, &st, AT_EMPTY_PATH));
    ST(syscall(SYS_fstat, fd, &st));
    ST(syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH));
    SX(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &sx));
    SX(statx(fd, null_path, AT_EMPTY_PATH, STATX_BASIC_STATS, &sx));
    SX(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &sx));
    /* The path's statx, the same fields and the same birth time. */
    SX(syscall(SYS_statx, AT_FDCWD, path, 0, STATX_BASIC_STATS | STATX_BTIME, &sx));
    CHECK(statx(AT_FDCWD, path, 0, STATX_BASIC_STATS | STATX_BTIME, &px) == 0);
    CHECK_LONG(sx.stx_mask & STATX_BTIME, px.stx_mask & STATX_BTIME);
    CHECK_LONG(sx.stx_btime.tv_sec, px.stx_btime.tv_sec);
    CHECK_LONG(sx.stx_btime.tv_nsec, px.stx_btime.tv_nsec);
    ST(syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0));
    ST(syscall(SYS_stat, path, &st));
    ST(syscall(SYS_lstat, path, &st));
    /* The fd by its /proc and /dev/fd names: stat follows to the remote
     * file, readlink names it, open opens it again. */
    char fdp[64];
    snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
    ST(stat(fdp, &st));
    snprintf(fdp, sizeof(fdp), "/dev/fd/%d", fd);
    ST(stat(fdp, &st));
    SX(statx(AT_FDCWD, fdp, 0, STATX_BASIC_STATS, &sx));
    snprintf(fdp, sizeof(fdp), "/proc/%d/fd/%d", (int)getpid(), fd);
    ST(stat(fdp, &st));
    char link[512] = "";
    snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
    CHECK(readlink(fdp, link, sizeof(link) - 1) > 0);
    CHECK_STR(link, path);
    int again = open(fdp, O_RDONLY);
    CHECK(again >= 0);
    snprintf(what, sizeof(what), "%s: fstat(open(%s))", path, fdp);
    CHECK(fstat(again, &st) == 0);
    same_stat(what, &st, &want);
    close(again);
#undef ST
#undef SX
}

int main(void)
{
    /* A snapshot (a memfd holding the content). */
    int fd = open("/srv/data/hello.txt", O_RDONLY);
    CHECK(fd >= 0);
    check_fd("/srv/data/hello.txt", fd);
    /* On stdin: /dev/stdin is it; opened again, the content is there. */
    int in = dup(0);
    CHECK(dup2(fd, 0) == 0);
    struct stat a, b;
    CHECK(stat("/dev/stdin", &a) == 0 && stat("/srv/data/hello.txt", &b) == 0);
    same_stat("stat(/dev/stdin)", &a, &b);
    int again = open("/dev/stdin", O_RDONLY);
    char text[64] = "";
    CHECK_LONG(read(again, text, sizeof(text) - 1), 22);
    CHECK_STR(text, "hello from the target\n");
    close(again);
    dup2(in, 0);
    close(in);
    close(fd);
    /* A directory placeholder. */
    fd = open("/srv/data/sub", O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0);
    check_fd("/srv/data/sub", fd);
    close(fd);
    /* A write-mode placeholder (forwarded). */
    fd = open("/srv/rw/keep.txt", O_RDWR);
    CHECK(fd >= 0);
    check_fd("/srv/rw/keep.txt", fd);
    /* After a write through it, its fstat shows the new size. */
    CHECK_LONG(pwrite(fd, "keep more\n", 10, 0), 10);
    check_fd("/srv/rw/keep.txt", fd);
    /* Opened again by its /proc name: the remote file, not the empty
     * placeholder. */
    char fdp[64], data[32] = "";
    snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
    int rw = open(fdp, O_RDWR);
    CHECK(rw >= 0);
    CHECK_LONG(pread(rw, data, sizeof(data) - 1, 0), 10);
    CHECK_STR(data, "keep more\n");
    close(rw);
    close(fd);

    /* A remote answer of 1 (a count, a new fd) is an answer: it used to
     * be taken for the hooks' "go local" (1) and the call redone here. */
    char one[2] = "";
    CHECK_LONG(readlink("/srv/data/link", one, 1), 1);
    CHECK_STR(one, "h");
    CHECK_LONG(readlinkat(AT_FDCWD, "/srv/data/link", one, 1), 1);
    fd = open("/srv/data/hello.txt", O_RDONLY);
    CHECK(fd >= 0);
    snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
    int out = dup(1);
    close(1);
    int one_fd = open(fdp, O_RDONLY); /* the lowest free fd: 1 */
    dup2(out, 1);
    close(out);
    CHECK_LONG(one_fd, 1);
    close(fd);

    /* Paths through syscall(): as the libc calls. */
    CHECK_LONG(syscall(SYS_faccessat2, AT_FDCWD, "/srv/data/hello.txt", R_OK, 0), 0);
    CHECK_ERR(syscall(SYS_faccessat, AT_FDCWD, "/srv/data/nope", F_OK), ENOENT);
    CHECK_ERR(syscall(SYS_access, "/srv/data/nope", F_OK), ENOENT);
    char buf[256] = "";
    CHECK_LONG(syscall(SYS_readlinkat, AT_FDCWD, "/srv/data/link", buf, sizeof(buf)), 9);
    CHECK_STR(buf, "hello.txt");
    fd = (int)syscall(SYS_openat, AT_FDCWD, "/srv/data/hello.txt", O_RDONLY, 0);
    CHECK(fd >= 0);
    memset(buf, 0, sizeof(buf));
    CHECK_LONG(read(fd, buf, sizeof(buf)), 22);
    CHECK_STR(buf, "hello from the target\n");
    close(fd);
    struct open_how how = {.flags = O_RDONLY};
    fd = (int)syscall(SYS_openat2, AT_FDCWD, "/srv/data/hello.txt", &how, sizeof(how));
    CHECK(fd >= 0);
    memset(buf, 0, sizeof(buf));
    CHECK_LONG(read(fd, buf, sizeof(buf)), 22);
    close(fd);
    how.resolve = RESOLVE_NO_SYMLINKS;
    CHECK_ERR(syscall(SYS_openat2, AT_FDCWD, "/srv/data/hello.txt", &how, sizeof(how)), ENOSYS);
    how.resolve = 0;
    how.mode = 0644; /* a mode without O_CREAT: the kernel's EINVAL */
    CHECK_ERR(syscall(SYS_openat2, AT_FDCWD, "/srv/data/hello.txt", &how, sizeof(how)), EINVAL);
    CHECK_ERR(syscall(SYS_openat2, AT_FDCWD, "/srv/data/nope", &(struct open_how){0}, sizeof(how)), ENOENT);
    fd = (int)syscall(SYS_openat, AT_FDCWD, "/srv/data/sub", O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0);
    char dents[4096];
    long n = syscall(SYS_getdents64, fd, dents, sizeof(dents));
    int names = 0;
    for (long off = 0; off < n;) {
        struct dirent64 *d = (struct dirent64 *)(dents + off);
        names += strcmp(d->d_name, "a.txt") == 0 || strcmp(d->d_name, "b.txt") == 0 ||
                 strcmp(d->d_name, "deeper") == 0;
        off += d->d_reclen;
    }
    CHECK_LONG(names, 3);
    close(fd);
    /* Rust std's probe: statx(0, NULL, 0, STATX_ALL, NULL) is EFAULT. */
    CHECK_ERR(syscall(SYS_statx, 0, NULL, 0, STATX_ALL, NULL), EFAULT);
    CHECK_ERR(statx(0, null_path, 0, STATX_ALL, null_statx), EFAULT);
    /* Other numbers reach the kernel with their arguments. */
    CHECK_LONG(syscall(SYS_getpid), getpid());
    CHECK_ERR(syscall(SYS_statx, AT_FDCWD, "/srv/data/nope", 0, STATX_BASIC_STATS, buf), ENOENT);
    return lt_done("lt_meta");
}
