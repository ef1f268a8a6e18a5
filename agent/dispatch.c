/* The handshake and the routing of each request to the room that serves it. */
#include "agent.h"

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
    if (h->magic != SHUNT_MAGIC) {
        snprintf(msg, sizeof(msg), "bad magic 0x%08x (expected 0x%08x)",
                 h->magic, SHUNT_MAGIC);
        refuse(cl, m->id, EPROTO, msg);
        return;
    }
    if (h->ver_min > h->ver_max || h->ver_min > SHUNT_PROTO_VERSION_MAX ||
        h->ver_max < SHUNT_PROTO_VERSION_MIN) {
        snprintf(msg, sizeof(msg),
                 "protocol versions %u..%u not supported (agent speaks "
                 "%u..%u)", h->ver_min, h->ver_max, SHUNT_PROTO_VERSION_MIN,
                 SHUNT_PROTO_VERSION_MAX);
        refuse(cl, m->id, EPROTONOSUPPORT, msg);
        return;
    }
    /* Compare in constant time whatever the lengths. */
    int bad = h->token.len != a->conf.token_len;
    const uint8_t *theirs = h->token.len == a->conf.token_len
                                ? h->token.p
                                : (const uint8_t *)a->conf.token;
    bad |= shunt_ct_memcmp(theirs, a->conf.token, a->conf.token_len) != 0;
    if (bad) {
        refuse(cl, m->id, EACCES, "wrong token");
        return;
    }
    if (h->role != SHUNT_ROLE_PROXY && h->role != SHUNT_ROLE_TOOL) {
        snprintf(msg, sizeof(msg),
                 "role %u is not served by the agent (proxy or tool only)",
                 h->role);
        refuse(cl, m->id, EPROTO, msg);
        return;
    }
    uint32_t mf = h->max_frame ? h->max_frame : SHUNT_FRAME_DEFAULT;
    if (mf > a->conf.max_frame)
        mf = a->conf.max_frame;
    if (mf < SHUNT_FRAME_MIN)
        mf = SHUNT_FRAME_MIN;
    cl->max_frame = mf;
    shunt_rx_set_max_frame(&cl->rx, mf);
    cl->version = h->ver_max < SHUNT_PROTO_VERSION_MAX
                      ? h->ver_max
                      : SHUNT_PROTO_VERSION_MAX;
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
    shunt_hello_r_t r = {.version = cl->version, .session = cl->session,
                         .max_frame = mf, .server_pid = (uint32_t)getpid()};
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
        files_handle(cl, m);
        break;
    case SHUNT_T_WATCH_ADD: case SHUNT_T_WATCH_RM: case SHUNT_T_WATCH_CLOSE:
        watch_handle(cl, m);
        break;
    case SHUNT_T_LOCK: case SHUNT_T_FLOCK:
        locks_handle(cl, m);
        break;
    case SHUNT_T_ENV_GET:
        env_get(cl, m);
        break;
    case SHUNT_T_GETADDRINFO:
    case SHUNT_T_CONNECT:
        if (cl->a->conf.offline)
            reply_error(cl, m->id, ENOSYS, "no network in this agent");
        else if (m->type == SHUNT_T_CONNECT)
            stream_connect(cl, m);
        else
            resolver_request(cl, m);
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
