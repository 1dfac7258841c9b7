/*  =========================================================================
    test_signals - libzhive leaves the host program's signal handling alone

    A C service that makes a zhive object (a client, an embedded broker, an
    embedded worker) and sleeps must still die of SIGTERM and of Ctrl-C
    (SIGINT), as any C program does: czmq must not have put its own handler
    in (it only sets zsys_interrupted, so the service would go on). And a
    program that set a handler itself, with sigaction or through czmq
    (zsys_catch_interrupts) before its first zhive object, keeps it.

    The services are this program, run again as `test_signals --service
    KIND HANDLER`: it makes the object, prints "ready" and sleeps.
    =========================================================================
*/
#include "testkit_process.h"
#include "zhive.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_DEATH_MS   5000     //  A signal must end the service within this
#define S_SERVICE_MS 60000    //  A service that survives sleeps no longer than this

//  ---------------------------------------------------------------------
//  The service: this program run as `--service KIND HANDLER`

static volatile sig_atomic_t s_signalled = 0;    //  The service's own handler ran

static void
s_on_signal (int sig)
{
    s_signalled = sig;
}

static int
s_service (const char *kind, const char *handler)
{
    if (streq (handler, "own")) {
        struct sigaction action;
        memset (&action, 0, sizeof action);
        action.sa_handler = s_on_signal;
        sigemptyset (&action.sa_mask);
        sigaction (SIGTERM, &action, NULL);
        sigaction (SIGINT, &action, NULL);
    }
    else if (streq (handler, "czmq"))
        zsys_catch_interrupts ();    //  The program asks for czmq's handler itself
    zhive_client_t *client = NULL;
    zhive_broker_t *broker = NULL;
    zhive_worker_t *worker = NULL;
    if (streq (kind, "client"))
        client =
            zhive_client_new ("tcp://127.0.0.1:1", 0);    //  No broker: connects in the background
    else if (streq (kind, "broker")) {
        broker = zhive_broker_new ();
        if (broker && zhive_broker_bind_clients (broker, "tcp://127.0.0.1:*"))
            zhive_broker_destroy (&broker);
    }
    else if (streq (kind, "worker"))
        worker = zhive_worker_new ("inproc://test-signals-nobody");
    if (!client && !broker && !worker)
        return 2;
    printf ("ready\n");
    fflush (stdout);
    int64_t until = zclock_mono () + S_SERVICE_MS;
    while (zclock_mono () < until && !s_signalled && !zsys_interrupted)
        usleep (10000);
    zhive_client_destroy (&client);
    zhive_broker_destroy (&broker);
    zhive_worker_destroy (&worker);
    //  3: our own handler ran; 4: czmq's; 1: nothing came
    return s_signalled ? 3 : zsys_interrupted ? 4 : 1;
}

//  ---------------------------------------------------------------------
//  The tests

static const char *
s_self_path (void)
{
    static char path [4096];
    ssize_t size = readlink ("/proc/self/exe", path, sizeof path - 1);
    assert_true (size > 0);
    path [size] = 0;
    return path;
}

//  Start the service, wait for its "ready", send it sig; its wait status
static int
s_signal_service (testkit_process_t *process, const char *kind, const char *handler, int sig)
{
    const char *argv [] = { s_self_path (), "--service", kind, handler, NULL };
    testkit_process_start_piped (process, argv);
    char line [64];
    if (testkit_process_line (process, line, sizeof line, TESTKIT_TIMEOUT) ||
        !streq (line, "ready"))
        fail_msg ("the %s service did not start", kind);
    int status = testkit_reap (process->pid, sig, S_DEATH_MS);
    process->pid = 0;
    return status;
}

static void
s_expect_death (void **state, const char *kind, int sig)
{
    testkit_process_t *process = (testkit_process_t *) *state;
    int status = s_signal_service (process, kind, "none", sig);
    if (!WIFSIGNALED (status) || WTERMSIG (status) != sig)
        fail_msg ("a service with a %s survived %s (status %#x: %s)", kind, strsignal (sig), status,
                  WIFSIGNALED (status) ? strsignal (WTERMSIG (status)) : "exited");
}

static void
test_client_sigterm (void **state)
{
    s_expect_death (state, "client", SIGTERM);
}

static void
test_client_sigint (void **state)
{
    s_expect_death (state, "client", SIGINT);
}

static void
test_broker_sigterm (void **state)
{
    s_expect_death (state, "broker", SIGTERM);
}

static void
test_broker_sigint (void **state)
{
    s_expect_death (state, "broker", SIGINT);
}

static void
test_worker_sigterm (void **state)
{
    s_expect_death (state, "worker", SIGTERM);
}

//  Start the service with its handler, send it sig: it must exit with code
static void
s_expect_exit (void **state, const char *kind, const char *handler, int sig, int code)
{
    testkit_process_t *process = (testkit_process_t *) *state;
    int status = s_signal_service (process, kind, handler, sig);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != code)
        fail_msg ("a service with a %s and %s handler, sent %s: status %#x, expected exit %d", kind,
                  handler, strsignal (sig), status, code);
}

//  The program's own sigaction handler stays in place
static void
test_own_handler_client (void **state)
{
    s_expect_exit (state, "client", "own", SIGTERM, 3);
}

static void
test_own_handler_broker (void **state)
{
    s_expect_exit (state, "broker", "own", SIGINT, 3);
}

//  czmq's handler, asked for by the program before its first zhive
//  object, stays in place
static void
test_czmq_handler_client (void **state)
{
    s_expect_exit (state, "client", "czmq", SIGTERM, 4);
}

static void
test_czmq_handler_broker (void **state)
{
    s_expect_exit (state, "broker", "czmq", SIGINT, 4);
}

int
main (int argc, char *argv [])
{
    if (argc == 4 && streq (argv [1], "--service"))
        return s_service (argv [2], argv [3]);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_client_sigterm, testkit_process_setup,
                                         testkit_process_teardown),
        cmocka_unit_test_setup_teardown (test_client_sigint, testkit_process_setup,
                                         testkit_process_teardown),
        cmocka_unit_test_setup_teardown (test_broker_sigterm, testkit_process_setup,
                                         testkit_process_teardown),
        cmocka_unit_test_setup_teardown (test_broker_sigint, testkit_process_setup,
                                         testkit_process_teardown),
        cmocka_unit_test_setup_teardown (test_worker_sigterm, testkit_process_setup,
                                         testkit_process_teardown),
        cmocka_unit_test_setup_teardown (test_own_handler_client, testkit_process_setup,
                                         testkit_process_teardown),
        cmocka_unit_test_setup_teardown (test_own_handler_broker, testkit_process_setup,
                                         testkit_process_teardown),
        cmocka_unit_test_setup_teardown (test_czmq_handler_client, testkit_process_setup,
                                         testkit_process_teardown),
        cmocka_unit_test_setup_teardown (test_czmq_handler_broker, testkit_process_setup,
                                         testkit_process_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
