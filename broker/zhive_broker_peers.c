/*  =========================================================================
    zhive_broker_peers - the broker's two ROUTERs and the pool behind them

    Decodes what clients and workers send into events of the pool model,
    and implements the pool's operations with sends. Both ROUTERs have
    finite high-water marks and ROUTER_MANDATORY, and a send never waits:
    a send to a client that fails (EAGAIN: its pipe is full; EHOSTUNREACH:
    gone) reports the answer undelivered, so the pool keeps it for the
    client's resend; a TASK that finds the worker's pipe full goes back to
    the head of its queue; EHOSTUNREACH loses the worker. The HEARTBEAT the
    broker sends each interval is what finds closed worker connections.

    Calls go one way: the actor calls this class, this class calls the
    pool and the local process supervisor (a READY from this host, the
    kill of a local worker that overran a deadline).
    =========================================================================
*/
#include "zhive_broker_peers.h"
#include "zhive_clock.h"
#include "zhive_log.h"
#include "zhive_proto.h"
#include "zhive_result.h"
#include "zhive_socket.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

#define S_BURST 256    //  Most messages read from one socket per wakeup

//  Debug lines only in verbose mode
#define S_LOG(self, ...) zhive_log_verbose ((self)->verbose, __VA_ARGS__)

struct _zhive_broker_peers_t {
    zsock_t *client_sock;     //  ROUTER for clients
    zsock_t *worker_sock;     //  ROUTER for workers
    zhive_proto_t *in;        //  Message being read
    zhive_proto_t *out;       //  Message being sent
    zhive_pack_t *pack;       //  Buffer for STATUS_REPLY maps
    zhive_pool_t *pool;       //  The pool model
    zhive_procs_t *procs;     //  Local worker processes (borrowed)
    int64_t now;              //  Monotonic µs, read once per burst of messages
    char hostname [256];      //  This host, to know READY from local workers
    bool verbose;             //  Log bad input
    zlistx_t *gone;           //  Workers found unreachable by a probe
    zhashx_t *away;           //  Peer key -> s_away_t: clients with tasks, unreachable
    zlistx_t *unreachable;    //  Clients with tasks a heartbeat found unreachable
    int64_t expiry_us;        //  How long a client may be away before it is gone
};

//  A client with unanswered tasks whose connection is gone, since when
typedef struct {
    zhive_peer_t peer;    //  Its routing id
    int64_t since;        //  First found unreachable (µs)
} s_away_t;

//  A random non-zero incarnation
uint32_t
zhive_broker_peers_incarnation (void *arg)
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
s_out (zhive_broker_peers_t *self, const zhive_peer_t *peer, int command)
{
    zhive_proto_t *out = self->out;
    memcpy (out->routing, peer->id, peer->size);
    out->routing_size = peer->size;
    out->command = command;
    return out;
}

//  Send self->out: 0, or -1 with errno (EAGAIN: pipe full; EHOSTUNREACH: gone)
static int
s_send (zhive_broker_peers_t *self, zsock_t *sock)
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
    zhive_broker_peers_t *self = (zhive_broker_peers_t *) arg;
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
    zhive_broker_peers_t *self = (zhive_broker_peers_t *) arg;
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
    zhive_broker_peers_t *self = (zhive_broker_peers_t *) arg;
    s_out (self, worker, ZHIVE_CANCEL)->id = ticket;
    s_send (self, self->worker_sock);
}

static int
s_op_kill (void *arg, uint64_t pid, const char *why)
{
    return zhive_procs_kill (((zhive_broker_peers_t *) arg)->procs, pid, why);
}

static void
s_op_welcome (void *arg, const zhive_peer_t *worker, uint32_t incarnation)
{
    zhive_broker_peers_t *self = (zhive_broker_peers_t *) arg;
    s_out (self, worker, ZHIVE_WELCOME)->id = incarnation;
    s_send (self, self->worker_sock);
}

static const zhive_pool_ops_t s_ops = {
    s_op_send_task, s_op_answer,  s_op_cancel,
    s_op_kill,      s_op_welcome, zhive_broker_peers_incarnation
};

//  ---------------------------------------------------------------------
//  Clients

//  Log a malformed message: which peer (its routing id in hex, its address
//  where libzmq tells it) and the start of the offending frame, sanitized
static void
s_log_malformed (zhive_broker_peers_t *self, const char *role, const zhive_peer_t *peer,
                 const char *why)
{
    if (!self->verbose)
        return;
    char key [ZHIVE_PEER_KEY_SIZE];
    zhive_peer_key (peer, key);
    zhive_proto_t *in = self->in;
    zhive_log_debug ("malformed message from %s %s (%s): %s%s%s%s", role, key,
                     in->peer_address [0] ? in->peer_address : "address unknown", why,
                     in->sample [0] ? "; it began \"" : "", in->sample, in->sample [0] ? "\"" : "");
}

static void
s_client_malformed (zhive_broker_peers_t *self, const zhive_peer_t *peer, const char *why)
{
    s_log_malformed (self, "client", peer, why);
    s_op_answer (self, peer, 0, NULL, ZHIVE_ERR_MALFORMED, why, "");
}

static void
s_client_message (zhive_broker_peers_t *self, const zhive_peer_t *peer)
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
s_host_is_local (zhive_broker_peers_t *self, const char *host)
{
    if (streq (host, self->hostname))
        return true;
    size_t size = strcspn (self->hostname, ".");
    return strncmp (host, self->hostname, size) == 0 && (host [size] == 0 || host [size] == '.');
}

static void
s_worker_malformed (zhive_broker_peers_t *self, const zhive_peer_t *peer, const char *why)
{
    s_log_malformed (self, "worker", peer, why);
    zhive_proto_set_message (s_out (self, peer, ZHIVE_BYE), why);
    s_send (self, self->worker_sock);
    char reason [160];
    snprintf (reason, sizeof reason, "malformed message: %s", why);
    zhive_pool_worker_lost (self->pool, self->now, peer, reason);
}

static void
s_worker_ready (zhive_broker_peers_t *self, const zhive_peer_t *peer)
{
    zhive_proto_t *in = self->in;
    //  Local only by our own records: the token we gave the process with
    //  that pid; a host and pid alone are what anyone can claim
    bool local = s_host_is_local (self, in->host) &&
                 zhive_procs_ready (self->procs, in->pid, in->token, zhive_clock_ms ());
    if (!local && s_host_is_local (self, in->host))
        S_LOG (self,
               "worker '%s' claims this host and pid %" PRIu64
               " without the token of a local worker of ours: it is remote to us",
               in->worker, in->pid);
    zhive_pool_ready_t ready = {
        in->worker,          in->host,      in->pid,
        in->concurrency,     in->max_tasks, (const char *const *) in->functions,
        in->functions_count, local
    };
    zhive_pool_worker_ready (self->pool, self->now, peer, &ready);
}

static void
s_worker_message (zhive_broker_peers_t *self, const zhive_peer_t *peer)
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
            if (zmq_msg_size (&in->payload) > (size_t) ZHIVE_PAYLOAD_MAX)
                //  Never forwarded: the client's connection would drop on it
                zhive_pool_worker_failed (self->pool, self->now, peer, in->id, ZHIVE_ERR_TOO_LARGE,
                                          "the worker's reply is over the message limit of "
                                          "267911168 bytes (256 MiB less header room)");
            else
                zhive_pool_worker_done (self->pool, self->now, peer, in->id, &in->payload);
            zhive_proto_clear_payload (in);
            break;
        case ZHIVE_FAILED:
            zhive_pool_worker_failed (self->pool, self->now, peer, in->id, in->type,
                                      in->message ? in->message : "");
            break;
        case ZHIVE_DRAINING:
            //  Marked draining first, then DRAINED on the same connection:
            //  every TASK sent before is ahead of it, and none follows
            zhive_pool_worker_draining (self->pool, self->now, peer);
            s_out (self, peer, ZHIVE_DRAINED);
            s_send (self, self->worker_sock);
            break;
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
s_read (zhive_broker_peers_t *self, zsock_t *sock,
        void (*on_message) (zhive_broker_peers_t *, const zhive_peer_t *),
        void (*on_malformed) (zhive_broker_peers_t *, const zhive_peer_t *, const char *))
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

int
zhive_broker_peers_on_clients (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    s_read ((zhive_broker_peers_t *) arg, sock, s_client_message, s_client_malformed);
    return 0;
}

int
zhive_broker_peers_on_workers (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    s_read ((zhive_broker_peers_t *) arg, sock, s_worker_message, s_worker_malformed);
    return 0;
}

//  ---------------------------------------------------------------------
//  Heartbeats, timers and the monitor

//  HEARTBEAT one worker; note it if it is gone
static void
s_probe_one (const zhive_peer_t *peer, void *arg)
{
    zhive_broker_peers_t *self = (zhive_broker_peers_t *) arg;
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
void
zhive_broker_peers_probe (zhive_broker_peers_t *self)
{
    self->now = zhive_clock_us ();
    zhive_pool_each_worker (self->pool, s_probe_one, self);
    zhive_peer_t *peer;
    while ((peer = (zhive_peer_t *) zlistx_detach (self->gone, NULL))) {
        zhive_pool_worker_lost (self->pool, self->now, peer, "its connection closed");
        free (peer);
    }
}

//  HEARTBEAT one client with tasks; note it if its connection is gone
static void
s_heartbeat_client (const zhive_peer_t *peer, void *arg)
{
    zhive_broker_peers_t *self = (zhive_broker_peers_t *) arg;
    s_out (self, peer, ZHIVE_HEARTBEAT);
    if (s_send (self, self->client_sock) && errno == EHOSTUNREACH) {
        zhive_peer_t *copy = (zhive_peer_t *) malloc (sizeof (zhive_peer_t));
        if (copy) {
            *copy = *peer;
            zlistx_add_end (self->unreachable, copy);
        }
    }
}

static void
s_away_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  Clients with tasks whose connection is gone: one that stays away past
//  the expiry (liveness x interval) is gone, as if it said BYE; one that
//  comes back under its routing id in time (and resends) keeps its tasks
static void
s_clients_expire (zhive_broker_peers_t *self)
{
    zhashx_t *away = zhashx_new ();
    if (!away)
        return;
    zhashx_set_destructor (away, s_away_free);
    zhive_peer_t *peer;
    while ((peer = (zhive_peer_t *) zlistx_detach (self->unreachable, NULL))) {
        char key [ZHIVE_PEER_KEY_SIZE];
        zhive_peer_key (peer, key);
        s_away_t *known = (s_away_t *) zhashx_lookup (self->away, key);
        int64_t since = known ? known->since : self->now;
        if (self->now - since >= self->expiry_us) {
            zhive_log_info ("client %s is gone: its connection closed %" PRId64
                            " ms ago and it did not come back; its tasks are dropped",
                            key, (self->now - since) / 1000);
            zhive_pool_client_gone (self->pool, self->now, peer);
        }
        else {
            s_away_t *entry = (s_away_t *) malloc (sizeof (s_away_t));
            if (entry) {
                entry->peer = *peer;
                entry->since = since;
                if (zhashx_insert (away, key, entry))
                    free (entry);
            }
        }
        free (peer);
    }
    //  Only those away now stay: a client that came back starts afresh
    zhashx_destroy (&self->away);
    self->away = away;
}

void
zhive_broker_peers_heartbeat (zhive_broker_peers_t *self)
{
    zhive_broker_peers_probe (self);
    //  Clients waiting for answers hear from us even while their tasks run
    zhive_pool_each_waiting_client (self->pool, s_heartbeat_client, self);
    s_clients_expire (self);
    zhive_pool_prune (self->pool);
}

void
zhive_broker_peers_set_expiry (zhive_broker_peers_t *self, int64_t expiry_ms)
{
    self->expiry_us = expiry_ms * 1000;
}

//  ---------------------------------------------------------------------
//  Life

zhive_broker_peers_t *
zhive_broker_peers_new (zhive_procs_t *procs)
{
    zhive_broker_peers_t *self = (zhive_broker_peers_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->procs = procs;
    self->now = zhive_clock_us ();
    if (gethostname (self->hostname, sizeof self->hostname - 1))
        snprintf (self->hostname, sizeof self->hostname, "localhost");
    self->client_sock = zsock_new (ZMQ_ROUTER);
    self->worker_sock = zsock_new (ZMQ_ROUTER);
    self->in = zhive_proto_new ();
    self->out = zhive_proto_new ();
    self->pack = zhive_pack_new ();
    self->gone = zlistx_new ();
    self->away = zhashx_new ();
    self->unreachable = zlistx_new ();
    self->expiry_us = (int64_t) ZHIVE_HEARTBEAT_MS * ZHIVE_LIVENESS * 1000;
    self->pool = zhive_pool_new (&s_ops, self, zhive_broker_peers_incarnation (NULL));
    if (!self->client_sock || !self->worker_sock || !self->in || !self->out || !self->pack ||
        !self->gone || !self->away || !self->unreachable || !self->pool) {
        zhive_broker_peers_destroy (&self);
        return NULL;
    }
    zhive_pool_set_max_queue (self->pool, ZHIVE_POOL_MAX_WAITING, 0);
    //  Finite pipes, ROUTER_MANDATORY; a send never waits: a full pipe is EAGAIN
    zhive_socket_configure (self->client_sock, ZHIVE_SOCKET_BROKER_CLIENTS);
    zhive_socket_configure (self->worker_sock, ZHIVE_SOCKET_BROKER_WORKERS);
    return self;
}

void
zhive_broker_peers_destroy (zhive_broker_peers_t **self_p)
{
    zhive_broker_peers_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zhive_pool_destroy (&self->pool);
    if (self->client_sock)
        zsock_set_linger (self->client_sock, 500);    //  Let the last errors go out
    zsock_destroy (&self->client_sock);
    zsock_destroy (&self->worker_sock);
    zhive_proto_destroy (&self->in);
    zhive_proto_destroy (&self->out);
    zhive_pack_destroy (&self->pack);
    zlistx_destroy (&self->gone);
    zhashx_destroy (&self->away);
    zhive_peer_t *peer;
    while (self->unreachable && (peer = (zhive_peer_t *) zlistx_detach (self->unreachable, NULL)))
        free (peer);
    zlistx_destroy (&self->unreachable);
    free (self);
    *self_p = NULL;
}

void
zhive_broker_peers_set_verbose (zhive_broker_peers_t *self, bool verbose)
{
    self->verbose = verbose;
    zhive_pool_set_verbose (self->pool, verbose);
}

zsock_t *
zhive_broker_peers_clients (zhive_broker_peers_t *self)
{
    return self->client_sock;
}

zsock_t *
zhive_broker_peers_workers (zhive_broker_peers_t *self)
{
    return self->worker_sock;
}

zhive_pool_t *
zhive_broker_peers_pool (zhive_broker_peers_t *self)
{
    return self->pool;
}
