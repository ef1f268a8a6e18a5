/* inotify for the layer's programs: one kernel inotify instance per
 * (client, instance id), watches added through an O_PATH fd resolved in
 * the target's root, events sent back as one-way WATCH_EVENT frames. */
#include "agent.h"

#include "shunt/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

/* Instances of one client; a program has one or two. */
#define WATCH_MAX_INST 128u


static watch_t *inst_find(client_t *cl, uint32_t inst)
{
    for (watch_t *w = cl->watches; w; w = w->next)
        if (w->inst == inst)
            return w;
    return NULL;
}

/* Freed after the round (agent_reap): an epoll event of this round may
 * still point at it. */
static void inst_free(watch_t *w)
{
    agent_t *a = w->cl->a;
    agent_unwatch(a, w->fd);
    close(w->fd);
    w->fd = -1;
    w->next = a->dead_watches;
    a->dead_watches = w;
}

static watch_t *inst_get(client_t *cl, uint32_t inst, int *err)
{
    watch_t *w = inst_find(cl, inst);
    if (w)
        return w;
    unsigned n = 0;
    for (watch_t *x = cl->watches; x; x = x->next)
        n++;
    if (n >= WATCH_MAX_INST) {
        *err = EMFILE;
        return NULL;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        *err = ENOMEM;
        return NULL;
    }
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        *err = errno;
        free(w);
        return NULL;
    }
    w->ev.kind = EV_WATCH;
    w->cl = cl;
    w->inst = inst;
    if (agent_watch(cl->a, w->fd, &w->ev, EPOLLIN) < 0) {
        *err = errno ? errno : EIO;
        close(w->fd);
        free(w);
        return NULL;
    }
    w->next = cl->watches;
    cl->watches = w;
    return w;
}

static void watch_add(client_t *cl, const shunt_msg_t *m)
{
    const shunt_watch_add_t *q = &m->u.watch_add;
    if (q->path.len == 0) {
        reply_error(cl, m->id, ENOENT, "empty path");
        return;
    }
    char p[PATH_MAX + 2];
    int r = path_join(cl, q->dirh, q->path, p, sizeof(p));
    if (r < 0) {
        reply_error(cl, m->id, -r, "bad path");
        return;
    }
    /* The kernel resolves the path itself; here the root's rules resolve
     * it (never out of the target), and the kernel is given the inode
     * through /proc/self/fd.  IN_DONT_FOLLOW becomes O_NOFOLLOW: passed
     * on, it would make the kernel watch the magic link itself. */
    int nofollow = (q->mask & IN_DONT_FOLLOW) != 0;
    int fd = root_open(cl->a, p, O_PATH | (nofollow ? O_NOFOLLOW : 0), 0);
    if (fd < 0) {
        reply_error(cl, m->id, -fd, "%s", p);
        return;
    }
    int err = 0;
    watch_t *w = inst_get(cl, q->inst, &err);
    if (!w) {
        close(fd);
        reply_error(cl, m->id, err, "inotify instance");
        return;
    }
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    int wd = inotify_add_watch(w->fd, proc, q->mask & ~(uint32_t)IN_DONT_FOLLOW);
    int e = errno;
    close(fd);
    if (wd < 0) {
        reply_error(cl, m->id, e, "%s", p);
        return;
    }
    LOG_DEBUG("client %s: inotify %u watches %s as wd %d (mask %#x)",
              cl->desc, q->inst, p, wd, q->mask);
    reply_ok(cl, m->id, wd);
}

void watch_handle(client_t *cl, const shunt_msg_t *m)
{
    switch (m->type) {
    case SHUNT_T_WATCH_ADD:
        watch_add(cl, m);
        return;
    case SHUNT_T_WATCH_RM: {
        watch_t *w = inst_find(cl, m->u.watch_rm.inst);
        if (!w || inotify_rm_watch(w->fd, m->u.watch_rm.wd) < 0) {
            reply_error(cl, m->id, w ? errno : EINVAL, "no such watch");
            return;
        }
        reply_ok(cl, m->id, 0);
        return;
    }
    case SHUNT_T_WATCH_CLOSE: {
        watch_t **pp = &cl->watches;
        while (*pp && (*pp)->inst != m->u.watch_close.inst)
            pp = &(*pp)->next;
        if (*pp) {
            watch_t *w = *pp;
            *pp = w->next;
            inst_free(w);
        }
        reply_ok(cl, m->id, 0);
        return;
    }
    default:
        reply_error(cl, m->id, ENOSYS, "not an inotify request");
    }
}

/* The instance's queue, read whole and sent on as one frame per read: the
 * kernel hands out whole events, and a full 64 KiB read is far under the
 * frame limit.  An overflow arrives as the kernel's own IN_Q_OVERFLOW
 * event (wd -1). */
void watch_event(watch_t *w)
{
    client_t *cl = w->cl;
    if (w->fd < 0 || cl->dead)
        return;
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        shunt_wbuf_t list;
        shunt_wbuf_init(&list);
        uint32_t count = 0;
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const void *)(buf + off);
            size_t len = ev->len;
            if (off + (ssize_t)(sizeof(*ev) + len) > n)
                break;
            shunt_rec_inotify_event_t r = {
                .wd = ev->wd, .mask = ev->mask, .cookie = ev->cookie,
                .name = {.p = ev->name, .len = (uint32_t)strnlen(ev->name, len)}};
            if (shunt_put_rec_inotify_event(&list, &r) == 0)
                count++;
            off += (ssize_t)(sizeof(*ev) + len);
        }
        shunt_watch_event_t out = {
            .inst = w->inst,
            .events = {.count = count, .p = list.data, .len = (uint32_t)list.len}};
        if (count)
            client_send(cl, SHUNT_T_WATCH_EVENT, SHUNT_FLAG_ONEWAY, 0, &out);
        shunt_wbuf_free(&list);
        if (cl->dead)
            return;
    }
    client_kick(cl);
}

void watch_client_gone(client_t *cl)
{
    while (cl->watches) {
        watch_t *w = cl->watches;
        cl->watches = w->next;
        inst_free(w);
    }
}
