/*  =========================================================================
    zhive_signals - the library leaves the host's signal handling alone
    (private)

    czmq installs its own SIGINT and SIGTERM handler (it only sets
    zsys_interrupted) when it initialises, at the first socket or actor of
    the process. In a service that links libzhive that made SIGTERM and
    Ctrl-C do nothing. Every libzhive constructor that may be the first to
    reach czmq (client, broker, worker) calls zhive_signals_init first: it
    initialises czmq with its signal handling off and leaves SIGINT and
    SIGTERM as it found them, whoever set them (the default, SIG_IGN, the
    program's own sigaction, or czmq's handler that the program asked for
    with zsys_init or zsys_catch_interrupts before its first zhive object).
    =========================================================================
*/
#ifndef ZHIVE_SIGNALS_H_INCLUDED
#define ZHIVE_SIGNALS_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  Initialise czmq (zsys_init) without letting it take SIGINT or SIGTERM:
//  their dispositions are the same after the call as before. Once per
//  process (later calls do nothing); thread-safe.
void zhive_signals_init (void);

#ifdef __cplusplus
}
#endif

#endif
