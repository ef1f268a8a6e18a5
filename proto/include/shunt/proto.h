/* The shunt wire protocol: frames, generated message types and the codec. */
#ifndef SHUNT_PROTO_H
#define SHUNT_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Frame: u32 length | u16 type | u16 flags | u64 request id | payload.
 * All little-endian.  length counts the payload only (not the header). */
#define SHUNT_HDR_LEN 16u
#define SHUNT_MAGIC 0x544e4853u /* "SHNT" read as a little-endian u32 */
#define SHUNT_PROTO_VERSION_MIN 2
#define SHUNT_PROTO_VERSION_MAX 2

/* Frame limits, header included.  Each side announces the largest frame it
 * accepts in HELLO; the smaller of the two is the limit for the session. */
#define SHUNT_FRAME_MIN (64u * 1024u)
#define SHUNT_FRAME_DEFAULT (1024u * 1024u + 64u * 1024u)
#define SHUNT_FRAME_HARD_MAX (16u * 1024u * 1024u)
/* Largest READ/PREAD count that fits a DATA_R under a given frame limit. */
#define SHUNT_DATA_MAX(max_frame) ((max_frame) - SHUNT_HDR_LEN - 64u)

/* Header flags. */
#define SHUNT_FLAG_ONEWAY 0x0001u /* no response expected (stream traffic) */

/* Roles announced in HELLO. */
#define SHUNT_ROLE_LAYER 1
#define SHUNT_ROLE_PROXY 2
#define SHUNT_ROLE_TOOL 3 /* tests, benchmarks, debugging clients */

/* dirh value meaning "the target's root directory".  No handle can have
 * this number (the agent's slot part stops below 0xfffff). */
#define SHUNT_AT_ROOT 0xffffffffu

/* A remote inotify watch descriptor as the program sees it: the agent's
 * wd plus this.  The kernel numbers a local instance's watches from 1 up
 * (idr_alloc_cyclic), so the two ranges meet only after 2^24 watches. */
#define SHUNT_INOTIFY_WD_BASE 0x1000000

/* Incoming traffic (messages.def "incoming", docs/incoming.md). */
#define SHUNT_IN_MIRROR 1   /* INCOMING_SUB.mode */
#define SHUNT_IN_STEAL 2
#define SHUNT_IN_REFUSE 0   /* INCOMING_SUB.on_conflict */
#define SHUNT_IN_REPLACE 1
#define SHUNT_HF_ALL 1      /* rec_hfilter.kind */
#define SHUNT_HF_ANY 2
#define SHUNT_HF_HEADER 3
#define SHUNT_HF_PATH 4
#define SHUNT_HF_METHOD 5
#define SHUNT_HF_MAX_NODES 64 /* a longer filter is EINVAL */
#define SHUNT_INF_MIRROR 0x01 /* INCOMING.flags: the program's answer is dropped */

/* Initial per-stream flow-control window, in bytes of DATA payload. */
#define SHUNT_STREAM_WINDOW (512u * 1024u)

/* Decoded strings, bytes and lists point into the frame, never NULL (an
 * empty one points at where it would be). */
typedef struct {
    const char *p; /* not NUL-terminated; never contains NUL */
    uint32_t len;
} shunt_str_t;

typedef struct {
    const uint8_t *p;
    uint32_t len;
} shunt_bytes_t;

/* An encoded list of records: count records in len bytes at p. */
typedef struct {
    uint32_t count;
    const uint8_t *p;
    uint32_t len;
} shunt_list_t;

typedef struct {
    const uint8_t *p, *end;
    uint32_t left;
} shunt_list_iter_t;

/* Growable output buffer; also serves as a non-blocking send queue (data
 * between head and len is pending).  err latches the first failure. */
typedef struct {
    uint8_t *data;
    size_t len, cap, head;
    size_t mark; /* size of a frame opened by shunt_encode_bytes_begin */
    int err;
} shunt_wbuf_t;

typedef struct {
    const uint8_t *p, *end;
} shunt_rbuf_t;

typedef struct {
    uint32_t length; /* payload bytes */
    uint16_t type;
    uint16_t flags;
    uint64_t id;
} shunt_hdr_t;

/* ---- generated from messages.def --------------------------------------- */
#define SHUNT_CT_U8 uint8_t
#define SHUNT_CT_U16 uint16_t
#define SHUNT_CT_U32 uint32_t
#define SHUNT_CT_U64 uint64_t
#define SHUNT_CT_I32 int32_t
#define SHUNT_CT_I64 int64_t
#define SHUNT_CT_STR shunt_str_t
#define SHUNT_CT_BYTES shunt_bytes_t

enum {
#define REC(l)
#define MSG(NAME, id, l, what) SHUNT_T_##NAME = id,
#define F(K, n)
#define L(r, n)
#define END(l)
#include "messages.def"
#include "messages_end.h"
};

#define REC(l) typedef struct {
#define MSG(NAME, id, l, what) typedef struct {
#define F(K, n) SHUNT_CT_##K n;
#define L(r, n) shunt_list_t n;
#define END(l) } shunt_##l##_t;
#include "messages.def"
#include "messages_end.h"

/* A decoded frame.  Strings, bytes and lists point into the frame buffer. */
typedef struct {
    uint16_t type;
    uint16_t flags;
    uint64_t id;
    union {
#define REC(l)
#define MSG(NAME, id, l, what) shunt_##l##_t l;
#define F(K, n)
#define L(r, n)
#define END(l)
#include "messages.def"
#include "messages_end.h"
    } u;
} shunt_msg_t;

/* Record list helpers: append one record to a list under construction
 * (the caller counts), and iterate a decoded list. */
#define REC(l)                                                             \
    int shunt_put_##l(shunt_wbuf_t *w, const shunt_##l##_t *r);            \
    int shunt_list_next_##l(shunt_list_iter_t *it, shunt_##l##_t *r);
#define MSG(NAME, id, l, what)
#define F(K, n)
#define L(r, n)
#define END(l)
#include "messages.def"
#include "messages_end.h"

/* Every known message type, in table order (for tests and fuzzers). */
extern const uint16_t shunt_msg_types[];
extern const size_t shunt_msg_type_count;

/* What a message is: messages.def's REQ(...), ANS, ONEWAY column. */
enum {
    SHUNT_KIND_UNKNOWN = 0, /* not in the table */
    SHUNT_KIND_REQUEST,     /* answered by one of its answers, or ERROR */
    SHUNT_KIND_ANSWER,      /* answers a request (ERROR, OK, *_R, PONG) */
    SHUNT_KIND_ONEWAY,      /* stream traffic, never answered */
};
#define SHUNT_MAX_ANSWERS 4

typedef struct {
    uint16_t type;
    const char *name;  /* NAME */
    const char *lname; /* the body's shunt_<lname>_t */
    uint8_t kind;     /* SHUNT_KIND_* */
    uint8_t nanswers; /* a request's answer types, ERROR not counted */
    uint16_t answers[SHUNT_MAX_ANSWERS];
} shunt_msg_info_t;

/* ---- codec -------------------------------------------------------------- */
const shunt_msg_info_t *shunt_msg_info(uint16_t type); /* NULL: unknown */
const char *shunt_msg_name(uint16_t type); /* NULL when unknown */
int shunt_msg_known(uint16_t type);
int shunt_msg_kind(uint16_t type); /* SHUNT_KIND_* */
int shunt_msg_is_request(uint16_t type);
int shunt_msg_is_response(uint16_t type); /* an answer: never a request */
int shunt_msg_is_oneway(uint16_t type);
/* 1 when a frame of type may answer a frame of type req: one of the answer
 * types messages.def lists for the request req, or ERROR, which answers
 * every frame but a one-way one (an unknown type gets ERROR{ENOSYS}, an
 * answer sent as a request ERROR{EINVAL}). */
int shunt_msg_answers(uint16_t req, uint16_t type);
/* The answer check of every synchronous caller (the layer's shunt_rpc,
 * shunt_client_call): 0 when ans is one of req's answer types, 1 when it
 * is ERROR with an errno (ans->u.error.err > 0), -EPROTO for anything
 * else (a type that does not answer req, an ERROR without an errno). */
int shunt_answer_check(uint16_t req, const shunt_msg_t *ans);

/* Parses a frame header from buf.  Returns 1 with *h filled, 0 when fewer
 * than SHUNT_HDR_LEN bytes are available, -EMSGSIZE when the frame exceeds
 * max_frame (header included). */
int shunt_hdr_parse(const uint8_t *buf, size_t avail, uint32_t max_frame,
                    shunt_hdr_t *h);

/* The header fields of an encoded frame (at least SHUNT_HDR_LEN bytes), for
 * relays that pass frames on without decoding them: no room outside proto/
 * reads or patches header bytes by hand. */
uint16_t shunt_frame_type(const uint8_t *frame);
uint16_t shunt_frame_flags(const uint8_t *frame);
uint64_t shunt_frame_id(const uint8_t *frame);
void shunt_frame_set_flags(uint8_t *frame, uint16_t flags);
void shunt_frame_set_id(uint8_t *frame, uint64_t id);

/* Decodes one whole frame (header + payload, exactly len bytes).
 * Returns 0; -EPROTO when malformed (truncated, trailing bytes, bad length,
 * NUL inside a string, bad list); -ENOSYS when the type is unknown (type,
 * flags and id are still filled so the peer can be answered). */
int shunt_decode(const uint8_t *frame, size_t len, shunt_msg_t *m);

/* Appends one frame to w.  body points to the shunt_<lname>_t of type.
 * Returns 0, -EMSGSIZE when the frame would exceed max_frame, -ENOSYS for
 * an unknown type, -ENOMEM.  On failure w is left as it was. */
int shunt_encode(shunt_wbuf_t *w, uint16_t type, uint16_t flags, uint64_t id,
                 const void *body, uint32_t max_frame);
/* Builds in place a frame whose last field is BYTES (DATA_R, DATA, WRITE,
 * PWRITE), so that read() can fill it without a copy: body is encoded with
 * its BYTES field left empty, room for max bytes is reserved, and the
 * returned pointer is where they go.  shunt_encode_bytes_end() commits the
 * n <= max bytes written there.  On failure returns NULL with *err set
 * (-EINVAL when the last field is not BYTES or not empty, -EMSGSIZE,
 * -ENOMEM) and w is left as it was. */
uint8_t *shunt_encode_bytes_begin(shunt_wbuf_t *w, uint16_t type,
                                  uint16_t flags, uint64_t id,
                                  const void *body, size_t max,
                                  uint32_t max_frame, int *err);
void shunt_encode_bytes_end(shunt_wbuf_t *w, size_t n);
/* Drops the frame opened by shunt_encode_bytes_begin() (e.g. read failed). */
void shunt_encode_bytes_cancel(shunt_wbuf_t *w);

/* Shorthands for the two generic responses. */
int shunt_encode_error(shunt_wbuf_t *w, uint64_t id, int err, const char *msg,
                       uint32_t max_frame);
int shunt_encode_ok(shunt_wbuf_t *w, uint64_t id, int64_t ret,
                    uint32_t max_frame);

/* Human-readable one-line rendering of a decoded message, for logs.
 * Returns the length written (truncated to fit). */
size_t shunt_msg_format(const shunt_msg_t *m, char *out, size_t outlen);

/* ---- buffers ------------------------------------------------------------ */
void shunt_wbuf_init(shunt_wbuf_t *w);
void shunt_wbuf_free(shunt_wbuf_t *w);
void shunt_wbuf_reset(shunt_wbuf_t *w);
int shunt_wbuf_reserve(shunt_wbuf_t *w, size_t extra); /* 0 or -ENOMEM */
int shunt_wbuf_append(shunt_wbuf_t *w, const void *p, size_t n);
static inline size_t shunt_wbuf_pending(const shunt_wbuf_t *w)
{
    return w->len - w->head;
}

void shunt_list_iter_init(shunt_list_iter_t *it, const shunt_list_t *l);

/* ---- values ------------------------------------------------------------- */
shunt_str_t shunt_str(const char *s); /* s may be NULL: empty */
shunt_bytes_t shunt_bytes(const void *p, size_t len);
/* Copies s into out as a C string; -ENAMETOOLONG if it does not fit. */
int shunt_str_copy(char *out, size_t outlen, shunt_str_t s);
/* Compares a shunt_str_t with a C string; 1 when equal. */
int shunt_str_eq(shunt_str_t s, const char *c);

#endif
