/*  =========================================================================
    zhive_job - one task a worker runs (private to the worker)

    The job owns the task's args frame, the unpacked args that point into
    it, the reply buffer and the recorded outcome. Its owner (the worker)
    gives it a completion callback when it makes it: a job that ends
    outside its handler call (an async handler's zhive_job_complete or
    zhive_job_fail from the loop) calls it, and the owner answers and
    frees the job. The job itself never sends anything: it fills in an
    answer (zhive_job_answer) for the owner to send.
    =========================================================================
*/
#ifndef ZHIVE_JOB_H_INCLUDED
#define ZHIVE_JOB_H_INCLUDED

#include "zhive_worker.h"
#include "zhive_list.h"
#include "zhive_proto.h"
#include "zhive_registry.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Called when a job ends outside its handler call; the job is the
//  callee's to answer and free (through its owner's lists)
typedef void (zhive_job_done_fn) (zhive_job_t *job, void *arg);

//  Where a job is held (zhive_slots)
typedef enum {
    ZHIVE_JOB_LOOSE,      //  In no list
    ZHIVE_JOB_WAITING,    //  Waiting for a free slot
    ZHIVE_JOB_RUNNING,    //  In a slot
    ZHIVE_JOB_ORPHAN      //  Still running but owed no answer (older broker incarnation)
} zhive_job_place_t;

struct _zhive_job_t {
    zhive_worker_t *worker;            //  Worker running the job (opaque here)
    zloop_t *loop;                     //  The loop handlers add their timers to
    zhive_job_done_fn *done;           //  The completion callback
    void *done_arg;                    //  Its argument
    zhive_handler_t *handler;          //  Handler called for it (the registry owns it)
    uint64_t ticket;                   //  Broker's ticket, echoed in the answer
    uint64_t incarnation;              //  The broker incarnation it came from: ticket >> 32
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
    uint32_t chunk;                    //  Items of a chunked task, 0 = one task
    int64_t timeout_ms;                //  The TASK's time left to run, -1 for none
    int64_t queued_at;                 //  When it started waiting for a slot (zhive_clock_ms)
    zhive_job_place_t place;           //  Which of the owner's lists holds it
    zhive_link_t link;                 //  Its link in that list
};

//  ---------------------------------------------------------------------
//  Create a job without a task (zhive_job_set_task gives it one): its
//  handlers see worker and loop (either may be NULL in a test), and it
//  calls done (arg) when it ends outside its handler call. Returns NULL if
//  out of memory.
zhive_job_t *zhive_job_new (zhive_worker_t *worker, zloop_t *loop, zhive_job_done_fn *done,
                            void *arg);

//  Destroy; safe with *self_p NULL. The owner unlinks it first.
void zhive_job_destroy (zhive_job_t **self_p);

//  Give the job a task to run, forgetting any earlier one but keeping its
//  memory (args zone, reply buffer), so a reused job allocates nothing:
//  the handler, the ticket (its incarnation is ticket >> 32), the TASK's
//  chunk count (0 for one task) and timeout (-1 for none). Takes the args
//  frame (the source is left empty).
void zhive_job_set_task (zhive_job_t *self, zhive_handler_t *handler, uint64_t ticket,
                         zmq_msg_t *frame, uint32_t chunk, int64_t timeout_ms);

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

//  Run the sync handler once per item of a chunk (the args frame is a
//  chunk request of `chunk` argument arrays, common/zhive_chunk) and build
//  the chunk's answer into answer: per item [true, value] or [false, type,
//  message, worker_name]. Returns 0, or -1 with the job failed Malformed
//  if the frame is not such a request, BadArguments for an async
//  handler, or TooLarge if the answers pass ZHIVE_PAYLOAD_MAX.
int zhive_job_run_chunk (zhive_job_t *self, zhive_pack_t *answer, const char *worker_name);

//  Size of the packed reply, or -1 if it is not exactly one value. No
//  reply at all is fine: it is sent as nil.
ssize_t zhive_job_reply_size (zhive_job_t *self);

//  Record a failure with a message already formatted (takes ownership;
//  NULL for none).
void zhive_job_set_failed (zhive_job_t *self, const char *type, char *message);

//  Fill out with the job's answer: FAILED [ticket, type, message] if it
//  failed (or packed a reply that is not one value), else DONE [ticket] +
//  its reply (nil if none; a large reply moves into the message without
//  a copy). Returns the command, or -1 if out of memory.
int zhive_job_answer (zhive_job_t *self, zhive_proto_t *out);

#ifdef __cplusplus
}
#endif

#endif
