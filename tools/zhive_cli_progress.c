/*  =========================================================================
    zhive_cli_progress - the progress bar of a map, on stderr
    =========================================================================
*/
#include "zhive_cli_progress.h"
#include "zhive_clock.h"
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct _zhive_cli_progress_t {
    bool enabled;         //  stderr is a terminal and not --quiet
    bool drawn;           //  A bar is on screen now
    const char *label;    //  Function name shown before the bar
    size_t total;         //  Tasks in the map
    int64_t started;      //  When the map started (monotonic ms)
    int64_t drawn_at;     //  Last redraw (monotonic ms)
};

//  ---------------------------------------------------------------------
//  Create a progress bar, drawn only if enabled

zhive_cli_progress_t *
zhive_cli_progress_new (bool enabled)
{
    zhive_cli_progress_t *self = (zhive_cli_progress_t *) calloc (1, sizeof (zhive_cli_progress_t));
    if (self) {
        self->enabled = enabled;
        self->label = "";
    }
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy the bar, clearing it

void
zhive_cli_progress_destroy (zhive_cli_progress_t **self_p)
{
    assert (self_p);
    zhive_cli_progress_t *self = *self_p;
    if (self) {
        zhive_cli_progress_clear (self);
        free (self);
        *self_p = NULL;
    }
}

//  ---------------------------------------------------------------------
//  Start counting the tasks of a map, from now

void
zhive_cli_progress_start (zhive_cli_progress_t *self, const char *label, size_t total)
{
    assert (self);
    self->label = label;
    self->total = total;
    self->started = zhive_clock_ms ();
}

//  ---------------------------------------------------------------------
//  Set the total

void
zhive_cli_progress_set_total (zhive_cli_progress_t *self, size_t total)
{
    assert (self);
    self->total = total;
}

//  ---------------------------------------------------------------------
//  Redraw the bar with `done` tasks done, at most every ZHIVE_CLI_PROGRESS_MS

void
zhive_cli_progress_draw (zhive_cli_progress_t *self, size_t done)
{
    assert (self);
    if (!self->enabled)
        return;
    int64_t now = zhive_clock_ms ();
    if (now - self->drawn_at < ZHIVE_CLI_PROGRESS_MS)
        return;
    self->drawn_at = now;
    double seconds = (double) (now - self->started) / 1000.0;
    double rate = seconds > 0 ? (double) done / seconds : 0;
    size_t total = self->total ? self->total : 1;
    char bar [25];
    size_t filled = done * (sizeof (bar) - 1) / total;
    for (size_t index = 0; index < sizeof (bar) - 1; index++)
        bar [index] = index < filled ? '#' : '.';
    bar [sizeof (bar) - 1] = 0;
    fprintf (stderr, "\r\033[K%.32s [%s] %zu/%zu %3d%% %.0f/s", self->label, bar, done, self->total,
             (int) (done * 100 / total), rate);
    fflush (stderr);
    self->drawn = true;
}

//  ---------------------------------------------------------------------
//  Take the bar off the screen

void
zhive_cli_progress_clear (zhive_cli_progress_t *self)
{
    assert (self);
    if (self->drawn) {
        fputs ("\r\033[K", stderr);
        fflush (stderr);
        self->drawn = false;
    }
}
