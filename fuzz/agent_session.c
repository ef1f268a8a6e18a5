/* libFuzzer target: a whole agent session, in process.
 *
 * The agent's own sources (everything but main.c) are linked in.  Each
 * input is the byte stream a client sends after a valid HELLO, which the
 * target prepends.  The client is one end of a socketpair; the other end
 * is written with the input and read for the agent's answers, as
 * shunt-agent --root DIR would see them.  The root is a small real tree,
 * rebuilt for every input, with a sibling file and directory outside it.
 *
 * The agent's own client_readable() splits, decodes and serves the frames.
 * The agent runs with conf.offline set, so CONNECT and GETADDRINFO are
 * answered ENOSYS (they would make real connections and need the resolver
 * child); every other request runs the agent's code.
 *
 * Oracle: no crash or sanitizer report; no fd left open once the client is
 * dropped; nothing of the tree outside the root (the contents of the file
 * the escaping symlinks point at, the name of a directory beside the root
 * that nothing in the root names) ever appears in the agent's output,
 * unless the input itself carries it. */
#include "agent.h"

#include "shunt/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define TOKEN "fuzz-agent-token"
/* Outside the root: must never reach the client. */
#define OUT_CONTENT "zq8-OUTSIDE-CONTENT-zq8"
#define OUT_NAME "zq8-outside-name-zq8"  /* symlinks in the root name it */
#define OUT_DIRNAME "zq8-unlisted-zq8"    /* nothing in the root names it */
#define FD_SCAN 256

static agent_t agent;
static char base[64];   /* mkdtemp: holds root/ and the outside files */
static char root[128];
static char token[] = TOKEN;
static char env_data[] = "HOME=/root\0PATH=/usr/bin:/bin\0APP_MODE=fuzz";

static void die(const char *what)
{
    perror(what);
    abort();
}

/* Removes everything beneath dirfd (which stays open), whatever the
 * modes the session left. */
static void clear_dir(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        die("openat .");
    DIR *d = fdopendir(fd);
    if (!d)
        die("fdopendir");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(dirfd, e->d_name, 0) == 0)
            continue;
        fchmodat(dirfd, e->d_name, 0700, 0);
        int sub = openat(dirfd, e->d_name,
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            die(e->d_name);
        clear_dir(sub);
        close(sub);
        if (unlinkat(dirfd, e->d_name, AT_REMOVEDIR) < 0)
            die(e->d_name);
    }
    closedir(d);
}

static void put_file(const char *rel, const char *content, mode_t mode)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, content, strlen(content)) < 0)
        die(p);
    close(fd);
}

static void put_link(const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    if (symlink(target, p) < 0)
        die(p);
}

static void put_dir(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    if (mkdir(p, 0755) < 0)
        die(p);
}

/* The tree a session starts from. */
static void build_root(void)
{
    clear_dir(agent.root_fd);
    chmod(root, 0755);
    put_dir("etc");
    put_file("etc/hosts", "127.0.0.1 localhost\n", 0644);
    put_file("etc/shadow", "root:*:0:0\n", 0600);
    put_dir("data");
    put_file("data/a.txt", "hello from the root\n", 0644);
    put_file("data/empty", "", 0644);
    put_dir("data/sub");
    put_file("data/sub/deep", "deep\n", 0640);
    put_link("../a.txt", "data/sub/up");
    put_link("../../" OUT_NAME, "data/escape-rel");   /* clamps to the root */
    char abs[256];
    snprintf(abs, sizeof abs, "%s/" OUT_NAME, base);
    put_link(abs, "data/escape-abs");                 /* resolved in the root */
    put_link("/proc/self/root", "data/magic");        /* a magic link */
    put_link("loop2", "data/loop1");
    put_link("loop1", "data/loop2");
}

/* Removes the whole temporary tree at exit. */
static void remove_base(void)
{
    int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    clear_dir(fd);
    close(fd);
    rmdir(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Logs to /dev/null unless SHUNT_FUZZ_LOG is set (then at trace). */
    if (getenv("SHUNT_FUZZ_LOG"))
        shunt_log_init("agent", SHUNT_LOG_TRACE, 2);
    else
        shunt_log_init("agent", SHUNT_LOG_ERROR,
                       open("/dev/null", O_WRONLY | O_CLOEXEC));
    snprintf(base, sizeof base, "/tmp/shunt-fuzz-agent.XXXXXX");
    if (!mkdtemp(base))
        die("mkdtemp");
    atexit(remove_base);
    snprintf(root, sizeof root, "%s/root", base);
    if (mkdir(root, 0755) < 0)
        die(root);
    char p[256];
    snprintf(p, sizeof p, "%s/" OUT_NAME, base);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, OUT_CONTENT "\n", sizeof OUT_CONTENT) < 0)
        die(p);
    close(fd);
    snprintf(p, sizeof p, "%s/" OUT_DIRNAME, base);
    if (mkdir(p, 0755) < 0)
        die(p);

    agent_t *a = &agent;
    a->conf.root_dir = root;
    a->conf.token = token;
    a->conf.token_len = strlen(TOKEN);
    a->conf.max_clients = 4;
    a->conf.max_fds = 16;
    a->conf.max_frame = 65536;
    a->conf.handshake_timeout_ms = 5000;
    a->conf.connect_timeout_ms = 100;
    a->conf.max_queue = 1u << 20;
    a->conf.offline = 1; /* fuzz input must never reach a network */
    a->proc_fd = a->mntns_fd = a->netns_fd = -1;
    a->lfd = a->sfd = -1;
    a->next_tag = 1;
    a->env_buf = env_data;
    a->env_len = sizeof env_data;
    a->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (a->root_fd < 0 || a->epfd < 0)
        die("root or epoll");
    umask(0);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void fd_snapshot(unsigned char open_fds[FD_SCAN])
{
    for (int i = 0; i < FD_SCAN; i++)
        open_fds[i] = fcntl(i, F_GETFD) >= 0;
}

/* Everything the agent has sent so far, appended to out. */
static void drain(int peer, shunt_wbuf_t *out)
{
    uint8_t buf[65536];
    ssize_t n;
    while ((n = read(peer, buf, sizeof buf)) > 0)
        shunt_wbuf_append(out, buf, (size_t)n);
}

static int contains(const shunt_wbuf_t *w, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= w->len; i++)
        if (w->data[i] == (uint8_t)s[0] && memcmp(w->data + i, s, n) == 0)
            return 1;
    return 0;
}

static int input_contains(const uint8_t *d, size_t size, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= size; i++)
        if (d[i] == (uint8_t)s[0] && memcmp(d + i, s, n) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    agent_t *a = &agent;
    build_root();
    unsigned char before[FD_SCAN], after[FD_SCAN];
    fd_snapshot(before);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0)
        die("socketpair");
    client_t *cl = calloc(1, sizeof *cl);
    if (!cl || shunt_rx_init(&cl->rx, SHUNT_FRAME_MIN) < 0)
        die("client");
    cl->ev.kind = EV_CLIENT;
    cl->a = a;
    cl->fd = sv[0];
    cl->serial = ++a->next_serial;
    cl->max_frame = SHUNT_FRAME_MIN;
    shunt_wbuf_init(&cl->tx);
    snprintf(cl->desc, sizeof cl->desc, "#%llu fuzz",
             (unsigned long long)cl->serial);
    htab_init(&cl->h, a->conf.max_fds, 1); /* same handle numbers each run */
    cl->events = EPOLLIN;
    if (agent_watch(a, cl->fd, &cl->ev, cl->events) < 0)
        die("epoll");
    a->clients = cl;
    a->nclients = 1;

    /* HELLO, then the input. */
    shunt_wbuf_t in;
    shunt_wbuf_init(&in);
    shunt_hello_t h = {
        .magic = SHUNT_MAGIC,
        .ver_min = SHUNT_PROTO_VERSION_MIN,
        .ver_max = SHUNT_PROTO_VERSION_MAX,
        .role = SHUNT_ROLE_TOOL,
        .token = shunt_bytes(TOKEN, strlen(TOKEN)),
        .max_frame = 65536,
        .name = shunt_str("fuzz"),
    };
    if (shunt_encode(&in, SHUNT_T_HELLO, 0, 1, &h, UINT32_MAX) != 0)
        abort();
    shunt_wbuf_append(&in, data, size);

    shunt_wbuf_t out;
    shunt_wbuf_init(&out);
    size_t sent = 0;
    int shut = 0;
    for (int round = 0; !cl->dead && round < 100000; round++) {
        if (sent < in.len) {
            ssize_t n = write(sv[1], in.data + sent, in.len - sent);
            if (n > 0)
                sent += (size_t)n;
        } else if (!shut) {
            shutdown(sv[1], SHUT_WR);
            shut = 1;
        }
        client_readable(cl);
        if (!cl->dead)
            client_kick(cl);
        drain(sv[1], &out);
        if (cl->state == C_LINGER && shut)
            client_readable(cl); /* reads EOF: dropped */
    }
    if (!cl->dead)
        client_drop(cl, NULL);
    drain(sv[1], &out);
    agent_reap(a);
    a->nclients = 0;
    close(sv[1]);
    shunt_wbuf_free(&in);

    fd_snapshot(after);
    for (int i = 0; i < FD_SCAN; i++)
        if (before[i] != after[i]) {
            fprintf(stderr, "agent_session: fd %d %s by the session\n", i,
                    after[i] ? "left open" : "closed");
            abort();
        }
    if (!input_contains(data, size, "zq8") &&
        (contains(&out, OUT_CONTENT) || contains(&out, OUT_DIRNAME))) {
        fprintf(stderr, "agent_session: the agent revealed something "
                        "outside its root\n");
        abort();
    }
    shunt_wbuf_free(&out);
    return 0;
}
