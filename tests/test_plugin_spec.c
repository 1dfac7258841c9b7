/*  test_plugin_spec - the one split of --load PLUGIN[:ARGS] */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include "zhive_plugin_spec.h"

static void
s_check (const char *spec, const char *path, const char *args)
{
    const char *got_args, *colon;
    char *got = zhive_plugin_spec_split (spec, &got_args, &colon);
    assert_non_null (got);
    assert_string_equal (got, path);
    assert_string_equal (got_args, args);
    if (colon)
        assert_ptr_equal (colon + 1, got_args);
    else
        assert_string_equal (args, "");
    free (got);
}

static void
test_splits (void **state)
{
    (void) state;
    s_check ("libx.so", "libx.so", "");
    s_check ("libx.so:n=1", "libx.so", "n=1");
    s_check ("libx.so:a:b", "libx.so", "a:b");
    s_check ("/opt/a:b/libx.so", "/opt/a:b/libx.so", "");
    s_check ("/opt/a:b/libx.so:n=1", "/opt/a:b/libx.so", "n=1");
    s_check ("/opt/a:b/plugin:x", "/opt/a:b/plugin", "x");
    s_check ("plugin:x", "plugin", "x");
    s_check ("libx.so.1:y", "libx.so.1", "y");
    s_check ("", "", "");
    s_check (":x", "", "x");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_splits),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
