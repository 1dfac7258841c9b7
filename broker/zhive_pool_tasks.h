/*  =========================================================================
    zhive_pool_tasks - the pool model's tasks: who waits for them, their
    deadlines, the in-flight table, and how they are answered

    Every task of the pool is here from SUBMIT to its end, with the client
    that waits for it (until answered), its deadline in the heap, and, while
    a worker holds it, its ticket in the in-flight table. An answer goes out
    through the pool's answer op; one the client cannot take is kept (the
    kept store) for its resend. Running tasks that are cancelled get CANCEL
    through the cancel op. This class calls no other part of the pool but
    the clients table, the kept store and the queue and worker lists a
    task is in.
    =========================================================================
*/
#ifndef ZHIVE_POOL_TASKS_H_INCLUDED
#define ZHIVE_POOL_TASKS_H_INCLUDED

#include "zhive_heap.h"
#include "zhive_idmap.h"
#include "zhive_kept.h"
#include "zhive_pool.h"
#include "zhive_pool_clients.h"
#include "zhive_pool_member.h"

#pragma GCC visibility push(hidden)

typedef struct {
    uint64_t id;                    //  The client's task id
    uint64_t ticket;                //  Ticket of the current dispatch; 0 while queued
    zhive_pool_client_t *client;    //  Who waits for the answer; NULL once answered
    zhive_pool_queue_t *queue;      //  Queue of its function
    zmq_msg_t args;                 //  Args payload, kept for a redispatch
    size_t args_size;               //  Its size, for the byte limit
    int64_t timeout_ms;             //  Deadline from receipt, -1 for none
    zhive_heap_node_t deadline;     //  Its deadline (or its kill time, if overdue), µs
    bool overdue;                   //  Answered, still running: the heap holds its kill time
    int64_t retries;                //  Redispatches allowed after losing a worker
    int64_t attempts;               //  Dispatches that lost their worker so far
    uint32_t chunk;                 //  Items in a chunked payload, 0 = one task
    int64_t sent_us;                //  When it was dispatched
    int64_t queued_us;              //  When it entered its queue (submit, or back after a loss)
    zhive_pool_member_t *worker;    //  Worker holding it; NULL while queued
    zhive_link_t link;              //  In its queue's waiting list or its worker's held list
} zhive_pool_task_t;

//  The tasks and what they are counted in
typedef struct {
    const zhive_pool_ops_t *ops;        //  The pool's operations (answer, cancel)
    void *arg;                          //  Their argument
    zhive_pool_counters_t *counters;    //  The pool's counters (kept answers)
    zhive_pool_errors_t *errors;        //  The pool's recent errors (UnknownFunction answers)
    int64_t now;                        //  Time of the event being handled, µs
    int64_t grace_ms;                   //  Grace past a deadline before a local kill
    bool verbose;                       //  Log debug lines
    zhive_pool_clients_t *clients;      //  Clients with tasks pending
    zhive_idmap_t *in_flight;           //  Ticket -> task held by a worker
    zhive_heap_t heap;                  //  Tasks by deadline
    zhive_kept_t *kept;                 //  Answers that could not be delivered
    size_t count;                       //  Tasks, all states
    size_t waiting;                     //  Tasks waiting in all queues
    uint64_t waiting_bytes;             //  Bytes of their args
    size_t unanswered;                  //  Tasks whose client still waits
} zhive_pool_tasks_t;

//  ---------------------------------------------------------------------
//  Create the task store of a pool (ops and counters are the pool's).
//  NULL if out of memory.
zhive_pool_tasks_t *zhive_pool_tasks_new (const zhive_pool_ops_t *ops, void *arg,
                                          zhive_pool_counters_t *counters);

//  Destroy the store (every task must be freed already). Safe with
//  *self_p NULL.
void zhive_pool_tasks_destroy (zhive_pool_tasks_t **self_p);

//  A new task for a client (args moved in), pending under id; not in any
//  list yet. NULL if out of memory.
zhive_pool_task_t *zhive_pool_tasks_add (zhive_pool_tasks_t *self, zhive_pool_client_t *client,
                                         zhive_pool_queue_t *queue, uint64_t id, zmq_msg_t *args);

//  Put a task in its queue (at the head if front) / take it out; the
//  counts per client, in all and in bytes follow.
void zhive_pool_tasks_wait_add (zhive_pool_tasks_t *self, zhive_pool_task_t *task, bool front);
void zhive_pool_tasks_wait_remove (zhive_pool_tasks_t *self, zhive_pool_task_t *task);

//  The client has had (or will never get) its answer: forget who asked.
void zhive_pool_tasks_detach (zhive_pool_tasks_t *self, zhive_pool_task_t *task);

//  Free a task that is in no list any more.
void zhive_pool_tasks_destroy_task (zhive_pool_tasks_t *self, zhive_pool_task_t **task_p);

//  Answer the task's client once: RESULT with value (moved in) if not
//  NULL, else ERROR; kept if not delivered. The task is detached.
void zhive_pool_tasks_answer (zhive_pool_tasks_t *self, zhive_pool_task_t *task, zmq_msg_t *value,
                              const char *type, const char *message, const char *worker);

//  Answer a SUBMIT that was not taken (not kept).
void zhive_pool_tasks_refuse (zhive_pool_tasks_t *self, const zhive_peer_t *peer, uint64_t id,
                              const char *type, const char *message);

//  Take a task off its worker (it answered, or goes back).
void zhive_pool_tasks_unhold (zhive_pool_tasks_t *self, zhive_pool_task_t *task);

//  Drop a task on its client's word or at its deadline, answering with
//  type if not NULL. A running one stays with its worker (sent CANCEL)
//  until the worker answers; past its deadline and the grace it is due
//  for a kill (overdue, in the heap again).
void zhive_pool_tasks_cancel (zhive_pool_tasks_t *self, zhive_pool_task_t *task, const char *type,
                              const char *message);

//  Answer UnknownFunction to the tasks, oldest first, that have waited in
//  the queue bound_us while no worker offered its function (since
//  queue->unoffered_since). Returns how many.
size_t zhive_pool_tasks_expire_unoffered (zhive_pool_tasks_t *self, zhive_pool_queue_t *queue,
                                          int64_t bound_us);

//  An idmap visitor that adds each task to the zlistx_t arg.
void zhive_pool_tasks_collect (uint64_t key, void *value, void *arg);

//  If an answer to (client, id) is kept, send it (kept again if it is not
//  delivered) and return true; false if there is none.
bool zhive_pool_tasks_deliver_kept (zhive_pool_tasks_t *self, zhive_pool_client_t *client,
                                    uint64_t id);

//  Answer every unanswered task with BrokerShutdown and message (not kept).
void zhive_pool_tasks_shutdown (zhive_pool_tasks_t *self, const char *message);

#pragma GCC visibility pop

#endif
