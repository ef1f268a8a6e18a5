/* Private interfaces of shunt-agent: configuration, event-loop objects,
 * per-client handle tables and the request handlers of each room. */
#ifndef SHUNT_AGENT_H
#define SHUNT_AGENT_H

#include "shunt/frameio.h"
#include "shunt/proto.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- configuration ------------------------------------------------------ */
typedef struct {
    pid_t target_pid;        /* 0 in --root mode */
    const char *root_dir;    /* --root DIR */
    const char *env_file;    /* --env-file FILE (root mode) */
    const char *listen;      /* HOST:PORT */
    const char *token_file;
    char *token;
    size_t token_len;
    unsigned max_clients;
    unsigned max_fds;        /* handles + streams per client */
    uint32_t max_frame;
    int handshake_timeout_ms;
    int connect_timeout_ms;
    size_t max_queue;        /* drop a client whose send queue exceeds this */
    int offline;             /* refuse CONNECT and GETADDRINFO (ENOSYS): the
                                in-process fuzz target, which must never
                                reach a network */
} agent_conf_t;

/* ---- event-loop objects ------------------------------------------------- */
/* Every epoll registration points at one of these as its first member. */
/* Connections that have not sent a valid HELLO: at most this many (the
 * oldest is dropped for a new one), each for --handshake-timeout. */
#define AGENT_MAX_UNAUTH 16u

enum { EV_LISTEN = 1, EV_SIGNAL, EV_CLIENT, EV_STREAM, EV_RESOLVER, EV_TARGET,
       EV_WATCH, EV_INCOMING };
typedef struct {
    int kind;
} agent_ev_t;

typedef struct agent agent_t;
typedef struct client client_t;

/* The credentials a client's file requests are served with (creds.c). */
#define CREDS_MAX_GROUPS 256
#define CREDS_AS_AGENT 0xffffffffu /* uid: the agent's own */
typedef struct {
    uint32_t uid, gid;
    uint32_t ngroups;
    gid_t groups[CREDS_MAX_GROUPS];
} agent_creds_t;
typedef struct stream stream_t;
typedef struct resolver resolver_t;
typedef struct watch watch_t;
typedef struct incoming incoming_t;

/* Handle numbers are (gen << HANDLE_SLOT_BITS) | (slot + 1).  A slot's
 * generation starts at a per-client tag and advances each time the slot is
 * reused, so a stale number (a CLOSE or SCLOSE that crossed the agent's own
 * close) never reaches the slot's next occupant, and another client's
 * numbers are unlikely to be valid here. */
#define HANDLE_SLOT_BITS 20u
#define HANDLE_MAX_FDS ((1u << HANDLE_SLOT_BITS) - 2u)

enum { H_FREE = 0, H_FILE, H_DIR, H_STREAM };

typedef struct {
    int kind;
    int fd;          /* next free slot index while H_FREE */
    char *path;      /* in-root path the handle was opened with */
    uint8_t *dbuf;   /* getdents64 buffer of a directory */
    uint32_t dpos, dlen;
    stream_t *st;    /* H_STREAM */
    uint32_t gen;    /* generation of the slot, kept across reuse */
} handle_t;

typedef struct {
    handle_t *v;
    uint32_t cap, used, limit, tag;
    int free_head;   /* -1 when none */
} htable_t;

enum { C_HELLO = 0, C_READY, C_CLOSING, C_LINGER };

struct client {
    agent_ev_t ev;
    agent_t *a;
    client_t *next, *prev;
    client_t *next_dead;
    int fd;
    int state;
    int dead;
    int rejected;    /* over --max-clients: answered EUSERS, then closed */
    int unauth;      /* counted in a->nunauth: no valid HELLO yet */
    int counted;     /* counted in a->nclients (after its HELLO) */
    int streams_paused;
    uint32_t events;
    uint64_t serial;
    uint64_t deadline_ms; /* handshake or linger deadline, 0 = none */
    uint32_t max_frame;
    uint16_t version;
    uint64_t session;
    agent_creds_t creds; /* CREDS; uid CREDS_AS_AGENT until then */
    char desc[128];  /* "#N ADDR:PORT name" for logs */
    shunt_rx_t rx;
    shunt_wbuf_t tx;
    htable_t h;
    watch_t *watches; /* inotify instances (watch.c) */
};

enum { S_CONNECTING = 0, S_OPEN, S_CLOSED };

struct stream {
    agent_ev_t ev;
    client_t *cl;
    stream_t *tnext, *tprev;   /* connect-timeout list */
    stream_t *next_dead;
    uint32_t id;
    int fd;
    int socktype, family;
    int state;
    int watched;
    uint32_t events;
    uint64_t req_id;           /* CONNECT request awaiting its answer */
    uint64_t deadline_ms;
    int64_t credit;            /* bytes of DATA we may still send */
    shunt_wbuf_t out;          /* client bytes not yet taken by the socket */
    uint64_t ungranted;        /* bytes written to the socket, not yet granted */
    int rd_eof;                /* remote sent FIN (we sent SHUTDOWN) */
    int rd_off;                /* client asked SHUT_RD */
    int wr_shut_req, wr_shut_done;
    /* Called on the client's SCLOSE before the stream goes (incoming/):
     * it may take st->fd (then it sets st->fd to -1). */
    void (*on_sclose)(stream_t *st, int err, void *ctx);
    void *sclose_ctx;
    /* An incoming stream keeps what it read until the first byte comes
     * back, up to STREAM_KEEP_MAX (keeping 0: not, or no longer). */
    int keeping;
    uint8_t *keep;
    size_t keep_len;
    int answered;              /* DATA came from the client */
    int in_live;               /* a diverted connection (incoming_live) */
    char peer[64];
};

struct agent {
    agent_conf_t conf;
    int root_fd;
    int proc_fd;     /* /proc/PID, -1 in root mode */
    int mntns_fd, netns_fd;
    int epfd, lfd, sfd;
    agent_ev_t lev, sev;
    int pidfd;       /* the target process (pidfd), -1 when none */
    agent_ev_t tev;
    int target_lost; /* it exited: its root and namespaces are gone, every
                      * request but CLOSE fails with EIO from then on */
    client_t *clients;
    unsigned nclients, nrejected;
    unsigned nunauth; /* connections before HELLO: their own small budget,
                       * never --max-clients' slots */
    uint64_t next_serial;
    uint32_t next_tag;
    int stop;
    stream_t *connecting;
    client_t *dead_clients;
    stream_t *dead_streams;
    watch_t *dead_watches;
    char *env_buf;   /* --env-file contents, NUL-separated */
    size_t env_len;
    resolver_t *res;
    incoming_t *in;  /* incoming traffic (agent/incoming/), NULL until used */
};

/* ---- loop.c ------------------------------------------------------------- */
int agent_watch(agent_t *a, int fd, agent_ev_t *ev, uint32_t events);
int agent_rewatch(agent_t *a, int fd, agent_ev_t *ev, uint32_t events);
void agent_unwatch(agent_t *a, int fd);
int agent_run(agent_t *a);
void agent_shutdown(agent_t *a);
/* One round's pieces, also driven directly by fuzz/agent_session.c. */
void client_readable(client_t *cl); /* read and serve complete frames */
void agent_reap(agent_t *a);        /* free what this round dropped */

/* ---- client.c: sending to a client ------------------------------------- */
void client_drop(client_t *cl, const char *why);
void client_kick(client_t *cl); /* flush, update epoll, enforce queue bound */
int client_send(client_t *cl, uint16_t type, uint16_t flags, uint64_t id,
                const void *body);
void reply_error(client_t *cl, uint64_t id, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void reply_ok(client_t *cl, uint64_t id, int64_t ret);
/* A DATA/DATA_R frame built in place so that read() can fill it: begin
 * returns where up to max bytes go (NULL when out of memory), end commits
 * n of them, or cancels the frame when n < 0.  Nothing else may be queued
 * between the two. */
uint8_t *client_bytes_begin(client_t *cl, uint16_t type, uint16_t flags,
                            uint64_t id, const void *body, size_t max);
void client_bytes_end(client_t *cl, ssize_t n);

/* ---- dispatch.c --------------------------------------------------------- */
void dispatch(client_t *cl, const shunt_msg_t *m);
void handshake(client_t *cl, const shunt_msg_t *m);

/* ---- handles.c ---------------------------------------------------------- */
int htab_init(htable_t *t, uint32_t limit, uint32_t tag);
/* Returns a fresh slot (kind still H_FREE) and its number, or -EMFILE. */
int htab_alloc(htable_t *t, handle_t **h, uint32_t *num);
/* The live handle of that number whose kind is in kinds (bit per H_*). */
handle_t *htab_get(htable_t *t, uint32_t num, unsigned kinds);
/* Frees the slot (does not close fd or stream). */
void htab_release(htable_t *t, uint32_t num);
void htab_free(htable_t *t);
#define HK(k) (1u << (k))

/* An inotify instance of a client (watch.c). */
struct watch {
    agent_ev_t ev;   /* EV_WATCH */
    client_t *cl;
    watch_t *next;
    uint32_t inst;
    int fd;          /* -1 once closed (then on a->dead_watches) */
};

/* ---- watch.c: inotify (WATCH_ADD, WATCH_RM, WATCH_CLOSE) -------------- */
void watch_handle(client_t *cl, const shunt_msg_t *m);
void watch_event(watch_t *w);          /* its inotify fd is readable */
void watch_client_gone(client_t *cl);  /* client_drop: every instance */

/* ---- paths.c ------------------------------------------------------------ */
/* Builds the absolute in-root path for (dirh, path) into out. */
int path_join(client_t *cl, uint32_t dirh, shunt_str_t path, char *out,
              size_t outlen);
/* openat2(root, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): fd or -errno. */
int root_open(agent_t *a, const char *path, int flags, mode_t mode);
/* root_open for reading or writing: refuses device nodes the agent does not
 * serve (node_served) with -ENXIO without ever opening them for I/O. */
int root_open_io(agent_t *a, const char *path, int flags, mode_t mode);
struct stat;
int node_served(const struct stat *st);
/* Opens the parent of an absolute in-root path (O_PATH|O_DIRECTORY) and
 * points *base at its last component (trailing slashes kept).  *base is ""
 * for the root itself; then the returned fd is the root. */
int root_open_parent(agent_t *a, const char *path, const char **base);
/* 1 when the last component is "." or "..". */
int base_is_dot(const char *base, int *dotdot);

/* ---- files.c ------------------------------------------------------------ */
void files_handle(client_t *cl, const shunt_msg_t *m);
void handle_close_fd(handle_t *h);

/* ---- locks.c ------------------------------------------------------------ */
void locks_handle(client_t *cl, const shunt_msg_t *m); /* LOCK, FLOCK */

/* ---- creds.c ------------------------------------------------------------ */
void creds_set(client_t *cl, const shunt_msg_t *m); /* CREDS */
/* Before a request: 0 (as the agent), 1 (switched: creds_leave after), or
 * -EACCES when the agent cannot take them on (never serve with more). */
int creds_enter(client_t *cl);
void creds_leave(client_t *cl);

/* ---- env.c -------------------------------------------------------------- */
int env_load_file(agent_t *a, const char *file, char *err, size_t errlen);
void env_get(client_t *cl, const shunt_msg_t *m);

/* ---- resolve.c ---------------------------------------------------------- */
int resolver_start(agent_t *a);
void resolver_event(agent_t *a, uint32_t events);
void resolver_request(client_t *cl, const shunt_msg_t *m);
void resolver_forget_client(agent_t *a, client_t *cl);
void resolver_child_exited(agent_t *a, pid_t pid, int status);
void resolver_stop(agent_t *a);

/* ---- streams.c ---------------------------------------------------------- */
void stream_connect(client_t *cl, const shunt_msg_t *m);
void stream_traffic(client_t *cl, const shunt_msg_t *m);
void stream_event(stream_t *st, uint32_t events);
void stream_timeout(stream_t *st);
void stream_destroy(stream_t *st); /* closes fd, frees the handle slot */
void streams_resume(client_t *cl);  /* send queue drained: read again */
/* The socket connected at once: CONNECT_R now, then relay. */
void stream_connected(stream_t *st);
/* A stream in S_CONNECTING for fd, in the client's handle table; on
 * failure replies ERROR to req_id, closes fd and returns NULL. */
stream_t *stream_new(client_t *cl, uint64_t req_id, int fd, int socktype,
                     int family, const char *desc);

/* An accepted connection (incoming/) as a stream of the client, open at
 * once but not yet reading: the caller announces it (INCOMING), then calls
 * stream_start.  NULL (fd closed) when the client has no slot left. */
stream_t *stream_adopt(client_t *cl, int fd, int family, const char *desc);
void stream_start(stream_t *st);
void stream_abort(stream_t *st, int err); /* SCLOSE{err} and gone */

/* ---- incoming/: mirror and steal the target's ports ---------------------- */
void incoming_handle(client_t *cl, const shunt_msg_t *m); /* SUB, UNSUB */
void incoming_event(agent_ev_t *ev, uint32_t events);
void incoming_client_gone(client_t *cl); /* client_drop: its subscriptions */
void incoming_start(agent_t *a);  /* in the target's netns: sweep leftovers */
/* A diverted connection opened (+1) or closed (-1): the table (its NAT
 * hooks, which translate the connections already diverted) stays while
 * any is open, even with no subscription left. */
void incoming_live(agent_t *a, int delta);
void incoming_stop(agent_t *a);   /* exit: our rules and table */
void incoming_reap(agent_t *a);

/* ---- unixconn.c --------------------------------------------------------- */
/* CONNECT of family AF_UNIX: the path resolved in the root, then relayed. */
void stream_connect_unix(client_t *cl, const shunt_msg_t *m);

/* Client send queue above which streams stop reading their sockets. */
#define STREAM_PAUSE_BYTES (1024u * 1024u)
#define STREAM_KEEP_MAX (64u * 1024u)

#endif
