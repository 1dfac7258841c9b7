/*  =========================================================================
    zhive_cli_session - one run of a zhive command against a broker

    Connects a client to the broker (--broker, or the embedded pool it
    starts for --local, with CURVE when --curve-secret is given), holds the
    output of the run, and watches the wait for results: every
    ZHIVE_CLI_TICK_MS the command calls zhive_cli_session_watch, which
    stops the run on ^C, on a broker silent past the task deadline and a
    grace, and on a local pool with no worker ready.
    =========================================================================
*/
#ifndef ZHIVE_CLI_SESSION_H_INCLUDED
#define ZHIVE_CLI_SESSION_H_INCLUDED

#include "zhive.h"
#include "zhive_cli_local.h"
#include "zhive_cli_options.h"
#include "zhive_cli_output.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_cli_session_t zhive_cli_session_t;

//  ---------------------------------------------------------------------
//  Create a session running `function` (borrowed; "status" for status)
//  with the options (borrowed). Returns NULL if out of memory.
zhive_cli_session_t *zhive_cli_session_new (const zhive_cli_options_t *options,
                                            const char *function);

//  Disconnect, stop the local pool, destroy the session; safe twice, nulls
//  the pointer.
void zhive_cli_session_destroy (zhive_cli_session_t **self_p);

//  Start the local pool if asked, and connect to the broker. Returns
//  ZHIVE_CLI_OK, or an exit status after a message.
int zhive_cli_session_connect (zhive_cli_session_t *self);

//  Called every ZHIVE_CLI_TICK_MS while results are awaited. Returns
//  ZHIVE_CLI_OK to keep waiting, or an exit status after saying why not.
int zhive_cli_session_watch (zhive_cli_session_t *self);

//  Note that a result arrived (the broker is alive).
void zhive_cli_session_news (zhive_cli_session_t *self);

//  The task options the command line gives.
zhive_opts_t zhive_cli_session_task_opts (zhive_cli_session_t *self);

//  The options of the run.
const zhive_cli_options_t *zhive_cli_session_options (zhive_cli_session_t *self);

//  The function being run.
const char *zhive_cli_session_function (zhive_cli_session_t *self);

//  The client, once connected.
zhive_client_t *zhive_cli_session_client (zhive_cli_session_t *self);

//  The output of the run.
zhive_cli_output_t *zhive_cli_session_output (zhive_cli_session_t *self);

//  The embedded pool, or NULL without --local.
zhive_cli_local_t *zhive_cli_session_local (zhive_cli_session_t *self);

#ifdef __cplusplus
}
#endif

#endif
