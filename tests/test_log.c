/*  test_log - one logger, and a program can take its lines */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <zhive.h>
#include "zhive_log.h"

typedef struct {
    int calls;                 //  Lines taken
    zhive_log_level_t last;    //  Level of the last line
    char line [1024];          //  The last line
} captured_t;

static void
s_capture (zhive_log_level_t level, const char *line, void *arg)
{
    captured_t *captured = (captured_t *) arg;
    captured->calls++;
    captured->last = level;
    snprintf (captured->line, sizeof captured->line, "%s", line);
}

static void
test_handler_takes_lines (void **state)
{
    (void) state;
    captured_t captured = { 0 };
    zhive_log_set_handler (s_capture, &captured);
    zhive_log_warning ("refused %d task(s) from %s", 3, "a client");
    assert_int_equal (captured.calls, 1);
    assert_int_equal (captured.last, ZHIVE_LOG_WARNING);
    assert_string_equal (captured.line, "refused 3 task(s) from a client");
    zhive_log_debug ("detail");
    assert_int_equal (captured.last, ZHIVE_LOG_DEBUG);
    //  A line longer than the buffer is cut, not overrun
    char longer [3000];
    memset (longer, 'x', sizeof longer - 1);
    longer [sizeof longer - 1] = 0;
    zhive_log_error ("%s", longer);
    assert_int_equal (captured.last, ZHIVE_LOG_ERROR);
    assert_true (strlen (captured.line) > 500);
    //  Back to zsys: the handler sees nothing more
    zhive_log_set_handler (NULL, NULL);
    zhive_log_info ("to zsys");
    assert_int_equal (captured.calls, 3);
}

//  What the library logs on its own reaches the handler: a client whose
//  certificate cannot be read says so there
static void
test_library_logs_reach_handler (void **state)
{
    (void) state;
    captured_t captured = { 0 };
    zhive_log_set_handler (s_capture, &captured);
    zhive_client_t *client = zhive_client_new_curve ("tcp://127.0.0.1:1", 100,
                                                     "/nonexistent/zhive_secret", "/nonexistent/b");
    assert_null (client);
    zhive_log_set_handler (NULL, NULL);
    assert_true (captured.calls >= 1);
    assert_non_null (strstr (captured.line, "/nonexistent/"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_handler_takes_lines),
        cmocka_unit_test (test_library_logs_reach_handler),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
