/* Writes the seed inputs of fuzz/inrouter into DIR (format: inrouter.c):
 * HTTP/1.1 conversations written out here (keep-alive, pipelining,
 * chunked, 100-continue, websocket, refused upgrade, failures, EOF-ended
 * and HEAD answers), and HTTP/2 ones recorded from real nghttp2 peers
 * talking through the router (prior knowledge and h2c).
 *   fuzz_inrouter_seeds DIR */
#include "router.h"

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t seed[65536];
static size_t len;

static void put(const void *p, size_t n)
{
    if (len + n > sizeof(seed)) {
        fprintf(stderr, "fuzz_inrouter_seeds: seed too long\n");
        exit(1);
    }
    memcpy(seed + len, p, n);
    len += n;
}

static void begin(int filter)
{
    len = 0;
    uint8_t b = (uint8_t)filter;
    put(&b, 1);
}

static void op(int k, const void *p, size_t n)
{
    uint8_t h[3] = {(uint8_t)k, (uint8_t)(n & 0xff), (uint8_t)(n >> 8)};
    put(h, (k & 7) <= 2 ? 3 : 1);
    if ((k & 7) <= 2)
        put(p, n);
}

static void cl(const char *s) { op(0, s, strlen(s)); }
static void up(int u, const char *s) { op(1 + u, s, strlen(s)); }

static void save(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(seed, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* ---- HTTP/2, recorded from live peers ------------------------------------ */
typedef struct {
    nghttp2_session *cli, *srv[2];
    in_router_t *r;
    uint8_t *out[3]; /* client, up 0, up 1 */
    size_t outlen[3];
    int opened[2];
} live_t;

static void keep(live_t *l, int i, const uint8_t *p, size_t n)
{
    l->out[i] = realloc(l->out[i], l->outlen[i] + n);
    memcpy(l->out[i] + l->outlen[i], p, n);
    l->outlen[i] += n;
}

static int l_client(void *ctx, const uint8_t *p, size_t n)
{
    keep(ctx, 0, p, n);
    return 0;
}

static int l_up(void *ctx, int u, const uint8_t *p, size_t n)
{
    live_t *l = ctx;
    l->opened[u] = 1;
    keep(ctx, 1 + u, p, n);
    return 0;
}

static void l_ushut(void *ctx, int u) { (void)ctx; (void)u; }
static void l_cshut(void *ctx) { (void)ctx; }

static int s_frame(nghttp2_session *s, const nghttp2_frame *fr, void *ud)
{
    (void)ud;
    if ((fr->hd.type == NGHTTP2_HEADERS || fr->hd.type == NGHTTP2_DATA) &&
        (fr->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_check_server_session(s)) {
        nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0}};
        nghttp2_submit_response(s, fr->hd.stream_id, nv, 1, NULL);
    }
    return 0;
}

static nghttp2_session *session(int server)
{
    nghttp2_session_callbacks *cb;
    nghttp2_session *s;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, s_frame);
    if (server)
        nghttp2_session_server_new(&s, cb, NULL);
    else
        nghttp2_session_client_new(&s, cb, NULL);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
    return s;
}

static void live_run(live_t *l)
{
    for (int moved = 1; moved;) {
        moved = 0;
        const uint8_t *d;
        ssize_t n;
        while (l->cli && (n = nghttp2_session_mem_send(l->cli, &d)) > 0) {
            op(0, d, (size_t)n);
            in_router_client(l->r, d, (size_t)n);
            moved = 1;
        }
        if (l->outlen[0] && l->cli) {
            nghttp2_session_mem_recv(l->cli, l->out[0], l->outlen[0]);
            l->outlen[0] = 0;
            moved = 1;
        }
        for (int u = 0; u < 2; u++) {
            if (l->outlen[1 + u]) {
                nghttp2_session_mem_recv(l->srv[u], l->out[1 + u], l->outlen[1 + u]);
                l->outlen[1 + u] = 0;
                moved = 1;
            }
            while (l->opened[u] && (n = nghttp2_session_mem_send(l->srv[u], &d)) > 0) {
                op(1 + u, d, (size_t)n);
                in_router_upstream(l->r, u, d, (size_t)n);
                moved = 1;
            }
        }
    }
}

static void live_get(live_t *l, const char *path, const char *route, int body)
{
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)(body ? "POST" : "GET"), 7, body ? 4 : 3, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"svc", 10, 3, 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
        {(uint8_t *)"x-route", (uint8_t *)route, 7, strlen(route), 0},
    };
    nghttp2_submit_request(l->cli, NULL, nv, 5, NULL, NULL);
}

static void live_init(live_t *l, in_filter_t *f)
{
    static const in_router_ops_t ops = {l_client, l_up, l_ushut, l_cshut};
    memset(l, 0, sizeof(*l));
    l->r = in_router_new(f, &ops, l);
    l->srv[0] = session(1);
    l->srv[1] = session(1);
}

static void live_fini(live_t *l)
{
    in_router_free(l->r);
    nghttp2_session_del(l->cli);
    nghttp2_session_del(l->srv[0]);
    nghttp2_session_del(l->srv[1]);
    for (int i = 0; i < 3; i++)
        free(l->out[i]);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_inrouter_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    const char *lreq = "GET /l HTTP/1.1\r\nHost: svc\r\nX-Route: local\r\n\r\n";
    const char *rreq = "GET /r HTTP/1.1\r\nHost: svc\r\n\r\n";
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    begin(0);
    for (int i = 0; i < 4; i++)
        cl(i % 2 ? rreq : lreq);
    up(1, ok);
    up(1, ok);
    up(0, ok);
    up(0, ok);
    op(3, NULL, 0);
    save(dir, "keepalive");

    begin(0);
    {
        char all[1024];
        snprintf(all, sizeof(all), "%s%s%s%s", lreq, rreq, lreq, rreq);
        cl(all);
    }
    up(0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n");
    up(1, "HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    op(7, NULL, 0);
    save(dir, "pipelined");

    begin(0);
    cl("POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Route: local\r\n\r\n5\r\nhel");
    cl("lo\r\n0\r\nTrailer: x\r\n\r\n");
    up(0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    save(dir, "chunked");

    begin(0);
    cl("PUT /f HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\nX-Route: local\r\n\r\n");
    up(0, "HTTP/1.1 100 Continue\r\n\r\n");
    cl("hello");
    up(0, ok);
    save(dir, "continue");

    begin(0);
    cl("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Route: local\r\n\r\n\x81\x05hello");
    up(0, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi");
    cl("\x81\x03" "abc");
    up(0, "more");
    op(3, NULL, 0);
    op(4, NULL, 0);
    save(dir, "websocket");

    begin(0);
    cl("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Route: local\r\n\r\n");
    cl(rreq);
    up(0, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    up(1, ok);
    save(dir, "upgrade-refused");

    begin(0);
    cl(lreq);
    cl(rreq);
    cl(lreq);
    up(0, ok);
    op(5 | 8, NULL, 0);
    save(dir, "failed");

    begin(0);
    op(6, NULL, 0);
    cl(lreq);
    save(dir, "unreachable");

    begin(0);
    cl(rreq);
    up(1, "HTTP/1.0 200 OK\r\n\r\nuntil the end");
    op(4 | 8, NULL, 0);
    save(dir, "eof-ended");

    begin(0);
    cl("HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\nConnection: close\r\n\r\n");
    up(1, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    save(dir, "head-close");

    begin(1);
    cl("GET /api/x HTTP/1.1\r\n\r\nPUT /api/y HTTP/1.1\r\nContent-Length: 1\r\n\r\nzDELETE /web HTTP/1.1\r\n\r\n");
    up(1, ok);
    up(0, ok);
    up(1, ok);
    save(dir, "path-method");

    /* HTTP/2 prior knowledge: four streams, two local */
    {
        static const shunt_rec_hfilter_t hv[] = {
            {SHUNT_HF_HEADER, 0, {"^x-route: local$", 16}},
        };
        char err[128];
        in_filter_t *f = in_filter_compile(hv, 1, err, sizeof(err));
        live_t l;
        begin(0);
        live_init(&l, f);
        l.cli = session(0);
        live_get(&l, "/a", "local", 0);
        live_get(&l, "/b", "remote", 0);
        live_get(&l, "/c", "local", 0);
        live_get(&l, "/d", "remote", 0);
        live_run(&l);
        nghttp2_session_terminate_session(l.cli, NGHTTP2_NO_ERROR);
        live_run(&l);
        op(3, NULL, 0);
        save(dir, "h2-prior");
        live_fini(&l);

        /* h2c: the upgrade request, then the client's h2 */
        begin(0);
        live_init(&l, f);
        uint8_t payload[32];
        ssize_t pl = nghttp2_pack_settings_payload(payload, sizeof(payload), NULL, 0);
        const char *up_req = "GET /u HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                             "Upgrade: h2c\r\nHTTP2-Settings: \r\nX-Route: local\r\n\r\n";
        cl(up_req);
        in_router_client(l.r, (const uint8_t *)up_req, strlen(up_req));
        const char *sw = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
        if (l.outlen[0] >= strlen(sw)) {
            memmove(l.out[0], l.out[0] + strlen(sw), l.outlen[0] - strlen(sw));
            l.outlen[0] -= strlen(sw);
            l.cli = session(0);
            nghttp2_session_upgrade2(l.cli, payload, (size_t)pl, 0, NULL);
            live_run(&l);
            live_get(&l, "/e", "remote", 0);
            live_run(&l);
            save(dir, "h2c");
        } else {
            fprintf(stderr, "fuzz_inrouter_seeds: no 101 for h2c\n");
            return 1;
        }
        live_fini(&l);
        in_filter_free(f);
    }
    return 0;
}
