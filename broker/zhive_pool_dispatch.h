/*  =========================================================================
    zhive_pool_dispatch - the pool model's dispatch: tickets and credit

    Hands waiting tasks to workers with credit (FIFO per function,
    round-robin among a queue's workers, and among a worker's queues),
    makes the tickets (renewing the incarnation when the sequence wraps),
    and takes tasks back from a worker that is lost. The event layer
    (zhive_pool) calls it; it calls the task store, the queues and the
    members, never back into zhive_pool.
    =========================================================================
*/
#ifndef ZHIVE_POOL_DISPATCH_H_INCLUDED
#define ZHIVE_POOL_DISPATCH_H_INCLUDED

#include "zhive_pool_private.h"

#pragma GCC visibility push(hidden)

//  Hand waiting tasks of one queue to its workers with credit, round-robin.
void zhive_pool_dispatch_queue (zhive_pool_t *self, zhive_pool_queue_t *queue);

//  Use a worker's credit on the queues it serves, round-robin.
void zhive_pool_dispatch_feed (zhive_pool_t *self, zhive_pool_member_t *worker);

//  After a worker was lost, its tasks wait in their queues: hand them on.
//  Every event ends with it.
void zhive_pool_dispatch_settle (zhive_pool_t *self);

//  Forget a worker; tasks it held go back to the head of their queues, in
//  order, or fail with WorkerLost past their retries.
void zhive_pool_dispatch_remove (zhive_pool_t *self, zhive_pool_member_t *worker, const char *why);

#pragma GCC visibility pop

#endif
