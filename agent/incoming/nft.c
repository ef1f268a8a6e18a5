/* The agent's nftables table in the target's network namespace, through
 * libnftables: `table inet shunt_in_<agent pid>` with nat chains on
 * prerouting (dstnat) and output (-100), one rule per subscribed port in
 * each.  Every call runs in the main thread, which is in the target's
 * netns from start-up on (main.c), with a context of its own (no cache
 * kept between calls: other agents change the ruleset too). */
#include "incoming.h"

#include "shunt/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TABLE_PREFIX "shunt_in_"

/* Runs cmd; out (when not NULL) gets a malloc'd copy of the output.
 * Returns 0 or -1 with nft's own message in err. */
static int run(const char *cmd, unsigned flags, char **out, char *err,
               size_t errlen)
{
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) {
        snprintf(err, errlen, "libnftables: no context");
        return -1;
    }
    nft_ctx_output_set_flags(ctx, flags);
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    int rc = nft_run_cmd_from_buffer(ctx, cmd);
    if (rc != 0) {
        const char *e = nft_ctx_get_error_buffer(ctx);
        size_t n = e ? strlen(e) : 0;
        while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
            n--;
        /* nft's message is "Error: ...\nCOMMAND\n^^^": its first line */
        const char *nl = e ? memchr(e, '\n', n) : NULL;
        if (nl)
            n = (size_t)(nl - e);
        snprintf(err, errlen, "nft %.*s", (int)n, e ? e : "failed");
        LOG_DEBUG("nft '%s': %s", cmd, err);
    } else if (out) {
        const char *o = nft_ctx_get_output_buffer(ctx);
        *out = strdup(o ? o : "");
    }
    nft_ctx_free(ctx);
    if (rc == 0 && out && !*out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return rc == 0 ? 0 : -1;
}

int nft_table_add(char *err, size_t errlen)
{
    char cmd[512];
    int pid = (int)getpid();
    snprintf(cmd, sizeof(cmd),
             "add table inet " TABLE_PREFIX "%d\n"
             "add chain inet " TABLE_PREFIX "%d prerouting { type nat hook "
             "prerouting priority dstnat; policy accept; }\n"
             "add chain inet " TABLE_PREFIX "%d output { type nat hook "
             "output priority -100; policy accept; }\n", pid, pid, pid);
    return run(cmd, 0, NULL, err, errlen) < 0 ? -EPERM : 0;
}

int nft_table_del(pid_t owner, char *err, size_t errlen)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "delete table inet " TABLE_PREFIX "%d",
             (int)owner);
    return run(cmd, 0, NULL, err, errlen) < 0 ? -ENOENT : 0;
}

/* The handle in "... # handle N" of the first line of s, 0 if none. */
static uint64_t line_handle(const char *s)
{
    const char *nl = strchr(s, '\n');
    const char *h = strstr(s, "# handle ");
    if (!h || (nl && h > nl))
        return 0;
    return strtoull(h + 9, NULL, 10);
}

int nft_rule_add(uint16_t port, uint16_t lport, uint64_t handle[2],
                 char *err, size_t errlen)
{
    static const char *const chains[2] = {"prerouting", "output"};
    handle[0] = handle[1] = 0;
    for (int i = 0; i < 2; i++) {
        char cmd[256], *out = NULL;
        snprintf(cmd, sizeof(cmd),
                 "add rule inet " TABLE_PREFIX "%d %s tcp dport %u meta mark "
                 "!= 0x%08x redirect to :%u", (int)getpid(), chains[i],
                 port, IN_MARK, lport);
        if (run(cmd, NFT_CTX_OUTPUT_ECHO | NFT_CTX_OUTPUT_HANDLE, &out, err,
                errlen) < 0) {
            nft_rule_del(handle);
            return -EPERM;
        }
        handle[i] = line_handle(out);
        free(out);
        if (!handle[i]) {
            snprintf(err, errlen, "nft gave no handle for the rule of port "
                     "%u", port);
            nft_rule_del(handle);
            return -EPROTO;
        }
    }
    return 0;
}

void nft_rule_del(const uint64_t handle[2])
{
    static const char *const chains[2] = {"prerouting", "output"};
    for (int i = 0; i < 2; i++) {
        if (!handle[i])
            continue;
        char cmd[160], err[256];
        snprintf(cmd, sizeof(cmd),
                 "delete rule inet " TABLE_PREFIX "%d %s handle %" PRIu64,
                 (int)getpid(), chains[i], handle[i]);
        if (run(cmd, 0, NULL, err, sizeof(err)) < 0)
            LOG_DEBUG("rule of handle %" PRIu64 " already gone (taken over?)"
                      ": %s", handle[i], err);
    }
}

/* A shunt-agent that still runs with that pid. */
static int agent_alive(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return 0;
    char p[64], comm[32] = "";
    snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, comm, sizeof(comm) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    comm[n] = 0;
    comm[strcspn(comm, "\n")] = 0;
    return strcmp(comm, "shunt-agent") == 0;
}

/* The pids of the shunt_in_ tables other than ours; returns how many. */
static int other_tables(pid_t *v, int max)
{
    char *out = NULL, err[256];
    if (run("list tables inet", 0, &out, err, sizeof(err)) < 0) {
        LOG_WARN("cannot list the target's nftables tables: %s", err);
        return 0;
    }
    int n = 0;
    const char *key = "table inet " TABLE_PREFIX;
    for (const char *p = out; (p = strstr(p, key)) != NULL && n < max;) {
        p += strlen(key);
        char *end;
        long pid = strtol(p, &end, 10);
        if (end != p && (*end == '\n' || *end == 0 || *end == ' ') &&
            pid > 0 && pid != (long)getpid())
            v[n++] = (pid_t)pid;
        p = end;
    }
    free(out);
    return n;
}

int nft_sweep(void)
{
    pid_t v[64];
    int n = other_tables(v, 64), gone = 0;
    for (int i = 0; i < n; i++) {
        if (agent_alive(v[i]))
            continue;
        char err[256];
        if (nft_table_del(v[i], err, sizeof(err)) == 0) {
            LOG_INFO("deleted table inet " TABLE_PREFIX "%d, left behind "
                     "by an agent that is gone", (int)v[i]);
            gone++;
        } else {
            LOG_WARN("cannot delete the leftover table " TABLE_PREFIX
                     "%d: %s", (int)v[i], err);
        }
    }
    return gone;
}

/* For each rule of owner's table diverting port: calls fn(chain, handle).
 * Returns how many, or -1 when the table cannot be listed. */
static int port_rules(pid_t owner, uint16_t port,
                      void (*fn)(pid_t owner, const char *chain,
                                 uint64_t handle))
{
    char cmd[96], *out = NULL, err[256];
    snprintf(cmd, sizeof(cmd), "list table inet " TABLE_PREFIX "%d",
             (int)owner);
    if (run(cmd, NFT_CTX_OUTPUT_HANDLE, &out, err, sizeof(err)) < 0)
        return -1;
    char chain[64] = "", want[32];
    snprintf(want, sizeof(want), "tcp dport %u ", port);
    int n = 0;
    for (char *line = out; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        while (isspace((unsigned char)*line))
            line++;
        if (strncmp(line, "chain ", 6) == 0) {
            snprintf(chain, sizeof(chain), "%.*s",
                     (int)strcspn(line + 6, " {"), line + 6);
        } else if (strncmp(line, want, strlen(want)) == 0 && chain[0]) {
            uint64_t h = line_handle(line);
            if (h) {
                n++;
                if (fn)
                    fn(owner, chain, h);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(out);
    return n;
}

pid_t nft_port_owner(uint16_t port)
{
    pid_t v[64];
    int n = other_tables(v, 64);
    for (int i = 0; i < n; i++) {
        if (!agent_alive(v[i])) {
            char err[256];
            if (nft_table_del(v[i], err, sizeof(err)) == 0)
                LOG_INFO("deleted table inet " TABLE_PREFIX "%d, left "
                         "behind by an agent that is gone", (int)v[i]);
            continue;
        }
        if (port_rules(v[i], port, NULL) > 0)
            return v[i];
    }
    return 0;
}

static int take_failed;

static void del_rule(pid_t owner, const char *chain, uint64_t handle)
{
    char cmd[160], err[256];
    snprintf(cmd, sizeof(cmd),
             "delete rule inet " TABLE_PREFIX "%d %s handle %" PRIu64,
             (int)owner, chain, handle);
    if (run(cmd, 0, NULL, err, sizeof(err)) < 0) {
        LOG_WARN("cannot take over a rule of agent %d: %s", (int)owner, err);
        take_failed = 1;
    }
}

int nft_take_port(pid_t owner, uint16_t port, char *err, size_t errlen)
{
    take_failed = 0;
    if (port_rules(owner, port, del_rule) < 0 || take_failed) {
        snprintf(err, errlen, "cannot take port %u over from agent pid %d",
                 port, (int)owner);
        return -EPERM;
    }
    LOG_INFO("port %u taken over from agent pid %d", port, (int)owner);
    return 0;
}
