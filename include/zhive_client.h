/*  =========================================================================
    zhive_client - submit tasks to a zhive broker and take their results

    The client is one DEALER socket to the broker's client endpoint. It is
    not thread-safe: use one client per thread. Every blocking call takes a
    timeout in milliseconds (-1 waits forever, 0 does not wait).

        zhive_client_t *client = zhive_client_new ("tcp://127.0.0.1:5555", 2000);
        zhive_pack_t *args = zhive_pack_new ();
        zhive_pack_array (args, 1);
        zhive_pack_int (args, 30);
        zhive_result_t *result = zhive_client_apply (client, "fib", args, NULL);
        int64_t n;
        if (zhive_result_ok (result) && zhive_value_int (zhive_result_value (result), &n) == 0)
            printf ("%lld\n", (long long) n);
        else
            printf ("%s: %s\n", zhive_result_error_type (result),
                    zhive_result_error_message (result));
    =========================================================================
*/
#ifndef ZHIVE_CLIENT_H_INCLUDED
#define ZHIVE_CLIENT_H_INCLUDED

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "zhive_export.h"
#include "zhive_pack.h"
#include "zhive_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_client_t zhive_client_t;
typedef struct _zhive_task_t zhive_task_t;
typedef struct _zhive_map_t zhive_map_t;

//  zhive_opts_t.retries value for "never redispatch this task" (the CLI's
//  `zhive --retries 0`)
#define ZHIVE_NO_RETRIES (-1)

//  A task's completion callback (zhive_opts_t.on_done): task is the handle
//  zhive_client_submit returned, still owned by the caller; result is the
//  task's result, borrowed from the task (NULL if the caller already took
//  it with zhive_task_take). The callback may keep the result by taking it
//  (zhive_task_take), may destroy the task (zhive_task_destroy), and may
//  submit, wait or cancel; it must not destroy the client. user_data is
//  opts.user_data. It runs once per task, from zhive_client_process or
//  zhive_client_wait_any only (see "Integrating with an event loop").
typedef void (zhive_done_fn) (zhive_task_t *task, zhive_result_t *result, void *user_data);

//  Options for one call. Zero-initialise and set what you need:
//      zhive_opts_t opts = { .timeout_ms = 5000 };
//  A NULL opts pointer means all defaults.
typedef struct {
    int timeout_ms;            //  Deadline per task, from submission; 0 = the
                               //  client's default (zhive_client_set_timeout)
    int window;                //  map: most tasks in flight at once; 0 = 1000
    bool unordered;            //  map: zhive_map_next returns results as they
                               //  complete instead of in input order
    int retries;               //  Redispatches after losing a worker: N > 0 =
                               //  at most N, 0 = the broker's default (its
                               //  --max-retries, 3), ZHIVE_NO_RETRIES = none.
                               //  The CLI's --retries N is the same, with its
                               //  0 (never) passed as ZHIVE_NO_RETRIES
    int chunksize;             //  map: items sent and run together as one task
                               //  (one message each way); 0 or 1 = one per task.
                               //  Each item still has its own result; a worker
                               //  lost or a deadline passed fails the whole chunk
    bool wait_if_full;         //  On QueueFull, resend after a backoff until the
                               //  deadline, instead of failing at once
    zhive_done_fn *on_done;    //  submit: called when the task finishes, and
                               //  the task is then not returned by
                               //  zhive_client_wait_any; NULL = none.
                               //  apply and maps ignore it
    void *user_data;           //  submit: the caller's pointer, given to
                               //  on_done and by zhive_task_user_data; the
                               //  client never reads or frees it
} zhive_opts_t;

//  Deadlines. A task's deadline (timeout_ms) counts from its submission;
//  the broker and the client both keep it: past it the task's result is a
//  Timeout, given by the client itself if the broker's did not come (the
//  broker is stopped or unreachable), at the deadline and not later. The
//  client then tells the broker to drop the task.
//  A task for a function that no worker offers waits in the broker's
//  queue (a worker offering it may join later), but not for ever: after
//  the broker's bound (30 s by default, zhive-broker
//  --unknown-function-timeout, zhive_broker_set_unknown_function_timeout)
//  its result is an UnknownFunction error, "no worker offers 'NAME'". Its
//  own deadline, if shorter, comes first (Timeout). There is no per-task
//  fail-fast option: the bound is the broker's.

//  Signals. libzhive installs no signal handler: SIGINT (Ctrl-C) and
//  SIGTERM do to a service what they do to any C program (by default they
//  end it), and a handler the program sets, before or after its first
//  zhive object, is left in place. (czmq, which zhive is built on, would
//  otherwise catch both at its first socket, only to set zsys_interrupted:
//  every zhive constructor, client, broker and worker, turns that off
//  first, and leaves SIGINT and SIGTERM as they were.) A program that
//  wants czmq's handler calls zsys_catch_interrupts (), or zsys_init (),
//  itself before its first zhive object; zhive_client_apply then returns
//  a Cancelled error ("interrupted by a signal") once zsys_interrupted is set.

//  ---------------------------------------------------------------------
//  Connect to a broker's client endpoint and check, within timeout_ms,
//  that a broker answers. Returns NULL with errno EINVAL if the endpoint is
//  not valid, or ETIMEDOUT if no broker answered in time.
//  With timeout_ms 0 it does not wait and does not check: it returns the
//  client at once (NULL only for EINVAL or out of memory) and connects in
//  the background, retrying until a broker is there, so a service can
//  start before its broker. Tasks submitted meanwhile wait in the
//  connection (their deadlines run) and go out when the broker comes.
//  The connection holds at most 100,000 messages each way. When it is full
//  (the broker is slow or away) tasks and map items are not failed: they
//  wait, unsent, inside the client and go out on a later call into it as
//  room frees (any call that waits, or zhive_client_process).
ZHIVE_EXPORT zhive_client_t *zhive_client_new (const char *endpoint, int timeout_ms);

//  The same, with CURVE security, for a broker that runs it (zhive-broker
//  --curve-secret, --curve-allow): this client's secret certificate (the
//  NAME_secret file of `zhive keygen NAME`, whose public key must be in the
//  broker's allow directory) and the broker's public certificate. The link
//  is encrypted and the broker is authenticated. A broker that refuses the
//  key (or a wrong broker key) looks like no broker: NULL with errno
//  ETIMEDOUT. A certificate that cannot be read: NULL with a message on
//  stderr and errno that of opening the file (ENOENT, EACCES, ...), or
//  EPROTO (not a usable certificate, e.g. no secret key in the first one).
ZHIVE_EXPORT zhive_client_t *zhive_client_new_curve (const char *endpoint, int timeout_ms,
                                                     const char *secret_cert_path,
                                                     const char *broker_cert_path);

//  Destroy the client. Tasks and maps still open are destroyed with it;
//  their handles must not be used afterwards. Safe with *self_p NULL.
ZHIVE_EXPORT void zhive_client_destroy (zhive_client_t **self_p);

//  Set the default task deadline in ms used when opts.timeout_ms is 0.
//  The initial default is -1: no deadline.
ZHIVE_EXPORT void zhive_client_set_timeout (zhive_client_t *self, int timeout_ms);

//  Heartbeat interval in ms and liveness (silent intervals before the
//  broker counts as gone), defaults 1000 and 3. They apply from the next
//  connection on. The connection runs ZMTP heartbeats; when the broker is
//  lost the client reconnects by itself (1 s doubling to 32 s) and resends
//  every task it has no answer for, so a reconnect loses nothing.
//  Any value is accepted and clamped to what libzmq takes, as broker and
//  worker clamp theirs: an interval or liveness of 0 or less means the
//  default (1000, 3); the interval is at most 3,600,000 ms (an hour), and
//  interval x liveness (the silence after which the broker is gone) too,
//  so liveness is cut to fit (e.g. 3600000, 3 runs as 3600000, 1). They
//  do not change deadlines: a task ends at its deadline at the latest.
ZHIVE_EXPORT void zhive_client_set_heartbeat (zhive_client_t *self, int interval_ms, int liveness);

//  Answers the client dropped because their task already had one (a
//  duplicate), or was cancelled, timed out or destroyed before it came.
ZHIVE_EXPORT uint64_t zhive_client_dropped (zhive_client_t *self);

//  How many times the client has reconnected to the broker.
ZHIVE_EXPORT uint64_t zhive_client_reconnects (zhive_client_t *self);

//  ---------------------------------------------------------------------
//  Run one task and wait for its result. args must hold one msgpack array
//  (the positional arguments) or be NULL for none. Always returns a result
//  (an error result when the call failed; NULL only if out of memory).
//  Waits at most opts->timeout_ms (or the client default), broker or no
//  broker; past it the result is a Timeout error. Caller owns the result.
//  opts->on_done and user_data are ignored.
ZHIVE_EXPORT zhive_result_t *zhive_client_apply (zhive_client_t *self, const char *function,
                                                 const zhive_pack_t *args,
                                                 const zhive_opts_t *opts);

//  ---------------------------------------------------------------------
//  Submit one task without waiting. Returns a handle, or NULL with errno
//  EINVAL if args is not one msgpack array. Caller owns the handle (also
//  when opts->on_done is set: destroy it in the callback, or later).
//  Never runs a callback.
ZHIVE_EXPORT zhive_task_t *zhive_client_submit (zhive_client_t *self, const char *function,
                                                const zhive_pack_t *args, const zhive_opts_t *opts);

//  Wait up to timeout_ms for the task to finish. Returns its result
//  (borrowed: it belongs to the task), or NULL if not finished in time.
ZHIVE_EXPORT zhive_result_t *zhive_task_wait (zhive_task_t *self, int timeout_ms);

//  True if the task has its result (never blocks; reads what has arrived).
ZHIVE_EXPORT bool zhive_task_done (zhive_task_t *self);

//  Take the result out of a finished task: the caller owns it. NULL if the
//  task has not finished.
ZHIVE_EXPORT zhive_result_t *zhive_task_take (zhive_task_t *self);

//  Cancel the task: if it has no result yet, its result becomes a
//  Cancelled error at once and the broker is told to drop it (or to cancel
//  it on its worker). Returns 0, or -1 if it had already finished.
ZHIVE_EXPORT int zhive_task_cancel (zhive_task_t *self);

//  The task's id, unique within its client.
ZHIVE_EXPORT uint64_t zhive_task_id (const zhive_task_t *self);

//  Forget a task; if it has no result yet it is cancelled as by
//  zhive_task_cancel. Safe with *self_p NULL.
ZHIVE_EXPORT void zhive_task_destroy (zhive_task_t **self_p);

//  Wait up to timeout_ms for any submitted task to finish and return it
//  (borrowed: still owned by whoever submitted it), or NULL if none
//  finished in time. Each finished task is returned once, in completion
//  order. This is the unordered way to take results. Tasks with an
//  on_done callback are not returned: their callbacks run here instead.
ZHIVE_EXPORT zhive_task_t *zhive_client_wait_any (zhive_client_t *self, int timeout_ms);

//  The opts.user_data the task was submitted with (NULL if none).
ZHIVE_EXPORT void *zhive_task_user_data (const zhive_task_t *self);

//  ---------------------------------------------------------------------
//  Integrating with an event loop (poll, epoll, libuv; see
//  examples/eventloop_service.c). Each turn of the loop:
//
//      int wait = zhive_client_timeout (client);     //  -1: no timer
//      ... arm a timer for `wait` ms, watch zhive_client_fd for reading ...
//      ... when either fires (or after any other event):
//      zhive_client_process (client);                //  callbacks run here
//
//  and take finished tasks without callbacks with zhive_client_wait_any
//  (client, 0). Ask zhive_client_timeout again before every sleep: it is 0
//  whenever something is already waiting (the fd is edge-triggered, and a
//  call that sends may have consumed its edge).
//
//  What may send on the socket: zhive_client_new*, submit, apply, map,
//  starmap, status, task_cancel and task_destroy, map_destroy, and every
//  call that reads it. What reads the socket (taking answers and applying
//  deadlines): process, apply, status, task_wait, task_done, task_take,
//  wait_any, map_next, map_take and zhive_client_reconnects.
//  What runs on_done callbacks: zhive_client_process and
//  zhive_client_wait_any, nothing else (not even when they are called
//  from a callback: then they run the callbacks queued since).

//  Read and handle every message waiting on the socket, send what waits
//  and is due, apply the deadlines that passed, then run the callbacks of
//  the tasks that finished. Never blocks. Returns how many tasks or map
//  items finished.
ZHIVE_EXPORT int zhive_client_process (zhive_client_t *self);

//  Milliseconds until the client next needs zhive_client_process even if
//  its fd stays quiet: the next task or map-item deadline, the next resend
//  after QueueFull; 0 if something waits already (messages, callbacks,
//  sends with room for them, a reconnect to resend after); -1 if nothing
//  is timed. While tasks or maps are open it is at most the heartbeat
//  interval (1000 ms by default), when a reconnect is looked for. Does
//  not block, send or run callbacks.
ZHIVE_EXPORT int zhive_client_timeout (zhive_client_t *self);

//  The socket's ZMQ_FD: readable (edge-triggered) when the socket may have
//  something to read or room to send. Owned by the client; never read it.
ZHIVE_EXPORT int zhive_client_fd (zhive_client_t *self);

//  The client's socket, a czmq zsock_t * (for zloop_reader or zpoller in
//  czmq programs; this header does not include czmq). Owned by the client.
ZHIVE_EXPORT void *zhive_client_socket (zhive_client_t *self);

//  ---------------------------------------------------------------------
//  Run `function` once per item. items holds any number of msgpack values
//  one after another; each becomes the single argument of one task.
//  Returns a map handle to read results from, or NULL with errno EINVAL if
//  items is not a sequence of valid values. Caller owns the handle.
ZHIVE_EXPORT zhive_map_t *zhive_client_map (zhive_client_t *self, const char *function,
                                            const zhive_pack_t *items, const zhive_opts_t *opts);

//  As zhive_client_map, but each item must be a msgpack array: the
//  positional arguments of one task.
ZHIVE_EXPORT zhive_map_t *zhive_client_starmap (zhive_client_t *self, const char *function,
                                                const zhive_pack_t *items,
                                                const zhive_opts_t *opts);

//  Next result of the map: in input order, or in completion order if the
//  map was made with opts.unordered (zhive_result_index tells which
//  input). Waits up to timeout_ms. Returns 1 with *result set (the caller
//  owns it), 0 at the end (every result returned; *result NULL), or -1
//  if none came in time (*result NULL; call again later). errno is not
//  used. Every item ends (a value, an error, or a Timeout at its
//  deadline), so a loop until 0 ends.
ZHIVE_EXPORT int zhive_map_take (zhive_map_t *self, int timeout_ms, zhive_result_t **result);

//  The same, returning the result or NULL both at the end (errno 0) and
//  when none came in time (errno ETIMEDOUT); zhive_map_done tells which.
ZHIVE_EXPORT zhive_result_t *zhive_map_next (zhive_map_t *self, int timeout_ms);

//  True once every result of the map has been returned.
ZHIVE_EXPORT bool zhive_map_done (const zhive_map_t *self);

//  Number of items in the map.
ZHIVE_EXPORT size_t zhive_map_size (const zhive_map_t *self);

//  Number of results returned so far by zhive_map_next.
ZHIVE_EXPORT size_t zhive_map_returned (const zhive_map_t *self);

//  Destroy the map; tasks still running are cancelled and their results
//  dropped. Safe with NULL.
ZHIVE_EXPORT void zhive_map_destroy (zhive_map_t **self_p);

//  ---------------------------------------------------------------------
//  Ask the broker for its state: workers and queues, as a msgpack map (see
//  docs/protocol.md, STATUS). Returns a result like apply does.
ZHIVE_EXPORT zhive_result_t *zhive_client_status (zhive_client_t *self, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
