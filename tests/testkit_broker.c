/*  =========================================================================
    testkit_broker - a fake broker (ROUTER) for one worker at a time
    =========================================================================
*/
#include "testkit_broker.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>

#define S_STRAYS_MAX 100    //  Messages of other peers skipped in one receive

//  ---------------------------------------------------------------------
//  A fake broker, plain

testkit_broker_t *
testkit_broker_new (const char *endpoint)
{
    return testkit_broker_new_heartbeat (endpoint, 0);
}

//  ---------------------------------------------------------------------
//  A fake broker, with ZMTP heartbeats if heartbeat_ms > 0

testkit_broker_t *
testkit_broker_new_heartbeat (const char *endpoint, int heartbeat_ms)
{
    testkit_broker_t *self = (testkit_broker_t *) calloc (1, sizeof (testkit_broker_t));
    assert_non_null (self);
    self->router = zsock_new (ZMQ_ROUTER);
    assert_non_null (self->router);
    zsock_set_rcvtimeo (self->router, TESTKIT_TIMEOUT);
    zsock_set_sndtimeo (self->router, TESTKIT_TIMEOUT);
    zsock_set_sndhwm (self->router, 0);    //  As the real one: thousands of TASKs, none dropped
    if (heartbeat_ms > 0) {
        zsock_set_heartbeat_ivl (self->router, heartbeat_ms);
        zsock_set_heartbeat_timeout (self->router, 3 * heartbeat_ms);
        zsock_set_heartbeat_ttl (self->router, 3 * heartbeat_ms);
        zsock_set_router_mandatory (self->router, 1);
    }
    //  Rebinding a port just closed may need a moment: the close is async
    int port = -1;
    for (int attempt = 0; attempt < 100 && port <= 0; attempt++) {
        port = zsock_bind (self->router, "%s", endpoint ? endpoint : "tcp://127.0.0.1:*");
        if (port <= 0)
            zclock_sleep (20);
    }
    assert_true (port > 0);
    self->endpoint = strdup (zsock_endpoint (self->router));
    self->in = zhive_proto_new ();
    self->out = zhive_proto_new ();
    assert_non_null (self->in);
    assert_non_null (self->out);
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy

void
testkit_broker_destroy (testkit_broker_t **self_p)
{
    testkit_broker_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->router);
    zhive_proto_destroy (&self->in);
    zhive_proto_destroy (&self->out);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  One message of the worker (others skipped)

int
testkit_broker_recv (testkit_broker_t *self)
{
    for (int stray = 0; stray < S_STRAYS_MAX; stray++) {
        int rc = zhive_proto_recv (self->in, self->router, 0);
        if (rc == -1)
            return -1;
        if (self->worker_size == 0 ||
            (self->in->routing_size == self->worker_size &&
             memcmp (self->in->routing, self->worker, self->worker_size) == 0))
            return rc == 0 ? self->in->command : rc;
    }
    return -1;
}

//  ---------------------------------------------------------------------
//  A message of this command

void
testkit_broker_expect (testkit_broker_t *self, int command)
{
    int rc = testkit_broker_recv (self);
    if (rc != command)
        fail_msg ("expected %s, got %d (%s, ticket %" PRIu64 ") %s",
                  zhive_proto_command_name (command), rc,
                  rc > 0 ? zhive_proto_command_name (rc) : "no message", self->in->id,
                  self->in->error);
}

//  ---------------------------------------------------------------------
//  DRAINING, answered with DRAINED

void
testkit_broker_expect_draining (testkit_broker_t *self)
{
    testkit_broker_expect (self, ZHIVE_DRAINING);
    testkit_broker_send (self, ZHIVE_DRAINED, NULL);
}

//  ---------------------------------------------------------------------
//  READY of the worker with this pid; remember its routing id

void
testkit_broker_expect_ready (testkit_broker_t *self, const char *const *functions,
                             uint32_t concurrency, pid_t pid)
{
    zhive_proto_t *in = self->in;
    self->worker_size = 0;
    int rc = -1;
    for (int stray = 0; stray < S_STRAYS_MAX; stray++) {
        rc = testkit_broker_recv (self);
        if (rc == -1 || (rc == ZHIVE_READY && in->pid == (uint64_t) pid))
            break;
    }
    if (rc != ZHIVE_READY || in->pid != (uint64_t) pid)
        fail_msg ("expected READY from pid %d, got %d %s", (int) pid, rc, in->error);
    assert_int_equal (in->concurrency, concurrency);
    size_t count = 0;
    while (functions [count])
        count++;
    assert_int_equal (in->functions_count, count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal (in->functions [i], functions [i]);
    memcpy (self->worker, in->routing, in->routing_size);
    self->worker_size = in->routing_size;
}

//  Address out to the worker
static zhive_proto_t *
s_out (testkit_broker_t *self, int command)
{
    zhive_proto_t *out = self->out;
    memcpy (out->routing, self->worker, self->worker_size);
    out->routing_size = self->worker_size;
    out->command = command;
    return out;
}

//  ---------------------------------------------------------------------
//  TASK with a deadline

void
testkit_broker_send_task_timeout (testkit_broker_t *self, uint64_t ticket, const char *function,
                                  const void *args, size_t size, int64_t timeout_ms)
{
    zhive_proto_t *out = s_out (self, ZHIVE_TASK);
    out->id = ticket;
    out->timeout_ms = timeout_ms;
    zhive_proto_set_name (out->function, function);
    assert_int_equal (zhive_proto_set_payload (out, args, size), 0);
    if (zhive_proto_send (out, self->router))
        fail_msg ("cannot send TASK %" PRIu64 ": %s", ticket, zmq_strerror (zmq_errno ()));
}

//  ---------------------------------------------------------------------
//  TASK

void
testkit_broker_send_task (testkit_broker_t *self, uint64_t ticket, const char *function,
                          const void *args, size_t size)
{
    testkit_broker_send_task_timeout (self, ticket, function, args, size, -1);
}

//  ---------------------------------------------------------------------
//  TASK with packed args

void
testkit_broker_send_task_pack (testkit_broker_t *self, uint64_t ticket, const char *function,
                               zhive_pack_t *args)
{
    testkit_broker_send_task (self, ticket, function, zhive_pack_data (args),
                              zhive_pack_size (args));
}

//  ---------------------------------------------------------------------
//  TASK [value]

void
testkit_broker_send_task_int (testkit_broker_t *self, uint64_t ticket, const char *function,
                              int64_t value)
{
    testkit_broker_send_task_int_timeout (self, ticket, function, value, -1);
}

//  ---------------------------------------------------------------------
//  TASK [value] with a deadline

void
testkit_broker_send_task_int_timeout (testkit_broker_t *self, uint64_t ticket, const char *function,
                                      int64_t value, int64_t timeout_ms)
{
    zhive_pack_t *args = zhive_pack_new ();
    assert_non_null (args);
    zhive_pack_array (args, 1);
    zhive_pack_int (args, value);
    testkit_broker_send_task_timeout (self, ticket, function, zhive_pack_data (args),
                                      zhive_pack_size (args), timeout_ms);
    zhive_pack_destroy (&args);
}

//  ---------------------------------------------------------------------
//  A command without fields (BYE with a reason)

void
testkit_broker_send (testkit_broker_t *self, int command, const char *message)
{
    zhive_proto_t *out = s_out (self, command);
    zhive_proto_set_message (out, message);
    assert_int_equal (zhive_proto_send (out, self->router), 0);
}

//  ---------------------------------------------------------------------
//  CANCEL

void
testkit_broker_send_cancel (testkit_broker_t *self, uint64_t ticket)
{
    zhive_proto_t *out = s_out (self, ZHIVE_CANCEL);
    out->id = ticket;
    assert_int_equal (zhive_proto_send (out, self->router), 0);
}

//  ---------------------------------------------------------------------
//  WELCOME

void
testkit_broker_send_welcome (testkit_broker_t *self, uint64_t incarnation)
{
    zhive_proto_t *out = s_out (self, ZHIVE_WELCOME);
    out->id = incarnation;
    assert_int_equal (zhive_proto_send (out, self->router), 0);
}

//  ---------------------------------------------------------------------
//  Raw frames after the worker's routing id

void
testkit_broker_send_raw (testkit_broker_t *self, int frames, ...)
{
    void *handle = zsock_resolve (self->router);
    assert_true (zmq_send (handle, self->worker, self->worker_size, ZMQ_SNDMORE) >= 0);
    va_list args;
    va_start (args, frames);
    for (int i = 0; i < frames; i++) {
        const void *data = va_arg (args, const void *);
        size_t size = va_arg (args, size_t);
        assert_true (zmq_send (handle, data, size, i < frames - 1 ? ZMQ_SNDMORE : 0) >= 0);
    }
    va_end (args);
}

//  ---------------------------------------------------------------------
//  PING answered by PONG next

void
testkit_broker_expect_quiet (testkit_broker_t *self)
{
    testkit_broker_send (self, ZHIVE_PING, NULL);
    testkit_broker_expect (self, ZHIVE_PONG);
}

//  ---------------------------------------------------------------------
//  DONE with these bytes

void
testkit_broker_expect_done (testkit_broker_t *self, uint64_t ticket, const void *value, size_t size)
{
    testkit_broker_expect (self, ZHIVE_DONE);
    assert_int_equal (self->in->id, ticket);
    assert_int_equal (zmq_msg_size (&self->in->payload), size);
    assert_memory_equal (zmq_msg_data (&self->in->payload), value, size);
}

//  ---------------------------------------------------------------------
//  DONE with this integer

void
testkit_broker_expect_done_int (testkit_broker_t *self, uint64_t ticket, int64_t value)
{
    zhive_pack_t *pack = zhive_pack_new ();
    assert_non_null (pack);
    zhive_pack_int (pack, value);
    testkit_broker_expect_done (self, ticket, zhive_pack_data (pack), zhive_pack_size (pack));
    zhive_pack_destroy (&pack);
}

//  ---------------------------------------------------------------------
//  FAILED of this type, its message containing part

void
testkit_broker_expect_failed (testkit_broker_t *self, uint64_t ticket, const char *type,
                              const char *part)
{
    testkit_broker_expect (self, ZHIVE_FAILED);
    assert_int_equal (self->in->id, ticket);
    assert_string_equal (self->in->type, type);
    assert_non_null (self->in->message);
    if (!strstr (self->in->message, part))
        fail_msg ("message '%s' does not contain '%s'", self->in->message, part);
}
