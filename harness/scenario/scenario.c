/* Scenario loading and validation of the target: section. */
#include "shunt/scenario.h"
#include "shunt/fuzzspec.h"
#include "shunt/layercfg.h"
#include "shunt/traffic.h"
#include "shunt/arena.h"
#include "scenario_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    shunt_yerr_t e;
    shunt_arena_t *mem;
    const char *dir;
} ctx_t;

static void *keep(ctx_t *c, void *p) { return shunt_arena_keep(c->mem, p); }

static void *zalloc(ctx_t *c, size_t n, size_t size)
{
    return shunt_arena_zalloc(c->mem, n, size);
}

static char *sdup(ctx_t *c, const char *s) { return shunt_arena_strdup(c->mem, s); }

static int oom(ctx_t *c)
{
    snprintf(c->e.buf, c->e.len, "%s: out of memory", c->e.file);
    return -1;
}

int shunt_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SHUNT_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            return 0;
    return 1;
}

/* RFC 1123 host name: dot-separated labels of [A-Za-z0-9-], 1-63 chars. */
static int valid_hostname(const char *s, size_t max)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        char ch = s[i];
        if (ch == '.' || ch == 0) {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-'))
            return 0;
        if (label == 0 && ch == '-')
            return 0;
        label++;
    }
    return 1;
}

static int get_name(ctx_t *c, const shunt_ynode_t *n, const char *path,
                    char **out)
{
    const char *s;
    if (shunt_yget_str(&c->e, n, path, &s) < 0)
        return -1;
    if (!shunt_valid_name(s))
        return shunt_yerror(&c->e, n, path,
                            "expected a name of 1-%d characters [a-z0-9-] "
                            "not starting or ending with '-', got \"%s\"",
                            SHUNT_NAME_MAX, s);
    return (*out = sdup(c, s)) ? 0 : oom(c);
}

static int get_hostname(ctx_t *c, const shunt_ynode_t *n, const char *path,
                        char **out)
{
    const char *s;
    if (shunt_yget_str(&c->e, n, path, &s) < 0)
        return -1;
    if (!valid_hostname(s, 253))
        return shunt_yerror(&c->e, n, path,
                            "expected a host name (letters, digits, '-' and "
                            "'.'), got \"%s\"",
                            s);
    return (*out = sdup(c, s)) ? 0 : oom(c);
}

static int get_ip(ctx_t *c, const shunt_ynode_t *n, const char *path,
                  int v4_only, char **out)
{
    const char *s;
    unsigned char buf[16];
    if (shunt_yget_str(&c->e, n, path, &s) < 0)
        return -1;
    if (inet_pton(AF_INET, s, buf) != 1 &&
        (v4_only || inet_pton(AF_INET6, s, buf) != 1))
        return shunt_yerror(&c->e, n, path, "expected an %s address, got \"%s\"",
                            v4_only ? "IPv4" : "IPv4 or IPv6", s);
    return (*out = sdup(c, s)) ? 0 : oom(c);
}

/* A list of host names; sets *out to a NULL-terminated array. */
static int get_hostnames(ctx_t *c, const shunt_ynode_t *n, const char *path,
                         int allow_empty, char ***out, size_t *count)
{
    if (shunt_yexpect_seq(&c->e, n, path) < 0)
        return -1;
    if (!allow_empty && n->count == 0)
        return shunt_yerror(&c->e, n, path, "expected at least one name");
    char **v = zalloc(c, n->count + 1, sizeof(*v));
    if (!v)
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        char sub[512];
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (get_hostname(c, n->items[i], sub, &v[i]) < 0)
            return -1;
    }
    *out = v;
    *count = n->count;
    return 0;
}

static int get_env(ctx_t *c, const shunt_ynode_t *n, const char *path,
                   int add_path, shunt_envlist_t *out)
{
    size_t count = n ? n->count : 0;
    if (n && shunt_yexpect_map(&c->e, n, path) < 0)
        return -1;
    out->v = zalloc(c, count + 1, sizeof(*out->v));
    if (!out->v)
        return oom(c);
    int have_path = 0;
    for (size_t i = 0; i < count; i++) {
        const char *k = n->keys[i]->value, *v;
        char sub[512];
        shunt_ypath_key(sub, sizeof(sub), path, k);
        int ok = (k[0] == '_' || (k[0] >= 'A' && k[0] <= 'Z') ||
                  (k[0] >= 'a' && k[0] <= 'z'));
        for (const char *p = k; ok && *p; p++)
            ok = *p == '_' || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        if (!ok)
            return shunt_yerror(&c->e, n->keys[i], sub,
                                "environment variable names must match "
                                "[A-Za-z_][A-Za-z0-9_]*");
        if (n->items[i]->kind == SHUNT_Y_SCALAR && !n->items[i]->plain &&
            n->items[i]->len == 0)
            v = "";
        else if (shunt_yget_str(&c->e, n->items[i], sub, &v) < 0)
            return -1;
        out->v[out->n].key = sdup(c, k);
        out->v[out->n].value = sdup(c, v);
        if (!out->v[out->n].key || !out->v[out->n].value)
            return oom(c);
        out->n++;
        have_path |= strcmp(k, "PATH") == 0;
    }
    if (add_path && !have_path) {
        out->v[out->n].key = sdup(c, "PATH");
        out->v[out->n].value = sdup(c, SHUNT_DEFAULT_PATH);
        if (!out->v[out->n].key || !out->v[out->n].value)
            return oom(c);
        out->n++;
    }
    return 0;
}

/* Directories that are kernel mounts, read-only binds of the host or
 * generated by the harness; a scenario file there would be hidden or
 * would corrupt the host. */
static const char *const forbidden_dirs[] = {
    "/usr", "/bin", "/lib", "/lib64", "/sbin", "/proc",
    "/sys", "/dev", "/.shunt", NULL,
};
static const char *const generated_files[] = {
    "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", NULL,
};

static int check_container_path(ctx_t *c, const shunt_ynode_t *n,
                                 const char *path, const char *p)
{
    if (p[0] != '/')
        return shunt_yerror(&c->e, n, path, "must be an absolute path, got \"%s\"", p);
    if (strlen(p) >= 1024)
        return shunt_yerror(&c->e, n, path, "path longer than 1023 bytes");
    const char *s = p;
    while (*s) {
        s++; /* skip '/' */
        size_t len = strcspn(s, "/");
        if (len == 0)
            return shunt_yerror(&c->e, n, path,
                                "\"%s\" has an empty component or a trailing '/'", p);
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            return shunt_yerror(&c->e, n, path,
                                "\"%s\" must not contain '.' or '..' components", p);
        s += len;
    }
    for (size_t i = 0; forbidden_dirs[i]; i++) {
        size_t l = strlen(forbidden_dirs[i]);
        if (strncmp(p, forbidden_dirs[i], l) == 0 && (p[l] == '/' || p[l] == 0))
            return shunt_yerror(&c->e, n, path,
                                "\"%s\" is under %s, which is a read-only or "
                                "kernel mount in the container",
                                p, forbidden_dirs[i]);
    }
    if (strcmp(p, "/tmp") == 0)
        return shunt_yerror(&c->e, n, path,
                            "\"/tmp\" is the container's own tmpfs; files beneath it "
                            "are fine");
    for (size_t i = 0; generated_files[i]; i++)
        if (strcmp(p, generated_files[i]) == 0)
            return shunt_yerror(&c->e, n, path,
                                "\"%s\" is generated by the harness (use "
                                "target.hostname, target.hosts or target.dns)",
                                p);
    return 0;
}

static int get_command(ctx_t *c, const shunt_ynode_t *n, const char *path,
                       shunt_service_spec_t *svc);

/* from: relative to the scenario directory, never leaving it, or an
 * absolute path on this host; a regular file or a directory. */
static int resolve_from(ctx_t *c, const shunt_ynode_t *n, const char *path,
                        const char *rel, char **out, int *is_dir)
{
    char joined[PATH_MAX], real[PATH_MAX], realdir[PATH_MAX];
    struct stat st;
    if (rel[0] == '/') {
        if (!realpath(rel, real) || stat(real, &st) < 0)
            return shunt_yerror(&c->e, n, path, "cannot read \"%s\" on this host: %s",
                                rel, strerror(errno));
    } else {
        int depth = 0;
        for (const char *s = rel; *s;) {
            size_t len = strcspn(s, "/");
            if (len == 2 && s[0] == '.' && s[1] == '.')
                depth--;
            else if (len > 0 && !(len == 1 && s[0] == '.'))
                depth++;
            if (depth < 0)
                return shunt_yerror(&c->e, n, path,
                                    "\"%s\" escapes the scenario's directory (an "
                                    "absolute path names a host file)",
                                    rel);
            s += len;
            while (*s == '/')
                s++;
        }
        if (snprintf(joined, sizeof(joined), "%s/%s", c->dir, rel) >= (int)sizeof(joined))
            return shunt_yerror(&c->e, n, path, "path too long");
        if (!realpath(joined, real) || stat(real, &st) < 0)
            return shunt_yerror(&c->e, n, path, "cannot read \"%s\" (relative to %s): %s",
                                rel, c->dir, strerror(errno));
        if (!realpath(c->dir, realdir))
            return shunt_yerror(&c->e, n, path, "cannot resolve %s: %s", c->dir,
                                strerror(errno));
        size_t dl = strlen(realdir);
        if (strcmp(realdir, "/") != 0 &&
            (strncmp(real, realdir, dl) != 0 || real[dl] != '/'))
            return shunt_yerror(&c->e, n, path,
                                "\"%s\" resolves to %s, outside the scenario's "
                                "directory (through a symlink)",
                                rel, real);
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return shunt_yerror(&c->e, n, path,
                            "\"%s\" is neither a regular file nor a directory", rel);
    *is_dir = S_ISDIR(st.st_mode);
    return (*out = sdup(c, real)) ? 0 : oom(c);
}

/* Index of the first earlier entry of seen (a hash set of indices + 1
 * into v, nslots a power of two) with path p, after which i is added; or
 * (size_t)-1.  Linear in the number of entries (a scan of the earlier ones
 * took 87 s for 200,000). */
static size_t seen_path(size_t *seen, size_t nslots,
                        const shunt_file_spec_t *v, size_t i, const char *p)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *q = p; *q; q++)
        h = (h ^ (uint8_t)*q) * 1099511628211ull;
    for (size_t k = (size_t)h & (nslots - 1);; k = (k + 1) & (nslots - 1)) {
        if (!seen[k]) {
            seen[k] = i + 1;
            return (size_t)-1;
        }
        if (strcmp(v[seen[k] - 1].path, p) == 0)
            return seen[k] - 1;
    }
}

/* owner: UID, "UID:GID", a user name or "USER:GROUP" (names as this
 * host's /etc/passwd and /etc/group have them, which the target copies). */
static int get_owner(ctx_t *c, const shunt_ynode_t *n, const char *path, long *uid,
                     long *gid)
{
    const char *s;
    if (shunt_yget_str(&c->e, n, path, &s) < 0)
        return -1;
    char u[128], g[128] = "";
    const char *colon = strchr(s, ':');
    snprintf(u, sizeof(u), "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
    if (colon)
        snprintf(g, sizeof(g), "%s", colon + 1);
    char *end;
    *uid = strtol(u, &end, 10);
    if (!u[0] || *end || *uid < 0 || *uid > 65535) {
        struct passwd *pw = getpwnam(u);
        if (!pw)
            return shunt_yerror(&c->e, n, path,
                                "expected UID, UID:GID, USER or USER:GROUP (0-65535 "
                                "or a name in /etc/passwd), got \"%s\"",
                                s);
        *uid = (long)pw->pw_uid;
        if (!colon)
            *gid = (long)pw->pw_gid;
    } else if (!colon) {
        *gid = *uid;
    }
    if (colon) {
        *gid = strtol(g, &end, 10);
        if (!g[0] || *end || *gid < 0 || *gid > 65535) {
            struct group *gr = getgrnam(g);
            if (!gr)
                return shunt_yerror(&c->e, n, path,
                                    "group \"%s\" is neither a number 0-65535 nor a "
                                    "name in /etc/group",
                                    g);
            *gid = (long)gr->gr_gid;
        }
    }
    return 0;
}

/* The layer's default local set (docs/hooking.md): a fuzz tree there
 * would be compared with the host's own files. */
static int check_fuzz_path(ctx_t *c, const shunt_ynode_t *n, const char *path,
                           const char *p)
{
    static const char *const local_dirs[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32",
                                             "/lib64", "/libx32", "/proc", "/sys",
                                             "/dev", "/run", "/tmp", "/var/tmp", NULL};
    if (strcmp(p, "/") == 0)
        return shunt_yerror(&c->e, n, path, "\"/\" is the whole target: name a "
                            "directory or file below it");
    for (size_t i = 0; local_dirs[i]; i++) {
        size_t l = strlen(local_dirs[i]);
        if (strncmp(p, local_dirs[i], l) == 0 && (p[l] == '/' || p[l] == 0))
            return shunt_yerror(&c->e, n, path,
                                "\"%s\" is under %s, in the layer's default local "
                                "set: the fuzzer compares paths of the target",
                                p, local_dirs[i]);
    }
    return 0;
}

static int get_files(ctx_t *c, const shunt_ynode_t *n, const char *path,
                     shunt_filelist_t *out, long **sizes)
{
    static const char *const tkeys[] = {"path", "content", "from", "symlink", "link",
                                        "dir", "fifo", "mode", "owner", NULL};
    static const char *const tkinds[] = {"content", "from", "symlink", "link", "dir",
                                         "fifo", NULL};
    static const char *const fkeys[] = {"path", "content", "size", "symlink", "link",
                                        "dir", "fifo", "mode", NULL};
    static const char *const fkinds[] = {"content", "size", "symlink", "link", "dir",
                                         "fifo", NULL};
    const char *const *keys = sizes ? fkeys : tkeys, *const *kinds = sizes ? fkinds : tkinds;
    const char *one_of = sizes ? "content, size, symlink, link, dir and fifo"
                               : "content, from, symlink, link, dir and fifo";
    if (shunt_yexpect_seq(&c->e, n, path) < 0)
        return -1;
    if (sizes && !(*sizes = zalloc(c, n->count, sizeof(**sizes))))
        return oom(c);
    out->v = zalloc(c, n->count, sizeof(*out->v));
    size_t nslots = 16;
    while (nslots < 2 * n->count)
        nslots *= 2;
    size_t *seen = zalloc(c, nslots, sizeof(*seen));
    if (!out->v || !seen)
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        const shunt_ynode_t *f = n->items[i];
        shunt_file_spec_t *fs = &out->v[i];
        char sub[512], kp[600];
        const char *s;
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (shunt_yexpect_map(&c->e, f, sub) < 0 ||
            shunt_ycheck_keys(&c->e, f, sub, keys) < 0)
            return -1;
        const shunt_ynode_t *pn = shunt_ymap_get(f, "path");
        const shunt_ynode_t *mn = shunt_ymap_get(f, "mode");
        const shunt_ynode_t *on = shunt_ymap_get(f, "owner");
        if (!pn)
            return shunt_yerror(&c->e, f, sub, "missing required key path");
        shunt_ypath_key(kp, sizeof(kp), sub, "path");
        if (shunt_yget_str(&c->e, pn, kp, &s) < 0 ||
            (sizes && strcmp(s, "/") == 0 && check_fuzz_path(c, pn, kp, s) < 0) ||
            check_container_path(c, pn, kp, s) < 0 ||
            (sizes && check_fuzz_path(c, pn, kp, s) < 0))
            return -1;
        if (!(fs->path = sdup(c, s)))
            return oom(c);
        size_t j = seen_path(seen, nslots, out->v, i, fs->path);
        if (j != (size_t)-1)
            return shunt_yerror(&c->e, pn, kp, "\"%s\" is already listed at %s[%zu]",
                                s, path, j);
        const char *kind = NULL;
        const shunt_ynode_t *kn = NULL;
        for (size_t k = 0; kinds[k]; k++) {
            const shunt_ynode_t *v = shunt_ymap_get(f, kinds[k]);
            if (!v)
                continue;
            if (kind)
                return shunt_yerror(&c->e, v, sub,
                                    "expected exactly one of %s; %s is already given",
                                    one_of, kind);
            kind = kinds[k];
            kn = v;
        }
        if (!kind)
            return shunt_yerror(&c->e, f, sub, "expected exactly one of %s", one_of);
        shunt_ypath_key(kp, sizeof(kp), sub, kind);
        fs->mode = 0644;
        if (sizes)
            (*sizes)[i] = -1;
        if (strcmp(kind, "size") == 0) {
            if (shunt_yget_int(&c->e, kn, kp, 0, 64L << 20, &(*sizes)[i]) < 0)
                return -1;
            fs->kind = SHUNT_FILE_REG;
        } else if (strcmp(kind, "content") == 0) {
            if (kn->kind != SHUNT_Y_SCALAR || (shunt_ynode_is_null(kn) && kn->len))
                return shunt_yerror(&c->e, kn, kp, "expected a string, got a %s",
                                    shunt_ykind_name(kn));
            fs->content = keep(c, malloc(kn->len + 1));
            if (!fs->content)
                return oom(c);
            memcpy(fs->content, kn->value, kn->len + 1);
            fs->content_len = kn->len;
        } else if (strcmp(kind, "from") == 0) {
            int is_dir = 0;
            if (shunt_yget_str(&c->e, kn, kp, &s) < 0 ||
                resolve_from(c, kn, kp, s, &fs->from, &is_dir) < 0)
                return -1;
            fs->kind = is_dir ? SHUNT_FILE_TREE : SHUNT_FILE_REG;
        } else if (strcmp(kind, "symlink") == 0) {
            fs->kind = SHUNT_FILE_SYMLINK;
            if (shunt_yget_str(&c->e, kn, kp, &s) < 0)
                return -1;
            if (strlen(s) >= PATH_MAX)
                return shunt_yerror(&c->e, kn, kp, "longer than %d bytes", PATH_MAX - 1);
            if (!(fs->target = sdup(c, s)))
                return oom(c);
        } else if (strcmp(kind, "link") == 0) {
            fs->kind = SHUNT_FILE_LINK;
            if (shunt_yget_str(&c->e, kn, kp, &s) < 0 || check_container_path(c, kn, kp, s) < 0)
                return -1;
            if (!(fs->target = sdup(c, s)))
                return oom(c);
            size_t t = 0; /* fuzz.tree: the interpreter links tree entries */
            while (sizes && t < i && strcmp(out->v[t].path, s) != 0)
                t++;
            if (sizes && (t == i || out->v[t].kind != SHUNT_FILE_REG))
                return shunt_yerror(&c->e, kn, kp,
                                    "\"%s\" is not a regular file listed before "
                                    "%s (a hard link of the fuzz tree links one)",
                                    s, sub);
        } else {
            const char *b;
            if (shunt_yget_str(&c->e, kn, kp, &b) < 0)
                return -1;
            if (strcmp(b, "true") != 0 && strcmp(b, "yes") != 0)
                return shunt_yerror(&c->e, kn, kp, "expected true, got \"%s\"", b);
            fs->kind = strcmp(kind, "dir") == 0 ? SHUNT_FILE_DIR : SHUNT_FILE_FIFO;
            if (fs->kind == SHUNT_FILE_DIR)
                fs->mode = 0755;
        }
        shunt_ypath_key(kp, sizeof(kp), sub, "mode");
        if (mn && (fs->kind == SHUNT_FILE_SYMLINK || fs->kind == SHUNT_FILE_LINK))
            return shunt_yerror(&c->e, mn, kp,
                                "a %s has no mode of its own",
                                fs->kind == SHUNT_FILE_LINK ? "hard link" : "symlink");
        if (mn && shunt_yget_mode(&c->e, mn, kp, &fs->mode) < 0)
            return -1;
        fs->mode_set = mn != NULL;
        fs->uid = fs->gid = -1;
        shunt_ypath_key(kp, sizeof(kp), sub, "owner");
        if (on && fs->kind == SHUNT_FILE_LINK)
            return shunt_yerror(&c->e, on, kp, "a hard link has the owner of its file");
        if (on && get_owner(c, on, kp, &fs->uid, &fs->gid) < 0)
            return -1;
        out->n++;
    }
    return 0;
}

int shunt_scenario_files(const shunt_yerr_t *e, shunt_arena_t *mem, const char *dir,
                         const shunt_ynode_t *n, const char *path, long **sizes,
                         shunt_filelist_t *out)
{
    ctx_t c = {.e = *e, .mem = mem, .dir = dir};
    return get_files(&c, n, path, out, sizes);
}

/* etc: {drop: [...], add: [...]}: fnmatch patterns on paths below /etc
 * (written relative to it, or absolute under /etc/). */
static int get_etc_list(ctx_t *c, const shunt_ynode_t *n, const char *path, int add,
                        char ***out, size_t *count)
{
    if (shunt_yexpect_seq(&c->e, n, path) < 0)
        return -1;
    if (!(*out = zalloc(c, n->count + 1, sizeof(char *))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        char sub[128];
        const char *s;
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (shunt_yget_str(&c->e, n->items[i], sub, &s) < 0)
            return -1;
        const char *rel = strncmp(s, "/etc/", 5) == 0 ? s + 5 : s;
        if (!rel[0] || rel[0] == '/' || strstr(rel, "..") || rel[strlen(rel) - 1] == '/')
            return shunt_yerror(&c->e, n->items[i], sub,
                                "expected a path (or glob) below /etc, like "
                                "java-17-openjdk or /etc/ssl/private, got \"%s\"",
                                s);
        if (add && (strcmp(rel, "hostname") == 0 || strcmp(rel, "hosts") == 0 ||
                    strcmp(rel, "resolv.conf") == 0))
            return shunt_yerror(&c->e, n->items[i], sub,
                                "/etc/%s is generated by the harness (use "
                                "target.hostname, target.hosts or target.dns)",
                                rel);
        if (!((*out)[i] = sdup(c, rel)))
            return oom(c);
    }
    *count = n->count;
    return 0;
}

static int get_etc(ctx_t *c, const shunt_ynode_t *n, shunt_target_spec_t *t)
{
    static const char *const keys[] = {"drop", "add", NULL};
    const shunt_ynode_t *v;
    if (shunt_yexpect_map(&c->e, n, "target.etc") < 0 ||
        shunt_ycheck_keys(&c->e, n, "target.etc", keys) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "drop")) &&
        get_etc_list(c, v, "target.etc.drop", 0, &t->etc_drop, &t->n_etc_drop) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "add")) &&
        get_etc_list(c, v, "target.etc.add", 1, &t->etc_add, &t->n_etc_add) < 0)
        return -1;
    return 0;
}

/* setup: commands run in the target once it is up; each a string (run by
 * /bin/sh -c) or a non-empty list (the program and its arguments). */
static int get_setup(ctx_t *c, const shunt_ynode_t *n, shunt_target_spec_t *t)
{
    const char *path = "target.setup";
    if (shunt_yexpect_seq(&c->e, n, path) < 0)
        return -1;
    if (!(t->setup = zalloc(c, n->count + 1, sizeof(*t->setup))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        const shunt_ynode_t *v = n->items[i];
        char sub[64];
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (v->kind == SHUNT_Y_SCALAR) {
            const char *s;
            if (shunt_yget_str(&c->e, v, sub, &s) < 0)
                return -1;
            char **argv = zalloc(c, 4, sizeof(char *));
            if (!argv || !(argv[0] = sdup(c, "/bin/sh")) || !(argv[1] = sdup(c, "-c")) ||
                !(argv[2] = sdup(c, s)))
                return oom(c);
            t->setup[i] = argv;
        } else {
            shunt_service_spec_t tmp = {0};
            if (v->kind != SHUNT_Y_SEQ)
                return shunt_yerror(&c->e, v, sub,
                                    "expected a shell command (a string) or a list "
                                    "(the program and its arguments)");
            if (get_command(c, v, sub, &tmp) < 0)
                return -1;
            t->setup[i] = tmp.command;
        }
        t->n_setup++;
    }
    return 0;
}

static int get_command(ctx_t *c, const shunt_ynode_t *n, const char *path,
                       shunt_service_spec_t *svc)
{
    if (shunt_yexpect_seq(&c->e, n, path) < 0)
        return -1;
    if (n->count == 0)
        return shunt_yerror(&c->e, n, path, "expected a non-empty list (program and its arguments)");
    svc->command = zalloc(c, n->count + 1, sizeof(char *));
    if (!svc->command)
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        char sub[512];
        const char *s;
        shunt_ypath_index(sub, sizeof(sub), path, i);
        const shunt_ynode_t *a = n->items[i];
        if (a->kind == SHUNT_Y_SCALAR && !a->plain && a->len == 0)
            s = "";
        else if (shunt_yget_str(&c->e, a, sub, &s) < 0)
            return -1;
        if (!(svc->command[i] = sdup(c, s)))
            return oom(c);
    }
    svc->n_command = n->count;
    return 0;
}

/* Every DNS name in the cluster resolves to one address. */
static int claim_name(ctx_t *c, const shunt_ynode_t *n, const char *path,
                      const char *name, const char ***seen, size_t *n_seen)
{
    for (size_t i = 0; i < *n_seen; i++)
        if (strcasecmp((*seen)[i], name) == 0)
            return shunt_yerror(&c->e, n, path,
                                "name \"%s\" is already used in the cluster", name);
    const char **ns = keep(c, malloc((*n_seen + 1) * sizeof(*ns)));
    if (!ns)
        return oom(c);
    if (*n_seen)
        memcpy(ns, *seen, *n_seen * sizeof(*ns));
    ns[(*n_seen)++] = name;
    *seen = ns;
    return 0;
}

static int get_services(ctx_t *c, const shunt_ynode_t *n, const char *path,
                        shunt_target_spec_t *t, const char ***seen, size_t *n_seen)
{
    static const char *const keys[] = {"name", "command", "port", "aliases",
                                       "files", "env", NULL};
    static const char *const reserved[] = {"target", "br", "dns", NULL};
    if (shunt_yexpect_seq(&c->e, n, path) < 0)
        return -1;
    if (n->count > SHUNT_MAX_SERVICES)
        return shunt_yerror(&c->e, n, path, "at most %d services", SHUNT_MAX_SERVICES);
    t->services = zalloc(c, n->count, sizeof(*t->services));
    if (!t->services)
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        const shunt_ynode_t *s = n->items[i];
        shunt_service_spec_t *svc = &t->services[i];
        char sub[512], kp[600];
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (shunt_yexpect_map(&c->e, s, sub) < 0 ||
            shunt_ycheck_keys(&c->e, s, sub, keys) < 0)
            return -1;
        const shunt_ynode_t *v = shunt_ymap_get(s, "name");
        shunt_ypath_key(kp, sizeof(kp), sub, "name");
        if (!v)
            return shunt_yerror(&c->e, s, sub, "missing required key name");
        if (get_name(c, v, kp, &svc->name) < 0)
            return -1;
        for (size_t r = 0; reserved[r]; r++)
            if (strcmp(svc->name, reserved[r]) == 0)
                return shunt_yerror(&c->e, v, kp,
                                    "\"%s\" is reserved (target, br and dns name "
                                    "the harness's own containers)",
                                    svc->name);
        char fqdn[300];
        snprintf(fqdn, sizeof(fqdn), "%s.%s", svc->name, t->dns_domain);
        char *fq = sdup(c, fqdn);
        if (!fq || claim_name(c, v, kp, svc->name, seen, n_seen) < 0 ||
            claim_name(c, v, kp, fq, seen, n_seen) < 0)
            return fq ? -1 : oom(c);

        v = shunt_ymap_get(s, "command");
        shunt_ypath_key(kp, sizeof(kp), sub, "command");
        if (!v)
            return shunt_yerror(&c->e, s, sub, "missing required key command");
        if (get_command(c, v, kp, svc) < 0)
            return -1;

        if ((v = shunt_ymap_get(s, "port"))) {
            long port;
            shunt_ypath_key(kp, sizeof(kp), sub, "port");
            if (shunt_yget_int(&c->e, v, kp, 1, 65535, &port) < 0)
                return -1;
            svc->port = (int)port;
        }
        svc->aliases = zalloc(c, 1, sizeof(char *));
        if (!svc->aliases)
            return oom(c);
        if ((v = shunt_ymap_get(s, "aliases"))) {
            shunt_ypath_key(kp, sizeof(kp), sub, "aliases");
            if (get_hostnames(c, v, kp, 1, &svc->aliases, &svc->n_aliases) < 0)
                return -1;
            for (size_t a = 0; a < svc->n_aliases; a++) {
                char ap[700];
                shunt_ypath_index(ap, sizeof(ap), kp, a);
                if (claim_name(c, v->items[a], ap, svc->aliases[a], seen, n_seen) < 0)
                    return -1;
            }
        }
        shunt_ypath_key(kp, sizeof(kp), sub, "files");
        if ((v = shunt_ymap_get(s, "files")) && get_files(c, v, kp, &svc->files, NULL) < 0)
            return -1;
        shunt_ypath_key(kp, sizeof(kp), sub, "env");
        if (get_env(c, shunt_ymap_get(s, "env"), kp, 1, &svc->env) < 0)
            return -1;
        t->n_services++;
    }
    return 0;
}

static int get_hosts(ctx_t *c, const shunt_ynode_t *n, const char *path,
                     shunt_target_spec_t *t)
{
    static const char *const keys[] = {"ip", "names", NULL};
    if (shunt_yexpect_seq(&c->e, n, path) < 0)
        return -1;
    t->hosts = zalloc(c, n->count, sizeof(*t->hosts));
    if (!t->hosts)
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        const shunt_ynode_t *h = n->items[i];
        char sub[512], kp[600];
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (shunt_yexpect_map(&c->e, h, sub) < 0 ||
            shunt_ycheck_keys(&c->e, h, sub, keys) < 0)
            return -1;
        const shunt_ynode_t *ip = shunt_ymap_get(h, "ip");
        const shunt_ynode_t *names = shunt_ymap_get(h, "names");
        if (!ip)
            return shunt_yerror(&c->e, h, sub, "missing required key ip");
        if (!names)
            return shunt_yerror(&c->e, h, sub, "missing required key names");
        shunt_ypath_key(kp, sizeof(kp), sub, "ip");
        if (get_ip(c, ip, kp, 0, &t->hosts[i].ip) < 0)
            return -1;
        shunt_ypath_key(kp, sizeof(kp), sub, "names");
        if (get_hostnames(c, names, kp, 0, &t->hosts[i].names,
                          &t->hosts[i].n_names) < 0)
            return -1;
        t->n_hosts++;
    }
    return 0;
}

static int get_dns(ctx_t *c, const shunt_ynode_t *n, const char *path,
                   shunt_target_spec_t *t)
{
    static const char *const keys[] = {"domain", "records", NULL};
    static const char *const rkeys[] = {"name", "ip", NULL};
    char kp[600];
    if (shunt_yexpect_map(&c->e, n, path) < 0 ||
        shunt_ycheck_keys(&c->e, n, path, keys) < 0)
        return -1;
    const shunt_ynode_t *d = shunt_ymap_get(n, "domain");
    shunt_ypath_key(kp, sizeof(kp), path, "domain");
    if (d && get_hostname(c, d, kp, &t->dns_domain) < 0)
        return -1;
    const shunt_ynode_t *r = shunt_ymap_get(n, "records");
    if (!r)
        return 0;
    shunt_ypath_key(kp, sizeof(kp), path, "records");
    if (shunt_yexpect_seq(&c->e, r, kp) < 0)
        return -1;
    t->dns_records = zalloc(c, r->count, sizeof(*t->dns_records));
    if (!t->dns_records)
        return oom(c);
    for (size_t i = 0; i < r->count; i++) {
        char sub[700], ip[800];
        const shunt_ynode_t *rec = r->items[i];
        shunt_ypath_index(sub, sizeof(sub), kp, i);
        if (shunt_yexpect_map(&c->e, rec, sub) < 0 ||
            shunt_ycheck_keys(&c->e, rec, sub, rkeys) < 0)
            return -1;
        const shunt_ynode_t *nn = shunt_ymap_get(rec, "name");
        const shunt_ynode_t *in = shunt_ymap_get(rec, "ip");
        if (!nn || !in)
            return shunt_yerror(&c->e, rec, sub, "missing required key %s",
                                nn ? "ip" : "name");
        shunt_ypath_key(ip, sizeof(ip), sub, "name");
        if (get_hostname(c, nn, ip, &t->dns_records[i].name) < 0)
            return -1;
        shunt_ypath_key(ip, sizeof(ip), sub, "ip");
        if (get_ip(c, in, ip, 1, &t->dns_records[i].ip) < 0)
            return -1;
        t->n_dns_records++;
    }
    return 0;
}

/* daemons: the target's own long-running services, started inside the
 * target container at up, after setup: (docs/scenarios.md). */
static int get_daemons(ctx_t *c, const shunt_ynode_t *n, shunt_target_spec_t *t)
{
    static const char *const keys[] = {"command", "port", "env", NULL};
    const char *path = "target.daemons";
    if (shunt_yexpect_seq(&c->e, n, path) < 0)
        return -1;
    if (!(t->daemons = zalloc(c, n->count + 1, sizeof(*t->daemons))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        const shunt_ynode_t *d = n->items[i], *v;
        shunt_daemon_spec_t *ds = &t->daemons[i];
        char sub[64], kp[128];
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (shunt_yexpect_map(&c->e, d, sub) < 0 || shunt_ycheck_keys(&c->e, d, sub, keys) < 0)
            return -1;
        shunt_ypath_key(kp, sizeof(kp), sub, "command");
        if (!(v = shunt_ymap_get(d, "command")))
            return shunt_yerror(&c->e, d, sub, "missing required key command");
        shunt_service_spec_t tmp = {0};
        if (get_command(c, v, kp, &tmp) < 0)
            return -1;
        ds->command = tmp.command;
        ds->n_command = tmp.n_command;
        if ((v = shunt_ymap_get(d, "port"))) {
            long port;
            shunt_ypath_key(kp, sizeof(kp), sub, "port");
            if (shunt_yget_int(&c->e, v, kp, 1, 65535, &port) < 0)
                return -1;
            for (size_t j = 0; j < i; j++)
                if (t->daemons[j].port == (int)port)
                    return shunt_yerror(&c->e, v, kp,
                                        "port %ld is already target.daemons[%zu]'s", port,
                                        j);
            ds->port = (int)port;
        }
        shunt_ypath_key(kp, sizeof(kp), sub, "env");
        if (get_env(c, shunt_ymap_get(d, "env"), kp, 0, &ds->env) < 0)
            return -1;
        t->n_daemons++;
    }
    return 0;
}

/* The default target name: the file's basename without .yaml / .yml. */
static int default_name(ctx_t *c, const shunt_ynode_t *tn, char **out)
{
    const char *base = strrchr(c->e.file, '/');
    base = base ? base + 1 : c->e.file;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", base);
    char *dot = strrchr(buf, '.');
    if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0))
        *dot = 0;
    if (!shunt_valid_name(buf))
        return shunt_yerror(&c->e, tn, "target",
                            "the file name \"%s\" is not a valid target name; "
                            "set target.name (1-%d characters [a-z0-9-])",
                            buf, SHUNT_NAME_MAX);
    return (*out = sdup(c, buf)) ? 0 : oom(c);
}

static int get_target(ctx_t *c, const shunt_ynode_t *n, shunt_target_spec_t *t)
{
    static const char *const keys[] = {"name", "hostname", "env", "hosts",
                                       "files", "services", "dns", "setup", "etc",
                                       "daemons", NULL};
    const char *path = "target";
    const shunt_ynode_t *v;
    if (shunt_yexpect_map(&c->e, n, path) < 0 ||
        shunt_ycheck_keys(&c->e, n, path, keys) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "name"))) {
        if (get_name(c, v, "target.name", &t->name) < 0)
            return -1;
    } else if (default_name(c, n, &t->name) < 0) {
        return -1;
    }
    if ((v = shunt_ymap_get(n, "hostname"))) {
        const char *s;
        if (shunt_yget_str(&c->e, v, "target.hostname", &s) < 0)
            return -1;
        if (!valid_hostname(s, 64))
            return shunt_yerror(&c->e, v, "target.hostname",
                                "expected a host name of at most 64 characters "
                                "(letters, digits, '-' and '.'), got \"%s\"",
                                s);
        if (!(t->hostname = sdup(c, s)))
            return oom(c);
    } else if (!(t->hostname = sdup(c, t->name))) {
        return oom(c);
    }
    if (get_env(c, shunt_ymap_get(n, "env"), "target.env", 1, &t->env) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "hosts")) && get_hosts(c, v, "target.hosts", t) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "files")) &&
        get_files(c, v, "target.files", &t->files, NULL) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "dns")) && get_dns(c, v, "target.dns", t) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "setup")) && get_setup(c, v, t) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "etc")) && get_etc(c, v, t) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "daemons")) && get_daemons(c, v, t) < 0)
        return -1;
    if (!t->dns_domain && !(t->dns_domain = sdup(c, "cluster")))
        return oom(c);
    const char **seen = NULL;
    size_t n_seen = 0;
    if (claim_name(c, n, path, t->hostname, &seen, &n_seen) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "services")) &&
        get_services(c, v, "target.services", t, &seen, &n_seen) < 0)
        return -1;
    for (size_t i = 0; i < t->n_dns_records; i++) {
        char kp[128];
        snprintf(kp, sizeof(kp), "target.dns.records[%zu].name", i);
        const shunt_ynode_t *rec =
            shunt_ymap_get(shunt_ymap_get(n, "dns"), "records")->items[i];
        if (claim_name(c, shunt_ymap_get(rec, "name"), kp,
                       t->dns_records[i].name, &seen, &n_seen) < 0)
            return -1;
    }
    return 0;
}


/* ---- cases: --------------------------------------------------------------
 * Each case is the file's program:, runs: and expect: with the case's own
 * keys on top, built as a map of the original nodes (so positions stay
 * right) and parsed by runspec; its errors then name cases[i]. */

static const char *const program_keys[] = {"language", "source", "main", "inline",
                                           "build", "args", "stdin", "env", "cwd",
                                           "timeout", "go", "cgo", "engines", NULL};

static int in_list(const char *k, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(k, list[i]) == 0)
            return 1;
    return 0;
}

static shunt_ynode_t *ynew(ctx_t *c, shunt_ykind_t kind, const shunt_ynode_t *pos,
                           size_t cap)
{
    shunt_ynode_t *n = zalloc(c, 1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = pos ? pos->line : 1;
    n->col = pos ? pos->col : 1;
    if (kind != SHUNT_Y_SCALAR) {
        n->keys = zalloc(c, cap, sizeof(*n->keys));
        n->items = zalloc(c, cap, sizeof(*n->items));
        if (!n->keys || !n->items)
            return NULL;
    }
    return n;
}

static shunt_ynode_t *yscalar(ctx_t *c, const char *v, const shunt_ynode_t *pos)
{
    shunt_ynode_t *n = ynew(c, SHUNT_Y_SCALAR, pos, 0);
    if (!n || !(n->value = sdup(c, v)))
        return NULL;
    n->len = strlen(v);
    n->plain = true;
    return n;
}

/* Sets key in a map made by ynew (room for it), replacing an older value. */
static void yset(shunt_ynode_t *m, shunt_ynode_t *k, shunt_ynode_t *v)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->keys[i]->value, k->value) == 0) {
            m->keys[i] = k;
            m->items[i] = v;
            return;
        }
    m->keys[m->count] = k;
    m->items[m->count++] = v;
}

static void ydel(shunt_ynode_t *m, const char *key)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->keys[i]->value, key) == 0) {
            memmove(m->keys + i, m->keys + i + 1, (m->count - i - 1) * sizeof(*m->keys));
            memmove(m->items + i, m->items + i + 1, (m->count - i - 1) * sizeof(*m->items));
            m->count--;
            return;
        }
}

/* base's entries, then over's on top (over may be NULL); room for extra
 * more keys. */
static shunt_ynode_t *ymerge(ctx_t *c, const shunt_ynode_t *base, const shunt_ynode_t *over,
                             const shunt_ynode_t *pos, size_t extra)
{
    size_t cap = (base ? base->count : 0) + (over ? over->count : 0) + extra;
    shunt_ynode_t *m = ynew(c, SHUNT_Y_MAP, pos, cap);
    if (!m)
        return NULL;
    for (size_t i = 0; base && i < base->count; i++)
        yset(m, base->keys[i], base->items[i]);
    for (size_t i = 0; over && i < over->count; i++)
        yset(m, over->keys[i], over->items[i]);
    return m;
}

/* "FILE:L:C: PATH: msg": a path into the merged program/expect/runs that
 * names a key the case gave is rewritten to the case's own path. */
static void case_error_path(ctx_t *c, size_t idx, const shunt_ynode_t *cn)
{
    char *buf = c->e.buf;
    size_t fl = strlen(c->e.file);
    if (strncmp(buf, c->e.file, fl) != 0 || buf[fl] != ':')
        return;
    char *p = buf + fl + 1;
    p += strspn(p, "0123456789");
    if (*p++ != ':')
        return;
    p += strspn(p, "0123456789");
    if (strncmp(p, ": ", 2) != 0)
        return;
    p += 2; /* the path */
    char *end = strstr(p, ": ");
    if (!end)
        return;
    char cp[64];
    snprintf(cp, sizeof(cp), "cases[%zu]", idx);
    const char *sect = NULL;
    size_t sl = 0;
    static const char *const sects[] = {"program", "expect", "runs", "traffic", NULL};
    for (size_t i = 0; sects[i]; i++) {
        size_t l = strlen(sects[i]);
        if (strncmp(p, sects[i], l) == 0 && (p[l] == '.' || p + l == end)) {
            sect = sects[i];
            sl = l;
        }
    }
    if (!sect)
        return;
    int program = strcmp(sect, "program") == 0;
    const shunt_ynode_t *own = program ? cn : shunt_ymap_get(cn, sect);
    char repl[700];
    size_t cut; /* bytes of the path replaced */
    if (p + sl == end) { /* the whole section */
        if (program)
            snprintf(repl, sizeof(repl), "%s", cp);
        else if (own)
            snprintf(repl, sizeof(repl), "%s.%s", cp, sect);
        else
            return;
        cut = sl;
    } else {
        char *k = p + sl + 1;
        size_t kl = strcspn(k, ".[:");
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)(kl < 63 ? kl : 63), k);
        cut = sl + 1 + kl;
        if (program && shunt_ymap_get(cn, "command") &&
            (strcmp(key, "args") == 0 || strcmp(key, "language") == 0))
            snprintf(repl, sizeof(repl), "%s.command", cp);
        else if (!own || !shunt_ymap_get(own, key))
            return;
        else if (program)
            snprintf(repl, sizeof(repl), "%s.%s", cp, key);
        else
            snprintf(repl, sizeof(repl), "%s.%s.%s", cp, sect, key);
        if (program && strcmp(key, "env") == 0 && k[kl] == '.') {
            /* env is merged: the variable decides whose it is */
            const shunt_ynode_t *fe = shunt_ymap_get(cn, "env");
            char var[128];
            size_t vl = strcspn(k + kl + 1, ":");
            snprintf(var, sizeof(var), "%.*s", (int)(vl < 127 ? vl : 127), k + kl + 1);
            if (!fe || fe->kind != SHUNT_Y_MAP || !shunt_ymap_get(fe, var))
                return;
        }
    }
    char tmp[8192];
    snprintf(tmp, sizeof(tmp), "%s%s", repl, p + cut);
    size_t off = (size_t)(p - buf);
    snprintf(p, c->e.len - off, "%s", tmp);
}

static int valid_case_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

static int get_cases(ctx_t *c, const shunt_ynode_t *n, shunt_scenario_t *s)
{
    static const char *const keys[] = {"name", "description", "command", "language",
                                       "source", "main", "inline", "build", "args",
                                       "stdin", "env", "cwd", "timeout", "go", "cgo",
                                       "engines", "runs", "expect", "traffic", NULL};
    static const char *const by_source[] = {"source", "inline", "main", "build", "go", "cgo",
                                            NULL};
    if (shunt_yexpect_seq(&c->e, n, "cases") < 0)
        return -1;
    if (n->count == 0)
        return shunt_yerror(&c->e, n, "cases", "expected at least one case");
    const shunt_ynode_t *fp = s->program && !shunt_ynode_is_null(s->program) ? s->program : NULL;
    if (fp && shunt_yexpect_map(&c->e, fp, "program") < 0)
        return -1;
    if (s->runs && shunt_yexpect_map(&c->e, s->runs, "runs") < 0)
        return -1;
    if (s->expect && shunt_yexpect_map(&c->e, s->expect, "expect") < 0)
        return -1;
    if (!(s->cases = zalloc(c, n->count, sizeof(*s->cases))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        const shunt_ynode_t *cn = n->items[i], *v;
        char sub[64], kp[128];
        const char *str;
        shunt_ypath_index(sub, sizeof(sub), "cases", i);
        if (shunt_yexpect_map(&c->e, cn, sub) < 0 ||
            shunt_ycheck_keys(&c->e, cn, sub, keys) < 0)
            return -1;
        shunt_ypath_key(kp, sizeof(kp), sub, "name");
        if (!(v = shunt_ymap_get(cn, "name")))
            return shunt_yerror(&c->e, cn, sub, "missing required key name");
        if (shunt_yget_str(&c->e, v, kp, &str) < 0)
            return -1;
        if (!valid_case_name(str))
            return shunt_yerror(&c->e, v, kp,
                                "expected a name of 1-64 characters [A-Za-z0-9._-] "
                                "not starting with '.' or '-', got \"%s\"",
                                str);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->cases[j].name, str) == 0)
                return shunt_yerror(&c->e, v, kp, "\"%s\" is already the name of cases[%zu]",
                                    str, j);
        if (!(s->cases[i].name = sdup(c, str)))
            return oom(c);
        if ((v = shunt_ymap_get(cn, "description")) &&
            shunt_yget_str(&c->e, v, "description", &str) < 0)
            return -1;

        /* program: the file's, the case's keys on top */
        /* room for every key of the case, and language + args of command: */
        shunt_ynode_t *prog = ymerge(c, fp, NULL, cn, cn->count + 2);
        if (!prog)
            return oom(c);
        const shunt_ynode_t *cmd = shunt_ymap_get(cn, "command");
        const shunt_ynode_t *lang = shunt_ymap_get(cn, "language");
        if (cmd && (lang || shunt_ymap_get(cn, "args"))) {
            shunt_ypath_key(kp, sizeof(kp), sub, "command");
            return shunt_yerror(&c->e, cmd, kp,
                                "command: is the program and its arguments (language "
                                "command); it goes without language: and args:");
        }
        if (cmd && (cmd->kind != SHUNT_Y_SEQ || cmd->count == 0)) {
            shunt_ypath_key(kp, sizeof(kp), sub, "command");
            return shunt_yerror(&c->e, cmd, kp,
                                "expected a non-empty list: the program and its arguments");
        }
        const shunt_ynode_t *old = shunt_ymap_get(prog, "language");
        const char *oldl = old && old->kind == SHUNT_Y_SCALAR ? old->value : "";
        const char *newl = cmd ? "command" : lang && lang->kind == SHUNT_Y_SCALAR ? lang->value : NULL;
        if (newl && strcmp(newl, oldl) != 0) /* another language: none of the file's source */
            for (size_t k = 0; by_source[k]; k++)
                ydel(prog, by_source[k]);
        if (shunt_ymap_get(cn, "source") || shunt_ymap_get(cn, "inline")) {
            ydel(prog, "source");
            ydel(prog, "inline");
            ydel(prog, "main");
        }
        for (size_t k = 0; k < cn->count; k++) {
            const char *key = cn->keys[k]->value;
            if (!in_list(key, program_keys))
                continue;
            shunt_ynode_t *val = cn->items[k];
            const shunt_ynode_t *fe = shunt_ymap_get(prog, "env");
            if (strcmp(key, "env") == 0 && fe && fe->kind == SHUNT_Y_MAP &&
                val->kind == SHUNT_Y_MAP && !(val = ymerge(c, fe, val, val, 0)))
                return oom(c);
            yset(prog, cn->keys[k], val);
        }
        if (cmd) {
            shunt_ynode_t *kl = yscalar(c, "language", cmd), *vl = yscalar(c, "command", cmd),
                          *ka = yscalar(c, "args", cmd);
            if (!kl || !vl || !ka)
                return oom(c);
            yset(prog, kl, vl);
            yset(prog, ka, (shunt_ynode_t *)cmd);
        }
        if (prog->count == 0)
            return shunt_yerror(&c->e, cn, sub,
                                "no program: give command: [PROGRAM, ARGS...], or "
                                "language: with source:/inline: (or a program: section "
                                "for every case)");
        const shunt_ynode_t *cr = shunt_ymap_get(cn, "runs"), *ce = shunt_ymap_get(cn, "expect");
        char kr[128];
        shunt_ypath_key(kr, sizeof(kr), sub, "runs");
        shunt_ypath_key(kp, sizeof(kp), sub, "expect");
        if ((cr && shunt_yexpect_map(&c->e, cr, kr) < 0) ||
            (ce && shunt_yexpect_map(&c->e, ce, kp) < 0))
            return -1;
        shunt_ynode_t *runs = s->runs || cr ? ymerge(c, s->runs, cr, cr ? cr : s->runs, 0) : NULL;
        shunt_ynode_t *exp = s->expect || ce ? ymerge(c, s->expect, ce, ce ? ce : s->expect, 0) : NULL;
        if ((!runs && (s->runs || cr)) || (!exp && (s->expect || ce)))
            return oom(c);
        const shunt_ynode_t *ct = shunt_ymap_get(cn, "traffic");
        shunt_ypath_key(kp, sizeof(kp), sub, "traffic");
        if (ct && shunt_yexpect_map(&c->e, ct, kp) < 0)
            return -1;
        shunt_ynode_t *traf = s->traffic || ct ? ymerge(c, s->traffic, ct, ct ? ct : s->traffic, 0) : NULL;
        if (!traf && (s->traffic || ct))
            return oom(c);
        if (shunt_runspec_parse(&c->e, c->dir, prog, runs, exp, &s->cases[i].run) < 0) {
            case_error_path(c, i, cn);
            return -1;
        }
        if (shunt_traffic_parse(&c->e, &s->target, traf, runs, exp, s->cases[i].run) < 0) {
            shunt_runspec_free(s->cases[i].run); /* not counted in n_cases yet */
            s->cases[i].run = NULL;
            case_error_path(c, i, cn);
            return -1;
        }
        s->n_cases++;
    }
    return 0;
}

static int build(ctx_t *c, shunt_scenario_t *s)
{
    static const char *const keys[] = {"name", "description", "target", "layer",
                                       "program", "runs", "expect", "cases", "fuzz",
                                       "traffic", NULL};
    const shunt_ynode_t *root = s->doc->root;
    if (!root || shunt_ynode_is_null(root))
        return shunt_yerror(&c->e, root, NULL,
                            "empty scenario: expected a map with a target: section");
    if (shunt_yexpect_map(&c->e, root, NULL) < 0 ||
        shunt_ycheck_keys(&c->e, root, "", keys) < 0)
        return -1;
    const shunt_ynode_t *v;
    const char *str;
    if ((v = shunt_ymap_get(root, "name"))) {
        if (shunt_yget_str(&c->e, v, "name", &str) < 0)
            return -1;
        if (!(s->name = sdup(c, str)))
            return oom(c);
    }
    if ((v = shunt_ymap_get(root, "description"))) {
        if (shunt_yget_str(&c->e, v, "description", &str) < 0)
            return -1;
        if (!(s->description = sdup(c, str)))
            return oom(c);
    }
    s->layer = shunt_ymap_get(root, "layer");
    s->program = shunt_ymap_get(root, "program");
    s->runs = shunt_ymap_get(root, "runs");
    s->expect = shunt_ymap_get(root, "expect");
    s->fuzz = shunt_ymap_get(root, "fuzz");
    s->traffic = shunt_ymap_get(root, "traffic");
    if (!(v = shunt_ymap_get(root, "target")))
        return shunt_yerror(&c->e, root, NULL, "missing required section target");
    if (get_target(c, v, &s->target) < 0)
        return -1;
    if (!s->name) { /* cases are named after the file: so is the scenario */
        const char *base = strrchr(c->e.file, '/');
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", base ? base + 1 : c->e.file);
        char *dot = strrchr(buf, '.');
        if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0))
            *dot = 0;
        if (!(s->name = sdup(c, buf)))
            return oom(c);
    }
    if (s->layer && shunt_layercfg_check(&c->e, s->layer) < 0)
        return -1;
    if (s->fuzz) {
        shunt_fuzzspec_t *f = NULL;
        if (shunt_fuzzspec_parse(s, &f, c->e.buf, c->e.len) < 0)
            return -1;
        shunt_fuzzspec_free(f);
    }
    if (s->traffic && shunt_yexpect_map(&c->e, s->traffic, "traffic") < 0)
        return -1;
    if ((v = shunt_ymap_get(root, "cases")))
        return get_cases(c, v, s);
    if (shunt_runspec_parse(&c->e, c->dir, s->program, s->runs, s->expect, &s->run) < 0)
        return -1;
    if (s->traffic && !s->run)
        return shunt_yerror(&c->e, s->traffic, "traffic",
                            "traffic: drives requests into the target while a program "
                            "runs: give program: (or cases:)");
    return s->run ? shunt_traffic_parse(&c->e, &s->target, s->traffic, s->runs, s->expect,
                                        s->run)
                  : 0;
}

static shunt_scenario_t *finish(shunt_ydoc_t *doc, char *err, size_t errlen)
{
    if (!doc)
        return NULL;
    shunt_scenario_t *s = calloc(1, sizeof(*s));
    shunt_arena_t *mem = calloc(1, sizeof(*mem));
    if (!s || !mem) {
        snprintf(err, errlen, "%s: out of memory", doc->file);
        free(s);
        free(mem);
        shunt_yaml_free(doc);
        return NULL;
    }
    s->doc = doc;
    s->mem = mem;
    s->file = doc->file;
    s->dir = doc->dir;
    ctx_t c = {.e = {.file = doc->file, .buf = err, .len = errlen},
               .mem = mem,
               .dir = doc->dir};
    if (build(&c, s) < 0) {
        shunt_scenario_free(s);
        return NULL;
    }
    return s;
}

shunt_scenario_t *shunt_scenario_load(const char *path, char *err, size_t errlen)
{
    return finish(shunt_yaml_load_file(path, err, errlen), err, errlen);
}

shunt_scenario_t *shunt_scenario_load_string(const char *file, const char *text,
                                             char *err, size_t errlen)
{
    return finish(shunt_yaml_load_string(file, text, strlen(text), err, errlen),
                  err, errlen);
}

void shunt_scenario_free(shunt_scenario_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->cases && i < s->n_cases; i++)
        shunt_runspec_free(s->cases[i].run);
    if (s->mem) {
        shunt_arena_release(s->mem);
        free(s->mem);
    }
    shunt_runspec_free(s->run);
    shunt_yaml_free(s->doc);
    free(s);
}
