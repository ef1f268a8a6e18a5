/* Issue 13 §2.3: the target restarted under a running program.
 *   restart_write
 * Opens /srv/rw/restart.txt for writing and /srv/data (a directory), writes
 * a line, prints "ready" and waits for a line on stdin (the caller runs
 * `harness down` and `harness up` meanwhile).  Then every call on the old
 * fds and every new remote call must fail with EIO: before the fix the
 * writes succeeded into the deleted old root and reads gave ENOENT. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int bad;

static void want_eio(const char *what, long r)
{
    if (r != -1 || errno != EIO) {
        fprintf(stderr, "%s: got %ld (%s), want -1/EIO\n", what, r,
                r < 0 ? strerror(errno) : "success");
        bad++;
    }
}

int main(void)
{
    int w = open("/srv/rw/restart.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int d = open("/srv/data", O_RDONLY | O_DIRECTORY);
    if (w < 0 || d < 0 || write(w, "before\n", 7) != 7) {
        perror("setup");
        return 2;
    }
    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return 2;
    int lost = 0;
    for (int i = 0; i < 50; i++) {
        errno = 0;
        long r = write(w, "after\n", 6);
        if (r == 6)
            lost++;
        want_eio("write on the old fd", r);
    }
    struct stat st;
    want_eio("fstat of the old fd", fstat(w, &st));
    want_eio("open of a remote file", open("/srv/data/hello.txt", O_RDONLY));
    want_eio("stat of a remote file", stat("/srv/data/hello.txt", &st));
    want_eio("openat relative to the old dir fd",
             openat(d, "hello.txt", O_RDONLY));
    printf("restart_write: %d of 50 writes reported success after the "
           "restart; %d checks failed\n", lost, bad);
    return bad ? 1 : 0;
}
