/* The session proxy: one epoll loop that multiplexes layer connections on a
 * unix socket onto one agent link and relays stream data (docs/proxy.md). */
#ifndef SHUNT_PROXY_H
#define SHUNT_PROXY_H

#include <stddef.h>

typedef struct shunt_proxy shunt_proxy_t;

typedef struct {
    const char *socket_path;     /* unix socket for layers (created, mode 0600) */
    const char *agent_addr;      /* "HOST:PORT" or "tcp:HOST:PORT" (numeric) */
    const void *agent_token;     /* secret for the agent's HELLO */
    size_t agent_token_len;
    const void *layer_token;     /* secret the layers must present */
    size_t layer_token_len;
    int timeout_ms;              /* agent connect + handshake; 0 = 10 s */
    const char *record_dir;      /* recording mode: frames as fuzz seeds
                                  * (docs/fuzzing.md); NULL: the
                                  * SHUNT_PROXY_RECORD environment
                                  * variable, if set */
    int broker;                  /* make a broker for the program's layers
                                  * (shunt_proxy_take_broker) */
    const char *incoming_status; /* a file kept listing the live incoming
                                  * subscriptions, "REMOTE LOCAL MODE" per
                                  * line (docs/incoming.md); NULL: none */
} shunt_proxy_opts_t;

/* Connects to the agent, performs the handshake and binds the socket.
 * Returns NULL with a message in err on failure. */
shunt_proxy_t *shunt_proxy_new(const shunt_proxy_opts_t *o, char *err,
                               size_t errlen);

/* Runs the event loop until shunt_proxy_stop().  Returns 0, or -errno on a
 * fatal error of the loop itself (the agent link going away is not fatal:
 * requests then fail with EIO). */
int shunt_proxy_run(shunt_proxy_t *p);

/* Asks a running (or not yet running) loop to return.  Async-signal-safe
 * and thread-safe. */
void shunt_proxy_stop(shunt_proxy_t *p);

/* Closes every connection and the agent link and removes the socket. */
void shunt_proxy_free(shunt_proxy_t *p);

/* With opts.broker: the layers' end of the broker (close-on-exec; the
 * caller owns it), once; -1 after.  A layer that holds it (SHUNT_BROKER)
 * needs neither the socket path nor the token (docs/proxy.md). */
int shunt_proxy_take_broker(shunt_proxy_t *p);

/* 1 while the agent link is up. */
int shunt_proxy_link_up(const shunt_proxy_t *p);

#endif
