/* A router between in-memory peers: what it gives each end is recorded
 * (or checked against a pattern and counted, for bodies too big to keep). */
#ifndef SHUNT_TEST_INROUTER_RIG_H
#define SHUNT_TEST_INROUTER_RIG_H

#include "router.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *d;
    size_t len, cap;
} buf_t;

typedef struct {
    in_router_t *r;
    in_filter_t *f;
    buf_t client;        /* what the client got */
    buf_t up[2];         /* what each upstream got */
    int opens[2];        /* connections opened to each upstream */
    int up_shut[2];      /* upstream_shut calls */
    int client_shut;     /* client_shut calls */
    int fail_up[2];      /* to_upstream answers -1 */
    int open[2];         /* open now (to_upstream called since the last shut) */
    /* sink mode for an upstream: count its bytes, check them against
     * pattern_byte(offset - sink_skip) after the first sink_skip bytes */
    int sink[2];
    size_t sink_skip[2], sunk[2];
    int sink_bad[2];
} rig_t;

void buf_add(buf_t *b, const void *p, size_t n);
void buf_clear(buf_t *b);
void buf_free(buf_t *b);
/* buf as a NUL-terminated string (it stays owned by b). */
const char *buf_str(buf_t *b);
uint8_t pattern_byte(size_t i);

/* "header ERE" "path ERE" "method M" "all N" "any N" nodes, NULL-terminated. */
in_filter_t *rig_filter(const char *const *nodes, char *err, size_t errlen);
void rig_init(rig_t *g, const char *const *filter_nodes);
void rig_fini(rig_t *g);
int rig_client(rig_t *g, const char *s);
int rig_client_n(rig_t *g, const void *p, size_t n);
int rig_up(rig_t *g, int up, const char *s);
size_t heap_in_use(void);

#endif
