/*  =========================================================================
    testkit_peer - fake clients and fake workers: DEALER sockets that speak
    zhive_proto to a broker, every message under the test's control

        zsock_t *client = testkit_peer_new (clients_endpoint);
        zsock_t *worker = testkit_peer_new (workers_endpoint);
        testkit_peer_ready (worker, "w1", 101, 4, "fib", NULL);
        testkit_peer_submit (client, 7, "fib", "\x91\x0a", -1, -1);
        uint64_t ticket = testkit_peer_expect_task (worker, "fib", "\x91\x0a");
        testkit_peer_done (worker, ticket, "\x37", 1);
        testkit_peer_expect_result (client, 7, "\x37", 1);

    A peer is a plain zsock_t (destroy it with zsock_destroy). Receives wait
    the socket's receive timeout (TESTKIT_TIMEOUT unless the test sets
    another with zsock_set_rcvtimeo); a message that does not come, or
    another than expected, fails the test. Sends that the socket refuses
    fail the test too. Payloads given as C strings are msgpack bytes with
    no NUL inside.
    =========================================================================
*/
#ifndef TESTKIT_PEER_H_INCLUDED
#define TESTKIT_PEER_H_INCLUDED

#include "testkit.h"
#include "zhive_proto.h"
#include "zhive_pack.h"
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

//  ---------------------------------------------------------------------
//  A DEALER connected to endpoint, with send and receive timeouts of
//  TESTKIT_TIMEOUT and a linger of 1 s (a BYE right before closing still
//  goes out).
zsock_t *testkit_peer_new (const char *endpoint);

//  ---------------------------------------------------------------------
//  The same with a fixed routing id, as libzhive's client has, and no
//  linger: closed, it can connect again at once under the same id.
zsock_t *testkit_peer_new_id (const char *endpoint, const char *routing_id);

//  ---------------------------------------------------------------------
//  Send a command with only an id: PING, PONG, HEARTBEAT, CANCEL, STATUS,
//  DRAINING; BYE goes with the reason "test says bye".
void testkit_peer_send (zsock_t *sock, int command, uint64_t id);

//  ---------------------------------------------------------------------
//  Fake client: SUBMIT id function with args (msgpack bytes, a C string),
//  a deadline (timeout_ms, -1 none) and retries (-1 the broker's default).
void testkit_peer_submit (zsock_t *sock, uint64_t id, const char *function, const char *args,
                          int64_t timeout_ms, int64_t retries);

//  ---------------------------------------------------------------------
//  Fake worker: READY name pid concurrency (no task limit), offering the
//  functions that follow, up to a NULL.
void testkit_peer_ready (zsock_t *sock, const char *name, uint64_t pid, uint32_t concurrency, ...);

//  ---------------------------------------------------------------------
//  READY with a task limit (max_tasks, 0 none), the functions up to NULL.
void testkit_peer_ready_max (zsock_t *sock, const char *name, uint64_t pid, uint32_t concurrency,
                             uint64_t max_tasks, ...);

//  ---------------------------------------------------------------------
//  A READY message of this host for count functions, to send with
//  zhive_proto_send (for fake worker processes that must not assert).
//  Caller destroys.
zhive_proto_t *testkit_peer_ready_msg (const char *name, uint64_t pid, uint32_t concurrency,
                                       uint64_t max_tasks, const char *const *functions,
                                       size_t count);

//  ---------------------------------------------------------------------
//  Fake worker: DONE ticket with the value bytes.
void testkit_peer_done (zsock_t *sock, uint64_t ticket, const void *value, size_t size);

//  ---------------------------------------------------------------------
//  Fake worker: FAILED ticket type message.
void testkit_peer_failed (zsock_t *sock, uint64_t ticket, const char *type, const char *message);

//  ---------------------------------------------------------------------
//  The next message that is not a PING or HEARTBEAT (the broker sends one
//  to every worker, and to clients waiting for answers, each interval), nor
//  a WELCOME unless that is asked for; it must be `command`. Caller destroys the result.
zhive_proto_t *testkit_peer_expect (zsock_t *sock, int command);

//  ---------------------------------------------------------------------
//  Nothing but PINGs, HEARTBEATs and WELCOMEs arrives within ms.
void testkit_peer_expect_quiet (zsock_t *sock, int ms);

//  ---------------------------------------------------------------------
//  Fake worker: a TASK for function (with exactly these args unless args
//  is NULL); returns its ticket.
uint64_t testkit_peer_expect_task (zsock_t *sock, const char *function, const char *args);

//  ---------------------------------------------------------------------
//  Fake worker: a CANCEL for this ticket.
void testkit_peer_expect_cancel (zsock_t *sock, uint64_t ticket);

//  ---------------------------------------------------------------------
//  Fake client: RESULT id with exactly these value bytes.
void testkit_peer_expect_result (zsock_t *sock, uint64_t id, const void *value, size_t size);

//  ---------------------------------------------------------------------
//  Fake client: ERROR id of type whose message holds words (unless words
//  is NULL); returns it for more checks. Caller destroys.
zhive_proto_t *testkit_peer_expect_error (zsock_t *sock, uint64_t id, const char *type,
                                          const char *words);

//  ---------------------------------------------------------------------
//  Fake client: STATUS id, and its STATUS_REPLY unpacked (status->data is
//  the map). Destroy with testkit_peer_status_destroy.
msgpack_unpacked *testkit_peer_status (zsock_t *sock, uint64_t id);

//  Destroy a status; nulls the pointer.
void testkit_peer_status_destroy (msgpack_unpacked **status_p);

//  ---------------------------------------------------------------------
//  An integer field of a map; fails the test if it is missing or no int.
int64_t testkit_field_int (const msgpack_object *map, const char *key);

//  ---------------------------------------------------------------------
//  True if a map's field is the string text.
bool testkit_field_is (const msgpack_object *map, const char *key, const char *text);

//  ---------------------------------------------------------------------
//  The pids of the workers in a STATUS map (its "workers" list), at most
//  max; returns how many.
size_t testkit_status_pids (const msgpack_object *status, pid_t *pids, size_t max);

#ifdef __cplusplus
}
#endif

#endif
