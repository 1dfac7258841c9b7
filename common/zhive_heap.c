/*  =========================================================================
    zhive_heap - the one deadline heap of zhive
    =========================================================================
*/
#include "zhive_heap.h"
#include <stdlib.h>

void
zhive_heap_init (zhive_heap_t *self)
{
    self->nodes = NULL;
    self->size = 0;
    self->max = 0;
}

void
zhive_heap_fini (zhive_heap_t *self)
{
    for (size_t i = 0; i < self->size; i++)
        self->nodes [i]->index = ZHIVE_HEAP_NONE;
    free (self->nodes);
    zhive_heap_init (self);
}

static void
s_place (zhive_heap_t *self, size_t index, zhive_heap_node_t *node)
{
    self->nodes [index] = node;
    node->index = index;
}

static void
s_sift_up (zhive_heap_t *self, size_t index)
{
    zhive_heap_node_t *node = self->nodes [index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (self->nodes [parent]->key <= node->key)
            break;
        s_place (self, index, self->nodes [parent]);
        index = parent;
    }
    s_place (self, index, node);
}

static void
s_sift_down (zhive_heap_t *self, size_t index)
{
    zhive_heap_node_t *node = self->nodes [index];
    while (true) {
        size_t child = 2 * index + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size && self->nodes [child + 1]->key < self->nodes [child]->key)
            child++;
        if (node->key <= self->nodes [child]->key)
            break;
        s_place (self, index, self->nodes [child]);
        index = child;
    }
    s_place (self, index, node);
}

int
zhive_heap_push (zhive_heap_t *self, zhive_heap_node_t *node)
{
    if (self->size == self->max) {
        size_t max = self->max ? self->max * 2 : 64;
        zhive_heap_node_t **nodes =
            (zhive_heap_node_t **) realloc (self->nodes, max * sizeof (zhive_heap_node_t *));
        if (!nodes)
            return -1;
        self->nodes = nodes;
        self->max = max;
    }
    self->nodes [self->size] = node;
    node->index = self->size++;
    s_sift_up (self, node->index);
    return 0;
}

void
zhive_heap_remove (zhive_heap_t *self, zhive_heap_node_t *node)
{
    size_t index = node->index;
    node->index = ZHIVE_HEAP_NONE;
    zhive_heap_node_t *last = self->nodes [--self->size];
    if (index == self->size)
        return;
    s_place (self, index, last);
    //  The moved node may belong above or below its new place
    if (index > 0 && self->nodes [(index - 1) / 2]->key > last->key)
        s_sift_up (self, index);
    else
        s_sift_down (self, index);
}

void
zhive_heap_update (zhive_heap_t *self, zhive_heap_node_t *node, int64_t key)
{
    int64_t old = node->key;
    node->key = key;
    if (key < old)
        s_sift_up (self, node->index);
    else if (key > old)
        s_sift_down (self, node->index);
}
