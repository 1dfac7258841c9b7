/*  =========================================================================
    zhive_pool_queue - one function's queue in the pool model
    =========================================================================
*/
#include "zhive_pool_queue.h"
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Create an empty queue

zhive_pool_queue_t *
zhive_pool_queue_new (const char *function)
{
    zhive_pool_queue_t *self = (zhive_pool_queue_t *) calloc (1, sizeof (zhive_pool_queue_t));
    if (!self)
        return NULL;
    self->function = strdup (function);
    if (!self->function) {
        free (self);
        return NULL;
    }
    zhive_list_init (&self->waiting);
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy a queue whose waiting list is empty

void
zhive_pool_queue_destroy (zhive_pool_queue_t **self_p)
{
    zhive_pool_queue_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    free (self->workers);
    free (self->function);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Add a worker that offers the function

int
zhive_pool_queue_add_worker (zhive_pool_queue_t *self, zhive_pool_member_t *worker)
{
    for (size_t i = 0; i < self->workers_count; i++) {
        if (self->workers [i] == worker)
            return 1;    //  Offered twice in one READY
    }
    if (self->workers_count == self->workers_max) {
        size_t max = self->workers_max ? self->workers_max * 2 : 4;
        zhive_pool_member_t **workers =
            (zhive_pool_member_t **) realloc (self->workers, max * sizeof (zhive_pool_member_t *));
        if (!workers)
            return -1;
        self->workers = workers;
        self->workers_max = max;
    }
    self->workers [self->workers_count++] = worker;
    self->offered = true;
    return 0;
}

//  ---------------------------------------------------------------------
//  Take a worker out

void
zhive_pool_queue_remove_worker (zhive_pool_queue_t *self, zhive_pool_member_t *worker)
{
    for (size_t i = 0; i < self->workers_count; i++) {
        if (self->workers [i] == worker) {
            memmove (self->workers + i, self->workers + i + 1,
                     (self->workers_count - i - 1) * sizeof (zhive_pool_member_t *));
            self->workers_count--;
            return;
        }
    }
}

//  ---------------------------------------------------------------------
//  True if the queue may go

bool
zhive_pool_queue_unused (const zhive_pool_queue_t *self)
{
    return zhive_list_empty (&self->waiting) && self->in_flight == 0 && self->workers_count == 0;
}

//  ---------------------------------------------------------------------
//  Add another queue's counters and histograms

void
zhive_pool_queue_absorb (zhive_pool_queue_t *self, const zhive_pool_queue_t *other)
{
    self->stats.submitted += other->stats.submitted;
    self->stats.ok += other->stats.ok;
    self->stats.error += other->stats.error;
    self->stats.timeout += other->stats.timeout;
    self->stats.cancelled += other->stats.cancelled;
    self->stats.worker_lost += other->stats.worker_lost;
    self->stats.queue_full += other->stats.queue_full;
    self->stats.redispatches += other->stats.redispatches;
    self->stats.unoffered += other->stats.unoffered;
    zhive_pool_histogram_add (&self->wait, &other->wait);
    zhive_pool_histogram_add (&self->run, &other->run);
}

//  ---------------------------------------------------------------------
//  Its STATUS_REPLY entry

void
zhive_pool_queue_pack (zhive_pool_queue_t *self, zhive_pack_t *pack)
{
    zhive_pack_map (pack, 3);
    zhive_pack_str (pack, "function");
    zhive_pack_str (pack, self->function);
    zhive_pack_str (pack, "waiting");
    zhive_pack_uint (pack, zhive_list_size (&self->waiting));
    zhive_pack_str (pack, "in_flight");
    zhive_pack_uint (pack, self->in_flight);
}
