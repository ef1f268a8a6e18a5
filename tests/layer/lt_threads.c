/* End-to-end: 16 threads x 1000 remote stats and open+read+close, every
 * answer checked (per-thread connections, no mixed-up replies). */
#include "lt.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS 16
#define ROUNDS 1000

static const struct {
    const char *path, *content;
} files[] = {
    {"/srv/data/hello.txt", "hello from the target\n"},
    {"/srv/data/sub/a.txt", "aaa\n"},
    {"/srv/data/sub/b.txt", "bbbbbb\n"},
    {"/srv/data/sub/deeper/c.txt", "c\n"},
};

static atomic_int wrong;

static void *worker(void *arg)
{
    long id = (long)arg;
    char buf[64];
    for (int i = 0; i < ROUNDS; i++) {
        size_t k = (size_t)(id + i) % (sizeof(files) / sizeof(files[0]));
        size_t len = strlen(files[k].content);
        struct stat st;
        if (stat(files[k].path, &st) != 0 || st.st_size != (off_t)len) {
            fprintf(stderr, "thread %ld round %d: stat %s wrong\n", id, i,
                    files[k].path);
            atomic_fetch_add(&wrong, 1);
            continue;
        }
        int fd = open(files[k].path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
        if (fd >= 0)
            close(fd);
        if (n != (ssize_t)len || memcmp(buf, files[k].content, len) != 0) {
            fprintf(stderr, "thread %ld round %d: read %s wrong (%zd)\n", id,
                    i, files[k].path, n);
            atomic_fetch_add(&wrong, 1);
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_LONG(atomic_load(&wrong), 0);
    return lt_done("lt_threads");
}
