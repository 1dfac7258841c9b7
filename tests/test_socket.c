/*  test_socket - the one socket policy: heartbeat clamps and grace */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "zhive_proto.h"
#include "zhive_socket.h"

static void
test_clamps (void **state)
{
    (void) state;
    int interval = 0, liveness = 0;
    zhive_heartbeat_clamp (&interval, &liveness);
    assert_int_equal (interval, ZHIVE_HEARTBEAT_MS);
    assert_int_equal (liveness, ZHIVE_LIVENESS);
    interval = -5, liveness = -1;
    zhive_heartbeat_clamp (&interval, &liveness);
    assert_int_equal (interval, ZHIVE_HEARTBEAT_MS);
    assert_int_equal (liveness, ZHIVE_LIVENESS);
    //  An hour, three times: the timeout is held to an hour
    interval = 3600000, liveness = 3;
    zhive_heartbeat_clamp (&interval, &liveness);
    assert_int_equal (interval, 3600000);
    assert_int_equal (liveness, 1);
    interval = 2000000000, liveness = 2000000000;
    zhive_heartbeat_clamp (&interval, &liveness);
    assert_int_equal (interval, ZHIVE_HEARTBEAT_MAX);
    assert_true ((int64_t) interval * liveness <= ZHIVE_HEARTBEAT_MAX);
    interval = 100, liveness = 5;
    zhive_heartbeat_clamp (&interval, &liveness);
    assert_int_equal (interval, 100);
    assert_int_equal (liveness, 5);
}

static void
test_grace (void **state)
{
    (void) state;
    assert_int_equal (zhive_grace_ms (1000, 3), 6000);
    assert_int_equal (zhive_grace_ms (100, 3), ZHIVE_GRACE_MIN_MS);
    assert_int_equal (zhive_grace_ms (0, 0), 6000);    //  The defaults
    assert_int_equal (zhive_grace_ms (3600000, 3), 2 * (int64_t) ZHIVE_HEARTBEAT_MAX);
}

//  Values at and past every limit reach libzmq without tripping czmq's
//  asserts (zsock_set_heartbeat_ttl took 3600000 x 3 and aborted)
//  Endpoints kept for later are checked by libzmq's parser now
static void
test_endpoint_check (void **state)
{
    (void) state;
    assert_int_equal (zhive_endpoint_check ("tcp://127.0.0.1:5555"), 0);
    assert_int_equal (zhive_endpoint_check ("tcp://broker.example:5556"), 0);
    assert_int_equal (zhive_endpoint_check ("ipc:///tmp/zhive-check"), 0);
    const char *bad [] = { "", "bogus", "tcp://127.0.0.1", "nope://127.0.0.1:1", NULL };
    for (int i = 0; bad [i]; i++) {
        errno = 0;
        assert_int_equal (zhive_endpoint_check (bad [i]), -1);
        assert_int_equal (errno, EINVAL);
    }
    assert_int_equal (zhive_endpoint_check (NULL), -1);
}

static void
test_socket_accepts_every_setting (void **state)
{
    (void) state;
    int settings [][2] = {
        { 3600000, 3 }, { 1, 1 }, { 0, 0 }, { 2000000000, 2000000000 }, { 3000000, 2 }
    };
    zhive_socket_role_t roles [] = { ZHIVE_SOCKET_BROKER_CLIENTS, ZHIVE_SOCKET_BROKER_WORKERS,
                                     ZHIVE_SOCKET_CLIENT, ZHIVE_SOCKET_WORKER };
    for (size_t r = 0; r < 4; r++) {
        zsock_t *sock = zsock_new (r < 2 ? ZMQ_ROUTER : ZMQ_DEALER);
        assert_non_null (sock);
        zhive_socket_configure (sock, roles [r]);
        assert_true (zsock_sndhwm (sock) > 0);
        assert_true (zsock_rcvhwm (sock) > 0);
        assert_int_equal (zsock_maxmsgsize (sock), ZHIVE_MESSAGE_SIZE_MAX);
        for (size_t i = 0; i < sizeof settings / sizeof settings [0]; i++) {
            zhive_socket_set_heartbeat (sock, settings [i][0], settings [i][1]);
            assert_true (zsock_heartbeat_timeout (sock) <= ZHIVE_HEARTBEAT_MAX);
            assert_true (zsock_heartbeat_ttl (sock) <= ZHIVE_HEARTBEAT_TTL);
        }
        zsock_destroy (&sock);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_clamps),
        cmocka_unit_test (test_grace),
        cmocka_unit_test (test_endpoint_check),
        cmocka_unit_test (test_socket_accepts_every_setting),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
