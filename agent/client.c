/* Sending to a client: replies, in-place data frames, flushing, dropping. */
#include "agent.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

void client_drop(client_t *cl, const char *why)
{
    agent_t *a = cl->a;
    if (cl->dead)
        return;
    cl->dead = 1;
    unsigned nh = cl->h.used;
    for (uint32_t i = 0; i < cl->h.cap; i++) {
        handle_t *h = &cl->h.v[i];
        if (h->kind == H_STREAM)
            stream_destroy(h->st);
        else if (h->kind != H_FREE)
            handle_close_fd(h);
    }
    htab_free(&cl->h);
    incoming_client_gone(cl);
    watch_client_gone(cl);
    resolver_forget_client(a, cl);
    agent_unwatch(a, cl->fd);
    close(cl->fd);
    cl->fd = -1;
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        a->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    if (cl->rejected)
        a->nrejected--;
    if (cl->unauth)
        a->nunauth--;
    if (cl->counted)
        a->nclients--;
    if (why) {
        if (strncmp(why, "protocol error", 14) == 0 || strstr(why, "dropped"))
            LOG_WARN("client %s: %s; closed it (%u handles)", cl->desc, why,
                     nh);
        else
            LOG_INFO("client %s: %s; closed %u handles", cl->desc, why, nh);
    } else {
        LOG_DEBUG("client %s closed (%u handles)", cl->desc, nh);
    }
    cl->next_dead = a->dead_clients;
    a->dead_clients = cl;
}

void client_kick(client_t *cl)
{
    agent_t *a = cl->a;
    if (cl->dead)
        return;
    size_t pending = shunt_wbuf_pending(&cl->tx);
    if (pending > a->conf.max_queue) {
        char why[128];
        snprintf(why, sizeof(why),
                 "send queue of %zu bytes exceeds %zu (client not reading), "
                 "dropped", pending, a->conf.max_queue);
        client_drop(cl, why);
        return;
    }
    if (pending) {
        int r = shunt_tx_flush(&cl->tx, cl->fd, 0);
        if (r < 0) {
            if (cl->state >= C_CLOSING) {
                client_drop(cl, NULL);
            } else {
                char why[96];
                snprintf(why, sizeof(why), "write error: %s", strerror(-r));
                client_drop(cl, why);
            }
            return;
        }
        pending = shunt_wbuf_pending(&cl->tx);
    }
    if (pending == 0 && cl->state == C_CLOSING) {
        /* Half-close and read until EOF, so that our last frame (an ERROR)
         * is not destroyed by a reset on close. */
        shutdown(cl->fd, SHUT_WR);
        cl->state = C_LINGER;
    }
    if (cl->streams_paused && pending < STREAM_PAUSE_BYTES)
        streams_resume(cl);
    uint32_t want = (cl->state == C_CLOSING ? 0 : EPOLLIN) |
                    (pending ? EPOLLOUT : 0);
    if (want != cl->events) {
        cl->events = want;
        agent_rewatch(a, cl->fd, &cl->ev, want);
    }
}

int client_send(client_t *cl, uint16_t type, uint16_t flags, uint64_t id,
                const void *body)
{
    if (cl->dead)
        return -EPIPE;
    int r = shunt_encode(&cl->tx, type, flags, id, body, cl->max_frame);
    if (r == -ENOMEM) {
        client_drop(cl, "out of memory for the send queue");
        return r;
    }
    if (r < 0)
        LOG_WARN("client %s: cannot encode %s: %s", cl->desc,
                 shunt_msg_name(type), strerror(-r));
    return r;
}

void reply_error(client_t *cl, uint64_t id, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cl->dead)
        return;
    LOG_DEBUG("client %s: id %llu -> ERROR %d (%s)", cl->desc,
              (unsigned long long)id, err, msg);
    if (shunt_encode_error(&cl->tx, id, err, msg, cl->max_frame) == -ENOMEM)
        client_drop(cl, "out of memory for the send queue");
}

void reply_ok(client_t *cl, uint64_t id, int64_t ret)
{
    if (cl->dead)
        return;
    if (shunt_encode_ok(&cl->tx, id, ret, cl->max_frame) == -ENOMEM)
        client_drop(cl, "out of memory for the send queue");
}

/* ---- data frames built in place (see shunt_encode_bytes_begin) -------- */

uint8_t *client_bytes_begin(client_t *cl, uint16_t type, uint16_t flags,
                            uint64_t id, const void *body, size_t max)
{
    int err;
    return shunt_encode_bytes_begin(&cl->tx, type, flags, id, body, max,
                                    cl->max_frame, &err);
}

void client_bytes_end(client_t *cl, ssize_t n)
{
    if (n < 0)
        shunt_encode_bytes_cancel(&cl->tx);
    else
        shunt_encode_bytes_end(&cl->tx, (size_t)n);
}
