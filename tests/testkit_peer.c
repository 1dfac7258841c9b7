/*  =========================================================================
    testkit_peer - fake clients and fake workers over DEALER sockets
    =========================================================================
*/
#include "testkit_peer.h"
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#define S_FUNCTIONS_MAX 16    //  Functions one READY of the varargs form offers

//  ---------------------------------------------------------------------
//  A DEALER to endpoint with the kit's timeouts

zsock_t *
testkit_peer_new (const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert_non_null (sock);
    zsock_set_rcvtimeo (sock, TESTKIT_TIMEOUT);
    zsock_set_sndtimeo (sock, TESTKIT_TIMEOUT);
    zsock_set_linger (sock, 1000);    //  A BYE right before closing still goes out
    assert_int_equal (zsock_connect (sock, "%s", endpoint), 0);
    return sock;
}

//  ---------------------------------------------------------------------
//  A DEALER with a fixed routing id and no linger

zsock_t *
testkit_peer_new_id (const char *endpoint, const char *routing_id)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert_non_null (sock);
    zsock_set_rcvtimeo (sock, TESTKIT_TIMEOUT);
    zsock_set_sndtimeo (sock, TESTKIT_TIMEOUT);
    zsock_set_linger (sock, 0);
    assert_int_equal (
        zmq_setsockopt (zsock_resolve (sock), ZMQ_ROUTING_ID, routing_id, strlen (routing_id)), 0);
    assert_int_equal (zsock_connect (sock, "%s", endpoint), 0);
    return sock;
}

//  Send and destroy a message; the socket must take it
static void
s_send (zsock_t *sock, zhive_proto_t **msg_p)
{
    if (zhive_proto_send (*msg_p, sock))
        fail_msg ("cannot send %s: %s", zhive_proto_command_name ((*msg_p)->command),
                  zmq_strerror (zmq_errno ()));
    zhive_proto_destroy (msg_p);
}

//  ---------------------------------------------------------------------
//  A command with only an id (BYE with a reason)

void
testkit_peer_send (zsock_t *sock, int command, uint64_t id)
{
    zhive_proto_t *msg = zhive_proto_new ();
    assert_non_null (msg);
    msg->command = command;
    msg->id = id;
    if (command == ZHIVE_BYE)
        zhive_proto_set_message (msg, "test says bye");
    s_send (sock, &msg);
}

//  ---------------------------------------------------------------------
//  SUBMIT

void
testkit_peer_submit (zsock_t *sock, uint64_t id, const char *function, const char *args,
                     int64_t timeout_ms, int64_t retries)
{
    zhive_proto_t *msg = zhive_proto_new ();
    assert_non_null (msg);
    msg->command = ZHIVE_SUBMIT;
    msg->id = id;
    zhive_proto_set_name (msg->function, function);
    msg->timeout_ms = timeout_ms;
    msg->retries = retries;
    assert_int_equal (zhive_proto_set_payload (msg, args, strlen (args)), 0);
    s_send (sock, &msg);
}

//  ---------------------------------------------------------------------
//  A READY message of this host

zhive_proto_t *
testkit_peer_ready_msg (const char *name, uint64_t pid, uint32_t concurrency, uint64_t max_tasks,
                        const char *const *functions, size_t count)
{
    zhive_proto_t *msg = zhive_proto_new ();
    if (!msg)
        return NULL;
    msg->command = ZHIVE_READY;
    zhive_proto_set_name (msg->worker, name);
    char host [256] = "";
    gethostname (host, sizeof host - 1);
    zhive_proto_set_name (msg->host, host);
    msg->pid = pid;
    msg->concurrency = concurrency;
    msg->max_tasks = max_tasks;
    msg->functions = (char **) calloc (count ? count : 1, sizeof (char *));
    for (size_t i = 0; msg->functions && i < count; i++)
        msg->functions [msg->functions_count++] = strdup (functions [i]);
    return msg;
}

//  READY with the functions of a va_list, up to NULL
static void
s_ready_v (zsock_t *sock, const char *name, uint64_t pid, uint32_t concurrency, uint64_t max_tasks,
           va_list args)
{
    const char *functions [S_FUNCTIONS_MAX];
    size_t count = 0;
    const char *function;
    while ((function = va_arg (args, const char *)) && count < S_FUNCTIONS_MAX)
        functions [count++] = function;
    zhive_proto_t *msg =
        testkit_peer_ready_msg (name, pid, concurrency, max_tasks, functions, count);
    assert_non_null (msg);
    s_send (sock, &msg);
}

//  ---------------------------------------------------------------------
//  READY without a task limit

void
testkit_peer_ready (zsock_t *sock, const char *name, uint64_t pid, uint32_t concurrency, ...)
{
    va_list args;
    va_start (args, concurrency);
    s_ready_v (sock, name, pid, concurrency, 0, args);
    va_end (args);
}

//  ---------------------------------------------------------------------
//  READY with a task limit

void
testkit_peer_ready_max (zsock_t *sock, const char *name, uint64_t pid, uint32_t concurrency,
                        uint64_t max_tasks, ...)
{
    va_list args;
    va_start (args, max_tasks);
    s_ready_v (sock, name, pid, concurrency, max_tasks, args);
    va_end (args);
}

//  ---------------------------------------------------------------------
//  DONE

void
testkit_peer_done (zsock_t *sock, uint64_t ticket, const void *value, size_t size)
{
    zhive_proto_t *msg = zhive_proto_new ();
    assert_non_null (msg);
    msg->command = ZHIVE_DONE;
    msg->id = ticket;
    assert_int_equal (zhive_proto_set_payload (msg, value, size), 0);
    s_send (sock, &msg);
}

//  ---------------------------------------------------------------------
//  FAILED

void
testkit_peer_failed (zsock_t *sock, uint64_t ticket, const char *type, const char *message)
{
    zhive_proto_t *msg = zhive_proto_new ();
    assert_non_null (msg);
    msg->command = ZHIVE_FAILED;
    msg->id = ticket;
    zhive_proto_set_name (msg->type, type);
    zhive_proto_set_message (msg, message);
    s_send (sock, &msg);
}

//  A message the broker sends whatever else happens: to show it is alive,
//  or the WELCOME that answers every READY (unless that is what is asked)
static bool
s_is_liveness (const zhive_proto_t *msg, int wanted)
{
    return msg->command == ZHIVE_PING || msg->command == ZHIVE_HEARTBEAT ||
           (msg->command == ZHIVE_WELCOME && wanted != ZHIVE_WELCOME);
}

//  ---------------------------------------------------------------------
//  The next message that is no PING, HEARTBEAT or WELCOME, of this command

zhive_proto_t *
testkit_peer_expect (zsock_t *sock, int command)
{
    zhive_proto_t *msg = zhive_proto_new ();
    assert_non_null (msg);
    while (true) {
        int rc = zhive_proto_recv (msg, sock, 0);
        if (rc != 0)
            fail_msg ("expected %s, got rc %d (%s)", zhive_proto_command_name (command), rc,
                      rc == -2 ? msg->error : "timeout");
        if (!s_is_liveness (msg, command))
            break;
    }
    if (msg->command != command)
        fail_msg ("expected %s, got %s", zhive_proto_command_name (command),
                  zhive_proto_command_name (msg->command));
    return msg;
}

//  ---------------------------------------------------------------------
//  Only PINGs, HEARTBEATs and WELCOMEs for ms

void
testkit_peer_expect_quiet (zsock_t *sock, int ms)
{
    int64_t until = zclock_mono () + ms;
    zhive_proto_t *msg = zhive_proto_new ();
    assert_non_null (msg);
    while (zclock_mono () < until) {
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) (until - zclock_mono ())) > 0) {
            assert_int_equal (zhive_proto_recv (msg, sock, ZMQ_DONTWAIT), 0);
            if (!s_is_liveness (msg, -1))
                fail_msg ("expected nothing, got %s", zhive_proto_command_name (msg->command));
        }
    }
    zhive_proto_destroy (&msg);
}

//  ---------------------------------------------------------------------
//  A TASK for function; its ticket

uint64_t
testkit_peer_expect_task (zsock_t *sock, const char *function, const char *args)
{
    zhive_proto_t *msg = testkit_peer_expect (sock, ZHIVE_TASK);
    assert_string_equal (msg->function, function);
    if (args) {
        assert_int_equal (zmq_msg_size (&msg->payload), strlen (args));
        assert_memory_equal (zmq_msg_data (&msg->payload), args, strlen (args));
    }
    uint64_t ticket = msg->id;
    zhive_proto_destroy (&msg);
    return ticket;
}

//  ---------------------------------------------------------------------
//  A CANCEL for ticket

void
testkit_peer_expect_cancel (zsock_t *sock, uint64_t ticket)
{
    zhive_proto_t *msg = testkit_peer_expect (sock, ZHIVE_CANCEL);
    assert_int_equal (msg->id, ticket);
    zhive_proto_destroy (&msg);
}

//  ---------------------------------------------------------------------
//  RESULT id with these bytes

void
testkit_peer_expect_result (zsock_t *sock, uint64_t id, const void *value, size_t size)
{
    zhive_proto_t *msg = testkit_peer_expect (sock, ZHIVE_RESULT);
    assert_int_equal (msg->id, id);
    assert_int_equal (zmq_msg_size (&msg->payload), size);
    assert_memory_equal (zmq_msg_data (&msg->payload), value, size);
    zhive_proto_destroy (&msg);
}

//  ---------------------------------------------------------------------
//  ERROR id of type saying words

zhive_proto_t *
testkit_peer_expect_error (zsock_t *sock, uint64_t id, const char *type, const char *words)
{
    zhive_proto_t *msg = testkit_peer_expect (sock, ZHIVE_ERROR);
    assert_int_equal (msg->id, id);
    assert_string_equal (msg->type, type);
    if (words && !strstr (msg->message, words))
        fail_msg ("error message '%s' does not say '%s'", msg->message, words);
    return msg;
}

//  ---------------------------------------------------------------------
//  STATUS and its reply, unpacked

msgpack_unpacked *
testkit_peer_status (zsock_t *sock, uint64_t id)
{
    testkit_peer_send (sock, ZHIVE_STATUS, id);
    zhive_proto_t *msg = testkit_peer_expect (sock, ZHIVE_STATUS_REPLY);
    assert_int_equal (msg->id, id);
    msgpack_unpacked *status = (msgpack_unpacked *) calloc (1, sizeof (msgpack_unpacked));
    assert_non_null (status);
    msgpack_unpacked_init (status);
    size_t offset = 0;
    assert_int_equal (msgpack_unpack_next (status, (const char *) zmq_msg_data (&msg->payload),
                                           zmq_msg_size (&msg->payload), &offset),
                      MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (offset, zmq_msg_size (&msg->payload));
    zhive_proto_destroy (&msg);
    return status;
}

//  ---------------------------------------------------------------------
//  Destroy a status

void
testkit_peer_status_destroy (msgpack_unpacked **status_p)
{
    if (!*status_p)
        return;
    msgpack_unpacked_destroy (*status_p);
    free (*status_p);
    *status_p = NULL;
}

//  ---------------------------------------------------------------------
//  A map's integer field

int64_t
testkit_field_int (const msgpack_object *map, const char *key)
{
    int64_t value = -1;
    const msgpack_object *field = zhive_value_get (map, key);
    assert_non_null (field);
    assert_int_equal (zhive_value_int (field, &value), 0);
    return value;
}

//  ---------------------------------------------------------------------
//  Whether a map's field is this string

bool
testkit_field_is (const msgpack_object *map, const char *key, const char *text)
{
    const char *ptr;
    size_t size;
    const msgpack_object *field = zhive_value_get (map, key);
    return field && zhive_value_str (field, &ptr, &size) == 0 && size == strlen (text) &&
           memcmp (ptr, text, size) == 0;
}

//  ---------------------------------------------------------------------
//  The workers' pids in a STATUS map

size_t
testkit_status_pids (const msgpack_object *status, pid_t *pids, size_t max)
{
    const msgpack_object *workers = zhive_value_get (status, "workers");
    size_t count = zhive_value_len (workers);
    for (size_t i = 0; i < count && i < max; i++)
        pids [i] = (pid_t) testkit_field_int (zhive_value_at (workers, i), "pid");
    return count < max ? count : max;
}
