/* Callers killed while their call is pending in the supervisor (faults.sh
 * killed).  A recvfrom with a source address on a UDP socket that sent to
 * a remote address (through the proxy's relay) waits inside the
 * supervisor (supervisor/net.c, sv_recvfrom); nothing ever answers it.
 *   threads: ROUNDS rounds of THREADS threads each block there, then each
 *            gets SIGUSR1, whose handler ends the thread (SYS_exit); every
 *            thread must end and be joined;
 *   children: ROUNDS children each block there and get SIGKILL;
 * then remote and local calls still work, promptly: a killed call that
 * kept its worker busy would leave the pool (64 workers) exhausted after
 * more than 64 of them.
 *   sf_killed IPV4 PORT ROUNDS THREADS */
#include "sf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static struct sockaddr_in dst;
static atomic_int ready;

static void end_thread(int sig)
{
    (void)sig;
    syscall(SYS_exit, 0); /* this thread only; pthread_join sees it go */
}

/* Blocks in recvfrom until killed; returns only on an error. */
static int wait_for_nothing(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (sendto(s, "ping", 4, 0, (struct sockaddr *)&dst, sizeof(dst)) != 4)
        return -errno;
    atomic_fetch_add(&ready, 1);
    char buf[64];
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    ssize_t r = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from,
                         &fl);
    int e = errno;
    close(s);
    return r < 0 ? -e : (int)r;
}

static void *blocker(void *arg)
{
    (void)arg;
    int r = wait_for_nothing();
    fprintf(stderr, "sf_killed: recvfrom returned %d\n", r);
    return (void *)(intptr_t)1; /* only a thread that was not killed */
}

/* Whether thread tid of process pid is in system call nr, waiting for
 * the supervisor's answer (the kernel's wait in
 * seccomp_do_user_notification), not in the kernel's own recvfrom. */
static int in_call(pid_t pid, pid_t tid, int nr)
{
    char p[64], line[128];
    snprintf(p, sizeof(p), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    long n = sf_slurp(p, line, sizeof(line));
    if (n <= 0 || atoi(line) != nr)
        return 0;
    snprintf(p, sizeof(p), "/proc/%d/task/%d/wchan", (int)pid, (int)tid);
    n = sf_slurp(p, line, sizeof(line));
    return n > 0 && strstr(line, "seccomp") != NULL;
}

typedef struct {
    pthread_t t;
    pid_t tid;
} blk_t;

static void *blocker_tid(void *arg)
{
    blk_t *b = arg;
    b->tid = (pid_t)syscall(SYS_gettid);
    return blocker(NULL);
}

static int wait_ready(int want, double limit)
{
    double t0 = sf_now();
    while (atomic_load(&ready) < want) {
        if (sf_now() - t0 > limit)
            return -1;
        usleep(1000);
    }
    return 0;
}

static void after_checks(const char *when)
{
    double t0 = sf_now();
    char buf[256];
    struct stat st;
    CHECK_LONG(sf_slurp(SF_HELLO, buf, sizeof(buf)), strlen(SF_HELLO_TEXT));
    CHECK_STR(buf, SF_HELLO_TEXT);
    CHECK_LONG(stat("/srv/sf/sub/a.txt", &st), 0);
    CHECK_LONG(st.st_size, 4);
    CHECK_LONG(stat("/proc/self/exe", &st), 0);
    CHECK(sf_slurp("/proc/self/comm", buf, sizeof(buf)) > 0);
    double took = sf_now() - t0;
    if (took > 2.0)
        fprintf(stderr, "sf_killed: calls after %s took %.1f s\n", when, took);
    CHECK(took <= 2.0);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: sf_killed IPV4 PORT ROUNDS THREADS\n");
        return 2;
    }
    alarm(120);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1)
        return 2;
    int rounds = atoi(argv[3]), nt = atoi(argv[4]);
    if (rounds < 1 || nt < 1 || nt > 256)
        return 2;
    struct sigaction sa = {.sa_handler = end_thread};
    sigaction(SIGUSR1, &sa, NULL);
    after_checks("start");

    /* threads */
    blk_t *b = calloc((size_t)nt, sizeof(*b));
    if (!b)
        return 1;
    int killed = 0;
    for (int r = 0; r < rounds; r++) {
        atomic_store(&ready, 0);
        for (int i = 0; i < nt; i++) {
            b[i].tid = 0;
            CHECK_LONG(pthread_create(&b[i].t, NULL, blocker_tid, &b[i]), 0);
        }
        CHECK_LONG(wait_ready(nt, 10), 0);
        /* the recvfroms reach the supervisor at once; give it time to
         * take them all, then see that each thread is still in one */
        usleep(300 * 1000);
        for (int i = 0; i < nt; i++)
            if (!in_call(getpid(), b[i].tid, SYS_recvfrom))
                fprintf(stderr, "round %d thread %d: not waiting for the "
                                "supervisor in recvfrom\n", r, i);
        for (int i = 0; i < nt; i++)
            CHECK(in_call(getpid(), b[i].tid, SYS_recvfrom));
        for (int i = 0; i < nt; i++)
            CHECK_LONG(pthread_kill(b[i].t, SIGUSR1), 0);
        for (int i = 0; i < nt; i++) {
            void *ret = (void *)(intptr_t)-1;
            CHECK_LONG(pthread_join(b[i].t, &ret), 0);
            if (ret == NULL) /* SYS_exit leaves the return value unset */
                killed++;
        }
    }
    printf("sf_killed: %d threads killed in a pending recvfrom\n", killed);
    CHECK_LONG(killed, rounds * nt);
    after_checks("killed threads");

    /* child processes, SIGKILL */
    int reaped = 0;
    for (int r = 0; r < rounds; r++) {
        int p[2];
        if (pipe(p) != 0)
            return 1;
        pid_t c = fork();
        if (c == 0) {
            close(p[0]);
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            if (s < 0 ||
                sendto(s, "ping", 4, 0, (struct sockaddr *)&dst, sizeof(dst)) != 4)
                _exit(4);
            if (write(p[1], "r", 1) != 1)
                _exit(5);
            char buf[64];
            struct sockaddr_in from;
            socklen_t fl = sizeof(from);
            recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
            _exit(6);
        }
        close(p[1]);
        char x;
        CHECK_LONG(read(p[0], &x, 1), 1);
        close(p[0]);
        usleep(300 * 1000);
        CHECK(in_call(c, c, SYS_recvfrom));
        kill(c, SIGKILL);
        int st = 0;
        CHECK_LONG(waitpid(c, &st, 0), c);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
            reaped++;
        else
            fprintf(stderr, "child %d: status %#x\n", r, st);
    }
    printf("sf_killed: %d children killed in a pending recvfrom\n", reaped);
    CHECK_LONG(reaped, rounds);
    after_checks("killed children");
    free(b);
    return lt_done("sf_killed");
}
