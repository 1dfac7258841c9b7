/*  =========================================================================
    zhive_job - one task a worker runs (private to the worker)

    A job's outcome can be recorded while its handler is still on the stack
    (zhive_job_fail / zhive_job_complete from inside the handler); the
    owner answers when the handler returns, so a handler never sees its
    own job freed under it. The same holds inside a cancel function. Out of
    its handler, a job that ends calls its completion callback.
    =========================================================================
*/
#include "zhive_job.h"
#include <inttypes.h>
#include "zhive_chunk.h"
#include "zhive_private.h"
#include <stdarg.h>

//  ---------------------------------------------------------------------
//  Create a job without a task

zhive_job_t *
zhive_job_new (zhive_worker_t *worker, zloop_t *loop, zhive_job_done_fn *done, void *arg)
{
    zhive_job_t *self = (zhive_job_t *) calloc (1, sizeof (zhive_job_t));
    if (!self)
        return NULL;
    self->worker = worker;
    self->loop = loop;
    self->done = done;
    self->done_arg = arg;
    self->timeout_ms = -1;
    zmq_msg_init (&self->frame);
    msgpack_unpacked_init (&self->args);
    zhive_link_init (&self->link);
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy a job

void
zhive_job_destroy (zhive_job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_job_t *self = *self_p;
    if (self->zone)
        msgpack_zone_free (self->zone);
    zmq_msg_close (&self->frame);
    zhive_pack_destroy (&self->reply);
    free (self->message);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Give the job a task, keeping its memory from the last one

void
zhive_job_set_task (zhive_job_t *self, zhive_handler_t *handler, uint64_t ticket, zmq_msg_t *frame,
                    uint32_t chunk, int64_t timeout_ms)
{
    self->handler = handler;
    self->ticket = ticket;
    self->incarnation = ticket >> 32;
    self->chunk = chunk;
    self->timeout_ms = timeout_ms;
    self->queued_at = 0;
    zmq_msg_close (&self->frame);
    zmq_msg_init (&self->frame);
    zmq_msg_move (&self->frame, frame);
    if (self->zone)
        msgpack_zone_clear (self->zone);
    self->args.zone = NULL;
    msgpack_object nothing = { .type = MSGPACK_OBJECT_NIL };
    self->args.data = nothing;
    if (self->reply)
        zhive_pack_reset (self->reply);
    free (self->message);
    self->message = NULL;
    self->data = NULL;
    self->cancel = NULL;
    self->cancel_state = NULL;
    self->in_handler = self->completed = self->failed = false;
    self->type [0] = 0;
}

//  ---------------------------------------------------------------------
//  Fail the job TooLarge if values that would take `unpacked` bytes as
//  msgpack-c objects pass ZHIVE_UNPACK_MAX; true if so. item is the index
//  of a chunk's item, or -1 for a task's arguments (the message says which).

static bool
s_too_large (zhive_job_t *self, size_t unpacked, int64_t item)
{
    bool too_large = unpacked > ZHIVE_UNPACK_MAX;
    if (too_large) {
        char what [64] = "arguments";
        if (item >= 0)
            snprintf (what, sizeof what, "item %" PRId64 " of a chunk", item);
        zhive_job_set_failed (self, ZHIVE_ERR_TOO_LARGE,
                              zsys_sprintf ("%s of '%s' would unpack to %zu bytes, more than the "
                                            "limit of %d bytes (ZHIVE_UNPACK_MAX)",
                                            what, self->handler->name, unpacked, ZHIVE_UNPACK_MAX));
    }
    return too_large;
}

//  ---------------------------------------------------------------------
//  Unpack the args: one valid msgpack array

int
zhive_job_unpack (zhive_job_t *self)
{
    const char *data = (const char *) zmq_msg_data (&self->frame);
    size_t size = zmq_msg_size (&self->frame);
    size_t items;
    bool is_array = zhive_msgpack_array_header (data, size, &items) > 0;
    size_t offset = 0;
    size_t unpacked = 0;
    if (!is_array || zhive_msgpack_measure (data, size, NULL, &unpacked) != (ssize_t) size) {
        zhive_job_set_failed (self, ZHIVE_ERR_MALFORMED,
                              zsys_sprintf ("arguments of '%s' are not one valid msgpack array",
                                            self->handler->name));
        return -1;
    }
    if (s_too_large (self, unpacked, -1))
        return -1;
    //  One zone per job, cleared when the job is reused: no allocation per
    //  task once a worker is warm (msgpack_unpack_next would make 8 KiB each)
    if (!self->zone)
        self->zone = msgpack_zone_new (1024);
    if (!self->zone ||
        msgpack_unpack (data, size, &offset, self->zone, &self->args.data) !=
            MSGPACK_UNPACK_SUCCESS ||
        self->args.data.type != MSGPACK_OBJECT_ARRAY) {
        zhive_job_set_failed (self, ZHIVE_ERR_MALFORMED,
                              zsys_sprintf ("arguments of '%s' cannot be unpacked (nested too "
                                            "deeply?)",
                                            self->handler->name));
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Call the handler; true if the job is to be answered now

bool
zhive_job_call (zhive_job_t *self)
{
    self->in_handler = true;
    int rc = self->handler->fn (self, self->handler->state);
    self->in_handler = false;
    if (rc != 0 && !self->failed)
        zhive_job_set_failed (self, ZHIVE_ERR_HANDLER, NULL);
    //  Else an async job, pending until zhive_job_complete or zhive_job_fail
    return self->failed || self->completed || !(self->handler->flags & ZHIVE_ASYNC);
}

//  ---------------------------------------------------------------------
//  Undo an async job through its cancel function; it is failed Cancelled

bool
zhive_job_cancel (zhive_job_t *self, const char *worker_name)
{
    if (!self->cancel)
        return false;
    self->in_handler = true;
    self->cancel (self, self->cancel_state);
    self->in_handler = false;
    self->completed = false;
    zhive_job_set_failed (
        self, ZHIVE_ERR_CANCELLED,
        zsys_sprintf ("task cancelled while running in worker '%s'", worker_name));
    return true;
}

//  ---------------------------------------------------------------------
//  Size of the packed reply: exactly one value, 0 for none, else -1

ssize_t
zhive_job_reply_size (zhive_job_t *self)
{
    if (!self->reply || zhive_pack_size (self->reply) == 0)
        return 0;
    size_t size = zhive_pack_size (self->reply);
    ssize_t value = zhive_msgpack_skip (zhive_pack_data (self->reply), size);
    return value == (ssize_t) size ? value : -1;
}

//  ---------------------------------------------------------------------
//  Record a failure (takes the message)

void
zhive_job_set_failed (zhive_job_t *self, const char *type, char *message)
{
    self->failed = true;
    zhive_proto_set_name (self->type, type && *type ? type : ZHIVE_ERR_HANDLER);
    free (self->message);
    self->message = message;
}

//  Frees a reply buffer handed over to a frame
static void
s_free_buffer (void *data, void *hint)
{
    (void) hint;
    free (data);
}

//  A large reply goes out in the handler's own buffer, not a copy of it
static int
s_payload_handover (zhive_proto_t *out, zhive_pack_t *reply)
{
    size_t size;
    char *data = zhive_pack_detach (reply, &size);
    zmq_msg_t frame;
    if (zmq_msg_init_data (&frame, data, size, s_free_buffer, NULL)) {
        free (data);
        return -1;
    }
    zhive_proto_move_payload (out, &frame);
    zmq_msg_close (&frame);
    return 0;
}

//  ---------------------------------------------------------------------
//  Fill in the job's answer: FAILED or DONE

int
zhive_job_answer (zhive_job_t *self, zhive_proto_t *out)
{
    const char *function = self->handler->name;
    ssize_t size = self->failed ? 0 : zhive_job_reply_size (self);
    out->id = self->ticket;
    if (self->failed || size < 0) {
        char *message = NULL;
        if (!self->failed)
            message = zsys_sprintf (
                "handler '%s' packed %zu bytes that are not exactly one msgpack value", function,
                zhive_pack_size (self->reply));
        else if (!self->message)
            message = zsys_sprintf ("handler '%s' failed without a message", function);
        out->command = ZHIVE_FAILED;
        zhive_proto_set_name (out->type, self->failed ? self->type : ZHIVE_ERR_HANDLER);
        zhive_proto_set_message (out, message ? message : self->message);
        zstr_free (&message);
        return ZHIVE_FAILED;
    }
    if (size > ZHIVE_PAYLOAD_MAX) {
        //  libzmq would drop the connection on it: say so instead
        char *message = zsys_sprintf ("handler '%s' packed a reply of %zd bytes, over the message "
                                      "limit of %lld bytes (256 MiB less header room)",
                                      function, size, (long long) ZHIVE_PAYLOAD_MAX);
        out->command = ZHIVE_FAILED;
        zhive_proto_set_name (out->type, ZHIVE_ERR_TOO_LARGE);
        zhive_proto_set_message (out, message ? message : "reply too large");
        zstr_free (&message);
        zhive_pack_reset (self->reply);
        return ZHIVE_FAILED;
    }
    static const char nil = (char) 0xc0;
    out->command = ZHIVE_DONE;
    if (size >= ZHIVE_ZERO_COPY_MIN
            ? s_payload_handover (out, self->reply)
            : zhive_proto_set_payload (out, size ? zhive_pack_data (self->reply) : &nil,
                                       size ? (size_t) size : 1))
        return -1;
    return ZHIVE_DONE;
}

//  ---------------------------------------------------------------------
//  Jobs, as handlers see them

const char *
zhive_job_function (const zhive_job_t *self)
{
    return self->handler->name;
}

const msgpack_object *
zhive_job_args (const zhive_job_t *self)
{
    return &self->args.data;
}

size_t
zhive_job_argc (const zhive_job_t *self)
{
    return self->args.data.type == MSGPACK_OBJECT_ARRAY ? self->args.data.via.array.size : 0;
}

const msgpack_object *
zhive_job_arg (const zhive_job_t *self, size_t index)
{
    if (index >= zhive_job_argc (self))
        return NULL;
    return &self->args.data.via.array.ptr [index];
}

zloop_t *
zhive_job_loop (const zhive_job_t *self)
{
    return self->loop;
}

zhive_worker_t *
zhive_job_worker (const zhive_job_t *self)
{
    return self->worker;
}

zhive_pack_t *
zhive_job_reply (zhive_job_t *self)
{
    if (!self->reply)
        self->reply = zhive_pack_new ();
    return self->reply;
}

void
zhive_job_set_data (zhive_job_t *self, void *data)
{
    self->data = data;
}

void *
zhive_job_data (const zhive_job_t *self)
{
    return self->data;
}

void
zhive_job_on_cancel (zhive_job_t *self, zhive_cancel_fn *fn, void *state)
{
    self->cancel = fn;
    self->cancel_state = state;
}

int
zhive_job_complete (zhive_job_t *self)
{
    int rc = zhive_job_reply_size (self) < 0 ? -1 : 0;
    if (self->in_handler)
        self->completed = true;    //  Answered when the handler returns
    else
        self->done (self, self->done_arg);
    return rc;
}

int
zhive_job_fail (zhive_job_t *self, const char *type, const char *format, ...)
{
    char *message = NULL;
    if (format) {
        va_list args;
        va_start (args, format);
        message = zsys_vprintf (format, args);
        va_end (args);
    }
    zhive_job_set_failed (self, type, message);
    if (!self->in_handler)
        self->done (self, self->done_arg);
    return -1;
}

//  ---------------------------------------------------------------------
//  Chunks: one TASK carrying many items for a sync handler

//  Forgets the last item's outcome before the next one runs
static void
s_item_reset (zhive_job_t *self)
{
    self->failed = self->completed = false;
    free (self->message);
    self->message = NULL;
    if (self->reply)
        zhive_pack_reset (self->reply);
}

//  Runs one item (its bytes) and appends its answer; -1 if out of memory
static int
s_item_run (zhive_job_t *self, msgpack_zone *zone, uint32_t index, const char *item, size_t size,
            zhive_pack_t *answer, const char *worker_name)
{
    size_t used = 0, items;
    msgpack_object args;
    s_item_reset (self);
    msgpack_zone_clear (zone);
    size_t unpacked = 0;
    //  Too large to unpack: failed TooLarge, not unpacked
    bool refused = item && zhive_msgpack_measure (item, size, NULL, &unpacked) == (ssize_t) size &&
                   s_too_large (self, unpacked, index);
    if (!refused && (!item || zhive_msgpack_array_header (item, size, &items) == 0 ||
                     msgpack_unpack (item, size, &used, zone, &args) != MSGPACK_UNPACK_SUCCESS))
        zhive_job_set_failed (self, ZHIVE_ERR_MALFORMED,
                              zsys_sprintf ("item %u of a chunk of '%s' is not one argument array",
                                            index, self->handler->name));
    else if (!refused) {
        self->args.zone = NULL;
        self->args.data = args;
        zhive_job_call (self);
    }
    ssize_t reply = self->failed ? -1 : zhive_job_reply_size (self);
    if (!self->failed && reply < 0)
        zhive_job_set_failed (self, ZHIVE_ERR_HANDLER,
                              zsys_sprintf ("handler '%s' packed bytes that are not exactly one "
                                            "msgpack value",
                                            self->handler->name));
    else if (!self->failed && reply > ZHIVE_PAYLOAD_MAX)
        zhive_job_set_failed (self, ZHIVE_ERR_TOO_LARGE,
                              zsys_sprintf ("handler '%s' packed a reply of %zd bytes, over the "
                                            "message limit of %lld bytes",
                                            self->handler->name, reply,
                                            (long long) ZHIVE_PAYLOAD_MAX));
    if (self->failed)
        return zhive_chunk_answer_error (
            answer, self->type, self->message ? self->message : "handler failed without a message",
            worker_name);
    return zhive_chunk_answer_ok (answer, reply > 0 ? zhive_pack_data (self->reply) : NULL,
                                  (size_t) (reply > 0 ? reply : 0));
}

int
zhive_job_run_chunk (zhive_job_t *self, zhive_pack_t *answer, const char *worker_name)
{
    const char *name = self->handler->name;
    if (self->handler->flags & ZHIVE_ASYNC) {
        zhive_job_set_failed (self, ZHIVE_ERR_BAD_ARGS,
                              zsys_sprintf ("'%s' is an async handler: chunked maps need a sync "
                                            "one (use chunksize 1)",
                                            name));
        return -1;
    }
    zhive_reader_t reader;
    if (zhive_chunk_request_open (&reader, zmq_msg_data (&self->frame), zmq_msg_size (&self->frame),
                                  self->chunk)) {
        zhive_job_set_failed (self, ZHIVE_ERR_MALFORMED,
                              zsys_sprintf ("a chunk of '%s' is not an array of %u argument arrays",
                                            name, self->chunk));
        return -1;
    }
    //  One zone for every item's args, cleared between items: no allocation
    //  per item once it has grown
    msgpack_zone *zone = msgpack_zone_new (2048);
    int rc = zone ? zhive_chunk_answer_begin (answer, self->chunk) : -1;
    for (uint32_t index = 0; index < self->chunk && rc == 0; index++) {
        const char *item = NULL;
        size_t size = 0;
        if (zhive_chunk_request_next (&reader, &item, &size))
            item = NULL;    //  Cannot be: open checked the whole request
        rc = s_item_run (self, zone, index, item, size, answer, worker_name);
        //  The whole answer is one message: past the limit, libzmq would
        //  drop the connection and every task it holds
        if (rc == 0 && zhive_pack_size (answer) > ZHIVE_PAYLOAD_MAX) {
            rc = 1;
            break;
        }
    }
    //  The zone is ours, not the unpacked args': the job must not use it
    self->args.zone = NULL;
    msgpack_object nothing = { .type = MSGPACK_OBJECT_NIL };
    self->args.data = nothing;
    s_item_reset (self);
    if (zone)
        msgpack_zone_free (zone);
    if (rc == 1) {
        zhive_job_set_failed (self, ZHIVE_ERR_TOO_LARGE,
                              zsys_sprintf ("the answers of a chunk of '%s' pass %lld bytes, the "
                                            "limit of a message (ZHIVE_PAYLOAD_MAX): use a "
                                            "smaller chunksize",
                                            name, (long long) ZHIVE_PAYLOAD_MAX));
        return -1;
    }
    if (rc) {
        zhive_job_set_failed (self, ZHIVE_ERR_HANDLER, zsys_sprintf ("out of memory"));
        return -1;
    }
    return 0;
}
