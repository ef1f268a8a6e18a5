/* Hooks: names (docs/hooking.md, "Names").  getaddrinfo, the gethostby*
 * family and getnameinfo answer from the target: forward lookups through
 * GETADDRINFO (the agent's resolver helper, in the target's namespaces) and
 * the target's /etc/hosts (read through the agent); gethostname and uname's
 * nodename give the target's /etc/hostname.  Numeric hosts, `localhost` and
 * names the outgoing filter keeps local go to the originals.  The host's
 * resolver is never asked for a remote name, and a remote failure is final.
 *
 * Our addrinfo blocks carry a magic word right after the struct addrinfo
 * (glibc puts the sockaddr there, with ai_addr == ai + 1): the freeaddrinfo
 * hook frees ours and passes libc's to the original. */
#include "hooks.h"
#include "layer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#define DNS_MAGIC 0x73686e7464616931ull /* "shntdai1" */
#define MAXADDRS 35                     /* as glibc's hostent answers */
#define MAXALIASES 16
#define HOSTS_MAX (1u << 20)            /* the target's /etc/hosts, at most */

/* ---- the outgoing filter's say on names ----------------------------------
 * A name's traffic stays local when a net_local rule names it (host glob)
 * for every protocol and port, or when net_remote rules exist and none of
 * them can apply to it (all are name rules that do not match it).  Address
 * rules are decided per connection by the socket hooks. */

static int name_filter_local(const char *n)
{
    const shunt_netrules_t *rules = &shunt_layer.cfg.net;
    int any_remote = 0, remote_may = 0;
    for (size_t i = 0; i < rules->n; i++) {
        const shunt_netrule_t *r = &rules->v[i];
        int match = r->name && fnmatch(r->name, n, FNM_CASEFOLD) == 0;
        if (!r->remote) {
            if (match && r->proto == SHUNT_NET_ANY && r->port_lo == 0 &&
                r->port_hi == 65535)
                return 1;
            continue;
        }
        any_remote = 1;
        if (match || !r->name)
            remote_may = 1;
    }
    return any_remote && !remote_may;
}

static int name_is_localhost(const char *n)
{
    size_t l = strlen(n);
    if (l && n[l - 1] == '.')
        l--;
    if (l == 9 && strncasecmp(n, "localhost", 9) == 0)
        return 1;
    return l > 10 && strncasecmp(n + l - 10, ".localhost", 10) == 0;
}

/* An IPv4 (inet_aton forms) or IPv6 literal, with an optional %scope. */
static int name_is_numeric(const char *n)
{
    struct in_addr a4;
    if (inet_aton(n, &a4))
        return 1;
    char b[INET6_ADDRSTRLEN + 1];
    size_t l = strcspn(n, "%");
    if (l >= sizeof(b))
        return 0;
    memcpy(b, n, l);
    b[l] = 0;
    struct in6_addr a6;
    return inet_pton(AF_INET6, b, &a6) == 1;
}

/* Whether a host name is looked up locally (by the original). */
static int name_local(const char *n)
{
    if (name_is_numeric(n) || name_is_localhost(n))
        return 1;
    return name_filter_local(n);
}

static int addr_len(int af)
{
    return af == AF_INET ? 4 : af == AF_INET6 ? 16 : 0;
}

/* Loopback and unspecified addresses are named locally. */
static int addr_local(int af, const void *a)
{
    const uint8_t *p = a;
    if (af == AF_INET)
        return p[0] == 127 || (p[0] | p[1] | p[2] | p[3]) == 0;
    const struct in6_addr *a6 = a;
    if (IN6_IS_ADDR_LOOPBACK(a6) || IN6_IS_ADDR_UNSPECIFIED(a6))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(a6) && p[12] == 127;
}

/* ---- the answers we gave: address -> name --------------------------------- */
#define NAMES_MAX 256
static struct {
    int af;
    uint8_t a[16];
    char name[NI_MAXHOST];
} names_tab[NAMES_MAX];
static unsigned names_next;
static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;

static void names_put(int af, const void *a, const char *name)
{
    int l = addr_len(af);
    if (!l || strlen(name) >= NI_MAXHOST || !*name)
        return;
    shunt_sig_block(); /* no handler may find it taken (sigblock.h) */
    pthread_mutex_lock(&names_mu);
    unsigned i, n = names_next < NAMES_MAX ? names_next : NAMES_MAX;
    for (i = 0; i < n; i++)
        if (names_tab[i].af == af && memcmp(names_tab[i].a, a, (size_t)l) == 0)
            break;
    if (i == n) {
        i = names_next % NAMES_MAX;
        names_next++;
        if (names_next >= 2 * NAMES_MAX)
            names_next -= NAMES_MAX; /* keep it >= NAMES_MAX once full */
    }
    names_tab[i].af = af;
    memset(names_tab[i].a, 0, sizeof(names_tab[i].a));
    memcpy(names_tab[i].a, a, (size_t)l);
    strcpy(names_tab[i].name, name);
    pthread_mutex_unlock(&names_mu);
    shunt_sig_unblock();
}

static int names_get(int af, const void *a, char *buf, size_t len)
{
    int l = addr_len(af), found = 0;
    if (!l)
        return 0;
    shunt_sig_block(); /* no handler may find it taken (sigblock.h) */
    pthread_mutex_lock(&names_mu);
    unsigned n = names_next < NAMES_MAX ? names_next : NAMES_MAX;
    for (unsigned i = 0; i < n && !found; i++)
        if (names_tab[i].af == af && memcmp(names_tab[i].a, a, (size_t)l) == 0 &&
            strlen(names_tab[i].name) < len) {
            strcpy(buf, names_tab[i].name);
            found = 1;
        }
    pthread_mutex_unlock(&names_mu);
    shunt_sig_unblock();
    return found;
}

const char *layer_dns_name_of(const struct sockaddr *sa, char *buf, size_t len)
{
    if (!sa || !buf || !len)
        return NULL;
    const void *a = NULL;
    int af = sa->sa_family;
    if (af == AF_INET)
        a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (af == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        a = &s6->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) { /* a mapped IPv4 peer */
            af = AF_INET;
            a = &s6->sin6_addr.s6_addr[12];
        }
    }
    return a && names_get(af, a, buf, len) ? buf : NULL;
}

/* ---- remote helpers -------------------------------------------------------- */

/* Reads a whole file of the target (OPEN, READ..., CLOSE) into buf, NUL
 * terminated.  Returns its length or -errno. */
static long remote_slurp(const char *path, char *buf, size_t cap)
{
    shunt_open_t q = {.path = shunt_str(path), .flags = O_RDONLY, .mode = 0};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_OPEN, &q, &m);
    if (r < 0)
        return r;
    uint32_t h = m.u.open_r.handle;
    size_t len = 0;
    for (;;) {
        size_t want = cap - 1 - len;
        if (want == 0)
            break;
        uint32_t max = shunt_rpc_data_max();
        shunt_read_t rq = {.handle = h,
                           .count = want < max ? (uint32_t)want : max};
        r = shunt_rpc(SHUNT_T_READ, &rq, &m);
        if (r < 0)
            break;
        uint32_t n = m.u.data_r.data.len;
        if (n == 0)
            break;
        if (n > want)
            n = (uint32_t)want;
        memcpy(buf + len, m.u.data_r.data.p, n);
        len += n;
    }
    rpc_close_handle(h);
    if (r < 0)
        return r;
    buf[len] = 0;
    return (long)len;
}

/* A host entry being built: names point into pool. */
typedef struct {
    int af, naddr, nalias;
    uint8_t addr[MAXADDRS][16];
    const char *name;
    const char *alias[MAXALIASES];
    char pool[2048];
    size_t used;
} hinfo_t;

static const char *pool_add(hinfo_t *hi, const char *s, size_t l)
{
    if (hi->used + l + 1 > sizeof(hi->pool))
        return NULL;
    char *p = hi->pool + hi->used;
    memcpy(p, s, l);
    p[l] = 0;
    hi->used += l + 1;
    return p;
}

static void add_addr(hinfo_t *hi, const void *a)
{
    int l = addr_len(hi->af);
    for (int i = 0; i < hi->naddr; i++)
        if (memcmp(hi->addr[i], a, (size_t)l) == 0)
            return;
    if (hi->naddr < MAXADDRS)
        memcpy(hi->addr[hi->naddr++], a, (size_t)l);
}

/* Walks the lines of a hosts file: for each "ADDR NAME [ALIAS...]" line
 * calls fn with the address parsed and the tokens; stops when fn returns
 * nonzero. */
typedef int (*hosts_fn)(void *ctx, int af, const uint8_t *a, char **tok,
                        int ntok);
static void hosts_walk(char *text, hosts_fn fn, void *ctx)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *tok[MAXALIASES + 2];
        int ntok = 0;
        char *s2 = NULL;
        for (char *t = strtok_r(line, " \t\r", &s2); t && ntok < MAXALIASES + 2;
             t = strtok_r(NULL, " \t\r", &s2))
            tok[ntok++] = t;
        if (ntok < 2)
            continue;
        uint8_t a[16];
        int af = AF_INET;
        if (inet_pton(AF_INET, tok[0], a) != 1) {
            af = AF_INET6;
            if (inet_pton(AF_INET6, tok[0], a) != 1)
                continue;
        }
        if (fn(ctx, af, a, tok + 1, ntok - 1))
            return;
    }
}

static void hi_names(hinfo_t *hi, char **tok, int ntok)
{
    hi->name = pool_add(hi, tok[0], strlen(tok[0]));
    for (int i = 1; i < ntok && hi->nalias < MAXALIASES; i++) {
        const char *p = pool_add(hi, tok[i], strlen(tok[i]));
        if (p)
            hi->alias[hi->nalias++] = p;
    }
}

typedef struct {
    hinfo_t *hi;
    const char *name;
    const uint8_t *addr;
    int found;
} hosts_q_t;

static int by_name_fn(void *ctx, int af, const uint8_t *a, char **tok,
                      int ntok)
{
    hosts_q_t *q = ctx;
    if (af != q->hi->af)
        return 0;
    for (int i = 0; i < ntok; i++)
        if (strcasecmp(tok[i], q->name) == 0) {
            hi_names(q->hi, tok, ntok);
            add_addr(q->hi, a);
            q->found = 1;
            return 1; /* the first matching line, as glibc's files */
        }
    return 0;
}

static int by_addr_fn(void *ctx, int af, const uint8_t *a, char **tok,
                      int ntok)
{
    hosts_q_t *q = ctx;
    if (af != q->hi->af || memcmp(a, q->addr, (size_t)addr_len(af)) != 0)
        return 0;
    hi_names(q->hi, tok, ntok);
    add_addr(q->hi, a);
    q->found = 1;
    return 1;
}

/* Looks name (or, name NULL, addr) up in the target's /etc/hosts.
 * 1 found, 0 not, -errno when the file cannot be read. */
static int target_hosts(hinfo_t *hi, const char *name, const uint8_t *addr)
{
    char *text = malloc(HOSTS_MAX);
    if (!text)
        return -ENOMEM;
    long r = remote_slurp("/etc/hosts", text, HOSTS_MAX);
    if (r < 0) {
        free(text);
        return r == -ENOENT ? 0 : (int)r;
    }
    hosts_q_t q = {.hi = hi, .name = name, .addr = addr, .found = 0};
    hosts_walk(text, name ? by_name_fn : by_addr_fn, &q);
    free(text);
    return q.found;
}

/* GETADDRINFO.  Returns the EAI_* value (0: *m holds the answer); a
 * transport failure is EAI_SYSTEM with *err set. */
static int remote_gai(const char *node, const char *service, int flags,
                      int family, int socktype, int protocol, shunt_msg_t *m,
                      int *err)
{
    shunt_getaddrinfo_t q = {.has_node = node != NULL,
                             .node = shunt_str(node),
                             .has_service = service != NULL,
                             .service = shunt_str(service),
                             .flags = flags,
                             .family = family,
                             .socktype = socktype,
                             .protocol = protocol};
    long r = shunt_rpc(SHUNT_T_GETADDRINFO, &q, m);
    if (r < 0) {
        LOG_WARN("getaddrinfo %s: the target's resolver is unreachable (%s)",
                 node ? node : "(null)", ESTR((int)-r));
        *err = (int)-r;
        return EAI_SYSTEM;
    }
    int g = m->u.gai_r.gai_err;
    if (g == EAI_SYSTEM)
        *err = m->u.gai_r.sys_errno > 0 ? m->u.gai_r.sys_errno : EIO;
    LOG_DEBUG("getaddrinfo %s (family %d): %d, %u address(es) from the target",
              node ? node : "(null)", family, g, m->u.gai_r.addrs.count);
    return g;
}

/* ---- getaddrinfo / freeaddrinfo ------------------------------------------ */
typedef struct {
    struct addrinfo ai;
    uint64_t magic; /* where glibc has the sockaddr */
    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } sa;
} dns_ai_t;

static int ai_is_ours(const struct addrinfo *ai)
{
    if ((const void *)ai->ai_addr == (const void *)(ai + 1))
        return 0; /* glibc's layout */
    uint64_t mg;
    memcpy(&mg, (const void *)(ai + 1), sizeof(mg));
    return mg == DNS_MAGIC;
}

static void ours_free(struct addrinfo *ai)
{
    while (ai) {
        struct addrinfo *next = ai->ai_next;
        dns_ai_t *b = (dns_ai_t *)(void *)ai;
        b->magic = 0;
        free(ai->ai_canonname);
        free(b);
        ai = next;
    }
}

void hook_freeaddrinfo(struct addrinfo *ai)
{
    if (ai && ai_is_ours(ai)) {
        ours_free(ai);
        return;
    }
    REAL_VOID(freeaddrinfo, ai);
}

static int gai_remote(const char *node, const char *service,
                      const struct addrinfo *hints, struct addrinfo **res)
{
    int flags = hints ? hints->ai_flags : (AI_V4MAPPED | AI_ADDRCONFIG);
    int family = hints ? hints->ai_family : AF_UNSPEC;
    shunt_msg_t m;
    int err = 0;
    int g = remote_gai(node, service, flags, family,
                       hints ? hints->ai_socktype : 0,
                       hints ? hints->ai_protocol : 0, &m, &err);
    if (g == EAI_SYSTEM)
        errno = err;
    if (g != 0)
        return g;
    struct addrinfo *head = NULL, **tail = &head;
    shunt_list_iter_t it;
    shunt_list_iter_init(&it, &m.u.gai_r.addrs);
    shunt_rec_addrinfo_t rec;
    while (shunt_list_next_rec_addrinfo(&it, &rec) == 1) {
        int af = rec.family;
        if ((af != AF_INET && af != AF_INET6) ||
            rec.addr.len != (uint32_t)addr_len(af))
            continue;
        dns_ai_t *b = calloc(1, sizeof(*b));
        if (!b) {
            ours_free(head);
            return EAI_MEMORY;
        }
        b->magic = DNS_MAGIC;
        b->ai.ai_family = af;
        b->ai.ai_socktype = rec.socktype;
        b->ai.ai_protocol = rec.protocol;
        if (af == AF_INET) {
            b->sa.v4.sin_family = AF_INET;
            b->sa.v4.sin_port = htons(rec.port);
            memcpy(&b->sa.v4.sin_addr, rec.addr.p, 4);
            b->ai.ai_addrlen = sizeof(b->sa.v4);
        } else {
            b->sa.v6.sin6_family = AF_INET6;
            b->sa.v6.sin6_port = htons(rec.port);
            memcpy(&b->sa.v6.sin6_addr, rec.addr.p, 16);
            b->ai.ai_addrlen = sizeof(b->sa.v6);
        }
        b->ai.ai_addr = (struct sockaddr *)(void *)&b->sa;
        if ((flags & AI_CANONNAME) && head == NULL) {
            const char *cn = rec.canonname.len ? rec.canonname.p : node;
            size_t cl = rec.canonname.len ? rec.canonname.len : strlen(node);
            b->ai.ai_canonname = strndup(cn, cl);
            if (!b->ai.ai_canonname) {
                free(b);
                ours_free(head);
                return EAI_MEMORY;
            }
        }
        names_put(af, rec.addr.p, node);
        *tail = &b->ai;
        tail = &b->ai.ai_next;
    }
    if (!head)
        return EAI_NONAME;
    *res = head;
    return 0;
}

int hook_getaddrinfo(const char *node, const char *service,
                     const struct addrinfo *hints, struct addrinfo **res)
{
    if (LAYER_BYPASS() || !node || !res ||
        (hints && (hints->ai_flags & AI_NUMERICHOST)))
        return REAL(getaddrinfo, node, service, hints, res);
    int saved = errno;
    LAYER_ENTER();
    if (name_local(node)) {
        LAYER_LEAVE();
        errno = saved;
        return REAL(getaddrinfo, node, service, hints, res);
    }
    int g = gai_remote(node, service, hints, res);
    LAYER_LEAVE();
    if (g != EAI_SYSTEM)
        errno = saved;
    return g;
}

/* ---- hostent ------------------------------------------------------------- */

/* Lays hi out in buf as a hostent.  0 or ERANGE. */
static int fill_hostent(const hinfo_t *hi, struct hostent *h, char *buf,
                        size_t buflen)
{
    int l = addr_len(hi->af);
    size_t need = (size_t)(hi->nalias + 1 + hi->naddr + 1) * sizeof(char *) +
                  (size_t)(hi->naddr * l) + strlen(hi->name) + 1;
    for (int i = 0; i < hi->nalias; i++)
        need += strlen(hi->alias[i]) + 1;
    size_t pad = (sizeof(char *) - ((uintptr_t)buf % sizeof(char *))) %
                 sizeof(char *);
    if (buflen < need + pad)
        return ERANGE;
    char **ptrs = (char **)(void *)(buf + pad);
    char **aliases = ptrs, **addrs = ptrs + hi->nalias + 1;
    char *p = (char *)(addrs + hi->naddr + 1);
    for (int i = 0; i < hi->naddr; i++) {
        memcpy(p, hi->addr[i], (size_t)l);
        addrs[i] = p;
        p += l;
    }
    addrs[hi->naddr] = NULL;
    for (int i = 0; i < hi->nalias; i++) {
        size_t sl = strlen(hi->alias[i]) + 1;
        memcpy(p, hi->alias[i], sl);
        aliases[i] = p;
        p += sl;
    }
    aliases[hi->nalias] = NULL;
    size_t sl = strlen(hi->name) + 1;
    memcpy(p, hi->name, sl);
    h->h_name = p;
    h->h_aliases = aliases;
    h->h_addrtype = hi->af;
    h->h_length = l;
    h->h_addr_list = addrs;
    return 0;
}

static int gai_to_herr(int g)
{
    switch (g) {
    case EAI_NONAME:
        return HOST_NOT_FOUND;
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
        return NO_DATA;
    case EAI_AGAIN:
        return TRY_AGAIN;
    default:
        return NO_RECOVERY;
    }
}

/* Forward lookup of a remote name: the target's /etc/hosts (exact entries
 * with their aliases, as glibc's files module gives them), else the
 * target's resolver.  0 or an h_errno value. */
static int lookup_name(const char *name, int af, hinfo_t *hi)
{
    memset(hi, 0, offsetof(hinfo_t, pool));
    hi->af = af;
    hi->used = 0;
    int r = target_hosts(hi, name, NULL);
    if (r > 0 && hi->name)
        return 0;
    if (r < 0 && r != -ENOENT)
        LOG_DEBUG("gethostbyname %s: target's /etc/hosts: %s", name,
                  ESTR(-r));
    memset(hi, 0, offsetof(hinfo_t, pool));
    hi->af = af;
    hi->used = 0;
    shunt_msg_t m;
    int err = 0;
    int g = remote_gai(name, NULL, AI_CANONNAME, af, SOCK_STREAM, 0, &m, &err);
    if (g != 0)
        return gai_to_herr(g);
    shunt_list_iter_t it;
    shunt_list_iter_init(&it, &m.u.gai_r.addrs);
    shunt_rec_addrinfo_t rec;
    const char *canon = NULL;
    while (shunt_list_next_rec_addrinfo(&it, &rec) == 1) {
        if (rec.family != af || rec.addr.len != (uint32_t)addr_len(af))
            continue;
        if (!canon && rec.canonname.len)
            canon = pool_add(hi, rec.canonname.p, rec.canonname.len);
        add_addr(hi, rec.addr.p);
    }
    if (hi->naddr == 0)
        return NO_DATA;
    hi->name = canon ? canon : pool_add(hi, name, strlen(name));
    if (!hi->name)
        return NO_RECOVERY;
    if (canon && strcasecmp(canon, name) != 0) {
        const char *a = pool_add(hi, name, strlen(name));
        if (a)
            hi->alias[hi->nalias++] = a;
    }
    for (int i = 0; i < hi->naddr; i++)
        names_put(af, hi->addr[i], name);
    return 0;
}

/* Reverse lookup: the target's /etc/hosts, then the answers this process
 * was given.  0 or HOST_NOT_FOUND. */
static int lookup_addr(const void *addr, int af, hinfo_t *hi)
{
    memset(hi, 0, offsetof(hinfo_t, pool));
    hi->af = af;
    hi->used = 0;
    if (target_hosts(hi, NULL, addr) > 0 && hi->name)
        return 0;
    memset(hi, 0, offsetof(hinfo_t, pool));
    hi->af = af;
    hi->used = 0;
    char nm[NI_MAXHOST];
    if (!names_get(af, addr, nm, sizeof(nm)))
        return HOST_NOT_FOUND;
    hi->name = pool_add(hi, nm, strlen(nm));
    add_addr(hi, addr);
    return hi->name ? 0 : HOST_NOT_FOUND;
}

/* The _r convention: 0 (found, or not found with *result NULL and
 * *h_errnop set), ERANGE, or EAGAIN for TRY_AGAIN. */
static int hostent_r(int herr, const hinfo_t *hi, struct hostent *ret,
                     char *buf, size_t buflen, struct hostent **result,
                     int *h_errnop)
{
    *result = NULL;
    if (herr) {
        if (h_errnop)
            *h_errnop = herr;
        return herr == TRY_AGAIN ? EAGAIN : 0;
    }
    if (fill_hostent(hi, ret, buf, buflen) != 0) {
        if (h_errnop)
            *h_errnop = NETDB_INTERNAL;
        return ERANGE;
    }
    *result = ret;
    if (h_errnop)
        *h_errnop = 0;
    return 0;
}

static struct hostent static_he;
static char static_buf[16384];

static struct hostent *hostent_static(int herr, const hinfo_t *hi)
{
    struct hostent *res = NULL;
    int e = 0;
    hostent_r(herr, hi, &static_he, static_buf, sizeof(static_buf), &res, &e);
    if (!res)
        h_errno = e ? e : NO_RECOVERY;
    return res;
}

/* Whether a gethostbyname-family call goes to the original. */
static int hbn_local(const char *name, int af)
{
    return !name || (af != AF_INET && af != AF_INET6) || name_local(name);
}

int hook_gethostbyname2_r(const char *name, int af, struct hostent *ret,
                          char *buf, size_t buflen, struct hostent **result,
                          int *h_errnop)
{
    if (LAYER_BYPASS())
        return REAL(gethostbyname2_r, name, af, ret, buf, buflen, result,
                                     h_errnop);
    int saved = errno;
    LAYER_ENTER();
    if (hbn_local(name, af)) {
        LAYER_LEAVE();
        errno = saved;
        return REAL(gethostbyname2_r, name, af, ret, buf, buflen, result,
                                     h_errnop);
    }
    hinfo_t *hi = malloc(sizeof(*hi));
    int r;
    if (!hi) {
        *result = NULL;
        if (h_errnop)
            *h_errnop = NETDB_INTERNAL;
        r = ENOMEM;
    } else {
        r = hostent_r(lookup_name(name, af, hi), hi, ret, buf, buflen, result,
                      h_errnop);
        free(hi);
    }
    LAYER_LEAVE();
    errno = r ? r : saved;
    return r;
}

int hook_gethostbyname_r(const char *name, struct hostent *ret, char *buf,
                         size_t buflen, struct hostent **result, int *h_errnop)
{
    if (LAYER_BYPASS() || hbn_local(name, AF_INET))
        return REAL(gethostbyname_r, name, ret, buf, buflen, result, h_errnop);
    return hook_gethostbyname2_r(name, AF_INET, ret, buf, buflen, result,
                                 h_errnop);
}

struct hostent *hook_gethostbyname2(const char *name, int af)
{
    if (LAYER_BYPASS())
        return REAL(gethostbyname2, name, af);
    int saved = errno;
    LAYER_ENTER();
    if (hbn_local(name, af)) {
        LAYER_LEAVE();
        errno = saved;
        return REAL(gethostbyname2, name, af);
    }
    hinfo_t *hi = malloc(sizeof(*hi));
    struct hostent *res = NULL;
    if (hi) {
        res = hostent_static(lookup_name(name, af, hi), hi);
        free(hi);
    } else
        h_errno = NETDB_INTERNAL;
    LAYER_LEAVE();
    errno = saved;
    return res;
}

struct hostent *hook_gethostbyname(const char *name)
{
    if (LAYER_BYPASS() || hbn_local(name, AF_INET))
        return REAL(gethostbyname, name);
    return hook_gethostbyname2(name, AF_INET);
}

/* Whether a reverse lookup goes to the original. */
static int hba_local(const void *addr, socklen_t len, int type)
{
    return !addr || addr_len(type) == 0 || len != (socklen_t)addr_len(type) ||
           addr_local(type, addr);
}

int hook_gethostbyaddr_r(const void *addr, socklen_t len, int type,
                         struct hostent *ret, char *buf, size_t buflen,
                         struct hostent **result, int *h_errnop)
{
    if (LAYER_BYPASS() || hba_local(addr, len, type))
        return REAL(gethostbyaddr_r, addr, len, type, ret, buf, buflen, result,
                                    h_errnop);
    int saved = errno;
    LAYER_ENTER();
    hinfo_t *hi = malloc(sizeof(*hi));
    int r;
    if (!hi) {
        *result = NULL;
        if (h_errnop)
            *h_errnop = NETDB_INTERNAL;
        r = ENOMEM;
    } else {
        r = hostent_r(lookup_addr(addr, type, hi), hi, ret, buf, buflen,
                      result, h_errnop);
        free(hi);
    }
    LAYER_LEAVE();
    errno = r ? r : saved;
    return r;
}

struct hostent *hook_gethostbyaddr(const void *addr, socklen_t len, int type)
{
    if (LAYER_BYPASS() || hba_local(addr, len, type))
        return REAL(gethostbyaddr, addr, len, type);
    int saved = errno;
    LAYER_ENTER();
    hinfo_t *hi = malloc(sizeof(*hi));
    struct hostent *res = NULL;
    if (hi) {
        res = hostent_static(lookup_addr(addr, type, hi), hi);
        free(hi);
    } else
        h_errno = NETDB_INTERNAL;
    LAYER_LEAVE();
    errno = saved;
    return res;
}

/* ---- getnameinfo ---------------------------------------------------------- */
int hook_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
                     socklen_t hostlen, char *serv, socklen_t servlen,
                     int flags)
{
    if (LAYER_BYPASS() || !sa || !host || !hostlen ||
        (flags & NI_NUMERICHOST))
        return REAL(getnameinfo, sa, salen, host, hostlen, serv, servlen, flags);
    const void *a;
    int af = sa->sa_family;
    if (af == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in))
        a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (af == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6))
        a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    else
        return REAL(getnameinfo, sa, salen, host, hostlen, serv, servlen, flags);
    if (addr_local(af, a))
        return REAL(getnameinfo, sa, salen, host, hostlen, serv, servlen, flags);
    /* The service part (and the checks of the arguments): the original. */
    if (serv && servlen) {
        int g = REAL(getnameinfo, sa, salen, NULL, 0, serv, servlen, flags);
        if (g != 0)
            return g;
    }
    int saved = errno;
    LAYER_ENTER();
    hinfo_t *hi = malloc(sizeof(*hi));
    int found = hi && lookup_addr(a, af, hi) == 0;
    int g = 0;
    if (found) {
        if (strlen(hi->name) >= hostlen)
            g = EAI_OVERFLOW;
        else
            strcpy(host, hi->name);
    }
    free(hi);
    LAYER_LEAVE();
    errno = saved;
    if (found)
        return g;
    if (flags & NI_NAMEREQD)
        return EAI_NONAME;
    return REAL(getnameinfo, sa, salen, host, hostlen, NULL, 0,
                            flags | NI_NUMERICHOST);
}

/* ---- gethostname / uname --------------------------------------------------- */
static pthread_once_t hn_once = PTHREAD_ONCE_INIT;
static char hn_name[HOST_NAME_MAX + 1];
static int hn_ok;

static void hn_load(void)
{
    char buf[512];
    long r = remote_slurp("/etc/hostname", buf, sizeof(buf));
    if (r < 0) {
        LOG_WARN("hostname: cannot read the target's /etc/hostname (%s); "
                 "using the local one",
                 ESTR((int)-r));
        return;
    }
    size_t l = strcspn(buf, " \t\r\n");
    if (l == 0 || l > HOST_NAME_MAX) {
        LOG_WARN("hostname: the target's /etc/hostname is empty or too "
                 "long; using the local one");
        return;
    }
    memcpy(hn_name, buf, l);
    hn_name[l] = 0;
    hn_ok = 1;
    LOG_DEBUG("hostname: %s (the target's)", hn_name);
}

const char *layer_target_hostname(void)
{
    LAYER_ENTER();
    pthread_once(&hn_once, hn_load);
    LAYER_LEAVE();
    return hn_ok ? hn_name : NULL;
}

int hook_gethostname(char *name, size_t len)
{
    if (LAYER_BYPASS())
        return REAL(gethostname, name, len);
    int saved = errno;
    const char *hn = layer_target_hostname();
    if (!hn) {
        errno = saved;
        return REAL(gethostname, name, len);
    }
    size_t l = strlen(hn) + 1;
    if (l > len) {
        if (len) {
            memcpy(name, hn, len);
        }
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(name, hn, l);
    errno = saved;
    return 0;
}

int hook_uname(struct utsname *buf)
{
    int r = REAL(uname, buf);
    if (r != 0 || LAYER_BYPASS())
        return r;
    int saved = errno;
    const char *hn = layer_target_hostname();
    if (hn) {
        size_t l = strlen(hn);
        if (l >= sizeof(buf->nodename))
            l = sizeof(buf->nodename) - 1;
        memcpy(buf->nodename, hn, l);
        buf->nodename[l] = 0;
    }
    errno = saved;
    return 0;
}
