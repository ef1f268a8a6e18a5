/* Lock requests: OFD record locks (LOCK) and flock(2) (FLOCK) on a handle's
 * own fd.  Never blocking: the agent is one event loop, so a client that
 * wants to wait retries (docs/hooking.md). */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>

static void do_lock(client_t *cl, uint64_t id, const shunt_lock_t *q)
{
    handle_t *h = htab_get(&cl->h, q->handle, HK(H_FILE) | HK(H_DIR));
    if (!h) {
        reply_error(cl, id, EBADF, "bad handle %u", q->handle);
        return;
    }
    if (q->cmd != F_OFD_GETLK && q->cmd != F_OFD_SETLK) {
        reply_error(cl, id, EINVAL, "lock command %d is not F_OFD_GETLK or "
                    "F_OFD_SETLK", q->cmd);
        return;
    }
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = (short)q->type;
    fl.l_whence = (short)q->whence;
    fl.l_start = q->start;
    fl.l_len = q->len;
    if (fl.l_type != q->type || fl.l_whence != q->whence) { /* out of range */
        reply_error(cl, id, EINVAL, "bad lock type or whence");
        return;
    }
    if (fcntl(h->fd, q->cmd, &fl) < 0) {
        int e = errno;
        reply_error(cl, id, e, "fcntl lock: %s", strerror(e));
        return;
    }
    if (q->cmd == F_OFD_SETLK) {
        reply_ok(cl, id, 0);
        return;
    }
    shunt_lock_r_t r = {.type = fl.l_type, .whence = fl.l_whence,
                        .start = fl.l_start, .len = fl.l_len,
                        .pid = fl.l_pid};
    client_send(cl, SHUNT_T_LOCK_R, 0, id, &r);
}

static void do_flock(client_t *cl, uint64_t id, const shunt_flock_t *q)
{
    handle_t *h = htab_get(&cl->h, q->handle, HK(H_FILE) | HK(H_DIR));
    if (!h) {
        reply_error(cl, id, EBADF, "bad handle %u", q->handle);
        return;
    }
    int op = q->op & ~LOCK_NB;
    if (op != LOCK_SH && op != LOCK_EX && op != LOCK_UN) {
        reply_error(cl, id, EINVAL, "bad flock operation %d", q->op);
        return;
    }
    if (flock(h->fd, op | LOCK_NB) < 0) {
        int e = errno;
        reply_error(cl, id, e, "flock: %s", strerror(e));
        return;
    }
    reply_ok(cl, id, 0);
}

void locks_handle(client_t *cl, const shunt_msg_t *m)
{
    if (m->type == SHUNT_T_LOCK)
        do_lock(cl, m->id, &m->u.lock);
    else if (m->type == SHUNT_T_FLOCK)
        do_flock(cl, m->id, &m->u.flock);
    else
        reply_error(cl, m->id, EINVAL, "not a lock request");
}
