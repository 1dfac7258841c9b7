/*  =========================================================================
    test_pool - the broker's pool model, driven directly: no sockets

    A fake operations table records every call the pool makes (TASK,
    RESULT/ERROR, CANCEL, kill, WELCOME) and answers as the test says (a
    full pipe, a gone peer, an undelivered answer). Time is whatever the
    test passes: nothing here waits.
    =========================================================================
*/
#include "zhive_kept.h"
#include "zhive_pool.h"
#include "zhive_result.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define S_MS 1000    //  One ms in the pool's µs

enum { S_TASK, S_ANSWER, S_CANCEL, S_KILL, S_WELCOME };

//  One call the pool made
typedef struct {
    int kind;              //  S_TASK ...
    char peer [32];        //  To whom
    uint64_t id;           //  Ticket, task id, or incarnation
    char function [64];    //  TASK: function
    int64_t timeout_ms;    //  TASK: time left
    char data [64];        //  TASK: args; RESULT: value
    bool is_result;        //  ANSWER: RESULT (data) rather than ERROR
    char type [64];        //  ERROR: type
    char message [256];    //  ERROR: message
} s_call_t;

typedef struct {
    s_call_t calls [512];         //  What the pool did, in order
    size_t count;                 //  Calls recorded
    size_t next;                  //  Next call s_take returns
    zhive_pool_send_t send_rc;    //  What a TASK send comes to
    bool undelivered;             //  Answers are not delivered
    int kill_rc;                  //  What a kill comes to
    uint32_t incarnation;         //  What the incarnation op returns
} s_fake_t;

static s_call_t *
s_record (s_fake_t *fake, int kind, const zhive_peer_t *peer, uint64_t id)
{
    assert_true (fake->count < 512);
    s_call_t *call = &fake->calls [fake->count++];
    memset (call, 0, sizeof *call);
    call->kind = kind;
    if (peer)
        snprintf (call->peer, sizeof call->peer, "%.*s", (int) peer->size, peer->id);
    call->id = id;
    return call;
}

static void
s_copy_msg (char *to, size_t size, zmq_msg_t *msg)
{
    snprintf (to, size, "%.*s", (int) zmq_msg_size (msg), (char *) zmq_msg_data (msg));
}

static zhive_pool_send_t
s_send_task (void *arg, const zhive_peer_t *worker, uint64_t ticket, const char *function,
             int64_t timeout_ms, uint32_t chunk, zmq_msg_t *args)
{
    (void) chunk;
    s_fake_t *fake = (s_fake_t *) arg;
    if (fake->send_rc != ZHIVE_POOL_SENT)
        return fake->send_rc;
    s_call_t *call = s_record (fake, S_TASK, worker, ticket);
    snprintf (call->function, sizeof call->function, "%s", function);
    call->timeout_ms = timeout_ms;
    s_copy_msg (call->data, sizeof call->data, args);
    return ZHIVE_POOL_SENT;
}

static bool
s_answer (void *arg, const zhive_peer_t *client, uint64_t id, zmq_msg_t *value, const char *type,
          const char *message, const char *worker)
{
    (void) worker;
    s_fake_t *fake = (s_fake_t *) arg;
    s_call_t *call = s_record (fake, S_ANSWER, client, id);
    call->is_result = value != NULL;
    if (value)
        s_copy_msg (call->data, sizeof call->data, value);
    else {
        snprintf (call->type, sizeof call->type, "%s", type);
        snprintf (call->message, sizeof call->message, "%s", message);
    }
    return !fake->undelivered;
}

static void
s_cancel (void *arg, const zhive_peer_t *worker, uint64_t ticket)
{
    s_record ((s_fake_t *) arg, S_CANCEL, worker, ticket);
}

static int
s_kill (void *arg, uint64_t pid, const char *why)
{
    (void) why;
    s_fake_t *fake = (s_fake_t *) arg;
    s_record (fake, S_KILL, NULL, pid);
    return fake->kill_rc;
}

static void
s_welcome (void *arg, const zhive_peer_t *worker, uint32_t incarnation)
{
    s_record ((s_fake_t *) arg, S_WELCOME, worker, incarnation);
}

static uint32_t
s_incarnation (void *arg)
{
    return ((s_fake_t *) arg)->incarnation;
}

static const zhive_pool_ops_t s_ops = { s_send_task, s_answer,  s_cancel,
                                        s_kill,      s_welcome, s_incarnation };

//  ---------------------------------------------------------------------
//  Helpers

typedef struct {
    s_fake_t fake;         //  The recorder
    zhive_pool_t *pool;    //  The model under test
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) calloc (1, sizeof (s_fixture_t));
    assert_non_null (fixture);
    fixture->fake.incarnation = 0x2222;
    fixture->pool = zhive_pool_new (&s_ops, &fixture->fake, 0x1111);
    assert_non_null (fixture->pool);
    zhive_pool_set_prefetch (fixture->pool, 0);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zhive_pool_destroy (&fixture->pool);
    zhive_pool_destroy (&fixture->pool);    //  Safe twice
    free (fixture);
    return 0;
}

static zhive_peer_t
s_peer (const char *name)
{
    zhive_peer_t peer;
    zhive_peer_set (&peer, name, strlen (name));
    return peer;
}

static void
s_submit (s_fixture_t *fixture, int64_t now, const char *client, uint64_t id, const char *function,
          const char *args, int64_t timeout_ms, int64_t retries)
{
    zhive_peer_t peer = s_peer (client);
    zmq_msg_t msg;
    zmq_msg_init_size (&msg, strlen (args));
    memcpy (zmq_msg_data (&msg), args, strlen (args));
    zhive_pool_submit (fixture->pool, now, &peer, id, function, &msg, timeout_ms, retries, 0);
    zmq_msg_close (&msg);
}

static void
s_ready (s_fixture_t *fixture, int64_t now, const char *worker, uint64_t pid, uint32_t concurrency,
         uint64_t max_tasks, bool local, const char *function)
{
    zhive_peer_t peer = s_peer (worker);
    const char *functions [] = { function };
    zhive_pool_ready_t ready = { worker, "host", pid, concurrency, max_tasks, functions, 1, local };
    assert_int_equal (zhive_pool_worker_ready (fixture->pool, now, &peer, &ready), 0);
}

static void
s_done (s_fixture_t *fixture, int64_t now, const char *worker, uint64_t ticket, const char *value)
{
    zhive_peer_t peer = s_peer (worker);
    zmq_msg_t msg;
    zmq_msg_init_size (&msg, strlen (value));
    memcpy (zmq_msg_data (&msg), value, strlen (value));
    zhive_pool_worker_done (fixture->pool, now, &peer, ticket, &msg);
    zmq_msg_close (&msg);
}

static void
s_lost (s_fixture_t *fixture, int64_t now, const char *worker)
{
    zhive_peer_t peer = s_peer (worker);
    zhive_pool_worker_lost (fixture->pool, now, &peer, "test");
}

//  The next call the pool made: must be `kind` to `peer`
static s_call_t *
s_take (s_fixture_t *fixture, int kind, const char *peer)
{
    s_fake_t *fake = &fixture->fake;
    if (fake->next >= fake->count)
        fail_msg ("expected call %d, got none", kind);
    s_call_t *call = &fake->calls [fake->next++];
    if (call->kind != kind)
        fail_msg ("expected call %d, got %d", kind, call->kind);
    if (peer)
        assert_string_equal (call->peer, peer);
    return call;
}

//  A TASK with these args; returns its ticket
static uint64_t
s_take_task (s_fixture_t *fixture, const char *worker, const char *args)
{
    s_call_t *call = s_take (fixture, S_TASK, worker);
    assert_string_equal (call->data, args);
    return call->id;
}

static void
s_take_result (s_fixture_t *fixture, const char *client, uint64_t id, const char *value)
{
    s_call_t *call = s_take (fixture, S_ANSWER, client);
    assert_int_equal (call->id, id);
    assert_true (call->is_result);
    assert_string_equal (call->data, value);
}

static s_call_t *
s_take_error (s_fixture_t *fixture, const char *client, uint64_t id, const char *type)
{
    s_call_t *call = s_take (fixture, S_ANSWER, client);
    assert_int_equal (call->id, id);
    assert_false (call->is_result);
    assert_string_equal (call->type, type);
    return call;
}

//  The pool made no call since the last one taken
static void
s_quiet (s_fixture_t *fixture)
{
    if (fixture->fake.next != fixture->fake.count)
        fail_msg ("expected no call, got %d", fixture->fake.calls [fixture->fake.next].kind);
}

//  ---------------------------------------------------------------------
//  Tests

//  READY is answered with WELCOME [incarnation]; tickets carry it
static void
test_welcome_and_tickets (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    s_ready (fixture, 0, "w1", 1, 1, 0, false, "f");
    assert_int_equal (s_take (fixture, S_WELCOME, "w1")->id, 0x1111);
    s_submit (fixture, 0, "c1", 7, "f", "a1", -1, -1);
    uint64_t ticket = s_take_task (fixture, "w1", "a1");
    assert_int_equal (ticket, (uint64_t) 0x1111 << 32 | 1);
    s_done (fixture, 10, "w1", ticket, "v1");
    s_take_result (fixture, "c1", 7, "v1");
    s_quiet (fixture);
}

//  A task goes only on credit, oldest first
static void
test_fifo_on_credit (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    for (int i = 1; i <= 4; i++) {
        char args [8];
        snprintf (args, sizeof args, "a%d", i);
        s_submit (fixture, 0, "c1", (uint64_t) i, "f", args, -1, -1);
    }
    s_quiet (fixture);    //  No worker: nothing goes
    assert_int_equal (zhive_pool_waiting (fixture->pool), 4);
    s_ready (fixture, 0, "w1", 1, 2, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    uint64_t t1 = s_take_task (fixture, "w1", "a1");
    uint64_t t2 = s_take_task (fixture, "w1", "a2");
    s_quiet (fixture);    //  Two slots, two tasks
    s_done (fixture, 10, "w1", t2, "v2");
    s_take_result (fixture, "c1", 2, "v2");
    uint64_t t3 = s_take_task (fixture, "w1", "a3");
    s_quiet (fixture);
    s_done (fixture, 20, "w1", t1, "v1");
    s_take_result (fixture, "c1", 1, "v1");
    s_take_task (fixture, "w1", "a4");
    s_done (fixture, 30, "w1", t3, "v3");
    s_take_result (fixture, "c1", 3, "v3");
    s_quiet (fixture);
    assert_int_equal (zhive_pool_function_stats (fixture->pool, "f")->ok, 3);
}

//  Prefetch: answers within the prefetch time earn a task beyond the
//  slots; slow ones take it back
static void
test_prefetch (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zhive_pool_set_prefetch (fixture->pool, 50 * S_MS);
    for (int i = 1; i <= 6; i++) {
        char args [8];
        snprintf (args, sizeof args, "a%d", i);
        s_submit (fixture, 0, "c1", (uint64_t) i, "f", args, -1, -1);
    }
    s_ready (fixture, 0, "w1", 1, 1, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    uint64_t t1 = s_take_task (fixture, "w1", "a1");
    s_quiet (fixture);                            //  No prefetch at first
    s_done (fixture, 1 * S_MS, "w1", t1, "v");    //  Fast: one more
    s_take_result (fixture, "c1", 1, "v");
    uint64_t t2 = s_take_task (fixture, "w1", "a2");
    uint64_t t3 = s_take_task (fixture, "w1", "a3");
    s_quiet (fixture);                              //  One slot + one prefetched
    s_done (fixture, 200 * S_MS, "w1", t2, "v");    //  Slow: back to none
    s_take_result (fixture, "c1", 2, "v");
    s_quiet (fixture);    //  It still holds t3: its one slot
    s_done (fixture, 201 * S_MS, "w1", t3, "v");
    s_take_result (fixture, "c1", 3, "v");
    s_take_task (fixture, "w1", "a4");
    s_quiet (fixture);
}

//  A lost worker's tasks go back to the head, in order, and go again;
//  past the retries: WorkerLost. Its late answer is dropped.
static void
test_worker_lost (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    s_ready (fixture, 0, "w1", 1, 2, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    s_submit (fixture, 0, "c1", 1, "f", "a1", -1, -1);
    s_submit (fixture, 0, "c1", 2, "f", "a2", -1, -1);
    s_submit (fixture, 0, "c1", 3, "f", "a3", -1, 0);    //  No retries
    s_submit (fixture, 0, "c1", 4, "f", "a4", -1, -1);
    uint64_t old = s_take_task (fixture, "w1", "a1");
    s_take_task (fixture, "w1", "a2");
    s_lost (fixture, 10, "w1");
    s_quiet (fixture);
    s_ready (fixture, 20, "w2", 2, 2, 0, false, "f");
    s_take (fixture, S_WELCOME, "w2");
    uint64_t t1 = s_take_task (fixture, "w2", "a1");
    uint64_t t2 = s_take_task (fixture, "w2", "a2");
    assert_int_not_equal (t1, old);
    s_quiet (fixture);
    //  The late answer of the first dispatch, now from another worker: dropped
    s_done (fixture, 25, "w2", old, "late");
    s_quiet (fixture);
    assert_int_equal (zhive_pool_counters (fixture->pool)->unknown, 1);
    assert_int_equal (zhive_pool_counters (fixture->pool)->foreign, 0);
    s_done (fixture, 30, "w2", t1, "v1");
    s_take_result (fixture, "c1", 1, "v1");
    uint64_t t3 = s_take_task (fixture, "w2", "a3");
    (void) t2;
    (void) t3;
    s_lost (fixture, 40, "w2");    //  a2 back, a3 out of retries
    s_call_t *error = s_take_error (fixture, "c1", 3, ZHIVE_ERR_WORKER_LOST);
    assert_non_null (strstr (error->message, "1 attempt"));
    s_quiet (fixture);
    const zhive_pool_stats_t *stats = zhive_pool_function_stats (fixture->pool, "f");
    assert_int_equal (stats->redispatches, 3);
    assert_int_equal (stats->worker_lost, 1);
    s_ready (fixture, 50, "w3", 3, 4, 0, false, "f");
    s_take (fixture, S_WELCOME, "w3");
    s_take_task (fixture, "w3", "a2");
    s_take_task (fixture, "w3", "a4");
    s_quiet (fixture);
}

//  An answer whose ticket is of another broker's incarnation is dropped
//  and counted apart
static void
test_foreign_ticket (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    s_ready (fixture, 0, "w1", 1, 1, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    s_submit (fixture, 0, "c1", 1, "f", "a1", -1, -1);
    uint64_t ticket = s_take_task (fixture, "w1", "a1");
    uint64_t foreign = (uint64_t) 0x9999 << 32 | (ticket & 0xffffffff);
    s_done (fixture, 10, "w1", foreign, "other broker's");
    s_quiet (fixture);
    assert_int_equal (zhive_pool_counters (fixture->pool)->unknown, 1);
    assert_int_equal (zhive_pool_counters (fixture->pool)->foreign, 1);
    zhive_peer_t w1 = s_peer ("w1");
    zhive_pool_worker_failed (fixture->pool, 11, &w1, ticket + 1000, "E", "own, unknown");
    assert_int_equal (zhive_pool_counters (fixture->pool)->unknown, 2);
    assert_int_equal (zhive_pool_counters (fixture->pool)->foreign, 1);
    s_done (fixture, 12, "w1", ticket, "v");
    s_take_result (fixture, "c1", 1, "v");
}

//  A deadline answers Timeout and cancels at the worker; a local worker
//  still running the task past the grace is killed, a remote one is not
static void
test_deadline_and_kill (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zhive_pool_set_grace (fixture->pool, 2000);
    s_submit (fixture, 0, "c1", 9, "nobody", "x", 50, -1);
    s_ready (fixture, 0, "local", 42, 2, 0, true, "f");
    s_take (fixture, S_WELCOME, "local");
    s_submit (fixture, 0, "c1", 1, "f", "a1", 100, -1);
    s_call_t *task = s_take (fixture, S_TASK, "local");
    assert_int_equal (task->timeout_ms, 100);
    uint64_t ticket = task->id;
    s_submit (fixture, 0, "c1", 2, "f", "a2", -1, -1);
    s_take_task (fixture, "local", "a2");
    zhive_pool_tick (fixture->pool, 49 * S_MS);
    s_quiet (fixture);
    zhive_pool_tick (fixture->pool, 50 * S_MS);
    s_call_t *error = s_take_error (fixture, "c1", 9, ZHIVE_ERR_TIMEOUT);
    assert_non_null (strstr (error->message, "no worker offers 'nobody'"));
    zhive_pool_tick (fixture->pool, 100 * S_MS);
    error = s_take_error (fixture, "c1", 1, ZHIVE_ERR_TIMEOUT);
    assert_non_null (strstr (error->message, "still running on worker 'local'"));
    assert_int_equal (s_take (fixture, S_CANCEL, "local")->id, ticket);
    s_quiet (fixture);
    zhive_pool_tick (fixture->pool, 2099 * S_MS);
    s_quiet (fixture);
    zhive_pool_tick (fixture->pool, 2100 * S_MS);
    assert_int_equal (s_take (fixture, S_KILL, NULL)->id, 42);
    s_quiet (fixture);
    //  Killed: it is gone, and its other task waits for the next worker
    assert_int_equal (zhive_pool_workers (fixture->pool), 0);
    assert_int_equal (zhive_pool_waiting (fixture->pool), 1);
    //  A remote worker past the grace is only logged
    s_ready (fixture, 3000 * S_MS, "remote", 7, 2, 0, false, "f");
    s_take (fixture, S_WELCOME, "remote");
    s_take_task (fixture, "remote", "a2");
    s_submit (fixture, 3000 * S_MS, "c1", 3, "f", "a3", 10, -1);
    s_take_task (fixture, "remote", "a3");
    zhive_pool_tick (fixture->pool, 3010 * S_MS);
    s_take_error (fixture, "c1", 3, ZHIVE_ERR_TIMEOUT);
    s_take (fixture, S_CANCEL, "remote");
    zhive_pool_tick (fixture->pool, 6000 * S_MS);
    s_quiet (fixture);
    assert_int_equal (zhive_pool_workers (fixture->pool), 1);
    assert_int_equal (zhive_pool_function_stats (fixture->pool, "f")->timeout, 2);
}

//  A client that goes drops its waiting tasks and cancels its running ones
static void
test_client_gone (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    s_ready (fixture, 0, "w1", 1, 1, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    s_submit (fixture, 0, "c1", 1, "f", "a1", -1, -1);
    s_submit (fixture, 0, "c1", 2, "f", "a2", -1, -1);
    s_submit (fixture, 0, "c2", 1, "f", "b1", -1, -1);
    uint64_t ticket = s_take_task (fixture, "w1", "a1");
    zhive_peer_t c1 = s_peer ("c1");
    zhive_pool_client_gone (fixture->pool, 10, &c1);
    assert_int_equal (s_take (fixture, S_CANCEL, "w1")->id, ticket);
    s_quiet (fixture);    //  No answers
    assert_int_equal (zhive_pool_waiting (fixture->pool), 1);
    assert_int_equal (zhive_pool_unanswered (fixture->pool), 1);
    //  The cancelled task's answer is dropped; its slot goes to c2's task
    s_done (fixture, 20, "w1", ticket, "late");
    s_take_task (fixture, "w1", "b1");
    s_quiet (fixture);
}

//  A client past its waiting limit gets QueueFull; another is served
static void
test_per_client_limit (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zhive_pool_set_max_per_client (fixture->pool, 2);
    s_submit (fixture, 0, "flood", 1, "f", "x", -1, -1);
    s_submit (fixture, 0, "flood", 2, "f", "x", -1, -1);
    s_quiet (fixture);
    s_submit (fixture, 0, "flood", 3, "f", "x", -1, -1);
    s_call_t *error = s_take_error (fixture, "flood", 3, ZHIVE_ERR_QUEUE_FULL);
    assert_non_null (strstr (error->message, "this client has 2 tasks waiting"));
    s_submit (fixture, 0, "other", 1, "f", "y", -1, -1);
    s_quiet (fixture);    //  Accepted
    assert_int_equal (zhive_pool_waiting (fixture->pool), 3);
    assert_int_equal (zhive_pool_function_stats (fixture->pool, "f")->queue_full, 1);
    //  Running tasks do not count: room again once one is dispatched
    s_ready (fixture, 0, "w1", 1, 1, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    s_take_task (fixture, "w1", "x");
    s_submit (fixture, 0, "flood", 4, "f", "x", -1, -1);
    s_quiet (fixture);
}

//  Waiting argument bytes are bounded
static void
test_byte_limit (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zhive_pool_set_max_bytes (fixture->pool, 10);
    s_submit (fixture, 0, "c1", 1, "f", "123456", -1, -1);
    s_quiet (fixture);
    s_submit (fixture, 0, "c2", 1, "f", "123456", -1, -1);
    s_call_t *error = s_take_error (fixture, "c2", 1, ZHIVE_ERR_QUEUE_FULL);
    assert_non_null (strstr (error->message, "6 bytes of arguments"));
    s_submit (fixture, 0, "c2", 2, "f", "1234", -1, -1);    //  Exactly 10
    s_quiet (fixture);
    s_ready (fixture, 0, "w1", 1, 2, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    s_take_task (fixture, "w1", "123456");
    s_take_task (fixture, "w1", "1234");
    s_submit (fixture, 0, "c2", 3, "f", "123456", -1, -1);    //  Room again
    s_quiet (fixture);
}

//  A drain refuses new tasks and is over when every accepted one is answered
static void
test_drain (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    s_ready (fixture, 0, "w1", 1, 1, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    s_submit (fixture, 0, "c1", 1, "f", "a1", -1, -1);
    s_submit (fixture, 0, "c1", 2, "f", "a2", -1, -1);
    uint64_t t1 = s_take_task (fixture, "w1", "a1");
    assert_int_equal (zhive_pool_drain_state (fixture->pool, 0), 0);
    zhive_pool_drain (fixture->pool, 0, 1000);
    s_submit (fixture, 1, "c1", 3, "f", "a3", -1, -1);
    s_take_error (fixture, "c1", 3, ZHIVE_ERR_SHUTDOWN);
    assert_int_equal (zhive_pool_drain_state (fixture->pool, 2), 0);
    s_done (fixture, 3, "w1", t1, "v1");
    s_take_result (fixture, "c1", 1, "v1");
    uint64_t t2 = s_take_task (fixture, "w1", "a2");    //  Accepted ones still go
    assert_int_equal (zhive_pool_drain_state (fixture->pool, 4), 0);
    s_done (fixture, 5, "w1", t2, "v2");
    s_take_result (fixture, "c1", 2, "v2");
    assert_int_equal (zhive_pool_drain_state (fixture->pool, 6), 1);
    //  Time up with a task left: 2, and the shutdown answers it
    zhive_pool_t *other = zhive_pool_new (&s_ops, &fixture->fake, 5);
    zhive_peer_t c9 = s_peer ("c9");
    zmq_msg_t args;
    zmq_msg_init (&args);
    zhive_pool_submit (other, 0, &c9, 1, "g", &args, -1, -1, 0);
    zhive_pool_drain (other, 0, 100);
    assert_int_equal (zhive_pool_drain_state (other, 99 * S_MS), 0);
    assert_int_equal (zhive_pool_drain_state (other, 100 * S_MS), 2);
    zhive_pool_shutdown (other, "stopping");
    s_take_error (fixture, "c9", 1, ZHIVE_ERR_SHUTDOWN);
    assert_int_equal (zhive_pool_unanswered (other), 0);
    zhive_pool_destroy (&other);
}

//  READY's max_tasks caps the tasks sent, whatever the slots
static void
test_max_tasks (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    for (int i = 1; i <= 3; i++)
        s_submit (fixture, 0, "c1", (uint64_t) i, "f", "a", -1, -1);
    s_ready (fixture, 0, "w1", 1, 10, 2, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    uint64_t t1 = s_take_task (fixture, "w1", "a");
    s_take_task (fixture, "w1", "a");
    s_quiet (fixture);
    s_done (fixture, 1, "w1", t1, "v");
    s_take_result (fixture, "c1", 1, "v");
    s_quiet (fixture);    //  The answer gives credit back, not task allowance
}

//  An answer the client cannot take is kept and goes out on its resend
static void
test_undelivered_kept (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    s_ready (fixture, 0, "w1", 1, 1, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    s_submit (fixture, 0, "c1", 1, "f", "a1", -1, -1);
    uint64_t ticket = s_take_task (fixture, "w1", "a1");
    fixture->fake.undelivered = true;
    s_done (fixture, 10, "w1", ticket, "kept value");
    s_take_result (fixture, "c1", 1, "kept value");    //  Tried, not delivered
    assert_int_equal (zhive_pool_counters (fixture->pool)->kept, 1);
    assert_int_equal (zhive_pool_unanswered (fixture->pool), 0);
    fixture->fake.undelivered = false;
    s_submit (fixture, 20, "c1", 1, "f", "a1", -1, -1);    //  The resend
    s_take_result (fixture, "c1", 1, "kept value");
    s_quiet (fixture);                                     //  Not run again
    s_submit (fixture, 30, "c1", 1, "f", "a1", -1, -1);    //  Now a new task
    s_take_task (fixture, "w1", "a1");
    //  A kept answer expires
    s_submit (fixture, 40, "c1", 2, "f", "a2", 5, -1);
    fixture->fake.undelivered = true;
    zhive_pool_tick (fixture->pool, 5 * S_MS + 40);
    s_take_error (fixture, "c1", 2, ZHIVE_ERR_TIMEOUT);
    fixture->fake.undelivered = false;
    zhive_pool_tick (fixture->pool, (int64_t) ZHIVE_KEPT_MS * S_MS + 6 * S_MS);
    s_submit (fixture, (int64_t) ZHIVE_KEPT_MS * S_MS + 7 * S_MS, "c1", 2, "f", "a2", -1, -1);
    s_quiet (fixture);    //  Queued as new: the worker is busy
    assert_int_equal (zhive_pool_waiting (fixture->pool), 1);
}

//  A worker's full pipe puts the task back at the head (no retry); a
//  gone worker is lost
static void
test_send_full_and_gone (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    s_submit (fixture, 0, "c1", 1, "f", "a1", -1, 0);
    s_submit (fixture, 0, "c1", 2, "f", "a2", -1, 0);
    fixture->fake.send_rc = ZHIVE_POOL_FULL;
    s_ready (fixture, 0, "w1", 1, 2, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    s_quiet (fixture);
    assert_int_equal (zhive_pool_waiting (fixture->pool), 2);
    fixture->fake.send_rc = ZHIVE_POOL_SENT;
    zhive_pool_tick (fixture->pool, 50 * S_MS);
    s_take_task (fixture, "w1", "a1");    //  Still first, and not out of retries
    s_take_task (fixture, "w1", "a2");
    assert_int_equal (zhive_pool_function_stats (fixture->pool, "f")->redispatches, 0);
    s_lost (fixture, 60 * S_MS, "w1");    //  Retries 0: both fail, newest first
    s_take_error (fixture, "c1", 2, ZHIVE_ERR_WORKER_LOST);
    s_take_error (fixture, "c1", 1, ZHIVE_ERR_WORKER_LOST);
    s_submit (fixture, 70 * S_MS, "c1", 3, "f", "a3", -1, -1);
    fixture->fake.send_rc = ZHIVE_POOL_GONE;
    s_ready (fixture, 70 * S_MS, "w2", 2, 1, 0, false, "f");
    s_take (fixture, S_WELCOME, "w2");
    assert_int_equal (zhive_pool_workers (fixture->pool), 0);
    assert_int_equal (zhive_pool_waiting (fixture->pool), 1);
    s_quiet (fixture);
}

//  When the sequence wraps: a new incarnation, WELCOME to every worker,
//  tasks of the old one back at the head (CANCEL at their worker)
static void
test_sequence_wrap (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zhive_pool_set_sequence (fixture->pool, 0xffffffff);
    s_ready (fixture, 0, "w1", 1, 2, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    s_submit (fixture, 0, "c1", 1, "f", "a1", -1, -1);
    uint64_t last = s_take_task (fixture, "w1", "a1");
    assert_int_equal (last, (uint64_t) 0x1111 << 32 | 0xffffffff);
    s_submit (fixture, 1, "c1", 2, "f", "a2", -1, -1);
    assert_int_equal (s_take (fixture, S_CANCEL, "w1")->id, last);
    assert_int_equal (s_take (fixture, S_WELCOME, "w1")->id, 0x2222);
    assert_int_equal (zhive_pool_incarnation (fixture->pool), 0x2222);
    //  a2 was taken off first, so it goes first; a1 follows at once
    assert_int_equal (s_take_task (fixture, "w1", "a2"), (uint64_t) 0x2222 << 32 | 1);
    assert_int_equal (s_take_task (fixture, "w1", "a1"), (uint64_t) 0x2222 << 32 | 2);
    s_done (fixture, 2, "w1", last, "late");    //  Old ticket: dropped, foreign now
    s_quiet (fixture);
    assert_int_equal (zhive_pool_counters (fixture->pool)->foreign, 1);
}

//  STATUS packs workers and queues
static void
test_status (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    s_ready (fixture, 0, "w1", 1, 1, 0, false, "f");
    s_submit (fixture, 0, "c1", 1, "f", "a1", -1, -1);
    s_submit (fixture, 0, "c1", 2, "f", "a2", -1, -1);
    zhive_pack_t *pack = zhive_pack_new ();
    zhive_pool_status (fixture->pool, pack);
    zhive_result_t *result =
        zhive_result_new_value (zhive_pack_data (pack), zhive_pack_size (pack));
    assert_non_null (result);
    const msgpack_object *queues = zhive_value_get (zhive_result_value (result), "queues");
    assert_int_equal (zhive_value_len (queues), 1);
    int64_t waiting = -1, in_flight = -1;
    zhive_value_int (zhive_value_get (zhive_value_at (queues, 0), "waiting"), &waiting);
    zhive_value_int (zhive_value_get (zhive_value_at (queues, 0), "in_flight"), &in_flight);
    assert_int_equal (waiting, 1);
    assert_int_equal (in_flight, 1);
    zhive_result_destroy (&result);
    zhive_pack_destroy (&pack);
}

//  A task whose function no worker offers waits at most the unoffered
//  bound (default ZHIVE_POOL_UNOFFERED_MS), then gets UnknownFunction;
//  0 turns it off
static void
test_unknown_function_default (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    s_submit (fixture, 0, "c1", 1, "fibb", "a1", -1, -1);
    zhive_pool_tick (fixture->pool, ZHIVE_POOL_UNOFFERED_MS * S_MS - 1);
    s_quiet (fixture);
    zhive_pool_tick (fixture->pool, ZHIVE_POOL_UNOFFERED_MS * S_MS);
    s_call_t *error = s_take_error (fixture, "c1", 1, ZHIVE_ERR_UNKNOWN_FN);
    assert_non_null (strstr (error->message, "no worker offers 'fibb'"));
    s_quiet (fixture);
    assert_int_equal (zhive_pool_waiting (fixture->pool), 0);
    assert_int_equal (zhive_pool_unanswered (fixture->pool), 0);
    assert_int_equal (zhive_pool_function_stats (fixture->pool, "fibb")->unoffered, 1);
    assert_int_equal (zhive_pool_counters (fixture->pool)->tasks.unoffered, 1);
    //  Off: it waits (until its deadline, if it has one)
    zhive_pool_set_unoffered (fixture->pool, 0);
    s_submit (fixture, 40000 * S_MS, "c1", 2, "fibb", "a2", -1, -1);
    zhive_pool_tick (fixture->pool, 3600000LL * S_MS);
    s_quiet (fixture);
    assert_int_equal (zhive_pool_waiting (fixture->pool), 1);
}

//  The bound counts from when the task came, or from when the last worker
//  offering the function went, whichever is later; a worker that offers
//  it in time saves the task
static void
test_unknown_function_bound (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zhive_pool_set_unoffered (fixture->pool, 1000);
    s_submit (fixture, 0, "c1", 1, "fibb", "a1", -1, -1);
    s_submit (fixture, 600 * S_MS, "c1", 2, "fibb", "a2", -1, -1);
    zhive_pool_tick (fixture->pool, 999 * S_MS);
    s_quiet (fixture);
    zhive_pool_tick (fixture->pool, 1000 * S_MS);
    s_take_error (fixture, "c1", 1, ZHIVE_ERR_UNKNOWN_FN);
    s_quiet (fixture);    //  The second has waited 400 ms only
    zhive_pool_tick (fixture->pool, 1599 * S_MS);
    s_quiet (fixture);
    zhive_pool_tick (fixture->pool, 1600 * S_MS);
    s_take_error (fixture, "c1", 2, ZHIVE_ERR_UNKNOWN_FN);

    //  A worker offers "f" and holds a3; a4 waits; the worker goes at 3500
    s_ready (fixture, 0, "w1", 1, 1, 0, false, "f");
    s_take (fixture, S_WELCOME, "w1");
    s_submit (fixture, 2000 * S_MS, "c1", 3, "f", "a3", -1, -1);
    s_take_task (fixture, "w1", "a3");
    s_submit (fixture, 2000 * S_MS, "c1", 4, "f", "a4", -1, -1);
    zhive_pool_tick (fixture->pool, 3500 * S_MS);    //  Offered: nothing times out
    s_quiet (fixture);
    s_lost (fixture, 3500 * S_MS, "w1");
    zhive_pool_tick (fixture->pool, 4499 * S_MS);
    s_quiet (fixture);
    zhive_pool_tick (fixture->pool, 4500 * S_MS);
    s_take_error (fixture, "c1", 3, ZHIVE_ERR_UNKNOWN_FN);
    s_take_error (fixture, "c1", 4, ZHIVE_ERR_UNKNOWN_FN);
    s_quiet (fixture);

    //  A worker that comes (even for a moment) within the bound saves the task
    s_submit (fixture, 5000 * S_MS, "c1", 5, "g", "a5", -1, -1);
    s_ready (fixture, 5500 * S_MS, "w2", 2, 1, 0, false, "g");
    s_take (fixture, S_WELCOME, "w2");
    s_take_task (fixture, "w2", "a5");
    s_submit (fixture, 5500 * S_MS, "c1", 6, "g", "a6", -1, -1);
    s_lost (fixture, 5600 * S_MS, "w2");
    zhive_pool_tick (fixture->pool, 6000 * S_MS);
    s_quiet (fixture);
    zhive_pool_tick (fixture->pool, 7000 * S_MS);
    s_take_error (fixture, "c1", 5, ZHIVE_ERR_UNKNOWN_FN);
    s_take_error (fixture, "c1", 6, ZHIVE_ERR_UNKNOWN_FN);
    assert_int_equal (zhive_pool_function_stats (fixture->pool, "g")->unoffered, 2);
}

//  Identity is the connection: a READY from another peer that copies a
//  worker's name, host and pid neither removes nor replaces that worker,
//  and its loss takes nothing of the real one's
static void
test_impostor_ready (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    s_ready (fixture, 0, "real", 42, 1, 0, false, "f");
    s_take (fixture, S_WELCOME, "real");
    s_submit (fixture, 0, "c1", 1, "f", "a1", -1, -1);
    uint64_t ticket = s_take_task (fixture, "real", "a1");
    //  The impostor: another connection, the same self-reported labels
    zhive_peer_t impostor = s_peer ("impostor");
    const char *functions [] = { "f" };
    zhive_pool_ready_t ready = { "real", "host", 42, 1, 0, functions, 1, false };
    assert_int_equal (zhive_pool_worker_ready (fixture->pool, 10, &impostor, &ready), 0);
    s_take (fixture, S_WELCOME, "impostor");
    s_quiet (fixture);
    assert_int_equal (zhive_pool_workers (fixture->pool), 2);
    zhive_pool_worker_lost (fixture->pool, 20, &impostor, "its connection closed");
    s_quiet (fixture);
    assert_int_equal (zhive_pool_workers (fixture->pool), 1);
    //  The real worker's answer counts, and it gets the next task
    s_done (fixture, 30, "real", ticket, "v1");
    s_take_result (fixture, "c1", 1, "v1");
    s_submit (fixture, 40, "c1", 2, "f", "a2", -1, -1);
    s_take_task (fixture, "real", "a2");
    s_quiet (fixture);
    assert_int_equal (zhive_pool_counters (fixture->pool)->unknown, 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_welcome_and_tickets, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fifo_on_credit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_prefetch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_worker_lost, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_foreign_ticket, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_deadline_and_kill, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_gone, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_per_client_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_byte_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_drain, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_max_tasks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_undelivered_kept, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_send_full_and_gone, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sequence_wrap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_status, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unknown_function_default, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unknown_function_bound, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_impostor_ready, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
