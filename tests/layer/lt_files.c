/* End-to-end: open/read/stat family on remote files (run under the layer
 * against the fixture target, see run.sh).  argv[1]: a local file, argv[2]:
 * its content. */
#include "rawsys.h"
#include "lt.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define HELLO "hello from the target\n"

static char *read_all(int fd, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n == cap)
            b = realloc(b, cap *= 2);
        ssize_t r = read(fd, b + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return b;
}

/* The content `seq 1 400000` prints, which run.sh put in big.txt. */
static char *seq_content(size_t *len)
{
    char *b = malloc(4 << 20);
    size_t n = 0;
    for (int i = 1; i <= 400000; i++)
        n += (size_t)sprintf(b + n, "%d\n", i);
    *len = n;
    return b;
}


int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: lt_files LOCAL_FILE CONTENT\n");
        return 2;
    }
    char buf[256];

    /* open, read, fstat, pread, lseek on a remote file */
    int fd = open("/srv/data/hello.txt", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_LONG(read(fd, buf, sizeof(buf)), 22);
    CHECK(memcmp(buf, HELLO, 22) == 0);
    CHECK_LONG(read(fd, buf, sizeof(buf)), 0);
    struct stat st;
    CHECK_LONG(fstat(fd, &st), 0);
    CHECK_LONG(st.st_size, 22);
    CHECK(S_ISREG(st.st_mode));
    CHECK_LONG(st.st_mode & 07777, 0644);
    CHECK_LONG(pread(fd, buf, 4, 6), 4);
    CHECK(memcmp(buf, "from", 4) == 0);
    CHECK_LONG(lseek(fd, 0, SEEK_END), 22);
    CHECK_LONG(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_LONG(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    CHECK_ERR(write(fd, "x", 1), EBADF);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    CHECK_LONG(poll(&pfd, 1, 1000), 1);
    void *map = mmap(NULL, 22, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(map != MAP_FAILED);
    if (map != MAP_FAILED) {
        CHECK(memcmp(map, HELLO, 22) == 0);
        munmap(map, 22);
    }
    struct stat st2;
    CHECK_LONG(fstatat(fd, "", &st2, AT_EMPTY_PATH), 0);
    CHECK_LONG(st2.st_ino, st.st_ino);
    struct statx sx;
    CHECK_LONG(statx(fd, "", AT_EMPTY_PATH, STATX_ALL, &sx), 0);
    CHECK_LONG(sx.stx_size, 22);
    struct statfs sf;
    CHECK_LONG(fstatfs(fd, &sf), 0);
    close(fd);

    /* path-based metadata */
    CHECK_LONG(stat("/srv/data/hello.txt", &st2), 0);
    CHECK_LONG(st2.st_ino, st.st_ino);
    CHECK_LONG(stat("/srv/data/link", &st2), 0);
    CHECK_LONG(st2.st_size, 22);
    CHECK_LONG(lstat("/srv/data/link", &st2), 0);
    CHECK(S_ISLNK(st2.st_mode));
    CHECK_LONG(fstatat(AT_FDCWD, "/srv/data/link", &st2, AT_SYMLINK_NOFOLLOW), 0);
    CHECK(S_ISLNK(st2.st_mode));
    CHECK_LONG(statx(AT_FDCWD, "/srv/data/sub/b.txt", 0, STATX_SIZE, &sx), 0);
    CHECK_LONG(sx.stx_size, 7);
    CHECK_LONG(stat("/srv/data/secret.txt", &st2), 0);
    CHECK_LONG(st2.st_mode & 07777, 0600);
    ssize_t n = readlink("/srv/data/link", buf, sizeof(buf));
    CHECK_LONG(n, 9);
    if (n == 9)
        CHECK(memcmp(buf, "hello.txt", 9) == 0);
    CHECK_ERR(readlink("/srv/data/hello.txt", buf, sizeof(buf)), EINVAL);
    CHECK_LONG(access("/srv/data/hello.txt", R_OK), 0);
    CHECK_LONG(access("/etc/app/config.json", F_OK), 0);
    CHECK_LONG(faccessat(AT_FDCWD, "/srv/data/sub", X_OK, AT_EACCESS), 0);
    CHECK_ERR(access("/srv/data/nope", F_OK), ENOENT);
    CHECK_LONG(statfs("/srv/data", &sf), 0);
    char *rp = realpath("/srv/data/./sub/../link", NULL);
    CHECK_STR(rp, "/srv/data/hello.txt");
    free(rp);
    CHECK_ERR(lgetxattr("/srv/data/hello.txt", "user.x", buf, sizeof(buf)),
              ENOTSUP);

    /* errno parity */
    CHECK_ERR(open("/srv/data/nope", O_RDONLY), ENOENT);
    CHECK_ERR(open("/srv/data/hello.txt/x", O_RDONLY), ENOTDIR);
    CHECK_ERR(open("/srv/data/hello.txt", O_RDONLY | O_DIRECTORY), ENOTDIR);
    CHECK_ERR(open("/srv/data/dangling", O_RDONLY), ENOENT);
    CHECK_LONG(lstat("/srv/data/dangling", &st2), 0);
    CHECK_ERR(stat("/srv/data/nope/deeper", &st2), ENOENT);
    CHECK_ERR(stat("/srv/data/hello.txt/", &st2), ENOTDIR);
    fd = open("/srv/data/sub", O_RDONLY);
    CHECK(fd >= 0);
    CHECK_ERR(read(fd, buf, sizeof(buf)), EISDIR);
    CHECK_LONG(fstat(fd, &st2), 0);
    CHECK(S_ISDIR(st2.st_mode));
    close(fd);

    /* a file of several frames: content, mmap, sendfile, copy_file_range */
    size_t want_len, got_len;
    char *want = seq_content(&want_len);
    fd = open("/srv/data/big.txt", O_RDONLY);
    CHECK(fd >= 0);
    CHECK_LONG(fstat(fd, &st), 0);
    CHECK_LONG(st.st_size, want_len);
    char *got = read_all(fd, &got_len);
    CHECK_LONG(got_len, want_len);
    CHECK(got_len == want_len && memcmp(got, want, want_len) == 0);
    free(got);
    char tmpl[] = "/tmp/lt_files.XXXXXX";
    int out = mkstemp(tmpl);
    CHECK(out >= 0);
    off_t off = 0;
    size_t moved = 0;
    while (moved < want_len) {
        ssize_t s = sendfile(out, fd, &off, want_len - moved);
        if (s <= 0)
            break;
        moved += (size_t)s;
    }
    CHECK_LONG(moved, want_len);
    lseek(out, 0, SEEK_SET);
    got = read_all(out, &got_len);
    CHECK(got_len == want_len && memcmp(got, want, want_len) == 0);
    free(got);
    CHECK_LONG(ftruncate(out, 0), 0);
    lseek(fd, 0, SEEK_SET);
    lseek(out, 0, SEEK_SET);
    moved = 0;
    while (moved < want_len) {
        ssize_t s = copy_file_range(fd, NULL, out, NULL, want_len - moved, 0);
        if (s <= 0)
            break;
        moved += (size_t)s;
    }
    CHECK_LONG(moved, want_len);
    close(out);
    unlink(tmpl);
    close(fd);
    free(want);

    /* local paths stay local: the local file, and /etc/passwd read through
     * the hooks equals what raw syscalls read */
    fd = open(argv[1], O_RDONLY);
    CHECK(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    CHECK_LONG(n, strlen(argv[2]));
    if (n >= 0) {
        buf[n] = '\0';
        CHECK_STR(buf, argv[2]);
    }
    close(fd);
    int raw = (int)raw_syscall3(SYS_openat, AT_FDCWD, (long)"/etc/passwd", O_RDONLY);
    fd = open("/etc/passwd", O_RDONLY);
    size_t l1, l2;
    char *a = read_all(raw, &l1), *b = read_all(fd, &l2);
    CHECK(l1 == l2 && memcmp(a, b, l1) == 0);
    free(a);
    free(b);
    close(raw);
    close(fd);
    /* a relative path against the (local) cwd */
    const char *base = strrchr(argv[1], '/');
    CHECK(base != NULL);
    if (base) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%.*s", (int)(base - argv[1]), argv[1]);
        CHECK_LONG(chdir(dir), 0);
        CHECK_LONG(access(base + 1, R_OK), 0);
        CHECK_LONG(stat(base + 1, &st2), 0);
        CHECK_LONG(st2.st_size, strlen(argv[2]));
    }
    return lt_done("lt_files");
}
