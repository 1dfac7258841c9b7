/*  =========================================================================
    zhive_pool_clients - the pool model's table of clients

    A client is known while it has tasks not yet answered; the most recent
    one looked up is kept even when idle, so a pipelining client is found
    without building a key or hashing, and not made anew for every call.
    =========================================================================
*/
#ifndef ZHIVE_POOL_CLIENTS_H_INCLUDED
#define ZHIVE_POOL_CLIENTS_H_INCLUDED

#include "zhive_idmap.h"
#include "zhive_peer.h"
#include <czmq.h>

#pragma GCC visibility push(hidden)

//  A client with tasks not yet answered
typedef struct {
    char key [ZHIVE_PEER_KEY_SIZE];    //  The peer in hex: the key in the table
    zhive_peer_t peer;                 //  Its connection, to answer
    zhive_idmap_t *pending;            //  Client task id -> task not yet answered
    size_t waiting;                    //  Of those, tasks waiting in queues
} zhive_pool_client_t;

typedef struct _zhive_pool_clients_t zhive_pool_clients_t;

//  ---------------------------------------------------------------------
//  Create an empty table. NULL if out of memory.
zhive_pool_clients_t *zhive_pool_clients_new (void);

//  Destroy the table and every client in it. Safe with *self_p NULL.
void zhive_pool_clients_destroy (zhive_pool_clients_t **self_p);

//  The client of a peer, or NULL; require makes it if needed (NULL: out
//  of memory).
zhive_pool_client_t *zhive_pool_clients_lookup (zhive_pool_clients_t *self,
                                                const zhive_peer_t *peer);
zhive_pool_client_t *zhive_pool_clients_require (zhive_pool_clients_t *self,
                                                 const zhive_peer_t *peer);

//  Forget a client if nothing of it is pending (and it is not the recent one).
void zhive_pool_clients_release (zhive_pool_clients_t *self, zhive_pool_client_t *client);

//  First / next client, for a walk (do not release during it).
zhive_pool_client_t *zhive_pool_clients_first (zhive_pool_clients_t *self);
zhive_pool_client_t *zhive_pool_clients_next (zhive_pool_clients_t *self);

#pragma GCC visibility pop

#endif
