/*  =========================================================================
    zhive_procs_exec - starting one local process: fork + exec

    The primitives under the supervisor (zhive_procs) and its zygotes
    (zhive_procs_zygote): which zhive-worker program to run, fork + exec
    of a command line with its token in the environment (the child gets
    its own process group, default signals, and only the descriptors
    asked for), and how a wait status reads in the log. It calls nothing
    of the supervisor.
    =========================================================================
*/
#ifndef ZHIVE_PROCS_EXEC_H_INCLUDED
#define ZHIVE_PROCS_EXEC_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

#pragma GCC visibility push(hidden)

//  The program local workers run: program if not NULL or "", else
//  $ZHIVE_WORKER, else zhive-worker beside this executable, in the install
//  directory, or on the PATH. The caller owns the result (NULL if out of
//  memory).
char *zhive_procs_exec_program (const char *program);

//  Fork and exec argv (NULL-terminated) with ZHIVE_TOKEN_ENV=token in the
//  environment; stdin_fd / stdout_fd, if not -1, become its stdin /
//  stdout. Returns the pid, or -1 with errno set.
pid_t zhive_procs_exec_spawn (char **argv, const char *token, int stdin_fd, int stdout_fd);

//  How a process ended, from its wait status ("exited with code N",
//  "was killed by signal N").
void zhive_procs_exec_describe (int status, char *how, size_t size);

#pragma GCC visibility pop

#endif
