/*  =========================================================================
    testkit - what every C test of zhive needs: waits with deadlines, ports,
    the programs and plugin under test, files, and child processes

    The kit is for cmocka tests: its functions fail the running test (with
    a message saying what was waited for or what went wrong) instead of
    returning an error the test would have to check. Nothing here hangs:
    every wait has a deadline. The other parts of the kit:

        testkit_peer     fake clients and fake workers (DEALER sockets)
        testkit_broker   a fake broker (a ROUTER) for one worker
        testkit_pool     a real broker with local workers and a client
        testkit_process  a program under test, its output and pipes
        testkit_relay    a TCP relay that can go silent and records bytes

    Network helpers bind only to 127.0.0.1, on ports the kernel picks.
    =========================================================================
*/
#ifndef TESTKIT_H_INCLUDED
#define TESTKIT_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The longest any single receive or wait of the kit takes by default
#define TESTKIT_TIMEOUT 10000

//  A condition to wait for: true when it holds
typedef bool (testkit_condition_fn) (void *arg);

//  ---------------------------------------------------------------------
//  Poll condition every few ms until it holds or timeout_ms have passed.
//  Returns true if it held, false at the deadline (the test goes on).
bool testkit_wait_for (testkit_condition_fn *condition, void *arg, int timeout_ms);

//  ---------------------------------------------------------------------
//  Like testkit_wait_for, but at the deadline fails the test with the
//  printf-style message (what was waited for).
void testkit_wait_until (testkit_condition_fn *condition, void *arg, int timeout_ms,
                         const char *format, ...) __attribute__ ((format (printf, 4, 5)));

//  ---------------------------------------------------------------------
//  A TCP listener on 127.0.0.1 on a port the kernel picks: returns its
//  file descriptor and sets *port, or -1 if it cannot be made.
int testkit_tcp_listen (int *port);

//  ---------------------------------------------------------------------
//  A TCP connection to 127.0.0.1:port; the file descriptor, or -1.
int testkit_tcp_connect (int port);

//  ---------------------------------------------------------------------
//  A port of 127.0.0.1 that is free right now (someone may take it later:
//  prefer binding to tcp://127.0.0.1:* where the code under test can).
int testkit_free_port (void);

//  ---------------------------------------------------------------------
//  The port of a "tcp://HOST:PORT" endpoint, 0 if it has none.
int testkit_port (const char *endpoint);

//  ---------------------------------------------------------------------
//  The path of a program of the build, written into buffer: for
//  "zhive-worker" $ZHIVE_WORKER if set, else $ZHIVE_BIN/name. Fails the
//  test if neither is set. Returns buffer.
const char *testkit_program (const char *name, char *buffer, size_t size);

//  ---------------------------------------------------------------------
//  The examples plugin ($ZHIVE_PLUGIN); fails the test if it is not set.
const char *testkit_plugin (void);

//  ---------------------------------------------------------------------
//  What a file holds (at most 1 MiB), "" if it cannot be read. Caller
//  frees.
char *testkit_read_file (const char *path);

//  ---------------------------------------------------------------------
//  A pipe whose ends a started program does not inherit (close-on-exec).
//  Returns 0 or -1.
int testkit_pipe (int ends [2]);

//  ---------------------------------------------------------------------
//  Start a program: argv [0] is its path, argv ends with NULL. With log,
//  its stdout and stderr go to that file (created, emptied); without,
//  it shares ours. Returns its pid; fails the test if it cannot fork.
pid_t testkit_spawn (const char *const *argv, const char *log);

//  ---------------------------------------------------------------------
//  Send signal (and SIGCONT, so a stopped process gets it), wait up to
//  timeout_ms for the process to end, then SIGKILL it; reap it and return
//  its wait status. Fails the test if pid is not a child of ours.
int testkit_reap (pid_t pid, int signal, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
