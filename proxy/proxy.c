/* The proxy's lifecycle and event loop. */
#include "proxy_int.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- small helpers shared by the files ---------------------------------- */

void proxy_ev_set(shunt_proxy_t *p, ev_t *ev, uint32_t want)
{
    if (want == ev->events || ev->fd < 0)
        return;
    struct epoll_event e = {.events = want, .data.ptr = ev};
    int op = want == 0 ? EPOLL_CTL_DEL
                       : (ev->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD);
    if (epoll_ctl(p->epfd, op, ev->fd, &e) < 0) {
        LOG_ERROR("epoll_ctl(fd %d): %s", ev->fd, strerror(errno));
        return;
    }
    ev->events = want;
}

void proxy_mark_dirty(shunt_proxy_t *p, ev_t *ev)
{
    if (ev->dirty || ev->dead)
        return;
    ev->dirty = 1;
    ev->dirty_next = p->dirty;
    p->dirty = ev;
}

void proxy_gc(shunt_proxy_t *p, ev_t *ev)
{
    if (ev->dead)
        return;
    proxy_ev_set(p, ev, 0);
    ev->dead = 1;
    ev->gc_next = p->gc;
    p->gc = ev;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int listen_open(shunt_proxy_t *p, const char *path, char *err,
                       size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "socket path too long (max %zu bytes): %s",
                 sizeof(sun.sun_path) - 1, path);
        return -ENAMETOOLONG;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -errno;
    }
    p->listen_ev.fd = fd;
    /* The mode of a unix socket file comes from the socket inode. */
    fchmod(fd, 0600);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int live = probe >= 0 &&
                   connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0;
        if (probe >= 0)
            close(probe);
        if (live) {
            snprintf(err, errlen, "%s: another proxy is listening there",
                     path);
            return -EADDRINUSE;
        }
        unlink(path); /* stale */
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = errno;
        snprintf(err, errlen, "bind %s: %s", path, strerror(e));
        return -e;
    }
    p->socket_path = strdup(path);
    if (!p->socket_path || chmod(path, 0600) < 0 || listen(fd, 128) < 0) {
        int e = p->socket_path ? errno : ENOMEM;
        snprintf(err, errlen, "listen on %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

shunt_proxy_t *shunt_proxy_new(const shunt_proxy_opts_t *o, char *err,
                               size_t errlen)
{
    shunt_proxy_t *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->epfd = p->stop_ev.fd = p->listen_ev.fd = p->link_ev.fd = -1;
    p->stop_ev.kind = EV_STOP;
    p->listen_ev.kind = EV_LISTEN;
    p->link_ev.kind = EV_LINK;
    p->next_req_id = 1;
    p->next_conn_id = 1;
    p->broker_client_fd = -1;
    p->link_creds.uid = PROXY_AS_AGENT;
    pmap_init(&p->pending);
    pmap_init(&p->conns);
    pmap_init(&p->sessions);
    pmap_init(&p->streams);
    pmap_init(&p->handles);
    pmap_init(&p->inotify);
    pmap_init(&p->inpeers);
    shunt_wbuf_init(&p->link_tx);
    if (!o->socket_path || !o->agent_addr || !o->layer_token ||
        o->layer_token_len == 0) {
        snprintf(err, errlen, "socket_path, agent_addr and layer_token are "
                              "required");
        goto fail;
    }
    if (o->incoming_status &&
        !(p->incoming_status = strdup(o->incoming_status))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    p->layer_token = malloc(o->layer_token_len);
    p->scratch_len = PROXY_READ_CHUNK;
    p->scratch = malloc(p->scratch_len);
    if (!p->layer_token || !p->scratch ||
        shunt_rx_init(&p->link_rx, SHUNT_FRAME_DEFAULT) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memcpy(p->layer_token, o->layer_token, o->layer_token_len);
    p->layer_token_len = o->layer_token_len;
    const char *rec = o->record_dir ? o->record_dir : getenv("SHUNT_PROXY_RECORD");
    if (rec && *rec && !(p->record = proxy_record_open(rec))) {
        snprintf(err, errlen, "cannot record into %s (see the log)", rec);
        goto fail;
    }

    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->stop_ev.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->epfd < 0 || p->stop_ev.fd < 0) {
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    if (link_open(p, o, err, errlen) < 0)
        goto fail;
    if (listen_open(p, o->socket_path, err, errlen) < 0)
        goto fail;
    if (o->broker) {
        int fd = broker_new(p);
        if (fd < 0) {
            snprintf(err, errlen, "broker: %s", strerror(-fd));
            goto fail;
        }
        p->broker_client_fd = fd;
    }
    proxy_ev_set(p, &p->stop_ev, EPOLLIN);
    proxy_ev_set(p, &p->listen_ev, EPOLLIN);
    proxy_ev_set(p, &p->link_ev, EPOLLIN);
    return p;
fail:
    shunt_proxy_free(p);
    return NULL;
}

void shunt_proxy_stop(shunt_proxy_t *p)
{
    int saved = errno;
    uint64_t one = 1;
    ssize_t n = write(p->stop_ev.fd, &one, sizeof(one));
    (void)n;
    errno = saved;
}

int shunt_proxy_take_broker(shunt_proxy_t *p)
{
    int fd = p->broker_client_fd;
    p->broker_client_fd = -1;
    return fd;
}

int shunt_proxy_link_up(const shunt_proxy_t *p)
{
    return atomic_load(&((shunt_proxy_t *)p)->link_up);
}

static int next_timeout(shunt_proxy_t *p, uint64_t now)
{
    uint64_t at = UINT64_MAX;
    if (p->thead && p->thead->deadline < at)
        at = p->thead->deadline;
    if (p->close_head && p->close_head->close_at < at)
        at = p->close_head->close_at;
    if (p->hs_head && p->hs_head->hs_deadline < at)
        at = p->hs_head->hs_deadline;
    if (p->accept_retry_at && p->accept_retry_at < at)
        at = p->accept_retry_at;
    if (at == UINT64_MAX)
        return -1;
    return at <= now ? 0 : (int)(at - now < 60000 ? at - now : 60000);
}

/* Flushes every object touched in this round and frees the dead ones. */
static void settle(shunt_proxy_t *p)
{
    ev_t *ev;
    while ((ev = p->dirty)) {
        p->dirty = ev->dirty_next;
        ev->dirty = 0;
        if (ev->dead)
            continue;
        switch (ev->kind) {
        case EV_LINK:
            link_sync(p);
            break;
        case EV_CONN:
            conn_sync(p, (pconn_t *)ev);
            break;
        case EV_STREAM:
            stream_sync(p, (pstream_t *)ev);
            break;
        case EV_INOTIFY_PIPE:
            inotify_on_event(p, ev, EPOLLOUT);
            break;
        default:
            break;
        }
    }
    while ((ev = p->gc)) {
        p->gc = ev->gc_next;
        if (ev->kind == EV_CONN)
            conn_free((pconn_t *)ev);
        else if (ev->kind == EV_STREAM)
            stream_free((pstream_t *)ev);
        else if (ev->kind == EV_BROKER) {
            close(ev->fd);
            free(ev);
        }
        else if (ev->kind == EV_INOTIFY)
            inotify_free((pinot_t *)ev);
    }
}

int shunt_proxy_run(shunt_proxy_t *p)
{
    struct epoll_event evs[64];
    int stop = 0;
    while (!stop) {
        int n = epoll_wait(p->epfd, evs, (int)SHUNT_ARRAY_LEN(evs),
                           next_timeout(p, shunt_now_ms()));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            LOG_ERROR("epoll_wait: %s", strerror(e));
            return -e;
        }
        for (int i = 0; i < n; i++) {
            ev_t *ev = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (ev->dead)
                continue;
            switch (ev->kind) {
            case EV_STOP: {
                uint64_t v;
                ssize_t r = read(ev->fd, &v, sizeof(v));
                (void)r;
                stop = 1;
                break;
            }
            case EV_LISTEN:
                conn_accept(p);
                break;
            case EV_LINK:
                link_on_event(p, e);
                break;
            case EV_CONN:
                conn_on_event(p, (pconn_t *)ev, e);
                break;
            case EV_STREAM:
                stream_on_event(p, (pstream_t *)ev, e);
                break;
            case EV_BROKER:
                broker_on_event(p, (pbroker_t *)ev, e);
                break;
            case EV_INOTIFY:
            case EV_INOTIFY_PIPE:
                inotify_on_event(p, ev, e);
                break;
            }
        }
        uint64_t now = shunt_now_ms();
        if (p->accept_retry_at && p->accept_retry_at <= now) {
            p->accept_retry_at = 0;
            proxy_ev_set(p, &p->listen_ev, EPOLLIN);
        }
        stream_expire(p, now);
        conn_expire(p, now);
        settle(p);
        relay_pool_fill(p); /* after the replies: off the waiting path */
    }
    /* Deliver what is already queued (e.g. CLOSEs) before returning. */
    if (atomic_load(&p->link_up))
        shunt_tx_flush(&p->link_tx, p->link_ev.fd, PROXY_TX);
    return 0;
}

void shunt_proxy_free(shunt_proxy_t *p)
{
    if (!p)
        return;
    proxy_record_close(p->record);
    p->record = NULL;
    uint64_t k;
    void *v;
    p->dirty = NULL;
    while (p->gc) { /* dead objects, already out of every map and list */
        ev_t *ev = p->gc;
        p->gc = ev->gc_next;
        if (ev->kind == EV_CONN)
            conn_free((pconn_t *)ev);
        else if (ev->kind == EV_STREAM)
            stream_free((pstream_t *)ev);
        else if (ev->kind == EV_BROKER) {
            close(ev->fd);
            free(ev);
        }
        else if (ev->kind == EV_INOTIFY)
            inotify_free((pinot_t *)ev);
    }
    for (size_t i = 0; pmap_next(&p->conns, &i, &k, &v);)
        conn_free(v);
    pmap_free(&p->conns);
    while (p->all_streams) {
        pstream_t *s = p->all_streams;
        p->all_streams = s->all_next;
        stream_free(s);
    }
    pmap_free(&p->streams);
    pmap_free(&p->inpeers);
    incoming_free_all(p);
    free(p->incoming_status);
    inotify_free_all(p);
    relay_pool_free(p);
    broker_free_all(p);
    sess_free_all(p);
    pmap_free(&p->handles);
    for (size_t i = 0; pmap_next(&p->pending, &i, &k, &v);) {
        incoming_ctx_free(((ppend_t *)v)->ctx);
        free(v);
    }
    pmap_free(&p->pending);
    while (p->free_pend) {
        ppend_t *pd = p->free_pend;
        p->free_pend = pd->next_free;
        free(pd);
    }
    if (p->link_ev.fd >= 0)
        close(p->link_ev.fd);
    shunt_rx_free(&p->link_rx);
    shunt_wbuf_free(&p->link_tx);
    if (p->listen_ev.fd >= 0)
        close(p->listen_ev.fd);
    if (p->socket_path) {
        unlink(p->socket_path);
        free(p->socket_path);
    }
    if (p->stop_ev.fd >= 0)
        close(p->stop_ev.fd);
    if (p->epfd >= 0)
        close(p->epfd);
    free(p->layer_token);
    free(p->scratch);
    free(p);
}
