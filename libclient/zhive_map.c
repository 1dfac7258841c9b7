/*  =========================================================================
    zhive_map - run a function over many items: map and starmap

    A map owns a contiguous block of task ids [base, base + count): item i
    has id base + i, so a map of a million items needs no per-item table
    entry in its client. It keeps at most a window of items in flight,
    returns results in input order or as they complete, and may send items
    in chunks (common/zhive_chunk: one message each way for many items;
    the chunk's id is its first item's).
    =========================================================================
*/
#include "zhive_client_private.h"
#include "zhive_chunk.h"

#define S_WINDOW_DEFAULT 1000    //  Tasks a map keeps in flight

//  States of a map item
#define S_UNSENT   0
#define S_SENT     1    //  In flight: queued in the client, or sent
#define S_ARRIVED  2
#define S_RETURNED 3
//  Flag on the first item of a message whose SUBMIT waits in the client
#define S_QUEUED 0x80

struct _zhive_map_t {
    zhive_owner_t owner;                   //  Its block of ids in the client's owner table
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
    uint8_t *state;                        //  S_UNSENT .. S_RETURNED per item, and S_QUEUED
    int64_t *dues;                         //  Deadline per item, ms clock (when timeout_ms >= 0)
    zhive_result_t **results;              //  Arrived, not yet returned
    size_t *ready;                         //  Unordered: indices arrived, FIFO ring
    size_t ready_head;                     //  Next to return
    size_t ready_size;                     //  How many are in the ring
    size_t next_send;                      //  Items sent so far
    size_t next_return;                    //  Ordered: next index to return
    size_t oldest;                         //  Lowest index not yet arrived
    size_t returned;                       //  Results handed out
    size_t in_flight;                      //  Sent and not arrived
};

#define S_MAP(owner) ZHIVE_OWNER_ITEM (owner, zhive_map_t, owner)

//  ---------------------------------------------------------------------
//  An item's state without the S_QUEUED flag
static int
s_state (const zhive_map_t *self, size_t index)
{
    return self->state [index] & ~S_QUEUED;
}

//  ---------------------------------------------------------------------
//  Items in the message that starts at index first (1 unless chunked)
static size_t
s_range (zhive_map_t *self, size_t first)
{
    size_t left = self->count - first;
    return left < self->chunk ? left : self->chunk;
}

//  ---------------------------------------------------------------------
//  A map item got its result
static void
s_finish (zhive_map_t *self, size_t index, zhive_result_t *result)
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

//  ---------------------------------------------------------------------
//  Every unanswered item in [first, end) gets the same error
static int
s_fail_range (zhive_map_t *self, size_t first, size_t end, const char *type, const char *message,
              const char *worker)
{
    int finished = 0;
    for (size_t index = first; index < end; index++)
        if (s_state (self, index) == S_SENT) {
            s_finish (self, index, zhive_result_new_error (type, message, worker));
            finished++;
        }
    return finished;
}

//  ---------------------------------------------------------------------
//  A chunk's answer: an array with one entry per item, in order
static int
s_chunk_done (zhive_map_t *self, size_t first, const void *data, size_t size)
{
    size_t count = s_range (self, first);
    zhive_reader_t reader;
    if (zhive_chunk_answer_open (&reader, data, size, count))
        return s_fail_range (self, first, first + count, ZHIVE_ERR_MALFORMED,
                             "a chunk's answer does not have one entry per item", "");
    int finished = 0;
    for (size_t index = first; index < first + count; index++) {
        zhive_result_t *result = zhive_chunk_answer_next (&reader);
        if (!result)
            return finished + s_fail_range (self, index, first + count, ZHIVE_ERR_MALFORMED,
                                            "a chunk's answer is cut short", "");
        if (s_state (self, index) == S_SENT) {
            s_finish (self, index, result);
            finished++;
        }
        else
            zhive_result_destroy (&result);
    }
    return finished;
}

//  ---------------------------------------------------------------------
//  Queues the message that starts at index first to be sent after delay_ms
static bool
s_queue (zhive_map_t *self, size_t first, int delay_ms)
{
    if (zhive_client_queue (self->owner.client, self->owner.base + first, delay_ms))
        return false;
    self->state [first] |= S_QUEUED;
    return true;
}

//  ---------------------------------------------------------------------
//  Gives a Timeout to the oldest items whose deadline passed, and tells
//  the broker to drop their messages. Items are sent in order with the
//  same timeout, so deadlines rise with the index and only the oldest
//  outstanding ones need looking at; the map's deadline in the client is
//  the oldest outstanding item's.
static int
s_check_deadlines (zhive_map_t *self, int64_t now)
{
    int finished = 0;
    zhive_client_t *client = self->owner.client;
    while (self->oldest < self->next_send) {
        size_t index = self->oldest;
        if (s_state (self, index) == S_SENT) {
            if (self->timeout_ms < 0 || now < self->dues [index])
                break;
            if (index % self->chunk == 0 && !(self->state [index] & S_QUEUED)) {
                zhive_client_send_cancel (client, self->owner.base + index);
                zhive_client_expect_late (client, self->owner.base + index);
            }
            s_finish (self, index, zhive_timeout_result (self->function, self->timeout_ms));
            finished++;
        }
        self->oldest++;
    }
    bool open = self->timeout_ms >= 0 && self->oldest < self->next_send;
    zhive_client_arm (client, &self->owner, open ? self->dues [self->oldest] : 0);
    return finished;
}

//  ---------------------------------------------------------------------
//  Sends the message for the items from the one with id: one task's args,
//  or a chunk (an array of the items' argument arrays) that one worker runs
static int
s_map_send (zhive_owner_t *owner, uint64_t id)
{
    zhive_map_t *self = S_MAP (owner);
    size_t first = (size_t) (id - owner->base);
    if (!(self->state [first] & S_QUEUED))
        return 0;
    if (s_state (self, first) != S_SENT) {
        self->state [first] &= ~S_QUEUED;
        return 0;
    }
    size_t count = s_range (self, first);
    zmq_msg_t payload;
    if (self->chunk == 1) {
        static const uint8_t wrap = 0x91;    //  A map item is the one argument
        size_t begin = self->offsets [first];
        if (zhive_payload_init (&payload, &wrap, self->star ? 0 : 1, self->items + begin,
                                self->offsets [first + 1] - begin)) {
            errno = ENOMEM;
            return -1;
        }
    }
    else {
        size_t bytes = self->offsets [first + count] - self->offsets [first];
        size_t size = zhive_chunk_request_size (count, bytes, !self->star);
        if (zmq_msg_init_size (&payload, size)) {
            errno = ENOMEM;
            return -1;
        }
        zhive_chunk_request_write ((uint8_t *) zmq_msg_data (&payload), self->items,
                                   self->offsets + first, count, !self->star);
    }
    int64_t left = self->timeout_ms < 0 ? -1 : zhive_time_left (self->dues [first]);
    int rc = zhive_client_send_submit (owner->client, id, self->function, left, self->retries,
                                       self->chunk == 1 ? 0 : (uint32_t) count, &payload);
    int error = errno;
    zmq_msg_close (&payload);
    if (rc == 0)
        self->state [first] &= ~S_QUEUED;
    errno = error;
    return rc;
}

//  ---------------------------------------------------------------------
//  Takes the answer for one item or one chunk (owner op)
static int
s_map_deliver (zhive_owner_t *owner, uint64_t id, zhive_answer_t *answer)
{
    zhive_map_t *self = S_MAP (owner);
    size_t first = (size_t) (id - owner->base);
    if (first % self->chunk != 0 || s_state (self, first) != S_SENT)
        return -1;
    if (self->chunk == 1) {
        s_finish (self, first, zhive_answer_result (answer));
        return 1;
    }
    if (!answer->value)
        return s_fail_range (self, first, first + s_range (self, first), answer->type,
                             answer->message, answer->worker);
    return s_chunk_done (self, first, zmq_msg_data (answer->value), zmq_msg_size (answer->value));
}

//  ---------------------------------------------------------------------
//  After QueueFull, resends later if the map was asked to wait (owner op)
static bool
s_map_queue_full (zhive_owner_t *owner, uint64_t id)
{
    zhive_map_t *self = S_MAP (owner);
    size_t first = (size_t) (id - owner->base);
    if (!self->wait_if_full || first % self->chunk != 0 || s_state (self, first) != S_SENT)
        return false;
    //  A map keeps a window in flight: the broker is full of it and others,
    //  so wait a fixed slice between tries
    return s_queue (self, first, ZHIVE_BACKOFF_MAX / 4);
}

//  ---------------------------------------------------------------------
//  Queues every item or chunk in flight again (owner op)
static void
s_map_reconnected (zhive_owner_t *owner)
{
    zhive_map_t *self = S_MAP (owner);
    for (size_t index = self->oldest; index < self->next_send; index++)
        if (index % self->chunk == 0 && self->state [index] == S_SENT)
            s_queue (self, index, 0);
}

//  ---------------------------------------------------------------------
//  Gives Timeouts to items past their backstop (owner op)
static int
s_map_expire (zhive_owner_t *owner, int64_t now)
{
    return s_check_deadlines (S_MAP (owner), now);
}

//  ---------------------------------------------------------------------
//  Destroys the map with its client (owner op)
static void
s_map_destroy (zhive_owner_t *owner)
{
    zhive_map_t *self = S_MAP (owner);
    zhive_map_destroy (&self);
}

static const zhive_owner_ops_t s_map_ops = { s_map_send,        s_map_deliver, s_map_queue_full,
                                             s_map_reconnected, s_map_expire,  NULL,
                                             s_map_destroy };

//  ---------------------------------------------------------------------
//  Puts more items in flight, up to the window, and sends them
static void
s_send_more (zhive_map_t *self)
{
    bool queued = false;
    while (self->next_send < self->count && self->in_flight < self->window) {
        size_t first = self->next_send;
        size_t count = s_range (self, first);
        int64_t due = self->timeout_ms >= 0 ? zhive_clock_ms () + self->timeout_ms : 0;
        for (size_t index = first; index < first + count; index++) {
            self->dues [index] = due;
            self->state [index] = S_SENT;
        }
        self->in_flight += count;
        self->next_send += count;
        size_t bytes = self->offsets [first + count] - self->offsets [first];
        size_t payload = self->chunk == 1 ? bytes + !self->star
                                          : zhive_chunk_request_size (count, bytes, !self->star);
        if (payload > (size_t) ZHIVE_PAYLOAD_MAX) {
            //  libzmq would drop the connection on it: each item fails at once
            char message [256];
            snprintf (message, sizeof message,
                      "the args of '%.64s' would be %zu bytes, over the message limit of %lld "
                      "bytes (256 MiB less header room)",
                      self->function, payload, (long long) ZHIVE_PAYLOAD_MAX);
            s_fail_range (self, first, first + count, ZHIVE_ERR_TOO_LARGE, message, "");
        }
        else if (s_queue (self, first, 0))
            queued = true;
        else
            s_fail_range (self, first, first + count, ZHIVE_ERR_NO_BROKER,
                          "could not queue the task: out of memory", "");
    }
    if (queued)
        zhive_client_flush (self->owner.client);
    if (self->timeout_ms >= 0 && self->oldest < self->next_send &&
        !zhive_heap_node_queued (&self->owner.deadline))
        zhive_client_arm (self->owner.client, &self->owner, self->dues [self->oldest]);
}

//  ---------------------------------------------------------------------
//  A map or starmap of function over items, its first window sent
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
        if (length < 0 || (star && !zhive_is_one_array (data + offset, (size_t) length))) {
            errno = EINVAL;
            return NULL;
        }
        offset += (size_t) length;
    }
    zhive_map_t *self = (zhive_map_t *) calloc (1, sizeof (zhive_map_t));
    if (!self)
        return NULL;
    zhive_link_init (&self->owner.link);
    zhive_link_init (&self->owner.notify);
    zhive_heap_node_init (&self->owner.deadline);
    self->owner.client = client;
    zhive_proto_set_name (self->function, function);
    self->star = star;
    self->unordered = opts && opts->unordered;
    self->timeout_ms = zhive_client_task_timeout (client, opts);
    self->window = opts && opts->window > 0 ? (size_t) opts->window : S_WINDOW_DEFAULT;
    self->retries = zhive_wire_retries (opts);
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
    self->dues = (int64_t *) calloc (count ? count : 1, sizeof (int64_t));
    if (self->unordered)
        self->ready = (size_t *) malloc ((count ? count : 1) * sizeof (size_t));
    if (!self->items || !self->offsets || !self->state || !self->results || !self->dues ||
        (self->unordered && !self->ready) ||
        zhive_client_attach (client, &self->owner, &s_map_ops, count)) {
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
    s_send_more (self);
    return self;
}

//  ---------------------------------------------------------------------
//  Run function once per item (each item is its one argument)

zhive_map_t *
zhive_client_map (zhive_client_t *self, const char *function, const zhive_pack_t *items,
                  const zhive_opts_t *opts)
{
    return s_map_new (self, function, items, opts, false);
}

//  ---------------------------------------------------------------------
//  Run function once per item (each item is an argument array)

zhive_map_t *
zhive_client_starmap (zhive_client_t *self, const char *function, const zhive_pack_t *items,
                      const zhive_opts_t *opts)
{
    return s_map_new (self, function, items, opts, true);
}

//  ---------------------------------------------------------------------
//  Takes the next result to return, if one is there
static zhive_result_t *
s_take (zhive_map_t *self)
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

//  ---------------------------------------------------------------------
//  Next result: 1 with *result set, 0 at the end, -1 if none came within
//  timeout_ms

int
zhive_map_take (zhive_map_t *self, int timeout_ms, zhive_result_t **result)
{
    *result = NULL;
    if (self->returned == self->count)
        return 0;
    int64_t deadline = zhive_wait_deadline (timeout_ms);
    while (true) {
        //  The pump applies deadlines as they pass (the client's heap)
        *result = s_take (self);
        if (*result) {
            s_send_more (self);
            return 1;
        }
        int64_t left = zhive_wait_remaining (deadline);
        if (left == 0 && deadline)
            return -1;
        if (zhive_client_pump (self->owner.client, left) < 0)
            return -1;
        s_send_more (self);
    }
}

//  ---------------------------------------------------------------------
//  Next result, or NULL at the end (errno 0) or on timeout (ETIMEDOUT)

zhive_result_t *
zhive_map_next (zhive_map_t *self, int timeout_ms)
{
    zhive_result_t *result;
    int rc = zhive_map_take (self, timeout_ms, &result);
    if (rc <= 0)
        errno = rc == 0 ? 0 : ETIMEDOUT;
    return result;
}

//  ---------------------------------------------------------------------
//  True once every result has been returned

bool
zhive_map_done (const zhive_map_t *self)
{
    return self->returned == self->count;
}

//  ---------------------------------------------------------------------
//  Number of items

size_t
zhive_map_size (const zhive_map_t *self)
{
    return self->count;
}

//  ---------------------------------------------------------------------
//  Number of results returned so far
size_t
zhive_map_returned (const zhive_map_t *self)
{
    return self->returned;
}

//  ---------------------------------------------------------------------
//  Destroy the map; items in flight are cancelled at the broker

void
zhive_map_destroy (zhive_map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_map_t *self = *self_p;
    zhive_client_t *client = self->owner.client;
    zhive_client_detach (client, &self->owner);
    if (self->state)
        for (size_t index = self->oldest; index < self->next_send; index++)
            if (index % self->chunk == 0 && self->state [index] == S_SENT)
                zhive_client_send_cancel (client, self->owner.base + index);
    if (self->results)
        for (size_t i = 0; i < self->count; i++)
            zhive_result_destroy (&self->results [i]);
    free (self->items);
    free (self->offsets);
    free (self->state);
    free (self->results);
    free (self->dues);
    free (self->ready);
    free (self);
    *self_p = NULL;
}
