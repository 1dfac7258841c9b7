/*  =========================================================================
    zhive_broker - the pool manager, embeddable in any C program

    The broker runs in its own thread (a zactor with one zloop): a ROUTER
    socket for clients, one for workers, a queue per function, credit-based
    dispatch, and an in-flight table of which worker holds which task. It
    can also start and supervise local worker processes (zhive-worker).

        zhive_broker_t *broker = zhive_broker_new ();
        zhive_broker_bind_clients (broker, "tcp://127.0.0.1:*");
        zhive_broker_bind_workers (broker, "tcp://127.0.0.1:*");
        const char *loads [] = { "libzhive-examples.so", NULL };
        zhive_broker_start_workers (broker, 4, loads, 16);
        ...  zhive_client_new (zhive_broker_clients_endpoint (broker), 2000) ...
        zhive_broker_destroy (&broker);
    =========================================================================
*/
#ifndef ZHIVE_BROKER_H_INCLUDED
#define ZHIVE_BROKER_H_INCLUDED

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
typedef struct _zactor_t zactor_t;    //  czmq's, opaque here (the same declaration as czmq's)
#include "zhive_export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_broker_t zhive_broker_t;

//  ---------------------------------------------------------------------
//  Start a broker thread, bound to nothing yet. NULL if it cannot start.
ZHIVE_EXPORT zhive_broker_t *zhive_broker_new (void);

//  Stop the broker (and the local workers it started) and destroy it.
//  Safe with *self_p NULL.
ZHIVE_EXPORT void zhive_broker_destroy (zhive_broker_t **self_p);

//  Log joins, losses and bad input to stderr.
ZHIVE_EXPORT void zhive_broker_set_verbose (zhive_broker_t *self, bool verbose);

//  Bind the client / worker socket. The endpoint may use a wildcard port
//  ("tcp://127.0.0.1:*"). Returns 0, or -1 with a message on stderr.
ZHIVE_EXPORT int zhive_broker_bind_clients (zhive_broker_t *self, const char *endpoint);
ZHIVE_EXPORT int zhive_broker_bind_workers (zhive_broker_t *self, const char *endpoint);

//  The endpoint actually bound (wildcards resolved), e.g. for clients to
//  connect to. Borrowed; NULL before binding.
ZHIVE_EXPORT const char *zhive_broker_clients_endpoint (zhive_broker_t *self);
ZHIVE_EXPORT const char *zhive_broker_workers_endpoint (zhive_broker_t *self);

//  Path of the zhive-worker program to start for local workers. Default:
//  $ZHIVE_WORKER, else zhive-worker beside the running program, else the
//  installed one, else zhive-worker on PATH.
ZHIVE_EXPORT void zhive_broker_set_worker_program (zhive_broker_t *self, const char *path);

//  Start `count` local worker processes that connect to the worker
//  endpoint, each loading every plugin in the NULL-terminated `loads`
//  (each "PATH" or "PATH:ARGS") with the given concurrency (0: default).
//  The broker watches them and starts a new one when one exits.
//  Call after zhive_broker_bind_workers. Returns 0 or -1.
ZHIVE_EXPORT int zhive_broker_start_workers (zhive_broker_t *self, int count,
                                             const char *const *loads, int concurrency);

//  Heartbeat interval in ms and liveness (silent intervals before a peer
//  is dead), for both sockets. Defaults 1000 and 3. Call before binding.
ZHIVE_EXPORT void zhive_broker_set_heartbeat (zhive_broker_t *self, int interval_ms, int liveness);

//  Queue limits: most tasks waiting in all queues together, and in any one
//  function's queue (0 = no limit of that kind; default 1,000,000 in all).
//  A SUBMIT past a limit is answered with ERROR QueueFull.
ZHIVE_EXPORT void zhive_broker_set_max_queue (zhive_broker_t *self, size_t total,
                                              size_t per_function);

//  Most tasks one client may have waiting in queues (default 100,000; 0 =
//  no limit). A SUBMIT past it gets ERROR QueueFull, so one client that
//  floods the broker is refused while every other client is still served.
ZHIVE_EXPORT void zhive_broker_set_max_queue_per_client (zhive_broker_t *self, size_t max);

//  Most bytes of arguments that waiting tasks may hold in all (default 1
//  GiB; 0 = no limit). A SUBMIT whose arguments would pass it gets ERROR
//  QueueFull. Tasks already running do not count.
ZHIVE_EXPORT void zhive_broker_set_max_queue_bytes (zhive_broker_t *self, uint64_t max);

//  Default redispatches of a task whose worker was lost (default 3); a
//  SUBMIT may carry its own.
ZHIVE_EXPORT void zhive_broker_set_max_retries (zhive_broker_t *self, int retries);

//  How long a task may wait while no worker offers its function (a
//  misspelled name, or a plugin not loaded anywhere) before it is answered
//  ERROR UnknownFunction ("no worker offers 'fibb' ..."), in ms. It counts
//  from the task's arrival, or from when the last worker offering the
//  function went, whichever is later; a worker that offers it meanwhile
//  takes the task. Checked every 50 ms. Default 30000
//  (ZHIVE_BROKER_UNKNOWN_FUNCTION_MS); 0 = wait for a worker for ever
//  (until the task's own deadline). A task's deadline, if shorter, still
//  ends it first (Timeout). Clients have no fail-fast option for it (the
//  protocol's SUBMIT has no field for one): the bound is the broker's.
#define ZHIVE_BROKER_UNKNOWN_FUNCTION_MS 30000
ZHIVE_EXPORT void zhive_broker_set_unknown_function_timeout (zhive_broker_t *self, int timeout_ms);

//  Prefetch: besides a task per slot (its concurrency), a worker may hold
//  tasks queued, one more for each answer that comes back within
//  prefetch_ms of its dispatch and one less for each that does not (at
//  most 1024; none at first, none for tasks slower than prefetch_ms). It
//  saves a worker of tiny tasks from waiting on the network between tasks,
//  and costs a task about prefetch_ms of waiting behind others at most (a
//  worker that joins late misses only that much of the backlog). Default
//  50; 0 = exactly one task per slot.
ZHIVE_EXPORT void zhive_broker_set_prefetch (zhive_broker_t *self, int prefetch_ms);

//  Local workers: `--max-tasks N` passed to each (0 = no limit), so each is
//  replaced after N tasks. Call before zhive_broker_start_workers.
ZHIVE_EXPORT void zhive_broker_set_worker_max_tasks (zhive_broker_t *self, uint64_t max_tasks);

//  How local workers start: "exec" (fork + exec of zhive-worker, the
//  default) or "zygote" (one prepared process that has loaded the plugins
//  forks each worker). Returns -1 (errno EINVAL) for any other name. Call
//  before zhive_broker_start_workers.
ZHIVE_EXPORT int zhive_broker_set_start_method (zhive_broker_t *self, const char *method);

//  CURVE security: encrypt both sockets with the broker's certificate and
//  let in only clients and workers whose public keys are in allow_dir
//  (public certificates as `zhive keygen` writes them; files ending in
//  _secret are skipped) or are the broker's own. Local workers get the
//  broker's certificate (--curve-secret and --broker-key, both the
//  secret_cert_path file). allow_dir NULL: only the broker's own key, so
//  only its local workers and clients holding its certificate. The broker
//  becomes the process's ZAP handler (RFC 27): one CURVE broker per
//  process. Refused keys and failed handshakes are logged to stderr. Call
//  before binding. Returns 0, or -1 with a message on stderr (the
//  certificate cannot be read or has no secret key, allow_dir cannot be
//  read, another ZAP handler runs, or already bound).
ZHIVE_EXPORT int zhive_broker_set_curve (zhive_broker_t *self, const char *secret_cert_path,
                                         const char *allow_dir);

//  Read allow_dir again (zhive-broker does it on SIGHUP). New connections
//  are checked against the new keys; peers already connected stay.
//  Returns the number of keys allowed from the directory, or -1 with a
//  message on stderr (CURVE is off, or the directory cannot be read: the
//  keys allowed before stay).
ZHIVE_EXPORT int zhive_broker_reload_curve (zhive_broker_t *self);

//  Metrics over HTTP (off by default): serve Prometheus text format 0.0.4
//  at /metrics and the status as JSON at /api/status (workers: name, host,
//  functions, concurrency, in flight, done, last seen; queues: waiting, in
//  flight, oldest age, totals), read-only (GET and HEAD; other methods get
//  405, other paths 404). address is "PORT" or ":PORT" (127.0.0.1), or
//  "ADDR:PORT" (an IPv4 address, "[IPv6]:PORT", "*:PORT" for every
//  interface); port 0 lets the kernel pick one. The server runs in the
//  broker's thread: a scrape reads counters the broker keeps anyway, and
//  costs the broker's work nothing between scrapes. Call before binding
//  the client endpoint (clients are counted from then on). Returns 0, or
//  -1 with a message on stderr (bad address, cannot bind, set already,
//  already bound).
ZHIVE_EXPORT int zhive_broker_set_http (zhive_broker_t *self, const char *address);

//  The metrics server's base URL ("http://127.0.0.1:9090", the port
//  resolved; add "/metrics"). Borrowed; NULL before zhive_broker_set_http.
ZHIVE_EXPORT const char *zhive_broker_http_endpoint (zhive_broker_t *self);

//  Ask every HTTP request for "Authorization: Bearer TOKEN" (others get
//  401); NULL or "" for none (the default). Call before
//  zhive_broker_set_http.
ZHIVE_EXPORT void zhive_broker_set_http_token (zhive_broker_t *self, const char *token);

//  Graceful stop: refuse new tasks (BrokerShutdown), finish the accepted
//  ones, then stop; tasks still unanswered after timeout_ms get
//  BrokerShutdown. Returns at once; the actor signals (zsock_wait on
//  zhive_broker_actor) when it has stopped.
ZHIVE_EXPORT void zhive_broker_drain (zhive_broker_t *self, int timeout_ms);

//  Number of workers connected and ready right now.
ZHIVE_EXPORT int zhive_broker_workers_ready (zhive_broker_t *self);

//  The actor's pipe: it signals (zsock_wait) if the broker stops on its own.
ZHIVE_EXPORT zactor_t *zhive_broker_actor (zhive_broker_t *self);

#ifdef __cplusplus
}
#endif

#endif
