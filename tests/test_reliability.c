/*  test_reliability - no task lost when workers die, hang, or run long.
    Real pools: an in-process broker with zhive-worker processes loading the
    examples plugin, or a separate zhive-broker process where the test must
    kill the broker itself. Every wait is bounded; every process is stopped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <zhive.h>
#include "testkit_pool.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static int
s_workers_ready (testkit_pool_t *pool)
{
    return zhive_broker_workers_ready (pool->broker);
}

//  ---------------------------------------------------------------------
//  Chaos: a 20,000-task map on 4 local workers while a random worker is
//  SIGKILLed every 200 ms. Every result present, correct, in order, once.

static void
test_chaos_kill_workers_during_map (void **state)
{
    (void) state;
    testkit_pool_t *pool =
        testkit_pool_new (&(testkit_pool_opts_t){ .workers = 4, .concurrency = 8, .client = true });
    enum { TASKS = 20000 };
    zhive_pack_t *items = zhive_pack_new ();
    for (int i = 0; i < TASKS; i++)
        zhive_pack_int (items, 4 + i % 4);    //  sleep(4..7 ms)
    //  Retries high enough that the chaos cannot exhaust them
    zhive_opts_t opts = { .window = 2000, .retries = 1000 };
    int64_t start = zclock_mono ();
    zhive_map_t *map = zhive_client_map (pool->client, "sleep", items, &opts);
    assert_non_null (map);
    srand (11);
    int kills = 0;
    int64_t next_kill = zclock_mono () + 200;
    size_t index = 0;
    while (index < TASKS && zclock_mono () - start < 240000) {
        zhive_result_t *result = zhive_map_next (map, 50);
        if (result) {
            assert_int_equal (zhive_result_index (result), index);
            if (!zhive_result_ok (result))
                fail_msg ("task %zu: %s: %s", index, zhive_result_error_type (result),
                          zhive_result_error_message (result));
            int64_t value;
            assert_int_equal (zhive_value_int (zhive_result_value (result), &value), 0);
            assert_int_equal (value, 4 + index % 4);
            zhive_result_destroy (&result);
            index++;
        }
        if (zclock_mono () >= next_kill) {
            pid_t pids [16];
            int count = testkit_pool_worker_pids (pool->client, pids, 16);
            if (count > 0 && kill (pids [rand () % count], SIGKILL) == 0)
                kills++;
            next_kill += 200;
        }
    }
    int64_t elapsed = zclock_mono () - start;
    assert_int_equal (index, TASKS);
    assert_null (zhive_map_next (map, 0));
    assert_int_equal (errno, 0);
    //  Exactly one answer per task: none dropped as a duplicate
    assert_int_equal (zhive_client_dropped (pool->client), 0);
    print_message ("chaos: %d tasks, %d workers killed, %.2f s\n", TASKS, kills, elapsed / 1000.0);
    assert_true (kills >= 3);
    zhive_map_destroy (&map);

    //  The fault-free time of the same map, for the record
    start = zclock_mono ();
    map = zhive_client_map (pool->client, "sleep", items, &opts);
    for (index = 0; index < TASKS; index++) {
        zhive_result_t *result = zhive_map_next (map, 30000);
        assert_true (zhive_result_ok (result));
        zhive_result_destroy (&result);
    }
    print_message ("chaos: fault-free run of the same map %.2f s\n",
                   (zclock_mono () - start) / 1000.0);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&items);
    testkit_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  A stopped worker (SIGSTOP) is declared dead, its task completes on the
//  other worker, and what it sends after SIGCONT is dropped.

static void
test_stopped_worker_is_declared_dead (void **state)
{
    (void) state;
    const int heartbeat = 300;    //  × liveness 3
    testkit_pool_t *pool = testkit_pool_new (&(testkit_pool_opts_t){
        .workers = 2, .concurrency = 1, .heartbeat_ms = heartbeat, .client = true });
    pid_t pids [4];
    assert_int_equal (testkit_pool_worker_pids (pool->client, pids, 4), 2);
    //  One long task per worker (concurrency 1 each)
    zhive_pack_t *args = testkit_pool_args_int (1500);
    zhive_task_t *first = zhive_client_submit (pool->client, "sleep", args, NULL);
    zhive_task_t *second = zhive_client_submit (pool->client, "sleep", args, NULL);
    zclock_sleep (300);
    int64_t stopped_at = zclock_mono ();
    assert_int_equal (kill (pids [0], SIGSTOP), 0);
    //  Wait until the broker no longer lists the stopped worker
    int64_t gone_at = 0;
    while (!gone_at && zclock_mono () - stopped_at < 20000) {
        pid_t now [4];
        int count = testkit_pool_worker_pids (pool->client, now, 4);
        bool listed = false;
        for (int i = 0; i < count; i++)
            listed |= now [i] == pids [0];
        if (!listed)
            gone_at = zclock_mono ();
        else
            zclock_sleep (50);
    }
    assert_true (gone_at > 0);
    int64_t detection = gone_at - stopped_at;
    print_message ("SIGSTOP: declared dead after %lld ms (liveness x interval = %d ms)\n",
                   (long long) detection, 3 * heartbeat);
    //  Loosely bounded: a slow shared machine may add scheduling delay
    assert_true (detection <= 3 * 3 * heartbeat + 2000);
    //  Both tasks complete: the stopped worker's one ran on the other worker
    zhive_result_t *result = zhive_task_wait (first, 20000);
    assert_true (zhive_result_ok (result));
    result = zhive_task_wait (second, 20000);
    assert_true (zhive_result_ok (result));
    //  The stopped worker wakes up and answers its old task: dropped by the
    //  broker, so the client sees nothing more
    assert_int_equal (kill (pids [0], SIGCONT), 0);
    zclock_sleep (2500);
    zhive_client_process (pool->client);
    assert_int_equal (zhive_client_dropped (pool->client), 0);
    zhive_task_destroy (&first);
    zhive_task_destroy (&second);
    //  It rejoins and serves again: both workers listed
    for (int i = 0; i < 100 && s_workers_ready (pool) < 2; i++)
        zclock_sleep (50);
    assert_int_equal (s_workers_ready (pool), 2);
    zhive_pack_destroy (&args);
    testkit_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  crash() kills its worker every time: WorkerLost after the retries, and
//  every other task of the map completes.

static void
test_crash_gives_worker_lost (void **state)
{
    (void) state;
    testkit_pool_t *pool =
        testkit_pool_new (&(testkit_pool_opts_t){ .workers = 2, .concurrency = 4, .client = true });
    zhive_opts_t opts = { .timeout_ms = 60000 };
    //  A lone crash() with 2 retries: lost 3 times, then WorkerLost
    opts.retries = 2;
    zhive_result_t *result = zhive_client_apply (pool->client, "crash", NULL, &opts);
    assert_false (zhive_result_ok (result));
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_WORKER_LOST);
    print_message ("crash: %s\n", zhive_result_error_message (result));
    assert_non_null (strstr (zhive_result_error_message (result), "3"));
    zhive_result_destroy (&result);

    //  A crash in the middle of a map of echo: the others all succeed
    zhive_pack_t *items = zhive_pack_new ();
    for (int i = 0; i < 50; i++)
        zhive_pack_int (items, i);
    //  The echo tasks keep the default retries (3): a crash() given 2 can
    //  take a worker down at most 3 times, so an echo task that shared a
    //  worker with it each time is still redispatched
    zhive_opts_t echo_opts = { .timeout_ms = 60000 };
    zhive_map_t *map = zhive_client_map (pool->client, "echo", items, &echo_opts);
    zhive_task_t *crash = zhive_client_submit (pool->client, "crash", NULL, &opts);
    for (int i = 0; i < 50; i++) {
        result = zhive_map_next (map, 60000);
        assert_true (zhive_result_ok (result));
        zhive_result_destroy (&result);
    }
    result = zhive_task_wait (crash, 60000);
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_WORKER_LOST);
    zhive_task_destroy (&crash);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&items);
    testkit_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  Timeouts and cancel: answered once, at once; the worker's slot comes
//  back (a concurrency-1 worker serves the next task right after).

static void
test_timeout_and_cancel_free_the_worker (void **state)
{
    (void) state;
    testkit_pool_t *pool =
        testkit_pool_new (&(testkit_pool_opts_t){ .workers = 1, .concurrency = 1, .client = true });
    zhive_pack_t *long_args = testkit_pool_args_int (10000);
    zhive_opts_t opts = { .timeout_ms = 500 };
    int64_t start = zclock_mono ();
    zhive_result_t *result = zhive_client_apply (pool->client, "sleep", long_args, &opts);
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_TIMEOUT);
    assert_true (zclock_mono () - start < 5000);
    zhive_result_destroy (&result);
    //  The worker was told to cancel: its one slot is free again at once
    zhive_pack_t *short_args = testkit_pool_args_int (10);
    zhive_opts_t quick = { .timeout_ms = 5000 };
    result = zhive_client_apply (pool->client, "sleep", short_args, &quick);
    assert_true (zhive_result_ok (result));
    zhive_result_destroy (&result);

    //  Cancel a running task
    zhive_task_t *task = zhive_client_submit (pool->client, "sleep", long_args, NULL);
    zclock_sleep (200);
    assert_int_equal (zhive_task_cancel (task), 0);
    result = zhive_task_wait (task, 0);
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_CANCELLED);
    assert_int_equal (zhive_task_cancel (task), -1);
    zhive_task_destroy (&task);
    result = zhive_client_apply (pool->client, "sleep", short_args, &quick);
    assert_true (zhive_result_ok (result));
    zhive_result_destroy (&result);

    //  Cancel a queued task (the only worker is busy)
    zhive_pack_t *busy_args = testkit_pool_args_int (300);
    zhive_task_t *busy = zhive_client_submit (pool->client, "sleep", busy_args, NULL);
    zhive_pack_destroy (&busy_args);
    task = zhive_client_submit (pool->client, "sleep", short_args, NULL);
    assert_int_equal (zhive_task_cancel (task), 0);
    zhive_task_destroy (&task);
    assert_true (zhive_result_ok (zhive_task_wait (busy, 5000)));
    zhive_task_destroy (&busy);
    //  The broker's own Cancelled answers to the three cancelled tasks came
    //  after the client had answered them itself: dropped, nothing else
    zhive_client_process (pool->client);
    assert_true (zhive_client_dropped (pool->client) <= 3);
    zhive_pack_destroy (&long_args);
    zhive_pack_destroy (&short_args);
    testkit_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  Backpressure: past --max-queue a SUBMIT gets QueueFull, unless the caller
//  asked to wait, in which case every task completes.

static void
test_queue_full (void **state)
{
    (void) state;
    testkit_pool_t *pool = testkit_pool_new (
        &(testkit_pool_opts_t){ .workers = 1, .concurrency = 1, .max_queue = 5, .client = true });
    zhive_pack_t *items = zhive_pack_new ();
    for (int i = 0; i < 30; i++)
        zhive_pack_int (items, 20);
    zhive_opts_t opts = { .timeout_ms = 30000, .window = 30 };
    zhive_map_t *map = zhive_client_map (pool->client, "sleep", items, &opts);
    int full = 0, ok = 0;
    zhive_result_t *result;
    while ((result = zhive_map_next (map, 30000))) {
        if (zhive_result_ok (result))
            ok++;
        else {
            assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_QUEUE_FULL);
            full++;
        }
        zhive_result_destroy (&result);
    }
    assert_int_equal (ok + full, 30);
    assert_true (full >= 20);
    zhive_map_destroy (&map);

    opts.wait_if_full = true;
    map = zhive_client_map (pool->client, "sleep", items, &opts);
    ok = 0;
    while ((result = zhive_map_next (map, 30000))) {
        assert_true (zhive_result_ok (result));
        ok++;
        zhive_result_destroy (&result);
    }
    assert_int_equal (ok, 30);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&items);
    testkit_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  --max-tasks: each worker takes at most N tasks, then is replaced

static void
test_max_tasks_recycles_workers (void **state)
{
    (void) state;
    testkit_pool_t *pool = testkit_pool_new (
        &(testkit_pool_opts_t){ .workers = 1, .concurrency = 4, .max_tasks = 5, .client = true });
    //  fail() names the worker that ran it: count tasks per worker
    zhive_pack_t *items = zhive_pack_new ();
    for (int i = 0; i < 20; i++)
        zhive_pack_str (items, "x");
    zhive_opts_t opts = { .timeout_ms = 60000 };
    zhive_map_t *map = zhive_client_map (pool->client, "fail", items, &opts);
    zhash_t *per_worker = zhash_new ();
    static int counts [20];
    int distinct = 0;
    zhive_result_t *result;
    while ((result = zhive_map_next (map, 60000))) {
        assert_string_equal (zhive_result_error_type (result), "ExampleError");
        const char *worker = zhive_result_error_worker (result);
        int *count = (int *) zhash_lookup (per_worker, worker);
        if (!count) {
            count = &counts [distinct++];
            zhash_insert (per_worker, worker, count);
        }
        (*count)++;
        assert_true (*count <= 5);    //  The hard limit is never passed
        zhive_result_destroy (&result);
    }
    assert_int_equal (zhive_map_returned (map), 20);
    assert_true (distinct >= 4);
    zhash_destroy (&per_worker);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&items);
    testkit_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  A client that loses its broker (a zhive-broker process killed and started
//  again on the same port) reconnects, gets the answer to the task it had
//  outstanding, and gets answers to new calls.

static pid_t
s_start_broker (const char *clients, const char *workers, bool with_workers)
{
    char program [512];
    const char *argv [] = { testkit_program ("zhive-broker", program, sizeof program),
                            "--clients",
                            clients,
                            "--workers",
                            workers,
                            with_workers ? "--local-workers" : NULL,
                            "1",
                            "--load",
                            testkit_plugin (),
                            NULL };
    return testkit_spawn (argv, NULL);
}

static void
test_client_survives_broker_restart (void **state)
{
    (void) state;
    char clients [64], workers [64];
    snprintf (clients, sizeof clients, "tcp://127.0.0.1:%d", testkit_free_port ());
    snprintf (workers, sizeof workers, "tcp://127.0.0.1:%d", testkit_free_port ());
    //  The first broker has no workers: the task waits in its queue
    pid_t broker = s_start_broker (clients, workers, false);
    zhive_client_t *client = zhive_client_new (clients, 10000);
    assert_non_null (client);
    zhive_client_set_heartbeat (client, 300, 3);
    zhive_pack_t *args = testkit_pool_args_int (21);
    zhive_task_t *outstanding = zhive_client_submit (client, "fib", args, NULL);
    zclock_sleep (300);
    zhive_client_process (client);
    //  The broker dies with the task (SIGKILL: no answers sent)
    testkit_reap (broker, SIGKILL, 5000);
    zclock_sleep (500);
    //  A new broker on the same port, with a worker this time
    broker = s_start_broker (clients, workers, true);
    zhive_result_t *result = zhive_task_wait (outstanding, 30000);
    assert_non_null (result);
    int64_t value;
    assert_int_equal (zhive_value_int (zhive_result_value (result), &value), 0);
    assert_int_equal (value, 10946);
    assert_true (zhive_client_reconnects (client) >= 1);
    zhive_task_destroy (&outstanding);
    //  And new calls work
    zhive_opts_t opts = { .timeout_ms = 10000 };
    result = zhive_client_apply (client, "fib", args, &opts);
    assert_true (zhive_result_ok (result));
    zhive_result_destroy (&result);
    zhive_pack_destroy (&args);
    zhive_client_destroy (&client);
    testkit_reap (broker, SIGTERM, 5000);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_timeout_and_cancel_free_the_worker),
        cmocka_unit_test (test_queue_full),
        cmocka_unit_test (test_max_tasks_recycles_workers),
        cmocka_unit_test (test_crash_gives_worker_lost),
        cmocka_unit_test (test_stopped_worker_is_declared_dead),
        cmocka_unit_test (test_client_survives_broker_restart),
        cmocka_unit_test (test_chaos_kill_workers_during_map),
    };
    if (!getenv ("ZHIVE_PLUGIN") || !getenv ("ZHIVE_BIN")) {
        fprintf (stderr, "test_reliability: run through ctest (needs ZHIVE_PLUGIN, ZHIVE_BIN)\n");
        return 1;
    }
    //  ZHIVE_TEST=name runs one test alone
    if (getenv ("ZHIVE_TEST"))
        cmocka_set_test_filter (getenv ("ZHIVE_TEST"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
