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
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
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

static char *
s_read_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return strdup ("");
    char *text = (char *) calloc (1, 1 << 20);
    size_t size = fread (text, 1, (1 << 20) - 1, file);
    text [size] = 0;
    fclose (file);
    return text;
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
    zhive_broker_t *broker = zhive_broker_new ();
    assert_non_null (broker);
    if (curve)
        assert_int_equal (zhive_broker_set_curve (broker, PATH ("broker_secret"), PATH ("allow")),
                          0);
    assert_int_equal (zhive_broker_bind_clients (broker, "tcp://127.0.0.1:*"), 0);
    assert_int_equal (zhive_broker_bind_workers (broker, "tcp://127.0.0.1:*"), 0);
    return broker;
}

static int
s_port (const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    return colon ? atoi (colon + 1) : 0;
}

//  A zhive-worker process (with CURVE if secret is not NULL); its output
//  goes to log
static pid_t
s_worker_start (const char *endpoint, const char *secret, const char *broker_key, const char *log)
{
    char program [512];
    snprintf (program, sizeof program, "%s/zhive-worker", getenv ("ZHIVE_BIN"));
    pid_t pid = fork ();
    if (pid == 0) {
        int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
        }
        if (secret)
            execl (program, program, "--connect", endpoint, "--load", getenv ("ZHIVE_PLUGIN"),
                   "--curve-secret", secret, "--broker-key", broker_key, (char *) NULL);
        else
            execl (program, program, "--connect", endpoint, "--load", getenv ("ZHIVE_PLUGIN"),
                   (char *) NULL);
        _exit (127);
    }
    assert_true (pid > 0);
    return pid;
}

//  Stop a process; returns its wait status
static int
s_stop (pid_t pid, int signal)
{
    int status = 0;
    kill (pid, signal);
    for (int i = 0; i < 100; i++) {
        if (waitpid (pid, &status, WNOHANG) == pid)
            return status;
        zclock_sleep (50);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    return status;
}

static void
s_wait_workers (zhive_broker_t *broker, int count)
{
    int64_t until = zclock_mono () + S_READY_MS;
    while (zhive_broker_workers_ready (broker) < count && zclock_mono () < until)
        zclock_sleep (50);
    assert_int_equal (zhive_broker_workers_ready (broker), count);
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
    char *text = s_read_file (log->path);
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
    s_wait_workers (broker, 1);
    zhive_client_t *client = zhive_client_new_curve (zhive_broker_clients_endpoint (broker), 5000,
                                                     PATH ("client_secret"), PATH ("broker"));
    assert_non_null (client);
    s_assert_echo (client);
    assert_int_equal (s_status_workers (client), 1);

    //  Local workers run with the broker's own certificate
    const char *loads [] = { getenv ("ZHIVE_PLUGIN"), NULL };
    assert_int_equal (zhive_broker_start_workers (broker, 1, loads, 0), 0);
    s_wait_workers (broker, 2);

    //  Too late to set CURVE; a second CURVE broker cannot have the ZAP handler
    assert_int_equal (zhive_broker_set_curve (broker, PATH ("broker_secret"), NULL), -1);
    zhive_broker_t *second = zhive_broker_new ();
    assert_int_equal (zhive_broker_set_curve (second, PATH ("broker_secret"), NULL), -1);
    zhive_broker_destroy (&second);

    zhive_client_destroy (&client);
    s_stop (worker, SIGTERM);
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
        s_stop (worker, SIGKILL);
    assert_true (exited);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 1);
    char *text = s_read_file (PATH ("eve-worker.log"));
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
        char *text = s_read_file (log.path);
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
    s_wait_workers (broker, 1);
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
    s_stop (worker, SIGTERM);
    zhive_broker_destroy (&broker);
}

//  ---------------------------------------------------------------------
//  What crosses the wire: a relay records every byte between the client
//  (and the worker) and the broker. With CURVE the payload is not in it;
//  without, it is (which shows the capture works).

#define S_RELAY_PAIRS 8

typedef struct {
    int listener;                  //  Where peers connect
    int port;                      //  Its port
    int target;                    //  The broker's port
    int stop [2];                  //  Pipe: a byte stops the relay
    int fds [S_RELAY_PAIRS][2];    //  Connected pairs: peer, broker (-1 if free)
    char *captured;                //  Every byte relayed, both ways
    size_t size;                   //  Bytes captured
    size_t max;                    //  Bytes allocated
    pthread_t thread;              //  The relay
} s_relay_t;

static int
s_tcp_listen (int *port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = 0 };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || bind (fd, (struct sockaddr *) &address, sizeof address) || listen (fd, 8) ||
        getsockname (fd, (struct sockaddr *) &address, &length))
        return -1;
    *port = ntohs (address.sin_port);
    return fd;
}

static int
s_tcp_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (fd >= 0 && connect (fd, (struct sockaddr *) &address, sizeof address)) {
        close (fd);
        return -1;
    }
    return fd;
}

static void
s_relay_record (s_relay_t *self, const char *data, size_t size)
{
    if (self->size + size > self->max) {
        size_t max = (self->size + size) * 2;
        char *captured = (char *) realloc (self->captured, max);
        if (!captured)
            return;
        self->captured = captured;
        self->max = max;
    }
    memcpy (self->captured + self->size, data, size);
    self->size += size;
}

//  Copy what is readable on from to to; false when the pair is done
static bool
s_relay_pass (s_relay_t *self, int from, int to)
{
    char buffer [65536];
    ssize_t size = read (from, buffer, sizeof buffer);
    if (size <= 0)
        return false;
    s_relay_record (self, buffer, (size_t) size);
    for (ssize_t sent = 0; sent < size;) {
        ssize_t rc = write (to, buffer + sent, (size_t) (size - sent));
        if (rc <= 0)
            return false;
        sent += rc;
    }
    return true;
}

static void *
s_relay_run (void *arg)
{
    s_relay_t *self = (s_relay_t *) arg;
    while (true) {
        struct pollfd items [2 + 2 * S_RELAY_PAIRS];
        items [0] = (struct pollfd){ .fd = self->stop [0], .events = POLLIN };
        items [1] = (struct pollfd){ .fd = self->listener, .events = POLLIN };
        for (int i = 0; i < S_RELAY_PAIRS; i++) {
            for (int side = 0; side < 2; side++)
                items [2 + 2 * i + side] =
                    (struct pollfd){ .fd = self->fds [i][side], .events = POLLIN };
        }
        if (poll (items, 2 + 2 * S_RELAY_PAIRS, 1000) < 0 && errno != EINTR)
            break;
        if (items [0].revents)
            break;
        if (items [1].revents & POLLIN) {
            int peer = accept (self->listener, NULL, NULL);
            int broker = peer >= 0 ? s_tcp_connect (self->target) : -1;
            int slot = 0;
            while (slot < S_RELAY_PAIRS && self->fds [slot][0] >= 0)
                slot++;
            if (peer >= 0 && broker >= 0 && slot < S_RELAY_PAIRS) {
                self->fds [slot][0] = peer;
                self->fds [slot][1] = broker;
            }
            else {
                if (peer >= 0)
                    close (peer);
                if (broker >= 0)
                    close (broker);
            }
        }
        for (int i = 0; i < S_RELAY_PAIRS; i++) {
            for (int side = 0; side < 2; side++) {
                if (self->fds [i][0] < 0 || !items [2 + 2 * i + side].revents)
                    continue;
                if (!s_relay_pass (self, self->fds [i][side], self->fds [i][1 - side])) {
                    close (self->fds [i][0]);
                    close (self->fds [i][1]);
                    self->fds [i][0] = self->fds [i][1] = -1;
                }
            }
        }
    }
    for (int i = 0; i < S_RELAY_PAIRS; i++) {
        if (self->fds [i][0] >= 0) {
            close (self->fds [i][0]);
            close (self->fds [i][1]);
        }
    }
    return NULL;
}

//  A relay to the broker's endpoint; peers connect to relay_endpoint
static s_relay_t *
s_relay_new (const char *target, char *relay_endpoint, size_t size)
{
    s_relay_t *self = (s_relay_t *) calloc (1, sizeof (s_relay_t));
    assert_non_null (self);
    memset (self->fds, -1, sizeof self->fds);
    self->target = s_port (target);
    self->listener = s_tcp_listen (&self->port);
    assert_true (self->listener >= 0);
    assert_int_equal (pipe (self->stop), 0);
    assert_int_equal (pthread_create (&self->thread, NULL, s_relay_run, self), 0);
    snprintf (relay_endpoint, size, "tcp://127.0.0.1:%d", self->port);
    return self;
}

static void
s_relay_destroy (s_relay_t **self_p)
{
    s_relay_t *self = *self_p;
    assert_int_equal (write (self->stop [1], "x", 1), 1);
    pthread_join (self->thread, NULL);
    close (self->stop [0]);
    close (self->stop [1]);
    close (self->listener);
    free (self->captured);
    free (self);
    *self_p = NULL;
}

static bool
s_relay_saw (s_relay_t *self, const char *text)
{
    size_t length = strlen (text);
    for (size_t at = 0; at + length <= self->size; at++) {
        if (memcmp (self->captured + at, text, length) == 0)
            return true;
    }
    return false;
}

//  One echo through relays; sets whether each relay saw the payload
static void
s_capture (bool curve, bool *client_saw, bool *worker_saw)
{
    zhive_broker_t *broker = s_broker_new (curve);
    char clients [64], workers [64];
    s_relay_t *client_relay =
        s_relay_new (zhive_broker_clients_endpoint (broker), clients, sizeof clients);
    s_relay_t *worker_relay =
        s_relay_new (zhive_broker_workers_endpoint (broker), workers, sizeof workers);
    pid_t worker = s_worker_start (workers, curve ? PATH ("worker_secret") : NULL, PATH ("broker"),
                                   PATH ("capture-worker.log"));
    s_wait_workers (broker, 1);
    zhive_client_t *client =
        curve ? zhive_client_new_curve (clients, 5000, PATH ("client_secret"), PATH ("broker"))
              : zhive_client_new (clients, 5000);
    assert_non_null (client);
    s_assert_echo (client);
    zhive_client_destroy (&client);
    s_stop (worker, SIGTERM);
    zhive_broker_destroy (&broker);
    //  Everything was said; what the relays carried is complete
    *client_saw = s_relay_saw (client_relay, S_SECRET_PAYLOAD);
    *worker_saw = s_relay_saw (worker_relay, S_SECRET_PAYLOAD);
    assert_true (client_relay->size > 0);
    assert_true (worker_relay->size > 0);
    s_relay_destroy (&client_relay);
    s_relay_destroy (&worker_relay);
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
