/* /etc/hosts, resolv.conf and the cluster DNS hosts file of a target. */
#include "target_int.h"

#include "shunt/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cluster names: the target and every service with its aliases. */
static void cluster_lines(const shunt_target_spec_t *t, const state_t *st,
                          shunt_buf_t *b)
{
    for (size_t i = 0; i < st->n_ctr; i++) {
        const ctr_state_t *c = &st->ctr[i];
        if (strcmp(c->role, "target") == 0) {
            shunt_buf_printf(b, "%s\t%s %s.%s\n", c->ip, t->hostname,
                              t->hostname, t->dns_domain);
        } else if (strcmp(c->role, "service") == 0) {
            const shunt_service_spec_t *s = NULL;
            for (size_t k = 0; k < t->n_services; k++)
                if (strcmp(t->services[k].name, c->svc) == 0)
                    s = &t->services[k];
            if (!s)
                continue;
            shunt_buf_printf(b, "%s\t%s %s.%s", c->ip, s->name, s->name,
                              t->dns_domain);
            for (size_t a = 0; a < s->n_aliases; a++)
                shunt_buf_printf(b, " %s", s->aliases[a]);
            shunt_buf_printf(b, "\n");
        }
    }
}

/* Fills out; -1 when out of memory (tgt_etc_texts_free frees what was built). */
int tgt_etc_texts(const shunt_target_spec_t *t, const state_t *st, int has_dns,
                  etc_texts_t *out)
{
    shunt_buf_t hosts = {0}, chosts = {0}, resolv = {0}, thosts = {0};
    shunt_buf_printf(&hosts,
                      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                      "ip6-loopback\n# cluster (shunt)\n");
    cluster_lines(t, st, &hosts);
    shunt_buf_printf(&chosts, "# served by the cluster dnsmasq\n");
    cluster_lines(t, st, &chosts);
    for (size_t i = 0; i < t->n_dns_records; i++)
        shunt_buf_printf(&chosts, "%s\t%s\n", t->dns_records[i].ip,
                          t->dns_records[i].name);
    if (has_dns)
        shunt_buf_printf(&resolv,
                          "nameserver 10.200.%d.3\nsearch %s\noptions timeout:1 "
                          "attempts:2\n",
                          st->subnet, t->dns_domain);
    else
        shunt_buf_printf(&resolv,
                          "# no cluster DNS: this target has no services, and the "
                          "host's resolvers are never used\noptions timeout:1 "
                          "attempts:1\n");
    shunt_buf_printf(&thosts, "%s# target.hosts\n", hosts.p ? hosts.p : "");
    for (size_t i = 0; i < t->n_hosts; i++) {
        shunt_buf_printf(&thosts, "%s\t", t->hosts[i].ip);
        for (size_t k = 0; k < t->hosts[i].n_names; k++)
            shunt_buf_printf(&thosts, "%s%s", k ? " " : "", t->hosts[i].names[k]);
        shunt_buf_printf(&thosts, "\n");
    }
    *out = (etc_texts_t){.hosts = shunt_buf_take(&hosts),
                         .thosts = shunt_buf_take(&thosts),
                         .resolv = shunt_buf_take(&resolv),
                         .chosts = shunt_buf_take(&chosts)};
    return (!out->hosts || !out->chosts || !out->resolv || !out->thosts) ? -1 : 0;
}

void tgt_etc_texts_free(etc_texts_t *e)
{
    free(e->hosts);
    free(e->thosts);
    free(e->resolv);
    free(e->chosts);
}
