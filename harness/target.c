/* Targets: rootfs, config.json, network namespaces, runc lifecycle, state. */
#include "target.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shunt/log.h"
#include "shunt/util.h"

extern char **environ;

#define ERRLEN 4096
#define STATE_VERSION 1
#define DEFAULT_READY_MS 15000

/* ---- JSON writer ------------------------------------------------------ */

static void jput(shunt_json_t *j, const char *s, size_t n)
{
    if (j->oom)
        return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 1024;
        while (cap < j->len + n + 1)
            cap *= 2;
        char *nb = realloc(j->buf, cap);
        if (!nb) {
            j->oom = 1;
            return;
        }
        j->buf = nb;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = 0;
}

static void jsep(shunt_json_t *j)
{
    if (j->comma)
        jput(j, ",", 1);
    j->comma = 0;
}

void shunt_json_obj(shunt_json_t *j) { jsep(j); jput(j, "{", 1); }
void shunt_json_arr(shunt_json_t *j) { jsep(j); jput(j, "[", 1); }
void shunt_json_obj_end(shunt_json_t *j) { jput(j, "}", 1); j->comma = 1; }
void shunt_json_arr_end(shunt_json_t *j) { jput(j, "]", 1); j->comma = 1; }

static void jstring(shunt_json_t *j, const char *s)
{
    jput(j, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            jput(j, esc, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            jput(j, esc, 6);
        } else {
            jput(j, (const char *)p, 1);
        }
    }
    jput(j, "\"", 1);
}

void shunt_json_key(shunt_json_t *j, const char *key)
{
    jsep(j);
    jstring(j, key);
    jput(j, ":", 1);
}

void shunt_json_str(shunt_json_t *j, const char *s)
{
    jsep(j);
    jstring(j, s);
    j->comma = 1;
}

void shunt_json_int(shunt_json_t *j, long long v)
{
    char b[32];
    jsep(j);
    int n = snprintf(b, sizeof(b), "%lld", v);
    jput(j, b, (size_t)n);
    j->comma = 1;
}

void shunt_json_bool(shunt_json_t *j, int v)
{
    jsep(j);
    jput(j, v ? "true" : "false", v ? 4 : 5);
    j->comma = 1;
}

void shunt_json_free(shunt_json_t *j)
{
    free(j->buf);
    memset(j, 0, sizeof(*j));
}

/* ---- processes -------------------------------------------------------- */

static void join_argv(const char *const *argv, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; argv[i] && o + 1 < outlen; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s", i ? " " : "", argv[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Runs argv (PATH search, no shell). With out_fd >= 0, stdout and stderr go
 * there; otherwise both are captured into out. Returns the exit status, 128+
 * signal, or -1 if it could not be started (out says why). */
static int run_argv(const char *const *argv, int out_fd, char *out, size_t outlen)
{
    int p[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    char cmd[512];
    join_argv(argv, cmd, sizeof(cmd));
    LOG_DEBUG("run: %s", cmd);
    if (out && outlen)
        out[0] = 0;
    if (out_fd < 0 && pipe2(p, O_CLOEXEC) < 0) {
        snprintf(out, outlen, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd >= 0 ? out_fd : p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out_fd >= 0 ? out_fd : p[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (p[1] >= 0)
        close(p[1]);
    if (rc != 0) {
        if (p[0] >= 0)
            close(p[0]);
        snprintf(out, outlen, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    size_t got = 0;
    if (p[0] >= 0) {
        char buf[1024];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof(buf))) != 0) {
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            size_t room = outlen > got + 1 ? outlen - got - 1 : 0;
            size_t take = (size_t)n < room ? (size_t)n : room;
            memcpy(out + got, buf, take);
            got += take;
        }
        close(p[0]);
        while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == ' '))
            got--;
        if (outlen)
            out[got] = 0;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(out, outlen, "waitpid: %s", strerror(errno));
            return -1;
        }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs argv and turns a failure into "`cmd` failed (exit N): output". */
static int run_ok(const char *const *argv, char *err, size_t errlen)
{
    char out[2048], cmd[512];
    int rc = run_argv(argv, -1, out, sizeof(out));
    if (rc == 0)
        return 0;
    join_argv(argv, cmd, sizeof(cmd));
    if (rc < 0)
        snprintf(err, errlen, "`%s`: %s", cmd, out);
    else
        snprintf(err, errlen, "`%s` failed (exit %d): %s", cmd, rc,
                 out[0] ? out : "(no output)");
    return -1;
}

#define RUN(err, errlen, ...)                                              \
    run_ok((const char *const[]){__VA_ARGS__, NULL}, err, errlen)

/* Appends the last lines of a log file to err, indented. */
static void append_tail(char *err, size_t errlen, const char *what,
                        const char *path)
{
    size_t len = strlen(err);
    char buf[1600];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err + len, errlen - len, "\n  (no log at %s)", path);
        return;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    char *s = buf;
    if (from > 0 && (s = strchr(buf, '\n')))
        s++;
    else if (from > 0)
        s = buf;
    int w = snprintf(err + len, errlen - len, "\n  %s (%s)%s", what, path,
                     *s ? ", last lines:" : " is empty");
    if (w < 0 || (size_t)w >= errlen - len)
        return;
    len += (size_t)w;
    for (char *line = strtok(s, "\n"); line && len + 8 < errlen;
         line = strtok(NULL, "\n")) {
        w = snprintf(err + len, errlen - len, "\n    | %s", line);
        if (w < 0)
            break;
        len += (size_t)w;
        if (len >= errlen)
            break;
    }
}

/* ---- files ------------------------------------------------------------ */

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (shunt_fmt(tmp, sizeof(tmp), "%s", path) < 0)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return (mkdir(tmp, mode) < 0 && errno != EEXIST) ? -1 : 0;
}

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
static int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static int write_all_fd(int fd, const void *data, size_t len)
{
    return shunt_write_full(fd, data, len) < 0 ? -1 : 0;
}

static int write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    int rc = write_all_fd(fd, data, strlen(data));
    if (close(fd) < 0)
        rc = -1;
    return rc;
}

/* Writes the whole file atomically (tmp + rename). */
static int write_atomic(const char *path, const char *data)
{
    char tmp[PATH_MAX];
    if (shunt_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0)
        return -1;
    if (write_file(tmp, data, 0644) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

static int copy_fd(int in, int out)
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
        if (write_all_fd(out, buf, (size_t)n) < 0)
            return -1;
    }
}

/* Copies a host /etc entry into the rootfs: symlinks as symlinks, dirs
 * recursively, regular files with their mode; anything else is skipped. */
static int copy_tree(const char *src, const char *dst, int depth)
{
    struct stat st;
    if (lstat(src, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(src, target, sizeof(target) - 1);
        if (n < 0)
            return -1;
        target[n] = 0;
        return symlink(target, dst) < 0 && errno != EEXIST ? -1 : 0;
    }
    if (S_ISREG(st.st_mode)) {
        int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (in < 0)
            return errno == EACCES ? 0 : -1;
        int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                       st.st_mode & 07777);
        int rc = out < 0 ? -1 : copy_fd(in, out);
        if (out >= 0 && (fchmod(out, st.st_mode & 07777) < 0 || close(out) < 0))
            rc = -1;
        close(in);
        return rc;
    }
    if (!S_ISDIR(st.st_mode) || depth > 8)
        return 0;
    if (mkdir(dst, st.st_mode & 07777) < 0 && errno != EEXIST)
        return -1;
    DIR *d = opendir(src);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char s2[PATH_MAX], d2[PATH_MAX];
        if (shunt_fmt(s2, sizeof(s2), "%s/%s", src, e->d_name) < 0 ||
            shunt_fmt(d2, sizeof(d2), "%s/%s", dst, e->d_name) < 0)
            continue;
        rc = copy_tree(s2, d2, depth + 1);
    }
    closedir(d);
    return rc;
}

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
    int rc = src_fd >= 0 ? copy_fd(src_fd, fd) : write_all_fd(fd, data, len);
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

/* ---- state ------------------------------------------------------------ */

typedef struct {
    char id[96];
    char role[16];
    char svc[SHUNT_NAME_MAX + 1];
    char ip[16];
    int pid;
    unsigned long long start;
} ctr_state_t;

typedef struct {
    char name[64];
    char scenario[4096];
    char hash[17];
    char status[16];
    int subnet;
    ctr_state_t ctr[SHUNT_MAX_SERVICES + 2];
    size_t n_ctr;
} state_t;

static void state_dir(const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", SHUNT_STATE_ROOT, name);
}

static int state_write(const state_t *st, char *err, size_t errlen)
{
    size_t cap = 8192 + st->n_ctr * 256, o = 0;
    char *buf = malloc(cap), path[PATH_MAX];
    if (!buf)
        return snprintf(err, errlen, "out of memory"), -1;
    o += (size_t)snprintf(buf + o, cap - o,
                          "version %d\nname %s\nscenario %s\nhash %s\nsubnet %d\n"
                          "status %s\n",
                          STATE_VERSION, st->name, st->scenario, st->hash,
                          st->subnet, st->status);
    for (size_t i = 0; i < st->n_ctr && o < cap; i++) {
        const ctr_state_t *c = &st->ctr[i];
        o += (size_t)snprintf(buf + o, cap - o, "ctr %s %s %s %s %d %llu\n", c->id,
                              c->role, c->svc[0] ? c->svc : "-", c->ip, c->pid,
                              c->start);
    }
    snprintf(path, sizeof(path), "%s/%s/state", SHUNT_STATE_ROOT, st->name);
    int rc = write_atomic(path, buf);
    free(buf);
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return rc;
}

/* 0 on success, -1 with errno ENOENT when there is no state file. */
static int state_read(const char *name, state_t *st)
{
    char path[PATH_MAX], line[4200];
    memset(st, 0, sizeof(*st));
    snprintf(path, sizeof(path), "%s/%s/state", SHUNT_STATE_ROOT, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    snprintf(st->name, sizeof(st->name), "%s", name);
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        char *val = strchr(line, ' ');
        if (!val)
            continue;
        *val++ = 0;
        if (strcmp(line, "scenario") == 0)
            snprintf(st->scenario, sizeof(st->scenario), "%s", val);
        else if (strcmp(line, "hash") == 0)
            snprintf(st->hash, sizeof(st->hash), "%s", val);
        else if (strcmp(line, "status") == 0)
            snprintf(st->status, sizeof(st->status), "%s", val);
        else if (strcmp(line, "subnet") == 0)
            st->subnet = atoi(val);
        else if (strcmp(line, "ctr") == 0 && st->n_ctr < SHUNT_MAX_SERVICES + 2) {
            ctr_state_t *c = &st->ctr[st->n_ctr];
            if (sscanf(val, "%95s %15s %20s %15s %d %llu", c->id, c->role, c->svc,
                       c->ip, &c->pid, &c->start) == 6) {
                if (strcmp(c->svc, "-") == 0)
                    c->svc[0] = 0;
                st->n_ctr++;
            }
        }
    }
    fclose(f);
    return 0;
}

/* Start time of a process in clock ticks since boot (0 if gone): together
 * with the pid it names one process, immune to pid reuse. */
static unsigned long long proc_start(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* Fields after the command: state(3) ... starttime(22). */
    unsigned long long v = 0;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "))
        if (++field == 22) {
            v = strtoull(tok, NULL, 10);
            break;
        }
    return v;
}

static int ino_of(const char *path, ino_t *ino, dev_t *dev)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    *ino = st.st_ino;
    *dev = st.st_dev;
    return 0;
}

/* Alive: the recorded process still runs and sits in the container's netns. */
static int ctr_alive(const ctr_state_t *c)
{
    if (c->pid <= 0 || proc_start(c->pid) != c->start)
        return 0;
    char a[128], b[128];
    ino_t ia, ib;
    dev_t da, db;
    snprintf(a, sizeof(a), "/proc/%d/ns/net", c->pid);
    snprintf(b, sizeof(b), "%s/%s", SHUNT_NETNS_DIR, c->id);
    if (ino_of(a, &ia, &da) < 0 || ino_of(b, &ib, &db) < 0)
        return 0;
    return ia == ib && da == db;
}

static int netns_exists(const char *ns)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", SHUNT_NETNS_DIR, ns);
    return access(p, F_OK) == 0;
}

/* Why the state is not a healthy, complete target; NULL when it is. */
static const char *state_problem(const state_t *st, char *buf, size_t len)
{
    char br[96];
    if (strcmp(st->status, "up") != 0) {
        snprintf(buf, len, "status is \"%s\" (an earlier up did not finish)",
                 st->status[0] ? st->status : "unknown");
        return buf;
    }
    snprintf(br, sizeof(br), "shunt-%s-br", st->name);
    if (!netns_exists(br)) {
        snprintf(buf, len, "network namespace %s is missing", br);
        return buf;
    }
    int have_target = 0;
    for (size_t i = 0; i < st->n_ctr; i++) {
        have_target |= strcmp(st->ctr[i].role, "target") == 0;
        if (!ctr_alive(&st->ctr[i])) {
            snprintf(buf, len, "container %s is not running (pid %d)",
                     st->ctr[i].id, st->ctr[i].pid);
            return buf;
        }
    }
    if (!have_target) {
        snprintf(buf, len, "no target container recorded");
        return buf;
    }
    return NULL;
}

/* Per-target lock file beside the state dir, removed by down. After
 * locking, the path must still name the locked inode, else retry. */
static int lock_target(const char *name, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/.%s.lock", SHUNT_STATE_ROOT, name);
    if (mkdir_p(SHUNT_STATE_ROOT, 0755) < 0)
        return snprintf(err, errlen, "cannot create %s: %s", SHUNT_STATE_ROOT,
                        strerror(errno)), -1;
    for (;;) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return snprintf(err, errlen, "cannot open %s: %s", path,
                            strerror(errno)), -1;
        if (flock(fd, LOCK_EX) < 0) {
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino)
            return fd;
        close(fd);
    }
}

static void unlock_target(const char *name, int fd, int remove_file)
{
    if (remove_file) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/.%s.lock", SHUNT_STATE_ROOT, name);
        unlink(path);
    }
    close(fd);
}

/* Global lock (the state root itself) around subnet allocation. */
static int lock_root(void)
{
    int fd = open(SHUNT_STATE_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Names of the existing state dirs. */
static int list_state_dirs(char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(SHUNT_STATE_ROOT);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !shunt_valid_name(e->d_name))
            continue;
        char **nn = realloc(*names, (*n + 1) * sizeof(*nn));
        if (!nn || !(nn[*n] = strdup(e->d_name))) {
            if (nn)
                *names = nn;
            closedir(d);
            return -1;
        }
        *names = nn;
        (*n)++;
    }
    closedir(d);
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Picks the lowest 10.200.N.0/24 not used by another target's state and
 * creates NAME's state dir with it, all under the global lock. */
static int allocate_subnet(state_t *st, char *err, size_t errlen)
{
    int fd = lock_root();
    if (fd < 0)
        return snprintf(err, errlen, "cannot lock %s: %s", SHUNT_STATE_ROOT,
                        strerror(errno)), -1;
    char **names;
    size_t n;
    unsigned char used[256] = {0};
    if (list_state_dirs(&names, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            state_t *other = malloc(sizeof(*other));
            if (other && strcmp(names[i], st->name) != 0 &&
                state_read(names[i], other) == 0 && other->subnet > 0 &&
                other->subnet < 256)
                used[other->subnet] = 1;
            free(other);
        }
        free_names(names, n);
    }
    st->subnet = 0;
    for (int s = 1; s <= 250 && !st->subnet; s++)
        if (!used[s])
            st->subnet = s;
    int rc = -1;
    char dir[PATH_MAX];
    state_dir(st->name, dir, sizeof(dir));
    if (!st->subnet)
        snprintf(err, errlen, "no free subnet: 250 targets are up");
    else if (mkdir(dir, 0700) < 0)
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    else
        rc = state_write(st, err, errlen);
    close(fd);
    return rc;
}

/* ---- leftovers: runc containers and netns owned by a target ----------- */

/* runc containers whose bundle lives in NAME's state dir (NAME NULL: in
 * any state dir). Parses `runc list --format json`. */
static int runc_owned(const char *name, char ***ids, size_t *n, char ***owners)
{
    char *out = malloc(1 << 20);
    *ids = NULL;
    *n = 0;
    if (owners)
        *owners = NULL;
    if (!out)
        return -1;
    if (run_argv((const char *const[]){"runc", "list", "--format", "json", NULL},
                 -1, out, 1 << 20) != 0) {
        LOG_WARN("runc list failed: %s", out);
        free(out);
        return -1;
    }
    char prefix[PATH_MAX];
    snprintf(prefix, sizeof(prefix), "%s/%s%s", SHUNT_STATE_ROOT,
             name ? name : "", name ? "/" : "");
    for (char *p = out; (p = strstr(p, "\"id\":\""));) {
        p += 6;
        char *end = strchr(p, '"');
        if (!end)
            break;
        char id[256];
        snprintf(id, sizeof(id), "%.*s", (int)(end - p), p);
        char *b = strstr(end, "\"bundle\":\"");
        char *next = strstr(end, "\"id\":\"");
        if (!b || (next && b > next))
            continue;
        b += 10;
        char *bend = strchr(b, '"');
        if (!bend)
            break;
        size_t blen = (size_t)(bend - b);
        if (blen < strlen(prefix) || strncmp(b, prefix, strlen(prefix)) != 0)
            continue;
        char **ni = realloc(*ids, (*n + 1) * sizeof(*ni));
        if (!ni)
            break;
        *ids = ni;
        ni[*n] = strdup(id);
        if (owners) {
            char **no = realloc(*owners, (*n + 1) * sizeof(*no));
            if (!no)
                break;
            *owners = no;
            const char *o = b + strlen(SHUNT_STATE_ROOT) + 1;
            no[*n] = strndup(o, strcspn(o, "/\""));
        }
        (*n)++;
        p = bend;
    }
    free(out);
    return 0;
}

/* A netns named shunt-NAME-X belongs to NAME unless a longer target name
 * with state also prefixes it (shunt-a-b-c: target a-b beats target a). */
static int netns_owned_by(const char *ns, const char *name, char **others,
                          size_t n_others)
{
    char prefix[96];
    snprintf(prefix, sizeof(prefix), "shunt-%s-", name);
    size_t pl = strlen(prefix);
    if (strncmp(ns, prefix, pl) != 0 || !shunt_valid_name(ns + pl))
        return 0;
    for (size_t i = 0; i < n_others; i++) {
        char op[96];
        snprintf(op, sizeof(op), "shunt-%s-", others[i]);
        if (strlen(others[i]) > strlen(name) && strncmp(ns, op, strlen(op)) == 0)
            return 0;
    }
    return 1;
}

static int list_netns(char ***names, size_t *n, const char *prefix)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(SHUNT_NETNS_DIR);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char **nn = realloc(*names, (*n + 1) * sizeof(*nn));
        if (!nn)
            break;
        *names = nn;
        if ((nn[*n] = strdup(e->d_name)))
            (*n)++;
    }
    closedir(d);
    return 0;
}

/* Unmounts anything mounted beneath dir (innermost first). */
static void unmount_under(const char *dir)
{
    char line[8192];
    size_t dl = strlen(dir);
    for (int pass = 0; pass < 8; pass++) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
            return;
        char found[PATH_MAX] = "";
        while (fgets(line, sizeof(line), f)) {
            char mp[PATH_MAX];
            if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                continue;
            if (strncmp(mp, dir, dl) == 0 && (mp[dl] == '/' || mp[dl] == 0) &&
                strlen(mp) > strlen(found))
                snprintf(found, sizeof(found), "%s", mp);
        }
        fclose(f);
        if (!found[0])
            return;
        LOG_DEBUG("umount %s", found);
        if (umount2(found, MNT_DETACH) < 0) {
            LOG_WARN("umount %s: %s", found, strerror(errno));
            return;
        }
    }
}

/* Removes everything NAME owns. Returns the number of things that could
 * not be removed (err says which), or 0; *removed counts what went. */
static int teardown(const char *name, int *removed, char *err, size_t errlen)
{
    char dir[PATH_MAX], msg[ERRLEN];
    int left = 0;
    state_dir(name, dir, sizeof(dir));
    err[0] = 0;

    char **ids;
    size_t n_ids;
    if (runc_owned(name, &ids, &n_ids, NULL) == 0) {
        for (size_t i = 0; i < n_ids; i++) {
            LOG_INFO("removing container %s", ids[i]);
            if (RUN(msg, sizeof(msg), "runc", "delete", "-f", ids[i]) < 0) {
                LOG_WARN("%s", msg);
                snprintf(err, errlen, "%s", msg);
                left++;
            } else {
                (*removed)++;
            }
        }
        free_names(ids, n_ids);
    } else {
        snprintf(err, errlen, "cannot list runc containers (is runc installed?)");
        left++;
    }

    char **others, **nss;
    size_t n_others, n_ns;
    char prefix[96];
    snprintf(prefix, sizeof(prefix), "shunt-%s-", name);
    if (list_state_dirs(&others, &n_others) < 0) {
        others = NULL;
        n_others = 0;
    }
    list_netns(&nss, &n_ns, prefix);
    for (size_t i = 0; i < n_ns; i++) {
        if (!netns_owned_by(nss[i], name, others, n_others))
            continue;
        LOG_INFO("removing network namespace %s", nss[i]);
        if (RUN(msg, sizeof(msg), "ip", "netns", "delete", nss[i]) < 0) {
            LOG_WARN("%s", msg);
            snprintf(err, errlen, "%s", msg);
            left++;
        } else {
            (*removed)++;
        }
    }
    free_names(nss, n_ns);
    free_names(others, n_others);

    unmount_under(dir);
    struct stat st;
    if (lstat(dir, &st) == 0) {
        (*removed)++;
        if (rm_rf(dir) < 0) {
            snprintf(err, errlen, "cannot remove %s: %s", dir, strerror(errno));
            left++;
        }
    }
    return left;
}

/* ---- config hash ------------------------------------------------------ */

typedef struct {
    uint64_t h;
} hash_t;

static void hbytes(hash_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t len = n;
    for (size_t i = 0; i < sizeof(len); i++) { /* length first: no ambiguity */
        h->h ^= (unsigned char)(len >> (8 * i));
        h->h *= 1099511628211ull;
    }
    for (size_t i = 0; i < n; i++) {
        h->h ^= b[i];
        h->h *= 1099511628211ull;
    }
}

static void hstr(hash_t *h, const char *s) { hbytes(h, s ? s : "", s ? strlen(s) : 0); }

static void hint(hash_t *h, long long v) { hbytes(h, &v, sizeof(v)); }

static int hfiles(hash_t *h, const shunt_filelist_t *fl, char *err, size_t errlen)
{
    hint(h, (long long)fl->n);
    for (size_t i = 0; i < fl->n; i++) {
        const shunt_file_spec_t *f = &fl->v[i];
        hstr(h, f->path);
        hint(h, f->mode);
        if (f->content) {
            hbytes(h, f->content, f->content_len);
            continue;
        }
        int fd = open(f->from, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return snprintf(err, errlen, "cannot read %s: %s", f->from,
                            strerror(errno)), -1;
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            hbytes(h, buf, (size_t)n);
        close(fd);
    }
    return 0;
}

static void henv(hash_t *h, const shunt_envlist_t *e)
{
    hint(h, (long long)e->n);
    for (size_t i = 0; i < e->n; i++) {
        hstr(h, e->v[i].key);
        hstr(h, e->v[i].value);
    }
}

static int config_hash(const shunt_target_spec_t *t, const char *init,
                       char out[17], char *err, size_t errlen)
{
    hash_t h = {14695981039346656037ull};
    struct stat st;
    hstr(&h, "shunt-target-v1");
    hstr(&h, init);
    if (stat(init, &st) == 0) { /* a rebuilt init means a new target */
        hint(&h, (long long)st.st_mtim.tv_sec);
        hint(&h, st.st_mtim.tv_nsec);
        hint(&h, (long long)st.st_size);
    }
    hstr(&h, t->name);
    hstr(&h, t->hostname);
    henv(&h, &t->env);
    hint(&h, (long long)t->n_hosts);
    for (size_t i = 0; i < t->n_hosts; i++) {
        hstr(&h, t->hosts[i].ip);
        for (size_t j = 0; j < t->hosts[i].n_names; j++)
            hstr(&h, t->hosts[i].names[j]);
        hstr(&h, "\n");
    }
    if (hfiles(&h, &t->files, err, errlen) < 0)
        return -1;
    hint(&h, (long long)t->n_services);
    for (size_t i = 0; i < t->n_services; i++) {
        const shunt_service_spec_t *s = &t->services[i];
        hstr(&h, s->name);
        for (size_t j = 0; j < s->n_command; j++)
            hstr(&h, s->command[j]);
        hstr(&h, "\n");
        hint(&h, s->port);
        for (size_t j = 0; j < s->n_aliases; j++)
            hstr(&h, s->aliases[j]);
        hstr(&h, "\n");
        if (hfiles(&h, &s->files, err, errlen) < 0)
            return -1;
        henv(&h, &s->env);
    }
    hstr(&h, t->dns_domain);
    for (size_t i = 0; i < t->n_dns_records; i++) {
        hstr(&h, t->dns_records[i].name);
        hstr(&h, t->dns_records[i].ip);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h.h);
    return 0;
}

/* ---- containers: rootfs and config.json -------------------------------- */

/* One container of a target as up builds it. */
typedef struct {
    ctr_state_t *st;
    const char *const *argv;
    const shunt_envlist_t *env;
    const shunt_filelist_t *files;
    const char *hostname;
    int port;           /* readiness port, 0 for none */
    int is_target;
    char bundle[PATH_MAX];
} ctr_t;

static const char *const etc_whitelist[] = {
    "passwd", "group", "nsswitch.conf", "ld.so.cache", "ld.so.conf",
    "ld.so.conf.d", "alternatives", "ssl", "ca-certificates", "os-release",
    "protocols", "services", "localtime", "timezone", "host.conf", "gai.conf",
    "mime.types", "debian_version", NULL,
};

/* Top-level dirs that are symlinks into /usr on merged-/usr systems. */
static const char *const sys_dirs[] = {"bin", "sbin", "lib", "lib32", "lib64",
                                       "libx32", NULL};

static const char *const empty_dirs[] = {
    "proc", "dev", "sys", "tmp", "usr", "root", "run", "var", "var/tmp",
    "var/lib", "var/log", "home", "srv", "opt", "mnt", "etc", ".shunt", NULL,
};

static int build_rootfs(const ctr_t *c, const char *hosts, const char *resolv,
                        const char *extra_path, const char *extra_content,
                        char *err, size_t errlen)
{
    char root[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    if (shunt_fmt(root, sizeof(root), "%s/rootfs", c->bundle) < 0 || mkdir_p(root, 0755) < 0)
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
    for (size_t i = 0; sys_dirs[i]; i++) {
        struct stat st;
        snprintf(q, sizeof(q), "/%s", sys_dirs[i]);
        if (shunt_fmt(p, sizeof(p), "%s/%s", root, sys_dirs[i]) < 0 || lstat(q, &st) < 0)
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
    for (size_t i = 0; etc_whitelist[i]; i++) {
        snprintf(q, sizeof(q), "/etc/%s", etc_whitelist[i]);
        if (shunt_fmt(p, sizeof(p), "%s/etc/%s", root, etc_whitelist[i]) < 0 ||
            copy_tree(q, p, 0) < 0)
            return snprintf(err, errlen, "cannot copy %s into %s: %s", q, p,
                            strerror(errno)), -1;
    }
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
    for (size_t i = 0; c->files && i < c->files->n; i++) {
        const shunt_file_spec_t *f = &c->files->v[i];
        int fd = -1;
        if (f->from && (fd = open(f->from, O_RDONLY | O_CLOEXEC)) < 0)
            return snprintf(err, errlen, "cannot read %s: %s", f->from,
                            strerror(errno)), -1;
        int rc = rootfs_write(root, f->path, f->content, f->content_len, fd,
                              f->mode, err, errlen);
        if (fd >= 0)
            close(fd);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static void jmount(shunt_json_t *j, const char *dst, const char *type,
                   const char *src, const char *const *opts)
{
    shunt_json_obj(j);
    shunt_json_key(j, "destination");
    shunt_json_str(j, dst);
    shunt_json_key(j, "type");
    shunt_json_str(j, type);
    shunt_json_key(j, "source");
    shunt_json_str(j, src);
    shunt_json_key(j, "options");
    shunt_json_arr(j);
    for (size_t i = 0; opts[i]; i++)
        shunt_json_str(j, opts[i]);
    shunt_json_arr_end(j);
    shunt_json_obj_end(j);
}

static void jstrs(shunt_json_t *j, const char *key, const char *const *v)
{
    shunt_json_key(j, key);
    shunt_json_arr(j);
    for (size_t i = 0; v[i]; i++)
        shunt_json_str(j, v[i]);
    shunt_json_arr_end(j);
}

#define OPTS(...) ((const char *const[]){__VA_ARGS__, NULL})

static int write_config(const ctr_t *c, const char *init, int dns, char *err,
                        size_t errlen)
{
    static const char *const caps[] = {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
        "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", NULL,
    };
    static const char *const dns_caps[] = {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETGID", "CAP_SETUID",
        "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_KILL", NULL,
    };
    const char *const *cs = dns ? dns_caps : caps;
    shunt_json_t j = {0};
    shunt_json_obj(&j);
    shunt_json_key(&j, "ociVersion");
    shunt_json_str(&j, "1.0.2-dev");

    shunt_json_key(&j, "process");
    shunt_json_obj(&j);
    shunt_json_key(&j, "terminal");
    shunt_json_bool(&j, 0);
    shunt_json_key(&j, "user");
    shunt_json_obj(&j);
    shunt_json_key(&j, "uid");
    shunt_json_int(&j, 0);
    shunt_json_key(&j, "gid");
    shunt_json_int(&j, 0);
    shunt_json_obj_end(&j);
    jstrs(&j, "args", c->argv);
    shunt_json_key(&j, "env");
    shunt_json_arr(&j);
    for (size_t i = 0; i < c->env->n; i++) {
        size_t l = strlen(c->env->v[i].key) + strlen(c->env->v[i].value) + 2;
        char *kv = malloc(l);
        if (!kv) {
            shunt_json_free(&j);
            return snprintf(err, errlen, "out of memory"), -1;
        }
        snprintf(kv, l, "%s=%s", c->env->v[i].key, c->env->v[i].value);
        shunt_json_str(&j, kv);
        free(kv);
    }
    shunt_json_arr_end(&j);
    shunt_json_key(&j, "cwd");
    shunt_json_str(&j, "/");
    shunt_json_key(&j, "capabilities");
    shunt_json_obj(&j);
    jstrs(&j, "bounding", cs);
    jstrs(&j, "effective", cs);
    jstrs(&j, "permitted", cs);
    shunt_json_obj_end(&j);
    /* No rlimits: the container inherits runc's, never above our hard limit. */
    shunt_json_key(&j, "noNewPrivileges");
    shunt_json_bool(&j, 1);
    shunt_json_obj_end(&j);

    shunt_json_key(&j, "root");
    shunt_json_obj(&j);
    shunt_json_key(&j, "path");
    shunt_json_str(&j, "rootfs");
    shunt_json_key(&j, "readonly");
    shunt_json_bool(&j, 0);
    shunt_json_obj_end(&j);
    shunt_json_key(&j, "hostname");
    shunt_json_str(&j, c->hostname);

    shunt_json_key(&j, "mounts");
    shunt_json_arr(&j);
    jmount(&j, "/proc", "proc", "proc", OPTS("nosuid", "noexec", "nodev"));
    jmount(&j, "/dev", "tmpfs", "tmpfs",
           OPTS("nosuid", "strictatime", "mode=755", "size=65536k"));
    jmount(&j, "/dev/pts", "devpts", "devpts",
           OPTS("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                "gid=5"));
    jmount(&j, "/dev/shm", "tmpfs", "shm",
           OPTS("nosuid", "noexec", "nodev", "mode=1777", "size=65536k"));
    jmount(&j, "/dev/mqueue", "mqueue", "mqueue", OPTS("nosuid", "noexec", "nodev"));
    jmount(&j, "/sys", "sysfs", "sysfs", OPTS("nosuid", "noexec", "nodev", "ro"));
    jmount(&j, "/tmp", "tmpfs", "tmpfs", OPTS("nosuid", "nodev", "mode=1777"));
    jmount(&j, "/usr", "bind", "/usr", OPTS("rbind", "ro", "nodev"));
    for (size_t i = 0; sys_dirs[i]; i++) {
        struct stat st;
        char src[64];
        snprintf(src, sizeof(src), "/%s", sys_dirs[i]);
        if (lstat(src, &st) == 0 && S_ISDIR(st.st_mode))
            jmount(&j, src, "bind", src, OPTS("rbind", "ro", "nodev"));
    }
    if (c->is_target)
        jmount(&j, "/.shunt/init", "bind", init, OPTS("bind", "ro", "nodev"));
    shunt_json_arr_end(&j);

    char nspath[PATH_MAX];
    snprintf(nspath, sizeof(nspath), "%s/%s", SHUNT_NETNS_DIR, c->st->id);
    shunt_json_key(&j, "linux");
    shunt_json_obj(&j);
    shunt_json_key(&j, "resources");
    shunt_json_obj(&j);
    shunt_json_key(&j, "devices");
    shunt_json_arr(&j);
    shunt_json_obj(&j);
    shunt_json_key(&j, "allow");
    shunt_json_bool(&j, 0);
    shunt_json_key(&j, "access");
    shunt_json_str(&j, "rwm");
    shunt_json_obj_end(&j);
    shunt_json_arr_end(&j);
    shunt_json_obj_end(&j);
    shunt_json_key(&j, "namespaces");
    shunt_json_arr(&j);
    static const char *const nss[] = {"pid", "ipc", "uts", "mount", NULL};
    for (size_t i = 0; nss[i]; i++) {
        shunt_json_obj(&j);
        shunt_json_key(&j, "type");
        shunt_json_str(&j, nss[i]);
        shunt_json_obj_end(&j);
    }
    shunt_json_obj(&j);
    shunt_json_key(&j, "type");
    shunt_json_str(&j, "network");
    shunt_json_key(&j, "path");
    shunt_json_str(&j, nspath);
    shunt_json_obj_end(&j);
    shunt_json_arr_end(&j);
    jstrs(&j, "maskedPaths",
          OPTS("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
               "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
               "/proc/sched_debug", "/sys/firmware", "/proc/scsi"));
    jstrs(&j, "readonlyPaths",
          OPTS("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
               "/proc/sysrq-trigger"));
    shunt_json_obj_end(&j);
    shunt_json_obj_end(&j);
    jput(&j, "\n", 1);

    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/config.json", c->bundle);
    int rc = j.oom ? (errno = ENOMEM, -1) : write_file(path, j.buf, 0600);
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    shunt_json_free(&j);
    return rc;
}

/* ---- network ---------------------------------------------------------- */

/* lo up in the container netns, eth0 = veth whose peer vNAME sits on the
 * bridge in the bridge netns. Nothing touches the host's netns. */
static int add_ctr_network(const char *br, const char *ns, const char *veth,
                           const char *ip, char *err, size_t errlen)
{
    char cidr[32];
    snprintf(cidr, sizeof(cidr), "%s/24", ip);
    if (RUN(err, errlen, "ip", "netns", "add", ns) < 0 ||
        RUN(err, errlen, "ip", "-n", ns, "link", "set", "lo", "up") < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "add", veth, "type", "veth",
            "peer", "name", "eth0", "netns", ns) < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "set", veth, "master", "br0") < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "set", veth, "up") < 0 ||
        RUN(err, errlen, "ip", "-n", ns, "addr", "add", cidr, "dev", "eth0") < 0 ||
        RUN(err, errlen, "ip", "-n", ns, "link", "set", "eth0", "up") < 0)
        return -1;
    return 0;
}

/* Connects to ip:port from inside netns ns until it answers, the watched
 * process dies, or timeout. 0 ready, 1 timeout, 2 watched process died. */
static int wait_tcp(const char *ns, const char *ip, int port, int watch_pid,
                    int timeout_ms, char *err, size_t errlen)
{
    char nspath[PATH_MAX];
    snprintf(nspath, sizeof(nspath), "%s/%s", SHUNT_NETNS_DIR, ns);
    pid_t pid = fork();
    if (pid < 0)
        return snprintf(err, errlen, "fork: %s", strerror(errno)), -1;
    if (pid == 0) {
        int nfd = open(nspath, O_RDONLY | O_CLOEXEC);
        if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0)
            _exit(3);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, ip, &sa.sin_addr);
        uint64_t deadline = shunt_now_ms() + (uint64_t)timeout_ms;
        while (shunt_now_ms() < deadline) {
            if (watch_pid > 0 && kill(watch_pid, 0) < 0 && errno == ESRCH)
                _exit(2);
            int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (s < 0)
                _exit(3);
            int rc = connect(s, (struct sockaddr *)&sa, sizeof(sa));
            if (rc < 0 && errno == EINPROGRESS) {
                struct pollfd pfd = {.fd = s, .events = POLLOUT};
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                if (poll(&pfd, 1, 500) == 1 &&
                    getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                    rc = 0;
            }
            close(s);
            if (rc == 0)
                _exit(0);
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        _exit(1);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return snprintf(err, errlen, "waitpid: %s", strerror(errno)), -1;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 3;
    if (code == 3)
        snprintf(err, errlen, "cannot enter network namespace %s", ns);
    return code == 3 ? -1 : code;
}

/* ---- up --------------------------------------------------------------- */

static void progress(const shunt_up_opts_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const shunt_up_opts_t *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->progress, fmt, ap);
    va_end(ap);
    fputc('\n', o->progress);
    fflush(o->progress);
}

static int start_ctr(ctr_t *c, char *err, size_t errlen)
{
    char log[PATH_MAX], pidf[PATH_MAX];
    snprintf(log, sizeof(log), "%s/log", c->bundle);
    snprintf(pidf, sizeof(pidf), "%s/pid", c->bundle);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return snprintf(err, errlen, "cannot open %s: %s", log, strerror(errno)), -1;
    /* runc run -d hands its stdout/stderr to the container's process. */
    const char *const argv[] = {"runc", "run", "-d", "--bundle", c->bundle,
                                "--pid-file", pidf, c->st->id, NULL};
    char out[512];
    int rc = run_argv(argv, fd, out, sizeof(out));
    close(fd);
    if (rc != 0) {
        char cmd[1024];
        join_argv(argv, cmd, sizeof(cmd));
        if (rc < 0)
            snprintf(err, errlen, "`%s`: %s", cmd, out);
        else
            snprintf(err, errlen, "`%s` failed (exit %d)", cmd, rc);
        append_tail(err, errlen, "its output", log);
        return -1;
    }
    FILE *f = fopen(pidf, "re");
    if (!f || fscanf(f, "%d", &c->st->pid) != 1) {
        if (f)
            fclose(f);
        return snprintf(err, errlen, "runc wrote no pid to %s", pidf), -1;
    }
    fclose(f);
    c->st->start = proc_start(c->st->pid);
    return 0;
}

static int ready_ctr(const shunt_up_opts_t *o, const char *target_ns, ctr_t *c,
                     const char *what, char *err, size_t errlen)
{
    int ms = o->ready_timeout_ms > 0 ? o->ready_timeout_ms : DEFAULT_READY_MS;
    char log[PATH_MAX];
    snprintf(log, sizeof(log), "%s/log", c->bundle);
    if (c->port > 0) {
        int rc = wait_tcp(target_ns, c->st->ip, c->port, c->st->pid, ms, err, errlen);
        if (rc == 1)
            snprintf(err, errlen,
                     "%s did not answer on %s:%d (TCP, from the target's network) "
                     "within %d ms",
                     what, c->st->ip, c->port, ms);
        else if (rc == 2)
            snprintf(err, errlen, "%s exited before its port %d answered", what,
                     c->port);
        if (rc != 0) {
            append_tail(err, errlen, "its log", log);
            return -1;
        }
    }
    if (!ctr_alive(c->st)) {
        snprintf(err, errlen, "%s is not running (pid %d)", what, c->st->pid);
        append_tail(err, errlen, "its log", log);
        return -1;
    }
    return 0;
}

static void append_hosts_line(char **buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append_hosts_line(char **buf, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = NULL;
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *nb = realloc(*buf, *len + (size_t)n + 1);
    if (nb) {
        memcpy(nb + *len, line, (size_t)n + 1);
        *buf = nb;
        *len += (size_t)n;
    }
    free(line);
}

/* Cluster names: the target and every service with its aliases. */
static void cluster_lines(const shunt_target_spec_t *t, const state_t *st,
                          char **buf, size_t *len)
{
    for (size_t i = 0; i < st->n_ctr; i++) {
        const ctr_state_t *c = &st->ctr[i];
        if (strcmp(c->role, "target") == 0) {
            append_hosts_line(buf, len, "%s\t%s %s.%s\n", c->ip, t->hostname,
                              t->hostname, t->dns_domain);
        } else if (strcmp(c->role, "service") == 0) {
            const shunt_service_spec_t *s = NULL;
            for (size_t k = 0; k < t->n_services; k++)
                if (strcmp(t->services[k].name, c->svc) == 0)
                    s = &t->services[k];
            if (!s)
                continue;
            append_hosts_line(buf, len, "%s\t%s %s.%s", c->ip, s->name, s->name,
                              t->dns_domain);
            for (size_t a = 0; a < s->n_aliases; a++)
                append_hosts_line(buf, len, " %s", s->aliases[a]);
            append_hosts_line(buf, len, "\n");
        }
    }
}

static int setup(const shunt_scenario_t *s, const shunt_up_opts_t *o,
                 state_t *st, ctr_t *ctrs, char *err, size_t errlen)
{
    const shunt_target_spec_t *t = &s->target;
    char dir[PATH_MAX], br[96], target_ns[96];
    state_dir(t->name, dir, sizeof(dir));
    snprintf(br, sizeof(br), "shunt-%s-br", t->name);

    /* Containers: dns (when services exist), services, target. */
    int has_dns = t->n_services > 0;
    static const char *const init_argv[] = {"/.shunt/init", NULL};
    char dns_listen[64];
    static shunt_envlist_t empty_env;
    static shunt_env_t path_env[] = {{"PATH", SHUNT_DEFAULT_PATH}};
    empty_env.v = path_env;
    empty_env.n = 1;
    snprintf(dns_listen, sizeof(dns_listen), "--listen-address=10.200.%d.3", st->subnet);
    const char *const dns_argv[] = {
        "/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv",
        "--no-hosts", "--addn-hosts=/etc/cluster.hosts", "--bind-interfaces",
        dns_listen, "--user=root", "--group=root", "--domain-needed",
        "--bogus-priv", "--log-facility=-", NULL,
    };
    size_t n = 0;
    if (has_dns) {
        ctr_state_t *c = &st->ctr[n];
        snprintf(c->id, sizeof(c->id), "shunt-%s-dns", t->name);
        snprintf(c->role, sizeof(c->role), "dns");
        snprintf(c->ip, sizeof(c->ip), "10.200.%u.3", (unsigned char)st->subnet);
        ctrs[n] = (ctr_t){.st = c, .argv = dns_argv, .env = &empty_env,
                          .hostname = "dns", .port = 53};
        n++;
    }
    for (size_t i = 0; i < t->n_services; i++) {
        const shunt_service_spec_t *sv = &t->services[i];
        ctr_state_t *c = &st->ctr[n];
        snprintf(c->id, sizeof(c->id), "shunt-%s-%s", t->name, sv->name);
        snprintf(c->role, sizeof(c->role), "service");
        snprintf(c->svc, sizeof(c->svc), "%s", sv->name);
        snprintf(c->ip, sizeof(c->ip), "10.200.%u.%u", (unsigned char)st->subnet,
                 (unsigned char)(10 + i));
        ctrs[n] = (ctr_t){.st = c, .argv = (const char *const *)sv->command,
                          .env = &sv->env, .files = &sv->files,
                          .hostname = sv->name, .port = sv->port};
        n++;
    }
    ctr_state_t *tc = &st->ctr[n];
    snprintf(tc->id, sizeof(tc->id), "shunt-%s-target", t->name);
    snprintf(tc->role, sizeof(tc->role), "target");
    snprintf(tc->ip, sizeof(tc->ip), "10.200.%u.2", (unsigned char)st->subnet);
    ctrs[n] = (ctr_t){.st = tc, .argv = init_argv, .env = &t->env,
                      .files = &t->files, .hostname = t->hostname, .is_target = 1};
    n++;
    st->n_ctr = n;
    snprintf(target_ns, sizeof(target_ns), "%s", tc->id);
    for (size_t i = 0; i < n; i++)
        if (shunt_fmt(ctrs[i].bundle, sizeof(ctrs[i].bundle), "%s/%s", dir,
                      ctrs[i].st->id) < 0)
            return snprintf(err, errlen, "state path too long"), -1;
    if (state_write(st, err, errlen) < 0)
        return -1;

    progress(o, "creating network 10.200.%d.0/24...", st->subnet);
    if (RUN(err, errlen, "ip", "netns", "add", br) < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "set", "lo", "up") < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "add", "br0", "type", "bridge") < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "set", "br0", "up") < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char veth[16];
        snprintf(veth, sizeof(veth), "v%u", (unsigned)i % 1000);
        if (add_ctr_network(br, ctrs[i].st->id, veth, ctrs[i].st->ip, err, errlen) < 0)
            return -1;
    }

    /* /etc/hosts, resolv.conf and the dnsmasq hosts file. */
    char *hosts = NULL, *chosts = NULL, *resolv = NULL;
    size_t hl = 0, cl = 0, rl = 0;
    append_hosts_line(&hosts, &hl,
                      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                      "ip6-loopback\n# cluster (shunt)\n");
    cluster_lines(t, st, &hosts, &hl);
    append_hosts_line(&chosts, &cl, "# served by the cluster dnsmasq\n");
    cluster_lines(t, st, &chosts, &cl);
    for (size_t i = 0; i < t->n_dns_records; i++)
        append_hosts_line(&chosts, &cl, "%s\t%s\n", t->dns_records[i].ip,
                          t->dns_records[i].name);
    if (has_dns)
        append_hosts_line(&resolv, &rl,
                          "nameserver 10.200.%d.3\nsearch %s\noptions timeout:1 "
                          "attempts:2\n",
                          st->subnet, t->dns_domain);
    else
        append_hosts_line(&resolv, &rl,
                          "# no cluster DNS: this target has no services, and the "
                          "host's resolvers are never used\noptions timeout:1 "
                          "attempts:1\n");
    char *thosts = NULL;
    size_t tl = 0;
    append_hosts_line(&thosts, &tl, "%s# target.hosts\n", hosts ? hosts : "");
    for (size_t i = 0; i < t->n_hosts; i++) {
        append_hosts_line(&thosts, &tl, "%s\t", t->hosts[i].ip);
        for (size_t k = 0; k < t->hosts[i].n_names; k++)
            append_hosts_line(&thosts, &tl, "%s%s", k ? " " : "", t->hosts[i].names[k]);
        append_hosts_line(&thosts, &tl, "\n");
    }
    int rc = (!hosts || !chosts || !resolv || !thosts) ? -1 : 0;
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int dns = strcmp(ctrs[i].st->role, "dns") == 0;
        rc = build_rootfs(&ctrs[i], ctrs[i].is_target ? thosts : hosts, resolv,
                          dns ? "/etc/cluster.hosts" : NULL, chosts, err, errlen);
        if (rc == 0)
            rc = write_config(&ctrs[i], o->init_path, dns, err, errlen);
    }
    free(hosts);
    free(chosts);
    free(resolv);
    free(thosts);
    if (rc < 0)
        return -1;

    for (size_t i = 0; i < n; i++) {
        ctr_t *c = &ctrs[i];
        char what[128];
        if (c->is_target)
            snprintf(what, sizeof(what), "target %s", t->name);
        else if (c->st->svc[0])
            snprintf(what, sizeof(what), "service %s", c->st->svc);
        else
            snprintf(what, sizeof(what), "cluster DNS");
        progress(o, "starting %s (%s)...", what, c->st->ip);
        if (start_ctr(c, err, errlen) < 0 || state_write(st, err, errlen) < 0 ||
            ready_ctr(o, target_ns, c, what, err, errlen) < 0)
            return -1;
    }
    snprintf(st->status, sizeof(st->status), "up");
    return state_write(st, err, errlen);
}

static void fill_info(const state_t *st, shunt_target_info_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", st->name);
    state_dir(st->name, out->state_dir, sizeof(out->state_dir));
    for (size_t i = 0; i < st->n_ctr; i++)
        if (strcmp(st->ctr[i].role, "target") == 0) {
            out->init_pid = st->ctr[i].pid;
            snprintf(out->ip, sizeof(out->ip), "%s", st->ctr[i].ip);
            snprintf(out->netns, sizeof(out->netns), "%s", st->ctr[i].id);
        }
}

int shunt_target_up(const shunt_scenario_t *s, const shunt_up_opts_t *o,
                    shunt_target_info_t *out, char *err, size_t errlen)
{
    const shunt_target_spec_t *t = &s->target;
    state_t *st = calloc(1, sizeof(*st));
    state_t *old = calloc(1, sizeof(*old));
    ctr_t *ctrs = calloc(SHUNT_MAX_SERVICES + 2, sizeof(*ctrs));
    int rc = -1, lock = -1;
    char hash[17], why[512], scen[PATH_MAX];
    if (!st || !old || !ctrs) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (config_hash(t, o->init_path, hash, err, errlen) < 0)
        goto done;
    if ((lock = lock_target(t->name, err, errlen)) < 0)
        goto done;
    if (state_read(t->name, old) == 0) {
        const char *problem = state_problem(old, why, sizeof(why));
        if (!problem && strcmp(old->hash, hash) == 0) {
            fill_info(old, out);
            progress(o, "target %s is already up: ip %s, init pid %d", t->name,
                     out->ip, out->init_pid);
            rc = 1;
            goto done;
        }
        progress(o, "target %s: %s; recreating it", t->name,
                 problem ? problem : "configuration changed");
    }
    int removed = 0;
    char terr[ERRLEN];
    if (teardown(t->name, &removed, terr, sizeof(terr)) > 0) {
        snprintf(err, errlen, "cannot clean up the previous target %s: %s", t->name,
                 terr);
        goto done;
    }
    if (removed && !old->status[0])
        progress(o, "removed leftovers of an earlier target %s", t->name);

    snprintf(st->name, sizeof(st->name), "%s", t->name);
    snprintf(st->hash, sizeof(st->hash), "%s", hash);
    snprintf(st->status, sizeof(st->status), "creating");
    if (!realpath(s->file, scen))
        snprintf(scen, sizeof(scen), "%s", s->file);
    snprintf(st->scenario, sizeof(st->scenario), "%s", scen);
    if (allocate_subnet(st, err, errlen) < 0)
        goto done;
    if (setup(s, o, st, ctrs, err, errlen) < 0) {
        size_t l = strlen(err);
        if (!o->keep_on_failure) {
            teardown(t->name, &removed, terr, sizeof(terr));
            snprintf(err + l, errlen - l,
                     "\n  (target %s was removed; --keep-on-failure keeps its "
                     "state and logs)",
                     t->name);
        } else {
            char werr[256];
            snprintf(st->status, sizeof(st->status), "failed");
            state_write(st, werr, sizeof(werr));
            snprintf(err + l, errlen - l,
                     "\n  state kept in %s/%s; remove it with `harness down %s`",
                     SHUNT_STATE_ROOT, t->name, t->name);
        }
        goto done;
    }
    fill_info(st, out);
    progress(o, "target %s is up: ip %s, init pid %d", t->name, out->ip,
             out->init_pid);
    rc = 0;
done:
    if (lock >= 0)
        unlock_target(t->name, lock, rc < 0 && !o->keep_on_failure);
    free(st);
    free(old);
    free(ctrs);
    return rc;
}

/* ---- down, info, status, list ----------------------------------------- */

int shunt_target_down(const char *name, char *err, size_t errlen)
{
    if (!shunt_valid_name(name))
        return snprintf(err, errlen, "\"%s\" is not a valid target name", name), -1;
    int lock = lock_target(name, err, errlen);
    if (lock < 0)
        return -1;
    int removed = 0;
    int left = teardown(name, &removed, err, errlen);
    unlock_target(name, lock, left == 0);
    if (left > 0)
        return -1;
    return removed ? 0 : 1;
}

int shunt_target_info(const char *name, shunt_target_info_t *out, char *err,
                      size_t errlen)
{
    state_t *st = malloc(sizeof(*st));
    char why[512];
    if (!st)
        return snprintf(err, errlen, "out of memory"), -1;
    memset(out, 0, sizeof(*out));
    if (state_read(name, st) < 0) {
        snprintf(err, errlen, "target %s is not up (no state in %s/%s)", name,
                 SHUNT_STATE_ROOT, name);
        free(st);
        return -1;
    }
    fill_info(st, out);
    const char *problem = state_problem(st, why, sizeof(why));
    if (problem)
        snprintf(err, errlen, "target %s is not healthy: %s", name, problem);
    free(st);
    return problem ? -1 : 0;
}

int shunt_target_status(const char *name, shunt_target_status_t *out, char *err,
                        size_t errlen)
{
    state_t *st = malloc(sizeof(*st));
    char why[512];
    memset(out, 0, sizeof(*out));
    if (!st)
        return snprintf(err, errlen, "out of memory"), -1;
    if (state_read(name, st) < 0) {
        free(st);
        snprintf(out->info.name, sizeof(out->info.name), "%s", name);
        snprintf(out->state, sizeof(out->state), "stale");
        return 0;
    }
    fill_info(st, &out->info);
    const char *problem = state_problem(st, why, sizeof(why));
    snprintf(out->state, sizeof(out->state), "%s",
             strcmp(st->status, "failed") == 0 ? "failed"
             : strcmp(st->status, "up") != 0  ? "creating"
             : problem                        ? "degraded"
                                              : "up");
    snprintf(out->scenario, sizeof(out->scenario), "%s", st->scenario);
    snprintf(out->subnet, sizeof(out->subnet), "10.200.%d.0/24", st->subnet);
    out->ctr = calloc(st->n_ctr ? st->n_ctr : 1, sizeof(*out->ctr));
    if (!out->ctr) {
        free(st);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    for (size_t i = 0; i < st->n_ctr; i++) {
        shunt_container_status_t *c = &out->ctr[i];
        snprintf(c->id, sizeof(c->id), "%s", st->ctr[i].id);
        snprintf(c->role, sizeof(c->role), "%s", st->ctr[i].role);
        snprintf(c->ip, sizeof(c->ip), "%s", st->ctr[i].ip);
        snprintf(c->log, sizeof(c->log), "%s/%s/log", out->info.state_dir,
                 st->ctr[i].id);
        c->pid = st->ctr[i].pid;
        c->alive = ctr_alive(&st->ctr[i]);
    }
    out->n_ctr = st->n_ctr;
    free(st);
    return 0;
}

void shunt_target_status_free(shunt_target_status_t *st)
{
    free(st->ctr);
    st->ctr = NULL;
    st->n_ctr = 0;
}

static int add_name(char ***names, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*names)[i], name) == 0)
            return 0;
    char **nn = realloc(*names, (*n + 1) * sizeof(*nn));
    if (!nn)
        return -1;
    *names = nn;
    if (!(nn[*n] = strdup(name)))
        return -1;
    (*n)++;
    return 0;
}

int shunt_target_list(char ***names, size_t *n, char *err, size_t errlen)
{
    if (list_state_dirs(names, n) < 0)
        return snprintf(err, errlen, "cannot read %s: %s", SHUNT_STATE_ROOT,
                        strerror(errno)), -1;
    /* Leftovers without state: a bridge netns or a runc container whose
     * bundle was in a (now missing) state dir. */
    char **nss, **ids, **owners;
    size_t n_ns, n_ids;
    list_netns(&nss, &n_ns, "shunt-");
    for (size_t i = 0; i < n_ns; i++) {
        size_t l = strlen(nss[i]);
        if (l > 9 && strcmp(nss[i] + l - 3, "-br") == 0) {
            char nm[64];
            snprintf(nm, sizeof(nm), "%.*s", (int)(l - 9), nss[i] + 6);
            if (shunt_valid_name(nm))
                add_name(names, n, nm);
        }
    }
    free_names(nss, n_ns);
    if (runc_owned(NULL, &ids, &n_ids, &owners) == 0) {
        for (size_t i = 0; i < n_ids; i++)
            if (owners[i] && shunt_valid_name(owners[i]))
                add_name(names, n, owners[i]);
        free_names(ids, n_ids);
        free_names(owners, n_ids);
    }
    return 0;
}

int shunt_target_sweep(char *err, size_t errlen)
{
    char **nss, **ids, msg[ERRLEN];
    size_t n_ns, n_ids;
    int left = 0;
    err[0] = 0;
    if (runc_owned(NULL, &ids, &n_ids, NULL) == 0) {
        for (size_t i = 0; i < n_ids; i++)
            if (RUN(msg, sizeof(msg), "runc", "delete", "-f", ids[i]) < 0) {
                snprintf(err, errlen, "%s", msg);
                left++;
            }
        free_names(ids, n_ids);
    }
    list_netns(&nss, &n_ns, "shunt-");
    for (size_t i = 0; i < n_ns; i++) {
        LOG_INFO("removing stray network namespace %s", nss[i]);
        if (RUN(msg, sizeof(msg), "ip", "netns", "delete", nss[i]) < 0) {
            snprintf(err, errlen, "%s", msg);
            left++;
        }
    }
    free_names(nss, n_ns);
    return left;
}

int shunt_find_init(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env = getenv("SHUNT_INIT");
    char exe[PATH_MAX];
    if (env && *env) {
        if (access(env, X_OK) < 0)
            return snprintf(err, errlen, "SHUNT_INIT=%s: %s", env, strerror(errno)), -1;
        return shunt_fmt(out, outlen, "%s", env) < 0 ? -1 : 0;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0)
        return snprintf(err, errlen, "readlink /proc/self/exe: %s", strerror(errno)), -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    static const char *const rel[] = {"shunt-init", "../libexec/shunt/shunt-init", NULL};
    for (size_t i = 0; rel[i]; i++) {
        char cand[PATH_MAX], real[PATH_MAX];
        if (shunt_fmt(cand, sizeof(cand), "%s/%s", exe, rel[i]) == 0 &&
            access(cand, X_OK) == 0 && realpath(cand, real))
            return shunt_fmt(out, outlen, "%s", real) < 0 ? -1 : 0;
    }
    return snprintf(err, errlen,
                    "cannot find shunt-init next to %s (build it, or set SHUNT_INIT)",
                    exe), -1;
}
