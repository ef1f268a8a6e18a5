/* YAML loader: libyaml events -> node tree with positions; typed accessors. */
#include "shunt/ydoc.h"
#include "shunt/config.h"
#include "shunt/arena.h"
#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_DEPTH 64

typedef struct {
    char *name;
    shunt_ynode_t *node;
} anchor_t;

typedef struct {
    yaml_parser_t parser;
    shunt_yerr_t e;
    shunt_arena_t *arena;
    anchor_t *anchors;
    size_t n_anchors, cap_anchors;
    int failed;
} loader_t;

static void arena_free(shunt_arena_t *a)
{
    if (!a)
        return;
    shunt_arena_release(a);
    free(a);
}

int shunt_yerror(const shunt_yerr_t *e, const shunt_ynode_t *n,
                 const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line = n ? n->line : 1, col = n ? n->col : 1;
    if (path && *path)
        snprintf(e->buf, e->len, "%s:%d:%d: %s: %s", e->file, line, col, path,
                 msg);
    else
        snprintf(e->buf, e->len, "%s:%d:%d: %s", e->file, line, col, msg);
    return -1;
}

static int mark_error(loader_t *L, const yaml_mark_t *m, const char *path,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int mark_error(loader_t *L, const yaml_mark_t *m, const char *path,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    shunt_ynode_t pos = {.line = (int)m->line + 1, .col = (int)m->column + 1};
    L->failed = 1;
    return shunt_yerror(&L->e, &pos, path, "%s", msg);
}

static int syntax_error(loader_t *L)
{
    const yaml_parser_t *p = &L->parser;
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_MEMORY_ERROR)
        problem = "out of memory";
    if (p->error == YAML_READER_ERROR) {
        yaml_mark_t m = {.line = 0, .column = 0};
        return mark_error(L, &m, NULL, "syntax error: %s (at byte %zu)",
                          problem, p->problem_offset);
    }
    if (p->context)
        return mark_error(L, &p->problem_mark, NULL, "syntax error: %s %s",
                          p->context, problem);
    return mark_error(L, &p->problem_mark, NULL, "syntax error: %s", problem);
}

static int next_event(loader_t *L, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&L->parser, ev))
        return syntax_error(L);
    return 0;
}

void shunt_ypath_key(char *out, size_t outlen, const char *path, const char *key)
{
    if (path && *path)
        snprintf(out, outlen, "%s.%s", path, key);
    else
        snprintf(out, outlen, "%s", key);
}

void shunt_ypath_index(char *out, size_t outlen, const char *path, size_t i)
{
    snprintf(out, outlen, "%s[%zu]", path ? path : "", i);
}

static shunt_ynode_t *new_node(loader_t *L, shunt_ykind_t kind,
                               const yaml_mark_t *m)
{
    shunt_ynode_t *n = shunt_arena_keep(L->arena, calloc(1, sizeof(*n)));
    if (!n) {
        mark_error(L, m, NULL, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    return n;
}

static int push_child(loader_t *L, shunt_ynode_t *parent, shunt_ynode_t *key,
                      shunt_ynode_t *item, const yaml_mark_t *m)
{
    if (parent->count == parent->cap) {
        /* Doubling: the outgrown arrays stay in the arena until the
         * document is freed, at most as much again as the final ones, so
         * memory and copying are linear in the number of entries (a copy
         * per entry made a 20,000-entry list take 1.6 GB). */
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        shunt_ynode_t **items =
            shunt_arena_keep(L->arena, malloc(cap * sizeof(*items)));
        shunt_ynode_t **keys =
            key ? shunt_arena_keep(L->arena, malloc(cap * sizeof(*keys))) : NULL;
        if (!items || (key && !keys))
            return mark_error(L, m, NULL, "out of memory");
        if (parent->count) {
            memcpy(items, parent->items, parent->count * sizeof(*items));
            if (keys)
                memcpy(keys, parent->keys, parent->count * sizeof(*keys));
        }
        parent->items = items;
        parent->keys = keys;
        parent->cap = cap;
    }
    parent->items[parent->count] = item;
    if (key)
        parent->keys[parent->count] = key;
    parent->count++;
    return 0;
}

static int remember_anchor(loader_t *L, const yaml_char_t *anchor,
                           shunt_ynode_t *n, const yaml_mark_t *m)
{
    if (!anchor)
        return 0;
    char *name = shunt_arena_keep(L->arena, strdup((const char *)anchor));
    if (!name)
        return mark_error(L, m, NULL, "out of memory");
    if (L->n_anchors == L->cap_anchors) {
        size_t cap = L->cap_anchors ? L->cap_anchors * 2 : 8;
        anchor_t *na = shunt_arena_keep(L->arena, malloc(cap * sizeof(*na)));
        if (!na)
            return mark_error(L, m, NULL, "out of memory");
        if (L->n_anchors)
            memcpy(na, L->anchors, L->n_anchors * sizeof(*na));
        L->anchors = na;
        L->cap_anchors = cap;
    }
    L->anchors[L->n_anchors].name = name;
    L->anchors[L->n_anchors].node = n;
    L->n_anchors++;
    return 0;
}

static shunt_ynode_t *parse_node(loader_t *L, yaml_event_t *ev,
                                 const char *path, int depth);

/* Parses children until the closing event; ev is the start event. */
static int parse_children(loader_t *L, shunt_ynode_t *n, const char *path,
                          int depth)
{
    for (size_t idx = 0;; idx++) {
        yaml_event_t ev;
        if (next_event(L, &ev) < 0)
            return -1;
        if (ev.type == YAML_SEQUENCE_END_EVENT ||
            ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (n->kind == SHUNT_Y_SEQ) {
            char sub[512];
            shunt_ypath_index(sub, sizeof(sub), path, idx);
            shunt_ynode_t *item = parse_node(L, &ev, sub, depth + 1);
            if (!item || push_child(L, n, NULL, item, &ev.start_mark) < 0)
                return -1;
            continue;
        }
        /* A mapping key. */
        shunt_ynode_t *key = parse_node(L, &ev, path, depth + 1);
        if (!key)
            return -1;
        if (key->kind != SHUNT_Y_SCALAR) {
            yaml_mark_t m = {.line = (size_t)key->line - 1,
                             .column = (size_t)key->col - 1};
            return mark_error(L, &m, path, "keys must be plain strings, got a %s",
                              shunt_ykind_name(key));
        }
        char sub[512];
        shunt_ypath_key(sub, sizeof(sub), path, key->value);
        for (size_t i = 0; i < n->count; i++) {
            if (n->keys[i]->len == key->len &&
                memcmp(n->keys[i]->value, key->value, key->len) == 0) {
                yaml_mark_t m = {.line = (size_t)key->line - 1,
                                 .column = (size_t)key->col - 1};
                return mark_error(L, &m, sub,
                                  "duplicate key (first defined at line %d, "
                                  "column %d)",
                                  n->keys[i]->line, n->keys[i]->col);
            }
        }
        if (next_event(L, &ev) < 0)
            return -1;
        shunt_ynode_t *val = parse_node(L, &ev, sub, depth + 1);
        if (!val || push_child(L, n, key, val, &ev.start_mark) < 0)
            return -1;
    }
}

/* Consumes ev (and, for collections, everything up to its end event). */
static shunt_ynode_t *parse_node(loader_t *L, yaml_event_t *ev,
                                 const char *path, int depth)
{
    shunt_ynode_t *n = NULL;
    yaml_mark_t m = ev->start_mark;
    if (depth > MAX_DEPTH) {
        mark_error(L, &m, path, "nesting deeper than %d levels", MAX_DEPTH);
        yaml_event_delete(ev);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        n = new_node(L, SHUNT_Y_SCALAR, &m);
        if (!n)
            break;
        n->len = ev->data.scalar.length;
        n->value = shunt_arena_keep(L->arena, malloc(n->len + 1));
        if (!n->value) {
            mark_error(L, &m, path, "out of memory");
            n = NULL;
            break;
        }
        memcpy(n->value, ev->data.scalar.value, n->len);
        n->value[n->len] = 0;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                   !ev->data.scalar.tag;
        if (remember_anchor(L, ev->data.scalar.anchor, n, &m) < 0)
            n = NULL;
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_seq = ev->type == YAML_SEQUENCE_START_EVENT;
        n = new_node(L, is_seq ? SHUNT_Y_SEQ : SHUNT_Y_MAP, &m);
        const yaml_char_t *anchor = is_seq ? ev->data.sequence_start.anchor
                                           : ev->data.mapping_start.anchor;
        if (!n || remember_anchor(L, anchor, n, &m) < 0 ||
            parse_children(L, n, path, depth) < 0)
            n = NULL;
        break;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        for (size_t i = L->n_anchors; i-- > 0;)
            if (strcmp(L->anchors[i].name, name) == 0) {
                n = L->anchors[i].node;
                break;
            }
        if (!n)
            mark_error(L, &m, path, "unknown alias *%s", name);
        break;
    }
    default:
        mark_error(L, &m, path, "unexpected YAML event %d", (int)ev->type);
        break;
    }
    yaml_event_delete(ev);
    return n;
}

static shunt_ydoc_t *load(loader_t *L, shunt_ydoc_t *doc)
{
    yaml_event_t ev;
    int docs = 0;
    for (;;) {
        if (next_event(L, &ev) < 0)
            return NULL;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return doc;
        }
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            mark_error(L, &ev.start_mark, NULL,
                       "only one YAML document per file is supported");
            yaml_event_delete(&ev);
            return NULL;
        }
        if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
            doc->root = parse_node(L, &ev, "", 0);
            if (!doc->root)
                return NULL;
            continue;
        }
        yaml_event_delete(&ev);
    }
}

shunt_ydoc_t *shunt_yaml_load_string(const char *file, const char *text,
                                     size_t len, char *err, size_t errlen)
{
    shunt_ydoc_t *doc = calloc(1, sizeof(*doc));
    shunt_arena_t *arena = calloc(1, sizeof(*arena));
    char *dcopy = strdup(file);
    if (!doc || !arena || !dcopy) {
        snprintf(err, errlen, "%s: out of memory", file);
        free(doc);
        free(arena);
        free(dcopy);
        return NULL;
    }
    doc->arena = arena;
    doc->file = strdup(file);
    doc->dir = strdup(dirname(dcopy));
    free(dcopy);
    loader_t L = {.e = {.file = file, .buf = err, .len = errlen},
                  .arena = arena};
    if (!doc->file || !doc->dir || !yaml_parser_initialize(&L.parser)) {
        snprintf(err, errlen, "%s: out of memory", file);
        shunt_yaml_free(doc);
        return NULL;
    }
    yaml_parser_set_input_string(&L.parser, (const unsigned char *)text, len);
    shunt_ydoc_t *res = load(&L, doc);
    yaml_parser_delete(&L.parser);
    if (!res)
        shunt_yaml_free(doc);
    return res;
}

shunt_ydoc_t *shunt_yaml_load_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t len = 0;
    char *buf = shunt_read_fd(fd, 64u << 20, 0, &len);
    int e = errno;
    close(fd);
    if (!buf) {
        if (e == EFBIG)
            snprintf(err, errlen, "%s: file larger than 64 MiB", path);
        else if (e == ENOMEM)
            snprintf(err, errlen, "%s: out of memory", path);
        else
            snprintf(err, errlen, "%s: read error: %s", path, strerror(e));
        return NULL;
    }
    shunt_ydoc_t *doc = shunt_yaml_load_string(path, buf, len, err, errlen);
    free(buf);
    return doc;
}

void shunt_yaml_free(shunt_ydoc_t *doc)
{
    if (!doc)
        return;
    arena_free(doc->arena);
    free(doc->file);
    free(doc->dir);
    free(doc);
}

const char *shunt_ykind_name(const shunt_ynode_t *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case SHUNT_Y_MAP:
        return "map";
    case SHUNT_Y_SEQ:
        return "list";
    default:
        return shunt_ynode_is_null(n) ? "null" : "scalar";
    }
}

bool shunt_ynode_is_null(const shunt_ynode_t *n)
{
    return n && n->kind == SHUNT_Y_SCALAR && n->plain &&
           (n->len == 0 || strcmp(n->value, "~") == 0 ||
            strcmp(n->value, "null") == 0 || strcmp(n->value, "Null") == 0 ||
            strcmp(n->value, "NULL") == 0);
}

shunt_ynode_t *shunt_ymap_get(const shunt_ynode_t *map, const char *key)
{
    if (!map || map->kind != SHUNT_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i]->value, key) == 0)
            return map->items[i];
    return NULL;
}

int shunt_yexpect_map(const shunt_yerr_t *e, const shunt_ynode_t *n,
                      const char *path)
{
    if (n && n->kind == SHUNT_Y_MAP)
        return 0;
    return shunt_yerror(e, n, path, "expected a map, got a %s",
                        shunt_ykind_name(n));
}

int shunt_yexpect_seq(const shunt_yerr_t *e, const shunt_ynode_t *n,
                      const char *path)
{
    if (n && n->kind == SHUNT_Y_SEQ)
        return 0;
    return shunt_yerror(e, n, path, "expected a list, got a %s",
                        shunt_ykind_name(n));
}

int shunt_ycheck_keys(const shunt_yerr_t *e, const shunt_ynode_t *map,
                      const char *path, const char *const *allowed)
{
    for (size_t i = 0; i < map->count; i++) {
        const char *k = map->keys[i]->value;
        size_t j;
        for (j = 0; allowed[j]; j++)
            if (strcmp(k, allowed[j]) == 0)
                break;
        if (allowed[j])
            continue;
        char list[512] = "";
        size_t off = 0;
        for (j = 0; allowed[j] && off < sizeof(list); j++) {
            int w = snprintf(list + off, sizeof(list) - off, "%s%s",
                             j ? ", " : "", allowed[j]);
            if (w < 0)
                break;
            off += (size_t)w;
        }
        char sub[512];
        shunt_ypath_key(sub, sizeof(sub), path, k);
        return shunt_yerror(e, map->keys[i], sub,
                            "unknown key (allowed: %s)", list);
    }
    return 0;
}

/* Quotes a scalar for messages: shortened, with quotes and control bytes
 * escaped. out must hold at least 8 bytes. */
static void quote_value(const shunt_ynode_t *n, char *out, size_t outlen)
{
    size_t o = 0, limit = outlen - 6; /* room for "...", the quote and NUL */
    out[o++] = '"';
    for (size_t i = 0; i < n->len; i++) {
        unsigned char c = (unsigned char)n->value[i];
        char esc[8];
        int w;
        if (c == '"' || c == '\\')
            w = snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            w = snprintf(esc, sizeof(esc), "\\x%02x", c);
        else
            w = snprintf(esc, sizeof(esc), "%c", c);
        if (o + (size_t)w > limit || i == 48) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, esc, (size_t)w);
        o += (size_t)w;
    }
    out[o++] = '"';
    out[o] = 0;
}

static int got_error(const shunt_yerr_t *e, const shunt_ynode_t *n,
                     const char *path, const char *expected)
{
    if (n && n->kind == SHUNT_Y_SCALAR && !shunt_ynode_is_null(n)) {
        char q[128];
        quote_value(n, q, sizeof(q));
        return shunt_yerror(e, n, path, "expected %s, got %s", expected, q);
    }
    return shunt_yerror(e, n, path, "expected %s, got a %s", expected,
                        shunt_ykind_name(n));
}

int shunt_yget_str(const shunt_yerr_t *e, const shunt_ynode_t *n,
                   const char *path, const char **out)
{
    if (!n || n->kind != SHUNT_Y_SCALAR || shunt_ynode_is_null(n))
        return got_error(e, n, path, "a string");
    if (strlen(n->value) != n->len)
        return shunt_yerror(e, n, path, "strings must not contain NUL bytes");
    *out = n->value;
    return 0;
}

int shunt_yget_regex(const shunt_yerr_t *e, const shunt_ynode_t *n,
                     const char *path, const char **out)
{
    if (shunt_yget_str(e, n, path, out) < 0)
        return -1;
    char why[256];
    if (shunt_regex_check(*out, why, sizeof(why)) < 0)
        return shunt_yerror(e, n, path, "%s", why);
    regex_t re;
    int rc = regcomp(&re, *out, REG_EXTENDED);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &re, msg, sizeof(msg));
        return shunt_yerror(e, n, path,
                            "invalid regular expression (POSIX ERE): %s", msg);
    }
    regfree(&re);
    return 0;
}

int shunt_yget_int(const shunt_yerr_t *e, const shunt_ynode_t *n,
                   const char *path, long min, long max, long *out)
{
    char expected[96];
    snprintf(expected, sizeof(expected), "an integer %ld-%ld", min, max);
    if (!n || n->kind != SHUNT_Y_SCALAR || n->len == 0 || n->len > 18)
        return got_error(e, n, path, expected);
    const char *s = n->value;
    size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (i == n->len)
        return got_error(e, n, path, expected);
    for (size_t j = i; j < n->len; j++)
        if (s[j] < '0' || s[j] > '9')
            return got_error(e, n, path, expected);
    long v = strtol(s, NULL, 10);
    if (v < min || v > max)
        return got_error(e, n, path, expected);
    *out = v;
    return 0;
}

int shunt_yget_mode(const shunt_yerr_t *e, const shunt_ynode_t *n,
                    const char *path, unsigned *out)
{
    const char *expected = "an octal file mode like 0644";
    if (!n || n->kind != SHUNT_Y_SCALAR || n->len == 0)
        return got_error(e, n, path, expected);
    const char *s = n->value;
    if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        s += 2;
    size_t digits = strlen(s);
    if (digits == 0 || digits > 5)
        return got_error(e, n, path, expected);
    unsigned v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '7')
            return got_error(e, n, path, expected);
        v = v * 8 + (unsigned)(*s - '0');
    }
    if (v > 07777)
        return got_error(e, n, path, expected);
    *out = v;
    return 0;
}
