/*  =========================================================================
    zhive_cli_input - the arguments of the tasks, read before anything is sent

    `call` takes one JSON array on the command line (default []); `map` and
    `starmap` read every non-empty stdin line as one JSON value (starmap:
    a JSON array). All of it is parsed, checked and packed as msgpack
    before the tool connects, so bad input costs no work: it is a usage
    error naming its line.
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

//  ---------------------------------------------------------------------
//  Create an empty input. Returns NULL if out of memory.
zhive_cli_input_t *zhive_cli_input_new (void);

//  Destroy the input; safe twice, nulls the pointer.
void zhive_cli_input_destroy (zhive_cli_input_t **self_p);

//  Read the arguments of `call`: `text` is a JSON array, or NULL for [].
//  Returns ZHIVE_CLI_OK, or ZHIVE_CLI_USAGE / ZHIVE_CLI_INTERNAL after a
//  message.
int zhive_cli_input_read_args (zhive_cli_input_t *self, const char *text);

//  Read the items of a map: every non-empty line of stream, to its end.
//  `arrays`: each line must be a JSON array (starmap). Returns
//  ZHIVE_CLI_OK, or ZHIVE_CLI_USAGE / ZHIVE_CLI_INTERNAL after a message.
int zhive_cli_input_read_lines (zhive_cli_input_t *self, FILE *stream, bool arrays);

//  The values read, one msgpack value each.
const zhive_pack_t *zhive_cli_input_items (zhive_cli_input_t *self);

//  How many values were read.
size_t zhive_cli_input_count (zhive_cli_input_t *self);

//  The input line (from 1) of value `index` (from 0), or 0 if unknown.
size_t zhive_cli_input_line (zhive_cli_input_t *self, size_t index);

#ifdef __cplusplus
}
#endif

#endif
