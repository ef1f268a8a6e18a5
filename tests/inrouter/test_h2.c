/* The router over HTTP/2: an nghttp2 client session plays the client, two
 * nghttp2 server sessions play the upstreams, all in memory.  Streams are
 * routed by their headers, bodies cross both ways byte-exactly under flow
 * control, answers reach the right streams, resets and failures relay. */
#include "rig.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L IN_UP_LOCAL
#define R IN_UP_REMOTE
#define NS 64

static const char *const hfilter[] = {"header ^x-route: local$", NULL};

/* one stream as an end sees it */
typedef struct {
    int used;
    char path[64], route[16], served[16];
    int status;
    int interims;    /* 1xx HEADERS received */
    buf_t body;
    int ended;
    uint32_t rst;    /* closed with this error */
    int closed;
    size_t want;     /* upstream: answer size */
    size_t sent;
    size_t got;      /* count_only: body bytes received */
    int send_tr;     /* end the body with trailers (x-trailer: yes) */
    char trailer[16];
} st_t;

typedef struct {
    nghttp2_session *s;
    st_t st[NS];
    int who;             /* upstream: L or R; client: -1 */
    int paused;          /* upstream: its output waits */
    size_t answer;       /* upstream: body bytes per answer */
    int rst_on_request;  /* upstream: RST_STREAM(this) instead of answering */
    int trailers;        /* upstream: answers end with trailers */
    int interim;         /* upstream: a 103 before each answer */
    int count_only;      /* bodies are counted and checked, not kept */
    size_t bad;          /* count_only: bytes off the pattern */
    int nreq;
} end_t;

typedef struct {
    rig_t g;
    end_t cli, up[2];
    size_t max_held;
    size_t max_heap;     /* heap in use, the most seen by run() */
    int cli_eof;     /* the client's bytes no longer reach the router */
} h2t_t;

static uint8_t body_byte(int stream, size_t i)
{
    return (uint8_t)('A' + (stream * 5 + i * 3 + i / 1000) % 26);
}

static st_t *st_of(end_t *e, int32_t id)
{
    assert_true(id > 0 && id < NS);
    e->st[id].used = 1;
    return &e->st[id];
}

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)ud;
    st_t *t = src->ptr;
    size_t n = t->want - t->sent;
    if (n > len)
        n = len;
    for (size_t i = 0; i < n; i++)
        buf[i] = body_byte(id, t->sent + i);
    t->sent += n;
    if (t->sent == t->want) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (t->send_tr) {
            static const nghttp2_nv tr[] = {{(uint8_t *)"x-trailer", (uint8_t *)"yes", 9, 3, 0}};
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_submit_trailer(s, id, tr, 1);
        }
    }
    return (ssize_t)n;
}

static void answer(end_t *e, int32_t id)
{
    st_t *t = st_of(e, id);
    if (e->rst_on_request) {
        nghttp2_submit_rst_stream(e->s, NGHTTP2_FLAG_NONE, id, (uint32_t)e->rst_on_request);
        return;
    }
    const char *who = e->who == L ? "local" : "remote";
    nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
        {(uint8_t *)"x-served-by", (uint8_t *)who, 11, strlen(who), 0},
    };
    if (e->interim) {
        static const nghttp2_nv hint[] = {
            {(uint8_t *)":status", (uint8_t *)"103", 7, 3, 0},
            {(uint8_t *)"link", (uint8_t *)"</s.css>; rel=preload", 4, 21, 0},
        };
        nghttp2_submit_headers(e->s, NGHTTP2_FLAG_NONE, id, NULL, hint, 2, NULL);
    }
    t->want = e->answer;
    t->send_tr = e->trailers;
    nghttp2_data_provider dp = {.source.ptr = t, .read_callback = body_read};
    nghttp2_submit_response(e->s, id, nv, 2, t->want ? &dp : NULL);
}

static int on_header(nghttp2_session *s, const nghttp2_frame *fr, const uint8_t *name,
                     size_t nl, const uint8_t *val, size_t vl, uint8_t flags, void *ud)
{
    (void)s;
    (void)flags;
    end_t *e = ud;
    st_t *t = st_of(e, fr->hd.stream_id);
    if (nl == 5 && !memcmp(name, ":path", 5))
        snprintf(t->path, sizeof(t->path), "%.*s", (int)vl, val);
    else if (nl == 7 && !memcmp(name, "x-route", 7))
        snprintf(t->route, sizeof(t->route), "%.*s", (int)vl, val);
    else if (nl == 11 && !memcmp(name, "x-served-by", 11))
        snprintf(t->served, sizeof(t->served), "%.*s", (int)vl, val);
    else if (nl == 9 && !memcmp(name, "x-trailer", 9))
        snprintf(t->trailer, sizeof(t->trailer), "%.*s", (int)vl, val);
    else if (nl == 7 && !memcmp(name, ":status", 7)) {
        t->status = atoi((const char *)val);
        t->interims += t->status < 200;
    }
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *p,
                   size_t n, void *ud)
{
    (void)s;
    (void)flags;
    end_t *e = ud;
    st_t *t = st_of(e, id);
    if (e->count_only) {
        for (size_t i = 0; i < n; i++)
            e->bad += p[i] != body_byte(1, t->got + i); /* the client's stream 1 */
        t->got += n;
        return 0;
    }
    buf_add(&t->body, p, n);
    return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *fr, void *ud)
{
    (void)s;
    end_t *e = ud;
    if ((fr->hd.type == NGHTTP2_HEADERS || fr->hd.type == NGHTTP2_DATA) &&
        (fr->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        st_of(e, fr->hd.stream_id)->ended = 1;
        if (e->who >= 0) {
            e->nreq++;
            answer(e, fr->hd.stream_id);
        }
    }
    return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t err, void *ud)
{
    (void)s;
    end_t *e = ud;
    st_t *t = st_of(e, id);
    t->closed = 1;
    t->rst = err;
    return 0;
}

static void end_init(end_t *e, int who)
{
    nghttp2_session_callbacks *cb;
    memset(e, 0, sizeof(*e));
    e->who = who;
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    if (who < 0)
        assert_int_equal(nghttp2_session_client_new(&e->s, cb, e), 0);
    else
        assert_int_equal(nghttp2_session_server_new(&e->s, cb, e), 0);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(e->s, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void end_fini(end_t *e)
{
    nghttp2_session_del(e->s);
    for (int i = 0; i < NS; i++)
        buf_free(&e->st[i].body);
}

static void h2t_init(h2t_t *t, int client)
{
    memset(t, 0, sizeof(*t));
    rig_init(&t->g, hfilter);
    if (client)
        end_init(&t->cli, -1);
    end_init(&t->up[L], L);
    end_init(&t->up[R], R);
    t->up[L].answer = t->up[R].answer = 1000;
}

static void h2t_fini(h2t_t *t)
{
    if (t->cli.s)
        end_fini(&t->cli);
    end_fini(&t->up[L]);
    end_fini(&t->up[R]);
    rig_fini(&t->g);
}

/* Moves bytes between the ends and the router until nothing moves. */
static void run(h2t_t *t)
{
    for (int moved = 1, guard = 0; moved; guard++) {
        assert_true(guard < 100000);
        moved = 0;
        const uint8_t *d;
        ssize_t n;
        while (!t->cli_eof && (n = nghttp2_session_mem_send(t->cli.s, &d)) > 0) {
            assert_int_equal(in_router_client(t->g.r, d, (size_t)n), 0);
            moved = 1;
        }
        if (t->g.client.len) {
            buf_t b = t->g.client;
            memset(&t->g.client, 0, sizeof(b));
            assert_int_equal(nghttp2_session_mem_recv(t->cli.s, b.d, b.len), (ssize_t)b.len);
            buf_free(&b);
            moved = 1;
        }
        for (int u = 0; u < 2; u++) {
            if (t->g.up[u].len) {
                buf_t b = t->g.up[u];
                memset(&t->g.up[u], 0, sizeof(b));
                assert_int_equal(nghttp2_session_mem_recv(t->up[u].s, b.d, b.len), (ssize_t)b.len);
                buf_free(&b);
                moved = 1;
            }
            while (!t->up[u].paused && t->g.opens[u] &&
                   (n = nghttp2_session_mem_send(t->up[u].s, &d)) > 0) {
                /* in pieces, so that DATA crosses interleaved */
                for (ssize_t o = 0; o < n; o += 1500) {
                    size_t k = (size_t)(n - o) < 1500 ? (size_t)(n - o) : 1500;
                    assert_int_equal(in_router_upstream(t->g.r, u, d + o, k), 0);
                }
                moved = 1;
            }
            size_t h = in_router_held(t->g.r, u);
            if (h > t->max_held)
                t->max_held = h;
            h = heap_in_use();
            if (h > t->max_heap)
                t->max_heap = h;
        }
    }
}

/* Ten concurrent streams, half matching, with bodies both ways larger
 * than the windows; the local upstream answers last. */
static void test_concurrent(void **st)
{
    (void)st;
    h2t_t t;
    h2t_init(&t, 1);
    t.up[L].answer = t.up[R].answer = 700 * 1024;
    t.up[L].paused = 1;
    int32_t ids[10];
    for (int i = 0; i < 10; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/s%d", i);
        const char *route = i % 2 == 0 ? "local" : "remote";
        nghttp2_nv nv[] = {
            {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
            {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
            {(uint8_t *)":authority", (uint8_t *)"svc", 10, 3, 0},
            {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
            {(uint8_t *)"x-route", (uint8_t *)route, 7, strlen(route), 0},
        };
        /* stream ids are 1, 3, 5...: the body follows that id's pattern */
        st_t *s = &t.cli.st[2 * i + 1];
        s->want = 300 * 1024 + (size_t)i * 1000;
        nghttp2_data_provider dp = {.source.ptr = s, .read_callback = body_read};
        ids[i] = nghttp2_submit_request(t.cli.s, NULL, nv, 5, &dp, NULL);
        assert_int_equal(ids[i], 2 * i + 1);
    }
    run(&t);
    /* the remote answered everything it was asked; the local waits */
    for (int i = 1; i < 10; i += 2) {
        st_t *c = &t.cli.st[ids[i]];
        assert_int_equal(c->status, 200);
        assert_string_equal(c->served, "remote");
        assert_int_equal(c->body.len, 700 * 1024);
    }
    for (int i = 0; i < 10; i += 2)
        assert_int_equal(t.cli.st[ids[i]].status, 0);
    t.up[L].paused = 0;
    run(&t);
    in_router_stats_t s;
    in_router_stats(t.g.r, &s);
    assert_int_equal(s.local, 5);
    assert_int_equal(s.remote, 5);
    assert_int_equal(t.up[L].nreq, 5);
    assert_int_equal(t.up[R].nreq, 5);
    for (int i = 0; i < 10; i++) {
        int u = i % 2 == 0 ? L : R;
        st_t *c = &t.cli.st[ids[i]];
        char path[32];
        snprintf(path, sizeof(path), "/s%d", i);
        assert_int_equal(c->status, 200);
        assert_string_equal(c->served, u == L ? "local" : "remote");
        assert_true(c->ended);
        /* the body the upstream sent for its stream, byte for byte */
        int found = 0;
        for (int k = 1; k < NS; k++) {
            st_t *us = &t.up[u].st[k];
            if (!us->used || strcmp(us->path, path) != 0)
                continue;
            found = 1;
            assert_string_equal(us->route, u == L ? "local" : "remote");
            size_t want = 300 * 1024 + (size_t)i * 1000;
            assert_int_equal(us->body.len, want);
            for (size_t b = 0; b < want; b++)
                if (us->body.d[b] != body_byte(ids[i], b))
                    fail_msg("stream %d request byte %zu differs", ids[i], b);
            assert_int_equal(c->body.len, 700 * 1024);
            for (size_t b = 0; b < c->body.len; b++)
                if (c->body.d[b] != body_byte(k, b))
                    fail_msg("stream %d answer byte %zu differs", ids[i], b);
        }
        assert_true(found);
    }
    /* what was held stayed within the windows, not the bodies */
    assert_true(t.max_held <= 2u * 1024 * 1024);
    nghttp2_session_terminate_session(t.cli.s, NGHTTP2_NO_ERROR);
    run(&t);
    in_router_client_eof(t.g.r);
    assert_true(in_router_done(t.g.r));
    assert_int_equal(t.g.client_shut, 1);
    h2t_fini(&t);
}

static void b64url(const uint8_t *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = a[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = 0;
}

/* Upgrade: h2c: the router answers 101, the request is stream 1 (routed
 * by its HTTP/1.1 headers), the connection goes on in h2. */
static void test_h2c(void **st)
{
    (void)st;
    h2t_t t;
    h2t_init(&t, 0);
    uint8_t payload[64];
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
    ssize_t pl = nghttp2_pack_settings_payload(payload, sizeof(payload), iv, 1);
    assert_true(pl > 0);
    char enc[128], req[512];
    b64url(payload, (size_t)pl, enc);
    snprintf(req, sizeof(req), "GET /h2c HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade, HTTP2-Settings\r\n"
             "Upgrade: h2c\r\nHTTP2-Settings: %s\r\nX-Route: local\r\n\r\n", enc);
    assert_int_equal(rig_client(&t.g, req), 0);
    const char *sw = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    assert_true(t.g.client.len >= strlen(sw));
    assert_memory_equal(t.g.client.d, sw, strlen(sw));
    /* the client side takes over from here */
    end_init(&t.cli, -1);
    nghttp2_session_del(t.cli.s);
    t.cli.s = NULL;
    {
        nghttp2_session_callbacks *cb;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
        nghttp2_session_client_new(&t.cli.s, cb, &t.cli);
        nghttp2_session_callbacks_del(cb);
    }
    assert_int_equal(nghttp2_session_upgrade2(t.cli.s, payload, (size_t)pl, 0, NULL), 0);
    nghttp2_submit_settings(t.cli.s, NGHTTP2_FLAG_NONE, iv, 1);
    size_t rest = t.g.client.len - strlen(sw);
    uint8_t *copy = malloc(rest + 1);
    memcpy(copy, t.g.client.d + strlen(sw), rest);
    buf_clear(&t.g.client);
    assert_int_equal(nghttp2_session_mem_recv(t.cli.s, copy, rest), (ssize_t)rest);
    free(copy);
    run(&t);
    assert_int_equal(t.cli.st[1].status, 200);
    assert_string_equal(t.cli.st[1].served, "local");
    assert_int_equal(t.cli.st[1].body.len, 1000);
    assert_string_equal(t.up[L].st[1].path, "/h2c");
    assert_string_equal(t.up[L].st[1].route, "local");
    /* a second stream on the upgraded connection */
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"svc", 10, 3, 0},
        {(uint8_t *)":path", (uint8_t *)"/two", 5, 4, 0},
    };
    int32_t id = nghttp2_submit_request(t.cli.s, NULL, nv, 4, NULL, NULL);
    assert_int_equal(id, 3);
    run(&t);
    assert_int_equal(t.cli.st[3].status, 200);
    assert_string_equal(t.cli.st[3].served, "remote");
    assert_string_equal(t.up[R].st[1].path, "/two");
    h2t_fini(&t);
}

static int32_t simple_get(h2t_t *t, const char *path, const char *route)
{
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"svc", 10, 3, 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
        {(uint8_t *)"x-route", (uint8_t *)route, 7, strlen(route), 0},
    };
    int32_t id = nghttp2_submit_request(t->cli.s, NULL, nv, 5, NULL, NULL);
    assert_true(id > 0);
    return id;
}

/* RST_STREAM both ways, and an upstream that fails: 502 for its streams. */
static void test_resets(void **st)
{
    (void)st;
    h2t_t t;
    h2t_init(&t, 1);
    t.up[R].rst_on_request = NGHTTP2_ENHANCE_YOUR_CALM;
    t.up[L].paused = 1;
    int32_t a = simple_get(&t, "/a", "local");
    int32_t b = simple_get(&t, "/b", "remote");
    run(&t);
    assert_true(t.cli.st[b].closed);
    assert_int_equal(t.cli.st[b].rst, NGHTTP2_ENHANCE_YOUR_CALM);
    /* the client gives up on a: the local upstream hears it */
    nghttp2_submit_rst_stream(t.cli.s, NGHTTP2_FLAG_NONE, a, NGHTTP2_CANCEL);
    run(&t);
    t.up[L].paused = 0;
    run(&t);
    assert_true(t.up[L].st[1].closed);
    assert_int_equal(t.up[L].st[1].rst, NGHTTP2_CANCEL);
    assert_int_equal(t.cli.st[a].status, 0);
    /* the local upstream is lost with a stream pending: 502 */
    t.up[L].paused = 1;
    int32_t c = simple_get(&t, "/c", "local");
    run(&t);
    in_router_upstream_failed(t.g.r, L);
    run(&t);
    assert_int_equal(t.cli.st[c].status, 502);
    assert_true(t.cli.st[c].ended);
    /* and a new connection serves the next one */
    end_fini(&t.up[L]);
    end_init(&t.up[L], L);
    t.up[L].answer = 10;
    int32_t d = simple_get(&t, "/d", "local");
    run(&t);
    assert_int_equal(t.cli.st[d].status, 200);
    assert_int_equal(t.cli.st[d].body.len, 10);
    assert_int_equal(t.g.opens[L], 2);
    h2t_fini(&t);
}

/* The client's EOF in the middle of a request body: the upstream's
 * stream is cancelled and the connection ends. */
static void test_client_eof(void **st)
{
    (void)st;
    h2t_t t;
    h2t_init(&t, 1);
    t.up[L].paused = 1; /* no window comes back: the body stops half-way */
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"svc", 10, 3, 0},
        {(uint8_t *)":path", (uint8_t *)"/up", 5, 3, 0},
        {(uint8_t *)"x-route", (uint8_t *)"local", 7, 5, 0},
    };
    t.cli.st[1].want = 1 << 20;
    nghttp2_data_provider dp = {.source.ptr = &t.cli.st[1], .read_callback = body_read};
    assert_int_equal(nghttp2_submit_request(t.cli.s, NULL, nv, 5, &dp, NULL), 1);
    run(&t);
    assert_false(t.up[L].st[1].ended);
    /* flow control: the router took no more than its windows allow */
    if (t.cli.st[1].sent > 3 * 65535)
        fail_msg("the client got %zu bytes out to a stalled upstream", t.cli.st[1].sent);
    assert_true(in_router_held(t.g.r, L) == 0);
    t.cli_eof = 1;
    in_router_client_eof(t.g.r);
    t.up[L].paused = 0;
    run(&t);
    assert_true(t.up[L].st[1].closed);
    assert_int_equal(t.up[L].st[1].rst, NGHTTP2_CANCEL);
    assert_true(in_router_done(t.g.r));
    h2t_fini(&t);
}

/* Trailers both ways: after the request body, after the answer's; and
 * an interim 103 before the answer. */
static void test_trailers(void **st)
{
    (void)st;
    h2t_t t;
    h2t_init(&t, 1);
    t.up[L].trailers = 1;
    t.up[L].interim = 1;
    t.up[L].answer = 100 * 1024;
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"svc", 10, 3, 0},
        {(uint8_t *)":path", (uint8_t *)"/t", 5, 2, 0},
        {(uint8_t *)"x-route", (uint8_t *)"local", 7, 5, 0},
        {(uint8_t *)"te", (uint8_t *)"trailers", 2, 8, 0},
    };
    t.cli.st[1].want = 100 * 1024;
    t.cli.st[1].send_tr = 1;
    nghttp2_data_provider dp = {.source.ptr = &t.cli.st[1], .read_callback = body_read};
    assert_int_equal(nghttp2_submit_request(t.cli.s, NULL, nv, 6, &dp, NULL), 1);
    run(&t);
    assert_int_equal(t.up[L].st[1].body.len, 100 * 1024);
    assert_string_equal(t.up[L].st[1].trailer, "yes");
    assert_true(t.up[L].st[1].ended);
    assert_int_equal(t.cli.st[1].status, 200);
    assert_int_equal(t.cli.st[1].body.len, 100 * 1024);
    assert_string_equal(t.cli.st[1].trailer, "yes");
    assert_true(t.cli.st[1].ended);
    assert_int_equal(t.cli.st[1].interims, 1); /* the 103 came through */
    h2t_fini(&t);
}

/* A 50 MiB request body on one stream: it streams through, the heap does
 * not grow with it (the windows bound what the router holds). */
static void test_big_body(void **st)
{
    (void)st;
    h2t_t t;
    h2t_init(&t, 1);
    t.up[L].count_only = 1;
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"svc", 10, 3, 0},
        {(uint8_t *)":path", (uint8_t *)"/big", 5, 4, 0},
        {(uint8_t *)"x-route", (uint8_t *)"local", 7, 5, 0},
    };
    t.cli.st[1].want = 50u * 1024 * 1024;
    nghttp2_data_provider dp = {.source.ptr = &t.cli.st[1], .read_callback = body_read};
    assert_int_equal(nghttp2_submit_request(t.cli.s, NULL, nv, 5, &dp, NULL), 1);
    size_t base = heap_in_use();
    run(&t);
    assert_int_equal(t.up[L].st[1].got, 50u * 1024 * 1024);
    assert_int_equal(t.up[L].bad, 0);
    assert_true(t.up[L].st[1].ended);
    assert_int_equal(t.cli.st[1].status, 200);
    if (t.max_heap > base + 8u * 1024 * 1024)
        fail_msg("heap grew by %zu bytes while the body passed", t.max_heap - base);
    h2t_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_h2c),
        cmocka_unit_test(test_resets),
        cmocka_unit_test(test_client_eof),
        cmocka_unit_test(test_trailers),
        cmocka_unit_test(test_big_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
