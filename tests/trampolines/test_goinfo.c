/* shunt_goinfo_read on real Go builds (every toolchain and variant that
 * goprog/build.sh made, checked against `go version` and `go tool nm`),
 * on files that are not Go, and on truncated and corrupted Go binaries. */
#include "shunt/goinfo.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_BINS 64 /* toolchains x 4 variants */

typedef struct {
    char tc[32], variant[32], path[512], version[64];
    int pie, stripped, interp;
    unsigned long long sc6, raw6, vfork;
    unsigned long long cgo; /* runtime.asmcgocall.abi0, from go tool nm */
    unsigned long long abi0[3]; /* Go < 1.19: syscall.Syscall, Syscall6, RawSyscall */
} bin_t;

static bin_t bins[MAX_BINS];
static int nbins;
static const char *manifest_path;
static char tmpdir[] = "/tmp/shunt-goinfo-XXXXXX";

static int manifest_ok;

static void load_manifest(void)
{
    FILE *f = fopen(manifest_path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s: run the trampolines.goprog_build "
                        "test first\n",
                manifest_path);
        return;
    }
    manifest_ok = 1;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "skip ", 5) == 0) {
            fprintf(stderr, "SKIPPED toolchain: %s", line + 5);
            continue;
        }
        if (nbins == MAX_BINS)
            break;
        bin_t *b = &bins[nbins];
        int n = sscanf(line,
                       "ok %31s %31s %511s %63s %d %d %d %llx %llx %llx %llx "
                       "%llx %llx %llx",
                       b->tc, b->variant, b->path, b->version, &b->pie,
                       &b->stripped, &b->interp, &b->sc6, &b->raw6,
                       &b->vfork, &b->cgo, &b->abi0[0], &b->abi0[1],
                       &b->abi0[2]);
        if (n == 14)
            nbins++;
        else
            fprintf(stderr, "manifest line not understood: %s", line);
    }
    fclose(f);
}

/* The next build of that variant after *i (start with *i = -1). */
static const bin_t *next_bin(const char *variant, int *i)
{
    while (++*i < nbins)
        if (strcmp(bins[*i].variant, variant) == 0)
            return &bins[*i];
    return NULL;
}

static void test_variants(void **state)
{
    (void)state;
    assert_true(manifest_ok);
    if (nbins == 0) {
        fprintf(stderr, "SKIPPED: no Go toolchain built anything\n");
        skip();
    }
    for (int i = 0; i < nbins; i++) {
        const bin_t *b = &bins[i];
        shunt_goinfo_t g;
        char why[256] = "";
        int rc = shunt_goinfo_read(b->path, &g, why, sizeof why);
        printf("%-10s %-13s rc=%d %s pie=%d stripped=%d interp=%d "
               "syscall6=%#llx raw_syscall6=%#llx raw_vfork=%#llx %s\n",
               b->tc, b->variant, rc, g.version, g.pie, g.stripped,
               g.has_interp, (unsigned long long)g.syscall6,
               (unsigned long long)g.raw_syscall6,
               (unsigned long long)g.raw_vfork, why);
        assert_int_equal(rc, 0);
        assert_string_equal(g.version, b->version);
        char want[32];
        snprintf(want, sizeof want, "go%d.%d", g.major, g.minor);
        assert_int_equal(strncmp(b->version, want, strlen(want)), 0);
        assert_int_equal(g.pie, b->pie);
        assert_int_equal(g.stripped, b->stripped);
        assert_int_equal(g.has_interp, b->interp);
        assert_int_equal(g.syscall6, b->sc6);
        /* Go >= 1.19: the ABIInternal Syscall6; before, the ABI0 bodies
         * (and raw_syscall6 is RawSyscall6's ABI0 body). */
        for (int k = 0; k < 3; k++)
            assert_int_equal(g.syscall_abi0[k], b->abi0[k]);
        if (g.minor >= 19)
            assert_int_not_equal(g.syscall6, 0);
        else
            for (int k = 0; k < 3; k++)
                assert_int_not_equal(g.syscall_abi0[k], 0);
        assert_int_equal(g.raw_syscall6, b->raw6);
        assert_int_not_equal(g.raw_syscall6, 0);
        assert_int_equal(g.raw_vfork, b->vfork);
        assert_int_not_equal(g.raw_vfork, 0);
        /* Every version has the ABI0 body of runtime.asmcgocall, which the
         * Go trampolines call to run C on the g0 stack. */
        assert_int_not_equal(b->cgo, 0);
        /* With .symtab the reader names the ABI0 body.  In a stripped
         * build the pclntab names both the ABIInternal wrapper and the
         * body "runtime.asmcgocall": the reader may give either, and the
         * layer follows the wrapper's call at run time
         * (shunt_go_asmcgocall_body). */
        if (!b->stripped)
            assert_int_equal(g.asmcgocall, b->cgo);
        else
            assert_int_not_equal(g.asmcgocall, 0);
        /* Go >= 1.19: Syscall and friends are Go code, not ABI0 bodies. */
        if (g.minor >= 19)
            for (int k = 0; k < 3; k++)
                assert_int_equal(g.syscall_abi0[k], 0);
    }
}

static void expect_noexec(const char *path, const char *reason_part)
{
    shunt_goinfo_t g;
    char why[256] = "";
    int rc = shunt_goinfo_read(path, &g, why, sizeof why);
    printf("%s: rc=%d %s\n", path, rc, why);
    assert_int_equal(rc, -ENOEXEC);
    assert_non_null(strstr(why, reason_part));
}

static void write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static void test_not_go(void **state)
{
    (void)state;
    expect_noexec("/bin/true", "not a Go executable");
    char p[256];
    snprintf(p, sizeof p, "%s/text", tmpdir);
    write_file(p, "#!/bin/sh\necho hello\n", 21);
    expect_noexec(p, "not an ELF file");
    snprintf(p, sizeof p, "%s/empty", tmpdir);
    write_file(p, "", 0);
    expect_noexec(p, "not an ELF file");

    shunt_goinfo_t g;
    char why[256] = "";
    assert_int_equal(shunt_goinfo_read("/nonexistent/x", &g, why, sizeof why),
                     -ENOENT);
    assert_non_null(strstr(why, "/nonexistent/x"));
    assert_true(shunt_goinfo_read("/", &g, why, sizeof why) < 0);
    assert_true(why[0] != 0);
}

/* The whole file, to make damaged copies of. */
static uint8_t *slurp(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size);
    assert_non_null(buf);
    assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return buf;
}

/* Debian's age (package age): Go 1.19, cgo, -buildmode=pie linked by the
 * system linker, stripped.  Its pclntab has no section of its own (merged
 * into .data.rel.ro): found by its header, with the entry points the
 * layer patches.  Skipped where age is not installed (ci/setup has it). */
static void test_merged_pclntab(void **state)
{
    (void)state;
    const char *age = "/usr/bin/age";
    if (access(age, R_OK) != 0) {
        printf("SKIP: %s not installed\n", age);
        return;
    }
    shunt_goinfo_t g;
    char why[256] = "";
    int rc = shunt_goinfo_read(age, &g, why, sizeof why);
    if (rc)
        fail_msg("%s: %d %s", age, rc, why);
    assert_true(g.pie && g.stripped && g.has_interp);
    assert_int_equal(g.major, 1);
    assert_true(g.minor >= 16);
    /* the Syscall6 of its version (>= 1.19) or the ABI0 trio; asmcgocall;
     * all inside the file's text (age's .text starts with C code) */
    if (g.minor >= 19)
        assert_true(g.syscall6 != 0);
    else
        assert_true(g.syscall_abi0[0] && g.syscall_abi0[1] && g.syscall_abi0[2]);
    assert_true(g.asmcgocall != 0 && g.raw_vfork != 0);
    size_t n;
    uint8_t *d = slurp(age, &n);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)d;
    Elf64_Shdr *sh = (Elf64_Shdr *)(d + eh->e_shoff);
    const char *names = (const char *)d + sh[eh->e_shstrndx].sh_offset;
    uint64_t lo = 0, hi = 0;
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        assert_true(strcmp(names + sh[i].sh_name, ".gopclntab") != 0);
        if (strcmp(names + sh[i].sh_name, ".text") == 0)
            lo = sh[i].sh_addr, hi = sh[i].sh_addr + sh[i].sh_size;
    }
    uint64_t fns[] = {g.syscall6 ? g.syscall6 : g.syscall_abi0[0],
                      g.asmcgocall, g.raw_vfork};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        assert_true(fns[i] >= lo && fns[i] < hi);
    free(d);
    printf("%s: %s, pclntab found without a section\n", age, g.version);
}

/* Any answer but a crash: 0, or <0 with a reason. */
static int read_damaged(const char *path)
{
    shunt_goinfo_t g;
    char why[256] = "";
    int rc = shunt_goinfo_read(path, &g, why, sizeof why);
    assert_true(rc == 0 || rc == -ENOEXEC);
    if (rc)
        assert_true(why[0] != 0);
    return rc;
}

static void test_truncated(void **state)
{
    (void)state;
    const char *variants[] = {"pie", "stripped", "stripped-pie"};
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        const bin_t *b;
        for (int bi = -1; (b = next_bin(variants[v], &bi));) {
        size_t n;
        uint8_t *data = slurp(b->path, &n);
        char p[256];
        snprintf(p, sizeof p, "%s/cut", tmpdir);
        size_t cuts[64], ncut = 0;
        size_t fixed[] = {1, 4, 16, 63, 64, 65, 120, 64 + 56 * 3, 4096};
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
            cuts[ncut++] = fixed[i];
        for (size_t k = 1; k < 32; k++)
            cuts[ncut++] = n * k / 32;
        cuts[ncut++] = n - 1;
        /* A cut is refused, or (when it spares all the reader needs: Go
         * 1.19's linker puts the section headers first) read in full. */
        shunt_goinfo_t whole, cut;
        char why[256];
        assert_int_equal(shunt_goinfo_read(b->path, &whole, why, sizeof why),
                         0);
        int failed = 0;
        for (size_t i = 0; i < ncut; i++) {
            write_file(p, data, cuts[i]);
            if (read_damaged(p) != 0) {
                failed++;
                continue;
            }
            assert_int_equal(shunt_goinfo_read(p, &cut, why, sizeof why), 0);
            assert_memory_equal(&cut, &whole, sizeof cut);
        }
        printf("%s %s: %d of %zu cuts refused, the others read in full\n",
               b->tc, variants[v], failed, ncut);
        assert_true(failed >= 9); /* at least every cut inside the headers */
        free(data);
        }
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* Byte ranges worth damaging: headers, the tables the reader follows. */
typedef struct {
    size_t off, len;
} range_t;

static size_t damage_ranges(const uint8_t *d, size_t n, range_t *r)
{
    const Elf64_Ehdr *e = (const void *)d;
    size_t k = 0;
    r[k++] = (range_t){0, sizeof *e};
    r[k++] = (range_t){e->e_phoff, (size_t)e->e_phnum * sizeof(Elf64_Phdr)};
    r[k++] = (range_t){e->e_shoff, (size_t)e->e_shnum * sizeof(Elf64_Shdr)};
    const Elf64_Shdr *sh = (const void *)(d + e->e_shoff);
    const char *names = (const char *)d + sh[e->e_shstrndx].sh_offset;
    for (unsigned i = 1; i < e->e_shnum; i++) {
        const char *nm = names + sh[i].sh_name;
        if (strstr(nm, "gopclntab") || strcmp(nm, ".go.buildinfo") == 0 ||
            strcmp(nm, ".symtab") == 0) {
            size_t len = sh[i].sh_size < 4096 ? sh[i].sh_size : 4096;
            r[k++] = (range_t){sh[i].sh_offset, len};
        }
    }
    for (size_t i = 0; i < k; i++)
        assert_true(r[i].off + r[i].len <= n);
    return k;
}

static void test_corrupted(void **state)
{
    (void)state;
    const char *variants[] = {"default", "pie", "stripped", "stripped-pie"};
    char p[256];
    snprintf(p, sizeof p, "%s/flipped", tmpdir);
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        const bin_t *b;
        for (int bi = -1; (b = next_bin(variants[v], &bi));) {
        size_t n;
        uint8_t *data = slurp(b->path, &n);
        range_t r[16];
        size_t nr = damage_ranges(data, n, r);
        write_file(p, data, n);
        int fd = open(p, O_WRONLY);
        assert_true(fd >= 0);
        int refused = 0, rounds = 300;
        for (int i = 0; i < rounds; i++) {
            /* 1-4 bytes changed at once, in one range, then put back */
            const range_t *rg = &r[next() % nr];
            size_t at[4];
            int nflip = 1 + (int)(next() % 4);
            for (int j = 0; j < nflip; j++) {
                at[j] = rg->off + next() % rg->len;
                uint8_t x = (uint8_t)next();
                if (next() % 4 == 0)
                    x = 0xff; /* large lengths and offsets */
                assert_int_equal(pwrite(fd, &x, 1, (off_t)at[j]), 1);
            }
            refused += read_damaged(p) != 0;
            for (int j = nflip - 1; j >= 0; j--)
                assert_int_equal(pwrite(fd, data + at[j], 1, (off_t)at[j]),
                                 1);
        }
        close(fd);
        printf("%s %s: %d of %d damaged copies refused\n", b->tc,
               variants[v], refused, rounds);
        assert_int_equal(read_damaged(p), 0); /* restored: reads again */
        free(data);
        }
    }
}

int main(int argc, char **argv)
{
    manifest_path = argc > 1 ? argv[1] : "goprog/manifest";
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_not_go),
        cmocka_unit_test(test_merged_pclntab),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupted),
    };
    load_manifest();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return rc;
}
