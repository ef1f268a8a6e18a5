/* Test fixture for shunt-agent: temp trees, the agent process, clients. */
#include "fixture.h"

#include "shunt/util.h"

#include "shunt/frameio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#ifndef SHUNT_AGENT_PATH
#error "SHUNT_AGENT_PATH must name the shunt-agent binary"
#endif

int tmp_tree(char *out, size_t outlen, const char *tag)
{
    snprintf(out, outlen, "/tmp/shunt-agent-%s-XXXXXX", tag);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        abort();
    }
    return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

void rm_tree(const char *path)
{
    nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

void put_file(const char *dir, const char *rel, const char *content)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "put_file %s: %s\n", p, strerror(errno));
        abort();
    }
    size_t n = strlen(content);
    if (write(fd, content, n) != (ssize_t)n)
        abort();
    close(fd);
}

int agent_start(agent_proc_t *ap, const char *root, const char *const *extra)
{
    memset(ap, 0, sizeof(*ap));
    snprintf(ap->token_file, sizeof(ap->token_file),
             "/tmp/shunt-agent-token-%d-%ld", (int)getpid(),
             (long)time(NULL) ^ (long)random());
    put_file("", ap->token_file, TEST_TOKEN "\n");

    const char *argv[64];
    int n = 0;
    argv[n++] = SHUNT_AGENT_PATH;
    if (root) { /* else the caller passes --target-pid */
        argv[n++] = "--root";
        argv[n++] = root;
    }
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--token-file";
    argv[n++] = ap->token_file;
    const char *lvl = getenv("AGENT_LOG_LEVEL");
    argv[n++] = "--log-level";
    argv[n++] = lvl ? lvl : "warn";
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 1);
        execv(argv[0], (char *const *)argv);
        perror("execv shunt-agent");
        _exit(127);
    }
    close(pipefd[1]);
    ap->pid = pid;
    char line[256];
    size_t len = 0;
    struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
    while (len < sizeof(line) - 1) {
        if (poll(&pfd, 1, 10000) <= 0)
            break;
        ssize_t r = read(pipefd[0], line + len, sizeof(line) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        if (memchr(line, '\n', len))
            break;
    }
    line[len] = 0;
    close(pipefd[0]);
    const char *pfx = "listening on ";
    char *nl = strchr(line, '\n');
    if (strncmp(line, pfx, strlen(pfx)) != 0 || !nl || nl[1] != 0) {
        fprintf(stderr, "agent did not announce itself: '%s'\n", line);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    *nl = 0;
    snprintf(ap->addr, sizeof(ap->addr), "%.60s", line + strlen(pfx));
    return 0;
}

int agent_stop(agent_proc_t *ap)
{
    if (ap->pid <= 0)
        return -1;
    kill(ap->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 500; i++) {
        pid_t r = waitpid(ap->pid, &st, WNOHANG);
        if (r == ap->pid) {
            ap->pid = 0;
            unlink(ap->token_file);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(10000);
    }
    kill(ap->pid, SIGKILL);
    waitpid(ap->pid, NULL, 0);
    ap->pid = 0;
    unlink(ap->token_file);
    return -1;
}

shunt_client_t *agent_client_opts(const agent_proc_t *ap, const char *token,
                                  uint32_t max_frame, char *err,
                                  size_t errlen)
{
    shunt_client_opts_t o = {
        .role = SHUNT_ROLE_TOOL,
        .token = token,
        .token_len = strlen(token),
        .name = "agent-test",
        .max_frame = max_frame,
        .timeout_ms = 10000,
    };
    return shunt_client_connect(ap->addr, &o, err, errlen);
}

shunt_client_t *agent_client(const agent_proc_t *ap)
{
    char err[256];
    shunt_client_t *c = agent_client_opts(ap, TEST_TOKEN, 0, err, sizeof(err));
    if (!c)
        fprintf(stderr, "connect: %s\n", err);
    return c;
}

int agent_raw_connect(const agent_proc_t *ap)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    const char *colon = strrchr(ap->addr, ':');
    sin.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int raw_hello(int fd, uint32_t magic, uint16_t vmin, uint16_t vmax,
              uint8_t role, const char *token)
{
    shunt_hello_t h = {.magic = magic, .ver_min = vmin, .ver_max = vmax,
                       .role = role, .token = shunt_bytes(token, strlen(token)),
                       .pid = (uint32_t)getpid(), .max_frame = 0,
                       .name = shunt_str("raw")};
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    int r = shunt_encode(&w, SHUNT_T_HELLO, 0, 1, &h, SHUNT_FRAME_MIN);
    if (r == 0)
        r = (int)write(fd, w.data, w.len) == (int)w.len ? 0 : -EIO;
    shunt_wbuf_free(&w);
    return r;
}

int raw_recv(int fd, shunt_rx_t *rx, shunt_msg_t *m, int timeout_ms)
{
    const uint8_t *f;
    size_t len;
    int r = shunt_recv_frame(fd, rx, timeout_ms, &f, &len);
    if (r < 0)
        return r;
    r = shunt_decode(f, len, m);
    /* leave the frame in rx: the caller reads m; consumed next time */
    rx->off += len;
    return r < 0 ? r : 1;
}

int raw_wait_closed(int fd, int timeout_ms)
{
    char buf[4096];
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    for (;;) {
        int p = poll(&pfd, 1, timeout_ms);
        if (p <= 0)
            return -ETIMEDOUT;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return 0;
    }
}

int count_fds(pid_t pid)
{
    return shunt_count_fds((int)pid);
}

int64_t r_open(shunt_client_t *c, uint32_t dirh, const char *path, int flags,
               unsigned mode)
{
    shunt_msg_t m;
    int r;
    if (dirh == SHUNT_AT_ROOT) {
        shunt_open_t o = {.path = shunt_str(path), .flags = flags,
                          .mode = mode};
        r = shunt_client_call(c, SHUNT_T_OPEN, &o, &m);
    } else {
        shunt_openat_t o = {.dirh = dirh, .path = shunt_str(path),
                            .flags = flags, .mode = mode};
        r = shunt_client_call(c, SHUNT_T_OPENAT, &o, &m);
    }
    if (r < 0)
        return r;
    return m.u.open_r.handle;
}

int r_close(shunt_client_t *c, uint32_t h)
{
    shunt_msg_t m;
    shunt_close_t cl = {.handle = h};
    return shunt_client_call(c, SHUNT_T_CLOSE, &cl, &m);
}

ssize_t r_slurp(shunt_client_t *c, uint32_t dirh, const char *path, char *buf,
                size_t len)
{
    int h = r_open(c, dirh, path, O_RDONLY, 0);
    if (h < 0)
        return h;
    size_t n = 0;
    for (;;) {
        shunt_msg_t m;
        shunt_read_t rd = {.handle = (uint32_t)h,
                           .count = (uint32_t)(len - 1 - n)};
        int r = shunt_client_call(c, SHUNT_T_READ, &rd, &m);
        if (r < 0) {
            r_close(c, (uint32_t)h);
            return r;
        }
        if (m.u.data_r.data.len == 0 || n == len - 1)
            break;
        memcpy(buf + n, m.u.data_r.data.p, m.u.data_r.data.len);
        n += m.u.data_r.data.len;
    }
    buf[n] = 0;
    r_close(c, (uint32_t)h);
    return (ssize_t)n;
}

int r_ping(shunt_client_t *c)
{
    shunt_msg_t m;
    shunt_ping_t p = {.nonce = 0x5eed};
    int r = shunt_client_call(c, SHUNT_T_PING, &p, &m);
    if (r < 0)
        return r;
    return m.type == SHUNT_T_PONG && m.u.pong.nonce == 0x5eed ? 0 : -EPROTO;
}
