/* Private to harness/scenario: what scenario.c offers fuzzspec.c. */
#ifndef SHUNT_HARNESS_SCENARIO_INT_H
#define SHUNT_HARNESS_SCENARIO_INT_H

#include "shunt/arena.h"
#include "shunt/scenario.h"

/* A list of files as target.files has them (path, content, from, symlink,
 * link, dir, fifo, mode, owner), kept in mem; dir anchors from:.  With
 * sizes (fuzz.tree): no from: nor owner: (the fuzz interpreter makes the
 * tree), `size: N` as one more kind of regular file (*sizes[i]: N, or -1),
 * a path outside the layer's default local set, and a link: to an earlier
 * regular file of the list.  0, or -1 with e set. */
int shunt_scenario_files(const shunt_yerr_t *e, shunt_arena_t *mem, const char *dir,
                         const shunt_ynode_t *n, const char *path, long **sizes,
                         shunt_filelist_t *out);

#endif
