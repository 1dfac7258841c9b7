/*  =========================================================================
    zhive_broker_private - the broker actor's state, shared by its files

    The broker is one actor (one thread, one zloop). Its code is split by
    responsibility, all working on one zb_server_t:

    zhive_broker.c        the API, the actor's pipe commands, timers, drain
    zhive_broker_tasks.c  tasks, their clients and answers (kept ones too),
                          deadlines, cancel
    zhive_broker_queue.c  queues, the deadline heap, dispatch, workers and
                          the in-flight table
    zhive_broker_peers.c  what clients and workers send, and heartbeats
    zhive_broker_procs.c  local worker processes: exec and zygote

    Every task is in exactly one list at a time: its queue's waiting list,
    or the held list of the worker running it. A task whose client already
    got its answer (Timeout, Cancelled) while a worker runs it stays in the
    worker's list, detached from its client, until the worker answers or is
    lost: its late answer is dropped, and the worker's credit comes back.

    Names here use the zb_ prefix and are hidden from libzhive's exports.
    =========================================================================
*/
#ifndef ZHIVE_BROKER_PRIVATE_H_INCLUDED
#define ZHIVE_BROKER_PRIVATE_H_INCLUDED

#include "zhive_broker.h"
#include "zhive_idmap.h"
#include "zhive_pack.h"
#include "zhive_proto.h"
#include "zhive_result.h"
#include <sys/types.h>

#define ZB_TICK_MS      50         //  Deadlines and local workers are checked this often
#define ZB_BURST        256        //  Most messages read from one socket per wakeup
#define ZB_RETRIES      3          //  Default redispatches after losing a worker
#define ZB_MAX_WAITING  1000000    //  Default limit of tasks waiting in all queues
#define ZB_PREFETCH_MS  50         //  Default queued work a worker may hold beyond its slots
#define ZB_PREFETCH_MAX 1024       //  Most tasks a worker holds beyond its slots
#define ZB_HEARTBEAT_MS 1000       //  Default heartbeat interval
#define ZB_LIVENESS     3          //  Default silent intervals before a peer is dead
#define ZB_GRACE_MIN_MS 2000       //  Least grace past a deadline before a local worker is killed
#define ZB_KEEP_MS      60000      //  How long an undeliverable answer is kept
#define ZB_KEPT_MAX     100000     //  Most answers kept at once
#define ZB_KEPT_BYTES   (64 * 1024 * 1024)    //  Most bytes of kept answers
#define ZB_DRAIN_MS     10000                 //  Default drain time
#define ZB_REPLY_MS     5000                  //  How long an API call waits for the actor
#define ZB_STOP_MS      2000     //  Grace for local workers between SIGTERM and SIGKILL
#define ZB_QUICK_EXIT   1000     //  A local worker that dies sooner than this is failing
#define ZB_BACKOFF_MS   500      //  First wait before restarting a failing worker
#define ZB_BACKOFF_MAX  30000    //  Longest wait before restarting a failing worker
#define ZB_SPAWN_MS     10000    //  Longest wait for the zygote to report a new worker's pid
#define ZB_KEY_SIZE     (2 * 256 + 1)          //  A routing id in hex, as a hash key
#define ZB_TIMEOUT_MAX  (3650LL * 86400000)    //  Deadlines beyond ten years mean none

typedef struct _zb_task_t zb_task_t;
typedef struct _zb_queue_t zb_queue_t;
typedef struct _zb_worker_t zb_worker_t;
typedef struct _zb_client_t zb_client_t;
typedef struct _zb_kept_t zb_kept_t;
typedef struct _zb_group_t zb_group_t;
typedef struct _zb_server_t zb_server_t;

//  A doubly linked list threaded through the tasks themselves
typedef struct {
    zb_task_t *head;    //  Oldest task
    zb_task_t *tail;    //  Newest task
    size_t size;        //  Number of tasks
} zb_list_t;

//  A client with tasks not yet answered, or answers kept for it
struct _zb_client_t {
    char key [ZB_KEY_SIZE];    //  Routing id in hex: the key in the client table
    uint8_t routing [256];     //  Routing id, to send to
    size_t routing_size;       //  Its length
    zhive_idmap_t *pending;    //  Client task id -> task not yet answered
    zhive_idmap_t *kept;       //  Client task id -> answer it could not receive
};

//  An answer whose send failed (EHOSTUNREACH), for the client's resend
struct _zb_kept_t {
    zb_client_t *client;    //  Whose it is
    uint64_t id;            //  The client's task id
    int command;            //  ZHIVE_RESULT or ZHIVE_ERROR
    char *type;             //  ERROR: type
    char *message;          //  ERROR: message
    char *worker;           //  ERROR: worker name
    zmq_msg_t value;        //  RESULT: the value
    size_t bytes;           //  Memory it holds, for the bound
    int64_t expires;        //  zclock_mono () time it is dropped
    zb_kept_t *prev;        //  Older kept answer
    zb_kept_t *next;        //  Newer kept answer
};

struct _zb_task_t {
    uint64_t id;            //  The client's task id
    uint64_t ticket;        //  Ticket of the current dispatch; 0 while queued
    zb_client_t *client;    //  Who waits for the answer; NULL once answered
    zb_queue_t *queue;      //  Queue of its function
    zmq_msg_t args;         //  Args payload, kept for a redispatch
    int64_t timeout_ms;     //  Deadline from receipt, -1 for none
    int64_t deadline;       //  zclock_mono () time of the deadline (or of the kill, if overdue)
    bool overdue;           //  Answered, still running: the heap holds its kill time
    size_t heap_index;      //  Position in the deadline heap, SIZE_MAX if none
    int64_t retries;        //  Redispatches allowed after losing a worker
    int64_t attempts;       //  Dispatches that lost their worker so far
    uint32_t chunk;         //  Items in a chunked payload, 0 = one task
    int64_t sent_us;        //  When it was dispatched (zb_server_t now_us)
    zb_worker_t *worker;    //  Worker holding it; NULL while queued
    zb_task_t *prev;        //  Previous in its list
    zb_task_t *next;        //  Next in its list
};

struct _zb_queue_t {
    char *function;           //  Function name: the key in the queue table
    zb_list_t waiting;        //  Tasks waiting for a worker, oldest first
    size_t in_flight;         //  Tasks of this function held by workers
    zb_worker_t **workers;    //  Workers that offer the function
    size_t workers_count;     //  Entries in workers
    size_t workers_max;       //  Allocated entries in workers
    size_t next_worker;       //  Round-robin position in workers
};

struct _zb_worker_t {
    char key [ZB_KEY_SIZE];            //  Routing id in hex: the key in the worker table
    uint8_t routing [256];             //  Routing id, to send to
    size_t routing_size;               //  Its length
    char name [ZHIVE_NAME_MAX + 1];    //  Name from READY, for errors and logs
    char host [ZHIVE_NAME_MAX + 1];    //  Host from READY
    uint64_t pid;                      //  Process id from READY
    uint32_t concurrency;              //  Task slots from READY
    uint64_t max_tasks;                //  Tasks it takes in all from its READY on, 0 = no limit
    uint64_t dispatched;               //  Tasks sent to it since its READY
    bool draining;                     //  It said DRAINING: send it nothing more
    int64_t joined;                    //  When its first READY came (zclock_mono)
    uint64_t done;                     //  Tasks it answered (DONE or FAILED)
    zb_list_t held;                    //  Tasks it holds, in dispatch order
    uint32_t prefetch;                 //  Tasks it may hold beyond its slots
    zb_queue_t **queues;               //  Queues of the functions it offers
    size_t queues_count;               //  Entries in queues
    size_t next_queue;                 //  Round-robin position in queues
};

//  A local worker process
typedef struct {
    pid_t pid;            //  Process id; 0 while waiting to (re)start, -1 while the zygote forks it
    bool by_zygote;       //  Forked by the zygote: not our child, its exit comes as a line
    int64_t requested;    //  When its start was asked for (zclock_mono)
    int64_t restart_at;      //  When to start it again, while pid is 0
    uint64_t spawn_order;    //  While the zygote forks it: the order of its spawn line
    int quick_exits;         //  Exits soon after start, in a row: the backoff
    bool retired;            //  It reached its task limit: an exit 0 is its normal end
    bool was_ready;          //  It sent READY: it started fine, whatever ended it
    bool killed;             //  The broker killed it (it overran a deadline)
} zb_child_t;

//  Local workers started by one START-WORKERS: the same arguments for all
struct _zb_group_t {
    zb_server_t *server;      //  The broker it belongs to
    char **argv;              //  zhive-worker and its arguments, NULL-terminated
    zb_child_t *children;     //  The worker processes
    size_t children_count;    //  Entries in children
    bool zygote_wanted;       //  Started with the zygote method (until the zygote fails)
    pid_t zygote_pid;         //  The zygote process, 0 if none
    int zygote_in;            //  Pipe to its stdin (spawn lines), -1 if none
    int zygote_out;           //  Pipe from its stdout (pid / exit lines), -1 if none
    char line [256];          //  Partial line read from the zygote
    size_t line_size;         //  Bytes in line
    uint64_t spawns;          //  Spawn lines written to the zygote
};

struct _zb_server_t {
    zsock_t *pipe;                //  Pipe to the API (zhive_broker_t)
    zloop_t *loop;                //  The one event loop
    zsock_t *client_sock;         //  ROUTER for clients
    zsock_t *worker_sock;         //  ROUTER for workers
    zactor_t *monitor;            //  Disconnect events of the worker socket
    char *worker_endpoint;        //  Resolved worker endpoint, for local workers
    zhive_proto_t *in;            //  Message being read
    zhive_proto_t *out;           //  Message being sent
    zhive_pack_t *pack;           //  Buffer for STATUS_REPLY maps
    zhashx_t *queues;             //  Function name -> zb_queue_t
    zhashx_t *workers;            //  Routing key -> zb_worker_t
    zhashx_t *clients;            //  Routing key -> zb_client_t
    zb_client_t *recent;          //  Client of the last lookup: kept even when idle
    zhive_idmap_t *in_flight;     //  Ticket -> zb_task_t held by a worker
    zb_task_t **heap;             //  Min-heap of tasks by deadline
    size_t heap_size;             //  Entries in heap
    size_t heap_max;              //  Allocated entries in heap
    uint64_t next_ticket;         //  Ticket for the next dispatch
    int64_t now_us;               //  Monotonic clock in µs, read once per burst of messages
    int64_t prefetch_us;          //  Work a worker may hold queued beyond its slots, 0 = none
    size_t tasks;                 //  Tasks held, all states
    size_t waiting;               //  Tasks waiting in all queues
    size_t unanswered;            //  Tasks whose client still waits
    bool redispatch;              //  A worker was lost: look at every queue again
    zb_kept_t *kept_oldest;       //  Kept answers, oldest first
    zb_kept_t *kept_newest;       //  The newest kept answer
    size_t kept_count;            //  Kept answers
    size_t kept_bytes;            //  Memory they hold
    int heartbeat_ms;             //  Heartbeat interval
    int liveness;                 //  Silent intervals before a peer is dead
    int heartbeat_timer;          //  zloop timer id of the heartbeat
    bool probe_armed;             //  A probe of every worker is due (a connection closed)
    size_t max_waiting;           //  Limit of tasks waiting in all queues, 0 = none
    size_t max_per_function;      //  Limit of tasks waiting in one queue, 0 = none
    int64_t retries;              //  Default redispatches after losing a worker
    uint64_t worker_max_tasks;    //  --max-tasks for local workers, 0 = none
    bool use_zygote;              //  Start local workers through a zygote
    char *worker_program;         //  Program set by the API, NULL for the default
    zb_group_t **groups;          //  Local worker groups
    size_t groups_count;          //  Entries in groups
    char hostname [256];          //  This host, to match READY from local workers
    bool verbose;                 //  Log joins, losses and bad input
    bool terminated;              //  $TERM received
    bool draining;                //  Refusing new tasks, finishing the accepted ones
    int drain_ms;                 //  The drain time asked for
    int64_t drain_until;          //  When the drain gives up
    bool drained;                 //  Stopped on its own after a drain
    zcert_t *curve_cert;          //  CURVE: the broker's certificate; NULL: plain
    char *curve_secret_path;      //  CURVE: its file, passed on to local workers
    char *curve_allow_dir;        //  CURVE: directory of allowed public keys, or NULL
    zhashx_t *curve_allowed;      //  CURVE: allowed Z85 key -> the file it came from
    zsock_t *zap;                 //  CURVE: the ZAP handler (REP)
    zactor_t *client_monitor;     //  CURVE: failed handshakes on the client socket
};

//  ---------------------------------------------------------------------
//  Logging (zhive_broker_tasks.c): zb_log only when verbose, zb_warn always
void zb_log (zb_server_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
void zb_warn (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  ---------------------------------------------------------------------
//  Tasks, clients, answers, deadlines (zhive_broker_tasks.c)

//  Write a routing id as a hex key of ZB_KEY_SIZE bytes
void zb_routing_key (char *key, const uint8_t *routing, size_t size);

//  Address self->out to a peer, with a command; returns self->out
zhive_proto_t *zb_out (zb_server_t *self, const uint8_t *routing, size_t size, int command);

//  Send self->out; -1 with errno (EHOSTUNREACH: the peer has gone)
int zb_send (zb_server_t *self, zsock_t *sock);

//  Send an ERROR that belongs to no task (Malformed, refusals)
void zb_send_error (zb_server_t *self, const uint8_t *routing, size_t size, uint64_t id,
                    const char *type, const char *message, const char *worker);

//  The client of this routing id, created if needed (NULL: out of memory)
zb_client_t *zb_client_require (zb_server_t *self, const uint8_t *routing, size_t size);

//  The client of this routing id, or NULL
zb_client_t *zb_client_lookup (zb_server_t *self, const uint8_t *routing, size_t size);

//  Forget a client once nothing of it is pending or kept
void zb_client_release (zb_server_t *self, zb_client_t *client);

//  Send the kept answer for (client, id) if there is one, and drop it.
//  Returns true if there was one.
bool zb_kept_deliver (zb_server_t *self, zb_client_t *client, uint64_t id);

//  Drop kept answers past their time
void zb_kept_expire (zb_server_t *self, int64_t now);

//  Drop every kept answer
void zb_kept_purge (zb_server_t *self);

//  Answer the task's client with RESULT (takes the value) or ERROR, once,
//  keeping the answer if the client is not connected
void zb_task_result (zb_server_t *self, zb_task_t *task, zmq_msg_t *value);
void zb_task_fail (zb_server_t *self, zb_task_t *task, const char *type, const char *message,
                   const char *worker);

//  Free a task that is in no list any more
void zb_task_destroy (zb_server_t *self, zb_task_t **task_p);

//  Drop a task on the client's word or at its deadline, answering with
//  `type` if not NULL. A running task stays with its worker, which is sent
//  CANCEL, until the worker answers.
void zb_task_cancel (zb_server_t *self, zb_task_t *task, const char *type, const char *message);

//  A client said BYE: drop its tasks without answers (running ones are
//  cancelled at their workers)
void zb_client_tasks_drop (zb_server_t *self, zb_client_t *client);

//  Time out tasks whose deadline passed; act on running ones past the grace
void zb_deadlines_check (zb_server_t *self, int64_t now);

//  Grace past a deadline before a local worker still running the task is killed
int64_t zb_grace_ms (zb_server_t *self);

//  Answer every unanswered task with BrokerShutdown
void zb_tasks_shutdown (zb_server_t *self, const char *message);

//  ---------------------------------------------------------------------
//  Queues, the deadline heap, dispatch, workers (zhive_broker_queue.c)

//  Add a task to the deadline heap (-1: out of memory), or take it out
int zb_heap_push (zb_server_t *self, zb_task_t *task);
void zb_heap_remove (zb_server_t *self, zb_task_t *task);

//  Take a waiting task out of its queue
void zb_wait_remove (zb_server_t *self, zb_task_t *task);

//  The worker holding a task answered: the task leaves its held list and
//  the in-flight table (the worker's credit comes back)
void zb_task_unhold (zb_server_t *self, zb_task_t *task);

//  The queue of a function, created if needed (NULL: out of memory)
zb_queue_t *zb_queue_require (zb_server_t *self, const char *function);

//  Put a new task at the back of its queue, arm its deadline, and
//  dispatch it if it can go at once
void zb_queue_submit (zb_server_t *self, zb_task_t *task);

//  Drop queues nobody uses; free them all with every task (at the end)
void zb_queues_prune (zb_server_t *self);
void zb_queues_destroy (zb_server_t *self);

//  Add or drop a worker among the workers of a queue. Add returns 0, 1 if
//  it was there already, -1 if out of memory.
int zb_queue_add_worker (zb_queue_t *queue, zb_worker_t *worker);
void zb_queue_remove_worker (zb_queue_t *queue, zb_worker_t *worker);

//  Tasks a worker may still be sent right now
size_t zb_worker_credit (const zb_worker_t *worker);

//  A worker answered a task sent at sent_us: learn how long its tasks take
void zb_worker_measure (zb_server_t *self, zb_worker_t *worker, int64_t sent_us);

//  Read the clock into self->now_us (once per burst of messages or timer)
void zb_clock (zb_server_t *self);

//  Forget a worker; tasks it held go back to their queues or fail with
//  WorkerLost past their retries. Call zb_settle afterwards.
void zb_worker_remove (zb_server_t *self, zb_worker_t *worker, const char *why);

//  Remove every worker with this pid on `host` (NULL: this host) and, if
//  name is not NULL, this name; but not `keep`
void zb_workers_remove_matching (zb_server_t *self, const zb_worker_t *keep, const char *host,
                                 const char *name, uint64_t pid, const char *why);

//  Free every worker with the tasks it holds (at the end)
void zb_workers_destroy (zb_server_t *self);

//  True if the host named in READY is this one
bool zb_host_is_local (zb_server_t *self, const char *host);

//  Use a worker's credit on the queues it serves
void zb_worker_feed (zb_server_t *self, zb_worker_t *worker);

//  After a worker was lost, its tasks wait in their queues: hand them on
void zb_settle (zb_server_t *self);

//  ---------------------------------------------------------------------
//  Peers (zhive_broker_peers.c)

//  zloop readers of the client and worker sockets
int zb_on_clients (zloop_t *loop, zsock_t *sock, void *arg);
int zb_on_workers (zloop_t *loop, zsock_t *sock, void *arg);

//  HEARTBEAT every worker (and lose those whose connection is gone) and
//  every client that waits for answers
void zb_heartbeat (zb_server_t *self);

//  Send HEARTBEAT to every worker and lose those unreachable
void zb_workers_probe (zb_server_t *self);

//  ---------------------------------------------------------------------
//  Local worker processes (zhive_broker_procs.c)

//  START-WORKERS count concurrency [load ...]: 0, or -1 with error set
int zb_procs_start (zb_server_t *self, zmsg_t *msg, char *error, size_t error_size);

//  Reap (exec) local workers that exited and start the ones due
void zb_procs_check (zb_server_t *self);

//  The local worker process with this pid, or NULL
zb_child_t *zb_procs_child (zb_server_t *self, uint64_t pid);

//  A worker joined: if it is a local one, log how long it took to start
void zb_procs_ready (zb_server_t *self, const zb_worker_t *worker);

//  Kill a local worker that overran a deadline; 0 if it was local
int zb_procs_kill (zb_server_t *self, uint64_t pid, const char *why);

//  Stop every local worker (and zygote) and free the groups
void zb_procs_stop (zb_server_t *self);

//  ---------------------------------------------------------------------
//  CURVE security (zhive_broker_curve.c)

//  Pipe requests CURVE secret-path allow-dir ("" for none) and
//  CURVE-RELOAD: act and answer [serial, OK|ERROR, value]
void zb_curve_request (zb_server_t *self, const char *command, zmsg_t *msg, const char *serial);

//  Log a HANDSHAKE_FAILED_* event of a socket monitor ("clients" or
//  "workers" socket); reads the event's frames
void zb_curve_handshake_failed (zb_server_t *self, const char *which, zmsg_t *event);

//  Free the CURVE state; the ZAP handler is closed. Call after the
//  sockets are destroyed (and the client monitor before them)
void zb_curve_destroy (zb_server_t *self);

#endif
