/* Unit test of the layer's allocator (layer/lfalloc.c): sizes, alignment,
 * realloc and calloc across classes and the large path; threads that
 * allocate while a 50 us timer's handler allocates in the middle of their
 * calls; a fork while they run (the child allocates at once); and the
 * memory 100,000 small blocks take.  Every block carries its owner's
 * pattern, checked before it is freed: a block handed out twice fails. */
#include "lfalloc.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* lfalloc.c's raw syscall (layer/sys.c in the library). */
long layer_sys(long nr, long a, long b, long c, long d, long e, long f);
long layer_sys(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
                       "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

static int failures;
#define CHECK(e)                                                           \
    do {                                                                   \
        if (!(e)) {                                                        \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,         \
                    __LINE__, #e);                                         \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static void fill(void *p, size_t n, unsigned char v) { memset(p, v, n); }

static int holds(const void *p, size_t n, unsigned char v)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != v)
            return 0;
    return 1;
}

static void test_sizes(void)
{
    static const size_t extra[] = {65519, 65520, 65521, 70000, 1 << 20,
                                   (1 << 20) + 1, 8u << 20};
    for (size_t n = 0; n < 80000; n += n < 300 ? 1 : 97) {
        unsigned char *p = shunt_al_malloc(n);
        CHECK(p && ((uintptr_t)p & 15) == 0);
        if (!p)
            continue;
        fill(p, n, 0xa5);
        CHECK(holds(p, n, 0xa5));
        shunt_al_free(p);
    }
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        unsigned char *p = shunt_al_malloc(extra[i]);
        CHECK(p && ((uintptr_t)p & 15) == 0);
        if (p) {
            fill(p, extra[i], 0x5a);
            CHECK(holds(p, extra[i], 0x5a));
        }
        shunt_al_free(p);
    }
    CHECK(shunt_al_malloc((size_t)-1) == NULL);
    CHECK(shunt_al_calloc((size_t)1 << 40, (size_t)1 << 40) == NULL);
}

static void test_realloc_calloc(void)
{
    /* grow through every path: small -> small, small -> large, large ->
     * large (mremap), then shrink back to small; content kept */
    size_t steps[] = {10, 100, 1000, 30000, 65000, 200000, 5000000, 100, 3};
    unsigned char *p = NULL;
    size_t have = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        unsigned char *q = shunt_al_realloc(p, steps[i]);
        CHECK(q != NULL);
        if (!q)
            return;
        size_t keep = have < steps[i] ? have : steps[i];
        for (size_t k = 0; k < keep; k++)
            if (q[k] != (unsigned char)(k * 7)) {
                CHECK(!"realloc lost content");
                break;
            }
        for (size_t k = 0; k < steps[i]; k++)
            q[k] = (unsigned char)(k * 7);
        p = q;
        have = steps[i];
    }
    CHECK(shunt_al_realloc(p, 0) == NULL);
    /* a reused block comes back zeroed from calloc */
    for (size_t n = 8; n < 100000; n *= 3) {
        unsigned char *a = shunt_al_malloc(n);
        fill(a, n, 0xff);
        shunt_al_free(a);
        unsigned char *b = shunt_al_calloc(1, n);
        CHECK(b && holds(b, n, 0));
        shunt_al_free(b);
    }
    shunt_al_free(NULL);
}

/* ---- threads, a handler that allocates, fork -------------------------- */
#define SLOTS 128
static volatile int stop;
static volatile sig_atomic_t h_runs, h_bad;

static size_t pick(unsigned *x)
{
    static const size_t sizes[] = {1, 16, 24, 100, 500, 2000, 9000, 70000};
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return sizes[(*x >> 4) % 8] + (*x >> 12) % 64;
}

static void on_alarm(int sig)
{
    (void)sig;
    void *p[4];
    for (int i = 0; i < 4; i++) {
        size_t n = 8 + (size_t)i * 700;
        p[i] = shunt_al_malloc(n);
        if (!p[i]) {
            h_bad++;
            continue;
        }
        fill(p[i], n, (unsigned char)(0xe0 + i));
    }
    for (int i = 0; i < 4; i++)
        if (p[i]) {
            if (!holds(p[i], 8 + (size_t)i * 700, (unsigned char)(0xe0 + i)))
                h_bad++;
            shunt_al_free(p[i]);
        }
    h_runs++;
}

typedef struct {
    int id;
    long ops, bad;
} churn_t;

static void *churn(void *arg)
{
    churn_t *c = arg;
    void *slot[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    unsigned x = 0x9e3779b9u * (unsigned)(c->id + 1);
    unsigned char v = (unsigned char)(c->id + 1);
    while (!stop) {
        size_t n = pick(&x);
        unsigned i = x % SLOTS;
        if (slot[i]) {
            if (!holds(slot[i], len[i], v))
                c->bad++;
            slot[i] = (x & 1024) ? shunt_al_realloc(slot[i], n)
                                 : (shunt_al_free(slot[i]), shunt_al_malloc(n));
        } else {
            slot[i] = shunt_al_malloc(n);
        }
        len[i] = n;
        if (slot[i])
            fill(slot[i], n, v);
        else
            c->bad++;
        c->ops++;
    }
    for (int i = 0; i < SLOTS; i++) {
        if (slot[i] && !holds(slot[i], len[i], v))
            c->bad++;
        shunt_al_free(slot[i]);
    }
    return NULL;
}

static void test_threads_signals_fork(void)
{
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    enum { NT = 3 };
    pthread_t th[NT];
    churn_t c[NT];
    for (int i = 0; i < NT; i++) {
        c[i] = (churn_t){.id = i};
        pthread_create(&th[i], NULL, churn, &c[i]);
    }
    struct itimerval it = {.it_interval = {0, 50}, .it_value = {0, 50}};
    setitimer(ITIMER_REAL, &it, NULL);
    usleep(300 * 1000);
    /* The child inherits whatever state the threads left the free lists
     * in: it must allocate at once, without waiting for anyone. */
    for (int f = 0; f < 20; f++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10); /* a hang kills the child: the parent sees it */
            unsigned x = 77;
            for (int i = 0; i < 20000; i++) {
                size_t n = pick(&x);
                void *p = shunt_al_malloc(n);
                if (!p)
                    _exit(3);
                fill(p, n, 1);
                shunt_al_free(p);
            }
            _exit(0);
        }
        int st = 0;
        CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
              WEXITSTATUS(st) == 0);
        usleep(20 * 1000);
    }
    usleep(300 * 1000);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    stop = 1;
    long ops = 0, bad = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        ops += c[i].ops;
        bad += c[i].bad;
    }
    printf("lfalloc: %ld thread ops, %d handler runs (%d bad), 20 forks\n",
           ops, (int)h_runs, (int)h_bad);
    CHECK(bad == 0);
    CHECK(h_bad == 0);
    CHECK(h_runs > 100);
    CHECK(ops > 10000);
}

static void test_memory(void)
{
    enum { N = 100000 };
    static void *p[N];
    shunt_al_stats_t s0, s1, s2;
    shunt_al_stats(&s0);
    for (int i = 0; i < N; i++)
        p[i] = shunt_al_malloc(100); /* class 128 with the header */
    shunt_al_stats(&s1);
    for (int i = 0; i < N; i++)
        shunt_al_free(p[i]);
    for (int i = 0; i < N; i++)
        p[i] = shunt_al_malloc(100);
    shunt_al_stats(&s2);
    for (int i = 0; i < N; i++)
        shunt_al_free(p[i]);
    size_t grew = s1.chunk_bytes - s0.chunk_bytes;
    printf("lfalloc: %d blocks of 100 bytes took %zu KiB of chunks; "
           "again after freeing them: %zu KiB more\n",
           N, grew / 1024, (s2.chunk_bytes - s1.chunk_bytes) / 1024);
    CHECK(grew <= (size_t)N * 128 + 2 * 16384);
    CHECK(s2.chunk_bytes == s1.chunk_bytes); /* all reused */
    CHECK(s2.large_bytes == s0.large_bytes);
}

int main(void)
{
    test_sizes();
    test_realloc_calloc();
    test_memory();
    test_threads_signals_fork();
    if (failures) {
        fprintf(stderr, "test_lfalloc: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_lfalloc: ok\n");
    return 0;
}
