/*  =========================================================================
    zhive_broker - the pool manager

    The API below talks to an actor (one thread, one zloop) over its pipe,
    as malamute's mlm_server does: BIND, VERBOSE, WORKER-PROGRAM,
    START-WORKERS, WORKERS-READY, $TERM. Inside the actor:

    - a ROUTER for clients and a ROUTER for workers, read in bursts;
    - one FIFO queue per function: an intrusive list of tasks, plus the
      workers that offer the function;
    - a worker's credit is its concurrency minus the tasks it holds; a task
      goes only to a worker that offers its function and has credit;
    - an in-flight table (ticket -> task) for the answers, and a min-heap of
      deadlines scanned by one periodic timer;
    - local worker processes, started with fork/exec and watched with
      waitpid (WNOHANG) from the same timer.

    Every task is in exactly one list at a time: its queue's waiting list,
    or the held list of the worker running it. A task whose client already
    got its answer (Timeout, Cancelled) while a worker runs it stays in the
    worker's list, detached from its client, until the worker answers or is
    lost: its late answer is dropped, and the worker's credit comes back.
    =========================================================================
*/
#include "zhive_broker.h"
#include "zhive_idmap.h"
#include "zhive_pack.h"
#include "zhive_proto.h"
#include "zhive_result.h"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#define S_TICK_MS      50               //  Deadlines and local workers are checked this often
#define S_HEARTBEAT_MS 1000             //  Workers are pinged and idle queues dropped this often
#define S_BURST        256              //  Most messages read from one socket per wakeup
#define S_RETRIES      3                //  Default redispatches after losing a worker
#define S_TASKS_MAX    1000000          //  Tasks held at once before SUBMIT gets QueueFull
#define S_REPLY_MS     5000             //  How long an API call waits for the actor
#define S_STOP_MS      2000             //  Grace for local workers between SIGTERM and SIGKILL
#define S_QUICK_EXIT   1000             //  A local worker that dies sooner than this is failing
#define S_BACKOFF_MS   500              //  First wait before restarting a failing worker
#define S_BACKOFF_MAX  30000            //  Longest wait before restarting a failing worker
#define S_KEY_SIZE     (2 * 256 + 1)    //  A routing id in hex, as a hash key
#define S_TIMEOUT_MAX  (3650LL * 86400000)    //  Deadlines beyond ten years mean none

typedef struct _s_task_t s_task_t;
typedef struct _s_queue_t s_queue_t;
typedef struct _s_worker_t s_worker_t;

//  A doubly linked list threaded through the tasks themselves
typedef struct {
    s_task_t *head;    //  Oldest task
    s_task_t *tail;    //  Newest task
    size_t size;       //  Number of tasks
} s_list_t;

//  A client with tasks not yet answered
typedef struct {
    char key [S_KEY_SIZE];     //  Routing id in hex: the key in the client table
    uint8_t routing [256];     //  Routing id, to send to
    size_t routing_size;       //  Its length
    zhive_idmap_t *pending;    //  Client task id -> task not yet answered
} s_client_t;

struct _s_task_t {
    uint64_t id;           //  The client's task id
    uint64_t ticket;       //  Ticket of the current dispatch; 0 while queued
    s_client_t *client;    //  Who waits for the answer; NULL once answered
    s_queue_t *queue;      //  Queue of its function
    zmq_msg_t args;        //  Args payload, kept for a redispatch
    int64_t timeout_ms;    //  Deadline from receipt, -1 for none
    int64_t deadline;      //  zclock_mono () time of the deadline
    size_t heap_index;     //  Position in the deadline heap, SIZE_MAX if none
    int64_t retries;       //  Redispatches allowed after losing a worker
    int64_t attempts;      //  Dispatches that lost their worker so far
    s_worker_t *worker;    //  Worker holding it; NULL while queued
    s_task_t *prev;        //  Previous in its list
    s_task_t *next;        //  Next in its list
};

struct _s_queue_t {
    char *function;          //  Function name: the key in the queue table
    s_list_t waiting;        //  Tasks waiting for a worker, oldest first
    size_t in_flight;        //  Tasks of this function held by workers
    s_worker_t **workers;    //  Workers that offer the function
    size_t workers_count;    //  Entries in workers
    size_t workers_max;      //  Allocated entries in workers
    size_t next_worker;      //  Round-robin position in workers
};

struct _s_worker_t {
    char key [S_KEY_SIZE];             //  Routing id in hex: the key in the worker table
    uint8_t routing [256];             //  Routing id, to send to
    size_t routing_size;               //  Its length
    char name [ZHIVE_NAME_MAX + 1];    //  Name from READY, for errors and logs
    char host [ZHIVE_NAME_MAX + 1];    //  Host from READY
    uint64_t pid;                      //  Process id from READY
    uint32_t concurrency;              //  Task slots from READY
    uint64_t done;                     //  Tasks it answered (DONE or FAILED)
    s_list_t held;                     //  Tasks it holds, in dispatch order
    s_queue_t **queues;                //  Queues of the functions it offers
    size_t queues_count;               //  Entries in queues
    size_t next_queue;                 //  Round-robin position in queues
};

//  A local worker process
typedef struct {
    pid_t pid;             //  Process id; 0 while waiting to (re)start
    char **argv;           //  Program and arguments, NULL-terminated
    int64_t started;       //  When it was started (zclock_mono)
    int64_t restart_at;    //  When to start it again, while pid is 0
    int quick_exits;       //  Exits soon after start, in a row: the backoff
} s_child_t;

//  The actor's state
typedef struct {
    zsock_t *pipe;               //  Pipe to the API (zhive_broker_t)
    zloop_t *loop;               //  The one event loop
    zsock_t *client_sock;        //  ROUTER for clients
    zsock_t *worker_sock;        //  ROUTER for workers
    char *worker_endpoint;       //  Resolved worker endpoint, for local workers
    zhive_proto_t *in;           //  Message being read
    zhive_proto_t *out;          //  Message being sent
    zhive_pack_t *pack;          //  Buffer for STATUS_REPLY maps
    zhashx_t *queues;            //  Function name -> s_queue_t
    zhashx_t *workers;           //  Routing key -> s_worker_t
    zhashx_t *clients;           //  Routing key -> s_client_t
    zhive_idmap_t *in_flight;    //  Ticket -> s_task_t held by a worker
    s_task_t **heap;             //  Min-heap of tasks by deadline
    size_t heap_size;            //  Entries in heap
    size_t heap_max;             //  Allocated entries in heap
    uint64_t next_ticket;        //  Ticket for the next dispatch
    size_t tasks;                //  Tasks held, all states
    bool redispatch;             //  A worker was lost: look at every queue again
    char *worker_program;        //  Program set by the API, NULL for the default
    s_child_t *children;         //  Local worker processes
    size_t children_count;       //  Entries in children
    char hostname [256];         //  This host, to match READY from local workers
    bool verbose;                //  Log joins, losses and bad input
    bool terminated;             //  $TERM received
} s_server_t;

//  ---------------------------------------------------------------------
//  Logging: s_log only when verbose, s_warn always

static void
s_vlog (const char *format, va_list args)
{
    char line [1024];
    vsnprintf (line, sizeof line, format, args);
    fprintf (stderr, "zhive-broker: %s\n", line);
}

static void
s_log (s_server_t *self, const char *format, ...)
{
    if (!self->verbose)
        return;
    va_list args;
    va_start (args, format);
    s_vlog (format, args);
    va_end (args);
}

static void
s_warn (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vlog (format, args);
    va_end (args);
}

//  ---------------------------------------------------------------------
//  Lists of tasks

static void
s_list_push_back (s_list_t *list, s_task_t *task)
{
    task->next = NULL;
    task->prev = list->tail;
    if (list->tail)
        list->tail->next = task;
    else
        list->head = task;
    list->tail = task;
    list->size++;
}

static void
s_list_push_front (s_list_t *list, s_task_t *task)
{
    task->prev = NULL;
    task->next = list->head;
    if (list->head)
        list->head->prev = task;
    else
        list->tail = task;
    list->head = task;
    list->size++;
}

static void
s_list_remove (s_list_t *list, s_task_t *task)
{
    if (task->prev)
        task->prev->next = task->next;
    else
        list->head = task->next;
    if (task->next)
        task->next->prev = task->prev;
    else
        list->tail = task->prev;
    task->prev = task->next = NULL;
    list->size--;
}

//  ---------------------------------------------------------------------
//  The deadline heap: O(log n) per task, one timer for all of them

static void
s_heap_swap (s_server_t *self, size_t a, size_t b)
{
    s_task_t *task = self->heap [a];
    self->heap [a] = self->heap [b];
    self->heap [b] = task;
    self->heap [a]->heap_index = a;
    self->heap [b]->heap_index = b;
}

static void
s_heap_up (s_server_t *self, size_t at)
{
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (self->heap [parent]->deadline <= self->heap [at]->deadline)
            break;
        s_heap_swap (self, parent, at);
        at = parent;
    }
}

static void
s_heap_down (s_server_t *self, size_t at)
{
    while (true) {
        size_t least = at;
        size_t left = 2 * at + 1;
        size_t right = left + 1;
        if (left < self->heap_size && self->heap [left]->deadline < self->heap [least]->deadline) {
            least = left;
        }
        if (right < self->heap_size &&
            self->heap [right]->deadline < self->heap [least]->deadline) {
            least = right;
        }
        if (least == at)
            break;
        s_heap_swap (self, at, least);
        at = least;
    }
}

static int
s_heap_push (s_server_t *self, s_task_t *task)
{
    if (self->heap_size == self->heap_max) {
        size_t max = self->heap_max ? self->heap_max * 2 : 256;
        s_task_t **heap = (s_task_t **) realloc (self->heap, max * sizeof (s_task_t *));
        if (!heap)
            return -1;
        self->heap = heap;
        self->heap_max = max;
    }
    task->heap_index = self->heap_size++;
    self->heap [task->heap_index] = task;
    s_heap_up (self, task->heap_index);
    return 0;
}

static void
s_heap_remove (s_server_t *self, s_task_t *task)
{
    size_t at = task->heap_index;
    if (at == SIZE_MAX)
        return;
    size_t last = --self->heap_size;
    if (at != last) {
        self->heap [at] = self->heap [last];
        self->heap [at]->heap_index = at;
        s_heap_down (self, at);
        s_heap_up (self, at);
    }
    task->heap_index = SIZE_MAX;
}

//  ---------------------------------------------------------------------
//  Sending

static void
s_routing_key (char *key, const uint8_t *routing, size_t size)
{
    static const char hex [] = "0123456789abcdef";
    for (size_t i = 0; i < size && i < 256; i++) {
        key [2 * i] = hex [routing [i] >> 4];
        key [2 * i + 1] = hex [routing [i] & 15];
    }
    key [2 * (size < 256 ? size : 256)] = 0;
}

//  Address the outgoing message to a peer
static zhive_proto_t *
s_out (s_server_t *self, const uint8_t *routing, size_t size, int command)
{
    zhive_proto_t *out = self->out;
    memcpy (out->routing, routing, size);
    out->routing_size = size;
    out->command = command;
    return out;
}

static int
s_send (s_server_t *self, zsock_t *sock)
{
    int rc = zhive_proto_send (self->out, sock);
    if (rc) {
        int error = errno;    //  EHOSTUNREACH: the worker has gone
        zhive_proto_clear_payload (self->out);
        errno = error;
    }
    return rc;
}

static void
s_send_error (s_server_t *self, const uint8_t *routing, size_t size, uint64_t id, const char *type,
              const char *message, const char *worker)
{
    zhive_proto_t *out = s_out (self, routing, size, ZHIVE_ERROR);
    out->id = id;
    zhive_proto_set_name (out->type, type);
    zhive_proto_set_message (out, message);
    zhive_proto_set_name (out->worker, worker);
    s_send (self, self->client_sock);
}

//  ---------------------------------------------------------------------
//  Clients: only those with unanswered tasks are kept

static s_client_t *
s_client_require (s_server_t *self, const uint8_t *routing, size_t size)
{
    char key [S_KEY_SIZE];
    s_routing_key (key, routing, size);
    s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, key);
    if (client)
        return client;
    client = (s_client_t *) calloc (1, sizeof (s_client_t));
    if (!client)
        return NULL;
    memcpy (client->key, key, sizeof key);
    memcpy (client->routing, routing, size);
    client->routing_size = size;
    client->pending = zhive_idmap_new ();
    if (!client->pending || zhashx_insert (self->clients, key, client)) {
        zhive_idmap_destroy (&client->pending);
        free (client);
        return NULL;
    }
    return client;
}

//  Forget a client once nothing of it is pending
static void
s_client_release (s_server_t *self, s_client_t *client)
{
    if (zhive_idmap_size (client->pending) == 0) {
        zhashx_delete (self->clients, client->key);
        zhive_idmap_destroy (&client->pending);
        free (client);
    }
}

//  ---------------------------------------------------------------------
//  Tasks

//  The client has had (or will never get) its answer: forget who asked
static void
s_task_detach (s_server_t *self, s_task_t *task)
{
    s_heap_remove (self, task);
    if (task->client) {
        s_client_t *client = task->client;
        zhive_idmap_remove (client->pending, task->id);
        task->client = NULL;
        s_client_release (self, client);
    }
}

//  Answer the client with an error, once
static void
s_task_fail (s_server_t *self, s_task_t *task, const char *type, const char *message,
             const char *worker)
{
    if (task->client) {
        s_send_error (self, task->client->routing, task->client->routing_size, task->id, type,
                      message, worker);
    }
    s_task_detach (self, task);
}

//  Free a task that is in no list any more
static void
s_task_destroy (s_server_t *self, s_task_t **task_p)
{
    s_task_t *task = *task_p;
    s_task_detach (self, task);
    zmq_msg_close (&task->args);
    free (task);
    self->tasks--;
    *task_p = NULL;
}

//  ---------------------------------------------------------------------
//  Queues

static s_queue_t *
s_queue_require (s_server_t *self, const char *function)
{
    s_queue_t *queue = (s_queue_t *) zhashx_lookup (self->queues, function);
    if (queue)
        return queue;
    queue = (s_queue_t *) calloc (1, sizeof (s_queue_t));
    if (!queue)
        return NULL;
    queue->function = strdup (function);
    if (!queue->function || zhashx_insert (self->queues, function, queue)) {
        free (queue->function);
        free (queue);
        return NULL;
    }
    return queue;
}

static void
s_queue_destroy (s_queue_t **queue_p)
{
    s_queue_t *queue = *queue_p;
    free (queue->workers);
    free (queue->function);
    free (queue);
    *queue_p = NULL;
}

static int
s_queue_add_worker (s_queue_t *queue, s_worker_t *worker)
{
    for (size_t i = 0; i < queue->workers_count; i++) {
        if (queue->workers [i] == worker) {
            return 1;    //  Offered twice in one READY
        }
    }
    if (queue->workers_count == queue->workers_max) {
        size_t max = queue->workers_max ? queue->workers_max * 2 : 4;
        s_worker_t **workers =
            (s_worker_t **) realloc (queue->workers, max * sizeof (s_worker_t *));
        if (!workers)
            return -1;
        queue->workers = workers;
        queue->workers_max = max;
    }
    queue->workers [queue->workers_count++] = worker;
    return 0;
}

static void
s_queue_remove_worker (s_queue_t *queue, s_worker_t *worker)
{
    for (size_t i = 0; i < queue->workers_count; i++) {
        if (queue->workers [i] == worker) {
            memmove (queue->workers + i, queue->workers + i + 1,
                     (queue->workers_count - i - 1) * sizeof (s_worker_t *));
            queue->workers_count--;
            return;
        }
    }
}

//  ---------------------------------------------------------------------
//  Workers and dispatch

static size_t
s_worker_credit (const s_worker_t *worker)
{
    return worker->concurrency > worker->held.size ? worker->concurrency - worker->held.size : 0;
}

//  Forget a worker. Tasks it held go back to the front of their queues, or
//  fail with WorkerLost past their retries; the caller's s_settle then
//  dispatches them again. Returns nothing: the worker is gone.
static void
s_worker_remove (s_server_t *self, s_worker_t *worker, const char *why)
{
    if (worker->held.size || self->verbose) {
        s_warn ("worker '%s' (pid %" PRIu64 ") lost: %s; %zu task(s) to requeue", worker->name,
                worker->pid, why, worker->held.size);
    }
    //  From the newest to the oldest, so they keep their order at the front
    while (worker->held.tail) {
        s_task_t *task = worker->held.tail;
        s_list_remove (&worker->held, task);
        zhive_idmap_remove (self->in_flight, task->ticket);
        task->queue->in_flight--;
        task->worker = NULL;
        task->ticket = 0;
        task->attempts++;
        if (!task->client) {
            s_task_destroy (self, &task);    //  Already answered (Timeout, Cancelled)
        }
        else if (task->attempts > task->retries) {
            char message [ZHIVE_NAME_MAX + 256];
            snprintf (message, sizeof message,
                      "worker '%s' was lost (%s) while running '%s'; gave up after %" PRId64
                      " attempt(s)",
                      worker->name, why, task->queue->function, task->attempts);
            s_task_fail (self, task, ZHIVE_ERR_WORKER_LOST, message, "");
            s_task_destroy (self, &task);
        }
        else
            s_list_push_front (&task->queue->waiting, task);
    }
    for (size_t i = 0; i < worker->queues_count; i++)
        s_queue_remove_worker (worker->queues [i], worker);
    zhashx_delete (self->workers, worker->key);
    free (worker->queues);
    free (worker);
    self->redispatch = true;
}

//  Send one task to a worker that has credit. Returns 0, or -1 if the
//  worker is unreachable (the task is untouched).
static int
s_task_dispatch (s_server_t *self, s_task_t *task, s_worker_t *worker)
{
    uint64_t ticket = self->next_ticket++;
    if (zhive_idmap_insert (self->in_flight, ticket, task))
        return -1;
    zhive_proto_t *out = s_out (self, worker->routing, worker->routing_size, ZHIVE_TASK);
    out->id = ticket;
    zhive_proto_set_name (out->function, task->queue->function);
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, &task->args);
    zhive_proto_move_payload (out, &copy);
    zmq_msg_close (&copy);
    if (s_send (self, self->worker_sock)) {
        zhive_idmap_remove (self->in_flight, ticket);
        return -1;
    }
    task->ticket = ticket;
    task->worker = worker;
    s_list_push_back (&worker->held, task);
    task->queue->in_flight++;
    return 0;
}

//  Hand waiting tasks of one queue to its workers with credit, round-robin
static void
s_queue_dispatch (s_server_t *self, s_queue_t *queue)
{
    while (queue->waiting.size && queue->workers_count) {
        s_worker_t *worker = NULL;
        for (size_t i = 0; i < queue->workers_count; i++) {
            size_t at = (queue->next_worker + i) % queue->workers_count;
            if (s_worker_credit (queue->workers [at])) {
                worker = queue->workers [at];
                queue->next_worker = at + 1;
                break;
            }
        }
        if (!worker)
            break;
        s_task_t *task = queue->waiting.head;
        s_list_remove (&queue->waiting, task);
        if (s_task_dispatch (self, task, worker)) {
            s_list_push_front (&queue->waiting, task);
            s_worker_remove (self, worker, "unreachable");
        }
    }
}

//  Use a worker's credit on the queues it serves, one task per queue in
//  turn. Returns -1 if the worker turned out unreachable (it is gone).
static int
s_worker_feed (s_server_t *self, s_worker_t *worker)
{
    while (s_worker_credit (worker) && worker->queues_count) {
        s_queue_t *queue = NULL;
        for (size_t i = 0; i < worker->queues_count; i++) {
            size_t at = (worker->next_queue + i) % worker->queues_count;
            if (worker->queues [at]->waiting.size) {
                queue = worker->queues [at];
                worker->next_queue = at + 1;
                break;
            }
        }
        if (!queue)
            break;
        s_task_t *task = queue->waiting.head;
        s_list_remove (&queue->waiting, task);
        if (s_task_dispatch (self, task, worker)) {
            s_list_push_front (&queue->waiting, task);
            s_worker_remove (self, worker, "unreachable");
            return -1;
        }
    }
    return 0;
}

//  After a worker was lost, its tasks wait in their queues: hand them on
static void
s_settle (s_server_t *self)
{
    while (self->redispatch) {
        self->redispatch = false;
        s_queue_t *queue = (s_queue_t *) zhashx_first (self->queues);
        while (queue) {
            if (queue->waiting.size && queue->workers_count)
                s_queue_dispatch (self, queue);
            queue = (s_queue_t *) zhashx_next (self->queues);
        }
    }
}

static bool
s_host_is_local (s_server_t *self, const char *host)
{
    if (streq (host, self->hostname))
        return true;
    size_t size = strcspn (self->hostname, ".");
    return strncmp (host, self->hostname, size) == 0 && (host [size] == 0 || host [size] == '.');
}

//  Remove every worker with this pid on `host` (NULL: this host) and, if
//  name is not NULL, this name; but not `keep`
static void
s_workers_remove_matching (s_server_t *self, const s_worker_t *keep, const char *host,
                           const char *name, uint64_t pid, const char *why)
{
    zlistx_t *gone = zlistx_new ();
    if (!gone)
        return;
    s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers);
    while (worker) {
        if (worker != keep && worker->pid == pid &&
            (host ? streq (worker->host, host) : s_host_is_local (self, worker->host)) &&
            (!name || streq (worker->name, name))) {
            zlistx_add_end (gone, worker);
        }
        worker = (s_worker_t *) zhashx_next (self->workers);
    }
    for (worker = (s_worker_t *) zlistx_first (gone); worker;
         worker = (s_worker_t *) zlistx_next (gone)) {
        s_worker_remove (self, worker, why);
    }
    zlistx_destroy (&gone);
}

//  ---------------------------------------------------------------------
//  Client socket

static void
s_client_malformed (s_server_t *self, const char *why)
{
    zhive_proto_t *in = self->in;
    s_log (self, "malformed message from a client: %s", why);
    s_send_error (self, in->routing, in->routing_size, 0, ZHIVE_ERR_MALFORMED, why, "");
}

static void
s_client_submit (s_server_t *self)
{
    zhive_proto_t *in = self->in;
    s_client_t *client = s_client_require (self, in->routing, in->routing_size);
    if (!client) {
        s_send_error (self, in->routing, in->routing_size, in->id, ZHIVE_ERR_QUEUE_FULL,
                      "the broker is out of memory", "");
        return;
    }
    if (zhive_idmap_lookup (client->pending, in->id)) {
        s_log (self, "dropped SUBMIT %" PRIu64 " for '%s': that task is already pending", in->id,
               in->function);
        return;
    }
    s_queue_t *queue = self->tasks < S_TASKS_MAX ? s_queue_require (self, in->function) : NULL;
    s_task_t *task = queue ? (s_task_t *) calloc (1, sizeof (s_task_t)) : NULL;
    if (!task || zhive_idmap_insert (client->pending, in->id, task)) {
        free (task);
        char message [128];
        snprintf (message, sizeof message, "the broker holds %zu tasks already", self->tasks);
        s_send_error (self, in->routing, in->routing_size, in->id, ZHIVE_ERR_QUEUE_FULL, message,
                      "");
        s_client_release (self, client);
        return;
    }
    self->tasks++;
    task->id = in->id;
    task->client = client;
    task->queue = queue;
    zmq_msg_init (&task->args);
    zmq_msg_move (&task->args, &in->payload);
    zhive_proto_clear_payload (in);
    task->heap_index = SIZE_MAX;
    task->retries = in->retries < 0 ? S_RETRIES : in->retries;
    task->timeout_ms = in->timeout_ms < 0 || in->timeout_ms > S_TIMEOUT_MAX ? -1 : in->timeout_ms;
    if (task->timeout_ms >= 0) {
        task->deadline = zclock_mono () + task->timeout_ms;
        if (s_heap_push (self, task)) {
            s_task_fail (self, task, ZHIVE_ERR_QUEUE_FULL, "the broker is out of memory", "");
            s_task_destroy (self, &task);
            return;
        }
    }
    //  Tasks already waiting mean no worker of this queue has credit
    bool was_empty = queue->waiting.size == 0;
    s_list_push_back (&queue->waiting, task);
    if (was_empty)
        s_queue_dispatch (self, queue);
}

static s_task_t *
s_client_task (s_server_t *self, uint64_t id)
{
    char key [S_KEY_SIZE];
    s_routing_key (key, self->in->routing, self->in->routing_size);
    s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, key);
    return client ? (s_task_t *) zhive_idmap_lookup (client->pending, id) : NULL;
}

//  Drop a task on the client's word, answering with `type` if not NULL.
//  A running task stays with its worker until the worker answers.
static void
s_task_cancel (s_server_t *self, s_task_t *task, const char *type, const char *message)
{
    if (type)
        s_task_fail (self, task, type, message, "");
    else
        s_task_detach (self, task);
    if (!task->worker) {
        s_list_remove (&task->queue->waiting, task);
        s_task_destroy (self, &task);
    }
}

static void
s_client_cancel (s_server_t *self)
{
    s_task_t *task = s_client_task (self, self->in->id);
    if (task)
        s_task_cancel (self, task, ZHIVE_ERR_CANCELLED, "cancelled by the client");
}

static void
s_collect_task (uint64_t key, void *value, void *arg)
{
    (void) key;
    zlistx_add_end ((zlistx_t *) arg, value);
}

//  A client said BYE: nobody waits for its tasks any more
static void
s_client_bye (s_server_t *self)
{
    char key [S_KEY_SIZE];
    s_routing_key (key, self->in->routing, self->in->routing_size);
    s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, key);
    zlistx_t *tasks = client ? zlistx_new () : NULL;
    if (!tasks)
        return;
    zhive_idmap_each (client->pending, s_collect_task, tasks);
    s_log (self, "a client left with %zu task(s) pending", zlistx_size (tasks));
    for (s_task_t *task = (s_task_t *) zlistx_first (tasks); task;
         task = (s_task_t *) zlistx_next (tasks)) {
        s_task_cancel (self, task, NULL, NULL);
    }
    zlistx_destroy (&tasks);
}

static void
s_client_status (s_server_t *self)
{
    zhive_pack_t *pack = self->pack;
    zhive_pack_reset (pack);
    zhive_pack_map (pack, 2);
    zhive_pack_str (pack, "workers");
    zhive_pack_array (pack, (uint32_t) zhashx_size (self->workers));
    for (s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers); worker;
         worker = (s_worker_t *) zhashx_next (self->workers)) {
        zhive_pack_map (pack, 7);
        zhive_pack_str (pack, "id");
        zhive_pack_str (pack, worker->name);
        zhive_pack_str (pack, "host");
        zhive_pack_str (pack, worker->host);
        zhive_pack_str (pack, "pid");
        zhive_pack_uint (pack, worker->pid);
        zhive_pack_str (pack, "functions");
        zhive_pack_array (pack, (uint32_t) worker->queues_count);
        for (size_t i = 0; i < worker->queues_count; i++)
            zhive_pack_str (pack, worker->queues [i]->function);
        zhive_pack_str (pack, "concurrency");
        zhive_pack_uint (pack, worker->concurrency);
        zhive_pack_str (pack, "in_flight");
        zhive_pack_uint (pack, worker->held.size);
        zhive_pack_str (pack, "done");
        zhive_pack_uint (pack, worker->done);
    }
    zhive_pack_str (pack, "queues");
    zhive_pack_array (pack, (uint32_t) zhashx_size (self->queues));
    for (s_queue_t *queue = (s_queue_t *) zhashx_first (self->queues); queue;
         queue = (s_queue_t *) zhashx_next (self->queues)) {
        zhive_pack_map (pack, 3);
        zhive_pack_str (pack, "function");
        zhive_pack_str (pack, queue->function);
        zhive_pack_str (pack, "waiting");
        zhive_pack_uint (pack, queue->waiting.size);
        zhive_pack_str (pack, "in_flight");
        zhive_pack_uint (pack, queue->in_flight);
    }
    zhive_proto_t *out =
        s_out (self, self->in->routing, self->in->routing_size, ZHIVE_STATUS_REPLY);
    out->id = self->in->id;
    if (zhive_proto_set_payload (out, zhive_pack_data (pack), zhive_pack_size (pack)) == 0)
        s_send (self, self->client_sock);
}

static int
s_on_clients (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    s_server_t *self = (s_server_t *) arg;
    zhive_proto_t *in = self->in;
    for (int count = 0; count < S_BURST; count++) {
        int rc = zhive_proto_recv (in, sock, ZMQ_DONTWAIT);
        if (rc == -1)
            break;
        if (rc == -2) {
            s_client_malformed (self, in->error);
            continue;
        }
        switch (in->command) {
            case ZHIVE_PING:
                s_out (self, in->routing, in->routing_size, ZHIVE_PONG);
                s_send (self, self->client_sock);
                break;
            case ZHIVE_SUBMIT: s_client_submit (self); break;
            case ZHIVE_CANCEL: s_client_cancel (self); break;
            case ZHIVE_STATUS: s_client_status (self); break;
            case ZHIVE_BYE: s_client_bye (self); break;
            default: {
                char why [64];
                snprintf (why, sizeof why, "%s is not a command a client sends",
                          zhive_proto_command_name (in->command));
                s_client_malformed (self, why);
                break;
            }
        }
    }
    s_settle (self);
    return 0;
}

//  ---------------------------------------------------------------------
//  Worker socket

static s_worker_t *
s_worker_lookup (s_server_t *self)
{
    char key [S_KEY_SIZE];
    s_routing_key (key, self->in->routing, self->in->routing_size);
    return (s_worker_t *) zhashx_lookup (self->workers, key);
}

static void
s_worker_malformed (s_server_t *self, const char *why)
{
    zhive_proto_t *in = self->in;
    s_log (self, "malformed message from a worker: %s", why);
    zhive_proto_t *out = s_out (self, in->routing, in->routing_size, ZHIVE_BYE);
    zhive_proto_set_message (out, why);
    s_send (self, self->worker_sock);
    s_worker_t *worker = s_worker_lookup (self);
    if (worker) {
        char reason [160];
        snprintf (reason, sizeof reason, "malformed message: %s", why);
        s_worker_remove (self, worker, reason);
    }
}

static void
s_worker_ready (s_server_t *self)
{
    zhive_proto_t *in = self->in;
    s_worker_t *worker = s_worker_lookup (self);
    if (worker && worker->pid != in->pid) {
        s_worker_remove (self, worker, "replaced by another process");
        worker = NULL;
    }
    if (!worker) {
        worker = (s_worker_t *) calloc (1, sizeof (s_worker_t));
        if (!worker)
            return;
        s_routing_key (worker->key, in->routing, in->routing_size);
        memcpy (worker->routing, in->routing, in->routing_size);
        worker->routing_size = in->routing_size;
        if (zhashx_insert (self->workers, worker->key, worker)) {
            free (worker);
            return;
        }
    }
    //  READY again replaces what we knew; tasks it holds stay with it
    for (size_t i = 0; i < worker->queues_count; i++)
        s_queue_remove_worker (worker->queues [i], worker);
    worker->queues_count = 0;
    worker->next_queue = 0;
    if (in->worker [0])
        zhive_proto_set_name (worker->name, in->worker);
    else
        snprintf (worker->name, sizeof worker->name, "%.200s:%" PRIu64, in->host, in->pid);
    zhive_proto_set_name (worker->host, in->host);
    worker->pid = in->pid;
    worker->concurrency = in->concurrency;
    s_queue_t **queues =
        (s_queue_t **) realloc (worker->queues, (in->functions_count + 1) * sizeof (s_queue_t *));
    if (!queues) {
        s_worker_remove (self, worker, "out of memory");
        return;
    }
    worker->queues = queues;
    char offers [512] = "";
    size_t offers_size = 0;
    for (size_t i = 0; i < in->functions_count; i++) {
        s_queue_t *queue = s_queue_require (self, in->functions [i]);
        int rc = queue ? s_queue_add_worker (queue, worker) : -1;
        if (rc == -1) {
            s_worker_remove (self, worker, "out of memory");
            return;
        }
        if (rc == 0) {
            worker->queues [worker->queues_count++] = queue;
            if (offers_size < sizeof offers) {
                offers_size += (size_t) snprintf (offers + offers_size, sizeof offers - offers_size,
                                                  " %s", in->functions [i]);
            }
        }
    }
    //  The same worker under an older routing id (it reconnected) is stale
    s_workers_remove_matching (self, worker, worker->host, worker->name, worker->pid,
                               "it reconnected under a new routing id");
    s_log (self, "worker '%s' joined: host %s, pid %" PRIu64 ", concurrency %u, functions:%s",
           worker->name, worker->host, worker->pid, worker->concurrency, offers);
    s_worker_feed (self, worker);
}

static void
s_worker_answer (s_server_t *self)
{
    zhive_proto_t *in = self->in;
    s_worker_t *worker = s_worker_lookup (self);
    s_task_t *task = (s_task_t *) zhive_idmap_lookup (self->in_flight, in->id);
    if (!task || !worker || task->worker != worker) {
        s_log (self, "dropped %s for unknown ticket %" PRIu64 " from %s",
               zhive_proto_command_name (in->command), in->id,
               worker ? worker->name : "an unregistered peer");
        return;
    }
    zhive_idmap_remove (self->in_flight, task->ticket);
    s_list_remove (&worker->held, task);
    task->queue->in_flight--;
    worker->done++;
    if (task->client) {
        if (in->command == ZHIVE_DONE) {
            s_client_t *client = task->client;
            zhive_proto_t *out = s_out (self, client->routing, client->routing_size, ZHIVE_RESULT);
            out->id = task->id;
            zhive_proto_move_payload (out, &in->payload);
            s_send (self, self->client_sock);
        }
        else
            s_task_fail (self, task, in->type, in->message, worker->name);
    }
    s_task_destroy (self, &task);
    s_worker_feed (self, worker);
}

static int
s_on_workers (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    s_server_t *self = (s_server_t *) arg;
    zhive_proto_t *in = self->in;
    for (int count = 0; count < S_BURST; count++) {
        int rc = zhive_proto_recv (in, sock, ZMQ_DONTWAIT);
        if (rc == -1)
            break;
        if (rc == -2) {
            s_worker_malformed (self, in->error);
            continue;
        }
        switch (in->command) {
            case ZHIVE_PING:
                s_out (self, in->routing, in->routing_size, ZHIVE_PONG);
                s_send (self, self->worker_sock);
                break;
            case ZHIVE_PONG: break;
            case ZHIVE_READY: s_worker_ready (self); break;
            case ZHIVE_DONE:
            case ZHIVE_FAILED: s_worker_answer (self); break;
            case ZHIVE_BYE: {
                s_worker_t *worker = s_worker_lookup (self);
                if (worker) {
                    char why [160];
                    snprintf (why, sizeof why, "it said BYE: %.120s",
                              in->message ? in->message : "");
                    s_worker_remove (self, worker, why);
                }
                break;
            }
            default: {
                char why [64];
                snprintf (why, sizeof why, "%s is not a command a worker sends",
                          zhive_proto_command_name (in->command));
                s_worker_malformed (self, why);
                break;
            }
        }
    }
    s_settle (self);
    return 0;
}

//  ---------------------------------------------------------------------
//  Local worker processes

//  The program local workers run; caller owns the result
static char *
s_worker_program (s_server_t *self)
{
    if (self->worker_program)
        return strdup (self->worker_program);
    const char *env = getenv ("ZHIVE_WORKER");
    if (env && *env)
        return strdup (env);
    char path [PATH_MAX + 32];
    ssize_t size = readlink ("/proc/self/exe", path, PATH_MAX);
    if (size > 0) {
        path [size] = 0;
        char *slash = strrchr (path, '/');
        if (slash) {
            strcpy (slash + 1, "zhive-worker");
            if (access (path, X_OK) == 0)
                return strdup (path);
        }
    }
#ifdef ZHIVE_INSTALL_BINDIR
    if (access (ZHIVE_INSTALL_BINDIR "/zhive-worker", X_OK) == 0)
        return strdup (ZHIVE_INSTALL_BINDIR "/zhive-worker");
#endif
    return strdup ("zhive-worker");
}

//  In the child, between fork and exec: only async-signal-safe calls
static void
s_child_exec (char **argv, pid_t parent)
{
    setpgid (0, 0);    //  The broker, not the terminal, decides when workers stop
#ifdef __linux__
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    if (getppid () != parent)
        _exit (1);
#else
    (void) parent;
#endif
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction (sig, &action, NULL);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
#ifdef SYS_close_range
    if (syscall (SYS_close_range, 3, ~0U, 0))
#endif
    {
        for (int fd = 3; fd < 65536; fd++)
            close (fd);
    }
    if (strchr (argv [0], '/'))
        execv (argv [0], argv);
    else
        execvp (argv [0], argv);
    static const char prefix [] = "zhive-broker: cannot run ";
    ssize_t rc = write (2, prefix, sizeof prefix - 1);
    rc = write (2, argv [0], strlen (argv [0]));
    rc = write (2, "\n", 1);
    (void) rc;
    _exit (127);
}

static void
s_child_start (s_server_t *self, s_child_t *child)
{
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0)
        s_child_exec (child->argv, parent);
    child->started = zclock_mono ();
    if (pid < 0) {
        s_warn ("cannot start a local worker: %s; trying again in %d ms", strerror (errno),
                S_BACKOFF_MAX);
        child->restart_at = child->started + S_BACKOFF_MAX;
        return;
    }
    child->pid = pid;
    s_log (self, "started local worker pid %d: %s", (int) pid, child->argv [0]);
}

static void
s_child_exited (s_server_t *self, s_child_t *child, int status)
{
    int64_t now = zclock_mono ();
    int64_t uptime = now - child->started;
    char how [64];
    if (status < 0)
        snprintf (how, sizeof how, "exited");
    else if (WIFSIGNALED (status))
        snprintf (how, sizeof how, "was killed by signal %d", WTERMSIG (status));
    else
        snprintf (how, sizeof how, "exited with code %d", WEXITSTATUS (status));
    char why [96];
    snprintf (why, sizeof why, "local worker process %s", how);
    s_workers_remove_matching (self, NULL, NULL, NULL, (uint64_t) child->pid, why);

    int64_t delay = 0;
    if (uptime < S_QUICK_EXIT) {
        child->quick_exits++;
        delay = S_BACKOFF_MS;
        for (int i = 1; i < child->quick_exits && delay < S_BACKOFF_MAX; i++)
            delay *= 2;
        if (delay > S_BACKOFF_MAX)
            delay = S_BACKOFF_MAX;
        s_warn ("local worker pid %d %s %" PRId64 " ms after it started (%d time(s) in a row);"
                " restarting it in %" PRId64 " ms",
                (int) child->pid, how, uptime, child->quick_exits, delay);
    }
    else {
        child->quick_exits = 0;
        s_warn ("local worker pid %d %s; restarting it", (int) child->pid, how);
    }
    child->pid = 0;
    child->restart_at = now + delay;
}

static void
s_children_check (s_server_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->children_count; i++) {
        s_child_t *child = &self->children [i];
        if (child->pid > 0) {
            int status = 0;
            pid_t rc = waitpid (child->pid, &status, WNOHANG);
            if (rc == child->pid)
                s_child_exited (self, child, status);
            else if (rc < 0 && errno == ECHILD) {
                s_child_exited (self, child, -1);    //  Reaped by someone else
            }
        }
        if (child->pid == 0 && now >= child->restart_at)
            s_child_start (self, child);
    }
}

//  SIGTERM every local worker, SIGKILL those still there after the grace
static void
s_children_stop (s_server_t *self)
{
    size_t alive = 0;
    for (size_t i = 0; i < self->children_count; i++) {
        if (self->children [i].pid > 0) {
            kill (self->children [i].pid, SIGTERM);
            alive++;
        }
    }
    int64_t until = zclock_mono () + S_STOP_MS;
    while (alive) {
        alive = 0;
        for (size_t i = 0; i < self->children_count; i++) {
            s_child_t *child = &self->children [i];
            if (child->pid > 0) {
                pid_t rc = waitpid (child->pid, NULL, WNOHANG);
                if (rc == child->pid || (rc < 0 && errno == ECHILD))
                    child->pid = 0;
                else if (zclock_mono () >= until) {
                    s_warn ("local worker pid %d did not stop on SIGTERM; killing it",
                            (int) child->pid);
                    kill (child->pid, SIGKILL);
                    waitpid (child->pid, NULL, 0);
                    child->pid = 0;
                }
                else
                    alive++;
            }
        }
        if (alive)
            zclock_sleep (10);
    }
}

static void
s_argv_destroy (char ***argv_p)
{
    if (*argv_p) {
        for (char **arg = *argv_p; *arg; arg++)
            free (*arg);
        free (*argv_p);
        *argv_p = NULL;
    }
}

//  START-WORKERS serial count concurrency [load ...]
static int
s_start_workers (s_server_t *self, zmsg_t *msg, char *error, size_t error_size)
{
    char *count_str = zmsg_popstr (msg);
    char *concurrency_str = zmsg_popstr (msg);
    int count = count_str ? atoi (count_str) : 0;
    int concurrency = concurrency_str ? atoi (concurrency_str) : 0;
    free (count_str);
    free (concurrency_str);
    if (!self->worker_endpoint) {
        snprintf (error, error_size, "bind the worker endpoint before starting local workers");
        return -1;
    }
    if (count <= 0)
        return 0;
    //  A wildcard address is not one to connect to: use the loopback
    char endpoint [512];
    const char *port = NULL;
    if (strncmp (self->worker_endpoint, "tcp://0.0.0.0:", 14) == 0)
        port = self->worker_endpoint + 14;
    else if (strncmp (self->worker_endpoint, "tcp://*:", 8) == 0)
        port = self->worker_endpoint + 8;
    if (port)
        snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%s", port);
    else if (strncmp (self->worker_endpoint, "tcp://[::]:", 11) == 0)
        snprintf (endpoint, sizeof endpoint, "tcp://[::1]:%s", self->worker_endpoint + 11);
    else
        snprintf (endpoint, sizeof endpoint, "%s", self->worker_endpoint);
    size_t loads = zmsg_size (msg);
    s_child_t *children = (s_child_t *) realloc (
        self->children, (self->children_count + (size_t) count) * sizeof (s_child_t));
    if (!children) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    self->children = children;
    for (int i = 0; i < count; i++) {
        //  program --connect E [--load L]... [--concurrency N] NULL
        char **argv = (char **) calloc (2 * loads + 6, sizeof (char *));
        if (!argv) {
            snprintf (error, error_size, "out of memory");
            return -1;
        }
        size_t arg = 0;
        argv [arg++] = s_worker_program (self);
        argv [arg++] = strdup ("--connect");
        argv [arg++] = strdup (endpoint);
        for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
            argv [arg++] = strdup ("--load");
            argv [arg++] = zframe_strdup (frame);
        }
        if (concurrency > 0) {
            argv [arg++] = strdup ("--concurrency");
            argv [arg++] = zsys_sprintf ("%d", concurrency);
        }
        for (size_t at = 0; at < arg; at++) {
            if (!argv [at]) {
                s_argv_destroy (&argv);
                snprintf (error, error_size, "out of memory");
                return -1;
            }
        }
        s_child_t *child = &self->children [self->children_count++];
        memset (child, 0, sizeof *child);
        child->argv = argv;
        s_child_start (self, child);
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Timers

static void
s_task_timeout (s_server_t *self, s_task_t *task)
{
    s_queue_t *queue = task->queue;
    char message [ZHIVE_NAME_MAX * 2 + 128];
    if (task->worker) {
        snprintf (message, sizeof message,
                  "no result within %" PRId64 " ms: '%s' still running on worker '%s'",
                  task->timeout_ms, queue->function, task->worker->name);
    }
    else if (queue->workers_count == 0) {
        snprintf (message, sizeof message, "no result within %" PRId64 " ms: no worker offers '%s'",
                  task->timeout_ms, queue->function);
    }
    else {
        snprintf (message, sizeof message,
                  "no result within %" PRId64 " ms: '%s' waited in a queue of %zu",
                  task->timeout_ms, queue->function, queue->waiting.size);
    }
    s_task_cancel (self, task, ZHIVE_ERR_TIMEOUT, message);
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_server_t *self = (s_server_t *) arg;
    int64_t now = zclock_mono ();
    while (self->heap_size && self->heap [0]->deadline <= now)
        s_task_timeout (self, self->heap [0]);
    s_children_check (self);
    s_settle (self);
    return 0;
}

//  Ping every worker: a send to a peer whose connection is gone fails
//  (ROUTER_MANDATORY), and that is how a vanished remote worker is noticed
static int
s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_server_t *self = (s_server_t *) arg;
    zlistx_t *gone = zlistx_new ();
    if (!gone)
        return 0;
    for (s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers); worker;
         worker = (s_worker_t *) zhashx_next (self->workers)) {
        s_out (self, worker->routing, worker->routing_size, ZHIVE_PING);
        if (s_send (self, self->worker_sock) && errno == EHOSTUNREACH)
            zlistx_add_end (gone, worker);
    }
    for (s_worker_t *worker = (s_worker_t *) zlistx_first (gone); worker;
         worker = (s_worker_t *) zlistx_next (gone)) {
        s_worker_remove (self, worker, "disconnected");
    }
    //  Drop queues nobody uses any more
    zlistx_purge (gone);
    for (s_queue_t *queue = (s_queue_t *) zhashx_first (self->queues); queue;
         queue = (s_queue_t *) zhashx_next (self->queues)) {
        if (!queue->waiting.size && !queue->in_flight && !queue->workers_count)
            zlistx_add_end (gone, queue);
    }
    for (s_queue_t *queue = (s_queue_t *) zlistx_first (gone); queue;
         queue = (s_queue_t *) zlistx_next (gone)) {
        zhashx_delete (self->queues, queue->function);
        s_queue_destroy (&queue);
    }
    zlistx_destroy (&gone);
    s_settle (self);
    return 0;
}

//  ---------------------------------------------------------------------
//  The pipe from the API

//  BIND serial clients|workers endpoint
static void
s_bind (s_server_t *self, zmsg_t *msg, const char *serial)
{
    char *which = zmsg_popstr (msg);
    char *endpoint = zmsg_popstr (msg);
    bool clients = which && streq (which, "clients");
    zsock_t *sock = clients ? self->client_sock : self->worker_sock;
    if (!endpoint || zsock_bind (sock, "%s", endpoint) < 0) {
        char error [512];
        snprintf (error, sizeof error, "cannot bind %s to %s: %s", clients ? "clients" : "workers",
                  endpoint ? endpoint : "(none)", endpoint ? zmq_strerror (errno) : "no endpoint");
        zsock_send (self->pipe, "sss", serial, "ERROR", error);
    }
    else {
        char *resolved = zsock_last_endpoint (sock);
        if (!clients) {
            free (self->worker_endpoint);
            self->worker_endpoint = strdup (resolved ? resolved : endpoint);
        }
        zsock_send (self->pipe, "sss", serial, "OK", resolved ? resolved : endpoint);
        s_log (self, "%s bound to %s", clients ? "clients" : "workers",
               resolved ? resolved : endpoint);
        free (resolved);
    }
    free (which);
    free (endpoint);
}

static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    s_server_t *self = (s_server_t *) arg;
    zmsg_t *msg = zmsg_recv (pipe);
    if (!msg)
        return 0;
    char *command = zmsg_popstr (msg);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "VERBOSE")) {
        char *value = zmsg_popstr (msg);
        self->verbose = value && streq (value, "1");
        free (value);
    }
    else if (streq (command, "WORKER-PROGRAM")) {
        free (self->worker_program);
        self->worker_program = zmsg_popstr (msg);
    }
    else {
        char *serial = zmsg_popstr (msg);
        if (streq (command, "BIND"))
            s_bind (self, msg, serial ? serial : "");
        else if (streq (command, "START-WORKERS")) {
            char error [256] = "";
            int rc = s_start_workers (self, msg, error, sizeof error);
            zsock_send (self->pipe, "sss", serial ? serial : "", rc ? "ERROR" : "OK", error);
        }
        else if (streq (command, "WORKERS-READY")) {
            char count [32];
            snprintf (count, sizeof count, "%zu", zhashx_size (self->workers));
            zsock_send (self->pipe, "sss", serial ? serial : "", "OK", count);
        }
        else
            zsock_send (self->pipe, "sss", serial ? serial : "", "ERROR", "unknown command");
        free (serial);
    }
    free (command);
    zmsg_destroy (&msg);
    return self->terminated ? -1 : 0;
}

//  ---------------------------------------------------------------------
//  The actor

static void
s_server_destroy (s_server_t **self_p)
{
    s_server_t *self = *self_p;
    if (!self)
        return;
    //  Whoever still waits hears why no answer will come
    if (self->clients) {
        zlistx_t *tasks = zlistx_new ();
        for (s_client_t *client = (s_client_t *) zhashx_first (self->clients); client && tasks;
             client = (s_client_t *) zhashx_next (self->clients)) {
            zhive_idmap_each (client->pending, s_collect_task, tasks);
        }
        for (s_task_t *task = tasks ? (s_task_t *) zlistx_first (tasks) : NULL; task;
             task = (s_task_t *) zlistx_next (tasks)) {
            s_send_error (self, task->client->routing, task->client->routing_size, task->id,
                          ZHIVE_ERR_SHUTDOWN, "the broker stopped before the task finished", "");
        }
        zlistx_destroy (&tasks);
    }
    s_children_stop (self);
    for (size_t i = 0; i < self->children_count; i++)
        s_argv_destroy (&self->children [i].argv);
    free (self->children);
    //  Every task is in one list: a queue's or a worker's
    if (self->workers) {
        s_worker_t *worker;
        while ((worker = (s_worker_t *) zhashx_first (self->workers))) {
            while (worker->held.head) {
                s_task_t *task = worker->held.head;
                s_list_remove (&worker->held, task);
                s_task_destroy (self, &task);
            }
            zhashx_delete (self->workers, worker->key);
            free (worker->queues);
            free (worker);
        }
        zhashx_destroy (&self->workers);
    }
    if (self->queues) {
        s_queue_t *queue;
        while ((queue = (s_queue_t *) zhashx_first (self->queues))) {
            while (queue->waiting.head) {
                s_task_t *task = queue->waiting.head;
                s_list_remove (&queue->waiting, task);
                s_task_destroy (self, &task);
            }
            zhashx_delete (self->queues, queue->function);
            s_queue_destroy (&queue);
        }
        zhashx_destroy (&self->queues);
    }
    zhashx_destroy (&self->clients);    //  Empty: every task released its client
    zhive_idmap_destroy (&self->in_flight);
    free (self->heap);
    zloop_destroy (&self->loop);
    if (self->client_sock) {
        zsock_set_linger (self->client_sock, 500);    //  Let the last errors go out
    }
    zsock_destroy (&self->client_sock);
    zsock_destroy (&self->worker_sock);
    zhive_proto_destroy (&self->in);
    zhive_proto_destroy (&self->out);
    zhive_pack_destroy (&self->pack);
    free (self->worker_endpoint);
    free (self->worker_program);
    free (self);
    *self_p = NULL;
}

static s_server_t *
s_server_new (zsock_t *pipe)
{
    s_server_t *self = (s_server_t *) calloc (1, sizeof (s_server_t));
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->next_ticket = 1;
    if (gethostname (self->hostname, sizeof self->hostname - 1))
        snprintf (self->hostname, sizeof self->hostname, "localhost");
    self->loop = zloop_new ();
    self->client_sock = zsock_new (ZMQ_ROUTER);
    self->worker_sock = zsock_new (ZMQ_ROUTER);
    self->in = zhive_proto_new ();
    self->out = zhive_proto_new ();
    self->pack = zhive_pack_new ();
    self->queues = zhashx_new ();
    self->workers = zhashx_new ();
    self->clients = zhashx_new ();
    self->in_flight = zhive_idmap_new ();
    if (!self->loop || !self->client_sock || !self->worker_sock || !self->in || !self->out ||
        !self->pack || !self->queues || !self->workers || !self->clients || !self->in_flight) {
        s_server_destroy (&self);
        return NULL;
    }
    //  Queues live in the broker, not in socket buffers
    zsock_set_sndhwm (self->client_sock, 0);
    zsock_set_rcvhwm (self->client_sock, 0);
    //  A peer announcing a huge frame is cut off before libzmq allocates it
    zsock_set_maxmsgsize (self->client_sock, ZHIVE_MESSAGE_SIZE_MAX);
    zsock_set_maxmsgsize (self->worker_sock, ZHIVE_MESSAGE_SIZE_MAX);
    zsock_set_sndhwm (self->worker_sock, 0);
    zsock_set_rcvhwm (self->worker_sock, 0);
    //  A send to a worker that has gone fails, instead of vanishing
    zsock_set_router_mandatory (self->worker_sock, 1);
    //  Dead TCP peers (a host that vanished) are dropped by libzmq
    zsock_set_heartbeat_ivl (self->worker_sock, 2000);
    zsock_set_heartbeat_timeout (self->worker_sock, 10000);

    zloop_set_nonstop (self->loop, true);
    if (zloop_reader (self->loop, pipe, s_on_pipe, self) ||
        zloop_reader (self->loop, self->client_sock, s_on_clients, self) ||
        zloop_reader (self->loop, self->worker_sock, s_on_workers, self) ||
        zloop_timer (self->loop, S_TICK_MS, 0, s_on_tick, self) < 0 ||
        zloop_timer (self->loop, S_HEARTBEAT_MS, 0, s_on_heartbeat, self) < 0) {
        s_server_destroy (&self);
        return NULL;
    }
    return self;
}

static void
s_broker_actor (zsock_t *pipe, void *args)
{
    (void) args;
    //  Signals go to the application's threads: the broker stops on $TERM
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGHUP);
    sigaddset (&signals, SIGCHLD);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);

    s_server_t *self = s_server_new (pipe);
    zsock_signal (pipe, 0);
    if (!self) {
        s_warn ("cannot start: out of memory or sockets");
        //  Answer commands with errors until told to stop
        while (true) {
            zmsg_t *msg = zmsg_recv (pipe);
            if (!msg)
                break;
            char *command = zmsg_popstr (msg);
            char *serial = zmsg_popstr (msg);
            bool term = !command || streq (command, "$TERM");
            if (!term && serial)
                zsock_send (pipe, "sss", serial, "ERROR", "the broker did not start");
            free (command);
            free (serial);
            zmsg_destroy (&msg);
            if (term)
                break;
        }
        return;
    }
    while (!self->terminated) {
        //  Returns 0 when a poll was interrupted, -1 after $TERM; a
        //  terminated context (the process is exiting) ends it too
        if (zloop_start (self->loop) == -1 || zmq_errno () == ETERM)
            break;
    }
    s_server_destroy (&self);
}

//  ---------------------------------------------------------------------
//  The API: commands over the actor pipe

struct _zhive_broker_t {
    zactor_t *actor;           //  The broker thread
    char *clients_endpoint;    //  Resolved client endpoint; NULL before binding
    char *workers_endpoint;    //  Resolved worker endpoint; NULL before binding
    unsigned serial;           //  Numbers requests so a late reply is not mistaken
};

zhive_broker_t *
zhive_broker_new (void)
{
    zhive_broker_t *self = (zhive_broker_t *) calloc (1, sizeof (zhive_broker_t));
    if (!self)
        return NULL;
    self->actor = zactor_new (s_broker_actor, NULL);
    if (!self->actor) {
        free (self);
        return NULL;
    }
    return self;
}

//  Wait until the pipe is readable; a signal does not cut the wait short.
//  Returns 0, or -1 after timeout_ms.
static int
s_wait_readable (zsock_t *pipe, int64_t timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    while (true) {
        int64_t left = until - zclock_mono ();
        if (left < 0)
            return -1;
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, (long) left);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

//  Send a command (command, serial, args...) and return the reply's status
//  (0 OK, -1 ERROR or no answer) and value (caller frees). Takes the request.
static int
s_call (zhive_broker_t *self, const char *command, zmsg_t *request, char **value_p)
{
    *value_p = NULL;
    zsock_t *pipe = zactor_sock (self->actor);
    char serial [16];
    snprintf (serial, sizeof serial, "%u", ++self->serial);
    zmsg_pushstr (request, serial);
    zmsg_pushstr (request, command);
    if (zmsg_send (&request, pipe)) {
        zmsg_destroy (&request);
        return -1;
    }
    int64_t until = zclock_mono () + S_REPLY_MS;
    while (s_wait_readable (pipe, until - zclock_mono ()) == 0) {
        char *reply_serial = NULL, *status = NULL, *value = NULL;
        if (zsock_recv (pipe, "sss", &reply_serial, &status, &value) == 0 && reply_serial &&
            streq (reply_serial, serial)) {
            int rc = status && streq (status, "OK") ? 0 : -1;
            free (reply_serial);
            free (status);
            *value_p = value;
            return rc;
        }
        free (reply_serial);
        free (status);
        free (value);
    }
    return -1;
}

void
zhive_broker_destroy (zhive_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_broker_t *self = *self_p;
    //  Wait for the actor ourselves: zactor_destroy gives up on a signal,
    //  and the actor may take a while to stop local workers
    zsock_t *pipe = zactor_sock (self->actor);
    if (zstr_send (pipe, "$TERM") == 0) {
        int64_t until = zclock_mono () + S_STOP_MS + S_REPLY_MS;
        while (s_wait_readable (pipe, until - zclock_mono ()) == 0) {
            zmsg_t *msg = zmsg_recv (pipe);
            bool signal = msg && zmsg_signal (msg) >= 0;
            zmsg_destroy (&msg);
            if (signal)
                break;
        }
    }
    zsock_set_rcvtimeo (pipe, 100);    //  Its own $TERM finds nobody; do not hang on it
    zactor_destroy (&self->actor);
    free (self->clients_endpoint);
    free (self->workers_endpoint);
    free (self);
    *self_p = NULL;
}

void
zhive_broker_set_verbose (zhive_broker_t *self, bool verbose)
{
    zstr_sendx (self->actor, "VERBOSE", verbose ? "1" : "0", NULL);
}

static int
s_bind_call (zhive_broker_t *self, const char *which, const char *endpoint, char **resolved_p)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, which);
    zmsg_addstr (request, endpoint ? endpoint : "");
    char *value;
    if (s_call (self, "BIND", request, &value)) {
        fprintf (stderr, "zhive-broker: %s\n", value ? value : "the broker does not answer");
        free (value);
        return -1;
    }
    free (*resolved_p);
    *resolved_p = value;
    return 0;
}

int
zhive_broker_bind_clients (zhive_broker_t *self, const char *endpoint)
{
    return s_bind_call (self, "clients", endpoint, &self->clients_endpoint);
}

int
zhive_broker_bind_workers (zhive_broker_t *self, const char *endpoint)
{
    return s_bind_call (self, "workers", endpoint, &self->workers_endpoint);
}

const char *
zhive_broker_clients_endpoint (zhive_broker_t *self)
{
    return self->clients_endpoint;
}

const char *
zhive_broker_workers_endpoint (zhive_broker_t *self)
{
    return self->workers_endpoint;
}

void
zhive_broker_set_worker_program (zhive_broker_t *self, const char *path)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "WORKER-PROGRAM");
    if (path)
        zmsg_addstr (msg, path);
    zactor_send (self->actor, &msg);
}

int
zhive_broker_start_workers (zhive_broker_t *self, int count, const char *const *loads,
                            int concurrency)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstrf (request, "%d", count);
    zmsg_addstrf (request, "%d", concurrency);
    for (size_t i = 0; loads && loads [i]; i++)
        zmsg_addstr (request, loads [i]);
    char *value;
    int rc = s_call (self, "START-WORKERS", request, &value);
    if (rc) {
        fprintf (stderr, "zhive-broker: cannot start local workers: %s\n",
                 value ? value : "the broker does not answer");
    }
    free (value);
    return rc;
}

int
zhive_broker_workers_ready (zhive_broker_t *self)
{
    char *value;
    int rc = s_call (self, "WORKERS-READY", zmsg_new (), &value);
    int count = rc == 0 && value ? atoi (value) : -1;
    free (value);
    return count;
}

zactor_t *
zhive_broker_actor (zhive_broker_t *self)
{
    return self->actor;
}
