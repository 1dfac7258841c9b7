/*  =========================================================================
    zhive_cli_local - the embedded pool of zhive --local N
    =========================================================================
*/
#include "zhive_cli_local.h"
#include "zhive.h"
#include "zhive_cli.h"
#include "zhive_clock.h"
#include "zhive_plugin_path.h"
#include "zhive_plugin_spec.h"
#include <assert.h>
#include <dlfcn.h>
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

//  Try the plugin as a worker will load it: dlopen (RTLD_NOW, so every
//  symbol it needs must resolve) and its zhive_plugin_init. Its
//  constructors run here too. Returns ZHIVE_CLI_OK, or ZHIVE_CLI_USAGE
//  after a message with the loader's reason: a pool of workers that cannot
//  load it would only fail, be restarted and fail again.
static int
s_try_plugin (const char *path)
{
    dlerror ();
    void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror ();
        return zhive_cli_usage_error ("--load: cannot load plugin '%s': %s", path,
                                      why ? why : "unknown error");
    }
    int rc = ZHIVE_CLI_OK;
    dlerror ();
    if (!dlsym (handle, ZHIVE_PLUGIN_INIT))
        rc = zhive_cli_usage_error ("--load: '%s' is not a zhive plugin: it has no %s function",
                                    path, ZHIVE_PLUGIN_INIT);
    dlclose (handle);
    return rc;
}

//  Run the plugin's zhive_plugin_init with its ARGS, as each worker will,
//  against a worker of our own that never connects to anything (an
//  inproc endpoint nobody binds) and is destroyed at once. A plugin that
//  refuses (bad arguments, a missing resource) says why on stderr itself;
//  a pool of workers that all refuse would only be restarted and refuse
//  again. Returns ZHIVE_CLI_OK, or ZHIVE_CLI_USAGE after a message.
static int
s_try_init (const char *spec)
{
    zhive_worker_t *worker = zhive_worker_new ("inproc://zhive-cli-plugin-check");
    if (!worker)
        return zhive_cli_usage_error ("--load: cannot check plugin '%s': %s", spec,
                                      strerror (errno));
    int rc = ZHIVE_CLI_OK;
    if (zhive_worker_load_spec (worker, spec))
        rc = zhive_cli_usage_error ("--load: plugin '%s' refused to initialise: its %s failed",
                                    spec, ZHIVE_PLUGIN_INIT);
    zhive_worker_destroy (&worker);
    return rc;
}

//  Resolve a --load value's PLUGIN as zhive-worker does (zhive_plugin_path:
//  a path as it is, a bare name searched in $ZHIVE_PLUGIN_PATH and the
//  installed plugin folder, else left to dlopen), make a path absolute
//  (the workers may not share our current directory), try to load it, and
//  split off its ARGS as the worker will. Returns the value to pass on
//  (caller frees), or NULL after a message.
static char *
s_resolve_load (const char *load)
{
    const char *colon;
    char *name = zhive_plugin_spec_split (load, NULL, &colon);
    if (!name) {
        zhive_cli_complain ("out of memory");
        return NULL;
    }
    char error [256];
    char *path = *name ? zhive_plugin_resolve (name, error, sizeof error) : NULL;
    char *resolved = NULL;
    if (!*name)
        zhive_cli_usage_error ("--load: cannot read plugin '': empty path");
    else if (!path)
        zhive_cli_complain ("--load: %s", error);
    else if (strchr (path, '/') && access (path, R_OK) != 0)
        zhive_cli_usage_error ("--load: cannot read plugin '%s': %s", path, strerror (errno));
    else if (strchr (path, '/')) {
        char *absolute = realpath (path, NULL);
        if (!absolute)
            zhive_cli_complain ("--load: cannot resolve plugin '%s': %s", path, strerror (errno));
        else if (s_try_plugin (absolute) == ZHIVE_CLI_OK)
            resolved = zsys_sprintf ("%s%s", absolute, colon ? colon : "");
        free (absolute);
    }
    else if (s_try_plugin (path) == ZHIVE_CLI_OK)
        resolved = zsys_sprintf ("%s%s", path, colon ? colon : "");
    if (resolved && s_try_init (resolved) != ZHIVE_CLI_OK)
        zstr_free (&resolved);
    free (path);
    free (name);
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
