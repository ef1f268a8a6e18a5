/* layer: section -> the layer's text configuration (docs/exec.md). */
#include "shunt/layercfg.h"
#include "shunt/scenario.h"

#include "shunt/buf.h"
#include "shunt/config.h"
#include "shunt/log.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    shunt_buf_t text; /* stays empty when only checking */
    int render;
} out_t;

static void emit(out_t *o, const char *directive, const char *value)
{
    if (o->render)
        shunt_buf_printf(&o->text, "%s %s\n", directive, value);
}

int shunt_layercfg_level_ok(const char *level)
{
    return strcmp(level, "off") == 0 || shunt_log_parse_level(level) >= 0;
}

/* A value that fits on one directive line. */
static int get_line(const shunt_yerr_t *e, const shunt_ynode_t *n,
                    const char *path, const char **out)
{
    if (shunt_yget_str(e, n, path, out) < 0)
        return -1;
    if (!**out)
        return shunt_yerror(e, n, path, "must not be empty");
    for (const char *p = *out; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return shunt_yerror(e, n, path,
                                "must not contain control characters "
                                "(newlines, tabs, ...)");
        /* The layer's format trims blanks and reads " #" as a comment. */
        if (*p == '#' && (p == *out || p[-1] == ' '))
            return shunt_yerror(e, n, path,
                                "'#' at the start or after a blank would be "
                                "read as a comment (write [#])");
    }
    size_t len = strlen(*out);
    if ((*out)[0] == ' ' || (*out)[len - 1] == ' ')
        return shunt_yerror(e, n, path,
                            "must not start or end with a blank (write [ ])");
    return 0;
}

static int get_log(const shunt_yerr_t *e, const shunt_ynode_t *n, out_t *o,
                   const char *level_override, const char *file_override,
                   const char *at)
{
    static const char *const keys[] = {"level", "file", NULL};
    char lp[256], lpl[256], lpf[256];
    shunt_ypath_key(lp, sizeof(lp), at, "log");
    shunt_ypath_key(lpl, sizeof(lpl), lp, "level");
    shunt_ypath_key(lpf, sizeof(lpf), lp, "file");
    const char *level = NULL, *file = NULL;
    if (n && !shunt_ynode_is_null(n)) {
        if (shunt_yexpect_map(e, n, lp) < 0 ||
            shunt_ycheck_keys(e, n, lp, keys) < 0)
            return -1;
        const shunt_ynode_t *v;
        if ((v = shunt_ymap_get(n, "level"))) {
            if (shunt_yget_str(e, v, lpl, &level) < 0)
                return -1;
            if (!shunt_layercfg_level_ok(level))
                return shunt_yerror(e, v, lpl,
                                    "unknown log level \"%.40s\" (allowed: "
                                    "off, error, warn, info, debug, trace)",
                                    level);
        }
        if ((v = shunt_ymap_get(n, "file"))) {
            if (get_line(e, v, lpf, &file) < 0)
                return -1;
            if (file[0] != '/')
                return shunt_yerror(e, v, lpf,
                                    "expected an absolute path, got \"%.80s\"",
                                    file);
        }
    }
    if (level_override)
        level = level_override;
    if (file_override)
        file = file_override;
    if (level)
        emit(o, "log_level", level);
    if (file)
        emit(o, "log_file", file);
    return 0;
}

static int get_list(const shunt_yerr_t *e, const shunt_ynode_t *n,
                    const char *path, const char *directive, int is_regex,
                    out_t *o)
{
    if (shunt_ynode_is_null(n))
        return 0; /* `local:` with nothing: an empty list */
    if (shunt_yexpect_seq(e, n, path) < 0)
        return -1;
    for (size_t i = 0; i < n->count; i++) {
        char ip[512];
        shunt_ypath_index(ip, sizeof(ip), path, i);
        const char *v;
        if (get_line(e, n->items[i], ip, &v) < 0)
            return -1;
        if (is_regex) {
            char why[256];
            if (shunt_regex_check(v, why, sizeof(why)) < 0)
                return shunt_yerror(e, n->items[i], ip, "%s", why);
            regex_t re;
            int rc = regcomp(&re, v, REG_EXTENDED | REG_NOSUB);
            if (rc != 0) {
                char msg[256];
                regerror(rc, &re, msg, sizeof(msg));
                return shunt_yerror(e, n->items[i], ip,
                                    "invalid regular expression (POSIX "
                                    "ERE): %s",
                                    msg);
            }
            regfree(&re);
        } else if (strchr(v, '=')) {
            return shunt_yerror(e, n->items[i], ip,
                                "a pattern on variable names cannot "
                                "contain '='");
        }
        emit(o, directive, v);
    }
    return 0;
}

/* layer.network.remote / .local: outgoing-network rules, checked with the
 * layer's own parser. */
static int get_net_list(const shunt_yerr_t *e, const shunt_ynode_t *n,
                        const char *path, const char *directive, out_t *o)
{
    if (shunt_ynode_is_null(n))
        return 0;
    if (shunt_yexpect_seq(e, n, path) < 0)
        return -1;
    for (size_t i = 0; i < n->count; i++) {
        char ip[512];
        shunt_ypath_index(ip, sizeof(ip), path, i);
        const char *v;
        if (get_line(e, n->items[i], ip, &v) < 0)
            return -1;
        shunt_netrule_t r = {0};
        char why[256] = "out of memory";
        if (shunt_netrule_parse(v, &r, why, sizeof(why)) < 0)
            return shunt_yerror(e, n->items[i], ip, "%s", why);
        free(r.name);
        emit(o, directive, v);
    }
    return 0;
}

static const char *kpath(char *buf, size_t len, const char *path, const char *key)
{
    shunt_ypath_key(buf, len, path, key);
    return buf;
}


/* ---- layer.network.incoming (docs/incoming.md) -------------------------- */
static int get_port(const shunt_yerr_t *e, const shunt_ynode_t *n,
                    const char *path, long *out)
{
    return shunt_yget_int(e, n, path, 1, 65535, out);
}

static int get_ports(const shunt_yerr_t *e, const shunt_ynode_t *n,
                     const char *path, const char *directive, out_t *o)
{
    if (shunt_ynode_is_null(n))
        return 0;
    if (shunt_yexpect_seq(e, n, path) < 0)
        return -1;
    for (size_t i = 0; i < n->count; i++) {
        char ip[512], v[16];
        long p;
        shunt_ypath_index(ip, sizeof(ip), path, i);
        if (get_port(e, n->items[i], ip, &p) < 0)
            return -1;
        snprintf(v, sizeof(v), "%ld", p);
        emit(o, directive, v);
    }
    return 0;
}

/* One filter leaf ("header ERE"...), checked by the layer's own parser. */
static int hf_leaf(const shunt_yerr_t *e, const shunt_ynode_t *n,
                   const char *path, const char *kind, out_t *o)
{
    const char *v;
    if (get_line(e, n, path, &v) < 0)
        return -1;
    char line[1200];
    if (strlen(v) > 1100)
        return shunt_yerror(e, n, path, "longer than 1100 bytes");
    snprintf(line, sizeof(line), "%s %s", kind, v);
    shunt_hfnode_t hn;
    char why[300] = "out of memory";
    if (shunt_incoming_node_parse(line, &hn, why, sizeof(why)) < 0)
        return shunt_yerror(e, n, path, "%s", why);
    free(hn.value);
    emit(o, "net_incoming_filter", line);
    return 0;
}

static int hf_map(const shunt_yerr_t *e, const shunt_ynode_t *n,
                  const char *path, int top, int depth, size_t *nodes,
                  out_t *o);

static void hf_count(out_t *o, size_t *nodes, const char *kind, size_t k)
{
    char v[32];
    (*nodes)++;
    snprintf(v, sizeof(v), "%s %zu", kind, k);
    emit(o, "net_incoming_filter", v);
}

/* all_of / any_of: a list of filters. */
static int hf_list(const shunt_yerr_t *e, const shunt_ynode_t *n,
                   const char *path, const char *kind, int depth,
                   size_t *nodes, out_t *o)
{
    if (shunt_yexpect_seq(e, n, path) < 0)
        return -1;
    if (n->count == 0)
        return shunt_yerror(e, n, path, "must not be empty");
    hf_count(o, nodes, kind, n->count);
    for (size_t i = 0; i < n->count; i++) {
        char ip[512];
        shunt_ypath_index(ip, sizeof(ip), path, i);
        if (hf_map(e, n->items[i], ip, 0, depth + 1, nodes, o) < 0)
            return -1;
    }
    return 0;
}

/* A filter map: its parts (header, path, method, all_of, any_of) are
 * combined with AND, written "all K" and the K parts (one part alone). */
static int hf_map(const shunt_yerr_t *e, const shunt_ynode_t *n,
                  const char *path, int top, int depth, size_t *nodes,
                  out_t *o)
{
    static const char *const top_keys[] = {"header", "path",  "method",
                                           "all_of", "any_of", "ports",
                                           NULL};
    char kp[512];
    if (depth > 16)
        return shunt_yerror(e, n, path, "nested too deeply");
    if (shunt_yexpect_map(e, n, path) < 0)
        return -1;
    if (!top && shunt_ymap_get(n, "ports"))
        return shunt_yerror(e, shunt_ymap_get(n, "ports"),
                            kpath(kp, sizeof(kp), path, "ports"),
                            "only the top http_filter takes ports");
    if (shunt_ycheck_keys(e, n, path, top_keys) < 0)
        return -1;
    size_t parts = n->count - (shunt_ymap_get(n, "ports") ? 1 : 0);
    if (parts == 0)
        return shunt_yerror(e, n, path, "needs at least one of header, path, "
                            "method, all_of, any_of");
    if (parts > 1)
        hf_count(o, nodes, "all", parts);
    for (size_t i = 0; i < n->count; i++) {
        const char *k = n->keys[i]->value;
        const shunt_ynode_t *v = n->items[i];
        kpath(kp, sizeof(kp), path, k);
        if (strcmp(k, "ports") == 0)
            continue;
        if (strcmp(k, "header") == 0 || strcmp(k, "path") == 0) {
            (*nodes)++;
            if (hf_leaf(e, v, kp, k, o) < 0)
                return -1;
        } else if (strcmp(k, "method") == 0) {
            if (v->kind == SHUNT_Y_SCALAR) {
                (*nodes)++;
                if (hf_leaf(e, v, kp, "method", o) < 0)
                    return -1;
                continue;
            }
            if (shunt_yexpect_seq(e, v, kp) < 0)
                return -1;
            if (v->count == 0)
                return shunt_yerror(e, v, kp, "must not be empty");
            if (v->count > 1)
                hf_count(o, nodes, "any", v->count);
            for (size_t j = 0; j < v->count; j++) {
                char ip[600];
                shunt_ypath_index(ip, sizeof(ip), kp, j);
                (*nodes)++;
                if (hf_leaf(e, v->items[j], ip, "method", o) < 0)
                    return -1;
            }
        } else if (hf_list(e, v, kp, strcmp(k, "all_of") == 0 ? "all" : "any",
                           depth, nodes, o) < 0) {
            return -1;
        }
    }
    return 0;
}

static int get_incoming(const shunt_yerr_t *e, const shunt_ynode_t *n,
                        const char *path, out_t *o)
{
    static const char *const keys[] = {"mode", "ports", "port_mapping",
                                       "ignore_ports", "on_conflict",
                                       "http_filter", NULL};
    char kp[512];
    if (shunt_ynode_is_null(n))
        return 0;
    if (shunt_yexpect_map(e, n, path) < 0 ||
        shunt_ycheck_keys(e, n, path, keys) < 0)
        return -1;
    const shunt_ynode_t *v;
    const char *mode = "off", *s;
    if ((v = shunt_ymap_get(n, "mode"))) {
        kpath(kp, sizeof(kp), path, "mode");
        if (shunt_yget_str(e, v, kp, &mode) < 0)
            return -1;
        if (strcmp(mode, "off") && strcmp(mode, "mirror") &&
            strcmp(mode, "steal"))
            return shunt_yerror(e, v, kp, "unknown mode \"%.40s\" (allowed: "
                                "off, mirror, steal)", mode);
        emit(o, "net_incoming", mode);
    }
    if ((v = shunt_ymap_get(n, "ports")) &&
        get_ports(e, v, kpath(kp, sizeof(kp), path, "ports"),
                  "net_incoming_port", o) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "port_mapping")) && !shunt_ynode_is_null(v)) {
        kpath(kp, sizeof(kp), path, "port_mapping");
        if (shunt_yexpect_map(e, v, kp) < 0)
            return -1;
        for (size_t i = 0; i < v->count; i++) {
            char ip[600], line[32];
            long lp, rp;
            kpath(ip, sizeof(ip), kp, v->keys[i]->value);
            if (get_port(e, v->keys[i], ip, &lp) < 0 ||
                get_port(e, v->items[i], ip, &rp) < 0)
                return -1;
            snprintf(line, sizeof(line), "%ld:%ld", lp, rp);
            emit(o, "net_incoming_map", line);
        }
    }
    if ((v = shunt_ymap_get(n, "ignore_ports")) &&
        get_ports(e, v, kpath(kp, sizeof(kp), path, "ignore_ports"),
                  "net_incoming_ignore", o) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "on_conflict"))) {
        kpath(kp, sizeof(kp), path, "on_conflict");
        if (shunt_yget_str(e, v, kp, &s) < 0)
            return -1;
        if (strcmp(s, "refuse") && strcmp(s, "replace"))
            return shunt_yerror(e, v, kp, "unknown value \"%.40s\" (allowed: "
                                "refuse, replace)", s);
        emit(o, "net_incoming_conflict", s);
    }
    if ((v = shunt_ymap_get(n, "http_filter")) && !shunt_ynode_is_null(v)) {
        kpath(kp, sizeof(kp), path, "http_filter");
        if (strcmp(mode, "steal") != 0)
            return shunt_yerror(e, v, kp, "only with mode: steal (mode is "
                                "%s)", mode);
        size_t nodes = 0;
        if (hf_map(e, v, kp, 1, 0, &nodes, o) < 0)
            return -1;
        if (nodes > SHUNT_INC_MAX_NODES)
            return shunt_yerror(e, v, kp, "%zu filter nodes, at most %d",
                                nodes, SHUNT_INC_MAX_NODES);
        const shunt_ynode_t *fp = shunt_ymap_get(v, "ports");
        char pp[600];
        if (fp && get_ports(e, fp, kpath(pp, sizeof(pp), kp, "ports"),
                            "net_incoming_filter_port", o) < 0)
            return -1;
    }
    return 0;
}

static int build(const shunt_yerr_t *e, const shunt_ynode_t *layer, out_t *o,
                 const char *level, const char *file, const char *at)
{
    char fp[256], ep[256], np[256], sub[320];
    static const char *const keys[] = {"log", "files", "env", "network",
                                       NULL};
    static const char *const net_keys[] = {"remote", "local", "unix_remote",
                                           "incoming", NULL};
    static const char *const file_keys[] = {"local", "read_only",
                                            "read_write", "not_found", NULL};
    static const char *const env_keys[] = {"include", "exclude", NULL};
    if (layer && shunt_ynode_is_null(layer))
        layer = NULL;
    if (layer && (shunt_yexpect_map(e, layer, at) < 0 ||
                  shunt_ycheck_keys(e, layer, at, keys) < 0))
        return -1;
    if (get_log(e, shunt_ymap_get(layer, "log"), o, level, file, at) < 0)
        return -1;
    shunt_ypath_key(fp, sizeof(fp), at, "files");
    shunt_ypath_key(ep, sizeof(ep), at, "env");
    shunt_ypath_key(np, sizeof(np), at, "network");
    const shunt_ynode_t *files = shunt_ymap_get(layer, "files");
    if (files && !shunt_ynode_is_null(files)) {
        if (shunt_yexpect_map(e, files, fp) < 0 ||
            shunt_ycheck_keys(e, files, fp, file_keys) < 0)
            return -1;
        for (size_t i = 0; file_keys[i]; i++) {
            const shunt_ynode_t *v = shunt_ymap_get(files, file_keys[i]);
            shunt_ypath_key(sub, sizeof(sub), fp, file_keys[i]);
            if (v && get_list(e, v, sub, file_keys[i], 1, o) < 0)
                return -1;
        }
    }
    const shunt_ynode_t *env = shunt_ymap_get(layer, "env");
    if (env && !shunt_ynode_is_null(env)) {
        if (shunt_yexpect_map(e, env, ep) < 0 ||
            shunt_ycheck_keys(e, env, ep, env_keys) < 0)
            return -1;
        const shunt_ynode_t *v;
        if ((v = shunt_ymap_get(env, "include")) &&
            get_list(e, v, kpath(sub, sizeof(sub), ep, "include"), "env_include", 0, o) < 0)
            return -1;
        if ((v = shunt_ymap_get(env, "exclude")) &&
            get_list(e, v, kpath(sub, sizeof(sub), ep, "exclude"), "env_exclude", 0, o) < 0)
            return -1;
    }
    const shunt_ynode_t *net = shunt_ymap_get(layer, "network");
    if (net && !shunt_ynode_is_null(net)) {
        if (shunt_yexpect_map(e, net, np) < 0 ||
            shunt_ycheck_keys(e, net, np, net_keys) < 0)
            return -1;
        const shunt_ynode_t *v;
        if ((v = shunt_ymap_get(net, "remote")) &&
            get_net_list(e, v, kpath(sub, sizeof(sub), np, "remote"), "net_remote", o) < 0)
            return -1;
        if ((v = shunt_ymap_get(net, "local")) &&
            get_net_list(e, v, kpath(sub, sizeof(sub), np, "local"), "net_local", o) < 0)
            return -1;
        if ((v = shunt_ymap_get(net, "unix_remote")) &&
            get_list(e, v, kpath(sub, sizeof(sub), np, "unix_remote"), "net_remote_unix", 1,
                     o) < 0)
            return -1;
        if ((v = shunt_ymap_get(net, "incoming")) &&
            get_incoming(e, v, kpath(sub, sizeof(sub), np, "incoming"), o) < 0)
            return -1;
    }
    return 0;
}

int shunt_layercfg_check_at(const shunt_yerr_t *e, const shunt_ynode_t *layer,
                            const char *at)
{
    out_t o = {0};
    return build(e, layer, &o, NULL, NULL, at);
}

int shunt_layercfg_check(const shunt_yerr_t *e, const shunt_ynode_t *layer)
{
    return shunt_layercfg_check_at(e, layer, "layer");
}

int shunt_layercfg_render_at(const shunt_yerr_t *e, const shunt_ynode_t *layer,
                             const char *at, const char *log_level,
                             const char *log_file, char **out)
{
    out_t o = {.render = 1};
    *out = NULL;
    if (build(e, layer, &o, log_level, log_file, at) < 0) {
        shunt_buf_free(&o.text);
        return -1;
    }
    if (!(*out = shunt_buf_take(&o.text))) {
        snprintf(e->buf, e->len, "%s: out of memory", e->file);
        return -1;
    }
    return 0;
}

int shunt_layercfg_render(const shunt_yerr_t *e, const shunt_ynode_t *layer,
                          const char *log_level, const char *log_file,
                          char **out)
{
    return shunt_layercfg_render_at(e, layer, "layer", log_level, log_file, out);
}

int shunt_layercfg_load(const char *path, const char *log_level,
                        const char *log_file, char **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    shunt_ydoc_t *doc = shunt_yaml_load_file(path, err, errlen);
    if (!doc)
        return -1;
    shunt_yerr_t e = {.file = doc->file, .buf = err, .len = errlen};
    const shunt_ynode_t *root = doc->root;
    int rc = -1;
    if (root && root->kind == SHUNT_Y_MAP && shunt_ymap_get(root, "target")) {
        /* A scenario: validated as a whole, as `harness check` would. */
        shunt_scenario_t *s = shunt_scenario_load(path, err, errlen);
        if (s) {
            rc = shunt_layercfg_render(&e, s->layer, log_level, log_file,
                                       out);
            shunt_scenario_free(s);
        }
    } else if (!root || shunt_ynode_is_null(root)) {
        shunt_yerror(&e, root, NULL,
                     "empty file: expected a map with a layer: section");
    } else {
        static const char *const keys[] = {"layer", "description", NULL};
        if (shunt_yexpect_map(&e, root, NULL) == 0 &&
            shunt_ycheck_keys(&e, root, "", keys) == 0)
            rc = shunt_layercfg_render(&e, shunt_ymap_get(root, "layer"),
                                       log_level, log_file, out);
    }
    shunt_yaml_free(doc);
    return rc;
}
