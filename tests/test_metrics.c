/*  =========================================================================
    test_metrics - the broker's metrics: the pool's counters and histograms
    (driven directly, with a fake operations table and made-up times), the
    text and JSON made of them, and the HTTP server of a real pool
    (zhive_broker_set_http), scraped over a plain TCP socket

    Prometheus's own parser checks the text when `promtool` is installed
    (Debian's package prometheus ships it; .ci/install-deps does not add
    it: the case says it skips that check).
    =========================================================================
*/
#include "testkit_pool.h"
#include "zhive_http.h"
#include "zhive_metrics.h"
#include "zhive_pool.h"
#include <arpa/inet.h>
#include <jansson.h>
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
    testkit_pool_destroy (&pool);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pool_metrics),
        cmocka_unit_test (test_escaping),
        cmocka_unit_test (test_addresses),
        cmocka_unit_test (test_scrape),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
