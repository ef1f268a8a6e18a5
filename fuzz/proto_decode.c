/* libFuzzer target: the frame decoder.  Oracle: a frame that decodes must
 * re-encode to exactly the same bytes (the encoding is canonical), and its
 * lists must iterate to the end without error. */
#include "shunt/proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_lists(const shunt_msg_t *m)
{
    shunt_list_iter_t it;
    switch (m->type) {
    case SHUNT_T_DIRENTS_R: {
        shunt_rec_dirent_t r;
        shunt_list_iter_init(&it, &m->u.dirents_r.entries);
        while (shunt_list_next_rec_dirent(&it, &r) == 1)
            ;
        if (it.left)
            abort();
        break;
    }
    case SHUNT_T_ENV_R: {
        shunt_rec_str_t r;
        shunt_list_iter_init(&it, &m->u.env_r.vars);
        while (shunt_list_next_rec_str(&it, &r) == 1)
            ;
        if (it.left)
            abort();
        break;
    }
    case SHUNT_T_GAI_R: {
        shunt_rec_addrinfo_t r;
        shunt_list_iter_init(&it, &m->u.gai_r.addrs);
        while (shunt_list_next_rec_addrinfo(&it, &r) == 1)
            ;
        if (it.left)
            abort();
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shunt_hdr_t h;
    (void)shunt_hdr_parse(data, size, SHUNT_FRAME_DEFAULT, &h);
    shunt_msg_t m;
    int r = shunt_decode(data, size, &m);
    if (r != 0)
        return 0;
    walk_lists(&m);
    char line[256];
    shunt_msg_format(&m, line, sizeof(line));
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    if (shunt_encode(&w, m.type, m.flags, m.id, &m.u, UINT32_MAX) != 0 ||
        w.len != size || memcmp(w.data, data, size) != 0)
        abort();
    shunt_wbuf_free(&w);
    return 0;
}
