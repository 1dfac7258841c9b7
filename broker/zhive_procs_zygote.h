/*  =========================================================================
    zhive_procs_zygote - one zygote process and its pipes

    A zygote is `zhive-worker --zygote ...`: it loads the plugins once and
    forks a worker for each "spawn\n" written to its stdin, and reports on
    its stdout "pid PID\n" (a worker started), "error [REASON]\n" (a spawn
    failed) and "exit PID STATUS\n" (a worker ended, a raw wait status).
    This class starts the process with its pipes, writes the spawn lines,
    and reads and parses the report lines without blocking; what the lines
    mean for the workers is the supervisor's (zhive_procs), which calls
    this class one way. The struct is embedded in its owner.
    =========================================================================
*/
#ifndef ZHIVE_PROCS_ZYGOTE_H_INCLUDED
#define ZHIVE_PROCS_ZYGOTE_H_INCLUDED

#include "zhive_token.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#pragma GCC visibility push(hidden)

#define ZHIVE_PROCS_ZYGOTE_LINE 256    //  Longest line from a zygote, with its end

//  A zygote
typedef struct {
    pid_t pid;                              //  The zygote process, 0 if none
    int in;                                 //  Pipe to its stdin (spawn lines), -1 if none
    int out;                                //  Pipe from its stdout (pid / exit lines), -1 if none
    char line [ZHIVE_PROCS_ZYGOTE_LINE];    //  Partial line read from it
    size_t line_size;                       //  Bytes in line
    uint64_t spawns;                        //  Spawn lines written to it
    char token [ZHIVE_TOKEN_SIZE];          //  The token of its workers (they inherit it)
} zhive_procs_zygote_t;

//  What a line from the zygote says
typedef enum {
    ZHIVE_PROCS_ZYGOTE_PID,      //  "pid PID": the oldest spawn started as pid
    ZHIVE_PROCS_ZYGOTE_ERROR,    //  "error [REASON]": the oldest spawn failed
    ZHIVE_PROCS_ZYGOTE_EXIT,     //  "exit PID STATUS": a worker it forked ended
    ZHIVE_PROCS_ZYGOTE_OTHER     //  Anything else
} zhive_procs_zygote_kind_t;

//  One line from the zygote, parsed
typedef struct {
    zhive_procs_zygote_kind_t kind;         //  What it says
    long pid;                               //  PID, EXIT: the worker's pid (1..INT_MAX)
    long status;                            //  EXIT: its raw wait status
    const char *reason;                     //  ERROR: the reason, "no reason" if none
    char text [ZHIVE_PROCS_ZYGOTE_LINE];    //  The whole line, without its end
} zhive_procs_zygote_line_t;

//  ---------------------------------------------------------------------
//  A zygote that is not started (no process, no pipes).
void zhive_procs_zygote_init (zhive_procs_zygote_t *self);

//  Start `argv [0] --zygote argv [1]...` (argv: a worker's command line,
//  NULL-terminated) with a new token, its pipes non-blocking: 0 (pid set),
//  or -1 with errno set (no process, no pipes).
int zhive_procs_zygote_start (zhive_procs_zygote_t *self, char **argv);

//  Close its pipes (the zygote ends at the end of its stdin); pid stays.
void zhive_procs_zygote_close (zhive_procs_zygote_t *self);

//  Ask for one more worker: 0 (order: the spawn's place, from 0), or -1
//  if the zygote does not take it.
int zhive_procs_zygote_spawn (zhive_procs_zygote_t *self, uint64_t *order);

//  The next line from the zygote, without blocking: 1 (line filled in),
//  0 if none is there now, -1 if the zygote is lost (why: what happened,
//  NULL if its stdout ended).
int zhive_procs_zygote_read (zhive_procs_zygote_t *self, zhive_procs_zygote_line_t *line,
                             const char **why);

#pragma GCC visibility pop

#endif
