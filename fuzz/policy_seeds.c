/* Writes the seed inputs of fuzz/policy_match into DIR (format: see
 * policy_match.c): path policies with every list and the default sets, and
 * network filters with good and bad rules of every form.
 *   fuzz_policy_seeds DIR */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char buf[8192];
static size_t len;

static void put(const void *p, size_t n)
{
    if (len + n > sizeof(buf)) {
        fprintf(stderr, "fuzz_policy_seeds: seed too long\n");
        exit(1);
    }
    memcpy(buf + len, p, n);
    len += n;
}

static void puts0(const char *s) { put(s, strlen(s) + 1); }

static void save(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    len = 0;
}

static void query(const char *proto, const char *addr, unsigned port,
                  const char *name)
{
    unsigned char q[21] = {0};
    q[0] = strcmp(proto, "udp") == 0;
    if (inet_pton(AF_INET, addr, q + 2) == 1) {
        q[1] = 0;
    } else if (inet_pton(AF_INET6, addr, q + 2) == 1) {
        q[1] = 1;
    } else {
        fprintf(stderr, "fuzz_policy_seeds: bad address %s\n", addr);
        exit(1);
    }
    q[18] = (unsigned char)(port >> 8);
    q[19] = (unsigned char)port;
    q[20] = name ? (unsigned char)strlen(name) : 0xff;
    put(q, sizeof(q));
    if (name)
        put(name, strlen(name));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_policy_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];

    static const char *const pairs[][2] = {
        {"/", "/etc/hosts"}, {"/", "/etc/hosts/x"}, {"/", "/etc/hostsx"},
        {"/home/u", "../../etc/resolv.conf"}, {"/", "a/./b/../c"},
        {"/usr", "lib/../../srv/app/config.json"}, {"/", "/usr"},
        {"/", "/usr2/x"}, {"/", "/etc/ld.so.conf.d/libc.conf"},
        {"/", "/etc/ld.so.confx"}, {"/", "/srv/cache/x"}, {"/", "/srv/x"},
        {"/", "/data/db"}, {"/", "/repo/.git"}, {"/", "//..//./"},
        {"relative", "x"}, {"/", ""}, {"/", "/tmp/../proc/self/root"},
        {"/var", "tmp/x"}, {"/", "/etc/nsswitch.conf"},
    };
    put("\0", 1);
    puts0("read_only ^/srv\n"
          "local ^/srv/cache(/|$)\n"
          "not_found \\.git$\n"
          "read_write ^/data/\n"
          "# comment\n"
          "bogus line\n");
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        puts0(pairs[i][0]);
        puts0(pairs[i][1]);
    }
    save(dir, "paths-lists");

    put("\0", 1);
    puts0("");
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        puts0(pairs[i][0]);
        puts0(pairs[i][1]);
    }
    save(dir, "paths-defaults");

    /* a path that grows past PATH_MAX before a ".." brings it back */
    put("\0", 1);
    puts0("");
    puts0("/");
    char longp[4200];
    memset(longp, 'a', 4100);
    strcpy(longp + 4100, "/..");
    puts0(longp);
    save(dir, "paths-toolong");

    put("\1", 1);
    puts0("R 10.200.0.0/16\n"
          "L tcp 10.200.1.5:6379\n"
          "R *.cluster\n"
          "R [fd00::]/8:80-90\n"
          "R udp *:53\n"
          "L api.*:8080\n"
          "R any 192.168.0.1/24:1-65535\n"
          "R [::ffff:10.0.0.1]:443\n"
          "R tcp ::1\n"
          "R [2001:db8::1/64]\n"
          "R Db?.Cluster\n"
          "R unix:/run/x.sock\n"
          "R /run/x.sock\n"
          "R [::1\n"
          "R [::1]x\n"
          "R 1.2.3.4/33\n"
          "R 1.2.3.4/\n"
          "R tcp\n"
          "R  any  *\n"
          "R *:70000\n"
          "R *:90-80\n"
          "R *:80-\n"
          "R a b\n"
          "R name/8\n"
          "R *.clu$ter\n");
    query("tcp", "10.200.1.5", 6379, NULL);
    query("tcp", "10.200.1.5", 6380, NULL);
    query("udp", "10.200.1.5", 6379, NULL);
    query("tcp", "10.201.0.1", 80, "api.cluster");
    query("tcp", "10.201.0.1", 8080, "api.cluster");
    query("tcp", "10.201.0.1", 8080, "API.Cluster");
    query("udp", "8.8.8.8", 53, NULL);
    query("tcp", "fd12::1", 85, NULL);
    query("tcp", "fd12::1", 95, NULL);
    query("tcp", "::ffff:10.200.3.4", 1, NULL);
    query("tcp", "::1", 22, NULL);
    query("tcp", "2001:db8::ffff", 1, NULL);
    query("tcp", "1.1.1.1", 1, "db1.cluster");
    query("tcp", "1.1.1.1", 1, "db12.cluster");
    save(dir, "net-rules");

    put("\1", 1);
    puts0("");
    query("tcp", "127.0.0.1", 80, NULL);
    query("tcp", "127.9.9.9", 80, NULL);
    query("tcp", "0.0.0.0", 80, NULL);
    query("tcp", "10.0.0.1", 80, NULL);
    query("udp", "::", 53, NULL);
    query("udp", "::1", 53, NULL);
    query("udp", "::2", 53, NULL);
    query("tcp", "::ffff:127.0.0.1", 80, NULL);
    save(dir, "net-defaults");

    put("\1", 1);
    puts0("L 10.200.0.0/16\nR 10.200.1.0/24\nL *.local\nR *\n");
    query("tcp", "10.200.1.1", 80, NULL);
    query("tcp", "10.201.1.1", 80, "x.local");
    query("tcp", "127.0.0.1", 80, NULL);
    save(dir, "net-order");
    return 0;
}
