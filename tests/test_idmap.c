/*  test_idmap - the u64 -> pointer map against a simple model */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include "zhive_idmap.h"

static void
test_insert_lookup_remove (void **state)
{
    (void) state;
    zhive_idmap_t *map = zhive_idmap_new ();
    int values [3];
    assert_null (zhive_idmap_lookup (map, 1));
    assert_int_equal (zhive_idmap_insert (map, 1, &values [0]), 0);
    assert_int_equal (zhive_idmap_insert (map, 0, &values [1]), 0);    //  0 is a valid key
    assert_ptr_equal (zhive_idmap_lookup (map, 1), &values [0]);
    assert_ptr_equal (zhive_idmap_lookup (map, 0), &values [1]);
    assert_int_equal (zhive_idmap_insert (map, 1, &values [2]), 0);    //  replace
    assert_int_equal (zhive_idmap_size (map), 2);
    assert_ptr_equal (zhive_idmap_remove (map, 1), &values [2]);
    assert_null (zhive_idmap_remove (map, 1));
    assert_int_equal (zhive_idmap_size (map), 1);
    zhive_idmap_destroy (&map);
    zhive_idmap_destroy (&map);
    assert_null (map);
}

//  Random operations compared with a plain array model, through many grows
//  and backward-shift deletions
static void
test_against_model (void **state)
{
    (void) state;
    enum { KEYS = 5000 };
    static char model [KEYS];    //  1 = present
    static char slots [KEYS];    //  Address used as the value
    zhive_idmap_t *map = zhive_idmap_new ();
    srand (3);
    size_t present = 0;
    for (int round = 0; round < 200000; round++) {
        uint64_t key = (uint64_t) (rand () % KEYS);
        //  Spread keys across the space, as tickets and map ids are
        uint64_t real_key = key * 0x9E3779B97F4A7C15ULL;
        if (rand () % 2) {
            assert_int_equal (zhive_idmap_insert (map, real_key, &slots [key]), 0);
            if (!model [key])
                present++;
            model [key] = 1;
        }
        else {
            void *value = zhive_idmap_remove (map, real_key);
            if (model [key]) {
                assert_ptr_equal (value, &slots [key]);
                present--;
            }
            else
                assert_null (value);
            model [key] = 0;
        }
        assert_int_equal (zhive_idmap_size (map), present);
    }
    for (uint64_t key = 0; key < KEYS; key++) {
        void *value = zhive_idmap_lookup (map, key * 0x9E3779B97F4A7C15ULL);
        if (model [key])
            assert_ptr_equal (value, &slots [key]);
        else
            assert_null (value);
    }
    zhive_idmap_destroy (&map);
}

static void
s_count (uint64_t key, void *value, void *arg)
{
    (void) value;
    *(uint64_t *) arg += key;
}

static void
test_each (void **state)
{
    (void) state;
    zhive_idmap_t *map = zhive_idmap_new ();
    int value;
    for (uint64_t key = 1; key <= 1000; key++)
        zhive_idmap_insert (map, key, &value);
    uint64_t sum = 0;
    zhive_idmap_each (map, s_count, &sum);
    assert_int_equal (sum, 1000 * 1001 / 2);
    zhive_idmap_destroy (&map);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_insert_lookup_remove),
        cmocka_unit_test (test_against_model),
        cmocka_unit_test (test_each),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
