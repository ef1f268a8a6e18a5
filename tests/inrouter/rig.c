/* The in-memory rig of the router tests (rig.h). */
#include "rig.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define RIG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RIG_ASAN 1
#endif
#endif
#ifdef RIG_ASAN
#include <sanitizer/allocator_interface.h>
#endif

size_t heap_in_use(void)
{
#ifdef RIG_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

void buf_add(buf_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->d = realloc(b->d, cap);
        if (!b->d)
            abort();
        b->cap = cap;
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
    b->d[b->len] = 0;
}

void buf_clear(buf_t *b)
{
    b->len = 0;
    if (b->d)
        b->d[0] = 0;
}

void buf_free(buf_t *b)
{
    free(b->d);
    memset(b, 0, sizeof(*b));
}

const char *buf_str(buf_t *b)
{
    if (!b->d)
        buf_add(b, "", 0);
    return (const char *)b->d;
}

uint8_t pattern_byte(size_t i)
{
    return (uint8_t)('a' + (i * 7 + i / 251) % 26);
}

static int to_client(void *ctx, const uint8_t *p, size_t n)
{
    rig_t *g = ctx;
    buf_add(&g->client, p, n);
    return 0;
}

static int to_upstream(void *ctx, int up, const uint8_t *p, size_t n)
{
    rig_t *g = ctx;
    if (up != 0 && up != 1)
        abort();
    if (!g->open[up]) {
        g->open[up] = 1;
        g->opens[up]++;
    }
    if (g->fail_up[up])
        return -1;
    if (g->sink[up]) {
        for (size_t i = 0; i < n; i++) {
            size_t at = g->sunk[up] + i;
            if (at < g->sink_skip[up])
                buf_add(&g->up[up], p + i, 1);
            else if (p[i] != pattern_byte(at - g->sink_skip[up]))
                g->sink_bad[up]++;
        }
        g->sunk[up] += n;
        return 0;
    }
    buf_add(&g->up[up], p, n);
    return 0;
}

static void upstream_shut(void *ctx, int up)
{
    rig_t *g = ctx;
    g->up_shut[up]++;
    g->open[up] = 0;
}

static void client_shut(void *ctx)
{
    rig_t *g = ctx;
    g->client_shut++;
}

static const in_router_ops_t ops = {to_client, to_upstream, upstream_shut, client_shut};

in_filter_t *rig_filter(const char *const *nodes, char *err, size_t errlen)
{
    shunt_rec_hfilter_t v[80];
    size_t n = 0;
    for (; nodes && nodes[n]; n++) {
        const char *s = nodes[n], *sp = strchr(s, ' ');
        size_t kl = sp ? (size_t)(sp - s) : strlen(s);
        const char *val = sp ? sp + 1 : "";
        memset(&v[n], 0, sizeof(v[n]));
        if (!strncmp(s, "all", kl) && kl == 3) {
            v[n].kind = SHUNT_HF_ALL;
            v[n].nkids = (uint16_t)atoi(val);
        } else if (!strncmp(s, "any", kl) && kl == 3) {
            v[n].kind = SHUNT_HF_ANY;
            v[n].nkids = (uint16_t)atoi(val);
        } else if (!strncmp(s, "header", kl) && kl == 6) {
            v[n].kind = SHUNT_HF_HEADER;
        } else if (!strncmp(s, "path", kl) && kl == 4) {
            v[n].kind = SHUNT_HF_PATH;
        } else if (!strncmp(s, "method", kl) && kl == 6) {
            v[n].kind = SHUNT_HF_METHOD;
        } else {
            v[n].kind = (uint8_t)atoi(s); /* a raw kind, for the error tests */
            v[n].nkids = (uint16_t)atoi(val);
            val = "";
        }
        if (v[n].kind >= SHUNT_HF_HEADER)
            v[n].value = shunt_str(val);
        else
            v[n].value = shunt_str("");
    }
    return in_filter_compile(v, n, err, errlen);
}

void rig_init(rig_t *g, const char *const *filter_nodes)
{
    char err[256];
    memset(g, 0, sizeof(*g));
    g->f = rig_filter(filter_nodes, err, sizeof(err));
    if (!g->f) {
        fprintf(stderr, "rig: filter: %s\n", err);
        abort();
    }
    g->r = in_router_new(g->f, &ops, g);
    if (!g->r)
        abort();
}

void rig_fini(rig_t *g)
{
    in_router_free(g->r);
    in_filter_free(g->f);
    buf_free(&g->client);
    buf_free(&g->up[0]);
    buf_free(&g->up[1]);
}

int rig_client(rig_t *g, const char *s)
{
    return in_router_client(g->r, (const uint8_t *)s, strlen(s));
}

int rig_client_n(rig_t *g, const void *p, size_t n)
{
    return in_router_client(g->r, p, n);
}

int rig_up(rig_t *g, int up, const char *s)
{
    return in_router_upstream(g->r, up, (const uint8_t *)s, strlen(s));
}
