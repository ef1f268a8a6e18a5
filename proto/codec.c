/* Encoders, decoders, names and the debug printer, generated from
 * messages.def.  Decoders check every length against what remains. */
#include "shunt/proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffers ------------------------------------------------------------ */

void shunt_wbuf_init(shunt_wbuf_t *w) { memset(w, 0, sizeof(*w)); }

void shunt_wbuf_free(shunt_wbuf_t *w)
{
    free(w->data);
    memset(w, 0, sizeof(*w));
}

void shunt_wbuf_reset(shunt_wbuf_t *w)
{
    w->len = w->head = 0;
    w->err = 0;
}

int shunt_wbuf_reserve(shunt_wbuf_t *w, size_t extra)
{
    if (w->head > 0 && w->head == w->len) {
        w->head = w->len = 0;
    } else if (w->head > 0 && w->head >= w->cap / 2) {
        /* Compact a send queue whose sent prefix has grown large. */
        memmove(w->data, w->data + w->head, w->len - w->head);
        w->len -= w->head;
        w->head = 0;
    }
    if (extra > SIZE_MAX / 2 - w->len)
        return -ENOMEM;
    size_t need = w->len + extra;
    if (need <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(w->data, cap);
    if (!p)
        return -ENOMEM;
    w->data = p;
    w->cap = cap;
    return 0;
}

int shunt_wbuf_append(shunt_wbuf_t *w, const void *p, size_t n)
{
    int r = shunt_wbuf_reserve(w, n);
    if (r < 0)
        return r;
    if (n)
        memcpy(w->data + w->len, p, n);
    w->len += n;
    return 0;
}

/* ---- primitive writers: latch the first error in w->err ----------------- */

static void put_raw(shunt_wbuf_t *w, const void *p, size_t n)
{
    if (w->err)
        return;
    int r = shunt_wbuf_append(w, p, n);
    if (r < 0)
        w->err = r;
}

static void put_le(shunt_wbuf_t *w, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put_raw(w, b, n);
}

static void put_U8(shunt_wbuf_t *w, uint8_t v) { put_le(w, v, 1); }
static void put_U16(shunt_wbuf_t *w, uint16_t v) { put_le(w, v, 2); }
static void put_U32(shunt_wbuf_t *w, uint32_t v) { put_le(w, v, 4); }
static void put_U64(shunt_wbuf_t *w, uint64_t v) { put_le(w, v, 8); }
static void put_I32(shunt_wbuf_t *w, int32_t v) { put_le(w, (uint32_t)v, 4); }
static void put_I64(shunt_wbuf_t *w, int64_t v) { put_le(w, (uint64_t)v, 8); }

static void put_BYTES(shunt_wbuf_t *w, shunt_bytes_t v)
{
    put_U32(w, v.len);
    if (v.len)
        put_raw(w, v.p, v.len);
}

static void put_STR(shunt_wbuf_t *w, shunt_str_t v)
{
    if (v.len && memchr(v.p, 0, v.len)) {
        if (!w->err)
            w->err = -EINVAL; /* strings never carry NUL on the wire */
        return;
    }
    put_U32(w, v.len);
    if (v.len)
        put_raw(w, v.p, v.len);
}

static void put_list(shunt_wbuf_t *w, const shunt_list_t *l)
{
    put_U32(w, l->count);
    put_U32(w, l->len);
    if (l->len)
        put_raw(w, l->p, l->len);
}

/* ---- primitive readers: return -1 when the buffer runs out -------------- */

static int get_le(shunt_rbuf_t *r, uint64_t *v, unsigned n)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    *v = x;
    return 0;
}

#define DEFINE_GET(K, T, N)                                                \
    static int get_##K(shunt_rbuf_t *r, T *out)                            \
    {                                                                      \
        uint64_t v;                                                        \
        if (get_le(r, &v, N))                                              \
            return -1;                                                     \
        *out = (T)v;                                                       \
        return 0;                                                          \
    }
DEFINE_GET(U8, uint8_t, 1)
DEFINE_GET(U16, uint16_t, 2)
DEFINE_GET(U32, uint32_t, 4)
DEFINE_GET(U64, uint64_t, 8)
DEFINE_GET(I32, int32_t, 4)
DEFINE_GET(I64, int64_t, 8)

static int get_BYTES(shunt_rbuf_t *r, shunt_bytes_t *out)
{
    uint32_t n;
    if (get_U32(r, &n) || (size_t)(r->end - r->p) < n)
        return -1;
    out->p = r->p; /* never NULL, even when empty */
    out->len = n;
    r->p += n;
    return 0;
}

static int get_STR(shunt_rbuf_t *r, shunt_str_t *out)
{
    shunt_bytes_t b;
    if (get_BYTES(r, &b))
        return -1;
    if (b.len && memchr(b.p, 0, b.len))
        return -1;
    out->p = (const char *)b.p;
    out->len = b.len;
    return 0;
}

typedef int (*rec_check_fn)(shunt_rbuf_t *r);

/* A list is u32 count | u32 byte length | records; the records must fill
 * the byte length exactly. */
static int get_list(shunt_rbuf_t *r, shunt_list_t *out, rec_check_fn check)
{
    uint32_t count, len;
    if (get_U32(r, &count) || get_U32(r, &len) ||
        (size_t)(r->end - r->p) < len)
        return -1;
    /* Every record is at least 1 byte: bounds the walk below. */
    if (count > len)
        return -1;
    shunt_rbuf_t sub = {r->p, r->p + len};
    for (uint32_t i = 0; i < count; i++)
        if (check(&sub))
            return -1;
    if (sub.p != sub.end)
        return -1;
    out->count = count;
    out->p = r->p;
    out->len = len;
    r->p += len;
    return 0;
}

/* ---- generated: encoders ------------------------------------------------ */

#define REC(l) static void enc_##l(shunt_wbuf_t *w, const shunt_##l##_t *m) {
#define MSG(NAME, id, l) REC(l)
#define F(K, n) put_##K(w, m->n);
#define L(r, n) put_list(w, &m->n);
#define END(l) }
#include "../messages.def"
#include "../messages_end.h"

/* ---- generated: decoders ------------------------------------------------ */

#define REC(l)                                                             \
    static int dec_##l(shunt_rbuf_t *r, shunt_##l##_t *m);                 \
    static int chk_##l(shunt_rbuf_t *r)                                    \
    {                                                                      \
        shunt_##l##_t t;                                                   \
        return dec_##l(r, &t);                                             \
    }                                                                      \
    static int dec_##l(shunt_rbuf_t *r, shunt_##l##_t *m)                  \
    {
#define MSG(NAME, id, l)                                                   \
    static int dec_##l(shunt_rbuf_t *r, shunt_##l##_t *m)                  \
    {
#define F(K, n)                                                            \
    if (get_##K(r, &m->n))                                                 \
        return -1;
#define L(rec, n)                                                          \
    if (get_list(r, &m->n, chk_##rec))                                     \
        return -1;
#define END(l)                                                             \
    return 0;                                                              \
    }
#include "../messages.def"
#include "../messages_end.h"

/* ---- generated: public record helpers ----------------------------------- */

#define REC(l)                                                             \
    int shunt_put_##l(shunt_wbuf_t *w, const shunt_##l##_t *r)             \
    {                                                                      \
        size_t before = w->len - w->head;                                  \
        int saved = w->err;                                                \
        w->err = 0;                                                        \
        enc_##l(w, r);                                                     \
        int e = w->err;                                                    \
        if (e) {                                                           \
            w->len = w->head + before;                                     \
            w->err = saved;                                                \
            return e;                                                      \
        }                                                                  \
        w->err = saved;                                                    \
        return 0;                                                          \
    }                                                                      \
    int shunt_list_next_##l(shunt_list_iter_t *it, shunt_##l##_t *r)       \
    {                                                                      \
        if (it->left == 0)                                                 \
            return 0;                                                      \
        shunt_rbuf_t rb = {it->p, it->end};                                \
        if (dec_##l(&rb, r))                                               \
            return -EPROTO;                                                \
        it->p = rb.p;                                                      \
        it->left--;                                                        \
        return 1;                                                          \
    }
#define MSG(NAME, id, l)
#define F(K, n)
#define L(r, n)
#define END(l)
#include "../messages.def"
#include "../messages_end.h"

void shunt_list_iter_init(shunt_list_iter_t *it, const shunt_list_t *l)
{
    it->p = l->p;
    it->end = l->p ? l->p + l->len : NULL;
    it->left = l->count;
}

/* ---- generated: type table and names ------------------------------------ */

const uint16_t shunt_msg_types[] = {
#define REC(l)
#define MSG(NAME, id, l) SHUNT_T_##NAME,
#define F(K, n)
#define L(r, n)
#define END(l)
#include "../messages.def"
#include "../messages_end.h"
};
const size_t shunt_msg_type_count =
    sizeof(shunt_msg_types) / sizeof(shunt_msg_types[0]);

const char *shunt_msg_name(uint16_t type)
{
    switch (type) {
#define REC(l)
#define MSG(NAME, id, l)                                                   \
    case SHUNT_T_##NAME:                                                   \
        return #NAME;
#define F(K, n)
#define L(r, n)
#define END(l)
#include "../messages.def"
#include "../messages_end.h"
    }
    return NULL;
}

int shunt_msg_known(uint16_t type) { return shunt_msg_name(type) != NULL; }

int shunt_msg_is_response(uint16_t type)
{
    const char *n = shunt_msg_name(type);
    if (!n)
        return 0;
    size_t len = strlen(n);
    return type == SHUNT_T_ERROR || type == SHUNT_T_OK ||
           type == SHUNT_T_PONG || (len > 2 && strcmp(n + len - 2, "_R") == 0);
}

int shunt_msg_is_oneway(uint16_t type)
{
    return type == SHUNT_T_DATA || type == SHUNT_T_WINDOW ||
           type == SHUNT_T_SHUTDOWN || type == SHUNT_T_SCLOSE ||
           type == SHUNT_T_WATCH_EVENT;
}

/* ---- generated: the kind of each message's last field ------------------- */

enum { KIND_NONE, KIND_U8, KIND_U16, KIND_U32, KIND_U64, KIND_I32, KIND_I64,
       KIND_STR, KIND_BYTES, KIND_LIST };

#define REC(l)                                                             \
    __attribute__((unused)) static int lastkind_##l(void)                  \
    {                                                                      \
        int k = KIND_NONE;
#define MSG(NAME, id, l) REC(l)
#define F(K, n) k = KIND_##K;
#define L(r, n) k = KIND_LIST;
#define END(l)                                                             \
    return k;                                                              \
    }
#include "../messages.def"
#include "../messages_end.h"

static int last_kind(uint16_t type)
{
    switch (type) {
#define REC(l)
#define MSG(NAME, id, l)                                                   \
    case SHUNT_T_##NAME:                                                   \
        return lastkind_##l();
#define F(K, n)
#define L(r, n)
#define END(l)
#include "../messages.def"
#include "../messages_end.h"
    }
    return KIND_NONE;
}

/* ---- frames ------------------------------------------------------------- */

int shunt_hdr_parse(const uint8_t *buf, size_t avail, uint32_t max_frame,
                    shunt_hdr_t *h)
{
    if (avail < SHUNT_HDR_LEN)
        return 0;
    shunt_rbuf_t r = {buf, buf + SHUNT_HDR_LEN};
    get_U32(&r, &h->length);
    get_U16(&r, &h->type);
    get_U16(&r, &h->flags);
    get_U64(&r, &h->id);
    if ((uint64_t)h->length + SHUNT_HDR_LEN > max_frame)
        return -EMSGSIZE;
    return 1;
}

int shunt_decode(const uint8_t *frame, size_t len, shunt_msg_t *m)
{
    shunt_hdr_t h;
    memset(m, 0, sizeof(*m));
    if (shunt_hdr_parse(frame, len, UINT32_MAX, &h) != 1)
        return -EPROTO;
    m->type = h.type;
    m->flags = h.flags;
    m->id = h.id;
    if ((uint64_t)h.length + SHUNT_HDR_LEN != len)
        return -EPROTO;
    shunt_rbuf_t r = {frame + SHUNT_HDR_LEN, frame + len};
    int bad;
    switch (h.type) {
#define REC(l)
#define MSG(NAME, id, l)                                                   \
    case SHUNT_T_##NAME:                                                   \
        bad = dec_##l(&r, &m->u.l);                                        \
        break;
#define F(K, n)
#define L(r, n)
#define END(l)
#include "../messages.def"
#include "../messages_end.h"
    default:
        return -ENOSYS;
    }
    if (bad || r.p != r.end)
        return -EPROTO;
    return 0;
}

int shunt_encode(shunt_wbuf_t *w, uint16_t type, uint16_t flags, uint64_t id,
                 const void *body, uint32_t max_frame)
{
    if (!shunt_msg_known(type))
        return -ENOSYS;
    /* Appending may compact the buffer (moving pending bytes to the front),
     * so positions are kept relative to head. */
    size_t before = w->len - w->head;
    int saved = w->err;
    w->err = 0;
    put_U32(w, 0); /* length, patched below */
    put_U16(w, type);
    put_U16(w, flags);
    put_U64(w, id);
    switch (type) {
#define REC(l)
#define MSG(NAME, id, l)                                                   \
    case SHUNT_T_##NAME:                                                   \
        enc_##l(w, (const shunt_##l##_t *)body);                           \
        break;
#define F(K, n)
#define L(r, n)
#define END(l)
#include "../messages.def"
#include "../messages_end.h"
    }
    int err = w->err;
    size_t start = w->head + before;
    size_t total = w->len - start;
    if (!err && total > max_frame)
        err = -EMSGSIZE;
    if (err) {
        w->len = start;
        w->err = saved;
        return err;
    }
    uint32_t plen = (uint32_t)(total - SHUNT_HDR_LEN);
    for (unsigned i = 0; i < 4; i++)
        w->data[start + i] = (uint8_t)(plen >> (8 * i));
    w->err = saved;
    return 0;
}

uint8_t *shunt_encode_bytes_begin(shunt_wbuf_t *w, uint16_t type,
                                  uint16_t flags, uint64_t id,
                                  const void *body, size_t max,
                                  uint32_t max_frame, int *err)
{
    if (last_kind(type) != KIND_BYTES) {
        *err = shunt_msg_known(type) ? -EINVAL : -ENOSYS;
        return NULL;
    }
    size_t before = w->len - w->head;
    int r = shunt_encode(w, type, flags, id, body, max_frame);
    if (r < 0) {
        *err = r;
        return NULL;
    }
    size_t framelen = w->len - w->head - before;
    const uint8_t *z = w->data + w->len - 4;
    if (z[0] | z[1] | z[2] | z[3]) {
        w->len -= framelen; /* the caller must leave the BYTES field empty */
        *err = -EINVAL;
        return NULL;
    }
    if (framelen + max > max_frame) {
        w->len -= framelen;
        *err = -EMSGSIZE;
        return NULL;
    }
    /* reserve() may move the pending bytes, but the open frame stays the
     * last framelen bytes: remember its size, not its offset. */
    if ((r = shunt_wbuf_reserve(w, max)) < 0) {
        w->len -= framelen;
        *err = r;
        return NULL;
    }
    w->mark = framelen;
    return w->data + w->len;
}

void shunt_encode_bytes_end(shunt_wbuf_t *w, size_t n)
{
    uint8_t *frame = w->data + w->len - w->mark;
    uint32_t plen = (uint32_t)(w->mark - SHUNT_HDR_LEN + n);
    for (unsigned i = 0; i < 4; i++) {
        frame[i] = (uint8_t)(plen >> (8 * i));
        w->data[w->len - 4 + i] = (uint8_t)(n >> (8 * i));
    }
    w->len += n;
    w->mark = 0;
}

void shunt_encode_bytes_cancel(shunt_wbuf_t *w)
{
    w->len -= w->mark;
    w->mark = 0;
}

int shunt_encode_error(shunt_wbuf_t *w, uint64_t id, int err, const char *msg,
                       uint32_t max_frame)
{
    shunt_error_t e = {.err = err, .msg = shunt_str(msg)};
    if (e.msg.len > 512)
        e.msg.len = 512;
    return shunt_encode(w, SHUNT_T_ERROR, 0, id, &e, max_frame);
}

int shunt_encode_ok(shunt_wbuf_t *w, uint64_t id, int64_t ret,
                    uint32_t max_frame)
{
    shunt_ok_t ok = {.ret = ret};
    return shunt_encode(w, SHUNT_T_OK, 0, id, &ok, max_frame);
}

/* ---- values ------------------------------------------------------------- */

shunt_str_t shunt_str(const char *s)
{
    shunt_str_t v = {s ? s : "", s ? (uint32_t)strlen(s) : 0};
    return v;
}

shunt_bytes_t shunt_bytes(const void *p, size_t len)
{
    shunt_bytes_t v = {p, (uint32_t)len};
    return v;
}

int shunt_str_copy(char *out, size_t outlen, shunt_str_t s)
{
    if ((size_t)s.len >= outlen)
        return -ENAMETOOLONG;
    if (s.len)
        memcpy(out, s.p, s.len);
    out[s.len] = 0;
    return 0;
}

int shunt_str_eq(shunt_str_t s, const char *c)
{
    size_t n = strlen(c);
    return n == s.len && (n == 0 || memcmp(s.p, c, n) == 0);
}

/* ---- generated: debug printer ------------------------------------------- */

typedef struct {
    char *out;
    size_t len, cap;
} pbuf_t;

__attribute__((format(printf, 2, 3))) static void pr(pbuf_t *p,
                                                     const char *fmt, ...)
{
    if (p->len + 1 >= p->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->out + p->len, p->cap - p->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    p->len += (size_t)n;
    if (p->len >= p->cap)
        p->len = p->cap - 1;
}

static void pr_U8(pbuf_t *p, const char *n, uint8_t v) { pr(p, " %s=%u", n, v); }
static void pr_U16(pbuf_t *p, const char *n, uint16_t v) { pr(p, " %s=%u", n, v); }
static void pr_U32(pbuf_t *p, const char *n, uint32_t v) { pr(p, " %s=%u", n, v); }
static void pr_U64(pbuf_t *p, const char *n, uint64_t v)
{
    pr(p, " %s=%llu", n, (unsigned long long)v);
}
static void pr_I32(pbuf_t *p, const char *n, int32_t v) { pr(p, " %s=%d", n, v); }
static void pr_I64(pbuf_t *p, const char *n, int64_t v)
{
    pr(p, " %s=%lld", n, (long long)v);
}

static void pr_STR(pbuf_t *p, const char *n, shunt_str_t v)
{
    pr(p, " %s=\"", n);
    for (uint32_t i = 0; i < v.len && i < 96; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            pr(p, "%c", c);
        else
            pr(p, "\\x%02x", c);
    }
    pr(p, v.len > 96 ? "\"...(%u)" : "\"", v.len);
}

static void pr_BYTES(pbuf_t *p, const char *n, shunt_bytes_t v)
{
    pr(p, " %s=<%u bytes", n, v.len);
    for (uint32_t i = 0; i < v.len && i < 16; i++)
        pr(p, "%s%02x", i ? "" : " ", v.p[i]);
    pr(p, v.len > 16 ? "...>" : ">");
}

#define REC(l)                                                             \
    static void print_##l(pbuf_t *p, const shunt_##l##_t *m)               \
    {
#define MSG(NAME, id, l) REC(l)
#define F(K, n) pr_##K(p, #n, m->n);
#define L(rec, n)                                                          \
    do {                                                                   \
        shunt_list_iter_t it;                                              \
        shunt_##rec##_t item;                                              \
        shunt_list_iter_init(&it, &m->n);                                  \
        pr(p, " %s=[%u:", #n, m->n.count);                                 \
        for (int k = 0; k < 4 && shunt_list_next_##rec(&it, &item) == 1;   \
             k++) {                                                        \
            pr(p, " {");                                                   \
            print_##rec(p, &item);                                         \
            pr(p, " }");                                                   \
        }                                                                  \
        pr(p, "%s]", m->n.count > 4 ? " ..." : "");                        \
    } while (0);
#define END(l) }
#include "../messages.def"
#include "../messages_end.h"

size_t shunt_msg_format(const shunt_msg_t *m, char *out, size_t outlen)
{
    pbuf_t p = {out, 0, outlen};
    if (outlen == 0)
        return 0;
    out[0] = 0;
    const char *name = shunt_msg_name(m->type);
    pr(&p, "%s#%llu", name ? name : "UNKNOWN", (unsigned long long)m->id);
    if (m->flags)
        pr(&p, " flags=0x%x", m->flags);
    switch (m->type) {
#define REC(l)
#define MSG(NAME, id, l)                                                   \
    case SHUNT_T_##NAME:                                                   \
        print_##l(&p, &m->u.l);                                            \
        break;
#define F(K, n)
#define L(r, n)
#define END(l)
#include "../messages.def"
#include "../messages_end.h"
    default:
        pr(&p, " type=0x%04x", m->type);
    }
    return p.len;
}
