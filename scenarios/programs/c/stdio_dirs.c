/* stdio and directories: fopen/fgets/fscanf, opendir/readdir (sorted),
 * nftw-free recursion, scandir, and getline on a file with long lines. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void walk(const char *dir, int depth)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        printf("%*sscandir %s: %s\n", depth * 2, "", dir, strerror(errno));
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (strcmp(nm, ".") && strcmp(nm, "..")) {
            char p[1024];
            struct stat st;
            snprintf(p, sizeof(p), "%s/%s", dir, nm);
            if (lstat(p, &st) == 0) {
                printf("%*s%s %s %lld\n", depth * 2, "", nm,
                       S_ISDIR(st.st_mode) ? "dir" : S_ISLNK(st.st_mode) ? "link" : "file",
                       S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size);
                if (S_ISDIR(st.st_mode))
                    walk(p, depth + 1);
            }
        }
        free(names[i]);
    }
    free(names);
}

int main(void)
{
    FILE *f = fopen("/srv/app/settings.conf", "r");
    if (!f) {
        printf("fopen: %s\n", strerror(errno));
        return 1;
    }
    char key[64];
    int val;
    while (fscanf(f, "%63s = %d", key, &val) == 2)
        printf("setting %s = %d\n", key, val);
    fclose(f);
    f = fopen("/srv/app/lines.txt", "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long sum = 0;
    int lines = 0;
    while (f && (len = getline(&line, &cap, f)) > 0) {
        lines++;
        for (ssize_t i = 0; i < len; i++)
            sum = sum * 31 + (unsigned char)line[i];
    }
    free(line);
    if (f)
        fclose(f);
    printf("lines.txt: %d lines, checksum %lu\n", lines, sum);
    DIR *d = opendir("/srv/app");
    int count = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        count++;
    if (d)
        closedir(d);
    printf("readdir /srv/app: %d entries\n", count);
    walk("/srv/app", 0);
    return 0;
}
