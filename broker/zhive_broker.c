/*  =========================================================================
    zhive_broker - the pool manager, embeddable in any C program

    The API: each call is a command over the pipe of the broker's actor
    (zhive_broker_actor.c), sent with czmq pictures as its one command
    table there says; calls that need an answer carry a serial and wait
    for [serial, status, value].
    =========================================================================
*/
#include "zhive_broker.h"
#include "zhive_broker_actor.h"
#include "zhive_clock.h"
#include "zhive_log.h"
#include "zhive_procs.h"
#include "zhive_signals.h"
#include <errno.h>
#include <stdarg.h>

#define S_REPLY_MS 5000    //  How long an API call waits for the actor

//  ---------------------------------------------------------------------
//  The API: commands over the actor pipe

struct _zhive_broker_t {
    zactor_t *actor;           //  The broker thread
    char *clients_endpoint;    //  Resolved client endpoint; NULL before binding
    char *workers_endpoint;    //  Resolved worker endpoint; NULL before binding
    char *http_endpoint;       //  Metrics server's URL; NULL before zhive_broker_set_http
    char *http_token;          //  Bearer token the metrics server will ask for, or NULL
    uint32_t serial;           //  Numbers requests so a late reply is not mistaken
};

zhive_broker_t *
zhive_broker_new (void)
{
    zhive_signals_init ();    //  Before czmq's first socket: SIGINT and SIGTERM stay the host's
    zhive_broker_t *self = (zhive_broker_t *) calloc (1, sizeof (zhive_broker_t));
    if (!self)
        return NULL;
    self->actor = zactor_new (zhive_broker_actor_run, NULL);
    if (!self->actor) {
        free (self);
        return NULL;
    }
    return self;
}

//  Wait until the pipe is readable; a signal does not cut the wait short.
//  Returns 0, or -1 after timeout_ms.
static int
s_wait_readable (zsock_t *pipe, int64_t timeout_ms)
{
    int64_t until = zhive_clock_ms () + timeout_ms;
    while (true) {
        int64_t left = until - zhive_clock_ms ();
        if (left < 0)
            return -1;
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, (long) left);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

//  Send an answered command with zsock_send's picture and arguments (the
//  name, then the serial, then its own: "s4..."), and return the reply's
//  status (0 OK, -1 ERROR or no answer) and value (caller frees)
static int
s_call (zhive_broker_t *self, uint32_t serial, char **value_p, const char *picture, ...)
{
    *value_p = NULL;
    zsock_t *pipe = zactor_sock (self->actor);
    va_list args;
    va_start (args, picture);
    int sent = zsock_vsend (pipe, picture, args);
    va_end (args);
    if (sent)
        return -1;
    int64_t until = zhive_clock_ms () + S_REPLY_MS;
    while (s_wait_readable (pipe, until - zhive_clock_ms ()) == 0) {
        zmsg_t *reply = zmsg_recv (pipe);
        if (!reply)
            break;
        if (zmsg_signal (reply) >= 0) {
            zmsg_destroy (&reply);    //  It stopped after a drain: no answer will come
            return -1;
        }
        uint32_t reply_serial;
        int status;
        char *value;
        int rc = zhive_broker_actor_reply (reply, &reply_serial, &status, &value);
        zmsg_destroy (&reply);
        if (rc == 0 && reply_serial == serial) {
            *value_p = value;
            return status;
        }
        if (rc == 0)
            free (value);
    }
    return -1;
}

void
zhive_broker_destroy (zhive_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_broker_t *self = *self_p;
    //  Wait for the actor ourselves: zactor_destroy gives up on a signal,
    //  and the actor may take a while to stop local workers. A signal with
    //  ZHIVE_BROKER_STOPPED_SIGNAL (a drain ended) is not the actor's end.
    zsock_t *pipe = zactor_sock (self->actor);
    if (zstr_send (pipe, "$TERM") == 0) {
        int64_t until = zhive_clock_ms () + 2 * ZHIVE_PROCS_STOP_MS + S_REPLY_MS;
        while (s_wait_readable (pipe, until - zhive_clock_ms ()) == 0) {
            zmsg_t *msg = zmsg_recv (pipe);
            int signal = msg ? zmsg_signal (msg) : 0;
            zmsg_destroy (&msg);
            if (signal == 0)
                break;
        }
    }
    zsock_set_rcvtimeo (pipe, 100);    //  Its own $TERM finds nobody; do not hang on it
    zactor_destroy (&self->actor);
    free (self->clients_endpoint);
    free (self->workers_endpoint);
    free (self->http_endpoint);
    free (self->http_token);
    free (self);
    *self_p = NULL;
}

void
zhive_broker_set_verbose (zhive_broker_t *self, bool verbose)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_VERBOSE, (uint32_t) verbose);
}

static int
s_bind_call (zhive_broker_t *self, const char *which, const char *endpoint, char **resolved_p)
{
    char *value;
    uint32_t serial = ++self->serial;
    if (s_call (self, serial, &value, ZHIVE_BROKER_PICTURE (ZHIVE_BROKER_BIND),
                ZHIVE_BROKER_NAME (ZHIVE_BROKER_BIND), serial, which, endpoint ? endpoint : "")) {
        zhive_log_error ("zhive-broker: %s", value ? value : "the broker does not answer");
        free (value);
        return -1;
    }
    free (*resolved_p);
    *resolved_p = value;
    return 0;
}

int
zhive_broker_bind_clients (zhive_broker_t *self, const char *endpoint)
{
    return s_bind_call (self, "clients", endpoint, &self->clients_endpoint);
}

int
zhive_broker_bind_workers (zhive_broker_t *self, const char *endpoint)
{
    return s_bind_call (self, "workers", endpoint, &self->workers_endpoint);
}

const char *
zhive_broker_clients_endpoint (zhive_broker_t *self)
{
    return self->clients_endpoint;
}

const char *
zhive_broker_workers_endpoint (zhive_broker_t *self)
{
    return self->workers_endpoint;
}

void
zhive_broker_set_worker_program (zhive_broker_t *self, const char *path)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_WORKER_PROGRAM,
                       path ? path : "");    //  "": the default
}

int
zhive_broker_start_workers (zhive_broker_t *self, int count, const char *const *loads,
                            int concurrency)
{
    zmsg_t *frames = zmsg_new ();
    for (size_t i = 0; frames && loads && loads [i]; i++)
        zmsg_addstr (frames, loads [i]);
    char *value;
    uint32_t serial = ++self->serial;
    int rc = s_call (self, serial, &value, ZHIVE_BROKER_PICTURE (ZHIVE_BROKER_START_WORKERS),
                     ZHIVE_BROKER_NAME (ZHIVE_BROKER_START_WORKERS), serial, (uint32_t) count,
                     (uint32_t) concurrency, frames);
    zmsg_destroy (&frames);
    if (rc)
        zhive_log_error ("zhive-broker: cannot start local workers: %s",
                         value ? value : "the broker does not answer");
    free (value);
    return rc;
}

void
zhive_broker_set_heartbeat (zhive_broker_t *self, int interval_ms, int liveness)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_HEARTBEAT, (uint32_t) interval_ms,
                       (uint32_t) liveness);
}

void
zhive_broker_set_max_queue (zhive_broker_t *self, size_t total, size_t per_function)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_MAX_QUEUE, (uint64_t) total,
                       (uint64_t) per_function);
}

void
zhive_broker_set_max_queue_per_client (zhive_broker_t *self, size_t max)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_MAX_PER_CLIENT, (uint64_t) max);
}

void
zhive_broker_set_max_queue_bytes (zhive_broker_t *self, uint64_t max)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_MAX_BYTES, max);
}

void
zhive_broker_set_max_retries (zhive_broker_t *self, int retries)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_MAX_RETRIES, (uint32_t) retries);
}

void
zhive_broker_set_unknown_function_timeout (zhive_broker_t *self, int timeout_ms)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_UNOFFERED,
                       (uint32_t) (timeout_ms > 0 ? timeout_ms : 0));
}

void
zhive_broker_set_prefetch (zhive_broker_t *self, int prefetch_ms)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_PREFETCH,
                       (uint32_t) (prefetch_ms > 0 ? prefetch_ms : 0));
}

void
zhive_broker_set_worker_max_tasks (zhive_broker_t *self, uint64_t max_tasks)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_WORKER_MAX_TASKS, max_tasks);
}

int
zhive_broker_set_start_method (zhive_broker_t *self, const char *method)
{
    if (!method || (strcmp (method, "exec") && strcmp (method, "zygote"))) {
        errno = EINVAL;
        return -1;
    }
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_START_METHOD, method);
    return 0;
}

void
zhive_broker_drain (zhive_broker_t *self, int timeout_ms)
{
    ZHIVE_BROKER_SEND (self->actor, ZHIVE_BROKER_DRAIN, (uint32_t) timeout_ms);
}

int
zhive_broker_set_curve (zhive_broker_t *self, const char *secret_cert_path, const char *allow_dir)
{
    char *value;
    uint32_t serial = ++self->serial;
    int rc = s_call (self, serial, &value, ZHIVE_BROKER_PICTURE (ZHIVE_BROKER_CURVE),
                     ZHIVE_BROKER_NAME (ZHIVE_BROKER_CURVE), serial,
                     secret_cert_path ? secret_cert_path : "", allow_dir ? allow_dir : "");
    if (rc)
        zhive_log_error ("zhive-broker: %s", value ? value : "the broker does not answer");
    free (value);
    return rc;
}

int
zhive_broker_reload_curve (zhive_broker_t *self)
{
    char *value;
    uint32_t serial = ++self->serial;
    int rc = s_call (self, serial, &value, ZHIVE_BROKER_PICTURE (ZHIVE_BROKER_CURVE_RELOAD),
                     ZHIVE_BROKER_NAME (ZHIVE_BROKER_CURVE_RELOAD), serial);
    if (rc)
        zhive_log_error ("zhive-broker: %s", value ? value : "the broker does not answer");
    int count = rc == 0 && value ? atoi (value) : -1;
    free (value);
    return count;
}

int
zhive_broker_workers_ready (zhive_broker_t *self)
{
    char *value;
    uint32_t serial = ++self->serial;
    int rc = s_call (self, serial, &value, ZHIVE_BROKER_PICTURE (ZHIVE_BROKER_WORKERS_READY),
                     ZHIVE_BROKER_NAME (ZHIVE_BROKER_WORKERS_READY), serial);
    int count = rc == 0 && value ? atoi (value) : -1;
    free (value);
    return count;
}

void
zhive_broker_set_http_token (zhive_broker_t *self, const char *token)
{
    free (self->http_token);
    self->http_token = token && *token ? strdup (token) : NULL;
}

int
zhive_broker_set_http (zhive_broker_t *self, const char *address)
{
    char *value;
    uint32_t serial = ++self->serial;
    if (s_call (self, serial, &value, ZHIVE_BROKER_PICTURE (ZHIVE_BROKER_HTTP),
                ZHIVE_BROKER_NAME (ZHIVE_BROKER_HTTP), serial, address ? address : "",
                self->http_token ? self->http_token : "")) {
        zhive_log_error ("zhive-broker: %s", value ? value : "the broker does not answer");
        free (value);
        return -1;
    }
    free (self->http_endpoint);
    self->http_endpoint = value;
    return 0;
}

const char *
zhive_broker_http_endpoint (zhive_broker_t *self)
{
    return self->http_endpoint;
}

zactor_t *
zhive_broker_actor (zhive_broker_t *self)
{
    return self->actor;
}
