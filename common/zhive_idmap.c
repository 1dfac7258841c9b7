/*  =========================================================================
    zhive_idmap - a hash map from uint64_t ids to pointers
    =========================================================================
*/
#include "zhive_idmap.h"
#include <stdlib.h>

typedef struct {
    uint64_t key;    //  The id
    void *value;     //  NULL marks an empty slot
} s_slot_t;

struct _zhive_idmap_t {
    s_slot_t *slots;    //  Table of capacity slots (a power of two)
    size_t capacity;    //  Number of slots
    size_t size;        //  Slots in use
};

static size_t
s_hash (uint64_t key, size_t capacity)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t) key & (capacity - 1);
}

zhive_idmap_t *
zhive_idmap_new (void)
{
    zhive_idmap_t *self = (zhive_idmap_t *) calloc (1, sizeof (zhive_idmap_t));
    if (!self)
        return NULL;
    self->capacity = 64;
    self->slots = (s_slot_t *) calloc (self->capacity, sizeof (s_slot_t));
    if (!self->slots) {
        free (self);
        return NULL;
    }
    return self;
}

void
zhive_idmap_destroy (zhive_idmap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->slots);
    free (*self_p);
    *self_p = NULL;
}

static int
s_grow (zhive_idmap_t *self)
{
    size_t capacity = self->capacity * 2;
    s_slot_t *slots = (s_slot_t *) calloc (capacity, sizeof (s_slot_t));
    if (!slots)
        return -1;
    for (size_t i = 0; i < self->capacity; i++) {
        if (!self->slots [i].value)
            continue;
        size_t at = s_hash (self->slots [i].key, capacity);
        while (slots [at].value)
            at = (at + 1) & (capacity - 1);
        slots [at] = self->slots [i];
    }
    free (self->slots);
    self->slots = slots;
    self->capacity = capacity;
    return 0;
}

int
zhive_idmap_insert (zhive_idmap_t *self, uint64_t key, void *value)
{
    if ((self->size + 1) * 4 > self->capacity * 3 && s_grow (self))
        return -1;
    size_t at = s_hash (key, self->capacity);
    while (self->slots [at].value && self->slots [at].key != key)
        at = (at + 1) & (self->capacity - 1);
    if (!self->slots [at].value)
        self->size++;
    self->slots [at].key = key;
    self->slots [at].value = value;
    return 0;
}

void *
zhive_idmap_lookup (const zhive_idmap_t *self, uint64_t key)
{
    size_t at = s_hash (key, self->capacity);
    while (self->slots [at].value) {
        if (self->slots [at].key == key)
            return self->slots [at].value;
        at = (at + 1) & (self->capacity - 1);
    }
    return NULL;
}

void *
zhive_idmap_remove (zhive_idmap_t *self, uint64_t key)
{
    size_t mask = self->capacity - 1;
    size_t at = s_hash (key, self->capacity);
    while (self->slots [at].value && self->slots [at].key != key)
        at = (at + 1) & mask;
    void *value = self->slots [at].value;
    if (!value)
        return NULL;
    //  Backward-shift: move later entries of the probe run into the hole
    size_t hole = at;
    size_t next = (hole + 1) & mask;
    while (self->slots [next].value) {
        size_t home = s_hash (self->slots [next].key, self->capacity);
        //  Move next into hole if its home is not in (hole, next]
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            self->slots [hole] = self->slots [next];
            hole = next;
        }
        next = (next + 1) & mask;
    }
    self->slots [hole].value = NULL;
    self->slots [hole].key = 0;
    self->size--;
    return value;
}

size_t
zhive_idmap_size (const zhive_idmap_t *self)
{
    return self->size;
}

void
zhive_idmap_each (zhive_idmap_t *self, zhive_idmap_fn *fn, void *arg)
{
    for (size_t i = 0; i < self->capacity; i++)
        if (self->slots [i].value)
            fn (self->slots [i].key, self->slots [i].value, arg);
}
