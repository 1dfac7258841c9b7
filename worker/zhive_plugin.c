/*  =========================================================================
    zhive_plugin - open a task plugin (private to the project)

    zhive_plugin_open is compiled twice: into libzhive, for
    zhive_worker_load, and into zhive-worker, whose zygote opens the
    plugins before it forks. libzhive exports only the public API, so the
    program has its own copy rather than a private export of the library.
    =========================================================================
*/
#include "zhive_worker_private.h"
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

void *
zhive_plugin_open (const char *path, zhive_plugin_init_fn **init)
{
    if (!path || !*path) {
        fprintf (stderr, "zhive-worker: cannot load a plugin without a path\n");
        errno = EINVAL;
        return NULL;
    }
    void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror ();
        fprintf (stderr, "zhive-worker: cannot load %s: %s\n", path, why ? why : "unknown error");
        errno = ENOENT;
        return NULL;
    }
    dlerror ();
    *init = (zhive_plugin_init_fn *) dlsym (handle, ZHIVE_PLUGIN_INIT);
    if (!*init) {
        fprintf (stderr, "zhive-worker: %s is not a zhive plugin: it has no %s function\n", path,
                 ZHIVE_PLUGIN_INIT);
        dlclose (handle);
        errno = EINVAL;
        return NULL;
    }
    return handle;
}
