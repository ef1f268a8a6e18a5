/* Path resolution inside the target's root: openat2(RESOLVE_IN_ROOT). */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A directory handle's path is joined with the request's path and resolved
 * from the root again: RESOLVE_IN_ROOT with the directory's own fd would
 * make that directory the root, so "..", absolute paths and absolute
 * symlinks below it would resolve wrongly. */
int path_join(client_t *cl, uint32_t dirh, shunt_str_t path, char *out,
              size_t outlen)
{
    const char *base = "";
    if ((path.len > 0 && path.p[0] == '/') || dirh == SHUNT_AT_ROOT) {
        base = "";
    } else {
        handle_t *h = htab_get(&cl->h, dirh, HK(H_FILE) | HK(H_DIR));
        if (!h)
            return -EBADF;
        if (h->kind != H_DIR && path.len)
            return -ENOTDIR;
        base = h->path;
    }
    size_t bl = strlen(base);
    if (bl + 1 + path.len + 1 > outlen || bl + 1 + path.len + 1 > PATH_MAX + 1)
        return -ENAMETOOLONG;
    size_t n = 0;
    if (bl == 0 || base[0] != '/')
        out[n++] = '/';
    memcpy(out + n, base, bl);
    n += bl;
    if (path.len) {
        if (n > 0 && out[n - 1] != '/' && path.p[0] != '/')
            out[n++] = '/';
        memcpy(out + n, path.p, path.len);
        n += path.len;
    }
    out[n] = 0;
    return 0;
}

int root_open(agent_t *a, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | __O_TMPFILE)) ? (mode & 07777) : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    for (int tries = 0;; tries++) {
        long fd = syscall(SYS_openat2, a->root_fd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        /* EAGAIN: a concurrent rename or mount raced with ".." */
        if ((errno == EAGAIN && tries < 16) || errno == EINTR)
            continue;
        return -errno;
    }
}

int root_open_parent(agent_t *a, const char *path, const char **base)
{
    size_t end = strlen(path);
    size_t e = end;
    while (e > 0 && path[e - 1] == '/')
        e--;
    if (e == 0) { /* the root itself */
        *base = path + end;
        return root_open(a, "/", O_PATH | O_DIRECTORY, 0);
    }
    size_t s = e;
    while (s > 0 && path[s - 1] != '/')
        s--;
    char parent[PATH_MAX + 2];
    if (s == 0) {
        parent[0] = '/';
        parent[1] = 0;
    } else {
        memcpy(parent, path, s);
        parent[s] = 0;
    }
    *base = path + s;
    return root_open(a, parent, O_PATH | O_DIRECTORY, 0);
}

int base_is_dot(const char *base, int *dotdot)
{
    size_t n = strcspn(base, "/");
    *dotdot = n == 2 && base[0] == '.' && base[1] == '.';
    return (n == 1 && base[0] == '.') || *dotdot;
}
