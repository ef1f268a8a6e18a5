/* Where does (dirfd, path) live?  Normalise, then ask the policy. */
#include "layer.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

/* The policy's answer for a normalised path.  With regex lists, signals
 * are held off meanwhile: regexec() takes the pattern's own lock, paths
 * are resolved with signals deliverable, and a handler's open() matching
 * the same list would wait forever on the lock its thread holds. */
static int policy_mode(const char *norm)
{
    if (!shunt_layer.pol.has_regex)
        return shunt_policy_mode(&shunt_layer.pol, norm);
    shunt_sig_block();
    int m = shunt_policy_mode(&shunt_layer.pol, norm);
    shunt_sig_unblock();
    return m;
}

/* Whether the entry name (len bytes) of the remote directory dir (a
 * normalised absolute path) is one the policy's not_found list hides: a
 * listing leaves it out, as the path itself does not exist. */
int layer_hides_entries(void)
{
    return shunt_layer.pol.has_regex &&
           shunt_layer.cfg.lists[SHUNT_LIST_NOT_FOUND].n > 0;
}

int layer_entry_hidden(const char *dir, const char *name, size_t len)
{
    if (!dir || !layer_hides_entries())
        return 0;
    char p[4096 + 256];
    size_t dl = strlen(dir);
    if (dl > 0 && dir[dl - 1] == '/')
        dl--; /* "/" */
    if (dl + 1 + len + 1 > sizeof(p) || memchr(name, '/', len) ||
        (len == 1 && name[0] == '.') ||
        (len == 2 && name[0] == '.' && name[1] == '.'))
        return 0;
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, len);
    p[dl + 1 + len] = '\0';
    return policy_mode(p) == SHUNT_MODE_NOT_FOUND;
}

/* Appends "/" and rel to the absolute base held in t->buf. */
static int join(layer_target_t *t, size_t blen, const char *rel)
{
    size_t rl = strlen(rel);
    if (blen + 1 + rl + 1 > sizeof(t->buf))
        return -ENAMETOOLONG;
    if (blen > 1)
        t->buf[blen++] = '/';
    memcpy(t->buf + blen, rel, rl + 1);
    t->rpath = t->buf;
    return 0;
}

static int resolve(int dirfd, const char *path, layer_target_t *t)
{
    t->dirh = SHUNT_AT_ROOT;
    t->rpath = path;
    t->lpath = path;
    t->mode = SHUNT_MODE_LOCAL;
    if (!path)
        return -EFAULT;
    /* The kernel refuses "" (without AT_EMPTY_PATH) before it looks at
     * dirfd: ENOENT, whatever dirfd is.  Callers that take AT_EMPTY_PATH
     * pass "." for it (layer_empty_path). */
    if (path[0] == '\0')
        return -ENOENT;
    if (path[0] == '/') {
        long n = shunt_path_normalize(NULL, path, t->norm, sizeof(t->norm));
        if (n < 0)
            return (int)n;
        t->mode = policy_mode(t->norm);
        return 0;
    }
    if (dirfd != AT_FDCWD && shunt_fdt_is_ours(dirfd)) {
        shunt_rfile_t *f = shunt_fdt_get(dirfd);
        if (!f)
            return -EBADF;
        int r = 0;
        if (f->kind == SHUNT_RF_DIR) {
            long n = shunt_path_normalize(f->path, path, t->norm,
                                          sizeof(t->norm));
            if (n < 0)
                r = (int)n;
            else {
                t->mode = policy_mode(t->norm);
                t->dirh = f->handle;
                /* The fd is a placeholder: a local decision gives the
                 * original the absolute joined path (NEW-dirfd). */
                if (!layer_is_remote(t->mode))
                    t->lpath = t->norm;
            }
        } else if (f->kind == SHUNT_RF_LAYER) {
            r = -EBADF;
        } else {
            r = -ENOTDIR;
        }
        shunt_rfile_unref(f);
        return r;
    }
    long blen;
    if (dirfd == AT_FDCWD && layer_cwd_is_remote()) {
        /* The remote cwd (cwd.c): the policy judges its path (the name
         * at chdir) joined with path; the agent gets path relative to the
         * cwd's handle, so that it reaches the directory itself, wherever
         * it was moved since (the kernel's cwd follows it too). */
        uint32_t dirh;
        blen = layer_cwd_copy_h(t->buf, sizeof(t->buf), &dirh);
        if (blen < 0)
            return (int)blen;
        if (blen > 0) {
            long n = shunt_path_normalize(t->buf, path, t->norm,
                                          sizeof(t->norm));
            if (n < 0)
                return (int)n;
            t->mode = policy_mode(t->norm);
            /* The kernel's cwd is not there: a local decision gives the
             * original call the absolute path. */
            t->lpath = t->norm;
            if (layer_is_remote(t->mode)) {
                int r = join(t, (size_t)blen, path);
                t->lpath = t->rpath;
                if (r == 0 && dirh != SHUNT_AT_ROOT) {
                    t->dirh = dirh;
                    t->rpath = path;
                }
                return r;
            }
            return 0;
        }
    }
    if (dirfd == AT_FDCWD) {
        blen = LSYS2(SYS_getcwd, t->buf, sizeof(t->buf));
        if (blen < 0)
            return (int)blen;
        blen = (long)strlen(t->buf); /* the syscall counts the NUL */
    } else {
        char p[48];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", dirfd);
        blen = LSYS4(SYS_readlinkat, AT_FDCWD, p, t->buf, sizeof(t->buf) - 1);
        if (blen < 0)
            return 0; /* not a dir fd we can name: the real call decides */
        t->buf[blen] = '\0';
        if (t->buf[0] != '/')
            return 0;
    }
    if (t->buf[0] != '/')
        return 0; /* "(unreachable)" cwd */
    long n = shunt_path_normalize(t->buf, path, t->norm, sizeof(t->norm));
    if (n < 0)
        return (int)n;
    t->mode = policy_mode(t->norm);
    if (layer_is_remote(t->mode))
        return join(t, (size_t)blen, path);
    return 0;
}

/* What a call that takes AT_EMPTY_PATH resolves: "" with the flag names
 * dirfd itself, which for the cwd (the remote one, or the kernel's, whose
 * path the policy judges like any other) and for a remote directory's fd
 * is ".".  For any other fd it stays "": layer_resolve() refuses it and
 * the caller's own fd handling (or the original call, with dirfd and ""
 * as they came) decides. */
const char *layer_empty_path(int dirfd, const char *path, int flags)
{
    if (!path || path[0] || !(flags & AT_EMPTY_PATH))
        return path;
    if (dirfd == AT_FDCWD)
        return ".";
    if (!shunt_fdt_is_ours(dirfd))
        return path;
    shunt_rfile_t *f = shunt_fdt_get(dirfd);
    int dir = f && f->kind == SHUNT_RF_DIR;
    shunt_rfile_unref(f);
    return dir ? "." : path;
}

/* A path that is not local: the hook's work from here on is the layer's
 * (RPCs, the fd table), done with signals blocked (layer.h). */
int layer_resolve(int dirfd, const char *path, layer_target_t *t)
{
    int r = resolve(dirfd, path, t);
    if (r == 0 && t->mode != SHUNT_MODE_LOCAL)
        layer_hold();
    return r;
}

/* The fd a local path names: /proc/self/fd/N, /proc/thread-self/fd/N,
 * /proc/PID/fd/N (this process), /dev/fd/N and, with std, /dev/stdin,
 * /dev/stdout, /dev/stderr (symlinks themselves: readlink of them is the
 * kernel's).  -1 for any other path.  The kernel would reach the fd's
 * file, which for a remote fd is the layer's memfd. */
int layer_fd_of_path(const char *norm, int std)
{
    static const char *const dirs[] = {"/proc/self/fd/", "/proc/thread-self/fd/",
                                       "/dev/fd/"};
    const char *n = NULL;
    if (std) {
        if (strcmp(norm, "/dev/stdin") == 0)
            return 0;
        if (strcmp(norm, "/dev/stdout") == 0)
            return 1;
        if (strcmp(norm, "/dev/stderr") == 0)
            return 2;
    }
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !n; i++)
        if (strncmp(norm, dirs[i], strlen(dirs[i])) == 0)
            n = norm + strlen(dirs[i]);
    if (!n && strncmp(norm, "/proc/", 6) == 0 && norm[6] >= '1' &&
        norm[6] <= '9') {
        char mine[40];
        int l = snprintf(mine, sizeof(mine), "/proc/%ld/fd/", LSYS0(SYS_getpid));
        if (strncmp(norm, mine, (size_t)l) == 0)
            n = norm + l;
    }
    if (!n || *n < '0' || *n > '9')
        return -1;
    long fd = 0;
    for (; *n >= '0' && *n <= '9'; n++) {
        fd = fd * 10 + (*n - '0');
        if (fd > SHUNT_FDT_MAX)
            return -1;
    }
    return *n ? -1 : (int)fd;
}
