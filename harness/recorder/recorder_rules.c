/* What is remote, and which recorded calls are leaks: the layer's own
 * matchers (policy/policy.c, policy/config.c) on the layer's configuration,
 * or on explicit rules written as a configuration of their own. */
#include "recorder_int.h"

#include "shunt/config.h"
#include "shunt/path.h"
#include "shunt/policy.h"
#include "shunt/progloc.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

struct recorder_rules {
    int layer;              /* layer mode: cfg is the layer's */
    shunt_config_t cfg;
    shunt_policy_t netpol;  /* the layer's network filter on cfg */
    /* explicit rules: read_write regexes (paths), net_remote rules (CIDRs:
     * with net_remote rules the filter's remote set is exactly them) */
    shunt_config_t x;
    shunt_policy_t xpol;
    char **names;
    size_t n_names;
};

recorder_rules_t *recorder_rules_new(void)
{
    recorder_rules_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    shunt_config_init(&r->cfg);
    shunt_config_init(&r->x);
    shunt_policy_init(&r->netpol, &r->cfg);
    shunt_policy_init(&r->xpol, &r->x);
    return r;
}

void recorder_rules_free(recorder_rules_t *r)
{
    if (!r)
        return;
    shunt_policy_free(&r->netpol);
    shunt_policy_free(&r->xpol);
    shunt_config_free(&r->cfg);
    shunt_config_free(&r->x);
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i]);
    free(r->names);
    free(r);
}

int recorder_rules_layer(recorder_rules_t *r, const char *conf, char *err,
                         size_t errlen)
{
    char why[256] = "";
    if (shunt_config_parse(&r->cfg, conf, strlen(conf), why, sizeof(why))) {
        snprintf(err, errlen, "the layer's configuration: %s", why);
        return -1;
    }
    r->layer = 1;
    shunt_policy_free(&r->netpol);
    shunt_policy_init(&r->netpol, &r->cfg);
    return 0;
}

int recorder_rules_add_path(recorder_rules_t *r, const char *regex,
                            char *err, size_t errlen)
{
    char why[256];
    if (shunt_relist_add(&r->x.lists[SHUNT_LIST_READ_WRITE], regex, why,
                         sizeof(why)) < 0) {
        snprintf(err, errlen, "--remote-path %s: %s", regex, why);
        return -1;
    }
    return 0;
}

int recorder_rules_add_net(recorder_rules_t *r, const char *cidr, char *err,
                           size_t errlen)
{
    char why[256];
    shunt_netrule_t nr;
    memset(&nr, 0, sizeof(nr));
    if (!*cidr || strchr(cidr, ' ') ||
        shunt_netrule_parse(cidr, &nr, why, sizeof(why)) < 0) {
        snprintf(err, errlen,
                 "--remote-net %s: %s (want ADDR[/PREFIX][:PORT[-PORT]], "
                 "IPv6 in [])",
                 cidr, *cidr && !strchr(cidr, ' ') ? why : "bad value");
        return -1;
    }
    if (nr.name || !nr.family) {
        free(nr.name);
        snprintf(err, errlen,
                 "--remote-net %s: an address or subnet is needed (names "
                 "go to --remote-name)",
                 cidr);
        return -1;
    }
    shunt_netrules_t *l = &r->x.net;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        shunt_netrule_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    nr.remote = 1;
    l->v[l->n++] = nr;
    return 0;
}

int recorder_rules_add_name(recorder_rules_t *r, const char *glob,
                            char *err, size_t errlen)
{
    char **v = realloc(r->names, (r->n_names + 1) * sizeof(*v));
    if (!v || !*glob) {
        if (v)
            r->names = v;
        snprintf(err, errlen, "--remote-name: %s",
                 *glob ? "out of memory" : "empty glob");
        return -1;
    }
    r->names = v;
    if (!(v[r->n_names] = strdup(glob))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->n_names++;
    return 0;
}

/* ---- per process --------------------------------------------------------------- */
static char *read_link(pid_t pid, const char *what)
{
    char p[64], buf[4096];
    snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, what);
    ssize_t n = readlink(p, buf, sizeof(buf) - 1);
    if (n <= 0 || buf[0] != '/')
        return NULL;
    buf[n] = 0;
    return strdup(buf);
}

/* The string at addr in pid's memory (we are its tracer), or NULL. */
static char *read_mem_str(pid_t pid, uint64_t addr)
{
    char p[64], buf[4096];
    snprintf(p, sizeof(p), "/proc/%d/mem", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, (off_t)addr);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = 0;
    return strlen(buf) < (size_t)n ? strdup(buf) : NULL;
}

/* AT_EXECFN of a process that just exec'd: the script of a #! script. */
static char *read_execfn(pid_t pid)
{
    char p[64];
    uint64_t av[2 * 64];
    snprintf(p, sizeof(p), "/proc/%d/auxv", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, av, sizeof(av));
    close(fd);
    for (ssize_t i = 0; n > 0 && (i + 1) * 16 <= n; i++)
        if (av[2 * i] == AT_EXECFN)
            return read_mem_str(pid, av[2 * i + 1]);
    return NULL;
}

rec_image_t *rec_image_new(pid_t pid)
{
    rec_image_t *img = calloc(1, sizeof(*img));
    if (!img)
        return NULL;
    img->refs = 1;
    img->exe = read_link(pid, "exe");
    img->cwd = read_link(pid, "cwd");
    img->execfn = read_execfn(pid);
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/environ", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        static const char lib[] = "LD_LIBRARY_PATH=", pre[] = "LD_PRELOAD=";
        char *buf = malloc(65536);
        ssize_t n = buf ? read(fd, buf, 65535) : -1;
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            img->env = buf;
            img->envlen = (size_t)n;
        } else {
            free(buf);
        }
        for (ssize_t o = 0; n > 0 && o < n;) {
            const char *e = buf + o;
            if (!img->ldpath && strncmp(e, lib, sizeof(lib) - 1) == 0)
                img->ldpath = strdup(e + sizeof(lib) - 1);
            if (!img->preload && strncmp(e, pre, sizeof(pre) - 1) == 0)
                img->preload = strdup(e + sizeof(pre) - 1);
            o += (ssize_t)strlen(e) + 1;
        }
    }
    return img;
}

void rec_image_unref(rec_image_t *img)
{
    if (!img || --img->refs > 0)
        return;
    if (img->pol) {
        shunt_policy_free(img->pol);
        free(img->pol);
    }
    free(img->exe);
    free(img->cwd);
    free(img->ldpath);
    free(img->preload);
    free(img->env);
    free(img->execfn);
    free(img);
}

static void add_local_norm(shunt_policy_t *p, const char *dir)
{
    char norm[4096];
    if (dir && dir[0] == '/' &&
        shunt_path_normalize(NULL, dir, norm, sizeof(norm)) > 0)
        shunt_policy_add_local(p, norm); /* "/" is refused, as the layer does */
}

/* A variable of the environment the process was exec'd with. */
static const char *image_var(const char *name, void *ctx)
{
    const rec_image_t *img = ctx;
    size_t k = strlen(name);
    for (size_t o = 0; img->env && o < img->envlen;) {
        const char *e = img->env + o;
        if (strncmp(e, name, k) == 0 && e[k] == '=')
            return e + k + 1;
        o += strlen(e) + 1;
    }
    return NULL;
}

/* The layer's policy in that process: its defaults and the dirs it adds
 * at start (layer/init.c, setup_policy; the program's own files by the
 * same rule, policy/progloc_rules.c); the dirs of loaded libraries are
 * checked later against /proc/PID/maps. */
static shunt_policy_t *image_policy(const recorder_rules_t *r, rec_image_t *img)
{
    if (img->built)
        return img->pol;
    img->built = 1;
    shunt_policy_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    shunt_policy_init(p, &r->cfg);
    shunt_policy_add_defaults(p);
    if (img->exe) {
        add_local_norm(p, img->exe);
        char *d = strdup(img->exe);
        char *s = d ? strrchr(d, '/') : NULL;
        if (s && s != d) {
            *s = 0;
            add_local_norm(p, d);
        }
        free(d);
    }
    add_local_norm(p, img->cwd);
    progvar_t pv; /* what the layer would pass on: not needed here */
    shunt_progloc_in_t in = {.getvar = image_var, .ctx = img, .exe = img->exe,
                             .execfn = img->execfn, .cwd = img->cwd};
    shunt_progloc_apply(p, &in, &pv);
    /* The loader searched these before the layer was there. */
    char *lp = img->ldpath ? strdup(img->ldpath) : NULL, *save = NULL;
    for (char *tok = lp ? strtok_r(lp, ":", &save) : NULL; tok;
         tok = strtok_r(NULL, ":", &save))
        add_local_norm(p, tok);
    free(lp);
    /* The preloaded libraries (the layer among them): their dirs, as for
     * every library the layer finds loaded. */
    lp = img->preload ? strdup(img->preload) : NULL;
    for (char *tok = lp ? strtok_r(lp, ": ", &save) : NULL; tok;
         tok = strtok_r(NULL, ": ", &save)) {
        char *slash = strrchr(tok, '/');
        if (slash && slash != tok) {
            *slash = 0;
            add_local_norm(p, tok);
        }
    }
    free(lp);
    img->pol = p;
    return p;
}

/* 1 when path lies in the directory of a file mapped into the process: a
 * library the loader found there, whose dir the layer keeps local. */
static int maps_cover(pid_t tid, const char *path)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/maps", (int)tid);
    FILE *f = fopen(p, "re");
    if (!f)
        return 0;
    char line[4608];
    int hit = 0;
    while (!hit && fgets(line, sizeof(line), f)) {
        char *name = strchr(line, '/');
        if (!name)
            continue;
        name[strcspn(name, "\n")] = 0;
        char *del = strstr(name, " (deleted)");
        if (del)
            *del = 0;
        char *slash = strrchr(name, '/');
        if (!slash || slash == name)
            continue;
        *slash = 0;
        hit = shunt_path_under(path, name);
    }
    fclose(f);
    return hit;
}

/* Does the layer's name filter keep a name's lookups local?  (The rule of
 * layer/dns.c, name_filter_local, plus localhost.) */
static int name_local(const shunt_config_t *cfg, const char *n)
{
    size_t l = strlen(n);
    if ((l == 9 && strcasecmp(n, "localhost") == 0) ||
        (l > 10 && strcasecmp(n + l - 10, ".localhost") == 0))
        return 1;
    const shunt_netrules_t *rules = &cfg->net;
    int any_remote = 0, remote_may = 0;
    for (size_t i = 0; i < rules->n; i++) {
        const shunt_netrule_t *rr = &rules->v[i];
        int match = rr->name && fnmatch(rr->name, n, FNM_CASEFOLD) == 0;
        if (!rr->remote) {
            if (match && rr->proto == SHUNT_NET_ANY && rr->port_lo == 0 &&
                rr->port_hi == 65535)
                return 1;
            continue;
        }
        any_remote = 1;
        if (match || !rr->name)
            remote_may = 1;
    }
    return any_remote && !remote_may;
}

static int is_loopback(const rec_subject_t *s)
{
    static const unsigned char one6[16] = {[15] = 1};
    static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
    if (s->family == AF_INET)
        return s->addr[0] == 127;
    if (memcmp(s->addr, one6, 16) == 0)
        return 1;
    return memcmp(s->addr, mapped, 12) == 0 && s->addr[12] == 127;
}

static int net_remote(const shunt_policy_t *p, const rec_subject_t *s)
{
    if (s->proto)
        return shunt_policy_net_remote(p, s->proto, s->family, s->addr,
                                       s->port, NULL);
    return shunt_policy_net_remote(p, SHUNT_NET_TCP, s->family, s->addr,
                                   s->port, NULL) ||
           shunt_policy_net_remote(p, SHUNT_NET_UDP, s->family, s->addr,
                                   s->port, NULL);
}

static char *why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *why(const char *fmt, ...)
{
    char buf[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return strdup(buf);
}

static char *classify_path(const recorder_rules_t *r, rec_image_t *img,
                           pid_t tid, const rec_subject_t *s)
{
    if (!s->path || s->op == REC_OP_EXEC)
        return NULL;
    if (shunt_relist_match(&r->x.lists[SHUNT_LIST_READ_WRITE], s->path))
        return why("%s matches --remote-path", s->path);
    if (!r->layer || !img)
        return NULL;
    shunt_policy_t *p = image_policy(r, img);
    if (!p)
        return NULL;
    int mode = shunt_policy_mode(p, s->path);
    /* A directory on the way to the program's own files is local for
     * metadata in the layer too (shunt_policy_local_ancestor). */
    int leak = mode == SHUNT_MODE_NOT_FOUND || mode == SHUNT_MODE_WRITE ||
               (mode == SHUNT_MODE_READ &&
                (s->op == REC_OP_READ ||
                 (s->op == REC_OP_META &&
                  !shunt_policy_local_ancestor(p, s->path))));
    if (!leak || maps_cover(tid, s->path))
        return NULL;
    return why("%s is remote (%s) in the layer's policy", s->path,
               shunt_mode_name(mode));
}

static char *classify_unix(const recorder_rules_t *r, const rec_subject_t *s)
{
    if (!s->path)
        return NULL;
    if (shunt_relist_match(&r->x.lists[SHUNT_LIST_READ_WRITE], s->path))
        return why("unix socket %s matches --remote-path", s->path);
    /* net_remote_unix is about connecting: a local server bound there is
     * the program's own. */
    if (r->layer && s->op != 1 &&
        shunt_relist_match(&r->cfg.unix_remote, s->path))
        return why("unix socket %s is remote (net_remote_unix)", s->path);
    return NULL;
}

static char *classify_inet(const recorder_rules_t *r, const rec_subject_t *s)
{
    char a[64];
    {
        shunt_buf_t b = {0};
        unsigned char *x = (unsigned char *)s->addr;
        if (s->family == AF_INET)
            shunt_buf_printf(&b, "%u.%u.%u.%u:%u", x[0], x[1], x[2], x[3],
                           s->port);
        else
            shunt_buf_printf(&b, "[IPv6 %02x%02x:...%02x%02x]:%u", x[0], x[1],
                           x[14], x[15], s->port);
        snprintf(a, sizeof(a), "%s", b.p ? b.p : "?");
        free(b.p);
    }
    if (r->x.net.n && net_remote(&r->xpol, s))
        return why("%s is in --remote-net", a);
    for (size_t i = 0; s->qname && i < r->n_names; i++)
        if (fnmatch(r->names[i], s->qname, FNM_CASEFOLD) == 0)
            return why("DNS query for %s (matches --remote-name) to %s",
                       s->qname, a);
    int bind = s->op == 1;
    if (r->layer && !bind && s->qname && !name_local(&r->cfg, s->qname))
        return why("DNS query on the host for %s, a remote name (to %s)",
                   s->qname, a);
    if (bind || is_loopback(s))
        return NULL; /* loopback: the layer's relays live there */
    if (s->port == 53)
        return why("DNS on the host's network: %s%s", a,
                   s->qname ? " (a name lookup the layer did not see)" : "");
    if (r->layer && net_remote(&r->netpol, s))
        return why("%s is remote (the layer's network filter)", a);
    return NULL;
}

char *rec_classify(const recorder_rules_t *r, rec_image_t *img, pid_t tid,
                   int idx, const rec_subjects_t *sj)
{
    (void)idx;
    if (!r)
        return NULL;
    for (int i = 0; i < sj->n; i++) {
        const rec_subject_t *s = &sj->s[i];
        char *w = s->kind == REC_S_PATH   ? classify_path(r, img, tid, s)
                  : s->kind == REC_S_UNIX ? classify_unix(r, s)
                                          : classify_inet(r, s);
        if (w)
            return w;
    }
    return NULL;
}
