/* Incoming traffic inside the agent (docs/agent.md "Incoming traffic"):
 * subscriptions, the nftables table that diverts their ports, and the
 * connections the agent pipes itself (mirror, filtered steal). */
#ifndef SHUNT_AGENT_INCOMING_H
#define SHUNT_AGENT_INCOMING_H

#include "agent.h"

#include <sys/socket.h>

/* Our own connections to the target's services carry this mark; the
 * diversion rules skip it so they are never diverted back to us. */
#define IN_MARK 0x53484e54u
/* A pipe stops reading an end while what that end feeds holds more. */
#define IN_BOUND (256u * 1024u)
/* A mirror copy further behind than this is dropped (SCLOSE). */
#define IN_MIRROR_MAX (1024u * 1024u)

/* What an EV_INCOMING registration is (the word after the agent_ev_t). */
enum { IN_LISTENER = 1, IN_END };

typedef struct in_sub in_sub_t;
typedef struct in_conn in_conn_t;

struct in_sub {
    agent_ev_t ev;       /* EV_INCOMING */
    int what;            /* IN_LISTENER */
    agent_t *a;
    client_t *cl;        /* the proxy link that asked; NULL once gone */
    in_sub_t *next;
    uint32_t id;
    uint16_t port;       /* the target's port */
    uint16_t lport;      /* our listener's */
    int mode;            /* SHUNT_IN_MIRROR or SHUNT_IN_STEAL */
    void *filter;        /* in_filter_t (router), NULL: steal whole */
    int lfd;
    uint64_t handle[2];  /* our rules in prerouting and output, 0: none */
    int refs;            /* pipes using it (its filter): freed at 0 */
    int draining;        /* unsubscribed while diverted connections were
                          * open: rules and listener kept, new connections
                          * piped to the target's own service (sub.c) */
};

struct incoming {
    int table;           /* our table exists in the target's netns */
    uint32_t next_sub;
    in_sub_t *subs;
    in_sub_t *dead_subs;
    in_conn_t *conns;    /* mirror and filtered-steal pipes */
    in_sub_t *draining;  /* unsubscribed, waiting for live to reach 0 */
    int stopping;        /* the agent exits: nothing drains */
    unsigned live;       /* diverted connections still open: the table
                          * stays while there are any (incoming_live) */
    in_conn_t *dead_conns;
};

/* ---- nft.c: the table inet shunt_in_<pid> ------------------------------ */
/* Each returns 0 or -errno with a message in err. */
int nft_table_add(char *err, size_t errlen);
int nft_table_del(pid_t owner, char *err, size_t errlen);
int nft_rule_add(uint16_t port, uint16_t lport, uint64_t handle[2],
                 char *err, size_t errlen);
void nft_rule_del(const uint64_t handle[2]);
/* Deletes the tables of agents that are gone; returns how many. */
int nft_sweep(void);
/* The live agent (not us) whose table diverts port, or 0. */
pid_t nft_port_owner(uint16_t port);
/* Deletes owner's rules for port. */
int nft_take_port(pid_t owner, uint16_t port, char *err, size_t errlen);

/* ---- pipe.c: connections the agent serves itself ------------------------ */
typedef struct {
    int family;          /* AF_INET or AF_INET6 */
    struct sockaddr_storage peer, orig;
} in_addrs_t;
/* mirror: fd (the client) is piped to the original destination and copied
 * onto an INCOMING stream; filtered steal: the HTTP router decides.  Both
 * take fd (closed on failure). */
void pipe_mirror(in_sub_t *s, int fd, const in_addrs_t *ad);
void pipe_filtered(in_sub_t *s, int fd, const in_addrs_t *ad);
void pipe_plain(in_sub_t *s, int fd, const in_addrs_t *ad,
                const uint8_t *replay, size_t n, int client_eof);
void pipe_event(void *end, uint32_t events);
void pipe_client_gone(agent_t *a, client_t *cl);
void pipe_reap(agent_t *a);
void pipe_stop(agent_t *a);

/* ---- sub.c ---------------------------------------------------------------- */
/* The socket of an INCOMING stream whose other end the agent keeps (a
 * socketpair): sends INCOMING{flags} and returns our end, or -1. */
int sub_open_stream(in_sub_t *s, const in_addrs_t *ad, int flags,
                    uint32_t *stream);
/* A marked non-blocking connection to the original destination: the fd
 * (connecting) or -errno. */
int sub_connect_orig(const in_addrs_t *ad);
void sub_fill(const struct sockaddr_storage *ss, shunt_bytes_t *b,
              uint16_t *port);

#endif
