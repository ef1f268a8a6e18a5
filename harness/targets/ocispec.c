/* A container's OCI runtime spec (config.json) for runc. */
#include "target_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shunt/util.h"

static void jmount(shunt_json_t *j, const char *dst, const char *type,
                   const char *src, const char *const *opts)
{
    shunt_json_obj(j);
    shunt_json_key(j, "destination");
    shunt_json_str(j, dst);
    shunt_json_key(j, "type");
    shunt_json_str(j, type);
    shunt_json_key(j, "source");
    shunt_json_str(j, src);
    shunt_json_key(j, "options");
    shunt_json_arr(j);
    for (size_t i = 0; opts[i]; i++)
        shunt_json_str(j, opts[i]);
    shunt_json_arr_end(j);
    shunt_json_obj_end(j);
}

static void jstrs(shunt_json_t *j, const char *key, const char *const *v)
{
    shunt_json_key(j, key);
    shunt_json_arr(j);
    for (size_t i = 0; v[i]; i++)
        shunt_json_str(j, v[i]);
    shunt_json_arr_end(j);
}

#define OPTS(...) ((const char *const[]){__VA_ARGS__, NULL})

int tgt_write_config(const ctr_t *c, const char *init, int dns, char *err,
                     size_t errlen)
{
    static const char *const caps[] = {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
        "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", NULL,
    };
    static const char *const dns_caps[] = {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETGID", "CAP_SETUID",
        "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_KILL", NULL,
    };
    const char *const *cs = dns ? dns_caps : caps;
    shunt_json_t j = {0};
    shunt_json_obj(&j);
    shunt_json_key(&j, "ociVersion");
    shunt_json_str(&j, "1.0.2-dev");

    shunt_json_key(&j, "process");
    shunt_json_obj(&j);
    shunt_json_key(&j, "terminal");
    shunt_json_bool(&j, 0);
    shunt_json_key(&j, "user");
    shunt_json_obj(&j);
    shunt_json_key(&j, "uid");
    shunt_json_int(&j, 0);
    shunt_json_key(&j, "gid");
    shunt_json_int(&j, 0);
    shunt_json_obj_end(&j);
    jstrs(&j, "args", c->argv);
    shunt_json_key(&j, "env");
    shunt_json_arr(&j);
    for (size_t i = 0; i < c->env->n; i++) {
        size_t l = strlen(c->env->v[i].key) + strlen(c->env->v[i].value) + 2;
        char *kv = malloc(l);
        if (!kv) {
            shunt_json_free(&j);
            return snprintf(err, errlen, "out of memory"), -1;
        }
        snprintf(kv, l, "%s=%s", c->env->v[i].key, c->env->v[i].value);
        shunt_json_str(&j, kv);
        free(kv);
    }
    shunt_json_arr_end(&j);
    shunt_json_key(&j, "cwd");
    shunt_json_str(&j, "/");
    shunt_json_key(&j, "capabilities");
    shunt_json_obj(&j);
    jstrs(&j, "bounding", cs);
    jstrs(&j, "effective", cs);
    jstrs(&j, "permitted", cs);
    shunt_json_obj_end(&j);
    /* No rlimits: the container inherits runc's, never above our hard limit. */
    shunt_json_key(&j, "noNewPrivileges");
    shunt_json_bool(&j, 1);
    shunt_json_obj_end(&j);

    shunt_json_key(&j, "root");
    shunt_json_obj(&j);
    shunt_json_key(&j, "path");
    shunt_json_str(&j, "rootfs");
    shunt_json_key(&j, "readonly");
    shunt_json_bool(&j, 0);
    shunt_json_obj_end(&j);
    shunt_json_key(&j, "hostname");
    shunt_json_str(&j, c->hostname);

    shunt_json_key(&j, "mounts");
    shunt_json_arr(&j);
    jmount(&j, "/proc", "proc", "proc", OPTS("nosuid", "noexec", "nodev"));
    jmount(&j, "/dev", "tmpfs", "tmpfs",
           OPTS("nosuid", "strictatime", "mode=755", "size=65536k"));
    jmount(&j, "/dev/pts", "devpts", "devpts",
           OPTS("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                "gid=5"));
    jmount(&j, "/dev/shm", "tmpfs", "shm",
           OPTS("nosuid", "noexec", "nodev", "mode=1777", "size=65536k"));
    jmount(&j, "/dev/mqueue", "mqueue", "mqueue", OPTS("nosuid", "noexec", "nodev"));
    jmount(&j, "/sys", "sysfs", "sysfs", OPTS("nosuid", "noexec", "nodev", "ro"));
    jmount(&j, "/tmp", "tmpfs", "tmpfs", OPTS("nosuid", "nodev", "mode=1777"));
    jmount(&j, "/usr", "bind", "/usr", OPTS("rbind", "ro", "nodev"));
    for (size_t i = 0; tgt_sys_dirs[i]; i++) {
        struct stat st;
        char src[64];
        snprintf(src, sizeof(src), "/%s", tgt_sys_dirs[i]);
        if (lstat(src, &st) == 0 && S_ISDIR(st.st_mode))
            jmount(&j, src, "bind", src, OPTS("rbind", "ro", "nodev"));
    }
    if (c->is_target)
        jmount(&j, "/.shunt/init", "bind", init, OPTS("bind", "ro", "nodev"));
    shunt_json_arr_end(&j);

    char nspath[PATH_MAX];
    snprintf(nspath, sizeof(nspath), "%s/%s", SHUNT_NETNS_DIR, c->st->id);
    shunt_json_key(&j, "linux");
    shunt_json_obj(&j);
    shunt_json_key(&j, "resources");
    shunt_json_obj(&j);
    shunt_json_key(&j, "devices");
    shunt_json_arr(&j);
    shunt_json_obj(&j);
    shunt_json_key(&j, "allow");
    shunt_json_bool(&j, 0);
    shunt_json_key(&j, "access");
    shunt_json_str(&j, "rwm");
    shunt_json_obj_end(&j);
    shunt_json_arr_end(&j);
    shunt_json_obj_end(&j);
    shunt_json_key(&j, "namespaces");
    shunt_json_arr(&j);
    static const char *const nss[] = {"pid", "ipc", "uts", "mount", NULL};
    for (size_t i = 0; nss[i]; i++) {
        shunt_json_obj(&j);
        shunt_json_key(&j, "type");
        shunt_json_str(&j, nss[i]);
        shunt_json_obj_end(&j);
    }
    shunt_json_obj(&j);
    shunt_json_key(&j, "type");
    shunt_json_str(&j, "network");
    shunt_json_key(&j, "path");
    shunt_json_str(&j, nspath);
    shunt_json_obj_end(&j);
    shunt_json_arr_end(&j);
    jstrs(&j, "maskedPaths",
          OPTS("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
               "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
               "/proc/sched_debug", "/sys/firmware", "/proc/scsi"));
    jstrs(&j, "readonlyPaths",
          OPTS("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
               "/proc/sysrq-trigger"));
    shunt_json_obj_end(&j);
    shunt_json_obj_end(&j);
    shunt_json_raw(&j, "\n", 1);

    char path[PATH_MAX];
    int rc = shunt_fmt(path, sizeof(path), "%s/config.json", c->bundle);
    if (rc < 0) {
        errno = -rc;
        rc = -1;
    } else {
        rc = j.out.oom ? (errno = ENOMEM, -1) : tgt_write_file(path, j.out.p, 0600);
    }
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    shunt_json_free(&j);
    return rc;
}
