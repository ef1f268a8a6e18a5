/* The HTTP request router of "steal with an HTTP filter" (docs/incoming.md):
 * between one client connection and two upstreams (the local program,
 * the target's own service), pure: bytes in, callbacks out, no I/O.
 * HTTP/1.1 is parsed with llhttp, HTTP/2 with nghttp2. */
#ifndef SHUNT_INCOMING_ROUTER_H
#define SHUNT_INCOMING_ROUTER_H

#include "shunt/proto.h"

#include <stddef.h>
#include <stdint.h>

/* ---- filter ---------------------------------------------------------------
 * A tree in prefix order (shunt_rec_hfilter_t, SHUNT_HF_*): ALL and ANY are
 * followed by their nkids children.  HEADER: POSIX ERE, case-insensitive,
 * over each "Name: value" line; PATH: ERE over the request target; METHOD:
 * exact.  An empty list matches every request. */
typedef struct in_filter in_filter_t;
/* NULL with a message naming the node ("filter node 3 (header): ...") in
 * err when the tree is malformed, longer than SHUNT_HF_MAX_NODES, or a
 * regex does not compile. */
in_filter_t *in_filter_compile(const shunt_rec_hfilter_t *v, size_t n,
                               char *err, size_t errlen);
void in_filter_free(in_filter_t *f);

/* One request as the filter sees it.  headers: "Name: value" lines, NUL
 * terminated (h2: lowercase names), value trimmed of surrounding blanks. */
typedef struct {
    const char *method;
    const char *path;
    const char *const *headers;
    size_t nheaders;
} in_request_t;
int in_filter_match(const in_filter_t *f, const in_request_t *rq); /* 1: local */

/* ---- router --------------------------------------------------------------- */
enum { IN_UP_LOCAL = 0, IN_UP_REMOTE = 1 };
typedef struct {
    /* Each returns 0, or -1 when that end is gone (the router then treats
     * it as failed).  The router never calls back into itself from them.
     * to_upstream's first call for an upstream opens it.  upstream_shut is
     * a write shutdown: keep reading that upstream until its EOF (a tunnel
     * still answers).  The router calls to_upstream(up) after
     * upstream_shut(up) only once it is done with that connection (its EOF
     * or failure reported, or an HTTP/2 GOAWAY with nothing left): that
     * call opens a new connection, and the old one can be closed.  Reading: an
     * upstream whose in_router_held is large may wait (HTTP/1.1: its
     * answers wait their turn; HTTP/2: bounded by the windows anyway). */
    int (*to_client)(void *ctx, const uint8_t *p, size_t n);
    int (*to_upstream)(void *ctx, int up, const uint8_t *p, size_t n);
    void (*upstream_shut)(void *ctx, int up);   /* no more bytes for it */
    void (*client_shut)(void *ctx);             /* no more bytes for the client */
} in_router_ops_t;

typedef struct in_router in_router_t;
/* f NULL: every request is local.  f must outlive the router. */
in_router_t *in_router_new(const in_filter_t *f, const in_router_ops_t *ops, void *ctx);
/* 0, or -1 when the client broke HTTP (the connection is to be dropped). */
int in_router_client(in_router_t *r, const uint8_t *p, size_t n);
int in_router_upstream(in_router_t *r, int up, const uint8_t *p, size_t n);
void in_router_client_eof(in_router_t *r);
void in_router_upstream_eof(in_router_t *r, int up);
/* Refused or reset: its pending requests are answered 502 (HTTP/1.1) or
 * 502 / RST_STREAM (HTTP/2). */
void in_router_upstream_failed(in_router_t *r, int up);
/* Bytes of that upstream held back, awaiting their turn (a reader stops
 * reading the upstream while this is large). */
size_t in_router_held(const in_router_t *r, int up);
/* Everything delivered and the client's side shut (client_shut called):
 * the connection and its upstreams can be closed. */
int in_router_done(const in_router_t *r);
typedef struct { uint64_t local, remote; } in_router_stats_t; /* requests routed */
void in_router_stats(const in_router_t *r, in_router_stats_t *s);
void in_router_free(in_router_t *r);

#endif
