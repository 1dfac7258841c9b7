/*  =========================================================================
    zhive_pool_dispatch - the pool model's dispatch: tickets and credit

    Dispatch is credit-based and FIFO per function: a task goes only to a
    worker that offers its function and has credit, round-robin among
    those; a worker with fresh credit takes from its queues round-robin.
    A task that loses its worker goes back to the head of its queue; every
    event ends by handing such tasks on (zhive_pool_dispatch_settle).
    =========================================================================
*/
#include "zhive_pool_dispatch.h"
#include "zhive_result.h"
#include <inttypes.h>

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
        zhive_pool_dispatch_remove (self, worker, "unreachable");
    else
        self->blocked = true;    //  Its pipe is full: again at the next tick
    return false;
}

//  Hand waiting tasks of one queue to its workers with credit, round-robin
void
zhive_pool_dispatch_queue (zhive_pool_t *self, zhive_pool_queue_t *queue)
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
void
zhive_pool_dispatch_feed (zhive_pool_t *self, zhive_pool_member_t *worker)
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
void
zhive_pool_dispatch_settle (zhive_pool_t *self)
{
    while (self->redispatch) {
        self->redispatch = false;
        for (zhive_pool_queue_t *queue = (zhive_pool_queue_t *) zhashx_first (self->queues); queue;
             queue = (zhive_pool_queue_t *) zhashx_next (self->queues)) {
            if (!zhive_list_empty (&queue->waiting) && queue->workers_count)
                zhive_pool_dispatch_queue (self, queue);
        }
    }
}

//  ---------------------------------------------------------------------
//  Losing a worker

//  Forget a worker; tasks it held go back to the head of their queues, in
//  order, or fail with WorkerLost past their retries
void
zhive_pool_dispatch_remove (zhive_pool_t *self, zhive_pool_member_t *worker, const char *why)
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
            zhive_pool_errors_record (&self->errors, self->now, ZHIVE_POOL_ERROR_WORKER_LOST,
                                      task->queue->function, ZHIVE_ERR_WORKER_LOST, message,
                                      worker->name);
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
