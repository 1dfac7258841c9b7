/*  =========================================================================
    zhive_metrics - the broker's metrics and status as text: Prometheus
    text format 0.0.4 (/metrics) and JSON (/api/status)

    Made on request from what the pool keeps in place (its counters,
    histograms, queues and workers) and a few facts of the actor; nothing
    is kept here, so the pool's events pay nothing for it. Call from the
    thread that owns the pool.
    =========================================================================
*/
#ifndef ZHIVE_METRICS_H_INCLUDED
#define ZHIVE_METRICS_H_INCLUDED

#include "zhive_metrics_history.h"
#include "zhive_pool.h"

#pragma GCC visibility push(hidden)

#define ZHIVE_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define ZHIVE_METRICS_JSON_TYPE    "application/json"

//  What the actor knows beside the pool
typedef struct {
    uint64_t clients_connected;                //  Client connections open now
    const zhive_metrics_history_t *history;    //  Throughput sampled so far, NULL none
} zhive_metrics_extra_t;

//  ---------------------------------------------------------------------
//  The metrics of pool at now (µs of the pool's clock): a malloc'd text
//  (NUL-terminated) with its size, or NULL if out of memory.
char *zhive_metrics_text (zhive_pool_t *pool, int64_t now, const zhive_metrics_extra_t *extra,
                          size_t *size);

//  The status of pool at now as a JSON object (workers, queues, totals,
//  rates and history from extra's history, the recent errors): a
//  malloc'd text with its size, or NULL if out of memory.
char *zhive_metrics_json (zhive_pool_t *pool, int64_t now, const zhive_metrics_extra_t *extra,
                          size_t *size);

//  Escape text for a label value (json false) or a JSON string (true)
//  into out (at most size bytes, NUL-terminated); bytes that are not
//  UTF-8 become U+FFFD. Returns the length written (for tests).
size_t zhive_metrics_escape (const char *text, bool json, char *out, size_t size);

#pragma GCC visibility pop

#endif
