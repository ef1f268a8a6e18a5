/* What harness fuzz writes: a diverging sequence as an ordinary scenario
 * (harness run: the interpreter as a `language: c` program, the sequence
 * on its stdin, the tree as target.files put back before each run), and
 * the interpreter's source beside it. */
#include "shunt/fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shunt/buf.h"
#include "shunt/json.h"

/* the interpreter's source, embedded by CMake (interp_src.c) */
extern const unsigned char shunt_fz_interp_src[];
extern const size_t shunt_fz_interp_src_len;

static void json_str(shunt_buf_t *b, const char *s, size_t n)
{
    shunt_buf_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            shunt_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            shunt_buf_puts(b, "\\n");
        else if (c == '\t')
            shunt_buf_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            shunt_buf_printf(b, "\\x%02x", c);
        else if (c >= 0x80)
            shunt_buf_printf(b, "\\x%02x", c); /* YAML double-quoted escape */
        else
            shunt_buf_put(b, s + i, 1);
    }
    shunt_buf_puts(b, "\"");
}

static int plain_ok(const char *v, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || (i && (c == '/' || c == '-'))))
            return 0;
    }
    return 1;
}

/* A node as flow YAML (JSON where the scalar needs quoting); skip: a
 * key of the top map left out. */
static void node_json(shunt_buf_t *b, const shunt_ynode_t *n, const char *skip)
{
    if (!n) {
        shunt_buf_puts(b, "null");
        return;
    }
    switch (n->kind) {
    case SHUNT_Y_SCALAR:
        if (n->plain && plain_ok(n->value, n->len))
            shunt_buf_put(b, n->value, n->len);
        else if (n->plain && n->len == 0)
            shunt_buf_puts(b, "null");
        else
            json_str(b, n->value, n->len);
        break;
    case SHUNT_Y_SEQ:
        shunt_buf_puts(b, "[");
        for (size_t i = 0; i < n->count; i++) {
            if (i)
                shunt_buf_puts(b, ", ");
            node_json(b, n->items[i], NULL);
        }
        shunt_buf_puts(b, "]");
        break;
    case SHUNT_Y_MAP: {
        shunt_buf_puts(b, "{");
        int first = 1;
        for (size_t i = 0; i < n->count; i++) {
            if (skip && strcmp(n->keys[i]->value, skip) == 0)
                continue;
            if (!first)
                shunt_buf_puts(b, ", ");
            first = 0;
            json_str(b, n->keys[i]->value, n->keys[i]->len);
            shunt_buf_puts(b, ": ");
            node_json(b, n->items[i], NULL);
        }
        shunt_buf_puts(b, "}");
        break;
    }
    }
}

char *shunt_fz_policy_json(const shunt_fz_policy_t *p)
{
    shunt_buf_t b = {0};
    if (p->layer && p->layer->kind == SHUNT_Y_MAP)
        node_json(&b, p->layer, "name");
    else
        shunt_buf_puts(&b, "{}");
    if (b.oom) {
        shunt_buf_free(&b);
        return NULL;
    }
    return shunt_buf_take(&b);
}

char *shunt_fz_decode(const char *tok)
{
    size_t n = strlen(tok);
    char *o = malloc(n + 1), *q = o;
    if (!o)
        return NULL;
    if (strcmp(tok, "%") == 0) {
        *o = 0;
        return o;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (tok[i] == '%' && i + 2 < n + 1 && sscanf(tok + i + 1, "%2x", &v) == 1) {
            *q++ = (char)v;
            i += 2;
        } else
            *q++ = tok[i];
    }
    *q = 0;
    return o;
}

int shunt_fz_write_interp_source(const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "we");
    if (!fp || fwrite(shunt_fz_interp_src, 1, shunt_fz_interp_src_len, fp) !=
                   shunt_fz_interp_src_len) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fp)
            fclose(fp);
        return -1;
    }
    if (fclose(fp) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void tree_entry(shunt_buf_t *b, const shunt_fuzzspec_t *f, size_t i)
{
    const shunt_file_spec_t *e = &f->tree.v[i];
    shunt_buf_puts(b, "    - {path: ");
    json_str(b, e->path, strlen(e->path));
    switch (e->kind) {
    case SHUNT_FILE_DIR:
        shunt_buf_printf(b, ", dir: true, mode: \"%04o\"", e->mode & 07777);
        break;
    case SHUNT_FILE_SYMLINK:
        shunt_buf_puts(b, ", symlink: ");
        json_str(b, e->target, strlen(e->target));
        break;
    case SHUNT_FILE_LINK:
        shunt_buf_puts(b, ", link: ");
        json_str(b, e->target, strlen(e->target));
        break;
    case SHUNT_FILE_FIFO:
        shunt_buf_printf(b, ", fifo: true, mode: \"%04o\"", e->mode & 07777);
        break;
    default:
        shunt_buf_puts(b, ", content: ");
        if (f->sizes && f->sizes[i] >= 0) {
            shunt_buf_puts(b, "\"");
            for (long k = 0; k < f->sizes[i]; k++)
                shunt_buf_printf(b, "%c", (char)('0' + k % 10));
            shunt_buf_puts(b, "\"");
        } else
            json_str(b, e->content ? e->content : "", e->content ? e->content_len : 0);
        shunt_buf_printf(b, ", mode: \"%04o\"", e->mode & 07777);
    }
    if (e->uid >= 0 || e->gid >= 0)
        shunt_buf_printf(b, ", owner: \"%ld:%ld\"", e->uid < 0 ? 0 : e->uid,
                         e->gid < 0 ? 0 : e->gid);
    shunt_buf_puts(b, "}\n");
}

int shunt_fz_write_scenario(const char *path, const shunt_scenario_t *s,
                            const shunt_fuzzspec_t *f, size_t pi,
                            const unsigned char *keep, const shunt_fz_lines_t *seq,
                            const shunt_fz_diff_t *df, uint64_t seed,
                            char *err, size_t errlen)
{
    shunt_buf_t b = {0};
    const shunt_fz_policy_t *p = &f->policies[pi];
    shunt_buf_printf(&b, "# Found by `harness fuzz %s` (sequence seed %llu, policy %s)\n"
                         "# and minimised: the target (the truth) and the local run\n"
                         "# under the layer first differ at call %zu:\n",
                     s->file, (unsigned long long)seed, p->name, df->index);
    shunt_buf_printf(&b, "#   target: %s\n#   local:  %s\n",
                     df->ref_line ? df->ref_line : "(nothing)",
                     df->loc_line ? df->loc_line : "(nothing)");
    shunt_buf_puts(&b, "# Run it with `harness run FILE`; to keep it in scenarios/, set\n"
                       "# program.source to programs/c/shunt-fuzz-interp.c.\n");
    shunt_buf_puts(&b, "description: ");
    char desc[256];
    snprintf(desc, sizeof(desc), "harness fuzz: %s", df->sig);
    json_str(&b, desc, strlen(desc));
    shunt_buf_puts(&b, "\n\ntarget:\n");
    const shunt_ynode_t *tn = shunt_ymap_get(s->doc->root, "target");
    for (size_t i = 0; tn && tn->kind == SHUNT_Y_MAP && i < tn->count; i++) {
        if (strcmp(tn->keys[i]->value, "files") == 0)
            continue;
        shunt_buf_printf(&b, "  %s: ", tn->keys[i]->value);
        node_json(&b, tn->items[i], NULL);
        shunt_buf_puts(&b, "\n");
    }
    shunt_buf_puts(&b, "  files:\n    # the tree; runs.reset_files puts it back before each run\n");
    const shunt_ynode_t *files = tn ? shunt_ymap_get(tn, "files") : NULL;
    for (size_t i = 0; files && files->kind == SHUNT_Y_SEQ && i < files->count; i++) {
        shunt_buf_puts(&b, "    - ");
        node_json(&b, files->items[i], NULL);
        shunt_buf_puts(&b, "\n");
    }
    for (size_t i = 0; i < f->tree.n; i++)
        if (!keep || keep[i])
            tree_entry(&b, f, i);
    char *pj = shunt_fz_policy_json(p);
    shunt_buf_printf(&b, "\nlayer: %s\n", pj ? pj : "{}");
    free(pj);
    shunt_buf_puts(&b, "\nprogram:\n  language: c\n  source: shunt-fuzz-interp.c\n  args: [");
    const char **hidden = shunt_fz_hidden(f, pi, keep);
    for (size_t i = 0; hidden && hidden[i]; i++) {
        shunt_buf_puts(&b, i ? ", --hide, " : "--hide, ");
        json_str(&b, hidden[i], strlen(hidden[i]));
    }
    free(hidden);
    shunt_buf_puts(&b, "]\n  cwd: /\n  stdin: |\n");
    for (size_t i = 0; i < seq->n; i++)
        shunt_buf_printf(&b, "    %s\n", seq->v[i]);
    shunt_buf_puts(&b, "\nruns: {reset_files: true}\n\nexpect:\n  stdout: true\n  exit: true\n");
    if (b.oom) {
        shunt_buf_free(&b);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    FILE *fp = fopen(path, "we");
    int ok = fp && fwrite(b.p, 1, b.len, fp) == b.len;
    if (fp && fclose(fp) != 0)
        ok = 0;
    shunt_buf_free(&b);
    if (!ok) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
