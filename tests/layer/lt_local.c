/* layer.local: every entry of layer/hooks.def, called on a local path, fd
 * or address, under the active layer and without it: each call runs in its
 * own child (a crash is reported with the entry's name: an original that
 * reached a detour which called that original again recursed until the
 * stack was gone), and prints what it returned.  local.sh diffs the two
 * runs: the local path of every hook behaves exactly as libc.  Under the
 * layer, REMOTE names a path only the target has: after each call the
 * layer must still serve it (no guard left raised).
 *   lt_local DIR [REMOTE]   DIR: an empty local directory
 * Every hooks.def entry must have a case here: a new hook without one
 * fails the test. */
#include <arpa/inet.h>
#include <dirent.h>
#include <poll.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#define H_OPT 1
#define H_PRIV 2
#define H_FIND 4
#define H_NESTED 8

static const struct {
    const char *name;
    int flags;
} hooks[] = {
#define HOOK(name, ret, params, flags) {#name, flags},
#define ALIAS(name, of, flags) {#name, flags},
#include "hooks.def"
#undef HOOK
#undef ALIAS
};
#define NHOOKS (sizeof(hooks) / sizeof(hooks[0]))

static const char *dir, *remote;
static char p_file[512], p_new[512], p_sub[512], p_link[512];

static void out(const char *name, long r)
{
    if (r < 0)
        printf("%s: -1 %s\n", name, strerrorname_np(errno));
    else
        printf("%s: %ld\n", name, r);
}

static int ofile(int flags) { return open(p_file, flags, 0644); }

/* The case of one entry: f is its address in libc. */
typedef long (*case_fn)(const char *name, void *f);

#define T(type) ((type)f)
typedef int (*open_t)(const char *, int, ...);
typedef int (*openat_t)(int, const char *, int, ...);
typedef ssize_t (*rw_t)(int, void *, size_t);
typedef ssize_t (*rwv_t)(int, const struct iovec *, int);
typedef ssize_t (*prw_t)(int, void *, size_t, off_t);
typedef ssize_t (*prwv_t)(int, const struct iovec *, int, off_t);
typedef ssize_t (*prwv2_t)(int, const struct iovec *, int, off_t, int);
typedef int (*stat_t)(const char *, struct stat *);
typedef int (*fstat_t)(int, struct stat *);
typedef int (*fstatat_t)(int, const char *, struct stat *, int);
typedef int (*xstat_t)(int, const char *, struct stat *);
typedef int (*fxstat_t)(int, int, struct stat *);
typedef int (*fxstatat_t)(int, int, const char *, struct stat *, int);

static long st_line(long r, const struct stat *st)
{
    if (r == 0)
        printf("  mode %o size %lld nlink %lu\n", st->st_mode,
               (long long)st->st_size, (unsigned long)st->st_nlink);
    return r;
}

static long c_open(const char *n, void *f)
{
    (void)n;
    return T(open_t)(p_file, O_RDONLY);
}
static long c_openat(const char *n, void *f)
{
    (void)n;
    return T(openat_t)(AT_FDCWD, p_file, O_RDONLY);
}
static long c_creat(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, mode_t))f)(p_new, 0600);
}
static long c_open_2(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, int))f)(p_file, O_RDONLY);
}
static long c_openat_2(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, const char *, int))f)(AT_FDCWD, p_file, O_RDONLY);
}
static long c_read(const char *n, void *f)
{
    char b[64] = "";
    long r = T(rw_t)(ofile(O_RDONLY), b, sizeof(b) - 1);
    printf("  %s read \"%s\"\n", n, b);
    return r;
}
static long c_write(const char *n, void *f)
{
    (void)n;
    long r = T(rw_t)(ofile(O_WRONLY | O_APPEND), (void *)"more\n", 5);
    return r;
}
static long c_readv(const char *n, void *f)
{
    (void)n;
    char b[8];
    struct iovec v = {b, sizeof(b)};
    return T(rwv_t)(ofile(O_RDONLY), &v, 1);
}
static long c_writev(const char *n, void *f)
{
    (void)n;
    struct iovec v = {(void *)"v\n", 2};
    return T(rwv_t)(ofile(O_WRONLY | O_APPEND), &v, 1);
}
static long c_pread(const char *n, void *f)
{
    (void)n;
    char b[8];
    return T(prw_t)(ofile(O_RDONLY), b, sizeof(b), 2);
}
static long c_pwrite(const char *n, void *f)
{
    (void)n;
    return T(prw_t)(ofile(O_WRONLY), (void *)"P", 1, 0);
}
static long c_preadv(const char *n, void *f)
{
    (void)n;
    char b[8];
    struct iovec v = {b, sizeof(b)};
    return T(prwv_t)(ofile(O_RDONLY), &v, 1, 1);
}
static long c_pwritev(const char *n, void *f)
{
    (void)n;
    struct iovec v = {(void *)"Q", 1};
    return T(prwv_t)(ofile(O_WRONLY), &v, 1, 1);
}
static long c_preadv2(const char *n, void *f)
{
    (void)n;
    char b[8];
    struct iovec v = {b, sizeof(b)};
    return T(prwv2_t)(ofile(O_RDONLY), &v, 1, 0, 0);
}
static long c_pwritev2(const char *n, void *f)
{
    (void)n;
    struct iovec v = {(void *)"R", 1};
    return T(prwv2_t)(ofile(O_WRONLY), &v, 1, 2, 0);
}
static long c_lseek(const char *n, void *f)
{
    (void)n;
    return ((off_t(*)(int, off_t, int))f)(ofile(O_RDONLY), 0, SEEK_END);
}
static long c_ftruncate(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, off_t))f)(ofile(O_WRONLY), 3);
}
static long c_copy_file_range(const char *n, void *f)
{
    (void)n;
    int out = open(p_new, O_WRONLY | O_CREAT, 0600);
    return ((ssize_t(*)(int, off_t *, int, off_t *, size_t, unsigned))f)(
        ofile(O_RDONLY), NULL, out, NULL, 100, 0);
}
static long c_sendfile(const char *n, void *f)
{
    (void)n;
    int out = open(p_new, O_WRONLY | O_CREAT, 0600);
    return ((ssize_t(*)(int, int, off_t *, size_t))f)(out, ofile(O_RDONLY),
                                                      NULL, 100);
}
static long c_fd1(const char *n, void *f) /* fsync, fdatasync, close, dup */
{
    (void)n;
    return ((int (*)(int))f)(ofile(O_RDWR)) >= 0 ? 0 : -1;
}
static long c_close_range(const char *n, void *f)
{
    (void)n;
    int fd = ofile(O_RDONLY);
    return ((int (*)(unsigned, unsigned, int))f)((unsigned)fd, (unsigned)fd, 0);
}
static long c_dup2(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, int))f)(ofile(O_RDONLY), 100);
}
static long c_dup3(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, int, int))f)(ofile(O_RDONLY), 101, O_CLOEXEC);
}
static long c_fcntl(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, int, ...))f)(ofile(O_RDONLY), F_DUPFD, 200);
}
static long c_stat(const char *n, void *f)
{
    (void)n;
    struct stat st;
    return st_line(T(stat_t)(p_link, &st), &st);
}
static long c_fstat(const char *n, void *f)
{
    (void)n;
    struct stat st;
    return st_line(T(fstat_t)(ofile(O_RDONLY), &st), &st);
}
static long c_fstatat(const char *n, void *f)
{
    (void)n;
    struct stat st;
    return st_line(T(fstatat_t)(AT_FDCWD, p_link, &st, AT_SYMLINK_NOFOLLOW),
                   &st);
}
static long c_statx(const char *n, void *f)
{
    (void)n;
    struct statx sx;
    long r = ((int (*)(int, const char *, int, unsigned, struct statx *))f)(
        AT_FDCWD, p_file, 0, STATX_BASIC_STATS, &sx);
    if (r == 0)
        printf("  mode %o size %llu\n", sx.stx_mode,
               (unsigned long long)sx.stx_size);
    return r;
}
static long c_xstat(const char *n, void *f)
{
    (void)n;
    struct stat st;
    return st_line(T(xstat_t)(1, p_file, &st), &st);
}
static long c_fxstat(const char *n, void *f)
{
    (void)n;
    struct stat st;
    return st_line(T(fxstat_t)(1, ofile(O_RDONLY), &st), &st);
}
static long c_fxstatat(const char *n, void *f)
{
    (void)n;
    struct stat st;
    return st_line(T(fxstatat_t)(1, AT_FDCWD, p_file, &st, 0), &st);
}
static long c_access(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, int))f)(p_file, R_OK | W_OK);
}
static long c_faccessat(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, const char *, int, int))f)(AT_FDCWD, p_file, R_OK,
                                                     AT_EACCESS);
}
static long c_readlink(const char *n, void *f)
{
    char b[512] = "";
    long r = ((ssize_t(*)(const char *, char *, size_t))f)(p_link, b,
                                                           sizeof(b) - 1);
    printf("  %s -> %s\n", n, b[0] ? strrchr(b, '/') + 1 : "");
    return r;
}
static long c_readlinkat(const char *n, void *f)
{
    (void)n;
    char b[512];
    return ((ssize_t(*)(int, const char *, char *, size_t))f)(AT_FDCWD, p_link,
                                                              b, sizeof(b));
}
static long c_statfs(const char *n, void *f)
{
    (void)n;
    struct statfs sf;
    return ((int (*)(const char *, struct statfs *))f)(p_file, &sf);
}
static long c_fstatfs(const char *n, void *f)
{
    (void)n;
    struct statfs sf;
    return ((int (*)(int, struct statfs *))f)(ofile(O_RDONLY), &sf);
}
/* xattrs: user.* on a tmpfs may be refused; the answer is compared. */
static long c_getxattr(const char *n, void *f)
{
    (void)n;
    char b[64];
    return ((ssize_t(*)(const char *, const char *, void *, size_t))f)(
        p_file, "user.shunt", b, sizeof(b));
}
static long c_fgetxattr(const char *n, void *f)
{
    (void)n;
    char b[64];
    return ((ssize_t(*)(int, const char *, void *, size_t))f)(
        ofile(O_RDONLY), "user.shunt", b, sizeof(b));
}
static long c_listxattr(const char *n, void *f)
{
    (void)n;
    char b[256];
    return ((ssize_t(*)(const char *, char *, size_t))f)(p_file, b, sizeof(b)) >= 0 ? 0 : -1;
}
static long c_flistxattr(const char *n, void *f)
{
    (void)n;
    char b[256];
    return ((ssize_t(*)(int, char *, size_t))f)(ofile(O_RDONLY), b, sizeof(b)) >= 0 ? 0 : -1;
}
static long c_setxattr(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, const char *, const void *, size_t, int))f)(
        p_file, "user.shunt", "v", 1, 0);
}
static long c_fsetxattr(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, const char *, const void *, size_t, int))f)(
        ofile(O_RDONLY), "user.shunt", "v", 1, 0);
}
static long c_removexattr(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, const char *))f)(p_file, "user.none");
}
static long c_fremovexattr(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, const char *))f)(ofile(O_RDONLY), "user.none");
}
static long c_mkdir(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, mode_t))f)(p_new, 0755);
}
static long c_mkdirat(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, const char *, mode_t))f)(AT_FDCWD, p_new, 0755);
}
static long c_rmdir(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *))f)(p_sub);
}
static long c_unlink(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *))f)(p_link);
}
static long c_unlinkat(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, const char *, int))f)(AT_FDCWD, p_sub, AT_REMOVEDIR);
}
static long c_rename(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, const char *))f)(p_file, p_new);
}
static long c_renameat(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, const char *, int, const char *))f)(
        AT_FDCWD, p_file, AT_FDCWD, p_new);
}
static long c_renameat2(const char *n, void *f)
{
    typedef int (*r2_t)(int, const char *, int, const char *, unsigned);
    long r = T(r2_t)(AT_FDCWD, p_file, AT_FDCWD, p_new, 0);
    out(n, r);
    return T(r2_t)(AT_FDCWD, p_new, AT_FDCWD, p_sub, RENAME_NOREPLACE);
}
static long c_truncate(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, off_t))f)(p_file, 4);
}
static long c_chmod(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, mode_t))f)(p_file, 0600);
}
static long c_fchmod(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, mode_t))f)(ofile(O_RDONLY), 0640);
}
static long c_fchmodat(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, const char *, mode_t, int))f)(AT_FDCWD, p_file, 0604,
                                                       0);
}
static long c_umask(const char *n, void *f)
{
    (void)n;
    return ((mode_t(*)(mode_t))f)(027);
}
/* set*id, setgroups: to nobody (65534) in the case's own child; as
 * root 0 with and without the layer, as anyone else EPERM in both.  The
 * check after each case (REMOTE still served) is then made as the new
 * user: the session survives the change. */
static long c_setid1(const char *n, void *f)
{
    (void)n;
    return ((int (*)(unsigned))f)(65534);
}
static long c_setid2(const char *n, void *f)
{
    (void)n;
    return ((int (*)(unsigned, unsigned))f)(65534, 65534);
}
static long c_setid3(const char *n, void *f)
{
    (void)n;
    return ((int (*)(unsigned, unsigned, unsigned))f)(65534, 65534, 65534);
}
static long c_setgroups(const char *n, void *f)
{
    (void)n;
    gid_t g[1] = {65534};
    return ((int (*)(size_t, const gid_t *))f)(1, g);
}
static long c_symlink(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, const char *))f)("file", p_new);
}
static long c_symlinkat(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, int, const char *))f)("file", AT_FDCWD,
                                                         p_new);
}
static long c_utimensat(const char *n, void *f)
{
    (void)n;
    struct timespec ts[2] = {{1000, 0}, {2000, 0}};
    long r = ((int (*)(int, const char *, const struct timespec *, int))f)(
        AT_FDCWD, p_file, ts, 0);
    struct stat st;
    stat(p_file, &st);
    printf("  mtime %ld\n", (long)st.st_mtime);
    return r;
}
static long c_futimens(const char *n, void *f)
{
    (void)n;
    struct timespec ts[2] = {{1000, 0}, {3000, 0}};
    return ((int (*)(int, const struct timespec *))f)(ofile(O_RDONLY), ts);
}
/* inotify: an instance (the hooked init, or init1 for the others), a
 * watch on the case's directory (IN_DONT_FOLLOW variant for add_watch), a
 * file made, written and removed, its events, then rm_watch's IN_IGNORED. */
static void ino_events(int fd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    while (poll(&pf, 1, 500) > 0) {
        ssize_t got = read(fd, buf, sizeof(buf));
        if (got <= 0)
            break;
        for (char *q = buf; q < buf + got;) {
            const struct inotify_event *ev = (const void *)q;
            printf("  wd %d mask 0x%x name '%s'\n", ev->wd, ev->mask,
                   ev->len ? ev->name : "");
            q += sizeof(*ev) + ev->len;
        }
    }
}
static long c_inotify(const char *n, void *f)
{
    int fd;
    if (strcmp(n, "inotify_init") == 0)
        fd = ((int (*)(void))f)();
    else if (strcmp(n, "inotify_init1") == 0)
        fd = ((int (*)(int))f)(IN_NONBLOCK | IN_CLOEXEC);
    else
        fd = inotify_init1(IN_NONBLOCK);
    if (fd < 0)
        return -1;
    int (*add)(int, const char *, uint32_t) = inotify_add_watch;
    if (strcmp(n, "inotify_add_watch") == 0)
        add = (int (*)(int, const char *, uint32_t))f;
    int wd = add(fd, dir, IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE |
                             IN_MOVED_FROM | IN_MOVED_TO);
    printf("  add_watch: %d\n", wd);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    errno = 0;
    int mw = add(fd, missing, IN_MODIFY);
    printf("  missing: %d %s\n", mw, strerrorname_np(errno));
    char path[600];
    snprintf(path, sizeof(path), "%s/ino", dir);
    int w = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (w >= 0) {
        if (write(w, "x", 1) != 1)
            printf("  write failed\n");
        close(w);
    }
    char moved[620];
    snprintf(moved, sizeof(moved), "%s/ino2", dir);
    rename(path, moved);
    unlink(moved);
    ino_events(fd);
    int (*rm)(int, int) = inotify_rm_watch;
    if (strcmp(n, "inotify_rm_watch") == 0)
        rm = (int (*)(int, int))f;
    long r = rm(fd, wd);
    errno = 0;
    int again = rm(fd, wd);
    printf("  rm_watch again: %d %s\n", again, strerrorname_np(errno));
    ino_events(fd);
    close(fd);
    return r;
}

static long c_utimes(const char *n, void *f)
{
    struct timeval tv[2] = {{1000, 5}, {4000, 7}};
    long r = ((int (*)(const char *, const struct timeval *))f)(p_file, tv);
    struct stat st;
    stat(p_file, &st);
    printf("  %s mtime %ld.%09ld\n", n, (long)st.st_mtime,
           (long)st.st_mtim.tv_nsec);
    struct timeval badtv[2] = {{1, 1000000}, {1, 0}};
    long b = ((int (*)(const char *, const struct timeval *))f)(p_file, badtv);
    printf("  %s bad usec: %ld %s\n", n, b, b < 0 ? strerrorname_np(errno) : "");
    return r;
}
static long c_futimes(const char *n, void *f)
{
    (void)n;
    struct timeval tv[2] = {{1000, 0}, {5000, 9}};
    return ((int (*)(int, const struct timeval *))f)(ofile(O_RDONLY), tv);
}
static long c_futimesat(const char *n, void *f)
{
    (void)n;
    struct timeval tv[2] = {{1000, 0}, {6000, 0}};
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    long r = ((int (*)(int, const char *, const struct timeval *))f)(d, "file",
                                                                     tv);
    struct stat st;
    stat(p_file, &st);
    printf("  mtime %ld\n", (long)st.st_mtime);
    close(d);
    return r;
}
static long c_utime(const char *n, void *f)
{
    (void)n;
    struct utimbuf u = {.actime = 1000, .modtime = 7000};
    long r = ((int (*)(const char *, const struct utimbuf *))f)(p_file, &u);
    struct stat st;
    stat(p_file, &st);
    printf("  mtime %ld\n", (long)st.st_mtime);
    return r;
}
static long c_getdents64(const char *n, void *f)
{
    (void)n;
    char b[4096];
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    long r = ((ssize_t(*)(int, void *, size_t))f)(fd, b, sizeof(b));
    return r > 0 ? 0 : r;
}
static char *const argv_true[] = {"true", NULL};
static long c_execve(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, char *const *, char *const *))f)(
        "/bin/true", argv_true, environ);
}
static long c_execveat(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, const char *, char *const *, char *const *, int))f)(
        AT_FDCWD, "/bin/true", argv_true, environ, 0);
}
static long c_fexecve(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, char *const *, char *const *))f)(
        open("/bin/true", O_RDONLY), argv_true, environ);
}
static long c_posix_spawn(const char *n, void *f)
{
    (void)n;
    pid_t pid;
    int r = ((int (*)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                      const posix_spawnattr_t *, char *const *,
                      char *const *))f)(&pid, "/bin/true", NULL, NULL,
                                        argv_true, environ);
    int st = -1;
    if (r == 0)
        waitpid(pid, &st, 0);
    return r == 0 ? st : -1;
}
static long c_vfork(const char *n, void *f)
{
    (void)n;
    pid_t pid = ((pid_t(*)(void))f)();
    if (pid == 0)
        _exit(7);
    int st = -1;
    waitpid(pid, &st, 0);
    return WEXITSTATUS(st);
}
/* Sockets on loopback: local by the outgoing filter. */
static int udp_pair(int *b)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    *b = socket(AF_INET, SOCK_DGRAM, 0);
    bind(*b, (struct sockaddr *)&a, sizeof(a));
    getsockname(*b, (struct sockaddr *)&a, &l);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    connect(s, (struct sockaddr *)&a, sizeof(a));
    return s;
}
static long c_socket(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, int, int))f)(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : -1;
}
static long c_sockaddr(const char *n, void *f) /* connect, bind */
{
    (void)n;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (strcmp(n, "connect") == 0)
        a.sin_port = htons(9);
    return ((int (*)(int, const struct sockaddr *, socklen_t))f)(
        s, (struct sockaddr *)&a, sizeof(a));
}
static long c_getname(const char *n, void *f) /* getpeername, getsockname */
{
    (void)n;
    int b, s = udp_pair(&b);
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    long r = ((int (*)(int, struct sockaddr *, socklen_t *))f)(
        s, (struct sockaddr *)&a, &l);
    printf("  family %d addr %s\n", a.sin_family, inet_ntoa(a.sin_addr));
    return r;
}
/* A loopback TCP listener (local: incoming traffic is off) and, for the
 * accept family, a client connected to it. */
static int tcp_listener(struct sockaddr_in *a)
{
    socklen_t l = sizeof(*a);
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    bind(s, (struct sockaddr *)a, sizeof(*a));
    getsockname(s, (struct sockaddr *)a, &l);
    return s;
}
static long c_listen(const char *n, void *f)
{
    (void)n;
    struct sockaddr_in a;
    int s = tcp_listener(&a);
    long r = ((int (*)(int, int))f)(s, 4);
    int v = 0;
    socklen_t l = sizeof(v);
    getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &l);
    printf("  listening %d\n", v);
    return r;
}
static long c_accept(const char *n, void *f) /* accept, accept4 */
{
    struct sockaddr_in a, p;
    int s = tcp_listener(&a);
    listen(s, 4);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof(a));
    socklen_t l = 2; /* cut short: the full size comes back */
    memset(&p, 0, sizeof(p));
    long r = strcmp(n, "accept4") == 0
                 ? ((int (*)(int, struct sockaddr *, socklen_t *, int))f)(
                       s, (struct sockaddr *)&p, &l, SOCK_CLOEXEC)
                 : ((int (*)(int, struct sockaddr *, socklen_t *))f)(
                       s, (struct sockaddr *)&p, &l);
    printf("  len %u family %d port zero %d\n", (unsigned)l, p.sin_family,
           p.sin_port == 0);
    return r >= 0 ? 0 : -1;
}
static long c_getsockopt(const char *n, void *f)
{
    (void)n;
    int b, s = udp_pair(&b), v = -1;
    socklen_t l = sizeof(v);
    long r = ((int (*)(int, int, int, void *, socklen_t *))f)(s, SOL_SOCKET,
                                                             SO_ERROR, &v, &l);
    printf("  SO_ERROR %d\n", v);
    return r;
}
static long c_sendto(const char *n, void *f)
{
    (void)n;
    int b, s = udp_pair(&b);
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    getsockname(b, (struct sockaddr *)&a, &l);
    return ((ssize_t(*)(int, const void *, size_t, int, const struct sockaddr *,
                        socklen_t))f)(s, "x", 1, 0, (struct sockaddr *)&a, l);
}
static long c_sendmsg(const char *n, void *f)
{
    (void)n;
    int b, s = udp_pair(&b);
    struct iovec v = {(void *)"xy", 2};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    return ((ssize_t(*)(int, const struct msghdr *, int))f)(s, &m, 0);
}
static long c_sendmmsg(const char *n, void *f)
{
    (void)n;
    int b, s = udp_pair(&b);
    struct iovec v = {(void *)"xy", 2};
    struct mmsghdr m = {.msg_hdr = {.msg_iov = &v, .msg_iovlen = 1}};
    return ((int (*)(int, struct mmsghdr *, unsigned, int))f)(s, &m, 1, 0);
}
static long c_recvfrom(const char *n, void *f)
{
    (void)n;
    int b, s = udp_pair(&b);
    send(s, "abc", 3, 0);
    char buf[8];
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    long r = ((ssize_t(*)(int, void *, size_t, int, struct sockaddr *,
                          socklen_t *))f)(b, buf, sizeof(buf), 0,
                                          (struct sockaddr *)&a, &l);
    printf("  from %s\n", inet_ntoa(a.sin_addr));
    return r;
}
static long c_recvmsg(const char *n, void *f)
{
    (void)n;
    int b, s = udp_pair(&b);
    send(s, "abcd", 4, 0);
    char buf[8];
    struct iovec v = {buf, sizeof(buf)};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    return ((ssize_t(*)(int, struct msghdr *, int))f)(b, &m, 0);
}
static long c_recvmmsg(const char *n, void *f)
{
    (void)n;
    int b, s = udp_pair(&b);
    send(s, "abcde", 5, 0);
    char buf[8];
    struct iovec v = {buf, sizeof(buf)};
    struct mmsghdr m = {.msg_hdr = {.msg_iov = &v, .msg_iovlen = 1}};
    long r = ((int (*)(int, struct mmsghdr *, unsigned, int, struct timespec *))f)(
        b, &m, 1, 0, NULL);
    printf("  len %u\n", m.msg_len);
    return r;
}
/* Names: numeric and loopback forms only (the local path). */
static long c_getaddrinfo(const char *n, void *f)
{
    (void)n;
    struct addrinfo *ai = NULL, h = {.ai_family = AF_INET,
                                     .ai_socktype = SOCK_STREAM,
                                     .ai_flags = AI_NUMERICHOST};
    long r = ((int (*)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **))f)("127.0.0.1", "80", &h, &ai);
    if (r == 0)
        freeaddrinfo(ai);
    return r;
}
static long c_freeaddrinfo(const char *n, void *f)
{
    (void)n;
    struct addrinfo *ai = NULL, h = {.ai_flags = AI_NUMERICHOST};
    if (getaddrinfo("::1", NULL, &h, &ai) != 0)
        return -1;
    ((void (*)(struct addrinfo *))f)(ai);
    return 0;
}
static long c_getnameinfo(const char *n, void *f)
{
    (void)n;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons(1234)};
    char h[64], s[32];
    long r = ((int (*)(const struct sockaddr *, socklen_t, char *, socklen_t,
                       char *, socklen_t, int))f)(
        (struct sockaddr *)&a, sizeof(a), h, sizeof(h), s, sizeof(s),
        NI_NUMERICHOST | NI_NUMERICSERV);
    printf("  %s %s\n", h, s);
    return r;
}
static long c_ghbn(const char *n, void *f)
{
    struct hostent *he;
    if (strcmp(n, "gethostbyname") == 0)
        he = ((struct hostent * (*)(const char *)) f)("127.0.0.1");
    else
        he = ((struct hostent * (*)(const char *, int)) f)("127.0.0.1", AF_INET);
    return he ? 0 : -1;
}
static long c_ghbn_r(const char *n, void *f)
{
    struct hostent he, *res = NULL;
    char buf[1024];
    int herr = 0;
    long r;
    if (strcmp(n, "gethostbyname_r") == 0)
        r = ((int (*)(const char *, struct hostent *, char *, size_t,
                      struct hostent **, int *))f)("127.0.0.1", &he, buf,
                                                   sizeof(buf), &res, &herr);
    else
        r = ((int (*)(const char *, int, struct hostent *, char *, size_t,
                      struct hostent **, int *))f)(
            "127.0.0.1", AF_INET, &he, buf, sizeof(buf), &res, &herr);
    return r == 0 && res ? 0 : -1;
}
static long c_ghba(const char *n, void *f)
{
    (void)n;
    struct in_addr a = {htonl(INADDR_LOOPBACK)};
    return ((struct hostent * (*)(const void *, socklen_t, int)) f)(
               &a, sizeof(a), AF_INET)
               ? 0
               : -1;
}
static long c_ghba_r(const char *n, void *f)
{
    (void)n;
    struct in_addr a = {htonl(INADDR_LOOPBACK)};
    struct hostent he, *res = NULL;
    char buf[1024];
    int herr = 0;
    long r = ((int (*)(const void *, socklen_t, int, struct hostent *, char *,
                       size_t, struct hostent **, int *))f)(
        &a, sizeof(a), AF_INET, &he, buf, sizeof(buf), &res, &herr);
    return r == 0 && res ? 0 : -1;
}
/* gethostname/uname give the target's name under the layer: not a local
 * path; only the result is compared. */
static long c_gethostname(const char *n, void *f)
{
    (void)n;
    char b[256];
    return ((int (*)(char *, size_t))f)(b, sizeof(b));
}
static long c_uname(const char *n, void *f)
{
    (void)n;
    struct utsname u;
    long r = ((int (*)(struct utsname *))f)(&u);
    printf("  sysname %s\n", u.sysname);
    return r;
}
typedef int (*chown_t)(const char *, uid_t, gid_t);
/* chown to the owner it has: allowed to anyone, and the same everywhere */
static long c_chown(const char *n, void *f)
{
    (void)n;
    return T(chown_t)(p_link, getuid(), getgid());
}
static long c_fchown(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, uid_t, gid_t))f)(ofile(O_RDONLY), (uid_t)-1, getgid());
}
static long c_fchownat(const char *n, void *f)
{
    typedef int (*fco_t)(int, const char *, uid_t, gid_t, int);
    out(n, T(fco_t)(AT_FDCWD, p_link, getuid(), (gid_t)-1, AT_SYMLINK_NOFOLLOW));
    return T(fco_t)(AT_FDCWD, p_new, getuid(), getgid(), 0);
}
static long c_link(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, const char *))f)(p_file, p_new);
}
static long c_linkat(const char *n, void *f)
{
    typedef int (*la_t)(int, const char *, int, const char *, int);
    out(n, T(la_t)(AT_FDCWD, p_link, AT_FDCWD, p_new, 0));
    return T(la_t)(AT_FDCWD, p_link, AT_FDCWD, p_sub, AT_SYMLINK_FOLLOW);
}
static long c_mknod(const char *n, void *f)
{
    (void)n;
    return ((int (*)(const char *, mode_t, dev_t))f)(p_new, S_IFIFO | 0640, 0);
}
static long c_mknodat(const char *n, void *f)
{
    typedef int (*mn_t)(int, const char *, mode_t, dev_t);
    out(n, T(mn_t)(AT_FDCWD, p_new, S_IFREG | 0600, 0));
    return T(mn_t)(AT_FDCWD, p_file, S_IFIFO | 0600, 0);
}
/* syscall(): numbers the layer serves, on local paths. */
static long c_syscall(const char *n, void *f)
{
    typedef long (*sc_t)(long, ...);
    struct stat st;
    long r = T(sc_t)(SYS_newfstatat, AT_FDCWD, p_file, &st, 0);
    st_line(r, &st);
    out(n, r);
    struct statx sx;
    r = T(sc_t)(SYS_statx, AT_FDCWD, p_file, 0, STATX_BASIC_STATS, &sx);
    out(n, r);
    r = T(sc_t)(SYS_renameat2, AT_FDCWD, p_file, AT_FDCWD, p_new, 0);
    out(n, r);
    return T(sc_t)(SYS_getpid) > 0 ? 0 : -1;
}

static long c_flock(const char *n, void *f)
{
    (void)n;
    return ((int (*)(int, int))f)(ofile(O_RDONLY), LOCK_EX | LOCK_NB);
}
static long c_mmap(const char *n, void *f)
{
    char *p = ((void *(*)(void *, size_t, int, int, int, off_t))f)(
        NULL, 8, PROT_READ, MAP_PRIVATE, ofile(O_RDONLY), 0);
    if (p == MAP_FAILED)
        return -1;
    printf("  %s: %.7s\n", n, p);
    return 0;
}
static long c_chdir(const char *n, void *f)
{
    char b[1024] = "";
    long r = ((int (*)(const char *))f)(p_sub);
    printf("  %s: cwd %s\n", n, getcwd(b, sizeof(b)) ? b : strerror(errno));
    return r;
}
static long c_fchdir(const char *n, void *f)
{
    char b[1024] = "";
    long r = ((int (*)(int))f)(open(p_sub, O_RDONLY | O_DIRECTORY));
    printf("  %s: cwd %s\n", n, getcwd(b, sizeof(b)) ? b : strerror(errno));
    return r;
}
static long c_getcwd(const char *n, void *f)
{
    char b[1024] = "";
    if (chdir(dir) != 0)
        return -1;
    char *r = ((char *(*)(char *, size_t))f)(b, sizeof(b));
    printf("  %s: %s\n", n, r ? r : strerror(errno));
    char small[2];
    return ((char *(*)(char *, size_t))f)(small, sizeof(small)) ? 0 : -1;
}
/* sigaction through the hooked entry: a handler that runs, and the old
 * action reads back as the program set it (not the layer's wrapper). */
static volatile sig_atomic_t c_sig_seen;
static void c_sig_handler(int sig) { c_sig_seen = sig; }
static long c_sigaction(const char *n, void *f)
{
    int (*sa)(int, const struct sigaction *, struct sigaction *) = f;
    struct sigaction a, old;
    memset(&a, 0, sizeof(a));
    a.sa_handler = c_sig_handler;
    a.sa_flags = SA_RESTART;
    if (sa(SIGUSR2, &a, NULL) != 0)
        return -1;
    raise(SIGUSR2);
    if (sa(SIGUSR2, NULL, &old) != 0)
        return -1;
    printf("  %s: seen %d, old is ours %d, SA_SIGINFO %d\n", n, c_sig_seen,
           old.sa_handler == c_sig_handler, !!(old.sa_flags & SA_SIGINFO));
    signal(SIGUSR2, SIG_DFL);
    return 0;
}
/* __libc_start_main ran this program's main: its case is this run. */
static long c_started(const char *n, void *f)
{
    (void)n;
    (void)f;
    return 0;
}

static const struct {
    const char *name;
    case_fn fn;
} cases[] = {
    {"flock", c_flock}, {"mmap", c_mmap}, {"mmap64", c_mmap},
    {"chdir", c_chdir}, {"fchdir", c_fchdir}, {"getcwd", c_getcwd},
    {"__libc_start_main", c_started}, {"sigaction", c_sigaction},
    {"open", c_open}, {"open64", c_open}, {"openat", c_openat},
    {"openat64", c_openat}, {"creat", c_creat}, {"creat64", c_creat},
    {"__open_2", c_open_2}, {"__open64_2", c_open_2},
    {"__openat_2", c_openat_2}, {"__openat64_2", c_openat_2},
    {"__open_nocancel", c_open}, {"__openat64_nocancel", c_openat},
    {"read", c_read}, {"__read_nocancel", c_read}, {"readv", c_readv},
    {"pread", c_pread}, {"pread64", c_pread}, {"__pread64_nocancel", c_pread},
    {"preadv", c_preadv}, {"preadv64", c_preadv}, {"preadv2", c_preadv2},
    {"preadv64v2", c_preadv2}, {"write", c_write},
    {"__write_nocancel", c_write}, {"writev", c_writev}, {"pwrite", c_pwrite},
    {"pwrite64", c_pwrite}, {"pwritev", c_pwritev}, {"pwritev64", c_pwritev},
    {"pwritev2", c_pwritev2}, {"pwritev64v2", c_pwritev2},
    {"lseek", c_lseek}, {"lseek64", c_lseek}, {"ftruncate", c_ftruncate},
    {"ftruncate64", c_ftruncate}, {"copy_file_range", c_copy_file_range},
    {"sendfile", c_sendfile}, {"sendfile64", c_sendfile}, {"fsync", c_fd1},
    {"fdatasync", c_fd1}, {"close", c_fd1}, {"__close_nocancel", c_fd1},
    {"close_range", c_close_range}, {"dup", c_fd1}, {"dup2", c_dup2},
    {"dup3", c_dup3}, {"fcntl", c_fcntl}, {"fcntl64", c_fcntl},
    {"stat", c_stat}, {"stat64", c_stat}, {"lstat", c_stat},
    {"lstat64", c_stat}, {"fstat", c_fstat}, {"fstat64", c_fstat},
    {"fstatat", c_fstatat}, {"fstatat64", c_fstatat}, {"statx", c_statx},
    {"__xstat", c_xstat}, {"__xstat64", c_xstat}, {"__lxstat", c_xstat},
    {"__lxstat64", c_xstat}, {"__fxstat", c_fxstat}, {"__fxstat64", c_fxstat},
    {"__fxstatat", c_fxstatat}, {"__fxstatat64", c_fxstatat},
    {"access", c_access}, {"faccessat", c_faccessat},
    {"euidaccess", c_access}, {"eaccess", c_access},
    {"readlink", c_readlink}, {"readlinkat", c_readlinkat},
    {"statfs", c_statfs}, {"statfs64", c_statfs}, {"fstatfs", c_fstatfs},
    {"fstatfs64", c_fstatfs}, {"getxattr", c_getxattr},
    {"lgetxattr", c_getxattr}, {"fgetxattr", c_fgetxattr},
    {"listxattr", c_listxattr}, {"llistxattr", c_listxattr},
    {"flistxattr", c_flistxattr}, {"setxattr", c_setxattr},
    {"lsetxattr", c_setxattr}, {"fsetxattr", c_fsetxattr},
    {"removexattr", c_removexattr}, {"lremovexattr", c_removexattr},
    {"fremovexattr", c_fremovexattr}, {"mkdir", c_mkdir},
    {"mkdirat", c_mkdirat}, {"rmdir", c_rmdir}, {"unlink", c_unlink},
    {"unlinkat", c_unlinkat}, {"rename", c_rename}, {"renameat", c_renameat},
    {"renameat2", c_renameat2}, {"truncate", c_truncate},
    {"truncate64", c_truncate}, {"chmod", c_chmod}, {"fchmod", c_fchmod},
    {"fchmodat", c_fchmodat}, {"umask", c_umask}, {"symlink", c_symlink},
    {"symlinkat", c_symlinkat}, {"utimensat", c_utimensat},
    {"futimens", c_futimens}, {"utimes", c_utimes},
    {"lutimes", c_utimes}, {"futimes", c_futimes},
    {"futimesat", c_futimesat}, {"utime", c_utime}, {"getdents64", c_getdents64},
    {"execve", c_execve}, {"execveat", c_execveat}, {"fexecve", c_fexecve},
    {"posix_spawn", c_posix_spawn}, {"posix_spawnp", c_posix_spawn},
    {"vfork", c_vfork}, {"socket", c_socket}, {"connect", c_sockaddr},
    {"bind", c_sockaddr}, {"getpeername", c_getname},
    {"getsockname", c_getname}, {"getsockopt", c_getsockopt},
    {"listen", c_listen}, {"accept", c_accept}, {"accept4", c_accept},
    {"sendto", c_sendto}, {"sendmsg", c_sendmsg}, {"sendmmsg", c_sendmmsg},
    {"recvfrom", c_recvfrom}, {"recvmsg", c_recvmsg},
    {"recvmmsg", c_recvmmsg}, {"getaddrinfo", c_getaddrinfo},
    {"freeaddrinfo", c_freeaddrinfo}, {"getnameinfo", c_getnameinfo},
    {"gethostbyname", c_ghbn}, {"gethostbyname2", c_ghbn},
    {"gethostbyname_r", c_ghbn_r}, {"gethostbyname2_r", c_ghbn_r},
    {"gethostbyaddr", c_ghba}, {"gethostbyaddr_r", c_ghba_r},
    {"gethostname", c_gethostname}, {"uname", c_uname},
    {"syscall", c_syscall}, {"chown", c_chown}, {"lchown", c_chown},
    {"fchown", c_fchown}, {"fchownat", c_fchownat}, {"link", c_link},
    {"linkat", c_linkat}, {"mknod", c_mknod}, {"mknodat", c_mknodat},
    {"setuid", c_setid1}, {"setgid", c_setid1}, {"seteuid", c_setid1},
    {"setegid", c_setid1}, {"setreuid", c_setid2}, {"setregid", c_setid2},
    {"setresuid", c_setid3}, {"setresgid", c_setid3},
    {"setgroups", c_setgroups}, {"inotify_init", c_inotify},
    {"inotify_init1", c_inotify}, {"inotify_add_watch", c_inotify},
    {"inotify_rm_watch", c_inotify},
};

/* A fresh set of files for each case. */
static void prepare(void)
{
    char cmd[3000];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'/* && mkdir '%s' && "
             "printf 'content\\n' > '%s' && chmod 644 '%s' && ln -s '%s' '%s'",
             dir, p_sub, p_file, p_file, p_file, p_link);
    if (system(cmd) != 0)
        exit(2);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3)
        return 2;
    dir = argv[1];
    remote = argc == 3 ? argv[2] : NULL;
    snprintf(p_file, sizeof(p_file), "%s/file", dir);
    snprintf(p_new, sizeof(p_new), "%s/new", dir);
    snprintf(p_sub, sizeof(p_sub), "%s/sub", dir);
    snprintf(p_link, sizeof(p_link), "%s/link", dir);
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    int fail = 0;
    setvbuf(stdout, NULL, _IONBF, 0);
    for (size_t i = 0; i < NHOOKS; i++) {
        const char *name = hooks[i].name;
        case_fn fn = NULL;
        for (size_t j = 0; j < sizeof(cases) / sizeof(cases[0]); j++)
            if (strcmp(cases[j].name, name) == 0)
                fn = cases[j].fn;
        if (!fn) {
            fprintf(stderr, "lt_local: no case for hooks.def entry %s: add one\n",
                    name);
            fail = 1;
            continue;
        }
        void *f = (hooks[i].flags & H_PRIV)
                      ? dlvsym(libc, name, "GLIBC_PRIVATE")
                      : dlsym(libc, name);
        if (!f) {
            printf("%s: not exported\n", name);
            continue;
        }
        prepare();
        pid_t pid = fork();
        if (pid == 0) {
            long r = fn(name, f);
            out(name, r);
            /* Under the layer (REMOTE: a path only the target has), the
             * layer must still serve this thread after the call: an
             * original that leaves the guard raised turns it off. */
            if (remote && access(remote, F_OK) != 0)
                printf("%s: the layer no longer serves this thread: %s\n",
                       name, strerror(errno));
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        if (WIFSIGNALED(st)) {
            printf("%s: killed by signal %d\n", name, WTERMSIG(st));
            fail = 1;
        }
        char ls[1200];
        snprintf(ls, sizeof(ls),
                 "cd '%s' && for f in $(ls -A); do stat -c '  %%n %%F %%a %%s' \"$f\"; "
                 "[ -f \"$f\" ] && [ ! -L \"$f\" ] && sed 's/^/    /' \"$f\"; done; true",
                 dir);
        fflush(stdout);
        if (system(ls) != 0)
            fail = 1;
    }
    return fail;
}
