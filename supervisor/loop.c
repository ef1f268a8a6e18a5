/* The notification loop: worker threads take the filter's notifications
 * (each blocked in SECCOMP_IOCTL_NOTIF_RECV, which gives a notification to
 * one of them), each with its own connection to the proxy, and answer
 * them.  A pool that grows when every worker is busy (a blocking connect
 * or recvfrom must not hold up another thread's open), up to
 * SV_WORKERS_MAX.  The main thread waits for the filter's last user. */
#include "sv.h"

#include "shunt/frameio.h"
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
#define SV_IDLE_MAX 4

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
    ssize_t r = shunt_send_fd(sv.broker_fd, "c", 1, sp[1], MSG_NOSIGNAL);
    close(sp[1]);
    if (r < 0) {
        close(sp[0]);
        return (int)r;
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

/* One handshake at a time: the proxy drops the oldest of too many
 * connections that have not said HELLO yet (proxy/conn.c), and a burst of
 * new workers would open dozens at once. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

static long rpc_on(shunt_client_t **clp, int64_t *retry_after,
                   uint16_t type, const void *q, shunt_msg_t *m)
{
    if (!*clp) {
        if (sv_now_ms() < *retry_after)
            return -EIO;
        pthread_mutex_lock(&open_lock);
        /* a second try at once: a handshake reset by a busy proxy is not
         * a dead one */
        for (int i = 0; i < 2 && !*clp; i++)
            *clp = client_open();
        pthread_mutex_unlock(&open_lock);
        if (!*clp) {
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
    if (sv_thread(worker) < 0)
        atomic_fetch_sub(&workers, 1);
}

int sv_thread(void *(*fn)(void *))
{
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 * 1024);
    int r = pthread_create(&t, &at, fn, NULL);
    pthread_attr_destroy(&at);
    return r == 0 ? 0 : -1;
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
        /* A blocking receive: the kernel hands each notification to one
         * waiting worker (no herd woken per call).  The end of the
         * program is sv_serve's to see. */
        memset(req, 0, sizeof(*req)); /* the kernel wants it zeroed */
        if (ioctl(sv.notify_fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
            if (errno == EINTR || errno == ENOENT)
                continue; /* interrupted, or its caller went meanwhile */
            LOG_ERROR("receiving a notification: %s", strerror(errno));
            break;
        }
        if (atomic_fetch_sub(&idle, 1) == 1)
            spawn_worker(); /* nobody left to take the next one */
        sv_call_t c = {.w = &w, .id = req->id, .tid = (pid_t)req->pid,
                       .nr = req->data.nr};
        for (int i = 0; i < 6; i++)
            c.a[i] = req->data.args[i];
        long r = req->data.arch == AUDIT_ARCH_X86_64 ? dispatch(&c)
                                                     : SV_CONTINUE;
        /* idle again before the answer lets the program go on: its next
         * call must not find the pool empty and start a worker */
        atomic_fetch_add(&idle, 1);
        if (r != SV_ANSWERED) {
            memset(resp, 0, sizeof(*resp));
            resp->id = req->id;
            if (r == SV_CONTINUE)
                resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            else if (r < 0)
                resp->error = (int)r;
            else
                resp->val = r;
            /* ENOENT: the thread is gone (killed), or, on a kernel
             * without WAIT_KILLABLE_RECV (filter.c), a signal cancelled
             * the call */
            if (ioctl(sv.notify_fd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 &&
                errno != ENOENT)
                LOG_WARN("answer to %d: %s", (int)c.tid, strerror(errno));
        }
        /* After a burst, the extra workers go: the kernel hands calls to
         * its waiters in turn, and a few warm ones answer faster than
         * dozens of cold ones. */
        int n = atomic_load(&idle);
        if (n > SV_IDLE_MAX &&
            atomic_compare_exchange_strong(&idle, &n, n - 1)) {
            atomic_fetch_add(&idle, 1); /* the exit path takes it off */
            break;
        }
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
    spawn_worker();
    spawn_worker();
    /* This thread waits for the end: the listener says POLLHUP when no
     * process uses the filter any more (events 0: only that wakes it). */
    for (;;) {
        struct pollfd pf = {.fd = notify_fd, .events = 0};
        int r = poll(&pf, 1, -1);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && (pf.revents & (POLLHUP | POLLERR | POLLNVAL)))
            break;
    }
    LOG_DEBUG("no process left under the filter");
    sv_wr_stop();
    sv_dirs_stop();
    return 0;
}
