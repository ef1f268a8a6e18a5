/* Writes the seed inputs of fuzz/trampoline_shuffle into DIR: each entry
 * (Syscall6, the four ABI0 ones), each kind of call (wanted, getpid,
 * unknown), each fork marker, answers at the edges of Go's error range,
 * registers all ones and alternating bits.
 *   fuzz_trampoline_shuffle_seeds DIR */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_trampoline_shuffle_seeds DIR\n");
        return 2;
    }
    static const uint64_t answers[] = {0, 1, 42, (uint64_t)-1, (uint64_t)-4095,
                                       (uint64_t)-4096, (uint64_t)-38,
                                       0x7fffffffffffffffull};
    static const uint8_t kinds[] = {0, 5, 11, 12, 13, 200};
    int n = 0;
    /* entry 0: the ABIInternal Syscall6 entry; 1-4: go_abi0.S's */
    for (int e = 0; e < 5 * 3 * (int)sizeof(kinds); e++) {
        int entry = e / (3 * (int)sizeof(kinds));
        size_t k = (size_t)e / 3 % sizeof(kinds);
        int fork = e % 3;
        uint8_t buf[66 * 8];
        for (int c = 0; c < 8; c++) {
            uint8_t *p = buf + 66 * c;
            p[0] = kinds[k];
            p[1] = (uint8_t)(entry << 4 | (fork == 2 ? 7 : fork));
            for (int i = 0; i < 6; i++)
                put64(p + 2 + 8 * i, c % 2 ? 0xaaaaaaaaaaaaaaaaull + (uint64_t)i
                                           : (uint64_t)-1 - (uint64_t)i);
            put64(p + 50, 0xc000001000ull + (uint64_t)c);
            put64(p + 58, answers[c]);
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/seed-%03d", argv[1], n++);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, sizeof(buf), f) != sizeof(buf) || fclose(f) != 0) {
            perror(path);
            return 1;
        }
    }
    return 0;
}
