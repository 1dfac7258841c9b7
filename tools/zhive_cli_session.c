/*  =========================================================================
    zhive_cli_session - one run of a zhive command against a broker
    =========================================================================
*/
#include "zhive_cli_session.h"
#include "zhive_cli.h"
#include "zhive_clock.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct _zhive_cli_session_t {
    const zhive_cli_options_t *options;    //  The command line (borrowed)
    const char *function;                  //  Function being run (borrowed)
    zhive_cli_output_t *output;            //  What we print (owned)
    zhive_cli_local_t *local;              //  Embedded pool (--local), or NULL
    zhive_client_t *client;                //  Our connection to the broker
    const char *endpoint;                  //  Where the client is connected (borrowed)
    int64_t last_news;                     //  When a result last arrived (monotonic ms)
};

//  ---------------------------------------------------------------------
//  Create a session running `function` with the options

zhive_cli_session_t *
zhive_cli_session_new (const zhive_cli_options_t *options, const char *function)
{
    assert (options);
    assert (function);
    zhive_cli_session_t *self = (zhive_cli_session_t *) calloc (1, sizeof (zhive_cli_session_t));
    if (!self)
        return NULL;
    self->options = options;
    self->function = function;
    self->endpoint = options->broker;
    self->output =
        zhive_cli_output_new (function, options->timeout, options->keep_going, options->quiet);
    if (!self->output)
        zhive_cli_session_destroy (&self);
    return self;
}

//  ---------------------------------------------------------------------
//  Disconnect, stop the local pool, destroy the session

void
zhive_cli_session_destroy (zhive_cli_session_t **self_p)
{
    assert (self_p);
    zhive_cli_session_t *self = *self_p;
    if (self) {
        zhive_client_destroy (&self->client);
        zhive_cli_local_destroy (&self->local);
        zhive_cli_output_destroy (&self->output);
        free (self);
        *self_p = NULL;
    }
}

//  Start the embedded pool; the client connects to it
static int
s_local_start (zhive_cli_session_t *self)
{
    self->local = zhive_cli_local_new ();
    if (!self->local) {
        zhive_cli_complain ("out of memory");
        return ZHIVE_CLI_INTERNAL;
    }
    int rc = zhive_cli_local_start (self->local, self->options);
    if (rc == ZHIVE_CLI_OK)
        self->endpoint = zhive_cli_local_endpoint (self->local);
    return rc;
}

//  ---------------------------------------------------------------------
//  Start the local pool if asked, and connect to the broker

int
zhive_cli_session_connect (zhive_cli_session_t *self)
{
    assert (self);
    const zhive_cli_options_t *options = self->options;
    if (options->local) {
        int rc = s_local_start (self);
        if (rc)
            return rc;
    }
    zhive_cli_output_set_endpoint (self->output, self->endpoint);
    int timeout = ZHIVE_CLI_CONNECT_MAX_MS;
    if (options->timeout_given && options->timeout > 0 && options->timeout < timeout)
        timeout = options->timeout;
    const char *server = options->local ? options->secret : options->server;
    self->client = options->secret
                       ? zhive_client_new_curve (self->endpoint, timeout, options->secret, server)
                       : zhive_client_new (self->endpoint, timeout);
    if (!self->client) {
        if (errno == EINVAL)
            return zhive_cli_usage_error ("invalid broker endpoint '%s'", self->endpoint);
        if (zsys_interrupted) {
            zhive_cli_complain ("interrupted");
            return ZHIVE_CLI_INTERRUPTED;
        }
        if (errno == ETIMEDOUT) {
            zhive_cli_complain ("no broker answered at %s within %d ms%s", self->endpoint, timeout,
                                options->secret
                                    ? " (with CURVE: does the broker allow our key, and is "
                                      "--broker-key its key?)"
                                    : "");
            return ZHIVE_CLI_UNREACHABLE;
        }
        zhive_cli_complain ("cannot connect to %s: %s", self->endpoint, strerror (errno));
        return ZHIVE_CLI_UNREACHABLE;
    }
    zhive_client_set_timeout (self->client, options->timeout > 0 ? options->timeout : -1);
    self->last_news = zhive_clock_ms ();
    return ZHIVE_CLI_OK;
}

//  ---------------------------------------------------------------------
//  Watch the wait for results: ZHIVE_CLI_OK to keep waiting, else a status

int
zhive_cli_session_watch (zhive_cli_session_t *self)
{
    assert (self);
    if (zsys_interrupted) {
        zhive_cli_output_complain (self->output, "interrupted");
        return ZHIVE_CLI_INTERRUPTED;
    }
    //  The broker ends each task by its deadline; if it does not, it is gone
    int timeout = self->options->timeout;
    if (timeout > 0 &&
        zhive_clock_ms () - self->last_news > (int64_t) timeout + ZHIVE_CLI_GRACE_MS) {
        zhive_cli_output_complain (self->output,
                                   "timeout: %s: no answer from the broker at %s within %d ms",
                                   self->function, self->endpoint, timeout + ZHIVE_CLI_GRACE_MS);
        return ZHIVE_CLI_UNREACHABLE;
    }
    //  An embedded pool whose workers never get ready (a plugin that fails
    //  to initialise) would leave us waiting forever: give up instead
    if (self->local && zhive_cli_local_check (self->local)) {
        zhive_cli_output_complain (self->output,
                                   "no local worker became ready within %d ms: does the plugin "
                                   "load?",
                                   ZHIVE_CLI_POOL_EMPTY_MS);
        return ZHIVE_CLI_UNREACHABLE;
    }
    return ZHIVE_CLI_OK;
}

//  ---------------------------------------------------------------------
//  Note that a result arrived

void
zhive_cli_session_news (zhive_cli_session_t *self)
{
    assert (self);
    self->last_news = zhive_clock_ms ();
}

//  ---------------------------------------------------------------------
//  The task options the command line gives

zhive_opts_t
zhive_cli_session_task_opts (zhive_cli_session_t *self)
{
    assert (self);
    const zhive_cli_options_t *options = self->options;
    zhive_opts_t opts = { .window = options->window, .wait_if_full = options->wait_if_full };
    if (options->task_timeout > 0)
        opts.timeout_ms = options->task_timeout;
    if (options->retries == 0)
        opts.retries = ZHIVE_NO_RETRIES;
    else if (options->retries > 0)
        opts.retries = options->retries;
    return opts;
}

//  ---------------------------------------------------------------------
//  The options of the run

const zhive_cli_options_t *
zhive_cli_session_options (zhive_cli_session_t *self)
{
    assert (self);
    return self->options;
}

//  ---------------------------------------------------------------------
//  The function being run

const char *
zhive_cli_session_function (zhive_cli_session_t *self)
{
    assert (self);
    return self->function;
}

//  ---------------------------------------------------------------------
//  The client, once connected

zhive_client_t *
zhive_cli_session_client (zhive_cli_session_t *self)
{
    assert (self);
    return self->client;
}

//  ---------------------------------------------------------------------
//  The output of the run

zhive_cli_output_t *
zhive_cli_session_output (zhive_cli_session_t *self)
{
    assert (self);
    return self->output;
}

//  ---------------------------------------------------------------------
//  The embedded pool, or NULL without --local

zhive_cli_local_t *
zhive_cli_session_local (zhive_cli_session_t *self)
{
    assert (self);
    return self->local;
}
