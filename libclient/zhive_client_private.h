/*  =========================================================================
    zhive_client_private - what the client, its tasks and its maps share

    The client (zhive_client.c) is the connection: it sends, receives,
    resends after a reconnect or a full pipe, and routes every answer by
    task id to the id's owner. Tasks (zhive_task.c) and maps (zhive_map.c)
    are owners: each holds a block of ids [base, base + count) and is
    reached only through its zhive_owner_ops_t. Calls go one way: owners
    call the client; the client calls owners only through their ops.
    zhive_answer.c holds the result and payload helpers both use;
    zhive_late (its own class) the ids whose late answer is expected.

    Every SUBMIT leaves through one path: the owner marks the id as
    wanting a send and queues it (zhive_client_queue); the client's flush
    asks the owner to send it (ops->send). A send that finds the pipe full
    (EAGAIN) stays queued and goes out on a later call; a reconnect queues
    every id that was sent and has no answer yet (ops->reconnected).
    =========================================================================
*/
#ifndef ZHIVE_CLIENT_PRIVATE_H_INCLUDED
#define ZHIVE_CLIENT_PRIVATE_H_INCLUDED

#include <czmq.h>
#include "zhive_client.h"
#include "zhive_heap.h"
#include "zhive_list.h"
#include "zhive_private.h"
#include "zhive_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHIVE_BACKOFF_MS  50      //  First wait before resending after QueueFull
#define ZHIVE_BACKOFF_MAX 1000    //  Longest wait before resending after QueueFull

//  An answer for one task id: a value (RESULT's payload) or an error
typedef struct {
    zmq_msg_t *value;       //  RESULT: its payload (an owner may move it out); NULL: an error
    const char *type;       //  Error type
    const char *message;    //  Error message
    const char *worker;     //  Worker that raised it, "" if none
} zhive_answer_t;

typedef struct _zhive_owner_t zhive_owner_t;

//  What the client asks of an owner, by id within its block
typedef struct {
    //  Send id's SUBMIT now (zhive_client_send_submit) if it still wants
    //  one. Returns 0 (sent, or nothing to send) or -1 with errno: EAGAIN
    //  keeps the id queued, anything else is answered as NoBroker.
    int (*send) (zhive_owner_t *owner, uint64_t id);
    //  Take an answer. Returns the tasks or items it finished, or -1 if
    //  nothing wanted it (a duplicate, or cancelled): counted as dropped.
    int (*deliver) (zhive_owner_t *owner, uint64_t id, zhive_answer_t *answer);
    //  QueueFull for id: return true after queueing a resend with a delay,
    //  false to take the error as the answer.
    bool (*queue_full) (zhive_owner_t *owner, uint64_t id);
    //  A new connection: queue every id that was sent and has no answer.
    void (*reconnected) (zhive_owner_t *owner);
    //  Its deadline (zhive_client_arm) passed: apply deadlines at now (ms
    //  clock) and arm the next one if any. Returns how many finished.
    int (*expire) (zhive_owner_t *owner, int64_t now);
    //  Queued by zhive_client_notify: run the owner's completion callback
    //  (NULL for owners that never queue themselves)
    void (*notify) (zhive_owner_t *owner);
    //  The client is being destroyed: detach and free the owner.
    void (*destroy) (zhive_owner_t *owner);
} zhive_owner_ops_t;

//  Embedded in a task or a map: its place in the client's owner table
struct _zhive_owner_t {
    const zhive_owner_ops_t *ops;    //  How the client reaches the owner
    zhive_client_t *client;          //  The client it is attached to
    uint64_t base;                   //  First task id of its block
    size_t count;                    //  Ids in the block
    zhive_link_t link;               //  In the client's list of owners
    zhive_heap_node_t deadline;      //  Its next deadline, in the client's heap
    zhive_link_t notify;             //  In the client's list of owners to notify
};

//  The object embedding an owner
#define ZHIVE_OWNER_ITEM(owner, type, field) ((type *) ((char *) (owner) -offsetof (type, field)))

//  ---------------------------------------------------------------------
//  The owner table

//  Give owner a new block of count ids and attach it: answers for them
//  reach its ops from now on. Returns 0, or -1 if out of memory.
int zhive_client_attach (zhive_client_t *self, zhive_owner_t *owner, const zhive_owner_ops_t *ops,
                         size_t count);

//  Detach an owner: answers for its ids are dropped from now on.
void zhive_client_detach (zhive_client_t *self, zhive_owner_t *owner);

//  Apply the deadlines that passed (every owner armed at or before now).
//  Returns how many tasks or items finished.
int zhive_client_expire (zhive_client_t *self);

//  Set the owner's next deadline to due (ms clock), or none with due 0:
//  its ops->expire runs once the time is reached (in any call that waits,
//  and zhive_client_process), and zhive_client_timeout counts it.
void zhive_client_arm (zhive_client_t *self, zhive_owner_t *owner, int64_t due);

//  Queue the owner for its ops->notify, run by zhive_client_dispatch
//  (never from inside the call that finished it). Safe if queued already.
void zhive_client_notify (zhive_client_t *self, zhive_owner_t *owner);

//  Run ops->notify of every queued owner (the callbacks), oldest first.
//  Returns how many ran.
int zhive_client_dispatch (zhive_client_t *self);

//  An answer for id is still to come from the broker after the client
//  ended the task itself (its deadline): drop it without counting it.
void zhive_client_expect_late (zhive_client_t *self, uint64_t id);

//  Finished tasks not yet handed out by zhive_client_wait_any, oldest
//  first. The client keeps the list; tasks put their links in it.
zhive_list_t *zhive_client_finished (zhive_client_t *self);

//  ---------------------------------------------------------------------
//  Sending

//  Queue id to be sent (ops->send) after delay_ms (0: on the next flush).
//  Returns 0, or -1 if out of memory.
int zhive_client_queue (zhive_client_t *self, uint64_t id, int delay_ms);

//  Send what is queued and due, until the pipe is full.
void zhive_client_flush (zhive_client_t *self);

//  Send SUBMIT; payload is moved in (left empty). Returns 0, or -1 with
//  errno (EAGAIN: the pipe is full).
int zhive_client_send_submit (zhive_client_t *self, uint64_t id, const char *function,
                              int64_t timeout_ms, int64_t retries, uint32_t chunk,
                              zmq_msg_t *payload);

//  Tell the broker to drop id (best effort: a full pipe loses it, and the
//  task's late answer is then dropped).
void zhive_client_send_cancel (zhive_client_t *self, uint64_t id);

//  ---------------------------------------------------------------------
//  Receiving and time

//  Wait up to timeout_ms (-1 forever) for messages and handle all that are
//  waiting, sending what is queued as the pipe allows. Returns how many
//  tasks and map items finished, or -1 if interrupted by a signal.
int zhive_client_pump (zhive_client_t *self, int64_t timeout_ms);

//  A task's deadline for opts: opts->timeout_ms, or the client's default;
//  -1 for none.
int64_t zhive_client_task_timeout (zhive_client_t *self, const zhive_opts_t *opts);

//  A result from an answer (the value frame is moved in). NULL only if
//  out of memory.
zhive_result_t *zhive_answer_result (zhive_answer_t *answer);

//  The Timeout the client gives a task whose backstop deadline passed.
zhive_result_t *zhive_timeout_result (const char *function, int64_t timeout_ms);

//  Make a frame of prefix_size bytes (0 or 1) then size bytes of data.
//  Returns 0, or -1 if out of memory.
int zhive_payload_init (zmq_msg_t *frame, const uint8_t *prefix, size_t prefix_size,
                        const void *data, size_t size);

//  The SUBMIT retries field for opts.retries (0 = broker default = -1 on
//  the wire; ZHIVE_NO_RETRIES = 0 on the wire)
static inline int64_t
zhive_wire_retries (const zhive_opts_t *opts)
{
    if (!opts || opts->retries == 0)
        return -1;
    return opts->retries < 0 ? 0 : opts->retries;
}

//  True if data [0 .. size) is exactly one msgpack array
static inline bool
zhive_is_one_array (const char *data, size_t size)
{
    size_t count;
    if (zhive_msgpack_array_header (data, size, &count) == 0)
        return false;
    ssize_t length = zhive_msgpack_skip (data, size);
    return length >= 0 && (size_t) length == size;
}

//  Deadline for a caller's wait of timeout_ms (ms clock; -1: forever = 0)
static inline int64_t
zhive_wait_deadline (int timeout_ms)
{
    return timeout_ms < 0 ? 0 : zhive_clock_ms () + timeout_ms;
}

//  Milliseconds left until deadline (ms clock), -1 for none, 0 if past
static inline int64_t
zhive_wait_remaining (int64_t deadline)
{
    if (deadline == 0)
        return -1;
    int64_t left = deadline - zhive_clock_ms ();
    return left > 0 ? left : 0;
}

//  Time a task has left until its deadline due (ms clock) for a (re)send:
//  the deadline counts from the first submission. -1 for none, at least 1.
static inline int64_t
zhive_time_left (int64_t due)
{
    int64_t left = zhive_wait_remaining (due);
    return left < 0 ? -1 : left > 1 ? left : 1;
}

//  ---------------------------------------------------------------------
//  For tests

//  A client whose socket holds at most hwm messages each way (instead of
//  ZHIVE_HWM_CLIENT), so that a test can fill the pipe with few tasks.
zhive_client_t *zhive_client_new_hwm (const char *endpoint, int timeout_ms, int hwm);

//  Ids queued to be sent and not sent yet (the pipe was full, or a resend
//  is waiting for its delay).
size_t zhive_client_unsent (zhive_client_t *self);

#ifdef __cplusplus
}
#endif

#endif
