/*  =========================================================================
    zhive_cli_run - the commands that run tasks: call, map and starmap

    call submits one task and prints its result. map and starmap submit
    one task per input line as the lines come (map: the value is the
    single argument; starmap: the value is the argument array), keep at
    most --window tasks in flight (a ring, oldest first), print the results
    in input order as they arrive, read more input as results come back,
    draw the progress bar (done of the items read so far), and stop at the
    first failure unless --keep-going. At a bad input line they print the
    results before it, then "line N: WHY", and return ZHIVE_CLI_USAGE.
    =========================================================================
*/
#ifndef ZHIVE_CLI_RUN_H_INCLUDED
#define ZHIVE_CLI_RUN_H_INCLUDED

#include "zhive_cli_input.h"
#include "zhive_cli_session.h"

#ifdef __cplusplus
extern "C" {
#endif

//  ---------------------------------------------------------------------
//  Run one task of the session's function with args (one argument array
//  read by zhive_cli_input_read_args). Returns ZHIVE_CLI_OK or the exit
//  status.
int zhive_cli_run_call (zhive_cli_session_t *session, zhive_cli_input_t *args);

//  Run a map (star: a starmap) of the session's function over the lines
//  of the input (opened by zhive_cli_input_open_lines). Returns
//  ZHIVE_CLI_OK or the exit status.
int zhive_cli_run_map (zhive_cli_session_t *session, zhive_cli_input_t *input, bool star);

#ifdef __cplusplus
}
#endif

#endif
