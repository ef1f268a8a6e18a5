/* The supervisor itself dies (faults.sh svdeath): after "ready" the script
 * kills the shunt-supervisor process serving this program (SIGKILL) and
 * writes a line on stdin.  The kernel then answers every call the filter
 * sends to user space with ENOSYS: the one pending at that moment (a
 * recvfrom waiting in the supervisor, in a thread) and every later one,
 * in this process and in a child forked afterwards; calls the filter
 * does not send run as before.  Nothing hangs.
 *   sf_svdeath IPV4 PORT LOCALFILE   (LOCALFILE holds "local content") */
#include "sf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static struct sockaddr_in dst;
static int pending_sock = -1;
static volatile int pending_errno;

static void *pending(void *arg)
{
    (void)arg;
    char buf[64];
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    ssize_t r = recvfrom(pending_sock, buf, sizeof(buf), 0,
                         (struct sockaddr *)&from, &fl);
    pending_errno = r < 0 ? errno : -1;
    return NULL;
}

/* The calls the filter sends, after the supervisor died: -1/ENOSYS. */
static void enosys_checks(const char *local)
{
    struct stat st;
    struct utsname u;
    char buf[64];
    CHECK_ERR(stat(local, &st), ENOSYS);
    CHECK_ERR(open(local, O_RDONLY), ENOSYS);
    CHECK_ERR(stat(SF_HELLO, &st), ENOSYS);
    CHECK_ERR(open(SF_HELLO, O_RDONLY), ENOSYS);
    CHECK_ERR(access(local, R_OK), ENOSYS);
    CHECK_ERR(readlink("/proc/self/exe", buf, sizeof(buf)), ENOSYS);
    CHECK(getcwd(buf, sizeof(buf)) == NULL && errno == ENOSYS);
    CHECK_ERR(uname(&u), ENOSYS);
    CHECK_ERR(fstat(0, &st), ENOSYS);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sf_svdeath IPV4 PORT LOCALFILE\n");
        return 2;
    }
    alarm(60);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1)
        return 2;
    const char *local = argv[3];
    char buf[256];
    /* under a live supervisor */
    CHECK_LONG(sf_slurp(SF_HELLO, buf, sizeof(buf)), strlen(SF_HELLO_TEXT));
    CHECK_LONG(sf_slurp(local, buf, sizeof(buf)), 13);
    int held = open(local, O_RDONLY);
    CHECK(held >= 0);
    pending_sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(pending_sock >= 0);
    CHECK_LONG(sendto(pending_sock, "ping", 4, 0, (struct sockaddr *)&dst,
                      sizeof(dst)), 4);
    pthread_t t;
    CHECK_LONG(pthread_create(&t, NULL, pending, NULL), 0);
    usleep(300 * 1000); /* the recvfrom is in the supervisor's hands */
    sf_say("ready");
    if (sf_wait_word() < 0) {
        fprintf(stderr, "sf_svdeath: no word from the script\n");
        return 1;
    }
    double t0 = sf_now();
    /* the pending call was answered by the kernel */
    CHECK_LONG(pthread_join(t, NULL), 0);
    CHECK_LONG(pending_errno, ENOSYS);
    enosys_checks(local);
    /* what the filter does not send goes on */
    CHECK(getppid() > 0);
    CHECK_LONG(pread(held, buf, 5, 0), 5);
    CHECK(memcmp(buf, "local", 5) == 0);
    close(held);
    /* a child forked now inherits the filter, and the same answers */
    pid_t c = fork();
    if (c == 0) {
        enosys_checks(local);
        _exit(lt_failures ? 1 : 0);
    }
    int cst = -1;
    CHECK_LONG(waitpid(c, &cst, 0), c);
    CHECK_LONG(cst, 0);
    CHECK(sf_now() - t0 < 5.0);
    return lt_done("sf_svdeath");
}
