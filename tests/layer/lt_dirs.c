/* End-to-end: directories of the target (opendir family, fdopendir over
 * openat, *at calls relative to a remote directory fd, getdents64, nftw). */
#include "lt.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "listing.h"

static int nftw_count;
static int visit(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)path;
    (void)st;
    (void)flag;
    (void)ftw;
    nftw_count++;
    return 0;
}

int main(void)
{
    char list[1024];
    DIR *d = opendir("/srv/data/sub");
    CHECK(d != NULL);
    if (d) {
        listing(d, list, sizeof(list));
        CHECK_STR(list, "a.txt,b.txt,deeper");
        rewinddir(d);
        listing(d, list, sizeof(list));
        CHECK_STR(list, "a.txt,b.txt,deeper");
        /* telldir/seekdir: remember the second entry, read on, go back */
        rewinddir(d);
        readdir(d);
        long pos = telldir(d);
        struct dirent *e = readdir(d);
        char second[256];
        snprintf(second, sizeof(second), "%s", e ? e->d_name : "");
        while (readdir(d))
            ;
        seekdir(d, pos);
        e = readdir(d);
        CHECK_STR(e ? e->d_name : "", second);
        int fd = dirfd(d);
        CHECK(fd >= 0);
        struct stat st;
        CHECK_LONG(fstatat(fd, "b.txt", &st, 0), 0);
        CHECK_LONG(st.st_size, 7);
        CHECK_LONG(closedir(d), 0);
    }
    CHECK(opendir("/srv/data/nope") == NULL && errno == ENOENT);
    CHECK(opendir("/srv/data/hello.txt") == NULL && errno == ENOTDIR);

    /* fts-style: openat(O_DIRECTORY) + fdopendir + *at relative to it */
    int dfd = open("/srv/data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dfd >= 0);
    int sub = openat(dfd, "sub", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    CHECK(sub >= 0);
    struct stat st;
    CHECK_LONG(fstatat(sub, "deeper/c.txt", &st, AT_SYMLINK_NOFOLLOW), 0);
    CHECK_LONG(st.st_size, 2);
    CHECK_LONG(faccessat(sub, "a.txt", R_OK, 0), 0);
    CHECK_ERR(faccessat(sub, "zzz", R_OK, 0), ENOENT);
    int f = openat(sub, "a.txt", O_RDONLY);
    CHECK(f >= 0);
    char buf[16] = "";
    CHECK_LONG(read(f, buf, sizeof(buf)), 4);
    CHECK(memcmp(buf, "aaa\n", 4) == 0);
    close(f);
    char lnk[64];
    CHECK_LONG(readlinkat(dfd, "link", lnk, sizeof(lnk)), 9);
    DIR *sd = fdopendir(sub);
    CHECK(sd != NULL);
    if (sd) {
        listing(sd, list, sizeof(list));
        CHECK_STR(list, "a.txt,b.txt,deeper");
        closedir(sd);
    }
    /* getdents64 straight on a directory fd */
    int g = openat(dfd, "sub/deeper", O_RDONLY | O_DIRECTORY);
    CHECK(g >= 0);
    char dbuf[4096];
    ssize_t n = getdents64(g, dbuf, sizeof(dbuf));
    int found = 0;
    for (ssize_t o = 0; o < n;) {
        struct dirent64 *e = (struct dirent64 *)(dbuf + o);
        if (strcmp(e->d_name, "c.txt") == 0)
            found = e->d_type == DT_REG;
        o += e->d_reclen;
    }
    CHECK(found);
    CHECK_LONG(getdents64(g, dbuf, sizeof(dbuf)), 0);
    close(g);
    close(dfd);

    /* scandir and nftw walk the target's tree */
    struct dirent **nl;
    int cnt = scandir("/srv/data", &nl, NULL, alphasort);
    CHECK(cnt >= 7); /* . .. big.txt dangling hello.txt link secret.txt sub */
    for (int i = 0; i < cnt; i++)
        free(nl[i]);
    if (cnt > 0)
        free(nl);
    CHECK_LONG(nftw("/srv/data", visit, 8, FTW_PHYS), 0);
    CHECK_LONG(nftw_count, 11); /* data + 6 entries + sub + a b deeper c */
    return lt_done("lt_dirs");
}
