/* Normalisers, the line diff (LCS) and the unified diff of the runner. */
#include "shunt/compare.h"
#include "shunt/buf.h"

#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing text buffer. */
/* Lines of a text: pointers into a writable copy, '\n' replaced by NUL;
 * *last_nl tells whether the text ended with a newline. */
typedef struct {
    char *copy;
    char **v;
    size_t n;
    int last_nl;
} lines_t;

static int split(const char *text, size_t len, lines_t *l)
{
    memset(l, 0, sizeof(*l));
    l->copy = malloc(len + 1);
    if (!l->copy)
        return -1;
    memcpy(l->copy, text, len);
    l->copy[len] = 0;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += text[i] == '\n';
    l->v = calloc(cap, sizeof(char *));
    if (!l->v) {
        free(l->copy);
        return -1;
    }
    l->last_nl = len == 0 || text[len - 1] == '\n';
    char *s = l->copy, *end = l->copy + len;
    while (s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        l->v[l->n++] = s;
        if (!nl)
            break;
        *nl = 0;
        s = nl + 1;
    }
    return 0;
}

static void lines_free(lines_t *l)
{
    free(l->copy);
    free(l->v);
}

static char *join(char *const *v, size_t n, int last_nl)
{
    shunt_buf_t b = {0};
    for (size_t i = 0; i < n; i++) {
        shunt_buf_puts(&b, v[i]);
        if (i + 1 < n || last_nl)
            shunt_buf_put(&b, "\n", 1);
    }
    return shunt_buf_take(&b);
}

/* Every match of re in line replaced by with (\0-\9: groups). */
static char *replace_line(const char *line, const regex_t *re, const char *with)
{
    shunt_buf_t b = {0};
    regmatch_t m[10];
    const char *s = line;
    int first = 1;
    while (*s || first) {
        if (regexec(re, s, 10, m, first ? 0 : REG_NOTBOL) != 0) {
            shunt_buf_puts(&b, s);
            break;
        }
        first = 0;
        shunt_buf_put(&b, s, (size_t)m[0].rm_so);
        for (const char *w = with; *w; w++) {
            if (*w == '\\' && w[1] >= '0' && w[1] <= '9') {
                int g = w[1] - '0';
                if (m[g].rm_so >= 0)
                    shunt_buf_put(&b, s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
                w++;
            } else if (*w == '\\' && w[1] == '\\') {
                shunt_buf_put(&b, "\\", 1);
                w++;
            } else {
                shunt_buf_put(&b, w, 1);
            }
        }
        if (m[0].rm_eo == m[0].rm_so) { /* empty match: step one char */
            if (!s[m[0].rm_eo]) {
                break;
            }
            shunt_buf_put(&b, s + m[0].rm_eo, 1);
            s += m[0].rm_eo + 1;
        } else {
            s += m[0].rm_eo;
        }
        if (!*s)
            break;
    }
    return shunt_buf_take(&b);
}

/* Drops fields (1-based, split on runs of blanks) and joins with one space. */
static char *drop_fields(const char *line, const int *fields, size_t nf)
{
    shunt_buf_t b = {0};
    const char *s = line;
    int idx = 0, out = 0;
    while (*s) {
        s += strspn(s, " \t");
        if (!*s)
            break;
        size_t len = strcspn(s, " \t");
        idx++;
        int drop = 0;
        for (size_t i = 0; i < nf; i++)
            drop |= fields[i] == idx;
        if (!drop) {
            if (out++)
                shunt_buf_put(&b, " ", 1);
            shunt_buf_put(&b, s, len);
        }
        s += len;
    }
    return shunt_buf_take(&b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *shunt_normalise(const char *text, size_t len, const shunt_norm_t *norms,
                      size_t n, unsigned stream)
{
    char *cur = malloc(len + 1);
    if (!cur)
        return NULL;
    memcpy(cur, text, len);
    cur[len] = 0;
    for (size_t k = 0; k < n; k++) {
        const shunt_norm_t *nm = &norms[k];
        if (!(nm->in & stream))
            continue;
        lines_t l;
        if (split(cur, strlen(cur), &l) < 0) {
            free(cur);
            return NULL;
        }
        regex_t re;
        int have_re = 0;
        if (nm->regex) {
            if (regcomp(&re, nm->regex, REG_EXTENDED) != 0) {
                lines_free(&l);
                continue; /* validated when loaded */
            }
            have_re = 1;
        }
        char **owned = calloc(l.n ? l.n : 1, sizeof(char *));
        char **out = calloc(l.n ? l.n : 1, sizeof(char *));
        size_t no = 0;
        int fail = !owned || !out;
        for (size_t i = 0; !fail && i < l.n; i++) {
            switch (nm->kind) {
            case SHUNT_NORM_REPLACE:
                owned[i] = replace_line(l.v[i], &re, nm->with);
                fail = !owned[i];
                out[no++] = owned[i];
                break;
            case SHUNT_NORM_DROP:
                if (regexec(&re, l.v[i], 0, NULL, 0) != 0)
                    out[no++] = l.v[i];
                break;
            case SHUNT_NORM_SORT:
                out[no++] = l.v[i];
                break;
            case SHUNT_NORM_FIELDS:
                if (have_re && regexec(&re, l.v[i], 0, NULL, 0) != 0) {
                    out[no++] = l.v[i];
                    break;
                }
                owned[i] = drop_fields(l.v[i], nm->fields, nm->n_fields);
                fail = !owned[i];
                out[no++] = owned[i];
                break;
            }
        }
        if (!fail && nm->kind == SHUNT_NORM_SORT)
            qsort(out, no, sizeof(char *), cmp_str);
        char *next = fail ? NULL : join(out, no, l.last_nl || no == 0);
        for (size_t i = 0; owned && i < l.n; i++)
            free(owned[i]);
        free(owned);
        free(out);
        if (have_re)
            regfree(&re);
        lines_free(&l);
        free(cur);
        if (!next)
            return NULL;
        cur = next;
    }
    return cur;
}

/* ---- diff -------------------------------------------------------------- */

enum { OP_EQ, OP_DEL, OP_ADD };
typedef struct {
    int op;
    size_t ai, bi;
} op_t;

#define MAX_CELLS (4u << 20)

/* The edit script a -> b: longest common subsequence by dynamic
 * programming on the middle part left after the common prefix and suffix;
 * a middle too large for the table is one block of deletions then one of
 * additions (still a correct, if not minimal, diff). */
static op_t *edit_script(const lines_t *a, const lines_t *b, size_t *nops)
{
    size_t pre = 0, suf = 0;
    while (pre < a->n && pre < b->n && strcmp(a->v[pre], b->v[pre]) == 0)
        pre++;
    while (suf < a->n - pre && suf < b->n - pre &&
           strcmp(a->v[a->n - 1 - suf], b->v[b->n - 1 - suf]) == 0)
        suf++;
    size_t n = a->n - pre - suf, m = b->n - pre - suf;
    op_t *ops = calloc(a->n + b->n + 1, sizeof(*ops));
    if (!ops)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < pre; i++)
        ops[k++] = (op_t){OP_EQ, i, i};
    uint32_t *t = NULL;
    if (n && m && (uint64_t)(n + 1) * (m + 1) <= MAX_CELLS)
        t = calloc((n + 1) * (m + 1), sizeof(*t));
    if (t) {
        /* t[i][j]: LCS length of a[pre+i..] and b[pre+j..] */
        for (size_t i = n; i-- > 0;)
            for (size_t j = m; j-- > 0;) {
                size_t c = i * (m + 1) + j;
                if (strcmp(a->v[pre + i], b->v[pre + j]) == 0)
                    t[c] = t[(i + 1) * (m + 1) + j + 1] + 1;
                else {
                    uint32_t d = t[(i + 1) * (m + 1) + j], r = t[c + 1];
                    t[c] = d > r ? d : r;
                }
            }
        size_t i = 0, j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && strcmp(a->v[pre + i], b->v[pre + j]) == 0) {
                ops[k++] = (op_t){OP_EQ, pre + i, pre + j};
                i++, j++;
            } else if (i < n && (j == m || t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1])) {
                ops[k++] = (op_t){OP_DEL, pre + i, pre + j};
                i++;
            } else {
                ops[k++] = (op_t){OP_ADD, pre + i, pre + j};
                j++;
            }
        }
        free(t);
    } else {
        for (size_t i = 0; i < n; i++)
            ops[k++] = (op_t){OP_DEL, pre + i, pre};
        for (size_t j = 0; j < m; j++)
            ops[k++] = (op_t){OP_ADD, pre + n, pre + j};
    }
    for (size_t i = 0; i < suf; i++)
        ops[k++] = (op_t){OP_EQ, a->n - suf + i, b->n - suf + i};
    *nops = k;
    return ops;
}

typedef struct {
    lines_t a, b;
} diffmem_t;

#define CTX 3

int shunt_diff(const char *a, const char *b, const char *label_a,
               const char *label_b, int color, shunt_diff_t *out)
{
    memset(out, 0, sizeof(*out));
    diffmem_t *dm = calloc(1, sizeof(*dm));
    if (!dm)
        return -1;
    out->mem = dm;
    if (split(a, strlen(a), &dm->a) < 0 || split(b, strlen(b), &dm->b) < 0)
        return -1;
    size_t nops = 0;
    op_t *ops = edit_script(&dm->a, &dm->b, &nops);
    if (!ops)
        return -1;
    out->removed = calloc(dm->a.n + 1, sizeof(char *));
    out->added = calloc(dm->b.n + 1, sizeof(char *));
    if (!out->removed || !out->added) {
        free(ops);
        return -1;
    }
    for (size_t i = 0; i < nops; i++) {
        if (ops[i].op == OP_DEL)
            out->removed[out->n_removed++] = dm->a.v[ops[i].ai];
        else if (ops[i].op == OP_ADD)
            out->added[out->n_added++] = dm->b.v[ops[i].bi];
    }
    /* A missing final newline is a difference too. */
    int nl_differs = dm->a.last_nl != dm->b.last_nl;
    out->differs = out->n_removed || out->n_added || nl_differs;
    shunt_buf_t t = {0};
    if (out->differs) {
        const char *red = color ? "\033[31m" : "", *green = color ? "\033[32m" : "",
                   *cyan = color ? "\033[36m" : "", *bold = color ? "\033[1m" : "",
                   *off = color ? "\033[0m" : "";
        shunt_buf_printf(&t, "%s--- %s%s\n", bold, label_a, off);
        shunt_buf_printf(&t, "%s+++ %s%s\n", bold, label_b, off);
        size_t i = 0;
        while (i < nops) {
            while (i < nops && ops[i].op == OP_EQ)
                i++;
            if (i == nops)
                break;
            size_t start = i >= CTX ? i - CTX : 0, end = i;
            /* extend while the next change is within 2*CTX equal lines */
            for (;;) {
                while (end < nops && ops[end].op != OP_EQ)
                    end++;
                size_t eq = end;
                while (eq < nops && ops[eq].op == OP_EQ && eq - end < 2 * CTX + 1)
                    eq++;
                if (eq < nops && ops[eq].op != OP_EQ) {
                    end = eq;
                    continue;
                }
                end = end + CTX < nops ? end + CTX : nops;
                break;
            }
            size_t as = ops[start].ai, bs = ops[start].bi, al = 0, bl = 0;
            for (size_t k = start; k < end; k++) {
                al += ops[k].op != OP_ADD;
                bl += ops[k].op != OP_DEL;
            }
            shunt_buf_printf(&t, "%s@@ -%zu,%zu +%zu,%zu @@%s\n", cyan, al ? as + 1 : as, al,
                 bl ? bs + 1 : bs, bl, off);
            for (size_t k = start; k < end; k++) {
                if (ops[k].op == OP_EQ) {
                    shunt_buf_put(&t, " ", 1);
                    shunt_buf_puts(&t, dm->a.v[ops[k].ai]);
                    shunt_buf_put(&t, "\n", 1);
                } else {
                    int del = ops[k].op == OP_DEL;
                    shunt_buf_puts(&t, del ? red : green);
                    shunt_buf_put(&t, del ? "-" : "+", 1);
                    shunt_buf_puts(&t, del ? dm->a.v[ops[k].ai] : dm->b.v[ops[k].bi]);
                    shunt_buf_puts(&t, off);
                    shunt_buf_put(&t, "\n", 1);
                }
            }
            i = end;
        }
        if (nl_differs)
            shunt_buf_printf(&t, "\\ No newline at end of %s\n", dm->a.last_nl ? label_b : label_a);
    }
    free(ops);
    out->text = shunt_buf_take(&t);
    return out->text ? 0 : -1;
}

void shunt_diff_free(shunt_diff_t *d)
{
    diffmem_t *dm = d->mem;
    if (dm) {
        lines_free(&dm->a);
        lines_free(&dm->b);
        free(dm);
    }
    free(d->text);
    free(d->removed);
    free(d->added);
    memset(d, 0, sizeof(*d));
}

int shunt_diff_only_lines(const shunt_diff_t *d, const char *regex)
{
    if (!regex)
        return 1;
    regex_t re;
    if (regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int ok = 1;
    for (size_t i = 0; ok && i < d->n_removed; i++)
        ok = regexec(&re, d->removed[i], 0, NULL, 0) == 0;
    for (size_t i = 0; ok && i < d->n_added; i++)
        ok = regexec(&re, d->added[i], 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* ---- the call journal ------------------------------------------------------ */
typedef struct {
    const char *line;
    size_t len, tag_len, order;
} jline_t;

/* Dotted process tags by number: "1.2" < "1.10", a parent before its
 * children. */
static int tag_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t i = 0, j = 0;
    while (i < al && j < bl) {
        unsigned long x = 0, y = 0;
        while (i < al && a[i] >= '0' && a[i] <= '9')
            x = x * 10 + (unsigned long)(a[i++] - '0');
        while (j < bl && b[j] >= '0' && b[j] <= '9')
            y = y * 10 + (unsigned long)(b[j++] - '0');
        if (x != y)
            return x < y ? -1 : 1;
        if (i < al && j < bl && a[i] != b[j])
            return (unsigned char)a[i] < (unsigned char)b[j] ? -1 : 1;
        i += i < al;
        j += j < bl;
    }
    return (i < al) - (j < bl);
}

static int jline_cmp(const void *pa, const void *pb)
{
    const jline_t *a = pa, *b = pb;
    int c = tag_cmp(a->line, a->tag_len, b->line, b->tag_len);
    if (c)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int name_in(const char *name, size_t len, char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0)
            return 1;
    return 0;
}

/* The first string argument of a record's call ("...": the path), copied
 * into out with the journal's escapes kept; 0, or -1 when there is none. */
static int first_str(const char *line, size_t len, char *out, size_t outlen)
{
    const char *open = memchr(line, '(', len);
    if (!open)
        return -1;
    const char *end = line + len, *q = memchr(open, '"', (size_t)(end - open));
    if (!q)
        return -1;
    size_t n = 0;
    for (const char *p = q + 1; p < end; p++) {
        if (*p == '"')
            break;
        if (*p == '\\' && p + 1 < end && n + 1 < outlen)
            out[n++] = *p++;
        if (n + 1 < outlen)
            out[n++] = *p;
    }
    out[n] = 0;
    return 0;
}

/* The fd a record's call takes first ("read(3, ..."), or -1. */
static long first_fd(const char *line, size_t len)
{
    const char *open = memchr(line, '(', len);
    if (!open || open + 1 >= line + len || open[1] < '0' || open[1] > '9')
        return -1;
    long fd = 0;
    const char *p = open + 1;
    while (p < line + len && *p >= '0' && *p <= '9' && fd < 1000000)
        fd = fd * 10 + (*p++ - '0');
    return p < line + len && (*p == ',' || *p == ')') ? fd : -1;
}

/* The value after " = " when it is a number >= 0, or -1. */
static long result_of(const char *line, size_t len)
{
    const char *eq = NULL;
    for (const char *p = line; p + 3 <= line + len; p++)
        if (p[0] == ')' && p[1] == ' ' && p[2] == '=')
            eq = p + 3;
    if (!eq || eq + 1 >= line + len || eq[0] != ' ' || eq[1] < '0' || eq[1] > '9')
        return -1;
    long v = 0;
    for (const char *p = eq + 1; p < line + len && *p >= '0' && *p <= '9' && v < 1000000; p++)
        v = v * 10 + (*p - '0');
    return v;
}

typedef struct {
    const char *tag;
    size_t tag_len;
    long fd;
} skipfd_t;

char *shunt_journal_prepare(const char *text, char *const *calls, size_t n_calls,
                            char *const *exclude, size_t n_exclude,
                            char *const *skip_paths, size_t n_skip)
{
    regex_t *res = n_skip ? calloc(n_skip, sizeof(*res)) : NULL;
    if (n_skip && !res)
        return NULL;
    size_t n_res = 0;
    for (; n_res < n_skip; n_res++)
        if (regcomp(&res[n_res], skip_paths[n_res], REG_EXTENDED | REG_NOSUB) != 0)
            break;
    skipfd_t *fds = NULL;
    size_t n_fds = 0, cap_fds = 0;
    int oom = n_res < n_skip;

    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == '\n';
    jline_t *v = malloc(cap * sizeof(*v));
    if (!v)
        return NULL;
    size_t n = 0;
    for (const char *p = text; *p && !oom;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        size_t tag = strcspn(p, " \n");
        const char *name = p + (tag < len ? tag + 1 : len);
        size_t nlen = strcspn(name, "( \n");
        int keep = (!n_calls || name_in(name, nlen, calls, n_calls)) &&
                   !name_in(name, nlen, exclude, n_exclude);
        if (n_res && len) {
            /* skip_paths: a record naming such a path goes, and so do the
             * calls of its process on the fd it opened, up to its close. */
            char path[1024];
            long fd = first_fd(p, len);
            size_t k = 0;
            while (fd >= 0 && k < n_fds &&
                   !(fds[k].fd == fd && fds[k].tag_len == tag &&
                     memcmp(fds[k].tag, p, tag) == 0))
                k++;
            if (fd >= 0 && k < n_fds) {
                keep = 0;
                if (nlen >= 5 && memcmp(name + nlen - 5, "close", 5) == 0)
                    fds[k] = fds[--n_fds];
            } else if (first_str(p, len, path, sizeof(path)) == 0) {
                for (size_t i = 0; i < n_res && keep >= 0; i++)
                    if (regexec(&res[i], path, 0, NULL, 0) == 0)
                        keep = -1;
                long r = keep < 0 && memmem(name, nlen, "open", 4) ? result_of(p, len) : -1;
                if (r >= 0) {
                    if (n_fds == cap_fds) {
                        size_t nc = cap_fds ? 2 * cap_fds : 16;
                        skipfd_t *t = realloc(fds, nc * sizeof(*t));
                        if (!t) {
                            oom = 1;
                            break;
                        }
                        fds = t;
                        cap_fds = nc;
                    }
                    fds[n_fds++] = (skipfd_t){p, tag, r};
                }
                keep = keep > 0;
            }
        }
        if (keep && len) {
            v[n] = (jline_t){.line = p, .len = len, .tag_len = tag < len ? tag : len,
                             .order = n};
            n++;
        }
        p = nl ? nl + 1 : p + len;
    }
    for (size_t i = 0; i < n_res; i++)
        regfree(&res[i]);
    free(res);
    free(fds);
    if (oom) {
        free(v);
        return NULL;
    }
    qsort(v, n, sizeof(*v), jline_cmp);
    shunt_buf_t b = {0};
    shunt_buf_put(&b, "", 0);
    for (size_t i = 0; i < n; i++) {
        shunt_buf_put(&b, v[i].line, v[i].len);
        shunt_buf_put(&b, "\n", 1);
    }
    free(v);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
