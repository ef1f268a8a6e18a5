/* harness exec --record: the recorder on a thread of its own (exec_record.h). */
#include "exec_record.h"
#include "shunt/recorder.h"
#include "shunt/target.h"

#include "shunt/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct exec_record {
    recorder_rules_t *rules;
    recorder_opts_t opts;
    const char *path;
    char **argv, **envp;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pid_t pid;
    int finished, done_fd, rc;
    int leaks; /* --record: leaks looked for and reported */
    recorder_result_t res;
    char err[1024];
};

static void on_start(pid_t pid, void *arg)
{
    exec_record_t *x = arg;
    pthread_mutex_lock(&x->mu);
    x->pid = pid;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static void *tracer(void *arg)
{
    exec_record_t *x = arg;
    x->rc = recorder_run(&x->opts, x->path, x->argv, x->envp, &x->res, x->err,
                         sizeof(x->err));
    pthread_mutex_lock(&x->mu);
    x->finished = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    uint64_t one = 1;
    ssize_t w = write(x->done_fd, &one, sizeof(one));
    (void)w;
    return NULL;
}

static void x_free(exec_record_t *x)
{
    if (x->done_fd >= 0)
        close(x->done_fd);
    recorder_rules_free(x->rules);
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

int exec_record_start(exec_record_t **out, const char *target,
                      const char *layer_conf, int timeout_ms, int leaks,
                      int journal_fd, const char *path, char **argv,
                      char **envp, char *err, size_t errlen)
{
    exec_record_t *x = calloc(1, sizeof(*x));
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    x->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    x->rules = recorder_rules_new();
    if (x->done_fd < 0 || !x->rules) {
        snprintf(err, errlen, "recorder: %s", strerror(errno ? errno : ENOMEM));
        x_free(x);
        return -1;
    }
    if (leaks && recorder_rules_layer(x->rules, layer_conf, err, errlen) < 0) {
        x_free(x);
        return -1;
    }
    /* The cluster is reachable from the target only: any host call that
     * names its subnet went around the layer. */
    shunt_target_status_t st;
    char why[512];
    if (leaks && shunt_target_status(target, &st, why, sizeof(why)) == 0) {
        if (st.subnet[0] &&
            recorder_rules_add_net(x->rules, st.subnet, why, sizeof(why)) < 0)
            LOG_WARN("recorder: cluster subnet %s: %s", st.subnet, why);
        shunt_target_status_free(&st);
    }
    x->leaks = leaks;
    x->opts.rules = leaks ? x->rules : NULL;
    if (journal_fd >= 0) {
        /* the supervisor's program: the launcher's exec is the first */
        x->opts.journal = 1;
        x->opts.journal_fd = journal_fd;
        x->opts.journal_after = 2;
    }
    x->opts.timeout_ms = timeout_ms;
    x->opts.on_start = on_start;
    x->opts.arg = x;
    x->path = path;
    x->argv = argv;
    x->envp = envp;
    int e = pthread_create(&x->th, NULL, tracer, x);
    if (e) {
        snprintf(err, errlen, "recorder thread: %s", strerror(e));
        x_free(x);
        return -1;
    }
    pthread_mutex_lock(&x->mu);
    while (!x->pid && !x->finished)
        pthread_cond_wait(&x->cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
    *out = x;
    return 0;
}

pid_t exec_record_pid(const exec_record_t *x) { return x->pid; }

int exec_record_done_fd(const exec_record_t *x) { return x->done_fd; }

int exec_record_finish(exec_record_t *x, FILE *journal, int json,
                       int *status, size_t *n_leaks, int *timed_out)
{
    pthread_join(x->th, NULL);
    int rc = x->rc;
    if (rc < 0 && x->res.n_ev == 0)
        fprintf(stderr, "harness exec: recorder: %s\n", x->err);
    *status = x->res.status;
    *n_leaks = x->res.n_leaks;
    *timed_out = x->res.timed_out;
    if (!x->leaks) {
        recorder_result_free(&x->res);
        x_free(x);
        return rc;
    }
    if (journal)
        recorder_print(journal, &x->res,
                       json ? RECORDER_PRINT_JSON
                            : RECORDER_PRINT_EVENTS | RECORDER_PRINT_LEAKS);
    fprintf(stderr, "harness exec: recorder: %zu leak%s%s\n", x->res.n_leaks,
            x->res.n_leaks == 1 ? "" : "s",
            x->res.timed_out ? " (timed out: the tree was killed)" : "");
    char line[8192];
    for (size_t i = 0; i < x->res.n_ev; i++)
        if (x->res.ev[i].leak) {
            recorder_format_event(&x->res.ev[i], line, sizeof(line));
            fprintf(stderr, "LEAK %s: %s\n", line, x->res.ev[i].leak);
        }
    recorder_result_free(&x->res);
    x_free(x);
    return rc;
}
