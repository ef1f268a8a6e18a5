/* The configuration hash that tells whether a running target is still current. */
#include "target_int.h"
#include "shunt/hash.h"

#include "shunt/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static int hfd(hash_t *h, int fd)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        hbytes(h, buf, (size_t)n);
    return n < 0 ? -1 : 0;
}

/* A from: directory: every entry's name, kind, mode and content or link
 * text, sorted by name. */
static int htree(hash_t *h, int dfd, int depth)
{
    struct dirent **ents = NULL;
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", dfd);
    int n = depth > 64 ? -1 : scandir(self, &ents, NULL, alphasort);
    if (n < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        struct stat st;
        if (rc || strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 ||
            fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            free(ents[i]);
            continue;
        }
        hstr(h, nm);
        hint(h, (long long)st.st_mode);
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
            int fd = openat(dfd, nm, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                rc = -1;
            else
                rc = S_ISREG(st.st_mode) ? hfd(h, fd) : htree(h, fd, depth + 1);
            if (fd >= 0)
                close(fd);
        } else if (S_ISLNK(st.st_mode)) {
            char t[PATH_MAX];
            ssize_t l = readlinkat(dfd, nm, t, sizeof(t));
            if (l >= 0)
                hbytes(h, t, (size_t)l);
        }
        free(ents[i]);
    }
    free(ents);
    return rc;
}

static int hfiles(hash_t *h, const shunt_filelist_t *fl, char *err, size_t errlen)
{
    hint(h, (long long)fl->n);
    for (size_t i = 0; i < fl->n; i++) {
        const shunt_file_spec_t *f = &fl->v[i];
        hstr(h, f->path);
        hint(h, f->kind);
        hint(h, f->mode);
        hint(h, f->mode_set);
        hint(h, f->uid);
        hint(h, f->gid);
        if (f->target)
            hstr(h, f->target);
        if (f->content) {
            hbytes(h, f->content, f->content_len);
            continue;
        }
        if (!f->from)
            continue;
        int fd = open(f->from, O_RDONLY | O_CLOEXEC);
        int rc = fd < 0 ? -1 : f->kind == SHUNT_FILE_TREE ? htree(h, fd, 0) : hfd(h, fd);
        if (fd >= 0)
            close(fd);
        if (rc < 0)
            return snprintf(err, errlen, "cannot read %s: %s", f->from,
                            strerror(errno)), -1;
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
    hint(&h, (long long)t->n_etc_drop);
    for (size_t i = 0; i < t->n_etc_drop; i++)
        hstr(&h, t->etc_drop[i]);
    hint(&h, (long long)t->n_etc_add);
    for (size_t i = 0; i < t->n_etc_add; i++)
        hstr(&h, t->etc_add[i]);
    hint(&h, (long long)t->n_setup);
    for (size_t i = 0; i < t->n_setup; i++) {
        for (size_t j = 0; t->setup[i][j]; j++)
            hstr(&h, t->setup[i][j]);
        hstr(&h, "\n");
    }
    hint(&h, (long long)t->n_daemons);
    for (size_t i = 0; i < t->n_daemons; i++) {
        for (size_t j = 0; j < t->daemons[i].n_command; j++)
            hstr(&h, t->daemons[i].command[j]);
        hstr(&h, "\n");
        hint(&h, t->daemons[i].port);
        henv(&h, &t->daemons[i].env);
    }
    hstr(&h, t->dns_domain);
    for (size_t i = 0; i < t->n_dns_records; i++) {
        hstr(&h, t->dns_records[i].name);
        hstr(&h, t->dns_records[i].ip);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h.h);
    return 0;
}
