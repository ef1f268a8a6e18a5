/* The layer's configuration file: one directive per line (policy/, pure
 * code: the layer, the harness and the unit tests link it). */
#ifndef SHUNT_POLICY_CONFIG_H
#define SHUNT_POLICY_CONFIG_H

#include <regex.h>
#include <stddef.h>

/* Policy lists, in the order they are matched. */
enum {
    SHUNT_LIST_NOT_FOUND = 0,
    SHUNT_LIST_READ_WRITE,
    SHUNT_LIST_READ_ONLY,
    SHUNT_LIST_LOCAL,
    SHUNT_LIST_COUNT
};

typedef struct {
    regex_t *re;
    char **src;
    size_t n, cap;
} shunt_relist_t;

typedef struct {
    char **v;
    size_t n, cap;
} shunt_strlist_t;

/* One outgoing-network rule (net_remote / net_local): docs/hooking.md. */
enum { SHUNT_NET_ANY = 0, SHUNT_NET_TCP = 1, SHUNT_NET_UDP = 2 };
typedef struct {
    int remote;          /* 1: net_remote, 0: net_local */
    int proto;           /* SHUNT_NET_* */
    int family;          /* 0: any host ('*' or a name); AF_INET, AF_INET6 */
    unsigned char addr[16];
    int prefix;          /* bits of addr that must match */
    char *name;          /* host-name glob (case-insensitive), or NULL */
    unsigned port_lo, port_hi; /* 0-65535 when no port was given */
} shunt_netrule_t;

typedef struct {
    shunt_netrule_t *v;
    size_t n, cap;
} shunt_netrules_t;

/* Incoming traffic (net_incoming*: docs/incoming.md).  mode and
 * on_conflict take the protocol's values (shunt/proto.h: SHUNT_IN_*), the
 * filter nodes its rec_hfilter kinds (SHUNT_HF_*), in prefix order. */
enum { SHUNT_INC_OFF = 0, SHUNT_INC_MIRROR = 1, SHUNT_INC_STEAL = 2 };
enum { SHUNT_INC_REFUSE = 0, SHUNT_INC_REPLACE = 1 };
enum { SHUNT_INC_HF_ALL = 1, SHUNT_INC_HF_ANY, SHUNT_INC_HF_HEADER,
       SHUNT_INC_HF_PATH, SHUNT_INC_HF_METHOD };
#define SHUNT_INC_MAX_NODES 64 /* = SHUNT_HF_MAX_NODES */

typedef struct {
    unsigned short *v;
    size_t n, cap;
} shunt_portlist_t;

typedef struct {
    unsigned char kind;     /* SHUNT_INC_HF_* */
    unsigned short nkids;   /* ALL/ANY */
    char *value;            /* HEADER/PATH: ERE; METHOD: the method */
} shunt_hfnode_t;

typedef struct {
    int mode;                       /* SHUNT_INC_*; default off */
    int on_conflict;                /* SHUNT_INC_REFUSE (default) / REPLACE */
    shunt_portlist_t ports;         /* local ports affected (empty: all) */
    shunt_portlist_t ignore;        /* local ports never affected */
    shunt_portlist_t map_local, map_remote; /* net_incoming_map, paired */
    shunt_portlist_t filter_ports;  /* remote ports the filter applies to */
    shunt_hfnode_t *filter;         /* prefix order */
    size_t nfilter, capfilter;
} shunt_incfg_t;

typedef struct {
    int log_level;          /* -1: not set */
    char *log_file;         /* NULL: not set */
    int timeout_ms;         /* -1: not set */
    shunt_relist_t lists[SHUNT_LIST_COUNT];
    shunt_strlist_t env_include, env_exclude; /* globs, for env.c */
    shunt_netrules_t net;   /* net_remote/net_local, in file order */
    shunt_relist_t unix_remote; /* net_remote_unix: unix-socket paths (ERE) */
    shunt_incfg_t incoming;  /* net_incoming* */
} shunt_config_t;

void shunt_config_init(shunt_config_t *c);
void shunt_config_free(shunt_config_t *c);
/* Parses text (len bytes, need not be NUL-terminated) into c, adding to
 * what is there.  Returns the number of bad lines (each described in err,
 * the first one kept: "line N: why"); good lines are applied regardless. */
int shunt_config_parse(shunt_config_t *c, const char *text, size_t len,
                       char *err, size_t errlen);
/* "error" .. "trace" -> 1..5, "off"/"none" -> 0, else -1. */
int shunt_log_level_parse(const char *s);
/* 0 when pattern is cheap enough to compile with regcomp(); -1 with why
 * when it is not (stacked repetitions, counts over 255, too many atoms once
 * expanded, over 1024 bytes): glibc would need memory exponential in it. */
int shunt_regex_check(const char *pattern, char *why, size_t wl);
/* Appends a compiled pattern to a list; 0 or -1 with err filled. */
int shunt_relist_add(shunt_relist_t *l, const char *pattern, char *err,
                     size_t errlen);
int shunt_relist_match(const shunt_relist_t *l, const char *path);
/* Parses "[tcp|udp|any] HOST[/PREFIX][:PORT[-PORT]]" (HOST: an IPv4
 * address, an IPv6 address (in [] when a port follows), '*', or a host-name
 * glob such as *.cluster) into r (r->remote untouched).  0, or -1 with why
 * filled.  r->name is malloc'd. */
int shunt_netrule_parse(const char *s, shunt_netrule_t *r, char *why,
                        size_t wl);

/* Incoming traffic: whether local listening port p is subscribed (mode
 * on, in net_incoming_port or that list empty, not ignored), and the
 * target's port it takes (net_incoming_map, else p).  0 when not. */
unsigned shunt_incoming_remote_port(const shunt_incfg_t *in, unsigned p);
/* Whether the filter applies to remote port rp (steal with a filter and
 * rp in net_incoming_filter_port, or that list empty). */
int shunt_incoming_filter_applies(const shunt_incfg_t *in, unsigned rp);
/* Parses one net_incoming_filter value ("all N", "any N", "header ERE",
 * "path ERE", "method NAME"; a regex must compile, header's
 * case-insensitively) into n (n->value malloc'd).  0 or -1 with why. */
int shunt_incoming_node_parse(const char *val, shunt_hfnode_t *n, char *why,
                              size_t wl);
/* Whether the filter nodes form whole trees (each ALL/ANY followed by its
 * children) and one tree at most at the top: 0, or -1 with why. */
int shunt_incoming_filter_check(const shunt_incfg_t *in, char *why,
                                size_t wl);

#endif
