/*  =========================================================================
    zhive_uplink - a worker's connection to its broker
    =========================================================================
*/
#include "zhive_uplink.h"
#include "zhive_curve.h"
#include "zhive_log.h"
#include "zhive_socket.h"
#include <stdarg.h>

#define S_LINGER_MS 500    //  Time to deliver BYE on destroy

struct _zhive_uplink_t {
    char *endpoint;                              //  The broker's worker endpoint now
    const char *name;                            //  The worker's name, for log lines
    bool verbose;                                //  Log connection events
    zsock_t *dealer;                             //  DEALER to the broker
    zsock_t *monitor;                            //  PAIR receiving the dealer's events
    int interval_ms;                             //  Heartbeat interval the dealer has
    int liveness;                                //  Heartbeat liveness the dealer has
    zcert_t *curve_cert;                         //  CURVE: this worker's keys; NULL: plain
    char curve_server [ZHIVE_CURVE_KEY_SIZE];    //  CURVE: the broker's public key
    bool disconnected;                           //  Say CONNECTED at the next connection
    bool connected;                              //  A connection is up now
    zlistx_t *failover;                          //  More broker endpoints (char *), in turn
    int failover_timer;                          //  Checks the connection, or 0
    int unconnected_ticks;                       //  Checks in a row that found none
    zloop_t *loop;                               //  The loop, once started
    zloop_reader_fn *on_message;                 //  Reads the dealer
    zhive_uplink_event_fn *on_event;             //  Told of connection events
    void *arg;                                   //  Their argument
};

//  Log a line naming the worker; debug lines only when verbose
#define s_log(self, level, ...)                                                                    \
    zhive_log_as ((self)->verbose, level, "zhive-worker", (self)->name, __VA_ARGS__)

//  The DEALER and its connection monitor, made with the heartbeat settings
//  of the moment
static int
s_open (zhive_uplink_t *self)
{
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        errno = ENOMEM;
        return -1;
    }
    //  Finite HWMs, frame cap, non-blocking send, reconnect 1 s .. 32 s
    zhive_socket_configure (self->dealer, ZHIVE_SOCKET_WORKER);
    zsock_set_linger (self->dealer, S_LINGER_MS);
    //  libzmq's I/O thread sends and answers these, whatever the loop is
    //  doing; a broker silent for interval x liveness is dropped, and the
    //  reconnect sends READY again
    zhive_socket_set_heartbeat (self->dealer, self->interval_ms, self->liveness);
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
s_close (zhive_uplink_t *self)
{
    if (self->dealer && self->monitor)
        zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->dealer);
}

//  Connects again, with the settings of the moment; nothing was sent yet
static int
s_reopen (zhive_uplink_t *self)
{
    zsock_set_linger (self->dealer, 0);
    s_close (self);
    if (s_open (self)) {
        s_log (self, ZHIVE_LOG_ERROR, "cannot connect to %s again: %s", self->endpoint,
               strerror (errno));
        return -1;
    }
    return 0;
}

//  Loads a worker's CURVE certificate and the broker's key; logs why not
static zcert_t *
s_curve_load (const char *secret_cert_path, const char *broker_cert_path, char *server)
{
    char error [512];
    zcert_t *cert =
        zhive_curve_load_pair (secret_cert_path, broker_cert_path, server, error, sizeof error);
    if (!cert)
        zhive_log_error ("zhive-worker: %s", error);
    return cert;
}

//  ---------------------------------------------------------------------
//  Connect to the broker, plain or with CURVE

zhive_uplink_t *
zhive_uplink_new (const char *endpoint, const char *name, const char *secret_cert_path,
                  const char *broker_cert_path)
{
    if (!endpoint || !*endpoint) {
        errno = EINVAL;
        return NULL;
    }
    zhive_uplink_t *self = (zhive_uplink_t *) calloc (1, sizeof (zhive_uplink_t));
    if (!self)
        return NULL;
    self->name = name ? name : "";
    self->interval_ms = ZHIVE_HEARTBEAT_MS;
    self->liveness = ZHIVE_LIVENESS;
    self->endpoint = strdup (endpoint);
    if (!self->endpoint) {
        zhive_uplink_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    if (secret_cert_path && !(self->curve_cert = s_curve_load (secret_cert_path, broker_cert_path,
                                                               self->curve_server))) {
        int error = errno;
        zhive_uplink_destroy (&self);
        errno = error;
        return NULL;
    }
    if (s_open (self)) {
        int error = errno;
        zhive_uplink_destroy (&self);
        errno = error;
        return NULL;
    }
    return self;
}

//  ---------------------------------------------------------------------
//  Close the connection

void
zhive_uplink_destroy (zhive_uplink_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_uplink_t *self = *self_p;
    zhive_uplink_stop (self);
    s_close (self);
    zcert_destroy (&self->curve_cert);
    zlistx_destroy (&self->failover);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Log connection events

void
zhive_uplink_set_verbose (zhive_uplink_t *self, bool verbose)
{
    self->verbose = verbose;
}

//  ---------------------------------------------------------------------
//  Use CURVE from now on

int
zhive_uplink_set_curve (zhive_uplink_t *self, const char *secret_cert_path,
                        const char *broker_cert_path)
{
    char server [ZHIVE_CURVE_KEY_SIZE];
    zcert_t *cert = s_curve_load (secret_cert_path, broker_cert_path, server);
    if (!cert)
        return -1;
    zcert_destroy (&self->curve_cert);
    self->curve_cert = cert;
    memcpy (self->curve_server, server, sizeof server);
    return s_reopen (self);
}

//  ---------------------------------------------------------------------
//  Add a failover endpoint

int
zhive_uplink_add_endpoint (zhive_uplink_t *self, const char *endpoint)
{
    if (zhive_endpoint_check (endpoint))
        return -1;    //  EINVAL: refused now, not when failing over to it
    if (!self->failover) {
        self->failover = zlistx_new ();
        if (!self->failover) {
            errno = ENOMEM;
            return -1;
        }
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

//  Connection events of the dealer
static int
s_on_monitor (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    zhive_uplink_t *self = (zhive_uplink_t *) arg;
    zmsg_t *msg = zmsg_recv (sock);
    if (!msg)
        return 0;
    int rc = 0;
    zframe_t *frame = zmsg_first (msg);
    uint16_t event = 0;
    if (frame && zframe_size (frame) >= sizeof event)
        memcpy (&event, zframe_data (frame), sizeof event);
    if (event == ZMQ_EVENT_DISCONNECTED) {
        s_log (self, ZHIVE_LOG_DEBUG, "lost the broker; reconnecting");
        self->connected = false;
        self->disconnected = true;
    }
    else if (event == ZMQ_EVENT_CONNECTED) {
        self->connected = true;
        if (self->disconnected) {
            s_log (self, ZHIVE_LOG_DEBUG, "reconnected to the broker");
            self->disconnected = false;
            rc = self->on_event (ZHIVE_UPLINK_CONNECTED, self->arg);
        }
    }
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        //  libzmq does not reconnect after a refusal: nothing to wait for
        s_log (self, ZHIVE_LOG_ERROR,
               "the broker refused this worker's CURVE key (is its public key in the broker's "
               "allow directory?); stopping");
        rc = self->on_event (ZHIVE_UPLINK_REFUSED, self->arg);
    }
    else if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL))
        s_log (self, ZHIVE_LOG_WARNING,
               "the CURVE handshake with the broker failed (is the broker key right, and does the "
               "broker run CURVE?); retrying");
    zmsg_destroy (&msg);
    return rc;
}

//  Has the loop watch the dealer and its monitor
static int
s_watch (zhive_uplink_t *self)
{
    if (zloop_reader (self->loop, self->dealer, self->on_message, self->arg) ||
        zloop_reader (self->loop, self->monitor, s_on_monitor, self))
        return -1;
    zloop_reader_set_tolerant (self->loop, self->dealer);
    return 0;
}

//  Failover: after two checks without a connection, the next endpoint;
//  the lost broker requeues what this worker held
static int
s_on_failover (zloop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    zhive_uplink_t *self = (zhive_uplink_t *) arg;
    if (self->connected || ++self->unconnected_ticks < 2)
        return 0;
    self->unconnected_ticks = 0;
    //  The endpoints rotate: the current one goes to the back of the list
    char *next = (char *) zlistx_detach (self->failover, NULL);
    if (!next)
        return 0;
    zlistx_add_end (self->failover, self->endpoint);
    s_log (self, ZHIVE_LOG_WARNING, "no broker at %s; trying %s", self->endpoint, next);
    self->endpoint = next;
    zloop_reader_end (loop, self->dealer);
    zloop_reader_end (loop, self->monitor);
    if (s_reopen (self))
        return -1;
    self->disconnected = true;    //  Say CONNECTED when it connects
    return s_watch (self);
}

//  ---------------------------------------------------------------------
//  Start watching the connection in a loop

int
zhive_uplink_start (zhive_uplink_t *self, zloop_t *loop, int interval_ms, int liveness,
                    zloop_reader_fn *on_message, zhive_uplink_event_fn *on_event, void *arg)
{
    assert (!self->loop);
    if (interval_ms != self->interval_ms || liveness != self->liveness) {
        self->interval_ms = interval_ms;
        self->liveness = liveness;
        if (s_reopen (self))
            return -1;
    }
    self->loop = loop;
    self->on_message = on_message;
    self->on_event = on_event;
    self->arg = arg;
    if (s_watch (self)) {
        s_log (self, ZHIVE_LOG_ERROR, "cannot watch the broker socket");
        zhive_uplink_stop (self);
        return -1;
    }
    if (self->failover && zlistx_size (self->failover)) {
        //  At least a reconnect interval, so a broker still starting up gets
        //  a second connection attempt before the worker moves on
        size_t period = (size_t) interval_ms * liveness;
        if (period < ZHIVE_RECONNECT_MS)
            period = ZHIVE_RECONNECT_MS;
        int timer = zloop_timer (loop, period, 0, s_on_failover, self);
        self->failover_timer = timer > 0 ? timer : 0;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Stop watching the connection

void
zhive_uplink_stop (zhive_uplink_t *self)
{
    if (!self->loop)
        return;
    if (self->failover_timer)
        zloop_timer_end (self->loop, self->failover_timer);
    self->failover_timer = 0;
    zloop_reader_end (self->loop, self->dealer);
    zloop_reader_end (self->loop, self->monitor);
    self->loop = NULL;
}

//  ---------------------------------------------------------------------
//  A send found no connection: say CONNECTED at the next one

void
zhive_uplink_lost (zhive_uplink_t *self)
{
    self->disconnected = true;
}

//  ---------------------------------------------------------------------
//  The DEALER

bool
zhive_uplink_connected (zhive_uplink_t *self)
{
    return self->connected;
}

zsock_t *
zhive_uplink_socket (zhive_uplink_t *self)
{
    return self->dealer;
}
