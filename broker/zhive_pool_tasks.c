/*  =========================================================================
    zhive_pool_tasks - the pool model's tasks and their answers
    =========================================================================
*/
#include "zhive_pool_tasks.h"
#include "zhive_log.h"
#include "zhive_result.h"
#include "zhive_socket.h"
#include <inttypes.h>

//  Debug lines only in verbose mode
#define S_LOG(self, ...) zhive_log_verbose ((self)->verbose, __VA_ARGS__)

//  ---------------------------------------------------------------------
//  Create and destroy the store

zhive_pool_tasks_t *
zhive_pool_tasks_new (const zhive_pool_ops_t *ops, void *arg, zhive_pool_counters_t *counters)
{
    zhive_pool_tasks_t *self = (zhive_pool_tasks_t *) calloc (1, sizeof (zhive_pool_tasks_t));
    if (!self)
        return NULL;
    self->ops = ops;
    self->arg = arg;
    self->counters = counters;
    self->grace_ms = ZHIVE_GRACE_MIN_MS;
    zhive_heap_init (&self->heap);
    self->clients = zhive_pool_clients_new ();
    self->in_flight = zhive_idmap_new ();
    self->kept = zhive_kept_new (ZHIVE_KEPT_MAX, ZHIVE_KEPT_BYTES, ZHIVE_KEPT_MS * 1000LL);
    if (!self->clients || !self->in_flight || !self->kept)
        zhive_pool_tasks_destroy (&self);
    return self;
}

void
zhive_pool_tasks_destroy (zhive_pool_tasks_t **self_p)
{
    zhive_pool_tasks_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zhive_pool_clients_destroy (&self->clients);
    zhive_idmap_destroy (&self->in_flight);
    zhive_kept_destroy (&self->kept);
    zhive_heap_fini (&self->heap);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  A new task, pending for its client

zhive_pool_task_t *
zhive_pool_tasks_add (zhive_pool_tasks_t *self, zhive_pool_client_t *client,
                      zhive_pool_queue_t *queue, uint64_t id, zmq_msg_t *args)
{
    zhive_pool_task_t *task = (zhive_pool_task_t *) calloc (1, sizeof (zhive_pool_task_t));
    if (!task || zhive_idmap_insert (client->pending, id, task)) {
        free (task);
        return NULL;
    }
    self->count++;
    self->unanswered++;
    task->id = id;
    task->client = client;
    task->queue = queue;
    task->queued_us = self->now;
    zmq_msg_init (&task->args);
    task->args_size = zmq_msg_size (args);
    zmq_msg_move (&task->args, args);
    zhive_heap_node_init (&task->deadline);
    zhive_link_init (&task->link);
    return task;
}

//  ---------------------------------------------------------------------
//  Waiting lists: they also count per client, in all, and in bytes

void
zhive_pool_tasks_wait_add (zhive_pool_tasks_t *self, zhive_pool_task_t *task, bool front)
{
    if (front)
        zhive_list_push_front (&task->queue->waiting, &task->link);
    else
        zhive_list_push_back (&task->queue->waiting, &task->link);
    self->waiting++;
    self->waiting_bytes += task->args_size;
    task->client->waiting++;
}

void
zhive_pool_tasks_wait_remove (zhive_pool_tasks_t *self, zhive_pool_task_t *task)
{
    zhive_list_remove (&task->queue->waiting, &task->link);
    self->waiting--;
    self->waiting_bytes -= task->args_size;
    if (task->client)
        task->client->waiting--;    //  A task detached while waiting no longer counts
}

//  ---------------------------------------------------------------------
//  Tasks and answers

//  The client has had (or will never get) its answer: forget who asked
void
zhive_pool_tasks_detach (zhive_pool_tasks_t *self, zhive_pool_task_t *task)
{
    if (zhive_heap_node_queued (&task->deadline))
        zhive_heap_remove (&self->heap, &task->deadline);
    if (task->client) {
        zhive_pool_client_t *client = task->client;
        if (!task->worker && zhive_link_listed (&task->link))
            client->waiting--;    //  Still in its queue (the broker stops)
        zhive_idmap_remove (client->pending, task->id);
        task->client = NULL;
        self->unanswered--;
        zhive_pool_clients_release (self->clients, client);
    }
}

//  Free a task that is in no list any more
void
zhive_pool_tasks_destroy_task (zhive_pool_tasks_t *self, zhive_pool_task_t **task_p)
{
    zhive_pool_task_t *task = *task_p;
    zhive_pool_tasks_detach (self, task);
    zmq_msg_close (&task->args);
    free (task);
    self->count--;
    *task_p = NULL;
}

//  Answer the task's client once: a RESULT with value (moved in) if not
//  NULL, else an ERROR. An answer that is not delivered is kept.
void
zhive_pool_tasks_answer (zhive_pool_tasks_t *self, zhive_pool_task_t *task, zmq_msg_t *value,
                         const char *type, const char *message, const char *worker)
{
    zhive_pool_client_t *client = task->client;
    if (!client) {
        zhive_msg_empty (value);
        return;
    }
    zmq_msg_t copy;    //  Shares the data: no copy of the bytes
    zmq_msg_init (&copy);
    if (value)
        zmq_msg_copy (&copy, value);
    bool delivered =
        self->ops->answer (self->arg, &client->peer, task->id, value, type, message, worker);
    zhive_msg_empty (value);
    if (!delivered) {
        if (zhive_kept_add (self->kept, client->key, task->id, value ? &copy : NULL, type, message,
                            worker, self->now) == 0) {
            self->counters->kept++;
            S_LOG (self, "kept the answer to task %" PRIu64 " for a client that cannot take it",
                   task->id);
        }
        else
            zhive_log_warning ("dropped an answer to task %" PRIu64 " that could not be sent:"
                               " too big to keep",
                               task->id);
    }
    zmq_msg_close (&copy);
    zhive_pool_tasks_detach (self, task);
}

//  Answer a task that is not taken (no task is made): not kept
void
zhive_pool_tasks_refuse (zhive_pool_tasks_t *self, const zhive_peer_t *peer, uint64_t id,
                         const char *type, const char *message)
{
    self->ops->answer (self->arg, peer, id, NULL, type, message, "");
}

//  Take a task off its worker (it answered, or is put back)
void
zhive_pool_tasks_unhold (zhive_pool_tasks_t *self, zhive_pool_task_t *task)
{
    zhive_idmap_remove (self->in_flight, task->ticket);
    zhive_list_remove (&task->worker->held, &task->link);
    task->queue->in_flight--;
    task->worker = NULL;
    task->ticket = 0;
}

//  Drop a task on the client's word or at its deadline, answering with
//  `type` if not NULL. A running task stays with its worker, which is sent
//  CANCEL, until the worker answers.
void
zhive_pool_tasks_cancel (zhive_pool_tasks_t *self, zhive_pool_task_t *task, const char *type,
                         const char *message)
{
    bool had_deadline = zhive_heap_node_queued (&task->deadline);
    bool waiting = task->worker == NULL;
    if (waiting)
        zhive_pool_tasks_wait_remove (self, task);    //  While it still has its client
    if (type)
        zhive_pool_tasks_answer (self, task, NULL, type, message, "");
    else
        zhive_pool_tasks_detach (self, task);
    if (waiting) {
        zhive_pool_tasks_destroy_task (self, &task);
        return;
    }
    self->ops->cancel (self->arg, &task->worker->peer, task->ticket);
    if (had_deadline) {
        //  Past the deadline and the grace, a local worker still running it is killed
        task->overdue = true;
        task->deadline.key += self->grace_ms * 1000;
        //  Cannot fail: the node was just taken off the heap, which never shrinks
        zhive_heap_push (&self->heap, &task->deadline);
    }
}

//  ---------------------------------------------------------------------
//  Answer the tasks that waited too long for a function nobody offers

size_t
zhive_pool_tasks_expire_unoffered (zhive_pool_tasks_t *self, zhive_pool_queue_t *queue,
                                   int64_t bound_us)
{
    size_t expired = 0;
    zhive_link_t *link;
    //  Oldest first: the first that has not waited long enough ends it
    while ((link = zhive_list_first (&queue->waiting))) {
        zhive_pool_task_t *task = ZHIVE_LIST_ITEM (link, zhive_pool_task_t, link);
        int64_t since =
            task->queued_us > queue->unoffered_since ? task->queued_us : queue->unoffered_since;
        if (self->now - since < bound_us)
            break;
        char message [ZHIVE_NAME_MAX + 96];
        snprintf (message, sizeof message, "no worker offers '%s' (the task waited %" PRId64 " ms)",
                  queue->function, (self->now - task->queued_us) / 1000);
        if (self->errors)
            zhive_pool_errors_record (self->errors, self->now, ZHIVE_POOL_ERROR_UNKNOWN_FN,
                                      queue->function, ZHIVE_ERR_UNKNOWN_FN, message, "");
        zhive_pool_tasks_cancel (self, task, ZHIVE_ERR_UNKNOWN_FN, message);
        expired++;
    }
    return expired;
}

void
zhive_pool_tasks_collect (uint64_t key, void *value, void *arg)
{
    (void) key;
    zlistx_add_end ((zlistx_t *) arg, value);
}

void
zhive_pool_tasks_shutdown (zhive_pool_tasks_t *self, const char *message)
{
    zlistx_t *tasks = zlistx_new ();
    if (!tasks)
        return;
    for (zhive_pool_client_t *client = zhive_pool_clients_first (self->clients); client;
         client = zhive_pool_clients_next (self->clients))
        zhive_idmap_each (client->pending, zhive_pool_tasks_collect, tasks);
    for (zhive_pool_task_t *task = (zhive_pool_task_t *) zlistx_first (tasks); task;
         task = (zhive_pool_task_t *) zlistx_next (tasks)) {
        //  Not kept: nobody will resend to a stopped broker
        zhive_pool_tasks_refuse (self, &task->client->peer, task->id, ZHIVE_ERR_SHUTDOWN, message);
        zhive_pool_tasks_detach (self, task);
    }
    zlistx_destroy (&tasks);
}

//  ---------------------------------------------------------------------
//  A resend of a task whose answer is kept gets that answer

bool
zhive_pool_tasks_deliver_kept (zhive_pool_tasks_t *self, zhive_pool_client_t *client, uint64_t id)
{
    zhive_kept_entry_t *kept = zhive_kept_take (self->kept, client->key, id);
    if (!kept)
        return false;
    S_LOG (self, "delivering the kept answer to task %" PRIu64, id);
    self->counters->kept_delivered++;
    zmq_msg_t copy;    //  Shares the data, in case it must be kept again
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, &kept->value);
    if (!self->ops->answer (self->arg, &client->peer, id, kept->is_result ? &kept->value : NULL,
                            kept->type, kept->message, kept->worker))
        zhive_kept_add (self->kept, client->key, id, kept->is_result ? &copy : NULL, kept->type,
                        kept->message, kept->worker, self->now);
    zmq_msg_close (&copy);
    zhive_kept_entry_destroy (&kept);
    return true;
}
