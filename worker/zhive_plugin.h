/*  =========================================================================
    zhive_plugin - one task plugin (.so) a worker loads (private)

    A plugin is opened with dlopen and found to export ZHIVE_PLUGIN_INIT;
    calling that initializer (per worker, with the plugin's arguments)
    registers its handlers. Opening and calling are apart, so that a
    zygote opens its plugins once before it forks and each worker it forks
    calls them. "--load PATH[:ARGS]" values are split by the one reading of
    them, common/zhive_plugin_spec.
    =========================================================================
*/
#ifndef ZHIVE_PLUGIN_H_INCLUDED
#define ZHIVE_PLUGIN_H_INCLUDED

#include "zhive_worker.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_plugin_t zhive_plugin_t;

//  ---------------------------------------------------------------------
//  Open the plugin at path and find its initializer, without calling it;
//  args (copied; NULL for "") are what the initializer will get. Makes no
//  ZeroMQ context. Returns NULL with the reason logged: errno ENOENT (it
//  cannot be loaded), EINVAL (no path, or not a zhive plugin) or ENOMEM.
zhive_plugin_t *zhive_plugin_new (const char *path, const char *args);

//  The same for a --load value "PATH[:ARGS]".
zhive_plugin_t *zhive_plugin_new_spec (const char *spec);

//  Close the plugin (dlclose); safe with *self_p NULL. Nothing of its code
//  (handlers, their state) may run afterwards.
void zhive_plugin_destroy (zhive_plugin_t **self_p);

//  Free the object but leave the plugin loaded for the life of the
//  process (a zygote's forked worker: its own worker opens the plugin
//  again and finds it loaded); safe with *self_p NULL.
void zhive_plugin_forget (zhive_plugin_t **self_p);

//  Call the initializer for worker. Returns 0, or -1 (errno EINVAL) with
//  the refusal logged.
int zhive_plugin_call (zhive_plugin_t *self, zhive_worker_t *worker);

#ifdef __cplusplus
}
#endif

#endif
