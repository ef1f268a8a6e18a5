/* Incoming traffic: addresses for the listen and accept hooks (inaddr.h). */
#include "inaddr.h"

#include <netinet/in.h>
#include <string.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t loop4[4] = {127, 0, 0, 1};

int shunt_in_listen_addr(const struct sockaddr *sa, socklen_t len, int v6only,
                         shunt_inaddr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        out->family = AF_INET;
        out->port = ntohs(in->sin_port);
        memcpy(out->addr, &in->sin_addr, 4);
        if (in->sin_addr.s_addr == htonl(INADDR_ANY))
            memcpy(out->addr, loop4, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        const uint8_t *a = (const uint8_t *)&in6->sin6_addr;
        out->port = ntohs(in6->sin6_port);
        if (memcmp(a, v4mapped, 12) == 0) {
            out->family = AF_INET;
            memcpy(out->addr, a + 12, 4);
            if (memcmp(out->addr, "\0\0\0\0", 4) == 0)
                memcpy(out->addr, loop4, 4);
        } else if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) {
            if (v6only) {
                out->family = AF_INET6;
                out->addr[15] = 1; /* ::1 */
            } else {
                out->family = AF_INET;
                memcpy(out->addr, loop4, 4);
            }
        } else {
            out->family = AF_INET6;
            memcpy(out->addr, a, 16);
        }
        return 0;
    }
    return -1;
}

uint16_t shunt_in_loopback_port(const struct sockaddr *sa, socklen_t len)
{
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        return memcmp(&in->sin_addr, loop4, 4) == 0 ? ntohs(in->sin_port) : 0;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        const uint8_t *a = (const uint8_t *)&in6->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
            (memcmp(a, v4mapped, 12) == 0 && memcmp(a + 12, loop4, 4) == 0))
            return ntohs(in6->sin6_port);
    }
    return 0;
}

uint16_t shunt_in_peer_port(const struct sockaddr *sa, socklen_t len,
                            const uint8_t *own, size_t alen)
{
    uint16_t p = shunt_in_loopback_port(sa, len);
    if (p || !sa || (alen != 4 && alen != 16))
        return p;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        return alen == 4 && memcmp(&in->sin_addr, own, 4) == 0
                   ? ntohs(in->sin_port)
                   : 0;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        const uint8_t *a = (const uint8_t *)&in6->sin6_addr;
        int same = alen == 16 ? memcmp(a, own, 16) == 0
                              : memcmp(a, v4mapped, 12) == 0 &&
                                    memcmp(a + 12, own, 4) == 0;
        return same ? ntohs(in6->sin6_port) : 0;
    }
    return 0;
}

socklen_t shunt_in_sockaddr(int sfamily, const uint8_t *addr, size_t alen,
                            uint16_t port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (alen != 4 && alen != 16)
        return 0;
    if (sfamily == AF_INET) {
        struct sockaddr_in *in = (void *)out;
        if (alen == 16 && memcmp(addr, v4mapped, 12) != 0)
            return 0;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        memcpy(&in->sin_addr, alen == 4 ? addr : addr + 12, 4);
        return sizeof(*in);
    }
    if (sfamily != AF_INET6)
        return 0;
    struct sockaddr_in6 *in6 = (void *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (alen == 4) {
        memcpy(&in6->sin6_addr, v4mapped, 12);
        memcpy((uint8_t *)&in6->sin6_addr + 12, addr, 4);
    } else {
        memcpy(&in6->sin6_addr, addr, 16);
    }
    return sizeof(*in6);
}

void shunt_in_addr_out(const struct sockaddr_storage *src, socklen_t slen,
                       struct sockaddr *sa, socklen_t *len)
{
    if (!sa || !len)
        return;
    memcpy(sa, src, *len < slen ? *len : slen);
    *len = slen;
}
