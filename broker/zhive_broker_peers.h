/*  =========================================================================
    zhive_broker_peers - the broker's two ROUTERs and the pool behind them

    What clients and workers send becomes events of the pool model; the
    pool's operations are sends on these sockets. The actor registers the
    two readers with its loop and calls the heartbeat each interval.
    =========================================================================
*/
#ifndef ZHIVE_BROKER_PEERS_H_INCLUDED
#define ZHIVE_BROKER_PEERS_H_INCLUDED

#include "zhive_pool.h"
#include "zhive_procs.h"
#include <czmq.h>

#pragma GCC visibility push(hidden)

typedef struct _zhive_broker_peers_t zhive_broker_peers_t;

//  Create both ROUTERs (configured, not bound) and the pool, which kills
//  overdue local workers through procs. NULL if out of memory or sockets.
zhive_broker_peers_t *zhive_broker_peers_new (zhive_procs_t *procs);

//  Destroy the pool and the sockets. Safe with *self_p NULL.
void zhive_broker_peers_destroy (zhive_broker_peers_t **self_p);

//  Log bad input and the pool's debug lines.
void zhive_broker_peers_set_verbose (zhive_broker_peers_t *self, bool verbose);

//  The client ROUTER, the worker ROUTER, the pool (borrowed).
zsock_t *zhive_broker_peers_clients (zhive_broker_peers_t *self);
zsock_t *zhive_broker_peers_workers (zhive_broker_peers_t *self);
zhive_pool_t *zhive_broker_peers_pool (zhive_broker_peers_t *self);

//  zloop readers of the client and worker sockets (arg: the peers).
int zhive_broker_peers_on_clients (zloop_t *loop, zsock_t *sock, void *arg);
int zhive_broker_peers_on_workers (zloop_t *loop, zsock_t *sock, void *arg);

//  HEARTBEAT every worker; those whose connection is gone are lost.
void zhive_broker_peers_probe (zhive_broker_peers_t *self);

//  Each heartbeat interval: probe the workers, HEARTBEAT every client
//  with unanswered tasks (one unreachable past the expiry is gone),
//  forget unused queues.
void zhive_broker_peers_heartbeat (zhive_broker_peers_t *self);

//  How long a client with tasks may be unreachable (its connection gone)
//  before its tasks are dropped, as at BYE: liveness x interval.
void zhive_broker_peers_set_expiry (zhive_broker_peers_t *self, int64_t expiry_ms);

//  A random non-zero 32-bit incarnation (/dev/urandom, else zuuid).
uint32_t zhive_broker_peers_incarnation (void *arg);

#pragma GCC visibility pop

#endif
