/*  =========================================================================
    zhive_cli_run - the commands that run tasks: call, map and starmap

    call submits one task and prints its result. map and starmap submit
    one task per input value (map: the value is the single argument;
    starmap: the value is the argument array), print the results in input
    order as they arrive, draw the progress bar, and stop at the first
    failure unless --keep-going.
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

//  Run a map (star: a starmap) of the session's function over the input
//  values. Returns ZHIVE_CLI_OK or the exit status.
int zhive_cli_run_map (zhive_cli_session_t *session, zhive_cli_input_t *input, bool star);

#ifdef __cplusplus
}
#endif

#endif
