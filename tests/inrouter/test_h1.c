/* The router over HTTP/1.1: each request goes byte-exactly to the upstream
 * the filter picks, responses reach the client in request order, and
 * keep-alive, pipelining, chunked bodies, 100-continue, big bodies,
 * upgrades, EOF-delimited responses and failed upstreams behave. */
#include "rig.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The expected texts are built with snprintf into ample buffers. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define L IN_UP_LOCAL
#define R IN_UP_REMOTE

static const char *const hfilter[] = {"header ^x-route: local$", NULL};

static char *req(int i)
{
    static char b[20][256];
    snprintf(b[i % 20], sizeof(b[0]), "GET /r%d HTTP/1.1\r\nHost: svc\r\n%s\r\n", i,
             i % 2 == 0 ? "X-Route:  local \r\n" : "X-Route: remote\r\n");
    return b[i % 20];
}

static char *resp(int i, const char *who)
{
    static char b[20][256];
    char body[64];
    snprintf(body, sizeof(body), "%s %d", who, i);
    snprintf(b[i % 20], sizeof(b[0]), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    return b[i % 20];
}

/* What the client should get for requests 0..n-1 answered by the parity's upstream. */
static void expect_in_order(rig_t *g, int n)
{
    buf_t want = {0};
    for (int i = 0; i < n; i++) {
        char *s = resp(i, i % 2 == 0 ? "local" : "remote");
        buf_add(&want, s, strlen(s));
    }
    assert_string_equal(buf_str(&g->client), buf_str(&want));
    buf_free(&want);
}

static void expect_upstreams(rig_t *g, int n)
{
    buf_t w[2] = {{0}, {0}};
    for (int i = 0; i < n; i++)
        buf_add(&w[i % 2], req(i), strlen(req(i)));
    assert_string_equal(buf_str(&g->up[L]), buf_str(&w[L]));
    assert_string_equal(buf_str(&g->up[R]), buf_str(&w[R]));
    buf_free(&w[0]);
    buf_free(&w[1]);
}

/* 20 keep-alive requests one after the other, each answered before the next. */
static void test_keepalive_serial(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    buf_t want = {0};
    for (int i = 0; i < 20; i++) {
        assert_int_equal(rig_client(&g, req(i)), 0);
        rig_up(&g, i % 2 ? R : L, resp(i, i % 2 ? "remote" : "local"));
        char *s = resp(i, i % 2 ? "remote" : "local");
        buf_add(&want, s, strlen(s));
        assert_string_equal(buf_str(&g.client), buf_str(&want));
    }
    expect_upstreams(&g, 20);
    in_router_stats_t s;
    in_router_stats(g.r, &s);
    assert_int_equal(s.local, 10);
    assert_int_equal(s.remote, 10);
    assert_int_equal(g.opens[L], 1);
    assert_int_equal(g.opens[R], 1);
    assert_false(in_router_done(g.r));
    in_router_client_eof(g.r);
    assert_true(in_router_done(g.r));
    assert_int_equal(g.client_shut, 1);
    assert_int_equal(g.up_shut[L], 1);
    assert_int_equal(g.up_shut[R], 1);
    buf_free(&want);
    rig_fini(&g);
}

/* 20 requests outstanding; the remote upstream answers all of its ten
 * first: they are held until the local answers before them arrive. */
static void test_keepalive_remote_first(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    for (int i = 0; i < 20; i++)
        assert_int_equal(rig_client(&g, req(i)), 0);
    size_t held = 0;
    for (int i = 1; i < 20; i += 2) {
        rig_up(&g, R, resp(i, "remote"));
        held += strlen(resp(i, "remote"));
    }
    assert_int_equal(g.client.len, 0);
    assert_int_equal(in_router_held(g.r, R), held);
    assert_int_equal(in_router_held(g.r, L), 0);
    for (int i = 0; i < 20; i += 2)
        rig_up(&g, L, resp(i, "local"));
    expect_in_order(&g, 20);
    expect_upstreams(&g, 20);
    assert_int_equal(in_router_held(g.r, R), 0);
    rig_fini(&g);
}

/* All 20 requests in one write; answers come byte by byte, interleaved. */
static void test_pipelined(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    buf_t all = {0}, ans[2] = {{0}, {0}};
    for (int i = 0; i < 20; i++) {
        buf_add(&all, req(i), strlen(req(i)));
        char *s = resp(i, i % 2 ? "remote" : "local");
        buf_add(&ans[i % 2], s, strlen(s));
    }
    assert_int_equal(rig_client_n(&g, all.d, all.len), 0);
    expect_upstreams(&g, 20);
    size_t a = 0, b = 0;
    while (a < ans[L].len || b < ans[R].len) {
        if (b < ans[R].len)
            in_router_upstream(g.r, R, ans[R].d + b++, 1);
        if (b % 3 == 0 && a < ans[L].len)
            in_router_upstream(g.r, L, ans[L].d + a++, 1);
    }
    expect_in_order(&g, 20);
    buf_free(&all);
    buf_free(&ans[0]);
    buf_free(&ans[1]);
    rig_fini(&g);
}

/* A chunked request body, fed in odd pieces, then a request for the other
 * upstream; a chunked response. */
static void test_chunked(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    const char *post = "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Route: local\r\n\r\n"
                       "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: t\r\n\r\n";
    const char *get = "GET /next HTTP/1.1\r\nHost: svc\r\n\r\n";
    for (size_t i = 0; i < strlen(post); i += 7) {
        size_t n = strlen(post) - i < 7 ? strlen(post) - i : 7;
        assert_int_equal(rig_client_n(&g, post + i, n), 0);
    }
    assert_int_equal(rig_client(&g, get), 0);
    assert_string_equal(buf_str(&g.up[L]), post);
    assert_string_equal(buf_str(&g.up[R]), get);
    const char *r1 = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\n";
    const char *r2 = "HTTP/1.1 204 No Content\r\n\r\n";
    rig_up(&g, R, r2);
    assert_int_equal(g.client.len, 0);
    rig_up(&g, L, r1);
    char want[4096];
    snprintf(want, sizeof(want), "%s%s", r1, r2);
    assert_string_equal(buf_str(&g.client), want);
    rig_fini(&g);
}

/* Expect: 100-continue: the 100 is forwarded at once when the request is
 * at the head, held while an earlier answer is pending, and does not
 * complete the request. */
static void test_continue(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    const char *h = "PUT /f HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\nX-Route: local\r\n\r\n";
    const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_int_equal(rig_client(&g, h), 0);
    rig_up(&g, L, cont);
    assert_string_equal(buf_str(&g.client), cont);
    assert_int_equal(rig_client(&g, "hello"), 0);
    rig_up(&g, L, ok);
    char want[4096];
    snprintf(want, sizeof(want), "%s%s", cont, ok);
    assert_string_equal(buf_str(&g.client), want);
    snprintf(want, sizeof(want), "%shello", h);
    assert_string_equal(buf_str(&g.up[L]), want);

    /* behind a remote request: held until the remote answers */
    buf_clear(&g.client);
    assert_int_equal(rig_client(&g, req(1)), 0);
    assert_int_equal(rig_client(&g, h), 0);
    rig_up(&g, L, cont);
    assert_int_equal(g.client.len, 0);
    assert_int_equal(in_router_held(g.r, L), strlen(cont));
    rig_up(&g, R, resp(1, "remote"));
    snprintf(want, sizeof(want), "%s%s", resp(1, "remote"), cont);
    assert_string_equal(buf_str(&g.client), want);
    assert_int_equal(rig_client(&g, "hello"), 0);
    rig_up(&g, L, ok);
    snprintf(want, sizeof(want), "%s%s%s", resp(1, "remote"), cont, ok);
    assert_string_equal(buf_str(&g.client), want);
    rig_fini(&g);
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* A 50 MiB body (Content-Length, then chunked) in 64 KiB pieces goes
 * through in pieces: nothing held, the heap does not grow with it, the
 * upstream gets every byte; then a 50 MiB response the same way. */
static void big_body(int chunked)
{
    enum { PIECE = 64 * 1024, TOTAL = 50 * 1024 * 1024 };
    rig_t g;
    rig_init(&g, hfilter);
    char head[256];
    if (chunked)
        snprintf(head, sizeof(head), "POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Route: local\r\n\r\n");
    else
        snprintf(head, sizeof(head), "POST /big HTTP/1.1\r\nContent-Length: %d\r\nX-Route: local\r\n\r\n", TOTAL);
    g.sink[L] = 1;
    g.sink_skip[L] = strlen(head);
    uint8_t *piece = malloc(PIECE + 64);
    assert_int_equal(rig_client(&g, head), 0);
    size_t base = heap_in_use(), peak = 0;
    char frame[32];
    size_t fl = 0;
    for (size_t off = 0; off < TOTAL; off += PIECE) {
        for (size_t i = 0; i < PIECE; i++)
            piece[i] = pattern_byte(off + i);
        if (chunked) { /* the sink checks only the pattern: frame it apart */
            fl = (size_t)snprintf(frame, sizeof(frame), "%x\r\n", PIECE);
            g.sink[L] = 0;
            assert_int_equal(rig_client_n(&g, frame, fl), 0);
            g.sink[L] = 1;
            buf_clear(&g.up[L]);
        }
        size_t before = g.sunk[L];
        assert_int_equal(rig_client_n(&g, piece, PIECE), 0);
        assert_int_equal(g.sunk[L] - before, PIECE); /* passed on at once */
        if (chunked) {
            g.sink[L] = 0;
            assert_int_equal(rig_client_n(&g, "\r\n", 2), 0);
            g.sink[L] = 1;
            buf_clear(&g.up[L]);
        }
        assert_int_equal(in_router_held(g.r, L), 0);
        assert_int_equal(in_router_held(g.r, R), 0);
        peak = max_sz(peak, heap_in_use());
    }
    free(piece);
    if (chunked) {
        g.sink[L] = 0;
        assert_int_equal(rig_client(&g, "0\r\n\r\n"), 0);
    }
    assert_int_equal(g.sink_bad[L], 0);
    assert_int_equal(g.sunk[L], strlen(head) + (size_t)TOTAL);
    if (peak > base + 1024 * 1024)
        fail_msg("heap grew by %zu bytes while the body passed", peak - base);

    /* the answer: 50 MiB to the client in pieces, nothing held */
    const char *rh = "HTTP/1.1 200 OK\r\nContent-Length: 52428800\r\n\r\n";
    rig_up(&g, L, rh);
    assert_string_equal(buf_str(&g.client), rh);
    buf_free(&g.client);
    uint8_t *p2 = malloc(PIECE);
    base = heap_in_use();
    peak = 0;
    size_t got = 0, bad = 0;
    for (size_t off = 0; off < TOTAL; off += PIECE) {
        for (size_t i = 0; i < PIECE; i++)
            p2[i] = pattern_byte(off + i);
        in_router_upstream(g.r, L, p2, PIECE);
        assert_int_equal(g.client.len, PIECE);
        for (size_t i = 0; i < PIECE; i++)
            bad += g.client.d[i] != pattern_byte(off + i);
        got += g.client.len;
        buf_clear(&g.client);
        assert_int_equal(in_router_held(g.r, L), 0);
        peak = max_sz(peak, heap_in_use());
    }
    free(p2);
    assert_int_equal(got, TOTAL);
    assert_int_equal(bad, 0);
    if (peak > base + 1024 * 1024)
        fail_msg("heap grew by %zu bytes while the answer passed", peak - base);
    rig_fini(&g);
}

static void test_big_length(void **st)
{
    (void)st;
    big_body(0);
}

static void test_big_chunked(void **st)
{
    (void)st;
    big_body(1);
}

/* Upgrade: websocket: the request is routed, bytes the client sends before
 * the 101 wait for it, then the connection is a tunnel to that upstream. */
static void test_websocket(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    const char *up = "GET /ws HTTP/1.1\r\nHost: svc\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "X-Route: local\r\n\r\n";
    assert_int_equal(rig_client(&g, up), 0);
    assert_int_equal(rig_client_n(&g, "\x81\x05hello", 7), 0);
    assert_string_equal(buf_str(&g.up[L]), up); /* the frame waits for the 101 */
    const char *sw = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    char both[4096];
    snprintf(both, sizeof(both), "%s\x81\x02hi", sw);
    rig_up(&g, L, both);
    assert_string_equal(buf_str(&g.client), both);
    char want[4096];
    snprintf(want, sizeof(want), "%s\x81\x05hello", up);
    assert_string_equal(buf_str(&g.up[L]), want);
    /* anything now is tunnel bytes, even what looks like HTTP */
    assert_int_equal(rig_client(&g, "GET / HTTP/1.1\r\nX-Route: remote\r\n\r\n"), 0);
    rig_up(&g, L, "HTTP/1.1 200 not a response\r\n");
    snprintf(want, sizeof(want), "%s\x81\x05helloGET / HTTP/1.1\r\nX-Route: remote\r\n\r\n", up);
    assert_string_equal(buf_str(&g.up[L]), want);
    snprintf(want, sizeof(want), "%sHTTP/1.1 200 not a response\r\n", both);
    assert_string_equal(buf_str(&g.client), want);
    assert_int_equal(g.opens[R], 0);
    in_router_client_eof(g.r);
    assert_int_equal(g.up_shut[L], 1);
    assert_false(in_router_done(g.r));
    rig_up(&g, L, "bye");
    in_router_upstream_eof(g.r, L);
    assert_true(in_router_done(g.r));
    assert_int_equal(g.client_shut, 1);
    rig_fini(&g);
}

/* An upgrade the upstream refuses: back to HTTP, the bytes held meanwhile
 * are the next request. */
static void test_upgrade_refused(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    const char *up = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Route: local\r\n\r\n";
    assert_int_equal(rig_client(&g, up), 0);
    assert_int_equal(rig_client(&g, req(1)), 0);
    const char *no = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    rig_up(&g, L, no);
    assert_string_equal(buf_str(&g.up[R]), req(1));
    rig_up(&g, R, resp(1, "remote"));
    char want[4096];
    snprintf(want, sizeof(want), "%s%s", no, resp(1, "remote"));
    assert_string_equal(buf_str(&g.client), want);
    rig_fini(&g);
}

/* The remote fails with requests pending: what precedes its first pending
 * request is delivered, then a 502 with Connection: close, then the end. */
static void test_upstream_failed(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rig_client(&g, req(i)), 0);
    rig_up(&g, L, resp(2, "local"));
    rig_up(&g, L, resp(0, "local"));
    in_router_upstream_failed(g.r, R);
    char want[4096];
    snprintf(want, sizeof(want), "%sHTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
             "Content-Length: 12\r\nConnection: close\r\n\r\nBad Gateway\n", resp(2, "local"));
    assert_string_equal(buf_str(&g.client), want);
    assert_true(in_router_done(g.r));
    assert_int_equal(g.client_shut, 1);
    rig_fini(&g);

    /* reset mid-response: the client's connection is cut there */
    rig_init(&g, hfilter);
    assert_int_equal(rig_client(&g, req(1)), 0);
    rig_up(&g, R, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    in_router_upstream_eof(g.r, R);
    assert_string_equal(buf_str(&g.client), "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    assert_true(in_router_done(g.r));
    rig_fini(&g);

    /* the upstream cannot be reached (to_upstream -1): 502 */
    rig_init(&g, hfilter);
    g.fail_up[L] = 1;
    assert_int_equal(rig_client(&g, req(0)), 0);
    assert_non_null(strstr(buf_str(&g.client), "HTTP/1.1 502 Bad Gateway\r\n"));
    assert_true(in_router_done(g.r));
    rig_fini(&g);

    /* an idle upstream that closes is opened again for the next request */
    rig_init(&g, hfilter);
    assert_int_equal(rig_client(&g, req(1)), 0);
    rig_up(&g, R, resp(1, "remote"));
    in_router_upstream_eof(g.r, R);
    assert_false(in_router_done(g.r));
    assert_int_equal(rig_client(&g, req(3)), 0);
    rig_up(&g, R, resp(3, "remote"));
    assert_int_equal(g.opens[R], 2);
    snprintf(want, sizeof(want), "%s%s", resp(1, "remote"), resp(3, "remote"));
    assert_string_equal(buf_str(&g.client), want);
    rig_fini(&g);
}

/* A response without a length ends at its upstream's EOF, and so does the
 * client's connection; HEAD answers have no body; Connection: close. */
static void test_eof_head_close(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    assert_int_equal(rig_client(&g, req(1)), 0);
    assert_int_equal(rig_client(&g, req(2)), 0);
    rig_up(&g, L, resp(2, "local"));
    rig_up(&g, R, "HTTP/1.1 200 OK\r\n\r\nuntil");
    rig_up(&g, R, " the end");
    in_router_upstream_eof(g.r, R);
    assert_string_equal(buf_str(&g.client), "HTTP/1.1 200 OK\r\n\r\nuntil the end");
    assert_true(in_router_done(g.r));
    rig_fini(&g);

    rig_init(&g, hfilter);
    assert_int_equal(rig_client(&g, "HEAD /h HTTP/1.1\r\n\r\n"), 0);
    assert_int_equal(rig_client(&g, "GET /g HTTP/1.1\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n"), 0);
    assert_string_equal(buf_str(&g.up[R]), "HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\nConnection: close\r\n\r\n");
    rig_up(&g, R, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    rig_up(&g, R, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    assert_string_equal(buf_str(&g.client), "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    assert_true(in_router_done(g.r));
    rig_fini(&g);
}

/* Header lines as the filter sees them: an empty value ends its line,
 * values are trimmed, and a request fed byte by byte matches the same. */
static void test_header_lines(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    const char *a = "GET /a HTTP/1.1\r\nX-Empty:\r\nX-Route:\t local \t\r\n\r\n";
    for (size_t i = 0; a[i]; i++)
        assert_int_equal(rig_client_n(&g, a + i, 1), 0);
    const char *b = "GET /b HTTP/1.1\r\nX-Route: local-not\r\nX-Other: x-route: local\r\n\r\n";
    assert_int_equal(rig_client(&g, b), 0);
    assert_string_equal(buf_str(&g.up[L]), a);
    assert_string_equal(buf_str(&g.up[R]), b);
    rig_fini(&g);
}

/* An answer before its request is all there (a 413 before the body): the
 * rest of the body still goes to that upstream, the next request is routed
 * as usual, answers stay in order.  (Was a use after free.) */
static void test_early_answer(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    const char *h = "POST /big HTTP/1.1\r\nContent-Length: 10\r\nX-Route: local\r\n\r\nabc";
    const char *too = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(rig_client(&g, h), 0);
    rig_up(&g, L, too);
    assert_string_equal(buf_str(&g.client), too);
    assert_int_equal(rig_client(&g, "defghij"), 0);
    assert_int_equal(rig_client(&g, req(1)), 0);
    char want[4096];
    snprintf(want, sizeof(want), "%sdefghij", h);
    assert_string_equal(buf_str(&g.up[L]), want);
    assert_string_equal(buf_str(&g.up[R]), req(1));
    rig_up(&g, R, resp(1, "remote"));
    snprintf(want, sizeof(want), "%s%s", too, resp(1, "remote"));
    assert_string_equal(buf_str(&g.client), want);
    /* the same for an upgrade request answered early: no wait for a 101 */
    assert_int_equal(rig_client(&g, "POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Content-Length: 2\r\nX-Route: local\r\n\r\n"), 0);
    rig_up(&g, L, too);
    assert_int_equal(rig_client(&g, "xy"), 0);
    buf_clear(&g.up[R]);
    assert_int_equal(rig_client(&g, req(3)), 0);
    assert_string_equal(buf_str(&g.up[R]), req(3));
    rig_fini(&g);
}

/* The client breaks HTTP: -1. */
static void test_bad_client(void **st)
{
    (void)st;
    rig_t g;
    rig_init(&g, hfilter);
    assert_int_equal(rig_client(&g, "GET / HTTP/1.1\r\nBad Header\r\n\r\n"), -1);
    rig_fini(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive_serial),
        cmocka_unit_test(test_keepalive_remote_first),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_continue),
        cmocka_unit_test(test_big_length),
        cmocka_unit_test(test_big_chunked),
        cmocka_unit_test(test_websocket),
        cmocka_unit_test(test_upgrade_refused),
        cmocka_unit_test(test_upstream_failed),
        cmocka_unit_test(test_eof_head_close),
        cmocka_unit_test(test_header_lines),
        cmocka_unit_test(test_early_answer),
        cmocka_unit_test(test_bad_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
