/*  =========================================================================
    testkit_pool - a real broker with local workers and a client
    =========================================================================
*/
#include "testkit_pool.h"
#include "testkit_peer.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define S_CONNECT_MS 5000    //  How long the pool's client waits for the broker

//  ---------------------------------------------------------------------
//  A broker bound to wildcard ports of 127.0.0.1, set up by opts

zhive_broker_t *
testkit_pool_broker_new (const testkit_pool_opts_t *opts)
{
    zhive_broker_t *broker = zhive_broker_new ();
    assert_non_null (broker);
    zhive_broker_set_verbose (broker, getenv ("ZHIVE_TEST_VERBOSE") != NULL);
    if (opts && opts->heartbeat_ms)
        zhive_broker_set_heartbeat (broker, opts->heartbeat_ms,
                                    opts->liveness ? opts->liveness : 3);
    if (opts && opts->max_queue)
        zhive_broker_set_max_queue (broker, opts->max_queue, 0);
    if (opts && opts->max_tasks)
        zhive_broker_set_worker_max_tasks (broker, opts->max_tasks);
    if (opts && opts->curve_secret)
        assert_int_equal (zhive_broker_set_curve (broker, opts->curve_secret, opts->curve_allow),
                          0);
    if (opts && opts->configure)
        opts->configure (broker, opts->configure_arg);
    assert_int_equal (zhive_broker_bind_clients (broker, "tcp://127.0.0.1:*"), 0);
    assert_int_equal (zhive_broker_bind_workers (broker, "tcp://127.0.0.1:*"), 0);
    return broker;
}

//  ---------------------------------------------------------------------
//  Broker, local workers, client; once the workers are ready

testkit_pool_t *
testkit_pool_new (const testkit_pool_opts_t *opts)
{
    testkit_pool_t *self = (testkit_pool_t *) calloc (1, sizeof (testkit_pool_t));
    assert_non_null (self);
    self->broker = testkit_pool_broker_new (opts);
    int workers = opts ? opts->workers : 0;
    if (workers) {
        const char *loads [] = { testkit_plugin (), NULL };
        assert_int_equal (
            zhive_broker_start_workers (self->broker, workers, loads, opts->concurrency), 0);
    }
    if (opts && opts->client) {
        self->client =
            zhive_client_new (zhive_broker_clients_endpoint (self->broker), S_CONNECT_MS);
        assert_non_null (self->client);
        if (opts->heartbeat_ms)
            zhive_client_set_heartbeat (self->client, opts->heartbeat_ms,
                                        opts->liveness ? opts->liveness : 3);
    }
    if (workers)
        testkit_pool_wait_workers (self, workers, TESTKIT_TIMEOUT);
    return self;
}

//  ---------------------------------------------------------------------
//  Stop it all

void
testkit_pool_destroy (testkit_pool_t **self_p)
{
    testkit_pool_t *self = *self_p;
    if (!self)
        return;
    zhive_client_destroy (&self->client);
    zhive_broker_destroy (&self->broker);
    free (self);
    *self_p = NULL;
}

//  What a wait for workers looks at
typedef struct {
    zhive_broker_t *broker;    //  The broker
    int count;                 //  Workers it must have ready
} s_ready_t;

static bool
s_ready (void *arg)
{
    s_ready_t *ready = (s_ready_t *) arg;
    return zhive_broker_workers_ready (ready->broker) == ready->count;
}

//  ---------------------------------------------------------------------
//  Exactly count workers ready within timeout_ms

void
testkit_pool_wait_ready (zhive_broker_t *broker, int count, int timeout_ms)
{
    s_ready_t ready = { broker, count };
    if (!testkit_wait_for (s_ready, &ready, timeout_ms))
        fail_msg ("expected %d workers ready, have %d", count, zhive_broker_workers_ready (broker));
}

//  ---------------------------------------------------------------------
//  The same for the pool's broker

void
testkit_pool_wait_workers (testkit_pool_t *self, int count, int timeout_ms)
{
    testkit_pool_wait_ready (self->broker, count, timeout_ms);
}

//  ---------------------------------------------------------------------
//  A fake client on the clients endpoint

zsock_t *
testkit_pool_fake_client (testkit_pool_t *self)
{
    return testkit_peer_new (zhive_broker_clients_endpoint (self->broker));
}

//  ---------------------------------------------------------------------
//  A fake worker on the workers endpoint

zsock_t *
testkit_pool_fake_worker (testkit_pool_t *self)
{
    return testkit_peer_new (zhive_broker_workers_endpoint (self->broker));
}

//  ---------------------------------------------------------------------
//  Worker pids from the client's STATUS

int
testkit_pool_worker_pids (zhive_client_t *client, pid_t *pids, int max)
{
    zhive_result_t *status = zhive_client_status (client, S_CONNECT_MS);
    int count = (int) testkit_status_pids (zhive_result_value (status), pids, (size_t) max);
    zhive_result_destroy (&status);
    return count;
}

//  ---------------------------------------------------------------------
//  [n], packed

zhive_pack_t *
testkit_pool_args_int (int64_t n)
{
    zhive_pack_t *args = zhive_pack_new ();
    assert_non_null (args);
    zhive_pack_array (args, 1);
    zhive_pack_int (args, n);
    return args;
}
