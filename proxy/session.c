/* Sessions and their groups: which remote handles and streams they own, and
 * the cleanup when a group's last connection goes. */
#include "proxy_int.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <stdlib.h>

psess_t *sess_attach(shunt_proxy_t *p, uint64_t id, uint64_t parent,
                     uint64_t *out_id)
{
    psess_t *s = id ? pmap_get(&p->sessions, id) : NULL;
    if (s) {
        s->root->nconns++;
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
    *out_id = id;
    return s;
}

void sess_send_close(shunt_proxy_t *p, uint32_t handle)
{
    shunt_close_t b = {.handle = handle};
    proxy_link_request(p, SHUNT_T_CLOSE, &b);
}

void sess_detach(shunt_proxy_t *p, psess_t *s)
{
    psess_t *root = s->root;
    if (--root->nconns > 0)
        return;
    size_t nh = root->handles.n, ns = root->streams.n;
    if (nh || ns)
        LOG_DEBUG("session %016llx ended: closing %zu handle(s), "
                  "%zu stream(s)",
                  (unsigned long long)root->id, nh, ns);
    uint64_t k;
    void *v;
    for (size_t i = 0; pmap_next(&root->handles, &i, &k, NULL);) {
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
    while (root->next_member) {
        psess_t *m = root->next_member;
        root->next_member = m->next_member;
        pmap_del(&p->sessions, m->id);
        free(m);
    }
    pmap_del(&p->sessions, root->id);
    free(root);
}

void sess_handle_add(shunt_proxy_t *p, psess_t *root, uint32_t handle)
{
    psess_t *old = pmap_get(&p->handles, handle);
    if (old && old != root)
        pmap_del(&old->handles, handle);
    if (pmap_put(&root->handles, handle, (void *)1) < 0 ||
        pmap_put(&p->handles, handle, root) < 0)
        LOG_WARN("out of memory tracking handle %u", handle);
}

void sess_handle_forget(shunt_proxy_t *p, uint32_t handle)
{
    psess_t *root = pmap_del(&p->handles, handle);
    if (root)
        pmap_del(&root->handles, handle);
}

void sess_link_lost(shunt_proxy_t *p)
{
    /* The agent released every handle with the link. */
    uint64_t k;
    void *v;
    for (size_t i = 0; pmap_next(&p->sessions, &i, &k, &v);) {
        psess_t *s = v;
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
        if (s->root == s) {
            pmap_free(&s->handles);
            pmap_free(&s->streams);
        }
        free(s);
    }
    pmap_free(&p->sessions);
}
