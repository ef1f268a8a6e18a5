/* Reads a Go executable's version and syscall entry points from its file:
 * an ELF64 reader of our own over pread through a few cached windows,
 * .symtab when present, .gopclntab when stripped.  Every offset and size
 * comes from an untrusted file and is checked before it is used. */
#include "shunt/goinfo.h"
#include "tramp.h"

#include "shunt/sys.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WIN_SIZE 8192u
#define NWIN 4
#define MAX_PHDR 64
#define NAME_MAX_LEN 48 /* longer than every name looked up, NUL included */

typedef struct {
    uint64_t off;
    size_t len; /* 0: empty */
    unsigned age;
    uint8_t buf[WIN_SIZE];
} win_t;

typedef struct {
    int fd;
    uint64_t size;
    unsigned tick;
    win_t win[NWIN];
    Elf64_Ehdr eh;
    Elf64_Phdr ph[MAX_PHDR];
    unsigned nph;
    unsigned nsh; /* 0: no section headers */
    Elf64_Shdr shstr;
    char *why;
    size_t whylen;
} gf_t;

/* The names looked up, in .symtab spelling; .gopclntab has no ABI suffix. */
enum {
    N_BUILDVERSION,
    N_SC6_126,
    N_SC6_123,
    N_SC6_119,
    N_RAWSC6,
    N_SYSCALL,
    N_SYSCALL6,
    N_RAWSYSCALL,
    N_VFORK,
    N_ASMCGOCALL,
    N_CROSSCALL2,
    N_COUNT
};
static const char *const names[N_COUNT] = {
    [N_BUILDVERSION] = "runtime.buildVersion",
    [N_SC6_126] = "internal/runtime/syscall/linux.Syscall6",
    [N_SC6_123] = "internal/runtime/syscall.Syscall6",
    [N_SC6_119] = "runtime/internal/syscall.Syscall6",
    [N_RAWSC6] = "syscall.RawSyscall6",
    [N_SYSCALL] = "syscall.Syscall",
    [N_SYSCALL6] = "syscall.Syscall6",
    [N_RAWSYSCALL] = "syscall.RawSyscall",
    [N_VFORK] = "syscall.rawVforkSyscall",
    [N_ASMCGOCALL] = "runtime.asmcgocall",
    [N_CROSSCALL2] = "crosscall2", /* runtime/cgo: linked with cgo only */
};
#define ABI0_SUFFIX ".abi0"

typedef struct {
    uint64_t plain[N_COUNT]; /* the name as is */
    uint64_t abi0[N_COUNT];  /* the name + ".abi0" (Go >= 1.17 symtabs) */
} found_t;

/* The first reason wins: a failure deep in the reader is not overwritten
 * by the callers that pass it up. */
static char *first_why(const gf_t *g)
{
    return g->why && !g->why[0] ? g->why : NULL;
}
#define bad(g, ...) shunt_why(-ENOEXEC, first_why(g), (g)->whylen, __VA_ARGS__)

static int pread_all(gf_t *g, void *dst, size_t n, uint64_t off)
{
    uint8_t *p = dst;
    while (n) {
        long r = shunt_sys6(SYS_pread64, g->fd, (long)p, (long)n, (long)off,
                            0, 0);
        if (r == -EINTR)
            continue;
        if (r < 0)
            return shunt_why((int)r, first_why(g), g->whylen,
                             "read at %llu: %s", (unsigned long long)off,
                             shunt_errname((int)-r));
        if (r == 0)
            return bad(g, "the file shrank while being read");
        p += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return 0;
}

/* n bytes at file offset off into dst, or -ENOEXEC if they are not all in
 * the file. */
static int rd(gf_t *g, uint64_t off, void *dst, size_t n, const char *what)
{
    if (off > g->size || n > g->size - off)
        return bad(g, "%s: %zu bytes at offset %llu are beyond the file's "
                      "%llu bytes",
                   what, n, (unsigned long long)off,
                   (unsigned long long)g->size);
    if (n == 0)
        return 0;
    if (n > WIN_SIZE)
        return pread_all(g, dst, n, off);
    win_t *lru = &g->win[0];
    for (int i = 0; i < NWIN; i++) {
        win_t *w = &g->win[i];
        if (w->len && off >= w->off && off + n <= w->off + w->len) {
            w->age = ++g->tick;
            memcpy(dst, w->buf + (off - w->off), n);
            return 0;
        }
        if (w->age < lru->age)
            lru = w;
    }
    uint64_t start = off & ~(uint64_t)4095;
    if (off + n > start + WIN_SIZE)
        start = off;
    size_t len = g->size - start < WIN_SIZE ? (size_t)(g->size - start)
                                            : WIN_SIZE;
    lru->len = 0;
    int rc = pread_all(g, lru->buf, len, start);
    if (rc)
        return rc;
    lru->off = start, lru->len = len, lru->age = ++g->tick;
    memcpy(dst, lru->buf + (off - start), n);
    return 0;
}

static int rd64(gf_t *g, uint64_t off, uint64_t *v, const char *what)
{
    return rd(g, off, v, 8, what);
}

static int rd32(gf_t *g, uint64_t off, uint32_t *v, const char *what)
{
    return rd(g, off, v, 4, what);
}

/* The file offset of n bytes at virtual address va, all inside one
 * PT_LOAD's file image; -ENOEXEC otherwise. */
static int va_to_off(gf_t *g, uint64_t va, uint64_t n, uint64_t *off,
                     const char *what)
{
    for (unsigned i = 0; i < g->nph; i++) {
        const Elf64_Phdr *p = &g->ph[i];
        if (p->p_type != PT_LOAD || va < p->p_vaddr)
            continue;
        uint64_t d = va - p->p_vaddr;
        if (d >= p->p_filesz || n > p->p_filesz - d)
            continue;
        *off = p->p_offset + d;
        return 0;
    }
    return bad(g, "%s: address 0x%llx (%llu bytes) is in no loaded part of "
                  "the file",
               what, (unsigned long long)va, (unsigned long long)n);
}

static int shdr(gf_t *g, unsigned i, Elf64_Shdr *sh)
{
    return rd(g, g->eh.e_shoff + (uint64_t)i * sizeof *sh, sh, sizeof *sh,
              "section header");
}

/* Section i's contents must lie in the file (SHT_NOBITS has none). */
static bool sect_ok(const gf_t *g, const Elf64_Shdr *sh)
{
    return sh->sh_type != SHT_NOBITS && sh->sh_offset <= g->size &&
           sh->sh_size <= g->size - sh->sh_offset;
}

/* Reads a NUL-terminated name of at most cap-1 bytes at off, stopping at
 * limit (exclusive).  Returns its length, or -1 if longer or unterminated. */
static int rdname(gf_t *g, uint64_t off, uint64_t limit, char *buf,
                  size_t cap)
{
    if (off >= limit || limit > g->size)
        return -1;
    size_t n = limit - off < cap ? (size_t)(limit - off) : cap;
    if (rd(g, off, buf, n, "name"))
        return -1;
    void *nul = memchr(buf, 0, n);
    return nul ? (int)((char *)nul - buf) : -1;
}

/* The section called name (first match): 1, 0 if none, <0 on error. */
static int find_sect(gf_t *g, const char *name, Elf64_Shdr *out)
{
    char buf[NAME_MAX_LEN];
    for (unsigned i = 1; i < g->nsh; i++) {
        int rc = shdr(g, i, out);
        if (rc)
            return rc;
        if (out->sh_name >= g->shstr.sh_size)
            continue;
        int len = rdname(g, g->shstr.sh_offset + out->sh_name,
                         g->shstr.sh_offset + g->shstr.sh_size, buf,
                         sizeof buf);
        if (len >= 0 && strcmp(buf, name) == 0)
            return 1;
    }
    return 0;
}

/* A pointer stored at va.  In a PIE the file may hold 0 there and the
 * value in an R_X86_64_RELATIVE relocation's addend instead. */
static int rdptr(gf_t *g, uint64_t va, uint64_t *v, const char *what)
{
    uint64_t off = 0;
    int rc = va_to_off(g, va, 8, &off, what);
    if (rc || (rc = rd64(g, off, v, what)))
        return rc;
    if (*v || g->eh.e_type != ET_DYN)
        return 0;
    for (unsigned i = 1; i < g->nsh; i++) {
        Elf64_Shdr sh;
        if ((rc = shdr(g, i, &sh)))
            return rc;
        if (sh.sh_type != SHT_RELA || !sect_ok(g, &sh))
            continue;
        for (uint64_t o = 0; o + sizeof(Elf64_Rela) <= sh.sh_size;
             o += sizeof(Elf64_Rela)) {
            Elf64_Rela r;
            if ((rc = rd(g, sh.sh_offset + o, &r, sizeof r, "relocation")))
                return rc;
            if (r.r_offset == va &&
                ELF64_R_TYPE(r.r_info) == R_X86_64_RELATIVE) {
                *v = (uint64_t)r.r_addend;
                return 0;
            }
        }
    }
    return 0;
}

static int check_ehdr(gf_t *g)
{
    Elf64_Ehdr *e = &g->eh;
    if (g->size < 4 || rd(g, 0, e->e_ident, 4, "ELF header") ||
        memcmp(e->e_ident, ELFMAG, SELFMAG) != 0)
        return bad(g, "not an ELF file");
    if (rd(g, 0, e, sizeof *e, "ELF header"))
        return -ENOEXEC;
    if (e->e_ident[EI_CLASS] != ELFCLASS64 ||
        e->e_ident[EI_DATA] != ELFDATA2LSB || e->e_machine != EM_X86_64)
        return bad(g, "not an x86-64 ELF64 file (class %u, data %u, "
                      "machine %u)",
                   e->e_ident[EI_CLASS], e->e_ident[EI_DATA], e->e_machine);
    if (e->e_type != ET_EXEC && e->e_type != ET_DYN)
        return bad(g, "not an executable (ELF type %u)", e->e_type);
    if (e->e_phentsize != sizeof(Elf64_Phdr) || e->e_phnum == 0 ||
        e->e_phnum > MAX_PHDR)
        return bad(g, "program headers not understood (%u of %u bytes)",
                   e->e_phnum, e->e_phentsize);
    g->nph = e->e_phnum;
    int rc = rd(g, e->e_phoff, g->ph, g->nph * sizeof(Elf64_Phdr),
                "program headers");
    if (rc)
        return rc;
    if (e->e_shoff == 0 || e->e_shnum == 0)
        return 0; /* no sections: a stripped-to-the-bone file */
    if (e->e_shentsize != sizeof(Elf64_Shdr) || e->e_shstrndx == SHN_UNDEF ||
        e->e_shstrndx >= e->e_shnum)
        return bad(g, "section headers not understood (%u of %u bytes, "
                      "names in %u)",
                   e->e_shnum, e->e_shentsize, e->e_shstrndx);
    if (e->e_shoff > g->size ||
        (uint64_t)e->e_shnum * sizeof(Elf64_Shdr) > g->size - e->e_shoff)
        return bad(g, "section headers beyond the end of the file");
    g->nsh = e->e_shnum;
    if ((rc = shdr(g, e->e_shstrndx, &g->shstr)))
        return rc;
    if (!sect_ok(g, &g->shstr))
        return bad(g, "section names beyond the end of the file");
    return 0;
}

/* Records name (bare or with .abi0) if it is one looked up. */
static void match(found_t *f, const char *name, uint64_t addr)
{
    size_t len = strlen(name);
    bool abi0 = len > 5 && strcmp(name + len - 5, ABI0_SUFFIX) == 0;
    size_t base = abi0 ? len - 5 : len;
    for (int i = 0; i < N_COUNT; i++) {
        if (strlen(names[i]) != base || memcmp(names[i], name, base) != 0)
            continue;
        uint64_t *slot = abi0 ? &f->abi0[i] : &f->plain[i];
        if (!*slot)
            *slot = addr;
    }
}

/* .symtab: 1 if found (stripped otherwise), <0 on error. */
static int read_symtab(gf_t *g, found_t *f)
{
    Elf64_Shdr st = {0}, strs;
    int rc;
    unsigned i;
    for (i = 1; i < g->nsh; i++) {
        if ((rc = shdr(g, i, &st)))
            return rc;
        if (st.sh_type == SHT_SYMTAB)
            break;
    }
    if (i >= g->nsh)
        return 0;
    if (st.sh_entsize != sizeof(Elf64_Sym) || !sect_ok(g, &st) ||
        st.sh_link == 0 || st.sh_link >= g->nsh)
        return bad(g, ".symtab not understood");
    if ((rc = shdr(g, st.sh_link, &strs)))
        return rc;
    if (!sect_ok(g, &strs))
        return bad(g, ".symtab's names beyond the end of the file");
    char buf[NAME_MAX_LEN];
    for (uint64_t o = sizeof(Elf64_Sym); o + sizeof(Elf64_Sym) <= st.sh_size;
         o += sizeof(Elf64_Sym)) {
        Elf64_Sym s;
        if ((rc = rd(g, st.sh_offset + o, &s, sizeof s, ".symtab")))
            return rc;
        if (s.st_value == 0 || s.st_name == 0 || s.st_name >= strs.sh_size)
            continue;
        int len = rdname(g, strs.sh_offset + s.st_name,
                         strs.sh_offset + strs.sh_size, buf, sizeof buf);
        if (len > 0)
            match(f, buf, s.st_value);
    }
    return 1;
}

/* .gopclntab, whose layout changed with Go 1.16, 1.18 and 1.20:
 *   1.2  0xfffffffb  nftab@8, ftab@16 {entry u64, funcoff u64 from the
 *                    table}, _func {entry u64, nameoff i32 from the table}
 *   1.16 0xfffffffa  nfunc@8, funcnametab@24, ftab@56 (offsets from the
 *                    table) {entry u64, funcoff u64 from ftab},
 *                    _func {entry u64, nameoff i32 from funcnametab}
 *   1.18 0xfffffff0  nfunc@8, textStart@24, funcnametab@32, ftab@64
 *   1.20 0xfffffff1  {entryoff u32 from textStart, funcoff u32 from ftab},
 *                    _func {entryoff u32, nameoff i32 from funcnametab}
 * Every version ends ftab with one more entry: the end of the text. */
/* 1 if the 8 bytes at off start a pclntab header this reader knows
 * (magic, two zero pads, pc quantum 1/2/4, pointer size 8). */
static int pcln_header_at(gf_t *g, uint64_t off)
{
    uint8_t h[8];
    uint32_t magic;
    if (rd(g, off, h, 8, "pclntab header"))
        return 0;
    memcpy(&magic, h, 4);
    return (magic == 0xfffffffa || magic == 0xfffffff0 ||
            magic == 0xfffffff1) &&
           !h[4] && !h[5] && (h[6] == 1 || h[6] == 2 || h[6] == 4) &&
           h[7] == 8;
}

/* A pclntab with no section of its own: the system linker of an
 * externally linked PIE (Debian's Go packages, e.g. age) merges Go's
 * .data.rel.ro.gopclntab into .data.rel.ro; a non-PIE keeps it in
 * .rodata.  Its header is looked for there, 8-byte aligned (Go aligns
 * the table); pt gets the rest of that section.  1 found, 0 not. */
static int find_merged_pclntab(gf_t *g, Elf64_Shdr *pt)
{
    static const char *const where[] = {".data.rel.ro", ".rodata"};
    for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
        Elf64_Shdr sh;
        int rc = find_sect(g, where[w], &sh);
        if (rc < 0)
            return rc;
        if (rc == 0 || !sect_ok(g, &sh) || sh.sh_size < 72)
            continue;
        uint64_t start = (sh.sh_offset + 7) & ~(uint64_t)7;
        for (uint64_t off = start; off + 72 <= sh.sh_offset + sh.sh_size;
             off += 8) {
            if (!pcln_header_at(g, off))
                continue;
            *pt = sh;
            pt->sh_offset = off;
            pt->sh_addr = sh.sh_addr + (off - sh.sh_offset);
            pt->sh_size = sh.sh_size - (off - sh.sh_offset);
            return 1;
        }
    }
    return 0;
}

static int read_pclntab(gf_t *g, found_t *f)
{
    Elf64_Shdr pt;
    int rc = find_sect(g, ".gopclntab", &pt);
    if (rc == 0) /* PIE binaries of some versions */
        rc = find_sect(g, ".data.rel.ro.gopclntab", &pt);
    if (rc == 0)
        rc = find_merged_pclntab(g, &pt);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return bad(g, "no .symtab and no pclntab (no .gopclntab section, "
                      "none in .data.rel.ro or .rodata)");
    if (!sect_ok(g, &pt) || pt.sh_size < 72)
        return bad(g, ".gopclntab not understood (size %llu)",
                   (unsigned long long)pt.sh_size);
    const uint64_t base = pt.sh_offset, size = pt.sh_size;
    uint8_t h[8];
    if ((rc = rd(g, base, h, 8, ".gopclntab header")))
        return rc;
    uint32_t magic;
    memcpy(&magic, h, 4);
    if (h[4] || h[5] || (h[6] != 1 && h[6] != 2 && h[6] != 4) || h[7] != 8)
        return bad(g, ".gopclntab header not understood");
    uint64_t nfunc, ftab, names_at = 0, text = 0;
    bool wide = true; /* 64-bit ftab entries */
    switch (magic) {
    case 0xfffffffb:
        ftab = 16;
        break;
    case 0xfffffffa:
        ftab = 56;
        break;
    case 0xfffffff0:
    case 0xfffffff1:
        wide = false;
        ftab = 64;
        break;
    default:
        return bad(g, ".gopclntab magic 0x%08x not understood", magic);
    }
    if ((rc = rd64(g, base + 8, &nfunc, ".gopclntab header")))
        return rc;
    if (magic != 0xfffffffb) {
        uint64_t at = magic == 0xfffffffa ? 24 : 32;
        if ((rc = rd64(g, base + at, &names_at, ".gopclntab header")) ||
            (rc = rd64(g, base + ftab, &ftab, ".gopclntab header")))
            return rc;
    }
    if (!wide) {
        if ((rc = rdptr(g, pt.sh_addr + 24, &text, ".gopclntab textStart")))
            return rc;
        if (!text) { /* unrelocated and no relocation found */
            Elf64_Shdr tx;
            if ((rc = find_sect(g, ".text", &tx)) <= 0)
                return rc ? rc : bad(g, ".gopclntab has no textStart");
            text = tx.sh_addr;
        }
    }
    const uint64_t esz = wide ? 16 : 8;
    if (names_at > size || ftab > size || nfunc >= (size - ftab) / esz)
        return bad(g, ".gopclntab: %llu functions do not fit",
                   (unsigned long long)nfunc);
    char buf[NAME_MAX_LEN];
    for (uint64_t i = 0; i < nfunc; i++) {
        uint64_t funcoff, at = base + ftab + i * esz;
        if (wide) {
            rc = rd64(g, at + 8, &funcoff, ".gopclntab ftab");
        } else {
            uint32_t v;
            rc = rd32(g, at + 4, &v, ".gopclntab ftab");
            funcoff = v;
        }
        if (rc)
            return rc;
        /* funcoff counts from the table (1.2) or from ftab (later). */
        uint64_t fo = magic == 0xfffffffb ? funcoff : ftab + funcoff;
        uint64_t name_field = wide ? 8 : 4;
        if (fo > size || fo < funcoff || size - fo < name_field + 4)
            return bad(g, ".gopclntab: function %llu is outside the table",
                       (unsigned long long)i);
        uint32_t nameoff;
        if ((rc = rd32(g, base + fo + name_field, &nameoff,
                       ".gopclntab _func")))
            return rc;
        if (nameoff >= size - names_at)
            continue;
        int len = rdname(g, base + names_at + nameoff, base + size, buf,
                         sizeof buf);
        if (len <= 0)
            continue;
        int which = -1;
        for (int n = 0; n < N_COUNT && which < 0; n++)
            if (n != N_BUILDVERSION && strcmp(buf, names[n]) == 0)
                which = n;
        if (which < 0 || f->plain[which])
            continue;
        uint64_t entry;
        if (wide) {
            /* an absolute address: relocated in a PIE */
            rc = rdptr(g, pt.sh_addr + fo, &entry, ".gopclntab _func");
        } else {
            uint32_t eo;
            rc = rd32(g, base + fo, &eo, ".gopclntab _func");
            entry = text + eo;
        }
        if (rc)
            return rc;
        f->plain[which] = entry;
    }
    return 0;
}

/* Go's varint: 7 bits a byte, low first. */
static int uvarint(const uint8_t *p, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return (int)i + 1;
        }
    }
    return -1;
}

static int set_version(gf_t *g, shunt_goinfo_t *out, const char *s,
                       size_t len)
{
    if (len == 0 || len > 256)
        return bad(g, "a Go version of %zu bytes", len);
    size_t n = len < sizeof out->version - 1 ? len : sizeof out->version - 1;
    memcpy(out->version, s, n);
    out->version[n] = 0;
    const char *p = out->version;
    if (strncmp(p, "devel ", 6) == 0)
        p += 6;
    unsigned v[3] = {0, 0, 0};
    if (strncmp(p, "go", 2) != 0)
        return bad(g, "Go version \"%s\" not understood", out->version);
    p += 2;
    for (int i = 0; i < 3; i++) {
        if (*p < '0' || *p > '9')
            return i >= 2 ? 0 : bad(g, "Go version \"%s\" not understood",
                                    out->version);
        while (*p >= '0' && *p <= '9' && v[i] < 100000)
            v[i] = v[i] * 10 + (unsigned)(*p++ - '0');
        out->major = (int)v[0], out->minor = (int)v[1],
        out->patch = (int)v[2];
        if (*p != '.')
            break;
        p++;
    }
    if (out->major != 1)
        return bad(g, "Go version \"%s\" not understood", out->version);
    return 0;
}

/* A Go string header {ptr, len} at va. */
static int go_string(gf_t *g, shunt_goinfo_t *out, uint64_t va)
{
    uint64_t ptr = 0, len = 0, off = 0;
    int rc = rdptr(g, va, &ptr, "Go version string");
    if (rc || (rc = va_to_off(g, va + 8, 8, &off, "Go version string")) ||
        (rc = rd64(g, off, &len, "Go version string")))
        return rc;
    if (len == 0 || len > 256)
        return bad(g, "a Go version of %llu bytes", (unsigned long long)len);
    char s[257];
    if ((rc = va_to_off(g, ptr, len, &off, "Go version")) ||
        (rc = rd(g, off, s, len, "Go version")))
        return rc;
    return set_version(g, out, s, len);
}

#define BUILDINFO_MAGIC "\xff Go buildinf:"
#define BUILDINFO_MAGIC_LEN 14

/* The build info blob: 16 bytes of magic, pointer size and flags, then
 * either two pointers to Go strings (version, module info; before 1.18) or,
 * flag 2, the strings inline, each after a varint length. */
static int buildinfo_at(gf_t *g, shunt_goinfo_t *out, uint64_t off,
                        uint64_t va, uint64_t avail)
{
    uint8_t h[32 + 10 + 256];
    size_t n = avail < sizeof h ? (size_t)avail : sizeof h;
    int rc;
    if (n < 32)
        return bad(g, "Go build info truncated");
    if ((rc = rd(g, off, h, n, "Go build info")))
        return rc;
    if (h[14] != 8 || (h[15] & 1))
        return bad(g, "Go build info for pointer size %u, flags 0x%x", h[14],
                   h[15]);
    if (h[15] & 2) {
        uint64_t len;
        int k = uvarint(h + 32, n - 32, &len);
        if (k < 0 || len > n - 32 - (size_t)k)
            return bad(g, "Go build info: version string not understood");
        return set_version(g, out, (const char *)h + 32 + k, (size_t)len);
    }
    uint64_t sv;
    if ((rc = rdptr(g, va + 16, &sv, "Go build info")))
        return rc;
    return go_string(g, out, sv);
}

static int read_buildinfo(gf_t *g, shunt_goinfo_t *out)
{
    Elf64_Shdr sh;
    uint8_t m[BUILDINFO_MAGIC_LEN];
    int rc = find_sect(g, ".go.buildinfo", &sh);
    if (rc < 0)
        return rc;
    if (rc == 1 && sect_ok(g, &sh) && sh.sh_size >= 32) {
        if ((rc = rd(g, sh.sh_offset, m, sizeof m, "Go build info")))
            return rc;
        if (memcmp(m, BUILDINFO_MAGIC, sizeof m) == 0)
            return buildinfo_at(g, out, sh.sh_offset, sh.sh_addr,
                                sh.sh_size);
    }
    /* No section headers: the blob opens the writable segment, 16-byte
     * aligned; look through its first 64 KiB. */
    for (unsigned i = 0; i < g->nph; i++) {
        const Elf64_Phdr *p = &g->ph[i];
        if (p->p_type != PT_LOAD || !(p->p_flags & PF_W))
            continue;
        for (uint64_t d = 0; d + 32 <= p->p_filesz && d < 65536; d += 16) {
            if (rd(g, p->p_offset + d, m, sizeof m, "writable segment"))
                break;
            if (memcmp(m, BUILDINFO_MAGIC, sizeof m) == 0)
                return buildinfo_at(g, out, p->p_offset + d, p->p_vaddr + d,
                                    p->p_filesz - d);
        }
    }
    return bad(g, "not a Go executable (no runtime.buildVersion, no Go "
                  "build info)");
}

static int read_all(gf_t *g, shunt_goinfo_t *out)
{
    found_t f;
    memset(&f, 0, sizeof f);
    int rc = check_ehdr(g);
    if (rc)
        return rc;
    out->pie = g->eh.e_type == ET_DYN;
    for (unsigned i = 0; i < g->nph; i++)
        if (g->ph[i].p_type == PT_INTERP)
            out->has_interp = 1;
    if ((rc = read_symtab(g, &f)) < 0)
        return rc;
    out->stripped = rc == 0;
    if (f.plain[N_BUILDVERSION])
        rc = go_string(g, out, f.plain[N_BUILDVERSION]);
    else
        rc = read_buildinfo(g, out);
    if (rc)
        return rc;
    if (out->stripped && (rc = read_pclntab(g, &f)))
        return rc;
    /* Before Go 1.17 symbols carry no ABI suffix; from 1.17 an assembly
     * (ABI0) function is "name.abi0" in .symtab, and .gopclntab never
     * shows the suffix.  Until 1.19 Syscall/Syscall6/RawSyscall were
     * assembly. */
    for (int i = N_RAWSC6; i < N_COUNT; i++)
        if (!f.abi0[i] &&
            (i == N_VFORK || i == N_ASMCGOCALL || out->minor < 19))
            f.abi0[i] = f.plain[i];
    int sc6 = out->minor >= 26   ? N_SC6_126
              : out->minor >= 23 ? N_SC6_123
              : out->minor >= 19 ? N_SC6_119
                                 : -1;
    if (sc6 >= 0)
        out->syscall6 = f.plain[sc6];
    out->raw_syscall6 = f.plain[N_RAWSC6] ? f.plain[N_RAWSC6]
                                          : f.abi0[N_RAWSC6];
    out->syscall_abi0[0] = f.abi0[N_SYSCALL];
    out->syscall_abi0[1] = f.abi0[N_SYSCALL6];
    out->syscall_abi0[2] = f.abi0[N_RAWSYSCALL];
    out->raw_vfork = f.abi0[N_VFORK];
    out->asmcgocall = f.abi0[N_ASMCGOCALL];
    out->cgo = f.plain[N_CROSSCALL2] || f.abi0[N_CROSSCALL2];
    if (sc6 >= 0 && !out->syscall6)
        return bad(g, "%s: %s not found", out->version, names[sc6]);
    if (sc6 < 0 && !out->syscall_abi0[0] && !out->syscall_abi0[1] &&
        !out->syscall_abi0[2])
        return bad(g, "%s: none of syscall.Syscall, Syscall6, RawSyscall "
                      "found",
                   out->version);
    return 0;
}

int shunt_goinfo_read(const char *path, shunt_goinfo_t *out, char *why,
                      size_t whylen)
{
    gf_t g;
    memset(out, 0, sizeof *out);
    if (why && whylen)
        why[0] = 0;
    memset(&g, 0, sizeof g);
    g.why = why, g.whylen = whylen;
    long fd = shunt_sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return shunt_why((int)fd, why, whylen, "open %s: %s", path,
                         shunt_errname((int)-fd));
    g.fd = (int)fd;
    long end = shunt_sys6(SYS_lseek, g.fd, 0, SEEK_END, 0, 0, 0);
    int rc;
    if (end < 0) {
        rc = shunt_why((int)end, why, whylen, "seek %s: %s", path,
                       shunt_errname((int)-end));
    } else {
        g.size = (uint64_t)end;
        rc = read_all(&g, out);
    }
    shunt_sys_close(g.fd);
    return rc;
}
