/* Files inside a running target through a root directory fd (inroot.h). */
#include "shunt/inroot.h"

#include "shunt/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INROOT_MAX_DEPTH 32

static int open2(int dfd, const char *path, int flags, unsigned long long resolve)
{
    struct open_how how = {.flags = (unsigned long long)(unsigned)(flags | O_CLOEXEC),
                           .resolve = resolve};
    for (int tries = 0;; tries++) {
        long fd = syscall(SYS_openat2, dfd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        /* EAGAIN: a concurrent rename raced with ".." */
        if ((errno == EAGAIN && tries < 16) || errno == EINTR)
            continue;
        return -1;
    }
}

#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
/* one component below dfd, no link of any kind */
#define NO_LINKS (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

int shunt_inroot_open_root(pid_t pid)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/root", (int)pid);
    int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    /* a pid reused by a process of this host would make "/" the target */
    struct stat a, b;
    if (fd >= 0 && fstat(fd, &a) == 0 && stat("/", &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

static int parent_of(int root, const char *path, char *base, size_t baselen,
                     unsigned long long resolve)
{
    size_t e = strlen(path);
    while (e > 0 && path[e - 1] == '/')
        e--;
    size_t s = e;
    while (s > 0 && path[s - 1] != '/')
        s--;
    size_t bl = e - s;
    if (bl == 0 || (bl == 1 && path[s] == '.') ||
        (bl == 2 && path[s] == '.' && path[s + 1] == '.')) {
        errno = EINVAL;
        return -1;
    }
    if (bl + 1 > baselen || s + 2 > PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(base, path + s, bl);
    base[bl] = 0;
    char parent[PATH_MAX];
    if (s == 0) {
        parent[0] = '/';
        parent[1] = 0;
    } else {
        memcpy(parent, path, s);
        parent[s] = 0;
    }
    return open2(root, parent, O_PATH | O_DIRECTORY, resolve);
}

int shunt_inroot_parent(int root, const char *path, char *base, size_t baselen)
{
    return parent_of(root, path, base, baselen, IN_ROOT);
}

int shunt_inroot_mkdir_p(int root, const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (shunt_fmt(buf, sizeof(buf), "%s", path) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int dfd = open2(root, "/", O_PATH | O_DIRECTORY, IN_ROOT);
    char *save = NULL;
    for (char *c = strtok_r(buf, "/", &save); dfd >= 0 && c;
         c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            close(dfd);
            errno = EINVAL;
            return -1;
        }
        int nfd = open2(dfd, c, O_PATH | O_DIRECTORY, NO_LINKS);
        if (nfd < 0 && errno == ENOENT &&
            (mkdirat(dfd, c, mode) == 0 || errno == EEXIST))
            nfd = open2(dfd, c, O_PATH | O_DIRECTORY, NO_LINKS);
        int e = errno;
        close(dfd);
        errno = e;
        dfd = nfd;
    }
    return dfd;
}

/* O_PATH, fstat, and only a regular file is reopened for reading: no device
 * or FIFO is ever opened for I/O. */
static char *read_opath(int pfd, size_t max, size_t *len)
{
    struct stat st = {0};
    if (pfd < 0)
        return NULL;
    int bad = fstat(pfd, &st) < 0 ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;
    if (bad) {
        int e = bad;
        close(pfd);
        errno = e;
        return NULL;
    }
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
    int fd = open(self, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    int e = errno;
    close(pfd);
    if (fd < 0) {
        errno = e;
        return NULL;
    }
    char *b = shunt_read_fd(fd, max, 1, len);
    e = errno;
    close(fd);
    errno = e;
    return b;
}

char *shunt_inroot_read(int root, const char *path, size_t max, size_t *len)
{
    return read_opath(open2(root, path, O_PATH, IN_ROOT), max, len);
}

char *shunt_inroot_read_at(int dfd, const char *name, size_t max, size_t *len)
{
    return read_opath(open2(dfd, name, O_PATH, NO_LINKS), max, len);
}

int shunt_inroot_unlink(int root, const char *path)
{
    char base[NAME_MAX + 1];
    int pfd = shunt_inroot_parent(root, path, base, sizeof(base));
    if (pfd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = unlinkat(pfd, base, 0);
    int e = errno;
    close(pfd);
    errno = e;
    return rc < 0 && e != ENOENT ? -1 : 0;
}

/* rm -rf of NAME in DFD: a directory is opened beneath DFD with no link
 * and no mount crossed (RESOLVE_NO_XDEV: a mount point is EXDEV, never
 * descended into), emptied entry by entry, then removed; anything else,
 * a symlink included, is unlinked itself. */
#define RM_MAX_DEPTH 128

static int rm_at(int dfd, const char *name, int depth)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
    if (depth >= RM_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    for (int pass = 0; pass < 3; pass++) {
        int fd = open2(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
                       NO_LINKS | RESOLVE_NO_XDEV);
        if (fd < 0)
            return errno == ENOENT ? 0 : -1;
        DIR *d = fdopendir(fd);
        if (!d) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        struct dirent *ent;
        int rc = 0;
        errno = 0;
        while (rc == 0 && (ent = readdir(d))) {
            if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                continue;
            rc = rm_at(dirfd(d), ent->d_name, depth + 1);
        }
        int e = errno;
        closedir(d);
        if (rc < 0) {
            errno = e;
            return -1;
        }
        if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            return 0;
        if (errno != ENOTEMPTY && errno != EEXIST)
            return -1;
        /* an entry appeared meanwhile: once more */
    }
    return -1;
}

int shunt_inroot_rm_rf(int root, const char *path)
{
    char base[NAME_MAX + 1];
    int pfd = parent_of(root, path, base, sizeof(base),
                        IN_ROOT | RESOLVE_NO_SYMLINKS);
    if (pfd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = rm_at(pfd, base, 0);
    int e = errno;
    close(pfd);
    errno = e;
    return rc;
}

int shunt_inroot_opendir(int root, const char *path)
{
    return open2(root, path, O_RDONLY | O_DIRECTORY, IN_ROOT);
}

/* A regular host file SRC to NAME in DFD: the old entry is unlinked and a
 * new one created O_EXCL|O_NOFOLLOW, so nothing is written through a link. */
static int copy_file_at(const char *src, const struct stat *st, int dfd,
                        const char *name)
{
    int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = -1;
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
        out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     st->st_mode & 07777);
    int rc = out < 0 ? -1 : 0;
    char buf[65536];
    ssize_t r = 0;
    while (rc == 0 && (r = read(in, buf, sizeof(buf))) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || shunt_write_full(out, buf, (size_t)r) < 0)
            rc = -1;
    }
    if (rc == 0 && fchmod(out, st->st_mode & 07777) < 0)
        rc = -1;
    int e = errno;
    close(in);
    if (out >= 0 && close(out) < 0 && rc == 0)
        return -1;
    errno = e;
    return rc;
}

static int copy_at(const char *src, int dfd, const char *name, int depth)
{
    struct stat st;
    if (lstat(src, &st) < 0)
        return -1;
    if (S_ISREG(st.st_mode))
        return copy_file_at(src, &st, dfd, name);
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (depth > INROOT_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    if (mkdirat(dfd, name, st.st_mode & 07777) < 0 && errno != EEXIST)
        return -1;
    int sub = open2(dfd, name, O_PATH | O_DIRECTORY, NO_LINKS);
    if (sub < 0)
        return -1;
    DIR *d = opendir(src);
    if (!d) {
        int e = errno;
        close(sub);
        errno = e;
        return -1;
    }
    struct dirent *ent;
    int rc = 0;
    while (rc == 0 && (ent = readdir(d))) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        char s2[PATH_MAX];
        if (shunt_fmt(s2, sizeof(s2), "%s/%s", src, ent->d_name) < 0) {
            errno = ENAMETOOLONG;
            rc = -1;
            break;
        }
        rc = copy_at(s2, sub, ent->d_name, depth + 1);
    }
    int e = errno;
    closedir(d);
    close(sub);
    errno = e;
    return rc;
}

int shunt_inroot_copy(const char *src, int root, const char *dst)
{
    char parent[PATH_MAX];
    if (shunt_fmt(parent, sizeof(parent), "%s", dst) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char *slash = strrchr(parent, '/');
    const char *name = slash ? slash + 1 : parent;
    if (!slash || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        errno = EINVAL;
        return -1;
    }
    *slash = 0;
    int pfd = shunt_inroot_mkdir_p(root, parent[0] ? parent : "/", 0755);
    if (pfd < 0)
        return -1;
    int rc = copy_at(src, pfd, name, 0);
    int e = errno;
    close(pfd);
    errno = e;
    return rc;
}
