/* Writes by policy: under a read_write path the file is created in the
 * target; under a read_only path the write stays on this host, so the
 * target's copy must be unchanged.  Prints what it can read back. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        printf("open %s for writing: %s\n", path, strerror(errno));
        return;
    }
    ssize_t w = write(fd, text, strlen(text));
    printf("wrote %zd bytes to %s\n", w, path);
    close(fd);
}

static void show(const char *path)
{
    char buf[256];
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("read %s: %s\n", path, strerror(errno));
        return;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    printf("read %s: %s", path, buf);
}

int main(void)
{
    show("/srv/out/seed.txt");
    put("/srv/out/result.txt", "result from the program\n");
    show("/srv/out/result.txt");
    FILE *f = fopen("/srv/out/log.txt", "a");
    if (f) {
        fprintf(f, "appended line\n");
        fclose(f);
    }
    show("/srv/out/log.txt");
    /* the reference run comes first in the same target: the directory
     * may exist already */
    if (mkdir("/srv/out/sub", 0755) == 0 || errno == EEXIST)
        printf("mkdir /srv/out/sub: ok\n");
    else
        printf("mkdir /srv/out/sub: %s\n", strerror(errno));
    put("/srv/out/sub/inner.txt", "inner\n");
    if (rename("/srv/out/sub/inner.txt", "/srv/out/sub/renamed.txt") == 0)
        printf("rename: ok\n");
    show("/srv/out/sub/renamed.txt");
    put("/tmp/write-mode-local.txt", "local scratch\n");
    show("/tmp/write-mode-local.txt");
    return 0;
}
