/* The installer: resolves every hooks.def entry in libc and patches it. */
#include "hooks.h"
#include "journal.h"
#include "layer.h"
#include "libcsym.h"

#include "shunt/hook.h"
#include "shunt/insn.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#define HOOK(name, ret, params, flags) struct real_##name##_s real_##name;
#define ALIAS(name, of, flags) struct real_##of##_s real_##name;
#include "hooks.def"
#undef HOOK
#undef ALIAS

typedef struct {
    const char *name;
    const char *base; /* the HOOK an ALIAS stands for: the journal's key */
    int flags;
    void *detour;
    void **real;
} hookent_t;

static const hookent_t table[] = {
#define HOOK(name, ret, params, flags) \
    {#name, #name, flags, (void *)hook_##name, (void **)&real_##name.fn},
#define ALIAS(name, of, flags) \
    {#name, #of, flags, (void *)hook_##of, (void **)&real_##name.fn},
#include "hooks.def"
#undef HOOK
#undef ALIAS
};
#define NHOOKS (sizeof(table) / sizeof(table[0]))

/* One instruction of the candidate for __openat64_nocancel (find_hidden):
 * 1 when it is the openat syscall, -1 when the candidate is refused. */
static int hidden_step(const cs_insn *in, void *arg)
{
    int *have_mov = arg;
    if (shunt_insn_is_mov_imm(in, X86_REG_EDI, AT_FDCWD))
        return -1;
    if (shunt_insn_is_mov_imm(in, X86_REG_EAX, SYS_openat))
        *have_mov = 1;
    if (*have_mov && in->id == X86_INS_SYSCALL)
        return 1;
    if (in->id == X86_INS_RET && !*have_mov) /* ret before the syscall */
        return -1;
    return 0;
}

/* glibc's __openat64_nocancel is not exported; in glibc 2.3x it follows
 * __open64_nocancel in the same object (sysdeps/unix/sysv/linux/
 * open{,at}64_nocancel.c).  Take the next 16-byte-aligned address after it
 * and accept it only if it looks like that function, decoded with the
 * engine's capstone (set up with the layer's allocator before this runs,
 * shunt_alloc_init): an openat syscall (mov $0x101,%eax; ... syscall)
 * whose dirfd is not loaded as AT_FDCWD, within 96 bytes. */
static void *find_hidden(const char *name)
{
    if (strcmp(name, "__openat64_nocancel") != 0)
        return NULL;
    void *open_nc = (void *)real___open_nocancel.fn;
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!open_nc ||
        !dladdr1(open_nc, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
        sym->st_size == 0)
        return NULL;
    const uint8_t *p = (const uint8_t *)(((uintptr_t)open_nc + sym->st_size +
                                          15) & ~(uintptr_t)15);
    int have_mov = 0;
    return shunt_insn_each(p, 96, (uintptr_t)p, hidden_step, &have_mov) == 1
               ? (void *)p
               : NULL;
}

int shunt_hooks_install(void)
{
    /* Not dlopen/dlsym: libcsym.c says why. */
    if (!shunt_libc_sym("read", NULL)) {
        LOG_ERROR("libc.so.6's symbols cannot be read: no hooks installed");
        return (int)NHOOKS;
    }
    void *addr[NHOOKS];
    int failed = 0, installed = 0;
    for (size_t i = 0; i < NHOOKS; i++) {
        const hookent_t *h = &table[i];
        if (h->flags & H_FIND)
            addr[i] = find_hidden(h->name);
        else
            addr[i] = shunt_libc_sym(
                h->name, (h->flags & H_PRIV) ? "GLIBC_PRIVATE" : NULL);
        if (addr[i])
            *h->real = addr[i];
    }
    /* One batch: one /proc/self/maps read, each page made writable once,
     * one core sync, instead of that per hook. */
    shunt_hook_batch_begin();
    for (size_t i = 0; i < NHOOKS; i++) {
        const hookent_t *h = &table[i];
        if (!addr[i]) {
            if (h->flags & H_OPT)
                LOG_DEBUG("hook %s: not in this libc", h->name);
            else {
                LOG_WARN("hook %s: not in this libc", h->name);
                failed++;
            }
            continue;
        }
        size_t j;
        for (j = 0; j < i; j++)
            if (addr[j] == addr[i])
                break;
        if (j < i) { /* an alias of an earlier entry: one function */
            *h->real = *table[j].real;
            continue;
        }
        char why[256] = "";
        void *detour = shunt_journal_detour(h->base);
        int r = shunt_hook_install(addr[i], detour ? detour : h->detour,
                                   h->real, why, sizeof(why));
        if (r < 0) {
            *h->real = addr[i];
            if (h->flags & H_OPT)
                LOG_DEBUG("hook %s: not installed: %s", h->name, why);
            else {
                LOG_WARN("hook %s: not installed: %s", h->name, why);
                failed++;
            }
            continue;
        }
        installed++;
        LOG_TRACE("hook %s at %p installed", h->name, addr[i]);
    }
    char why[256] = "";
    if (shunt_hook_batch_end(why, sizeof(why)) < 0)
        LOG_ERROR("hooks installed, but %s", why);
    LOG_DEBUG("%d hooks installed, %d failed", installed, failed);
    return failed;
}
