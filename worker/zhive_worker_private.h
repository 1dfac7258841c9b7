/*  =========================================================================
    zhive_worker_private - what zhive-worker needs of the worker class
    beyond the public API (private to the project). libzhive.so does not
    export it: zhive_plugin.c is compiled into zhive-worker as well.
    =========================================================================
*/
#ifndef ZHIVE_WORKER_PRIVATE_H_INCLUDED
#define ZHIVE_WORKER_PRIVATE_H_INCLUDED

#include "zhive_worker.h"

#ifdef __cplusplus
extern "C" {
#endif

//  ---------------------------------------------------------------------
//  Open a plugin and find its initializer without calling it: what a
//  zygote does before it forks, so children share the loaded code. Makes
//  no ZeroMQ context. Returns the dlopen handle (caller dlcloses) and sets
//  *init, or NULL with a message on stderr (errno ENOENT or EINVAL).
void *zhive_plugin_open (const char *path, zhive_plugin_init_fn **init);

#ifdef __cplusplus
}
#endif

#endif
