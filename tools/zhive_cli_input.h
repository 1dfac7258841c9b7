/*  =========================================================================
    zhive_cli_input - the arguments of the tasks: a JSON array, or stdin lines

    `call` takes one JSON array on the command line (default []), parsed,
    checked and packed as msgpack before the tool connects: bad arguments
    cost no work. `map` and `starmap` read stdin as it comes, one line at a
    time, never waiting for it: every non-empty line is one JSON value
    (starmap: a JSON array), handed out as one task's argument array while
    the tool waits for results, so a map over endless input (tail -f) runs
    in bounded memory and prints as it goes. A line that is not valid JSON
    (or nested too deep, or not an array for starmap) ends the input: the
    tool prints the results before it, then "line N: WHY" and exits 2.
    =========================================================================
*/
#ifndef ZHIVE_CLI_INPUT_H_INCLUDED
#define ZHIVE_CLI_INPUT_H_INCLUDED

#include "zhive.h"
#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_cli_input_t zhive_cli_input_t;

//  What zhive_cli_input_next found
typedef enum {
    ZHIVE_CLI_INPUT_ITEM,        //  An item: its argument array is packed
    ZHIVE_CLI_INPUT_NONE,        //  No whole line yet: wait until the fd is readable
    ZHIVE_CLI_INPUT_END,         //  End of input
    ZHIVE_CLI_INPUT_BAD,         //  A bad line or a read error: see zhive_cli_input_error
    ZHIVE_CLI_INPUT_NO_MEMORY    //  Out of memory
} zhive_cli_input_next_t;

//  ---------------------------------------------------------------------
//  Create an empty input. Returns NULL if out of memory.
zhive_cli_input_t *zhive_cli_input_new (void);

//  Destroy the input; safe twice, nulls the pointer.
void zhive_cli_input_destroy (zhive_cli_input_t **self_p);

//  Read the arguments of `call`: `text` is a JSON array, or NULL for [].
//  Returns ZHIVE_CLI_OK, or ZHIVE_CLI_USAGE / ZHIVE_CLI_INTERNAL after a
//  message.
int zhive_cli_input_read_args (zhive_cli_input_t *self, const char *text);

//  The arguments read by zhive_cli_input_read_args, one msgpack array.
const zhive_pack_t *zhive_cli_input_items (zhive_cli_input_t *self);

//  Take the items of a map from the lines of file descriptor fd
//  (borrowed). `arrays`: each line must be a JSON array (starmap).
void zhive_cli_input_open_lines (zhive_cli_input_t *self, int fd, bool arrays);

//  The next item of the lines, without waiting: reads what the fd holds
//  now (at most 64 KiB a call) when no whole line is buffered. On
//  ZHIVE_CLI_INPUT_ITEM, args (reset first) holds the task's argument array
//  (map: [value]; starmap: the value) and *line its input line, from 1.
//  After END or BAD, returns the same again.
zhive_cli_input_next_t zhive_cli_input_next (zhive_cli_input_t *self, zhive_pack_t *args,
                                             size_t *line);

//  The file descriptor the lines come from, to poll for reading.
int zhive_cli_input_fd (zhive_cli_input_t *self);

//  After ZHIVE_CLI_INPUT_BAD: why, "line N: WHY" or "cannot read stdin: ...".
const char *zhive_cli_input_error (zhive_cli_input_t *self);

#ifdef __cplusplus
}
#endif

#endif
