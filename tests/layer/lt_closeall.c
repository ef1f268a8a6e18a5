/* End-to-end: a program that closes every fd at start-up, or dup2()s over
 * every number it finds, keeps the layer working. */
#include "rawsys.h"
#include "lt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int remote_ok(void)
{
    char buf[32];
    int fd = open("/srv/data/hello.txt", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return n == 22 && memcmp(buf, "hello", 5) == 0;
}


int main(void)
{
    CHECK(remote_ok());
    /* a close() loop over the whole fd range */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    long max = rl.rlim_cur > 65536 ? 65536 : (long)rl.rlim_cur;
    for (long fd = 3; fd < max; fd++)
        close((int)fd);
    CHECK(remote_ok());
    /* close_range and closefrom */
    CHECK_LONG(close_range(3, ~0U, 0), 0);
    CHECK(remote_ok());
    closefrom(3);
    CHECK(remote_ok());
    /* dup2 over every fd listed in /proc/self/fd */
    int targets[256], n = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 256) {
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != dirfd(d))
            targets[n++] = fd;
    }
    if (d)
        closedir(d);
    for (int i = 0; i < n; i++)
        CHECK_LONG(dup2(0, targets[i]), targets[i]);
    CHECK(remote_ok());
    for (int i = 0; i < n; i++)
        close(targets[i]);
    /* the lowest free number goes to the program: close(0); open() == 0 */
    close(0);
    int fd = open("/srv/data/hello.txt", O_RDONLY);
    CHECK_LONG(fd, 0);
    char line[64];
    CHECK(fgets(line, sizeof(line), stdin) != NULL);
    CHECK_STR(line, "hello from the target\n");
    /* a raw close of the layer's connections: the layer reconnects through
     * the session's broker (SHUNT_BROKER, which this process inherited) */
    const char *bk = getenv("SHUNT_BROKER");
    CHECK(bk != NULL);
    int broker = bk ? atoi(bk) : -1; /* moved by the dup2 loop above */
    d = opendir("/proc/self/fd");
    while (d && (e = readdir(d))) {
        int x = atoi(e->d_name);
        if (x > 2 && x != dirfd(d) && x != broker)
            raw_syscall3(SYS_close, x, 0, 0);
    }
    if (d)
        closedir(d);
    CHECK(remote_ok());
    /* every fd, the broker too, by raw calls: a process that holds only the broker
     * (no token: it was exec'd, docs/hooking.md "A change of user") has
     * lost its session; remote calls fail with EIO at once, never hang */
    d = opendir("/proc/self/fd");
    while (d && (e = readdir(d))) {
        int x = atoi(e->d_name);
        if (x > 2 && x != dirfd(d))
            raw_syscall3(SYS_close, x, 0, 0);
    }
    if (d)
        closedir(d);
    errno = 0;
    CHECK_LONG(open("/srv/data/hello.txt", O_RDONLY), -1);
    CHECK_LONG(errno, EIO);
    return lt_done("lt_closeall");
}
