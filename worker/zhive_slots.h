/*  =========================================================================
    zhive_slots - the jobs a worker holds, and running them (private)

    A worker runs up to `concurrency` jobs at once, one per slot. Tasks the
    broker sends beyond that (its prefetch) wait in a FIFO, oldest first,
    up to ZHIVE_SLOTS_QUEUE_MAX, and start as slots come free, their
    deadline counting the wait. Jobs in a slot or waiting are found by
    their ticket (for CANCEL). An orphan is a job still running whose
    answer nobody is owed (its broker incarnation is gone): it holds no
    slot and no ticket and is let go, unanswered, when its handler ends it.
    One finished job is kept as a spare to run the next task in, so a warm
    worker allocates nothing per task.

    Starting a job unpacks its args and calls its handler (a chunk: the
    handler per item), with the watchdog armed around a sync handler that
    has a deadline. A job that ends, at once or later through its
    completion callback, is handed to the owner's answer callback, then
    lets its slot go. The slots never send anything themselves.
    =========================================================================
*/
#ifndef ZHIVE_SLOTS_H_INCLUDED
#define ZHIVE_SLOTS_H_INCLUDED

#include "zhive_job.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHIVE_SLOTS_QUEUE_MAX 4096    //  Jobs that may wait for a slot

typedef struct _zhive_slots_t zhive_slots_t;

//  Called for a job that ended and is owed an answer, before it lets its
//  slot go: chunk is the chunk's answer (the value to send) for a chunked
//  job that ran, else NULL and the job's outcome is the answer
//  (zhive_job_answer)
typedef void (zhive_slots_answer_fn) (zhive_job_t *job, zhive_pack_t *chunk, void *arg);

//  What a CANCEL did
typedef enum {
    ZHIVE_SLOTS_UNKNOWN,      //  No job holds the ticket
    ZHIVE_SLOTS_DROPPED,      //  It was waiting: answered Cancelled without running
    ZHIVE_SLOTS_CANCELLED,    //  Its cancel function ran; answered Cancelled
    ZHIVE_SLOTS_RUNS_ON       //  It has no cancel function: it runs on
} zhive_slots_cancel_t;

//  ---------------------------------------------------------------------
//  Create slots (16 of them) for the jobs of worker, whose handlers get
//  loop; name is the worker's name in messages (borrowed, it must live as
//  long). answer (arg) gets each job owed an answer. NULL if out of
//  memory.
zhive_slots_t *zhive_slots_new (zhive_worker_t *worker, zloop_t *loop, const char *name,
                                zhive_slots_answer_fn *answer, void *arg);

//  Destroy the slots and every job they hold (no handler or cancel
//  function is called); safe with *self_p NULL.
void zhive_slots_destroy (zhive_slots_t **self_p);

//  Change the number of slots (at least 1).
void zhive_slots_set_concurrency (zhive_slots_t *self, uint32_t concurrency);

//  The number of slots.
uint32_t zhive_slots_concurrency (zhive_slots_t *self);

//  How long past its deadline a sync handler may run before the watchdog
//  ends the process (zhive_grace_ms).
void zhive_slots_set_grace (zhive_slots_t *self, int64_t grace_ms);

//  True if a new job could neither run nor wait: every slot is taken and
//  the FIFO is at its limit.
bool zhive_slots_full (zhive_slots_t *self);

//  Take a task: a job (the spare, or a new one) with handler, ticket, the
//  args frame (taken; the source is left empty), chunk (items, 0 for one
//  task) and timeout_ms (-1 for none). It starts at once if a slot is free
//  and no job waits (ZHIVE_JOB_RUNNING; it may have ended already), else
//  waits at the end of the FIFO (ZHIVE_JOB_WAITING). A repeated ticket
//  finds the newer job. Returns the place, or -1 if out of memory.
int zhive_slots_take (zhive_slots_t *self, zhive_handler_t *handler, uint64_t ticket,
                      zmq_msg_t *frame, uint32_t chunk, int64_t timeout_ms);

//  CANCEL the job holding ticket: a waiting one is answered Cancelled
//  without running; a running one with a cancel function is undone and
//  answered Cancelled; one without runs on. Says which.
zhive_slots_cancel_t zhive_slots_cancel (zhive_slots_t *self, uint64_t ticket);

//  End every job whose incarnation is not this one, without answers:
//  waiting ones are dropped, running ones with a cancel function cancelled
//  (it runs), the others left running as orphans. Their slots are free
//  (waiting jobs of this incarnation start). The counts of each, if not
//  NULL, go to dropped, cancelled and orphaned. Returns their sum.
size_t zhive_slots_end_stale (zhive_slots_t *self, uint64_t incarnation, size_t *dropped,
                              size_t *cancelled, size_t *orphaned);

//  Start no more waiting jobs (the worker stops).
void zhive_slots_stop (zhive_slots_t *self);

//  Jobs in slots, and waiting.
size_t zhive_slots_running (zhive_slots_t *self);
size_t zhive_slots_waiting (zhive_slots_t *self);

#ifdef __cplusplus
}
#endif

#endif
