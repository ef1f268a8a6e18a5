/* Path resolution inside the target's root: openat2(RESOLVE_IN_ROOT). */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

static long link_of(int fd, char *buf, size_t len)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, len - 1);
    if (n < 0 || (size_t)n >= len - 1)
        return -1;
    buf[n] = 0;
    return n;
}

/* The in-root name a directory handle's fd has now (its /proc/self/fd
 * link minus the root's own name, as REALPATH names a file), or -1: not
 * nameable (removed, outside the root), the handle's own path then. */
static long current_name(agent_t *a, int fd, char *out, size_t len)
{
    char root[PATH_MAX + 2];
    long rl = link_of(a->root_fd, root, sizeof(root));
    long n = rl < 0 ? -1 : link_of(fd, out, len);
    static const char deleted[] = " (deleted)";
    size_t dl = sizeof(deleted) - 1;
    if (n < 1 || out[0] != '/' ||
        ((size_t)n > dl && strcmp(out + n - dl, deleted) == 0))
        return -1;
    if (rl == 1 && root[0] == '/')
        return n;
    if (strncmp(out, root, (size_t)rl) != 0 ||
        (out[rl] != '/' && out[rl] != 0))
        return -1;
    if (!out[rl]) {
        out[0] = '/', out[1] = 0;
        return 1;
    }
    memmove(out, out + rl, (size_t)(n - rl) + 1);
    return n - rl;
}

/* A directory handle's path is joined with the request's path and resolved
 * from the root again: RESOLVE_IN_ROOT with the directory's own fd would
 * make that directory the root, so "..", absolute paths and absolute
 * symlinks below it would resolve wrongly.  The directory's name is the
 * one its fd has now, as the kernel would walk from the fd itself: opened
 * through a symlink since removed, or renamed, it is still found. */
int path_join(client_t *cl, uint32_t dirh, shunt_str_t path, char *out,
              size_t outlen)
{
    const char *base = "";
    char cur[PATH_MAX + 2];
    if ((path.len > 0 && path.p[0] == '/') || dirh == SHUNT_AT_ROOT) {
        base = "";
    } else {
        handle_t *h = htab_get(&cl->h, dirh, HK(H_FILE) | HK(H_DIR));
        if (!h)
            return -EBADF;
        if (h->kind != H_DIR && path.len)
            return -ENOTDIR;
        base = h->path;
        if (h->kind == H_DIR && current_name(cl->a, h->fd, cur, sizeof(cur)) > 0)
            base = cur;
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

/* Device nodes the agent opens for I/O: the memory devices every
 * container's /dev has (null, zero, full, random, urandom, major 1).  Any
 * other device is the agent's own host's (a target's /dev/tty is the
 * agent's controlling terminal, were it to have one; a block device is a
 * disk) and refused with ENXIO, as a device without a driver is.  Regular
 * files, directories, FIFOs (opened O_NONBLOCK) and sockets (ENXIO from the
 * kernel) are what they are. */
int node_served(const struct stat *st)
{
    if (S_ISBLK(st->st_mode))
        return 0;
    if (!S_ISCHR(st->st_mode))
        return 1;
    unsigned mi = minor(st->st_rdev);
    return major(st->st_rdev) == 1 && (mi == 3 || mi == 5 || mi == 7 || mi == 8 || mi == 9);
}

/* root_open for I/O (no O_PATH): an existing node is opened O_PATH first,
 * checked (node_served) and only then reopened through /proc/self/fd, so no
 * refused device is ever opened and a race cannot swap the node in between.
 * A create with O_EXCL (or O_TMPFILE) makes a new regular file; O_CREAT
 * alone is tried with O_EXCL first. */
int root_open_io(agent_t *a, const char *path, int flags, mode_t mode)
{
    if ((flags & O_PATH) || (flags & __O_TMPFILE) == __O_TMPFILE ||
        (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return root_open(a, path, flags, mode);
    int creat = flags & O_CREAT;
    if (creat) {
        int fd = root_open(a, path, flags | O_EXCL, mode);
        if (fd != -EEXIST)
            return fd;
    }
    int pfd = root_open(a, path, O_PATH | (flags & (O_NOFOLLOW | O_DIRECTORY)), 0);
    struct stat st;
    if (pfd == -ENOENT && creat) {
        /* a dangling link the create goes through, or a node removed since:
         * open it as asked, check after (O_NOCTTY|O_NONBLOCK: no terminal
         * is taken, nothing blocks) */
        int fd = root_open(a, path, flags | O_NOCTTY | O_NONBLOCK, mode);
        if (fd >= 0 && (fstat(fd, &st) < 0 || !node_served(&st))) {
            close(fd);
            return -ENXIO;
        }
        if (fd >= 0 && !(flags & O_NONBLOCK) && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        return fd;
    }
    if (pfd < 0)
        return pfd;
    int rc = 0;
    if (fstat(pfd, &st) < 0)
        rc = -errno;
    else if (S_ISLNK(st.st_mode)) /* O_NOFOLLOW on a link */
        rc = -ELOOP;
    else if (creat && S_ISDIR(st.st_mode)) /* open(2): O_CREAT of a dir */
        rc = -EISDIR;
    else if (!node_served(&st))
        rc = -ENXIO;
    if (rc == 0) {
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
        rc = open(self, (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC);
        if (rc < 0)
            rc = -errno;
    }
    close(pfd);
    return rc;
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
