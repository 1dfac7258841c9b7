/*  =========================================================================
    test_broker - the broker, driven by raw DEALER peers

    Each test starts a broker in this process, bound to 127.0.0.1 with
    wildcard ports, and plays clients and workers with zhive_proto over
    plain DEALER sockets, so every message on the wire is under the test's
    control. Every receive has a timeout: a bug fails a test, never hangs it.
    =========================================================================
*/
#include "zhive_broker.h"
#include "zhive_pack.h"
#include "zhive_proto.h"
#include "testkit_peer.h"
#include "testkit_pool.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_TIMEOUT 3000    //  Longest wait for a message that must come
#define S_QUIET   300     //  How long "nothing arrives" is watched

//  Settings a test wants before the broker binds (cmocka's initial state)
typedef struct {
    int heartbeat_ms;             //  Heartbeat interval, 0 for the default
    int liveness;                 //  Heartbeat liveness
    size_t max_total;             //  Queue limit in all, 0 for the default
    size_t max_per_function;      //  Queue limit per function
    int max_retries;              //  Default retries, -1 for the default
    uint64_t worker_max_tasks;    //  --max-tasks for local workers
    const char *start_method;     //  NULL for the default
    int prefetch_ms;              //  Prefetch; 0: one task per slot (most tests count credit)
} s_config_t;

//  Applies a test's settings (or none) to the broker before it binds
static void
s_configure (zhive_broker_t *broker, const void *arg)
{
    const s_config_t *config = (const s_config_t *) arg;
    zhive_broker_set_prefetch (broker, config ? config->prefetch_ms : 0);
    if (config) {
        if (config->heartbeat_ms)
            zhive_broker_set_heartbeat (broker, config->heartbeat_ms, config->liveness);
        if (config->max_total)
            zhive_broker_set_max_queue (broker, config->max_total, config->max_per_function);
        if (config->max_retries >= 0)
            zhive_broker_set_max_retries (broker, config->max_retries);
        if (config->worker_max_tasks)
            zhive_broker_set_worker_max_tasks (broker, config->worker_max_tasks);
        if (config->start_method)
            assert_int_equal (zhive_broker_set_start_method (broker, config->start_method), 0);
    }
}

//  The fixture: a pool of a broker alone, bound to wildcard ports
static int
s_setup (void **state)
{
    testkit_pool_opts_t opts = { .configure = s_configure, .configure_arg = *state };
    *state = testkit_pool_new (&opts);
    return 0;
}

static int
s_teardown (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    testkit_pool_destroy (&fixture);
    return 0;
}

//  ---------------------------------------------------------------------
//  Tests

static void
test_ping (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_send (client, ZHIVE_PING, 0);
    zhive_proto_t *msg = testkit_peer_expect (client, ZHIVE_PONG);
    zhive_proto_destroy (&msg);
    testkit_peer_send (worker, ZHIVE_PING, 0);
    msg = testkit_peer_expect (worker, ZHIVE_PONG);
    zhive_proto_destroy (&msg);
    //  The endpoints are resolved
    assert_null (strchr (zhive_broker_clients_endpoint (fixture->broker), '*'));
    assert_null (strchr (zhive_broker_workers_endpoint (fixture->broker), '*'));
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_task_waits_for_worker (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_submit (client, 7, "fib", "\x91\x0a", -1, -1);
    testkit_peer_send (worker, ZHIVE_PING, 0);    //  Connected, but not READY
    zhive_proto_t *msg = testkit_peer_expect (worker, ZHIVE_PONG);
    zhive_proto_destroy (&msg);
    testkit_peer_expect_quiet (worker, S_QUIET);

    testkit_peer_ready (worker, "w1", 101, 4, "fib", NULL);
    uint64_t ticket = testkit_peer_expect_task (worker, "fib", "\x91\x0a");
    const char value [] = "\xcd\x00\x37";    //  55, as a uint16: bytes must pass untouched
    testkit_peer_done (worker, ticket, value, 3);
    testkit_peer_expect_result (client, 7, value, 3);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_dispatch_by_function (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker_a = testkit_pool_fake_worker (fixture);
    zsock_t *worker_b = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker_a, "a", 1, 10, "alpha", NULL);
    testkit_peer_ready (worker_b, "b", 2, 10, "beta", "gamma", NULL);
    testkit_pool_wait_workers (fixture, 2, S_TIMEOUT);
    for (int i = 0; i < 3; i++) {
        testkit_peer_submit (client, 10 + i, "beta", "\x90", -1, -1);
        testkit_peer_submit (client, 20 + i, "alpha", "\x90", -1, -1);
    }
    for (int i = 0; i < 3; i++) {
        testkit_peer_expect_task (worker_a, "alpha", NULL);
        testkit_peer_expect_task (worker_b, "beta", NULL);
    }
    testkit_peer_expect_quiet (worker_a, S_QUIET);
    testkit_peer_expect_quiet (worker_b, 0);
    zsock_destroy (&client);
    zsock_destroy (&worker_a);
    zsock_destroy (&worker_b);
}

static void
test_credit (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    for (uint64_t id = 1; id <= 5; id++)
        testkit_peer_submit (client, id, "work", "\x90", -1, -1);
    testkit_peer_ready (worker, "w", 1, 2, "work", NULL);
    uint64_t tickets [5];
    tickets [0] = testkit_peer_expect_task (worker, "work", NULL);
    tickets [1] = testkit_peer_expect_task (worker, "work", NULL);
    testkit_peer_expect_quiet (worker, S_QUIET);    //  Never more than its credit
    for (int next = 2; next < 5; next++) {
        testkit_peer_done (worker, tickets [next - 2], "\xc0", 1);
        tickets [next] = testkit_peer_expect_task (worker, "work", NULL);
        testkit_peer_expect_quiet (worker, 100);
    }
    testkit_peer_done (worker, tickets [3], "\xc0", 1);
    testkit_peer_done (worker, tickets [4], "\xc0", 1);
    //  Results in the order answered; FIFO dispatch means ids 1..5
    for (uint64_t id = 1; id <= 5; id++)
        testkit_peer_expect_result (client, id, "\xc0", 1);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  Prefetch: a worker that answers well within the prefetch time is sent
//  more tasks than it has slots; one whose tasks take longer is not
static s_config_t s_prefetch_long = { 0, 0, 0, 0, -1, 0, NULL, 2000 };
static s_config_t s_prefetch_short = { 0, 0, 0, 0, -1, 0, NULL, 30 };

//  Answers each TASK after `delay_ms` (at once if 0) until `count` are
//  answered; returns the most it held unanswered at any time
static size_t
s_answer_tasks (zsock_t *worker, size_t count, int delay_ms)
{
    uint64_t held [64];
    size_t held_count = 0, most = 0, answered = 0;
    while (answered < count) {
        //  Take every TASK already here, then answer the oldest
        zhive_proto_t *msg = zhive_proto_new ();
        int timeout = held_count ? 0 : S_TIMEOUT;
        zsock_set_rcvtimeo (worker, timeout);
        while (zhive_proto_recv (msg, worker, 0) == 0) {
            if (msg->command == ZHIVE_TASK) {
                assert_true (held_count < 64);
                held [held_count++] = msg->id;
                if (held_count > most)
                    most = held_count;
            }
            zsock_set_rcvtimeo (worker, held_count ? 20 : S_TIMEOUT);
        }
        zhive_proto_destroy (&msg);
        zsock_set_rcvtimeo (worker, S_TIMEOUT);
        assert_true (held_count > 0);
        if (delay_ms)
            zclock_sleep (delay_ms);
        testkit_peer_done (worker, held [0], "\xc0", 1);
        memmove (held, held + 1, --held_count * sizeof held [0]);
        answered++;
    }
    return most;
}

static void
test_prefetch_fast_tasks (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    for (uint64_t id = 1; id <= 30; id++)
        testkit_peer_submit (client, id, "work", "\x90", -1, -1);
    testkit_peer_ready (worker, "w", 1, 1, "work", NULL);
    //  One slot; answers come back far within 2 s: it gets more than one
    assert_true (s_answer_tasks (worker, 30, 0) > 1);
    for (uint64_t id = 1; id <= 30; id++)
        testkit_peer_expect_result (client, id, "\xc0", 1);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_prefetch_slow_tasks (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    for (uint64_t id = 1; id <= 6; id++)
        testkit_peer_submit (client, id, "work", "\x90", -1, -1);
    testkit_peer_ready (worker, "w", 1, 1, "work", NULL);
    //  Each answer takes 60 ms, past the 30 ms prefetch: one at a time
    assert_int_equal (s_answer_tasks (worker, 6, 60), 1);
    for (uint64_t id = 1; id <= 6; id++)
        testkit_peer_expect_result (client, id, "\xc0", 1);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_two_clients (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client_a = testkit_pool_fake_client (fixture);
    zsock_t *client_b = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 4, "echo", NULL);
    testkit_pool_wait_workers (fixture, 1, S_TIMEOUT);
    //  The same task id from two clients: two tasks
    testkit_peer_submit (client_a, 1, "echo", "\x91\xa1\x61", -1, -1);
    testkit_peer_submit (client_b, 1, "echo", "\x91\xa1\x62", -1, -1);
    for (int i = 0; i < 2; i++) {
        zhive_proto_t *task = testkit_peer_expect (worker, ZHIVE_TASK);
        //  Echo the args back as the value
        testkit_peer_done (worker, task->id, zmq_msg_data (&task->payload),
                           zmq_msg_size (&task->payload));
        zhive_proto_destroy (&task);
    }
    testkit_peer_expect_result (client_a, 1, "\x91\xa1\x61", 3);
    testkit_peer_expect_result (client_b, 1, "\x91\xa1\x62", 3);
    testkit_peer_expect_quiet (client_a, 100);
    testkit_peer_expect_quiet (client_b, 0);
    zsock_destroy (&client_a);
    zsock_destroy (&client_b);
    zsock_destroy (&worker);
}

static void
test_failed (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "the-worker", 1, 1, "fail", NULL);
    testkit_peer_submit (client, 3, "fail", "\x90", -1, -1);
    uint64_t ticket = testkit_peer_expect_task (worker, "fail", "\x90");
    testkit_peer_failed (worker, ticket, "ValueError", "it went wrong");
    zhive_proto_t *error = testkit_peer_expect_error (client, 3, "ValueError", NULL);
    assert_string_equal (error->message, "it went wrong");
    assert_string_equal (error->worker, "the-worker");
    zhive_proto_destroy (&error);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_timeouts (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);

    //  No worker offers the function
    int64_t start = zclock_mono ();
    testkit_peer_submit (client, 1, "nosuch", "\x90", 300, -1);
    zhive_proto_t *error =
        testkit_peer_expect_error (client, 1, "Timeout", "no worker offers 'nosuch'");
    assert_string_equal (error->worker, "");
    zhive_proto_destroy (&error);
    int64_t took = zclock_mono () - start;
    assert_true (took >= 290 && took < 1500);

    //  Running at its deadline: Timeout now, and the late DONE is dropped
    testkit_peer_ready (worker, "w", 1, 1, "slow", NULL);
    testkit_peer_submit (client, 2, "slow", "\x90", 300, -1);
    uint64_t running = testkit_peer_expect_task (worker, "slow", NULL);
    //  Queued behind it at its deadline
    testkit_peer_submit (client, 3, "slow", "\x91\x03", 200, -1);
    for (int i = 0; i < 2; i++) {
        error = testkit_peer_expect (client, ZHIVE_ERROR);
        assert_string_equal (error->type, "Timeout");
        if (error->id == 3)
            assert_non_null (strstr (error->message, "'slow' waited in a queue of 1"));
        else {
            assert_int_equal (error->id, 2);
            assert_non_null (strstr (error->message, "still running on worker 'w'"));
        }
        zhive_proto_destroy (&error);
    }
    testkit_peer_expect_cancel (worker, running);    //  The worker is told to stop it
    testkit_peer_submit (client, 4, "slow", "\x91\x04", -1, -1);
    testkit_peer_expect_quiet (worker, 100);    //  Its one slot is still taken
    testkit_peer_done (worker, running, "\xc3", 1);
    uint64_t ticket = testkit_peer_expect_task (worker, "slow", "\x91\x04");
    testkit_peer_done (worker, ticket, "\xc2", 1);
    testkit_peer_expect_result (client, 4, "\xc2", 1);
    testkit_peer_expect_quiet (client, 100);    //  Nothing more for id 2

    //  Many deadlines at once: each fires once, never early
    int64_t sent [40];
    for (int i = 0; i < 40; i++) {
        sent [i] = zclock_mono ();
        testkit_peer_submit (client, 100 + i, "nobody", "\x90", 50 + (i * 37) % 400, -1);
    }
    testkit_peer_send (client, ZHIVE_CANCEL, 110);    //  Deadlines over 400 ms away
    testkit_peer_send (client, ZHIVE_CANCEL, 121);
    bool seen [40] = { false };
    for (int i = 0; i < 40; i++) {
        zhive_proto_t *msg = testkit_peer_expect (client, ZHIVE_ERROR);
        int at = (int) (msg->id - 100);
        assert_true (at >= 0 && at < 40 && !seen [at]);
        seen [at] = true;
        if (at == 10 || at == 21)
            assert_string_equal (msg->type, "Cancelled");
        else {
            assert_string_equal (msg->type, "Timeout");
            assert_true (zclock_mono () - sent [at] >= 50 + (at * 37) % 400 - 2);
        }
        zhive_proto_destroy (&msg);
    }
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_cancel (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_submit (client, 1, "later", "\x90", -1, -1);
    testkit_peer_send (client, ZHIVE_CANCEL, 1);
    zhive_proto_t *error = testkit_peer_expect_error (client, 1, "Cancelled", NULL);
    zhive_proto_destroy (&error);
    testkit_peer_send (client, ZHIVE_CANCEL, 99);    //  Unknown: ignored
    testkit_peer_ready (worker, "w", 1, 1, "later", NULL);
    testkit_peer_expect_quiet (worker, S_QUIET);

    //  Cancel while running: the worker's answer is dropped
    testkit_peer_submit (client, 2, "later", "\x90", -1, -1);
    uint64_t ticket = testkit_peer_expect_task (worker, "later", NULL);
    testkit_peer_send (client, ZHIVE_CANCEL, 2);
    error = testkit_peer_expect_error (client, 2, "Cancelled", NULL);
    zhive_proto_destroy (&error);
    testkit_peer_expect_cancel (worker, ticket);    //  Passed on to the worker
    testkit_peer_done (worker, ticket, "\xc0", 1);
    testkit_peer_expect_quiet (client, 200);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_bye_redispatches (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker_a = testkit_pool_fake_worker (fixture);
    zsock_t *worker_b = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker_a, "a", 1, 2, "job", NULL);
    testkit_peer_submit (client, 1, "job", "\x91\x01", -1, -1);
    testkit_peer_submit (client, 2, "job", "\x91\x02", -1, -1);
    testkit_peer_submit (client, 3, "job", "\x91\x03", -1, -1);
    testkit_peer_expect_task (worker_a, "job", "\x91\x01");
    testkit_peer_expect_task (worker_a, "job", "\x91\x02");
    testkit_peer_ready (worker_b, "b", 2, 8, "job", NULL);
    uint64_t third = testkit_peer_expect_task (worker_b, "job", "\x91\x03");
    testkit_peer_send (worker_a, ZHIVE_BYE, 0);
    //  Back at the front of the queue, in their order, to the other worker
    uint64_t first = testkit_peer_expect_task (worker_b, "job", "\x91\x01");
    uint64_t second = testkit_peer_expect_task (worker_b, "job", "\x91\x02");
    testkit_peer_done (worker_b, first, "\x01", 1);
    testkit_peer_done (worker_b, second, "\x02", 1);
    testkit_peer_done (worker_b, third, "\x03", 1);
    testkit_peer_expect_result (client, 1, "\x01", 1);
    testkit_peer_expect_result (client, 2, "\x02", 1);
    testkit_peer_expect_result (client, 3, "\x03", 1);
    testkit_pool_wait_workers (fixture, 1, S_TIMEOUT);
    zsock_destroy (&client);
    zsock_destroy (&worker_a);
    zsock_destroy (&worker_b);
}

static void
test_retries_exhausted (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    testkit_peer_submit (client, 9, "fragile", "\x90", -1, 1);
    for (int attempt = 1; attempt <= 2; attempt++) {
        zsock_t *worker = testkit_pool_fake_worker (fixture);
        char name [16];
        snprintf (name, sizeof name, "w%d", attempt);
        testkit_peer_ready (worker, name, (uint64_t) attempt, 1, "fragile", NULL);
        testkit_peer_expect_task (worker, "fragile", "\x90");
        testkit_peer_send (worker, ZHIVE_BYE, 0);
        zsock_destroy (&worker);
    }
    zhive_proto_t *error = testkit_peer_expect_error (client, 9, "WorkerLost", "'w2'");
    assert_non_null (strstr (error->message, "2 attempt"));
    zhive_proto_destroy (&error);
    zsock_destroy (&client);
}

static void
test_status (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "busy-bee", 4242, 2, "sum", "mul", NULL);
    for (uint64_t id = 1; id <= 3; id++)
        testkit_peer_submit (client, id, "sum", "\x90", -1, -1);
    uint64_t ticket = testkit_peer_expect_task (worker, "sum", NULL);
    testkit_peer_expect_task (worker, "sum", NULL);
    testkit_peer_done (worker, ticket, "\xc0", 1);
    testkit_peer_expect_result (client, 1, "\xc0", 1);
    testkit_peer_expect_task (worker, "sum", NULL);

    msgpack_unpacked *status = testkit_peer_status (client, 77);
    const msgpack_object *root = &status->data;
    const msgpack_object *workers = zhive_value_get (root, "workers");
    assert_non_null (workers);
    assert_int_equal (zhive_value_len (workers), 1);
    const msgpack_object *entry = zhive_value_at (workers, 0);
    assert_true (testkit_field_is (entry, "id", "busy-bee"));
    char host [256] = "";
    gethostname (host, sizeof host - 1);
    assert_true (testkit_field_is (entry, "host", host));
    assert_int_equal (testkit_field_int (entry, "pid"), 4242);
    assert_int_equal (testkit_field_int (entry, "concurrency"), 2);
    assert_int_equal (testkit_field_int (entry, "in_flight"), 2);
    assert_int_equal (testkit_field_int (entry, "done"), 1);
    const msgpack_object *functions = zhive_value_get (entry, "functions");
    assert_int_equal (zhive_value_len (functions), 2);
    const msgpack_object *queues = zhive_value_get (root, "queues");
    assert_int_equal (zhive_value_len (queues), 2);
    for (size_t i = 0; i < 2; i++) {
        const msgpack_object *queue = zhive_value_at (queues, i);
        if (testkit_field_is (queue, "function", "sum")) {
            assert_int_equal (testkit_field_int (queue, "waiting"), 0);
            assert_int_equal (testkit_field_int (queue, "in_flight"), 2);
        }
        else {
            assert_true (testkit_field_is (queue, "function", "mul"));
            assert_int_equal (testkit_field_int (queue, "waiting"), 0);
            assert_int_equal (testkit_field_int (queue, "in_flight"), 0);
        }
    }
    testkit_peer_status_destroy (&status);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

typedef struct {
    const char *data;    //  Frame bytes
    size_t size;         //  Frame size
} s_frame_t;

//  One garbage message
typedef struct {
    const char *what;       //  What is wrong with it
    int frames;             //  Number of frames
    s_frame_t frame [4];    //  The frames
} s_garbage_t;

#define F(s)                                                                                       \
    {                                                                                              \
        s, sizeof (s) - 1                                                                          \
    }

static void
s_send_garbage (zsock_t *sock, const s_garbage_t *garbage)
{
    for (int i = 0; i < garbage->frames; i++)
        assert_true (zmq_send (zsock_resolve (sock), garbage->frame [i].data,
                               garbage->frame [i].size,
                               i < garbage->frames - 1 ? ZMQ_SNDMORE : 0) >= 0);
}

static void
test_garbage (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    char noise [64];
    for (size_t i = 0; i < sizeof noise; i++)
        noise [i] = (char) (random () & 0xff);
    noise [0] = 'Z';    //  Not a signature by luck

    //  Bad for either socket, with the client's and the worker's commands
    const s_garbage_t garbage [] = {
        { "random bytes", 1, { { noise, sizeof noise } } },
        { "random frames", 3, { { noise, 5 }, { noise + 5, 4 }, { noise + 9, 30 } } },
        { "empty frame", 1, { F ("") } },
        { "wrong signature", 2, { F ("ZHX\x01\x01"), F ("\x90") } },
        { "wrong version", 2, { F ("ZHV\x02\x01"), F ("\x90") } },
        { "unknown command", 2, { F ("ZHV\x01\x7f"), F ("\x90") } },
        { "signature only", 1, { F ("ZHV\x01\x01") } },
        { "header not an array", 2, { F ("ZHV\x01\x01"), F ("\xa3\x61\x62\x63") } },
        { "truncated SUBMIT", 3, { F ("ZHV\x01\x10"), F ("\x94\x01\xa3\x66\x69"), F ("\x90") } },
        { "SUBMIT of wrong types",
          3,
          { F ("ZHV\x01\x10"), F ("\x94\xa1x\x01\xa1t\xa1r"), F ("\x90") } },
        { "SUBMIT without payload", 2, { F ("ZHV\x01\x10"), F ("\x94\x01\xa1\x66\xff\xff") } },
        { "PING with extra frame", 3, { F ("ZHV\x01\x01"), F ("\x90"), F ("extra") } },
        { "SUBMIT with extra frame",
          4,
          { F ("ZHV\x01\x10"), F ("\x94\x01\xa1\x66\xff\xff"), F ("\x90"), F ("\x90") } },
        { "huge str32 length",
          3,
          { F ("ZHV\x01\x10"), F ("\x94\x01\xdb\xff\xff\xff\xff\x66"), F ("\x90") } },
        { "huge array32 count", 2, { F ("ZHV\x01\x30"), F ("\xdd\xff\xff\xff\xff\xa1n") } },
        { "READY offering 4G functions",
          2,
          { F ("ZHV\x01\x30"), F ("\x95\xa1n\xa1h\x01\x01\xdd\xff\xff\xff\xff") } },
        { "READY of wrong types", 2, { F ("ZHV\x01\x30"), F ("\x95\x01\x02\x03\x04\x05") } },
        { "DONE without payload", 2, { F ("ZHV\x01\x31"), F ("\x91\x01") } },
        { "FAILED truncated", 2, { F ("ZHV\x01\x32"), F ("\x93\x01\xa1") } },
        { "TASK", 3, { F ("ZHV\x01\x40"), F ("\x92\x01\xa1\x66"), F ("\x90") } },
        { "RESULT", 3, { F ("ZHV\x01\x20"), F ("\x91\x01"), F ("\xc0") } },
    };
    size_t count = sizeof garbage / sizeof garbage [0];

    //  Client socket: each gets ERROR [0, Malformed, why, ""]
    zsock_t *client = testkit_pool_fake_client (fixture);
    for (size_t i = 0; i < count; i++) {
        s_send_garbage (client, &garbage [i]);
        zhive_proto_t *error = testkit_peer_expect (client, ZHIVE_ERROR);
        if (error->id != 0 || strcmp (error->type, "Malformed") || !*error->message)
            fail_msg ("%s: got ERROR [%" PRIu64 ", %s, %s]", garbage [i].what, error->id,
                      error->type, error->message);
        assert_string_equal (error->worker, "");
        zhive_proto_destroy (&error);
    }
    //  Worker commands from a client are malformed there
    testkit_peer_ready (client, "sneaky", 1, 1, "x", NULL);
    zhive_proto_t *error = testkit_peer_expect_error (client, 0, "Malformed", NULL);
    zhive_proto_destroy (&error);

    //  Worker socket: each gets BYE [why]; a registered worker is forgotten
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    for (size_t i = 0; i < count; i++) {
        s_send_garbage (worker, &garbage [i]);
        zhive_proto_t *bye = testkit_peer_expect (worker, ZHIVE_BYE);
        if (!bye->message || !*bye->message)
            fail_msg ("%s: BYE without a reason", garbage [i].what);
        zhive_proto_destroy (&bye);
    }
    testkit_peer_submit (worker, 1, "x", "\x90", -1, -1);    //  A client command from a worker
    zhive_proto_t *bye = testkit_peer_expect (worker, ZHIVE_BYE);
    zhive_proto_destroy (&bye);

    //  A registered worker holding a task sends garbage: forgotten, task requeued
    testkit_peer_ready (worker, "bad", 1, 1, "x", NULL);
    testkit_pool_wait_workers (fixture, 1, S_TIMEOUT);
    zsock_t *good_client = testkit_pool_fake_client (fixture);
    testkit_peer_submit (good_client, 5, "x", "\x91\x05", -1, -1);
    testkit_peer_expect_task (worker, "x", "\x91\x05");
    s_send_garbage (worker, &garbage [0]);
    bye = testkit_peer_expect (worker, ZHIVE_BYE);
    zhive_proto_destroy (&bye);
    testkit_pool_wait_workers (fixture, 0, S_TIMEOUT);

    //  And the broker still serves a normal round trip
    zsock_t *good_worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (good_worker, "good", 2, 1, "x", NULL);
    uint64_t ticket = testkit_peer_expect_task (good_worker, "x", "\x91\x05");
    testkit_peer_done (good_worker, ticket, "\x05", 1);
    testkit_peer_expect_result (good_client, 5, "\x05", 1);
    testkit_peer_submit (good_client, 6, "x", "\x91\x06", -1, -1);
    ticket = testkit_peer_expect_task (good_worker, "x", "\x91\x06");
    testkit_peer_done (good_worker, ticket, "\x06", 1);
    testkit_peer_expect_result (good_client, 6, "\x06", 1);
    zsock_destroy (&client);
    zsock_destroy (&worker);
    zsock_destroy (&good_client);
    zsock_destroy (&good_worker);
}

//  Extreme numbers in well-formed headers are served, not trusted
static void
test_extreme_values (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "big", UINT64_MAX, 1000000, "f", NULL);
    testkit_peer_submit (client, UINT64_MAX, "f", "\x90", INT64_MAX, INT64_MAX);
    testkit_peer_submit (client, 0, "f", "\x90", INT64_MIN, INT64_MIN);
    uint64_t first = testkit_peer_expect_task (worker, "f", NULL);
    uint64_t second = testkit_peer_expect_task (worker, "f", NULL);
    testkit_peer_done (worker, first, "\x01", 1);
    testkit_peer_done (worker, second, "\x02", 1);
    testkit_peer_expect_result (client, UINT64_MAX, "\x01", 1);
    testkit_peer_expect_result (client, 0, "\x02", 1);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_unknown_ticket (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    zsock_t *other = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);
    testkit_peer_ready (other, "o", 2, 1, "g", NULL);
    testkit_peer_submit (client, 1, "f", "\x90", -1, -1);
    uint64_t ticket = testkit_peer_expect_task (worker, "f", NULL);
    testkit_peer_done (worker, 987654321, "\xc0", 1);          //  Never issued
    testkit_peer_failed (worker, 987654322, "X", "forged");    //  Never issued
    testkit_peer_done (other, ticket, "\xc2", 1);              //  Not the holder's
    testkit_peer_expect_quiet (client, 200);
    testkit_peer_done (worker, ticket, "\xc3", 1);
    testkit_peer_expect_result (client, 1, "\xc3", 1);
    testkit_peer_done (worker, ticket, "\xc2", 1);    //  Duplicate
    testkit_peer_expect_quiet (client, 200);
    //  Neither peer was thrown out for it
    testkit_peer_expect_quiet (worker, 0);
    testkit_peer_expect_quiet (other, 0);
    testkit_pool_wait_workers (fixture, 2, S_TIMEOUT);
    zsock_destroy (&client);
    zsock_destroy (&worker);
    zsock_destroy (&other);
}

static void
test_duplicate_submit (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_submit (client, 1, "f", "\x90", -1, -1);
    testkit_peer_submit (client, 1, "f", "\x90", -1, -1);    //  A resend: not run twice
    testkit_peer_ready (worker, "w", 1, 4, "f", NULL);
    uint64_t ticket = testkit_peer_expect_task (worker, "f", NULL);
    testkit_peer_expect_quiet (worker, S_QUIET);
    testkit_peer_done (worker, ticket, "\xc0", 1);
    testkit_peer_expect_result (client, 1, "\xc0", 1);
    testkit_peer_expect_quiet (client, 100);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_worker_vanishes (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "ghost", 1, 1, "f", NULL);
    testkit_peer_submit (client, 1, "f", "\x91\x01", -1, -1);
    testkit_peer_expect_task (worker, "f", "\x91\x01");
    //  Closed without BYE: the heartbeat's PING finds it gone
    zsock_destroy (&worker);
    testkit_pool_wait_workers (fixture, 0, S_TIMEOUT);
    zsock_t *next = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (next, "next", 2, 1, "f", NULL);
    uint64_t ticket = testkit_peer_expect_task (next, "f", "\x91\x01");
    testkit_peer_done (next, ticket, "\xc0", 1);
    testkit_peer_expect_result (client, 1, "\xc0", 1);
    zsock_destroy (&client);
    zsock_destroy (&next);
}

static void
test_shutdown (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);
    testkit_peer_submit (client, 1, "f", "\x90", -1, -1);
    testkit_peer_submit (client, 2, "f", "\x90", -1, -1);
    testkit_peer_expect_task (worker, "f", NULL);
    zhive_broker_destroy (&fixture->broker);
    bool seen [3] = { false };
    for (int i = 0; i < 2; i++) {
        zhive_proto_t *error = testkit_peer_expect (client, ZHIVE_ERROR);
        assert_string_equal (error->type, "BrokerShutdown");
        assert_true (error->id == 1 || error->id == 2);
        assert_false (seen [error->id]);
        seen [error->id] = true;
        zhive_proto_destroy (&error);
    }
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_bind_errors (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    assert_int_equal (zhive_broker_bind_clients (fixture->broker, "nonsense"), -1);
    //  The port the workers socket holds is taken
    assert_int_equal (zhive_broker_bind_clients (fixture->broker,
                                                 zhive_broker_workers_endpoint (fixture->broker)),
                      -1);
    //  Still the endpoint bound first
    assert_non_null (zhive_broker_clients_endpoint (fixture->broker));
    zsock_t *client = testkit_pool_fake_client (fixture);
    testkit_peer_send (client, ZHIVE_PING, 0);
    zhive_proto_t *msg = testkit_peer_expect (client, ZHIVE_PONG);
    zhive_proto_destroy (&msg);
    zsock_destroy (&client);
}

//  ---------------------------------------------------------------------
//  Local workers: needs a working zhive-worker and the examples plugin

static bool
s_local_workers_possible (void)
{
    const char *program = getenv ("ZHIVE_WORKER");
    const char *plugin = getenv ("ZHIVE_PLUGIN");
    if (!program || !plugin || access (program, X_OK) || access (plugin, R_OK))
        return false;
    char command [4096];
    snprintf (command, sizeof command, "'%s' --help >/dev/null 2>&1", program);
    int status = system (command);
    return status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

//  The pids of the workers in STATUS, or fewer if fewer are ready
static size_t
s_worker_pids (zsock_t *client, pid_t *pids, size_t max)
{
    msgpack_unpacked *status = testkit_peer_status (client, 1);
    size_t count = testkit_status_pids (&status->data, pids, max);
    testkit_peer_status_destroy (&status);
    return count;
}

//  Tasks in flight on all workers; pids [0] gets the pid of one holding some
static size_t
s_in_flight (zsock_t *client, pid_t *pids)
{
    msgpack_unpacked *status = testkit_peer_status (client, 2);
    const msgpack_object *workers = zhive_value_get (&status->data, "workers");
    size_t total = 0;
    for (size_t i = 0; i < zhive_value_len (workers); i++) {
        int64_t in_flight = testkit_field_int (zhive_value_at (workers, i), "in_flight");
        if (in_flight > 0)
            pids [0] = (pid_t) testkit_field_int (zhive_value_at (workers, i), "pid");
        total += (size_t) in_flight;
    }
    testkit_peer_status_destroy (&status);
    return total;
}

static void
test_local_workers (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    if (!s_local_workers_possible ())
        skip ();
    const char *loads [] = { getenv ("ZHIVE_PLUGIN"), NULL };
    assert_int_equal (zhive_broker_start_workers (fixture->broker, 2, loads, 4), 0);
    testkit_pool_wait_workers (fixture, 2, 10000);

    zsock_t *client = testkit_pool_fake_client (fixture);
    testkit_peer_submit (client, 1, "echo", "\x92\x01\xa1x", -1, -1);
    testkit_peer_expect_result (client, 1, "\x92\x01\xa1x", 4);

    pid_t pids [2];
    assert_int_equal (s_worker_pids (client, pids, 2), 2);
    assert_int_equal (kill (pids [0], SIGKILL), 0);
    //  The broker reaps it (no zombie for us to find) and starts another
    int64_t until = zclock_mono () + 10000;
    while (true) {
        pid_t now [2] = { 0, 0 };
        if (s_worker_pids (client, now, 2) == 2 && now [0] != pids [0] && now [1] != pids [0])
            break;
        if (zclock_mono () > until)
            fail_msg ("no replacement for the killed worker");
        zclock_sleep (100);
    }
    assert_int_equal (waitpid (pids [0], NULL, WNOHANG), -1);
    testkit_peer_submit (client, 2, "echo", "\x91\x02", -1, -1);
    testkit_peer_expect_result (client, 2, "\x91\x02", 2);

    //  Kill a worker holding tasks: they run again elsewhere, none is lost
    for (uint64_t id = 10; id < 18; id++)
        testkit_peer_submit (client, id, "sleep", "\x91\xcd\x01\x90", -1, -1);    //  [400]
    until = zclock_mono () + 5000;
    while (s_in_flight (client, pids) < 8) {
        if (zclock_mono () > until)
            fail_msg ("the 8 sleeps did not all start");
        zclock_sleep (20);
    }
    assert_int_equal (kill (pids [0], SIGKILL), 0);
    bool seen [18] = { false };
    for (int i = 0; i < 8; i++) {
        zhive_proto_t *msg = testkit_peer_expect (client, ZHIVE_RESULT);
        assert_true (msg->id >= 10 && msg->id < 18 && !seen [msg->id]);
        seen [msg->id] = true;
        zhive_proto_destroy (&msg);
    }

    //  Destroying the broker stops and reaps its workers
    pid_t last [2];
    testkit_pool_wait_workers (fixture, 2, 10000);
    assert_int_equal (s_worker_pids (client, last, 2), 2);
    zhive_broker_destroy (&fixture->broker);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (kill (last [i], 0), -1);
        assert_int_equal (errno, ESRCH);
    }
    zsock_destroy (&client);
}

static void
test_local_workers_bad_program (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zhive_broker_set_worker_program (fixture->broker, "/nonexistent/zhive-worker");
    const char *loads [] = { "nothing.so", NULL };
    assert_int_equal (zhive_broker_start_workers (fixture->broker, 2, loads, 0), 0);
    //  They fail at once; the broker backs off instead of forking in a loop
    zclock_sleep (1200);
    assert_int_equal (zhive_broker_workers_ready (fixture->broker), 0);
    zsock_t *client = testkit_pool_fake_client (fixture);
    testkit_peer_send (client, ZHIVE_PING, 0);
    zhive_proto_t *msg = testkit_peer_expect (client, ZHIVE_PONG);
    zhive_proto_destroy (&msg);
    zsock_destroy (&client);
}

static void
s_set_interrupted (int sig)
{
    (void) sig;
    zsys_interrupted = 1;
}

//  The fixture with a short unknown-function bound: 300 ms
static void
s_configure_unknown (zhive_broker_t *broker, const void *arg)
{
    s_configure (broker, arg);
    zhive_broker_set_unknown_function_timeout (broker, 300);
}

static int
s_setup_unknown (void **state)
{
    testkit_pool_opts_t opts = { .configure = s_configure_unknown };
    *state = testkit_pool_new (&opts);
    return 0;
}

//  A task for a function no worker offers (a misspelled name) gets
//  UnknownFunction once it has waited the broker's bound, here 300 ms,
//  even without a deadline of its own; a function a worker offers is not
//  touched
static void
test_unknown_function (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "fib", NULL);
    zhive_client_t *client =
        zhive_client_new (zhive_broker_clients_endpoint (fixture->broker), TESTKIT_TIMEOUT);
    assert_non_null (client);
    zhive_pack_t *args = testkit_pool_args_int (1);
    zhive_opts_t opts = { .timeout_ms = TESTKIT_TIMEOUT };
    zhive_task_t *offered = zhive_client_submit (client, "fib", args, &opts);
    int64_t start = zclock_mono ();
    zhive_result_t *result = zhive_client_apply (client, "fibb", args, &opts);
    int64_t took = zclock_mono () - start;
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_UNKNOWN_FN);
    assert_non_null (strstr (zhive_result_error_message (result), "no worker offers 'fibb'"));
    assert_true (took >= 250);
    assert_true (took < TESTKIT_TIMEOUT / 2);
    zhive_result_destroy (&result);
    //  The task for fib, held by the worker, is still running
    uint64_t ticket = testkit_peer_expect_task (worker, "fib", NULL);
    assert_false (zhive_task_done (offered));
    testkit_peer_done (worker, ticket, "\x01", 1);
    assert_non_null (zhive_task_wait (offered, TESTKIT_TIMEOUT));
    assert_true (zhive_result_ok (zhive_task_wait (offered, 0)));
    zhive_task_destroy (&offered);
    zhive_pack_destroy (&args);
    zhive_client_destroy (&client);
    zsock_destroy (&worker);
}

//  Embedded, the broker keeps serving when the program gets SIGINT: the
//  program decides when to destroy it
static void
test_survives_interrupt (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    //  A handler such as a program sets (libzhive leaves signals alone)
    struct sigaction action, saved;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_set_interrupted;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, &saved);
    raise (SIGINT);
    assert_true (zsys_interrupted);
    zclock_sleep (200);
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);
    testkit_peer_submit (client, 1, "f", "\x90", 500, -1);
    uint64_t ticket = testkit_peer_expect_task (worker, "f", NULL);
    testkit_peer_done (worker, ticket, "\xc0", 1);
    testkit_peer_expect_result (client, 1, "\xc0", 1);
    testkit_peer_submit (client, 2, "nosuch", "\x90", 100, -1);    //  Timers still run
    zhive_proto_t *error = testkit_peer_expect_error (client, 2, "Timeout", NULL);
    zhive_proto_destroy (&error);
    zsys_interrupted = 0;
    sigaction (SIGINT, &saved, NULL);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  ---------------------------------------------------------------------
//  A fake zhive-worker: this program run as `test_broker --connect E ...`.
//  It answers "echo" with its pid (a msgpack uint32), "later" [ms] with its
//  pid after ms, and never answers "hang"; it ignores CANCEL, as a stuck
//  sync handler would. With --max-tasks N it says BYE and exits 0 after
//  answering N tasks. It refuses --zygote (exit 2), as an older worker does.

#define S_FAKE_LATER_MAX 64

static void
s_fake_answer (zsock_t *sock, uint64_t ticket)
{
    uint32_t pid = (uint32_t) getpid ();
    uint8_t value [5] = { 0xce, (uint8_t) (pid >> 24), (uint8_t) (pid >> 16), (uint8_t) (pid >> 8),
                          (uint8_t) pid };
    zhive_proto_t *msg = zhive_proto_new ();
    msg->command = ZHIVE_DONE;
    msg->id = ticket;
    zhive_proto_set_payload (msg, value, sizeof value);
    zhive_proto_send (msg, sock);
    zhive_proto_destroy (&msg);
}

//  The ms of a "later" task's args [ms] (a fixint or uint16), 0 if other
static int64_t
s_fake_later_ms (const zhive_proto_t *msg)
{
    const uint8_t *data = (const uint8_t *) zmq_msg_data ((zmq_msg_t *) &msg->payload);
    size_t size = zmq_msg_size ((zmq_msg_t *) &msg->payload);
    if (size == 2 && data [0] == 0x91 && data [1] < 0x80)
        return data [1];
    if (size == 4 && data [0] == 0x91 && data [1] == 0xcd)
        return (int64_t) data [2] << 8 | data [3];
    return 0;
}

static int
s_fake_worker (int argc, char *argv [])
{
    zsys_handler_set (NULL);    //  SIGTERM ends it, as it ends a real worker
    const char *endpoint = NULL;
    uint64_t max_tasks = 0;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--zygote"))
            return 2;
        if (streq (argv [i], "--connect") && i + 1 < argc)
            endpoint = argv [++i];
        else if (streq (argv [i], "--max-tasks") && i + 1 < argc)
            max_tasks = strtoull (argv [++i], NULL, 10);
        else if (i + 1 < argc && argv [i][0] == '-')
            i++;    //  --load, --concurrency, --heartbeat, --liveness: their value
    }
    zsock_t *sock = endpoint ? zsock_new (ZMQ_DEALER) : NULL;
    if (!sock || zsock_connect (sock, "%s", endpoint))
        return 1;
    zsock_set_sndtimeo (sock, 5000);
    const char *functions [] = { "echo", "later", "hang" };
    zhive_proto_t *msg =
        testkit_peer_ready_msg ("fake", (uint64_t) getpid (), 4, max_tasks, functions, 3);
    if (!msg)
        return 1;
    //  As zhive-worker does: the token its broker gave it, if any
    const char *token = getenv (ZHIVE_TOKEN_ENV);
    snprintf (msg->token, sizeof msg->token, "%s", token ? token : "");
    zhive_proto_send (msg, sock);

    uint64_t later_ticket [S_FAKE_LATER_MAX];
    int64_t later_at [S_FAKE_LATER_MAX];
    size_t later_count = 0;
    uint64_t answered = 0;
    int64_t end = zclock_mono () + 60000;    //  Never outlive a broken test for long
    while (zclock_mono () < end && !(max_tasks && answered >= max_tasks)) {
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 10);
        if ((item.revents & ZMQ_POLLIN) && zhive_proto_recv (msg, sock, ZMQ_DONTWAIT) == 0 &&
            msg->command == ZHIVE_TASK) {
            if (streq (msg->function, "echo")) {
                s_fake_answer (sock, msg->id);
                answered++;
            }
            else if (streq (msg->function, "later") && later_count < S_FAKE_LATER_MAX) {
                later_ticket [later_count] = msg->id;
                later_at [later_count++] = zclock_mono () + s_fake_later_ms (msg);
            }
        }
        for (size_t i = 0; i < later_count;) {
            if (zclock_mono () >= later_at [i]) {
                s_fake_answer (sock, later_ticket [i]);
                answered++;
                later_ticket [i] = later_ticket [later_count - 1];
                later_at [i] = later_at [--later_count];
            }
            else
                i++;
        }
    }
    msg->command = ZHIVE_BYE;
    zhive_proto_set_message (msg, "reached --max-tasks");
    zhive_proto_send (msg, sock);
    zhive_proto_destroy (&msg);
    zsock_set_linger (sock, 1000);
    zsock_destroy (&sock);
    return 0;
}

//  This test program, to run as a fake worker
static const char *
s_self_path (void)
{
    static char path [4096];
    ssize_t size = readlink ("/proc/self/exe", path, sizeof path - 1);
    assert_true (size > 0);
    path [size] = 0;
    return path;
}

//  Start a fake worker ourselves (not a local worker of the broker)
static pid_t
s_fake_start (testkit_pool_t *fixture)
{
    const char *argv [] = { s_self_path (), "--connect",
                            zhive_broker_workers_endpoint (fixture->broker), NULL };
    return testkit_spawn (argv, NULL);
}

//  The parent of a process, 0 if it is gone
static pid_t
s_parent_of (pid_t pid)
{
    char path [64], stat [512];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char *line = fgets (stat, sizeof stat, file);
    fclose (file);
    int ppid = 0;
    if (!line || !strrchr (stat, ')') || sscanf (strrchr (stat, ')') + 2, "%*c %d", &ppid) != 1)
        return 0;
    return (pid_t) ppid;
}

//  The pid a fake worker put in its answer
static uint32_t
s_fake_pid (const zhive_proto_t *msg)
{
    const uint8_t *data = (const uint8_t *) zmq_msg_data ((zmq_msg_t *) &msg->payload);
    assert_int_equal (zmq_msg_size ((zmq_msg_t *) &msg->payload), 5);
    assert_int_equal (data [0], 0xce);
    return (uint32_t) data [1] << 24 | (uint32_t) data [2] << 16 | (uint32_t) data [3] << 8 |
           data [4];
}

//  Wait for a RESULT (a fake worker's pid) for id
static uint32_t
s_expect_fake_result (zsock_t *client, uint64_t id)
{
    zhive_proto_t *msg = testkit_peer_expect (client, ZHIVE_RESULT);
    assert_int_equal (msg->id, id);
    uint32_t pid = s_fake_pid (msg);
    zhive_proto_destroy (&msg);
    return pid;
}

//  ---------------------------------------------------------------------
//  Reliability: heartbeats, reconnects, cancel, limits, drain

static s_config_t s_fast_heartbeat = { 200, 3, 0, 0, -1, 0, NULL, 0 };

//  A worker process that stops (SIGSTOP) while it holds a task: the broker
//  finds its connection dead within liveness x interval (+ about one
//  interval), the task runs elsewhere, and the late DONE after SIGCONT is
//  dropped
static void
test_heartbeat_expiry (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    pid_t fake = s_fake_start (fixture);
    testkit_pool_wait_workers (fixture, 1, 10000);
    testkit_peer_submit (client, 1, "later", "\x91\x64", -1, -1);    //  [100]: answers after 100 ms
    pid_t holder = 0;
    int64_t until = zclock_mono () + S_TIMEOUT;
    while (s_in_flight (client, &holder) < 1) {
        if (zclock_mono () > until)
            fail_msg ("the fake worker did not take the task");
        zclock_sleep (5);
    }
    assert_int_equal (holder, fake);
    assert_int_equal (kill (fake, SIGSTOP), 0);
    int64_t stopped = zclock_mono ();

    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "b", 2, 1, "later", NULL);
    zsock_set_rcvtimeo (worker, 5000);
    uint64_t ticket = testkit_peer_expect_task (worker, "later", "\x91\x64");
    int64_t took = zclock_mono () - stopped;
    printf ("    a stopped worker was declared lost after %" PRId64 " ms (heartbeat 200 ms x 3)\n",
            took);
    assert_true (took >= 400 && took < 2000);
    testkit_peer_done (worker, ticket, "\x02", 1);
    testkit_peer_expect_result (client, 1, "\x02", 1);

    //  Woken up, it answers the task it held: nobody takes that answer
    assert_int_equal (kill (fake, SIGCONT), 0);
    testkit_peer_expect_quiet (client, 1000);
    testkit_pool_wait_workers (fixture, 1, S_TIMEOUT);
    testkit_reap (fake, SIGKILL, S_TIMEOUT);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  Clients that wait for answers get HEARTBEAT each interval; idle ones not
static void
test_client_heartbeat (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);
    testkit_peer_submit (client, 1, "f", "\x90", -1, -1);
    uint64_t ticket = testkit_peer_expect_task (worker, "f", NULL);
    zhive_proto_t *msg = zhive_proto_new ();
    zsock_set_rcvtimeo (client, 1000);
    assert_int_equal (zhive_proto_recv (msg, client, 0), 0);
    assert_int_equal (msg->command, ZHIVE_HEARTBEAT);
    testkit_peer_done (worker, ticket, "\xc0", 1);
    testkit_peer_expect_result (client, 1, "\xc0", 1);
    zsock_set_rcvtimeo (client, 800);    //  Four intervals: nothing for an idle client
    assert_int_equal (zhive_proto_recv (msg, client, 0), -1);
    zhive_proto_destroy (&msg);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  A client that is away when its answer comes gets it when it reconnects
//  and resends: the task does not run again
static void
test_kept_answer (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 4, "f", NULL);
    zsock_t *client =
        testkit_peer_new_id (zhive_broker_clients_endpoint (fixture->broker), "client-A");
    testkit_peer_submit (client, 1, "f", "\x91\x01", -1, -1);
    testkit_peer_submit (client, 2, "nobody", "\x90", 200, -1);    //  Times out while it is away
    uint64_t ticket = testkit_peer_expect_task (worker, "f", "\x91\x01");
    zsock_destroy (&client);
    zclock_sleep (400);    //  The broker sees the connection closed
    testkit_peer_done (worker, ticket, "\x2a", 1);
    zclock_sleep (100);

    client = testkit_peer_new_id (zhive_broker_clients_endpoint (fixture->broker), "client-A");
    testkit_peer_submit (client, 1, "f", "\x91\x01", -1, -1);
    testkit_peer_expect_result (client, 1, "\x2a", 1);
    testkit_peer_submit (client, 2, "nobody", "\x90", 200, -1);
    zhive_proto_t *error =
        testkit_peer_expect_error (client, 2, "Timeout", "no worker offers 'nobody'");
    zhive_proto_destroy (&error);
    testkit_peer_expect_quiet (worker, S_QUIET);    //  Not asked again

    //  Delivered once: the same id now is a new task
    testkit_peer_submit (client, 1, "f", "\x91\x01", -1, -1);
    ticket = testkit_peer_expect_task (worker, "f", "\x91\x01");
    //  A resend of a task still under way is ignored
    zsock_destroy (&client);
    client = testkit_peer_new_id (zhive_broker_clients_endpoint (fixture->broker), "client-A");
    testkit_peer_submit (client, 1, "f", "\x91\x01", -1, -1);
    testkit_peer_expect_quiet (worker, S_QUIET);
    testkit_peer_done (worker, ticket, "\x2b", 1);
    testkit_peer_expect_result (client, 1, "\x2b", 1);
    testkit_peer_expect_quiet (client, 100);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  Cancel and timeout of a running task reach its worker; the worker's
//  answer is dropped and its slot comes back then, not before
static void
test_cancel_running (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);
    testkit_peer_submit (client, 1, "f", "\x91\x01", -1, -1);
    zhive_proto_t *task = testkit_peer_expect (worker, ZHIVE_TASK);
    assert_int_equal (task->timeout_ms, -1);    //  No deadline
    uint64_t ticket = task->id;
    zhive_proto_destroy (&task);
    testkit_peer_send (client, ZHIVE_CANCEL, 1);
    zhive_proto_t *error = testkit_peer_expect_error (client, 1, "Cancelled", NULL);
    zhive_proto_destroy (&error);
    testkit_peer_expect_cancel (worker, ticket);
    testkit_peer_submit (client, 2, "f", "\x91\x02", 1000, -1);
    testkit_peer_expect_quiet (worker, S_QUIET);    //  The cancelled task still holds the slot
    testkit_peer_failed (worker, ticket, "Cancelled", "cancelled");
    task = testkit_peer_expect (worker, ZHIVE_TASK);    //  Now the slot is free
    assert_true (task->timeout_ms > 0 && task->timeout_ms <= 1000 - S_QUIET + 50);
    ticket = task->id;
    zhive_proto_destroy (&task);
    testkit_peer_expect_quiet (client, 0);

    //  Its deadline passes while it runs
    error = testkit_peer_expect_error (client, 2, "Timeout", "still running on worker 'w'");
    zhive_proto_destroy (&error);
    testkit_peer_expect_cancel (worker, ticket);
    testkit_peer_submit (client, 3, "f", "\x91\x03", -1, -1);
    testkit_peer_expect_quiet (worker, 100);
    testkit_peer_done (worker, ticket, "\xc3", 1);    //  Late: dropped
    ticket = testkit_peer_expect_task (worker, "f", "\x91\x03");
    testkit_peer_done (worker, ticket, "\x03", 1);
    testkit_peer_expect_result (client, 3, "\x03", 1);
    testkit_peer_expect_quiet (client, 100);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static s_config_t s_small_queues = { 0, 0, 3, 2, -1, 0, NULL, 0 };

static void
test_queue_full (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    testkit_peer_submit (client, 1, "fib", "\x90", -1, -1);
    testkit_peer_submit (client, 2, "fib", "\x90", -1, -1);
    testkit_peer_submit (client, 3, "fib", "\x90", -1, -1);
    zhive_proto_t *error =
        testkit_peer_expect_error (client, 3, "QueueFull", "queue for 'fib' is full (2 waiting)");
    zhive_proto_destroy (&error);
    testkit_peer_submit (client, 4, "echo", "\x90", -1, -1);
    testkit_peer_submit (client, 5, "echo", "\x90", -1, -1);
    error = testkit_peer_expect_error (client, 5, "QueueFull", "broker holds 3 waiting tasks");
    zhive_proto_destroy (&error);
    //  Room again once tasks leave the queue
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "fib", NULL);
    uint64_t ticket = testkit_peer_expect_task (worker, "fib", NULL);
    testkit_peer_submit (client, 6, "echo", "\x90", -1, -1);
    testkit_peer_expect_quiet (client, 100);
    testkit_peer_done (worker, ticket, "\x01", 1);
    testkit_peer_expect_result (client, 1, "\x01", 1);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static s_config_t s_no_retries = { 0, 0, 0, 0, 0, 0, NULL, 0 };

static void
test_max_retries (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);
    testkit_peer_submit (client, 1, "f", "\x90", -1, -1);
    testkit_peer_expect_task (worker, "f", NULL);
    testkit_peer_send (worker, ZHIVE_BYE, 0);
    zhive_proto_t *error = testkit_peer_expect_error (client, 1, "WorkerLost", "1 attempt");
    zhive_proto_destroy (&error);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  READY's max_tasks is a hard limit, whatever the concurrency
static void
test_max_tasks (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready_max (worker, "w", 1, 10, 3, "f", NULL);
    for (uint64_t id = 1; id <= 5; id++)
        testkit_peer_submit (client, id, "f", "\x90", -1, -1);
    uint64_t tickets [3];
    for (int i = 0; i < 3; i++)
        tickets [i] = testkit_peer_expect_task (worker, "f", NULL);
    testkit_peer_expect_quiet (worker, S_QUIET);
    for (int i = 0; i < 3; i++)
        testkit_peer_done (worker, tickets [i], "\xc0", 1);
    for (uint64_t id = 1; id <= 3; id++)
        testkit_peer_expect_result (client, id, "\xc0", 1);
    testkit_peer_expect_quiet (worker, S_QUIET);    //  Answers give credit back, not task allowance
    //  Its successor takes the rest
    testkit_peer_send (worker, ZHIVE_BYE, 0);
    zsock_t *next = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (next, "next", 2, 10, "f", NULL);
    testkit_peer_expect_task (next, "f", NULL);
    testkit_peer_expect_task (next, "f", NULL);
    zsock_destroy (&client);
    zsock_destroy (&worker);
    zsock_destroy (&next);
}

//  A worker that says DRAINING gets DRAINED, then nothing more, and
//  finishes what it holds; a draining worker that reconnects (READY
//  offering nothing, then DRAINING) gets DRAINED on its new connection
static void
test_worker_draining (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 4, "f", NULL);
    testkit_peer_submit (client, 1, "f", "\x91\x01", -1, -1);
    uint64_t ticket = testkit_peer_expect_task (worker, "f", "\x91\x01");
    testkit_peer_send (worker, ZHIVE_DRAINING, 0);
    zhive_proto_t *drained = testkit_peer_expect (worker, ZHIVE_DRAINED);
    zhive_proto_destroy (&drained);
    zclock_sleep (50);
    testkit_peer_submit (client, 2, "f", "\x91\x02", -1, -1);
    testkit_peer_submit (client, 3, "f", "\x91\x03", -1, -1);
    testkit_peer_expect_quiet (worker, S_QUIET);
    testkit_peer_done (worker, ticket, "\x01", 1);
    testkit_peer_expect_result (client, 1, "\x01", 1);
    testkit_peer_expect_quiet (worker, 100);
    zsock_t *next = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (next, "next", 2, 4, "f", NULL);
    testkit_peer_expect_task (next, "f", "\x91\x02");
    testkit_peer_expect_task (next, "f", "\x91\x03");
    zsock_t *again = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (again, "w", 1, 4, NULL);
    testkit_peer_send (again, ZHIVE_DRAINING, 0);
    drained = testkit_peer_expect (again, ZHIVE_DRAINED);
    zhive_proto_destroy (&drained);
    testkit_peer_expect_quiet (again, 100);
    zsock_destroy (&client);
    zsock_destroy (&worker);
    zsock_destroy (&next);
    zsock_destroy (&again);
}

//  The broker's pipe signals within timeout_ms: it stopped on its own
static void
s_expect_stopped (testkit_pool_t *fixture, int timeout_ms)
{
    zsock_t *pipe = zactor_sock (zhive_broker_actor (fixture->broker));
    zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, timeout_ms), 1);
    assert_true (zsock_wait (pipe) >= 0);
}

//  Drain: new tasks are refused, accepted ones finish, then it stops
static void
test_drain (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);
    testkit_peer_submit (client, 1, "f", "\x91\x01", -1, -1);
    testkit_peer_submit (client, 2, "f", "\x91\x02", -1, -1);
    uint64_t ticket = testkit_peer_expect_task (worker, "f", "\x91\x01");
    zhive_broker_drain (fixture->broker, 5000);
    testkit_peer_submit (client, 3, "f", "\x91\x03", -1, -1);
    zhive_proto_t *error = testkit_peer_expect_error (client, 3, "BrokerShutdown", "draining");
    zhive_proto_destroy (&error);
    testkit_peer_done (worker, ticket, "\x01", 1);
    testkit_peer_expect_result (client, 1, "\x01", 1);
    ticket = testkit_peer_expect_task (worker, "f", "\x91\x02");    //  Accepted: still dispatched
    testkit_peer_done (worker, ticket, "\x02", 1);
    testkit_peer_expect_result (client, 2, "\x02", 1);
    s_expect_stopped (fixture, 2000);
    assert_int_equal (zhive_broker_workers_ready (fixture->broker), -1);
    testkit_peer_expect_quiet (client, 100);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  Drain time up: what is left gets BrokerShutdown
static void
test_drain_timeout (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);
    testkit_peer_submit (client, 1, "f", "\x90", -1, -1);
    testkit_peer_submit (client, 2, "f", "\x90", -1, -1);
    testkit_peer_expect_task (worker, "f", NULL);
    int64_t start = zclock_mono ();
    zhive_broker_drain (fixture->broker, 300);
    for (int i = 0; i < 2; i++) {
        zhive_proto_t *error = testkit_peer_expect (client, ZHIVE_ERROR);
        assert_string_equal (error->type, "BrokerShutdown");
        assert_non_null (strstr (error->message, "drain time of 300 ms"));
        zhive_proto_destroy (&error);
    }
    int64_t took = zclock_mono () - start;
    assert_true (took >= 290 && took < 1500);
    s_expect_stopped (fixture, 2000);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  Terminate while draining: everything unanswered gets BrokerShutdown now
static void
test_drain_then_terminate (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);
    testkit_peer_submit (client, 1, "f", "\x90", -1, -1);
    testkit_peer_expect_task (worker, "f", NULL);
    zhive_broker_drain (fixture->broker, 10000);
    zclock_sleep (50);
    int64_t start = zclock_mono ();
    zhive_broker_destroy (&fixture->broker);
    zhive_proto_t *error = testkit_peer_expect_error (client, 1, "BrokerShutdown", "stopped");
    zhive_proto_destroy (&error);
    assert_true (zclock_mono () - start < 2000);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  ---------------------------------------------------------------------
//  Local workers, with the fake worker (this program)

//  Start `count` local workers that are fake workers; returns a client
static zsock_t *
s_fake_local_workers (testkit_pool_t *fixture, int count)
{
    zhive_broker_set_worker_program (fixture->broker, s_self_path ());
    const char *loads [] = { "fake.so", NULL };
    assert_int_equal (zhive_broker_start_workers (fixture->broker, count, loads, 0), 0);
    testkit_pool_wait_workers (fixture, count, 10000);
    return testkit_pool_fake_client (fixture);
}

static s_config_t s_fast_recycle = { 100, 3, 0, 0, -1, 0, NULL, 0 };

//  A local worker that holds a task past its deadline and the grace is
//  killed and replaced; its other tasks run on the replacement
static void
test_overrun_kill (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = s_fake_local_workers (fixture, 1);
    testkit_peer_submit (client, 1, "echo", "\x90", -1, -1);
    uint32_t first = s_expect_fake_result (client, 1);
    int64_t start = zclock_mono ();
    testkit_peer_submit (client, 2, "hang", "\x90", 200, -1);
    testkit_peer_submit (client, 3, "later", "\x91\xcd\x0b\xb8", -1, -1);    //  [3000]
    zhive_proto_t *error = testkit_peer_expect_error (client, 2, "Timeout", NULL);
    zhive_proto_destroy (&error);
    //  Grace max (2 s, 2 x 100 ms x 3): killed about 2.2 s after the start
    zsock_set_rcvtimeo (client, 10000);
    uint32_t second = s_expect_fake_result (client, 3);
    int64_t took = zclock_mono () - start;
    assert_int_not_equal (first, second);
    assert_true (took >= 2100 + 3000 && took < 9000);
    assert_int_equal (kill ((pid_t) first, 0), -1);    //  Killed and reaped
    zsock_destroy (&client);
}

static s_config_t s_max_tasks_2 = { 0, 0, 0, 0, -1, 2, NULL, 0 };

//  Local workers passed --max-tasks retire and are replaced at once
static void
test_local_max_tasks (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = s_fake_local_workers (fixture, 1);
    uint32_t pids [8];
    for (uint64_t id = 0; id < 8; id++)
        testkit_peer_submit (client, id, "echo", "\x90", -1, -1);
    int64_t start = zclock_mono ();
    zsock_set_rcvtimeo (client, 10000);
    for (uint64_t id = 0; id < 8; id++)
        pids [id] = s_expect_fake_result (client, id);
    int64_t took = zclock_mono () - start;
    for (int i = 0; i < 8; i += 2) {
        assert_int_equal (pids [i], pids [i + 1]);    //  Two tasks each
        if (i)
            assert_int_not_equal (pids [i], pids [i - 1]);
    }
    //  Three restarts without backoff; with it, 500 + 1000 + 2000 ms
    assert_true (took < 3000);
    zsock_destroy (&client);
}

//  A worker program without --zygote: the broker falls back to exec
static void
test_zygote_fallback (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    assert_int_equal (zhive_broker_set_start_method (fixture->broker, "zygote"), 0);
    assert_int_equal (zhive_broker_set_start_method (fixture->broker, "spawn"), -1);
    zsock_t *client = s_fake_local_workers (fixture, 2);
    pid_t pids [2];
    assert_int_equal (s_worker_pids (client, pids, 2), 2);
    //  Our children (the broker runs in this process): started with exec
    assert_int_equal (s_parent_of (pids [0]), getpid ());
    assert_int_equal (s_parent_of (pids [1]), getpid ());
    zsock_destroy (&client);
}

//  ---------------------------------------------------------------------
//  The zygote start method, with real zhive-worker processes

static bool
s_zygote_possible (void)
{
    if (!s_local_workers_possible ())
        return false;
    char command [4096];
    snprintf (command, sizeof command, "'%s' --help 2>&1 | grep -q -- --zygote",
              getenv ("ZHIVE_WORKER"));
    int status = system (command);
    return status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

static s_config_t s_zygote_config = { 0, 0, 0, 0, -1, 0, "zygote", 0 };

//  Start two real local workers through a zygote; returns the zygote's pid
static pid_t
s_zygote_workers (testkit_pool_t *fixture, zsock_t *client, pid_t *pids)
{
    const char *loads [] = { getenv ("ZHIVE_PLUGIN"), NULL };
    assert_int_equal (zhive_broker_start_workers (fixture->broker, 2, loads, 4), 0);
    testkit_pool_wait_workers (fixture, 2, 10000);
    //  Both are children of one zygote, which is our child
    assert_int_equal (s_worker_pids (client, pids, 2), 2);
    pid_t zygote = s_parent_of (pids [0]);
    assert_true (zygote > 0 && zygote != getpid ());
    assert_int_equal (s_parent_of (pids [1]), zygote);
    assert_int_equal (s_parent_of (zygote), getpid ());
    return zygote;
}

static void
test_zygote (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    if (!s_zygote_possible ())
        skip ();
    zsock_t *client = testkit_pool_fake_client (fixture);
    pid_t pids [2];
    pid_t zygote = s_zygote_workers (fixture, client, pids);
    testkit_peer_submit (client, 1, "echo", "\x91\x01", -1, -1);
    testkit_peer_expect_result (client, 1, "\x91\x01", 2);

    //  One killed is replaced, through the zygote
    assert_int_equal (kill (pids [0], SIGKILL), 0);
    int64_t until = zclock_mono () + 10000;
    pid_t now [2] = { 0, 0 };
    while (true) {
        if (s_worker_pids (client, now, 2) == 2 && now [0] != pids [0] && now [1] != pids [0])
            break;
        if (zclock_mono () > until)
            fail_msg ("no replacement for the killed worker");
        zclock_sleep (50);
    }
    assert_int_equal (s_parent_of (now [0]), zygote);
    assert_int_equal (s_parent_of (now [1]), zygote);
    testkit_peer_submit (client, 2, "sleep", "\x91\x0a", -1, -1);
    testkit_peer_expect_result (client, 2, "\x0a", 1);

    //  Destroying the broker stops the zygote and its workers
    zhive_broker_destroy (&fixture->broker);
    for (int i = 0; i < 2; i++) {
        until = zclock_mono () + 3000;
        while (kill (now [i], 0) == 0 && zclock_mono () < until)
            zclock_sleep (20);    //  The zygote reaps them, not us
        assert_int_equal (kill (now [i], 0), -1);
    }
    assert_int_equal (kill (zygote, 0), -1);
    zsock_destroy (&client);
}

//  The zygote dies: its workers are replaced by exec'd ones
static void
test_zygote_dies (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    if (!s_zygote_possible ())
        skip ();
    zsock_t *client = testkit_pool_fake_client (fixture);
    pid_t pids [2];
    pid_t zygote = s_zygote_workers (fixture, client, pids);
    assert_int_equal (kill (zygote, SIGKILL), 0);
    int64_t until = zclock_mono () + 10000;
    while (true) {
        pid_t now [2] = { 0, 0 };
        if (s_worker_pids (client, now, 2) == 2 && s_parent_of (now [0]) == getpid () &&
            s_parent_of (now [1]) == getpid ())
            break;
        if (zclock_mono () > until)
            fail_msg ("the workers of the dead zygote were not replaced by exec'd ones");
        zclock_sleep (50);
    }
    for (int i = 0; i < 2; i++)
        assert_true (kill (pids [i], 0) == -1 || s_parent_of (pids [i]) != zygote);
    testkit_peer_submit (client, 1, "echo", "\x91\x01", -1, -1);
    testkit_peer_expect_result (client, 1, "\x91\x01", 2);
    zsock_destroy (&client);
}

//  Mean ms from the start request to each worker's READY, `count` at once
static double
s_start_mean (const char *method, int count)
{
    zhive_broker_t *broker = zhive_broker_new ();
    assert_non_null (broker);
    assert_int_equal (zhive_broker_set_start_method (broker, method), 0);
    assert_int_equal (zhive_broker_bind_workers (broker, "tcp://127.0.0.1:*"), 0);
    const char *loads [] = { getenv ("ZHIVE_PLUGIN"), NULL };
    int64_t start = zclock_mono ();
    assert_int_equal (zhive_broker_start_workers (broker, count, loads, 0), 0);
    int ready = 0;
    double total = 0;
    while (ready < count) {
        int now = zhive_broker_workers_ready (broker);
        if (now > ready) {
            total += (double) (now - ready) * (double) (zclock_mono () - start);
            ready = now;
        }
        if (zclock_mono () - start > 30000)
            fail_msg ("%s: only %d of %d workers ready", method, ready, count);
        zclock_sleep (1);
    }
    zhive_broker_destroy (&broker);
    return total / count;
}

//  How long local workers take to start each way (printed, not judged)
static void
test_start_times (void **state)
{
    (void) state;
    if (!s_zygote_possible ())
        skip ();
    for (int round = 0; round < 2; round++) {
        double exec = s_start_mean ("exec", 8);
        double zygote = s_start_mean ("zygote", 8);
        printf ("    8 local workers, mean ms from start to READY: exec %.1f, zygote %.1f\n", exec,
                zygote);
    }
}

//  ---------------------------------------------------------------------
//  Limits per client and on argument bytes; WELCOME

//  A client that floods the broker gets QueueFull; another is still served
static void
test_flood_per_client (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zhive_broker_set_max_queue_per_client (fixture->broker, 3);
    zsock_t *flood = testkit_pool_fake_client (fixture);
    zsock_t *other = testkit_pool_fake_client (fixture);
    for (uint64_t id = 1; id <= 5; id++)
        testkit_peer_submit (flood, id, "f", "\x90", -1, -1);
    zhive_proto_t *error = testkit_peer_expect_error (flood, 4, "QueueFull", "3 tasks waiting");
    zhive_proto_destroy (&error);
    error = testkit_peer_expect_error (flood, 5, "QueueFull", "3 tasks waiting");
    zhive_proto_destroy (&error);
    testkit_peer_submit (other, 1, "f", "\x91\x01", -1, -1);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 4, "f", NULL);
    uint64_t tickets [4];
    for (int i = 0; i < 4; i++)
        tickets [i] = testkit_peer_expect_task (worker, "f", NULL);
    for (int i = 0; i < 4; i++)
        testkit_peer_done (worker, tickets [i], "\x2a", 1);
    testkit_peer_expect_result (other, 1, "\x2a", 1);
    for (uint64_t id = 1; id <= 3; id++)
        testkit_peer_expect_result (flood, id, "\x2a", 1);
    zsock_destroy (&flood);
    zsock_destroy (&other);
    zsock_destroy (&worker);
}

//  Waiting tasks' arguments are bounded in bytes
static void
test_max_queue_bytes (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zhive_broker_set_max_queue_bytes (fixture->broker, 10);
    zsock_t *client = testkit_pool_fake_client (fixture);
    testkit_peer_submit (client, 1, "f", "\x93\x01\x02\x03", -1, -1);    //  4 bytes
    testkit_peer_submit (client, 2, "f", "\x93\x01\x02\x03", -1, -1);    //  8
    testkit_peer_submit (client, 3, "f", "\x93\x01\x02\x03", -1, -1);    //  12: over
    zhive_proto_t *error = testkit_peer_expect_error (client, 3, "QueueFull", "bytes of arguments");
    zhive_proto_destroy (&error);
    testkit_peer_submit (client, 4, "f", "\x91\x01", -1, -1);    //  10: fits
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 3, "f", NULL);
    uint64_t tickets [3];
    tickets [0] = testkit_peer_expect_task (worker, "f", "\x93\x01\x02\x03");
    tickets [1] = testkit_peer_expect_task (worker, "f", "\x93\x01\x02\x03");
    tickets [2] = testkit_peer_expect_task (worker, "f", "\x91\x01");
    for (int i = 0; i < 3; i++)
        testkit_peer_done (worker, tickets [i], "\xc0", 1);
    testkit_peer_expect_result (client, 1, "\xc0", 1);
    testkit_peer_expect_result (client, 2, "\xc0", 1);
    testkit_peer_expect_result (client, 4, "\xc0", 1);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  READY then the WELCOME; returns its incarnation
static uint64_t
s_expect_welcome (zsock_t *worker)
{
    zhive_proto_t *msg = testkit_peer_expect (worker, ZHIVE_WELCOME);
    uint64_t incarnation = msg->id;
    zhive_proto_destroy (&msg);
    return incarnation;
}

//  Every READY gets WELCOME [incarnation]: non-zero, the high half of the
//  tickets, and another broker's is another
static void
test_welcome_incarnation (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);
    uint64_t incarnation = s_expect_welcome (worker);
    assert_int_not_equal (incarnation, 0);
    assert_true (incarnation <= UINT32_MAX);
    testkit_peer_ready (worker, "w", 1, 1, "f", NULL);    //  Again: the same
    assert_int_equal (s_expect_welcome (worker), incarnation);
    zsock_t *client = testkit_pool_fake_client (fixture);
    testkit_peer_submit (client, 1, "f", "\x90", -1, -1);
    uint64_t ticket = testkit_peer_expect_task (worker, "f", NULL);
    assert_int_equal (ticket >> 32, incarnation);
    assert_int_not_equal (ticket & 0xffffffff, 0);
    //  A second broker has its own
    zhive_broker_t *second = zhive_broker_new ();
    assert_non_null (second);
    assert_int_equal (zhive_broker_bind_workers (second, "tcp://127.0.0.1:*"), 0);
    zsock_t *other = testkit_peer_new (zhive_broker_workers_endpoint (second));
    testkit_peer_ready (other, "w2", 2, 1, "f", NULL);
    uint64_t other_incarnation = s_expect_welcome (other);
    assert_int_not_equal (other_incarnation, 0);
    assert_int_not_equal (other_incarnation, incarnation);
    zsock_destroy (&other);
    zhive_broker_destroy (&second);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

//  ---------------------------------------------------------------------
//  Hostile peers (appended)

//  Identity is the connection: a second connection whose READY copies a
//  worker's name, host and pid (all that `zhive status` shows) neither
//  evicts nor replaces it; once the impostor is gone, the real worker
//  still gets tasks and its answers count
static void
test_impostor_ready (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w1", 4242, 1, "f", NULL);
    testkit_pool_wait_workers (fixture, 1, S_TIMEOUT);
    testkit_peer_submit (client, 1, "f", "\x91\x01", -1, -1);
    uint64_t ticket = testkit_peer_expect_task (worker, "f", "\x91\x01");
    zsock_t *impostor = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (impostor, "w1", 4242, 1, "f", NULL);
    testkit_pool_wait_workers (fixture, 2, S_TIMEOUT);
    zsock_destroy (&impostor);    //  Gone without BYE
    testkit_pool_wait_workers (fixture, 1, S_TIMEOUT);
    testkit_peer_done (worker, ticket, "\x01", 1);
    testkit_peer_expect_result (client, 1, "\x01", 1);
    for (uint64_t id = 2; id < 5; id++) {
        testkit_peer_submit (client, id, "f", "\x91\x02", -1, -1);
        ticket = testkit_peer_expect_task (worker, "f", "\x91\x02");
        testkit_peer_done (worker, ticket, "\x02", 1);
        testkit_peer_expect_result (client, id, "\x02", 1);
    }
    zsock_destroy (&worker);
    zsock_destroy (&client);
}

//  The broker's log lines, taken with zhive_log_set_handler
typedef struct {
    pthread_mutex_t lock;      //  The broker logs from its thread
    char text [256 * 1024];    //  The lines, each ending in a newline
    size_t size;               //  Bytes in text
} s_log_t;

static void
s_log_line (zhive_log_level_t level, const char *line, void *arg)
{
    (void) level;
    s_log_t *log = (s_log_t *) arg;
    pthread_mutex_lock (&log->lock);
    size_t size = strlen (line);
    if (log->size + size + 2 < sizeof log->text) {
        memcpy (log->text + log->size, line, size);
        log->size += size;
        log->text [log->size++] = '\n';
        log->text [log->size] = 0;
    }
    pthread_mutex_unlock (&log->lock);
}

typedef struct {
    s_log_t *log;        //  Where to look
    const char *part;    //  What to find
} s_log_find_t;

static bool
s_log_has (void *arg)
{
    s_log_find_t *find = (s_log_find_t *) arg;
    pthread_mutex_lock (&find->log->lock);
    bool found = strstr (find->log->text, find->part) != NULL;
    pthread_mutex_unlock (&find->log->lock);
    return found;
}

//  A remote peer whose READY claims this host and the pid of a local
//  worker of ours, without that worker's token, and holds a task past its
//  deadline and the grace: the broker does not kill our process (it says
//  it would not kill a remote worker), which goes on answering
static void
test_foreign_pid_ready (void **state)
{
    (void) state;
    static s_log_t log = { PTHREAD_MUTEX_INITIALIZER, "", 0 };
    zhive_log_set_handler (s_log_line, &log);
    testkit_pool_opts_t opts = { .configure = s_configure, .configure_arg = &s_fast_recycle };
    testkit_pool_t *fixture = testkit_pool_new (&opts);
    zsock_t *client = s_fake_local_workers (fixture, 1);
    testkit_peer_submit (client, 1, "echo", "\x90", -1, -1);
    pid_t local = (pid_t) s_expect_fake_result (client, 1);
    zsock_t *impostor = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (impostor, "fake", (uint64_t) local, 1, "held", NULL);
    testkit_pool_wait_workers (fixture, 2, S_TIMEOUT);
    testkit_peer_submit (client, 2, "held", "\x90", 200, -1);
    uint64_t ticket = testkit_peer_expect_task (impostor, "held", NULL);
    zhive_proto_t *error = testkit_peer_expect_error (client, 2, "Timeout", NULL);
    zhive_proto_destroy (&error);
    testkit_peer_expect_cancel (impostor, ticket);
    s_log_find_t find = { &log, "would not kill worker 'fake'" };
    testkit_wait_until (s_log_has, &find, 10000, "the broker says it would not kill it");
    assert_int_equal (kill (local, 0), 0);    //  Alive
    assert_int_equal (s_parent_of (local), getpid ());
    testkit_peer_submit (client, 3, "echo", "\x90", -1, -1);
    assert_int_equal (s_expect_fake_result (client, 3), (uint32_t) local);
    zsock_destroy (&impostor);
    zsock_destroy (&client);
    testkit_pool_destroy (&fixture);
    zhive_log_set_handler (NULL, NULL);
}

//  A malformed message is logged with its peer (routing id in hex and
//  address) and the start of the bad frame, odd bytes as \\xNN
static void
test_malformed_log (void **state)
{
    (void) state;
    static s_log_t log = { PTHREAD_MUTEX_INITIALIZER, "", 0 };
    zhive_log_set_handler (s_log_line, &log);
    testkit_pool_t *fixture = testkit_pool_new (NULL);
    zhive_broker_set_verbose (fixture->broker, true);
    zsock_t *client = testkit_pool_fake_client (fixture);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    static const char http [] = "GET / HTTP/1.1\r\n\x00\xffHost: example.org:1234567890\r\n";
    assert_true (zmq_send (zsock_resolve (client), http, sizeof http - 1, 0) >= 0);
    zhive_proto_t *error = testkit_peer_expect_error (client, 0, "Malformed", NULL);
    zhive_proto_destroy (&error);
    //  At most 32 bytes of the frame, then the closing quote
    s_log_find_t find = { &log, "it began \"GET / HTTP/1.1\\x0d\\x0a\\x00\\xffHost: example.\"" };
    testkit_wait_until (s_log_has, &find, S_TIMEOUT, "the client's garbage sampled in the log");
    find.part = "malformed message from client ";
    assert_true (s_log_has (&find));
    find.part = "(127.0.0.1";
    assert_true (s_log_has (&find));
    //  The same on the worker socket, which says BYE
    assert_true (zmq_send (zsock_resolve (worker), "\x01\x02zz", 4, 0) >= 0);
    zhive_proto_t *bye = testkit_peer_expect (worker, ZHIVE_BYE);
    zhive_proto_destroy (&bye);
    find.part = "it began \"\\x01\\x02zz\"";
    testkit_wait_until (s_log_has, &find, S_TIMEOUT, "the worker's garbage sampled in the log");
    find.part = "malformed message from worker ";
    assert_true (s_log_has (&find));
    zsock_destroy (&worker);
    zsock_destroy (&client);
    testkit_pool_destroy (&fixture);
    zhive_log_set_handler (NULL, NULL);
}

//  The next RESULT or ERROR within ms (heartbeats skipped), NULL if none
static zhive_proto_t *
s_next_answer (zsock_t *sock, int ms)
{
    zhive_proto_t *msg = zhive_proto_new ();
    int64_t until = zclock_mono () + ms;
    while (zclock_mono () < until) {
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 10) == 1 && zhive_proto_recv (msg, sock, ZMQ_DONTWAIT) == 0 &&
            (msg->command == ZHIVE_RESULT || msg->command == ZHIVE_ERROR))
            return msg;
    }
    zhive_proto_destroy (&msg);
    return NULL;
}

static s_config_t s_flood_config = { 200, 3, 50000, 0, -1, 0, NULL, 0 };

//  One client fills the broker's queues (QueueFull for everyone), then
//  vanishes without BYE: past liveness x interval its waiting tasks are
//  dropped, and another client's task is accepted and answered
static void
test_flood_then_vanish (void **state)
{
    testkit_pool_t *fixture = (testkit_pool_t *) *state;
    zsock_t *flood = testkit_peer_new_id (zhive_broker_clients_endpoint (fixture->broker), "flood");
    zsock_set_sndtimeo (flood, 30000);
    for (uint64_t id = 1; id <= 50000; id++)
        testkit_peer_submit (flood, id, "nobody", "\x90", -1, -1);
    //  STATUS after the SUBMITs on the same connection: all are taken
    msgpack_unpacked *status = testkit_peer_status (flood, 999999);
    testkit_peer_status_destroy (&status);
    zsock_t *worker = testkit_pool_fake_worker (fixture);
    testkit_peer_ready (worker, "w1", 4243, 1, "f", NULL);
    testkit_pool_wait_workers (fixture, 1, S_TIMEOUT);
    zsock_t *client = testkit_pool_fake_client (fixture);
    testkit_peer_submit (client, 1, "f", "\x91\x01", -1, -1);
    zhive_proto_t *error = testkit_peer_expect_error (client, 1, "QueueFull", NULL);
    zhive_proto_destroy (&error);
    zsock_destroy (&flood);    //  No BYE
    //  Within a few seconds (expiry 600 ms) a task is taken again
    int64_t until = zclock_mono () + 10000;
    uint64_t id = 2;
    bool accepted = false;
    while (!accepted && zclock_mono () < until) {
        testkit_peer_submit (client, id, "f", "\x91\x02", -1, -1);
        zhive_proto_t *answer = s_next_answer (client, 300);
        if (answer) {
            assert_int_equal (answer->command, ZHIVE_ERROR);
            assert_string_equal (answer->type, "QueueFull");
            zhive_proto_destroy (&answer);
            id++;
            continue;
        }
        uint64_t ticket = testkit_peer_expect_task (worker, "f", "\x91\x02");
        testkit_peer_done (worker, ticket, "\x02", 1);
        testkit_peer_expect_result (client, id, "\x02", 1);
        accepted = true;
    }
    assert_true (accepted);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

int
main (int argc, char *argv [])
{
    //  Run as a fake zhive-worker (the broker starts this program)
    if (argc > 1 && (streq (argv [1], "--connect") || streq (argv [1], "--zygote")))
        return s_fake_worker (argc, argv);
    srandom ((unsigned) time (NULL));
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_ping, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_task_waits_for_worker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_dispatch_by_function, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_credit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_two_clients, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timeouts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cancel, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bye_redispatches, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_retries_exhausted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_status, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_garbage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_extreme_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unknown_ticket, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_duplicate_submit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_worker_vanishes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_shutdown, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bind_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_survives_interrupt, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unknown_function, s_setup_unknown, s_teardown),
        cmocka_unit_test_setup_teardown (test_local_workers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_local_workers_bad_program, s_setup, s_teardown),
        cmocka_unit_test_prestate_setup_teardown (test_prefetch_fast_tasks, s_setup, s_teardown,
                                                  &s_prefetch_long),
        cmocka_unit_test_prestate_setup_teardown (test_prefetch_slow_tasks, s_setup, s_teardown,
                                                  &s_prefetch_short),
        cmocka_unit_test_prestate_setup_teardown (test_heartbeat_expiry, s_setup, s_teardown,
                                                  &s_fast_heartbeat),
        cmocka_unit_test_prestate_setup_teardown (test_client_heartbeat, s_setup, s_teardown,
                                                  &s_fast_heartbeat),
        cmocka_unit_test_setup_teardown (test_kept_answer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cancel_running, s_setup, s_teardown),
        cmocka_unit_test_prestate_setup_teardown (test_queue_full, s_setup, s_teardown,
                                                  &s_small_queues),
        cmocka_unit_test_prestate_setup_teardown (test_max_retries, s_setup, s_teardown,
                                                  &s_no_retries),
        cmocka_unit_test_setup_teardown (test_max_tasks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_worker_draining, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_drain, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_drain_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_drain_then_terminate, s_setup, s_teardown),
        cmocka_unit_test_prestate_setup_teardown (test_overrun_kill, s_setup, s_teardown,
                                                  &s_fast_recycle),
        cmocka_unit_test_prestate_setup_teardown (test_local_max_tasks, s_setup, s_teardown,
                                                  &s_max_tasks_2),
        cmocka_unit_test_setup_teardown (test_zygote_fallback, s_setup, s_teardown),
        cmocka_unit_test_prestate_setup_teardown (test_zygote, s_setup, s_teardown,
                                                  &s_zygote_config),
        cmocka_unit_test_prestate_setup_teardown (test_zygote_dies, s_setup, s_teardown,
                                                  &s_zygote_config),
        cmocka_unit_test (test_start_times),
        cmocka_unit_test_setup_teardown (test_flood_per_client, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_max_queue_bytes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_welcome_incarnation, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_impostor_ready, s_setup, s_teardown),
        cmocka_unit_test (test_foreign_pid_ready),
        cmocka_unit_test (test_malformed_log),
        cmocka_unit_test_prestate_setup_teardown (test_flood_then_vanish, s_setup, s_teardown,
                                                  &s_flood_config),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
