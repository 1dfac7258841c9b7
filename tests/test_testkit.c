/*  test_testkit - the test kit's own logic: waits end at their deadline, a
    process that ignores SIGTERM is killed and reaped, a fake worker and the
    fake broker understand each other (WELCOME too), and the relay records
    what it carries and can go silent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "testkit.h"
#include "testkit_broker.h"
#include "testkit_peer.h"
#include "testkit_relay.h"

//  True once the clock passes the deadline in arg
static bool
s_after (void *arg)
{
    return zclock_mono () >= *(int64_t *) arg;
}

static void
test_wait_for (void **state)
{
    (void) state;
    //  A condition that comes true in time
    int64_t soon = zclock_mono () + 50;
    assert_true (testkit_wait_for (s_after, &soon, 5000));
    assert_true (zclock_mono () >= soon);
    //  One that does not: false at the deadline, not before, not much after
    int64_t never = zclock_mono () + 3600 * 1000;
    int64_t start = zclock_mono ();
    assert_false (testkit_wait_for (s_after, &never, 200));
    int64_t took = zclock_mono () - start;
    assert_true (took >= 200 && took < 2000);
    //  wait_until passes when the condition holds
    soon = zclock_mono () + 20;
    testkit_wait_until (s_after, &soon, 5000, "the clock to pass %d ms", 20);
}

static void
test_ports (void **state)
{
    (void) state;
    assert_int_equal (testkit_port ("tcp://127.0.0.1:5555"), 5555);
    assert_int_equal (testkit_port ("inproc://x"), 0);
    int port = 0;
    int listener = testkit_tcp_listen (&port);
    assert_true (listener >= 0 && port > 0);
    int connection = testkit_tcp_connect (port);
    assert_true (connection >= 0);
    close (connection);
    close (listener);
    assert_true (testkit_free_port () > 0);
}

static void
test_spawn_and_reap (void **state)
{
    (void) state;
    //  Ends on SIGTERM: its status says so
    const char *sleeper [] = { "/bin/sleep", "60", NULL };
    pid_t pid = testkit_spawn (sleeper, NULL);
    int status = testkit_reap (pid, SIGTERM, 5000);
    assert_true (WIFSIGNALED (status));
    assert_int_equal (WTERMSIG (status), SIGTERM);
    //  Ignores SIGTERM (an ignored signal stays ignored across exec):
    //  killed at the deadline
    struct sigaction ignore, saved;
    memset (&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    assert_int_equal (sigaction (SIGTERM, &ignore, &saved), 0);
    pid = testkit_spawn (sleeper, NULL);
    assert_int_equal (sigaction (SIGTERM, &saved, NULL), 0);
    int64_t start = zclock_mono ();
    status = testkit_reap (pid, SIGTERM, 300);
    int64_t took = zclock_mono () - start;
    assert_true (WIFSIGNALED (status));
    assert_int_equal (WTERMSIG (status), SIGKILL);
    assert_true (took >= 300 && took < 5000);
    assert_int_equal (kill (pid, 0), -1);
}

static void
test_fake_worker_meets_fake_broker (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    zsock_t *worker = testkit_peer_new (broker->endpoint);
    testkit_peer_ready_max (worker, "w", 42, 3, 7, "f", "g", NULL);
    const char *functions [] = { "f", "g", NULL };
    testkit_broker_expect_ready (broker, functions, 3, 42);
    assert_string_equal (broker->in->worker, "w");
    assert_int_equal (broker->in->max_tasks, 7);
    testkit_broker_send_welcome (broker, 99);
    zhive_proto_t *welcome = testkit_peer_expect (worker, ZHIVE_WELCOME);
    assert_int_equal (welcome->id, 99);
    zhive_proto_destroy (&welcome);
    testkit_broker_send_task (broker, 5, "f", "\x91\x01", 2);
    assert_int_equal (testkit_peer_expect_task (worker, "f", "\x91\x01"), 5);
    testkit_peer_done (worker, 5, "\x2a", 1);
    testkit_broker_expect_done_int (broker, 5, 42);
    testkit_broker_send_cancel (broker, 6);
    testkit_peer_expect_cancel (worker, 6);
    testkit_peer_failed (worker, 6, "Cancelled", "gone");
    testkit_broker_expect_failed (broker, 6, "Cancelled", "gone");
    //  The broker's PING reaches the worker (a real one would answer PONG)
    testkit_broker_send (broker, ZHIVE_PING, NULL);
    zhive_proto_t *ping = zhive_proto_new ();
    assert_int_equal (zhive_proto_recv (ping, worker, 0), 0);
    assert_int_equal (ping->command, ZHIVE_PING);
    zhive_proto_destroy (&ping);
    zsock_destroy (&worker);
    testkit_broker_destroy (&broker);
    testkit_broker_destroy (&broker);    //  Safe twice
}

static void
test_relay (void **state)
{
    (void) state;
    testkit_broker_t *broker = testkit_broker_new (NULL);
    testkit_relay_t *relay = testkit_relay_new (broker->endpoint);
    zsock_t *worker = testkit_peer_new (testkit_relay_endpoint (relay));
    testkit_peer_ready (worker, "through-the-relay", 1, 1, "f", NULL);
    const char *functions [] = { "f", NULL };
    testkit_broker_expect_ready (broker, functions, 1, 1);
    assert_true (testkit_relay_saw (relay, "through-the-relay"));
    assert_false (testkit_relay_saw (relay, "never-sent"));
    assert_true (testkit_relay_size (relay) > 0);
    //  Frozen: nothing more gets through on that connection
    testkit_relay_freeze (relay);
    testkit_peer_done (worker, 1, "\xc0", 1);
    zsock_set_rcvtimeo (broker->router, 300);
    assert_int_equal (testkit_broker_recv (broker), -1);
    zsock_destroy (&worker);
    testkit_relay_destroy (&relay);
    testkit_broker_destroy (&broker);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_wait_for),
        cmocka_unit_test (test_ports),
        cmocka_unit_test (test_spawn_and_reap),
        cmocka_unit_test (test_fake_worker_meets_fake_broker),
        cmocka_unit_test (test_relay),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
