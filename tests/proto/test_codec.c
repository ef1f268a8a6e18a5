/* Codec tests: every message round-trips; every truncation and every
 * oversize frame is rejected; unknown types decode as -ENOSYS. */
#include "shunt/hello.h"
#include "shunt/proto.h"
#include "shunt/frameio.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- filling and comparing any message, generated from the table ------- */

typedef struct {
    unsigned seed;
    char strs[64][32];
    int nstr;
    shunt_wbuf_t lists[16];
    int nlist;
} filler_t;

static void fill_U8(filler_t *f, uint8_t *v) { *v = (uint8_t)(f->seed++ * 37u); }
static void fill_U16(filler_t *f, uint16_t *v) { *v = (uint16_t)(f->seed++ * 4099u); }
static void fill_U32(filler_t *f, uint32_t *v) { *v = f->seed++ * 2654435761u; }
static void fill_U64(filler_t *f, uint64_t *v)
{
    *v = (uint64_t)(f->seed++) * 0x9e3779b97f4a7c15ull;
}
static void fill_I32(filler_t *f, int32_t *v) { *v = -(int32_t)(f->seed++ * 7919u); }
static void fill_I64(filler_t *f, int64_t *v) { *v = -(int64_t)(f->seed++) * 1000000007ll; }
static void fill_STR(filler_t *f, shunt_str_t *v)
{
    assert_true(f->nstr < 64);
    char *s = f->strs[f->nstr++];
    snprintf(s, 32, "s%u/\xc3\xa9\t", f->seed++);
    *v = shunt_str(s);
}
static void fill_BYTES(filler_t *f, shunt_bytes_t *v)
{
    assert_true(f->nstr < 64);
    char *s = f->strs[f->nstr++];
    unsigned n = f->seed++ % 20;
    for (unsigned i = 0; i < n; i++)
        s[i] = (char)(i * 31 + f->seed); /* NUL allowed in bytes */
    *v = shunt_bytes(s, n);
}

#define REC(l)                                                             \
    static void fill_##l(filler_t *f, shunt_##l##_t *m)                    \
    {
#define MSG(NAME, id, l, what) REC(l)
#define F(K, n) fill_##K(f, &m->n);
#define L(rec, n)                                                          \
    do {                                                                   \
        assert_true(f->nlist < 16);                                        \
        shunt_wbuf_t *w = &f->lists[f->nlist++];                           \
        shunt_wbuf_init(w);                                                \
        unsigned cnt = f->seed++ % 4;                                      \
        for (unsigned i = 0; i < cnt; i++) {                               \
            shunt_##rec##_t item;                                          \
            memset(&item, 0, sizeof(item));                                \
            fill_##rec(f, &item);                                          \
            assert_int_equal(shunt_put_##rec(w, &item), 0);                \
        }                                                                  \
        m->n.count = cnt;                                                  \
        m->n.p = w->data;                                                  \
        m->n.len = (uint32_t)w->len;                                       \
    } while (0);
#define END(l) }
#include "messages.def"
#include "messages_end.h"

static void same_STR(shunt_str_t a, shunt_str_t b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.p, b.p, a.len);
}
static void same_BYTES(shunt_bytes_t a, shunt_bytes_t b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.p, b.p, a.len);
}
#define SAME_INT(K)                                                        \
    static void same_##K(uint64_t a, uint64_t b) { assert_int_equal(a, b); }
SAME_INT(U8)
SAME_INT(U16)
SAME_INT(U32)
SAME_INT(U64)
SAME_INT(I32)
SAME_INT(I64)

#define REC(l)                                                             \
    static void same_##l(const shunt_##l##_t *a, const shunt_##l##_t *b)   \
    {
#define MSG(NAME, id, l, what) REC(l)
#define F(K, n) same_##K(a->n, b->n);
#define L(rec, n)                                                          \
    do {                                                                   \
        assert_int_equal(a->n.count, b->n.count);                          \
        shunt_list_iter_t ia, ib;                                          \
        shunt_list_iter_init(&ia, &a->n);                                  \
        shunt_list_iter_init(&ib, &b->n);                                  \
        shunt_##rec##_t ra, rb;                                            \
        for (uint32_t i = 0; i < a->n.count; i++) {                        \
            assert_int_equal(shunt_list_next_##rec(&ia, &ra), 1);          \
            assert_int_equal(shunt_list_next_##rec(&ib, &rb), 1);          \
            same_##rec(&ra, &rb);                                          \
        }                                                                  \
        assert_int_equal(shunt_list_next_##rec(&ib, &rb), 0);              \
    } while (0);
#define END(l) }
#include "messages.def"
#include "messages_end.h"

/* Encodes message `type` filled from `seed` into w; returns the body. */
static void encode_filled(shunt_wbuf_t *w, filler_t *f, uint16_t type,
                          uint64_t id, shunt_msg_t *body)
{
    memset(body, 0, sizeof(*body));
    switch (type) {
#define REC(l)
#define MSG(NAME, id_, l, what)                                            \
    case SHUNT_T_##NAME:                                                   \
        fill_##l(f, &body->u.l);                                           \
        break;
#define F(K, n)
#define L(r, n)
#define END(l)
#include "messages.def"
#include "messages_end.h"
    default:
        fail();
    }
    body->type = type;
    body->id = id;
    assert_int_equal(shunt_encode(w, type, 0, id, &body->u, SHUNT_FRAME_DEFAULT), 0);
}

static void same_msg(const shunt_msg_t *a, const shunt_msg_t *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->id, b->id);
    switch (a->type) {
#define REC(l)
#define MSG(NAME, id_, l, what)                                            \
    case SHUNT_T_##NAME:                                                   \
        same_##l(&a->u.l, &b->u.l);                                        \
        break;
#define F(K, n)
#define L(r, n)
#define END(l)
#include "messages.def"
#include "messages_end.h"
    default:
        fail();
    }
}

static void filler_free(filler_t *f)
{
    for (int i = 0; i < f->nlist; i++)
        shunt_wbuf_free(&f->lists[i]);
}

/* ---- tests -------------------------------------------------------------- */

static void test_every_message_round_trips(void **state)
{
    (void)state;
    assert_true(shunt_msg_type_count >= 40);
    for (unsigned seed = 1; seed < 40; seed += 13) {
        for (size_t i = 0; i < shunt_msg_type_count; i++) {
            uint16_t t = shunt_msg_types[i];
            filler_t f = {.seed = seed + (unsigned)i};
            shunt_wbuf_t w;
            shunt_wbuf_init(&w);
            shunt_msg_t in, out;
            encode_filled(&w, &f, t, 1000 + i, &in);
            assert_int_equal(shunt_decode(w.data, w.len, &out), 0);
            same_msg(&in, &out);
            char line[512];
            assert_true(shunt_msg_format(&out, line, sizeof(line)) > 0);
            assert_non_null(strstr(line, shunt_msg_name(t)));
            shunt_wbuf_free(&w);
            filler_free(&f);
        }
    }
}

static void test_every_truncation_is_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < shunt_msg_type_count; i++) {
        uint16_t t = shunt_msg_types[i];
        filler_t f = {.seed = 7 + (unsigned)i};
        shunt_wbuf_t w;
        shunt_wbuf_init(&w);
        shunt_msg_t in, out;
        encode_filled(&w, &f, t, 5, &in);
        for (size_t cut = 0; cut < w.len; cut++) {
            /* A copy of exactly cut bytes, so ASan catches any over-read. */
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, w.data, cut);
            assert_int_equal(shunt_decode(copy, cut, &out), -EPROTO);
            /* Also a frame whose length field claims the shorter payload. */
            if (cut >= SHUNT_HDR_LEN) {
                uint32_t plen = (uint32_t)(cut - SHUNT_HDR_LEN);
                for (int b = 0; b < 4; b++)
                    copy[b] = (uint8_t)(plen >> (8 * b));
                assert_int_equal(shunt_decode(copy, cut, &out), -EPROTO);
            }
            free(copy);
        }
        /* One trailing byte too many is malformed too. */
        uint8_t *longer = malloc(w.len + 1);
        memcpy(longer, w.data, w.len);
        longer[w.len] = 0;
        uint32_t plen = (uint32_t)(w.len + 1 - SHUNT_HDR_LEN);
        for (int b = 0; b < 4; b++)
            longer[b] = (uint8_t)(plen >> (8 * b));
        assert_int_equal(shunt_decode(longer, w.len + 1, &out), -EPROTO);
        free(longer);
        shunt_wbuf_free(&w);
        filler_free(&f);
    }
}

static void test_oversize_frames_are_rejected(void **state)
{
    (void)state;
    /* Header claiming more than the limit. */
    uint8_t hdr[SHUNT_HDR_LEN] = {0};
    uint32_t big = SHUNT_FRAME_DEFAULT; /* + header > limit */
    for (int b = 0; b < 4; b++)
        hdr[b] = (uint8_t)(big >> (8 * b));
    hdr[4] = SHUNT_T_PING & 0xff;
    shunt_hdr_t h;
    assert_int_equal(shunt_hdr_parse(hdr, sizeof(hdr), SHUNT_FRAME_DEFAULT, &h),
                     -EMSGSIZE);
    uint8_t max_hdr[SHUNT_HDR_LEN] = {0xff, 0xff, 0xff, 0xff, 0x05, 0};
    assert_int_equal(shunt_hdr_parse(max_hdr, sizeof(max_hdr),
                                     SHUNT_FRAME_HARD_MAX, &h),
                     -EMSGSIZE);
    /* Encoding beyond the limit fails and leaves the buffer unchanged. */
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    size_t n = SHUNT_FRAME_MIN;
    uint8_t *blob = calloc(1, n);
    shunt_data_r_t d = {.data = shunt_bytes(blob, n)};
    assert_int_equal(shunt_encode(&w, SHUNT_T_DATA_R, 0, 1, &d, SHUNT_FRAME_MIN),
                     -EMSGSIZE);
    assert_int_equal(w.len, 0);
    d.data.len = SHUNT_DATA_MAX(SHUNT_FRAME_MIN);
    assert_int_equal(shunt_encode(&w, SHUNT_T_DATA_R, 0, 1, &d, SHUNT_FRAME_MIN), 0);
    /* The receive buffer refuses a frame above its limit. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    shunt_wbuf_t big_w;
    shunt_wbuf_init(&big_w);
    d.data.len = (uint32_t)n;
    assert_int_equal(shunt_encode(&big_w, SHUNT_T_DATA_R, 0, 2, &d,
                                  SHUNT_FRAME_DEFAULT), 0);
    assert_int_equal(write(sv[0], big_w.data, SHUNT_HDR_LEN), SHUNT_HDR_LEN);
    shunt_rx_t rx;
    assert_int_equal(shunt_rx_init(&rx, SHUNT_FRAME_MIN), 0);
    const uint8_t *fr;
    size_t flen;
    assert_int_equal(shunt_recv_frame(sv[1], &rx, 1000, &fr, &flen), -EMSGSIZE);
    shunt_rx_free(&rx);
    close(sv[0]);
    close(sv[1]);
    shunt_wbuf_free(&big_w);
    shunt_wbuf_free(&w);
    free(blob);
}

static void test_unknown_type_is_enosys(void **state)
{
    (void)state;
    uint8_t frame[SHUNT_HDR_LEN + 3] = {3, 0, 0, 0, 0xee, 0x7e, 0, 0, 42};
    shunt_msg_t m;
    assert_int_equal(shunt_decode(frame, sizeof(frame), &m), -ENOSYS);
    assert_int_equal(m.type, 0x7eee);
    assert_int_equal(m.id, 42);
    assert_null(shunt_msg_name(0x7eee));
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    shunt_ping_t p = {.nonce = 1};
    assert_int_equal(shunt_encode(&w, 0x7eee, 0, 1, &p, SHUNT_FRAME_DEFAULT),
                     -ENOSYS);
    shunt_wbuf_free(&w);
}

/* The kind column: every request's answers are answers, every answer
 * but ERROR (which answers every request) answers some request, and the
 * stream traffic is one-way. */
static void test_every_message_says_what_it_is(void **state)
{
    (void)state;
    for (size_t i = 0; i < shunt_msg_type_count; i++) {
        uint16_t t = shunt_msg_types[i];
        const shunt_msg_info_t *in = shunt_msg_info(t);
        assert_non_null(in);
        assert_int_equal(in->type, t);
        assert_string_equal(in->name, shunt_msg_name(t));
        assert_int_equal(shunt_msg_is_request(t) + shunt_msg_is_response(t) +
                             shunt_msg_is_oneway(t),
                         1);
        if (in->kind == SHUNT_KIND_REQUEST) {
            assert_true(in->nanswers >= 1);
            for (unsigned k = 0; k < in->nanswers; k++) {
                if (shunt_msg_kind(in->answers[k]) != SHUNT_KIND_ANSWER ||
                    in->answers[k] == SHUNT_T_ERROR)
                    fail_msg("%s lists %s, which is not an answer", in->name,
                             shunt_msg_name(in->answers[k]));
                assert_true(shunt_msg_answers(t, in->answers[k]));
            }
            assert_true(shunt_msg_answers(t, SHUNT_T_ERROR));
        } else {
            assert_int_equal(in->nanswers, 0);
            assert_int_equal(shunt_msg_answers(t, SHUNT_T_ERROR),
                             in->kind != SHUNT_KIND_ONEWAY);
        }
        if (in->kind == SHUNT_KIND_ANSWER && t != SHUNT_T_ERROR) {
            int answers_some = 0;
            for (size_t j = 0; j < shunt_msg_type_count; j++)
                answers_some |= shunt_msg_is_request(shunt_msg_types[j]) &&
                                shunt_msg_answers(shunt_msg_types[j], t);
            if (!answers_some)
                fail_msg("%s answers no request", in->name);
        }
    }
    assert_true(shunt_msg_is_oneway(SHUNT_T_DATA));
    assert_true(shunt_msg_is_oneway(SHUNT_T_SCLOSE));
    assert_true(shunt_msg_is_response(SHUNT_T_PONG));
    assert_true(shunt_msg_is_request(SHUNT_T_HELLO));
    assert_int_equal(shunt_msg_kind(0x7eee), SHUNT_KIND_UNKNOWN);
    assert_null(shunt_msg_info(0x7eee));
}

/* shunt_answer_check: the one place a wrong answer type becomes EPROTO. */
static void test_answer_check_follows_the_table(void **state)
{
    (void)state;
    shunt_msg_t a;
    memset(&a, 0, sizeof(a));
    a.type = SHUNT_T_OPEN_R;
    assert_int_equal(shunt_answer_check(SHUNT_T_OPEN, &a), 0);
    assert_int_equal(shunt_answer_check(SHUNT_T_OPENAT, &a), 0);
    assert_int_equal(shunt_answer_check(SHUNT_T_STAT, &a), -EPROTO);
    a.type = SHUNT_T_OK;
    assert_int_equal(shunt_answer_check(SHUNT_T_LOCK, &a), 0);
    assert_int_equal(shunt_answer_check(SHUNT_T_OPEN, &a), -EPROTO);
    a.type = SHUNT_T_LOCK_R;
    assert_int_equal(shunt_answer_check(SHUNT_T_LOCK, &a), 0);
    assert_int_equal(shunt_answer_check(SHUNT_T_FLOCK, &a), -EPROTO);
    a.type = SHUNT_T_PONG;
    assert_int_equal(shunt_answer_check(SHUNT_T_PING, &a), 0);
    a.type = SHUNT_T_ERROR;
    a.u.error.err = ENOENT;
    assert_int_equal(shunt_answer_check(SHUNT_T_OPEN, &a), 1);
    a.u.error.err = 0;
    assert_int_equal(shunt_answer_check(SHUNT_T_OPEN, &a), -EPROTO);
    /* only ERROR answers an answer or an unknown type; nothing answers
     * stream traffic */
    a.u.error.err = EINVAL;
    assert_int_equal(shunt_answer_check(SHUNT_T_OK, &a), 1);
    assert_int_equal(shunt_answer_check(0x7eee, &a), 1);
    assert_int_equal(shunt_answer_check(SHUNT_T_DATA, &a), -EPROTO);
    a.type = SHUNT_T_OK;
    assert_int_equal(shunt_answer_check(SHUNT_T_OPEN_R, &a), -EPROTO);
    assert_int_equal(shunt_answer_check(0x7eee, &a), -EPROTO);
    a.type = 0x7eee;
    assert_int_equal(shunt_answer_check(SHUNT_T_OPEN, &a), -EPROTO);
}

static void test_header_accessors(void **state)
{
    (void)state;
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    shunt_ping_t p = {.nonce = 7};
    assert_int_equal(shunt_encode(&w, SHUNT_T_PING, SHUNT_FLAG_ONEWAY,
                                  0x1122334455667788ull, &p,
                                  SHUNT_FRAME_DEFAULT),
                     0);
    assert_int_equal(shunt_frame_type(w.data), SHUNT_T_PING);
    assert_int_equal(shunt_frame_flags(w.data), SHUNT_FLAG_ONEWAY);
    assert_true(shunt_frame_id(w.data) == 0x1122334455667788ull);
    shunt_frame_set_flags(w.data, 0);
    shunt_frame_set_id(w.data, 0xfedcba9876543210ull);
    shunt_msg_t m;
    assert_int_equal(shunt_decode(w.data, w.len, &m), 0);
    assert_int_equal(m.flags, 0);
    assert_true(m.id == 0xfedcba9876543210ull);
    assert_true(shunt_frame_id(w.data) == m.id);
    assert_int_equal(m.u.ping.nonce, 7);
    shunt_wbuf_free(&w);
}

/* shunt_hello_check, the agent's and the proxy's: order and clamps. */
static void test_hello_check(void **state)
{
    (void)state;
    shunt_hello_want_t w = {.server = "agent",
                            .roles = SHUNT_ROLE_BIT(SHUNT_ROLE_TOOL),
                            .token = "secret", .token_len = 6,
                            .ver_max = SHUNT_PROTO_VERSION_MAX,
                            .max_frame = 200000};
    shunt_hello_t good = {.magic = SHUNT_MAGIC,
                          .ver_min = SHUNT_PROTO_VERSION_MIN,
                          .ver_max = SHUNT_PROTO_VERSION_MAX + 3,
                          .role = SHUNT_ROLE_TOOL,
                          .token = shunt_bytes("secret", 6),
                          .max_frame = 100000};
    shunt_hello_r_t r;
    char msg[160];
    assert_int_equal(shunt_hello_check(&good, &w, &r, msg, sizeof(msg)), 0);
    assert_int_equal(r.version, SHUNT_PROTO_VERSION_MAX);
    assert_int_equal(r.max_frame, 100000);
    shunt_hello_t h = good;
    h.max_frame = 0; /* the default, then ours */
    assert_int_equal(shunt_hello_check(&h, &w, &r, msg, sizeof(msg)), 0);
    assert_int_equal(r.max_frame, 200000);
    h.max_frame = 100; /* never below the minimum */
    assert_int_equal(shunt_hello_check(&h, &w, &r, msg, sizeof(msg)), 0);
    assert_int_equal(r.max_frame, SHUNT_FRAME_MIN);
    h = good;
    h.magic = 1;
    h.role = 9; /* the first refusal wins */
    assert_int_equal(shunt_hello_check(&h, &w, &r, msg, sizeof(msg)), EPROTO);
    assert_non_null(strstr(msg, "magic"));
    h = good;
    h.ver_min = h.ver_max = SHUNT_PROTO_VERSION_MAX + 1;
    assert_int_equal(shunt_hello_check(&h, &w, &r, msg, sizeof(msg)),
                     EPROTONOSUPPORT);
    h = good;
    h.token = shunt_bytes("secreT", 6);
    h.role = 9; /* the token before the role */
    assert_int_equal(shunt_hello_check(&h, &w, &r, msg, sizeof(msg)), EACCES);
    assert_string_equal(msg, "wrong token");
    h.token = shunt_bytes("secret!", 7);
    assert_int_equal(shunt_hello_check(&h, &w, &r, msg, sizeof(msg)), EACCES);
    assert_string_equal(msg, "wrong token");
    h = good;
    h.role = SHUNT_ROLE_LAYER;
    assert_int_equal(shunt_hello_check(&h, &w, &r, msg, sizeof(msg)), EACCES);
    assert_non_null(strstr(msg, "role 1"));
    assert_non_null(strstr(msg, "tool only"));
    h.role = 255;
    assert_int_equal(shunt_hello_check(&h, &w, &r, msg, sizeof(msg)), EACCES);
}

static void test_strings_never_carry_nul(void **state)
{
    (void)state;
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    shunt_open_t o = {.path = {"a\0b", 3}, .flags = 0};
    assert_int_equal(shunt_encode(&w, SHUNT_T_OPEN, 0, 1, &o, SHUNT_FRAME_DEFAULT),
                     -EINVAL);
    assert_int_equal(w.len, 0);
    o.path = shunt_str("ab");
    assert_int_equal(shunt_encode(&w, SHUNT_T_OPEN, 0, 1, &o, SHUNT_FRAME_DEFAULT), 0);
    w.data[SHUNT_HDR_LEN + 4] = 0; /* the 'a' of the path */
    shunt_msg_t m;
    assert_int_equal(shunt_decode(w.data, w.len, &m), -EPROTO);
    shunt_wbuf_free(&w);
}

static void test_list_lengths_are_checked(void **state)
{
    (void)state;
    shunt_wbuf_t lw, w;
    shunt_wbuf_init(&lw);
    shunt_wbuf_init(&w);
    shunt_rec_str_t r = {.s = shunt_str("K=V")};
    assert_int_equal(shunt_put_rec_str(&lw, &r), 0);
    assert_int_equal(shunt_put_rec_str(&lw, &r), 0);
    /* Claim three records in the bytes of two. */
    shunt_env_r_t e = {.vars = {.count = 3, .p = lw.data, .len = (uint32_t)lw.len}};
    assert_int_equal(shunt_encode(&w, SHUNT_T_ENV_R, 0, 1, &e, SHUNT_FRAME_DEFAULT), 0);
    shunt_msg_t m;
    assert_int_equal(shunt_decode(w.data, w.len, &m), -EPROTO);
    /* Claim one record: a byte length with leftover bytes. */
    shunt_wbuf_reset(&w);
    e.vars.count = 1;
    assert_int_equal(shunt_encode(&w, SHUNT_T_ENV_R, 0, 1, &e, SHUNT_FRAME_DEFAULT), 0);
    assert_int_equal(shunt_decode(w.data, w.len, &m), -EPROTO);
    e.vars.count = 2;
    shunt_wbuf_reset(&w);
    assert_int_equal(shunt_encode(&w, SHUNT_T_ENV_R, 0, 1, &e, SHUNT_FRAME_DEFAULT), 0);
    assert_int_equal(shunt_decode(w.data, w.len, &m), 0);
    assert_int_equal(m.u.env_r.vars.count, 2);
    shunt_wbuf_free(&lw);
    shunt_wbuf_free(&w);
}

static void test_wire_layout_is_little_endian(void **state)
{
    (void)state;
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    shunt_ping_t p = {.nonce = 0x0102030405060708ull};
    assert_int_equal(shunt_encode(&w, SHUNT_T_PING, SHUNT_FLAG_ONEWAY,
                                  0x1122334455667788ull, &p, SHUNT_FRAME_DEFAULT), 0);
    static const uint8_t want[] = {
        8,    0,    0,    0,    /* payload length */
        0x05, 0x00,             /* type PING */
        0x01, 0x00,             /* flags */
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* request id */
        8,    7,    6,    5,    4,    3,    2,    1,    /* nonce */
    };
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(w.data, want, sizeof(want));
    shunt_wbuf_free(&w);
}

static void test_rx_reassembles_split_frames(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    for (uint64_t i = 0; i < 50; i++) {
        shunt_ping_t p = {.nonce = i};
        assert_int_equal(shunt_encode(&w, SHUNT_T_PING, 0, i, &p, SHUNT_FRAME_DEFAULT), 0);
    }
    shunt_rx_t rx;
    assert_int_equal(shunt_rx_init(&rx, SHUNT_FRAME_DEFAULT), 0);
    /* Dribble the bytes in odd-sized pieces. */
    size_t off = 0;
    uint64_t next = 0;
    while (next < 50) {
        if (off < w.len) {
            size_t n = w.len - off < 7 ? w.len - off : 7;
            assert_int_equal(write(sv[0], w.data + off, n), (ssize_t)n);
            off += n;
        }
        const uint8_t *fr;
        size_t flen;
        assert_true(shunt_rx_fill(&rx, sv[1]) > 0);
        while (shunt_rx_frame(&rx, &fr, &flen) == 1) {
            shunt_msg_t m;
            assert_int_equal(shunt_decode(fr, flen, &m), 0);
            assert_int_equal(m.u.ping.nonce, next);
            next++;
            shunt_rx_consume(&rx, flen);
        }
    }
    shunt_rx_free(&rx);
    shunt_wbuf_free(&w);
    close(sv[0]);
    close(sv[1]);
}

/* The layer's receive buffer: nothing allocated before the first fill, 4 KiB
 * then, grown for a frame larger than that, and frames that arrive
 * together (a stale answer and the awaited one) are both kept. */
static void test_rx_small_starts_empty_and_grows_per_frame(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    shunt_rx_t rx;
    shunt_rx_init_small(&rx, SHUNT_FRAME_DEFAULT);
    assert_null(rx.buf);
    const uint8_t *fr;
    size_t flen;
    assert_int_equal(shunt_rx_frame(&rx, &fr, &flen), 0);
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    shunt_ping_t p = {.nonce = 7};
    assert_int_equal(shunt_encode(&w, SHUNT_T_PING, 0, 1, &p, SHUNT_FRAME_DEFAULT), 0);
    static uint8_t big[20000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);
    shunt_data_t d = {.stream = 3, .data = shunt_bytes(big, sizeof(big))};
    assert_int_equal(shunt_encode(&w, SHUNT_T_DATA, SHUNT_FLAG_ONEWAY, 2, &d,
                                  SHUNT_FRAME_DEFAULT), 0);
    assert_int_equal(shunt_tx_flush(&w, sv[0], SHUNT_TX_SOCKET), 0);
    assert_int_equal(shunt_wbuf_pending(&w), 0);
    ssize_t n = shunt_rx_fill(&rx, sv[1]);
    assert_int_equal(n, 4096); /* the first fill: a 4 KiB buffer, full */
    assert_int_equal(rx.cap, 4096);
    shunt_msg_t m;
    assert_int_equal(shunt_rx_frame(&rx, &fr, &flen), 1);
    assert_int_equal(shunt_decode(fr, flen, &m), 0);
    assert_int_equal(m.type, SHUNT_T_PING);
    assert_int_equal(m.u.ping.nonce, 7);
    shunt_rx_consume(&rx, flen);
    int r;
    while ((r = shunt_rx_frame(&rx, &fr, &flen)) == 0)
        assert_true(shunt_rx_fill(&rx, sv[1]) > 0);
    assert_int_equal(r, 1);
    assert_true(rx.cap >= flen && rx.cap < 2 * flen + 4096);
    assert_int_equal(shunt_decode(fr, flen, &m), 0);
    assert_int_equal(m.type, SHUNT_T_DATA);
    assert_int_equal(m.u.data.data.len, sizeof(big));
    assert_memory_equal(m.u.data.data.p, big, sizeof(big));
    shunt_rx_consume(&rx, flen);
    assert_int_equal(shunt_rx_buffered(&rx), 0);
    shunt_rx_free(&rx);
    shunt_wbuf_free(&w);
    close(sv[0]);
    close(sv[1]);
}

static void test_bytes_built_in_place_match_the_encoder(void **state)
{
    (void)state;
    static const uint8_t payload[5] = {1, 2, 0, 4, 5};
    shunt_wbuf_t a, b;
    shunt_wbuf_init(&a);
    shunt_wbuf_init(&b);
    /* Something already pending and partly sent, so reserve() compacts. */
    shunt_ping_t p = {.nonce = 9};
    for (int i = 0; i < 40; i++)
        assert_int_equal(shunt_encode(&a, SHUNT_T_PING, 0, 1, &p, SHUNT_FRAME_DEFAULT), 0);
    a.head = a.len - 24;
    shunt_data_t d = {.stream = 0x0a0b0c0d};
    int err = 0;
    uint8_t *dst = shunt_encode_bytes_begin(&a, SHUNT_T_DATA, SHUNT_FLAG_ONEWAY,
                                            0, &d, 100000, SHUNT_FRAME_DEFAULT, &err);
    assert_int_equal(err, 0);
    assert_non_null(dst);
    memcpy(dst, payload, sizeof(payload));
    shunt_encode_bytes_end(&a, sizeof(payload));
    assert_int_equal(shunt_encode(&b, SHUNT_T_PING, 0, 1, &p, SHUNT_FRAME_DEFAULT), 0);
    d.data = shunt_bytes(payload, sizeof(payload));
    assert_int_equal(shunt_encode(&b, SHUNT_T_DATA, SHUNT_FLAG_ONEWAY, 0, &d,
                                  SHUNT_FRAME_DEFAULT), 0);
    assert_int_equal(shunt_wbuf_pending(&a), b.len);
    assert_memory_equal(a.data + a.head, b.data, b.len);
    /* Refusals leave the buffer as it was. */
    size_t before = a.len;
    shunt_read_t rd = {.handle = 1, .count = 2};
    assert_null(shunt_encode_bytes_begin(&a, SHUNT_T_READ, 0, 1, &rd, 10,
                                         SHUNT_FRAME_DEFAULT, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(shunt_encode_bytes_begin(&a, SHUNT_T_DATA_R, 0, 1, &(shunt_data_r_t){{0}},
                                         SHUNT_FRAME_MIN, SHUNT_FRAME_MIN, &err));
    assert_int_equal(err, -EMSGSIZE);
    d.data = shunt_bytes(payload, 1);
    assert_null(shunt_encode_bytes_begin(&a, SHUNT_T_DATA, 0, 1, &d, 10,
                                         SHUNT_FRAME_DEFAULT, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(a.len, before);
    shunt_wbuf_free(&a);
    shunt_wbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_message_round_trips),
        cmocka_unit_test(test_every_truncation_is_rejected),
        cmocka_unit_test(test_oversize_frames_are_rejected),
        cmocka_unit_test(test_unknown_type_is_enosys),
        cmocka_unit_test(test_every_message_says_what_it_is),
        cmocka_unit_test(test_answer_check_follows_the_table),
        cmocka_unit_test(test_header_accessors),
        cmocka_unit_test(test_hello_check),
        cmocka_unit_test(test_strings_never_carry_nul),
        cmocka_unit_test(test_list_lengths_are_checked),
        cmocka_unit_test(test_wire_layout_is_little_endian),
        cmocka_unit_test(test_rx_reassembles_split_frames),
        cmocka_unit_test(test_rx_small_starts_empty_and_grows_per_frame),
        cmocka_unit_test(test_bytes_built_in_place_match_the_encoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
