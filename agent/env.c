/* ENV_GET: the target's environment, from /proc/PID/environ or --env-file. */
#include "agent.h"

#include "shunt/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENV_MAX_BYTES (16u << 20)

static char *read_all(int fd, size_t *len)
{
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= ENV_MAX_BYTES)
                break; /* keep what we have */
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (buf)
        *len = n;
    else
        errno = ENOMEM;
    return buf;
}

int env_load_file(agent_t *a, const char *file, char *err, size_t errlen)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    size_t len = 0;
    char *buf = read_all(fd, &len);
    close(fd);
    if (!buf) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    /* NUL-separated as /proc/PID/environ, or one KEY=VALUE per line */
    if (!memchr(buf, 0, len))
        for (size_t i = 0; i < len; i++)
            if (buf[i] == '\n')
                buf[i] = 0;
    a->env_buf = buf;
    a->env_len = len;
    return 0;
}

void env_get(client_t *cl, const shunt_msg_t *m)
{
    agent_t *a = cl->a;
    char *buf;
    size_t len = 0;
    int owned = 0;
    if (a->proc_fd >= 0) {
        /* read fresh every time: the target may have been restarted */
        int fd = openat(a->proc_fd, "environ", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || !(buf = read_all(fd, &len))) {
            int e = errno == ENOENT ? ESRCH : errno;
            if (fd >= 0)
                close(fd);
            reply_error(cl, m->id, e, "/proc/%d/environ: %s",
                        (int)a->conf.target_pid, strerror(e));
            return;
        }
        close(fd);
        owned = 1;
    } else {
        buf = a->env_buf;
        len = a->env_len;
    }

    uint32_t limit = m->u.env_get.max_bytes;
    size_t budget = cl->max_frame - SHUNT_HDR_LEN - 64;
    if (limit && limit < budget)
        budget = limit;
    shunt_wbuf_t list;
    shunt_wbuf_init(&list);
    uint32_t count = 0, dropped = 0;
    for (size_t i = 0; i < len;) {
        const char *s = buf + i;
        size_t n = strnlen(s, len - i);
        i += n + 1;
        if (n == 0)
            continue;
        if (dropped) {
            dropped++;
            continue;
        }
        shunt_rec_str_t r = {.s = {.p = s, .len = (uint32_t)n}};
        size_t before = list.len;
        if (shunt_put_rec_str(&list, &r) < 0 || list.len > budget) {
            list.len = before;
            list.err = 0;
            dropped++;
            continue;
        }
        count++;
    }
    if (dropped)
        LOG_WARN("client %s: environment truncated to %u variables (%u did "
                 "not fit in %zu bytes)", cl->desc, count, dropped, budget);
    shunt_env_r_t out = {
        .vars = {.count = count, .p = list.data, .len = (uint32_t)list.len}};
    client_send(cl, SHUNT_T_ENV_R, 0, m->id, &out);
    shunt_wbuf_free(&list);
    if (owned)
        free(buf);
}
