/*  test_curve - CURVE security: key pairs, who gets in, what crosses the
    wire. An in-process broker with CURVE, zhive-worker processes with their
    own keys, clients with allowed, unknown and no keys, a reload of the
    allow directory, and a TCP relay that records every byte between the
    client (and the worker) and the broker, to show that no payload crosses
    in plaintext. Loopback and wildcard ports only; every wait is bounded;
    every process and thread is stopped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <zhive.h>
#include "zhive_curve.h"
#include "testkit_pool.h"
#include "testkit_relay.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_SECRET_PAYLOAD "ZHIVE-SECRET-PAYLOAD-1234"
#define S_REFUSED_MS     1500     //  How long a refused client waits for PONG
#define S_READY_MS       15000    //  Longest wait for a worker to join

//  Key files made once for every test, in a private directory:
//  broker, client, worker (allowed) and eve (not allowed)
static char s_dir [64];

static const char *
s_path (char *buffer, size_t size, const char *name)
{
    snprintf (buffer, size, "%s/%s", s_dir, name);
    return buffer;
}

#define PATH(name) s_path ((char [256]){ 0 }, 256, name)

static void
s_copy (const char *from, const char *to)
{
    FILE *in = fopen (from, "rb");
    FILE *out = fopen (to, "wb");
    assert_non_null (in);
    assert_non_null (out);
    char buffer [4096];
    size_t size;
    while ((size = fread (buffer, 1, sizeof buffer, in)) > 0)
        assert_int_equal (fwrite (buffer, 1, size, out), size);
    fclose (in);
    fclose (out);
}

static int
s_setup (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/zhive-test-curve-XXXXXX");
    if (!mkdtemp (s_dir))
        return -1;
    char error [512];
    const char *names [] = { "broker", "client", "worker", "eve" };
    for (size_t i = 0; i < 4; i++) {
        if (zhive_curve_keygen (PATH (names [i]), false, error, sizeof error)) {
            fprintf (stderr, "%s\n", error);
            return -1;
        }
    }
    if (mkdir (PATH ("allow"), 0700))
        return -1;
    s_copy (PATH ("client"), PATH ("allow/client"));
    s_copy (PATH ("worker"), PATH ("allow/worker"));
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    char command [128];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    return system (command) == 0 ? 0 : -1;
}

//  ---------------------------------------------------------------------
//  Brokers, workers, logs

//  A broker with CURVE (or plain, if curve is false) on 127.0.0.1
static zhive_broker_t *
s_broker_new (bool curve)
{
    testkit_pool_opts_t opts = { .curve_secret = curve ? PATH ("broker_secret") : NULL,
                                 .curve_allow = PATH ("allow") };
    return testkit_pool_broker_new (&opts);
}

//  A zhive-worker process (with CURVE if secret is not NULL); its output
//  goes to log
static pid_t
s_worker_start (const char *endpoint, const char *secret, const char *broker_key, const char *log)
{
    char program [512];
    const char *argv [] = { testkit_program ("zhive-worker", program, sizeof program),
                            "--connect",
                            endpoint,
                            "--load",
                            testkit_plugin (),
                            secret ? "--curve-secret" : NULL,
                            secret,
                            "--broker-key",
                            broker_key,
                            NULL };
    return testkit_spawn (argv, log);
}

//  What this process writes to stderr (the broker's log) goes to a file
//  until s_log_end, which returns it (caller frees)
typedef struct {
    int saved;          //  The real stderr
    char path [256];    //  The file
} s_log_t;

static void
s_log_begin (s_log_t *log, const char *name)
{
    fflush (stderr);
    s_path (log->path, sizeof log->path, name);
    int fd = open (log->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true (fd >= 0);
    log->saved = dup (2);
    dup2 (fd, 2);
    close (fd);
}

static char *
s_log_end (s_log_t *log)
{
    fflush (stderr);
    dup2 (log->saved, 2);
    close (log->saved);
    char *text = testkit_read_file (log->path);
    fprintf (stderr, "%s", text);    //  Still shown, for whoever reads the test's output
    return text;
}

static char *
s_public_key (const char *name)
{
    char key [ZHIVE_CURVE_KEY_SIZE], error [512];
    assert_int_equal (zhive_curve_load_public (PATH (name), key, error, sizeof error), 0);
    return strdup (key);
}

//  echo [S_SECRET_PAYLOAD]: must come back as it went
static void
s_assert_echo (zhive_client_t *client)
{
    zhive_pack_t *args = zhive_pack_new ();
    zhive_pack_array (args, 1);
    zhive_pack_str (args, S_SECRET_PAYLOAD);
    zhive_opts_t opts = { .timeout_ms = 10000 };
    zhive_result_t *result = zhive_client_apply (client, "echo", args, &opts);
    assert_non_null (result);
    if (!zhive_result_ok (result))
        fail_msg ("echo failed: %s: %s", zhive_result_error_type (result),
                  zhive_result_error_message (result));
    const char *text;
    size_t size;
    assert_int_equal (
        zhive_value_str (zhive_value_at (zhive_result_value (result), 0), &text, &size), 0);
    assert_int_equal (size, strlen (S_SECRET_PAYLOAD));
    assert_memory_equal (text, S_SECRET_PAYLOAD, size);
    zhive_result_destroy (&result);
    zhive_pack_destroy (&args);
}

static size_t
s_status_workers (zhive_client_t *client)
{
    zhive_result_t *status = zhive_client_status (client, 5000);
    assert_non_null (status);
    assert_true (zhive_result_ok (status));
    size_t count = zhive_value_len (zhive_value_get (zhive_result_value (status), "workers"));
    zhive_result_destroy (&status);
    return count;
}

//  ---------------------------------------------------------------------
//  A key pair written by keygen reads back; the errors say what is wrong

static void
test_keygen_round_trip (void **state)
{
    (void) state;
    char error [512], key [ZHIVE_CURVE_KEY_SIZE];
    const char *name = PATH ("round");
    assert_int_equal (zhive_curve_keygen (name, false, error, sizeof error), 0);
    struct stat status;
    assert_int_equal (stat (PATH ("round_secret"), &status), 0);
    assert_int_equal (status.st_mode & 0777, 0600);
    zcert_t *cert = zhive_curve_load_secret (PATH ("round_secret"), error, sizeof error);
    assert_non_null (cert);
    assert_int_equal (zhive_curve_load_public (name, key, error, sizeof error), 0);
    assert_string_equal (key, zcert_public_txt (cert));
    //  The secret file holds the public key too
    assert_int_equal (zhive_curve_load_public (PATH ("round_secret"), key, error, sizeof error), 0);
    assert_string_equal (key, zcert_public_txt (cert));

    //  No overwriting without force; with it, a new pair
    errno = 0;
    assert_int_equal (zhive_curve_keygen (name, false, error, sizeof error), -1);
    assert_int_equal (errno, EEXIST);
    assert_non_null (strstr (error, "--force"));
    assert_int_equal (zhive_curve_keygen (name, true, error, sizeof error), 0);
    assert_int_equal (zhive_curve_load_public (name, key, error, sizeof error), 0);
    assert_string_not_equal (key, zcert_public_txt (cert));
    assert_int_equal (stat (PATH ("round_secret"), &status), 0);
    assert_int_equal (status.st_mode & 0777, 0600);
    zcert_destroy (&cert);

    //  Clear errors
    assert_null (zhive_curve_load_secret (name, error, sizeof error));
    assert_non_null (strstr (error, "has no secret key (give the _secret file)"));
    assert_null (zhive_curve_load_secret (PATH ("missing"), error, sizeof error));
    assert_int_equal (errno, ENOENT);
    assert_non_null (strstr (error, "cannot read certificate"));
    FILE *junk = fopen (PATH ("junk"), "w");
    fprintf (junk, "not a certificate\n");
    fclose (junk);
    assert_int_equal (zhive_curve_load_public (PATH ("junk"), key, error, sizeof error), -1);
    assert_int_equal (errno, EPROTO);
    assert_non_null (strstr (error, "cannot read certificate"));

    //  The APIs refuse bad certificates with a message
    zhive_broker_t *broker = zhive_broker_new ();
    assert_int_equal (zhive_broker_set_curve (broker, name, PATH ("allow")), -1);
    assert_int_equal (zhive_broker_set_curve (broker, PATH ("broker_secret"), PATH ("nowhere")),
                      -1);
    assert_int_equal (zhive_broker_reload_curve (broker), -1);    //  CURVE is off
    zhive_broker_destroy (&broker);
    assert_null (zhive_client_new_curve ("tcp://127.0.0.1:1", 100, name, PATH ("broker")));
    assert_null (zhive_worker_new_curve ("tcp://127.0.0.1:1", PATH ("missing"), PATH ("broker")));
    assert_int_equal (errno, ENOENT);
    zhive_worker_t *worker = zhive_worker_new ("tcp://127.0.0.1:1");
    assert_int_equal (zhive_worker_set_curve (worker, name, PATH ("broker")), -1);
    assert_int_equal (zhive_worker_set_curve (worker, PATH ("worker_secret"), PATH ("broker")), 0);
    zhive_worker_destroy (&worker);
}

//  ---------------------------------------------------------------------
//  Allowed workers and clients work; the broker's key serves its local
//  workers; CURVE is set before binding, by one broker per process

static void
test_allowed_worker_and_client (void **state)
{
    (void) state;
    zhive_broker_t *broker = s_broker_new (true);
    pid_t worker = s_worker_start (zhive_broker_workers_endpoint (broker), PATH ("worker_secret"),
                                   PATH ("broker"), PATH ("worker.log"));
    testkit_pool_wait_ready (broker, 1, S_READY_MS);
    zhive_client_t *client = zhive_client_new_curve (zhive_broker_clients_endpoint (broker), 5000,
                                                     PATH ("client_secret"), PATH ("broker"));
    assert_non_null (client);
    s_assert_echo (client);
    assert_int_equal (s_status_workers (client), 1);

    //  Local workers run with the broker's own certificate
    const char *loads [] = { getenv ("ZHIVE_PLUGIN"), NULL };
    assert_int_equal (zhive_broker_start_workers (broker, 1, loads, 0), 0);
    testkit_pool_wait_ready (broker, 2, S_READY_MS);

    //  Too late to set CURVE; a second CURVE broker cannot have the ZAP handler
    assert_int_equal (zhive_broker_set_curve (broker, PATH ("broker_secret"), NULL), -1);
    zhive_broker_t *second = zhive_broker_new ();
    assert_int_equal (zhive_broker_set_curve (second, PATH ("broker_secret"), NULL), -1);
    zhive_broker_destroy (&second);

    zhive_client_destroy (&client);
    testkit_reap (worker, SIGTERM, 5000);
    zhive_broker_destroy (&broker);
    //  Once the first broker is gone, a new one takes the ZAP handler
    second = zhive_broker_new ();
    assert_int_equal (zhive_broker_set_curve (second, PATH ("broker_secret"), NULL), 0);
    zhive_broker_destroy (&second);
}

//  ---------------------------------------------------------------------
//  A client with an unknown key, or without CURVE, is refused and logged

static void
test_unknown_and_plain_clients_refused (void **state)
{
    (void) state;
    zhive_broker_t *broker = s_broker_new (true);
    const char *endpoint = zhive_broker_clients_endpoint (broker);
    s_log_t log;
    s_log_begin (&log, "refused.log");
    errno = 0;
    zhive_client_t *client =
        zhive_client_new_curve (endpoint, S_REFUSED_MS, PATH ("eve_secret"), PATH ("broker"));
    int unknown_errno = errno;
    zhive_client_t *plain = zhive_client_new (endpoint, S_REFUSED_MS);
    int plain_errno = errno;
    //  A wrong broker key: the handshake fails
    zhive_client_t *wrong =
        zhive_client_new_curve (endpoint, S_REFUSED_MS, PATH ("client_secret"), PATH ("eve"));
    int wrong_errno = errno;
    char *text = s_log_end (&log);
    assert_null (client);
    assert_int_equal (unknown_errno, ETIMEDOUT);
    assert_null (plain);
    assert_int_equal (plain_errno, ETIMEDOUT);
    assert_null (wrong);
    assert_int_equal (wrong_errno, ETIMEDOUT);
    char *eve = s_public_key ("eve");
    char expected [256];
    snprintf (expected, sizeof expected, "refused a connection from 127.0.0.1: key %s", eve);
    assert_non_null (strstr (text, expected));
    //  The plain and the wrong-key client: whichever side saw the mismatch
    //  first ended the handshake, so the reason varies
    const char *refused = "refused a peer on the clients endpoint";
    const char *first = strstr (text, refused);
    assert_non_null (first);
    assert_non_null (strstr (first + 1, refused));
    free (eve);
    free (text);
    zhive_broker_destroy (&broker);
}

//  ---------------------------------------------------------------------
//  A worker with an unknown key gets no task: it is refused and stops

static void
test_unknown_worker_gets_no_tasks (void **state)
{
    (void) state;
    zhive_broker_t *broker = s_broker_new (true);
    pid_t worker = s_worker_start (zhive_broker_workers_endpoint (broker), PATH ("eve_secret"),
                                   PATH ("broker"), PATH ("eve-worker.log"));
    //  It is told no, says so and exits 1
    int status = -1;
    bool exited = false;
    for (int i = 0; i < 200 && !exited; i++) {
        exited = waitpid (worker, &status, WNOHANG) == worker;
        if (!exited)
            zclock_sleep (50);
    }
    if (!exited)
        testkit_reap (worker, SIGKILL, 5000);
    assert_true (exited);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 1);
    char *text = testkit_read_file (PATH ("eve-worker.log"));
    assert_non_null (strstr (text, "the broker refused this worker's CURVE key"));
    free (text);

    zhive_client_t *client = zhive_client_new_curve (zhive_broker_clients_endpoint (broker), 5000,
                                                     PATH ("client_secret"), PATH ("broker"));
    assert_non_null (client);
    assert_int_equal (s_status_workers (client), 0);
    zhive_pack_t *args = zhive_pack_new ();
    zhive_pack_array (args, 1);
    zhive_pack_str (args, "x");
    zhive_opts_t opts = { .timeout_ms = 1000 };
    zhive_result_t *result = zhive_client_apply (client, "echo", args, &opts);
    assert_non_null (result);
    assert_false (zhive_result_ok (result));
    assert_string_equal (zhive_result_error_type (result), "Timeout");
    zhive_result_destroy (&result);
    zhive_pack_destroy (&args);
    zhive_client_destroy (&client);
    zhive_broker_destroy (&broker);
}

//  ---------------------------------------------------------------------
//  The refusal can come before zhive_worker_run starts (a slow plugin load):
//  run still says why, not that READY could not be sent

static int
s_echo (zhive_job_t *job, void *state)
{
    (void) state;
    return zhive_pack_object (zhive_job_reply (job), zhive_job_args (job));
}

static void
test_worker_refused_before_run (void **state)
{
    (void) state;
    //  The broker logs the refusal once it is done
    s_log_t log;
    s_log_begin (&log, "refused-early.log");
    zhive_broker_t *broker = s_broker_new (true);
    zhive_worker_t *worker = zhive_worker_new_curve (zhive_broker_workers_endpoint (broker),
                                                     PATH ("eve_secret"), PATH ("broker"));
    assert_non_null (worker);
    assert_int_equal (zhive_worker_register (worker, "echo", s_echo, NULL, ZHIVE_SYNC), 0);
    char *eve = s_public_key ("eve");
    char expected [256];
    snprintf (expected, sizeof expected, "refused a connection from 127.0.0.1: key %s", eve);
    for (int i = 0; i < 200; i++) {
        zclock_sleep (50);
        char *text = testkit_read_file (log.path);
        bool seen = strstr (text, expected) != NULL;
        free (text);
        if (seen)
            break;
    }
    zclock_sleep (200);    //  And libzmq has dropped the pipe
    assert_int_equal (zhive_worker_run (worker), -1);
    char *text = s_log_end (&log);
    assert_non_null (strstr (text, expected));
    assert_non_null (strstr (text, "the broker refused this worker's CURVE key"));
    assert_null (strstr (text, "cannot send READY"));
    free (text);
    free (eve);
    zhive_worker_destroy (&worker);
    zhive_broker_destroy (&broker);
}

//  ---------------------------------------------------------------------
//  After its key is added to the allow directory and the broker reloads,
//  a refused client is let in

static void
test_reload_lets_a_new_key_in (void **state)
{
    (void) state;
    zhive_broker_t *broker = s_broker_new (true);
    const char *endpoint = zhive_broker_clients_endpoint (broker);
    pid_t worker = s_worker_start (zhive_broker_workers_endpoint (broker), PATH ("worker_secret"),
                                   PATH ("broker"), PATH ("worker.log"));
    testkit_pool_wait_ready (broker, 1, S_READY_MS);
    assert_null (
        zhive_client_new_curve (endpoint, S_REFUSED_MS, PATH ("eve_secret"), PATH ("broker")));
    s_copy (PATH ("eve"), PATH ("allow/eve"));
    assert_int_equal (zhive_broker_reload_curve (broker), 3);
    zhive_client_t *client =
        zhive_client_new_curve (endpoint, 5000, PATH ("eve_secret"), PATH ("broker"));
    assert_non_null (client);
    s_assert_echo (client);
    zhive_client_destroy (&client);

    //  And out again: new connections with that key are refused
    assert_int_equal (unlink (PATH ("allow/eve")), 0);
    assert_int_equal (zhive_broker_reload_curve (broker), 2);
    assert_null (
        zhive_client_new_curve (endpoint, S_REFUSED_MS, PATH ("eve_secret"), PATH ("broker")));
    testkit_reap (worker, SIGTERM, 5000);
    zhive_broker_destroy (&broker);
}

//  ---------------------------------------------------------------------
//  What crosses the wire: a relay records every byte between the client
//  (and the worker) and the broker. With CURVE the payload is not in it;
//  without, it is (which shows the capture works).

//  One echo through relays; sets whether each relay saw the payload
static void
s_capture (bool curve, bool *client_saw, bool *worker_saw)
{
    zhive_broker_t *broker = s_broker_new (curve);
    testkit_relay_t *client_relay = testkit_relay_new (zhive_broker_clients_endpoint (broker));
    testkit_relay_t *worker_relay = testkit_relay_new (zhive_broker_workers_endpoint (broker));
    const char *clients = testkit_relay_endpoint (client_relay);
    const char *workers = testkit_relay_endpoint (worker_relay);
    pid_t worker = s_worker_start (workers, curve ? PATH ("worker_secret") : NULL, PATH ("broker"),
                                   PATH ("capture-worker.log"));
    testkit_pool_wait_ready (broker, 1, S_READY_MS);
    zhive_client_t *client =
        curve ? zhive_client_new_curve (clients, 5000, PATH ("client_secret"), PATH ("broker"))
              : zhive_client_new (clients, 5000);
    assert_non_null (client);
    s_assert_echo (client);
    zhive_client_destroy (&client);
    testkit_reap (worker, SIGTERM, 5000);
    zhive_broker_destroy (&broker);
    //  Everything was said; what the relays carried is complete
    *client_saw = testkit_relay_saw (client_relay, S_SECRET_PAYLOAD);
    *worker_saw = testkit_relay_saw (worker_relay, S_SECRET_PAYLOAD);
    assert_true (testkit_relay_size (client_relay) > 0);
    assert_true (testkit_relay_size (worker_relay) > 0);
    testkit_relay_destroy (&client_relay);
    testkit_relay_destroy (&worker_relay);
}

static void
test_no_plaintext_on_the_wire (void **state)
{
    (void) state;
    bool client_saw, worker_saw;
    s_capture (false, &client_saw, &worker_saw);
    assert_true (client_saw);    //  Plain: the capture sees the payload
    assert_true (worker_saw);
    s_capture (true, &client_saw, &worker_saw);
    assert_false (client_saw);    //  CURVE: it does not
    assert_false (worker_saw);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_keygen_round_trip),
        cmocka_unit_test (test_allowed_worker_and_client),
        cmocka_unit_test (test_unknown_and_plain_clients_refused),
        cmocka_unit_test (test_unknown_worker_gets_no_tasks),
        cmocka_unit_test (test_worker_refused_before_run),
        cmocka_unit_test (test_reload_lets_a_new_key_in),
        cmocka_unit_test (test_no_plaintext_on_the_wire),
    };
    if (!getenv ("ZHIVE_PLUGIN") || !getenv ("ZHIVE_BIN")) {
        fprintf (stderr, "test_curve: run through ctest (needs ZHIVE_PLUGIN, ZHIVE_BIN)\n");
        return 1;
    }
    if (!zmq_has ("curve")) {
        fprintf (stderr, "test_curve: SKIP: libzmq has no CURVE\n");
        return 0;
    }
    //  ZHIVE_TEST=name runs one test alone
    if (getenv ("ZHIVE_TEST"))
        cmocka_set_test_filter (getenv ("ZHIVE_TEST"));
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
