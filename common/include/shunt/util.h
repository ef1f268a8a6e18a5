/* Small helpers shared by the agent, proxy and harness: time, fds, addresses. */
#ifndef SHUNT_UTIL_H
#define SHUNT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Monotonic clock in nanoseconds / milliseconds. */
uint64_t shunt_now_ns(void);
uint64_t shunt_now_ms(void);

int shunt_set_nonblock(int fd, int on);
int shunt_set_cloexec(int fd, int on);

/* write()/read() the whole buffer, retrying on EINTR and short counts.
 * Return 0 or -errno (-EPIPE style); read_full returns -ENODATA on EOF. */
int shunt_write_full(int fd, const void *buf, size_t len);
int shunt_read_full(int fd, void *buf, size_t len);

/* Parses "HOST:PORT" (IPv4 dotted or [IPv6]) into a sockaddr.
 * Returns 0 or -EINVAL.  Never resolves names. */
int shunt_parse_hostport(const char *s, struct sockaddr_storage *ss,
                         socklen_t *len);
/* Formats an inet/inet6 sockaddr as "ADDR:PORT" ("[ADDR]:PORT" for v6). */
void shunt_format_sockaddr(const struct sockaddr *sa, char *out, size_t outlen);

/* Fills buf with len bytes from getrandom(); returns 0 or -errno. */
int shunt_random(void *buf, size_t len);

/* Constant-time comparison; 0 when equal. */
int shunt_ct_memcmp(const void *a, const void *b, size_t len);

/* snprintf into a fixed buffer that reports truncation as -ENAMETOOLONG. */
int shunt_fmt(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Number of open fds of a process (from /proc/PID/fd), or -errno. */
int shunt_count_fds(int pid);

/* Reads a whole file into a malloc'd, NUL-terminated buffer (*len its
 * length, when len is not NULL): at most max bytes, more is EFBIG.  NULL
 * with errno set on failure. */
char *shunt_read_file(const char *path, size_t max, size_t *len);
/* The rest of fd, NUL-terminated (malloc'd; *len without the NUL), or NULL
 * with errno.  More than max bytes: cut at max when cut, else EFBIG. */
char *shunt_read_fd(int fd, size_t max, int cut, size_t *len);

#define SHUNT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* 64-bit FNV-1a, for cache keys and content-named files (not for
 * security): start from SHUNT_FNV_OFFSET.  _field hashes the length (8
 * bytes, little-endian) first, so that fields hashed one after another
 * cannot run into each other. */
#define SHUNT_FNV_OFFSET 14695981039346656037ull
uint64_t shunt_fnv1a(uint64_t h, const void *p, size_t n);
uint64_t shunt_fnv1a_field(uint64_t h, const void *p, size_t n);

#endif
