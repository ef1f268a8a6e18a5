/* The supervisor's private header (docs/supervisor.md): a program and its
 * descendants run under a seccomp filter whose notifications this process
 * answers with the policy the layer uses. */
#ifndef SHUNT_SUPERVISOR_SV_H
#define SHUNT_SUPERVISOR_SV_H

#include "shunt/client.h"
#include "shunt/config.h"
#include "shunt/policy.h"
#include "shunt/proto.h"

#include <limits.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define SV_NAME "shunt-supervisor"

typedef struct {
    shunt_config_t cfg;
    shunt_policy_t pol;
    int broker_fd;            /* SHUNT_BROKER, or -1 */
    char socket_path[108];    /* SHUNT_SOCKET (with SHUNT_TOKEN) */
    unsigned char token[64];
    size_t token_len;
    int notify_fd;            /* the filter's listener */
    pid_t program;            /* the first process under the filter */
    int rpc_timeout_ms;
    char hostname[65];        /* the target's (files.c: read at the first
                                 uname), "" when unknown */
} sv_global_t;

extern sv_global_t sv;

/* One worker thread: its own connection to the proxy, made at first use
 * and again after a failure (the proxy may come back: never, in the
 * harness, but a broken connection is not kept). */
typedef struct {
    shunt_client_t *cl;
    int64_t retry_after_ms;
} sv_worker_t;

/* One notification being answered. */
typedef struct {
    sv_worker_t *w;
    uint64_t id;
    pid_t tid;         /* the calling thread (notif->pid) */
    int nr;
    uint64_t a[6];
    int answered;      /* set when answered already */
} sv_call_t;

/* A handler's result: a value (>= 0) or -errno for the program, or one of
 * these. */
#define SV_CONTINUE (-4096L - 1) /* the kernel runs the call as it is */
#define SV_ANSWERED (-4096L - 2) /* answered already */

/* ---- loop.c --------------------------------------------------------- */
int sv_serve(int notify_fd);
/* One request through the proxy: 0 with *m, -err from the agent, -EIO
 * when the proxy or the agent cannot be reached. */
long sv_rpc(sv_call_t *c, uint16_t type, const void *q, shunt_msg_t *m);
/* The same without a call (start-up): a connection of its own. */
long sv_rpc_once(uint16_t type, const void *q, shunt_msg_t *m,
                 shunt_client_t **keep);
int64_t sv_now_ms(void);
/* A detached thread of the supervisor running fn: 0 or -1. */
int sv_thread(void *(*fn)(void *));

/* ---- mem.c: the program's memory ----------------------------------- */
/* Whether the notification is still pending (its thread alive, not
 * interrupted): checked after reading the program's memory and before
 * writing into it, so that a pid reused meanwhile is never touched. */
int sv_valid(const sv_call_t *c);
long sv_read(const sv_call_t *c, uint64_t addr, void *buf, size_t n);
long sv_write(const sv_call_t *c, uint64_t addr, const void *buf, size_t n);
/* A NUL-terminated string of at most n-1 bytes: its length, -EFAULT or
 * -ENAMETOOLONG. */
long sv_read_str(const sv_call_t *c, uint64_t addr, char *out, size_t n);
/* The program's fd as an fd of this process (the same open file
 * description: pidfd_getfd), or -errno (-EBADF). */
int sv_getfd(const sv_call_t *c, int fd);
/* readlink of /proc/TID/fd/FD (its cwd for AT_FDCWD): length or -errno
 * (-EBADF for any other negative fd). */
long sv_fdlink(const sv_call_t *c, int fd, char *out, size_t n);
/* The thread group of a thread, or -errno. */
pid_t sv_tgid(pid_t tid);
/* Puts fd into the program (SECCOMP_IOCTL_NOTIF_ADDFD): its number there,
 * for the call to return, or -errno.  Not with SECCOMP_ADDFD_FLAG_SEND:
 * the program must stay stopped until the caller has closed its own copy,
 * so that the program's close is the last one (write.c and dirs.c learn
 * of that release through inotify). */
long sv_addfd(sv_call_t *c, int fd, int cloexec);

/* ---- files.c -------------------------------------------------------- */
/* Where a path of the program's is. */
typedef struct {
    char norm[PATH_MAX]; /* absolute, lexically normalised: the policy's */
    char raw[PATH_MAX];  /* the program's path made absolute, not
                            normalised: what the agent resolves, so that
                            "..", symlinks and a trailing "/" mean in the
                            target what the kernel makes of them */
    int mode;            /* SHUNT_MODE_* */
    int kernel_same;     /* the kernel resolves the program's own path to
                            norm (no remote cwd or directory fd in it) */
} sv_target_t;
#define SV_RESOLVE_EMPTY 1  /* "" with AT_EMPTY_PATH: the fd itself */
#define SV_RESOLVE_KERNEL 2 /* not a path to judge here: the kernel's */
/* The program's path at paddr, relative to dirfd, judged by the policy:
 * 0, SV_RESOLVE_EMPTY, SV_RESOLVE_KERNEL or -errno. */
long sv_resolve(const sv_call_t *c, int dirfd, uint64_t paddr, int empty_ok,
                sv_target_t *t);
#define SV(name, fn, when) long fn(sv_call_t *c);
#include "calls.def"
#undef SV

/* ---- dirs.c: remote directories as local placeholders ---------------- */
typedef struct {
    char *path;          /* the remote directory (as opened) */
    shunt_stat_r_t st;
    char *recs;          /* its entries, linux_dirent64 records */
    size_t nrecs;        /* bytes */
} sv_dir_t;
int sv_dirs_start(void);
void sv_dirs_stop(void);
/* Whether a /proc fd link is a placeholder; its entry, copied (path, and
 * recs when asked: the caller frees them); 0 or -1. */
int sv_dir_is(const char *link);
int sv_dir_get(const char *link, sv_dir_t *out, int with_recs);
/* Replaces the entries of the placeholder (a copy of d's recs); 0 or -1. */
int sv_dir_set_recs(const char *link, const sv_dir_t *d);
/* Gives the program a placeholder for d (which it takes, on every path):
 * the new fd's number in the program, or -errno. */
long sv_dir_open(sv_call_t *c, sv_dir_t *d, int flags);

/* ---- write.c: read_write paths --------------------------------------- */
extern int sv_wr_enabled; /* the configuration has read_write paths */
/* A file being written is a memfd named this and the remote stat at open
 * (shunt/statconv.h's text): fstat answers that stat with the memfd's
 * size. */
#define SV_WR_PREFIX "shunt-wr:"
int sv_wr_start(void);
void sv_wr_stop(void);
/* Stores what the program released; call before looking at remote
 * paths (their content or names may be waiting to go to the target). */
void sv_wr_sync(void);
long sv_wr_open(sv_call_t *c, const char *norm, uint64_t flags, uint32_t mode);

/* The whole remote file of handle h into fd (READ until its end; EFBIG
 * past the snapshot limit): 0 or -errno.  files.c. */
long sv_fetch(sv_call_t *c, uint32_t h, int fd);

/* ---- procs.c: per-process state --------------------------------------- */
/* Whether the calling thread of c has a signal pending that it does not
 * block: a call the supervisor waits on for the program (a blocking
 * recvfrom) then ends with -ERESTARTSYS, which the kernel turns into a
 * restart or EINTR after the handler, as for its own blocking calls --
 * the filter's WAIT_KILLABLE_RECV (filter.c) lets no signal in itself. */
int sv_signal_due(const sv_call_t *c);
#ifndef ERESTARTSYS
#define ERESTARTSYS 512 /* include/linux/errno.h: never seen by a program */
#endif
/* The remote cwd of the process tid belongs to, copied into out (size
 * n): 1, or 0 when its cwd is the kernel's.  A process seen for the first
 * time inherits its parent's (a fork's child). */
int sv_cwd_get(pid_t tid, char *out, size_t n);
/* Sets (path) or clears (NULL) it. */
void sv_cwd_set(pid_t tid, const char *path);
/* A rename the supervisor made in the target: the remote cwds and the
 * directory placeholders below from are below to now (as the kernel's
 * cwd and directory fds follow their directory).  A rename made by anyone
 * else in the target is not seen (docs/supervisor.md). */
void sv_cwd_renamed(const char *from, const char *to);
void sv_dirs_renamed(const char *from, const char *to);
int sv_path_moved(const char *path, const char *from, const char *to,
                  char *out, size_t n);

/* A relayed socket (connect or sendto through the proxy), by its inode. */
typedef struct {
    int family;
    struct sockaddr_storage peer;   /* the address the program asked for */
    socklen_t peer_len;
    struct sockaddr_storage local;  /* the remote socket's own address */
    socklen_t local_len;
    uint16_t relay_port;            /* a connected socket's relay */
} sv_sock_t;
int sv_sock_get(uint64_t ino, sv_sock_t *out);
void sv_sock_put(uint64_t ino, const sv_sock_t *s);
/* Whether the socket has a relay of any kind. */
int sv_sock_known(uint64_t ino);
/* Datagram relays of an unconnected socket, one per destination. */
int sv_dgram_relay(uint64_t ino, const struct sockaddr_storage *dst,
                   socklen_t dlen, uint16_t *relay_port);
void sv_dgram_relay_put(uint64_t ino, const struct sockaddr_storage *dst,
                        socklen_t dlen, uint16_t relay_port);
/* The destination a relay port of that socket stands for. */
int sv_dgram_peer(uint64_t ino, uint16_t relay_port,
                  struct sockaddr_storage *dst, socklen_t *dlen);

/* The remote path of a memfd the supervisor made (readlink of
 * /proc/PID/fd/N answers it, as under the layer): 1 with out, or 0. */
void sv_memfd_path_put(uint64_t dev, uint64_t ino, const char *path);
void sv_remember_path(int mfd, const char *path); /* files.c */
int sv_memfd_path_get(uint64_t dev, uint64_t ino, char *out, size_t n);

#endif
