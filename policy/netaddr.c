/* Socket addresses as the network policy sees them (shunt/netaddr.h). */
#include "shunt/netaddr.h"

#include <netinet/in.h>
#include <string.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int shunt_naddr_from(const struct sockaddr *sa, socklen_t len,
                     shunt_naddr_t *a)
{
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        a->family = AF_INET;
        memcpy(a->addr, &in->sin_addr, 4);
        a->port = ntohs(in->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        a->port = ntohs(in6->sin6_port);
        if (memcmp(&in6->sin6_addr, v4mapped, 12) == 0) {
            a->family = AF_INET;
            memcpy(a->addr, (const uint8_t *)&in6->sin6_addr + 12, 4);
        } else {
            a->family = AF_INET6;
            memcpy(a->addr, &in6->sin6_addr, 16);
        }
        return 0;
    }
    return -1;
}

socklen_t shunt_sockaddr_make(int sfamily, const uint8_t *addr, size_t alen,
                              uint16_t port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (sfamily == AF_INET) {
        struct sockaddr_in *in = (void *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        if (alen == 4)
            memcpy(&in->sin_addr, addr, 4);
        else if (alen == 16 && memcmp(addr, v4mapped, 12) == 0)
            memcpy(&in->sin_addr, addr + 12, 4);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (void *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (alen == 4) {
        memcpy(&in6->sin6_addr, v4mapped, 12);
        memcpy((uint8_t *)&in6->sin6_addr + 12, addr, 4);
    } else if (alen == 16) {
        memcpy(&in6->sin6_addr, addr, 16);
    }
    return sizeof(*in6);
}
