/* Issue 13 §2: a signal handler that uses a remote file (or a cluster
 * name) while the program's threads are inside glibc's malloc and free.
 *   sig_malloc file PATH CONTENT N    open/read/close/stat PATH, whose
 *                                     content is CONTENT + \n
 *   sig_malloc dns NAME IPV4 N        getaddrinfo(NAME) gives IPV4 first
 * Two threads malloc and free as fast as they can (sizes in and out of
 * glibc's per-thread caches, so that most calls take an arena lock) while
 * a SIGALRM timer (setitimer, 100 us) interrupts them; the handler does
 * the remote work.  Passes when N handler runs completed, every one
 * correct.  Before the layer had its own allocator, the handler's open()
 * called glibc's malloc, which waited forever on the arena lock its own
 * thread held: the run hung (the caller's timeout fails it). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int dns_mode;
static const char *target, *want;
static size_t want_len;
static struct in_addr want_ip;
static volatile sig_atomic_t h_ok, h_bad, h_last_errno, stop;
static volatile sig_atomic_t ticks;
static volatile long allocs[2];

static int file_work(void)
{
    char buf[256];
    int fd = open(target, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n != (ssize_t)want_len || memcmp(buf, want, want_len) != 0) {
        errno = 0;
        return -1;
    }
    struct stat st;
    if (stat(target, &st) < 0)
        return -1;
    if (st.st_size != (off_t)want_len) {
        errno = 0;
        return -1;
    }
    return 0;
}

static int dns_work(void)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(target, NULL, &hints, &res);
    if (g != 0) {
        errno = g == EAI_SYSTEM ? errno : 1000 - g;
        return -1;
    }
    int ok = res && res->ai_family == AF_INET &&
             ((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr.s_addr ==
                 want_ip.s_addr;
    freeaddrinfo(res);
    if (!ok)
        errno = 0;
    return ok ? 0 : -1;
}

/* Remote work on every 2nd tick: the timer is due again when a handler
 * returns, and the threads must get back into malloc between handlers. */
static void on_alarm(int sig)
{
    (void)sig;
    if (ticks++ % 2)
        return;
    int saved = errno;
    if ((dns_mode ? dns_work() : file_work()) == 0) {
        h_ok++;
    } else {
        h_bad++;
        h_last_errno = errno;
    }
    errno = saved;
}

static void *churn(void *arg)
{
    static const size_t sizes[] = {24, 200, 1500, 5000, 40000, 3000, 90, 12000};
    long id = (long)arg;
    void *slot[64] = {0};
    unsigned x = 2463534242u + (unsigned)id;
    long n = 0;
    while (!stop) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        unsigned i = x % 64;
        free(slot[i]);
        slot[i] = malloc(sizes[(x >> 8) % 8]);
        if (slot[i])
            *(volatile char *)slot[i] = 1;
        n++;
    }
    for (int i = 0; i < 64; i++)
        free(slot[i]);
    allocs[id] = n;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[1], "file") && strcmp(argv[1], "dns"))) {
        fprintf(stderr, "usage: sig_malloc file PATH CONTENT N | dns NAME IPV4 N\n");
        return 2;
    }
    dns_mode = strcmp(argv[1], "dns") == 0;
    target = argv[2];
    static char line[256];
    if (dns_mode) {
        if (inet_pton(AF_INET, argv[3], &want_ip) != 1) {
            fprintf(stderr, "sig_malloc: bad address %s\n", argv[3]);
            return 2;
        }
    } else {
        snprintf(line, sizeof(line), "%s\n", argv[3]);
        want = line;
        want_len = strlen(want);
    }
    long need = atol(argv[4]);
    /* One run outside any handler first: a wrong setup fails here, not as
     * N bad handler runs. */
    if ((dns_mode ? dns_work() : file_work()) != 0) {
        fprintf(stderr, "sig_malloc: %s %s fails outside a handler (errno %d)\n",
                argv[1], target, errno);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    pthread_t th[2];
    for (long i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, churn, (void *)i) != 0) {
            perror("pthread_create");
            return 1;
        }
    /* The handler lands on the two threads only. */
    sigset_t al;
    sigemptyset(&al);
    sigaddset(&al, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &al, NULL);
    struct itimerval it = {.it_interval = {0, 100}, .it_value = {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (h_ok + h_bad < need && t.tv_sec - t0.tv_sec < 240);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    printf("sig_malloc %s: %d ticks; handler: %d ok, %d bad (last errno %d); "
           "%ld + %ld mallocs in %ld s\n",
           argv[1], (int)ticks, (int)h_ok, (int)h_bad, (int)h_last_errno,
           allocs[0], allocs[1], (long)(t.tv_sec - t0.tv_sec));
    return h_bad == 0 && h_ok >= need ? 0 : 1;
}
