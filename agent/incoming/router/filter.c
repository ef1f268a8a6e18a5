/* The HTTP filter: a prefix-order tree of SHUNT_HF_* nodes compiled into
 * regexes, matched against one request (router.h). */
#include "router.h"
#include "shunt/config.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t kind;
    uint16_t nkids;
    int has_re;
    regex_t re;
    char *text;    /* METHOD: the name */
} fnode_t;

struct in_filter {
    size_t n;
    fnode_t *v;
};

static const char *kind_name(unsigned k)
{
    switch (k) {
    case SHUNT_HF_ALL: return "all";
    case SHUNT_HF_ANY: return "any";
    case SHUNT_HF_HEADER: return "header";
    case SHUNT_HF_PATH: return "path";
    case SHUNT_HF_METHOD: return "method";
    }
    return "unknown";
}

/* Checks the subtree at *i (its node count fits the list); advances *i. */
static int check_tree(const shunt_rec_hfilter_t *v, size_t n, size_t *i,
                      unsigned depth, char *err, size_t errlen)
{
    size_t at = *i;
    if (at >= n) {
        snprintf(err, errlen, "filter node %zu: missing (the tree ends early)", at);
        return -1;
    }
    (*i)++;
    if (depth > SHUNT_HF_MAX_NODES) {
        snprintf(err, errlen, "filter node %zu: nested too deep", at);
        return -1;
    }
    unsigned k = v[at].kind;
    if (k == SHUNT_HF_ALL || k == SHUNT_HF_ANY) {
        if (v[at].nkids > n - *i) {
            snprintf(err, errlen, "filter node %zu (%s): %u children, only %zu nodes follow",
                     at, kind_name(k), (unsigned)v[at].nkids, n - *i);
            return -1;
        }
        for (unsigned c = 0; c < v[at].nkids; c++)
            if (check_tree(v, n, i, depth + 1, err, errlen) < 0)
                return -1;
        return 0;
    }
    if (k != SHUNT_HF_HEADER && k != SHUNT_HF_PATH && k != SHUNT_HF_METHOD) {
        snprintf(err, errlen, "filter node %zu: unknown kind %u", at, k);
        return -1;
    }
    if (v[at].nkids != 0) {
        snprintf(err, errlen, "filter node %zu (%s): a leaf with %u children",
                 at, kind_name(k), (unsigned)v[at].nkids);
        return -1;
    }
    if (k == SHUNT_HF_METHOD && v[at].value.len == 0) {
        snprintf(err, errlen, "filter node %zu (method): empty method", at);
        return -1;
    }
    return 0;
}

void in_filter_free(in_filter_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        if (f->v[i].has_re)
            regfree(&f->v[i].re);
        free(f->v[i].text);
    }
    free(f->v);
    free(f);
}

in_filter_t *in_filter_compile(const shunt_rec_hfilter_t *v, size_t n,
                               char *err, size_t errlen)
{
    if (errlen)
        err[0] = 0;
    if (n > SHUNT_HF_MAX_NODES) {
        snprintf(err, errlen, "filter: %zu nodes, at most %d", n, SHUNT_HF_MAX_NODES);
        return NULL;
    }
    if (n > 0) {
        size_t i = 0;
        if (check_tree(v, n, &i, 0, err, errlen) < 0)
            return NULL;
        if (i != n) {
            snprintf(err, errlen, "filter node %zu (%s): after the end of the tree",
                     i, kind_name(v[i].kind));
            return NULL;
        }
    }
    in_filter_t *f = calloc(1, sizeof(*f));
    if (!f || (n && !(f->v = calloc(n, sizeof(*f->v))))) {
        free(f);
        snprintf(err, errlen, "filter: out of memory");
        return NULL;
    }
    f->n = n;
    for (size_t i = 0; i < n; i++) {
        fnode_t *d = &f->v[i];
        d->kind = v[i].kind;
        d->nkids = v[i].nkids;
        d->text = malloc((size_t)v[i].value.len + 1);
        if (!d->text) {
            snprintf(err, errlen, "filter: out of memory");
            in_filter_free(f);
            return NULL;
        }
        if (v[i].value.len)
            memcpy(d->text, v[i].value.p, v[i].value.len);
        d->text[v[i].value.len] = 0;
        if (d->kind == SHUNT_HF_HEADER || d->kind == SHUNT_HF_PATH) {
            char why[512];
            if (shunt_regex_check(d->text, why, sizeof(why)) < 0) {
                snprintf(err, errlen, "filter node %zu (%s): %s", i, kind_name(d->kind), why);
                in_filter_free(f);
                return NULL;
            }
            int flags = REG_EXTENDED | REG_NOSUB | (d->kind == SHUNT_HF_HEADER ? REG_ICASE : 0);
            int rc = regcomp(&d->re, d->text, flags);
            if (rc != 0) {
                char msg[128];
                regerror(rc, &d->re, msg, sizeof(msg));
                snprintf(err, errlen, "filter node %zu (%s \"%s\"): %s", i,
                         kind_name(d->kind), d->text, msg);
                in_filter_free(f);
                return NULL;
            }
            d->has_re = 1;
        }
    }
    return f;
}

/* Matches the subtree at *i and advances *i past it. */
static int match_at(const in_filter_t *f, size_t *i, const in_request_t *rq)
{
    const fnode_t *d = &f->v[(*i)++];
    switch (d->kind) {
    case SHUNT_HF_ALL:
    case SHUNT_HF_ANY: {
        int all = d->kind == SHUNT_HF_ALL, res = all;
        for (unsigned c = 0; c < d->nkids; c++) {
            int m = match_at(f, i, rq);
            if (all && !m)
                res = 0;
            if (!all && m)
                res = 1;
        }
        return res;
    }
    case SHUNT_HF_HEADER:
        for (size_t h = 0; h < rq->nheaders; h++)
            if (regexec(&d->re, rq->headers[h], 0, NULL, 0) == 0)
                return 1;
        return 0;
    case SHUNT_HF_PATH:
        return rq->path && regexec(&d->re, rq->path, 0, NULL, 0) == 0;
    case SHUNT_HF_METHOD:
        return rq->method && strcmp(rq->method, d->text) == 0;
    }
    return 0;
}

int in_filter_match(const in_filter_t *f, const in_request_t *rq)
{
    if (!f || f->n == 0)
        return 1;
    size_t i = 0;
    return match_at(f, &i, rq);
}
