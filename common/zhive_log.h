/*  =========================================================================
    zhive_log - the one logger of zhive (private)

    Every role logs through these calls, and they go to czmq's zsys log:
    stderr by default, or wherever the program sends zsys output
    (zsys_set_logstream, zsys_set_logsender, zsys_set_logsystem). A
    program can also take the lines itself with zhive_log_set_handler
    (include/zhive_logging.h, public).
    Debug lines are for a role's verbose mode: the caller decides.
    =========================================================================
*/
#ifndef ZHIVE_LOG_H_INCLUDED
#define ZHIVE_LOG_H_INCLUDED

#include "zhive_logging.h"
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Log one line at a level.
void zhive_log (zhive_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

#define zhive_log_error(...)   zhive_log (ZHIVE_LOG_ERROR, __VA_ARGS__)
#define zhive_log_warning(...) zhive_log (ZHIVE_LOG_WARNING, __VA_ARGS__)
#define zhive_log_info(...)    zhive_log (ZHIVE_LOG_INFO, __VA_ARGS__)
#define zhive_log_debug(...)   zhive_log (ZHIVE_LOG_DEBUG, __VA_ARGS__)

//  A debug line only when verbose is true (a role's verbose mode)
#define zhive_log_verbose(verbose, ...)                                                            \
    do {                                                                                           \
        if (verbose)                                                                               \
            zhive_log_debug (__VA_ARGS__);                                                         \
    } while (0)

//  Log one line as "role name: line", debug lines only when verbose: how a
//  worker names itself in its log
void zhive_log_as (bool verbose, zhive_log_level_t level, const char *role, const char *name,
                   const char *format, ...) __attribute__ ((format (printf, 5, 6)));

#ifdef __cplusplus
}
#endif

#endif
