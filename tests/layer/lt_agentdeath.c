/* The agent dies mid-run: remote calls fail with EIO promptly, local calls
 * go on, and the program finishes normally.  resilience.sh kills the agent
 * after "ready" and then creates the flag file named in argv[1]. */
#include "lt.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: lt_agentdeath FLAGFILE LOCALFILE\n");
        return 2;
    }
    struct stat st;
    CHECK_LONG(stat("/srv/data/hello.txt", &st), 0);
    int held = open("/srv/data/hello.txt", O_RDONLY); /* a snapshot: stays readable */
    CHECK(held >= 0);
    if (write(1, "ready\n", 6) != 6)
        return 1;
    double t0 = now_s();
    while (stat(argv[1], &st) != 0) { /* a local path: never remote */
        if (now_s() - t0 > 30) {
            fprintf(stderr, "lt_agentdeath: no flag file\n");
            return 1;
        }
        usleep(10000);
    }
    double t1 = now_s();
    CHECK_ERR(stat("/srv/data/hello.txt", &st), EIO);
    CHECK_ERR(open("/srv/data/sub/a.txt", O_RDONLY), EIO);
    CHECK(now_s() - t1 < 5.0); /* prompt: the RPC timeout is far longer */
    /* local work goes on */
    char buf[64];
    int fd = open(argv[2], O_RDONLY);
    CHECK(fd >= 0);
    CHECK_LONG(read(fd, buf, sizeof(buf)), 13);
    close(fd);
    /* what was fetched before stays readable */
    CHECK_LONG(pread(held, buf, 5, 0), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    close(held);
    return lt_done("lt_agentdeath");
}
