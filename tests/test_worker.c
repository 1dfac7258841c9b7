/*  test_worker - the worker class and zhive-worker, against a fake broker

    The fake broker is a ROUTER on tcp://127.0.0.1:* speaking zhive_proto.
    Workers run either embedded (a zactor thread running zhive_worker_run,
    with the examples plugin or with handlers registered here) or as the
    real zhive-worker process ($ZHIVE_WORKER), started with fork/exec and
    stopped by its pid. Every receive has a timeout, so a bug fails a test
    instead of hanging it. */
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

#define S_TIMEOUT 10000    //  ms: the longest any single receive may wait

//  ---------------------------------------------------------------------
//  The fake broker

typedef struct {
    zsock_t *router;         //  The worker endpoint
    char *endpoint;          //  Where it is bound (port resolved)
    zhive_proto_t *in;       //  Last message received
    zhive_proto_t *out;      //  Message to send
    uint8_t worker [256];    //  Routing id of the worker (from READY)
    size_t worker_size;      //  Its size; 0 before READY
} s_broker_t;

static s_broker_t *
s_broker_new (const char *endpoint)
{
    s_broker_t *self = (s_broker_t *) calloc (1, sizeof (s_broker_t));
    assert_non_null (self);
    self->router = zsock_new (ZMQ_ROUTER);
    assert_non_null (self->router);
    zsock_set_rcvtimeo (self->router, S_TIMEOUT);
    zsock_set_sndtimeo (self->router, S_TIMEOUT);
    //  Rebinding a port just closed may need a moment: the close is async
    int port = -1;
    for (int attempt = 0; attempt < 100 && port <= 0; attempt++) {
        port = zsock_bind (self->router, "%s", endpoint ? endpoint : "tcp://127.0.0.1:*");
        if (port <= 0)
            zclock_sleep (20);
    }
    assert_true (port > 0);
    self->endpoint = strdup (zsock_endpoint (self->router));
    self->in = zhive_proto_new ();
    self->out = zhive_proto_new ();
    return self;
}

static void
s_broker_destroy (s_broker_t **self_p)
{
    s_broker_t *self = *self_p;
    zsock_destroy (&self->router);
    zhive_proto_destroy (&self->in);
    zhive_proto_destroy (&self->out);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

//  Receives one message from the worker; returns its command, -1 on
//  timeout, -2 if malformed. Messages from other peers are skipped: when
//  tests run in parallel, a worker of another test may reconnect to a port
//  that was its broker's and is ours now.
static int
s_recv (s_broker_t *self)
{
    for (int stray = 0; stray < 100; stray++) {
        int rc = zhive_proto_recv (self->in, self->router, 0);
        if (rc == -1)
            return -1;
        if (self->worker_size == 0 ||
            (self->in->routing_size == self->worker_size &&
             memcmp (self->in->routing, self->worker, self->worker_size) == 0))
            return rc == 0 ? self->in->command : rc;
    }
    return -1;
}

//  Receives a message and checks its command
static void
s_expect (s_broker_t *self, int command)
{
    int rc = s_recv (self);
    if (rc != command)
        fail_msg ("expected %s, got %d (%s) %s", zhive_proto_command_name (command), rc,
                  rc > 0 ? zhive_proto_command_name (rc) : "no message", self->in->error);
}

//  Expects READY from the worker with this pid, offering `functions`
//  (NULL-terminated, in order) with this concurrency; remembers the
//  worker's routing id. READYs of other processes are skipped.
static void
s_expect_ready (s_broker_t *self, const char *const *functions, uint32_t concurrency, pid_t pid)
{
    zhive_proto_t *in = self->in;
    self->worker_size = 0;
    int rc = -1;
    for (int stray = 0; stray < 100; stray++) {
        rc = s_recv (self);
        if (rc == -1 || (rc == ZHIVE_READY && in->pid == (uint64_t) pid))
            break;
    }
    if (rc != ZHIVE_READY || in->pid != (uint64_t) pid)
        fail_msg ("expected READY from pid %d, got %d %s", (int) pid, rc, in->error);
    assert_int_equal (in->concurrency, concurrency);
    size_t count = 0;
    while (functions [count])
        count++;
    assert_int_equal (in->functions_count, count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal (in->functions [i], functions [i]);
    memcpy (self->worker, in->routing, in->routing_size);
    self->worker_size = in->routing_size;
}

static void
s_send_task (s_broker_t *self, uint64_t ticket, const char *function, const void *args, size_t size)
{
    zhive_proto_t *out = self->out;
    memcpy (out->routing, self->worker, self->worker_size);
    out->routing_size = self->worker_size;
    out->command = ZHIVE_TASK;
    out->id = ticket;
    zhive_proto_set_name (out->function, function);
    assert_int_equal (zhive_proto_set_payload (out, args, size), 0);
    assert_int_equal (zhive_proto_send (out, self->router), 0);
}

static void
s_send_task_pack (s_broker_t *self, uint64_t ticket, const char *function, zhive_pack_t *args)
{
    s_send_task (self, ticket, function, zhive_pack_data (args), zhive_pack_size (args));
}

//  Sends a task with one integer argument
static void
s_send_task_int (s_broker_t *self, uint64_t ticket, const char *function, int64_t value)
{
    zhive_pack_t *args = zhive_pack_new ();
    zhive_pack_array (args, 1);
    zhive_pack_int (args, value);
    s_send_task_pack (self, ticket, function, args);
    zhive_pack_destroy (&args);
}

static void
s_send_command (s_broker_t *self, int command, const char *message)
{
    zhive_proto_t *out = self->out;
    memcpy (out->routing, self->worker, self->worker_size);
    out->routing_size = self->worker_size;
    out->command = command;
    zhive_proto_set_message (out, message);
    assert_int_equal (zhive_proto_send (out, self->router), 0);
}

//  Sends raw frames to the worker, after its routing id
static void
s_send_raw (s_broker_t *self, int frames, ...)
{
    void *handle = zsock_resolve (self->router);
    assert_true (zmq_send (handle, self->worker, self->worker_size, ZMQ_SNDMORE) >= 0);
    va_list args;
    va_start (args, frames);
    for (int i = 0; i < frames; i++) {
        const void *data = va_arg (args, const void *);
        size_t size = va_arg (args, size_t);
        assert_true (zmq_send (handle, data, size, i < frames - 1 ? ZMQ_SNDMORE : 0) >= 0);
    }
    va_end (args);
}

//  Expects DONE for ticket with exactly these value bytes
static void
s_expect_done (s_broker_t *self, uint64_t ticket, const void *value, size_t size)
{
    s_expect (self, ZHIVE_DONE);
    assert_int_equal (self->in->id, ticket);
    assert_int_equal (zmq_msg_size (&self->in->payload), size);
    assert_memory_equal (zmq_msg_data (&self->in->payload), value, size);
}

static void
s_expect_done_int (s_broker_t *self, uint64_t ticket, int64_t value)
{
    zhive_pack_t *pack = zhive_pack_new ();
    zhive_pack_int (pack, value);
    s_expect_done (self, ticket, zhive_pack_data (pack), zhive_pack_size (pack));
    zhive_pack_destroy (&pack);
}

//  Expects FAILED for ticket with this type and a message containing `part`
static void
s_expect_failed (s_broker_t *self, uint64_t ticket, const char *type, const char *part)
{
    s_expect (self, ZHIVE_FAILED);
    assert_int_equal (self->in->id, ticket);
    assert_string_equal (self->in->type, type);
    assert_non_null (self->in->message);
    if (!strstr (self->in->message, part))
        fail_msg ("message '%s' does not contain '%s'", self->in->message, part);
}

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
//  An embedded worker in a zactor thread. The test sends "STOP" on the
//  pipe (the worker loop reads it and calls zhive_worker_stop); the actor
//  then reports run's return code and the done count, and waits for $TERM.

typedef struct {
    const char *endpoint;    //  Broker's worker endpoint
    int concurrency;         //  0: default
    const char *plugin;      //  Plugin to load, or NULL
    const char *name;        //  Worker name, or NULL for the default
    s_state_t *direct;       //  Register the direct handlers with this state
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

static const char *
s_plugin (void)
{
    const char *plugin = getenv ("ZHIVE_PLUGIN");
    if (!plugin)
        fail_msg ("ZHIVE_PLUGIN is not set");
    return plugin;
}

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
    char *dir = strdup (s_plugin ());
    char *slash = strrchr (dir, '/');
    assert_non_null (slash);
    *slash = 0;
    char path [4096];
    snprintf (path, sizeof path, "%s/libzhive.so", dir);
    free (dir);
    assert_int_equal (zhive_worker_load (worker, path, NULL), -1);
    //  The examples plugin refuses arguments
    assert_int_equal (zhive_worker_load (worker, s_plugin (), "bogus"), -1);
    //  Nothing registered: run refuses
    assert_int_equal (zhive_worker_run (worker), -1);
    zhive_worker_destroy (&worker);
}

//  The examples plugin, embedded: every function, bad args, bad frames
static void
test_embedded_plugin (void **state)
{
    (void) state;
    s_broker_t *broker = s_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 4, s_plugin (), NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_example_functions, 4, getpid ());

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
    s_send_task_pack (broker, 1, "echo", pack);
    s_expect_done (broker, 1, zhive_pack_data (pack), zhive_pack_size (pack));
    s_send_task (broker, 2, "echo", "\x90", 1);
    s_expect_done (broker, 2, "\x90", 1);

    //  fib
    s_send_task_int (broker, 3, "fib", 20);
    s_expect_done_int (broker, 3, 6765);
    s_send_task_int (broker, 4, "fib", 0);
    s_expect_done_int (broker, 4, 0);
    s_send_task_int (broker, 5, "fib", 93);
    s_expect_failed (broker, 5, "BadArguments", "fib expects one integer argument 0..92, got 93");
    zhive_pack_reset (pack);
    zhive_pack_array (pack, 1);
    zhive_pack_str (pack, "x");
    s_send_task_pack (broker, 6, "fib", pack);
    s_expect_failed (broker, 6, "BadArguments", "got a string");
    s_send_task (broker, 7, "fib", "\x92\x01\x02", 3);
    s_expect_failed (broker, 7, "BadArguments", "got 2 arguments");

    //  fail
    zhive_pack_reset (pack);
    zhive_pack_array (pack, 1);
    zhive_pack_str (pack, "boom: it broke");
    s_send_task_pack (broker, 8, "fail", pack);
    s_expect_failed (broker, 8, "ExampleError", "boom: it broke");
    assert_string_equal (broker->in->message, "boom: it broke");
    s_send_task_int (broker, 9, "fail", 3);
    s_expect_failed (broker, 9, "BadArguments", "fail expects one string argument");

    //  sleep: async, answers ms; bad arguments
    s_send_task_int (broker, 10, "sleep", 20);
    s_expect_done_int (broker, 10, 20);
    s_send_task_int (broker, 11, "sleep", 0);
    s_expect_done_int (broker, 11, 0);
    s_send_task_int (broker, 12, "sleep", -1);
    s_expect_failed (broker, 12, "BadArguments", "sleep expects one integer argument");

    //  Unknown function
    s_send_task (broker, 13, "nope", "\x90", 1);
    s_expect_failed (broker, 13, "UnknownFunction", "'nope'");

    //  Args that are not one valid msgpack array: Malformed, and the
    //  worker still serves the next task
    s_send_task (broker, 14, "echo", "\x05", 1);
    s_expect_failed (broker, 14, "Malformed", "not one valid msgpack array");
    s_send_task (broker, 15, "echo", "\xc1", 1);
    s_expect_failed (broker, 15, "Malformed", "echo");
    s_send_task (broker, 16, "echo", "\x91\x01\x02", 3);
    s_expect_failed (broker, 16, "Malformed", "echo");
    s_send_task (broker, 17, "echo", "\x92\x01", 2);
    s_expect_failed (broker, 17, "Malformed", "echo");
    //  Nested deeper than msgpack-c unpacks (but within what skip accepts)
    uint8_t deep [41];
    memset (deep, 0x91, 40);
    deep [40] = 0x01;
    s_send_task (broker, 18, "echo", deep, sizeof deep);
    s_expect_failed (broker, 18, "Malformed", "echo");
    s_send_task (broker, 19, "echo", "\x91\x07", 2);
    s_expect_done (broker, 19, "\x91\x07", 2);

    //  Garbage frames from the broker side are dropped; the worker goes on
    const uint8_t task_sig [5] = { 'Z', 'H', 'V', 1, ZHIVE_TASK };
    const uint8_t bad_version [5] = { 'Z', 'H', 'V', 9, ZHIVE_TASK };
    const uint8_t unknown [5] = { 'Z', 'H', 'V', 1, 0x77 };
    const uint8_t done_sig [5] = { 'Z', 'H', 'V', 1, ZHIVE_DONE };
    s_send_raw (broker, 1, "hello", (size_t) 5);
    s_send_raw (broker, 2, bad_version, sizeof bad_version, "\x92\x01\xa1x", (size_t) 4);
    s_send_raw (broker, 2, task_sig, sizeof task_sig, "\x07", (size_t) 1);
    s_send_raw (broker, 2, task_sig, sizeof task_sig, "\x92\x01\xa1x", (size_t) 4);
    s_send_raw (broker, 3, task_sig, sizeof task_sig, "\x92\x01\xa1x", (size_t) 4, "", (size_t) 0);
    s_send_raw (broker, 4, task_sig, sizeof task_sig, "\x92\x01\xa1x", (size_t) 4, "\x90",
                (size_t) 1, "\x90", (size_t) 1);
    s_send_raw (broker, 2, unknown, sizeof unknown, "\x90", (size_t) 1);
    s_send_raw (broker, 3, done_sig, sizeof done_sig, "\x91\x01", (size_t) 2, "\xc0", (size_t) 1);
    s_send_command (broker, ZHIVE_PING, NULL);
    s_expect (broker, ZHIVE_PONG);
    s_send_task (broker, 20, "echo", "\x91\xa2hi", 4);
    s_expect_done (broker, 20, "\x91\xa2hi", 4);

    //  A sleep still pending when the worker stops is dropped (and freed)
    s_send_task_int (broker, 21, "sleep", 60000);
    s_send_command (broker, ZHIVE_PING, NULL);
    s_expect (broker, ZHIVE_PONG);
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, true, &done), 0);
    s_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    assert_int_equal (done, 20);    //  Tickets 1..20 were answered
    zhive_pack_destroy (&pack);
    s_broker_destroy (&broker);
}

//  Handlers registered directly in an embedded worker, no plugin
static void
test_embedded_direct (void **state)
{
    (void) state;
    s_broker_t *broker = s_broker_new (NULL);
    s_state_t counter = { 0 };
    s_worker_args_t args = { broker->endpoint, 0, NULL, "direct-worker", &counter };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_direct_functions, 16, getpid ());
    assert_string_equal (broker->in->worker, "direct-worker");

    s_send_task (broker, 1, "add", "\x93\x01\x02\x03", 4);
    s_expect_done_int (broker, 1, 6);
    s_send_task (broker, 2, "add", "\x92\x01\xc0", 3);
    s_expect_failed (broker, 2, "BadArguments", "argument 1 is no integer");
    s_send_task (broker, 3, "about", "\x92\x01\x02", 3);
    s_expect_done (broker, 3,
                   "\x93\xa5"
                   "about\x02\x02",
                   9);
    s_send_task (broker, 4, "nothing", "\x90", 1);
    s_expect_done (broker, 4, "\xc0", 1);
    s_send_task (broker, 5, "two", "\x90", 1);
    s_expect_failed (broker, 5, "HandlerError", "not exactly one msgpack value");
    s_send_task (broker, 6, "silent", "\x90", 1);
    s_expect_failed (broker, 6, "HandlerError", "handler 'silent' failed without a message");
    s_send_task (broker, 7, "long", "\x90", 1);
    s_expect_failed (broker, 7, "LongError", "xxxx");
    assert_int_equal (strlen (broker->in->message), ZHIVE_MESSAGE_MAX);
    s_send_task (broker, 8, "later", "\x90", 1);
    s_expect_done (broker, 8, "\xa5later", 6);
    s_send_task (broker, 9, "later_fail", "\x90", 1);
    s_expect_failed (broker, 9, "LateError", "failed later with 7");
    s_send_task (broker, 10, "later_bad", "\x90", 1);
    s_expect_failed (broker, 10, "HandlerError", "not exactly one msgpack value");
    s_send_task (broker, 11, "now_fail", "\x90", 1);
    s_expect_failed (broker, 11, "NowError", "at once");
    s_send_task (broker, 12, "inline", "\x90", 1);
    s_expect_done (broker, 12, "\xa6inline", 7);

    //  Several async jobs at once complete in any order, each exactly once
    for (uint64_t ticket = 100; ticket < 110; ticket++)
        s_send_task (broker, ticket, ticket % 2 ? "later" : "later_fail", "\x90", 1);
    bool seen [10] = { false };
    for (int i = 0; i < 10; i++) {
        int command = s_recv (broker);
        assert_true (command == ZHIVE_DONE || command == ZHIVE_FAILED);
        uint64_t ticket = broker->in->id;
        assert_true (ticket >= 100 && ticket < 110);
        assert_false (seen [ticket - 100]);
        seen [ticket - 100] = true;
        assert_int_equal (command, ticket % 2 ? ZHIVE_DONE : ZHIVE_FAILED);
    }
    //  A handler can stop the worker: it answers, then says BYE
    s_send_task (broker, 13, "stop", "\x90", 1);
    s_expect_done (broker, 13, "\xc3", 1);
    s_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, false, &done), 0);
    assert_int_equal (done, 23);
    assert_int_equal (counter.calls, 2);    //  add ran twice; state reached it
    s_broker_destroy (&broker);
}

//  More tasks than slots: the extra one is answered Busy, not run
static void
test_busy (void **state)
{
    (void) state;
    s_broker_t *broker = s_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 2, s_plugin (), NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_example_functions, 2, getpid ());
    s_send_task_int (broker, 1, "sleep", 300);
    s_send_task_int (broker, 2, "sleep", 300);
    s_send_task_int (broker, 3, "sleep", 300);
    s_expect_failed (broker, 3, "Busy", "no free slot");
    bool seen [3] = { false };
    for (int i = 0; i < 2; i++) {
        s_expect (broker, ZHIVE_DONE);
        assert_true (broker->in->id == 1 || broker->in->id == 2);
        assert_false (seen [broker->in->id]);
        seen [broker->in->id] = true;
    }
    //  Slots are free again
    s_send_task_int (broker, 4, "sleep", 1);
    s_expect_done_int (broker, 4, 1);
    assert_int_equal (s_worker_end (&actor, true, NULL), 0);
    s_broker_destroy (&broker);
}

//  BYE from the broker: run fails
static void
test_broker_bye (void **state)
{
    (void) state;
    s_broker_t *broker = s_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 0, s_plugin (), NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_example_functions, 16, getpid ());
    s_send_command (broker, ZHIVE_BYE, "go away");
    assert_int_equal (s_worker_end (&actor, false, NULL), -1);
    s_broker_destroy (&broker);
}

//  Stop before run: READY, then BYE, and run returns 0
static void
test_stop_before_run (void **state)
{
    (void) state;
    s_broker_t *broker = s_broker_new (NULL);
    zhive_worker_t *worker = zhive_worker_new (broker->endpoint);
    assert_non_null (worker);
    assert_int_equal (zhive_worker_register (worker, "nothing", s_nothing, NULL, ZHIVE_SYNC), 0);
    zhive_worker_stop (worker);
    assert_int_equal (zhive_worker_run (worker), 0);
    assert_int_equal (zhive_worker_run (worker), -1);    //  Only once
    zhive_worker_destroy (&worker);
    const char *functions [] = { "nothing", NULL };
    s_expect_ready (broker, functions, 16, getpid ());
    s_expect (broker, ZHIVE_BYE);
    s_broker_destroy (&broker);
}

//  The broker goes away and comes back: the worker says READY again
static void
test_reconnect (void **state)
{
    (void) state;
    s_broker_t *broker = s_broker_new (NULL);
    char *endpoint = strdup (broker->endpoint);
    s_worker_args_t args = { endpoint, 0, s_plugin (), NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_example_functions, 16, getpid ());
    s_broker_destroy (&broker);
    broker = s_broker_new (endpoint);
    s_expect_ready (broker, s_example_functions, 16, getpid ());
    s_send_task_int (broker, 1, "fib", 10);
    s_expect_done_int (broker, 1, 55);
    assert_int_equal (s_worker_end (&actor, true, NULL), 0);
    s_broker_destroy (&broker);
    free (endpoint);
}

//  ---------------------------------------------------------------------
//  Tests: the zhive-worker program

static const char *
s_worker_program (void)
{
    static char path [4096];
    const char *program = getenv ("ZHIVE_WORKER");
    if (program)
        return program;
    const char *bin = getenv ("ZHIVE_BIN");
    if (!bin)
        fail_msg ("neither ZHIVE_WORKER nor ZHIVE_BIN is set");
    snprintf (path, sizeof path, "%s/zhive-worker", bin);
    return path;
}

typedef struct {
    pid_t pid;           //  The process, 0 once reaped
    char output [64];    //  File holding what it printed, "" if none
} s_process_t;

#define S_STDOUT 1    //  Capture the child's stdout
#define S_STDERR 2    //  Capture the child's stderr

//  cmocka setup and teardown of the program tests: the teardown stops a
//  process a failed test left running, by its pid, and removes its file
static int
s_process_setup (void **state)
{
    *state = calloc (1, sizeof (s_process_t));
    return *state ? 0 : -1;
}

static int
s_process_teardown (void **state)
{
    s_process_t *self = (s_process_t *) *state;
    if (self->pid > 0) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, NULL, 0);
    }
    if (*self->output)
        unlink (self->output);
    free (self);
    return 0;
}

//  Starts the program with argv (argv [0] is replaced by the program);
//  `streams` says which of its outputs go to self->output (the others go
//  to /dev/null)
static void
s_process_start (s_process_t *self, const char **argv, int streams)
{
    snprintf (self->output, sizeof self->output, "/tmp/test_worker-XXXXXX");
    int fd = mkstemp (self->output);
    assert_true (fd >= 0);
    int null = open ("/dev/null", O_WRONLY);
    assert_true (null >= 0);
    argv [0] = s_worker_program ();
    self->pid = fork ();
    assert_true (self->pid >= 0);
    if (self->pid == 0) {
        dup2 (streams & S_STDOUT ? fd : null, STDOUT_FILENO);
        dup2 (streams & S_STDERR ? fd : null, STDERR_FILENO);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    close (fd);
    close (null);
}

//  Waits up to timeout_ms for the process to end; returns its wait status,
//  or -1 if it is still running
static int
s_process_wait (s_process_t *self, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int status;
        pid_t pid = waitpid (self->pid, &status, WNOHANG);
        if (pid == self->pid) {
            self->pid = 0;
            return status;
        }
        if (pid < 0 || zclock_mono () >= deadline)
            return -1;
        zclock_sleep (10);
    }
}

//  Stops the process by its pid (SIGTERM, then SIGKILL), returns its status
static int
s_process_stop (s_process_t *self)
{
    if (!self->pid)
        return -1;
    kill (self->pid, SIGTERM);
    int status = s_process_wait (self, S_TIMEOUT);
    if (status == -1) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, &status, 0);
        self->pid = 0;
        fail_msg ("zhive-worker did not stop on SIGTERM");
    }
    return status;
}

//  Reads what the process printed (caller frees) and removes the file
static char *
s_process_output (s_process_t *self)
{
    char *text = (char *) calloc (1, 65536);
    assert_non_null (text);
    FILE *file = fopen (self->output, "r");
    if (file) {
        size_t size = fread (text, 1, 65535, file);
        text [size] = 0;
        fclose (file);
    }
    unlink (self->output);
    self->output [0] = 0;
    return text;
}

//  Runs the program to its end; returns the exit code (-1 if killed) and
//  checks that what it printed on `streams` contains `part`
static int
s_run_program (s_process_t *self, const char **argv, int streams, const char *part)
{
    s_process_start (self, argv, streams);
    int status = s_process_wait (self, S_TIMEOUT);
    if (status == -1)
        status = s_process_stop (self);
    char *output = s_process_output (self);
    if (part && !strstr (output, part)) {
        fprintf (stderr, "output: %s\n", output);
        free (output);
        fail_msg ("the output does not contain '%s'", part);
    }
    free (output);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
test_program_usage (void **state)
{
    s_process_t *process = (s_process_t *) *state;
    const char *help [] = { NULL, "--help", NULL };
    assert_int_equal (s_run_program (process, help, S_STDOUT, "usage: zhive-worker"), 0);
    const char *bad_option [] = { NULL, "--bogus", NULL };
    assert_int_equal (s_run_program (process, bad_option, S_STDERR, "unknown option '--bogus'"), 2);
    const char *bad_number [] = { NULL, "--concurrency", "many", "--load", "x.so", NULL };
    assert_int_equal (s_run_program (process, bad_number, S_STDERR, "--concurrency needs a number"),
                      2);
    const char *no_value [] = { NULL, "--connect", NULL };
    assert_int_equal (s_run_program (process, no_value, S_STDERR, "needs a value"), 2);
    const char *nothing [] = { NULL, "--connect", "tcp://127.0.0.1:1", NULL };
    assert_int_equal (s_run_program (process, nothing, S_STDERR, "nothing to serve"), 2);
    const char *bad_endpoint [] = { NULL, "--connect", "bogus", "--load", s_plugin (), NULL };
    assert_int_equal (s_run_program (process, bad_endpoint, S_STDERR, "not a valid endpoint"), 2);
    const char *missing [] = {
        NULL, "--connect", "tcp://127.0.0.1:1", "--load", "/nonexistent/libnope.so", NULL
    };
    assert_int_equal (
        s_run_program (process, missing, S_STDERR, "cannot load /nonexistent/libnope.so"), 1);
    char refusing [4200];
    snprintf (refusing, sizeof refusing, "%s:bogus", s_plugin ());
    const char *refuses [] = { NULL, "--connect", "tcp://127.0.0.1:1", "--load", refusing, NULL };
    assert_int_equal (s_run_program (process, refuses, S_STDERR, "refused to initialise"), 1);
}

//  The real process: READY, tasks, 200 async sleeps, SIGTERM
static void
test_program_serves (void **state)
{
    s_process_t *process = (s_process_t *) *state;
    s_broker_t *broker = s_broker_new (NULL);
    const char *argv [] = { NULL,     "--connect", broker->endpoint,
                            "--load", s_plugin (), "--concurrency",
                            "100",    "--name",    "proc-1",
                            NULL };
    s_process_start (process, argv, S_STDOUT | S_STDERR);
    s_expect_ready (broker, s_example_functions, 100, process->pid);
    assert_string_equal (broker->in->worker, "proc-1");
    assert_int_equal (broker->in->pid, process->pid);

    s_send_task_int (broker, 1, "fib", 20);
    s_expect_done_int (broker, 1, 6765);

    //  200 sleep (200) with credit 100: about 400 ms, serial would be 40 s
    const int total = 200;
    bool answered [200] = { false };
    int sent = 0, received = 0, credit = 100;
    int64_t start = zclock_mono ();
    while (received < total) {
        while (credit > 0 && sent < total) {
            s_send_task_int (broker, 1000 + (uint64_t) sent, "sleep", 200);
            sent++;
            credit--;
        }
        s_expect (broker, ZHIVE_DONE);
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
    s_send_command (broker, ZHIVE_PING, NULL);
    s_expect (broker, ZHIVE_PONG);

    int status = s_process_stop (process);
    s_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    free (s_process_output (process));
    s_broker_destroy (&broker);
}

//  crash () aborts the process
static void
test_program_crash (void **state)
{
    s_process_t *process = (s_process_t *) *state;
    s_broker_t *broker = s_broker_new (NULL);
    const char *argv [] = { NULL, "--connect", broker->endpoint, "--load", s_plugin (), NULL };
    s_process_start (process, argv, S_STDOUT | S_STDERR);
    s_expect_ready (broker, s_example_functions, 16, process->pid);
    s_send_task (broker, 1, "crash", "\x90", 1);
    int status = s_process_wait (process, S_TIMEOUT);
    if (status == -1)
        status = s_process_stop (process);
    free (s_process_output (process));
    assert_true (WIFSIGNALED (status));
    assert_int_equal (WTERMSIG (status), SIGABRT);
    s_broker_destroy (&broker);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_new_and_register),
        cmocka_unit_test (test_load_errors),
        cmocka_unit_test (test_embedded_plugin),
        cmocka_unit_test (test_embedded_direct),
        cmocka_unit_test (test_busy),
        cmocka_unit_test (test_broker_bye),
        cmocka_unit_test (test_stop_before_run),
        cmocka_unit_test (test_reconnect),
        cmocka_unit_test_setup_teardown (test_program_usage, s_process_setup, s_process_teardown),
        cmocka_unit_test_setup_teardown (test_program_serves, s_process_setup, s_process_teardown),
        cmocka_unit_test_setup_teardown (test_program_crash, s_process_setup, s_process_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
