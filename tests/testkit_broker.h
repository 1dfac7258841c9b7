/*  =========================================================================
    testkit_broker - a fake broker: a ROUTER on tcp://127.0.0.1:* that
    speaks zhive_proto with one worker at a time

        testkit_broker_t *broker = testkit_broker_new (NULL);
        ...  start a worker connecting to broker->endpoint  ...
        testkit_broker_expect_ready (broker, functions, 16, pid);
        testkit_broker_send_task_int (broker, 1, "fib", 20);
        testkit_broker_expect_done_int (broker, 1, 6765);
        testkit_broker_destroy (&broker);

    READY remembers the worker's routing id; sends go to it, and messages
    of other peers are skipped (when tests run in parallel, a worker of
    another test may reconnect to a port that was its broker's and is ours
    now). Every receive waits at most TESTKIT_TIMEOUT; a message that does
    not come, or another than expected, fails the test. The last message
    received stays in `in` for the test to look at.
    =========================================================================
*/
#ifndef TESTKIT_BROKER_H_INCLUDED
#define TESTKIT_BROKER_H_INCLUDED

#include "testkit.h"
#include "zhive_proto.h"
#include "zhive_pack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    zsock_t *router;         //  The worker endpoint
    char *endpoint;          //  Where it is bound (port resolved)
    zhive_proto_t *in;       //  Last message received
    zhive_proto_t *out;      //  Message to send
    uint8_t worker [256];    //  Routing id of the worker (from READY)
    size_t worker_size;      //  Its size; 0 before READY (then any peer is heard)
} testkit_broker_t;

//  ---------------------------------------------------------------------
//  A fake broker bound to endpoint (NULL: tcp://127.0.0.1:*; a port just
//  closed is retried for up to 2 s, as its close is asynchronous).
testkit_broker_t *testkit_broker_new (const char *endpoint);

//  ---------------------------------------------------------------------
//  The same; with heartbeat_ms > 0 it runs ZMTP heartbeats (timeout 3
//  intervals) and is ROUTER_MANDATORY, as the real one, so a send to a
//  worker whose connection was dropped fails (EHOSTUNREACH).
testkit_broker_t *testkit_broker_new_heartbeat (const char *endpoint, int heartbeat_ms);

//  Destroy; safe with *self_p NULL.
void testkit_broker_destroy (testkit_broker_t **self_p);

//  ---------------------------------------------------------------------
//  Receive one message of the worker into in; returns its command, -1 on
//  timeout, -2 if malformed (in->error says why).
int testkit_broker_recv (testkit_broker_t *self);

//  ---------------------------------------------------------------------
//  Receive a message; it must be command.
void testkit_broker_expect (testkit_broker_t *self, int command);

//  ---------------------------------------------------------------------
//  Receive DRAINING and answer it with DRAINED, as a broker does.
void testkit_broker_expect_draining (testkit_broker_t *self);

//  ---------------------------------------------------------------------
//  Expect READY from the worker with this pid, offering functions
//  (NULL-terminated, in order) with this concurrency; remember its
//  routing id. READYs of other processes are skipped.
void testkit_broker_expect_ready (testkit_broker_t *self, const char *const *functions,
                                  uint32_t concurrency, pid_t pid);

//  ---------------------------------------------------------------------
//  TASK ticket function with args bytes and timeout_ms left to run (-1:
//  none), to the worker.
void testkit_broker_send_task_timeout (testkit_broker_t *self, uint64_t ticket,
                                       const char *function, const void *args, size_t size,
                                       int64_t timeout_ms);

//  TASK without a deadline.
void testkit_broker_send_task (testkit_broker_t *self, uint64_t ticket, const char *function,
                               const void *args, size_t size);

//  TASK with packed args, without a deadline.
void testkit_broker_send_task_pack (testkit_broker_t *self, uint64_t ticket, const char *function,
                                    zhive_pack_t *args);

//  TASK with one integer argument, without a deadline.
void testkit_broker_send_task_int (testkit_broker_t *self, uint64_t ticket, const char *function,
                                   int64_t value);

//  TASK with one integer argument and timeout_ms left to run.
void testkit_broker_send_task_int_timeout (testkit_broker_t *self, uint64_t ticket,
                                           const char *function, int64_t value, int64_t timeout_ms);

//  ---------------------------------------------------------------------
//  A command without fields to the worker: PING, PONG, HEARTBEAT, DRAINED, or BYE
//  with message as its reason (NULL: "").
void testkit_broker_send (testkit_broker_t *self, int command, const char *message);

//  CANCEL ticket to the worker.
void testkit_broker_send_cancel (testkit_broker_t *self, uint64_t ticket);

//  WELCOME with the broker's incarnation to the worker.
void testkit_broker_send_welcome (testkit_broker_t *self, uint64_t incarnation);

//  ---------------------------------------------------------------------
//  Raw frames to the worker, after its routing id: `frames` pairs of
//  (const void *data, size_t size) follow.
void testkit_broker_send_raw (testkit_broker_t *self, int frames, ...);

//  ---------------------------------------------------------------------
//  Nothing is on its way from the worker: a PING is answered by PONG next.
void testkit_broker_expect_quiet (testkit_broker_t *self);

//  ---------------------------------------------------------------------
//  DONE ticket with exactly these value bytes.
void testkit_broker_expect_done (testkit_broker_t *self, uint64_t ticket, const void *value,
                                 size_t size);

//  DONE ticket with this integer value.
void testkit_broker_expect_done_int (testkit_broker_t *self, uint64_t ticket, int64_t value);

//  ---------------------------------------------------------------------
//  FAILED ticket with this type and a message containing part.
void testkit_broker_expect_failed (testkit_broker_t *self, uint64_t ticket, const char *type,
                                   const char *part);

#ifdef __cplusplus
}
#endif

#endif
