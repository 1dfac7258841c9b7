/*  =========================================================================
    zhive_idmap - a hash map from uint64_t ids to pointers (private)

    Used for the broker's in-flight table (ticket -> task) and the client's
    pending table (task id -> task). Open addressing with linear probing and
    backward-shift deletion: no tombstones, no allocation per entry.
    =========================================================================
*/
#ifndef ZHIVE_IDMAP_H_INCLUDED
#define ZHIVE_IDMAP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _zhive_idmap_t zhive_idmap_t;

//  Create an empty map. NULL if out of memory.
zhive_idmap_t *zhive_idmap_new (void);

//  Destroy the map (not the values). Safe with *self_p NULL.
void zhive_idmap_destroy (zhive_idmap_t **self_p);

//  Insert or replace. value must not be NULL. Returns 0 or -1 (no memory).
int zhive_idmap_insert (zhive_idmap_t *self, uint64_t key, void *value);

//  The value under key, or NULL.
void *zhive_idmap_lookup (const zhive_idmap_t *self, uint64_t key);

//  Remove key and return its value, or NULL if absent.
void *zhive_idmap_remove (zhive_idmap_t *self, uint64_t key);

//  Number of entries.
size_t zhive_idmap_size (const zhive_idmap_t *self);

//  Visit every entry (do not insert or remove while visiting).
typedef void (zhive_idmap_fn) (uint64_t key, void *value, void *arg);
void zhive_idmap_each (zhive_idmap_t *self, zhive_idmap_fn *fn, void *arg);

#endif
