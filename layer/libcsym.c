/* libc's exported functions, looked up in its dynamic symbol table (GNU
 * hash, symbol versions) without the loader's help.
 *
 * The layer starts before every other initialiser (init.c); dlopen and
 * dlsym on libc's handle would make the loader allocate with the program's
 * malloc (a libc loaded as a dependency has no search list until dlopen
 * builds one), and a replacement malloc (jemalloc) would then initialise
 * itself — reading /etc/malloc.conf on this host — before the hooks are
 * in.  This reads the same tables the loader reads, allocating nothing.
 * tests/layer/hooks_resolve.c checks it against dlsym/dlvsym. */
#include "libcsym.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uintptr_t base;
    const ElfW(Sym) *sym;
    const char *str;
    const uint32_t *gnu_hash;
    const ElfW(Half) *versym;
    const ElfW(Verdef) *verdef;
    size_t n_verdef;
} image_t;

/* glibc rewrites some of a loaded object's dynamic entries to absolute
 * addresses (DT_SYMTAB, DT_STRTAB, DT_GNU_HASH, DT_VERSYM) and leaves the
 * others (DT_VERDEF) as they are in the file: an offset is below the base. */
static uintptr_t dyn_addr(uintptr_t base, ElfW(Addr) v)
{
    return v < base ? base + v : v;
}

static int image_of(const struct link_map *lm, image_t *im)
{
    memset(im, 0, sizeof(*im));
    im->base = lm->l_addr;
    for (const ElfW(Dyn) *d = lm->l_ld; d && d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB:
            im->sym = (const void *)dyn_addr(im->base, d->d_un.d_ptr);
            break;
        case DT_STRTAB:
            im->str = (const void *)dyn_addr(im->base, d->d_un.d_ptr);
            break;
        case DT_GNU_HASH:
            im->gnu_hash = (const void *)dyn_addr(im->base, d->d_un.d_ptr);
            break;
        case DT_VERSYM:
            im->versym = (const void *)dyn_addr(im->base, d->d_un.d_ptr);
            break;
        case DT_VERDEF:
            im->verdef = (const void *)dyn_addr(im->base, d->d_un.d_ptr);
            break;
        case DT_VERDEFNUM:
            im->n_verdef = d->d_un.d_val;
            break;
        default:
            break;
        }
    }
    return im->sym && im->str && im->gnu_hash ? 0 : -1;
}

/* The name of version index ndx (DT_VERDEF), or NULL. */
static const char *version_name(const image_t *im, unsigned ndx)
{
    const ElfW(Verdef) *vd = im->verdef;
    for (size_t i = 0; vd && i < im->n_verdef; i++) {
        if (vd->vd_ndx == ndx && vd->vd_cnt > 0) {
            const ElfW(Verdaux) *a =
                (const void *)((const char *)vd + vd->vd_aux);
            return im->str + a->vda_name;
        }
        if (!vd->vd_next)
            break;
        vd = (const void *)((const char *)vd + vd->vd_next);
    }
    return NULL;
}

/* As dlsym (version NULL: the default version, never a hidden one) and
 * dlvsym (that version) answer for a function; NULL for anything else,
 * an IFUNC included (dlsym would call its resolver). */
static void *lookup(const image_t *im, const char *name, const char *version)
{
    const uint32_t *h = im->gnu_hash;
    uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2];
    if (nbuckets == 0)
        return NULL;
    const uint32_t *buckets =
        (const uint32_t *)((const ElfW(Addr) *)(h + 4) + bloom_size);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t hash = 5381;
    for (const unsigned char *s = (const void *)name; *s; s++)
        hash = hash * 33 + *s;
    uint32_t i = buckets[hash % nbuckets];
    if (i < symoffset)
        return NULL;
    for (;; i++) {
        uint32_t ch = chain[i - symoffset];
        const ElfW(Sym) *s = &im->sym[i];
        if ((ch | 1) == (hash | 1) && s->st_shndx != SHN_UNDEF &&
            ELF64_ST_TYPE(s->st_info) == STT_FUNC &&
            strcmp(im->str + s->st_name, name) == 0) {
            unsigned vs = im->versym ? im->versym[i] : 1;
            unsigned ndx = vs & 0x7fff;
            if (version) {
                const char *vn = ndx >= 2 ? version_name(im, ndx) : NULL;
                if (vn && strcmp(vn, version) == 0)
                    return (void *)(im->base + s->st_value);
            } else if (!(vs & 0x8000)) {
                return (void *)(im->base + s->st_value);
            }
        }
        if (ch & 1)
            break;
    }
    return NULL;
}

void *shunt_libc_sym(const char *name, const char *version)
{
    static image_t libc;
    static int state; /* 0 not looked for, 1 found, -1 not usable */
    if (state == 0) {
        Dl_info info;
        struct link_map *lm = NULL;
        state = -1;
        if (dladdr1((void *)shunt_libc_sym, &info, (void **)&lm,
                    RTLD_DL_LINKMAP) && lm) {
            while (lm->l_prev)
                lm = lm->l_prev;
            for (; lm; lm = lm->l_next) {
                const char *b = lm->l_name ? strrchr(lm->l_name, '/') : NULL;
                if (b && strcmp(b + 1, "libc.so.6") == 0) {
                    if (image_of(lm, &libc) == 0)
                        state = 1;
                    break;
                }
            }
        }
    }
    return state == 1 ? lookup(&libc, name, version) : NULL;
}
