/*  =========================================================================
    zhive_cli_local - the embedded pool of zhive --local N
    =========================================================================
*/
#include "zhive_cli_local.h"
#include "zhive.h"
#include "zhive_cli.h"
#include "zhive_clock.h"
#include "zhive_plugin_spec.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_POOL_CHECK_MS 1000    //  How often the pool is asked for ready workers
#define S_READY_POLL_MS 20      //  Wait slice of zhive_cli_local_wait_ready

struct _zhive_cli_local_t {
    zhive_broker_t *broker;    //  The embedded broker, once started
    int64_t checked;           //  When we last asked it for ready workers (monotonic ms)
    int64_t empty_since;       //  Since when it has no ready worker; 0 = has one
};

//  ---------------------------------------------------------------------
//  Create a pool, not started yet

zhive_cli_local_t *
zhive_cli_local_new (void)
{
    zhive_cli_local_t *self = (zhive_cli_local_t *) calloc (1, sizeof (zhive_cli_local_t));
    if (self)
        self->checked = zhive_clock_ms ();
    return self;
}

//  ---------------------------------------------------------------------
//  Stop the pool and destroy it

void
zhive_cli_local_destroy (zhive_cli_local_t **self_p)
{
    assert (self_p);
    zhive_cli_local_t *self = *self_p;
    if (self) {
        zhive_broker_destroy (&self->broker);
        free (self);
        *self_p = NULL;
    }
}

//  Resolve a --load value's PLUGIN to an absolute path (the workers may
//  not share our idea of the current directory), split off its ARGS as
//  the worker will. A PLUGIN with a '/' must exist; a bare name that is
//  not a file here is left for dlopen's search. Returns the value to pass
//  on (caller frees), or NULL after a message.
static char *
s_resolve_load (const char *load)
{
    const char *colon;
    char *path = zhive_plugin_spec_split (load, NULL, &colon);
    if (!path) {
        zhive_cli_complain ("out of memory");
        return NULL;
    }
    char *resolved = NULL;
    if (*path && access (path, R_OK) == 0) {
        char *absolute = realpath (path, NULL);
        if (absolute) {
            resolved = zsys_sprintf ("%s%s", absolute, colon ? colon : "");
            free (absolute);
        }
        if (!resolved)
            zhive_cli_complain ("--load: cannot resolve plugin '%s': %s", path, strerror (errno));
    }
    else if (!*path || strchr (path, '/'))
        zhive_cli_usage_error ("--load: cannot read plugin '%s': %s", path,
                               *path ? strerror (errno) : "empty path");
    else
        resolved = strdup (load);
    free (path);
    return resolved;
}

//  ---------------------------------------------------------------------
//  Start the broker and its workers

int
zhive_cli_local_start (zhive_cli_local_t *self, const zhive_cli_options_t *options)
{
    assert (self);
    assert (!self->broker);
    size_t count = zlistx_size (options->loads);
    char **loads = (char **) calloc (count + 1, sizeof (char *));
    if (!loads) {
        zhive_cli_complain ("out of memory");
        return ZHIVE_CLI_INTERNAL;
    }
    int rc = ZHIVE_CLI_OK;
    size_t index = 0;
    for (const char *load = (const char *) zlistx_first (options->loads);
         load && rc == ZHIVE_CLI_OK; load = (const char *) zlistx_next (options->loads)) {
        loads [index] = s_resolve_load (load);
        rc = loads [index++] ? ZHIVE_CLI_OK : ZHIVE_CLI_USAGE;
    }
    if (rc == ZHIVE_CLI_OK) {
        self->broker = zhive_broker_new ();
        if (!self->broker) {
            zhive_cli_complain ("cannot start the local broker");
            rc = ZHIVE_CLI_INTERNAL;
        }
    }
    if (rc == ZHIVE_CLI_OK) {
        zhive_broker_set_verbose (self->broker, options->verbose);
        //  CURVE if asked: the broker's own key is the only one it allows,
        //  and its workers and we use it
        if ((options->secret && zhive_broker_set_curve (self->broker, options->secret, NULL)) ||
            zhive_broker_bind_clients (self->broker, "tcp://127.0.0.1:*") ||
            zhive_broker_bind_workers (self->broker, "tcp://127.0.0.1:*") ||
            zhive_broker_start_workers (self->broker, options->local, (const char *const *) loads,
                                        options->concurrency)) {
            zhive_cli_complain ("cannot start the local pool");
            rc = ZHIVE_CLI_INTERNAL;
        }
    }
    for (index = 0; index < count; index++)
        free (loads [index]);
    free (loads);
    self->checked = zhive_clock_ms ();
    return rc;
}

//  ---------------------------------------------------------------------
//  The endpoint clients connect to

const char *
zhive_cli_local_endpoint (zhive_cli_local_t *self)
{
    assert (self);
    return self->broker ? zhive_broker_clients_endpoint (self->broker) : NULL;
}

//  ---------------------------------------------------------------------
//  Wait until `count` workers are ready, at most timeout_ms

int
zhive_cli_local_wait_ready (zhive_cli_local_t *self, int count, int timeout_ms)
{
    assert (self);
    if (!self->broker)
        return 0;
    int64_t until = zhive_clock_ms () + timeout_ms;
    int ready;
    while ((ready = zhive_broker_workers_ready (self->broker)) < count &&
           zhive_clock_ms () < until && !zsys_interrupted)
        zclock_sleep (S_READY_POLL_MS);
    return ready;
}

//  ---------------------------------------------------------------------
//  Watch that the pool has a worker ready; -1 once it has had none too long

int
zhive_cli_local_check (zhive_cli_local_t *self)
{
    assert (self);
    int64_t now = zhive_clock_ms ();
    if (!self->broker || now - self->checked < S_POOL_CHECK_MS)
        return 0;
    self->checked = now;
    if (zhive_broker_workers_ready (self->broker) > 0)
        self->empty_since = 0;
    else if (self->empty_since == 0)
        self->empty_since = now;
    else if (now - self->empty_since > ZHIVE_CLI_POOL_EMPTY_MS)
        return -1;
    return 0;
}
