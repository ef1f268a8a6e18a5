/* libFuzzer target: the HTTP router of steal-with-a-filter
 * (agent/incoming/router) under any interleaving of client and upstream
 * bytes, EOFs and failures.
 *
 * Input: byte 0 picks the filter (& 3: a header ERE, path + method tree,
 * none, an ANY of three).  Then operations, each one byte K:
 *   K & 7 = 0 client bytes, 1 local upstream bytes, 2 remote upstream bytes:
 *            a 2-byte little-endian length follows, then that many bytes
 *            (clipped to what is left)
 *   3 client EOF, 4 upstream EOF, 5 upstream failed (K >> 3 & 1: which),
 *   6 that upstream's to_upstream answers -1 from now on (toggles),
 *   7 queries: held, done, stats.
 * Checked: no crash, leak or sanitizer report; nothing is given to the
 * client after client_shut; done implies client_shut; upstream indexes
 * are 0 or 1; and over HTTP/1.1 (the client's bytes hold neither the h2
 * preface nor "h2c"), what the upstreams get, call after call, are
 * pieces of the client's bytes in their order: none made up, none
 * repeated, none reordered. */
#include "router.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    int client_shut;
    int fail[2];
    size_t to_client, to_up[2];
    const uint8_t *cl;  /* the client's bytes so far (HTTP/1.1 only) */
    size_t cllen, clpos;
} fctx_t;

static void bad(const char *what)
{
    fprintf(stderr, "inrouter: %s\n", what);
    abort();
}

static int to_client(void *ctx, const uint8_t *p, size_t n)
{
    fctx_t *c = ctx;
    if (c->client_shut)
        bad("bytes for the client after client_shut");
    if (n == 0 || !p)
        bad("empty to_client");
    c->to_client += n;
    return 0;
}

static int to_upstream(void *ctx, int up, const uint8_t *p, size_t n)
{
    fctx_t *c = ctx;
    if (up != 0 && up != 1)
        bad("upstream index");
    if (n == 0 || !p)
        bad("empty to_upstream");
    c->to_up[up] += n;
    if (c->cl) { /* the next piece of the client's bytes, after the last */
        const uint8_t *at = c->clpos < c->cllen
                                ? memmem(c->cl + c->clpos, c->cllen - c->clpos, p, n)
                                : NULL;
        if (!at)
            bad("an upstream got bytes the client did not send, or not in order");
        c->clpos = (size_t)(at - c->cl) + n;
    }
    return c->fail[up] ? -1 : 0;
}

static void upstream_shut(void *ctx, int up)
{
    (void)ctx;
    if (up != 0 && up != 1)
        bad("upstream index");
}

static void client_shut(void *ctx)
{
    fctx_t *c = ctx;
    if (c->client_shut)
        bad("client_shut twice");
    c->client_shut = 1;
}

/* Whether s (n bytes, not NUL-terminated) holds w, case-insensitively. */
static int strcasestr_n(const uint8_t *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++)
        if (strncasecmp((const char *)s + i, w, wl) == 0)
            return 1;
    return 0;
}

static in_filter_t *filters[4];

static in_filter_t *compile(const char *const *nodes)
{
    shunt_rec_hfilter_t v[8];
    size_t n = 0;
    for (; nodes[n]; n++) {
        const char *s = nodes[n];
        memset(&v[n], 0, sizeof(v[n]));
        v[n].kind = (uint8_t)(s[0] - '0');
        if (v[n].kind <= SHUNT_HF_ANY)
            v[n].nkids = (uint16_t)atoi(s + 2);
        else
            v[n].value = shunt_str(s + 2);
    }
    char err[256];
    in_filter_t *f = in_filter_compile(v, n, err, sizeof(err));
    if (!f)
        bad(err);
    return f;
}

static void init(void)
{
    /* kinds: 1 all, 2 any, 3 header, 4 path, 5 method */
    static const char *const f0[] = {"3 ^x-route: local$", NULL};
    static const char *const f1[] = {"1 2", "4 ^/api/", "2 2", "5 GET", "5 POST", NULL};
    static const char *const f3[] = {"2 3", "3 local", "4 local", "5 PUT", NULL};
    filters[0] = compile(f0);
    filters[1] = compile(f1);
    filters[2] = NULL;
    filters[3] = compile(f3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        init();
        ready = 1;
    }
    if (size < 1)
        return 0;
    static const in_router_ops_t ops = {to_client, to_upstream, upstream_shut, client_shut};
    fctx_t c = {0};
    in_router_t *r = in_router_new(filters[data[0] & 3], &ops, &c);
    if (!r)
        return 0;
    /* the oracle's copy of the client's bytes, in the order given */
    uint8_t *cl = malloc(size);
    size_t cllen = 0;
    int h1only = 1;
    size_t i = 1;
    while (i < size) {
        uint8_t k = data[i++];
        int up = (k >> 3) & 1;
        switch (k & 7) {
        case 0:
        case 1:
        case 2: {
            size_t n = 0;
            if (i + 2 <= size)
                n = data[i] | (size_t)data[i + 1] << 8;
            i += 2;
            if (i > size)
                i = size;
            if (n > size - i)
                n = size - i;
            if ((k & 7) == 0) {
                memcpy(cl + cllen, data + i, n);
                cllen += n;
                if (memmem(cl, cllen, "PRI", 3) || strcasestr_n(cl, cllen, "h2c"))
                    h1only = 0;
                c.cl = h1only ? cl : NULL;
                c.cllen = cllen;
                if (in_router_client(r, data + i, n) < 0) {
                    i = size; /* the agent drops the connection */
                    break;
                }
            } else {
                in_router_upstream(r, (k & 7) - 1, data + i, n);
            }
            i += n;
            break;
        }
        case 3: in_router_client_eof(r); break;
        case 4: in_router_upstream_eof(r, up); break;
        case 5: in_router_upstream_failed(r, up); break;
        case 6: c.fail[up] = !c.fail[up]; break;
        default: {
            in_router_stats_t st;
            in_router_stats(r, &st);
            (void)in_router_held(r, 0);
            (void)in_router_held(r, 1);
            break;
        }
        }
        if (in_router_done(r) && !c.client_shut)
            bad("done without client_shut");
    }
    in_router_free(r);
    free(cl);
    return 0;
}
