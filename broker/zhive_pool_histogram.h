/*  =========================================================================
    zhive_pool_histogram - a fixed-bucket histogram of times, for the pool's
    per-function metrics (how long tasks wait, how long they run)

    The buckets are the same for every histogram (ZHIVE_POOL_HISTOGRAM_BOUNDS,
    upper bounds in µs, then +Inf); each counts the observations that fell
    in it alone (not cumulated: a reader cumulates). Observing is a short
    scan and three additions: cheap enough for every task.
    =========================================================================
*/
#ifndef ZHIVE_POOL_HISTOGRAM_H_INCLUDED
#define ZHIVE_POOL_HISTOGRAM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

#define ZHIVE_POOL_HISTOGRAM_BOUNDS  15                                   //  Finite buckets
#define ZHIVE_POOL_HISTOGRAM_BUCKETS (ZHIVE_POOL_HISTOGRAM_BOUNDS + 1)    //  With +Inf

typedef struct {
    uint64_t buckets [ZHIVE_POOL_HISTOGRAM_BUCKETS];    //  Observations per bucket, +Inf last
    uint64_t count;                                     //  Observations
    uint64_t sum_us;                                    //  Their sum, µs
} zhive_pool_histogram_t;

//  ---------------------------------------------------------------------
//  Upper bound of finite bucket i (0 .. ZHIVE_POOL_HISTOGRAM_BOUNDS - 1), µs.
int64_t zhive_pool_histogram_bound_us (size_t i);

//  Count one time (µs; negative counts as 0).
void zhive_pool_histogram_observe (zhive_pool_histogram_t *self, int64_t us);

//  Add every count of other to self.
void zhive_pool_histogram_add (zhive_pool_histogram_t *self, const zhive_pool_histogram_t *other);

#pragma GCC visibility pop

#endif
