/* The router's HTTP/1.1 half and its entry points: the client's bytes are
 * parsed with llhttp and forwarded byte-exactly, request by request, to the
 * upstream the filter picks; each upstream's responses are parsed with a
 * parser of their own and handed to the client strictly in request order,
 * the others held until their turn.  HTTP/2 is h2.c. */
#include "router_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEAD (256u * 1024u) /* request line and headers, before routing */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN 24

/* ---- byte queues and header lists ---------------------------------------- */
int bq_put(bq_t *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (b->head == b->len)
        b->head = b->len = 0;
    if (b->len + n > b->cap && b->head > 0) {
        memmove(b->d, b->d + b->head, b->len - b->head);
        b->len -= b->head;
        b->head = 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->d, cap);
        if (!d)
            return -1;
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
    return 0;
}

void bq_drop(bq_t *b, size_t n)
{
    b->head += n;
    if (b->head >= b->len) {
        b->head = b->len = 0;
        if (b->cap > 256u * 1024u) { /* give back a burst's memory */
            free(b->d);
            b->d = NULL;
            b->cap = 0;
        }
    }
}

void bq_free(bq_t *b)
{
    free(b->d);
    memset(b, 0, sizeof(*b));
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

int hl_add(hlist_t *h, const char *name, size_t nl, const char *val, size_t vl)
{
    while (vl && (*val == ' ' || *val == '\t')) {
        val++;
        vl--;
    }
    while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t'))
        vl--;
    size_t need = h->len + nl + 2 + vl + 1;
    size_t ncap = h->ncap, ncap2 = h->ncap;
    if (grow((void **)&h->buf, &h->cap, need, 1) < 0 ||
        grow((void **)&h->off, &ncap, h->n + 1, sizeof(size_t)) < 0 ||
        grow((void **)&h->nlen, &ncap2, h->n + 1, sizeof(size_t)) < 0)
        return -1;
    h->ncap = ncap < ncap2 ? ncap : ncap2;
    h->off[h->n] = h->len;
    h->nlen[h->n] = nl;
    memcpy(h->buf + h->len, name, nl);
    memcpy(h->buf + h->len + nl, ": ", 2);
    memcpy(h->buf + h->len + nl + 2, val, vl);
    h->buf[h->len + nl + 2 + vl] = 0;
    h->len = need;
    h->n++;
    return 0;
}

const char *const *hl_lines(hlist_t *h)
{
    free(h->lines);
    h->lines = malloc((h->n + 1) * sizeof(char *));
    if (!h->lines)
        return NULL;
    for (size_t i = 0; i < h->n; i++)
        h->lines[i] = h->buf + h->off[i];
    h->lines[h->n] = NULL;
    return h->lines;
}

const char *hl_get(const hlist_t *h, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < h->n; i++)
        if (h->nlen[i] == nl && strncasecmp(h->buf + h->off[i], name, nl) == 0)
            return h->buf + h->off[i] + nl + 2;
    return NULL;
}

void hl_reset(hlist_t *h)
{
    h->len = 0;
    h->n = 0;
}

void hl_free(hlist_t *h)
{
    free(h->buf);
    free(h->off);
    free(h->nlen);
    free(h->lines);
    memset(h, 0, sizeof(*h));
}

/* ---- upstream connections and the request queue ------------------------- */
struct upconn {
    in_router_t *r;
    int up;
    llhttp_t rp;          /* its responses */
    bq_t hold;            /* received, not yet handed to the client */
    int eof, failed;      /* no more bytes will come */
    int npending;         /* queue entries answered by it */
    int in_msg;           /* a response of it is part-way through */
    int ev;               /* what paused rp: EV_FINAL */
    int keepalive;        /* of the last final response */
    int status;           /* of the last final response */
    int finishing;        /* in llhttp_finish */
    upconn_t *next;
};

struct ent {
    upconn_t *c;
    int method;           /* llhttp_method_t */
    int upgrade;          /* asked to switch protocols */
    int close_after;      /* the client said this is its last request */
    int answered;         /* answered while still arriving (r->cur) */
    ent_t *next;
};

enum { EV_NONE, EV_HEADERS, EV_MESSAGE, EV_FINAL };

int rt_send_client(in_router_t *r, const uint8_t *p, size_t n)
{
    if (r->cshut || n == 0)
        return 0;
    if (r->ops.to_client(r->ctx, p, n) < 0) {
        rt_end(r);
        return -1;
    }
    return 0;
}

int rt_send_up(in_router_t *r, int up, const uint8_t *p, size_t n)
{
    if (r->ended || n == 0 || (r->pend_fail & (1u << up)))
        return 0;
    r->up_open[up] = 1;
    if (r->ops.to_upstream(r->ctx, up, p, n) < 0) {
        r->pend_fail |= 1u << up;
        return -1;
    }
    return 0;
}

void rt_shut_up(in_router_t *r, int up)
{
    if (r->up_open[up]) {
        r->up_open[up] = 0;
        r->ops.upstream_shut(r->ctx, up);
    }
}

/* Nothing more for the client: shut it and every upstream. */
void rt_end(in_router_t *r)
{
    if (r->ended)
        return;
    r->ended = 1;
    if (!r->cshut)
        r->ops.client_shut(r->ctx);
    r->cshut = 1;
    rt_shut_up(r, IN_UP_LOCAL);
    rt_shut_up(r, IN_UP_REMOTE);
}

int rt_route(in_router_t *r, const char *method, const char *path, hlist_t *hl)
{
    const char *const *lines = hl_lines(hl);
    in_request_t rq = {method, path, lines, lines ? hl->n : 0};
    int up = in_filter_match(r->f, &rq) ? IN_UP_LOCAL : IN_UP_REMOTE;
    if (up == IN_UP_LOCAL)
        r->st.local++;
    else
        r->st.remote++;
    return up;
}

static void conn_maybe_free(in_router_t *r, upconn_t *c)
{
    if (c->npending > 0 || r->conn[c->up] == c || r->tun == c)
        return;
    for (upconn_t **pp = &r->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    bq_free(&c->hold);
    free(c);
}

static int resp_begin(llhttp_t *p)
{
    upconn_t *c = p->data;
    c->in_msg = 1;
    return 0;
}

static int resp_headers(llhttp_t *p)
{
    upconn_t *c = p->data;
    ent_t *e = c->r->qh;
    int st = llhttp_get_status_code(p);
    if (e && e->c == c && st >= 200) {
        if (e->method == HTTP_HEAD)
            return 1;           /* no body, whatever it says */
        if (e->method == HTTP_CONNECT && st < 300)
            return 2;           /* a tunnel from here on */
    }
    return 0;
}

static int resp_complete(llhttp_t *p)
{
    upconn_t *c = p->data;
    int st = llhttp_get_status_code(p);
    c->in_msg = 0;
    if (st >= 100 && st < 200 && st != 101)
        return 0;               /* interim: the final response follows */
    c->ev = EV_FINAL;
    c->status = st;
    c->keepalive = llhttp_should_keep_alive(p);
    return c->finishing ? 0 : HPE_PAUSED;
}

static upconn_t *conn_get(in_router_t *r, int up)
{
    upconn_t *c = r->conn[up];
    if (c)
        return c;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->r = r;
    c->up = up;
    llhttp_init(&c->rp, HTTP_RESPONSE, &r->rs);
    c->rp.data = c;
    c->next = r->conns;
    r->conns = c;
    r->conn[up] = c;
    return c;
}

/* Bytes for the upstream connection c, unless it is gone. */
static void send_conn(in_router_t *r, upconn_t *c, const uint8_t *p, size_t n)
{
    if (!c || c->eof || c->failed || r->conn[c->up] != c)
        return;
    rt_send_up(r, c->up, p, n);
}

/* The upstream connection c will send nothing more. */
static void conn_gone(in_router_t *r, upconn_t *c, int failed)
{
    if (failed)
        c->failed = 1;
    else
        c->eof = 1;
    if (r->conn[c->up] == c) {
        r->conn[c->up] = NULL;
        rt_shut_up(r, c->up);
    }
    conn_maybe_free(r, c);
}

static void ent_free(in_router_t *r, ent_t *e)
{
    upconn_t *c = e->c;
    c->npending--;
    free(e);
    conn_maybe_free(r, c);
}

/* The head request is answered.  One still arriving (an early answer, such
 * as a 413 before the body) stays r->cur, its connection with it, until
 * its last byte is passed on. */
static void pop_head(in_router_t *r)
{
    ent_t *e = r->qh;
    r->qh = e->next;
    if (!r->qh)
        r->qt = NULL;
    e->next = NULL;
    if (e == r->cur)
        e->answered = 1;
    else
        ent_free(r, e);
}

/* ---- responses to the client, in request order --------------------------- */
static void fail_head(in_router_t *r, upconn_t *c)
{
    static const char bad[] = "HTTP/1.1 502 Bad Gateway\r\n"
                              "Content-Type: text/plain\r\n"
                              "Content-Length: 12\r\n"
                              "Connection: close\r\n\r\n"
                              "Bad Gateway\n";
    if (!c->in_msg)
        rt_send_client(r, (const uint8_t *)bad,
                       r->qh->method == HTTP_HEAD ? sizeof(bad) - 1 - 12 : sizeof(bad) - 1);
    rt_end(r);
}

static void start_tunnel(in_router_t *r, upconn_t *c)
{
    r->mode = MODE_TUNNEL;
    r->tun = c;
    /* what follows the 101 is the new protocol's */
    rt_send_client(r, bq_ptr(&c->hold), bq_size(&c->hold));
    bq_drop(&c->hold, bq_size(&c->hold));
    pop_head(r);
    while (r->qh)
        pop_head(r);
    int other = !c->up;
    if (r->conn[other]) {
        upconn_t *o = r->conn[other];
        r->conn[other] = NULL;
        conn_maybe_free(r, o);
    }
    rt_shut_up(r, other);
    send_conn(r, c, bq_ptr(&r->cheld), bq_size(&r->cheld));
    bq_drop(&r->cheld, bq_size(&r->cheld));
    r->wait_upgrade = 0;
    if (r->client_eof)
        rt_shut_up(r, c->up);
    if (c->eof || c->failed)
        rt_end(r);
}

/* Hands the head request's response to the client as far as its upstream
 * has sent it; on to the next request when it completes. */
static void pump(in_router_t *r)
{
    while (!r->ended && r->mode == MODE_H1 && r->qh) {
        ent_t *e = r->qh;
        upconn_t *c = e->c;
        if (bq_size(&c->hold) > 0) {
            const char *p = (const char *)bq_ptr(&c->hold);
            size_t n = bq_size(&c->hold), used;
            c->ev = EV_NONE;
            llhttp_errno_t err = llhttp_execute(&c->rp, p, n);
            used = err == HPE_OK ? n : (size_t)(llhttp_get_error_pos(&c->rp) - p);
            if (err != HPE_OK && err != HPE_PAUSED) {
                /* broke HTTP (or upgraded without our pause): it is failed */
                rt_send_client(r, (const uint8_t *)p, used);
                bq_drop(&c->hold, n);
                conn_gone(r, c, 1);
                fail_head(r, c);
                return;
            }
            rt_send_client(r, (const uint8_t *)p, used);
            bq_drop(&c->hold, used);
            if (err == HPE_PAUSED && c->ev != EV_FINAL) {
                llhttp_resume(&c->rp); /* not ours: never stay paused */
                continue;
            }
            if (c->ev == EV_FINAL) {
                int tunnel = c->status == 101 ||
                             (e->method == HTTP_CONNECT && c->status >= 200 && c->status < 300);
                if (tunnel) {
                    start_tunnel(r, c);
                    return;
                }
                llhttp_resume(&c->rp);
                int end = e->close_after || !c->keepalive;
                if (e->upgrade) { /* refused: back to HTTP for the client */
                    r->wait_upgrade = 0;
                    llhttp_resume(&r->qp);
                }
                pop_head(r);
                if (end)
                    rt_end(r);
            }
            continue;
        }
        if (!c->eof && !c->failed)
            return; /* wait for more of it */
        if (c->eof && c->in_msg) {
            /* a response that ends with its connection */
            c->ev = EV_NONE;
            c->finishing = 1;
            llhttp_errno_t err = llhttp_finish(&c->rp);
            c->finishing = 0;
            if (err == HPE_OK && c->ev == EV_FINAL) {
                pop_head(r);
                rt_end(r);
                return;
            }
        }
        fail_head(r, c);
        return;
    }
}

/* ---- requests from the client -------------------------------------------- */
static int req_begin(llhttp_t *p)
{
    in_router_t *r = p->data;
    r->urllen = r->fldlen = r->vallen = 0;
    hl_reset(&r->hl);
    return 0;
}

static int append(char **s, size_t *len, const char *at, size_t n)
{
    if (*len + n + 1 > MAX_HEAD)
        return -1;
    char *q = realloc(*s, *len + n + 1);
    if (!q)
        return -1;
    memcpy(q + *len, at, n);
    *len += n;
    q[*len] = 0;
    *s = q;
    return 0;
}

static int req_url(llhttp_t *p, const char *at, size_t n)
{
    in_router_t *r = p->data;
    return append(&r->url, &r->urllen, at, n);
}

static int req_field(llhttp_t *p, const char *at, size_t n)
{
    in_router_t *r = p->data;
    return append(&r->fld, &r->fldlen, at, n);
}

static int req_value(llhttp_t *p, const char *at, size_t n)
{
    in_router_t *r = p->data;
    return append(&r->val, &r->vallen, at, n);
}

static int req_value_done(llhttp_t *p)
{
    in_router_t *r = p->data;
    int rc = hl_add(&r->hl, r->fld ? r->fld : "", r->fldlen, r->val ? r->val : "", r->vallen);
    r->fldlen = r->vallen = 0;
    return rc;
}

static int req_headers(llhttp_t *p)
{
    in_router_t *r = p->data;
    r->qev = EV_HEADERS;
    return HPE_PAUSED;
}

static int req_complete(llhttp_t *p)
{
    in_router_t *r = p->data;
    r->qev = EV_MESSAGE;
    return HPE_PAUSED;
}

/* An `Upgrade: h2c` we answer ourselves: the connection's first request,
 * with HTTP2-Settings and no body. */
static int is_h2c(in_router_t *r)
{
    const char *u = hl_get(&r->hl, "upgrade");
    if (!u || strcasecmp(u, "h2c") != 0 || !hl_get(&r->hl, "http2-settings"))
        return 0;
    if (r->qh || r->st.local + r->st.remote > 0)
        return 0;
    if ((r->qp.flags & F_CHUNKED) || r->qp.content_length > 0)
        return 0;
    return 1;
}

static int on_request_headers(in_router_t *r)
{
    const char *method = llhttp_method_name((llhttp_method_t)r->qp.method);
    if (is_h2c(r)) {
        r->h2c = 1;
        return 0;
    }
    int up = rt_route(r, method, r->url ? r->url : "", &r->hl);
    ent_t *e = calloc(1, sizeof(*e));
    upconn_t *c = e ? conn_get(r, up) : NULL;
    if (!c) {
        free(e);
        return -1;
    }
    e->c = c;
    e->method = r->qp.method;
    c->npending++;
    if (r->qt)
        r->qt->next = e;
    else
        r->qh = e;
    r->qt = e;
    r->cur = e;
    send_conn(r, c, bq_ptr(&r->hdr), bq_size(&r->hdr));
    bq_drop(&r->hdr, bq_size(&r->hdr));
    return 0;
}

static int h1_client(in_router_t *r, const uint8_t *p, size_t n)
{
    for (;;) {
        if (r->ended || r->drop_client)
            return 0;
        if (r->mode == MODE_H2)
            return h2_client(r, p, n);
        if (r->mode == MODE_TUNNEL) {
            send_conn(r, r->tun, p, n);
            return 0;
        }
        if (r->wait_upgrade)
            return bq_put(&r->cheld, p, n);
        r->qev = EV_NONE;
        llhttp_errno_t err = llhttp_execute(&r->qp, (const char *)p, n);
        size_t used = err == HPE_OK ? n : (size_t)(llhttp_get_error_pos(&r->qp) - (const char *)p);
        if (err != HPE_OK && err != HPE_PAUSED && err != HPE_PAUSED_UPGRADE)
            return -1;
        if (r->cur)
            send_conn(r, r->cur->c, p, used);
        else if (used && (bq_size(&r->hdr) + used > MAX_HEAD || bq_put(&r->hdr, p, used) < 0))
            return -1;
        p += used;
        n -= used;
        if (err == HPE_OK)
            return 0;
        if (err == HPE_PAUSED_UPGRADE) { /* the upgrade was refused */
            llhttp_resume_after_upgrade(&r->qp);
            continue;
        }
        if (r->qev == EV_HEADERS) {
            if (on_request_headers(r) < 0)
                return -1;
            llhttp_resume(&r->qp);
            continue;
        }
        /* EV_MESSAGE */
        if (r->h2c) {
            const char *method = llhttp_method_name((llhttp_method_t)r->qp.method);
            bq_drop(&r->hdr, bq_size(&r->hdr));
            if (h2_start_upgrade(r, hl_get(&r->hl, "http2-settings"), method,
                                 r->url ? r->url : "", &r->hl) < 0)
                return -1;
            continue;
        }
        ent_t *e = r->cur;
        r->cur = NULL;
        if (e && e->answered) { /* its answer (not a 101) is delivered */
            ent_free(r, e);
            if (!llhttp_should_keep_alive(&r->qp))
                r->drop_client = 1;
            llhttp_resume(&r->qp);
            continue;
        }
        if (e && !llhttp_should_keep_alive(&r->qp)) {
            e->close_after = 1;
            r->drop_client = 1;
        }
        if (e && r->qp.upgrade) {
            e->upgrade = 1;
            r->wait_upgrade = 1; /* resumed when its answer is not a 101 */
            continue;
        }
        llhttp_resume(&r->qp);
    }
}

/* ---- the entry points ---------------------------------------------------- */
in_router_t *in_router_new(const in_filter_t *f, const in_router_ops_t *ops, void *ctx)
{
    in_router_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->f = f;
    r->ops = *ops;
    r->ctx = ctx;
    r->mode = MODE_DETECT;
    llhttp_settings_init(&r->qs);
    r->qs.on_message_begin = req_begin;
    r->qs.on_url = req_url;
    r->qs.on_header_field = req_field;
    r->qs.on_header_value = req_value;
    r->qs.on_header_value_complete = req_value_done;
    r->qs.on_headers_complete = req_headers;
    r->qs.on_message_complete = req_complete;
    llhttp_init(&r->qp, HTTP_REQUEST, &r->qs);
    r->qp.data = r;
    llhttp_settings_init(&r->rs);
    r->rs.on_message_begin = resp_begin;
    r->rs.on_headers_complete = resp_headers;
    r->rs.on_message_complete = resp_complete;
    return r;
}

static void upstream_failed(in_router_t *r, int up)
{
    if (r->mode == MODE_TUNNEL) {
        if (r->tun->up == up)
            rt_end(r);
    } else if (r->mode == MODE_H2) {
        h2_upstream_gone(r, up);
    } else if (r->conn[up]) {
        conn_gone(r, r->conn[up], 1);
    } else {
        rt_shut_up(r, up);
    }
}

static int cheld_due(const in_router_t *r)
{
    return r->mode == MODE_H1 && !r->ended && !r->wait_upgrade && bq_size(&r->cheld) > 0;
}

/* After every entry point: failures reported by the callbacks, the client's
 * held bytes once an upgrade was refused, responses now due, the end. */
static int settle(in_router_t *r)
{
    int rc = 0;
    for (;;) {
        if (r->pend_fail) {
            int up = (r->pend_fail & 1u) ? 0 : 1;
            r->pend_fail &= ~(1u << up);
            upstream_failed(r, up);
            continue;
        }
        if (r->mode == MODE_H2) {
            h2_settle(r);
            if (r->pend_fail)
                continue;
            return rc;
        }
        if (cheld_due(r)) {
            bq_t b = r->cheld;
            memset(&r->cheld, 0, sizeof(r->cheld));
            if (h1_client(r, bq_ptr(&b), bq_size(&b)) < 0) {
                rc = -1;
                rt_end(r); /* the client broke HTTP: nothing more for it */
            }
            bq_free(&b);
            continue;
        }
        pump(r);
        if (r->pend_fail || cheld_due(r))
            continue;
        if (r->mode == MODE_H1 && r->client_eof && !r->qh && !r->ended)
            rt_end(r);
        return rc;
    }
}

int in_router_client(in_router_t *r, const uint8_t *p, size_t n)
{
    int rc = 0;
    if (r->ended)
        return 0;
    if (r->mode == MODE_DETECT) {
        size_t k = 0;
        while (k < n && r->detected + k < PREFACE_LEN && p[k] == (uint8_t)preface[r->detected + k])
            k++;
        if (r->detected + k == PREFACE_LEN) {
            r->mode = MODE_H2;
            if (h2_start(r) < 0)
                return -1;
            rc = h2_client(r, (const uint8_t *)preface, PREFACE_LEN);
            if (rc == 0)
                rc = h2_client(r, p + k, n - k);
        } else if (k == n) {
            r->detected += k; /* so far a prefix of the preface */
            return 0;
        } else {
            r->mode = MODE_H1;
            if (r->detected)
                rc = h1_client(r, (const uint8_t *)preface, r->detected);
            if (rc == 0)
                rc = h1_client(r, p, n);
        }
    } else if (r->mode == MODE_H2) {
        rc = h2_client(r, p, n);
    } else {
        rc = h1_client(r, p, n);
    }
    if (settle(r) < 0)
        rc = -1;
    return rc;
}

int in_router_upstream(in_router_t *r, int up, const uint8_t *p, size_t n)
{
    if (r->ended || (up != IN_UP_LOCAL && up != IN_UP_REMOTE))
        return 0;
    if (r->mode == MODE_TUNNEL) {
        if (r->tun->up == up)
            rt_send_client(r, p, n);
        return 0;
    }
    if (r->mode == MODE_H2) {
        h2_upstream(r, up, p, n);
    } else if (r->conn[up]) {
        if (bq_put(&r->conn[up]->hold, p, n) < 0)
            return -1;
    }
    settle(r);
    return 0;
}

void in_router_client_eof(in_router_t *r)
{
    if (r->client_eof)
        return;
    r->client_eof = 1;
    if (r->mode == MODE_DETECT) {
        r->mode = MODE_H1;
        if (r->detected)
            h1_client(r, (const uint8_t *)preface, r->detected);
    }
    if (r->mode == MODE_TUNNEL) {
        rt_shut_up(r, r->tun->up);
        if (r->tun->eof || r->tun->failed)
            rt_end(r);
        return;
    }
    if (r->mode == MODE_H2) {
        h2_client_eof(r);
    } else if (r->cur && r->cur->c == r->conn[r->cur->c->up]) {
        /* a request cut short: its upstream hears the end too */
        rt_shut_up(r, r->cur->c->up);
    }
    settle(r);
}

void in_router_upstream_eof(in_router_t *r, int up)
{
    if (up != IN_UP_LOCAL && up != IN_UP_REMOTE)
        return;
    if (r->mode == MODE_TUNNEL) {
        if (r->tun->up == up) {
            r->tun->eof = 1;
            if (r->client_eof)
                rt_end(r);
            else if (!r->cshut) { /* the client may still talk: shut its side */
                r->cshut = 1;
                r->ops.client_shut(r->ctx);
            }
        }
        return;
    }
    if (r->mode == MODE_H2) {
        h2_upstream_gone(r, up);
    } else if (r->conn[up]) {
        conn_gone(r, r->conn[up], 0);
    } else {
        rt_shut_up(r, up);
    }
    settle(r);
}

void in_router_upstream_failed(in_router_t *r, int up)
{
    if (up != IN_UP_LOCAL && up != IN_UP_REMOTE)
        return;
    upstream_failed(r, up);
    settle(r);
}

size_t in_router_held(const in_router_t *r, int up)
{
    if (r->mode == MODE_H2)
        return h2_held(r, up);
    size_t n = 0;
    for (const upconn_t *c = r->conns; c; c = c->next)
        if (c->up == up)
            n += bq_size(&c->hold);
    return n;
}

int in_router_done(const in_router_t *r)
{
    return r->ended;
}

void in_router_stats(const in_router_t *r, in_router_stats_t *s)
{
    *s = r->st;
}

void in_router_free(in_router_t *r)
{
    if (!r)
        return;
    h2_free(r);
    if (r->cur && r->cur->answered)
        free(r->cur);
    while (r->qh) {
        ent_t *e = r->qh;
        r->qh = e->next;
        free(e);
    }
    while (r->conns) {
        upconn_t *c = r->conns;
        r->conns = c->next;
        bq_free(&c->hold);
        free(c);
    }
    bq_free(&r->hdr);
    bq_free(&r->cheld);
    free(r->url);
    free(r->fld);
    free(r->val);
    hl_free(&r->hl);
    free(r);
}
