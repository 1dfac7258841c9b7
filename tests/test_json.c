/*  test_json - the CLI's msgpack -> JSON output: linear, and read back */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "zhive_json.h"

//  Render packed bytes as JSON text (caller frees)
static char *
s_dumps (const zhive_pack_t *pack)
{
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    msgpack_object object;
    size_t offset = 0;
    assert_int_equal (
        msgpack_unpack (zhive_pack_data (pack), zhive_pack_size (pack), &offset, &zone, &object),
        MSGPACK_UNPACK_SUCCESS);
    char *text = zhive_json_dumps (&object);
    msgpack_zone_destroy (&zone);
    assert_non_null (text);
    return text;
}

//  Maps used as keys of maps, 20 levels: the output grows with the input,
//  not doubling per level (it printed 134 MB for 53 bytes), and reads back
static void
test_map_keys_linear (void **state)
{
    (void) state;
    enum { LEVELS = 20 };
    zhive_pack_t *pack = zhive_pack_new ();
    for (int level = 0; level < LEVELS; level++) {
        zhive_pack_map (pack, 1);    //  { <key>: 1 }, the key is the next level
    }
    zhive_pack_str (pack, "a\"b");
    for (int level = 0; level < LEVELS; level++)
        zhive_pack_int (pack, 1);
    char *text = s_dumps (pack);
    assert_true (strlen (text) < 100 * zhive_pack_size (pack));
    char why [256];
    json_t *back = zhive_json_parse (text, strlen (text), why, sizeof why);
    assert_non_null (back);
    assert_true (json_is_object (back));
    json_decref (back);
    free (text);
    zhive_pack_destroy (&pack);
}

//  Keys with NUL, not UTF-8, bin, array, scalars: always JSON zhive reads
static void
test_odd_keys_read_back (void **state)
{
    (void) state;
    zhive_pack_t *pack = zhive_pack_new ();
    zhive_pack_map (pack, 7);
    zhive_pack_strn (pack, "a\0b", 3);
    zhive_pack_int (pack, 1);
    zhive_pack_strn (pack, "\xff\xfe", 2);
    zhive_pack_int (pack, 2);
    zhive_pack_bytes (pack, "\x00\x01", 2);
    zhive_pack_int (pack, 3);
    zhive_pack_array (pack, 1);
    zhive_pack_int (pack, 9);
    zhive_pack_int (pack, 4);
    zhive_pack_int (pack, 42);
    zhive_pack_int (pack, 5);
    zhive_pack_str (pack, "plain");
    zhive_pack_int (pack, 6);
    zhive_pack_str (pack, "");
    zhive_pack_int (pack, 7);
    char *text = s_dumps (pack);
    char why [256];
    json_t *back = zhive_json_parse (text, strlen (text), why, sizeof why);
    assert_non_null (back);
    assert_int_equal (json_object_size (back), 7);
    assert_int_equal (json_integer_value (json_object_get (back, "42")), 5);
    assert_int_equal (json_integer_value (json_object_get (back, "plain")), 6);
    assert_int_equal (json_integer_value (json_object_get (back, "")), 7);
    assert_null (strstr (text, "\\u0000"));
    //  Every odd key is armoured the one way
    const char *key;
    json_t *value;
    int armoured = 0;
    json_object_foreach (back, key, value)
    {
        if (strncmp (key, "$msgpack:", 9) == 0)
            armoured++;
    }
    assert_int_equal (armoured, 4);
    json_decref (back);
    free (text);
    zhive_pack_destroy (&pack);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_map_keys_linear),
        cmocka_unit_test (test_odd_keys_read_back),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
