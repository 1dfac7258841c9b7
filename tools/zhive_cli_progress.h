/*  =========================================================================
    zhive_cli_progress - the progress bar of a map, on stderr

    "LABEL [#########...............] DONE/TOTAL PCT% RATE/s", redrawn in
    place at most every ZHIVE_CLI_PROGRESS_MS, and only when enabled (the
    tool enables it when stderr is a terminal and --quiet is not given).
    Anything else written to the terminal clears it first.
    =========================================================================
*/
#ifndef ZHIVE_CLI_PROGRESS_H_INCLUDED
#define ZHIVE_CLI_PROGRESS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZHIVE_CLI_PROGRESS_MS 100    //  Progress bar redraw interval

typedef struct _zhive_cli_progress_t zhive_cli_progress_t;

//  ---------------------------------------------------------------------
//  Create a progress bar, drawn only if enabled. NULL if out of memory.
zhive_cli_progress_t *zhive_cli_progress_new (bool enabled);

//  Destroy the bar (clearing it); safe twice, nulls the pointer.
void zhive_cli_progress_destroy (zhive_cli_progress_t **self_p);

//  Start counting: `total` tasks of a map of `label` (borrowed), from now.
void zhive_cli_progress_start (zhive_cli_progress_t *self, const char *label, size_t total);

//  Set the total: a map reading its input as it comes counts the items
//  read so far.
void zhive_cli_progress_set_total (zhive_cli_progress_t *self, size_t total);

//  Show `done` of the total, unless the last redraw is too recent.
void zhive_cli_progress_draw (zhive_cli_progress_t *self, size_t done);

//  Take the bar off the screen, if it is on it.
void zhive_cli_progress_clear (zhive_cli_progress_t *self);

#ifdef __cplusplus
}
#endif

#endif
