/*  =========================================================================
    libzhive-examples.so - example task plugin: echo, fib, sleep, fail, crash

        zhive-worker --connect tcp://127.0.0.1:5556 --load libzhive-examples.so

    echo (args...)   sync: returns its argument array unchanged
    fib (n)          sync: the n-th Fibonacci number, computed the slow
                     recursive way (CPU work), n an integer 0..92
    sleep (ms)       async: answers ms after ms milliseconds, through a
                     zloop timer, so one worker sleeps many tasks at once;
                     a cancelled sleep ends its timer
    fail (message)   fails with error type ExampleError and that message
    crash ()         aborts the worker process (to test recovery)

    The plugin takes no ARGS: `--load libzhive-examples.so:anything` is
    refused, which is how tests exercise a plugin that will not load.
    =========================================================================
*/
#include <czmq.h>
#include "zhive_worker.h"
#include "zhive_result.h"
#include <inttypes.h>

#define S_FIB_MAX   92          //  fib (93) overflows int64
#define S_SLEEP_MAX 86400000    //  one day in milliseconds

//  How a value is called in error messages: "a string", "nil", ...
static const char *
s_kind (const msgpack_object *value)
{
    switch (value->type) {
        case MSGPACK_OBJECT_NIL: return "nil";
        case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64: return "a float";
        case MSGPACK_OBJECT_STR: return "a string";
        case MSGPACK_OBJECT_BIN: return "binary data";
        case MSGPACK_OBJECT_ARRAY: return "an array";
        case MSGPACK_OBJECT_MAP: return "a map";
        default: return "an extension value";
    }
}

//  Reads the only argument as an integer in [low, high]; else fails the
//  job with BadArguments saying what `usage` expects and what came
static int
s_int_arg (zhive_job_t *job, const char *usage, int64_t low, int64_t high, int64_t *value)
{
    size_t argc = zhive_job_argc (job);
    if (argc != 1)
        return zhive_job_fail (job, ZHIVE_ERR_BAD_ARGS, "%s, got %zu arguments", usage, argc);
    const msgpack_object *arg = zhive_job_arg (job, 0);
    if (arg->type == MSGPACK_OBJECT_POSITIVE_INTEGER && arg->via.u64 > INT64_MAX)
        return zhive_job_fail (job, ZHIVE_ERR_BAD_ARGS, "%s, got %" PRIu64, usage, arg->via.u64);
    if (zhive_value_int (arg, value))
        return zhive_job_fail (job, ZHIVE_ERR_BAD_ARGS, "%s, got %s", usage, s_kind (arg));
    if (*value < low || *value > high)
        return zhive_job_fail (job, ZHIVE_ERR_BAD_ARGS, "%s, got %" PRId64, usage, *value);
    return 0;
}

//  ---------------------------------------------------------------------

static int
s_echo (zhive_job_t *job, void *state)
{
    (void) state;
    zhive_pack_t *reply = zhive_job_reply (job);
    if (!reply || zhive_pack_object (reply, zhive_job_args (job)))
        return zhive_job_fail (job, ZHIVE_ERR_HANDLER, "echo: out of memory");
    return 0;
}

static uint64_t
s_fib (int64_t n)
{
    return n < 2 ? (uint64_t) n : s_fib (n - 1) + s_fib (n - 2);
}

static int
s_fib_handler (zhive_job_t *job, void *state)
{
    (void) state;
    int64_t n;
    if (s_int_arg (job, "fib expects one integer argument 0..92", 0, S_FIB_MAX, &n))
        return -1;
    zhive_pack_t *reply = zhive_job_reply (job);
    if (!reply || zhive_pack_uint (reply, s_fib (n)))
        return zhive_job_fail (job, ZHIVE_ERR_HANDLER, "fib: out of memory");
    return 0;
}

static int
s_sleep_done (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_job_t *job = (zhive_job_t *) arg;
    int64_t ms = (int64_t) (intptr_t) zhive_job_data (job);
    zhive_pack_t *reply = zhive_job_reply (job);
    if (!reply || zhive_pack_int (reply, ms))
        zhive_job_fail (job, ZHIVE_ERR_HANDLER, "sleep: out of memory");
    else
        zhive_job_complete (job);
    return 0;
}

//  Cancelled: the timer must not fire on a job that is gone
static void
s_sleep_cancel (zhive_job_t *job, void *state)
{
    zloop_timer_end (zhive_job_loop (job), (int) (intptr_t) state);
}

static int
s_sleep (zhive_job_t *job, void *state)
{
    (void) state;
    int64_t ms;
    if (s_int_arg (job, "sleep expects one integer argument 0..86400000 (milliseconds)", 0,
                   S_SLEEP_MAX, &ms))
        return -1;
    zhive_job_set_data (job, (void *) (intptr_t) ms);
    int timer = zloop_timer (zhive_job_loop (job), (size_t) ms, 1, s_sleep_done, job);
    if (timer == -1)
        return zhive_job_fail (job, ZHIVE_ERR_HANDLER, "sleep: cannot start a timer");
    zhive_job_on_cancel (job, s_sleep_cancel, (void *) (intptr_t) timer);
    return 0;    //  Pending: s_sleep_done completes it
}

static int
s_fail (zhive_job_t *job, void *state)
{
    (void) state;
    const char *usage = "fail expects one string argument (the message)";
    size_t argc = zhive_job_argc (job);
    if (argc != 1)
        return zhive_job_fail (job, ZHIVE_ERR_BAD_ARGS, "%s, got %zu arguments", usage, argc);
    const msgpack_object *arg = zhive_job_arg (job, 0);
    const char *message;
    size_t size;
    if (arg->type != MSGPACK_OBJECT_STR || zhive_value_str (arg, &message, &size))
        return zhive_job_fail (job, ZHIVE_ERR_BAD_ARGS, "%s, got %s", usage, s_kind (arg));
    return zhive_job_fail (job, "ExampleError", "%.*s", (int) size, message);
}

static int
s_crash (zhive_job_t *job, void *state)
{
    (void) job;
    (void) state;
    abort ();
}

//  ---------------------------------------------------------------------

int
zhive_plugin_init (zhive_worker_t *worker, const char *args)
{
    if (args && *args) {
        fprintf (stderr, "libzhive-examples: takes no arguments, got '%s'\n", args);
        return -1;
    }
    if (zhive_worker_register (worker, "echo", s_echo, NULL, ZHIVE_SYNC) ||
        zhive_worker_register (worker, "fib", s_fib_handler, NULL, ZHIVE_SYNC) ||
        zhive_worker_register (worker, "sleep", s_sleep, NULL, ZHIVE_ASYNC) ||
        zhive_worker_register (worker, "fail", s_fail, NULL, ZHIVE_SYNC) ||
        zhive_worker_register (worker, "crash", s_crash, NULL, ZHIVE_SYNC)) {
        fprintf (stderr, "libzhive-examples: cannot register: %s\n", strerror (errno));
        return -1;
    }
    return 0;
}
