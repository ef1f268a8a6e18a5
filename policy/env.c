/* The environment filter shared by the layer and the supervisor. */
#include "shunt/envfilter.h"

#include <fnmatch.h>
#include <string.h>

/* Names always taken from the local environment (never from the target). */
static const char *const keep_exact[] = {
    "PATH",    "HOME",    "TERM",    "USER",            "LOGNAME",
    "SHELL",   "LANG",    "TZ",      "DISPLAY",         "XDG_RUNTIME_DIR",
    "TMPDIR",  "PWD",     "LD_PRELOAD", "LD_LIBRARY_PATH",
};
static const char *const keep_prefix[] = {"LC_", "SHUNT_"};

static int name_is(const char *entry, size_t nlen, const char *name)
{
    return strlen(name) == nlen && memcmp(entry, name, nlen) == 0;
}

int shunt_env_keep_local(const char *entry, size_t nlen)
{
    for (size_t i = 0; i < sizeof(keep_exact) / sizeof(keep_exact[0]); i++)
        if (name_is(entry, nlen, keep_exact[i]))
            return 1;
    for (size_t i = 0; i < sizeof(keep_prefix) / sizeof(keep_prefix[0]); i++)
        if (nlen >= strlen(keep_prefix[i]) &&
            memcmp(entry, keep_prefix[i], strlen(keep_prefix[i])) == 0)
            return 1;
    return 0;
}

static int glob_any(const shunt_strlist_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (fnmatch(l->v[i], name, 0) == 0)
            return 1;
    return 0;
}

int shunt_env_wanted(const shunt_config_t *c, const char *name)
{
    if (c->env_include.n && !glob_any(&c->env_include, name))
        return 0;
    return !glob_any(&c->env_exclude, name);
}
