/* Reads the service's configuration the way a C service does: open/read,
 * stat, fstat, access, readlink and a missing file; prints what it saw. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show_file(const char *path)
{
    char buf[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("open %s: %s\n", path, strerror(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    struct stat st;
    if (fstat(fd, &st) == 0)
        printf("fstat %s: size %lld mode %o\n", path, (long long)st.st_size,
               (unsigned)(st.st_mode & 07777));
    close(fd);
    if (n < 0) {
        printf("read %s: %s\n", path, strerror(errno));
        return;
    }
    buf[n] = 0;
    printf("%s (%zd bytes):\n%s", path, n, buf);
    if (n > 0 && buf[n - 1] != '\n')
        printf("\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        show_file(argv[i]);
    struct stat st;
    printf("stat /etc/app: %s\n",
           stat("/etc/app", &st) == 0 && S_ISDIR(st.st_mode) ? "directory" : strerror(errno));
    printf("access /etc/app/secret.key R_OK: %s\n",
           access("/etc/app/secret.key", R_OK) == 0 ? "ok" : strerror(errno));
    printf("access /etc/app/missing: %s\n",
           access("/etc/app/missing", F_OK) == 0 ? "exists" : strerror(errno));
    char link[256];
    ssize_t l = readlink("/etc/app/current", link, sizeof(link) - 1);
    if (l >= 0)
        link[l] = 0;
    printf("readlink /etc/app/current: %s\n", l >= 0 ? link : strerror(errno));
    char host[256];
    FILE *f = fopen("/etc/hostname", "r");
    if (f && fgets(host, sizeof(host), f))
        printf("/etc/hostname: %s", host);
    if (f)
        fclose(f);
    return 0;
}
