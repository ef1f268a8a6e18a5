/* File helpers: mkdir -p, rm -rf, whole and atomic writes, fd copies. */
#include "target_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shunt/util.h"

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* FTW_MOUNT: never descend into something still mounted there. */
int tgt_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int tgt_write_all_fd(int fd, const void *data, size_t len)
{
    return shunt_write_full(fd, data, len) < 0 ? -1 : 0;
}

int tgt_write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    int rc = tgt_write_all_fd(fd, data, strlen(data));
    if (close(fd) < 0)
        rc = -1;
    return rc;
}

/* Writes the whole file atomically (tmp + rename). */
int tgt_write_atomic(const char *path, const char *data)
{
    char tmp[PATH_MAX];
    if (shunt_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0)
        return -1;
    if (tgt_write_file(tmp, data, 0644) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int tgt_copy_fd(int in, int out)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (tgt_write_all_fd(out, buf, (size_t)n) < 0)
            return -1;
    }
}

