/*  =========================================================================
    zhive_cli_status - zhive status: the broker's workers and queues

    Asks the broker for its status map and prints it as two aligned tables
    (WORKER ... FUNCTIONS, FUNCTION WAITING IN FLIGHT), or with --json as
    one JSON line. Strings from the broker are shown with their control
    characters as '?', so that a worker's name cannot drive the terminal.
    =========================================================================
*/
#ifndef ZHIVE_CLI_STATUS_H_INCLUDED
#define ZHIVE_CLI_STATUS_H_INCLUDED

#include "zhive_cli_session.h"

#ifdef __cplusplus
extern "C" {
#endif

//  ---------------------------------------------------------------------
//  Print the status of the session's broker; with --local, first give the
//  pool's workers a moment to join. Returns ZHIVE_CLI_OK or the exit status.
int zhive_cli_status_run (zhive_cli_session_t *session);

#ifdef __cplusplus
}
#endif

#endif
