/*  =========================================================================
    zhive_client - submit tasks to a zhive broker and take their results

    One DEALER socket. Every message from the broker is read by s_pump and
    routed by task id: to a submitted task (the pending id map), or to a
    map, which owns a contiguous block of ids [base, base + count) so that a
    map of a million items needs no per-item table entry.

    The broker enforces each task's deadline; the client keeps a backstop
    (deadline + S_GRACE_MS) so that a lost broker cannot make a call wait
    longer than its caller asked.
    =========================================================================
*/
#include "zhive_client.h"
#include "zhive_curve.h"
#include "zhive_idmap.h"
#include "zhive_private.h"
#include "zhive_proto.h"

#define S_GRACE_MS       1000    //  Backstop after a task's deadline
#define S_WINDOW_DEFAULT 1000    //  Tasks a map keeps in flight
#define S_BACKOFF_MS     50      //  First wait before resending after QueueFull
#define S_BACKOFF_MAX    1000    //  Longest wait before resending after QueueFull

//  States of a map item
#define S_UNSENT   0
#define S_SENT     1
#define S_ARRIVED  2
#define S_RETURNED 3

typedef struct {
    uint64_t id;    //  Task id to resend
    int64_t at;     //  When, ms clock
} s_resend_t;

struct _zhive_task_t {
    zhive_client_t *client;                //  Client that submitted it
    uint64_t id;                           //  Task id, unique within the client
    int64_t deadline;                      //  Client backstop, ms clock; 0 = none
    int64_t timeout_ms;                    //  The task's deadline as asked, -1 none
    char function [ZHIVE_NAME_MAX + 1];    //  For error messages
    zhive_result_t *result;                //  Result once it arrived
    char *args;                            //  Args bytes, kept for resends
    size_t args_size;                      //  Their size
    int64_t retries;                       //  SUBMIT retries field (-1 default)
    bool wait_if_full;                     //  Resend after QueueFull
    int backoff_ms;                        //  Next wait after QueueFull
    bool taken;                            //  Result handed out by zhive_task_take
    bool in_done_list;                     //  Waiting to be returned by wait_any
    zhive_task_t *done_prev;               //  Done list links
    zhive_task_t *done_next;
};

struct _zhive_map_t {
    zhive_client_t *client;                //  Client that runs it
    char function [ZHIVE_NAME_MAX + 1];    //  Function called per item
    bool star;                             //  Items are argument arrays (starmap)
    bool unordered;                        //  Return in completion order
    int64_t timeout_ms;                    //  Deadline per task, -1 none
    size_t window;                         //  Most items in flight
    int64_t retries;                       //  SUBMIT retries field (-1 default)
    bool wait_if_full;                     //  Resend items after QueueFull
    size_t chunk;                          //  Items per message (1: one task each)
    char *items;                           //  Copy of the caller's items
    size_t *offsets;                       //  Item i is items [offsets [i] .. offsets [i+1])
    size_t count;                          //  Number of items
    uint64_t base_id;                      //  Item i has task id base_id + i
    uint8_t *state;                        //  S_UNSENT .. S_RETURNED per item
    int64_t *deadlines;                    //  Backstop per item (when timeout_ms >= 0)
    zhive_result_t **results;              //  Arrived, not yet returned
    size_t *ready;                         //  Unordered: indices arrived, FIFO ring
    size_t ready_head;                     //  Next to return
    size_t ready_size;                     //  How many are in the ring
    size_t next_send;                      //  Items sent so far
    size_t next_return;                    //  Ordered: next index to return
    size_t oldest;                         //  Lowest index not yet arrived
    size_t returned;                       //  Results handed out
    size_t in_flight;                      //  Sent and not arrived
    zhive_map_t *prev;                     //  Client's list of open maps
    zhive_map_t *next;
};

struct _zhive_client_t {
    zsock_t *sock;              //  DEALER to the broker's client endpoint
    char *endpoint;             //  Where it is connected
    zhive_proto_t *msg;         //  Reused message for sends and receives
    uint64_t next_id;           //  Next task id to hand out
    int64_t timeout_ms;         //  Default task deadline, -1 none
    zhive_idmap_t *pending;     //  id -> zhive_task_t, submitted tasks
    zhive_task_t *done_head;    //  Finished tasks not yet given by wait_any
    zhive_task_t *done_tail;
    zhive_map_t *maps;          //  Open maps
    zsock_t *monitor;           //  Connection events of sock (PAIR)
    bool connected_once;        //  A first connection was made
    bool disconnected;          //  The connection is down right now
    uint64_t reconnects;        //  Reconnections so far
    uint64_t dropped;           //  Answers for tasks that had one already
    int heartbeat_ms;           //  ZMTP heartbeat interval
    int liveness;               //  Intervals of silence before the broker is gone
    s_resend_t *resends;        //  Tasks to resend after QueueFull
    size_t resends_count;       //  Entries used
    size_t resends_capacity;    //  Entries allocated
    bool ponged;                //  A PONG arrived since the last PING
    uint64_t status_id;         //  Id of the STATUS being waited for
    zhive_result_t *status;     //  Its reply once it arrived
};

//  ---------------------------------------------------------------------
//  Helpers

static int64_t
s_deadline (int64_t timeout_ms)
{
    return timeout_ms < 0 ? 0 : zhive_clock_ms () + timeout_ms + S_GRACE_MS;
}

static int64_t
s_effective_timeout (zhive_client_t *self, const zhive_opts_t *opts)
{
    if (opts && opts->timeout_ms > 0)
        return opts->timeout_ms;
    if (opts && opts->timeout_ms < 0)
        return -1;
    return self->timeout_ms;
}

static zhive_result_t *
s_timeout_result (const char *function, int64_t timeout_ms)
{
    char text [512];
    snprintf (text, sizeof text,
              "no answer for '%s' within %lld ms (the broker did not reply in time)", function,
              (long long) timeout_ms);
    return zhive_result_new_error (ZHIVE_ERR_TIMEOUT, text, "");
}

//  Sends SUBMIT with args bytes, optionally prefixed by one byte (the
//  one-element array header a map item needs)
static int
s_send_submit (zhive_client_t *self, uint64_t id, const char *function, int64_t timeout_ms,
               int64_t retries, const char *args, size_t size, int prefix)
{
    zhive_proto_t *msg = self->msg;
    msg->routing_size = 0;
    msg->command = ZHIVE_SUBMIT;
    msg->id = id;
    zhive_proto_set_name (msg->function, function);
    msg->timeout_ms = timeout_ms;
    msg->retries = retries;
    msg->chunk = 0;
    zmq_msg_close (&msg->payload);
    size_t extra = prefix >= 0 ? 1 : 0;
    if (zmq_msg_init_size (&msg->payload, size + extra)) {
        zmq_msg_init (&msg->payload);
        return -1;
    }
    uint8_t *data = (uint8_t *) zmq_msg_data (&msg->payload);
    if (extra)
        data [0] = (uint8_t) prefix;
    memcpy (data + extra, args, size);
    msg->has_payload = true;
    return zhive_proto_send (msg, self->sock);
}

static void
s_send_cancel (zhive_client_t *self, uint64_t id)
{
    self->msg->routing_size = 0;
    self->msg->command = ZHIVE_CANCEL;
    self->msg->id = id;
    zhive_proto_send (self->msg, self->sock);
}

//  The SUBMIT retries field for opts.retries (0 = broker default = -1 on
//  the wire; ZHIVE_NO_RETRIES = 0 on the wire)
static int64_t
s_wire_retries (const zhive_opts_t *opts)
{
    if (!opts || opts->retries == 0)
        return -1;
    return opts->retries < 0 ? 0 : opts->retries;
}

//  Time a task still has until its deadline, for a (re)send: the deadline
//  counts from the first submission, not from a resend
static int64_t
s_time_left (int64_t deadline)
{
    if (deadline == 0)
        return -1;
    int64_t left = deadline - S_GRACE_MS - zhive_clock_ms ();
    return left > 1 ? left : 1;
}

//  True if data[0..size) is exactly one msgpack array
static bool
s_is_one_array (const char *data, size_t size)
{
    size_t count;
    if (zhive_msgpack_array_header (data, size, &count) == 0)
        return false;
    ssize_t length = zhive_msgpack_skip (data, size);
    return length >= 0 && (size_t) length == size;
}

static void
s_done_push (zhive_client_t *self, zhive_task_t *task)
{
    task->in_done_list = true;
    task->done_next = NULL;
    task->done_prev = self->done_tail;
    if (self->done_tail)
        self->done_tail->done_next = task;
    else
        self->done_head = task;
    self->done_tail = task;
}

static void
s_done_unlink (zhive_client_t *self, zhive_task_t *task)
{
    if (!task->in_done_list)
        return;
    if (task->done_prev)
        task->done_prev->done_next = task->done_next;
    else
        self->done_head = task->done_next;
    if (task->done_next)
        task->done_next->done_prev = task->done_prev;
    else
        self->done_tail = task->done_prev;
    task->in_done_list = false;
    task->done_prev = task->done_next = NULL;
}

//  A task got its result: store it and queue the task for wait_any
static void
s_task_finish (zhive_client_t *self, zhive_task_t *task, zhive_result_t *result)
{
    zhive_idmap_remove (self->pending, task->id);
    task->result = result;
    s_done_push (self, task);
}

//  A map item got its result
static void
s_map_finish (zhive_map_t *self, size_t index, zhive_result_t *result)
{
    zhive_result_set_index (result, index);
    self->state [index] = S_ARRIVED;
    self->results [index] = result;
    self->in_flight--;
    if (self->unordered) {
        self->ready [(self->ready_head + self->ready_size) % self->count] = index;
        self->ready_size++;
    }
}

//  Items in the message that starts at index first (1 unless chunked)
static size_t
s_map_range (zhive_map_t *self, size_t first)
{
    size_t left = self->count - first;
    return left < self->chunk ? left : self->chunk;
}

//  Sends the message for the items from index first: one task's args, or a
//  chunk (an array of the items' argument arrays) that one worker runs
static int
s_map_send (zhive_map_t *self, size_t first, int64_t timeout_ms)
{
    zhive_client_t *client = self->client;
    uint64_t id = self->base_id + first;
    if (self->chunk == 1) {
        size_t begin = self->offsets [first];
        return s_send_submit (client, id, self->function, timeout_ms, self->retries,
                              self->items + begin, self->offsets [first + 1] - begin,
                              self->star ? -1 : 0x91);
    }
    size_t count = s_map_range (self, first);
    size_t bytes = self->offsets [first + count] - self->offsets [first];
    size_t header = count < 16 ? 1 : count < 65536 ? 3 : 5;
    size_t size = header + bytes + (self->star ? 0 : count);
    zhive_proto_t *msg = client->msg;
    zmq_msg_close (&msg->payload);
    if (zmq_msg_init_size (&msg->payload, size)) {
        zmq_msg_init (&msg->payload);
        return -1;
    }
    uint8_t *data = (uint8_t *) zmq_msg_data (&msg->payload);
    if (header == 1)
        *data++ = (uint8_t) (0x90 | count);
    else if (header == 3) {
        *data++ = 0xdc;
        *data++ = (uint8_t) (count >> 8);
        *data++ = (uint8_t) count;
    }
    else {
        *data++ = 0xdd;
        for (int shift = 24; shift >= 0; shift -= 8)
            *data++ = (uint8_t) (count >> shift);
    }
    if (self->star)
        memcpy (data, self->items + self->offsets [first], bytes);
    else
        for (size_t index = first; index < first + count; index++) {
            size_t length = self->offsets [index + 1] - self->offsets [index];
            *data++ = 0x91;
            memcpy (data, self->items + self->offsets [index], length);
            data += length;
        }
    msg->has_payload = true;
    msg->routing_size = 0;
    msg->command = ZHIVE_SUBMIT;
    msg->id = id;
    zhive_proto_set_name (msg->function, self->function);
    msg->timeout_ms = timeout_ms;
    msg->retries = self->retries;
    msg->chunk = (uint32_t) count;
    return zhive_proto_send (msg, client->sock);
}

//  Every unanswered item in [first, end) gets the same error
static int
s_map_fail_range (zhive_map_t *self, size_t first, size_t end, const char *type,
                  const char *message, const char *worker)
{
    int finished = 0;
    for (size_t index = first; index < end; index++)
        if (self->state [index] == S_SENT) {
            s_map_finish (self, index, zhive_result_new_error (type, message, worker));
            finished++;
        }
    return finished;
}

//  The result of one item inside a chunk's answer: [true, value] or
//  [false, type, message, worker]
static zhive_result_t *
s_chunk_item_result (const char *data, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    if (size >= 2 && bytes [0] == 0x92 && bytes [1] == 0xc3)
        return zhive_result_new_value (data + 2, size - 2);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 512);
    msgpack_object item;
    size_t offset = 0;
    zhive_result_t *result = NULL;
    if (msgpack_unpack (data, size, &offset, &zone, &item) == MSGPACK_UNPACK_SUCCESS &&
        zhive_value_len (&item) >= 3) {
        const char *type, *message, *worker = "";
        size_t type_size, message_size, worker_size = 0;
        bool ok = true;
        if (zhive_value_bool (zhive_value_at (&item, 0), &ok) == 0 && !ok &&
            zhive_value_str (zhive_value_at (&item, 1), &type, &type_size) == 0 &&
            zhive_value_str (zhive_value_at (&item, 2), &message, &message_size) == 0) {
            zhive_value_str (zhive_value_at (&item, 3), &worker, &worker_size);
            char *texts = (char *) malloc (type_size + message_size + worker_size + 3);
            if (texts) {
                memcpy (texts, type, type_size);
                texts [type_size] = 0;
                memcpy (texts + type_size + 1, message, message_size);
                texts [type_size + 1 + message_size] = 0;
                memcpy (texts + type_size + message_size + 2, worker, worker_size);
                texts [type_size + message_size + 2 + worker_size] = 0;
                result = zhive_result_new_error (texts, texts + type_size + 1,
                                                 texts + type_size + message_size + 2);
                free (texts);
            }
        }
    }
    msgpack_zone_destroy (&zone);
    if (!result)
        result = zhive_result_new_error (ZHIVE_ERR_MALFORMED,
                                         "a chunk's item answer is not [true, value] or "
                                         "[false, type, message, worker]",
                                         "");
    return result;
}

//  A chunk's answer: an array with one entry per item, in order
static int
s_map_chunk_done (zhive_map_t *self, size_t first, const char *data, size_t size)
{
    size_t count = s_map_range (self, first);
    size_t entries = 0;
    size_t header = zhive_msgpack_array_header (data, size, &entries);
    if (header == 0 || entries != count)
        return s_map_fail_range (self, first, first + count, ZHIVE_ERR_MALFORMED,
                                 "a chunk's answer does not have one entry per item", "");
    int finished = 0;
    size_t offset = header;
    for (size_t index = first; index < first + count; index++) {
        ssize_t length = zhive_msgpack_skip (data + offset, size - offset);
        if (length < 0)
            return finished + s_map_fail_range (self, index, first + count, ZHIVE_ERR_MALFORMED,
                                                "a chunk's answer is cut short", "");
        if (self->state [index] == S_SENT) {
            s_map_finish (self, index, s_chunk_item_result (data + offset, (size_t) length));
            finished++;
        }
        offset += (size_t) length;
    }
    return finished;
}

//  The open map that owns task id, or NULL
static zhive_map_t *
s_map_of (zhive_client_t *self, uint64_t id)
{
    for (zhive_map_t *map = self->maps; map; map = map->next)
        if (id >= map->base_id && id - map->base_id < map->count)
            return map;
    return NULL;
}

//  An answer to a chunk: spread over its items (data for a value, else
//  type/message/worker for an error)
static int
s_deliver_chunk (zhive_client_t *self, zhive_map_t *map, uint64_t id, const char *data, size_t size,
                 const zhive_proto_t *error)
{
    size_t first = (size_t) (id - map->base_id);
    if (first % map->chunk != 0 || map->state [first] != S_SENT) {
        self->dropped++;
        return 0;
    }
    if (error)
        return s_map_fail_range (map, first, first + s_map_range (map, first), error->type,
                                 error->message, error->worker);
    return s_map_chunk_done (map, first, data, size);
}

//  Route one result (or error) to whoever waits for it; drops it if nobody
//  does (a destroyed task, a duplicate). Takes ownership of result.
static int
s_deliver (zhive_client_t *self, uint64_t id, zhive_result_t *result)
{
    zhive_task_t *task = (zhive_task_t *) zhive_idmap_lookup (self->pending, id);
    if (task) {
        s_task_finish (self, task, result);
        return 1;
    }
    for (zhive_map_t *map = self->maps; map; map = map->next) {
        if (id >= map->base_id && id - map->base_id < map->count) {
            size_t index = (size_t) (id - map->base_id);
            if (map->state [index] == S_SENT) {
                s_map_finish (map, index, result);
                return 1;
            }
            break;
        }
    }
    self->dropped++;
    zhive_result_destroy (&result);
    return 0;
}

//  Sends (again) the SUBMIT of an unanswered task or map item; does nothing
//  for an id that has its answer or is unknown
static void
s_resend (zhive_client_t *self, uint64_t id)
{
    zhive_task_t *task = (zhive_task_t *) zhive_idmap_lookup (self->pending, id);
    if (task) {
        s_send_submit (self, id, task->function, s_time_left (task->deadline), task->retries,
                       task->args, task->args_size, -1);
        return;
    }
    for (zhive_map_t *map = self->maps; map; map = map->next) {
        if (id >= map->base_id && id - map->base_id < map->count) {
            size_t index = (size_t) (id - map->base_id);
            if (map->state [index] == S_SENT && index % map->chunk == 0) {
                int64_t left = map->timeout_ms < 0 ? -1 : s_time_left (map->deadlines [index]);
                s_map_send (map, index, left);
            }
            return;
        }
    }
}

//  Remembers to resend id after delay_ms (after a QueueFull)
static void
s_resend_later (zhive_client_t *self, uint64_t id, int delay_ms)
{
    if (self->resends_count == self->resends_capacity) {
        size_t capacity = self->resends_capacity ? self->resends_capacity * 2 : 64;
        s_resend_t *grown = (s_resend_t *) realloc (self->resends, capacity * sizeof (s_resend_t));
        if (!grown)
            return;    //  Out of memory: the task's deadline still ends it
        self->resends = grown;
        self->resends_capacity = capacity;
    }
    self->resends [self->resends_count].id = id;
    self->resends [self->resends_count].at = zhive_clock_ms () + delay_ms;
    self->resends_count++;
}

//  Resends what is due; returns ms until the next one is due, -1 if none
static int64_t
s_run_resends (zhive_client_t *self)
{
    int64_t now = zhive_clock_ms ();
    int64_t next = -1;
    size_t kept = 0;
    for (size_t i = 0; i < self->resends_count; i++) {
        s_resend_t entry = self->resends [i];
        if (entry.at <= now)
            s_resend (self, entry.id);
        else {
            self->resends [kept++] = entry;
            if (next < 0 || entry.at - now < next)
                next = entry.at - now;
        }
    }
    self->resends_count = kept;
    return next;
}

//  Handles a QueueFull for a task or map item that asked to wait: resend it
//  later. Returns true if it was taken care of that way.
static bool
s_wait_if_full (zhive_client_t *self, uint64_t id)
{
    zhive_task_t *task = (zhive_task_t *) zhive_idmap_lookup (self->pending, id);
    if (task && task->wait_if_full) {
        s_resend_later (self, id, task->backoff_ms);
        task->backoff_ms =
            task->backoff_ms * 2 > S_BACKOFF_MAX ? S_BACKOFF_MAX : task->backoff_ms * 2;
        return true;
    }
    for (zhive_map_t *map = self->maps; map; map = map->next)
        if (id >= map->base_id && id - map->base_id < map->count) {
            if (!map->wait_if_full)
                return false;
            //  A map keeps a window in flight: the broker is full of it and
            //  others, so wait a fixed slice between tries
            s_resend_later (self, id, S_BACKOFF_MAX / 4);
            return true;
        }
    return false;
}

static void
s_collect_id (uint64_t key, void *value, void *arg)
{
    (void) value;
    zhive_client_t *self = (zhive_client_t *) arg;
    s_resend_later (self, key, 0);
}

//  After a reconnect: resend every unanswered task (the broker ignores the
//  ones it still holds and answers finished ones from what it kept)
static void
s_resend_all (zhive_client_t *self)
{
    zhive_idmap_each (self->pending, s_collect_id, self);
    for (zhive_map_t *map = self->maps; map; map = map->next)
        for (size_t index = map->oldest; index < map->next_send; index++)
            if (map->state [index] == S_SENT)
                s_resend_later (self, map->base_id + index, 0);
    s_run_resends (self);
}

//  Reads the socket monitor: counts reconnects and resends after one
static void
s_read_monitor (zhive_client_t *self)
{
    void *handle = zsock_resolve (self->monitor);
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    while (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) >= 0) {
        uint16_t event = 0;
        if (zmq_msg_size (&frame) >= 2)
            memcpy (&event, zmq_msg_data (&frame), 2);
        while (zmq_msg_more (&frame) && zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) >= 0)
            ;    //  The endpoint frame
        if (event == ZMQ_EVENT_DISCONNECTED)
            self->disconnected = true;
        else if (event == ZMQ_EVENT_CONNECTED) {
            if (self->connected_once) {
                self->reconnects++;
                s_resend_all (self);
            }
            self->connected_once = true;
            self->disconnected = false;
        }
    }
    zmq_msg_close (&frame);
}

//  Handles one message already read into self->msg. Returns 1 if a task or
//  map item finished, else 0.
static int
s_handle (zhive_client_t *self)
{
    zhive_proto_t *msg = self->msg;
    switch (msg->command) {
        case ZHIVE_PONG: self->ponged = true; return 0;
        case ZHIVE_RESULT: {
            zhive_map_t *map = s_map_of (self, msg->id);
            if (map && map->chunk > 1)
                return s_deliver_chunk (self, map, msg->id,
                                        (const char *) zmq_msg_data (&msg->payload),
                                        zmq_msg_size (&msg->payload), NULL);
            return s_deliver (self, msg->id, zhive_result_new_frame (&msg->payload));
        }
        case ZHIVE_ERROR: {
            if (msg->id == 0) {
                //  The broker could not read something we sent: a bug on one
                //  side or the other, never expected. Say so.
                zsys_warning ("zhive: broker reports %s: %s", msg->type, msg->message);
                return 0;
            }
            if (streq (msg->type, ZHIVE_ERR_QUEUE_FULL) && s_wait_if_full (self, msg->id))
                return 0;
            zhive_map_t *map = s_map_of (self, msg->id);
            if (map && map->chunk > 1)
                return s_deliver_chunk (self, map, msg->id, NULL, 0, msg);
            return s_deliver (self, msg->id,
                              zhive_result_new_error (msg->type, msg->message, msg->worker));
        }
        case ZHIVE_STATUS_REPLY:
            if (msg->id == self->status_id && !self->status)
                self->status = zhive_result_new_value (zmq_msg_data (&msg->payload),
                                                       zmq_msg_size (&msg->payload));
            return 0;
        default: return 0;    //  Nothing else is meant for clients: ignore
    }
}

//  Wait up to timeout_ms for messages and handle all that are waiting.
//  Returns the number of tasks and map items that finished, or -1 if the
//  wait was interrupted by a signal.
static int
s_pump (zhive_client_t *self, int64_t timeout_ms)
{
    zmq_pollitem_t items [] = { { zsock_resolve (self->sock), 0, ZMQ_POLLIN, 0 },
                                { zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0 } };
    //  Resends due before the caller's timeout shorten the wait
    int64_t resend_in = self->resends_count ? s_run_resends (self) : -1;
    if (resend_in >= 0 && (timeout_ms < 0 || resend_in < timeout_ms))
        timeout_ms = resend_in;
    int rc = zmq_poll (items, 2, timeout_ms < 0 ? -1 : (long) timeout_ms);
    if (rc < 0)
        return errno == EINTR ? -1 : 0;
    if (items [1].revents & ZMQ_POLLIN)
        s_read_monitor (self);
    if (self->resends_count)
        s_run_resends (self);
    if (!(items [0].revents & ZMQ_POLLIN))
        return 0;
    int finished = 0;
    //  Bounded, so one busy socket cannot starve the caller
    for (int count = 0; count < 10000; count++) {
        int rc = zhive_proto_recv (self->msg, self->sock, ZMQ_DONTWAIT);
        if (rc == -1)
            break;
        if (rc == -2)
            continue;    //  Malformed: dropped
        finished += s_handle (self);
    }
    return finished;
}

//  Milliseconds left until deadline (ms clock), -1 for none, 0 if past
static int64_t
s_remaining (int64_t deadline)
{
    if (deadline == 0)
        return -1;
    int64_t left = deadline - zhive_clock_ms ();
    return left > 0 ? left : 0;
}

//  Deadline for a caller's wait of timeout_ms (-1: forever → 0)
static int64_t
s_wait_deadline (int timeout_ms)
{
    return timeout_ms < 0 ? 0 : zhive_clock_ms () + timeout_ms;
}

//  ---------------------------------------------------------------------

//  A client, plain or (cert not NULL) a CURVE client of server_key
static zhive_client_t *
s_client_new (const char *endpoint, int timeout_ms, zcert_t *cert, const char *server_key)
{
    if (!endpoint || !*endpoint) {
        errno = EINVAL;
        return NULL;
    }
    zhive_client_t *self = (zhive_client_t *) calloc (1, sizeof (zhive_client_t));
    if (!self)
        return NULL;
    self->timeout_ms = -1;
    self->next_id = 1;
    self->heartbeat_ms = 1000;
    self->liveness = 3;
    self->endpoint = strdup (endpoint);
    self->msg = zhive_proto_new ();
    self->pending = zhive_idmap_new ();
    self->sock = zsock_new (ZMQ_DEALER);
    self->monitor = zsock_new (ZMQ_PAIR);
    if (!self->endpoint || !self->msg || !self->pending || !self->sock || !self->monitor) {
        zhive_client_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    zsock_set_sndhwm (self->sock, 0);
    zsock_set_rcvhwm (self->sock, 0);
    zsock_set_linger (self->sock, 200);
    zsock_set_maxmsgsize (self->sock, ZHIVE_MESSAGE_SIZE_MAX);
    //  One routing id for the client's life: after a reconnect the broker
    //  still knows whose tasks these are (its socket has ROUTER_HANDOVER)
    zuuid_t *uuid = zuuid_new ();
    uint8_t routing [17] = { 'C' };
    memcpy (routing + 1, zuuid_data (uuid), 16);
    zmq_setsockopt (zsock_resolve (self->sock), ZMQ_ROUTING_ID, routing, sizeof routing);
    //  Connection events tell the client when to resend after a reconnect
    char monitor_endpoint [80];
    snprintf (monitor_endpoint, sizeof monitor_endpoint, "inproc://zhive-client-monitor-%s",
              zuuid_str (uuid));
    zuuid_destroy (&uuid);
    if (zmq_socket_monitor (zsock_resolve (self->sock), monitor_endpoint,
                            ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) ||
        zsock_connect (self->monitor, "%s", monitor_endpoint)) {
        zhive_client_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    zsock_set_reconnect_ivl (self->sock, 1000);
    zsock_set_reconnect_ivl_max (self->sock, 32000);
    zhive_client_set_heartbeat (self, self->heartbeat_ms, self->liveness);
    if (cert && zhive_curve_apply_client (self->sock, cert, server_key)) {
        zhive_client_destroy (&self);
        errno = EINVAL;
        return NULL;
    }
    if (zsock_connect (self->sock, "%s", endpoint)) {
        zhive_client_destroy (&self);
        errno = EINVAL;
        return NULL;
    }
    //  A broker is there when it answers PING
    self->msg->routing_size = 0;
    self->msg->command = ZHIVE_PING;
    int64_t deadline = s_wait_deadline (timeout_ms);
    if (zhive_proto_send (self->msg, self->sock) == 0) {
        while (!self->ponged) {
            int64_t left = s_remaining (deadline);
            if (left == 0 || s_pump (self, left) < 0)
                break;
        }
    }
    if (!self->ponged) {
        zhive_client_destroy (&self);
        errno = ETIMEDOUT;
        return NULL;
    }
    return self;
}

zhive_client_t *
zhive_client_new (const char *endpoint, int timeout_ms)
{
    return s_client_new (endpoint, timeout_ms, NULL, NULL);
}

zhive_client_t *
zhive_client_new_curve (const char *endpoint, int timeout_ms, const char *secret_cert_path,
                        const char *broker_cert_path)
{
    char error [512];
    char server_key [ZHIVE_CURVE_KEY_SIZE];
    zcert_t *cert =
        zhive_curve_load_pair (secret_cert_path, broker_cert_path, server_key, error, sizeof error);
    if (!cert) {
        fprintf (stderr, "zhive: %s\n", error);
        return NULL;
    }
    zhive_client_t *self = s_client_new (endpoint, timeout_ms, cert, server_key);
    zcert_destroy (&cert);
    return self;
}

static void
s_free_task (uint64_t key, void *value, void *arg)
{
    (void) key;
    (void) arg;
    zhive_task_t *task = (zhive_task_t *) value;
    zhive_result_destroy (&task->result);
    free (task->args);
    free (task);
}

void
zhive_client_destroy (zhive_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_client_t *self = *self_p;
    while (self->maps) {
        zhive_map_t *map = self->maps;
        zhive_map_destroy (&map);
    }
    //  Tasks still pending, then tasks finished but not destroyed
    if (self->pending) {
        zhive_idmap_each (self->pending, s_free_task, NULL);
        zhive_idmap_destroy (&self->pending);
    }
    while (self->done_head) {
        zhive_task_t *task = self->done_head;
        s_done_unlink (self, task);
        s_free_task (0, task, NULL);
    }
    zhive_result_destroy (&self->status);
    if (self->sock && self->monitor)
        zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->sock);
    free (self->resends);
    zhive_proto_destroy (&self->msg);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

void
zhive_client_set_heartbeat (zhive_client_t *self, int interval_ms, int liveness)
{
    self->heartbeat_ms = interval_ms > 0 ? interval_ms : 1000;
    self->liveness = liveness > 0 ? liveness : 3;
    zsock_set_heartbeat_ivl (self->sock, self->heartbeat_ms);
    zsock_set_heartbeat_timeout (self->sock, self->heartbeat_ms * self->liveness);
    zsock_set_heartbeat_ttl (self->sock, self->heartbeat_ms * self->liveness);
}

uint64_t
zhive_client_dropped (zhive_client_t *self)
{
    return self->dropped;
}

uint64_t
zhive_client_reconnects (zhive_client_t *self)
{
    s_pump (self, 0);
    return self->reconnects;
}

void
zhive_client_set_timeout (zhive_client_t *self, int timeout_ms)
{
    self->timeout_ms = timeout_ms <= 0 ? -1 : timeout_ms;
}

zsock_t *
zhive_client_socket (zhive_client_t *self)
{
    return self->sock;
}

int
zhive_client_fd (zhive_client_t *self)
{
    return zsock_fd (self->sock);
}

int
zhive_client_process (zhive_client_t *self)
{
    int finished = s_pump (self, 0);
    return finished < 0 ? 0 : finished;
}

//  ---------------------------------------------------------------------
//  Single tasks

zhive_task_t *
zhive_client_submit (zhive_client_t *self, const char *function, const zhive_pack_t *args,
                     const zhive_opts_t *opts)
{
    const char *data = args ? zhive_pack_data (args) : "\x90";
    size_t size = args ? zhive_pack_size (args) : 1;
    if (!function || !*function || strlen (function) > ZHIVE_NAME_MAX ||
        !s_is_one_array (data, size)) {
        errno = EINVAL;
        return NULL;
    }
    zhive_task_t *task = (zhive_task_t *) calloc (1, sizeof (zhive_task_t));
    if (!task)
        return NULL;
    task->client = self;
    task->id = self->next_id++;
    int64_t timeout_ms = s_effective_timeout (self, opts);
    task->deadline = s_deadline (timeout_ms);
    task->timeout_ms = timeout_ms;
    task->retries = s_wire_retries (opts);
    task->wait_if_full = opts && opts->wait_if_full;
    task->backoff_ms = S_BACKOFF_MS;
    zhive_proto_set_name (task->function, function);
    task->args = (char *) malloc (size);
    if (!task->args || zhive_idmap_insert (self->pending, task->id, task)) {
        free (task->args);
        free (task);
        errno = ENOMEM;
        return NULL;
    }
    memcpy (task->args, data, size);
    task->args_size = size;
    if (s_send_submit (self, task->id, function, timeout_ms, task->retries, data, size, -1)) {
        char text [256];
        snprintf (text, sizeof text, "could not send to the broker: %s", strerror (errno));
        s_task_finish (self, task, zhive_result_new_error (ZHIVE_ERR_NO_BROKER, text, ""));
    }
    return task;
}

//  Finishes the task with a Timeout if its backstop deadline has passed
static void
s_task_check_deadline (zhive_task_t *self)
{
    if (!self->result && self->deadline && zhive_clock_ms () >= self->deadline)
        s_task_finish (self->client, self, s_timeout_result (self->function, self->timeout_ms));
}

zhive_result_t *
zhive_task_wait (zhive_task_t *self, int timeout_ms)
{
    int64_t deadline = s_wait_deadline (timeout_ms);
    if (!self->result && !self->taken)
        s_pump (self->client, 0);
    while (!self->result && !self->taken) {
        s_task_check_deadline (self);
        if (self->result)
            break;
        //  Wake for the caller's deadline or the task's, whichever is first
        int64_t left = s_remaining (deadline);
        int64_t task_left = s_remaining (self->deadline);
        if (task_left >= 0 && (left < 0 || task_left < left))
            left = task_left + 1;
        if (left == 0 && deadline)
            break;
        if (s_pump (self->client, left) < 0)
            break;
        if (deadline && zhive_clock_ms () >= deadline && !self->result)
            break;
    }
    return self->taken ? NULL : self->result;
}

bool
zhive_task_done (zhive_task_t *self)
{
    if (!self->result && !self->taken) {
        s_pump (self->client, 0);
        s_task_check_deadline (self);
    }
    return self->result != NULL || self->taken;
}

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

int
zhive_task_cancel (zhive_task_t *self)
{
    if (self->result || self->taken)
        return -1;
    s_send_cancel (self->client, self->id);
    s_task_finish (self->client, self,
                   zhive_result_new_error (ZHIVE_ERR_CANCELLED, "cancelled by the client", ""));
    return 0;
}

uint64_t
zhive_task_id (const zhive_task_t *self)
{
    return self->id;
}

void
zhive_task_destroy (zhive_task_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_task_t *self = *self_p;
    //  Still unanswered: nobody wants it now, so the broker need not run it
    if (zhive_idmap_remove (self->client->pending, self->id))
        s_send_cancel (self->client, self->id);
    s_done_unlink (self->client, self);
    zhive_result_destroy (&self->result);
    free (self->args);
    free (self);
    *self_p = NULL;
}

//  Collects pending tasks whose backstop deadline has passed
typedef struct {
    int64_t now;                 //  Clock at the scan
    zhive_task_t *found [64];    //  Expired tasks (at most 64 per scan)
    size_t count;                //  How many found
} s_expiry_scan_t;

static void
s_collect_expired (uint64_t key, void *value, void *arg)
{
    (void) key;
    s_expiry_scan_t *scan = (s_expiry_scan_t *) arg;
    zhive_task_t *task = (zhive_task_t *) value;
    if (task->deadline && scan->now >= task->deadline && scan->count < 64)
        scan->found [scan->count++] = task;
}

zhive_task_t *
zhive_client_wait_any (zhive_client_t *self, int timeout_ms)
{
    int64_t deadline = s_wait_deadline (timeout_ms);
    while (!self->done_head) {
        int64_t left = s_remaining (deadline);
        //  Wake at least every 100 ms to apply tasks' backstop deadlines
        int64_t slice = left < 0 || left > 100 ? 100 : left;
        if (s_pump (self, slice) < 0)
            break;
        if (!self->done_head) {
            s_expiry_scan_t scan = { zhive_clock_ms (), { NULL }, 0 };
            zhive_idmap_each (self->pending, s_collect_expired, &scan);
            for (size_t i = 0; i < scan.count; i++)
                s_task_check_deadline (scan.found [i]);
        }
        if (left == 0 && deadline)
            break;
    }
    zhive_task_t *task = self->done_head;
    if (task)
        s_done_unlink (self, task);
    return task;
}

zhive_result_t *
zhive_client_apply (zhive_client_t *self, const char *function, const zhive_pack_t *args,
                    const zhive_opts_t *opts)
{
    zhive_task_t *task = zhive_client_submit (self, function, args, opts);
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
//  Maps

static void
s_map_send_more (zhive_map_t *self)
{
    while (self->next_send < self->count && self->in_flight < self->window) {
        size_t first = self->next_send;
        size_t count = s_map_range (self, first);
        int64_t deadline = self->timeout_ms >= 0 ? s_deadline (self->timeout_ms) : 0;
        for (size_t index = first; index < first + count; index++) {
            self->deadlines [index] = deadline;
            self->state [index] = S_SENT;
        }
        self->in_flight += count;
        self->next_send += count;
        if (s_map_send (self, first, self->timeout_ms)) {
            char text [256];
            snprintf (text, sizeof text, "could not send to the broker: %s", strerror (errno));
            s_map_fail_range (self, first, first + count, ZHIVE_ERR_NO_BROKER, text, "");
        }
    }
}

static zhive_map_t *
s_map_new (zhive_client_t *client, const char *function, const zhive_pack_t *items,
           const zhive_opts_t *opts, bool star)
{
    if (!function || !*function || strlen (function) > ZHIVE_NAME_MAX || !items) {
        errno = EINVAL;
        return NULL;
    }
    const char *data = zhive_pack_data (items);
    size_t size = zhive_pack_size (items);
    //  Split the items, checking each is one valid value (an array for starmap)
    size_t count = 0;
    for (size_t offset = 0; offset < size; count++) {
        ssize_t length = zhive_msgpack_skip (data + offset, size - offset);
        if (length < 0 || (star && !s_is_one_array (data + offset, (size_t) length))) {
            errno = EINVAL;
            return NULL;
        }
        offset += (size_t) length;
    }
    zhive_map_t *self = (zhive_map_t *) calloc (1, sizeof (zhive_map_t));
    if (!self)
        return NULL;
    self->client = client;
    zhive_proto_set_name (self->function, function);
    self->star = star;
    self->unordered = opts && opts->unordered;
    self->timeout_ms = s_effective_timeout (client, opts);
    self->window = opts && opts->window > 0 ? (size_t) opts->window : S_WINDOW_DEFAULT;
    self->retries = s_wire_retries (opts);
    self->wait_if_full = opts && opts->wait_if_full;
    self->chunk = opts && opts->chunksize > 1 ? (size_t) opts->chunksize : 1;
    if (self->chunk > ZHIVE_CHUNK_MAX)
        self->chunk = ZHIVE_CHUNK_MAX;
    //  Keep several chunks in flight unless the caller chose a window
    if (self->chunk > 1 && !(opts && opts->window > 0) && self->window < 8 * self->chunk)
        self->window = 8 * self->chunk;
    self->count = count;
    self->items = (char *) malloc (size ? size : 1);
    self->offsets = (size_t *) malloc ((count + 1) * sizeof (size_t));
    self->state = (uint8_t *) calloc (count ? count : 1, 1);
    self->results = (zhive_result_t **) calloc (count ? count : 1, sizeof (zhive_result_t *));
    self->deadlines = (int64_t *) calloc (count ? count : 1, sizeof (int64_t));
    if (self->unordered)
        self->ready = (size_t *) malloc ((count ? count : 1) * sizeof (size_t));
    if (!self->items || !self->offsets || !self->state || !self->results || !self->deadlines ||
        (self->unordered && !self->ready)) {
        zhive_map_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    memcpy (self->items, data, size);
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        self->offsets [i] = offset;
        offset += (size_t) zhive_msgpack_skip (data + offset, size - offset);
    }
    self->offsets [count] = offset;
    self->base_id = client->next_id;
    client->next_id += count;
    //  Link into the client's open maps
    self->next = client->maps;
    if (client->maps)
        client->maps->prev = self;
    client->maps = self;
    s_map_send_more (self);
    return self;
}

zhive_map_t *
zhive_client_map (zhive_client_t *self, const char *function, const zhive_pack_t *items,
                  const zhive_opts_t *opts)
{
    return s_map_new (self, function, items, opts, false);
}

zhive_map_t *
zhive_client_starmap (zhive_client_t *self, const char *function, const zhive_pack_t *items,
                      const zhive_opts_t *opts)
{
    return s_map_new (self, function, items, opts, true);
}

//  Gives a Timeout to the oldest items whose backstop deadline passed.
//  Items are sent in order with the same timeout, so deadlines rise with
//  the index and only the oldest outstanding ones need looking at.
static void
s_map_check_deadlines (zhive_map_t *self)
{
    int64_t now = zhive_clock_ms ();
    while (self->oldest < self->next_send) {
        size_t index = self->oldest;
        if (self->state [index] == S_SENT) {
            if (self->timeout_ms < 0 || now < self->deadlines [index])
                break;
            s_map_finish (self, index, s_timeout_result (self->function, self->timeout_ms));
        }
        self->oldest++;
    }
}

//  Takes the next result to return, if one is there
static zhive_result_t *
s_map_take (zhive_map_t *self)
{
    size_t index;
    if (self->unordered) {
        if (self->ready_size == 0)
            return NULL;
        index = self->ready [self->ready_head];
        self->ready_head = (self->ready_head + 1) % self->count;
        self->ready_size--;
    }
    else {
        index = self->next_return;
        if (index >= self->count || self->state [index] != S_ARRIVED)
            return NULL;
        self->next_return++;
    }
    zhive_result_t *result = self->results [index];
    self->results [index] = NULL;
    self->state [index] = S_RETURNED;
    self->returned++;
    return result;
}

zhive_result_t *
zhive_map_next (zhive_map_t *self, int timeout_ms)
{
    if (self->returned == self->count) {
        errno = 0;
        return NULL;
    }
    int64_t deadline = s_wait_deadline (timeout_ms);
    while (true) {
        s_map_check_deadlines (self);
        zhive_result_t *result = s_map_take (self);
        if (result) {
            s_map_send_more (self);
            return result;
        }
        int64_t left = s_remaining (deadline);
        if (left == 0 && deadline)
            break;
        //  Wake at least every 100 ms to apply backstop deadlines
        int64_t slice = left < 0 || left > 100 ? 100 : left;
        if (s_pump (self->client, slice) < 0)
            break;
        s_map_send_more (self);
    }
    errno = ETIMEDOUT;
    return NULL;
}

size_t
zhive_map_size (const zhive_map_t *self)
{
    return self->count;
}

size_t
zhive_map_returned (const zhive_map_t *self)
{
    return self->returned;
}

void
zhive_map_destroy (zhive_map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_map_t *self = *self_p;
    zhive_client_t *client = self->client;
    if (self->prev)
        self->prev->next = self->next;
    else if (client->maps == self)
        client->maps = self->next;
    if (self->next)
        self->next->prev = self->prev;
    if (self->state)
        for (size_t index = self->oldest; index < self->next_send; index++)
            if (self->state [index] == S_SENT)
                s_send_cancel (client, self->base_id + index);
    if (self->results)
        for (size_t i = 0; i < self->count; i++)
            zhive_result_destroy (&self->results [i]);
    free (self->items);
    free (self->offsets);
    free (self->state);
    free (self->results);
    free (self->deadlines);
    free (self->ready);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------

zhive_result_t *
zhive_client_status (zhive_client_t *self, int timeout_ms)
{
    zhive_result_destroy (&self->status);
    self->status_id = self->next_id++;
    self->msg->routing_size = 0;
    self->msg->command = ZHIVE_STATUS;
    self->msg->id = self->status_id;
    if (zhive_proto_send (self->msg, self->sock))
        return zhive_result_new_error (ZHIVE_ERR_NO_BROKER, "could not send to the broker", "");
    int64_t deadline = s_wait_deadline (timeout_ms);
    while (!self->status) {
        int64_t left = s_remaining (deadline);
        if ((left == 0 && deadline) || s_pump (self, left) < 0)
            break;
    }
    zhive_result_t *status = self->status;
    self->status = NULL;
    if (!status) {
        char text [256];
        snprintf (text, sizeof text, "no status from the broker at %s within %d ms", self->endpoint,
                  timeout_ms);
        status = zhive_result_new_error (ZHIVE_ERR_TIMEOUT, text, "");
    }
    return status;
}
