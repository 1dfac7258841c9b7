/*  =========================================================================
    zhive_broker - the pool manager

    The API below talks to an actor (one thread, one zloop) over its pipe,
    as malamute's mlm_server does. Settings (VERBOSE, WORKER-PROGRAM,
    HEARTBEAT, MAX-QUEUE, MAX-RETRIES, PREFETCH, WORKER-MAX-TASKS, START-METHOD) and
    DRAIN are one-way; BIND, START-WORKERS, WORKERS-READY, CURVE and
    CURVE-RELOAD carry a serial and get a reply [serial, OK|ERROR, value];
    $TERM stops the actor. CURVE security is zhive_broker_curve.c.

    Inside the actor, one zloop runs: the pipe, the client and worker
    ROUTERs (zhive_broker_peers.c), the worker socket's disconnect monitor,
    a tick for deadlines and local workers, and the heartbeat timer. The
    task machinery is in zhive_broker_tasks.c and the local worker
    processes in zhive_broker_procs.c.

    A drain refuses new tasks and ends the loop once every accepted task is
    answered or the drain time is up; the actor then answers what is left
    with BrokerShutdown, stops its local workers, signals its pipe (status
    1) and waits for $TERM.
    =========================================================================
*/
#include "zhive_broker_private.h"
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

#define S_STOPPED_SIGNAL 1    //  Pipe signal status: the broker stopped after a drain

//  ---------------------------------------------------------------------
//  Timers and monitor

//  Finish a drain when everything is answered or its time is up; returns
//  -1 to end the loop
static int
s_drain_check (zb_server_t *self, int64_t now)
{
    if (!self->draining)
        return 0;
    if (self->unanswered == 0)
        zb_warn ("drained: every accepted task is answered; stopping");
    else if (now >= self->drain_until) {
        zb_warn ("drain time of %d ms is up: %zu task(s) get BrokerShutdown; stopping",
                 self->drain_ms, self->unanswered);
    }
    else
        return 0;
    self->drained = true;
    return -1;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zb_server_t *self = (zb_server_t *) arg;
    int64_t now = zclock_mono ();
    zb_clock (self);
    zb_deadlines_check (self, now);
    zb_kept_expire (self, now);
    zb_procs_check (self);
    zb_settle (self);
    return s_drain_check (self, now);
}

static int
s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zb_clock ((zb_server_t *) arg);
    zb_heartbeat ((zb_server_t *) arg);
    return 0;
}

static int
s_on_probe (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zb_server_t *self = (zb_server_t *) arg;
    self->probe_armed = false;
    zb_workers_probe (self);
    return 0;
}

//  A worker connection closed (ZMTP heartbeat timeout, or the peer went):
//  probe every worker soon, rather than at the next heartbeat. The delay
//  lets the ROUTER see the closed pipe first. A failed handshake (a peer
//  without CURVE, or with a wrong key) is logged.
static int
s_on_monitor (zloop_t *loop, zsock_t *sock, void *arg)
{
    zb_server_t *self = (zb_server_t *) arg;
    zmsg_t *msg = zmsg_recv (sock);
    char *event = msg ? zframe_strdup (zmsg_first (msg)) : NULL;
    bool handshake = event && strncmp (event, "HANDSHAKE_FAILED", 16) == 0;
    free (event);
    if (handshake) {
        zb_curve_handshake_failed (self, "workers", msg);
        zmsg_destroy (&msg);
        return 0;
    }
    zmsg_destroy (&msg);
    if (!self->probe_armed && zloop_timer (loop, 5, 1, s_on_probe, self) >= 0)
        self->probe_armed = true;
    return 0;
}

//  ---------------------------------------------------------------------
//  The pipe from the API

//  Heartbeat settings go to both sockets (for endpoints bound after
//  them) and the heartbeat timer
static void
s_set_heartbeat (zb_server_t *self, int interval_ms, int liveness)
{
    self->heartbeat_ms = interval_ms > 0 ? interval_ms : ZB_HEARTBEAT_MS;
    self->liveness = liveness > 0 ? liveness : ZB_LIVENESS;
    int64_t timeout = (int64_t) self->heartbeat_ms * self->liveness;
    if (timeout > 6553599)    //  ZMTP's TTL field: deciseconds in 16 bits
        timeout = 6553599;
    zsock_t *socks [] = { self->client_sock, self->worker_sock };
    for (size_t i = 0; i < 2; i++) {
        zsock_set_heartbeat_ivl (socks [i], self->heartbeat_ms);
        zsock_set_heartbeat_timeout (socks [i], (int) timeout);
        zsock_set_heartbeat_ttl (socks [i], (int) timeout);
    }
    if (self->heartbeat_timer >= 0)
        zloop_timer_end (self->loop, self->heartbeat_timer);
    self->heartbeat_timer =
        zloop_timer (self->loop, (size_t) self->heartbeat_ms, 0, s_on_heartbeat, self);
}

static void
s_drain (zb_server_t *self, int timeout_ms)
{
    if (self->draining)
        return;
    self->draining = true;
    self->drain_ms = timeout_ms < 0 ? ZB_DRAIN_MS : timeout_ms;
    self->drain_until = zclock_mono () + self->drain_ms;
    zb_warn ("draining: %zu task(s) in flight, %zu queued; stopping within %d ms",
             self->unanswered - self->waiting, self->waiting, self->drain_ms);
}

//  BIND serial clients|workers endpoint
static void
s_bind (zb_server_t *self, zmsg_t *msg, const char *serial)
{
    char *which = zmsg_popstr (msg);
    char *endpoint = zmsg_popstr (msg);
    bool clients = which && streq (which, "clients");
    zsock_t *sock = clients ? self->client_sock : self->worker_sock;
    if (!endpoint || zsock_bind (sock, "%s", endpoint) < 0) {
        char error [512];
        snprintf (error, sizeof error, "cannot bind %s to %s: %s", clients ? "clients" : "workers",
                  endpoint ? endpoint : "(none)", endpoint ? zmq_strerror (errno) : "no endpoint");
        zsock_send (self->pipe, "sss", serial, "ERROR", error);
    }
    else {
        char *resolved = zsock_last_endpoint (sock);
        if (!clients) {
            free (self->worker_endpoint);
            self->worker_endpoint = strdup (resolved ? resolved : endpoint);
        }
        zsock_send (self->pipe, "sss", serial, "OK", resolved ? resolved : endpoint);
        zb_log (self, "%s bound to %s", clients ? "clients" : "workers",
                resolved ? resolved : endpoint);
        free (resolved);
    }
    free (which);
    free (endpoint);
}

//  The next frame as a number (0 if missing): unsigned in decimal, so a
//  negative int64_t arrives as its two's complement
static uint64_t
s_pop_number (zmsg_t *msg)
{
    char *text = zmsg_popstr (msg);
    uint64_t value = text ? strtoull (text, NULL, 10) : 0;
    free (text);
    return value;
}

//  Commands with a serial, answered [serial, OK|ERROR, value]
static void
s_on_request (zb_server_t *self, const char *command, zmsg_t *msg)
{
    char *serial = zmsg_popstr (msg);
    const char *reply = serial ? serial : "";
    if (streq (command, "BIND"))
        s_bind (self, msg, reply);
    else if (streq (command, "START-WORKERS")) {
        char error [256] = "";
        int rc = zb_procs_start (self, msg, error, sizeof error);
        zsock_send (self->pipe, "sss", reply, rc ? "ERROR" : "OK", error);
    }
    else if (streq (command, "WORKERS-READY")) {
        char count [32];
        snprintf (count, sizeof count, "%zu", zhashx_size (self->workers));
        zsock_send (self->pipe, "sss", reply, "OK", count);
    }
    else if (streq (command, "CURVE") || streq (command, "CURVE-RELOAD"))
        zb_curve_request (self, command, msg, reply);
    else
        zsock_send (self->pipe, "sss", reply, "ERROR", "unknown command");
    free (serial);
}

static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    zb_server_t *self = (zb_server_t *) arg;
    zmsg_t *msg = zmsg_recv (pipe);
    if (!msg)
        return 0;
    char *command = zmsg_popstr (msg);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "VERBOSE"))
        self->verbose = s_pop_number (msg) != 0;
    else if (streq (command, "WORKER-PROGRAM")) {
        free (self->worker_program);
        self->worker_program = zmsg_popstr (msg);
    }
    else if (streq (command, "HEARTBEAT")) {
        int64_t interval = (int64_t) s_pop_number (msg);
        int64_t liveness = (int64_t) s_pop_number (msg);
        s_set_heartbeat (self, interval > 0 && interval <= 3600000 ? (int) interval : 0,
                         liveness > 0 && liveness <= 1000 ? (int) liveness : 0);
    }
    else if (streq (command, "MAX-QUEUE")) {
        self->max_waiting = (size_t) s_pop_number (msg);
        self->max_per_function = (size_t) s_pop_number (msg);
    }
    else if (streq (command, "MAX-RETRIES")) {
        int64_t retries = (int64_t) s_pop_number (msg);
        self->retries = retries >= 0 ? retries : ZB_RETRIES;
    }
    else if (streq (command, "PREFETCH"))
        self->prefetch_us = (int64_t) s_pop_number (msg) * 1000;
    else if (streq (command, "WORKER-MAX-TASKS"))
        self->worker_max_tasks = s_pop_number (msg);
    else if (streq (command, "START-METHOD")) {
        char *method = zmsg_popstr (msg);
        self->use_zygote = method && streq (method, "zygote");
        free (method);
    }
    else if (streq (command, "DRAIN"))
        s_drain (self, (int) (int64_t) s_pop_number (msg));
    else
        s_on_request (self, command, msg);
    free (command);
    zmsg_destroy (&msg);
    if (self->terminated)
        return -1;
    return s_drain_check (self, zclock_mono ());
}

//  ---------------------------------------------------------------------
//  The actor

static void
s_server_destroy (zb_server_t **self_p)
{
    zb_server_t *self = *self_p;
    if (!self)
        return;
    //  Whoever still waits hears why no answer will come
    if (self->clients) {
        char message [128];
        if (self->drained) {
            snprintf (message, sizeof message,
                      "the broker's drain time of %d ms ran out before the task finished",
                      self->drain_ms);
        }
        else
            snprintf (message, sizeof message, "the broker stopped before the task finished");
        zb_tasks_shutdown (self, message);
        zb_kept_purge (self);
    }
    zb_procs_stop (self);
    //  Every task is in one list: a queue's or a worker's
    if (self->workers) {
        zb_workers_destroy (self);
        zhashx_destroy (&self->workers);
    }
    if (self->queues) {
        zb_queues_destroy (self);
        zhashx_destroy (&self->queues);
    }
    if (self->recent) {
        zb_client_t *recent = self->recent;
        self->recent = NULL;
        zb_client_release (self, recent);
    }
    zhashx_destroy (&self->clients);    //  Empty: every task released its client
    zhive_idmap_destroy (&self->in_flight);
    free (self->heap);
    zactor_destroy (&self->monitor);
    zactor_destroy (&self->client_monitor);    //  Before its socket
    zloop_destroy (&self->loop);
    if (self->client_sock) {
        zsock_set_linger (self->client_sock, 500);    //  Let the last errors go out
    }
    zsock_destroy (&self->client_sock);
    zsock_destroy (&self->worker_sock);
    zb_curve_destroy (self);    //  After the sockets: the ZAP handler
    zhive_proto_destroy (&self->in);
    zhive_proto_destroy (&self->out);
    zhive_pack_destroy (&self->pack);
    free (self->worker_endpoint);
    free (self->worker_program);
    free (self);
    *self_p = NULL;
}

//  Report disconnects of the worker socket on a pipe the loop reads
static int
s_monitor_start (zb_server_t *self)
{
    self->monitor = zactor_new (zmonitor, self->worker_sock);
    if (!self->monitor)
        return -1;
    zstr_sendx (self->monitor, "LISTEN", "DISCONNECTED", "HANDSHAKE_FAILED_PROTOCOL",
                "HANDSHAKE_FAILED_NO_DETAIL", NULL);
    zstr_sendx (self->monitor, "START", NULL);
    zsock_wait (self->monitor);
    return zloop_reader (self->loop, zactor_sock (self->monitor), s_on_monitor, self);
}

static zb_server_t *
s_server_new (zsock_t *pipe)
{
    zb_server_t *self = (zb_server_t *) calloc (1, sizeof (zb_server_t));
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->next_ticket = 1;
    self->heartbeat_timer = -1;
    self->max_waiting = ZB_MAX_WAITING;
    self->retries = ZB_RETRIES;
    self->prefetch_us = ZB_PREFETCH_MS * 1000;
    zb_clock (self);
    if (gethostname (self->hostname, sizeof self->hostname - 1))
        snprintf (self->hostname, sizeof self->hostname, "localhost");
    self->loop = zloop_new ();
    self->client_sock = zsock_new (ZMQ_ROUTER);
    self->worker_sock = zsock_new (ZMQ_ROUTER);
    self->in = zhive_proto_new ();
    self->out = zhive_proto_new ();
    self->pack = zhive_pack_new ();
    self->queues = zhashx_new ();
    self->workers = zhashx_new ();
    self->clients = zhashx_new ();
    self->in_flight = zhive_idmap_new ();
    if (!self->loop || !self->client_sock || !self->worker_sock || !self->in || !self->out ||
        !self->pack || !self->queues || !self->workers || !self->clients || !self->in_flight) {
        s_server_destroy (&self);
        return NULL;
    }
    //  Queues live in the broker, not in socket buffers
    zsock_t *socks [] = { self->client_sock, self->worker_sock };
    for (size_t i = 0; i < 2; i++) {
        zsock_set_sndhwm (socks [i], 0);
        zsock_set_rcvhwm (socks [i], 0);
        //  A peer announcing a huge frame is cut off before libzmq allocates it
        zsock_set_maxmsgsize (socks [i], ZHIVE_MESSAGE_SIZE_MAX);
        //  A send to a peer that has gone fails, instead of vanishing
        zsock_set_router_mandatory (socks [i], 1);
    }
    //  A client that reconnects with its routing id takes it over
    zsock_set_router_handover (self->client_sock, 1);

    zloop_set_nonstop (self->loop, true);
    s_set_heartbeat (self, ZB_HEARTBEAT_MS, ZB_LIVENESS);
    if (self->heartbeat_timer < 0 || zloop_reader (self->loop, pipe, s_on_pipe, self) ||
        zloop_reader (self->loop, self->client_sock, zb_on_clients, self) ||
        zloop_reader (self->loop, self->worker_sock, zb_on_workers, self) ||
        zloop_timer (self->loop, ZB_TICK_MS, 0, s_on_tick, self) < 0 || s_monitor_start (self)) {
        s_server_destroy (&self);
        return NULL;
    }
    return self;
}

//  Answer commands with errors until $TERM (the broker has stopped, or
//  never started). stopped: signal S_STOPPED_SIGNAL again after each
//  request, in case the request's caller took the first one.
static void
s_refuse_until_term (zsock_t *pipe, const char *why, bool stopped)
{
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        char *command = zmsg_popstr (msg);
        char *serial = zmsg_popstr (msg);
        bool term = !command || streq (command, "$TERM");
        bool request = command && (streq (command, "BIND") || streq (command, "START-WORKERS") ||
                                   streq (command, "WORKERS-READY") || streq (command, "CURVE") ||
                                   streq (command, "CURVE-RELOAD"));
        if (!term && request && serial) {
            zsock_send (pipe, "sss", serial, "ERROR", why);
            if (stopped)
                zsock_signal (pipe, S_STOPPED_SIGNAL);
        }
        free (command);
        free (serial);
        zmsg_destroy (&msg);
        if (term)
            break;
    }
}

static void
s_broker_actor (zsock_t *pipe, void *args)
{
    (void) args;
    //  Signals go to the application's threads: the broker stops on $TERM.
    //  SIGPIPE: a write to a zygote that died fails with EPIPE instead.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGHUP);
    sigaddset (&signals, SIGCHLD);
    sigaddset (&signals, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);

    zb_server_t *self = s_server_new (pipe);
    zsock_signal (pipe, 0);
    if (!self) {
        zb_warn ("cannot start: out of memory or sockets");
        s_refuse_until_term (pipe, "the broker did not start", false);
        return;
    }
    while (!self->terminated && !self->drained) {
        //  Returns 0 when a poll was interrupted, -1 after $TERM or a
        //  drain; a terminated context (the process is exiting) ends it too
        if (zloop_start (self->loop) == -1 || zmq_errno () == ETERM)
            break;
    }
    bool drained = self->drained;
    s_server_destroy (&self);
    if (drained) {
        zsock_signal (pipe, S_STOPPED_SIGNAL);
        s_refuse_until_term (pipe, "the broker has stopped after a drain", true);
    }
}

//  ---------------------------------------------------------------------
//  The API: commands over the actor pipe

struct _zhive_broker_t {
    zactor_t *actor;           //  The broker thread
    char *clients_endpoint;    //  Resolved client endpoint; NULL before binding
    char *workers_endpoint;    //  Resolved worker endpoint; NULL before binding
    unsigned serial;           //  Numbers requests so a late reply is not mistaken
};

zhive_broker_t *
zhive_broker_new (void)
{
    zhive_broker_t *self = (zhive_broker_t *) calloc (1, sizeof (zhive_broker_t));
    if (!self)
        return NULL;
    self->actor = zactor_new (s_broker_actor, NULL);
    if (!self->actor) {
        free (self);
        return NULL;
    }
    return self;
}

//  Wait until the pipe is readable; a signal does not cut the wait short.
//  Returns 0, or -1 after timeout_ms.
static int
s_wait_readable (zsock_t *pipe, int64_t timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    while (true) {
        int64_t left = until - zclock_mono ();
        if (left < 0)
            return -1;
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, (long) left);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

//  Send a command (command, serial, args...) and return the reply's status
//  (0 OK, -1 ERROR or no answer) and value (caller frees). Takes the request.
static int
s_call (zhive_broker_t *self, const char *command, zmsg_t *request, char **value_p)
{
    *value_p = NULL;
    zsock_t *pipe = zactor_sock (self->actor);
    char serial [16];
    snprintf (serial, sizeof serial, "%u", ++self->serial);
    zmsg_pushstr (request, serial);
    zmsg_pushstr (request, command);
    if (zmsg_send (&request, pipe)) {
        zmsg_destroy (&request);
        return -1;
    }
    int64_t until = zclock_mono () + ZB_REPLY_MS;
    while (s_wait_readable (pipe, until - zclock_mono ()) == 0) {
        zmsg_t *reply = zmsg_recv (pipe);
        if (!reply)
            break;
        if (zmsg_signal (reply) >= 0) {
            zmsg_destroy (&reply);    //  It stopped after a drain: no answer will come
            return -1;
        }
        char *reply_serial = zmsg_popstr (reply);
        char *status = zmsg_popstr (reply);
        char *value = zmsg_popstr (reply);
        zmsg_destroy (&reply);
        if (reply_serial && streq (reply_serial, serial)) {
            int rc = status && streq (status, "OK") ? 0 : -1;
            free (reply_serial);
            free (status);
            *value_p = value;
            return rc;
        }
        free (reply_serial);
        free (status);
        free (value);
    }
    return -1;
}

//  Send a one-way command with `count` number arguments (in decimal, as
//  uint64_t: the actor casts signed ones back)
static void
s_tell (zhive_broker_t *self, const char *command, int count, ...)
{
    zmsg_t *msg = zmsg_new ();
    if (!msg)
        return;
    zmsg_addstr (msg, command);
    va_list args;
    va_start (args, count);
    for (int i = 0; i < count; i++)
        zmsg_addstrf (msg, "%" PRIu64, va_arg (args, uint64_t));
    va_end (args);
    zactor_send (self->actor, &msg);
    zmsg_destroy (&msg);
}

void
zhive_broker_destroy (zhive_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_broker_t *self = *self_p;
    //  Wait for the actor ourselves: zactor_destroy gives up on a signal,
    //  and the actor may take a while to stop local workers. A signal with
    //  S_STOPPED_SIGNAL (a drain ended) is not the actor's end.
    zsock_t *pipe = zactor_sock (self->actor);
    if (zstr_send (pipe, "$TERM") == 0) {
        int64_t until = zclock_mono () + 2 * ZB_STOP_MS + ZB_REPLY_MS;
        while (s_wait_readable (pipe, until - zclock_mono ()) == 0) {
            zmsg_t *msg = zmsg_recv (pipe);
            int signal = msg ? zmsg_signal (msg) : 0;
            zmsg_destroy (&msg);
            if (signal == 0)
                break;
        }
    }
    zsock_set_rcvtimeo (pipe, 100);    //  Its own $TERM finds nobody; do not hang on it
    zactor_destroy (&self->actor);
    free (self->clients_endpoint);
    free (self->workers_endpoint);
    free (self);
    *self_p = NULL;
}

void
zhive_broker_set_verbose (zhive_broker_t *self, bool verbose)
{
    s_tell (self, "VERBOSE", 1, (uint64_t) verbose);
}

static int
s_bind_call (zhive_broker_t *self, const char *which, const char *endpoint, char **resolved_p)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, which);
    zmsg_addstr (request, endpoint ? endpoint : "");
    char *value;
    if (s_call (self, "BIND", request, &value)) {
        fprintf (stderr, "zhive-broker: %s\n", value ? value : "the broker does not answer");
        free (value);
        return -1;
    }
    free (*resolved_p);
    *resolved_p = value;
    return 0;
}

int
zhive_broker_bind_clients (zhive_broker_t *self, const char *endpoint)
{
    return s_bind_call (self, "clients", endpoint, &self->clients_endpoint);
}

int
zhive_broker_bind_workers (zhive_broker_t *self, const char *endpoint)
{
    return s_bind_call (self, "workers", endpoint, &self->workers_endpoint);
}

const char *
zhive_broker_clients_endpoint (zhive_broker_t *self)
{
    return self->clients_endpoint;
}

const char *
zhive_broker_workers_endpoint (zhive_broker_t *self)
{
    return self->workers_endpoint;
}

void
zhive_broker_set_worker_program (zhive_broker_t *self, const char *path)
{
    zstr_sendx (self->actor, "WORKER-PROGRAM", path, NULL);    //  No path: the default
}

int
zhive_broker_start_workers (zhive_broker_t *self, int count, const char *const *loads,
                            int concurrency)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstrf (request, "%d", count);
    zmsg_addstrf (request, "%d", concurrency);
    for (size_t i = 0; loads && loads [i]; i++)
        zmsg_addstr (request, loads [i]);
    char *value;
    int rc = s_call (self, "START-WORKERS", request, &value);
    if (rc) {
        fprintf (stderr, "zhive-broker: cannot start local workers: %s\n",
                 value ? value : "the broker does not answer");
    }
    free (value);
    return rc;
}

void
zhive_broker_set_heartbeat (zhive_broker_t *self, int interval_ms, int liveness)
{
    s_tell (self, "HEARTBEAT", 2, (uint64_t) interval_ms, (uint64_t) liveness);
}

void
zhive_broker_set_max_queue (zhive_broker_t *self, size_t total, size_t per_function)
{
    s_tell (self, "MAX-QUEUE", 2, (uint64_t) total, (uint64_t) per_function);
}

void
zhive_broker_set_max_retries (zhive_broker_t *self, int retries)
{
    s_tell (self, "MAX-RETRIES", 1, (uint64_t) retries);
}

void
zhive_broker_set_prefetch (zhive_broker_t *self, int prefetch_ms)
{
    s_tell (self, "PREFETCH", 1, (uint64_t) (prefetch_ms > 0 ? prefetch_ms : 0));
}

void
zhive_broker_set_worker_max_tasks (zhive_broker_t *self, uint64_t max_tasks)
{
    s_tell (self, "WORKER-MAX-TASKS", 1, max_tasks);
}

int
zhive_broker_set_start_method (zhive_broker_t *self, const char *method)
{
    if (!method || (strcmp (method, "exec") && strcmp (method, "zygote"))) {
        errno = EINVAL;
        return -1;
    }
    zstr_sendx (self->actor, "START-METHOD", method, NULL);
    return 0;
}

void
zhive_broker_drain (zhive_broker_t *self, int timeout_ms)
{
    s_tell (self, "DRAIN", 1, (uint64_t) timeout_ms);
}

int
zhive_broker_set_curve (zhive_broker_t *self, const char *secret_cert_path, const char *allow_dir)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, secret_cert_path ? secret_cert_path : "");
    zmsg_addstr (request, allow_dir ? allow_dir : "");
    char *value;
    int rc = s_call (self, "CURVE", request, &value);
    if (rc)
        fprintf (stderr, "zhive-broker: %s\n", value ? value : "the broker does not answer");
    free (value);
    return rc;
}

int
zhive_broker_reload_curve (zhive_broker_t *self)
{
    char *value;
    int rc = s_call (self, "CURVE-RELOAD", zmsg_new (), &value);
    if (rc)
        fprintf (stderr, "zhive-broker: %s\n", value ? value : "the broker does not answer");
    int count = rc == 0 && value ? atoi (value) : -1;
    free (value);
    return count;
}

int
zhive_broker_workers_ready (zhive_broker_t *self)
{
    char *value;
    int rc = s_call (self, "WORKERS-READY", zmsg_new (), &value);
    int count = rc == 0 && value ? atoi (value) : -1;
    free (value);
    return count;
}

zactor_t *
zhive_broker_actor (zhive_broker_t *self)
{
    return self->actor;
}
