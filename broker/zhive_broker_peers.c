/*  =========================================================================
    zhive_broker_peers - what clients and workers send, and heartbeats

    Both sockets are ROUTERs with ROUTER_MANDATORY, so a send to a peer
    whose connection is gone fails with EHOSTUNREACH: for a worker that
    means it is lost (its tasks go back to their queues), for a client that
    its answer is kept until it reconnects and resends the task. ZMTP
    heartbeats close the connection of a peer that has gone silent; the
    broker's own HEARTBEAT each interval is what finds the closed ones.
    =========================================================================
*/
#include "zhive_broker_private.h"
#include <errno.h>
#include <inttypes.h>

//  ---------------------------------------------------------------------
//  Client socket

static void
s_client_malformed (zb_server_t *self, const char *why)
{
    zhive_proto_t *in = self->in;
    zb_log (self, "malformed message from a client: %s", why);
    zb_send_error (self, in->routing, in->routing_size, 0, ZHIVE_ERR_MALFORMED, why, "");
}

//  Why a new task cannot be taken now, or NULL: the type and the message
static const char *
s_refusal (zb_server_t *self, const char *function, char *message, size_t size)
{
    if (self->draining) {
        snprintf (message, size, "broker is draining: it takes no new tasks");
        return ZHIVE_ERR_SHUTDOWN;
    }
    if (self->max_waiting && self->waiting >= self->max_waiting) {
        snprintf (message, size, "broker holds %zu waiting tasks (its limit)", self->waiting);
        return ZHIVE_ERR_QUEUE_FULL;
    }
    zb_queue_t *queue = (zb_queue_t *) zhashx_lookup (self->queues, function);
    if (self->max_per_function && queue && queue->waiting.size >= self->max_per_function) {
        snprintf (message, size, "queue for '%s' is full (%zu waiting)", function,
                  queue->waiting.size);
        return ZHIVE_ERR_QUEUE_FULL;
    }
    return NULL;
}

static void
s_client_submit (zb_server_t *self)
{
    zhive_proto_t *in = self->in;
    zb_client_t *client = zb_client_require (self, in->routing, in->routing_size);
    if (!client) {
        zb_send_error (self, in->routing, in->routing_size, in->id, ZHIVE_ERR_QUEUE_FULL,
                       "the broker is out of memory", "");
        return;
    }
    //  A resend after a reconnect: the answer it missed, or nothing if the
    //  task is still under way
    if (zb_kept_deliver (self, client, in->id))
        return;
    if (zhive_idmap_lookup (client->pending, in->id)) {
        zb_log (self, "dropped SUBMIT %" PRIu64 " for '%s': that task is already pending", in->id,
                in->function);
        return;
    }
    char message [ZHIVE_NAME_MAX + 128];
    const char *refusal = s_refusal (self, in->function, message, sizeof message);
    zb_queue_t *queue = refusal ? NULL : zb_queue_require (self, in->function);
    zb_task_t *task = queue ? (zb_task_t *) calloc (1, sizeof (zb_task_t)) : NULL;
    if (!task || zhive_idmap_insert (client->pending, in->id, task)) {
        free (task);
        if (!refusal) {
            refusal = ZHIVE_ERR_QUEUE_FULL;
            snprintf (message, sizeof message, "the broker is out of memory");
        }
        zb_log (self, "refused task %" PRIu64 " for '%s': %s", in->id, in->function, message);
        zb_send_error (self, in->routing, in->routing_size, in->id, refusal, message, "");
        zb_client_release (self, client);
        return;
    }
    self->tasks++;
    self->unanswered++;
    task->id = in->id;
    task->client = client;
    task->queue = queue;
    zmq_msg_init (&task->args);
    zmq_msg_move (&task->args, &in->payload);
    zhive_proto_clear_payload (in);
    task->heap_index = SIZE_MAX;
    task->retries = in->retries < 0 ? self->retries : in->retries;
    task->chunk = in->chunk;
    task->timeout_ms = in->timeout_ms < 0 || in->timeout_ms > ZB_TIMEOUT_MAX ? -1 : in->timeout_ms;
    zb_queue_submit (self, task);
}

static void
s_client_cancel (zb_server_t *self)
{
    zhive_proto_t *in = self->in;
    zb_client_t *client = zb_client_lookup (self, in->routing, in->routing_size);
    zb_task_t *task = client ? (zb_task_t *) zhive_idmap_lookup (client->pending, in->id) : NULL;
    if (task)
        zb_task_cancel (self, task, ZHIVE_ERR_CANCELLED, "cancelled by the client");
}

//  A client said BYE: nobody waits for its tasks any more
static void
s_client_bye (zb_server_t *self)
{
    zhive_proto_t *in = self->in;
    zb_client_t *client = zb_client_lookup (self, in->routing, in->routing_size);
    if (client)
        zb_client_tasks_drop (self, client);
}

static void
s_client_status (zb_server_t *self)
{
    zhive_pack_t *pack = self->pack;
    zhive_pack_reset (pack);
    zhive_pack_map (pack, 2);
    zhive_pack_str (pack, "workers");
    zhive_pack_array (pack, (uint32_t) zhashx_size (self->workers));
    for (zb_worker_t *worker = (zb_worker_t *) zhashx_first (self->workers); worker;
         worker = (zb_worker_t *) zhashx_next (self->workers)) {
        zhive_pack_map (pack, 7);
        zhive_pack_str (pack, "id");
        zhive_pack_str (pack, worker->name);
        zhive_pack_str (pack, "host");
        zhive_pack_str (pack, worker->host);
        zhive_pack_str (pack, "pid");
        zhive_pack_uint (pack, worker->pid);
        zhive_pack_str (pack, "functions");
        zhive_pack_array (pack, (uint32_t) worker->queues_count);
        for (size_t i = 0; i < worker->queues_count; i++)
            zhive_pack_str (pack, worker->queues [i]->function);
        zhive_pack_str (pack, "concurrency");
        zhive_pack_uint (pack, worker->concurrency);
        zhive_pack_str (pack, "in_flight");
        zhive_pack_uint (pack, worker->held.size);
        zhive_pack_str (pack, "done");
        zhive_pack_uint (pack, worker->done);
    }
    zhive_pack_str (pack, "queues");
    zhive_pack_array (pack, (uint32_t) zhashx_size (self->queues));
    for (zb_queue_t *queue = (zb_queue_t *) zhashx_first (self->queues); queue;
         queue = (zb_queue_t *) zhashx_next (self->queues)) {
        zhive_pack_map (pack, 3);
        zhive_pack_str (pack, "function");
        zhive_pack_str (pack, queue->function);
        zhive_pack_str (pack, "waiting");
        zhive_pack_uint (pack, queue->waiting.size);
        zhive_pack_str (pack, "in_flight");
        zhive_pack_uint (pack, queue->in_flight);
    }
    zhive_proto_t *out =
        zb_out (self, self->in->routing, self->in->routing_size, ZHIVE_STATUS_REPLY);
    out->id = self->in->id;
    if (zhive_proto_set_payload (out, zhive_pack_data (pack), zhive_pack_size (pack)) == 0)
        zb_send (self, self->client_sock);
}

//  One message from a client
static void
s_client_message (zb_server_t *self)
{
    zhive_proto_t *in = self->in;
    switch (in->command) {
        case ZHIVE_PING:
            zb_out (self, in->routing, in->routing_size, ZHIVE_PONG);
            zb_send (self, self->client_sock);
            break;
        case ZHIVE_HEARTBEAT: break;
        case ZHIVE_SUBMIT: s_client_submit (self); break;
        case ZHIVE_CANCEL: s_client_cancel (self); break;
        case ZHIVE_STATUS: s_client_status (self); break;
        case ZHIVE_BYE: s_client_bye (self); break;
        default: {
            char why [64];
            snprintf (why, sizeof why, "%s is not a command a client sends",
                      zhive_proto_command_name (in->command));
            s_client_malformed (self, why);
            break;
        }
    }
}

//  Read a burst of messages from a socket, then hand on requeued tasks
static void
s_read (zb_server_t *self, zsock_t *sock, void (*on_message) (zb_server_t *),
        void (*on_malformed) (zb_server_t *, const char *))
{
    zb_clock (self);
    for (int count = 0; count < ZB_BURST; count++) {
        int rc = zhive_proto_recv (self->in, sock, ZMQ_DONTWAIT);
        if (rc == -1)
            break;
        if (rc == -2)
            on_malformed (self, self->in->error);
        else
            on_message (self);
    }
    zb_settle (self);
}

int
zb_on_clients (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    s_read ((zb_server_t *) arg, sock, s_client_message, s_client_malformed);
    return 0;
}

//  ---------------------------------------------------------------------
//  Worker socket

static zb_worker_t *
s_worker_lookup (zb_server_t *self)
{
    char key [ZB_KEY_SIZE];
    zb_routing_key (key, self->in->routing, self->in->routing_size);
    return (zb_worker_t *) zhashx_lookup (self->workers, key);
}

static void
s_worker_malformed (zb_server_t *self, const char *why)
{
    zhive_proto_t *in = self->in;
    zb_log (self, "malformed message from a worker: %s", why);
    zhive_proto_t *out = zb_out (self, in->routing, in->routing_size, ZHIVE_BYE);
    zhive_proto_set_message (out, why);
    zb_send (self, self->worker_sock);
    zb_worker_t *worker = s_worker_lookup (self);
    if (worker) {
        char reason [160];
        snprintf (reason, sizeof reason, "malformed message: %s", why);
        zb_worker_remove (self, worker, reason);
    }
}

static void
s_worker_ready (zb_server_t *self)
{
    zhive_proto_t *in = self->in;
    zb_worker_t *worker = s_worker_lookup (self);
    if (worker && worker->pid != in->pid) {
        zb_worker_remove (self, worker, "replaced by another process");
        worker = NULL;
    }
    if (!worker) {
        worker = (zb_worker_t *) calloc (1, sizeof (zb_worker_t));
        if (!worker)
            return;
        zb_routing_key (worker->key, in->routing, in->routing_size);
        worker->joined = zclock_mono ();
        memcpy (worker->routing, in->routing, in->routing_size);
        worker->routing_size = in->routing_size;
        if (zhashx_insert (self->workers, worker->key, worker)) {
            free (worker);
            return;
        }
    }
    //  READY again replaces what we knew; tasks it holds stay with it
    for (size_t i = 0; i < worker->queues_count; i++)
        zb_queue_remove_worker (worker->queues [i], worker);
    worker->queues_count = 0;
    worker->next_queue = 0;
    if (in->worker [0])
        zhive_proto_set_name (worker->name, in->worker);
    else
        snprintf (worker->name, sizeof worker->name, "%.200s:%" PRIu64, in->host, in->pid);
    zhive_proto_set_name (worker->host, in->host);
    worker->pid = in->pid;
    worker->concurrency = in->concurrency;
    worker->max_tasks = in->max_tasks;
    worker->dispatched = 0;    //  max_tasks counts from this READY on
    worker->draining = false;
    zb_queue_t **queues =
        (zb_queue_t **) realloc (worker->queues, (in->functions_count + 1) * sizeof (zb_queue_t *));
    if (!queues) {
        zb_worker_remove (self, worker, "out of memory");
        return;
    }
    worker->queues = queues;
    char offers [512] = "";
    size_t offers_size = 0;
    for (size_t i = 0; i < in->functions_count; i++) {
        zb_queue_t *queue = zb_queue_require (self, in->functions [i]);
        int rc = queue ? zb_queue_add_worker (queue, worker) : -1;
        if (rc == -1) {
            zb_worker_remove (self, worker, "out of memory");
            return;
        }
        if (rc == 0) {
            worker->queues [worker->queues_count++] = queue;
            if (offers_size < sizeof offers) {
                offers_size += (size_t) snprintf (offers + offers_size, sizeof offers - offers_size,
                                                  " %s", in->functions [i]);
            }
        }
    }
    //  The same worker under an older routing id (it reconnected) is stale
    zb_workers_remove_matching (self, worker, worker->host, worker->name, worker->pid,
                                "it reconnected under a new routing id");
    zb_log (self,
            "worker '%s' joined: host %s, pid %" PRIu64 ", concurrency %u, max tasks %" PRIu64
            ", functions:%s",
            worker->name, worker->host, worker->pid, worker->concurrency, worker->max_tasks,
            offers);
    zb_procs_ready (self, worker);
    zb_worker_feed (self, worker);
}

static void
s_worker_answer (zb_server_t *self)
{
    zhive_proto_t *in = self->in;
    zb_worker_t *worker = s_worker_lookup (self);
    zb_task_t *task = (zb_task_t *) zhive_idmap_lookup (self->in_flight, in->id);
    if (!task || !worker || task->worker != worker) {
        zb_log (self, "dropped %s for unknown ticket %" PRIu64 " from %s",
                zhive_proto_command_name (in->command), in->id,
                worker ? worker->name : "an unregistered peer");
        return;
    }
    zb_worker_measure (self, worker, task->sent_us);
    zb_task_unhold (self, task);
    worker->done++;
    if (!task->client)
        zb_log (self, "dropped the answer to ticket %" PRIu64 ": its client was answered already",
                in->id);
    else if (in->command == ZHIVE_DONE)
        zb_task_result (self, task, &in->payload);
    else
        zb_task_fail (self, task, in->type, in->message, worker->name);
    zb_task_destroy (self, &task);
    zb_worker_feed (self, worker);
}

static void
s_worker_draining (zb_server_t *self)
{
    zb_worker_t *worker = s_worker_lookup (self);
    if (worker && !worker->draining) {
        worker->draining = true;
        zb_log (self, "worker '%s' is draining: %zu task(s) to finish, no new ones", worker->name,
                worker->held.size);
    }
}

//  One message from a worker
static void
s_worker_message (zb_server_t *self)
{
    zhive_proto_t *in = self->in;
    switch (in->command) {
        case ZHIVE_PING:
            zb_out (self, in->routing, in->routing_size, ZHIVE_PONG);
            zb_send (self, self->worker_sock);
            break;
        case ZHIVE_PONG:
        case ZHIVE_HEARTBEAT: break;
        case ZHIVE_READY: s_worker_ready (self); break;
        case ZHIVE_DONE:
        case ZHIVE_FAILED: s_worker_answer (self); break;
        case ZHIVE_DRAINING: s_worker_draining (self); break;
        case ZHIVE_BYE: {
            zb_worker_t *worker = s_worker_lookup (self);
            if (worker) {
                char why [160];
                snprintf (why, sizeof why, "it said BYE: %.120s", in->message ? in->message : "");
                zb_worker_remove (self, worker, why);
            }
            break;
        }
        default: {
            char why [64];
            snprintf (why, sizeof why, "%s is not a command a worker sends",
                      zhive_proto_command_name (in->command));
            s_worker_malformed (self, why);
            break;
        }
    }
}

int
zb_on_workers (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    s_read ((zb_server_t *) arg, sock, s_worker_message, s_worker_malformed);
    return 0;
}

//  ---------------------------------------------------------------------
//  Heartbeats

void
zb_workers_probe (zb_server_t *self)
{
    zlistx_t *gone = zlistx_new ();
    if (!gone)
        return;
    for (zb_worker_t *worker = (zb_worker_t *) zhashx_first (self->workers); worker;
         worker = (zb_worker_t *) zhashx_next (self->workers)) {
        zb_out (self, worker->routing, worker->routing_size, ZHIVE_HEARTBEAT);
        if (zb_send (self, self->worker_sock) && errno == EHOSTUNREACH)
            zlistx_add_end (gone, worker);
    }
    for (zb_worker_t *worker = (zb_worker_t *) zlistx_first (gone); worker;
         worker = (zb_worker_t *) zlistx_next (gone)) {
        zb_worker_remove (self, worker, "its connection closed");
    }
    zlistx_destroy (&gone);
    zb_settle (self);
}

void
zb_heartbeat (zb_server_t *self)
{
    zb_workers_probe (self);
    //  Clients waiting for answers hear from us even while their tasks run
    for (zb_client_t *client = (zb_client_t *) zhashx_first (self->clients); client;
         client = (zb_client_t *) zhashx_next (self->clients)) {
        if (zhive_idmap_size (client->pending)) {
            zb_out (self, client->routing, client->routing_size, ZHIVE_HEARTBEAT);
            zb_send (self, self->client_sock);
        }
    }
    zb_queues_prune (self);
}
