/* Parser of the layer's configuration file (see docs/hooking.md). */
#include "shunt/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void shunt_config_init(shunt_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->log_level = -1;
    c->timeout_ms = -1;
}

static void strlist_free(shunt_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int strlist_add(shunt_strlist_t *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *d = strdup(s);
    if (!d)
        return -1;
    l->v[l->n++] = d;
    return 0;
}

static void relist_free(shunt_relist_t *l)
{
    for (size_t j = 0; j < l->n; j++) {
        regfree(&l->re[j]);
        free(l->src[j]);
    }
    free(l->re);
    free(l->src);
}

static void incoming_free(shunt_incfg_t *in)
{
    free(in->ports.v);
    free(in->ignore.v);
    free(in->map_local.v);
    free(in->map_remote.v);
    free(in->filter_ports.v);
    for (size_t i = 0; i < in->nfilter; i++)
        free(in->filter[i].value);
    free(in->filter);
}

void shunt_config_free(shunt_config_t *c)
{
    incoming_free(&c->incoming);
    for (int i = 0; i < SHUNT_LIST_COUNT; i++)
        relist_free(&c->lists[i]);
    relist_free(&c->unix_remote);
    strlist_free(&c->env_include);
    strlist_free(&c->env_exclude);
    for (size_t i = 0; i < c->net.n; i++)
        free(c->net.v[i].name);
    free(c->net.v);
    free(c->log_file);
    shunt_config_init(c);
}

int shunt_log_level_parse(const char *s)
{
    static const char *const names[] = {"off", "error", "warn", "info",
                                        "debug", "trace"};
    for (int i = 0; i < 6; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    if (strcmp(s, "none") == 0)
        return 0;
    return -1;
}

/* glibc's regcomp() copies a repeated sub-expression once per repetition
 * and again for each stacked operator: "c" followed by 100 '+' asks for
 * 2^100 nodes and "((a{200}){200}){200}" for 8 million; either exhausts
 * the memory of the program the layer is loaded into.  Patterns are
 * therefore weighed before they are compiled: an atom weighs 1, a group the
 * sum of its atoms, a repetition multiplies by its upper bound (2 for '*',
 * '+' and '?', n+1 for "{n,}"), and stacked repetitions ("c++", which POSIX
 * leaves undefined and glibc reads as "(c+)+") multiply again; more than
 * two operators in a row are refused. */
enum { RE_MAX_WEIGHT = 4096, RE_MAX_COUNT = 255, RE_MAX_LEN = 1024,
       RE_MAX_STACK = 2 };

static int re_interval(const char *p, size_t *i, long *factor)
{
    size_t j = *i + 1;
    long lo = 0, hi = -1;
    int digits = 0;
    while (p[j] >= '0' && p[j] <= '9' && digits < 6) {
        lo = lo * 10 + (p[j++] - '0');
        digits++;
    }
    if (!digits)
        return 0; /* not an interval: '{' is an ordinary character */
    if (p[j] == ',') {
        j++;
        if (p[j] >= '0' && p[j] <= '9') {
            hi = 0;
            digits = 0;
            while (p[j] >= '0' && p[j] <= '9' && digits < 6) {
                hi = hi * 10 + (p[j++] - '0');
                digits++;
            }
        } else {
            hi = lo + 1; /* {n,}: n copies and a star */
        }
    } else {
        hi = lo;
    }
    if (p[j] != '}')
        return 0;
    *i = j;
    *factor = hi < 1 ? 1 : hi;
    return lo > RE_MAX_COUNT || hi > RE_MAX_COUNT + 1 ? -1 : 1;
}

/* Weight of p from *i up to an unmatched ')' or the end; -1 when over. */
static long re_weigh(const char *p, size_t *i, int depth)
{
    /* last: the weight of the atom just read, its repetitions applied;
     * stacked: repetition operators applied to it so far */
    long total = 0, last = 0;
    int stacked = 0;
    if (depth > 64)
        return -1;
    /* glibc reads a ')' without its '(' as an ordinary character */
    while (p[*i] && !(p[*i] == ')' && depth > 0)) {
        char ch = p[*i];
        long factor = 0;
        if (ch == '*' || ch == '+' || ch == '?') {
            factor = 2;
        } else if (ch == '{') {
            int r = re_interval(p, i, &factor);
            if (r < 0)
                return -1;
            if (r == 0)
                factor = 0;
        }
        if (factor) {
            /* glibc's cost grows much faster than the weight once '*'
             * and '+' stack ("^/+*++++" takes 9 ms, two more '+' seconds) */
            if (last > RE_MAX_WEIGHT || ++stacked > RE_MAX_STACK)
                return -1;
            total += last * (factor - 1);
            last *= factor;
            (*i)++;
        } else if (ch == '(') {
            (*i)++;
            last = re_weigh(p, i, depth + 1);
            if (last < 0)
                return -1;
            if (p[*i] == ')')
                (*i)++;
            total += last;
            stacked = 0;
        } else if (ch == '[') {
            size_t j = *i + 1;
            if (p[j] == '^')
                j++;
            if (p[j] == ']')
                j++;
            while (p[j] && p[j] != ']') {
                if (p[j] == '[' && (p[j + 1] == ':' || p[j + 1] == '.' ||
                                    p[j + 1] == '=')) {
                    char close = p[j + 1];
                    j += 2;
                    while (p[j] && !(p[j] == close && p[j + 1] == ']'))
                        j++;
                    if (p[j])
                        j += 2;
                    continue;
                }
                j++;
            }
            *i = p[j] ? j + 1 : j;
            last = 1;
            total += 1;
            stacked = 0;
        } else {
            if (ch == '\\' && p[*i + 1])
                (*i)++;
            (*i)++;
            last = ch == '|' || ch == '^' || ch == '$' ? 0 : 1;
            total += last;
            stacked = 0;
        }
        if (total > RE_MAX_WEIGHT)
            return -1;
    }
    return total;
}

int shunt_regex_check(const char *pattern, char *why, size_t wl)
{
    size_t i = 0;
    if (strlen(pattern) > RE_MAX_LEN) {
        snprintf(why, wl, "regex longer than %d bytes", RE_MAX_LEN);
        return -1;
    }
    long w = re_weigh(pattern, &i, 0);
    if (w < 0 || w > RE_MAX_WEIGHT) {
        snprintf(why, wl, "regex '%.100s' is too complex to compile safely "
                 "(more than %d repetition operators in a row such as 'a+*+', a "
                 "repetition count over %d, or more than %d atoms once "
                 "repetitions are expanded)", pattern, RE_MAX_STACK,
                 RE_MAX_COUNT, RE_MAX_WEIGHT);
        return -1;
    }
    return 0;
}

int shunt_relist_add(shunt_relist_t *l, const char *pattern, char *err,
                     size_t errlen)
{
    char why[256];
    if (shunt_regex_check(pattern, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        regex_t *re = realloc(l->re, cap * sizeof(*re));
        if (!re)
            return -1;
        l->re = re;
        char **src = realloc(l->src, cap * sizeof(*src));
        if (!src)
            return -1;
        l->src = src;
        l->cap = cap;
    }
    int rc = regcomp(&l->re[l->n], pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &l->re[l->n], msg, sizeof(msg));
        snprintf(err, errlen, "bad regex '%s': %s", pattern, msg);
        return -1;
    }
    l->src[l->n] = strdup(pattern);
    if (!l->src[l->n]) {
        regfree(&l->re[l->n]);
        return -1;
    }
    l->n++;
    return 0;
}

int shunt_relist_match(const shunt_relist_t *l, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (regexec(&l->re[i], path, 0, NULL, 0) == 0)
            return 1;
    return 0;
}

static int parse_port(const char *s, unsigned *out)
{
    if (!*s || strlen(s) > 5)
        return -1;
    unsigned v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned)(*s - '0');
    }
    if (v > 65535)
        return -1;
    *out = v;
    return 0;
}

int shunt_netrule_parse(const char *s, shunt_netrule_t *r, char *why,
                        size_t wl)
{
    int remote = r->remote;
    memset(r, 0, sizeof(*r));
    r->remote = remote;
    r->port_hi = 65535;
    while (*s == ' ' || *s == '\t')
        s++;
    static const char *const protos[] = {"any", "tcp", "udp"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(protos[i]);
        if (strncmp(s, protos[i], l) == 0 && (s[l] == ' ' || s[l] == '\t')) {
            r->proto = i;
            s += l;
            while (*s == ' ' || *s == '\t')
                s++;
            break;
        }
    }
    char host[300];
    if (!*s || strlen(s) >= sizeof(host)) {
        snprintf(why, wl, "bad network rule '%.100s'", s);
        return -1;
    }
    strcpy(host, s);
    if (strpbrk(host, " \t")) {
        snprintf(why, wl, "bad network rule '%.100s' (want [tcp|udp|any] "
                 "HOST[/PREFIX][:PORT[-PORT]])", s);
        return -1;
    }
    char *port = NULL;
    char *h = host;
    if (h[0] == '/' || strncmp(h, "unix:", 5) == 0) {
        snprintf(why, wl, "bad host '%.100s': unix-socket paths take "
                 "net_remote_unix REGEX (layer.network.unix_remote)", s);
        return -1;
    }
    if (h[0] == '[') {
        char *e = strchr(h, ']');
        if (!e) {
            snprintf(why, wl, "missing ']' in '%.100s'", s);
            return -1;
        }
        *e = '\0';
        h++;
        if (e[1] == ':')
            port = e + 2;
        else if (e[1] == '/') {
            /* [v6]/64[:port] */
            memmove(e, e + 1, strlen(e + 1) + 1);
            char *c = strchr(e, ':');
            if (c) {
                *c = '\0';
                port = c + 1;
            }
        } else if (e[1]) {
            snprintf(why, wl, "bad network rule '%.100s'", s);
            return -1;
        }
    } else {
        char *c1 = strchr(h, ':');
        if (c1 && !strchr(c1 + 1, ':')) { /* one ':' : HOST:PORT */
            *c1 = '\0';
            port = c1 + 1;
        }
    }
    if (port) {
        char *dash = strchr(port, '-');
        if (dash)
            *dash = '\0';
        if (parse_port(port, &r->port_lo) < 0 ||
            parse_port(dash ? dash + 1 : port, &r->port_hi) < 0 ||
            r->port_lo > r->port_hi) {
            snprintf(why, wl, "bad port in '%.100s'", s);
            return -1;
        }
    }
    char *slash = strchr(h, '/');
    int prefix = -1;
    if (slash) {
        *slash = '\0';
        unsigned pv;
        if (parse_port(slash + 1, &pv) < 0 || pv > 128) {
            snprintf(why, wl, "bad prefix in '%.100s'", s);
            return -1;
        }
        prefix = (int)pv;
    }
    if (strcmp(h, "*") == 0) {
        if (slash) {
            snprintf(why, wl, "'*' takes no prefix in '%.100s'", s);
            return -1;
        }
        return 0;
    }
    if (inet_pton(AF_INET, h, r->addr) == 1) {
        r->family = AF_INET;
        r->prefix = prefix < 0 ? 32 : prefix;
    } else if (inet_pton(AF_INET6, h, r->addr) == 1) {
        r->family = AF_INET6;
        r->prefix = prefix < 0 ? 128 : prefix;
    } else {
        if (slash || !*h || h[0] == '/') {
            snprintf(why, wl, "bad host in '%.100s'", s);
            return -1;
        }
        for (const char *p = h; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr(".-_*?", *p)) {
                snprintf(why, wl, "bad host name in '%.100s'", s);
                return -1;
            }
        r->name = strdup(h);
        if (!r->name)
            return -1;
        for (char *p = r->name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        return 0;
    }
    if (r->prefix > (r->family == AF_INET ? 32 : 128)) {
        snprintf(why, wl, "bad prefix in '%.100s'", s);
        return -1;
    }
    return 0;
}

static int netrule_add(shunt_config_t *c, const char *val, int remote,
                       char *why, size_t wl)
{
    shunt_netrule_t r = {.remote = remote};
    if (shunt_netrule_parse(val, &r, why, wl) < 0)
        return -1;
    if (c->net.n == c->net.cap) {
        size_t cap = c->net.cap ? c->net.cap * 2 : 8;
        shunt_netrule_t *v = realloc(c->net.v, cap * sizeof(*v));
        if (!v) {
            free(r.name);
            return -1;
        }
        c->net.v = v;
        c->net.cap = cap;
    }
    c->net.v[c->net.n++] = r;
    return 0;
}


/* ---- incoming traffic (net_incoming*) ----------------------------------- */
static int portlist_add(shunt_portlist_t *l, unsigned p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        unsigned short *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (unsigned short)p;
    return 0;
}

static int portlist_has(const shunt_portlist_t *l, unsigned p)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == p)
            return 1;
    return 0;
}

unsigned shunt_incoming_remote_port(const shunt_incfg_t *in, unsigned p)
{
    if (in->mode == SHUNT_INC_OFF || p == 0 || p > 65535 ||
        portlist_has(&in->ignore, p) ||
        (in->ports.n && !portlist_has(&in->ports, p)))
        return 0;
    for (size_t i = in->map_local.n; i-- > 0;) /* the last line wins */
        if (in->map_local.v[i] == p)
            return in->map_remote.v[i];
    return p;
}

int shunt_incoming_filter_applies(const shunt_incfg_t *in, unsigned rp)
{
    return in->mode == SHUNT_INC_STEAL && in->nfilter &&
           (!in->filter_ports.n || portlist_has(&in->filter_ports, rp));
}

/* The end of the tree that starts at node i, or (size_t)-1 when its
 * children run past the list. */
static size_t hf_tree_end(const shunt_incfg_t *in, size_t i, int depth)
{
    if (i >= in->nfilter || depth > SHUNT_INC_MAX_NODES)
        return (size_t)-1;
    const shunt_hfnode_t *n = &in->filter[i++];
    if (n->kind != SHUNT_INC_HF_ALL && n->kind != SHUNT_INC_HF_ANY)
        return i;
    for (unsigned k = 0; k < n->nkids; k++)
        if ((i = hf_tree_end(in, i, depth + 1)) == (size_t)-1)
            return i;
    return i;
}

int shunt_incoming_filter_check(const shunt_incfg_t *in, char *why,
                                size_t wl)
{
    if (in->nfilter > SHUNT_INC_MAX_NODES) {
        snprintf(why, wl, "net_incoming_filter: %zu nodes, at most %d",
                 in->nfilter, SHUNT_INC_MAX_NODES);
        return -1;
    }
    size_t i = 0;
    while (i < in->nfilter) {
        size_t e = hf_tree_end(in, i, 0);
        if (e == (size_t)-1) {
            snprintf(why, wl, "net_incoming_filter: node %zu ('%s %u') has "
                     "fewer children than it says",
                     i + 1, in->filter[i].kind == SHUNT_INC_HF_ALL ? "all"
                                                                  : "any",
                     in->filter[i].nkids);
            return -1;
        }
        i = e;
    }
    return 0;
}

/* After the whole file: several trees at the top are one ALL of them (the
 * protocol takes one tree); a tree cut short switches incoming traffic
 * off (stealing everything instead would be the opposite of the intent). */
static int incoming_finish(shunt_incfg_t *in, char *why, size_t wl)
{
    if (shunt_incoming_filter_check(in, why, wl) < 0) {
        in->mode = SHUNT_INC_OFF;
        return -1;
    }
    size_t tops = 0;
    for (size_t i = 0; i < in->nfilter; i = hf_tree_end(in, i, 0))
        tops++;
    if (tops < 2)
        return 0;
    if (in->nfilter + 1 > SHUNT_INC_MAX_NODES) {
        snprintf(why, wl, "net_incoming_filter: %zu nodes, at most %d",
                 in->nfilter + 1, SHUNT_INC_MAX_NODES);
        in->mode = SHUNT_INC_OFF;
        return -1;
    }
    if (in->nfilter == in->capfilter) {
        shunt_hfnode_t *v = realloc(in->filter,
                                    (in->capfilter + 1) * sizeof(*v));
        if (!v) {
            in->mode = SHUNT_INC_OFF;
            return -1;
        }
        in->filter = v;
        in->capfilter++;
    }
    memmove(in->filter + 1, in->filter, in->nfilter * sizeof(*in->filter));
    in->filter[0] = (shunt_hfnode_t){.kind = SHUNT_INC_HF_ALL,
                                     .nkids = (unsigned short)tops};
    in->nfilter++;
    return 0;
}

/* An HTTP method: an RFC 9110 token. */
static int is_method(const char *s)
{
    if (!*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return 0;
    return 1;
}

int shunt_incoming_node_parse(const char *val, shunt_hfnode_t *n, char *why,
                              size_t wl)
{
    static const struct {
        const char *name;
        int kind;
    } kinds[] = {{"all", SHUNT_INC_HF_ALL},       {"any", SHUNT_INC_HF_ANY},
                 {"header", SHUNT_INC_HF_HEADER}, {"path", SHUNT_INC_HF_PATH},
                 {"method", SHUNT_INC_HF_METHOD}};
    memset(n, 0, sizeof(*n));
    const char *arg = val;
    while (*arg && *arg != ' ' && *arg != '\t')
        arg++;
    size_t kl = (size_t)(arg - val);
    while (*arg == ' ' || *arg == '\t')
        arg++;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strlen(kinds[i].name) == kl && strncmp(val, kinds[i].name, kl) == 0)
            n->kind = (unsigned char)kinds[i].kind;
    if (!n->kind) {
        snprintf(why, wl, "bad net_incoming_filter '%.100s' (want all N, any "
                 "N, header ERE, path ERE or method NAME)", val);
        return -1;
    }
    if (!*arg) {
        snprintf(why, wl, "net_incoming_filter '%.100s' needs a value", val);
        return -1;
    }
    if (n->kind == SHUNT_INC_HF_ALL || n->kind == SHUNT_INC_HF_ANY) {
        unsigned k;
        if (parse_port(arg, &k) < 0 || k < 1 || k >= SHUNT_INC_MAX_NODES) {
            snprintf(why, wl, "bad child count in net_incoming_filter "
                     "'%.100s' (1 to %d)", val, SHUNT_INC_MAX_NODES - 1);
            return -1;
        }
        n->nkids = (unsigned short)k;
        return 0;
    }
    if (n->kind == SHUNT_INC_HF_METHOD) {
        if (!is_method(arg)) {
            snprintf(why, wl, "bad HTTP method '%.100s'", arg);
            return -1;
        }
    } else {
        if (shunt_regex_check(arg, why, wl) < 0)
            return -1;
        regex_t re;
        int flags = REG_EXTENDED | REG_NOSUB;
        if (n->kind == SHUNT_INC_HF_HEADER)
            flags |= REG_ICASE;
        int rc = regcomp(&re, arg, flags);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &re, msg, sizeof(msg));
            snprintf(why, wl, "bad regex '%.100s': %s", arg, msg);
            return -1;
        }
        regfree(&re);
    }
    n->value = strdup(arg);
    return n->value ? 0 : -1;
}

static int incoming_port_arg(const char *key, const char *val, unsigned *p,
                             char *why, size_t wl)
{
    if (parse_port(val, p) < 0 || *p == 0) {
        snprintf(why, wl, "bad port '%.40s' for %s (1-65535)", val, key);
        return -1;
    }
    return 0;
}

/* 1 when key is a net_incoming* directive (0 or -1 in *rc), else 0. */
static int incoming_directive(shunt_incfg_t *in, const char *key,
                              const char *val, int *rc, char *why, size_t wl)
{
    unsigned p, q;
    *rc = -1;
    if (strncmp(key, "net_incoming", 12) != 0)
        return 0;
    if (strcmp(key, "net_incoming") == 0) {
        if (strcmp(val, "off") == 0)
            in->mode = SHUNT_INC_OFF;
        else if (strcmp(val, "mirror") == 0)
            in->mode = SHUNT_INC_MIRROR;
        else if (strcmp(val, "steal") == 0)
            in->mode = SHUNT_INC_STEAL;
        else {
            snprintf(why, wl, "bad net_incoming '%.40s' (off, mirror or "
                     "steal)", val);
            return 1;
        }
    } else if (strcmp(key, "net_incoming_conflict") == 0) {
        if (strcmp(val, "refuse") == 0)
            in->on_conflict = SHUNT_INC_REFUSE;
        else if (strcmp(val, "replace") == 0)
            in->on_conflict = SHUNT_INC_REPLACE;
        else {
            snprintf(why, wl, "bad net_incoming_conflict '%.40s' (refuse or "
                     "replace)", val);
            return 1;
        }
    } else if (strcmp(key, "net_incoming_port") == 0 ||
               strcmp(key, "net_incoming_ignore") == 0 ||
               strcmp(key, "net_incoming_filter_port") == 0) {
        if (incoming_port_arg(key, val, &p, why, wl) < 0)
            return 1;
        shunt_portlist_t *l = key[13] == 'p' ? &in->ports
                              : key[13] == 'i' ? &in->ignore
                                               : &in->filter_ports;
        if (!portlist_has(l, p) && portlist_add(l, p) < 0)
            return 1;
    } else if (strcmp(key, "net_incoming_map") == 0) {
        char a[16];
        const char *colon = strchr(val, ':');
        if (!colon || (size_t)(colon - val) >= sizeof(a)) {
            snprintf(why, wl, "bad net_incoming_map '%.40s' (LOCAL:REMOTE)",
                     val);
            return 1;
        }
        memcpy(a, val, (size_t)(colon - val));
        a[colon - val] = '\0';
        if (incoming_port_arg(key, a, &p, why, wl) < 0 ||
            incoming_port_arg(key, colon + 1, &q, why, wl) < 0)
            return 1;
        if (portlist_add(&in->map_local, p) < 0 ||
            portlist_add(&in->map_remote, q) < 0)
            return 1;
    } else if (strcmp(key, "net_incoming_filter") == 0) {
        shunt_hfnode_t n;
        if (shunt_incoming_node_parse(val, &n, why, wl) < 0)
            return 1;
        if (in->nfilter == in->capfilter) {
            size_t cap = in->capfilter ? in->capfilter * 2 : 8;
            shunt_hfnode_t *v = realloc(in->filter, cap * sizeof(*v));
            if (!v) {
                free(n.value);
                return 1;
            }
            in->filter = v;
            in->capfilter = cap;
        }
        in->filter[in->nfilter++] = n;
    } else {
        return 0;
    }
    *rc = 0;
    return 1;
}

static const struct {
    const char *name;
    int list;
} list_directives[] = {
    {"not_found", SHUNT_LIST_NOT_FOUND},
    {"read_write", SHUNT_LIST_READ_WRITE},
    {"read_only", SHUNT_LIST_READ_ONLY},
    {"local", SHUNT_LIST_LOCAL},
};

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* One line, NUL-terminated, comment already cut.  0 or -1 with why. */
static int parse_line(shunt_config_t *c, char *line, char *why, size_t wl)
{
    char *p = line;
    while (is_space(*p))
        p++;
    char *end = p + strlen(p);
    while (end > p && is_space(end[-1]))
        *--end = '\0';
    if (!*p)
        return 0;
    char *key = p;
    while (*p && !is_space(*p))
        p++;
    if (*p)
        *p++ = '\0';
    while (is_space(*p))
        p++;
    char *val = p;
    if (!*val) {
        snprintf(why, wl, "'%s' needs a value", key);
        return -1;
    }
    for (size_t i = 0; i < sizeof(list_directives) / sizeof(list_directives[0]);
         i++)
        if (strcmp(key, list_directives[i].name) == 0)
            return shunt_relist_add(&c->lists[list_directives[i].list], val,
                                    why, wl);
    if (strcmp(key, "log_level") == 0) {
        int l = shunt_log_level_parse(val);
        if (l < 0) {
            snprintf(why, wl, "bad log_level '%s'", val);
            return -1;
        }
        c->log_level = l;
        return 0;
    }
    if (strcmp(key, "log_file") == 0) {
        char *d = strdup(val);
        if (!d)
            return -1;
        free(c->log_file);
        c->log_file = d;
        return 0;
    }
    if (strcmp(key, "timeout_ms") == 0) {
        char *e;
        long v = strtol(val, &e, 10);
        if (*e || v <= 0 || v > 3600000) {
            snprintf(why, wl, "bad timeout_ms '%s'", val);
            return -1;
        }
        c->timeout_ms = (int)v;
        return 0;
    }
    if (strcmp(key, "net_remote") == 0)
        return netrule_add(c, val, 1, why, wl);
    if (strcmp(key, "net_local") == 0)
        return netrule_add(c, val, 0, why, wl);
    if (strcmp(key, "net_remote_unix") == 0)
        return shunt_relist_add(&c->unix_remote, val, why, wl);
    if (strcmp(key, "env_include") == 0)
        return strlist_add(&c->env_include, val);
    if (strcmp(key, "env_exclude") == 0)
        return strlist_add(&c->env_exclude, val);
    int rc;
    if (incoming_directive(&c->incoming, key, val, &rc, why, wl))
        return rc;
    snprintf(why, wl, "unknown directive '%s'", key);
    return -1;
}

int shunt_config_parse(shunt_config_t *c, const char *text, size_t len,
                       char *err, size_t errlen)
{
    int bad = 0;
    size_t lineno = 0, i = 0;
    if (err && errlen)
        err[0] = '\0';
    while (i < len) {
        size_t s = i;
        while (i < len && text[i] != '\n')
            i++;
        size_t n = i - s;
        i++; /* past '\n' */
        lineno++;
        char *line = malloc(n + 1);
        if (!line)
            return bad + 1;
        memcpy(line, text + s, n);
        line[n] = '\0';
        /* '#' starts a comment at the start of a line or after a blank;
         * inside a regex (e.g. "[#]") it is kept. */
        for (char *h = line; *h; h++)
            if (*h == '#' && (h == line || is_space(h[-1]))) {
                *h = '\0';
                break;
            }
        if (strchr(line, '\0') != line + n && memchr(text + s, '\0', n)) {
            /* an embedded NUL: reject the line */
            free(line);
            if (!bad && err)
                snprintf(err, errlen, "line %zu: NUL byte", lineno);
            bad++;
            continue;
        }
        char why[256] = "out of memory";
        if (parse_line(c, line, why, sizeof(why)) < 0) {
            if (!bad && err)
                snprintf(err, errlen, "line %zu: %s", lineno, why);
            bad++;
        }
        free(line);
    }
    char why[256] = "out of memory";
    if (incoming_finish(&c->incoming, why, sizeof(why)) < 0) {
        if (!bad && err)
            snprintf(err, errlen, "%s (incoming traffic switched off)", why);
        bad++;
    }
    return bad;
}
