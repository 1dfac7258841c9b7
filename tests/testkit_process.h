/*  =========================================================================
    testkit_process - a program under test: started with fork/exec, its
    output captured in a file, optionally with pipes on its stdin and
    stdout, and stopped by its pid

    As cmocka setup and teardown (testkit_process_setup / _teardown) the
    teardown stops whatever a failed test left running: the process and
    the others it names (e.g. the workers of a zygote), by their pids.
    =========================================================================
*/
#ifndef TESTKIT_PROCESS_H_INCLUDED
#define TESTKIT_PROCESS_H_INCLUDED

#include "testkit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TESTKIT_STDOUT 1    //  Capture the child's stdout
#define TESTKIT_STDERR 2    //  Capture the child's stderr

typedef struct {
    pid_t pid;              //  The process, 0 once reaped
    char output [64];       //  File holding what it printed, "" if none
    int input;              //  Pipe to its stdin, or -1
    int lines;              //  Pipe from its stdout, or -1
    char buffer [1024];     //  What it printed that no line read took yet
    size_t buffered;        //  Bytes in buffer
    pid_t others [3];       //  Other processes (zygote workers) to kill, or 0
    char program [4096];    //  The program started last
} testkit_process_t;

//  ---------------------------------------------------------------------
//  A process record, nothing started. NULL if out of memory.
testkit_process_t *testkit_process_new (void);

//  Kill (SIGKILL) and reap the process if it runs, kill the others, close
//  the pipes, remove the output file. Safe with *self_p NULL.
void testkit_process_destroy (testkit_process_t **self_p);

//  cmocka setup and teardown: *state is a new testkit_process_t, which the
//  teardown destroys.
int testkit_process_setup (void **state);
int testkit_process_teardown (void **state);

//  ---------------------------------------------------------------------
//  Start the program argv [0] (NULL: zhive-worker, see testkit_program;
//  argv [0] is then set to its path) with argv; `streams` says which of
//  its outputs go to self->output (the others go to /dev/null).
void testkit_process_start (testkit_process_t *self, const char **argv, int streams);

//  ---------------------------------------------------------------------
//  Start the program argv [0] (as testkit_process_start) with pipes on
//  its stdin (self->input) and stdout (self->lines); its stderr goes to
//  self->output.
void testkit_process_start_piped (testkit_process_t *self, const char **argv);

//  ---------------------------------------------------------------------
//  One line the process printed on stdout, without its newline. Returns
//  0, or -1 at the end of its output or after timeout_ms.
int testkit_process_line (testkit_process_t *self, char *line, size_t size, int timeout_ms);

//  ---------------------------------------------------------------------
//  Wait up to timeout_ms for the process to end; its wait status, or -1
//  if it is still running.
int testkit_process_wait (testkit_process_t *self, int timeout_ms);

//  ---------------------------------------------------------------------
//  Stop the process (SIGTERM); its wait status. If it has not stopped
//  within TESTKIT_TIMEOUT it is killed and the test fails. -1 if none.
int testkit_process_stop (testkit_process_t *self);

//  ---------------------------------------------------------------------
//  What the process printed (caller frees); removes the file.
char *testkit_process_output (testkit_process_t *self);

//  ---------------------------------------------------------------------
//  Run the program argv [0] (as testkit_process_start) to its end
//  (stopped after TESTKIT_TIMEOUT); returns its exit code (-1 if killed)
//  and checks that what it printed on `streams` contains part (unless
//  NULL).
int testkit_process_run (testkit_process_t *self, const char **argv, int streams, const char *part);

#ifdef __cplusplus
}
#endif

#endif
