/* The agent dies mid-run (faults.sh agentdeath): after "ready" the script
 * kills the session's shunt-agent with SIGKILL and then writes a line on
 * stdin.  Remote calls then fail with EIO, promptly; local ones go on; an
 * fd fetched before stays readable; the program exits normally.
 *   sf_agentdeath LOCALFILE   (LOCALFILE holds "local content") */
#include "sf.h"

#include <sys/stat.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sf_agentdeath LOCALFILE\n");
        return 2;
    }
    alarm(60);
    struct stat st;
    char buf[256];
    CHECK_LONG(stat(SF_HELLO, &st), 0);
    CHECK_LONG(st.st_size, strlen(SF_HELLO_TEXT));
    CHECK_LONG(sf_slurp(SF_HELLO, buf, sizeof(buf)), strlen(SF_HELLO_TEXT));
    CHECK_STR(buf, SF_HELLO_TEXT);
    int held = open(SF_HELLO, O_RDONLY); /* a snapshot: stays readable */
    CHECK(held >= 0);
    sf_say("ready");
    if (sf_wait_word() < 0) {
        fprintf(stderr, "sf_agentdeath: no word from the script\n");
        return 1;
    }
    double t1 = sf_now();
    CHECK_ERR(stat(SF_HELLO, &st), EIO);
    CHECK_ERR(open("/srv/sf/sub/a.txt", O_RDONLY), EIO);
    CHECK_ERR(access("/srv/sf/sub/a.txt", R_OK), EIO);
    double took = sf_now() - t1;
    if (took > 5.0) /* prompt: the RPC timeout is far longer */
        fprintf(stderr, "sf_agentdeath: remote calls took %.1f s\n", took);
    CHECK(took <= 5.0);
    /* local work goes on */
    CHECK_LONG(sf_slurp(argv[1], buf, sizeof(buf)), 13);
    CHECK_STR(buf, "local content");
    CHECK_LONG(stat(argv[1], &st), 0);
    CHECK_LONG(st.st_size, 13);
    /* what was fetched before stays readable */
    CHECK_LONG(pread(held, buf, 5, 0), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_LONG(fstat(held, &st), 0);
    CHECK_LONG(st.st_size, strlen(SF_HELLO_TEXT));
    close(held);
    return lt_done("sf_agentdeath");
}
