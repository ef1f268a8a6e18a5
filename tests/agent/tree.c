/* Builds the test tree the file tests serve and mirror. */
#include "tree.h"

#include "fixture.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void mk(const char *dir, const char *rel)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    if (mkdir(p, 0755) < 0)
        abort();
}

static void ln(const char *dir, const char *target, const char *rel)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    if (symlink(target, p) < 0)
        abort();
}

void build_tree(const char *dir)
{
    char p[4096];
    put_file(dir, "hello.txt", "hello world\n");
    mk(dir, "sub");
    put_file(dir, "sub/inner.txt", "inner\n");
    mk(dir, "sub/deep");
    put_file(dir, "sub/deep/x", "x");
    mk(dir, "emptydir");
    ln(dir, "hello.txt", "link-rel");
    ln(dir, "/sub/inner.txt", "link-abs");
    ln(dir, "nowhere", "dangling");
    ln(dir, "../hello.txt", "sub/up");
    snprintf(p, sizeof(p), "%s/fifo", dir);
    if (mkfifo(p, 0644) < 0)
        abort();
    snprintf(p, sizeof(p), "%s/big.bin", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    uint8_t *b = malloc(BIG_SIZE);
    for (uint64_t i = 0; i < BIG_SIZE; i++)
        b[i] = pattern_byte(i);
    if (write(fd, b, BIG_SIZE) != (ssize_t)BIG_SIZE)
        abort();
    free(b);
    close(fd);
    mk(dir, "many");
    for (int i = 0; i < MANY_COUNT; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "many/f%03d", i);
        put_file(dir, rel, "");
    }
}
