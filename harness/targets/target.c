/* Targets: bringing them up and down, their status and info. */
#include "target_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "shunt/util.h"

#define DEFAULT_READY_MS 15000

/* ---- up --------------------------------------------------------------- */

static void progress(const shunt_up_opts_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const shunt_up_opts_t *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->progress, fmt, ap);
    va_end(ap);
    fputc('\n', o->progress);
    fflush(o->progress);
}

static int start_ctr(ctr_t *c, char *err, size_t errlen)
{
    char log[PATH_MAX], pidf[PATH_MAX];
    if (shunt_fmt(log, sizeof(log), "%s/log", c->bundle) < 0 ||
        shunt_fmt(pidf, sizeof(pidf), "%s/pid", c->bundle) < 0)
        return snprintf(err, errlen, "bundle path too long: %s", c->bundle), -1;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return snprintf(err, errlen, "cannot open %s: %s", log, strerror(errno)), -1;
    /* runc run -d hands its stdout/stderr to the container's process. */
    const char *const argv[] = {"runc", "run", "-d", "--bundle", c->bundle,
                                "--pid-file", pidf, c->st->id, NULL};
    char out[512];
    int rc = tgt_run_argv(argv, fd, out, sizeof(out));
    close(fd);
    if (rc != 0) {
        char cmd[1024];
        tgt_join_argv(argv, cmd, sizeof(cmd));
        if (rc < 0)
            snprintf(err, errlen, "`%s`: %s", cmd, out);
        else
            snprintf(err, errlen, "`%s` failed (exit %d)", cmd, rc);
        tgt_append_tail(err, errlen, "its output", log);
        return -1;
    }
    FILE *f = fopen(pidf, "re");
    if (!f || fscanf(f, "%d", &c->st->pid) != 1) {
        if (f)
            fclose(f);
        return snprintf(err, errlen, "runc wrote no pid to %s", pidf), -1;
    }
    fclose(f);
    c->st->start = tgt_proc_start(c->st->pid);
    return 0;
}

/* Files under /tmp, the tmpfs the container got when it started: through
 * a directory fd of its root, never following its symlinks. */
static int put_tmp_files(const ctr_t *c, char *err, size_t errlen)
{
    int any = 0;
    for (size_t i = 0; c->files && i < c->files->n; i++)
        any |= tgt_in_tmp(c->files->v[i].path);
    if (!any)
        return 0;
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/root", c->st->pid);
    int root = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return snprintf(err, errlen, "cannot open %s: %s", p, strerror(errno)), -1;
    int rc = tgt_put_files(root, c->files, 1, err, errlen);
    close(root);
    return rc;
}

/* target.setup[i], run in the target (runc exec, as root, from /) once it
 * is up; its output goes to the target's log. */
static int run_setup(const shunt_up_opts_t *o, const ctr_t *c, char **argv, size_t i,
                     char *err, size_t errlen)
{
    char log[PATH_MAX], cmd[1024];
    size_t n = 0;
    while (argv[n])
        n++;
    const char **av = calloc(n + 10, sizeof(char *));
    if (!av || shunt_fmt(log, sizeof(log), "%s/log", c->bundle) < 0) {
        free(av);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    size_t k = 0;
    av[k++] = "timeout"; /* a setup that hangs fails up instead */
    av[k++] = "-k";
    av[k++] = "5";
    av[k++] = "300";
    av[k++] = "runc";
    av[k++] = "exec";
    av[k++] = "--cwd";
    av[k++] = "/";
    av[k++] = c->st->id;
    for (size_t j = 0; j < n; j++)
        av[k++] = argv[j];
    tgt_join_argv((const char *const *)argv, cmd, sizeof(cmd));
    progress(o, "setup: %s", cmd);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    char out[512] = "";
    int rc = fd < 0 ? -1 : tgt_run_argv(av, fd, out, sizeof(out));
    if (fd >= 0)
        close(fd);
    free(av);
    if (rc != 0) {
        if (rc < 0)
            snprintf(err, errlen, "target.setup[%zu] `%s`: %s", i, cmd,
                     fd < 0 ? strerror(errno) : out);
        else
            snprintf(err, errlen, "target.setup[%zu] `%s` failed (exit %d)", i, cmd, rc);
        tgt_append_tail(err, errlen, "the target's log", log);
        return -1;
    }
    return 0;
}

/* target.daemons[i]: `runc exec -d` in the target (as root, from /), its
 * stdout and stderr appended to DIR/daemon-I.log beside the target's log;
 * up waits for its port from the target's network, as for a service. */
static int start_daemon(const shunt_up_opts_t *o, const ctr_t *c,
                        const shunt_daemon_spec_t *d, size_t i, char *err, size_t errlen)
{
    char log[PATH_MAX], pidf[PATH_MAX], cmd[1024], what[64];
    const char **av = calloc(d->n_command + 2 * d->env.n + 12, sizeof(char *));
    char **envs = calloc(d->env.n + 1, sizeof(char *));
    int rc = -1, fd = -1, pid = 0;
    snprintf(what, sizeof(what), "target.daemons[%zu]", i);
    if (!av || !envs || shunt_fmt(log, sizeof(log), "%s/daemon-%zu.log", c->bundle, i) < 0 ||
        shunt_fmt(pidf, sizeof(pidf), "%s/daemon-%zu.pid", c->bundle, i) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t k = 0;
    av[k++] = "runc";
    av[k++] = "exec";
    av[k++] = "-d";
    av[k++] = "--pid-file";
    av[k++] = pidf;
    av[k++] = "--cwd";
    av[k++] = "/";
    for (size_t j = 0; j < d->env.n; j++) {
        if (asprintf(&envs[j], "%s=%s", d->env.v[j].key, d->env.v[j].value) < 0) {
            envs[j] = NULL;
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        av[k++] = "--env";
        av[k++] = envs[j];
    }
    av[k++] = c->st->id;
    for (size_t j = 0; j < d->n_command; j++)
        av[k++] = d->command[j];
    tgt_join_argv((const char *const *)d->command, cmd, sizeof(cmd));
    progress(o, "starting daemon %s%s%.0d...", cmd, d->port ? " on port " : "", d->port);
    unlink(pidf);
    /* runc exec -d hands its stdout and stderr to the process */
    fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    char out[512] = "";
    int r = fd < 0 ? -1 : tgt_run_argv(av, fd, out, sizeof(out));
    if (r != 0) {
        if (r < 0)
            snprintf(err, errlen, "%s `%s`: %s", what, cmd, fd < 0 ? strerror(errno) : out);
        else
            snprintf(err, errlen, "%s `%s` did not start (runc exec exit %d)", what, cmd, r);
        tgt_append_tail(err, errlen, "its log", log);
        goto out;
    }
    FILE *f = fopen(pidf, "re");
    if (!f || fscanf(f, "%d", &pid) != 1)
        pid = 0;
    if (f)
        fclose(f);
    if (d->port > 0) {
        int ms = o->ready_timeout_ms > 0 ? o->ready_timeout_ms : DEFAULT_READY_MS;
        r = tgt_wait_tcp(c->st->id, c->st->ip, d->port, pid, ms, err, errlen);
        if (r == 1)
            snprintf(err, errlen,
                     "%s `%s` did not answer on %s:%d (TCP, from the target's network) "
                     "within %d ms",
                     what, cmd, c->st->ip, d->port, ms);
        else if (r == 2)
            snprintf(err, errlen, "%s `%s` exited before its port %d answered", what, cmd,
                     d->port);
        if (r != 0) {
            tgt_append_tail(err, errlen, "its log", log);
            goto out;
        }
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    for (size_t j = 0; envs && j < d->env.n; j++)
        free(envs[j]);
    free(envs);
    free(av);
    return rc;
}

static int ready_ctr(const shunt_up_opts_t *o, const char *target_ns, ctr_t *c,
                     const char *what, char *err, size_t errlen)
{
    int ms = o->ready_timeout_ms > 0 ? o->ready_timeout_ms : DEFAULT_READY_MS;
    char log[PATH_MAX];
    if (shunt_fmt(log, sizeof(log), "%s/log", c->bundle) < 0)
        return snprintf(err, errlen, "bundle path too long: %s", c->bundle), -1;
    if (c->port > 0) {
        int rc = tgt_wait_tcp(target_ns, c->st->ip, c->port, c->st->pid, ms, err, errlen);
        if (rc == 1)
            snprintf(err, errlen,
                     "%s did not answer on %s:%d (TCP, from the target's network) "
                     "within %d ms",
                     what, c->st->ip, c->port, ms);
        else if (rc == 2)
            snprintf(err, errlen, "%s exited before its port %d answered", what,
                     c->port);
        if (rc != 0) {
            tgt_append_tail(err, errlen, "its log", log);
            return -1;
        }
    }
    if (!tgt_ctr_alive(c->st)) {
        snprintf(err, errlen, "%s is not running (pid %d)", what, c->st->pid);
        tgt_append_tail(err, errlen, "its log", log);
        return -1;
    }
    return 0;
}

/* dnsmasq's --local=/DOMAIN/NAME/...: the cluster's names are answered
 * here and only here (with --local=//): a question it has no record for
 * (AAAA, MX... of a name with only an A) gets NOERROR without data, an
 * unknown name NXDOMAIN -- not REFUSED, which it answered for want of an
 * upstream server, and which made host(1) and nslookup fail.  "//" is
 * every name without a dot; a name under the domain is covered by it. */
static void dns_local_arg(const shunt_target_spec_t *t, char *out, size_t outlen)
{
    size_t dl = (size_t)snprintf(out, outlen, "--local=/%s/", t->dns_domain);
    size_t dlen = strlen(t->dns_domain);
    for (size_t i = 0; i < t->n_services + t->n_dns_records + 1; i++) {
        const shunt_service_spec_t *sv = i < t->n_services ? &t->services[i] : NULL;
        size_t na = sv ? sv->n_aliases : 1;
        for (size_t a = 0; a < na; a++) {
            const char *nm = sv ? sv->aliases[a]
                             : i < t->n_services + t->n_dns_records
                                 ? t->dns_records[i - t->n_services].name
                                 : t->hostname;
            size_t l = strlen(nm);
            if (!strchr(nm, '.') || (l > dlen && nm[l - dlen - 1] == '.' &&
                                     strcasecmp(nm + l - dlen, t->dns_domain) == 0))
                continue; /* under // or the domain already */
            if (dl + l + 2 < outlen)
                dl += (size_t)snprintf(out + dl, outlen - dl, "%s/", nm);
        }
    }
}

/* The containers, in st and ctrs: dns (when services exist, running
 * dns_argv), the services, the target last.  Their number. */
static size_t plan_ctrs(const shunt_target_spec_t *t, state_t *st, ctr_t *ctrs,
                        const char *const *dns_argv)
{
    static const char *const init_argv[] = {"/.shunt/init", NULL};
    static shunt_envlist_t empty_env;
    static shunt_env_t path_env[] = {{"PATH", SHUNT_DEFAULT_PATH}};
    empty_env.v = path_env;
    empty_env.n = 1;
    size_t n = 0;
    if (t->n_services > 0) {
        ctr_state_t *c = &st->ctr[n];
        snprintf(c->id, sizeof(c->id), "shunt-%s-dns", t->name);
        snprintf(c->role, sizeof(c->role), "dns");
        snprintf(c->ip, sizeof(c->ip), "10.200.%u.3", (unsigned char)st->subnet);
        ctrs[n] = (ctr_t){.st = c, .argv = dns_argv, .env = &empty_env,
                          .hostname = "dns", .port = 53};
        n++;
    }
    for (size_t i = 0; i < t->n_services; i++) {
        const shunt_service_spec_t *sv = &t->services[i];
        ctr_state_t *c = &st->ctr[n];
        snprintf(c->id, sizeof(c->id), "shunt-%s-%s", t->name, sv->name);
        snprintf(c->role, sizeof(c->role), "service");
        snprintf(c->svc, sizeof(c->svc), "%s", sv->name);
        snprintf(c->ip, sizeof(c->ip), "10.200.%u.%u", (unsigned char)st->subnet,
                 (unsigned char)(10 + i));
        ctrs[n] = (ctr_t){.st = c, .argv = (const char *const *)sv->command,
                          .env = &sv->env, .files = &sv->files,
                          .hostname = sv->name, .port = sv->port};
        n++;
    }
    ctr_state_t *tc = &st->ctr[n];
    snprintf(tc->id, sizeof(tc->id), "shunt-%s-target", t->name);
    snprintf(tc->role, sizeof(tc->role), "target");
    snprintf(tc->ip, sizeof(tc->ip), "10.200.%u.2", (unsigned char)st->subnet);
    ctrs[n] = (ctr_t){.st = tc, .argv = init_argv, .env = &t->env,
                      .files = &t->files, .hostname = t->hostname, .is_target = 1};
    n++;
    st->n_ctr = n;
    for (size_t i = 0; i < n; i++)
        ctrs[i].spec = t;
    return n;
}

/* The bridge netns and one veth per container. */
static int make_networks(const shunt_up_opts_t *o, const state_t *st, const ctr_t *ctrs,
                         size_t n, const char *br, char *err, size_t errlen)
{
    progress(o, "creating network 10.200.%d.0/24...", st->subnet);
    if (tgt_add_bridge(br, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char veth[16];
        snprintf(veth, sizeof(veth), "v%u", (unsigned)i % 1000);
        if (tgt_add_ctr_network(br, ctrs[i].st->id, veth, ctrs[i].st->ip, err,
                                errlen) < 0)
            return -1;
    }
    return 0;
}

/* Each container's rootfs and config.json. */
static int make_bundles(const shunt_up_opts_t *o, const shunt_target_spec_t *t,
                        const state_t *st, ctr_t *ctrs, size_t n, char *err,
                        size_t errlen)
{
    etc_texts_t etc;
    int rc = tgt_etc_texts(t, st, t->n_services > 0, &etc);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int dns = strcmp(ctrs[i].st->role, "dns") == 0;
        rc = tgt_build_rootfs(&ctrs[i], ctrs[i].is_target ? etc.thosts : etc.hosts,
                              etc.resolv, dns ? "/etc/cluster.hosts" : NULL,
                              etc.chosts, err, errlen);
        if (rc == 0)
            rc = tgt_write_config(&ctrs[i], o->init_path, dns, err, errlen);
    }
    tgt_etc_texts_free(&etc);
    return rc < 0 ? -1 : 0;
}

/* Starts each container in turn, waiting until it is ready, then runs
 * target.setup in the target (the last). */
static int start_all(const shunt_up_opts_t *o, const shunt_target_spec_t *t,
                     state_t *st, ctr_t *ctrs, size_t n, char *err, size_t errlen)
{
    const char *target_ns = ctrs[n - 1].st->id;
    for (size_t i = 0; i < n; i++) {
        ctr_t *c = &ctrs[i];
        char what[128];
        if (c->is_target)
            snprintf(what, sizeof(what), "target %s", t->name);
        else if (c->st->svc[0])
            snprintf(what, sizeof(what), "service %s", c->st->svc);
        else
            snprintf(what, sizeof(what), "cluster DNS");
        progress(o, "starting %s (%s)...", what, c->st->ip);
        if (start_ctr(c, err, errlen) < 0 || tgt_state_write(st, err, errlen) < 0 ||
            put_tmp_files(c, err, errlen) < 0 ||
            ready_ctr(o, target_ns, c, what, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < t->n_setup; i++)
        if (run_setup(o, &ctrs[n - 1], t->setup[i], i, err, errlen) < 0)
            return -1;
    for (size_t i = 0; i < t->n_daemons; i++)
        if (start_daemon(o, &ctrs[n - 1], &t->daemons[i], i, err, errlen) < 0)
            return -1;
    return 0;
}

static int setup(const shunt_scenario_t *s, const shunt_up_opts_t *o,
                 state_t *st, ctr_t *ctrs, char *err, size_t errlen)
{
    const shunt_target_spec_t *t = &s->target;
    char dir[PATH_MAX], br[96];
    tgt_state_dir(t->name, dir, sizeof(dir));
    snprintf(br, sizeof(br), "shunt-%s-br", t->name);
    char dns_listen[64];
    static char dns_local[65536];
    snprintf(dns_listen, sizeof(dns_listen), "--listen-address=10.200.%d.3", st->subnet);
    dns_local_arg(t, dns_local, sizeof(dns_local));
    const char *const dns_argv[] = {
        "/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv",
        "--no-hosts", "--addn-hosts=/etc/cluster.hosts", "--bind-interfaces",
        dns_listen, "--user=root", "--group=root", "--domain-needed",
        "--bogus-priv", "--local=//", dns_local, "--log-facility=-", NULL,
    };
    size_t n = plan_ctrs(t, st, ctrs, dns_argv);
    for (size_t i = 0; i < n; i++)
        if (shunt_fmt(ctrs[i].bundle, sizeof(ctrs[i].bundle), "%s/%s", dir,
                      ctrs[i].st->id) < 0)
            return snprintf(err, errlen, "state path too long"), -1;
    if (tgt_state_write(st, err, errlen) < 0 ||
        make_networks(o, st, ctrs, n, br, err, errlen) < 0 ||
        make_bundles(o, t, st, ctrs, n, err, errlen) < 0 ||
        start_all(o, t, st, ctrs, n, err, errlen) < 0)
        return -1;
    snprintf(st->status, sizeof(st->status), "up");
    return tgt_state_write(st, err, errlen);
}

static void fill_info(const state_t *st, shunt_target_info_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", st->name);
    tgt_state_dir(st->name, out->state_dir, sizeof(out->state_dir));
    for (size_t i = 0; i < st->n_ctr; i++)
        if (strcmp(st->ctr[i].role, "target") == 0) {
            out->init_pid = st->ctr[i].pid;
            snprintf(out->ip, sizeof(out->ip), "%s", st->ctr[i].ip);
            /* ids are validated to fit (name <= 20 chars) */
            shunt_fmt(out->netns, sizeof(out->netns), "%s", st->ctr[i].id);
        }
}

int shunt_target_up(const shunt_scenario_t *s, const shunt_up_opts_t *o,
                    shunt_target_info_t *out, char *err, size_t errlen)
{
    const shunt_target_spec_t *t = &s->target;
    state_t *st = calloc(1, sizeof(*st));
    state_t *old = calloc(1, sizeof(*old));
    ctr_t *ctrs = calloc(SHUNT_MAX_SERVICES + 2, sizeof(*ctrs));
    int rc = -1, lock = -1;
    char hash[17], why[512], scen[PATH_MAX];
    if (!st || !old || !ctrs) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (tgt_config_hash(t, o->init_path, hash, err, errlen) < 0)
        goto done;
    if ((lock = tgt_lock_target(t->name, err, errlen)) < 0)
        goto done;
    if (tgt_state_read(t->name, old) == 0) {
        const char *problem = tgt_state_problem(old, why, sizeof(why));
        if (!problem && strcmp(old->hash, hash) == 0) {
            fill_info(old, out);
            progress(o, "target %s is already up: ip %s, init pid %d", t->name,
                     out->ip, out->init_pid);
            rc = 1;
            goto done;
        }
        progress(o, "target %s: %s; recreating it", t->name,
                 problem ? problem : "configuration changed");
    }
    int removed = 0;
    char terr[ERRLEN];
    if (tgt_teardown(t->name, &removed, terr, sizeof(terr)) > 0) {
        snprintf(err, errlen, "cannot clean up the previous target %s: %s", t->name,
                 terr);
        goto done;
    }
    if (removed && !old->status[0])
        progress(o, "removed leftovers of an earlier target %s", t->name);

    snprintf(st->name, sizeof(st->name), "%s", t->name);
    snprintf(st->hash, sizeof(st->hash), "%s", hash);
    snprintf(st->status, sizeof(st->status), "creating");
    if (!realpath(s->file, scen))
        snprintf(scen, sizeof(scen), "%s", s->file);
    snprintf(st->scenario, sizeof(st->scenario), "%s", scen);
    if (tgt_allocate_subnet(st, err, errlen) < 0)
        goto done;
    if (setup(s, o, st, ctrs, err, errlen) < 0) {
        size_t l = strlen(err);
        if (!o->keep_on_failure) {
            tgt_teardown(t->name, &removed, terr, sizeof(terr));
            snprintf(err + l, errlen - l,
                     "\n  (target %s was removed; --keep-on-failure keeps its "
                     "state and logs)",
                     t->name);
        } else {
            char werr[256];
            snprintf(st->status, sizeof(st->status), "failed");
            tgt_state_write(st, werr, sizeof(werr));
            snprintf(err + l, errlen - l,
                     "\n  state kept in %s/%s; remove it with `harness down %s`",
                     SHUNT_STATE_ROOT, t->name, t->name);
        }
        goto done;
    }
    fill_info(st, out);
    progress(o, "target %s is up: ip %s, init pid %d", t->name, out->ip,
             out->init_pid);
    rc = 0;
done:
    if (lock >= 0)
        tgt_unlock_target(t->name, lock, rc < 0 && !o->keep_on_failure);
    free(st);
    free(old);
    free(ctrs);
    return rc;
}

/* ---- down, info, status ---------------------------------------------- */

int shunt_target_down(const char *name, char *err, size_t errlen)
{
    if (!shunt_valid_name(name))
        return snprintf(err, errlen, "\"%s\" is not a valid target name", name), -1;
    int lock = tgt_lock_target(name, err, errlen);
    if (lock < 0)
        return -1;
    int removed = 0;
    int left = tgt_teardown(name, &removed, err, errlen);
    tgt_unlock_target(name, lock, left == 0);
    if (left > 0)
        return -1;
    return removed ? 0 : 1;
}

int shunt_target_info(const char *name, shunt_target_info_t *out, char *err,
                      size_t errlen)
{
    state_t *st = malloc(sizeof(*st));
    char why[512];
    if (!st)
        return snprintf(err, errlen, "out of memory"), -1;
    memset(out, 0, sizeof(*out));
    if (!shunt_valid_name(name)) {
        snprintf(err, errlen, "\"%s\" is not a target name", name);
        free(st);
        return -1;
    }
    if (tgt_state_read(name, st) < 0) {
        snprintf(err, errlen, "target %s is not up (no state in %s/%s)", name,
                 SHUNT_STATE_ROOT, name);
        free(st);
        return -1;
    }
    fill_info(st, out);
    const char *problem = tgt_state_problem(st, why, sizeof(why));
    if (problem)
        snprintf(err, errlen, "target %s is not healthy: %s", name, problem);
    free(st);
    return problem ? -1 : 0;
}

int shunt_target_status(const char *name, shunt_target_status_t *out, char *err,
                        size_t errlen)
{
    state_t *st = malloc(sizeof(*st));
    char why[512];
    memset(out, 0, sizeof(*out));
    if (!st)
        return snprintf(err, errlen, "out of memory"), -1;
    if (tgt_state_read(name, st) < 0) {
        free(st);
        snprintf(out->info.name, sizeof(out->info.name), "%s", name);
        snprintf(out->state, sizeof(out->state), "stale");
        return 0;
    }
    fill_info(st, &out->info);
    const char *problem = tgt_state_problem(st, why, sizeof(why));
    snprintf(out->state, sizeof(out->state), "%s",
             strcmp(st->status, "failed") == 0 ? "failed"
             : strcmp(st->status, "up") != 0  ? "creating"
             : problem                        ? "degraded"
                                              : "up");
    snprintf(out->scenario, sizeof(out->scenario), "%s", st->scenario);
    snprintf(out->subnet, sizeof(out->subnet), "10.200.%d.0/24", st->subnet);
    out->ctr = calloc(st->n_ctr ? st->n_ctr : 1, sizeof(*out->ctr));
    if (!out->ctr) {
        free(st);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    for (size_t i = 0; i < st->n_ctr; i++) {
        shunt_container_status_t *c = &out->ctr[i];
        snprintf(c->id, sizeof(c->id), "%s", st->ctr[i].id);
        snprintf(c->role, sizeof(c->role), "%s", st->ctr[i].role);
        snprintf(c->ip, sizeof(c->ip), "%s", st->ctr[i].ip);
        snprintf(c->log, sizeof(c->log), "%s/%s/log", out->info.state_dir,
                 st->ctr[i].id);
        c->pid = st->ctr[i].pid;
        c->alive = tgt_ctr_alive(&st->ctr[i]);
    }
    out->n_ctr = st->n_ctr;
    char idir[PATH_MAX];
    if (shunt_fmt(idir, sizeof(idir), "%s/incoming", out->info.state_dir) == 0)
        shunt_target_incoming_read(idir, &out->in, &out->n_in);
    free(st);
    return 0;
}

void shunt_target_status_free(shunt_target_status_t *st)
{
    free(st->ctr);
    st->ctr = NULL;
    st->n_ctr = 0;
    free(st->in);
    st->in = NULL;
    st->n_in = 0;
}

int shunt_find_init(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env = getenv("SHUNT_INIT");
    char exe[PATH_MAX];
    if (env && *env) {
        if (access(env, X_OK) < 0)
            return snprintf(err, errlen, "SHUNT_INIT=%s: %s", env, strerror(errno)), -1;
        return shunt_fmt(out, outlen, "%s", env) < 0 ? -1 : 0;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0)
        return snprintf(err, errlen, "readlink /proc/self/exe: %s", strerror(errno)), -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    static const char *const rel[] = {"shunt-init", "../libexec/shunt/shunt-init", NULL};
    for (size_t i = 0; rel[i]; i++) {
        char cand[PATH_MAX], real[PATH_MAX];
        if (shunt_fmt(cand, sizeof(cand), "%s/%s", exe, rel[i]) == 0 &&
            access(cand, X_OK) == 0 && realpath(cand, real))
            return shunt_fmt(out, outlen, "%s", real) < 0 ? -1 : 0;
    }
    return snprintf(err, errlen,
                    "cannot find shunt-init next to %s (build it, or set SHUNT_INIT)",
                    exe), -1;
}
