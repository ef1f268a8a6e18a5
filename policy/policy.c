/* The policy: config regex lists first, then the default sets. */
#include "shunt/policy.h"
#include "shunt/path.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *const default_local_dirs[] = {
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    "/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp",
    "/etc/ld.so.cache", "/etc/ld.so.preload", "/etc/localtime",
    "/etc/nsswitch.conf", "/etc/passwd", "/etc/group",
};
static const char *const default_local_raw[] = {"/etc/ld.so.conf"};
static const char *const default_remote[] = {"/etc/hosts", "/etc/resolv.conf",
                                             "/etc/hostname"};

static int set_add(shunt_pathset_t *s, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], path) == 0)
            return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    char *d = strdup(path);
    if (!d)
        return -ENOMEM;
    s->v[s->n++] = d;
    return 0;
}

/* The local set keeps no path that another entry covers: every path
 * decision walks it, and PATH's directories and their prefixes would
 * otherwise add a dozen entries under /usr or ~/.pyenv. */
static int local_add(shunt_pathset_t *s, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (shunt_path_under(path, s->v[i]))
            return 0;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (shunt_path_under(s->v[i], path))
            free(s->v[i]);
        else
            s->v[k++] = s->v[i];
    }
    s->n = k;
    return set_add(s, path);
}

static void set_free(shunt_pathset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

void shunt_policy_init(shunt_policy_t *p, const shunt_config_t *cfg)
{
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    if (cfg)
        for (int i = 0; i < SHUNT_LIST_COUNT; i++)
            if (cfg->lists[i].n)
                p->has_regex = 1;
}

void shunt_policy_free(shunt_policy_t *p)
{
    set_free(&p->local);
    set_free(&p->local_raw);
    set_free(&p->remote);
}

int shunt_policy_add_defaults(shunt_policy_t *p)
{
    int r = 0;
    for (size_t i = 0; i < sizeof(default_local_dirs) / sizeof(char *); i++)
        r |= set_add(&p->local, default_local_dirs[i]);
    for (size_t i = 0; i < sizeof(default_local_raw) / sizeof(char *); i++)
        r |= set_add(&p->local_raw, default_local_raw[i]);
    for (size_t i = 0; i < sizeof(default_remote) / sizeof(char *); i++)
        r |= set_add(&p->remote, default_remote[i]);
    return r ? -ENOMEM : 0;
}

int shunt_policy_add_local(shunt_policy_t *p, const char *path)
{
    if (path[0] != '/' || path[1] == '\0')
        return -EINVAL;
    return local_add(&p->local, path);
}

/* Directory names whose parent is an install prefix: ~/.pyenv/versions/X
 * (bin), a virtualenv (bin), ~/.cargo (bin), ~/.pyenv (shims). */
static const char *const prefix_dirs[] = {"bin", "sbin", "libexec", "shims"};

int shunt_policy_add_program(shunt_policy_t *p, const char *path, int is_dir)
{
    size_t len = strlen(path);
    if (path[0] != '/' || len >= 4096)
        return -EINVAL;
    char buf[4096];
    memcpy(buf, path, len + 1);
    int r = 0;
    if (!is_dir) {
        if (len > 1)
            r |= local_add(&p->local, buf);
        char *slash = strrchr(buf, '/');
        if (slash == buf)
            return r ? -ENOMEM : 0; /* a file in "/": not the root */
        *slash = '\0';
    }
    if (buf[1] == '\0')
        return r ? -ENOMEM : 0;
    r |= local_add(&p->local, buf);
    char *slash = strrchr(buf, '/');
    for (size_t i = 0; i < sizeof(prefix_dirs) / sizeof(char *); i++)
        if (strcmp(slash + 1, prefix_dirs[i]) == 0 && slash != buf) {
            *slash = '\0';
            r |= local_add(&p->local, buf);
            break;
        }
    return r ? -ENOMEM : 0;
}

int shunt_policy_local_ancestor(const shunt_policy_t *p, const char *path)
{
    size_t l = strlen(path);
    if (path[0] != '/' || l <= 1)
        return 0;
    for (size_t i = 0; i < p->local.n; i++)
        if (strncmp(p->local.v[i], path, l) == 0 && p->local.v[i][l] == '/')
            return 1;
    return 0;
}

int shunt_policy_add_local_raw(shunt_policy_t *p, const char *prefix)
{
    return set_add(&p->local_raw, prefix);
}

int shunt_policy_add_remote(shunt_policy_t *p, const char *path)
{
    return set_add(&p->remote, path);
}

int shunt_policy_mode(const shunt_policy_t *p, const char *path)
{
    if (p->has_regex) {
        const shunt_relist_t *l = p->cfg->lists;
        if (shunt_relist_match(&l[SHUNT_LIST_NOT_FOUND], path))
            return SHUNT_MODE_NOT_FOUND;
        if (shunt_relist_match(&l[SHUNT_LIST_READ_WRITE], path))
            return SHUNT_MODE_WRITE;
        if (shunt_relist_match(&l[SHUNT_LIST_READ_ONLY], path))
            return SHUNT_MODE_READ;
        if (shunt_relist_match(&l[SHUNT_LIST_LOCAL], path))
            return SHUNT_MODE_LOCAL;
    }
    for (size_t i = 0; i < p->remote.n; i++)
        if (shunt_path_under(path, p->remote.v[i]))
            return SHUNT_MODE_READ;
    for (size_t i = 0; i < p->local.n; i++)
        if (shunt_path_under(path, p->local.v[i]))
            return SHUNT_MODE_LOCAL;
    for (size_t i = 0; i < p->local_raw.n; i++)
        if (strncmp(path, p->local_raw.v[i], strlen(p->local_raw.v[i])) == 0)
            return SHUNT_MODE_LOCAL;
    return SHUNT_MODE_READ;
}

const char *shunt_mode_name(int mode)
{
    switch (mode) {
    case SHUNT_MODE_LOCAL: return "local";
    case SHUNT_MODE_READ: return "read";
    case SHUNT_MODE_WRITE: return "write";
    case SHUNT_MODE_NOT_FOUND: return "not_found";
    }
    return "?";
}

int shunt_open_writes(uint64_t flags)
{
    if (flags & O_PATH) /* the kernel drops every other flag but
                           O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC */
        return 0;
    return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) ||
           (flags & O_TMPFILE) == O_TMPFILE;
}

/* ---- outgoing network filter ------------------------------------------- */
static int prefix_match(const unsigned char *a, const unsigned char *b,
                        int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)full) != 0)
        return 0;
    if (!rest)
        return 1;
    unsigned char m = (unsigned char)(0xff << (8 - rest));
    return (a[full] & m) == (b[full] & m);
}

static int rule_match(const shunt_netrule_t *r, int proto, int family,
                      const unsigned char *a, unsigned port, const char *name)
{
    if (r->proto && r->proto != proto)
        return 0;
    if (port < r->port_lo || port > r->port_hi)
        return 0;
    if (r->name)
        return name && fnmatch(r->name, name, FNM_CASEFOLD) == 0;
    if (!r->family)
        return 1;
    return r->family == family && prefix_match(r->addr, a, r->prefix);
}

int shunt_policy_net_remote(const shunt_policy_t *p, int proto, int family,
                            const void *addr, unsigned port, const char *name)
{
    const unsigned char *a = addr;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0,
                                             0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET6 && memcmp(a, mapped, 12) == 0) {
        family = AF_INET;
        a += 12;
    }
    const shunt_netrules_t *rules = p && p->cfg ? &p->cfg->net : NULL;
    int any_remote = 0;
    for (int pass = 0; rules && pass < 2; pass++)
        for (size_t i = 0; i < rules->n; i++) {
            const shunt_netrule_t *r = &rules->v[i];
            if (r->remote != pass)
                continue;
            any_remote |= r->remote;
            if (rule_match(r, proto, family, a, port, name))
                return r->remote;
        }
    if (any_remote)
        return 0;
    static const unsigned char zero[16];
    if (family == AF_INET)
        return a[0] != 127 && memcmp(a, zero, 4) != 0;
    static const unsigned char one[16] = {[15] = 1};
    return memcmp(a, one, 16) != 0 && memcmp(a, zero, 16) != 0;
}
