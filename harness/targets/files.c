/* File helpers: mkdir -p, rm -rf, whole and atomic writes, fd copies. */
#include "target_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shunt/inroot.h"
#include "shunt/util.h"

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* FTW_MOUNT: never descend into something still mounted there. */
int tgt_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int tgt_write_all_fd(int fd, const void *data, size_t len)
{
    return shunt_write_full(fd, data, len) < 0 ? -1 : 0;
}

int tgt_write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    int rc = tgt_write_all_fd(fd, data, strlen(data));
    if (close(fd) < 0)
        rc = -1;
    return rc;
}

/* Writes the whole file atomically (tmp + rename). */
int tgt_write_atomic(const char *path, const char *data)
{
    char tmp[PATH_MAX];
    if (shunt_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0)
        return -1;
    if (tgt_write_file(tmp, data, 0644) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int tgt_copy_fd(int in, int out)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (tgt_write_all_fd(out, buf, (size_t)n) < 0)
            return -1;
    }
}


/* ---- scenario files beneath a container's root ------------------------
 * Everything is reached from a directory fd of the container's root (its
 * rootfs directory before it starts, /proc/PID/root after): each component
 * opened with O_NOFOLLOW, so no symlink in the container -- planted by its
 * image, a copied /etc or the scenario itself -- leads a write elsewhere,
 * least of all onto the host; no ".." is ever walked. */

#define PUT_ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* Opens the directory holding cpath's last component, creating missing
 * directories (0755) when create; *base points at that component in buf. */
static int walk_parent(int root, const char *cpath, int create, char *buf, size_t buflen,
                       char **base, char *err, size_t errlen)
{
    if (cpath[0] != '/' || shunt_fmt(buf, buflen, "%s", cpath + 1) < 0)
        return PUT_ERR("%s: not an absolute path of at most %zu bytes", cpath, buflen);
    int dfd = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return PUT_ERR("cannot open the container's root: %s", strerror(errno));
    char *comp = buf, *slash;
    while ((slash = strchr(comp, '/'))) {
        *slash = 0;
        if (!comp[0] || strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
            close(dfd);
            return PUT_ERR("%s: empty, . or .. component", cpath);
        }
        if (create && mkdirat(dfd, comp, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            close(dfd);
            return PUT_ERR("cannot create the directories of %s in the container: %s",
                           cpath, strerror(e));
        }
        int nfd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(dfd);
        if (nfd < 0) {
            *slash = '/';
            if (e == ELOOP || e == ENOTDIR)
                return PUT_ERR("cannot write %s: /%.*s is a symlink or not a directory "
                               "in the container (never followed)",
                               cpath, (int)(slash - buf), buf);
            return PUT_ERR("cannot open /%.*s in the container: %s", (int)(slash - buf),
                           buf, strerror(e));
        }
        dfd = nfd;
        comp = slash + 1;
    }
    if (!comp[0] || strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
        close(dfd);
        return PUT_ERR("%s: empty, . or .. component", cpath);
    }
    *base = comp;
    return dfd;
}

/* Removes what is at dfd/name unless it is a directory (a symlink is
 * removed, never followed). */
static int clear_entry(int dfd, const char *name)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode))
        return errno = EISDIR, -1;
    return unlinkat(dfd, name, 0);
}

/* chmod of dfd/name without following a symlink: through an O_PATH fd of
 * the very inode. */
static int chmod_nofollow(int dfd, const char *name, unsigned mode)
{
    int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    char p[64];
    int rc = -1;
    if (fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode) &&
        shunt_fmt(p, sizeof(p), "/proc/self/fd/%d", fd) == 0)
        rc = chmod(p, mode);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int put_regular(int dfd, const char *name, const void *data, size_t len, int src,
                       unsigned mode)
{
    if (clear_entry(dfd, name) < 0)
        return -1;
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = src >= 0 ? tgt_copy_fd(src, fd) : tgt_write_all_fd(fd, data, len);
    if (rc == 0 && fchmod(fd, mode) < 0)
        rc = -1;
    int e = errno;
    if (close(fd) < 0 && rc == 0)
        return -1;
    errno = e;
    return rc;
}

static int put_owner(int dfd, const char *name, long uid, long gid)
{
    if (uid < 0 && gid < 0)
        return 0;
    return fchownat(dfd, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW);
}

/* How copy_dir_fd copies: an owner for every entry (-1: root), entries to
 * leave out (fnmatch patterns on the path relative to the top, FNM_PATHNAME)
 * unless a keep pattern matches, and lenience (an entry that cannot be
 * read is skipped). */
typedef struct {
    long uid, gid;
    const char *const *skip;
    size_t nskip;
    const char *const *keep;
    size_t nkeep;
    int lenient;
    char *what; /* the entry being copied, for messages */
    size_t wl;
} copy_opts_t;

static int matches(const char *rel, const char *const *pats, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(pats[i], rel, FNM_PATHNAME | FNM_PERIOD) == 0)
            return 1;
    return 0;
}

/* Copies the host directory src (an fd) into dst (an fd), recursively:
 * directories, regular files, symlinks (as links) and FIFOs, with their
 * modes; other kinds are skipped.  rel: src's path below the top ("" at
 * the top). */
static int copy_dir_fd(int src, int dst, int depth, const char *rel, const copy_opts_t *o)
{
    if (depth > 64)
        return errno = ELOOP, -1;
    int sfd = dup(src);
    DIR *d = sfd >= 0 ? fdopendir(sfd) : NULL;
    if (!d) {
        if (sfd >= 0)
            close(sfd);
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    long uid = o->uid, gid = o->gid;
    while (rc == 0 && (e = readdir(d))) {
        const char *n = e->d_name;
        struct stat st;
        char sub[PATH_MAX];
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        if (shunt_fmt(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", n) < 0) {
            if (o->lenient)
                continue;
            rc = -1;
            errno = ENAMETOOLONG;
            break;
        }
        if (o->nskip && matches(sub, o->skip, o->nskip) && !matches(sub, o->keep, o->nkeep))
            continue;
        snprintf(o->what, o->wl, "%s", sub);
        if (fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = o->lenient ? 0 : -1;
            continue;
        }
        unsigned mode = st.st_mode & 07777;
        if (S_ISDIR(st.st_mode)) {
            int s2 = openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s2 < 0 && o->lenient)
                continue;
            if (mkdirat(dst, n, 0700) < 0 && errno != EEXIST) {
                rc = -1;
                if (s2 >= 0)
                    close(s2);
                break;
            }
            int d2 = openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc = s2 < 0 || d2 < 0 ? -1 : copy_dir_fd(s2, d2, depth + 1, sub, o);
            if (rc == 0 && uid >= 0)
                rc = fchown(d2, (uid_t)uid, (gid_t)gid);
            if (rc == 0)
                rc = fchmod(d2, mode);
            if (s2 >= 0)
                close(s2);
            if (d2 >= 0)
                close(d2);
        } else if (S_ISREG(st.st_mode)) {
            int in = openat(src, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (in < 0 && o->lenient)
                continue;
            rc = in < 0 ? -1 : put_regular(dst, n, NULL, 0, in, mode);
            if (in >= 0)
                close(in);
            if (rc == 0)
                rc = put_owner(dst, n, uid, gid) < 0 ? -1 : chmod_nofollow(dst, n, mode);
        } else if (S_ISLNK(st.st_mode)) {
            char t[PATH_MAX];
            ssize_t l = readlinkat(src, n, t, sizeof(t) - 1);
            if (l < 0 && o->lenient)
                continue;
            if (l < 0 || clear_entry(dst, n) < 0) {
                rc = -1;
                break;
            }
            t[l] = 0;
            rc = symlinkat(t, dst, n) < 0 ? -1 : put_owner(dst, n, uid, gid);
        } else if (S_ISFIFO(st.st_mode)) {
            rc = clear_entry(dst, n) < 0 || mknodat(dst, n, S_IFIFO | 0600, 0) < 0 ||
                         put_owner(dst, n, uid, gid) < 0 || chmod_nofollow(dst, n, mode) < 0
                     ? -1
                     : 0;
        }
    }
    closedir(d);
    return rc;
}

/* What makes the host's /etc another machine's: its identity, its network
 * and its secrets (target.etc.keep brings one back, target.etc.drop adds). */
const char *const tgt_etc_dropped[] = {
    "hostname", "hosts", "resolv.conf", "mailname", "machine-id", "machine-info",
    "adjtime", "fstab", "crypttab", "shadow", "shadow-", "gshadow", "gshadow-",
    "ssh/ssh_host_*", "ssl/private", "NetworkManager/system-connections",
    "wpa_supplicant", "netplan", "network/interfaces", "network/interfaces.d",
    "systemd/network", "sudoers", "sudoers.d", "security/opasswd", ".pwd.lock",
    NULL,
};

int tgt_copy_etc(const char *root, const char *const *drop, size_t ndrop,
                 const char *const *keep, size_t nkeep, char *err, size_t errlen)
{
    size_t nd = 0;
    while (tgt_etc_dropped[nd])
        nd++;
    const char **skip = calloc(nd + ndrop + 1, sizeof(char *));
    if (!skip)
        return PUT_ERR("out of memory");
    for (size_t i = 0; i < nd; i++)
        skip[i] = tgt_etc_dropped[i];
    for (size_t i = 0; i < ndrop; i++)
        skip[nd + i] = drop[i];
    char what[PATH_MAX] = "", p[PATH_MAX];
    copy_opts_t o = {.uid = -1, .gid = -1, .skip = skip, .nskip = nd + ndrop,
                     .keep = keep, .nkeep = nkeep, .lenient = 1, .what = what,
                     .wl = sizeof(what)};
    int rc = -1;
    int src = open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int dst = -1;
    if (src >= 0 && shunt_fmt(p, sizeof(p), "%s/etc", root) == 0 &&
        (mkdir(p, 0755) == 0 || errno == EEXIST))
        dst = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (src < 0 || dst < 0)
        snprintf(err, errlen, "cannot open /etc or %s/etc: %s", root, strerror(errno));
    else if ((rc = copy_dir_fd(src, dst, 0, "", &o)) < 0)
        snprintf(err, errlen, "cannot copy /etc/%s into %s/etc: %s", what, root,
                 strerror(errno));
    if (src >= 0)
        close(src);
    if (dst >= 0)
        close(dst);
    free(skip);
    return rc;
}

int tgt_put_file(int root, const shunt_file_spec_t *f, char *err, size_t errlen)
{
    char buf[PATH_MAX], lbuf[PATH_MAX], what[NAME_MAX + 1] = "";
    char *base, *lbase;
    int dfd = walk_parent(root, f->path, 1, buf, sizeof(buf), &base, err, errlen);
    if (dfd < 0)
        return -1;
    int rc = -1, src = -1, lfd = -1;
    switch (f->kind) {
    case SHUNT_FILE_REG:
        if (f->from && (src = open(f->from, O_RDONLY | O_CLOEXEC)) < 0) {
            snprintf(err, errlen, "cannot read %s: %s", f->from, strerror(errno));
            goto out;
        }
        rc = put_regular(dfd, base, f->content, f->content_len, src, f->mode);
        break;
    case SHUNT_FILE_DIR:
    case SHUNT_FILE_TREE: {
        struct stat st;
        if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
            unlinkat(dfd, base, 0) < 0)
            break;
        if (mkdirat(dfd, base, 0700) < 0 && errno != EEXIST)
            break;
        int d = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d < 0)
            break;
        unsigned mode = f->mode;
        rc = 0;
        if (f->kind == SHUNT_FILE_TREE) {
            src = open(f->from, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            struct stat ss;
            copy_opts_t co = {.uid = f->uid, .gid = f->uid < 0 ? -1 : f->gid,
                              .what = what, .wl = sizeof(what)};
            if (src < 0 || fstat(src, &ss) < 0 || copy_dir_fd(src, d, 0, "", &co) < 0)
                rc = -1;
            else if (!f->mode_set)
                mode = ss.st_mode & 07777;
        }
        if (rc == 0 && f->uid >= 0 && fchown(d, (uid_t)f->uid, (gid_t)f->gid) < 0)
            rc = -1;
        if (rc == 0 && fchmod(d, mode) < 0)
            rc = -1;
        int e = errno;
        close(d);
        errno = e;
        break;
    }
    case SHUNT_FILE_SYMLINK:
        rc = clear_entry(dfd, base) < 0 ? -1 : symlinkat(f->target, dfd, base);
        break;
    case SHUNT_FILE_LINK:
        lfd = walk_parent(root, f->target, 0, lbuf, sizeof(lbuf), &lbase, err, errlen);
        if (lfd < 0)
            goto out;
        rc = clear_entry(dfd, base) < 0 ? -1 : linkat(lfd, lbase, dfd, base, 0);
        break;
    case SHUNT_FILE_FIFO:
        rc = clear_entry(dfd, base) < 0 || mknodat(dfd, base, S_IFIFO | 0600, 0) < 0
                 ? -1
                 : 0;
        break;
    }
    if (rc == 0 && f->kind != SHUNT_FILE_TREE && f->kind != SHUNT_FILE_DIR &&
        f->kind != SHUNT_FILE_LINK)
        rc = put_owner(dfd, base, f->uid, f->gid);
    if (rc == 0 && (f->kind == SHUNT_FILE_REG || f->kind == SHUNT_FILE_FIFO))
        rc = chmod_nofollow(dfd, base, f->mode); /* after chown, which clears setuid */
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s in the container%s%s%s: %s", f->path,
                 what[0] ? " (at " : "", what[0] ? what : "", what[0] ? ")" : "",
                 strerror(errno));
out:
    if (src >= 0)
        close(src);
    if (lfd >= 0)
        close(lfd);
    close(dfd);
    return rc < 0 ? -1 : 0;
}

int tgt_in_tmp(const char *cpath)
{
    return strncmp(cpath, "/tmp/", 5) == 0;
}

int tgt_put_files(int root, const shunt_filelist_t *files, int tmp, char *err,
                  size_t errlen)
{
    for (size_t i = 0; files && i < files->n; i++)
        if (tgt_in_tmp(files->v[i].path) == !!tmp &&
            tgt_put_file(root, &files->v[i], err, errlen) < 0)
            return -1;
    return 0;
}

/* runs.reset_files: target.files as harness up wrote them -- each path
 * removed first (shunt_inroot_rm_rf: never through a link, never into a
 * mount), then written again, those outside /tmp first as up does. */
int shunt_target_reset_files(const shunt_target_spec_t *t, int root, char *err,
                             size_t errlen)
{
    for (size_t i = t->files.n; i-- > 0;) {
        if (shunt_inroot_rm_rf(root, t->files.v[i].path) == 0)
            continue;
        int e = errno;
        return PUT_ERR("cannot remove %s in the target: %s%s", t->files.v[i].path,
                       strerror(e),
                       e == ELOOP   ? " (a symbolic link is in the way)"
                       : e == EXDEV ? " (a mount point is in the way)"
                                    : "");
    }
    if (tgt_put_files(root, &t->files, 0, err, errlen) < 0 ||
        tgt_put_files(root, &t->files, 1, err, errlen) < 0)
        return -1;
    return 0;
}
