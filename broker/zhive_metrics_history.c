/*  =========================================================================
    zhive_metrics_history - throughput sampled from the pool's counters
    =========================================================================
*/
#include "zhive_metrics_history.h"

#define S_SLOTS (ZHIVE_METRICS_RATE_SAMPLES + 1)    //  Samples a rate looks at

//  Counts at the last samples, indexed by sample number % S_SLOTS
typedef struct {
    uint64_t ok [S_SLOTS];        //  Answered ok, so far
    uint64_t failed [S_SLOTS];    //  Failed, so far
    uint64_t seen;                //  Number of the last sample that saw it
} s_counts_t;

struct _zhive_metrics_history_t {
    uint64_t ok [ZHIVE_METRICS_HISTORY_SAMPLES];        //  Answered ok per interval (ring)
    uint64_t failed [ZHIVE_METRICS_HISTORY_SAMPLES];    //  Failed per interval (ring)
    size_t next;                                        //  Where the next interval goes
    size_t size;                                        //  Intervals held
    uint64_t samples;                                   //  Samples taken
    int64_t at [S_SLOTS];                               //  When the last samples were taken
    s_counts_t total;                                   //  Of all functions
    zhashx_t *functions;                                //  Function name -> s_counts_t
    bool failed_alloc;                                  //  A function's entry could not be made
};

//  Failed outcomes: what a client sees as an error, cancels aside
static uint64_t
s_failed (const zhive_pool_stats_t *stats)
{
    return stats->error + stats->timeout + stats->worker_lost + stats->unoffered;
}

//  Put counts in slot; a new entry (first) gets them in every slot, as if
//  they had always been so: a rate starts at 0, never with a leap
static void
s_counts_put (s_counts_t *counts, uint64_t sample, bool first, uint64_t ok, uint64_t failed)
{
    for (size_t i = 0; i < S_SLOTS; i++) {
        if (first || i == sample % S_SLOTS) {
            counts->ok [i] = ok;
            counts->failed [i] = failed;
        }
    }
    counts->seen = sample;
}

static void
s_sample_function (const zhive_pool_function_t *function, void *arg)
{
    zhive_metrics_history_t *self = (zhive_metrics_history_t *) arg;
    s_counts_t *counts = (s_counts_t *) zhashx_lookup (self->functions, function->function);
    bool first = !counts;
    if (first) {
        counts = (s_counts_t *) calloc (1, sizeof (s_counts_t));
        if (!counts || zhashx_insert (self->functions, function->function, counts)) {
            free (counts);
            self->failed_alloc = true;
            return;
        }
        //  A function that appears after the first sample had nothing before
        if (self->samples > 0) {
            s_counts_put (counts, self->samples, true, 0, 0);
            first = false;
        }
    }
    s_counts_put (counts, self->samples, first, function->stats.ok, s_failed (&function->stats));
}

int
zhive_metrics_history_sample (zhive_metrics_history_t *self, zhive_pool_t *pool, int64_t now)
{
    const zhive_pool_stats_t *stats = &zhive_pool_counters (pool)->tasks;
    uint64_t ok = stats->ok, failed = s_failed (stats);
    if (self->samples > 0) {
        const s_counts_t *last = &self->total;
        size_t slot = (size_t) ((self->samples - 1) % S_SLOTS);
        self->ok [self->next] = ok > last->ok [slot] ? ok - last->ok [slot] : 0;
        self->failed [self->next] = failed > last->failed [slot] ? failed - last->failed [slot] : 0;
        self->next = (self->next + 1) % ZHIVE_METRICS_HISTORY_SAMPLES;
        if (self->size < ZHIVE_METRICS_HISTORY_SAMPLES)
            self->size++;
    }
    s_counts_put (&self->total, self->samples, self->samples == 0, ok, failed);
    self->at [self->samples % S_SLOTS] = now;
    self->failed_alloc = false;
    zhive_pool_each_function (pool, now, s_sample_function, self);
    //  Forget the functions the pool no longer reports
    zlistx_t *gone = zlistx_new ();
    for (s_counts_t *counts = (s_counts_t *) zhashx_first (self->functions); counts && gone;
         counts = (s_counts_t *) zhashx_next (self->functions)) {
        if (counts->seen != self->samples)
            zlistx_add_end (gone, (void *) zhashx_cursor (self->functions));
    }
    for (const char *name = gone ? (const char *) zlistx_first (gone) : NULL; name;
         name = (const char *) zlistx_next (gone))
        zhashx_delete (self->functions, name);
    zlistx_destroy (&gone);
    self->samples++;
    return self->failed_alloc ? -1 : 0;
}

//  Per second from counts over the last samples
static void
s_rates (const zhive_metrics_history_t *self, const s_counts_t *counts, double *ok, double *failed)
{
    *ok = *failed = 0;
    if (!counts || self->samples < 2)
        return;
    uint64_t last = self->samples - 1;
    uint64_t span = last < ZHIVE_METRICS_RATE_SAMPLES ? last : ZHIVE_METRICS_RATE_SAMPLES;
    size_t now = (size_t) (last % S_SLOTS), then = (size_t) ((last - span) % S_SLOTS);
    double seconds = (double) (self->at [now] - self->at [then]) / 1e6;
    if (seconds <= 0)
        return;
    if (counts->ok [now] > counts->ok [then])
        *ok = (double) (counts->ok [now] - counts->ok [then]) / seconds;
    if (counts->failed [now] > counts->failed [then])
        *failed = (double) (counts->failed [now] - counts->failed [then]) / seconds;
}

void
zhive_metrics_history_rates (const zhive_metrics_history_t *self, const char *function, double *ok,
                             double *failed)
{
    const s_counts_t *counts =
        function ? (const s_counts_t *) zhashx_lookup (self->functions, function) : &self->total;
    s_rates (self, counts, ok, failed);
}

size_t
zhive_metrics_history_size (const zhive_metrics_history_t *self)
{
    return self->size;
}

void
zhive_metrics_history_get (const zhive_metrics_history_t *self, size_t index, uint64_t *ok,
                           uint64_t *failed)
{
    *ok = *failed = 0;
    if (index >= self->size)
        return;
    size_t at = (self->next + ZHIVE_METRICS_HISTORY_SAMPLES - self->size + index) %
                ZHIVE_METRICS_HISTORY_SAMPLES;
    *ok = self->ok [at];
    *failed = self->failed [at];
}

//  ---------------------------------------------------------------------
//  Life

static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

zhive_metrics_history_t *
zhive_metrics_history_new (void)
{
    zhive_metrics_history_t *self =
        (zhive_metrics_history_t *) calloc (1, sizeof (zhive_metrics_history_t));
    if (!self)
        return NULL;
    self->functions = zhashx_new ();
    if (!self->functions) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->functions, s_free);
    return self;
}

void
zhive_metrics_history_destroy (zhive_metrics_history_t **self_p)
{
    zhive_metrics_history_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zhashx_destroy (&self->functions);
    free (self);
    *self_p = NULL;
}
