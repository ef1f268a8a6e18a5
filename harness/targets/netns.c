/* Networks: the bridge netns, one veth per container, and a TCP readiness probe. */
#include "target_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shunt/proc.h"
#include "shunt/util.h"

/* The bridge netns BR holds br0, which every container's veth joins. */
int tgt_add_bridge(const char *br, char *err, size_t errlen)
{
    if (RUN(err, errlen, "ip", "netns", "add", br) < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "set", "lo", "up") < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "add", "br0", "type", "bridge") < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "set", "br0", "up") < 0)
        return -1;
    return 0;
}

/* lo up in the container netns, eth0 = veth whose peer vNAME sits on the
 * bridge in the bridge netns. Nothing touches the host's netns. */
int tgt_add_ctr_network(const char *br, const char *ns, const char *veth,
                        const char *ip, char *err, size_t errlen)
{
    char cidr[32];
    snprintf(cidr, sizeof(cidr), "%s/24", ip);
    if (RUN(err, errlen, "ip", "netns", "add", ns) < 0 ||
        RUN(err, errlen, "ip", "-n", ns, "link", "set", "lo", "up") < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "add", veth, "type", "veth",
            "peer", "name", "eth0", "netns", ns) < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "set", veth, "master", "br0") < 0 ||
        RUN(err, errlen, "ip", "-n", br, "link", "set", veth, "up") < 0 ||
        RUN(err, errlen, "ip", "-n", ns, "addr", "add", cidr, "dev", "eth0") < 0 ||
        RUN(err, errlen, "ip", "-n", ns, "link", "set", "eth0", "up") < 0)
        return -1;
    return 0;
}

typedef struct {
    const char *nspath, *ip;
    int port, watch_pid, timeout_ms;
} probe_t;

/* The child of tgt_wait_tcp, in the namespace: 0 ready, 1 timeout, 2
 * watched process died, 3 cannot enter. */
static int probe(void *arg)
{
    const probe_t *pb = arg;
    int nfd = open(pb->nspath, O_RDONLY | O_CLOEXEC);
    if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0)
        return 3;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)pb->port)};
    inet_pton(AF_INET, pb->ip, &sa.sin_addr);
    uint64_t deadline = shunt_now_ms() + (uint64_t)pb->timeout_ms;
    while (shunt_now_ms() < deadline) {
        if (pb->watch_pid > 0 && kill(pb->watch_pid, 0) < 0 && errno == ESRCH)
            return 2;
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0)
            return 3;
        int rc = connect(s, (struct sockaddr *)&sa, sizeof(sa));
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd pfd = {.fd = s, .events = POLLOUT};
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (poll(&pfd, 1, 500) == 1 &&
                getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                rc = 0;
        }
        close(s);
        if (rc == 0)
            return 0;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

/* Connects to ip:port from inside netns ns until it answers, the watched
 * process dies, or timeout. 0 ready, 1 timeout, 2 watched process died. */
int tgt_wait_tcp(const char *ns, const char *ip, int port, int watch_pid,
                 int timeout_ms, char *err, size_t errlen)
{
    char nspath[PATH_MAX];
    snprintf(nspath, sizeof(nspath), "%s/%s", SHUNT_NETNS_DIR, ns);
    probe_t pb = {.nspath = nspath, .ip = ip, .port = port,
                  .watch_pid = watch_pid, .timeout_ms = timeout_ms};
    shunt_proc_t p = {.main = probe, .arg = &pb};
    int r = shunt_proc_spawn(&p, NULL);
    if (r < 0)
        return snprintf(err, errlen, "fork: %s", strerror(-r)), -1;
    int st;
    if (shunt_proc_wait(p.pid, &st) < 0)
        return snprintf(err, errlen, "waitpid: %s", strerror(errno)), -1;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 3;
    if (code == 3)
        snprintf(err, errlen, "cannot enter network namespace %s", ns);
    return code == 3 ? -1 : code;
}
