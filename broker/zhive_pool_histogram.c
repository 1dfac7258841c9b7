/*  =========================================================================
    zhive_pool_histogram - a fixed-bucket histogram of times
    =========================================================================
*/
#include "zhive_pool_histogram.h"
#include <assert.h>

//  1 ms .. 60 s
static const int64_t s_bounds_us [ZHIVE_POOL_HISTOGRAM_BOUNDS] = {
    1000,   2500,    5000,    10000,   25000,    50000,    100000,   250000,
    500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

//  ---------------------------------------------------------------------
//  Upper bound of a finite bucket

int64_t
zhive_pool_histogram_bound_us (size_t i)
{
    assert (i < ZHIVE_POOL_HISTOGRAM_BOUNDS);
    return s_bounds_us [i];
}

//  ---------------------------------------------------------------------
//  Count one time

void
zhive_pool_histogram_observe (zhive_pool_histogram_t *self, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t i = 0;
    while (i < ZHIVE_POOL_HISTOGRAM_BOUNDS && us > s_bounds_us [i])
        i++;
    self->buckets [i]++;
    self->count++;
    self->sum_us += (uint64_t) us;
}

//  ---------------------------------------------------------------------
//  Add another histogram's counts

void
zhive_pool_histogram_add (zhive_pool_histogram_t *self, const zhive_pool_histogram_t *other)
{
    for (size_t i = 0; i < ZHIVE_POOL_HISTOGRAM_BUCKETS; i++)
        self->buckets [i] += other->buckets [i];
    self->count += other->count;
    self->sum_us += other->sum_us;
}
