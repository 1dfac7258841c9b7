/*  =========================================================================
    zhive_list - the one intrusive doubly linked list of zhive (private)

    A zhive_link_t lives inside the object that is listed (a task, a job, a
    kept answer); a zhive_list_t is a sentinel and a count. Nothing is
    allocated: push and remove are O(1) and cannot fail. An object may be
    in several lists at once through several links. ZHIVE_LIST_ITEM gets
    the object back from its link:

        typedef struct { int value; zhive_link_t link; } item_t;
        zhive_list_t list;
        zhive_list_init (&list);
        zhive_list_push_back (&list, &item->link);
        for (zhive_link_t *l = zhive_list_first (&list); l; l = zhive_list_next (&list, l)) {
            item_t *it = ZHIVE_LIST_ITEM (l, item_t, link);
            ...
        }
    =========================================================================
*/
#ifndef ZHIVE_LIST_H_INCLUDED
#define ZHIVE_LIST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct _zhive_link_t zhive_link_t;
struct _zhive_link_t {
    zhive_link_t *prev;    //  Previous link, or the list's sentinel; NULL when unlisted
    zhive_link_t *next;    //  Next link, or the list's sentinel; NULL when unlisted
};

typedef struct {
    zhive_link_t head;    //  Sentinel: head.next is the first link, head.prev the last
    size_t size;          //  Links in the list
} zhive_list_t;

//  The object holding a link
#define ZHIVE_LIST_ITEM(link, type, field) ((type *) ((char *) (link) -offsetof (type, field)))

//  Make an empty list.
static inline void
zhive_list_init (zhive_list_t *self)
{
    self->head.prev = &self->head;
    self->head.next = &self->head;
    self->size = 0;
}

//  Mark a link as in no list (zhive_link_listed then says false).
static inline void
zhive_link_init (zhive_link_t *link)
{
    link->prev = link->next = NULL;
}

//  True if the link is in a list.
static inline bool
zhive_link_listed (const zhive_link_t *link)
{
    return link->next != NULL;
}

static inline size_t
zhive_list_size (const zhive_list_t *self)
{
    return self->size;
}

static inline bool
zhive_list_empty (const zhive_list_t *self)
{
    return self->size == 0;
}

//  First (oldest pushed back) link, or NULL if empty.
static inline zhive_link_t *
zhive_list_first (const zhive_list_t *self)
{
    return self->size ? self->head.next : NULL;
}

//  Last link, or NULL if empty.
static inline zhive_link_t *
zhive_list_last (const zhive_list_t *self)
{
    return self->size ? self->head.prev : NULL;
}

//  The link after this one, or NULL at the end.
static inline zhive_link_t *
zhive_list_next (const zhive_list_t *self, const zhive_link_t *link)
{
    return link->next == &self->head ? NULL : link->next;
}

//  The link before this one, or NULL at the start.
static inline zhive_link_t *
zhive_list_prev (const zhive_list_t *self, const zhive_link_t *link)
{
    return link->prev == &self->head ? NULL : link->prev;
}

static inline void
s_zhive_list_insert (zhive_list_t *self, zhive_link_t *prev, zhive_link_t *link)
{
    link->prev = prev;
    link->next = prev->next;
    prev->next->prev = link;
    prev->next = link;
    self->size++;
}

//  Add an unlisted link at the end.
static inline void
zhive_list_push_back (zhive_list_t *self, zhive_link_t *link)
{
    s_zhive_list_insert (self, self->head.prev, link);
}

//  Add an unlisted link at the front.
static inline void
zhive_list_push_front (zhive_list_t *self, zhive_link_t *link)
{
    s_zhive_list_insert (self, &self->head, link);
}

//  Take a link out of this list (it must be in it); it is left unlisted.
static inline void
zhive_list_remove (zhive_list_t *self, zhive_link_t *link)
{
    link->prev->next = link->next;
    link->next->prev = link->prev;
    link->prev = link->next = NULL;
    self->size--;
}

//  Take the first link out and return it, or NULL if empty.
static inline zhive_link_t *
zhive_list_pop_front (zhive_list_t *self)
{
    zhive_link_t *link = zhive_list_first (self);
    if (link)
        zhive_list_remove (self, link);
    return link;
}

//  Move every link of source, in order, to the front of self (source is
//  left empty): how held tasks go back to the head of their queue.
static inline void
zhive_list_splice_front (zhive_list_t *self, zhive_list_t *source)
{
    if (source->size == 0)
        return;
    zhive_link_t *first = source->head.next;
    zhive_link_t *last = source->head.prev;
    last->next = self->head.next;
    self->head.next->prev = last;
    self->head.next = first;
    first->prev = &self->head;
    self->size += source->size;
    zhive_list_init (source);
}

#endif
