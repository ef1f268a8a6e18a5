/* The recorder's journal and leaks, as strace-like lines or JSON. */
#include "recorder_int.h"
#include "shunt/json.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void format_ret(const recorder_event_t *e, char *out, size_t len)
{
    if (!e->done) {
        snprintf(out, len, "?");
    } else if (e->ret < 0 && e->ret >= -4095) {
        const char *n = strerrorname_np((int)-e->ret);
        if (n)
            snprintf(out, len, "-1 %s (%s)", n, strerror((int)-e->ret));
        else
            snprintf(out, len, "-1 errno %ld", -e->ret);
    } else {
        snprintf(out, len, "%ld", e->ret);
    }
}

void recorder_format_event(const recorder_event_t *e, char *out, size_t len)
{
    char ret[128];
    const char *a = e->args ? e->args : "";
    switch (e->kind) {
    case RECORDER_EV_SYSCALL:
        format_ret(e, ret, sizeof(ret));
        snprintf(out, len, "[pid %d] %s(%s) = %s", (int)e->pid, e->name, a,
                 ret);
        break;
    case RECORDER_EV_SIGNAL:
        snprintf(out, len, "[pid %d] --- %s ---", (int)e->pid, a);
        break;
    default:
        snprintf(out, len, "[pid %d] +++ %s +++", (int)e->pid, a);
    }
}

static void print_json(FILE *f, const recorder_result_t *res)
{
    shunt_json_t j = {0};
    char buf[8192];
    shunt_json_obj(&j);
    shunt_json_key(&j, "status");
    shunt_json_int(&j, res->status);
    shunt_json_key(&j, "exit_code");
    shunt_json_int(&j, WIFEXITED(res->status)     ? WEXITSTATUS(res->status)
                       : WIFSIGNALED(res->status) ? 128 + WTERMSIG(res->status)
                                                  : -1);
    shunt_json_key(&j, "timed_out");
    shunt_json_bool(&j, res->timed_out);
    for (int pass = 0; pass < 2; pass++) {
        shunt_json_key(&j, pass ? "leaks" : "events");
        shunt_json_arr(&j);
        for (size_t i = 0; i < res->n_ev; i++) {
            const recorder_event_t *e = &res->ev[i];
            if (pass && !e->leak)
                continue;
            shunt_json_obj(&j);
            shunt_json_key(&j, "pid");
            shunt_json_int(&j, e->pid);
            shunt_json_key(&j, "tgid");
            shunt_json_int(&j, e->tgid);
            shunt_json_key(&j, "kind");
            shunt_json_str(&j, e->kind == RECORDER_EV_SYSCALL  ? "syscall"
                               : e->kind == RECORDER_EV_SIGNAL ? "signal"
                                                               : "exit");
            if (e->name) {
                shunt_json_key(&j, "syscall");
                shunt_json_str(&j, e->name);
            }
            shunt_json_key(&j, "args");
            shunt_json_str(&j, e->args ? e->args : "");
            if (e->kind == RECORDER_EV_SYSCALL) {
                shunt_json_key(&j, "result");
                if (e->done) {
                    shunt_json_int(&j, e->ret);
                } else {
                    shunt_json_str(&j, "?");
                }
            }
            if (e->leak) {
                shunt_json_key(&j, "leak");
                shunt_json_str(&j, e->leak);
            }
            recorder_format_event(e, buf, sizeof(buf));
            shunt_json_key(&j, "line");
            shunt_json_str(&j, buf);
            shunt_json_obj_end(&j);
        }
        shunt_json_arr_end(&j);
    }
    shunt_json_obj_end(&j);
    if (j.out.p)
        fprintf(f, "%s\n", j.out.p);
    shunt_json_free(&j);
}

void recorder_print(FILE *f, const recorder_result_t *res, int flags)
{
    if (flags & RECORDER_PRINT_JSON) {
        print_json(f, res);
        return;
    }
    char buf[8192];
    if (flags & RECORDER_PRINT_EVENTS)
        for (size_t i = 0; i < res->n_ev; i++) {
            recorder_format_event(&res->ev[i], buf, sizeof(buf));
            fprintf(f, "%s\n", buf);
        }
    if (flags & RECORDER_PRINT_LEAKS) {
        fprintf(f, "%zu leak%s\n", res->n_leaks, res->n_leaks == 1 ? "" : "s");
        for (size_t i = 0; i < res->n_ev; i++) {
            if (!res->ev[i].leak)
                continue;
            recorder_format_event(&res->ev[i], buf, sizeof(buf));
            fprintf(f, "LEAK %s: %s\n", buf, res->ev[i].leak);
        }
    }
}
