/* Where a path lives: the policy (pure code, also linked into the unit
 * tests). */
#ifndef SHUNT_LAYER_POLICY_H
#define SHUNT_LAYER_POLICY_H

#include "config.h"

#include <stddef.h>

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
int shunt_policy_add_local_raw(shunt_policy_t *p, const char *prefix);
int shunt_policy_add_remote(shunt_policy_t *p, const char *path);
/* Mode of a normalised absolute path: config lists (not_found, read_write,
 * read_only, local), then the default remote set, then the default local
 * set, else SHUNT_MODE_READ. */
int shunt_policy_mode(const shunt_policy_t *p, const char *path);
const char *shunt_mode_name(int mode);

#endif
