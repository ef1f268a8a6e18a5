/* Recording mode (docs/fuzzing.md, "Seeds from real sessions"): the frames
 * of a real session, written as fuzz seeds.
 *   DIR/proto_decode/F-HASH   every distinct frame, either direction
 *   DIR/agent_session/S-HASH  what the proxy sent the agent after HELLO, cut
 *                             at frame boundaries into pieces of at most
 *                             RECORD_CHUNK bytes (agent_session's max_len)
 * Files are named by a hash of their bytes, so repeated sessions add only
 * what is new.  Recording never fails the session: an error is logged once
 * and recording stops. */
#include "proxy_int.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_CHUNK 4096
#define RECORD_MAX_FILES 20000 /* per proxy: a long session stays bounded */

struct proxy_record {
    char dir[512];
    uint8_t chunk[RECORD_CHUNK];
    size_t chunk_len;
    unsigned files;
    int failed;
};

static void rec_fail(proxy_record_t *r, const char *what, int e)
{
    if (!r->failed)
        LOG_ERROR("recording in %s stopped: %s: %s", r->dir, what,
                  strerror(e));
    r->failed = 1;
}

static void rec_write(proxy_record_t *r, const char *sub, char tag,
                      const uint8_t *b, size_t n)
{
    if (r->failed || n == 0 || r->files >= RECORD_MAX_FILES)
        return;
    char path[640];
    snprintf(path, sizeof(path), "%s/%s/%c-%016llx", r->dir, sub, tag,
             (unsigned long long)shunt_fnv1a(SHUNT_FNV_OFFSET, b, n));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno != EEXIST)
            rec_fail(r, path, errno);
        return;
    }
    int rc = shunt_write_full(fd, b, n);
    close(fd);
    if (rc < 0)
        rec_fail(r, path, -rc);
    r->files++;
}

proxy_record_t *proxy_record_open(const char *dir)
{
    proxy_record_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (snprintf(r->dir, sizeof(r->dir), "%s", dir) >= (int)sizeof(r->dir)) {
        LOG_ERROR("record directory name too long: %s", dir);
        free(r);
        return NULL;
    }
    static const char *const subs[] = {"", "/proto_decode", "/agent_session"};
    for (size_t i = 0; i < 3; i++) {
        char path[640];
        snprintf(path, sizeof(path), "%s%s", dir, subs[i]);
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
            LOG_ERROR("cannot record into %s: %s", path, strerror(errno));
            free(r);
            return NULL;
        }
    }
    LOG_INFO("recording frames as fuzz seeds into %s", dir);
    return r;
}

void proxy_record_frame(proxy_record_t *r, int to_agent, const uint8_t *frame,
                        size_t len)
{
    if (!r)
        return;
    rec_write(r, "proto_decode", 'F', frame, len);
    if (!to_agent || len > RECORD_CHUNK)
        return;
    if (r->chunk_len + len > RECORD_CHUNK) {
        rec_write(r, "agent_session", 'S', r->chunk, r->chunk_len);
        r->chunk_len = 0;
    }
    memcpy(r->chunk + r->chunk_len, frame, len);
    r->chunk_len += len;
}

void proxy_record_close(proxy_record_t *r)
{
    if (!r)
        return;
    rec_write(r, "agent_session", 'S', r->chunk, r->chunk_len);
    if (!r->failed)
        LOG_INFO("recorded %u seed file(s) into %s", r->files, r->dir);
    free(r);
}
