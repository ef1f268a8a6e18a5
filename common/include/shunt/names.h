/* The names of the values the call journal (layer/journal.c) and the
 * recorder (harness/recorder/recorder_decode.c) show: one table each, one formatter.
 * Header-only and async-signal-safe (no allocation, no stdio, no locale):
 * the journal formats inside hooks, in signal handlers and vfork children.
 * errno names are glibc's strerrorname_np() in both. */
#ifndef SHUNT_NAMES_H
#define SHUNT_NAMES_H

#include <fcntl.h>
#include <netdb.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    unsigned long value;
    const char *name;
} shunt_name_t;

#define SHUNT_NAME_(v) {(unsigned long)(v), #v},
#define SHUNT_NAMES_(table, LIST) \
    static const shunt_name_t table[] __attribute__((unused)) = {LIST(SHUNT_NAME_)}

/* Open flags after the access mode, in the order they are shown.  A name
 * stands for all its bits: O_TMPFILE (with O_DIRECTORY's bit) comes before
 * O_DIRECTORY, O_SYNC (with O_DSYNC's) before O_DSYNC. */
#define SHUNT_OPEN_FLAGS(X)                                                   \
    X(O_TMPFILE) X(O_CREAT) X(O_EXCL) X(O_TRUNC) X(O_APPEND) X(O_NONBLOCK)     \
    X(O_DIRECTORY) X(O_NOFOLLOW) X(O_CLOEXEC) X(O_PATH) X(O_NOCTTY) X(O_SYNC)  \
    X(O_DSYNC) X(O_NOATIME) X(O_DIRECT)
SHUNT_NAMES_(shunt_open_flag_names, SHUNT_OPEN_FLAGS);

/* The *at() calls' AT_* flags. */
#define SHUNT_AT_FLAGS(X)                                                     \
    X(AT_SYMLINK_NOFOLLOW) X(AT_EMPTY_PATH) X(AT_REMOVEDIR) X(AT_EACCESS)      \
    X(AT_NO_AUTOMOUNT) X(AT_SYMLINK_FOLLOW)
SHUNT_NAMES_(shunt_at_flag_names, SHUNT_AT_FLAGS);

/* access()'s mode (zero is F_OK). */
#define SHUNT_ACCESS_MODES(X) X(R_OK) X(W_OK) X(X_OK)
SHUNT_NAMES_(shunt_access_mode_names, SHUNT_ACCESS_MODES);

/* Address families. */
#define SHUNT_FAMILIES(X) X(AF_INET) X(AF_INET6) X(AF_UNIX) X(AF_NETLINK)
SHUNT_NAMES_(shunt_family_names, SHUNT_FAMILIES);

/* A socket's type (its low four bits) and the flags above them. */
#define SHUNT_SOCK_TYPES(X) \
    X(SOCK_STREAM) X(SOCK_DGRAM) X(SOCK_RAW) X(SOCK_RDM) X(SOCK_SEQPACKET)
SHUNT_NAMES_(shunt_sock_type_names, SHUNT_SOCK_TYPES);
#define SHUNT_SOCK_FLAGS(X) X(SOCK_NONBLOCK) X(SOCK_CLOEXEC)
SHUNT_NAMES_(shunt_sock_flag_names, SHUNT_SOCK_FLAGS);

/* getaddrinfo()'s errors (its result, not errno). */
#define SHUNT_EAI_ERRORS(X)                                                   \
    X(EAI_BADFLAGS) X(EAI_NONAME) X(EAI_AGAIN) X(EAI_FAIL) X(EAI_FAMILY)       \
    X(EAI_SOCKTYPE) X(EAI_SERVICE) X(EAI_MEMORY) X(EAI_SYSTEM) X(EAI_OVERFLOW) \
    X(EAI_NODATA) X(EAI_ADDRFAMILY)
SHUNT_NAMES_(shunt_eai_names, SHUNT_EAI_ERRORS);

#define SHUNT_NAMES_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* The longest text shunt_names_open_flags() writes, with its NUL. */
#define SHUNT_NAMES_FLAGS_MAX 256

/* The name of exactly v in table, or NULL. */
static inline const char *shunt_name_of(long v, const shunt_name_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((long)t[i].value == v)
            return t[i].name;
    return NULL;
}

/* Appends s to out (cap bytes, kept NUL-terminated); returns the new length. */
static inline size_t shunt_names_put_(char *out, size_t cap, size_t len, const char *s)
{
    size_t n = strlen(s);
    if (len + n >= cap)
        n = len + 1 < cap ? cap - 1 - len : 0;
    memcpy(out + len, s, n);
    out[len + n] = 0;
    return len + n;
}

/* v as its known names joined by '|' (each name's bits all set, in the
 * table's order), the rest as "0x..."; zero is zero_name.  Returns the
 * length written to out (cap bytes, NUL-terminated). */
static inline size_t shunt_names_flags(char *out, size_t cap, unsigned long v,
                                       const shunt_name_t *t, size_t n,
                                       const char *zero_name)
{
    size_t len = 0;
    int any = 0;
    if (cap)
        out[0] = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].value && (v & t[i].value) == t[i].value) {
            if (any++)
                len = shunt_names_put_(out, cap, len, "|");
            len = shunt_names_put_(out, cap, len, t[i].name);
            v &= ~t[i].value;
        }
    if (v) {
        char hex[2 + 16 + 1] = "0x";
        int k = 2 + 16;
        hex[k] = 0;
        do {
            hex[--k] = "0123456789abcdef"[v & 15];
            v >>= 4;
        } while (v);
        hex[k - 2] = '0';
        hex[k - 1] = 'x';
        if (any++)
            len = shunt_names_put_(out, cap, len, "|");
        len = shunt_names_put_(out, cap, len, hex + k - 2);
    }
    if (!any)
        len = shunt_names_put_(out, cap, len, zero_name);
    return len;
}

/* Open flags: the access mode by name (O_RDONLY, O_WRONLY, O_RDWR, or
 * O_ACCMODE for both bits), then "|" and the other flags. */
static inline size_t shunt_names_open_flags(char *out, size_t cap, unsigned long flags)
{
    static const char *const acc[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
    size_t len = 0;
    if (cap)
        out[0] = 0;
    len = shunt_names_put_(out, cap, len, acc[flags & O_ACCMODE]);
    unsigned long rest = flags & ~(unsigned long)O_ACCMODE;
    if (rest) {
        len = shunt_names_put_(out, cap, len, "|");
        len += shunt_names_flags(out + len, cap - len, rest, shunt_open_flag_names,
                                 SHUNT_NAMES_COUNT(shunt_open_flag_names), "");
    }
    return len;
}

#endif
