/*  =========================================================================
    zhive_log - the one logger of zhive, over czmq's zsys
    =========================================================================
*/
#include "zhive_log.h"
#include <czmq.h>
#include <stdarg.h>
#include <stdatomic.h>

static zhive_log_fn *s_handler;    //  Set once by the program, before any thread logs
static void *s_handler_arg;        //  Its argument
static atomic_flag s_stream_set = ATOMIC_FLAG_INIT;    //  zsys was pointed at stderr

ZHIVE_EXPORT void
zhive_log_set_handler (zhive_log_fn *fn, void *arg)
{
    s_handler = fn;
    s_handler_arg = arg;
}

void
zhive_log (zhive_log_level_t level, const char *format, ...)
{
    char line [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (s_handler) {
        s_handler (level, line, s_handler_arg);
        return;
    }
    //  zsys writes to stdout unless told otherwise; zhive's log goes to
    //  stderr, as zhive_log.h says (stdout is what programs print), unless
    //  ZSYS_LOGSTREAM chooses. Once: a program may point zsys elsewhere
    if (!atomic_flag_test_and_set (&s_stream_set) && !getenv ("ZSYS_LOGSTREAM"))
        zsys_set_logstream (stderr);
    switch (level) {
        case ZHIVE_LOG_ERROR: zsys_error ("%s", line); break;
        case ZHIVE_LOG_WARNING: zsys_warning ("%s", line); break;
        case ZHIVE_LOG_INFO: zsys_info ("%s", line); break;
        default: zsys_debug ("%s", line); break;
    }
}

void
zhive_log_as (bool verbose, zhive_log_level_t level, const char *role, const char *name,
              const char *format, ...)
{
    if (level == ZHIVE_LOG_DEBUG && !verbose)
        return;
    char line [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    zhive_log (level, "%s %s: %s", role, name, line);
}
