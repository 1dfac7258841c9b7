/*  =========================================================================
    test_kept - the kept-answers store: bounds of count, bytes and age,
    and delivery (taking an answer out) by client and task id
    =========================================================================
*/
#include "zhive_kept.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

static zmq_msg_t
s_value (const char *text, size_t size)
{
    zmq_msg_t msg;
    zmq_msg_init_size (&msg, size);
    memset (zmq_msg_data (&msg), 'x', size);
    if (text)
        memcpy (zmq_msg_data (&msg), text, strlen (text) < size ? strlen (text) : size);
    return msg;
}

//  A result and an error are kept and taken once, by their own keys
static void
test_delivery (void **state)
{
    (void) state;
    zhive_kept_t *kept = zhive_kept_new (10, 1 << 20, 1000);
    assert_non_null (kept);
    assert_null (zhive_kept_take (kept, "c1", 1));
    zmq_msg_t value = s_value ("hello", 5);
    assert_int_equal (zhive_kept_add (kept, "c1", 1, &value, NULL, NULL, NULL, 0), 0);
    assert_int_equal (zmq_msg_size (&value), 0);    //  Moved in
    zmq_msg_close (&value);
    assert_int_equal (zhive_kept_add (kept, "c1", 2, NULL, "Timeout", "too slow", "", 0), 0);
    assert_int_equal (zhive_kept_count (kept), 2);
    assert_null (zhive_kept_take (kept, "c2", 1));    //  Another client's id 1
    zhive_kept_entry_t *entry = zhive_kept_take (kept, "c1", 1);
    assert_non_null (entry);
    assert_true (entry->is_result);
    assert_int_equal (zmq_msg_size (&entry->value), 5);
    assert_memory_equal (zmq_msg_data (&entry->value), "hello", 5);
    zhive_kept_entry_destroy (&entry);
    zhive_kept_entry_destroy (&entry);                //  Safe twice
    assert_null (zhive_kept_take (kept, "c1", 1));    //  Taken once
    entry = zhive_kept_take (kept, "c1", 2);
    assert_non_null (entry);
    assert_false (entry->is_result);
    assert_string_equal (entry->type, "Timeout");
    assert_string_equal (entry->message, "too slow");
    zhive_kept_entry_destroy (&entry);
    assert_int_equal (zhive_kept_count (kept), 0);
    assert_int_equal (zhive_kept_bytes (kept), 0);
    zhive_kept_destroy (&kept);
    zhive_kept_destroy (&kept);
}

//  A newer answer to the same task replaces the older one
static void
test_replace (void **state)
{
    (void) state;
    zhive_kept_t *kept = zhive_kept_new (10, 1 << 20, 1000);
    zmq_msg_t value = s_value ("old", 3);
    zhive_kept_add (kept, "c1", 1, &value, NULL, NULL, NULL, 0);
    value = s_value ("newer", 5);
    zhive_kept_add (kept, "c1", 1, &value, NULL, NULL, NULL, 0);
    assert_int_equal (zhive_kept_count (kept), 1);
    zhive_kept_entry_t *entry = zhive_kept_take (kept, "c1", 1);
    assert_memory_equal (zmq_msg_data (&entry->value), "newer", 5);
    zhive_kept_entry_destroy (&entry);
    zhive_kept_destroy (&kept);
}

//  Past the count bound the oldest go first
static void
test_count_bound (void **state)
{
    (void) state;
    zhive_kept_t *kept = zhive_kept_new (3, 1 << 20, 1000);
    for (uint64_t id = 1; id <= 5; id++)
        assert_int_equal (zhive_kept_add (kept, "c", id, NULL, "E", "m", "", 0), 0);
    assert_int_equal (zhive_kept_count (kept), 3);
    assert_null (zhive_kept_take (kept, "c", 1));
    assert_null (zhive_kept_take (kept, "c", 2));
    for (uint64_t id = 3; id <= 5; id++) {
        zhive_kept_entry_t *entry = zhive_kept_take (kept, "c", id);
        assert_non_null (entry);
        zhive_kept_entry_destroy (&entry);
    }
    zhive_kept_destroy (&kept);
}

//  Past the byte bound the oldest go first; one answer over a quarter of
//  the bound is not kept at all
static void
test_byte_bound (void **state)
{
    (void) state;
    zhive_kept_t *kept = zhive_kept_new (1000, 40000, 1000);
    zmq_msg_t big = s_value (NULL, 10001);
    assert_int_equal (zhive_kept_add (kept, "c", 1, &big, NULL, NULL, NULL, 0), -1);
    zmq_msg_close (&big);
    assert_int_equal (zhive_kept_count (kept), 0);
    for (uint64_t id = 1; id <= 5; id++) {
        zmq_msg_t value = s_value (NULL, 9000);
        assert_int_equal (zhive_kept_add (kept, "c", id, &value, NULL, NULL, NULL, 0), 0);
        assert_true (zhive_kept_bytes (kept) <= 40000);
    }
    assert_int_equal (zhive_kept_count (kept), 4);    //  4 x ~9 KB fit in 40 KB, not 5
    zhive_kept_entry_t *entry = zhive_kept_take (kept, "c", 1);
    assert_null (entry);
    entry = zhive_kept_take (kept, "c", 5);
    assert_non_null (entry);
    zhive_kept_entry_destroy (&entry);
    zhive_kept_destroy (&kept);
}

//  Answers expire after their time, oldest first
static void
test_age_bound (void **state)
{
    (void) state;
    zhive_kept_t *kept = zhive_kept_new (10, 1 << 20, 1000);
    zhive_kept_add (kept, "c", 1, NULL, "E", "m", "", 0);
    zhive_kept_add (kept, "c", 2, NULL, "E", "m", "", 500);
    zhive_kept_expire (kept, 999);
    assert_int_equal (zhive_kept_count (kept), 2);
    zhive_kept_expire (kept, 1000);
    assert_int_equal (zhive_kept_count (kept), 1);
    assert_null (zhive_kept_take (kept, "c", 1));
    zhive_kept_expire (kept, 1500);
    assert_int_equal (zhive_kept_count (kept), 0);
    zhive_kept_destroy (&kept);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_delivery),    cmocka_unit_test (test_replace),
        cmocka_unit_test (test_count_bound), cmocka_unit_test (test_byte_bound),
        cmocka_unit_test (test_age_bound),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
