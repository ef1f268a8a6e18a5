/* A client's credentials: CREDS sets the uid, gid and groups the file
 * requests that follow are served with (the proxy sends it when the
 * requests it forwards come from a process with other credentials than
 * the last ones, docs/agent.md "Credentials").  Each such request runs with
 * the thread's fsuid, fsgid and groups set to them (raw per-thread
 * syscalls: the kernel then also drops the agent's file capabilities), and
 * with the agent's own again afterwards. */
#include "agent.h"

#include "shunt/log.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static gid_t own_groups[CREDS_MAX_GROUPS];
static int own_ngroups = -1;

void creds_set(client_t *cl, const shunt_msg_t *m)
{
    const shunt_creds_t *q = &m->u.creds;
    if (q->groups.len % 4 || q->groups.len / 4 > CREDS_MAX_GROUPS) {
        reply_error(cl, m->id, EINVAL, "CREDS: %u bytes of groups",
                    q->groups.len);
        return;
    }
    cl->creds.uid = q->uid;
    cl->creds.gid = q->gid;
    cl->creds.ngroups = q->groups.len / 4;
    for (uint32_t i = 0; i < cl->creds.ngroups; i++) {
        const uint8_t *b = q->groups.p + 4 * i;
        cl->creds.groups[i] =
            (gid_t)(b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24);
    }
    LOG_DEBUG("client %s: requests served as uid %d gid %d (%u group(s))",
              cl->desc, (int)q->uid, (int)q->gid, cl->creds.ngroups);
    reply_ok(cl, m->id, 0);
}

int creds_enter(client_t *cl)
{
    const agent_creds_t *c = &cl->creds;
    if (c->uid == CREDS_AS_AGENT)
        return 0;
    if (own_ngroups < 0) {
        long n = syscall(SYS_getgroups, CREDS_MAX_GROUPS, own_groups);
        own_ngroups = n < 0 ? 0 : (int)n;
    }
    if (syscall(SYS_setgroups, (size_t)c->ngroups, c->groups) < 0)
        return -EACCES;
    syscall(SYS_setfsgid, c->gid);
    syscall(SYS_setfsuid, c->uid);
    /* setfs*id say nothing about failure: ask again (-1 changes nothing) */
    if ((uid_t)syscall(SYS_setfsuid, -1) != c->uid ||
        (gid_t)syscall(SYS_setfsgid, -1) != c->gid) {
        creds_leave(cl);
        return -EACCES;
    }
    return 1;
}

void creds_leave(client_t *cl)
{
    if (cl->creds.uid == CREDS_AS_AGENT)
        return;
    syscall(SYS_setfsuid, geteuid());
    syscall(SYS_setfsgid, getegid());
    syscall(SYS_setgroups, (size_t)(own_ngroups > 0 ? own_ngroups : 0),
            own_groups);
}
