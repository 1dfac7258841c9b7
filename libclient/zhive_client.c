/*  =========================================================================
    zhive_client - the connection to a zhive broker

    One DEALER socket (zhive_socket: finite high-water marks, heartbeats,
    reconnects) and its monitor. The client sends what its owners queue,
    keeps what a full pipe refuses (EAGAIN) for a later call, resends
    every unanswered id after a reconnect, and routes every message from
    the broker by task id to the owner of that id: a task (zhive_task.c)
    or a map (zhive_map.c), through the owner's ops only.
    =========================================================================
*/
#include "zhive_client_private.h"
#include <limits.h>
#include "zhive_curve.h"
#include "zhive_idmap.h"
#include "zhive_late.h"
#include "zhive_log.h"
#include "zhive_signals.h"
#include "zhive_socket.h"

#define S_QUEUE_MIN 64    //  First allocation of the send queue and the later list

//  An id to queue once its delay has passed (a resend after QueueFull)
typedef struct {
    uint64_t id;    //  Task id
    int64_t at;     //  When, ms clock
} s_later_t;

struct _zhive_client_t {
    zsock_t *sock;               //  DEALER to the broker's client endpoint
    char *endpoint;              //  Where it is connected
    zhive_proto_t *msg;          //  Reused message for sends and receives
    uint64_t next_id;            //  Next task id to hand out
    int64_t timeout_ms;          //  Default task deadline, -1 none
    zhive_idmap_t *singles;      //  id -> owner, for owners of one id (tasks)
    zhive_list_t single_list;    //  The same owners, in attach order
    zhive_list_t blocks;         //  Owners of more ids (maps), searched by range
    zhive_list_t finished;       //  Finished tasks not yet given by wait_any
    zsock_t *monitor;            //  Connection events of sock (PAIR)
    bool connected_once;         //  A first connection was made
    uint64_t reconnects;         //  Reconnections so far
    uint64_t dropped;            //  Answers nobody wanted (duplicates, cancelled)
    int heartbeat_ms;            //  ZMTP heartbeat interval, clamped
    int liveness;                //  Intervals of silence before the broker is gone, clamped
    uint64_t *queue;             //  Ids to send, a FIFO ring
    size_t queue_head;           //  Index of the oldest
    size_t queue_size;           //  Ids in the ring
    size_t queue_capacity;       //  Entries allocated
    bool blocked;                //  The last send found the pipe full
    s_later_t *later;            //  Ids to queue after a delay
    size_t later_count;          //  Entries used
    size_t later_capacity;       //  Entries allocated
    bool ponged;                 //  A PONG arrived since the last PING
    uint64_t status_id;          //  Id of the STATUS being waited for
    zhive_result_t *status;      //  Its reply once it arrived
    zhive_heap_t deadlines;      //  Owners by their next deadline
    zhive_list_t notify;         //  Owners whose callbacks are to run
    zhive_late_t *late;          //  Ids whose late answer is expected (the client ended them)
};

//  ---------------------------------------------------------------------
//  Attach an owner to a new block of ids

int
zhive_client_attach (zhive_client_t *self, zhive_owner_t *owner, const zhive_owner_ops_t *ops,
                     size_t count)
{
    owner->ops = ops;
    owner->client = self;
    owner->base = self->next_id;
    owner->count = count;
    zhive_link_init (&owner->link);
    zhive_link_init (&owner->notify);
    zhive_heap_node_init (&owner->deadline);
    if (count == 1) {
        if (zhive_idmap_insert (self->singles, owner->base, owner))
            return -1;
        zhive_list_push_back (&self->single_list, &owner->link);
    }
    else
        zhive_list_push_back (&self->blocks, &owner->link);
    self->next_id += count;
    return 0;
}

//  ---------------------------------------------------------------------
//  Detach an owner; safe if it is not attached
void
zhive_client_detach (zhive_client_t *self, zhive_owner_t *owner)
{
    if (zhive_heap_node_queued (&owner->deadline))
        zhive_heap_remove (&self->deadlines, &owner->deadline);
    if (zhive_link_listed (&owner->notify))
        zhive_list_remove (&self->notify, &owner->notify);
    if (!zhive_link_listed (&owner->link))
        return;
    if (owner->count == 1) {
        zhive_idmap_remove (self->singles, owner->base);
        zhive_list_remove (&self->single_list, &owner->link);
    }
    else
        zhive_list_remove (&self->blocks, &owner->link);
}

//  ---------------------------------------------------------------------
//  The owner of task id, or NULL
static zhive_owner_t *
s_owner_of (zhive_client_t *self, uint64_t id)
{
    zhive_owner_t *owner = (zhive_owner_t *) zhive_idmap_lookup (self->singles, id);
    if (owner)
        return owner;
    for (zhive_link_t *link = zhive_list_first (&self->blocks); link;
         link = zhive_list_next (&self->blocks, link)) {
        owner = ZHIVE_LIST_ITEM (link, zhive_owner_t, link);
        if (id >= owner->base && id - owner->base < owner->count)
            return owner;
    }
    return NULL;
}

//  ---------------------------------------------------------------------
//  Calls fn on every owner: tasks, then maps
static void
s_each_owner (zhive_client_t *self, void (*fn) (zhive_owner_t *owner, void *arg), void *arg)
{
    zhive_list_t *lists [] = { &self->single_list, &self->blocks };
    for (int i = 0; i < 2; i++) {
        zhive_link_t *link = zhive_list_first (lists [i]);
        while (link) {
            zhive_link_t *next = zhive_list_next (lists [i], link);
            fn (ZHIVE_LIST_ITEM (link, zhive_owner_t, link), arg);
            link = next;
        }
    }
}

//  ---------------------------------------------------------------------
//  Apply the deadlines that passed: each owner due is taken out of the
//  heap, then asked to expire (it may arm itself again, later)
int
zhive_client_expire (zhive_client_t *self)
{
    int64_t now = zhive_clock_ms ();
    int finished = 0;
    zhive_heap_node_t *top;
    while ((top = zhive_heap_top (&self->deadlines)) && top->key <= now) {
        zhive_owner_t *owner = ZHIVE_HEAP_ITEM (top, zhive_owner_t, deadline);
        zhive_heap_remove (&self->deadlines, top);
        finished += owner->ops->expire (owner, now);
    }
    return finished;
}

//  ---------------------------------------------------------------------
//  Set or clear an owner's next deadline
void
zhive_client_arm (zhive_client_t *self, zhive_owner_t *owner, int64_t due)
{
    bool queued = zhive_heap_node_queued (&owner->deadline);
    if (due == 0) {
        if (queued)
            zhive_heap_remove (&self->deadlines, &owner->deadline);
    }
    else if (queued)
        zhive_heap_update (&self->deadlines, &owner->deadline, due);
    else {
        owner->deadline.key = due;
        //  Out of memory: the deadline is lost; the broker's still ends the task
        zhive_heap_push (&self->deadlines, &owner->deadline);
    }
}

//  ---------------------------------------------------------------------
//  Queue an owner for its callback
void
zhive_client_notify (zhive_client_t *self, zhive_owner_t *owner)
{
    if (!zhive_link_listed (&owner->notify))
        zhive_list_push_back (&self->notify, &owner->notify);
}

//  ---------------------------------------------------------------------
//  Run the queued callbacks. Each owner leaves the list before its own
//  runs, so a callback may destroy its task, or others, or queue more.
int
zhive_client_dispatch (zhive_client_t *self)
{
    int ran = 0;
    zhive_link_t *link;
    while ((link = zhive_list_pop_front (&self->notify))) {
        zhive_owner_t *owner = ZHIVE_LIST_ITEM (link, zhive_owner_t, notify);
        owner->ops->notify (owner);
        ran++;
    }
    return ran;
}

//  ---------------------------------------------------------------------
//  Remember that id's answer may still come, for as long as the broker
//  could take to send it (zhive_grace_ms)
void
zhive_client_expect_late (zhive_client_t *self, uint64_t id)
{
    int64_t now = zhive_clock_ms ();
    zhive_late_prune (self->late, now);
    zhive_late_expect (self->late, id, now + zhive_grace_ms (self->heartbeat_ms, self->liveness));
}

//  ---------------------------------------------------------------------
//  The list of finished tasks wait_any takes from
zhive_list_t *
zhive_client_finished (zhive_client_t *self)
{
    return &self->finished;
}

//  ---------------------------------------------------------------------
//  Hands an answer to the owner of id; counts it as dropped if nobody
//  wants it. Returns how many tasks or items finished.
static int
s_deliver (zhive_client_t *self, zhive_owner_t *owner, uint64_t id, zhive_answer_t *answer)
{
    int finished = owner ? owner->ops->deliver (owner, id, answer) : -1;
    if (finished < 0) {
        //  The broker's answer to a task the client ended at its deadline
        //  (then told the broker to cancel) was expected: not a drop
        if (zhive_late_take (self->late, id))
            return 0;
        self->dropped++;
        return 0;
    }
    return finished;
}

//  ---------------------------------------------------------------------
//  Queue an id to be sent now or after a delay. Sending is a FIFO of ids
//  to send now and a short list of ids to queue after a delay: one path
//  for first sends, resends after a reconnect or QueueFull, and sends a
//  full pipe refused.

int
zhive_client_queue (zhive_client_t *self, uint64_t id, int delay_ms)
{
    if (delay_ms > 0) {
        if (self->later_count == self->later_capacity) {
            size_t capacity = self->later_capacity ? self->later_capacity * 2 : S_QUEUE_MIN;
            s_later_t *grown = (s_later_t *) realloc (self->later, capacity * sizeof (s_later_t));
            if (!grown)
                return -1;
            self->later = grown;
            self->later_capacity = capacity;
        }
        self->later [self->later_count].id = id;
        self->later [self->later_count].at = zhive_clock_ms () + delay_ms;
        self->later_count++;
        return 0;
    }
    if (self->queue_size == self->queue_capacity) {
        size_t capacity = self->queue_capacity ? self->queue_capacity * 2 : S_QUEUE_MIN;
        uint64_t *grown = (uint64_t *) malloc (capacity * sizeof (uint64_t));
        if (!grown)
            return -1;
        for (size_t i = 0; i < self->queue_size; i++)
            grown [i] = self->queue [(self->queue_head + i) % self->queue_capacity];
        free (self->queue);
        self->queue = grown;
        self->queue_head = 0;
        self->queue_capacity = capacity;
    }
    self->queue [(self->queue_head + self->queue_size) % self->queue_capacity] = id;
    self->queue_size++;
    return 0;
}

//  ---------------------------------------------------------------------
//  Moves the later ids that are due into the queue; returns ms until the
//  next one is due, -1 if none is waiting
static int64_t
s_run_later (zhive_client_t *self)
{
    int64_t now = zhive_clock_ms ();
    int64_t next = -1;
    size_t kept = 0;
    for (size_t i = 0; i < self->later_count; i++) {
        s_later_t entry = self->later [i];
        if (entry.at <= now && zhive_client_queue (self, entry.id, 0) == 0)
            continue;
        self->later [kept++] = entry;
        int64_t wait = entry.at > now ? entry.at - now : 1;
        if (next < 0 || wait < next)
            next = wait;
    }
    self->later_count = kept;
    return next;
}

//  ---------------------------------------------------------------------
//  Send what is queued and due, until the pipe is full
void
zhive_client_flush (zhive_client_t *self)
{
    if (self->later_count)
        s_run_later (self);
    while (self->queue_size) {
        uint64_t id = self->queue [self->queue_head];
        zhive_owner_t *owner = s_owner_of (self, id);
        if (owner && owner->ops->send (owner, id)) {
            if (errno == EAGAIN) {
                //  The pipe is full: this id and those after it wait
                self->blocked = true;
                return;
            }
            char text [256];
            snprintf (text, sizeof text, "could not send to the broker: %s", strerror (errno));
            zhive_answer_t answer = { NULL, ZHIVE_ERR_NO_BROKER, text, "" };
            s_deliver (self, owner, id, &answer);
        }
        self->queue_head = (self->queue_head + 1) % self->queue_capacity;
        self->queue_size--;
    }
    self->blocked = false;
}

//  ---------------------------------------------------------------------
//  Send one SUBMIT with its payload
int
zhive_client_send_submit (zhive_client_t *self, uint64_t id, const char *function,
                          int64_t timeout_ms, int64_t retries, uint32_t chunk, zmq_msg_t *payload)
{
    zhive_proto_t *msg = self->msg;
    msg->routing_size = 0;
    msg->command = ZHIVE_SUBMIT;
    msg->id = id;
    zhive_proto_set_name (msg->function, function);
    msg->timeout_ms = timeout_ms;
    msg->retries = retries;
    msg->chunk = chunk;
    zhive_proto_move_payload (msg, payload);
    int rc = zhive_proto_send (msg, self->sock);
    if (rc) {
        int error = errno;
        zhive_proto_clear_payload (msg);
        errno = error;
    }
    return rc;
}

//  ---------------------------------------------------------------------
//  Send CANCEL for an id, best effort
void
zhive_client_send_cancel (zhive_client_t *self, uint64_t id)
{
    self->msg->routing_size = 0;
    self->msg->command = ZHIVE_CANCEL;
    self->msg->id = id;
    zhive_proto_send (self->msg, self->sock);
}

//  ---------------------------------------------------------------------
//  Asks one owner to queue its unanswered ids (for s_each_owner)
static void
s_reconnected_one (zhive_owner_t *owner, void *arg)
{
    (void) arg;
    owner->ops->reconnected (owner);
}

//  ---------------------------------------------------------------------
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
        if (event == ZMQ_EVENT_CONNECTED) {
            if (self->connected_once) {
                //  Resend every unanswered id: the broker ignores the ones
                //  it still holds and answers finished ones from what it kept
                self->reconnects++;
                s_each_owner (self, s_reconnected_one, NULL);
            }
            self->connected_once = true;
        }
    }
    zmq_msg_close (&frame);
    zhive_client_flush (self);
}

//  ---------------------------------------------------------------------
//  Handles one message already read into self->msg. Returns how many tasks
//  or map items finished.
static int
s_handle (zhive_client_t *self)
{
    zhive_proto_t *msg = self->msg;
    switch (msg->command) {
        case ZHIVE_PONG: self->ponged = true; return 0;
        case ZHIVE_RESULT: {
            zhive_answer_t answer = { &msg->payload, NULL, NULL, NULL };
            return s_deliver (self, s_owner_of (self, msg->id), msg->id, &answer);
        }
        case ZHIVE_ERROR: {
            if (msg->id == 0) {
                //  The broker could not read something we sent: a bug on one
                //  side or the other, never expected. Say so.
                zhive_log_warning ("zhive: broker reports %s: %s", msg->type, msg->message);
                return 0;
            }
            zhive_owner_t *owner = s_owner_of (self, msg->id);
            if (owner && streq (msg->type, ZHIVE_ERR_QUEUE_FULL) &&
                owner->ops->queue_full (owner, msg->id))
                return 0;
            zhive_answer_t answer = { NULL, msg->type, msg->message, msg->worker };
            return s_deliver (self, owner, msg->id, &answer);
        }
        case ZHIVE_STATUS_REPLY:
            if (msg->id == self->status_id && !self->status)
                self->status = zhive_result_new_value (zmq_msg_data (&msg->payload),
                                                       zmq_msg_size (&msg->payload));
            return 0;
        default: return 0;    //  Nothing else is meant for clients: ignore
    }
}

//  ---------------------------------------------------------------------
//  Ms until the next deadline in the heap (0 if one passed), -1 if none
static int64_t
s_deadline_in (zhive_client_t *self)
{
    zhive_heap_node_t *top = zhive_heap_top (&self->deadlines);
    if (!top)
        return -1;
    int64_t left = top->key - zhive_clock_ms ();
    return left > 0 ? left : 0;
}

//  ---------------------------------------------------------------------
//  The smaller of two waits in ms, either of which may be -1 (none)
static int64_t
s_sooner (int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    return b >= 0 && b < a ? b : a;
}

//  ---------------------------------------------------------------------
//  Wait for messages, handle them, send what is queued, and apply the
//  deadlines that passed
int
zhive_client_pump (zhive_client_t *self, int64_t timeout_ms)
{
    zhive_client_flush (self);
    zhive_late_prune (self->late, zhive_clock_ms ());
    //  A resend or a deadline due before the caller's timeout shortens the wait
    int64_t later_in = self->later_count ? s_run_later (self) : -1;
    timeout_ms = s_sooner (s_sooner (timeout_ms, later_in), s_deadline_in (self));
    //  While the pipe is full, wake as soon as there is room in it
    short events = self->blocked ? ZMQ_POLLIN | ZMQ_POLLOUT : ZMQ_POLLIN;
    zmq_pollitem_t items [] = { { zsock_resolve (self->sock), 0, events, 0 },
                                { zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0 } };
    int rc = zmq_poll (items, 2, timeout_ms < 0 ? -1 : (long) timeout_ms);
    if (rc < 0)
        return errno == EINTR ? -1 : 0;
    if (items [1].revents & ZMQ_POLLIN)
        s_read_monitor (self);
    int finished = 0;
    if (items [0].revents & ZMQ_POLLIN) {
        //  Bounded, so one busy socket cannot starve the caller
        for (int count = 0; count < 10000; count++) {
            int rc = zhive_proto_recv (self->msg, self->sock, ZMQ_DONTWAIT);
            if (rc == -1)
                break;
            if (rc == -2)
                continue;    //  Malformed: dropped
            finished += s_handle (self);
        }
    }
    if (self->queue_size || self->later_count)
        zhive_client_flush (self);
    return finished + zhive_client_expire (self);
}

//  ---------------------------------------------------------------------
//  A client, plain or (cert not NULL) a CURVE client of server_key; hwm > 0
//  replaces the socket's high-water marks
static zhive_client_t *
s_client_new (const char *endpoint, int timeout_ms, zcert_t *cert, const char *server_key, int hwm)
{
    zhive_signals_init ();    //  Before czmq's first socket: SIGINT and SIGTERM stay the host's
    if (!endpoint || !*endpoint) {
        errno = EINVAL;
        return NULL;
    }
    zhive_client_t *self = (zhive_client_t *) calloc (1, sizeof (zhive_client_t));
    if (!self)
        return NULL;
    self->timeout_ms = -1;
    self->next_id = 1;
    zhive_list_init (&self->single_list);
    zhive_list_init (&self->blocks);
    zhive_list_init (&self->finished);
    zhive_list_init (&self->notify);
    zhive_heap_init (&self->deadlines);
    self->late = zhive_late_new ();
    self->endpoint = strdup (endpoint);
    self->msg = zhive_proto_new ();
    self->singles = zhive_idmap_new ();
    self->sock = zsock_new (ZMQ_DEALER);
    self->monitor = zsock_new (ZMQ_PAIR);
    if (!self->endpoint || !self->msg || !self->singles || !self->late || !self->sock ||
        !self->monitor) {
        zhive_client_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    zhive_socket_configure (self->sock, ZHIVE_SOCKET_CLIENT);
    if (hwm > 0) {
        zsock_set_sndhwm (self->sock, hwm);
        zsock_set_rcvhwm (self->sock, hwm);
    }
    zsock_set_linger (self->sock, 200);
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
    if (zmq_socket_monitor (zsock_resolve (self->sock), monitor_endpoint, ZMQ_EVENT_CONNECTED) ||
        zsock_connect (self->monitor, "%s", monitor_endpoint)) {
        zhive_client_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    zhive_client_set_heartbeat (self, ZHIVE_HEARTBEAT_MS, ZHIVE_LIVENESS);
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
    //  A broker is there when it answers PING. Without a wait the client
    //  is ready at once: the connection is made in the background, and
    //  what is sent meanwhile waits in the pipe until a broker comes.
    self->msg->routing_size = 0;
    self->msg->command = ZHIVE_PING;
    if (timeout_ms == 0)
        return self;
    int64_t deadline = zhive_wait_deadline (timeout_ms);
    if (zhive_proto_send (self->msg, self->sock) == 0) {
        while (!self->ponged) {
            int64_t left = zhive_wait_remaining (deadline);
            if (left == 0 || zhive_client_pump (self, left) < 0)
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

//  ---------------------------------------------------------------------
//  Connect to a broker and check that it answers
zhive_client_t *
zhive_client_new (const char *endpoint, int timeout_ms)
{
    return s_client_new (endpoint, timeout_ms, NULL, NULL, 0);
}

//  ---------------------------------------------------------------------
//  The same with other high-water marks (for tests)
zhive_client_t *
zhive_client_new_hwm (const char *endpoint, int timeout_ms, int hwm)
{
    return s_client_new (endpoint, timeout_ms, NULL, NULL, hwm);
}

//  ---------------------------------------------------------------------
//  Connect with CURVE security to a broker that runs it
zhive_client_t *
zhive_client_new_curve (const char *endpoint, int timeout_ms, const char *secret_cert_path,
                        const char *broker_cert_path)
{
    zhive_signals_init ();    //  Before czmq logs or makes a socket
    char error [512];
    char server_key [ZHIVE_CURVE_KEY_SIZE];
    zcert_t *cert =
        zhive_curve_load_pair (secret_cert_path, broker_cert_path, server_key, error, sizeof error);
    if (!cert) {
        int cause = errno;    //  Logging must not change it
        zhive_log_error ("zhive: %s", error);
        errno = cause;
        return NULL;
    }
    zhive_client_t *self = s_client_new (endpoint, timeout_ms, cert, server_key, 0);
    zcert_destroy (&cert);
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy the client and every task and map still attached to it

void
zhive_client_destroy (zhive_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_client_t *self = *self_p;
    zhive_list_t *lists [] = { &self->blocks, &self->single_list };
    for (int i = 0; i < 2; i++) {
        zhive_link_t *link;
        while ((link = zhive_list_first (lists [i]))) {
            zhive_owner_t *owner = ZHIVE_LIST_ITEM (link, zhive_owner_t, link);
            zhive_client_detach (self, owner);
            owner->ops->destroy (owner);
        }
    }
    zhive_idmap_destroy (&self->singles);
    zhive_late_destroy (&self->late);
    zhive_heap_fini (&self->deadlines);
    zhive_result_destroy (&self->status);
    if (self->sock && self->monitor)
        zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->sock);
    free (self->queue);
    free (self->later);
    zhive_proto_destroy (&self->msg);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Set heartbeats for the next connections, clamped as every role clamps

void
zhive_client_set_heartbeat (zhive_client_t *self, int interval_ms, int liveness)
{
    zhive_heartbeat_clamp (&interval_ms, &liveness);
    self->heartbeat_ms = interval_ms;
    self->liveness = liveness;
    zhive_socket_set_heartbeat (self->sock, interval_ms, liveness);
}

//  ---------------------------------------------------------------------
//  The deadline a task gets for opts
int64_t
zhive_client_task_timeout (zhive_client_t *self, const zhive_opts_t *opts)
{
    if (opts && opts->timeout_ms > 0)
        return opts->timeout_ms;
    if (opts && opts->timeout_ms < 0)
        return -1;
    return self->timeout_ms;
}

//  ---------------------------------------------------------------------
//  Set the default task deadline
void
zhive_client_set_timeout (zhive_client_t *self, int timeout_ms)
{
    self->timeout_ms = timeout_ms <= 0 ? -1 : timeout_ms;
}

//  ---------------------------------------------------------------------
//  Answers nobody wanted
uint64_t
zhive_client_dropped (zhive_client_t *self)
{
    return self->dropped;
}

//  ---------------------------------------------------------------------
//  Reconnections so far
uint64_t
zhive_client_reconnects (zhive_client_t *self)
{
    zhive_client_pump (self, 0);
    return self->reconnects;
}

//  ---------------------------------------------------------------------
//  Ids waiting to be sent (for tests)
size_t
zhive_client_unsent (zhive_client_t *self)
{
    return self->queue_size + self->later_count;
}

//  ---------------------------------------------------------------------
//  The client's socket, for the caller's own event loop
void *
zhive_client_socket (zhive_client_t *self)
{
    return self->sock;
}

//  ---------------------------------------------------------------------
//  The socket's ZMQ_FD, for fd-based event loops
int
zhive_client_fd (zhive_client_t *self)
{
    return zsock_fd (self->sock);
}

//  ---------------------------------------------------------------------
//  Handle what has arrived, without blocking
int
zhive_client_process (zhive_client_t *self)
{
    int finished = zhive_client_pump (self, 0);
    zhive_client_dispatch (self);
    return finished < 0 ? 0 : finished;
}

//  ---------------------------------------------------------------------
//  Ms until the library next needs zhive_client_process, -1 if never
int
zhive_client_timeout (zhive_client_t *self)
{
    //  Anything to do now: callbacks to run, sends the pipe has room for,
    //  messages or connection events already waiting (ZMQ_FD is
    //  edge-triggered: an edge a send consumed would not wake the loop)
    if (!zhive_list_empty (&self->notify) || (self->queue_size && !self->blocked))
        return 0;
    int events = zsock_events (self->sock);
    if ((events & ZMQ_POLLIN) || (self->blocked && (events & ZMQ_POLLOUT)) ||
        (zsock_events (self->monitor) & ZMQ_POLLIN))
        return 0;
    int64_t later_in = -1;
    for (size_t i = 0; i < self->later_count; i++) {
        int64_t left = self->later [i].at - zhive_clock_ms ();
        later_in = s_sooner (later_in, left > 0 ? left : 0);
    }
    int64_t wait = s_sooner (later_in, s_deadline_in (self));
    //  The monitor has no fd of the loop's: while tasks are open, look at
    //  it once a heartbeat so that a reconnect's resend is not held back
    if (!zhive_list_empty (&self->single_list) || !zhive_list_empty (&self->blocks))
        wait = s_sooner (wait, self->heartbeat_ms);
    return wait > INT_MAX ? INT_MAX : (int) wait;
}

//  ---------------------------------------------------------------------
//  Ask the broker for its state

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
    int64_t deadline = zhive_wait_deadline (timeout_ms);
    while (!self->status) {
        int64_t left = zhive_wait_remaining (deadline);
        if ((left == 0 && deadline) || zhive_client_pump (self, left) < 0)
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
