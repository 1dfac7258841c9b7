/*  =========================================================================
    zhive_worker - a worker: one zloop that runs task handlers

    A worker connects to the broker's worker endpoint, offers the functions
    registered on it, and runs up to `concurrency` tasks at once.

    A SYNC handler does its work inside the call and returns: 0 means the
    job succeeded with whatever it packed into zhive_job_reply (nil if it
    packed nothing); -1 means it failed (with the type and message given to
    zhive_job_fail, or HandlerError). The worker sends the answer. It
    cannot be interrupted or cancelled; heartbeats go on meanwhile (libzmq
    answers them), so a long handler is fine. But a task may carry a
    deadline: a sync handler still running a grace period past it (the
    larger of 2 s and 2 x heartbeat interval x liveness) has overrun badly,
    and the worker process writes "zhive-worker: handler 'NAME' overran its
    deadline by N ms; ..." to stderr and exits with status 70 (_exit: no
    clean-up), so that the pool replaces it (the broker restarts local
    workers; a supervisor such as docker restarts remote ones).

    An ASYNC handler starts the work (a zloop timer, a socket reader, another
    process) and returns 0; later, from the loop, it calls zhive_job_complete
    or zhive_job_fail exactly once. Returning -1 fails the job at once. Up to
    `concurrency` async jobs run at the same time in one worker. If the
    task is cancelled or times out, the broker sends CANCEL: a job with a
    cancel function (zhive_job_on_cancel) is undone and answered Cancelled
    at once; one without runs on, and its answer, dropped by the broker,
    frees its slot.

    Plugins (.so) export one function, the per-worker initializer:

        int zhive_plugin_init (zhive_worker_t *worker, const char *args);

    which registers handlers with zhive_worker_register and returns 0, or -1
    to refuse to load (the worker then exits with the plugin's message).
    `args` is the text after ':' in `--load PLUGIN.so:ARGS` ("" if none).

    Broker incarnations: the broker answers every READY with WELCOME
    naming its incarnation, and its tickets are incarnation << 32 |
    sequence. A worker welcomed by another incarnation than the one it
    knew (the broker restarted) ends the jobs of the old one without
    answers: waiting ones are dropped, running async ones are cancelled
    (their cancel function runs; one without runs on, its answer dropped),
    and a sync job's answer is dropped. No answer to an old incarnation's
    task is ever sent to the new broker. The same incarnation after a
    reconnect changes nothing: the jobs run on and are answered.
    =========================================================================
*/
#ifndef ZHIVE_WORKER_H_INCLUDED
#define ZHIVE_WORKER_H_INCLUDED

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
typedef struct _zloop_t zloop_t;    //  czmq's, opaque here (the same declaration as czmq's)
#include "zhive_export.h"
#include "zhive_pack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_worker_t zhive_worker_t;
typedef struct _zhive_job_t zhive_job_t;

//  A task handler. `state` is the pointer given at registration.
typedef int (zhive_handler_fn) (zhive_job_t *job, void *state);

//  The plugin initializer's type and symbol name.
typedef int (zhive_plugin_init_fn) (zhive_worker_t *worker, const char *args);
#define ZHIVE_PLUGIN_INIT "zhive_plugin_init"

//  What every plugin defines, declared here so that a plugin compiles
//  cleanly under -Wmissing-prototypes, and exported from the plugin even
//  when it is built with hidden visibility. libzhive does not define it: the
//  worker finds each plugin's own with dlsym.
#if (defined __GNUC__ && __GNUC__ >= 4) || defined __clang__
#define ZHIVE_PLUGIN_EXPORT __attribute__ ((visibility ("default")))
#else
#define ZHIVE_PLUGIN_EXPORT
#endif
ZHIVE_PLUGIN_EXPORT int zhive_plugin_init (zhive_worker_t *worker, const char *args);

#define ZHIVE_SYNC  0    //  handler completes before it returns
#define ZHIVE_ASYNC 1    //  handler completes later, from the loop

//  ---------------------------------------------------------------------
//  Create a worker that will connect to the broker's worker endpoint.
//  Returns NULL (errno EINVAL) if the endpoint is not valid.
ZHIVE_EXPORT zhive_worker_t *zhive_worker_new (const char *endpoint);

//  The same, with CURVE security, for a broker that runs it (zhive-broker
//  --curve-secret, --curve-allow): this worker's secret certificate (the
//  NAME_secret file of `zhive keygen NAME`, whose public key must be in the
//  broker's allow directory) and the broker's public certificate. The link
//  is encrypted and the broker is authenticated. If the broker refuses the
//  key, zhive_worker_run says so on stderr and returns -1 (libzmq does not
//  retry a refused key; zhive-worker exits 1, for its supervisor to start
//  it again). A wrong broker key is logged and retried. Returns
//  NULL with a message on stderr if a certificate cannot be read or the
//  secret one has no secret key (errno that of opening the file, e.g.
//  ENOENT, or EPROTO for a file that is not a usable certificate), or
//  EINVAL if the endpoint is not valid.
ZHIVE_EXPORT zhive_worker_t *zhive_worker_new_curve (const char *endpoint,
                                                     const char *secret_cert_path,
                                                     const char *broker_cert_path);

//  Destroy the worker, dropping jobs still running. Safe with *self_p NULL.
ZHIVE_EXPORT void zhive_worker_destroy (zhive_worker_t **self_p);

//  Add a failover broker endpoint. A worker with more than one tries them
//  in order: when it has had no connection for 2 × interval × liveness (at
//  least 2 s) it moves to the next, and round again. Call before
//  zhive_worker_run.
//  Returns -1 (errno EINVAL) for an endpoint libzmq cannot connect to
//  (checked now, not at failover), or a running worker; ENOMEM.
ZHIVE_EXPORT int zhive_worker_add_endpoint (zhive_worker_t *self, const char *endpoint);

//  Most tasks run at once (default 16). Set before zhive_worker_run.
ZHIVE_EXPORT void zhive_worker_set_concurrency (zhive_worker_t *self, int concurrency);

//  Name reported to the broker and in errors (default "HOST:PID").
ZHIVE_EXPORT void zhive_worker_set_name (zhive_worker_t *self, const char *name);

//  Log what happens to stderr.
ZHIVE_EXPORT void zhive_worker_set_verbose (zhive_worker_t *self, bool verbose);

//  ZMTP heartbeat interval in ms and liveness towards the broker (defaults
//  1000 and 3; 0 or less means the default; the interval, and interval x
//  liveness, are at most one hour): a broker silent that long is dropped
//  and reconnected to (after 1 s, doubling to 32 s while it stays away).
//  Also sets the sync handlers' grace period (see above). Set before
//  zhive_worker_run.
ZHIVE_EXPORT void zhive_worker_set_heartbeat (zhive_worker_t *self, int interval_ms, int liveness);

//  Take at most max_tasks tasks in all (0 = no limit, the default), then
//  finish them, say BYE and return 0 from zhive_worker_run. READY tells
//  the broker how many are left. Set before zhive_worker_run.
ZHIVE_EXPORT void zhive_worker_set_max_tasks (zhive_worker_t *self, uint64_t max_tasks);

//  Turn CURVE on for a worker made with zhive_worker_new (certificates as
//  for zhive_worker_new_curve): it reconnects at once with them. The plain
//  connection made by zhive_worker_new may have reached the broker
//  meanwhile, which logs it as a peer without CURVE; new_curve does not
//  do that. Set before zhive_worker_run. Returns 0, or -1 with a message
//  on stderr if a certificate cannot be read.
ZHIVE_EXPORT int zhive_worker_set_curve (zhive_worker_t *self, const char *secret_cert_path,
                                         const char *broker_cert_path);

//  Graceful stop: tell the broker to send no more tasks (DRAINING), finish
//  the jobs in flight (and any task already on its way), then say BYE and
//  return 0 from zhive_worker_run, once the broker has answered DRAINED or
//  after waiting idle for heartbeat interval x liveness without it.
//  Callable before run, from a handler, or from a timer that looks at a
//  signal handler's flag; zhive_worker_stop stops at once.
ZHIVE_EXPORT void zhive_worker_drain (zhive_worker_t *self);

//  Register a handler for `function`. flags is ZHIVE_SYNC or ZHIVE_ASYNC.
//  Returns -1 (errno EINVAL) if the name is empty or longer than 255 bytes,
//  or EEXIST if the name is already registered.
ZHIVE_EXPORT int zhive_worker_register (zhive_worker_t *self, const char *function,
                                        zhive_handler_fn *handler, void *state, int flags);

//  Load a plugin and call its zhive_plugin_init with `args` (may be NULL).
//  Returns -1 and logs a message (stderr by default) if it cannot be
//  loaded or its initializer fails.
ZHIVE_EXPORT int zhive_worker_load (zhive_worker_t *self, const char *path, const char *args);

//  The same for a --load value "PLUGIN[:ARGS]", as zhive-worker takes it:
//  the arguments start at the first ':' after ".so" (after the last '/'
//  when there is no ".so"), so "/opt/a:b/libx.so:n=1" is the plugin
//  "/opt/a:b/libx.so" with the arguments "n=1".
ZHIVE_EXPORT int zhive_worker_load_spec (zhive_worker_t *self, const char *spec);

//  The zygote start method (zhive-worker --zygote): open the plugins
//  given as --load values (count of them) once, without calling their
//  initializers, then fork a worker for each "spawn" line on stdin,
//  printing "pid PID" for it (or "error MESSAGE"), and "exit PID STATUS"
//  when one ends; at the end of stdin, SIGTERM, SIGINT or SIGHUP, or when
//  its parent dies, stop the workers and return. Call it before anything
//  makes a ZeroMQ context or a thread. Returns, in the zygote, its exit
//  status (1 if a plugin cannot be opened) with *child false. Returns, in
//  each forked worker, 0 with *child true: the plugins stay loaded in it,
//  SIGTERM and SIGINT are blocked (unblock them once their handlers are
//  set), stdin reads /dev/null and stdout goes to stderr; the caller goes
//  on to make its worker and load the same plugins. Linux only: elsewhere
//  it says so and returns 1.
ZHIVE_EXPORT int zhive_worker_zygote (const char *const *specs, size_t count, bool *child);

//  Connect and serve until zhive_worker_stop, a drain or the max_tasks
//  limit completes, czmq's interrupt (SIGINT or SIGTERM, unless the program
//  disabled czmq's handler), or a failure. Returns 0 when stopped, -1 on
//  failure (e.g. the broker said BYE). Another signal that interrupts the
//  loop does not end it.
ZHIVE_EXPORT int zhive_worker_run (zhive_worker_t *self);

//  Ask a running worker to stop after the current event. Callable from a
//  handler.
ZHIVE_EXPORT void zhive_worker_stop (zhive_worker_t *self);

//  The worker's loop, for handlers and embedders that add their own
//  timers and readers. Valid for the life of the worker.
ZHIVE_EXPORT zloop_t *zhive_worker_loop (zhive_worker_t *self);

//  Tasks this worker has finished (results and errors).
ZHIVE_EXPORT uint64_t zhive_worker_done (zhive_worker_t *self);

//  ---------------------------------------------------------------------
//  The function this job was called as (borrowed).
ZHIVE_EXPORT const char *zhive_job_function (const zhive_job_t *self);

//  The positional arguments: always a msgpack array (borrowed; valid until
//  the job completes or fails).
ZHIVE_EXPORT const msgpack_object *zhive_job_args (const zhive_job_t *self);

//  Number of positional arguments, and argument `index` (NULL if none).
ZHIVE_EXPORT size_t zhive_job_argc (const zhive_job_t *self);
ZHIVE_EXPORT const msgpack_object *zhive_job_arg (const zhive_job_t *self, size_t index);

//  The worker's loop (for async handlers' timers and readers).
ZHIVE_EXPORT zloop_t *zhive_job_loop (const zhive_job_t *self);

//  The worker running this job.
ZHIVE_EXPORT zhive_worker_t *zhive_job_worker (const zhive_job_t *self);

//  The buffer to pack the job's result into: exactly one value.
ZHIVE_EXPORT zhive_pack_t *zhive_job_reply (zhive_job_t *self);

//  Per-job pointer for an async handler's own state.
ZHIVE_EXPORT void zhive_job_set_data (zhive_job_t *self, void *data);
ZHIVE_EXPORT void *zhive_job_data (const zhive_job_t *self);

//  Async: a function the worker calls if the task is cancelled or times
//  out while it runs. It must undo what the handler started (timers,
//  readers) and must not complete or fail the job: the worker answers
//  Cancelled and frees the job after it returns (a completion or failure
//  inside it is ignored). Set it from the handler; NULL removes it.
typedef void (zhive_cancel_fn) (zhive_job_t *job, void *state);
ZHIVE_EXPORT void zhive_job_on_cancel (zhive_job_t *self, zhive_cancel_fn *fn, void *state);

//  Async: send the packed reply and free the job (the pointer is invalid
//  afterwards). Returns -1 if the reply is not exactly one msgpack value
//  (the client then gets a HandlerError instead).
ZHIVE_EXPORT int zhive_job_complete (zhive_job_t *self);

//  Fail the job with an error type and a printf-style message. From a sync
//  handler: record the error, then return -1. From an async handler: the
//  error is sent and the job freed at once. Returns -1 so a handler can
//  write `return zhive_job_fail (job, ...)`.
ZHIVE_EXPORT int zhive_job_fail (zhive_job_t *self, const char *type, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
