/*  =========================================================================
    zhive_job - one task a worker runs (private to the worker)

    The job owns the task's args frame, the unpacked args that point into
    it, the reply buffer and the recorded outcome. The worker owns the jobs
    (a list of those in flight) and sends their answers: a job that is done
    calls zhive_worker_answer, which answers and destroys it.
    =========================================================================
*/
#ifndef ZHIVE_JOB_H_INCLUDED
#define ZHIVE_JOB_H_INCLUDED

#include "zhive_worker.h"
#include "zhive_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

//  A registered handler (the worker owns it)
typedef struct {
    char *name;              //  Function name offered to the broker
    zhive_handler_fn *fn;    //  The handler
    void *state;             //  The handler's pointer from registration
    int flags;               //  ZHIVE_SYNC or ZHIVE_ASYNC
} zhive_handler_t;

struct _zhive_job_t {
    zhive_worker_t *worker;            //  Worker running the job
    zhive_handler_t *handler;          //  Handler called for it (the worker owns it)
    uint64_t ticket;                   //  Broker's ticket, echoed in the answer
    zmq_msg_t frame;                   //  Args bytes; the unpacked args point into them
    msgpack_unpacked args;             //  The args array, unpacked (into zone)
    msgpack_zone *zone;                //  Memory of the unpacked args, kept for reuse
    zhive_pack_t *reply;               //  Reply buffer, made on first use
    void *data;                        //  An async handler's own state
    zhive_cancel_fn *cancel;           //  Async: undoes the handler's work on CANCEL, or NULL
    void *cancel_state;                //  The cancel function's pointer
    bool in_handler;                   //  True while its handler (or cancel) call is on the stack
    bool completed;                    //  zhive_job_complete called inside the handler
    bool failed;                       //  zhive_job_fail called
    char type [ZHIVE_NAME_MAX + 1];    //  Error type given to zhive_job_fail
    char *message;                     //  Error message given to zhive_job_fail
    bool queued;                       //  Waiting for a free slot (the worker's queue)
    uint32_t chunk;                    //  Queued: items of a chunked task, 0 = one task
    int64_t timeout_ms;                //  Queued: the TASK's timeout, -1 for none
    int64_t queued_at;                 //  Queued: when it came (zclock_mono)
    zhive_job_t *prev;                 //  Previous job in flight (the worker's list)
    zhive_job_t *next;                 //  Next job in flight, or in the queue
};

//  ---------------------------------------------------------------------
//  Create a job; takes the args frame (the source is left empty). Returns
//  NULL if out of memory.
zhive_job_t *zhive_job_new (zhive_worker_t *worker, zhive_handler_t *handler, uint64_t ticket,
                            zmq_msg_t *frame);

//  Make a finished job ready to run another task, keeping its memory (its
//  args zone and reply buffer); takes the new args frame.
void zhive_job_reuse (zhive_job_t *self, zhive_handler_t *handler, uint64_t ticket,
                      zmq_msg_t *frame);

//  Destroy; safe with *self_p NULL. The worker unlinks it first.
void zhive_job_destroy (zhive_job_t **self_p);

//  Unpack the args. Returns 0, or -1 with the job failed Malformed (they
//  are not one valid msgpack array).
int zhive_job_unpack (zhive_job_t *self);

//  Call the handler. Returns true if the job is to be answered now: it
//  failed or completed inside the call, or the handler is sync.
bool zhive_job_call (zhive_job_t *self);

//  Call the cancel function and record the job as failed Cancelled (a
//  completion or failure inside the call is ignored). Returns false, doing
//  nothing, if the job has no cancel function.
bool zhive_job_cancel (zhive_job_t *self, const char *worker_name);

//  Run a sync handler once per item of a chunk (the job's frame is an
//  array of `count` argument arrays) and pack the chunk's answer into
//  answer: an array of [true, value] or [false, type, message, worker].
//  Returns 0, or -1 with the job failed Malformed if the frame is not such
//  an array.
int zhive_job_run_chunk (zhive_job_t *self, uint32_t count, zhive_pack_t *answer,
                         const char *worker_name);

//  Size of the packed reply, or -1 if it is not exactly one value. No
//  reply at all is fine: it is sent as nil.
ssize_t zhive_job_reply_size (zhive_job_t *self);

//  Record a failure with a message already formatted (takes ownership;
//  NULL for none).
void zhive_job_set_failed (zhive_job_t *self, const char *type, char *message);

//  The worker's side: send the job's answer and destroy it.
void zhive_worker_answer (zhive_worker_t *self, zhive_job_t *job);

#ifdef __cplusplus
}
#endif

#endif
