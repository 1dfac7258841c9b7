/*  test_client - the client library against a real pool: an in-process
    broker and two zhive-worker processes loading the examples plugin. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <zhive.h>
#include "zhive_client_private.h"
#include "testkit_pool.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <limits.h>
#include <signal.h>

static testkit_pool_t *s_pool;      //  Shared pool for the whole group
static zhive_client_t *s_client;    //  Its connected client

//  The pool: an in-process broker, two local workers of 100 slots
//  loading the examples plugin, a client; once both workers are ready
static int
s_group_setup (void **state)
{
    (void) state;
    s_pool = testkit_pool_new (
        &(testkit_pool_opts_t){ .workers = 2, .concurrency = 100, .client = true });
    s_client = s_pool->client;
    return 0;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    s_client = NULL;
    testkit_pool_destroy (&s_pool);
    return 0;
}

static int64_t
s_int (const zhive_result_t *result)
{
    int64_t value = -1;
    assert_true (zhive_result_ok (result));
    assert_int_equal (zhive_value_int (zhive_result_value (result), &value), 0);
    return value;
}

//  The integer at position i of an array result
static int64_t
s_int_at (const zhive_result_t *result, size_t i)
{
    int64_t value = -1;
    assert_true (zhive_result_ok (result));
    assert_int_equal (zhive_value_int (zhive_value_at (zhive_result_value (result), i), &value), 0);
    return value;
}

static int64_t
s_fib (int n)
{
    int64_t a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        int64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

static void
test_connect_failures (void **state)
{
    (void) state;
    //  A plain TCP listener that never speaks ZeroMQ holds the port for the
    //  whole test (a port merely freed could be taken by anyone meanwhile):
    //  no broker answers there, so the client gives a clear timeout
    int port = 0;
    int listener = testkit_tcp_listen (&port);
    assert_true (listener >= 0);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    int64_t start = zclock_mono ();
    zhive_client_t *client = zhive_client_new (endpoint, 300);
    assert_null (client);
    assert_int_equal (errno, ETIMEDOUT);
    assert_true (zclock_mono () - start < 5000);
    client = zhive_client_new ("not-an-endpoint", 300);
    assert_null (client);
    assert_int_equal (errno, EINVAL);
    assert_null (zhive_client_new (NULL, 300));
    close (listener);
}

static void
test_apply (void **state)
{
    (void) state;
    zhive_pack_t *args = testkit_pool_args_int (20);
    zhive_opts_t opts = { .timeout_ms = 10000 };
    zhive_result_t *result = zhive_client_apply (s_client, "fib", args, &opts);
    assert_int_equal (s_int (result), 6765);
    zhive_result_destroy (&result);

    //  echo gives back the argument array byte for byte
    zhive_pack_reset (args);
    zhive_pack_array (args, 3);
    zhive_pack_int (args, 1);
    zhive_pack_str (args, "a");
    zhive_pack_map (args, 1);
    zhive_pack_str (args, "k");
    zhive_pack_array (args, 2);
    zhive_pack_bool (args, true);
    zhive_pack_nil (args);
    result = zhive_client_apply (s_client, "echo", args, &opts);
    assert_true (zhive_result_ok (result));
    size_t size;
    const char *data = zhive_result_data (result, &size);
    assert_int_equal (size, zhive_pack_size (args));
    assert_memory_equal (data, zhive_pack_data (args), size);
    zhive_result_destroy (&result);

    //  A large argument (past the zero-copy size) comes back intact
    size_t big_size = 300 * 1024;
    char *big = (char *) malloc (big_size);
    for (size_t i = 0; i < big_size; i++)
        big [i] = (char) (i * 7);
    zhive_pack_reset (args);
    zhive_pack_array (args, 1);
    zhive_pack_bytes (args, big, big_size);
    result = zhive_client_apply (s_client, "echo", args, &opts);
    assert_true (zhive_result_ok (result));
    const char *bytes;
    size_t bytes_size;
    assert_int_equal (
        zhive_value_str (zhive_value_at (zhive_result_value (result), 0), &bytes, &bytes_size), 0);
    assert_int_equal (bytes_size, big_size);
    assert_memory_equal (bytes, big, big_size);
    zhive_result_destroy (&result);
    free (big);

    //  No arguments at all
    result = zhive_client_apply (s_client, "echo", NULL, &opts);
    assert_true (zhive_result_ok (result));
    assert_int_equal (zhive_value_len (zhive_result_value (result)), 0);
    zhive_result_destroy (&result);
    zhive_pack_destroy (&args);
}

static void
test_errors_are_values (void **state)
{
    (void) state;
    zhive_opts_t opts = { .timeout_ms = 10000 };
    zhive_pack_t *args = zhive_pack_new ();
    zhive_pack_array (args, 1);
    zhive_pack_str (args, "boom");
    zhive_result_t *result = zhive_client_apply (s_client, "fail", args, &opts);
    assert_false (zhive_result_ok (result));
    assert_string_equal (zhive_result_error_type (result), "ExampleError");
    assert_string_equal (zhive_result_error_message (result), "boom");
    assert_true (strlen (zhive_result_error_worker (result)) > 0);
    zhive_result_destroy (&result);

    //  Bad arguments to a handler
    zhive_pack_reset (args);
    zhive_pack_array (args, 1);
    zhive_pack_str (args, "x");
    result = zhive_client_apply (s_client, "fib", args, &opts);
    assert_string_equal (zhive_result_error_type (result), "BadArguments");
    zhive_result_destroy (&result);

    //  Args that are not an array are refused before sending
    zhive_pack_reset (args);
    zhive_pack_int (args, 5);
    result = zhive_client_apply (s_client, "fib", args, &opts);
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_BAD_ARGS);
    zhive_result_destroy (&result);
    assert_null (zhive_client_submit (s_client, "fib", args, NULL));
    assert_int_equal (errno, EINVAL);
    zhive_pack_destroy (&args);
}

static void
test_unknown_function_times_out_clearly (void **state)
{
    (void) state;
    zhive_opts_t opts = { .timeout_ms = 400 };
    int64_t start = zclock_mono ();
    zhive_result_t *result = zhive_client_apply (s_client, "nosuch", NULL, &opts);
    int64_t elapsed = zclock_mono () - start;
    assert_false (zhive_result_ok (result));
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_TIMEOUT);
    //  The message names the function so the user knows what waited
    assert_non_null (strstr (zhive_result_error_message (result), "nosuch"));
    assert_true (elapsed >= 350);
    assert_true (elapsed < 10000);
    zhive_result_destroy (&result);
}

static void
test_map_in_order (void **state)
{
    (void) state;
    zhive_pack_t *items = zhive_pack_new ();
    for (int i = 0; i < 300; i++)
        zhive_pack_int (items, i % 25);
    zhive_opts_t opts = { .timeout_ms = 20000, .window = 16 };
    zhive_map_t *map = zhive_client_map (s_client, "fib", items, &opts);
    assert_non_null (map);
    assert_int_equal (zhive_map_size (map), 300);
    zhive_result_t *result;
    size_t index = 0;
    while ((result = zhive_map_next (map, 20000))) {
        assert_int_equal (zhive_result_index (result), index);
        assert_int_equal (s_int (result), s_fib ((int) index % 25));
        zhive_result_destroy (&result);
        index++;
    }
    assert_int_equal (errno, 0);
    assert_int_equal (index, 300);
    assert_int_equal (zhive_map_returned (map), 300);
    zhive_map_destroy (&map);

    //  Items that are not valid msgpack are refused
    zhive_pack_t *bad = zhive_pack_new ();
    zhive_pack_array (bad, 2);
    zhive_pack_int (bad, 1);
    assert_null (zhive_client_map (s_client, "fib", bad, NULL));
    assert_int_equal (errno, EINVAL);
    zhive_pack_destroy (&bad);
    zhive_pack_destroy (&items);
}

static void
test_chunked_map (void **state)
{
    (void) state;
    //  1,000 items in chunks of 64 (the last chunk is short): in order
    zhive_pack_t *items = zhive_pack_new ();
    for (int i = 0; i < 1000; i++)
        zhive_pack_int (items, i % 25);
    zhive_opts_t opts = { .timeout_ms = 20000, .chunksize = 64 };
    zhive_map_t *map = zhive_client_map (s_client, "fib", items, &opts);
    assert_non_null (map);
    zhive_result_t *result;
    size_t index = 0;
    while ((result = zhive_map_next (map, 20000))) {
        assert_int_equal (zhive_result_index (result), index);
        assert_int_equal (s_int (result), s_fib ((int) index % 25));
        zhive_result_destroy (&result);
        index++;
    }
    assert_int_equal (index, 1000);
    zhive_map_destroy (&map);

    //  Errors stay per item, with their type, message and worker
    zhive_pack_reset (items);
    for (int i = 0; i < 10; i++) {
        zhive_pack_array (items, 1);
        if (i % 3 == 0)
            zhive_pack_str (items, "x");    //  fib("x"): BadArguments
        else
            zhive_pack_int (items, i);
    }
    opts.chunksize = 4;
    opts.unordered = true;
    map = zhive_client_starmap (s_client, "fib", items, &opts);
    int errors = 0, values = 0;
    while ((result = zhive_map_next (map, 20000))) {
        size_t at = zhive_result_index (result);
        if (at % 3 == 0) {
            assert_string_equal (zhive_result_error_type (result), "BadArguments");
            assert_true (strlen (zhive_result_error_worker (result)) > 0);
            errors++;
        }
        else {
            assert_int_equal (s_int (result), s_fib ((int) at));
            values++;
        }
        zhive_result_destroy (&result);
    }
    assert_int_equal (errors, 4);
    assert_int_equal (values, 6);
    zhive_map_destroy (&map);

    //  An async handler cannot run chunks: a clear error per item
    zhive_pack_reset (items);
    zhive_pack_int (items, 1);
    zhive_pack_int (items, 2);
    opts.unordered = false;
    map = zhive_client_map (s_client, "sleep", items, &opts);
    result = zhive_map_next (map, 20000);
    assert_string_equal (zhive_result_error_type (result), "BadArguments");
    assert_non_null (strstr (zhive_result_error_message (result), "async"));
    zhive_result_destroy (&result);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&items);
}

static void
test_starmap_and_errors_in_place (void **state)
{
    (void) state;
    zhive_pack_t *items = zhive_pack_new ();
    for (int i = 0; i < 10; i++) {
        zhive_pack_array (items, 2);
        zhive_pack_int (items, i);
        zhive_pack_str (items, "x");
    }
    //  starmap needs arrays
    zhive_pack_t *bad = zhive_pack_new ();
    zhive_pack_int (bad, 1);
    assert_null (zhive_client_starmap (s_client, "echo", bad, NULL));
    zhive_pack_destroy (&bad);

    zhive_map_t *map = zhive_client_starmap (s_client, "echo", items, NULL);
    zhive_result_t *result;
    int count = 0;
    while ((result = zhive_map_next (map, 10000))) {
        const msgpack_object *value = zhive_result_value (result);
        assert_int_equal (zhive_value_len (value), 2);
        int64_t n;
        assert_int_equal (zhive_value_int (zhive_value_at (value, 0), &n), 0);
        assert_int_equal (n, count);
        zhive_result_destroy (&result);
        count++;
    }
    assert_int_equal (count, 10);
    zhive_map_destroy (&map);

    //  A failing item gives an error result in its place; the rest succeed
    zhive_pack_reset (items);
    zhive_pack_str (items, "first");
    zhive_pack_int (items, 3);
    zhive_pack_str (items, "third");
    map = zhive_client_map (s_client, "fail", items, NULL);
    assert_non_null (map);
    result = zhive_map_next (map, 10000);
    assert_string_equal (zhive_result_error_message (result), "first");
    zhive_result_destroy (&result);
    result = zhive_map_next (map, 10000);
    assert_string_equal (zhive_result_error_type (result), "BadArguments");
    zhive_result_destroy (&result);
    result = zhive_map_next (map, 10000);
    assert_string_equal (zhive_result_error_message (result), "third");
    zhive_result_destroy (&result);
    assert_null (zhive_map_next (map, 0));
    assert_int_equal (errno, 0);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&items);
}

static void
test_map_unordered (void **state)
{
    (void) state;
    //  sleep(ms) with decreasing ms: completion order differs from input order
    zhive_pack_t *items = zhive_pack_new ();
    for (int i = 0; i < 20; i++)
        zhive_pack_int (items, (20 - i) * 20);
    zhive_opts_t opts = { .timeout_ms = 20000, .unordered = true };
    zhive_map_t *map = zhive_client_map (s_client, "sleep", items, &opts);
    bool seen [20] = { false };
    zhive_result_t *result;
    int count = 0;
    size_t first = 99;
    while ((result = zhive_map_next (map, 20000))) {
        size_t index = zhive_result_index (result);
        assert_true (index < 20);
        assert_false (seen [index]);
        seen [index] = true;
        assert_int_equal (s_int (result), (20 - (int) index) * 20);
        if (first == 99)
            first = index;
        zhive_result_destroy (&result);
        count++;
    }
    assert_int_equal (count, 20);
    //  The shortest sleep (last input) finishes long before the first input
    assert_true (first != 0);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&items);
}

static void
test_async_submit_and_wait_any (void **state)
{
    (void) state;
    zhive_task_t *tasks [20];
    zhive_pack_t *args = testkit_pool_args_int (300);
    for (int i = 0; i < 20; i++) {
        tasks [i] = zhive_client_submit (s_client, "sleep", args, NULL);
        assert_non_null (tasks [i]);
    }
    //  Not done yet: a zero-timeout wait returns at once
    assert_null (zhive_task_wait (tasks [0], 0));
    assert_false (zhive_task_done (tasks [0]));
    //  All twenty come back once each through wait_any
    int seen = 0;
    int64_t start = zclock_mono ();
    while (seen < 20) {
        zhive_task_t *task = zhive_client_wait_any (s_client, 10000);
        assert_non_null (task);
        assert_true (zhive_task_done (task));
        assert_int_equal (s_int (zhive_task_wait (task, 0)), 300);
        seen++;
    }
    //  They ran concurrently: far less than 20 × 300 ms
    assert_true (zclock_mono () - start < 5000);
    assert_null (zhive_client_wait_any (s_client, 0));
    for (int i = 0; i < 20; i++) {
        zhive_result_t *result = zhive_task_take (tasks [i]);
        assert_non_null (result);
        assert_null (zhive_task_take (tasks [i]));
        zhive_result_destroy (&result);
        zhive_task_destroy (&tasks [i]);
    }
    //  A destroyed pending task's result is dropped quietly
    zhive_task_t *dropped = zhive_client_submit (s_client, "sleep", args, NULL);
    zhive_task_destroy (&dropped);
    assert_null (zhive_client_wait_any (s_client, 600));
    zhive_pack_destroy (&args);
}

//  A caller's own zloop drives the client through its socket
static int
s_on_client (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    int *finished = (int *) arg;
    zhive_client_process (s_client);
    zhive_task_t *task;
    while ((task = zhive_client_wait_any (s_client, 0))) {
        zhive_result_t *result = zhive_task_take (task);
        assert_int_equal (s_int (result), 50);
        zhive_result_destroy (&result);
        zhive_task_destroy (&task);
        (*finished)++;
    }
    return *finished == 5 ? -1 : 0;
}

static int
s_on_timeout (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

static void
test_own_event_loop (void **state)
{
    (void) state;
    zhive_pack_t *args = testkit_pool_args_int (50);
    for (int i = 0; i < 5; i++)
        assert_non_null (zhive_client_submit (s_client, "sleep", args, NULL));
    zhive_pack_destroy (&args);
    int finished = 0;
    zloop_t *loop = zloop_new ();
    zloop_reader (loop, zhive_client_socket (s_client), s_on_client, &finished);
    zloop_timer (loop, 10000, 1, s_on_timeout, NULL);
    //  Messages may already be waiting (the edge was consumed): process once
    s_on_client (loop, NULL, &finished);
    if (finished < 5)
        zloop_start (loop);
    zloop_destroy (&loop);
    assert_int_equal (finished, 5);
    assert_true (zhive_client_fd (s_client) >= 0);
}

static void
test_status (void **state)
{
    (void) state;
    zhive_result_t *status = zhive_client_status (s_client, 5000);
    assert_true (zhive_result_ok (status));
    const msgpack_object *workers = zhive_value_get (zhive_result_value (status), "workers");
    assert_int_equal (zhive_value_len (workers), 2);
    const msgpack_object *functions = zhive_value_get (zhive_value_at (workers, 0), "functions");
    bool has_fib = false;
    for (size_t i = 0; i < zhive_value_len (functions); i++) {
        const char *name;
        size_t size;
        if (zhive_value_str (zhive_value_at (functions, i), &name, &size) == 0 && size == 3 &&
            memcmp (name, "fib", 3) == 0)
            has_fib = true;
    }
    assert_true (has_fib);
    assert_non_null (zhive_value_get (zhive_result_value (status), "queues"));
    zhive_result_destroy (&status);
}

//  Heartbeat settings out of libzmq's range are clamped, never fatal: a
//  live client takes 0, negatives, an hour and INT_MAX, keeps its socket's
//  heartbeats within what libzmq accepts, and still gets answers
static void
test_heartbeat_extremes (void **state)
{
    (void) state;
    zhive_client_t *client =
        zhive_client_new (zhive_broker_clients_endpoint (s_pool->broker), 5000);
    assert_non_null (client);
    zsock_t *sock = zhive_client_socket (client);
    struct {
        int interval, liveness;    //  Asked
        int ivl, timeout;          //  What the socket must hold
    } cases [] = {
        { 3600000, 3, 3600000, 3600000 },    //  An hour: liveness cut to 1
        { 0, 0, 1000, 3000 },                //  Defaults
        { -5, -1, 1000, 3000 },              //  Defaults
        { INT_MAX, INT_MAX, 3600000, 3600000 },
        { INT_MAX, 3, 3600000, 3600000 },
        { 1, INT_MAX, 1, 3600000 },
        { 600000, 100, 600000, 3600000 },
        { 250, 4, 250, 1000 },    //  In range: kept as asked
    };
    zhive_pack_t *args = testkit_pool_args_int (15);
    zhive_opts_t opts = { .timeout_ms = 10000 };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        zhive_client_set_heartbeat (client, cases [i].interval, cases [i].liveness);
        assert_int_equal (zsock_heartbeat_ivl (sock), cases [i].ivl);
        assert_int_equal (zsock_heartbeat_timeout (sock), cases [i].timeout);
        assert_true (zsock_heartbeat_ttl (sock) <= 6553599);
        assert_true (zsock_heartbeat_ttl (sock) >= cases [i].timeout - 100);
        zhive_result_t *result = zhive_client_apply (client, "fib", args, &opts);
        assert_int_equal (s_int (result), 610);
        zhive_result_destroy (&result);
    }
    zhive_pack_destroy (&args);
    zhive_client_destroy (&client);
}

//  A port the kernel picks, free right now (only 127.0.0.1 is used)
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = 0 };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || bind (fd, (struct sockaddr *) &address, sizeof address) ||
        getsockname (fd, (struct sockaddr *) &address, &length))
        fail_msg ("cannot find a free port: %s", strerror (errno));
    close (fd);
    return ntohs (address.sin_port);
}

//  A finite send high-water mark loses nothing: with the broker gone, the
//  client's pipe fills (sends fail with EAGAIN) and further tasks and map
//  items wait unsent in the client, none failed; once a broker is back,
//  every task and item gets exactly one right answer
static void
test_full_pipe_loses_nothing (void **state)
{
    (void) state;
#define S_HWM 20
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", s_free_port ());
    zhive_broker_t *broker = zhive_broker_new ();
    assert_non_null (broker);
    assert_int_equal (zhive_broker_bind_clients (broker, endpoint), 0);
    assert_int_equal (zhive_broker_bind_workers (broker, "tcp://127.0.0.1:*"), 0);
    zhive_client_t *client = zhive_client_new_hwm (endpoint, 5000, S_HWM);
    assert_non_null (client);
    zhive_broker_destroy (&broker);

    //  Submit until five pipes' worth wait unsent (bounded: the few sent
    //  before the client saw the broker go are resent after the reconnect).
    //  libzmq may give the client a new, empty pipe once it sees the
    //  connection gone, which takes some of them: at least a pipe's worth
    //  must still wait after that
    enum { MAX_TASKS = 5000 };
    static zhive_task_t *tasks [MAX_TASKS];
    int count = 0;
    zhive_opts_t opts = { .timeout_ms = 60000 };
    zhive_pack_t *args = zhive_pack_new ();
    while (count < MAX_TASKS && zhive_client_unsent (client) < 5 * S_HWM) {
        zhive_pack_reset (args);
        zhive_pack_array (args, 1);
        zhive_pack_int (args, count);
        tasks [count] = zhive_client_submit (client, "echo", args, &opts);
        assert_non_null (tasks [count]);
        count++;
    }
    assert_true (zhive_client_unsent (client) >= 5 * S_HWM);
    //  A map's items queue behind them
    zhive_pack_t *items = zhive_pack_new ();
    for (int i = 0; i < 50; i++)
        zhive_pack_int (items, 1000 + i);
    zhive_map_t *map = zhive_client_map (client, "echo", items, &opts);
    assert_non_null (map);
    //  Nothing failed or finished meanwhile
    zhive_client_process (client);
    assert_null (zhive_client_wait_any (client, 100));
    assert_null (zhive_map_next (map, 0));
    assert_int_equal (errno, ETIMEDOUT);
    assert_true (zhive_client_unsent (client) >= S_HWM);

    //  A broker with a worker on the same endpoint
    broker = zhive_broker_new ();
    assert_non_null (broker);
    assert_int_equal (zhive_broker_bind_clients (broker, endpoint), 0);
    assert_int_equal (zhive_broker_bind_workers (broker, "tcp://127.0.0.1:*"), 0);
    const char *loads [] = { getenv ("ZHIVE_PLUGIN"), NULL };
    assert_int_equal (zhive_broker_start_workers (broker, 1, loads, 100), 0);

    bool *seen = (bool *) calloc ((size_t) count, sizeof (bool));
    for (int done = 0; done < count; done++) {
        zhive_task_t *task = zhive_client_wait_any (client, 30000);
        assert_non_null (task);
        int at = -1;
        for (int i = 0; i < count && at < 0; i++)
            if (tasks [i] == task)
                at = i;
        assert_true (at >= 0);
        assert_false (seen [at]);
        seen [at] = true;
        zhive_result_t *result = zhive_task_wait (task, 0);
        assert_true (zhive_result_ok (result));
        assert_int_equal (s_int_at (result, 0), at);
    }
    assert_null (zhive_client_wait_any (client, 0));
    zhive_result_t *result;
    int index = 0;
    while ((result = zhive_map_next (map, 30000))) {
        assert_int_equal (zhive_result_index (result), index);
        assert_int_equal (s_int_at (result, 0), 1000 + index);
        zhive_result_destroy (&result);
        index++;
    }
    assert_int_equal (errno, 0);
    assert_int_equal (index, 50);
    assert_int_equal (zhive_client_unsent (client), 0);
    assert_true (zhive_client_reconnects (client) >= 1);
    free (seen);
    for (int i = 0; i < count; i++)
        zhive_task_destroy (&tasks [i]);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&items);
    zhive_pack_destroy (&args);
    zhive_client_destroy (&client);
    zhive_broker_destroy (&broker);
}

//  ---------------------------------------------------------------------
//  One meaning of retries, in C and in the CLI: opts.retries 0 is the
//  broker's default (-1 on the wire), ZHIVE_NO_RETRIES none (0), N is N;
//  the CLI's --retries 0 is none. A fake broker reads the SUBMITs.

//  The next SUBMIT the fake broker gets (answering PINGs); its retries
static int64_t
s_submit_retries (zsock_t *router, zhive_proto_t *msg)
{
    zpoller_t *poller = zpoller_new (router, NULL);
    int64_t retries = -100;
    while (retries == -100 && zpoller_wait (poller, TESTKIT_TIMEOUT)) {
        if (zhive_proto_recv (msg, router, 0))
            continue;
        if (msg->command == ZHIVE_PING) {
            msg->command = ZHIVE_PONG;
            zhive_proto_send (msg, router);
        }
        else if (msg->command == ZHIVE_SUBMIT)
            retries = msg->retries;
    }
    zpoller_destroy (&poller);
    if (retries == -100)
        fail_msg ("no SUBMIT came");
    return retries;
}

static void
test_retries_mean_the_same_in_c_and_cli (void **state)
{
    (void) state;
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    assert_non_null (router);
    char endpoint [64];
    char *bound = zsock_last_endpoint (router);    //  Ours to free
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", testkit_port (bound));
    zstr_free (&bound);
    zhive_proto_t *msg = zhive_proto_new ();
    zhive_client_t *client = zhive_client_new (endpoint, 0);    //  No PING to answer
    assert_non_null (client);
    struct {
        int retries;     //  opts.retries
        int64_t wire;    //  SUBMIT's retries
    } cases [] = { { 0, -1 }, { ZHIVE_NO_RETRIES, 0 }, { 2, 2 } };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        zhive_opts_t opts = { .retries = cases [i].retries };
        zhive_task_t *task = zhive_client_submit (client, "echo", NULL, &opts);
        assert_non_null (task);
        assert_int_equal (s_submit_retries (router, msg), cases [i].wire);
        zhive_task_destroy (&task);
    }
    zhive_client_destroy (&client);
    //  The CLI: --retries 0 is none, --retries 3 is 3, none given the default
    const char *given [] = { "0", "3", NULL };
    int64_t wire [] = { 0, 3, -1 };
    char program [PATH_MAX];
    testkit_program ("zhive", program, sizeof program);
    for (int i = 0; i < 3; i++) {
        const char *argv [] = { program,          "--broker", endpoint,
                                "--task-timeout", "300",      "call",
                                "echo",           "[1]",      given [i] ? "--retries" : NULL,
                                given [i],        NULL };
        pid_t pid = testkit_spawn (argv, "/dev/null");
        assert_int_equal (s_submit_retries (router, msg), wire [i]);
        testkit_reap (pid, SIGTERM, 5000);
    }
    zhive_proto_destroy (&msg);
    zsock_destroy (&router);
}

//  ---------------------------------------------------------------------
//  zhive_map_take tells the end (0) from a timeout (-1); zhive_map_done

static void
test_map_take_end_and_timeout (void **state)
{
    (void) state;
    zhive_pack_t *items = zhive_pack_new ();
    zhive_pack_int (items, 300);    //  sleep 300 ms
    zhive_pack_int (items, 1);
    zhive_opts_t opts = { .timeout_ms = 10000 };
    zhive_map_t *map = zhive_client_map (s_client, "sleep", items, &opts);
    assert_non_null (map);
    zhive_result_t *result = (zhive_result_t *) &opts;    //  Set to NULL when none
    assert_int_equal (zhive_map_take (map, 0, &result), -1);
    assert_null (result);
    assert_false (zhive_map_done (map));
    int taken = 0;
    int rc;
    while ((rc = zhive_map_take (map, 10000, &result)) == 1) {
        assert_true (zhive_result_ok (result));
        assert_int_equal (zhive_result_index (result), taken);
        zhive_result_destroy (&result);
        taken++;
    }
    assert_int_equal (rc, 0);
    assert_null (result);
    assert_int_equal (taken, 2);
    assert_true (zhive_map_done (map));
    assert_int_equal (zhive_map_take (map, 0, &result), 0);
    //  zhive_map_next says the same through errno
    assert_null (zhive_map_next (map, 0));
    assert_int_equal (errno, 0);
    zhive_map_destroy (&map);
    //  An empty map is done at once
    zhive_pack_reset (items);
    map = zhive_client_map (s_client, "echo", items, &opts);
    assert_non_null (map);
    assert_true (zhive_map_done (map));
    assert_int_equal (zhive_map_take (map, -1, &result), 0);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&items);
}

//  Args over the message limit (libzmq would drop the connection on the
//  frame, and the call would hang in reconnects) are TooLarge at once,
//  naming the limit, for apply, submit and starmap; the client goes on
static void
test_args_over_the_limit (void **state)
{
    (void) state;
    size_t size = 257u * 1024 * 1024;
    char *zeros = (char *) calloc (1, size);    //  Untouched pages: no memory yet
    assert_non_null (zeros);
    zhive_pack_t *args = zhive_pack_new ();
    assert_int_equal (zhive_pack_array (args, 1), 0);
    assert_int_equal (zhive_pack_bytes (args, zeros, size), 0);
    free (zeros);
    int64_t start = zclock_mono ();
    zhive_result_t *result = zhive_client_apply (s_client, "echo", args, NULL);
    assert_non_null (result);
    assert_false (zhive_result_ok (result));
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_TOO_LARGE);
    assert_non_null (strstr (zhive_result_error_message (result), "267911168"));
    zhive_result_destroy (&result);
    zhive_task_t *task = zhive_client_submit (s_client, "echo", args, NULL);
    assert_non_null (task);
    assert_true (zhive_task_done (task));
    assert_string_equal (zhive_result_error_type (zhive_task_wait (task, 0)), ZHIVE_ERR_TOO_LARGE);
    zhive_task_destroy (&task);
    zhive_map_t *map = zhive_client_starmap (s_client, "echo", args, NULL);
    assert_non_null (map);
    assert_int_equal (zhive_map_take (map, 0, &result), 1);
    assert_string_equal (zhive_result_error_type (result), ZHIVE_ERR_TOO_LARGE);
    assert_non_null (strstr (zhive_result_error_message (result), "267911168"));
    zhive_result_destroy (&result);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&args);
    assert_true (zclock_mono () - start < 5000);    //  At once, not a deadline
    //  The connection is as it was
    zhive_pack_t *small = testkit_pool_args_int (5);
    result = zhive_client_apply (s_client, "echo", small, NULL);
    assert_non_null (result);
    assert_true (zhive_result_ok (result));
    zhive_result_destroy (&result);
    zhive_pack_destroy (&small);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_connect_failures),
        cmocka_unit_test (test_apply),
        cmocka_unit_test (test_errors_are_values),
        cmocka_unit_test (test_unknown_function_times_out_clearly),
        cmocka_unit_test (test_map_in_order),
        cmocka_unit_test (test_starmap_and_errors_in_place),
        cmocka_unit_test (test_chunked_map),
        cmocka_unit_test (test_map_unordered),
        cmocka_unit_test (test_async_submit_and_wait_any),
        cmocka_unit_test (test_own_event_loop),
        cmocka_unit_test (test_status),
        cmocka_unit_test (test_heartbeat_extremes),
        cmocka_unit_test (test_full_pipe_loses_nothing),
        cmocka_unit_test (test_retries_mean_the_same_in_c_and_cli),
        cmocka_unit_test (test_map_take_end_and_timeout),
        cmocka_unit_test (test_args_over_the_limit),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
