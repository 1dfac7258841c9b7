/*  =========================================================================
    zhive_broker_queue - queues, the deadline heap, dispatch and workers

    One FIFO queue per function: an intrusive list of tasks, plus the
    workers that offer the function. A worker's credit is its concurrency
    plus its prefetch, minus the tasks it holds, no more than its task
    limit (READY max_tasks) allows, and none while it drains; a task goes
    only to a worker that offers its function and has credit. Prefetch is
    what keeps a worker of tiny tasks busy between two messages from us:
    the tasks it may hold queued beyond its slots, grown while its answers
    come back within prefetch_us of their dispatch (none at first, none for
    tasks slower than that, at most ZB_PREFETCH_MAX). The in-flight table (ticket ->
    task) finds the task of an answer. A min-heap orders tasks by deadline
    for one periodic timer.
    =========================================================================
*/
#include "zhive_broker_private.h"
#include <errno.h>
#include <inttypes.h>

//  ---------------------------------------------------------------------
//  Lists of tasks

static void
s_list_push_back (zb_list_t *list, zb_task_t *task)
{
    task->next = NULL;
    task->prev = list->tail;
    if (list->tail)
        list->tail->next = task;
    else
        list->head = task;
    list->tail = task;
    list->size++;
}

static void
s_list_push_front (zb_list_t *list, zb_task_t *task)
{
    task->prev = NULL;
    task->next = list->head;
    if (list->head)
        list->head->prev = task;
    else
        list->tail = task;
    list->head = task;
    list->size++;
}

static void
s_list_remove (zb_list_t *list, zb_task_t *task)
{
    if (task->prev)
        task->prev->next = task->next;
    else
        list->head = task->next;
    if (task->next)
        task->next->prev = task->prev;
    else
        list->tail = task->prev;
    task->prev = task->next = NULL;
    list->size--;
}

//  Waiting lists also count the tasks waiting in all queues
static void
s_wait_back (zb_server_t *self, zb_task_t *task)
{
    s_list_push_back (&task->queue->waiting, task);
    self->waiting++;
}

static void
s_wait_front (zb_server_t *self, zb_task_t *task)
{
    s_list_push_front (&task->queue->waiting, task);
    self->waiting++;
}

void
zb_wait_remove (zb_server_t *self, zb_task_t *task)
{
    s_list_remove (&task->queue->waiting, task);
    self->waiting--;
}

//  ---------------------------------------------------------------------
//  The deadline heap: O(log n) per task, one timer for all of them

static void
s_heap_swap (zb_server_t *self, size_t a, size_t b)
{
    zb_task_t *task = self->heap [a];
    self->heap [a] = self->heap [b];
    self->heap [b] = task;
    self->heap [a]->heap_index = a;
    self->heap [b]->heap_index = b;
}

static void
s_heap_up (zb_server_t *self, size_t at)
{
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (self->heap [parent]->deadline <= self->heap [at]->deadline)
            break;
        s_heap_swap (self, parent, at);
        at = parent;
    }
}

static void
s_heap_down (zb_server_t *self, size_t at)
{
    while (true) {
        size_t least = at;
        size_t left = 2 * at + 1;
        size_t right = left + 1;
        if (left < self->heap_size && self->heap [left]->deadline < self->heap [least]->deadline) {
            least = left;
        }
        if (right < self->heap_size &&
            self->heap [right]->deadline < self->heap [least]->deadline) {
            least = right;
        }
        if (least == at)
            break;
        s_heap_swap (self, at, least);
        at = least;
    }
}

int
zb_heap_push (zb_server_t *self, zb_task_t *task)
{
    if (self->heap_size == self->heap_max) {
        size_t max = self->heap_max ? self->heap_max * 2 : 256;
        zb_task_t **heap = (zb_task_t **) realloc (self->heap, max * sizeof (zb_task_t *));
        if (!heap)
            return -1;
        self->heap = heap;
        self->heap_max = max;
    }
    task->heap_index = self->heap_size++;
    self->heap [task->heap_index] = task;
    s_heap_up (self, task->heap_index);
    return 0;
}

void
zb_heap_remove (zb_server_t *self, zb_task_t *task)
{
    size_t at = task->heap_index;
    if (at == SIZE_MAX)
        return;
    size_t last = --self->heap_size;
    if (at != last) {
        self->heap [at] = self->heap [last];
        self->heap [at]->heap_index = at;
        s_heap_down (self, at);
        s_heap_up (self, at);
    }
    task->heap_index = SIZE_MAX;
}

void
zb_task_unhold (zb_server_t *self, zb_task_t *task)
{
    zhive_idmap_remove (self->in_flight, task->ticket);
    s_list_remove (&task->worker->held, task);
    task->queue->in_flight--;
    task->worker = NULL;
    task->ticket = 0;
}

//  ---------------------------------------------------------------------
//  Queues

zb_queue_t *
zb_queue_require (zb_server_t *self, const char *function)
{
    zb_queue_t *queue = (zb_queue_t *) zhashx_lookup (self->queues, function);
    if (queue)
        return queue;
    queue = (zb_queue_t *) calloc (1, sizeof (zb_queue_t));
    if (!queue)
        return NULL;
    queue->function = strdup (function);
    if (!queue->function || zhashx_insert (self->queues, function, queue)) {
        free (queue->function);
        free (queue);
        return NULL;
    }
    return queue;
}

static void
s_queue_destroy (zb_queue_t **queue_p)
{
    zb_queue_t *queue = *queue_p;
    free (queue->workers);
    free (queue->function);
    free (queue);
    *queue_p = NULL;
}

int
zb_queue_add_worker (zb_queue_t *queue, zb_worker_t *worker)
{
    for (size_t i = 0; i < queue->workers_count; i++) {
        if (queue->workers [i] == worker) {
            return 1;    //  Offered twice in one READY
        }
    }
    if (queue->workers_count == queue->workers_max) {
        size_t max = queue->workers_max ? queue->workers_max * 2 : 4;
        zb_worker_t **workers =
            (zb_worker_t **) realloc (queue->workers, max * sizeof (zb_worker_t *));
        if (!workers)
            return -1;
        queue->workers = workers;
        queue->workers_max = max;
    }
    queue->workers [queue->workers_count++] = worker;
    return 0;
}

void
zb_queue_remove_worker (zb_queue_t *queue, zb_worker_t *worker)
{
    for (size_t i = 0; i < queue->workers_count; i++) {
        if (queue->workers [i] == worker) {
            memmove (queue->workers + i, queue->workers + i + 1,
                     (queue->workers_count - i - 1) * sizeof (zb_worker_t *));
            queue->workers_count--;
            return;
        }
    }
}

void
zb_queues_prune (zb_server_t *self)
{
    zlistx_t *unused = zlistx_new ();
    if (!unused)
        return;
    for (zb_queue_t *queue = (zb_queue_t *) zhashx_first (self->queues); queue;
         queue = (zb_queue_t *) zhashx_next (self->queues)) {
        if (!queue->waiting.size && !queue->in_flight && !queue->workers_count)
            zlistx_add_end (unused, queue);
    }
    for (zb_queue_t *queue = (zb_queue_t *) zlistx_first (unused); queue;
         queue = (zb_queue_t *) zlistx_next (unused)) {
        zhashx_delete (self->queues, queue->function);
        s_queue_destroy (&queue);
    }
    zlistx_destroy (&unused);
}

void
zb_queues_destroy (zb_server_t *self)
{
    zb_queue_t *queue;
    while ((queue = (zb_queue_t *) zhashx_first (self->queues))) {
        while (queue->waiting.head) {
            zb_task_t *task = queue->waiting.head;
            zb_wait_remove (self, task);
            zb_task_destroy (self, &task);
        }
        zhashx_delete (self->queues, queue->function);
        s_queue_destroy (&queue);
    }
}

//  ---------------------------------------------------------------------
//  Workers and dispatch

size_t
zb_worker_credit (const zb_worker_t *worker)
{
    if (worker->draining)
        return 0;
    size_t slots = (size_t) worker->concurrency + worker->prefetch;
    size_t credit = slots > worker->held.size ? slots - worker->held.size : 0;
    if (worker->max_tasks) {
        uint64_t left =
            worker->max_tasks > worker->dispatched ? worker->max_tasks - worker->dispatched : 0;
        if (left < credit)
            credit = (size_t) left;
    }
    return credit;
}

void
zb_clock (zb_server_t *self)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    self->now_us = (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

//  Prefetch follows the time tasks spend at the worker, from dispatch to
//  answer: one more while answers come back within prefetch_us, one less
//  while they do not. Queued work then settles at about prefetch_us (each
//  extra task waits behind the others), a worker starved between our
//  messages answers fast and gets more, and tasks slower than prefetch_us
//  get none.
void
zb_worker_measure (zb_server_t *self, zb_worker_t *worker, int64_t sent_us)
{
    if (self->now_us - sent_us < self->prefetch_us) {
        if (worker->prefetch < ZB_PREFETCH_MAX)
            worker->prefetch++;
    }
    else if (worker->prefetch)
        worker->prefetch--;
}

void
zb_worker_remove (zb_server_t *self, zb_worker_t *worker, const char *why)
{
    if (worker->held.size || self->verbose) {
        zb_warn ("worker '%s' (pid %" PRIu64 ") lost: %s; %zu task(s) to requeue", worker->name,
                 worker->pid, why, worker->held.size);
    }
    if (worker->max_tasks && worker->dispatched >= worker->max_tasks &&
        zb_host_is_local (self, worker->host)) {
        zb_child_t *child = zb_procs_child (self, worker->pid);
        if (child)
            child->retired = true;    //  Its exit is the end of a full life
    }
    //  From the newest to the oldest, so they keep their order at the front
    while (worker->held.tail) {
        zb_task_t *task = worker->held.tail;
        s_list_remove (&worker->held, task);
        zhive_idmap_remove (self->in_flight, task->ticket);
        task->queue->in_flight--;
        task->worker = NULL;
        task->ticket = 0;
        task->attempts++;
        if (!task->client) {
            zb_task_destroy (self, &task);    //  Already answered (Timeout, Cancelled)
        }
        else if (task->attempts > task->retries) {
            char message [ZHIVE_NAME_MAX + 256];
            snprintf (message, sizeof message,
                      "worker '%s' was lost (%s) while running '%s'; gave up after %" PRId64
                      " attempt(s)",
                      worker->name, why, task->queue->function, task->attempts);
            zb_task_fail (self, task, ZHIVE_ERR_WORKER_LOST, message, "");
            zb_task_destroy (self, &task);
        }
        else
            s_wait_front (self, task);
    }
    for (size_t i = 0; i < worker->queues_count; i++)
        zb_queue_remove_worker (worker->queues [i], worker);
    zhashx_delete (self->workers, worker->key);
    free (worker->queues);
    free (worker);
    self->redispatch = true;
}

void
zb_workers_destroy (zb_server_t *self)
{
    zb_worker_t *worker;
    while ((worker = (zb_worker_t *) zhashx_first (self->workers))) {
        while (worker->held.head) {
            zb_task_t *task = worker->held.head;
            s_list_remove (&worker->held, task);
            zhive_idmap_remove (self->in_flight, task->ticket);
            zb_task_destroy (self, &task);
        }
        zhashx_delete (self->workers, worker->key);
        free (worker->queues);
        free (worker);
    }
}

//  Send one task to a worker that has credit. Returns 0, or -1 if the
//  worker is unreachable (the task is untouched).
static int
s_task_dispatch (zb_server_t *self, zb_task_t *task, zb_worker_t *worker)
{
    uint64_t ticket = self->next_ticket++;
    if (zhive_idmap_insert (self->in_flight, ticket, task))
        return -1;
    zhive_proto_t *out = zb_out (self, worker->routing, worker->routing_size, ZHIVE_TASK);
    out->id = ticket;
    zhive_proto_set_name (out->function, task->queue->function);
    out->timeout_ms = -1;
    out->chunk = task->chunk;
    if (task->heap_index != SIZE_MAX) {
        int64_t left = task->deadline - zclock_mono ();
        out->timeout_ms = left > 0 ? left : 1;    //  Due now: the next tick times it out
    }
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, &task->args);
    zhive_proto_move_payload (out, &copy);
    zmq_msg_close (&copy);
    if (zb_send (self, self->worker_sock)) {
        zhive_idmap_remove (self->in_flight, ticket);
        return -1;
    }
    task->ticket = ticket;
    task->worker = worker;
    task->sent_us = self->now_us;
    s_list_push_back (&worker->held, task);
    task->queue->in_flight++;
    worker->dispatched++;
    return 0;
}

//  Hand waiting tasks of one queue to its workers with credit, round-robin
static void
s_queue_dispatch (zb_server_t *self, zb_queue_t *queue)
{
    while (queue->waiting.size && queue->workers_count) {
        zb_worker_t *worker = NULL;
        for (size_t i = 0; i < queue->workers_count; i++) {
            size_t at = (queue->next_worker + i) % queue->workers_count;
            if (zb_worker_credit (queue->workers [at])) {
                worker = queue->workers [at];
                queue->next_worker = at + 1;
                break;
            }
        }
        if (!worker)
            break;
        zb_task_t *task = queue->waiting.head;
        zb_wait_remove (self, task);
        if (s_task_dispatch (self, task, worker)) {
            s_wait_front (self, task);
            zb_worker_remove (self, worker, "unreachable");
        }
    }
}

void
zb_queue_submit (zb_server_t *self, zb_task_t *task)
{
    zb_queue_t *queue = task->queue;
    //  Tasks already waiting mean no worker of this queue has credit
    bool was_empty = queue->waiting.size == 0;
    s_wait_back (self, task);
    if (task->timeout_ms >= 0) {
        task->deadline = zclock_mono () + task->timeout_ms;
        if (zb_heap_push (self, task)) {
            zb_task_fail (self, task, ZHIVE_ERR_QUEUE_FULL, "the broker is out of memory", "");
            zb_wait_remove (self, task);
            zb_task_destroy (self, &task);
            return;
        }
    }
    if (was_empty)
        s_queue_dispatch (self, queue);
}

void
zb_worker_feed (zb_server_t *self, zb_worker_t *worker)
{
    while (zb_worker_credit (worker) && worker->queues_count) {
        zb_queue_t *queue = NULL;
        for (size_t i = 0; i < worker->queues_count; i++) {
            size_t at = (worker->next_queue + i) % worker->queues_count;
            if (worker->queues [at]->waiting.size) {
                queue = worker->queues [at];
                worker->next_queue = at + 1;
                break;
            }
        }
        if (!queue)
            break;
        zb_task_t *task = queue->waiting.head;
        zb_wait_remove (self, task);
        if (s_task_dispatch (self, task, worker)) {
            s_wait_front (self, task);
            zb_worker_remove (self, worker, "unreachable");
            return;
        }
    }
}

void
zb_settle (zb_server_t *self)
{
    while (self->redispatch) {
        self->redispatch = false;
        zb_queue_t *queue = (zb_queue_t *) zhashx_first (self->queues);
        while (queue) {
            if (queue->waiting.size && queue->workers_count)
                s_queue_dispatch (self, queue);
            queue = (zb_queue_t *) zhashx_next (self->queues);
        }
    }
}

bool
zb_host_is_local (zb_server_t *self, const char *host)
{
    if (streq (host, self->hostname))
        return true;
    size_t size = strcspn (self->hostname, ".");
    return strncmp (host, self->hostname, size) == 0 && (host [size] == 0 || host [size] == '.');
}

void
zb_workers_remove_matching (zb_server_t *self, const zb_worker_t *keep, const char *host,
                            const char *name, uint64_t pid, const char *why)
{
    zlistx_t *gone = zlistx_new ();
    if (!gone)
        return;
    zb_worker_t *worker = (zb_worker_t *) zhashx_first (self->workers);
    while (worker) {
        if (worker != keep && worker->pid == pid &&
            (host ? streq (worker->host, host) : zb_host_is_local (self, worker->host)) &&
            (!name || streq (worker->name, name))) {
            zlistx_add_end (gone, worker);
        }
        worker = (zb_worker_t *) zhashx_next (self->workers);
    }
    for (worker = (zb_worker_t *) zlistx_first (gone); worker;
         worker = (zb_worker_t *) zlistx_next (gone)) {
        zb_worker_remove (self, worker, why);
    }
    zlistx_destroy (&gone);
}
