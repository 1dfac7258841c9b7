/*  =========================================================================
    zhive_late - task ids whose answer may still come from the broker after
    the client ended the task itself (at its deadline), for a while

    The client gives a task its Timeout at the deadline and tells the
    broker to cancel it; the broker's own answer (Timeout or Cancelled)
    can still arrive. It is expected, not a drop: the client asks this set.
    Ids are forgotten once their time is up (zhive_late_prune).
    =========================================================================
*/
#ifndef ZHIVE_LATE_H_INCLUDED
#define ZHIVE_LATE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_late_t zhive_late_t;

//  An empty set. NULL only if out of memory.
zhive_late_t *zhive_late_new (void);

//  Destroy the set; safe with *self_p NULL.
void zhive_late_destroy (zhive_late_t **self_p);

//  Expect an answer for id until forget_at (ms clock). Best effort: out
//  of memory, the id is not remembered (its answer then counts as dropped).
void zhive_late_expect (zhive_late_t *self, uint64_t id, int64_t forget_at);

//  True (and id forgotten) if an answer for id was expected.
bool zhive_late_take (zhive_late_t *self, uint64_t id);

//  Forget the ids whose time is up at now (ms clock).
void zhive_late_prune (zhive_late_t *self, int64_t now);

#ifdef __cplusplus
}
#endif

#endif
