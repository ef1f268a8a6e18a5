/* DNS through a helper process that lives in the target's mount and
 * network namespaces (or is chroot()ed into --root), so that getaddrinfo()
 * reads the target's hosts, nsswitch.conf and resolv.conf.  The agent
 * talks to it over a socketpair with the protocol codec, asynchronously. */
#include "agent.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define RES_FRAME SHUNT_FRAME_DEFAULT
#define RES_MAX_PENDING 1024u
#define RES_MAX_THREADS 32
#define RES_RESTARTS 5          /* at most this many restarts ... */
#define RES_RESTART_WINDOW 60000 /* ... per minute */

typedef struct {
    uint64_t rid;
    client_t *cl; /* NULL once the client is gone */
    uint64_t cid;
} pending_t;

struct resolver {
    agent_ev_t ev;
    int fd;
    pid_t pid;
    uint32_t events;
    shunt_rx_t rx;
    shunt_wbuf_t tx;
    uint64_t next_rid;
    pending_t *p;
    size_t np, cap;
    uint64_t restarts[RES_RESTARTS];
    unsigned nrestart;
    int stopping;
};

/* ---- the helper process ------------------------------------------------- */
static int helper_fd = -1;
static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;
static sem_t helper_slots;

typedef struct {
    uint64_t id;
    int has_node, has_service;
    char *node, *service;
    struct addrinfo hints;
} gai_job_t;

static void *gai_worker(void *arg)
{
    gai_job_t *j = arg;
    struct addrinfo *res = NULL;
    errno = 0;
    int rc = getaddrinfo(j->has_node ? j->node : NULL,
                         j->has_service ? j->service : NULL, &j->hints, &res);
    shunt_gai_r_t r = {.gai_err = rc, .sys_errno = rc == EAI_SYSTEM ? errno : 0};
    shunt_wbuf_t list, out;
    shunt_wbuf_init(&list);
    shunt_wbuf_init(&out);
    uint32_t count = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        shunt_rec_addrinfo_t a = {.family = ai->ai_family,
                                  .socktype = ai->ai_socktype,
                                  .protocol = ai->ai_protocol,
                                  .canonname = shunt_str(ai->ai_canonname)};
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *s = (void *)ai->ai_addr;
            a.addr = shunt_bytes(&s->sin_addr, 4);
            a.port = ntohs(s->sin_port);
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *s = (void *)ai->ai_addr;
            a.addr = shunt_bytes(&s->sin6_addr, 16);
            a.port = ntohs(s->sin6_port);
        } else {
            continue;
        }
        size_t before = list.len;
        if (shunt_put_rec_addrinfo(&list, &a) < 0 ||
            list.len > SHUNT_FRAME_MIN - 256) {
            list.len = before;
            list.err = 0;
            break;
        }
        count++;
    }
    r.addrs.count = count;
    r.addrs.p = list.data;
    r.addrs.len = (uint32_t)list.len;
    if (shunt_encode(&out, SHUNT_T_GAI_R, 0, j->id, &r, RES_FRAME) < 0) {
        shunt_gai_r_t e = {.gai_err = EAI_MEMORY};
        shunt_wbuf_reset(&out);
        shunt_encode(&out, SHUNT_T_GAI_R, 0, j->id, &e, RES_FRAME);
    }
    if (res)
        freeaddrinfo(res);
    pthread_mutex_lock(&helper_lock);
    int w = shunt_write_full(helper_fd, out.data + out.head,
                             shunt_wbuf_pending(&out));
    pthread_mutex_unlock(&helper_lock);
    if (w < 0)
        _exit(0); /* the agent is gone */
    shunt_wbuf_free(&list);
    shunt_wbuf_free(&out);
    free(j->node);
    free(j->service);
    free(j);
    sem_post(&helper_slots);
    return NULL;
}

static char *dup_str(shunt_str_t s)
{
    char *c = malloc(s.len + 1u);
    if (c) {
        if (s.len)
            memcpy(c, s.p, s.len);
        c[s.len] = 0;
    }
    return c;
}

static void __attribute__((noreturn)) helper_main(agent_t *a, int sock,
                                                  pid_t parent)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_IGN); /* a terminal ^C is the agent's to handle */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    shunt_log_init("agent-resolver", shunt_log_get_level(), 2);

    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (a->mntns_fd >= 0) {
        /* A fresh fork is single-threaded, as setns(CLONE_NEWNS) needs. */
        if (setns(a->mntns_fd, CLONE_NEWNS) < 0 ||
            setns(a->netns_fd, CLONE_NEWNET) < 0) {
            LOG_ERROR("setns into pid %d: %s", (int)a->conf.target_pid,
                      strerror(errno));
            _exit(3);
        }
    }
    /* The target's own root, even if it chroot()ed inside its namespace. */
    if (fchdir(a->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
        LOG_ERROR("chroot into the target's root: %s", strerror(errno));
        _exit(3);
    }
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
    }
    if (sock != 3) {
        dup2(sock, 3);
        sock = 3;
    }
    syscall(SYS_close_range, 4u, ~0u, 0u);
    helper_fd = sock;
    sem_init(&helper_slots, 0, RES_MAX_THREADS);

    shunt_rx_t rx;
    if (shunt_rx_init(&rx, RES_FRAME) < 0)
        _exit(1);
    for (;;) {
        const uint8_t *f;
        size_t len;
        int r = shunt_recv_frame(sock, &rx, -1, &f, &len);
        if (r < 0)
            _exit(0); /* the agent closed the link */
        shunt_msg_t m;
        if (shunt_decode(f, len, &m) == 0 && m.type == SHUNT_T_GETADDRINFO) {
            const shunt_getaddrinfo_t *g = &m.u.getaddrinfo;
            gai_job_t *j = calloc(1, sizeof(*j));
            if (j) {
                j->id = m.id;
                j->has_node = g->has_node;
                j->has_service = g->has_service;
                j->node = dup_str(g->node);
                j->service = dup_str(g->service);
                j->hints.ai_flags = g->flags;
                j->hints.ai_family = g->family;
                j->hints.ai_socktype = g->socktype;
                j->hints.ai_protocol = g->protocol;
            }
            shunt_rx_consume(&rx, len);
            if (!j || !j->node || !j->service)
                _exit(1);
            while (sem_wait(&helper_slots) < 0 && errno == EINTR)
                ;
            pthread_t t;
            pthread_attr_t at;
            pthread_attr_init(&at);
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            if (pthread_create(&t, &at, gai_worker, j) != 0)
                gai_worker(j);
            pthread_attr_destroy(&at);
        } else {
            shunt_rx_consume(&rx, len);
        }
    }
}

/* ---- the agent's side --------------------------------------------------- */
static int spawn(agent_t *a, resolver_t *r)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        LOG_ERROR("resolver socketpair: %s", strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        LOG_ERROR("resolver fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        helper_main(a, sv[1], parent);
    }
    close(sv[1]);
    shunt_set_nonblock(sv[0], 1);
    r->fd = sv[0];
    r->pid = pid;
    r->events = EPOLLIN;
    shunt_rx_free(&r->rx);
    shunt_wbuf_reset(&r->tx);
    if (shunt_rx_init(&r->rx, RES_FRAME) < 0 ||
        agent_watch(a, r->fd, &r->ev, r->events) < 0) {
        LOG_ERROR("resolver: cannot watch the helper link");
        close(r->fd);
        r->fd = -1;
        return -1;
    }
    LOG_DEBUG("resolver helper started, pid %d", (int)pid);
    return 0;
}

int resolver_start(agent_t *a)
{
    resolver_t *r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    r->ev.kind = EV_RESOLVER;
    r->fd = -1;
    shunt_wbuf_init(&r->tx);
    a->res = r;
    return spawn(a, r);
}

static void fail_pending(agent_t *a, const char *why)
{
    resolver_t *r = a->res;
    for (size_t i = 0; i < r->np; i++) {
        client_t *cl = r->p[i].cl;
        if (cl && !cl->dead) {
            reply_error(cl, r->p[i].cid, EIO, "name resolution failed: %s",
                        why);
            client_kick(cl);
        }
    }
    r->np = 0;
    (void)a;
}

/* The helper's link broke: fail what it held and start a new one. */
static void lost(agent_t *a, const char *why)
{
    resolver_t *r = a->res;
    agent_unwatch(a, r->fd);
    close(r->fd);
    r->fd = -1;
    fail_pending(a, why);
    if (r->stopping)
        return;
    uint64_t now = shunt_now_ms();
    unsigned recent = 0;
    for (unsigned i = 0; i < RES_RESTARTS && i < r->nrestart; i++)
        if (now - r->restarts[i] < RES_RESTART_WINDOW)
            recent++;
    if (recent >= RES_RESTARTS) {
        LOG_ERROR("resolver helper %s; restarted %u times within a minute, "
                  "giving up: GETADDRINFO now fails with EIO", why, recent);
        return;
    }
    r->restarts[r->nrestart++ % RES_RESTARTS] = now;
    LOG_WARN("resolver helper %s; restarting it", why);
    spawn(a, r);
}

static void take(agent_t *a, const uint8_t *f, size_t len)
{
    resolver_t *r = a->res;
    shunt_msg_t m;
    if (shunt_decode(f, len, &m) < 0 || m.type != SHUNT_T_GAI_R) {
        LOG_WARN("resolver helper sent an unexpected frame");
        return;
    }
    for (size_t i = 0; i < r->np; i++) {
        if (r->p[i].rid != m.id)
            continue;
        pending_t p = r->p[i];
        r->p[i] = r->p[--r->np];
        if (!p.cl || p.cl->dead)
            return;
        if (client_send(p.cl, SHUNT_T_GAI_R, 0, p.cid, &m.u.gai_r) ==
            -EMSGSIZE)
            reply_error(p.cl, p.cid, EMSGSIZE,
                        "too many addresses for the frame limit");
        client_kick(p.cl);
        return;
    }
}

void resolver_event(agent_t *a, uint32_t events)
{
    resolver_t *r = a->res;
    if (r->fd < 0)
        return;
    if (events & EPOLLOUT) {
        if (shunt_tx_flush(&r->tx, r->fd, 0) < 0) {
            lost(a, "link failed");
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = shunt_rx_fill(&r->rx, r->fd);
        if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR)) {
            lost(a, "exited");
            return;
        }
        const uint8_t *f;
        size_t len;
        int k;
        while ((k = shunt_rx_frame(&r->rx, &f, &len)) == 1) {
            take(a, f, len);
            shunt_rx_consume(&r->rx, len);
        }
        if (k < 0) {
            lost(a, "sent an oversized frame");
            return;
        }
    }
    uint32_t want = EPOLLIN | (shunt_wbuf_pending(&r->tx) ? EPOLLOUT : 0);
    if (want != r->events) {
        r->events = want;
        agent_rewatch(a, r->fd, &r->ev, want);
    }
}

void resolver_request(client_t *cl, const shunt_msg_t *m)
{
    agent_t *a = cl->a;
    resolver_t *r = a->res;
    if (!r || r->fd < 0) {
        reply_error(cl, m->id, EIO, "resolver helper is not running");
        return;
    }
    if (r->np >= RES_MAX_PENDING) {
        reply_error(cl, m->id, EAGAIN, "too many lookups in flight");
        return;
    }
    if (r->np == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        pending_t *np = realloc(r->p, nc * sizeof(*np));
        if (!np) {
            reply_error(cl, m->id, ENOMEM, "out of memory");
            return;
        }
        r->p = np;
        r->cap = nc;
    }
    uint64_t rid = ++r->next_rid;
    int e = shunt_encode(&r->tx, SHUNT_T_GETADDRINFO, 0, rid,
                         &m->u.getaddrinfo, RES_FRAME);
    if (e < 0) {
        reply_error(cl, m->id, -e, "cannot pass the lookup on: %s",
                    strerror(-e));
        return;
    }
    r->p[r->np++] = (pending_t){.rid = rid, .cl = cl, .cid = m->id};
    LOG_DEBUG("client %s: getaddrinfo %.*s -> helper #%llu", cl->desc,
              (int)m->u.getaddrinfo.node.len,
              m->u.getaddrinfo.node.len ? m->u.getaddrinfo.node.p : "",
              (unsigned long long)rid);
    resolver_event(a, EPOLLOUT);
}

void resolver_forget_client(agent_t *a, client_t *cl)
{
    resolver_t *r = a->res;
    if (!r)
        return;
    for (size_t i = 0; i < r->np; i++)
        if (r->p[i].cl == cl)
            r->p[i].cl = NULL;
}

void resolver_child_exited(agent_t *a, pid_t pid, int status)
{
    resolver_t *r = a->res;
    if (!r || pid != r->pid)
        return;
    r->pid = 0;
    if (r->stopping)
        return;
    if (WIFSIGNALED(status))
        LOG_WARN("resolver helper %d killed by signal %d", (int)pid,
                 WTERMSIG(status));
    else
        LOG_WARN("resolver helper %d exited with status %d", (int)pid,
                 WEXITSTATUS(status));
}

void resolver_stop(agent_t *a)
{
    resolver_t *r = a->res;
    if (!r)
        return;
    r->stopping = 1;
    if (r->fd >= 0) {
        agent_unwatch(a, r->fd);
        close(r->fd);
        r->fd = -1;
    }
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
    shunt_rx_free(&r->rx);
    shunt_wbuf_free(&r->tx);
    free(r->p);
    free(r);
    a->res = NULL;
}
