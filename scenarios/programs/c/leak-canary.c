/* The leak canary: reads a remote file through libc (the layer forwards it:
 * the host never sees the path) and opens it again with a raw syscall the
 * layer cannot see (the host does: a leak the recorder must report).
 *   leak-canary PATH
 * (scenarios/leak-canary.yaml; tests/recorder/canary_test.sh
 * runs it with `harness exec --record`.) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A system call the layer cannot see: the syscall instruction itself
 * (libc's syscall() is hooked and served like the named calls). */
static long raw_syscall3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: canary PATH\n");
        return 2;
    }
    const char *p = argv[1];
    char line[256];
    FILE *f = fopen(p, "r");
    if (!f || !fgets(line, sizeof(line), f)) {
        printf("libc: cannot read %s: %s\n", p, strerror(errno));
        return 1;
    }
    fclose(f);
    printf("libc: %s", line);
    long fd = raw_syscall3(SYS_openat, AT_FDCWD, (long)p, O_RDONLY);
    printf("raw: %s\n", fd >= 0 ? "opened" : strerror(errno));
    return 0;
}
