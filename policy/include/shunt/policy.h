/* Where a path lives: the policy (policy/, pure code: the layer, the
 * recorder and the unit tests link it). */
#ifndef SHUNT_POLICY_POLICY_H
#define SHUNT_POLICY_POLICY_H

#include "shunt/config.h"

#include <stddef.h>
#include <stdint.h>

enum {
    SHUNT_MODE_LOCAL = 0,  /* everything local */
    SHUNT_MODE_READ,       /* reads remote, writes local (the default) */
    SHUNT_MODE_WRITE,      /* remote read-write */
    SHUNT_MODE_NOT_FOUND,  /* ENOENT */
};

typedef struct {
    char **v;
    size_t n, cap;
} shunt_pathset_t;

typedef struct {
    const shunt_config_t *cfg; /* may be NULL */
    int has_regex;
    shunt_pathset_t local;     /* prefixes at a component boundary */
    shunt_pathset_t local_raw; /* plain string prefixes (/etc/ld.so.conf*) */
    shunt_pathset_t remote;    /* default remote set (read mode) */
} shunt_policy_t;

void shunt_policy_init(shunt_policy_t *p, const shunt_config_t *cfg);
void shunt_policy_free(shunt_policy_t *p);
/* The fixed default sets (docs/hooking.md lists them). */
int shunt_policy_add_defaults(shunt_policy_t *p);
/* 0 or -ENOMEM.  "/" is refused (-EINVAL): it would make everything local. */
int shunt_policy_add_local(shunt_policy_t *p, const char *path);
/* A program's own files (docs/hooking.md, "Default local set"): path (a
 * normalised absolute file, or a directory when is_dir), the directory it
 * is in, and when that directory is a bin/, sbin/, libexec/ or shims/, the
 * install prefix above it (never "/").  0, -EINVAL (relative) or -ENOMEM. */
int shunt_policy_add_program(shunt_policy_t *p, const char *path, int is_dir);
int shunt_policy_add_local_raw(shunt_policy_t *p, const char *prefix);
/* 1 when path (normalised, absolute, not "/") is a directory on the way to
 * an entry of the local set (~ and ~/.nvm for ~/.nvm/versions/node/v20):
 * its metadata is looked up locally, as the kernel walks it to reach the
 * program's own files (a userland realpath lstat()s every component). */
int shunt_policy_local_ancestor(const shunt_policy_t *p, const char *path);
int shunt_policy_add_remote(shunt_policy_t *p, const char *path);
/* Mode of a normalised absolute path: config lists (not_found, read_write,
 * read_only, local), then the default remote set, then the default local
 * set, else SHUNT_MODE_READ. */
int shunt_policy_mode(const shunt_policy_t *p, const char *path);
const char *shunt_mode_name(int mode);
/* 1 when the flags of an open (open, openat, openat2's how.flags) ask for
 * more than reading: write access, O_CREAT, O_TRUNC or O_TMPFILE.  Such an
 * open of a SHUNT_MODE_READ path stays local; the leak recorder asks the
 * same of the opens it sees. */
int shunt_open_writes(uint64_t flags);

/* Outgoing network filter: 1 when a connection (or datagram) to addr:port
 * goes through the target, 0 when it stays local.  proto is SHUNT_NET_TCP
 * or SHUNT_NET_UDP; family AF_INET (addr: 4 bytes) or AF_INET6 (16 bytes;
 * IPv4-mapped addresses count as IPv4); name is the host name the program
 * resolved to addr, or NULL.  Order: the net_local rules, then the
 * net_remote rules (first match); when net_remote rules exist they are the
 * whole remote set (no match: local); otherwise everything is remote
 * except loopback and the unspecified address. */
int shunt_policy_net_remote(const shunt_policy_t *p, int proto, int family,
                            const void *addr, unsigned port, const char *name);

#endif
