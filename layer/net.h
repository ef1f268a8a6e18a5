/* Proxied sockets (layer/net.c): which fds are sockets the layer tracks,
 * and how the fd hooks of fs_open.c (close, dup family) keep that table in
 * step.  A separate bitmap from the file fd table, so that read/write on a
 * socket never leave their one-test fast path. */
#ifndef SHUNT_LAYER_NET_H
#define SHUNT_LAYER_NET_H

#include "fdtable.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

extern _Atomic uint64_t shunt_net_bits[SHUNT_FDT_MAX / 64];

static inline int shunt_net_is_ours(int fd)
{
    if ((unsigned)fd >= SHUNT_FDT_MAX)
        return 0;
    return (int)((atomic_load_explicit(&shunt_net_bits[fd >> 6],
                                       memory_order_relaxed) >>
                  (fd & 63)) & 1u);
}

/* The program closed fd: forget its socket entry. */
void shunt_net_forget(int fd);
/* newfd is now a copy of oldfd (dup family): it shares oldfd's entry, or
 * has none. */
void shunt_net_dup(int oldfd, int newfd);
/* close_range(first, last): drop the entries of fds that are gone. */
void shunt_net_drop_range(unsigned first, unsigned last);

/* A fork or exec is about to happen: the listeners subscribed so far may
 * be held by another process from now on, so their close no longer
 * releases the target's port (the proxy does, with the session group). */
void shunt_net_shared(void);

/* fd was connected to a relay by other code (layer/unixsock.c): getpeername
 * reports peer from now on.  0 or -errno. */
long shunt_net_note_peer(int fd, int family, int type,
                         const struct sockaddr *peer, socklen_t len);
/* connect() of an AF_UNIX socket (layer/unixsock.c), as the hook returns. */
int shunt_unix_connect(int fd, const struct sockaddr *sa, socklen_t len);

#endif
