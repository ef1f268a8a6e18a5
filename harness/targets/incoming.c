/* The subscriptions of a target's ports by local programs, as the session
 * proxies list them under its state dir (shunt/target.h). */
#include "shunt/target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int shunt_target_incoming_read(const char *dir, shunt_target_insub_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t namelen = strlen(e->d_name);
        if (e->d_name[0] == '.' || (namelen > 4 && strcmp(e->d_name + namelen - 4, ".tmp") == 0))
            continue;
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid > INT_MAX)
            pid = 0;
        if (pid && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
            continue; /* left by a process that is gone */
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        char buf[65536];
        ssize_t got = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (got <= 0)
            continue;
        buf[got] = 0;
        char *save = NULL;
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            shunt_target_insub_t s = {.pid = (int)pid};
            if (sscanf(l, "%d %d %15s", &s.remote_port, &s.local_port, s.mode) < 2 ||
                s.remote_port <= 0 || s.remote_port > 65535)
                continue;
            if (*n == cap) {
                size_t nc = cap ? 2 * cap : 8;
                shunt_target_insub_t *v = realloc(*out, nc * sizeof(*v));
                if (!v) {
                    closedir(d);
                    free(*out);
                    *out = NULL;
                    *n = 0;
                    return -1;
                }
                *out = v;
                cap = nc;
            }
            (*out)[(*n)++] = s;
        }
    }
    closedir(d);
    return 0;
}
