/*  =========================================================================
    zhive_late - task ids whose late answer is expected, for a while

    An id map for lookups and a FIFO ring of (id, forget_at) in the order
    they came: times rise along the ring, so pruning looks at its head.
    =========================================================================
*/
#include "zhive_late.h"
#include "zhive_idmap.h"
#include <stdlib.h>

#define S_RING_MIN 64    //  First allocation of the ring

//  One id and when to forget it
typedef struct {
    uint64_t id;          //  Task id
    int64_t forget_at;    //  Ms clock
} s_entry_t;

struct _zhive_late_t {
    zhive_idmap_t *ids;    //  The ids expected (value: the set itself)
    s_entry_t *ring;       //  The same ids, oldest first
    size_t head;           //  Index of the oldest
    size_t count;          //  Entries used
    size_t capacity;       //  Entries allocated
};

//  ---------------------------------------------------------------------
//  An empty set
zhive_late_t *
zhive_late_new (void)
{
    zhive_late_t *self = (zhive_late_t *) calloc (1, sizeof (zhive_late_t));
    if (self && !(self->ids = zhive_idmap_new ())) {
        free (self);
        return NULL;
    }
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy the set
void
zhive_late_destroy (zhive_late_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_idmap_destroy (&(*self_p)->ids);
    free ((*self_p)->ring);
    free (*self_p);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Expect an answer for id until forget_at
void
zhive_late_expect (zhive_late_t *self, uint64_t id, int64_t forget_at)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : S_RING_MIN;
        s_entry_t *grown = (s_entry_t *) malloc (capacity * sizeof (s_entry_t));
        if (!grown)
            return;
        for (size_t i = 0; i < self->count; i++)
            grown [i] = self->ring [(self->head + i) % self->capacity];
        free (self->ring);
        self->ring = grown;
        self->head = 0;
        self->capacity = capacity;
    }
    if (zhive_idmap_lookup (self->ids, id) || zhive_idmap_insert (self->ids, id, self))
        return;
    self->ring [(self->head + self->count) % self->capacity] = (s_entry_t){ id, forget_at };
    self->count++;
}

//  ---------------------------------------------------------------------
//  Take an expected answer's id out; its ring entry stays until pruned
bool
zhive_late_take (zhive_late_t *self, uint64_t id)
{
    return self->count && zhive_idmap_remove (self->ids, id);
}

//  ---------------------------------------------------------------------
//  Forget the ids whose time is up
void
zhive_late_prune (zhive_late_t *self, int64_t now)
{
    while (self->count && self->ring [self->head].forget_at <= now) {
        zhive_idmap_remove (self->ids, self->ring [self->head].id);
        self->head = (self->head + 1) % self->capacity;
        self->count--;
    }
}
