/*  =========================================================================
    zhive_log - the one logger of zhive (private)

    Every role logs through these calls, and they go to czmq's zsys log:
    stderr by default, or wherever the program sends zsys output
    (zsys_set_logstream, zsys_set_logsender, zsys_set_logsystem). A
    program can also take the lines itself with zhive_log_set_handler.
    Debug lines are for a role's verbose mode: the caller decides.
    =========================================================================
*/
#ifndef ZHIVE_LOG_H_INCLUDED
#define ZHIVE_LOG_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ZHIVE_LOG_ERROR,      //  Something failed that should not have
    ZHIVE_LOG_WARNING,    //  Something an operator should know (a refusal, a loss)
    ZHIVE_LOG_INFO,       //  A normal event (bound, joined)
    ZHIVE_LOG_DEBUG       //  Detail for verbose mode
} zhive_log_level_t;

//  Where log lines go instead of zsys: called with the level and the
//  formatted line (no newline), from whichever thread logs.
typedef void (zhive_log_fn) (zhive_log_level_t level, const char *line, void *arg);

//  Send log lines to fn (NULL: back to zsys). Set it before any zhive
//  object is made: it is read without a lock.
void zhive_log_set_handler (zhive_log_fn *fn, void *arg);

//  Log one line at a level.
void zhive_log (zhive_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

#define zhive_log_error(...)   zhive_log (ZHIVE_LOG_ERROR, __VA_ARGS__)
#define zhive_log_warning(...) zhive_log (ZHIVE_LOG_WARNING, __VA_ARGS__)
#define zhive_log_info(...)    zhive_log (ZHIVE_LOG_INFO, __VA_ARGS__)
#define zhive_log_debug(...)   zhive_log (ZHIVE_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
