/*  =========================================================================
    zhive_worker - a worker: one zloop that runs task handlers

    One DEALER socket talks to the broker's worker endpoint. The worker
    sends READY, then answers each TASK with DONE or FAILED. Jobs in flight
    sit in a doubly linked list so an async job can finish in any order and
    the worker can drop whatever is left when it is destroyed.

    The jobs themselves (args, reply, outcome, the handlers' view) are
    zhive_job; this file sends their answers.

    A socket monitor tells the worker when its connection to the broker
    comes back after a loss; it then sends READY again, since a restarted
    broker (or the same one, seeing a new routing id) knows nothing of it.
    ZMTP heartbeats on the DEALER find a broker that went silent; libzmq's
    I/O thread answers the broker's, so a long sync handler never makes the
    worker look dead.

    The worker stops in one of three ways. zhive_worker_stop ends the loop
    at once (BYE; the broker requeues what the worker held). Draining
    (zhive_worker_drain) and the max_tasks limit both close the worker: it
    takes no more tasks, finishes those in flight, then says BYE and run
    returns 0. A sync handler that runs past its task's deadline plus a
    grace period ends the process (zhive_watchdog).
    =========================================================================
*/
#include "zhive_worker_private.h"
#include "zhive_curve.h"
#include "zhive_idmap.h"
#include "zhive_job.h"
#include "zhive_private.h"
#include "zhive_proto.h"
#include "zhive_result.h"
#include "zhive_watchdog.h"
#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <unistd.h>

#define S_ERR_BUSY        "Busy"     //  the broker sent more tasks than slots
#define S_CONCURRENCY     16         //  default slots
#define S_CONCURRENCY_MAX 1000000    //  what READY may announce
#define S_QUEUE_MAX       4096       //  tasks held waiting for a slot (the broker's prefetch)
#define S_SNDHWM          100000     //  answers queued while the broker is away
#define S_RCVHWM          100000     //  messages queued while a sync handler runs
#define S_LINGER_MS       500        //  time to deliver BYE on destroy
#define S_HEARTBEAT_MS    1000       //  ZMTP heartbeat interval: finds a broker gone silent
#define S_LIVENESS        3          //  silent intervals after which it is dropped
#define S_HEARTBEAT_MAX   3600000    //  longest interval and timeout, ms
#define S_HEARTBEAT_TTL   6553599    //  largest ZMQ_HEARTBEAT_TTL libzmq takes, ms
#define S_RECONNECT_MS    1000       //  reconnect after 1 s, ...
#define S_RECONNECT_MAX   32000      //  ... doubling up to 32 s
#define S_BURST           256        //  Most messages read per wakeup
#define S_GRACE_MS        2000       //  least grace a sync handler gets past its deadline
#define S_BYE_STOPPING    "stopping"
#define S_BYE_MAX_TASKS   "max-tasks reached"

//  A list of jobs threaded through their prev/next links
typedef struct {
    zhive_job_t *head;    //  Oldest
    zhive_job_t *tail;    //  Newest
    size_t size;          //  How many
} s_job_list_t;

struct _zhive_worker_t {
    zloop_t *loop;                     //  The one event loop
    char *endpoint;                    //  The broker's worker endpoint
    zsock_t *dealer;                   //  DEALER to the broker's worker endpoint
    zsock_t *monitor;                  //  PAIR receiving the dealer's connection events
    int heartbeat_ivl;                 //  ZMTP heartbeat interval towards the broker, ms
    int liveness;                      //  Silent intervals before the broker counts as gone
    int dealer_ivl;                    //  The interval the dealer was made with
    int dealer_liveness;               //  The liveness the dealer was made with
    zhive_proto_t *in;                 //  Last message from the broker
    zhive_proto_t *out;                //  Message being sent
    zhive_handler_t **handlers;        //  Registered handlers, in registration order
    size_t handlers_count;             //  How many
    zhashx_t *lookup;                  //  Function name -> handler (not owning)
    zlistx_t *plugins;                 //  dlopen handles, closed on destroy
    char name [ZHIVE_NAME_MAX + 1];    //  Name reported to the broker
    char host [ZHIVE_NAME_MAX + 1];    //  Host name reported to the broker
    uint32_t concurrency;              //  Most jobs at once: the credit READY grants
    bool verbose;                      //  Log what happens to stderr
    s_job_list_t running_jobs;         //  Jobs in flight
    s_job_list_t waiting_jobs;         //  Jobs waiting for a slot, oldest first
    bool pumping;                      //  s_pump is on the stack
    zhive_idmap_t *tickets;            //  Ticket -> job in flight, for CANCEL
    uint64_t done;                     //  Tasks answered with DONE or FAILED
    uint64_t max_tasks;                //  Tasks to take in all, 0 for no limit
    uint64_t taken;                    //  Tasks taken (all but those refused Busy)
    zhive_watchdog_t *watchdog;        //  Bounds sync handlers; made on first use
    bool watchdog_failed;              //  It could not be made (said once)
    bool started;                      //  zhive_worker_run was called
    bool running;                      //  Inside zhive_worker_run
    bool stopping;                     //  zhive_worker_stop was called
    bool draining;                     //  zhive_worker_drain was called
    bool finished;                     //  Closed and nothing left in flight: run ends
    bool failed;                       //  run must return -1 (BYE from broker, ...)
    int stop_timer;                    //  Timer that ends the loop after a stop, or 0
    int finish_timer;                  //  Timer that ends the loop once closed and idle, or 0
    bool disconnected;                 //  The connection to the broker was lost
    bool connected;                    //  A connection to the broker is up now
    zlistx_t *failover;                //  More broker endpoints, tried in turn (char *)
    int failover_timer;                //  Checks the connection when there are some, or 0
    int unconnected_ticks;             //  Checks in a row that found no connection
    zhive_pack_t *chunk_answer;        //  Reused buffer for chunk answers
    zhive_job_t *spare;                //  A finished job kept for reuse, or NULL
    zcert_t *curve_cert;               //  CURVE: this worker's keys; NULL: plain
    char curve_server [ZHIVE_CURVE_KEY_SIZE];    //  CURVE: the broker's public key
};

//  ---------------------------------------------------------------------
//  Logging: errors always, the rest when verbose

static void s_log (zhive_worker_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_log (zhive_worker_t *self, const char *format, ...)
{
    if (!self->verbose)
        return;
    va_list args;
    va_start (args, format);
    fprintf (stderr, "zhive-worker %s: ", self->name);
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
}

static void s_error (zhive_worker_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_error (zhive_worker_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "zhive-worker %s: ", self->name);
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
}

//  ---------------------------------------------------------------------
//  Sending

static int
s_send (zhive_worker_t *self)
{
    int command = self->out->command;
    if (zhive_proto_send (self->out, self->dealer)) {
        int error = zmq_errno ();
        //  READY finds no connection when the broker has just refused the
        //  handshake (libzmq then drops the pipe): the monitor says why,
        //  and READY goes out again on the next connection
        if (command == ZHIVE_READY && error == EAGAIN) {
            zhive_proto_clear_payload (self->out);
            errno = EAGAIN;
            return -1;
        }
        s_error (self, "cannot send %s to the broker: %s", zhive_proto_command_name (command),
                 zmq_strerror (zmq_errno ()));
        zhive_proto_clear_payload (self->out);
        return -1;
    }
    return 0;
}

//  True once the worker takes no more tasks: it is draining, or it has
//  taken max_tasks
static bool
s_closing (zhive_worker_t *self)
{
    return self->draining || (self->max_tasks && self->taken >= self->max_tasks);
}

static int
s_send_draining (zhive_worker_t *self)
{
    self->out->command = ZHIVE_DRAINING;
    int rc = s_send (self);
    if (rc == 0)
        s_log (self, "DRAINING sent: %zu tasks in flight", self->running_jobs.size);
    return rc;
}

//  READY, on every new connection. A closing worker offers no function (so
//  no broker can send it a task in between) and adds DRAINING: a broker
//  that learns of it only now still waits for the answers it owes.
static int
s_send_ready (zhive_worker_t *self)
{
    zhive_proto_t *out = self->out;
    bool closing = s_closing (self);
    out->command = ZHIVE_READY;
    zhive_proto_set_name (out->worker, self->name);
    zhive_proto_set_name (out->host, self->host);
    out->pid = (uint64_t) getpid ();
    out->concurrency = self->concurrency;
    out->max_tasks = self->max_tasks && !closing ? self->max_tasks - self->taken : 0;
    //  The codec packs out->functions; lend it our names for the call
    size_t count = closing ? 0 : self->handlers_count;
    char **names = (char **) calloc (count + 1, sizeof (char *));
    if (!names) {
        s_error (self, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        names [i] = self->handlers [i]->name;
    out->functions = names;
    out->functions_count = count;
    int rc = s_send (self);
    bool deferred = rc != 0 && errno == EAGAIN;
    out->functions = NULL;
    out->functions_count = 0;
    out->max_tasks = 0;
    free (names);
    if (deferred) {
        //  Not an error: the monitor says what became of the connection
        s_log (self, "no connection to the broker; READY goes out when it connects");
        self->disconnected = true;
        return 0;
    }
    if (rc == 0)
        s_log (self, "READY sent: concurrency %u, %zu functions, max_tasks %" PRIu64,
               self->concurrency, count, self->max_tasks ? self->max_tasks - self->taken : 0);
    if (rc == 0 && closing)
        rc = s_send_draining (self);
    return rc;
}

static void
s_send_failed (zhive_worker_t *self, uint64_t ticket, const char *type, const char *message)
{
    zhive_proto_t *out = self->out;
    out->command = ZHIVE_FAILED;
    out->id = ticket;
    zhive_proto_set_name (out->type, type);
    zhive_proto_set_message (out, message);
    s_log (self, "FAILED ticket %" PRIu64 ": %s: %s", ticket, type, message);
    s_send (self);
}

//  Answers a task that never became a job, with a printf-style message
static void s_reject (zhive_worker_t *self, uint64_t ticket, const char *type, const char *format,
                      ...) __attribute__ ((format (printf, 4, 5)));

static void
s_reject (zhive_worker_t *self, uint64_t ticket, const char *type, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *message = zsys_vprintf (format, args);
    va_end (args);
    s_send_failed (self, ticket, type, message ? message : type);
    zstr_free (&message);
}

//  ---------------------------------------------------------------------
//  Jobs in flight

//  Makes a job, found by its ticket; NULL if out of memory
static zhive_job_t *
s_job_new (zhive_worker_t *self, zhive_handler_t *handler, uint64_t ticket, zmq_msg_t *frame)
{
    zhive_job_t *job = self->spare;
    if (job) {
        self->spare = NULL;
        zhive_job_reuse (job, handler, ticket, frame);
    }
    else
        job = zhive_job_new (self, handler, ticket, frame);
    if (!job || zhive_idmap_insert (self->tickets, ticket, job)) {
        zhive_job_destroy (&job);
        return NULL;
    }
    job->queued = false;
    job->prev = job->next = NULL;
    return job;
}

static void
s_job_list_push (s_job_list_t *list, zhive_job_t *job)
{
    job->prev = list->tail;
    job->next = NULL;
    if (list->tail)
        list->tail->next = job;
    else
        list->head = job;
    list->tail = job;
    list->size++;
}

static void
s_job_list_remove (s_job_list_t *list, zhive_job_t *job)
{
    if (job->prev)
        job->prev->next = job->next;
    else
        list->head = job->next;
    if (job->next)
        job->next->prev = job->prev;
    else
        list->tail = job->prev;
    job->prev = job->next = NULL;
    list->size--;
}

//  Queues a job until a slot is free
static void
s_job_enqueue (zhive_worker_t *self, zhive_job_t *job, uint32_t chunk, int64_t timeout_ms)
{
    job->queued = true;
    job->chunk = chunk;
    job->timeout_ms = timeout_ms;
    job->queued_at = zclock_mono ();
    s_job_list_push (&self->waiting_jobs, job);
}

//  Moves a job from the queue among those in flight: it has a slot now
static void
s_job_dequeue (zhive_worker_t *self, zhive_job_t *job)
{
    s_job_list_remove (&self->waiting_jobs, job);
    job->queued = false;
    s_job_list_push (&self->running_jobs, job);
}

static void s_pump (zhive_worker_t *self);

//  Unlinks a job in flight and destroys it; a queued job may take its slot
static void
s_job_drop (zhive_worker_t *self, zhive_job_t *job)
{
    s_job_list_remove (&self->running_jobs, job);
    //  A broker that repeats a ticket still running maps it to the newer job
    if (zhive_idmap_lookup (self->tickets, job->ticket) == job)
        zhive_idmap_remove (self->tickets, job->ticket);
    //  Keep one job to run the next task in: a sync worker then allocates
    //  nothing per task for the job, its args or its reply
    if (!self->spare)
        self->spare = job;
    else
        zhive_job_destroy (&job);
    s_pump (self);
}

//  The finish timer: ends the loop when the worker is closed and idle
static int
s_on_finish_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_worker_t *self = (zhive_worker_t *) arg;
    if (self->running_jobs.size == 0 && self->waiting_jobs.size == 0) {
        self->finished = true;
        return -1;    //  The timer stays registered; run ends it
    }
    self->finish_timer = 0;    //  A task came in meanwhile; check again when it ends
    return 0;
}

//  After a task ends: a closed worker with nothing in flight is finished.
//  A timer ends the loop, since the caller may be any handler in it.
static void
s_check_finished (zhive_worker_t *self)
{
    if (!self->running || self->running_jobs.size || self->waiting_jobs.size ||
        self->finish_timer || !s_closing (self))
        return;
    int timer = zloop_timer (self->loop, 0, 1, s_on_finish_timer, self);
    self->finish_timer = timer > 0 ? timer : 0;
}

static void
s_free_buffer (void *data, void *hint)
{
    (void) hint;
    free (data);
}

//  A large reply goes out in the handler's own buffer, not a copy of it
static int
s_payload_handover (zhive_proto_t *out, zhive_pack_t *reply)
{
    size_t size;
    char *data = zhive_pack_detach (reply, &size);
    zmq_msg_t frame;
    if (zmq_msg_init_data (&frame, data, size, s_free_buffer, NULL)) {
        free (data);
        return -1;
    }
    zhive_proto_move_payload (out, &frame);
    zmq_msg_close (&frame);
    return 0;
}

//  Sends the job's answer and frees it: FAILED if it failed, else DONE
void
zhive_worker_answer (zhive_worker_t *self, zhive_job_t *job)
{
    const char *function = job->handler->name;
    if (job->failed) {
        if (job->message)
            s_send_failed (self, job->ticket, job->type, job->message);
        else
            s_reject (self, job->ticket, job->type, "handler '%s' failed without a message",
                      function);
    }
    else {
        ssize_t size = zhive_job_reply_size (job);
        if (size < 0)
            s_reject (self, job->ticket, ZHIVE_ERR_HANDLER,
                      "handler '%s' packed %zu bytes that are not exactly one msgpack value",
                      function, zhive_pack_size (job->reply));
        else {
            static const char nil = (char) 0xc0;
            zhive_proto_t *out = self->out;
            out->command = ZHIVE_DONE;
            out->id = job->ticket;
            if (size >= ZHIVE_ZERO_COPY_MIN
                    ? s_payload_handover (out, job->reply)
                    : zhive_proto_set_payload (out, size ? zhive_pack_data (job->reply) : &nil,
                                               size ? (size_t) size : 1))
                s_error (self, "out of memory answering ticket %" PRIu64, job->ticket);
            else {
                s_log (self, "DONE ticket %" PRIu64 " (%s, %zd bytes)", job->ticket, function,
                       size);
                s_send (self);
            }
        }
    }
    self->done++;
    s_job_drop (self, job);
    s_check_finished (self);
}

//  Arms the watchdog for a sync handler; returns true if it is armed. The
//  grace covers a broker that measured the deadline a heartbeat earlier.
static bool
s_watchdog_arm (zhive_worker_t *self, const char *function, int64_t timeout_ms)
{
    if (!self->watchdog && !self->watchdog_failed) {
        self->watchdog = zhive_watchdog_new ();
        if (!self->watchdog) {
            s_error (self, "cannot make a watchdog timer (%s): sync handlers run unbounded",
                     strerror (errno));
            self->watchdog_failed = true;
        }
    }
    if (!self->watchdog)
        return false;
    int64_t grace = 2 * (int64_t) self->heartbeat_ivl * self->liveness;
    if (grace < S_GRACE_MS)
        grace = S_GRACE_MS;
    return zhive_watchdog_arm (self->watchdog, function, timeout_ms, grace) == 0;
}

//  Unpacks the args, calls the handler and, unless it is an async job
//  still pending, sends the answer. timeout_ms (-1 for none) bounds a sync
//  handler.
static void
s_job_start (zhive_worker_t *self, zhive_job_t *job, int64_t timeout_ms)
{
    if (zhive_job_unpack (job)) {
        zhive_worker_answer (self, job);
        return;
    }
    bool watched = !(job->handler->flags & ZHIVE_ASYNC) && timeout_ms >= 0 &&
                   s_watchdog_arm (self, job->handler->name, timeout_ms);
    bool answer = zhive_job_call (job);
    if (watched)
        zhive_watchdog_disarm (self->watchdog);
    if (answer)
        zhive_worker_answer (self, job);
}

//  A chunk: many items for one sync handler in one TASK, answered by one
//  DONE holding an array with an entry per item
static void
s_chunk_run (zhive_worker_t *self, zhive_job_t *job, uint32_t count, int64_t timeout_ms)
{
    if (job->handler->flags & ZHIVE_ASYNC) {
        zhive_job_set_failed (job, ZHIVE_ERR_BAD_ARGS,
                              zsys_sprintf ("'%s' is an async handler: chunked maps need a sync "
                                            "one (use chunksize 1)",
                                            job->handler->name));
        zhive_worker_answer (self, job);
        return;
    }
    if (!self->chunk_answer && !(self->chunk_answer = zhive_pack_new ())) {
        zhive_job_set_failed (job, ZHIVE_ERR_HANDLER, zsys_sprintf ("out of memory"));
        zhive_worker_answer (self, job);
        return;
    }
    bool watched = timeout_ms >= 0 && s_watchdog_arm (self, job->handler->name, timeout_ms);
    int rc = zhive_job_run_chunk (job, count, self->chunk_answer, self->name);
    if (watched)
        zhive_watchdog_disarm (self->watchdog);
    if (rc != 0) {
        zhive_worker_answer (self, job);
        return;
    }
    zhive_proto_t *out = self->out;
    out->command = ZHIVE_DONE;
    out->id = job->ticket;
    if (zhive_proto_set_payload (out, zhive_pack_data (self->chunk_answer),
                                 zhive_pack_size (self->chunk_answer)))
        s_error (self, "out of memory answering ticket %" PRIu64, job->ticket);
    else {
        s_log (self, "DONE ticket %" PRIu64 " (%s, chunk of %u)", job->ticket, job->handler->name,
               count);
        s_send (self);
    }
    self->done++;
    s_job_drop (self, job);
    s_check_finished (self);
}

//  Starts queued jobs while slots are free, oldest first. A job that ends
//  at once frees its slot for the next one here, not in a nested call.
static void
s_pump (zhive_worker_t *self)
{
    if (self->pumping || !self->running || self->stopping)
        return;
    self->pumping = true;
    while (self->waiting_jobs.head && self->running_jobs.size < self->concurrency &&
           !self->stopping) {
        zhive_job_t *job = self->waiting_jobs.head;
        s_job_dequeue (self, job);
        //  The deadline counts the time it waited here
        int64_t timeout_ms = job->timeout_ms;
        if (timeout_ms >= 0) {
            int64_t waited = zclock_mono () - job->queued_at;
            timeout_ms = timeout_ms > waited ? timeout_ms - waited : 1;
        }
        if (job->chunk)
            s_chunk_run (self, job, job->chunk, timeout_ms);
        else
            s_job_start (self, job, timeout_ms);
    }
    self->pumping = false;
}

//  ---------------------------------------------------------------------
//  Messages from the broker

static void
s_on_task (zhive_worker_t *self)
{
    zhive_proto_t *in = self->in;
    s_log (self, "TASK ticket %" PRIu64 ": %s", in->id, in->function);
    if (self->running_jobs.size >= self->concurrency && self->waiting_jobs.size >= S_QUEUE_MAX) {
        s_reject (self, in->id, S_ERR_BUSY,
                  "worker '%s' has no free slot (concurrency %u) and %d tasks waiting for one; "
                  "the broker sent too many",
                  self->name, self->concurrency, S_QUEUE_MAX);
        return;
    }
    if (self->max_tasks && self->taken >= self->max_tasks) {
        s_reject (self, in->id, S_ERR_BUSY,
                  "worker '%s' has taken all the %" PRIu64
                  " tasks it takes (max_tasks); the broker sent too many",
                  self->name, self->max_tasks);
        return;
    }
    //  A task that arrives while draining was sent before the broker read
    //  DRAINING: it is run like the others in flight
    self->taken++;
    zhive_handler_t *handler = (zhive_handler_t *) zhashx_lookup (self->lookup, in->function);
    zhive_job_t *job = handler ? s_job_new (self, handler, in->id, &in->payload) : NULL;
    in->has_payload = false;
    if (!handler)
        s_reject (self, in->id, ZHIVE_ERR_UNKNOWN_FN, "worker '%s' has no function '%s'",
                  self->name, in->function);
    else if (!job)
        s_reject (self, in->id, ZHIVE_ERR_HANDLER, "worker '%s' is out of memory", self->name);
    if (job && (self->running_jobs.size >= self->concurrency || self->waiting_jobs.head)) {
        //  Prefetched by the broker: it runs when a slot is free
        s_log (self, "TASK ticket %" PRIu64 " waits for a slot (%zu waiting)", in->id,
               self->waiting_jobs.size + 1);
        s_job_enqueue (self, job, in->chunk, in->timeout_ms);
    }
    else if (job) {
        s_job_list_push (&self->running_jobs, job);
        if (in->chunk)
            s_chunk_run (self, job, in->chunk, in->timeout_ms);
        else
            s_job_start (self, job, in->timeout_ms);
    }
    else {
        self->done++;
        s_check_finished (self);
    }
}

//  CANCEL [ticket]: the broker has answered the task already (cancelled
//  or timed out). An async job with a cancel function is undone and
//  answered Cancelled, which gives the slot back; any other job runs on.
static void
s_on_cancel (zhive_worker_t *self)
{
    uint64_t ticket = self->in->id;
    zhive_job_t *job = (zhive_job_t *) zhive_idmap_lookup (self->tickets, ticket);
    if (!job) {
        s_log (self, "CANCEL ticket %" PRIu64 ": no such task here; ignored", ticket);
        return;
    }
    if (job->queued) {
        //  Not started: answered Cancelled without running
        s_job_dequeue (self, job);
        zhive_job_set_failed (
            job, ZHIVE_ERR_CANCELLED,
            zsys_sprintf ("task cancelled while waiting for a slot in worker '%s'", self->name));
        s_log (self, "CANCEL ticket %" PRIu64 ": dropped it before it started", ticket);
        zhive_worker_answer (self, job);
        return;
    }
    if (!zhive_job_cancel (job, self->name)) {
        s_log (self,
               "CANCEL ticket %" PRIu64 ": handler '%s' has no cancel function; it runs on and "
               "its answer frees the slot",
               ticket, job->handler->name);
        return;
    }
    s_log (self, "CANCEL ticket %" PRIu64 ": cancelled '%s'", ticket, job->handler->name);
    zhive_worker_answer (self, job);
}

static int
s_on_broker (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    zhive_worker_t *self = (zhive_worker_t *) arg;
    zhive_proto_t *in = self->in;
    //  Read what is waiting in one go (bounded): one poll per burst rather
    //  than one per message
    for (int count = 0; count < S_BURST && !self->stopping; count++) {
        int rc = zhive_proto_recv (in, sock, ZMQ_DONTWAIT);
        if (rc == -1)
            break;
        if (rc == -2) {
            s_error (self, "dropped a malformed message from the broker: %s", in->error);
            continue;
        }
        switch (in->command) {
            case ZHIVE_TASK: s_on_task (self); break;
            case ZHIVE_CANCEL: s_on_cancel (self); break;
            case ZHIVE_HEARTBEAT: break;    //  Life; libzmq's heartbeats keep ours
            case ZHIVE_PING:
                self->out->command = ZHIVE_PONG;
                s_send (self);
                break;
            case ZHIVE_PONG: break;
            case ZHIVE_BYE:
                s_error (self, "the broker said BYE: %s", in->message ? in->message : "");
                self->failed = true;
                return -1;
            default:
                s_error (self, "dropped %s: not a command a broker sends to a worker",
                         zhive_proto_command_name (in->command));
                break;
        }
    }
    return self->stopping ? -1 : 0;
}

//  Connection events of the dealer: READY again after a reconnect
static int
s_on_monitor (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    zhive_worker_t *self = (zhive_worker_t *) arg;
    zmsg_t *msg = zmsg_recv (sock);
    if (!msg)
        return 0;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) >= sizeof (uint16_t)) {
        uint16_t event;
        memcpy (&event, zframe_data (frame), sizeof event);
        if (event == ZMQ_EVENT_CONNECTED)
            self->connected = true;
        else if (event == ZMQ_EVENT_DISCONNECTED)
            self->connected = false;
        if (event == ZMQ_EVENT_DISCONNECTED) {
            s_log (self, "lost the broker; reconnecting");
            self->disconnected = true;
        }
        else if (event == ZMQ_EVENT_CONNECTED && self->disconnected) {
            s_log (self, "reconnected to the broker");
            self->disconnected = false;
            s_send_ready (self);
        }
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            //  libzmq does not reconnect after a refusal: nothing to wait for
            s_error (self, "the broker refused this worker's CURVE key (is its public key in the "
                           "broker's allow directory?); stopping");
            self->failed = true;
        }
        else if (event &
                 (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL))
            s_error (self, "the CURVE handshake with the broker failed (is the broker key right, "
                           "and does the broker run CURVE?); retrying");
    }
    zmsg_destroy (&msg);
    return self->stopping || self->failed ? -1 : 0;
}

static int
s_on_stop_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

//  The DEALER to the broker and its connection monitor, made with the
//  heartbeat settings of the moment (libzmq reads them when it connects)
static int
s_dealer_open (zhive_worker_t *self)
{
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        errno = ENOMEM;
        return -1;
    }
    zsock_set_sndhwm (self->dealer, S_SNDHWM);
    //  The broker's HEARTBEATs pile up while a sync handler runs (one per
    //  interval): room for a day of them, so its sends do not fail
    zsock_set_rcvhwm (self->dealer, S_RCVHWM);
    zsock_set_maxmsgsize (self->dealer, ZHIVE_MESSAGE_SIZE_MAX);
    zsock_set_sndtimeo (self->dealer, 0);
    zsock_set_linger (self->dealer, S_LINGER_MS);
    zsock_set_reconnect_ivl (self->dealer, S_RECONNECT_MS);
    zsock_set_reconnect_ivl_max (self->dealer, S_RECONNECT_MAX);
    //  libzmq's I/O thread sends and answers these, whatever the loop is
    //  doing; a broker silent for interval x liveness is dropped, and the
    //  reconnect sends READY again
    int64_t timeout = (int64_t) self->heartbeat_ivl * self->liveness;
    if (timeout > S_HEARTBEAT_MAX)
        timeout = S_HEARTBEAT_MAX;
    zsock_set_heartbeat_ivl (self->dealer, self->heartbeat_ivl);
    zsock_set_heartbeat_timeout (self->dealer, (int) timeout);
    zsock_set_heartbeat_ttl (self->dealer,
                             (int) (timeout < S_HEARTBEAT_TTL ? timeout : S_HEARTBEAT_TTL));
    self->dealer_ivl = self->heartbeat_ivl;
    self->dealer_liveness = self->liveness;
    if (self->curve_cert &&
        zhive_curve_apply_client (self->dealer, self->curve_cert, self->curve_server)) {
        errno = EINVAL;
        return -1;
    }

    //  Watch the connection before making it, so no event is missed. The
    //  name must be unique: a closed socket's inproc name lingers a while
    zuuid_t *uuid = zuuid_new ();
    char monitor [80] = "";
    if (uuid)
        snprintf (monitor, sizeof monitor, "inproc://zhive-worker-monitor-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED;
    if (self->curve_cert)
        events |= ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                  ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (*monitor && zmq_socket_monitor (zsock_resolve (self->dealer), monitor, events) == 0)
        self->monitor = zsock_new_pair (monitor);    //  connects: '>' is the default
    if (!self->monitor) {
        errno = ENOMEM;
        return -1;
    }
    if (zsock_connect (self->dealer, "%s", self->endpoint)) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

static void
s_dealer_close (zhive_worker_t *self)
{
    if (self->dealer && self->monitor)
        zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->dealer);
}

//  The settings the dealer was made with changed before run: make it again
static int
s_dealer_reopen (zhive_worker_t *self)
{
    zsock_set_linger (self->dealer, 0);    //  Nothing was sent on it
    s_dealer_close (self);
    if (s_dealer_open (self)) {
        s_error (self, "cannot connect to %s again: %s", self->endpoint, strerror (errno));
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------

//  Loads a worker's CURVE certificate and the broker's key; prints why not
static zcert_t *
s_curve_load (const char *secret_cert_path, const char *broker_cert_path, char *server)
{
    char error [512];
    zcert_t *cert =
        zhive_curve_load_pair (secret_cert_path, broker_cert_path, server, error, sizeof error);
    if (!cert)
        fprintf (stderr, "zhive-worker: %s\n", error);
    return cert;
}

//  A worker, plain or (*cert_p not NULL: taken) a CURVE client of server
static zhive_worker_t *
s_worker_new (const char *endpoint, zcert_t **cert_p, const char *server)
{
    if (!endpoint || !*endpoint) {
        errno = EINVAL;
        return NULL;
    }
    zhive_worker_t *self = (zhive_worker_t *) calloc (1, sizeof (zhive_worker_t));
    if (!self)
        return NULL;
    if (*cert_p) {
        self->curve_cert = *cert_p;
        *cert_p = NULL;
        snprintf (self->curve_server, sizeof self->curve_server, "%s", server);
    }
    self->concurrency = S_CONCURRENCY;
    self->heartbeat_ivl = S_HEARTBEAT_MS;
    self->liveness = S_LIVENESS;
    char host [ZHIVE_NAME_MAX + 1] = "";
    if (gethostname (host, sizeof host - 1) || !*host)
        snprintf (host, sizeof host, "localhost");
    zhive_proto_set_name (self->host, host);
    char name [ZHIVE_NAME_MAX + 32];
    snprintf (name, sizeof name, "%s:%d", self->host, (int) getpid ());
    zhive_proto_set_name (self->name, name);

    self->endpoint = strdup (endpoint);
    self->loop = zloop_new ();
    self->in = zhive_proto_new ();
    self->out = zhive_proto_new ();
    self->lookup = zhashx_new ();
    self->plugins = zlistx_new ();
    self->tickets = zhive_idmap_new ();
    if (!self->endpoint || !self->loop || !self->in || !self->out || !self->lookup ||
        !self->plugins || !self->tickets) {
        zhive_worker_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    //  Connecting now checks the endpoint; run connects again if the
    //  heartbeat settings change meanwhile
    if (s_dealer_open (self)) {
        int error = errno;
        zhive_worker_destroy (&self);
        errno = error;
        return NULL;
    }
    return self;
}

int
zhive_worker_add_endpoint (zhive_worker_t *self, const char *endpoint)
{
    if (!endpoint || !*endpoint || self->started) {
        errno = EINVAL;
        return -1;
    }
    if (!self->failover) {
        self->failover = zlistx_new ();
        if (!self->failover)
            return -1;
        zlistx_set_destructor (self->failover, (zlistx_destructor_fn *) zstr_free);
    }
    char *copy = strdup (endpoint);
    if (!copy || !zlistx_add_end (self->failover, copy)) {
        free (copy);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

zhive_worker_t *
zhive_worker_new (const char *endpoint)
{
    zcert_t *cert = NULL;
    return s_worker_new (endpoint, &cert, NULL);
}

zhive_worker_t *
zhive_worker_new_curve (const char *endpoint, const char *secret_cert_path,
                        const char *broker_cert_path)
{
    char server [ZHIVE_CURVE_KEY_SIZE];
    zcert_t *cert = s_curve_load (secret_cert_path, broker_cert_path, server);
    if (!cert)
        return NULL;
    zhive_worker_t *self = s_worker_new (endpoint, &cert, server);
    zcert_destroy (&cert);    //  Still ours if the worker was not made
    return self;
}

void
zhive_worker_destroy (zhive_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_worker_t *self = *self_p;
    //  Jobs still pending: their timers and readers go with the loop
    while (self->waiting_jobs.head)
        s_job_dequeue (self, self->waiting_jobs.head);
    while (self->running_jobs.head)
        s_job_drop (self, self->running_jobs.head);
    zloop_destroy (&self->loop);
    s_dealer_close (self);
    zhive_watchdog_destroy (&self->watchdog);
    zcert_destroy (&self->curve_cert);
    zhive_idmap_destroy (&self->tickets);
    zhive_pack_destroy (&self->chunk_answer);
    zhive_job_destroy (&self->spare);
    zhive_proto_destroy (&self->in);
    zhive_proto_destroy (&self->out);
    zhashx_destroy (&self->lookup);
    for (size_t i = 0; i < self->handlers_count; i++) {
        free (self->handlers [i]->name);
        free (self->handlers [i]);
    }
    free (self->handlers);
    //  Plugin code is gone after this: nothing of theirs may run later
    if (self->plugins) {
        void *handle = zlistx_first (self->plugins);
        while (handle) {
            dlclose (handle);
            handle = zlistx_next (self->plugins);
        }
        zlistx_destroy (&self->plugins);
    }
    free (self->endpoint);
    zlistx_destroy (&self->failover);
    free (self);
    *self_p = NULL;
}

void
zhive_worker_set_concurrency (zhive_worker_t *self, int concurrency)
{
    if (concurrency < 1)
        concurrency = 1;
    if (concurrency > S_CONCURRENCY_MAX)
        concurrency = S_CONCURRENCY_MAX;
    self->concurrency = (uint32_t) concurrency;
}

void
zhive_worker_set_name (zhive_worker_t *self, const char *name)
{
    if (name && *name)
        zhive_proto_set_name (self->name, name);
}

void
zhive_worker_set_verbose (zhive_worker_t *self, bool verbose)
{
    self->verbose = verbose;
}

void
zhive_worker_set_heartbeat (zhive_worker_t *self, int interval_ms, int liveness)
{
    if (interval_ms < 1)
        interval_ms = 1;
    if (interval_ms > S_HEARTBEAT_MAX)
        interval_ms = S_HEARTBEAT_MAX;
    if (liveness < 1)
        liveness = 1;
    if (liveness > S_HEARTBEAT_MAX / interval_ms)
        liveness = S_HEARTBEAT_MAX / interval_ms;
    if (liveness < 1)
        liveness = 1;
    self->heartbeat_ivl = interval_ms;
    self->liveness = liveness;
}

void
zhive_worker_set_max_tasks (zhive_worker_t *self, uint64_t max_tasks)
{
    self->max_tasks = max_tasks;
}

int
zhive_worker_set_curve (zhive_worker_t *self, const char *secret_cert_path,
                        const char *broker_cert_path)
{
    if (self->started) {
        s_error (self, "set CURVE before zhive_worker_run");
        errno = EINVAL;
        return -1;
    }
    char server [ZHIVE_CURVE_KEY_SIZE];
    zcert_t *cert = s_curve_load (secret_cert_path, broker_cert_path, server);
    if (!cert)
        return -1;
    zcert_destroy (&self->curve_cert);
    self->curve_cert = cert;
    memcpy (self->curve_server, server, sizeof server);
    //  At once: the plain connection made by new may be knocking on a
    //  CURVE broker (zhive_worker_new_curve avoids it altogether)
    return s_dealer_reopen (self);
}

int
zhive_worker_register (zhive_worker_t *self, const char *function, zhive_handler_fn *handler,
                       void *state, int flags)
{
    if (!function || !*function || strlen (function) > ZHIVE_NAME_MAX || !handler ||
        (flags != ZHIVE_SYNC && flags != ZHIVE_ASYNC)) {
        errno = EINVAL;
        return -1;
    }
    if (zhashx_lookup (self->lookup, function)) {
        errno = EEXIST;
        return -1;
    }
    if (self->handlers_count >= ZHIVE_FUNCTIONS_MAX) {
        errno = E2BIG;
        return -1;
    }
    zhive_handler_t **grown = (zhive_handler_t **) realloc (
        self->handlers, (self->handlers_count + 1) * sizeof (zhive_handler_t *));
    if (!grown)
        return -1;
    self->handlers = grown;
    zhive_handler_t *entry = (zhive_handler_t *) calloc (1, sizeof (zhive_handler_t));
    if (!entry)
        return -1;
    entry->name = strdup (function);
    if (!entry->name) {
        free (entry);
        return -1;
    }
    entry->fn = handler;
    entry->state = state;
    entry->flags = flags;
    self->handlers [self->handlers_count++] = entry;
    zhashx_insert (self->lookup, entry->name, entry);
    return 0;
}

int
zhive_worker_load (zhive_worker_t *self, const char *path, const char *args)
{
    zhive_plugin_init_fn *init = NULL;
    void *handle = zhive_plugin_open (path, &init);
    if (!handle)
        return -1;
    //  Keep the handle before init runs: handlers it registers point into it
    if (!zlistx_add_end (self->plugins, handle)) {
        dlclose (handle);
        errno = ENOMEM;
        return -1;
    }
    if (init (self, args ? args : "") != 0) {
        fprintf (stderr, "zhive-worker: plugin %s refused to initialise\n", path);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

//  Failover: with more than one broker endpoint, a worker that has had no
//  connection for two checks (2 × interval × liveness) moves on to the
//  next endpoint, in turn; the lost broker requeues what this worker held
static int
s_on_failover (zloop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    zhive_worker_t *self = (zhive_worker_t *) arg;
    if (self->connected || ++self->unconnected_ticks < 2)
        return 0;
    self->unconnected_ticks = 0;
    //  The endpoints rotate: the current one goes to the back of the list
    char *next = (char *) zlistx_detach (self->failover, NULL);
    if (!next)
        return 0;
    zlistx_add_end (self->failover, self->endpoint);
    s_error (self, "no broker at %s; trying %s", self->endpoint, next);
    self->endpoint = next;
    zloop_reader_end (loop, self->dealer);
    zloop_reader_end (loop, self->monitor);
    if (s_dealer_reopen (self))
        return -1;
    self->disconnected = true;    //  READY goes out when it connects
    if (zloop_reader (loop, self->dealer, s_on_broker, self) ||
        zloop_reader (loop, self->monitor, s_on_monitor, self))
        return -1;
    zloop_reader_set_tolerant (loop, self->dealer);
    return 0;
}

//  Ends the loop's readers and our timers after it stopped
static void
s_loop_clear (zhive_worker_t *self)
{
    if (self->failover_timer) {
        zloop_timer_end (self->loop, self->failover_timer);
        self->failover_timer = 0;
    }
    zloop_reader_end (self->loop, self->dealer);
    zloop_reader_end (self->loop, self->monitor);
    if (self->stop_timer) {
        zloop_timer_end (self->loop, self->stop_timer);
        self->stop_timer = 0;
    }
    if (self->finish_timer) {
        zloop_timer_end (self->loop, self->finish_timer);
        self->finish_timer = 0;
    }
}

int
zhive_worker_run (zhive_worker_t *self)
{
    if (self->started) {
        fprintf (stderr, "zhive-worker: a worker can run only once\n");
        errno = EINVAL;
        return -1;
    }
    self->started = true;
    if (self->handlers_count == 0) {
        s_error (self, "nothing to serve: no function is registered");
        errno = EINVAL;
        return -1;
    }
    if ((self->heartbeat_ivl != self->dealer_ivl || self->liveness != self->dealer_liveness) &&
        s_dealer_reopen (self))
        return -1;
    if (zloop_reader (self->loop, self->dealer, s_on_broker, self) ||
        zloop_reader (self->loop, self->monitor, s_on_monitor, self)) {
        s_error (self, "cannot watch the broker socket");
        s_loop_clear (self);
        return -1;
    }
    zloop_reader_set_tolerant (self->loop, self->dealer);
    if (self->failover && zlistx_size (self->failover)) {
        //  At least a reconnect interval, so a broker still starting up gets
        //  a second connection attempt before the worker moves on
        size_t period = (size_t) self->heartbeat_ivl * self->liveness;
        if (period < S_RECONNECT_MS)
            period = S_RECONNECT_MS;
        int timer = zloop_timer (self->loop, period, 0, s_on_failover, self);
        self->failover_timer = timer > 0 ? timer : 0;
    }
    if (s_send_ready (self)) {
        s_loop_clear (self);
        return -1;
    }
    self->running = true;
    s_check_finished (self);    //  Drained before it ran
    while (!self->stopping) {
        int rc = zloop_start (self->loop);
        //  zloop also returns (0) when a signal interrupts its poll; unless
        //  czmq's own handler saw SIGINT/SIGTERM, that is someone else's
        //  signal (the program's SIGTERM that asks to drain, a SIGCHLD) and
        //  the loop goes on. Restarting re-times its timers from now.
        if (rc != 0 || zmq_errno () != EINTR || zsys_interrupted || self->finished || self->failed)
            break;
    }
    self->running = false;
    s_loop_clear (self);
    if (self->failed)
        return -1;
    if (self->running_jobs.size)
        s_log (self, "stopping: dropping %zu tasks in flight", self->running_jobs.size);
    self->out->command = ZHIVE_BYE;
    bool max_reached = self->max_tasks && self->taken >= self->max_tasks && !self->stopping;
    zhive_proto_set_message (self->out, max_reached ? S_BYE_MAX_TASKS : S_BYE_STOPPING);
    s_send (self);
    s_log (self, "stopped after %" PRIu64 " tasks", self->done);
    return 0;
}

void
zhive_worker_stop (zhive_worker_t *self)
{
    self->stopping = true;
    //  A timer ends the loop even when the caller is not our reader (an
    //  async job's timer, an embedder's socket)
    if (self->running && !self->stop_timer) {
        int timer = zloop_timer (self->loop, 0, 1, s_on_stop_timer, self);
        self->stop_timer = timer > 0 ? timer : 0;
    }
}

void
zhive_worker_drain (zhive_worker_t *self)
{
    if (self->draining)
        return;
    self->draining = true;
    if (self->running && !self->stopping) {
        s_send_draining (self);
        s_check_finished (self);
    }
}

zloop_t *
zhive_worker_loop (zhive_worker_t *self)
{
    return self->loop;
}

uint64_t
zhive_worker_done (zhive_worker_t *self)
{
    return self->done;
}
