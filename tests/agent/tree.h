/* The test tree the file tests serve and mirror. */
#ifndef SHUNT_TEST_AGENT_TREE_H
#define SHUNT_TEST_AGENT_TREE_H

#include <stddef.h>
#include <stdint.h>

#define BIG_SIZE (3u * 1024u * 1024u + 123u)
#define MANY_COUNT 300

static inline uint8_t pattern_byte(uint64_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13 ^ i >> 7);
}

/* hello.txt, sub/{inner.txt,deep/x}, emptydir/, links, fifo, big.bin,
 * many/f000..f299. */
void build_tree(const char *dir);

#endif
