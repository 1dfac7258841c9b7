/*  =========================================================================
    zhive_pool - the broker's pool model: a socket-free state machine

    The events: each one updates the tasks, queues and workers, then hands
    what waits to workers with credit (zhive_pool_dispatch, one way). A
    min-heap orders the tasks with deadlines, checked by the tick.
    =========================================================================
*/
#include "zhive_pool_dispatch.h"
#include "zhive_result.h"
#include "zhive_socket.h"
#include <inttypes.h>

//  ---------------------------------------------------------------------
//  Workers

static zhive_pool_member_t *
s_worker_lookup (zhive_pool_t *self, const zhive_peer_t *peer)
{
    char key [ZHIVE_PEER_KEY_SIZE];
    zhive_peer_key (peer, key);
    return (zhive_pool_member_t *) zhashx_lookup (self->workers, key);
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
        zhive_pool_dispatch_remove (self, worker, why);
    zlistx_destroy (&gone);
}

int
zhive_pool_worker_ready (zhive_pool_t *self, int64_t now, const zhive_peer_t *peer,
                         const zhive_pool_ready_t *ready)
{
    self->now = self->tasks->now = now;
    zhive_pool_member_t *worker = s_worker_lookup (self, peer);
    if (worker && worker->pid != ready->pid) {
        zhive_pool_dispatch_remove (self, worker, "replaced by another process");
        worker = NULL;
    }
    if (!worker) {
        worker = zhive_pool_member_new (peer, now);
        if (!worker || zhashx_insert (self->workers, worker->key, worker)) {
            zhive_pool_member_destroy (&worker);
            zhive_pool_dispatch_settle (self);
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
        zhive_pool_dispatch_remove (self, worker, "out of memory");
        zhive_pool_dispatch_settle (self);
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
    zhive_pool_dispatch_feed (self, worker);
    zhive_pool_dispatch_settle (self);
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
        zhive_pool_errors_record (&self->errors, now, ZHIVE_POOL_ERROR_FAILED,
                                  task->queue->function, type, message, worker->name);
        zhive_pool_tasks_answer (self->tasks, task, NULL, type, message, worker->name);
    }
    zhive_pool_tasks_destroy_task (self->tasks, &task);
    zhive_pool_dispatch_feed (self, worker);
    zhive_pool_dispatch_settle (self);
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
        zhive_pool_dispatch_remove (self, worker, why);
    zhive_pool_dispatch_settle (self);
}

void
zhive_pool_local_exited (zhive_pool_t *self, int64_t now, uint64_t pid, const char *why)
{
    self->now = self->tasks->now = now;
    s_workers_remove_local (self, pid, why);
    zhive_pool_dispatch_settle (self);
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
    zhive_pool_errors_record (&self->errors, self->now, ZHIVE_POOL_ERROR_QUEUE_FULL, function,
                              ZHIVE_ERR_QUEUE_FULL, message, "");
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
        zhive_pool_dispatch_queue (self, queue);
    zhive_pool_dispatch_settle (self);
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
    zhive_pool_dispatch_settle (self);
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
    zhive_pool_dispatch_settle (self);
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
        zhive_pool_dispatch_remove (self, worker, "the broker killed it: it overran a deadline");
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
    zhive_pool_errors_record (&self->errors, self->now, ZHIVE_POOL_ERROR_TIMEOUT, queue->function,
                              ZHIVE_ERR_TIMEOUT, message, task->worker ? task->worker->name : "");
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
    zhive_pool_dispatch_settle (self);
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

const zhive_pool_errors_t *
zhive_pool_errors (zhive_pool_t *self)
{
    return &self->errors;
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
    if (self->tasks)
        self->tasks->errors = &self->errors;
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
