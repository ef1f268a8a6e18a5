/* Test fixture for the proxy tests: see fixture.h. */
#include "fixture.h"

#include "shunt/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t fx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fx_pattern(void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

uint64_t fx_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void fx_write_file(const char *root, const char *rel, const void *data,
                   size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    /* mkdir -p of the parents */
    for (char *s = strchr(path + strlen(root) + 1, '/'); s;
         s = strchr(s + 1, '/')) {
        *s = 0;
        mkdir(path, 0755);
        *s = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || shunt_write_full(fd, data, len) < 0) {
        fprintf(stderr, "fixture: cannot write %s: %s\n", path,
                strerror(errno));
        abort();
    }
    close(fd);
}

void fx_dump_log(const fx_t *f)
{
    FILE *l = fopen(f->log, "r");
    if (!l)
        return;
    char line[1024];
    fprintf(stderr, "---- harness proxy log (%s) ----\n", f->log);
    while (fgets(line, sizeof(line), l))
        fputs(line, stderr);
    fprintf(stderr, "----\n");
    fclose(l);
}

static pid_t find_child(pid_t parent)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent,
             (int)parent);
    FILE *c = fopen(path, "r");
    if (!c)
        return -1;
    int pid = -1;
    if (fscanf(c, "%d", &pid) != 1)
        pid = -1;
    fclose(c);
    return pid;
}

fx_t *fx_start(void (*fill)(const char *root))
{
    fx_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/shunt-proxytest-XXXXXX");
    if (!mkdtemp(f->dir)) {
        perror("mkdtemp");
        free(f);
        return NULL;
    }
    snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
    snprintf(f->sock, sizeof(f->sock), "%s/proxy.sock", f->dir);
    snprintf(f->log, sizeof(f->log), "%s/proxy.log", f->dir);
    mkdir(f->root, 0755);
    if (fill)
        fill(f->root);

    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0) {
        perror("pipe");
        free(f);
        return NULL;
    }
    const char *level = getenv("SHUNT_TEST_LOG_LEVEL");
    pid_t pid = fork();
    if (pid == 0) {
        int logfd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        /* Under ASan freed memory sits in a quarantine (256 MiB by
         * default), which would hide what the proxy really keeps. */
        char asan[512];
        const char *old = getenv("ASAN_OPTIONS");
        snprintf(asan, sizeof(asan), "%s%squarantine_size_mb=8",
                 old ? old : "", old && *old ? ":" : "");
        setenv("ASAN_OPTIONS", asan, 1);
        dup2(out[1], 1);
        if (logfd >= 0)
            dup2(logfd, 2);
        const char *argv[] = {SHUNT_HARNESS_BIN, "proxy",   "--root",
                              f->root,           "--socket", f->sock,
                              "--agent",         SHUNT_AGENT_BIN,
                              level ? "--log-level" : NULL,
                              level,             NULL};
        execv(argv[0], (char *const *)argv);
        perror("execv harness");
        _exit(127);
    }
    close(out[1]);
    f->harness = pid;
    f->out_fd = out[0];

    char buf[512] = "";
    size_t len = 0;
    uint64_t deadline = fx_now_ms() + 20000;
    char want[256];
    snprintf(want, sizeof(want), "proxy listening on %s\n", f->sock);
    while (!strchr(buf, '\n')) {
        uint64_t now = fx_now_ms();
        struct pollfd pf = {.fd = out[0], .events = POLLIN};
        if (now >= deadline || poll(&pf, 1, (int)(deadline - now)) <= 0) {
            fprintf(stderr, "fixture: harness proxy did not get ready\n");
            goto fail;
        }
        ssize_t n = read(out[0], buf + len, sizeof(buf) - 1 - len);
        if (n <= 0) {
            fprintf(stderr, "fixture: harness proxy exited early\n");
            goto fail;
        }
        len += (size_t)n;
        buf[len] = 0;
    }
    if (strcmp(buf, want) != 0) {
        fprintf(stderr, "fixture: harness proxy printed \"%s\"\n", buf);
        goto fail;
    }
    char tpath[200];
    snprintf(tpath, sizeof(tpath), "%s.token", f->sock);
    struct stat st;
    if (stat(tpath, &st) < 0 || (st.st_mode & 0777) != 0600 ||
        stat(f->sock, &st) < 0 || (st.st_mode & 0777) != 0600) {
        fprintf(stderr, "fixture: socket or token missing or not 0600\n");
        goto fail;
    }
    int tfd = open(tpath, O_RDONLY | O_CLOEXEC);
    ssize_t tn = tfd >= 0 ? read(tfd, f->token, sizeof(f->token)) : -1;
    if (tfd >= 0)
        close(tfd);
    if (tn <= 0) {
        fprintf(stderr, "fixture: cannot read %s\n", tpath);
        goto fail;
    }
    f->token_len = (size_t)tn;
    f->agent = find_child(f->harness);
    if (f->agent <= 0) {
        fprintf(stderr, "fixture: no agent child of the harness\n");
        goto fail;
    }
    return f;
fail:
    kill(f->harness, SIGKILL);
    waitpid(f->harness, NULL, 0);
    fx_dump_log(f);
    close(f->out_fd);
    free(f);
    return NULL;
}

int fx_stop(fx_t *f)
{
    int ok = 1;
    kill(f->harness, SIGTERM);
    int st = 0;
    uint64_t deadline = fx_now_ms() + 10000;
    pid_t r;
    while ((r = waitpid(f->harness, &st, WNOHANG)) == 0 &&
           fx_now_ms() < deadline)
        usleep(10000);
    if (r == 0) {
        fprintf(stderr, "fixture: harness proxy ignored SIGTERM\n");
        kill(f->harness, SIGKILL);
        waitpid(f->harness, &st, 0);
        ok = 0;
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "fixture: harness proxy ended with status 0x%x\n",
                st);
        ok = 0;
    }
    char tpath[200];
    snprintf(tpath, sizeof(tpath), "%s.token", f->sock);
    if (access(f->sock, F_OK) == 0 || access(tpath, F_OK) == 0) {
        fprintf(stderr, "fixture: socket or token file left behind\n");
        ok = 0;
    }
    if (f->agent > 0 && kill(f->agent, 0) == 0) {
        /* zombie until reaped by the harness: check it is gone for real */
        char path[64], state = 0;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)f->agent);
        FILE *s = fopen(path, "r");
        if (s && fscanf(s, "%*d %*s %c", &state) == 1 && state != 'Z') {
            fprintf(stderr, "fixture: agent %d still running\n",
                    (int)f->agent);
            kill(f->agent, SIGKILL);
            ok = 0;
        }
        if (s)
            fclose(s);
    }
    if (!ok || getenv("SHUNT_TEST_SHOW_LOG"))
        fx_dump_log(f);
    close(f->out_fd);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fixture: cannot remove %s\n", f->dir);
    free(f);
    return ok ? 0 : -1;
}

shunt_client_t *fx_client(const fx_t *f, uint64_t session, char *err,
                          size_t errlen)
{
    shunt_client_opts_t o = {
        .role = SHUNT_ROLE_TOOL,
        .token = f->token,
        .token_len = f->token_len,
        .name = "test",
        .session = session,
        .timeout_ms = 15000,
    };
    return shunt_client_connect(f->sock, &o, err, errlen);
}

int fx_agent_fds(const fx_t *f)
{
    return shunt_count_fds((int)f->agent);
}

int fx_wait_agent_fds(const fx_t *f, int want, int ms)
{
    uint64_t deadline = fx_now_ms() + (uint64_t)ms;
    int n;
    while ((n = fx_agent_fds(f)) != want && fx_now_ms() < deadline)
        usleep(10000);
    return n;
}

long fx_proc_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *s = fopen(path, "r");
    if (!s)
        return -1;
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof(line), s))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            v = strtol(line + fl + 1, NULL, 10);
    fclose(s);
    return v;
}

int fx_openat(shunt_client_t *c, const char *path, int flags, uint32_t *h)
{
    shunt_openat_t o = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(path),
                        .flags = flags | O_CLOEXEC};
    shunt_msg_t m;
    int r = shunt_client_call(c, SHUNT_T_OPENAT, &o, &m);
    if (r == 0) {
        if (m.type != SHUNT_T_OPEN_R)
            return -EPROTO;
        *h = m.u.open_r.handle;
    }
    return r;
}

int fx_close(shunt_client_t *c, uint32_t h)
{
    shunt_close_t b = {.handle = h};
    shunt_msg_t m;
    return shunt_client_call(c, SHUNT_T_CLOSE, &b, &m);
}

int fx_send_raw(shunt_client_t *c, uint16_t type, uint64_t id,
                const void *body)
{
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    int r = shunt_encode(&w, type, 0, id, body, shunt_client_max_frame(c));
    if (r == 0)
        r = shunt_write_full(shunt_client_fd(c), w.data, w.len);
    shunt_wbuf_free(&w);
    return r;
}
