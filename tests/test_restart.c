/*  test_restart - one answer per task across a broker restart and a cut link

    A worker that keeps running task A while its broker dies and comes back
    rejoins the new broker process. Tickets of the new broker must never
    match A's, so A's late answer cannot reach a task of the new broker
    (it did: tickets started at 1 in every broker process). And a worker
    whose link is cut and comes back to the same broker must not answer
    twice: its task was run again, and the client sees one answer.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <zhive.h>
#include "testkit_pool.h"
#include "testkit_relay.h"
#include <signal.h>
#include <unistd.h>

//  Tasks of `function` the broker says its workers hold, -1 if STATUS failed
static int
s_in_flight (zhive_client_t *client, const char *function)
{
    zhive_result_t *status = zhive_client_status (client, 2000);
    int found = -1;
    const msgpack_object *queues = status && zhive_result_ok (status)
                                       ? zhive_value_get (zhive_result_value (status), "queues")
                                       : NULL;
    for (size_t i = 0; queues && i < zhive_value_len (queues); i++) {
        const msgpack_object *queue = zhive_value_at (queues, i);
        const char *name;
        size_t size;
        int64_t in_flight;
        if (zhive_value_str (zhive_value_get (queue, "function"), &name, &size) == 0 &&
            size == strlen (function) && memcmp (name, function, size) == 0 &&
            zhive_value_int (zhive_value_get (queue, "in_flight"), &in_flight) == 0)
            found = (int) in_flight;
    }
    if (status && found < 0)
        found = 0;
    zhive_result_destroy (&status);
    return found;
}

typedef struct {
    zhive_client_t *client;    //  Asks the broker
    const char *function;      //  Of this function
    int count;                 //  Wanted in flight
} s_flight_t;

static bool
s_flight_is (void *arg)
{
    s_flight_t *flight = (s_flight_t *) arg;
    return s_in_flight (flight->client, flight->function) == flight->count;
}

static bool
s_has_worker (void *arg)
{
    pid_t pids [4];
    return testkit_pool_worker_pids ((zhive_client_t *) arg, pids, 4) >= 1;
}

//  A zhive-broker process on fixed clients and workers ports
static pid_t
s_broker_start (int clients_port, int workers_port, const char *log)
{
    char program [4096], clients [64], workers [64];
    testkit_program ("zhive-broker", program, sizeof program);
    snprintf (clients, sizeof clients, "tcp://127.0.0.1:%d", clients_port);
    snprintf (workers, sizeof workers, "tcp://127.0.0.1:%d", workers_port);
    const char *argv [] = {
        program, "--clients", clients, "--workers", workers, "--verbose", NULL
    };
    return testkit_spawn (argv, log);
}

//  The args [n], kept for the test's life (freed at exit by s_args (-1))
static zhive_pack_t *
s_args (int64_t n)
{
    static zhive_pack_t *packs [16];
    static size_t count;
    if (n < 0) {
        while (count)
            zhive_pack_destroy (&packs [--count]);
        return NULL;
    }
    assert_true (count < 16);
    packs [count] = testkit_pool_args_int (n);
    return packs [count++];
}

static int64_t
s_int_of (zhive_result_t *result)
{
    int64_t value = -1;
    assert_non_null (result);
    if (!zhive_result_ok (result))
        fail_msg ("%s: %s", zhive_result_error_type (result), zhive_result_error_message (result));
    assert_int_equal (zhive_value_int (zhive_result_value (result), &value), 0);
    return value;
}

//  The reproduction: A (sleep 4 s) runs when its broker is killed; a new
//  broker on the same ports gets the worker back and B (sleep 8 s). B must
//  get its own answer, 8000, never A's 4000
static void
test_restarted_broker_never_delivers_old_answer (void **state)
{
    (void) state;
    int clients_port = testkit_free_port ();
    int workers_port = testkit_free_port ();
    char clients [64], workers [64];
    snprintf (clients, sizeof clients, "tcp://127.0.0.1:%d", clients_port);
    snprintf (workers, sizeof workers, "tcp://127.0.0.1:%d", workers_port);
    pid_t broker = s_broker_start (clients_port, workers_port, "test_restart-broker1.log");
    char program [4096];
    testkit_program ("zhive-worker", program, sizeof program);
    const char *worker_argv [] = { program,           "--connect", workers, "--load",
                                   testkit_plugin (), "--verbose", NULL };
    pid_t worker = testkit_spawn (worker_argv, "test_restart-worker.log");

    zhive_client_t *client = zhive_client_new (clients, 10000);
    assert_non_null (client);
    testkit_wait_until (s_has_worker, client, 10000, "the worker joins the first broker");
    zhive_task_t *a = zhive_client_submit (client, "sleep", s_args (4000), NULL);
    assert_non_null (a);
    s_flight_t flight = { client, "sleep", 1 };
    testkit_wait_until (s_flight_is, &flight, 5000, "A runs on the worker");

    //  The broker dies with A running; the client goes too (its BYE reaches nobody)
    testkit_reap (broker, SIGKILL, 5000);
    zhive_task_destroy (&a);
    zhive_client_destroy (&client);

    broker = s_broker_start (clients_port, workers_port, "test_restart-broker2.log");
    client = zhive_client_new (clients, 10000);
    assert_non_null (client);
    testkit_wait_until (s_has_worker, client, 10000, "the worker joins the new broker");
    zhive_opts_t opts = { .timeout_ms = 30000 };
    zhive_task_t *b = zhive_client_submit (client, "sleep", s_args (8000), &opts);
    assert_non_null (b);
    zhive_result_t *result = zhive_task_wait (b, 30000);    //  Borrowed from the task
    assert_int_equal (s_int_of (result), 8000);
    zhive_task_destroy (&b);
    //  The worker still serves the new broker
    result = zhive_client_apply (client, "sleep", s_args (5), &opts);
    assert_int_equal (s_int_of (result), 5);
    zhive_result_destroy (&result);
    assert_int_equal (zhive_client_dropped (client), 0);

    zhive_client_destroy (&client);
    testkit_reap (worker, SIGTERM, 10000);
    testkit_reap (broker, SIGTERM, 10000);
}

//  The same broker: the worker's link goes silent long enough for the
//  broker to lose it (A goes back to the queue), then the worker reconnects
//  and runs A again. The client gets one answer for A, and new tasks work
static void
test_same_broker_after_cut_link (void **state)
{
    (void) state;
    testkit_pool_opts_t opts = { .heartbeat_ms = 200, .liveness = 3 };
    zhive_broker_t *broker = testkit_pool_broker_new (&opts);
    testkit_relay_t *relay = testkit_relay_new (zhive_broker_workers_endpoint (broker));
    char program [4096];
    testkit_program ("zhive-worker", program, sizeof program);
    const char *worker_argv [] = { program,
                                   "--connect",
                                   testkit_relay_endpoint (relay),
                                   "--load",
                                   testkit_plugin (),
                                   "--heartbeat",
                                   "200",
                                   "--liveness",
                                   "3",
                                   "--verbose",
                                   NULL };
    pid_t worker = testkit_spawn (worker_argv, "test_restart-cut-worker.log");
    zhive_client_t *client = zhive_client_new (zhive_broker_clients_endpoint (broker), 10000);
    assert_non_null (client);
    testkit_pool_wait_ready (broker, 1, 10000);

    zhive_opts_t task_opts = { .timeout_ms = 30000 };
    zhive_task_t *a = zhive_client_submit (client, "sleep", s_args (3000), &task_opts);
    assert_non_null (a);
    s_flight_t flight = { client, "sleep", 1 };
    testkit_wait_until (s_flight_is, &flight, 5000, "A runs on the worker");
    testkit_relay_freeze (relay);    //  The link goes silent; the worker reconnects through it

    zhive_result_t *result = zhive_task_wait (a, 30000);    //  Borrowed from the task
    assert_int_equal (s_int_of (result), 3000);
    zhive_task_destroy (&a);
    result = zhive_client_apply (client, "sleep", s_args (5), &task_opts);
    assert_int_equal (s_int_of (result), 5);
    zhive_result_destroy (&result);
    //  The first run's late answer reached nobody: the broker dropped it
    //  (its ticket was no longer in flight) or the worker did
    assert_int_equal (zhive_client_dropped (client), 0);

    zhive_client_destroy (&client);
    testkit_reap (worker, SIGTERM, 10000);
    testkit_relay_destroy (&relay);
    zhive_broker_destroy (&broker);
}

int
main (void)
{
    if (!getenv ("ZHIVE_WORKER") && !getenv ("ZHIVE_BIN")) {
        fprintf (stderr, "test_restart: run through ctest (needs ZHIVE_BIN and ZHIVE_PLUGIN)\n");
        return 77;
    }
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_restarted_broker_never_delivers_old_answer),
        cmocka_unit_test (test_same_broker_after_cut_link),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    s_args (-1);
    return rc;
}
