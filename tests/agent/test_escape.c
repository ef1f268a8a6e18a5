/* shunt-agent never lets a path out of the root: "..", absolute and
 * relative symlinks, magic links under /proc, directory handles.  A
 * host-only file with a secret must never be read or stat'ed. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static char root[256], host_file[256], host_base[128], secret[128];
static struct stat host_st;
static agent_proc_t ap;
static shunt_client_t *c;
static int have_proc; /* /proc is mounted inside the root */

static int setup(void **state)
{
    (void)state;
    snprintf(host_base, sizeof(host_base), "shunt-agent-hostonly-%d-%ld",
             (int)getpid(), random());
    snprintf(host_file, sizeof(host_file), "/tmp/%s", host_base);
    snprintf(secret, sizeof(secret), "HOST-SECRET-%d", (int)getpid());
    put_file("", host_file, secret);
    stat(host_file, &host_st);

    tmp_tree(root, sizeof(root), "escape");
    char p[512], t[512];
    snprintf(p, sizeof(p), "%s/tmp", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "tmp/%s", host_base);
    put_file(root, p, "ROOT-COPY"); /* the same path inside the root */
    snprintf(p, sizeof(p), "%s/sub", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/sub/deeper", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/esc-abs", root);
    symlink(host_file, p);
    snprintf(p, sizeof(p), "%s/sub/esc-rel", root);
    snprintf(t, sizeof(t), "../../../../../../../..%s", host_file);
    symlink(t, p);
    snprintf(p, sizeof(p), "%s/esc-tmp", root);
    symlink("/tmp", p);
    snprintf(p, sizeof(p), "%s/sub/esc-up", root);
    symlink("../../../../..", p);
    /* a directory of the host only, and an absolute link to it */
    snprintf(t, sizeof(t), "%s.d", host_file);
    mkdir(t, 0755);
    snprintf(p, sizeof(p), "%s/esc-dir", root);
    symlink(t, p);

    /* A private mount namespace for this test process (and the agent it
     * starts) so that /proc can be bound into the root. */
    snprintf(p, sizeof(p), "%s/proc", root);
    mkdir(p, 0755);
    if (unshare(CLONE_NEWNS) == 0 &&
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
        mount("/proc", p, NULL, MS_BIND | MS_REC, NULL) == 0)
        have_proc = 1;
    else
        fprintf(stderr, "note: cannot mount /proc in the root (%s); magic "
                        "link cases skipped\n", strerror(errno));

    if (agent_start(&ap, root, NULL) < 0)
        return -1;
    c = agent_client(&ap);
    return c ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    shunt_client_close(c);
    int rc = agent_stop(&ap);
    if (have_proc) {
        char p[512];
        snprintf(p, sizeof(p), "%s/proc", root);
        umount2(p, MNT_DETACH);
    }
    rm_tree(root);
    unlink(host_file);
    char d[300];
    snprintf(d, sizeof(d), "%s.d", host_file);
    rmdir(d);
    return rc == 0 ? 0 : -1;
}

/* Opens and reads path (relative to dirh); it must fail or give the root's
 * copy, never the host's secret.  Also checks STAT never finds the host
 * file.  Returns the open result. */
static int probe(int32_t dirh, const char *path)
{
    char buf[256];
    ssize_t n = r_slurp(c, dirh, path, buf, sizeof(buf));
    if (n >= 0 && strstr(buf, "HOST-SECRET"))
        fail_msg("'%s' read the host's file", path);
    if (n >= 0 && n > 0 && strcmp(buf, "ROOT-COPY") != 0)
        fail_msg("'%s' read unexpected content '%s'", path, buf);
    shunt_msg_t m;
    for (int fl = 0; fl <= AT_SYMLINK_NOFOLLOW; fl += AT_SYMLINK_NOFOLLOW) {
        shunt_stat_t st = {.dirh = dirh, .path = shunt_str(path), .flags = fl};
        if (shunt_client_call(c, SHUNT_T_STAT, &st, &m) == 0 &&
            m.u.stat_r.ino == host_st.st_ino &&
            m.u.stat_r.dev_minor == (host_st.st_dev & 0xff))
            fail_msg("'%s' stat'ed the host's file", path);
    }
    return n < 0 ? (int)n : 0;
}

static void test_dotdot(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof(p), "../../../../../../../..%s", host_file);
    assert_int_equal(probe(SHUNT_AT_ROOT, p), 0); /* lands on the copy */
    snprintf(p, sizeof(p), "/../../..%s", host_file);
    assert_int_equal(probe(SHUNT_AT_ROOT, p), 0);
    snprintf(p, sizeof(p), "sub/../../../..%s", host_file);
    assert_int_equal(probe(SHUNT_AT_ROOT, p), 0);
    /* files that exist on the host only */
    assert_int_equal(probe(SHUNT_AT_ROOT, "../../../../etc/hostname"), -ENOENT);
    assert_int_equal(probe(SHUNT_AT_ROOT, "/etc/passwd"), -ENOENT);
    assert_int_equal(probe(SHUNT_AT_ROOT, "../../../../etc/passwd"), -ENOENT);
}

static void test_symlinks(void **state)
{
    (void)state;
    char p[512];
    assert_int_equal(probe(SHUNT_AT_ROOT, "esc-abs"), 0);
    assert_int_equal(probe(SHUNT_AT_ROOT, "sub/esc-rel"), 0);
    snprintf(p, sizeof(p), "esc-tmp/%s", host_base);
    assert_int_equal(probe(SHUNT_AT_ROOT, p), 0);
    snprintf(p, sizeof(p), "sub/esc-up%s", host_file);
    assert_int_equal(probe(SHUNT_AT_ROOT, p), 0);
    assert_int_equal(probe(SHUNT_AT_ROOT, "sub/esc-up/etc/hostname"), -ENOENT);
    /* readlink reports the link text, which is the root's own data */
    shunt_msg_t m;
    shunt_readlink_t rl = {.dirh = SHUNT_AT_ROOT, .path = shunt_str("esc-abs")};
    assert_int_equal(shunt_client_call(c, SHUNT_T_READLINK, &rl, &m), 0);
    assert_int_equal(m.u.readlink_r.target.len, strlen(host_file));
    /* creating through an escaping link creates inside the root */
    snprintf(p, sizeof(p), "%s/made-through-link", root);
    int h = r_open(c, SHUNT_AT_ROOT, "esc-tmp/../made-through-link",
                   O_WRONLY | O_CREAT, 0644);
    assert_true(h > 0);
    r_close(c, (uint32_t)h);
    struct stat sb;
    assert_int_equal(access("/made-through-link", F_OK), -1);
    assert_int_equal(stat(p, &sb), 0);
    /* mkdir/unlink/rename below an escaping link stay inside too */
    shunt_mkdir_t mk = {.dirh = SHUNT_AT_ROOT,
                        .path = shunt_str("esc-tmp/made-dir"), .mode = 0700};
    assert_int_equal(shunt_client_call(c, SHUNT_T_MKDIR, &mk, &m), 0);
    snprintf(p, sizeof(p), "%s/tmp/made-dir", root);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(access("/tmp/made-dir", F_OK), -1);
    snprintf(p, sizeof(p), "esc-tmp/%s", host_base);
    shunt_unlink_t ul = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(p)};
    assert_int_equal(shunt_client_call(c, SHUNT_T_UNLINK, &ul, &m), 0);
    assert_int_equal(access(host_file, F_OK), 0); /* the host's is intact */
    assert_int_equal(probe(SHUNT_AT_ROOT, "esc-abs"), -ENOENT);
    put_file(root, p + 4, "ROOT-COPY"); /* "tmp/<base>" back for others */
}

/* LINK, CHOWN and MKNOD through escaping links: both of LINK's names
 * resolve inside the root (a symlink followed with AT_SYMLINK_FOLLOW
 * lands on the root's copy), never on the host. */
static void test_link_chown_mknod_escape(void **state)
{
    (void)state;
    shunt_msg_t m;
    char p[512], n[512];
    struct stat sb, hb;
    /* old name through an absolute link, followed: the root's copy */
    shunt_link_t ln = {.olddirh = SHUNT_AT_ROOT, .oldpath = shunt_str("esc-abs"),
                       .newdirh = SHUNT_AT_ROOT, .newpath = shunt_str("hl-abs"),
                       .flags = AT_SYMLINK_FOLLOW};
    assert_int_equal(shunt_client_call(c, SHUNT_T_LINK, &ln, &m), 0);
    snprintf(p, sizeof(p), "%s/hl-abs", root);
    snprintf(n, sizeof(n), "%s/tmp/%s", root, host_base);
    struct stat cp;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(stat(n, &cp), 0);
    assert_int_equal(sb.st_ino, cp.st_ino);
    assert_int_equal(stat(host_file, &hb), 0);
    assert_int_equal(hb.st_nlink, 1); /* the host's file got no new name */
    /* a relative link climbing out, followed: the same */
    ln.oldpath = shunt_str("sub/esc-rel");
    ln.newpath = shunt_str("hl-rel");
    assert_int_equal(shunt_client_call(c, SHUNT_T_LINK, &ln, &m), 0);
    snprintf(p, sizeof(p), "%s/hl-rel", root);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_ino, cp.st_ino);
    /* not followed: the link itself gets a second name */
    ln.oldpath = shunt_str("esc-abs");
    ln.newpath = shunt_str("hl-sym");
    ln.flags = 0;
    assert_int_equal(shunt_client_call(c, SHUNT_T_LINK, &ln, &m), 0);
    snprintf(p, sizeof(p), "%s/hl-sym", root);
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    /* the old name's parent through a link that climbs out: inside */
    snprintf(n, sizeof(n), "sub/esc-up/tmp/%s", host_base);
    ln.oldpath = shunt_str(n);
    ln.newpath = shunt_str("hl-up");
    assert_int_equal(shunt_client_call(c, SHUNT_T_LINK, &ln, &m), 0);
    snprintf(p, sizeof(p), "%s/hl-up", root);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_ino, cp.st_ino);
    /* the new name's parent through links to /tmp and above the root */
    const char *news[] = {"esc-tmp/hl-new", "sub/esc-up/tmp/hl-new2"};
    const char *rel[] = {"tmp/hl-new", "tmp/hl-new2"};
    for (size_t i = 0; i < 2; i++) {
        ln.oldpath = shunt_str("sub/deeper/../../esc-abs");
        ln.newpath = shunt_str(news[i]);
        ln.flags = AT_SYMLINK_FOLLOW;
        assert_int_equal(shunt_client_call(c, SHUNT_T_LINK, &ln, &m), 0);
        snprintf(p, sizeof(p), "%s/%s", root, rel[i]);
        assert_int_equal(stat(p, &sb), 0);
        assert_int_equal(sb.st_ino, cp.st_ino);
        snprintf(p, sizeof(p), "/%s", rel[i]);
        assert_int_equal(access(p, F_OK), -1);
    }
    /* an old name with a trailing slash follows its last symlink (the
     * kernel's rule): in the root, where the host's directory is not --
     * relative to the parent's fd it found the host's (EPERM) */
    ln.oldpath = shunt_str("esc-dir/");
    ln.newpath = shunt_str("hl-dir");
    ln.flags = 0;
    assert_int_equal(shunt_client_call(c, SHUNT_T_LINK, &ln, &m), -ENOENT);
    ln.oldpath = shunt_str("esc-tmp/");
    assert_int_equal(shunt_client_call(c, SHUNT_T_LINK, &ln, &m), -EPERM);
    /* the new name itself is an escaping symlink: EEXIST, never followed */
    ln.oldpath = shunt_str("sub/deeper/../../esc-abs");
    ln.newpath = shunt_str("esc-abs");
    assert_int_equal(shunt_client_call(c, SHUNT_T_LINK, &ln, &m), -EEXIST);
    shunt_mknod_t mk = {.dirh = SHUNT_AT_ROOT, .path = shunt_str("esc-abs"),
                        .mode = S_IFIFO | 0600};
    assert_int_equal(shunt_client_call(c, SHUNT_T_MKNOD, &mk, &m), -EEXIST);
    mk.path = shunt_str("esc-tmp/made-fifo");
    assert_int_equal(shunt_client_call(c, SHUNT_T_MKNOD, &mk, &m), 0);
    snprintf(p, sizeof(p), "%s/tmp/made-fifo", root);
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
    assert_int_equal(access("/tmp/made-fifo", F_OK), -1);
    /* chown through the absolute link changes the root's copy only */
    assert_int_equal(stat(host_file, &hb), 0);
    shunt_chown_t ch = {.dirh = SHUNT_AT_ROOT, .path = shunt_str("esc-abs"),
                        .uid = 4321, .gid = 4321};
    int r = shunt_client_call(c, SHUNT_T_CHOWN, &ch, &m);
    struct stat hb2;
    assert_int_equal(stat(host_file, &hb2), 0);
    assert_int_equal(hb2.st_uid, hb.st_uid);
    assert_int_equal(hb2.st_gid, hb.st_gid);
    if (geteuid() == 0) {
        assert_int_equal(r, 0);
        snprintf(n, sizeof(n), "%s/tmp/%s", root, host_base);
        assert_int_equal(stat(n, &cp), 0);
        assert_int_equal(cp.st_uid, 4321);
    }
    if (have_proc) {
        /* magic links stay refused for both names */
        snprintf(n, sizeof(n), "/proc/self/root%s", host_file);
        ln.oldpath = shunt_str(n);
        ln.newpath = shunt_str("hl-magic");
        assert_true(shunt_client_call(c, SHUNT_T_LINK, &ln, &m) < 0);
        ln.flags = 0;
        assert_true(shunt_client_call(c, SHUNT_T_LINK, &ln, &m) < 0);
        ch.path = shunt_str(n);
        assert_true(shunt_client_call(c, SHUNT_T_CHOWN, &ch, &m) < 0);
        assert_int_equal(stat(host_file, &hb2), 0);
        assert_int_equal(hb2.st_nlink, 1);
        assert_int_equal(hb2.st_uid, hb.st_uid);
    }
}

static void test_dir_handle_escape(void **state)
{
    (void)state;
    char p[512];
    int d = r_open(c, SHUNT_AT_ROOT, "sub/deeper", O_RDONLY | O_DIRECTORY, 0);
    assert_true(d > 0);
    snprintf(p, sizeof(p), "../../../../../..%s", host_file);
    assert_int_equal(probe(d, p), 0);
    assert_int_equal(probe(d, "../../../../etc/hostname"), -ENOENT);
    assert_int_equal(probe(d, "../esc-rel"), 0);
    assert_int_equal(probe(d, "../../esc-abs"), 0);
    int up = r_open(c, d, "../../../../..", O_RDONLY | O_DIRECTORY, 0);
    assert_true(up > 0);
    snprintf(p, sizeof(p), "tmp/%s", host_base);
    assert_int_equal(probe(up, p), 0); /* ".." above the root is the root */
    assert_int_equal(probe(up, "etc/hostname"), -ENOENT);
    r_close(c, (uint32_t)up);
    r_close(c, (uint32_t)d);
}

static void test_magic_links(void **state)
{
    (void)state;
    if (!have_proc)
        skip();
    char p[512];
    char pidroot[64];
    snprintf(pidroot, sizeof(pidroot), "/proc/%d/root", (int)ap.pid);
    const char *pfx[] = {"/proc/self/root", pidroot, "/proc/thread-self/root",
                         "/proc/self/cwd", "proc/1/root", "/proc/self/fd/3/.."};
    for (size_t i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", pfx[i], host_file);
        int r = probe(SHUNT_AT_ROOT, p);
        if (r == 0)
            fail_msg("'%s' opened something", p);
    }
    /* /proc itself is reachable (it is inside the root) */
    char buf[64];
    assert_true(r_slurp(c, SHUNT_AT_ROOT, "/proc/self/stat", buf,
                        sizeof(buf)) > 0);
    shunt_msg_t m;
    shunt_stat_t st = {.dirh = SHUNT_AT_ROOT,
                       .path = shunt_str("/proc/self/root"),
                       .flags = 0};
    assert_int_equal(shunt_client_call(c, SHUNT_T_STAT, &st, &m), -ELOOP);
}

/* Device nodes (issue 13 §1): only the memory devices are opened for I/O;
 * a link to /dev/tty, /dev/ptmx or /dev/kmsg (this host's devices, whatever
 * root the node sits in) gives ENXIO, and O_PATH (stat) still works. */
static void test_devices(void **state)
{
    (void)state;
    char p[512];
    static const struct {
        const char *name;
        unsigned maj, min, served;
    } nodes[] = {{"null", 1, 3, 1}, {"zero", 1, 5, 1},  {"urandom", 1, 9, 1},
                 {"kmsg", 1, 11, 0}, {"tty", 5, 0, 0},  {"ptmx", 5, 2, 0}};
    snprintf(p, sizeof(p), "%s/dev", root);
    mkdir(p, 0755);
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        snprintf(p, sizeof(p), "%s/dev/%s", root, nodes[i].name);
        unlink(p);
        if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0)
            skip();
    }
    snprintf(p, sizeof(p), "%s/srv-tty", root);
    symlink("/dev/tty", p);
    snprintf(p, sizeof(p), "%s/srv-ptmx", root);
    symlink("/dev/ptmx", p);
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        snprintf(p, sizeof(p), "/dev/%s", nodes[i].name);
        int64_t h = r_open(c, SHUNT_AT_ROOT, p, O_RDWR, 0);
        if (nodes[i].served) {
            if (h < 0)
                fail_msg("%s: %s", p, strerror((int)-h));
            r_close(c, (uint32_t)h);
        } else if (h != -ENXIO) {
            fail_msg("%s: opened or not ENXIO (%lld)", p, (long long)h);
        }
        h = r_open(c, SHUNT_AT_ROOT, p, O_PATH, 0);
        assert_true(h >= 0);
        r_close(c, (uint32_t)h);
    }
    assert_int_equal(r_open(c, SHUNT_AT_ROOT, "/srv-tty", O_WRONLY, 0), -ENXIO);
    assert_int_equal(r_open(c, SHUNT_AT_ROOT, "/srv-ptmx", O_RDWR | O_CREAT, 0666), -ENXIO);
    assert_int_equal(r_open(c, SHUNT_AT_ROOT, "/dev/tty", O_WRONLY | O_TRUNC, 0), -ENXIO);
    /* the create paths still make regular files */
    int64_t h = r_open(c, SHUNT_AT_ROOT, "/tmp/created", O_WRONLY | O_CREAT, 0644);
    assert_true(h >= 0);
    r_close(c, (uint32_t)h);
    h = r_open(c, SHUNT_AT_ROOT, "/tmp/created", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(h >= 0);
    r_close(c, (uint32_t)h);
    assert_int_equal(r_open(c, SHUNT_AT_ROOT, "/tmp/created", O_RDONLY | O_CREAT | O_EXCL, 0644),
                     -EEXIST);
    snprintf(p, sizeof(p), "%s/dangling", root);
    symlink("/tmp/through-link", p);
    h = r_open(c, SHUNT_AT_ROOT, "/dangling", O_WRONLY | O_CREAT, 0644);
    assert_true(h >= 0);
    r_close(c, (uint32_t)h);
    snprintf(p, sizeof(p), "%s/tmp/through-link", root);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(r_open(c, SHUNT_AT_ROOT, "/dangling", O_WRONLY | O_NOFOLLOW, 0), -ELOOP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dotdot),
        cmocka_unit_test(test_symlinks),
        cmocka_unit_test(test_dir_handle_escape),
        cmocka_unit_test(test_link_chown_mknod_escape),
        cmocka_unit_test(test_magic_links),
        cmocka_unit_test(test_devices),
    };
    return cmocka_run_group_tests_name("agent.escape", tests, setup, teardown);
}
