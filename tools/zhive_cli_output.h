/*  =========================================================================
    zhive_cli_output - what the zhive tool prints: results and their errors

    Results go to stdout as compact JSON, one value per line (buffered;
    flushed before the tool waits). A failed task is reported on stderr
    ("error: TYPE: MESSAGE (worker NAME)", "zhive: timeout: ...") or, with
    --keep-going, printed in its place as {"error":{...}}. The output owns
    the progress bar and steps it aside before anything else reaches the
    terminal.
    =========================================================================
*/
#ifndef ZHIVE_CLI_OUTPUT_H_INCLUDED
#define ZHIVE_CLI_OUTPUT_H_INCLUDED

#include "zhive.h"
#include "zhive_cli_progress.h"
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_cli_output_t zhive_cli_output_t;

//  ---------------------------------------------------------------------
//  Create the output of a run of `function` (borrowed; named in timeout
//  messages) with task deadline `timeout` ms (0: none). keep_going prints
//  failed tasks in place; quiet turns the progress bar off (it is on only
//  when stderr is a terminal). Returns NULL if out of memory.
zhive_cli_output_t *zhive_cli_output_new (const char *function, int timeout, bool keep_going,
                                          bool quiet);

//  Destroy the output (clearing the progress bar); safe twice, nulls the
//  pointer. Does not flush stdout.
void zhive_cli_output_destroy (zhive_cli_output_t **self_p);

//  Name the broker endpoint (borrowed) for "lost the broker" messages.
void zhive_cli_output_set_endpoint (zhive_cli_output_t *self, const char *endpoint);

//  The progress bar.
zhive_cli_progress_t *zhive_cli_output_progress (zhive_cli_output_t *self);

//  Write one JSON value and a newline to stdout (buffered). Returns
//  ZHIVE_CLI_OK, or ZHIVE_CLI_INTERNAL after a message (value NULL: out of
//  memory).
int zhive_cli_output_json (zhive_cli_output_t *self, json_t *value);

//  Write one msgpack value (data[0..size), borrowed) as JSON and a newline
//  to stdout (buffered), straight from its bytes: memory does not grow with
//  what the value holds. Returns ZHIVE_CLI_OK, or ZHIVE_CLI_INTERNAL after a
//  message (not valid msgpack, out of memory, stdout failed).
int zhive_cli_output_value (zhive_cli_output_t *self, const char *data, size_t size);

//  Print one result: its value as JSON, or its error (on stderr, after the
//  results before it; in place with --keep-going). result NULL means out
//  of memory. `line` is the input line of a map item, or 0. Returns
//  ZHIVE_CLI_OK to go on, else the exit status.
int zhive_cli_output_result (zhive_cli_output_t *self, zhive_result_t *result, size_t line);

//  Report a failed result on stderr. Returns the exit status it calls for:
//  ZHIVE_CLI_UNREACHABLE (timeout, no broker) or ZHIVE_CLI_TASK.
int zhive_cli_output_error (zhive_cli_output_t *self, zhive_result_t *result, size_t line);

//  Flush stdout, stepping the progress bar aside if both share a terminal.
//  Returns ZHIVE_CLI_OK, or ZHIVE_CLI_INTERNAL after a write error (silent
//  for a closed pipe).
int zhive_cli_output_flush (zhive_cli_output_t *self);

//  Clear the progress bar and print "zhive: MESSAGE" on stderr.
void zhive_cli_output_complain (zhive_cli_output_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  True if a task failed (with --keep-going the run went on past it).
bool zhive_cli_output_failed (zhive_cli_output_t *self);

#ifdef __cplusplus
}
#endif

#endif
