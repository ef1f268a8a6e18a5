/* The notification loop: worker threads take the filter's notifications,
 * each with its own connection to the proxy, and answer them.  A pool
 * that grows when every worker is busy (a blocking connect or recvfrom
 * must not hold up another thread's open), up to SV_WORKERS_MAX. */
#include "sv.h"

#include "shunt/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SV_WORKERS_MAX 64

sv_global_t sv;

typedef long (*sv_fn_t)(sv_call_t *);
static const sv_fn_t handlers[] = {
#define SV(name, fn, when) [SYS_##name] = fn,
#include "calls.def"
#undef SV
};
static const char *const call_names[] = {
#define SV(name, fn, when) [SYS_##name] = #name,
#include "calls.def"
#undef SV
};

static atomic_int idle, workers;

int64_t sv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A socketpair whose other end goes to the session's broker (the proxy
 * takes it as a new connection, stamped with our credentials). */
static int broker_connect(void)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        return -errno;
    char byte = 'c';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof(cm));
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf)};
    struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &sp[1], sizeof(int));
    ssize_t r;
    do
        r = sendmsg(sv.broker_fd, &mh, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    int e = errno;
    close(sp[1]);
    if (r < 0) {
        close(sp[0]);
        return -e;
    }
    return sp[0];
}

static shunt_client_t *client_open(void)
{
    shunt_client_opts_t o = {
        .role = SHUNT_ROLE_LAYER,
        .name = SV_NAME,
        .timeout_ms = sv.rpc_timeout_ms,
        .pid = sv.program > 0 ? (uint32_t)sv.program : 0,
    };
    char err[256];
    shunt_client_t *cl;
    if (sv.broker_fd >= 0) {
        int fd = broker_connect();
        if (fd < 0) {
            LOG_ERROR("broker %d: %s", sv.broker_fd, strerror(-fd));
            return NULL;
        }
        cl = shunt_client_adopt(fd, "the session's broker", &o, err,
                                sizeof(err));
    } else {
        o.token = sv.token;
        o.token_len = sv.token_len;
        cl = shunt_client_connect(sv.socket_path, &o, err, sizeof(err));
    }
    if (!cl)
        LOG_ERROR("proxy: %s", err);
    return cl;
}

static long rpc_on(shunt_client_t **clp, int64_t *retry_after,
                   uint16_t type, const void *q, shunt_msg_t *m)
{
    if (!*clp) {
        if (sv_now_ms() < *retry_after)
            return -EIO;
        if (!(*clp = client_open())) {
            *retry_after = sv_now_ms() + 1000;
            return -EIO;
        }
    }
    memset(m, 0, sizeof(*m));
    int r = shunt_client_call(*clp, type, q, m);
    if (r < 0 && m->type != SHUNT_T_ERROR) {
        /* the proxy or the agent is gone: EIO now, a new connection
         * later (which fails at once while nothing listens) */
        LOG_WARN("proxy: %s: %s", shunt_msg_name(type), strerror(-r));
        shunt_client_close(*clp);
        *clp = NULL;
        *retry_after = sv_now_ms() + 1000;
        return -EIO;
    }
    return r;
}

long sv_rpc(sv_call_t *c, uint16_t type, const void *q, shunt_msg_t *m)
{
    return rpc_on(&c->w->cl, &c->w->retry_after_ms, type, q, m);
}

long sv_rpc_once(uint16_t type, const void *q, shunt_msg_t *m,
                 shunt_client_t **keep)
{
    int64_t ra = 0;
    return rpc_on(keep, &ra, type, q, m);
}

static long dispatch(sv_call_t *c)
{
    size_t n = sizeof(handlers) / sizeof(handlers[0]);
    if (c->nr < 0 || (size_t)c->nr >= n || !handlers[c->nr])
        return SV_CONTINUE;
    long r = handlers[c->nr](c);
    if (r == -ESRCH)
        r = -EINTR; /* the thread is gone; nobody reads the answer */
    LOG_TRACE("%s(%#llx, %#llx, %#llx) by %d: %s%ld", call_names[c->nr],
              (unsigned long long)c->a[0], (unsigned long long)c->a[1],
              (unsigned long long)c->a[2], (int)c->tid,
              r == SV_CONTINUE ? "kernel " : "", r == SV_CONTINUE ? 0L : r);
    return r;
}

static void *worker(void *arg);

static void spawn_worker(void)
{
    if (atomic_fetch_add(&workers, 1) >= SV_WORKERS_MAX) {
        atomic_fetch_sub(&workers, 1);
        return;
    }
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 * 1024);
    if (pthread_create(&t, &at, worker, NULL) != 0)
        atomic_fetch_sub(&workers, 1);
    pthread_attr_destroy(&at);
}

static void *worker(void *arg)
{
    (void)arg;
    struct seccomp_notif *req;
    struct seccomp_notif_resp *resp;
    if (seccomp_notify_alloc(&req, &resp) != 0) {
        LOG_ERROR("out of memory");
        atomic_fetch_sub(&workers, 1);
        return NULL;
    }
    sv_worker_t w = {0};
    atomic_fetch_add(&idle, 1);
    for (;;) {
        struct pollfd pf = {.fd = sv.notify_fd, .events = POLLIN};
        if (poll(&pf, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (!(pf.revents & POLLIN)) {
            if (pf.revents & (POLLHUP | POLLERR | POLLNVAL))
                break; /* no process uses the filter any more */
            continue;
        }
        memset(req, 0, sizeof(*req)); /* the kernel wants it zeroed */
        if (seccomp_notify_receive(sv.notify_fd, req) != 0)
            continue; /* another worker took it, or it was interrupted */
        if (atomic_fetch_sub(&idle, 1) == 1)
            spawn_worker(); /* nobody left to take the next one */
        sv_call_t c = {.w = &w, .id = req->id, .tid = (pid_t)req->pid,
                       .nr = req->data.nr};
        for (int i = 0; i < 6; i++)
            c.a[i] = req->data.args[i];
        long r = req->data.arch == AUDIT_ARCH_X86_64 ? dispatch(&c)
                                                     : SV_CONTINUE;
        if (r != SV_ANSWERED) {
            memset(resp, 0, sizeof(*resp));
            resp->id = req->id;
            if (r == SV_CONTINUE)
                resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            else if (r < 0)
                resp->error = (int)r;
            else
                resp->val = r;
            /* ENOENT: the call was interrupted meanwhile (a signal); the
             * kernel restarts it or the thread is gone */
            if (ioctl(sv.notify_fd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 &&
                errno != ENOENT)
                LOG_WARN("answer to %d: %s", (int)c.tid, strerror(errno));
        }
        atomic_fetch_add(&idle, 1);
    }
    if (w.cl)
        shunt_client_close(w.cl);
    seccomp_notify_free(req, resp);
    atomic_fetch_sub(&idle, 1);
    atomic_fetch_sub(&workers, 1);
    return NULL;
}

int sv_serve(int notify_fd)
{
    sv.notify_fd = notify_fd;
    /* A worker blocked in a proxy call must not die of SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    atomic_fetch_add(&workers, 1);
    spawn_worker();
    worker(NULL);
    LOG_DEBUG("no process left under the filter");
    sv_wr_stop();
    sv_dirs_stop();
    return 0;
}
