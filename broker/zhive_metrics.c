/*  =========================================================================
    zhive_metrics - the broker's metrics (Prometheus text 0.0.4) and status
    (JSON), made on request from what the pool keeps

    Every family has its HELP and TYPE lines and all its samples together;
    per-function series are sorted by function name, and a function's
    series stay after its queue is pruned (the pool keeps its counters), so
    counters never go back. Label values and JSON strings are escaped as
    their formats say, and bytes that are not UTF-8 become U+FFFD.
    =========================================================================
*/
#include "zhive_metrics.h"
#include "zhive.h"
#include "zhive_pool_member.h"
#include <inttypes.h>
#include <stdarg.h>

#define S_VERSION_TEXT_(a, b, c) #a "." #b "." #c
#define S_VERSION_TEXT(a, b, c)  S_VERSION_TEXT_ (a, b, c)
#define S_VERSION                S_VERSION_TEXT (ZHIVE_VERSION_MAJOR, ZHIVE_VERSION_MINOR, ZHIVE_VERSION_PATCH)

#define S_ESCAPED (ZHIVE_NAME_MAX * 6 + 1)    //  Room for an escaped name (\uFFFD is 3 bytes)

//  A growing text
typedef struct {
    char *data;     //  The text, NUL-terminated
    size_t size;    //  Its length
    size_t max;     //  Allocated
    bool failed;    //  Out of memory once: the text is lost
} s_text_t;

static void s_add (s_text_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_add (s_text_t *self, const char *format, ...)
{
    while (!self->failed) {
        va_list args;
        va_start (args, format);
        int written = vsnprintf (self->data ? self->data + self->size : NULL,
                                 self->data ? self->max - self->size : 0, format, args);
        va_end (args);
        if (written < 0) {
            self->failed = true;
            return;
        }
        if (self->data && self->size + (size_t) written < self->max) {
            self->size += (size_t) written;
            return;
        }
        size_t max = self->max ? self->max * 2 : 16384;
        while (max <= self->size + (size_t) written)
            max *= 2;
        char *data = (char *) realloc (self->data, max);
        if (!data)
            self->failed = true;
        else {
            self->data = data;
            self->max = max;
        }
    }
}

//  The text made, or NULL if it failed
static char *
s_done (s_text_t *self, size_t *size)
{
    if (self->failed || !self->data) {
        free (self->data);
        return NULL;
    }
    *size = self->size;
    return self->data;
}

//  ---------------------------------------------------------------------
//  Escaping

//  Length of the UTF-8 sequence at s (left bytes there), 0 if none is
static size_t
s_utf8 (const unsigned char *s, size_t left)
{
    unsigned char c = s [0];
    if (c < 0x80)
        return 1;
    size_t length = c >= 0xC2 && c <= 0xDF   ? 2
                    : c >= 0xE0 && c <= 0xEF ? 3
                    : c >= 0xF0 && c <= 0xF4 ? 4
                                             : 0;
    if (length == 0 || length > left)
        return 0;
    for (size_t i = 1; i < length; i++) {
        if ((s [i] & 0xC0) != 0x80)
            return 0;
    }
    //  No overlong forms, no surrogates, nothing past U+10FFFF
    if ((c == 0xE0 && s [1] < 0xA0) || (c == 0xED && s [1] > 0x9F) || (c == 0xF0 && s [1] < 0x90) ||
        (c == 0xF4 && s [1] > 0x8F))
        return 0;
    return length;
}

size_t
zhive_metrics_escape (const char *text, bool json, char *out, size_t size)
{
    const unsigned char *in = (const unsigned char *) text;
    size_t left = strlen (text);
    size_t at = 0;
    while (left) {
        char piece [8];
        size_t length = s_utf8 (in, left);
        size_t used = length ? length : 1;
        if (length == 0)
            memcpy (piece, "\xEF\xBF\xBD", (length = 3) + 1);
        else if (*in == '\\' || *in == '"')
            snprintf (piece, sizeof piece, "\\%c", *in), length = 2;
        else if (*in == '\n')
            memcpy (piece, "\\n", (length = 2) + 1);
        else if (json && *in < 0x20)
            length = (size_t) snprintf (piece, sizeof piece, "\\u%04x", *in);
        else {
            memcpy (piece, in, length);
            piece [length] = 0;
        }
        if (at + length >= size)
            break;
        memcpy (out + at, piece, length);
        at += length;
        in += used;
        left -= used;
    }
    if (size)
        out [at] = 0;
    return at;
}

//  ---------------------------------------------------------------------
//  Collecting what the pool holds

//  Every function, sorted by name, and the workers' sums
typedef struct {
    zhive_pool_function_t *functions;    //  Copies of the pool's views
    size_t count;                        //  Entries
    size_t max;                          //  Allocated
    bool failed;                         //  Out of memory
    uint64_t ready;                      //  Workers not draining
    uint64_t draining;                   //  Workers draining
    uint64_t busy;                       //  Slots running a task
    uint64_t free;                       //  Slots of ready workers without one
} s_facts_t;

static void
s_collect_function (const zhive_pool_function_t *function, void *arg)
{
    s_facts_t *facts = (s_facts_t *) arg;
    if (facts->count == facts->max) {
        size_t max = facts->max ? facts->max * 2 : 16;
        zhive_pool_function_t *functions = (zhive_pool_function_t *) realloc (
            facts->functions, max * sizeof (zhive_pool_function_t));
        if (!functions) {
            facts->failed = true;
            return;
        }
        facts->functions = functions;
        facts->max = max;
    }
    facts->functions [facts->count++] = *function;
}

static void
s_collect_worker (const zhive_pool_member_t *worker, void *arg)
{
    s_facts_t *facts = (s_facts_t *) arg;
    uint64_t held = zhive_list_size (&worker->held);
    uint64_t busy = held < worker->concurrency ? held : worker->concurrency;
    facts->busy += busy;
    if (worker->draining)
        facts->draining++;
    else {
        facts->ready++;
        facts->free += worker->concurrency - busy;
    }
}

static int
s_by_name (const void *a, const void *b)
{
    return strcmp (((const zhive_pool_function_t *) a)->function,
                   ((const zhive_pool_function_t *) b)->function);
}

static int
s_collect (zhive_pool_t *pool, int64_t now, s_facts_t *facts)
{
    memset (facts, 0, sizeof *facts);
    zhive_pool_each_function (pool, now, s_collect_function, facts);
    zhive_pool_each_member (pool, s_collect_worker, facts);
    if (facts->failed) {
        free (facts->functions);
        return -1;
    }
    if (facts->count)
        qsort (facts->functions, facts->count, sizeof (zhive_pool_function_t), s_by_name);
    return 0;
}

//  ---------------------------------------------------------------------
//  Prometheus text

static void
s_family (s_text_t *text, const char *name, const char *type, const char *help)
{
    s_add (text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  A gauge or counter per function, of one field
typedef enum { S_QUEUED, S_RUNNING, S_OLDEST, S_REDISPATCHES } s_field_t;

static void
s_per_function (s_text_t *text, s_facts_t *facts, const char *name, s_field_t field)
{
    char label [S_ESCAPED];
    for (size_t i = 0; i < facts->count; i++) {
        const zhive_pool_function_t *function = &facts->functions [i];
        zhive_metrics_escape (function->function, false, label, sizeof label);
        if (field == S_OLDEST)
            s_add (text, "%s{function=\"%s\"} %.6f\n", name, label,
                   (double) function->oldest_us / 1e6);
        else {
            uint64_t value = field == S_QUEUED    ? function->waiting
                             : field == S_RUNNING ? function->in_flight
                                                  : function->stats.redispatches;
            s_add (text, "%s{function=\"%s\"} %" PRIu64 "\n", name, label, value);
        }
    }
}

static void
s_histograms (s_text_t *text, s_facts_t *facts, const char *name, bool wait)
{
    char label [S_ESCAPED];
    for (size_t i = 0; i < facts->count; i++) {
        const zhive_pool_function_t *function = &facts->functions [i];
        const zhive_pool_histogram_t *histogram = wait ? &function->wait : &function->duration;
        zhive_metrics_escape (function->function, false, label, sizeof label);
        uint64_t cumulated = 0;
        for (size_t b = 0; b < ZHIVE_POOL_HISTOGRAM_BOUNDS; b++) {
            cumulated += histogram->buckets [b];
            s_add (text, "%s_bucket{function=\"%s\",le=\"%g\"} %" PRIu64 "\n", name, label,
                   (double) zhive_pool_histogram_bound_us (b) / 1e6, cumulated);
        }
        s_add (text, "%s_bucket{function=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", name, label,
               histogram->count);
        s_add (text, "%s_sum{function=\"%s\"} %.6f\n", name, label,
               (double) histogram->sum_us / 1e6);
        s_add (text, "%s_count{function=\"%s\"} %" PRIu64 "\n", name, label, histogram->count);
    }
}

char *
zhive_metrics_text (zhive_pool_t *pool, int64_t now, const zhive_metrics_extra_t *extra,
                    size_t *size)
{
    s_facts_t facts;
    if (s_collect (pool, now, &facts))
        return NULL;
    s_text_t text = { NULL, 0, 0, false };
    s_family (&text, "zhive_up", "gauge", "1 while the broker answers.");
    s_add (&text, "zhive_up 1\n");
    s_family (&text, "zhive_build_info", "gauge", "The broker's version, as a label.");
    s_add (&text, "zhive_build_info{version=\"%s\"} 1\n", S_VERSION);
    s_family (&text, "zhive_tasks_queued", "gauge", "Tasks waiting in a function's queue.");
    s_per_function (&text, &facts, "zhive_tasks_queued", S_QUEUED);
    s_family (&text, "zhive_tasks_running", "gauge", "Tasks of a function that workers hold.");
    s_per_function (&text, &facts, "zhive_tasks_running", S_RUNNING);
    s_family (&text, "zhive_queue_oldest_age_seconds", "gauge",
              "How long the task at the head of a function's queue has waited (0: empty).");
    s_per_function (&text, &facts, "zhive_queue_oldest_age_seconds", S_OLDEST);
    s_family (&text, "zhive_tasks_total", "counter",
              "Tasks of a function by how they ended (queue_full: SUBMITs refused).");
    char label [S_ESCAPED];
    for (size_t i = 0; i < facts.count; i++) {
        const zhive_pool_function_t *function = &facts.functions [i];
        const zhive_pool_stats_t *stats = &function->stats;
        const struct {
            const char *outcome;    //  Label value
            uint64_t value;         //  Count
        } outcomes [] = {
            { "ok", stats->ok },
            { "error", stats->error },
            { "timeout", stats->timeout },
            { "cancelled", stats->cancelled },
            { "worker_lost", stats->worker_lost },
            { "queue_full", stats->queue_full },
            { "unknown_function", stats->unoffered },
        };
        zhive_metrics_escape (function->function, false, label, sizeof label);
        for (size_t o = 0; o < sizeof outcomes / sizeof outcomes [0]; o++)
            s_add (&text, "zhive_tasks_total{function=\"%s\",outcome=\"%s\"} %" PRIu64 "\n", label,
                   outcomes [o].outcome, outcomes [o].value);
    }
    s_family (&text, "zhive_task_redispatches_total", "counter",
              "Tasks of a function put back in its queue after losing their worker.");
    s_per_function (&text, &facts, "zhive_task_redispatches_total", S_REDISPATCHES);
    s_family (&text, "zhive_task_wait_seconds", "histogram",
              "Time from entering a function's queue to dispatch to a worker.");
    s_histograms (&text, &facts, "zhive_task_wait_seconds", true);
    s_family (&text, "zhive_task_duration_seconds", "histogram",
              "Time from dispatch to the worker's answer (DONE or FAILED).");
    s_histograms (&text, &facts, "zhive_task_duration_seconds", false);
    s_family (&text, "zhive_workers", "gauge", "Workers connected, by state.");
    s_add (&text, "zhive_workers{state=\"ready\"} %" PRIu64 "\n", facts.ready);
    s_add (&text, "zhive_workers{state=\"draining\"} %" PRIu64 "\n", facts.draining);
    s_family (&text, "zhive_worker_slots", "gauge",
              "Task slots of the workers: busy (running a task), free (of ready workers).");
    s_add (&text, "zhive_worker_slots{state=\"busy\"} %" PRIu64 "\n", facts.busy);
    s_add (&text, "zhive_worker_slots{state=\"free\"} %" PRIu64 "\n", facts.free);
    s_family (&text, "zhive_clients_connected", "gauge", "Client connections open now.");
    s_add (&text, "zhive_clients_connected %" PRIu64 "\n", extra->clients_connected);
    free (facts.functions);
    return s_done (&text, size);
}

//  ---------------------------------------------------------------------
//  JSON status

//  A JSON string, quoted
static void
s_json_string (s_text_t *text, const char *value)
{
    char escaped [S_ESCAPED];
    zhive_metrics_escape (value, true, escaped, sizeof escaped);
    s_add (text, "\"%s\"", escaped);
}

//  Where the workers are written
typedef struct {
    s_text_t *text;    //  The text
    int64_t now;       //  The time of the status
    size_t count;      //  Workers written so far
} s_json_workers_t;

//  One worker
static void
s_json_worker (const zhive_pool_member_t *worker, void *arg)
{
    s_json_workers_t *workers = (s_json_workers_t *) arg;
    s_text_t *text = workers->text;
    int64_t now = workers->now;
    s_add (text, "%s{\"name\":", workers->count++ ? "," : "");
    s_json_string (text, worker->name);
    s_add (text, ",\"host\":");
    s_json_string (text, worker->host);
    s_add (text, ",\"pid\":%" PRIu64 ",\"functions\":[", worker->pid);
    for (size_t i = 0; i < worker->queues_count; i++) {
        s_add (text, i ? "," : "");
        s_json_string (text, worker->queues [i]->function);
    }
    s_add (text,
           "],\"concurrency\":%u,\"in_flight\":%zu,\"done\":%" PRIu64
           ",\"draining\":%s,\"local\":%s,\"joined_age_seconds\":%.3f"
           ",\"last_seen_age_seconds\":%.3f}",
           worker->concurrency, zhive_list_size (&worker->held), worker->done,
           worker->draining ? "true" : "false", worker->local ? "true" : "false",
           (double) (now - worker->joined) / 1e6, (double) (now - worker->seen) / 1e6);
}

static void
s_json_stats (s_text_t *text, const zhive_pool_stats_t *stats)
{
    s_add (text,
           "{\"submitted\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"error\":%" PRIu64
           ",\"timeout\":%" PRIu64 ",\"cancelled\":%" PRIu64 ",\"worker_lost\":%" PRIu64
           ",\"queue_full\":%" PRIu64 ",\"redispatches\":%" PRIu64 ",\"unknown_function\":%" PRIu64
           "}",
           stats->submitted, stats->ok, stats->error, stats->timeout, stats->cancelled,
           stats->worker_lost, stats->queue_full, stats->redispatches, stats->unoffered);
}

//  Rates of a function (NULL: all) as two JSON members, 0 without history
static void
s_json_rates (s_text_t *text, const zhive_metrics_extra_t *extra, const char *function,
              const char *ok_name, const char *failed_name)
{
    double ok = 0, failed = 0;
    if (extra->history)
        zhive_metrics_history_rates (extra->history, function, &ok, &failed);
    s_add (text, "\"%s\":%.3f,\"%s\":%.3f", ok_name, ok, failed_name, failed);
}

//  The throughput of the last minutes, oldest interval first
static void
s_json_history (s_text_t *text, const zhive_metrics_history_t *history)
{
    size_t size = history ? zhive_metrics_history_size (history) : 0;
    s_add (text, "{\"interval_seconds\":%g,\"ok\":[", ZHIVE_METRICS_HISTORY_MS / 1000.0);
    for (int failed = 0; failed < 2; failed++) {
        for (size_t i = 0; i < size; i++) {
            uint64_t ok_count, failed_count;
            zhive_metrics_history_get (history, i, &ok_count, &failed_count);
            s_add (text, "%s%" PRIu64, i ? "," : "", failed ? failed_count : ok_count);
        }
        s_add (text, failed ? "]}" : "],\"failed\":[");
    }
}

//  The recent errors, newest first
static void
s_json_errors (s_text_t *text, const zhive_pool_errors_t *errors, int64_t now)
{
    s_add (text, ",\"errors_recorded\":%" PRIu64 ",\"errors\":[", errors->recorded);
    const zhive_pool_error_t *error;
    for (size_t i = 0; (error = zhive_pool_errors_get (errors, i)); i++) {
        int64_t age = now > error->at ? now - error->at : 0;
        s_add (text, "%s{\"age_seconds\":%.3f,\"function\":", i ? "," : "", (double) age / 1e6);
        s_json_string (text, error->function);
        s_add (text, ",\"outcome\":\"%s\",\"type\":", zhive_pool_errors_outcome (error->kind));
        s_json_string (text, error->type);
        s_add (text, ",\"message\":");
        s_json_string (text, error->message);
        s_add (text, ",\"worker\":");
        s_json_string (text, error->worker);
        s_add (text, "}");
    }
    s_add (text, "]");
}

char *
zhive_metrics_json (zhive_pool_t *pool, int64_t now, const zhive_metrics_extra_t *extra,
                    size_t *size)
{
    s_facts_t facts;
    if (s_collect (pool, now, &facts))
        return NULL;
    s_text_t text = { NULL, 0, 0, false };
    s_add (&text, "{\"version\":\"%s\",\"incarnation\":\"%08x\",\"workers\":[", S_VERSION,
           zhive_pool_incarnation (pool));
    s_json_workers_t workers = { &text, now, 0 };
    zhive_pool_each_member (pool, s_json_worker, &workers);
    s_add (&text, "],\"queues\":[");
    for (size_t i = 0; i < facts.count; i++) {
        const zhive_pool_function_t *function = &facts.functions [i];
        s_add (&text, "%s{\"function\":", i ? "," : "");
        s_json_string (&text, function->function);
        s_add (&text,
               ",\"waiting\":%zu,\"in_flight\":%zu,\"workers\":%zu,\"oldest_age_seconds\":%.6f"
               ",\"totals\":",
               function->waiting, function->in_flight, function->workers,
               (double) function->oldest_us / 1e6);
        s_json_stats (&text, &function->stats);
        s_add (&text, ",");
        s_json_rates (&text, extra, function->function, "ok_per_second", "failed_per_second");
        s_add (&text, "}");
    }
    s_add (&text, "],\"totals\":");
    s_json_stats (&text, &zhive_pool_counters (pool)->tasks);
    s_add (&text,
           ",\"waiting\":%zu,\"unanswered\":%zu,\"clients_connected\":%" PRIu64
           ",\"workers_ready\":%" PRIu64 ",\"workers_draining\":%" PRIu64 ",\"rates\":{",
           zhive_pool_waiting (pool), zhive_pool_unanswered (pool), extra->clients_connected,
           facts.ready, facts.draining);
    s_json_rates (&text, extra, NULL, "ok_per_second", "failed_per_second");
    s_add (&text, "},\"history\":");
    s_json_history (&text, extra->history);
    s_json_errors (&text, zhive_pool_errors (pool), now);
    s_add (&text, "}\n");
    free (facts.functions);
    return s_done (&text, size);
}
