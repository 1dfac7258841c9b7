/*  =========================================================================
    zhive_logging - where zhive's log lines go

    Broker, worker and client log through one logger. By default its lines
    go to czmq's zsys log on stderr: the first line zhive logs points zsys's
    log stream at stderr, unless ZSYS_LOGSTREAM is set (zsys's own rule).
    A program that embeds zhive can take them instead:

        static void
        s_log (zhive_log_level_t level, const char *line, void *arg)
        {
            syslog (level == ZHIVE_LOG_ERROR ? LOG_ERR : LOG_INFO, "%s", line);
        }
        ...
        zhive_log_set_handler (s_log, NULL);    //  before making any zhive object
    =========================================================================
*/
#ifndef ZHIVE_LOGGING_H_INCLUDED
#define ZHIVE_LOGGING_H_INCLUDED

#include "zhive_export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ZHIVE_LOG_ERROR,      //  Something failed that should not have
    ZHIVE_LOG_WARNING,    //  Something an operator should know (a refusal, a loss)
    ZHIVE_LOG_INFO,       //  A normal event (bound, joined)
    ZHIVE_LOG_DEBUG       //  Detail for verbose mode
} zhive_log_level_t;

//  A log handler: called with the level and one formatted line (no
//  newline), from whichever thread logs (the broker logs from its actor's
//  thread). It must not call back into zhive.
typedef void (zhive_log_fn) (zhive_log_level_t level, const char *line, void *arg);

//  ---------------------------------------------------------------------
//  Send zhive's log lines to fn, with arg; NULL sends them back to zsys.
//  Set it before any zhive object is made and do not change it while
//  zhive objects run: it is read without a lock.
ZHIVE_EXPORT void zhive_log_set_handler (zhive_log_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
