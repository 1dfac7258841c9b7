/*  =========================================================================
    zhive_broker - the pool manager: the actor around the pool model

    The API below talks to an actor (one thread, one zloop) over its pipe.
    Every pipe command is in one table (s_commands): its name, the czmq
    picture of its arguments (zsock_send / zsock_recv types: 4 and 8 are
    binary integers, s a string, m the remaining frames), and whether it
    is answered; answered ones carry a serial first and get [serial 4,
    status 4 (0 OK), value s]. $TERM stops the actor.

    Inside the actor, one zloop runs: the pipe, the client and worker
    ROUTERs, the worker socket's disconnect monitor, a tick for deadlines
    and local workers, and the heartbeat timer. The actor decodes each
    wire message into an event of the pool model (zhive_pool), and the
    pool acts through the operations below, which send. Local worker
    processes are zhive_procs, CURVE is zhive_zap: the actor connects them
    to the pool (a READY from this host tells procs; an exit of a local
    process tells the pool; the pool's kill op asks procs).

    Both ROUTERs have finite high-water marks and ROUTER_MANDATORY: a send
    to a client that fails (EAGAIN: its pipe is full; EHOSTUNREACH: gone)
    leaves the answer with the pool's kept store; a TASK that finds the
    worker's pipe full goes back to the head of its queue; EHOSTUNREACH
    loses the worker.

    A drain refuses new tasks and ends the loop once every accepted task is
    answered or the drain time is up; the actor then answers what is left
    with BrokerShutdown, stops its local workers (driven by a timer, never
    a wait), signals its pipe (status 1) and waits for $TERM.
    =========================================================================
*/
#include "zhive_broker.h"
#include "zhive_clock.h"
#include "zhive_log.h"
#include "zhive_pool.h"
#include "zhive_procs.h"
#include "zhive_proto.h"
#include "zhive_result.h"
#include "zhive_socket.h"
#include "zhive_zap.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

#define S_TICK_MS        50       //  Deadlines and local workers are checked this often
#define S_BURST          256      //  Most messages read from one socket per wakeup
#define S_DRAIN_MS       10000    //  Default drain time
#define S_REPLY_MS       5000     //  How long an API call waits for the actor
#define S_STOPPED_SIGNAL 1        //  Pipe signal status: the broker stopped after a drain
#define S_ARGS_MAX       4        //  Most arguments of a pipe command

//  Debug lines only in verbose mode
#define S_LOG(self, ...)                                                                           \
    do {                                                                                           \
        if ((self)->verbose)                                                                       \
            zhive_log_debug (__VA_ARGS__);                                                         \
    } while (0)

typedef struct {
    zsock_t *pipe;                //  Pipe to the API (zhive_broker_t)
    zloop_t *loop;                //  The one event loop
    zsock_t *client_sock;         //  ROUTER for clients
    zsock_t *worker_sock;         //  ROUTER for workers
    zactor_t *monitor;            //  Disconnects and failed handshakes of the worker socket
    char *worker_endpoint;        //  Resolved worker endpoint, for local workers
    zhive_proto_t *in;            //  Message being read
    zhive_proto_t *out;           //  Message being sent
    zhive_pack_t *pack;           //  Buffer for STATUS_REPLY maps
    zhive_pool_t *pool;           //  The pool model
    zhive_procs_t *procs;         //  Local worker processes
    zhive_zap_t *zap;             //  CURVE security, or NULL
    int64_t now;                  //  Monotonic µs, read once per burst of messages or timer
    int heartbeat_ms;             //  Heartbeat interval
    int liveness;                 //  Silent intervals before a peer is dead
    int heartbeat_timer;          //  zloop timer id of the heartbeat
    bool probe_armed;             //  A probe of every worker is due (a connection closed)
    char *worker_program;         //  Program set by the API, NULL for the default
    uint64_t worker_max_tasks;    //  --max-tasks for local workers, 0 = none
    bool use_zygote;              //  Start local workers through a zygote
    char hostname [256];          //  This host, to know READY from local workers
    bool verbose;                 //  Log joins, losses and bad input
    bool terminated;              //  $TERM received
    int drain_ms;                 //  The drain time asked for
    bool drained;                 //  Stopped on its own after a drain
    zlistx_t *gone;               //  Peers found unreachable by a probe
} s_server_t;

//  A random non-zero incarnation
static uint32_t
s_random_incarnation (void *arg)
{
    (void) arg;
    uint32_t value = 0;
    int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (value == 0) {
        if (fd < 0 || read (fd, &value, sizeof value) != (ssize_t) sizeof value) {
            zuuid_t *uuid = zuuid_new ();
            if (uuid)
                memcpy (&value, zuuid_data (uuid), sizeof value);
            zuuid_destroy (&uuid);
            value = value ? value : (uint32_t) zhive_clock_us () | 1;
        }
    }
    if (fd >= 0)
        close (fd);
    return value;
}

//  ---------------------------------------------------------------------
//  Sending, and the pool's operations

//  Address self->out to a peer, with a command
static zhive_proto_t *
s_out (s_server_t *self, const zhive_peer_t *peer, int command)
{
    zhive_proto_t *out = self->out;
    memcpy (out->routing, peer->id, peer->size);
    out->routing_size = peer->size;
    out->command = command;
    return out;
}

//  Send self->out: 0, or -1 with errno (EAGAIN: pipe full; EHOSTUNREACH: gone)
static int
s_send (s_server_t *self, zsock_t *sock)
{
    int rc = zhive_proto_send (self->out, sock);
    if (rc) {
        int error = errno;
        zhive_proto_clear_payload (self->out);
        errno = error;
    }
    return rc;
}

static zhive_pool_send_t
s_op_send_task (void *arg, const zhive_peer_t *worker, uint64_t ticket, const char *function,
                int64_t timeout_ms, uint32_t chunk, zmq_msg_t *args)
{
    s_server_t *self = (s_server_t *) arg;
    zhive_proto_t *out = s_out (self, worker, ZHIVE_TASK);
    out->id = ticket;
    zhive_proto_set_name (out->function, function);
    out->timeout_ms = timeout_ms;
    out->chunk = chunk;
    zhive_proto_move_payload (out, args);
    if (s_send (self, self->worker_sock) == 0)
        return ZHIVE_POOL_SENT;
    return errno == EAGAIN ? ZHIVE_POOL_FULL : ZHIVE_POOL_GONE;
}

static bool
s_op_answer (void *arg, const zhive_peer_t *client, uint64_t id, zmq_msg_t *value, const char *type,
             const char *message, const char *worker)
{
    s_server_t *self = (s_server_t *) arg;
    zhive_proto_t *out = s_out (self, client, value ? ZHIVE_RESULT : ZHIVE_ERROR);
    out->id = id;
    if (value)
        zhive_proto_move_payload (out, value);
    else {
        zhive_proto_set_name (out->type, type);
        zhive_proto_set_message (out, message);
        zhive_proto_set_name (out->worker, worker);
    }
    return s_send (self, self->client_sock) == 0;
}

static void
s_op_cancel (void *arg, const zhive_peer_t *worker, uint64_t ticket)
{
    s_server_t *self = (s_server_t *) arg;
    s_out (self, worker, ZHIVE_CANCEL)->id = ticket;
    s_send (self, self->worker_sock);
}

static int
s_op_kill (void *arg, uint64_t pid, const char *why)
{
    return zhive_procs_kill (((s_server_t *) arg)->procs, pid, why);
}

static void
s_op_welcome (void *arg, const zhive_peer_t *worker, uint32_t incarnation)
{
    s_server_t *self = (s_server_t *) arg;
    s_out (self, worker, ZHIVE_WELCOME)->id = incarnation;
    s_send (self, self->worker_sock);
}

static const zhive_pool_ops_t s_ops = { s_op_send_task, s_op_answer,  s_op_cancel,
                                        s_op_kill,      s_op_welcome, s_random_incarnation };

//  ---------------------------------------------------------------------
//  Clients

static void
s_client_malformed (s_server_t *self, const zhive_peer_t *peer, const char *why)
{
    S_LOG (self, "malformed message from a client: %s", why);
    s_op_answer (self, peer, 0, NULL, ZHIVE_ERR_MALFORMED, why, "");
}

static void
s_client_message (s_server_t *self, const zhive_peer_t *peer)
{
    zhive_proto_t *in = self->in;
    switch (in->command) {
        case ZHIVE_PING:
            s_out (self, peer, ZHIVE_PONG);
            s_send (self, self->client_sock);
            break;
        case ZHIVE_HEARTBEAT: break;
        case ZHIVE_SUBMIT:
            zhive_pool_submit (self->pool, self->now, peer, in->id, in->function, &in->payload,
                               in->timeout_ms, in->retries, in->chunk);
            zhive_proto_clear_payload (in);
            break;
        case ZHIVE_CANCEL: zhive_pool_cancel (self->pool, self->now, peer, in->id); break;
        case ZHIVE_STATUS: {
            zhive_pool_status (self->pool, self->pack);
            zhive_proto_t *out = s_out (self, peer, ZHIVE_STATUS_REPLY);
            out->id = in->id;
            if (zhive_proto_set_payload (out, zhive_pack_data (self->pack),
                                         zhive_pack_size (self->pack)) == 0)
                s_send (self, self->client_sock);
            break;
        }
        case ZHIVE_BYE: zhive_pool_client_gone (self->pool, self->now, peer); break;
        default: {
            char why [64];
            snprintf (why, sizeof why, "%s is not a command a client sends",
                      zhive_proto_command_name (in->command));
            s_client_malformed (self, peer, why);
            break;
        }
    }
}

//  ---------------------------------------------------------------------
//  Workers

//  True if the host named in READY is this one
static bool
s_host_is_local (s_server_t *self, const char *host)
{
    if (streq (host, self->hostname))
        return true;
    size_t size = strcspn (self->hostname, ".");
    return strncmp (host, self->hostname, size) == 0 && (host [size] == 0 || host [size] == '.');
}

static void
s_worker_malformed (s_server_t *self, const zhive_peer_t *peer, const char *why)
{
    S_LOG (self, "malformed message from a worker: %s", why);
    zhive_proto_set_message (s_out (self, peer, ZHIVE_BYE), why);
    s_send (self, self->worker_sock);
    char reason [160];
    snprintf (reason, sizeof reason, "malformed message: %s", why);
    zhive_pool_worker_lost (self->pool, self->now, peer, reason);
}

static void
s_worker_ready (s_server_t *self, const zhive_peer_t *peer)
{
    zhive_proto_t *in = self->in;
    bool local = s_host_is_local (self, in->host);
    zhive_pool_ready_t ready = {
        in->worker,          in->host,      in->pid,
        in->concurrency,     in->max_tasks, (const char *const *) in->functions,
        in->functions_count, local
    };
    if (local)
        zhive_procs_ready (self->procs, in->pid, zhive_clock_ms ());
    zhive_pool_worker_ready (self->pool, self->now, peer, &ready);
}

static void
s_worker_message (s_server_t *self, const zhive_peer_t *peer)
{
    zhive_proto_t *in = self->in;
    switch (in->command) {
        case ZHIVE_PING:
            s_out (self, peer, ZHIVE_PONG);
            s_send (self, self->worker_sock);
            break;
        case ZHIVE_PONG:
        case ZHIVE_HEARTBEAT: break;
        case ZHIVE_READY: s_worker_ready (self, peer); break;
        case ZHIVE_DONE:
            zhive_pool_worker_done (self->pool, self->now, peer, in->id, &in->payload);
            zhive_proto_clear_payload (in);
            break;
        case ZHIVE_FAILED:
            zhive_pool_worker_failed (self->pool, self->now, peer, in->id, in->type,
                                      in->message ? in->message : "");
            break;
        case ZHIVE_DRAINING: zhive_pool_worker_draining (self->pool, self->now, peer); break;
        case ZHIVE_BYE: {
            char why [160];
            snprintf (why, sizeof why, "it said BYE: %.120s", in->message ? in->message : "");
            zhive_pool_worker_lost (self->pool, self->now, peer, why);
            break;
        }
        default: {
            char why [64];
            snprintf (why, sizeof why, "%s is not a command a worker sends",
                      zhive_proto_command_name (in->command));
            s_worker_malformed (self, peer, why);
            break;
        }
    }
}

//  Read a burst of messages from a socket
static void
s_read (s_server_t *self, zsock_t *sock, void (*on_message) (s_server_t *, const zhive_peer_t *),
        void (*on_malformed) (s_server_t *, const zhive_peer_t *, const char *))
{
    self->now = zhive_clock_us ();
    zhive_peer_t peer;
    for (int count = 0; count < S_BURST; count++) {
        int rc = zhive_proto_recv (self->in, sock, ZMQ_DONTWAIT);
        if (rc == -1)
            break;
        zhive_peer_set (&peer, self->in->routing, self->in->routing_size);
        if (rc == -2)
            on_malformed (self, &peer, self->in->error);
        else
            on_message (self, &peer);
    }
}

static int
s_on_clients (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    s_read ((s_server_t *) arg, sock, s_client_message, s_client_malformed);
    return 0;
}

static int
s_on_workers (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    s_read ((s_server_t *) arg, sock, s_worker_message, s_worker_malformed);
    return 0;
}

//  ---------------------------------------------------------------------
//  Heartbeats, timers and the monitor

//  HEARTBEAT one worker; note it if it is gone
static void
s_probe_one (const zhive_peer_t *peer, void *arg)
{
    s_server_t *self = (s_server_t *) arg;
    s_out (self, peer, ZHIVE_HEARTBEAT);
    if (s_send (self, self->worker_sock) && errno == EHOSTUNREACH) {
        zhive_peer_t *copy = (zhive_peer_t *) malloc (sizeof (zhive_peer_t));
        if (copy) {
            *copy = *peer;
            zlistx_add_end (self->gone, copy);
        }
    }
}

//  HEARTBEAT every worker; lose those whose connection is gone
static void
s_workers_probe (s_server_t *self)
{
    self->now = zhive_clock_us ();
    zhive_pool_each_worker (self->pool, s_probe_one, self);
    zhive_peer_t *peer;
    while ((peer = (zhive_peer_t *) zlistx_detach (self->gone, NULL))) {
        zhive_pool_worker_lost (self->pool, self->now, peer, "its connection closed");
        free (peer);
    }
}

static void
s_heartbeat_client (const zhive_peer_t *peer, void *arg)
{
    s_server_t *self = (s_server_t *) arg;
    s_out (self, peer, ZHIVE_HEARTBEAT);
    s_send (self, self->client_sock);
}

static int
s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_server_t *self = (s_server_t *) arg;
    s_workers_probe (self);
    //  Clients waiting for answers hear from us even while their tasks run
    zhive_pool_each_waiting_client (self->pool, s_heartbeat_client, self);
    zhive_pool_prune (self->pool);
    return 0;
}

static int
s_on_probe (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_server_t *self = (s_server_t *) arg;
    self->probe_armed = false;
    s_workers_probe (self);
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
    self->now = zhive_clock_us ();
    zhive_procs_exit_t exit;
    while (zhive_procs_next_exit (self->procs, &exit))
        zhive_pool_local_exited (self->pool, self->now, exit.pid, exit.why);
    zhive_pool_tick (self->pool, self->now);
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
    const char *picture;      //  Its arguments (after the serial, if answered)
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
    zhive_socket_set_heartbeat (self->client_sock, interval_ms, liveness);
    zhive_socket_set_heartbeat (self->worker_sock, interval_ms, liveness);
    zhive_pool_set_grace (self->pool, zhive_grace_ms (interval_ms, liveness));
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
    zhive_pool_set_verbose (self->pool, self->verbose);
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
    zsock_t *sock = clients ? self->client_sock : self->worker_sock;
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
    zframe_t *frame = zmsg_first (args [2].m);
    for (size_t i = 0; loads && owned && frame; i++, frame = zmsg_next (args [2].m))
        loads [i] = owned [i] = zframe_strdup (frame);
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
    if (!loads || !owned) {
        snprintf (value, size, "out of memory");
        *rc = -1;
    }
    else
        *rc = zhive_procs_start (self->procs, (int32_t) args [0].u4, &options, value, size);
    for (size_t i = 0; owned && owned [i]; i++)
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
    char *bound = zsock_last_endpoint (self->client_sock);
    bool is_bound = (bound && *bound) || self->worker_endpoint;
    free (bound);
    if (self->zap)
        snprintf (value, size, "CURVE is set already");
    else if (is_bound)
        snprintf (value, size, "set CURVE before binding the broker's endpoints");
    else {
        self->zap = zhive_zap_new (self->loop, self->client_sock, args [0].s,
                                   *args [1].s ? args [1].s : NULL, self->verbose, value, size);
        if (self->zap) {
            zhive_zap_apply (self->zap, self->client_sock);
            zhive_zap_apply (self->zap, self->worker_sock);
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

static const s_command_t s_commands [] = {
    { "VERBOSE", "4", false, s_cmd_verbose },
    { "WORKER-PROGRAM", "s", false, s_cmd_worker_program },
    { "HEARTBEAT", "44", false, s_cmd_heartbeat },
    { "MAX-QUEUE", "88", false, s_cmd_max_queue },
    { "MAX-PER-CLIENT", "8", false, s_cmd_max_per_client },
    { "MAX-BYTES", "8", false, s_cmd_max_bytes },
    { "MAX-RETRIES", "4", false, s_cmd_max_retries },
    { "PREFETCH", "4", false, s_cmd_prefetch },
    { "WORKER-MAX-TASKS", "8", false, s_cmd_worker_max_tasks },
    { "START-METHOD", "s", false, s_cmd_start_method },
    { "DRAIN", "4", false, s_cmd_drain },
    { "BIND", "ss", true, s_cmd_bind },
    { "START-WORKERS", "44m", true, s_cmd_start_workers },
    { "WORKERS-READY", "", true, s_cmd_workers_ready },
    { "CURVE", "ss", true, s_cmd_curve },
    { "CURVE-RELOAD", "", true, s_cmd_curve_reload },
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
        if (command->answered)
            s_decode (msg, "4", &serial);
        s_arg_t args [S_ARGS_MAX];
        char value [512] = "";
        int rc = 0;
        if (s_decode (msg, command->picture, args) == 0)
            command->handler (self, args, value, sizeof value, &rc);
        else {
            snprintf (value, sizeof value, "malformed %s command", name);
            rc = -1;
        }
        s_args_free (command->picture, args);
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
    zhive_procs_destroy (&self->procs);
    zhive_pool_destroy (&self->pool);
    zactor_destroy (&self->monitor);
    zhive_zap_stop_monitor (self->zap);    //  Before its socket
    if (self->client_sock)
        zsock_set_linger (self->client_sock, 500);    //  Let the last errors go out
    zsock_destroy (&self->client_sock);
    zsock_destroy (&self->worker_sock);
    zhive_zap_destroy (&self->zap);    //  After the sockets: the ZAP handler
    zloop_destroy (&self->loop);
    zhive_proto_destroy (&self->in);
    zhive_proto_destroy (&self->out);
    zhive_pack_destroy (&self->pack);
    zlistx_destroy (&self->gone);
    free (self->worker_endpoint);
    free (self->worker_program);
    free (self);
    *self_p = NULL;
}

//  Report disconnects of the worker socket on a pipe the loop reads
static int
s_monitor_start (s_server_t *self)
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

static s_server_t *
s_server_new (zsock_t *pipe)
{
    s_server_t *self = (s_server_t *) calloc (1, sizeof (s_server_t));
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->heartbeat_timer = -1;
    self->now = zhive_clock_us ();
    if (gethostname (self->hostname, sizeof self->hostname - 1))
        snprintf (self->hostname, sizeof self->hostname, "localhost");
    self->loop = zloop_new ();
    self->client_sock = zsock_new (ZMQ_ROUTER);
    self->worker_sock = zsock_new (ZMQ_ROUTER);
    self->in = zhive_proto_new ();
    self->out = zhive_proto_new ();
    self->pack = zhive_pack_new ();
    self->gone = zlistx_new ();
    self->pool = zhive_pool_new (&s_ops, self, s_random_incarnation (NULL));
    self->procs = self->loop ? zhive_procs_new (self->loop) : NULL;
    if (!self->loop || !self->client_sock || !self->worker_sock || !self->in || !self->out ||
        !self->pack || !self->gone || !self->pool || !self->procs) {
        s_server_destroy (&self);
        return NULL;
    }
    zhive_pool_set_max_queue (self->pool, ZHIVE_POOL_MAX_WAITING, 0);
    //  Finite pipes, ROUTER_MANDATORY; a send never waits: a full pipe is EAGAIN
    zhive_socket_configure (self->client_sock, ZHIVE_SOCKET_BROKER_CLIENTS);
    zhive_socket_configure (self->worker_sock, ZHIVE_SOCKET_BROKER_WORKERS);
    zsock_set_sndtimeo (self->client_sock, 0);
    zsock_set_sndtimeo (self->worker_sock, 0);
    zloop_set_nonstop (self->loop, true);
    s_set_heartbeat (self, ZHIVE_HEARTBEAT_MS, ZHIVE_LIVENESS);
    if (self->heartbeat_timer < 0 || zloop_reader (self->loop, pipe, s_on_pipe, self) ||
        zloop_reader (self->loop, self->client_sock, s_on_clients, self) ||
        zloop_reader (self->loop, self->worker_sock, s_on_workers, self) ||
        zloop_timer (self->loop, S_TICK_MS, 0, s_on_tick, self) < 0 || s_monitor_start (self)) {
        s_server_destroy (&self);
        return NULL;
    }
    S_LOG (self, "incarnation %08x", zhive_pool_incarnation (self->pool));
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
        char *name = zmsg_popstr (msg);
        const s_command_t *command = s_command (name);
        bool term = !name || streq (name, "$TERM");
        s_arg_t serial;
        if (command && command->answered && s_decode (msg, "4", &serial) == 0) {
            s_reply (pipe, serial.u4, -1, why);
            if (stopped)
                zsock_signal (pipe, S_STOPPED_SIGNAL);
        }
        free (name);
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
    uint32_t serial;           //  Numbers requests so a late reply is not mistaken
};

zhive_broker_t *
zhive_broker_new (void)
{
    zhive_broker_t *self = (zhive_broker_t *) calloc (1, sizeof (zhive_broker_t));
    if (!self)
        return NULL;
    //  The broker's log (zhive_log, over zsys) goes to stderr, as its log
    //  always has; zsys's own default is stdout. A program that wants it
    //  elsewhere says so after this call (zsys_set_logstream, or
    //  zhive_log_set_handler before any zhive object is made).
    zsys_set_logstream (stderr);
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
    int64_t until = zhive_clock_ms () + timeout_ms;
    while (true) {
        int64_t left = until - zhive_clock_ms ();
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

//  Send an answered command with zsock_send's picture and arguments (the
//  name, then the serial, then its own: "s4..."), and return the reply's
//  status (0 OK, -1 ERROR or no answer) and value (caller frees)
static int
s_call (zhive_broker_t *self, uint32_t serial, char **value_p, const char *picture, ...)
{
    *value_p = NULL;
    zsock_t *pipe = zactor_sock (self->actor);
    va_list args;
    va_start (args, picture);
    int sent = zsock_vsend (pipe, picture, args);
    va_end (args);
    if (sent)
        return -1;
    int64_t until = zhive_clock_ms () + S_REPLY_MS;
    while (s_wait_readable (pipe, until - zhive_clock_ms ()) == 0) {
        zmsg_t *reply = zmsg_recv (pipe);
        if (!reply)
            break;
        if (zmsg_signal (reply) >= 0) {
            zmsg_destroy (&reply);    //  It stopped after a drain: no answer will come
            return -1;
        }
        s_arg_t fields [3];
        int rc = s_decode (reply, "44s", fields);
        zmsg_destroy (&reply);
        if (rc == 0 && fields [0].u4 == serial) {
            *value_p = fields [2].s;
            return fields [1].u4 == 0 ? 0 : -1;
        }
        s_args_free ("44s", fields);
    }
    return -1;
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
        int64_t until = zhive_clock_ms () + 2 * ZHIVE_PROCS_STOP_MS + S_REPLY_MS;
        while (s_wait_readable (pipe, until - zhive_clock_ms ()) == 0) {
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
    zsock_send (self->actor, "s4", "VERBOSE", (uint32_t) verbose);
}

static int
s_bind_call (zhive_broker_t *self, const char *which, const char *endpoint, char **resolved_p)
{
    char *value;
    uint32_t serial = ++self->serial;
    if (s_call (self, serial, &value, "s4ss", "BIND", serial, which, endpoint ? endpoint : "")) {
        zhive_log_error ("zhive-broker: %s", value ? value : "the broker does not answer");
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
    zsock_send (self->actor, "ss", "WORKER-PROGRAM", path ? path : "");    //  "": the default
}

int
zhive_broker_start_workers (zhive_broker_t *self, int count, const char *const *loads,
                            int concurrency)
{
    zmsg_t *frames = zmsg_new ();
    for (size_t i = 0; frames && loads && loads [i]; i++)
        zmsg_addstr (frames, loads [i]);
    char *value;
    uint32_t serial = ++self->serial;
    int rc = s_call (self, serial, &value, "s444m", "START-WORKERS", serial, (uint32_t) count,
                     (uint32_t) concurrency, frames);
    zmsg_destroy (&frames);
    if (rc)
        zhive_log_error ("zhive-broker: cannot start local workers: %s",
                         value ? value : "the broker does not answer");
    free (value);
    return rc;
}

void
zhive_broker_set_heartbeat (zhive_broker_t *self, int interval_ms, int liveness)
{
    zsock_send (self->actor, "s44", "HEARTBEAT", (uint32_t) interval_ms, (uint32_t) liveness);
}

void
zhive_broker_set_max_queue (zhive_broker_t *self, size_t total, size_t per_function)
{
    zsock_send (self->actor, "s88", "MAX-QUEUE", (uint64_t) total, (uint64_t) per_function);
}

void
zhive_broker_set_max_queue_per_client (zhive_broker_t *self, size_t max)
{
    zsock_send (self->actor, "s8", "MAX-PER-CLIENT", (uint64_t) max);
}

void
zhive_broker_set_max_queue_bytes (zhive_broker_t *self, uint64_t max)
{
    zsock_send (self->actor, "s8", "MAX-BYTES", max);
}

void
zhive_broker_set_max_retries (zhive_broker_t *self, int retries)
{
    zsock_send (self->actor, "s4", "MAX-RETRIES", (uint32_t) retries);
}

void
zhive_broker_set_prefetch (zhive_broker_t *self, int prefetch_ms)
{
    zsock_send (self->actor, "s4", "PREFETCH", (uint32_t) (prefetch_ms > 0 ? prefetch_ms : 0));
}

void
zhive_broker_set_worker_max_tasks (zhive_broker_t *self, uint64_t max_tasks)
{
    zsock_send (self->actor, "s8", "WORKER-MAX-TASKS", max_tasks);
}

int
zhive_broker_set_start_method (zhive_broker_t *self, const char *method)
{
    if (!method || (strcmp (method, "exec") && strcmp (method, "zygote"))) {
        errno = EINVAL;
        return -1;
    }
    zsock_send (self->actor, "ss", "START-METHOD", method);
    return 0;
}

void
zhive_broker_drain (zhive_broker_t *self, int timeout_ms)
{
    zsock_send (self->actor, "s4", "DRAIN", (uint32_t) timeout_ms);
}

int
zhive_broker_set_curve (zhive_broker_t *self, const char *secret_cert_path, const char *allow_dir)
{
    char *value;
    uint32_t serial = ++self->serial;
    int rc = s_call (self, serial, &value, "s4ss", "CURVE", serial,
                     secret_cert_path ? secret_cert_path : "", allow_dir ? allow_dir : "");
    if (rc)
        zhive_log_error ("zhive-broker: %s", value ? value : "the broker does not answer");
    free (value);
    return rc;
}

int
zhive_broker_reload_curve (zhive_broker_t *self)
{
    char *value;
    uint32_t serial = ++self->serial;
    int rc = s_call (self, serial, &value, "s4", "CURVE-RELOAD", serial);
    if (rc)
        zhive_log_error ("zhive-broker: %s", value ? value : "the broker does not answer");
    int count = rc == 0 && value ? atoi (value) : -1;
    free (value);
    return count;
}

int
zhive_broker_workers_ready (zhive_broker_t *self)
{
    char *value;
    uint32_t serial = ++self->serial;
    int rc = s_call (self, serial, &value, "s4", "WORKERS-READY", serial);
    int count = rc == 0 && value ? atoi (value) : -1;
    free (value);
    return count;
}

zactor_t *
zhive_broker_actor (zhive_broker_t *self)
{
    return self->actor;
}
