/* The fuzz: section of a scenario (harness fuzz, docs/scenarios.md). */
#include "shunt/fuzzspec.h"

#include "shunt/arena.h"
#include "shunt/layercfg.h"
#include "scenario_int.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const shunt_fz_family_names[SHUNT_FZ_NFAMILIES] = {
    "open", "read", "stat", "dir", "readlink", "access",
    "write", "cwd", "fd", "fork", "net",
};

typedef struct {
    shunt_yerr_t e;
    shunt_arena_t *mem;
    const shunt_scenario_t *s;
    shunt_fuzzspec_t *f;
} fz_t;

static int oom(fz_t *c)
{
    snprintf(c->e.buf, c->e.len, "%s: out of memory", c->e.file);
    return -1;
}

static void *zalloc(fz_t *c, size_t n, size_t size)
{
    return shunt_arena_zalloc(c->mem, n, size);
}

static char *sdup(fz_t *c, const char *s) { return shunt_arena_strdup(c->mem, s); }

/* A scalar string as written (an empty quoted one is refused too). */
static int get_text(fz_t *c, const shunt_ynode_t *n, const char *path, const char **out)
{
    if (shunt_yget_str(&c->e, n, path, out) < 0)
        return -1;
    if (!**out)
        return shunt_yerror(&c->e, n, path, "must not be empty");
    return 0;
}

static int get_regex(fz_t *c, const shunt_ynode_t *n, const char *path, char **out)
{
    const char *s;
    if (get_text(c, n, path, &s) < 0)
        return -1;
    regex_t re;
    int rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &re, msg, sizeof(msg));
        return shunt_yerror(&c->e, n, path, "invalid regular expression (POSIX ERE): %s",
                            msg);
    }
    regfree(&re);
    return (*out = sdup(c, s)) ? 0 : oom(c);
}

/* fuzz.tree: target.files' entries (shunt_scenario_files) with size:. */
static int get_tree(fz_t *c, const shunt_ynode_t *n)
{
    return shunt_scenario_files(&c->e, c->mem, c->s->dir, n, "fuzz.tree", &c->f->sizes,
                                &c->f->tree);
}

/* The entry without its name: key (an ordinary layer: section). */
static const shunt_ynode_t *without_name(fz_t *c, const shunt_ynode_t *m)
{
    shunt_ynode_t *n = zalloc(c, 1, sizeof(*n));
    if (!n)
        return NULL;
    *n = *m;
    n->keys = zalloc(c, m->count + 1, sizeof(*n->keys));
    n->items = zalloc(c, m->count + 1, sizeof(*n->items));
    if (!n->keys || !n->items)
        return NULL;
    n->count = 0;
    for (size_t i = 0; i < m->count; i++) {
        if (strcmp(m->keys[i]->value, "name") == 0)
            continue;
        n->keys[n->count] = m->keys[i];
        n->items[n->count++] = m->items[i];
    }
    n->cap = m->count + 1;
    return n;
}

static int get_policy(fz_t *c, const shunt_ynode_t *m, size_t i, shunt_fz_policy_t *p)
{
    char sub[64], kp[128];
    static const char *const keys[] = {"name", "log", "files", "env", "network", NULL};
    shunt_ypath_index(sub, sizeof(sub), "fuzz.layer", i);
    if (shunt_yexpect_map(&c->e, m, sub) < 0 || shunt_ycheck_keys(&c->e, m, sub, keys) < 0)
        return -1;
    const shunt_ynode_t *v = shunt_ymap_get(m, "name");
    if (v) {
        const char *name;
        shunt_ypath_key(kp, sizeof(kp), sub, "name");
        if (shunt_yget_str(&c->e, v, kp, &name) < 0)
            return -1;
        if (!shunt_valid_name(name))
            return shunt_yerror(&c->e, v, kp,
                                "expected a name of 1-%d characters [a-z0-9-] not "
                                "starting or ending with '-', got \"%s\"",
                                SHUNT_NAME_MAX, name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->f->policies[j].name, name) == 0)
                return shunt_yerror(&c->e, v, kp,
                                    "\"%s\" is already the name of fuzz.layer[%zu]", name,
                                    j);
        if (!(p->name = sdup(c, name)))
            return oom(c);
    } else {
        char def[32];
        snprintf(def, sizeof(def), "policy-%zu", i);
        if (!(p->name = sdup(c, def)))
            return oom(c);
    }
    const shunt_ynode_t *layer = without_name(c, m);
    if (!layer)
        return oom(c);
    p->layer = layer;
    char *text = NULL;
    if (shunt_layercfg_render_at(&c->e, layer, sub, NULL, NULL, &text) < 0)
        return -1;
    if (!(p->rendered = shunt_arena_keep(c->mem, text)))
        return oom(c);
    const shunt_ynode_t *files = shunt_ymap_get(layer, "files");
    const shunt_ynode_t *local = files && files->kind == SHUNT_Y_MAP
                                     ? shunt_ymap_get(files, "local")
                                     : NULL;
    if (local && !shunt_ynode_is_null(local) && local->count) {
        shunt_ypath_key(kp, sizeof(kp), sub, "files.local");
        return shunt_yerror(&c->e, local, kp,
                            "a fuzz policy has no local paths: the fuzzer compares "
                            "each call with the target's, and a local path has no "
                            "reference there");
    }
    const shunt_ynode_t *nf = files && files->kind == SHUNT_Y_MAP
                                  ? shunt_ymap_get(files, "not_found")
                                  : NULL;
    size_t n = nf && nf->kind == SHUNT_Y_SEQ ? nf->count : 0;
    if (!(p->not_found = zalloc(c, n + 1, sizeof(*p->not_found))))
        return oom(c);
    for (size_t k = 0; k < n; k++)
        if (!(p->not_found[p->n_not_found++] = sdup(c, nf->items[k]->value)))
            return oom(c);
    return 0;
}

/* fuzz.layer: a list of layer: sections, each with an optional name. */
static int get_layers(fz_t *c, const shunt_ynode_t *n)
{
    shunt_fuzzspec_t *f = c->f;
    if (!n || shunt_ynode_is_null(n)) {
        if (!(f->policies = zalloc(c, 1, sizeof(*f->policies))) ||
            !(f->policies[0].name = sdup(c, "default")) ||
            !(f->policies[0].rendered = sdup(c, "")) ||
            !(f->policies[0].not_found = zalloc(c, 1, sizeof(char *))))
            return oom(c);
        f->n_policies = 1;
        return 0;
    }
    if (shunt_yexpect_seq(&c->e, n, "fuzz.layer") < 0)
        return -1;
    if (n->count == 0)
        return shunt_yerror(&c->e, n, "fuzz.layer",
                            "expected at least one policy (or no layer: key: the "
                            "default policy)");
    if (!(f->policies = zalloc(c, n->count, sizeof(*f->policies))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        if (get_policy(c, n->items[i], i, &f->policies[i]) < 0)
            return -1;
        f->n_policies++;
    }
    return 0;
}

/* fuzz.calls: family -> weight. */
static int get_calls(fz_t *c, const shunt_ynode_t *n)
{
    shunt_fuzzspec_t *f = c->f;
    const char *keys[SHUNT_FZ_NFAMILIES + 1]; /* NULL-terminated */
    for (size_t k = 0; k < SHUNT_FZ_NFAMILIES; k++)
        keys[k] = shunt_fz_family_names[k];
    keys[SHUNT_FZ_NFAMILIES] = NULL;
    if (shunt_yexpect_map(&c->e, n, "fuzz.calls") < 0 ||
        shunt_ycheck_keys(&c->e, n, "fuzz.calls", keys) < 0)
        return -1;
    unsigned total = 0;
    for (size_t k = 0; k < SHUNT_FZ_NFAMILIES; k++) {
        const shunt_ynode_t *v = shunt_ymap_get(n, shunt_fz_family_names[k]);
        f->weights[k] = 0;
        if (!v)
            continue;
        char kp[64];
        long w;
        shunt_ypath_key(kp, sizeof(kp), "fuzz.calls", shunt_fz_family_names[k]);
        if (shunt_yget_int(&c->e, v, kp, 0, 100, &w) < 0)
            return -1;
        f->weights[k] = (unsigned)w;
        total += (unsigned)w;
    }
    if (total == 0)
        return shunt_yerror(&c->e, n, "fuzz.calls",
                            "every weight is 0: nothing would be called");
    return 0;
}

/* fuzz.net: names to resolve and ports to connect to. */
static int get_net(fz_t *c, const shunt_ynode_t *n)
{
    static const char *const keys[] = {"names", "ports", NULL};
    shunt_fuzzspec_t *f = c->f;
    if (shunt_yexpect_map(&c->e, n, "fuzz.net") < 0 ||
        shunt_ycheck_keys(&c->e, n, "fuzz.net", keys) < 0)
        return -1;
    const shunt_ynode_t *v = shunt_ymap_get(n, "names");
    if (v) {
        if (shunt_yexpect_seq(&c->e, v, "fuzz.net.names") < 0)
            return -1;
        if (!(f->names = zalloc(c, v->count + 1, sizeof(*f->names))))
            return oom(c);
        for (size_t i = 0; i < v->count; i++) {
            char kp[64];
            const char *s;
            shunt_ypath_index(kp, sizeof(kp), "fuzz.net.names", i);
            if (get_text(c, v->items[i], kp, &s) < 0)
                return -1;
            if (strlen(s) > 253)
                return shunt_yerror(&c->e, v->items[i], kp,
                                    "longer than 253 bytes (a DNS name's limit)");
            if (!(f->names[f->n_names++] = sdup(c, s)))
                return oom(c);
        }
    }
    v = shunt_ymap_get(n, "ports");
    if (v) {
        if (shunt_yexpect_seq(&c->e, v, "fuzz.net.ports") < 0)
            return -1;
        if (!(f->ports = zalloc(c, v->count + 1, sizeof(*f->ports))))
            return oom(c);
        for (size_t i = 0; i < v->count; i++) {
            char kp[64];
            long port;
            shunt_ypath_index(kp, sizeof(kp), "fuzz.net.ports", i);
            if (shunt_yget_int(&c->e, v->items[i], kp, 1, 65535, &port) < 0)
                return -1;
            f->ports[f->n_ports++] = (int)port;
        }
    }
    return 0;
}

/* An unsigned 64-bit decimal (quoted digits too). */
static int get_u64(fz_t *c, const shunt_ynode_t *n, const char *path,
                   unsigned long long *out)
{
    const char *s = n->kind == SHUNT_Y_SCALAR && !shunt_ynode_is_null(n) ? n->value : NULL;
    char *end = NULL;
    errno = 0;
    if (s && s[0] >= '0' && s[0] <= '9')
        *out = strtoull(s, &end, 10);
    if (!end || *end || errno)
        return shunt_yerror(&c->e, n, path,
                            "expected an integer 0-18446744073709551615, got %s%s%s",
                            s ? "\"" : "a ", s ? s : shunt_ykind_name(n), s ? "\"" : "");
    return 0;
}

static int get_budget(fz_t *c, const shunt_ynode_t *n)
{
    static const char *const keys[] = {"minutes", "sequences", NULL};
    shunt_fuzzspec_t *f = c->f;
    if (shunt_yexpect_map(&c->e, n, "fuzz.budget") < 0 ||
        shunt_ycheck_keys(&c->e, n, "fuzz.budget", keys) < 0)
        return -1;
    const shunt_ynode_t *m = shunt_ymap_get(n, "minutes"), *q = shunt_ymap_get(n, "sequences");
    if (!m == !q)
        return shunt_yerror(&c->e, m && q ? q : n, "fuzz.budget",
                            "expected exactly one of minutes and sequences");
    long v;
    if (m) {
        if (shunt_yget_int(&c->e, m, "fuzz.budget.minutes", 1, 10080, &v) < 0)
            return -1;
        f->budget_minutes = (int)v;
    } else {
        if (shunt_yget_int(&c->e, q, "fuzz.budget.sequences", 1, 1000000000L, &v) < 0)
            return -1;
        f->budget_sequences = v;
    }
    return 0;
}

/* known[i].policies: names of fuzz.layer entries. */
static int get_known_policies(fz_t *c, const shunt_ynode_t *n, const char *path,
                              shunt_fz_known_t *kn)
{
    const shunt_fuzzspec_t *f = c->f;
    if (shunt_yexpect_seq(&c->e, n, path) < 0)
        return -1;
    if (!(kn->policies = zalloc(c, n->count + 1, sizeof(char *))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        char ip[128];
        const char *name;
        shunt_ypath_index(ip, sizeof(ip), path, i);
        if (shunt_yget_str(&c->e, n->items[i], ip, &name) < 0)
            return -1;
        size_t k;
        for (k = 0; k < f->n_policies && strcmp(f->policies[k].name, name) != 0; k++)
            ;
        if (k == f->n_policies)
            return shunt_yerror(&c->e, n->items[i], ip,
                                "no policy of fuzz.layer is named \"%s\"", name);
        if (!(kn->policies[kn->n_policies++] = sdup(c, name)))
            return oom(c);
    }
    return 0;
}

static int get_known(fz_t *c, const shunt_ynode_t *n)
{
    static const char *const keys[] = {"call", "local", "reason", "policies",
                                       "engines", NULL};
    shunt_fuzzspec_t *f = c->f;
    if (shunt_yexpect_seq(&c->e, n, "fuzz.known") < 0)
        return -1;
    if (!(f->known = zalloc(c, n->count, sizeof(*f->known))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        const shunt_ynode_t *k = n->items[i], *v;
        shunt_fz_known_t *kn = &f->known[i];
        char sub[64], kp[96];
        shunt_ypath_index(sub, sizeof(sub), "fuzz.known", i);
        if (shunt_yexpect_map(&c->e, k, sub) < 0 || shunt_ycheck_keys(&c->e, k, sub, keys) < 0)
            return -1;
        if (!(v = shunt_ymap_get(k, "call")))
            return shunt_yerror(&c->e, k, sub, "missing required key call");
        shunt_ypath_key(kp, sizeof(kp), sub, "call");
        if (get_regex(c, v, kp, &kn->call) < 0)
            return -1;
        shunt_ypath_key(kp, sizeof(kp), sub, "local");
        if ((v = shunt_ymap_get(k, "local")) && get_regex(c, v, kp, &kn->local) < 0)
            return -1;
        if (!(v = shunt_ymap_get(k, "reason")))
            return shunt_yerror(&c->e, k, sub,
                                "missing required key reason (why the divergence "
                                "is accepted)");
        const char *r;
        shunt_ypath_key(kp, sizeof(kp), sub, "reason");
        if (shunt_yget_str(&c->e, v, kp, &r) < 0)
            return -1;
        if (strlen(r) < 10)
            return shunt_yerror(&c->e, v, kp,
                                "expected a reason of at least 10 characters, got \"%s\"",
                                r);
        if (!(kn->reason = sdup(c, r)))
            return oom(c);
        shunt_ypath_key(kp, sizeof(kp), sub, "policies");
        if ((v = shunt_ymap_get(k, "policies")) && get_known_policies(c, v, kp, kn) < 0)
            return -1;
        shunt_ypath_key(kp, sizeof(kp), sub, "engines");
        if ((v = shunt_ymap_get(k, "engines"))) {
            if (shunt_yexpect_seq(&c->e, v, kp) < 0)
                return -1;
            for (size_t j = 0; j < v->count; j++) {
                char ip[128];
                const char *name;
                shunt_ypath_index(ip, sizeof(ip), kp, j);
                if (shunt_yget_str(&c->e, v->items[j], ip, &name) < 0)
                    return -1;
                if (strcmp(name, "layer") == 0)
                    kn->engines |= SHUNT_FZ_ENGINE_LAYER;
                else if (strcmp(name, "supervisor") == 0)
                    kn->engines |= SHUNT_FZ_ENGINE_SUPERVISOR;
                else
                    return shunt_yerror(&c->e, v->items[j], ip,
                                        "expected layer or supervisor, got "
                                        "\"%s\"",
                                        name);
            }
        }
        f->n_known++;
    }
    return 0;
}

static int build(fz_t *c, const shunt_ynode_t *n)
{
    static const char *const keys[] = {"tree", "layer", "calls", "net", "length",
                                       "seed", "budget", "known", NULL};
    shunt_fuzzspec_t *f = c->f;
    const shunt_ynode_t *v;
    f->length = 20;
    if (shunt_ynode_is_null(n))
        n = NULL; /* `fuzz:` alone: every default */
    if (n && (shunt_yexpect_map(&c->e, n, "fuzz") < 0 ||
              shunt_ycheck_keys(&c->e, n, "fuzz", keys) < 0))
        return -1;
    if ((v = shunt_ymap_get(n, "tree")) && get_tree(c, v) < 0)
        return -1;
    if (get_layers(c, shunt_ymap_get(n, "layer")) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "net")) && get_net(c, v) < 0)
        return -1;
    if (f->n_names && !f->n_ports) { /* connect's default port */
        if (!(f->ports = zalloc(c, 2, sizeof(*f->ports))))
            return oom(c);
        f->ports[f->n_ports++] = 80;
    }
    if ((v = shunt_ymap_get(n, "calls"))) {
        if (get_calls(c, v) < 0)
            return -1;
        if (f->weights[SHUNT_FZ_NET] && !f->n_names)
            return shunt_yerror(&c->e, shunt_ymap_get(v, "net"), "fuzz.calls.net",
                                "net calls need names to resolve: give fuzz.net.names");
    } else {
        for (size_t k = 0; k < SHUNT_FZ_NFAMILIES; k++)
            f->weights[k] = 1;
        f->weights[SHUNT_FZ_NET] = f->n_names ? 1 : 0;
    }
    long l;
    if ((v = shunt_ymap_get(n, "length"))) {
        if (shunt_yget_int(&c->e, v, "fuzz.length", 1, 200, &l) < 0)
            return -1;
        f->length = (int)l;
    }
    if ((v = shunt_ymap_get(n, "seed"))) {
        if (get_u64(c, v, "fuzz.seed", &f->seed) < 0)
            return -1;
        f->seed_set = 1;
    }
    if ((v = shunt_ymap_get(n, "budget")) && get_budget(c, v) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "known")) && get_known(c, v) < 0)
        return -1;
    return 0;
}

int shunt_fuzzspec_parse(const shunt_scenario_t *s, shunt_fuzzspec_t **out, char *err,
                         size_t errlen)
{
    *out = NULL;
    if (!s->fuzz)
        return 0;
    shunt_fuzzspec_t *f = calloc(1, sizeof(*f));
    shunt_arena_t *mem = calloc(1, sizeof(*mem));
    if (!f || !mem) {
        snprintf(err, errlen, "%s: out of memory", s->file);
        free(f);
        free(mem);
        return -1;
    }
    f->mem = mem;
    fz_t c = {.e = {.file = s->file, .buf = err, .len = errlen}, .mem = mem, .s = s, .f = f};
    if (build(&c, s->fuzz) < 0) {
        shunt_fuzzspec_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

void shunt_fuzzspec_free(shunt_fuzzspec_t *f)
{
    if (!f)
        return;
    if (f->mem) {
        shunt_arena_release(f->mem);
        free(f->mem);
    }
    free(f);
}
