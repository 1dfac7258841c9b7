/*  =========================================================================
    zhive_pool_member - one worker, a member of the pool model

    What READY said (name, host, pid, slots, task limit, functions), the
    tasks it holds in dispatch order (an intrusive list of the pool's
    tasks), and its credit: concurrency plus prefetch minus the tasks held,
    no more than its task limit leaves, none while it drains. Prefetch
    follows how fast its answers come back (zhive_pool_member_measure).
    =========================================================================
*/
#ifndef ZHIVE_POOL_MEMBER_H_INCLUDED
#define ZHIVE_POOL_MEMBER_H_INCLUDED

#include "zhive_peer.h"
#include "zhive_pack.h"
#include "zhive_pool_queue.h"
#include "zhive_proto.h"

#pragma GCC visibility push(hidden)

#define ZHIVE_POOL_PREFETCH_MAX 1024    //  Most tasks a worker holds beyond its slots

struct _zhive_pool_member_t {
    zhive_peer_t peer;                 //  Its connection, to send to
    char key [ZHIVE_PEER_KEY_SIZE];    //  The peer in hex: the key in the pool's table
    char name [ZHIVE_NAME_MAX + 1];    //  Name from READY, for errors and logs
    char host [ZHIVE_NAME_MAX + 1];    //  Host from READY
    uint64_t pid;                      //  Process id from READY
    bool local;                        //  The broker's own record: a process on its host
    uint32_t concurrency;              //  Task slots from READY
    uint64_t max_tasks;                //  Tasks it takes from its READY on, 0 = no limit
    uint64_t dispatched;               //  Tasks sent to it since its READY
    bool draining;                     //  It said DRAINING: send it nothing more
    int64_t joined;                    //  When its first READY came (the pool's clock)
    uint64_t done;                     //  Tasks it answered (DONE or FAILED)
    int64_t seen;                      //  When it last sent READY, DONE, FAILED or DRAINING
    zhive_list_t held;                 //  Tasks it holds, in dispatch order
    uint32_t prefetch;                 //  Tasks it may hold beyond its slots
    zhive_pool_queue_t **queues;       //  Queues of the functions it offers
    size_t queues_count;               //  Entries in queues
    size_t next_queue;                 //  Round-robin position in queues
};

//  ---------------------------------------------------------------------
//  Create a worker for a peer, offering nothing yet. NULL if out of memory.
zhive_pool_member_t *zhive_pool_member_new (const zhive_peer_t *peer, int64_t now);

//  Destroy a worker (it must hold no task); it leaves its queues. Safe
//  with *self_p NULL.
void zhive_pool_member_destroy (zhive_pool_member_t **self_p);

//  Offer these queues (a new READY): the worker leaves the queues it
//  offered before and joins these (a queue named twice is joined once).
//  Returns 0, or -1 if out of memory (it then offers nothing).
int zhive_pool_member_offer (zhive_pool_member_t *self, zhive_pool_queue_t **queues, size_t count);

//  Tasks the worker may still be sent right now.
size_t zhive_pool_member_credit (const zhive_pool_member_t *self);

//  The worker answered a task elapsed_us after its dispatch: one more
//  prefetch if that is within prefetch_us, one less if not.
void zhive_pool_member_measure (zhive_pool_member_t *self, int64_t elapsed_us, int64_t prefetch_us);

//  Pack its STATUS_REPLY entry: a map of id, host, pid, functions,
//  concurrency, in_flight, done.
void zhive_pool_member_pack (zhive_pool_member_t *self, zhive_pack_t *pack);

#pragma GCC visibility pop

#endif
