/* End-to-end: dup family and fork keep remote fds working in both
 * processes; O_CLOEXEC survives; a child opens its own remote files. */
#include "lt.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    char buf[64];
    int fd = open("/srv/data/hello.txt", O_RDONLY);
    CHECK(fd >= 0);
    int d1 = dup(fd);
    int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    CHECK(d2 >= 100);
    CHECK_LONG(fcntl(d2, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_LONG(dup2(fd, 50), 50);
    CHECK_LONG(dup3(fd, 51, O_CLOEXEC), 51);
    struct stat st;
    int fds[] = {d1, d2, 50, 51};
    for (int i = 0; i < 4; i++) {
        CHECK_LONG(fstat(fds[i], &st), 0);
        CHECK_LONG(st.st_size, 22);
    }
    /* dup'd fds share the offset */
    CHECK_LONG(read(fd, buf, 6), 6);
    CHECK_LONG(read(d1, buf, 4), 4);
    CHECK(memcmp(buf, "from", 4) == 0);
    close(fd);
    CHECK_LONG(pread(d1, buf, 5, 0), 5);

    /* a write-mode fd shared with a child */
    int w = open("/srv/rw/fork.txt", O_CREAT | O_TRUNC | O_RDWR, 0644);
    CHECK(w >= 0);
    CHECK_LONG(write(w, "parent\n", 7), 7);
    int dir = open("/srv/data/sub", O_RDONLY | O_DIRECTORY);
    CHECK(dir >= 0);

    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        bad |= pread(d1, buf, 5, 0) != 5 || memcmp(buf, "hello", 5) != 0;
        bad |= fstat(50, &st) != 0 || st.st_size != 22;
        bad |= write(w, "child\n", 6) != 6;
        bad |= fstatat(dir, "a.txt", &st, 0) != 0 || st.st_size != 4;
        int c = open("/srv/data/sub/b.txt", O_RDONLY);
        bad |= c < 0 || read(c, buf, 7) != 7 || memcmp(buf, "bbbbbb\n", 7);
        close(c);
        close(d1); /* the parent's copy must go on working */
        close(w);
        _exit(bad ? 1 : 0);
    }
    int status = 0;
    CHECK_LONG(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_LONG(pread(d1, buf, 5, 0), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_LONG(fstatat(dir, "b.txt", &st, 0), 0);
    CHECK_LONG(write(w, "after\n", 6), 6);
    CHECK_LONG(pread(w, buf, sizeof(buf), 0), 19);
    CHECK(memcmp(buf, "parent\nchild\nafter\n", 19) == 0);
    close(w);
    close(dir);

    /* exec keeps a non-CLOEXEC snapshot fd readable, drops CLOEXEC ones */
    int keep = open("/srv/data/sub/a.txt", O_RDONLY);
    int drop = open("/srv/data/sub/b.txt", O_RDONLY | O_CLOEXEC);
    pid = fork();
    if (pid == 0) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd),
                 "read l <&%d && [ \"$l\" = aaa ] && ! (exec 2>/dev/null; : <&%d)",
                 keep, drop);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    CHECK_LONG(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return lt_done("lt_fork");
}
