/* The router's HTTP/2 half: an nghttp2 server session terminates the
 * client's h2 (prior knowledge, or after an `Upgrade: h2c` the router
 * answers), one nghttp2 client session per upstream speaks h2 prior
 * knowledge to it, and each client stream is relayed to a stream of the
 * upstream its request headers pick.  DATA is held only until the other
 * session takes it; it is consumed (WINDOW_UPDATE) on the session it came
 * from when taken, so the peers' windows bound what is held. */
#include "router_int.h"

#include <nghttp2/nghttp2.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A stalled stream must not take the whole connection's window from the
 * others: the connection window covers every stream's (100 of them). */
#define STREAM_WINDOW 65535
#define MAX_STREAMS 100
#define CONN_WINDOW (MAX_STREAMS * STREAM_WINDOW)

typedef struct {
    bq_t buf;
    int eof;        /* END_STREAM seen: buf is the rest */
    hlist_t tr;     /* trailers, sent after buf */
} half_t;

typedef struct h2up h2up_t;

typedef struct h2s {
    in_router_t *r;
    int32_t cid, uid;   /* client's stream, upstream's stream */
    int up;             /* -1 until routed */
    h2up_t *u;          /* NULL when not routed or its upstream is gone */
    hlist_t reqh, resph;
    half_t req, resp;
    int resp_sent;      /* final response headers submitted to the client */
    int c_closed, u_closed;
    struct h2s *next;
} h2s_t;

struct h2up {
    in_router_t *r;
    int up;
    nghttp2_session *s;
};

struct h2 {
    nghttp2_session *srv;
    h2up_t *u[2];
    h2s_t *streams;
    int dead;           /* the client broke h2: GOAWAY sent, then end */
};

static void stream_free(h2s_t *s)
{
    hl_free(&s->reqh);
    hl_free(&s->resph);
    bq_free(&s->req.buf);
    bq_free(&s->resp.buf);
    hl_free(&s->req.tr);
    hl_free(&s->resp.tr);
    free(s);
}

static h2s_t *stream_new(in_router_t *r, int32_t cid)
{
    h2s_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->r = r;
    s->cid = cid;
    s->uid = -1;
    s->up = -1;
    s->next = r->h2->streams;
    r->h2->streams = s;
    return s;
}

/* nghttp2_nv array over h's lines (valid while h is). */
static nghttp2_nv *hl_nv(const hlist_t *h)
{
    nghttp2_nv *nv = calloc(h->n + 1, sizeof(*nv));
    if (!nv)
        return NULL;
    for (size_t i = 0; i < h->n; i++) {
        char *line = h->buf + h->off[i];
        nv[i].name = (uint8_t *)line;
        nv[i].namelen = h->nlen[i];
        nv[i].value = (uint8_t *)line + h->nlen[i] + 2;
        nv[i].valuelen = strlen(line + h->nlen[i] + 2);
        nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    }
    return nv;
}

/* ---- DATA from one session to the other ---------------------------------- */
/* Takes up to len bytes of hf for the session that reads it; the session
 * they came from (from, its stream fid) gets them back as window. */
static ssize_t half_read(nghttp2_session *to, int32_t id, half_t *hf,
                         nghttp2_session *from, int32_t fid,
                         uint8_t *buf, size_t len, uint32_t *flags)
{
    size_t n = bq_size(&hf->buf);
    if (n > len)
        n = len;
    memcpy(buf, bq_ptr(&hf->buf), n);
    bq_drop(&hf->buf, n);
    if (n && from)
        nghttp2_session_consume(from, fid, n);
    if (bq_size(&hf->buf) == 0 && hf->eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (hf->tr.n) {
            nghttp2_nv *nv = hl_nv(&hf->tr);
            if (nv && nghttp2_submit_trailer(to, id, nv, hf->tr.n) == 0)
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            free(nv);
        }
        return (ssize_t)n;
    }
    return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
}

static ssize_t req_read(nghttp2_session *ss, int32_t id, uint8_t *buf, size_t len,
                        uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)ud;
    h2s_t *s = src->ptr;
    return half_read(ss, id, &s->req, s->r->h2->srv, s->cid, buf, len, flags);
}

static ssize_t resp_read(nghttp2_session *ss, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)ud;
    h2s_t *s = src->ptr;
    return half_read(ss, id, &s->resp, s->u ? s->u->s : NULL, s->uid, buf, len, flags);
}

/* Drops what the client sent for s that will never reach its upstream. */
static void drop_req(in_router_t *r, h2s_t *s)
{
    size_t n = bq_size(&s->req.buf);
    if (n)
        nghttp2_session_consume(r->h2->srv, s->cid, n);
    bq_drop(&s->req.buf, n);
}

/* The upstream will not answer s: its RST_STREAM code when it reset the
 * stream, else 502 when nothing was said yet, else a reset. */
static void answer_failed(in_router_t *r, h2s_t *s, uint32_t err)
{
    if (s->c_closed || s->resp.eof)
        return;
    if (!s->resp_sent && !err) {
        static const nghttp2_nv bad[] = {
            {(uint8_t *)":status", (uint8_t *)"502", 7, 3, NGHTTP2_NV_FLAG_NONE},
            {(uint8_t *)"content-length", (uint8_t *)"0", 14, 1, NGHTTP2_NV_FLAG_NONE},
        };
        s->resp_sent = 1;
        s->resp.eof = 1;
        nghttp2_submit_response(r->h2->srv, s->cid, bad, 2, NULL);
    } else {
        nghttp2_submit_rst_stream(r->h2->srv, NGHTTP2_FLAG_NONE, s->cid,
                                  err ? err : NGHTTP2_INTERNAL_ERROR);
    }
    if (s->u && bq_size(&s->resp.buf))
        nghttp2_session_consume(s->u->s, s->uid, bq_size(&s->resp.buf));
    bq_drop(&s->resp.buf, bq_size(&s->resp.buf));
}

/* ---- the upstreams' client sessions -------------------------------------- */
static int up_begin_headers(nghttp2_session *ss, const nghttp2_frame *fr, void *ud)
{
    (void)ud;
    h2s_t *s = nghttp2_session_get_stream_user_data(ss, fr->hd.stream_id);
    if (s && fr->hd.type == NGHTTP2_HEADERS)
        hl_reset(&s->resph);
    return 0;
}

static int up_header(nghttp2_session *ss, const nghttp2_frame *fr, const uint8_t *name,
                     size_t nl, const uint8_t *val, size_t vl, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    h2s_t *s = nghttp2_session_get_stream_user_data(ss, fr->hd.stream_id);
    if (!s || fr->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (hl_add(&s->resph, (const char *)name, nl, (const char *)val, vl) < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int up_frame_recv(nghttp2_session *ss, const nghttp2_frame *fr, void *ud)
{
    h2up_t *u = ud;
    in_router_t *r = u->r;
    h2s_t *s = nghttp2_session_get_stream_user_data(ss, fr->hd.stream_id);
    if (!s || s->c_closed)
        return 0;
    int end = (fr->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (fr->hd.type == NGHTTP2_HEADERS) {
        if (!s->resp_sent) {
            const char *st = hl_get(&s->resph, ":status");
            nghttp2_nv *nv = hl_nv(&s->resph);
            if (!nv)
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            if (st && st[0] == '1' && !end) {
                nghttp2_submit_headers(r->h2->srv, NGHTTP2_FLAG_NONE, s->cid, NULL,
                                       nv, s->resph.n, NULL);
            } else {
                nghttp2_data_provider dp = {.source.ptr = s, .read_callback = resp_read};
                s->resp_sent = 1;
                s->resp.eof = end;
                nghttp2_submit_response(r->h2->srv, s->cid, nv, s->resph.n,
                                        end ? NULL : &dp);
            }
            free(nv);
        } else {
            hlist_t t = s->resp.tr;
            s->resp.tr = s->resph;
            s->resph = t;
            hl_reset(&s->resph);
            s->resp.eof = 1;
            nghttp2_session_resume_data(r->h2->srv, s->cid);
        }
    } else if (fr->hd.type == NGHTTP2_DATA && end) {
        s->resp.eof = 1;
        nghttp2_session_resume_data(r->h2->srv, s->cid);
    }
    return 0;
}

static int up_data(nghttp2_session *ss, uint8_t flags, int32_t id, const uint8_t *p,
                   size_t n, void *ud)
{
    (void)flags;
    h2up_t *u = ud;
    h2s_t *s = nghttp2_session_get_stream_user_data(ss, id);
    if (!s || s->c_closed || s->resp.eof) {
        nghttp2_session_consume(ss, id, n);
        return 0;
    }
    if (bq_put(&s->resp.buf, p, n) < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    nghttp2_session_resume_data(u->r->h2->srv, s->cid);
    return 0;
}

static int up_stream_close(nghttp2_session *ss, int32_t id, uint32_t err, void *ud)
{
    h2up_t *u = ud;
    h2s_t *s = nghttp2_session_get_stream_user_data(ss, id);
    if (!s)
        return 0;
    nghttp2_session_set_stream_user_data(ss, id, NULL);
    s->u_closed = 1;
    drop_req(u->r, s);
    if (!s->resp.eof)
        answer_failed(u->r, s, err);
    return 0;
}

static nghttp2_option *make_option(int server)
{
    nghttp2_option *o;
    if (nghttp2_option_new(&o) != 0)
        return NULL;
    nghttp2_option_set_no_auto_window_update(o, 1);
    if (server)
        nghttp2_option_set_no_closed_streams(o, 1);
    return o;
}

static int submit_local_settings(nghttp2_session *s, int server)
{
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {server ? NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS : NGHTTP2_SETTINGS_ENABLE_PUSH,
         server ? MAX_STREAMS : 0},
    };
    if (nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, 2) != 0)
        return -1;
    return nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
}

static h2up_t *up_get(in_router_t *r, int up)
{
    h2_t *h = r->h2;
    if (h->u[up])
        return h->u[up];
    h2up_t *u = calloc(1, sizeof(*u));
    nghttp2_session_callbacks *cb;
    if (!u)
        return NULL;
    u->r = r;
    u->up = up;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        free(u);
        return NULL;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, up_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, up_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, up_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, up_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, up_stream_close);
    nghttp2_option *o = make_option(0);
    int rc = o ? nghttp2_session_client_new2(&u->s, cb, u, o) : -1;
    nghttp2_option_del(o);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0 || submit_local_settings(u->s, 0) != 0) {
        if (rc == 0)
            nghttp2_session_del(u->s);
        free(u);
        return NULL;
    }
    h->u[up] = u;
    return u;
}

/* Routes s by its request headers and submits it to that upstream. */
static void route(in_router_t *r, h2s_t *s)
{
    hlist_t fl = {0};
    const char *method = hl_get(&s->reqh, ":method");
    const char *path = hl_get(&s->reqh, ":path");
    for (size_t i = 0; i < s->reqh.n; i++) {
        const char *line = s->reqh.buf + s->reqh.off[i];
        if (line[0] != ':')
            hl_add(&fl, line, s->reqh.nlen[i], line + s->reqh.nlen[i] + 2,
                   strlen(line + s->reqh.nlen[i] + 2));
    }
    s->up = rt_route(r, method ? method : "", path ? path : "", &fl);
    hl_free(&fl);
    h2up_t *u = up_get(r, s->up);
    nghttp2_nv *nv = u ? hl_nv(&s->reqh) : NULL;
    if (!nv) {
        nghttp2_submit_rst_stream(r->h2->srv, NGHTTP2_FLAG_NONE, s->cid, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    nghttp2_data_provider dp = {.source.ptr = s, .read_callback = req_read};
    s->uid = nghttp2_submit_request(u->s, NULL, nv, s->reqh.n, s->req.eof ? NULL : &dp, s);
    free(nv);
    if (s->uid < 0) {
        nghttp2_submit_rst_stream(r->h2->srv, NGHTTP2_FLAG_NONE, s->cid, NGHTTP2_REFUSED_STREAM);
        return;
    }
    s->u = u;
}

/* ---- the client's server session ----------------------------------------- */
static int srv_begin_headers(nghttp2_session *ss, const nghttp2_frame *fr, void *ud)
{
    in_router_t *r = ud;
    if (fr->hd.type != NGHTTP2_HEADERS || fr->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2s_t *s = stream_new(r, fr->hd.stream_id);
    if (!s)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(ss, fr->hd.stream_id, s);
    return 0;
}

static int srv_header(nghttp2_session *ss, const nghttp2_frame *fr, const uint8_t *name,
                      size_t nl, const uint8_t *val, size_t vl, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    h2s_t *s = nghttp2_session_get_stream_user_data(ss, fr->hd.stream_id);
    if (!s || fr->hd.type != NGHTTP2_HEADERS)
        return 0;
    hlist_t *h = s->up < 0 ? &s->reqh : &s->req.tr;
    if (hl_add(h, (const char *)name, nl, (const char *)val, vl) < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int srv_frame_recv(nghttp2_session *ss, const nghttp2_frame *fr, void *ud)
{
    in_router_t *r = ud;
    h2s_t *s = nghttp2_session_get_stream_user_data(ss, fr->hd.stream_id);
    if (!s || (fr->hd.type != NGHTTP2_HEADERS && fr->hd.type != NGHTTP2_DATA))
        return 0;
    int end = (fr->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (end)
        s->req.eof = 1;
    if (fr->hd.type == NGHTTP2_HEADERS && s->up < 0) {
        route(r, s);
        return 0;
    }
    if (end && s->u && !s->u_closed)
        nghttp2_session_resume_data(s->u->s, s->uid);
    return 0;
}

static int srv_data(nghttp2_session *ss, uint8_t flags, int32_t id, const uint8_t *p,
                    size_t n, void *ud)
{
    (void)flags;
    (void)ud;
    h2s_t *s = nghttp2_session_get_stream_user_data(ss, id);
    if (!s || !s->u || s->u_closed) {
        nghttp2_session_consume(ss, id, n);
        return 0;
    }
    if (bq_put(&s->req.buf, p, n) < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    nghttp2_session_resume_data(s->u->s, s->uid);
    return 0;
}

static int srv_stream_close(nghttp2_session *ss, int32_t id, uint32_t err, void *ud)
{
    (void)ud;
    h2s_t *s = nghttp2_session_get_stream_user_data(ss, id);
    if (!s)
        return 0;
    nghttp2_session_set_stream_user_data(ss, id, NULL);
    s->c_closed = 1;
    if (s->u && !s->u_closed)
        nghttp2_submit_rst_stream(s->u->s, NGHTTP2_FLAG_NONE, s->uid,
                                  err ? err : NGHTTP2_CANCEL);
    if (s->u && bq_size(&s->resp.buf))
        nghttp2_session_consume(s->u->s, s->uid, bq_size(&s->resp.buf));
    bq_drop(&s->resp.buf, bq_size(&s->resp.buf));
    return 0;
}

int h2_start(in_router_t *r)
{
    nghttp2_session_callbacks *cb;
    h2_t *h = calloc(1, sizeof(*h));
    if (!h || nghttp2_session_callbacks_new(&cb) != 0) {
        free(h);
        return -1;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, srv_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, srv_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, srv_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, srv_stream_close);
    nghttp2_option *o = make_option(1);
    int rc = o ? nghttp2_session_server_new2(&h->srv, cb, r, o) : -1;
    nghttp2_option_del(o);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0) {
        free(h);
        return -1;
    }
    r->h2 = h;
    r->mode = MODE_H2;
    if (submit_local_settings(h->srv, 1) != 0)
        return -1;
    return 0;
}

static int b64url_decode(const char *in, uint8_t *out, size_t cap, size_t *outlen)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *in && *in != '='; in++) {
        int v;
        char c = *in;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '-' || c == '+') v = 62;
        else if (c == '_' || c == '/') v = 63;
        else return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    *outlen = n;
    return 0;
}

/* Connection-specific HTTP/1.1 headers h2 forbids. */
static int h1_only(const char *name, size_t nl, const char *value)
{
    static const char *const drop[] = {"connection", "upgrade", "http2-settings", "host",
                                       "keep-alive", "proxy-connection", "transfer-encoding"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (strlen(drop[i]) == nl && strncasecmp(name, drop[i], nl) == 0)
            return 1;
    return nl == 2 && strncasecmp(name, "te", 2) == 0 && strcasecmp(value, "trailers") != 0;
}

int h2_start_upgrade(in_router_t *r, const char *settings, const char *method,
                     const char *path, hlist_t *hl)
{
    static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\n"
                             "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    uint8_t payload[1024];
    size_t plen;
    if (!settings || b64url_decode(settings, payload, sizeof(payload), &plen) < 0)
        return -1;
    if (h2_start(r) < 0)
        return -1;
    h2s_t *s = stream_new(r, 1);
    if (!s || nghttp2_session_upgrade2(r->h2->srv, payload, plen,
                                       strcmp(method, "HEAD") == 0, s) != 0)
        return -1;
    s->req.eof = 1;
    const char *host = hl_get(hl, "host");
    if (hl_add(&s->reqh, ":method", 7, method, strlen(method)) < 0 ||
        hl_add(&s->reqh, ":scheme", 7, "http", 4) < 0 ||
        (host && hl_add(&s->reqh, ":authority", 10, host, strlen(host)) < 0) ||
        hl_add(&s->reqh, ":path", 5, path, strlen(path)) < 0)
        return -1;
    for (size_t i = 0; i < hl->n; i++) {
        const char *line = hl->buf + hl->off[i];
        const char *val = line + hl->nlen[i] + 2;
        if (h1_only(line, hl->nlen[i], val))
            continue;
        size_t at = s->reqh.n;
        if (hl_add(&s->reqh, line, hl->nlen[i], val, strlen(val)) < 0)
            return -1;
        char *nm = s->reqh.buf + s->reqh.off[at];
        for (size_t k = 0; k < hl->nlen[i]; k++)
            nm[k] = (char)tolower((unsigned char)nm[k]);
    }
    rt_send_client(r, (const uint8_t *)sw, sizeof(sw) - 1);
    route(r, s);
    return 0;
}

int h2_client(in_router_t *r, const uint8_t *p, size_t n)
{
    h2_t *h = r->h2;
    if (h->dead || r->ended || n == 0)
        return 0;
    ssize_t rv = nghttp2_session_mem_recv(h->srv, p, n);
    if (rv < 0)
        h->dead = 1; /* nghttp2 queued its GOAWAY: flushed, then the end */
    return 0;
}

void h2_upstream(in_router_t *r, int up, const uint8_t *p, size_t n)
{
    h2up_t *u = r->h2->u[up];
    if (!u || (r->pend_fail & (1u << up)))
        return;
    if (nghttp2_session_mem_recv(u->s, p, n) < 0)
        r->pend_fail |= 1u << up;
}

void h2_upstream_gone(in_router_t *r, int up)
{
    h2_t *h = r->h2;
    h2up_t *u = h->u[up];
    if (u) {
        for (h2s_t *s = h->streams; s; s = s->next) {
            if (s->u != u)
                continue;
            s->u = NULL;
            drop_req(r, s);
            if (!s->u_closed) {
                s->u_closed = 1;
                answer_failed(r, s, 0);
            }
        }
        nghttp2_session_del(u->s);
        free(u);
        h->u[up] = NULL;
    }
    rt_shut_up(r, up);
}

/* The client sends nothing more: requests it left unfinished never will
 * be; the others are answered, then h2_settle ends the connection. */
void h2_client_eof(in_router_t *r)
{
    for (h2s_t *s = r->h2->streams; s; s = s->next)
        if (!s->c_closed && !s->req.eof)
            nghttp2_submit_rst_stream(r->h2->srv, NGHTTP2_FLAG_NONE, s->cid, NGHTTP2_CANCEL);
}

/* Sends what each session has to send until none has anything. */
static void flush(in_router_t *r)
{
    h2_t *h = r->h2;
    for (int moved = 1; moved && !r->ended;) {
        moved = 0;
        const uint8_t *d;
        ssize_t n = 0;
        while (!r->cshut && (n = nghttp2_session_mem_send(h->srv, &d)) > 0) {
            rt_send_client(r, d, (size_t)n);
            moved = 1;
        }
        if (n < 0)
            h->dead = 1;
        for (int up = 0; up < 2; up++) {
            h2up_t *u = h->u[up];
            if (!u || (r->pend_fail & (1u << up)))
                continue;
            while ((n = nghttp2_session_mem_send(u->s, &d)) > 0) {
                moved = 1;
                if (rt_send_up(r, up, d, (size_t)n) < 0)
                    break;
            }
            if (n < 0)
                r->pend_fail |= 1u << up;
        }
    }
}

void h2_settle(in_router_t *r)
{
    h2_t *h = r->h2;
    if (!h || r->ended)
        return;
    flush(r);
    if (r->pend_fail)
        return;
    for (h2s_t **pp = &h->streams; *pp;) {
        h2s_t *s = *pp;
        if (s->c_closed && (!s->u || s->u_closed)) {
            *pp = s->next;
            stream_free(s);
        } else {
            pp = &s->next;
        }
    }
    /* an upstream that said GOAWAY and has nothing left: a new one next time */
    for (int up = 0; up < 2; up++) {
        h2up_t *u = h->u[up];
        if (u && !nghttp2_session_want_read(u->s) && !nghttp2_session_want_write(u->s))
            h2_upstream_gone(r, up);
    }
    int idle = !nghttp2_session_want_write(h->srv);
    if (h->dead || (idle && !nghttp2_session_want_read(h->srv)) ||
        (idle && r->client_eof && !h->streams))
        rt_end(r);
}

size_t h2_held(const in_router_t *r, int up)
{
    size_t n = 0;
    for (const h2s_t *s = r->h2->streams; s; s = s->next)
        if (s->up == up)
            n += bq_size(&s->resp.buf);
    return n;
}

void h2_free(in_router_t *r)
{
    h2_t *h = r->h2;
    if (!h)
        return;
    for (int up = 0; up < 2; up++)
        if (h->u[up]) {
            nghttp2_session_del(h->u[up]->s);
            free(h->u[up]);
        }
    nghttp2_session_del(h->srv);
    while (h->streams) {
        h2s_t *s = h->streams;
        h->streams = s->next;
        stream_free(s);
    }
    free(h);
    r->h2 = NULL;
}
