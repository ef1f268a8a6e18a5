/* End-to-end: ownership, hard links and FIFOs in a write-mode directory
 * (rw.conf: /srv/rw read_write), by path and relative to a remote
 * directory fd; and *at calls relative to a remote directory fd whose
 * joined path is local (NEW-dirfd).  run.sh then checks the tree with
 * stat(1) inside the target. */
#include "lt.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void put(const char *path)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0666);
    CHECK(fd >= 0);
    CHECK_LONG(write(fd, "x\n", 2), 2);
    CHECK_LONG(close(fd), 0);
}

int main(void)
{
    struct stat st;
    umask(027);
    CHECK_LONG(mkdir("/srv/rw/o", 0777), 0);
    put("/srv/rw/o/f.txt");
    put("/srv/rw/o/g.txt");
    put("/srv/rw/o/h.txt");
    put("/srv/rw/o/i.txt");
    CHECK_LONG(symlink("f.txt", "/srv/rw/o/sl"), 0);

    /* chown family by path */
    CHECK_LONG(chown("/srv/rw/o/f.txt", 1001, 1002), 0);
    CHECK_LONG(stat("/srv/rw/o/f.txt", &st), 0);
    CHECK_LONG(st.st_uid, 1001);
    CHECK_LONG(st.st_gid, 1002);
    CHECK_LONG(lchown("/srv/rw/o/sl", 1003, 1003), 0);
    CHECK_LONG(lstat("/srv/rw/o/sl", &st), 0);
    CHECK_LONG(st.st_uid, 1003);
    CHECK_LONG(stat("/srv/rw/o/sl", &st), 0);
    CHECK_LONG(st.st_uid, 1001); /* the file behind it kept its owner */
    CHECK_ERR(chown("/srv/rw/o/nope", 1, 1), ENOENT);
    /* by fd, and relative to a remote directory fd */
    int fd = open("/srv/rw/o/g.txt", O_RDWR);
    CHECK(fd >= 0);
    CHECK_LONG(fchown(fd, 1004, 1005), 0);
    CHECK_LONG(fstat(fd, &st), 0);
    CHECK_LONG(st.st_uid, 1004);
    close(fd);
    int dfd = open("/srv/rw/o", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK_LONG(fchownat(dfd, "h.txt", 1006, 1007, 0), 0);
    CHECK_LONG(fstatat(dfd, "h.txt", &st, 0), 0);
    CHECK_LONG(st.st_gid, 1007);
    fd = open("/srv/rw/o/i.txt", O_WRONLY);
    CHECK_LONG(fchownat(fd, "", 1008, (gid_t)-1, AT_EMPTY_PATH), 0);
    close(fd);
    CHECK_LONG(fchown(dfd, (uid_t)-1, 1009), 0); /* the directory itself */

    /* hard links: by path, relative to the dir fd, following a symlink */
    CHECK_LONG(link("/srv/rw/o/f.txt", "/srv/rw/o/f-hard"), 0);
    CHECK_ERR(link("/srv/rw/o/f.txt", "/srv/rw/o/f-hard"), EEXIST);
    CHECK_LONG(linkat(dfd, "g.txt", dfd, "g-hard", 0), 0);
    CHECK_LONG(linkat(AT_FDCWD, "/srv/rw/o/sl", dfd, "sl-follow",
                      AT_SYMLINK_FOLLOW), 0);
    CHECK_LONG(stat("/srv/rw/o/f.txt", &st), 0);
    CHECK_LONG(st.st_nlink, 3);
    CHECK_ERR(link("/srv/rw/o/f.txt", "/tmp/lt_owner_x"), EXDEV);
    CHECK_ERR(link("/srv/rw/o", "/srv/rw/o/dir-hard"), EPERM);

    /* FIFOs and regular files (mkfifo jumps into mknod); no devices */
    CHECK_LONG(mkfifo("/srv/rw/o/fifo", 0666), 0);
    CHECK_LONG(stat("/srv/rw/o/fifo", &st), 0);
    CHECK(S_ISFIFO(st.st_mode));
    CHECK_LONG(st.st_mode & 07777, 0640);
    CHECK_ERR(mkfifo("/srv/rw/o/fifo", 0666), EEXIST);
    /* a FIFO's fds (docs/hooking.md, "Remote files: real fds"): a
     * blocking open is refused at once, whichever end (the target's
     * kernel would wait for the other end, the agent cannot); O_NONBLOCK
     * opens behave as the kernel's: no reader for a writer is ENXIO,
     * pread is ESPIPE, the bytes go through the target's pipe */
    CHECK_ERR(open("/srv/rw/o/fifo", O_RDONLY), EOPNOTSUPP);
    CHECK_ERR(open("/srv/rw/o/fifo", O_WRONLY), EOPNOTSUPP);
    CHECK_ERR(open("/srv/rw/o/fifo", O_RDWR), EOPNOTSUPP);
    CHECK_ERR(open("/srv/rw/o/fifo", O_WRONLY | O_NONBLOCK), ENXIO);
    int rfd = open("/srv/rw/o/fifo", O_RDONLY | O_NONBLOCK);
    CHECK(rfd >= 0);
    char fb[8];
    CHECK_ERR(pread(rfd, fb, 0, 0), ESPIPE);
    CHECK_ERR(pread(rfd, fb, sizeof(fb), 0), ESPIPE);
    CHECK_LONG(read(rfd, fb, sizeof(fb)), 0); /* no writer: EOF */
    CHECK_ERR(ftruncate(rfd, 0), EINVAL);
    CHECK_ERR(lseek(rfd, 0, SEEK_SET), ESPIPE);
    int wfd = open("/srv/rw/o/fifo", O_WRONLY | O_NONBLOCK);
    CHECK(wfd >= 0);
    CHECK_ERR(read(rfd, fb, sizeof(fb)), EAGAIN); /* a writer, no data */
    CHECK_LONG(write(wfd, "abc", 3), 3);
    CHECK_LONG(read(rfd, fb, sizeof(fb)), 3);
    CHECK(memcmp(fb, "abc", 3) == 0);
    close(wfd);
    close(rfd);
    CHECK_ERR(truncate("/srv/rw/o/fifo", 0), EINVAL);
    /* O_PATH: the kernel drops the access mode, nothing can be read */
    int pfd = open("/srv/rw/o/fifo", O_RDWR | O_PATH);
    CHECK(pfd >= 0);
    CHECK_LONG(fcntl(pfd, F_GETFL) & (O_ACCMODE | O_PATH), O_PATH);
    CHECK_ERR(read(pfd, fb, 1), EBADF);
    CHECK_ERR(ftruncate(pfd, 0), EBADF);
    CHECK_LONG(fstat(pfd, &st), 0);
    CHECK(S_ISFIFO(st.st_mode));
    close(pfd);
    CHECK_LONG(mkfifoat(dfd, "fifo2", 0600), 0);
    CHECK_LONG(mknodat(dfd, "reg", S_IFREG | 0644, 0), 0);
    CHECK_ERR(mknod("/srv/rw/o/node", S_IFCHR | 0600, makedev(1, 3)), EPERM);
    CHECK_ERR(stat("/srv/rw/o/node", &st), ENOENT);
    close(dfd);

    /* read mode (/srv/data): write operations act locally, where the
     * path does not exist (docs/hooking.md, the policy table) */
    CHECK_ERR(chown("/srv/data/hello.txt", 1, 1), ENOENT);
    CHECK_ERR(link("/srv/data/hello.txt", "/srv/data/h2"), ENOENT);
    CHECK_ERR(mkfifo("/srv/data/fifo", 0600), ENOENT);
    CHECK_LONG(stat("/srv/data/hello.txt", &st), 0);
    CHECK_LONG(st.st_uid, 0);

    /* local paths stay local */
    char lp[64], lf[80];
    snprintf(lp, sizeof(lp), "/tmp/lt_owner_%d", (int)getpid());
    snprintf(lf, sizeof(lf), "%s.fifo", lp);
    put(lp);
    CHECK_LONG(mkfifo(lf, 0600), 0);
    CHECK_LONG(stat(lf, &st), 0);
    CHECK(S_ISFIFO(st.st_mode));
    char lh[80];
    snprintf(lh, sizeof(lh), "%s.hard", lp);
    CHECK_LONG(link(lp, lh), 0);
    CHECK_LONG(chown(lp, getuid(), getgid()), 0);

    /* NEW-dirfd: relative to the remote "/", a local path ("tmp" is
     * local by policy) goes to the original with its absolute path */
    int root = open("/", O_RDONLY | O_DIRECTORY);
    CHECK(root >= 0);
    CHECK_LONG(fstatat(root, "tmp", &st, 0), 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_LONG(fstatat(root, lp + 1, &st, 0), 0);
    CHECK_LONG(faccessat(root, lp + 1, R_OK, 0), 0);
    fd = openat(root, lp + 1, O_RDONLY);
    CHECK(fd >= 0);
    close(fd);
    char ld[80];
    snprintf(ld, sizeof(ld), "%s.d", lp + 1);
    CHECK_LONG(mkdirat(root, ld, 0700), 0);
    CHECK_LONG(unlinkat(root, ld, AT_REMOVEDIR), 0);
    close(root);
    unlink(lf);
    unlink(lh);
    unlink(lp);
    return lt_done("lt_owner");
}
