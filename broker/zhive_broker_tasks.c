/*  =========================================================================
    zhive_broker_tasks - tasks, their clients, answers and deadlines

    A task ends with exactly one answer to its client: RESULT or ERROR from
    its worker, or an ERROR the broker makes (Timeout, Cancelled,
    WorkerLost, BrokerShutdown). A running task whose client was answered
    early stays with its worker, which is sent CANCEL, until the worker
    answers; a local worker still running it past the deadline and a grace
    is killed.

    A client is kept while it has tasks pending or answers kept for it: an
    answer whose send failed because the client was not connected is kept
    for a while (bounded in count and bytes), and a resent SUBMIT of that
    task gets it at once.
    =========================================================================
*/
#include "zhive_broker_private.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>

//  ---------------------------------------------------------------------
//  Logging

static void
s_vlog (const char *format, va_list args)
{
    char line [1024];
    vsnprintf (line, sizeof line, format, args);
    fprintf (stderr, "zhive-broker: %s\n", line);
}

void
zb_log (zb_server_t *self, const char *format, ...)
{
    if (!self->verbose)
        return;
    va_list args;
    va_start (args, format);
    s_vlog (format, args);
    va_end (args);
}

void
zb_warn (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vlog (format, args);
    va_end (args);
}

//  ---------------------------------------------------------------------
//  Sending

void
zb_routing_key (char *key, const uint8_t *routing, size_t size)
{
    static const char hex [] = "0123456789abcdef";
    for (size_t i = 0; i < size && i < 256; i++) {
        key [2 * i] = hex [routing [i] >> 4];
        key [2 * i + 1] = hex [routing [i] & 15];
    }
    key [2 * (size < 256 ? size : 256)] = 0;
}

zhive_proto_t *
zb_out (zb_server_t *self, const uint8_t *routing, size_t size, int command)
{
    zhive_proto_t *out = self->out;
    memcpy (out->routing, routing, size);
    out->routing_size = size;
    out->command = command;
    return out;
}

int
zb_send (zb_server_t *self, zsock_t *sock)
{
    int rc = zhive_proto_send (self->out, sock);
    if (rc) {
        int error = errno;    //  EHOSTUNREACH: the peer has gone
        zhive_proto_clear_payload (self->out);
        errno = error;
    }
    return rc;
}

void
zb_send_error (zb_server_t *self, const uint8_t *routing, size_t size, uint64_t id,
               const char *type, const char *message, const char *worker)
{
    zhive_proto_t *out = zb_out (self, routing, size, ZHIVE_ERROR);
    out->id = id;
    zhive_proto_set_name (out->type, type);
    zhive_proto_set_message (out, message);
    zhive_proto_set_name (out->worker, worker);
    zb_send (self, self->client_sock);
}

//  ---------------------------------------------------------------------
//  Clients

//  The most recent client is remembered (and not freed when idle): a
//  pipelining client, or one calling apply in a loop, is then found without
//  building a key or hashing, and not made anew for every call
static void
s_client_set_recent (zb_server_t *self, zb_client_t *client)
{
    zb_client_t *previous = self->recent;
    self->recent = client;
    if (previous && previous != client)
        zb_client_release (self, previous);
}

zb_client_t *
zb_client_lookup (zb_server_t *self, const uint8_t *routing, size_t size)
{
    zb_client_t *recent = self->recent;
    if (recent && recent->routing_size == size && memcmp (recent->routing, routing, size) == 0)
        return recent;
    char key [ZB_KEY_SIZE];
    zb_routing_key (key, routing, size);
    zb_client_t *client = (zb_client_t *) zhashx_lookup (self->clients, key);
    if (client)
        s_client_set_recent (self, client);
    return client;
}

zb_client_t *
zb_client_require (zb_server_t *self, const uint8_t *routing, size_t size)
{
    zb_client_t *client = zb_client_lookup (self, routing, size);
    if (client)
        return client;
    client = (zb_client_t *) calloc (1, sizeof (zb_client_t));
    if (!client)
        return NULL;
    zb_routing_key (client->key, routing, size);
    memcpy (client->routing, routing, size);
    client->routing_size = size;
    client->pending = zhive_idmap_new ();
    if (!client->pending || zhashx_insert (self->clients, client->key, client)) {
        zhive_idmap_destroy (&client->pending);
        free (client);
        return NULL;
    }
    s_client_set_recent (self, client);
    return client;
}

void
zb_client_release (zb_server_t *self, zb_client_t *client)
{
    if (client == self->recent)
        return;    //  Freed when another client becomes the recent one
    if (zhive_idmap_size (client->pending) == 0 &&
        (!client->kept || zhive_idmap_size (client->kept) == 0)) {
        zhashx_delete (self->clients, client->key);
        zhive_idmap_destroy (&client->pending);
        zhive_idmap_destroy (&client->kept);
        free (client);
    }
}

//  ---------------------------------------------------------------------
//  Kept answers: bounded in count and bytes, the oldest go first

static void
s_kept_destroy (zb_server_t *self, zb_kept_t *kept)
{
    if (kept->prev)
        kept->prev->next = kept->next;
    else
        self->kept_oldest = kept->next;
    if (kept->next)
        kept->next->prev = kept->prev;
    else
        self->kept_newest = kept->prev;
    self->kept_count--;
    self->kept_bytes -= kept->bytes;
    zb_client_t *client = kept->client;
    zhive_idmap_remove (client->kept, kept->id);
    free (kept->type);
    free (kept->message);
    free (kept->worker);
    zmq_msg_close (&kept->value);
    free (kept);
    zb_client_release (self, client);
}

//  Keep self->out (an answer to client/id that could not be sent); value
//  is the RESULT's value (copied), NULL for an ERROR. The task is still
//  pending, so the client stays.
static void
s_kept_add (zb_server_t *self, zb_client_t *client, uint64_t id, zmq_msg_t *value)
{
    zhive_proto_t *out = self->out;
    size_t bytes = sizeof (zb_kept_t) + (value ? zmq_msg_size (value) : 0);
    const char *message = out->message ? out->message : "";
    if (out->command == ZHIVE_ERROR)
        bytes += strlen (out->type) + strlen (message) + strlen (out->worker) + 3;
    if (bytes > ZB_KEPT_BYTES / 4) {
        zb_warn ("dropped an answer of %zu bytes for a client that is not connected: too big to"
                 " keep",
                 bytes);
        return;
    }
    zb_kept_t *old = client->kept ? (zb_kept_t *) zhive_idmap_lookup (client->kept, id) : NULL;
    if (old)
        s_kept_destroy (self, old);    //  The task ran again: the newer answer wins
    if (!client->kept)
        client->kept = zhive_idmap_new ();
    zb_kept_t *kept = (zb_kept_t *) calloc (1, sizeof (zb_kept_t));
    if (!client->kept || !kept) {
        free (kept);
        return;
    }
    kept->client = client;
    kept->id = id;
    kept->command = out->command;
    zmq_msg_init (&kept->value);
    if (value)
        zmq_msg_copy (&kept->value, value);
    if (out->command == ZHIVE_ERROR) {
        kept->type = strdup (out->type);
        kept->message = strdup (message);
        kept->worker = strdup (out->worker);
    }
    if ((out->command == ZHIVE_ERROR && (!kept->type || !kept->message || !kept->worker)) ||
        zhive_idmap_insert (client->kept, id, kept)) {
        free (kept->type);
        free (kept->message);
        free (kept->worker);
        zmq_msg_close (&kept->value);
        free (kept);
        return;
    }
    kept->bytes = bytes;
    kept->expires = zclock_mono () + ZB_KEEP_MS;
    kept->prev = self->kept_newest;
    if (self->kept_newest)
        self->kept_newest->next = kept;
    else
        self->kept_oldest = kept;
    self->kept_newest = kept;
    self->kept_count++;
    self->kept_bytes += bytes;
    while (self->kept_count > ZB_KEPT_MAX || self->kept_bytes > ZB_KEPT_BYTES)
        s_kept_destroy (self, self->kept_oldest);
    zb_log (self, "kept the answer to task %" PRIu64 " for a client that is not connected", id);
}

bool
zb_kept_deliver (zb_server_t *self, zb_client_t *client, uint64_t id)
{
    zb_kept_t *kept = client->kept ? (zb_kept_t *) zhive_idmap_lookup (client->kept, id) : NULL;
    if (!kept)
        return false;
    zhive_proto_t *out = zb_out (self, client->routing, client->routing_size, kept->command);
    out->id = id;
    if (kept->command == ZHIVE_RESULT)
        zhive_proto_move_payload (out, &kept->value);
    else {
        zhive_proto_set_name (out->type, kept->type);
        zhive_proto_set_message (out, kept->message);
        zhive_proto_set_name (out->worker, kept->worker);
    }
    zb_send (self, self->client_sock);
    zb_log (self, "delivered the kept answer to task %" PRIu64, id);
    s_kept_destroy (self, kept);    //  May free the client
    return true;
}

void
zb_kept_expire (zb_server_t *self, int64_t now)
{
    while (self->kept_oldest && self->kept_oldest->expires <= now)
        s_kept_destroy (self, self->kept_oldest);
}

void
zb_kept_purge (zb_server_t *self)
{
    while (self->kept_oldest)
        s_kept_destroy (self, self->kept_oldest);
}

//  ---------------------------------------------------------------------
//  Tasks

//  The client has had (or will never get) its answer: forget who asked
static void
s_task_detach (zb_server_t *self, zb_task_t *task)
{
    zb_heap_remove (self, task);
    if (task->client) {
        zb_client_t *client = task->client;
        zhive_idmap_remove (client->pending, task->id);
        task->client = NULL;
        self->unanswered--;
        zb_client_release (self, client);
    }
}

//  Send self->out, an answer to the task's client; keep it if the client
//  is not connected. value: the RESULT's value, to keep a copy of.
static void
s_task_answer (zb_server_t *self, zb_task_t *task, zmq_msg_t *value)
{
    if (zb_send (self, self->client_sock) && errno == EHOSTUNREACH)
        s_kept_add (self, task->client, task->id, value);
    s_task_detach (self, task);
}

//  Address self->out to the task's client; NULL (and the task detached) if
//  nobody waits for it
static zhive_proto_t *
s_task_out (zb_server_t *self, zb_task_t *task, int command)
{
    if (!task->client) {
        s_task_detach (self, task);
        return NULL;
    }
    zb_client_t *client = task->client;
    zhive_proto_t *out = zb_out (self, client->routing, client->routing_size, command);
    out->id = task->id;
    return out;
}

void
zb_task_result (zb_server_t *self, zb_task_t *task, zmq_msg_t *value)
{
    zhive_proto_t *out = s_task_out (self, task, ZHIVE_RESULT);
    if (!out)
        return;
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, value);    //  Shares the data: no copy of the bytes
    zhive_proto_move_payload (out, value);
    s_task_answer (self, task, &copy);
    zmq_msg_close (&copy);
}

void
zb_task_fail (zb_server_t *self, zb_task_t *task, const char *type, const char *message,
              const char *worker)
{
    zhive_proto_t *out = s_task_out (self, task, ZHIVE_ERROR);
    if (!out)
        return;
    zhive_proto_set_name (out->type, type);
    zhive_proto_set_message (out, message);
    zhive_proto_set_name (out->worker, worker);
    s_task_answer (self, task, NULL);
}

void
zb_task_destroy (zb_server_t *self, zb_task_t **task_p)
{
    zb_task_t *task = *task_p;
    s_task_detach (self, task);
    zmq_msg_close (&task->args);
    free (task);
    self->tasks--;
    *task_p = NULL;
}

int64_t
zb_grace_ms (zb_server_t *self)
{
    int64_t grace = 2 * (int64_t) self->heartbeat_ms * self->liveness;
    return grace > ZB_GRACE_MIN_MS ? grace : ZB_GRACE_MIN_MS;
}

void
zb_task_cancel (zb_server_t *self, zb_task_t *task, const char *type, const char *message)
{
    bool had_deadline = task->heap_index != SIZE_MAX;
    if (type)
        zb_task_fail (self, task, type, message, "");
    else
        s_task_detach (self, task);
    if (!task->worker) {
        zb_wait_remove (self, task);
        zb_task_destroy (self, &task);
        return;
    }
    //  Running: ask the worker to stop it; its answer will be dropped
    zb_worker_t *worker = task->worker;
    zhive_proto_t *out = zb_out (self, worker->routing, worker->routing_size, ZHIVE_CANCEL);
    out->id = task->ticket;
    zb_send (self, self->worker_sock);
    if (had_deadline) {
        //  Past the deadline and the grace, a local worker still running it is killed
        task->overdue = true;
        task->deadline += zb_grace_ms (self);
        zb_heap_push (self, task);
    }
}

static void
s_task_timeout (zb_server_t *self, zb_task_t *task)
{
    zb_queue_t *queue = task->queue;
    char message [ZHIVE_NAME_MAX * 2 + 128];
    if (task->worker) {
        snprintf (message, sizeof message,
                  "no result within %" PRId64 " ms: '%s' still running on worker '%s'",
                  task->timeout_ms, queue->function, task->worker->name);
    }
    else if (queue->workers_count == 0) {
        snprintf (message, sizeof message, "no result within %" PRId64 " ms: no worker offers '%s'",
                  task->timeout_ms, queue->function);
    }
    else {
        snprintf (message, sizeof message,
                  "no result within %" PRId64 " ms: '%s' waited in a queue of %zu",
                  task->timeout_ms, queue->function, queue->waiting.size);
    }
    zb_task_cancel (self, task, ZHIVE_ERR_TIMEOUT, message);
}

//  A worker still runs a task past its deadline and the grace
static void
s_task_overran (zb_server_t *self, zb_task_t *task)
{
    zb_heap_remove (self, task);
    zb_worker_t *worker = task->worker;
    char why [ZHIVE_NAME_MAX + 128];
    snprintf (why, sizeof why, "it still runs '%s' %" PRId64 " ms past its deadline",
              task->queue->function, zb_grace_ms (self));
    if (zb_host_is_local (self, worker->host) && zb_procs_kill (self, worker->pid, why) == 0) {
        //  Its other tasks go back to their queues now (this one is freed)
        zb_worker_remove (self, worker, "the broker killed it: it overran a deadline");
        return;
    }
    zb_log (self, "worker '%s' (remote): %s; its watchdog should stop it", worker->name, why);
}

void
zb_deadlines_check (zb_server_t *self, int64_t now)
{
    while (self->heap_size && self->heap [0]->deadline <= now) {
        zb_task_t *task = self->heap [0];
        if (task->overdue)
            s_task_overran (self, task);
        else
            s_task_timeout (self, task);
    }
}

static void
s_collect_task (uint64_t key, void *value, void *arg)
{
    (void) key;
    zlistx_add_end ((zlistx_t *) arg, value);
}

void
zb_tasks_shutdown (zb_server_t *self, const char *message)
{
    zlistx_t *tasks = zlistx_new ();
    if (!tasks)
        return;
    zb_client_t *client = (zb_client_t *) zhashx_first (self->clients);
    for (; client; client = (zb_client_t *) zhashx_next (self->clients))
        zhive_idmap_each (client->pending, s_collect_task, tasks);
    for (zb_task_t *task = (zb_task_t *) zlistx_first (tasks); task;
         task = (zb_task_t *) zlistx_next (tasks)) {
        //  Not kept: nobody will resend to a stopped broker
        zb_send_error (self, task->client->routing, task->client->routing_size, task->id,
                       ZHIVE_ERR_SHUTDOWN, message, "");
        s_task_detach (self, task);
    }
    zlistx_destroy (&tasks);
}

void
zb_client_tasks_drop (zb_server_t *self, zb_client_t *client)
{
    zlistx_t *tasks = zlistx_new ();
    if (!tasks)
        return;
    zhive_idmap_each (client->pending, s_collect_task, tasks);
    zb_log (self, "a client left with %zu task(s) pending", zlistx_size (tasks));
    //  The last detach may free the client
    for (zb_task_t *task = (zb_task_t *) zlistx_first (tasks); task;
         task = (zb_task_t *) zlistx_next (tasks)) {
        zb_task_cancel (self, task, NULL, NULL);
    }
    zlistx_destroy (&tasks);
}
