/*  =========================================================================
    testkit_pool - a real pool for a test: a zhive_broker_t in this process
    bound to tcp://127.0.0.1:* for clients and workers, local zhive-worker
    processes it starts and supervises (loading $ZHIVE_PLUGIN; the program
    is $ZHIVE_WORKER, as the broker finds it), and a zhive_client_t

        testkit_pool_t *pool =
            testkit_pool_new (&(testkit_pool_opts_t){ .workers = 2, .client = true });
        zhive_result_t *result = zhive_client_apply (pool->client, "fib", args, NULL);
        ...
        testkit_pool_destroy (&pool);

    testkit_pool_new returns once every worker is ready, and fails the test
    if one is not within TESTKIT_TIMEOUT. Destroying the pool stops all it
    started: the client, the broker and its workers. A test may destroy
    pool->broker itself (zhive_broker_destroy nulls the field).
    =========================================================================
*/
#ifndef TESTKIT_POOL_H_INCLUDED
#define TESTKIT_POOL_H_INCLUDED

#include "testkit.h"
#include <zhive.h>

#ifdef __cplusplus
extern "C" {
#endif

//  How the broker is set up before it binds, for settings the options do
//  not have
typedef void (testkit_configure_fn) (zhive_broker_t *broker, const void *arg);

typedef struct {
    int workers;                        //  Local worker processes, 0 none
    int concurrency;                    //  Their slots, 0 the worker's default
    int heartbeat_ms;                   //  Broker and client heartbeat, 0 the defaults
    int liveness;                       //  With heartbeat_ms; 0 = 3
    size_t max_queue;                   //  Broker limit of tasks waiting in all, 0 default
    uint64_t max_tasks;                 //  --max-tasks of each local worker, 0 none
    bool client;                        //  Connect pool->client
    const char *curve_secret;           //  CURVE: the broker's secret certificate, or NULL
    const char *curve_allow;            //  CURVE: the allow directory (NULL: own key only)
    testkit_configure_fn *configure;    //  More set-up before binding, or NULL
    const void *configure_arg;          //  Its argument
} testkit_pool_opts_t;

typedef struct {
    zhive_broker_t *broker;    //  The broker, in this process
    zhive_client_t *client;    //  A client connected to it, if opts.client
} testkit_pool_t;

//  ---------------------------------------------------------------------
//  A pool as opts say (NULL: a broker alone). Fails the test if any part
//  cannot be made.
testkit_pool_t *testkit_pool_new (const testkit_pool_opts_t *opts);

//  Stop and destroy the client, the broker and its workers. Safe with
//  *self_p NULL.
void testkit_pool_destroy (testkit_pool_t **self_p);

//  ---------------------------------------------------------------------
//  Just the broker of a pool, bound to tcp://127.0.0.1:* for clients and
//  workers and configured by opts (its local workers not started; with
//  $ZHIVE_TEST_VERBOSE set it logs). The caller destroys it.
zhive_broker_t *testkit_pool_broker_new (const testkit_pool_opts_t *opts);

//  ---------------------------------------------------------------------
//  Wait until exactly count workers are ready (within timeout_ms), or
//  fail the test.
void testkit_pool_wait_workers (testkit_pool_t *self, int count, int timeout_ms);

//  The same for a broker that is no pool's.
void testkit_pool_wait_ready (zhive_broker_t *broker, int count, int timeout_ms);

//  ---------------------------------------------------------------------
//  A fake client, or fake worker: a DEALER (testkit_peer_new) connected
//  to the broker's clients, or workers, endpoint. Caller destroys.
zsock_t *testkit_pool_fake_client (testkit_pool_t *self);
zsock_t *testkit_pool_fake_worker (testkit_pool_t *self);

//  ---------------------------------------------------------------------
//  The pids of the workers the broker lists in STATUS (asked with
//  client), at most max; returns how many (0 if STATUS failed).
int testkit_pool_worker_pids (zhive_client_t *client, pid_t *pids, int max);

//  ---------------------------------------------------------------------
//  The args of a one-integer call, [n] packed. Caller destroys.
zhive_pack_t *testkit_pool_args_int (int64_t n);

#ifdef __cplusplus
}
#endif

#endif
