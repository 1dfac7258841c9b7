/*  =========================================================================
    zhive_task - one task submitted to the broker: submit, wait, poll,
    take, cancel, and wait_any over a client's finished tasks

    A task owns one task id in its client's owner table. It keeps its args
    so that the client can (re)send it whenever asked: first send, a send
    a full pipe refused, a resend after a reconnect or after QueueFull.
    The broker enforces the deadline, and so does the client (its deadline
    heap), at the same time: a lost broker cannot make a call wait longer
    than its caller asked. A task with a callback (opts.on_done) goes to
    the client's notify list instead of the finished list of wait_any.
    =========================================================================
*/
#include "zhive_client_private.h"

struct _zhive_task_t {
    zhive_owner_t owner;                   //  Its id in the client's owner table
    int64_t due;                           //  When its deadline passes, ms clock; 0 = none
    int64_t timeout_ms;                    //  The task's deadline as asked, -1 none
    zhive_done_fn *on_done;                //  Completion callback, or NULL
    void *user_data;                       //  The caller's pointer, for on_done
    char function [ZHIVE_NAME_MAX + 1];    //  For the SUBMIT and error messages
    zhive_result_t *result;                //  Result once it arrived
    char *args;                            //  Args bytes, kept for resends
    size_t args_size;                      //  Their size
    int64_t retries;                       //  SUBMIT retries field (-1 default)
    bool wait_if_full;                     //  Resend after QueueFull
    int backoff_ms;                        //  Next wait after QueueFull
    bool unsent;                           //  Queued in the client, its SUBMIT not sent yet
    bool taken;                            //  Result handed out by zhive_task_take
    zhive_link_t done;                     //  In the client's finished list until wait_any
};

#define S_TASK(owner) ZHIVE_OWNER_ITEM (owner, zhive_task_t, owner)

//  ---------------------------------------------------------------------
//  True once the task has its result (or gave it away)
static bool
s_finished (const zhive_task_t *self)
{
    return self->result || self->taken;
}

//  ---------------------------------------------------------------------
//  The task got its result: store it and queue the task for wait_any
static void
s_finish (zhive_task_t *self, zhive_result_t *result)
{
    self->result = result;
    self->unsent = false;
    zhive_client_arm (self->owner.client, &self->owner, 0);
    if (self->on_done)
        zhive_client_notify (self->owner.client, &self->owner);
    else
        zhive_list_push_back (zhive_client_finished (self->owner.client), &self->done);
}

//  ---------------------------------------------------------------------
//  Queues the task's SUBMIT to be sent after delay_ms
static bool
s_queue (zhive_task_t *self, int delay_ms)
{
    if (zhive_client_queue (self->owner.client, self->owner.base, delay_ms))
        return false;    //  Out of memory: the task's deadline still ends it
    self->unsent = true;
    return true;
}

//  ---------------------------------------------------------------------
//  Sends the task's SUBMIT if it still wants one (owner op)
static int
s_task_send (zhive_owner_t *owner, uint64_t id)
{
    zhive_task_t *self = S_TASK (owner);
    if (!self->unsent || s_finished (self))
        return 0;
    zmq_msg_t payload;
    if (zhive_payload_init (&payload, NULL, 0, self->args, self->args_size)) {
        errno = ENOMEM;
        return -1;
    }
    int rc = zhive_client_send_submit (owner->client, id, self->function,
                                       zhive_time_left (self->due), self->retries, 0, &payload);
    int error = errno;
    zmq_msg_close (&payload);
    if (rc == 0)
        self->unsent = false;
    errno = error;
    return rc;
}

//  ---------------------------------------------------------------------
//  Takes the task's answer unless it has one (owner op)
static int
s_task_deliver (zhive_owner_t *owner, uint64_t id, zhive_answer_t *answer)
{
    (void) id;
    zhive_task_t *self = S_TASK (owner);
    if (s_finished (self))
        return -1;
    s_finish (self, zhive_answer_result (answer));
    return 1;
}

//  ---------------------------------------------------------------------
//  After QueueFull, resends later with a doubling backoff if asked to (owner op)
static bool
s_task_queue_full (zhive_owner_t *owner, uint64_t id)
{
    (void) id;
    zhive_task_t *self = S_TASK (owner);
    if (s_finished (self) || !self->wait_if_full || !s_queue (self, self->backoff_ms))
        return false;
    self->backoff_ms =
        self->backoff_ms * 2 > ZHIVE_BACKOFF_MAX ? ZHIVE_BACKOFF_MAX : self->backoff_ms * 2;
    return true;
}

//  ---------------------------------------------------------------------
//  Queues the task again if it was sent and has no answer (owner op)
static void
s_task_reconnected (zhive_owner_t *owner)
{
    zhive_task_t *self = S_TASK (owner);
    if (!s_finished (self) && !self->unsent)
        s_queue (self, 0);
}

//  ---------------------------------------------------------------------
//  Gives the task a Timeout once its deadline passed, and tells the
//  broker to drop it; its own answer, if it comes, is expected (owner op)
static int
s_task_expire (zhive_owner_t *owner, int64_t now)
{
    zhive_task_t *self = S_TASK (owner);
    if (s_finished (self) || !self->due)
        return 0;
    if (now < self->due) {
        zhive_client_arm (owner->client, owner, self->due);
        return 0;
    }
    if (!self->unsent) {
        zhive_client_send_cancel (owner->client, owner->base);
        zhive_client_expect_late (owner->client, owner->base);
    }
    s_finish (self, zhive_timeout_result (self->function, self->timeout_ms));
    return 1;
}

//  ---------------------------------------------------------------------
//  Runs the task's callback with its result (owner op)
static void
s_task_notify (zhive_owner_t *owner)
{
    zhive_task_t *self = S_TASK (owner);
    self->on_done (self, self->result, self->user_data);
}

//  ---------------------------------------------------------------------
//  Frees the task; it is detached from its client already
static void
s_task_free (zhive_task_t *self)
{
    if (zhive_link_listed (&self->done))
        zhive_list_remove (zhive_client_finished (self->owner.client), &self->done);
    zhive_result_destroy (&self->result);
    free (self->args);
    free (self);
}

//  ---------------------------------------------------------------------
//  Frees the task with its client (owner op)
static void
s_task_destroy (zhive_owner_t *owner)
{
    s_task_free (S_TASK (owner));
}

static const zhive_owner_ops_t s_task_ops = { s_task_send,        s_task_deliver, s_task_queue_full,
                                              s_task_reconnected, s_task_expire,  s_task_notify,
                                              s_task_destroy };

//  ---------------------------------------------------------------------
//  Submit one task without waiting

zhive_task_t *
zhive_client_submit (zhive_client_t *client, const char *function, const zhive_pack_t *args,
                     const zhive_opts_t *opts)
{
    const char *data = args ? zhive_pack_data (args) : "\x90";
    size_t size = args ? zhive_pack_size (args) : 1;
    if (!function || !*function || strlen (function) > ZHIVE_NAME_MAX ||
        !zhive_is_one_array (data, size)) {
        errno = EINVAL;
        return NULL;
    }
    zhive_task_t *self = (zhive_task_t *) calloc (1, sizeof (zhive_task_t));
    if (!self)
        return NULL;
    zhive_link_init (&self->done);
    self->timeout_ms = zhive_client_task_timeout (client, opts);
    if (self->timeout_ms >= 0)
        self->due = zhive_clock_ms () + self->timeout_ms;
    self->on_done = opts ? opts->on_done : NULL;
    self->user_data = opts ? opts->user_data : NULL;
    self->retries = zhive_wire_retries (opts);
    self->wait_if_full = opts && opts->wait_if_full;
    self->backoff_ms = ZHIVE_BACKOFF_MS;
    zhive_proto_set_name (self->function, function);
    //  Past the message limit libzmq would drop the connection: the task
    //  fails TooLarge at once instead, and is never sent
    bool too_large = size > (size_t) ZHIVE_PAYLOAD_MAX;
    self->args = (char *) malloc (too_large ? 1 : size);
    if (!self->args || zhive_client_attach (client, &self->owner, &s_task_ops, 1)) {
        free (self->args);
        free (self);
        errno = ENOMEM;
        return NULL;
    }
    if (too_large) {
        char message [256];
        snprintf (message, sizeof message,
                  "the args of '%.64s' are %zu bytes, over the message limit of %lld bytes (256 "
                  "MiB less header room)",
                  self->function, size, (long long) ZHIVE_PAYLOAD_MAX);
        zhive_result_t *result = zhive_result_new_error (ZHIVE_ERR_TOO_LARGE, message, "");
        if (!result) {
            zhive_client_detach (client, &self->owner);
            s_task_free (self);
            errno = ENOMEM;
            return NULL;
        }
        s_finish (self, result);
        return self;
    }
    memcpy (self->args, data, size);
    self->args_size = size;
    if (self->due)
        zhive_client_arm (client, &self->owner, self->due);
    if (!s_queue (self, 0)) {
        zhive_client_detach (client, &self->owner);
        s_task_free (self);
        errno = ENOMEM;
        return NULL;
    }
    //  Goes out now, or on a later call if the pipe is full
    zhive_client_flush (client);
    return self;
}

//  ---------------------------------------------------------------------
//  Wait up to timeout_ms for the task's result (borrowed)

zhive_result_t *
zhive_task_wait (zhive_task_t *self, int timeout_ms)
{
    zhive_client_t *client = self->owner.client;
    int64_t deadline = zhive_wait_deadline (timeout_ms);
    if (!s_finished (self))
        zhive_client_pump (client, 0);
    //  The pump wakes for the task's deadline too (the client's heap)
    while (!s_finished (self)) {
        int64_t left = zhive_wait_remaining (deadline);
        if (left == 0 && deadline)
            break;
        if (zhive_client_pump (client, left) < 0)
            break;
        if (deadline && zhive_clock_ms () >= deadline && !s_finished (self))
            break;
    }
    return self->taken ? NULL : self->result;
}

//  ---------------------------------------------------------------------
//  True if the task has its result; never blocks

bool
zhive_task_done (zhive_task_t *self)
{
    if (!s_finished (self))
        zhive_client_pump (self->owner.client, 0);
    return s_finished (self);
}

//  ---------------------------------------------------------------------
//  Take the result out of a finished task

zhive_result_t *
zhive_task_take (zhive_task_t *self)
{
    if (!zhive_task_done (self) || self->taken)
        return NULL;
    zhive_result_t *result = self->result;
    self->result = NULL;
    self->taken = true;
    return result;
}

//  ---------------------------------------------------------------------
//  Cancel an unfinished task: Cancelled at once, and the broker drops it

int
zhive_task_cancel (zhive_task_t *self)
{
    if (s_finished (self))
        return -1;
    zhive_client_send_cancel (self->owner.client, self->owner.base);
    s_finish (self, zhive_result_new_error (ZHIVE_ERR_CANCELLED, "cancelled by the client", ""));
    return 0;
}

//  ---------------------------------------------------------------------
//  The task's id, unique within its client

uint64_t
zhive_task_id (const zhive_task_t *self)
{
    return self->owner.base;
}

//  ---------------------------------------------------------------------
//  Forget a task; an unfinished one is cancelled at the broker

void
zhive_task_destroy (zhive_task_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_task_t *self = *self_p;
    //  Still unanswered: nobody wants it now, so the broker need not run it
    if (!s_finished (self))
        zhive_client_send_cancel (self->owner.client, self->owner.base);
    zhive_client_detach (self->owner.client, &self->owner);
    s_task_free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Wait for any submitted task to finish; each is returned once

zhive_task_t *
zhive_client_wait_any (zhive_client_t *client, int timeout_ms)
{
    zhive_list_t *finished = zhive_client_finished (client);
    int64_t deadline = zhive_wait_deadline (timeout_ms);
    zhive_client_dispatch (client);
    while (zhive_list_empty (finished)) {
        int64_t left = zhive_wait_remaining (deadline);
        //  The pump wakes for tasks' deadlines too (the client's heap)
        if (zhive_client_pump (client, left) < 0)
            break;
        zhive_client_dispatch (client);
        if (left == 0 && deadline)
            break;
    }
    zhive_link_t *link = zhive_list_pop_front (finished);
    return link ? ZHIVE_LIST_ITEM (link, zhive_task_t, done) : NULL;
}

//  ---------------------------------------------------------------------
//  Run one task and wait for its result

zhive_result_t *
zhive_client_apply (zhive_client_t *client, const char *function, const zhive_pack_t *args,
                    const zhive_opts_t *opts)
{
    //  apply returns the result: a callback is not for it
    zhive_opts_t plain = opts ? *opts : (zhive_opts_t){ 0 };
    plain.on_done = NULL;
    plain.user_data = NULL;
    zhive_task_t *task = zhive_client_submit (client, function, args, &plain);
    if (!task) {
        if (errno == ENOMEM)
            return NULL;
        return zhive_result_new_error (ZHIVE_ERR_BAD_ARGS,
                                       "apply needs a function name of 1..255 bytes and args "
                                       "that are one msgpack array (or NULL)",
                                       "");
    }
    //  The task's own backstop deadline bounds the wait
    while (!zhive_task_wait (task, -1) && !task->taken) {
        if (zsys_interrupted) {
            zhive_task_destroy (&task);
            return zhive_result_new_error (ZHIVE_ERR_CANCELLED, "interrupted by a signal", "");
        }
    }
    zhive_result_t *result = zhive_task_take (task);
    zhive_task_destroy (&task);
    return result;
}

//  ---------------------------------------------------------------------
//  The caller's pointer given in opts.user_data

void *
zhive_task_user_data (const zhive_task_t *self)
{
    return self->user_data;
}
