/*  =========================================================================
    zhive_job - one task a worker runs (private to the worker)

    A job's outcome can be recorded while its handler is still on the stack
    (zhive_job_fail / zhive_job_complete from inside the handler); the
    answer is then sent when the handler returns, so a handler never sees
    its own job freed under it. The same holds inside a cancel function.
    =========================================================================
*/
#include "zhive_job.h"
#include "zhive_result.h"
#include "zhive_private.h"
#include <stdarg.h>

zhive_job_t *
zhive_job_new (zhive_worker_t *worker, zhive_handler_t *handler, uint64_t ticket, zmq_msg_t *frame)
{
    zhive_job_t *self = (zhive_job_t *) calloc (1, sizeof (zhive_job_t));
    if (!self)
        return NULL;
    self->worker = worker;
    self->handler = handler;
    self->ticket = ticket;
    zmq_msg_init (&self->frame);
    zmq_msg_move (&self->frame, frame);
    msgpack_unpacked_init (&self->args);
    return self;
}

void
zhive_job_reuse (zhive_job_t *self, zhive_handler_t *handler, uint64_t ticket, zmq_msg_t *frame)
{
    self->handler = handler;
    self->ticket = ticket;
    zmq_msg_close (&self->frame);
    zmq_msg_init (&self->frame);
    zmq_msg_move (&self->frame, frame);
    if (self->zone)
        msgpack_zone_clear (self->zone);
    if (self->reply)
        zhive_pack_reset (self->reply);
    free (self->message);
    self->message = NULL;
    self->data = NULL;
    self->cancel = NULL;
    self->cancel_state = NULL;
    self->in_handler = self->completed = self->failed = false;
    self->type [0] = 0;
    self->prev = self->next = NULL;
}

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

int
zhive_job_unpack (zhive_job_t *self)
{
    const char *data = (const char *) zmq_msg_data (&self->frame);
    size_t size = zmq_msg_size (&self->frame);
    size_t items;
    bool is_array = zhive_msgpack_array_header (data, size, &items) > 0;
    size_t offset = 0;
    if (!is_array || zhive_msgpack_skip (data, size) != (ssize_t) size) {
        zhive_job_set_failed (self, ZHIVE_ERR_MALFORMED,
                              zsys_sprintf ("arguments of '%s' are not one valid msgpack array",
                                            self->handler->name));
        return -1;
    }
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

ssize_t
zhive_job_reply_size (zhive_job_t *self)
{
    if (!self->reply || zhive_pack_size (self->reply) == 0)
        return 0;
    size_t size = zhive_pack_size (self->reply);
    ssize_t value = zhive_msgpack_skip (zhive_pack_data (self->reply), size);
    return value == (ssize_t) size ? value : -1;
}

void
zhive_job_set_failed (zhive_job_t *self, const char *type, char *message)
{
    self->failed = true;
    zhive_proto_set_name (self->type, type && *type ? type : ZHIVE_ERR_HANDLER);
    free (self->message);
    self->message = message;
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
    return self->args.data.via.array.size;
}

const msgpack_object *
zhive_job_arg (const zhive_job_t *self, size_t index)
{
    if (index >= self->args.data.via.array.size)
        return NULL;
    return &self->args.data.via.array.ptr [index];
}

zloop_t *
zhive_job_loop (const zhive_job_t *self)
{
    return zhive_worker_loop (self->worker);
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
        zhive_worker_answer (self->worker, self);
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
        zhive_worker_answer (self->worker, self);
    return -1;
}

//  ---------------------------------------------------------------------
//  Chunks: one TASK carrying many items for a sync handler

//  Appends a str to a packer
static void
s_pack_text (zhive_pack_t *pack, const char *text)
{
    zhive_pack_str (pack, text ? text : "");
}

int
zhive_job_run_chunk (zhive_job_t *self, uint32_t count, zhive_pack_t *answer,
                     const char *worker_name)
{
    const char *data = (const char *) zmq_msg_data (&self->frame);
    size_t size = zmq_msg_size (&self->frame);
    //  The payload must be an array of exactly count argument arrays
    size_t entries = 0;
    size_t header = zhive_msgpack_array_header (data, size, &entries);
    if (header == 0 || entries != count || zhive_msgpack_skip (data, size) != (ssize_t) size) {
        zhive_job_set_failed (self, ZHIVE_ERR_MALFORMED,
                              zsys_sprintf ("a chunk of '%s' is not an array of %u argument "
                                            "arrays",
                                            self->handler->name, count));
        return -1;
    }
    //  One zone for every item's args, cleared between items: no allocation
    //  per item once it has grown
    msgpack_zone *zone = msgpack_zone_new (2048);
    if (!zone) {
        zhive_job_set_failed (self, ZHIVE_ERR_HANDLER, zsys_sprintf ("out of memory"));
        return -1;
    }
    zhive_pack_reset (answer);
    zhive_pack_array (answer, count);
    size_t offset = header;
    for (uint32_t item = 0; item < count; item++) {
        ssize_t length = zhive_msgpack_skip (data + offset, size - offset);
        size_t used = 0;
        msgpack_object args;
        size_t items;
        bool is_array = zhive_msgpack_array_header (data + offset, (size_t) length, &items) > 0;
        msgpack_zone_clear (zone);
        self->failed = self->completed = false;
        free (self->message);
        self->message = NULL;
        if (self->reply)
            zhive_pack_reset (self->reply);
        if (!is_array || msgpack_unpack (data + offset, (size_t) length, &used, zone, &args) !=
                             MSGPACK_UNPACK_SUCCESS)
            zhive_job_set_failed (
                self, ZHIVE_ERR_MALFORMED,
                zsys_sprintf ("item %u of a chunk of '%s' is not one argument array", item,
                              self->handler->name));
        else {
            self->args.zone = NULL;
            self->args.data = args;
            zhive_job_call (self);
        }
        ssize_t reply = self->failed ? -1 : zhive_job_reply_size (self);
        if (!self->failed && reply < 0)
            zhive_job_set_failed (self, ZHIVE_ERR_HANDLER,
                                  zsys_sprintf ("handler '%s' packed bytes that are not "
                                                "exactly one msgpack value",
                                                self->handler->name));
        if (self->failed) {
            zhive_pack_array (answer, 4);
            zhive_pack_bool (answer, false);
            s_pack_text (answer, self->type);
            s_pack_text (answer,
                         self->message ? self->message : "handler failed without a message");
            s_pack_text (answer, worker_name);
        }
        else {
            zhive_pack_array (answer, 2);
            zhive_pack_bool (answer, true);
            if (reply > 0)
                zhive_pack_raw (answer, zhive_pack_data (self->reply), (size_t) reply);
            else
                zhive_pack_nil (answer);
        }
        offset += (size_t) length;
    }
    //  The zone is ours, not the unpacked args': do not let destroy free it
    self->args.zone = NULL;
    self->failed = self->completed = false;
    msgpack_zone_free (zone);
    return 0;
}
