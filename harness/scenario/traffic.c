/* Validation of a scenario's traffic: section (docs/scenarios.md). */
#include "shunt/traffic.h"

#include "shunt/arena.h"
#include "shunt/config.h"
#include "shunt/runspec.h"
#include "shunt/scenario.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    shunt_traffic_t t;   /* first: the public pointer is this struct's */
    shunt_arena_t mem;
} owned_t;

typedef struct {
    const shunt_yerr_t *e;
    owned_t *o;
    const shunt_target_spec_t *target;
} ctx_t;

static char *sdup(ctx_t *c, const char *s) { return shunt_arena_strdup(&c->o->mem, s); }

static void *zalloc(ctx_t *c, size_t n, size_t size)
{
    return shunt_arena_zalloc(&c->o->mem, n, size);
}

static int oom(ctx_t *c)
{
    snprintf(c->e->buf, c->e->len, "%s: out of memory", c->e->file);
    return -1;
}

static int get_regex(ctx_t *c, const shunt_ynode_t *n, const char *path, char **out)
{
    const char *s;
    if (shunt_yget_regex(c->e, n, path, &s) < 0)
        return -1;
    return (*out = sdup(c, s)) ? 0 : oom(c);
}

static int get_regexes(ctx_t *c, const shunt_ynode_t *n, const char *path, char ***out,
                       size_t *count)
{
    if (shunt_yexpect_seq(c->e, n, path) < 0)
        return -1;
    if (!(*out = zalloc(c, n->count + 1, sizeof(char *))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        char sub[256];
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (get_regex(c, n->items[i], sub, &(*out)[i]) < 0)
            return -1;
    }
    *count = n->count;
    return 0;
}

static int get_client(ctx_t *c, const shunt_ynode_t *n, const char *path,
                      shunt_tclient_t *cl)
{
    static const char *const keys[] = {"service", "command", "timeout", NULL};
    char kp[256];
    const shunt_ynode_t *v;
    const char *s;
    if (shunt_yexpect_map(c->e, n, path) < 0 || shunt_ycheck_keys(c->e, n, path, keys) < 0)
        return -1;
    shunt_ypath_key(kp, sizeof(kp), path, "service");
    if (!(v = shunt_ymap_get(n, "service")))
        return shunt_yerror(c->e, n, path,
                            "missing required key service: the target.services "
                            "container the client runs in");
    if (shunt_yget_str(c->e, v, kp, &s) < 0)
        return -1;
    size_t i = 0;
    while (i < c->target->n_services && strcmp(c->target->services[i].name, s) != 0)
        i++;
    if (i == c->target->n_services) {
        char names[512] = "";
        size_t l = 0;
        for (size_t k = 0; k < c->target->n_services && l < sizeof(names) - 1; k++)
            l += (size_t)snprintf(names + l, sizeof(names) - l, "%s%s", k ? ", " : "",
                                  c->target->services[k].name);
        return shunt_yerror(c->e, v, kp, "\"%s\" is not a service of the target (%s)", s,
                            c->target->n_services ? names : "it has none");
    }
    if (!(cl->service = sdup(c, s)))
        return oom(c);
    shunt_ypath_key(kp, sizeof(kp), path, "command");
    if (!(v = shunt_ymap_get(n, "command")))
        return shunt_yerror(c->e, n, path, "missing required key command");
    if (shunt_yexpect_seq(c->e, v, kp) < 0)
        return -1;
    if (v->count == 0)
        return shunt_yerror(c->e, v, kp,
                            "expected a non-empty list (the program and its arguments)");
    if (!(cl->command = zalloc(c, v->count + 1, sizeof(char *))))
        return oom(c);
    for (size_t k = 0; k < v->count; k++) {
        char sub[300];
        const shunt_ynode_t *a = v->items[k];
        shunt_ypath_index(sub, sizeof(sub), kp, k);
        if (a->kind == SHUNT_Y_SCALAR && !a->plain && a->len == 0)
            s = "";
        else if (shunt_yget_str(c->e, a, sub, &s) < 0)
            return -1;
        if (!(cl->command[k] = sdup(c, s)))
            return oom(c);
    }
    cl->n_command = v->count;
    cl->timeout_s = 60;
    if ((v = shunt_ymap_get(n, "timeout"))) {
        long t;
        shunt_ypath_key(kp, sizeof(kp), path, "timeout");
        if (shunt_yget_int(c->e, v, kp, 1, 3600, &t) < 0)
            return -1;
        cl->timeout_s = (int)t;
    }
    return 0;
}

/* expect: of traffic (program keys too) or of after_exit (client keys
 * only). */
static int get_texpect(ctx_t *c, const shunt_ynode_t *n, const char *path, int program,
                       shunt_texpect_t *x)
{
    static const char *const all[] = {"client_status", "client_stdout", "client_counts",
                                      "program_lines", "program_stdout", "program_each",
                                      "program_mirrors", NULL};
    static const char *const client[] = {"client_status", "client_stdout",
                                         "client_counts", NULL};
    char kp[256];
    const shunt_ynode_t *v;
    x->program_lines = -1;
    if (!n)
        return 0;
    if (shunt_yexpect_map(c->e, n, path) < 0 ||
        shunt_ycheck_keys(c->e, n, path, program ? all : client) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "client_status"))) {
        long st;
        shunt_ypath_key(kp, sizeof(kp), path, "client_status");
        if (shunt_yget_int(c->e, v, kp, 0, 255, &st) < 0)
            return -1;
        x->client_status = (int)st;
    }
    if ((v = shunt_ymap_get(n, "client_stdout"))) {
        shunt_ypath_key(kp, sizeof(kp), path, "client_stdout");
        if (get_regexes(c, v, kp, &x->client_stdout, &x->n_client_stdout) < 0)
            return -1;
        x->client_stdout_set = 1;
    }
    if ((v = shunt_ymap_get(n, "client_counts"))) {
        shunt_ypath_key(kp, sizeof(kp), path, "client_counts");
        if (shunt_yexpect_map(c->e, v, kp) < 0)
            return -1;
        if (v->count == 0)
            return shunt_yerror(c->e, v, kp,
                                "expected at least one WORD: COUNT (lines equal to WORD)");
        if (!(x->client_counts = zalloc(c, v->count, sizeof(*x->client_counts))))
            return oom(c);
        for (size_t i = 0; i < v->count; i++) {
            char sub[300];
            const char *w = v->keys[i]->value;
            shunt_ypath_key(sub, sizeof(sub), kp, w);
            if (!w[0] || strchr(w, '\n'))
                return shunt_yerror(c->e, v->keys[i], sub,
                                    "expected a word: a whole line of the client's output");
            if (shunt_yget_int(c->e, v->items[i], sub, 0, 100000000, &x->client_counts[i].count) < 0)
                return -1;
            if (!(x->client_counts[i].word = sdup(c, w)))
                return oom(c);
        }
        x->n_client_counts = v->count;
    }
    if ((v = shunt_ymap_get(n, "program_lines"))) {
        shunt_ypath_key(kp, sizeof(kp), path, "program_lines");
        if (shunt_yget_int(c->e, v, kp, 0, 100000000, &x->program_lines) < 0)
            return -1;
    }
    if ((v = shunt_ymap_get(n, "program_stdout"))) {
        shunt_ypath_key(kp, sizeof(kp), path, "program_stdout");
        if (get_regexes(c, v, kp, &x->program_stdout, &x->n_program_stdout) < 0)
            return -1;
        x->program_stdout_set = 1;
    }
    if ((v = shunt_ymap_get(n, "program_each"))) {
        shunt_ypath_key(kp, sizeof(kp), path, "program_each");
        if (get_regex(c, v, kp, &x->program_each) < 0)
            return -1;
    }
    if ((v = shunt_ymap_get(n, "program_mirrors"))) {
        shunt_ypath_key(kp, sizeof(kp), path, "program_mirrors");
        if (get_regex(c, v, kp, &x->program_mirrors) < 0)
            return -1;
    }
    return 0;
}

static int get_wait(ctx_t *c, const shunt_ynode_t *n, shunt_traffic_t *t)
{
    static const char *const keys[] = {"port", "timeout", NULL};
    const char *path = "traffic.wait";
    const shunt_ynode_t *v;
    long k;
    if (shunt_yexpect_map(c->e, n, path) < 0 || shunt_ycheck_keys(c->e, n, path, keys) < 0)
        return -1;
    if (!(v = shunt_ymap_get(n, "port")))
        return shunt_yerror(c->e, n, path,
                            "missing required key port: the target's port the local "
                            "program takes (its remote port)");
    if (shunt_yget_int(c->e, v, "traffic.wait.port", 1, 65535, &k) < 0)
        return -1;
    t->wait_port = (int)k;
    t->wait_timeout_s = 30;
    if ((v = shunt_ymap_get(n, "timeout"))) {
        if (shunt_yget_int(c->e, v, "traffic.wait.timeout", 1, 3600, &k) < 0)
            return -1;
        t->wait_timeout_s = (int)k;
    }
    return 0;
}

static int get_after(ctx_t *c, const shunt_ynode_t *n, shunt_traffic_t *t)
{
    static const char *const keys[] = {"client", "expect", "within", NULL};
    const char *path = "traffic.after_exit";
    const shunt_ynode_t *v;
    if (shunt_yexpect_map(c->e, n, path) < 0 || shunt_ycheck_keys(c->e, n, path, keys) < 0)
        return -1;
    if (!(v = shunt_ymap_get(n, "client")))
        return shunt_yerror(c->e, n, path, "missing required key client");
    if (get_client(c, v, "traffic.after_exit.client", &t->after_client) < 0 ||
        get_texpect(c, shunt_ymap_get(n, "expect"), "traffic.after_exit.expect", 0,
                    &t->after_expect) < 0)
        return -1;
    t->after_within_ms = 1000;
    if ((v = shunt_ymap_get(n, "within"))) {
        long ms;
        if (shunt_yget_int(c->e, v, "traffic.after_exit.within", 0, 600000, &ms) < 0) {
            size_t l = strlen(c->e->buf);
            snprintf(c->e->buf + l, c->e->len - l, " (milliseconds)");
            return -1;
        }
        t->after_within_ms = (int)ms;
    }
    t->has_after = 1;
    return 0;
}

int shunt_traffic_parse(const shunt_yerr_t *e, const shunt_target_spec_t *target,
                        const shunt_ynode_t *n, const shunt_ynode_t *runs,
                        const shunt_ynode_t *expect, shunt_runspec_t *r)
{
    static const char *const keys[] = {"wait", "client", "expect", "after_exit", NULL};
    const shunt_ynode_t *v;
    if (!n || shunt_ynode_is_null(n))
        return 0;
    owned_t *o = calloc(1, sizeof(*o));
    ctx_t c = {.e = e, .o = o, .target = target};
    if (!o)
        return oom(&c);
    shunt_traffic_t *t = &o->t;
    t->mem = o;
    r->traffic = t; /* freed with r from here on */
    if (shunt_yexpect_map(e, n, "traffic") < 0 || shunt_ycheck_keys(e, n, "traffic", keys) < 0)
        return -1;
    if (!(v = shunt_ymap_get(n, "wait")))
        return shunt_yerror(e, n, "traffic",
                            "missing required key wait: {port: N}, the remote port "
                            "whose subscription the client waits for");
    if (get_wait(&c, v, t) < 0)
        return -1;
    if (!(v = shunt_ymap_get(n, "client")))
        return shunt_yerror(e, n, "traffic",
                            "missing required key client: {service, command}");
    if (get_client(&c, v, "traffic.client", &t->client) < 0 ||
        get_texpect(&c, shunt_ymap_get(n, "expect"), "traffic.expect", 1, &t->expect) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "after_exit")) && get_after(&c, v, t) < 0)
        return -1;
    /* a local run only: the reference has no layer to take the port */
    const shunt_ynode_t *ref = runs && runs->kind == SHUNT_Y_MAP
                                   ? shunt_ymap_get(runs, "reference")
                                   : NULL;
    if (ref && r->run_reference)
        return shunt_yerror(e, ref, "runs.reference",
                            "a scenario with traffic: is a local run only (the "
                            "program takes the target's port under the layer)");
    if (!r->run_local)
        return shunt_yerror(e, n, "traffic", "runs.local is false: traffic: needs the local run");
    r->run_reference = 0;
    if (r->no_leaks || r->leaks_listed)
        return shunt_yerror(e, n, "traffic",
                            "expect.no_leaks and expect.leaks are not for a traffic: "
                            "run (the recorder's run has no client)");
    /* the program is stopped by SIGTERM: its status counts only when asked */
    if (!(expect && expect->kind == SHUNT_Y_MAP && shunt_ymap_get(expect, "status")))
        r->want_status = -1;
    return 0;
}

void shunt_traffic_free(shunt_traffic_t *t)
{
    if (!t)
        return;
    owned_t *o = (owned_t *)t;
    shunt_arena_release(&o->mem);
    free(o);
}
