/* layer.dns: names come from the target (run by tests/layer/dns.sh).
 *   lt_dns API_IP TARGET_HOSTNAME HOST_ONLY_NAME
 * API_IP: what api.cluster is inside the target; TARGET_HOSTNAME: the
 * target's host name; HOST_ONLY_NAME: a name the local host resolves (its
 * own host name) that the target does not know. */
#include "lt.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char *api_ip;

/* The first address of family af in res, as text ("" when none). */
static const char *first_addr(const struct addrinfo *res, int af, char *buf,
                              size_t len)
{
    buf[0] = 0;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family != af)
            continue;
        const void *p = af == AF_INET
                            ? (const void *)&((struct sockaddr_in *)(void *)a->ai_addr)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr;
        inet_ntop(af, p, buf, (socklen_t)len);
        break;
    }
    return buf;
}

static int port_of(const struct addrinfo *a)
{
    return ntohs(a->ai_family == AF_INET
                     ? ((struct sockaddr_in *)(void *)a->ai_addr)->sin_port
                     : ((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_port);
}

static int gai(const char *node, const char *serv, int family, int socktype,
               int flags, struct addrinfo **res)
{
    struct addrinfo h = {.ai_family = family, .ai_socktype = socktype,
                         .ai_flags = flags};
    *res = NULL;
    return getaddrinfo(node, serv, &h, res);
}

static void test_getaddrinfo(const char *host_only)
{
    struct addrinfo *res;
    char b[INET6_ADDRSTRLEN];

    /* a service of the cluster, by its cluster name */
    CHECK_LONG(gai("api.cluster", NULL, AF_INET, SOCK_STREAM, AI_CANONNAME,
                   &res), 0);
    if (res) {
        CHECK_STR(first_addr(res, AF_INET, b, sizeof(b)), api_ip);
        CHECK(res->ai_canonname != NULL);
        CHECK_STR(res->ai_canonname, "api");
        CHECK(res->ai_next == NULL);
        CHECK_LONG(res->ai_socktype, SOCK_STREAM);
        CHECK_LONG(res->ai_addrlen, sizeof(struct sockaddr_in));
        freeaddrinfo(res);
    }
    /* AF_UNSPEC, no hints at all */
    res = NULL;
    CHECK_LONG(getaddrinfo("api.cluster", NULL, NULL, &res), 0);
    if (res) {
        CHECK_STR(first_addr(res, AF_INET, b, sizeof(b)), api_ip);
        freeaddrinfo(res);
    }
    /* a name only in the target's /etc/hosts */
    CHECK_LONG(gai("only-in-target.example", NULL, AF_UNSPEC, SOCK_STREAM, 0,
                   &res), 0);
    if (res) {
        CHECK_STR(first_addr(res, AF_INET, b, sizeof(b)), "10.200.250.7");
        freeaddrinfo(res);
    }
    /* a record only the cluster DNS serves */
    CHECK_LONG(gai("db.cluster", NULL, AF_INET, SOCK_STREAM, 0, &res), 0);
    if (res) {
        CHECK_STR(first_addr(res, AF_INET, b, sizeof(b)), "10.200.250.8");
        freeaddrinfo(res);
    }
    /* the search domain of the target's resolv.conf */
    CHECK_LONG(gai("db", NULL, AF_INET, SOCK_STREAM, 0, &res), 0);
    if (res)
        freeaddrinfo(res);
    /* the local host's own name is unknown there, and not asked locally */
    int g = gai(host_only, NULL, AF_UNSPEC, SOCK_STREAM, 0, &res);
    CHECK(g == EAI_NONAME || g == EAI_NODATA || g == EAI_AGAIN);
    CHECK(res == NULL);
    /* the cluster DNS (no upstream) refuses unknown names: EAI_AGAIN, as
     * inside the target */
    g = gai("nothing.cluster", "80", AF_UNSPEC, 0, 0, &res);
    CHECK(g == EAI_NONAME || g == EAI_AGAIN);

    /* families */
    CHECK_LONG(gai("v6-only.example", NULL, AF_INET6, SOCK_STREAM, 0, &res), 0);
    if (res) {
        CHECK_STR(first_addr(res, AF_INET6, b, sizeof(b)), "fd00:250::7");
        CHECK_LONG(res->ai_addrlen, sizeof(struct sockaddr_in6));
        freeaddrinfo(res);
    }
    g = gai("v6-only.example", NULL, AF_INET, SOCK_STREAM, 0, &res);
    CHECK(g != 0);
    g = gai("api.cluster", NULL, AF_INET6, SOCK_STREAM, 0, &res);
    CHECK(g != 0);
    CHECK_LONG(gai("api.cluster", NULL, AF_INET6, SOCK_STREAM, AI_V4MAPPED,
                   &res), 0);
    if (res) {
        char want[64];
        snprintf(want, sizeof(want), "::ffff:%s", api_ip);
        CHECK_STR(first_addr(res, AF_INET6, b, sizeof(b)), want);
        freeaddrinfo(res);
    }

    /* services and socket types */
    CHECK_LONG(gai("api.cluster", "8080", AF_INET, SOCK_STREAM, 0, &res), 0);
    if (res) {
        CHECK_LONG(port_of(res), 8080);
        freeaddrinfo(res);
    }
    CHECK_LONG(gai("api.cluster", "http", AF_INET, SOCK_STREAM, 0, &res), 0);
    if (res) {
        CHECK_LONG(port_of(res), 80);
        freeaddrinfo(res);
    }
    CHECK_LONG(gai("api.cluster", "http", AF_INET, SOCK_STREAM,
                   AI_NUMERICSERV, &res), EAI_NONAME);
    CHECK_LONG(gai("api.cluster", "no-such-service", AF_INET, SOCK_STREAM, 0,
                   &res), EAI_SERVICE);
    CHECK_LONG(gai("api.cluster", "53", AF_INET, 0, 0, &res), 0);
    if (res) {
        int n = 0, dgram = 0;
        for (struct addrinfo *a = res; a; a = a->ai_next, n++)
            dgram |= a->ai_socktype == SOCK_DGRAM;
        CHECK(n >= 2 && dgram);
        freeaddrinfo(res);
    }

    /* numeric hosts stay local, AI_NUMERICHOST semantics preserved */
    CHECK_LONG(gai("10.1.2.3", "80", AF_INET, SOCK_STREAM, AI_NUMERICHOST,
                   &res), 0);
    if (res) {
        CHECK_STR(first_addr(res, AF_INET, b, sizeof(b)), "10.1.2.3");
        freeaddrinfo(res); /* libc's own */
    }
    CHECK_LONG(gai("api.cluster", NULL, AF_INET, SOCK_STREAM, AI_NUMERICHOST,
                   &res), EAI_NONAME);
    CHECK_LONG(gai("fe80::1%1", NULL, AF_INET6, SOCK_STREAM, 0, &res), 0);
    if (res)
        freeaddrinfo(res);
    /* AI_PASSIVE with no node: the wildcard address */
    CHECK_LONG(gai(NULL, "8080", AF_INET, SOCK_STREAM, AI_PASSIVE, &res), 0);
    if (res) {
        CHECK_STR(first_addr(res, AF_INET, b, sizeof(b)), "0.0.0.0");
        CHECK_LONG(port_of(res), 8080);
        freeaddrinfo(res);
    }
    CHECK_LONG(gai(NULL, "8080", AF_INET, SOCK_STREAM, 0, &res), 0);
    if (res) {
        CHECK_STR(first_addr(res, AF_INET, b, sizeof(b)), "127.0.0.1");
        freeaddrinfo(res);
    }
    /* localhost: local */
    CHECK_LONG(gai("localhost", "80", AF_INET, SOCK_STREAM, 0, &res), 0);
    if (res) {
        CHECK_STR(first_addr(res, AF_INET, b, sizeof(b)), "127.0.0.1");
        freeaddrinfo(res);
    }

    /* freeaddrinfo of ours and of libc's, many times: no growth */
    for (int i = 0; i < 50; i++) { /* warm up */
        if (gai("api.cluster", "80", AF_UNSPEC, 0, AI_CANONNAME, &res) == 0)
            freeaddrinfo(res);
    }
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 500; i++) {
        if (gai("api.cluster", "80", AF_UNSPEC, 0, AI_CANONNAME, &res) == 0)
            freeaddrinfo(res);
        if (gai("10.0.0.1", "80", AF_UNSPEC, 0, AI_NUMERICHOST | AI_CANONNAME,
                &res) == 0)
            freeaddrinfo(res);
    }
    struct mallinfo2 after = mallinfo2();
    CHECK(after.uordblks <= before.uordblks + 4096);
    freeaddrinfo(NULL);
}

static int has_alias(const struct hostent *h, const char *name)
{
    for (char **a = h->h_aliases; a && *a; a++)
        if (strcmp(*a, name) == 0)
            return 1;
    return 0;
}

static void test_hostent(const char *host_only)
{
    char b[INET6_ADDRSTRLEN];
    struct hostent *h = gethostbyname("api.cluster");
    CHECK(h != NULL);
    if (h) {
        CHECK_STR(h->h_name, "api");
        CHECK(has_alias(h, "api.cluster") && has_alias(h, "api.internal"));
        CHECK_LONG(h->h_addrtype, AF_INET);
        CHECK_LONG(h->h_length, 4);
        CHECK_STR(inet_ntop(AF_INET, h->h_addr_list[0], b, sizeof(b)), api_ip);
        CHECK(h->h_addr_list[1] == NULL);
    }
    h = gethostbyname("db.cluster");
    CHECK(h != NULL);
    if (h) {
        CHECK_STR(h->h_name, "db.cluster");
        CHECK_STR(inet_ntop(AF_INET, h->h_addr_list[0], b, sizeof(b)),
                  "10.200.250.8");
    }
    h_errno = 0;
    CHECK(gethostbyname("nothing.cluster") == NULL);
    CHECK(h_errno == HOST_NOT_FOUND || h_errno == TRY_AGAIN);
    CHECK(gethostbyname(host_only) == NULL);
    h = gethostbyname("127.0.0.1"); /* numeric: libc's */
    CHECK(h != NULL && h->h_length == 4);

    h = gethostbyname2("v6-only.example", AF_INET6);
    CHECK(h != NULL);
    if (h) {
        CHECK_LONG(h->h_length, 16);
        CHECK_STR(inet_ntop(AF_INET6, h->h_addr_list[0], b, sizeof(b)),
                  "fd00:250::7");
    }
    CHECK(gethostbyname2("api.cluster", AF_INET6) == NULL);
    h = gethostbyname2("only-in-target.example", AF_INET);
    CHECK(h != NULL && has_alias(h, "alias-in-target.example"));

    struct hostent he, *res = NULL;
    char small[16], big[2048];
    int herr = 0;
    CHECK_LONG(gethostbyname_r("api.cluster", &he, small, sizeof(small), &res,
                               &herr), ERANGE);
    CHECK(res == NULL);
    CHECK_LONG(gethostbyname_r("api.cluster", &he, big, sizeof(big), &res,
                               &herr), 0);
    CHECK(res == &he);
    if (res)
        CHECK_STR(inet_ntop(AF_INET, he.h_addr_list[0], b, sizeof(b)), api_ip);
    int r = gethostbyname_r("nothing.cluster", &he, big, sizeof(big), &res,
                            &herr);
    CHECK(res == NULL);
    CHECK((r == 0 && herr == HOST_NOT_FOUND) || (r == EAGAIN && herr == TRY_AGAIN));
    CHECK_LONG(gethostbyname2_r("v6-only.example", AF_INET6, &he, big,
                                sizeof(big), &res, &herr), 0);
    CHECK(res == &he && he.h_length == 16);

    /* reverse: the target's /etc/hosts, then the answers given */
    struct in_addr a4;
    inet_pton(AF_INET, "10.200.250.7", &a4);
    h = gethostbyaddr(&a4, 4, AF_INET);
    CHECK(h != NULL);
    if (h) {
        CHECK_STR(h->h_name, "only-in-target.example");
        CHECK(has_alias(h, "alias-in-target.example"));
    }
    inet_pton(AF_INET, api_ip, &a4);
    CHECK_LONG(gethostbyaddr_r(&a4, 4, AF_INET, &he, big, sizeof(big), &res,
                               &herr), 0);
    CHECK(res != NULL);
    if (res)
        CHECK_STR(he.h_name, "api");
    inet_pton(AF_INET, "10.200.250.99", &a4);
    h_errno = 0;
    CHECK(gethostbyaddr(&a4, 4, AF_INET) == NULL);
    CHECK_LONG(h_errno, HOST_NOT_FOUND);
}

static void test_getnameinfo(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    inet_pton(AF_INET, api_ip, &sin.sin_addr);
    CHECK_LONG(getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
                           sizeof(host), serv, sizeof(serv), 0), 0);
    CHECK_STR(host, "api");
    CHECK_STR(serv, "http");
    CHECK_LONG(getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
                           sizeof(host), serv, sizeof(serv),
                           NI_NUMERICHOST | NI_NUMERICSERV), 0);
    CHECK_STR(host, api_ip);
    CHECK_STR(serv, "80");
    char tiny[2];
    CHECK_LONG(getnameinfo((struct sockaddr *)&sin, sizeof(sin), tiny,
                           sizeof(tiny), NULL, 0, 0), EAI_OVERFLOW);
    /* only in the cluster DNS: named from the answer given above */
    inet_pton(AF_INET, "10.200.250.8", &sin.sin_addr);
    CHECK_LONG(getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
                           sizeof(host), NULL, 0, NI_NAMEREQD), 0);
    CHECK_STR(host, "db.cluster");
    inet_pton(AF_INET, "10.200.250.99", &sin.sin_addr);
    CHECK_LONG(getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
                           sizeof(host), NULL, 0, NI_NAMEREQD), EAI_NONAME);
    CHECK_LONG(getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
                           sizeof(host), NULL, 0, 0), 0);
    CHECK_STR(host, "10.200.250.99");
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(22)};
    inet_pton(AF_INET6, "fd00:250::7", &s6.sin6_addr);
    CHECK_LONG(getnameinfo((struct sockaddr *)&s6, sizeof(s6), host,
                           sizeof(host), serv, sizeof(serv), 0), 0);
    CHECK_STR(host, "v6-only.example");
    CHECK_STR(serv, "ssh");
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    CHECK_LONG(getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
                           sizeof(host), NULL, 0, 0), 0);
}

static void test_hostname(const char *want)
{
    char name[256];
    CHECK_LONG(gethostname(name, sizeof(name)), 0);
    CHECK_STR(name, want);
    CHECK_ERR(gethostname(name, 3), ENAMETOOLONG);
    struct utsname u;
    CHECK_LONG(uname(&u), 0);
    CHECK_STR(u.nodename, want);
    CHECK_STR(u.sysname, "Linux");
}

/* res_query: glibc's resolver reads the target's resolv.conf and sends its
 * query to the cluster DNS (through the socket hooks). */
static void test_res(void)
{
    unsigned char ans[1024];
    int n = res_query("db.cluster", ns_c_in, ns_t_a, ans, sizeof(ans));
    CHECK(n > 0);
    if (n > 0) {
        ns_msg msg;
        ns_rr rr;
        CHECK_LONG(ns_initparse(ans, n, &msg), 0);
        CHECK_LONG(ns_msg_count(msg, ns_s_an), 1);
        if (ns_parserr(&msg, ns_s_an, 0, &rr) == 0) {
            char b[INET_ADDRSTRLEN];
            CHECK_STR(inet_ntop(AF_INET, ns_rr_rdata(rr), b, sizeof(b)),
                      "10.200.250.8");
        }
    }
    n = res_search("db", ns_c_in, ns_t_a, ans, sizeof(ans)); /* search list */
    CHECK(n > 0);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: lt_dns API_IP TARGET_HOSTNAME HOST_ONLY_NAME "
                        "[res]\n");
        return 2;
    }
    api_ip = argv[1];
    test_getaddrinfo(argv[3]);
    test_hostent(argv[3]);
    test_getnameinfo();
    test_hostname(argv[2]);
    if (argc > 4 && strcmp(argv[4], "res") == 0)
        test_res();
    return lt_done("lt_dns");
}
