/*  =========================================================================
    zhive_uplink - a worker's connection to its broker (private)

    The DEALER to the broker's worker endpoint, made with zhive's socket
    policy (zhive_socket: finite HWMs, frame cap, reconnects, heartbeats)
    and, if asked, CURVE; a socket monitor that says when a connection
    comes back after a loss (the worker then sends READY again) or when the
    broker refused this worker's CURVE key; and failover: with more than
    one broker endpoint, a worker that has had no connection for two
    checks (2 x interval x liveness, at least a reconnect interval each)
    moves on to the next endpoint, in turn.

    The worker reads and sends the messages; the uplink only holds the
    socket, and tells the worker of connection events through a callback.
    =========================================================================
*/
#ifndef ZHIVE_UPLINK_H_INCLUDED
#define ZHIVE_UPLINK_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_uplink_t zhive_uplink_t;

//  What the monitor saw
typedef enum {
    ZHIVE_UPLINK_CONNECTED,    //  A connection is up after a loss, or after zhive_uplink_lost
    ZHIVE_UPLINK_REFUSED       //  The broker refused this worker's CURVE key (not retried)
} zhive_uplink_event_t;

//  Told of an event; returns 0, or -1 to end the loop
typedef int (zhive_uplink_event_fn) (zhive_uplink_event_t event, void *arg);

//  ---------------------------------------------------------------------
//  Connect to endpoint, plain, or with CURVE if secret_cert_path is not
//  NULL (this worker's secret certificate and the broker's public one).
//  name is the worker's name in log lines (borrowed: it must live as long).
//  Returns NULL with errno EINVAL (not a valid endpoint), ENOMEM, or that
//  of a certificate that cannot be read (logged).
zhive_uplink_t *zhive_uplink_new (const char *endpoint, const char *name,
                                  const char *secret_cert_path, const char *broker_cert_path);

//  Close the connection (what was sent has S_LINGER_MS to go out); safe
//  with *self_p NULL.
void zhive_uplink_destroy (zhive_uplink_t **self_p);

//  Log connection events (debug lines).
void zhive_uplink_set_verbose (zhive_uplink_t *self, bool verbose);

//  Use CURVE from now on: reconnects at once. Returns 0, or -1 with the
//  reason logged.
int zhive_uplink_set_curve (zhive_uplink_t *self, const char *secret_cert_path,
                            const char *broker_cert_path);

//  Add a failover endpoint. Returns 0, or -1 (errno ENOMEM).
int zhive_uplink_add_endpoint (zhive_uplink_t *self, const char *endpoint);

//  Start: reconnect if the heartbeat settings are not those the socket was
//  made with (libzmq reads them when it connects), then have loop call
//  on_message (arg) when the socket has messages and on_event (arg) on
//  connection events, and check for failover. Returns 0, or -1.
int zhive_uplink_start (zhive_uplink_t *self, zloop_t *loop, int interval_ms, int liveness,
                        zloop_reader_fn *on_message, zhive_uplink_event_fn *on_event, void *arg);

//  Stop watching the socket (it stays open, to say BYE).
void zhive_uplink_stop (zhive_uplink_t *self);

//  A send found no connection (a refused handshake drops the pipe): say
//  ZHIVE_UPLINK_CONNECTED at the next connection.
void zhive_uplink_lost (zhive_uplink_t *self);

//  True while a connection to the broker is up (as its monitor last said).
bool zhive_uplink_connected (zhive_uplink_t *self);

//  The DEALER, to read and send on.
zsock_t *zhive_uplink_socket (zhive_uplink_t *self);

#ifdef __cplusplus
}
#endif

#endif
