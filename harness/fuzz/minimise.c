/* Minimisation of a diverging sequence: delta debugging (ddmin) over its
 * calls, then one tree entry at a time, keeping only what still makes the
 * first difference the same (its call and the result classes of both
 * sides: shunt_fz_diff_t.sig). */
#include "shunt/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shunt/buf.h"
#include "shunt/util.h"

#define NOFD 15
#define NODIR 7

/* What a call line fills: 'f' an fd slot, 'd' a DIR slot, 0 nothing. */
static int produces(const char *line)
{
    static const char *const f[] = {"open ", "openat ", "dup ", "dup2 ", "dirfd ", NULL};
    for (int i = 0; f[i]; i++)
        if (strncmp(line, f[i], strlen(f[i])) == 0)
            return 'f';
    if (strncmp(line, "fcntl ", 6) == 0 && strstr(line, " DUPFD"))
        return 'f';
    if (strncmp(line, "opendir ", 8) == 0 || strncmp(line, "fdopendir ", 10) == 0)
        return 'd';
    return 0;
}

/* Rewrites a slot token (fN or dN) at word position pos (0: the call). */
static void put_line(shunt_buf_t *b, const char *line, const int *fmap, const int *dmap)
{
    int renameat = strncmp(line, "renameat ", 9) == 0;
    int word = 0;
    const char *p = line;
    while (*p) {
        size_t n = strcspn(p, " ");
        int slotpos = word == 1 || (renameat && word == 3);
        int num;
        char c, extra;
        if (slotpos && n >= 2 && n < 6 && (p[0] == 'f' || p[0] == 'd') &&
            sscanf(p + 1, "%d%c", &num, &extra) >= 1 && num >= 0 && num < 16 &&
            (p[1 + strspn(p + 1, "0123456789")] == ' ' || p[1 + strspn(p + 1, "0123456789")] == 0)) {
            c = p[0];
            int m = c == 'f' ? (num < 16 ? fmap[num] : NOFD) : (num < 8 ? dmap[num] : NODIR);
            shunt_buf_printf(b, "%c%d", c, m);
        } else
            shunt_buf_put(b, p, n);
        p += n;
        if (*p == ' ') {
            shunt_buf_put(b, " ", 1);
            p++;
        }
        word++;
    }
}

int shunt_fz_subseq(const shunt_fz_lines_t *seq, const unsigned char *keep,
                    shunt_fz_lines_t *out)
{
    int fmap[16], dmap[8], of = 0, od = 0, nf = 0, nd = 0;
    for (int i = 0; i < 16; i++)
        fmap[i] = NOFD;
    for (int i = 0; i < 8; i++)
        dmap[i] = NODIR;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < seq->n; i++) {
        const char *line = seq->v[i];
        if (keep[i]) {
            shunt_buf_t b = {0};
            put_line(&b, line, fmap, dmap);
            int rc = b.oom || !b.p ? -1 : shunt_fz_lines_push(out, b.p);
            shunt_buf_free(&b);
            if (rc < 0)
                return -1;
        }
        int pr = produces(line);
        if (pr == 'f' && of < 16) {
            fmap[of++] = keep[i] && nf < NOFD ? nf++ : NOFD;
        } else if (pr == 'd' && od < 8) {
            dmap[od++] = keep[i] && nd < NODIR ? nd++ : NODIR;
        }
    }
    return 0;
}

typedef struct {
    shunt_fz_driver_t *d;
    size_t pi;
    const shunt_fz_lines_t *seq;
    const char *sig;
    uint64_t deadline;
    int probes;
    int infra; /* an infrastructure failure: stop */
} mctx_t;

/* 1 when the sequence (calls in ckeep, tree in tkeep) diverges with sig. */
static int still(mctx_t *m, const unsigned char *ckeep, const unsigned char *tkeep)
{
    shunt_fz_lines_t sub, ref, loc;
    if (m->infra || shunt_fz_subseq(m->seq, ckeep, &sub) < 0)
        return 0;
    m->probes++;
    int hit = 0;
    if (shunt_fz_run_pair(m->d, m->pi, tkeep, &sub, &ref, &loc) == 0) {
        shunt_fz_diff_t df;
        shunt_fz_compare(NULL, NULL, &ref, &loc, &df);
        hit = df.differs && strcmp(df.sig, m->sig) == 0;
    } else
        m->infra = 1;
    shunt_fz_lines_free(&sub);
    shunt_fz_lines_free(&ref);
    shunt_fz_lines_free(&loc);
    return hit;
}

static int timed_out(const mctx_t *m)
{
    return shunt_now_ms() >= m->deadline;
}

/* ddmin (Zeller): split the kept calls into n chunks; keep a chunk alone,
 * or its complement, when it still diverges; refine otherwise. */
static void ddmin(mctx_t *m, unsigned char *keep, size_t total, const unsigned char *tkeep)
{
    size_t n = 2;
    unsigned char *trial = malloc(total ? total : 1);
    size_t *idx = malloc((total ? total : 1) * sizeof(size_t));
    if (!trial || !idx) {
        free(trial);
        free(idx);
        return;
    }
    for (;;) {
        size_t k = 0;
        for (size_t i = 0; i < total; i++)
            if (keep[i])
                idx[k++] = i;
        if (k < 2 || timed_out(m) || m->infra)
            break;
        if (n > k)
            n = k;
        int reduced = 0;
        for (size_t c = 0; c < n && !reduced; c++) {
            size_t lo = k * c / n, hi = k * (c + 1) / n;
            /* the chunk alone */
            memset(trial, 0, total);
            for (size_t j = lo; j < hi; j++)
                trial[idx[j]] = 1;
            if (still(m, trial, tkeep)) {
                memcpy(keep, trial, total);
                n = 2;
                reduced = 1;
                break;
            }
            if (timed_out(m))
                break;
        }
        for (size_t c = 0; c < n && !reduced && n > 2; c++) {
            size_t lo = k * c / n, hi = k * (c + 1) / n;
            /* its complement */
            memcpy(trial, keep, total);
            for (size_t j = lo; j < hi; j++)
                trial[idx[j]] = 0;
            if (still(m, trial, tkeep)) {
                memcpy(keep, trial, total);
                n = n > 3 ? n - 1 : 2;
                reduced = 1;
                break;
            }
            if (timed_out(m))
                break;
        }
        if (timed_out(m) || m->infra)
            break;
        if (!reduced) {
            if (n >= k) {
                /* finally: each call alone out */
                int any = 0;
                for (size_t j = 0; j < k && !timed_out(m); j++) {
                    memcpy(trial, keep, total);
                    trial[idx[j]] = 0;
                    if (still(m, trial, tkeep)) {
                        memcpy(keep, trial, total);
                        any = 1;
                        break;
                    }
                }
                if (!any)
                    break;
            } else
                n = n * 2 < k ? n * 2 : k;
        }
    }
    free(trial);
    free(idx);
}

static int is_under(const char *path, const char *top)
{
    size_t l = strlen(top);
    return strncmp(path, top, l) == 0 && path[l] == '/';
}

int shunt_fz_minimise(shunt_fz_driver_t *d, size_t pi, const shunt_fz_lines_t *seq,
                      const char *sig, int max_secs, shunt_fz_min_t *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t t0 = shunt_now_ms();
    const shunt_fuzzspec_t *f = d->f;
    size_t nt = f->tree.n;
    unsigned char *ckeep = malloc(seq->n ? seq->n : 1);
    out->keep = malloc(nt ? nt : 1);
    if (!ckeep || !out->keep) {
        free(ckeep);
        free(out->keep);
        out->keep = NULL;
        snprintf(d->err, sizeof(d->err), "out of memory");
        return -1;
    }
    memset(ckeep, 1, seq->n);
    memset(out->keep, 1, nt);
    mctx_t m = {.d = d, .pi = pi, .seq = seq, .sig = sig,
                .deadline = t0 + (uint64_t)(max_secs > 0 ? max_secs : 60) * 1000};
    ddmin(&m, ckeep, seq->n, out->keep);
    /* the tree: each entry (with what is under it, and hard links to it)
     * out, from the last; kept out when the divergence stays */
    unsigned char *trial = malloc(nt ? nt : 1);
    for (size_t i = nt; trial && i-- > 0 && !timed_out(&m) && !m.infra;) {
        if (!out->keep[i] || shunt_fz_is_top(f, i))
            continue;
        memcpy(trial, out->keep, nt);
        const char *top = f->tree.v[i].path;
        for (size_t j = 0; j < nt; j++) {
            const shunt_file_spec_t *e = &f->tree.v[j];
            if (j == i || is_under(e->path, top) ||
                (e->kind == SHUNT_FILE_LINK && e->target &&
                 (strcmp(e->target, top) == 0 || is_under(e->target, top))))
                trial[j] = 0;
        }
        if (still(&m, ckeep, trial))
            memcpy(out->keep, trial, nt);
    }
    free(trial);
    int rc = shunt_fz_subseq(seq, ckeep, &out->seq);
    free(ckeep);
    out->probes = m.probes;
    out->secs = (double)(shunt_now_ms() - t0) / 1000.0;
    if (rc < 0) {
        snprintf(d->err, sizeof(d->err), "out of memory");
        return -1;
    }
    return m.infra ? -1 : 0;
}

void shunt_fz_min_free(shunt_fz_min_t *m)
{
    shunt_fz_lines_free(&m->seq);
    free(m->keep);
    memset(m, 0, sizeof(*m));
}
