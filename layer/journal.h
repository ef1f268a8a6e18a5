/* The call journal (journal.c): one line per hooked call the program made,
 * appended to SHUNT_JOURNAL (docs/hooking.md, "The call journal"). */
#ifndef SHUNT_LAYER_JOURNAL_H
#define SHUNT_LAYER_JOURNAL_H

/* The journalled calls (journal.def), by index: SHUNT_J_<name>. */
enum {
#define J(name, ...) SHUNT_J_##name,
#define JH(name) SHUNT_J_##name,
#include "journal.def"
#undef J
#undef JH
    SHUNT_J_COUNT
};

/* Opens the journal file (O_APPEND, shared by every process of the tree),
 * takes this process's tag and registers the fork handlers.  0, or -errno
 * (the journal stays off). */
int shunt_journal_open(const char *path);
/* The journal's detour for a hooks.def entry (its base name for an
 * ALIAS), or NULL when that call is not journalled or the journal is
 * off.  The detour calls hook_<name>. */
void *shunt_journal_detour(const char *name);
/* The same for journalled call i (SHUNT_J_<name>). */
void *shunt_journal_detour_at(int i);

#endif
