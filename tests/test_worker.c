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
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
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

//  A fake broker; with heartbeat_ms > 0 it runs ZMTP heartbeats (timeout
//  3 intervals) and is ROUTER_MANDATORY, as the real one, so a send to a
//  worker whose connection was dropped fails (EHOSTUNREACH)
static s_broker_t *
s_broker_new_heartbeat (const char *endpoint, int heartbeat_ms)
{
    s_broker_t *self = (s_broker_t *) calloc (1, sizeof (s_broker_t));
    assert_non_null (self);
    self->router = zsock_new (ZMQ_ROUTER);
    assert_non_null (self->router);
    zsock_set_rcvtimeo (self->router, S_TIMEOUT);
    zsock_set_sndtimeo (self->router, S_TIMEOUT);
    zsock_set_sndhwm (self->router, 0);    //  As the real one: thousands of TASKs, none dropped
    if (heartbeat_ms > 0) {
        zsock_set_heartbeat_ivl (self->router, heartbeat_ms);
        zsock_set_heartbeat_timeout (self->router, 3 * heartbeat_ms);
        zsock_set_heartbeat_ttl (self->router, 3 * heartbeat_ms);
        zsock_set_router_mandatory (self->router, 1);
    }
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

static s_broker_t *
s_broker_new (const char *endpoint)
{
    return s_broker_new_heartbeat (endpoint, 0);
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
        fail_msg ("expected %s, got %d (%s, ticket %" PRIu64 ") %s",
                  zhive_proto_command_name (command), rc,
                  rc > 0 ? zhive_proto_command_name (rc) : "no message", self->in->id,
                  self->in->error);
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

//  Sends a task with timeout_ms left to run (-1: none)
static void
s_send_task_timeout (s_broker_t *self, uint64_t ticket, const char *function, const void *args,
                     size_t size, int64_t timeout_ms)
{
    zhive_proto_t *out = self->out;
    memcpy (out->routing, self->worker, self->worker_size);
    out->routing_size = self->worker_size;
    out->command = ZHIVE_TASK;
    out->id = ticket;
    out->timeout_ms = timeout_ms;
    zhive_proto_set_name (out->function, function);
    assert_int_equal (zhive_proto_set_payload (out, args, size), 0);
    if (zhive_proto_send (out, self->router))
        fail_msg ("cannot send TASK %" PRIu64 ": %s", ticket, zmq_strerror (zmq_errno ()));
}

static void
s_send_task (s_broker_t *self, uint64_t ticket, const char *function, const void *args, size_t size)
{
    s_send_task_timeout (self, ticket, function, args, size, -1);
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

//  Sends a task with one integer argument and timeout_ms left to run
static void
s_send_task_int_timeout (s_broker_t *self, uint64_t ticket, const char *function, int64_t value,
                         int64_t timeout_ms)
{
    zhive_pack_t *args = zhive_pack_new ();
    zhive_pack_array (args, 1);
    zhive_pack_int (args, value);
    s_send_task_timeout (self, ticket, function, zhive_pack_data (args), zhive_pack_size (args),
                         timeout_ms);
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

static void
s_send_cancel (s_broker_t *self, uint64_t ticket)
{
    zhive_proto_t *out = self->out;
    memcpy (out->routing, self->worker, self->worker_size);
    out->routing_size = self->worker_size;
    out->command = ZHIVE_CANCEL;
    out->id = ticket;
    assert_int_equal (zhive_proto_send (out, self->router), 0);
}

//  Nothing is on its way from the worker: a PING is answered by PONG next
static void
s_expect_quiet (s_broker_t *self)
{
    s_send_command (self, ZHIVE_PING, NULL);
    s_expect (self, ZHIVE_PONG);
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
    s_worker_args_t args = { broker->endpoint, 4, s_plugin (), NULL, NULL, NULL };
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
    s_worker_args_t args = { broker->endpoint, 0, NULL, "direct-worker", &counter, NULL };
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

//  More tasks than slots (the broker's prefetch): the extra ones wait for a
//  slot, in order; one cancelled while it waits is answered at once without
//  running; past the worker's queue limit a task is answered Busy
static void
test_queued_beyond_slots (void **state)
{
    (void) state;
    s_broker_t *broker = s_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 2, s_plugin (), NULL, NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_example_functions, 2, getpid ());
    s_send_task_int (broker, 1, "sleep", 300);
    s_send_task_int (broker, 2, "sleep", 300);
    s_send_task_int (broker, 3, "sleep", 1);
    s_send_task_int (broker, 4, "sleep", 1);
    s_send_cancel (broker, 4);
    s_expect_failed (broker, 4, "Cancelled", "waiting for a slot");
    //  3 runs only once 1 or 2 has ended
    bool seen [4] = { false };
    for (int i = 0; i < 3; i++) {
        s_expect (broker, ZHIVE_DONE);
        uint64_t id = broker->in->id;
        assert_true (id >= 1 && id <= 3);
        assert_false (seen [id]);
        if (id == 3)
            assert_true (seen [1] || seen [2]);
        seen [id] = true;
    }
    //  Fill the slots and the queue: the next task is Busy
    s_send_task_int (broker, 10, "sleep", 60000);
    s_send_task_int (broker, 11, "sleep", 60000);
    const uint64_t queue_max = 4096;
    for (uint64_t i = 0; i < queue_max; i++)
        s_send_task_int (broker, 100 + i, "sleep", 0);
    s_send_task_int (broker, 99, "sleep", 0);
    s_expect_failed (broker, 99, "Busy", "no free slot");
    //  Cancelling the long ones frees the slots: everything queued runs
    s_send_cancel (broker, 10);
    s_send_cancel (broker, 11);
    uint64_t done = 0, cancelled = 0;
    while (done + cancelled < queue_max + 2) {
        int command = s_recv (broker);
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
    s_broker_destroy (&broker);
}

//  BYE from the broker: run fails
static void
test_broker_bye (void **state)
{
    (void) state;
    s_broker_t *broker = s_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 0, s_plugin (), NULL, NULL, NULL };
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
    s_worker_args_t args = { endpoint, 0, s_plugin (), NULL, NULL, NULL };
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
    s_broker_t *broker = s_broker_new_heartbeat (NULL, 500);
    s_worker_args_t args = { broker->endpoint, 0, NULL, NULL, NULL, s_setup_heartbeat };
    zactor_t *actor = s_worker_start (&args);
    const char *functions [] = { "nap", NULL };
    s_expect_ready (broker, functions, 16, getpid ());
    s_send_task_int (broker, 1, "nap", 4000);
    s_expect_done_int (broker, 1, 4000);
    //  The same connection still works, both ways
    s_send_task_int (broker, 2, "nap", 0);
    s_expect_done_int (broker, 2, 0);
    //  HEARTBEAT needs no answer: the PONG is the next message
    s_send_command (broker, ZHIVE_HEARTBEAT, NULL);
    s_expect_quiet (broker);
    assert_int_equal (s_worker_end (&actor, true, NULL), 0);
    s_broker_destroy (&broker);
}

//  A TCP relay between a worker and the fake broker that can go silent:
//  after FREEZE it relays nothing more on the connections it has (they stay
//  open, as with a broker host that hangs); new connections are relayed.
#define S_RELAY_PAIRS 8

typedef struct {
    int fd [2];     //  Worker side, broker side; -1 once closed
    bool frozen;    //  Relays nothing
} s_relay_pair_t;

static void
s_relay_actor (zsock_t *pipe, void *arg)
{
    int target = (int) (intptr_t) arg;
    int listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address;
    memset (&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (listener < 0 || bind (listener, (struct sockaddr *) &address, sizeof address) ||
        listen (listener, 8) || getsockname (listener, (struct sockaddr *) &address, &size))
        address.sin_port = 0;
    zsock_signal (pipe, 0);
    zsock_send (pipe, "i", (int) ntohs (address.sin_port));
    s_relay_pair_t pairs [S_RELAY_PAIRS];
    size_t count = 0;
    bool running = address.sin_port != 0;
    while (running) {
        zmq_pollitem_t items [2 + 2 * S_RELAY_PAIRS];
        int side [2 + 2 * S_RELAY_PAIRS];    //  Pair * 2 + side of each item
        items [0] = (zmq_pollitem_t){ zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        items [1] = (zmq_pollitem_t){ NULL, listener, ZMQ_POLLIN, 0 };
        int used = 2;
        for (size_t i = 0; i < count; i++) {
            for (int end = 0; end < 2 && !pairs [i].frozen; end++) {
                items [used] = (zmq_pollitem_t){ NULL, pairs [i].fd [end], ZMQ_POLLIN, 0 };
                side [used++] = (int) i * 2 + end;
            }
        }
        if (zmq_poll (items, used, 1000) < 0)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            if (!command || streq (command, "$TERM"))
                running = false;
            else if (streq (command, "FREEZE")) {
                for (size_t i = 0; i < count; i++)
                    pairs [i].frozen = true;
            }
            zstr_free (&command);
            continue;
        }
        if (items [1].revents & ZMQ_POLLIN) {
            int worker = accept (listener, NULL, NULL);
            int broker = socket (AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in to = address;
            to.sin_port = htons ((uint16_t) target);
            if (worker >= 0 && broker >= 0 && count < S_RELAY_PAIRS &&
                connect (broker, (struct sockaddr *) &to, sizeof to) == 0)
                pairs [count++] = (s_relay_pair_t){ { worker, broker }, false };
            else {
                close (worker);
                close (broker);
            }
        }
        for (int item = 2; item < used; item++) {
            if (!(items [item].revents & ZMQ_POLLIN))
                continue;
            s_relay_pair_t *pair = &pairs [side [item] / 2];
            int from = side [item] % 2;
            char data [4096];
            ssize_t got = pair->fd [from] >= 0 ? read (pair->fd [from], data, sizeof data) : -1;
            ssize_t put = 0;
            while (got > 0 && put < got) {
                ssize_t rc = write (pair->fd [1 - from], data + put, (size_t) (got - put));
                if (rc <= 0)
                    break;
                put += rc;
            }
            if (got <= 0 || put < got) {
                close (pair->fd [0]);
                close (pair->fd [1]);
                pair->fd [0] = pair->fd [1] = -1;
                pair->frozen = true;    //  Closed: not polled again
            }
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (pairs [i].fd [0] >= 0) {
            close (pairs [i].fd [0]);
            close (pairs [i].fd [1]);
        }
    }
    if (listener >= 0)
        close (listener);
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
    s_broker_t *broker = s_broker_new (NULL);
    int target = atoi (strrchr (broker->endpoint, ':') + 1);
    zactor_t *relay = zactor_new (s_relay_actor, (void *) (intptr_t) target);
    assert_non_null (relay);
    int port = 0;
    assert_int_equal (zsock_recv (relay, "i", &port), 0);
    assert_true (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    s_worker_args_t args = { endpoint, 0, s_plugin (), NULL, NULL, s_setup_silent };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_example_functions, 16, getpid ());
    uint8_t first [256];
    size_t first_size = broker->worker_size;
    memcpy (first, broker->worker, first_size);
    s_send_task_int (broker, 1, "fib", 10);
    s_expect_done_int (broker, 1, 55);

    zstr_send (relay, "FREEZE");
    int64_t frozen = zclock_mono ();
    s_expect_ready (broker, s_example_functions, 16, getpid ());
    int64_t elapsed = zclock_mono () - frozen;
    assert_false (broker->worker_size == first_size &&
                  memcmp (broker->worker, first, first_size) == 0);
    //  600 ms to notice, 1..2 s before the reconnect
    if (elapsed > 5000)
        fail_msg ("the worker took %d ms to replace a silent connection", (int) elapsed);
    s_send_task_int (broker, 2, "fib", 11);
    s_expect_done_int (broker, 2, 89);
    assert_int_equal (s_worker_end (&actor, true, NULL), 0);
    zactor_destroy (&relay);
    s_broker_destroy (&broker);
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
    s_broker_t *broker = s_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 2, s_plugin (), NULL, NULL, s_setup_cancel };
    zactor_t *actor = s_worker_start (&args);
    const char *functions [] = { "echo", "fib", "sleep", "fail", "crash", "slow", "undo", NULL };
    s_expect_ready (broker, functions, 2, getpid ());

    s_send_task_int (broker, 1, "sleep", 60000);
    s_send_task_int (broker, 2, "sleep", 300);
    s_send_cancel (broker, 1);
    s_expect_failed (broker, 1, "Cancelled", "cancelled");
    //  Its slot is free again: 3 runs at once, not after 2
    s_send_task_int (broker, 3, "sleep", 10);
    s_expect_done_int (broker, 3, 10);
    s_send_cancel (broker, 2);
    s_expect_failed (broker, 2, "Cancelled", "cancelled");
    //  Answered and unknown tickets are ignored; the cancelled sleeps'
    //  timers are gone (a late one would use a freed job)
    s_send_cancel (broker, 3);
    s_send_cancel (broker, 99);
    zclock_sleep (400);
    s_expect_quiet (broker);

    //  No cancel function: the job runs on, and its answer frees the slot
    s_send_task (broker, 4, "slow", "\x90", 1);
    s_send_cancel (broker, 4);
    s_expect_quiet (broker);
    s_expect_done (broker, 4, "\xa4slow", 5);

    //  A cancel function that completes the job by mistake: still exactly
    //  one answer, Cancelled
    s_send_task (broker, 5, "undo", "\x90", 1);
    s_send_cancel (broker, 5);
    s_expect_failed (broker, 5, "Cancelled", "cancelled");
    s_expect_quiet (broker);
    assert_int_equal (s_undo_counter.calls, 1);

    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, true, &done), 0);
    s_expect (broker, ZHIVE_BYE);
    assert_int_equal (done, 5);
    s_broker_destroy (&broker);
}

static void
s_setup_max_tasks (zhive_worker_t *worker)
{
    zhive_worker_set_max_tasks (worker, 3);
}

//  max_tasks 3: READY tells what is left, also after a reconnect; the
//  worker refuses a fourth task, finishes the others, says BYE and run
//  returns 0. A reconnect meanwhile offers nothing and says DRAINING.
static void
test_max_tasks (void **state)
{
    (void) state;
    s_broker_t *broker = s_broker_new (NULL);
    char *endpoint = strdup (broker->endpoint);
    s_worker_args_t args = { endpoint, 3, s_plugin (), NULL, NULL, s_setup_max_tasks };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_example_functions, 3, getpid ());
    assert_int_equal (broker->in->max_tasks, 3);
    s_send_task_int (broker, 1, "fib", 10);
    s_expect_done_int (broker, 1, 55);

    s_broker_destroy (&broker);
    broker = s_broker_new (endpoint);
    s_expect_ready (broker, s_example_functions, 3, getpid ());
    assert_int_equal (broker->in->max_tasks, 2);
    s_send_task_int (broker, 2, "sleep", 3000);
    s_send_task_int (broker, 3, "sleep", 3000);
    s_send_task_int (broker, 4, "fib", 10);
    s_expect_failed (broker, 4, "Busy", "max_tasks");

    s_broker_destroy (&broker);
    broker = s_broker_new (endpoint);
    const char *none [] = { NULL };
    s_expect_ready (broker, none, 3, getpid ());
    assert_int_equal (broker->in->max_tasks, 0);
    s_expect (broker, ZHIVE_DRAINING);
    bool seen [2] = { false, false };
    for (int i = 0; i < 2; i++) {
        s_expect (broker, ZHIVE_DONE);
        assert_true (broker->in->id == 2 || broker->in->id == 3);
        assert_false (seen [broker->in->id - 2]);
        seen [broker->in->id - 2] = true;
    }
    s_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "max-tasks reached");
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, false, &done), 0);
    assert_int_equal (done, 3);
    s_broker_destroy (&broker);
    free (endpoint);
}

//  Drain: DRAINING, the jobs in flight finish (and one that was already
//  on its way runs too), then BYE; run returns 0
static void
test_drain (void **state)
{
    (void) state;
    s_broker_t *broker = s_broker_new (NULL);
    s_worker_args_t args = { broker->endpoint, 4, s_plugin (), NULL, NULL, NULL };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_example_functions, 4, getpid ());
    s_send_task_int (broker, 1, "sleep", 300);
    s_send_task_int (broker, 2, "sleep", 300);
    s_expect_quiet (broker);
    zstr_send (actor, "DRAIN");
    s_expect (broker, ZHIVE_DRAINING);
    s_send_task_int (broker, 3, "fib", 10);
    s_expect_done_int (broker, 3, 55);
    bool seen [2] = { false, false };
    for (int i = 0; i < 2; i++) {
        s_expect (broker, ZHIVE_DONE);
        assert_true (broker->in->id == 1 || broker->in->id == 2);
        assert_false (seen [broker->in->id - 1]);
        seen [broker->in->id - 1] = true;
    }
    s_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, false, &done), 0);
    assert_int_equal (done, 3);

    //  Drained before it runs: READY, DRAINING, BYE, and run returns 0
    zhive_worker_t *worker = zhive_worker_new (broker->endpoint);
    assert_non_null (worker);
    assert_int_equal (zhive_worker_register (worker, "nothing", s_nothing, NULL, ZHIVE_SYNC), 0);
    zhive_worker_drain (worker);
    assert_int_equal (zhive_worker_run (worker), 0);
    zhive_worker_destroy (&worker);
    const char *none [] = { NULL };
    s_expect_ready (broker, none, 16, getpid ());
    s_expect (broker, ZHIVE_DRAINING);
    s_expect (broker, ZHIVE_BYE);
    s_broker_destroy (&broker);
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
    pid_t pid;             //  The process, 0 once reaped
    char output [64];      //  File holding what it printed, "" if none
    int input;             //  Pipe to its stdin, or -1
    int lines;             //  Pipe from its stdout, or -1
    char buffer [1024];    //  What it printed that no line read took yet
    size_t buffered;       //  Bytes in buffer
    pid_t others [3];      //  Other processes (zygote workers) to kill, or 0
} s_process_t;

#define S_STDOUT 1    //  Capture the child's stdout
#define S_STDERR 2    //  Capture the child's stderr

//  cmocka setup and teardown of the program tests: the teardown stops a
//  process a failed test left running, by its pid, and removes its file
static int
s_process_setup (void **state)
{
    s_process_t *self = (s_process_t *) calloc (1, sizeof (s_process_t));
    if (!self)
        return -1;
    self->input = -1;
    self->lines = -1;
    *state = self;
    return 0;
}

static int
s_process_teardown (void **state)
{
    s_process_t *self = (s_process_t *) *state;
    if (self->pid > 0) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, NULL, 0);
    }
    for (size_t i = 0; i < sizeof self->others / sizeof self->others [0]; i++) {
        if (self->others [i] > 0)
            kill (self->others [i], SIGKILL);
    }
    if (self->input >= 0)
        close (self->input);
    if (self->lines >= 0)
        close (self->lines);
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

//  A pipe whose ends a started program does not inherit
static int
s_pipe (int ends [2])
{
    if (pipe (ends))
        return -1;
    fcntl (ends [0], F_SETFD, FD_CLOEXEC);
    fcntl (ends [1], F_SETFD, FD_CLOEXEC);
    return 0;
}

//  Starts the program with pipes on its stdin (self->input) and stdout
//  (self->lines); its stderr goes to self->output
static void
s_process_start_piped (s_process_t *self, const char **argv)
{
    int input [2], lines [2];
    assert_int_equal (s_pipe (input), 0);
    assert_int_equal (s_pipe (lines), 0);
    snprintf (self->output, sizeof self->output, "/tmp/test_worker-XXXXXX");
    int fd = mkstemp (self->output);
    assert_true (fd >= 0);
    argv [0] = s_worker_program ();
    self->pid = fork ();
    assert_true (self->pid >= 0);
    if (self->pid == 0) {
        dup2 (input [0], STDIN_FILENO);
        dup2 (lines [1], STDOUT_FILENO);
        dup2 (fd, STDERR_FILENO);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    close (input [0]);
    close (lines [1]);
    close (fd);
    self->input = input [1];
    self->lines = lines [0];
    self->buffered = 0;
}

//  Reads one line the process printed on stdout, without its newline.
//  Returns 0, or -1 at the end of its output or after timeout_ms.
static int
s_process_line (s_process_t *self, char *line, size_t size, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        char *newline = (char *) memchr (self->buffer, '\n', self->buffered);
        if (newline) {
            size_t length = (size_t) (newline - self->buffer);
            snprintf (line, size, "%.*s", (int) length, self->buffer);
            self->buffered -= length + 1;
            memmove (self->buffer, newline + 1, self->buffered);
            return 0;
        }
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || self->buffered == sizeof self->buffer)
            return -1;
        struct pollfd item = { self->lines, POLLIN, 0 };
        int rc = poll (&item, 1, (int) left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t got =
            read (self->lines, self->buffer + self->buffered, sizeof self->buffer - self->buffered);
        if (got <= 0)
            return -1;
        self->buffered += (size_t) got;
    }
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
    const char *help_more [] = { NULL, "--help", NULL };
    assert_int_equal (s_run_program (process, help_more, S_STDOUT, "exits with status 70"), 0);
    const char *bad_heartbeat [] = { NULL, "--heartbeat", "0", "--load", "x.so", NULL };
    assert_int_equal (
        s_run_program (process, bad_heartbeat, S_STDERR, "--heartbeat needs milliseconds"), 2);
    const char *bad_liveness [] = { NULL, "--liveness", "1001", "--load", "x.so", NULL };
    assert_int_equal (
        s_run_program (process, bad_liveness, S_STDERR, "--liveness needs a number 1..1000"), 2);
    const char *bad_max [] = { NULL, "--max-tasks", "-1", "--load", "x.so", NULL };
    assert_int_equal (s_run_program (process, bad_max, S_STDERR, "--max-tasks needs a number"), 2);
    const char *zygote_name [] = { NULL, "--zygote", "--name", "x", "--load", "x.so", NULL };
    assert_int_equal (
        s_run_program (process, zygote_name, S_STDERR, "--name cannot be used with --zygote"), 2);
    //  A zygote checks its plugins before it serves
    const char *zygote_missing [] = { NULL, "--zygote", "--load", "/nonexistent/libnope.so", NULL };
    assert_int_equal (
        s_run_program (process, zygote_missing, S_STDERR, "cannot load /nonexistent/libnope.so"),
        1);
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

    //  SIGTERM drains: DRAINING, nothing is in flight, BYE
    int status = s_process_stop (process);
    s_expect (broker, ZHIVE_DRAINING);
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

//  A sync handler past its deadline plus the grace (max (2 s, 2 x 100 ms x
//  3)) ends the process with status 70 and says why; one in time does not,
//  and async handlers are not bounded
static void
test_program_watchdog (void **state)
{
    s_process_t *process = (s_process_t *) *state;
    s_broker_t *broker = s_broker_new (NULL);
    const char *argv [] = { NULL,          "--connect", broker->endpoint, "--load", s_plugin (),
                            "--heartbeat", "100",       "--liveness",     "3",      NULL };
    s_process_start (process, argv, S_STDERR);
    s_expect_ready (broker, s_example_functions, 16, process->pid);
    s_send_task_int_timeout (broker, 1, "fib", 20, 50);
    s_expect_done_int (broker, 1, 6765);
    //  Outlives the fib's deadline plus grace: its watchdog was disarmed
    s_send_task_int_timeout (broker, 2, "sleep", 2500, 100);
    s_expect_done_int (broker, 2, 2500);

    //  fib (60) would run for ages
    int64_t start = zclock_mono ();
    s_send_task_int_timeout (broker, 3, "fib", 60, 100);
    int status = s_process_wait (process, S_TIMEOUT);
    int64_t elapsed = zclock_mono () - start;
    if (status == -1)
        status = s_process_stop (process);
    char *output = s_process_output (process);
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
    s_broker_destroy (&broker);
}

//  SIGTERM drains; a second SIGTERM, or SIGINT, stops at once
static void
test_program_signals (void **state)
{
    s_process_t *process = (s_process_t *) *state;
    s_broker_t *broker = s_broker_new (NULL);
    const char *argv [] = { NULL, "--connect", broker->endpoint, "--load", s_plugin (), NULL };

    s_process_start (process, argv, S_STDERR);
    s_expect_ready (broker, s_example_functions, 16, process->pid);
    s_send_task_int (broker, 1, "sleep", 500);
    s_expect_quiet (broker);
    kill (process->pid, SIGTERM);
    s_expect (broker, ZHIVE_DRAINING);
    s_expect_done_int (broker, 1, 500);
    s_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    int status = s_process_wait (process, S_TIMEOUT);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    free (s_process_output (process));

    s_process_start (process, argv, S_STDERR);
    s_expect_ready (broker, s_example_functions, 16, process->pid);
    s_send_task_int (broker, 2, "sleep", 60000);
    s_expect_quiet (broker);
    kill (process->pid, SIGTERM);
    s_expect (broker, ZHIVE_DRAINING);
    kill (process->pid, SIGTERM);
    s_expect (broker, ZHIVE_BYE);
    status = s_process_wait (process, S_TIMEOUT);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    free (s_process_output (process));

    s_process_start (process, argv, S_STDERR);
    s_expect_ready (broker, s_example_functions, 16, process->pid);
    s_send_task_int (broker, 3, "sleep", 60000);
    s_expect_quiet (broker);
    kill (process->pid, SIGINT);
    s_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "stopping");
    status = s_process_wait (process, S_TIMEOUT);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    free (s_process_output (process));
    s_broker_destroy (&broker);
}

//  --max-tasks 2: READY says 2, two tasks, BYE, exit 0
static void
test_program_max_tasks (void **state)
{
    s_process_t *process = (s_process_t *) *state;
    s_broker_t *broker = s_broker_new (NULL);
    const char *argv [] = { NULL,     "--connect", broker->endpoint,
                            "--load", s_plugin (), "--max-tasks",
                            "2",      NULL };
    s_process_start (process, argv, S_STDERR);
    s_expect_ready (broker, s_example_functions, 16, process->pid);
    assert_int_equal (broker->in->max_tasks, 2);
    s_send_task_int (broker, 1, "fib", 10);
    s_send_task_int (broker, 2, "fib", 11);
    s_expect_done_int (broker, 1, 55);
    s_expect_done_int (broker, 2, 89);
    s_expect (broker, ZHIVE_BYE);
    assert_string_equal (broker->in->message, "max-tasks reached");
    int status = s_process_wait (process, S_TIMEOUT);
    if (status == -1)
        status = s_process_stop (process);
    free (s_process_output (process));
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    s_broker_destroy (&broker);
}

//  Reads "pid PID" from the zygote
static pid_t
s_zygote_pid (s_process_t *process)
{
    char line [128] = "";
    int pid = 0;
    if (s_process_line (process, line, sizeof line, S_TIMEOUT) ||
        sscanf (line, "pid %d", &pid) != 1 || pid <= 0)
        fail_msg ("expected 'pid PID' from the zygote, got '%s'", line);
    return (pid_t) pid;
}

//  Reads "exit PID STATUS" from the zygote; checks the pid, returns the status
static int
s_zygote_exit (s_process_t *process, pid_t pid)
{
    char line [128] = "";
    int got = 0, status = 0;
    if (s_process_line (process, line, sizeof line, S_TIMEOUT) ||
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
    s_process_t *process = (s_process_t *) *state;
    s_broker_t *broker = s_broker_new (NULL);
    const char *argv [] = { NULL,
                            "--zygote",
                            "--connect",
                            broker->endpoint,
                            "--load",
                            s_plugin (),
                            "--concurrency",
                            "3",
                            "--heartbeat",
                            "500",
                            "--liveness",
                            "3",
                            "--max-tasks",
                            "0",
                            NULL };
    s_process_start_piped (process, argv);
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
        int command = s_recv (broker);
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
        s_send_task_int (broker, 1 + (uint64_t) i, "fib", 20);
        s_expect_done_int (broker, 1 + (uint64_t) i, 6765);
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
    s_expect (broker, ZHIVE_DRAINING);
    s_expect (broker, ZHIVE_BYE);
    status = s_zygote_exit (process, pids [1]);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    process->others [1] = 0;
    char line [128];
    assert_int_equal (s_process_line (process, line, sizeof line, S_TIMEOUT), -1);
    status = s_process_wait (process, S_TIMEOUT);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    //  Both workers were reaped by the zygote: no process is left
    assert_int_equal (kill (pids [0], 0), -1);
    assert_int_equal (kill (pids [1], 0), -1);
    free (s_process_output (process));
    s_broker_destroy (&broker);
}

//  A zygote whose parent dies stops its workers and exits
static void
test_program_zygote_orphan (void **state)
{
    s_process_t *process = (s_process_t *) *state;
    s_broker_t *broker = s_broker_new (NULL);
    const char *argv [] = {
        s_worker_program (), "--zygote", "--connect", broker->endpoint, "--load", s_plugin (), NULL
    };
    int input [2], lines [2], report [2];
    assert_int_equal (s_pipe (input), 0);
    assert_int_equal (s_pipe (lines), 0);
    assert_int_equal (s_pipe (report), 0);
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

    //  A worker answers for the zygote being ready; then its parent dies
    assert_int_equal (write (process->input, "spawn\n", 6), 6);
    pid_t worker = s_zygote_pid (process);
    process->others [0] = worker;
    kill (process->pid, SIGKILL);
    waitpid (process->pid, NULL, 0);
    process->pid = 0;
    int status = s_zygote_exit (process, worker);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    process->others [0] = 0;
    char line [128];
    assert_int_equal (s_process_line (process, line, sizeof line, S_TIMEOUT), -1);
    process->others [2] = 0;
    s_broker_destroy (&broker);
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
s_send_welcome (s_broker_t *self, uint64_t incarnation)
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
    s_broker_t *broker = s_broker_new (NULL);
    char *endpoint = strdup (broker->endpoint);
    s_worker_args_t args = { endpoint, 3, s_plugin (), NULL, NULL, s_setup_hold };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_hold_functions, 3, getpid ());
    //  No WELCOME yet: the first ticket tells the worker the incarnation
    s_send_task (broker, a | 1, "hold", "\x90", 1);
    s_send_task (broker, a | 2, "hold_bare", "\x90", 1);
    s_send_task_int (broker, a | 3, "sleep", 60000);
    s_send_task_int (broker, a | 4, "sleep", 1);    //  Waits for a slot
    s_expect_quiet (broker);

    s_broker_destroy (&broker);
    broker = s_broker_new (endpoint);
    s_expect_ready (broker, s_hold_functions, 3, getpid ());
    s_send_welcome (broker, 8);
    //  The orphaned hold_bare is released, and its answer dropped; had any
    //  answer of A been sent, it would come before this one
    s_send_task (broker, b | 1, "release", "\x90", 1);
    s_expect_done_int (broker, b | 1, 1);
    s_send_task (broker, b | 2, "cancels", "\x90", 1);
    s_expect_done_int (broker, b | 2, 1);
    //  All three slots are free: the fibs do not wait for the sleep
    s_send_task_int (broker, b | 3, "sleep", 500);
    s_send_task_int (broker, b | 4, "fib", 10);
    s_send_task_int (broker, b | 5, "fib", 11);
    s_expect_done_int (broker, b | 4, 55);
    s_expect_done_int (broker, b | 5, 89);
    s_expect_done_int (broker, b | 3, 500);
    //  A CANCEL for a ticket of A finds nothing; a TASK of A is not run
    s_send_cancel (broker, a | 3);
    s_send_task_int (broker, a | 5, "fib", 10);
    s_expect_quiet (broker);
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, true, &done), 0);
    s_expect (broker, ZHIVE_BYE);
    assert_int_equal (done, 5);    //  Only the tasks of B were answered
    s_broker_destroy (&broker);
    free (endpoint);
}

//  A reconnect to the same broker (WELCOME of the same incarnation): the
//  job running meanwhile goes on and its answer arrives
static void
test_incarnation_same (void **state)
{
    (void) state;
    const uint64_t a = (uint64_t) 7 << 32;
    s_broker_t *broker = s_broker_new (NULL);
    char *endpoint = strdup (broker->endpoint);
    s_worker_args_t args = { endpoint, 3, s_plugin (), NULL, NULL, s_setup_hold };
    zactor_t *actor = s_worker_start (&args);
    s_expect_ready (broker, s_hold_functions, 3, getpid ());
    s_send_welcome (broker, 7);
    s_send_task (broker, a | 1, "hold", "\x90", 1);
    s_expect_quiet (broker);

    s_broker_destroy (&broker);
    broker = s_broker_new (endpoint);
    s_expect_ready (broker, s_hold_functions, 3, getpid ());
    s_send_welcome (broker, 7);
    s_send_task (broker, a | 2, "release", "\x90", 1);
    s_expect_done (broker, a | 1, "\xa4held", 5);
    s_expect_done_int (broker, a | 2, 1);
    s_send_task (broker, a | 3, "cancels", "\x90", 1);
    s_expect_done_int (broker, a | 3, 0);
    uint64_t done = 0;
    assert_int_equal (s_worker_end (&actor, true, &done), 0);
    assert_int_equal (done, 3);
    s_broker_destroy (&broker);
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
