/* traffic: for the runner: the proxy's subscription list, and the
 * verdict on the client's and the program's output (shunt/trafficrun.h). */
#include "shunt/trafficrun.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "shunt/target.h"
#include "shunt/util.h"

int shunt_incoming_lists_port(const char *dir, int port, char *line, size_t linelen)
{
    shunt_target_insub_t *v;
    size_t n;
    if (shunt_target_incoming_read(dir, &v, &n) < 0)
        return 0;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        if (v[i].remote_port == port) {
            found = 1;
            if (line && linelen)
                snprintf(line, linelen, "%d %d %s", v[i].remote_port, v[i].local_port,
                         v[i].mode);
        }
    free(v);
    return found;
}

/* The lines of text (NULL: none), as an array of pointers into a copy. */
typedef struct {
    char *copy;
    char **v;
    size_t n;
} lines_t;

static int split(const char *text, lines_t *l)
{
    memset(l, 0, sizeof(*l));
    size_t len = text ? strlen(text) : 0, cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += text[i] == '\n';
    if (!(l->copy = malloc(len + 1)) || !(l->v = calloc(cap, sizeof(char *)))) {
        free(l->copy);
        return -1;
    }
    memcpy(l->copy, text ? text : "", len + 1);
    for (char *p = l->copy; *p;) {
        char *nl = strchr(p, '\n');
        l->v[l->n++] = p;
        if (!nl)
            break;
        *nl = 0;
        p = nl + 1;
    }
    return 0;
}

static void lines_free(lines_t *l)
{
    free(l->copy);
    free(l->v);
}

static int matches(const char *pattern, const char *s, regmatch_t *m)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | (m ? 0 : REG_NOSUB)) != 0)
        return 0;
    int ok = regexec(&re, s, m ? 1 : 0, m, 0) == 0;
    regfree(&re);
    return ok;
}

/* EREs, one per line, in order, exactly as many lines. */
static int judge_lines(char *const *want, size_t n, const lines_t *got, const char *key,
                       const char *whose, shunt_buf_t *why)
{
    size_t k = n < got->n ? n : got->n;
    for (size_t i = 0; i < k; i++)
        if (!matches(want[i], got->v[i], NULL)) {
            shunt_buf_printf(why, "%s[%zu]: %s line %zu \"%.200s\" does not match %.200s\n",
                             key, i, whose, i + 1, got->v[i], want[i]);
            return -1;
        }
    if (got->n != n) {
        shunt_buf_printf(why, "%s: %s has %zu line%s, expected %zu\n", key, whose, got->n,
                         got->n == 1 ? "" : "s", n);
        return -1;
    }
    return 0;
}

int shunt_traffic_judge(const shunt_texpect_t *x, const char *prefix, int client_wstatus,
                        const char *client_out, const char *prog_out, shunt_buf_t *why)
{
    int rc = 0;
    char key[256];
    lines_t cl, pl;
    if (split(client_out, &cl) < 0)
        return shunt_buf_printf(why, "out of memory\n"), -1;
    if (split(prog_out, &pl) < 0) {
        lines_free(&cl);
        return shunt_buf_printf(why, "out of memory\n"), -1;
    }
    snprintf(key, sizeof(key), "%s.client_status", prefix);
    if (client_wstatus < 0) {
        shunt_buf_printf(why, "%s: the client timed out\n", key);
        rc = -1;
    } else if (!WIFEXITED(client_wstatus) ||
               WEXITSTATUS(client_wstatus) != x->client_status) {
        char how[64];
        if (WIFEXITED(client_wstatus))
            snprintf(how, sizeof(how), "exit %d", WEXITSTATUS(client_wstatus));
        else
            snprintf(how, sizeof(how), "killed by signal %d",
                     WIFSIGNALED(client_wstatus) ? WTERMSIG(client_wstatus) : 0);
        shunt_buf_printf(why, "%s: the client ended with %s, expected exit %d\n", key, how,
                         x->client_status);
        rc = -1;
    }
    snprintf(key, sizeof(key), "%s.client_stdout", prefix);
    if (x->client_stdout_set &&
        judge_lines(x->client_stdout, x->n_client_stdout, &cl, key, "the client's stdout",
                    why) < 0)
        rc = -1;
    for (size_t i = 0; i < x->n_client_counts; i++) {
        long n = 0;
        for (size_t j = 0; j < cl.n; j++)
            n += strcmp(cl.v[j], x->client_counts[i].word) == 0;
        if (n != x->client_counts[i].count) {
            shunt_buf_printf(why,
                             "%s.client_counts.%s: the client's stdout has %ld line%s "
                             "\"%s\", expected %ld\n",
                             prefix, x->client_counts[i].word, n, n == 1 ? "" : "s",
                             x->client_counts[i].word, x->client_counts[i].count);
            rc = -1;
        }
    }
    if (prog_out) {
        if (x->program_lines >= 0 && (long)pl.n != x->program_lines) {
            shunt_buf_printf(why, "%s.program_lines: the program printed %zu line%s, expected %ld\n",
                             prefix, pl.n, pl.n == 1 ? "" : "s", x->program_lines);
            rc = -1;
        }
        snprintf(key, sizeof(key), "%s.program_stdout", prefix);
        if (x->program_stdout_set &&
            judge_lines(x->program_stdout, x->n_program_stdout, &pl, key,
                        "the program's stdout", why) < 0)
            rc = -1;
        for (size_t j = 0; x->program_each && j < pl.n; j++)
            if (!matches(x->program_each, pl.v[j], NULL)) {
                shunt_buf_printf(why,
                                 "%s.program_each: the program's stdout line %zu \"%.200s\" "
                                 "does not match %.200s\n",
                                 prefix, j + 1, pl.v[j], x->program_each);
                rc = -1;
                break;
            }
        if (x->program_mirrors) {
            /* the client's lines the ERE matches, the match cut out, must be
             * the program's lines */
            size_t k = 0;
            int bad = 0;
            for (size_t j = 0; j < cl.n && !bad; j++) {
                regmatch_t m;
                if (!matches(x->program_mirrors, cl.v[j], &m))
                    continue;
                char *want = NULL;
                if (asprintf(&want, "%.*s%s", (int)m.rm_so, cl.v[j], cl.v[j] + m.rm_eo) < 0)
                    want = NULL;
                if (!want || k >= pl.n || strcmp(want, pl.v[k]) != 0) {
                    shunt_buf_printf(why,
                                     "%s.program_mirrors: the client's line %zu gives "
                                     "\"%.200s\", the program's line %zu is %s%.200s%s\n",
                                     prefix, j + 1, want ? want : "?", k + 1,
                                     k < pl.n ? "\"" : "", k < pl.n ? pl.v[k] : "missing",
                                     k < pl.n ? "\"" : "");
                    bad = 1;
                }
                free(want);
                k++;
            }
            if (!bad && k != pl.n) {
                shunt_buf_printf(why,
                                 "%s.program_mirrors: the client's stdout gives %zu line%s, "
                                 "the program printed %zu\n",
                                 prefix, k, k == 1 ? "" : "s", pl.n);
                bad = 1;
            }
            if (bad)
                rc = -1;
        }
    }
    lines_free(&cl);
    lines_free(&pl);
    return rc;
}
