/*  =========================================================================
    zhive_socket - the one place that sets zhive's socket options (private)

    Broker, worker and client make their sockets here, so that limits,
    heartbeats and reconnects are one policy:
    - every pipe has a finite high-water mark: a peer that stops reading
      fills its own pipe, never the sender's memory (the sender then sees
      EAGAIN and decides: the broker keeps the answer, a client waits);
    - every socket caps a frame at ZHIVE_MESSAGE_SIZE_MAX;
    - ZMTP heartbeats with interval x liveness as the timeout, clamped to
      what libzmq takes;
    - DEALERs reconnect after 1 s, doubling to 32 s.
    =========================================================================
*/
#ifndef ZHIVE_SOCKET_H_INCLUDED
#define ZHIVE_SOCKET_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZHIVE_HEARTBEAT_MS     1000       //  Default heartbeat interval
#define ZHIVE_LIVENESS         3          //  Default silent intervals before a peer is dead
#define ZHIVE_HEARTBEAT_MAX    3600000    //  Longest interval, and longest interval x liveness, ms
#define ZHIVE_HEARTBEAT_TTL    6553599    //  Largest ZMQ_HEARTBEAT_TTL libzmq takes (16 bits of ds)
#define ZHIVE_GRACE_MIN_MS     2000       //  Least grace past a deadline
#define ZHIVE_RECONNECT_MS     1000       //  First reconnect interval
#define ZHIVE_RECONNECT_MAX_MS 32000      //  Longest reconnect interval

//  Messages each pipe holds before a send fails with EAGAIN (or, on a
//  receiving side, libzmq stops reading from the peer)
#define ZHIVE_HWM_BROKER_CLIENT 10000     //  Broker -> one client: answers not yet read
#define ZHIVE_HWM_BROKER_WORKER 100000    //  Broker <-> one worker: bounded by credit anyway
#define ZHIVE_HWM_CLIENT        100000    //  Client <-> broker
#define ZHIVE_HWM_WORKER        100000    //  Worker <-> broker

typedef enum {
    ZHIVE_SOCKET_BROKER_CLIENTS,    //  The broker's ROUTER for clients
    ZHIVE_SOCKET_BROKER_WORKERS,    //  The broker's ROUTER for workers
    ZHIVE_SOCKET_CLIENT,            //  A client's DEALER
    ZHIVE_SOCKET_WORKER             //  A worker's DEALER
} zhive_socket_role_t;

//  Set every option the role uses, but heartbeats: high-water marks,
//  MAXMSGSIZE, a send that never waits (a full pipe is EAGAIN),
//  ROUTER_MANDATORY (a send to a gone or full peer fails instead of
//  vanishing), ROUTER_HANDOVER for clients, reconnect for DEALERs. Call before bind or connect.
void zhive_socket_configure (zsock_t *sock, zhive_socket_role_t role);

//  Clamp heartbeat settings to what every role and libzmq accept: 0 or
//  less means the default; the interval is at most ZHIVE_HEARTBEAT_MAX
//  and interval x liveness too.
void zhive_heartbeat_clamp (int *interval_ms, int *liveness);

//  Clamp, then set ZMTP heartbeats on a socket (for connections made
//  after the call): interval, timeout and TTL = interval x liveness.
void zhive_socket_set_heartbeat (zsock_t *sock, int interval_ms, int liveness);

//  0 if endpoint is one a DEALER can connect to (libzmq's own parser,
//  through a throwaway socket that never sends), else -1 with errno
//  EINVAL: for endpoints kept to connect to later (a worker's failover).
int zhive_endpoint_check (const char *endpoint);

//  Grace past a deadline before a task still running is acted on (the
//  worker's watchdog, the broker's kill of a local worker): long enough
//  for an answer to cross a connection that is within its heartbeats.
//  max (ZHIVE_GRACE_MIN_MS, 2 x interval x liveness).
int64_t zhive_grace_ms (int interval_ms, int liveness);

#ifdef __cplusplus
}
#endif

#endif
