/*  =========================================================================
    zhive_plugin_path - where a --load PLUGIN is found (private)

    A PLUGIN with a '/' is a path: used as it is, never searched. A bare
    name ("libzhive-examples.so") is looked for, first match wins, in:
      1. each folder of $ZHIVE_PLUGIN_PATH (colon-separated; empty parts
         are skipped),
      2. the installed plugin folder of the running program: the folder of
         /proc/self/exe, then ../LIBDIR/zhive (so an install moved to
         another prefix still finds its plugins),
      3. the plugin folder compiled in (CMAKE_INSTALL_FULL_LIBDIR/zhive),
    and if none holds a regular file of that name, the name is left to the
    loader's own search (dlopen: LD_LIBRARY_PATH, RUNPATH, ld.so.cache).
    zhive-worker, and zhive --local before it starts its workers, resolve
    each PLUGIN (after zhive_plugin_spec_split) with zhive_plugin_resolve
    and dlopen what it returns.
    =========================================================================
*/
#ifndef ZHIVE_PLUGIN_PATH_H_INCLUDED
#define ZHIVE_PLUGIN_PATH_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The environment variable of the search path
#define ZHIVE_PLUGIN_PATH_ENV "ZHIVE_PLUGIN_PATH"

//  ---------------------------------------------------------------------
//  Resolve the plugin `name` for dlopen: the path of the first match of
//  the search above, or a copy of name itself (a path, or a bare name
//  found nowhere: dlopen searches). Returns a string the caller frees, or
//  NULL after writing why into error (an empty name, out of memory).
char *zhive_plugin_resolve (const char *name, char *error, size_t error_size);

//  The same search with its inputs given (what zhive_plugin_resolve takes
//  from the process, for tests): search_path as $ZHIVE_PLUGIN_PATH (NULL:
//  none), program the running program's path (NULL: none), libdir the
//  install's library folder relative to the prefix ("lib"; NULL or
//  absolute: no folder from the program), builtin the compiled-in plugin
//  folder (NULL: none).
char *zhive_plugin_resolve_in (const char *name, const char *search_path, const char *program,
                               const char *libdir, const char *builtin, char *error,
                               size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
