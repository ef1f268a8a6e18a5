/* libc's exported functions without the loader (layer/libcsym.c). */
#ifndef SHUNT_LAYER_LIBCSYM_H
#define SHUNT_LAYER_LIBCSYM_H

/* The address of libc.so.6's function name: with version NULL its default
 * version (as dlsym gives), else that version (as dlvsym).  NULL when libc
 * has no such function or is not loaded.  Allocates nothing; not
 * thread-safe on its first call (the constructor makes it). */
void *shunt_libc_sym(const char *name, const char *version);

#endif
