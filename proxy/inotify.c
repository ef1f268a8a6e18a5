/* A program's inotify instance: the proxy fills the socket the program
 * reads with the events of its kernel inotify fd (local watches, copied as
 * they are) and the agent's WATCH_EVENTs (remote watches, wd moved up by
 * SHUNT_INOTIFY_WD_BASE) (docs/hooking.md "inotify"). */
#include "proxy_int.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The kernel's default fs.inotify.max_queued_events: past it an instance
 * queues one IN_Q_OVERFLOW and drops events until the program reads. */
#define PINOT_MAX_QUEUED 16384u

#define EVSZ sizeof(struct inotify_event)

static pinot_t *of_ev(ev_t *ev)
{
    if (ev->kind == EV_INOTIFY)
        return (pinot_t *)ev;
    return (pinot_t *)((char *)ev - offsetof(pinot_t, pev));
}

int inotify_known(shunt_proxy_t *p, uint32_t id)
{
    pinot_t *n = pmap_get(&p->inotify, id);
    return n && !n->kev.dead;
}

static int is_inotify_fd(int fd)
{
    char link[64];
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t l = readlink(path, link, sizeof(link) - 1);
    if (l < 0)
        return 0;
    link[l] = 0;
    return strcmp(link, "anon_inode:inotify") == 0;
}

int inotify_open(shunt_proxy_t *p, pconn_t *c, uint32_t *id)
{
    int nfds = c->nfds;
    int kfd = nfds >= 2 ? c->fds[0] : -1, wfd = nfds >= 2 ? c->fds[1] : -1;
    for (int i = 2; i < nfds; i++)
        close(c->fds[i]);
    c->nfds = 0;
    struct stat st;
    int e = 0;
    if (nfds < 2)
        e = -EBADF;
    else if (!is_inotify_fd(kfd) || fstat(wfd, &st) < 0 || !S_ISSOCK(st.st_mode))
        e = -EINVAL;
    else if (fcntl(kfd, F_SETFL, O_NONBLOCK) < 0 ||
             fcntl(wfd, F_SETFL, O_NONBLOCK) < 0)
        e = -errno;
    pinot_t *n = e ? NULL : calloc(1, sizeof(*n));
    if (!e && !n)
        e = -ENOMEM;
    if (e) {
        if (kfd >= 0)
            close(kfd);
        if (wfd >= 0)
            close(wfd);
        for (int i = 0; i < nfds && i < 2; i++)
            if (c->fds[i] != kfd && c->fds[i] != wfd)
                close(c->fds[i]);
        return e;
    }
    do
        n->id = ++p->next_inotify;
    while (n->id == 0 || pmap_get(&p->inotify, n->id));
    n->kev.kind = EV_INOTIFY;
    n->kev.fd = kfd;
    n->pev.kind = EV_INOTIFY_PIPE;
    n->pev.fd = wfd;
    shunt_wbuf_init(&n->out);
    if (pmap_put(&p->inotify, n->id, n) < 0) {
        close(kfd);
        close(wfd);
        free(n);
        return -ENOMEM;
    }
    n->all_next = p->all_inotify;
    if (p->all_inotify)
        p->all_inotify->all_prev = n;
    p->all_inotify = n;
    proxy_ev_set(p, &n->kev, EPOLLIN);
    /* EPOLLRDHUP: the program's end is closed in every process that
     * shared it: the instance is gone.  What a program writes into its
     * inotify fd is never read. */
    proxy_ev_set(p, &n->pev, EPOLLRDHUP);
    *id = n->id;
    LOG_DEBUG("%s: inotify instance %u", c->name, n->id);
    return 0;
}

static void pinot_close(shunt_proxy_t *p, pinot_t *n, const char *why)
{
    if (n->kev.dead)
        return;
    LOG_DEBUG("inotify instance %u: %s", n->id, why);
    pmap_del(&p->inotify, n->id);
    if (n->all_prev)
        n->all_prev->all_next = n->all_next;
    else
        p->all_inotify = n->all_next;
    if (n->all_next)
        n->all_next->all_prev = n->all_prev;
    n->all_prev = n->all_next = NULL;
    shunt_watch_close_t q = {.inst = n->id};
    if (atomic_load(&p->link_up))
        proxy_link_request(p, SHUNT_T_WATCH_CLOSE, &q);
    proxy_ev_set(p, &n->pev, 0);
    n->pev.dead = 1;
    proxy_gc(p, &n->kev); /* freed after the round */
}

void inotify_free(pinot_t *n)
{
    if (n->kev.fd >= 0)
        close(n->kev.fd);
    if (n->pev.fd >= 0)
        close(n->pev.fd);
    shunt_wbuf_free(&n->out);
    free(n);
}

void inotify_free_all(shunt_proxy_t *p)
{
    while (p->all_inotify) {
        pinot_t *n = p->all_inotify;
        p->all_inotify = n->all_next;
        inotify_free(n);
    }
    pmap_free(&p->inotify);
}

/* Writes what the socket takes; the layer's read takes only whole events
 * (layer/inotify.c), so an event may be cut between two writes. */
static void flush(shunt_proxy_t *p, pinot_t *n)
{
    while (shunt_wbuf_pending(&n->out)) {
        ssize_t w = send(n->pev.fd, n->out.data + n->out.head,
                         shunt_wbuf_pending(&n->out),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            proxy_ev_set(p, &n->pev, EPOLLOUT | EPOLLRDHUP);
            return;
        }
        if (w < 0) {
            pinot_close(p, n, errno == EPIPE ? "closed by the program"
                                             : "socket write failed");
            return;
        }
        n->out.head += (size_t)w;
    }
    shunt_wbuf_reset(&n->out);
    if (n->out.cap > PROXY_WBUF_KEEP)
        shunt_wbuf_free(&n->out);
    n->queued = 0;
    n->overflowed = 0;
    proxy_ev_set(p, &n->pev, EPOLLRDHUP);
}

static void put_event(pinot_t *n, int32_t wd, uint32_t mask, uint32_t cookie,
                      const char *name, size_t nlen)
{
    if (n->overflowed)
        return;
    struct inotify_event h = {.wd = wd, .mask = mask, .cookie = cookie};
    if (n->queued + 1 >= PINOT_MAX_QUEUED) {
        h = (struct inotify_event){.wd = -1, .mask = IN_Q_OVERFLOW};
        name = NULL;
        nlen = 0;
        n->overflowed = 1;
    }
    /* The kernel pads the name with NULs to a multiple of the header. */
    h.len = nlen ? (uint32_t)((nlen + 1 + EVSZ - 1) / EVSZ * EVSZ) : 0;
    uint8_t pad[EVSZ] = {0};
    if (shunt_wbuf_append(&n->out, &h, EVSZ) < 0)
        return;
    if (nlen) {
        shunt_wbuf_append(&n->out, name, nlen);
        shunt_wbuf_append(&n->out, pad, h.len - nlen);
    }
    n->queued++;
}

void inotify_on_agent(shunt_proxy_t *p, const shunt_msg_t *m)
{
    pinot_t *n = pmap_get(&p->inotify, m->u.watch_event.inst);
    if (!n || n->kev.dead)
        return; /* closed meanwhile: WATCH_CLOSE is on its way */
    shunt_list_iter_t it;
    shunt_list_iter_init(&it, &m->u.watch_event.events);
    shunt_rec_inotify_event_t r;
    while (shunt_list_next_rec_inotify_event(&it, &r) == 1) {
        if (r.name.len > NAME_MAX)
            continue;
        int32_t wd = r.wd;
        if (wd > 0 && wd < INT32_MAX - SHUNT_INOTIFY_WD_BASE)
            wd += SHUNT_INOTIFY_WD_BASE;
        put_event(n, wd, r.mask, r.cookie, r.name.p, r.name.len);
    }
    flush(p, n);
}

static void local_events(shunt_proxy_t *p, pinot_t *n)
{
    for (int rounds = 0; rounds < 8; rounds++) {
        ssize_t got = read(n->kev.fd, p->scratch, p->scratch_len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        for (size_t off = 0; off + EVSZ <= (size_t)got;) {
            struct inotify_event h;
            memcpy(&h, p->scratch + off, EVSZ);
            if (off + EVSZ + h.len > (size_t)got)
                break;
            const char *name = (const char *)p->scratch + off + EVSZ;
            put_event(n, h.wd, h.mask, h.cookie, name,
                      h.len ? strnlen(name, h.len) : 0);
            off += EVSZ + h.len;
        }
    }
    flush(p, n);
}

void inotify_on_event(shunt_proxy_t *p, ev_t *ev, uint32_t events)
{
    pinot_t *n = of_ev(ev);
    if (n->kev.dead)
        return;
    if (ev->kind == EV_INOTIFY_PIPE) {
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            pinot_close(p, n, "closed by the program");
            return;
        }
        flush(p, n);
        return;
    }
    if (events & (EPOLLERR | EPOLLHUP)) {
        pinot_close(p, n, "kernel inotify fd failed");
        return;
    }
    local_events(p, n);
}
