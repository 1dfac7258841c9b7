/*  test_pack - msgpack building, value readers, the skip validator, results */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <zhive.h>
#include <stdlib.h>
#include <string.h>
#include "zhive_private.h"
#include "zhive_reader.h"

//  Unpacks the whole buffer as one value into zone/out
static void
s_unpack (const zhive_pack_t *pack, msgpack_zone *zone, msgpack_object *out)
{
    size_t offset = 0;
    assert_int_equal (
        msgpack_unpack (zhive_pack_data (pack), zhive_pack_size (pack), &offset, zone, out),
        MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (offset, zhive_pack_size (pack));
}

static void
test_pack_and_read_every_type (void **state)
{
    (void) state;
    zhive_pack_t *pack = zhive_pack_new ();
    assert_non_null (pack);
    zhive_pack_map (pack, 8);
    zhive_pack_str (pack, "int");
    zhive_pack_int (pack, -123456789012LL);
    zhive_pack_str (pack, "uint");
    zhive_pack_uint (pack, 42);
    zhive_pack_str (pack, "double");
    zhive_pack_double (pack, 2.5);
    zhive_pack_str (pack, "bool");
    zhive_pack_bool (pack, true);
    zhive_pack_str (pack, "nil");
    zhive_pack_nil (pack);
    zhive_pack_str (pack, "str");
    zhive_pack_strn (pack, "hello world", 5);
    zhive_pack_str (pack, "bytes");
    zhive_pack_bytes (pack, "\x00\x01\x02", 3);
    zhive_pack_str (pack, "array");
    zhive_pack_array (pack, 2);
    zhive_pack_int (pack, 1);
    zhive_pack_str (pack, NULL);    //  NULL packs nil

    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    msgpack_object root;
    s_unpack (pack, &zone, &root);
    assert_int_equal (zhive_value_len (&root), 8);

    int64_t i;
    assert_int_equal (zhive_value_int (zhive_value_get (&root, "int"), &i), 0);
    assert_true (i == -123456789012LL);
    assert_int_equal (zhive_value_int (zhive_value_get (&root, "uint"), &i), 0);
    assert_int_equal (i, 42);
    double d;
    assert_int_equal (zhive_value_double (zhive_value_get (&root, "double"), &d), 0);
    assert_true (d == 2.5);
    //  Integers read as doubles too; doubles do not read as integers
    assert_int_equal (zhive_value_double (zhive_value_get (&root, "uint"), &d), 0);
    assert_true (d == 42.0);
    assert_int_equal (zhive_value_int (zhive_value_get (&root, "double"), &i), -1);
    bool b;
    assert_int_equal (zhive_value_bool (zhive_value_get (&root, "bool"), &b), 0);
    assert_true (b);
    assert_true (zhive_value_is_nil (zhive_value_get (&root, "nil")));
    const char *ptr;
    size_t size;
    assert_int_equal (zhive_value_str (zhive_value_get (&root, "str"), &ptr, &size), 0);
    assert_int_equal (size, 5);
    assert_memory_equal (ptr, "hello", 5);
    assert_int_equal (zhive_value_str (zhive_value_get (&root, "bytes"), &ptr, &size), 0);
    assert_int_equal (size, 3);
    const msgpack_object *array = zhive_value_get (&root, "array");
    assert_int_equal (zhive_value_len (array), 2);
    assert_true (zhive_value_is_nil (zhive_value_at (array, 1)));
    assert_null (zhive_value_at (array, 2));
    assert_null (zhive_value_get (&root, "missing"));
    assert_null (zhive_value_get (array, "int"));    //  Not a map
    //  Wrong types are refused, not converted
    assert_int_equal (zhive_value_str (zhive_value_get (&root, "int"), &ptr, &size), -1);
    assert_int_equal (zhive_value_bool (NULL, &b), -1);

    //  A read value packs again to the same bytes
    zhive_pack_t *copy = zhive_pack_new ();
    zhive_pack_object (copy, &root);
    assert_int_equal (zhive_pack_size (copy), zhive_pack_size (pack));
    assert_memory_equal (zhive_pack_data (copy), zhive_pack_data (pack), zhive_pack_size (pack));
    zhive_pack_destroy (&copy);
    msgpack_zone_destroy (&zone);

    zhive_pack_reset (pack);
    assert_int_equal (zhive_pack_size (pack), 0);
    zhive_pack_destroy (&pack);
    zhive_pack_destroy (&pack);    //  Safe twice
    assert_null (pack);
}

static void
test_pack_raw_validates (void **state)
{
    (void) state;
    zhive_pack_t *pack = zhive_pack_new ();
    assert_int_equal (zhive_pack_raw (pack, "\x01\x02\xa1x", 4), 0);    //  three values
    assert_int_equal (zhive_pack_size (pack), 4);
    assert_int_equal (zhive_pack_raw (pack, "\x92\x01", 2), -1);    //  truncated
    assert_int_equal (errno, EPROTO);
    assert_int_equal (zhive_pack_size (pack), 4);
    zhive_pack_destroy (&pack);
}

static void
test_skip (void **state)
{
    (void) state;
    //  Well-formed values: their exact size
    assert_int_equal (zhive_msgpack_skip ("\x01", 1), 1);
    assert_int_equal (zhive_msgpack_skip ("\x92\x01\xa1x\xff", 5), 4);
    assert_int_equal (zhive_msgpack_skip ("\x81\xa1k\x92\xc3\xc0", 6), 6);
    assert_int_equal (zhive_msgpack_skip ("\xcb\0\0\0\0\0\0\0\0", 9), 9);
    assert_int_equal (zhive_msgpack_skip ("\xc4\x02zz", 4), 4);
    assert_int_equal (zhive_msgpack_skip ("\xd4\x01\x02", 3), 3);     //  fixext 1
    assert_int_equal (zhive_msgpack_skip ("\xc7\x01\x05z", 4), 4);    //  ext 8
    assert_int_equal (zhive_msgpack_skip ("\x90", 1), 1);
    //  Malformed: -1, never a read past the end
    assert_int_equal (zhive_msgpack_skip ("", 0), -1);
    assert_int_equal (zhive_msgpack_skip ("\xc1", 1), -1);    //  never used
    assert_int_equal (zhive_msgpack_skip ("\x92\x01", 2), -1);
    assert_int_equal (zhive_msgpack_skip ("\xdb\xff\xff\xff\xff", 5), -1);
    assert_int_equal (zhive_msgpack_skip ("\xdd\xff\xff\xff\xff\x01", 6), -1);
    assert_int_equal (zhive_msgpack_skip ("\xcf\x01", 2), -1);
    //  Nesting deeper than ZHIVE_DEPTH_MAX (32) is refused
    char deep [100];
    memset (deep, 0x91, sizeof deep);
    deep [99] = 0x01;
    assert_int_equal (zhive_msgpack_skip (deep, sizeof deep), -1);
    assert_int_equal (zhive_msgpack_skip (deep + 67, sizeof deep - 67), 33);
    assert_int_equal (zhive_msgpack_skip (deep + 66, sizeof deep - 66), -1);
    //  Random bytes: whatever skip accepts, msgpack-c reads to the same end.
    //  (msgpack-c is only asked about accepted bytes: given a forged array
    //  count it allocates count × 24 bytes before looking, which is exactly
    //  why zhive checks with skip before it unpacks anything.)
    srand (7);
    uint8_t buf [32];
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        size_t size = (size_t) (rand () % 32) + 1;
        for (size_t i = 0; i < size; i++)
            buf [i] = (uint8_t) rand ();
        ssize_t length = zhive_msgpack_skip (buf, size);
        assert_true (length == -1 || (length > 0 && (size_t) length <= size));
        if (length < 0)
            continue;
        accepted++;
        msgpack_zone zone;
        msgpack_zone_init (&zone, 256);
        msgpack_object obj;
        size_t offset = 0;
        msgpack_unpack_return rc = msgpack_unpack ((const char *) buf, size, &offset, &zone, &obj);
        assert_true (rc == MSGPACK_UNPACK_SUCCESS || rc == MSGPACK_UNPACK_EXTRA_BYTES);
        assert_int_equal ((size_t) length, offset);
        msgpack_zone_destroy (&zone);
    }
    assert_true (accepted > 1000);
}

static void
test_results (void **state)
{
    (void) state;
    zhive_result_t *result = zhive_result_new_value ("\x92\x01\x02", 3);
    assert_true (zhive_result_ok (result));
    assert_int_equal (zhive_value_len (zhive_result_value (result)), 2);
    size_t size;
    assert_memory_equal (zhive_result_data (result, &size), "\x92\x01\x02", 3);
    assert_int_equal (size, 3);
    assert_string_equal (zhive_result_error_type (result), "");
    zhive_result_destroy (&result);
    assert_null (result);

    result = zhive_result_new_value ("\x92\x01", 2);
    assert_false (zhive_result_ok (result));
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_MALFORMED);
    zhive_result_destroy (&result);

    result = zhive_result_new_error ("ExampleError", "boom", "w1");
    assert_false (zhive_result_ok (result));
    assert_null (zhive_result_value (result));
    assert_null (zhive_result_data (result, &size));
    assert_string_equal (zhive_result_error_type (result), "ExampleError");
    assert_string_equal (zhive_result_error_message (result), "boom");
    assert_string_equal (zhive_result_error_worker (result), "w1");
    zhive_result_destroy (&result);
    zhive_result_destroy (&result);
}

//  Empty strings, bins, arrays and maps round-trip, and packing nothing
//  raw or reading an empty key is defined (the sanitizer build checks)
static void
test_empty_values (void **state)
{
    (void) state;
    zhive_pack_t *pack = zhive_pack_new ();
    assert_int_equal (zhive_pack_raw (pack, NULL, 0), 0);    //  A fresh pack, nothing
    assert_int_equal (zhive_pack_size (pack), 0);
    assert_int_equal (zhive_pack_array (pack, 5), 0);
    assert_int_equal (zhive_pack_str (pack, ""), 0);
    assert_int_equal (zhive_pack_strn (pack, NULL, 0), 0);
    assert_int_equal (zhive_pack_bytes (pack, NULL, 0), 0);
    assert_int_equal (zhive_pack_array (pack, 0), 0);
    assert_int_equal (zhive_pack_map (pack, 1), 0);
    assert_int_equal (zhive_pack_str (pack, ""), 0);
    assert_int_equal (zhive_pack_map (pack, 0), 0);
    assert_int_equal (zhive_pack_raw (pack, "", 0), 0);
    zhive_result_t *result =
        zhive_result_new_value (zhive_pack_data (pack), zhive_pack_size (pack));
    const msgpack_object *value = zhive_result_value (result);
    assert_non_null (value);
    assert_int_equal (zhive_value_len (value), 5);
    const char *ptr;
    size_t size = 99;
    assert_int_equal (zhive_value_str (zhive_value_at (value, 0), &ptr, &size), 0);
    assert_int_equal (size, 0);
    assert_int_equal (zhive_value_str (zhive_value_at (value, 1), &ptr, &size), 0);
    assert_int_equal (size, 0);
    size = 99;
    assert_int_equal (zhive_value_str (zhive_value_at (value, 2), &ptr, &size), 0);
    assert_int_equal (size, 0);
    assert_int_equal (zhive_value_len (zhive_value_at (value, 3)), 0);
    const msgpack_object *map = zhive_value_at (value, 4);
    assert_int_equal (zhive_value_len (map), 1);
    const msgpack_object *inner = zhive_value_get (map, "");
    assert_non_null (inner);
    assert_int_equal (inner->type, MSGPACK_OBJECT_MAP);
    assert_null (zhive_value_get (map, "x"));
    assert_null (zhive_value_get (inner, ""));
    zhive_result_destroy (&result);
    zhive_pack_destroy (&pack);
}

//  One nesting limit, the one msgpack-c can unpack: a value 32 levels
//  deep is a value, 33 is malformed, so a result that is ok always has one
static void
test_depth_limit (void **state)
{
    (void) state;
    for (int depth = 30; depth <= 66; depth++) {
        for (int shape = 0; shape < 3; shape++) {
            uint8_t bytes [200];
            size_t size = 0;
            for (int level = 0; level < depth; level++) {
                if (shape == 1) {
                    bytes [size++] = 0x81;    //  {nil: ...}
                    bytes [size++] = 0xc0;
                }
                else if (shape == 2 && level == depth - 1)
                    bytes [size++] = 0x90;    //  The innermost is an empty array
                else
                    bytes [size++] = 0x91;
            }
            if (shape != 2)
                bytes [size++] = 0x01;
            bool fits = depth <= ZHIVE_DEPTH_MAX;
            assert_int_equal (zhive_msgpack_skip (bytes, size), fits ? (ssize_t) size : -1);
            zhive_result_t *result = zhive_result_new_value (bytes, size);
            assert_non_null (result);
            assert_int_equal (zhive_result_ok (result), fits);
            if (fits)
                assert_non_null (zhive_result_value (result));
            else
                assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_MALFORMED);
            zhive_result_destroy (&result);
        }
    }
    assert_int_equal (ZHIVE_DEPTH_MAX, 32);
}

//  An array holding count - 1 nils: count values in all (caller frees)
static char *
s_nil_array (size_t count, size_t *size)
{
    size_t items = count - 1;
    char *data = (char *) malloc (items + 5);
    assert_non_null (data);
    data [0] = (char) 0xdd;
    for (int index = 0; index < 4; index++)
        data [1 + index] = (char) (items >> (24 - 8 * index));
    memset (data + 5, 0xc0, items);
    *size = items + 5;
    return data;
}

//  A value that would unpack past ZHIVE_UNPACK_MAX is an error result
//  (TooLarge, saying both sizes), made so when the result is made, from
//  bytes or from a frame; one at the limit is a value that unpacks
static void
test_unpack_limit (void **state)
{
    (void) state;
    assert_int_equal (ZHIVE_UNPACK_MAX, 256 << 20);
    size_t fits = ZHIVE_UNPACK_MAX / sizeof (msgpack_object);
    for (int past = 0; past <= 1; past++) {
        size_t size;
        char *data = s_nil_array (fits + (size_t) past, &size);
        size_t objects, bytes;
        assert_int_equal (zhive_msgpack_measure (data, size, &objects, &bytes), (ssize_t) size);
        assert_int_equal (objects, fits + (size_t) past);
        assert_int_equal (bytes > ZHIVE_UNPACK_MAX, past);
        for (int framed = 0; framed <= 1; framed++) {
            zhive_result_t *result;
            if (framed) {
                zmq_msg_t frame;
                assert_int_equal (zmq_msg_init_size (&frame, size), 0);
                memcpy (zmq_msg_data (&frame), data, size);
                result = zhive_result_new_frame (&frame);
                zmq_msg_close (&frame);
            }
            else
                result = zhive_result_new_value (data, size);
            assert_non_null (result);
            if (past) {
                assert_false (zhive_result_ok (result));
                assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_TOO_LARGE);
                assert_string_equal (zhive_result_error_type (result), "TooLarge");
                char text [32];
                snprintf (text, sizeof text, "%zu", bytes);
                assert_non_null (strstr (zhive_result_error_message (result), text));
                snprintf (text, sizeof text, "%d", ZHIVE_UNPACK_MAX);
                assert_non_null (strstr (zhive_result_error_message (result), text));
                assert_null (zhive_result_value (result));
                assert_null (zhive_result_data (result, NULL));
            }
            else if (framed) {
                //  At the limit: ok, and it has a value
                assert_true (zhive_result_ok (result));
                const msgpack_object *value = zhive_result_value (result);
                assert_non_null (value);
                assert_int_equal (zhive_value_len (value), fits - 1);
            }
            else
                assert_true (zhive_result_ok (result));
            zhive_result_destroy (&result);
        }
        free (data);
    }
    //  Malformed stays Malformed
    zhive_result_t *result = zhive_result_new_value ("\xdd\xff\xff\xff\xff\xc0", 6);
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_MALFORMED);
    zhive_result_destroy (&result);
}

//  measure says what msgpack-c allocates to unpack a value: its zone use
//  (one big first chunk, so what was taken is what is missing from it)
//  is what measure counts, less the value itself, on several shapes
static void
test_measure_matches_msgpack (void **state)
{
    (void) state;
    for (int shape = 0; shape < 6; shape++) {
        zhive_pack_t *pack = zhive_pack_new ();
        if (shape == 0)
            zhive_pack_int (pack, 7);
        else if (shape == 1) {    //  A flat array of nils
            zhive_pack_array (pack, 100000);
            for (int item = 0; item < 100000; item++)
                zhive_pack_nil (pack);
        }
        else if (shape == 2) {    //  Arrays of small arrays
            zhive_pack_array (pack, 20000);
            for (int item = 0; item < 20000; item++) {
                zhive_pack_array (pack, 2);
                zhive_pack_int (pack, item);
                zhive_pack_array (pack, 0);
            }
        }
        else if (shape == 3) {    //  A map of str keys to bins: bodies referenced
            zhive_pack_map (pack, 20000);
            for (int item = 0; item < 20000; item++) {
                char key [16];
                snprintf (key, sizeof key, "k%d", item);
                zhive_pack_str (pack, key);
                zhive_pack_bytes (pack, "0123456789abcdef", 16);
            }
        }
        else if (shape == 4) {    //  Maps of maps, 3 levels
            zhive_pack_map (pack, 30);
            for (int outer = 0; outer < 30; outer++) {
                zhive_pack_int (pack, outer);
                zhive_pack_map (pack, 30);
                for (int inner = 0; inner < 30; inner++) {
                    zhive_pack_int (pack, inner);
                    zhive_pack_map (pack, 1);
                    zhive_pack_nil (pack);
                    zhive_pack_str (pack, "v");
                }
            }
        }
        else {    //  ZHIVE_DEPTH_MAX levels of one-element arrays
            for (int level = 0; level < ZHIVE_DEPTH_MAX - 1; level++)
                zhive_pack_array (pack, 1);
            zhive_pack_array (pack, 0);
        }
        size_t objects, bytes;
        assert_int_equal (zhive_msgpack_measure (zhive_pack_data (pack), zhive_pack_size (pack),
                                                 &objects, &bytes),
                          (ssize_t) zhive_pack_size (pack));
        size_t chunk = 2 * bytes + 4096;
        msgpack_zone zone;
        assert_true (msgpack_zone_init (&zone, chunk));
        const char *start = zone.chunk_list.ptr;
        msgpack_object object;
        size_t offset = 0;
        assert_int_equal (msgpack_unpack (zhive_pack_data (pack), zhive_pack_size (pack), &offset,
                                          &zone, &object),
                          MSGPACK_UNPACK_SUCCESS);
        //  Still in the first chunk (another would lie outside it)
        assert_true (zone.chunk_list.ptr >= start && zone.chunk_list.ptr <= start + chunk);
        size_t taken = (size_t) (zone.chunk_list.ptr - start);
        print_message ("shape %d: %zu objects, measured %zu bytes, msgpack-c took %zu\n", shape,
                       objects, bytes, taken);
        assert_true (taken <= bytes);
        assert_true (bytes <= 2 * taken + sizeof (msgpack_object));
        msgpack_zone_destroy (&zone);
        zhive_pack_destroy (&pack);
    }
}

//  ---------------------------------------------------------------------
//  Containers sized at the end: the same bytes as with the count given
//  first (the shortest header), nested and empty, read back by msgpack-c

//  Packs an array of count integers the usual way into expected
static void
s_expected_ints (zhive_pack_t *expected, uint32_t count)
{
    zhive_pack_array (expected, count);
    for (uint32_t i = 0; i < count; i++)
        zhive_pack_int (expected, i);
}

static void
test_pack_begin_end (void **state)
{
    (void) state;
    //  Sizes on each side of the fixarray / array16 / array32 limits
    uint32_t sizes [] = { 0, 1, 15, 16, 65535, 65536, 70000 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes [0]; k++) {
        zhive_pack_t *pack = zhive_pack_new ();
        zhive_pack_t *expected = zhive_pack_new ();
        ssize_t handle = zhive_pack_array_begin (pack);
        assert_true (handle >= 0);
        for (uint32_t i = 0; i < sizes [k]; i++)
            zhive_pack_int (pack, i);
        assert_int_equal (zhive_pack_array_end (pack, handle), 0);
        s_expected_ints (expected, sizes [k]);
        assert_int_equal (zhive_pack_size (pack), zhive_pack_size (expected));
        assert_memory_equal (zhive_pack_data (pack), zhive_pack_data (expected),
                             zhive_pack_size (pack));
        msgpack_zone zone;
        msgpack_zone_init (&zone, 4096);
        msgpack_object object;
        s_unpack (pack, &zone, &object);
        assert_int_equal (object.type, MSGPACK_OBJECT_ARRAY);
        assert_int_equal (object.via.array.size, sizes [k]);
        if (sizes [k])
            assert_int_equal (object.via.array.ptr [sizes [k] - 1].via.u64, sizes [k] - 1);
        msgpack_zone_destroy (&zone);
        zhive_pack_destroy (&pack);
        zhive_pack_destroy (&expected);
    }

    //  Nested: [1, {"a": [], "b": [2, 3]}, {}, 17 strings] after other values
    zhive_pack_t *pack = zhive_pack_new ();
    zhive_pack_str (pack, "before");
    ssize_t outer = zhive_pack_array_begin (pack);
    zhive_pack_int (pack, 1);
    ssize_t map = zhive_pack_map_begin (pack);
    zhive_pack_str (pack, "a");
    ssize_t empty = zhive_pack_array_begin (pack);
    assert_int_equal (zhive_pack_array_end (pack, empty), 0);
    zhive_pack_str (pack, "b");
    ssize_t inner = zhive_pack_array_begin (pack);
    zhive_pack_int (pack, 2);
    zhive_pack_int (pack, 3);
    assert_int_equal (zhive_pack_array_end (pack, inner), 0);
    assert_int_equal (zhive_pack_map_end (pack, map), 0);
    ssize_t empty_map = zhive_pack_map_begin (pack);
    assert_int_equal (zhive_pack_map_end (pack, empty_map), 0);
    ssize_t strings = zhive_pack_array_begin (pack);
    for (int i = 0; i < 17; i++)
        zhive_pack_str (pack, "s");
    assert_int_equal (zhive_pack_array_end (pack, strings), 0);
    assert_int_equal (zhive_pack_array_end (pack, outer), 0);

    zhive_pack_t *expected = zhive_pack_new ();
    zhive_pack_str (expected, "before");
    zhive_pack_array (expected, 4);
    zhive_pack_int (expected, 1);
    zhive_pack_map (expected, 2);
    zhive_pack_str (expected, "a");
    zhive_pack_array (expected, 0);
    zhive_pack_str (expected, "b");
    zhive_pack_array (expected, 2);
    zhive_pack_int (expected, 2);
    zhive_pack_int (expected, 3);
    zhive_pack_map (expected, 0);
    zhive_pack_array (expected, 17);
    for (int i = 0; i < 17; i++)
        zhive_pack_str (expected, "s");
    assert_int_equal (zhive_pack_size (pack), zhive_pack_size (expected));
    assert_memory_equal (zhive_pack_data (pack), zhive_pack_data (expected),
                         zhive_pack_size (pack));
    //  msgpack-c reads the two values back
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    msgpack_object object;
    size_t offset = 0;
    assert_int_equal (
        msgpack_unpack (zhive_pack_data (pack), zhive_pack_size (pack), &offset, &zone, &object),
        MSGPACK_UNPACK_EXTRA_BYTES);
    assert_int_equal (object.type, MSGPACK_OBJECT_STR);
    assert_int_equal (
        msgpack_unpack (zhive_pack_data (pack), zhive_pack_size (pack), &offset, &zone, &object),
        MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (offset, zhive_pack_size (pack));
    assert_int_equal (zhive_value_len (&object), 4);
    const msgpack_object *middle = zhive_value_at (&object, 1);
    assert_int_equal (middle->type, MSGPACK_OBJECT_MAP);
    assert_int_equal (zhive_value_len (zhive_value_get (middle, "a")), 0);
    int64_t three = 0;
    assert_int_equal (zhive_value_int (zhive_value_at (zhive_value_get (middle, "b"), 1), &three),
                      0);
    assert_int_equal (three, 3);
    assert_int_equal (zhive_value_at (&object, 2)->type, MSGPACK_OBJECT_MAP);
    assert_int_equal (zhive_value_len (zhive_value_at (&object, 3)), 17);
    msgpack_zone_destroy (&zone);

    //  Misuse is refused, never a wrong header: not a handle, an odd map,
    //  an array still short of elements inside, a handle ended twice
    zhive_pack_reset (pack);
    assert_int_equal (zhive_pack_array_end (pack, 0), -1);
    assert_int_equal (errno, EINVAL);
    assert_int_equal (zhive_pack_array_end (pack, -1), -1);
    map = zhive_pack_map_begin (pack);
    zhive_pack_str (pack, "key");
    assert_int_equal (zhive_pack_array_end (pack, map), -1);    //  Not an array
    assert_int_equal (errno, EINVAL);
    assert_int_equal (zhive_pack_map_end (pack, map), -1);    //  Odd
    assert_int_equal (errno, EINVAL);
    zhive_pack_int (pack, 1);
    assert_int_equal (zhive_pack_map_end (pack, map), 0);
    assert_int_equal (zhive_pack_map_end (pack, map), -1);    //  Ended already
    zhive_pack_reset (pack);
    outer = zhive_pack_array_begin (pack);
    zhive_pack_array (pack, 2);
    zhive_pack_int (pack, 1);
    assert_int_equal (zhive_pack_array_end (pack, outer), -1);
    assert_int_equal (errno, EPROTO);
    zhive_pack_int (pack, 2);
    assert_int_equal (zhive_pack_array_end (pack, outer), 0);
    assert_memory_equal (zhive_pack_data (pack), "\x91\x92\x01\x02", 4);
    zhive_pack_destroy (&pack);
    zhive_pack_destroy (&expected);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pack_and_read_every_type),
        cmocka_unit_test (test_pack_raw_validates),
        cmocka_unit_test (test_skip),
        cmocka_unit_test (test_results),
        cmocka_unit_test (test_empty_values),
        cmocka_unit_test (test_depth_limit),
        cmocka_unit_test (test_unpack_limit),
        cmocka_unit_test (test_measure_matches_msgpack),
        cmocka_unit_test (test_pack_begin_end),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
