/* Incoming traffic, agent side (agent/incoming/): a real shunt-agent in a
 * network namespace of the test's own (shunt-agentin-t<pid>, 10.200.250.1)
 * with the target's service (python, answers "remote " + what it got), a
 * client namespace (shunt-agentin-c<pid>, 10.200.250.2) joined by a veth,
 * and this test as the proxy: INCOMING_SUB, the INCOMING streams, UNSUB;
 * nftables looked at with nft inside the namespace. */
#include "fixture.h"

#include "shunt/proxy.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TARGET_IP "10.200.250.1"
#define CLIENT_IP "10.200.250.2"
#define PORT 8080

static char tns[64], cns[64];
static pid_t service = -1, http_service = -1;
static int have_ns;
static int service_out = -1, http_out = -1;

static const char service_py[] =
    "import socket,sys,threading\n"
    "def h(c):\n"
    "    d=b''\n"
    "    try:\n"
    "        while True:\n"
    "            x=c.recv(65536)\n"
    "            if not x: break\n"
    "            d+=x\n"
    "        c.sendall(b'remote '+d)\n"
    "    except OSError: pass\n"
    "    c.close()\n"
    "s=socket.socket()\n"
    "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "s.bind(('0.0.0.0',int(sys.argv[1])))\n"
    "s.listen(64)\n"
    "print('ready',flush=True)\n"
    "while True:\n"
    "    c,_=s.accept()\n"
    "    threading.Thread(target=h,args=(c,),daemon=True).start()\n";

static const char http_py[] =
    "import http.server,sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version='HTTP/1.1'\n"
    "    def do_POST(self):\n"
    "        n=int(self.headers['Content-Length'])\n"
    "        while n>0: n-=len(self.rfile.read(min(n,1<<20)))\n"
    "        b=b'got '+self.headers['Content-Length'].encode()\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length',str(len(b)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(b)\n"
    "    def do_GET(self):\n"
    "        if self.path.startswith('/big/'):\n"
    "            n=int(self.path[5:])\n"
    "            self.send_response(200)\n"
    "            self.send_header('Content-Length',str(n))\n"
    "            self.end_headers()\n"
    "            while n>0:\n"
    "                k=min(n,1<<20); self.wfile.write(b'r'*k); n-=k\n"
    "            return\n"
    "        b=b'remote'+self.path.encode()\n"
    "        if self.path=='/drop': self.close_connection=True\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length',str(len(b)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(b)\n"
    "    def log_message(self,*a): pass\n"
    "s=http.server.ThreadingHTTPServer(('0.0.0.0',8081),H)\n"
    "print('ready',flush=True)\n"
    "s.serve_forever()\n";

static const char client_py[] =
    "import socket,sys\n"
    "s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=20)\n"
    "m=sys.argv[3]\n"
    "if m[0]=='!':\n"
    "    import struct,time\n"
    "    s.sendall(m[1:].encode())\n"
    "    time.sleep(0.5)\n"
    "    s.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,0))\n"
    "    s.close()\n"
    "    sys.exit(0)\n"
    "s.sendall(b'x'*int(m[1:]) if m[0]=='@' else m.encode())\n"
    "s.shutdown(socket.SHUT_WR)\n"
    "d=b''\n"
    "try:\n"
    "    while True:\n"
    "        x=s.recv(65536)\n"
    "        if not x: break\n"
    "        d+=x\n"
    "except OSError as e:\n"
    "    d+=b'<'+str(e.errno).encode()+b'>'\n"
    "sys.stdout.buffer.write(d)\n";

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Output of a shell command (up to len-1 bytes). */
static void sh_out(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sh_out(char *out, size_t len, const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    size_t n = f ? fread(out, 1, len - 1, f) : 0;
    out[n] = 0;
    if (f)
        pclose(f);
}

/* A client in the client namespace, in the background: its stdout. */
typedef struct {
    pid_t pid;
    int fd;
} bg_t;

static bg_t bg_start(const char *const *argv)
{
    bg_t b = {-1, -1};
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return b;
    b.pid = fork();
    if (b.pid == 0) {
        dup2(p[1], 1);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    b.fd = p[0];
    return b;
}

/* The client from inside the target's own netns, to host (loopback). */
static bg_t client_start_in_target(const char *host, const char *msg)
{
    const char *const v[] = {"ip", "netns", "exec", tns, "python3", "-c",
                             client_py, host, "8080", msg, NULL};
    return bg_start(v);
}

static bg_t client_start(const char *msg)
{
    bg_t b = {-1, -1};
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return b;
    b.pid = fork();
    if (b.pid == 0) {
        dup2(p[1], 1);
        execlp("ip", "ip", "netns", "exec", cns, "python3", "-c", client_py,
               TARGET_IP, "8080", msg, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    b.fd = p[0];
    return b;
}

static void client_wait(bg_t *b, char *out, size_t len)
{
    size_t n = 0;
    struct pollfd pfd = {.fd = b->fd, .events = POLLIN};
    while (n < len - 1 && poll(&pfd, 1, 20000) == 1) {
        ssize_t r = read(b->fd, out + n, len - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    out[n] = 0;
    close(b->fd);
    waitpid(b->pid, NULL, 0);
}

static int ns_setup(void **state)
{
    (void)state;
    if (geteuid() != 0 || sh("command -v ip nft python3 >/dev/null") != 0) {
        fprintf(stderr, "note: needs root, ip, nft, python3; skipped\n");
        return 0;
    }
    snprintf(tns, sizeof(tns), "shunt-agentin-t%d", (int)getpid());
    snprintf(cns, sizeof(cns), "shunt-agentin-c%d", (int)getpid());
    if (sh("ip netns add %s && ip netns add %s && "
           "ip -n %s link set lo up && ip -n %s link set lo up && "
           "ip -n %s link add eth0 type veth peer name eth0 netns %s && "
           "ip -n %s addr add " TARGET_IP "/24 dev eth0 && "
           "ip -n %s addr add " CLIENT_IP "/24 dev eth0 && "
           "ip -n %s link set eth0 up && ip -n %s link set eth0 up",
           tns, cns, tns, cns, tns, cns, tns, cns, tns, cns) != 0) {
        fprintf(stderr, "note: cannot build the namespaces; skipped\n");
        sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", tns,
           cns);
        return 0;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    service = fork();
    if (service == 0) {
        dup2(p[1], 1);
        /* ip netns exec execs in place: this pid is the target's */
        execlp("ip", "ip", "netns", "exec", tns, "python3", "-c", service_py,
               "8080", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char line[16] = "";
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    if (poll(&pfd, 1, 20000) != 1 || read(p[0], line, sizeof(line) - 1) <= 0 ||
        strncmp(line, "ready", 5) != 0) {
        close(p[0]);
        fprintf(stderr, "the target's service did not start\n");
        return -1;
    }
    service_out = p[0]; /* open while it runs: its prints never fail */
    const char *const hv[] = {"ip", "netns", "exec", tns, "python3", "-c",
                              http_py, NULL};
    bg_t h = bg_start(hv);
    http_service = h.pid;
    http_out = h.fd;
    pfd.fd = h.fd;
    if (poll(&pfd, 1, 20000) != 1 || read(h.fd, line, sizeof(line) - 1) <= 0 ||
        strncmp(line, "ready", 5) != 0) {
        fprintf(stderr, "the target's HTTP service did not start\n");
        return -1;
    }
    have_ns = 1;
    return 0;
}

static int ns_teardown(void **state)
{
    (void)state;
    if (service > 0) {
        kill(service, SIGKILL);
        waitpid(service, NULL, 0);
    }
    if (service_out >= 0)
        close(service_out);
    if (http_service > 0) {
        kill(http_service, SIGKILL);
        waitpid(http_service, NULL, 0);
    }
    if (http_out >= 0)
        close(http_out);
    if (tns[0])
        sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", tns,
           cns);
    return 0;
}

/* Every agent a test starts, killed by the teardown if a test failed. */
static agent_proc_t *started[8];

static void kill_leftovers(void)
{
    for (int i = 0; i < 8; i++) {
        if (started[i] && started[i]->pid > 0) {
            kill(started[i]->pid, SIGKILL);
            waitpid(started[i]->pid, NULL, 0);
            started[i]->pid = 0;
        }
        started[i] = NULL;
    }
    sh("for t in $(ip netns exec %s nft list tables | grep -o 'shunt_in_[0-9]*');"
       " do ip netns exec %s nft delete table inet $t; done", tns, tns);
}

static int test_teardown(void **state)
{
    (void)state;
    if (have_ns)
        kill_leftovers();
    return 0;
}

static void start_agent(agent_proc_t *ap, shunt_client_t **c)
{
    for (int i = 0; i < 8; i++)
        if (!started[i]) {
            started[i] = ap;
            break;
        }
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)service);
    const char *const extra[] = {"--target-pid", pid, NULL};
    assert_int_equal(agent_start(ap, NULL, extra), 0);
    *c = agent_client(ap);
    assert_non_null(*c);
}

static void stop_agent(agent_proc_t *ap, shunt_client_t *c)
{
    shunt_client_close(c);
    assert_int_equal(agent_stop(ap), 0);
}

static const uint8_t nofilter[1];

static int sub_port(shunt_client_t *c, uint16_t port, int mode,
                    int conflict, const shunt_list_t *filter, shunt_msg_t *m)
{
    static const uint8_t lo[4] = {127, 0, 0, 1};
    shunt_incoming_sub_t q = {
        .remote_port = port, .mode = (uint8_t)mode,
        .on_conflict = (uint8_t)conflict,
        .filter = {.count = 0, .p = nofilter, .len = 0},
        .family = AF_INET, .local_addr = {lo, 4}, .local_port = 9999};
    if (filter)
        q.filter = *filter;
    return shunt_client_call(c, SHUNT_T_INCOMING_SUB, &q, m);
}

static int sub(shunt_client_t *c, int mode, int conflict, shunt_msg_t *m)
{
    return sub_port(c, PORT, mode, conflict, NULL, m);
}

static int unsub(shunt_client_t *c, uint32_t id)
{
    shunt_incoming_unsub_t u = {.sub = id};
    shunt_msg_t m;
    return shunt_client_call(c, SHUNT_T_INCOMING_UNSUB, &u, &m);
}

/* The shunt_in_ tables in the target's netns, one name a line. */
static void tables(char *out, size_t len)
{
    sh_out(out, len, "ip netns exec %s nft list tables | grep shunt_in_",
           tns);
}

/* Waits for the INCOMING frame; fills what the test checks. */
typedef struct {
    uint32_t sub, stream;
    uint8_t flags;
    int family;
    char peer[64], local[64];
} incoming_seen_t;

static void fmt_addr(int family, shunt_bytes_t a, uint16_t port, char *out,
                     size_t len)
{
    char ip[64] = "?";
    if ((family == AF_INET && a.len == 4) ||
        (family == AF_INET6 && a.len == 16))
        inet_ntop(family, a.p, ip, sizeof(ip));
    snprintf(out, len, "%s:%u", ip, port);
}

static void expect_incoming(shunt_client_t *c, incoming_seen_t *in)
{
    shunt_msg_t m;
    for (;;) {
        assert_int_equal(shunt_client_recv(c, &m, 20000), 0);
        if (m.type == SHUNT_T_INCOMING)
            break;
        if (m.type != SHUNT_T_WINDOW && m.type != SHUNT_T_SCLOSE &&
            m.type != SHUNT_T_SHUTDOWN)
            fail_msg("unexpected %s before INCOMING", shunt_msg_name(m.type));
    }
    const shunt_incoming_t *i = &m.u.incoming;
    in->sub = i->sub;
    in->stream = i->stream;
    in->flags = i->flags;
    in->family = i->family;
    fmt_addr(i->family, i->peer_addr, i->peer_port, in->peer,
             sizeof(in->peer));
    fmt_addr(i->family, i->local_addr, 0, in->local, sizeof(in->local));
    char *colon = strrchr(in->peer, ':');
    if (colon)
        *colon = 0; /* the client's port is any */
    snprintf(in->local + strlen(in->local) - 1, 8, "%u", i->local_port);
}

/* Reads the stream's bytes until its SHUTDOWN; grants what it reads. */
static size_t read_stream(shunt_client_t *c, uint32_t stream, char *out,
                          size_t len)
{
    size_t n = 0;
    shunt_msg_t m;
    for (;;) {
        assert_int_equal(shunt_client_recv(c, &m, 20000), 0);
        if (m.type == SHUNT_T_DATA && m.u.data.stream == stream) {
            size_t k = m.u.data.data.len;
            if (n + k < len) {
                memcpy(out + n, m.u.data.data.p, k);
                n += k;
            }
            shunt_window_t w = {.stream = stream, .bytes = (uint32_t)k};
            shunt_client_send(c, SHUNT_T_WINDOW, &w);
        } else if (m.type == SHUNT_T_SHUTDOWN &&
                   m.u.shutdown.stream == stream) {
            break;
        } else if (m.type == SHUNT_T_SCLOSE &&
                   m.u.sclose.stream == stream) {
            fail_msg("stream %u closed (err %d) before its end", stream,
                     m.u.sclose.err);
        }
    }
    out[n] = 0;
    return n;
}

static void write_stream(shunt_client_t *c, uint32_t stream, const char *s)
{
    shunt_data_t d = {.stream = stream,
                      .data = {(const uint8_t *)s, (uint32_t)strlen(s)}};
    assert_int_equal(shunt_client_send(c, SHUNT_T_DATA, &d), 0);
    shunt_shutdown_t sd = {.stream = stream, .how = SHUT_WR};
    assert_int_equal(shunt_client_send(c, SHUNT_T_SHUTDOWN, &sd), 0);
}

/* Reads the stream's bytes until they end with end (a request's head). */
static void read_until(shunt_client_t *c, uint32_t stream, const char *end,
                       char *out, size_t len)
{
    size_t n = 0;
    shunt_msg_t m;
    out[0] = 0;
    while (n < strlen(end) || strcmp(out + n - strlen(end), end) != 0) {
        assert_int_equal(shunt_client_recv(c, &m, 20000), 0);
        if (m.type == SHUNT_T_DATA && m.u.data.stream == stream) {
            size_t k = m.u.data.data.len;
            assert_true(n + k < len);
            memcpy(out + n, m.u.data.data.p, k);
            n += k;
            out[n] = 0;
            shunt_window_t w = {.stream = stream, .bytes = (uint32_t)k};
            shunt_client_send(c, SHUNT_T_WINDOW, &w);
        } else if (m.type == SHUNT_T_SHUTDOWN || m.type == SHUNT_T_SCLOSE) {
            fail_msg("stream ended before '%s': '%s'", end, out);
        }
    }
}

static void test_steal(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap; /* static: the teardown kills it after a failure */
    shunt_client_t *c;
    shunt_msg_t m;
    char out[4096], tb[512];
    start_agent(&ap, &c);
    assert_int_equal(sub(c, SHUNT_IN_STEAL, SHUNT_IN_REFUSE, &m), 0);
    assert_int_equal(m.type, SHUNT_T_INCOMING_SUB_R);
    uint32_t id = m.u.incoming_sub_r.sub;
    char addr[64];
    fmt_addr(m.u.incoming_sub_r.family, m.u.incoming_sub_r.addr, PORT, addr,
             sizeof(addr));
    assert_string_equal(addr, TARGET_IP ":8080");
    tables(tb, sizeof(tb));
    char want[64];
    snprintf(want, sizeof(want), "table inet shunt_in_%d\n", (int)ap.pid);
    assert_string_equal(tb, want);

    bg_t b = client_start("hello\n");
    incoming_seen_t in;
    expect_incoming(c, &in);
    assert_int_equal(in.sub, id);
    assert_int_equal(in.flags, 0);
    assert_int_equal(in.family, AF_INET);
    assert_string_equal(in.peer, CLIENT_IP);
    assert_string_equal(in.local, TARGET_IP ":8080");
    read_stream(c, in.stream, out, sizeof(out));
    assert_string_equal(out, "hello\n");
    write_stream(c, in.stream, "local hello\n");
    client_wait(&b, out, sizeof(out));
    assert_string_equal(out, "local hello\n");

    /* unsubscribed: the target's own service again, no table left */
    assert_int_equal(unsub(c, id), 0);
    tables(tb, sizeof(tb));
    assert_string_equal(tb, "");
    b = client_start("again\n");
    client_wait(&b, out, sizeof(out));
    assert_string_equal(out, "remote again\n");
    stop_agent(&ap, c);
}

static void test_mirror(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap; /* static: the teardown kills it after a failure */
    shunt_client_t *c;
    shunt_msg_t m;
    char out[4096], tb[512];
    start_agent(&ap, &c);
    assert_int_equal(sub(c, SHUNT_IN_MIRROR, SHUNT_IN_REFUSE, &m), 0);
    bg_t b = client_start("mirrored bytes\n");
    incoming_seen_t in;
    expect_incoming(c, &in);
    assert_int_equal(in.flags, SHUNT_INF_MIRROR);
    assert_string_equal(in.peer, CLIENT_IP);
    assert_string_equal(in.local, TARGET_IP ":8080");
    read_stream(c, in.stream, out, sizeof(out));
    assert_string_equal(out, "mirrored bytes\n");
    write_stream(c, in.stream, "local answer, dropped\n");
    client_wait(&b, out, sizeof(out));
    assert_string_equal(out, "remote mirrored bytes\n");
    /* keep-alive HTTP: the copy is held until the service answers, then
     * delivered, before the client has closed */
    assert_int_equal(sub_port(c, 8081, SHUNT_IN_MIRROR, SHUNT_IN_REFUSE, NULL,
                              &m), 0);
    const char *const cv[] = {"ip", "netns", "exec", cns, "curl", "-s",
                              "--max-time", "20", "-H", "x-copy: yes",
                              "http://" TARGET_IP ":8081/copied", NULL};
    b = bg_start(cv);
    expect_incoming(c, &in);
    assert_int_equal(in.flags, SHUNT_INF_MIRROR);
    read_until(c, in.stream, "\r\n\r\n", out, sizeof(out));
    assert_non_null(strstr(out, "GET /copied HTTP/1.1\r\n"));
    assert_non_null(strstr(out, "\r\nx-copy: yes\r\n"));
    client_wait(&b, out, sizeof(out));
    assert_string_equal(out, "remote/copied");
    /* the link going away is an unsubscribe */
    shunt_client_close(c);
    for (int i = 0; i < 100; i++) {
        tables(tb, sizeof(tb));
        if (!tb[0])
            break;
        usleep(20000);
    }
    assert_string_equal(tb, "");
    assert_int_equal(agent_stop(&ap), 0);
}

/* From inside the target over loopback (the output chain), IPv4 and
 * IPv6: the original destination of each family. */
static void test_steal_loopback(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap; /* static: the teardown kills it after a failure */
    shunt_client_t *c;
    shunt_msg_t m;
    char out[4096];
    start_agent(&ap, &c);
    assert_int_equal(sub(c, SHUNT_IN_STEAL, SHUNT_IN_REFUSE, &m), 0);
    static const struct {
        const char *host, *peer, *local;
        int family;
    } cases[] = {{"127.0.0.1", "127.0.0.1", "127.0.0.1:8080", AF_INET},
                 {"::1", "::1", "::1:8080", AF_INET6}};
    for (size_t i = 0; i < 2; i++) {
        if (cases[i].family == AF_INET6 &&
            sh("ip netns exec %s ip -6 addr show dev lo | grep -q ::1",
               tns) != 0) {
            fprintf(stderr, "note: no IPv6 in the namespace\n");
            continue;
        }
        bg_t b = client_start_in_target(cases[i].host, "over lo\n");
        incoming_seen_t in;
        expect_incoming(c, &in);
        assert_int_equal(in.family, cases[i].family);
        assert_string_equal(in.peer, cases[i].peer);
        assert_string_equal(in.local, cases[i].local);
        read_stream(c, in.stream, out, sizeof(out));
        assert_string_equal(out, "over lo\n");
        write_stream(c, in.stream, "local\n");
        client_wait(&b, out, sizeof(out));
        assert_string_equal(out, "local\n");
    }
    stop_agent(&ap, c);
}

/* A mirrored client that resets: the program's copy still gets what it
 * sent, then its end; the target's service sees the reset. */
static void test_mirror_reset(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap;
    shunt_client_t *c;
    shunt_msg_t m;
    char out[256];
    start_agent(&ap, &c);
    assert_int_equal(sub(c, SHUNT_IN_MIRROR, SHUNT_IN_REFUSE, &m), 0);
    bg_t b = client_start("!partial request");
    incoming_seen_t in;
    expect_incoming(c, &in);
    assert_int_equal(in.flags, SHUNT_INF_MIRROR);
    read_stream(c, in.stream, out, sizeof(out));
    assert_string_equal(out, "partial request");
    client_wait(&b, out, sizeof(out));
    stop_agent(&ap, c);
}

/* A mirror that falls behind (no credit from the program) is dropped with
 * SCLOSE{ENOBUFS}; the client is served whole by the target meanwhile. */
static void test_mirror_behind(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap; /* static: the teardown kills it after a failure */
    shunt_client_t *c;
    shunt_msg_t m;
    enum { BIG = 4 << 20 };
    start_agent(&ap, &c);
    assert_int_equal(sub(c, SHUNT_IN_MIRROR, SHUNT_IN_REFUSE, &m), 0);
    bg_t b = client_start("@4194304");
    incoming_seen_t in;
    expect_incoming(c, &in);
    size_t got = 0;
    for (;;) { /* never granted */
        assert_int_equal(shunt_client_recv(c, &m, 20000), 0);
        if (m.type == SHUNT_T_DATA && m.u.data.stream == in.stream)
            got += m.u.data.data.len;
        if (m.type == SHUNT_T_SCLOSE && m.u.sclose.stream == in.stream)
            break;
        assert_false(m.type == SHUNT_T_SHUTDOWN);
    }
    assert_int_equal(m.u.sclose.err, ENOBUFS);
    assert_true(got <= SHUNT_STREAM_WINDOW);
    char *out = malloc(BIG + 64);
    assert_non_null(out);
    client_wait(&b, out, BIG + 64);
    assert_int_equal(strlen(out), 7 + BIG);
    assert_memory_equal(out, "remote xxxx", 11);
    free(out);
    stop_agent(&ap, c);
}

/* The program refuses a stolen connection before answering: the target's
 * own service answers it, the client's bytes replayed. */
static void test_steal_refused_fallback(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap; /* static: the teardown kills it after a failure */
    shunt_client_t *c;
    shunt_msg_t m;
    char out[4096];
    start_agent(&ap, &c);
    assert_int_equal(sub(c, SHUNT_IN_STEAL, SHUNT_IN_REFUSE, &m), 0);
    bg_t b = client_start("nobody local\n");
    incoming_seen_t in;
    expect_incoming(c, &in);
    read_stream(c, in.stream, out, sizeof(out));
    shunt_sclose_t sc = {.stream = in.stream, .err = ECONNREFUSED};
    assert_int_equal(shunt_client_send(c, SHUNT_T_SCLOSE, &sc), 0);
    client_wait(&b, out, sizeof(out));
    assert_string_equal(out, "remote nobody local\n");
    stop_agent(&ap, c);
}

static void test_conflict_and_sweep(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t a1, a2, a3;
    shunt_client_t *c1, *c2, *c3;
    shunt_msg_t m;
    char out[4096], tb[512], want[128];
    start_agent(&a1, &c1);
    start_agent(&a2, &c2);
    assert_int_equal(sub(c1, SHUNT_IN_STEAL, SHUNT_IN_REFUSE, &m), 0);
    /* refuse: a clear error naming the other agent */
    assert_int_equal(sub(c2, SHUNT_IN_STEAL, SHUNT_IN_REFUSE, &m),
                     -EADDRINUSE);
    snprintf(want, sizeof(want), "port 8080 of the target is taken by "
             "another shunt session (agent pid %d)", (int)a1.pid);
    assert_non_null(strstr(m.u.error.msg.p, want));
    /* replace: the second one gets the connections */
    assert_int_equal(sub(c2, SHUNT_IN_STEAL, SHUNT_IN_REPLACE, &m), 0);
    bg_t b = client_start("to the second\n");
    incoming_seen_t in;
    expect_incoming(c2, &in);
    read_stream(c2, in.stream, out, sizeof(out));
    assert_string_equal(out, "to the second\n");
    write_stream(c2, in.stream, "second\n");
    client_wait(&b, out, sizeof(out));
    assert_string_equal(out, "second\n");

    /* killed: its table stays behind until the next agent starts */
    char want2[64];
    snprintf(want2, sizeof(want2), "shunt_in_%d\n", (int)a2.pid);
    kill(a2.pid, SIGKILL);
    waitpid(a2.pid, NULL, 0);
    a2.pid = 0;
    unlink(a2.token_file);
    shunt_client_close(c2);
    tables(tb, sizeof(tb));
    snprintf(want, sizeof(want), "table inet shunt_in_%d\n", (int)a1.pid);
    if (!strstr(tb, want2))
        fail_msg("no table of the killed agent: '%s'", tb);
    start_agent(&a3, &c3);
    tables(tb, sizeof(tb));
    assert_null(strstr(tb, want2));
    /* the first agent's table (now without a rule) is left alone */
    assert_string_equal(tb, want);
    stop_agent(&a3, c3);
    stop_agent(&a1, c1);
    tables(tb, sizeof(tb));
    assert_string_equal(tb, "");
}

/* Steal with a header filter: on one keep-alive connection (curl, two
 * URLs), the request with the header goes to the program, the other to
 * the target's own HTTP service, the answers in order. */
static void test_filtered(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap; /* static: the teardown kills it after a failure */
    shunt_client_t *c;
    shunt_msg_t m;
    char out[8192];
    start_agent(&ap, &c);
    shunt_wbuf_t lw;
    shunt_wbuf_init(&lw);
    shunt_rec_hfilter_t f = {.kind = SHUNT_HF_HEADER,
                             .value = shunt_str("^x-route: local$")};
    assert_int_equal(shunt_put_rec_hfilter(&lw, &f), 0);
    shunt_list_t fl = {.count = 1, .p = lw.data, .len = (uint32_t)lw.len};
    int r = sub_port(c, 8081, SHUNT_IN_STEAL, SHUNT_IN_REFUSE, &fl, &m);
    if (r == -ENOSYS) { /* an agent built without the HTTP router */
        shunt_wbuf_free(&lw);
        stop_agent(&ap, c);
        skip();
    }
    assert_int_equal(r, 0);
    /* a regex that does not compile: EINVAL */
    shunt_wbuf_reset(&lw);
    f.value = shunt_str("([");
    assert_int_equal(shunt_put_rec_hfilter(&lw, &f), 0);
    fl = (shunt_list_t){.count = 1, .p = lw.data, .len = (uint32_t)lw.len};
    assert_int_equal(sub_port(c, 8082, SHUNT_IN_STEAL, SHUNT_IN_REFUSE, &fl,
                              &m), -EINVAL);
    shunt_wbuf_free(&lw);

    const char *const cv[] = {
        "ip", "netns", "exec", cns, "curl", "-s", "--max-time", "20",
        "-H", "x-route: local", "http://" TARGET_IP ":8081/one",
        "--next", "http://" TARGET_IP ":8081/two",
        "--next", "-H", "x-route: local", "http://" TARGET_IP ":8081/three",
        NULL};
    bg_t b = bg_start(cv);
    incoming_seen_t in;
    expect_incoming(c, &in);
    assert_int_equal(in.flags, 0);
    assert_string_equal(in.peer, CLIENT_IP);
    assert_string_equal(in.local, TARGET_IP ":8081");
    read_until(c, in.stream, "\r\n\r\n", out, sizeof(out));
    assert_non_null(strstr(out, "GET /one HTTP/1.1\r\n"));
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                               "local";
    shunt_data_t d = {.stream = in.stream,
                      .data = {(const uint8_t *)resp, sizeof(resp) - 1}};
    assert_int_equal(shunt_client_send(c, SHUNT_T_DATA, &d), 0);
    read_until(c, in.stream, "\r\n\r\n", out, sizeof(out));
    assert_non_null(strstr(out, "GET /three HTTP/1.1\r\n"));
    assert_null(strstr(out, "/two"));
    assert_int_equal(shunt_client_send(c, SHUNT_T_DATA, &d), 0);
    client_wait(&b, out, sizeof(out));
    assert_string_equal(out, "localremote/twolocal");
    stop_agent(&ap, c);
}

/* Steals port 8081 through a filter of one PATH node: sub_port's result
 * (-ENOSYS from an agent built without the HTTP router). */
static int sub_path_filter(shunt_client_t *c, const char *re, shunt_msg_t *m)
{
    shunt_wbuf_t lw;
    shunt_wbuf_init(&lw);
    shunt_rec_hfilter_t f = {.kind = SHUNT_HF_PATH, .value = shunt_str(re)};
    assert_int_equal(shunt_put_rec_hfilter(&lw, &f), 0);
    shunt_list_t fl = {.count = 1, .p = lw.data, .len = (uint32_t)lw.len};
    int r = sub_port(c, 8081, SHUNT_IN_STEAL, SHUNT_IN_REFUSE, &fl, m);
    shunt_wbuf_free(&lw);
    return r;
}

/* Filtered: the program refuses the local request's stream -> that request
 * alone gets 502, the next one is served by the target. */
static void test_filtered_local_refused(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap; /* static: the teardown kills it after a failure */
    shunt_client_t *c;
    shunt_msg_t m;
    char out[8192];
    start_agent(&ap, &c);
    int r = sub_path_filter(c, "^/l", &m);
    if (r == -ENOSYS) { /* an agent built without the HTTP router */
        stop_agent(&ap, c);
        skip();
    }
    assert_int_equal(r, 0);
    const char *const cv[] = {
        "ip", "netns", "exec", cns, "curl", "-s", "--max-time", "20",
        "-o", "/dev/null", "-w", "%{http_code} ",
        "http://" TARGET_IP ":8081/local", "--next",
        "-w", "%{http_code}", "http://" TARGET_IP ":8081/remote", NULL};
    bg_t b = bg_start(cv);
    incoming_seen_t in;
    expect_incoming(c, &in);
    read_until(c, in.stream, "\r\n\r\n", out, sizeof(out));
    shunt_sclose_t sc = {.stream = in.stream, .err = ECONNREFUSED};
    assert_int_equal(shunt_client_send(c, SHUNT_T_SCLOSE, &sc), 0);
    client_wait(&b, out, sizeof(out));
    assert_string_equal(out, "502 remote/remote200"); /* -w after the body */
    stop_agent(&ap, c);
}

/* Filtered, nothing local: a 32 MiB answer and a 32 MiB request body pass
 * through the agent's pipe with its bounds (and come out whole). */
static void test_filtered_large(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap;
    shunt_client_t *c;
    shunt_msg_t m;
    char out[256], file[64];
    start_agent(&ap, &c);
    int r = sub_path_filter(c, "^/l", &m);
    if (r == -ENOSYS) { /* an agent built without the HTTP router */
        stop_agent(&ap, c);
        skip();
    }
    assert_int_equal(r, 0);
    snprintf(file, sizeof(file), "/tmp/shunt-agentin-body-%d", (int)getpid());
    assert_int_equal(sh("head -c 33554432 /dev/zero > %s", file), 0);
    char data[96];
    snprintf(data, sizeof(data), "@%s", file);
    const char *const cv[] = {
        "ip", "netns", "exec", cns, "curl", "-s", "--max-time", "60",
        "-o", "/dev/null", "-w", "%{size_download} ",
        "http://" TARGET_IP ":8081/big/33554432", "--next",
        "--data-binary", data, "http://" TARGET_IP ":8081/post", NULL};
    bg_t b = bg_start(cv);
    client_wait(&b, out, sizeof(out));
    unlink(file);
    assert_string_equal(out, "33554432 got 33554432");
    stop_agent(&ap, c);
}

/* Filtered: upstreams that end between requests are opened again for the
 * next request routed to them (router.h): the program closing after its
 * answer (a new INCOMING stream), the service closing a keep-alive
 * connection without saying so. */
static void test_filtered_reopen(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap;
    shunt_client_t *c;
    shunt_msg_t m;
    char out[8192];
    start_agent(&ap, &c);
    int r = sub_path_filter(c, "^/l", &m);
    if (r == -ENOSYS) { /* an agent built without the HTTP router */
        stop_agent(&ap, c);
        skip();
    }
    assert_int_equal(r, 0);
    /* One keep-alive client connection; a pause after /drop so that the
     * service's close reaches the agent before /r2 does (a request sent
     * into an upstream that is closing at that moment gets 502: there is
     * no retry, docs/incoming.md "Limits"). */
    const char *const cv[] = {
        "ip", "netns", "exec", cns, "python3", "-c",
        "import http.client, sys, time\n"
        "c = http.client.HTTPConnection('" TARGET_IP "', 8081, timeout=20)\n"
        "for p in ['/l1', '/drop', '/r2', '/l3']:\n"
        "    c.request('GET', p)\n"
        "    sys.stdout.write(c.getresponse().read().decode())\n"
        "    if p == '/drop':\n"
        "        time.sleep(0.5)\n",
        NULL};
    bg_t b = bg_start(cv);
    static const char *const answers[2] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nlocal1",
        "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nlocal3"};
    static const char *const paths[2] = {"GET /l1 ", "GET /l3 "};
    uint32_t first = 0;
    for (int i = 0; i < 2; i++) {
        incoming_seen_t in;
        expect_incoming(c, &in);
        if (i == 1)
            assert_int_not_equal(in.stream, first);
        first = in.stream;
        read_until(c, in.stream, "\r\n\r\n", out, sizeof(out));
        assert_non_null(strstr(out, paths[i]));
        write_stream(c, in.stream, answers[i]); /* and closes */
    }
    client_wait(&b, out, sizeof(out));
    assert_string_equal(out, "local1remote/dropremote/r2local3");
    stop_agent(&ap, c);
}

/* 50 connections at once, stolen whole: each answered on its own stream. */
static void test_steal_concurrent(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    enum { N = 50 };
    static agent_proc_t ap; /* static: the teardown kills it after a failure */
    shunt_client_t *c;
    shunt_msg_t m;
    start_agent(&ap, &c);
    assert_int_equal(sub(c, SHUNT_IN_STEAL, SHUNT_IN_REFUSE, &m), 0);
    bg_t b[N];
    char msg[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(msg[i], sizeof(msg[i]), "client %d\n", i);
        b[i] = client_start(msg[i]);
    }
    struct {
        uint32_t id;
        char buf[64];
        size_t n;
    } st[N];
    int nst = 0, done = 0;
    memset(st, 0, sizeof(st));
    while (done < N) {
        assert_int_equal(shunt_client_recv(c, &m, 20000), 0);
        if (m.type == SHUNT_T_INCOMING) {
            assert_true(nst < N);
            st[nst++].id = m.u.incoming.stream;
            continue;
        }
        if (m.type != SHUNT_T_DATA && m.type != SHUNT_T_SHUTDOWN)
            continue;
        uint32_t id = m.type == SHUNT_T_DATA ? m.u.data.stream
                                             : m.u.shutdown.stream;
        int k = 0;
        while (k < nst && st[k].id != id)
            k++;
        assert_true(k < nst);
        if (m.type == SHUNT_T_DATA) {
            size_t len = m.u.data.data.len;
            assert_true(st[k].n + len < sizeof(st[k].buf));
            memcpy(st[k].buf + st[k].n, m.u.data.data.p, len);
            st[k].n += len;
            shunt_window_t w = {.stream = id, .bytes = (uint32_t)len};
            shunt_client_send(c, SHUNT_T_WINDOW, &w);
        } else {
            char ans[96];
            snprintf(ans, sizeof(ans), "local %.*s", (int)st[k].n, st[k].buf);
            write_stream(c, id, ans);
            done++;
        }
    }
    for (int i = 0; i < N; i++) {
        char out[128], want[64];
        client_wait(&b[i], out, sizeof(out));
        snprintf(want, sizeof(want), "local %.31s", msg[i]);
        assert_string_equal(out, want);
    }
    stop_agent(&ap, c);
}

/* ---- with the real proxy (in process) and a local HTTP server ----------
 * The layer's part played by a tool client: INCOMING_SUB to the proxy,
 * which forwards it to the agent and delivers incoming streams by
 * connecting to the local server (bench/incoming_server) on loopback. */
#define LTOKEN "agentin-layer-token"
#define E2E_PORT 8082

typedef struct {
    shunt_proxy_t *p;
    pthread_t t;
    char dir[64], sock[128];
    pid_t remote, local;   /* incoming_server: target's (8082), local */
    int remote_out, local_out;
    uint16_t lport;
} e2e_t;

static void *run_proxy(void *p)
{
    shunt_proxy_run(p);
    return NULL;
}

static pid_t start_server(const char *ns, uint16_t port, const char *word,
                          int *out)
{
    char ps[16];
    snprintf(ps, sizeof(ps), "%u", port);
    const char *const nsv[] = {"ip", "netns", "exec", ns, SHUNT_INSERVER,
                               ps, word, NULL};
    const char *const hv[] = {SHUNT_INSERVER, ps, word, NULL};
    bg_t b = bg_start(ns ? nsv : hv);
    char line[64] = "";
    struct pollfd pfd = {.fd = b.fd, .events = POLLIN};
    if (poll(&pfd, 1, 10000) != 1 || read(b.fd, line, sizeof(line) - 1) <= 0 ||
        strncmp(line, "listening", 9) != 0)
        fail_msg("incoming_server %s did not start", word);
    *out = b.fd;
    return b.pid;
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    bind(fd, (struct sockaddr *)&sin, sl);
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    close(fd);
    return ntohs(sin.sin_port);
}

static void e2e_start(e2e_t *x, const agent_proc_t *ap)
{
    memset(x, 0, sizeof(*x));
    strcpy(x->dir, "/tmp/shunt-agentin-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    snprintf(x->sock, sizeof(x->sock), "%s/proxy.sock", x->dir);
    shunt_proxy_opts_t o = {.socket_path = x->sock, .agent_addr = ap->addr,
                            .agent_token = TEST_TOKEN,
                            .agent_token_len = strlen(TEST_TOKEN),
                            .layer_token = LTOKEN,
                            .layer_token_len = strlen(LTOKEN),
                            .timeout_ms = 5000};
    char err[256] = "";
    x->p = shunt_proxy_new(&o, err, sizeof(err));
    if (!x->p)
        fail_msg("proxy: %s", err);
    assert_int_equal(pthread_create(&x->t, NULL, run_proxy, x->p), 0);
    x->remote = start_server(tns, E2E_PORT, "remote", &x->remote_out);
    x->lport = free_port();
    x->local = start_server(NULL, x->lport, "local", &x->local_out);
}

static void e2e_stop(e2e_t *x)
{
    shunt_proxy_stop(x->p);
    pthread_join(x->t, NULL);
    shunt_proxy_free(x->p);
    pid_t v[2] = {x->remote, x->local};
    for (int i = 0; i < 2; i++) {
        kill(v[i], SIGKILL);
        waitpid(v[i], NULL, 0);
    }
    close(x->remote_out);
    close(x->local_out);
    unlink(x->sock);
    rmdir(x->dir);
}

static shunt_client_t *e2e_layer(const e2e_t *x)
{
    shunt_client_opts_t o = {.role = SHUNT_ROLE_LAYER, .token = LTOKEN,
                             .token_len = strlen(LTOKEN),
                             .name = "agentin-layer"};
    char err[256];
    shunt_client_t *c = shunt_client_connect(x->sock, &o, err, sizeof(err));
    if (!c)
        fail_msg("layer: %s", err);
    return c;
}

static int e2e_sub(shunt_client_t *l, const e2e_t *x, int mode, uint32_t *id)
{
    static const uint8_t lo[4] = {127, 0, 0, 1};
    shunt_incoming_sub_t q = {
        .remote_port = E2E_PORT, .mode = (uint8_t)mode,
        .filter = {.count = 0, .p = nofilter, .len = 0},
        .family = AF_INET, .local_addr = {lo, 4}, .local_port = x->lport};
    shunt_msg_t m;
    int r = shunt_client_call(l, SHUNT_T_INCOMING_SUB, &q, &m);
    if (r == 0)
        *id = m.u.incoming_sub_r.sub;
    return r;
}

static void curl_target(char *out, size_t len)
{
    const char *const cv[] = {"ip", "netns", "exec", cns, "curl", "-s",
                              "--max-time", "20",
                              "http://" TARGET_IP ":8082/", NULL};
    bg_t b = bg_start(cv);
    client_wait(&b, out, len);
}

static void test_e2e_proxy(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap;
    shunt_client_t *c;
    char out[256];
    start_agent(&ap, &c);
    static e2e_t x;
    e2e_start(&x, &ap);
    shunt_client_t *l = e2e_layer(&x);
    uint32_t id = 0;
    curl_target(out, sizeof(out));
    assert_string_equal(out, "remote");
    assert_int_equal(e2e_sub(l, &x, SHUNT_IN_STEAL, &id), 0);
    curl_target(out, sizeof(out));
    assert_string_equal(out, "local");
    shunt_incoming_unsub_t u = {.sub = id};
    shunt_msg_t m;
    assert_int_equal(shunt_client_call(l, SHUNT_T_INCOMING_UNSUB, &u, &m), 0);
    curl_target(out, sizeof(out));
    assert_string_equal(out, "remote");
    assert_int_equal(e2e_sub(l, &x, SHUNT_IN_MIRROR, &id), 0);
    curl_target(out, sizeof(out));
    assert_string_equal(out, "remote");
    /* the layer's link going: the proxy releases the port */
    shunt_client_close(l);
    char tb[256];
    for (int i = 0; i < 100; i++) {
        tables(tb, sizeof(tb));
        if (!strstr(tb, "shunt_in_"))
            break;
        usleep(20000);
    }
    e2e_stop(&x);
    stop_agent(&ap, c);
    assert_string_equal(tb, "");
}

/* test_agent_incoming --bench [REQUESTS MIB]: figures through the agent
 * and the proxy (no layer) with bench/incoming_bench in the client
 * namespace: direct, stolen, mirrored; and a raw round trip. */
static int bench(int requests, int mib)
{
    void *st = NULL;
    if (ns_setup(&st) < 0 || !have_ns)
        return 1;
    static agent_proc_t ap;
    shunt_client_t *c;
    start_agent(&ap, &c);
    static e2e_t x;
    e2e_start(&x, &ap);
    shunt_client_t *l = e2e_layer(&x);
    char rq[16], mb[16];
    snprintf(rq, sizeof(rq), "%d", requests);
    snprintf(mb, sizeof(mb), "%d", mib);
    static const struct {
        const char *label;
        int mode;
    } runs[] = {{"direct", 0}, {"stolen", SHUNT_IN_STEAL},
                {"mirrored", SHUNT_IN_MIRROR}};
    for (size_t i = 0; i < 3; i++) {
        uint32_t id = 0;
        if (runs[i].mode && e2e_sub(l, &x, runs[i].mode, &id) != 0)
            return 1;
        sh("ip netns exec %s %s --addr " TARGET_IP ":8082 --label %s "
           "--requests %s --mib %s", cns, SHUNT_INBENCH, runs[i].label, rq,
           runs[i].mode == SHUNT_IN_MIRROR ? "0" : mb);
        if (runs[i].mode) {
            shunt_incoming_unsub_t u = {.sub = id};
            shunt_msg_t m;
            shunt_client_call(l, SHUNT_T_INCOMING_UNSUB, &u, &m);
        }
    }
    sh("ip netns exec %s %s --addr " TARGET_IP ":8082 --label raw --rtt "
       "--requests %s", cns, SHUNT_INBENCH, rq);
    shunt_client_close(l);
    e2e_stop(&x);
    stop_agent(&ap, c);
    ns_teardown(&st);
    return 0;
}

static void test_bad_requests(void **state)
{
    (void)state;
    if (!have_ns)
        skip();
    static agent_proc_t ap; /* static: the teardown kills it after a failure */
    shunt_client_t *c;
    shunt_msg_t m;
    start_agent(&ap, &c);
    assert_int_equal(sub(c, 7, SHUNT_IN_REFUSE, &m), -EINVAL);
    assert_int_equal(sub(c, SHUNT_IN_STEAL, 9, &m), -EINVAL);
    assert_int_equal(unsub(c, 12345), -ENOENT);
    stop_agent(&ap, c);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        return bench(argc > 2 ? atoi(argv[2]) : 2000,
                     argc > 3 ? atoi(argv[3]) : 256);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bad_requests, test_teardown),
        cmocka_unit_test_teardown(test_steal, test_teardown),
        cmocka_unit_test_teardown(test_mirror, test_teardown),
        cmocka_unit_test_teardown(test_steal_loopback, test_teardown),
        cmocka_unit_test_teardown(test_mirror_reset, test_teardown),
        cmocka_unit_test_teardown(test_mirror_behind, test_teardown),
        cmocka_unit_test_teardown(test_steal_refused_fallback, test_teardown),
        cmocka_unit_test_teardown(test_conflict_and_sweep, test_teardown),
        cmocka_unit_test_teardown(test_filtered, test_teardown),
        cmocka_unit_test_teardown(test_filtered_local_refused, test_teardown),
        cmocka_unit_test_teardown(test_filtered_large, test_teardown),
        cmocka_unit_test_teardown(test_filtered_reopen, test_teardown),
        cmocka_unit_test_teardown(test_steal_concurrent, test_teardown),
        cmocka_unit_test_teardown(test_e2e_proxy, test_teardown),
    };
    return cmocka_run_group_tests(tests, ns_setup, ns_teardown);
}
