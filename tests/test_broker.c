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
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_TIMEOUT 3000    //  Longest wait for a message that must come
#define S_QUIET   300     //  How long "nothing arrives" is watched

typedef struct {
    zhive_broker_t *broker;    //  The broker under test
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) calloc (1, sizeof (s_fixture_t));
    assert_non_null (fixture);
    fixture->broker = zhive_broker_new ();
    assert_non_null (fixture->broker);
    zhive_broker_set_verbose (fixture->broker, getenv ("ZHIVE_TEST_VERBOSE") != NULL);
    assert_int_equal (zhive_broker_bind_clients (fixture->broker, "tcp://127.0.0.1:*"), 0);
    assert_int_equal (zhive_broker_bind_workers (fixture->broker, "tcp://127.0.0.1:*"), 0);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zhive_broker_destroy (&fixture->broker);
    free (fixture);
    return 0;
}

//  ---------------------------------------------------------------------
//  Peers and messages

static zsock_t *
s_peer (const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert_non_null (sock);
    zsock_set_rcvtimeo (sock, S_TIMEOUT);
    zsock_set_sndtimeo (sock, S_TIMEOUT);
    zsock_set_linger (sock, 1000);    //  A BYE right before closing still goes out
    assert_int_equal (zsock_connect (sock, "%s", endpoint), 0);
    return sock;
}

static zsock_t *
s_client (s_fixture_t *fixture)
{
    return s_peer (zhive_broker_clients_endpoint (fixture->broker));
}

static zsock_t *
s_worker (s_fixture_t *fixture)
{
    return s_peer (zhive_broker_workers_endpoint (fixture->broker));
}

static void
s_send_simple (zsock_t *sock, int command, uint64_t id)
{
    zhive_proto_t *msg = zhive_proto_new ();
    msg->command = command;
    msg->id = id;
    if (command == ZHIVE_BYE)
        zhive_proto_set_message (msg, "test says bye");
    assert_int_equal (zhive_proto_send (msg, sock), 0);
    zhive_proto_destroy (&msg);
}

static void
s_submit (zsock_t *sock, uint64_t id, const char *function, const char *args, int64_t timeout_ms,
          int64_t retries)
{
    zhive_proto_t *msg = zhive_proto_new ();
    msg->command = ZHIVE_SUBMIT;
    msg->id = id;
    zhive_proto_set_name (msg->function, function);
    msg->timeout_ms = timeout_ms;
    msg->retries = retries;
    //  args: msgpack bytes as a C string (no NUL inside)
    zhive_proto_set_payload (msg, args, strlen (args));
    assert_int_equal (zhive_proto_send (msg, sock), 0);
    zhive_proto_destroy (&msg);
}

//  READY name pid concurrency, then the functions, NULL-terminated
static void
s_ready (zsock_t *sock, const char *name, uint64_t pid, uint32_t concurrency, ...)
{
    zhive_proto_t *msg = zhive_proto_new ();
    msg->command = ZHIVE_READY;
    zhive_proto_set_name (msg->worker, name);
    char host [256] = "";
    gethostname (host, sizeof host - 1);
    zhive_proto_set_name (msg->host, host);
    msg->pid = pid;
    msg->concurrency = concurrency;
    msg->functions = (char **) calloc (16, sizeof (char *));
    va_list args;
    va_start (args, concurrency);
    const char *function;
    while ((function = va_arg (args, const char *)) && msg->functions_count < 16)
        msg->functions [msg->functions_count++] = strdup (function);
    va_end (args);
    assert_int_equal (zhive_proto_send (msg, sock), 0);
    zhive_proto_destroy (&msg);
}

static void
s_done (zsock_t *sock, uint64_t ticket, const void *value, size_t size)
{
    zhive_proto_t *msg = zhive_proto_new ();
    msg->command = ZHIVE_DONE;
    msg->id = ticket;
    zhive_proto_set_payload (msg, value, size);
    assert_int_equal (zhive_proto_send (msg, sock), 0);
    zhive_proto_destroy (&msg);
}

static void
s_failed (zsock_t *sock, uint64_t ticket, const char *type, const char *message)
{
    zhive_proto_t *msg = zhive_proto_new ();
    msg->command = ZHIVE_FAILED;
    msg->id = ticket;
    zhive_proto_set_name (msg->type, type);
    zhive_proto_set_message (msg, message);
    assert_int_equal (zhive_proto_send (msg, sock), 0);
    zhive_proto_destroy (&msg);
}

//  The next message that is not a PING (the broker pings workers every
//  second); it must be `command`. Caller destroys the result.
static zhive_proto_t *
s_expect (zsock_t *sock, int command)
{
    zhive_proto_t *msg = zhive_proto_new ();
    while (true) {
        int rc = zhive_proto_recv (msg, sock, 0);
        if (rc != 0)
            fail_msg ("expected %s, got rc %d (%s)", zhive_proto_command_name (command), rc,
                      rc == -2 ? msg->error : "timeout");
        if (msg->command != ZHIVE_PING)
            break;
    }
    if (msg->command != command)
        fail_msg ("expected %s, got %s", zhive_proto_command_name (command),
                  zhive_proto_command_name (msg->command));
    return msg;
}

//  Nothing but PINGs arrives within ms
static void
s_expect_quiet (zsock_t *sock, int ms)
{
    int64_t until = zclock_mono () + ms;
    zhive_proto_t *msg = zhive_proto_new ();
    while (zclock_mono () < until) {
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) (until - zclock_mono ())) > 0) {
            assert_int_equal (zhive_proto_recv (msg, sock, ZMQ_DONTWAIT), 0);
            if (msg->command != ZHIVE_PING)
                fail_msg ("expected nothing, got %s", zhive_proto_command_name (msg->command));
        }
    }
    zhive_proto_destroy (&msg);
}

//  A TASK for `function`; returns its ticket
static uint64_t
s_expect_task (zsock_t *sock, const char *function, const char *args)
{
    zhive_proto_t *msg = s_expect (sock, ZHIVE_TASK);
    assert_string_equal (msg->function, function);
    if (args) {
        assert_int_equal (zmq_msg_size (&msg->payload), strlen (args));
        assert_memory_equal (zmq_msg_data (&msg->payload), args, strlen (args));
    }
    uint64_t ticket = msg->id;
    zhive_proto_destroy (&msg);
    return ticket;
}

static void
s_expect_result (zsock_t *sock, uint64_t id, const void *value, size_t size)
{
    zhive_proto_t *msg = s_expect (sock, ZHIVE_RESULT);
    assert_int_equal (msg->id, id);
    assert_int_equal (zmq_msg_size (&msg->payload), size);
    assert_memory_equal (zmq_msg_data (&msg->payload), value, size);
    zhive_proto_destroy (&msg);
}

//  An ERROR of `type` whose message holds `words`; returns it for more checks
static zhive_proto_t *
s_expect_error (zsock_t *sock, uint64_t id, const char *type, const char *words)
{
    zhive_proto_t *msg = s_expect (sock, ZHIVE_ERROR);
    assert_int_equal (msg->id, id);
    assert_string_equal (msg->type, type);
    if (words && !strstr (msg->message, words))
        fail_msg ("error message '%s' does not say '%s'", msg->message, words);
    return msg;
}

static void
s_wait_workers (s_fixture_t *fixture, int count, int timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    int ready;
    while ((ready = zhive_broker_workers_ready (fixture->broker)) != count) {
        if (zclock_mono () > until)
            fail_msg ("expected %d workers ready, have %d", count, ready);
        zclock_sleep (20);
    }
}

//  STATUS, unpacked; caller destroys
static msgpack_unpacked *
s_status (zsock_t *client, uint64_t id)
{
    s_send_simple (client, ZHIVE_STATUS, id);
    zhive_proto_t *msg = s_expect (client, ZHIVE_STATUS_REPLY);
    assert_int_equal (msg->id, id);
    msgpack_unpacked *status = (msgpack_unpacked *) calloc (1, sizeof (msgpack_unpacked));
    msgpack_unpacked_init (status);
    size_t offset = 0;
    assert_int_equal (msgpack_unpack_next (status, (const char *) zmq_msg_data (&msg->payload),
                                           zmq_msg_size (&msg->payload), &offset),
                      MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (offset, zmq_msg_size (&msg->payload));
    zhive_proto_destroy (&msg);
    return status;
}

static void
s_status_destroy (msgpack_unpacked **status_p)
{
    msgpack_unpacked_destroy (*status_p);
    free (*status_p);
    *status_p = NULL;
}

static int64_t
s_field_int (const msgpack_object *map, const char *key)
{
    int64_t value = -1;
    const msgpack_object *field = zhive_value_get (map, key);
    assert_non_null (field);
    assert_int_equal (zhive_value_int (field, &value), 0);
    return value;
}

static bool
s_field_is (const msgpack_object *map, const char *key, const char *text)
{
    const char *ptr;
    size_t size;
    const msgpack_object *field = zhive_value_get (map, key);
    return field && zhive_value_str (field, &ptr, &size) == 0 && size == strlen (text) &&
           memcmp (ptr, text, size) == 0;
}

//  ---------------------------------------------------------------------
//  Tests

static void
test_ping (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_send_simple (client, ZHIVE_PING, 0);
    zhive_proto_t *msg = s_expect (client, ZHIVE_PONG);
    zhive_proto_destroy (&msg);
    s_send_simple (worker, ZHIVE_PING, 0);
    msg = s_expect (worker, ZHIVE_PONG);
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
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_submit (client, 7, "fib", "\x91\x0a", -1, -1);
    s_send_simple (worker, ZHIVE_PING, 0);    //  Connected, but not READY
    zhive_proto_t *msg = s_expect (worker, ZHIVE_PONG);
    zhive_proto_destroy (&msg);
    s_expect_quiet (worker, S_QUIET);

    s_ready (worker, "w1", 101, 4, "fib", NULL);
    uint64_t ticket = s_expect_task (worker, "fib", "\x91\x0a");
    const char value [] = "\xcd\x00\x37";    //  55, as a uint16: bytes must pass untouched
    s_done (worker, ticket, value, 3);
    s_expect_result (client, 7, value, 3);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_dispatch_by_function (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker_a = s_worker (fixture);
    zsock_t *worker_b = s_worker (fixture);
    s_ready (worker_a, "a", 1, 10, "alpha", NULL);
    s_ready (worker_b, "b", 2, 10, "beta", "gamma", NULL);
    s_wait_workers (fixture, 2, S_TIMEOUT);
    for (int i = 0; i < 3; i++) {
        s_submit (client, 10 + i, "beta", "\x90", -1, -1);
        s_submit (client, 20 + i, "alpha", "\x90", -1, -1);
    }
    for (int i = 0; i < 3; i++) {
        s_expect_task (worker_a, "alpha", NULL);
        s_expect_task (worker_b, "beta", NULL);
    }
    s_expect_quiet (worker_a, S_QUIET);
    s_expect_quiet (worker_b, 0);
    zsock_destroy (&client);
    zsock_destroy (&worker_a);
    zsock_destroy (&worker_b);
}

static void
test_credit (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    for (uint64_t id = 1; id <= 5; id++)
        s_submit (client, id, "work", "\x90", -1, -1);
    s_ready (worker, "w", 1, 2, "work", NULL);
    uint64_t tickets [5];
    tickets [0] = s_expect_task (worker, "work", NULL);
    tickets [1] = s_expect_task (worker, "work", NULL);
    s_expect_quiet (worker, S_QUIET);    //  Never more than its credit
    for (int next = 2; next < 5; next++) {
        s_done (worker, tickets [next - 2], "\xc0", 1);
        tickets [next] = s_expect_task (worker, "work", NULL);
        s_expect_quiet (worker, 100);
    }
    s_done (worker, tickets [3], "\xc0", 1);
    s_done (worker, tickets [4], "\xc0", 1);
    //  Results in the order answered; FIFO dispatch means ids 1..5
    for (uint64_t id = 1; id <= 5; id++)
        s_expect_result (client, id, "\xc0", 1);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_two_clients (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client_a = s_client (fixture);
    zsock_t *client_b = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_ready (worker, "w", 1, 4, "echo", NULL);
    s_wait_workers (fixture, 1, S_TIMEOUT);
    //  The same task id from two clients: two tasks
    s_submit (client_a, 1, "echo", "\x91\xa1\x61", -1, -1);
    s_submit (client_b, 1, "echo", "\x91\xa1\x62", -1, -1);
    for (int i = 0; i < 2; i++) {
        zhive_proto_t *task = s_expect (worker, ZHIVE_TASK);
        //  Echo the args back as the value
        s_done (worker, task->id, zmq_msg_data (&task->payload), zmq_msg_size (&task->payload));
        zhive_proto_destroy (&task);
    }
    s_expect_result (client_a, 1, "\x91\xa1\x61", 3);
    s_expect_result (client_b, 1, "\x91\xa1\x62", 3);
    s_expect_quiet (client_a, 100);
    s_expect_quiet (client_b, 0);
    zsock_destroy (&client_a);
    zsock_destroy (&client_b);
    zsock_destroy (&worker);
}

static void
test_failed (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_ready (worker, "the-worker", 1, 1, "fail", NULL);
    s_submit (client, 3, "fail", "\x90", -1, -1);
    uint64_t ticket = s_expect_task (worker, "fail", "\x90");
    s_failed (worker, ticket, "ValueError", "it went wrong");
    zhive_proto_t *error = s_expect_error (client, 3, "ValueError", NULL);
    assert_string_equal (error->message, "it went wrong");
    assert_string_equal (error->worker, "the-worker");
    zhive_proto_destroy (&error);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_timeouts (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);

    //  No worker offers the function
    int64_t start = zclock_mono ();
    s_submit (client, 1, "nosuch", "\x90", 300, -1);
    zhive_proto_t *error = s_expect_error (client, 1, "Timeout", "no worker offers 'nosuch'");
    assert_string_equal (error->worker, "");
    zhive_proto_destroy (&error);
    int64_t took = zclock_mono () - start;
    assert_true (took >= 290 && took < 1500);

    //  Running at its deadline: Timeout now, and the late DONE is dropped
    s_ready (worker, "w", 1, 1, "slow", NULL);
    s_submit (client, 2, "slow", "\x90", 300, -1);
    uint64_t running = s_expect_task (worker, "slow", NULL);
    //  Queued behind it at its deadline
    s_submit (client, 3, "slow", "\x91\x03", 200, -1);
    for (int i = 0; i < 2; i++) {
        error = s_expect (client, ZHIVE_ERROR);
        assert_string_equal (error->type, "Timeout");
        if (error->id == 3)
            assert_non_null (strstr (error->message, "'slow' waited in a queue of 1"));
        else {
            assert_int_equal (error->id, 2);
            assert_non_null (strstr (error->message, "still running on worker 'w'"));
        }
        zhive_proto_destroy (&error);
    }
    s_submit (client, 4, "slow", "\x91\x04", -1, -1);
    s_expect_quiet (worker, 100);    //  Its one slot is still taken
    s_done (worker, running, "\xc3", 1);
    uint64_t ticket = s_expect_task (worker, "slow", "\x91\x04");
    s_done (worker, ticket, "\xc2", 1);
    s_expect_result (client, 4, "\xc2", 1);
    s_expect_quiet (client, 100);    //  Nothing more for id 2

    //  Many deadlines at once: each fires once, never early
    int64_t sent [40];
    for (int i = 0; i < 40; i++) {
        sent [i] = zclock_mono ();
        s_submit (client, 100 + i, "nobody", "\x90", 50 + (i * 37) % 400, -1);
    }
    s_send_simple (client, ZHIVE_CANCEL, 110);    //  Deadlines over 400 ms away
    s_send_simple (client, ZHIVE_CANCEL, 121);
    bool seen [40] = { false };
    for (int i = 0; i < 40; i++) {
        zhive_proto_t *msg = s_expect (client, ZHIVE_ERROR);
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
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_submit (client, 1, "later", "\x90", -1, -1);
    s_send_simple (client, ZHIVE_CANCEL, 1);
    zhive_proto_t *error = s_expect_error (client, 1, "Cancelled", NULL);
    zhive_proto_destroy (&error);
    s_send_simple (client, ZHIVE_CANCEL, 99);    //  Unknown: ignored
    s_ready (worker, "w", 1, 1, "later", NULL);
    s_expect_quiet (worker, S_QUIET);

    //  Cancel while running: the worker's answer is dropped
    s_submit (client, 2, "later", "\x90", -1, -1);
    uint64_t ticket = s_expect_task (worker, "later", NULL);
    s_send_simple (client, ZHIVE_CANCEL, 2);
    error = s_expect_error (client, 2, "Cancelled", NULL);
    zhive_proto_destroy (&error);
    s_done (worker, ticket, "\xc0", 1);
    s_expect_quiet (client, 200);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_bye_redispatches (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker_a = s_worker (fixture);
    zsock_t *worker_b = s_worker (fixture);
    s_ready (worker_a, "a", 1, 2, "job", NULL);
    s_submit (client, 1, "job", "\x91\x01", -1, -1);
    s_submit (client, 2, "job", "\x91\x02", -1, -1);
    s_submit (client, 3, "job", "\x91\x03", -1, -1);
    s_expect_task (worker_a, "job", "\x91\x01");
    s_expect_task (worker_a, "job", "\x91\x02");
    s_ready (worker_b, "b", 2, 8, "job", NULL);
    uint64_t third = s_expect_task (worker_b, "job", "\x91\x03");
    s_send_simple (worker_a, ZHIVE_BYE, 0);
    //  Back at the front of the queue, in their order, to the other worker
    uint64_t first = s_expect_task (worker_b, "job", "\x91\x01");
    uint64_t second = s_expect_task (worker_b, "job", "\x91\x02");
    s_done (worker_b, first, "\x01", 1);
    s_done (worker_b, second, "\x02", 1);
    s_done (worker_b, third, "\x03", 1);
    s_expect_result (client, 1, "\x01", 1);
    s_expect_result (client, 2, "\x02", 1);
    s_expect_result (client, 3, "\x03", 1);
    s_wait_workers (fixture, 1, S_TIMEOUT);
    zsock_destroy (&client);
    zsock_destroy (&worker_a);
    zsock_destroy (&worker_b);
}

static void
test_retries_exhausted (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    s_submit (client, 9, "fragile", "\x90", -1, 1);
    for (int attempt = 1; attempt <= 2; attempt++) {
        zsock_t *worker = s_worker (fixture);
        char name [16];
        snprintf (name, sizeof name, "w%d", attempt);
        s_ready (worker, name, (uint64_t) attempt, 1, "fragile", NULL);
        s_expect_task (worker, "fragile", "\x90");
        s_send_simple (worker, ZHIVE_BYE, 0);
        zsock_destroy (&worker);
    }
    zhive_proto_t *error = s_expect_error (client, 9, "WorkerLost", "'w2'");
    assert_non_null (strstr (error->message, "2 attempt"));
    zhive_proto_destroy (&error);
    zsock_destroy (&client);
}

static void
test_status (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_ready (worker, "busy-bee", 4242, 2, "sum", "mul", NULL);
    for (uint64_t id = 1; id <= 3; id++)
        s_submit (client, id, "sum", "\x90", -1, -1);
    uint64_t ticket = s_expect_task (worker, "sum", NULL);
    s_expect_task (worker, "sum", NULL);
    s_done (worker, ticket, "\xc0", 1);
    s_expect_result (client, 1, "\xc0", 1);
    s_expect_task (worker, "sum", NULL);

    msgpack_unpacked *status = s_status (client, 77);
    const msgpack_object *root = &status->data;
    const msgpack_object *workers = zhive_value_get (root, "workers");
    assert_non_null (workers);
    assert_int_equal (zhive_value_len (workers), 1);
    const msgpack_object *entry = zhive_value_at (workers, 0);
    assert_true (s_field_is (entry, "id", "busy-bee"));
    char host [256] = "";
    gethostname (host, sizeof host - 1);
    assert_true (s_field_is (entry, "host", host));
    assert_int_equal (s_field_int (entry, "pid"), 4242);
    assert_int_equal (s_field_int (entry, "concurrency"), 2);
    assert_int_equal (s_field_int (entry, "in_flight"), 2);
    assert_int_equal (s_field_int (entry, "done"), 1);
    const msgpack_object *functions = zhive_value_get (entry, "functions");
    assert_int_equal (zhive_value_len (functions), 2);
    const msgpack_object *queues = zhive_value_get (root, "queues");
    assert_int_equal (zhive_value_len (queues), 2);
    for (size_t i = 0; i < 2; i++) {
        const msgpack_object *queue = zhive_value_at (queues, i);
        if (s_field_is (queue, "function", "sum")) {
            assert_int_equal (s_field_int (queue, "waiting"), 0);
            assert_int_equal (s_field_int (queue, "in_flight"), 2);
        }
        else {
            assert_true (s_field_is (queue, "function", "mul"));
            assert_int_equal (s_field_int (queue, "waiting"), 0);
            assert_int_equal (s_field_int (queue, "in_flight"), 0);
        }
    }
    s_status_destroy (&status);
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
    s_fixture_t *fixture = (s_fixture_t *) *state;
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
    zsock_t *client = s_client (fixture);
    for (size_t i = 0; i < count; i++) {
        s_send_garbage (client, &garbage [i]);
        zhive_proto_t *error = s_expect (client, ZHIVE_ERROR);
        if (error->id != 0 || strcmp (error->type, "Malformed") || !*error->message)
            fail_msg ("%s: got ERROR [%" PRIu64 ", %s, %s]", garbage [i].what, error->id,
                      error->type, error->message);
        assert_string_equal (error->worker, "");
        zhive_proto_destroy (&error);
    }
    //  Worker commands from a client are malformed there
    s_ready (client, "sneaky", 1, 1, "x", NULL);
    zhive_proto_t *error = s_expect_error (client, 0, "Malformed", NULL);
    zhive_proto_destroy (&error);

    //  Worker socket: each gets BYE [why]; a registered worker is forgotten
    zsock_t *worker = s_worker (fixture);
    for (size_t i = 0; i < count; i++) {
        s_send_garbage (worker, &garbage [i]);
        zhive_proto_t *bye = s_expect (worker, ZHIVE_BYE);
        if (!bye->message || !*bye->message)
            fail_msg ("%s: BYE without a reason", garbage [i].what);
        zhive_proto_destroy (&bye);
    }
    s_submit (worker, 1, "x", "\x90", -1, -1);    //  A client command from a worker
    zhive_proto_t *bye = s_expect (worker, ZHIVE_BYE);
    zhive_proto_destroy (&bye);

    //  A registered worker holding a task sends garbage: forgotten, task requeued
    s_ready (worker, "bad", 1, 1, "x", NULL);
    s_wait_workers (fixture, 1, S_TIMEOUT);
    zsock_t *good_client = s_client (fixture);
    s_submit (good_client, 5, "x", "\x91\x05", -1, -1);
    s_expect_task (worker, "x", "\x91\x05");
    s_send_garbage (worker, &garbage [0]);
    bye = s_expect (worker, ZHIVE_BYE);
    zhive_proto_destroy (&bye);
    s_wait_workers (fixture, 0, S_TIMEOUT);

    //  And the broker still serves a normal round trip
    zsock_t *good_worker = s_worker (fixture);
    s_ready (good_worker, "good", 2, 1, "x", NULL);
    uint64_t ticket = s_expect_task (good_worker, "x", "\x91\x05");
    s_done (good_worker, ticket, "\x05", 1);
    s_expect_result (good_client, 5, "\x05", 1);
    s_submit (good_client, 6, "x", "\x91\x06", -1, -1);
    ticket = s_expect_task (good_worker, "x", "\x91\x06");
    s_done (good_worker, ticket, "\x06", 1);
    s_expect_result (good_client, 6, "\x06", 1);
    zsock_destroy (&client);
    zsock_destroy (&worker);
    zsock_destroy (&good_client);
    zsock_destroy (&good_worker);
}

//  Extreme numbers in well-formed headers are served, not trusted
static void
test_extreme_values (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_ready (worker, "big", UINT64_MAX, 1000000, "f", NULL);
    s_submit (client, UINT64_MAX, "f", "\x90", INT64_MAX, INT64_MAX);
    s_submit (client, 0, "f", "\x90", INT64_MIN, INT64_MIN);
    uint64_t first = s_expect_task (worker, "f", NULL);
    uint64_t second = s_expect_task (worker, "f", NULL);
    s_done (worker, first, "\x01", 1);
    s_done (worker, second, "\x02", 1);
    s_expect_result (client, UINT64_MAX, "\x01", 1);
    s_expect_result (client, 0, "\x02", 1);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_unknown_ticket (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    zsock_t *other = s_worker (fixture);
    s_ready (worker, "w", 1, 1, "f", NULL);
    s_ready (other, "o", 2, 1, "g", NULL);
    s_submit (client, 1, "f", "\x90", -1, -1);
    uint64_t ticket = s_expect_task (worker, "f", NULL);
    s_done (worker, 987654321, "\xc0", 1);          //  Never issued
    s_failed (worker, 987654322, "X", "forged");    //  Never issued
    s_done (other, ticket, "\xc2", 1);              //  Not the holder's
    s_expect_quiet (client, 200);
    s_done (worker, ticket, "\xc3", 1);
    s_expect_result (client, 1, "\xc3", 1);
    s_done (worker, ticket, "\xc2", 1);    //  Duplicate
    s_expect_quiet (client, 200);
    //  Neither peer was thrown out for it
    s_expect_quiet (worker, 0);
    s_expect_quiet (other, 0);
    s_wait_workers (fixture, 2, S_TIMEOUT);
    zsock_destroy (&client);
    zsock_destroy (&worker);
    zsock_destroy (&other);
}

static void
test_duplicate_submit (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_submit (client, 1, "f", "\x90", -1, -1);
    s_submit (client, 1, "f", "\x90", -1, -1);    //  A resend: not run twice
    s_ready (worker, "w", 1, 4, "f", NULL);
    uint64_t ticket = s_expect_task (worker, "f", NULL);
    s_expect_quiet (worker, S_QUIET);
    s_done (worker, ticket, "\xc0", 1);
    s_expect_result (client, 1, "\xc0", 1);
    s_expect_quiet (client, 100);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

static void
test_worker_vanishes (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_ready (worker, "ghost", 1, 1, "f", NULL);
    s_submit (client, 1, "f", "\x91\x01", -1, -1);
    s_expect_task (worker, "f", "\x91\x01");
    //  Closed without BYE: the heartbeat's PING finds it gone
    zsock_destroy (&worker);
    s_wait_workers (fixture, 0, S_TIMEOUT);
    zsock_t *next = s_worker (fixture);
    s_ready (next, "next", 2, 1, "f", NULL);
    uint64_t ticket = s_expect_task (next, "f", "\x91\x01");
    s_done (next, ticket, "\xc0", 1);
    s_expect_result (client, 1, "\xc0", 1);
    zsock_destroy (&client);
    zsock_destroy (&next);
}

static void
test_shutdown (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_ready (worker, "w", 1, 1, "f", NULL);
    s_submit (client, 1, "f", "\x90", -1, -1);
    s_submit (client, 2, "f", "\x90", -1, -1);
    s_expect_task (worker, "f", NULL);
    zhive_broker_destroy (&fixture->broker);
    bool seen [3] = { false };
    for (int i = 0; i < 2; i++) {
        zhive_proto_t *error = s_expect (client, ZHIVE_ERROR);
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
    s_fixture_t *fixture = (s_fixture_t *) *state;
    assert_int_equal (zhive_broker_bind_clients (fixture->broker, "nonsense"), -1);
    //  The port the workers socket holds is taken
    assert_int_equal (zhive_broker_bind_clients (fixture->broker,
                                                 zhive_broker_workers_endpoint (fixture->broker)),
                      -1);
    //  Still the endpoint bound first
    assert_non_null (zhive_broker_clients_endpoint (fixture->broker));
    zsock_t *client = s_client (fixture);
    s_send_simple (client, ZHIVE_PING, 0);
    zhive_proto_t *msg = s_expect (client, ZHIVE_PONG);
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
    msgpack_unpacked *status = s_status (client, 1);
    const msgpack_object *workers = zhive_value_get (&status->data, "workers");
    size_t count = zhive_value_len (workers);
    for (size_t i = 0; i < count && i < max; i++)
        pids [i] = (pid_t) s_field_int (zhive_value_at (workers, i), "pid");
    s_status_destroy (&status);
    return count < max ? count : max;
}

//  Tasks in flight on all workers; pids [0] gets the pid of one holding some
static size_t
s_in_flight (zsock_t *client, pid_t *pids)
{
    msgpack_unpacked *status = s_status (client, 2);
    const msgpack_object *workers = zhive_value_get (&status->data, "workers");
    size_t total = 0;
    for (size_t i = 0; i < zhive_value_len (workers); i++) {
        int64_t in_flight = s_field_int (zhive_value_at (workers, i), "in_flight");
        if (in_flight > 0)
            pids [0] = (pid_t) s_field_int (zhive_value_at (workers, i), "pid");
        total += (size_t) in_flight;
    }
    s_status_destroy (&status);
    return total;
}

static void
test_local_workers (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    if (!s_local_workers_possible ())
        skip ();
    const char *loads [] = { getenv ("ZHIVE_PLUGIN"), NULL };
    assert_int_equal (zhive_broker_start_workers (fixture->broker, 2, loads, 4), 0);
    s_wait_workers (fixture, 2, 10000);

    zsock_t *client = s_client (fixture);
    s_submit (client, 1, "echo", "\x92\x01\xa1x", -1, -1);
    s_expect_result (client, 1, "\x92\x01\xa1x", 4);

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
    s_submit (client, 2, "echo", "\x91\x02", -1, -1);
    s_expect_result (client, 2, "\x91\x02", 2);

    //  Kill a worker holding tasks: they run again elsewhere, none is lost
    for (uint64_t id = 10; id < 18; id++)
        s_submit (client, id, "sleep", "\x91\xcd\x01\x90", -1, -1);    //  [400]
    until = zclock_mono () + 5000;
    while (s_in_flight (client, pids) < 8) {
        if (zclock_mono () > until)
            fail_msg ("the 8 sleeps did not all start");
        zclock_sleep (20);
    }
    assert_int_equal (kill (pids [0], SIGKILL), 0);
    bool seen [18] = { false };
    for (int i = 0; i < 8; i++) {
        zhive_proto_t *msg = s_expect (client, ZHIVE_RESULT);
        assert_true (msg->id >= 10 && msg->id < 18 && !seen [msg->id]);
        seen [msg->id] = true;
        zhive_proto_destroy (&msg);
    }

    //  Destroying the broker stops and reaps its workers
    pid_t last [2];
    s_wait_workers (fixture, 2, 10000);
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
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zhive_broker_set_worker_program (fixture->broker, "/nonexistent/zhive-worker");
    const char *loads [] = { "nothing.so", NULL };
    assert_int_equal (zhive_broker_start_workers (fixture->broker, 2, loads, 0), 0);
    //  They fail at once; the broker backs off instead of forking in a loop
    zclock_sleep (1200);
    assert_int_equal (zhive_broker_workers_ready (fixture->broker), 0);
    zsock_t *client = s_client (fixture);
    s_send_simple (client, ZHIVE_PING, 0);
    zhive_proto_t *msg = s_expect (client, ZHIVE_PONG);
    zhive_proto_destroy (&msg);
    zsock_destroy (&client);
}

//  Embedded, the broker keeps serving when the program gets SIGINT: the
//  program decides when to destroy it
static void
test_survives_interrupt (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    struct sigaction action;
    sigaction (SIGINT, NULL, &action);
    if (action.sa_handler == SIG_DFL || action.sa_handler == SIG_IGN)
        skip ();    //  czmq's handler is not installed: SIGINT would end the test
    raise (SIGINT);
    assert_true (zsys_interrupted);
    zclock_sleep (200);
    zsock_t *client = s_client (fixture);
    zsock_t *worker = s_worker (fixture);
    s_ready (worker, "w", 1, 1, "f", NULL);
    s_submit (client, 1, "f", "\x90", 500, -1);
    uint64_t ticket = s_expect_task (worker, "f", NULL);
    s_done (worker, ticket, "\xc0", 1);
    s_expect_result (client, 1, "\xc0", 1);
    s_submit (client, 2, "nosuch", "\x90", 100, -1);    //  Timers still run
    zhive_proto_t *error = s_expect_error (client, 2, "Timeout", NULL);
    zhive_proto_destroy (&error);
    zsys_interrupted = 0;
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

int
main (void)
{
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
        cmocka_unit_test_setup_teardown (test_local_workers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_local_workers_bad_program, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
