/* The journal's test program (tests/layer/journal.sh): one call of each
 * journalled family, a forked child and a spawned one, each printing what
 * it saw, so that its output with and without the observe-only layer can
 * be compared and its journal checked line by line.
 * Usage: lt_journal DIR  (lt_journal child DIR: the spawned child;
 * lt_journal closeall: closes every fd above 2, one by one and with
 * close_range, then opens a file; lt_journal every DIR: one call, at least,
 * of every journal.def row and of each way a letter is shown, in DIR). */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Every journal.def row (but the fortified and glibc-private forms, which
 * share their rows' letters) and the edge of each letter: NULL and long
 * strings, AT_FDCWD, unnamed flag bits, F_OK, an fd form of fstatat/statx
 * on an observed and an unobserved fd, every J_* result.  Only loopback,
 * /etc/hosts names and numeric addresses: nothing leaves the host. */
static long sink;
#define DO(call) (sink += (long)(call))
static const char *volatile null_path; /* NULL, which the compiler cannot see */

static int every(const char *d)
{
    char buf[300], longp[400];
    struct stat st;
    struct statx sx;
    if (chdir(d) < 0)
        return 1;
    umask(022);
    int fd = creat("c.txt", 0640);
    struct iovec iov[2] = {{(void *)"ab", 2}, {(void *)"cde", 3}};
    DO(writev(fd, iov, 2));
    DO(pwrite(fd, "xy", 2, 10));
    close(fd);
    fd = open("c.txt", O_RDONLY | O_CLOEXEC | O_NOATIME | O_NONBLOCK);
    struct iovec r[2] = {{buf, 3}, {buf + 3, 100}};
    DO(readv(fd, r, 2));
    DO(pread(fd, buf, 4, 1));
    DO(fstatat(fd, "", &st, AT_EMPTY_PATH));
    DO(statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_ALL, &sx));
    DO(statx(AT_FDCWD, "c.txt", AT_SYMLINK_NOFOLLOW | AT_STATX_FORCE_SYNC, STATX_ALL, &sx));
    DO(fstatat(0, "", &st, AT_EMPTY_PATH));            /* not observed: no record */
    DO(statx(0, "", AT_EMPTY_PATH, STATX_ALL, &sx));    /* nor here */
    DO(fstatat(AT_FDCWD, "c.txt", &st, -1));
    DO(statx(AT_FDCWD, null_path, -1, STATX_ALL, &sx));
    DO(read(0, buf, 0));                                /* not observed */
    close(fd);
    close(fd);
    fd = open(".", O_TMPFILE | O_RDWR, 0600);
    close(fd);
    fd = open("x", O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_SYNC | O_NOCTTY | 0x4000000, 0);
    close(fd);
    fd = open("/", O_PATH | O_DIRECTORY | O_NOFOLLOW | 3);
    close(fd);
    fd = openat(AT_FDCWD, "c.txt", O_RDONLY | O_DSYNC);
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    int u = openat(dir, "u.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
    DO(write(u, "hello", 5));
    DO(fstat(u, &st));
    close(u);
    DO(faccessat(dir, "u.txt", R_OK | W_OK, AT_SYMLINK_NOFOLLOW));
    DO(access("u.txt", F_OK));
    DO(access("u.txt", 0x10));
    DO(mkdirat(dir, "m", 0700));
    DO(mkdir("m2", 0750));
    DO(symlink("u.txt", "s"));
    DO(readlinkat(dir, "s", buf, sizeof(buf)));
    DO(readlink("u.txt", buf, 3));
    DO(renameat(dir, "u.txt", AT_FDCWD, "v.txt"));
    DO(renameat2(AT_FDCWD, "v.txt", dir, "w.txt", RENAME_NOREPLACE));
    DO(renameat2(AT_FDCWD, "nope", dir, "w.txt", 0x80));
    DO(link("w.txt", "h"));
    DO(chown("w.txt", (uid_t)-1, (gid_t)-1));
    DO(chmod("w.txt", 04755));
    DO(truncate("w.txt", 1234567));
    DO(mknod("fifo", S_IFIFO | 0600, 0));
    DO(mknod("node", S_IFREG | 0600, makedev(1, 3)));
    DO(unlinkat(dir, "m", AT_REMOVEDIR));
    DO(unlinkat(dir, "fifo", 0));
    DO(unlinkat(dir, "w.txt", 0x8000));
    DO(rename("h", "h2"));
    DO(unlink("h2"));
    DO(rmdir("m2"));
    DO(rmdir("nope"));
    DO(lstat("s", &st));
    DO(stat(null_path, &st));
    DO(stat("w.txt", &st));
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = 0;
    memcpy(longp + 5, "\n\t\"\\\x01\xc3", 6);
    DO(stat(longp, &st));
    close(dir);
    close(fd);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    DO(connect(s, (struct sockaddr *)&sin, sizeof(sin)));
    DO(bind(s, (struct sockaddr *)&sin, sizeof(sin)));
    close(s);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "lt-journal-none");
    DO(connect(s, (struct sockaddr *)&un, offsetof(struct sockaddr_un, sun_path) + 1 + 15));
    snprintf(un.sun_path, sizeof(un.sun_path), "/nonexistent/sock");
    DO(connect(s, (struct sockaddr *)&un, sizeof(un)));
    DO(connect(s, NULL, 0));
    struct sockaddr sa = {.sa_family = 99};
    DO(connect(s, &sa, sizeof(sa)));
    close(s);
    s = socket(AF_NETLINK, SOCK_RAW, 0);
    close(s);
    DO(socket(12345, 9, 0));
    DO(socket(AF_INET6, SOCK_SEQPACKET | 0x100, 0));
    struct addrinfo *res, hints = {.ai_family = AF_INET}, num = {.ai_flags = AI_NUMERICHOST};
    if (getaddrinfo("localhost", NULL, &hints, &res) == 0)
        freeaddrinfo(res);
    DO(getaddrinfo("lt-journal.invalid", "http", &num, &res));
    DO(getaddrinfo(NULL, "lt-journal-no-service", &hints, &res));
    DO(gethostbyname("localhost"));
    DO(gethostbyname2("::1", AF_INET6));
    DO(gethostbyname2("127.0.0.1", AF_INET));
    pid_t pid;
    int ws;
    char *av[] = {(char *)"lt_journal", (char *)"child", (char *)".", NULL};
    DO(posix_spawnp(&pid, "lt-journal-no-such-program", NULL, NULL, av, environ));
    if (posix_spawnp(&pid, "/proc/self/exe", NULL, NULL, av, environ) == 0)
        waitpid(pid, &ws, 0);
    char *big[20];
    for (int i = 0; i < 19; i++)
        big[i] = (char *)"x";
    big[19] = NULL;
    DO(execve("/nonexistent", big, environ));
    DO(execve(null_path, av, environ));
    DO(execveat(AT_FDCWD, "/nonexistent", av, environ, 0));
    DO(fexecve(99, av, environ));
    DO(fexecve(-1, av, environ));
    fflush(stdout);
    if (fork() == 0) {
        fexecve(open("/bin/true", O_RDONLY), av, environ);
        _exit(1);
    }
    wait(&ws);
    if (fork() == 0) {
        execveat(AT_FDCWD, "/bin/true", av, environ, 0);
        _exit(1);
    }
    wait(&ws);
    DO(gethostname(buf, 3));
    DO(unlink("c.txt") + unlink("x") + unlink("s") + unlink("w.txt") + unlink("node"));
    return 0;
}

int main(int argc, char **argv)
{
    char p[512], q[512], l[512], t[64];
    if (argc == 3 && strcmp(argv[1], "child") == 0) {
        snprintf(p, sizeof(p), "%s/c.txt", argv[2]);
        printf("child open: %d\n", open(p, O_RDONLY));
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "closeall") == 0) {
        int fds[4096], n = 0;
        DIR *dir = opendir("/proc/self/fd");
        struct dirent *e;
        while (dir && (e = readdir(dir)) && n < 4096)
            if (atoi(e->d_name) > 2)
                fds[n++] = atoi(e->d_name);
        if (dir)
            closedir(dir);
        for (int i = 0; i < n; i++)
            close(fds[i]);
        close_range(3, ~0u, 0);
        int f = open("/etc/hostname", O_RDONLY);
        printf("open after closing: %d\n", f);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "every") == 0)
        return every(argv[2]);
    if (argc != 2)
        return 2;
    const char *d = argv[1];
    umask(022);
    snprintf(p, sizeof(p), "%s/a.txt", d);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    printf("write: %zd\n", write(fd, "hello\n", 6));
    close(fd);
    fd = open(p, O_RDONLY);
    char buf[64];
    struct stat st;
    ssize_t n = read(fd, buf, sizeof(buf));
    fstat(fd, &st);
    close(fd);
    printf("read %zd size %ld\n", n, (long)st.st_size);
    printf("stat missing: %d\n", stat("/nonexistent/x", &st));
    printf("access: %d\n", access(p, R_OK));
    snprintf(q, sizeof(q), "%s/sub", d);
    printf("mkdir: %d\n", mkdir(q, 0755));
    snprintf(q, sizeof(q), "%s/sub/b.txt", d);
    printf("rename: %d\n", rename(p, q));
    snprintf(l, sizeof(l), "%s/sub/l", d);
    printf("symlink: %d\n", symlink("b.txt", l));
    n = readlink(l, t, sizeof(t));
    printf("readlink: %.*s\n", (int)(n > 0 ? n : 0), t);
    int u1 = unlink(l);
    printf("unlink: %d %d\n", u1, unlink(q));
    snprintf(q, sizeof(q), "%s/sub", d);
    printf("rmdir: %d\n", rmdir(q));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        int f = open("/etc/hostname", O_RDONLY);
        if (f >= 0)
            close(f);
        _exit(0);
    }
    int ws;
    waitpid(c, &ws, 0);
    char *cargv[] = {(char *)"lt_journal", (char *)"child", (char *)d, NULL};
    pid_t sp;
    if (posix_spawn(&sp, "/proc/self/exe", NULL, NULL, cargv, environ) == 0)
        waitpid(sp, &ws, 0);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    int g = getaddrinfo("localhost", "80", &hints, &ai);
    printf("getaddrinfo: %d\n", g);
    if (g == 0)
        freeaddrinfo(ai);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    printf("connect: %d\n", connect(s, (struct sockaddr *)&sin, sizeof(sin)));
    close(s);
    char host[256];
    printf("gethostname: %d\n", gethostname(host, sizeof(host)));
    return 0;
}
