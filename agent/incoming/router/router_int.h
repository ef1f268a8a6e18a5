/* Private to the router: byte queues, header lists, the router's state and
 * the HTTP/2 half (h2.c) the HTTP/1.1 half (router.c) hands over to. */
#ifndef SHUNT_INCOMING_ROUTER_INT_H
#define SHUNT_INCOMING_ROUTER_INT_H

#include "router.h"

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes [head, len) of d are queued. */
typedef struct {
    uint8_t *d;
    size_t head, len, cap;
} bq_t;
int bq_put(bq_t *b, const void *p, size_t n);
void bq_drop(bq_t *b, size_t n);
void bq_free(bq_t *b);
static inline size_t bq_size(const bq_t *b) { return b->len - b->head; }
static inline const uint8_t *bq_ptr(const bq_t *b)
{
    return b->d ? b->d + b->head : (const uint8_t *)"";
}

/* Header lines "Name: value" (NUL terminated) with the name's length. */
typedef struct {
    char *buf;
    size_t len, cap;
    size_t *off;    /* start of each line in buf */
    size_t *nlen;   /* its name's length */
    size_t n, ncap;
    const char **lines; /* built by hl_lines */
} hlist_t;
int hl_add(hlist_t *h, const char *name, size_t nl, const char *val, size_t vl);
const char *const *hl_lines(hlist_t *h);
void hl_reset(hlist_t *h);
void hl_free(hlist_t *h);
/* The value of the first header called name (case-insensitive), or NULL. */
const char *hl_get(const hlist_t *h, const char *name);

enum { MODE_DETECT, MODE_H1, MODE_TUNNEL, MODE_H2 };

typedef struct upconn upconn_t;
typedef struct ent ent_t;
typedef struct h2 h2_t;

struct in_router {
    const in_filter_t *f;
    in_router_ops_t ops;
    void *ctx;
    int mode;
    in_router_stats_t st;
    int client_eof;     /* the client sent its EOF */
    int cshut;          /* client_shut called */
    int ended;          /* all over: client_shut and upstream_shut called */
    int up_open[2];     /* to_upstream called since the last upstream_shut */
    unsigned pend_fail; /* upstreams whose to_upstream failed, to handle */
    size_t detected;    /* MODE_DETECT: preface bytes seen so far */

    /* HTTP/1.1 */
    llhttp_t qp;                 /* the client's requests */
    llhttp_settings_t qs, rs;
    int qev;                     /* what paused qp */
    ent_t *qh, *qt;              /* requests awaiting their response */
    ent_t *cur;                  /* request whose bytes are arriving, routed */
    bq_t hdr;                    /* bytes of the request before it is routed */
    bq_t cheld;                  /* client bytes while an upgrade is pending */
    char *url;
    size_t urllen;
    char *fld, *val;
    size_t fldlen, vallen;
    hlist_t hl;
    int wait_upgrade;            /* the request before cheld asked to upgrade */
    int h2c;                     /* the current request upgrades to h2c */
    int drop_client;             /* after Connection: close: ignore the client */
    upconn_t *conn[2];           /* the current connection of each upstream */
    upconn_t *conns;             /* every connection with something pending */
    upconn_t *tun;               /* MODE_TUNNEL */

    h2_t *h2;
};

/* router.c, for h2.c */
int rt_send_up(in_router_t *r, int up, const uint8_t *p, size_t n);
void rt_shut_up(in_router_t *r, int up);
int rt_send_client(in_router_t *r, const uint8_t *p, size_t n);
void rt_end(in_router_t *r);
int rt_route(in_router_t *r, const char *method, const char *path, hlist_t *hl);

/* h2.c */
int h2_start(in_router_t *r);                       /* prior knowledge */
int h2_start_upgrade(in_router_t *r, const char *settings, const char *method,
                     const char *path, hlist_t *hl); /* after Upgrade: h2c */
int h2_client(in_router_t *r, const uint8_t *p, size_t n);
void h2_upstream(in_router_t *r, int up, const uint8_t *p, size_t n);
void h2_upstream_gone(in_router_t *r, int up);
void h2_client_eof(in_router_t *r);
void h2_settle(in_router_t *r);
size_t h2_held(const in_router_t *r, int up);
void h2_free(in_router_t *r);

#endif
