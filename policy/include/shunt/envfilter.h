/* Which variables a program run against a target gets from where
 * (docs/exec.md, "Environment"): the layer and the supervisor apply the
 * same filter. */
#ifndef SHUNT_POLICY_ENVFILTER_H
#define SHUNT_POLICY_ENVFILTER_H

#include "shunt/config.h"

#include <stddef.h>

/* 1 when the variable whose name is entry[0..nlen) always comes from the
 * local environment (PATH, HOME, TERM, LC_*, SHUNT_*...), never from the
 * target's. */
int shunt_env_keep_local(const char *entry, size_t nlen);
/* 1 when a target variable (its NAME alone, NUL-terminated) passes the
 * configuration's env_include / env_exclude globs. */
int shunt_env_wanted(const shunt_config_t *c, const char *name);

#endif
