/* Remote directories under the supervisor.  The program gets a real,
 * empty local directory as the fd of a remote one (a placeholder in the
 * supervisor's private directory), so that what the supervisor does not
 * intercept behaves as on a directory: read gives EISDIR, fcntl says
 * O_DIRECTORY, lseek and SEEK_DATA are a directory's.  What it does
 * intercept -- getdents64, fstat, *at calls relative to it, fchdir -- is
 * answered from the entry this file keeps for it: the remote path, its
 * stat and its entries, fetched at open.  The file position (the program's
 * open file description, which the supervisor reaches with pidfd_getfd)
 * is the offset into the entries, so rewinddir, telldir and seekdir are
 * the kernel's.  The entry goes when the program's description is
 * released (its last close, in whichever process: inotify
 * IN_CLOSE_NOWRITE on the placeholder), and the placeholder with it. */
#include "sv.h"

#include "shunt/log.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct dent {
    struct dent *next;
    unsigned long id;
    int wd;
    sv_dir_t d;
} dent_t;

static pthread_mutex_t dlock = PTHREAD_MUTEX_INITIALIZER;
static dent_t *dents;
static unsigned long next_id;
static char base[64];     /* /tmp/.shunt-sv-XXXXXX, 0700 */
static size_t base_len;
static int dino = -1;

static void dir_free(dent_t *e)
{
    free(e->d.path);
    free(e->d.recs);
    free(e);
}

static void *releaser(void *arg)
{
    (void)arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(dino, buf, sizeof(buf));
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                struct pollfd pf = {.fd = dino, .events = POLLIN};
                poll(&pf, 1, -1);
                continue;
            }
            return NULL;
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const void *)p;
            p += sizeof(*ev) + ev->len;
            if (!(ev->mask & (IN_CLOSE_NOWRITE | IN_CLOSE_WRITE)) || ev->len)
                continue; /* events of entries inside: none expected */
            pthread_mutex_lock(&dlock);
            for (dent_t **pp = &dents; *pp; pp = &(*pp)->next) {
                if ((*pp)->wd != ev->wd)
                    continue;
                dent_t *e = *pp;
                *pp = e->next;
                char ph[96];
                snprintf(ph, sizeof(ph), "%s/%lu", base, e->id);
                inotify_rm_watch(dino, e->wd);
                rmdir(ph);
                dir_free(e);
                break;
            }
            pthread_mutex_unlock(&dlock);
        }
    }
}

int sv_dirs_start(void)
{
    strcpy(base, "/tmp/.shunt-sv-XXXXXX");
    if (!mkdtemp(base)) {
        LOG_ERROR("%s: %s: remote directories cannot be opened", base,
                  strerror(errno));
        base[0] = 0;
        return -1;
    }
    base_len = strlen(base);
    dino = inotify_init1(IN_CLOEXEC);
    if (dino < 0) {
        LOG_ERROR("inotify: %s", strerror(errno));
        return -1;
    }
    return sv_thread(releaser);
}

void sv_dirs_stop(void)
{
    if (!base[0])
        return;
    pthread_mutex_lock(&dlock);
    while (dents) {
        dent_t *e = dents;
        dents = e->next;
        char ph[96];
        snprintf(ph, sizeof(ph), "%s/%lu", base, e->id);
        rmdir(ph);
        dir_free(e);
    }
    pthread_mutex_unlock(&dlock);
    rmdir(base);
}

/* The id of a placeholder's /proc link, or 0. */
static unsigned long id_of(const char *link)
{
    if (!base_len || strncmp(link, base, base_len) != 0 ||
        link[base_len] != '/')
        return 0;
    char *end;
    unsigned long id = strtoul(link + base_len + 1, &end, 10);
    return *end ? 0 : id;
}

int sv_dir_is(const char *link)
{
    return id_of(link) != 0;
}

int sv_dir_get(const char *link, sv_dir_t *out, int with_recs)
{
    unsigned long id = id_of(link);
    if (!id)
        return -1;
    int r = -1;
    pthread_mutex_lock(&dlock);
    for (dent_t *e = dents; e; e = e->next)
        if (e->id == id) {
            *out = e->d;
            out->path = strdup(e->d.path);
            out->recs = NULL;
            if (with_recs && e->d.nrecs &&
                (out->recs = malloc(e->d.nrecs)))
                memcpy(out->recs, e->d.recs, e->d.nrecs);
            r = out->path && (!with_recs || !e->d.nrecs || out->recs) ? 0
                                                                      : -1;
            break;
        }
    pthread_mutex_unlock(&dlock);
    return r;
}

void sv_dirs_renamed(const char *from, const char *to)
{
    char moved[PATH_MAX];
    pthread_mutex_lock(&dlock);
    for (dent_t *e = dents; e; e = e->next)
        if (sv_path_moved(e->d.path, from, to, moved, sizeof(moved))) {
            char *s = strdup(moved);
            if (s) {
                free(e->d.path);
                e->d.path = s;
            }
        }
    pthread_mutex_unlock(&dlock);
}

int sv_dir_set_recs(const char *link, const sv_dir_t *d)
{
    unsigned long id = id_of(link);
    int r = -1;
    pthread_mutex_lock(&dlock);
    for (dent_t *e = dents; e; e = e->next)
        if (e->id == id) {
            char *copy = d->nrecs ? malloc(d->nrecs) : NULL;
            if (d->nrecs && !copy)
                break;
            if (copy)
                memcpy(copy, d->recs, d->nrecs);
            free(e->d.recs);
            e->d.recs = copy;
            e->d.nrecs = d->nrecs;
            r = 0;
            break;
        }
    pthread_mutex_unlock(&dlock);
    return r;
}

long sv_dir_open(sv_call_t *c, sv_dir_t *d, int flags)
{
    if (!base[0]) {
        free(d->path);
        free(d->recs);
        d->path = NULL;
        d->recs = NULL;
        return -ENOMEM;
    }
    dent_t *e = calloc(1, sizeof(*e));
    if (!e) {
        free(d->path);
        free(d->recs);
        d->path = NULL;
        d->recs = NULL;
        return -ENOMEM;
    }
    e->d = *d;
    pthread_mutex_lock(&dlock);
    e->id = ++next_id;
    pthread_mutex_unlock(&dlock);
    char ph[96];
    snprintf(ph, sizeof(ph), "%s/%lu", base, e->id);
    int fd = -1;
    long r = 0;
    if (mkdir(ph, 0500) < 0 ||
        (fd = open(ph, O_RDONLY | O_CLOEXEC |
                           (flags & (O_NONBLOCK | O_DIRECTORY)))) < 0) {
        r = -errno;
    } else if ((e->wd = inotify_add_watch(dino, ph, IN_CLOSE_NOWRITE |
                                                        IN_CLOSE_WRITE)) < 0) {
        r = -errno;
    }
    if (r < 0) {
        if (fd >= 0)
            close(fd);
        rmdir(ph);
        dir_free(e);
        d->path = NULL;
        d->recs = NULL;
        return r;
    }
    /* the watch sees our own close of fd too: the entry is listed only
     * once the program holds its own descriptor, so only the program's
     * release removes it -- ADDFD shares this description, and closing
     * our fd after it releases nothing */
    pthread_mutex_lock(&dlock);
    e->next = dents;
    dents = e;
    pthread_mutex_unlock(&dlock);
    d->path = NULL; /* the entry's now */
    d->recs = NULL;
    r = sv_addfd(c, fd, (flags & O_CLOEXEC) != 0);
    /* If it never reached the program, this close releases it and the
     * releaser removes the entry. */
    close(fd);
    return r;
}
