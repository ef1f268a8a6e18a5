/* A target's state: its state file, liveness, locks and subnet. */
#include "target_int.h"
#include "shunt/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_VERSION 1

void tgt_state_dir(const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", SHUNT_STATE_ROOT, name);
}

int tgt_state_write(const state_t *st, char *err, size_t errlen)
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
    int rc = tgt_write_atomic(path, buf);
    free(buf);
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return rc;
}

/* 0 on success, -1 with errno ENOENT when there is no state file. */
int tgt_state_read(const char *name, state_t *st)
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
unsigned long long tgt_proc_start(int pid)
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
int tgt_ctr_alive(const ctr_state_t *c)
{
    if (c->pid <= 0 || tgt_proc_start(c->pid) != c->start)
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
const char *tgt_state_problem(const state_t *st, char *buf, size_t len)
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
        if (!tgt_ctr_alive(&st->ctr[i])) {
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
int tgt_lock_target(const char *name, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/.%s.lock", SHUNT_STATE_ROOT, name);
    if (shunt_mkdir_p(SHUNT_STATE_ROOT, 0755) < 0)
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

void tgt_unlock_target(const char *name, int fd, int remove_file)
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
int tgt_list_state_dirs(char ***names, size_t *n)
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

void tgt_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Picks the lowest 10.200.N.0/24 not used by another target's state and
 * creates NAME's state dir with it, all under the global lock. */
int tgt_allocate_subnet(state_t *st, char *err, size_t errlen)
{
    int fd = lock_root();
    if (fd < 0)
        return snprintf(err, errlen, "cannot lock %s: %s", SHUNT_STATE_ROOT,
                        strerror(errno)), -1;
    char **names;
    size_t n;
    unsigned char used[256] = {0};
    if (tgt_list_state_dirs(&names, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            state_t *other = malloc(sizeof(*other));
            if (other && strcmp(names[i], st->name) != 0 &&
                tgt_state_read(names[i], other) == 0 && other->subnet > 0 &&
                other->subnet < 256)
                used[other->subnet] = 1;
            free(other);
        }
        tgt_free_names(names, n);
    }
    st->subnet = 0;
    for (int s = 1; s <= 250 && !st->subnet; s++)
        if (!used[s])
            st->subnet = s;
    int rc = -1;
    char dir[PATH_MAX];
    tgt_state_dir(st->name, dir, sizeof(dir));
    if (!st->subnet)
        snprintf(err, errlen, "no free subnet: 250 targets are up");
    else if (mkdir(dir, 0700) < 0)
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    else
        rc = tgt_state_write(st, err, errlen);
    close(fd);
    return rc;
}
