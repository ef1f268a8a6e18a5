/* Writes one valid frame per message type (plus a few edge cases) into a
 * directory: the seed corpus of fuzz/proto_decode. */
#include "shunt/proto.h"

#include <stdio.h>
#include <string.h>

static int write_seed(const char *dir, const char *name, const shunt_wbuf_t *w)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(w->data, 1, w->len, f) != w->len) {
        perror(path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    static uint8_t blob[300];
    for (size_t i = 0; i < sizeof(blob); i++)
        blob[i] = (uint8_t)(i * 7);
    shunt_wbuf_t lw[3];
    for (int i = 0; i < 3; i++)
        shunt_wbuf_init(&lw[i]);
    shunt_rec_dirent_t de = {.ino = 12, .off = 3, .type = 8,
                             .name = shunt_str("file.txt")};
    shunt_put_rec_dirent(&lw[0], &de);
    de.name = shunt_str("..");
    shunt_put_rec_dirent(&lw[0], &de);
    uint8_t ip4[4] = {10, 200, 1, 10};
    shunt_rec_addrinfo_t ai = {.family = 2, .socktype = 1, .protocol = 6,
                               .addr = shunt_bytes(ip4, 4), .port = 80,
                               .canonname = shunt_str("api.cluster")};
    shunt_put_rec_addrinfo(&lw[1], &ai);
    shunt_rec_str_t ev = {.s = shunt_str("HOME=/root")};
    shunt_put_rec_str(&lw[2], &ev);
    ev.s = shunt_str("APP_MODE=remote");
    shunt_put_rec_str(&lw[2], &ev);

    shunt_msg_t m;
    int rc = 0;
    for (size_t i = 0; i < shunt_msg_type_count; i++) {
        uint16_t t = shunt_msg_types[i];
        memset(&m, 0, sizeof(m));
        /* Sensible non-zero values for the common fields by type. */
        switch (t) {
        case SHUNT_T_HELLO:
            m.u.hello = (shunt_hello_t){.magic = SHUNT_MAGIC, .ver_min = 1,
                .ver_max = 1, .role = SHUNT_ROLE_LAYER,
                .token = shunt_bytes("0123456789abcdef", 16), .pid = 100,
                .ppid = 1, .max_frame = SHUNT_FRAME_DEFAULT,
                .name = shunt_str("app")};
            break;
        case SHUNT_T_ERROR:
            m.u.error = (shunt_error_t){.err = 2, .msg = shunt_str("no such file")};
            break;
        case SHUNT_T_OPEN:
            m.u.open = (shunt_open_t){.path = shunt_str("/etc/app/config.json"),
                                      .flags = 0x80000, .mode = 0644};
            break;
        case SHUNT_T_OPENAT:
            m.u.openat = (shunt_openat_t){.dirh = 3, .path = shunt_str("../x"),
                                          .flags = 0x241, .mode = 0600};
            break;
        case SHUNT_T_STAT:
            m.u.stat = (shunt_stat_t){.dirh = SHUNT_AT_ROOT,
                                      .path = shunt_str("/proc/1/root"),
                                      .flags = 0x100};
            break;
        case SHUNT_T_RENAME:
            m.u.rename = (shunt_rename_t){.olddirh = SHUNT_AT_ROOT,
                .oldpath = shunt_str("/tmp/a"), .newdirh = SHUNT_AT_ROOT,
                .newpath = shunt_str("/tmp/b"), .flags = 1};
            break;
        case SHUNT_T_CHOWN:
            m.u.chown = (shunt_chown_t){.dirh = 7,
                .path = shunt_str("../etc/passwd"), .uid = 0,
                .gid = 0xffffffffu, .flags = 0x100};
            break;
        case SHUNT_T_FCHOWN:
            m.u.fchown = (shunt_fchown_t){.handle = 4, .uid = 1000, .gid = 1000};
            break;
        case SHUNT_T_LINK:
            m.u.link = (shunt_link_t){.olddirh = SHUNT_AT_ROOT,
                .oldpath = shunt_str("/proc/self/root/etc/shadow"),
                .newdirh = 3, .newpath = shunt_str("x"), .flags = 0x400};
            break;
        case SHUNT_T_MKNOD:
            m.u.mknod = (shunt_mknod_t){.dirh = SHUNT_AT_ROOT,
                .path = shunt_str("/dev/mem2"), .mode = 020600, .dev = 0x103};
            break;
        case SHUNT_T_DATA:
        case SHUNT_T_WRITE:
        case SHUNT_T_DATA_R:
            m.u.data = (shunt_data_t){.stream = 1,
                                      .data = shunt_bytes(blob, sizeof(blob))};
            if (t == SHUNT_T_WRITE)
                m.u.write = (shunt_write_t){.handle = 4,
                                .data = shunt_bytes(blob, 64)};
            if (t == SHUNT_T_DATA_R)
                m.u.data_r = (shunt_data_r_t){.data = shunt_bytes(blob, 100)};
            break;
        case SHUNT_T_DIRENTS_R:
            m.u.dirents_r = (shunt_dirents_r_t){.eof = 1,
                .entries = {2, lw[0].data, (uint32_t)lw[0].len}};
            break;
        case SHUNT_T_GAI_R:
            m.u.gai_r = (shunt_gai_r_t){.addrs = {1, lw[1].data,
                                                  (uint32_t)lw[1].len}};
            break;
        case SHUNT_T_ENV_R:
            m.u.env_r = (shunt_env_r_t){.vars = {2, lw[2].data,
                                                 (uint32_t)lw[2].len}};
            break;
        case SHUNT_T_GETADDRINFO:
            m.u.getaddrinfo = (shunt_getaddrinfo_t){.has_node = 1,
                .node = shunt_str("api.cluster"), .has_service = 1,
                .service = shunt_str("http"), .family = 0, .socktype = 1};
            break;
        case SHUNT_T_CONNECT:
            m.u.connect = (shunt_connect_t){.socktype = 1, .family = 2,
                .addr = shunt_bytes(ip4, 4), .port = 8080, .timeout_ms = 1000};
            break;
        default:
            break;
        }
        shunt_wbuf_t w;
        shunt_wbuf_init(&w);
        uint16_t flags = shunt_msg_is_oneway(t) ? SHUNT_FLAG_ONEWAY : 0;
        if (shunt_encode(&w, t, flags, i + 1, &m.u, SHUNT_FRAME_DEFAULT) != 0) {
            fprintf(stderr, "cannot encode %s\n", shunt_msg_name(t));
            rc = 1;
        } else {
            char name[64];
            snprintf(name, sizeof(name), "%04x-%s", t, shunt_msg_name(t));
            if (write_seed(dir, name, &w) < 0)
                rc = 1;
        }
        shunt_wbuf_free(&w);
    }
    for (int i = 0; i < 3; i++)
        shunt_wbuf_free(&lw[i]);
    return rc;
}
