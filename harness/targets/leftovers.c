/* Leftovers of targets (runc containers, netns, mounts): finding and removing them. */
#include "target_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "shunt/log.h"

/* runc containers whose bundle lives in NAME's state dir (NAME NULL: in
 * any state dir). Parses `runc list --format json`. */
static int runc_owned(const char *name, char ***ids, size_t *n, char ***owners)
{
    char *out = malloc(1 << 20);
    *ids = NULL;
    *n = 0;
    if (owners)
        *owners = NULL;
    if (!out)
        return -1;
    /* `runc list` stats every container directory it read from /run/runc
     * and fails as a whole ("stat /run/runc/ID: no such file or
     * directory", runc 1.1) when another process deletes a container in
     * between: with `harness run -j N`, or helpers sharing the machine, one
     * target's teardown made the next `harness up` an ERROR.  That race is
     * retried (a few times, 50 ms apart); any other failure is not. */
    for (int attempt = 1;; attempt++) {
        if (tgt_run_argv((const char *const[]){"runc", "list", "--format", "json", NULL},
                         -1, out, 1 << 20) == 0)
            break;
        if (attempt < 5 && strstr(out, "no such file or directory")) {
            LOG_DEBUG("runc list raced with a delete (retrying): %s", out);
            nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
            continue;
        }
        LOG_WARN("runc list failed: %s", out);
        free(out);
        return -1;
    }
    char prefix[PATH_MAX];
    snprintf(prefix, sizeof(prefix), "%s/%s%s", SHUNT_STATE_ROOT,
             name ? name : "", name ? "/" : "");
    for (char *p = out; (p = strstr(p, "\"id\":\""));) {
        p += 6;
        char *end = strchr(p, '"');
        if (!end)
            break;
        char id[256];
        snprintf(id, sizeof(id), "%.*s", (int)(end - p), p);
        char *b = strstr(end, "\"bundle\":\"");
        char *next = strstr(end, "\"id\":\"");
        if (!b || (next && b > next))
            continue;
        b += 10;
        char *bend = strchr(b, '"');
        if (!bend)
            break;
        size_t blen = (size_t)(bend - b);
        if (blen < strlen(prefix) || strncmp(b, prefix, strlen(prefix)) != 0)
            continue;
        char **ni = realloc(*ids, (*n + 1) * sizeof(*ni));
        if (!ni)
            break;
        *ids = ni;
        ni[*n] = strdup(id);
        if (owners) {
            char **no = realloc(*owners, (*n + 1) * sizeof(*no));
            if (!no)
                break;
            *owners = no;
            const char *o = b + strlen(SHUNT_STATE_ROOT) + 1;
            no[*n] = strndup(o, strcspn(o, "/\""));
        }
        (*n)++;
        p = bend;
    }
    free(out);
    return 0;
}

/* A netns named shunt-NAME-X belongs to NAME unless a longer target name
 * with state also prefixes it (shunt-a-b-c: target a-b beats target a). */
static int netns_owned_by(const char *ns, const char *name, char **others,
                          size_t n_others)
{
    char prefix[96];
    snprintf(prefix, sizeof(prefix), "shunt-%s-", name);
    size_t pl = strlen(prefix);
    if (strncmp(ns, prefix, pl) != 0 || !shunt_valid_name(ns + pl))
        return 0;
    for (size_t i = 0; i < n_others; i++) {
        char op[96];
        snprintf(op, sizeof(op), "shunt-%s-", others[i]);
        if (strlen(others[i]) > strlen(name) && strncmp(ns, op, strlen(op)) == 0)
            return 0;
    }
    return 1;
}

static int list_netns(char ***names, size_t *n, const char *prefix)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(SHUNT_NETNS_DIR);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char **nn = realloc(*names, (*n + 1) * sizeof(*nn));
        if (!nn)
            break;
        *names = nn;
        if ((nn[*n] = strdup(e->d_name)))
            (*n)++;
    }
    closedir(d);
    return 0;
}

/* Unmounts anything mounted beneath dir (innermost first). */
static void unmount_under(const char *dir)
{
    char line[8192];
    size_t dl = strlen(dir);
    for (int pass = 0; pass < 8; pass++) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
            return;
        char found[PATH_MAX] = "";
        while (fgets(line, sizeof(line), f)) {
            char mp[PATH_MAX];
            if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                continue;
            if (strncmp(mp, dir, dl) == 0 && (mp[dl] == '/' || mp[dl] == 0) &&
                strlen(mp) > strlen(found))
                snprintf(found, sizeof(found), "%s", mp);
        }
        fclose(f);
        if (!found[0])
            return;
        LOG_DEBUG("umount %s", found);
        if (umount2(found, MNT_DETACH) < 0) {
            LOG_WARN("umount %s: %s", found, strerror(errno));
            return;
        }
    }
}

/* Removes everything NAME owns. Returns the number of things that could
 * not be removed (err says which), or 0; *removed counts what went. */
int tgt_teardown(const char *name, int *removed, char *err, size_t errlen)
{
    char dir[PATH_MAX], msg[ERRLEN];
    int left = 0;
    tgt_state_dir(name, dir, sizeof(dir));
    err[0] = 0;

    char **ids;
    size_t n_ids;
    if (runc_owned(name, &ids, &n_ids, NULL) == 0) {
        for (size_t i = 0; i < n_ids; i++) {
            LOG_INFO("removing container %s", ids[i]);
            if (RUN(msg, sizeof(msg), "runc", "delete", "-f", ids[i]) < 0) {
                LOG_WARN("%s", msg);
                snprintf(err, errlen, "%s", msg);
                left++;
            } else {
                (*removed)++;
            }
        }
        tgt_free_names(ids, n_ids);
    } else {
        snprintf(err, errlen, "cannot list runc containers (is runc installed?)");
        left++;
    }

    char **others, **nss;
    size_t n_others, n_ns;
    char prefix[96];
    snprintf(prefix, sizeof(prefix), "shunt-%s-", name);
    if (tgt_list_state_dirs(&others, &n_others) < 0) {
        others = NULL;
        n_others = 0;
    }
    list_netns(&nss, &n_ns, prefix);
    for (size_t i = 0; i < n_ns; i++) {
        if (!netns_owned_by(nss[i], name, others, n_others))
            continue;
        LOG_INFO("removing network namespace %s", nss[i]);
        if (RUN(msg, sizeof(msg), "ip", "netns", "delete", nss[i]) < 0) {
            LOG_WARN("%s", msg);
            snprintf(err, errlen, "%s", msg);
            left++;
        } else {
            (*removed)++;
        }
    }
    tgt_free_names(nss, n_ns);
    tgt_free_names(others, n_others);

    unmount_under(dir);
    struct stat st;
    if (lstat(dir, &st) == 0) {
        (*removed)++;
        if (tgt_rm_rf(dir) < 0) {
            snprintf(err, errlen, "cannot remove %s: %s", dir, strerror(errno));
            left++;
        }
    }
    return left;
}

static int add_name(char ***names, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*names)[i], name) == 0)
            return 0;
    char **nn = realloc(*names, (*n + 1) * sizeof(*nn));
    if (!nn)
        return -1;
    *names = nn;
    if (!(nn[*n] = strdup(name)))
        return -1;
    (*n)++;
    return 0;
}

int shunt_target_list(char ***names, size_t *n, char *err, size_t errlen)
{
    if (tgt_list_state_dirs(names, n) < 0)
        return snprintf(err, errlen, "cannot read %s: %s", SHUNT_STATE_ROOT,
                        strerror(errno)), -1;
    /* Leftovers without state: a bridge netns or a runc container whose
     * bundle was in a (now missing) state dir. */
    char **nss, **ids, **owners;
    size_t n_ns, n_ids;
    list_netns(&nss, &n_ns, "shunt-");
    for (size_t i = 0; i < n_ns; i++) {
        size_t l = strlen(nss[i]);
        if (l > 9 && strcmp(nss[i] + l - 3, "-br") == 0) {
            char nm[64];
            snprintf(nm, sizeof(nm), "%.*s", (int)(l - 9), nss[i] + 6);
            if (shunt_valid_name(nm))
                add_name(names, n, nm);
        }
    }
    tgt_free_names(nss, n_ns);
    if (runc_owned(NULL, &ids, &n_ids, &owners) == 0) {
        for (size_t i = 0; i < n_ids; i++)
            if (owners[i] && shunt_valid_name(owners[i]))
                add_name(names, n, owners[i]);
        tgt_free_names(ids, n_ids);
        tgt_free_names(owners, n_ids);
    }
    return 0;
}

int shunt_target_sweep(char *err, size_t errlen)
{
    char **nss, **ids, msg[ERRLEN];
    size_t n_ns, n_ids;
    int left = 0;
    err[0] = 0;
    if (runc_owned(NULL, &ids, &n_ids, NULL) == 0) {
        for (size_t i = 0; i < n_ids; i++)
            if (RUN(msg, sizeof(msg), "runc", "delete", "-f", ids[i]) < 0) {
                snprintf(err, errlen, "%s", msg);
                left++;
            }
        tgt_free_names(ids, n_ids);
    }
    list_netns(&nss, &n_ns, "shunt-");
    for (size_t i = 0; i < n_ns; i++) {
        LOG_INFO("removing stray network namespace %s", nss[i]);
        if (RUN(msg, sizeof(msg), "ip", "netns", "delete", nss[i]) < 0) {
            snprintf(err, errlen, "%s", msg);
            left++;
        }
    }
    tgt_free_names(nss, n_ns);
    return left;
}
