/*  =========================================================================
    zhive_pool - the broker's pool model: a socket-free state machine

    Dispatch is credit-based and FIFO per function: a task goes only to a
    worker that offers its function and has credit, round-robin among
    those; a worker with fresh credit takes from its queues round-robin.
    A task that loses its worker goes back to the head of its queue; every
    event ends by handing such tasks on (s_settle). A min-heap orders the
    tasks with deadlines, checked by the tick.
    =========================================================================
*/
#include "zhive_pool.h"
#include "zhive_log.h"
#include "zhive_pool_tasks.h"
#include "zhive_result.h"
#include "zhive_socket.h"
#include <inttypes.h>

//  Debug lines only in verbose mode
#define S_LOG(self, ...) zhive_log_verbose ((self)->verbose, __VA_ARGS__)

//  Count an outcome for a task's function and in the totals
#define S_COUNT(self, queue, field)                                                                \
    do {                                                                                           \
        (self)->counters.tasks.field++;                                                            \
        if (queue)                                                                                 \
            (queue)->stats.field++;                                                                \
    } while (0)

struct _zhive_pool_t {
    zhive_pool_ops_t ops;              //  How it acts
    void *arg;                         //  The ops' argument
    uint32_t incarnation;              //  High half of every ticket
    uint32_t sequence;                 //  Low half of the next ticket (0: renew first)
    int64_t now;                       //  The time of the event being handled, µs
    zhashx_t *queues;                  //  Function name -> zhive_pool_queue_t
    zhashx_t *workers;                 //  Peer key -> zhive_pool_member_t
    zhive_pool_tasks_t *tasks;         //  The tasks, their clients, deadlines and answers
    bool redispatch;                   //  A worker was lost: look at every queue again
    bool blocked;                      //  A worker's pipe was full: look again at the tick
    size_t max_waiting;                //  Limit of tasks waiting in all queues, 0 = none
    size_t max_per_function;           //  Limit of tasks waiting in one queue, 0 = none
    size_t max_per_client;             //  Limit of tasks waiting per client, 0 = none
    uint64_t max_bytes;                //  Limit of waiting args bytes, 0 = none
    int64_t retries;                   //  Default redispatches after losing a worker
    int64_t prefetch_us;               //  Prefetch time, 0 = none
    int64_t unoffered_us;              //  Wait for a function nobody offers, 0 = for ever
    bool verbose;                      //  Log debug lines
    bool draining;                     //  Refusing new tasks
    int64_t drain_until;               //  When the drain gives up
    zhive_pool_counters_t counters;    //  What happened so far
    zhashx_t *retired;                 //  Function name -> counters of its pruned queues
};

static void s_worker_remove (zhive_pool_t *self, zhive_pool_member_t *worker, const char *why);

//  ---------------------------------------------------------------------
//  Tickets

//  A new incarnation: tasks dispatched under the old one go back to the
//  head of their queues (their workers drop the old tickets' answers once
//  WELCOMEd with the new one), and every worker hears the new one
static void
s_renew (zhive_pool_t *self)
{
    uint32_t old = self->incarnation;
    uint32_t fresh = 0;
    for (int tries = 0; tries < 8 && (fresh == 0 || fresh == old); tries++)
        fresh = self->ops.incarnation (self->arg);
    if (fresh == 0 || fresh == old)
        fresh = old + 1 ? old + 1 : 1;
    self->incarnation = fresh;
    self->sequence = 1;
    zhive_log_info ("ticket sequence wrapped: incarnation %08x follows %08x", fresh, old);
    for (zhive_pool_member_t *worker = (zhive_pool_member_t *) zhashx_first (self->workers); worker;
         worker = (zhive_pool_member_t *) zhashx_next (self->workers)) {
        zhive_link_t *link;
        while ((link = zhive_list_last (&worker->held))) {
            zhive_pool_task_t *task = ZHIVE_LIST_ITEM (link, zhive_pool_task_t, link);
            uint64_t ticket = task->ticket;
            zhive_pool_tasks_unhold (self->tasks, task);
            self->ops.cancel (self->arg, &worker->peer, ticket);
            task->queued_us = self->now;
            if (task->client)
                zhive_pool_tasks_wait_add (self->tasks, task, true);
            else
                zhive_pool_tasks_destroy_task (self->tasks, &task);
        }
        self->ops.welcome (self->arg, &worker->peer, fresh);
    }
    self->redispatch = true;
}

static uint64_t
s_ticket (zhive_pool_t *self)
{
    if (self->sequence == 0)
        s_renew (self);
    return (uint64_t) self->incarnation << 32 | self->sequence++;
}

//  ---------------------------------------------------------------------
//  Dispatch

//  Send one task (taken off its queue) to a worker with credit
static zhive_pool_send_t
s_task_dispatch (zhive_pool_t *self, zhive_pool_task_t *task, zhive_pool_member_t *worker)
{
    uint64_t ticket = s_ticket (self);
    if (zhive_idmap_insert (self->tasks->in_flight, ticket, task))
        return ZHIVE_POOL_FULL;    //  Out of memory: try again later
    int64_t timeout_ms = -1;
    if (zhive_heap_node_queued (&task->deadline)) {
        int64_t left = (task->deadline.key - self->now) / 1000;
        timeout_ms = left > 0 ? left : 1;    //  Due now: the next tick times it out
    }
    zmq_msg_t copy;    //  Shares the data
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, &task->args);
    zhive_pool_send_t rc = self->ops.send_task (
        self->arg, &worker->peer, ticket, task->queue->function, timeout_ms, task->chunk, &copy);
    zmq_msg_close (&copy);
    if (rc != ZHIVE_POOL_SENT) {
        zhive_idmap_remove (self->tasks->in_flight, ticket);
        return rc;
    }
    task->ticket = ticket;
    task->worker = worker;
    task->sent_us = self->now;
    zhive_pool_histogram_observe (&task->queue->wait, self->now - task->queued_us);
    zhive_list_push_back (&worker->held, &task->link);
    task->queue->in_flight++;
    worker->dispatched++;
    return ZHIVE_POOL_SENT;
}

//  Dispatch the head of a queue to a worker; false if it did not go
//  (the task is back at the head; a worker that is gone is removed)
static bool
s_dispatch_head (zhive_pool_t *self, zhive_pool_queue_t *queue, zhive_pool_member_t *worker)
{
    zhive_pool_task_t *task =
        ZHIVE_LIST_ITEM (zhive_list_first (&queue->waiting), zhive_pool_task_t, link);
    zhive_pool_tasks_wait_remove (self->tasks, task);
    zhive_pool_send_t rc = s_task_dispatch (self, task, worker);
    if (rc == ZHIVE_POOL_SENT)
        return true;
    zhive_pool_tasks_wait_add (self->tasks, task, true);    //  No retry counted
    if (rc == ZHIVE_POOL_GONE)
        s_worker_remove (self, worker, "unreachable");
    else
        self->blocked = true;    //  Its pipe is full: again at the next tick
    return false;
}

//  Hand waiting tasks of one queue to its workers with credit, round-robin
static void
s_queue_dispatch (zhive_pool_t *self, zhive_pool_queue_t *queue)
{
    while (!zhive_list_empty (&queue->waiting) && queue->workers_count) {
        zhive_pool_member_t *worker = NULL;
        for (size_t i = 0; i < queue->workers_count; i++) {
            size_t at = (queue->next_worker + i) % queue->workers_count;
            if (zhive_pool_member_credit (queue->workers [at])) {
                worker = queue->workers [at];
                queue->next_worker = at + 1;
                break;
            }
        }
        if (!worker || !s_dispatch_head (self, queue, worker))
            break;
    }
}

//  Use a worker's credit on the queues it serves, round-robin
static void
s_worker_feed (zhive_pool_t *self, zhive_pool_member_t *worker)
{
    while (zhive_pool_member_credit (worker) && worker->queues_count) {
        zhive_pool_queue_t *queue = NULL;
        for (size_t i = 0; i < worker->queues_count; i++) {
            size_t at = (worker->next_queue + i) % worker->queues_count;
            if (!zhive_list_empty (&worker->queues [at]->waiting)) {
                queue = worker->queues [at];
                worker->next_queue = at + 1;
                break;
            }
        }
        if (!queue || !s_dispatch_head (self, queue, worker))
            return;
    }
}

//  After a worker was lost, its tasks wait in their queues: hand them on
static void
s_settle (zhive_pool_t *self)
{
    while (self->redispatch) {
        self->redispatch = false;
        for (zhive_pool_queue_t *queue = (zhive_pool_queue_t *) zhashx_first (self->queues); queue;
             queue = (zhive_pool_queue_t *) zhashx_next (self->queues)) {
            if (!zhive_list_empty (&queue->waiting) && queue->workers_count)
                s_queue_dispatch (self, queue);
        }
    }
}

//  ---------------------------------------------------------------------
//  Workers

static zhive_pool_member_t *
s_worker_lookup (zhive_pool_t *self, const zhive_peer_t *peer)
{
    char key [ZHIVE_PEER_KEY_SIZE];
    zhive_peer_key (peer, key);
    return (zhive_pool_member_t *) zhashx_lookup (self->workers, key);
}

//  Forget a worker; tasks it held go back to the head of their queues, in
//  order, or fail with WorkerLost past their retries
static void
s_worker_remove (zhive_pool_t *self, zhive_pool_member_t *worker, const char *why)
{
    if (zhive_list_size (&worker->held))
        zhive_log_warning ("worker '%s' (pid %" PRIu64 ") lost: %s; %zu task(s) to requeue",
                           worker->name, worker->pid, why, zhive_list_size (&worker->held));
    else
        S_LOG (self, "worker '%s' (pid %" PRIu64 ") lost: %s", worker->name, worker->pid, why);
    //  From the newest to the oldest, so they keep their order at the front
    zhive_link_t *link;
    while ((link = zhive_list_last (&worker->held))) {
        zhive_pool_task_t *task = ZHIVE_LIST_ITEM (link, zhive_pool_task_t, link);
        zhive_pool_tasks_unhold (self->tasks, task);
        task->attempts++;
        if (!task->client)
            zhive_pool_tasks_destroy_task (self->tasks,
                                           &task);    //  Already answered (Timeout, Cancelled)
        else if (task->attempts > task->retries) {
            char message [ZHIVE_NAME_MAX * 2 + 256];
            snprintf (message, sizeof message,
                      "worker '%s' was lost (%.200s) while running '%s'; gave up after %" PRId64
                      " attempt(s)",
                      worker->name, why, task->queue->function, task->attempts);
            S_COUNT (self, task->queue, worker_lost);
            zhive_pool_tasks_answer (self->tasks, task, NULL, ZHIVE_ERR_WORKER_LOST, message, "");
            zhive_pool_tasks_destroy_task (self->tasks, &task);
        }
        else {
            S_COUNT (self, task->queue, redispatches);
            task->queued_us = self->now;
            zhive_pool_tasks_wait_add (self->tasks, task, true);
        }
    }
    zhashx_delete (self->workers, worker->key);
    zhive_pool_member_destroy (&worker);
    self->redispatch = true;
}

//  Remove every local worker with this pid (local: the broker's own record,
//  never what a READY says)
static void
s_workers_remove_local (zhive_pool_t *self, uint64_t pid, const char *why)
{
    zlistx_t *gone = zlistx_new ();
    if (!gone)
        return;
    for (zhive_pool_member_t *worker = (zhive_pool_member_t *) zhashx_first (self->workers); worker;
         worker = (zhive_pool_member_t *) zhashx_next (self->workers)) {
        if (worker->local && worker->pid == pid)
            zlistx_add_end (gone, worker);
    }
    for (zhive_pool_member_t *worker = (zhive_pool_member_t *) zlistx_first (gone); worker;
         worker = (zhive_pool_member_t *) zlistx_next (gone))
        s_worker_remove (self, worker, why);
    zlistx_destroy (&gone);
}

int
zhive_pool_worker_ready (zhive_pool_t *self, int64_t now, const zhive_peer_t *peer,
                         const zhive_pool_ready_t *ready)
{
    self->now = self->tasks->now = now;
    zhive_pool_member_t *worker = s_worker_lookup (self, peer);
    if (worker && worker->pid != ready->pid) {
        s_worker_remove (self, worker, "replaced by another process");
        worker = NULL;
    }
    if (!worker) {
        worker = zhive_pool_member_new (peer, now);
        if (!worker || zhashx_insert (self->workers, worker->key, worker)) {
            zhive_pool_member_destroy (&worker);
            s_settle (self);
            return -1;
        }
    }
    //  READY again replaces what we knew; tasks it holds stay with it
    if (ready->name && ready->name [0])
        zhive_proto_set_name (worker->name, ready->name);
    else
        snprintf (worker->name, sizeof worker->name, "%.200s:%" PRIu64, ready->host, ready->pid);
    zhive_proto_set_name (worker->host, ready->host);
    worker->pid = ready->pid;
    worker->local = ready->local;
    worker->concurrency = ready->concurrency;
    worker->max_tasks = ready->max_tasks;
    worker->dispatched = 0;    //  max_tasks counts from this READY on
    worker->draining = false;
    worker->seen = now;
    size_t count = ready->functions_count;
    zhive_pool_queue_t **queues =
        (zhive_pool_queue_t **) calloc (count ? count : 1, sizeof (zhive_pool_queue_t *));
    int rc = queues ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        queues [i] = (zhive_pool_queue_t *) zhashx_lookup (self->queues, ready->functions [i]);
        if (!queues [i]) {
            queues [i] = zhive_pool_queue_new (ready->functions [i]);
            if (!queues [i] || zhashx_insert (self->queues, ready->functions [i], queues [i])) {
                zhive_pool_queue_destroy (&queues [i]);
                rc = -1;
            }
        }
    }
    if (rc == 0)
        rc = zhive_pool_member_offer (worker, queues, count);
    free (queues);
    if (rc) {
        s_worker_remove (self, worker, "out of memory");
        s_settle (self);
        return -1;
    }
    //  Identity is the connection: the name, host and pid a READY reports
    //  are labels, so a READY never removes the worker of another peer (a
    //  worker that reconnected leaves its old entry to the probe, which
    //  finds that connection closed)
    S_LOG (self,
           "worker '%s' joined: host %s, pid %" PRIu64 ", concurrency %u, max tasks %" PRIu64
           ", %zu function(s)",
           worker->name, worker->host, worker->pid, worker->concurrency, worker->max_tasks,
           worker->queues_count);
    self->ops.welcome (self->arg, &worker->peer, self->incarnation);
    s_worker_feed (self, worker);
    s_settle (self);
    return 0;
}

//  DONE (value) or FAILED (type, message)
static void
s_worker_answer (zhive_pool_t *self, int64_t now, const zhive_peer_t *peer, uint64_t ticket,
                 zmq_msg_t *value, const char *type, const char *message)
{
    self->now = self->tasks->now = now;
    zhive_pool_member_t *worker = s_worker_lookup (self, peer);
    zhive_pool_task_t *task =
        (zhive_pool_task_t *) zhive_idmap_lookup (self->tasks->in_flight, ticket);
    if (!task || !worker || task->worker != worker) {
        self->counters.unknown++;
        bool foreign = ticket >> 32 != self->incarnation;
        if (foreign)
            self->counters.foreign++;
        S_LOG (self, "dropped %s for ticket %" PRIu64 "%s from %s", value ? "DONE" : "FAILED",
               ticket, foreign ? " of another incarnation" : " not in flight",
               worker ? worker->name : "an unregistered peer");
        zhive_msg_empty (value);
        return;
    }
    zhive_pool_member_measure (worker, now - task->sent_us, self->prefetch_us);
    zhive_pool_histogram_observe (&task->queue->run, now - task->sent_us);
    worker->seen = now;
    zhive_pool_tasks_unhold (self->tasks, task);
    worker->done++;
    if (!task->client) {
        S_LOG (self, "dropped the answer to ticket %" PRIu64 ": its client was answered already",
               ticket);
        zhive_msg_empty (value);
    }
    else if (value) {
        S_COUNT (self, task->queue, ok);
        zhive_pool_tasks_answer (self->tasks, task, value, NULL, NULL, NULL);
    }
    else {
        S_COUNT (self, task->queue, error);
        zhive_pool_tasks_answer (self->tasks, task, NULL, type, message, worker->name);
    }
    zhive_pool_tasks_destroy_task (self->tasks, &task);
    s_worker_feed (self, worker);
    s_settle (self);
}

void
zhive_pool_worker_done (zhive_pool_t *self, int64_t now, const zhive_peer_t *worker,
                        uint64_t ticket, zmq_msg_t *value)
{
    s_worker_answer (self, now, worker, ticket, value, NULL, NULL);
}

void
zhive_pool_worker_failed (zhive_pool_t *self, int64_t now, const zhive_peer_t *worker,
                          uint64_t ticket, const char *type, const char *message)
{
    s_worker_answer (self, now, worker, ticket, NULL, type, message);
}

void
zhive_pool_worker_draining (zhive_pool_t *self, int64_t now, const zhive_peer_t *peer)
{
    self->now = self->tasks->now = now;
    zhive_pool_member_t *worker = s_worker_lookup (self, peer);
    if (worker)
        worker->seen = now;
    if (worker && !worker->draining) {
        worker->draining = true;
        S_LOG (self, "worker '%s' is draining: %zu task(s) to finish, no new ones", worker->name,
               zhive_list_size (&worker->held));
    }
}

void
zhive_pool_worker_lost (zhive_pool_t *self, int64_t now, const zhive_peer_t *peer, const char *why)
{
    self->now = self->tasks->now = now;
    zhive_pool_member_t *worker = s_worker_lookup (self, peer);
    if (worker)
        s_worker_remove (self, worker, why);
    s_settle (self);
}

void
zhive_pool_local_exited (zhive_pool_t *self, int64_t now, uint64_t pid, const char *why)
{
    self->now = self->tasks->now = now;
    s_workers_remove_local (self, pid, why);
    s_settle (self);
}

//  ---------------------------------------------------------------------
//  Events from clients

//  Why a new task cannot be taken now (the type), with the message; NULL if it can
static const char *
s_refusal (zhive_pool_t *self, zhive_pool_client_t *client, const char *function, size_t size,
           char *message, size_t message_size)
{
    zhive_pool_queue_t *queue = (zhive_pool_queue_t *) zhashx_lookup (self->queues, function);
    size_t queued = queue ? zhive_list_size (&queue->waiting) : 0;
    if (self->draining) {
        snprintf (message, message_size, "broker is draining: it takes no new tasks");
        return ZHIVE_ERR_SHUTDOWN;
    }
    if (self->max_waiting && self->tasks->waiting >= self->max_waiting)
        snprintf (message, message_size, "broker holds %zu waiting tasks (its limit)",
                  self->tasks->waiting);
    else if (self->max_per_function && queued >= self->max_per_function)
        snprintf (message, message_size, "queue for '%s' is full (%zu waiting)", function, queued);
    else if (self->max_per_client && client->waiting >= self->max_per_client)
        snprintf (message, message_size, "this client has %zu tasks waiting (its limit)",
                  client->waiting);
    else if (self->max_bytes && self->tasks->waiting_bytes + size > self->max_bytes)
        snprintf (message, message_size,
                  "waiting tasks hold %" PRIu64 " bytes of arguments; %zu more would pass the"
                  " limit of %" PRIu64,
                  self->tasks->waiting_bytes, size, self->max_bytes);
    else
        return NULL;
    S_COUNT (self, queue, queue_full);
    return ZHIVE_ERR_QUEUE_FULL;
}

void
zhive_pool_submit (zhive_pool_t *self, int64_t now, const zhive_peer_t *peer, uint64_t id,
                   const char *function, zmq_msg_t *args_in, int64_t timeout_ms, int64_t retries,
                   uint32_t chunk)
{
    self->now = self->tasks->now = now;
    zmq_msg_t args;
    zmq_msg_init (&args);
    zmq_msg_move (&args, args_in);
    zhive_pool_client_t *client = zhive_pool_clients_require (self->tasks->clients, peer);
    if (!client) {
        zhive_pool_tasks_refuse (self->tasks, peer, id, ZHIVE_ERR_QUEUE_FULL,
                                 "the broker is out of memory");
        zmq_msg_close (&args);
        return;
    }
    //  A resend after a reconnect: the answer it missed, or nothing if the
    //  task is still under way
    if (zhive_pool_tasks_deliver_kept (self->tasks, client, id)) {
        zmq_msg_close (&args);
        zhive_pool_clients_release (self->tasks->clients, client);
        return;
    }
    if (zhive_idmap_lookup (client->pending, id)) {
        S_LOG (self, "dropped SUBMIT %" PRIu64 " for '%s': that task is already pending", id,
               function);
        zmq_msg_close (&args);
        return;
    }
    char message [ZHIVE_NAME_MAX + 160];
    size_t size = zmq_msg_size (&args);
    const char *refusal = s_refusal (self, client, function, size, message, sizeof message);
    zhive_pool_queue_t *queue =
        refusal ? NULL : (zhive_pool_queue_t *) zhashx_lookup (self->queues, function);
    if (!refusal && !queue) {
        queue = zhive_pool_queue_new (function);
        if (queue && zhashx_insert (self->queues, function, queue))
            zhive_pool_queue_destroy (&queue);
        if (queue)
            queue->unoffered_since = now;    //  No worker offers it yet
    }
    zhive_pool_task_t *task =
        queue ? zhive_pool_tasks_add (self->tasks, client, queue, id, &args) : NULL;
    if (!task) {
        if (!refusal) {
            refusal = ZHIVE_ERR_QUEUE_FULL;
            snprintf (message, sizeof message, "the broker is out of memory");
        }
        S_LOG (self, "refused task %" PRIu64 " for '%s': %s", id, function, message);
        zhive_pool_tasks_refuse (self->tasks, peer, id, refusal, message);
        zmq_msg_close (&args);
        zhive_pool_clients_release (self->tasks->clients, client);
        return;
    }
    S_COUNT (self, queue, submitted);
    task->queued_us = now;
    task->retries = retries < 0 ? self->retries : retries;
    task->chunk = chunk;
    task->timeout_ms = timeout_ms < 0 || timeout_ms > ZHIVE_POOL_TIMEOUT_MAX ? -1 : timeout_ms;
    //  Tasks already waiting mean no worker of this queue has credit
    bool was_empty = zhive_list_empty (&queue->waiting);
    zhive_pool_tasks_wait_add (self->tasks, task, false);
    if (task->timeout_ms >= 0) {
        task->deadline.key = now + task->timeout_ms * 1000;
        if (zhive_heap_push (&self->tasks->heap, &task->deadline)) {
            zhive_pool_tasks_wait_remove (self->tasks, task);
            zhive_pool_tasks_answer (self->tasks, task, NULL, ZHIVE_ERR_QUEUE_FULL,
                                     "the broker is out of memory", "");
            zhive_pool_tasks_destroy_task (self->tasks, &task);
            return;
        }
    }
    if (was_empty)
        s_queue_dispatch (self, queue);
    s_settle (self);
}

void
zhive_pool_cancel (zhive_pool_t *self, int64_t now, const zhive_peer_t *peer, uint64_t id)
{
    self->now = self->tasks->now = now;
    zhive_pool_client_t *client = zhive_pool_clients_lookup (self->tasks->clients, peer);
    zhive_pool_task_t *task =
        client ? (zhive_pool_task_t *) zhive_idmap_lookup (client->pending, id) : NULL;
    if (task) {
        S_COUNT (self, task->queue, cancelled);
        zhive_pool_tasks_cancel (self->tasks, task, ZHIVE_ERR_CANCELLED, "cancelled by the client");
    }
    s_settle (self);
}

void
zhive_pool_client_gone (zhive_pool_t *self, int64_t now, const zhive_peer_t *peer)
{
    self->now = self->tasks->now = now;
    zhive_pool_client_t *client = zhive_pool_clients_lookup (self->tasks->clients, peer);
    zlistx_t *tasks = client ? zlistx_new () : NULL;
    if (!tasks)
        return;
    zhive_idmap_each (client->pending, zhive_pool_tasks_collect, tasks);
    S_LOG (self, "a client left with %zu task(s) pending", zlistx_size (tasks));
    //  The last detach may free the client
    for (zhive_pool_task_t *task = (zhive_pool_task_t *) zlistx_first (tasks); task;
         task = (zhive_pool_task_t *) zlistx_next (tasks))
        zhive_pool_tasks_cancel (self->tasks, task, NULL, NULL);
    zlistx_destroy (&tasks);
    s_settle (self);
}

//  ---------------------------------------------------------------------
//  Time

//  A worker still runs a task past its deadline and the grace
static void
s_task_overran (zhive_pool_t *self, zhive_pool_task_t *task)
{
    zhive_heap_remove (&self->tasks->heap, &task->deadline);
    zhive_pool_member_t *worker = task->worker;
    char why [ZHIVE_NAME_MAX + 128];
    snprintf (why, sizeof why, "it still runs '%s' %" PRId64 " ms past its deadline",
              task->queue->function, self->tasks->grace_ms);
    if (worker->local && self->ops.kill (self->arg, worker->pid, why) == 0)
        //  Its other tasks go back to their queues now (this one is freed)
        s_worker_remove (self, worker, "the broker killed it: it overran a deadline");
    else
        //  Whatever host and pid it claims: only a process the broker
        //  started and that showed its token is ever killed
        zhive_log_warning ("would not kill worker '%s' (pid %" PRIu64 "): it is a remote worker,"
                           " not a local process of this broker; %s; its watchdog should stop it",
                           worker->name, worker->pid, why);
}

static void
zhive_pool_task_timeout (zhive_pool_t *self, zhive_pool_task_t *task)
{
    zhive_pool_queue_t *queue = task->queue;
    char message [ZHIVE_NAME_MAX * 2 + 128];
    if (task->worker)
        snprintf (message, sizeof message,
                  "no result within %" PRId64 " ms: '%s' still running on worker '%s'",
                  task->timeout_ms, queue->function, task->worker->name);
    else if (queue->workers_count == 0)
        snprintf (message, sizeof message, "no result within %" PRId64 " ms: no worker offers '%s'",
                  task->timeout_ms, queue->function);
    else
        snprintf (message, sizeof message,
                  "no result within %" PRId64 " ms: '%s' waited in a queue of %zu",
                  task->timeout_ms, queue->function, zhive_list_size (&queue->waiting));
    S_COUNT (self, queue, timeout);
    zhive_pool_tasks_cancel (self->tasks, task, ZHIVE_ERR_TIMEOUT, message);
}

void
zhive_pool_tick (zhive_pool_t *self, int64_t now)
{
    self->now = self->tasks->now = now;
    zhive_heap_node_t *top;
    while ((top = zhive_heap_top (&self->tasks->heap)) && top->key <= now) {
        zhive_pool_task_t *task = ZHIVE_HEAP_ITEM (top, zhive_pool_task_t, deadline);
        if (task->overdue)
            s_task_overran (self, task);
        else
            zhive_pool_task_timeout (self, task);
    }
    for (zhive_pool_queue_t *queue = (zhive_pool_queue_t *) zhashx_first (self->queues);
         queue && self->unoffered_us; queue = (zhive_pool_queue_t *) zhashx_next (self->queues)) {
        if (queue->workers_count || queue->offered) {
            queue->offered = false;
            queue->unoffered_since = now;
        }
        else if (!zhive_list_empty (&queue->waiting) &&
                 now - queue->unoffered_since >= self->unoffered_us) {
            size_t expired =
                zhive_pool_tasks_expire_unoffered (self->tasks, queue, self->unoffered_us);
            queue->stats.unoffered += expired;
            self->counters.tasks.unoffered += expired;
        }
    }
    zhive_kept_expire (self->tasks->kept, now);
    if (self->blocked) {
        self->blocked = false;
        self->redispatch = true;
    }
    s_settle (self);
}

//  Keep a pruned queue's counters, so its function's series never go back
//  (at most ZHIVE_POOL_RETIRED_MAX functions: past that they stay only in
//  the totals)
static void
s_retire (zhive_pool_t *self, zhive_pool_queue_t *queue)
{
    zhive_pool_queue_t *kept =
        (zhive_pool_queue_t *) zhashx_lookup (self->retired, queue->function);
    if (kept)
        zhive_pool_queue_absorb (kept, queue);
    else if (zhashx_size (self->retired) < ZHIVE_POOL_RETIRED_MAX &&
             zhashx_insert (self->retired, queue->function, queue) == 0)
        return;    //  The unused queue itself is kept
    zhive_pool_queue_destroy (&queue);
}

void
zhive_pool_prune (zhive_pool_t *self)
{
    zlistx_t *unused = zlistx_new ();
    if (!unused)
        return;
    for (zhive_pool_queue_t *queue = (zhive_pool_queue_t *) zhashx_first (self->queues); queue;
         queue = (zhive_pool_queue_t *) zhashx_next (self->queues)) {
        if (zhive_pool_queue_unused (queue))
            zlistx_add_end (unused, queue);
    }
    for (zhive_pool_queue_t *queue = (zhive_pool_queue_t *) zlistx_first (unused); queue;
         queue = (zhive_pool_queue_t *) zlistx_next (unused)) {
        zhashx_delete (self->queues, queue->function);
        s_retire (self, queue);
    }
    zlistx_destroy (&unused);
}

void
zhive_pool_drain (zhive_pool_t *self, int64_t now, int64_t timeout_ms)
{
    if (self->draining)
        return;
    self->draining = true;
    self->drain_until = now + timeout_ms * 1000;
}

int
zhive_pool_drain_state (zhive_pool_t *self, int64_t now)
{
    if (!self->draining)
        return 0;
    if (self->tasks->unanswered == 0)
        return 1;
    return now >= self->drain_until ? 2 : 0;
}

void
zhive_pool_shutdown (zhive_pool_t *self, const char *message)
{
    zhive_pool_tasks_shutdown (self->tasks, message);
}

//  ---------------------------------------------------------------------
//  What the pool holds

size_t
zhive_pool_workers (zhive_pool_t *self)
{
    return zhashx_size (self->workers);
}

size_t
zhive_pool_waiting (zhive_pool_t *self)
{
    return self->tasks->waiting;
}

size_t
zhive_pool_unanswered (zhive_pool_t *self)
{
    return self->tasks->unanswered;
}

uint32_t
zhive_pool_incarnation (zhive_pool_t *self)
{
    return self->incarnation;
}

void
zhive_pool_each_worker (zhive_pool_t *self, zhive_pool_peer_fn *fn, void *arg)
{
    for (zhive_pool_member_t *worker = (zhive_pool_member_t *) zhashx_first (self->workers); worker;
         worker = (zhive_pool_member_t *) zhashx_next (self->workers))
        fn (&worker->peer, arg);
}

void
zhive_pool_each_waiting_client (zhive_pool_t *self, zhive_pool_peer_fn *fn, void *arg)
{
    for (zhive_pool_client_t *client = zhive_pool_clients_first (self->tasks->clients); client;
         client = zhive_pool_clients_next (self->tasks->clients)) {
        if (zhive_idmap_size (client->pending))
            fn (&client->peer, arg);
    }
}

void
zhive_pool_status (zhive_pool_t *self, zhive_pack_t *pack)
{
    zhive_pack_reset (pack);
    zhive_pack_map (pack, 2);
    zhive_pack_str (pack, "workers");
    zhive_pack_array (pack, (uint32_t) zhashx_size (self->workers));
    for (zhive_pool_member_t *worker = (zhive_pool_member_t *) zhashx_first (self->workers); worker;
         worker = (zhive_pool_member_t *) zhashx_next (self->workers))
        zhive_pool_member_pack (worker, pack);
    zhive_pack_str (pack, "queues");
    zhive_pack_array (pack, (uint32_t) zhashx_size (self->queues));
    for (zhive_pool_queue_t *queue = (zhive_pool_queue_t *) zhashx_first (self->queues); queue;
         queue = (zhive_pool_queue_t *) zhashx_next (self->queues))
        zhive_pool_queue_pack (queue, pack);
}

//  A function's view: its queue now (may be NULL) and its pruned counters
//  (may be NULL)
static void
s_function_view (zhive_pool_queue_t *queue, zhive_pool_queue_t *retired, int64_t now,
                 zhive_pool_function_t *view)
{
    memset (view, 0, sizeof *view);
    zhive_pool_queue_t sum;
    memset (&sum, 0, sizeof sum);
    if (queue) {
        zhive_pool_queue_absorb (&sum, queue);
        view->waiting = zhive_list_size (&queue->waiting);
        view->in_flight = queue->in_flight;
        view->workers = queue->workers_count;
        zhive_link_t *head = zhive_list_first (&queue->waiting);
        if (head)
            view->oldest_us = now - ZHIVE_LIST_ITEM (head, zhive_pool_task_t, link)->queued_us;
    }
    if (retired)
        zhive_pool_queue_absorb (&sum, retired);
    view->function = queue ? queue->function : retired->function;
    view->stats = sum.stats;
    view->wait = sum.wait;
    view->duration = sum.run;
}

void
zhive_pool_each_function (zhive_pool_t *self, int64_t now, zhive_pool_function_fn *fn, void *arg)
{
    zhive_pool_function_t view;
    for (zhive_pool_queue_t *queue = (zhive_pool_queue_t *) zhashx_first (self->queues); queue;
         queue = (zhive_pool_queue_t *) zhashx_next (self->queues)) {
        s_function_view (queue,
                         (zhive_pool_queue_t *) zhashx_lookup (self->retired, queue->function), now,
                         &view);
        fn (&view, arg);
    }
    for (zhive_pool_queue_t *retired = (zhive_pool_queue_t *) zhashx_first (self->retired); retired;
         retired = (zhive_pool_queue_t *) zhashx_next (self->retired)) {
        if (!zhashx_lookup (self->queues, retired->function)) {
            s_function_view (NULL, retired, now, &view);
            fn (&view, arg);
        }
    }
}

void
zhive_pool_each_member (zhive_pool_t *self, zhive_pool_member_fn *fn, void *arg)
{
    for (zhive_pool_member_t *worker = (zhive_pool_member_t *) zhashx_first (self->workers); worker;
         worker = (zhive_pool_member_t *) zhashx_next (self->workers))
        fn (worker, arg);
}

const zhive_pool_stats_t *
zhive_pool_function_stats (zhive_pool_t *self, const char *function)
{
    zhive_pool_queue_t *queue = (zhive_pool_queue_t *) zhashx_lookup (self->queues, function);
    return queue ? &queue->stats : NULL;
}

const zhive_pool_counters_t *
zhive_pool_counters (zhive_pool_t *self)
{
    return &self->counters;
}

//  ---------------------------------------------------------------------
//  Life and settings

zhive_pool_t *
zhive_pool_new (const zhive_pool_ops_t *ops, void *arg, uint32_t incarnation)
{
    zhive_pool_t *self = (zhive_pool_t *) calloc (1, sizeof (zhive_pool_t));
    if (!self)
        return NULL;
    self->ops = *ops;
    self->arg = arg;
    self->incarnation = incarnation ? incarnation : 1;
    self->sequence = 1;
    self->max_waiting = ZHIVE_POOL_MAX_WAITING;
    self->max_per_client = ZHIVE_POOL_MAX_PER_CLIENT;
    self->max_bytes = ZHIVE_POOL_MAX_BYTES;
    self->retries = ZHIVE_POOL_RETRIES;
    self->prefetch_us = ZHIVE_POOL_PREFETCH_US;
    self->unoffered_us = ZHIVE_POOL_UNOFFERED_MS * 1000LL;
    self->queues = zhashx_new ();
    self->workers = zhashx_new ();
    self->tasks = zhive_pool_tasks_new (&self->ops, arg, &self->counters);
    self->retired = zhashx_new ();
    if (!self->queues || !self->workers || !self->tasks || !self->retired)
        zhive_pool_destroy (&self);
    return self;
}

void
zhive_pool_destroy (zhive_pool_t **self_p)
{
    zhive_pool_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    //  Every task is in one list: a worker's or a queue's
    zhive_pool_member_t *worker;
    while (self->tasks && self->workers &&
           (worker = (zhive_pool_member_t *) zhashx_first (self->workers))) {
        zhive_link_t *link;
        while ((link = zhive_list_first (&worker->held))) {
            zhive_pool_task_t *task = ZHIVE_LIST_ITEM (link, zhive_pool_task_t, link);
            zhive_pool_tasks_unhold (self->tasks, task);
            zhive_pool_tasks_destroy_task (self->tasks, &task);
        }
        zhashx_delete (self->workers, worker->key);
        zhive_pool_member_destroy (&worker);
    }
    zhive_pool_queue_t *queue;
    while (self->tasks && self->queues &&
           (queue = (zhive_pool_queue_t *) zhashx_first (self->queues))) {
        zhive_link_t *link;
        while ((link = zhive_list_first (&queue->waiting))) {
            zhive_pool_task_t *task = ZHIVE_LIST_ITEM (link, zhive_pool_task_t, link);
            zhive_pool_tasks_wait_remove (self->tasks, task);
            zhive_pool_tasks_destroy_task (self->tasks, &task);
        }
        zhashx_delete (self->queues, queue->function);
        zhive_pool_queue_destroy (&queue);
    }
    while (self->retired && (queue = (zhive_pool_queue_t *) zhashx_first (self->retired))) {
        zhashx_delete (self->retired, queue->function);
        zhive_pool_queue_destroy (&queue);
    }
    zhashx_destroy (&self->retired);
    zhashx_destroy (&self->workers);
    zhashx_destroy (&self->queues);
    zhive_pool_tasks_destroy (&self->tasks);
    free (self);
    *self_p = NULL;
}

void
zhive_pool_set_verbose (zhive_pool_t *self, bool verbose)
{
    self->verbose = verbose;
    self->tasks->verbose = verbose;
}

void
zhive_pool_set_max_queue (zhive_pool_t *self, size_t total, size_t per_function)
{
    self->max_waiting = total;
    self->max_per_function = per_function;
}

void
zhive_pool_set_max_per_client (zhive_pool_t *self, size_t max)
{
    self->max_per_client = max;
}

void
zhive_pool_set_max_bytes (zhive_pool_t *self, uint64_t max)
{
    self->max_bytes = max;
}

void
zhive_pool_set_retries (zhive_pool_t *self, int64_t retries)
{
    self->retries = retries >= 0 ? retries : ZHIVE_POOL_RETRIES;
}

void
zhive_pool_set_prefetch (zhive_pool_t *self, int64_t prefetch_us)
{
    self->prefetch_us = prefetch_us > 0 ? prefetch_us : 0;
}

void
zhive_pool_set_unoffered (zhive_pool_t *self, int64_t timeout_ms)
{
    self->unoffered_us = timeout_ms > 0 ? timeout_ms * 1000 : 0;
}

void
zhive_pool_set_grace (zhive_pool_t *self, int64_t grace_ms)
{
    self->tasks->grace_ms = grace_ms;
}

int
zhive_pool_set_kept (zhive_pool_t *self, size_t max_count, size_t max_bytes, int64_t keep_ms)
{
    zhive_kept_t *kept = zhive_kept_new (max_count, max_bytes, keep_ms * 1000);
    if (!kept)
        return -1;
    zhive_kept_destroy (&self->tasks->kept);
    self->tasks->kept = kept;
    return 0;
}

void
zhive_pool_set_sequence (zhive_pool_t *self, uint32_t sequence)
{
    self->sequence = sequence;
}
