/* Incoming traffic: the address arithmetic of the listen and accept hooks
 * (layer/net.c, docs/incoming.md).  Pure code, also linked into the unit
 * tests (tests/layer/test_core.c). */
#ifndef SHUNT_LAYER_INADDR_H
#define SHUNT_LAYER_INADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
    int family;       /* AF_INET (4 bytes of addr) or AF_INET6 (16) */
    uint8_t addr[16];
    uint16_t port;    /* host order */
} shunt_inaddr_t;

/* Where the proxy connects to reach a listener bound to (sa, len): the
 * bound address, or for the wildcard the loopback of the socket's family
 * (127.0.0.1 for a dual-stack IPv6 wildcard, v6only 0; ::1 when v6only);
 * an IPv4-mapped address as IPv4.  0, or -1 when sa is not an
 * AF_INET/AF_INET6 address. */
int shunt_in_listen_addr(const struct sockaddr *sa, socklen_t len, int v6only,
                         shunt_inaddr_t *out);

/* The peer port of a connection from loopback (127.0.0.1, ::1 or
 * ::ffff:127.0.0.1: where the proxy's end of an incoming stream is), else
 * 0. */
uint16_t shunt_in_loopback_port(const struct sockaddr *sa, socklen_t len);

/* The same, also for a peer at own (4 or 16 bytes; alen 0: none): the
 * proxy binds its end to the listener's own address when that is not
 * loopback. */
uint16_t shunt_in_peer_port(const struct sockaddr *sa, socklen_t len,
                            const uint8_t *own, size_t alen);

/* addr (alen: 4 or 16 bytes) and port as a sockaddr of a socket of family
 * sfamily: an IPv4 address on an AF_INET6 socket is IPv4-mapped, an
 * IPv4-mapped one on an AF_INET socket plain IPv4.  The sockaddr's length,
 * or 0 when it cannot be said in that family (an IPv6 address on an
 * AF_INET socket, a bad length). */
socklen_t shunt_in_sockaddr(int sfamily, const uint8_t *addr, size_t alen,
                            uint16_t port, struct sockaddr_storage *out);

/* Copies (src, slen) into the program's (sa, *len) as accept(2) and
 * getpeername(2) do: cut to *len, *len set to the full size; nothing when
 * sa or len is NULL. */
void shunt_in_addr_out(const struct sockaddr_storage *src, socklen_t slen,
                       struct sockaddr *sa, socklen_t *len);

#endif
