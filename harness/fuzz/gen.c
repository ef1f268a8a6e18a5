/* The generator: sequences of interpreter calls (FUZZ format, docs/fuzzing.md)
 * drawn by family weight over a pool of paths made from the fuzz tree.
 *
 * Write calls (mkdir, unlink, rename, an open that creates or writes...)
 * only name paths the sequence's policy puts in write mode: in read mode a
 * write stays on this host by design, so the target is no oracle for it.
 * They name paths absolutely, or relative to a directory fd whose path the
 * generator knows, so that the mode is known without knowing the cwd. */
#include "shunt/fuzz.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shunt/buf.h"
#include "shunt/config.h"
#include "shunt/path.h"
#include "shunt/policy.h"

#define FSLOTS 15 /* f0..f14; f15 is never filled (the minimiser's) */
#define DSLOTS 7  /* d0..d6; d7 likewise */

typedef struct {
    char *path;
    int kind;     /* SHUNT_FILE_*, or -1: not in the tree */
} pentry_t;

typedef struct {
    shunt_config_t cfg;
    shunt_policy_t pol;
    size_t *wr;   /* indexes into the pool of write-mode absolute paths */
    size_t n_wr;
} gpol_t;

struct shunt_fz_gen {
    const shunt_fuzzspec_t *f;
    pentry_t *pool;
    size_t n_pool, cap_pool;
    gpol_t *pols;
    char **addrs;
    size_t n_addrs;
};

uint64_t shunt_fz_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t pick(uint64_t *r, size_t n)
{
    return n ? (size_t)(shunt_fz_rand(r) % n) : 0;
}

static int chance(uint64_t *r, unsigned pct)
{
    return shunt_fz_rand(r) % 100 < pct;
}

int shunt_fz_lines_push(shunt_fz_lines_t *l, const char *s)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, nc * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(s)))
        return -1;
    l->n++;
    return 0;
}

void shunt_fz_lines_free(shunt_fz_lines_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

int shunt_fz_lines_copy(shunt_fz_lines_t *dst, const shunt_fz_lines_t *src)
{
    memset(dst, 0, sizeof(*dst));
    for (size_t i = 0; i < src->n; i++)
        if (shunt_fz_lines_push(dst, src->v[i]) < 0)
            return -1;
    return 0;
}

static int pool_add(shunt_fz_gen_t *g, const char *path, int kind)
{
    for (size_t i = 0; i < g->n_pool; i++)
        if (strcmp(g->pool[i].path, path) == 0)
            return 0;
    if (g->n_pool == g->cap_pool) {
        size_t nc = g->cap_pool ? g->cap_pool * 2 : 64;
        pentry_t *v = realloc(g->pool, nc * sizeof(*v));
        if (!v)
            return -1;
        g->pool = v;
        g->cap_pool = nc;
    }
    if (!(g->pool[g->n_pool].path = strdup(path)))
        return -1;
    g->pool[g->n_pool++].kind = kind;
    return 0;
}

/* path + suffix */
static int pool_addf(shunt_fz_gen_t *g, int kind, const char *path, const char *suffix)
{
    char p[PATH_MAX];
    int n = snprintf(p, sizeof(p), "%s%s", path, suffix);
    if (n < 0 || (size_t)n >= sizeof(p))
        return 0;
    return pool_add(g, p, kind);
}

/* Every tree path; for directories new names, ".", "..", a trailing '/';
 * through links "/x"; the parents of the tree's tops; a path that climbs
 * out with "..". */
static int build_pool(shunt_fz_gen_t *g)
{
    const shunt_filelist_t *t = &g->f->tree;
    int rc = 0;
    for (size_t i = 0; i < t->n; i++) {
        const shunt_file_spec_t *e = &t->v[i];
        rc |= pool_add(g, e->path, (int)e->kind);
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", e->path);
        char *sl = strrchr(parent, '/');
        if (sl && sl != parent) {
            *sl = 0;
            rc |= pool_add(g, parent, -1);
        }
        if (e->kind == SHUNT_FILE_DIR || e->kind == SHUNT_FILE_TREE) {
            rc |= pool_addf(g, -1, e->path, "/new0");
            rc |= pool_addf(g, -1, e->path, "/new1");
            rc |= pool_addf(g, -1, e->path, "/.");
            rc |= pool_addf(g, -1, e->path, "/..");
            rc |= pool_addf(g, -1, e->path, "/");
            rc |= pool_addf(g, -1, e->path, "/../../..");
        } else if (e->kind == SHUNT_FILE_SYMLINK) {
            rc |= pool_addf(g, -1, e->path, "/x");
            rc |= pool_addf(g, -1, e->path, "/");
        } else {
            rc |= pool_addf(g, -1, e->path, "/");
            rc |= pool_addf(g, -1, e->path, ".new");
        }
    }
    return rc ? -1 : 0;
}

/* A write may only name a path strictly under a directory at the top of
 * the tree: what it creates there goes when the tree is rebuilt (a sibling
 * of a top file would outlive it, and the next sequence would see it). */
static int under_top_dir(const shunt_fuzzspec_t *f, const char *path)
{
    char norm[PATH_MAX];
    if (shunt_path_normalize("/", path, norm, sizeof(norm)) < 0)
        return 0;
    for (size_t i = 0; i < f->tree.n; i++) {
        const shunt_file_spec_t *e = &f->tree.v[i];
        size_t l = strlen(e->path);
        if (e->kind == SHUNT_FILE_DIR && shunt_fz_is_top(f, i) &&
            strncmp(norm, e->path, l) == 0 && norm[l] == '/' &&
            strncmp(path, e->path, l) == 0 && path[l] == '/')
            return 1;
    }
    return 0;
}

shunt_fz_gen_t *shunt_fz_gen_new(const shunt_fuzzspec_t *f, char **addrs,
                                 size_t n_addrs, char *err, size_t errlen)
{
    shunt_fz_gen_t *g = calloc(1, sizeof(*g));
    if (!g || !(g->pols = calloc(f->n_policies ? f->n_policies : 1, sizeof(gpol_t)))) {
        free(g);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->f = f;
    g->addrs = addrs;
    g->n_addrs = n_addrs;
    for (size_t i = 0; i < f->n_policies; i++) {
        gpol_t *p = &g->pols[i];
        shunt_config_init(&p->cfg);
        const char *txt = f->policies[i].rendered ? f->policies[i].rendered : "";
        char why[256] = "";
        if (shunt_config_parse(&p->cfg, txt, strlen(txt), why, sizeof(why)) > 0) {
            snprintf(err, errlen, "fuzz.layer[%zu]: %s", i, why);
            shunt_fz_gen_free(g);
            return NULL;
        }
        shunt_policy_init(&p->pol, &p->cfg);
        if (shunt_policy_add_defaults(&p->pol) < 0) {
            snprintf(err, errlen, "out of memory");
            shunt_fz_gen_free(g);
            return NULL;
        }
    }
    if (build_pool(g) < 0) {
        snprintf(err, errlen, "out of memory");
        shunt_fz_gen_free(g);
        return NULL;
    }
    for (size_t i = 0; i < f->n_policies; i++) {
        gpol_t *p = &g->pols[i];
        if (!(p->wr = calloc(g->n_pool + 1, sizeof(size_t)))) {
            snprintf(err, errlen, "out of memory");
            shunt_fz_gen_free(g);
            return NULL;
        }
        for (size_t k = 0; k < g->n_pool; k++)
            if (under_top_dir(f, g->pool[k].path) &&
                shunt_fz_gen_mode(g, i, g->pool[k].path) == SHUNT_MODE_WRITE)
                p->wr[p->n_wr++] = k;
    }
    return g;
}

void shunt_fz_gen_free(shunt_fz_gen_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->f->n_policies; i++) {
        shunt_policy_free(&g->pols[i].pol);
        shunt_config_free(&g->pols[i].cfg);
        free(g->pols[i].wr);
    }
    free(g->pols);
    for (size_t i = 0; i < g->n_pool; i++)
        free(g->pool[i].path);
    free(g->pool);
    free(g);
}

int shunt_fz_gen_mode(const shunt_fz_gen_t *g, size_t pi, const char *path)
{
    char norm[PATH_MAX];
    if (shunt_path_normalize("/", path, norm, sizeof(norm)) < 0)
        return SHUNT_MODE_READ;
    return shunt_policy_mode(&g->pols[pi].pol, norm);
}

/* ---- one sequence ---------------------------------------------------- */

typedef struct {
    shunt_fz_gen_t *g;
    size_t pi;
    uint64_t r;
    int nf, nd;                 /* slots filled so far */
    char fpath[FSLOTS][PATH_MAX]; /* what an f slot was opened on ("" unknown) */
    shunt_buf_t b;
} seqgen_t;

void shunt_fz_put_enc(shunt_buf_t *b, const char *s, size_t n)
{
    if (!n) {
        shunt_buf_puts(b, "%");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '/' || c == '.' || c == '_' || c == '-')
            shunt_buf_put(b, s + i, 1);
        else
            shunt_buf_printf(b, "%%%02X", c);
    }
}

static void put_enc(shunt_buf_t *b, const char *s)
{
    shunt_fz_put_enc(b, s, strlen(s));
}

static const pentry_t *any_path(seqgen_t *s)
{
    return &s->g->pool[pick(&s->r, s->g->n_pool)];
}

/* A path for a read: absolute mostly, sometimes relative (to whatever
 * the cwd is), with "./" or "x/../" mixed in. */
static void put_read_path(seqgen_t *s, const pentry_t **pe)
{
    const pentry_t *p = any_path(s);
    if (pe)
        *pe = p;
    unsigned k = (unsigned)(shunt_fz_rand(&s->r) % 100);
    const char *sl = strrchr(p->path, '/');
    if (k < 12) {
        put_enc(&s->b, sl && sl[1] ? sl + 1 : p->path);
    } else if (k < 20 && sl && sl != p->path) {
        /* DIR/./NAME or DIR/zz/../NAME */
        shunt_fz_put_enc(&s->b, p->path, (size_t)(sl - p->path));
        shunt_buf_puts(&s->b, k < 17 ? "/./" : "/zz/../");
        put_enc(&s->b, sl + 1);
    } else if (k == 20) {
        put_enc(&s->b, "");
    } else {
        put_enc(&s->b, p->path);
    }
}

/* A write-mode absolute path, or NULL when the policy has none. */
static const pentry_t *write_path(seqgen_t *s)
{
    gpol_t *gp = &s->g->pols[s->pi];
    if (!gp->n_wr)
        return NULL;
    return &s->g->pool[gp->wr[pick(&s->r, gp->n_wr)]];
}

static int fslot(seqgen_t *s)
{
    /* mostly a filled slot; sometimes one never filled (EBADF) */
    if (!s->nf || chance(&s->r, 5))
        return (int)pick(&s->r, FSLOTS);
    return (int)pick(&s->r, (size_t)s->nf);
}

static int dslot(seqgen_t *s)
{
    if (!s->nd || chance(&s->r, 5))
        return (int)pick(&s->r, DSLOTS);
    return (int)pick(&s->r, (size_t)s->nd);
}

/* A directory fd for an *at call: cwd, or a slot. */
static void put_dirarg(seqgen_t *s, int *slot)
{
    *slot = -1;
    if (!s->nf || chance(&s->r, 40)) {
        shunt_buf_puts(&s->b, "cwd");
        return;
    }
    *slot = fslot(s);
    shunt_buf_printf(&s->b, "f%d", *slot);
}

static void filled_f(seqgen_t *s, const char *path)
{
    if (s->nf < FSLOTS) {
        snprintf(s->fpath[s->nf], sizeof(s->fpath[0]), "%s", path ? path : "");
        s->nf++;
    }
}

static const char *const rd_extra[] = {"DIRECTORY", "NOFOLLOW", "CLOEXEC", "PATH",
                                       "NONBLOCK", "NOCTTY"};
static const char *const wr_extra[] = {"CREAT", "EXCL", "TRUNC", "APPEND", "CREAT|EXCL",
                                       "CREAT|TRUNC", "NOFOLLOW", "DIRECTORY"};

static void put_oflags(seqgen_t *s, int writable, int fifo)
{
    const char *acc = "RDONLY";
    if (writable) {
        static const char *const a[] = {"RDONLY", "WRONLY", "RDWR"};
        acc = a[pick(&s->r, 3)];
    }
    shunt_buf_puts(&s->b, acc);
    if (writable && chance(&s->r, 60))
        shunt_buf_printf(&s->b, "|%s", wr_extra[pick(&s->r, 8)]);
    if (chance(&s->r, 30))
        shunt_buf_printf(&s->b, "|%s", rd_extra[pick(&s->r, 6)]);
    if (fifo)
        shunt_buf_puts(&s->b, "|NONBLOCK");
}

static int is_fifoish(const pentry_t *p)
{
    return p && (p->kind == SHUNT_FILE_FIFO || p->kind == SHUNT_FILE_SYMLINK);
}

static int gen_open(seqgen_t *s)
{
    if (s->nf >= FSLOTS)
        return -1;
    const pentry_t *wp = chance(&s->r, 35) ? write_path(s) : NULL;
    if (wp) {
        shunt_buf_puts(&s->b, "open ");
        put_enc(&s->b, wp->path);
        shunt_buf_puts(&s->b, " ");
        put_oflags(s, 1, is_fifoish(wp));
        shunt_buf_printf(&s->b, " %s", chance(&s->r, 80) ? "0644" : "0600");
        filled_f(s, wp->path);
        return 0;
    }
    const pentry_t *p = NULL;
    if (chance(&s->r, 25)) {
        int slot;
        shunt_buf_puts(&s->b, "openat ");
        put_dirarg(s, &slot);
        shunt_buf_puts(&s->b, " ");
        if (slot >= 0 && slot < s->nf && s->fpath[slot][0] && chance(&s->r, 70)) {
            /* a name in that directory */
            const pentry_t *c = any_path(s);
            const char *base = strrchr(c->path, '/');
            put_enc(&s->b, base && base[1] ? base + 1 : c->path);
            p = c;
        } else
            put_read_path(s, &p);
    } else {
        shunt_buf_puts(&s->b, "open ");
        put_read_path(s, &p);
    }
    shunt_buf_puts(&s->b, " ");
    put_oflags(s, 0, is_fifoish(p));
    shunt_buf_puts(&s->b, " 0");
    filled_f(s, p && strncmp(s->b.p, "open ", 5) == 0 ? p->path : NULL);
    return 0;
}

static const char *const counts[] = {"0", "1", "7", "100", "4096", "65536"};
static const char *const offs[] = {"0", "1", "5", "100", "4096", "1048576", "-1"};

static int gen_read(seqgen_t *s)
{
    int k = (int)pick(&s->r, 4);
    int f = fslot(s);
    if (k == 0 || k == 1)
        shunt_buf_printf(&s->b, "read f%d %s", f, counts[pick(&s->r, 6)]);
    else if (k == 2)
        shunt_buf_printf(&s->b, "pread f%d %s %s", f, counts[pick(&s->r, 6)],
                         offs[pick(&s->r, 6)]);
    else {
        static const char *const wh[] = {"SET", "CUR", "END", "DATA", "HOLE"};
        shunt_buf_printf(&s->b, "lseek f%d %s %s", f, offs[pick(&s->r, 7)], wh[pick(&s->r, 5)]);
    }
    return 0;
}

static int gen_stat(seqgen_t *s)
{
    static const char *const fl[] = {"0", "NOFOLLOW", "EMPTY_PATH", "NOFOLLOW|EMPTY_PATH"};
    int slot;
    switch (pick(&s->r, 5)) {
    case 0: shunt_buf_puts(&s->b, "stat "); put_read_path(s, NULL); break;
    case 1: shunt_buf_puts(&s->b, "lstat "); put_read_path(s, NULL); break;
    case 2: shunt_buf_printf(&s->b, "fstat f%d", fslot(s)); break;
    default:
        /* fstatat or statx: a directory fd and a path, or the fd alone */
        shunt_buf_puts(&s->b, chance(&s->r, 50) ? "fstatat " : "statx ");
        put_dirarg(s, &slot);
        shunt_buf_puts(&s->b, " ");
        if (slot >= 0 && chance(&s->r, 30))
            put_enc(&s->b, "");
        else
            put_read_path(s, NULL);
        shunt_buf_printf(&s->b, " %s", fl[pick(&s->r, 4)]);
    }
    return 0;
}

static int gen_dir(seqgen_t *s)
{
    unsigned k = (unsigned)pick(&s->r, 10);
    if (k < 3 && s->nd < DSLOTS) {
        shunt_buf_puts(&s->b, "opendir ");
        put_read_path(s, NULL);
        s->nd++;
    } else if (k == 3 && s->nd < DSLOTS) {
        shunt_buf_printf(&s->b, "fdopendir f%d", fslot(s));
        s->nd++;
    } else if (k < 7) {
        shunt_buf_printf(&s->b, "readdir d%d", dslot(s));
    } else if (k == 7) {
        shunt_buf_printf(&s->b, "rewinddir d%d", dslot(s));
    } else if (k == 8 && s->nf < FSLOTS) {
        shunt_buf_printf(&s->b, "dirfd d%d", dslot(s));
        filled_f(s, NULL);
    } else {
        shunt_buf_printf(&s->b, "closedir d%d", dslot(s));
    }
    return 0;
}

static int gen_readlink(seqgen_t *s)
{
    static const char *const sz[] = {"1", "5", "4096"};
    if (chance(&s->r, 70)) {
        shunt_buf_puts(&s->b, "readlink ");
        put_read_path(s, NULL);
    } else {
        int slot;
        shunt_buf_puts(&s->b, "readlinkat ");
        put_dirarg(s, &slot);
        shunt_buf_puts(&s->b, " ");
        put_read_path(s, NULL);
    }
    shunt_buf_printf(&s->b, " %s", sz[pick(&s->r, 3)]);
    return 0;
}

static int gen_access(seqgen_t *s)
{
    static const char *const am[] = {"F", "R", "W", "X", "R|W", "R|X"};
    if (chance(&s->r, 70)) {
        shunt_buf_puts(&s->b, "access ");
        put_read_path(s, NULL);
        shunt_buf_printf(&s->b, " %s", am[pick(&s->r, 6)]);
    } else {
        int slot;
        shunt_buf_puts(&s->b, "faccessat ");
        put_dirarg(s, &slot);
        shunt_buf_puts(&s->b, " ");
        put_read_path(s, NULL);
        shunt_buf_printf(&s->b, " %s %s", am[pick(&s->r, 6)],
                         chance(&s->r, 20) ? "NOFOLLOW" : "0");
    }
    return 0;
}

static int gen_write(seqgen_t *s)
{
    const pentry_t *a = write_path(s), *b = write_path(s);
    if (!a)
        return -1;
    static const char *const modes[] = {"0755", "0700", "0644", "0555"};
    switch (pick(&s->r, 12)) {
    case 0: shunt_buf_puts(&s->b, "mkdir "); put_enc(&s->b, a->path);
        shunt_buf_printf(&s->b, " %s", modes[pick(&s->r, 2)]); break;
    case 1: shunt_buf_puts(&s->b, "rmdir "); put_enc(&s->b, a->path); break;
    case 2: shunt_buf_puts(&s->b, "unlink "); put_enc(&s->b, a->path); break;
    case 3: shunt_buf_puts(&s->b, "unlinkat cwd "); put_enc(&s->b, a->path);
        shunt_buf_printf(&s->b, " %s", chance(&s->r, 50) ? "REMOVEDIR" : "0"); break;
    case 4: shunt_buf_puts(&s->b, "rename "); put_enc(&s->b, a->path);
        shunt_buf_puts(&s->b, " "); put_enc(&s->b, b->path); break;
    case 5: shunt_buf_puts(&s->b, "renameat cwd "); put_enc(&s->b, a->path);
        shunt_buf_puts(&s->b, " cwd "); put_enc(&s->b, b->path); break;
    case 6: shunt_buf_puts(&s->b, "truncate "); put_enc(&s->b, a->path);
        shunt_buf_printf(&s->b, " %s", offs[pick(&s->r, 5)]); break;
    case 7: shunt_buf_puts(&s->b, "chmod "); put_enc(&s->b, a->path);
        shunt_buf_printf(&s->b, " %s", modes[pick(&s->r, 4)]); break;
    case 8: {
        static const char *const txt[] = {"new0", "../x", "/fuzz-nowhere", "loop"};
        shunt_buf_printf(&s->b, "symlink %s ", txt[pick(&s->r, 4)]);
        put_enc(&s->b, a->path);
        break;
    }
    case 9: shunt_buf_puts(&s->b, "link "); put_enc(&s->b, a->path);
        shunt_buf_puts(&s->b, " "); put_enc(&s->b, b->path); break;
    case 10: shunt_buf_printf(&s->b, "write f%d %s", fslot(s), counts[pick(&s->r, 5)]); break;
    default: shunt_buf_printf(&s->b, "ftruncate f%d %s", fslot(s), offs[pick(&s->r, 5)]); break;
    }
    return 0;
}

static int gen_cwd(seqgen_t *s)
{
    switch (pick(&s->r, 4)) {
    case 0:
    case 1: shunt_buf_puts(&s->b, "chdir "); put_read_path(s, NULL); break;
    case 2: shunt_buf_printf(&s->b, "fchdir f%d", fslot(s)); break;
    default: shunt_buf_printf(&s->b, "getcwd %s", chance(&s->r, 85) ? "4096" : "5"); break;
    }
    return 0;
}

static int gen_fd(seqgen_t *s)
{
    static const char *const cmds[] = {"GETFL", "GETFD", "DUPFD", "SETFD_CLOEXEC"};
    unsigned k = (unsigned)pick(&s->r, 4);
    if (k == 0 && s->nf < FSLOTS) {
        int src = fslot(s);
        shunt_buf_printf(&s->b, "dup f%d", src);
        filled_f(s, src < s->nf ? s->fpath[src] : NULL);
    } else if (k == 1 && s->nf < FSLOTS) {
        int src = fslot(s);
        shunt_buf_printf(&s->b, "dup2 f%d", src);
        filled_f(s, src < s->nf ? s->fpath[src] : NULL);
    } else if (k == 2) {
        int c = (int)pick(&s->r, 4);
        if (c == 2 && s->nf >= FSLOTS)
            c = 0;
        int src = fslot(s);
        shunt_buf_printf(&s->b, "fcntl f%d %s", src, cmds[c]);
        if (c == 2)
            filled_f(s, src < s->nf ? s->fpath[src] : NULL);
    } else {
        shunt_buf_printf(&s->b, "close f%d", fslot(s));
    }
    return 0;
}

static int gen_net(seqgen_t *s)
{
    const shunt_fuzzspec_t *f = s->g->f;
    if (!f->n_names)
        return -1;
    const char *name = f->names[pick(&s->r, f->n_names)];
    int port = f->n_ports ? f->ports[pick(&s->r, f->n_ports)] : 80;
    unsigned k = (unsigned)pick(&s->r, 3);
    if (k == 0) {
        shunt_buf_puts(&s->b, "getaddrinfo ");
        put_enc(&s->b, name);
    } else if (k == 1 || !s->g->n_addrs) {
        shunt_buf_puts(&s->b, "connect ");
        put_enc(&s->b, name);
        shunt_buf_printf(&s->b, " %d", port);
    } else {
        shunt_buf_printf(&s->b, "connect %s %d", s->g->addrs[pick(&s->r, s->g->n_addrs)], port);
    }
    return 0;
}

typedef int (*genfn_t)(seqgen_t *);

static int gen_family(seqgen_t *s, int fam)
{
    static const genfn_t fns[SHUNT_FZ_NFAMILIES] = {
        [SHUNT_FZ_OPEN] = gen_open,     [SHUNT_FZ_READ] = gen_read,
        [SHUNT_FZ_STAT] = gen_stat,     [SHUNT_FZ_DIR] = gen_dir,
        [SHUNT_FZ_READLINK] = gen_readlink, [SHUNT_FZ_ACCESS] = gen_access,
        [SHUNT_FZ_WRITE] = gen_write,   [SHUNT_FZ_CWD] = gen_cwd,
        [SHUNT_FZ_FD] = gen_fd,         [SHUNT_FZ_NET] = gen_net,
    };
    if (fam == SHUNT_FZ_FORK) {
        /* a call of another family in a child: its slots stay the child's */
        static const int inner[] = {SHUNT_FZ_READ, SHUNT_FZ_STAT, SHUNT_FZ_ACCESS,
                                    SHUNT_FZ_READLINK, SHUNT_FZ_CWD, SHUNT_FZ_FD};
        seqgen_t save = *s;
        shunt_buf_puts(&s->b, "fork ");
        int rc = fns[inner[pick(&s->r, 6)]](s);
        s->nf = save.nf;
        s->nd = save.nd;
        return rc;
    }
    return fns[fam] ? fns[fam](s) : -1;
}

static int pick_family(seqgen_t *s)
{
    const unsigned *w = s->g->f->weights;
    unsigned total = 0;
    for (int i = 0; i < SHUNT_FZ_NFAMILIES; i++)
        total += w[i];
    if (!total)
        return SHUNT_FZ_STAT;
    unsigned x = (unsigned)(shunt_fz_rand(&s->r) % total);
    for (int i = 0; i < SHUNT_FZ_NFAMILIES; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return SHUNT_FZ_STAT;
}

int shunt_fz_gen_seq(shunt_fz_gen_t *g, size_t pi, uint64_t seed, shunt_fz_lines_t *out)
{
    seqgen_t s = {.g = g, .pi = pi, .r = seed};
    memset(out, 0, sizeof(*out));
    int len = g->f->length > 0 ? g->f->length : 20;
    for (int i = 0, tries = 0; i < len && tries < len * 20; tries++) {
        memset(&s.b, 0, sizeof(s.b));
        int fam = pick_family(&s);
        int rc = gen_family(&s, fam);
        if (rc == 0 && s.b.p && !s.b.oom) {
            if (shunt_fz_lines_push(out, s.b.p) < 0) {
                shunt_buf_free(&s.b);
                return -1;
            }
            i++;
        }
        shunt_buf_free(&s.b);
    }
    return 0;
}

int shunt_fz_family_of(const char *line)
{
    static const struct {
        const char *call;
        int fam;
    } map[] = {
        {"open", SHUNT_FZ_OPEN},       {"openat", SHUNT_FZ_OPEN},
        {"read", SHUNT_FZ_READ},       {"pread", SHUNT_FZ_READ},
        {"lseek", SHUNT_FZ_READ},      {"stat", SHUNT_FZ_STAT},
        {"lstat", SHUNT_FZ_STAT},      {"fstat", SHUNT_FZ_STAT},
        {"fstatat", SHUNT_FZ_STAT},    {"statx", SHUNT_FZ_STAT},
        {"opendir", SHUNT_FZ_DIR},     {"fdopendir", SHUNT_FZ_DIR},
        {"readdir", SHUNT_FZ_DIR},     {"rewinddir", SHUNT_FZ_DIR},
        {"closedir", SHUNT_FZ_DIR},    {"dirfd", SHUNT_FZ_DIR},
        {"readlink", SHUNT_FZ_READLINK}, {"readlinkat", SHUNT_FZ_READLINK},
        {"access", SHUNT_FZ_ACCESS},   {"faccessat", SHUNT_FZ_ACCESS},
        {"mkdir", SHUNT_FZ_WRITE},     {"mkdirat", SHUNT_FZ_WRITE},
        {"rmdir", SHUNT_FZ_WRITE},     {"unlink", SHUNT_FZ_WRITE},
        {"unlinkat", SHUNT_FZ_WRITE},  {"rename", SHUNT_FZ_WRITE},
        {"renameat", SHUNT_FZ_WRITE},  {"truncate", SHUNT_FZ_WRITE},
        {"ftruncate", SHUNT_FZ_WRITE}, {"chmod", SHUNT_FZ_WRITE},
        {"symlink", SHUNT_FZ_WRITE},   {"link", SHUNT_FZ_WRITE},
        {"write", SHUNT_FZ_WRITE},     {"chdir", SHUNT_FZ_CWD},
        {"fchdir", SHUNT_FZ_CWD},      {"getcwd", SHUNT_FZ_CWD},
        {"dup", SHUNT_FZ_FD},          {"dup2", SHUNT_FZ_FD},
        {"fcntl", SHUNT_FZ_FD},        {"close", SHUNT_FZ_FD},
        {"fork", SHUNT_FZ_FORK},       {"getaddrinfo", SHUNT_FZ_NET},
        {"connect", SHUNT_FZ_NET},
    };
    size_t n = strcspn(line, " ");
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strlen(map[i].call) == n && strncmp(line, map[i].call, n) == 0)
            return map[i].fam;
    return -1;
}
