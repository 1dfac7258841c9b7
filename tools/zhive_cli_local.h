/*  =========================================================================
    zhive_cli_local - the embedded pool of zhive --local N

    A broker thread of our own, bound to private ephemeral ports on
    127.0.0.1, and N local zhive-worker processes it starts and supervises,
    each loading the --load plugins. Each --load value PLUGIN[:ARGS] is
    split as zhive-worker splits it (zhive_plugin_spec), its PLUGIN found
    as zhive-worker finds it (zhive_plugin_path: a bare name is searched in
    $ZHIVE_PLUGIN_PATH and the installed plugin folder) and made absolute,
    since the workers may not share our current directory. Before any
    worker starts, the plugin is loaded here once (dlopen, then its
    zhive_plugin_init looked up, then dlclose): one that cannot load is a
    usage error at once, with the loader's reason. Then its
    zhive_plugin_init runs once here with its ARGS, against a throwaway
    worker that connects nowhere: a plugin that refuses to initialise
    (e.g. bad ARGS) is a usage error at once too, after its own message,
    instead of a pool whose every worker exits before READY. With
    --curve-secret the pool runs CURVE with that key as the broker's own
    and only allowed one. Destroying the pool stops the broker and its
    workers.
    =========================================================================
*/
#ifndef ZHIVE_CLI_LOCAL_H_INCLUDED
#define ZHIVE_CLI_LOCAL_H_INCLUDED

#include "zhive_cli_options.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_cli_local_t zhive_cli_local_t;

//  ---------------------------------------------------------------------
//  Create a pool, not started yet. Returns NULL if out of memory.
zhive_cli_local_t *zhive_cli_local_new (void);

//  Stop the pool (broker and workers) and destroy it; safe twice, nulls
//  the pointer.
void zhive_cli_local_destroy (zhive_cli_local_t **self_p);

//  Start the broker and options->local workers loading options->loads.
//  Returns ZHIVE_CLI_OK, ZHIVE_CLI_USAGE (a plugin that cannot be read or
//  loaded, has no zhive_plugin_init, or whose zhive_plugin_init fails)
//  or ZHIVE_CLI_INTERNAL, after a message.
int zhive_cli_local_start (zhive_cli_local_t *self, const zhive_cli_options_t *options);

//  The endpoint clients connect to; NULL before a successful start.
const char *zhive_cli_local_endpoint (zhive_cli_local_t *self);

//  Wait until `count` workers are ready, at most timeout_ms, or until
//  interrupted. Returns the workers ready.
int zhive_cli_local_wait_ready (zhive_cli_local_t *self, int count, int timeout_ms);

//  Watch that the pool has a worker ready; call it while waiting for
//  results. Returns 0, or -1 once no worker has been ready for
//  ZHIVE_CLI_POOL_EMPTY_MS (a plugin that fails to initialise would leave
//  us waiting for ever).
int zhive_cli_local_check (zhive_cli_local_t *self);

#ifdef __cplusplus
}
#endif

#endif
