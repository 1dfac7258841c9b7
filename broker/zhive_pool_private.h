/*  =========================================================================
    zhive_pool_private - the pool model's state, shared by its event layer
    (zhive_pool) and its dispatch (zhive_pool_dispatch); nothing else
    includes it
    =========================================================================
*/
#ifndef ZHIVE_POOL_PRIVATE_H_INCLUDED
#define ZHIVE_POOL_PRIVATE_H_INCLUDED

#include "zhive_log.h"
#include "zhive_pool.h"
#include "zhive_pool_tasks.h"

#pragma GCC visibility push(hidden)

//  Debug lines only in verbose mode
#define S_LOG(self, ...) zhive_log_verbose ((self)->verbose, __VA_ARGS__)

//  Count an outcome for a task's function and in the totals
#define S_COUNT(self, queue, field)                                                                \
    do {                                                                                           \
        (self)->counters.tasks.field++;                                                            \
        if (queue)                                                                                 \
            (queue)->stats.field++;                                                                \
    } while (0)

struct _zhive_pool_t {
    zhive_pool_ops_t ops;              //  How it acts
    void *arg;                         //  The ops' argument
    uint32_t incarnation;              //  High half of every ticket
    uint32_t sequence;                 //  Low half of the next ticket (0: renew first)
    int64_t now;                       //  The time of the event being handled, µs
    zhashx_t *queues;                  //  Function name -> zhive_pool_queue_t
    zhashx_t *workers;                 //  Peer key -> zhive_pool_member_t
    zhive_pool_tasks_t *tasks;         //  The tasks, their clients, deadlines and answers
    bool redispatch;                   //  A worker was lost: look at every queue again
    bool blocked;                      //  A worker's pipe was full: look again at the tick
    size_t max_waiting;                //  Limit of tasks waiting in all queues, 0 = none
    size_t max_per_function;           //  Limit of tasks waiting in one queue, 0 = none
    size_t max_per_client;             //  Limit of tasks waiting per client, 0 = none
    uint64_t max_bytes;                //  Limit of waiting args bytes, 0 = none
    int64_t retries;                   //  Default redispatches after losing a worker
    int64_t prefetch_us;               //  Prefetch time, 0 = none
    int64_t unoffered_us;              //  Wait for a function nobody offers, 0 = for ever
    bool verbose;                      //  Log debug lines
    bool draining;                     //  Refusing new tasks
    int64_t drain_until;               //  When the drain gives up
    zhive_pool_counters_t counters;    //  What happened so far
    zhashx_t *retired;                 //  Function name -> counters of its pruned queues
    zhive_pool_errors_t errors;        //  The last tasks that ended in an error
};

#pragma GCC visibility pop

#endif
