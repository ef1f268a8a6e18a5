/* Hooks: set*id and setgroups.  The original runs; on success the rpc
 * connections are marked stale (rpc.c): each thread's next remote call
 * makes a new one through the broker, whose socket the kernel stamps with
 * the new credentials (SO_PEERCRED, SO_PEERGROUPS), and the proxy has the
 * agent serve it with those.  Nothing is claimed, so nothing needs to be
 * believed: a process can only ever be served as what it is. */
#include "hooks.h"
#include "layer.h"

static int changed(int r)
{
    if (r == 0 && shunt_state == SHUNT_STATE_ACTIVE)
        shunt_rpc_creds_changed();
    return r;
}

int hook_setuid(uid_t uid) { return changed(REAL(setuid, uid)); }
int hook_setgid(gid_t gid) { return changed(REAL(setgid, gid)); }
int hook_seteuid(uid_t uid) { return changed(REAL(seteuid, uid)); }
int hook_setegid(gid_t gid) { return changed(REAL(setegid, gid)); }
int hook_setreuid(uid_t r, uid_t e) { return changed(REAL(setreuid, r, e)); }
int hook_setregid(gid_t r, gid_t e) { return changed(REAL(setregid, r, e)); }
int hook_setresuid(uid_t r, uid_t e, uid_t s)
{
    return changed(REAL(setresuid, r, e, s));
}
int hook_setresgid(gid_t r, gid_t e, gid_t s)
{
    return changed(REAL(setresgid, r, e, s));
}
int hook_setgroups(size_t n, const gid_t *list)
{
    return changed(REAL(setgroups, n, list));
}
