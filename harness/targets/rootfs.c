/* A container's rootfs: the host's /usr, a private copy of /etc, scenario files. */
#include "target_int.h"
#include "shunt/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shunt/util.h"

/* Top-level dirs that are symlinks into /usr on merged-/usr systems. */
const char *const tgt_sys_dirs[] = {"bin", "sbin", "lib", "lib32", "lib64",
                                    "libx32", NULL};

static const char *const empty_dirs[] = {
    "proc", "dev", "sys", "tmp", "usr", "root", "run", "var", "var/tmp",
    "var/lib", "var/log", "home", "srv", "opt", "mnt", "etc", ".shunt", NULL,
};

/* Writes a file at an absolute container path beneath rootfs without ever
 * following a symlink (the copied /etc holds absolute links into the host's
 * /usr that would otherwise be written through). Either data or src_fd. */
static int rootfs_write(const char *rootfs, const char *cpath, const void *data,
                        size_t len, int src_fd, unsigned mode, char *err,
                        size_t errlen)
{
    char buf[PATH_MAX];
    if (shunt_fmt(buf, sizeof(buf), "%s", cpath + 1) < 0)
        return snprintf(err, errlen, "%s: path too long", cpath), -1;
    int dfd = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (dfd < 0)
        return snprintf(err, errlen, "%s: %s", rootfs, strerror(errno)), -1;
    char *comp = buf, *slash;
    while ((slash = strchr(comp, '/'))) {
        *slash = 0;
        if (mkdirat(dfd, comp, 0755) < 0 && errno != EEXIST)
            goto fail;
        int nfd = openat(dfd, comp, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
        if (nfd < 0) {
            if (errno == ELOOP || errno == ENOTDIR) {
                snprintf(err, errlen,
                         "cannot write %s: %s is a symlink or not a directory in "
                         "the container",
                         cpath, comp);
                close(dfd);
                return -1;
            }
            goto fail;
        }
        close(dfd);
        dfd = nfd;
        comp = slash + 1;
    }
    if (unlinkat(dfd, comp, 0) < 0 && errno != ENOENT)
        goto fail;
    int fd = openat(dfd, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    mode);
    if (fd < 0)
        goto fail;
    int rc = src_fd >= 0 ? tgt_copy_fd(src_fd, fd) : tgt_write_all_fd(fd, data, len);
    if (rc < 0 || fchmod(fd, mode) < 0) {
        close(fd);
        goto fail;
    }
    if (close(fd) < 0)
        goto fail;
    close(dfd);
    return 0;
fail:
    snprintf(err, errlen, "cannot write %s in the container rootfs: %s", cpath,
             strerror(errno));
    close(dfd);
    return -1;
}

int tgt_build_rootfs(const ctr_t *c, const char *hosts, const char *resolv,
                     const char *extra_path, const char *extra_content,
                     char *err, size_t errlen)
{
    char root[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    if (shunt_fmt(root, sizeof(root), "%s/rootfs", c->bundle) < 0 ||
        shunt_mkdir_p(root, 0755) < 0)
        return snprintf(err, errlen, "cannot create %s: %s", root,
                        strerror(errno)), -1;
    for (size_t i = 0; empty_dirs[i]; i++) {
        if (shunt_fmt(p, sizeof(p), "%s/%s", root, empty_dirs[i]) < 0 ||
            (mkdir(p, 0755) < 0 && errno != EEXIST))
            return snprintf(err, errlen, "cannot create %s: %s", p,
                            strerror(errno)), -1;
    }
    if (shunt_fmt(p, sizeof(p), "%s/tmp", root) == 0)
        chmod(p, 01777);
    for (size_t i = 0; tgt_sys_dirs[i]; i++) {
        struct stat st;
        snprintf(q, sizeof(q), "/%s", tgt_sys_dirs[i]);
        if (shunt_fmt(p, sizeof(p), "%s/%s", root, tgt_sys_dirs[i]) < 0 ||
            lstat(q, &st) < 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(q, target, sizeof(target) - 1);
            if (n < 0 || (target[n] = 0, symlink(target, p) < 0 && errno != EEXIST))
                return snprintf(err, errlen, "cannot link %s: %s", p,
                                strerror(errno)), -1;
        } else if (S_ISDIR(st.st_mode) && mkdir(p, 0755) < 0 && errno != EEXIST) {
            return snprintf(err, errlen, "cannot create %s: %s", p,
                            strerror(errno)), -1;
        }
    }
    /* the host's /etc but what makes it the host (files.c) */
    const shunt_target_spec_t *t = c->spec;
    if (tgt_copy_etc(root, t ? (const char *const *)t->etc_drop : NULL,
                     t ? t->n_etc_drop : 0, t ? (const char *const *)t->etc_add : NULL,
                     t ? t->n_etc_add : 0, err, errlen) < 0)
        return -1;
    char hn[128];
    snprintf(hn, sizeof(hn), "%s\n", c->hostname);
    if (rootfs_write(root, "/etc/hostname", hn, strlen(hn), -1, 0644, err, errlen) < 0 ||
        rootfs_write(root, "/etc/hosts", hosts, strlen(hosts), -1, 0644, err, errlen) < 0 ||
        rootfs_write(root, "/etc/resolv.conf", resolv, strlen(resolv), -1, 0644, err,
                     errlen) < 0)
        return -1;
    if (extra_path && rootfs_write(root, extra_path, extra_content,
                                   strlen(extra_content), -1, 0644, err, errlen) < 0)
        return -1;
    /* the scenario's files; those under /tmp (a tmpfs mounted when the
     * container starts) are written once it runs (target.c) */
    int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return snprintf(err, errlen, "%s: %s", root, strerror(errno)), -1;
    int rc = tgt_put_files(rfd, c->files, 0, err, errlen);
    close(rfd);
    if (rc < 0)
        return -1;
    return 0;
}
