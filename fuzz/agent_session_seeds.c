/* Writes the seed corpus of fuzz/agent_session into a directory: short
 * sessions (the frames a client sends after HELLO, which the target adds)
 * over the tree the target builds (see fuzz/agent_session.c).  Handle
 * numbers are those of a first client: tag 2, so slot N is 2 << 20 | N. */
#include "shunt/proto.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define H(n) (2u << 20 | (n))
#define CWD (-100)

static const char *dir;
static int rc;
static uint64_t id;

static void put(shunt_wbuf_t *w, uint16_t type, const void *body)
{
    if (shunt_encode(w, type, 0, ++id, body, UINT32_MAX) != 0) {
        fprintf(stderr, "cannot encode type 0x%04x\n", type);
        rc = 1;
    }
}

static void save(const char *name, shunt_wbuf_t *w)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(w->data, 1, w->len, f) != w->len || fclose(f) != 0) {
        perror(path);
        rc = 1;
    }
    shunt_wbuf_reset(w);
    id = 0;
}

static void open_read(shunt_wbuf_t *w, const char *path, int flags)
{
    shunt_open_t o = {.path = shunt_str(path), .flags = flags};
    put(w, SHUNT_T_OPEN, &o);
    shunt_read_t r = {.handle = H(1), .count = 4096};
    put(w, SHUNT_T_READ, &r);
    shunt_fstat_t fs = {.handle = H(1)};
    put(w, SHUNT_T_FSTAT, &fs);
    shunt_close_t c = {.handle = H(1)};
    put(w, SHUNT_T_CLOSE, &c);
}

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);

    shunt_ping_t p = {.nonce = 7};
    put(&w, SHUNT_T_PING, &p);
    save("ping", &w);

    open_read(&w, "/data/a.txt", O_RDONLY);
    save("read-file", &w);
    open_read(&w, "/data/sub/up", O_RDONLY);
    save("read-via-link", &w);
    open_read(&w, "/data/escape-rel", O_RDONLY);
    save("read-escape-rel", &w);
    open_read(&w, "/data/escape-abs", O_RDONLY);
    save("read-escape-abs", &w);
    open_read(&w, "/../../zq9-up", O_RDONLY);
    save("read-dotdot", &w);
    open_read(&w, "/data/magic/etc/hosts", O_RDONLY);
    save("read-magic", &w);

    shunt_open_t od = {.path = shunt_str("/"), .flags = O_RDONLY | O_DIRECTORY};
    put(&w, SHUNT_T_OPEN, &od);
    shunt_getdents_t g = {.handle = H(1), .max_entries = 64};
    put(&w, SHUNT_T_GETDENTS, &g);
    put(&w, SHUNT_T_GETDENTS, &g);
    shunt_openat_t oa = {.dirh = (int32_t)H(1), .path = shunt_str("../data"),
                         .flags = O_RDONLY | O_DIRECTORY};
    put(&w, SHUNT_T_OPENAT, &oa);
    g.handle = H(2);
    put(&w, SHUNT_T_GETDENTS, &g);
    save("getdents", &w);

    shunt_stat_t st = {.dirh = CWD, .path = shunt_str("/data/escape-abs")};
    put(&w, SHUNT_T_STAT, &st);
    st.flags = 0x100; /* AT_SYMLINK_NOFOLLOW */
    put(&w, SHUNT_T_STAT, &st);
    shunt_readlink_t rl = {.dirh = CWD, .path = shunt_str("/data/escape-abs")};
    put(&w, SHUNT_T_READLINK, &rl);
    rl.path = shunt_str("/data/loop1");
    put(&w, SHUNT_T_READLINK, &rl);
    shunt_statfs_t sf = {.dirh = CWD, .path = shunt_str("/etc")};
    put(&w, SHUNT_T_STATFS, &sf);
    shunt_access_t ac = {.dirh = CWD, .path = shunt_str("/etc/shadow"),
                         .mode = 4};
    put(&w, SHUNT_T_ACCESS, &ac);
    save("stat-links", &w);

    /* REALPATH: canonical names of directories, through links that try
     * to leave the root; a file asked as a directory; a bad flag. */
    shunt_realpath_t rp = {.dirh = CWD, .path = shunt_str("/data/sub/up"),
                           .flags = O_DIRECTORY};
    put(&w, SHUNT_T_REALPATH, &rp);
    rp.path = shunt_str("/data/escape-abs");
    put(&w, SHUNT_T_REALPATH, &rp);
    rp.path = shunt_str("/../../data/./sub/..");
    put(&w, SHUNT_T_REALPATH, &rp);
    rp.path = shunt_str("/data/a.txt");
    put(&w, SHUNT_T_REALPATH, &rp);
    rp.flags = 0;
    put(&w, SHUNT_T_REALPATH, &rp);
    rp.flags = 1;
    put(&w, SHUNT_T_REALPATH, &rp);
    save("realpath", &w);

    shunt_mkdir_t mk = {.dirh = CWD, .path = shunt_str("/new"), .mode = 0755};
    put(&w, SHUNT_T_MKDIR, &mk);
    shunt_open_t oc = {.path = shunt_str("/new/f"),
                       .flags = O_RDWR | O_CREAT | O_TRUNC, .mode = 0644};
    put(&w, SHUNT_T_OPEN, &oc);
    static const uint8_t bytes[] = "some bytes\n";
    shunt_write_t wr = {.handle = H(1),
                        .data = shunt_bytes(bytes, sizeof(bytes) - 1)};
    put(&w, SHUNT_T_WRITE, &wr);
    shunt_pread_t pr = {.handle = H(1), .count = 100, .offset = 0};
    put(&w, SHUNT_T_PREAD, &pr);
    shunt_ftruncate_t ft = {.handle = H(1), .length = 4};
    put(&w, SHUNT_T_FTRUNCATE, &ft);
    shunt_rename_t rn = {.olddirh = CWD, .oldpath = shunt_str("/new/f"),
                         .newdirh = CWD, .newpath = shunt_str("/new/g")};
    put(&w, SHUNT_T_RENAME, &rn);
    shunt_symlink_t sl = {.target = shunt_str("../../.."), .newdirh = CWD,
                          .newpath = shunt_str("/new/up")};
    put(&w, SHUNT_T_SYMLINK, &sl);
    shunt_chmod_t ch = {.dirh = CWD, .path = shunt_str("/new"), .mode = 0};
    put(&w, SHUNT_T_CHMOD, &ch);
    shunt_unlink_t un = {.dirh = CWD, .path = shunt_str("/new/g")};
    put(&w, SHUNT_T_UNLINK, &un);
    shunt_rmdir_t rd = {.dirh = CWD, .path = shunt_str("/new")};
    put(&w, SHUNT_T_RMDIR, &rd);
    save("write-tree", &w);

    /* ownership, hard links (through escaping links), special files */
    shunt_mkdir_t lm = {.dirh = CWD, .path = shunt_str("/ln"), .mode = 0755};
    put(&w, SHUNT_T_MKDIR, &lm);
    shunt_symlink_t ls = {.target = shunt_str("/../../etc/passwd"),
                          .newdirh = CWD, .newpath = shunt_str("/ln/up")};
    put(&w, SHUNT_T_SYMLINK, &ls);
    shunt_link_t hl = {.olddirh = CWD, .oldpath = shunt_str("/ln/up"),
                       .newdirh = CWD, .newpath = shunt_str("/ln/hard"),
                       .flags = 0x400 /* AT_SYMLINK_FOLLOW */};
    put(&w, SHUNT_T_LINK, &hl);
    hl.flags = 0;
    hl.newpath = shunt_str("/ln/hard2");
    put(&w, SHUNT_T_LINK, &hl);
    shunt_mknod_t mn = {.dirh = CWD, .path = shunt_str("/ln/fifo"),
                        .mode = 010644};
    put(&w, SHUNT_T_MKNOD, &mn);
    mn.mode = 020600; /* a character device: refused */
    mn.dev = 0x103;
    put(&w, SHUNT_T_MKNOD, &mn);
    shunt_chown_t co = {.dirh = CWD, .path = shunt_str("/ln/up"),
                        .uid = 0xffffffffu, .gid = 0xffffffffu, .flags = 0x100};
    put(&w, SHUNT_T_CHOWN, &co);
    shunt_open_t lf = {.path = shunt_str("/ln/fifo"),
                       .flags = O_RDONLY | O_NONBLOCK};
    put(&w, SHUNT_T_OPEN, &lf);
    shunt_fchown_t fo = {.handle = H(1), .uid = 0xffffffffu,
                         .gid = 0xffffffffu};
    put(&w, SHUNT_T_FCHOWN, &fo);
    save("links-owners", &w);

    shunt_open_t lo = {.path = shunt_str("/data/a.txt"), .flags = O_RDWR};
    put(&w, SHUNT_T_OPEN, &lo);
    put(&w, SHUNT_T_OPEN, &lo);
    shunt_lock_t lk = {.handle = H(1), .cmd = 37 /* F_OFD_SETLK */,
                       .type = F_WRLCK, .whence = SEEK_SET, .start = 0,
                       .len = 4};
    put(&w, SHUNT_T_LOCK, &lk);
    lk.handle = H(2);
    put(&w, SHUNT_T_LOCK, &lk);
    lk.cmd = 36; /* F_OFD_GETLK */
    put(&w, SHUNT_T_LOCK, &lk);
    shunt_flock_t fk = {.handle = H(1), .op = 2 /* LOCK_EX */};
    put(&w, SHUNT_T_FLOCK, &fk);
    fk.handle = H(2);
    put(&w, SHUNT_T_FLOCK, &fk);
    shunt_close_t lc = {.handle = H(1)};
    put(&w, SHUNT_T_CLOSE, &lc);
    put(&w, SHUNT_T_FLOCK, &fk);
    save("locks", &w);

    shunt_env_get_t eg = {.max_bytes = 0};
    put(&w, SHUNT_T_ENV_GET, &eg);
    eg.max_bytes = 12;
    put(&w, SHUNT_T_ENV_GET, &eg);
    save("env", &w);

    shunt_close_t c = {.handle = H(5)};
    put(&w, SHUNT_T_CLOSE, &c);
    shunt_read_t r = {.handle = 12345, .count = 1};
    put(&w, SHUNT_T_READ, &r);
    shunt_hello_t h = {.magic = SHUNT_MAGIC};
    put(&w, SHUNT_T_HELLO, &h);
    save("bad-handles", &w);

    shunt_wbuf_free(&w);
    return rc;
}
