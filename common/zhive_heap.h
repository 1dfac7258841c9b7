/*  =========================================================================
    zhive_heap - the one deadline heap of zhive (private)

    A binary min-heap of nodes embedded in the objects it orders (a task's
    deadline, a job's watchdog time), keyed by an int64 time. Each node
    knows its position, so removing or re-keying any node is O(log n) with
    no search. The heap holds pointers; it never owns the objects.

        typedef struct { ...; zhive_heap_node_t deadline; } task_t;
        zhive_heap_t heap;
        zhive_heap_init (&heap);
        task->deadline.key = now + timeout;
        zhive_heap_push (&heap, &task->deadline);
        zhive_heap_node_t *top;
        while ((top = zhive_heap_top (&heap)) && top->key <= now) {
            task_t *task = ZHIVE_HEAP_ITEM (top, task_t, deadline);
            zhive_heap_remove (&heap, top);
            ...
        }
    =========================================================================
*/
#ifndef ZHIVE_HEAP_H_INCLUDED
#define ZHIVE_HEAP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZHIVE_HEAP_NONE SIZE_MAX    //  index of a node in no heap

typedef struct {
    int64_t key;     //  The time it is due: smallest first
    size_t index;    //  Its position in the heap, ZHIVE_HEAP_NONE if in none
} zhive_heap_node_t;

typedef struct {
    zhive_heap_node_t **nodes;    //  The heap array
    size_t size;                  //  Nodes in it
    size_t max;                   //  Allocated entries
} zhive_heap_t;

//  The object holding a node
#define ZHIVE_HEAP_ITEM(node, type, field) ((type *) ((char *) (node) -offsetof (type, field)))

//  Make an empty heap.
void zhive_heap_init (zhive_heap_t *self);

//  Free the heap's array (not the nodes' objects); the heap is left empty.
void zhive_heap_fini (zhive_heap_t *self);

//  Mark a node as in no heap.
static inline void
zhive_heap_node_init (zhive_heap_node_t *node)
{
    node->key = 0;
    node->index = ZHIVE_HEAP_NONE;
}

//  True if the node is in a heap.
static inline bool
zhive_heap_node_queued (const zhive_heap_node_t *node)
{
    return node->index != ZHIVE_HEAP_NONE;
}

//  Nodes in the heap.
static inline size_t
zhive_heap_size (const zhive_heap_t *self)
{
    return self->size;
}

//  The node with the smallest key, or NULL if empty.
static inline zhive_heap_node_t *
zhive_heap_top (const zhive_heap_t *self)
{
    return self->size ? self->nodes [0] : NULL;
}

//  Add a node (in no heap) with its key set. Returns 0, or -1 if out of
//  memory (the node is then not added). The array never shrinks: a push
//  after a pop or a remove cannot fail.
int zhive_heap_push (zhive_heap_t *self, zhive_heap_node_t *node);

//  Take a node out (it must be in this heap).
void zhive_heap_remove (zhive_heap_t *self, zhive_heap_node_t *node);

//  Give a node in this heap a new key and restore the order.
void zhive_heap_update (zhive_heap_t *self, zhive_heap_node_t *node, int64_t key);

#ifdef __cplusplus
}
#endif

#endif
