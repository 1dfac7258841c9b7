/*  =========================================================================
    zhive_plugin - one task plugin (.so) a worker loads
    =========================================================================
*/
#include "zhive_plugin.h"
#include "zhive_log.h"
#include "zhive_plugin_path.h"
#include "zhive_plugin_spec.h"
#include <dlfcn.h>

struct _zhive_plugin_t {
    void *handle;                  //  dlopen handle
    zhive_plugin_init_fn *init;    //  Its ZHIVE_PLUGIN_INIT function
    char *path;                    //  Where it was loaded from
    char *args;                    //  What its initializer gets
};

//  ---------------------------------------------------------------------
//  Open a plugin and find its initializer

zhive_plugin_t *
zhive_plugin_new (const char *path, const char *args)
{
    if (!path || !*path) {
        zhive_log_error ("zhive-worker: cannot load a plugin without a path");
        errno = EINVAL;
        return NULL;
    }
    zhive_plugin_t *self = (zhive_plugin_t *) calloc (1, sizeof (zhive_plugin_t));
    if (self) {
        self->path = strdup (path);
        self->args = strdup (args ? args : "");
    }
    if (!self || !self->path || !self->args) {
        zhive_plugin_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    //  A bare name is searched: $ZHIVE_PLUGIN_PATH, the installed plugin
    //  folder, then the loader's own search
    char error [256];
    char *resolved = zhive_plugin_resolve (path, error, sizeof error);
    if (!resolved) {
        zhive_log_error ("zhive-worker: cannot load %s: %s", path, error);
        zhive_plugin_destroy (&self);
        errno = ENOENT;
        return NULL;
    }
    self->handle = dlopen (resolved, RTLD_NOW | RTLD_LOCAL);
    free (resolved);
    if (!self->handle) {
        const char *why = dlerror ();
        zhive_log_error ("zhive-worker: cannot load %s: %s", path, why ? why : "unknown error");
        zhive_plugin_destroy (&self);
        errno = ENOENT;
        return NULL;
    }
    dlerror ();
    self->init = (zhive_plugin_init_fn *) dlsym (self->handle, ZHIVE_PLUGIN_INIT);
    if (!self->init) {
        zhive_log_error ("zhive-worker: %s is not a zhive plugin: it has no %s function", path,
                         ZHIVE_PLUGIN_INIT);
        zhive_plugin_destroy (&self);
        errno = EINVAL;
        return NULL;
    }
    return self;
}

//  ---------------------------------------------------------------------
//  Open a plugin given as "PATH[:ARGS]"

zhive_plugin_t *
zhive_plugin_new_spec (const char *spec)
{
    if (!spec)
        return zhive_plugin_new (NULL, NULL);
    const char *args = NULL;
    char *path = zhive_plugin_spec_split (spec, &args, NULL);
    if (!path) {
        errno = ENOMEM;
        return NULL;
    }
    zhive_plugin_t *self = zhive_plugin_new (path, args);
    int error = errno;
    free (path);
    errno = error;
    return self;
}

//  ---------------------------------------------------------------------
//  Close the plugin

void
zhive_plugin_destroy (zhive_plugin_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_plugin_t *self = *self_p;
    if (self->handle)
        dlclose (self->handle);
    free (self->path);
    free (self->args);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Free the object, leaving the plugin loaded

void
zhive_plugin_forget (zhive_plugin_t **self_p)
{
    if (self_p && *self_p)
        (*self_p)->handle = NULL;
    zhive_plugin_destroy (self_p);
}

//  ---------------------------------------------------------------------
//  Call the initializer for a worker

int
zhive_plugin_call (zhive_plugin_t *self, zhive_worker_t *worker)
{
    if (self->init (worker, self->args) != 0) {
        zhive_log_error ("zhive-worker: plugin %s refused to initialise", self->path);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  The plugin's path
