/*  =========================================================================
    zhive_pool_member - one worker, a member of the pool model

    Prefetch follows the time tasks spend at the worker, from dispatch to
    answer: one more while answers come back within the prefetch time, one
    less while they do not. Queued work then settles at about that time
    (each extra task waits behind the others), a worker starved between
    the broker's messages answers fast and gets more, and tasks slower
    than the prefetch time get none.
    =========================================================================
*/
#include "zhive_pool_member.h"
#include <stdlib.h>

//  ---------------------------------------------------------------------
//  Create a worker for a peer

zhive_pool_member_t *
zhive_pool_member_new (const zhive_peer_t *peer, int64_t now)
{
    zhive_pool_member_t *self = (zhive_pool_member_t *) calloc (1, sizeof (zhive_pool_member_t));
    if (!self)
        return NULL;
    self->peer = *peer;
    zhive_peer_key (peer, self->key);
    self->joined = now;
    self->seen = now;
    zhive_list_init (&self->held);
    return self;
}

//  Leave every queue offered so far
static void
s_leave_queues (zhive_pool_member_t *self)
{
    for (size_t i = 0; i < self->queues_count; i++)
        zhive_pool_queue_remove_worker (self->queues [i], self);
    self->queues_count = 0;
    self->next_queue = 0;
}

//  ---------------------------------------------------------------------
//  Destroy a worker that holds nothing

void
zhive_pool_member_destroy (zhive_pool_member_t **self_p)
{
    zhive_pool_member_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    s_leave_queues (self);
    free (self->queues);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Offer the queues of a new READY

int
zhive_pool_member_offer (zhive_pool_member_t *self, zhive_pool_queue_t **queues, size_t count)
{
    s_leave_queues (self);
    zhive_pool_queue_t **mine = (zhive_pool_queue_t **) realloc (
        self->queues, (count ? count : 1) * sizeof (zhive_pool_queue_t *));
    if (!mine)
        return -1;
    self->queues = mine;
    for (size_t i = 0; i < count; i++) {
        int rc = zhive_pool_queue_add_worker (queues [i], self);
        if (rc == -1) {
            s_leave_queues (self);
            return -1;
        }
        if (rc == 0)
            self->queues [self->queues_count++] = queues [i];
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Tasks it may still be sent

size_t
zhive_pool_member_credit (const zhive_pool_member_t *self)
{
    if (self->draining)
        return 0;
    size_t slots = (size_t) self->concurrency + self->prefetch;
    size_t held = zhive_list_size (&self->held);
    size_t credit = slots > held ? slots - held : 0;
    if (self->max_tasks) {
        uint64_t left = self->max_tasks > self->dispatched ? self->max_tasks - self->dispatched : 0;
        if (left < credit)
            credit = (size_t) left;
    }
    return credit;
}

//  ---------------------------------------------------------------------
//  Learn how long its tasks take

void
zhive_pool_member_measure (zhive_pool_member_t *self, int64_t elapsed_us, int64_t prefetch_us)
{
    if (elapsed_us < prefetch_us) {
        if (self->prefetch < ZHIVE_POOL_PREFETCH_MAX)
            self->prefetch++;
    }
    else if (self->prefetch)
        self->prefetch--;
}

//  ---------------------------------------------------------------------
//  Its STATUS_REPLY entry

void
zhive_pool_member_pack (zhive_pool_member_t *self, zhive_pack_t *pack)
{
    zhive_pack_map (pack, 7);
    zhive_pack_str (pack, "id");
    zhive_pack_str (pack, self->name);
    zhive_pack_str (pack, "host");
    zhive_pack_str (pack, self->host);
    zhive_pack_str (pack, "pid");
    zhive_pack_uint (pack, self->pid);
    zhive_pack_str (pack, "functions");
    zhive_pack_array (pack, (uint32_t) self->queues_count);
    for (size_t i = 0; i < self->queues_count; i++)
        zhive_pack_str (pack, self->queues [i]->function);
    zhive_pack_str (pack, "concurrency");
    zhive_pack_uint (pack, self->concurrency);
    zhive_pack_str (pack, "in_flight");
    zhive_pack_uint (pack, zhive_list_size (&self->held));
    zhive_pack_str (pack, "done");
    zhive_pack_uint (pack, self->done);
}
