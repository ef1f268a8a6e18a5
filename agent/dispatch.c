/* The handshake and the routing of each request to the room that serves it. */
#include "agent.h"

#include "shunt/hello.h"
#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void refuse(client_t *cl, uint64_t id, int err, const char *msg)
{
    LOG_WARN("client %s: handshake refused: %s", cl->desc, msg);
    reply_error(cl, id, err, "%s", msg);
    cl->state = C_CLOSING;
    cl->deadline_ms = shunt_now_ms() + 1000;
}

void handshake(client_t *cl, const shunt_msg_t *m)
{
    agent_t *a = cl->a;
    const shunt_hello_t *h = &m->u.hello;
    char msg[160];
    shunt_hello_want_t want = {
        .server = "agent",
        .roles = SHUNT_ROLE_BIT(SHUNT_ROLE_PROXY) |
                 SHUNT_ROLE_BIT(SHUNT_ROLE_TOOL),
        .token = a->conf.token,
        .token_len = a->conf.token_len,
        .ver_max = SHUNT_PROTO_VERSION_MAX,
        .max_frame = a->conf.max_frame,
    };
    shunt_hello_r_t r = {.server_pid = (uint32_t)getpid()};
    int err = shunt_hello_check(h, &want, &r, msg, sizeof(msg));
    if (err) {
        refuse(cl, m->id, err, msg);
        return;
    }
    uint32_t mf = r.max_frame;
    cl->max_frame = mf;
    shunt_rx_set_max_frame(&cl->rx, mf);
    cl->version = r.version;
    if (h->session) {
        cl->session = h->session;
    } else if (shunt_random(&cl->session, sizeof(cl->session)) < 0 ||
               cl->session == 0) {
        cl->session = (uint64_t)getpid() << 32 | cl->serial;
    }
    size_t dl = strlen(cl->desc);
    if (h->name.len)
        snprintf(cl->desc + dl, sizeof(cl->desc) - dl, " %.*s",
                 (int)(h->name.len > 40 ? 40 : h->name.len), h->name.p);
    cl->unauth = 0;
    a->nunauth--;
    if (a->nclients >= a->conf.max_clients) {
        cl->rejected = 1;
        a->nrejected++;
        snprintf(msg, sizeof(msg), "too many clients (%u)",
                 a->conf.max_clients);
        refuse(cl, m->id, EUSERS, msg);
        return;
    }
    a->nclients++;
    cl->counted = 1;
    cl->state = C_READY;
    cl->deadline_ms = 0;
    LOG_INFO("client %s: %s pid %u, protocol %u, max frame %u, session "
             "%016llx", cl->desc, h->role == SHUNT_ROLE_PROXY ? "proxy" : "tool",
             h->pid, cl->version, mf, (unsigned long long)cl->session);
    r.session = cl->session;
    client_send(cl, SHUNT_T_HELLO_R, 0, m->id, &r);
}

void dispatch(client_t *cl, const shunt_msg_t *m)
{
    if (cl->a->target_lost && m->type != SHUNT_T_CLOSE &&
        m->type != SHUNT_T_PING && !(m->flags & SHUNT_FLAG_ONEWAY)) {
        /* Its files are in a root that is gone (writes would succeed into
         * deleted files), its namespaces too (logged once, loop.c). */
        reply_error(cl, m->id, EIO, "the target is gone (stopped or "
                                    "restarted)");
        return;
    }
    switch (m->type) {
    case SHUNT_T_OPEN: case SHUNT_T_OPENAT: case SHUNT_T_READ:
    case SHUNT_T_PREAD: case SHUNT_T_WRITE: case SHUNT_T_PWRITE:
    case SHUNT_T_LSEEK: case SHUNT_T_CLOSE: case SHUNT_T_STAT:
    case SHUNT_T_FSTAT: case SHUNT_T_ACCESS: case SHUNT_T_READLINK:
    case SHUNT_T_MKDIR: case SHUNT_T_RMDIR: case SHUNT_T_UNLINK:
    case SHUNT_T_RENAME: case SHUNT_T_GETDENTS: case SHUNT_T_STATFS:
    case SHUNT_T_FSTATFS: case SHUNT_T_FTRUNCATE: case SHUNT_T_TRUNCATE:
    case SHUNT_T_FSYNC: case SHUNT_T_CHMOD: case SHUNT_T_FCHMOD:
    case SHUNT_T_SYMLINK: case SHUNT_T_UTIMENS: case SHUNT_T_REALPATH:
    case SHUNT_T_CHOWN: case SHUNT_T_FCHOWN: case SHUNT_T_LINK:
    case SHUNT_T_MKNOD:
    case SHUNT_T_LOCK: case SHUNT_T_FLOCK: {
        /* As the client's process would: its credentials (creds.c). */
        int as = creds_enter(cl);
        if (as < 0) {
            reply_error(cl, m->id, -as, "the agent cannot act as uid %u",
                        cl->creds.uid);
            break;
        }
        if (m->type == SHUNT_T_LOCK || m->type == SHUNT_T_FLOCK)
            locks_handle(cl, m);
        else
            files_handle(cl, m);
        if (as)
            creds_leave(cl);
        break;
    }
    case SHUNT_T_CREDS:
        creds_set(cl, m);
        break;
    case SHUNT_T_WATCH_ADD: case SHUNT_T_WATCH_RM: case SHUNT_T_WATCH_CLOSE: {
        /* inotify_add_watch checks read permission as the file calls do */
        int as = creds_enter(cl);
        if (as < 0) {
            reply_error(cl, m->id, -as, "the agent cannot act as uid %u",
                        cl->creds.uid);
            break;
        }
        watch_handle(cl, m);
        if (as)
            creds_leave(cl);
        break;
    }
    case SHUNT_T_ENV_GET:
        env_get(cl, m);
        break;
    case SHUNT_T_GETADDRINFO:
    case SHUNT_T_CONNECT:
        if (cl->a->conf.offline)
            reply_error(cl, m->id, ENOSYS, "no network in this agent");
        else if (m->type == SHUNT_T_CONNECT) {
            int as = creds_enter(cl); /* a unix socket's path is checked */
            if (as < 0) {
                reply_error(cl, m->id, -as, "the agent cannot act as uid %u",
                            cl->creds.uid);
                break;
            }
            stream_connect(cl, m);
            if (as)
                creds_leave(cl);
        }
        else
            resolver_request(cl, m);
        break;
    case SHUNT_T_INCOMING_SUB: case SHUNT_T_INCOMING_UNSUB:
        if (cl->a->conf.offline)
            reply_error(cl, m->id, ENOSYS, "no network in this agent");
        else
            incoming_handle(cl, m);
        break;
    case SHUNT_T_DATA: case SHUNT_T_WINDOW: case SHUNT_T_SHUTDOWN:
    case SHUNT_T_SCLOSE:
        stream_traffic(cl, m);
        break;
    case SHUNT_T_PING: {
        shunt_pong_t p = {.nonce = m->u.ping.nonce};
        client_send(cl, SHUNT_T_PONG, 0, m->id, &p);
        break;
    }
    case SHUNT_T_HELLO:
        reply_error(cl, m->id, EINVAL, "HELLO after the handshake");
        break;
    default: /* a response type sent as a request */
        reply_error(cl, m->id, EINVAL, "%s is not a request",
                    shunt_msg_name(m->type) ? shunt_msg_name(m->type) : "?");
        break;
    }
}
