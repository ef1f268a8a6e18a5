/* End-to-end: a not_found path of the policy is in no listing of its
 * remote directory (readdir, getdents64, syscall(SYS_getdents64), nftw,
 * and the real ls, find and python3 run as children under the layer).
 * Config: hidden.conf (/srv/data/secret*, /srv/data/sub/deeper). */
#include "lt.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "listing.h"

static void list_path(const char *path, char *out, size_t outlen)
{
    out[0] = '\0';
    DIR *d = opendir(path);
    CHECK(d != NULL);
    if (d) {
        listing(d, out, outlen);
        closedir(d);
    }
}

/* The names getdents64 gives for fd, with a buffer of bufsize bytes, in the
 * order given, by the libc wrapper or (raw) by syscall(). */
static void dents(int fd, size_t bufsize, int raw, char *out, size_t outlen)
{
    char buf[4096];
    out[0] = '\0';
    for (;;) {
        long n = raw ? syscall(SYS_getdents64, fd, buf, bufsize)
                     : (long)getdents64(fd, buf, bufsize);
        CHECK(n >= 0);
        if (n <= 0)
            break;
        for (long o = 0; o < n;) {
            struct dirent64 *e = (struct dirent64 *)(buf + o);
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                strncat(out, e->d_name, outlen - strlen(out) - 1);
                strncat(out, ";", outlen - strlen(out) - 1);
            }
            o += e->d_reclen;
        }
    }
}

static int nftw_count, nftw_hidden;
static int visit(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    nftw_count++;
    if (strstr(path, "secret") || strstr(path, "deeper"))
        nftw_hidden++;
    return 0;
}

/* The output of a shell command (run under the layer as this program's
 * child), newlines made ','. */
static void command(const char *cmd, char *out, size_t outlen)
{
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p)
        return;
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (out[i] == '\n')
            out[i] = i + 1 == n ? '\0' : ',';
    CHECK_LONG(pclose(p), 0);
}

int main(void)
{
    char list[1024];
    list_path("/srv/data", list, sizeof(list));
    CHECK_STR(list, "big.txt,dangling,hello.txt,link,sub");
    list_path("/srv/data/sub", list, sizeof(list));
    CHECK_STR(list, "a.txt,b.txt");
    /* the hidden paths themselves do not exist */
    CHECK(opendir("/srv/data/sub/deeper") == NULL && errno == ENOENT);
    struct stat st;
    CHECK_ERR(stat("/srv/data/secret.txt", &st), ENOENT);

    /* getdents64 with room for one entry at a time, and the raw syscall */
    int fd = open("/srv/data/sub", O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0);
    char got[1024];
    char sorted[1024];
    dents(fd, 40, 0, got, sizeof(got));
    CHECK(strstr(got, "deeper") == NULL);
    CHECK(strstr(got, "a.txt;") != NULL && strstr(got, "b.txt;") != NULL);
    CHECK_LONG(lseek(fd, 0, SEEK_SET), 0);
    dents(fd, sizeof(sorted), 1, sorted, sizeof(sorted));
    CHECK_STR(sorted, got);
    close(fd);

    /* fdopendir over openat, as fts does */
    int dfd = open("/srv/data", O_RDONLY | O_DIRECTORY);
    int sub = openat(dfd, "sub", O_RDONLY | O_DIRECTORY);
    DIR *sd = fdopendir(sub);
    CHECK(sd != NULL);
    if (sd) {
        listing(sd, list, sizeof(list));
        CHECK_STR(list, "a.txt,b.txt");
        closedir(sd);
    }
    close(dfd);

    /* data + big.txt dangling hello.txt link sub + a.txt b.txt */
    CHECK_LONG(nftw("/srv/data", visit, 8, FTW_PHYS), 0);
    CHECK_LONG(nftw_count, 8);
    CHECK_LONG(nftw_hidden, 0);

    /* real programs, children under the layer */
    command("ls -A /srv/data", list, sizeof(list));
    CHECK_STR(list, "big.txt,dangling,hello.txt,link,sub");
    command("find /srv/data | sort", list, sizeof(list));
    CHECK_STR(list, "/srv/data,/srv/data/big.txt,/srv/data/dangling,"
                    "/srv/data/hello.txt,/srv/data/link,/srv/data/sub,"
                    "/srv/data/sub/a.txt,/srv/data/sub/b.txt");
    command("python3 -c 'import os; print(\"\\n\".join(sorted(os.listdir("
            "\"/srv/data/sub\"))))'", list, sizeof(list));
    CHECK_STR(list, "a.txt,b.txt");
    return lt_done("lt_hidden");
}
