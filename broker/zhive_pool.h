/*  =========================================================================
    zhive_pool - the broker's pool model: a socket-free state machine

    The pool holds tasks, one FIFO queue per function, workers with their
    credit, the in-flight table (ticket -> task), deadlines, retries, the
    kept answers, the limits and the drain state. It reads no clock and
    owns no socket: each event below is a call that passes `now` (µs of a
    monotonic clock), and the pool acts on the world only through the
    operations table it was made with. The broker actor decodes messages
    into events and implements the operations with sends; a test drives
    the same events with a fake table.

    Every task is in exactly one list at a time: its queue's waiting list,
    or the held list of the worker running it. A task whose client already
    got its answer (Timeout, Cancelled) while a worker runs it stays with
    that worker, detached from its client, until the worker answers or is
    lost: the late answer is dropped, and the worker's credit comes back.

    Tickets are incarnation << 32 | sequence: the incarnation is a random
    non-zero 32-bit number of this broker (from the `incarnation` op), the
    sequence counts dispatches from 1. When the sequence would wrap, the
    pool takes a new incarnation, tells every worker (WELCOME), and puts
    tasks dispatched under the old one back at the head of their queues
    (no retry counted; their workers get CANCEL).
    =========================================================================
*/
#ifndef ZHIVE_POOL_H_INCLUDED
#define ZHIVE_POOL_H_INCLUDED

#include "zhive_pack.h"
#include "zhive_peer.h"
#include "zhive_pool_errors.h"
#include "zhive_pool_queue.h"
#include <czmq.h>

#pragma GCC visibility push(hidden)

#define ZHIVE_POOL_RETRIES        3                         //  Default redispatches after a loss
#define ZHIVE_POOL_MAX_WAITING    1000000                   //  Default limit of waiting tasks
#define ZHIVE_POOL_MAX_PER_CLIENT 100000                    //  Default limit per client
#define ZHIVE_POOL_MAX_BYTES      (1024LL * 1024 * 1024)    //  Default limit of waiting args bytes
#define ZHIVE_POOL_PREFETCH_US    50000                     //  Default prefetch time
#define ZHIVE_POOL_TIMEOUT_MAX    (3650LL * 86400000)       //  Deadlines past ten years mean none
#define ZHIVE_POOL_UNOFFERED_MS                                                                    \
    30000                              //  Default wait for an unoffered function (as the broker's)
#define ZHIVE_POOL_RETIRED_MAX 4096    //  Pruned functions whose counters are kept

typedef struct _zhive_pool_t zhive_pool_t;

//  What a TASK send came to
typedef enum {
    ZHIVE_POOL_SENT,    //  On its way
    ZHIVE_POOL_FULL,    //  The worker's pipe is full: the task goes back to the head of its queue
    ZHIVE_POOL_GONE     //  The worker is unreachable: it is lost
} zhive_pool_send_t;

//  The pool's only ways to act: given at creation, called with its arg
typedef struct {
    //  Send TASK [ticket, function, timeout_ms (time left, -1 none), chunk]
    //  with args (a frame sharing the task's data: the op may move it out)
    zhive_pool_send_t (*send_task) (void *arg, const zhive_peer_t *worker, uint64_t ticket,
                                    const char *function, int64_t timeout_ms, uint32_t chunk,
                                    zmq_msg_t *args);
    //  Answer a client: RESULT with value (the op may move it out) if value
    //  is not NULL, else ERROR type/message/worker. Returns true if it was
    //  delivered; an undelivered answer to a task is kept for a resend.
    bool (*answer) (void *arg, const zhive_peer_t *client, uint64_t id, zmq_msg_t *value,
                    const char *type, const char *message, const char *worker);
    //  Send CANCEL [ticket] to a worker
    void (*cancel) (void *arg, const zhive_peer_t *worker, uint64_t ticket);
    //  Kill the local process pid (it overran a deadline): 0 if it was
    //  one of the broker's own and is killed, -1 if not
    int (*kill) (void *arg, uint64_t pid, const char *why);
    //  Send WELCOME [incarnation] to a worker
    void (*welcome) (void *arg, const zhive_peer_t *worker, uint32_t incarnation);
    //  A new random non-zero incarnation (when the sequence wraps)
    uint32_t (*incarnation) (void *arg);
} zhive_pool_ops_t;

//  What a READY says, and what the broker knows of the worker itself
typedef struct {
    const char *name;                //  Its name, "" for host:pid
    const char *host;                //  Its host
    uint64_t pid;                    //  Its process id
    uint32_t concurrency;            //  Task slots
    uint64_t max_tasks;              //  Tasks it takes from now on, 0 = no limit
    const char *const *functions;    //  Functions it offers
    size_t functions_count;          //  How many
    bool local;                      //  The broker's own record: it runs on the broker's host
} zhive_pool_ready_t;

//  Counters of the whole pool
typedef struct {
    zhive_pool_stats_t tasks;    //  Summed over every function, pruned ones too
    uint64_t unknown;            //  Answers dropped: ticket not in flight (late, duplicate)
    uint64_t foreign;            //  Of those, tickets of another incarnation
    uint64_t kept;               //  Answers kept for a resend
    uint64_t kept_delivered;     //  Kept answers delivered on a resend
} zhive_pool_counters_t;

//  One function as metrics see it: its queue now, and its counters and
//  histograms since the pool began (those of its pruned queues added)
typedef struct {
    const char *function;               //  Its name
    size_t waiting;                     //  Tasks waiting in its queue
    size_t in_flight;                   //  Its tasks that workers hold
    size_t workers;                     //  Workers offering it
    int64_t oldest_us;                  //  How long the head of its queue has waited, 0 none
    zhive_pool_stats_t stats;           //  Its counters
    zhive_pool_histogram_t wait;        //  Times from entering the queue to dispatch
    zhive_pool_histogram_t duration;    //  Times from dispatch to a worker's answer
} zhive_pool_function_t;

//  ---------------------------------------------------------------------
//  Life and settings

//  Create a pool acting through ops (copied) with arg, tickets of this
//  incarnation (non-zero). NULL if out of memory.
zhive_pool_t *zhive_pool_new (const zhive_pool_ops_t *ops, void *arg, uint32_t incarnation);

//  Destroy the pool, its tasks (without answers) and kept answers. Safe
//  with *self_p NULL.
void zhive_pool_destroy (zhive_pool_t **self_p);

//  Log joins, losses, drops (zhive_log debug).
void zhive_pool_set_verbose (zhive_pool_t *self, bool verbose);

//  Waiting tasks allowed in all queues and in one (0 = no limit).
void zhive_pool_set_max_queue (zhive_pool_t *self, size_t total, size_t per_function);

//  Waiting tasks allowed per client (0 = no limit).
void zhive_pool_set_max_per_client (zhive_pool_t *self, size_t max);

//  Bytes of arguments of waiting tasks allowed in all (0 = no limit).
void zhive_pool_set_max_bytes (zhive_pool_t *self, uint64_t max);

//  Default redispatches after losing a worker.
void zhive_pool_set_retries (zhive_pool_t *self, int64_t retries);

//  Prefetch time in µs (0: exactly one task per slot).
void zhive_pool_set_prefetch (zhive_pool_t *self, int64_t prefetch_us);

//  Grace past a deadline before a local worker still running the task is
//  killed (zhive_grace_ms of the heartbeat settings).
void zhive_pool_set_grace (zhive_pool_t *self, int64_t grace_ms);

//  How long a task may wait while no worker offers its function before it
//  is answered UnknownFunction, in ms (0: for ever, until its deadline).
void zhive_pool_set_unoffered (zhive_pool_t *self, int64_t timeout_ms);

//  Bounds of the kept answers (defaults ZHIVE_KEPT_*). Call before any
//  answer is kept; returns 0 or -1 (out of memory).
int zhive_pool_set_kept (zhive_pool_t *self, size_t max_count, size_t max_bytes, int64_t keep_ms);

//  The next dispatch's sequence number (for tests of the wrap).
void zhive_pool_set_sequence (zhive_pool_t *self, uint32_t sequence);

//  ---------------------------------------------------------------------
//  Events from clients

//  SUBMIT: a task (args moved in, the source left empty). A resend of a
//  pending task is ignored; a resend of a task whose answer is kept gets
//  that answer; a refused task gets QueueFull or BrokerShutdown.
void zhive_pool_submit (zhive_pool_t *self, int64_t now, const zhive_peer_t *client, uint64_t id,
                        const char *function, zmq_msg_t *args, int64_t timeout_ms, int64_t retries,
                        uint32_t chunk);

//  CANCEL: answer the task Cancelled; a running one gets CANCEL at its worker.
void zhive_pool_cancel (zhive_pool_t *self, int64_t now, const zhive_peer_t *client, uint64_t id);

//  The client is gone (BYE): drop its waiting tasks without answers and
//  cancel its running ones at their workers.
void zhive_pool_client_gone (zhive_pool_t *self, int64_t now, const zhive_peer_t *client);

//  ---------------------------------------------------------------------
//  Events from workers

//  READY: a new worker, or new facts about a known one (tasks it holds
//  stay with it); answered with WELCOME. Returns 0, or -1 if out of
//  memory (the worker is then lost).
int zhive_pool_worker_ready (zhive_pool_t *self, int64_t now, const zhive_peer_t *worker,
                             const zhive_pool_ready_t *ready);

//  DONE with a value (moved in: the source is left an empty message) /
//  FAILED with type and message.
void zhive_pool_worker_done (zhive_pool_t *self, int64_t now, const zhive_peer_t *worker,
                             uint64_t ticket, zmq_msg_t *value);
void zhive_pool_worker_failed (zhive_pool_t *self, int64_t now, const zhive_peer_t *worker,
                               uint64_t ticket, const char *type, const char *message);

//  DRAINING: send it nothing more.
void zhive_pool_worker_draining (zhive_pool_t *self, int64_t now, const zhive_peer_t *worker);

//  The worker is lost (BYE, malformed, unreachable): its tasks go back to
//  the head of their queues, or fail WorkerLost past their retries.
void zhive_pool_worker_lost (zhive_pool_t *self, int64_t now, const zhive_peer_t *worker,
                             const char *why);

//  A local process ended: every local worker with that pid is lost.
void zhive_pool_local_exited (zhive_pool_t *self, int64_t now, uint64_t pid, const char *why);

//  ---------------------------------------------------------------------
//  Time and stopping

//  Time out tasks past their deadline (Timeout, CANCEL at the worker),
//  kill local workers still running a task past deadline + grace, answer
//  UnknownFunction to tasks that waited the unoffered bound while no
//  worker offered their function, and drop kept answers past their time.
void zhive_pool_tick (zhive_pool_t *self, int64_t now);

//  Forget queues nobody uses (their counters stay in the totals, and in
//  the function's counters that zhive_pool_each_function visits).
void zhive_pool_prune (zhive_pool_t *self);

//  Start a drain: refuse new tasks (BrokerShutdown), finish accepted ones,
//  for at most timeout_ms.
void zhive_pool_drain (zhive_pool_t *self, int64_t now, int64_t timeout_ms);

//  Where a drain stands: 0 none or going on, 1 every accepted task is
//  answered, 2 its time is up.
int zhive_pool_drain_state (zhive_pool_t *self, int64_t now);

//  Answer every unanswered task with BrokerShutdown and message (not kept).
void zhive_pool_shutdown (zhive_pool_t *self, const char *message);

//  ---------------------------------------------------------------------
//  What the pool holds

//  Workers known, tasks waiting in queues, tasks whose client still waits.
size_t zhive_pool_workers (zhive_pool_t *self);
size_t zhive_pool_waiting (zhive_pool_t *self);
size_t zhive_pool_unanswered (zhive_pool_t *self);

//  The incarnation tickets are made with now.
uint32_t zhive_pool_incarnation (zhive_pool_t *self);

//  Visit every worker's peer / every client with unanswered tasks (do not
//  send events to the pool while visiting).
typedef void (zhive_pool_peer_fn) (const zhive_peer_t *peer, void *arg);
void zhive_pool_each_worker (zhive_pool_t *self, zhive_pool_peer_fn *fn, void *arg);
void zhive_pool_each_waiting_client (zhive_pool_t *self, zhive_pool_peer_fn *fn, void *arg);

//  Visit every function the pool has a queue or kept counters for, and
//  every worker (do not send events to the pool while visiting; what the
//  visitor gets lasts for the call only).
typedef void (zhive_pool_function_fn) (const zhive_pool_function_t *function, void *arg);
void zhive_pool_each_function (zhive_pool_t *self, int64_t now, zhive_pool_function_fn *fn,
                               void *arg);
typedef void (zhive_pool_member_fn) (const zhive_pool_member_t *worker, void *arg);
void zhive_pool_each_member (zhive_pool_t *self, zhive_pool_member_fn *fn, void *arg);

//  Pack the STATUS_REPLY map (docs/protocol.md) into pack (reset first).
void zhive_pool_status (zhive_pool_t *self, zhive_pack_t *pack);

//  Counters of one function (NULL if it has no queue now), and of all.
const zhive_pool_stats_t *zhive_pool_function_stats (zhive_pool_t *self, const char *function);
const zhive_pool_counters_t *zhive_pool_counters (zhive_pool_t *self);

//  The last tasks that ended in an error (zhive_pool_errors: newest
//  first, bounded), for the dashboard.
const zhive_pool_errors_t *zhive_pool_errors (zhive_pool_t *self);

#pragma GCC visibility pop

#endif
