/* Shared by the supervisor's fault programs (faults.sh): the fixture's
 * remote files (faults.yaml), a clock, whole-file reads, and the lines the
 * script and a program trade on stdin/stdout.  Checks are tests/layer/lt.h's. */
#ifndef SHUNT_SF_H
#define SHUNT_SF_H

#include "lt.h"

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SF_HELLO "/srv/sf/hello.txt"
#define SF_HELLO_TEXT "hello from the target\n"
#define SF_NFILES 10

/* /srv/sf/t/fI.txt of faults.yaml and its content. */
static inline void sf_remote(int i, char *path, size_t plen, char *text,
                             size_t tlen)
{
    snprintf(path, plen, "/srv/sf/t/f%d.txt", i);
    int k = snprintf(text, tlen, "remote file %d%s", i, i ? " " : "");
    for (int d = 0; d < i && (size_t)k + 2 < tlen; d++)
        text[k++] = '-';
    text[k++] = '\n';
    text[k] = 0;
}

static inline double sf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file into buf (NUL-terminated): its length, or -errno. */
static inline long sf_slurp(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got == n - 1)
            break;
    }
    close(fd);
    buf[got] = 0;
    return (long)got;
}

/* One line to the script (stdout, unbuffered). */
static inline void sf_say(const char *line)
{
    size_t n = strlen(line);
    if (write(1, line, n) != (ssize_t)n || write(1, "\n", 1) != 1)
        _exit(3);
}

/* Waits for the script's word on stdin (read(2): never intercepted). */
static inline int sf_wait_word(void)
{
    char c;
    for (;;) {
        ssize_t r = read(0, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != 1)
            return -1;
        if (c == '\n')
            return 0;
    }
}

#endif
