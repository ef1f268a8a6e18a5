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
    long fd = syscall(SYS_openat, AT_FDCWD, p, O_RDONLY);
    printf("raw: %s\n", fd >= 0 ? "opened" : strerror(errno));
    return 0;
}
