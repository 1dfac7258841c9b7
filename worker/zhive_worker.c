/*  =========================================================================
    zhive_worker - a worker: one zloop that runs task handlers

    One DEALER socket talks to the broker's worker endpoint. The worker
    sends READY, the broker answers WELCOME [incarnation], then the worker
    answers each TASK with DONE or FAILED. The jobs (zhive_job) are held in
    slots (zhive_slots), so an async job can finish in any order; a job
    that ends calls back here (its completion callback) to be answered.
    Handlers come from the registry (zhive_registry), filled directly or by
    plugins (zhive_plugin).

    The DEALER, its CURVE keys and failover endpoints are the uplink's
    (zhive_uplink). It tells the worker when its connection to the broker
    comes back after a loss; the worker then sends READY again, since a
    restarted broker (or the same one, seeing a new routing id) knows
    nothing of it. ZMTP heartbeats on the DEALER find a broker that went
    silent; libzmq's I/O thread answers the broker's, so a long sync
    handler never makes the worker look dead.

    Broker incarnations: a ticket is incarnation << 32 | sequence, and
    WELCOME names the broker's incarnation. When a WELCOME names another
    incarnation than the one the worker knew (the broker restarted), the
    jobs of the old one are ended without an answer: none of them may ever
    answer a task of the new broker that holds the same ticket.

    The worker stops in one of three ways. zhive_worker_stop ends the loop
    at once (BYE; the broker requeues what the worker held). Draining
    (zhive_worker_drain) and the max_tasks limit both close the worker: it
    takes no more tasks, finishes those in flight, then says BYE and run
    returns 0. A worker that sent DRAINING says BYE only once the broker
    has answered it with DRAINED on that connection (so a TASK the broker
    sent before it read DRAINING, still on its way, is here and run
    first), or once it has waited idle for interval x liveness without
    the answer (an older broker, or a connection that is gone). A sync
    handler that runs past its task's deadline plus a grace period ends
    the process (zhive_watchdog).
    =========================================================================
*/
#include "zhive_worker.h"
#include "zhive_clock.h"
#include "zhive_job.h"
#include "zhive_log.h"
#include "zhive_plugin.h"
#include "zhive_private.h"
#include "zhive_proto.h"
#include "zhive_registry.h"
#include "zhive_slots.h"
#include "zhive_signals.h"
#include "zhive_socket.h"
#include "zhive_uplink.h"
#include "zhive_zygote.h"
#include <inttypes.h>
#include <stdarg.h>
#include <unistd.h>

#define S_ERR_BUSY        "Busy"     //  the broker sent more tasks than slots
#define S_CONCURRENCY_MAX 1000000    //  what READY may announce
#define S_BURST           256        //  Most messages read per wakeup
#define S_BYE_STOPPING    "stopping"
#define S_BYE_MAX_TASKS   "max-tasks reached"

struct _zhive_worker_t {
    zloop_t *loop;                     //  The one event loop
    zhive_uplink_t *uplink;            //  The DEALER to the broker (failover, CURVE)
    int heartbeat_ivl;                 //  ZMTP heartbeat interval towards the broker, ms
    int liveness;                      //  Silent intervals before the broker counts as gone
    zhive_proto_t *in;                 //  Last message from the broker
    zhive_proto_t *out;                //  Message being sent
    zhive_registry_t *registry;        //  Function name -> handler
    zlistx_t *plugins;                 //  Plugins loaded (zhive_plugin_t), closed last
    char name [ZHIVE_NAME_MAX + 1];    //  Name reported to the broker
    char host [ZHIVE_NAME_MAX + 1];    //  Host name reported to the broker
    bool verbose;                      //  Log what happens (debug lines)
    zhive_slots_t *slots;              //  The jobs: running, waiting, orphans
    uint64_t incarnation;              //  The broker's incarnation, once known
    bool incarnation_known;            //  From WELCOME, or else the first TASK's ticket
    uint64_t done;                     //  Tasks answered with DONE or FAILED
    uint64_t max_tasks;                //  Tasks to take in all, 0 for no limit
    uint64_t taken;                    //  Tasks taken (all but those refused Busy)
    bool started;                      //  zhive_worker_run was called
    bool running;                      //  Inside zhive_worker_run
    bool stopping;                     //  zhive_worker_stop was called
    bool draining;                     //  zhive_worker_drain was called
    bool finished;                     //  Closed and nothing left in flight: run ends
    bool failed;                       //  run must return -1 (BYE from broker, ...)
    int stop_timer;                    //  Timer that ends the loop after a stop, or 0
    int finish_timer;                  //  Timer that ends the loop once closed and idle, or 0
    bool drain_unacked;                //  DRAINING sent on this connection, no DRAINED yet
    int ack_timer;                     //  Bounds an idle wait for DRAINED, or 0
};

//  ---------------------------------------------------------------------
//  Logging through the shared logger, naming the worker: debug lines only
//  when verbose

//  Log a line naming the worker; debug lines only when verbose
#define s_log(self, level, ...)                                                                    \
    zhive_log_as ((self)->verbose, level, "zhive-worker", (self)->name, __VA_ARGS__)

#define s_debug(self, ...) s_log (self, ZHIVE_LOG_DEBUG, __VA_ARGS__)
#define s_error(self, ...) s_log (self, ZHIVE_LOG_ERROR, __VA_ARGS__)

//  ---------------------------------------------------------------------
//  Sending

static int
s_send (zhive_worker_t *self)
{
    int command = self->out->command;
    if (zhive_proto_send (self->out, zhive_uplink_socket (self->uplink))) {
        int error = zmq_errno ();
        zhive_proto_clear_payload (self->out);
        //  READY finds no connection when the broker has just refused the
        //  handshake (libzmq then drops the pipe): the monitor says why,
        //  and READY goes out again on the next connection
        if (command == ZHIVE_READY && error == EAGAIN) {
            errno = EAGAIN;
            return -1;
        }
        s_error (self, "cannot send %s to the broker: %s", zhive_proto_command_name (command),
                 zmq_strerror (error));
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

//  How long an idle worker waits for DRAINED before it says BYE anyway:
//  the time after which a silent broker counts as gone
static int
s_ack_wait_ms (zhive_worker_t *self)
{
    return self->heartbeat_ivl * self->liveness;    //  Clamped: at most ZHIVE_HEARTBEAT_MAX
}

static void s_check_finished (zhive_worker_t *self);

//  Ends the idle wait for DRAINED, if one is running
static void
s_ack_timer_end (zhive_worker_t *self)
{
    if (self->ack_timer)
        zloop_timer_end (self->loop, self->ack_timer);
    self->ack_timer = 0;
}

//  DRAINING, also again on a new connection: until the broker answers
//  this one with DRAINED, an idle worker waits (the wait starts anew)
static int
s_send_draining (zhive_worker_t *self)
{
    self->out->command = ZHIVE_DRAINING;
    int rc = s_send (self);
    if (rc == 0)
        s_debug (self, "DRAINING sent: %zu tasks in flight", zhive_slots_running (self->slots));
    self->drain_unacked = rc == 0;
    s_ack_timer_end (self);
    s_check_finished (self);
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
    out->concurrency = zhive_slots_concurrency (self->slots);
    out->max_tasks = self->max_tasks && !closing ? self->max_tasks - self->taken : 0;
    //  The token our broker gave us, if it started us: its proof that we
    //  are its own local process
    const char *token = getenv (ZHIVE_TOKEN_ENV);
    snprintf (out->token, sizeof out->token, "%s", token ? token : "");
    //  The codec packs out->functions; lend it the registry's names
    size_t count = closing ? 0 : zhive_registry_size (self->registry);
    out->functions = zhive_registry_names (self->registry);
    out->functions_count = count;
    int rc = s_send (self);
    bool deferred = rc != 0 && errno == EAGAIN;
    out->functions = NULL;
    out->functions_count = 0;
    out->max_tasks = 0;
    if (deferred) {
        //  Not an error: the monitor says what became of the connection
        s_debug (self, "no connection to the broker; READY goes out when it connects");
        zhive_uplink_lost (self->uplink);
        return 0;
    }
    if (rc == 0)
        s_debug (self, "READY sent: concurrency %u, %zu functions, max_tasks %" PRIu64,
                 zhive_slots_concurrency (self->slots), count,
                 self->max_tasks ? self->max_tasks - self->taken : 0);
    if (rc == 0 && closing)
        rc = s_send_draining (self);
    return rc;
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
    zhive_proto_t *out = self->out;
    out->command = ZHIVE_FAILED;
    out->id = ticket;
    zhive_proto_set_name (out->type, type);
    zhive_proto_set_message (out, message ? message : type);
    s_debug (self, "FAILED ticket %" PRIu64 ": %s: %s", ticket, type, out->message);
    zstr_free (&message);
    s_send (self);
}

//  ---------------------------------------------------------------------
//  Jobs: the slots run them; their answers go out here

static bool
s_idle (zhive_worker_t *self)
{
    return zhive_slots_running (self->slots) == 0 && zhive_slots_waiting (self->slots) == 0;
}

//  The ack timer: the worker has been idle for the whole wait and the
//  broker never answered DRAINING; it says BYE anyway
static int
s_on_ack_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_worker_t *self = (zhive_worker_t *) arg;
    self->ack_timer = 0;
    if (!s_idle (self))
        return 0;    //  A task came meanwhile: when it ends, the wait starts anew
    s_log (self, ZHIVE_LOG_INFO,
           "the broker did not answer DRAINING with DRAINED within %d ms (an older broker, or "
           "the connection is gone): saying BYE without it",
           s_ack_wait_ms (self));
    self->finished = true;
    return -1;
}

//  The finish timer: ends the loop when the worker is closed and idle and
//  the broker has answered its DRAINING (or, without an answer, arms the
//  bounded wait for it)
static int
s_on_finish_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_worker_t *self = (zhive_worker_t *) arg;
    self->finish_timer = 0;
    if (!s_idle (self))
        return 0;    //  Not idle yet: the next task to end checks again
    //  No connection: nothing more can arrive on it (a reconnect sends
    //  DRAINING again), and there is no answer to wait for
    if (!self->drain_unacked || !zhive_uplink_connected (self->uplink)) {
        self->finished = true;
        return -1;
    }
    if (!self->ack_timer) {
        s_debug (self, "idle; waiting at most %d ms for the broker's DRAINED",
                 s_ack_wait_ms (self));
        int timer =
            zloop_timer (self->loop, (size_t) s_ack_wait_ms (self), 1, s_on_ack_timer, self);
        self->ack_timer = timer > 0 ? timer : 0;
        if (!self->ack_timer) {
            self->finished = true;    //  No timer to wait with: as without an answer
            return -1;
        }
    }
    return 0;
}

//  After a task ends: a closed worker with nothing in flight is finished.
//  A timer looks, once the caller (any handler in the loop) has returned
//  and the task has let its slot go.
static void
s_check_finished (zhive_worker_t *self)
{
    if (!self->running || self->finish_timer || !s_closing (self))
        return;
    int timer = zloop_timer (self->loop, 0, 1, s_on_finish_timer, self);
    self->finish_timer = timer > 0 ? timer : 0;
}

//  The slots' answer callback: a job ended. Its answer goes out unless
//  the job is of a broker incarnation that is gone (nobody is owed it).
static void
s_on_answer (zhive_job_t *job, zhive_pack_t *chunk, void *arg)
{
    zhive_worker_t *self = (zhive_worker_t *) arg;
    zhive_proto_t *out = self->out;
    int command;
    if (self->incarnation_known && job->incarnation != self->incarnation)
        command = 0;
    else if (chunk && !job->failed) {
        out->command = command = ZHIVE_DONE;
        out->id = job->ticket;
        if (zhive_proto_set_payload (out, zhive_pack_data (chunk), zhive_pack_size (chunk)))
            command = -1;
    }
    else
        command = zhive_job_answer (job, out);
    if (command == 0)
        s_debug (self,
                 "dropped the answer to ticket %" PRIu64 ": broker incarnation %" PRIu64
                 " is gone (now %" PRIu64 ")",
                 job->ticket, job->incarnation, self->incarnation);
    else if (command < 0)
        s_error (self, "out of memory answering ticket %" PRIu64, job->ticket);
    else if (command == ZHIVE_DONE)
        s_debug (self, "DONE ticket %" PRIu64 " (%s, %zu bytes)", job->ticket, job->handler->name,
                 zmq_msg_size (&out->payload));
    else
        s_debug (self, "FAILED ticket %" PRIu64 ": %s: %s", job->ticket, out->type, out->message);
    if (command > 0)
        s_send (self);
    if (command != 0)
        self->done++;
    s_check_finished (self);
}

//  ---------------------------------------------------------------------
//  Messages from the broker

//  WELCOME [incarnation], the broker's answer to READY. Another
//  incarnation than the one known means a restarted broker: the jobs of
//  the old one end here, unanswered
static void
s_on_welcome (zhive_worker_t *self)
{
    uint64_t incarnation = self->in->id;
    bool changed = !self->incarnation_known || incarnation != self->incarnation;
    s_debug (self, "WELCOME: broker incarnation %" PRIu64 "%s", incarnation,
             changed ? "" : " (the same broker)");
    self->incarnation = incarnation;
    self->incarnation_known = true;
    size_t dropped, cancelled, orphaned;
    if (changed &&
        zhive_slots_end_stale (self->slots, incarnation, &dropped, &cancelled, &orphaned)) {
        s_log (self, ZHIVE_LOG_WARNING,
               "the broker restarted (incarnation %" PRIu64 "): ended its old tasks without "
               "answers: %zu waiting dropped, %zu cancelled, %zu left to run on unanswered",
               incarnation, dropped, cancelled, orphaned);
        s_check_finished (self);
    }
}

static void
s_on_task (zhive_worker_t *self)
{
    zhive_proto_t *in = self->in;
    s_debug (self, "TASK ticket %" PRIu64 ": %s", in->id, in->function);
    //  Before any WELCOME, the first ticket tells the incarnation
    uint64_t incarnation = in->id >> 32;
    if (!self->incarnation_known) {
        self->incarnation = incarnation;
        self->incarnation_known = true;
    }
    else if (incarnation != self->incarnation) {
        s_debug (self, "dropped TASK ticket %" PRIu64 ": broker incarnation %" PRIu64 " is gone",
                 in->id, incarnation);
        return;
    }
    if (zhive_slots_full (self->slots)) {
        s_reject (self, in->id, S_ERR_BUSY,
                  "worker '%s' has no free slot (concurrency %u) and %d tasks waiting for one; "
                  "the broker sent too many",
                  self->name, zhive_slots_concurrency (self->slots), ZHIVE_SLOTS_QUEUE_MAX);
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
    //  DRAINING: it is run like the others in flight, and the idle wait
    //  for DRAINED starts anew when it ends
    s_ack_timer_end (self);
    self->taken++;
    zhive_handler_t *handler = zhive_registry_lookup (self->registry, in->function);
    uint64_t ticket = in->id;
    int place = handler ? zhive_slots_take (self->slots, handler, ticket, &in->payload, in->chunk,
                                            in->timeout_ms)
                        : -1;
    in->has_payload = false;
    if (place == ZHIVE_JOB_WAITING)
        s_debug (self, "TASK ticket %" PRIu64 " waits for a slot (%zu waiting)", ticket,
                 zhive_slots_waiting (self->slots));
    else if (place < 0) {
        if (!handler)
            s_reject (self, ticket, ZHIVE_ERR_UNKNOWN_FN, "worker '%s' has no function '%s'",
                      self->name, in->function);
        else
            s_reject (self, ticket, ZHIVE_ERR_HANDLER, "worker '%s' is out of memory", self->name);
        self->done++;
        s_check_finished (self);
    }
}

//  DRAINED: the broker read our DRAINING on this connection; everything
//  it sent before is here, and it sends no more tasks
static void
s_on_drained (zhive_worker_t *self)
{
    if (!self->drain_unacked) {
        s_debug (self, "DRAINED without a DRAINING on this connection; ignored");
        return;
    }
    s_debug (self, "DRAINED: the broker sends no more tasks");
    self->drain_unacked = false;
    s_ack_timer_end (self);
    s_check_finished (self);
}

//  CANCEL [ticket]: the broker has answered the task already (cancelled
//  or timed out). An async job with a cancel function is undone and
//  answered Cancelled, which gives the slot back; any other job runs on.
static void
s_on_cancel (zhive_worker_t *self)
{
    uint64_t ticket = self->in->id;
    zhive_slots_cancel_t what = zhive_slots_cancel (self->slots, ticket);
    s_debug (self, "CANCEL ticket %" PRIu64 ": %s", ticket,
             what == ZHIVE_SLOTS_UNKNOWN     ? "no such task here; ignored"
             : what == ZHIVE_SLOTS_DROPPED   ? "dropped it before it started"
             : what == ZHIVE_SLOTS_CANCELLED ? "cancelled it"
                                             : "its handler has no cancel function; it runs on "
                                               "and its answer frees the slot");
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
            case ZHIVE_WELCOME: s_on_welcome (self); break;
            case ZHIVE_DRAINED: s_on_drained (self); break;
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

//  The uplink's events: READY on a new connection; a refused CURVE key
//  ends run
static int
s_on_uplink (zhive_uplink_event_t event, void *arg)
{
    zhive_worker_t *self = (zhive_worker_t *) arg;
    if (event == ZHIVE_UPLINK_CONNECTED)
        s_send_ready (self);
    else
        self->failed = true;
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

//  Ends the loop's readers and our timers after it stopped
static void
s_loop_clear (zhive_worker_t *self)
{
    int *timers [] = { &self->stop_timer, &self->finish_timer, &self->ack_timer };
    for (size_t i = 0; i < sizeof timers / sizeof timers [0]; i++) {
        if (*timers [i])
            zloop_timer_end (self->loop, *timers [i]);
        *timers [i] = 0;
    }
    zhive_uplink_stop (self->uplink);
}

//  ---------------------------------------------------------------------
//  Making the worker

//  A worker, plain or (secret_cert_path not NULL) a CURVE client
static zhive_worker_t *
s_worker_new (const char *endpoint, const char *secret_cert_path, const char *broker_cert_path)
{
    zhive_signals_init ();    //  Before czmq's first socket: SIGINT and SIGTERM stay the host's
    if (!endpoint || !*endpoint) {
        errno = EINVAL;
        return NULL;
    }
    zhive_worker_t *self = (zhive_worker_t *) calloc (1, sizeof (zhive_worker_t));
    if (!self)
        return NULL;
    self->heartbeat_ivl = ZHIVE_HEARTBEAT_MS;
    self->liveness = ZHIVE_LIVENESS;
    char host [ZHIVE_NAME_MAX + 1] = "";
    if (gethostname (host, sizeof host - 1) || !*host)
        snprintf (host, sizeof host, "localhost");
    zhive_proto_set_name (self->host, host);
    char name [ZHIVE_NAME_MAX + 32];
    snprintf (name, sizeof name, "%s:%d", self->host, (int) getpid ());
    zhive_proto_set_name (self->name, name);

    self->loop = zloop_new ();
    self->in = zhive_proto_new ();
    self->out = zhive_proto_new ();
    self->registry = zhive_registry_new ();
    self->plugins = zlistx_new ();
    self->slots = zhive_slots_new (self, self->loop, self->name, s_on_answer, self);
    if (!self->loop || !self->in || !self->out || !self->registry || !self->plugins ||
        !self->slots) {
        zhive_worker_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    //  Connecting now checks the endpoint; run connects again if the
    //  heartbeat settings change meanwhile
    self->uplink = zhive_uplink_new (endpoint, self->name, secret_cert_path, broker_cert_path);
    if (!self->uplink) {
        int error = errno;
        zhive_worker_destroy (&self);
        errno = error;
        return NULL;
    }
    return self;
}

zhive_worker_t *
zhive_worker_new (const char *endpoint)
{
    return s_worker_new (endpoint, NULL, NULL);
}

zhive_worker_t *
zhive_worker_new_curve (const char *endpoint, const char *secret_cert_path,
                        const char *broker_cert_path)
{
    return s_worker_new (endpoint, secret_cert_path ? secret_cert_path : "", broker_cert_path);
}

void
zhive_worker_destroy (zhive_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_worker_t *self = *self_p;
    //  Jobs still pending: their timers and readers go with the loop
    zhive_slots_destroy (&self->slots);
    zhive_uplink_destroy (&self->uplink);
    zloop_destroy (&self->loop);
    zhive_proto_destroy (&self->in);
    zhive_proto_destroy (&self->out);
    zhive_registry_destroy (&self->registry);
    //  Plugin code is gone after this: nothing of theirs may run later
    if (self->plugins) {
        zhive_plugin_t *plugin = (zhive_plugin_t *) zlistx_first (self->plugins);
        while (plugin) {
            zhive_plugin_destroy (&plugin);
            plugin = (zhive_plugin_t *) zlistx_next (self->plugins);
        }
        zlistx_destroy (&self->plugins);
    }
    free (self);
    *self_p = NULL;
}

int
zhive_worker_add_endpoint (zhive_worker_t *self, const char *endpoint)
{
    if (!endpoint || !*endpoint || self->started) {
        errno = EINVAL;
        return -1;
    }
    return zhive_uplink_add_endpoint (self->uplink, endpoint);
}

//  ---------------------------------------------------------------------
//  Settings

void
zhive_worker_set_concurrency (zhive_worker_t *self, int concurrency)
{
    if (concurrency < 1)
        concurrency = 1;
    if (concurrency > S_CONCURRENCY_MAX)
        concurrency = S_CONCURRENCY_MAX;
    zhive_slots_set_concurrency (self->slots, (uint32_t) concurrency);
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
    zhive_uplink_set_verbose (self->uplink, verbose);
}

void
zhive_worker_set_heartbeat (zhive_worker_t *self, int interval_ms, int liveness)
{
    zhive_heartbeat_clamp (&interval_ms, &liveness);
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
    //  At once: the plain connection made by new may be knocking on a
    //  CURVE broker (zhive_worker_new_curve avoids it altogether)
    return zhive_uplink_set_curve (self->uplink, secret_cert_path, broker_cert_path);
}

//  ---------------------------------------------------------------------
//  Handlers and plugins

int
zhive_worker_register (zhive_worker_t *self, const char *function, zhive_handler_fn *handler,
                       void *state, int flags)
{
    return zhive_registry_add (self->registry, function, handler, state, flags);
}

//  Keeps an opened plugin (before its initializer runs: the handlers it
//  registers point into it) and calls its initializer
static int
s_load (zhive_worker_t *self, zhive_plugin_t *plugin)
{
    if (!plugin)
        return -1;
    if (!zlistx_add_end (self->plugins, plugin)) {
        zhive_plugin_destroy (&plugin);
        errno = ENOMEM;
        return -1;
    }
    return zhive_plugin_call (plugin, self);
}

int
zhive_worker_load (zhive_worker_t *self, const char *path, const char *args)
{
    return s_load (self, zhive_plugin_new (path, args));
}

int
zhive_worker_load_spec (zhive_worker_t *self, const char *spec)
{
    return s_load (self, zhive_plugin_new_spec (spec));
}

int
zhive_worker_zygote (const char *const *specs, size_t count, bool *child)
{
    *child = false;
    zhive_plugin_t **plugins = (zhive_plugin_t **) calloc (count + 1, sizeof (zhive_plugin_t *));
    if (!plugins)
        return 1;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        if (!(plugins [i] = zhive_plugin_new_spec (specs [i])))
            rc = 1;
    if (rc == 0)
        rc = zhive_zygote_run (child);
    //  A forked worker keeps the code loaded, for its own worker to find
    for (size_t i = 0; i < count; i++)
        if (*child)
            zhive_plugin_forget (&plugins [i]);
        else
            zhive_plugin_destroy (&plugins [i]);
    free (plugins);
    return rc;
}

//  ---------------------------------------------------------------------
//  Running

int
zhive_worker_run (zhive_worker_t *self)
{
    if (self->started) {
        zhive_log_error ("zhive-worker: a worker can run only once");
        errno = EINVAL;
        return -1;
    }
    self->started = true;
    if (zhive_registry_size (self->registry) == 0) {
        s_error (self, "nothing to serve: no function is registered");
        errno = EINVAL;
        return -1;
    }
    zhive_slots_set_grace (self->slots, zhive_grace_ms (self->heartbeat_ivl, self->liveness));
    if (zhive_uplink_start (self->uplink, self->loop, self->heartbeat_ivl, self->liveness,
                            s_on_broker, s_on_uplink, self))
        return -1;
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
    zhive_slots_stop (self->slots);
    s_loop_clear (self);
    if (self->failed)
        return -1;
    if (zhive_slots_running (self->slots))
        s_debug (self, "stopping: dropping %zu tasks in flight", zhive_slots_running (self->slots));
    self->out->command = ZHIVE_BYE;
    bool max_reached = self->max_tasks && self->taken >= self->max_tasks && !self->stopping;
    zhive_proto_set_message (self->out, max_reached ? S_BYE_MAX_TASKS : S_BYE_STOPPING);
    s_send (self);
    s_debug (self, "stopped after %" PRIu64 " tasks", self->done);
    return 0;
}

void
zhive_worker_stop (zhive_worker_t *self)
{
    self->stopping = true;
    zhive_slots_stop (self->slots);
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
    if (self->running && !self->stopping)
        s_send_draining (self);    //  It checks whether the worker is finished
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
