/* Many threads making remote and local calls at once under the supervisor
 * (faults.sh threads): every thread opens, reads and stats the fixture's
 * remote files and local files the script wrote, all starting together,
 * and checks every byte and size.
 *   sf_threads LOCALDIR THREADS ROUNDS
 * LOCALDIR holds l0.txt..l9.txt with "local file I\n". */
#include "sf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

static const char *localdir;
static int rounds;
static pthread_barrier_t start;
static atomic_long done, errors;

static void bad(int t, const char *what, const char *path, long got, long want)
{
    if (atomic_fetch_add(&errors, 1) < 20)
        fprintf(stderr, "thread %d: %s %s: got %ld, want %ld\n", t, what, path,
                got, want);
}

static void *run(void *arg)
{
    int t = (int)(intptr_t)arg;
    char rpath[64], rtext[64], lpath[4096], ltext[64], buf[256];
    struct stat st;
    pthread_barrier_wait(&start);
    for (int r = 0; r < rounds; r++) {
        int i = (t + r) % SF_NFILES;
        sf_remote(i, rpath, sizeof(rpath), rtext, sizeof(rtext));
        long want = (long)strlen(rtext);
        long n = sf_slurp(rpath, buf, sizeof(buf));
        if (n != want || strcmp(buf, rtext) != 0)
            bad(t, "read", rpath, n, want);
        if (stat(rpath, &st) != 0 || st.st_size != want)
            bad(t, "stat", rpath, -errno, want);
        int fd = open(rpath, O_RDONLY);
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_size != want ||
            pread(fd, buf, 6, 0) != 6 || memcmp(buf, "remote", 6) != 0)
            bad(t, "open+fstat+pread", rpath, fd < 0 ? -errno : st.st_size,
                want);
        if (fd >= 0)
            close(fd);
        snprintf(lpath, sizeof(lpath), "%s/l%d.txt", localdir, i);
        snprintf(ltext, sizeof(ltext), "local file %d\n", i);
        want = (long)strlen(ltext);
        n = sf_slurp(lpath, buf, sizeof(buf));
        if (n != want || strcmp(buf, ltext) != 0)
            bad(t, "read", lpath, n, want);
        if (stat(lpath, &st) != 0 || st.st_size != want)
            bad(t, "stat", lpath, -errno, want);
        atomic_fetch_add(&done, 1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sf_threads LOCALDIR THREADS ROUNDS\n");
        return 2;
    }
    alarm(120);
    localdir = argv[1];
    int nt = atoi(argv[2]);
    rounds = atoi(argv[3]);
    if (nt < 1 || nt > 1000 || rounds < 1)
        return 2;
    pthread_t *th = calloc((size_t)nt, sizeof(*th));
    CHECK(th != NULL);
    if (!th)
        return 1;
    pthread_barrier_init(&start, NULL, (unsigned)nt);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 128 * 1024);
    int started = 0;
    for (int t = 0; t < nt; t++) {
        int e = pthread_create(&th[t], &at, run, (void *)(intptr_t)t);
        CHECK_LONG(e, 0);
        if (e)
            break;
        started++;
    }
    if (started != nt) /* the barrier would never open */
        return lt_done("sf_threads");
    double t0 = sf_now();
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    printf("sf_threads: %d threads x %d rounds (%ld done) in %.2f s\n", nt,
           rounds, (long)done, sf_now() - t0);
    CHECK_LONG(done, (long)nt * rounds);
    CHECK_LONG(errors, 0);
    free(th);
    return lt_done("sf_threads");
}
