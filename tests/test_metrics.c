/*  =========================================================================
    test_metrics - the broker's metrics: the pool's counters and histograms
    (driven directly, with a fake operations table and made-up times), the
    text and JSON made of them, and the HTTP server of a real pool
    (zhive_broker_set_http), scraped over a plain TCP socket; the recent
    errors and the throughput history of /api/status, and the dashboard
    served at / (the same bytes as broker/dashboard/)

    Prometheus's own parser checks the text when `promtool` is installed
    (Debian's package prometheus ships it, and .ci/install-deps installs
    it; without it the case says it skips that check). A real Prometheus
    scraping a real broker: tests/test_prometheus.sh.
    =========================================================================
*/
#include "testkit_pool.h"
#include "zhive_http.h"
#include "zhive_dashboard.h"
#include "zhive_metrics.h"
#include "zhive_metrics_history.h"
#include "zhive_pool.h"
#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define S_MS    1000        //  One ms in the pool's µs
#define S_TOKEN "s3cret"    //  The HTTP token of the real pool

//  ---------------------------------------------------------------------
//  A fake operations table: every send works; tickets are recorded

typedef struct {
    uint64_t tickets [64];    //  Tickets sent, in order
    size_t count;             //  How many
    size_t answers;           //  Answers sent to clients
} s_fake_t;

static zhive_pool_send_t
s_send_task (void *arg, const zhive_peer_t *worker, uint64_t ticket, const char *function,
             int64_t timeout_ms, uint32_t chunk, zmq_msg_t *args)
{
    (void) worker, (void) function, (void) timeout_ms, (void) chunk, (void) args;
    s_fake_t *fake = (s_fake_t *) arg;
    assert_true (fake->count < 64);
    fake->tickets [fake->count++] = ticket;
    return ZHIVE_POOL_SENT;
}

static bool
s_answer (void *arg, const zhive_peer_t *client, uint64_t id, zmq_msg_t *value, const char *type,
          const char *message, const char *worker)
{
    (void) client, (void) id, (void) value, (void) type, (void) message, (void) worker;
    ((s_fake_t *) arg)->answers++;
    return true;
}

static void
s_cancel (void *arg, const zhive_peer_t *worker, uint64_t ticket)
{
    (void) arg, (void) worker, (void) ticket;
}

static int
s_kill (void *arg, uint64_t pid, const char *why)
{
    (void) arg, (void) pid, (void) why;
    return -1;
}

static void
s_welcome (void *arg, const zhive_peer_t *worker, uint32_t incarnation)
{
    (void) arg, (void) worker, (void) incarnation;
}

static uint32_t
s_incarnation (void *arg)
{
    (void) arg;
    return 7;
}

static const zhive_pool_ops_t s_ops = { s_send_task, s_answer,  s_cancel,
                                        s_kill,      s_welcome, s_incarnation };

static zhive_peer_t
s_peer (const char *name)
{
    zhive_peer_t peer;
    zhive_peer_set (&peer, name, strlen (name));
    return peer;
}

static void
s_submit (zhive_pool_t *pool, int64_t now, uint64_t id, const char *function)
{
    zhive_peer_t peer = s_peer ("client");
    zmq_msg_t msg;
    zmq_msg_init_size (&msg, 1);
    memcpy (zmq_msg_data (&msg), "x", 1);
    zhive_pool_submit (pool, now, &peer, id, function, &msg, -1, -1, 0);
    zmq_msg_close (&msg);
}

static void
s_ready (zhive_pool_t *pool, int64_t now, const char *worker, const char *function)
{
    zhive_peer_t peer = s_peer (worker);
    const char *functions [] = { function };
    zhive_pool_ready_t ready = { worker, "host", 42, 1, 0, functions, 1, false };
    assert_int_equal (zhive_pool_worker_ready (pool, now, &peer, &ready), 0);
}

static void
s_done (zhive_pool_t *pool, int64_t now, const char *worker, uint64_t ticket)
{
    zhive_peer_t peer = s_peer (worker);
    zmq_msg_t msg;
    zmq_msg_init_size (&msg, 1);
    memcpy (zmq_msg_data (&msg), "y", 1);
    zhive_pool_worker_done (pool, now, &peer, ticket, &msg);
    zmq_msg_close (&msg);
}

//  SUBMIT with a deadline (ms, -1 none) and retries (-1 the default)
static void
s_submit_with (zhive_pool_t *pool, int64_t now, uint64_t id, const char *function,
               int64_t timeout_ms, int64_t retries)
{
    zhive_peer_t peer = s_peer ("client");
    zmq_msg_t msg;
    zmq_msg_init_size (&msg, 1);
    memcpy (zmq_msg_data (&msg), "x", 1);
    zhive_pool_submit (pool, now, &peer, id, function, &msg, timeout_ms, retries, 0);
    zmq_msg_close (&msg);
}

static void
s_failed (zhive_pool_t *pool, int64_t now, const char *worker, uint64_t ticket, const char *type,
          const char *message)
{
    zhive_peer_t peer = s_peer (worker);
    zhive_pool_worker_failed (pool, now, &peer, ticket, type, message);
}

//  The JSON status of pool, parsed (fails the test if it is not JSON)
static json_t *
s_status (zhive_pool_t *pool, int64_t now, const zhive_metrics_history_t *history)
{
    zhive_metrics_extra_t extra = { 0, history };
    size_t size = 0;
    char *json = zhive_metrics_json (pool, now, &extra, &size);
    assert_non_null (json);
    json_error_t error;
    json_t *root = json_loadb (json, size, 0, &error);
    if (!root)
        fail_msg ("not JSON (%s at %d): %s", error.text, error.position, json);
    free (json);
    return root;
}

//  The queue of function in a parsed status, NULL if none
static json_t *
s_queue (json_t *root, const char *function)
{
    json_t *queues = json_object_get (root, "queues");
    for (size_t i = 0; i < json_array_size (queues); i++) {
        json_t *queue = json_array_get (queues, i);
        if (streq (json_string_value (json_object_get (queue, "function")), function))
            return queue;
    }
    return NULL;
}

static const char *
s_member (json_t *object, const char *name)
{
    const char *value = json_string_value (json_object_get (object, name));
    assert_non_null (value);
    return value;
}

//  The view of one function, copied out
typedef struct {
    const char *name;              //  Function looked for
    bool found;                    //  Seen
    zhive_pool_function_t view;    //  What the pool said
} s_find_t;

static void
s_find_one (const zhive_pool_function_t *function, void *arg)
{
    s_find_t *find = (s_find_t *) arg;
    if (streq (function->function, find->name)) {
        find->found = true;
        find->view = *function;
    }
}

static zhive_pool_function_t
s_find (zhive_pool_t *pool, int64_t now, const char *name)
{
    s_find_t find = { name, false, { 0 } };
    zhive_pool_each_function (pool, now, s_find_one, &find);
    assert_true (find.found);
    return find.view;
}

//  The value of the sample line that starts with `series ` in text; fails
//  the test if there is none
static double
s_sample (const char *text, const char *series)
{
    size_t size = strlen (series);
    for (const char *line = text; line && *line; line = strchr (line, '\n') + 1) {
        if (strncmp (line, series, size) == 0 && line [size] == ' ')
            return strtod (line + size + 1, NULL);
        if (!strchr (line, '\n'))
            break;
    }
    fail_msg ("no sample %s in:\n%s", series, text);
    return -1;
}

//  Run promtool check metrics on text, if promtool is installed: true if
//  it passed or is not there
static bool
s_promtool (const char *text)
{
    if (system ("command -v promtool >/dev/null 2>&1") != 0) {
        print_message ("promtool is not installed: Prometheus's parser not run (apt-get install"
                       " prometheus to run it)\n");
        return true;
    }
    char path [] = "/tmp/test_metrics_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    size_t size = strlen (text);
    assert_int_equal (write (fd, text, size), (ssize_t) size);
    close (fd);
    char command [256];
    snprintf (command, sizeof command, "promtool check metrics < %s", path);
    int rc = system (command);
    unlink (path);
    return rc == 0;
}

//  ---------------------------------------------------------------------
//  The pool's counters and histograms, and the text made of them

static void
test_pool_metrics (void **state)
{
    (void) state;
    s_fake_t fake = { { 0 }, 0, 0 };
    zhive_pool_t *pool = zhive_pool_new (&s_ops, &fake, 3);
    assert_non_null (pool);
    zhive_pool_set_prefetch (pool, 0);

    //  A task waits 2 s for a worker, which answers after 30 ms
    s_submit (pool, 0, 1, "echo");
    zhive_pool_function_t view = s_find (pool, 1500 * S_MS, "echo");
    assert_int_equal (view.waiting, 1);
    assert_int_equal (view.oldest_us, 1500 * S_MS);
    s_ready (pool, 2000 * S_MS, "w1", "echo");
    assert_int_equal (fake.count, 1);
    view = s_find (pool, 2000 * S_MS, "echo");
    assert_int_equal (view.in_flight, 1);
    assert_int_equal (view.oldest_us, 0);
    assert_int_equal (view.wait.count, 1);
    s_done (pool, 2030 * S_MS, "w1", fake.tickets [0]);
    //  Two more, at once and 1 ms each
    for (uint64_t id = 2; id <= 3; id++) {
        s_submit (pool, 3000 * S_MS, id, "echo");
        s_done (pool, 3001 * S_MS, "w1", fake.tickets [fake.count - 1]);
    }
    view = s_find (pool, 4000 * S_MS, "echo");
    assert_int_equal (view.stats.ok, 3);
    assert_int_equal (view.duration.count, 3);
    assert_int_equal (view.wait.count, 3);
    assert_int_equal (view.wait.sum_us, 2000 * S_MS);
    assert_int_equal (view.duration.sum_us, 32 * S_MS);

    zhive_metrics_extra_t extra = { 5, NULL };
    size_t size = 0;
    char *text = zhive_metrics_text (pool, 4000 * S_MS, &extra, &size);
    assert_non_null (text);
    assert_int_equal (strlen (text), size);
    assert_true (s_sample (text, "zhive_tasks_total{function=\"echo\",outcome=\"ok\"}") == 3);
    assert_true (s_sample (text, "zhive_task_duration_seconds_count{function=\"echo\"}") == 3);
    //  30 ms falls in le=0.05, not in le=0.025; the two 1 ms ones in le=0.001
    assert_true (
        s_sample (text, "zhive_task_duration_seconds_bucket{function=\"echo\",le=\"0.001\"}") == 2);
    assert_true (
        s_sample (text, "zhive_task_duration_seconds_bucket{function=\"echo\",le=\"0.025\"}") == 2);
    assert_true (
        s_sample (text, "zhive_task_duration_seconds_bucket{function=\"echo\",le=\"0.05\"}") == 3);
    assert_true (s_sample (text, "zhive_task_wait_seconds_bucket{function=\"echo\",le=\"1\"}") ==
                 2);
    assert_true (s_sample (text, "zhive_task_wait_seconds_bucket{function=\"echo\",le=\"2.5\"}") ==
                 3);
    assert_true (s_sample (text, "zhive_task_wait_seconds_sum{function=\"echo\"}") == 2.0);
    assert_true (s_sample (text, "zhive_workers{state=\"ready\"}") == 1);
    assert_true (s_sample (text, "zhive_worker_slots{state=\"free\"}") == 1);
    assert_true (s_sample (text, "zhive_clients_connected") == 5);
    assert_true (s_promtool (text));
    free (text);

    //  The worker goes, the queue is pruned: the series stay, and go on
    //  from where they were when the function comes back
    zhive_peer_t w1 = s_peer ("w1");
    zhive_pool_worker_lost (pool, 5000 * S_MS, &w1, "test");
    zhive_pool_prune (pool);
    assert_null (zhive_pool_function_stats (pool, "echo"));
    view = s_find (pool, 5000 * S_MS, "echo");
    assert_int_equal (view.stats.ok, 3);
    assert_int_equal (view.duration.count, 3);
    text = zhive_metrics_text (pool, 5000 * S_MS, &extra, &size);
    assert_non_null (text);
    assert_true (s_sample (text, "zhive_tasks_total{function=\"echo\",outcome=\"ok\"}") == 3);
    assert_true (s_sample (text, "zhive_workers{state=\"ready\"}") == 0);
    free (text);
    s_ready (pool, 6000 * S_MS, "w2", "echo");
    s_submit (pool, 6000 * S_MS, 4, "echo");
    s_done (pool, 6001 * S_MS, "w2", fake.tickets [fake.count - 1]);
    view = s_find (pool, 6001 * S_MS, "echo");
    assert_int_equal (view.stats.ok, 4);
    assert_int_equal (view.stats.submitted, 4);
    assert_int_equal (view.duration.count, 4);
    zhive_pool_destroy (&pool);
}

//  A function name that needs escaping, in the text and in JSON
static void
test_escaping (void **state)
{
    (void) state;
    char out [64];
    zhive_metrics_escape ("a\"b\\c\nd", false, out, sizeof out);
    assert_string_equal (out, "a\\\"b\\\\c\\nd");
    zhive_metrics_escape ("x\xffy\xc3\xa9", false, out, sizeof out);
    assert_string_equal (out, "x\xef\xbf\xbdy\xc3\xa9");    //  é stays, 0xff is U+FFFD
    zhive_metrics_escape ("t\x01\"", true, out, sizeof out);
    assert_string_equal (out, "t\\u0001\\\"");
    zhive_metrics_escape ("\xed\xa0\x80", true, out, sizeof out);    //  A surrogate: not UTF-8
    assert_string_equal (out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_int_equal (zhive_metrics_escape ("abcdef", false, out, 4), 3);
    assert_string_equal (out, "abc");

    s_fake_t fake = { { 0 }, 0, 0 };
    zhive_pool_t *pool = zhive_pool_new (&s_ops, &fake, 3);
    assert_non_null (pool);
    const char *odd = "we\"ird\\na\nme\x02\xff";
    s_ready (pool, 0, "w\"1", odd);
    s_submit (pool, 0, 1, odd);
    zhive_metrics_extra_t extra = { 0, NULL };
    size_t size;
    char *text = zhive_metrics_text (pool, 0, &extra, &size);
    assert_non_null (text);
    assert_true (
        s_sample (text, "zhive_tasks_running{function=\"we\\\"ird\\\\na\\nme\x02\xef\xbf\xbd\"}") ==
        1);
    assert_true (s_promtool (text));
    free (text);
    char *json = zhive_metrics_json (pool, 0, &extra, &size);
    assert_non_null (json);
    json_error_t error;
    json_t *root = json_loadb (json, size, 0, &error);
    if (!root)
        fail_msg ("not JSON (%s): %s", error.text, json);
    json_t *queue = json_array_get (json_object_get (root, "queues"), 0);
    assert_string_equal (json_string_value (json_object_get (queue, "function")),
                         "we\"ird\\na\nme\x02\xef\xbf\xbd");
    json_t *worker = json_array_get (json_object_get (root, "workers"), 0);
    assert_string_equal (json_string_value (json_object_get (worker, "name")), "w\"1");
    json_decref (root);
    free (json);
    zhive_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  The recent errors: what ended how, only the newest kept, counts right

static void
test_errors_ring (void **state)
{
    (void) state;
    s_fake_t fake = { { 0 }, 0, 0 };
    zhive_pool_t *pool = zhive_pool_new (&s_ops, &fake, 3);
    assert_non_null (pool);
    zhive_pool_set_prefetch (pool, 0);
    s_ready (pool, 0, "w1", "f");
    //  More failures than the ring holds
    size_t failures = ZHIVE_POOL_ERRORS_MAX + 10;
    for (size_t i = 0; i < failures; i++) {
        s_submit (pool, (int64_t) i * S_MS, i + 1, "f");
        char message [32];
        snprintf (message, sizeof message, "m%zu", i);
        s_failed (pool, (int64_t) i * S_MS + 1, "w1", fake.tickets [fake.count - 1], "Bad",
                  message);
    }
    const zhive_pool_errors_t *errors = zhive_pool_errors (pool);
    assert_int_equal (errors->recorded, failures);
    assert_int_equal (zhive_pool_errors_size (errors), ZHIVE_POOL_ERRORS_MAX);
    assert_string_equal (zhive_pool_errors_get (errors, 0)->message, "m59");
    assert_string_equal (zhive_pool_errors_get (errors, ZHIVE_POOL_ERRORS_MAX - 1)->message, "m10");
    assert_null (zhive_pool_errors_get (errors, ZHIVE_POOL_ERRORS_MAX));

    json_t *root = s_status (pool, 100 * S_MS, NULL);
    json_t *list = json_object_get (root, "errors");
    assert_int_equal (json_array_size (list), ZHIVE_POOL_ERRORS_MAX);
    assert_int_equal (json_integer_value (json_object_get (root, "errors_recorded")), failures);
    json_t *newest = json_array_get (list, 0);
    assert_string_equal (s_member (newest, "message"), "m59");
    assert_string_equal (s_member (newest, "outcome"), "error");
    assert_string_equal (s_member (newest, "type"), "Bad");
    assert_string_equal (s_member (newest, "function"), "f");
    assert_string_equal (s_member (newest, "worker"), "w1");
    //  Failed at 59 ms + 1 µs, seen at 100 ms (written to the ms)
    assert_true (fabs (json_real_value (json_object_get (newest, "age_seconds")) - 0.041) < 1e-9);
    assert_string_equal (s_member (json_array_get (list, ZHIVE_POOL_ERRORS_MAX - 1), "message"),
                         "m10");
    json_t *totals = json_object_get (root, "totals");
    assert_int_equal (json_integer_value (json_object_get (totals, "error")), failures);
    json_decref (root);

    //  The other ways a task ends in error, each with its outcome
    s_submit_with (pool, 200 * S_MS, 100, "f", 50, -1);    //  Times out on w1
    zhive_pool_tick (pool, 300 * S_MS);
    s_done (pool, 305 * S_MS, "w1",
            fake.tickets [fake.count - 1]);    //  Late: dropped, the slot is free
    zhive_peer_t w1 = s_peer ("w1");
    s_submit_with (pool, 310 * S_MS, 101, "f", -1, 0);    //  No retry: its worker is lost
    zhive_pool_worker_lost (pool, 320 * S_MS, &w1, "test");
    zhive_pool_set_unoffered (pool, 100);
    s_submit (pool, 400 * S_MS, 102, "nobody");
    zhive_pool_tick (pool, 400 * S_MS);    //  Starts the unoffered clock
    zhive_pool_tick (pool, 600 * S_MS);
    zhive_pool_set_max_queue (pool, 1, 0);
    s_submit (pool, 700 * S_MS, 103, "g");
    s_submit (pool, 700 * S_MS, 104, "g");    //  Refused: QueueFull
    root = s_status (pool, 800 * S_MS, NULL);
    list = json_object_get (root, "errors");
    assert_int_equal (json_integer_value (json_object_get (root, "errors_recorded")), failures + 4);
    const char *outcomes [] = { "queue_full", "unknown_function", "worker_lost", "timeout" };
    const char *types [] = { "QueueFull", "UnknownFunction", "WorkerLost", "Timeout" };
    const char *functions [] = { "g", "nobody", "f", "f" };
    const char *workers [] = { "", "", "w1", "w1" };
    for (size_t i = 0; i < 4; i++) {
        json_t *error = json_array_get (list, i);
        assert_string_equal (s_member (error, "outcome"), outcomes [i]);
        assert_string_equal (s_member (error, "type"), types [i]);
        assert_string_equal (s_member (error, "function"), functions [i]);
        assert_string_equal (s_member (error, "worker"), workers [i]);
        assert_true (strlen (s_member (error, "message")) > 0);
    }
    assert_string_equal (s_member (json_array_get (list, 4), "message"), "m59");
    totals = json_object_get (root, "totals");
    assert_int_equal (json_integer_value (json_object_get (totals, "unknown_function")), 1);
    json_decref (root);
    zhive_pool_destroy (&pool);
}

//  A hostile worker's error: every byte escaped, valid JSON, truncated
static void
test_errors_hostile (void **state)
{
    (void) state;
    s_fake_t fake = { { 0 }, 0, 0 };
    zhive_pool_t *pool = zhive_pool_new (&s_ops, &fake, 3);
    assert_non_null (pool);
    zhive_pool_set_prefetch (pool, 0);
    s_ready (pool, 0, "w\"<script>\x01", "f");
    //  Every byte but NUL, twice: quotes, backslashes, controls, bytes that are not UTF-8
    char message [512];
    for (size_t i = 0; i < 510; i++)
        message [i] = (char) (1 + i % 255);
    message [510] = 0;
    s_submit (pool, 0, 1, "f");
    s_failed (pool, 1, "w\"<script>\x01", fake.tickets [0], "T\"\\\n\x7f\xc0", message);
    const zhive_pool_error_t *kept = zhive_pool_errors_get (zhive_pool_errors (pool), 0);
    assert_non_null (kept);
    assert_int_equal (strlen (kept->message), ZHIVE_POOL_ERROR_MESSAGE_MAX);
    assert_memory_equal (kept->message, message, ZHIVE_POOL_ERROR_MESSAGE_MAX);

    json_t *root = s_status (pool, 2, NULL);    //  jansson refuses bad escapes and bad UTF-8
    json_t *error = json_array_get (json_object_get (root, "errors"), 0);
    assert_string_equal (s_member (error, "type"), "T\"\\\n\x7f\xef\xbf\xbd");
    assert_string_equal (s_member (error, "worker"), "w\"<script>\x01");
    //  The first 127 bytes are ASCII: they come back as they went
    const char *decoded = s_member (error, "message");
    assert_memory_equal (decoded, message, 127);
    json_decref (root);

    //  A long message of two-byte characters is cut between two of them
    char wide [601] = "";
    for (size_t i = 0; i < 300; i++)
        memcpy (wide + 2 * i, "\xc3\xa9", 2);
    wide [600] = 0;
    s_submit (pool, 3, 2, "f");
    s_failed (pool, 4, "w\"<script>\x01", fake.tickets [1], "T", wide);
    root = s_status (pool, 5, NULL);
    error = json_array_get (json_object_get (root, "errors"), 0);
    decoded = s_member (error, "message");
    assert_int_equal (strlen (decoded), ZHIVE_POOL_ERROR_MESSAGE_MAX);
    assert_memory_equal (decoded, wide, ZHIVE_POOL_ERROR_MESSAGE_MAX);
    json_decref (root);
    zhive_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  The throughput history: an interval per sample, bounded; the rates

static void
test_history (void **state)
{
    (void) state;
    s_fake_t fake = { { 0 }, 0, 0 };
    zhive_pool_t *pool = zhive_pool_new (&s_ops, &fake, 3);
    assert_non_null (pool);
    zhive_pool_set_prefetch (pool, 0);
    zhive_metrics_history_t *history = zhive_metrics_history_new ();
    assert_non_null (history);
    s_ready (pool, 0, "w1", "echo");
    //  Done before the first sample: not in any interval
    s_submit (pool, 0, 1, "echo");
    s_done (pool, 1, "w1", fake.tickets [fake.count - 1]);
    assert_int_equal (zhive_metrics_history_sample (history, pool, 0), 0);
    assert_int_equal (zhive_metrics_history_size (history), 0);

    //  Three ok in the first second, one failure in the second
    for (uint64_t id = 2; id <= 4; id++) {
        s_submit (pool, 100 * S_MS, id, "echo");
        s_done (pool, 101 * S_MS, "w1", fake.tickets [fake.count - 1]);
    }
    zhive_metrics_history_sample (history, pool, 1000 * S_MS);
    assert_int_equal (zhive_metrics_history_size (history), 1);
    s_submit (pool, 1100 * S_MS, 5, "echo");
    s_failed (pool, 1101 * S_MS, "w1", fake.tickets [fake.count - 1], "Bad", "no");
    zhive_metrics_history_sample (history, pool, 2000 * S_MS);
    assert_int_equal (zhive_metrics_history_size (history), 2);
    uint64_t ok, failed;
    zhive_metrics_history_get (history, 0, &ok, &failed);
    assert_int_equal (ok, 3);
    assert_int_equal (failed, 0);
    zhive_metrics_history_get (history, 1, &ok, &failed);
    assert_int_equal (ok, 0);
    assert_int_equal (failed, 1);

    json_t *root = s_status (pool, 2000 * S_MS, history);
    json_t *chart = json_object_get (root, "history");
    assert_true (json_real_value (json_object_get (chart, "interval_seconds")) == 1.0 ||
                 json_integer_value (json_object_get (chart, "interval_seconds")) == 1);
    json_t *oks = json_object_get (chart, "ok"), *fails = json_object_get (chart, "failed");
    assert_int_equal (json_array_size (oks), 2);
    assert_int_equal (json_integer_value (json_array_get (oks, 0)), 3);
    assert_int_equal (json_integer_value (json_array_get (oks, 1)), 0);
    assert_int_equal (json_integer_value (json_array_get (fails, 1)), 1);
    //  Over the 2 s sampled: 1.5 ok and 0.5 failed per second, all in echo
    json_t *rates = json_object_get (root, "rates");
    assert_true (json_real_value (json_object_get (rates, "ok_per_second")) == 1.5);
    assert_true (json_real_value (json_object_get (rates, "failed_per_second")) == 0.5);
    json_t *echo = s_queue (root, "echo");
    assert_non_null (echo);
    assert_true (json_real_value (json_object_get (echo, "ok_per_second")) == 1.5);
    assert_true (json_real_value (json_object_get (echo, "failed_per_second")) == 0.5);
    json_decref (root);

    //  A function that appears later starts from 0, not with a leap
    s_ready (pool, 2000 * S_MS, "w2", "late");
    s_submit (pool, 2100 * S_MS, 6, "late");
    s_done (pool, 2101 * S_MS, "w2", fake.tickets [fake.count - 1]);
    zhive_metrics_history_sample (history, pool, 3000 * S_MS);
    double late_ok, late_failed;
    zhive_metrics_history_rates (history, "late", &late_ok, &late_failed);
    assert_true (late_ok == 1.0 / 3.0);
    assert_true (late_failed == 0);

    //  The samples grow up to the ring's size, then the oldest go; two ok
    //  in one interval after the wrap land where its age says
    const int64_t last = 4 + ZHIVE_METRICS_HISTORY_SAMPLES + 49;
    const int64_t mark = last - 29;
    uint64_t id = 100;
    for (int64_t i = 4; i <= last; i++) {
        if (i == mark)
            for (int n = 0; n < 2; n++, id++) {
                s_submit (pool, (i * 1000 - 500) * S_MS, id, "echo");
                s_done (pool, (i * 1000 - 499) * S_MS, "w1", fake.tickets [fake.count - 1]);
            }
        size_t before = zhive_metrics_history_size (history);
        zhive_metrics_history_sample (history, pool, i * 1000 * S_MS);
        size_t after = zhive_metrics_history_size (history);
        assert_int_equal (after, before < ZHIVE_METRICS_HISTORY_SAMPLES ? before + 1 : before);
    }
    assert_int_equal (zhive_metrics_history_size (history), ZHIVE_METRICS_HISTORY_SAMPLES);
    for (size_t index = 0; index < ZHIVE_METRICS_HISTORY_SAMPLES; index++) {
        zhive_metrics_history_get (history, index, &ok, &failed);
        assert_int_equal (ok, index == ZHIVE_METRICS_HISTORY_SAMPLES - 1 - 29 ? 2 : 0);
        assert_int_equal (failed, 0);
    }
    //  Rates over the last 10 s only: nothing happened there
    zhive_metrics_history_rates (history, NULL, &late_ok, &late_failed);
    assert_true (late_ok == 0 && late_failed == 0);
    root = s_status (pool, 0, history);
    oks = json_object_get (json_object_get (root, "history"), "ok");
    assert_int_equal (json_array_size (oks), ZHIVE_METRICS_HISTORY_SAMPLES);
    assert_int_equal (json_integer_value (json_array_get (oks, ZHIVE_METRICS_HISTORY_SAMPLES - 30)),
                      2);
    assert_int_equal (json_integer_value (json_array_get (oks, ZHIVE_METRICS_HISTORY_SAMPLES - 29)),
                      0);
    json_decref (root);
    zhive_metrics_history_destroy (&history);
    zhive_metrics_history_destroy (&history);
    zhive_pool_destroy (&pool);
}

//  ---------------------------------------------------------------------
//  Addresses

static void
test_addresses (void **state)
{
    (void) state;
    struct sockaddr_storage addr;
    char error [256];
    struct sockaddr_in *v4 = (struct sockaddr_in *) &addr;
    assert_int_equal (zhive_http_parse_address ("9090", &addr, error, sizeof error), 0);
    assert_int_equal (v4->sin_family, AF_INET);
    assert_int_equal (ntohs (v4->sin_port), 9090);
    assert_int_equal (ntohl (v4->sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal (zhive_http_parse_address (":0", &addr, error, sizeof error), 0);
    assert_int_equal (ntohl (v4->sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal (zhive_http_parse_address ("*:80", &addr, error, sizeof error), 0);
    assert_int_equal (ntohl (v4->sin_addr.s_addr), INADDR_ANY);
    assert_int_equal (zhive_http_parse_address ("10.1.2.3:80", &addr, error, sizeof error), 0);
    assert_int_equal (ntohl (v4->sin_addr.s_addr), 0x0A010203);
    assert_int_equal (zhive_http_parse_address ("[::1]:5", &addr, error, sizeof error), 0);
    assert_int_equal (addr.ss_family, AF_INET6);
    const char *bad [] = { "",    "x",      "1.2.3.4:70000", "host.example:80",
                           ":-1", "[::1]5", "1.2.3.4:",      ":80x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        assert_int_equal (zhive_http_parse_address (bad [i], &addr, error, sizeof error), -1);

    //  The broker refuses a bad address, and HTTP after the clients are bound
    zhive_broker_t *broker = zhive_broker_new ();
    assert_non_null (broker);
    assert_int_equal (zhive_broker_set_http (broker, "nowhere:1"), -1);
    assert_null (zhive_broker_http_endpoint (broker));
    assert_int_equal (zhive_broker_bind_clients (broker, "tcp://127.0.0.1:*"), 0);
    assert_int_equal (zhive_broker_set_http (broker, "0"), -1);
    zhive_broker_destroy (&broker);
}

//  ---------------------------------------------------------------------
//  A real pool, scraped over TCP

//  What one request got
typedef struct {
    int status;    //  HTTP status, 0 if none
    char *head;    //  Status line and headers
    char *body;    //  The body (NUL-terminated)
} s_reply_t;

//  An HTTP/1.0 request of method and path to port, with a bearer token
//  if not NULL; the whole reply, read until the server closes
static s_reply_t
s_request (int port, const char *method, const char *path, const char *token)
{
    s_reply_t reply = { 0, NULL, NULL };
    int fd = testkit_tcp_connect (port);
    assert_true (fd >= 0);
    char request [512];
    int size = snprintf (request, sizeof request, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s%s%s\r\n",
                         method, path, token ? "Authorization: Bearer " : "", token ? token : "",
                         token ? "\r\n" : "");
    assert_int_equal (write (fd, request, (size_t) size), size);
    size_t used = 0, max = 65536;
    char *data = (char *) malloc (max);
    assert_non_null (data);
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, 100) <= 0)
            continue;
        if (used + 1 == max) {
            max *= 2;
            data = (char *) realloc (data, max);
            assert_non_null (data);
        }
        ssize_t got = read (fd, data + used, max - used - 1);
        if (got <= 0)
            break;
        used += (size_t) got;
    }
    close (fd);
    data [used] = 0;
    char *split = strstr (data, "\r\n\r\n");
    assert_non_null (split);
    *split = 0;
    reply.head = data;
    reply.body = split + 4;
    sscanf (data, "HTTP/1.%*d %d", &reply.status);
    return reply;
}

static void
s_configure_http (zhive_broker_t *broker, const void *arg)
{
    (void) arg;
    zhive_broker_set_http_token (broker, S_TOKEN);
    assert_int_equal (zhive_broker_set_http (broker, "127.0.0.1:0"), 0);
}

static void
test_scrape (void **state)
{
    (void) state;
    testkit_pool_t *pool = testkit_pool_new (&(testkit_pool_opts_t){
        .workers = 2, .concurrency = 2, .client = true, .configure = s_configure_http });
    const char *endpoint = zhive_broker_http_endpoint (pool->broker);
    assert_non_null (endpoint);
    assert_true (strncmp (endpoint, "http://127.0.0.1:", 17) == 0);
    int port = atoi (endpoint + 17);
    assert_true (port > 0);

    //  A map of 200 echo tasks
    zhive_pack_t *items = zhive_pack_new ();
    for (int i = 0; i < 200; i++)
        zhive_pack_int (items, i);
    zhive_opts_t opts = { .timeout_ms = 20000, .window = 32 };
    zhive_map_t *map = zhive_client_map (pool->client, "echo", items, &opts);
    assert_non_null (map);
    zhive_result_t *result;
    int ok = 0;
    while ((result = zhive_map_next (map, 20000))) {
        ok += zhive_result_ok (result);
        zhive_result_destroy (&result);
    }
    assert_int_equal (ok, 200);
    zhive_map_destroy (&map);
    zhive_pack_destroy (&items);

    //  The token: none or a wrong one is 401
    s_reply_t reply = s_request (port, "GET", "/metrics", NULL);
    assert_int_equal (reply.status, 401);
    assert_non_null (strstr (reply.head, "WWW-Authenticate: Bearer"));
    free (reply.head);
    reply = s_request (port, "GET", "/metrics", "s3cre");
    assert_int_equal (reply.status, 401);
    free (reply.head);

    reply = s_request (port, "GET", "/metrics", S_TOKEN);
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.head, "Content-Type: text/plain; version=0.0.4"));
    const char *text = reply.body;
    assert_true (s_sample (text, "zhive_up") == 1);
    assert_true (s_sample (text, "zhive_build_info{version=\"0.1.0\"}") == 1);
    assert_true (s_sample (text, "zhive_tasks_total{function=\"echo\",outcome=\"ok\"}") == 200);
    assert_true (s_sample (text, "zhive_tasks_total{function=\"echo\",outcome=\"error\"}") == 0);
    assert_true (s_sample (text, "zhive_task_duration_seconds_count{function=\"echo\"}") == 200);
    assert_true (
        s_sample (text, "zhive_task_duration_seconds_bucket{function=\"echo\",le=\"+Inf\"}") ==
        200);
    assert_true (s_sample (text, "zhive_task_wait_seconds_count{function=\"echo\"}") == 200);
    assert_true (s_sample (text, "zhive_tasks_queued{function=\"echo\"}") == 0);
    assert_true (s_sample (text, "zhive_tasks_running{function=\"echo\"}") == 0);
    assert_true (s_sample (text, "zhive_workers{state=\"ready\"}") == 2);
    assert_true (s_sample (text, "zhive_workers{state=\"draining\"}") == 0);
    assert_true (s_sample (text, "zhive_worker_slots{state=\"free\"}") == 4);
    assert_true (s_sample (text, "zhive_worker_slots{state=\"busy\"}") == 0);
    assert_true (s_sample (text, "zhive_clients_connected") >= 1);
    assert_true (s_promtool (text));
    free (reply.head);

    //  The status as JSON
    reply = s_request (port, "GET", "/api/status", S_TOKEN);
    assert_int_equal (reply.status, 200);
    json_error_t error;
    json_t *root = json_loads (reply.body, 0, &error);
    if (!root)
        fail_msg ("/api/status is not JSON (%s): %s", error.text, reply.body);
    json_t *workers = json_object_get (root, "workers");
    assert_int_equal (json_array_size (workers), 2);
    json_int_t done = 0;
    for (size_t i = 0; i < 2; i++) {
        json_t *worker = json_array_get (workers, i);
        assert_int_equal (json_integer_value (json_object_get (worker, "concurrency")), 2);
        assert_int_equal (json_integer_value (json_object_get (worker, "in_flight")), 0);
        assert_non_null (json_string_value (json_object_get (worker, "host")));
        assert_true (json_is_array (json_object_get (worker, "functions")));
        assert_true (json_is_number (json_object_get (worker, "last_seen_age_seconds")));
        done += json_integer_value (json_object_get (worker, "done"));
    }
    assert_int_equal (done, 200);
    json_t *echo = NULL;
    json_t *queues = json_object_get (root, "queues");
    for (size_t i = 0; i < json_array_size (queues); i++) {
        json_t *queue = json_array_get (queues, i);
        if (streq (json_string_value (json_object_get (queue, "function")), "echo"))
            echo = queue;
    }
    assert_non_null (echo);
    assert_int_equal (json_integer_value (json_object_get (echo, "waiting")), 0);
    json_t *totals = json_object_get (echo, "totals");
    assert_int_equal (json_integer_value (json_object_get (totals, "ok")), 200);
    assert_int_equal (json_integer_value (json_object_get (totals, "submitted")), 200);
    json_decref (root);
    free (reply.head);

    //  HEAD: the headers alone; other methods 405, other paths 404
    reply = s_request (port, "HEAD", "/metrics", S_TOKEN);
    assert_int_equal (reply.status, 200);
    assert_string_equal (reply.body, "");
    free (reply.head);
    reply = s_request (port, "POST", "/metrics", S_TOKEN);
    assert_int_equal (reply.status, 405);
    assert_non_null (strstr (reply.head, "Allow: GET, HEAD"));
    free (reply.head);
    reply = s_request (port, "DELETE", "/api/status", S_TOKEN);
    assert_int_equal (reply.status, 405);
    free (reply.head);
    reply = s_request (port, "GET", "/nothing", S_TOKEN);
    assert_int_equal (reply.status, 404);
    free (reply.head);

    //  The dashboard: public (no token), the bytes of broker/dashboard/
    const char *files [][3] = {
        { "/", "index.html", "text/html; charset=utf-8" },
        { "/dashboard.js", "dashboard.js", "text/javascript; charset=utf-8" },
        { "/dashboard.css", "dashboard.css", "text/css; charset=utf-8" },
        { "/favicon.svg", "favicon.svg", "image/svg+xml" },
    };
    for (size_t i = 0; i < sizeof files / sizeof files [0]; i++) {
        reply = s_request (port, "GET", files [i][0], NULL);
        assert_int_equal (reply.status, 200);
        char header [128];
        snprintf (header, sizeof header, "Content-Type: %s\r\n", files [i][2]);
        assert_non_null (strstr (reply.head, header));
        assert_non_null (strstr (reply.head, "Content-Security-Policy: default-src 'none'"));
        assert_non_null (strstr (reply.head, "X-Content-Type-Options: nosniff"));
        char path [512];
        snprintf (path, sizeof path, "%s/broker/dashboard/%s", ZHIVE_SOURCE_DIR, files [i][1]);
        FILE *file = fopen (path, "rb");
        assert_non_null (file);
        static char source [262144];
        size_t size = fread (source, 1, sizeof source - 1, file);
        fclose (file);
        source [size] = 0;
        assert_true (size > 0);
        assert_int_equal (strlen (reply.body), size);
        assert_memory_equal (reply.body, source, size);
        const zhive_dashboard_asset_t *asset = zhive_dashboard_find (files [i][0]);
        assert_non_null (asset);
        assert_int_equal (asset->size, size);
        free (reply.head);
    }
    reply = s_request (port, "GET", "/", NULL);
    assert_non_null (strstr (reply.body, "<title>zhive broker</title>"));
    assert_non_null (strstr (reply.body, "src=\"dashboard.js\""));
    assert_null (strstr (reply.body, "http://"));    //  Nothing from elsewhere
    assert_null (strstr (reply.body, "https://"));
    free (reply.head);
    reply = s_request (port, "HEAD", "/", NULL);
    assert_int_equal (reply.status, 200);
    assert_string_equal (reply.body, "");
    free (reply.head);
    reply = s_request (port, "POST", "/", NULL);
    assert_int_equal (reply.status, 405);
    free (reply.head);
    //  The data stays behind the token; other paths are not public
    reply = s_request (port, "GET", "/api/status", NULL);
    assert_int_equal (reply.status, 401);
    free (reply.head);
    reply = s_request (port, "GET", "/index.html", NULL);
    assert_int_equal (reply.status, 401);
    free (reply.head);
    reply = s_request (port, "GET", "/index.html", S_TOKEN);
    assert_int_equal (reply.status, 404);
    free (reply.head);
    assert_null (zhive_dashboard_find ("/index.html"));
    assert_null (zhive_dashboard_find (NULL));

    //  The status has its history (sampled each second) and errors
    int64_t until = zclock_mono () + 20000;
    size_t intervals = 0;
    while (zclock_mono () < until && intervals < 2) {
        reply = s_request (port, "GET", "/api/status", S_TOKEN);
        json_t *status = json_loads (reply.body, 0, NULL);
        assert_non_null (status);
        intervals = json_array_size (json_object_get (json_object_get (status, "history"), "ok"));
        assert_true (json_is_array (json_object_get (status, "errors")));
        assert_true (json_is_object (json_object_get (status, "rates")));
        json_decref (status);
        free (reply.head);
        if (intervals < 2)
            zclock_sleep (200);
    }
    assert_true (intervals >= 2);
    testkit_pool_destroy (&pool);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pool_metrics), cmocka_unit_test (test_escaping),
        cmocka_unit_test (test_errors_ring),  cmocka_unit_test (test_errors_hostile),
        cmocka_unit_test (test_history),      cmocka_unit_test (test_addresses),
        cmocka_unit_test (test_scrape),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
