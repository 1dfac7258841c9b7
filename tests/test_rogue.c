/*  =========================================================================
    test_rogue - rogue peers against a real broker, while a good client
    keeps getting correct answers from a real zhive-worker

    One broker in this process with one local zhive-worker (the examples
    plugin) and a good client, which runs maps of fib on its own thread and
    checks every answer. Meanwhile hostile fake workers and clients, bounded
    in count and time: READY spam, answers for tickets never issued and the
    same answer twice, a FAILED with a 1 MB message (BYE Malformed), 1,000
    connections that open and close, a worker that takes tasks and never
    answers (they run again once it is lost), a worker that copies the real
    one's name, host and pid, and one that claims the real worker's pid to
    get it killed. At the end: every good answer was right, the real worker
    was never killed, the broker forgot every rogue, and its memory (this
    process's VmRSS) stayed bounded.
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
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#define S_ROUND 8    //  fib tasks in each map of the good client

//  The good client's thread (no cmocka asserts there: it only counts)
typedef struct {
    zhive_client_t *client;    //  Used by this thread only
    atomic_bool stop;          //  Set by the test when the attacks are over
    atomic_long right;         //  Answers that were right
    atomic_long wrong;         //  Answers that were wrong, or errors
    char first_wrong [256];    //  What the first wrong one was
} s_good_t;

static uint64_t
s_fib (int64_t n)
{
    uint64_t a = 0, b = 1;
    for (int64_t i = 0; i < n; i++) {
        uint64_t next = a + b;
        a = b;
        b = next;
    }
    return a;
}

static void *
s_good_run (void *arg)
{
    s_good_t *good = (s_good_t *) arg;
    zhive_opts_t opts = { .timeout_ms = 30000 };
    for (int64_t round = 0; !atomic_load (&good->stop); round++) {
        zhive_pack_t *items = zhive_pack_new ();
        for (int64_t i = 0; i < S_ROUND; i++)
            zhive_pack_int (items, (round + i) % 25);
        zhive_map_t *map = zhive_client_map (good->client, "fib", items, &opts);
        zhive_result_t *result;
        int taken = 0;
        while (map && zhive_map_take (map, 40000, &result) == 1) {
            int64_t n = (round + (int64_t) zhive_result_index (result)) % 25;
            int64_t value = -1;
            if (zhive_result_ok (result) &&
                zhive_value_int (zhive_result_value (result), &value) == 0 &&
                (uint64_t) value == s_fib (n))
                atomic_fetch_add (&good->right, 1);
            else {
                if (atomic_fetch_add (&good->wrong, 1) == 0)
                    snprintf (good->first_wrong, sizeof good->first_wrong, "fib (%ld): %s %s",
                              (long) n,
                              zhive_result_ok (result) ? "value" : zhive_result_error_type (result),
                              zhive_result_ok (result) ? "" : zhive_result_error_message (result));
            }
            zhive_result_destroy (&result);
            taken++;
        }
        if (taken != S_ROUND && atomic_fetch_add (&good->wrong, 1) == 0)
            snprintf (good->first_wrong, sizeof good->first_wrong, "a map gave %d of %d results",
                      taken, S_ROUND);
        zhive_map_destroy (&map);
        zhive_pack_destroy (&items);
    }
    return NULL;
}

//  This process's resident memory in kB
static long
s_rss_kb (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    char line [256];
    long kb = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kb = strtol (line + 6, NULL, 10);
    if (file)
        fclose (file);
    return kb;
}

//  A READY of this host with name, pid and one function, no token
static void
s_ready (zsock_t *sock, const char *name, uint64_t pid, uint32_t concurrency, const char *function)
{
    testkit_peer_ready (sock, name, pid, concurrency, function, NULL);
}

//  A FAILED whose message is size bytes, past ZHIVE_MESSAGE_MAX (built by
//  hand: the codec would cut it)
static void
s_send_long_failed (zsock_t *sock, uint64_t ticket, size_t size)
{
    char *text = (char *) malloc (size);
    assert_non_null (text);
    memset (text, 'e', size);
    zhive_pack_t *header = zhive_pack_new ();
    zhive_pack_array (header, 3);
    zhive_pack_uint (header, ticket);
    zhive_pack_str (header, "Evil");
    zhive_pack_strn (header, text, size);
    free (text);
    void *handle = zsock_resolve (sock);
    assert_true (zmq_send (handle, "ZHV\x01\x32", 5, ZMQ_SNDMORE) == 5);
    assert_true (zmq_send (handle, zhive_pack_data (header), zhive_pack_size (header), 0) >= 0);
    zhive_pack_destroy (&header);
}

//  The pid of the one real worker, from STATUS
static pid_t
s_real_pid (zsock_t *client, uint64_t id)
{
    msgpack_unpacked *status = testkit_peer_status (client, id);
    pid_t pids [8];
    size_t count = testkit_status_pids (&status->data, pids, 8);
    testkit_peer_status_destroy (&status);
    assert_true (count >= 1);
    return pids [0];
}

static void
test_rogues (void **state)
{
    (void) state;
    testkit_pool_t *pool = testkit_pool_new (&(testkit_pool_opts_t){
        .workers = 1, .concurrency = 4, .heartbeat_ms = 200, .liveness = 3, .client = true });
    zhive_broker_t *broker = pool->broker;
    const char *workers = zhive_broker_workers_endpoint (broker);
    const char *clients = zhive_broker_clients_endpoint (broker);
    zsock_t *rogue_client = testkit_peer_new (clients);
    pid_t real = s_real_pid (rogue_client, 1);
    char host [256] = "";
    gethostname (host, sizeof host - 1);
    char real_name [300];
    snprintf (real_name, sizeof real_name, "%s:%d", host, (int) real);
    long rss_before = s_rss_kb ();
    int64_t start = zclock_mono ();

    static s_good_t good;
    good.client = pool->client;
    atomic_init (&good.stop, false);
    atomic_init (&good.right, 0);
    atomic_init (&good.wrong, 0);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_good_run, &good), 0);

    //  The foreign-pid READY: this host, the real worker's pid, no token;
    //  it holds a task past its deadline and the grace (2 s)
    zsock_t *foreign = testkit_peer_new (workers);
    s_ready (foreign, "foreign", (uint64_t) real, 1, "evilhang");
    testkit_peer_submit (rogue_client, 2, "evilhang", "\x90", 100, 0);
    uint64_t held = testkit_peer_expect_task (foreign, "evilhang", NULL);
    int64_t overdue_at = zclock_mono () + 100 + 2000;
    zhive_proto_t *timeout = testkit_peer_expect_error (rogue_client, 2, "Timeout", NULL);
    zhive_proto_destroy (&timeout);

    //  The impostor: the real worker's name, host and pid, another connection
    zsock_t *impostor = testkit_peer_new (workers);
    s_ready (impostor, real_name, (uint64_t) real, 1, "impostor");

    //  READY spam on one connection, then answers for tickets never issued
    zsock_t *spam = testkit_peer_new (workers);
    zsock_set_sndtimeo (spam, 10000);
    for (int i = 0; i < 3000; i++)
        s_ready (spam, "spam", 1000000 + (uint64_t) i, 4, "evil");
    for (uint64_t i = 0; i < 2000; i++)
        testkit_peer_done (spam, (uint64_t) random () << 20 | i, "\x01", 1);
    for (uint64_t i = 0; i < 500; i++)
        testkit_peer_failed (spam, 0xdead0000 + i, "Evil", "never issued");
    //  All of it read (one connection keeps its order)
    testkit_peer_send (spam, ZHIVE_PING, 0);
    zhive_proto_t *pong = testkit_peer_expect (spam, ZHIVE_PONG);
    zhive_proto_destroy (&pong);
    //  The same answer twice: tasks of the rogue client on the spam worker
    for (uint64_t id = 10; id < 30; id++)
        testkit_peer_submit (rogue_client, id, "evil", "\x91\x01", -1, 0);
    for (int i = 0; i < 20; i++) {
        uint64_t ticket = testkit_peer_expect_task (spam, "evil", "\x91\x01");
        testkit_peer_done (spam, ticket, "\x07", 1);
        testkit_peer_done (spam, ticket, "\x08", 1);
    }
    for (int i = 0; i < 20; i++) {
        zhive_proto_t *answer = testkit_peer_expect (rogue_client, ZHIVE_RESULT);
        assert_true (answer->id >= 10 && answer->id < 30);
        assert_int_equal (zmq_msg_size (&answer->payload), 1);
        assert_int_equal (*(uint8_t *) zmq_msg_data (&answer->payload), 7);    //  The first
        zhive_proto_destroy (&answer);
    }
    //  A 1 MB error message: BYE Malformed, and the spam worker is lost
    testkit_peer_submit (rogue_client, 40, "evil", "\x91\x02", -1, 0);
    uint64_t ticket = testkit_peer_expect_task (spam, "evil", "\x91\x02");
    s_send_long_failed (spam, ticket, 1024 * 1024);
    zhive_proto_t *bye = testkit_peer_expect (spam, ZHIVE_BYE);
    zhive_proto_destroy (&bye);
    //  And one just past ZHIVE_MESSAGE_MAX (a header the codec reads)
    zsock_t *talker = testkit_peer_new (workers);
    s_ready (talker, "talker", 3000000, 1, "evil");
    testkit_peer_submit (rogue_client, 41, "evil", "\x91\x03", -1, 0);
    ticket = testkit_peer_expect_task (talker, "evil", "\x91\x03");
    s_send_long_failed (talker, ticket, ZHIVE_MESSAGE_MAX + 1);
    bye = testkit_peer_expect (talker, ZHIVE_BYE);
    assert_non_null (strstr (bye->message, "FAILED"));
    zhive_proto_destroy (&bye);
    zsock_destroy (&talker);
    for (uint64_t id = 40; id < 42; id++) {
        zhive_proto_t *lost = testkit_peer_expect_error (rogue_client, id, "WorkerLost", NULL);
        zhive_proto_destroy (&lost);
    }

    //  A worker that takes the good client's tasks and never answers, until
    //  it goes: they run again on the real worker
    zsock_t *holder = testkit_peer_new (workers);
    s_ready (holder, "holder", 4000000, 16, "fib");
    testkit_peer_expect_task (holder, "fib", NULL);
    zclock_sleep (500);    //  It holds what it got meanwhile
    zsock_destroy (&holder);

    //  1,000 connections that open and close: clients leaving a task, workers
    //  leaving a READY
    for (int i = 0; i < 1000; i++) {
        zsock_t *sock = testkit_peer_new (i % 2 ? workers : clients);
        zsock_set_linger (sock, 100);
        if (i % 2)
            s_ready (sock, "fleeting", 5000000 + (uint64_t) i, 1, "evil");
        else
            testkit_peer_submit (sock, (uint64_t) i, "nobody", "\x90", -1, 0);
        zsock_destroy (&sock);
    }

    //  The foreign worker held its task past deadline and grace: the real
    //  worker is not killed
    while (zclock_mono () < overdue_at + 1000)
        zclock_sleep (100);
    (void) held;
    assert_int_equal (kill (real, 0), 0);
    zsock_destroy (&foreign);
    zsock_destroy (&impostor);
    zsock_destroy (&spam);

    //  The good client goes on a little, then stops
    zclock_sleep (1000);
    atomic_store (&good.stop, true);
    assert_int_equal (pthread_join (thread, NULL), 0);
    if (atomic_load (&good.wrong))
        fail_msg ("%ld wrong answer(s) of %ld; the first: %s", atomic_load (&good.wrong),
                  atomic_load (&good.wrong) + atomic_load (&good.right), good.first_wrong);
    assert_true (atomic_load (&good.right) >= 4 * S_ROUND);
    //  Every rogue is forgotten; the real worker is the same process
    testkit_pool_wait_ready (broker, 1, 10000);
    assert_int_equal (s_real_pid (rogue_client, 50), real);
    long rss_after = s_rss_kb ();
    print_message ("good answers %ld, %ld ms, VmRSS %ld -> %ld kB\n", atomic_load (&good.right),
                   (long) (zclock_mono () - start), rss_before, rss_after);
    assert_true (rss_after - rss_before < 200 * 1024);
    assert_true (zclock_mono () - start < 60000);
    zsock_destroy (&rogue_client);
    testkit_pool_destroy (&pool);
}

int
main (void)
{
    srandom ((unsigned) time (NULL));
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_rogues),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
