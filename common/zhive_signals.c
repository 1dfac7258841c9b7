/*  =========================================================================
    zhive_signals - the library leaves the host's signal handling alone

    czmq 4.2.1: zsys_init calls zsys_catch_interrupts unless
    zsys_handler_set (NULL) ran before it (or ZSYS_SIGHANDLER=false), and
    zsys_handler_set (NULL) itself restores the dispositions czmq saved
    when it set a handler, undoing one the program set through czmq. So:
    save SIGINT and SIGTERM, turn czmq's handling off, initialise czmq,
    and put back what was saved.
    =========================================================================
*/
#include "zhive_signals.h"
#include <czmq.h>
#include <pthread.h>
#include <signal.h>

//  The one process-wide fact: czmq has been initialised our way. Signal
//  dispositions are process-wide too; pthread_once makes it happen once
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

//  Initialise czmq and leave SIGINT and SIGTERM as they were
static void
s_init (void)
{
    //  While czmq may put its saved defaults back for a moment, this
    //  thread does not take the two signals (libzmq's threads never do)
    sigset_t both, old;
    sigemptyset (&both);
    sigaddset (&both, SIGINT);
    sigaddset (&both, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &both, &old);
    struct sigaction int_was, term_was;
    sigaction (SIGINT, NULL, &int_was);
    sigaction (SIGTERM, NULL, &term_was);
    zsys_handler_set (NULL);
    zsys_init ();
    sigaction (SIGINT, &int_was, NULL);
    sigaction (SIGTERM, &term_was, NULL);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
}

//  ---------------------------------------------------------------------
//  Initialise czmq without letting it take SIGINT or SIGTERM

void
zhive_signals_init (void)
{
    pthread_once (&s_once, s_init);
}
