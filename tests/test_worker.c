/*  test_worker - the worker class and zhive-worker, against a fake broker

    The fake broker is a ROUTER on tcp://127.0.0.1:* speaking zhive_proto.
    Workers run either embedded (a zactor thread running zhive_worker_run,
    with the examples plugin or with handlers registered here) or as the
    real zhive-worker process ($ZHIVE_WORKER), started with fork/exec and
    stopped by its pid. Every receive has a timeout, so a bug fails a test
    instead of hanging it. The zygote is started with pipes on its stdin
    and stdout, and its workers are stopped by their pids too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "zhive_worker.h"
#include "zhive_proto.h"
#include "zhive_result.h"
#include "testkit_broker.h"
#include "testkit_process.h"
#include "testkit_relay.h"

#define S_TIMEOUT 10000    //  ms: the longest any single receive may wait

//  ---------------------------------------------------------------------
//  Handlers registered directly (no plugin)

typedef struct {
    int calls;    //  How many tasks the handlers ran
} s_state_t;

//  add (ints...) -> their sum; also counts calls in the state
static int
s_add (zhive_job_t *job, void *arg)
{
    s_state_t *state = (s_state_t *) arg;
    state->calls++;
    int64_t sum = 0;
    for (size_t i = 0; i < zhive_job_argc (job); i++) {
        int64_t value;
        if (zhive_value_int (zhive_job_arg (job, i), &value))
            return zhive_job_fail (job, ZHIVE_ERR_BAD_ARGS, "add: argument %zu is no integer", i);
        sum += value;
    }
    zhive_pack_int (zhive_job_reply (job), sum);
    return 0;
}

//  about (args...) -> [function, argc, calls so far]; checks the accessors
static int
s_about (zhive_job_t *job, void *arg)
{
    s_state_t *state = (s_state_t *) arg;
    if (zhive_job_arg (job, zhive_job_argc (job)) != NULL ||
        zhive_job_args (job)->type != MSGPACK_OBJECT_ARRAY ||
        zhive_job_loop (job) != zhive_worker_loop (zhive_job_worker (job)))
        return zhive_job_fail (job, "TestError", "accessors disagree");
    zhive_pack_t *reply = zhive_job_reply (job);
    zhive_pack_array (reply, 3);
    zhive_pack_str (reply, zhive_job_function (job));
    zhive_pack_uint (reply, zhive_job_argc (job));
    zhive_pack_int (reply, state->calls);
    return 0;
}

static int
s_nothing (zhive_job_t *job, void *arg)
{
    (void) job;
    (void) arg;
    return 0;
}

static int
s_two_values (zhive_job_t *job, void *arg)
{
    (void) arg;
    zhive_pack_int (zhive_job_reply (job), 1);
    zhive_pack_int (zhive_job_reply (job), 2);
    return 0;
}

static int
s_silent (zhive_job_t *job, void *arg)
{
    (void) job;
    (void) arg;
    return -1;
}

static int
s_long_message (zhive_job_t *job, void *arg)
{
    (void) arg;
    char *text = (char *) malloc (100001);
    memset (text, 'x', 100000);
    text [100000] = 0;
    zhive_job_fail (job, "LongError", "%s", text);
    free (text);
    return -1;
}

static int
s_later_done (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_job_t *job = (zhive_job_t *) arg;
    zhive_pack_str (zhive_job_reply (job), (const char *) zhive_job_data (job));
    zhive_job_complete (job);
    return 0;
}

//  later () -> "later", completed from a timer
static int
s_later (zhive_job_t *job, void *arg)
{
    (void) arg;
    zhive_job_set_data (job, "later");
    zloop_timer (zhive_job_loop (job), 10, 1, s_later_done, job);
    return 0;
}

static int
s_later_fail_done (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_job_fail ((zhive_job_t *) arg, "LateError", "failed later with %d", 7);
    return 0;
}

static int
s_later_fail (zhive_job_t *job, void *arg)
{
    (void) arg;
    zloop_timer (zhive_job_loop (job), 10, 1, s_later_fail_done, job);
    return 0;
}

static int
s_later_bad (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_job_t *job = (zhive_job_t *) arg;
    zhive_pack_array (zhive_job_reply (job), 2);    //  Only one of two elements
    zhive_pack_int (zhive_job_reply (job), 1);
    assert_int_equal (zhive_job_complete (job), -1);
    return 0;
}

//  later_bad () -> completes later with a reply that is not one value
static int
s_later_incomplete (zhive_job_t *job, void *arg)
{
    (void) arg;
    zloop_timer (zhive_job_loop (job), 10, 1, s_later_bad, job);
    return 0;
}

//  now_fail () -> async handler that fails at once
static int
s_now_fail (zhive_job_t *job, void *arg)
{
    (void) arg;
    return zhive_job_fail (job, "NowError", "at once");
}

//  inline () -> async handler that completes before returning
static int
s_inline (zhive_job_t *job, void *arg)
{
    (void) arg;
    zhive_pack_str (zhive_job_reply (job), "inline");
    assert_int_equal (zhive_job_complete (job), 0);
    return 0;
}

//  stop () -> true, then the worker stops
static int
s_stop (zhive_job_t *job, void *arg)
{
    (void) arg;
    zhive_worker_stop (zhive_job_worker (job));
    zhive_pack_bool (zhive_job_reply (job), true);
    return 0;
}

static const char *s_direct_functions [] = { "add",       "about",    "nothing", "two",
                                             "silent",    "long",     "later",   "later_fail",
                                             "later_bad", "now_fail", "inline",  "stop",
                                             NULL };

static void
s_register_direct (zhive_worker_t *worker, s_state_t *state)
{
    assert_int_equal (zhive_worker_register (worker, "add", s_add, state, ZHIVE_SYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "about", s_about, state, ZHIVE_SYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "nothing", s_nothing, NULL, ZHIVE_SYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "two", s_two_values, NULL, ZHIVE_SYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "silent", s_silent, NULL, ZHIVE_SYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "long", s_long_message, NULL, ZHIVE_SYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "later", s_later, NULL, ZHIVE_ASYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "later_fail", s_later_fail, NULL, ZHIVE_ASYNC),
                      0);
    assert_int_equal (
        zhive_worker_register (worker, "later_bad", s_later_incomplete, NULL, ZHIVE_ASYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "now_fail", s_now_fail, NULL, ZHIVE_ASYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "inline", s_inline, NULL, ZHIVE_ASYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "stop", s_stop, NULL, ZHIVE_SYNC), 0);
}

//  ---------------------------------------------------------------------
//  An embedded worker in a zactor thread. The test sends "STOP" or
//  "DRAIN" on the pipe (the worker loop reads it and calls
//  zhive_worker_stop or zhive_worker_drain); the actor then reports run's
//  return code and the done count, and waits for $TERM.

typedef struct {
    const char *endpoint;                      //  Broker's worker endpoint
    int concurrency;                           //  0: default
    const char *plugin;                        //  Plugin to load, or NULL
    const char *name;                          //  Worker name, or NULL for the default
    s_state_t *direct;                         //  Register the direct handlers with this state
    void (*setup) (zhive_worker_t *worker);    //  More set-up before run, or NULL
} s_worker_args_t;

typedef struct {
    zhive_worker_t *worker;    //  The worker running in the actor
    bool terminated;           //  $TERM arrived while it ran
} s_actor_t;

static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    s_actor_t *actor = (s_actor_t *) arg;
    char *command = zstr_recv (pipe);
    int rc = 0;
    if (!command || streq (command, "$TERM")) {
        actor->terminated = true;
        rc = -1;
    }
    else if (streq (command, "STOP"))
        zhive_worker_stop (actor->worker);
    else if (streq (command, "DRAIN"))
        zhive_worker_drain (actor->worker);
    zstr_free (&command);
    return rc;
}

static void
s_worker_actor (zsock_t *pipe, void *arg)
{
    s_worker_args_t *args = (s_worker_args_t *) arg;
    s_actor_t actor = { NULL, false };
    actor.worker = zhive_worker_new (args->endpoint);
    int rc = actor.worker ? 0 : -1;
    if (actor.worker) {
        if (args->concurrency)
            zhive_worker_set_concurrency (actor.worker, args->concurrency);
        if (args->name)
            zhive_worker_set_name (actor.worker, args->name);
        zhive_worker_set_verbose (actor.worker, getenv ("ZHIVE_TEST_VERBOSE") != NULL);
        if (args->plugin)
            rc = zhive_worker_load (actor.worker, args->plugin, NULL);
        if (args->direct)
            s_register_direct (actor.worker, args->direct);
        if (args->setup)
            args->setup (actor.worker);
        zloop_reader (zhive_worker_loop (actor.worker), pipe, s_on_pipe, &actor);
    }
    zsock_signal (pipe, 0);
    zsock_send (pipe, "i", rc);
    uint64_t done = 0;
    if (rc == 0) {
        rc = zhive_worker_run (actor.worker);
        done = zhive_worker_done (actor.worker);
    }
    zhive_worker_destroy (&actor.worker);
    zsock_send (pipe, "i8", rc, done);
    while (!actor.terminated) {
        char *command = zstr_recv (pipe);
        actor.terminated = !command || streq (command, "$TERM");
        zstr_free (&command);
    }
}

static zactor_t *
s_worker_start (s_worker_args_t *args)
{
    zactor_t *actor = zactor_new (s_worker_actor, args);
    assert_non_null (actor);
    zsock_set_rcvtimeo (actor, S_TIMEOUT);
    int rc = -99;
    assert_int_equal (zsock_recv (actor, "i", &rc), 0);
    assert_int_equal (rc, 0);
    return actor;
}

//  Waits for the worker's run to return (after STOP if `stop`); returns
//  its return code and destroys the actor
static int
s_worker_end (zactor_t **actor_p, bool stop, uint64_t *done)
{
    if (stop)
        zstr_send (*actor_p, "STOP");
    int rc = -99;
    uint64_t count = 0;
    if (zsock_recv (*actor_p, "i8", &rc, &count))
        rc = -99;
    if (done)
        *done = count;
    zactor_destroy (actor_p);
    return rc;
}

static const char *s_example_functions [] = { "echo", "fib", "sleep", "fail", "crash", NULL };

//  ---------------------------------------------------------------------
//  Tests: the class

static void
test_new_and_register (void **state)
{
    (void) state;
    errno = 0;
    assert_null (zhive_worker_new ("bogus"));
    assert_int_equal (errno, EINVAL);
    errno = 0;
    assert_null (zhive_worker_new ("tcp://"));
    assert_int_equal (errno, EINVAL);
    errno = 0;
    assert_null (zhive_worker_new (NULL));
    assert_int_equal (errno, EINVAL);

    zhive_worker_t *worker = zhive_worker_new ("tcp://127.0.0.1:1");
    assert_non_null (worker);
    assert_non_null (zhive_worker_loop (worker));
    assert_int_equal (zhive_worker_done (worker), 0);

    char long_name [300];
    memset (long_name, 'f', sizeof long_name - 1);
    long_name [sizeof long_name - 1] = 0;
    errno = 0;
    assert_int_equal (zhive_worker_register (worker, "", s_nothing, NULL, ZHIVE_SYNC), -1);
    assert_int_equal (errno, EINVAL);
    errno = 0;
    assert_int_equal (zhive_worker_register (worker, long_name, s_nothing, NULL, ZHIVE_SYNC), -1);
    assert_int_equal (errno, EINVAL);
    long_name [255] = 0;    //  255 bytes is fine
    assert_int_equal (zhive_worker_register (worker, long_name, s_nothing, NULL, ZHIVE_SYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "f", s_nothing, NULL, ZHIVE_SYNC), 0);
    errno = 0;
    assert_int_equal (zhive_worker_register (worker, "f", s_nothing, NULL, ZHIVE_ASYNC), -1);
    assert_int_equal (errno, EEXIST);
    zhive_worker_destroy (&worker);
    assert_null (worker);
    zhive_worker_destroy (&worker);    //  Safe twice

    //  Workers made one after another (at the same address, likely) each
    //  get their own connection monitor
    for (int i = 0; i < 50; i++) {
        worker = zhive_worker_new ("tcp://127.0.0.1:1");
        assert_non_null (worker);
        zhive_worker_destroy (&worker);
    }
}

static void
test_load_errors (void **state)
{
    (void) state;
    zhive_worker_t *worker = zhive_worker_new ("tcp://127.0.0.1:1");
    assert_non_null (worker);
    assert_int_equal (zhive_worker_load (worker, "/nonexistent/libnope.so", NULL), -1);
    //  A shared library that is no plugin: libzhive.so beside the plugin
    char *dir = strdup (testkit_plugin ());
    char *slash = strrchr (dir, '/');
    assert_non_null (slash);
    *slash = 0;
    char path [4096];
    snprintf (path, sizeof path, "%s/libzhive.so", dir);
    free (dir);
    assert_int_equal (zhive_worker_load (worker, path, NULL), -1);
    //  The examples plugin refuses arguments
    assert_int_equal (zhive_worker_load (worker, testkit_plugin (), "bogus"), -1);
    //  Nothing registered: run refuses
    assert_int_equal (zhive_worker_run (worker), -1);
    zhive_worker_destroy (&worker);
}

//  The examples plugin, embedded: every function, bad args, bad frames
static void
test_embedded_plugin (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 4, testkit_plugin (), NULL, NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_example_functions, 4, getpid ());

    //  Default name is HOST:PID
    char host [256] = "";
    gethostname (host, sizeof host - 1);
    char name [300];
    snprintf (name, sizeof name, "%s:%d", host, (int) getpid ());
    assert_string_equal (broker->in->worker, name);
    assert_string_equal (broker->in->host, host);
    assert_int_equal (broker->in->pid, getpid ());

    //  echo returns its args byte for byte
    zhive_pack_t *pack = zhive_pack_new ();
    zhive_pack_array (pack, 6);
    zhive_pack_int (pack, 1);
    zhive_pack_str (pack, "two");
    zhive_pack_array (pack, 3);
    zhive_pack_double (pack, 3.5);
    zhive_pack_nil (pack);
    zhive_pack_bool (pack, true);
    zhive_pack_map (pack, 1);
    zhive_pack_str (pack, "key");
    zhive_pack_bytes (pack, "\x00\x01\x02", 3);
    zhive_pack_int (pack, -123456789012LL);
    zhive_pack_uint (pack, UINT64_MAX);
    testkit_broker_send_task_pack (broker, 1, "echo", pack);
    testkit_broker_expect_done (broker, 1, zhive_pack_data (pack), zhive_pack_size (pack));
    testkit_broker_send_task (broker, 2, "echo", "\x90", 1);
    testkit_broker_expect_done (broker, 2, "\x90", 1);

    //  fib
    testkit_broker_send_task_int (broker, 3, "fib", 20);
    testkit_broker_expect_done_int (broker, 3, 6765);
    testkit_broker_send_task_int (broker, 4, "fib", 0);
    testkit_broker_expect_done_int (broker, 4, 0);
    testkit_broker_send_task_int (broker, 5, "fib", 93);
    testkit_broker_expect_failed (broker, 5, "BadArguments",
                                  "fib expects one integer argument 0..92, got 93");
    zhive_pack_reset (pack);
    zhive_pack_array (pack, 1);
    zhive_pack_str (pack, "x");
    testkit_broker_send_task_pack (broker, 6, "fib", pack);
    testkit_broker_expect_failed (broker, 6, "BadArguments", "got a string");
    testkit_broker_send_task (broker, 7, "fib", "\x92\x01\x02", 3);
    testkit_broker_expect_failed (broker, 7, "BadArguments", "got 2 arguments");

    //  fail
    zhive_pack_reset (pack);
    zhive_pack_array (pack, 1);
    zhive_pack_str (pack, "boom: it broke");
    testkit_broker_send_task_pack (broker, 8, "fail", pack);
    testkit_broker_expect_failed (broker, 8, "ExampleError", "boom: it broke");
    assert_string_equal (broker->in->message, "boom: it broke");
    testkit_broker_send_task_int (broker, 9, "fail", 3);
    testkit_broker_expect_failed (broker, 9, "BadArguments", "fail expects one string argument");

    //  sleep: async, answers ms; bad arguments
    testkit_broker_send_task_int (broker, 10, "sleep", 20);
    testkit_broker_expect_done_int (broker, 10, 20);
    testkit_broker_send_task_int (broker, 11, "sleep", 0);
    testkit_broker_expect_done_int (broker, 11, 0);
    testkit_broker_send_task_int (broker, 12, "sleep", -1);
    testkit_broker_expect_failed (broker, 12, "BadArguments", "sleep expects one integer argument");

    //  Unknown function
    testkit_broker_send_task (broker, 13, "nope", "\x90", 1);
    testkit_broker_expect_failed (broker, 13, "UnknownFunction", "'nope'");

    //  Args that are not one valid msgpack array: Malformed, and the
    //  worker still serves the next task
    testkit_broker_send_task (broker, 14, "echo", "\x05", 1);
    testkit_broker_expect_failed (broker, 14, "Malformed", "not one valid msgpack array");
    testkit_broker_send_task (broker, 15, "echo", "\xc1", 1);
    testkit_broker_expect_failed (broker, 15, "Malformed", "echo");
    testkit_broker_send_task (broker, 16, "echo", "\x91\x01\x02", 3);
    testkit_broker_expect_failed (broker, 16, "Malformed", "echo");
    testkit_broker_send_task (broker, 17, "echo", "\x92\x01", 2);
    testkit_broker_expect_failed (broker, 17, "Malformed", "echo");
    //  Nested deeper than msgpack-c unpacks (but within what skip accepts)
    uint8_t deep [41];
    memset (deep, 0x91, 40);
    deep [40] = 0x01;
    testkit_broker_send_task (broker, 18, "echo", deep, sizeof deep);
    testkit_broker_expect_failed (broker, 18, "Malformed", "echo");
    testkit_broker_send_task (broker, 19, "echo", "\x91\x07", 2);
    testkit_broker_expect_done (broker, 19, "\x91\x07", 2);

    //  Garbage frames from the broker side are dropped; the worker goes on
    const uint8_t task_sig [5] = { 'Z', 'H', 'V', 1, ZHIVE_TASK };
    const uint8_t bad_version [5] = { 'Z', 'H', 'V', 9, ZHIVE_TASK };
    const uint8_t unknown [5] = { 'Z', 'H', 'V', 1, 0x77 };
    const uint8_t done_sig [5] = { 'Z', 'H', 'V', 1, ZHIVE_DONE };
    testkit_broker_send_raw (broker, 1, "hello", (size_t) 5);
    testkit_broker_send_raw (broker, 2, bad_version, sizeof bad_version, "\x92\x01\xa1x",
                             (size_t) 4);
    testkit_broker_send_raw (broker, 2, task_sig, sizeof task_sig, "\x07", (size_t) 1);
    testkit_broker_send_raw (broker, 2, task_sig, sizeof task_sig, "\x92\x01\xa1x", (size_t) 4);
    testkit_broker_send_raw (broker, 3, task_sig, sizeof task_sig, "\x92\x01\xa1x", (size_t) 4, "",
                             (size_t) 0);
    testkit_broker_send_raw (broker, 4, task_sig, sizeof task_sig, "\x92\x01\xa1x", (size_t) 4,
                             "\x90", (size_t) 1, "\x90", (size_t) 1);
    testkit_broker_send_raw (broker, 2, unknown, sizeof unknown, "\x90", (size_t) 1);
    testkit_broker_send_raw (broker, 3, done_sig, sizeof done_sig, "\x91\x01", (size_t) 2, "\xc0",
                             (size_t) 1);
    testkit_broker_send (broker, ZHIVE_PING, NULL);
    testkit_broker_expect (broker, ZHIVE_PONG);
    testkit_broker_send_task (broker, 20, "echo", "\x91\xa2hi", 4);
    testkit_broker_expect_done (broker, 20, "\x91\xa2hi", 4);

    //  A sleep still pending when the worker stops is dropped (and freed)
    testkit_broker_send_task_int (broker, 21, "sleep", 60000);
    testkit_broker_send (broker, ZHIVE_PING, NULL);
    testkit_broker_expect (broker, ZHIVE_PONG);
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, true, &done), 0);
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    assert_int_equal (done, 20);    //  Tickets 1..20 were answered
    zhive_pack_destroy (&pack);
    testkit_broker_destroy (&broker);
}

//  Handlers registered directly in an embedded worker, no plugin
static void
test_embedded_direct (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    s_state_t counter = { 0 };
    s_worker_args_t args = { broker->endpoint, 0, NULL, "direct-worker", &counter, NULL };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_direct_functions, 16, getpid ());
    assert_string_equal (broker->in->worker, "direct-worker");

    testkit_broker_send_task (broker, 1, "add", "\x93\x01\x02\x03", 4);
    testkit_broker_expect_done_int (broker, 1, 6);
    testkit_broker_send_task (broker, 2, "add", "\x92\x01\xc0", 3);
    testkit_broker_expect_failed (broker, 2, "BadArguments", "argument 1 is no integer");
    testkit_broker_send_task (broker, 3, "about", "\x92\x01\x02", 3);
    testkit_broker_expect_done (broker, 3,
                                "\x93\xa5"
                                "about\x02\x02",
                                9);
    testkit_broker_send_task (broker, 4, "nothing", "\x90", 1);
    testkit_broker_expect_done (broker, 4, "\xc0", 1);
    testkit_broker_send_task (broker, 5, "two", "\x90", 1);
    testkit_broker_expect_failed (broker, 5, "HandlerError", "not exactly one msgpack value");
    testkit_broker_send_task (broker, 6, "silent", "\x90", 1);
    testkit_broker_expect_failed (broker, 6, "HandlerError",
                                  "handler 'silent' failed without a message");
    testkit_broker_send_task (broker, 7, "long", "\x90", 1);
    testkit_broker_expect_failed (broker, 7, "LongError", "xxxx");
    assert_int_equal (strlen (broker->in->message), ZHIVE_MESSAGE_MAX);
    testkit_broker_send_task (broker, 8, "later", "\x90", 1);
    testkit_broker_expect_done (broker, 8, "\xa5later", 6);
    testkit_broker_send_task (broker, 9, "later_fail", "\x90", 1);
    testkit_broker_expect_failed (broker, 9, "LateError", "failed later with 7");
    testkit_broker_send_task (broker, 10, "later_bad", "\x90", 1);
    testkit_broker_expect_failed (broker, 10, "HandlerError", "not exactly one msgpack value");
    testkit_broker_send_task (broker, 11, "now_fail", "\x90", 1);
    testkit_broker_expect_failed (broker, 11, "NowError", "at once");
    testkit_broker_send_task (broker, 12, "inline", "\x90", 1);
    testkit_broker_expect_done (broker, 12, "\xa6inline", 7);

    //  Several async jobs at once complete in any order, each exactly once
    for (uint64_t ticket = 100; ticket < 110; ticket++)
        testkit_broker_send_task (broker, ticket, ticket % 2 ? "later" : "later_fail", "\x90", 1);
    bool seen [10] = { false };
    for (int i = 0; i < 10; i++) {
        int command = testkit_broker_recv (broker);
        assert_true (command == ZHIVE_DONE || command == ZHIVE_FAILED);
        uint64_t ticket = broker->in->id;
        assert_true (ticket >= 100 && ticket < 110);
        assert_false (seen [ticket - 100]);
        seen [ticket - 100] = true;
        assert_int_equal (command, ticket % 2 ? ZHIVE_DONE : ZHIVE_FAILED);
    }
    //  A handler can stop the worker: it answers, then says BYE
    testkit_broker_send_task (broker, 13, "stop", "\x90", 1);
    testkit_broker_expect_done (broker, 13, "\xc3", 1);
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, false, &done), 0);
    assert_int_equal (done, 23);
    assert_int_equal (counter.calls, 2);    //  add ran twice; state reached it
    testkit_broker_destroy (&broker);
}

//  More tasks than slots (the broker's prefetch): the extra ones wait for a
//  slot, in order; one cancelled while it waits is answered at once without
//  running; past the worker's queue limit a task is answered Busy
static void
test_queued_beyond_slots (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 2, testkit_plugin (), NULL, NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_example_functions, 2, getpid ());
    testkit_broker_send_task_int (broker, 1, "sleep", 300);
    testkit_broker_send_task_int (broker, 2, "sleep", 300);
    testkit_broker_send_task_int (broker, 3, "sleep", 1);
    testkit_broker_send_task_int (broker, 4, "sleep", 1);
    testkit_broker_send_cancel (broker, 4);
    testkit_broker_expect_failed (broker, 4, "Cancelled", "waiting for a slot");
    //  3 runs only once 1 or 2 has ended
    bool seen [4] = { false };
    for (int i = 0; i < 3; i++) {
        testkit_broker_expect (broker, ZHIVE_DONE);
        uint64_t id = broker->in->id;
        assert_true (id >= 1 && id <= 3);
        assert_false (seen [id]);
        if (id == 3)
            assert_true (seen [1] || seen [2]);
        seen [id] = true;
    }
    //  Fill the slots and the queue: the next task is Busy
    testkit_broker_send_task_int (broker, 10, "sleep", 60000);
    testkit_broker_send_task_int (broker, 11, "sleep", 60000);
    const uint64_t queue_max = 4096;
    for (uint64_t i = 0; i < queue_max; i++)
        testkit_broker_send_task_int (broker, 100 + i, "sleep", 0);
    testkit_broker_send_task_int (broker, 99, "sleep", 0);
    testkit_broker_expect_failed (broker, 99, "Busy", "no free slot");
    //  Cancelling the long ones frees the slots: everything queued runs
    testkit_broker_send_cancel (broker, 10);
    testkit_broker_send_cancel (broker, 11);
    uint64_t done = 0, cancelled = 0;
    while (done + cancelled < queue_max + 2) {
        int command = testkit_broker_recv (broker);
        if (command == ZHIVE_FAILED) {
            assert_true (broker->in->id == 10 || broker->in->id == 11);
            assert_string_equal (broker->in->type, "Cancelled");
            cancelled++;
        }
        else {
            assert_int_equal (command, ZHIVE_DONE);
            assert_true (broker->in->id >= 100 && broker->in->id < 100 + queue_max);
            done++;
        }
    }
    assert_int_equal (cancelled, 2);
    assert_int_equal (s_worker_end (&actor, true, NULL), 0);
    testkit_broker_destroy (&broker);
}

//  BYE from the broker: run fails
static void
test_broker_bye (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 0, testkit_plugin (), NULL, NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_example_functions, 16, getpid ());
    testkit_broker_send (broker, ZHIVE_BYE, "go away");
    assert_int_equal (s_worker_end (&actor, false, NULL), -1);
    testkit_broker_destroy (&broker);
}

//  Stop before run: READY, then BYE, and run returns 0
static void
test_stop_before_run (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    zhive_worker_t *worker = zhive_worker_new (broker->endpoint);
    assert_non_null (worker);
    assert_int_equal (zhive_worker_register (worker, "nothing", s_nothing, NULL, ZHIVE_SYNC), 0);
    zhive_worker_stop (worker);
    assert_int_equal (zhive_worker_run (worker), 0);
    assert_int_equal (zhive_worker_run (worker), -1);    //  Only once
    zhive_worker_destroy (&worker);
    const char *functions [] = { "nothing", NULL };
    testkit_broker_expect_ready (broker, functions, 16, getpid ());
    testkit_broker_expect (broker, ZHIVE_BYE);
    testkit_broker_destroy (&broker);
}

//  The broker goes away and comes back: the worker says READY again
static void
test_reconnect (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    char *endpoint = strdup (broker->endpoint);
    s_worker_args_t args = { endpoint, 0, testkit_plugin (), NULL, NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_example_functions, 16, getpid ());
    testkit_broker_destroy (&broker);
    broker = testkit_broker_new (endpoint);
    testkit_broker_expect_ready (broker, s_example_functions, 16, getpid ());
    testkit_broker_send_task_int (broker, 1, "fib", 10);
    testkit_broker_expect_done_int (broker, 1, 55);
    assert_int_equal (s_worker_end (&actor, true, NULL), 0);
    testkit_broker_destroy (&broker);
    free (endpoint);
}

//  ---------------------------------------------------------------------
//  Tests: reliability (heartbeats, cancel, max tasks, drain)

//  nap (ms): a sync handler that sleeps, busy longer than heartbeats allow
static int
s_nap (zhive_job_t *job, void *arg)
{
    (void) arg;
    int64_t ms = 0;
    if (zhive_job_argc (job) != 1 || zhive_value_int (zhive_job_arg (job, 0), &ms))
        return zhive_job_fail (job, ZHIVE_ERR_BAD_ARGS, "nap expects milliseconds");
    zclock_sleep ((int) ms);
    zhive_pack_int (zhive_job_reply (job), ms);
    return 0;
}

static void
s_setup_heartbeat (zhive_worker_t *worker)
{
    zhive_worker_set_heartbeat (worker, 500, 3);
    assert_int_equal (zhive_worker_register (worker, "nap", s_nap, NULL, ZHIVE_SYNC), 0);
}

//  A sync handler busy for longer than interval x liveness: libzmq answers
//  the heartbeats meanwhile, so the connection stays up (no EHOSTUNREACH on
//  a ROUTER_MANDATORY broker, no second READY) and the answer arrives
static void
test_heartbeat_long_handler (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new_heartbeat (NULL, 500);
    s_worker_args_t args = { broker->endpoint, 0, NULL, NULL, NULL, s_setup_heartbeat };
    zactor_t *actor = s_worker_start (&args);
    const char *functions [] = { "nap", NULL };
    testkit_broker_expect_ready (broker, functions, 16, getpid ());
    testkit_broker_send_task_int (broker, 1, "nap", 4000);
    testkit_broker_expect_done_int (broker, 1, 4000);
    //  The same connection still works, both ways
    testkit_broker_send_task_int (broker, 2, "nap", 0);
    testkit_broker_expect_done_int (broker, 2, 0);
    //  HEARTBEAT needs no answer: the PONG is the next message
    testkit_broker_send (broker, ZHIVE_HEARTBEAT, NULL);
    testkit_broker_expect_quiet (broker);
    assert_int_equal (s_worker_end (&actor, true, NULL), 0);
    testkit_broker_destroy (&broker);
}

static void
s_setup_silent (zhive_worker_t *worker)
{
    zhive_worker_set_heartbeat (worker, 200, 3);
}

//  The broker goes silent without closing the connection: the worker's
//  heartbeats find it within interval x liveness, and the worker
//  reconnects and says READY again
static void
test_heartbeat_silent_broker (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    testkit_relay_t *relay = testkit_relay_new (broker->endpoint);
    assert_non_null (relay);
    const char *endpoint = testkit_relay_endpoint (relay);
    s_worker_args_t args = { endpoint, 0, testkit_plugin (), NULL, NULL, s_setup_silent };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_example_functions, 16, getpid ());
    uint8_t first [256];
    size_t first_size = broker->worker_size;
    memcpy (first, broker->worker, first_size);
    testkit_broker_send_task_int (broker, 1, "fib", 10);
    testkit_broker_expect_done_int (broker, 1, 55);

    testkit_relay_freeze (relay);
    int64_t frozen = zclock_mono ();
    testkit_broker_expect_ready (broker, s_example_functions, 16, getpid ());
    int64_t elapsed = zclock_mono () - frozen;
    assert_false (broker->worker_size == first_size &&
                  memcmp (broker->worker, first, first_size) == 0);
    //  600 ms to notice, 1..2 s before the reconnect
    if (elapsed > 5000)
        fail_msg ("the worker took %d ms to replace a silent connection", (int) elapsed);
    testkit_broker_send_task_int (broker, 2, "fib", 11);
    testkit_broker_expect_done_int (broker, 2, 89);
    assert_int_equal (s_worker_end (&actor, true, NULL), 0);
    testkit_relay_destroy (&relay);
    testkit_broker_destroy (&broker);
}

//  slow (): async, answers "slow" after 200 ms, cannot be cancelled
static int
s_slow_done (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_job_t *job = (zhive_job_t *) arg;
    zhive_pack_str (zhive_job_reply (job), "slow");
    zhive_job_complete (job);
    return 0;
}

static int
s_slow (zhive_job_t *job, void *arg)
{
    (void) arg;
    zloop_timer (zhive_job_loop (job), 200, 1, s_slow_done, job);
    return 0;
}

//  undo (): async, never ends by itself; its cancel function ends the
//  timer, counts, and (wrongly) completes the job as well
static int
s_undo_never (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_job_complete ((zhive_job_t *) arg);
    return 0;
}

static void
s_undo_cancel (zhive_job_t *job, void *state)
{
    s_state_t *counter = (s_state_t *) zhive_job_data (job);
    counter->calls++;
    zloop_timer_end (zhive_job_loop (job), (int) (intptr_t) state);
    zhive_pack_str (zhive_job_reply (job), "undone");
    zhive_job_complete (job);
}

static int
s_undo (zhive_job_t *job, void *arg)
{
    zhive_job_set_data (job, arg);
    int timer = zloop_timer (zhive_job_loop (job), 60000, 1, s_undo_never, job);
    zhive_job_on_cancel (job, s_undo_cancel, (void *) (intptr_t) timer);
    return 0;
}

static s_state_t s_undo_counter;    //  How often undo's cancel function ran

static void
s_setup_cancel (zhive_worker_t *worker)
{
    assert_int_equal (zhive_worker_register (worker, "slow", s_slow, NULL, ZHIVE_ASYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "undo", s_undo, &s_undo_counter, ZHIVE_ASYNC),
                      0);
}

//  CANCEL: an async job with a cancel function is undone and answered
//  Cancelled (its slot comes back); one without runs on; unknown tickets
//  are ignored
static void
test_cancel (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 2, testkit_plugin (), NULL, NULL, s_setup_cancel };
    zactor_t *actor = s_worker_start (&args);
    const char *functions [] = { "echo", "fib", "sleep", "fail", "crash", "slow", "undo", NULL };
    testkit_broker_expect_ready (broker, functions, 2, getpid ());

    testkit_broker_send_task_int (broker, 1, "sleep", 60000);
    testkit_broker_send_task_int (broker, 2, "sleep", 300);
    testkit_broker_send_cancel (broker, 1);
    testkit_broker_expect_failed (broker, 1, "Cancelled", "cancelled");
    //  Its slot is free again: 3 runs at once, not after 2
    testkit_broker_send_task_int (broker, 3, "sleep", 10);
    testkit_broker_expect_done_int (broker, 3, 10);
    testkit_broker_send_cancel (broker, 2);
    testkit_broker_expect_failed (broker, 2, "Cancelled", "cancelled");
    //  Answered and unknown tickets are ignored; the cancelled sleeps'
    //  timers are gone (a late one would use a freed job)
    testkit_broker_send_cancel (broker, 3);
    testkit_broker_send_cancel (broker, 99);
    zclock_sleep (400);
    testkit_broker_expect_quiet (broker);

    //  No cancel function: the job runs on, and its answer frees the slot
    testkit_broker_send_task (broker, 4, "slow", "\x90", 1);
    testkit_broker_send_cancel (broker, 4);
    testkit_broker_expect_quiet (broker);
    testkit_broker_expect_done (broker, 4, "\xa4slow", 5);

    //  A cancel function that completes the job by mistake: still exactly
    //  one answer, Cancelled
    testkit_broker_send_task (broker, 5, "undo", "\x90", 1);
    testkit_broker_send_cancel (broker, 5);
    testkit_broker_expect_failed (broker, 5, "Cancelled", "cancelled");
    testkit_broker_expect_quiet (broker);
    assert_int_equal (s_undo_counter.calls, 1);

    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, true, &done), 0);
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_int_equal (done, 5);
    testkit_broker_destroy (&broker);
}

static void
s_setup_max_tasks (zhive_worker_t *worker)
{
    zhive_worker_set_max_tasks (worker, 3);
}

//  max_tasks 3: READY tells what is left, also after a reconnect; the
//  worker refuses a fourth task, finishes the others, says BYE and run
//  returns 0. A reconnect meanwhile offers nothing and says DRAINING, and
//  the BYE waits for that connection's DRAINED.
static void
test_max_tasks (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    char *endpoint = strdup (broker->endpoint);
    s_worker_args_t args = { endpoint, 3, testkit_plugin (), NULL, NULL, s_setup_max_tasks };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_example_functions, 3, getpid ());
    assert_int_equal (broker->in->max_tasks, 3);
    testkit_broker_send_task_int (broker, 1, "fib", 10);
    testkit_broker_expect_done_int (broker, 1, 55);

    testkit_broker_destroy (&broker);
    broker = testkit_broker_new (endpoint);
    testkit_broker_expect_ready (broker, s_example_functions, 3, getpid ());
    assert_int_equal (broker->in->max_tasks, 2);
    testkit_broker_send_task_int (broker, 2, "sleep", 3000);
    testkit_broker_send_task_int (broker, 3, "sleep", 3000);
    testkit_broker_send_task_int (broker, 4, "fib", 10);
    testkit_broker_expect_failed (broker, 4, "Busy", "max_tasks");

    testkit_broker_destroy (&broker);
    broker = testkit_broker_new (endpoint);
    const char *none [] = { NULL };
    testkit_broker_expect_ready (broker, none, 3, getpid ());
    assert_int_equal (broker->in->max_tasks, 0);
    testkit_broker_expect (broker, ZHIVE_DRAINING);
    bool seen [2] = { false, false };
    for (int i = 0; i < 2; i++) {
        testkit_broker_expect (broker, ZHIVE_DONE);
        assert_true (broker->in->id == 2 || broker->in->id == 3);
        assert_false (seen [broker->in->id - 2]);
        seen [broker->in->id - 2] = true;
    }
    testkit_broker_expect_quiet (broker);
    testkit_broker_send (broker, ZHIVE_DRAINED, NULL);
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "max-tasks reached");
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, false, &done), 0);
    assert_int_equal (done, 3);
    testkit_broker_destroy (&broker);
    free (endpoint);
}

//  Drain: DRAINING, the jobs in flight finish (and one that was already
//  on its way runs too), then BYE; run returns 0
static void
test_drain (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 4, testkit_plugin (), NULL, NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_example_functions, 4, getpid ());
    testkit_broker_send_task_int (broker, 1, "sleep", 300);
    testkit_broker_send_task_int (broker, 2, "sleep", 300);
    testkit_broker_expect_quiet (broker);
    zstr_send (actor, "DRAIN");
    testkit_broker_expect_draining (broker);
    testkit_broker_send_task_int (broker, 3, "fib", 10);
    testkit_broker_expect_done_int (broker, 3, 55);
    bool seen [2] = { false, false };
    for (int i = 0; i < 2; i++) {
        testkit_broker_expect (broker, ZHIVE_DONE);
        assert_true (broker->in->id == 1 || broker->in->id == 2);
        assert_false (seen [broker->in->id - 1]);
        seen [broker->in->id - 1] = true;
    }
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, false, &done), 0);
    assert_int_equal (done, 3);

    //  Drained before it runs: READY, DRAINING, BYE, and run returns 0.
    //  Nobody answers DRAINING here (run has the thread): the BYE comes
    //  after the bounded wait for DRAINED, 100 ms x 3
    zhive_worker_t *worker = zhive_worker_new (broker->endpoint);
    assert_non_null (worker);
    zhive_worker_set_heartbeat (worker, 100, 3);
    assert_int_equal (zhive_worker_register (worker, "nothing", s_nothing, NULL, ZHIVE_SYNC), 0);
    zhive_worker_drain (worker);
    assert_int_equal (zhive_worker_run (worker), 0);
    zhive_worker_destroy (&worker);
    const char *none [] = { NULL };
    testkit_broker_expect_ready (broker, none, 16, getpid ());
    testkit_broker_expect (broker, ZHIVE_DRAINING);
    testkit_broker_expect (broker, ZHIVE_BYE);
    testkit_broker_destroy (&broker);
}

//  A TASK the broker sent before it read DRAINING is on its way when the
//  worker is idle: the worker waits for DRAINED (which the broker sends
//  after everything else), runs that task, and says BYE only after DRAINED
static void
test_drain_waits_for_drained (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 4, testkit_plugin (), NULL, NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_example_functions, 4, getpid ());
    testkit_broker_send_task_int (broker, 1, "sleep", 200);
    testkit_broker_expect_quiet (broker);
    zstr_send (actor, "DRAIN");
    testkit_broker_expect (broker, ZHIVE_DRAINING);
    testkit_broker_expect_done_int (broker, 1, 200);
    //  Idle now, but no DRAINED yet: no BYE
    testkit_broker_expect_quiet (broker);
    testkit_broker_send_task_int (broker, 2, "fib", 10);
    testkit_broker_expect_done_int (broker, 2, 55);
    testkit_broker_expect_quiet (broker);
    testkit_broker_send (broker, ZHIVE_DRAINED, NULL);
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, false, &done), 0);
    assert_int_equal (done, 2);
    testkit_broker_destroy (&broker);
}

static void
s_setup_fast_heartbeat (zhive_worker_t *worker)
{
    zhive_worker_set_heartbeat (worker, 100, 3);
}

//  A broker that never answers DRAINING (an older one): the worker still
//  says BYE once it has been idle for interval x liveness (300 ms here).
//  Task 1 may reach the worker after the DRAIN command does, task 2 comes
//  after DRAINING: both are run first
static void
test_drain_without_drained (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint,      4, testkit_plugin (), NULL, NULL,
                             s_setup_fast_heartbeat };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_example_functions, 4, getpid ());
    testkit_broker_send_task_int (broker, 1, "sleep", 500);
    zstr_send (actor, "DRAIN");
    testkit_broker_expect (broker, ZHIVE_DRAINING);
    testkit_broker_send_task_int (broker, 2, "fib", 10);
    bool seen [2] = { false, false };
    for (int i = 0; i < 2; i++) {
        testkit_broker_expect (broker, ZHIVE_DONE);
        assert_true (broker->in->id == 1 || broker->in->id == 2);
        assert_false (seen [broker->in->id - 1]);
        seen [broker->in->id - 1] = true;
    }
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, false, &done), 0);
    assert_int_equal (done, 2);
    testkit_broker_destroy (&broker);
}

//  ---------------------------------------------------------------------
//  Tests: the zhive-worker program

//  cmocka setup and teardown of the program tests: *state is a
//  testkit_process_t; the teardown stops a process a failed test left
//  running, by its pid, and removes its file
static int
s_process_setup (void **state)
{
    return testkit_process_setup (state);
}

static int
s_process_teardown (void **state)
{
    return testkit_process_teardown (state);
}

static void
test_program_usage (void **state)
{
    testkit_process_t *process = (testkit_process_t *) *state;
    const char *help [] = { NULL, "--help", NULL };
    assert_int_equal (testkit_process_run (process, help, TESTKIT_STDOUT, "usage: zhive-worker"),
                      0);
    const char *bad_option [] = { NULL, "--bogus", NULL };
    assert_int_equal (
        testkit_process_run (process, bad_option, TESTKIT_STDERR, "unknown option '--bogus'"), 2);
    const char *bad_number [] = { NULL, "--concurrency", "many", "--load", "x.so", NULL };
    assert_int_equal (
        testkit_process_run (process, bad_number, TESTKIT_STDERR, "--concurrency needs a number"),
        2);
    const char *no_value [] = { NULL, "--connect", NULL };
    assert_int_equal (testkit_process_run (process, no_value, TESTKIT_STDERR, "needs a value"), 2);
    const char *nothing [] = { NULL, "--connect", "tcp://127.0.0.1:1", NULL };
    assert_int_equal (testkit_process_run (process, nothing, TESTKIT_STDERR, "nothing to serve"),
                      2);
    const char *bad_endpoint [] = { NULL, "--connect", "bogus", "--load", testkit_plugin (), NULL };
    assert_int_equal (
        testkit_process_run (process, bad_endpoint, TESTKIT_STDERR, "not a valid endpoint"), 2);
    //  A bad failover endpoint is refused at start, not when failing over
    const char *bad_failover [] = { NULL,    "--connect", "tcp://127.0.0.1:1", "--connect",
                                    "bogus", "--load",    testkit_plugin (),   NULL };
    assert_int_equal (testkit_process_run (process, bad_failover, TESTKIT_STDERR,
                                           "--connect 'bogus': not a valid endpoint"),
                      2);
    const char *missing [] = {
        NULL, "--connect", "tcp://127.0.0.1:1", "--load", "/nonexistent/libnope.so", NULL
    };
    assert_int_equal (testkit_process_run (process, missing, TESTKIT_STDERR,
                                           "cannot load /nonexistent/libnope.so"),
                      1);
    char refusing [4200];
    snprintf (refusing, sizeof refusing, "%s:bogus", testkit_plugin ());
    const char *refuses [] = { NULL, "--connect", "tcp://127.0.0.1:1", "--load", refusing, NULL };
    assert_int_equal (
        testkit_process_run (process, refuses, TESTKIT_STDERR, "refused to initialise"), 1);
    const char *help_more [] = { NULL, "--help", NULL };
    assert_int_equal (
        testkit_process_run (process, help_more, TESTKIT_STDOUT, "exits with status 70"), 0);
    const char *bad_heartbeat [] = { NULL, "--heartbeat", "0", "--load", "x.so", NULL };
    assert_int_equal (testkit_process_run (process, bad_heartbeat, TESTKIT_STDERR,
                                           "--heartbeat needs milliseconds"),
                      2);
    const char *bad_liveness [] = { NULL, "--liveness", "1001", "--load", "x.so", NULL };
    assert_int_equal (testkit_process_run (process, bad_liveness, TESTKIT_STDERR,
                                           "--liveness needs a number 1..1000"),
                      2);
    const char *bad_max [] = { NULL, "--max-tasks", "-1", "--load", "x.so", NULL };
    assert_int_equal (
        testkit_process_run (process, bad_max, TESTKIT_STDERR, "--max-tasks needs a number"), 2);
    const char *zygote_name [] = { NULL, "--zygote", "--name", "x", "--load", "x.so", NULL };
    assert_int_equal (testkit_process_run (process, zygote_name, TESTKIT_STDERR,
                                           "--name cannot be used with --zygote"),
                      2);
    //  A zygote checks its plugins before it serves
    const char *zygote_missing [] = { NULL, "--zygote", "--load", "/nonexistent/libnope.so", NULL };
    assert_int_equal (testkit_process_run (process, zygote_missing, TESTKIT_STDERR,
                                           "cannot load /nonexistent/libnope.so"),
                      1);
}

//  The real process: READY, tasks, 200 async sleeps, SIGTERM
static void
test_program_serves (void **state)
{
    testkit_process_t *process = (testkit_process_t *) *state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    const char *argv [] = { NULL,     "--connect",       broker->endpoint,
                            "--load", testkit_plugin (), "--concurrency",
                            "100",    "--name",          "proc-1",
                            NULL };
    testkit_process_start (process, argv, TESTKIT_STDOUT | TESTKIT_STDERR);
    testkit_broker_expect_ready (broker, s_example_functions, 100, process->pid);
    assert_string_equal (broker->in->worker, "proc-1");
    assert_int_equal (broker->in->pid, process->pid);

    testkit_broker_send_task_int (broker, 1, "fib", 20);
    testkit_broker_expect_done_int (broker, 1, 6765);

    //  200 sleep (200) with credit 100: about 400 ms, serial would be 40 s
    const int total = 200;
    bool answered [200] = { false };
    int sent = 0, received = 0, credit = 100;
    int64_t start = zclock_mono ();
    while (received < total) {
        while (credit > 0 && sent < total) {
            testkit_broker_send_task_int (broker, 1000 + (uint64_t) sent, "sleep", 200);
            sent++;
            credit--;
        }
        testkit_broker_expect (broker, ZHIVE_DONE);
        uint64_t ticket = broker->in->id;
        assert_true (ticket >= 1000 && ticket < 1000 + (uint64_t) total);
        assert_false (answered [ticket - 1000]);
        answered [ticket - 1000] = true;
        received++;
        credit++;
    }
    int64_t elapsed = zclock_mono () - start;
    assert_true (elapsed < 20000);
    //  Nothing more arrives: every ticket was answered exactly once
    testkit_broker_send (broker, ZHIVE_PING, NULL);
    testkit_broker_expect (broker, ZHIVE_PONG);

    //  SIGTERM drains: DRAINING, nothing is in flight, DRAINED, BYE
    int status = testkit_process_stop (process);
    testkit_broker_expect_draining (broker);
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    free (testkit_process_output (process));
    testkit_broker_destroy (&broker);
}

//  crash () aborts the process
static void
test_program_crash (void **state)
{
    testkit_process_t *process = (testkit_process_t *) *state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    const char *argv [] = {
        NULL, "--connect", broker->endpoint, "--load", testkit_plugin (), NULL
    };
    testkit_process_start (process, argv, TESTKIT_STDOUT | TESTKIT_STDERR);
    testkit_broker_expect_ready (broker, s_example_functions, 16, process->pid);
    testkit_broker_send_task (broker, 1, "crash", "\x90", 1);
    int status = testkit_process_wait (process, S_TIMEOUT);
    if (status == -1)
        status = testkit_process_stop (process);
    free (testkit_process_output (process));
    assert_true (WIFSIGNALED (status));
    assert_int_equal (WTERMSIG (status), SIGABRT);
    testkit_broker_destroy (&broker);
}

//  A sync handler past its deadline plus the grace (max (2 s, 2 x 100 ms x
//  3)) ends the process with status 70 and says why; one in time does not,
//  and async handlers are not bounded
static void
test_program_watchdog (void **state)
{
    testkit_process_t *process = (testkit_process_t *) *state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    const char *argv [] = { NULL,     "--connect",       broker->endpoint,
                            "--load", testkit_plugin (), "--heartbeat",
                            "100",    "--liveness",      "3",
                            NULL };
    testkit_process_start (process, argv, TESTKIT_STDERR);
    testkit_broker_expect_ready (broker, s_example_functions, 16, process->pid);
    testkit_broker_send_task_int_timeout (broker, 1, "fib", 20, 50);
    testkit_broker_expect_done_int (broker, 1, 6765);
    //  Outlives the fib's deadline plus grace: its watchdog was disarmed
    testkit_broker_send_task_int_timeout (broker, 2, "sleep", 2500, 100);
    testkit_broker_expect_done_int (broker, 2, 2500);

    //  fib (60) would run for ages
    int64_t start = zclock_mono ();
    testkit_broker_send_task_int_timeout (broker, 3, "fib", 60, 100);
    int status = testkit_process_wait (process, S_TIMEOUT);
    int64_t elapsed = zclock_mono () - start;
    if (status == -1)
        status = testkit_process_stop (process);
    char *output = testkit_process_output (process);
    if (!strstr (output, "zhive-worker: handler 'fib' overran its deadline by ") ||
        !strstr (output, " ms; exiting so the pool can replace this worker\n")) {
        fprintf (stderr, "output: %s\n", output);
        fail_msg ("no overrun message");
    }
    free (output);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 70);
    if (elapsed < 2000 || elapsed > 8000)
        fail_msg ("the watchdog fired after %d ms, not about 2100", (int) elapsed);
    testkit_broker_destroy (&broker);
}

//  SIGTERM drains; a second SIGTERM, or SIGINT, stops at once
static void
test_program_signals (void **state)
{
    testkit_process_t *process = (testkit_process_t *) *state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    const char *argv [] = {
        NULL, "--connect", broker->endpoint, "--load", testkit_plugin (), NULL
    };

    testkit_process_start (process, argv, TESTKIT_STDERR);
    testkit_broker_expect_ready (broker, s_example_functions, 16, process->pid);
    testkit_broker_send_task_int (broker, 1, "sleep", 500);
    testkit_broker_expect_quiet (broker);
    kill (process->pid, SIGTERM);
    testkit_broker_expect_draining (broker);
    testkit_broker_expect_done_int (broker, 1, 500);
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    int status = testkit_process_wait (process, S_TIMEOUT);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    free (testkit_process_output (process));

    testkit_process_start (process, argv, TESTKIT_STDERR);
    testkit_broker_expect_ready (broker, s_example_functions, 16, process->pid);
    testkit_broker_send_task_int (broker, 2, "sleep", 60000);
    testkit_broker_expect_quiet (broker);
    kill (process->pid, SIGTERM);
    testkit_broker_expect (broker, ZHIVE_DRAINING);
    kill (process->pid, SIGTERM);
    testkit_broker_expect (broker, ZHIVE_BYE);
    status = testkit_process_wait (process, S_TIMEOUT);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    free (testkit_process_output (process));

    testkit_process_start (process, argv, TESTKIT_STDERR);
    testkit_broker_expect_ready (broker, s_example_functions, 16, process->pid);
    testkit_broker_send_task_int (broker, 3, "sleep", 60000);
    testkit_broker_expect_quiet (broker);
    kill (process->pid, SIGINT);
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    status = testkit_process_wait (process, S_TIMEOUT);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    free (testkit_process_output (process));
    testkit_broker_destroy (&broker);
}

//  --max-tasks 2: READY says 2, two tasks, BYE, exit 0
static void
test_program_max_tasks (void **state)
{
    testkit_process_t *process = (testkit_process_t *) *state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    const char *argv [] = {
        NULL, "--connect", broker->endpoint, "--load", testkit_plugin (), "--max-tasks", "2", NULL
    };
    testkit_process_start (process, argv, TESTKIT_STDERR);
    testkit_broker_expect_ready (broker, s_example_functions, 16, process->pid);
    assert_int_equal (broker->in->max_tasks, 2);
    testkit_broker_send_task_int (broker, 1, "fib", 10);
    testkit_broker_send_task_int (broker, 2, "fib", 11);
    testkit_broker_expect_done_int (broker, 1, 55);
    testkit_broker_expect_done_int (broker, 2, 89);
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "max-tasks reached");
    int status = testkit_process_wait (process, S_TIMEOUT);
    if (status == -1)
        status = testkit_process_stop (process);
    free (testkit_process_output (process));
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    testkit_broker_destroy (&broker);
}

//  Reads "pid PID" from the zygote
static pid_t
s_zygote_pid (testkit_process_t *process)
{
    char line [128] = "";
    int pid = 0;
    if (testkit_process_line (process, line, sizeof line, S_TIMEOUT) ||
        sscanf (line, "pid %d", &pid) != 1 || pid <= 0)
        fail_msg ("expected 'pid PID' from the zygote, got '%s'", line);
    return (pid_t) pid;
}

//  Reads "exit PID STATUS" from the zygote; checks the pid, returns the status
static int
s_zygote_exit (testkit_process_t *process, pid_t pid)
{
    char line [128] = "";
    int got = 0, status = 0;
    if (testkit_process_line (process, line, sizeof line, S_TIMEOUT) ||
        sscanf (line, "exit %d %d", &got, &status) != 2 || got != (int) pid)
        fail_msg ("expected 'exit %d STATUS' from the zygote, got '%s'", (int) pid, line);
    return status;
}

//  The zygote: two spawns, two workers with their own pids that serve; one
//  killed is reported; end of input stops the other (it drains) and the
//  zygote, leaving no process behind
static void
test_program_zygote (void **state)
{
    testkit_process_t *process = (testkit_process_t *) *state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    const char *argv [] = { NULL,
                            "--zygote",
                            "--connect",
                            broker->endpoint,
                            "--load",
                            testkit_plugin (),
                            "--concurrency",
                            "3",
                            "--heartbeat",
                            "500",
                            "--liveness",
                            "3",
                            "--max-tasks",
                            "0",
                            NULL };
    testkit_process_start_piped (process, argv);
    assert_int_equal (write (process->input, "spawn\nspawn\n", 12), 12);
    pid_t pids [2];
    for (int i = 0; i < 2; i++) {
        pids [i] = s_zygote_pid (process);
        process->others [i] = pids [i];
    }
    assert_true (pids [0] != pids [1] && pids [0] != process->pid && pids [1] != process->pid);

    //  Each says READY with its pid, and serves
    uint8_t routing [2][256];
    size_t routing_size [2] = { 0, 0 };
    for (int ready = 0; ready < 2;) {
        broker->worker_size = 0;
        int command = testkit_broker_recv (broker);
        if (command == -1)
            fail_msg ("expected READY from the zygote's workers");
        int which = broker->in->pid == (uint64_t) pids [0]   ? 0
                    : broker->in->pid == (uint64_t) pids [1] ? 1
                                                             : -1;
        if (command != ZHIVE_READY || which < 0 || routing_size [which])
            continue;
        assert_int_equal (broker->in->concurrency, 3);
        assert_int_equal (broker->in->functions_count, 5);
        memcpy (routing [which], broker->in->routing, broker->in->routing_size);
        routing_size [which] = broker->in->routing_size;
        ready++;
    }
    for (int i = 0; i < 2; i++) {
        memcpy (broker->worker, routing [i], routing_size [i]);
        broker->worker_size = routing_size [i];
        testkit_broker_send_task_int (broker, 1 + (uint64_t) i, "fib", 20);
        testkit_broker_expect_done_int (broker, 1 + (uint64_t) i, 6765);
    }

    //  A worker that dies is reported with its raw wait status
    kill (pids [0], SIGKILL);
    int status = s_zygote_exit (process, pids [0]);
    assert_true (WIFSIGNALED (status));
    assert_int_equal (WTERMSIG (status), SIGKILL);
    process->others [0] = 0;

    //  End of input: the other worker gets SIGTERM and drains, the zygote
    //  reports it and exits 0
    close (process->input);
    process->input = -1;
    testkit_broker_expect_draining (broker);
    testkit_broker_expect (broker, ZHIVE_BYE);
    status = s_zygote_exit (process, pids [1]);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    process->others [1] = 0;
    char line [128];
    assert_int_equal (testkit_process_line (process, line, sizeof line, S_TIMEOUT), -1);
    status = testkit_process_wait (process, S_TIMEOUT);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    //  Both workers were reaped by the zygote: no process is left
    assert_int_equal (kill (pids [0], 0), -1);
    assert_int_equal (kill (pids [1], 0), -1);
    free (testkit_process_output (process));
    testkit_broker_destroy (&broker);
}

//  A zygote whose parent dies stops its workers and exits
static void
test_program_zygote_orphan (void **state)
{
    testkit_process_t *process = (testkit_process_t *) *state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    char program [4096];
    const char *argv [] = { testkit_program ("zhive-worker", program, sizeof program),
                            "--zygote",
                            "--connect",
                            broker->endpoint,
                            "--load",
                            testkit_plugin (),
                            NULL };
    int input [2], lines [2], report [2];
    assert_int_equal (testkit_pipe (input), 0);
    assert_int_equal (testkit_pipe (lines), 0);
    assert_int_equal (testkit_pipe (report), 0);
    //  The zygote's parent: starts it, tells its pid, waits to be killed
    process->pid = fork ();
    assert_true (process->pid >= 0);
    if (process->pid == 0) {
        pid_t zygote = fork ();
        if (zygote == 0) {
            int null = open ("/dev/null", O_WRONLY);
            dup2 (input [0], STDIN_FILENO);
            dup2 (lines [1], STDOUT_FILENO);
            dup2 (null, STDERR_FILENO);
            execv (argv [0], (char *const *) argv);
            _exit (127);
        }
        ssize_t rc = write (report [1], &zygote, sizeof zygote);
        (void) rc;
        while (true)
            pause ();
    }
    close (input [0]);
    close (lines [1]);
    close (report [1]);
    process->input = input [1];
    process->lines = lines [0];
    pid_t zygote = 0;
    assert_int_equal (read (report [0], &zygote, sizeof zygote), sizeof zygote);
    close (report [0]);
    process->others [2] = zygote;

    //  A worker answers for the zygote being ready; then its parent dies,
    //  and the worker drains (the broker answers DRAINING)
    assert_int_equal (write (process->input, "spawn\n", 6), 6);
    pid_t worker = s_zygote_pid (process);
    process->others [0] = worker;
    testkit_broker_expect_ready (broker, s_example_functions, 16, worker);
    kill (process->pid, SIGKILL);
    waitpid (process->pid, NULL, 0);
    process->pid = 0;
    testkit_broker_expect_draining (broker);
    int status = s_zygote_exit (process, worker);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    process->others [0] = 0;
    char line [128];
    assert_int_equal (testkit_process_line (process, line, sizeof line, S_TIMEOUT), -1);
    process->others [2] = 0;
    testkit_broker_destroy (&broker);
}

//  ---------------------------------------------------------------------
//  Tests: broker incarnations (WELCOME)

#define S_HELD_MAX 16

//  Jobs held by hold / hold_bare until release; the cancel count of hold
static struct {
    zhive_job_t *jobs [S_HELD_MAX];    //  Held jobs, NULL where none
    int cancels;                       //  Times hold's cancel function ran
} s_held;

//  Forgets a held job
static void
s_held_forget (zhive_job_t *job)
{
    for (int i = 0; i < S_HELD_MAX; i++)
        if (s_held.jobs [i] == job)
            s_held.jobs [i] = NULL;
}

static void
s_held_cancel (zhive_job_t *job, void *state)
{
    (void) state;
    s_held_forget (job);
    s_held.cancels++;
}

//  hold (): async, answers "held" only when release runs; hold has a
//  cancel function, hold_bare none
static int
s_hold (zhive_job_t *job, void *state)
{
    for (int i = 0; i < S_HELD_MAX; i++)
        if (!s_held.jobs [i]) {
            s_held.jobs [i] = job;
            if (state)
                zhive_job_on_cancel (job, s_held_cancel, NULL);
            return 0;
        }
    return zhive_job_fail (job, "TestError", "too many held jobs");
}

//  release (): completes every held job, then answers how many
static int
s_release (zhive_job_t *job, void *state)
{
    (void) state;
    int64_t released = 0;
    for (int i = 0; i < S_HELD_MAX; i++)
        if (s_held.jobs [i]) {
            zhive_job_t *held = s_held.jobs [i];
            s_held.jobs [i] = NULL;
            zhive_pack_str (zhive_job_reply (held), "held");
            zhive_job_complete (held);
            released++;
        }
    zhive_pack_int (zhive_job_reply (job), released);
    return 0;
}

//  cancels (): how often hold's cancel function ran
static int
s_cancels (zhive_job_t *job, void *state)
{
    (void) state;
    zhive_pack_int (zhive_job_reply (job), s_held.cancels);
    return 0;
}

static void
s_setup_hold (zhive_worker_t *worker)
{
    memset (&s_held, 0, sizeof s_held);
    assert_int_equal (zhive_worker_register (worker, "hold", s_hold, &s_held, ZHIVE_ASYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "hold_bare", s_hold, NULL, ZHIVE_ASYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "release", s_release, NULL, ZHIVE_SYNC), 0);
    assert_int_equal (zhive_worker_register (worker, "cancels", s_cancels, NULL, ZHIVE_SYNC), 0);
}

static const char *s_hold_functions [] = { "echo", "fib",       "sleep",   "fail",    "crash",
                                           "hold", "hold_bare", "release", "cancels", NULL };

//  WELCOME [incarnation], as a broker answers READY
static void
s_send_welcome (testkit_broker_t *self, uint64_t incarnation)
{
    zhive_proto_t *out = self->out;
    memcpy (out->routing, self->worker, self->worker_size);
    out->routing_size = self->worker_size;
    out->command = ZHIVE_WELCOME;
    out->id = incarnation;
    assert_int_equal (zhive_proto_send (out, self->router), 0);
}

//  The broker restarts while tasks of its incarnation A run: the WELCOME
//  of incarnation B ends them without answers (hold and sleep cancelled,
//  hold_bare left to run on unanswered, a waiting sleep dropped), their
//  slots are free, and tasks of B are answered
static void
test_incarnation_restart (void **state)
{
    (void) state;
    const uint64_t a = (uint64_t) 7 << 32, b = (uint64_t) 8 << 32;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    char *endpoint = strdup (broker->endpoint);
    s_worker_args_t args = { endpoint, 3, testkit_plugin (), NULL, NULL, s_setup_hold };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_hold_functions, 3, getpid ());
    //  No WELCOME yet: the first ticket tells the worker the incarnation
    testkit_broker_send_task (broker, a | 1, "hold", "\x90", 1);
    testkit_broker_send_task (broker, a | 2, "hold_bare", "\x90", 1);
    testkit_broker_send_task_int (broker, a | 3, "sleep", 60000);
    testkit_broker_send_task_int (broker, a | 4, "sleep", 1);    //  Waits for a slot
    testkit_broker_expect_quiet (broker);

    testkit_broker_destroy (&broker);
    broker = testkit_broker_new (endpoint);
    testkit_broker_expect_ready (broker, s_hold_functions, 3, getpid ());
    s_send_welcome (broker, 8);
    //  The orphaned hold_bare is released, and its answer dropped; had any
    //  answer of A been sent, it would come before this one
    testkit_broker_send_task (broker, b | 1, "release", "\x90", 1);
    testkit_broker_expect_done_int (broker, b | 1, 1);
    testkit_broker_send_task (broker, b | 2, "cancels", "\x90", 1);
    testkit_broker_expect_done_int (broker, b | 2, 1);
    //  All three slots are free: the fibs do not wait for the sleep
    testkit_broker_send_task_int (broker, b | 3, "sleep", 500);
    testkit_broker_send_task_int (broker, b | 4, "fib", 10);
    testkit_broker_send_task_int (broker, b | 5, "fib", 11);
    testkit_broker_expect_done_int (broker, b | 4, 55);
    testkit_broker_expect_done_int (broker, b | 5, 89);
    testkit_broker_expect_done_int (broker, b | 3, 500);
    //  A CANCEL for a ticket of A finds nothing; a TASK of A is not run
    testkit_broker_send_cancel (broker, a | 3);
    testkit_broker_send_task_int (broker, a | 5, "fib", 10);
    testkit_broker_expect_quiet (broker);
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, true, &done), 0);
    testkit_broker_expect (broker, ZHIVE_BYE);
    assert_int_equal (done, 5);    //  Only the tasks of B were answered
    testkit_broker_destroy (&broker);
    free (endpoint);
}

//  A reconnect to the same broker (WELCOME of the same incarnation): the
//  job running meanwhile goes on and its answer arrives
static void
test_incarnation_same (void **state)
{
    (void) state;
    const uint64_t a = (uint64_t) 7 << 32;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    char *endpoint = strdup (broker->endpoint);
    s_worker_args_t args = { endpoint, 3, testkit_plugin (), NULL, NULL, s_setup_hold };
    zactor_t *actor = s_worker_start (&args);
    testkit_broker_expect_ready (broker, s_hold_functions, 3, getpid ());
    s_send_welcome (broker, 7);
    testkit_broker_send_task (broker, a | 1, "hold", "\x90", 1);
    testkit_broker_expect_quiet (broker);

    testkit_broker_destroy (&broker);
    broker = testkit_broker_new (endpoint);
    testkit_broker_expect_ready (broker, s_hold_functions, 3, getpid ());
    s_send_welcome (broker, 7);
    testkit_broker_send_task (broker, a | 2, "release", "\x90", 1);
    testkit_broker_expect_done (broker, a | 1, "\xa4held", 5);
    testkit_broker_expect_done_int (broker, a | 2, 1);
    testkit_broker_send_task (broker, a | 3, "cancels", "\x90", 1);
    testkit_broker_expect_done_int (broker, a | 3, 0);
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, true, &done), 0);
    assert_int_equal (done, 3);
    testkit_broker_destroy (&broker);
    free (endpoint);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_new_and_register),
        cmocka_unit_test (test_load_errors),
        cmocka_unit_test (test_embedded_plugin),
        cmocka_unit_test (test_embedded_direct),
        cmocka_unit_test (test_queued_beyond_slots),
        cmocka_unit_test (test_broker_bye),
        cmocka_unit_test (test_stop_before_run),
        cmocka_unit_test (test_reconnect),
        cmocka_unit_test (test_heartbeat_long_handler),
        cmocka_unit_test (test_heartbeat_silent_broker),
        cmocka_unit_test (test_cancel),
        cmocka_unit_test (test_max_tasks),
        cmocka_unit_test (test_drain),
        cmocka_unit_test (test_drain_waits_for_drained),
        cmocka_unit_test (test_drain_without_drained),
        cmocka_unit_test_setup_teardown (test_program_usage, s_process_setup, s_process_teardown),
        cmocka_unit_test_setup_teardown (test_program_serves, s_process_setup, s_process_teardown),
        cmocka_unit_test_setup_teardown (test_program_crash, s_process_setup, s_process_teardown),
        cmocka_unit_test_setup_teardown (test_program_watchdog, s_process_setup,
                                         s_process_teardown),
        cmocka_unit_test_setup_teardown (test_program_signals, s_process_setup, s_process_teardown),
        cmocka_unit_test_setup_teardown (test_program_max_tasks, s_process_setup,
                                         s_process_teardown),
        cmocka_unit_test_setup_teardown (test_program_zygote, s_process_setup, s_process_teardown),
        cmocka_unit_test_setup_teardown (test_program_zygote_orphan, s_process_setup,
                                         s_process_teardown),
        cmocka_unit_test (test_incarnation_restart),
        cmocka_unit_test (test_incarnation_same),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
