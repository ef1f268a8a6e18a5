/* libFuzzer target: the layer's path and network-filter matchers, checked
 * differentially against a plain reference written here from the rules in
 * docs/hooking.md (not from policy/policy.c or policy/config.c).
 *
 * Input: byte 0 picks the half.
 *   even  paths:   CONFIG '\0' (BASE '\0' PATH '\0')...
 *                  CONFIG goes to shunt_config_parse (not_found, read_write,
 *                  read_only, local regex lists and anything else); each
 *                  BASE/PATH pair is normalised by shunt_path_normalize and
 *                  by the reference, then the normalised path's mode is
 *                  asked of shunt_policy_mode (with the default sets) and of
 *                  the reference.
 *   odd    network: RULES '\0' QUERY...
 *                  RULES: lines "R rule" or "L rule" (net_remote/net_local);
 *                  each rule is parsed by shunt_netrule_parse and by the
 *                  reference parser, which must agree on acceptance and on
 *                  every field; accepted rules form the filter.  QUERY: proto
 *                  (1 byte), family (1), address (16), port (2), name length
 *                  (1, 0xff: no name) and name; shunt_policy_net_remote and
 *                  the reference must give the same answer.
 * Any disagreement aborts with both answers on stderr. */
#include "shunt/config.h"
#include "shunt/path.h"
#include "shunt/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATH_MAXLEN 4096

static void disagree(const char *what, const char *in, long got, long want)
{
    fprintf(stderr, "policy_match: %s disagrees for '%s': layer %ld, "
            "reference %ld\n", what, in, got, want);
    abort();
}

/* ---- reference: lexical normalisation ------------------------------------
 * Components of BASE (when PATH is relative) then of PATH, left to right:
 * "" and "." vanish, ".." drops the last kept component (none at the root),
 * anything else is kept.  The answer is "/" followed by the kept components
 * joined by "/".  It fails with ENAMETOOLONG when the path being built, at
 * any step, would not fit in the output buffer with its NUL. */
typedef struct {
    char buf[PATH_MAXLEN];
    size_t ends[PATH_MAXLEN]; /* end offset of each kept component */
    size_t n;
    size_t len;
    int toolong;
} refpath_t;

static void ref_walk(refpath_t *r, const char *s)
{
    while (*s && !r->toolong) {
        size_t k = strcspn(s, "/");
        if (k == 0 || (k == 1 && s[0] == '.')) {
            /* nothing */
        } else if (k == 2 && s[0] == '.' && s[1] == '.') {
            if (r->n > 0) {
                r->n--;
                r->len = r->n ? r->ends[r->n - 1] : 0;
            }
        } else {
            size_t newlen = r->len + 1 + k; /* "/comp" */
            if (newlen + 1 > PATH_MAXLEN) {
                r->toolong = 1;
                return;
            }
            r->buf[r->len] = '/';
            memcpy(r->buf + r->len + 1, s, k);
            r->len = newlen;
            r->ends[r->n++] = newlen;
        }
        s += k;
        if (*s == '/')
            s++;
    }
}

static long ref_normalize(const char *base, const char *path, char *out)
{
    if (!*path)
        return -EINVAL;
    static refpath_t r; /* 36 KiB: not on the stack */
    r.n = r.len = 0;
    r.toolong = 0;
    if (path[0] != '/') {
        if (base[0] != '/')
            return -EINVAL;
        ref_walk(&r, base);
    }
    ref_walk(&r, path);
    if (r.toolong)
        return -ENAMETOOLONG;
    if (r.len == 0) {
        strcpy(out, "/");
        return 1;
    }
    memcpy(out, r.buf, r.len);
    out[r.len] = '\0';
    return (long)r.len;
}

/* ---- reference: where a path lives ---------------------------------------
 * The config's lists in the order not_found, read_write, read_only, local
 * (any pattern of a list matching wins); then the fixed sets of
 * docs/hooking.md: the remote files, the local directories (the path itself
 * or anything beneath it), the raw local prefix /etc/ld.so.conf; else read. */
static int ref_under(const char *path, const char *dir)
{
    /* Compare component lists: dir's must be a prefix of path's. */
    const char *p = path, *d = dir;
    for (;;) {
        while (*d == '/')
            d++;
        while (*p == '/')
            p++;
        if (!*d)
            return 1;
        size_t kd = strcspn(d, "/"), kp = strcspn(p, "/");
        if (kd != kp || memcmp(d, p, kd) != 0)
            return 0;
        d += kd;
        p += kp;
    }
}

static int ref_mode(const shunt_config_t *c, const char *path)
{
    static const int order[] = {SHUNT_LIST_NOT_FOUND, SHUNT_LIST_READ_WRITE,
                                SHUNT_LIST_READ_ONLY, SHUNT_LIST_LOCAL};
    static const int mode_of[] = {
        [SHUNT_LIST_NOT_FOUND] = SHUNT_MODE_NOT_FOUND,
        [SHUNT_LIST_READ_WRITE] = SHUNT_MODE_WRITE,
        [SHUNT_LIST_READ_ONLY] = SHUNT_MODE_READ,
        [SHUNT_LIST_LOCAL] = SHUNT_MODE_LOCAL,
    };
    for (size_t i = 0; i < 4; i++) {
        const shunt_relist_t *l = &c->lists[order[i]];
        for (size_t j = 0; j < l->n; j++)
            if (regexec(&l->re[j], path, 0, NULL, 0) == 0)
                return mode_of[order[i]];
    }
    static const char *const remote_files[] = {"/etc/hosts", "/etc/resolv.conf",
                                               "/etc/hostname"};
    static const char *const local_dirs[] = {
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
        "/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp",
        "/etc/ld.so.cache", "/etc/ld.so.preload", "/etc/localtime",
        "/etc/nsswitch.conf", "/etc/passwd", "/etc/group"};
    for (size_t i = 0; i < sizeof(remote_files) / sizeof(*remote_files); i++)
        if (ref_under(path, remote_files[i]))
            return SHUNT_MODE_READ;
    for (size_t i = 0; i < sizeof(local_dirs) / sizeof(*local_dirs); i++)
        if (ref_under(path, local_dirs[i]))
            return SHUNT_MODE_LOCAL;
    if (strncmp(path, "/etc/ld.so.conf", 15) == 0)
        return SHUNT_MODE_LOCAL;
    return SHUNT_MODE_READ;
}

static void fuzz_paths(const char *cfgtext, size_t cfglen, const char *q,
                       size_t qlen)
{
    shunt_config_t cfg;
    shunt_config_init(&cfg);
    char err[256];
    shunt_config_parse(&cfg, cfgtext, cfglen, err, sizeof(err));
    shunt_policy_t pol;
    shunt_policy_init(&pol, &cfg);
    if (shunt_policy_add_defaults(&pol) < 0)
        abort();
    static char got[PATH_MAXLEN], want[PATH_MAXLEN];
    size_t i = 0;
    while (i < qlen) {
        const char *base = q + i;
        size_t bl = strnlen(base, qlen - i);
        if (i + bl >= qlen)
            break;
        i += bl + 1;
        const char *path = q + i;
        size_t pl = strnlen(path, qlen - i);
        if (i + pl >= qlen)
            break;
        i += pl + 1;
        long g = shunt_path_normalize(base, path, got, sizeof(got));
        long w = ref_normalize(base, path, want);
        if (g != w)
            disagree("shunt_path_normalize (length or -errno)", path, g, w);
        if (g < 0)
            continue;
        if (strcmp(got, want) != 0) {
            fprintf(stderr, "normalised: layer '%s', reference '%s'\n", got,
                    want);
            disagree("shunt_path_normalize", path, 0, 1);
        }
        int gm = shunt_policy_mode(&pol, got);
        int wm = ref_mode(&cfg, got);
        if (gm != wm)
            disagree("shunt_policy_mode", got, gm, wm);
    }
    shunt_policy_free(&pol);
    shunt_config_free(&cfg);
}

/* ---- reference: network rules --------------------------------------------
 * Grammar (docs/hooking.md, "Outgoing network filter"):
 *   RULE  := BLANK* [PROTO BLANK+] HOST
 *   PROTO := any | tcp | udp
 *   HOST  := '[' INNER ']' [ ':' PORTS | '/' PREFIX [':' PORTS] ]
 *          | INNER [':' PORTS]      (the port only when INNER then has no
 *                                    ':' at all: an unbracketed IPv6 address
 *                                    takes no port)
 *   INNER := ADDR ['/' PREFIX] | '*' | NAME
 *   PORTS := PORT ['-' PORT], 0-65535, low <= high, 1-5 digits each
 *   PREFIX:= 1-5 digits, at most 32 (IPv4) or 128 (IPv6)
 *   NAME  := [A-Za-z0-9.*?_-]+, kept lower-cased; no prefix
 * No blanks after HOST, no unix-socket paths ('/...', 'unix:...'), at most
 * 299 bytes from the host on. */
typedef struct {
    int ok;
    int proto, family, prefix;
    unsigned char addr[16];
    char name[300];
    int has_name;
    unsigned lo, hi;
} refrule_t;

static int ref_digits(const char *s, size_t n, unsigned max, unsigned *out)
{
    if (n == 0 || n > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static int ref_ports(const char *s, refrule_t *r)
{
    const char *dash = strchr(s, '-');
    size_t n1 = dash ? (size_t)(dash - s) : strlen(s);
    if (ref_digits(s, n1, 65535, &r->lo) < 0)
        return -1;
    if (!dash)
        r->hi = r->lo;
    else if (ref_digits(dash + 1, strlen(dash + 1), 65535, &r->hi) < 0)
        return -1;
    return r->lo <= r->hi ? 0 : -1;
}

static int ref_inner(const char *in, refrule_t *r)
{
    char host[300];
    snprintf(host, sizeof(host), "%s", in);
    char *slash = strchr(host, '/');
    unsigned prefix = 0;
    int has_prefix = 0;
    if (slash) {
        *slash = '\0';
        if (ref_digits(slash + 1, strlen(slash + 1), 128, &prefix) < 0)
            return -1;
        has_prefix = 1;
    }
    if (strcmp(host, "*") == 0)
        return has_prefix ? -1 : 0;
    if (inet_pton(AF_INET, host, r->addr) == 1) {
        r->family = AF_INET;
        if (has_prefix && prefix > 32)
            return -1;
        r->prefix = has_prefix ? (int)prefix : 32;
        return 0;
    }
    if (inet_pton(AF_INET6, host, r->addr) == 1) {
        r->family = AF_INET6;
        r->prefix = has_prefix ? (int)prefix : 128;
        return 0;
    }
    if (has_prefix || !host[0])
        return -1;
    for (size_t i = 0; host[i]; i++) {
        unsigned char ch = (unsigned char)host[i];
        if (!isalnum(ch) && !strchr(".-_*?", ch))
            return -1;
        r->name[i] = (char)tolower(ch);
        r->name[i + 1] = '\0';
    }
    r->has_name = 1;
    return 0;
}

static void ref_parse(const char *s, refrule_t *r)
{
    memset(r, 0, sizeof(*r));
    r->lo = 0;
    r->hi = 65535;
    while (*s == ' ' || *s == '\t')
        s++;
    static const char *const protos[] = {"any", "tcp", "udp"};
    for (int i = 0; i < 3; i++)
        if (strncmp(s, protos[i], 3) == 0 && (s[3] == ' ' || s[3] == '\t')) {
            r->proto = i;
            s += 4;
            while (*s == ' ' || *s == '\t')
                s++;
            break;
        }
    size_t n = strlen(s);
    if (n == 0 || n >= 300 || strpbrk(s, " \t") || s[0] == '/' ||
        strncmp(s, "unix:", 5) == 0)
        return;
    char host[300];
    memcpy(host, s, n + 1);
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (!close)
            return;
        *close = '\0';
        char inner[300];
        snprintf(inner, sizeof(inner), "%s", host + 1);
        const char *after = close + 1;
        if (*after == ':') {
            if (ref_ports(after + 1, r) < 0)
                return;
        } else if (*after == '/') {
            /* "[ADDR]/PREFIX[:PORTS]": the prefix joins the inner part */
            const char *colon = strchr(after, ':');
            size_t pl = colon ? (size_t)(colon - after) : strlen(after);
            size_t il = strlen(inner);
            if (il + pl >= sizeof(inner))
                return;
            memcpy(inner + il, after, pl);
            inner[il + pl] = '\0';
            if (colon && ref_ports(colon + 1, r) < 0)
                return;
        } else if (*after) {
            return;
        }
        if (ref_inner(inner, r) < 0)
            return;
    } else {
        char *colon = strchr(host, ':');
        if (colon && !strchr(colon + 1, ':')) {
            *colon = '\0';
            if (ref_ports(colon + 1, r) < 0)
                return;
        }
        if (ref_inner(host, r) < 0)
            return;
    }
    r->ok = 1;
}

static void compare_rule(const char *line, const shunt_netrule_t *g, int gok,
                         const refrule_t *w)
{
    if (gok != w->ok)
        disagree("shunt_netrule_parse (accepted)", line, gok, w->ok);
    if (!gok)
        return;
    if (g->proto != w->proto)
        disagree("rule proto", line, g->proto, w->proto);
    if (!!g->name != w->has_name)
        disagree("rule has name", line, !!g->name, w->has_name);
    if (g->name && strcmp(g->name, w->name) != 0)
        disagree("rule name", line, 0, 1);
    if (!g->name) {
        if (g->family != w->family)
            disagree("rule family", line, g->family, w->family);
        if (g->family && g->prefix != w->prefix)
            disagree("rule prefix", line, g->prefix, w->prefix);
        size_t al = g->family == AF_INET ? 4 : g->family == AF_INET6 ? 16 : 0;
        if (memcmp(g->addr, w->addr, al) != 0)
            disagree("rule address", line, 0, 1);
    }
    if (g->port_lo != w->lo || g->port_hi != w->hi)
        disagree("rule ports", line, (long)g->port_lo * 100000 + g->port_hi,
                 (long)w->lo * 100000 + w->hi);
}

/* Glob over the characters a rule name may hold: '*' any run (dots
 * included), '?' one character, the rest literally, case-insensitively.
 * Dynamic programming over (pattern prefix, name prefix): quadratic, so a
 * pattern of many stars cannot stall the target. */
static int ref_glob(const char *pat, const char *s)
{
    size_t pl = strlen(pat), sl = strlen(s);
    static unsigned char row[2][300];
    if (sl >= sizeof(row[0]))
        return 0;
    /* row[cur][j]: pat[0..i) matches s[0..j) */
    int cur = 0;
    memset(row[cur], 0, sl + 1);
    row[cur][0] = 1;
    for (size_t i = 0; i < pl; i++) {
        int nxt = !cur;
        memset(row[nxt], 0, sl + 1);
        for (size_t j = 0; j <= sl; j++) {
            if (pat[i] == '*')
                row[nxt][j] = row[cur][j] || (j > 0 && row[nxt][j - 1]);
            else if (j > 0 && (pat[i] == '?' ||
                               tolower((unsigned char)pat[i]) ==
                                   tolower((unsigned char)s[j - 1])))
                row[nxt][j] = row[cur][j - 1];
        }
        cur = nxt;
    }
    return row[cur][sl];
}

static int ref_bits_equal(const unsigned char *a, const unsigned char *b,
                          int bits)
{
    for (int i = 0; i < bits; i++) {
        int ba = (a[i / 8] >> (7 - i % 8)) & 1;
        int bb = (b[i / 8] >> (7 - i % 8)) & 1;
        if (ba != bb)
            return 0;
    }
    return 1;
}

static int ref_rule_matches(const shunt_netrule_t *r, int proto, int family,
                            const unsigned char *a, unsigned port,
                            const char *name)
{
    if (r->proto != SHUNT_NET_ANY && r->proto != proto)
        return 0;
    if (port < r->port_lo || port > r->port_hi)
        return 0;
    if (r->name)
        return name != NULL && ref_glob(r->name, name);
    if (r->family == 0)
        return 1;
    return r->family == family && ref_bits_equal(r->addr, a, r->prefix);
}

/* Local rules first (any match: local); then remote rules (any match:
 * remote); when there are remote rules, nothing else is remote; without
 * them everything is remote but loopback (127/8, ::1) and the unspecified
 * address.  An IPv4-mapped IPv6 address is its IPv4 address. */
static int ref_net(const shunt_netrules_t *rules, int proto, int family,
                   const unsigned char *addr, unsigned port, const char *name)
{
    unsigned char a[16];
    memcpy(a, addr, 16);
    if (family == AF_INET6) {
        static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
        if (memcmp(a, mapped, 12) == 0) {
            family = AF_INET;
            memmove(a, a + 12, 4);
        }
    }
    int have_remote = 0;
    for (size_t i = 0; i < rules->n; i++)
        if (!rules->v[i].remote &&
            ref_rule_matches(&rules->v[i], proto, family, a, port, name))
            return 0;
    for (size_t i = 0; i < rules->n; i++)
        if (rules->v[i].remote) {
            have_remote = 1;
            if (ref_rule_matches(&rules->v[i], proto, family, a, port, name))
                return 1;
        }
    if (have_remote)
        return 0;
    if (family == AF_INET)
        return a[0] != 127 && (a[0] | a[1] | a[2] | a[3]) != 0;
    int zero = 1;
    for (int i = 0; i < 16; i++)
        zero &= a[i] == 0;
    int one = zero ? 0 : 1;
    for (int i = 0; i < 15; i++)
        one &= a[i] == 0;
    one &= a[15] == 1;
    return !zero && !one;
}

static void fuzz_net(const char *rules, size_t rlen, const uint8_t *q,
                     size_t qlen)
{
    shunt_config_t cfg;
    shunt_config_init(&cfg);
    char line[512];
    size_t i = 0;
    while (i < rlen) {
        size_t n = 0;
        while (i + n < rlen && rules[i + n] != '\n')
            n++;
        if (n >= 2 && n < sizeof(line) && (rules[i] == 'R' || rules[i] == 'L')) {
            memcpy(line, rules + i + 2, n - 2);
            line[n - 2] = '\0';
            shunt_netrule_t g = {.remote = rules[i] == 'R'};
            char why[256];
            int gok = shunt_netrule_parse(line, &g, why, sizeof(why)) == 0;
            refrule_t w;
            ref_parse(line, &w);
            compare_rule(line, &g, gok, &w);
            if (gok) {
                if (cfg.net.n == cfg.net.cap) {
                    size_t cap = cfg.net.cap ? cfg.net.cap * 2 : 8;
                    shunt_netrule_t *v =
                        realloc(cfg.net.v, cap * sizeof(*v));
                    if (!v)
                        abort();
                    cfg.net.v = v;
                    cfg.net.cap = cap;
                }
                cfg.net.v[cfg.net.n++] = g;
            } else {
                free(g.name);
            }
        }
        i += n + 1;
    }
    shunt_policy_t pol;
    shunt_policy_init(&pol, &cfg);
    char name[256];
    while (qlen >= 21) {
        int proto = q[0] % 2 ? SHUNT_NET_UDP : SHUNT_NET_TCP;
        int family = q[1] % 2 ? AF_INET6 : AF_INET;
        unsigned char addr[16];
        memcpy(addr, q + 2, 16);
        unsigned port = (unsigned)q[18] << 8 | q[19];
        size_t nl = q[20];
        q += 21;
        qlen -= 21;
        const char *np = NULL;
        if (nl != 0xff) {
            if (nl > qlen)
                nl = qlen;
            memcpy(name, q, nl);
            name[nl] = '\0';
            q += nl;
            qlen -= nl;
            np = name;
        }
        int g = shunt_policy_net_remote(&pol, proto, family, addr, port, np);
        int w = ref_net(&cfg.net, proto, family, addr, port, np);
        if (g != w) {
            char as[INET6_ADDRSTRLEN];
            inet_ntop(family, addr, as, sizeof(as));
            fprintf(stderr, "query %s %s port %u name %s\n",
                    proto == SHUNT_NET_UDP ? "udp" : "tcp", as, port,
                    np ? np : "(none)");
            disagree("shunt_policy_net_remote", as, g, w);
        }
    }
    shunt_policy_free(&pol);
    shunt_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    size_t cut = strnlen(text, len);
    const char *rest = text + cut + (cut < len ? 1 : 0);
    size_t restlen = len - cut - (cut < len ? 1 : 0);
    if (data[0] % 2 == 0)
        fuzz_paths(text, cut, rest, restlen);
    else
        fuzz_net(text, cut, (const uint8_t *)rest, restlen);
    return 0;
}
