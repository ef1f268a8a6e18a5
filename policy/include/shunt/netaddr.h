/* Socket addresses as the network policy sees them (an IPv4-mapped IPv6
 * address is IPv4), for the layer and the supervisor alike. */
#ifndef SHUNT_POLICY_NETADDR_H
#define SHUNT_POLICY_NETADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
    int family;        /* AF_INET or AF_INET6 (as the remote sees it) */
    uint8_t addr[16];  /* 4 or 16 bytes */
    uint16_t port;     /* host order */
} shunt_naddr_t;

/* A program's sockaddr -> naddr (IPv4-mapped IPv6 becomes IPv4).  0, or
 * -1 when it is not a whole AF_INET/AF_INET6 address. */
int shunt_naddr_from(const struct sockaddr *sa, socklen_t len,
                     shunt_naddr_t *a);
/* addr (4 or 16 bytes) + port as a sockaddr of the socket's family (an
 * IPv4 address on an AF_INET6 socket is IPv4-mapped); its length. */
socklen_t shunt_sockaddr_make(int sfamily, const uint8_t *addr, size_t alen,
                              uint16_t port, struct sockaddr_storage *out);

#endif
