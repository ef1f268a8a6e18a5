/* The configuration hash that tells whether a running target is still current. */
#include "target_int.h"
#include "hash.h"

#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static int hfiles(hash_t *h, const shunt_filelist_t *fl, char *err, size_t errlen)
{
    hint(h, (long long)fl->n);
    for (size_t i = 0; i < fl->n; i++) {
        const shunt_file_spec_t *f = &fl->v[i];
        hstr(h, f->path);
        hint(h, f->mode);
        if (f->content) {
            hbytes(h, f->content, f->content_len);
            continue;
        }
        int fd = open(f->from, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return snprintf(err, errlen, "cannot read %s: %s", f->from,
                            strerror(errno)), -1;
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            hbytes(h, buf, (size_t)n);
        close(fd);
    }
    return 0;
}

static void henv(hash_t *h, const shunt_envlist_t *e)
{
    hint(h, (long long)e->n);
    for (size_t i = 0; i < e->n; i++) {
        hstr(h, e->v[i].key);
        hstr(h, e->v[i].value);
    }
}

int tgt_config_hash(const shunt_target_spec_t *t, const char *init,
                    char out[17], char *err, size_t errlen)
{
    hash_t h = {SHUNT_FNV_OFFSET};
    struct stat st;
    hstr(&h, "shunt-target-v1");
    hstr(&h, init);
    if (stat(init, &st) == 0) { /* a rebuilt init means a new target */
        hint(&h, (long long)st.st_mtim.tv_sec);
        hint(&h, st.st_mtim.tv_nsec);
        hint(&h, (long long)st.st_size);
    }
    hstr(&h, t->name);
    hstr(&h, t->hostname);
    henv(&h, &t->env);
    hint(&h, (long long)t->n_hosts);
    for (size_t i = 0; i < t->n_hosts; i++) {
        hstr(&h, t->hosts[i].ip);
        for (size_t j = 0; j < t->hosts[i].n_names; j++)
            hstr(&h, t->hosts[i].names[j]);
        hstr(&h, "\n");
    }
    if (hfiles(&h, &t->files, err, errlen) < 0)
        return -1;
    hint(&h, (long long)t->n_services);
    for (size_t i = 0; i < t->n_services; i++) {
        const shunt_service_spec_t *s = &t->services[i];
        hstr(&h, s->name);
        for (size_t j = 0; j < s->n_command; j++)
            hstr(&h, s->command[j]);
        hstr(&h, "\n");
        hint(&h, s->port);
        for (size_t j = 0; j < s->n_aliases; j++)
            hstr(&h, s->aliases[j]);
        hstr(&h, "\n");
        if (hfiles(&h, &s->files, err, errlen) < 0)
            return -1;
        henv(&h, &s->env);
    }
    hstr(&h, t->dns_domain);
    for (size_t i = 0; i < t->n_dns_records; i++) {
        hstr(&h, t->dns_records[i].name);
        hstr(&h, t->dns_records[i].ip);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h.h);
    return 0;
}
