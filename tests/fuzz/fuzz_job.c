/*  fuzz_job - libFuzzer harness for the worker's reading of TASK arguments
    and chunks (worker/zhive_job, driven without a worker: a sync handler
    that only packs its reply or fails inside the call never reaches one)

    Input: 1 flags byte (bit 0: chunked), 2 bytes big-endian item count,
    then the TASK's payload frame. The handler echoes its args array, or
    fails when its first argument is the str "fail", or packs two values
    (not one reply) when it is "two".
    One task: zhive_job_unpack accepts exactly one whole msgpack array, and
    the echoed reply unpacks equal to the args.
    Chunk: zhive_job_run_chunk accepts exactly what zhive_chunk_request_open
    accepts; its answer splits (zhive_chunk_answer_*) into count results,
    item i the echo of item i of the request, or its error.
    Written against worker/zhive_job.h before the worker was restructured:
    re-check it after that merge.
*/
#include "zhive_job.h"
#include "zhive_chunk.h"
#include "zhive_reader.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_fail (const char *why)
{
    fprintf (stderr, "fuzz_job: %s\n", why);
    abort ();
}

//  The handler's mode: 0 echo, 1 fail, 2 two values
static int
s_mode (zhive_job_t *job)
{
    const msgpack_object *first = zhive_job_arg (job, 0);
    const char *text;
    size_t size;
    if (first && first->type == MSGPACK_OBJECT_STR && zhive_value_str (first, &text, &size) == 0)
        return size == 4 && memcmp (text, "fail", 4) == 0  ? 1
               : size == 3 && memcmp (text, "two", 3) == 0 ? 2
                                                           : 0;
    return 0;
}

static int
s_handler (zhive_job_t *job, void *state)
{
    (void) state;
    int mode = s_mode (job);
    if (mode == 1)
        return zhive_job_fail (job, "FuzzError", "failed with %zu args", zhive_job_argc (job));
    zhive_pack_t *reply = zhive_job_reply (job);
    if (!reply)
        abort ();
    if (mode == 2)
        return zhive_pack_nil (reply) || zhive_pack_nil (reply);
    return zhive_pack_object (reply, zhive_job_args (job));
}

//  msgpack_object_equal, but a NaN equals a NaN (the echo carries it over)
static bool
s_equal (const msgpack_object *a, const msgpack_object *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == MSGPACK_OBJECT_FLOAT32 || a->type == MSGPACK_OBJECT_FLOAT64)
        return a->via.f64 == b->via.f64 || (a->via.f64 != a->via.f64 && b->via.f64 != b->via.f64);
    if (a->type == MSGPACK_OBJECT_ARRAY) {
        if (a->via.array.size != b->via.array.size)
            return false;
        for (uint32_t i = 0; i < a->via.array.size; i++)
            if (!s_equal (&a->via.array.ptr [i], &b->via.array.ptr [i]))
                return false;
        return true;
    }
    if (a->type == MSGPACK_OBJECT_MAP) {
        if (a->via.map.size != b->via.map.size)
            return false;
        for (uint32_t i = 0; i < a->via.map.size; i++)
            if (!s_equal (&a->via.map.ptr [i].key, &b->via.map.ptr [i].key) ||
                !s_equal (&a->via.map.ptr [i].val, &b->via.map.ptr [i].val))
                return false;
        return true;
    }
    return msgpack_object_equal (*a, *b);
}

//  The echo of the args in data must unpack equal to them
static bool
s_echo_matches (const char *echo, size_t echo_size, const char *args, size_t args_size)
{
    msgpack_zone *zone = msgpack_zone_new (1024);
    msgpack_object a, b;
    size_t off_a = 0, off_b = 0;
    bool same = zone &&
                msgpack_unpack (echo, echo_size, &off_a, zone, &a) == MSGPACK_UNPACK_SUCCESS &&
                msgpack_unpack (args, args_size, &off_b, zone, &b) == MSGPACK_UNPACK_SUCCESS &&
                s_equal (&a, &b);
    msgpack_zone_free (zone);
    return same;
}

static void
s_one_task (zhive_job_t *job, const uint8_t *data, size_t size)
{
    size_t count;
    bool whole = zhive_msgpack_array_header (data, size, &count) > 0 &&
                 zhive_msgpack_skip (data, size) == (ssize_t) size;
    if (zhive_job_unpack (job)) {
        if (whole)
            s_fail ("zhive_job_unpack refused one whole msgpack array");
        if (!job->failed || strcmp (job->type, ZHIVE_ERR_MALFORMED))
            s_fail ("refused args did not fail the job Malformed");
        return;
    }
    if (!whole)
        s_fail ("zhive_job_unpack accepted what is not one whole msgpack array");
    bool answer_now = zhive_job_call (job);
    if (!answer_now)
        s_fail ("a sync handler's job is not to be answered at once");
    int mode = s_mode (job);
    ssize_t reply = zhive_job_reply_size (job);
    if (mode == 1 && (!job->failed || strcmp (job->type, "FuzzError")))
        s_fail ("a failing handler's job did not fail");
    if (mode == 2 && reply != -1)
        s_fail ("two values packed are taken as one reply");
    if (mode == 0 &&
        (job->failed || reply <= 0 ||
         !s_echo_matches (zhive_pack_data (job->reply), (size_t) reply, (const char *) data, size)))
        s_fail ("the echo does not match the args");
}

static void
s_chunk (zhive_job_t *job, const uint8_t *data, size_t size, uint32_t count)
{
    zhive_reader_t request;
    bool valid = zhive_chunk_request_open (&request, data, size, count) == 0;
    zhive_pack_t *answer = zhive_pack_new ();
    if (!answer)
        abort ();
    int rc = zhive_job_run_chunk (job, answer, "fuzz");
    if ((rc == 0) != valid)
        s_fail (valid ? "the worker refused a chunk the shared reader accepts"
                      : "the worker accepted a chunk the shared reader refuses");
    if (rc != 0) {
        if (!job->failed || strcmp (job->type, ZHIVE_ERR_MALFORMED))
            s_fail ("a refused chunk did not fail the job Malformed");
        zhive_pack_destroy (&answer);
        return;
    }
    zhive_reader_t reader;
    if (zhive_chunk_answer_open (&reader, zhive_pack_data (answer), zhive_pack_size (answer),
                                 count))
        s_fail ("the chunk's answer does not open");
    for (uint32_t i = 0; i < count; i++) {
        const char *item;
        size_t item_size;
        if (zhive_chunk_request_next (&request, &item, &item_size))
            s_fail ("the request is cut short");
        zhive_result_t *result = zhive_chunk_answer_next (&reader);
        if (!result)
            s_fail ("the chunk's answer is cut short");
        size_t args;
        bool is_array = zhive_msgpack_array_header (item, item_size, &args) > 0;
        if (zhive_result_ok (result)) {
            size_t value_size;
            const char *value = zhive_result_data (result, &value_size);
            if (!is_array || !s_echo_matches (value, value_size, item, item_size))
                s_fail ("an item's answer is not the echo of its args");
        }
        else {
            const char *type = zhive_result_error_type (result);
            if (is_array && strcmp (type, "FuzzError") && strcmp (type, ZHIVE_ERR_HANDLER))
                s_fail ("an item with an args array failed otherwise than its handler");
            if (!is_array && strcmp (type, ZHIVE_ERR_MALFORMED))
                s_fail ("an item that is not an args array did not fail Malformed");
            if (strcmp (zhive_result_error_worker (result), "fuzz"))
                s_fail ("an item's error does not name the worker");
        }
        zhive_result_destroy (&result);
    }
    if (zhive_reader_left (&reader) != 0)
        s_fail ("the chunk's answer has bytes left over");
    zhive_pack_destroy (&answer);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    bool chunked = data [0] & 1;
    uint32_t count = ((uint32_t) data [1] << 8) | data [2];
    data += 3;
    size -= 3;
    char name [] = "echo";
    zhive_handler_t handler = { name, s_handler, NULL, ZHIVE_SYNC };
    zmq_msg_t frame;
    zmq_msg_init_size (&frame, size);
    if (size)
        memcpy (zmq_msg_data (&frame), data, size);
    zhive_job_t *job = zhive_job_new (NULL, NULL, NULL, NULL);
    if (!job)
        abort ();
    zhive_job_set_task (job, &handler, 1, &frame, chunked ? count : 0, -1);
    if (chunked)
        s_chunk (job, data, size, count);
    else
        s_one_task (job, data, size);
    zhive_job_destroy (&job);
    zmq_msg_close (&frame);
    return 0;
}
