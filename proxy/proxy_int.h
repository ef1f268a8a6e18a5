/* Private declarations shared by the proxy's files. */
#ifndef SHUNT_PROXY_INT_H
#define SHUNT_PROXY_INT_H

#include "shunt/frameio.h"
#include "shunt/proto.h"
#include "shunt/proxy.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>

/* ---- u64 -> pointer hash map (open addressing, linear probing) -------- */
typedef struct {
    uint64_t *keys;
    void **vals; /* NULL marks an empty slot */
    size_t cap, n;
} pmap_t;

void pmap_init(pmap_t *m);
void pmap_free(pmap_t *m);
void *pmap_get(const pmap_t *m, uint64_t key);
int pmap_put(pmap_t *m, uint64_t key, void *val); /* 0 or -ENOMEM; replaces */
void *pmap_del(pmap_t *m, uint64_t key);          /* the old value or NULL */
/* Iteration: for (i = 0; pmap_next(m, &i, &k, &v);) — no changes meanwhile. */
int pmap_next(const pmap_t *m, size_t *i, uint64_t *key, void **val);

/* ---- event objects ------------------------------------------------------ */
typedef enum {
    EV_STOP,
    EV_LISTEN,
    EV_LINK,
    EV_CONN,
    EV_STREAM,
    EV_BROKER,
    EV_INOTIFY,      /* pinot_t.kev: the program's kernel inotify fd */
    EV_INOTIFY_PIPE, /* pinot_t.pev: the proxy's end of its socket pair */
} ev_kind_t;

/* First member of every object registered with epoll. */
typedef struct ev {
    ev_kind_t kind;
    int fd;
    uint32_t events;  /* mask currently registered; 0 = not registered */
    int dirty, dead;
    struct ev *dirty_next, *gc_next;
} ev_t;

typedef struct psess psess_t;
typedef struct pconn pconn_t;

/* The credentials a connection's requests are served with at the agent:
 * the kernel's word for its process (SO_PEERCRED, SO_PEERGROUPS), taken
 * when the connection was made (broker.c). */
#define PROXY_MAX_GROUPS 256u
#define PROXY_AS_AGENT 0xffffffffu /* uid: root or the proxy's own user */
typedef struct {
    uint32_t uid, gid, ngroups;
    uint32_t groups[PROXY_MAX_GROUPS];
} pcreds_t;

/* A broker: one end of a SOCK_SEQPACKET pair whose other end the layers
 * of a session share; each message carries a new connection's socket
 * (SCM_RIGHTS).  The socket is the capability: no token, no path. */
typedef struct pbroker {
    ev_t ev;
    struct pbroker *prev, *next;
} pbroker_t;
typedef struct pstream pstream_t;

/* A layer connection. */
struct pconn {
    ev_t ev;
    uint64_t id;
    shunt_rx_t rx;
    shunt_wbuf_t tx;
    int authed;
    pid_t peer_pid;         /* SO_PEERCRED at accept (the kernel's word) */
    int known;              /* !authed: its process, or its parent, has an
                             * authenticated connection: not in the budget */
    int closing;            /* flushing a last ERROR, then closed */
    uint64_t close_at;      /* deadline for closing */
    pconn_t *close_prev, *close_next;
    uint64_t hs_deadline;   /* !authed: HELLO must come by then */
    pconn_t *hs_prev, *hs_next; /* !authed: list in accept order */
    uint32_t max_frame;
    uint32_t npending;      /* requests forwarded and not yet answered */
    psess_t *sess;
    uint32_t pid;
    int brokered;           /* came through a broker: no token asked */
    pcreds_t creds;
    char name[32];
    int fds[4];             /* fds passed with SCM_RIGHTS, not yet taken */
    int nfds;
};

/* A session: the connections of one process.  A session started with the
 * parent_session of a live session joins that session's group (root), which
 * owns the remote handles and streams; the group ends with its last
 * connection. */
struct psess {
    uint64_t id;
    psess_t *root;          /* group root (itself for a root) */
    psess_t *next_member;   /* root: list of the other member sessions */
    uint32_t nconns;        /* root: live connections of the whole group */
    pmap_t handles;         /* root: handles kept for the group (below) */
    int legacy;             /* root: a member joined by HELLO alone, not
                             * announced by FORK: a member's handles are
                             * kept until the group ends, as before FORK */
    pmap_t streams;         /* root: stream id -> pstream_t */
    uint32_t own_conns;     /* this session's live connections */
    int pending;            /* made by FORK, its process not connected yet */
    pmap_t held;            /* handles this session holds -> (void *)1 */
};

/* A request forwarded to the agent and not yet answered. */
typedef struct ppend {
    uint64_t conn_id;       /* 0: the proxy's own request */
    uint64_t orig_id;
    uint16_t type;
    int32_t socktype;       /* CONNECT: SOCK_STREAM or SOCK_DGRAM */
    void *ctx;              /* INCOMING_SUB: the subscription it makes */
    struct ppend *next_free;
} ppend_t;

enum { ST_LISTEN, ST_OPEN, ST_DRAIN, ST_CONNECTING };

/* An incoming stream (incoming.c): what the program's accepted socket
 * stands for, told to its layer by INCOMING_PEER. */
typedef struct {
    uint32_t sub;
    uint8_t flags;
    int family;
    uint8_t peer[16], local[16];
    uint32_t peer_len, local_len;
    uint16_t peer_port, local_port;
    uint16_t relay_port;    /* our end's port: the accepted socket's peer */
} pinpeer_t;
typedef struct pinsub pinsub_t;

/* A proxied socket: a loopback endpoint relayed to an agent stream. */
struct pstream {
    ev_t ev;                /* fd: listener, then the accepted socket (TCP);
                               the bound socket (UDP) */
    uint32_t id;
    int udp;
    int state;
    psess_t *root;          /* group that opened it, NULL once orphaned */
    uint64_t deadline;      /* ST_LISTEN: close if nobody connects */
    pstream_t *tprev, *tnext;
    pstream_t *all_prev, *all_next; /* every stream, for teardown */
    uint64_t send_credit;   /* DATA bytes the agent still accepts */
    uint32_t grant;         /* bytes written locally, not yet WINDOWed */
    shunt_wbuf_t out;       /* agent -> local: bytes (TCP) or u32-length-
                               prefixed datagrams (UDP) */
    size_t out_bytes;       /* payload bytes in out */
    int local_eof;          /* read EOF from the local socket (SHUTDOWN sent) */
    int remote_eof;         /* agent sent SHUTDOWN */
    int wr_shut;            /* shutdown(SHUT_WR) done locally */
    int have_peer;          /* UDP: first peer known */
    pinpeer_t *in;          /* an incoming stream (ST_CONNECTING first) */
};

/* An inotify instance of a program (inotify.c): the other end of pev's
 * socket pair is the program's inotify fd; local events come from kev,
 * remote ones from the agent. */
typedef struct pinot {
    ev_t kev;
    ev_t pev;
    uint32_t id;
    shunt_wbuf_t out;       /* events not yet written to the socket */
    uint32_t queued;        /* events queued since out was last empty */
    int overflowed;         /* IN_Q_OVERFLOW queued, dropping until drained */
    struct pinot *all_prev, *all_next;
} pinot_t;

typedef struct proxy_record proxy_record_t;

struct shunt_proxy {
    int epfd;
    ev_t stop_ev, listen_ev, link_ev;
    char *socket_path;
    void *layer_token;
    size_t layer_token_len;

    /* agent link */
    shunt_rx_t link_rx;
    shunt_wbuf_t link_tx;
    uint32_t link_max;
    uint16_t link_version;
    atomic_int link_up;
    int link_congested;
    uint64_t next_req_id;
    pmap_t pending;         /* link request id -> ppend_t */
    ppend_t *free_pend;

    pmap_t conns;           /* conn id -> pconn_t */
    uint64_t next_conn_id;
    pmap_t sessions;        /* session id -> psess_t (roots and members) */
    pmap_t streams;         /* stream id -> pstream_t */
    pmap_t handles;         /* handle -> number of sessions holding it */

    ev_t *dirty, *gc;
    pstream_t *thead, *ttail;            /* endpoints waiting for a peer */
    pstream_t *all_streams;
    pconn_t *close_head, *close_tail;    /* connections being closed */
    pconn_t *hs_head, *hs_tail;          /* connections before HELLO */
    unsigned n_unauth;
    uint64_t accept_retry_at;

    pmap_t inotify;         /* instance id -> pinot_t (inotify.c) */
    pinot_t *all_inotify;
    uint32_t next_inotify;

    proxy_record_t *record; /* recording mode (record.c), or NULL */

    pinsub_t *insubs;       /* incoming.c: live subscriptions */
    pmap_t inpeers;         /* relay port -> incoming pstream_t */
    char *incoming_status;  /* opts.incoming_status, or NULL */

    pbroker_t *brokers;     /* broker.c */
    int broker_client_fd;   /* opts.broker: the layers' end, until taken */
    pcreds_t link_creds;    /* what the agent was last told (CREDS) */
    int creds_refused;      /* the agent refused CREDS: only the agent's
                             * own user is served */

    uint8_t *scratch;       /* local read buffer */
    size_t scratch_len;

    /* TCP relay endpoints made ahead of time (stream.c, relay_pool_fill):
     * bound to a loopback port, not yet listening. */
    struct {
        int fd;
        uint16_t port;
    } relay_pool[4];
    int relay_pool_n;
    int relay_pool_on;      /* a TCP stream was opened: keep it filled */
};

/* Timeouts and limits. */
#define PROXY_ENDPOINT_TIMEOUT_MS 10000u
#define PROXY_CLOSE_GRACE_MS 2000u
/* Connections that have not sent a valid HELLO: at most this many from
 * processes the proxy does not know yet (the oldest is dropped for a new
 * one), each for at most this long.  A new thread's connection, or a new
 * child's, whose process or parent already has an authenticated
 * connection is not counted: a program whose 32 threads connect at once
 * lost connections to the budget (go.stress, bad=8). */
#define PROXY_MAX_UNAUTH 16u
#define PROXY_HANDSHAKE_MS 5000u
#define PROXY_CONN_MAX_PENDING 64u
#define PROXY_CONN_TX_HIGH (4u * 1024u * 1024u)
#define PROXY_LINK_TX_HIGH (8u * 1024u * 1024u)
#define PROXY_LINK_TX_LOW (2u * 1024u * 1024u)
#define PROXY_READ_CHUNK (256u * 1024u)
/* How the proxy writes its send buffers (shunt_tx_flush): sockets without
 * SIGPIPE, never blocking, a burst's memory given back. */
#define PROXY_TX (SHUNT_TX_SOCKET | SHUNT_TX_NOWAIT | SHUNT_TX_TRIM)

/* broker.c */
int broker_new(shunt_proxy_t *p);   /* the layers' end, or -errno */
void broker_on_event(shunt_proxy_t *p, pbroker_t *b, uint32_t events);
void broker_free_all(shunt_proxy_t *p);
void creds_of_peer(int fd, pcreds_t *c);
/* Queues CREDS on the link when c's differ from the last sent: 0, or
 * -EACCES when the agent cannot serve them. */
int creds_before_request(shunt_proxy_t *p, const pconn_t *c);
/* BROKER: answers OK with a new broker's socket attached. */
void broker_request(shunt_proxy_t *p, pconn_t *c, uint64_t id);

/* conn.c: a connection made by accept or received through a broker. */
void conn_add(shunt_proxy_t *p, int fd, pid_t pid, int brokered);

/* link.c */
int link_open(shunt_proxy_t *p, const shunt_proxy_opts_t *o, char *err,
              size_t errlen);
void link_on_event(shunt_proxy_t *p, uint32_t events);
void link_sync(shunt_proxy_t *p);
int proxy_link_send(shunt_proxy_t *p, uint16_t type, uint64_t id,
                    const void *body);
int proxy_link_request(shunt_proxy_t *p, uint16_t type, const void *body);
int proxy_forward_request(shunt_proxy_t *p, pconn_t *c, const uint8_t *frame,
                          size_t len, const shunt_msg_t *m);
void proxy_link_fail(shunt_proxy_t *p, const char *why);
/* As proxy_forward_request; ctx goes with the answer to its handler
 * (INCOMING_SUB: incoming_sub_answered) and is freed if none comes. */
int proxy_forward_request_ctx(shunt_proxy_t *p, pconn_t *c,
                              const uint8_t *frame, size_t len,
                              const shunt_msg_t *m, void *ctx);

/* incoming.c */
int incoming_sub_request(shunt_proxy_t *p, pconn_t *c, const uint8_t *frame,
                         size_t len, const shunt_msg_t *m);
void incoming_sub_answered(shunt_proxy_t *p, pconn_t *c, void *ctx,
                           const shunt_msg_t *m);
void incoming_ctx_free(void *ctx);
int incoming_unsub_request(shunt_proxy_t *p, pconn_t *c, uint32_t sub,
                           int *err);
void incoming_group_ended(shunt_proxy_t *p, psess_t *root);
void incoming_link_lost(shunt_proxy_t *p);
void incoming_free_all(shunt_proxy_t *p);
void incoming_on_agent(shunt_proxy_t *p, const shunt_msg_t *m);
/* stream.c: the relay of an incoming stream, connecting to the program's
 * listener family/addr:port; 0 or -errno (then the caller SCLOSEs). */
int stream_incoming(shunt_proxy_t *p, psess_t *root,
                    const shunt_incoming_t *in, int family,
                    const uint8_t *addr, uint16_t port);
/* INCOMING_PEER: the incoming stream whose relay end has that port. */
const pinpeer_t *stream_incoming_peer(shunt_proxy_t *p, uint16_t port);

/* proxy.c */
void proxy_mark_dirty(shunt_proxy_t *p, ev_t *ev);
void proxy_gc(shunt_proxy_t *p, ev_t *ev);  /* unregisters, frees later */
void proxy_ev_set(shunt_proxy_t *p, ev_t *ev, uint32_t want);

/* conn.c */
void conn_accept(shunt_proxy_t *p);
void conn_on_event(shunt_proxy_t *p, pconn_t *c, uint32_t events);
void conn_sync(shunt_proxy_t *p, pconn_t *c);
void conn_free(pconn_t *c);
void conn_close(shunt_proxy_t *p, pconn_t *c, const char *why);
void conn_send_error(shunt_proxy_t *p, pconn_t *c, uint64_t id, int err,
                     const char *msg);
void conn_send_frame(shunt_proxy_t *p, pconn_t *c, const uint8_t *frame,
                     size_t len, uint64_t id);
void conn_response_done(shunt_proxy_t *p, pconn_t *c);
void conn_expire(shunt_proxy_t *p, uint64_t now);

/* session.c */
/* announced: the client is a layer, which says FORK for the handles a
 * child inherits (other clients joining a group keep every member's
 * handles until the group ends). */
psess_t *sess_attach(shunt_proxy_t *p, uint64_t id, uint64_t parent,
                     int announced, uint64_t *out_id);
void sess_detach(shunt_proxy_t *p, psess_t *s);
void sess_handle_add(shunt_proxy_t *p, psess_t *s, uint32_t handle);
/* A layer's CLOSE of handle: 1 when it must go to the agent (s was its last
 * holder, or nobody holds it), 0 when others still hold it. */
int sess_close_request(shunt_proxy_t *p, psess_t *s, uint32_t handle);
/* FORK: child (a new session of s's group, pending until its process
 * connects) holds those of handles (u32 LE each) that s holds; returns
 * how many, or -errno. */
int sess_fork(shunt_proxy_t *p, psess_t *s, uint64_t child,
              const uint8_t *handles, size_t len);
int sess_exec_cancel(shunt_proxy_t *p, psess_t *s, uint64_t child);
void sess_send_close(shunt_proxy_t *p, uint32_t handle);
void sess_link_lost(shunt_proxy_t *p);
void sess_free_all(shunt_proxy_t *p);

/* stream.c; stream_open completes the agent's CONNECT_R r (relay endpoint)
 * before it is sent on to the layer. */
/* UDP_PEER: the relay of UDP stream id (of root's group) takes datagrams
 * from addr:port only.  0 or -errno. */
int stream_udp_peer(shunt_proxy_t *p, psess_t *root, uint32_t id,
                    const uint8_t *addr, size_t alen, uint16_t port);
int stream_open(shunt_proxy_t *p, psess_t *root,
                shunt_connect_r_t *r, int udp, uint16_t *relay_port);
void stream_on_agent(shunt_proxy_t *p, const shunt_msg_t *m);
void stream_on_event(shunt_proxy_t *p, pstream_t *s, uint32_t events);
void stream_sync(shunt_proxy_t *p, pstream_t *s);
void stream_session_ended(shunt_proxy_t *p, pstream_t *s);
void stream_reset_all(shunt_proxy_t *p);
void stream_expire(shunt_proxy_t *p, uint64_t now);
void stream_free(pstream_t *s);
void stream_link_uncongested(shunt_proxy_t *p);
void relay_pool_fill(shunt_proxy_t *p);  /* after a round: refill */
void relay_pool_free(shunt_proxy_t *p);
int stream_register(shunt_proxy_t *p, psess_t *root, pstream_t *s);

/* unixrelay.c: the endpoint of an AF_UNIX stream, an abstract unix
 * listener named in r->local_addr (relay_port 0).  Takes s. */
int unixrelay_open(shunt_proxy_t *p, psess_t *root, pstream_t *s,
                   shunt_connect_r_t *r, uint16_t *relay_port);

/* inotify.c.  INOTIFY_OPEN with the connection's passed fds: 0 with the
 * instance id in *id, or -errno. */
int inotify_open(shunt_proxy_t *p, pconn_t *c, uint32_t *id);
int inotify_known(shunt_proxy_t *p, uint32_t id);
void inotify_on_agent(shunt_proxy_t *p, const shunt_msg_t *m); /* WATCH_EVENT */
void inotify_on_event(shunt_proxy_t *p, ev_t *ev, uint32_t events);
void inotify_free(pinot_t *n);
void inotify_free_all(shunt_proxy_t *p);

/* record.c: frames as fuzz seeds.  open: NULL on failure (logged);
 * frame/close accept NULL. */
proxy_record_t *proxy_record_open(const char *dir);
void proxy_record_frame(proxy_record_t *r, int to_agent, const uint8_t *frame,
                        size_t len);
void proxy_record_close(proxy_record_t *r);

#endif
