/* Sessions and their groups: which remote handles and streams they own, and
 * the cleanup when a group's last connection goes. */
#include "proxy_int.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <stdlib.h>

psess_t *sess_attach(shunt_proxy_t *p, uint64_t id, uint64_t parent,
                     int announced, uint64_t *out_id)
{
    psess_t *s = id ? pmap_get(&p->sessions, id) : NULL;
    if (s) {
        if (s->pending)
            s->pending = 0; /* FORK counted it in the group already */
        else
            s->root->nconns++;
        s->own_conns++;
        *out_id = id;
        return s;
    }
    while (!id) {
        if (shunt_random(&id, sizeof(id)) < 0)
            return NULL;
        if (pmap_get(&p->sessions, id))
            id = 0;
    }
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->id = id;
    psess_t *par = parent && parent != id ? pmap_get(&p->sessions, parent)
                                          : NULL;
    if (par) {
        /* A child (fork) shares its parent's remote handles: both are
         * released when the last connection of either goes. */
        s->root = par->root;
        if (!announced)
            s->root->legacy = 1;
        s->next_member = s->root->next_member;
        s->root->next_member = s;
    } else {
        s->root = s;
        pmap_init(&s->handles);
        pmap_init(&s->streams);
    }
    if (pmap_put(&p->sessions, id, s) < 0) {
        if (par)
            s->root->next_member = s->next_member;
        free(s);
        return NULL;
    }
    s->root->nconns++;
    s->own_conns++;
    *out_id = id;
    return s;
}

/* ---- handles held by sessions ------------------------------------------
 * A handle is held by every session that may use it: the one that opened
 * it and, through FORK, every child that inherited it.  p->handles counts
 * the holders; the agent's CLOSE goes out when the last one releases it
 * (its process closed its last fd of it, or its last connection went). */
static uintptr_t holders(shunt_proxy_t *p, uint32_t h)
{
    return (uintptr_t)pmap_get(&p->handles, h);
}

static void hold(shunt_proxy_t *p, psess_t *s, uint32_t h)
{
    if (pmap_get(&s->held, h))
        return;
    if (pmap_put(&s->held, h, (void *)1) < 0 ||
        pmap_put(&p->handles, h, (void *)(holders(p, h) + 1)) < 0) {
        pmap_del(&s->held, h);
        LOG_WARN("out of memory tracking handle %u", h);
    }
}

/* s lets go of h: 1 when it was the last holder (the caller closes it). */
static int release(shunt_proxy_t *p, psess_t *s, uint32_t h)
{
    if (!pmap_del(&s->held, h))
        return 0;
    uintptr_t n = holders(p, h);
    if (n > 1) {
        pmap_put(&p->handles, h, (void *)(n - 1));
        return 0;
    }
    pmap_del(&p->handles, h);
    return 1;
}

static void release_all(shunt_proxy_t *p, psess_t *s)
{
    uint64_t k;
    size_t n = s->held.n, nc = 0;
    if (!n) { /* its table may be allocated still (entries released) */
        pmap_free(&s->held);
        return;
    }
    uint32_t *list = malloc(n * sizeof(*list));
    for (size_t i = 0; list && pmap_next(&s->held, &i, &k, NULL);)
        list[nc++] = (uint32_t)k;
    for (size_t i = 0; i < nc; i++)
        if (release(p, s, list[i]))
            sess_send_close(p, list[i]);
    free(list);
    pmap_free(&s->held);
}

/* The session's last connection went.  In a group with a member that may
 * use handles without holding them (joined without FORK), they are kept
 * for the group as one holder, and closed when the group ends. */
static void session_ended(shunt_proxy_t *p, psess_t *s)
{
    psess_t *root = s->root;
    if (!root->legacy) {
        release_all(p, s);
        return;
    }
    uint64_t k;
    for (size_t i = 0; pmap_next(&s->held, &i, &k, NULL);) {
        if (pmap_get(&root->handles, k)) {
            uintptr_t n = holders(p, (uint32_t)k);
            if (n > 1)
                pmap_put(&p->handles, k, (void *)(n - 1));
        } else if (pmap_put(&root->handles, k, (void *)1) < 0) {
            LOG_WARN("out of memory tracking handle %u", (uint32_t)k);
        }
    }
    pmap_free(&s->held);
}

int sess_close_request(shunt_proxy_t *p, psess_t *s, uint32_t h)
{
    if (pmap_get(&s->held, h))
        return release(p, s, h);
    /* Not this session's (a layer without FORK support, or a number the
     * proxy never saw): forwarded only when nobody else holds it. */
    return holders(p, h) == 0;
}

int sess_fork(shunt_proxy_t *p, psess_t *s, uint64_t child,
              const uint8_t *handles, size_t len)
{
    if (!child || pmap_get(&p->sessions, child))
        return -EEXIST;
    psess_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->id = child;
    c->pending = 1;
    c->root = s->root;
    if (pmap_put(&p->sessions, child, c) < 0) {
        free(c);
        return -ENOMEM;
    }
    c->next_member = c->root->next_member;
    c->root->next_member = c;
    c->root->nconns++; /* the child's process, until it disconnects */
    int n = 0;
    for (size_t i = 0; i + 4 <= len; i += 4) {
        uint32_t h = (uint32_t)handles[i] | (uint32_t)handles[i + 1] << 8 |
                     (uint32_t)handles[i + 2] << 16 |
                     (uint32_t)handles[i + 3] << 24;
        if (pmap_get(&s->held, h)) {
            hold(p, c, h);
            n++;
        }
    }
    return n;
}

/* The exec a FORK was said for failed (EXEC_CANCEL): the pending session
 * goes with its holds (a handle left without holder is closed at the
 * agent).  Only a pending member of s's group; -ENOENT otherwise. */
int sess_exec_cancel(shunt_proxy_t *p, psess_t *s, uint64_t child)
{
    psess_t *c = child ? pmap_get(&p->sessions, child) : NULL;
    if (!c || !c->pending || c == c->root || c->root != s->root)
        return -ENOENT;
    int n = (int)c->held.n;
    release_all(p, c);
    for (psess_t **pp = &c->root->next_member; *pp; pp = &(*pp)->next_member)
        if (*pp == c) {
            *pp = c->next_member;
            break;
        }
    pmap_del(&p->sessions, child);
    c->root->nconns--; /* s is connected: the group goes on */
    free(c);
    return n;
}

void sess_send_close(shunt_proxy_t *p, uint32_t handle)
{
    shunt_close_t b = {.handle = handle};
    proxy_link_request(p, SHUNT_T_CLOSE, &b);
}

void sess_detach(shunt_proxy_t *p, psess_t *s)
{
    psess_t *root = s->root;
    if (s->own_conns > 0 && --s->own_conns == 0)
        session_ended(p, s);
    if (--root->nconns > 0)
        return;
    incoming_group_ended(p, root);
    size_t nh = root->handles.n, ns = root->streams.n;
    if (nh || ns)
        LOG_DEBUG("session %016llx ended: closing %zu handle(s), "
                  "%zu stream(s)",
                  (unsigned long long)root->id, nh, ns);
    uint64_t k;
    void *v;
    for (size_t i = 0; pmap_next(&root->handles, &i, &k, NULL);) {
        uintptr_t n = holders(p, (uint32_t)k);
        if (n > 1) { /* a pending FORK child still holds it */
            pmap_put(&p->handles, k, (void *)(n - 1));
            continue;
        }
        pmap_del(&p->handles, k);
        sess_send_close(p, (uint32_t)k);
    }
    pmap_free(&root->handles);
    if (ns) {
        pstream_t **list = malloc(ns * sizeof(*list));
        size_t n = 0;
        for (size_t i = 0; pmap_next(&root->streams, &i, &k, &v);) {
            pstream_t *st = v;
            st->root = NULL;
            if (list)
                list[n++] = st;
        }
        pmap_free(&root->streams);
        for (size_t i = 0; i < n; i++)
            stream_session_ended(p, list[i]);
        free(list);
    }
    pmap_free(&root->streams);
    release_all(p, root);
    while (root->next_member) {
        psess_t *m = root->next_member;
        root->next_member = m->next_member;
        release_all(p, m);
        pmap_del(&p->sessions, m->id);
        free(m);
    }
    pmap_del(&p->sessions, root->id);
    free(root);
}

void sess_handle_add(shunt_proxy_t *p, psess_t *s, uint32_t handle)
{
    hold(p, s, handle);
}

void sess_link_lost(shunt_proxy_t *p)
{
    /* The agent released every handle with the link. */
    uint64_t k;
    void *v;
    for (size_t i = 0; pmap_next(&p->sessions, &i, &k, &v);) {
        psess_t *s = v;
        pmap_free(&s->held);
        if (s->root == s)
            pmap_free(&s->handles);
    }
    pmap_free(&p->handles);
}

void sess_free_all(shunt_proxy_t *p)
{
    uint64_t k;
    void *v;
    for (size_t i = 0; pmap_next(&p->sessions, &i, &k, &v);) {
        psess_t *s = v;
        pmap_free(&s->held);
        if (s->root == s) {
            pmap_free(&s->handles);
            pmap_free(&s->streams);
        }
        free(s);
    }
    pmap_free(&p->sessions);
}
