/*  =========================================================================
    zhive_cli - what every part of the zhive command line tool shares

    The exit statuses (the usage text documents them), the tool's limits,
    and its two kinds of message on stderr: a complaint ("zhive: MESSAGE")
    and a usage error (the same, then a pointer at --help). These messages
    are the tool's output, not logs: they go to stderr as they are.
    =========================================================================
*/
#ifndef ZHIVE_CLI_H_INCLUDED
#define ZHIVE_CLI_H_INCLUDED

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Exit statuses (documented in the usage text)
#define ZHIVE_CLI_OK          0      //  Every task succeeded
#define ZHIVE_CLI_TASK        1      //  A task failed
#define ZHIVE_CLI_USAGE       2      //  Bad command line or bad input
#define ZHIVE_CLI_UNREACHABLE 3      //  No broker, or a task timed out
#define ZHIVE_CLI_INTERNAL    4      //  Out of memory, output error, pool failure
#define ZHIVE_CLI_INTERRUPTED 130    //  SIGINT / SIGTERM

#define ZHIVE_CLI_DEFAULT_BROKER "tcp://127.0.0.1:5555"
#define ZHIVE_CLI_CONNECT_MAX_MS 5000     //  Longest wait for the broker's first answer
#define ZHIVE_CLI_GRACE_MS       5000     //  Beyond a task deadline before we stop waiting
#define ZHIVE_CLI_POOL_EMPTY_MS  10000    //  --local: longest time with no worker ready
#define ZHIVE_CLI_TICK_MS        100      //  Wait slice: interrupts, progress, watchdogs
#define ZHIVE_CLI_WINDOW         1000     //  map: tasks in flight without --window

//  Print "zhive: MESSAGE" and a newline on stderr.
void zhive_cli_complain (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  The same with a va_list.
void zhive_cli_vcomplain (const char *format, va_list args);

//  A usage error: print "zhive: MESSAGE", point at --help, and return
//  ZHIVE_CLI_USAGE.
int zhive_cli_usage_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

#ifdef __cplusplus
}
#endif

#endif
