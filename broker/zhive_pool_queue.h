/*  =========================================================================
    zhive_pool_queue - one function's queue in the pool model

    The tasks waiting for the function, oldest first (an intrusive list of
    the pool's tasks), how many of them workers hold, the workers that
    offer it (for round-robin dispatch), and its counters. A queue knows
    nothing of tasks but their links, and of workers but their pointers.
    =========================================================================
*/
#ifndef ZHIVE_POOL_QUEUE_H_INCLUDED
#define ZHIVE_POOL_QUEUE_H_INCLUDED

#include "zhive_list.h"
#include "zhive_pack.h"
#include "zhive_pool_histogram.h"
#include <stdbool.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

typedef struct _zhive_pool_member_t zhive_pool_member_t;

//  What happened to a function's tasks (and, summed, to all tasks)
typedef struct {
    uint64_t submitted;       //  Tasks accepted
    uint64_t ok;              //  Answered with a RESULT
    uint64_t error;           //  Answered with a worker's error (FAILED)
    uint64_t timeout;         //  Answered Timeout
    uint64_t cancelled;       //  Cancelled by their client (answered Cancelled)
    uint64_t worker_lost;     //  Answered WorkerLost (retries exhausted)
    uint64_t queue_full;      //  SUBMITs refused with QueueFull
    uint64_t redispatches;    //  Tasks put back in the queue after losing a worker
    uint64_t unoffered;       //  Answered UnknownFunction: no worker offered it for too long
} zhive_pool_stats_t;

typedef struct {
    char *function;                   //  Function name: the key in the pool's table
    zhive_list_t waiting;             //  Tasks waiting for a worker, oldest first
    size_t in_flight;                 //  Its tasks that workers hold
    zhive_pool_member_t **workers;    //  Workers that offer the function
    size_t workers_count;             //  Entries in workers
    size_t workers_max;               //  Allocated entries in workers
    size_t next_worker;               //  Round-robin position in workers
    bool offered;                     //  A worker offered it since the tick last looked
    int64_t unoffered_since;          //  Since when no worker offers it, µs (the tick's view)
    zhive_pool_stats_t stats;         //  Its counters
    zhive_pool_histogram_t wait;      //  Times from entering the queue to dispatch
    zhive_pool_histogram_t run;       //  Times from dispatch to the worker's answer
} zhive_pool_queue_t;

//  ---------------------------------------------------------------------
//  Create an empty queue. NULL if out of memory.
zhive_pool_queue_t *zhive_pool_queue_new (const char *function);

//  Destroy a queue (its waiting list must be empty). Safe with *self_p NULL.
void zhive_pool_queue_destroy (zhive_pool_queue_t **self_p);

//  Add a worker among those offering the function: 0, 1 if it was there
//  already, -1 if out of memory.
int zhive_pool_queue_add_worker (zhive_pool_queue_t *self, zhive_pool_member_t *worker);

//  Take a worker out (nothing if it is not there).
void zhive_pool_queue_remove_worker (zhive_pool_queue_t *self, zhive_pool_member_t *worker);

//  True if nothing waits, runs or offers: the queue may go.
bool zhive_pool_queue_unused (const zhive_pool_queue_t *self);

//  Add other's counters and histograms to self's (a pruned queue's kept).
void zhive_pool_queue_absorb (zhive_pool_queue_t *self, const zhive_pool_queue_t *other);

//  Pack its STATUS_REPLY entry: a map of function, waiting, in_flight.
void zhive_pool_queue_pack (zhive_pool_queue_t *self, zhive_pack_t *pack);

#pragma GCC visibility pop

#endif
