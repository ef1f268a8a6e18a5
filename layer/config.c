/* Parser of the layer's configuration file (see docs/hooking.md). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void shunt_config_init(shunt_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->log_level = -1;
    c->timeout_ms = -1;
}

static void strlist_free(shunt_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int strlist_add(shunt_strlist_t *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *d = strdup(s);
    if (!d)
        return -1;
    l->v[l->n++] = d;
    return 0;
}

void shunt_config_free(shunt_config_t *c)
{
    for (int i = 0; i < SHUNT_LIST_COUNT; i++) {
        shunt_relist_t *l = &c->lists[i];
        for (size_t j = 0; j < l->n; j++) {
            regfree(&l->re[j]);
            free(l->src[j]);
        }
        free(l->re);
        free(l->src);
    }
    strlist_free(&c->env_include);
    strlist_free(&c->env_exclude);
    free(c->log_file);
    shunt_config_init(c);
}

int shunt_log_level_parse(const char *s)
{
    static const char *const names[] = {"off", "error", "warn", "info",
                                        "debug", "trace"};
    for (int i = 0; i < 6; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    if (strcmp(s, "none") == 0)
        return 0;
    return -1;
}

int shunt_relist_add(shunt_relist_t *l, const char *pattern, char *err,
                     size_t errlen)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        regex_t *re = realloc(l->re, cap * sizeof(*re));
        if (!re)
            return -1;
        l->re = re;
        char **src = realloc(l->src, cap * sizeof(*src));
        if (!src)
            return -1;
        l->src = src;
        l->cap = cap;
    }
    int rc = regcomp(&l->re[l->n], pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &l->re[l->n], msg, sizeof(msg));
        snprintf(err, errlen, "bad regex '%s': %s", pattern, msg);
        return -1;
    }
    l->src[l->n] = strdup(pattern);
    if (!l->src[l->n]) {
        regfree(&l->re[l->n]);
        return -1;
    }
    l->n++;
    return 0;
}

int shunt_relist_match(const shunt_relist_t *l, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (regexec(&l->re[i], path, 0, NULL, 0) == 0)
            return 1;
    return 0;
}

static const struct {
    const char *name;
    int list;
} list_directives[] = {
    {"not_found", SHUNT_LIST_NOT_FOUND},
    {"read_write", SHUNT_LIST_READ_WRITE},
    {"read_only", SHUNT_LIST_READ_ONLY},
    {"local", SHUNT_LIST_LOCAL},
};

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* One line, NUL-terminated, comment already cut.  0 or -1 with why. */
static int parse_line(shunt_config_t *c, char *line, char *why, size_t wl)
{
    char *p = line;
    while (is_space(*p))
        p++;
    char *end = p + strlen(p);
    while (end > p && is_space(end[-1]))
        *--end = '\0';
    if (!*p)
        return 0;
    char *key = p;
    while (*p && !is_space(*p))
        p++;
    if (*p)
        *p++ = '\0';
    while (is_space(*p))
        p++;
    char *val = p;
    if (!*val) {
        snprintf(why, wl, "'%s' needs a value", key);
        return -1;
    }
    for (size_t i = 0; i < sizeof(list_directives) / sizeof(list_directives[0]);
         i++)
        if (strcmp(key, list_directives[i].name) == 0)
            return shunt_relist_add(&c->lists[list_directives[i].list], val,
                                    why, wl);
    if (strcmp(key, "log_level") == 0) {
        int l = shunt_log_level_parse(val);
        if (l < 0) {
            snprintf(why, wl, "bad log_level '%s'", val);
            return -1;
        }
        c->log_level = l;
        return 0;
    }
    if (strcmp(key, "log_file") == 0) {
        char *d = strdup(val);
        if (!d)
            return -1;
        free(c->log_file);
        c->log_file = d;
        return 0;
    }
    if (strcmp(key, "timeout_ms") == 0) {
        char *e;
        long v = strtol(val, &e, 10);
        if (*e || v <= 0 || v > 3600000) {
            snprintf(why, wl, "bad timeout_ms '%s'", val);
            return -1;
        }
        c->timeout_ms = (int)v;
        return 0;
    }
    if (strcmp(key, "env_include") == 0)
        return strlist_add(&c->env_include, val);
    if (strcmp(key, "env_exclude") == 0)
        return strlist_add(&c->env_exclude, val);
    snprintf(why, wl, "unknown directive '%s'", key);
    return -1;
}

int shunt_config_parse(shunt_config_t *c, const char *text, size_t len,
                       char *err, size_t errlen)
{
    int bad = 0;
    size_t lineno = 0, i = 0;
    if (err && errlen)
        err[0] = '\0';
    while (i < len) {
        size_t s = i;
        while (i < len && text[i] != '\n')
            i++;
        size_t n = i - s;
        i++; /* past '\n' */
        lineno++;
        char *line = malloc(n + 1);
        if (!line)
            return bad + 1;
        memcpy(line, text + s, n);
        line[n] = '\0';
        /* '#' starts a comment at the start of a line or after a blank;
         * inside a regex (e.g. "[#]") it is kept. */
        for (char *h = line; *h; h++)
            if (*h == '#' && (h == line || is_space(h[-1]))) {
                *h = '\0';
                break;
            }
        if (strchr(line, '\0') != line + n && memchr(text + s, '\0', n)) {
            /* an embedded NUL: reject the line */
            free(line);
            if (!bad && err)
                snprintf(err, errlen, "line %zu: NUL byte", lineno);
            bad++;
            continue;
        }
        char why[256] = "out of memory";
        if (parse_line(c, line, why, sizeof(why)) < 0) {
            if (!bad && err)
                snprintf(err, errlen, "line %zu: %s", lineno, why);
            bad++;
        }
        free(line);
    }
    return bad;
}
