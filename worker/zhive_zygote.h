/*  =========================================================================
    zhive_zygote - the zygote start method of zhive-worker (private)

    `zhive-worker --zygote ...` loads its plugins once (dlopen, no ZeroMQ
    context anywhere), then forks a worker per request, so each worker
    starts at once and shares the loaded code. Its parent (the broker)
    talks to it in lines:

        stdin   spawn              fork one worker
        stdout  pid <PID>          the worker forked for a spawn
                error <MESSAGE>    no worker could be forked for a spawn
                exit <PID> <WS>    a worker ended; WS is its raw wait status

    On end of stdin, SIGTERM, SIGINT or SIGHUP, or when its parent dies,
    the zygote SIGTERMs its workers, gives them 2 s, SIGKILLs the rest,
    reaps them and exits 0.
    =========================================================================
*/
#ifndef ZHIVE_ZYGOTE_H_INCLUDED
#define ZHIVE_ZYGOTE_H_INCLUDED

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  ---------------------------------------------------------------------
//  Serve spawn requests on stdin. In the zygote it returns its exit status
//  when done, with *child false. In each forked worker it returns 0 with
//  *child true: signal handlers are back to their defaults, SIGTERM and
//  SIGINT are blocked (the caller unblocks them once it has its handlers,
//  so one sent meanwhile is not lost), stdin reads /dev/null, stdout goes
//  to stderr, and the caller goes on to make its worker.
//  Call it before anything makes a ZeroMQ context or a thread.
int zhive_zygote_run (bool *child);

#ifdef __cplusplus
}
#endif

#endif
