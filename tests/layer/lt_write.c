/* End-to-end: write mode (the config makes /srv/rw read_write). */
#include "lt.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

int main(void)
{
    char buf[256];
    umask(027);
    int fd = open("/srv/rw/new.txt", O_CREAT | O_EXCL | O_RDWR, 0666);
    CHECK(fd >= 0);
    CHECK_LONG(write(fd, "hello ", 6), 6);
    struct iovec iov[2] = {{"remote ", 7}, {"world\n", 6}};
    CHECK_LONG(writev(fd, iov, 2), 13);
    CHECK_LONG(pwrite(fd, "H", 1, 0), 1);
    CHECK_LONG(lseek(fd, 0, SEEK_CUR), 19);
    CHECK_LONG(lseek(fd, 0, SEEK_SET), 0);
    CHECK_LONG(read(fd, buf, sizeof(buf)), 19);
    CHECK(memcmp(buf, "Hello remote world\n", 19) == 0);
    CHECK_LONG(pread(fd, buf, 6, 6), 6);
    CHECK(memcmp(buf, "remote", 6) == 0);
    struct stat st;
    CHECK_LONG(fstat(fd, &st), 0);
    CHECK_LONG(st.st_size, 19);
    CHECK_LONG(st.st_mode & 0777, 0640); /* umask applied */
    CHECK_LONG(fsync(fd), 0);
    CHECK_LONG(fdatasync(fd), 0);
    CHECK_LONG(ftruncate(fd, 5), 0);
    CHECK_LONG(fstat(fd, &st), 0);
    CHECK_LONG(st.st_size, 5);
    CHECK_LONG(close(fd), 0);
    CHECK_ERR(open("/srv/rw/new.txt", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);

    /* read back through a fresh open */
    fd = open("/srv/rw/new.txt", O_RDONLY);
    CHECK_LONG(read(fd, buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "Hello", 5) == 0);
    close(fd);

    /* append mode */
    fd = open("/srv/rw/new.txt", O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK_LONG(write(fd, "!\n", 2), 2);
    CHECK_ERR(read(fd, buf, 1), EBADF);
    close(fd);
    CHECK_LONG(stat("/srv/rw/new.txt", &st), 0);
    CHECK_LONG(st.st_size, 7);

    /* namespace changes */
    CHECK_LONG(mkdir("/srv/rw/d", 0777), 0);
    CHECK_LONG(stat("/srv/rw/d", &st), 0);
    CHECK_LONG(st.st_mode & 0777, 0750);
    CHECK_ERR(mkdir("/srv/rw/d", 0777), EEXIST);
    CHECK_LONG(rename("/srv/rw/new.txt", "/srv/rw/d/moved.txt"), 0);
    CHECK_ERR(stat("/srv/rw/new.txt", &st), ENOENT);
    CHECK_ERR(rmdir("/srv/rw/d"), ENOTEMPTY);
    CHECK_ERR(unlink("/srv/rw/d"), EISDIR);
    CHECK_LONG(truncate("/srv/rw/d/moved.txt", 2), 0);
    CHECK_LONG(stat("/srv/rw/d/moved.txt", &st), 0);
    CHECK_LONG(st.st_size, 2);
    CHECK_ERR(rename("/srv/rw/d/moved.txt", "/tmp/lt_write_x"), EXDEV);
    /* modes change remotely, by path and by fd */
    CHECK_LONG(chmod("/srv/rw/d/moved.txt", 0604), 0);
    CHECK_LONG(stat("/srv/rw/d/moved.txt", &st), 0);
    CHECK_LONG(st.st_mode & 07777, 0604);
    CHECK_ERR(chmod("/srv/rw/d/nope", 0604), ENOENT);
    fd = open("/srv/rw/d/moved.txt", O_RDWR);
    CHECK(fd >= 0);
    CHECK_LONG(fchmod(fd, 0640), 0);
    CHECK_LONG(fstat(fd, &st), 0);
    CHECK_LONG(st.st_mode & 07777, 0640);
    close(fd);
    CHECK_LONG(fchmodat(AT_FDCWD, "/srv/rw/d", 0711, 0), 0);
    CHECK_LONG(stat("/srv/rw/d", &st), 0);
    CHECK_LONG(st.st_mode & 07777, 0711);
    CHECK_LONG(chmod("/srv/rw/d", 0750), 0);
    /* symlinks and times */
    CHECK_LONG(symlink("moved.txt", "/srv/rw/d/link"), 0);
    CHECK_ERR(symlink("x", "/srv/rw/d/link"), EEXIST);
    char lbuf[64];
    CHECK_LONG(readlink("/srv/rw/d/link", lbuf, sizeof(lbuf)), 9);
    CHECK(memcmp(lbuf, "moved.txt", 9) == 0);
    struct timespec ts[2] = {{1000000, 0}, {2000000, 500}};
    CHECK_LONG(utimensat(AT_FDCWD, "/srv/rw/d/link", ts, 0), 0);
    CHECK_LONG(stat("/srv/rw/d/moved.txt", &st), 0);
    CHECK_LONG(st.st_mtim.tv_sec, 2000000);
    CHECK_LONG(st.st_mtim.tv_nsec, 500);
    fd = open("/srv/rw/d/moved.txt", O_RDONLY);
    ts[1].tv_sec = 3000000;
    CHECK_LONG(futimens(fd, ts), 0);
    CHECK_LONG(fstat(fd, &st), 0);
    close(fd);
    CHECK_LONG(stat("/srv/rw/d/moved.txt", &st), 0);
    CHECK_LONG(st.st_mtim.tv_sec, 3000000);
    /* the microsecond and second forms reach the target too */
    struct timeval tv[2] = {{1000000, 0}, {4000000, 250}};
    CHECK_LONG(utimes("/srv/rw/d/moved.txt", tv), 0);
    CHECK_LONG(stat("/srv/rw/d/moved.txt", &st), 0);
    CHECK_LONG(st.st_mtim.tv_sec, 4000000);
    CHECK_LONG(st.st_mtim.tv_nsec, 250000);
    tv[1].tv_usec = 1000000;
    CHECK_ERR(utimes("/srv/rw/d/moved.txt", tv), EINVAL);
    tv[1] = (struct timeval){5000000, 0};
    CHECK_LONG(lutimes("/srv/rw/d/link", tv), 0);
    CHECK_LONG(lstat("/srv/rw/d/link", &st), 0);
    CHECK_LONG(st.st_mtim.tv_sec, 5000000);
    CHECK_LONG(stat("/srv/rw/d/moved.txt", &st), 0);
    CHECK_LONG(st.st_mtim.tv_sec, 4000000);
    fd = open("/srv/rw/d/moved.txt", O_RDONLY);
    tv[1].tv_sec = 6000000;
    CHECK_LONG(futimes(fd, tv), 0);
    close(fd);
    int d0 = open("/srv/rw/d", O_RDONLY | O_DIRECTORY);
    tv[1].tv_sec = 6500000;
    CHECK_LONG(futimesat(d0, "moved.txt", tv), 0);
    close(d0);
    CHECK_LONG(stat("/srv/rw/d/moved.txt", &st), 0);
    CHECK_LONG(st.st_mtim.tv_sec, 6500000);
    struct utimbuf ub = {.actime = 1000000, .modtime = 7000000};
    CHECK_LONG(utime("/srv/rw/d/moved.txt", &ub), 0);
    CHECK_LONG(stat("/srv/rw/d/moved.txt", &st), 0);
    CHECK_LONG(st.st_mtim.tv_sec, 7000000);
    CHECK_LONG(unlink("/srv/rw/d/link"), 0);
    /* a read-mode file cannot be changed through its fd */
    fd = open("/srv/data/hello.txt", O_RDONLY);
    CHECK(fd >= 0);
    CHECK_ERR(fchmod(fd, 0600), EROFS);
    CHECK_ERR(futimens(fd, NULL), EROFS);
    close(fd);
    CHECK_LONG(unlink("/srv/rw/d/moved.txt"), 0);
    CHECK_ERR(unlink("/srv/rw/d/moved.txt"), ENOENT);
    int dfd = open("/srv/rw", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK_LONG(mkdirat(dfd, "d/e", 0755), 0);
    CHECK_LONG(unlinkat(dfd, "d/e", AT_REMOVEDIR), 0);
    CHECK_LONG(unlinkat(dfd, "d", AT_REMOVEDIR), 0);
    close(dfd);
    /* the final state, checked in the target by run.sh */
    fd = open("/srv/rw/result.txt", O_CREAT | O_TRUNC | O_WRONLY, 0644);
    CHECK_LONG(write(fd, "written by lt_write\n", 20), 20);
    close(fd);
    /* read mode: writes go local, so /srv/data cannot be changed */
    CHECK(open("/srv/data/hello.txt", O_WRONLY) < 0);
    return lt_done("lt_write");
}
