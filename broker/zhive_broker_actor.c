/*  =========================================================================
    zhive_broker_actor - the broker's thread: the actor around the pool model

    The API (zhive_broker.c) talks to this actor (one thread, one zloop)
    over its pipe. Every pipe command is in one table (s_commands): its
    name, the czmq picture of its arguments (as zsock_send writes them: 4
    and 8 integers, s a string, m the remaining frames), and whether it is
    answered; answered ones carry a serial (4) first and get [serial 4,
    status 4 (0 OK), value s]. $TERM stops the actor.

    Inside the actor, one zloop runs: the pipe, the client and worker
    ROUTERs (zhive_broker_peers: wire messages into events of the pool
    model, the pool's operations as sends), the worker socket's monitor, a
    tick for deadlines and local workers, and the heartbeat timer. Local
    worker processes are zhive_procs, CURVE is zhive_zap: the actor
    connects them to the pool (an exit of a local process becomes a pool
    event at the tick; READY and the kill op reach procs through the
    peers). Calls go one way: API -> actor -> peers -> pool.

    A drain refuses new tasks and ends the loop once every accepted task is
    answered or the drain time is up; the actor then answers what is left
    with BrokerShutdown, stops its local workers (driven by a timer, never
    a wait), signals its pipe (status 1) and waits for $TERM.
    =========================================================================
*/
#include "zhive_broker_actor.h"
#include "zhive_metrics_server.h"
#include "zhive_broker_peers.h"
#include "zhive_clock.h"
#include "zhive_log.h"
#include "zhive_pool.h"
#include "zhive_procs.h"
#include "zhive_proto.h"
#include "zhive_result.h"
#include "zhive_socket.h"
#include "zhive_zap.h"
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

#define S_TICK_MS  50       //  Deadlines and local workers are checked this often
#define S_DRAIN_MS 10000    //  Default drain time
#define S_ARGS_MAX 4        //  Most arguments of a pipe command

//  Debug lines only in verbose mode
#define S_LOG(self, ...) zhive_log_verbose ((self)->verbose, __VA_ARGS__)

typedef struct {
    zsock_t *pipe;                  //  Pipe to the API (zhive_broker_t)
    zloop_t *loop;                  //  The one event loop
    zhive_broker_peers_t *peers;    //  The two ROUTERs and the pool behind them
    zhive_pool_t *pool;             //  The pool model (the peers')
    zhive_procs_t *procs;           //  Local worker processes
    zhive_zap_t *zap;               //  CURVE security, or NULL
    zactor_t *monitor;              //  Disconnects and failed handshakes of the worker socket
    char *worker_endpoint;          //  Resolved worker endpoint, for local workers
    int heartbeat_ms;               //  Heartbeat interval
    int liveness;                   //  Silent intervals before a peer is dead
    int heartbeat_timer;            //  zloop timer id of the heartbeat
    bool probe_armed;               //  A probe of every worker is due (a connection closed)
    char *worker_program;           //  Program set by the API, NULL for the default
    uint64_t worker_max_tasks;      //  --max-tasks for local workers, 0 = none
    bool use_zygote;                //  Start local workers through a zygote
    bool verbose;                   //  Log joins, losses and bad input
    bool terminated;                //  $TERM received
    int drain_ms;                   //  The drain time asked for
    bool drained;                   //  Stopped on its own after a drain
    zhive_metrics_server_t *web;    //  The metrics server, or NULL
} s_server_t;

static int
s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_broker_peers_heartbeat (((s_server_t *) arg)->peers);
    return 0;
}

static int
s_on_probe (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_server_t *self = (s_server_t *) arg;
    self->probe_armed = false;
    zhive_broker_peers_probe (self->peers);
    return 0;
}

//  Finish a drain when everything is answered or its time is up; returns
//  -1 to end the loop
static int
s_drain_check (s_server_t *self)
{
    int state = zhive_pool_drain_state (self->pool, zhive_clock_us ());
    if (state == 0)
        return 0;
    if (state == 1)
        zhive_log_warning ("drained: every accepted task is answered; stopping");
    else
        zhive_log_warning ("drain time of %d ms is up: %zu task(s) get BrokerShutdown; stopping",
                           self->drain_ms, zhive_pool_unanswered (self->pool));
    self->drained = true;
    return -1;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_server_t *self = (s_server_t *) arg;
    zhive_procs_check (self->procs);
    int64_t now = zhive_clock_us ();
    zhive_procs_exit_t exit;
    while (zhive_procs_next_exit (self->procs, &exit))
        zhive_pool_local_exited (self->pool, now, exit.pid, exit.why);
    zhive_pool_tick (self->pool, now);
    return s_drain_check (self);
}

//  A worker connection closed (ZMTP heartbeat timeout, or the peer went):
//  probe every worker soon, rather than at the next heartbeat. The delay
//  lets the ROUTER see the closed pipe first. A failed handshake is logged.
static int
s_on_monitor (zloop_t *loop, zsock_t *sock, void *arg)
{
    s_server_t *self = (s_server_t *) arg;
    zmsg_t *msg = zmsg_recv (sock);
    char *event = msg ? zframe_strdup (zmsg_first (msg)) : NULL;
    bool handshake = event && strncmp (event, "HANDSHAKE_FAILED", 16) == 0;
    free (event);
    if (handshake)
        zhive_zap_handshake_failed (self->zap, self->verbose, "workers", msg);
    else if (!self->probe_armed && zloop_timer (loop, 5, 1, s_on_probe, self) >= 0)
        self->probe_armed = true;
    zmsg_destroy (&msg);
    return 0;
}

//  ---------------------------------------------------------------------
//  Pipe commands: one table

//  One decoded argument
typedef union {
    uint32_t u4;    //  Picture 4
    uint64_t u8;    //  Picture 8
    char *s;        //  Picture s
    zmsg_t *m;      //  Picture m: the remaining frames
} s_arg_t;

typedef void (s_handler_fn) (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc);

typedef struct {
    const char *name;         //  Command name, the first frame
    const char *picture;      //  Its frames after the name (the serial first, if answered)
    bool answered;            //  Carries a serial and gets [serial, status, value]
    s_handler_fn *handler;    //  What the actor does
} s_command_t;

//  A whole decimal number of at most max from a frame (as zsock_send
//  encodes 4 and 8); -1 if it is not one
static int
s_decode_number (zframe_t *frame, uint64_t max, uint64_t *value)
{
    char *text = frame ? zframe_strdup (frame) : NULL;
    char *end = NULL;
    errno = 0;
    *value = text && *text ? strtoull (text, &end, 10) : 0;
    int rc = text && *text && !*end && !errno && *value <= max ? 0 : -1;
    free (text);
    return rc;
}

//  Decode frames by picture (4, 8, s, m) as zsock_recv would, but from a
//  message already read (its first frame, the name, tells the picture);
//  -1 if they do not match
static int
s_decode (zmsg_t *msg, const char *picture, s_arg_t *args)
{
    int rc = 0;
    for (size_t i = 0; picture [i]; i++) {
        args [i].u8 = 0;
        if (picture [i] == 'm') {
            args [i].m = zmsg_new ();
            zframe_t *frame;
            while (args [i].m && (frame = zmsg_pop (msg)))
                zmsg_append (args [i].m, &frame);
            continue;
        }
        zframe_t *frame = zmsg_pop (msg);
        uint64_t number = 0;
        if (picture [i] == '4' && s_decode_number (frame, UINT32_MAX, &number) == 0)
            args [i].u4 = (uint32_t) number;
        else if (picture [i] == '8' && s_decode_number (frame, UINT64_MAX, &args [i].u8) == 0)
            ;
        else if (picture [i] == 's' && frame)
            args [i].s = zframe_strdup (frame);
        else
            rc = -1;
        zframe_destroy (&frame);
    }
    return rc;
}

static void
s_args_free (const char *picture, s_arg_t *args)
{
    for (size_t i = 0; picture [i]; i++) {
        if (picture [i] == 's')
            zstr_free (&args [i].s);
        else if (picture [i] == 'm')
            zmsg_destroy (&args [i].m);
    }
}

//  Heartbeat settings go to both sockets (for endpoints bound after
//  them), the pool's grace and the heartbeat timer
static void
s_set_heartbeat (s_server_t *self, int interval_ms, int liveness)
{
    zhive_heartbeat_clamp (&interval_ms, &liveness);
    self->heartbeat_ms = interval_ms;
    self->liveness = liveness;
    zhive_socket_set_heartbeat (zhive_broker_peers_clients (self->peers), interval_ms, liveness);
    zhive_socket_set_heartbeat (zhive_broker_peers_workers (self->peers), interval_ms, liveness);
    zhive_pool_set_grace (self->pool, zhive_grace_ms (interval_ms, liveness));
    zhive_broker_peers_set_expiry (self->peers, (int64_t) interval_ms * liveness);
    if (self->heartbeat_timer >= 0)
        zloop_timer_end (self->loop, self->heartbeat_timer);
    self->heartbeat_timer =
        zloop_timer (self->loop, (size_t) self->heartbeat_ms, 0, s_on_heartbeat, self);
}

static void
s_cmd_verbose (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    self->verbose = args [0].u4 != 0;
    zhive_broker_peers_set_verbose (self->peers, self->verbose);
    zhive_procs_set_verbose (self->procs, self->verbose);
}

static void
s_cmd_worker_program (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    free (self->worker_program);
    self->worker_program = args [0].s;
    args [0].s = NULL;
}

static void
s_cmd_heartbeat (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    s_set_heartbeat (self, (int) args [0].u4, (int) args [1].u4);
}

static void
s_cmd_max_queue (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    zhive_pool_set_max_queue (self->pool, (size_t) args [0].u8, (size_t) args [1].u8);
}

static void
s_cmd_max_per_client (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    zhive_pool_set_max_per_client (self->pool, (size_t) args [0].u8);
}

static void
s_cmd_max_bytes (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    zhive_pool_set_max_bytes (self->pool, args [0].u8);
}

static void
s_cmd_max_retries (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    zhive_pool_set_retries (self->pool, (int32_t) args [0].u4);
}

static void
s_cmd_unoffered (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    zhive_pool_set_unoffered (self->pool, (int64_t) args [0].u4);
}

static void
s_cmd_prefetch (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    zhive_pool_set_prefetch (self->pool, (int64_t) args [0].u4 * 1000);
}

static void
s_cmd_worker_max_tasks (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    self->worker_max_tasks = args [0].u8;
}

static void
s_cmd_start_method (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    self->use_zygote = streq (args [0].s, "zygote");
}

static void
s_cmd_drain (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) value, (void) size, (void) rc;
    int timeout_ms = (int32_t) args [0].u4;
    if (zhive_pool_drain_state (self->pool, zhive_clock_us ()) || self->drain_ms)
        return;
    self->drain_ms = timeout_ms < 0 ? S_DRAIN_MS : timeout_ms;
    zhive_pool_drain (self->pool, zhive_clock_us (), self->drain_ms);
    zhive_log_warning ("draining: %zu task(s) in flight, %zu queued; stopping within %d ms",
                       zhive_pool_unanswered (self->pool) - zhive_pool_waiting (self->pool),
                       zhive_pool_waiting (self->pool), self->drain_ms);
}

//  BIND clients|workers endpoint: the resolved endpoint
static void
s_cmd_bind (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    bool clients = streq (args [0].s, "clients");
    const char *endpoint = args [1].s;
    zsock_t *sock = clients ? zhive_broker_peers_clients (self->peers)
                            : zhive_broker_peers_workers (self->peers);
    if (!*endpoint || zsock_bind (sock, "%s", endpoint) < 0) {
        snprintf (value, size, "cannot bind %s to %s: %s", clients ? "clients" : "workers",
                  *endpoint ? endpoint : "(none)",
                  *endpoint ? zmq_strerror (errno) : "no endpoint");
        *rc = -1;
        return;
    }
    char *resolved = zsock_last_endpoint (sock);
    snprintf (value, size, "%s", resolved ? resolved : endpoint);
    if (!clients) {
        free (self->worker_endpoint);
        self->worker_endpoint = strdup (value);
    }
    S_LOG (self, "%s bound to %s", clients ? "clients" : "workers", value);
    free (resolved);
}

//  START-WORKERS count concurrency [load ...]
static void
s_cmd_start_workers (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    size_t count = zmsg_size (args [2].m);
    const char **loads = (const char **) calloc (count + 1, sizeof (char *));
    char **owned = (char **) calloc (count + 1, sizeof (char *));
    bool copied = loads && owned;
    zframe_t *frame = zmsg_first (args [2].m);
    for (size_t i = 0; copied && frame; i++, frame = zmsg_next (args [2].m))
        if (!(loads [i] = owned [i] = zframe_strdup (frame)))
            copied = false;    //  A short list would start workers without a plugin
    zhive_procs_options_t options = {
        self->worker_program,
        self->worker_endpoint,
        loads,
        (int32_t) args [1].u4,
        self->heartbeat_ms,
        self->liveness,
        self->worker_max_tasks,
        self->use_zygote,
        self->zap ? zhive_zap_secret_path (self->zap) : NULL,
    };
    if (!copied) {
        snprintf (value, size, "out of memory");
        *rc = -1;
    }
    else
        *rc = zhive_procs_start (self->procs, (int32_t) args [0].u4, &options, value, size);
    for (size_t i = 0; owned && i < count; i++)
        free (owned [i]);
    free (owned);
    free (loads);
}

static void
s_cmd_workers_ready (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) args, (void) rc;
    snprintf (value, size, "%zu", zhive_pool_workers (self->pool));
}

//  CURVE secret-path allow-dir ("" for none)
static void
s_cmd_curve (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    *rc = -1;
    zsock_t *client_sock = zhive_broker_peers_clients (self->peers);
    char *bound = zsock_last_endpoint (client_sock);
    bool is_bound = (bound && *bound) || self->worker_endpoint;
    free (bound);
    if (self->zap)
        snprintf (value, size, "CURVE is set already");
    else if (is_bound)
        snprintf (value, size, "set CURVE before binding the broker's endpoints");
    else {
        self->zap = zhive_zap_new (self->loop, client_sock, args [0].s,
                                   *args [1].s ? args [1].s : NULL, self->verbose, value, size);
        if (self->zap) {
            zhive_zap_apply (self->zap, client_sock);
            zhive_zap_apply (self->zap, zhive_broker_peers_workers (self->peers));
            *value = 0;
            *rc = 0;
        }
    }
}

static void
s_cmd_curve_reload (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    (void) args;
    if (!self->zap) {
        snprintf (value, size, "CURVE is off: nothing to reload");
        *rc = -1;
        return;
    }
    char error [512] = "";
    int count = zhive_zap_reload (self->zap, error, sizeof error);
    if (count < 0)
        snprintf (value, size, "%s", error);
    else
        snprintf (value, size, "%d", count);
    *rc = count < 0 ? -1 : 0;
}

//  HTTP address token: serve /metrics and /api/status; the endpoint
static void
s_cmd_http (s_server_t *self, s_arg_t *args, char *value, size_t size, int *rc)
{
    zsock_t *client_sock = zhive_broker_peers_clients (self->peers);
    char *bound = zsock_last_endpoint (client_sock);
    bool is_bound = bound && *bound;
    free (bound);
    *rc = -1;
    if (self->web)
        snprintf (value, size, "the HTTP server is set already");
    else if (is_bound)
        snprintf (value, size, "set HTTP before binding the client endpoint");
    else if ((self->web = zhive_metrics_server_new (self->loop, self->pool, client_sock, args [0].s,
                                                    args [1].s, value, size))) {
        snprintf (value, size, "%s", zhive_metrics_server_endpoint (self->web));
        S_LOG (self, "metrics served at %s/metrics", value);
        *rc = 0;
    }
}

static const s_command_t s_commands [] = {
    { ZHIVE_BROKER_VERBOSE, false, s_cmd_verbose },
    { ZHIVE_BROKER_WORKER_PROGRAM, false, s_cmd_worker_program },
    { ZHIVE_BROKER_HEARTBEAT, false, s_cmd_heartbeat },
    { ZHIVE_BROKER_MAX_QUEUE, false, s_cmd_max_queue },
    { ZHIVE_BROKER_MAX_PER_CLIENT, false, s_cmd_max_per_client },
    { ZHIVE_BROKER_MAX_BYTES, false, s_cmd_max_bytes },
    { ZHIVE_BROKER_MAX_RETRIES, false, s_cmd_max_retries },
    { ZHIVE_BROKER_PREFETCH, false, s_cmd_prefetch },
    { ZHIVE_BROKER_UNOFFERED, false, s_cmd_unoffered },
    { ZHIVE_BROKER_WORKER_MAX_TASKS, false, s_cmd_worker_max_tasks },
    { ZHIVE_BROKER_START_METHOD, false, s_cmd_start_method },
    { ZHIVE_BROKER_DRAIN, false, s_cmd_drain },
    { ZHIVE_BROKER_BIND, true, s_cmd_bind },
    { ZHIVE_BROKER_START_WORKERS, true, s_cmd_start_workers },
    { ZHIVE_BROKER_WORKERS_READY, true, s_cmd_workers_ready },
    { ZHIVE_BROKER_CURVE, true, s_cmd_curve },
    { ZHIVE_BROKER_CURVE_RELOAD, true, s_cmd_curve_reload },
    { ZHIVE_BROKER_HTTP, true, s_cmd_http },
};
#define S_COMMANDS (sizeof s_commands / sizeof s_commands [0])

static const s_command_t *
s_command (const char *name)
{
    for (size_t i = 0; name && i < S_COMMANDS; i++) {
        if (streq (s_commands [i].name, name))
            return &s_commands [i];
    }
    return NULL;
}

//  Reply [serial, status, value] to an answered command
static void
s_reply (zsock_t *pipe, uint32_t serial, int rc, const char *value)
{
    zsock_send (pipe, "44s", serial, (uint32_t) (rc ? 1 : 0), value);
}

static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    s_server_t *self = (s_server_t *) arg;
    zmsg_t *msg = zmsg_recv (pipe);
    if (!msg)
        return 0;
    char *name = zmsg_popstr (msg);
    const s_command_t *command = s_command (name);
    if (!name || streq (name, "$TERM"))
        self->terminated = true;
    else if (command) {
        s_arg_t serial = { 0 };
        const char *picture = command->picture;
        if (command->answered && s_decode (msg, "4", &serial) == 0)
            picture++;                              //  The serial: first, answered apart
        assert (strlen (picture) <= S_ARGS_MAX);    //  The table is ours
        s_arg_t args [S_ARGS_MAX];
        char value [512] = "";
        int rc = 0;
        if (s_decode (msg, picture, args) == 0)
            command->handler (self, args, value, sizeof value, &rc);
        else {
            snprintf (value, sizeof value, "malformed %s command", name);
            rc = -1;
        }
        s_args_free (picture, args);
        if (command->answered)
            s_reply (self->pipe, serial.u4, rc, value);
    }
    else
        zhive_log_error ("unknown pipe command '%s'", name);
    free (name);
    zmsg_destroy (&msg);
    if (self->terminated)
        return -1;
    return s_drain_check (self);
}

//  ---------------------------------------------------------------------
//  The actor

//  While stopping: end the loop once the local workers are gone
static int
s_on_stopping (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    return zhive_procs_stopped (((s_server_t *) arg)->procs) ? -1 : 0;
}

//  Answer what is left, then stop the local workers from a timer (no wait)
static void
s_stop (s_server_t *self)
{
    char message [128];
    if (self->drained)
        snprintf (message, sizeof message,
                  "the broker's drain time of %d ms ran out before the task finished",
                  self->drain_ms);
    else
        snprintf (message, sizeof message, "the broker stopped before the task finished");
    zhive_pool_shutdown (self->pool, message);
    zhive_procs_stop (self->procs);
    if (zhive_procs_stopped (self->procs))
        return;
    zloop_t *loop = zloop_new ();
    if (loop && zloop_timer (loop, 10, 0, s_on_stopping, self) >= 0) {
        while (zloop_start (loop) == 0 && zmq_errno () != ETERM)
            ;    //  0: interrupted by a signal; -1: the timer ended it
    }
    zloop_destroy (&loop);
}

static void
s_server_destroy (s_server_t **self_p)
{
    s_server_t *self = *self_p;
    if (!self)
        return;
    zhive_metrics_server_destroy (&self->web);    //  Before the client socket it monitors
    zhive_procs_destroy (&self->procs);
    zactor_destroy (&self->monitor);              //  Before its socket
    zhive_zap_stop_monitor (self->zap);           //  Before its socket
    zhive_broker_peers_destroy (&self->peers);    //  The pool and the sockets
    zhive_zap_destroy (&self->zap);               //  After the sockets: the ZAP handler
    zloop_destroy (&self->loop);
    free (self->worker_endpoint);
    free (self->worker_program);
    free (self);
    *self_p = NULL;
}

//  Report disconnects of the worker socket on a pipe the loop reads
static int
s_monitor_start (s_server_t *self)
{
    self->monitor = zactor_new (zmonitor, zhive_broker_peers_workers (self->peers));
    if (!self->monitor)
        return -1;
    zstr_sendx (self->monitor, "LISTEN", "DISCONNECTED", "HANDSHAKE_FAILED_PROTOCOL",
                "HANDSHAKE_FAILED_NO_DETAIL", NULL);
    zstr_sendx (self->monitor, "START", NULL);
    zsock_wait (self->monitor);
    return zloop_reader (self->loop, zactor_sock (self->monitor), s_on_monitor, self);
}

static s_server_t *
s_server_new (zsock_t *pipe)
{
    s_server_t *self = (s_server_t *) calloc (1, sizeof (s_server_t));
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->heartbeat_timer = -1;
    self->loop = zloop_new ();
    self->procs = self->loop ? zhive_procs_new (self->loop) : NULL;
    self->peers = self->procs ? zhive_broker_peers_new (self->procs) : NULL;
    if (!self->peers) {
        s_server_destroy (&self);
        return NULL;
    }
    self->pool = zhive_broker_peers_pool (self->peers);
    zloop_set_nonstop (self->loop, true);
    s_set_heartbeat (self, ZHIVE_HEARTBEAT_MS, ZHIVE_LIVENESS);
    if (self->heartbeat_timer < 0 || zloop_reader (self->loop, pipe, s_on_pipe, self) ||
        zloop_reader (self->loop, zhive_broker_peers_clients (self->peers),
                      zhive_broker_peers_on_clients, self->peers) ||
        zloop_reader (self->loop, zhive_broker_peers_workers (self->peers),
                      zhive_broker_peers_on_workers, self->peers) ||
        zloop_timer (self->loop, S_TICK_MS, 0, s_on_tick, self) < 0 || s_monitor_start (self)) {
        s_server_destroy (&self);
        return NULL;
    }
    S_LOG (self, "incarnation %08x", zhive_pool_incarnation (self->pool));
    return self;
}

//  Answer commands with errors until $TERM (the broker has stopped, or
//  never started). stopped: signal ZHIVE_BROKER_STOPPED_SIGNAL again after each
//  request, in case the request's caller took the first one.
static void
s_refuse_until_term (zsock_t *pipe, const char *why, bool stopped)
{
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        char *name = zmsg_popstr (msg);
        const s_command_t *command = s_command (name);
        bool term = !name || streq (name, "$TERM");
        s_arg_t serial;
        if (command && command->answered && s_decode (msg, "4", &serial) == 0) {
            s_reply (pipe, serial.u4, -1, why);
            if (stopped)
                zsock_signal (pipe, ZHIVE_BROKER_STOPPED_SIGNAL);
        }
        free (name);
        zmsg_destroy (&msg);
        if (term)
            break;
    }
}

void
zhive_broker_actor_run (zsock_t *pipe, void *args)
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

    s_server_t *self = s_server_new (pipe);
    zsock_signal (pipe, 0);
    if (!self) {
        zhive_log_error ("zhive-broker: cannot start: out of memory or sockets");
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
    s_stop (self);
    s_server_destroy (&self);
    if (drained) {
        zsock_signal (pipe, ZHIVE_BROKER_STOPPED_SIGNAL);
        s_refuse_until_term (pipe, "the broker has stopped after a drain", true);
    }
}

//  ---------------------------------------------------------------------
//  Decode a reply to an answered command

int
zhive_broker_actor_reply (zmsg_t *msg, uint32_t *serial, int *status, char **value)
{
    s_arg_t fields [3];
    if (s_decode (msg, "44s", fields)) {
        s_args_free ("44s", fields);
        return -1;
    }
    *serial = fields [0].u4;
    *status = fields [1].u4 == 0 ? 0 : -1;
    *value = fields [2].s;
    return 0;
}
