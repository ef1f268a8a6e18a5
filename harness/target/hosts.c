/* /etc/hosts, resolv.conf and the cluster DNS hosts file of a target. */
#include "target_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void append_hosts_line(char **buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append_hosts_line(char **buf, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = NULL;
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *nb = realloc(*buf, *len + (size_t)n + 1);
    if (nb) {
        memcpy(nb + *len, line, (size_t)n + 1);
        *buf = nb;
        *len += (size_t)n;
    }
    free(line);
}

/* Cluster names: the target and every service with its aliases. */
static void cluster_lines(const shunt_target_spec_t *t, const state_t *st,
                          char **buf, size_t *len)
{
    for (size_t i = 0; i < st->n_ctr; i++) {
        const ctr_state_t *c = &st->ctr[i];
        if (strcmp(c->role, "target") == 0) {
            append_hosts_line(buf, len, "%s\t%s %s.%s\n", c->ip, t->hostname,
                              t->hostname, t->dns_domain);
        } else if (strcmp(c->role, "service") == 0) {
            const shunt_service_spec_t *s = NULL;
            for (size_t k = 0; k < t->n_services; k++)
                if (strcmp(t->services[k].name, c->svc) == 0)
                    s = &t->services[k];
            if (!s)
                continue;
            append_hosts_line(buf, len, "%s\t%s %s.%s", c->ip, s->name, s->name,
                              t->dns_domain);
            for (size_t a = 0; a < s->n_aliases; a++)
                append_hosts_line(buf, len, " %s", s->aliases[a]);
            append_hosts_line(buf, len, "\n");
        }
    }
}

/* Fills out; -1 when out of memory (tgt_etc_texts_free frees what was built). */
int tgt_etc_texts(const shunt_target_spec_t *t, const state_t *st, int has_dns,
                  etc_texts_t *out)
{
    char *hosts = NULL, *chosts = NULL, *resolv = NULL;
    size_t hl = 0, cl = 0, rl = 0;
    append_hosts_line(&hosts, &hl,
                      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                      "ip6-loopback\n# cluster (shunt)\n");
    cluster_lines(t, st, &hosts, &hl);
    append_hosts_line(&chosts, &cl, "# served by the cluster dnsmasq\n");
    cluster_lines(t, st, &chosts, &cl);
    for (size_t i = 0; i < t->n_dns_records; i++)
        append_hosts_line(&chosts, &cl, "%s\t%s\n", t->dns_records[i].ip,
                          t->dns_records[i].name);
    if (has_dns)
        append_hosts_line(&resolv, &rl,
                          "nameserver 10.200.%d.3\nsearch %s\noptions timeout:1 "
                          "attempts:2\n",
                          st->subnet, t->dns_domain);
    else
        append_hosts_line(&resolv, &rl,
                          "# no cluster DNS: this target has no services, and the "
                          "host's resolvers are never used\noptions timeout:1 "
                          "attempts:1\n");
    char *thosts = NULL;
    size_t tl = 0;
    append_hosts_line(&thosts, &tl, "%s# target.hosts\n", hosts ? hosts : "");
    for (size_t i = 0; i < t->n_hosts; i++) {
        append_hosts_line(&thosts, &tl, "%s\t", t->hosts[i].ip);
        for (size_t k = 0; k < t->hosts[i].n_names; k++)
            append_hosts_line(&thosts, &tl, "%s%s", k ? " " : "", t->hosts[i].names[k]);
        append_hosts_line(&thosts, &tl, "\n");
    }
    *out = (etc_texts_t){.hosts = hosts, .thosts = thosts, .resolv = resolv,
                         .chosts = chosts};
    return (!hosts || !chosts || !resolv || !thosts) ? -1 : 0;
}

void tgt_etc_texts_free(etc_texts_t *e)
{
    free(e->hosts);
    free(e->thosts);
    free(e->resolv);
    free(e->chosts);
}
