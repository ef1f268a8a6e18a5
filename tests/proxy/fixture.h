/* Test fixture for the proxy: a temporary root served by `harness proxy
 * --root`, the real shunt-agent behind it, and helpers to talk to both. */
#ifndef SHUNT_TEST_PROXY_FIXTURE_H
#define SHUNT_TEST_PROXY_FIXTURE_H

#include "shunt/client.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    char dir[64];          /* everything of this test lives below */
    char root[128];        /* the root the agent serves */
    char sock[160];
    char log[160];         /* harness proxy's stderr */
    pid_t harness;
    pid_t agent;
    int out_fd;
    char token[256];
    size_t token_len;
} fx_t;

/* Starts `harness proxy --root` on a fresh root filled by fill(root).
 * Returns NULL (after printing why) on failure. */
fx_t *fx_start(void (*fill)(const char *root));
/* SIGTERM, checks a clean exit (status 0, socket and token removed). */
int fx_stop(fx_t *f);
void fx_dump_log(const fx_t *f);

shunt_client_t *fx_client(const fx_t *f, uint64_t session, char *err,
                          size_t errlen);
int fx_agent_fds(const fx_t *f);   /* open fds of the agent, or -1 */
/* Waits up to ms for the agent to have exactly want fds; returns the last
 * count seen. */
int fx_wait_agent_fds(const fx_t *f, int want, int ms);
long fx_proc_kb(pid_t pid, const char *field); /* "VmRSS", "VmHWM" */

void fx_write_file(const char *root, const char *rel, const void *data,
                   size_t len);
void fx_pattern(void *buf, size_t len, uint64_t seed);
uint64_t fx_fnv(uint64_t h, const void *p, size_t n);
#define FX_FNV_INIT 0xcbf29ce484222325ull
uint64_t fx_now_ms(void);

int fx_openat(shunt_client_t *c, const char *path, int flags, uint32_t *h);
int fx_close(shunt_client_t *c, uint32_t h);
/* Sends one raw request frame without waiting for the answer. */
int fx_send_raw(shunt_client_t *c, uint16_t type, uint64_t id,
                const void *body);

#endif
