/*  =========================================================================
    zhive_slots - the jobs a worker holds, and running them

    Calls go one way: the worker calls the slots, the slots call the jobs.
    A job ends back here through its completion callback, and the slots
    reach the worker only through its answer callback.
    =========================================================================
*/
#include "zhive_slots.h"
#include "zhive_clock.h"
#include "zhive_idmap.h"
#include "zhive_log.h"
#include "zhive_result.h"
#include "zhive_socket.h"
#include "zhive_watchdog.h"

#define S_CONCURRENCY 16    //  Slots until told otherwise

struct _zhive_slots_t {
    zhive_worker_t *worker;           //  The worker whose jobs these are (opaque here)
    zloop_t *loop;                    //  The loop its handlers use
    const char *name;                 //  The worker's name, for messages (borrowed)
    zhive_slots_answer_fn *answer;    //  Answers a job that ended
    void *answer_arg;                 //  Its argument
    uint32_t concurrency;             //  Slots: most jobs running at once
    int64_t grace_ms;                 //  Watchdog grace past a sync handler's deadline
    zhive_list_t running;             //  Jobs in a slot
    zhive_list_t waiting;             //  Jobs waiting for a slot, oldest first
    zhive_list_t orphans;             //  Jobs running that are owed no answer
    zhive_idmap_t *tickets;           //  Ticket -> job running or waiting
    zhive_job_t *spare;               //  A finished job kept for reuse, or NULL
    bool pumping;                     //  s_pump is on the stack
    bool stopped;                     //  Start no more waiting jobs
    zhive_watchdog_t *watchdog;       //  Bounds sync handlers; made on first use
    bool watchdog_failed;             //  It could not be made (said once)
    zhive_pack_t *chunk_answer;       //  Reused buffer for chunk answers
};

static void s_on_job_done (zhive_job_t *job, void *arg);

//  ---------------------------------------------------------------------
//  Create slots

zhive_slots_t *
zhive_slots_new (zhive_worker_t *worker, zloop_t *loop, const char *name,
                 zhive_slots_answer_fn *answer, void *arg)
{
    assert (answer);
    zhive_slots_t *self = (zhive_slots_t *) calloc (1, sizeof (zhive_slots_t));
    if (!self)
        return NULL;
    self->worker = worker;
    self->loop = loop;
    self->name = name ? name : "";
    self->answer = answer;
    self->answer_arg = arg;
    self->concurrency = S_CONCURRENCY;
    self->grace_ms = ZHIVE_GRACE_MIN_MS;
    zhive_list_init (&self->running);
    zhive_list_init (&self->waiting);
    zhive_list_init (&self->orphans);
    self->tickets = zhive_idmap_new ();
    if (!self->tickets)
        zhive_slots_destroy (&self);
    return self;
}

//  Destroys every job of a list
static void
s_list_destroy (zhive_list_t *list)
{
    zhive_link_t *link;
    while ((link = zhive_list_pop_front (list))) {
        zhive_job_t *job = ZHIVE_LIST_ITEM (link, zhive_job_t, link);
        zhive_job_destroy (&job);
    }
}

//  ---------------------------------------------------------------------
//  Destroy the slots and their jobs

void
zhive_slots_destroy (zhive_slots_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_slots_t *self = *self_p;
    s_list_destroy (&self->waiting);
    s_list_destroy (&self->running);
    s_list_destroy (&self->orphans);
    zhive_job_destroy (&self->spare);
    zhive_idmap_destroy (&self->tickets);
    zhive_watchdog_destroy (&self->watchdog);
    zhive_pack_destroy (&self->chunk_answer);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Change the number of slots

void
zhive_slots_set_concurrency (zhive_slots_t *self, uint32_t concurrency)
{
    self->concurrency = concurrency ? concurrency : 1;
}

//  ---------------------------------------------------------------------
//  The number of slots

uint32_t
zhive_slots_concurrency (zhive_slots_t *self)
{
    return self->concurrency;
}

//  ---------------------------------------------------------------------
//  The watchdog's grace past a deadline

void
zhive_slots_set_grace (zhive_slots_t *self, int64_t grace_ms)
{
    self->grace_ms = grace_ms;
}

//  True if every slot is taken
static bool
s_busy (zhive_slots_t *self)
{
    return zhive_list_size (&self->running) >= self->concurrency;
}

//  ---------------------------------------------------------------------
//  True if a new job could neither run nor wait

bool
zhive_slots_full (zhive_slots_t *self)
{
    return s_busy (self) && zhive_list_size (&self->waiting) >= ZHIVE_SLOTS_QUEUE_MAX;
}

//  The list that holds jobs of a place
static zhive_list_t *
s_list (zhive_slots_t *self, zhive_job_place_t place)
{
    return place == ZHIVE_JOB_RUNNING   ? &self->running
           : place == ZHIVE_JOB_WAITING ? &self->waiting
           : place == ZHIVE_JOB_ORPHAN  ? &self->orphans
                                        : NULL;
}

//  Moves a job to the end of a place's list
static void
s_move (zhive_slots_t *self, zhive_job_t *job, zhive_job_place_t place)
{
    zhive_list_t *from = s_list (self, job->place);
    if (from)
        zhive_list_remove (from, &job->link);
    job->place = place;
    zhive_list_t *to = s_list (self, place);
    if (to)
        zhive_list_push_back (to, &job->link);
}

//  Forgets a job's ticket, unless a newer job repeats it
static void
s_forget_ticket (zhive_slots_t *self, zhive_job_t *job)
{
    if (zhive_idmap_lookup (self->tickets, job->ticket) == job)
        zhive_idmap_remove (self->tickets, job->ticket);
}

//  Lets a job go: its slot and ticket are free; it is the spare or is gone
static void
s_release (zhive_slots_t *self, zhive_job_t *job)
{
    if (job->place != ZHIVE_JOB_ORPHAN)
        s_forget_ticket (self, job);
    s_move (self, job, ZHIVE_JOB_LOOSE);
    //  Keep one job to run the next task in: a sync worker then allocates
    //  nothing per task for the job, its args or its reply
    if (!self->spare)
        self->spare = job;
    else
        zhive_job_destroy (&job);
}

static void s_pump (zhive_slots_t *self);

//  A job ended: answered unless it is an orphan, then its slot is free
static void
s_finish (zhive_slots_t *self, zhive_job_t *job, zhive_pack_t *chunk)
{
    if (job->place != ZHIVE_JOB_ORPHAN)
        self->answer (job, chunk, self->answer_arg);
    s_release (self, job);
    s_pump (self);
}

//  The jobs' completion callback: an async job ended from the loop
static void
s_on_job_done (zhive_job_t *job, void *arg)
{
    s_finish ((zhive_slots_t *) arg, job, NULL);
}

//  Arms the watchdog for a sync handler with a deadline; true if armed
static bool
s_watchdog_arm (zhive_slots_t *self, zhive_job_t *job, int64_t timeout_ms)
{
    if ((job->handler->flags & ZHIVE_ASYNC) || timeout_ms < 0)
        return false;
    if (!self->watchdog && !self->watchdog_failed) {
        self->watchdog = zhive_watchdog_new ();
        if (!self->watchdog) {
            zhive_log_error ("zhive-worker %s: cannot make a watchdog timer (%s): sync handlers "
                             "run unbounded",
                             self->name, strerror (errno));
            self->watchdog_failed = true;
        }
    }
    return self->watchdog &&
           zhive_watchdog_arm (self->watchdog, job->handler->name, timeout_ms, self->grace_ms) == 0;
}

//  Runs a job that has a slot: unpacks the args, calls the handler (for a
//  chunk, once per item) and, unless it is an async job still pending,
//  ends it. timeout_ms (-1 for none) bounds a sync handler.
static void
s_start (zhive_slots_t *self, zhive_job_t *job, int64_t timeout_ms)
{
    if (job->chunk) {
        if (!self->chunk_answer && !(self->chunk_answer = zhive_pack_new ())) {
            zhive_job_set_failed (job, ZHIVE_ERR_HANDLER, zsys_sprintf ("out of memory"));
            s_finish (self, job, NULL);
            return;
        }
        bool watched = s_watchdog_arm (self, job, timeout_ms);
        int rc = zhive_job_run_chunk (job, self->chunk_answer, self->name);
        if (watched)
            zhive_watchdog_disarm (self->watchdog);
        s_finish (self, job, rc == 0 ? self->chunk_answer : NULL);
        return;
    }
    if (zhive_job_unpack (job)) {
        s_finish (self, job, NULL);
        return;
    }
    bool watched = s_watchdog_arm (self, job, timeout_ms);
    bool ended = zhive_job_call (job);
    if (watched)
        zhive_watchdog_disarm (self->watchdog);
    if (ended)
        s_finish (self, job, NULL);
}

//  Starts waiting jobs while slots are free, oldest first. A job that ends
//  at once frees its slot for the next one here, not in a nested call.
static void
s_pump (zhive_slots_t *self)
{
    if (self->pumping || self->stopped)
        return;
    self->pumping = true;
    zhive_link_t *link;
    while (!self->stopped && !s_busy (self) && (link = zhive_list_first (&self->waiting))) {
        zhive_job_t *job = ZHIVE_LIST_ITEM (link, zhive_job_t, link);
        s_move (self, job, ZHIVE_JOB_RUNNING);
        //  The deadline counts the time it waited here
        int64_t timeout_ms = job->timeout_ms;
        if (timeout_ms >= 0) {
            int64_t waited = zhive_clock_ms () - job->queued_at;
            timeout_ms = timeout_ms > waited ? timeout_ms - waited : 1;
        }
        s_start (self, job, timeout_ms);
    }
    self->pumping = false;
}

//  ---------------------------------------------------------------------
//  Take a task: start it in a free slot, or let it wait for one

int
zhive_slots_take (zhive_slots_t *self, zhive_handler_t *handler, uint64_t ticket, zmq_msg_t *frame,
                  uint32_t chunk, int64_t timeout_ms)
{
    zhive_job_t *job = self->spare;
    self->spare = NULL;
    if (!job)
        job = zhive_job_new (self->worker, self->loop, s_on_job_done, self);
    if (!job)
        return -1;
    zhive_job_set_task (job, handler, ticket, frame, chunk, timeout_ms);
    if (zhive_idmap_insert (self->tickets, ticket, job)) {
        zhive_job_destroy (&job);
        return -1;
    }
    if (s_busy (self) || !zhive_list_empty (&self->waiting)) {
        //  Prefetched by the broker: it runs when a slot is free
        job->queued_at = zhive_clock_ms ();
        s_move (self, job, ZHIVE_JOB_WAITING);
        return ZHIVE_JOB_WAITING;
    }
    s_move (self, job, ZHIVE_JOB_RUNNING);
    s_start (self, job, timeout_ms);
    return ZHIVE_JOB_RUNNING;
}

//  ---------------------------------------------------------------------
//  CANCEL a job

zhive_slots_cancel_t
zhive_slots_cancel (zhive_slots_t *self, uint64_t ticket)
{
    zhive_job_t *job = (zhive_job_t *) zhive_idmap_lookup (self->tickets, ticket);
    if (!job)
        return ZHIVE_SLOTS_UNKNOWN;
    if (job->place == ZHIVE_JOB_WAITING) {
        zhive_job_set_failed (
            job, ZHIVE_ERR_CANCELLED,
            zsys_sprintf ("task cancelled while waiting for a slot in worker '%s'", self->name));
        s_finish (self, job, NULL);
        return ZHIVE_SLOTS_DROPPED;
    }
    if (!zhive_job_cancel (job, self->name))
        return ZHIVE_SLOTS_RUNS_ON;
    s_finish (self, job, NULL);
    return ZHIVE_SLOTS_CANCELLED;
}

//  The first job of a list not of an incarnation, or NULL
static zhive_job_t *
s_stale (zhive_list_t *list, uint64_t incarnation)
{
    for (zhive_link_t *link = zhive_list_first (list); link; link = zhive_list_next (list, link)) {
        zhive_job_t *job = ZHIVE_LIST_ITEM (link, zhive_job_t, link);
        if (job->incarnation != incarnation)
            return job;
    }
    return NULL;
}

//  ---------------------------------------------------------------------
//  End the jobs of other incarnations, without answers

size_t
zhive_slots_end_stale (zhive_slots_t *self, uint64_t incarnation, size_t *dropped,
                       size_t *cancelled, size_t *orphaned)
{
    size_t counts [3] = { 0, 0, 0 };
    zhive_job_t *job;
    while ((job = s_stale (&self->waiting, incarnation))) {
        counts [0]++;
        s_release (self, job);
    }
    while ((job = s_stale (&self->running, incarnation))) {
        //  In the orphans first: whatever its cancel function does, the
        //  job is owed no answer
        s_forget_ticket (self, job);
        s_move (self, job, ZHIVE_JOB_ORPHAN);
        if (zhive_job_cancel (job, self->name)) {
            counts [1]++;
            s_release (self, job);
        }
        else
            counts [2]++;
    }
    if (dropped)
        *dropped = counts [0];
    if (cancelled)
        *cancelled = counts [1];
    if (orphaned)
        *orphaned = counts [2];
    s_pump (self);
    return counts [0] + counts [1] + counts [2];
}

//  ---------------------------------------------------------------------
//  Start no more waiting jobs

void
zhive_slots_stop (zhive_slots_t *self)
{
    self->stopped = true;
}

//  ---------------------------------------------------------------------
//  Jobs in slots, waiting, and orphans

size_t
zhive_slots_running (zhive_slots_t *self)
{
    return zhive_list_size (&self->running);
}

size_t
zhive_slots_waiting (zhive_slots_t *self)
{
    return zhive_list_size (&self->waiting);
}
