/*  test_job - the worker's job class alone: no worker, no socket

    Jobs are made with a completion callback that counts its calls, given
    tasks as a broker's TASK would (handler, ticket, args frame), and their
    answers are read back from the zhive_proto_t they fill in. Chunks are
    built and read with the shared chunk format (common/zhive_chunk). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "zhive_job.h"
#include "zhive_chunk.h"
#include "zhive_private.h"

//  ---------------------------------------------------------------------
//  The completion callback and the frames

typedef struct {
    int calls;            //  Times the callback ran
    zhive_job_t *last;    //  The job it got
} s_done_t;

static void
s_on_done (zhive_job_t *job, void *arg)
{
    s_done_t *done = (s_done_t *) arg;
    done->calls++;
    done->last = job;
}

//  Gives job a task with these args bytes
static void
s_task (zhive_job_t *job, zhive_handler_t *handler, uint64_t ticket, const void *args, size_t size,
        uint32_t chunk)
{
    zmq_msg_t frame;
    assert_int_equal (zmq_msg_init_size (&frame, size), 0);
    memcpy (zmq_msg_data (&frame), args, size);
    zhive_job_set_task (job, handler, ticket, &frame, chunk, -1);
    assert_int_equal (zmq_msg_size (&frame), 0);    //  Taken
    zmq_msg_close (&frame);
}

static void
s_task_pack (zhive_job_t *job, zhive_handler_t *handler, uint64_t ticket, zhive_pack_t *args,
             uint32_t chunk)
{
    s_task (job, handler, ticket, zhive_pack_data (args), zhive_pack_size (args), chunk);
}

//  Fills out with the job's answer and checks it is FAILED type, with a
//  message holding part
static void
s_expect_failed (zhive_job_t *job, zhive_proto_t *out, const char *type, const char *part)
{
    assert_int_equal (zhive_job_answer (job, out), ZHIVE_FAILED);
    assert_int_equal (out->command, ZHIVE_FAILED);
    assert_int_equal (out->id, job->ticket);
    assert_string_equal (out->type, type);
    if (!strstr (out->message, part))
        fail_msg ("message '%s' does not contain '%s'", out->message, part);
}

//  Fills out with the job's answer and checks it is DONE with these bytes
static void
s_expect_done (zhive_job_t *job, zhive_proto_t *out, const void *value, size_t size)
{
    assert_int_equal (zhive_job_answer (job, out), ZHIVE_DONE);
    assert_int_equal (out->command, ZHIVE_DONE);
    assert_int_equal (out->id, job->ticket);
    assert_true (out->has_payload);
    assert_int_equal (zmq_msg_size (&out->payload), size);
    assert_memory_equal (zmq_msg_data (&out->payload), value, size);
    zhive_proto_clear_payload (out);
}

//  ---------------------------------------------------------------------
//  Handlers

//  add (ints...) -> their sum
static int
s_add (zhive_job_t *job, void *state)
{
    (void) state;
    int64_t sum = 0;
    for (size_t i = 0; i < zhive_job_argc (job); i++) {
        int64_t value;
        if (zhive_value_int (zhive_job_arg (job, i), &value))
            return zhive_job_fail (job, ZHIVE_ERR_BAD_ARGS, "argument %zu is no integer", i);
        sum += value;
    }
    return zhive_pack_int (zhive_job_reply (job), sum);
}

//  two () -> packs two values: not a valid reply
static int
s_two (zhive_job_t *job, void *state)
{
    (void) state;
    zhive_pack_int (zhive_job_reply (job), 1);
    zhive_pack_int (zhive_job_reply (job), 2);
    return 0;
}

//  silent () -> fails without a message
static int
s_silent (zhive_job_t *job, void *state)
{
    (void) job;
    (void) state;
    return -1;
}

//  big () -> a string of 10000 bytes (a reply that moves without a copy)
static int
s_big (zhive_job_t *job, void *state)
{
    (void) state;
    char text [10001];
    memset (text, 'b', 10000);
    text [10000] = 0;
    return zhive_pack_str (zhive_job_reply (job), text);
}

//  pending (): async; records the state's counter as cancelled if asked
static void
s_pending_cancel (zhive_job_t *job, void *state)
{
    (*(int *) state)++;
    zhive_job_complete (job);    //  Wrong, and ignored: the job is Cancelled
}

static int
s_pending (zhive_job_t *job, void *state)
{
    zhive_job_on_cancel (job, s_pending_cancel, state);
    return 0;
}

//  at_once (): async, completes inside the call
static int
s_at_once (zhive_job_t *job, void *state)
{
    (void) state;
    zhive_pack_str (zhive_job_reply (job), "now");
    assert_int_equal (zhive_job_complete (job), 0);
    return 0;
}

static zhive_handler_t s_add_handler = { "add", s_add, NULL, ZHIVE_SYNC };
static zhive_handler_t s_two_handler = { "two", s_two, NULL, ZHIVE_SYNC };
static zhive_handler_t s_silent_handler = { "silent", s_silent, NULL, ZHIVE_SYNC };
static zhive_handler_t s_big_handler = { "big", s_big, NULL, ZHIVE_SYNC };
static zhive_handler_t s_at_once_handler = { "at_once", s_at_once, NULL, ZHIVE_ASYNC };

//  ---------------------------------------------------------------------
//  Tests

//  A job's args and accessors; the ticket gives the incarnation; a new
//  task on the same job forgets the last one
static void
test_args (void **state)
{
    (void) state;
    s_done_t done = { 0, NULL };
    zloop_t *loop = zloop_new ();
    zhive_job_t *job = zhive_job_new (NULL, loop, s_on_done, &done);
    assert_non_null (job);
    assert_null (zhive_job_worker (job));
    assert_ptr_equal (zhive_job_loop (job), loop);
    s_task (job, &s_add_handler, ((uint64_t) 5 << 32) | 9, "\x93\x01\xa3two\xc0", 7, 0);
    assert_int_equal (job->ticket, ((uint64_t) 5 << 32) | 9);
    assert_int_equal (job->incarnation, 5);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_string_equal (zhive_job_function (job), "add");
    assert_int_equal (zhive_job_argc (job), 3);
    assert_int_equal (zhive_job_args (job)->type, MSGPACK_OBJECT_ARRAY);
    int64_t value = 0;
    assert_int_equal (zhive_value_int (zhive_job_arg (job, 0), &value), 0);
    assert_int_equal (value, 1);
    const char *text;
    size_t size;
    assert_int_equal (zhive_value_str (zhive_job_arg (job, 1), &text, &size), 0);
    assert_int_equal (size, 3);
    assert_memory_equal (text, "two", 3);
    assert_true (zhive_value_is_nil (zhive_job_arg (job, 2)));
    assert_null (zhive_job_arg (job, 3));
    int data = 0;
    zhive_job_set_data (job, &data);
    assert_ptr_equal (zhive_job_data (job), &data);

    //  Reused: a new task, new args, nothing left of the last one
    s_task (job, &s_add_handler, 10, "\x91\x05", 2, 0);
    assert_int_equal (job->incarnation, 0);
    assert_null (zhive_job_data (job));
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_int_equal (zhive_job_argc (job), 1);
    assert_int_equal (done.calls, 0);
    zhive_job_destroy (&job);
    assert_null (job);
    zhive_job_destroy (&job);    //  Safe twice
    zloop_destroy (&loop);
}

//  Args that are not one msgpack array: Malformed
static void
test_malformed_args (void **state)
{
    (void) state;
    s_done_t done = { 0, NULL };
    zhive_proto_t *out = zhive_proto_new ();
    zhive_job_t *job = zhive_job_new (NULL, NULL, s_on_done, &done);
    const char *bad [] = { "\x05", "\xc1", "\x91\x01\x02", "\x92\x01" };
    const size_t sizes [] = { 1, 1, 3, 2 };
    for (size_t i = 0; i < 4; i++) {
        s_task (job, &s_add_handler, i, bad [i], sizes [i], 0);
        assert_int_equal (zhive_job_unpack (job), -1);
        assert_true (job->failed);
        s_expect_failed (job, out, ZHIVE_ERR_MALFORMED, "'add'");
    }
    assert_int_equal (done.calls, 0);
    zhive_job_destroy (&job);
    zhive_proto_destroy (&out);
}

//  Arguments that would unpack past ZHIVE_UNPACK_MAX are refused TooLarge
//  before msgpack-c allocates them (a 12 MB array of nils would take
//  about 290 MB), in a task and in one item of a chunk; the other items run
static void
test_args_too_large (void **state)
{
    (void) state;
    s_done_t done = { 0, NULL };
    zhive_proto_t *out = zhive_proto_new ();
    zhive_job_t *job = zhive_job_new (NULL, NULL, s_on_done, &done);
    size_t count = (size_t) ZHIVE_UNPACK_MAX / sizeof (msgpack_object) + 1000;
    size_t size = 5 + count;
    uint8_t *nils = (uint8_t *) malloc (size);
    assert_non_null (nils);
    nils [0] = 0xdd;
    for (int i = 0; i < 4; i++)
        nils [1 + i] = (uint8_t) (count >> (24 - 8 * i));
    memset (nils + 5, 0xc0, count);
    s_task (job, &s_add_handler, 1, nils, size, 0);
    assert_int_equal (zhive_job_unpack (job), -1);
    s_expect_failed (job, out, ZHIVE_ERR_TOO_LARGE, "ZHIVE_UNPACK_MAX");

    //  A chunk of [1, 2], the huge array, [3, 4]
    zhive_pack_t *items = zhive_pack_new ();
    zhive_pack_array (items, 3);
    zhive_pack_array (items, 2);
    zhive_pack_int (items, 1);
    zhive_pack_int (items, 2);
    zhive_pack_raw (items, nils, size);
    zhive_pack_array (items, 2);
    zhive_pack_int (items, 3);
    zhive_pack_int (items, 4);
    s_task_pack (job, &s_add_handler, 2, items, 3);
    zhive_pack_t *answer = zhive_pack_new ();
    assert_int_equal (zhive_job_run_chunk (job, answer, "w"), 0);
    zhive_reader_t reader;
    assert_int_equal (
        zhive_chunk_answer_open (&reader, zhive_pack_data (answer), zhive_pack_size (answer), 3),
        0);
    const char *types [] = { NULL, ZHIVE_ERR_TOO_LARGE, NULL };
    for (int i = 0; i < 3; i++) {
        zhive_result_t *result = zhive_chunk_answer_next (&reader);
        assert_non_null (result);
        if (types [i])
            assert_string_equal (zhive_result_error_type (result), types [i]);
        else
            assert_true (zhive_result_ok (result));
        zhive_result_destroy (&result);
    }
    zhive_pack_destroy (&answer);
    zhive_pack_destroy (&items);
    free (nils);
    zhive_job_destroy (&job);
    zhive_proto_destroy (&out);
}

//  A sync handler's reply, none, a large one, one that is not one value,
//  and failures with and without a message
static void
test_reply_and_fail (void **state)
{
    (void) state;
    s_done_t done = { 0, NULL };
    zhive_proto_t *out = zhive_proto_new ();
    zhive_job_t *job = zhive_job_new (NULL, NULL, s_on_done, &done);

    s_task (job, &s_add_handler, 1, "\x93\x01\x02\x03", 4, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_true (zhive_job_call (job));    //  Sync: answered when it returns
    s_expect_done (job, out, "\x06", 1);

    s_task (job, &s_add_handler, 2, "\x92\x01\xc0", 3, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_true (zhive_job_call (job));
    s_expect_failed (job, out, ZHIVE_ERR_BAD_ARGS, "argument 1 is no integer");

    s_task (job, &s_add_handler, 3, "\x90", 1, 0);    //  Sum of nothing
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_true (zhive_job_call (job));
    s_expect_done (job, out, "\x00", 1);

    s_task (job, &s_silent_handler, 4, "\x90", 1, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_true (zhive_job_call (job));
    s_expect_failed (job, out, ZHIVE_ERR_HANDLER, "handler 'silent' failed without a message");

    s_task (job, &s_two_handler, 5, "\x90", 1, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_true (zhive_job_call (job));
    assert_int_equal (zhive_job_reply_size (job), -1);
    s_expect_failed (job, out, ZHIVE_ERR_HANDLER, "not exactly one msgpack value");

    s_task (job, &s_big_handler, 6, "\x90", 1, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_true (zhive_job_call (job));
    assert_int_equal (zhive_job_answer (job, out), ZHIVE_DONE);
    assert_int_equal (zmq_msg_size (&out->payload), 10003);    //  str 16 header + bytes
    assert_int_equal (((uint8_t *) zmq_msg_data (&out->payload)) [0], 0xda);
    zhive_proto_clear_payload (out);

    //  Nothing packed: nil
    zhive_handler_t nothing = { "nothing", s_pending, NULL, ZHIVE_SYNC };
    int cancels = 0;
    nothing.state = &cancels;
    s_task (job, &nothing, 7, "\x90", 1, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_true (zhive_job_call (job));
    s_expect_done (job, out, "\xc0", 1);
    assert_int_equal (done.calls, 0);    //  Sync jobs never call back
    zhive_job_destroy (&job);
    zhive_proto_destroy (&out);
}

//  Async: pending after the call, then complete or fail through the
//  callback; inside the call, no callback; cancel runs the cancel
//  function and the job is Cancelled, a completion inside it ignored
static void
test_async_callback (void **state)
{
    (void) state;
    s_done_t done = { 0, NULL };
    int cancels = 0;
    zhive_handler_t pending = { "pending", s_pending, &cancels, ZHIVE_ASYNC };
    zhive_proto_t *out = zhive_proto_new ();
    zhive_job_t *job = zhive_job_new (NULL, NULL, s_on_done, &done);

    s_task (job, &pending, 1, "\x90", 1, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_false (zhive_job_call (job));    //  Pending
    assert_int_equal (done.calls, 0);
    zhive_pack_str (zhive_job_reply (job), "late");
    assert_int_equal (zhive_job_complete (job), 0);
    assert_int_equal (done.calls, 1);
    assert_ptr_equal (done.last, job);
    s_expect_done (job, out, "\xa4late", 5);

    s_task (job, &pending, 2, "\x90", 1, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_false (zhive_job_call (job));
    assert_int_equal (zhive_job_fail (job, "LateError", "failed with %d", 7), -1);
    assert_int_equal (done.calls, 2);
    s_expect_failed (job, out, "LateError", "failed with 7");

    //  A reply that is not one value: complete says so, the answer fails
    s_task (job, &pending, 3, "\x90", 1, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_false (zhive_job_call (job));
    zhive_pack_array (zhive_job_reply (job), 2);
    assert_int_equal (zhive_job_complete (job), -1);
    assert_int_equal (done.calls, 3);
    s_expect_failed (job, out, ZHIVE_ERR_HANDLER, "not exactly one msgpack value");

    s_task (job, &s_at_once_handler, 4, "\x90", 1, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_true (zhive_job_call (job));    //  Completed inside: answer now
    assert_int_equal (done.calls, 3);
    s_expect_done (job, out, "\xa3now", 4);

    s_task (job, &pending, 5, "\x90", 1, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_false (zhive_job_call (job));
    assert_true (zhive_job_cancel (job, "w1"));
    assert_int_equal (cancels, 1);
    assert_int_equal (done.calls, 3);    //  The completion inside cancel is ignored
    s_expect_failed (job, out, ZHIVE_ERR_CANCELLED, "cancelled while running in worker 'w1'");

    //  No cancel function: cancel does nothing
    s_task (job, &s_at_once_handler, 6, "\x90", 1, 0);
    assert_false (zhive_job_cancel (job, "w1"));
    assert_false (job->failed);
    zhive_job_destroy (&job);
    zhive_proto_destroy (&out);
}

//  Reads the next item of a chunk answer
static zhive_result_t *
s_next_item (zhive_reader_t *reader)
{
    zhive_result_t *result = zhive_chunk_answer_next (reader);
    assert_non_null (result);
    return result;
}

//  A chunk: each item's answer in order, a malformed item, a handler that
//  packs two values, a request that is not one, an async handler
static void
test_chunk (void **state)
{
    (void) state;
    s_done_t done = { 0, NULL };
    zhive_job_t *job = zhive_job_new (NULL, NULL, s_on_done, &done);
    zhive_pack_t *answer = zhive_pack_new ();
    zhive_pack_t *request = zhive_pack_new ();
    //  [[1, 2], "x", [], [3, nil], [40]]
    zhive_pack_array (request, 5);
    zhive_pack_array (request, 2);
    zhive_pack_int (request, 1);
    zhive_pack_int (request, 2);
    zhive_pack_str (request, "x");
    zhive_pack_array (request, 0);
    zhive_pack_array (request, 2);
    zhive_pack_int (request, 3);
    zhive_pack_nil (request);
    zhive_pack_array (request, 1);
    zhive_pack_int (request, 40);
    s_task_pack (job, &s_add_handler, 1, request, 5);
    assert_int_equal (zhive_job_run_chunk (job, answer, "w1"), 0);
    assert_false (job->failed);

    zhive_reader_t reader;
    assert_int_equal (
        zhive_chunk_answer_open (&reader, zhive_pack_data (answer), zhive_pack_size (answer), 5),
        0);
    int64_t value = 0;
    zhive_result_t *item = s_next_item (&reader);
    assert_true (zhive_result_ok (item));
    assert_int_equal (zhive_value_int (zhive_result_value (item), &value), 0);
    assert_int_equal (value, 3);
    zhive_result_destroy (&item);
    item = s_next_item (&reader);
    assert_false (zhive_result_ok (item));
    assert_string_equal (zhive_result_error_type (item), ZHIVE_ERR_MALFORMED);
    assert_non_null (strstr (zhive_result_error_message (item), "item 1 of a chunk of 'add'"));
    assert_string_equal (zhive_result_error_worker (item), "w1");
    zhive_result_destroy (&item);
    item = s_next_item (&reader);
    assert_true (zhive_result_ok (item));
    assert_int_equal (zhive_value_int (zhive_result_value (item), &value), 0);
    assert_int_equal (value, 0);
    zhive_result_destroy (&item);
    item = s_next_item (&reader);
    assert_false (zhive_result_ok (item));
    assert_string_equal (zhive_result_error_type (item), ZHIVE_ERR_BAD_ARGS);
    assert_non_null (strstr (zhive_result_error_message (item), "argument 1 is no integer"));
    zhive_result_destroy (&item);
    item = s_next_item (&reader);
    assert_true (zhive_result_ok (item));
    assert_int_equal (zhive_value_int (zhive_result_value (item), &value), 0);
    assert_int_equal (value, 40);
    zhive_result_destroy (&item);
    assert_int_equal (zhive_reader_left (&reader), 0);

    //  A handler that packs two values: each item fails, the chunk runs
    zhive_pack_reset (request);
    zhive_pack_array (request, 2);
    zhive_pack_array (request, 0);
    zhive_pack_array (request, 0);
    s_task_pack (job, &s_two_handler, 2, request, 2);
    assert_int_equal (zhive_job_run_chunk (job, answer, "w1"), 0);
    assert_int_equal (
        zhive_chunk_answer_open (&reader, zhive_pack_data (answer), zhive_pack_size (answer), 2),
        0);
    for (int i = 0; i < 2; i++) {
        item = s_next_item (&reader);
        assert_false (zhive_result_ok (item));
        assert_string_equal (zhive_result_error_type (item), ZHIVE_ERR_HANDLER);
        assert_non_null (strstr (zhive_result_error_message (item), "not exactly one msgpack"));
        zhive_result_destroy (&item);
    }
    assert_int_equal (done.calls, 0);

    //  Not a request of that many items: the whole chunk is Malformed
    zhive_proto_t *out = zhive_proto_new ();
    s_task_pack (job, &s_add_handler, 3, request, 3);
    assert_int_equal (zhive_job_run_chunk (job, answer, "w1"), -1);
    s_expect_failed (job, out, ZHIVE_ERR_MALFORMED, "not an array of 3 argument arrays");
    s_task (job, &s_add_handler, 4, "\x92\x90", 2, 2);    //  Cut short
    assert_int_equal (zhive_job_run_chunk (job, answer, "w1"), -1);
    s_expect_failed (job, out, ZHIVE_ERR_MALFORMED, "a chunk of 'add'");
    //  An async handler cannot run a chunk
    s_task_pack (job, &s_at_once_handler, 5, request, 2);
    assert_int_equal (zhive_job_run_chunk (job, answer, "w1"), -1);
    s_expect_failed (job, out, ZHIVE_ERR_BAD_ARGS, "async handler");
    zhive_proto_destroy (&out);
    zhive_pack_destroy (&request);
    zhive_pack_destroy (&answer);
    zhive_job_destroy (&job);
}

//  huge () -> a bin over the message limit
static int
s_huge (zhive_job_t *job, void *state)
{
    (void) state;
    size_t size = (size_t) ZHIVE_PAYLOAD_MAX + 1;
    char *zeros = (char *) calloc (1, size);    //  Untouched pages: no memory yet
    int rc = zeros ? zhive_pack_bytes (zhive_job_reply (job), zeros, size) : -1;
    free (zeros);
    return rc;
}

//  A reply over the message limit is not sent: FAILED TooLarge, naming it
static void
test_reply_over_the_limit (void **state)
{
    (void) state;
    s_done_t done = { 0, NULL };
    zhive_proto_t *out = zhive_proto_new ();
    zhive_job_t *job = zhive_job_new (NULL, NULL, s_on_done, &done);
    zhive_handler_t huge = { "huge", s_huge, NULL, ZHIVE_SYNC };
    s_task (job, &huge, 1, "\x90", 1, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_true (zhive_job_call (job));
    s_expect_failed (job, out, ZHIVE_ERR_TOO_LARGE, "over the message limit of 267911168 bytes");
    assert_false (out->has_payload);
    //  The job goes on with the next task
    s_task (job, &s_add_handler, 2, "\x92\x01\x02", 3, 0);
    assert_int_equal (zhive_job_unpack (job), 0);
    assert_true (zhive_job_call (job));
    s_expect_done (job, out, "\x03", 1);
    zhive_job_destroy (&job);
    zhive_proto_destroy (&out);
}

//  Packs a bin of a third of the message limit: three make a chunk answer
//  past it, though each item's reply is within it
static int
s_third (zhive_job_t *job, void *state)
{
    (void) state;
    size_t size = (size_t) ZHIVE_PAYLOAD_MAX / 3 + 1;
    char *bytes = (char *) calloc (1, size);
    assert_non_null (bytes);
    int rc = zhive_pack_bytes (zhive_job_reply (job), bytes, size);
    free (bytes);
    return rc;
}

//  A chunk whose answers together pass the message limit fails TooLarge as
//  a whole, instead of a message libzmq would drop with its connection
static void
test_chunk_answer_over_the_limit (void **state)
{
    (void) state;
    s_done_t done = { 0, NULL };
    zhive_job_t *job = zhive_job_new (NULL, NULL, s_on_done, &done);
    zhive_handler_t third = { "third", s_third, NULL, ZHIVE_SYNC };
    s_task (job, &third, 1, "\x93\x90\x90\x90", 4, 3);
    zhive_pack_t *answer = zhive_pack_new ();
    assert_int_equal (zhive_job_run_chunk (job, answer, "w"), -1);
    assert_true (job->failed);
    assert_string_equal (job->type, ZHIVE_ERR_TOO_LARGE);
    assert_non_null (strstr (job->message, "ZHIVE_PAYLOAD_MAX"));
    zhive_pack_destroy (&answer);
    zhive_job_destroy (&job);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_args),
        cmocka_unit_test (test_malformed_args),
        cmocka_unit_test (test_reply_and_fail),
        cmocka_unit_test (test_async_callback),
        cmocka_unit_test (test_chunk),
        cmocka_unit_test (test_args_too_large),
        cmocka_unit_test (test_reply_over_the_limit),
        cmocka_unit_test (test_chunk_answer_over_the_limit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
