/*  =========================================================================
    zhive_metrics_history - the pool's throughput over the last minutes,
    sampled from its counters, for the dashboard

    The metrics server samples the pool once per ZHIVE_METRICS_HISTORY_MS
    from a timer of its loop: each sample keeps how many tasks were
    answered ok and failed (error, timeout, worker_lost, unknown_function)
    since the one before, in a fixed ring of ZHIVE_METRICS_HISTORY_SAMPLES;
    and, per function, its counts at the last ZHIVE_METRICS_RATE_SAMPLES
    samples, for its rates. The pool's events pay nothing for it: the
    counters are the pool's own. Memory: the ring, and one small entry per
    function the pool reports (entries of functions it forgot are dropped).
    =========================================================================
*/
#ifndef ZHIVE_METRICS_HISTORY_H_INCLUDED
#define ZHIVE_METRICS_HISTORY_H_INCLUDED

#include "zhive_pool.h"

#pragma GCC visibility push(hidden)

#define ZHIVE_METRICS_HISTORY_MS      1000    //  Time between samples
#define ZHIVE_METRICS_HISTORY_SAMPLES 600     //  Intervals kept: 10 minutes
#define ZHIVE_METRICS_RATE_SAMPLES    10      //  Intervals a rate is measured over

typedef struct _zhive_metrics_history_t zhive_metrics_history_t;

//  ---------------------------------------------------------------------
//  An empty history. NULL if out of memory.
zhive_metrics_history_t *zhive_metrics_history_new (void);

//  Destroy it. Safe with *self_p NULL.
void zhive_metrics_history_destroy (zhive_metrics_history_t **self_p);

//  Sample pool's counters at now (µs of the pool's clock). The first
//  sample only sets where counting starts; each later one adds an
//  interval. Returns 0, or -1 if out of memory (the sample is taken, a
//  function's rate may read 0).
int zhive_metrics_history_sample (zhive_metrics_history_t *self, zhive_pool_t *pool, int64_t now);

//  Intervals held (at most ZHIVE_METRICS_HISTORY_SAMPLES).
size_t zhive_metrics_history_size (const zhive_metrics_history_t *self);

//  Tasks answered ok and failed in interval index (0 the oldest).
void zhive_metrics_history_get (const zhive_metrics_history_t *self, size_t index, uint64_t *ok,
                                uint64_t *failed);

//  Tasks per second answered ok and failed over the last samples (at
//  most ZHIVE_METRICS_RATE_SAMPLES intervals), of function, or of all
//  when function is NULL; 0 while fewer than two samples are taken.
void zhive_metrics_history_rates (const zhive_metrics_history_t *self, const char *function,
                                  double *ok, double *failed);

#pragma GCC visibility pop

#endif
