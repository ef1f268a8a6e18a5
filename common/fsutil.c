/* Filesystem helpers of the harness (fsutil.h). */
#include "shunt/fsutil.h"

#include "shunt/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int shunt_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (shunt_fmt(tmp, sizeof(tmp), "%s", path) < 0)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static int copy_file(const char *src, const char *dst, const struct stat *st,
                     int flags)
{
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0)
        return (flags & SHUNT_COPY_LENIENT) && errno == EACCES ? 0 : -1;
    unlink(dst);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   st->st_mode & 07777);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    char buf[65536];
    ssize_t r;
    int rc = 0;
    while ((r = read(in, buf, sizeof(buf))) > 0)
        if (shunt_write_full(out, buf, (size_t)r) < 0) {
            rc = -1;
            break;
        }
    if (r < 0 || fchmod(out, st->st_mode & 07777) < 0)
        rc = -1;
    int e = errno;
    close(in);
    if (close(out) < 0)
        rc = -1;
    else
        errno = e;
    return rc;
}

static int copy(const char *src, const char *dst, int flags, int depth)
{
    int lenient = flags & SHUNT_COPY_LENIENT;
    struct stat st;
    if (lstat(src, &st) < 0)
        return lenient && errno == ENOENT ? 0 : -1;
    if (S_ISLNK(st.st_mode)) {
        if (!(flags & SHUNT_COPY_LINKS))
            return 0;
        char target[PATH_MAX];
        ssize_t n = readlink(src, target, sizeof(target) - 1);
        if (n < 0)
            return -1;
        target[n] = 0;
        return symlink(target, dst) < 0 && errno != EEXIST ? -1 : 0;
    }
    if (S_ISREG(st.st_mode))
        return copy_file(src, dst, &st, flags);
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (depth > SHUNT_COPY_MAX_DEPTH) {
        if (lenient)
            return 0;
        errno = ELOOP;
        return -1;
    }
    if (mkdir(dst, st.st_mode & 07777) < 0 && errno != EEXIST)
        return -1;
    DIR *d = opendir(src);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char s2[PATH_MAX], d2[PATH_MAX];
        if (shunt_fmt(s2, sizeof(s2), "%s/%s", src, e->d_name) < 0 ||
            shunt_fmt(d2, sizeof(d2), "%s/%s", dst, e->d_name) < 0) {
            if (lenient)
                continue;
            errno = ENAMETOOLONG;
            rc = -1;
            break;
        }
        rc = copy(s2, d2, flags, depth + 1);
    }
    int e2 = errno;
    closedir(d);
    errno = e2;
    return rc;
}

int shunt_copy_tree(const char *src, const char *dst, int flags)
{
    return copy(src, dst, flags, 0);
}
