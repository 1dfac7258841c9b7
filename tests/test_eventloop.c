/*  test_eventloop - the client driven from a caller's own event loop: a
    poll() loop on zhive_client_fd with a timerfd armed from
    zhive_client_timeout, and a libuv loop; completion callbacks; deadlines
    that fire with the broker gone; a client started before its broker. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <zhive.h>
#include "testkit_pool.h"
#include <poll.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#define S_TASKS  10000    //  Tasks each loop drives
#define S_WINDOW 1000     //  Most in flight at once

typedef struct _s_run_t s_run_t;

//  What a task's user_data points at
typedef struct {
    s_run_t *run;    //  Its run
    int index;       //  Its input (echo returns it)
} s_item_t;

//  One run of many echo tasks through callbacks
struct _s_run_t {
    zhive_client_t *client;     //  The client
    zhive_opts_t opts;          //  Options of every task (on_done, user_data set per task)
    s_item_t item [S_TASKS];    //  Each task's user_data
    int submitted;              //  Tasks submitted so far
    int done;                   //  Callbacks run so far
    int wrong;                  //  Callbacks with a wrong result
    const char *expect_type;    //  NULL: each result is echo's [i]; else this error type
};

//  A run of count tasks on client, each with timeout_ms. Caller frees.
static s_run_t *
s_run_new (zhive_client_t *client, int timeout_ms)
{
    s_run_t *run = (s_run_t *) calloc (1, sizeof (s_run_t));
    assert_non_null (run);
    for (int i = 0; i < S_TASKS; i++)
        run->item [i] = (s_item_t){ run, i };
    run->client = client;
    run->opts.timeout_ms = timeout_ms;
    return run;
}

static void s_on_done (zhive_task_t *task, zhive_result_t *result, void *user_data);

//  Submits tasks until the window is full or all are out
static void
s_submit_more (s_run_t *run, int total)
{
    while (run->submitted < total && run->submitted - run->done < S_WINDOW) {
        zhive_pack_t *args = testkit_pool_args_int (run->submitted);
        run->opts.on_done = s_on_done;
        run->opts.user_data = &run->item [run->submitted];
        zhive_task_t *task = zhive_client_submit (run->client, "echo", args, &run->opts);
        zhive_pack_destroy (&args);
        assert_non_null (task);
        run->submitted++;
    }
}

//  The callback: check the result, destroy the task, keep the window full
static void
s_on_done (zhive_task_t *task, zhive_result_t *result, void *user_data)
{
    s_item_t *item = (s_item_t *) user_data;
    s_run_t *run = item->run;
    int i = item->index;
    assert_ptr_equal (zhive_task_user_data (task), user_data);
    int64_t value = -1;
    if (run->expect_type)
        run->wrong += !result || strcmp (zhive_result_error_type (result), run->expect_type) != 0;
    else if (!result || !zhive_result_ok (result) ||
             zhive_value_int (zhive_value_at (zhive_result_value (result), 0), &value) ||
             value != i)
        run->wrong++;
    zhive_task_destroy (&task);
    run->done++;
    s_submit_more (run, S_TASKS);
}

//  Runs the poll() + timerfd loop until total callbacks ran; each poll()
//  waits at most poll_ms (the timerfd must wake it first). Returns ms taken.
static int64_t
s_poll_loop (s_run_t *run, int total, int poll_ms)
{
    int timer = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    assert_true (timer >= 0);
    int64_t start = zclock_mono ();
    while (run->done < total) {
        int wait = zhive_client_timeout (run->client);
        struct itimerspec spec = { { 0, 0 }, { 0, 0 } };    //  -1: disarmed
        if (wait >= 0) {
            spec.it_value.tv_sec = wait / 1000;
            spec.it_value.tv_nsec = (wait % 1000) * 1000000L + (wait == 0);
        }
        assert_int_equal (timerfd_settime (timer, 0, &spec, NULL), 0);
        struct pollfd fds [2] = { { zhive_client_fd (run->client), POLLIN, 0 },
                                  { timer, POLLIN, 0 } };
        int rc = poll (fds, 2, poll_ms);
        assert_true (rc > 0);    //  0: neither the fd nor the timer woke the loop
        if (fds [1].revents & POLLIN) {
            uint64_t expirations;
            assert_int_equal (read (timer, &expirations, sizeof expirations), 8);
        }
        zhive_client_process (run->client);
    }
    close (timer);
    return zclock_mono () - start;
}

static void
test_poll_loop_10000_tasks (void **state)
{
    (void) state;
    testkit_pool_t *pool = testkit_pool_new (
        &(testkit_pool_opts_t){ .workers = 2, .concurrency = 100, .client = true });
    s_run_t *run = s_run_new (pool->client, 60000);
    s_submit_more (run, S_TASKS);
    //  No callback ran inside submit
    assert_int_equal (run->done, 0);
    s_poll_loop (run, S_TASKS, 30000);
    assert_int_equal (run->done, S_TASKS);
    assert_int_equal (run->wrong, 0);
    //  Tasks with callbacks are not handed out by wait_any
    assert_null (zhive_client_wait_any (pool->client, 0));
    assert_int_equal (zhive_client_timeout (pool->client), -1);
    free (run);
    testkit_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  The same from libuv: a uv_poll_t on the fd and a uv_timer_t re-armed
//  from zhive_client_timeout after every step

typedef struct {
    s_run_t *run;           //  The tasks
    uv_poll_t poll;         //  On zhive_client_fd
    uv_timer_t timer;       //  Armed from zhive_client_timeout
    uv_timer_t watchdog;    //  Fails the test if the loop stalls
} s_uv_t;

static void s_uv_on_timer (uv_timer_t *timer);

//  Processes, then stops when all are done or re-arms the timer
static void
s_uv_step (s_uv_t *uv)
{
    zhive_client_process (uv->run->client);
    if (uv->run->done == S_TASKS) {
        uv_poll_stop (&uv->poll);
        uv_timer_stop (&uv->timer);
        uv_timer_stop (&uv->watchdog);
        return;
    }
    int wait = zhive_client_timeout (uv->run->client);
    uv_timer_stop (&uv->timer);
    if (wait >= 0)
        uv_timer_start (&uv->timer, s_uv_on_timer, (uint64_t) wait, 0);
}

static void
s_uv_on_timer (uv_timer_t *timer)
{
    s_uv_step ((s_uv_t *) timer->data);
}

static void
s_uv_on_poll (uv_poll_t *handle, int status, int events)
{
    (void) status;
    (void) events;
    s_uv_step ((s_uv_t *) handle->data);
}

static void
s_uv_on_watchdog (uv_timer_t *timer)
{
    s_uv_t *uv = (s_uv_t *) timer->data;
    fail_msg ("the libuv loop stalled after %d of %d tasks", uv->run->done, S_TASKS);
}

static void
test_libuv_loop_10000_tasks (void **state)
{
    (void) state;
    testkit_pool_t *pool = testkit_pool_new (
        &(testkit_pool_opts_t){ .workers = 2, .concurrency = 100, .client = true });
    s_uv_t uv;
    memset (&uv, 0, sizeof uv);
    uv.run = s_run_new (pool->client, 60000);
    uv_loop_t loop;
    assert_int_equal (uv_loop_init (&loop), 0);
    assert_int_equal (uv_poll_init (&loop, &uv.poll, zhive_client_fd (pool->client)), 0);
    uv_timer_init (&loop, &uv.timer);
    uv_timer_init (&loop, &uv.watchdog);
    uv.poll.data = uv.timer.data = uv.watchdog.data = &uv;
    uv_poll_start (&uv.poll, UV_READABLE, s_uv_on_poll);
    uv_timer_start (&uv.watchdog, s_uv_on_watchdog, 120000, 0);
    s_submit_more (uv.run, S_TASKS);
    s_uv_step (&uv);
    uv_run (&loop, UV_RUN_DEFAULT);
    assert_int_equal (uv.run->done, S_TASKS);
    assert_int_equal (uv.run->wrong, 0);
    uv_close ((uv_handle_t *) &uv.poll, NULL);
    uv_close ((uv_handle_t *) &uv.timer, NULL);
    uv_close ((uv_handle_t *) &uv.watchdog, NULL);
    uv_run (&loop, UV_RUN_DEFAULT);
    assert_int_equal (uv_loop_close (&loop), 0);
    free (uv.run);
    testkit_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  The broker is gone: tasks with a 500 ms deadline are reported Timeout
//  by the loop at their deadline, not after its 30 s poll()

static void
test_deadlines_fire_without_broker (void **state)
{
    (void) state;
    testkit_pool_t *pool = testkit_pool_new (
        &(testkit_pool_opts_t){ .workers = 1, .concurrency = 10, .client = true });
    zhive_broker_destroy (&pool->broker);
    s_run_t *run = s_run_new (pool->client, 500);
    run->expect_type = ZHIVE_ERR_TIMEOUT;
    int64_t start = zclock_mono ();
    s_submit_more (run, 20);
    int wait = zhive_client_timeout (pool->client);
    assert_true (wait >= 0 && wait <= 500);
    s_poll_loop (run, 20, 30000);
    int64_t elapsed = zclock_mono () - start;
    assert_int_equal (run->wrong, 0);
    assert_true (elapsed >= 450);
    assert_true (elapsed < 5000);
    free (run);
    testkit_pool_destroy (&pool);
}

//  apply's deadline is the caller's: with the broker gone it returns the
//  Timeout at 200 ms plus a little, not after a grace of its own

static void
test_apply_deadline_exact (void **state)
{
    (void) state;
    testkit_pool_t *pool = testkit_pool_new (
        &(testkit_pool_opts_t){ .workers = 1, .concurrency = 10, .client = true });
    zhive_pack_t *args = testkit_pool_args_int (1);
    zhive_opts_t opts = { .timeout_ms = 10000 };
    zhive_result_t *result = zhive_client_apply (pool->client, "echo", args, &opts);
    assert_true (zhive_result_ok (result));
    zhive_result_destroy (&result);
    zhive_broker_destroy (&pool->broker);
    opts.timeout_ms = 200;
    for (int round = 0; round < 3; round++) {
        int64_t start = zclock_mono ();
        result = zhive_client_apply (pool->client, "echo", args, &opts);
        int64_t elapsed = zclock_mono () - start;
        assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_TIMEOUT);
        assert_true (elapsed >= 195);
        //  Not the deadline plus a grace (it was 1,202 ms): loose for a busy machine
        assert_true (elapsed < 200 + 900);
        zhive_result_destroy (&result);
    }
    zhive_pack_destroy (&args);
    testkit_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  zhive_client_new with no wait, before the broker exists: returns at
//  once; tasks submitted meanwhile wait, and go out when the broker comes

static void
test_client_before_broker (void **state)
{
    (void) state;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", testkit_free_port ());
    int64_t start = zclock_mono ();
    zhive_client_t *client = zhive_client_new (endpoint, 0);
    assert_non_null (client);
    assert_true (zclock_mono () - start < 3000);    //  It failed at once before
    zhive_opts_t opts = { .timeout_ms = 60000 };
    zhive_task_t *tasks [5];
    for (int i = 0; i < 5; i++) {
        zhive_pack_t *args = testkit_pool_args_int (i);
        tasks [i] = zhive_client_submit (client, "echo", args, &opts);
        zhive_pack_destroy (&args);
        assert_non_null (tasks [i]);
    }
    //  Nothing failed meanwhile
    assert_null (zhive_client_wait_any (client, 300));

    zhive_broker_t *broker = zhive_broker_new ();
    assert_non_null (broker);
    assert_int_equal (zhive_broker_bind_clients (broker, endpoint), 0);
    assert_int_equal (zhive_broker_bind_workers (broker, "tcp://127.0.0.1:*"), 0);
    const char *loads [] = { testkit_plugin (), NULL };
    assert_int_equal (zhive_broker_start_workers (broker, 1, loads, 10), 0);
    for (int i = 0; i < 5; i++) {
        zhive_result_t *result = zhive_task_wait (tasks [i], 30000);
        assert_non_null (result);
        assert_true (zhive_result_ok (result));
        int64_t value = -1;
        assert_int_equal (zhive_value_int (zhive_value_at (zhive_result_value (result), 0), &value),
                          0);
        assert_int_equal (value, i);
        zhive_task_destroy (&tasks [i]);
    }
    zhive_client_destroy (&client);
    zhive_broker_destroy (&broker);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_poll_loop_10000_tasks),
        cmocka_unit_test (test_libuv_loop_10000_tasks),
        cmocka_unit_test (test_deadlines_fire_without_broker),
        cmocka_unit_test (test_apply_deadline_exact),
        cmocka_unit_test (test_client_before_broker),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
