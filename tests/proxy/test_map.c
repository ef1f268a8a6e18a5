/* The proxy's u64 -> pointer map against a plain array, under random
 * inserts, replacements and deletions (backward-shift deletion is easy to
 * get subtly wrong). */
#include "proxy_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#define KEYS 4096

static void test_random_ops(void **state)
{
    (void)state;
    static void *ref[KEYS];
    pmap_t m;
    pmap_init(&m);
    assert_null(pmap_get(&m, 1));
    assert_null(pmap_del(&m, 1));
    uint64_t x = 12345;
    size_t live = 0;
    for (int i = 0; i < 400000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* sequential-ish keys, like request ids and handles, and key 0 */
        uint64_t k = (x >> 8) % KEYS;
        uint64_t key = k * 0x100000u;
        int op = (int)(x % 3);
        if (op == 0) {
            void *v = (void *)(uintptr_t)(x | 1);
            assert_int_equal(pmap_put(&m, key, v), 0);
            if (!ref[k])
                live++;
            ref[k] = v;
        } else if (op == 1) {
            void *old = pmap_del(&m, key);
            assert_ptr_equal(old, ref[k]);
            if (ref[k])
                live--;
            ref[k] = NULL;
        } else {
            assert_ptr_equal(pmap_get(&m, key), ref[k]);
        }
        assert_int_equal(m.n, live);
    }
    size_t n = 0, i = 0;
    uint64_t key;
    void *v;
    while (pmap_next(&m, &i, &key, &v)) {
        assert_int_equal(key % 0x100000u, 0);
        assert_ptr_equal(ref[key / 0x100000u], v);
        n++;
    }
    assert_int_equal(n, live);
    pmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
