/*  test_chunk - the chunked-map formats: requests and answers, both ways */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "zhive_chunk.h"

//  Items 7, "", [1, 2] packed back to back, with their offsets
static zhive_pack_t *
s_items (size_t *offsets)
{
    zhive_pack_t *pack = zhive_pack_new ();
    offsets [0] = 0;
    zhive_pack_int (pack, 7);
    offsets [1] = zhive_pack_size (pack);
    zhive_pack_str (pack, "");
    offsets [2] = zhive_pack_size (pack);
    zhive_pack_array (pack, 2);
    zhive_pack_int (pack, 1);
    zhive_pack_int (pack, 2);
    offsets [3] = zhive_pack_size (pack);
    return pack;
}

static void
test_request_roundtrip (void **state)
{
    (void) state;
    size_t offsets [4];
    zhive_pack_t *items = s_items (offsets);
    for (int wrap = 0; wrap < 2; wrap++) {
        size_t size = zhive_chunk_request_size (3, offsets [3], wrap);
        uint8_t *data = (uint8_t *) malloc (size);
        assert_int_equal (
            zhive_chunk_request_write (data, zhive_pack_data (items), offsets, 3, wrap), size);
        zhive_reader_t reader;
        assert_int_equal (zhive_chunk_request_open (&reader, data, size, 3), 0);
        for (size_t i = 0; i < 3; i++) {
            const char *item;
            size_t item_size;
            assert_int_equal (zhive_chunk_request_next (&reader, &item, &item_size), 0);
            size_t length = offsets [i + 1] - offsets [i];
            if (wrap) {
                assert_int_equal (item_size, length + 1);
                assert_int_equal ((uint8_t) item [0], 0x91);
                assert_memory_equal (item + 1, zhive_pack_data (items) + offsets [i], length);
            }
            else {
                assert_int_equal (item_size, length);
                assert_memory_equal (item, zhive_pack_data (items) + offsets [i], length);
            }
        }
        const char *item;
        size_t item_size;
        assert_int_equal (zhive_chunk_request_next (&reader, &item, &item_size), -1);
        //  Wrong count, trailing bytes, cut short: refused
        assert_int_equal (zhive_chunk_request_open (&reader, data, size, 2), -1);
        assert_int_equal (zhive_chunk_request_open (&reader, data, size - 1, 3), -1);
        uint8_t *longer = (uint8_t *) malloc (size + 1);
        memcpy (longer, data, size);
        longer [size] = 0xc0;
        assert_int_equal (zhive_chunk_request_open (&reader, longer, size + 1, 3), -1);
        free (longer);
        free (data);
    }
    zhive_pack_destroy (&items);
}

static void
test_answer_roundtrip (void **state)
{
    (void) state;
    zhive_pack_t *answer = zhive_pack_new ();
    zhive_pack_t *value = zhive_pack_new ();
    zhive_pack_str (value, "hi");
    assert_int_equal (zhive_chunk_answer_begin (answer, 3), 0);
    assert_int_equal (
        zhive_chunk_answer_ok (answer, zhive_pack_data (value), zhive_pack_size (value)), 0);
    assert_int_equal (zhive_chunk_answer_error (answer, "BadArguments", "no", "w1"), 0);
    assert_int_equal (zhive_chunk_answer_ok (answer, NULL, 0), 0);

    zhive_reader_t reader;
    assert_int_equal (
        zhive_chunk_answer_open (&reader, zhive_pack_data (answer), zhive_pack_size (answer), 4),
        -1);
    assert_int_equal (
        zhive_chunk_answer_open (&reader, zhive_pack_data (answer), zhive_pack_size (answer), 3),
        0);
    zhive_result_t *result = zhive_chunk_answer_next (&reader);
    assert_true (zhive_result_ok (result));
    const char *text;
    size_t size;
    assert_int_equal (zhive_value_str (zhive_result_value (result), &text, &size), 0);
    assert_int_equal (size, 2);
    assert_memory_equal (text, "hi", 2);
    zhive_result_destroy (&result);
    result = zhive_chunk_answer_next (&reader);
    assert_false (zhive_result_ok (result));
    assert_string_equal (zhive_result_error_type (result), "BadArguments");
    assert_string_equal (zhive_result_error_message (result), "no");
    assert_string_equal (zhive_result_error_worker (result), "w1");
    zhive_result_destroy (&result);
    result = zhive_chunk_answer_next (&reader);
    assert_true (zhive_result_ok (result));
    assert_true (zhive_value_is_nil (zhive_result_value (result)));
    zhive_result_destroy (&result);
    assert_null (zhive_chunk_answer_next (&reader));    //  Past the end
    zhive_pack_destroy (&value);
    zhive_pack_destroy (&answer);
}

//  Items that are neither shape become Malformed results; an answer cut
//  short ends the walk
static void
test_answer_malformed_items (void **state)
{
    (void) state;
    zhive_pack_t *answer = zhive_pack_new ();
    zhive_pack_array (answer, 5);
    zhive_pack_int (answer, 3);      //  Not an array
    zhive_pack_array (answer, 3);    //  [true, 1, 2]: too many fields
    zhive_pack_bool (answer, true);
    zhive_pack_int (answer, 1);
    zhive_pack_int (answer, 2);
    zhive_pack_array (answer, 3);    //  [false, 1, "m"]: type not a str
    zhive_pack_bool (answer, false);
    zhive_pack_int (answer, 1);
    zhive_pack_str (answer, "m");
    zhive_pack_array (answer, 2);    //  [nil, 1]: no flag
    zhive_pack_nil (answer);
    zhive_pack_int (answer, 1);
    zhive_pack_array (answer, 2);    //  [true, <cut>]
    zhive_pack_bool (answer, true);
    zhive_reader_t reader;
    assert_int_equal (
        zhive_chunk_answer_open (&reader, zhive_pack_data (answer), zhive_pack_size (answer), 5),
        0);
    for (int i = 0; i < 4; i++) {
        zhive_result_t *result = zhive_chunk_answer_next (&reader);
        assert_non_null (result);
        assert_false (zhive_result_ok (result));
        assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_MALFORMED);
        zhive_result_destroy (&result);
    }
    assert_null (zhive_chunk_answer_next (&reader));
    zhive_pack_destroy (&answer);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_request_roundtrip),
        cmocka_unit_test (test_answer_roundtrip),
        cmocka_unit_test (test_answer_malformed_items),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
